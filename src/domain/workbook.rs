//! The fiscal-year report as an Excel workbook (rust_xlsxwriter, in memory): a summary sheet,
//! then one sheet per table, each a heading row and one row per cell, ready to paste into the
//! city's form. Counts are numbers; a suppressed cell is the text "<K".

use rust_xlsxwriter::{Format, Workbook, XlsxError};

use super::statistics::{Cell, Report, SUMMARY};

/// Excel's rules for a sheet's name: at most 31 characters, none of `[]:*?/\`, unique.
fn sheet_name(label: &str, taken: &[String]) -> String {
    let clean: String = label
        .chars()
        .map(|c| if "[]:*?/\\".contains(c) { '_' } else { c })
        .take(28)
        .collect();
    let clean = clean.trim_matches('\'').to_string();
    let clean = if clean.is_empty() {
        "表".to_string()
    } else {
        clean
    };
    let mut name = clean.clone();
    let mut n = 2;
    while taken.iter().any(|t| t.eq_ignore_ascii_case(&name)) {
        name = format!("{clean}{n}");
        n += 1;
    }
    name
}

pub fn xlsx(report: &Report) -> Result<Vec<u8>, XlsxError> {
    let mut book = Workbook::new();
    let bold = Format::new().set_bold();
    let mut taken: Vec<String> = Vec::new();

    let name = sheet_name("概要", &taken);
    let sheet = book.add_worksheet().set_name(&name)?;
    taken.push(name);
    sheet.set_column_width(0, 16)?;
    sheet.set_column_width(1, 12)?;
    sheet.write_string_with_format(0, 0, "年度", &bold)?;
    sheet.write_number(0, 1, f64::from(report.year.year))?;
    sheet.write_string_with_format(1, 0, "項目", &bold)?;
    sheet.write_string_with_format(1, 1, "値", &bold)?;
    for (i, (key, heading)) in SUMMARY.iter().enumerate() {
        let row = u32::try_from(i).unwrap_or(0) + 2;
        sheet.write_string(row, 0, *heading)?;
        sheet.write_number(row, 1, report.summary_value(key) as f64)?;
    }

    for table in &report.tables {
        let name = sheet_name(&table.label, &taken);
        let sheet = book.add_worksheet().set_name(&name)?;
        taken.push(name);
        sheet.set_column_width(0, 28)?;
        sheet.set_column_width(1, 12)?;
        sheet.write_string_with_format(0, 0, table.label.as_str(), &bold)?;
        sheet.write_string_with_format(0, 1, table.unit, &bold)?;
        for (i, r) in table.rows.iter().enumerate() {
            let row = u32::try_from(i).unwrap_or(0) + 1;
            sheet.write_string(row, 0, r.label.as_str())?;
            match &r.cell {
                Cell::Count(n) => sheet.write_number(row, 1, *n as f64)?,
                Cell::Suppressed(s) => sheet.write_string(row, 1, s.as_str())?,
            };
        }
    }
    book.save_to_buffer()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sheet_names_keep_to_excels_rules() {
        let taken = vec!["概要".to_string()];
        assert_eq!(sheet_name("概要", &taken), "概要2");
        assert_eq!(sheet_name("a/b?", &[]), "a_b_");
        assert_eq!(sheet_name(&"長".repeat(40), &[]).chars().count(), 28);
    }
}
