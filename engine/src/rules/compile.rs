//! Compiling a fund's script: syntax, the declaration run (the top level only declares
//! checks), declarations and literal names checked against the fund, and the content hash.

use std::fmt::Write as _;
use std::sync::Arc;

use rhai::AST;
use sha2::{Digest, Sha256};

use super::environment::Env;
use super::evaluate::root_message;
use super::host::build_engine;
use super::sandbox::{self, Limits};
use super::state::{Mode, Session, State};
use super::types::{DeclKind, Declaration};
use crate::diagnostic::{Code, Diagnostic, Loc};
use crate::model::{Assessment, Fund, Parameter, Plan};
use crate::source::FileId;

/// A fund's compiled rules, shared between threads.
pub struct Ruleset {
    pub(super) engine: rhai::Engine,
    pub(super) ast: AST,
    pub env: Arc<Env>,
    pub declarations: Vec<Declaration>,
    /// Path of the script as shown to people.
    pub script: String,
    pub source: String,
    pub hash: String,
    pub(super) limits: Limits,
    /// The fund's templates, for the explanation's sentences (set when the plan loads).
    pub templates: Arc<crate::documents::Templates>,
}

impl std::fmt::Debug for Ruleset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ruleset")
            .field("script", &self.script)
            .field("declarations", &self.declarations.len())
            .field("hash", &self.hash)
            .finish()
    }
}

/// A rules problem found when the plan loads.
fn script_diag(
    code: Code,
    file: FileId,
    text: &str,
    pos: rhai::Position,
    msg: String,
) -> Diagnostic {
    let start = offset(text, pos);
    let end = text[start..]
        .find(['\n', '(', ' '])
        .map_or(text.len(), |e| start + e.max(1));
    Diagnostic::at(code, Loc::new(file, start..end.max(start)), msg)
}

/// Byte offset of a Rhai position (1-based line and column, in characters).
fn offset(text: &str, pos: rhai::Position) -> usize {
    let (Some(line), col) = (pos.line(), pos.position().unwrap_or(1)) else {
        return 0;
    };
    let mut at = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            return at
                + l.char_indices()
                    .nth(col.saturating_sub(1))
                    .map_or(l.trim_end().len(), |(b, _)| b);
        }
        at += l.len();
    }
    text.len()
}

impl Ruleset {
    /// Compiles `source` (the text of `script`, registered as `file` for diagnostics) for
    /// `fund`, with the fund's parameters or `parameters` when given (a draft).
    pub fn compile(
        plan: &Plan,
        fund: &Fund,
        script: &str,
        source: &str,
        file: FileId,
        parameters: Option<Vec<Parameter>>,
        limits: Limits,
    ) -> Result<Ruleset, Vec<Diagnostic>> {
        let engine = build_engine(limits);
        let ast = engine.compile(source).map_err(|e| {
            vec![
                script_diag(
                    Code::RulesScript,
                    file,
                    source,
                    e.position(),
                    format!(
                        "rules script of fund `{}` does not compile: {}",
                        fund.id,
                        e.err_type()
                    ),
                )
                .with_label("here"),
            ]
        })?;
        let env = Arc::new(Env::new(
            plan,
            fund,
            parameters.unwrap_or_else(|| fund.parameters.clone()),
        ));
        let mut diags = Vec::new();
        // Declaration run: the top level only declares checks; reading data there fails.
        let session = Session::start(State {
            mode: Mode::Declare,
            env: Some(env.clone()),
            ..State::default()
        });
        let run = {
            let _clock = sandbox::start_clock(limits.wall_clock);
            engine.run_ast(&ast)
        };
        let declared = session.finish().declared;
        if let Err(e) = run {
            diags.push(script_diag(
                Code::RulesScript,
                file,
                source,
                e.position(),
                format!(
                    "rules script of fund `{}` fails while declaring its rules: {}",
                    fund.id,
                    root_message(&e)
                ),
            ).with_help("the top level of a rules script only calls `rule`, `exception` and `grid`; data are read inside their checks"));
        }
        check_declarations(fund, &env, &declared, file, source, &mut diags);
        check_names(&env, file, source, &mut diags);
        if diags
            .iter()
            .any(|d| d.severity() == crate::diagnostic::Severity::Error)
        {
            return Err(diags);
        }
        let hash = {
            let mut h = Sha256::new();
            h.update(b"metroplan-ruleset-v1\0");
            h.update(source.as_bytes());
            h.update(b"\0");
            h.update(serde_json::to_vec(&*env).unwrap_or_default());
            let digest = h.finalize();
            let mut hex = String::with_capacity(71);
            hex.push_str("sha256:");
            for b in digest {
                let _ = write!(hex, "{b:02x}");
            }
            hex
        };
        Ok(Ruleset {
            engine,
            ast,
            env,
            declarations: declared.into_iter().map(|(d, _)| d).collect(),
            script: script.to_string(),
            source: source.to_string(),
            hash,
            limits,
            templates: Default::default(),
        })
    }
}

/// Ids unique, exceptions pointing at a rule, one priority per exception of the same rule,
/// grid checks naming automatic criteria the plan computes from other data.
fn check_declarations(
    fund: &Fund,
    env: &Env,
    declared: &[(Declaration, rhai::Position)],
    file: FileId,
    source: &str,
    diags: &mut Vec<Diagnostic>,
) {
    let at =
        |pos: rhai::Position, msg: String| script_diag(Code::RulesScript, file, source, pos, msg);
    for (i, (d, pos)) in declared.iter().enumerate() {
        if crate::model::Id::parse(&d.id).is_err() {
            diags.push(at(
                *pos,
                format!(
                    "rule id `{}` is not a valid id (lowercase letters, digits and dashes)",
                    d.id
                ),
            ));
        }
        if let Some((_, first)) = declared[..i].iter().find(|(x, _)| x.id == d.id) {
            let first = Loc::new(file, offset(source, *first)..offset(source, *first) + 1);
            diags.push(
                at(*pos, format!("rule `{}` is declared twice", d.id))
                    .with_related(first, "first declared here")
                    .with_help("give every rule its own id: results and tests refer to it"),
            );
        }
        match &d.kind {
            DeclKind::Exception {
                overrides,
                priority,
            } => {
                match declared.iter().find(|(x, _)| x.id == *overrides) {
                    Some((x, _)) if x.kind == DeclKind::Rule => {}
                    Some(_) => diags.push(at(
                        *pos,
                        format!(
                            "exception `{}` overrides `{overrides}`, which is not a rule",
                            d.id
                        ),
                    )),
                    None => {
                        let ids: Vec<&str> = declared
                            .iter()
                            .filter(|(x, _)| x.kind == DeclKind::Rule)
                            .map(|(x, _)| x.id.as_str())
                            .collect();
                        diags.push(
                            at(
                                *pos,
                                format!(
                                    "exception `{}` overrides `{overrides}`, which is not declared",
                                    d.id
                                ),
                            )
                            .with_suggestions(crate::suggest::closest(overrides, ids)),
                        );
                    }
                }
                for (other, opos) in &declared[..i] {
                    if let DeclKind::Exception {
                        overrides: o2,
                        priority: p2,
                    } = &other.kind
                        && o2 == overrides
                        && p2 == priority
                    {
                        let first =
                            Loc::new(file, offset(source, *opos)..offset(source, *opos) + 1);
                        diags.push(
                            script_diag(
                                Code::RuleConflict,
                                file,
                                source,
                                *pos,
                                format!(
                                    "exceptions `{}` and `{}` both override `{overrides}` with priority {priority}: if both apply, neither wins",
                                    other.id, d.id
                                ),
                            )
                            .with_related(first, format!("`{}` declared here", other.id))
                            .with_help("give them different priorities: the higher one wins when both apply"),
                        );
                    }
                }
            }
            DeclKind::Grid => {
                let crit = env
                    .grid
                    .as_ref()
                    .and_then(|g| g.criteria.iter().find(|c| c.id.as_str() == d.id));
                match crit {
                    Some(c) if c.assessed == Assessment::Automatic && c.field.is_none() => {}
                    Some(_) => diags.push(at(*pos, format!("grid criterion `{}` is not computed by the rules (it is scored by reviewers or read from a field)", d.id))),
                    None => diags.push(at(*pos, format!("fund `{}` has no grid criterion `{}`", fund.id, d.id))),
                }
            }
            DeclKind::Rule => {}
        }
    }
    if let Some(g) = &env.grid {
        for c in &g.criteria {
            if c.assessed == Assessment::Automatic
                && c.field.is_none()
                && !declared
                    .iter()
                    .any(|(d, _)| d.kind == DeclKind::Grid && d.id == c.id.as_str())
            {
                diags.push(
                    Diagnostic::at(
                        Code::RulesScript,
                        Loc::new(file, 0..0),
                        format!("grid criterion `{}` is automatic without a field, but the rules script does not compute it", c.id),
                    )
                    .with_help(format!("add `grid(\"{}\", || ...);` to the script", c.id)),
                );
            }
        }
    }
}

/// `param("...")` and `field("...")` with literal names must name the fund's parameters
/// and form fields: a typo is caught when the plan loads, not on an applicant's file.
fn check_names(env: &Env, file: FileId, source: &str, diags: &mut Vec<Diagnostic>) {
    let params: Vec<&str> = env.parameters.iter().map(|p| p.id.as_str()).collect();
    let fields: Vec<&str> = env.form.fields.iter().map(|f| f.path.as_str()).collect();
    for (call, known, what) in [
        ("param(\"", &params, "parameter"),
        ("field(\"", &fields, "form field"),
        ("has(\"", &fields, "form field"),
    ] {
        let mut from = 0;
        while let Some(k) = source[from..].find(call) {
            let start = from + k + call.len();
            from = start;
            // Only whole calls: `has_field("` must not match `field("`.
            let before = source[..start - call.len()].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let Some(len) = source[start..].find('"') else {
                break;
            };
            let name = &source[start..start + len];
            if !known.contains(&name) {
                diags.push(
                    Diagnostic::at(
                        Code::RulesScript,
                        Loc::new(file, start..start + len),
                        format!("the fund has no {what} `{name}`"),
                    )
                    .with_label(format!("unknown {what}"))
                    .with_suggestions(crate::suggest::closest(name, known.iter().copied())),
                );
            }
        }
    }
}
