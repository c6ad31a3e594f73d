//! SLA compliance arithmetic over reply clocks, without I/O.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

use super::stats::{counts_of_sorted, percentile_of_counts};

/// One clock as the report sees it.
#[derive(Debug, Clone)]
pub struct Clock {
    pub started_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub stopped_at: Option<DateTime<Utc>>,
    /// Whose work the clock counts for: who answered, else the assignee; None = unassigned.
    pub counsellor: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub key: String,
    pub due: usize,
    pub met: usize,
    pub breached: usize,
    pub still_open: usize,
    /// met / (met + breached); None when nothing was decided yet.
    pub compliance_pct: Option<f64>,
    pub median_reply_hours: Option<f64>,
    pub p90_reply_hours: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    /// The month of the due time, in the centre's time zone.
    Month,
    Counsellor,
}

/// One group's counts, the way the database can give them without every clock: how many
/// fell due, met and breached, and the reply minutes of the answered ones as a histogram
/// (minutes, how many), sorted by minutes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counts {
    pub key: String,
    pub due: usize,
    pub met: usize,
    pub breached: usize,
    pub minutes: Vec<(i64, u64)>,
}

impl Counts {
    pub fn row(self) -> Row {
        let hours = |p: f64| percentile_of_counts(&self.minutes, p).map(|m| round2(m / 60.0));
        let (met, breached) = (self.met, self.breached);
        Row {
            still_open: self.due - met - breached,
            compliance_pct: (met + breached > 0)
                .then(|| round2(met as f64 * 100.0 / (met + breached) as f64)),
            median_reply_hours: hours(50.0),
            p90_reply_hours: hours(90.0),
            due: self.due,
            met,
            breached,
            key: self.key,
        }
    }
}

/// A month's key, `YYYY-MM`, as the report shows it.
pub fn month_key(year: i32, month: u32) -> String {
    format!("{year:04}-{month:02}")
}

/// The centre's months that `[from, to)` touches, each clipped to it: (key, start, end).
/// Counting each range apart gives the same groups as the month of each due time in `tz`.
pub fn months(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    tz: Tz,
) -> Vec<(String, DateTime<Utc>, DateTime<Utc>)> {
    let mut out = Vec::new();
    let local = from.with_timezone(&tz);
    let (mut y, mut m) = (local.year(), local.month());
    let mut start = from;
    while start < to {
        let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
        let end = first_instant_of(tz, ny, nm).map_or(to, |e| e.min(to));
        out.push((month_key(y, m), start, end));
        (y, m, start) = (ny, nm, end);
    }
    out
}

/// The first instant whose local date is the 1st of the month: midnight, or where a zone skips
/// midnight, the end of the gap (found by the half hour; real gaps are whole hours or halves).
fn first_instant_of(tz: Tz, y: i32, m: u32) -> Option<DateTime<Utc>> {
    let day = NaiveDate::from_ymd_opt(y, m, 1)?;
    (0..48).find_map(|half_hours| {
        let t = day.and_hms_opt(0, 0, 0)? + Duration::minutes(30 * half_hours);
        Some(tz.from_local_datetime(&t).earliest()?.with_timezone(&Utc))
    })
}

/// Met: answered by its due time. Breached: answered late, or still unanswered past it.
/// Still open: unanswered and not yet due at `now`.
pub fn report(clocks: &[Clock], group_by: GroupBy, tz: Tz, now: DateTime<Utc>) -> Vec<Row> {
    let mut groups: Vec<(String, Vec<&Clock>)> = Vec::new();
    for c in clocks {
        let key = match group_by {
            GroupBy::Month => {
                let local = c.due_at.with_timezone(&tz);
                month_key(local.year(), local.month())
            }
            GroupBy::Counsellor => c.counsellor.clone().unwrap_or_else(|| "unassigned".into()),
        };
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.push(c),
            None => groups.push((key, vec![c])),
        }
    }
    groups.sort_by(|a, b| a.0.cmp(&b.0));
    groups
        .into_iter()
        .map(|(key, clocks)| {
            let met = clocks
                .iter()
                .filter(|c| c.stopped_at.is_some_and(|s| s <= c.due_at))
                .count();
            let breached = clocks
                .iter()
                .filter(|c| match c.stopped_at {
                    Some(s) => s > c.due_at,
                    None => now > c.due_at,
                })
                .count();
            let mut minutes: Vec<i64> = clocks
                .iter()
                .filter_map(|c| c.stopped_at.map(|s| reply_minutes(c.started_at, s)))
                .collect();
            minutes.sort_unstable();
            Counts {
                due: clocks.len(),
                met,
                breached,
                minutes: counts_of_sorted(&minutes),
                key,
            }
            .row()
        })
        .collect()
}

/// Counts clocks given as (started, due, stopped) in microseconds since 1970, deciding each
/// exactly as [`report`] does.
pub fn count(
    key: String,
    clocks: impl Iterator<Item = (i64, i64, Option<i64>)>,
    now: DateTime<Utc>,
) -> Counts {
    // `now > due` to the nanosecond: past `due` once its microsecond is over, or within it.
    let (now_us, now_within) = (
        now.timestamp_micros(),
        !now.timestamp_subsec_nanos().is_multiple_of(1000),
    );
    let mut c = Counts {
        key,
        ..Counts::default()
    };
    let mut minutes = Vec::new();
    for (started, due, stopped) in clocks {
        c.due += 1;
        match stopped {
            Some(s) => {
                if s <= due {
                    c.met += 1;
                } else {
                    c.breached += 1;
                }
                // Cut toward zero, as `TimeDelta::num_minutes`.
                minutes.push((s - started) / 60_000_000);
            }
            None if now_us > due || (now_us == due && now_within) => c.breached += 1,
            None => {}
        }
    }
    minutes.sort_unstable();
    c.minutes = counts_of_sorted(&minutes);
    c
}

/// Microseconds since 1970 of `YYYY-MM-DD HH:MM:SS[.f…]` read as UTC (digits past the sixth
/// are cut off, as the database keeps microseconds); None for any other text.
pub fn micros_of_text(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b' '
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        b[r].iter().try_fold(0i64, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + i64::from(d - b'0'))
        })
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 59 {
        return None;
    }
    let mut frac = 0;
    if b.len() > 19 {
        let digits = &b[20..];
        if b[19] != b'.' || digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        for k in 0..6 {
            frac = frac * 10 + digits.get(k).map_or(0, |&d| i64::from(d - b'0'));
        }
    }
    // Days from 1970-01-01 to the civil date (H. Hinnant's days_from_civil).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if mo > 2 { mo - 3 } else { mo + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400 + h * 3600 + mi * 60 + s) * 1_000_000) + frac)
}

/// Whole minutes from start to answer, cut toward zero (the database counts them alike).
pub fn reply_minutes(started: DateTime<Utc>, stopped: DateTime<Utc>) -> i64 {
    (stopped - started).num_minutes()
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Asia::Tokyo;

    fn clock(due: DateTime<Utc>, answered_after_hours: Option<i64>, who: Option<&str>) -> Clock {
        let started = due - Duration::days(10);
        Clock {
            started_at: started,
            due_at: due,
            stopped_at: answered_after_hours.map(|h| started + Duration::hours(h)),
            counsellor: who.map(str::to_string),
        }
    }

    #[test]
    fn months_are_cut_in_the_centres_zone() {
        // 2026-11-30 15:30 UTC is already December 1st in Tokyo.
        let late_nov_utc = Utc.with_ymd_and_hms(2026, 11, 30, 15, 30, 0).unwrap();
        let mid_nov = Utc.with_ymd_and_hms(2026, 11, 15, 0, 0, 0).unwrap();
        let now = Utc.with_ymd_and_hms(2026, 12, 20, 0, 0, 0).unwrap();
        let rows = report(
            &[
                clock(late_nov_utc, Some(24), None),
                clock(mid_nov, Some(48), None),
                clock(mid_nov, Some(300), None),
                clock(mid_nov, None, None),
            ],
            GroupBy::Month,
            Tokyo,
            now,
        );
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].key, "2026-11");
        assert_eq!(
            (
                rows[0].due,
                rows[0].met,
                rows[0].breached,
                rows[0].still_open
            ),
            (3, 1, 2, 0)
        );
        assert_eq!(rows[0].compliance_pct, Some(33.33));
        assert_eq!(rows[0].median_reply_hours, Some(174.0));
        assert_eq!(rows[1].key, "2026-12");
        assert_eq!(rows[1].compliance_pct, Some(100.0));
    }

    #[test]
    fn open_clocks_not_yet_due_are_still_open_and_decide_nothing() {
        let due = Utc.with_ymd_and_hms(2026, 12, 10, 0, 0, 0).unwrap();
        let rows = report(
            &[clock(due, None, Some("佐藤"))],
            GroupBy::Counsellor,
            Tokyo,
            due - Duration::hours(1),
        );
        assert_eq!(rows[0].key, "佐藤");
        assert_eq!((rows[0].still_open, rows[0].compliance_pct), (1, None));
        let at_due = report(&[clock(due, None, None)], GroupBy::Counsellor, Tokyo, due);
        assert_eq!(
            (at_due[0].key.as_str(), at_due[0].still_open),
            ("unassigned", 1),
            "due, not yet past"
        );
        let past = report(
            &[clock(due, None, None)],
            GroupBy::Counsellor,
            Tokyo,
            due + Duration::seconds(1),
        );
        assert_eq!(past[0].breached, 1);
    }

    #[test]
    fn p90_of_reply_hours() {
        let due = Utc.with_ymd_and_hms(2026, 12, 10, 0, 0, 0).unwrap();
        let clocks: Vec<Clock> = (1..=10)
            .map(|h| clock(due, Some(h * 10), Some("a")))
            .collect();
        let rows = report(&clocks, GroupBy::Counsellor, Tokyo, due);
        assert_eq!(rows[0].median_reply_hours, Some(55.0));
        assert_eq!(rows[0].p90_reply_hours, Some(91.0));
    }

    #[test]
    fn month_ranges_are_cut_at_midnight_in_the_centres_zone_and_clipped() {
        let from = Utc.with_ymd_and_hms(2026, 11, 10, 0, 0, 0).unwrap();
        let to = Utc.with_ymd_and_hms(2027, 1, 5, 0, 0, 0).unwrap();
        let m = months(from, to, Tokyo);
        let keys: Vec<&str> = m.iter().map(|(k, _, _)| k.as_str()).collect();
        assert_eq!(keys, ["2026-11", "2026-12", "2027-01"]);
        assert_eq!((m[0].1, m[2].2), (from, to));
        assert_eq!(m[0].2.to_rfc3339(), "2026-11-30T15:00:00+00:00");
        assert_eq!(m[1].1, m[0].2);
        assert_eq!(m[1].2.to_rfc3339(), "2026-12-31T15:00:00+00:00");
        assert!(months(to, to, Tokyo).is_empty());
        // Every instant lands in the range whose key is its own month in Tokyo.
        let mut t = from;
        while t < to {
            let local = t.with_timezone(&Tokyo);
            let (key, _, _) = m.iter().find(|(_, a, b)| *a <= t && t < *b).unwrap();
            assert_eq!(*key, month_key(local.year(), local.month()), "{t}");
            t += Duration::minutes(30);
        }
    }

    #[test]
    fn timestamps_read_by_hand_are_chronos() {
        for t in [
            "1970-01-01 00:00:00",
            "2024-02-29 23:59:59.999999",
            "2026-11-30 15:00:00.5",
            "2027-03-01 00:00:00.000001",
            "1969-12-31 23:59:59.25",
            "2100-12-31 12:34:56.123",
        ] {
            let chrono = chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.f")
                .unwrap()
                .and_utc()
                .timestamp_micros();
            assert_eq!(micros_of_text(t), Some(chrono), "{t}");
        }
        for bad in [
            "2026-11-30T15:00:00",
            "2026-13-01 00:00:00",
            "2026-11-30 15:00",
            "2026-11-30 15:00:00.",
        ] {
            assert_eq!(micros_of_text(bad), None, "{bad}");
        }
    }

    #[test]
    fn counts_from_microseconds_are_the_reports() {
        let base = Utc.with_ymd_and_hms(2026, 11, 10, 0, 0, 0).unwrap();
        let now = base + Duration::days(12) + Duration::nanoseconds(500);
        let clocks: Vec<Clock> = (0..40)
            .map(|i| {
                let started = base + Duration::microseconds(i * 7_777_777_777);
                let due = started + Duration::hours(72);
                let stopped =
                    (i % 5 != 0).then(|| started + Duration::microseconds(i * 9_999_999_999));
                Clock {
                    started_at: started,
                    due_at: due,
                    stopped_at: stopped,
                    counsellor: None,
                }
            })
            .collect();
        let us = |t: DateTime<Utc>| t.timestamp_micros();
        let counted = count(
            "unassigned".into(),
            clocks
                .iter()
                .map(|c| (us(c.started_at), us(c.due_at), c.stopped_at.map(us))),
            now,
        );
        assert_eq!(
            vec![counted.row()],
            report(&clocks, GroupBy::Counsellor, Tokyo, now)
        );
    }
}
