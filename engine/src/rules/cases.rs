//! Rule tests kept next to a fund's script: `rules/<fund>/tests/*.toml` beside
//! `rules/<fund>.rhai`. Each file holds an application, the outcome expected, the rules
//! expected to fail and the data expected missing, and may declare boundaries: a parameter
//! and the field it bounds, from which three cases are generated (just under, at, just over
//! the parameter's value at the filing date).
//!
//! A run reports rule coverage: every rule and exception must be seen passing and failing.

use std::path::{Path, PathBuf};

use jiff::civil::Date;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{Context, EvalError, Evaluation, Outcome, Ruleset, Status};
use crate::plan::files::PlanSource;

/// A rule test: one application and what the fund's rules must conclude.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "RuleTest")]
pub struct Case {
    /// What the case shows, in French.
    pub description: String,
    /// The expected outcome.
    pub expect: Outcome,
    /// Rule ids expected to fail, exactly.
    #[serde(default)]
    pub fail: Vec<String>,
    /// Fields and documents expected missing, exactly (`documents.rib`).
    #[serde(default)]
    pub missing: Vec<String>,
    /// Applications this applicant already filed to the same call.
    #[serde(default)]
    pub other_filings: u32,
    /// The application, as the fund's form describes it (dates as `YYYY-MM-DD`).
    #[schemars(with = "serde_json::Map<String, serde_json::Value>")]
    pub application: toml::Table,
    /// Parameters bounding a field: three cases are generated around each.
    #[serde(default)]
    pub boundary: Vec<Boundary>,
}

/// Where an application passes relative to the bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Passes {
    AtOrAbove,
    Above,
    AtOrBelow,
    Below,
}

/// A parameter bounding a field. The bound is the parameter's value, times `scale` when
/// given (a ratio of another field), or that many months after `months_after` or before
/// `months_before` (dates).
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Boundary {
    /// The fund's parameter.
    pub parameter: String,
    /// The field moved around the bound; `other_filings` for the count of earlier filings.
    pub field: String,
    /// The rule that checks the bound.
    pub rule: String,
    /// Where the application passes, relative to the bound.
    pub passes: Passes,
    /// The step just under and over (money: `0.01`; dates move by a day).
    #[serde(default)]
    #[schemars(with = "Option<f64>")]
    pub step: Option<Decimal>,
    /// A field or parameter the value is multiplied by (`project.total_cost` for a ratio).
    #[serde(default)]
    pub scale: Option<String>,
    /// A field or parameter added to the bound (`plafond` for "the ceiling plus 50 %").
    #[serde(default)]
    pub plus: Option<String>,
    #[serde(default)]
    pub months_after: Option<String>,
    /// The bound is that many months before this date field.
    #[serde(default)]
    pub months_before: Option<String>,
}

/// The result of one case (a file, or a case generated from a boundary).
#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    pub name: String,
    pub ok: bool,
    /// What differed from the expectation.
    pub problems: Vec<String>,
}

/// Rule coverage over a run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Coverage {
    pub rules: usize,
    pub never_passing: Vec<String>,
    pub never_failing: Vec<String>,
    /// Parameters the rules applied that no boundary covers.
    pub parameters_without_boundaries: Vec<String>,
}

impl Coverage {
    pub fn complete(&self) -> bool {
        self.never_passing.is_empty()
            && self.never_failing.is_empty()
            && self.parameters_without_boundaries.is_empty()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub fund: String,
    pub cases: Vec<CaseResult>,
    pub coverage: Coverage,
}

impl Run {
    pub fn passed(&self) -> bool {
        self.cases.iter().all(|c| c.ok) && self.coverage.complete()
    }
}

/// The directory of a script's tests: `rules/x.rhai` → `rules/x/tests`.
pub fn tests_dir(script: &Path) -> PathBuf {
    script.with_extension("").join("tests")
}

/// A TOML application as the JSON an applicant sends (dates become `YYYY-MM-DD` texts).
pub fn to_json(v: &toml::Value) -> serde_json::Value {
    match v {
        toml::Value::String(s) => s.clone().into(),
        toml::Value::Integer(i) => (*i).into(),
        toml::Value::Float(f) => {
            serde_json::Number::from_f64(*f).map_or(serde_json::Value::Null, Into::into)
        }
        toml::Value::Boolean(b) => (*b).into(),
        toml::Value::Datetime(d) => d.to_string().into(),
        toml::Value::Array(a) => a.iter().map(to_json).collect(),
        toml::Value::Table(t) => t.iter().map(|(k, v)| (k.clone(), to_json(v))).collect(),
    }
}

/// The test files of a fund (relative to the plan directory), sorted by name.
fn test_files(source: &dyn PlanSource, script: &Path) -> std::io::Result<Vec<PathBuf>> {
    let dir = tests_dir(script);
    let mut files = match source.list_files(&dir) {
        Ok(f) => f,
        // A fund without rule tests: nothing to read (`metroplan test` reports the coverage).
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    files.retain(|f| f.extension().is_some_and(|e| e == "toml"));
    files.sort();
    Ok(files)
}

fn file_name(f: &Path) -> String {
    f.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A case file read: the case, or what is wrong with it (line and column first).
pub type CaseRead = Result<Case, String>;

/// Every case file of a fund, each read on its own: a malformed one is an error for that file
/// only (what is wrong, with its line and column), and the others are still read.
pub fn read_each(
    source: &dyn PlanSource,
    script: &Path,
) -> Result<Vec<(String, CaseRead)>, String> {
    let dir = tests_dir(script);
    let files = test_files(source, script).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(files
        .iter()
        .map(|f| {
            let case = source
                .read_to_string(f)
                .map_err(|e| e.to_string())
                .and_then(|text| {
                    toml::from_str::<Case>(&text).map_err(|e| {
                        let at = e.span().map(|sp| {
                            let before = &text[..sp.start.min(text.len())];
                            let line = before.matches('\n').count() + 1;
                            let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                            format!("line {line}, column {col}: ")
                        });
                        format!("{}{}", at.unwrap_or_default(), e.message())
                    })
                });
            (file_name(f), case)
        })
        .collect())
}

/// Checks the rule tests of every fund with rules (`metroplan check`, after the plan loads:
/// a malformed test does not make the plan unusable, and `metroplan test` still runs the
/// others). Errors are E026, at their file's line; the files are added to `sources`.
pub fn check_plan(
    plan: &crate::Plan,
    source: &dyn PlanSource,
    sources: &mut crate::source::SourceMap,
) -> Vec<crate::diagnostic::Diagnostic> {
    plan.funds
        .iter()
        .filter_map(|f| Some((f, f.ruleset.as_ref()?)))
        .flat_map(|(f, r)| check_files(source, sources, &f.rules, r))
        .collect()
}

/// One fund's rule tests: each file parses and fits the rule-test schema, its application
/// fits the fund's form, and the rules, parameters and fields it names exist.
fn check_files(
    source: &dyn PlanSource,
    sources: &mut crate::source::SourceMap,
    script: &Path,
    rules: &Ruleset,
) -> Vec<crate::diagnostic::Diagnostic> {
    use crate::diagnostic::{Code, Diagnostic, Loc};
    let mut out = Vec::new();
    let Ok(files) = test_files(source, script) else {
        return out;
    };
    let root = source.display_root();
    for f in files {
        let Ok(text) = source.read_to_string(&f) else {
            continue;
        };
        let file = sources.add(root.join(&f), text.clone());
        let case = match toml::from_str::<Case>(&text) {
            Ok(c) => c,
            Err(e) => {
                let span = e.span().unwrap_or(0..0);
                out.push(
                    Diagnostic::at(
                        Code::RuleTest,
                        Loc::new(file, span),
                        format!("rule test: {}", e.message().trim()),
                    )
                    .with_help("see plans/rule-test.schema.json (`metroplan schema --rule-tests`)"),
                );
                continue;
            }
        };
        // Where a name appears in the file, for the diagnostics below.
        let at = |name: &str| -> Loc {
            let last = name.rsplit('.').next().unwrap_or(name);
            let start = text
                .match_indices(last)
                .map(|(i, _)| i)
                .find(|&i| i == 0 || !text.as_bytes()[i - 1].is_ascii_alphanumeric())
                .unwrap_or(0);
            Loc::new(file, start..start + last.len())
        };
        let app = to_json(&toml::Value::Table(case.application.clone()));
        if let Err(e) = super::application::check(&rules.env.form, &app) {
            out.push(
                Diagnostic::at(
                    Code::RuleTest,
                    at(&e.field),
                    format!("rule test: the application does not fit the form: {e}"),
                )
                .with_help("write the application as the fund's form describes it"),
            );
        }
        let ids: Vec<&str> = rules.rule_ids().collect();
        for id in case
            .fail
            .iter()
            .chain(case.boundary.iter().map(|b| &b.rule))
        {
            if !ids.contains(&id.as_str()) {
                let close = crate::suggest::closest(id, ids.iter().copied());
                let mut d = Diagnostic::at(
                    Code::RuleTest,
                    at(id),
                    format!("rule test: the script declares no rule `{id}`"),
                );
                if let Some(c) = close.first() {
                    d = d.with_help(format!("did you mean `{c}`?"));
                }
                out.push(d);
            }
        }
        for b in &case.boundary {
            if rules.env.parameter(&b.parameter).is_none() {
                out.push(Diagnostic::at(
                    Code::RuleTest,
                    at(&b.parameter),
                    format!("rule test: the fund has no parameter `{}`", b.parameter),
                ));
            }
            let fields = std::iter::once(&b.field)
                .chain(&b.months_after)
                .chain(&b.months_before);
            for name in fields {
                let known = name == "other_filings"
                    || rules.env.form.fields.iter().any(|x| x.path == *name);
                if !known {
                    out.push(Diagnostic::at(
                        Code::RuleTest,
                        at(name),
                        format!("rule test: the form has no field `{name}`"),
                    ));
                }
            }
        }
    }
    out
}

/// Reads the cases of a fund from its plan directory, sorted by file name.
pub fn read(source: &dyn PlanSource, script: &Path) -> Result<Vec<(String, Case)>, String> {
    let dir = tests_dir(script);
    let mut files = source
        .list_files(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    files.retain(|f| f.extension().is_some_and(|e| e == "toml"));
    files.sort();
    files
        .iter()
        .map(|f| {
            let text = source
                .read_to_string(f)
                .map_err(|e| format!("{}: {e}", f.display()))?;
            let case: Case = toml::from_str(&text).map_err(|e| format!("{}: {e}", f.display()))?;
            let name = f
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            Ok((name, case))
        })
        .collect()
}

fn eval(rules: &Ruleset, app: &serde_json::Value, other: u32) -> Result<Evaluation, EvalError> {
    rules.evaluate(
        app,
        Context {
            filed_on: None,
            other_filings: other,
        },
    )
}

fn set(app: &mut serde_json::Value, path: &str, v: serde_json::Value) {
    let mut cur = app;
    let parts: Vec<&str> = path.split('.').collect();
    for (i, p) in parts.iter().enumerate() {
        if i + 1 == parts.len() {
            if let Some(o) = cur.as_object_mut() {
                o.insert((*p).to_string(), v);
            }
            return;
        }
        match cur.get_mut(*p) {
            Some(next) => cur = next,
            None => return,
        }
    }
}

fn get<'a>(app: &'a serde_json::Value, path: &str) -> Option<&'a serde_json::Value> {
    path.split('.').try_fold(app, |v, k| v.get(k))
}

fn decimal(v: &serde_json::Value) -> Option<Decimal> {
    match v {
        serde_json::Value::Number(n) => n.to_string().parse().ok(),
        serde_json::Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// Runs every case of `cases` and the cases their boundaries generate.
pub fn run(rules: &Ruleset, cases: &[(String, Case)]) -> Run {
    let mut results = Vec::new();
    let mut seen: rustc_hash::FxHashMap<String, (bool, bool)> = Default::default();
    let mut applied: Vec<String> = Vec::new();
    let mut bounded: Vec<String> = Vec::new();
    let mut record = |e: &Evaluation, applied: &mut Vec<String>| {
        for r in &e.rules {
            let s = seen.entry(r.id.clone()).or_default();
            s.0 |= r.counts() && r.status == Status::Pass;
            s.1 |= r.counts() && r.status == Status::Fail;
            for &p in &r.parameters {
                let id = &e.parameters[p].id;
                if !applied.contains(id) {
                    applied.push(id.clone());
                }
            }
        }
    };
    for (name, case) in cases {
        let app = to_json(&toml::Value::Table(case.application.clone()));
        let mut problems = Vec::new();
        match eval(rules, &app, case.other_filings) {
            Ok(e) => {
                record(&e, &mut applied);
                if e.outcome != case.expect {
                    problems.push(format!(
                        "outcome {} (expected {})",
                        e.outcome.name(),
                        case.expect.name()
                    ));
                }
                let mut failing: Vec<String> = e
                    .rules
                    .iter()
                    .filter(|r| r.counts() && r.status == Status::Fail)
                    .map(|r| r.id.clone())
                    .collect();
                let mut want = case.fail.clone();
                failing.sort();
                want.sort();
                if failing != want {
                    problems.push(format!("failing rules {failing:?} (expected {want:?})"));
                }
                let mut missing = e.missing.clone();
                let mut want = case.missing.clone();
                missing.sort();
                want.sort();
                if missing != want {
                    problems.push(format!("missing {missing:?} (expected {want:?})"));
                }
            }
            Err(err) => problems.push(format!("not evaluated: {err}")),
        }
        results.push(CaseResult {
            name: format!("{name}: {}", case.description),
            ok: problems.is_empty(),
            problems,
        });
        for b in &case.boundary {
            if !bounded.contains(&b.parameter) {
                bounded.push(b.parameter.clone());
            }
            for (label, result) in boundary_cases(rules, &app, case.other_filings, b) {
                let mut problems = Vec::new();
                match result {
                    Ok((e, expected)) => {
                        record(&e, &mut applied);
                        let got = e.rules.iter().find(|r| r.id == b.rule);
                        if got.is_none_or(|r| !r.counts() || r.status != expected) {
                            problems.push(format!(
                                "rule {} is {} (expected {})",
                                b.rule,
                                got.map_or("absent", |r| r.state()),
                                expected.name()
                            ));
                        }
                    }
                    Err(msg) => problems.push(msg),
                }
                results.push(CaseResult {
                    name: format!("{name}: {} {label}", b.parameter),
                    ok: problems.is_empty(),
                    problems,
                });
            }
        }
    }
    let mut coverage = Coverage::default();
    for id in rules.rule_ids() {
        coverage.rules += 1;
        let (pass, fail) = seen.get(id).copied().unwrap_or_default();
        if !pass {
            coverage.never_passing.push(id.to_string());
        }
        if !fail {
            coverage.never_failing.push(id.to_string());
        }
    }
    for p in applied {
        if !bounded.contains(&p) {
            coverage.parameters_without_boundaries.push(p);
        }
    }
    Run {
        fund: rules.env.fund.clone(),
        cases: results,
        coverage,
    }
}

type Generated = Vec<(String, Result<(Evaluation, Status), String>)>;

/// A generated value as the form's field takes it: a whole number for an integer or a year
/// field (a text would be refused: "must be a whole number"), a decimal text for money.
fn field_value(rules: &Ruleset, field: &str, bound: Decimal) -> Result<serde_json::Value, String> {
    let ty = rules
        .env
        .form
        .fields
        .iter()
        .find(|f| f.path == field)
        .map(|f| f.ty);
    match ty {
        Some(crate::model::FieldType::Integer | crate::model::FieldType::Year) => {
            if !bound.fract().is_zero() {
                return Err(format!(
                    "boundary: `{field}` takes whole numbers, and {} is not one (give `step` a whole number)",
                    bound.normalize()
                ));
            }
            i64::try_from(bound)
                .map(Into::into)
                .map_err(|_| format!("boundary: {bound} is too large for `{field}`"))
        }
        _ => Ok(bound.normalize().to_string().into()),
    }
}

/// Three applications around the bound: just under, at, and just over.
fn boundary_cases(rules: &Ruleset, app: &serde_json::Value, other: u32, b: &Boundary) -> Generated {
    let filed = get(app, super::FILING_DATE_FIELD)
        .and_then(|v| v.as_str())
        .and_then(|s| s.parse::<Date>().ok());
    let param = filed.and_then(|d| {
        rules
            .env
            .parameter(&b.parameter)
            .and_then(|p| p.values.at(d))
            .map(|v| v.value)
    });
    let Some(value) = param else {
        return vec![(
            String::new(),
            Err(format!(
                "boundary: no value of parameter `{}` at the case's filing date",
                b.parameter
            )),
        )];
    };
    let pass = |pos: i8| -> Status {
        let ok = match b.passes {
            Passes::AtOrAbove => pos >= 0,
            Passes::Above => pos > 0,
            Passes::AtOrBelow => pos <= 0,
            Passes::Below => pos < 0,
        };
        if ok { Status::Pass } else { Status::Fail }
    };
    let mut out = Vec::new();
    for (pos, label) in [(-1i8, "just under"), (0, "at"), (1, "just over")] {
        let mut a = app.clone();
        let mut other = other;
        let anchor = b
            .months_after
            .as_ref()
            .map(|a| (a, 1))
            .or(b.months_before.as_ref().map(|a| (a, -1)));
        let made: Result<(), String> = if let Some((anchor, sign)) = anchor {
            match get(app, anchor)
                .and_then(|v| v.as_str())
                .and_then(|s| s.parse::<Date>().ok())
            {
                None => Err(format!("boundary: `{anchor}` is not a date")),
                Some(base) => {
                    let months =
                        i32::try_from(i64::try_from(value.trunc()).unwrap_or(0)).unwrap_or(0);
                    match base
                        .checked_add(jiff::Span::new().months(sign * months))
                        .and_then(|d| d.checked_add(jiff::Span::new().days(i64::from(pos))))
                    {
                        Ok(d) => {
                            set(&mut a, &b.field, d.to_string().into());
                            Ok(())
                        }
                        Err(e) => Err(e.to_string()),
                    }
                }
            }
        } else {
            let step = b.step.unwrap_or(Decimal::ONE);
            // A name is a parameter of the fund (at the filing date) or a field of the case.
            let resolve = |name: &Option<String>, default: Decimal| -> Option<Decimal> {
                let Some(name) = name else {
                    return Some(default);
                };
                match (rules.env.parameter(name), filed) {
                    (Some(p), Some(d)) => p.values.at(d).map(|v| v.value),
                    _ => get(app, name).and_then(decimal),
                }
            };
            match (
                resolve(&b.scale, Decimal::ONE),
                resolve(&b.plus, Decimal::ZERO),
            ) {
                (Some(scale), Some(plus)) => {
                    let bound = value * scale + plus + step * Decimal::from(pos);
                    if b.field == "other_filings" {
                        other =
                            u32::try_from(i64::try_from(bound.trunc()).unwrap_or(0)).unwrap_or(0);
                        Ok(())
                    } else {
                        field_value(rules, &b.field, bound).map(|v| set(&mut a, &b.field, v))
                    }
                }
                _ => Err(
                    "boundary: `scale` or `plus` is neither a parameter nor a number field"
                        .to_string(),
                ),
            }
        };
        let r = made.and_then(|()| {
            eval(rules, &a, other)
                .map(|e| (e, pass(pos)))
                .map_err(|e| e.to_string())
        });
        out.push((label.to_string(), r));
    }
    out
}
