//! The authorization matrix of the web pages: every page route, opened or posted by a stranger,
//! the file's applicant, another applicant and each staff role, answers as this table says;
//! and every form refuses a post without its CSRF token. A route added to `web::routes`
//! without a row here fails the test.

use axum::http::{Method, StatusCode};
use metroplan_engine::model::RoleKind;

use crate::matrix::CALLERS;
use crate::support::*;
use crate::web::{Browser, account, csrf_of, filed_by};

const OPEN: &str = "2021-03-01T10:00:00+01:00";

/// The routes `web::routes` declares, read from its source: (method, path template).
pub fn declared_routes() -> Vec<(String, String)> {
    let src = std::fs::read_to_string(repo().join("server/src/web/mod.rs")).unwrap();
    let body = &src[src.find("pub fn routes()").unwrap()..];
    let body = &body[..body.find("\n}\n").unwrap()];
    let mut out = Vec::new();
    for chunk in body.split(".route(").skip(1) {
        let path = chunk.split('"').nth(1).unwrap().to_string();
        for (needle, method) in [("get(", "GET"), ("post(", "POST")] {
            if chunk.contains(needle) {
                out.push((method.to_string(), path.clone()));
            }
        }
    }
    out
}

async fn csrf(b: &mut Browser) -> String {
    let html = b.get("/connexion").await.text;
    if html.contains("name=\"_csrf\"") {
        return csrf_of(&html);
    }
    csrf_of(&b.get("/").await.text)
}

/// How a page answered, as the rows write it: the status, and for a redirect where it goes
/// (`303>/connexion`), without its query.
async fn answer(
    b: &mut Browser,
    method: &Method,
    uri: &str,
    fields: &[(&str, &str)],
    csrf_too: bool,
    multipart: bool,
) -> String {
    let r = if *method == Method::GET {
        b.get(uri).await
    } else if multipart {
        // post_files reads the CSRF token off a page; without one, the field is left out.
        if csrf_too {
            b.post_files("/connexion", uri, fields, &[]).await
        } else {
            b.send_multipart(uri, fields, &[]).await
        }
    } else {
        let mut all = Vec::new();
        let token = csrf(b).await;
        if csrf_too {
            all.push(("_csrf", token.as_str()));
        }
        all.extend_from_slice(fields);
        b.send(Method::POST, uri, Some(&all)).await
    };
    match r.headers.get("location").and_then(|l| l.to_str().ok()) {
        Some(to) => format!("{}>{}", r.status.as_u16(), to.split('?').next().unwrap()),
        None => r.status.as_u16().to_string(),
    }
}

#[tokio::test]
async fn every_page_answers_each_caller_as_the_matrix_says_and_every_form_wants_its_csrf_token() {
    let env = Env::new(OPEN).await;
    let owner = account(&env, "owner@example.org", RoleKind::Applicant).await;
    let roles = [
        ("other@example.org", RoleKind::Applicant),
        ("instr@amp.example", RoleKind::Instructor),
        ("rev@amp.example", RoleKind::Reviewer),
        ("elue@amp.example", RoleKind::Approver),
        ("fin@amp.example", RoleKind::Finance),
        ("admin@amp.example", RoleKind::Admin),
    ];
    // Another applicant is another structure: its own SIRET (the form binds the account's).
    for (email, role) in roles {
        crate::web::account_with(&env, email, role, "99999999900018").await;
    }
    let id = filed_by(&env, &owner).await;
    let reader = env.token("lecture", RoleKind::Admin).await;
    let mut browsers = vec![Browser::new(env.app.clone())];
    for email in std::iter::once("owner@example.org").chain(roles.iter().map(|(e, _)| *e)) {
        let mut b = Browser::new(env.app.clone());
        assert_eq!(
            b.sign_in(email).await.status,
            StatusCode::SEE_OTHER,
            "{email}"
        );
        browsers.push(b);
    }

    // Every form, posted without its CSRF token by anyone signed in, is refused and changes
    // nothing (checked on the audit trail and the accounts at the end).
    let events_before = env
        .get(&format!("/api/applications/{id}/events"), &reader)
        .await
        .body;
    let users_before = metroplan_server::accounts::all_users(&env.db)
        .await
        .unwrap()
        .len();
    let multipart = |t: &str| t.ends_with("/deposer") || t.ends_with("/pieces");
    for (method, template) in declared_routes() {
        if method != "POST" {
            continue;
        }
        let uri = template
            .replace("{plan}", "amp-pmlcd")
            .replace("{fund}", "fonds-initiative")
            .replace("{id}", &id)
            .replace("{action}", "soumettre-au-comite")
            .replace("{what}", "desactiver");
        for (who, b) in CALLERS.iter().zip(browsers.iter_mut()).skip(1) {
            let got = answer(
                b,
                &Method::POST,
                &uri,
                &[("version", "1")],
                false,
                multipart(&template),
            )
            .await;
            assert_eq!(got, "403", "POST {uri} without its CSRF token, by {who}");
        }
    }
    let events_after = env
        .get(&format!("/api/applications/{id}/events"), &reader)
        .await
        .body;
    assert_eq!(
        events_before, events_after,
        "no form without its token changed the file"
    );
    assert_eq!(
        users_before,
        metroplan_server::accounts::all_users(&env.db)
            .await
            .unwrap()
            .len()
    );

    // (method, route template, the path asked, fields, what each caller gets, in CALLERS order)
    let plan = "/plans/amp-pmlcd";
    let fund = "/plans/amp-pmlcd/fonds/fonds-initiative";
    let file = format!("/dossiers/{id}");
    let letter = env
        .texts("SELECT id AS v FROM letters WHERE application_id = $1", &id)
        .await
        .pop()
        .expect("the filed file has its receipt");
    let everyone = ["200"; 8];
    let sign_in = "303>/connexion";
    let staff_only = [sign_in, "403", "403", "200", "200", "200", "200", "200"];
    let applicants_only = [sign_in, "200", "200", "403", "403", "403", "403", "403"];
    let owner_and_staff = [sign_in, "200", "404", "200", "200", "200", "200", "200"];
    type Row<'a> = (
        Method,
        &'a str,
        String,
        Vec<(&'a str, &'a str)>,
        [&'a str; 8],
    );
    let rows: Vec<Row> = vec![
        (Method::GET, "/", "/".into(), vec![], everyone),
        (
            Method::GET,
            "/static/style.css",
            "/static/style.css".into(),
            vec![],
            everyone,
        ),
        (
            Method::GET,
            "/static/app.js",
            "/static/app.js".into(),
            vec![],
            everyone,
        ),
        (Method::GET, "/plans/{plan}", plan.into(), vec![], everyone),
        (
            Method::GET,
            "/plans/{plan}/calendrier",
            format!("{plan}/calendrier"),
            vec![],
            everyone,
        ),
        // A what-if on an unknown element: staff get past the role check to the form's check.
        (
            Method::POST,
            "/plans/{plan}/calendrier",
            format!("{plan}/calendrier"),
            vec![("element", "x"), ("jours", "3")],
            [sign_in, "403", "403", "400", "400", "400", "400", "400"],
        ),
        (
            Method::GET,
            "/plans/{plan}/fonds/{fund}",
            fund.into(),
            vec![],
            everyone,
        ),
        (
            Method::GET,
            "/plans/{plan}/fonds/{fund}/algorithme",
            format!("{fund}/algorithme"),
            vec![],
            everyone,
        ),
        (
            Method::GET,
            "/plans/{plan}/fonds/{fund}/deposer",
            format!("{fund}/deposer"),
            vec![],
            applicants_only,
        ),
        // An empty form is saved as a draft, and the applicant sent to it.
        (
            Method::POST,
            "/plans/{plan}/fonds/{fund}/deposer",
            format!("{fund}/deposer"),
            vec![],
            [sign_in, "DRAFT", "DRAFT", "403", "403", "403", "403", "403"],
        ),
        (
            Method::GET,
            "/plans/{plan}/fonds/{fund}/enveloppe",
            format!("{fund}/enveloppe"),
            vec![],
            staff_only,
        ),
        (
            Method::GET,
            "/connexion",
            "/connexion".into(),
            vec![],
            everyone,
        ),
        (
            Method::POST,
            "/connexion",
            "/connexion".into(),
            vec![("email", "inconnu@example.org"), ("password", "faux")],
            ["401"; 8],
        ),
        // No provider is configured here (tests/it/oidc.rs has them).
        (
            Method::GET,
            "/connexion/oidc/{provider}",
            "/connexion/oidc/proconnect".into(),
            vec![],
            ["404"; 8],
        ),
        (
            Method::GET,
            "/connexion/oidc/retour",
            "/connexion/oidc/retour".into(),
            vec![],
            ["400"; 8],
        ),
        (
            Method::GET,
            "/inscription",
            "/inscription".into(),
            vec![],
            everyone,
        ),
        (
            Method::POST,
            "/inscription",
            "/inscription".into(),
            vec![("email", "")],
            ["422"; 8],
        ),
        (
            Method::GET,
            "/inscription/confirmer",
            "/inscription/confirmer?jeton=0".into(),
            vec![],
            ["410"; 8],
        ),
        (
            Method::POST,
            "/inscription/confirmer",
            "/inscription/confirmer".into(),
            vec![("jeton", "0")],
            ["410"; 8],
        ),
        (
            Method::GET,
            "/mot-de-passe-oublie",
            "/mot-de-passe-oublie".into(),
            vec![],
            everyone,
        ),
        (
            Method::POST,
            "/mot-de-passe-oublie",
            "/mot-de-passe-oublie".into(),
            vec![("email", "inconnu@example.org")],
            ["200"; 8],
        ),
        (
            Method::GET,
            "/mot-de-passe/nouveau",
            "/mot-de-passe/nouveau?jeton=0".into(),
            vec![],
            ["410"; 8],
        ),
        (
            Method::POST,
            "/mot-de-passe/nouveau",
            "/mot-de-passe/nouveau".into(),
            vec![("jeton", "0"), ("password", "x"), ("password2", "x")],
            ["410"; 8],
        ),
        (
            Method::GET,
            "/mes-dossiers",
            "/mes-dossiers".into(),
            vec![],
            applicants_only,
        ),
        (
            Method::GET,
            "/dossiers/{id}",
            file.clone(),
            vec![],
            owner_and_staff,
        ),
        // Version 1 is stale: the owner gets past the checks of who may edit to the version's.
        (
            Method::POST,
            "/dossiers/{id}/modifier",
            format!("{file}/modifier"),
            vec![("version", "1")],
            [sign_in, "412", "404", "403", "403", "403", "403", "403"],
        ),
        // No piece sent: the owner gets past the role check to the upload's check.
        (
            Method::POST,
            "/dossiers/{id}/pieces",
            format!("{file}/pieces"),
            vec![],
            [sign_in, "422", "404", "403", "403", "403", "403", "403"],
        ),
        (
            Method::POST,
            "/dossiers/{id}/reevaluer",
            format!("{file}/reevaluer"),
            vec![("version", "1")],
            [sign_in, "403", "403", "422", "403", "403", "403", "422"],
        ),
        (
            Method::GET,
            "/dossiers/{id}/pieces/{kind}",
            format!("{file}/pieces/rib"),
            vec![],
            owner_and_staff,
        ),
        (
            Method::GET,
            "/dossiers/{id}/courriers/{letter}",
            format!("{file}/courriers/{letter}"),
            vec![],
            owner_and_staff,
        ),
        // Asked with the file's current version, the instructor last: only the instructor
        // may submit the file to the committee (and is sent back to it).
        (
            Method::POST,
            "/dossiers/{id}/actions/{action}",
            format!("{file}/actions/soumettre-au-comite"),
            vec![],
            [sign_in, "403", "404", "FILE", "403", "403", "403", "403"],
        ),
        (
            Method::GET,
            "/instruction",
            "/instruction".into(),
            vec![],
            staff_only,
        ),
        (
            Method::GET,
            "/instruction/dossiers.csv",
            "/instruction/dossiers.csv".into(),
            vec![],
            staff_only,
        ),
        (
            Method::POST,
            "/instruction/lot",
            "/instruction/lot".into(),
            vec![("action", "attribuer"), ("dossier", "x:1")],
            [sign_in, "403", "403", "422", "422", "422", "422", "422"],
        ),
        (
            Method::GET,
            "/admin",
            "/admin".into(),
            vec![],
            [sign_in, "403", "403", "403", "403", "403", "403", "200"],
        ),
        (
            Method::POST,
            "/admin/utilisateurs",
            "/admin/utilisateurs".into(),
            vec![("email", "")],
            [sign_in, "403", "403", "403", "403", "403", "403", "400"],
        ),
        (
            Method::POST,
            "/admin/jetons",
            "/admin/jetons".into(),
            vec![("email", "personne@example.org")],
            [sign_in, "403", "403", "403", "403", "403", "403", "422"],
        ),
        (
            Method::POST,
            "/admin/jetons/revoquer",
            "/admin/jetons/revoquer".into(),
            vec![("jeton", "inconnu")],
            [sign_in, "403", "403", "403", "403", "403", "403", "422"],
        ),
        (
            Method::POST,
            "/admin/sessions/fermer",
            "/admin/sessions/fermer".into(),
            vec![("session", "inconnue")],
            [sign_in, "403", "403", "403", "403", "403", "403", "422"],
        ),
        (
            Method::POST,
            "/admin/comptes/{what}",
            "/admin/comptes/reactiver".into(),
            vec![("email", "personne@example.org")],
            [sign_in, "403", "403", "403", "403", "403", "403", "422"],
        ),
        // Last: it ends the sessions.
        (
            Method::POST,
            "/deconnexion",
            "/deconnexion".into(),
            vec![],
            ["303>/"; 8],
        ),
    ];

    let declared = declared_routes();
    for (method, template) in &declared {
        assert!(
            rows.iter()
                .any(|(m, t, ..)| m.as_str() == method && t == template),
            "{method} {template} has no row in the page matrix"
        );
    }
    assert_eq!(rows.len(), declared.len(), "one row per route");
    // The upload routes given the longer time limit are routes that exist.
    for r in metroplan_server::http::UPLOAD_ROUTES
        .iter()
        .filter(|r| !r.starts_with("/api/"))
    {
        assert!(
            declared.contains(&("POST".to_string(), r.to_string())),
            "{r}"
        );
    }

    let mut wrong = Vec::new();
    for (method, template, uri, fields, expected) in &rows {
        let order: Vec<usize> = if template.ends_with("{action}") {
            vec![0, 1, 2, 4, 5, 6, 7, 3]
        } else {
            (0..8).collect()
        };
        for i in order {
            let b = &mut browsers[i];
            let mut fields = fields.clone();
            let version;
            let email;
            if template.ends_with("{action}") {
                version = env
                    .get(&format!("/api/applications/{id}"), &reader)
                    .await
                    .body["version"]
                    .to_string();
                fields.push(("version", version.as_str()));
            }
            if *template == "/connexion" && *method == Method::POST {
                // One unknown address per caller, so that the sign-in throttle stays out of it.
                email = format!("inconnu-{i}@example.org");
                fields[0] = ("email", email.as_str());
            }
            let got = answer(b, method, uri, &fields, true, multipart(template)).await;
            let want = match expected[i] {
                "FILE" => format!("303>{file}"),
                w => w.to_string(),
            };
            let fits = if want == "DRAFT" {
                got.starts_with("303>/dossiers/") && !got.ends_with(&id)
            } else {
                got == want
            };
            if !fits {
                wrong.push(format!(
                    "{method} {uri} by {}: got {got}, expected {want}",
                    CALLERS[i]
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// What every answer carries, and what no page holds (the policy forbids inline script and
/// style, so a page that had some would break, not just be unsafe).
fn check_answer(what: &str, r: &Res) {
    let h = |name: &str| {
        r.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("{what}: no {name}"))
            .to_string()
    };
    let csp = h("content-security-policy");
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{what}: {csp}"
    );
    assert_eq!(h("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(h("referrer-policy"), "same-origin", "{what}");
    let html = r
        .headers
        .get("content-type")
        .is_some_and(|t| t.to_str().unwrap().starts_with("text/html"));
    if html {
        assert!(
            csp.contains("default-src 'self'") && csp.contains("script-src 'self'"),
            "{what}: {csp}"
        );
        assert_eq!(h("cache-control"), "no-store", "{what}");
        let text = r.text.to_ascii_lowercase();
        for (i, _) in text.match_indices("<script") {
            let tag = &text[i..i + text[i..].find('>').unwrap()];
            assert!(tag.contains(" src="), "{what}: inline script {tag}");
        }
        assert!(!text.contains(" style=\""), "{what}: an inline style");
        for handler in [
            " onclick=",
            " onload=",
            " onsubmit=",
            " onchange=",
            " onerror=",
        ] {
            assert!(
                !text.contains(handler),
                "{what}: an inline handler {handler}"
            );
        }
    }
}

#[tokio::test]
async fn every_answer_carries_the_security_headers_and_no_page_holds_inline_script_or_style() {
    let env = Env::new(OPEN).await;
    let owner = account(&env, "owner@example.org", RoleKind::Applicant).await;
    account(&env, "admin@amp.example", RoleKind::Admin).await;
    let id = filed_by(&env, &owner).await;
    let token = env.token("instr", RoleKind::Instructor).await;
    let mut stranger = Browser::new(env.app.clone());
    let mut applicant = Browser::new(env.app.clone());
    applicant.sign_in("owner@example.org").await;
    let mut admin = Browser::new(env.app.clone());
    admin.sign_in("admin@amp.example").await;
    let mut seen = 0;
    for (method, template) in declared_routes() {
        if method != "GET" {
            continue;
        }
        let uri = template
            .replace("{plan}", "amp-pmlcd")
            .replace("{fund}", "fonds-initiative")
            .replace("{id}", &id)
            .replace("{kind}", "rib");
        for (who, b) in [
            ("stranger", &mut stranger),
            ("applicant", &mut applicant),
            ("admin", &mut admin),
        ] {
            let r = b.get(&uri).await;
            check_answer(&format!("GET {uri} as {who} ({})", r.status), &r);
            seen += 1;
        }
    }
    // The API's answers, errors and all.
    for (uri, auth) in [
        ("/healthz", None),
        ("/openapi.json", None),
        ("/api/plans", None),
        ("/api/applications", None),
        ("/api/applications", Some(token.as_str())),
        ("/api/nothing-here", None),
        (&*format!("/api/applications/{id}"), Some(token.as_str())),
    ] {
        let r = env.call(Method::GET, uri, auth, &[], None).await;
        check_answer(&format!("GET {uri} ({})", r.status), &r);
        seen += 1;
    }
    assert!(seen > 50, "{seen} answers checked");
}

#[tokio::test]
async fn with_secure_cookies_every_cookie_is_secure_http_only_and_same_site() {
    let env = Env::new(OPEN).await;
    account(&env, "owner@example.org", RoleKind::Applicant).await;
    let mut state = env.state.clone();
    let mut config = (*state.config).clone();
    config.secure_cookies = true;
    state.config = std::sync::Arc::new(config);
    let app = metroplan_server::app(state);
    // The anonymous CSRF cookie, then the session's.
    let first = env_call(&app, "/connexion").await;
    let mut cookies: Vec<String> = first
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    let mut b = Browser::new(app);
    let signed = b.sign_in("owner@example.org").await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER);
    cookies.extend(
        signed
            .headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_string()),
    );
    assert!(
        cookies.iter().any(|c| c.starts_with("mp_session=")),
        "{cookies:?}"
    );
    assert!(
        cookies.iter().any(|c| c.starts_with("mp_csrf=")),
        "{cookies:?}"
    );
    for c in &cookies {
        for flag in ["; Secure", "; HttpOnly", "; SameSite=Lax", "; Path=/"] {
            assert!(c.contains(flag), "{flag} missing: {c}");
        }
    }
}

async fn env_call(app: &axum::Router, uri: &str) -> Res {
    call(app, Method::GET, uri, None, &[], None, "text/plain").await
}
