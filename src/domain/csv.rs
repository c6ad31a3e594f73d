//! CSV for Excel in Japan: UTF-8 with a byte-order mark, CRLF line ends, RFC 4180 quoting,
//! Japanese headings, times Excel reads as dates, flags as 〇 or empty, and no cell that a
//! spreadsheet would run as a formula.

use chrono::{DateTime, TimeZone};

/// A whole document: the BOM, a header row, then one row per item.
pub fn document(header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> String {
    let mut out = String::from("\u{feff}");
    line(&mut out, header.iter().copied());
    for row in rows {
        line(&mut out, row.iter().map(String::as_str));
    }
    out
}

/// `2026-11-30 10:00`, in the zone given (the centre's): Excel takes it for a date and time,
/// so the column sorts and filters as dates.
pub fn time<Tz: TimeZone>(t: &DateTime<Tz>) -> String
where
    Tz::Offset: std::fmt::Display,
{
    t.format("%Y-%m-%d %H:%M").to_string()
}

/// A yes/no column: 〇 for yes, empty for no, as paper forms in Japan mark it.
pub fn flag(yes: bool) -> String {
    if yes { "〇".into() } else { String::new() }
}

fn line<'a>(out: &mut String, fields: impl Iterator<Item = &'a str>) {
    let cells: Vec<String> = fields.map(cell).collect();
    out.push_str(&cells.join(","));
    out.push_str("\r\n");
}

/// What a spreadsheet may read as the start of a formula (OWASP's list, the full-width forms a
/// Japanese IME types, and line breaks, which some programs strip before looking).
const FORMULA_STARTS: [char; 10] = ['=', '+', '-', '@', '\t', '\r', '\n', '＝', '＋', '－'];
const FULL_WIDTH_AT: char = '＠';

/// A plain number such as `-2` or `35.5` stays a number; nothing else that starts like a
/// formula does.
fn is_plain_number(value: &str) -> bool {
    let digits = value.strip_prefix(['-', '+']).unwrap_or(value);
    let mut parts = digits.splitn(2, '.');
    let whole = parts.next().unwrap_or("");
    let frac = parts.next();
    !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
}

/// Quoted when it must be; a cell that could start a formula gets a leading `'` (inside
/// quotes), so Excel shows it as the text it is and never runs it.
pub fn cell(value: &str) -> String {
    let formula = value.starts_with(FORMULA_STARTS) || value.starts_with(FULL_WIDTH_AT);
    if formula && !is_plain_number(value) {
        format!("\"'{}\"", value.replace('"', "\"\""))
    } else if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use chrono_tz::Asia::Tokyo;

    #[test]
    fn excel_friendly_csv() {
        let doc = document(
            &["件名", "時間"],
            vec![
                vec!["相談, \"急ぎ\"".to_string(), "1.5".to_string()],
                vec!["=HYPERLINK()".to_string(), "-2".to_string()],
            ]
            .into_iter(),
        );
        assert_eq!(
            doc,
            "\u{feff}件名,時間\r\n\"相談, \"\"急ぎ\"\"\",1.5\r\n\"'=HYPERLINK()\",-2\r\n"
        );
    }

    /// Every character a formula can start with, half- and full-width, alone, before text and
    /// before a number: each is made text; and nothing else gets the mark.
    #[test]
    fn every_formula_start_is_made_text() {
        let starts = ['=', '+', '-', '@', '\t', '\r', '\n', '＝', '＋', '－', '＠'];
        for c in starts {
            for rest in [
                "",
                "1+1",
                "SUM(A1:A9)",
                "cmd|' /C calc'!A0",
                "HYPERLINK(\"http://x\")",
                " 2",
            ] {
                let value = format!("{c}{rest}");
                let out = cell(&value);
                assert!(
                    out.starts_with("\"'"),
                    "{value:?} must be text, not a formula: {out:?}"
                );
                assert_eq!(
                    out,
                    format!("\"'{}\"", value.replace('"', "\"\"")),
                    "the value itself is kept whole"
                );
            }
        }
        // Every other start of a cell in the Basic Multilingual Plane stays as it is.
        for code in 0u32..0x1_0000 {
            let Some(c) = char::from_u32(code) else {
                continue;
            };
            if starts.contains(&c) || c == '"' || c == ',' {
                continue;
            }
            let value = format!("{c}x");
            assert_eq!(cell(&value), value, "{c:?} (U+{code:04X}) needs no mark");
        }
    }

    #[test]
    fn plain_numbers_stay_numbers() {
        for n in ["0", "35", "-2", "+3", "-0.5", "12.25"] {
            assert_eq!(cell(n), n, "{n}");
        }
        for not in [
            "-", "-.5", "-1.", "-1e5", "-1.2.3", "+1+1", "-1,2", "-inf", "－1",
        ] {
            assert!(cell(not).starts_with("\"'"), "{not} is not a plain number");
        }
    }

    #[test]
    fn quoting_follows_rfc_4180() {
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("two\nlines"), "\"two\nlines\"");
        assert_eq!(cell("a\rb"), "\"a\rb\"");
        assert_eq!(cell(""), "");
        assert_eq!(cell("相談"), "相談");
        assert_eq!(cell("=a,\"b\""), "\"'=a,\"\"b\"\"\"");
    }

    #[test]
    fn times_and_flags_for_excel() {
        let t = Tokyo.with_ymd_and_hms(2026, 11, 30, 9, 5, 0).unwrap();
        assert_eq!(time(&t), "2026-11-30 09:05");
        let utc = t.with_timezone(&chrono::Utc);
        assert_eq!(time(&utc.with_timezone(&Tokyo)), "2026-11-30 09:05");
        assert_eq!(flag(true), "〇");
        assert_eq!(flag(false), "");
    }
}
