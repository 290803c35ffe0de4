//! Who may call what: every endpoint, every role.

use axum::http::{Method, StatusCode};
use metroplan_engine::model::RoleKind;
use serde_json::json;

use crate::support::*;

const OPEN: &str = "2021-03-01T10:00:00+01:00";

/// Each workflow action of the demo fund, the role kind the plan gives it, and the state in
/// which the test asks for it.
#[tokio::test]
async fn each_action_is_taken_only_by_its_role() {
    let env = Env::new(OPEN).await;
    let asso = env.token("asso", RoleKind::Applicant).await;
    let id = env.eligible(&asso, application()).await;
    let mut tokens = Vec::new();
    for k in RoleKind::ALL {
        tokens.push((k, env.token(&format!("x-{}", k.name()), k).await));
    }
    // In `en-instruction`: only an instructor may submit to the committee.
    for (k, t) in &tokens {
        let r = env.act(&id, "soumettre-au-comite", t, json!({})).await;
        match k {
            RoleKind::Instructor => assert_eq!(r.status, StatusCode::OK, "{}", r.body),
            RoleKind::Applicant => assert_eq!(
                r.status,
                StatusCode::NOT_FOUND,
                "another applicant does not see it: {}",
                r.body
            ),
            _ => assert_eq!(r.status, StatusCode::FORBIDDEN, "{k:?}: {}", r.body),
        }
        if r.status == StatusCode::OK {
            break;
        }
    }
    // In `avis-comite`: only reviewers give opinions.
    for (k, t) in &tokens {
        if *k == RoleKind::Reviewer {
            continue;
        }
        let r = env
            .act(
                &id,
                "donner-avis",
                t,
                json!({"linked": false, "favourable": true, "opinion": "x"}),
            )
            .await;
        assert!(
            matches!(r.status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
            "{k:?}: {}",
            r.body
        );
    }
    // The owner cannot take the reviewers' action either.
    let r = env
        .act(
            &id,
            "donner-avis",
            &asso,
            json!({"linked": false, "favourable": true, "opinion": "x"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn applicants_see_only_their_own_applications_and_staff_only_their_fund() {
    let env = Env::new(OPEN).await;
    let a = env.token("asso-a", RoleKind::Applicant).await;
    let b = env.token("asso-b", RoleKind::Applicant).await;
    let other_fund = env
        .token_with(
            "instr-autre",
            RoleKind::Instructor,
            Some("un-autre-fonds"),
            None,
        )
        .await;
    let this_fund = env
        .token_with("instr", RoleKind::Instructor, Some(FUND), None)
        .await;
    let r = env.file(&a, application()).await;
    let id = r.body["id"].as_str().unwrap();
    for (t, want) in [
        (&a, StatusCode::OK),
        (&b, StatusCode::NOT_FOUND),
        (&other_fund, StatusCode::NOT_FOUND),
        (&this_fund, StatusCode::OK),
    ] {
        for path in ["", "/events", "/explanation"] {
            let r = env.get(&format!("/api/applications/{id}{path}"), t).await;
            assert_eq!(r.status, want, "{path}: {}", r.body);
        }
    }
    let list = env.get("/api/applications", &b).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 0);
    let list = env.get("/api/applications", &other_fund).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 0);
    let list = env
        .get(
            &format!("/api/applications?fund={FUND}&state=incomplet"),
            &this_fund,
        )
        .await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn only_applicants_file_and_only_staff_read_the_envelope() {
    let env = Env::new(OPEN).await;
    for k in RoleKind::ALL {
        let t = env.token(&format!("t-{}", k.name()), k).await;
        let r = env
            .file(
                &t,
                application_of(&format!("8123456780{:04}", k as u32), 2000),
            )
            .await;
        let want = if k == RoleKind::Applicant {
            StatusCode::CREATED
        } else {
            StatusCode::FORBIDDEN
        };
        assert_eq!(r.status, want, "{k:?} filing: {}", r.body);
        let e = env
            .get(
                &format!("/api/plans/{PLAN}/funds/{FUND}/envelope?year=2021"),
                &t,
            )
            .await;
        let want = if k == RoleKind::Applicant {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::OK
        };
        assert_eq!(e.status, want, "{k:?} envelope: {}", e.body);
        let u = env.get("/api/applications", &t).await;
        assert_eq!(u.status, StatusCode::OK);
    }
    // Only the applicant uploads the pieces of their application.
    let asso = env.token("asso-pieces", RoleKind::Applicant).await;
    let r = env
        .file(&asso, application_of("81234567899999", 2000))
        .await;
    let id = r.body["id"].as_str().unwrap().to_string();
    for k in RoleKind::ALL {
        let t = env.token(&format!("u-{}", k.name()), k).await;
        let u = env.upload(&id, "rib", &t, PDF, "rib.pdf").await;
        let want = if k == RoleKind::Applicant {
            StatusCode::NOT_FOUND
        } else {
            StatusCode::FORBIDDEN
        };
        assert_eq!(u.status, want, "{k:?} upload: {}", u.text);
    }
    assert_eq!(
        env.upload(&id, "rib", &asso, PDF, "rib.pdf").await.status,
        StatusCode::OK
    );
    // Without a token, or with an unknown one: 401 with a problem document.
    for token in [None, Some("mp_not-a-token")] {
        let r = env
            .call(Method::GET, "/api/applications", token, &[], None)
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(r.headers["content-type"], "application/problem+json");
        assert_eq!(r.headers["www-authenticate"], "Bearer");
    }
    // Public: health, metrics, plans, schedule, timeline, the dry run, the open-data export.
    for path in [
        "/healthz",
        "/metrics",
        "/openapi.json",
        "/api/plans",
        "/api/plans/amp-pmlcd",
        "/api/plans/amp-pmlcd/schedule?format=ics",
        "/api/plans/amp-pmlcd/timeline?from=2021-01-01&to=2021-12-31",
        "/api/plans/amp-pmlcd/funds/fonds-initiative/export.csv",
    ] {
        let r = env.call(Method::GET, path, None, &[], None).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
    }
}

#[tokio::test]
async fn nobody_decides_on_an_application_they_filed_or_instructed_and_linked_reviewers_abstain() {
    let env = Env::new(OPEN).await;
    let asso = env.token("asso", RoleKind::Applicant).await;
    // One person, two tokens: the instructor who is also the elected delegate.
    let dupont = env
        .account("dupont@ville.example", RoleKind::Instructor, None)
        .await;
    let instr = env.token_of(&dupont).await;
    let dupont_elue = env.token_of_as(&dupont, RoleKind::Approver).await;
    let elue = env.token("elue", RoleKind::Approver).await;
    let rev1 = env.token("r1", RoleKind::Reviewer).await;
    let rev2 = env.token("r2", RoleKind::Reviewer).await;
    let linked = env.token("r3", RoleKind::Reviewer).await;
    let id = env.eligible(&asso, application()).await;
    env.act(&id, "soumettre-au-comite", &instr, json!({})).await;
    let undeclared = env
        .act(&id, "donner-avis", &linked, json!({"opinion": "x"}))
        .await;
    assert_eq!(undeclared.body["guard"], "opinion");
    assert_eq!(undeclared.body["field"], "linked");
    // A declared link is recorded: the step succeeds, the file stays where it is.
    let r = env
        .act(
            &id,
            "donner-avis",
            &linked,
            json!({"linked": true, "opinion": "x"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["state"], "avis-comite");
    // And it is final: the same reviewer cannot resubmit without the link and top scores.
    let r = env
        .act(
            &id,
            "donner-avis",
            &linked,
            json!({"linked": false, "favourable": true, "opinion": "x"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["guard"], "opinion");
    for rev in [&rev1, &rev2] {
        env.act(
            &id,
            "donner-avis",
            rev,
            json!({"linked": false, "favourable": true, "opinion": "ok"}),
        )
        .await;
    }
    let r = env
        .act(&id, "proposer-decision", &instr, json!({"amount": "1000"}))
        .await;
    assert_eq!(r.body["state"], "a-decider", "{}", r.body);
    let r = env
        .act(&id, "attribuer", &dupont_elue, json!({"amount": 5000}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["guard"], "distinct-from");
    let r = env
        .act(
            &id,
            "refuser",
            &elue,
            json!({"reason": "Hors priorités de l'année"}),
        )
        .await;
    assert_eq!(r.body["state"], "refuse", "{}", r.body);
}
