//! The fiscal-year report for the commissioning city (CONTRACT §9): the year's bounds in the
//! centre's zone, the tables made from the counts the database gives, small cells suppressed
//! for publication, and the CSV. The counting rules themselves are in the README and on the
//! console's 統計 page; `db::statistics` counts by them.

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use super::case_fields::{CaseFields, UNKNOWN};

/// April 1 of `year` to April 1 of the next, at 00:00 in `tz`, and the twelve months between.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FiscalYear {
    pub year: i32,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// `YYYY-MM`, its start and its end.
    pub months: Vec<(String, DateTime<Utc>, DateTime<Utc>)>,
}

/// The years a report may be asked for: the centre's records cannot be older or newer.
pub const YEARS: std::ops::RangeInclusive<i32> = 2000..=2100;

fn local_midnight(tz: Tz, y: i32, m: u32) -> Option<DateTime<Utc>> {
    let day = NaiveDate::from_ymd_opt(y, m, 1)?.and_hms_opt(0, 0, 0)?;
    Some(tz.from_local_datetime(&day).earliest()?.with_timezone(&Utc))
}

impl FiscalYear {
    pub fn new(year: i32, tz: Tz) -> Option<Self> {
        if !YEARS.contains(&year) {
            return None;
        }
        let mut months = Vec::with_capacity(12);
        for i in 0..12u32 {
            let (y, m) = if i < 9 {
                (year, 4 + i)
            } else {
                (year + 1, i - 8)
            };
            let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            months.push((
                format!("{y:04}-{m:02}"),
                local_midnight(tz, y, m)?,
                local_midnight(tz, ny, nm)?,
            ));
        }
        Some(Self {
            year,
            from: months[0].1,
            to: months[11].2,
            months,
        })
    }

    /// The fiscal year an instant falls in (January to March belong to the year before).
    pub fn of(at: DateTime<Utc>, tz: Tz) -> i32 {
        let local = at.with_timezone(&tz);
        if local.month() >= 4 {
            local.year()
        } else {
            local.year() - 1
        }
    }
}

/// What the database counted for one fiscal year.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Figures {
    pub people: i64,
    pub new_people: i64,
    pub replies: i64,
    /// Contacts per month, in the year's order (twelve).
    pub month_contacts: Vec<i64>,
    /// Contacts by the channel of their ticket: (`web_form` | `email`, n).
    pub channel_contacts: Vec<(String, i64)>,
    /// People by (field, code) of their latest ticket of the year.
    pub case_values: Vec<(String, String, i64)>,
    /// People whose latest ticket has anything recorded in the field.
    pub case_known: Vec<(String, i64)>,
}

/// A cell: a count, or `"<K"` where a small count is suppressed for publication.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Cell {
    Count(i64),
    Suppressed(String),
}

impl Cell {
    fn of(n: i64, suppress_below: Option<i64>) -> Self {
        match suppress_below {
            Some(k) if n > 0 && n < k => Self::Suppressed(format!("<{k}")),
            _ => Self::Count(n),
        }
    }

    pub fn text(&self) -> String {
        match self {
            Self::Count(n) => n.to_string(),
            Self::Suppressed(s) => s.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub key: String,
    pub label: String,
    pub cell: Cell,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// `month`, `channel` or a case field's name.
    pub name: String,
    pub label: String,
    /// 実人数 (people) or 延べ件数 (contacts): what the cells count.
    pub unit: &'static str,
    pub rows: Vec<Row>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub year: FiscalYear,
    pub people: i64,
    pub contacts: i64,
    pub new_people: i64,
    pub continuing_people: i64,
    pub replies: i64,
    pub tables: Vec<Table>,
}

pub const PEOPLE: &str = "実人数";
pub const CONTACTS: &str = "延べ件数";

/// The summary's rows: (key, Japanese heading).
pub const SUMMARY: [(&str, &str); 5] = [
    ("people", PEOPLE),
    ("contacts", CONTACTS),
    ("new_people", "新規"),
    ("continuing_people", "継続"),
    ("replies", "返信数"),
];

fn month_label(key: &str) -> String {
    let (y, m) = key.split_once('-').unwrap_or((key, ""));
    format!("{y}年{}月", m.trim_start_matches('0'))
}

impl Report {
    pub fn build(
        year: FiscalYear,
        figures: &Figures,
        fields: &CaseFields,
        suppress_below: Option<i64>,
    ) -> Self {
        let cell = |n: i64| Cell::of(n, suppress_below);
        let contacts: i64 = figures.month_contacts.iter().sum();
        let mut tables = vec![
            Table {
                name: "month".into(),
                label: "月別".into(),
                unit: CONTACTS,
                rows: year
                    .months
                    .iter()
                    .enumerate()
                    .map(|(i, (key, _, _))| Row {
                        label: month_label(key),
                        key: key.clone(),
                        cell: cell(figures.month_contacts.get(i).copied().unwrap_or(0)),
                    })
                    .collect(),
            },
            Table {
                name: "channel".into(),
                label: "相談経路".into(),
                unit: CONTACTS,
                rows: [("web_form", "相談フォーム"), ("email", "メール")]
                    .iter()
                    .map(|(key, label)| Row {
                        key: (*key).into(),
                        label: (*label).into(),
                        cell: cell(
                            figures
                                .channel_contacts
                                .iter()
                                .filter(|(c, _)| c == key)
                                .map(|(_, n)| n)
                                .sum(),
                        ),
                    })
                    .collect(),
            },
        ];
        for field in &fields.fields {
            let count = |code: &str| -> i64 {
                figures
                    .case_values
                    .iter()
                    .filter(|(f, c, _)| f == field.name && c == code)
                    .map(|(_, _, n)| n)
                    .sum()
            };
            let mut rows: Vec<Row> = field
                .codes
                .iter()
                .map(|c| Row {
                    key: c.code.clone(),
                    label: c.label.clone(),
                    cell: cell(count(&c.code)),
                })
                .collect();
            // A code the file no longer lists still counts, under its bare code.
            for (f, code, n) in &figures.case_values {
                if f == field.name && !field.codes.iter().any(|c| &c.code == code) {
                    rows.push(Row {
                        key: code.clone(),
                        label: code.clone(),
                        cell: cell(*n),
                    });
                }
            }
            let known: i64 = figures
                .case_known
                .iter()
                .filter(|(f, _)| f == field.name)
                .map(|(_, n)| n)
                .sum();
            rows.push(Row {
                key: UNKNOWN.into(),
                label: field.label_of(UNKNOWN).into(),
                cell: cell((figures.people - known).max(0)),
            });
            tables.push(Table {
                name: field.name.into(),
                label: field.label.clone(),
                unit: PEOPLE,
                rows,
            });
        }
        Self {
            people: figures.people,
            contacts,
            new_people: figures.new_people,
            continuing_people: figures.people - figures.new_people,
            replies: figures.replies,
            year,
            tables,
        }
    }

    pub fn summary_value(&self, key: &str) -> i64 {
        match key {
            "people" => self.people,
            "contacts" => self.contacts,
            "new_people" => self.new_people,
            "continuing_people" => self.continuing_people,
            _ => self.replies,
        }
    }

    /// One CSV for Excel: the summary, then every table, one line per cell, with the table's
    /// heading and what it counts (実人数 or 延べ件数).
    pub fn csv(&self) -> String {
        let year = format!("{}年度", self.year.year);
        let mut rows: Vec<Vec<String>> = SUMMARY
            .iter()
            .map(|(key, heading)| {
                vec![
                    year.clone(),
                    "概要".into(),
                    (*heading).into(),
                    (*key).into(),
                    self.summary_value(key).to_string(),
                ]
            })
            .collect();
        for t in &self.tables {
            for r in &t.rows {
                rows.push(vec![
                    year.clone(),
                    format!("{}（{}）", t.label, t.unit),
                    r.label.clone(),
                    r.key.clone(),
                    r.cell.text(),
                ]);
            }
        }
        super::csv::document(&["年度", "表", "項目", "コード", "値"], rows.into_iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fiscal_year_runs_from_april_to_april_in_the_centres_zone() {
        let fy = FiscalYear::new(2026, chrono_tz::Asia::Tokyo).unwrap();
        assert_eq!(fy.from.to_rfc3339(), "2026-03-31T15:00:00+00:00");
        assert_eq!(fy.to.to_rfc3339(), "2027-03-31T15:00:00+00:00");
        assert_eq!(fy.months.len(), 12);
        assert_eq!(fy.months[0].0, "2026-04");
        assert_eq!(fy.months[8].0, "2026-12");
        assert_eq!(fy.months[9].0, "2027-01");
        assert_eq!(fy.months[11].2, fy.to);
        let just_before = fy.from - chrono::Duration::seconds(1);
        assert_eq!(FiscalYear::of(just_before, chrono_tz::Asia::Tokyo), 2025);
        assert_eq!(FiscalYear::of(fy.from, chrono_tz::Asia::Tokyo), 2026);
        assert!(FiscalYear::new(1999, chrono_tz::Asia::Tokyo).is_none());
    }

    #[test]
    fn small_cells_are_suppressed_and_unset_fields_are_unknown() {
        let fy = FiscalYear::new(2026, chrono_tz::Asia::Tokyo).unwrap();
        let figures = Figures {
            people: 7,
            new_people: 5,
            replies: 2,
            month_contacts: vec![3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9],
            channel_contacts: vec![("web_form".into(), 8), ("email".into(), 4)],
            case_values: vec![("ward".into(), "kita".into(), 6)],
            case_known: vec![("ward".into(), 6)],
        };
        let r = Report::build(fy, &figures, &CaseFields::built_in(), Some(5));
        assert_eq!((r.contacts, r.continuing_people), (12, 2));
        let table = |n: &str| r.tables.iter().find(|t| t.name == n).unwrap();
        let cell = |t: &str, k: &str| {
            table(t)
                .rows
                .iter()
                .find(|r| r.key == k)
                .unwrap()
                .cell
                .clone()
        };
        assert_eq!(cell("month", "2026-04"), Cell::Suppressed("<5".into()));
        assert_eq!(cell("month", "2026-05"), Cell::Count(0), "zero is shown");
        assert_eq!(cell("month", "2027-03"), Cell::Count(9));
        assert_eq!(cell("ward", "kita"), Cell::Count(6));
        assert_eq!(cell("ward", "unknown"), Cell::Suppressed("<5".into()));
        assert_eq!(cell("writer", "unknown"), Cell::Count(7));
        let csv = r.csv();
        assert!(csv.starts_with("\u{feff}年度,表,項目,コード,値\r\n"));
        assert!(csv.contains("2026年度,概要,実人数,people,7\r\n"));
        assert!(csv.contains("2026年度,月別（延べ件数）,2026年4月,2026-04,<5\r\n"));
        assert!(csv.contains("2026年度,お住まいの区（実人数）,北区,kita,6\r\n"));
    }
}
