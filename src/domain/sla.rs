//! SLA compliance arithmetic over reply clocks, without I/O.

use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Tz;

use super::stats::percentile;

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

/// Met: answered by its due time. Breached: answered late, or still unanswered past it.
/// Still open: unanswered and not yet due at `now`.
pub fn report(clocks: &[Clock], group_by: GroupBy, tz: Tz, now: DateTime<Utc>) -> Vec<Row> {
    let mut groups: Vec<(String, Vec<&Clock>)> = Vec::new();
    for c in clocks {
        let key = match group_by {
            GroupBy::Month => {
                let local = c.due_at.with_timezone(&tz);
                format!("{:04}-{:02}", local.year(), local.month())
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
                .filter_map(|c| c.stopped_at.map(|s| (s - c.started_at).num_minutes()))
                .collect();
            minutes.sort_unstable();
            let hours = |p: f64| percentile(&minutes, p).map(|m| round2(m / 60.0));
            Row {
                due: clocks.len(),
                still_open: clocks.len() - met - breached,
                compliance_pct: (met + breached > 0)
                    .then(|| round2(met as f64 * 100.0 / (met + breached) as f64)),
                median_reply_hours: hours(50.0),
                p90_reply_hours: hours(90.0),
                met,
                breached,
                key,
            }
        })
        .collect()
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};
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
}
