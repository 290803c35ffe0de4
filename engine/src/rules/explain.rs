//! The explanation owed to an applicant when an algorithm contributed to a decision
//! (code des relations entre le public et l'administration, articles L311-3-1 and
//! R311-3-1-1 to R311-3-1-2): the degree and mode of the algorithm's contribution, the
//! data used and their sources, the parameters applied and their weight, and the
//! operations performed. Built from the evaluation's trace, never written by hand.

use std::fmt::Write as _;

use rust_decimal::Decimal;
use serde::Serialize;

use super::{Evaluation, Outcome, ParamUse, Ruleset, Status};
use crate::model::ParamUnit;

/// The four items of article R311-3-1-2, for one evaluation.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    /// 1° the degree and mode of contribution of the algorithmic processing.
    pub contribution: String,
    /// 2° the data processed and their sources.
    pub data: Vec<Datum>,
    /// 3° the processing parameters and their weighting, as applied to the applicant.
    pub parameters: Vec<AppliedParameter>,
    /// 4° the operations performed by the processing, in French. In JSON they are the
    /// evaluation's `rules` (id, article, condition, status, missing data, parameters), which
    /// are not repeated here.
    #[serde(skip)]
    pub operations: Vec<Operation>,
    /// The mention owed on the decision itself (article R311-3-1-1).
    pub notice: String,
    pub ruleset: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Datum {
    pub name: String,
    pub value: String,
    pub source: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AppliedParameter {
    pub id: String,
    pub label: String,
    pub value: String,
    /// « du 2020-01-01 au 2021-12-31 » or « depuis le 2022-01-01 ».
    pub period: String,
    pub reference: String,
    /// The rules that applied it.
    pub used_by: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Operation {
    pub order: usize,
    pub rule: String,
    /// The article and the condition are the rule's (`rules[].article`, `rules[].message`
    /// in JSON, where they are not repeated).
    #[serde(skip)]
    pub article: String,
    #[serde(skip)]
    pub description: String,
    /// « satisfait », « non satisfait », « information manquante », ...
    pub result: String,
    pub detail: String,
}

/// A parameter's value as people read it.
pub fn value_fr(p: &ParamUse) -> String {
    unit_value_fr(p.unit, p.value)
}

/// A value in a parameter's unit, as people read it: `12 000 €`, `80 %`, `12 mois`.
pub fn unit_value_fr(unit: ParamUnit, value: Decimal) -> String {
    match unit {
        ParamUnit::Currency => format!("{} €", amount_fr(value)),
        ParamUnit::Ratio => format!("{} %", amount_fr(value * Decimal::ONE_HUNDRED)),
        ParamUnit::Days => format!("{} jours", amount_fr(value)),
        ParamUnit::Months => format!("{} mois", amount_fr(value)),
        ParamUnit::Count => amount_fr(value),
        ParamUnit::Points => format!("{} points", amount_fr(value)),
    }
}

/// `12000.5` → `12 000,50`; `12000` → `12 000`.
pub fn amount_fr(v: Decimal) -> String {
    let v = v.normalize();
    let s = if v.fract().is_zero() {
        v.trunc().to_string()
    } else {
        format!("{:.2}", v)
    };
    let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
    let (sign, digits) = int.strip_prefix('-').map_or(("", int), |d| ("-", d));
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push('\u{202f}');
        }
        grouped.push(c);
    }
    if frac.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped},{frac}")
    }
}

pub fn period_fr(p: &ParamUse) -> String {
    match p.until {
        Some(u) => format!("du {} au {u}", p.from),
        None => format!("depuis le {}", p.from),
    }
}

fn result_fr(r: &super::RuleResult) -> &'static str {
    if r.overridden_by.is_some() {
        return "remplacé par une dérogation";
    }
    if !r.applies {
        return "sans objet pour ce dossier";
    }
    match r.status {
        Status::Pass => "satisfait",
        Status::Fail => "non satisfait",
        Status::Missing => "information manquante",
    }
}

/// The R311-3-1-1 mention, in French.
pub fn notice_fr(rules: &Ruleset) -> String {
    format!(
        "La recevabilité de votre demande au « {} » a été examinée par un traitement algorithmique \
(article L311-3-1 du code des relations entre le public et l'administration). Ce traitement \
vérifie automatiquement les conditions du règlement du fonds ; il ne prend pas la décision, qui \
revient à l'autorité compétente après instruction. Vous pouvez obtenir communication des règles \
de ce traitement et de la manière dont elles ont été appliquées à votre dossier (article \
R311-3-1-2) en le demandant au service instructeur.",
        rules.env.fund_title
    )
}

/// Builds the explanation of `e`, evaluated by `rules`.
pub fn explain(rules: &Ruleset, e: &Evaluation) -> Explanation {
    let contribution = format!(
        "Contrôle automatique de recevabilité : le traitement applique {} règles du fonds « {} » \
et conclut que le dossier est {}. Ce résultat est une aide à l'instruction : une personne \
instruit le dossier et l'autorité compétente décide.",
        e.rules.len(),
        rules.env.fund_title,
        outcome_fr(e.outcome)
    );
    let data = e
        .inputs
        .iter()
        .map(|i| Datum {
            name: i.name.clone(),
            value: i.value.clone(),
            source: i.source.clone(),
        })
        .collect();
    let parameters = e
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
    let operations = e
        .rules
        .iter()
        .enumerate()
        .map(|(k, r)| {
            let mut detail = String::new();
            if !r.missing.is_empty() {
                let _ = write!(detail, "manque : {}", r.missing.join(", "));
            }
            if let Some(by) = &r.overridden_by {
                let _ = write!(detail, "remplacée par la dérogation {by}");
            }
            if r.exception_applies == Some(false) {
                detail.push_str("la dérogation ne s'applique pas à ce dossier");
            }
            let used: Vec<String> = r
                .parameters
                .iter()
                .filter_map(|&i| e.parameters.get(i))
                .map(|p| format!("{} = {}", p.id, value_fr(p)))
                .collect();
            if !used.is_empty() {
                if !detail.is_empty() {
                    detail.push_str(" ; ");
                }
                let _ = write!(detail, "paramètres : {}", used.join(", "));
            }
            Operation {
                order: k + 1,
                rule: r.id.clone(),
                article: r.article.clone(),
                description: r.message.clone(),
                result: result_fr(r).to_string(),
                detail,
            }
        })
        .collect();
    Explanation {
        contribution,
        data,
        parameters,
        operations,
        notice: notice_fr(rules),
        ruleset: e.ruleset.clone(),
    }
}

pub fn outcome_fr(o: Outcome) -> &'static str {
    match o {
        Outcome::Eligible => "recevable",
        Outcome::Ineligible => "irrecevable",
        Outcome::Incomplete => "incomplet",
    }
}

/// The explanation as a French text fit to send to the applicant.
pub fn text_fr(x: &Explanation, e: &Evaluation) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "Résultat du contrôle automatique : dossier {} (déposé le {}).",
        outcome_fr(e.outcome),
        e.filed_on
            .map_or_else(|| "?".to_string(), |d| d.to_string())
    );
    if !e.missing.is_empty() {
        let _ = writeln!(o, "Éléments manquants : {}.", e.missing.join(", "));
    }
    let _ = writeln!(
        o,
        "\n1. Contribution du traitement algorithmique\n{}",
        x.contribution
    );
    let _ = writeln!(o, "\n2. Données utilisées et leurs sources");
    for d in &x.data {
        let _ = writeln!(o, "- {} : {} (source : {})", d.name, d.value, d.source);
    }
    let _ = writeln!(o, "\n3. Paramètres appliqués à votre dossier");
    if x.parameters.is_empty() {
        let _ = writeln!(o, "- aucun");
    }
    for p in &x.parameters {
        let _ = writeln!(
            o,
            "- {} : {} (en vigueur {} ; {}){}",
            p.label,
            p.value,
            p.period,
            p.reference,
            if p.used_by.is_empty() {
                String::new()
            } else {
                format!(" ; utilisé par : {}", p.used_by.join(", "))
            }
        );
    }
    let _ = writeln!(o, "\n4. Opérations effectuées, dans l'ordre");
    for op in &x.operations {
        let _ = writeln!(
            o,
            "{}. [{}] {} ({}) : {}{}",
            op.order,
            op.article,
            op.description,
            op.rule,
            op.result,
            if op.detail.is_empty() {
                String::new()
            } else {
                format!(" — {}", op.detail)
            }
        );
    }
    if let Some(s) = &e.score {
        let _ = writeln!(
            o,
            "\nGrille de sélection : {} points sur {} attribués automatiquement ; jusqu'à {} après l'appréciation des instructeurs.",
            amount_fr(s.points),
            amount_fr(s.total),
            amount_fr(s.max_reachable)
        );
    }
    let _ = writeln!(o, "\n{}", x.notice);
    let _ = writeln!(o, "Version des règles : {}", x.ruleset);
    o
}
