//! An application checked against its fund's form before any rule runs: every value has the
//! type and the choices the form declares, or the application is refused with the field
//! named. What is absent is not an error here: it is recorded, and makes the outcome
//! `incomplete` if the form or a rule needs it.

use std::sync::Arc;

use jiff::civil::Date;
use rhai::{Array, Dynamic};
use rust_decimal::Decimal;
use rustc_hash::FxHashMap;
use serde_json::Value;

use crate::model::FieldType;
use crate::model::{Form, Requirement};

/// The most items a list field may have: a form is filled by people, and the rules' own
/// limits (operations, sizes) must not be reachable from an application.
pub const MAX_LIST: usize = 1_000;

/// A value of the wrong type, outside its choices, or a field the form does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize)]
#[error("`{field}`: {message}")]
pub struct InputError {
    /// Dotted path of the field (`project.requested_amount`), or `(application)`.
    pub field: String,
    pub message: String,
}

/// The largest amount a form takes: a thousand billion euros.
pub const MAX_MONEY: Decimal = Decimal::from_parts(3_567_587_328, 232, 0, false, 0);

fn bad(field: &str, message: impl Into<String>) -> InputError {
    InputError {
        field: field.to_string(),
        message: message.into(),
    }
}

/// The application's values by dotted path, converted for the rules.
#[derive(Debug, Clone, Default)]
pub struct Application {
    pub(crate) values: FxHashMap<Arc<str>, Dynamic>,
    /// The values as given, for the explanation.
    pub(crate) shown: FxHashMap<Arc<str>, String>,
    /// Required fields that are absent (dotted paths).
    pub missing_fields: Vec<String>,
    /// Required documents that are not attached (`documents.<id>`).
    pub missing_documents: Vec<String>,
}

impl Application {
    pub fn get(&self, path: &str) -> Option<&Dynamic> {
        self.values.get(path)
    }

    /// The value of `path` as the applicant gave it, for people to read.
    pub fn shown(&self, path: &str) -> Option<&str> {
        self.shown.get(path).map(String::as_str)
    }

    /// The date of filing, if given and valid.
    pub fn date(&self, path: &str) -> Option<Date> {
        self.values
            .get(path)
            .and_then(|d| d.clone().try_cast::<Date>())
    }
}

/// Checks `json` against `form` and converts it.
pub fn check(form: &Form, json: &Value) -> Result<Application, InputError> {
    let Value::Object(_) = json else {
        return Err(bad("(application)", "an application is a JSON object"));
    };
    // Every key of the application must be a field of the form (or lead to one).
    let mut leaves = Vec::new();
    collect_leaves(json, String::new(), &mut leaves)?;
    for path in &leaves {
        if !form.fields.iter().any(|f| f.path == *path) {
            let prefix_of_field = form
                .fields
                .iter()
                .any(|f| f.path.starts_with(&format!("{path}.")));
            let msg = if prefix_of_field {
                "must be an object".to_string()
            } else {
                let known: Vec<&str> = form.fields.iter().map(|f| f.path.as_str()).collect();
                match crate::suggest::closest(path, known.iter().copied()).first() {
                    Some(s) => format!("the form has no such field (did you mean `{s}`?)"),
                    None => "the form has no such field".to_string(),
                }
            };
            return Err(bad(path, msg));
        }
    }
    let mut app = Application::default();
    for f in &form.fields {
        let Some(v) = lookup(json, &f.path).filter(|v| !v.is_null()) else {
            continue;
        };
        let choices = f
            .choices
            .as_ref()
            .and_then(|c| form.choices.iter().find(|s| s.id == *c));
        let in_choices =
            |s: &str| choices.is_none_or(|c| c.options.iter().any(|o| o.id.as_str() == s));
        let path = f.path.as_str();
        let value: Dynamic = match f.ty {
            FieldType::Text | FieldType::LongText => match v {
                Value::String(s) if s.trim().is_empty() => continue,
                Value::String(s) => s.as_str().into(),
                _ => return Err(bad(path, "must be a text")),
            },
            FieldType::Integer => match v.as_i64() {
                Some(n) => Dynamic::from_int(n),
                None => return Err(bad(path, "must be a whole number")),
            },
            // A year as a number or as the text a form posts ("2021").
            FieldType::Year => {
                let n = match v {
                    Value::String(s) if s.len() == 4 => s.parse::<i64>().ok(),
                    other => other.as_i64(),
                };
                match n {
                    Some(n) if (1000..=9999).contains(&n) => Dynamic::from_int(n),
                    _ => return Err(bad(path, "must be a year of four digits, e.g. 2021")),
                }
            }
            FieldType::Commune => match v.as_str() {
                Some(s) if is_commune_code(s) => s.into(),
                Some(s) => {
                    return Err(bad(
                        path,
                        format!("`{s}` is not a commune code (5 characters, INSEE)"),
                    ));
                }
                None => return Err(bad(path, "must be a commune code (a text)")),
            },
            FieldType::Money => {
                let d = match v {
                    Value::Number(n) => n.to_string().parse::<Decimal>().ok(),
                    Value::String(s) => s.trim().parse::<Decimal>().ok(),
                    _ => None,
                };
                match d {
                    // Beyond it, the cents overflow and the rules' products may too.
                    Some(d) if d > MAX_MONEY => {
                        return Err(bad(path, "is beyond 1 000 000 000 000 (euros)"));
                    }
                    Some(d) if d >= Decimal::ZERO => Dynamic::from_decimal(d.normalize()),
                    Some(_) => return Err(bad(path, "must not be negative")),
                    None => return Err(bad(path, "must be an amount in euros, e.g. 1200.50")),
                }
            }
            FieldType::Boolean => match v {
                Value::Bool(b) => Dynamic::from_bool(*b),
                _ => return Err(bad(path, "must be true or false")),
            },
            FieldType::Date => match v.as_str().map(str::parse::<Date>) {
                Some(Ok(d)) => Dynamic::from(d),
                _ => return Err(bad(path, "must be a date written YYYY-MM-DD")),
            },
            FieldType::Choice => match v.as_str() {
                Some(s) if in_choices(s) => s.into(),
                Some(s) => return Err(bad(path, not_a_choice(s, choices))),
                None => return Err(bad(path, "must be one of the form's choices (a text)")),
            },
            FieldType::Siret => match v.as_str() {
                Some(s) if s.len() == 14 && s.bytes().all(|b| b.is_ascii_digit()) => s.into(),
                _ => return Err(bad(path, "must be a SIRET number: 14 digits")),
            },
            FieldType::Choices | FieldType::Communes | FieldType::Documents => {
                let Some(items) = v.as_array() else {
                    return Err(bad(path, "must be a list"));
                };
                if items.len() > MAX_LIST {
                    return Err(bad(
                        path,
                        format!("has {} items: at most {MAX_LIST}", items.len()),
                    ));
                }
                let mut out = Array::with_capacity(items.len());
                let mut seen = rustc_hash::FxHashSet::default();
                for (k, it) in items.iter().enumerate() {
                    let Some(s) = it.as_str() else {
                        return Err(bad(&format!("{path}[{k}]"), "must be a text"));
                    };
                    let ok = match f.ty {
                        FieldType::Communes => is_commune_code(s),
                        FieldType::Documents => form.documents.iter().any(|d| d.id.as_str() == s),
                        _ => in_choices(s),
                    };
                    if !ok {
                        let msg = match f.ty {
                            FieldType::Communes => {
                                format!("`{s}` is not a commune code (5 characters, INSEE)")
                            }
                            FieldType::Documents => {
                                let ids: Vec<&str> =
                                    form.documents.iter().map(|d| d.id.as_str()).collect();
                                format!("`{s}` is not a document of this form ({})", ids.join(", "))
                            }
                            _ => not_a_choice(s, choices),
                        };
                        return Err(bad(&format!("{path}[{k}]"), msg));
                    }
                    if !seen.insert(s) {
                        return Err(bad(
                            &format!("{path}[{k}]"),
                            format!("`{s}` is listed twice"),
                        ));
                    }
                    out.push(s.into());
                }
                Dynamic::from_array(out)
            }
        };
        let path: Arc<str> = Arc::from(path);
        app.shown.insert(path.clone(), shown(v));
        app.values.insert(path, value);
    }
    // Requirements, now that conditions can be read.
    let holds = |req: &Requirement, app: &Application| match req {
        Requirement::Optional => false,
        Requirement::Always => true,
        // A choice's id, or a yes/no answer as `true`/`false`.
        Requirement::When { field, values } => app
            .values
            .get(field.as_str())
            .and_then(|v| match v.as_bool() {
                Ok(b) => Some(b.to_string()),
                Err(_) => v.clone().into_string().ok(),
            })
            .is_some_and(|v| values.iter().any(|x| x.as_str() == v.as_str())),
    };
    for f in &form.fields {
        if holds(&f.requirement, &app) && !app.values.contains_key(f.path.as_str()) {
            app.missing_fields.push(f.path.clone());
        }
    }
    let attached: Vec<String> = form
        .fields
        .iter()
        .filter(|f| f.ty == FieldType::Documents)
        .filter_map(|f| app.values.get(f.path.as_str()))
        .filter_map(|v| v.clone().into_typed_array::<rhai::ImmutableString>().ok())
        .flatten()
        .map(|s| s.to_string())
        .collect();
    for d in &form.documents {
        if holds(&d.requirement, &app) && !attached.iter().any(|a| *a == *d.id.as_str()) {
            app.missing_documents.push(format!("documents.{}", d.id));
        }
    }
    Ok(app)
}

/// An INSEE commune code: five characters, digits (`2A`/`2B` for Corsica).
fn is_commune_code(s: &str) -> bool {
    s.len() == 5
        && s.bytes()
            .all(|b| b.is_ascii_digit() || b == b'A' || b == b'B')
}

fn not_a_choice(s: &str, choices: Option<&crate::model::ChoiceSet>) -> String {
    let ids: Vec<&str> = choices
        .map(|c| c.options.iter().map(|o| o.id.as_str()).collect())
        .unwrap_or_default();
    match crate::suggest::closest(s, ids.iter().copied()).first() {
        Some(best) => format!("`{s}` is not one of the choices (did you mean `{best}`?)"),
        None => format!("`{s}` is not one of the choices: {}", ids.join(", ")),
    }
}

fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(shown).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

fn lookup<'a>(json: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(json, |v, k| v.get(k))
}

/// The dotted paths of the leaves. A key that is empty or holds a dot is refused: it would
/// make a path that names no field, or another field (`{"project.title": …}`).
fn collect_leaves(v: &Value, prefix: String, out: &mut Vec<String>) -> Result<(), InputError> {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                if k.is_empty() || k.contains('.') {
                    let at = if prefix.is_empty() {
                        "(application)"
                    } else {
                        prefix.as_str()
                    };
                    return Err(bad(
                        at,
                        format!(
                            "{k:?} is not a field name: a name is not empty and has no dot (write nested objects)"
                        ),
                    ));
                }
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                collect_leaves(v, p, out)?;
            }
        }
        _ => out.push(prefix),
    }
    Ok(())
}
