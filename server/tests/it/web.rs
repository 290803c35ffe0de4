//! The web pages' security, through the router: who may open which page, CSRF, the sign-in
//! throttle, sessions, stale forms. (The journey in a real browser is in `tests/it/web.rs`.)

use std::collections::BTreeMap;

use axum::Router;
use axum::http::{Method, StatusCode};
use metroplan_engine::model::RoleKind;
use metroplan_server::accounts::{self, NewUser};
use metroplan_server::tokens;

use crate::support::*;

const OPEN: &str = "2021-03-01T10:00:00+01:00";
pub const PASSWORD: &str = "une phrase de passe solide";

/// A browser without JavaScript: it keeps cookies and reads the CSRF field of pages.
pub struct Browser {
    app: Router,
    cookies: BTreeMap<String, String>,
    /// Sent with every request, as a proxy in front would (`X-Forwarded-For`).
    forwarded_for: Option<String>,
}

fn encode(s: &str) -> String {
    let mut o = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                o.push(b as char)
            }
            b' ' => o.push('+'),
            _ => o.push_str(&format!("%{b:02X}")),
        }
    }
    o
}

pub fn csrf_of(html: &str) -> String {
    let at = html
        .find("name=\"_csrf\" value=\"")
        .expect("the page has a form with a CSRF field");
    let rest = &html[at + "name=\"_csrf\" value=\"".len()..];
    rest[..rest.find('"').unwrap()].to_string()
}

impl Browser {
    pub fn new(app: Router) -> Browser {
        Browser {
            app,
            cookies: BTreeMap::new(),
            forwarded_for: None,
        }
    }

    /// Whether the browser holds a cookie `name` (a session, a sign-in under way).
    pub fn has_cookie(&self, name: &str) -> bool {
        self.cookies.contains_key(name)
    }

    pub async fn send(&mut self, method: Method, uri: &str, form: Option<&[(&str, &str)]>) -> Res {
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut headers: Vec<(&str, &str)> = if cookie.is_empty() {
            vec![]
        } else {
            vec![("cookie", cookie.as_str())]
        };
        if let Some(f) = &self.forwarded_for {
            headers.push(("x-forwarded-for", f.as_str()));
        }
        let body = form.map(|f| {
            f.iter()
                .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
                .collect::<Vec<_>>()
                .join("&")
                .into_bytes()
        });
        let res = call(
            &self.app,
            method,
            uri,
            None,
            &headers,
            body,
            "application/x-www-form-urlencoded",
        )
        .await;
        for v in res.headers.get_all("set-cookie") {
            let v = v.to_str().unwrap();
            let (kv, _) = v.split_once(';').unwrap_or((v, ""));
            let (k, val) = kv.split_once('=').unwrap();
            if val.is_empty() || v.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_string(), val.to_string());
            }
        }
        res
    }

    /// Posts a multipart form (with the CSRF token of `page`) and files `(field, name, bytes)`.
    pub async fn post_files(
        &mut self,
        page: &str,
        uri: &str,
        fields: &[(&str, &str)],
        files: &[(&str, &str, &[u8])],
    ) -> Res {
        let html = self.get(page).await.text;
        let token = csrf_of(&html);
        let mut all = vec![("_csrf", token.as_str())];
        all.extend_from_slice(fields);
        self.send_multipart(uri, &all, files).await
    }

    /// Posts a multipart form with exactly these fields and files (no CSRF token unless given).
    pub async fn send_multipart(
        &mut self,
        uri: &str,
        fields: &[(&str, &str)],
        files: &[(&str, &str, &[u8])],
    ) -> Res {
        let b = "XmetroplanWebX";
        let mut body = Vec::new();
        for (k, v) in fields {
            body.extend_from_slice(
                format!("--{b}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                    .as_bytes(),
            );
        }
        for (k, name, bytes) in files {
            body.extend_from_slice(
                format!("--{b}\r\nContent-Disposition: form-data; name=\"{k}\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n")
                    .as_bytes(),
            );
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{b}--\r\n").as_bytes());
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        call(
            &self.app,
            Method::POST,
            uri,
            None,
            &[("cookie", cookie.as_str())],
            Some(body),
            &format!("multipart/form-data; boundary={b}"),
        )
        .await
    }

    /// The application version a page's forms carry.
    pub async fn version_on(&mut self, page: &str) -> String {
        let html = self.get(page).await.text;
        html.split("name=\"version\" value=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .expect("a form with the application's version")
            .to_string()
    }

    pub async fn get(&mut self, uri: &str) -> Res {
        self.send(Method::GET, uri, None).await
    }

    /// Posts a form with the CSRF token of `page`.
    pub async fn post(&mut self, page: &str, uri: &str, fields: &[(&str, &str)]) -> Res {
        let html = self.get(page).await.text;
        let token = csrf_of(&html);
        let mut all = vec![("_csrf", token.as_str())];
        all.extend_from_slice(fields);
        self.send(Method::POST, uri, Some(&all)).await
    }

    pub async fn sign_in(&mut self, email: &str) -> Res {
        self.sign_in_with(email, PASSWORD).await
    }

    pub async fn sign_in_with(&mut self, email: &str, password: &str) -> Res {
        self.post(
            "/connexion",
            "/connexion",
            &[("email", email), ("password", password)],
        )
        .await
    }
}

pub async fn account(env: &Env, email: &str, role: RoleKind) -> accounts::User {
    account_with(env, email, role, "81234567800019").await
}

/// An account whose applicant key (for an applicant) is `siret`.
pub async fn account_with(env: &Env, email: &str, role: RoleKind, siret: &str) -> accounts::User {
    accounts::create_user(
        &env.db,
        NewUser {
            email,
            name: email,
            role,
            plan: None,
            fund: None,
            siret: (role == RoleKind::Applicant).then_some(siret),
            password: PASSWORD,
            grants: &[],
        },
        jiff::Timestamp::now(),
    )
    .await
    .expect("account")
}

/// An application filed by `owner` through the API, with a token that acts as them.
pub async fn filed_by(env: &Env, owner: &accounts::User) -> String {
    let token = tokens::create_for_user(&env.db, owner, "2021-01-01T00:00:00Z")
        .await
        .unwrap();
    env.eligible(&token, application()).await
}

#[tokio::test]
async fn staff_pages_refuse_an_applicant_and_send_strangers_to_sign_in() {
    let env = Env::new(OPEN).await;
    account(&env, "asso@example.org", RoleKind::Applicant).await;
    let staff_pages = [
        "/instruction",
        "/instruction/dossiers.csv",
        "/admin",
        "/plans/amp-pmlcd/fonds/fonds-initiative/enveloppe",
    ];
    let mut stranger = Browser::new(env.app.clone());
    for page in staff_pages.iter().chain(&["/mes-dossiers"]) {
        let r = stranger.get(page).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{page}");
        let to = r.headers["location"].to_str().unwrap();
        assert!(to.starts_with("/connexion?suite=/"), "{page} → {to}");
    }
    let mut asso = Browser::new(env.app.clone());
    assert_eq!(
        asso.sign_in("asso@example.org").await.status,
        StatusCode::SEE_OTHER
    );
    for page in staff_pages {
        let r = asso.get(page).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{page}");
        assert!(r.text.contains("Accès refusé"), "{page}");
    }
    for (page, uri, fields) in [
        (
            "/",
            "/instruction/lot",
            vec![("action", "attribuer"), ("dossier", "x:1")],
        ),
        (
            "/",
            "/admin/utilisateurs",
            vec![
                ("email", "x@y.fr"),
                ("role", "admin"),
                ("name", "x"),
                ("password", PASSWORD),
            ],
        ),
        ("/", "/admin/jetons", vec![("email", "asso@example.org")]),
        (
            "/",
            "/plans/amp-pmlcd/calendrier",
            vec![("element", "x"), ("jours", "3")],
        ),
    ] {
        let r = asso.post(page, uri, &fields).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "POST {uri}");
    }
    assert_eq!(
        accounts::all_users(&env.db).await.unwrap().len(),
        1,
        "no account was created by the applicant"
    );
    // Staff reach every staff page; only the administrator the administration.
    account(&env, "instr@amp.example", RoleKind::Instructor).await;
    let mut instr = Browser::new(env.app.clone());
    instr.sign_in("instr@amp.example").await;
    for page in &staff_pages {
        let r = instr.get(page).await;
        let expected = if *page == "/admin" {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::OK
        };
        assert_eq!(r.status, expected, "{page}");
    }
}

#[tokio::test]
async fn an_applicant_cannot_open_or_act_on_another_applicants_file() {
    let env = Env::new(OPEN).await;
    let a = account(&env, "a@example.org", RoleKind::Applicant).await;
    account(&env, "b@example.org", RoleKind::Applicant).await;
    let id = filed_by(&env, &a).await;
    let mut owner = Browser::new(env.app.clone());
    owner.sign_in("a@example.org").await;
    let page = owner.get(&format!("/dossiers/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("Contrôle d'éligibilité et explication"));
    assert_eq!(
        owner
            .get(&format!("/dossiers/{id}/pieces/rib"))
            .await
            .status,
        StatusCode::OK
    );

    let mut other = Browser::new(env.app.clone());
    other.sign_in("b@example.org").await;
    for uri in [
        format!("/dossiers/{id}"),
        format!("/dossiers/{id}/pieces/rib"),
    ] {
        let r = other.get(&uri).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{uri}");
        assert!(
            !r.text.contains("Ateliers"),
            "nothing of the file leaks: {uri}"
        );
    }
    let r = other
        .post(
            "/mes-dossiers",
            &format!("/dossiers/{id}/actions/retirer"),
            &[("version", "1")],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let mine = other.get("/mes-dossiers").await;
    assert!(mine.text.contains("aucun dossier"), "{}", mine.text);
    let still = owner.get(&format!("/dossiers/{id}")).await;
    assert!(still.text.contains("En instruction"));
}

#[tokio::test]
async fn a_form_without_its_csrf_token_changes_nothing() {
    let env = Env::new(OPEN).await;
    let a = account(&env, "a@example.org", RoleKind::Applicant).await;
    let id = filed_by(&env, &a).await;
    let mut b = Browser::new(env.app.clone());
    b.sign_in("a@example.org").await;
    let before = b.get(&format!("/dossiers/{id}")).await.text;
    for token in [None, Some("0123456789abcdef0123456789abcdef")] {
        let mut fields = vec![("version", "3"), ("motif", "test")];
        if let Some(t) = token {
            fields.push(("_csrf", t));
        }
        let r = b
            .send(
                Method::POST,
                &format!("/dossiers/{id}/actions/retirer"),
                Some(&fields),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{token:?}");
        assert!(r.text.contains("Formulaire expiré"));
    }
    // Signing in needs the token too (no login CSRF).
    let mut fresh = Browser::new(env.app.clone());
    let r = fresh
        .send(
            Method::POST,
            "/connexion",
            Some(&[("email", "a@example.org"), ("password", PASSWORD)]),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(!fresh.cookies.contains_key("mp_session"));
    let after = b.get(&format!("/dossiers/{id}")).await.text;
    assert!(after.contains("En instruction") && before.contains("En instruction"));
}

#[tokio::test]
async fn a_stale_page_gets_a_clear_message_and_changes_nothing() {
    let env = Env::new(OPEN).await;
    let a = account(&env, "a@example.org", RoleKind::Applicant).await;
    let id = filed_by(&env, &a).await;
    account(&env, "instr@amp.example", RoleKind::Instructor).await;
    let mut instr = Browser::new(env.app.clone());
    instr.sign_in("instr@amp.example").await;
    let version = instr.version_on(&format!("/dossiers/{id}")).await;
    let old = (version.parse::<i64>().unwrap() - 1).to_string();
    let r = instr
        .post(
            &format!("/dossiers/{id}"),
            &format!("/dossiers/{id}/actions/soumettre-au-comite"),
            &[("version", &old)],
        )
        .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
    assert!(
        r.text.contains("Quelqu'un d'autre a modifié ce dossier"),
        "{}",
        r.text
    );
    assert!(
        r.text.contains("En instruction"),
        "the page shows the file as it is"
    );
    let ok = instr
        .post(
            &format!("/dossiers/{id}"),
            &format!("/dossiers/{id}/actions/soumettre-au-comite"),
            &[("version", &version)],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    assert!(
        ok.headers["location"]
            .to_str()
            .unwrap()
            .ends_with("?fait=soumettre-au-comite")
    );
}

/// `n` sign-ins at once with `email(i)` and a wrong password, from `client`: how many had
/// their password verified (refused) and how many were turned away by a lock.
async fn burst(
    env: &Env,
    n: usize,
    email: impl Fn(usize) -> String,
    client: Option<&'static str>,
) -> (usize, usize) {
    let now = jiff::Timestamp::now();
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let db = env.db.clone();
            let email = email(i);
            tokio::spawn(async move {
                accounts::sign_in(&db, &email, "mauvais mot de passe", client, now)
                    .await
                    .expect("no storage fault")
            })
        })
        .collect();
    let (mut verified, mut locked) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            accounts::SignIn::Refused => verified += 1,
            accounts::SignIn::Locked(_) | accounts::SignIn::ClientLocked(_) => locked += 1,
            accounts::SignIn::Busy => {}
            accounts::SignIn::Ok(_)
            | accounts::SignIn::Disabled
            | accounts::SignIn::Unconfirmed(_) => {
                panic!("a wrong password signed in")
            }
        }
    }
    (verified, locked)
}

/// Security review: bursts of concurrent guesses verified 115 wrong passwords before the
/// account's lock (the limit is 5), and the address counter recorded 120 failures as 9.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_concurrent_wrong_passwords_locks_after_the_limit() {
    let env = Env::new(OPEN).await;
    account(&env, "a@example.org", RoleKind::Applicant).await;
    let (verified, locked) = burst(&env, 100, |_| "a@example.org".into(), None).await;
    assert!(
        verified <= accounts::MAX_FAILURES as usize,
        "{verified} passwords verified before the lock"
    );
    assert!(locked >= 100 - accounts::MAX_FAILURES as usize - accounts::VERIFICATIONS);
    // And the account is locked now, for its right password too.
    let right = accounts::sign_in(
        &env.db,
        "a@example.org",
        PASSWORD,
        None,
        jiff::Timestamp::now(),
    )
    .await
    .unwrap();
    assert!(matches!(right, accounts::SignIn::Locked(_)), "{right:?}");
    // One address spraying 100 emails at once is locked after its own limit.
    let (verified, _) = burst(
        &env,
        100,
        |i| format!("essai{i}@example.org"),
        Some("203.0.113.9"),
    )
    .await;
    assert!(
        verified <= accounts::MAX_CLIENT_FAILURES as usize,
        "{verified} passwords verified from one address"
    );
    let later = accounts::sign_in(
        &env.db,
        "b@example.org",
        "x",
        Some("203.0.113.9"),
        jiff::Timestamp::now(),
    )
    .await
    .unwrap();
    assert!(
        matches!(later, accounts::SignIn::ClientLocked(_)),
        "{later:?}"
    );
}

#[tokio::test]
async fn twenty_failures_from_one_address_lock_it_whatever_the_emails_tried() {
    let env = Env::new(OPEN).await;
    account(&env, "a@example.org", RoleKind::Applicant).await;
    // Behind a proxy that appends the client's address to X-Forwarded-For.
    let mut state = env.state.clone();
    let mut config = (*state.config).clone();
    config.behind_proxy = true;
    state.config = std::sync::Arc::new(config);
    let app = metroplan_server::app(state);
    let mut sprayer = Browser::new(app.clone());
    for i in 0..accounts::MAX_CLIENT_FAILURES {
        // The client forges the first entries; the proxy's last one is the real address.
        sprayer.forwarded_for = Some(format!("10.0.0.{i}, 203.0.113.7"));
        let r = sprayer
            .post(
                "/connexion",
                "/connexion",
                &[
                    ("email", &format!("essai{i}@example.org")),
                    ("password", "mot de passe essayé"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    // Now even the right password is refused from that address, and says why.
    let r = sprayer.sign_in("a@example.org").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.text.contains("depuis votre réseau"), "{}", r.text);
    // The account itself is not locked: from another address, its owner signs in.
    let mut owner = Browser::new(app.clone());
    owner.forwarded_for = Some("198.51.100.2".into());
    assert_eq!(
        owner.sign_in("a@example.org").await.status,
        StatusCode::SEE_OTHER
    );
    // Fifteen minutes later the address may try again.
    let later = metroplan_server::app({
        let mut s = env.state.clone();
        s.ctx.clock = metroplan_server::clock::Clock::starting_at(
            "2021-03-01T10:16:00+01:00".parse().unwrap(),
        );
        let mut c = (*s.config).clone();
        c.behind_proxy = true;
        s.config = std::sync::Arc::new(c);
        s
    });
    let mut again = Browser::new(later);
    again.forwarded_for = Some("203.0.113.7".into());
    assert_eq!(
        again.sign_in("a@example.org").await.status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn sign_in_is_throttled_after_five_failures_and_reopens_later() {
    let env = Env::new(OPEN).await;
    account(&env, "a@example.org", RoleKind::Applicant).await;
    let mut b = Browser::new(env.app.clone());
    for _ in 0..5 {
        let r = b
            .post(
                "/connexion",
                "/connexion",
                &[("email", "a@example.org"), ("password", "wrong password!")],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert!(r.text.contains("incorrect"));
    }
    let locked = b.sign_in("a@example.org").await;
    assert_eq!(
        locked.status,
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits"
    );
    assert!(
        locked.text.contains("Réessayez dans 15 minutes"),
        "{}",
        locked.text
    );
    assert!(!b.cookies.contains_key("mp_session"));
    // An unknown email is refused like a wrong password.
    let unknown = b
        .post(
            "/connexion",
            "/connexion",
            &[("email", "nobody@example.org"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    let mut later = Browser::new(env.at("2021-03-01T10:16:00+01:00"));
    assert_eq!(
        later.sign_in("a@example.org").await.status,
        StatusCode::SEE_OTHER
    );
    assert!(later.cookies.contains_key("mp_session"));
}

#[tokio::test]
async fn the_session_cookie_is_http_only_and_same_site_and_signing_out_ends_it() {
    let env = Env::new(OPEN).await;
    account(&env, "a@example.org", RoleKind::Applicant).await;
    let mut b = Browser::new(env.app.clone());
    let r = b.sign_in("a@example.org").await;
    let cookie = r
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("mp_session="))
        .expect("a session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let secret = b.cookies["mp_session"].clone();
    assert_eq!(b.get("/mes-dossiers").await.status, StatusCode::OK);
    let page = b.get("/mes-dossiers").await;
    assert!(
        page.headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert_eq!(page.headers["cache-control"], "no-store");
    let out = b.post("/mes-dossiers", "/deconnexion", &[]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    // The old cookie no longer opens anything, even if a copy of it was kept.
    b.cookies.insert("mp_session".into(), secret);
    assert_eq!(b.get("/mes-dossiers").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn sign_in_never_sends_the_browser_off_site() {
    let env = Env::new(OPEN).await;
    account(&env, "a@example.org", RoleKind::Applicant).await;
    for (suite, expected) in [
        ("/mes-dossiers", "/mes-dossiers"),
        ("//evil.example/x", "/mes-dossiers"),
        ("https://evil.example/", "/mes-dossiers"),
        ("/\\evil.example", "/mes-dossiers"),
    ] {
        let mut b = Browser::new(env.app.clone());
        let r = b
            .post(
                "/connexion",
                "/connexion",
                &[
                    ("email", "a@example.org"),
                    ("password", PASSWORD),
                    ("suite", suite),
                ],
            )
            .await;
        assert_eq!(r.headers["location"], expected, "{suite}");
    }
}

/// Security review: `suite=/%09/host` came back as `Location: /\t/host` (read by browsers as
/// `//host`), and a CR, LF or NUL in it gave a 500.
#[tokio::test]
async fn sign_in_suite_with_a_control_character_stays_on_this_site_and_is_never_a_500() {
    let env = Env::new(OPEN).await;
    account(&env, "a@example.org", RoleKind::Applicant).await;
    for suite in [
        "/\t/evil.example",
        "/\r\nSet-Cookie: x=1",
        "/\n/evil.example",
        "/mes-dossiers\0",
        "/\u{7f}/evil.example",
    ] {
        // Through the sign-in page's hidden field (the query is decoded first) …
        let mut b = Browser::new(env.app.clone());
        let page = b
            .get(&format!(
                "/connexion?suite={}",
                suite
                    .bytes()
                    .map(|c| format!("%{c:02X}"))
                    .collect::<String>()
            ))
            .await;
        assert_eq!(page.status, StatusCode::OK, "{suite:?}");
        assert!(
            page.text.contains("name=\"suite\" value=\"/\""),
            "{suite:?}: the page keeps only this site's home"
        );
        // … and posted as is.
        let r = b
            .post(
                "/connexion",
                "/connexion",
                &[
                    ("email", "a@example.org"),
                    ("password", PASSWORD),
                    ("suite", suite),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{suite:?}: {}", r.text);
        assert_eq!(r.headers["location"], "/mes-dossiers", "{suite:?}");
    }
}

#[tokio::test]
async fn registration_explains_what_is_wrong_in_french_and_creates_one_account() {
    let env = Env::new(OPEN).await;
    let mut b = Browser::new(env.app.clone());
    let form = |password: &'static str, siret: &'static str| {
        vec![
            ("name", "Association des habitants"),
            ("siret", siret),
            ("email", "habitants@example.org"),
            ("password", password),
            ("password2", password),
        ]
    };
    let short = b
        .post(
            "/inscription",
            "/inscription",
            &form("court", "81234567800019"),
        )
        .await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(short.text.contains("au moins 12 caractères"));
    assert!(
        short.text.contains("Association des habitants"),
        "what was typed is kept"
    );
    let siret = b
        .post("/inscription", "/inscription", &form(PASSWORD, "1234"))
        .await;
    assert!(siret.text.contains("14 chiffres"));
    let ok = b
        .post(
            "/inscription",
            "/inscription",
            &form(PASSWORD, "81234567800019"),
        )
        .await;
    // The account waits for its address to be confirmed (tests/it/confirmations.rs).
    assert_eq!(ok.status, StatusCode::OK);
    assert!(ok.text.contains("Vérifiez votre messagerie"), "{}", ok.text);
    let mut again = Browser::new(env.app.clone());
    let twice = again
        .post(
            "/inscription",
            "/inscription",
            &form(PASSWORD, "81234567800019"),
        )
        .await;
    assert_eq!(twice.status, StatusCode::OK);
    assert!(twice.text.contains("Vérifiez votre messagerie"));
    let users = accounts::all_users(&env.db).await.unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].role, RoleKind::Applicant);
    assert_eq!(users[0].siret.as_deref(), Some("81234567800019"));
}

#[tokio::test]
async fn public_pages_answer_without_an_account_and_unknown_ones_are_404_pages() {
    let env = Env::new(OPEN).await;
    let mut b = Browser::new(env.app.clone());
    for page in [
        "/",
        "/plans/amp-pmlcd",
        "/plans/amp-pmlcd/calendrier?axe=metropole-exemplaire&statut=",
        "/plans/amp-pmlcd/fonds/fonds-initiative",
        "/plans/amp-pmlcd/fonds/fonds-initiative/algorithme",
        "/connexion",
        "/inscription",
    ] {
        let r = b.get(page).await;
        assert_eq!(r.status, StatusCode::OK, "{page}");
        assert!(
            r.text.starts_with("<!DOCTYPE html><html lang=\"fr\">"),
            "{page}"
        );
    }
    let r = b.get("/plans/nope").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.text.contains("Page introuvable"));
    let filtered = b
        .get("/plans/amp-pmlcd/calendrier?axe=metropole-exemplaire")
        .await
        .text;
    let all = b.get("/plans/amp-pmlcd/calendrier").await.text;
    assert!(
        filtered.len() < all.len(),
        "the axis filter keeps fewer rows"
    );
}

#[tokio::test]
async fn an_incomplete_file_shows_what_is_missing_and_is_completed_from_its_page() {
    let env = Env::new(OPEN).await;
    let a = account(&env, "a@example.org", RoleKind::Applicant).await;
    let token = tokens::create_for_user(&env.db, &a, "2021-01-01T00:00:00Z")
        .await
        .unwrap();
    let r = env.file(&token, application()).await;
    assert_eq!(r.body["state"], "incomplet", "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    let mut b = Browser::new(env.app.clone());
    b.sign_in("a@example.org").await;
    let page = format!("/dossiers/{id}");
    let html = b.get(&page).await.text;
    assert!(html.contains("Ce qui manque"));
    for label in [
        "Budget prévisionnel du projet",
        "Relevé d'identité bancaire (RIB)",
        "Statuts",
    ] {
        assert!(html.contains(label), "{label} is listed as missing");
    }
    assert!(
        html.contains("au plus tard le <strong>16 mars 2021</strong>"),
        "15 days from 1 March"
    );

    // A file that is not a PDF or an image is refused, and nothing is stored.
    let bad = b
        .post_files(
            &page,
            &format!("{page}/pieces"),
            &[],
            &[("piece.rib", "rib.exe", b"MZ\x90\x00binary")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.text.contains("ni un PDF ni une image"), "{}", bad.text);
    let pieces: Vec<(&str, &str, &[u8])> = [
        "piece.budget_previsionnel",
        "piece.rib",
        "piece.statuts",
        "piece.attestation_regularite",
    ]
    .into_iter()
    .map(|k| (k, "piece.pdf", PDF))
    .collect();
    let up = b
        .post_files(&page, &format!("{page}/pieces"), &[], &pieces)
        .await;
    assert_eq!(up.status, StatusCode::SEE_OTHER, "{}", up.text);
    let html = b.get(&page).await.text;
    assert!(
        html.contains("Pièces enregistrées") || html.contains("(PDF, 1\u{a0}Ko)"),
        "the pieces are listed"
    );
    assert!(
        !html.contains("(application/pdf"),
        "a media type is for machines, not shown"
    );
    let version = b.version_on(&page).await;
    let done = b
        .post(
            &page,
            &format!("{page}/actions/completer"),
            &[("version", &version)],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text);
    let html = b.get(&page).await.text;
    assert!(
        html.contains("En instruction"),
        "complete, checked again and sent to instruction"
    );
    assert!(!html.contains("Ce qui manque"));
}

#[tokio::test]
async fn a_draft_is_edited_from_its_page_and_previewed_before_filing() {
    let env = Env::new(OPEN).await;
    let a = account(&env, "a@example.org", RoleKind::Applicant).await;
    let token = tokens::create_for_user(&env.db, &a, "2021-01-01T00:00:00Z")
        .await
        .unwrap();
    let r = env.draft(&token, application()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    let page = format!("/dossiers/{id}");
    let mut b = Browser::new(env.app.clone());
    b.sign_in("a@example.org").await;
    let html = b.get(&page).await.text;
    assert!(html.contains("Aperçu de l'éligibilité"));
    assert!(
        html.contains("incomplet"),
        "no piece yet: the preview says incomplete"
    );
    // Over the ceiling (10 000 € in 2021): the preview says ineligible, with the reason.
    let mut fields: Vec<(String, String)> = Vec::new();
    for (k, v) in [
        ("f.call", "2021"),
        (
            "f.applicant.name",
            "Association Égalité des chances Vitrolles",
        ),
        ("f.applicant.kind", "association"),
        // As people type them: a SIRET in groups, an amount with its thousands and its unit.
        ("f.applicant.siret", "812 345 678 00019"),
        ("f.applicant.registered_on", "2015-06-01"),
        ("f.project.title", "Ateliers"),
        ("f.project.purpose", "plcd"),
        ("f.project.communes", "13117"),
        ("f.project.criteria", "origine"),
        ("f.project.domains", "emploi"),
        ("f.project.starts_on", "2021-04-01"),
        ("f.project.ends_on", "2021-12-15"),
        ("f.project.total_cost", "40\u{202f}000 €"),
        ("f.project.requested_amount", "15000,50"),
        ("f.project.qpv", "oui"),
        ("f.project.economic_partner", "non"),
        ("f.project.resident_participation", "oui"),
        ("version", "1"),
    ] {
        fields.push((k.into(), v.into()));
    }
    let refs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let saved = b.post(&page, &format!("{page}/modifier"), &refs).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.text);
    let view = env.get(&format!("/api/applications/{id}"), &token).await;
    assert_eq!(
        view.body["requested"], "15000.50",
        "amounts typed the French way are read exactly"
    );
    assert_eq!(view.body["data"]["project"]["qpv"], true);
    assert_eq!(view.body["data"]["project"]["total_cost"], "40000");
    assert_eq!(view.body["data"]["applicant"]["siret"], "81234567800019");
    let html = b.get(&page).await.text;
    assert!(
        html.contains("value=\"15\u{202f}000,50\""),
        "the amount is written back as French writes it, and read again as typed"
    );
    assert!(
        !html.contains("pattern="),
        "no browser pattern refuses what the server reads"
    );
    assert!(
        html.contains("inéligible"),
        "the preview follows the new content"
    );
    // A stale edit is refused.
    let stale = b.post(&page, &format!("{page}/modifier"), &refs).await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    // A bad value is refused in French, field by field, and nothing changes.
    let mut bad = refs.clone();
    // (The SIRET is the account's whatever is sent: a bad amount.)
    bad.retain(|(k, _)| {
        *k != "version" && *k != "f.project.requested_amount" && *k != "f.project.title"
    });
    bad.push(("f.project.requested_amount", "beaucoup"));
    bad.push(("f.project.title", "Ateliers modifiés"));
    bad.push(("version", "2"));
    let r = b.post(&page, &format!("{page}/modifier"), &bad).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text
            .contains("Montant demandé au fonds (€)\u{a0}: Indiquez un montant en euros"),
        "{}",
        r.text
    );
}

#[tokio::test]
async fn a_refused_draft_edit_keeps_what_was_typed_in_the_open_form() {
    let env = Env::new(OPEN).await;
    let a = account(&env, "a@example.org", RoleKind::Applicant).await;
    let token = tokens::create_for_user(&env.db, &a, "2021-01-01T00:00:00Z")
        .await
        .unwrap();
    let r = env.draft(&token, application()).await;
    let id = r.body["id"].as_str().unwrap().to_string();
    let page = format!("/dossiers/{id}");
    let mut b = Browser::new(env.app.clone());
    b.sign_in("a@example.org").await;
    let version = b.version_on(&page).await;
    let r = b
        .post(
            &page,
            &format!("{page}/modifier"),
            &[
                ("version", version.as_str()),
                ("f.project.title", "Ateliers modifiés"),
                ("f.project.requested_amount", "beaucoup"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    // The form is open, with the faulty value and the others as typed, and the summary of
    // errors linking to the field.
    assert!(r.text.contains("<details open"), "{}", r.text);
    assert!(r.text.contains("value=\"beaucoup\""), "{}", r.text);
    assert!(r.text.contains("value=\"Ateliers modifiés\""), "{}", r.text);
    assert!(r.text.contains("id=\"resume-erreurs\""), "{}", r.text);
    // Nothing was written.
    let view = env.get(&format!("/api/applications/{id}"), &token).await;
    assert_ne!(view.body["data"]["project"]["title"], "Ateliers modifiés");
}

#[tokio::test]
async fn the_inbox_filters_by_territorial_council_and_exports_csv_without_formulas() {
    let env = Env::new(OPEN).await;
    let a = account(&env, "a@example.org", RoleKind::Applicant).await;
    let token = tokens::create_for_user(&env.db, &a, "2021-01-01T00:00:00Z")
        .await
        .unwrap();
    let mut data = application();
    data["applicant"]["name"] = serde_json::json!("=HYPERLINK(\"http://evil.example\")");
    let r = env.file(&token, data).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    account(&env, "instr@amp.example", RoleKind::Instructor).await;
    let mut b = Browser::new(env.app.clone());
    b.sign_in("instr@amp.example").await;
    // Vitrolles (13117) belongs to the Pays d'Aix.
    let aix = b
        .get("/instruction?conseil=Conseil+de+territoire+Pays+d%27Aix")
        .await
        .text;
    assert!(aix.contains("1 dossier<"), "{aix}");
    let marseille = b
        .get("/instruction?conseil=Conseil+de+territoire+Marseille+Provence")
        .await
        .text;
    assert!(marseille.contains("0 dossier<"));
    assert!(
        !marseille.contains("<strong>1</strong>"),
        "counts follow the filters"
    );
    let other_state = b
        .get("/instruction?etat=en-instruction&conseil=Conseil+de+territoire+Pays+d%27Aix")
        .await
        .text;
    assert!(other_state.contains("0 dossier<"));
    assert!(
        other_state.contains(
            "Incomplet\u{a0}: pièces ou informations à fournir\u{a0}: <strong>1</strong>"
        ),
        "the counts by state ignore the state filter: {other_state}"
    );
    let csv = b.get("/instruction/dossiers.csv?etat=incomplet").await;
    assert_eq!(csv.headers["content-type"], "text/csv; charset=utf-8");
    let lines: Vec<&str> = csv.text.lines().collect();
    assert_eq!(lines.len(), 2, "{}", csv.text);
    assert!(lines[0].starts_with("id,plan,fonds,appel,porteur"));
    assert!(
        lines[1].contains("\"'=HYPERLINK(\"\"http://evil.example\"\")\""),
        "a formula is neutralized and quoted: {}",
        lines[1]
    );
    assert!(lines[1].contains("Conseil de territoire Pays d'Aix"));
}

#[tokio::test]
async fn staff_ask_what_moves_if_an_action_slips() {
    let env = Env::new(OPEN).await;
    account(&env, "instr@amp.example", RoleKind::Instructor).await;
    let mut b = Browser::new(env.app.clone());
    b.sign_in("instr@amp.example").await;
    let page = b.get("/plans/amp-pmlcd/calendrier").await.text;
    assert!(page.contains("Et si une action glisse\u{a0}?"));
    let r = b
        .post(
            "/plans/amp-pmlcd/calendrier",
            "/plans/amp-pmlcd/calendrier",
            &[("element", "plan-formation"), ("jours", "60")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.text.contains("glisse de 60 jours"), "{}", r.text);
    assert!(r.text.contains("actions décalées"), "what moves is listed");
    let bad = b
        .post(
            "/plans/amp-pmlcd/calendrier",
            "/plans/amp-pmlcd/calendrier",
            &[("element", "nope"), ("jours", "60")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    // The public sees the timeline without the form.
    let mut public = Browser::new(env.app.clone());
    let page = public.get("/plans/amp-pmlcd/calendrier").await.text;
    assert!(!page.contains("Et si une action glisse\u{a0}?"));
}

/// Session fixation: a session id or CSRF value planted in the browser before sign-in is never
/// adopted; signing in issues new secrets, and the planted ones open nothing.
#[tokio::test]
async fn signing_in_never_adopts_a_planted_session_or_csrf_value() {
    let env = Env::new(OPEN).await;
    account(&env, "a@example.org", RoleKind::Applicant).await;
    let planted_session = "ab".repeat(32);
    let planted_csrf = "cd".repeat(16);
    let mut b = Browser::new(env.app.clone());
    b.cookies
        .insert("mp_session".into(), planted_session.clone());
    b.cookies.insert("mp_csrf".into(), planted_csrf.clone());
    assert_eq!(b.get("/mes-dossiers").await.status, StatusCode::SEE_OTHER);
    let r = b
        .send(
            Method::POST,
            "/connexion",
            Some(&[
                ("_csrf", planted_csrf.as_str()),
                ("email", "a@example.org"),
                ("password", PASSWORD),
            ]),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let issued = b.cookies["mp_session"].clone();
    assert_ne!(issued, planted_session, "a new session secret");
    assert_eq!(b.get("/mes-dossiers").await.status, StatusCode::OK);
    // The planted values open nothing and authorize nothing.
    let mut attacker = Browser::new(env.app.clone());
    attacker
        .cookies
        .insert("mp_session".into(), planted_session.clone());
    assert_eq!(
        attacker.get("/mes-dossiers").await.status,
        StatusCode::SEE_OTHER
    );
    let forged = b
        .send(
            Method::POST,
            "/deconnexion",
            Some(&[("_csrf", planted_csrf.as_str())]),
        )
        .await;
    assert_eq!(
        forged.status,
        StatusCode::FORBIDDEN,
        "once signed in, forms need the session's own CSRF token"
    );
}

#[tokio::test]
async fn reviewers_read_the_project_description_on_the_file_page() {
    let env = Env::new(OPEN).await;
    let a = account(&env, "a@example.org", RoleKind::Applicant).await;
    account(&env, "instr@example.org", RoleKind::Instructor).await;
    let token = tokens::create_for_user(&env.db, &a, "2021-01-01T00:00:00Z")
        .await
        .unwrap();
    let mut data = application();
    data["project"]["description"] =
        "Diagnostic : peu d'accès aux offres. Actions : ateliers <b>hebdomadaires</b>.".into();
    data["project"]["indicators"] = "Nombre de participants".into();
    let id = env.eligible(&token, data).await;
    let mut staff = Browser::new(env.app.clone());
    staff.sign_in("instr@example.org").await;
    let page = staff.get(&format!("/dossiers/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.text.contains("Présentation du projet"),
        "{}",
        page.text
    );
    assert!(
        page.text
            .contains("Description du projet\u{a0}: diagnostic, actions, résultats attendus"),
        "the description under its label"
    );
    // The applicant's text, escaped.
    assert!(
        page.text
            .contains("ateliers &lt;b&gt;hebdomadaires&lt;/b&gt;.")
    );
    assert!(page.text.contains("Indicateurs de résultat"));
}

#[tokio::test]
async fn a_multipart_form_without_its_csrf_token_first_is_refused_before_its_files_are_read() {
    let env = Env::new(OPEN).await;
    let a = account(&env, "a@example.org", RoleKind::Applicant).await;
    let token = tokens::create_for_user(&env.db, &a, "2021-01-01T00:00:00Z")
        .await
        .unwrap();
    let r = env.draft(&token, application()).await;
    let id = r.body["id"].as_str().unwrap().to_string();
    let mut b = Browser::new(env.app.clone());
    b.sign_in("a@example.org").await;
    let page = format!("/dossiers/{id}");
    let version = b.version_on(&page).await;
    let uri = format!("{page}/pieces");
    // Larger than a piece may be: a 403, not a 413, shows the file was never read.
    let big = vec![b'%'; 30 * 1024 * 1024];
    for fields in [
        vec![("version", version.as_str())],
        vec![
            ("_csrf", "0123456789abcdef0123456789abcdef"),
            ("version", version.as_str()),
        ],
    ] {
        let r = b
            .send_multipart(&uri, &fields, &[("piece.rib", "rib.pdf", &big)])
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{fields:?}");
        assert!(r.text.contains("Formulaire expiré"), "{}", r.text);
    }
    let view = env.get(&format!("/api/applications/{id}"), &token).await;
    assert_eq!(
        view.body["documents"],
        serde_json::json!([]),
        "nothing joined"
    );
}

/// Issue 19: argon2 verifications are bounded; beyond, a French 503 with `Retry-After`, and
/// the attempt is held against nobody.
#[tokio::test]
async fn a_sign_in_while_every_verification_slot_is_taken_is_a_503_that_counts_no_failure() {
    let env = Env::new(OPEN).await;
    account(&env, "instructrice@example.org", RoleKind::Instructor).await;
    let slots = env.db.verification_slots().clone();
    let held = slots
        .acquire_many_owned(accounts::VERIFICATIONS as u32)
        .await
        .unwrap();
    // As many attempts as the lock's limit, at once (each is counted before it waits for a
    // slot, then given back when it gives up): had they been kept, the right password
    // would then be refused.
    let attempts: Vec<_> = (0..5)
        .map(|_| {
            let app = env.app.clone();
            tokio::spawn(async move {
                let mut b = Browser::new(app);
                let r = b.sign_in_with("instructrice@example.org", "mauvais").await;
                (r, b.has_cookie("mp_session"))
            })
        })
        .collect();
    for a in attempts {
        let (r, session) = a.await.unwrap();
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text);
        assert_eq!(r.headers["retry-after"], "5");
        assert!(r.text.contains("beaucoup de connexions"), "{}", r.text);
        assert!(r.text.contains("lang=\"fr\""));
        assert!(!session);
    }
    drop(held);
    let mut b = Browser::new(env.app.clone());
    let r = b.sign_in("instructrice@example.org").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert!(b.has_cookie("mp_session"));
}
