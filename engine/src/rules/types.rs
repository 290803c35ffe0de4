//! What rules declare and what an evaluation gives: declarations, results, outcomes, the
//! data and parameters read, the score, and the errors.

use jiff::civil::Date;
use rust_decimal::Decimal;
use serde::Serialize;

use super::application::InputError;
use crate::model::{Assessment, ParamUnit};

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
    /// Why the check was not evaluated: it applies a parameter that has no value in force on
    /// the filing date. It does not count; the outcome stands only when another check
    /// already makes the application ineligible (otherwise the evaluation is an error).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_evaluated: Option<String>,
    #[serde(skip)]
    pub exception_applies: Option<bool>,
}

impl RuleResult {
    /// Whether it takes part in the outcome: it applies and no exception replaced it.
    pub fn counts(&self) -> bool {
        self.applies && self.overridden_by.is_none()
    }

    /// Its state in one word: `pass`, `fail`, `missing`, `not-applicable`, `not-evaluated`
    /// or `overridden`.
    pub fn state(&self) -> &'static str {
        if self.not_evaluated.is_some() {
            "not-evaluated"
        } else if self.overridden_by.is_some() {
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
    /// The filing date; `None` when neither the application nor the caller gave one (the
    /// filing date is then listed missing and the outcome is at best incomplete).
    pub filed_on: Option<Date>,
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
    /// neither, the filing date is missing data: every check applying a parameter is
    /// `missing`, and the outcome is at best incomplete.
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
