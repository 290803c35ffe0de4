//! The plan language: reading a plan directory into a validated [`Plan`].

pub(crate) mod convert;
pub(crate) mod files;
pub(crate) mod literal;
mod pages;
pub(crate) mod parse;
pub(crate) mod raw;
mod templates;

use std::path::{Path, PathBuf};

use crate::diagnostic::{Code, Diagnostic, Diagnostics, Loc, Severity};
use crate::model::Plan;
use crate::source::SourceMap;
use files::{PlanSource, confine};
use parse::{RawParts, parse_file};

/// The name of the root file of a plan directory.
pub const ROOT_FILE: &str = "plan.toml";

/// What loading a plan gives: the plan when it has no error, the files read and every
/// diagnostic (warnings come with a plan too).
#[derive(Debug)]
pub struct Loaded {
    pub plan: Option<Plan>,
    pub sources: SourceMap,
    pub diagnostics: Vec<Diagnostic>,
}

impl Loaded {
    pub fn errors(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity() == Severity::Error)
            .count()
    }
    pub fn warnings(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity() == Severity::Warning)
            .count()
    }
}

/// Reads the plan in `source`: `plan.toml` and every file it includes.
pub fn load(source: &dyn PlanSource) -> Loaded {
    let mut sources = SourceMap::default();
    let mut diags = Diagnostics::default();
    let display_root = source.display_root();
    let shown = |rel: &Path| -> PathBuf { display_root.join(rel) };

    let root_rel = PathBuf::from(ROOT_FILE);
    let text = match source.read_to_string(&root_rel) {
        Ok(t) => t,
        Err(e) => {
            diags.push(
                Diagnostic::new(
                    Code::Include,
                    None,
                    format!("cannot read {}: {e}", shown(&root_rel).display()),
                )
                .with_help("a plan directory starts with a plan.toml file"),
            );
            return Loaded {
                plan: None,
                diagnostics: diags.into_sorted(&sources),
                sources,
            };
        }
    };
    let root = sources.add(shown(&root_rel), text);
    let mut parts = RawParts::default();
    parse_file(root, sources.text(root), &mut parts, &mut diags);

    // Includes, in the order written; a pattern's files in name order.
    let includes: Vec<(String, Loc)> = parts
        .plan
        .first()
        .map(|p| {
            p.value
                .include
                .iter()
                .map(|i| (i.get_ref().clone(), Loc::new(p.file, i.span())))
                .collect()
        })
        .unwrap_or_default();
    let mut seen = std::collections::HashSet::from([root_rel.clone()]);
    for (pattern, loc) in includes {
        let files = match expand(source, &pattern) {
            Ok(f) => f,
            Err(msg) => {
                diags.push(
                    Diagnostic::at(Code::Include, loc, msg).with_label("cannot include this"),
                );
                continue;
            }
        };
        for rel in files {
            if !seen.insert(rel.clone()) {
                diags.push(
                    Diagnostic::at(
                        Code::Include,
                        loc.clone(),
                        format!("{} is included twice", rel.display()),
                    )
                    .with_label("already included"),
                );
                continue;
            }
            match source.read_to_string(&rel) {
                Ok(text) => {
                    let id = sources.add(shown(&rel), text);
                    // Straight into the plan's parts: no per-file copy of the items.
                    let plans_before = parts.plan.len();
                    parse_file(id, sources.text(id), &mut parts, &mut diags);
                    for extra in parts.plan.drain(plans_before..) {
                        diags.push(
                            Diagnostic::at(
                                Code::UnknownKey,
                                extra.loc(),
                                "`[plan]` belongs in plan.toml only",
                            )
                            .with_label("not allowed in an included file")
                            .with_help("move these keys to the [plan] table of plan.toml"),
                        );
                    }
                }
                Err(e) => diags.push(
                    Diagnostic::at(
                        Code::Include,
                        loc.clone(),
                        format!("cannot read {}: {e}", shown(&rel).display()),
                    )
                    .with_label("included here"),
                ),
            }
        }
    }
    let mut plan = convert::convert(parts, root, source, &mut diags);
    if let Some(plan) = plan.as_mut()
        && !diags.has_errors()
    {
        templates::load_templates(plan, source, &mut sources, &mut diags);
        compile_rules(plan, source, &mut sources, &mut diags);
        // A plan that does not load needs no word about its pages.
        if !diags.has_errors() {
            pages::load_pages(plan, source, &mut sources, &mut diags);
        }
    }
    let has_errors = diags.has_errors();
    Loaded {
        plan: if has_errors { None } else { plan },
        diagnostics: diags.into_sorted(&sources),
        sources,
    }
}

/// The files an include names: a path, or `dir/*.toml` for a directory's TOML files.
/// Compiles every fund's rules script that exists (a missing one is W002, reported by the
/// conversion); a script that does not compile or declares its rules wrongly is an error
/// at its own line.
fn compile_rules(
    plan: &mut Plan,
    source: &dyn PlanSource,
    sources: &mut SourceMap,
    diags: &mut Diagnostics,
) {
    let display_root = source.display_root();
    let mut compiled = Vec::new();
    for (i, fund) in plan.funds.iter().enumerate() {
        if !source.exists(&fund.rules) {
            continue;
        }
        let shown = display_root.join(&fund.rules);
        let text = match source.read_to_string(&fund.rules) {
            Ok(t) => t,
            Err(e) => {
                diags.push(Diagnostic::new(
                    Code::Include,
                    None,
                    format!("cannot read {}: {e}", shown.display()),
                ));
                continue;
            }
        };
        let file = sources.add(shown.clone(), text);
        match crate::rules::Ruleset::compile(
            plan,
            fund,
            &shown.display().to_string(),
            sources.text(file),
            file,
            None,
            crate::rules::Limits::default(),
        ) {
            Ok(r) => compiled.push((i, r)),
            Err(ds) => {
                for d in ds {
                    diags.push(d);
                }
            }
        }
    }
    for (i, mut r) in compiled {
        r.templates = plan.funds[i].templates.clone();
        plan.funds[i].ruleset = Some(std::sync::Arc::new(r));
    }
}

fn expand(source: &dyn PlanSource, pattern: &str) -> Result<Vec<PathBuf>, String> {
    if let Some(dir) = pattern.strip_suffix("*.toml") {
        let dir = dir.trim_end_matches('/');
        if dir.contains('*') {
            return Err(format!(
                "`{pattern}`: only the last part of an include may be `*.toml`"
            ));
        }
        let dir = confine(Path::new(""), if dir.is_empty() { "." } else { dir })?;
        let mut files: Vec<PathBuf> = source
            .list_files(&dir)
            .map_err(|e| format!("cannot list {}: {e}", dir.display()))?
            .into_iter()
            .filter(|p| {
                p.extension().is_some_and(|e| e == "toml")
                    && p.file_name() != Some(ROOT_FILE.as_ref())
            })
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(format!("`{pattern}` matches no file"));
        }
        return Ok(files);
    }
    if pattern.contains('*') {
        return Err(format!(
            "`{pattern}`: the only pattern allowed is `dir/*.toml`"
        ));
    }
    let p = confine(Path::new(""), pattern)?;
    if !source.exists(&p) {
        return Err(format!(
            "{} does not exist in the plan directory",
            p.display()
        ));
    }
    Ok(vec![p])
}

/// For the loading benchmarks only: each file of `source` deserialized into the raw
/// structures by `toml` alone (no key checks, no diagnostics, no conversion), the baseline
/// loading is measured against. Opaque: nothing outside `plan/` sees a raw type.
#[doc(hidden)]
pub fn baseline_deserialize(source: &files::MemorySource) -> impl std::fmt::Debug {
    source
        .files
        .values()
        .map(|t| toml::from_str::<raw::RawFile>(t).expect("valid TOML"))
        .collect::<Vec<_>>()
}

/// For the loading benchmarks only: the parse phase alone over every file of `source`,
/// without includes or conversion. Opaque, like [`baseline_deserialize`].
#[doc(hidden)]
pub fn parse_only(source: &files::MemorySource) -> impl std::fmt::Debug {
    let mut parts = RawParts::default();
    let mut diags = Diagnostics::default();
    let mut map = SourceMap::default();
    for (path, text) in &source.files {
        let id = map.add(path.clone(), text.clone());
        parse_file(id, map.text(id), &mut parts, &mut diags);
    }
    parts
}
