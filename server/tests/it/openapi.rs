//! The OpenAPI document and what it points at: a generated client needs every operation
//! tagged, every response described with its body's schema, and the fund's form as a JSON
//! Schema. `tests/api/client` checks the same document with tools we did not write.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::*;

const OPEN: &str = "2021-03-01T10:00:00+01:00";

async fn document(env: &Env) -> Value {
    let r = env
        .call(Method::GET, "/openapi.json", None, &[], None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    r.body
}

#[tokio::test]
async fn the_openapi_document_describes_the_fixed_paths() {
    let env = Env::new(OPEN).await;
    let doc = document(&env).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for p in [
        "/healthz",
        "/metrics",
        "/api/plans",
        "/api/plans/{plan}",
        "/api/plans/{plan}/schedule",
        "/api/plans/{plan}/timeline",
        "/api/plans/{plan}/funds/{fund}/eligibility",
        "/api/plans/{plan}/funds/{fund}/form.schema.json",
        "/api/plans/{plan}/funds/{fund}/applications",
        "/api/applications/{id}",
        "/api/applications",
        "/api/applications/{id}/actions/{action}",
        "/api/applications/{id}/events",
        "/api/applications/{id}/explanation",
        "/api/plans/{plan}/funds/{fund}/envelope",
        "/api/plans/{plan}/funds/{fund}/export.csv",
    ] {
        assert!(
            doc["paths"].get(p).is_some(),
            "{p} missing from /openapi.json"
        );
    }
}

/// Found by openapi-spec-validator and openapi-python-client: responses without their
/// required `description`, bodies without a schema, operations without tags.
#[tokio::test]
async fn every_operation_has_a_tag_and_every_response_a_description_and_a_schema() {
    let env = Env::new(OPEN).await;
    let doc = document(&env).await;
    let declared: Vec<&str> = doc["tags"]
        .as_array()
        .expect("the document declares its tags")
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    let mut faults = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let at = format!("{method} {path}");
            let tags = op["tags"].as_array().map(Vec::as_slice).unwrap_or_default();
            if tags.is_empty() {
                faults.push(format!("{at}: no tag"));
            }
            for t in tags {
                if !declared.contains(&t.as_str().unwrap()) {
                    faults.push(format!("{at}: tag {t} is not declared"));
                }
            }
            for (code, r) in op["responses"].as_object().unwrap() {
                if r["description"].as_str().is_none_or(str::is_empty) {
                    faults.push(format!("{at} {code}: no description"));
                }
                let content = r["content"].as_object();
                if code.starts_with('4') || code.starts_with('5') {
                    let schema = &r["content"]["application/problem+json"]["schema"];
                    if schema["$ref"] != "#/components/schemas/Problem" {
                        faults.push(format!("{at} {code}: not a problem document"));
                    }
                } else if content.is_none_or(|c| c.values().any(|m| m["schema"].is_null())) {
                    faults.push(format!("{at} {code}: no schema for its body"));
                }
            }
        }
    }
    assert!(faults.is_empty(), "{}", faults.join("\n"));
}

#[tokio::test]
async fn every_body_that_carries_an_application_points_at_the_form_schema() {
    let env = Env::new(OPEN).await;
    let doc = document(&env).await;
    let schemas = &doc["components"]["schemas"];
    assert!(
        schemas["ApplicationData"]["description"]
            .as_str()
            .unwrap()
            .contains("/api/plans/{plan}/funds/{fund}/form.schema.json")
    );
    for body in [
        "CreateBody",
        "EligibilityBody",
        "ActionBody",
        "ApplicationView",
    ] {
        let data = &schemas[body]["properties"]["data"];
        let target = data["$ref"].as_str().or_else(|| {
            data["oneOf"]
                .as_array()?
                .iter()
                .find_map(|s| s["$ref"].as_str())
        });
        assert_eq!(
            target,
            Some("#/components/schemas/ApplicationData"),
            "{body}.data: {data}"
        );
    }
}

/// Each fund's form as JSON Schema, as served: types, choices as enums, required fields,
/// conditions and documents (checked against the JSON Schema metaschema, and the fixtures
/// against it, by `tests/api/client`).
#[tokio::test]
async fn the_form_of_each_fund_is_served_as_a_json_schema() {
    let env = Env::new(OPEN).await;
    for (plan, fund) in [(PLAN, FUND), ("lyon-pama", "aide-velo")] {
        let r = env
            .call(
                Method::GET,
                &format!("/api/plans/{plan}/funds/{fund}/form.schema.json"),
                None,
                &[],
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.headers["content-type"], "application/schema+json");
        insta::assert_json_snapshot!(format!("form_schema_{fund}"), r.body);
    }
    let none = env
        .call(
            Method::GET,
            &format!("/api/plans/{PLAN}/funds/no-such-fund/form.schema.json"),
            None,
            &[],
            None,
        )
        .await;
    assert_eq!(none.status, StatusCode::NOT_FOUND);
    assert_eq!(none.body["type"], "/problems/not-found");
}

/// The dry run used to take the bare application while filing took `{"data": …}`: both take
/// `{"data": …}` now, and a refusal names the field as the body writes it.
#[tokio::test]
async fn the_dry_run_takes_its_application_in_data_as_filing_does() {
    let env = Env::new(OPEN).await;
    let path = format!("/api/plans/{PLAN}/funds/{FUND}/eligibility");
    let ok = env
        .call(
            Method::POST,
            &path,
            None,
            &[],
            Some(json!({ "data": application() })),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert!(ok.body["explanation"].is_object(), "{}", ok.body);
    assert!(ok.body["text"].is_string(), "{}", ok.body);
    let bare = env
        .call(Method::POST, &path, None, &[], Some(application()))
        .await;
    assert_eq!(bare.status, StatusCode::BAD_REQUEST, "{}", bare.text);
    assert_eq!(bare.body["type"], "/problems/bad-request");
    assert!(
        bare.body["detail"].as_str().unwrap().contains("`data`"),
        "{}",
        bare.body
    );
    let mut wrong = application();
    wrong["project"]["requested_amount"] = json!("beaucoup");
    let refused = env
        .call(
            Method::POST,
            &path,
            None,
            &[],
            Some(json!({ "data": wrong })),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused.body["field"], "data.project.requested_amount");
}
