//! What is done through a link sent by email: an applicant's address confirmed at
//! registration, a forgotten password replaced. Neither page tells whether an address has an
//! account; the links are single-use and expire; the messages go through the outbox (the
//! SMTP relay's side is in smtp_tls.rs and the end-to-end test at the bottom).

use axum::http::{Method, StatusCode};
use metroplan_engine::model::RoleKind;
use serde_json::json;

use crate::support::*;
use crate::web::{Browser, PASSWORD, account};

const OPEN: &str = "2021-03-01T10:00:00+01:00";

/// The account messages queued for `to`: subject and body, oldest first.
async fn mails(env: &Env, to: &str) -> Vec<(String, String)> {
    use sqlx::Row;
    sqlx::query(
        "SELECT subject, body FROM outbox WHERE application_id IS NULL AND recipient = $1 ORDER BY created_at, id",
    )
    .bind(to)
    .fetch_all(&env.db.pool)
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get("subject"), r.get("body")))
    .collect()
}

/// The link to `path` in a message's body (the test server has no public address, so links
/// are this site's paths).
fn link(body: &str, path: &str) -> String {
    let at = body
        .find(&format!("{path}?jeton="))
        .unwrap_or_else(|| panic!("a link to {path} in {body}"));
    body[at..].split_whitespace().next().unwrap().to_string()
}

/// Posts a confirmation link's form (from the page `page`) with `password`.
trait Confirm {
    async fn confirm(&mut self, page: &str, jeton: &str, password: &str) -> Res;
}

impl Confirm for Browser {
    async fn confirm(&mut self, page: &str, jeton: &str, password: &str) -> Res {
        self.post(
            page,
            "/inscription/confirmer",
            &[("jeton", jeton), ("password", password)],
        )
        .await
    }
}

/// What a page tells a person: its `main`, without the form's CSRF token.
fn told(html: &str) -> String {
    let main = &html[html.find("<main").unwrap()..html.find("</main>").unwrap()];
    match main.find("name=\"_csrf\" value=\"") {
        Some(at) => {
            let end = at + main[at..].find("\">").unwrap();
            format!("{}{}", &main[..at], &main[end..])
        }
        None => main.to_string(),
    }
}

fn registration(
    email: &'static str,
    name: &'static str,
    password: &'static str,
) -> Vec<(&'static str, &'static str)> {
    vec![
        ("name", name),
        ("siret", "81234567800019"),
        ("email", email),
        ("password", password),
        ("password2", password),
    ]
}

#[tokio::test]
async fn registration_is_confirmed_by_the_link_sent_and_the_page_never_tells_whether_the_address_had_an_account()
 {
    let env = Env::new(OPEN).await;
    let email = "habitants@example.org";
    let mut b = Browser::new(env.app.clone());
    let first = b
        .post(
            "/inscription",
            "/inscription",
            &registration(email, "Association des habitants", PASSWORD),
        )
        .await;
    assert_eq!(first.status, StatusCode::OK);
    assert!(
        first
            .headers
            .get_all("set-cookie")
            .iter()
            .all(|c| !c.to_str().unwrap().starts_with("mp_session=")),
        "no session before the address is confirmed"
    );
    let sent = mails(&env, email).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    // Named after the service, and signed by it: a person must know who writes.
    assert_eq!(
        sent[0].0,
        "Confirmez votre adresse électronique – Aides et subventions"
    );
    assert!(
        sent[0].1.ends_with("\n\nAides et subventions\n"),
        "{}",
        sent[0].1
    );
    assert!(
        sent[0].1.contains("dans les 24\u{a0}heures\u{a0}:"),
        "typeset: {}",
        sent[0].1
    );

    // Not confirmed: answered as a wrong password would be (else registering an address
    // and signing in with one's own password would tell whether it had an account), and a
    // new link is sent.
    let refused = b.sign_in(email).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    let unknown = Browser::new(env.app.clone())
        .sign_in("personne@example.org")
        .await;
    // The same page but for the address typed, which it keeps.
    assert_eq!(
        told(&refused.text).replace(email, "personne@example.org"),
        told(&unknown.text)
    );
    assert!(
        refused
            .text
            .contains("ouvrez d'abord le lien de confirmation"),
        "{}",
        refused.text
    );
    let sent = mails(&env, email).await;
    assert_eq!(sent.len(), 2);

    // Opening the link does not use it (a mail scanner may open it); the button does.
    let confirm = link(&sent[1].1, "/inscription/confirmer");
    let page = b.get(&confirm).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(
        page.headers["referrer-policy"], "no-referrer",
        "the secret stays in the address bar"
    );
    let jeton = confirm.split("jeton=").nth(1).unwrap();
    let wrong = b.confirm(&confirm, jeton, "pas le bon mot de passe").await;
    assert_eq!(
        wrong.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "the password chosen at registration"
    );
    let done = b.confirm(&confirm, jeton, PASSWORD).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text);
    assert_eq!(done.headers["location"], "/mes-dossiers");
    assert_eq!(
        b.get("/mes-dossiers").await.status,
        StatusCode::OK,
        "signed in"
    );
    let again = b.confirm(&confirm, jeton, PASSWORD).await;
    assert_eq!(again.status, StatusCode::GONE, "a link serves once");
    let first_link = link(&sent[0].1, "/inscription/confirmer");
    let first_jeton = first_link.split("jeton=").nth(1).unwrap();
    let sibling = Browser::new(env.app.clone())
        .confirm(&first_link, first_jeton, PASSWORD)
        .await;
    assert_eq!(
        sibling.status,
        StatusCode::GONE,
        "confirmed: the earlier link is used up too"
    );

    // The address now has an account: registering with it again reads exactly the same,
    // changes nothing, and its owner is told by email.
    let mut other = Browser::new(env.app.clone());
    let second = other
        .post(
            "/inscription",
            "/inscription",
            &registration(email, "Quelqu'un d'autre", "une autre phrase de passe"),
        )
        .await;
    assert_eq!(second.status, first.status);
    assert_eq!(told(&second.text), told(&first.text));
    let sent = mails(&env, email).await;
    assert_eq!(
        sent.last().unwrap().0,
        "Votre compte existe déjà – Aides et subventions"
    );
    assert!(!sent.last().unwrap().1.contains("jeton="));
    let users = metroplan_server::accounts::all_users(&env.db)
        .await
        .unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].name, "Association des habitants");
    let mut fresh = Browser::new(env.app.clone());
    assert_eq!(
        fresh
            .sign_in_with(email, "une autre phrase de passe")
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let events = env
        .texts(
            "SELECT action AS v FROM events WHERE actor = $1 ORDER BY seq",
            &format!("user:{}", users[0].id),
        )
        .await;
    assert_eq!(events, ["account-register", "email-confirm"]);
}

#[tokio::test]
async fn regression_an_unconfirmed_registration_is_replaced_by_the_next_one_for_the_same_address() {
    // Whoever registers first with someone else's address must not end up owning the
    // account the address's owner confirms.
    let env = Env::new(OPEN).await;
    let email = "victime@example.org";
    let mut squatter = Browser::new(env.app.clone());
    squatter
        .post(
            "/inscription",
            "/inscription",
            &registration(email, "Usurpateur", "le mot de passe de l'usurpateur"),
        )
        .await;
    let mut owner = Browser::new(env.app.clone());
    owner
        .post(
            "/inscription",
            "/inscription",
            &registration(email, "Association légitime", PASSWORD),
        )
        .await;
    let sent = mails(&env, email).await;
    assert_eq!(sent.len(), 2);
    let stale = link(&sent[0].1, "/inscription/confirmer");
    let stale_jeton = stale.split("jeton=").nth(1).unwrap();
    assert_eq!(
        owner.confirm(&stale, stale_jeton, PASSWORD).await.status,
        StatusCode::GONE,
        "the first registration's link no longer confirms"
    );
    let fresh = link(&sent[1].1, "/inscription/confirmer");
    let jeton = fresh.split("jeton=").nth(1).unwrap();
    assert_eq!(
        owner.confirm(&fresh, jeton, PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    let users = metroplan_server::accounts::all_users(&env.db)
        .await
        .unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].name, "Association légitime");
    let mut b = Browser::new(env.app.clone());
    assert_eq!(
        b.sign_in_with(email, "le mot de passe de l'usurpateur")
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(b.sign_in(email).await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_password_reset_link_serves_once_within_the_hour_and_ends_every_session() {
    let env = Env::new(OPEN).await;
    let user = account(&env, "instruction@example.org", RoleKind::Instructor).await;
    let mut signed_in = Browser::new(env.app.clone());
    assert_eq!(
        signed_in.sign_in(&user.email).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(signed_in.get("/instruction").await.status, StatusCode::OK);

    // The same page for an address with an account and one without; only the first gets mail.
    let mut b = Browser::new(env.app.clone());
    let known = b
        .post(
            "/mot-de-passe-oublie",
            "/mot-de-passe-oublie",
            &[("email", " Instruction@Example.org ")],
        )
        .await;
    let unknown = b
        .post(
            "/mot-de-passe-oublie",
            "/mot-de-passe-oublie",
            &[("email", "personne@example.org")],
        )
        .await;
    assert_eq!(known.status, StatusCode::OK);
    assert_eq!(
        (unknown.status, told(&unknown.text)),
        (known.status, told(&known.text))
    );
    assert!(mails(&env, "personne@example.org").await.is_empty());
    let sent = mails(&env, &user.email).await;
    assert_eq!(sent.len(), 1);
    assert!(sent[0].1.contains("dans l'heure qui suit"));
    let reset = link(&sent[0].1, "/mot-de-passe/nouveau");
    let jeton = reset.split("jeton=").nth(1).unwrap().to_string();

    assert_eq!(b.get(&reset).await.status, StatusCode::OK);
    let form = |p: &'static str, q: &'static str| {
        vec![("jeton", jeton.as_str()), ("password", p), ("password2", q)]
    };
    let typo = b
        .post(
            &reset,
            "/mot-de-passe/nouveau",
            &form("une nouvelle phrase de passe", "une nouvelle phrase"),
        )
        .await;
    assert_eq!(typo.status, StatusCode::UNPROCESSABLE_ENTITY);
    let short = b
        .post(&reset, "/mot-de-passe/nouveau", &form("court", "court"))
        .await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(short.text.contains("au moins 12 caractères"));
    // Neither used the link.
    let done = b
        .post(
            &reset,
            "/mot-de-passe/nouveau",
            &form(
                "une nouvelle phrase de passe",
                "une nouvelle phrase de passe",
            ),
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text);
    assert_eq!(
        done.headers["location"], "/instruction",
        "lands on the role's work"
    );
    assert_eq!(b.get("/instruction").await.status, StatusCode::OK);

    // The session opened with the old password is gone; the old password no longer works.
    let r = signed_in.get("/instruction").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let mut c = Browser::new(env.app.clone());
    assert_eq!(
        c.sign_in(&user.email).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        c.sign_in_with(&user.email, "une nouvelle phrase de passe")
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    // Used: the link is dead.
    assert_eq!(b.get(&reset).await.status, StatusCode::GONE);
    let events = env
        .texts(
            "SELECT action AS v FROM events WHERE actor = $1",
            &format!("user:{}", user.id),
        )
        .await;
    assert_eq!(events, ["password-reset"]);
    assert!(
        metroplan_server::audit::verify(&env.db)
            .await
            .unwrap()
            .is_ok()
    );
}

#[tokio::test]
async fn regression_a_password_reset_link_expires_after_an_hour() {
    let env = Env::new("2021-03-01T10:00:00Z").await;
    let user = account(&env, "finances@example.org", RoleKind::Finance).await;
    let mut b = Browser::new(env.app.clone());
    b.post(
        "/mot-de-passe-oublie",
        "/mot-de-passe-oublie",
        &[("email", &user.email)],
    )
    .await;
    let reset = link(
        &mails(&env, &user.email).await[0].1,
        "/mot-de-passe/nouveau",
    );
    let jeton = reset.split("jeton=").nth(1).unwrap();
    let mut late = Browser::new(env.at("2021-03-01T11:00:30Z"));
    assert_eq!(late.get(&reset).await.status, StatusCode::GONE);
    let r = late
        .post(
            "/mot-de-passe-oublie",
            "/mot-de-passe/nouveau",
            &[
                ("jeton", jeton),
                ("password", "une nouvelle phrase de passe"),
                ("password2", "une nouvelle phrase de passe"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::GONE);
    assert!(r.text.contains("Demander un nouveau lien"));
}

#[tokio::test]
async fn regression_account_messages_to_one_address_stop_at_three_an_hour() {
    let env = Env::new(OPEN).await;
    let user = account(&env, "asso@example.org", RoleKind::Applicant).await;
    let mut b = Browser::new(env.app.clone());
    for _ in 0..6 {
        let r = b
            .post(
                "/mot-de-passe-oublie",
                "/mot-de-passe-oublie",
                &[("email", &user.email)],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "the page says the same");
    }
    assert_eq!(mails(&env, &user.email).await.len(), 3);
}

#[tokio::test]
async fn a_disabled_account_gets_no_reset_link() {
    let env = Env::new(OPEN).await;
    let user = account(&env, "parti@example.org", RoleKind::Reviewer).await;
    metroplan_server::access::disable_user(
        &env.db,
        &user.email,
        "admin:test",
        "2021-03-01T09:00:00Z",
    )
    .await
    .unwrap();
    let mut b = Browser::new(env.app.clone());
    let r = b
        .post(
            "/mot-de-passe-oublie",
            "/mot-de-passe-oublie",
            &[("email", &user.email)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let sent = mails(&env, &user.email).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].0, "Votre compte a été désactivé", "no reset link");
}

#[tokio::test]
async fn a_link_that_is_not_one_is_a_french_page_not_an_error() {
    let env = Env::new(OPEN).await;
    let mut b = Browser::new(env.app.clone());
    for uri in [
        "/mot-de-passe/nouveau",
        "/mot-de-passe/nouveau?jeton=%0D%0A",
        "/mot-de-passe/nouveau?jeton=zz",
        "/inscription/confirmer?jeton=",
        &format!("/inscription/confirmer?jeton={}", "a".repeat(64)),
    ] {
        let r = b.get(uri).await;
        assert!(
            matches!(r.status, StatusCode::GONE | StatusCode::OK),
            "{uri}: {}",
            r.status
        );
        assert!(
            r.text.starts_with("<!DOCTYPE html><html lang=\"fr\">"),
            "{uri}"
        );
    }
}

/// A message's text as the relay received it: its body, quoted-printable decoded.
fn text_of(message: &serde_json::Value) -> String {
    let data = message["data"].as_str().unwrap().replace("\r\n", "\n");
    let (head, body) = data.split_once("\n\n").unwrap();
    if !head.contains("Content-Transfer-Encoding: quoted-printable") {
        return body.to_string();
    }
    let body = body.replace("=\n", "");
    let (mut bytes, raw) = (Vec::new(), body.as_bytes());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'='
            && i + 2 < raw.len()
            && let Ok(b) = u8::from_str_radix(&body[i + 1..i + 3], 16)
        {
            bytes.push(b);
            i += 3;
            continue;
        }
        bytes.push(raw[i]);
        i += 1;
    }
    String::from_utf8(bytes).unwrap()
}

#[tokio::test]
async fn reset_revocation_and_deactivation_reach_the_person_through_the_outbox_over_smtp_tls() {
    use crate::smtp_tls::{Certs, Relay, run_worker};
    use metroplan_server::access;
    use std::time::Duration;

    let env = Env::new(OPEN).await;
    let user = account(&env, "asso@example.org", RoleKind::Applicant).await;
    env.token_of(&user).await;
    let certs = Certs::new();
    let relay = Relay::start("starttls", Some(&certs), 0).await;
    let mailer = || {
        metroplan_server::notify::Mailer::new(
            &format!("smtp://127.0.0.1:{}?tls=required", relay.port),
            Some(&certs.ca),
            "metroplan <noreply@metroplan.example>",
        )
        .unwrap()
    };

    // Forgotten password: the link arrives over TLS and replaces the password.
    let mut b = Browser::new(env.app.clone());
    b.post(
        "/mot-de-passe-oublie",
        "/mot-de-passe-oublie",
        &[("email", &user.email)],
    )
    .await;
    run_worker(&env, mailer(), &relay, 1, Duration::from_secs(20)).await;
    let got = relay.messages();
    assert_eq!(got.len(), 1, "{got:#?}");
    assert!(
        got[0]["tls"]
            .as_str()
            .is_some_and(|v| v.starts_with("TLSv1."))
    );
    assert_eq!(got[0]["rcpt"], json!([user.email]));
    let reset = link(&text_of(&got[0]), "/mot-de-passe/nouveau");
    let jeton = reset.split("jeton=").nth(1).unwrap();
    let new = "une phrase de passe toute neuve";
    let done = b
        .post(
            &reset,
            "/mot-de-passe/nouveau",
            &[("jeton", jeton), ("password", new), ("password2", new)],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text);

    // An administrator revokes the person's token, disables the account, enables it again:
    // the person is told each, by email.
    let token = access::tokens(&env.db)
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.user.as_deref() == Some(user.email.as_str()))
        .unwrap();
    let at = "2021-03-01T08:59:00Z";
    assert_eq!(
        access::revoke_token(&env.db, &token.id, "admin:test", at)
            .await
            .unwrap(),
        access::Revoked::Now
    );
    access::disable_user(&env.db, &user.email, "admin:test", at)
        .await
        .unwrap()
        .unwrap();
    assert!(
        access::enable_user(&env.db, &user.email, "admin:test", at)
            .await
            .unwrap()
    );
    run_worker(&env, mailer(), &relay, 4, Duration::from_secs(20)).await;
    let got = relay.messages();
    assert_eq!(got.len(), 4, "{got:#?}");
    let texts: Vec<String> = got[1..].iter().map(text_of).collect();
    assert!(
        texts[0].contains("a révoqué un jeton d'accès de votre compte"),
        "{}",
        texts[0]
    );
    assert!(
        texts[1].contains("a désactivé votre compte"),
        "{}",
        texts[1]
    );
    assert!(texts[2].contains("a réactivé votre compte"), "{}", texts[2]);
    let mut c = Browser::new(env.app.clone());
    assert_eq!(
        c.sign_in_with(&user.email, new).await.status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn regression_whoever_registers_an_address_after_its_owner_cannot_have_the_owner_confirm_their_account()
 {
    // The owner registers; before they follow the link, someone registers the same address
    // with a password of their own. The newest link reaches the owner, whose password no
    // longer opens it: they register again, and the account they confirm is theirs.
    let env = Env::new(OPEN).await;
    let email = "proprietaire@example.org";
    let mut owner = Browser::new(env.app.clone());
    owner
        .post(
            "/inscription",
            "/inscription",
            &registration(email, "Association légitime", PASSWORD),
        )
        .await;
    Browser::new(env.app.clone())
        .post(
            "/inscription",
            "/inscription",
            &registration(email, "Usurpateur", "le mot de passe de l'usurpateur"),
        )
        .await;
    let newest = link(&mails(&env, email).await[1].1, "/inscription/confirmer");
    let jeton = newest.split("jeton=").nth(1).unwrap();
    let r = owner.confirm(&newest, jeton, PASSWORD).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    owner
        .post(
            "/inscription",
            "/inscription",
            &registration(email, "Association légitime", PASSWORD),
        )
        .await;
    let sent = mails(&env, email).await;
    assert_eq!(sent.len(), 3);
    let last = link(&sent[2].1, "/inscription/confirmer");
    let jeton = last.split("jeton=").nth(1).unwrap();
    let r = owner.confirm(&last, jeton, PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let mut b = Browser::new(env.app.clone());
    assert_eq!(
        b.sign_in_with(email, "le mot de passe de l'usurpateur")
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let users = metroplan_server::accounts::all_users(&env.db)
        .await
        .unwrap();
    assert_eq!(users[0].name, "Association légitime");
}

#[tokio::test]
async fn regression_a_link_works_only_for_its_purpose_and_within_its_lifetime() {
    let env = Env::new("2021-03-01T10:00:00Z").await;
    let asso = "asso@example.org";
    Browser::new(env.app.clone())
        .post(
            "/inscription",
            "/inscription",
            &registration(asso, "Association", PASSWORD),
        )
        .await;
    let confirm = link(&mails(&env, asso).await[0].1, "/inscription/confirmer");
    let confirm_jeton = confirm.split("jeton=").nth(1).unwrap().to_string();
    let staff = account(&env, "instruction@example.org", RoleKind::Instructor).await;
    Browser::new(env.app.clone())
        .post(
            "/mot-de-passe-oublie",
            "/mot-de-passe-oublie",
            &[("email", &staff.email)],
        )
        .await;
    let reset = link(
        &mails(&env, &staff.email).await[0].1,
        "/mot-de-passe/nouveau",
    );
    let reset_jeton = reset.split("jeton=").nth(1).unwrap().to_string();

    // Each secret posted to the other page is no link there.
    let mut b = Browser::new(env.app.clone());
    let new = "une nouvelle phrase de passe";
    let r = b
        .post(
            "/mot-de-passe-oublie",
            "/mot-de-passe/nouveau",
            &[
                ("jeton", &confirm_jeton),
                ("password", new),
                ("password2", new),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::GONE);
    let r = b
        .confirm("/mot-de-passe-oublie", &reset_jeton, PASSWORD)
        .await;
    assert_eq!(r.status, StatusCode::GONE);

    // Half a minute before the hour the reset link still works; the confirmation link lasts
    // a day, not a second more.
    let mut almost = Browser::new(env.at("2021-03-01T10:59:30Z"));
    let page = almost.get(&reset).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.headers["referrer-policy"], "no-referrer");
    let mut next_day = Browser::new(env.at("2021-03-02T10:00:30Z"));
    let r = next_day
        .confirm("/mot-de-passe-oublie", &confirm_jeton, PASSWORD)
        .await;
    assert_eq!(r.status, StatusCode::GONE);
    let mut in_time = Browser::new(env.at("2021-03-01T21:00:00Z"));
    let r = in_time
        .confirm("/mot-de-passe-oublie", &confirm_jeton, PASSWORD)
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
}

#[tokio::test]
async fn regression_an_account_message_is_not_kept_once_sent() {
    // The message holds the link's secret; the database keeps only its hash once it is out.
    use crate::smtp_tls::{Relay, run_worker};
    let env = Env::new(OPEN).await;
    let user = account(&env, "asso@example.org", RoleKind::Applicant).await;
    Browser::new(env.app.clone())
        .post(
            "/mot-de-passe-oublie",
            "/mot-de-passe-oublie",
            &[("email", &user.email)],
        )
        .await;
    assert!(mails(&env, &user.email).await[0].1.contains("jeton="));
    let relay = Relay::start("plain", None, 0).await;
    let mailer = metroplan_server::notify::Mailer::new(
        &format!("smtp://127.0.0.1:{}", relay.port),
        None,
        "metroplan <noreply@metroplan.example>",
    )
    .unwrap();
    run_worker(&env, mailer, &relay, 1, std::time::Duration::from_secs(20)).await;
    assert_eq!(relay.messages().len(), 1);
    let kept = mails(&env, &user.email).await;
    assert!(!kept[0].1.contains("jeton="), "{kept:?}");
}

#[tokio::test]
async fn regression_signing_in_before_confirming_locks_after_as_many_attempts_as_a_wrong_password()
{
    // Answered as a wrong password, it must also be counted as one: a lock coming later for
    // an unconfirmed account than for an unknown address would tell which addresses have one.
    let env = Env::new(OPEN).await;
    let email = "nouvelle@example.org";
    Browser::new(env.app.clone())
        .post(
            "/inscription",
            "/inscription",
            &registration(email, "Nouvelle association", PASSWORD),
        )
        .await;
    let statuses = |who: &'static str| {
        let app = env.app.clone();
        async move {
            let mut b = Browser::new(app);
            let mut seen = Vec::new();
            for _ in 0..=metroplan_server::accounts::MAX_FAILURES {
                seen.push(b.sign_in(who).await.status);
            }
            seen
        }
    };
    let unconfirmed = statuses(email).await;
    let unknown = statuses("inconnue@example.org").await;
    assert_eq!(unconfirmed, unknown);
    assert_eq!(
        unconfirmed.last(),
        Some(&StatusCode::TOO_MANY_REQUESTS),
        "{unconfirmed:?}"
    );
}

#[tokio::test]
async fn a_person_without_a_siret_registers_and_the_funds_key_is_bound_to_the_account_at_the_first_filing()
 {
    // The bike aid's call of 2020 is open; its key is the beneficiary's numéro fiscal.
    let env = Env::new("2020-06-15T10:00:00+02:00").await;
    let email = "camille@example.org";
    let mut b = Browser::new(env.app.clone());
    let form = b.get("/inscription").await;
    assert!(form.text.contains("SIRET (facultatif)"), "{}", form.text);
    let mut fields = registration(email, "Camille Martin", PASSWORD);
    fields[1] = ("siret", "");
    let r = b.post("/inscription", "/inscription", &fields).await;
    assert_eq!(r.status, StatusCode::OK, "{}", told(&r.text));
    let sent = mails(&env, email).await;
    let jeton = link(&sent[0].1, "/inscription/confirmer");
    let jeton = jeton.split("jeton=").nth(1).unwrap();
    let page = format!("/inscription/confirmer?jeton={jeton}");
    let done = b.confirm(&page, jeton, PASSWORD).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", told(&done.text));
    let user = metroplan_server::accounts::find_by_email(&env.db, email)
        .await
        .unwrap()
        .expect("the account");
    assert_eq!(user.siret, None);
    let token = env.token_of(&user).await;
    let data = json!({
        "call": 2020,
        "beneficiaire": {"nom": "Camille Martin", "numero_fiscal": "1234567890123", "reside_metropole": true},
        "velo": {"type": "vae", "modele": "Vélo de ville électrique", "coupure_25kmh": true, "batterie_plomb": false},
        "achat": {"date": "2020-06-10", "prix_ttc": "1200.00", "vendeur_metropole": true, "aide_etat_demandee": false},
        "aide": {"montant_demande": 300}
    });
    let file = "/api/plans/lyon-pama/funds/aide-velo/applications";
    let r = env
        .call(
            Method::POST,
            file,
            Some(&token),
            &[],
            Some(json!({ "data": data })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(
        env.texts(
            "SELECT principal_id AS v FROM applicant_keys WHERE key = $1",
            "1234567890123"
        )
        .await,
        vec![format!("user:{}", user.id)],
        "the numéro fiscal is now the account's"
    );
    // Another account cannot file under it.
    let other = account(&env, "autre@example.org", RoleKind::Applicant).await;
    let other = env.token_of(&other).await;
    let r = env
        .call(
            Method::POST,
            file,
            Some(&other),
            &[],
            Some(json!({ "data": data })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(r.body["type"], "/problems/applicant-key-bound");
}

/// Review: asking a reset for an address with an account wrote a link and a message, for one
/// without nothing; the answer's time told which. Both now wait to the same floor (250 ms).
#[tokio::test]
async fn regression_a_reset_request_takes_as_long_whether_the_address_has_an_account_or_not() {
    let env = Env::new(OPEN).await;
    account(&env, "asso@example.org", RoleKind::Applicant).await;
    for email in ["asso@example.org", "personne@example.org"] {
        let mut b = Browser::new(env.app.clone());
        let page = b.get("/mot-de-passe-oublie").await.text;
        let csrf = crate::web::csrf_of(&page);
        let started = std::time::Instant::now();
        let r = b
            .send(
                Method::POST,
                "/mot-de-passe-oublie",
                Some(&[("_csrf", csrf.as_str()), ("email", email)]),
            )
            .await;
        let took = started.elapsed();
        assert_eq!(r.status, StatusCode::OK, "{email}");
        assert!(
            took >= std::time::Duration::from_millis(250),
            "{email}: answered in {took:?}"
        );
    }
    assert_eq!(mails(&env, "asso@example.org").await.len(), 1);
}
