//! Instants as people write them in report parameters: RFC 3339, or a plain date.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

/// RFC 3339 (forgiving a `+` of the offset that arrived as a space because it was not
/// %-encoded), or a plain `YYYY-MM-DD` read as 00:00 of that date in the centre's zone.
pub fn parse(raw: &str, tz: Tz) -> Option<DateTime<Utc>> {
    let raw = raw.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(&raw.replace(' ', "+")) {
        return Some(t.with_timezone(&Utc));
    }
    if raw.len() != 10 {
        return None;
    }
    let date = NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok()?;
    // `earliest`: were midnight skipped by a clock change, the first instant of the day.
    tz.from_local_datetime(&date.and_hms_opt(0, 0, 0)?)
        .earliest()
        .or_else(|| {
            tz.from_local_datetime(&date.and_hms_opt(1, 0, 0)?)
                .earliest()
        })
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_date_is_midnight_in_the_centres_zone() {
        let tz: Tz = "Asia/Tokyo".parse().unwrap();
        let t = parse("2026-12-01", tz).unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-30T15:00:00+00:00");
        assert_eq!(
            parse("2026-12-01T09:00:00 09:00", tz),
            parse("2026-12-01T00:00:00Z", tz)
        );
        for bad in [
            "2026-13-01",
            "2026-12-1",
            "yesterday",
            "",
            "2026-12-01T25:00:00Z",
        ] {
            assert_eq!(parse(bad, tz), None, "{bad:?}");
        }
    }
}
