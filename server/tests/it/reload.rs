//! Plans reloaded while the server runs: a good edit replaces the plan, a broken one is
//! refused and the last good version goes on serving, files removed mid-edit change nothing,
//! and filed applications keep the ruleset they were checked with until re-evaluated.

use axum::http::{Method, StatusCode};
use metroplan_engine::model::RoleKind;
use serde_json::json;

use crate::support::*;

const OPEN: &str = "2021-03-01T10:00:00+01:00";

async fn title(env: &Env) -> String {
    let r = env
        .call(Method::GET, "/api/plans/amp-pmlcd", None, &[], None)
        .await;
    r.body["title"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn a_good_edit_replaces_the_plan_and_a_broken_one_is_refused_while_the_last_good_serves() {
    let (_tmp, dir) = plans_copy();
    let env = Env::with_plans(OPEN, &dir).await;
    let plan = dir.join("amp-pmlcd");
    let original = title(&env).await;
    assert!(original.starts_with("Plan métropolitain"), "{original}");

    edit(
        &plan.join("plan.toml"),
        "title = \"Plan métropolitain",
        "title = \"Plan révisé",
    );
    let after = env.plans.reload(&dir);
    assert!(after.refused.is_empty(), "{:?}", after.refused);
    assert!(
        title(&env).await.starts_with("Plan révisé"),
        "the good edit is served"
    );

    // A broken edit: an unknown dependency. Refused, with its diagnostics.
    let actions = std::fs::read_dir(plan.join("actions"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            std::fs::read_to_string(p)
                .unwrap()
                .contains("depends_on = [{ on = \"")
        })
        .expect("an action file with a dependency");
    edit(
        &actions,
        "depends_on = [{ on = \"",
        "depends_on = [{ on = \"inconnue-",
    );
    let refused = env.plans.reload(&dir);
    assert_eq!(refused.refused.len(), 1);
    let r = &refused.refused[0];
    assert!(r.serving_previous);
    assert!(
        r.diagnostics.iter().any(|d| d.contains("E006")),
        "{:?}",
        r.diagnostics
    );
    assert!(
        title(&env).await.starts_with("Plan révisé"),
        "the last good version serves"
    );

    // The administrators see why.
    crate::web::account(&env, "admin@amp.example", RoleKind::Admin).await;
    let mut b = crate::web::Browser::new(env.app.clone());
    b.sign_in("admin@amp.example").await;
    let page = b.get("/admin").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("Modification refusée"), "{}", page.text);
    assert!(
        page.text
            .contains("la dernière version valide reste en service")
    );
    assert!(page.text.contains("E006"));

    // Fixed: served again, and nothing is refused any more.
    edit(
        &actions,
        "depends_on = [{ on = \"inconnue-",
        "depends_on = [{ on = \"",
    );
    assert!(env.plans.reload(&dir).refused.is_empty());
}

#[tokio::test]
async fn files_removed_mid_edit_leave_the_last_good_version_serving() {
    let (_tmp, dir) = plans_copy();
    let env = Env::with_plans(OPEN, &dir).await;
    let plan = dir.join("amp-pmlcd");
    let original = title(&env).await;
    // An included file removed.
    std::fs::rename(plan.join("axes.toml"), plan.join("axes.toml.swp")).unwrap();
    let r = env.plans.reload(&dir);
    assert_eq!(r.refused.len(), 1, "{:?}", r.refused);
    assert!(r.refused[0].serving_previous);
    assert_eq!(title(&env).await, original);
    // plan.toml itself removed: the directory is no plan any more, the plan still serves.
    std::fs::rename(plan.join("plan.toml"), plan.join("plan.toml.swp")).unwrap();
    let r = env.plans.reload(&dir);
    assert!(
        r.refused
            .iter()
            .any(|x| x.diagnostics[0].contains("no plan.toml")),
        "{:?}",
        r.refused
    );
    assert_eq!(title(&env).await, original);
    // Back in place: served from the files again.
    std::fs::rename(plan.join("plan.toml.swp"), plan.join("plan.toml")).unwrap();
    std::fs::rename(plan.join("axes.toml.swp"), plan.join("axes.toml")).unwrap();
    assert!(env.plans.reload(&dir).refused.is_empty());
}

#[tokio::test]
async fn a_filed_application_keeps_its_ruleset_until_an_audited_re_evaluation() {
    let (_tmp, dir) = plans_copy();
    let env = Env::with_plans(OPEN, &dir).await;
    let asso = env.token("asso", RoleKind::Applicant).await;
    let instr = env.token("instr", RoleKind::Instructor).await;
    let id = env
        .eligible(&asso, application_of("81234567800019", 9500))
        .await;
    let before = env.get(&format!("/api/applications/{id}"), &instr).await;
    let ruleset = before.body["ruleset"].as_str().unwrap().to_string();
    assert_eq!(before.body["outcome"], "eligible");

    // The council lowers the 2021 ceiling to 9 000 €.
    edit(
        &dir.join("amp-pmlcd/funds/fonds-initiative.toml"),
        "value = 10000",
        "value = 9000",
    );
    assert!(env.plans.reload(&dir).refused.is_empty());
    let still = env.get(&format!("/api/applications/{id}"), &instr).await;
    assert_eq!(
        still.body["ruleset"],
        ruleset.as_str(),
        "filed under the old rules"
    );
    assert_eq!(still.body["outcome"], "eligible");

    let path = format!("/api/applications/{id}/reevaluate");
    let no_etag = env
        .call(Method::POST, &path, Some(&instr), &[], Some(json!({})))
        .await;
    assert_eq!(no_etag.status, StatusCode::PRECONDITION_REQUIRED);
    let etag = still.headers["etag"].to_str().unwrap().to_string();
    let by_applicant = env
        .call(
            Method::POST,
            &path,
            Some(&asso),
            &[("if-match", &etag)],
            Some(json!({})),
        )
        .await;
    assert_eq!(by_applicant.status, StatusCode::FORBIDDEN);
    let r = env
        .call(
            Method::POST,
            &path,
            Some(&instr),
            &[("if-match", &etag)],
            Some(json!({"reason": "délibération du 15 mars : plafond abaissé"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.body["outcome"], "ineligible",
        "9 500 € is over the new ceiling"
    );
    assert_ne!(r.body["ruleset"], ruleset.as_str());
    assert_eq!(
        r.body["state"], still.body["state"],
        "the state is the staff's decision"
    );
    let events = env
        .get(&format!("/api/applications/{id}/events"), &instr)
        .await;
    let last = events.body.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["action"], "re-evaluation");
    assert_eq!(last["payload"]["before"]["ruleset"], ruleset.as_str());
    assert_eq!(last["payload"]["after"]["outcome"], "ineligible");
    assert_eq!(last["reason"], "délibération du 15 mars : plafond abaissé");
}

#[tokio::test]
async fn an_instructor_re_evaluates_from_the_application_page_and_an_applicant_cannot() {
    let (_tmp, dir) = plans_copy();
    let env = Env::with_plans(OPEN, &dir).await;
    let asso = crate::web::account(&env, "a@example.org", RoleKind::Applicant).await;
    let token = metroplan_server::tokens::create_for_user(&env.db, &asso, "2021-01-01T00:00:00Z")
        .await
        .unwrap();
    let id = env
        .eligible(&token, application_of("81234567800019", 9500))
        .await;
    edit(
        &dir.join("amp-pmlcd/funds/fonds-initiative.toml"),
        "value = 10000",
        "value = 9000",
    );
    assert!(env.plans.reload(&dir).refused.is_empty());
    crate::web::account(&env, "instr@amp.example", RoleKind::Instructor).await;
    let page = format!("/dossiers/{id}");
    let mut applicant = crate::web::Browser::new(env.app.clone());
    applicant.sign_in("a@example.org").await;
    let html = applicant.get(&page).await.text;
    assert!(!html.contains("/reevaluer"), "no form for the applicant");
    let refused = applicant
        .post(
            &page,
            &format!("{page}/reevaluer"),
            &[("version", "5"), ("motif", "x")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    let mut instr = crate::web::Browser::new(env.app.clone());
    instr.sign_in("instr@amp.example").await;
    let html = instr.get(&page).await.text;
    assert!(html.contains("Réévaluer selon les règles en vigueur"));
    let version = instr.version_on(&page).await;
    let done = instr
        .post(
            &page,
            &format!("{page}/reevaluer"),
            &[
                ("version", &version),
                ("motif", "plafond abaissé par le conseil"),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text);
    let html = instr.get(&format!("{page}?fait=reevalue")).await.text;
    assert!(
        html.contains("Dossier réévalué selon les règles en vigueur : inéligible"),
        "{html}"
    );
    assert!(
        html.contains("Réévaluation selon les règles en vigueur"),
        "in the history"
    );
    assert!(html.contains("plafond abaissé par le conseil"));
}
