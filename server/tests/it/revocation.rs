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
