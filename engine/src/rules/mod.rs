//! Eligibility rules: a fund's Rhai script, compiled once when the plan loads, run in a
//! sandbox against applications checked by the fund's form.
//!
//! A script declares its checks through host functions, so that every check has an id, an
//! article and a French message, and the trace of an evaluation is produced by
//! construction:
//!
//! ```rhai
//! rule("art-5-plafond", "Article 5", "Le montant demandé ne dépasse pas le plafond",
//!     || field("project.requested_amount") <= param("plafond"));
//! exception("art-5-plafond-intercommunal", "Article 5", "...", "art-5-plafond", 1,
//!     || councils(field("project.communes")) >= 2,
//!     || field("project.requested_amount") <= param("plafond") * (1 + param("majoration-intercommunale")));
//! ```
//!
//! Data are read only inside a check: `field` (the application, through its form), `param`
//! (the fund's dated parameters at the filing date), and the plan's registries (`has_flag`,
//! `council_of`, ...). Reading an absent field makes the check `missing`, never a zero.

pub mod application;
pub mod cases;
pub mod explain;
pub mod publish;
pub mod sandbox;

use std::cell::RefCell;
use std::fmt::Write as _;
use std::sync::Arc;

use jiff::civil::Date;
use rhai::{AST, Array, Dynamic, EvalAltResult, FnPtr, INT, ImmutableString, NativeCallContext};
use rust_decimal::Decimal;
use rustc_hash::FxHashMap;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::diagnostic::{Code, Diagnostic, Loc};
use crate::model::{Assessment, ParamUnit};
use crate::model::{CallWindow, Form, Fund, Grid, Parameter, Plan};
use crate::source::FileId;
pub use application::{Application, InputError};
pub use sandbox::Limits;

/// The form field that gives the date of filing: parameters are resolved on that day.
pub const FILING_DATE_FIELD: &str = "submitted_on";

/// What the rules may read of the plan, copied when the ruleset compiles so that an
/// evaluation needs nothing else (and the ruleset's hash covers all of it).
#[derive(Debug, Serialize)]
pub struct Env {
    pub plan: String,
    pub fund: String,
    pub fund_title: String,
    pub parameters: Vec<Parameter>,
    pub calls: Vec<CallWindow>,
    pub form: Form,
    pub grid: Option<Grid>,
    pub territories: Vec<TerritoryInfo>,
    #[serde(skip)]
    territory_index: FxHashMap<String, usize>,
}

/// A territory as the rules see it.
#[derive(Debug, Clone, Serialize)]
pub struct TerritoryInfo {
    pub id: String,
    pub name: String,
    pub level: String,
    pub code: Option<String>,
    pub parent: Option<usize>,
    pub flags: Vec<String>,
}

impl Env {
    fn new(plan: &Plan, fund: &Fund, parameters: Vec<Parameter>) -> Env {
        let pos: FxHashMap<&str, usize> = plan
            .territories
            .iter()
            .enumerate()
            .map(|(i, t)| (t.id.as_str(), i))
            .collect();
        let territories: Vec<TerritoryInfo> = plan
            .territories
            .iter()
            .map(|t| TerritoryInfo {
                id: t.id.to_string(),
                name: t.name.clone(),
                level: serde_json::to_value(t.level)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                code: t.code.clone(),
                parent: t.parent.as_ref().and_then(|p| pos.get(p.as_str()).copied()),
                flags: t.flags.iter().map(|f| f.to_string()).collect(),
            })
            .collect();
        let mut territory_index = FxHashMap::default();
        for (i, t) in territories.iter().enumerate() {
            territory_index.insert(t.id.clone(), i);
            if let Some(c) = &t.code {
                territory_index.entry(c.clone()).or_insert(i);
            }
        }
        Env {
            plan: plan.id.to_string(),
            fund: fund.id.to_string(),
            fund_title: fund.title.clone(),
            parameters,
            calls: fund.calls.clone(),
            form: fund.form.clone(),
            grid: fund.grid.clone(),
            territories,
            territory_index,
        }
    }

    /// A territory by code (communes) or id.
    pub fn territory(&self, key: &str) -> Option<(usize, &TerritoryInfo)> {
        self.territory_index
            .get(key)
            .map(|&i| (i, &self.territories[i]))
    }

    fn parameter(&self, id: &str) -> Option<&Parameter> {
        self.parameters.iter().find(|p| p.id.as_str() == id)
    }

    /// The territory and its ancestors, nearest first.
    fn lineage(&self, i: usize) -> impl Iterator<Item = &TerritoryInfo> {
        let mut cur = Some(i);
        // Bounded: the loader refuses loops in the hierarchy, and it has a few levels.
        (0..16).map_while(move |_| {
            let t = &self.territories[cur?];
            cur = t.parent;
            Some(t)
        })
    }
}

/// What a script declares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum DeclKind {
    Rule,
    /// Replaces the result of `overrides` when it applies; the highest priority wins.
    Exception {
        overrides: String,
        priority: i64,
    },
    /// Computes an automatic criterion of the selection grid.
    Grid,
}

/// A check declared by the script, in script order.
#[derive(Debug, Clone, Serialize)]
pub struct Declaration {
    pub id: String,
    pub article: String,
    pub message: String,
    #[serde(flatten)]
    pub kind: DeclKind,
    /// 1-based line of the declaration in the script.
    pub line: usize,
}

/// The result of one check (the three statuses of the fund's result format). A check that
/// does not concern the application passes with `applies: false`; one replaced by an
/// exception keeps its own result with `overridden_by`, and does not count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Pass,
    Fail,
    Missing,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Missing => "missing",
        }
    }
}

/// The three outcomes.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Eligible,
    Ineligible,
    Incomplete,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Eligible => "eligible",
            Outcome::Ineligible => "ineligible",
            Outcome::Incomplete => "incomplete",
        }
    }
}

/// One operation of the evaluation, in the order performed.
#[derive(Debug, Clone, Serialize)]
pub struct RuleResult {
    pub id: String,
    pub article: String,
    pub status: Status,
    pub message: String,
    /// `false` when the check does not concern this application (it passes without
    /// condition), or for an exception, when it does not apply.
    #[serde(skip_serializing_if = "is_true")]
    pub applies: bool,
    /// Absent fields or documents that made it `missing`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
    /// Data it read (indexes into [`Evaluation::inputs`], and into the explanation's `data`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<usize>,
    /// Parameters it applied (indexes into [`Evaluation::parameters`], and into the
    /// explanation's `parameters`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<usize>,
    /// For an exception that did not apply, or a rule replaced by one: the other rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overridden_by: Option<String>,
    #[serde(skip)]
    pub exception_applies: Option<bool>,
}

impl RuleResult {
    /// Whether it takes part in the outcome: it applies and no exception replaced it.
    pub fn counts(&self) -> bool {
        self.applies && self.overridden_by.is_none()
    }

    /// Its state in one word: `pass`, `fail`, `missing`, `not-applicable` or `overridden`.
    pub fn state(&self) -> &'static str {
        if self.overridden_by.is_some() {
            "overridden"
        } else if !self.applies {
            "not-applicable"
        } else {
            self.status.name()
        }
    }
}

fn is_true(b: &bool) -> bool {
    *b
}

/// A datum read by the rules, with its source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InputUse {
    /// `project.requested_amount`, or `territoire 13117`.
    pub name: String,
    pub value: String,
    /// Where it comes from, in French: « formulaire de demande », « référentiel ... ».
    pub source: String,
}

/// A parameter applied, with the value in force at the filing date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParamUse {
    pub id: String,
    pub label: String,
    pub value: Decimal,
    pub unit: ParamUnit,
    pub from: Date,
    pub until: Option<Date>,
    pub reference: String,
}

/// The score of an eligible application on the selection grid.
#[derive(Debug, Clone, Serialize)]
pub struct Score {
    /// Points of the criteria assessed automatically.
    pub points: Decimal,
    /// The most the application can reach once the instructors score their criteria.
    pub max_reachable: Decimal,
    pub total: Decimal,
    pub criteria: Vec<CriterionScore>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CriterionScore {
    pub id: String,
    pub label: String,
    pub max: Decimal,
    /// `None` while the instructors have not scored it.
    pub points: Option<Decimal>,
    pub assessed: Assessment,
}

/// The result of evaluating one application.
#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    pub outcome: Outcome,
    pub fund: String,
    pub filed_on: Date,
    pub rules: Vec<RuleResult>,
    /// Every absent field or document the outcome depends on.
    pub missing: Vec<String>,
    /// The data read; serialized once, in the explanation (same order, same indexes).
    #[serde(skip)]
    pub inputs: Vec<InputUse>,
    /// The parameters applied; serialized once, in the explanation (same order).
    #[serde(skip)]
    pub parameters: Vec<ParamUse>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<Score>,
    /// What the script printed (`print`, `debug`), for its authors.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub printed: Vec<String>,
    /// Content hash of the script, parameters, form and registries used.
    pub ruleset: String,
}

/// What an evaluation knows beyond the application.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context {
    /// Filing date when the application has none (the server sets it when filing); with
    /// neither, the application is refused.
    pub filed_on: Option<Date>,
    /// Other applications of the same applicant to the same call, already filed.
    pub other_filings: u32,
}

/// Why an application could not be evaluated.
#[derive(Debug, Clone, thiserror::Error, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum EvalError {
    /// The application does not fit the form: the client's mistake.
    #[error("invalid application: {0}")]
    Input(#[from] InputError),
    /// The script stopped on a limit (operations, time, depth, size).
    #[error("rules script {script} stopped{}: {limit}", rule.as_ref().map(|r| format!(" in rule `{r}`")).unwrap_or_default())]
    Limit {
        script: String,
        rule: Option<String>,
        limit: String,
    },
    /// The script failed (a bug in the rules, not the applicant's doing).
    #[error("rules script {script} failed{}: {message}", rule.as_ref().map(|r| format!(" in rule `{r}`")).unwrap_or_default())]
    Script {
        script: String,
        rule: Option<String>,
        message: String,
    },
}

/// A fund's compiled rules, shared between threads.
pub struct Ruleset {
    engine: rhai::Engine,
    ast: AST,
    pub env: Arc<Env>,
    pub declarations: Vec<Declaration>,
    /// Path of the script as shown to people.
    pub script: String,
    pub source: String,
    pub hash: String,
    limits: Limits,
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

// ---------------------------------------------------------------------------------------
// Evaluation state: the host functions reach it through a thread-local, so that one
// compiled ruleset serves every thread and each evaluation owns its trace.

#[derive(Debug, Default, PartialEq, Eq)]
enum Mode {
    #[default]
    Idle,
    Declare,
    Evaluate,
}

#[derive(Default)]
struct State {
    mode: Mode,
    env: Option<Arc<Env>>,
    app: Application,
    filed_on: Option<Date>,
    other_filings: u32,
    declared: Vec<(Declaration, rhai::Position)>,
    results: Vec<RuleResult>,
    grid: Vec<(String, Status)>,
    inputs: Vec<InputUse>,
    params: Vec<ParamUse>,
    printed: Vec<String>,
    current: Option<Current>,
    /// A parameter read that has no value on the filing date: the rules do not cover that
    /// date, which is the application's matter, not a fault of the script.
    out_of_period: Option<String>,
}

/// The check being run.
#[derive(Default)]
struct Current {
    id: String,
    missing: Vec<String>,
    inputs: Vec<usize>,
    params: Vec<usize>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

type Res<T> = Result<T, Box<EvalAltResult>>;

fn runtime(msg: impl Into<String>) -> Box<EvalAltResult> {
    EvalAltResult::ErrorRuntime(Dynamic::from(msg.into()), rhai::Position::NONE).into()
}

/// Marker thrown by `field` for an absent value; the check catches it as `missing`.
const MISSING: &str = "metroplan:missing";

fn with_state<T>(f: impl FnOnce(&mut State) -> T) -> T {
    STATE.with(|s| f(&mut s.borrow_mut()))
}

/// Host functions may read data only while a check runs.
fn in_check(what: &str) -> Res<()> {
    with_state(|s| match (&s.mode, &s.current) {
        (Mode::Evaluate, Some(_)) => Ok(()),
        (Mode::Declare, _) | (Mode::Evaluate, None) => Err(runtime(format!(
            "`{what}` reads data: call it inside a `rule`, `exception` or `grid` check"
        ))),
        (Mode::Idle, _) => Err(runtime("no evaluation is running")),
    })
}

fn note_input(s: &mut State, name: String, value: String, source: &str) {
    note_input_with(s, &name, || (value, source));
}

/// Records a datum read by the running check; its name and value are only built the first
/// time it is read in an evaluation.
fn note_input_with<'a>(s: &mut State, name: &str, value: impl FnOnce() -> (String, &'a str)) {
    let i = match s.inputs.iter().position(|x| x.name == name) {
        Some(i) => i,
        None => {
            let (value, source) = value();
            s.inputs.push(InputUse {
                name: name.to_string(),
                value,
                source: source.to_string(),
            });
            s.inputs.len() - 1
        }
    };
    if let Some(c) = &mut s.current
        && !c.inputs.contains(&i)
    {
        c.inputs.push(i);
    }
}

fn host_field(path: &str) -> Res<Dynamic> {
    in_check("field")?;
    with_state(|s| {
        let found = s.app.values.get(path).cloned();
        match found {
            Some(v) => {
                // The shown value is only built the first time the field is read.
                let known = s.inputs.iter().any(|x| x.name == path);
                let shown = if known {
                    String::new()
                } else {
                    s.app.shown(path).unwrap_or_default().to_string()
                };
                let shown = move || (shown, "formulaire de demande");
                note_input_with(s, path, shown);
                Ok(v)
            }
            None => {
                if let Some(c) = &mut s.current
                    && !c.missing.iter().any(|m| m == path)
                {
                    c.missing.push(path.to_string());
                }
                Err(runtime(MISSING))
            }
        }
    })
}

fn host_has(path: &str) -> Res<bool> {
    in_check("has")?;
    Ok(with_state(|s| s.app.values.contains_key(path)))
}

fn host_param(id: &str) -> Res<Dynamic> {
    in_check("param")?;
    with_state(|s| {
        let env = s
            .env
            .clone()
            .ok_or_else(|| runtime("no evaluation is running"))?;
        let Some(p) = env.parameter(id) else {
            return Err(runtime(format!("the fund has no parameter `{id}`")));
        };
        let day = s.filed_on.ok_or_else(|| runtime("no filing date"))?;
        let Some(v) = p.values.at(day) else {
            let msg = format!(
                "the fund's rules do not cover {day}: parameter `{id}` has no value in force that day"
            );
            s.out_of_period = Some(msg.clone());
            return Err(runtime(msg));
        };
        let i = note_param(&mut s.params, p, v);
        if let Some(c) = &mut s.current
            && !c.params.contains(&i)
        {
            c.params.push(i);
        }
        Ok(Dynamic::from_decimal(v.value))
    })
}

/// The index of parameter `p` (value `v` in force) among those applied, recording it the
/// first time.
fn note_param(
    params: &mut Vec<ParamUse>,
    p: &Parameter,
    v: &crate::model::Dated<Decimal>,
) -> usize {
    if let Some(i) = params.iter().position(|x| x.id == p.id.as_str()) {
        return i;
    }
    params.push(ParamUse {
        id: p.id.to_string(),
        label: p.label.clone(),
        value: v.value,
        unit: p.unit,
        from: v.from,
        until: v.until,
        reference: v.reference.clone(),
    });
    params.len() - 1
}

fn describe_territory(t: &TerritoryInfo) -> String {
    let mut v = t.name.clone();
    if !t.flags.is_empty() {
        let _ = write!(v, " ({})", t.flags.join(", "));
    }
    v
}

fn territory_input(s: &mut State, env: &Env, key: &str) -> Option<usize> {
    let (i, t) = env.territory(key)?;
    let mut shown = describe_territory(t);
    if let Some(p) = t.parent.map(|p| &env.territories[p]) {
        let _ = write!(shown, ", dans {}", describe_territory(p));
    }
    note_input(
        s,
        format!("territoire {key}"),
        shown,
        "référentiel des territoires du plan",
    );
    Some(i)
}

fn host_is_member_commune(code: &str) -> Res<bool> {
    in_check("is_member_commune")?;
    Ok(with_state(|s| {
        let env = s.env.clone().expect("set while evaluating");
        let found = territory_input(s, &env, code);
        if found.is_none() {
            note_input(
                s,
                format!("territoire {code}"),
                "absent du référentiel".into(),
                "référentiel des territoires du plan",
            );
        }
        found.is_some_and(|i| env.territories[i].level == "commune")
    }))
}

fn host_council_of(code: &str) -> Res<ImmutableString> {
    in_check("council_of")?;
    Ok(with_state(|s| {
        let env = s.env.clone().expect("set while evaluating");
        territory_input(s, &env, code)
            .and_then(|i| env.lineage(i).find(|t| t.level == "council"))
            .map(|t| t.id.as_str().into())
            .unwrap_or_default()
    }))
}

fn host_councils(codes: Array) -> Res<INT> {
    let mut seen: Vec<ImmutableString> = Vec::new();
    for c in codes {
        let code = c
            .into_immutable_string()
            .map_err(|t| runtime(format!("councils: a list of codes, not {t}")))?;
        let council = host_council_of(&code)?;
        if !council.is_empty() && !seen.contains(&council) {
            seen.push(council);
        }
    }
    Ok(seen.len() as INT)
}

fn host_has_flag(key: &str, flag: &str) -> Res<bool> {
    in_check("has_flag")?;
    Ok(with_state(|s| {
        let env = s.env.clone().expect("set while evaluating");
        territory_input(s, &env, key)
            .is_some_and(|i| env.lineage(i).any(|t| t.flags.iter().any(|f| f == flag)))
    }))
}

fn host_call_open_on(year: INT, day: Date) -> Res<bool> {
    in_check("call_open_on")?;
    Ok(with_state(|s| {
        let env = s.env.clone().expect("set while evaluating");
        let call = env.calls.iter().find(|c| i64::from(c.year) == year);
        let shown = call.map_or_else(
            || "aucun appel cette année".to_string(),
            |c| format!("du {} au {}", c.opens, c.closes),
        );
        note_input(
            s,
            format!("appel {year}"),
            shown,
            "calendrier des appels à projets du plan",
        );
        call.is_some_and(|c| c.opens <= day && day <= c.closes)
    }))
}

fn host_other_filings() -> Res<INT> {
    in_check("other_filings")?;
    Ok(with_state(|s| {
        let n = s.other_filings;
        note_input(
            s,
            "dossiers déjà déposés par ce porteur pour cet appel".into(),
            n.to_string(),
            "registre des dossiers du fonds",
        );
        INT::from(n)
    }))
}

// Date arithmetic saturates at jiff's bounds (years -9999 and 9999): a form accepts any date,
// and no rule should fail on one that only overflows.
fn add_months(d: Date, n: INT) -> Res<Date> {
    let n = i32::try_from(n.clamp(-240_000, 240_000)).unwrap_or(0);
    Ok(d.checked_add(jiff::Span::new().months(n))
        .unwrap_or(if n < 0 { Date::MIN } else { Date::MAX }))
}

fn add_days(d: Date, n: INT) -> Res<Date> {
    let n = n.clamp(-7_300_000, 7_300_000);
    Ok(d.checked_add(jiff::Span::new().days(n))
        .unwrap_or(if n < 0 { Date::MIN } else { Date::MAX }))
}

fn decimal_int(n: Decimal) -> Res<INT> {
    if n.fract() != Decimal::ZERO {
        return Err(runtime(format!("{n} is not a whole number")));
    }
    INT::try_from(n).map_err(|_| runtime(format!("{n} is too large")))
}

/// Runs a check closure: `true` passes, `false` fails, nothing means not applicable, and an
/// absent field read on the way makes it missing.
fn run_check(ctx: &NativeCallContext, f: &FnPtr) -> Res<(Option<Status>, Vec<String>)> {
    let r = f.call_within_context::<Dynamic>(ctx, ());
    let missing = with_state(|s| {
        s.current
            .as_mut()
            .map(|c| std::mem::take(&mut c.missing))
            .unwrap_or_default()
    });
    if !missing.is_empty() {
        return Ok((Some(Status::Missing), missing));
    }
    let v = r?;
    if v.is_unit() {
        return Ok((None, missing));
    }
    match v.as_bool() {
        Ok(true) => Ok((Some(Status::Pass), missing)),
        Ok(false) => Ok((Some(Status::Fail), missing)),
        Err(t) => Err(runtime(format!(
            "a check returns true, false or nothing, not a {t}"
        ))),
    }
}

fn begin(id: &str) {
    with_state(|s| {
        s.current = Some(Current {
            id: id.to_string(),
            ..Current::default()
        });
    });
}

fn declare(
    ctx: &NativeCallContext,
    id: &str,
    article: &str,
    message: &str,
    kind: DeclKind,
) -> bool {
    with_state(|s| {
        if s.mode == Mode::Declare {
            let pos = ctx.call_position();
            s.declared.push((
                Declaration {
                    id: id.to_string(),
                    article: article.to_string(),
                    message: message.to_string(),
                    kind,
                    line: pos.line().unwrap_or(0),
                },
                pos,
            ));
            true
        } else {
            false
        }
    })
}

fn finish(id: &str, article: &str, message: &str, status: Option<Status>, missing: Vec<String>) {
    with_state(|s| {
        let c = s.current.take().unwrap_or_default();
        s.results.push(RuleResult {
            id: id.to_string(),
            article: article.to_string(),
            status: status.unwrap_or(Status::Pass),
            message: message.to_string(),
            applies: status.is_some(),
            missing,
            inputs: c.inputs,
            parameters: c.params,
            overridden_by: None,
            exception_applies: None,
        });
    });
}

fn host_rule(
    ctx: NativeCallContext,
    id: ImmutableString,
    article: ImmutableString,
    message: ImmutableString,
    check: FnPtr,
) -> Res<()> {
    if declare(&ctx, &id, &article, &message, DeclKind::Rule) {
        return Ok(());
    }
    begin(&id);
    let (status, missing) = run_check(&ctx, &check)?;
    finish(&id, &article, &message, status, missing);
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn host_exception(
    ctx: NativeCallContext,
    id: ImmutableString,
    article: ImmutableString,
    message: ImmutableString,
    overrides: ImmutableString,
    priority: INT,
    applies: FnPtr,
    check: FnPtr,
) -> Res<()> {
    let kind = DeclKind::Exception {
        overrides: overrides.to_string(),
        priority,
    };
    if declare(&ctx, &id, &article, &message, kind) {
        return Ok(());
    }
    begin(&id);
    let run = || -> Res<(Option<Status>, Vec<String>, Option<bool>)> {
        let (when, missing) = run_check(&ctx, &applies)?;
        match when {
            Some(Status::Pass) => {
                let (st, m) = run_check(&ctx, &check)?;
                Ok((st, m, Some(true)))
            }
            Some(Status::Missing) => Ok((Some(Status::Missing), missing, None)),
            _ => Ok((None, missing, Some(false))),
        }
    };
    let (status, missing, applies) = run()?;
    finish(&id, &article, &message, status, missing);
    with_state(|s| {
        if let Some(r) = s.results.last_mut() {
            r.exception_applies = applies;
        }
    });
    Ok(())
}

fn host_grid(ctx: NativeCallContext, criterion: ImmutableString, check: FnPtr) -> Res<()> {
    if declare(&ctx, &criterion, "", "", DeclKind::Grid) {
        return Ok(());
    }
    begin(&criterion);
    let (status, _) = run_check(&ctx, &check)?;
    with_state(|s| {
        s.current = None;
        s.grid
            .push((criterion.to_string(), status.unwrap_or(Status::Fail)));
    });
    Ok(())
}

/// The engine with the host functions.
fn build_engine(limits: Limits) -> rhai::Engine {
    let mut e = sandbox::engine(limits);
    e.on_print(|m| with_state(|s| s.printed.push(m.to_string())));
    e.on_debug(|m, _, pos| with_state(|s| s.printed.push(format!("{pos}: {m}"))));
    e.register_type_with_name::<Date>("Date");
    e.register_fn("rule", host_rule);
    e.register_fn("exception", host_exception);
    e.register_fn("grid", host_grid);
    e.register_fn("field", |p: &str| host_field(p));
    e.register_fn("has", |p: &str| host_has(p));
    e.register_fn("param", |p: &str| host_param(p));
    e.register_fn("is_member_commune", |c: &str| host_is_member_commune(c));
    e.register_fn("council_of", |c: &str| host_council_of(c));
    e.register_fn("councils", host_councils);
    e.register_fn("has_flag", |c: &str, f: &str| host_has_flag(c, f));
    e.register_fn("call_open_on", host_call_open_on);
    e.register_fn("other_filings", host_other_filings);
    e.register_fn("add_months", add_months);
    e.register_fn("add_months", |d: Date, n: Decimal| {
        add_months(d, decimal_int(n)?)
    });
    e.register_fn("add_days", add_days);
    e.register_fn("add_days", |d: Date, n: Decimal| {
        add_days(d, decimal_int(n)?)
    });
    e.register_fn("year", |d: Date| INT::from(d.year()));
    e.register_fn("to_string", |d: Date| d.to_string());
    e.register_fn("to_debug", |d: Date| d.to_string());
    e.register_fn("==", |a: Date, b: Date| a == b);
    e.register_fn("!=", |a: Date, b: Date| a != b);
    e.register_fn("<", |a: Date, b: Date| a < b);
    e.register_fn("<=", |a: Date, b: Date| a <= b);
    e.register_fn(">", |a: Date, b: Date| a > b);
    e.register_fn(">=", |a: Date, b: Date| a >= b);
    e
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
        with_state(|s| {
            *s = State {
                mode: Mode::Declare,
                env: Some(env.clone()),
                ..State::default()
            }
        });
        let run = {
            let _clock = sandbox::start_clock(limits.wall_clock);
            engine.run_ast(&ast)
        };
        let declared = with_state(|s| std::mem::take(&mut s.declared));
        with_state(|s| *s = State::default());
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
        })
    }

    /// Evaluates one application.
    pub fn evaluate(
        &self,
        json: &serde_json::Value,
        ctx: Context,
    ) -> Result<Evaluation, EvalError> {
        let app = application::check(&self.env.form, json)?;
        self.evaluate_checked(app, ctx)
    }

    /// Evaluates an application already checked against the form.
    pub fn evaluate_checked(
        &self,
        app: Application,
        ctx: Context,
    ) -> Result<Evaluation, EvalError> {
        // The engine reads no clock: the caller gives the day of filing when the application
        // does not (the server sets it when filing; the command line takes `--as-of`).
        let Some(filed_on) = app.date(FILING_DATE_FIELD).or(ctx.filed_on) else {
            return Err(EvalError::Input(InputError {
                field: FILING_DATE_FIELD.to_string(),
                message: "no date of filing: the parameters in force depend on it".into(),
            }));
        };
        let form_missing: Vec<String> = app
            .missing_fields
            .iter()
            .chain(&app.missing_documents)
            .cloned()
            .collect();
        with_state(|s| {
            *s = State {
                mode: Mode::Evaluate,
                env: Some(self.env.clone()),
                app,
                filed_on: Some(filed_on),
                other_filings: ctx.other_filings,
                ..State::default()
            }
        });
        let run = {
            let _clock = sandbox::start_clock(self.limits.wall_clock);
            self.engine.run_ast(&self.ast)
        };
        let mut st = with_state(std::mem::take);
        if let Err(e) = run {
            if let Some(message) = st.out_of_period {
                return Err(EvalError::Input(InputError {
                    field: FILING_DATE_FIELD.to_string(),
                    message,
                }));
            }
            let rule = st.current.take().map(|c| c.id);
            return Err(self.error(&e, rule));
        }
        Ok(self.conclude(&mut st, filed_on, form_missing))
    }

    fn error(&self, e: &EvalAltResult, rule: Option<String>) -> EvalError {
        let l = &self.limits;
        let limit = match root(e) {
            EvalAltResult::ErrorTerminated(..) => Some(format!(
                "time limit of {} ms reached",
                l.wall_clock.as_millis()
            )),
            EvalAltResult::ErrorTooManyOperations(..) => {
                Some(format!("operation limit of {} reached", l.max_operations))
            }
            EvalAltResult::ErrorStackOverflow(..) => Some(format!(
                "call depth limit of {} reached (endless recursion?)",
                l.max_call_levels
            )),
            EvalAltResult::ErrorDataTooLarge(what, ..) => Some(format!("size limit: {what}")),
            EvalAltResult::ErrorTooManyVariables(..) => Some("variable limit reached".into()),
            _ => None,
        };
        match limit {
            Some(limit) => EvalError::Limit {
                script: self.script.clone(),
                rule,
                limit,
            },
            None => EvalError::Script {
                script: self.script.clone(),
                rule,
                message: root_message(e),
            },
        }
    }

    fn conclude(&self, st: &mut State, filed_on: Date, form_missing: Vec<String>) -> Evaluation {
        let mut rules = Vec::with_capacity(st.results.len() + 2);
        // The form's own requirements come first: they are checked before any rule.
        let (fields, docs): (Vec<String>, Vec<String>) = form_missing
            .iter()
            .cloned()
            .partition(|m| !m.starts_with("documents."));
        let form_check =
            |id: &str, article: String, message: &str, missing: Vec<String>| RuleResult {
                id: id.into(),
                article,
                status: if missing.is_empty() {
                    Status::Pass
                } else {
                    Status::Missing
                },
                message: message.into(),
                applies: true,
                missing,
                inputs: Vec::new(),
                parameters: Vec::new(),
                overridden_by: None,
                exception_applies: None,
            };
        rules.push(form_check(
            "formulaire-champs",
            "Formulaire de demande".into(),
            "Les champs obligatoires du formulaire sont renseignés",
            fields,
        ));
        if !self.env.form.documents.is_empty() {
            let article = self
                .env
                .form
                .documents
                .iter()
                .find_map(|d| d.reference.clone())
                .unwrap_or_else(|| "Formulaire de demande".into());
            rules.push(form_check(
                "formulaire-pieces",
                article,
                "Les pièces requises sont jointes",
                docs,
            ));
        }
        let script_rules = std::mem::take(&mut st.results);
        let base = rules.len();
        rules.extend(script_rules);
        // Exceptions that apply replace their rule; the highest priority wins.
        let mut winner: FxHashMap<String, (i64, usize)> = FxHashMap::default();
        for (i, r) in rules.iter().enumerate().skip(base) {
            if r.exception_applies == Some(true)
                && let Some(DeclKind::Exception {
                    overrides,
                    priority,
                }) = self.declaration(&r.id).map(|d| &d.kind)
            {
                let e = winner.entry(overrides.clone()).or_insert((*priority, i));
                if *priority > e.0 {
                    *e = (*priority, i);
                }
            }
        }
        for (target, (_, i)) in &winner {
            let by = rules[*i].id.clone();
            for r in rules.iter_mut() {
                if r.id == *target {
                    r.overridden_by = Some(by.clone());
                }
            }
            // A lower-priority exception that also applied is replaced too.
            for (j, r) in rules.iter_mut().enumerate().skip(base) {
                let same_target = matches!(
                    self.declaration(&r.id).map(|d| &d.kind),
                    Some(DeclKind::Exception { overrides, .. }) if overrides == target
                );
                if j != *i && r.exception_applies == Some(true) && same_target {
                    r.overridden_by = Some(by.clone());
                }
            }
        }
        let mut missing: Vec<String> = Vec::new();
        for r in rules.iter().filter(|r| r.counts()) {
            if r.status == Status::Missing {
                for m in &r.missing {
                    if !missing.contains(m) {
                        missing.push(m.clone());
                    }
                }
            }
        }
        let counted = || rules.iter().filter(|r| r.counts());
        let outcome = if counted().any(|r| r.status == Status::Fail) {
            Outcome::Ineligible
        } else if counted().any(|r| r.status == Status::Missing) {
            Outcome::Incomplete
        } else {
            Outcome::Eligible
        };
        let score = (outcome == Outcome::Eligible)
            .then(|| self.score(st, filed_on))
            .flatten();
        Evaluation {
            outcome,
            fund: self.env.fund.clone(),
            filed_on,
            rules,
            missing,
            inputs: std::mem::take(&mut st.inputs),
            parameters: std::mem::take(&mut st.params),
            score,
            printed: std::mem::take(&mut st.printed),
            ruleset: self.hash.clone(),
        }
    }

    /// Points of the automatic criteria; the instructors' criteria stay open.
    fn score(&self, st: &mut State, filed_on: Date) -> Option<Score> {
        let grid = self.env.grid.as_ref()?;
        let mut points = Decimal::ZERO;
        let mut open = Decimal::ZERO;
        let mut criteria = Vec::new();
        for c in &grid.criteria {
            let p = self.env.parameter(c.points.as_str())?;
            let v = p.values.at(filed_on)?;
            let max = v.value;
            note_param(&mut st.params, p, v);
            let got = match (c.assessed, &c.field) {
                (Assessment::Reviewer, _) => None,
                (Assessment::Automatic, Some(f)) => {
                    let yes = st.app.values.get(f.as_str()).and_then(|v| v.as_bool().ok());
                    if let Some(shown) = st.app.shown(f) {
                        let shown = shown.to_string();
                        note_input(st, f.clone(), shown, "formulaire de demande");
                    }
                    Some(if yes == Some(true) {
                        max
                    } else {
                        Decimal::ZERO
                    })
                }
                (Assessment::Automatic, None) => {
                    let yes = st
                        .grid
                        .iter()
                        .find(|(id, _)| id == c.id.as_str())
                        .is_some_and(|(_, s)| *s == Status::Pass);
                    Some(if yes { max } else { Decimal::ZERO })
                }
            };
            match got {
                Some(g) => points += g,
                None => open += max,
            }
            criteria.push(CriterionScore {
                id: c.id.to_string(),
                label: c.label.clone(),
                max,
                points: got,
                assessed: c.assessed,
            });
        }
        Some(Score {
            points,
            max_reachable: points + open,
            total: grid.total,
            criteria,
        })
    }

    pub fn declaration(&self, id: &str) -> Option<&Declaration> {
        self.declarations.iter().find(|d| d.id == id)
    }

    /// The ids of the checks that have a pass/fail result (rules and exceptions).
    pub fn rule_ids(&self) -> impl Iterator<Item = &str> {
        self.declarations
            .iter()
            .filter(|d| d.kind != DeclKind::Grid)
            .map(|d| d.id.as_str())
    }
}

fn root(e: &EvalAltResult) -> &EvalAltResult {
    match e {
        EvalAltResult::ErrorInFunctionCall(_, _, inner, _) => root(inner),
        other => other,
    }
}

fn root_message(e: &EvalAltResult) -> String {
    let r = root(e);
    let pos = r.position();
    let msg = match r {
        EvalAltResult::ErrorRuntime(v, _) => v.to_string(),
        other => other.to_string(),
    };
    if pos.is_none() || msg.contains(&format!("{pos}")) {
        msg
    } else {
        format!("{msg} ({pos})")
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
