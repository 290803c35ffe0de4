//! Each fund's templates: the engine's defaults and the files of the fund's `templates`
//! directory (`<name>.j2`, `regles/<rule-id>.j2`), compiled at load; then the documents the
//! fund's workflow issues, each a template the fund has and, with `above`, a currency
//! parameter of the fund.

use std::path::PathBuf;
use std::sync::Arc;

use crate::diagnostic::{Code, Diagnostic, Diagnostics, Loc};
use crate::documents::Templates;
use crate::model::{ParamUnit, Plan};
use crate::plan::files::PlanSource;
use crate::source::SourceMap;

pub(super) fn load_templates(
    plan: &mut Plan,
    source: &dyn PlanSource,
    sources: &mut SourceMap,
    diags: &mut Diagnostics,
) {
    let root = source.display_root();
    for fund in &mut plan.funds {
        let mut files: Vec<(String, PathBuf, String, crate::source::FileId)> = Vec::new();
        if let Some(dir) = &fund.templates_dir {
            for (sub, prefix) in [(dir.clone(), ""), (dir.join("regles"), "regle/")] {
                let Ok(listed) = source.list_files(&sub) else {
                    if prefix.is_empty() {
                        diags.push(Diagnostic::new(
                            Code::Include,
                            None,
                            format!(
                                "fund `{}`: cannot read its templates directory {}",
                                fund.id,
                                root.join(dir).display()
                            ),
                        ));
                    }
                    continue;
                };
                for rel in listed {
                    if rel.extension().is_none_or(|e| e != "j2") {
                        continue;
                    }
                    let Some(stem) = rel.file_stem().and_then(|s| s.to_str()) else {
                        continue;
                    };
                    match source.read_to_string(&rel) {
                        Ok(text) => {
                            let shown = root.join(&rel);
                            let id = sources.add(shown.clone(), text.clone());
                            files.push((format!("{prefix}{stem}"), shown, text, id));
                        }
                        Err(e) => diags.push(Diagnostic::new(
                            Code::Include,
                            None,
                            format!("cannot read {}: {e}", root.join(&rel).display()),
                        )),
                    }
                }
            }
        }
        let ids: Vec<(PathBuf, crate::source::FileId)> =
            files.iter().map(|(_, p, _, id)| (p.clone(), *id)).collect();
        let loaded = Templates::load(
            files
                .into_iter()
                .map(|(name, shown, text, _)| (name, shown, text))
                .collect(),
        );
        match loaded {
            Ok(t) => fund.templates = Arc::new(t),
            Err(errors) => {
                for e in errors {
                    let file = ids.iter().find(|(p, _)| *p == e.file).map(|(_, id)| *id);
                    let loc = file.map(|id| line_loc(sources, id, e.line.unwrap_or(1)));
                    let d = match loc {
                        Some(loc) => Diagnostic::at(
                            Code::Template,
                            loc,
                            format!("template `{}` does not compile: {}", e.name, e.message),
                        ),
                        None => Diagnostic::new(
                            Code::Template,
                            None,
                            format!("template `{}` does not compile: {}", e.name, e.message),
                        ),
                    };
                    diags.push(d.with_help("templates use the Jinja syntax: {{ value }}, {% if … %}…{% endif %}, {% for x in list %}…{% endfor %} (docs/documents.md)"));
                }
            }
        }
    }
    check_issues(plan, diags);
}

/// The whole line `line` (1-based) of a file, for a caret under it.
fn line_loc(sources: &SourceMap, file: crate::source::FileId, line: usize) -> Loc {
    let text = sources.text(file);
    let start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    let len = text[start.min(text.len())..]
        .find('\n')
        .unwrap_or(text.len() - start.min(text.len()));
    Loc::new(
        file,
        start..start + len.max(1).min(text.len() - start.min(text.len())),
    )
}

fn check_issues(plan: &Plan, diags: &mut Diagnostics) {
    for fund in &plan.funds {
        let Some(wf) = plan.workflows.iter().find(|w| w.id == fund.workflow) else {
            continue;
        };
        for t in &wf.transitions {
            for issue in &t.documents {
                if !fund.templates.has(&issue.template) {
                    let known: Vec<&str> = fund
                        .templates
                        .names()
                        .filter(|n| !n.starts_with("regle/"))
                        .collect();
                    let mut d = Diagnostic::at(
                        Code::Template,
                        issue.at.clone(),
                        format!(
                            "transition `{}` issues `{}`, which is no template of fund `{}`",
                            t.id, issue.template, fund.id
                        ),
                    )
                    .with_label("no such template");
                    if let Some(s) =
                        crate::suggest::closest(&issue.template, known.iter().copied()).first()
                    {
                        d = d.with_help(format!(
                            "did you mean `{s}`? Or add `{}.j2` to the fund's templates directory",
                            issue.template
                        ));
                    }
                    diags.push(d);
                }
                if let Some(p) = &issue.above
                    && !fund
                        .parameters
                        .iter()
                        .any(|q| q.id.as_str() == p && q.unit == ParamUnit::Currency)
                {
                    diags.push(
                        Diagnostic::at(
                            Code::Template,
                            issue.at.clone(),
                            format!("`above = \"{p}\"` names no currency parameter of fund `{}`", fund.id),
                        )
                        .with_help("declare the threshold as a [[fund.parameter]] with unit = \"currency\""),
                    );
                }
            }
        }
    }
}
