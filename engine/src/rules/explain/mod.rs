//! The explanation owed to an applicant when an algorithm contributed to a decision
//! (code des relations entre le public et l'administration, articles L311-3-1 and
//! R311-3-1-1 to R311-3-1-2), written for the person it concerns: the verdict in one
//! sentence, each condition not met or missing in plain French with the applicant's figures
//! set against the parameters and the article, the conditions met, the grid's points; then
//! the four items of R311-3-1-2 (the degree and mode of the algorithm's contribution, true
//! to what happened; the data and their sources; the parameters as applied; the operations)
//! and the mention of R311-3-1-1 naming the service, the CADA and the right to a review.
//! Rule ids, field paths and the ruleset's hash are kept for tools (JSON) and for a separate
//! technical section, never in what the person reads first.
//!
//! Every sentence comes from the fund's templates (`crate::documents`): the plan's own
//! (`regles/<rule-id>.j2` for why a rule is not met), the engine's defaults otherwise.

pub mod text;
mod values;

use serde::Serialize;
use serde_json::{Map, Value, json};

pub use self::text::text_fr;
use self::values::{missing_label, shown};
use super::{Evaluation, Outcome, ParamUse, Ruleset, Status};
pub use crate::french::{amount_fr, unit_value_fr};
use crate::french::{date_fr, money_fr};

/// Where the decision stands when the explanation is written: item 1 of R311-3-1-2 says
/// what the algorithm's result did, from the steps actually taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// No decision yet: the result is an aid to the instruction.
    Pending,
    /// A decision was taken; `human`: whether a person took a step that led to it.
    Decided { human: bool },
}

fn stage_name<S: serde::Serializer>(st: &Stage, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(match st {
        Stage::Pending => "pending",
        Stage::Decided { human: true } => "decided-by-a-person",
        Stage::Decided { human: false } => "decided-automatically",
    })
}

/// The explanation of one evaluation.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    /// The verdict in one sentence.
    pub verdict: String,
    /// Each condition not met, or that could not be checked for lack of data, in French.
    pub unmet: Vec<Finding>,
    /// The conditions met, in French.
    pub met: Vec<Finding>,
    /// The selection grid, criterion by criterion.
    pub grid: Vec<GridLine>,
    /// What is missing, by label.
    pub missing: Vec<String>,
    /// 1° the degree and mode of contribution of the algorithmic processing.
    pub contribution: String,
    /// 2° the data processed and their sources.
    pub data: Vec<Datum>,
    /// 3° the processing parameters and their weighting, as applied to the applicant.
    pub parameters: Vec<AppliedParameter>,
    /// 4° the operations performed, in French. In JSON they are the evaluation's `rules`.
    #[serde(skip)]
    pub operations: Vec<Operation>,
    /// The mention owed on the decision itself (article R311-3-1-1).
    pub notice: String,
    /// `pending`, `decided-by-a-person` or `decided-automatically`.
    #[serde(serialize_with = "stage_name")]
    pub stage: Stage,
    pub ruleset: String,
}

/// A condition as the applicant reads it.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub rule: String,
    pub article: String,
    pub status: Status,
    /// The sentence: the condition, the applicant's figures, the parameter, the calculation.
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct GridLine {
    pub criterion: String,
    pub label: String,
    /// "20 points sur 20", "0 point sur 15", "à apprécier par le comité de sélection (sur 20 points)".
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Datum {
    /// The field's path, or what the rules read (for tools).
    pub name: String,
    /// What the applicant reads: the form's label.
    pub label: String,
    /// The value in French.
    pub value: String,
    pub source: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AppliedParameter {
    pub id: String,
    pub label: String,
    pub value: String,
    /// « du 1er janvier 2020 au 31 décembre 2021 » or « depuis le 1er janvier 2022 ».
    pub period: String,
    pub reference: String,
    /// The rules that applied it.
    pub used_by: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Operation {
    pub order: usize,
    pub rule: String,
    #[serde(skip)]
    pub article: String,
    #[serde(skip)]
    pub description: String,
    /// « remplie », « non remplie », « information manquante », ...
    pub result: String,
    pub detail: String,
}

/// A parameter's value as people read it.
pub fn value_fr(p: &ParamUse) -> String {
    unit_value_fr(p.unit, p.value)
}

pub fn period_fr(p: &ParamUse) -> String {
    match p.until {
        Some(u) => format!("du {} au {}", date_fr(p.from), date_fr(u)),
        None => format!("depuis le {}", date_fr(p.from)),
    }
}

/// A check left aside: the règlement sets no value of its parameter on the filing date, and
/// another condition already decides.
const NOT_EVALUATED: &str = "non examinée, le règlement ne fixant pas de valeur à cette date";

fn result_fr(r: &super::RuleResult) -> &'static str {
    if r.not_evaluated.is_some() {
        return NOT_EVALUATED;
    }
    if r.overridden_by.is_some() {
        return "remplacée par une dérogation";
    }
    if !r.applies {
        return "sans objet pour ce dossier";
    }
    match r.status {
        Status::Pass => "remplie",
        Status::Fail => "non remplie",
        Status::Missing => "information manquante",
    }
}

pub fn outcome_fr(o: Outcome) -> &'static str {
    match o {
        Outcome::Eligible => "recevable",
        Outcome::Ineligible => "irrecevable",
        Outcome::Incomplete => "incomplet",
    }
}

fn outcome_name(o: Outcome) -> &'static str {
    match o {
        Outcome::Eligible => "eligible",
        Outcome::Ineligible => "ineligible",
        Outcome::Incomplete => "incomplete",
    }
}

/// What the templates read of the fund's administration (empty texts when the fund declares
/// none: W005 warned at load).
fn authority_facts(rules: &Ruleset) -> Value {
    administration_facts(rules.env.administration.as_ref())
}

fn administration_facts(a: Option<&crate::model::Administration>) -> Value {
    match a {
        Some(a) => serde_json::to_value(a).unwrap_or(Value::Null),
        None => json!({
            "authority": "l'autorité qui attribue les aides",
            "siret": "", "service": "le service instructeur", "address": "son adresse postale",
            "email": "son adresse électronique", "phone": "", "place": "", "signatory": "",
            "court": "tribunal administratif compétent", "website": null
        }),
    }
}

fn render(rules: &Ruleset, name: &str, facts: &Value) -> String {
    // The defaults render with the facts built here; a plan's own template that reads a
    // fact we do not give is shown as what it is rather than hidden.
    rules
        .templates
        .render(name, facts)
        .map(|s| crate::french::typeset(s.trim()))
        .unwrap_or_else(|e| e.to_string())
}

/// The appeal routes of a decision on `fund` (its `voies-de-recours` template), for a page
/// that states the decision beside its letter.
pub fn appeal_routes_fr(fund: &crate::model::Fund) -> String {
    fund.templates
        .render(
            "voies-de-recours",
            &json!({ "authority": administration_facts(fund.administration.as_ref()) }),
        )
        .map(|s| crate::french::typeset(s.trim()))
        .unwrap_or_else(|e| e.to_string())
}

/// The R311-3-1-1 mention, in French.
pub fn notice_fr(rules: &Ruleset) -> String {
    notice_for(rules, Stage::Pending)
}

/// The R311-3-1-1 mention at `stage` (on a decision letter: whether a person took part).
pub fn notice_at(rules: &Ruleset, stage: Stage) -> String {
    notice_for(rules, stage)
}

fn notice_for(rules: &Ruleset, stage: Stage) -> String {
    let human = !matches!(stage, Stage::Decided { human: false });
    let decided = matches!(stage, Stage::Decided { .. });
    render(
        rules,
        "explication-mention",
        &json!({ "human": human, "decided": decided, "fund": { "title": rules.env.fund_title }, "authority": authority_facts(rules) }),
    )
}

/// Builds the explanation of `e` before any decision.
pub fn explain(rules: &Ruleset, e: &Evaluation) -> Explanation {
    explain_at(rules, e, Stage::Pending)
}

/// Builds the explanation of `e` at `stage`.
pub fn explain_at(rules: &Ruleset, e: &Evaluation, stage: Stage) -> Explanation {
    let env = &rules.env;
    let data: Vec<Datum> = e
        .inputs
        .iter()
        .map(|i| {
            let s = shown(env, &i.name, &i.value);
            Datum {
                name: i.name.clone(),
                label: s.label,
                value: s.value,
                source: i.source.clone(),
            }
        })
        .collect();
    let parameters: Vec<AppliedParameter> = e
        .parameters
        .iter()
        .enumerate()
        .map(|(k, p)| AppliedParameter {
            id: p.id.clone(),
            label: p.label.clone(),
            value: value_fr(p),
            period: period_fr(p),
            reference: p.reference.clone(),
            used_by: e
                .rules
                .iter()
                .filter(|r| r.parameters.contains(&k))
                .map(|r| r.id.clone())
                .collect(),
        })
        .collect();
    // What a rule's sentence may read: every datum and parameter of the evaluation, in
    // French (`fields`, `params`) and as numbers for a calculation (`numbers`).
    let mut fields = Map::new();
    let mut numbers = Map::new();
    for (i, d) in e.inputs.iter().zip(&data) {
        fields.insert(i.name.clone(), Value::String(d.value.clone()));
        numbers.insert(i.name.clone(), Value::String(i.value.clone()));
    }
    let mut params = Map::new();
    for p in &e.parameters {
        params.insert(p.id.clone(), Value::String(value_fr(p)));
        numbers.insert(p.id.clone(), Value::String(p.value.normalize().to_string()));
    }
    let mut unmet = Vec::new();
    let mut met = Vec::new();
    for r in e
        .rules
        .iter()
        .filter(|r| r.counts() && r.not_evaluated.is_none())
    {
        let text = match r.status {
            Status::Pass => r.message.clone(),
            Status::Fail => {
                let name = format!("regle/{}", r.id);
                if rules.templates.has(&name) {
                    render(
                        rules,
                        &name,
                        &json!({ "fields": fields, "params": params, "numbers": numbers }),
                    )
                } else {
                    generic_unmet(r, &data, &parameters, e)
                }
            }
            Status::Missing => {
                let labels: Vec<String> = r.missing.iter().map(|m| missing_label(env, m)).collect();
                format!(
                    "{} : cette condition n'a pas pu être vérifiée, il manque : {}.",
                    r.message,
                    crate::french::list_fr(&labels)
                )
            }
        };
        let f = Finding {
            rule: r.id.clone(),
            article: r.article.clone(),
            status: r.status,
            text: crate::french::typeset(&text),
        };
        if r.status == Status::Pass {
            met.push(f);
        } else {
            unmet.push(f);
        }
    }
    let missing: Vec<String> = e.missing.iter().map(|m| missing_label(env, m)).collect();
    let grid = e
        .score
        .iter()
        .flat_map(|s| &s.criteria)
        .map(|c| GridLine {
            criterion: c.id.clone(),
            label: c.label.clone(),
            text: match c.points {
                Some(p) => format!("{} sur {}", points_fr(p), amount_fr(c.max)),
                None => format!(
                    "à apprécier par le comité de sélection (jusqu'à {})",
                    points_fr(c.max)
                ),
            },
        })
        .collect();
    let unmet_count = unmet.iter().filter(|f| f.status == Status::Fail).count();
    let verdict = render(
        rules,
        "explication-verdict",
        &json!({
            "outcome": outcome_name(e.outcome),
            "unmet_count": unmet_count,
            "missing_count": missing.len().max(1),
        }),
    );
    let (human, decided) = match stage {
        Stage::Pending => (false, false),
        Stage::Decided { human } => (human, true),
    };
    let contribution = render(
        rules,
        "explication-contribution",
        &json!({
            "checks": e.rules.iter().filter(|r| r.counts() && r.not_evaluated.is_none()).count(),
            "outcome_fr": outcome_fr(e.outcome),
            "human": human,
            "decided": decided,
        }),
    );
    let operations = e
        .rules
        .iter()
        .enumerate()
        .map(|(k, r)| Operation {
            order: k + 1,
            rule: r.id.clone(),
            article: r.article.clone(),
            description: r.message.clone(),
            result: result_fr(r).to_string(),
            detail: technical_detail(r, e),
        })
        .collect();
    Explanation {
        verdict,
        unmet,
        met,
        grid,
        missing,
        contribution,
        data,
        parameters,
        operations,
        notice: notice_for(rules, stage),
        stage,
        ruleset: e.ruleset.clone(),
    }
}

fn points_fr(p: rust_decimal::Decimal) -> String {
    unit_value_fr(crate::model::ParamUnit::Points, p)
}

/// A rule not met, with no sentence of the plan's: the condition, then the applicant's data
/// and the parameters it read, in French.
fn generic_unmet(
    r: &super::RuleResult,
    data: &[Datum],
    parameters: &[AppliedParameter],
    e: &Evaluation,
) -> String {
    let mut out = format!("{} : cette condition n'est pas remplie.", r.message);
    let read: Vec<String> = r
        .inputs
        .iter()
        .filter_map(|&i| data.get(i))
        .map(|d| format!("{} : {}", d.label, d.value))
        .collect();
    if !read.is_empty() {
        out.push_str(&format!(" Votre dossier : {}.", read.join(" ; ")));
    }
    let used: Vec<String> = r
        .parameters
        .iter()
        .filter_map(|&i| parameters.get(i).zip(e.parameters.get(i)))
        .map(|(p, u)| format!("{} : {} ({})", p.label, p.value, u.reference))
        .collect();
    if !used.is_empty() {
        out.push_str(&format!(" Règle appliquée : {}.", used.join(" ; ")));
    }
    out
}

/// For the technical section: the rule's id, and the paths and parameter ids it read.
fn technical_detail(r: &super::RuleResult, e: &Evaluation) -> String {
    let mut parts = Vec::new();
    if !r.inputs.is_empty() {
        let names: Vec<&str> = r
            .inputs
            .iter()
            .filter_map(|&i| e.inputs.get(i))
            .map(|i| i.name.as_str())
            .collect();
        parts.push(format!("données : {}", names.join(", ")));
    }
    if !r.parameters.is_empty() {
        let names: Vec<&str> = r
            .parameters
            .iter()
            .filter_map(|&i| e.parameters.get(i))
            .map(|p| p.id.as_str())
            .collect();
        parts.push(format!("paramètres : {}", names.join(", ")));
    }
    if !r.missing.is_empty() {
        parts.push(format!("manque : {}", r.missing.join(", ")));
    }
    if let Some(by) = &r.overridden_by {
        parts.push(format!("remplacée par {by}"));
    }
    parts.join(" ; ")
}

/// The amount figures of a letter or a page, in French (one home for `8 000 €`).
pub fn euros(d: rust_decimal::Decimal) -> String {
    money_fr(d)
}
