//! The SCDL « subventions » export against the official schema, validated by Frictionless
//! (PyPI `frictionless`, installed by `cargo xtask setup`): a 2021 call with awards paid in
//! one period, a reduction, a lapse (caducité), a partial reclaim, an award not paid yet and a
//! beneficiary whose name is a formula. One test per finding of issue 17's open-data paragraph.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use metroplan_engine::model::RoleKind;

use crate::support::*;

const OPEN: &str = "2021-03-01T10:00:00+01:00";

struct Staff {
    instr: String,
    r1: String,
    r2: String,
    elue: String,
    fin: String,
}

async fn ok(env: &Env, id: &str, action: &str, who: &str, body: Value) -> Value {
    let r = env.act(id, action, who, body).await;
    assert_eq!(r.status, StatusCode::OK, "{action}: {}", r.body);
    r.body
}

/// The same step, taken by a server whose clock reads `now`.
async fn ok_at(env: &Env, now: &str, id: &str, action: &str, who: &str, body: Value) -> Value {
    let etag = env
        .get(&format!("/api/applications/{id}"), who)
        .await
        .headers
        .get("etag")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap();
    let r = call_json(
        &env.at(now),
        Method::POST,
        &format!("/api/applications/{id}/actions/{action}"),
        Some(who),
        &[("if-match", &etag)],
        Some(body),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{action}: {}", r.body);
    r.body
}

/// A file of `siret` awarded `amount` €, its convention signed.
async fn awarded(env: &Env, s: &Staff, name: &str, data: Value, amount: &str) -> (String, String) {
    let asso = env.token(name, RoleKind::Applicant).await;
    let id = env.eligible(&asso, data).await;
    ok(env, &id, "soumettre-au-comite", &s.instr, json!({})).await;
    for r in [&s.r1, &s.r2] {
        ok(
            env,
            &id,
            "donner-avis",
            r,
            json!({"linked": false, "favourable": true, "opinion": "Solide."}),
        )
        .await;
    }
    ok(
        env,
        &id,
        "proposer-decision",
        &s.instr,
        json!({"amount": "1000"}),
    )
    .await;
    ok(env, &id, "attribuer", &s.elue, json!({"amount": amount})).await;
    ok(
        env,
        &id,
        "signer-convention",
        &s.instr,
        json!({"signed_on": "2021-03-01"}),
    )
    .await;
    (id, asso)
}

/// The year 2021 as the issue describes it, and its export.
async fn year_2021() -> (Env, String) {
    let env = Env::new(OPEN).await;
    let s = Staff {
        instr: env.token("instructrice", RoleKind::Instructor).await,
        r1: env.token("membre-1", RoleKind::Reviewer).await,
        r2: env.token("membre-2", RoleKind::Reviewer).await,
        elue: env.token("elue", RoleKind::Approver).await,
        fin: env.token("finances", RoleKind::Finance).await,
    };
    // Paid in full: the advance on 1 March, the balance on 20 December.
    let (a, asso) = awarded(&env, &s, "asso-a", application(), "7500").await;
    ok(&env, &a, "verser-avance", &s.fin, json!({})).await;
    env.final_report_pieces(&a, &asso).await;
    ok(&env, &a, "deposer-bilan", &asso, json!({})).await;
    let late = "2021-12-20T10:00:00+01:00";
    ok_at(&env, late, &a, "verser-solde", &s.fin, json!({})).await;
    ok(&env, &a, "cloturer", &s.instr, json!({})).await;
    // Reduced by 2 000 € after the final report, the balance paid.
    let (b, asso) = awarded(
        &env,
        &s,
        "asso-b",
        application_of("81234567800027", 8000),
        "8000",
    )
    .await;
    ok(&env, &b, "verser-avance", &s.fin, json!({})).await;
    env.final_report_pieces(&b, &asso).await;
    ok(&env, &b, "deposer-bilan", &asso, json!({})).await;
    ok(
        &env,
        &b,
        "reduire",
        &s.elue,
        json!({"amount": "2000", "reason": "Réalisation partielle."}),
    )
    .await;
    ok_at(&env, late, &b, "verser-solde", &s.fin, json!({})).await;
    // Lapses: no final report three months after the action's end (the advance reclaimed).
    let (c, _) = awarded(
        &env,
        &s,
        "asso-c",
        application_of("81234567800035", 6000),
        "6000",
    )
    .await;
    ok(&env, &c, "verser-avance", &s.fin, json!({})).await;
    // A partial reclaim: 1 000 € of the 2 500 € advance, the unpaid part released.
    let (d, _) = awarded(
        &env,
        &s,
        "asso-d",
        application_of("81234567800043", 5000),
        "5000",
    )
    .await;
    ok(&env, &d, "verser-avance", &s.fin, json!({})).await;
    ok(
        &env,
        &d,
        "demander-reversement",
        &s.instr,
        json!({"amount": "1000", "reason": "Action réalisée en partie."}),
    )
    .await;
    let fired = env
        .ctx_at("2022-03-16T08:00:00+01:00")
        .run_timers()
        .await
        .unwrap();
    assert!(fired >= 1, "the lapse");
    let c_state = env.get(&format!("/api/applications/{c}"), &s.instr).await;
    assert_eq!(c_state.body["state"], "caduque", "{}", c_state.body);
    // Awarded, not paid yet; its beneficiary's name is a formula.
    let mut e = application_of("81234567800050", 3000);
    e["applicant"]["name"] = json!("=HYPERLINK(\"http://x.example\",\"Cliquez\")");
    awarded(&env, &s, "asso-e", e, "3000").await;
    let csv = env
        .call(
            Method::GET,
            &format!("/api/plans/{PLAN}/funds/{FUND}/export.csv"),
            None,
            &[],
            None,
        )
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    (env, csv.text)
}

/// The export's rows as (column → value) maps, read back with a CSV reader we did not write
/// (Python's, through Frictionless' own environment is not needed: `csv` is in the standard
/// library).
fn rows(csv: &str) -> Vec<std::collections::BTreeMap<String, String>> {
    let script = "import csv, json, sys\nprint(json.dumps(list(csv.DictReader(sys.stdin))))";
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(csv.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).expect("rows")
}

fn row_of<'r>(
    rows: &'r [std::collections::BTreeMap<String, String>],
    siret: &str,
) -> Option<&'r std::collections::BTreeMap<String, String>> {
    rows.iter().find(|r| r["idBeneficiaire"] == siret)
}

#[tokio::test]
async fn scdl_export_passes_frictionless_validation_against_the_official_schema() {
    let (_env, csv) = year_2021().await;
    let dir = tempfile::tempdir().unwrap();
    // Both files side by side, named relatively: Frictionless refuses paths outside its
    // base directory.
    std::fs::copy(
        repo().join("../shared/data/scdl-subventions-2.0.1.schema.json"),
        dir.path().join("schema.json"),
    )
    .expect("the official schema, from ../shared");
    std::fs::write(dir.path().join("export.csv"), &csv).unwrap();
    let out = std::process::Command::new("frictionless")
        .args(["validate", "--schema", "schema.json", "export.csv"])
        .current_dir(dir.path())
        .output()
        .expect("frictionless (cargo xtask setup installs it)");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{report}");
    assert!(out.status.success(), "frictionless:\n{report}\n{csv}");
    assert!(!report.contains("INVALID"), "{report}");
    assert_eq!(rows(&csv).len(), 4, "{csv}");
}

#[tokio::test]
async fn scdl_names_the_authority_and_its_siret_not_the_plan() {
    let (_env, csv) = year_2021().await;
    for r in rows(&csv) {
        assert_eq!(r["nomAttribuant"], "Métropole Aix-Marseille-Provence");
        assert_eq!(r["idAttribuant"], "20005480700017");
    }
}

#[tokio::test]
async fn scdl_dates_payments_as_a_date_or_a_period_and_reflects_reductions_lapses_and_reclaims() {
    let (_env, csv) = year_2021().await;
    let rows = rows(&csv);
    let a = row_of(&rows, "81234567800019").expect("paid in full");
    assert_eq!(a["montant"], "7500.00");
    assert_eq!(a["datesPeriodeVersement"], "2021-03-01/2021-12-20");
    assert_eq!(a["dateConvention"], "2021-03-01");
    // 7 500 of a 12 000 € project.
    assert_eq!(a["pourcentageSubvention"], "0.625");
    let b = row_of(&rows, "81234567800027").expect("reduced");
    assert_eq!(
        b["montant"], "6000.00",
        "8 000 € less the 2 000 € reduction"
    );
    assert_eq!(b["datesPeriodeVersement"], "2021-03-01/2021-12-20");
    assert_eq!(b["pourcentageSubvention"], "0.375");
    assert!(
        row_of(&rows, "81234567800035").is_none(),
        "a lapsed award whose advance is reclaimed is no grant: {csv}"
    );
    let d = row_of(&rows, "81234567800043").expect("partly reclaimed");
    assert_eq!(
        d["montant"], "1500.00",
        "2 500 € paid, 1 000 € reclaimed, the rest released"
    );
    assert_eq!(d["datesPeriodeVersement"], "2021-03-01", "one payment");
    let e = row_of(&rows, "81234567800050").expect("not paid yet");
    assert_eq!(
        e["datesPeriodeVersement"], "2021-03-01",
        "due from the decision"
    );
}

#[tokio::test]
async fn scdl_conditions_come_from_the_workflows_payments() {
    let (_env, csv) = year_2021().await;
    for r in rows(&csv) {
        assert_eq!(
            r["conditionsVersement"], "échelonné",
            "the demo workflow pays an advance and a balance"
        );
    }
    let plans = metroplan_server::plans::Plans::load(&repo().join("plans")).unwrap();
    let lyon = plans.get("lyon-pama").unwrap();
    let bike = lyon.plan.fund("aide-velo").unwrap();
    let w = lyon.plan.workflow(bike.workflow.as_str()).unwrap();
    assert!(!w.pays_in_instalments(), "the bike aid is paid in one go");
    let demo = plans.get(PLAN).unwrap();
    let f = demo.plan.fund(FUND).unwrap();
    assert!(
        demo.plan
            .workflow(f.workflow.as_str())
            .unwrap()
            .pays_in_instalments()
    );
}

#[tokio::test]
async fn scdl_neutralises_a_beneficiary_name_written_as_a_formula() {
    let (_env, csv) = year_2021().await;
    let rows = rows(&csv);
    let e = row_of(&rows, "81234567800050").unwrap();
    assert_eq!(
        e["nomBeneficiaire"],
        "'=HYPERLINK(\"http://x.example\",\"Cliquez\")"
    );
    assert!(!csv.contains(",=HYPERLINK"), "{csv}");
}
