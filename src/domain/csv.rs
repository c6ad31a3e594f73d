//! CSV for Excel in Japan: UTF-8 with a byte-order mark, CRLF line ends, RFC 4180 quoting.

/// A whole document: the BOM, a header row, then one row per item.
pub fn document(header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> String {
    let mut out = String::from("\u{feff}");
    line(&mut out, header.iter().copied());
    for row in rows {
        line(&mut out, row.iter().map(String::as_str));
    }
    out
}

fn line<'a>(out: &mut String, fields: impl Iterator<Item = &'a str>) {
    let cells: Vec<String> = fields.map(cell).collect();
    out.push_str(&cells.join(","));
    out.push_str("\r\n");
}

/// Quoted when it must be; a leading = + - @ is quoted too, so Excel never runs it as a formula.
fn cell(value: &str) -> String {
    let formula = value.starts_with(['=', '+', '-', '@']) && value.parse::<f64>().is_err();
    if formula {
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

    #[test]
    fn excel_friendly_csv() {
        let doc = document(
            &["a", "b"],
            vec![
                vec!["相談, \"急ぎ\"".to_string(), "1.5".to_string()],
                vec!["=HYPERLINK()".to_string(), "-2".to_string()],
            ]
            .into_iter(),
        );
        assert_eq!(
            doc,
            "\u{feff}a,b\r\n\"相談, \"\"急ぎ\"\"\",1.5\r\n\"'=HYPERLINK()\",-2\r\n"
        );
    }
}
