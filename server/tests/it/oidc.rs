//! Signing in through an OpenID provider (issue 19): a real provider on loopback (npm's
//! `oidc-provider`), the router in process. The provider's answers are doctored to check
//! that every tampered ID token is refused (wrong audience or issuer, expired, bad
//! signature, replayed nonce).

use std::sync::Arc;

use axum::Router;
use axum::http::{Method, StatusCode};
use metroplan_engine::model::RoleKind;
use metroplan_server::oidc::Providers;
use metroplan_server::oidc::link::{self, Admin};
use serde_json::json;

use crate::oidc_provider::{OidcProvider, sign_in_at_provider};
use crate::support::*;
use crate::web::{Browser, account};

const OPEN: &str = "2021-03-01T10:00:00+01:00";
const SITE: &str = "http://metroplan.test";

fn accounts() -> serde_json::Value {
    json!({
        "agent": { "email": "agent@metropole.test", "email_verified": true, "given_name": "Ana", "family_name": "Agent" },
        "unverified": { "email": "instructeur@metropole.test", "email_verified": false },
        "stranger": { "email": "inconnu@metropole.test", "email_verified": true },
        "citizen": { "email": "camille@example.org", "email_verified": true, "given_name": "Camille", "family_name": "Martin" },
        "asso": { "email": "asso@example.org", "email_verified": true },
    })
}

/// The server with the provider configured as `id`, open to `audience`.
fn app_with(env: &Env, p: &OidcProvider, id: &str, audience: &str) -> Router {
    let mut state = env.state.clone();
    let mut config = (*state.config).clone();
    let label = if id == "franceconnect" {
        "FranceConnect"
    } else {
        "ProConnect"
    };
    config.oidc =
        Arc::new(Providers::load(&p.providers_file(id, label, audience)).expect("providers"));
    state.config = Arc::new(config);
    metroplan_server::app(state)
}

/// Starts a sign-in at `id` and returns the callback the provider sends the browser back to,
/// `login` having signed in there.
async fn through_provider(b: &mut Browser, id: &str, login: &str, suite: &str) -> String {
    let start = b.get(&format!("/connexion/oidc/{id}?suite={suite}")).await;
    assert_eq!(start.status, StatusCode::SEE_OTHER, "{}", start.text);
    assert!(
        b.has_cookie("mp_oidc"),
        "the sign-in is bound to this browser"
    );
    let authorize = start.headers["location"].to_str().unwrap().to_string();
    for p in [
        "code_challenge=",
        "code_challenge_method=S256",
        "state=",
        "nonce=",
    ] {
        assert!(authorize.contains(p), "{p} in {authorize}");
    }
    let back = sign_in_at_provider(&authorize, login).await;
    let path = back
        .strip_prefix(SITE)
        .unwrap_or_else(|| panic!("the provider sends back to this site: {back}"));
    assert!(path.starts_with("/connexion/oidc/retour?"), "{path}");
    path.to_string()
}

async fn sessions(env: &Env) -> usize {
    env.texts("SELECT id AS v FROM sessions WHERE user_id <> $1", "")
        .await
        .len()
}

#[tokio::test]
async fn a_staff_member_signs_in_through_the_provider_and_the_identity_is_linked_by_verified_email()
{
    let env = Env::new(OPEN).await;
    let p = OidcProvider::start(SITE, accounts()).await;
    let agent = account(&env, "agent@metropole.test", RoleKind::Instructor).await;
    let app = app_with(&env, &p, "proconnect", "staff");
    let mut b = Browser::new(app.clone());
    let page = b.get("/connexion").await;
    assert!(
        page.text
            .contains("href=\"/connexion/oidc/proconnect?suite=/\""),
        "the sign-in page offers the provider: {}",
        page.text
    );
    assert!(page.text.contains("Se connecter avec ProConnect"));
    let callback = through_provider(&mut b, "proconnect", "agent", "/").await;
    let r = b.get(&callback).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(
        r.headers["location"], "/instruction",
        "staff land on their inbox"
    );
    assert!(b.has_cookie("mp_session"));
    assert!(!b.has_cookie("mp_oidc"), "the sign-in's cookie is cleared");
    let inbox = b.get("/instruction").await;
    assert_eq!(inbox.status, StatusCode::OK);
    let linked = env
        .texts(
            "SELECT user_id || ' ' || linked_by AS v FROM oidc_identities WHERE provider = $1",
            "proconnect",
        )
        .await;
    assert_eq!(linked, vec![format!("{} email", agent.id)]);
    let events = env
        .texts(
            "SELECT action AS v FROM events WHERE actor = $1",
            &format!("user:{}", agent.id),
        )
        .await;
    assert!(events.contains(&"identity-link".to_string()), "{events:?}");
    // The same callback again: used up.
    let again = Browser::new(app.clone()).get(&callback).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "{}", again.text);
    assert!(again.text.contains("Connexion expirée"), "{}", again.text);
    // A second sign-in opens the same account by the provider's subject.
    let mut b2 = Browser::new(app);
    let callback = through_provider(&mut b2, "proconnect", "agent", "/instruction").await;
    let r = b2.get(&callback).await;
    assert_eq!(r.headers["location"], "/instruction");
    assert_eq!(
        env.texts(
            "SELECT subject AS v FROM oidc_identities WHERE provider = $1",
            "proconnect"
        )
        .await,
        vec!["agent"]
    );
}

#[tokio::test]
async fn each_tampered_id_token_is_refused_and_opens_no_session() {
    let env = Env::new(OPEN).await;
    let p = OidcProvider::start(SITE, accounts()).await;
    account(&env, "agent@metropole.test", RoleKind::Instructor).await;
    let app = app_with(&env, &p, "proconnect", "staff");
    // A genuine sign-in first: its ID token is the one "replay" presents again.
    let mut first = Browser::new(app.clone());
    let callback = through_provider(&mut first, "proconnect", "agent", "/").await;
    assert_eq!(first.get(&callback).await.status, StatusCode::SEE_OTHER);
    let before = sessions(&env).await;
    for mode in ["audience", "expired", "signature", "issuer", "replay"] {
        let mut b = Browser::new(app.clone());
        let callback = through_provider(&mut b, "proconnect", "agent", "/").await;
        p.tamper_next(mode).await;
        let r = b.get(&callback).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{mode}: {}", r.text);
        assert!(r.text.contains("Connexion refusée"), "{mode}: {}", r.text);
        assert!(!b.has_cookie("mp_session"), "{mode}: no session");
        assert_eq!(sessions(&env).await, before, "{mode}: no session stored");
    }
    // The provider's next genuine answer is accepted again.
    let mut b = Browser::new(app);
    let callback = through_provider(&mut b, "proconnect", "agent", "/").await;
    assert_eq!(b.get(&callback).await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_callback_from_another_browser_or_too_late_opens_nothing() {
    let env = Env::new(OPEN).await;
    let p = OidcProvider::start(SITE, accounts()).await;
    account(&env, "agent@metropole.test", RoleKind::Instructor).await;
    let app = app_with(&env, &p, "proconnect", "staff");
    // Login CSRF: a callback sent to someone else's browser does not sign them in.
    let mut attacker = Browser::new(app.clone());
    let callback = through_provider(&mut attacker, "proconnect", "agent", "/").await;
    let mut victim = Browser::new(app.clone());
    let r = victim.get(&callback).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(!victim.has_cookie("mp_session"));
    // Nor does it work afterwards in the right browser: the sign-in was used up.
    assert_eq!(
        attacker.get(&callback).await.status,
        StatusCode::BAD_REQUEST
    );
    // Longer than 10 minutes at the provider.
    let slow_app = app.clone();
    let mut slow = Browser::new(app);
    let callback = through_provider(&mut slow, "proconnect", "agent", "/").await;
    sqlx::query("UPDATE oidc_logins SET created_at = '2021-03-01T08:49:00Z'")
        .execute(&env.db.pool)
        .await
        .unwrap();
    let r = slow.get(&callback).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(!slow.has_cookie("mp_session"));
    // An incomplete address back is a French page, never a 500.
    for q in ["", "?state=x", "?code=y", "?code=y&state=z"] {
        let r = slow.get(&format!("/connexion/oidc/retour{q}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q}: {}", r.text);
        assert!(r.text.contains("lang=\"fr\""), "{q}");
    }
    // An answer naming another issuer (RFC 9207: a mix-up between providers).
    let mut mixed = Browser::new(slow_app.clone());
    let callback = through_provider(&mut mixed, "proconnect", "agent", "/").await;
    assert!(
        callback.contains("iss="),
        "the provider names itself: {callback}"
    );
    let forged = format!(
        "{}&iss=https%3A%2F%2Fautre.example",
        callback.split("&iss=").next().unwrap()
    );
    let r = mixed.get(&forged).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert!(!mixed.has_cookie("mp_session"));
    let r = slow
        .get("/connexion/oidc/retour?error=access_denied&error_description=cancelled")
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.text.contains("Connexion interrompue"), "{}", r.text);
}

#[tokio::test]
async fn who_an_identity_opens_depends_on_the_provider_and_the_verified_email() {
    let env = Env::new(OPEN).await;
    let p = OidcProvider::start(SITE, accounts()).await;
    account(&env, "asso@example.org", RoleKind::Applicant).await;
    account(&env, "instructeur@metropole.test", RoleKind::Instructor).await;
    account(&env, "agent@metropole.test", RoleKind::Instructor).await;
    let staff = app_with(&env, &p, "proconnect", "staff");
    // No account with that email, on a staff provider: nothing is made.
    let mut b = Browser::new(staff.clone());
    let callback = through_provider(&mut b, "proconnect", "stranger", "/").await;
    let r = b.get(&callback).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert!(r.text.contains("Aucun compte ne correspond"), "{}", r.text);
    // An applicant's account does not open through the agents' provider.
    let mut b = Browser::new(staff.clone());
    let callback = through_provider(&mut b, "proconnect", "asso", "/").await;
    let r = b.get(&callback).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert!(
        r.text.contains("ne se connecte pas avec ProConnect"),
        "{}",
        r.text
    );
    // An email the provider does not vouch for links nothing, even to an account with it...
    let mut b = Browser::new(staff.clone());
    let callback = through_provider(&mut b, "proconnect", "unverified", "/").await;
    assert_eq!(b.get(&callback).await.status, StatusCode::FORBIDDEN);
    assert!(!b.has_cookie("mp_session"));
    // ...until an administrator links the identity.
    let providers =
        Providers::load(&p.providers_file("proconnect", "ProConnect", "staff")).unwrap();
    let provider = providers.get("proconnect").unwrap();
    let now = jiff::Timestamp::now();
    assert_eq!(
        link::link_by_admin(
            &env.db,
            provider,
            "unverified",
            "personne@nulle.part",
            "cli",
            now
        )
        .await
        .unwrap(),
        Admin::NoSuchAccount
    );
    assert_eq!(
        link::link_by_admin(
            &env.db,
            provider,
            "unverified",
            "instructeur@metropole.test",
            "cli",
            now
        )
        .await
        .unwrap(),
        Admin::Done
    );
    assert_eq!(
        link::link_by_admin(
            &env.db,
            provider,
            "unverified",
            "asso@example.org",
            "cli",
            now
        )
        .await
        .unwrap(),
        Admin::LinkedElsewhere
    );
    let mut b = Browser::new(staff.clone());
    let callback = through_provider(&mut b, "proconnect", "unverified", "/").await;
    let r = b.get(&callback).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(r.headers["location"], "/instruction");
    assert_eq!(
        link::unlink(&env.db, "proconnect", "unverified", "cli", now)
            .await
            .unwrap(),
        Admin::Done
    );
    assert_eq!(
        link::unlink(&env.db, "proconnect", "unverified", "cli", now)
            .await
            .unwrap(),
        Admin::NotLinked
    );
    // Through the public's provider, a verified email without an account makes an
    // applicant account, confirmed, that signs in at once.
    let public = app_with(&env, &p, "franceconnect", "applicants");
    let mut b = Browser::new(public.clone());
    let page = b.get("/inscription").await;
    assert!(
        page.text.contains("/connexion/oidc/franceconnect"),
        "{}",
        page.text
    );
    let callback = through_provider(&mut b, "franceconnect", "citizen", "/").await;
    let r = b.get(&callback).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(r.headers["location"], "/mes-dossiers");
    let made = env
        .texts(
            "SELECT name || ' ' || role || ' ' || CASE WHEN email_confirmed_at IS NULL THEN 'unconfirmed' ELSE 'confirmed' END AS v FROM users WHERE email = $1",
            "camille@example.org",
        )
        .await;
    assert_eq!(made, vec!["Camille Martin applicant confirmed"]);
    // Staff do not sign in through the public's provider.
    let mut b = Browser::new(public);
    let callback = through_provider(&mut b, "franceconnect", "agent", "/").await;
    let r = b.get(&callback).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert!(!b.has_cookie("mp_session"));
}

#[tokio::test]
async fn a_disabled_account_does_not_open_through_its_identity() {
    let env = Env::new(OPEN).await;
    let p = OidcProvider::start(SITE, accounts()).await;
    account(&env, "agent@metropole.test", RoleKind::Instructor).await;
    let app = app_with(&env, &p, "proconnect", "staff");
    let mut b = Browser::new(app.clone());
    let callback = through_provider(&mut b, "proconnect", "agent", "/").await;
    assert_eq!(b.get(&callback).await.status, StatusCode::SEE_OTHER);
    metroplan_server::access::disable_user(
        &env.db,
        "agent@metropole.test",
        "cli",
        "2021-03-01T09:00:00Z",
    )
    .await
    .unwrap()
    .expect("the account");
    let mut b = Browser::new(app);
    let callback = through_provider(&mut b, "proconnect", "agent", "/").await;
    let r = b.get(&callback).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert!(r.text.contains("désactivé"), "{}", r.text);
    assert!(!b.has_cookie("mp_session"));
}

#[tokio::test]
async fn signing_out_ends_the_session_here_and_sends_the_browser_to_end_the_providers() {
    let env = Env::new(OPEN).await;
    let p = OidcProvider::start(SITE, accounts()).await;
    account(&env, "agent@metropole.test", RoleKind::Instructor).await;
    let app = app_with(&env, &p, "proconnect", "staff");
    let mut b = Browser::new(app);
    let callback = through_provider(&mut b, "proconnect", "agent", "/").await;
    b.get(&callback).await;
    assert_eq!(sessions(&env).await, 1);
    let r = b.post("/instruction", "/deconnexion", &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(sessions(&env).await, 0, "this site's session is over");
    let end = format!("{}/session/end?id_token_hint=", p.issuer);
    assert!(
        r.text.contains(&format!("content=\"0;url={end}"))
            && r.text.contains(&format!("href=\"{end}")),
        "the page goes on to the provider's logout: {}",
        r.text
    );
    assert!(
        r.text
            .contains("post_logout_redirect_uri=http%3A%2F%2Fmetroplan.test%2F")
    );
    assert!(r.text.contains("Se déconnecter de ProConnect"));
    assert!(!b.has_cookie("mp_session"));
}

#[tokio::test]
async fn an_unreachable_provider_is_a_french_503_and_an_unknown_one_a_404() {
    let env = Env::new(OPEN).await;
    let dir = tempfile::tempdir().unwrap();
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let file = dir.path().join("p.toml");
    std::fs::write(
        &file,
        format!("[[provider]]\nid = \"proconnect\"\nlabel = \"ProConnect\"\nissuer = \"http://127.0.0.1:{port}\"\nclient_id = \"c\"\nclient_secret = \"s\"\nfor = \"staff\"\n"),
    )
    .unwrap();
    let mut state = env.state.clone();
    let mut config = (*state.config).clone();
    config.oidc = Arc::new(Providers::load(&file).unwrap());
    state.config = Arc::new(config);
    let app = metroplan_server::app(state);
    let r = call(
        &app,
        Method::GET,
        "/connexion/oidc/proconnect",
        None,
        &[],
        None,
        "",
    )
    .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text);
    assert!(
        r.text.contains("Service d'identification injoignable"),
        "{}",
        r.text
    );
    let r = call(
        &app,
        Method::GET,
        "/connexion/oidc/autre",
        None,
        &[],
        None,
        "",
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    assert!(r.text.contains("lang=\"fr\""));
}

#[test]
fn a_providers_file_with_a_mistake_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "[[provider]]\nid = \"a\"\nlabel = \"A\"\nissuer = \"https://a.example\"\nclient_id = \"c\"\nfor = \"staff\"\n",
            "either client_secret or client_secret_file",
        ),
        (
            "[[provider]]\nid = \"a\"\nlabel = \"A\"\nissuer = \"https://a.example\"\nclient_id = \"c\"\nclient_secret = \"s\"\nfor = \"agents\"\n",
            "unknown variant",
        ),
        (
            "[[provider]]\nid = \"a b\"\nlabel = \"A\"\nissuer = \"https://a.example\"\nclient_id = \"c\"\nclient_secret = \"s\"\nfor = \"staff\"\n",
            "letters, digits",
        ),
        (
            "[[provider]]\nid = \"a\"\nlabel = \"A\"\nissuer = \"https://a.example\"\nclient_id = \"c\"\nclient_secret = \"s\"\nfor = \"staff\"\nsecret = 1\n",
            "unknown field",
        ),
        (
            "[[provider]]\nid = \"a\"\nlabel = \"A\"\nissuer = \"https://a.example\"\nclient_id = \"c\"\nclient_secret = \"s\"\nfor = \"staff\"\n[[provider]]\nid = \"a\"\nlabel = \"A\"\nissuer = \"https://a.example\"\nclient_id = \"c\"\nclient_secret = \"s\"\nfor = \"staff\"\n",
            "declared twice",
        ),
        (
            "[[provider]]\nid = \"a\"\nlabel = \"A\"\nissuer = \"https://a.example\"\nclient_id = \"c\"\nclient_secret_file = \"/nonexistent/secret\"\nfor = \"staff\"\n",
            "/nonexistent/secret",
        ),
    ];
    for (text, expected) in cases {
        let file = dir.path().join("p.toml");
        std::fs::write(&file, text).unwrap();
        let e = Providers::load(&file).expect_err(expected).to_string();
        assert!(
            e.contains("p.toml") && e.contains(expected),
            "{expected}: {e}"
        );
    }
}

/// Review of this change: someone registers a person's address with a password of their own
/// and leaves it unconfirmed; the person then signs in through the public's provider, which
/// proves the address. The registrant's password must not open the account afterwards.
#[tokio::test]
async fn regression_an_unconfirmed_registration_of_the_address_loses_its_password_when_the_provider_proves_it()
 {
    let env = Env::new(OPEN).await;
    let p = OidcProvider::start(SITE, accounts()).await;
    let mut squatter = Browser::new(env.app.clone());
    let r = squatter
        .post(
            "/inscription",
            "/inscription",
            &[
                ("name", "Pas Camille"),
                ("siret", "81234567800019"),
                ("email", "camille@example.org"),
                ("password", "le mot de passe du squatteur"),
                ("password2", "le mot de passe du squatteur"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let public = app_with(&env, &p, "franceconnect", "applicants");
    let mut b = Browser::new(public);
    let callback = through_provider(&mut b, "franceconnect", "citizen", "/").await;
    let r = b.get(&callback).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(r.headers["location"], "/mes-dossiers");
    let r = Browser::new(env.app.clone())
        .sign_in_with("camille@example.org", "le mot de passe du squatteur")
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert_eq!(
        env.texts(
            "SELECT COALESCE(siret, 'none') AS v FROM users WHERE email = $1",
            "camille@example.org"
        )
        .await,
        vec!["none"],
        "the SIRET the registrant gave is not kept either"
    );
}
