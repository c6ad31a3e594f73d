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

/// [`percentile`] over a histogram: (value, how many) sorted by value, as if each value were
/// repeated that many times (same ranks, same arithmetic, so the same result).
pub fn percentile_of_counts(hist: &[(i64, u64)], pct: f64) -> Option<f64> {
    let n: u64 = hist.iter().map(|(_, c)| c).sum();
    let first = hist.iter().find(|(_, c)| *c > 0)?.0;
    if n == 1 {
        return Some(first as f64);
    }
    let rank = (pct / 100.0).clamp(0.0, 1.0) * (n - 1) as f64;
    let (lo, hi) = (rank.floor() as u64, rank.ceil() as u64);
    let at = |k: u64| {
        let mut seen = 0;
        hist.iter()
            .find(|(_, c)| {
                seen += c;
                seen > k
            })
            .map_or(first, |(v, _)| *v)
    };
    let (a, b) = (at(lo) as f64, at(hi) as f64);
    Some(a + (b - a) * (rank - lo as f64))
}

/// Sorted values as a histogram for [`percentile_of_counts`].
pub fn counts_of_sorted(sorted: &[i64]) -> Vec<(i64, u64)> {
    let mut out: Vec<(i64, u64)> = Vec::new();
    for &v in sorted {
        match out.last_mut() {
            Some((last, c)) if *last == v => *c += 1,
            _ => out.push((v, 1)),
        }
    }
    out
}

/// Sorted, distinct ids as inclusive ranges `(first, last)`, a new range where the next id
/// lies more than `gap` ahead: a few range reads instead of a lookup per id, each reading at
/// most `gap` ids too many.
pub fn id_ranges(sorted: &[i64], gap: i64) -> Vec<(i64, i64)> {
    let mut out: Vec<(i64, i64)> = Vec::new();
    for &id in sorted {
        match out.last_mut() {
            Some((_, last)) if id - *last <= gap => *last = id,
            _ => out.push((id, id)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_in_ranges_split_where_the_gap_is_wide() {
        assert_eq!(id_ranges(&[], 4), vec![]);
        assert_eq!(
            id_ranges(&[1, 2, 6, 11, 12, 40], 4),
            vec![(1, 6), (11, 12), (40, 40)]
        );
    }

    #[test]
    fn percentiles_of_a_histogram_are_those_of_the_values() {
        let lists: [&[i64]; 6] = [
            &[],
            &[7],
            &[1, 3],
            &[5, 5, 5, 9],
            &[0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100],
            &[-3, 1, 1, 1, 2, 8, 8, 40, 41, 41, 41, 41, 900],
        ];
        for list in lists {
            let hist = counts_of_sorted(list);
            for pct in [0.0, 10.0, 50.0, 90.0, 99.0, 100.0] {
                assert_eq!(
                    percentile_of_counts(&hist, pct),
                    percentile(list, pct),
                    "{list:?} at {pct}"
                );
            }
        }
        assert_eq!(counts_of_sorted(&[5, 5, 5, 9]), vec![(5, 3), (9, 1)]);
    }

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
