//! Reply review's arithmetic: when a reply waiting for review is old enough to remind the
//! supervisors. In business mode only opening hours count.

use chrono::{DateTime, Duration, NaiveDateTime, NaiveTime, TimeZone, Utc};

use super::clock::{ClockRules, SlaMode};

/// Opening hours for counting business hours (the centre's desk: 9時～17時).
const OPENS: NaiveTime = match NaiveTime::from_hms_opt(9, 0, 0) {
    Some(t) => t,
    None => panic!("09:00 is a valid time"),
};
const CLOSES: NaiveTime = match NaiveTime::from_hms_opt(17, 0, 0) {
    Some(t) => t,
    None => panic!("17:00 is a valid time"),
};

/// When a reply that went into review at `since` has waited `hours`: calendar hours in
/// calendar mode; in business mode, hours between 09:00 and 17:00 (local) of business days,
/// so a reply held on Friday evening reminds on Monday, not on Saturday.
pub fn remind_at(rules: &ClockRules, since: DateTime<Utc>, hours: u32) -> DateTime<Utc> {
    let calendar = since + Duration::hours(i64::from(hours));
    match rules.mode {
        SlaMode::Calendar => calendar,
        SlaMode::Business => business(rules, since, hours).unwrap_or(calendar),
    }
}

fn business(rules: &ClockRules, since: DateTime<Utc>, hours: u32) -> Option<DateTime<Utc>> {
    let mut left = Duration::hours(i64::from(hours));
    let mut at: NaiveDateTime = since.with_timezone(&rules.tz).naive_local();
    // A year of business days is far more than any setting needs; past it, give up.
    for _ in 0..400 {
        let day = at.date();
        if !rules.calendar.is_business_day(day) || at.time() >= CLOSES {
            at = rules.calendar.next_business_day_after(day)?.and_time(OPENS);
            continue;
        }
        if at.time() < OPENS {
            at = day.and_time(OPENS);
        }
        let open_left = day.and_time(CLOSES) - at;
        if left <= open_left {
            let local = at + left;
            return rules
                .tz
                .from_local_datetime(&local)
                .earliest()
                .map(|t| t.with_timezone(&Utc));
        }
        left -= open_left;
        at = rules.calendar.next_business_day_after(day)?.and_time(OPENS);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::calendar::BusinessCalendar;
    use chrono::FixedOffset;

    fn rules(mode: SlaMode) -> ClockRules {
        ClockRules {
            reply_days: 10,
            mode,
            due_soon: Duration::days(3),
            tz: chrono_tz::Asia::Tokyo,
            calendar: BusinessCalendar::new(vec!["12-29..01-03".parse().unwrap()]),
        }
    }

    fn jst(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn shown(t: DateTime<Utc>) -> String {
        t.with_timezone(&FixedOffset::east_opt(9 * 3600).unwrap())
            .to_rfc3339()
    }

    #[test]
    fn calendar_mode_counts_every_hour() {
        let r = rules(SlaMode::Calendar);
        let since = jst("2026-12-04T16:00:00+09:00");
        assert_eq!(shown(remind_at(&r, since, 4)), "2026-12-04T20:00:00+09:00");
    }

    #[test]
    fn business_mode_counts_opening_hours_of_business_days() {
        let r = rules(SlaMode::Business);
        // Friday 15:00: two hours that day, two on Monday.
        let fri = jst("2026-12-04T15:00:00+09:00");
        assert_eq!(shown(remind_at(&r, fri, 4)), "2026-12-07T11:00:00+09:00");
        // Held at 07:30 on a Tuesday: counts from 09:00.
        let early = jst("2026-12-08T07:30:00+09:00");
        assert_eq!(shown(remind_at(&r, early, 4)), "2026-12-08T13:00:00+09:00");
        // Held on a Saturday evening: Monday 13:00.
        let sat = jst("2026-12-05T20:00:00+09:00");
        assert_eq!(shown(remind_at(&r, sat, 4)), "2026-12-07T13:00:00+09:00");
        // Across the year-end closure: Mon 12-28 16:00, one hour then, three on 01-04.
        let year_end = jst("2026-12-28T16:00:00+09:00");
        assert_eq!(
            shown(remind_at(&r, year_end, 4)),
            "2027-01-04T12:00:00+09:00"
        );
        // Exactly a day's opening hours.
        let mon = jst("2026-12-07T09:00:00+09:00");
        assert_eq!(shown(remind_at(&r, mon, 8)), "2026-12-07T17:00:00+09:00");
    }
}
