//! Japanese national holidays (computed by rule) and the centre's business calendar.
//!
//! The rules follow the 祝日法 and its amendments, so they hold for any year from
//! 1980 on without a table to maintain; the equinox formula is the usual
//! astronomical approximation, good for 1980–2099 (later years are extrapolated,
//! and the Cabinet announces the real dates only a year ahead anyway).

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate, Weekday};

/// (month, day) within a year.
type MonthDay = (u32, u32);

/// The Japanese name of the national holiday on `d`, including 振替休日 and 国民の休日.
pub fn holiday_name(d: NaiveDate) -> Option<&'static str> {
    // Order matters: a statutory holiday is never also a substitute or citizens' holiday.
    statutory_holiday(d)
        .or_else(|| is_substitute_holiday(d).then_some("振替休日"))
        .or_else(|| is_citizens_holiday(d).then_some("国民の休日"))
}

pub fn is_national_holiday(d: NaiveDate) -> bool {
    holiday_name(d).is_some()
}

/// One-off holidays decreed by special acts for imperial events.
const ONE_OFF_HOLIDAYS: [((i32, u32, u32), &str); 5] = [
    ((1989, 2, 24), "昭和天皇の大喪の礼"),
    ((1990, 11, 12), "即位礼正殿の儀"),
    ((1993, 6, 9), "皇太子徳仁親王の結婚の儀"),
    ((2019, 5, 1), "天皇の即位の日"),
    ((2019, 10, 22), "即位礼正殿の儀が行われる日"),
];

/// A 「国民の祝日」 proper: the days the law names, before substitutes and sandwiched days.
fn statutory_holiday(d: NaiveDate) -> Option<&'static str> {
    let ymd = (d.year(), d.month(), d.day());
    if let Some((_, name)) = ONE_OFF_HOLIDAYS.iter().find(|(day, _)| *day == ymd) {
        return Some(name);
    }
    let md = (d.month(), d.day());
    statutory_holidays_of(d.year())
        .into_iter()
        .find(|(day, _)| *day == Some(md))
        .map(|(_, name)| name)
}

/// The recurring holidays of year `y`; `None` where a holiday does not exist that year.
fn statutory_holidays_of(y: i32) -> [(Option<MonthDay>, &'static str); 19] {
    let from = |first: i32, md: MonthDay| (y >= first).then_some(md);
    let between = |first: i32, last: i32, md: MonthDay| (first..=last).contains(&y).then_some(md);
    // The Olympics special act moved Marine, Sports and Mountain Day in 2020, and again
    // in 2021 after the games were postponed.
    let olympics = match y {
        2020 => Some([(7, 23), (7, 24), (8, 10)]),
        2021 => Some([(7, 22), (7, 23), (8, 8)]),
        _ => None,
    };
    // The Happy Monday amendments moved these from fixed dates to the n-th Monday.
    let marine = match olympics {
        Some([marine, _, _]) => Some(marine),
        None if y >= 2003 => nth_monday(y, 7, 3),
        None => from(1996, (7, 20)),
    };
    let sports = match olympics {
        Some([_, sports, _]) => Some(sports),
        None if y >= 2000 => nth_monday(y, 10, 2),
        None => from(1966, (10, 10)),
    };
    let mountain = match olympics {
        Some([_, _, mountain]) => Some(mountain),
        None => from(2016, (8, 11)),
    };
    [
        (Some((1, 1)), "元日"),
        (
            if y >= 2000 {
                nth_monday(y, 1, 2)
            } else {
                Some((1, 15))
            },
            "成人の日",
        ),
        (from(1967, (2, 11)), "建国記念の日"),
        (from(2020, (2, 23)), "天皇誕生日"),
        (Some((3, equinox_day(y, 20.8431))), "春分の日"),
        (between(1949, 1988, (4, 29)), "天皇誕生日"),
        (between(1989, 2006, (4, 29)), "みどりの日"),
        (from(2007, (4, 29)), "昭和の日"),
        (Some((5, 3)), "憲法記念日"),
        (from(2007, (5, 4)), "みどりの日"),
        (Some((5, 5)), "こどもの日"),
        (marine, "海の日"),
        (mountain, "山の日"),
        (
            if y >= 2003 {
                nth_monday(y, 9, 3)
            } else {
                from(1966, (9, 15))
            },
            "敬老の日",
        ),
        (Some((9, equinox_day(y, 23.2488))), "秋分の日"),
        (
            sports,
            if y >= 2020 {
                "スポーツの日"
            } else {
                "体育の日"
            },
        ),
        (Some((11, 3)), "文化の日"),
        (Some((11, 23)), "勤労感謝の日"),
        (between(1989, 2018, (12, 23)), "天皇誕生日"),
    ]
}

fn nth_monday(y: i32, month: u32, n: u8) -> Option<MonthDay> {
    NaiveDate::from_weekday_of_month_opt(y, month, Weekday::Mon, n).map(|d| (month, d.day()))
}

/// Day of the month of the vernal (`base` 20.8431) or autumnal (`base` 23.2488)
/// equinox, by the standard approximation valid for 1980–2099.
fn equinox_day(y: i32, base: f64) -> u32 {
    let years = y - 1980;
    let day = base + 0.242194 * f64::from(years) - f64::from(years.div_euclid(4));
    // Saturating cast: absurd years just yield a day that matches no date.
    day.floor() as u32
}

/// 振替休日 (since 1973-04-12): a statutory holiday on a Sunday is made up by the
/// next day that is not itself a statutory holiday (so 5/3 on a Sunday gives 5/6).
/// Before 2007 the law said "the next day", but no two statutory holidays were
/// adjacent then, so one rule serves both.
fn is_substitute_holiday(d: NaiveDate) -> bool {
    if (d.year(), d.month(), d.day()) < (1973, 4, 12) {
        return false;
    }
    let mut day = d;
    while let Some(prev) = day.pred_opt()
        && statutory_holiday(prev).is_some()
    {
        if prev.weekday() == Weekday::Sun {
            return true;
        }
        day = prev;
    }
    false
}

/// 国民の休日 (since 1985-12-27): a day sandwiched between two statutory holidays.
/// Until 2006 the law excluded Sundays (and substitute holidays, which
/// `holiday_name` has already ruled out).
fn is_citizens_holiday(d: NaiveDate) -> bool {
    if (d.year(), d.month(), d.day()) < (1985, 12, 27)
        || (d.year() < 2007 && d.weekday() == Weekday::Sun)
    {
        return false;
    }
    let (Some(prev), Some(next)) = (d.pred_opt(), d.succ_opt()) else {
        return false;
    };
    statutory_holiday(prev).is_some() && statutory_holiday(next).is_some()
}

/// A range of days closed every year, written "MM-DD..MM-DD" (both ends included).
///
/// A range whose end comes before its start wraps over the new year ("12-29..01-03").
/// Days are compared as (month, day), so 02-29 is accepted as an end: "02-20..02-29"
/// closes the rest of February in every year, "02-29..02-29" closes nothing in a
/// common year, and a range starting at 02-29 starts on 03-01 in a common year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Closure {
    from: MonthDay,
    to: MonthDay,
}

impl Closure {
    pub fn contains(&self, d: NaiveDate) -> bool {
        let md = (d.month(), d.day());
        if self.from <= self.to {
            self.from <= md && md <= self.to
        } else {
            md >= self.from || md <= self.to
        }
    }
}

impl fmt::Display for Closure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ((fm, fd), (tm, td)) = (self.from, self.to);
        write!(f, "{fm:02}-{fd:02}..{tm:02}-{td:02}")
    }
}

impl FromStr for Closure {
    type Err = ClosureParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let error = |kind| ClosureParseError {
            input: s.to_owned(),
            kind,
        };
        let (from, to) = s
            .trim()
            .split_once("..")
            .ok_or(error(ClosureErrorKind::MissingSeparator))?;
        Ok(Closure {
            from: parse_month_day(from).map_err(error)?,
            to: parse_month_day(to).map_err(error)?,
        })
    }
}

/// Strictly "MM-DD": a typo in the config should fail loudly rather than close the wrong days.
fn parse_month_day(part: &str) -> Result<MonthDay, ClosureErrorKind> {
    let b = part.as_bytes();
    let well_formed =
        b.len() == 5 && b[2] == b'-' && [0, 1, 3, 4].iter().all(|&i| b[i].is_ascii_digit());
    if !well_formed {
        return Err(ClosureErrorKind::Malformed);
    }
    let number = |i: usize| u32::from(b[i] - b'0') * 10 + u32::from(b[i + 1] - b'0');
    let (month, day) = (number(0), number(3));
    // February has 29 days here so that a leap day can be named.
    const MONTH_LENGTHS: [u32; 12] = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let Some(&length) = month
        .checked_sub(1)
        .and_then(|i| MONTH_LENGTHS.get(i as usize))
    else {
        return Err(ClosureErrorKind::BadMonth);
    };
    if !(1..=length).contains(&day) {
        return Err(ClosureErrorKind::BadDay);
    }
    Ok((month, day))
}

/// Why a closure string was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosureParseError {
    input: String,
    kind: ClosureErrorKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClosureErrorKind {
    /// No ".." between the two ends.
    MissingSeparator,
    /// An end is not two digits, a dash and two digits.
    Malformed,
    /// Month outside 01–12.
    BadMonth,
    /// No such day in that month.
    BadDay,
}

impl ClosureParseError {
    pub fn kind(&self) -> ClosureErrorKind {
        self.kind
    }
}

impl fmt::Display for ClosureParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reason = match self.kind {
            ClosureErrorKind::MissingSeparator => "expected MM-DD..MM-DD",
            ClosureErrorKind::Malformed => "each end must be MM-DD, e.g. 12-29..01-03",
            ClosureErrorKind::BadMonth => "month must be 01 to 12",
            ClosureErrorKind::BadDay => "no such day in that month",
        };
        write!(f, "invalid closure {:?}: {reason}", self.input)
    }
}

impl std::error::Error for ClosureParseError {}

/// Days on which the centre works: Monday to Friday, except national holidays and
/// the configured closures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BusinessCalendar {
    closures: Vec<Closure>,
}

/// A calendar with any open weekday has one within weeks; the cap only keeps closures
/// that shut the whole year from looping forever.
const SEARCH_LIMIT_DAYS: u32 = 400;

impl BusinessCalendar {
    pub fn new(closures: Vec<Closure>) -> Self {
        BusinessCalendar { closures }
    }

    pub fn closures(&self) -> &[Closure] {
        &self.closures
    }

    pub fn is_business_day(&self, d: NaiveDate) -> bool {
        !matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
            && !self.closures.iter().any(|c| c.contains(d))
            && !is_national_holiday(d)
    }

    /// The first business day strictly after `d`; `None` if the closures leave no
    /// business day within a year (a misconfiguration) or the date range runs out.
    pub fn next_business_day_after(&self, d: NaiveDate) -> Option<NaiveDate> {
        let mut day = d;
        for _ in 0..SEARCH_LIMIT_DAYS {
            day = day.succ_opt()?;
            if self.is_business_day(day) {
                return Some(day);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    const REFERENCE: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/jp-holidays-2000-2050.tsv"
    ));

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn reference() -> BTreeMap<NaiveDate, &'static str> {
        let mut map = BTreeMap::new();
        for line in REFERENCE.lines() {
            let line = line.trim_end();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (day, name) = line.split_once('\t').unwrap();
            let day = NaiveDate::parse_from_str(day, "%Y-%m-%d").unwrap();
            assert!(map.insert(day, name.trim()).is_none(), "duplicate {day}");
        }
        // An empty or truncated file must not make the comparison vacuous.
        assert!(map.len() > 850, "reference has only {} dates", map.len());
        map
    }

    fn days_2000_to_2050() -> impl Iterator<Item = NaiveDate> {
        date(2000, 1, 1)
            .iter_days()
            .take_while(|d| d.year() <= 2050)
    }

    #[test]
    fn holidays_are_exactly_those_of_the_reference_file() {
        let reference = reference();
        let (mut missing, mut extra) = (Vec::new(), Vec::new());
        for d in days_2000_to_2050() {
            match (reference.get(&d), holiday_name(d)) {
                (Some(name), None) => missing.push(format!("{d} {name}")),
                (None, Some(name)) => extra.push(format!("{d} {name}")),
                _ => {}
            }
        }
        assert!(
            missing.is_empty() && extra.is_empty(),
            "missing: {missing:?}\nextra: {extra:?}"
        );
    }

    #[test]
    fn holiday_names_match_the_reference_file() {
        let mismatches: Vec<String> = reference()
            .into_iter()
            .filter_map(|(d, name)| {
                let ours = holiday_name(d)?;
                (ours != name).then(|| format!("{d}: file {name}, ours {ours}"))
            })
            .collect();
        assert!(mismatches.is_empty(), "{mismatches:#?}");
    }

    #[test]
    fn special_years_and_renamings() {
        let cases = [
            // Enthronement: 4/30 and 5/2 are sandwiched, so citizens' holidays.
            ((2019, 4, 30), Some("国民の休日")),
            ((2019, 5, 1), Some("天皇の即位の日")),
            ((2019, 5, 2), Some("国民の休日")),
            ((2019, 5, 6), Some("振替休日")),
            ((2019, 10, 22), Some("即位礼正殿の儀が行われる日")),
            ((2019, 12, 23), None),
            ((2018, 12, 23), Some("天皇誕生日")),
            ((2018, 12, 24), Some("振替休日")),
            ((2020, 2, 23), Some("天皇誕生日")),
            ((2020, 2, 24), Some("振替休日")),
            // Olympics moves.
            ((2020, 7, 20), None),
            ((2020, 7, 23), Some("海の日")),
            ((2020, 7, 24), Some("スポーツの日")),
            ((2020, 8, 10), Some("山の日")),
            ((2020, 8, 11), None),
            ((2020, 10, 12), None),
            ((2021, 7, 22), Some("海の日")),
            ((2021, 7, 23), Some("スポーツの日")),
            ((2021, 8, 8), Some("山の日")),
            ((2021, 8, 9), Some("振替休日")),
            ((2021, 10, 11), None),
            ((2022, 10, 10), Some("スポーツの日")),
            ((2019, 10, 14), Some("体育の日")),
            ((2015, 8, 11), None),
            ((2016, 8, 11), Some("山の日")),
            ((2006, 4, 29), Some("みどりの日")),
            ((2007, 4, 29), Some("昭和の日")),
            ((2007, 4, 30), Some("振替休日")),
            ((2006, 5, 4), Some("国民の休日")),
            ((2007, 5, 4), Some("みどりの日")),
            ((2002, 7, 20), Some("海の日")),
            ((2003, 7, 21), Some("海の日")),
            ((2002, 9, 15), Some("敬老の日")),
            ((2003, 9, 15), Some("敬老の日")),
            ((2004, 9, 20), Some("敬老の日")),
            ((2015, 9, 22), Some("国民の休日")),
            // Before the reference file: older rules.
            ((1989, 2, 24), Some("昭和天皇の大喪の礼")),
            ((1988, 4, 29), Some("天皇誕生日")),
            ((1988, 5, 4), Some("国民の休日")),
            ((1999, 1, 15), Some("成人の日")),
            ((1998, 5, 4), Some("振替休日")),
            ((1997, 10, 10), Some("体育の日")),
            ((1995, 7, 20), None),
        ];
        for ((y, m, d), want) in cases {
            assert_eq!(holiday_name(date(y, m, d)), want, "{y}-{m}-{d}");
        }
    }

    #[test]
    fn golden_week_2026_substitute_skips_holidays() {
        // 5/3 is a Sunday; 5/4 and 5/5 are holidays themselves, so the substitute is 5/6.
        assert_eq!(holiday_name(date(2026, 5, 3)), Some("憲法記念日"));
        assert_eq!(holiday_name(date(2026, 5, 6)), Some("振替休日"));
        let calendar = BusinessCalendar::default();
        assert_eq!(
            calendar.next_business_day_after(date(2026, 5, 1)),
            Some(date(2026, 5, 7))
        );
    }

    fn closure(s: &str) -> Closure {
        s.parse().unwrap()
    }

    #[test]
    fn closure_wrapping_over_new_year() {
        let c = closure("12-29..01-03");
        assert_eq!(c.to_string(), "12-29..01-03");
        for (m, d, closed) in [
            (12, 28, false),
            (12, 29, true),
            (12, 31, true),
            (1, 1, true),
            (1, 3, true),
            (1, 4, false),
            (6, 15, false),
        ] {
            assert_eq!(c.contains(date(2026, m, d)), closed, "{m}-{d}");
        }
    }

    #[test]
    fn closure_within_a_year_and_single_day() {
        let obon = closure(" 08-13..08-16 ");
        assert!(!obon.contains(date(2026, 8, 12)));
        assert!(obon.contains(date(2026, 8, 13)));
        assert!(obon.contains(date(2026, 8, 16)));
        assert!(!obon.contains(date(2026, 8, 17)));
        let one = closure("06-01..06-01");
        assert!(one.contains(date(2030, 6, 1)));
        assert!(!one.contains(date(2030, 6, 2)));
    }

    #[test]
    fn closure_leap_day() {
        let leap_day = closure("02-29..02-29");
        assert!(leap_day.contains(date(2024, 2, 29)));
        assert!(!leap_day.contains(date(2025, 2, 28)));
        assert!(!leap_day.contains(date(2025, 3, 1)));
        let end_of_february = closure("02-20..02-29");
        assert!(end_of_february.contains(date(2025, 2, 28)));
        assert!(end_of_february.contains(date(2024, 2, 29)));
        assert!(!end_of_february.contains(date(2025, 3, 1)));
    }

    #[test]
    fn closure_parse_errors() {
        use ClosureErrorKind::*;
        for (input, kind) in [
            ("", MissingSeparator),
            ("12-29", MissingSeparator),
            ("12-29.01-03", MissingSeparator),
            ("12-29..", Malformed),
            ("..01-03", Malformed),
            ("13-01..", BadMonth),
            ("1-1..1-3", Malformed),
            ("12/29..01/03", Malformed),
            ("ab-cd..01-01", Malformed),
            ("12-29..01-03..01-05", Malformed),
            ("+1-01..01-02", Malformed),
            ("１２-29..01-03", Malformed),
            ("13-01..01-02", BadMonth),
            ("00-10..01-01", BadMonth),
            ("12-32..01-01", BadDay),
            ("12-00..01-01", BadDay),
            ("02-30..03-01", BadDay),
            ("01-01..04-31", BadDay),
        ] {
            let err = input.parse::<Closure>().unwrap_err();
            assert_eq!(err.kind(), kind, "{input:?}");
            let message = err.to_string();
            assert!(message.contains(&format!("{input:?}")), "{message}");
        }
        assert_eq!(
            "13-01..01-02".parse::<Closure>().unwrap_err().to_string(),
            "invalid closure \"13-01..01-02\": month must be 01 to 12"
        );
    }

    #[test]
    fn business_days() {
        let calendar = BusinessCalendar::new(vec![closure("12-29..01-03")]);
        assert!(calendar.is_business_day(date(2026, 12, 28))); // Monday
        assert!(!calendar.is_business_day(date(2026, 12, 29))); // closure
        assert!(!calendar.is_business_day(date(2027, 1, 2))); // Saturday
        assert!(!calendar.is_business_day(date(2027, 1, 11))); // 成人の日
        assert!(!calendar.is_business_day(date(2026, 6, 7))); // Sunday
        assert_eq!(
            calendar.next_business_day_after(date(2026, 12, 28)),
            Some(date(2027, 1, 4))
        );
        assert_eq!(
            calendar.next_business_day_after(date(2027, 1, 8)),
            Some(date(2027, 1, 12))
        );
    }

    #[test]
    fn a_calendar_closed_all_year_has_no_next_business_day() {
        let calendar = BusinessCalendar::new(vec![closure("01-02..01-01")]);
        assert_eq!(calendar.next_business_day_after(date(2026, 3, 1)), None);
        let end = NaiveDate::MAX;
        assert_eq!(
            BusinessCalendar::default().next_business_day_after(end),
            None
        );
    }
}
