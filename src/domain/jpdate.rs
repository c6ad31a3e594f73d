//! Dates written the way a Japanese reader expects them.

use chrono::{DateTime, Datelike, TimeZone, Timelike};

const WEEKDAYS: [&str; 7] = ["月", "火", "水", "木", "金", "土", "日"];

/// `2027年1月15日（金）`
pub fn date_ja<Tz: TimeZone>(t: &DateTime<Tz>) -> String {
    format!(
        "{}年{}月{}日（{}）",
        t.year(),
        t.month(),
        t.day(),
        WEEKDAYS[t.weekday().num_days_from_monday() as usize]
    )
}

/// `2027年1月15日（金）15時00分`
pub fn datetime_ja<Tz: TimeZone>(t: &DateTime<Tz>) -> String {
    format!("{}{}時{:02}分", date_ja(t), t.hour(), t.minute())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use chrono_tz::Asia::Tokyo;

    #[test]
    fn japanese_dates() {
        let t = Tokyo.with_ymd_and_hms(2027, 1, 15, 15, 0, 0).unwrap();
        assert_eq!(date_ja(&t), "2027年1月15日（金）");
        assert_eq!(datetime_ja(&t), "2027年1月15日（金）15時00分");
        let sunday = Tokyo.with_ymd_and_hms(2026, 11, 29, 9, 5, 0).unwrap();
        assert_eq!(datetime_ja(&sunday), "2026年11月29日（日）9時05分");
    }
}
