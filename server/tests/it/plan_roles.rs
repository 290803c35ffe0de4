//! Plan roles per person: staff hold roles of a plan (for a fund or every fund), not only a
//! role kind. Lyon's plan has two approval levels of one kind (`chef-de-service` validates,
//! `conseiller-delegue` awards): a person granted the first cannot take the second, and one
//! approver without grants takes one level only (the plan's separation of duties).

use std::io::Write as _;
use std::process::{Command, Stdio};

use axum::http::{Method, StatusCode};
use metroplan_engine::model::RoleKind;
use metroplan_server::accounts::{self, NewUser};
use metroplan_server::demo;
use metroplan_server::grants::Grant;
use serde_json::{Value, json};
use sqlx::Row;

use crate::support::*;
use crate::web::{Browser, PASSWORD};

const JUNE_2020: &str = "2020-06-15T10:00:00+02:00";
const LYON: &str = "lyon-pama";
const BIKE: &str = "aide-velo";

/// A Lyon request of the applicant `token`, taken to `a-valider` (pieces uploaded, the
/// invoice checked by an instructor). Returns its id.
async fn to_validate(env: &Env, token: &str, numero_fiscal: &str) -> String {
    let data = json!({
        "call": 2020,
        "beneficiaire": {"nom": "Camille Martin", "numero_fiscal": numero_fiscal, "reside_metropole": true},
        "velo": {"type": "vae", "modele": "Vélo de ville électrique", "coupure_25kmh": true, "batterie_plomb": false},
        "achat": {"date": "2020-06-10", "prix_ttc": "1200.00", "vendeur_metropole": true, "aide_etat_demandee": false},
        "aide": {"montant_demande": 500}
    });
    let r = env
        .call(
            Method::POST,
            &format!("/api/plans/{LYON}/funds/{BIKE}/applications"),
            Some(token),
            &[],
            Some(json!({ "data": data })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    for kind in ["facture", "justificatif-domicile", "rib"] {
        let u = env.upload(&id, kind, token, PDF, "piece.pdf").await;
        assert_eq!(u.status, StatusCode::OK, "{}", u.body);
    }
    let r = env.act(&id, "completer", token, json!({})).await;
    assert_eq!(r.body["state"], "a-verifier", "{}", r.body);
    let instr = env.token("agent-mobilites", RoleKind::Instructor).await;
    let r = env.act(&id, "verifier-facture", &instr, json!({})).await;
    assert_eq!(r.body["state"], "a-valider", "{}", r.body);
    id
}

/// A staff account holding `roles` of Lyon's plan (every fund), as `user create --plan
/// lyon-pama --plan-role ROLE` makes it.
async fn lyon_staff(env: &Env, email: &str, role: RoleKind, roles: &[&str]) -> accounts::User {
    let grants: Vec<Grant> = roles
        .iter()
        .map(|r| Grant {
            plan: LYON.into(),
            fund: None,
            role: r.to_string(),
        })
        .collect();
    accounts::create_user(
        &env.db,
        NewUser {
            email,
            name: email,
            role,
            plan: Some(LYON),
            fund: None,
            siret: None,
            password: PASSWORD,
            grants: &grants,
        },
        jiff::Timestamp::now(),
    )
    .await
    .expect("account")
}

fn assert_refused_by_role(r: &Res, what: &str) {
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{what}: {}", r.body);
    assert_ne!(r.body["guard"], "distinct-from", "{what}: {}", r.body);
}

#[tokio::test]
async fn lyon_service_head_validates_and_cannot_award() {
    let env = Env::new(JUNE_2020).await;
    let camille = env.token("camille", RoleKind::Applicant).await;
    let id = to_validate(&env, &camille, "1234567890123").await;
    let head = lyon_staff(
        &env,
        "chef@mobilites.example",
        RoleKind::Approver,
        &["chef-de-service"],
    )
    .await;
    let token = env.token_of(&head).await;

    let r = env.act(&id, "valider", &token, json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["state"], "a-attribuer", "{}", r.body);
    // Refused for the role, before the separation of duties is even asked.
    let r = env
        .act(&id, "attribuer", &token, json!({"amount": "500"}))
        .await;
    assert_refused_by_role(&r, "the service head awards");
    let r = env
        .act(&id, "refuser", &token, json!({"reason": "Pas de budget."}))
        .await;
    assert_refused_by_role(&r, "the service head refuses the aid");

    // The same on a file the service head did not validate: it is the role, not the person.
    let other = to_validate(&env, &camille, "1234567890124").await;
    let anyone = env.token("autre-chef", RoleKind::Approver).await;
    let r = env.act(&other, "valider", &anyone, json!({})).await;
    assert_eq!(r.body["state"], "a-attribuer", "{}", r.body);
    let r = env
        .act(&other, "attribuer", &token, json!({"amount": "500"}))
        .await;
    assert_refused_by_role(&r, "the service head awards another's validation");
    let councillor = lyon_staff(
        &env,
        "conseiller@mobilites.example",
        RoleKind::Approver,
        &["conseiller-delegue"],
    )
    .await;
    let r = env
        .act(
            &other,
            "attribuer",
            &env.token_of(&councillor).await,
            json!({"amount": "500"}),
        )
        .await;
    assert_eq!(r.body["state"], "attribuee", "{}", r.body);
}

#[tokio::test]
async fn lyon_two_levels_are_taken_by_two_persons() {
    let env = Env::new(JUNE_2020).await;
    let camille = env.token("camille", RoleKind::Applicant).await;
    let id = to_validate(&env, &camille, "1234567890123").await;
    // No grant: every approver role of the plan, as accounts made before plan roles.
    let first = env
        .account("premier@mobilites.example", RoleKind::Approver, None)
        .await;
    let first = env.token_of(&first).await;
    let second = env
        .account("second@mobilites.example", RoleKind::Approver, None)
        .await;
    let second = env.token_of(&second).await;

    let r = env.act(&id, "valider", &first, json!({})).await;
    assert_eq!(r.body["state"], "a-attribuer", "{}", r.body);
    let r = env
        .act(&id, "attribuer", &first, json!({"amount": "500"}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["guard"], "distinct-from", "{}", r.body);
    let r = env
        .act(&id, "attribuer", &second, json!({"amount": "500"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["state"], "attribuee", "{}", r.body);
}

/// The forms of the actions a file's page offers.
fn offered(page: &str, id: &str) -> Vec<String> {
    let prefix = format!("action=\"/dossiers/{id}/actions/");
    page.split(prefix.as_str())
        .skip(1)
        .filter_map(|r| r.split('"').next())
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn lyon_pages_offer_the_service_head_only_the_actions_of_their_plan_role() {
    let env = Env::new(JUNE_2020).await;
    let camille = env.token("camille", RoleKind::Applicant).await;
    let id = to_validate(&env, &camille, "1234567890123").await;
    let head = lyon_staff(
        &env,
        "chef@mobilites.example",
        RoleKind::Approver,
        &["chef-de-service"],
    )
    .await;
    env.account("approbateur@mobilites.example", RoleKind::Approver, None)
        .await;
    let page = format!("/dossiers/{id}");

    let mut chef = Browser::new(env.app.clone());
    assert_eq!(
        chef.sign_in(&head.email).await.status,
        StatusCode::SEE_OTHER
    );
    let mut any = Browser::new(env.app.clone());
    assert_eq!(
        any.sign_in("approbateur@mobilites.example").await.status,
        StatusCode::SEE_OTHER
    );
    // In `a-valider`: validating is the service head's; refusing is the councillor's.
    assert_eq!(offered(&chef.get(&page).await.text, &id), ["valider"]);
    assert_eq!(
        offered(&any.get(&page).await.text, &id),
        ["valider", "refuser"]
    );
    let list = chef.get("/instruction").await.text;
    assert!(list.contains("value=\"valider\""), "{list}");
    assert!(!list.contains("value=\"attribuer\""), "{list}");
    let r = env
        .act(&id, "valider", &env.token_of(&head).await, json!({}))
        .await;
    assert_eq!(r.body["state"], "a-attribuer", "{}", r.body);
    // In `a-attribuer`: nothing for the service head.
    assert_eq!(
        offered(&chef.get(&page).await.text, &id),
        Vec::<String>::new()
    );
    assert_eq!(
        offered(&any.get(&page).await.text, &id),
        ["attribuer", "refuser"]
    );
    // The bulk actions of the staff list: the steps a listed file could take, of the
    // service head's role only; none once no file waits for the service head.
    let list = chef.get("/instruction").await.text;
    assert!(!list.contains("value=\"valider\""), "{list}");
    assert!(!list.contains("value=\"attribuer\""), "{list}");
    assert!(!list.contains("value=\"refuser\""), "{list}");
}

#[tokio::test]
async fn in_the_demo_lyon_service_head_cannot_award() {
    let env = Env::new(JUNE_2020).await;
    let seeded = demo::seed(&env.db, &env.plans.current(), jiff::Timestamp::now())
        .await
        .expect("seed");
    let lyon_role = |a: &demo::DemoAccount| {
        a.grants
            .iter()
            .find(|g| g.plan == LYON)
            .map(|g| g.role.clone())
    };
    let approvers: Vec<&demo::DemoAccount> = seeded
        .iter()
        .filter(|a| a.role == RoleKind::Approver)
        .collect();
    let of = |role: &str| {
        approvers
            .iter()
            .find(|a| lyon_role(a).as_deref() == Some(role))
            .unwrap_or_else(|| panic!("a trial account holds {role}: {seeded:?}"))
    };
    let (head, councillor) = (of("chef-de-service"), of("conseiller-delegue"));
    assert_ne!(head.email, councillor.email);
    // Every trial member of staff holds a plan role of their kind in each plan declaring one.
    for a in seeded.iter().filter(|a| a.role != RoleKind::Applicant) {
        assert!(!a.grants.is_empty(), "{a:?}");
        for g in &a.grants {
            let plan = env.plans.get(&g.plan).unwrap();
            assert_eq!(
                plan.plan.role(&g.role).and_then(|r| r.kind),
                Some(a.role),
                "{a:?}"
            );
        }
    }

    let camille = env.token("camille", RoleKind::Applicant).await;
    let id = to_validate(&env, &camille, "1234567890123").await;
    let user = |email: &str| {
        let email = email.to_string();
        let db = env.db.clone();
        async move { accounts::find_by_email(&db, &email).await.unwrap().unwrap() }
    };
    let head = env.token_of(&user(&head.email).await).await;
    let councillor = env.token_of(&user(&councillor.email).await).await;
    let r = env.act(&id, "valider", &head, json!({})).await;
    assert_eq!(r.body["state"], "a-attribuer", "{}", r.body);
    let r = env
        .act(&id, "attribuer", &head, json!({"amount": "500"}))
        .await;
    assert_refused_by_role(&r, "the demo's service head awards");
    let r = env
        .act(&id, "attribuer", &councillor, json!({"amount": "500"}))
        .await;
    assert_eq!(r.body["state"], "attribuee", "{}", r.body);
}

/// `metroplan ARGS` on the test's database and the repository's plans, `stdin` on its
/// standard input: its exit code and standard error.
fn metroplan(env: &Env, args: &[&str], stdin: &str) -> (Option<i32>, String, String) {
    let plans = repo().join("plans");
    let mut child = Command::new(env!("CARGO_BIN_EXE_metroplan"))
        .args(args)
        .args(["--database", &env.url, "--plans"])
        .arg(&plans)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("metroplan runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn count(env: &Env, table: &str) -> i64 {
    let q = match table {
        "users" => "SELECT COUNT(*) AS n FROM users",
        "tokens" => "SELECT COUNT(*) AS n FROM tokens",
        "role_grants" => "SELECT COUNT(*) AS n FROM role_grants",
        _ => unreachable!("{table}"),
    };
    sqlx::query(q)
        .fetch_one(&env.db.pool)
        .await
        .unwrap()
        .try_get("n")
        .unwrap()
}

#[tokio::test]
async fn user_and_token_create_refuse_plan_roles_the_plan_does_not_give_their_kind_and_write_nothing()
 {
    let env = Env::new(JUNE_2020).await;
    let user = [
        "user",
        "create",
        "--email",
        "chef@mobilites.example",
        "--role",
        "approver",
    ];
    let token = ["token", "create", "--name", "script", "--role", "approver"];
    let approvers = "its roles of kind approver: `chef-de-service`, `conseiller-delegue`";
    // (command, what is added, what the error says)
    let cases: &[(&[&str], &[&str], &[&str])] = &[
        (
            &user,
            &["--plan", LYON, "--plan-role", "chef"],
            &["plan `lyon-pama` has no role `chef`", approvers],
        ),
        (
            &user,
            &["--plan", LYON, "--plan-role", "instructeur"],
            &[
                "role `instructeur` of plan `lyon-pama` is of kind instructor, not approver",
                approvers,
            ],
        ),
        (
            &user,
            &[
                "--plan",
                LYON,
                "--plan-role",
                "chef-de-service",
                "--plan-role",
                "agent-comptable",
            ],
            &["`agent-comptable`", "of kind finance, not approver"],
        ),
        (
            &user,
            &["--plan", "amp-pmlcd", "--plan-role", "chef-de-service"],
            &[
                "plan `amp-pmlcd` has no role `chef-de-service`",
                "its roles of kind approver: `elue-deleguee`",
            ],
        ),
        (
            &user,
            &["--plan", "nulle-part", "--plan-role", "chef-de-service"],
            &["no plan `nulle-part`"],
        ),
        (
            &user,
            &[
                "--plan",
                LYON,
                "--fund",
                "nul",
                "--plan-role",
                "chef-de-service",
            ],
            &["plan `lyon-pama` has no fund `nul`"],
        ),
        (&user, &["--fund", BIKE], &["--plan"]),
        (&user, &["--plan-role", "chef-de-service"], &["--plan"]),
        (
            &token,
            &["--plan", LYON, "--plan-role", "demandeur"],
            &[
                "role `demandeur` of plan `lyon-pama` is of kind applicant, not approver",
                approvers,
            ],
        ),
        (&token, &["--plan-role", "chef-de-service"], &["--plan"]),
        (
            &["token", "create", "--user", "chef@mobilites.example"],
            &["--plan-role", "chef-de-service"],
            &["--plan-role"],
        ),
    ];
    for (command, added, said) in cases {
        let args: Vec<&str> = command.iter().chain(added.iter()).copied().collect();
        let (code, _, err) = metroplan(&env, &args, "une phrase de passe solide\n");
        assert_eq!(code, Some(2), "{args:?}: {err}");
        for s in *said {
            assert!(err.contains(s), "{args:?}: `{s}` not in {err}");
        }
    }
    for table in ["users", "tokens", "role_grants"] {
        assert_eq!(count(&env, table).await, 0, "{table}: nothing written");
    }
}

#[tokio::test]
async fn plan_roles_given_by_user_create_hold_for_the_tokens_made_for_the_person() {
    let env = Env::new(JUNE_2020).await;
    let (code, _, err) = metroplan(
        &env,
        &[
            "user",
            "create",
            "--email",
            "chef@mobilites.example",
            "--role",
            "approver",
            "--plan",
            LYON,
            "--fund",
            BIKE,
            "--plan-role",
            "chef-de-service",
        ],
        "une phrase de passe solide\n",
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("plan roles chef-de-service in lyon-pama/aide-velo"),
        "{err}"
    );
    let u = accounts::find_by_email(&env.db, "chef@mobilites.example")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (u.plan.as_deref(), u.fund.as_deref()),
        (Some(LYON), Some(BIKE))
    );
    assert_eq!(
        u.grants,
        [Grant {
            plan: LYON.into(),
            fund: Some(BIKE.into()),
            role: "chef-de-service".into()
        }]
    );
    let (code, token, err) = metroplan(
        &env,
        &["token", "create", "--user", "chef@mobilites.example"],
        "",
    );
    assert_eq!(code, Some(0), "{err}");
    let token = token.trim();

    let camille = env.token("camille", RoleKind::Applicant).await;
    let id = to_validate(&env, &camille, "1234567890123").await;
    let r = env.act(&id, "valider", token, json!({})).await;
    assert_eq!(r.body["state"], "a-attribuer", "{}", r.body);
    let r = env
        .act(&id, "attribuer", token, json!({"amount": "500"}))
        .await;
    assert_refused_by_role(&r, "the service head's token awards");

    // A service token with a plan role of its own.
    let (code, script, err) = metroplan(
        &env,
        &[
            "token",
            "create",
            "--name",
            "parapheur",
            "--role",
            "approver",
            "--plan",
            LYON,
            "--plan-role",
            "conseiller-delegue",
        ],
        "",
    );
    assert_eq!(code, Some(0), "{err}");
    let script = script.trim();
    let other = to_validate(&env, &camille, "1234567890124").await;
    let r = env.act(&other, "valider", script, json!({})).await;
    assert_refused_by_role(&r, "the councillor's script validates");
    let r = env.act(&other, "valider", token, json!({})).await;
    assert_eq!(r.body["state"], "a-attribuer", "{}", r.body);
    let r = env
        .act(&other, "attribuer", script, json!({"amount": "500"}))
        .await;
    assert_eq!(r.body["state"], "attribuee", "{}", r.body);
    let grants: Vec<Value> = sqlx::query("SELECT principal, role FROM role_grants ORDER BY role")
        .fetch_all(&env.db.pool)
        .await
        .unwrap()
        .iter()
        .map(|r| {
            json!([
                r.try_get::<String, _>("principal").unwrap(),
                r.try_get::<String, _>("role").unwrap()
            ])
        })
        .collect();
    assert_eq!(
        grants.len(),
        2,
        "one grant each, none copied to the token: {grants:?}"
    );
    assert_eq!(grants[0][0], format!("user:{}", u.id));
    assert!(
        grants[1][0].as_str().unwrap().starts_with("token:"),
        "{grants:?}"
    );
}

#[tokio::test]
async fn an_account_made_before_plan_roles_still_takes_every_role_of_its_kind() {
    let phc = accounts::hash_password(PASSWORD).unwrap();
    let secret = "mp_made_before_plan_roles";
    let rows = [
        format!(
            "INSERT INTO users (id, email, name, role, fund, siret, password_hash, created_at) VALUES ('u1', 'ancien@mobilites.example', 'Ancien', 'approver', NULL, NULL, '{phc}', '2020-01-01T00:00:00Z')"
        ),
        format!(
            "INSERT INTO tokens (id, name, role, fund, email, hash, created_at, user_id) VALUES ('t1', 'ancien@mobilites.example', 'approver', NULL, NULL, '{}', '2020-01-01T00:00:00Z', 'u1')",
            metroplan_server::tokens::hash(secret)
        ),
    ];
    let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
    let env = Env::upgraded(JUNE_2020, &repo().join("plans"), 4, &rows).await;
    let u = accounts::find_by_email(&env.db, "ancien@mobilites.example")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((u.plan, u.grants), (None, Vec::new()));
    let mut browser = Browser::new(env.app.clone());
    assert_eq!(
        browser.sign_in("ancien@mobilites.example").await.status,
        StatusCode::SEE_OTHER
    );

    let camille = env.token("camille", RoleKind::Applicant).await;
    let validated = to_validate(&env, &camille, "1234567890123").await;
    let r = env.act(&validated, "valider", secret, json!({})).await;
    assert_eq!(r.body["state"], "a-attribuer", "{}", r.body);
    let awarded = to_validate(&env, &camille, "1234567890124").await;
    let r = env
        .act(
            &awarded,
            "valider",
            &env.token("autre", RoleKind::Approver).await,
            json!({}),
        )
        .await;
    assert_eq!(r.body["state"], "a-attribuer", "{}", r.body);
    let page = format!("/dossiers/{awarded}");
    assert_eq!(
        offered(&browser.get(&page).await.text, &awarded),
        ["attribuer", "refuser"]
    );
    let r = env
        .act(&awarded, "attribuer", secret, json!({"amount": "500"}))
        .await;
    assert_eq!(r.body["state"], "attribuee", "{}", r.body);
}

#[tokio::test]
async fn the_api_offers_lyon_service_head_only_the_actions_of_their_plan_role() {
    let env = Env::new(JUNE_2020).await;
    let camille = env.token("camille", RoleKind::Applicant).await;
    let id = to_validate(&env, &camille, "1234567890125").await;
    let anyone = env.token("autre-chef", RoleKind::Approver).await;
    let r = env.act(&id, "valider", &anyone, json!({})).await;
    assert_eq!(r.body["state"], "a-attribuer", "{}", r.body);
    let head = lyon_staff(
        &env,
        "chef@mobilites.example",
        RoleKind::Approver,
        &["chef-de-service"],
    )
    .await;
    let head = env.token_of(&head).await;
    let councillor = lyon_staff(
        &env,
        "conseiller@mobilites.example",
        RoleKind::Approver,
        &["conseiller-delegue"],
    )
    .await;
    let councillor = env.token_of(&councillor).await;
    let path = format!("/api/applications/{id}");
    let offered = |r: &Res| -> Vec<String> {
        r.body["actions"]
            .as_array()
            .unwrap_or_else(|| panic!("{}", r.body))
            .iter()
            .map(|a| a.as_str().unwrap().to_string())
            .collect()
    };
    let by_head = offered(&env.get(&path, &head).await);
    assert!(
        !by_head.iter().any(|a| a == "attribuer" || a == "refuser"),
        "the service head is offered {by_head:?}"
    );
    let by_councillor = offered(&env.get(&path, &councillor).await);
    assert!(
        by_councillor.iter().any(|a| a == "attribuer"),
        "the councillor is offered {by_councillor:?}"
    );
    // The list says the same as the file.
    let list = env.get("/api/applications?plan=lyon-pama", &head).await;
    let item = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == id.as_str())
        .cloned()
        .unwrap();
    assert!(
        !item["actions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "attribuer"),
        "{item}"
    );
}
