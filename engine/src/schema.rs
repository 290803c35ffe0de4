//! The JSON Schema of plan files, generated from the raw types and their doc comments.

use crate::plan::raw::RawFile;

/// The schema (JSON Schema draft 7, the draft that taplo / Even Better TOML validates against).
pub fn plan_file_schema() -> serde_json::Value {
    let schema = schemars::generate::SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<RawFile>();
    let mut value = schema.to_value();
    drop_null(&mut value);
    if let Some(map) = value.as_object_mut() {
        map.insert(
            "$id".into(),
            "https://metroplan.invalid/plan.schema.json".into(),
        );
    }
    value
}

/// The schema as committed under `plans/plan.schema.json` (pretty, trailing newline).
pub fn plan_file_schema_text() -> String {
    let mut s = serde_json::to_string_pretty(&plan_file_schema()).unwrap_or_default();
    s.push('\n');
    s
}
/// The schema of rule-test files (`rules/<fund>/tests/*.toml` in a plan directory).
pub fn rule_test_schema_text() -> String {
    let schema = schemars::generate::SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<crate::rules::cases::Case>();
    let mut value = schema.to_value();
    drop_null(&mut value);
    if let Some(map) = value.as_object_mut() {
        map.insert(
            "$id".into(),
            "https://metroplan.invalid/rule-test.schema.json".into(),
        );
    }
    let mut s = serde_json::to_string_pretty(&value).unwrap_or_default();
    s.push('\n');
    s
}

/// TOML has no null: an optional key is simply absent. Removing the `null` branches that
/// `Option` adds gives editors precise messages instead of "not valid under anyOf".
fn drop_null(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            if let Some(Value::Array(types)) = map.get_mut("type") {
                types.retain(|t| t != "null");
                if types.len() == 1 {
                    let t = types[0].clone();
                    map.insert("type".into(), t);
                }
            }
            if let Some(Value::Array(branches)) = map.get("anyOf") {
                let kept: Vec<Value> = branches
                    .iter()
                    .filter(|b| b.get("type").and_then(|t| t.as_str()) != Some("null"))
                    .cloned()
                    .collect();
                if kept.len() == 1 && kept.len() < branches.len() {
                    map.remove("anyOf");
                    // A `$ref` ignores its siblings in draft 7, so wrap it to keep the description.
                    map.insert("allOf".into(), Value::Array(kept));
                }
            }
            for (_, child) in map.iter_mut() {
                drop_null(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(drop_null),
        _ => {}
    }
}
