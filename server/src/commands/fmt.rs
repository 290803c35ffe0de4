//! `metroplan fmt`: plan files in one canonical layout, comments and the `#:schema` line kept.
//!
//! The layout: `key = value` with one space around `=`; no indentation; one blank line before
//! each `[table]` and `[[array]]` header and at most one blank line anywhere; comments on their
//! own line start at the left margin, end-of-line comments are one space after the value;
//! one-line arrays and inline tables as `["a", "b"]` and `{ a = 1, b = 2 }`. Arrays written on
//! several lines (a list of files with comments, say) keep their lines. Values are never
//! changed: a formatted file must parse to the same data, or nothing is written.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use toml_edit::visit_mut::{self, VisitMut};
use toml_edit::{Array, Decor, DocumentMut, InlineTable, Item, KeyMut, RawString, Table, Value};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A plan directory (every `.toml` file under it) or a single file.
    pub path: PathBuf,
    /// Change nothing; list the files that are not formatted and exit 1 if there are any.
    #[arg(long)]
    pub check: bool,
}

fn raw(r: Option<&RawString>) -> &str {
    r.and_then(RawString::as_str).unwrap_or("")
}

/// A block of comment lines before a key or a header: each line at the left margin, at most
/// one blank line in a row; the indentation before the key itself dropped.
fn clean_block(text: &str, keep_leading_blank: bool) -> String {
    let mut lines: Vec<&str> = text.split('\n').collect();
    // What follows the last newline is the indentation of the key or header.
    lines.pop();
    let mut out = String::new();
    let mut blank = false;
    let mut any = false;
    for line in lines {
        let t = line.trim();
        if t.is_empty() {
            blank = true;
            continue;
        }
        if blank && (any || keep_leading_blank) {
            out.push('\n');
        }
        out.push_str(t);
        out.push('\n');
        any = true;
        blank = false;
    }
    if blank && (any || keep_leading_blank) {
        out.push('\n');
    }
    out
}

/// An end-of-line comment, one space after what it follows.
fn clean_trailer(text: &str) -> String {
    let t = text.trim();
    if t.is_empty() {
        String::new()
    } else {
        format!(" {t}")
    }
}

fn one_line(decor: &Decor) -> bool {
    let p = raw(decor.prefix());
    let s = raw(decor.suffix());
    !(p.contains('\n') || p.contains('#') || s.contains('\n') || s.contains('#'))
}

fn array_is_one_line(a: &Array) -> bool {
    !a.trailing().as_str().unwrap_or("").contains('\n')
        && !a.trailing().as_str().unwrap_or("").contains('#')
        && a.iter().all(|v| one_line(v.decor()))
}

fn inline_is_one_line(t: &InlineTable) -> bool {
    !t.trailing().as_str().unwrap_or("").contains('\n')
        && t.iter().all(|(k, v)| {
            t.key(k).is_none_or(|key| one_line(key.leaf_decor())) && one_line(v.decor())
        })
}

struct Canonical;

impl VisitMut for Canonical {
    fn visit_table_mut(&mut self, node: &mut Table) {
        let d = node.decor_mut();
        let prefix = clean_block(raw(d.prefix()), false);
        let suffix = clean_trailer(raw(d.suffix()));
        // Headers get one blank line before them (the document's leading one is trimmed).
        d.set_prefix(format!("\n{prefix}"));
        d.set_suffix(suffix);
        visit_mut::visit_table_mut(self, node);
    }

    fn visit_table_like_kv_mut(&mut self, mut key: KeyMut<'_>, node: &mut Item) {
        if let Item::Value(v) = node {
            let d = key.leaf_decor_mut();
            let prefix = clean_block(raw(d.prefix()), true);
            d.set_prefix(prefix);
            d.set_suffix(" ");
            let vd = v.decor_mut();
            let trailer = clean_trailer(raw(vd.suffix()));
            vd.set_prefix(" ");
            vd.set_suffix(trailer);
        }
        visit_mut::visit_table_like_kv_mut(self, key, node);
    }

    fn visit_array_mut(&mut self, node: &mut Array) {
        if array_is_one_line(node) {
            node.fmt();
            // `fmt` also resets the inner values; keep visiting for nested inline tables.
        }
        visit_mut::visit_array_mut(self, node);
    }

    fn visit_inline_table_mut(&mut self, node: &mut InlineTable) {
        if inline_is_one_line(node) {
            node.fmt();
            for (_, v) in node.iter_mut() {
                if let Value::Array(a) = v
                    && array_is_one_line(a)
                {
                    a.fmt();
                }
                if let Value::InlineTable(t) = v
                    && inline_is_one_line(t)
                {
                    t.fmt();
                }
            }
        }
    }
}

/// The file's text in the canonical layout.
pub fn format(text: &str) -> anyhow::Result<String> {
    let mut doc: DocumentMut = text
        .parse()
        .context("not valid TOML (run `metroplan check`)")?;
    Canonical.visit_document_mut(&mut doc);
    let trailing = clean_block(
        &format!("{}\n", doc.trailing().as_str().unwrap_or("")),
        true,
    );
    doc.set_trailing(trailing.trim_end_matches('\n').to_string());
    let mut out = doc.to_string();
    // The blank line given to every header is not wanted at the very top.
    let start = out.len() - out.trim_start_matches('\n').len();
    out.drain(..start);
    while out.ends_with("\n\n") {
        out.pop();
    }
    if !out.ends_with('\n') {
        out.push('\n');
    }
    let before: toml::Table = text.parse().context("not valid TOML")?;
    let after: toml::Table = out
        .parse()
        .context("formatting made the file invalid: please report it")?;
    anyhow::ensure!(
        before == after,
        "formatting would change the file's data: please report it"
    );
    Ok(out)
}

fn files(path: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut stack = vec![path.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).with_context(|| format!("reading {}", d.display()))? {
            let p = e?.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "toml") {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut unformatted = Vec::new();
    let mut failed = false;
    for f in files(&args.path)? {
        let text =
            std::fs::read_to_string(&f).with_context(|| format!("reading {}", f.display()))?;
        let formatted = match format(&text) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("{}: {e:#}", f.display());
                failed = true;
                continue;
            }
        };
        if formatted != text {
            if args.check {
                println!("{}", f.display());
            } else {
                std::fs::write(&f, &formatted)
                    .with_context(|| format!("writing {}", f.display()))?;
                eprintln!("formatted {}", f.display());
            }
            unformatted.push(f);
        }
    }
    if failed {
        return Ok(ExitCode::from(2));
    }
    if args.check && !unformatted.is_empty() {
        eprintln!(
            "metroplan: {} file(s) not formatted: run `metroplan fmt {}`",
            unformatted.len(),
            args.path.display()
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
