//! SQL only through bound parameters: every string literal of the server that holds SQL
//! interpolates nothing but the fixed column lists, a column name from a fixed list, or a
//! parameter's number (`${}`). A value pasted into SQL would have to appear as another hole.

use std::path::Path;

/// The holes SQL text may have, and why each is safe.
const ALLOWED: &[&str] = &[
    "APP_COLUMNS",   // a const &str
    "SUMS",          // the ledger's sums, a const &str
    "USER_COLUMNS",  // a const &str
    "EVENT_COLUMNS", // a const &str
    "col",           // the filters' `column operator`, literals in `select`
    "marks",         // parameter numbers only (`$1, $2, …`), made from a count
];

/// The string literals of a Rust source, with the line each starts on.
fn literals(src: &str) -> Vec<(usize, String)> {
    let b = src.as_bytes();
    let (mut i, mut line, mut out) = (0, 1, Vec::new());
    while i < b.len() {
        match b[i] {
            b'\n' => line += 1,
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            // A character literal such as '"' or '\''.
            b'\'' if b.get(i + 2) == Some(&b'\'') => i += 2,
            b'\'' if b.get(i + 1) == Some(&b'\\') && b.get(i + 3) == Some(&b'\'') => i += 3,
            b'"' => {
                let (start, mut j, mut text) = (line, i + 1, String::new());
                while j < b.len() && b[j] != b'"' {
                    if b[j] == b'\\' {
                        j += 1;
                    }
                    if b[j] == b'\n' {
                        line += 1;
                    }
                    text.push(b[j] as char);
                    j += 1;
                }
                out.push((start, text));
                i = j;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

fn is_sql(s: &str) -> bool {
    [
        "SELECT ", "INSERT ", "UPDATE ", "DELETE ", " WHERE ", " AND ", "VALUES",
    ]
    .iter()
    .any(|k| s.contains(k))
}

/// The `{…}` holes of a format string, with the character before each.
fn holes(s: &str) -> Vec<(Option<char>, String)> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '{' {
            if chars.get(i + 1) == Some(&'{') {
                i += 2;
                continue;
            }
            let end = chars[i..]
                .iter()
                .position(|&c| c == '}')
                .map_or(chars.len(), |e| i + e);
            let name: String = chars[i + 1..end].iter().collect();
            out.push((i.checked_sub(1).map(|p| chars[p]), name));
            i = end;
        }
        i += 1;
    }
    out
}

fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn sql_text_interpolates_only_fixed_names_and_parameter_numbers() {
    let mut files = Vec::new();
    sources(&repo().join("server/src"), &mut files);
    let (mut checked, mut bad) = (0, Vec::new());
    for f in files {
        let src = std::fs::read_to_string(&f).unwrap();
        for (line, text) in literals(&src) {
            if !is_sql(&text) {
                continue;
            }
            checked += 1;
            for (before, name) in holes(&text) {
                let ok =
                    ALLOWED.contains(&name.as_str()) || (name.is_empty() && before == Some('$'));
                if !ok {
                    bad.push(format!("{}:{line}: {{{name}}} in {text:?}", f.display()));
                }
            }
        }
    }
    assert!(checked > 40, "the scan found the SQL: {checked} literals");
    assert!(bad.is_empty(), "SQL built from values:\n{}", bad.join("\n"));
}

fn repo() -> std::path::PathBuf {
    crate::support::repo()
}
