//! The text of every plan file read, and the rendering of diagnostics against it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::diagnostic::{Diagnostic, Severity};

/// Index of a file in a [`SourceMap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileId(pub u32);

#[derive(Debug)]
struct SourceFile {
    /// Path as shown to people: the plan directory joined with the relative path.
    path: PathBuf,
    text: String,
    line_starts: Vec<usize>,
}

/// The files of one plan, kept so that diagnostics can quote them.
#[derive(Debug, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

/// A 1-based line and column (in characters, as editors count).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LineCol {
    pub line: usize,
    pub column: usize,
}

impl SourceMap {
    pub fn add(&mut self, path: PathBuf, text: String) -> FileId {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        self.files.push(SourceFile {
            path,
            text,
            line_starts,
        });
        FileId(self.files.len() as u32 - 1)
    }

    pub fn path(&self, id: FileId) -> &Path {
        &self.files[id.0 as usize].path
    }

    pub fn text(&self, id: FileId) -> &str {
        &self.files[id.0 as usize].text
    }

    pub fn line_col(&self, id: FileId, offset: usize) -> LineCol {
        let f = &self.files[id.0 as usize];
        let offset = offset.min(f.text.len());
        let line = f.line_starts.partition_point(|&s| s <= offset) - 1;
        let start = f.line_starts[line];
        let column = f
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count())
            + 1;
        LineCol {
            line: line + 1,
            column,
        }
    }

    fn line_text(&self, id: FileId, line: usize) -> &str {
        let f = &self.files[id.0 as usize];
        let start = f.line_starts[line - 1];
        let end = f.line_starts.get(line).copied().unwrap_or(f.text.len());
        f.text[start..end].trim_end_matches(['\n', '\r'])
    }

    /// `file:line:col: error[CODE]: message`, the source line, a caret, then notes.
    pub fn render(&self, d: &Diagnostic) -> String {
        let mut out = String::new();
        let sev = match d.severity() {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        match &d.loc {
            Some(loc) => {
                let lc = self.line_col(loc.file, loc.span.start);
                let _ = writeln!(
                    out,
                    "{}:{}:{}: {sev}[{}]: {}",
                    self.path(loc.file).display(),
                    lc.line,
                    lc.column,
                    d.code,
                    d.message
                );
                self.snippet(&mut out, loc, d.label.as_deref());
            }
            None => {
                let _ = writeln!(out, "{sev}[{}]: {}", d.code, d.message);
            }
        }
        for r in &d.related {
            let lc = self.line_col(r.loc.file, r.loc.span.start);
            let _ = writeln!(
                out,
                "  = note: {}:{}:{}: {}",
                self.path(r.loc.file).display(),
                lc.line,
                lc.column,
                r.message
            );
            self.snippet(&mut out, &r.loc, None);
        }
        match d.suggestions.as_slice() {
            [] => {}
            [one] => {
                let _ = writeln!(out, "  = help: did you mean `{one}`?");
            }
            many => {
                let list: Vec<String> = many.iter().map(|s| format!("`{s}`")).collect();
                let _ = writeln!(out, "  = help: did you mean one of {}?", list.join(", "));
            }
        }
        if let Some(help) = &d.help {
            let _ = writeln!(out, "  = help: {help}");
        }
        out
    }

    fn snippet(&self, out: &mut String, loc: &crate::diagnostic::Loc, label: Option<&str>) {
        let start = self.line_col(loc.file, loc.span.start);
        let line = self.line_text(loc.file, start.line);
        let gutter = start.line.to_string().len();
        let line_len = line.chars().count();
        let end_col = if loc.span.end > loc.span.start {
            let end = self.line_col(loc.file, loc.span.end);
            if end.line == start.line {
                end.column
            } else {
                line_len + 1
            }
        } else {
            start.column + 1
        };
        let width = end_col.saturating_sub(start.column).max(1);
        let pad: String = line
            .chars()
            .take(start.column - 1)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        let _ = writeln!(out, "{:gutter$} |", "");
        let _ = writeln!(out, "{} | {}", start.line, line);
        let _ = write!(out, "{:gutter$} | {}{}", "", pad, "^".repeat(width));
        match label {
            Some(l) => {
                let _ = writeln!(out, " {l}");
            }
            None => out.push('\n'),
        }
    }

    /// The machine-readable form of a diagnostic, for editors and CI.
    pub fn to_json(&self, d: &Diagnostic) -> JsonDiagnostic {
        let place = |loc: &crate::diagnostic::Loc| {
            let s = self.line_col(loc.file, loc.span.start);
            let e = self.line_col(loc.file, loc.span.end);
            (self.path(loc.file).display().to_string(), s, e)
        };
        let (file, start, end) = match &d.loc {
            Some(l) => {
                let (f, s, e) = place(l);
                (Some(f), Some(s), Some(e))
            }
            None => (None, None, None),
        };
        JsonDiagnostic {
            severity: d.severity(),
            code: d.code.as_str(),
            message: d.message.clone(),
            file,
            line: start.map(|s| s.line),
            column: start.map(|s| s.column),
            end_line: end.map(|e| e.line),
            end_column: end.map(|e| e.column),
            label: d.label.clone(),
            suggestions: d.suggestions.clone(),
            help: d.help.clone(),
            related: d
                .related
                .iter()
                .map(|r| {
                    let (file, s, _) = place(&r.loc);
                    JsonRelated {
                        file,
                        line: s.line,
                        column: s.column,
                        message: r.message.clone(),
                    }
                })
                .collect(),
        }
    }
}

/// A diagnostic as `--format json` prints it.
#[derive(Debug, Serialize)]
pub struct JsonDiagnostic {
    pub severity: Severity,
    pub code: &'static str,
    pub message: String,
    pub file: Option<String>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub end_line: Option<usize>,
    pub end_column: Option<usize>,
    pub label: Option<String>,
    pub suggestions: Vec<String>,
    pub help: Option<String>,
    pub related: Vec<JsonRelated>,
}

/// A related place in a JSON diagnostic.
#[derive(Debug, Serialize)]
pub struct JsonRelated {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}
