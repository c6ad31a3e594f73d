//! The `clock` fuzz target: the reply clock over arbitrary rules and instants.

use chrono::{DateTime, Duration, LocalResult, NaiveTime, Offset, TimeZone, Utc};

use super::Input;
use crate::domain::calendar::{BusinessCalendar, Closure};
use crate::domain::clock::{self, ClockRules, SlaMode, SlaState};

/// Instants are read within 1970–2200: wide enough for every rule (DST eras, holiday
/// rules, leap days), while the service itself only ever starts a clock at "now".
const FIRST_INSTANT: i64 = 0;
const INSTANT_SPAN: i64 = 7_258_118_400; // 2200-01-01T00:00:00Z
const OPENING: NaiveTime = NaiveTime::from_hms_opt(9, 0, 0).expect("a valid time");
/// Beyond this many days of calendar the business-day count is not checked (only with
/// closures that shut nearly the whole year).
const COUNT_LIMIT_DAYS: i64 = 4000;

fn instant(v: i64) -> DateTime<Utc> {
    let secs = FIRST_INSTANT + v.rem_euclid(INSTANT_SPAN);
    DateTime::from_timestamp(secs, 0).expect("within range")
}

/// The reply clock over arbitrary rules and instants: a second, later start and a third
/// instant to read the SLA state at come from the input, then the closures as text.
pub fn clock(data: &[u8]) {
    let mut input = Input(data);
    let flags = input.u8();
    let mode = if flags & 1 == 0 {
        SlaMode::Calendar
    } else {
        SlaMode::Business
    };
    let reply_days = u32::from(input.u16()) % 366;
    let due_soon = Duration::days(i64::from(input.u16()));
    let tz = chrono_tz::TZ_VARIANTS[usize::from(input.u16()) % chrono_tz::TZ_VARIANTS.len()];
    let start = instant(input.i64());
    // Mostly a short step, so that DST transitions and opening times are crossed.
    let step = match flags >> 1 & 3 {
        0 => i64::from(input.u16()),
        1 => i64::from(input.u32() % (3 * 86_400)),
        _ => i64::from(input.u32()),
    };
    let later = start + Duration::seconds(step);
    let at = instant(input.i64());
    let text = String::from_utf8_lossy(input.rest());
    let closures: Vec<Closure> = text
        .split([',', '\n'])
        .filter_map(|c| c.parse::<Closure>().ok())
        .collect();
    for c in &closures {
        assert_eq!(c.to_string().parse::<Closure>().as_ref(), Ok(c));
    }
    let rules = ClockRules {
        reply_days,
        mode,
        due_soon,
        tz,
        calendar: BusinessCalendar::new(closures),
    };

    let due = clock::reply_due_at(&rules, start);
    assert!(due >= start, "due {due} before the start {start}");
    match mode {
        SlaMode::Calendar => assert_eq!(due, start + Duration::days(reply_days.into())),
        SlaMode::Business => check_business_due(&rules, start, due),
    }
    let due_later = clock::reply_due_at(&rules, later);
    assert!(
        due_later >= due,
        "a message at {later} is due {due_later}, before one at {start} ({due})"
    );
    check_sla_state(&rules, due, at);
}

/// Business mode: the reply_days-th business day after receipt (counting a non-business
/// day's message from the next business day), at the time of receipt or 09:00; or, when
/// the closures leave 400 days in a row without a business day, the calendar-mode due.
fn check_business_due(rules: &ClockRules, start: DateTime<Utc>, due: DateTime<Utc>) {
    let cal = &rules.calendar;
    let received = received_wall_time(rules.tz, start);
    let open_day = cal.is_business_day(received.date());
    if open_day && received.time() >= OPENING && rules.reply_days == 0 {
        assert_eq!(due, start, "zero days on a business day means now");
        return;
    }
    let time = if open_day && received.time() >= OPENING {
        received.time()
    } else {
        OPENING
    };
    let wanted = i64::from(rules.reply_days) + i64::from(!open_day);
    // Walk the days after receipt until the wanted business day, or a year without any.
    let mut day = received.date();
    let (mut counted, mut closed_run) = (0, 0);
    for _ in 0..COUNT_LIMIT_DAYS {
        if counted == wanted {
            break;
        }
        let Some(next) = day.succ_opt() else { return };
        day = next;
        if cal.is_business_day(day) {
            counted += 1;
            closed_run = 0;
        } else {
            closed_run += 1;
            if closed_run >= 400 {
                assert_eq!(
                    due,
                    start + Duration::days(rules.reply_days.into()),
                    "with no business day in reach, calendar mode applies"
                );
                return;
            }
        }
    }
    if counted < wanted {
        return; // too far to walk here
    }
    let local = day.and_time(time);
    match rules.tz.from_local_datetime(&local).earliest() {
        Some(expected) => assert_eq!(due, expected.to_utc(), "due {local} local"),
        None => {
            // A wall time in a DST gap is read with the offset before the gap: later.
            let due_local = due.with_timezone(&rules.tz).naive_local();
            assert!(
                due_local > local && due_local - local <= Duration::hours(25),
                "{local} in a gap became {due_local}"
            );
        }
    }
}

/// The local time of receipt; in the second pass of a repeated hour, the first wall time
/// after the repeat (walked to second by second: repeats are rare and short).
fn received_wall_time(tz: chrono_tz::Tz, start: DateTime<Utc>) -> chrono::NaiveDateTime {
    let local = start.with_timezone(&tz);
    let mut wall = local.naive_local();
    let second_pass = matches!(
        tz.from_local_datetime(&wall),
        LocalResult::Ambiguous(first, _) if first.offset().fix() != local.offset().fix()
    );
    while second_pass && matches!(tz.from_local_datetime(&wall), LocalResult::Ambiguous(..)) {
        wall += Duration::seconds(1);
    }
    wall
}

fn check_sla_state(rules: &ClockRules, due: DateTime<Utc>, at: DateTime<Utc>) {
    assert_eq!(clock::sla_state(rules, None, at), SlaState::None);
    let rank = |s: SlaState| match s {
        SlaState::None => unreachable!("a running clock has a state"),
        SlaState::OnTrack => 0,
        SlaState::DueSoon => 1,
        SlaState::Overdue => 2,
    };
    let state = clock::sla_state(rules, Some(due), at);
    assert_eq!(
        state == SlaState::Overdue,
        at > due,
        "{state} at {at}, due {due}"
    );
    assert_ne!(clock::sla_state(rules, Some(due), due), SlaState::Overdue);
    let soon_from = clock::due_soon_from(rules, due);
    assert!(soon_from <= due, "due soon starts before the due time");
    // The state never goes back as time passes.
    let mut times = [soon_from, at, due, due + Duration::seconds(1)];
    times.sort();
    let ranks = times.map(|t| rank(clock::sla_state(rules, Some(due), t)));
    assert!(
        ranks.windows(2).all(|w| w[0] <= w[1]),
        "{times:?}: {ranks:?}"
    );
}
