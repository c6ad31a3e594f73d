//! Small statistics for reports.

/// The median of sorted values; the mean of the middle two for an even count.
pub fn median(sorted: &[i64]) -> Option<f64> {
    percentile(sorted, 50.0)
}

/// Linear interpolation between closest ranks, over values sorted ascending.
pub fn percentile(sorted: &[i64], pct: f64) -> Option<f64> {
    let first = *sorted.first()?;
    if sorted.len() == 1 {
        return Some(first as f64);
    }
    let rank = (pct / 100.0).clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    let (a, b) = (sorted[lo] as f64, sorted[hi] as f64);
    Some(a + (b - a) * (rank - lo as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_percentiles() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[7]), Some(7.0));
        assert_eq!(median(&[1, 3]), Some(2.0));
        assert_eq!(median(&[1, 2, 10]), Some(2.0));
        assert_eq!(
            percentile(&[0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100], 90.0),
            Some(90.0)
        );
        assert!((percentile(&[1, 2], 90.0).unwrap() - 1.9).abs() < 1e-9);
    }
}
