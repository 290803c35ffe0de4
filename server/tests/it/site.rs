//! The site around the plans: the pages an authority must publish, for each plan from its own
//! files; French pages (never JSON) for unknown addresses and wrong methods outside the API;
//! the footer's links; where each role lands after signing in; the personal-data notice at
//! registration.

use axum::http::{Method, StatusCode};
use metroplan_engine::model::RoleKind;

use crate::support::Env;
use crate::web::{Browser, PASSWORD, account};

const OPEN: &str = "2021-03-01T10:00:00+01:00";

#[tokio::test]
async fn each_published_page_shows_each_plans_own_text_under_its_authority() {
    let env = Env::new(OPEN).await;
    let mut b = Browser::new(env.app.clone());
    // A phrase of each plan's own file, per page: both plans speak on every page.
    for (page, amp, lyon) in [
        ("/mentions-legales", "20005480700017", "20004697700019"),
        (
            "/accessibilite",
            "fonds-discriminations@ampmetropole.fr",
            "aide-velo@grandlyon.com",
        ),
        (
            "/donnees-personnelles",
            "dpo@ampmetropole.fr",
            "dpo@grandlyon.com",
        ),
        (
            "/aide",
            "du 1er février au 31 mars",
            "chez un professionnel installé dans la Métropole",
        ),
    ] {
        let r = b.get(page).await;
        assert_eq!(r.status, StatusCode::OK, "{page}");
        assert!(r.text.contains(amp), "{page}: the AMP plan's text");
        assert!(r.text.contains(lyon), "{page}: the Lyon plan's text");
        assert!(
            r.text.contains("<h2>Métropole Aix-Marseille-Provence</h2>"),
            "{page}"
        );
        assert!(r.text.contains("<h2>Métropole de Lyon</h2>"), "{page}");
    }
    let a11y = b.get("/accessibilite").await.text;
    for owed in [
        "partiellement conforme",
        "RGAA",
        "axe-core",
        "Nu HTML Checker",
        "320 pixels",
        "Défenseur des droits",
    ] {
        assert!(
            a11y.contains(owed),
            "the accessibility statement says {owed}"
        );
    }
    let data = b.get("/donnees-personnelles").await.text;
    for owed in [
        "6.1.e",
        "Durée de conservation",
        "CNIL",
        "Délégué à la protection des données",
    ] {
        assert!(data.contains(owed), "the personal-data page says {owed}");
    }
}

#[tokio::test]
async fn every_page_footer_links_the_four_published_pages() {
    let env = Env::new(OPEN).await;
    let mut b = Browser::new(env.app.clone());
    for page in [
        "/",
        "/plans/amp-pmlcd",
        "/connexion",
        "/adresse-inexistante",
    ] {
        let r = b.get(page).await;
        for link in [
            "/mentions-legales",
            "/accessibilite",
            "/donnees-personnelles",
            "/aide",
        ] {
            assert!(
                r.text.contains(&format!("href=\"{link}\"")),
                "{page}: footer link {link}"
            );
        }
    }
}

#[tokio::test]
async fn unknown_addresses_and_wrong_methods_outside_the_api_are_french_pages() {
    let env = Env::new(OPEN).await;
    let mut b = Browser::new(env.app.clone());
    let r = b.get("/mentions-inexistantes").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(
        r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(r.text.contains("Page introuvable"), "{}", r.text);
    assert!(!r.text.contains("openapi"), "{}", r.text);
    let r = b.send(Method::DELETE, "/connexion", None).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(
        r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(r.text.contains("Action impossible"), "{}", r.text);
    // The API keeps its problem documents.
    let r = b.get("/api/inexistante").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.headers["content-type"], "application/problem+json");
}

#[tokio::test]
async fn signing_in_lands_each_role_on_its_work_unless_a_page_was_asked_for() {
    let env = Env::new(OPEN).await;
    for (email, role, to) in [
        ("porteur@example.org", RoleKind::Applicant, "/mes-dossiers"),
        (
            "instructeur@example.org",
            RoleKind::Instructor,
            "/instruction",
        ),
        ("elu@example.org", RoleKind::Approver, "/instruction"),
        ("admin@example.org", RoleKind::Admin, "/admin"),
    ] {
        account(&env, email, role).await;
        let mut b = Browser::new(env.app.clone());
        let r = b.sign_in(email).await;
        assert_eq!(r.headers["location"], to, "{email}");
        let mut b = Browser::new(env.app.clone());
        let r = b
            .post(
                "/connexion",
                "/connexion",
                &[
                    ("email", email),
                    ("password", PASSWORD),
                    ("suite", "/plans/amp-pmlcd"),
                ],
            )
            .await;
        assert_eq!(r.headers["location"], "/plans/amp-pmlcd", "{email}: back");
    }
}

#[tokio::test]
async fn registration_carries_the_personal_data_notice() {
    let env = Env::new(OPEN).await;
    let mut b = Browser::new(env.app.clone());
    let r = b.get("/inscription").await;
    assert!(r.text.contains("RGPD, article 6.1.e"), "{}", r.text);
    assert!(r.text.contains("href=\"/donnees-personnelles\""));
}

#[tokio::test]
async fn the_navigation_marks_the_current_page() {
    let env = Env::new(OPEN).await;
    let mut b = Browser::new(env.app.clone());
    let r = b.get("/aide").await;
    assert!(
        r.text.contains("<a href=\"/aide\" aria-current=\"page\">"),
        "{}",
        r.text
    );
    assert!(!r.text.contains("<a href=\"/\" aria-current"));
}

#[tokio::test]
async fn a_page_form_too_large_is_a_french_page_and_keeps_nothing() {
    let env = Env::new(OPEN).await;
    let mut state = env.state.clone();
    let mut config = (*state.config).clone();
    // Page forms may carry six pieces: their limit is six times a piece's, and some.
    config.upload_limit = 1024;
    let limit = config.upload_limit * 6 + 256 * 1024;
    state.config = std::sync::Arc::new(config);
    let mut b = Browser::new(metroplan_server::app(state));
    let big = "x".repeat(limit + 1);
    let r = b
        .post("/connexion", "/connexion", &[("email", big.as_str())])
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(r.text.contains("Envoi trop volumineux"), "{}", r.text);
    assert!(r.text.contains("rien n'a été enregistré"), "{}", r.text);
    assert!(
        !r.text.contains("Failed"),
        "no extractor text in English: {}",
        r.text
    );
}

#[tokio::test]
async fn a_page_that_times_out_is_a_french_page_with_when_to_retry() {
    let env = Env::new(OPEN).await;
    let mut state = env.state.clone();
    let mut config = (*state.config).clone();
    // Shorter than any sign-in's password check, which runs off the request's thread.
    config.request_timeout = std::time::Duration::from_nanos(1);
    state.config = std::sync::Arc::new(config);
    let mut b = Browser::new(metroplan_server::app(state));
    let r = b
        .post(
            "/connexion",
            "/connexion",
            &[("email", "a@example.org"), ("password", "mot de passe")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text);
    assert!(
        r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        r.text.contains("Service momentanément indisponible"),
        "{}",
        r.text
    );
    assert!(!r.text.contains("problem"), "{}", r.text);
}

#[tokio::test]
async fn each_plan_serves_its_logo_and_names_it_in_its_pages_header() {
    let env = Env::new(OPEN).await;
    let mut b = Browser::new(env.app.clone());
    for plan in ["amp-pmlcd", "lyon-pama"] {
        let r = b.get(&format!("/plans/{plan}/logo")).await;
        assert_eq!(r.status, StatusCode::OK, "{plan}");
        assert_eq!(r.headers["content-type"], "image/svg+xml", "{plan}");
        assert!(r.text.contains("<svg"), "{plan}");
        let page = b.get(&format!("/plans/{plan}")).await.text;
        assert!(
            page.contains(&format!("src=\"/plans/{plan}/logo\"")),
            "{plan}: the header shows the plan's logo"
        );
    }
    assert_eq!(
        b.get("/plans/inexistant/logo").await.status,
        StatusCode::NOT_FOUND
    );
}
