//! The reply clock: when a consultation's reply is due, and how close that is.

use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, NaiveTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

use super::calendar::BusinessCalendar;
use super::vocabulary::words;

words!(
    /// How reply days are counted.
    SlaMode, "SLA mode" {
        /// Every day counts: due `reply_days` × 24 h after receipt.
        Calendar = "calendar",
        /// Only business days count (see [`reply_due_at`]).
        Business = "business",
    }
);

#[derive(Debug, Clone)]
pub struct ClockRules {
    pub reply_days: u32,
    pub mode: SlaMode,
    /// How long before the due time a case counts as due soon.
    pub due_soon: Duration,
    /// The centre's time zone: business days and times of day are local to it.
    pub tz: Tz,
    pub calendar: BusinessCalendar,
}

/// When counting starts for a message received on a non-business day.
const OPENING_TIME: NaiveTime = match NaiveTime::from_hms_opt(9, 0, 0) {
    Some(time) => time,
    None => panic!("09:00 is a valid time"), // evaluated at compile time
};

/// When the reply to a message received at `start` is due.
///
/// Calendar mode: `start` + `reply_days` × 24 h.
///
/// Business mode: the same local time of day on the `reply_days`-th business day
/// after the day of receipt. A message received on a non-business day counts as
/// received at 09:00 on the next business day, and one received on a business day
/// before 09:00 as received at 09:00 that day. In a repeated hour (when DST ends) a
/// message of the second pass counts as received when the repeat ends. A calendar
/// with no business day at all (closures covering the whole year) cannot be counted
/// in; rather than loop or panic, such rules fall back to calendar mode.
pub fn reply_due_at(rules: &ClockRules, start: DateTime<Utc>) -> DateTime<Utc> {
    match rules.mode {
        SlaMode::Calendar => add_days(start, rules.reply_days),
        SlaMode::Business => {
            business_due(rules, start).unwrap_or_else(|| add_days(start, rules.reply_days))
        }
    }
}

fn add_days(start: DateTime<Utc>, days: u32) -> DateTime<Utc> {
    Duration::try_days(i64::from(days))
        .and_then(|span| start.checked_add_signed(span))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn business_due(rules: &ClockRules, start: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let calendar = &rules.calendar;
    let received = received_wall_time(rules.tz, start)?;
    let (mut day, time) = if !calendar.is_business_day(received.date()) {
        (
            calendar.next_business_day_after(received.date())?,
            OPENING_TIME,
        )
    } else if received.time() < OPENING_TIME {
        // Before opening is like overnight: otherwise a Monday 08:00 message would
        // be due an hour before one received on Sunday, and due would not be
        // monotonic in the receipt time.
        (received.date(), OPENING_TIME)
    } else if rules.reply_days == 0 {
        // Zero days means "now"; re-reading the wall time could pick the other
        // side of a DST fold and land before the start.
        return Some(start);
    } else {
        (received.date(), received.time())
    };
    for _ in 0..rules.reply_days {
        day = calendar.next_business_day_after(day)?;
    }
    local_to_utc(rules.tz, day.and_time(time))
}

/// The local time a message counts as received at: the wall clock's, except in the second
/// pass of a repeated hour, where the clock reads times it already read, and "the same
/// local time" would make a later message due before an earlier one. There it is the time
/// the repeat ends: the clock's highest reading so far that day, so due stays monotonic.
fn received_wall_time(tz: Tz, start: DateTime<Utc>) -> Option<NaiveDateTime> {
    let wall = start.with_timezone(&tz).naive_local();
    let LocalResult::Ambiguous(first, _) = tz.from_local_datetime(&wall) else {
        return Some(wall);
    };
    let before = first.offset().fix();
    if start.with_timezone(&tz).offset().fix() == before {
        return Some(wall);
    }
    // The offset changed in (first, start]: find the whole second it did (tz data has no
    // finer transitions), then read that instant with the offset before.
    let (mut lo, mut hi) = (first.timestamp(), start.timestamp());
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        let at = DateTime::from_timestamp(mid, 0)?;
        if tz.offset_from_utc_datetime(&at.naive_utc()).fix() == before {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let change = DateTime::from_timestamp(hi, 0)?.naive_utc();
    change.checked_add_signed(Duration::seconds(before.local_minus_utc().into()))
}

/// The instant a wall-clock time denotes, never failing on DST transitions. As in
/// RFC 5545 (and Temporal's "compatible"): in a fold take the earlier instant, so the
/// deadline is not silently an hour late; in a gap, read the time with the offset in
/// force before the gap, which moves it forward by the gap's length.
fn local_to_utc(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    if let Some(instant) = tz.from_local_datetime(&local).earliest() {
        return Some(instant.to_utc());
    }
    // Transitions are months apart, so the offset a day earlier is the pre-gap one.
    let day_before = local.checked_sub_signed(Duration::days(1))?;
    let offset = tz.offset_from_utc_datetime(&day_before).fix();
    let utc = local.checked_sub_signed(Duration::seconds(offset.local_minus_utc().into()))?;
    Some(utc.and_utc())
}

words!(
    /// Where a running reply clock stands.
    SlaState, "SLA state" {
        /// No clock is running (nothing awaits a reply).
        None = "none",
        OnTrack = "on_track",
        DueSoon = "due_soon",
        Overdue = "overdue",
    }
);

/// The state at `at` of a clock due at `running_due` (`None`: no clock runs).
///
/// Overdue strictly after the due time; due soon while `due - at < due_soon`, i.e.
/// in `(due_soon_from(due), due]`; on track up to and including `due_soon_from(due)`.
pub fn sla_state(
    rules: &ClockRules,
    running_due: Option<DateTime<Utc>>,
    at: DateTime<Utc>,
) -> SlaState {
    match running_due {
        None => SlaState::None,
        Some(due) if at > due => SlaState::Overdue,
        Some(due) if at > due_soon_from(rules, due) => SlaState::DueSoon,
        Some(_) => SlaState::OnTrack,
    }
}

/// The last instant at which a clock due at `due` is still on track: it is due soon
/// at any later instant (until overdue). In SQL: due soon ⇔ `due_at - due_soon < now`.
pub fn due_soon_from(rules: &ClockRules, due: DateTime<Utc>) -> DateTime<Utc> {
    due.checked_sub_signed(rules.due_soon)
        .unwrap_or(if rules.due_soon > Duration::zero() {
            DateTime::<Utc>::MIN_UTC
        } else {
            DateTime::<Utc>::MAX_UTC
        })
}

#[cfg(test)]
mod tests {
    use super::super::calendar::Closure;
    use super::*;
    use chrono::{Datelike, NaiveDate, Weekday};
    use chrono_tz::Asia::Tokyo;
    use proptest::prelude::*;

    fn rules_in(tz: Tz, mode: SlaMode, reply_days: u32, closures: &[&str]) -> ClockRules {
        ClockRules {
            reply_days,
            mode,
            due_soon: Duration::hours(48),
            tz,
            calendar: BusinessCalendar::new(closures.iter().map(|c| c.parse().unwrap()).collect()),
        }
    }

    fn rules(mode: SlaMode, reply_days: u32, closures: &[&str]) -> ClockRules {
        rules_in(Tokyo, mode, reply_days, closures)
    }

    fn jst(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Tokyo.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap().to_utc()
    }

    const NEW_YEAR: &[&str] = &["12-29..01-03"];

    #[test]
    fn contract_example() {
        let rules = rules(SlaMode::Business, 10, NEW_YEAR);
        let start = jst(2026, 12, 25, 15, 0);
        assert_eq!(start.with_timezone(&Tokyo).weekday(), Weekday::Fri);
        assert_eq!(reply_due_at(&rules, start), jst(2027, 1, 15, 15, 0));
    }

    /// Found by the clock fuzzer's harness: in a repeated hour that falls in opening
    /// hours, the second pass read "the same local time" and fell due before the first.
    #[test]
    fn the_second_pass_of_a_repeated_hour_counts_from_its_end() {
        use chrono_tz::Asia::{Pyongyang, Tehran};
        // Tehran, Tue 2021-09-21: 24:00 (+04:30) went back to 23:00 (+03:30).
        let rules = rules_in(Tehran, SlaMode::Business, 1, &[]);
        let first_pass = Utc.with_ymd_and_hms(2021, 9, 21, 19, 0, 0).unwrap(); // 23:30
        let second_pass = Utc.with_ymd_and_hms(2021, 9, 21, 19, 40, 0).unwrap(); // 23:10
        let local = |y, mo, d, h, mi| Tehran.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap();
        assert_eq!(reply_due_at(&rules, first_pass), local(2021, 9, 22, 23, 30));
        // As if received at Wed 00:00: counts from Wed 09:00; Thu 9/23 is 秋分の日.
        assert_eq!(reply_due_at(&rules, second_pass), local(2021, 9, 24, 9, 0));
        // Pyongyang, Fri 2015-08-14: 24:00 (+09:00) went back to 23:30 (+08:30).
        let rules = rules_in(Pyongyang, SlaMode::Business, 10, &[]);
        let first_pass = Utc.with_ymd_and_hms(2015, 8, 14, 14, 45, 0).unwrap(); // 23:45
        let mut last = reply_due_at(&rules, first_pass);
        for minutes in 1..=60 {
            let due = reply_due_at(&rules, first_pass + Duration::minutes(minutes));
            assert!(due >= last, "{minutes} min later due {due}, before {last}");
            last = due;
        }
        // Outside a repeat the wall time is the clock's.
        let not_repeated = Utc.with_ymd_and_hms(2015, 8, 14, 5, 0, 0).unwrap(); // 14:00
        assert_eq!(
            received_wall_time(Pyongyang, not_repeated),
            Some(not_repeated.with_timezone(&Pyongyang).naive_local())
        );
    }

    #[test]
    fn business_mode_hand_examples() {
        let cases = [
            // Saturday: counts from Mon 6/8 09:00.
            (jst(2026, 6, 6, 14, 0), 10, jst(2026, 6, 22, 9, 0)),
            // 文化の日 (Tue): counts from Wed 11/4 09:00.
            (jst(2026, 11, 3, 10, 0), 10, jst(2026, 11, 18, 9, 0)),
            // Inside the closure: counts from Mon 1/4; 1/11 is 成人の日.
            (jst(2026, 12, 30, 11, 0), 10, jst(2027, 1, 19, 9, 0)),
            // Last day before the closure, late evening: the local date decides.
            (jst(2026, 12, 28, 23, 30), 1, jst(2027, 1, 4, 23, 30)),
            // 09:30 JST Monday is still Monday 00:30 in UTC, 08:30 JST still Sunday.
            (jst(2026, 12, 28, 9, 30), 1, jst(2027, 1, 4, 9, 30)),
            (jst(2026, 12, 28, 8, 30), 1, jst(2027, 1, 4, 9, 0)),
            // Golden Week 2026: 5/4, 5/5 holidays, 5/6 substitute for Sunday 5/3.
            (jst(2026, 4, 30, 16, 0), 3, jst(2026, 5, 8, 16, 0)),
            (jst(2026, 5, 2, 10, 0), 1, jst(2026, 5, 8, 9, 0)),
            // Zero days: now on a business day, else the next opening.
            (jst(2026, 12, 25, 15, 0), 0, jst(2026, 12, 25, 15, 0)),
            (jst(2026, 12, 26, 15, 0), 0, jst(2026, 12, 28, 9, 0)),
        ];
        for (start, days, due) in cases {
            let rules = rules(SlaMode::Business, days, NEW_YEAR);
            assert_eq!(
                reply_due_at(&rules, start),
                due,
                "start {start}, {days} days"
            );
        }
    }

    #[test]
    fn before_opening_counts_from_opening() {
        // Found by the monotonicity property: with the literal wall time a Monday
        // 00:00 message would be due 9 h before one received on the Saturday.
        let rules = rules(SlaMode::Business, 0, &[]);
        let saturday = jst(2015, 8, 15, 9, 0);
        let monday_midnight = jst(2015, 8, 17, 0, 0);
        assert_eq!(reply_due_at(&rules, saturday), jst(2015, 8, 17, 9, 0));
        assert_eq!(
            reply_due_at(&rules, monday_midnight),
            jst(2015, 8, 17, 9, 0)
        );
        let rules = ClockRules {
            reply_days: 2,
            ..rules
        };
        assert_eq!(
            reply_due_at(&rules, jst(2015, 8, 17, 8, 59)),
            jst(2015, 8, 19, 9, 0)
        );
        assert_eq!(
            reply_due_at(&rules, jst(2015, 8, 17, 9, 0)),
            jst(2015, 8, 19, 9, 0)
        );
        assert_eq!(
            reply_due_at(&rules, jst(2015, 8, 17, 9, 1)),
            jst(2015, 8, 19, 9, 1)
        );
    }

    #[test]
    fn calendar_mode_ignores_the_calendar() {
        let rules = rules(SlaMode::Calendar, 10, NEW_YEAR);
        assert_eq!(
            reply_due_at(&rules, jst(2026, 12, 25, 15, 0)),
            jst(2027, 1, 4, 15, 0)
        );
        assert_eq!(
            reply_due_at(&rules, jst(2026, 12, 30, 11, 0)),
            jst(2027, 1, 9, 11, 0)
        );
    }

    #[test]
    fn extreme_inputs_do_not_panic() {
        let closed_all_year = rules(SlaMode::Business, 10, &["01-01..12-31"]);
        let start = jst(2026, 6, 1, 10, 0);
        // No business day exists: falls back to calendar days.
        assert_eq!(
            reply_due_at(&closed_all_year, start),
            jst(2026, 6, 11, 10, 0)
        );
        for mode in [SlaMode::Business, SlaMode::Calendar] {
            let rules = rules(mode, 10, NEW_YEAR);
            let late = DateTime::<Utc>::MAX_UTC - Duration::days(3);
            assert_eq!(reply_due_at(&rules, late), DateTime::<Utc>::MAX_UTC);
            assert!(reply_due_at(&rules, DateTime::<Utc>::MIN_UTC) > DateTime::<Utc>::MIN_UTC);
        }
        let mut huge = rules(SlaMode::Business, 3, NEW_YEAR);
        huge.due_soon = Duration::MAX;
        assert_eq!(
            due_soon_from(&huge, jst(2026, 1, 1, 0, 0)),
            DateTime::<Utc>::MIN_UTC
        );
        huge.due_soon = Duration::MIN;
        assert_eq!(
            due_soon_from(&huge, jst(2026, 1, 1, 0, 0)),
            DateTime::<Utc>::MAX_UTC
        );
    }

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    fn wall(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, mo, d)
            .unwrap()
            .and_hms_opt(h, mi, 0)
            .unwrap()
    }

    #[test]
    fn dst_gaps_shift_forward_and_folds_take_the_earlier_instant() {
        use chrono_tz::America::New_York;
        // 02:30 does not exist on 2026-03-08: read with EST (-5), i.e. 03:30 EDT.
        assert_eq!(
            local_to_utc(New_York, wall(2026, 3, 8, 2, 30)),
            Some(utc(2026, 3, 8, 7, 30))
        );
        // 01:30 happens twice on 2026-11-01: the EDT (-4) one comes first.
        assert_eq!(
            local_to_utc(New_York, wall(2026, 11, 1, 1, 30)),
            Some(utc(2026, 11, 1, 5, 30))
        );
        // Samoa skipped 2011-12-30 entirely (-10 → +14).
        assert_eq!(
            local_to_utc(chrono_tz::Pacific::Apia, wall(2011, 12, 30, 10, 0)),
            Some(utc(2011, 12, 30, 20, 0))
        );
    }

    #[test]
    fn dst_transitions_on_business_days() {
        use chrono_tz::Asia::Tehran;
        let rules = rules_in(Tehran, SlaMode::Business, 1, &[]);
        // Iran sprang forward at midnight into Mon 2021-03-22 (+03:30 → +04:30):
        // same wall time, one hour less in between.
        let start = Tehran
            .with_ymd_and_hms(2021, 3, 19, 15, 0, 0)
            .unwrap()
            .to_utc();
        assert_eq!(start, utc(2021, 3, 19, 11, 30));
        assert_eq!(reply_due_at(&rules, start), utc(2021, 3, 22, 10, 30));
        // ... and fell back at midnight after Tue 2021-09-21, repeating 23:00–24:00.
        // Mon 9/20 is 敬老の日, so Fri 9/17 → Tue 9/21, the first 23:30 (+04:30).
        let start = Tehran
            .with_ymd_and_hms(2021, 9, 17, 23, 30, 0)
            .unwrap()
            .to_utc();
        assert_eq!(reply_due_at(&rules, start), utc(2021, 9, 21, 19, 0));
    }

    #[test]
    fn sla_state_boundaries() {
        let rules = rules(SlaMode::Business, 10, NEW_YEAR);
        let due = jst(2027, 1, 15, 15, 0);
        let second = Duration::seconds(1);
        let soon = due_soon_from(&rules, due);
        assert_eq!(soon, due - Duration::hours(48));
        let state = |at| sla_state(&rules, Some(due), at);
        assert_eq!(state(due + second), SlaState::Overdue);
        assert_eq!(state(due), SlaState::DueSoon);
        assert_eq!(state(due - second), SlaState::DueSoon);
        assert_eq!(state(soon + second), SlaState::DueSoon);
        assert_eq!(state(soon), SlaState::OnTrack);
        assert_eq!(state(soon - second), SlaState::OnTrack);
        assert_eq!(sla_state(&rules, None, due + second), SlaState::None);
    }

    #[test]
    fn without_a_due_soon_window_it_goes_straight_to_overdue() {
        let mut rules = rules(SlaMode::Calendar, 10, &[]);
        rules.due_soon = Duration::zero();
        let due = jst(2027, 1, 15, 15, 0);
        assert_eq!(sla_state(&rules, Some(due), due), SlaState::OnTrack);
        let after = due + Duration::seconds(1);
        assert_eq!(sla_state(&rules, Some(due), after), SlaState::Overdue);
    }

    #[test]
    fn keywords_round_trip() {
        for state in [
            SlaState::None,
            SlaState::OnTrack,
            SlaState::DueSoon,
            SlaState::Overdue,
        ] {
            assert_eq!(state.as_str().parse::<SlaState>(), Ok(state));
            assert_eq!(state.to_string(), state.as_str());
        }
        assert_eq!(SlaState::DueSoon.as_str(), "due_soon");
        for mode in [SlaMode::Calendar, SlaMode::Business] {
            assert_eq!(mode.as_str().parse::<SlaMode>(), Ok(mode));
        }
        let err = "Business".parse::<SlaMode>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown SLA mode \"Business\" (expected one of: calendar, business)"
        );
        assert!("due-soon".parse::<SlaState>().is_err());
        assert!("".parse::<SlaState>().is_err());
    }

    /// Instants in 2000–2049.
    fn instant() -> impl Strategy<Value = DateTime<Utc>> {
        (946_684_800i64..2_524_608_000).prop_map(|s| DateTime::from_timestamp(s, 0).unwrap())
    }

    /// Up to three random closures of up to three weeks, sometimes the New Year one.
    fn calendar() -> impl Strategy<Value = BusinessCalendar> {
        let random = prop::collection::vec((1u32..=12, 1u32..=28, 0i64..21), 0..3);
        (random, any::<bool>()).prop_map(|(random, new_year)| {
            let mut closures: Vec<Closure> = random
                .into_iter()
                .map(|(m, d, len)| {
                    let from = NaiveDate::from_ymd_opt(2001, m, d).unwrap();
                    let to = from + Duration::days(len);
                    format!("{}..{}", from.format("%m-%d"), to.format("%m-%d"))
                        .parse()
                        .unwrap()
                })
                .collect();
            if new_year {
                closures.push(NEW_YEAR[0].parse().unwrap());
            }
            BusinessCalendar::new(closures)
        })
    }

    fn business_rules() -> impl Strategy<Value = ClockRules> {
        (0u32..=30, calendar()).prop_map(|(reply_days, calendar)| ClockRules {
            calendar,
            ..rules(SlaMode::Business, reply_days, &[])
        })
    }

    proptest! {
        #[test]
        fn due_falls_on_a_business_day(rules in business_rules(), start in instant()) {
            let due = reply_due_at(&rules, start).with_timezone(&Tokyo);
            prop_assert!(rules.calendar.is_business_day(due.date_naive()), "due {due}");
        }

        #[test]
        fn due_is_at_least_reply_days_later(rules in business_rules(), start in instant()) {
            let due = reply_due_at(&rules, start);
            prop_assert!(due >= start + Duration::days(rules.reply_days.into()), "due {due}");
        }

        #[test]
        fn due_is_monotonic_in_start(
            rules in business_rules(),
            start in instant(),
            delta in prop_oneof![0i64..3_600, 0i64..30 * 86_400],
        ) {
            let later = start + Duration::seconds(delta);
            prop_assert!(reply_due_at(&rules, start) <= reply_due_at(&rules, later));
        }

        #[test]
        fn calendar_mode_is_exact(reply_days in 0u32..=365, start in instant()) {
            let rules = rules(SlaMode::Calendar, reply_days, NEW_YEAR);
            prop_assert_eq!(
                reply_due_at(&rules, start),
                start + Duration::days(reply_days.into())
            );
        }

        #[test]
        fn dst_zones_never_panic_nor_go_backwards(
            rules in business_rules(),
            start in instant(),
            tz in prop::sample::select(vec![
                chrono_tz::America::New_York,
                chrono_tz::Europe::Berlin,
                chrono_tz::Asia::Tehran,
                chrono_tz::Australia::Lord_Howe,
                chrono_tz::America::Santiago,
                chrono_tz::Pacific::Apia,
            ]),
        ) {
            let rules = ClockRules { tz, ..rules };
            let due = reply_due_at(&rules, start);
            prop_assert!(due >= start);
            if rules.reply_days > 0 {
                prop_assert!(due > start + Duration::hours(12));
            }
        }

        #[test]
        fn sla_state_agrees_with_the_contract(
            due in instant(),
            at in instant(),
            hours in 0i64..200,
        ) {
            let mut rules = rules(SlaMode::Business, 10, &[]);
            rules.due_soon = Duration::hours(hours);
            let want = if at > due {
                SlaState::Overdue
            } else if due - at < rules.due_soon {
                SlaState::DueSoon
            } else {
                SlaState::OnTrack
            };
            prop_assert_eq!(sla_state(&rules, Some(due), at), want);
        }
    }
}
