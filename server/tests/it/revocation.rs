//! Access that ends: a revoked token stops authenticating; a disabled account cannot sign
//! in, its sessions end, its tokens stop; enabled again, it signs in (its tokens stay
//! revoked); each change is in the audit trail, which still verifies.

use axum::http::StatusCode;
use metroplan_engine::model::RoleKind;
use metroplan_server::access::{self, Revoked};

use crate::support::*;
use crate::web::{Browser, account};

const OPEN: &str = "2021-03-01T10:00:00+01:00";
const NOW: &str = "2021-03-01T10:00:00Z";

async fn events(env: &Env, action: &str) -> i64 {
    use sqlx::Row as _;
    sqlx::query("SELECT COUNT(*) AS n FROM events WHERE action = $1")
        .bind(action)
        .fetch_one(&env.db.pool)
        .await
        .unwrap()
        .try_get("n")
        .unwrap()
}

#[tokio::test]
async fn a_revoked_token_is_refused_and_the_revocation_is_in_the_audit_trail() {
    let env = Env::new(OPEN).await;
    let secret = env.token("intégration", RoleKind::Instructor).await;
    let listed = access::tokens(&env.db).await.unwrap();
    let t = listed
        .iter()
        .find(|t| t.name == "intégration")
        .expect("listed");
    assert_eq!(t.revoked_at, None);
    assert_eq!(
        access::revoke_token(&env.db, &t.id, "cli", NOW)
            .await
            .unwrap(),
        Revoked::Now
    );
    assert_eq!(
        access::revoke_token(&env.db, &t.id, "cli", NOW)
            .await
            .unwrap(),
        Revoked::Already
    );
    assert_eq!(
        access::revoke_token(&env.db, "nope", "cli", NOW)
            .await
            .unwrap(),
        Revoked::Unknown
    );
    let r = env.get("/api/applications", &secret).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    let listed = access::tokens(&env.db).await.unwrap();
    assert!(
        listed
            .iter()
            .any(|x| x.id == t.id && x.revoked_at.is_some())
    );
    assert_eq!(events(&env, "token-revoke").await, 1, "once, not twice");
    assert!(
        metroplan_server::audit::verify(&env.db)
            .await
            .unwrap()
            .is_ok()
    );
}

#[tokio::test]
async fn a_disabled_account_cannot_sign_in_loses_its_sessions_and_tokens_and_may_be_enabled() {
    let env = Env::new(OPEN).await;
    let a = account(&env, "a@example.org", RoleKind::Applicant).await;
    let token = env.token_of(&a).await;
    let mut b = Browser::new(env.app.clone());
    b.sign_in("a@example.org").await;
    assert_eq!(b.get("/mes-dossiers").await.status, StatusCode::OK);

    let d = access::disable_user(&env.db, "A@example.org", "cli", NOW)
        .await
        .unwrap()
        .expect("the account");
    assert_eq!((d.sessions, d.tokens), (1, 1));
    // The open session is over; the token is refused; signing in says why, to whoever
    // gives the right password only.
    let r = b.get("/mes-dossiers").await;
    assert_ne!(r.status, StatusCode::OK, "the session ended");
    assert_eq!(
        env.get("/api/applications", &token).await.status,
        StatusCode::UNAUTHORIZED
    );
    let mut again = Browser::new(env.app.clone());
    let r = again.sign_in("a@example.org").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert!(r.text.contains("Ce compte a été désactivé"), "{}", r.text);
    let mut wrong = Browser::new(env.app.clone());
    let r = wrong.sign_in_with("a@example.org", "pas le bon").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(
        !r.text.contains("désactivé"),
        "not told without the password"
    );

    assert!(
        access::enable_user(&env.db, "a@example.org", "cli", NOW)
            .await
            .unwrap()
    );
    let mut back = Browser::new(env.app.clone());
    assert_eq!(
        back.sign_in("a@example.org").await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        env.get("/api/applications", &token).await.status,
        StatusCode::UNAUTHORIZED,
        "its tokens stay revoked"
    );
    assert_eq!(
        access::disable_user(&env.db, "nobody@example.org", "cli", NOW)
            .await
            .unwrap(),
        None
    );
    assert_eq!(events(&env, "account-disable").await, 1);
    assert_eq!(events(&env, "account-enable").await, 1);
    assert!(
        metroplan_server::audit::verify(&env.db)
            .await
            .unwrap()
            .is_ok()
    );
}

#[tokio::test]
async fn an_administrator_revokes_a_token_and_disables_an_account_from_the_page_at_once() {
    let env = Env::new(OPEN).await;
    let a = account(&env, "a@example.org", RoleKind::Applicant).await;
    account(&env, "admin@amp.example", RoleKind::Admin).await;
    let token = env.token_of(&a).await;
    // Used once, so that the server's cache holds it.
    assert_eq!(
        env.get("/api/applications", &token).await.status,
        StatusCode::OK
    );
    let mut b = Browser::new(env.app.clone());
    b.sign_in("admin@amp.example").await;
    let page = b.get("/admin").await.text;
    assert!(page.contains("action=\"/admin/jetons/revoquer\""), "{page}");
    let id = access::tokens(&env.db).await.unwrap()[0].id.clone();
    let r = b
        .post(
            "/admin",
            "/admin/jetons/revoquer",
            &[("jeton", id.as_str())],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.text.contains("Jeton révoqué"), "{}", r.text);
    assert!(r.text.contains("révoqué le "), "{}", r.text);
    assert_eq!(
        env.get("/api/applications", &token).await.status,
        StatusCode::UNAUTHORIZED,
        "at once, not after the cache's lifetime"
    );
    let r = b
        .post(
            "/admin",
            "/admin/comptes/desactiver",
            &[("email", "a@example.org")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.text.contains("désactivé le "), "{}", r.text);
    let r = b
        .post(
            "/admin",
            "/admin/comptes/inventer",
            &[("email", "a@example.org")],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = b
        .post(
            "/admin",
            "/admin/comptes/reactiver",
            &[("email", "personne@example.org")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text.contains("Ce compte n'existe pas."), "{}", r.text);
    // Not for other roles.
    let mut other = Browser::new(env.app.clone());
    account(&env, "instr@amp.example", RoleKind::Instructor).await;
    other.sign_in("instr@amp.example").await;
    let r = other
        .post(
            "/instruction",
            "/admin/comptes/reactiver",
            &[("email", "a@example.org")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        access::disabled(&env.db).await.unwrap().len() == 1,
        "still disabled"
    );
}

#[tokio::test]
async fn sessions_are_listed_and_closed_one_by_one_or_all_of_an_account() {
    let env = Env::new(OPEN).await;
    let admin = account(&env, "admin@example.org", RoleKind::Admin).await;
    let person = account(&env, "p@example.org", RoleKind::Instructor).await;
    let (mut phone, mut desk, mut adm) = (
        Browser::new(env.app.clone()),
        Browser::new(env.app.clone()),
        Browser::new(env.app.clone()),
    );
    for b in [&mut phone, &mut desk] {
        assert_eq!(b.sign_in(&person.email).await.status, StatusCode::SEE_OTHER);
    }
    assert_eq!(
        adm.sign_in(&admin.email).await.status,
        StatusCode::SEE_OTHER
    );
    let open = access::sessions(&env.db, Some(&person.email), NOW)
        .await
        .unwrap();
    assert_eq!(open.len(), 2, "{open:?}");
    assert!(open.iter().all(|s| s.email == person.email));
    assert_eq!(access::sessions(&env.db, None, NOW).await.unwrap().len(), 3);

    // One closed from the admin page: that browser is signed out, the other is not.
    let page = adm.get("/admin").await.text;
    assert!(page.contains("Sessions ouvertes"), "{page}");
    let newest = &open[0].id;
    let r = adm
        .post("/admin", "/admin/sessions/fermer", &[("session", newest)])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.text.contains("Session fermée"), "{}", r.text);
    let again = adm
        .post("/admin", "/admin/sessions/fermer", &[("session", newest)])
        .await;
    assert_eq!(
        again.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "already closed"
    );
    let still: Vec<_> = [&mut phone, &mut desk].into_iter().collect();
    let mut statuses = Vec::new();
    for b in still {
        statuses.push(b.get("/instruction").await.status);
    }
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::OK, StatusCode::SEE_OTHER],
        "one of the two closed"
    );

    // All of the account's at once; the account itself signs in again.
    let ended = access::end_sessions(
        &env.db,
        access::Sessions::OfAccount(&person.email),
        "cli",
        NOW,
    )
    .await
    .unwrap();
    assert_eq!(ended, 1);
    assert_eq!(
        phone.get("/instruction").await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(desk.get("/instruction").await.status, StatusCode::SEE_OTHER);
    assert_eq!(
        adm.get("/admin").await.status,
        StatusCode::OK,
        "the admin's own stays"
    );
    assert_eq!(events(&env, "session-end").await, 2);
    assert_eq!(
        access::end_sessions(
            &env.db,
            access::Sessions::OfAccount("nobody@example.org"),
            "cli",
            NOW
        )
        .await
        .unwrap(),
        0
    );
    assert!(
        metroplan_server::audit::verify(&env.db)
            .await
            .unwrap()
            .is_ok()
    );
    assert_eq!(
        phone.sign_in(&person.email).await.status,
        StatusCode::SEE_OTHER
    );
}
