//! The application form generated from the fund's form in the plan: one labelled control
//! per field, choices as selects or checkboxes, documents as file inputs; and the reverse,
//! from posted fields to the application's JSON, checked field by field in French.

use maud::{Markup, html};
use metroplan_engine::model::FieldType;
use metroplan_engine::model::{Fund, Plan, Requirement, TerritoryLevel};
use serde_json::{Map, Value, json};

use crate::service::set_by_server;

/// The HTML name of a field's control.
pub fn control_name(path: &str) -> String {
    format!("f.{path}")
}

/// The HTML id of a field's control (ids may not contain dots for CSS selectors' sake).
fn control_id(path: &str) -> String {
    format!("champ-{}", path.replace('.', "-"))
}

pub fn piece_name(kind: &str) -> String {
    format!("piece.{kind}")
}

fn lookup<'v>(data: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(data, |v, k| v.get(k))
}

fn set(data: &mut Map<String, Value>, path: &str, value: Value) {
    let mut keys: Vec<&str> = path.split('.').collect();
    let last = keys.pop().unwrap_or(path);
    let mut at = data;
    for k in keys {
        let entry = at
            .entry(k.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        at = entry.as_object_mut().expect("made an object just above");
    }
    at.insert(last.to_string(), value);
}

/// When a field or piece is required, in French.
pub fn requirement_fr(fund: &Fund, r: &Requirement) -> Option<String> {
    match r {
        Requirement::Optional => None,
        Requirement::Always => Some("obligatoire".into()),
        Requirement::When { field, values } => {
            let f = fund.form.fields.iter().find(|f| f.path == *field);
            let labels: Vec<String> = values
                .iter()
                .map(|v| choice_label(fund, f.and_then(|f| f.choices.as_ref()), v.as_str()))
                .collect();
            Some(format!(
                "obligatoire si « {} » est : {}",
                f.map_or(field.as_str(), |f| f.label.as_str()),
                labels.join(", ")
            ))
        }
    }
}

pub fn choice_label(fund: &Fund, set: Option<&metroplan_engine::model::Id>, id: &str) -> String {
    set.and_then(|s| fund.form.choices.iter().find(|c| c.id == *s))
        .and_then(|c| c.options.iter().find(|o| o.id.as_str() == id))
        .map_or_else(|| id.to_string(), |o| o.label.clone())
}

fn communes(plan: &Plan) -> Vec<(&str, &str)> {
    let mut v: Vec<(&str, &str)> = plan
        .territories
        .iter()
        .filter(|t| t.level == TerritoryLevel::Commune)
        .filter_map(|t| t.code.as_deref().map(|c| (c, t.name.as_str())))
        .collect();
    v.sort_by(|a, b| a.1.cmp(b.1));
    v
}

/// An amount as the applicant wrote it back: "8 000", "9 000,50" (the server reads it again).
fn money_text(v: Option<&Value>) -> String {
    let t = text_of(v);
    t.parse::<rust_decimal::Decimal>()
        .map_or(t, metroplan_engine::french::amount_fr)
}

fn text_of(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

/// The form's controls, filled with `data`, with the error of each field beside it.
pub fn fields(
    plan: &Plan,
    fund: &Fund,
    data: &Value,
    errors: &[(String, String)],
    defaults: &[(&str, String)],
) -> Markup {
    let err = |p: &str| errors.iter().find(|(f, _)| f == p).map(|(_, m)| m.as_str());
    html! {
        @for f in fund.form.fields.iter().filter(|f| !set_by_server(&f.path, f.ty)) {
            @let name = control_name(&f.path);
            @let id = control_id(&f.path);
            @let req = requirement_fr(fund, &f.requirement);
            @let required = matches!(f.requirement, Requirement::Always);
            @let value = lookup(data, &f.path).cloned().or_else(|| defaults.iter().find(|(p, _)| *p == f.path).map(|(_, v)| json!(v)));
            @let error = err(&f.path);
            @let help_id = format!("{id}-aide");
            @let err_id = format!("{id}-erreur");
            @let described = {
                let mut d = Vec::new();
                if req.is_some() || f.help.is_some() { d.push(help_id.clone()); }
                if error.is_some() { d.push(err_id.clone()); }
                d.join(" ")
            };
            @let described = (!described.is_empty()).then_some(described);
            @match f.ty {
                FieldType::Boolean | FieldType::Choices => {
                    fieldset.champ.groupe aria-describedby=[described.as_deref()] {
                        legend { (f.label) }
                        (help(&help_id, req.as_deref(), f.help.as_deref()))
                        (field_error(&err_id, error))
                        @if f.ty == FieldType::Boolean {
                            @let b = value.as_ref().and_then(Value::as_bool);
                            div.options.en-ligne {
                                label { input type="radio" name=(name) value="oui" checked[b == Some(true)] required[required]; " Oui" }
                                label { input type="radio" name=(name) value="non" checked[b == Some(false)]; " Non" }
                            }
                        } @else {
                            @let chosen: Vec<String> = value.as_ref().and_then(Value::as_array).map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect()).unwrap_or_default();
                            div.options {
                                @for o in f.choices.as_ref().and_then(|s| fund.form.choices.iter().find(|c| c.id == *s)).map(|c| c.options.as_slice()).unwrap_or_default() {
                                    label { input type="checkbox" name=(name) value=(o.id) checked[chosen.iter().any(|c| c == o.id.as_str())]; " " (o.label) }
                                }
                            }
                        }
                    }
                }
                _ => {
                    div.champ {
                        label for=(id) { (f.label) }
                        (help(&help_id, req.as_deref(), f.help.as_deref()))
                        (field_error(&err_id, error))
                        @match f.ty {
                            FieldType::LongText => {
                                textarea id=(id) name=(name) rows="5" required[required] aria-describedby=[described.as_deref()] aria-invalid=[error.map(|_| "true")] { (text_of(value.as_ref())) }
                            }
                            FieldType::Choice => {
                                @let current = text_of(value.as_ref());
                                select id=(id) name=(name) required[required] aria-describedby=[described.as_deref()] aria-invalid=[error.map(|_| "true")] {
                                    option value="" { "Choisir…" }
                                    @for o in f.choices.as_ref().and_then(|s| fund.form.choices.iter().find(|c| c.id == *s)).map(|c| c.options.as_slice()).unwrap_or_default() {
                                        option value=(o.id) selected[current == o.id.as_str()] { (o.label) }
                                    }
                                }
                            }
                            FieldType::Communes => {
                                @let chosen: Vec<String> = value.as_ref().and_then(Value::as_array).map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect()).unwrap_or_default();
                                select id=(id) name=(name) multiple size="8" required[required] aria-describedby=[described.as_deref()] aria-invalid=[error.map(|_| "true")] {
                                    @for (code, n) in communes(plan) {
                                        option value=(code) selected[chosen.iter().any(|c| c == code)] { (n) " (" (code) ")" }
                                    }
                                }
                            }
                            _ => {
                                @let (ty, mode, pattern) = match f.ty {
                                    FieldType::Integer => ("number", None, None),
                                    // No `pattern`: the browser would refuse "12 000" with a bubble
                                    // of its own; the server reads it and says what is wrong.
                                    FieldType::Money => ("text", Some("decimal"), None),
                                    FieldType::Date => ("date", None, None),
                                    FieldType::Siret => ("text", Some("numeric"), None::<&str>),
                                    _ => ("text", None, None),
                                };
                                @let shown = if f.ty == FieldType::Money { money_text(value.as_ref()) } else { text_of(value.as_ref()) };
                                input id=(id) name=(name) type=(ty) inputmode=[mode] pattern=[pattern] value=(shown) required[required] aria-describedby=[described.as_deref()] aria-invalid=[error.map(|_| "true")];
                            }
                        }
                    }
                }
            }
        }
    }
}

fn help(id: &str, req: Option<&str>, help: Option<&str>) -> Markup {
    html! {
        @if req.is_some() || help.is_some() {
            p.aide id=(id) {
                @if let Some(h) = help { (h) " " }
                @if let Some(r) = req { "(" (r) ")" }
            }
        }
    }
}

fn field_error(id: &str, error: Option<&str>) -> Markup {
    html! { @if let Some(e) = error { p.erreur-champ id=(id) { (e) } } }
}

/// File inputs for the fund's pieces.
pub fn pieces(fund: &Fund, have: &[String]) -> Markup {
    html! {
        @for d in &fund.form.documents {
            @let id = format!("piece-{}", d.id);
            div.champ {
                label for=(id) { (d.label) }
                p.aide id={(id) "-aide"} {
                    "PDF, PNG, JPEG ou WebP. "
                    @if let Some(r) = requirement_fr(fund, &d.requirement) { "(" (r) ")" }
                    @if have.iter().any(|h| h == d.id.as_str()) { " Déjà fournie : un nouveau fichier la remplace." }
                }
                input id=(id) name=(piece_name(d.id.as_str())) type="file" accept="application/pdf,image/png,image/jpeg,image/webp" aria-describedby={(id) "-aide"};
            }
        }
    }
}

/// The application's JSON from posted fields, or the errors by field path.
pub fn data_from(
    plan: &Plan,
    fund: &Fund,
    posted: &[(String, String)],
) -> Result<Value, Vec<(String, String)>> {
    let mut data = Map::new();
    let mut errors = Vec::new();
    for f in fund
        .form
        .fields
        .iter()
        .filter(|f| !set_by_server(&f.path, f.ty))
    {
        let name = control_name(&f.path);
        let values: Vec<&str> = posted
            .iter()
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
            .collect();
        let one = values.first().copied();
        let choice_ok = |v: &str| {
            f.choices
                .as_ref()
                .and_then(|s| fund.form.choices.iter().find(|c| c.id == *s))
                .is_some_and(|c| c.options.iter().any(|o| o.id.as_str() == v))
        };
        let mut bad = |m: &str| errors.push((f.path.clone(), m.to_string()));
        let value = match f.ty {
            FieldType::Choices | FieldType::Communes => {
                if values.is_empty() {
                    continue;
                }
                let known: Vec<&str> = if f.ty == FieldType::Communes {
                    communes(plan).into_iter().map(|(c, _)| c).collect()
                } else {
                    Vec::new()
                };
                if values.iter().any(|v| {
                    if f.ty == FieldType::Communes {
                        !known.contains(v)
                    } else {
                        !choice_ok(v)
                    }
                }) {
                    bad("Choisissez parmi les propositions de la liste.");
                    continue;
                }
                json!(values)
            }
            _ => {
                let Some(v) = one else { continue };
                match f.ty {
                    FieldType::Boolean => match v {
                        "oui" => json!(true),
                        "non" => json!(false),
                        _ => {
                            bad("Répondez par oui ou par non.");
                            continue;
                        }
                    },
                    FieldType::Integer => match v.parse::<i64>() {
                        Ok(n) => json!(n),
                        Err(_) => {
                            bad("Indiquez un nombre entier.");
                            continue;
                        }
                    },
                    // What people type: "12 000", "9 000,50", "12 000 €" (one reading, in
                    // engine::french).
                    FieldType::Money => match metroplan_engine::french::parse_amount_fr(v) {
                        Some(d) if d >= rust_decimal::Decimal::ZERO && d.scale() <= 2 => {
                            json!(d.to_string())
                        }
                        _ => {
                            bad("Indiquez un montant en euros, par exemple 12 000 ou 9 000,50.");
                            continue;
                        }
                    },
                    FieldType::Date => match v.parse::<jiff::civil::Date>() {
                        Ok(d) => json!(d.to_string()),
                        Err(_) => {
                            bad("Indiquez une date (AAAA-MM-JJ).");
                            continue;
                        }
                    },
                    FieldType::Siret => match metroplan_engine::french::normalize_siret(v) {
                        Some(digits) => json!(digits),
                        None => {
                            bad("Le SIRET compte exactement 14 chiffres.");
                            continue;
                        }
                    },
                    FieldType::Choice => {
                        if choice_ok(v) {
                            json!(v)
                        } else {
                            bad("Choisissez parmi les propositions de la liste.");
                            continue;
                        }
                    }
                    _ => json!(v),
                }
            }
        };
        set(&mut data, &f.path, value);
    }
    if errors.is_empty() {
        Ok(Value::Object(data))
    } else {
        Err(errors)
    }
}

/// The application's fields as label and shown value, in the form's order.
pub fn summary(plan: &Plan, fund: &Fund, data: &Value) -> Vec<(String, String)> {
    let names: Vec<(&str, &str)> = communes(plan);
    fund.form
        .fields
        .iter()
        .filter_map(|f| {
            let v = lookup(data, &f.path)?;
            let shown = match (f.ty, v) {
                (FieldType::Boolean, Value::Bool(b)) => if *b { "oui" } else { "non" }.to_string(),
                (FieldType::Choice, Value::String(s)) => choice_label(fund, f.choices.as_ref(), s),
                (FieldType::Choices, Value::Array(a)) => a
                    .iter()
                    .filter_map(Value::as_str)
                    .map(|s| choice_label(fund, f.choices.as_ref(), s))
                    .collect::<Vec<_>>()
                    .join(", "),
                (FieldType::Communes, Value::Array(a)) => a
                    .iter()
                    .filter_map(Value::as_str)
                    .map(|c| {
                        names
                            .iter()
                            .find(|(code, _)| *code == c)
                            .map_or_else(|| c.to_string(), |(_, n)| format!("{n} ({c})"))
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                (FieldType::Documents, _) => return None,
                (FieldType::Money, v) => super::layout::euros_str(&text_of(Some(v))),
                (FieldType::Date, Value::String(s)) => s
                    .parse::<jiff::civil::Date>()
                    .map_or_else(|_| s.clone(), metroplan_engine::french::date_fr),
                (_, Value::Array(a)) => a
                    .iter()
                    .map(|x| text_of(Some(x)))
                    .collect::<Vec<_>>()
                    .join(", "),
                (_, v) => text_of(Some(v)),
            };
            Some((f.label.clone(), shown))
        })
        .collect()
}
