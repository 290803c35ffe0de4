//! One identity per person: ownership, idempotency, the filer and applicant keys compare
//! stable ids, never display names; scopes are (plan, fund) pairs; each viewer reads what
//! concerns them (issue 16, items 2 and 3).

use axum::http::{Method, StatusCode};
use metroplan_engine::model::RoleKind;
use serde_json::{Value, json};

use crate::support::*;

const OPEN: &str = "2021-03-01T10:00:00+01:00";
const SIRET: &str = "81234567800019";

fn ids(list: &Res) -> Vec<String> {
    list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_string())
        .collect()
}

async fn file_with_key(env: &Env, token: &str, data: Value, key: &str) -> Res {
    env.call(
        Method::POST,
        &format!("/api/plans/{PLAN}/funds/{FUND}/applications"),
        Some(token),
        &[("idempotency-key", key)],
        Some(json!({ "data": data, "draft": true })),
    )
    .await
}

#[tokio::test]
async fn a_draft_cannot_be_filed_under_a_key_transferred_to_another_applicant_since() {
    let env = Env::new(OPEN).await;
    let first = env.token("premier", RoleKind::Applicant).await;
    let second = env.token("second", RoleKind::Applicant).await;
    let data = application_of("81234567800027", 5000);
    let draft = file_with_key(&env, &first, data.clone(), "brouillon").await;
    assert_eq!(draft.status, StatusCode::CREATED, "{}", draft.body);
    let id = draft.body["id"].as_str().unwrap().to_string();
    let theirs = file_with_key(&env, &second, application_of("81234567800035", 5000), "x").await;
    let second_id: String = sqlx::query_scalar("SELECT owner_id FROM applications WHERE id = $1")
        .bind(theirs.body["id"].as_str().unwrap())
        .fetch_one(&env.db.pool)
        .await
        .unwrap();
    metroplan_server::applicant_keys::transfer(
        &env.db,
        PLAN,
        FUND,
        "81234567800027",
        &second_id,
        "cli",
        "2021-03-01T09:00:00Z",
    )
    .await
    .unwrap();
    // Filing the old draft, without new data, is refused: the key is someone else's now.
    let r = env.act(&id, "deposer", &first, json!({})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(
        r.body["type"], "/problems/applicant-key-bound",
        "{}",
        r.body
    );
    let state: String = sqlx::query_scalar("SELECT state FROM applications WHERE id = $1")
        .bind(&id)
        .fetch_one(&env.db.pool)
        .await
        .unwrap();
    assert_eq!(state, "brouillon", "nothing changed");
}

#[tokio::test]
async fn two_tokens_of_one_name_are_two_identities_for_files_and_idempotency_replies() {
    let env = Env::new(OPEN).await;
    let first = env.token("Mairie", RoleKind::Applicant).await;
    let second = env.token("Mairie", RoleKind::Applicant).await;
    let mine = file_with_key(&env, &first, application(), "depot-1").await;
    assert_eq!(mine.status, StatusCode::CREATED, "{}", mine.body);
    let id = mine.body["id"].as_str().unwrap().to_string();

    // The same key from the other token is another request: not the first one's reply.
    let theirs = file_with_key(
        &env,
        &second,
        application_of("81234567800027", 5000),
        "depot-1",
    )
    .await;
    assert_eq!(theirs.status, StatusCode::CREATED, "{}", theirs.body);
    assert_ne!(theirs.body["id"], mine.body["id"]);
    assert!(theirs.headers.get("idempotent-replayed").is_none());

    let read = env.get(&format!("/api/applications/{id}"), &second).await;
    assert_eq!(read.status, StatusCode::NOT_FOUND, "{}", read.body);
    let events = env
        .get(&format!("/api/applications/{id}/events"), &second)
        .await;
    assert_eq!(events.status, StatusCode::NOT_FOUND);
    let withdraw = env.act(&id, "retirer", &second, json!({})).await;
    assert_eq!(withdraw.status, StatusCode::NOT_FOUND, "{}", withdraw.body);
    assert_eq!(ids(&env.get("/api/applications", &second).await).len(), 1);
    assert_eq!(
        ids(&env.get("/api/applications", &first).await),
        vec![id.clone()]
    );
    let still = env.get(&format!("/api/applications/{id}"), &first).await;
    assert_eq!(still.body["state"], "brouillon");
}

#[tokio::test]
async fn a_service_token_named_like_an_accounts_email_is_not_that_account() {
    let env = Env::new(OPEN).await;
    let user = env
        .account("asso@example.org", RoleKind::Applicant, Some(SIRET))
        .await;
    let own = env.token_of(&user).await;
    let id = env.eligible(&own, application()).await;
    // A token made with `--user` is the account: the same identity as its other tokens.
    let another_of_hers = env.token_of(&user).await;
    let r = env
        .get(&format!("/api/applications/{id}"), &another_of_hers)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    let impostor = env.token("asso@example.org", RoleKind::Applicant).await;
    let r = env.get(&format!("/api/applications/{id}"), &impostor).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    let r = env.act(&id, "retirer", &impostor, json!({})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    assert!(ids(&env.get("/api/applications", &impostor).await).is_empty());
}

/// Takes `id` from `en-instruction` to `a-decider` with one favourable opinion.
async fn to_decision(env: &Env, id: &str) {
    let instr = env.token("instr-dupont", RoleKind::Instructor).await;
    let r = env.act(id, "soumettre-au-comite", &instr, json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    for _ in 0..2 {
        let rev = env.token("membre-martin", RoleKind::Reviewer).await;
        let r = env
            .act(
                id,
                "donner-avis",
                &rev,
                json!({"linked": false, "favourable": true, "opinion": "Projet solide, équipe fragile", "scores": {"diagnostic": 12, "innovation": 10}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    let r = env
        .act(id, "proposer-decision", &instr, json!({"amount": "1000"}))
        .await;
    assert_eq!(r.body["state"], "a-decider", "{}", r.body);
}

#[tokio::test]
async fn the_filer_by_applicant_key_takes_no_part_in_staff_steps_whatever_the_account() {
    let env = Env::new(OPEN).await;
    let applicant = env
        .account("presidente@asso.example", RoleKind::Applicant, Some(SIRET))
        .await;
    let filed = env.token_of(&applicant).await;
    let id = env.eligible(&filed, application()).await;
    to_decision(&env, &id).await;
    // The same person's staff account, made with the association's SIRET.
    let approver = env
        .account("elue@ville.example", RoleKind::Approver, Some(SIRET))
        .await;
    let herself = env.token_of(&approver).await;
    let r = env
        .act(&id, "attribuer", &herself, json!({"amount": 5000}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["guard"], "not-filer");
    // Another approver decides.
    let other = env.token("autre-elue", RoleKind::Approver).await;
    let r = env
        .act(&id, "attribuer", &other, json!({"amount": 5000}))
        .await;
    assert_eq!(r.body["state"], "attribue", "{}", r.body);
}

#[tokio::test]
async fn an_applicant_key_is_bound_to_one_account_and_an_administrator_transfers_it() {
    let env = Env::new(OPEN).await;
    // The association registered with its SIRET: the key is hers before she files.
    let asso = env
        .account("asso@example.org", RoleKind::Applicant, Some(SIRET))
        .await;
    let throwaway = env.token("jetable", RoleKind::Applicant).await;
    let r = env.file(&throwaway, application()).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(r.body["field"], "data.applicant.siret");
    assert_eq!(r.body["type"], "/problems/applicant-key-bound");
    // Nor as a draft.
    let r = file_with_key(&env, &throwaway, application(), "k").await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(ids(&env.get("/api/applications", &throwaway).await).is_empty());

    let hers = env.token_of(&asso).await;
    env.eligible(&hers, application()).await;

    // A key nobody registered is bound to its first filer.
    let first = env.token("premier", RoleKind::Applicant).await;
    let second = env.token("second", RoleKind::Applicant).await;
    let other = application_of("81234567800027", 5000);
    let r_first = file_with_key(&env, &first, other.clone(), "v").await;
    let r = env.file(&second, other.clone()).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);

    // An administrator gives it to `second`: they file; `first` no longer can.
    let owner_of = |r: Res| {
        let pool = env.db.pool.clone();
        async move {
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
            sqlx::query_scalar::<_, String>("SELECT owner_id FROM applications WHERE id = $1")
                .bind(r.body["id"].as_str().unwrap().to_string())
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    let first_id = owner_of(r_first).await;
    let second_id =
        owner_of(file_with_key(&env, &second, application_of("81234567800035", 5000), "x").await)
            .await;
    let to = metroplan_server::applicant_keys::resolve(&env.db, &second_id)
        .await
        .unwrap();
    assert_eq!(to, second_id);
    let before = metroplan_server::applicant_keys::transfer(
        &env.db,
        PLAN,
        FUND,
        "81234567800027",
        &to,
        "cli",
        "2021-03-01T09:00:00Z",
    )
    .await
    .unwrap();
    assert_eq!(before.as_deref(), Some(first_id.as_str()));
    let r = file_with_key(&env, &second, other.clone(), "y").await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = file_with_key(&env, &first, other, "z").await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);

    // The transfer is in the audit trail, and the chain holds.
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM events WHERE action = 'applicant-key-transfer' AND actor = 'cli'",
    )
    .fetch_one(&env.db.pool)
    .await
    .unwrap();
    assert_eq!(n, 1);
    assert!(
        metroplan_server::audit::verify(&env.db)
            .await
            .unwrap()
            .is_ok()
    );
}

#[tokio::test]
async fn a_fund_scoped_token_reaches_that_fund_of_its_plan_only() {
    let (_tmp, dir) = plans_copy();
    let status = std::process::Command::new("cp")
        .arg("-r")
        .arg(dir.join("amp-pmlcd"))
        .arg(dir.join("amp-bis"))
        .status()
        .unwrap();
    assert!(status.success());
    edit(
        &dir.join("amp-bis/plan.toml"),
        "id = \"amp-pmlcd\"",
        "id = \"amp-bis\"",
    );
    let env = Env::with_plans(OPEN, &dir).await;
    let asso = env.token("asso", RoleKind::Applicant).await;
    let here = env.eligible(&asso, application()).await;
    let r = env
        .call(
            Method::POST,
            &format!("/api/plans/amp-bis/funds/{FUND}/applications"),
            Some(&asso),
            &[],
            Some(json!({"data": application(), "draft": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let there = r.body["id"].as_str().unwrap().to_string();

    let instr = env
        .token_scoped("instructeur", RoleKind::Instructor, PLAN, FUND)
        .await;
    let r = env.get(&format!("/api/applications/{here}"), &instr).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = env.get(&format!("/api/applications/{there}"), &instr).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    let r = env
        .get(&format!("/api/applications/{there}/events"), &instr)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        ids(&env.get("/api/applications", &instr).await),
        vec![here.clone()]
    );
    let r = env
        .get(
            &format!("/api/plans/amp-bis/funds/{FUND}/envelope?year=2021"),
            &instr,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
}

#[tokio::test]
async fn the_applicant_reads_no_reviewer_opinion_nor_staff_identity_in_the_events() {
    let env = Env::new(OPEN).await;
    let asso = env.token("asso", RoleKind::Applicant).await;
    let id = env.eligible(&asso, application()).await;
    to_decision(&env, &id).await;
    let elue = env.token("elue@ville.example", RoleKind::Approver).await;
    let r = env
        .act(
            &id,
            "refuser",
            &elue,
            json!({"reason": "Hors priorités de l'année"}),
        )
        .await;
    assert_eq!(r.body["state"], "refuse", "{}", r.body);

    let admin = env.token("admin", RoleKind::Admin).await;
    let staff = env
        .get(&format!("/api/applications/{id}/events"), &admin)
        .await;
    let staff_text = staff.body.to_string();
    assert!(staff_text.contains("Projet solide"), "staff read opinions");
    let staff_ids: Vec<String> = staff
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| !["applicant", "system"].contains(&e["role"].as_str().unwrap()))
        .map(|e| e["actor"].as_str().unwrap().to_string())
        .collect();
    assert!(staff_ids.len() >= 5, "{staff_text}");

    let mine = env
        .get(&format!("/api/applications/{id}/events"), &asso)
        .await;
    assert_eq!(mine.status, StatusCode::OK);
    let text = mine.body.to_string();
    for hidden in [
        "Projet solide",
        "scores",
        "linked",
        "elue@ville.example",
        "instr-dupont",
        "membre-martin",
        "actor_name",
    ] {
        assert!(
            !text.contains(hidden),
            "`{hidden}` shown to the applicant: {text}"
        );
    }
    for staff_id in &staff_ids {
        assert!(
            !text.contains(staff_id.as_str()),
            "{staff_id} shown: {text}"
        );
    }
    let events = mine.body.as_array().unwrap();
    assert!(
        !events.iter().any(|e| e["action"] == "donner-avis"),
        "opinions are the committee's: {text}"
    );
    let refusal = events.iter().find(|e| e["action"] == "refuser").unwrap();
    assert_eq!(refusal["actor"], "approver");
    assert_eq!(refusal["reason"], "Hors priorités de l'année");
    assert_eq!(refusal["to_state"], "refuse");
    // Their own steps are theirs to read, with what they sent.
    assert!(
        events
            .iter()
            .any(|e| e["action"] == "completer" && e["role"] == "applicant")
    );
}

#[tokio::test]
async fn rows_written_before_identities_were_ids_keep_their_owner_after_the_migration() {
    let data = application().to_string().replace('\'', "''");
    let app = |id: &str, owner: &str, siret: &str| {
        format!(
            "INSERT INTO applications (id, plan, fund, call_year, applicant_key, state, version, owner, data, created_at, updated_at) \
             VALUES ('{id}', '{PLAN}', '{FUND}', 2021, '{siret}', 'brouillon', 1, '{owner}', '{data}', '2021-02-0{n}T10:00:00Z', '2021-02-01T10:00:00Z')",
            n = id.len() % 9 + 1
        )
    };
    let rows = [
        "INSERT INTO users (id, email, name, role, siret, password_hash, created_at) VALUES ('u1', 'asso@example.org', 'Asso', 'applicant', NULL, 'x', '2021-01-01T00:00:00Z')".to_string(),
        "INSERT INTO tokens (id, name, role, hash, created_at, user_id, email) VALUES ('tu', 'asso@example.org', 'applicant', 'h0', '2021-01-01T00:00:00Z', 'u1', 'asso@example.org')".to_string(),
        "INSERT INTO tokens (id, name, role, hash, created_at) VALUES ('t1', 'Mairie', 'applicant', 'h1', '2021-01-02T00:00:00Z')".to_string(),
        "INSERT INTO tokens (id, name, role, hash, created_at) VALUES ('t2', 'Mairie', 'applicant', 'h2', '2021-01-03T00:00:00Z')".to_string(),
        "INSERT INTO tokens (id, name, role, hash, created_at) VALUES ('t3', 'instr', 'instructor', 'h3', '2021-01-03T00:00:00Z')".to_string(),
        app("a", "asso@example.org", "81234567800019"),
        app("bb", "Mairie", "81234567800027"),
        app("ccc", "disparu", "81234567800035"),
        "INSERT INTO participants (application_id, actor, kind) VALUES ('a', 'instr', 'instructor')".to_string(),
        "INSERT INTO idempotency (principal, key, request_hash, status, body, created_at) VALUES ('Mairie', 'k', 'h', 201, '{}', '2021-01-01T00:00:00Z')".to_string(),
    ];
    let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
    let env = Env::upgraded(OPEN, &repo().join("plans"), 2, &rows).await;
    let owners: Vec<(String, String)> =
        sqlx::query_as("SELECT id, owner_id FROM applications ORDER BY id")
            .fetch_all(&env.db.pool)
            .await
            .unwrap();
    assert_eq!(
        owners,
        [
            ("a".to_string(), "user:u1".to_string()),
            ("bb".to_string(), "token:t1".to_string()),
            ("ccc".to_string(), "name:disparu".to_string()),
        ]
    );
    let actor: String = sqlx::query_scalar("SELECT actor FROM participants")
        .fetch_one(&env.db.pool)
        .await
        .unwrap();
    assert_eq!(actor, "token:t3");
    let keys: Vec<(String, String)> =
        sqlx::query_as("SELECT key, principal_id FROM applicant_keys ORDER BY key")
            .fetch_all(&env.db.pool)
            .await
            .unwrap();
    assert_eq!(keys.len(), 3, "{keys:?}");
    assert_eq!(keys[0], ("81234567800019".into(), "user:u1".into()));

    // Through the router: the account still reads its file, whatever token of hers.
    let user = metroplan_server::accounts::find_by_email(&env.db, "asso@example.org")
        .await
        .unwrap()
        .unwrap();
    let hers = env.token_of(&user).await;
    let r = env.get("/api/applications/a", &hers).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(ids(&env.get("/api/applications", &hers).await), ["a"]);
    let admin = env.token("admin", RoleKind::Admin).await;
    let r = env.get("/api/applications/ccc", &admin).await;
    assert_eq!(r.status, StatusCode::OK, "staff still read it: {}", r.body);
}

#[tokio::test]
async fn the_applicants_page_shows_decisions_but_no_opinion_nor_staff_name() {
    let env = Env::new(OPEN).await;
    let asso = crate::web::account(&env, "asso@example.org", RoleKind::Applicant).await;
    let id = crate::web::filed_by(&env, &asso).await;
    to_decision(&env, &id).await;
    let elue = env.token("elue@ville.example", RoleKind::Approver).await;
    let r = env
        .act(&id, "refuser", &elue, json!({"reason": "Hors priorités"}))
        .await;
    assert_eq!(r.body["state"], "refuse", "{}", r.body);
    let mut b = crate::web::Browser::new(env.app.clone());
    b.sign_in("asso@example.org").await;
    let page = b.get(&format!("/dossiers/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text;
    assert!(html.contains("Hors priorités"), "the decision's reason");
    assert!(html.contains("Élu délégué"), "who decided, as a role");
    for hidden in [
        "Donner un avis et noter le dossier",
        "Projet solide",
        "elue@ville.example",
        "instr-dupont",
        "membre-martin",
    ] {
        assert!(!html.contains(hidden), "`{hidden}` on the applicant's page");
    }
}

#[tokio::test]
async fn a_siret_sent_from_the_page_is_always_the_accounts_own() {
    let env = Env::new(OPEN).await;
    // The association registered with its SIRET (81234567800019).
    crate::web::account(&env, "asso@example.org", RoleKind::Applicant).await;
    env.account(
        "autre@example.org",
        RoleKind::Applicant,
        Some("81234567800027"),
    )
    .await;
    let mut b = crate::web::Browser::new(env.app.clone());
    b.sign_in("autre@example.org").await;
    let page = format!("/plans/{PLAN}/fonds/{FUND}/deposer");
    let g = b.get(&page).await;
    assert_eq!(g.status, StatusCode::OK, "{}", g.text);
    // The page shows her account's SIRET as text: another one sent by hand is replaced by
    // hers, and the draft is saved under hers (the API's refusal is tested above).
    let r = b
        .post_files(&page, &page, &[("f.applicant.siret", SIRET)], &[])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let to = r.headers["location"].to_str().unwrap().to_string();
    let html = b.get(&to).await.text;
    assert!(html.contains("81234567800027") || html.contains("812 345 678 00027"));
    assert!(
        !html.contains(SIRET),
        "the other account's SIRET is not taken"
    );
}
