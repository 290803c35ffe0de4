//! A fund's form as a JSON Schema (draft 2020-12, the dialect of OpenAPI 3.1), served at
//! `/api/plans/{plan}/funds/{fund}/form.schema.json`: what an application's `data` may hold.
//!
//! The schema is what `rules::application::check` accepts, never more: a value the schema
//! admits is not refused for its type (the schema may be stricter, e.g. on amounts written in
//! exponent notation). Fields the form requires are `required`, so the schema describes a
//! complete application; a draft or an incomplete file may lack them (the server records them
//! as missing, it does not refuse the body).

use metroplan_engine::model::FieldType;
use metroplan_engine::model::{Field, Form, Fund, Requirement};
use metroplan_engine::rules::application::MAX_LIST;
use serde_json::{Map, Value, json};

use crate::service::set_by_server;

/// The JSON Schema of `fund`'s form.
pub fn form_schema(plan: &str, fund: &Fund) -> Value {
    let form = &fund.form;
    let mut root = Map::new();
    root.insert(
        "$schema".into(),
        json!("https://json-schema.org/draft/2020-12/schema"),
    );
    root.insert("title".into(), json!(fund.title));
    root.insert(
        "description".into(),
        json!(format!(
            "The `data` of an application to the fund `{}` of the plan `{plan}`. Required fields make a complete application: a draft may lack them. Pieces are uploaded to /api/applications/{{id}}/documents/{{kind}}; `x-documents` lists their kinds.",
            fund.id
        )),
    );
    root.extend(object());
    let mut conditions = Vec::new();
    for f in &form.fields {
        let at: Vec<&str> = f.path.split('.').collect();
        insert(&mut root, &at, field_schema(form, f));
        match &f.requirement {
            Requirement::Always if !set_by_server(&f.path, f.ty) => require(&mut root, &at),
            Requirement::When { field, values } if !set_by_server(&f.path, f.ty) => {
                let yes_no = form
                    .fields
                    .iter()
                    .any(|x| x.path == *field && x.ty == FieldType::Boolean);
                conditions.push(when(field, values, yes_no, &f.path));
            }
            _ => {}
        }
    }
    if !conditions.is_empty() {
        root.insert("allOf".into(), Value::Array(conditions));
    }
    root.insert(
        "x-documents".into(),
        form.documents
            .iter()
            .map(|d| {
                json!({"id": d.id, "title": d.label, "requirement": d.requirement, "reference": d.reference})
            })
            .collect(),
    );
    Value::Object(root)
}

fn object() -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("type".into(), json!("object"));
    // `check` refuses a field the form does not have.
    m.insert("additionalProperties".into(), json!(false));
    m.insert("properties".into(), json!({}));
    m
}

/// Puts `leaf` at the dotted path `at`, creating the objects on the way.
fn insert(node: &mut Map<String, Value>, at: &[&str], leaf: Value) {
    let (first, rest) = at.split_first().expect("a field path is not empty");
    let props = node
        .get_mut("properties")
        .and_then(Value::as_object_mut)
        .expect("an object schema has properties");
    if rest.is_empty() {
        props.insert((*first).into(), leaf);
    } else {
        let child = props
            .entry(*first)
            .or_insert_with(|| Value::Object(object()));
        if let Value::Object(child) = child {
            insert(child, rest, leaf);
        }
    }
}

/// Marks the dotted path `at` required, and the objects that lead to it.
fn require(node: &mut Map<String, Value>, at: &[&str]) {
    let Some((first, rest)) = at.split_first() else {
        return;
    };
    let required = node
        .entry("required")
        .or_insert_with(|| json!([]))
        .as_array_mut()
        .expect("required is a list");
    if !required.iter().any(|r| r == first) {
        required.push(json!(first));
    }
    if let Some(Value::Object(child)) = node.get_mut("properties").and_then(|p| p.get_mut(*first)) {
        require(child, rest);
    }
}

/// `path` is required when the choice at `field` is one of `values`.
/// `yes_no`: the condition is on a boolean field, whose values are `true` and `false`.
fn when(field: &str, values: &[metroplan_engine::model::Id], yes_no: bool, path: &str) -> Value {
    let mut cond = Map::new();
    let at: Vec<&str> = field.split('.').collect();
    let values: Vec<Value> = values
        .iter()
        .map(|v| match v.as_str() {
            "true" if yes_no => Value::Bool(true),
            "false" if yes_no => Value::Bool(false),
            other => json!(other),
        })
        .collect();
    nest(&mut cond, &at, json!({"enum": values}));
    let mut then = Map::new();
    let target: Vec<&str> = path.split('.').collect();
    nest(&mut then, &target, json!({}));
    json!({"if": cond, "then": then})
}

/// A schema that requires the dotted path `at`, whose value satisfies `leaf`.
fn nest(node: &mut Map<String, Value>, at: &[&str], leaf: Value) {
    let (first, rest) = at.split_first().expect("a field path is not empty");
    node.insert("required".into(), json!([first]));
    let inner = if rest.is_empty() {
        leaf
    } else {
        let mut m = Map::new();
        nest(&mut m, rest, leaf);
        Value::Object(m)
    };
    node.insert("properties".into(), json!({ *first: inner }));
}

fn field_schema(form: &Form, f: &Field) -> Value {
    let options: Vec<&str> = f
        .choices
        .as_ref()
        .and_then(|c| form.choices.iter().find(|s| s.id == *c))
        .map(|c| c.options.iter().map(|o| o.id.as_str()).collect())
        .unwrap_or_default();
    let list = |items: Value| json!({"type": "array", "items": items, "uniqueItems": true, "maxItems": MAX_LIST});
    let mut s = match f.ty {
        FieldType::Text | FieldType::LongText => json!({"type": "string"}),
        FieldType::Integer => json!({"type": "integer"}),
        // A number, or the four digits a form posts.
        FieldType::Year => json!({
            "anyOf": [
                {"type": "integer", "minimum": 1000, "maximum": 9999},
                {"type": "string", "pattern": "^[0-9]{4}$"},
            ],
        }),
        FieldType::Commune => json!({"type": "string", "pattern": "^[0-9AB]{5}$"}),
        // Euros, as a number or a decimal string.
        FieldType::Money => json!({
            "anyOf": [
                {"type": "number", "minimum": 0, "maximum": 999_999_999_999u64},
                {"type": "string", "pattern": r"^[0-9]{1,12}(\.[0-9]{1,2})?$"},
            ],
        }),
        FieldType::Boolean => json!({"type": "boolean"}),
        FieldType::Date => json!({"type": "string", "format": "date"}),
        FieldType::Choice => json!({"type": "string", "enum": options}),
        FieldType::Choices => list(json!({"type": "string", "enum": options})),
        FieldType::Siret => json!({"type": "string", "pattern": "^[0-9]{14}$"}),
        FieldType::Communes => list(json!({"type": "string", "pattern": "^[0-9AB]{5}$"})),
        FieldType::Documents => list(json!({
            "type": "string",
            "enum": form.documents.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
        })),
    };
    let m = s.as_object_mut().expect("a field schema is an object");
    m.insert("title".into(), json!(f.label));
    let mut text = f.help.clone().unwrap_or_default();
    if set_by_server(&f.path, f.ty) {
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str("(Set by the server when the application is filed.)");
    }
    if !text.is_empty() {
        m.insert("description".into(), json!(text));
    }
    s
}
