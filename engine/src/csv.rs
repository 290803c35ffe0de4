//! CSV cells (RFC 4180) as every export of metroplan writes them: the schedule, the staff's
//! list of files and the open-data export share this one writer.

use std::borrow::Cow;

/// A cell, quoted when it holds a separator, a quote or a line break. A text that a
/// spreadsheet would run as a formula (it starts with `=`, `+`, `-` or `@` and is not a
/// number) gets a leading `'`: exports carry applicants' own words.
pub fn cell(s: &str) -> Cow<'_, str> {
    let s: Cow<'_, str> = if s.starts_with(['=', '+', '-', '@']) && s.parse::<f64>().is_err() {
        Cow::Owned(format!("'{s}"))
    } else {
        Cow::Borrowed(s)
    };
    if s.contains([',', '"', '\n', '\r']) {
        Cow::Owned(format!("\"{}\"", s.replace('"', "\"\"")))
    } else {
        s
    }
}

/// Appends one row of cells, ended by CRLF.
pub fn row<'a>(out: &mut String, cells: impl IntoIterator<Item = &'a str>) {
    for (i, c) in cells.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&cell(c));
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_cells_are_left_as_they_are() {
        assert_eq!(cell("Vitrolles"), "Vitrolles");
        assert_eq!(cell("8000.00"), "8000.00");
        assert_eq!(cell("-12"), "-12");
        assert_eq!(cell("2021-03-01"), "2021-03-01");
        assert_eq!(cell(""), "");
    }

    #[test]
    fn separators_quotes_and_line_breaks_are_quoted() {
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("dit \"oui\""), "\"dit \"\"oui\"\"\"");
        assert_eq!(cell("l1\nl2"), "\"l1\nl2\"");
        assert_eq!(cell("l1\rl2"), "\"l1\rl2\"");
    }

    #[test]
    fn formulas_are_neutralised() {
        assert_eq!(cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(cell("+33 1"), "'+33 1");
        assert_eq!(cell("-x"), "'-x");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
    }

    #[test]
    fn a_row_joins_its_cells_and_ends_with_crlf() {
        let mut out = String::new();
        row(&mut out, ["a", "b,c", "=1+1"]);
        assert_eq!(out, "a,\"b,c\",'=1+1\r\n");
    }
}
