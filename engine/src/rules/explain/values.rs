//! The data an evaluation read, as the applicant reads them: the form's labels, values in
//! French (amounts, dates, oui/non, choice labels, commune names), never a field path.

use std::str::FromStr;

use rust_decimal::Decimal;

use crate::french::{amount_fr, bool_fr, date_fr, list_fr, money_fr};
use crate::model::FieldType;
use crate::rules::Env;

/// What a datum is called and what it says, in French.
pub(super) struct Shown {
    pub label: String,
    pub value: String,
}

/// `name` is what the evaluation recorded: a form field's path, `territoire <code>`,
/// `appel <year>`, or a sentence; `raw` its value as recorded.
pub(super) fn shown(env: &Env, name: &str, raw: &str) -> Shown {
    if let Some(f) = env.form.fields.iter().find(|f| f.path == name) {
        return Shown {
            label: f.label.clone(),
            value: field_value(env, f.ty, f.choices.as_ref().map(|c| c.as_str()), raw),
        };
    }
    if let Some(code) = name.strip_prefix("territoire ") {
        let (label, _) = territory(env, code);
        return Shown {
            label,
            value: territory_detail(env, code),
        };
    }
    if let Some(year) = name.strip_prefix("appel ") {
        return Shown {
            label: format!("Appel à projets {year}"),
            value: env
                .calls
                .iter()
                .find(|c| c.year.to_string() == year)
                .map_or_else(
                    || "aucun appel à projets cette année-là".to_string(),
                    |c| format!("du {} au {}", date_fr(c.opens), date_fr(c.closes)),
                ),
        };
    }
    let mut label = name.to_string();
    if let Some(first) = label.get(..1) {
        label = first.to_uppercase() + &label[1..];
    }
    Shown {
        label,
        value: raw.to_string(),
    }
}

/// A form field's value in French, from the recorded text of its value.
pub(super) fn field_value(env: &Env, ty: FieldType, choices: Option<&str>, raw: &str) -> String {
    let items = || raw.split(", ").filter(|s| !s.is_empty()).map(str::trim);
    match ty {
        FieldType::Money => Decimal::from_str(raw).map_or(raw.to_string(), money_fr),
        // A four-digit number (a year, a count) is written without a separator.
        FieldType::Integer => match Decimal::from_str(raw) {
            Ok(d) if d.abs() < Decimal::from(10_000) => raw.to_string(),
            Ok(d) => amount_fr(d),
            Err(_) => raw.to_string(),
        },
        FieldType::Boolean => match raw {
            "true" => bool_fr(true).into(),
            "false" => bool_fr(false).into(),
            other => other.into(),
        },
        FieldType::Date => raw
            .parse::<jiff::civil::Date>()
            .map_or(raw.to_string(), date_fr),
        FieldType::Choice => choice_label(env, choices, raw),
        FieldType::Choices => {
            let v: Vec<String> = items().map(|i| choice_label(env, choices, i)).collect();
            list_fr(&v)
        }
        FieldType::Commune => territory(env, raw).0,
        FieldType::Communes => {
            let v: Vec<String> = items().map(|c| territory(env, c).0).collect();
            list_fr(&v)
        }
        FieldType::Documents => {
            let v: Vec<String> = items().map(|d| document_label(env, d)).collect();
            list_fr(&v)
        }
        _ => raw.to_string(),
    }
}

fn choice_label(env: &Env, set: Option<&str>, id: &str) -> String {
    env.form
        .choices
        .iter()
        .filter(|c| set.is_none_or(|s| c.id.as_str() == s))
        .flat_map(|c| &c.options)
        .find(|o| o.id.as_str() == id)
        .map_or_else(|| id.to_string(), |o| o.label.clone())
}

pub(super) fn document_label(env: &Env, id: &str) -> String {
    env.form
        .documents
        .iter()
        .find(|d| d.id.as_str() == id)
        .map_or_else(|| id.to_string(), |d| d.label.clone())
}

/// A territory's name, and whether the plan knows it.
fn territory(env: &Env, code: &str) -> (String, bool) {
    match env.territory(code) {
        Some((_, t)) => (t.name.clone(), true),
        None => (
            format!("la commune de code {code}, hors du référentiel du plan"),
            false,
        ),
    }
}

fn flags_fr(env: &Env, flags: &[String]) -> Vec<String> {
    flags
        .iter()
        .map(|f| {
            env.flag_labels
                .iter()
                .find(|(id, _)| id == f)
                .map_or_else(|| f.clone(), |(_, l)| l.to_lowercase())
        })
        .collect()
}

/// "commune membre de la Métropole, dans le conseil de territoire Marseille Provence ;
/// plan local de lutte contre les discriminations"
fn territory_detail(env: &Env, code: &str) -> String {
    let Some((_, t)) = env.territory(code) else {
        return "absente du référentiel des territoires du plan".into();
    };
    let mut out = match t.level.as_str() {
        "commune" => "commune du territoire du plan".to_string(),
        "council" => "conseil de territoire".to_string(),
        "neighbourhood" => "quartier prioritaire".to_string(),
        _ => "territoire du plan".to_string(),
    };
    if let Some(p) = t.parent.map(|p| &env.territories[p]) {
        out.push_str(&format!(", rattachée à {}", p.name));
        if !p.flags.is_empty() {
            out.push_str(&format!(" ({})", list_fr(&flags_fr(env, &p.flags))));
        }
    }
    if t.flags.is_empty() {
        out.push_str(" ; aucune mention particulière");
    } else {
        out.push_str(&format!(" ; {}", list_fr(&flags_fr(env, &t.flags))));
    }
    out
}

/// What a missing item is called: a field's label, a document's label.
pub(super) fn missing_label(env: &Env, path: &str) -> String {
    if let Some(f) = env.form.fields.iter().find(|f| f.path == path) {
        return f.label.clone();
    }
    if let Some(id) = path.strip_prefix("documents.") {
        return document_label(env, id);
    }
    if env.form.documents.iter().any(|d| d.id.as_str() == path) {
        return document_label(env, path);
    }
    path.to_string()
}
