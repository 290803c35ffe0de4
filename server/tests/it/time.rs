//! Time that moves files (règlement, articles 7, 10, 13 and 14): timed transitions and
//! reminders the demo plan declares, fired by `run_timers` as a server started at a later
//! day would, once, in order, whichever of several processes gets there first.

use axum::http::StatusCode;
use metroplan_engine::model::RoleKind;
use serde_json::{Value, json};

use crate::support::*;

const OPEN: &str = "2021-03-01T10:00:00+01:00";

async fn applicant(env: &Env) -> String {
    env.token_with("asso", RoleKind::Applicant, None, Some("asso@example.org"))
        .await
}

async fn actions(env: &Env, id: &str) -> Vec<String> {
    let instr = env.token("lecture", RoleKind::Instructor).await;
    let r = env
        .get(&format!("/api/applications/{id}/events"), &instr)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["action"].as_str().unwrap_or_default().to_string())
        .collect()
}

async fn state(env: &Env, id: &str) -> Value {
    let instr = env.token("lecture-etat", RoleKind::Instructor).await;
    env.get(&format!("/api/applications/{id}"), &instr)
        .await
        .body
}

async fn mails_to(env: &Env, id: &str, who: &str) -> Vec<String> {
    env.texts(
        &format!("SELECT body AS v FROM outbox WHERE application_id = $1 AND recipient = '{who}' ORDER BY created_at"),
        id,
    )
    .await
}

#[tokio::test]
async fn an_incomplete_file_is_reminded_5_days_before_and_classed_sans_suite_the_day_after_its_deadline()
 {
    let env = Env::new(OPEN).await;
    let asso = applicant(&env).await;
    let r = env.file(&asso, application()).await;
    assert_eq!(r.body["state"], "incomplet", "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(r.body["deadline"], "2021-03-16", "{}", r.body);

    // Six days before the deadline: nothing is due.
    assert_eq!(
        env.ctx_at("2021-03-10T09:00:00+01:00")
            .run_timers()
            .await
            .unwrap(),
        0
    );
    // Five days before: the reminder, once.
    assert_eq!(
        env.ctx_at("2021-03-11T09:00:00+01:00")
            .run_timers()
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        env.ctx_at("2021-03-12T09:00:00+01:00")
            .run_timers()
            .await
            .unwrap(),
        0
    );
    let reminders = mails_to(&env, &id, "asso@example.org").await;
    assert!(
        reminders
            .iter()
            .filter(|m| m.contains("il vous reste 5 jours"))
            .count()
            == 1,
        "{reminders:?}"
    );
    // On the deadline the file may still be completed.
    assert_eq!(
        env.ctx_at("2021-03-16T23:00:00+01:00")
            .run_timers()
            .await
            .unwrap(),
        0
    );
    assert_eq!(state(&env, &id).await["state"], "incomplet");
    // The day after, without an agent: classé sans suite, with its reason.
    assert_eq!(
        env.ctx_at("2021-03-17T00:30:00+01:00")
            .run_timers()
            .await
            .unwrap(),
        1
    );
    let s = state(&env, &id).await;
    assert_eq!(s["state"], "sans-suite", "{s}");
    let acts = actions(&env, &id).await;
    assert!(
        acts.contains(&"reminder:relance-completude".to_string()),
        "{acts:?}"
    );
    assert_eq!(
        acts.iter().filter(|a| *a == "classer-a-echeance").count(),
        1,
        "{acts:?}"
    );
    let told = mails_to(&env, &id, "asso@example.org").await;
    assert!(
        told.iter()
            .any(|m| m.contains("sans intervention d'un agent")),
        "{told:?}"
    );
    // Nothing is left to fire.
    assert_eq!(
        env.ctx_at("2021-06-01T09:00:00+02:00")
            .run_timers()
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn a_file_completed_in_time_is_not_classed_sans_suite() {
    let env = Env::new(OPEN).await;
    let asso = applicant(&env).await;
    let id = env.eligible(&asso, application()).await;
    assert_eq!(
        env.ctx_at("2021-03-20T09:00:00+01:00")
            .run_timers()
            .await
            .unwrap(),
        0
    );
    assert_eq!(state(&env, &id).await["state"], "en-instruction");
    assert!(
        !actions(&env, &id)
            .await
            .contains(&"classer-a-echeance".to_string())
    );
}

#[tokio::test]
async fn silence_gives_an_implicit_rejection_two_months_after_the_complete_file() {
    let env = Env::new(OPEN).await;
    let asso = applicant(&env).await;
    let instr = env.token("instructrice", RoleKind::Instructor).await;
    let id = env.eligible(&asso, application()).await;
    // The file moves on, but the two months run from the complete file.
    env.act(&id, "soumettre-au-comite", &instr, json!({})).await;
    // (Meanwhile the committee's reminder, ten days after the file reached it.)
    env.ctx_at("2021-04-30T09:00:00+02:00")
        .run_timers()
        .await
        .unwrap();
    assert_eq!(state(&env, &id).await["state"], "avis-comite");
    assert!(
        !actions(&env, &id)
            .await
            .contains(&"rejeter-implicitement".to_string())
    );
    assert_eq!(
        env.ctx_at("2021-05-01T09:00:00+02:00")
            .run_timers()
            .await
            .unwrap(),
        1
    );
    let s = state(&env, &id).await;
    assert_eq!(s["state"], "rejete-implicitement", "{s}");
    // No commitment exists for it.
    assert!(s["awarded"].is_null(), "{s}");
}

/// A file awarded 7 500 € with its 50 % advance paid, the action ending 15 December 2021.
async fn envelope_2021(env: &Env) -> Value {
    let fin = env.token("finances-lecture", RoleKind::Finance).await;
    let r = env
        .get(
            &format!("/api/plans/{PLAN}/funds/{FUND}/envelope?year=2021"),
            &fin,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body
}

#[tokio::test]
async fn an_award_without_a_final_report_lapses_with_its_release_and_the_reclaim_of_the_advance() {
    let env = Env::new(OPEN).await;
    let asso = applicant(&env).await;
    let id = env.advanced(&asso).await;
    assert_eq!(envelope_2021(&env).await["committed"], "7500.00");
    // A month before the limit (15 March 2022), the reminder.
    assert_eq!(
        env.ctx_at("2022-02-15T09:00:00+01:00")
            .run_timers()
            .await
            .unwrap(),
        1
    );
    let mails = mails_to(&env, &id, "asso@example.org").await;
    assert!(mails.iter().any(|m| m.contains("bilan final")), "{mails:?}");
    assert_eq!(
        env.ctx_at("2022-03-15T20:00:00+01:00")
            .run_timers()
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        env.ctx_at("2022-03-16T08:00:00+01:00")
            .run_timers()
            .await
            .unwrap(),
        1
    );
    let s = state(&env, &id).await;
    assert_eq!(s["state"], "caduque", "{s}");
    // The unpaid half returns to the 2021 envelope; the advance is to be reclaimed.
    let e = envelope_2021(&env).await;
    assert_eq!(e["committed"], "3750.00", "{e}");
    assert_eq!(e["remaining"], "26250.00", "{e}");
    let kinds = env
        .texts(
            "SELECT kind || ':' || CAST(cents AS TEXT) AS v FROM ledger_entries WHERE application_id = $1 ORDER BY id",
            &id,
        )
        .await;
    assert_eq!(
        kinds,
        [
            "commit:750000",
            "payment:375000",
            "decommit:375000",
            "reclaim:375000"
        ]
    );
}

#[tokio::test]
async fn a_final_report_filed_in_time_keeps_the_award() {
    let env = Env::new(OPEN).await;
    let asso = applicant(&env).await;
    let id = env.advanced(&asso).await;
    env.final_report_pieces(&id, &asso).await;
    let r = env.act(&id, "deposer-bilan", &asso, json!({})).await;
    assert_eq!(r.body["state"], "bilan-depose", "{}", r.body);
    assert_eq!(
        env.ctx_at("2022-06-01T09:00:00+02:00")
            .run_timers()
            .await
            .unwrap(),
        0
    );
    assert_eq!(state(&env, &id).await["state"], "bilan-depose");
    assert_eq!(envelope_2021(&env).await["committed"], "7500.00");
}

#[tokio::test]
async fn a_server_started_after_deadlines_fires_each_step_once_in_order_and_no_stale_reminder() {
    let env = Env::new(OPEN).await;
    let asso = applicant(&env).await;
    let first = env.file(&asso, application()).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    // A second file, four days later: its deadline is 20 March.
    let other = env
        .token_with(
            "autre",
            RoleKind::Applicant,
            None,
            Some("autre@example.org"),
        )
        .await;
    let later = env.at("2021-03-05T10:00:00+01:00");
    let r = call_json(
        &later,
        axum::http::Method::POST,
        &format!("/api/plans/{PLAN}/funds/{FUND}/applications"),
        Some(&other),
        &[],
        Some(json!({"data": application_of("81234567800027", 5000)})),
    )
    .await;
    assert_eq!(r.body["deadline"], "2021-03-20", "{}", r.body);
    let second = r.body["id"].as_str().unwrap().to_string();
    // Stopped from 1 March to 1 April: both classements fell due, and both reminders,
    // which would now announce a deadline already past: the steps fire, the reminders not.
    assert_eq!(
        env.ctx_at("2021-04-01T09:00:00+02:00")
            .run_timers()
            .await
            .unwrap(),
        2
    );
    for id in [&first, &second] {
        let acts = actions(&env, id).await;
        assert_eq!(
            acts.iter().filter(|a| *a == "classer-a-echeance").count(),
            1,
            "{acts:?}"
        );
        assert!(!acts.iter().any(|a| a.starts_with("reminder:")), "{acts:?}");
    }
    // Oldest first: the file due on the 17th, then the one due on the 21st.
    let order = env
        .texts(
            "SELECT application_id AS v FROM events WHERE action = 'classer-a-echeance' AND application_id <> $1 ORDER BY seq",
            "",
        )
        .await;
    assert_eq!(order, [first.clone(), second.clone()]);
    // Each took effect on the day it fell due, not the day the server came back.
    let day = env
        .texts(
            "SELECT entered_on AS v FROM state_entries WHERE application_id = $1 AND state = 'sans-suite'",
            &first,
        )
        .await;
    assert_eq!(day, ["2021-03-17"]);
    assert_eq!(
        env.ctx_at("2021-04-02T09:00:00+02:00")
            .run_timers()
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn a_reminder_still_useful_when_the_server_comes_back_is_sent() {
    let env = Env::new(OPEN).await;
    let asso = applicant(&env).await;
    let id = env.file(&asso, application()).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Due on the 11th, back on the 14th: the deadline (16th) is still ahead.
    assert_eq!(
        env.ctx_at("2021-03-14T09:00:00+01:00")
            .run_timers()
            .await
            .unwrap(),
        1
    );
    assert!(
        actions(&env, &id)
            .await
            .contains(&"reminder:relance-completude".to_string())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_server_processes_on_one_database_never_fire_a_timer_twice() {
    let env = Env::new(OPEN).await;
    let asso = applicant(&env).await;
    let mut ids = Vec::new();
    for i in 0..6 {
        let data = application_of(&format!("812345678{i:05}"), 5000);
        let r = env.file(&asso, data).await;
        assert_eq!(r.body["state"], "incomplet", "{}", r.body);
        ids.push(r.body["id"].as_str().unwrap().to_string());
    }
    // First the reminders: nothing but the claim keeps two processes from sending each.
    let soon = "2021-03-14T09:00:00+01:00";
    let (a, b) = (env.ctx_at(soon), env.ctx_at(soon));
    let (x, y) = tokio::join!(
        tokio::spawn(async move { a.run_timers().await.unwrap() }),
        tokio::spawn(async move { b.run_timers().await.unwrap() })
    );
    assert_eq!(x.unwrap() + y.unwrap(), 6);
    for id in &ids {
        let acts = actions(&env, id).await;
        assert_eq!(
            acts.iter()
                .filter(|a| *a == "reminder:relance-completude")
                .count(),
            1,
            "{acts:?}"
        );
        assert_eq!(
            mails_to(&env, id, "asso@example.org")
                .await
                .iter()
                .filter(|m| m.contains("il vous reste"))
                .count(),
            1
        );
    }
    let later = "2021-04-01T09:00:00+02:00";
    let (a, b) = (env.ctx_at(later), env.ctx_at(later));
    let (x, y) = tokio::join!(
        tokio::spawn(async move { a.run_timers().await.unwrap() }),
        tokio::spawn(async move { b.run_timers().await.unwrap() })
    );
    // Then each file's classement, fired by one process or the other.
    assert_eq!(x.unwrap() + y.unwrap(), 6);
    for id in &ids {
        let acts = actions(&env, id).await;
        assert_eq!(
            acts.iter().filter(|a| *a == "classer-a-echeance").count(),
            1,
            "{acts:?}"
        );
    }
}

#[tokio::test]
async fn a_draft_is_reminded_seven_days_before_the_call_closes() {
    let env = Env::new(OPEN).await;
    let asso = applicant(&env).await;
    let r = env
        .call(
            axum::http::Method::POST,
            &format!("/api/plans/{PLAN}/funds/{FUND}/applications"),
            Some(&asso),
            &[],
            Some(json!({ "data": application(), "draft": true })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["state"], "brouillon", "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(
        env.ctx_at("2021-03-23T09:00:00+01:00")
            .run_timers()
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        env.ctx_at("2021-03-24T09:00:00+01:00")
            .run_timers()
            .await
            .unwrap(),
        1
    );
    let mails = mails_to(&env, &id, "asso@example.org").await;
    assert!(
        mails.iter().any(|m| m.contains("se clôt dans 7 jours")),
        "{mails:?}"
    );
}

#[tokio::test]
async fn a_committee_member_whose_opinion_is_awaited_for_ten_days_is_reminded_once() {
    let env = Env::new(OPEN).await;
    let asso = applicant(&env).await;
    let instr = env.token("instructrice", RoleKind::Instructor).await;
    // This member has not given an opinion: the only one reminded.
    env.account("attend@comite.example", RoleKind::Reviewer, None)
        .await;
    let gave = env
        .account("donne@comite.example", RoleKind::Reviewer, None)
        .await;
    let declared = env
        .account("lie@comite.example", RoleKind::Reviewer, None)
        .await;
    let id = env.eligible(&asso, application()).await;
    env.act(&id, "soumettre-au-comite", &instr, json!({})).await;
    let g = env.token_of(&gave).await;
    let r = env
        .act(
            &id,
            "donner-avis",
            &g,
            json!({"linked": false, "favourable": false, "opinion": "Fragile."}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let d = env.token_of(&declared).await;
    let r = env
        .act(&id, "donner-avis", &d, json!({"linked": true}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        env.ctx_at("2021-03-10T09:00:00+01:00")
            .run_timers()
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        env.ctx_at("2021-03-11T09:00:00+01:00")
            .run_timers()
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        env.ctx_at("2021-03-12T09:00:00+01:00")
            .run_timers()
            .await
            .unwrap(),
        0
    );
    assert_eq!(mails_to(&env, &id, "attend@comite.example").await.len(), 1);
    assert!(mails_to(&env, &id, "donne@comite.example").await.is_empty());
    assert!(mails_to(&env, &id, "lie@comite.example").await.is_empty());
    // The applicant's history does not show the committee's reminder; staff's does.
    let mine = env
        .get(&format!("/api/applications/{id}/events"), &asso)
        .await
        .body;
    assert!(!mine.to_string().contains("relance-avis"), "{mine}");
    assert!(
        actions(&env, &id)
            .await
            .contains(&"reminder:relance-avis".to_string())
    );
}
