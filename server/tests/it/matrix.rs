//! The authorization matrix of the JSON API: every route, called by nobody, by the file's
//! applicant, by another applicant and by each staff role, answers exactly as this table says.
//! A route added without a row here, or a role let through, fails the test.

use axum::http::{Method, StatusCode};
use metroplan_engine::model::RoleKind;
use serde_json::{Value, json};

use crate::support::*;

const OPEN: &str = "2021-03-01T10:00:00+01:00";

/// Who calls, in the order of each row's expected statuses.
pub const CALLERS: [&str; 8] = [
    "nobody",
    "owner",
    "other-applicant",
    "instructor",
    "reviewer",
    "approver",
    "finance",
    "admin",
];

/// Method, path, body, whether it needs `If-Match`, and the status expected for each caller.
type Row = (Method, String, Option<Value>, bool, [StatusCode; 8]);

#[tokio::test]
async fn every_api_route_answers_each_caller_as_the_matrix_says() {
    let env = Env::new(OPEN).await;
    let owner = env.token("owner", RoleKind::Applicant).await;
    let tokens: Vec<Option<String>> = vec![
        None,
        Some(owner.clone()),
        // Another identity that bears the owner's name: names are labels, not identities.
        Some(env.token("owner", RoleKind::Applicant).await),
        // Staff scoped to the (plan, fund) of the files.
        Some(
            env.token_scoped("instr", RoleKind::Instructor, PLAN, FUND)
                .await,
        ),
        Some(env.token("rev", RoleKind::Reviewer).await),
        Some(env.token("elue", RoleKind::Approver).await),
        Some(env.token("fin", RoleKind::Finance).await),
        Some(env.token("admin", RoleKind::Admin).await),
    ];
    // A filed file (en-instruction) and a draft of the owner's.
    let id = env.eligible(&owner, application()).await;
    let draft = env
        .call(
            Method::POST,
            &format!("/api/plans/{PLAN}/funds/{FUND}/applications"),
            Some(&owner),
            &[],
            Some(json!({"data": application_of("81234567800027", 3000), "draft": true})),
        )
        .await;
    let draft = draft.body["id"].as_str().unwrap().to_string();
    let letter = env
        .texts("SELECT id AS v FROM letters WHERE application_id = $1", &id)
        .await
        .pop()
        .expect("the filed file has its receipt");

    use StatusCode as S;
    const OK: S = S::OK;
    let (c401, c403, c404) = (S::UNAUTHORIZED, S::FORBIDDEN, S::NOT_FOUND);
    let fund = format!("/api/plans/{PLAN}/funds/{FUND}");
    let app = format!("/api/applications/{id}");
    // (method, path, body, needs If-Match, expected status per caller)
    let rows: Vec<Row> = vec![
        (Method::GET, "/healthz".into(), None, false, [OK; 8]),
        (Method::GET, "/openapi.json".into(), None, false, [OK; 8]),
        (Method::GET, "/metrics".into(), None, false, [OK; 8]),
        (Method::GET, "/api/plans".into(), None, false, [OK; 8]),
        (
            Method::GET,
            format!("/api/plans/{PLAN}"),
            None,
            false,
            [OK; 8],
        ),
        (
            Method::GET,
            format!("/api/plans/{PLAN}/schedule"),
            None,
            false,
            [OK; 8],
        ),
        (
            Method::GET,
            format!("/api/plans/{PLAN}/timeline"),
            None,
            false,
            [OK; 8],
        ),
        (
            Method::POST,
            format!("{fund}/eligibility"),
            Some(json!({ "data": application() })),
            false,
            [OK; 8],
        ),
        (
            Method::GET,
            format!("{fund}/form.schema.json"),
            None,
            false,
            [OK; 8],
        ),
        (
            Method::GET,
            format!("{fund}/export.csv"),
            None,
            false,
            [OK; 8],
        ),
        // Only applicants file (each caller with a SIRET of its own).
        (
            Method::POST,
            format!("{fund}/applications"),
            None,
            false,
            [c401, S::CREATED, S::CREATED, c403, c403, c403, c403, c403],
        ),
        (
            Method::GET,
            format!("{fund}/envelope?year=2021"),
            None,
            false,
            [c401, c403, c403, OK, OK, OK, OK, OK],
        ),
        (
            Method::GET,
            "/api/applications".into(),
            None,
            false,
            [c401, OK, OK, OK, OK, OK, OK, OK],
        ),
        (
            Method::GET,
            app.clone(),
            None,
            false,
            [c401, OK, c404, OK, OK, OK, OK, OK],
        ),
        (
            Method::GET,
            format!("{app}/events"),
            None,
            false,
            [c401, OK, c404, OK, OK, OK, OK, OK],
        ),
        (
            Method::GET,
            format!("{app}/explanation"),
            None,
            false,
            [c401, OK, c404, OK, OK, OK, OK, OK],
        ),
        (
            Method::GET,
            format!("{app}/letters/{letter}"),
            None,
            false,
            [c401, OK, c404, OK, OK, OK, OK, OK],
        ),
        // Only the instructor role takes this transition; the other applicant does not see the file.
        (
            Method::POST,
            "/api/applications/FRESH/actions/soumettre-au-comite".into(),
            Some(json!({})),
            true,
            [c401, c403, c404, OK, c403, c403, c403, c403],
        ),
        (
            Method::POST,
            "/api/applications/FRESH/reevaluate".into(),
            Some(json!({})),
            true,
            [c401, c403, c403, OK, c403, c403, c403, OK],
        ),
        (
            Method::POST,
            format!("/api/applications/{draft}/documents/rib"),
            None,
            false,
            [c401, OK, c404, c403, c403, c403, c403, c403],
        ),
    ];
    // Every operation of the OpenAPI document has its row.
    let doc = env
        .call(Method::GET, "/openapi.json", None, &[], None)
        .await
        .body;
    for (template, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let covered = rows.iter().any(|(m, p, ..)| {
                let p = p.split('?').next().unwrap();
                m.as_str().eq_ignore_ascii_case(method)
                    && p.split('/').count() == template.split('/').count()
                    && p.split('/')
                        .zip(template.split('/'))
                        .all(|(a, b)| a == b || b.starts_with('{'))
            });
            assert!(covered, "{method} {template} has no row in the matrix");
        }
    }
    let mut failures = Vec::new();
    let mut fresh = 0;
    for (method, path, body, if_match, expected) in &rows {
        for (k, who) in tokens.iter().enumerate() {
            // A row that changes the file gets a fresh one per caller, so that each caller
            // meets the same state.
            let path = if path.contains("FRESH") {
                fresh += 1;
                let f = env
                    .eligible(
                        &owner,
                        application_of(&format!("8123456781{fresh:04}"), 4000),
                    )
                    .await;
                path.replace("FRESH", &f)
            } else {
                path.clone()
            };
            let path = &path;
            let mut headers: Vec<(&str, String)> = Vec::new();
            if *if_match {
                // The current version, read by someone who may see the file.
                let file = path.split('/').nth(3).unwrap();
                let v = env
                    .get(
                        &format!("/api/applications/{file}"),
                        tokens[3].as_ref().unwrap(),
                    )
                    .await;
                headers.push(("if-match", v.headers["etag"].to_str().unwrap().to_string()));
            }
            let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let r = if path.contains("/documents/") {
                match who {
                    Some(t) => env.upload(&draft, "rib", t, PDF, "rib.pdf").await,
                    None => env.call(Method::POST, path, None, &[], None).await,
                }
            } else if path.ends_with("/applications") && *method == Method::POST {
                fresh += 1;
                let data = application_of(&format!("8123456782{fresh:04}"), 3000);
                env.call(
                    Method::POST,
                    path,
                    who.as_deref(),
                    &h,
                    Some(json!({ "data": data })),
                )
                .await
            } else {
                env.call(method.clone(), path, who.as_deref(), &h, body.clone())
                    .await
            };
            let want = expected[k];
            // An action taken changes the state: later callers of the same row would see a 409.
            let got = if r.status == StatusCode::CONFLICT && want == OK {
                OK
            } else {
                r.status
            };
            if got != want {
                failures.push(format!(
                    "{method} {path} as {}: {} (expected {want}) {}",
                    CALLERS[k], r.status, r.body
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
