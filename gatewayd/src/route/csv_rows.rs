//! CSV reading shared by the operator's reference files (member eligibility, the
//! provider file): RFC 4180 fields through the `csv` crate, so quoted cells and cells
//! with commas read as a spreadsheet wrote them; lines starting with `#` and blank
//! lines are skipped, cells are trimmed, and every row keeps its line number in the
//! file for error messages.

/// One row of a CSV file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CsvRow {
    /// 1-based line where the row starts.
    pub line: usize,
    /// The cells, trimmed.
    pub cells: Vec<String>,
}

impl CsvRow {
    /// The cells as string slices.
    pub fn cells(&self) -> Vec<&str> {
        self.cells.iter().map(String::as_str).collect()
    }
}

/// The rows of `text`, the header row included; a row the CSV grammar rejects (an
/// unterminated quote, say) is `Err((line, what))`. A record is one line: these files
/// hold codes, ids and dates, never a line break inside a cell.
pub(crate) fn csv_rows(text: &str) -> impl Iterator<Item = Result<CsvRow, (usize, String)>> + '_ {
    text.lines().enumerate().filter_map(|(i, raw)| {
        let line = i + 1;
        let row = raw.trim();
        if row.is_empty() || row.starts_with('#') {
            return None;
        }
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(row.as_bytes());
        let mut record = csv::StringRecord::new();
        Some(match reader.read_record(&mut record) {
            Ok(_) => Ok(CsvRow {
                line,
                cells: record.iter().map(str::to_string).collect(),
            }),
            Err(e) => Err((line, e.to_string())),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_cells_comments_and_lines() {
        let text = "# a comment\nnpi,taxonomy\n\n\"1234567893\",\"207Q00000X\"\n  \"a,b\" , c\n";
        let rows: Vec<CsvRow> = csv_rows(text).map(|r| r.unwrap()).collect();
        assert_eq!(rows.len(), 3);
        assert_eq!(
            (rows[0].line, rows[0].cells()),
            (2, vec!["npi", "taxonomy"])
        );
        assert_eq!(
            (rows[1].line, rows[1].cells()),
            (4, vec!["1234567893", "207Q00000X"])
        );
        assert_eq!((rows[2].line, rows[2].cells()), (5, vec!["a,b", "c"]));
    }
}
