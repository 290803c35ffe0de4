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
        html.contains("Dossier réévalué selon les règles en vigueur\u{a0}: inéligible"),
        "{html}"
    );
    assert!(
        html.contains("Réévaluation selon les règles en vigueur"),
        "in the history"
    );
    assert!(html.contains("plafond abaissé par le conseil"));
}

/// Every occurrence of `from` replaced by `to`.
fn edit_all(path: &std::path::Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} has `{from}`", path.display());
    std::fs::write(path, text.replace(from, to)).unwrap();
}

const FUND_TITLE: &str = "Fonds d'initiative métropolitain de prévention des discriminations";

/// An applicant with an account (for the pages) and a token, an instructor likewise, and
/// one eligible file `en-instruction`.
async fn a_file_in_instruction(env: &Env) -> (String, String, String) {
    let asso = crate::web::account(env, "a@example.org", RoleKind::Applicant).await;
    let applicant =
        metroplan_server::tokens::create_for_user(&env.db, &asso, "2021-01-01T00:00:00Z")
            .await
            .unwrap();
    crate::web::account(env, "instr@amp.example", RoleKind::Instructor).await;
    let instr = env.token("instr", RoleKind::Instructor).await;
    let id = env
        .eligible(&applicant, application_of("81234567800019", 9500))
        .await;
    (applicant, instr, id)
}

async fn events_of(env: &Env, id: &str, token: &str) -> usize {
    let r = env
        .get(&format!("/api/applications/{id}/events"), token)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body.as_array().unwrap().len()
}

#[tokio::test]
async fn a_fund_renamed_in_a_live_edit_keeps_its_files_listed_and_readable() {
    let (_tmp, dir) = plans_copy();
    let env = Env::with_plans(OPEN, &dir).await;
    let (applicant, instr, id) = a_file_in_instruction(&env).await;
    edit(
        &dir.join("amp-pmlcd/funds/fonds-initiative.toml"),
        "id = \"fonds-initiative\"",
        "id = \"fonds-initiative-2021\"",
    );
    let r = env.plans.reload(&dir);
    assert!(r.refused.is_empty(), "{:?}", r.refused);

    for (who, token) in [("instructor", &instr), ("applicant", &applicant)] {
        let list = env.get("/api/applications", token).await;
        assert_eq!(list.status, StatusCode::OK, "{who}: {}", list.body);
        let item = list.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["id"] == id.as_str())
            .cloned()
            .unwrap_or_else(|| panic!("{who}: the file is listed: {}", list.body));
        assert_eq!(item["fund"], "fonds-initiative");
        assert_eq!(item["fund_status"], "removed", "{item}");
        assert_eq!(item["fund_title"], FUND_TITLE, "the last title served");
        assert_eq!(item["actions"], json!([]), "nothing is offered");

        let one = env.get(&format!("/api/applications/{id}"), token).await;
        assert_eq!(one.status, StatusCode::OK, "{who}: {}", one.body);
        assert_eq!(one.body["fund_status"], "removed");
        assert_eq!(one.body["state"], "en-instruction");
        assert_eq!(one.body["data"], item["data"]);
        assert!(events_of(&env, &id, token).await > 0, "{who}: its history");
        let ex = env
            .get(&format!("/api/applications/{id}/explanation"), token)
            .await;
        assert_eq!(ex.status, StatusCode::OK, "{who}: {}", ex.body);
    }

    let mut staff = crate::web::Browser::new(env.app.clone());
    staff.sign_in("instr@amp.example").await;
    let inbox = staff.get("/instruction").await;
    assert_eq!(inbox.status, StatusCode::OK, "{}", inbox.text);
    assert!(inbox.text.contains(&format!("/dossiers/{id}")), "listed");
    assert!(
        inbox.text.contains("Fonds retiré du plan"),
        "{}",
        inbox.text
    );
    let page = staff.get(&format!("/dossiers/{id}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(page.text.contains("Fonds retiré du plan"));
    assert!(page.text.contains("En instruction"), "the state's label");
    assert!(!page.text.contains("/actions/"), "no action is offered");

    let mut own = crate::web::Browser::new(env.app.clone());
    own.sign_in("a@example.org").await;
    let mine = own.get("/mes-dossiers").await;
    assert_eq!(mine.status, StatusCode::OK, "{}", mine.text);
    assert!(mine.text.contains(&format!("/dossiers/{id}")), "listed");
    assert!(mine.text.contains("Fonds retiré du plan"), "{}", mine.text);
    let page = own.get(&format!("/dossiers/{id}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(page.text.contains("Fonds retiré du plan"));

    // Renamed back: the file is the fund's again, with its actions.
    edit(
        &dir.join("amp-pmlcd/funds/fonds-initiative.toml"),
        "id = \"fonds-initiative-2021\"",
        "id = \"fonds-initiative\"",
    );
    assert!(env.plans.reload(&dir).refused.is_empty());
    let one = env.get(&format!("/api/applications/{id}"), &instr).await;
    assert_eq!(one.body["fund_status"], "current");
    assert_ne!(one.body["actions"], json!([]), "{}", one.body);
}

#[tokio::test]
async fn a_fund_removed_in_a_live_edit_keeps_its_files_readable_and_refuses_changes_with_409() {
    let (_tmp, dir) = plans_copy();
    let env = Env::with_plans(OPEN, &dir).await;
    let (applicant, instr, id) = a_file_in_instruction(&env).await;
    // A draft too, whose content and pieces the applicant could change before.
    let draft = env
        .call(
            Method::POST,
            "/api/plans/amp-pmlcd/funds/fonds-initiative/applications",
            Some(&applicant),
            &[],
            Some(json!({"data": application_of("81234567800019", 5000), "draft": true})),
        )
        .await;
    assert_eq!(draft.status, StatusCode::CREATED, "{}", draft.body);
    let draft = draft.body["id"].as_str().unwrap().to_string();
    // The fund goes: the plan no longer includes its file.
    edit(
        &dir.join("amp-pmlcd/plan.toml"),
        "  \"funds/*.toml\",\n",
        "",
    );
    let r = env.plans.reload(&dir);
    assert!(r.refused.is_empty(), "{:?}", r.refused);

    let before = env.get(&format!("/api/applications/{id}"), &instr).await;
    assert_eq!(before.status, StatusCode::OK, "{}", before.body);
    assert_eq!(before.body["fund_status"], "removed");
    assert_eq!(before.body["actions"], json!([]));
    let etag = before.headers["etag"].to_str().unwrap().to_string();
    let events = events_of(&env, &id, &instr).await;

    let refused = |r: &Res, what: &str| {
        assert_eq!(r.status, StatusCode::CONFLICT, "{what}: {}", r.body);
        assert_eq!(
            r.body["type"], "/problems/fund-removed",
            "{what}: {}",
            r.body
        );
        let detail = r.body["detail"].as_str().unwrap();
        assert!(
            detail.contains("no longer has") && detail.contains("nothing was recorded"),
            "{what}: {detail}"
        );
    };
    let r = env
        .call(
            Method::POST,
            &format!("/api/applications/{id}/actions/soumettre-au-comite"),
            Some(&instr),
            &[("if-match", &etag)],
            Some(json!({})),
        )
        .await;
    refused(&r, "a transition");
    let r = env
        .call(
            Method::POST,
            &format!("/api/applications/{id}/reevaluate"),
            Some(&instr),
            &[("if-match", &etag)],
            Some(json!({"reason": "x"})),
        )
        .await;
    refused(&r, "a re-evaluation");
    let r = env.upload(&draft, "rib", &applicant, PDF, "rib.pdf").await;
    refused(&r, "an upload");
    let d = env
        .get(&format!("/api/applications/{draft}"), &applicant)
        .await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.body);
    assert_eq!(d.body["fund_status"], "removed");
    let r = env
        .call(
            Method::POST,
            &format!("/api/applications/{draft}/actions/deposer"),
            Some(&applicant),
            &[("if-match", d.headers["etag"].to_str().unwrap())],
            Some(json!({})),
        )
        .await;
    refused(&r, "filing the draft");

    // Nothing was written.
    let after = env.get(&format!("/api/applications/{id}"), &instr).await;
    assert_eq!(after.body["version"], before.body["version"]);
    assert_eq!(events_of(&env, &id, &instr).await, events);
    let d2 = env
        .get(&format!("/api/applications/{draft}"), &applicant)
        .await;
    assert_eq!(d2.body["version"], d.body["version"]);
    assert_eq!(d2.body["documents"], json!([]));

    // On the page: readable, and a change refused in French (409), nothing written.
    let mut own = crate::web::Browser::new(env.app.clone());
    own.sign_in("a@example.org").await;
    let page = format!("/dossiers/{draft}");
    let html = own.get(&page).await;
    assert_eq!(html.status, StatusCode::OK, "{}", html.text);
    assert!(html.text.contains("Fonds retiré du plan"));
    assert!(
        !html.text.contains("/modifier"),
        "no form to edit the draft"
    );
    let version = d.body["version"].to_string();
    let r = own
        .post(
            &page,
            &format!("{page}/actions/deposer"),
            &[("version", &version)],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert!(
        r.text.contains("n'existe plus dans le plan") && r.text.contains("Rien n'a été enregistré"),
        "{}",
        r.text
    );
    let r = own
        .post(&page, &format!("{page}/modifier"), &[("version", &version)])
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    let d3 = env
        .get(&format!("/api/applications/{draft}"), &applicant)
        .await;
    assert_eq!(d3.body["version"], d.body["version"]);
}

#[tokio::test]
async fn a_state_removed_from_the_workflow_in_a_live_edit_keeps_its_files_readable_and_refuses_changes_with_409()
 {
    let (_tmp, dir) = plans_copy();
    let env = Env::with_plans(OPEN, &dir).await;
    let (applicant, instr, id) = a_file_in_instruction(&env).await;
    edit_all(
        &dir.join("amp-pmlcd/workflows.toml"),
        "\"en-instruction\"",
        "\"instruction-en-cours\"",
    );
    let r = env.plans.reload(&dir);
    assert!(r.refused.is_empty(), "{:?}", r.refused);

    for token in [&instr, &applicant] {
        let list = env.get("/api/applications", token).await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.body);
        let one = env.get(&format!("/api/applications/{id}"), token).await;
        assert_eq!(one.status, StatusCode::OK, "{}", one.body);
        assert_eq!(one.body["fund_status"], "current");
        assert_eq!(one.body["state_status"], "removed", "{}", one.body);
        assert_eq!(one.body["state"], "en-instruction");
        assert_eq!(
            one.body["state_label"], "En instruction",
            "the last label served"
        );
        assert_eq!(one.body["actions"], json!([]));
    }
    let before = env.get(&format!("/api/applications/{id}"), &instr).await;
    let events = events_of(&env, &id, &instr).await;
    let r = env
        .call(
            Method::POST,
            &format!("/api/applications/{id}/actions/soumettre-au-comite"),
            Some(&instr),
            &[("if-match", before.headers["etag"].to_str().unwrap())],
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(r.body["type"], "/problems/fund-removed");
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("state `en-instruction`"),
        "{}",
        r.body
    );
    assert_eq!(
        events_of(&env, &id, &instr).await,
        events,
        "nothing written"
    );

    let mut staff = crate::web::Browser::new(env.app.clone());
    staff.sign_in("instr@amp.example").await;
    let inbox = staff.get("/instruction").await;
    assert_eq!(inbox.status, StatusCode::OK, "{}", inbox.text);
    assert!(
        inbox.text.contains("Étape retirée du plan"),
        "{}",
        inbox.text
    );
    let page = staff.get(&format!("/dossiers/{id}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(page.text.contains("Étape retirée du plan"));
}
