//! Article 11: the committed total never exceeds the year's envelope, whatever the
//! concurrency; two people never both decide on one application.

use axum::http::{Method, StatusCode};
use metroplan_engine::model::RoleKind;
use serde_json::json;

use crate::support::*;

const OPEN: &str = "2021-03-01T10:00:00+01:00";

/// Brings `n` applications of `amount` each to `a-decider`.
async fn to_decide(env: &Env, n: usize, amount: u32) -> Vec<String> {
    let instr = env.token("instr", RoleKind::Instructor).await;
    let r1 = env.token("r1", RoleKind::Reviewer).await;
    let r2 = env.token("r2", RoleKind::Reviewer).await;
    let mut ids = Vec::new();
    for i in 0..n {
        let asso = env.token(&format!("asso-{i}"), RoleKind::Applicant).await;
        let id = env
            .eligible(&asso, application_of(&format!("812345678{i:05}"), amount))
            .await;
        env.act(&id, "soumettre-au-comite", &instr, json!({})).await;
        for r in [&r1, &r2] {
            env.act(
                &id,
                "donner-avis",
                r,
                json!({"linked": false, "favourable": true, "opinion": "ok"}),
            )
            .await;
        }
        let r = env
            .act(&id, "proposer-decision", &instr, json!({"amount": "1000"}))
            .await;
        assert_eq!(r.body["state"], "a-decider", "{}", r.body);
        ids.push(id);
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_approvals_beyond_the_envelope_never_overspend_and_each_refusal_says_what_remains()
 {
    let env = Env::new(OPEN).await;
    let elue = env.token("elue", RoleKind::Approver).await;
    // 8 × 8 000 € = 64 000 € asked of a 30 000 € envelope (2021).
    let ids = to_decide(&env, 8, 8000).await;
    let mut tasks = Vec::new();
    for id in &ids {
        let current = env.get(&format!("/api/applications/{id}"), &elue).await;
        let etag = current.headers["etag"].to_str().unwrap().to_string();
        let app = env.app.clone();
        let (id, elue) = (id.clone(), elue.clone());
        tasks.push(tokio::spawn(async move {
            call(
                &app,
                Method::POST,
                &format!("/api/applications/{id}/actions/attribuer"),
                Some(&elue),
                &[("if-match", &etag)],
                Some(json!({"amount": "8000"}).to_string().into_bytes()),
                "application/json",
            )
            .await
        }));
    }
    let mut approved = 0;
    for t in tasks {
        let r = t.await.unwrap();
        match r.status {
            StatusCode::OK => approved += 1,
            StatusCode::UNPROCESSABLE_ENTITY => {
                assert_eq!(r.body["guard"], "within-envelope", "{}", r.body);
                let detail = r.body["detail"].as_str().unwrap();
                assert!(detail.contains("remain"), "{detail}");
                assert!(r.body["remaining"].is_string(), "{}", r.body);
            }
            other => panic!("unexpected {other}: {}", r.body),
        }
    }
    assert_eq!(approved, 3, "3 × 8 000 € fit in 30 000 €");
    let e = env
        .get(
            &format!("/api/plans/{PLAN}/funds/{FUND}/envelope?year=2021"),
            &elue,
        )
        .await;
    assert_eq!(e.body["committed"], "24000.00");
    assert_eq!(e.body["remaining"], "6000.00");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_decisions_on_one_application_with_the_same_etag_one_wins_the_other_gets_412() {
    let env = Env::new(OPEN).await;
    let elue = env.token("elue", RoleKind::Approver).await;
    let ids = to_decide(&env, 1, 5000).await;
    let id = &ids[0];
    let etag = env
        .get(&format!("/api/applications/{id}"), &elue)
        .await
        .headers["etag"]
        .to_str()
        .unwrap()
        .to_string();
    let path = format!("/api/applications/{id}/actions/attribuer");
    let refuse = format!("/api/applications/{id}/actions/refuser");
    let h = [("if-match", etag.as_str())];
    let (a, b) = tokio::join!(
        env.call(
            Method::POST,
            &path,
            Some(&elue),
            &h,
            Some(json!({"amount": 5000}))
        ),
        env.call(
            Method::POST,
            &refuse,
            Some(&elue),
            &h,
            Some(json!({"reason": "non"}))
        ),
    );
    let mut s = [a.status, b.status];
    s.sort();
    assert_eq!(
        s,
        [StatusCode::OK, StatusCode::PRECONDITION_FAILED],
        "{} / {}",
        a.body,
        b.body
    );
    let loser = if a.status == StatusCode::OK { &b } else { &a };
    assert_eq!(loser.headers["content-type"], "application/problem+json");
    assert!(loser.body["current_version"].is_i64());
    // Without If-Match: 428.
    let r = env
        .call(
            Method::POST,
            &refuse,
            Some(&elue),
            &[],
            Some(json!({"reason": "non"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_REQUIRED);
}

#[tokio::test]
async fn a_retried_request_with_its_idempotency_key_returns_the_first_response_and_does_nothing_twice()
 {
    let env = Env::new(OPEN).await;
    let asso = env.token("asso", RoleKind::Applicant).await;
    let path = format!("/api/plans/{PLAN}/funds/{FUND}/applications");
    let body = json!({"data": application()});
    let first = env
        .call(
            Method::POST,
            &path,
            Some(&asso),
            &[("idempotency-key", "depot-1")],
            Some(body.clone()),
        )
        .await;
    let again = env
        .call(
            Method::POST,
            &path,
            Some(&asso),
            &[("idempotency-key", "depot-1")],
            Some(body.clone()),
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(first.body["id"], again.body["id"]);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    let list = env.get("/api/applications", &asso).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
    let other = env
        .call(
            Method::POST,
            &path,
            Some(&asso),
            &[("idempotency-key", "depot-1")],
            Some(json!({"data": application_of("81234567800027", 3000)})),
        )
        .await;
    assert_eq!(
        other.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a key reused for another request: {}",
        other.body
    );
    assert_eq!(other.body["field"], "Idempotency-Key");
}
