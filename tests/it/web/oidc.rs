//! An agent signs in through an OpenID provider in a real browser (issue 19): the provider
//! is npm's `oidc-provider` on loopback, the server `metroplan serve --oidc`. She decides a
//! file, then signs out of both.

use std::time::Duration;

use serde_json::json;

use super::browser::{Web, prerequisites, user};
use crate::repo;
use crate::server::{FILE, OPEN, Server, act, application, database, request, token, upload};

#[allow(dead_code)]
#[path = "../../../server/tests/it/oidc_provider.rs"]
mod oidc_provider;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_signs_in_through_the_provider_decides_a_file_and_signs_out_of_both() {
    prerequisites();
    let dir = tempfile::tempdir().unwrap();
    let (db, _drop) = database(dir.path());
    // The provider must know where it sends people back, and the server where the provider
    // is: the server's port is chosen first.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let site = format!("http://127.0.0.1:{port}");
    let provider = oidc_provider::OidcProvider::start(
        &site,
        json!({ "ines": { "email": "ines.instruction@amp.example", "email_verified": true,
                          "given_name": "Inès", "family_name": "Instruction" } }),
    )
    .await;
    let providers = provider.providers_file("proconnect", "ProConnect", "staff");
    let bind = format!("127.0.0.1:{port}");
    let server = Server::start_args(
        &db,
        dir.path(),
        OPEN,
        &repo().join("plans"),
        &[
            "--bind",
            &bind,
            "--public-url",
            &site,
            "--oidc",
            providers.to_str().unwrap(),
        ],
    );
    user(
        &db,
        "ines.instruction@amp.example",
        "instructor",
        "Inès Instruction",
    );
    // A complete file, filed through the API.
    let asso = token(&db, "Association Les Jardins partagés", "applicant");
    let r = request(
        &server.addr,
        "POST",
        FILE,
        Some(&asso),
        &[],
        Some(&json!({ "data": application("44306184100047", 6000) })),
    )
    .unwrap();
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    for kind in [
        "budget_previsionnel",
        "rib",
        "statuts",
        "attestation_regularite",
    ] {
        assert_eq!(upload(&server.addr, &id, kind, &asso), 200);
    }
    let done = act(&server.addr, &id, "completer", &asso, json!({}));
    assert_eq!(done.body["state"], "en-instruction", "{}", done.body);

    let out = super::browser::out_dir().with_file_name("web-oidc");
    let (_driver, mut w) = Web::open(site.clone(), out).await;
    w.go(&format!("/dossiers/{id}")).await;
    // Not signed in: the sign-in page, which offers the provider.
    assert_eq!(w.h1().await, "Se connecter");
    w.save("connexion-fournisseur", true).await;
    w.click("a[href^='/connexion/oidc/proconnect']").await;
    // The provider's own sign-in form.
    w.fill("input[name=login]", "ines").await;
    w.fill("input[name=password]", "peu importe").await;
    w.click("button[type=submit]").await;
    // Back here, signed in, on the file she was going to.
    let who = w.text("header .account span").await;
    assert!(who.contains("Inès Instruction"), "signed in: {who}");
    assert_eq!(
        w.c.current_url().await.unwrap().path(),
        format!("/dossiers/{id}")
    );
    assert_eq!(w.state().await, "En instruction");
    w.act("soumettre-au-comite").await;
    let state = w.state().await;
    assert_ne!(
        state,
        "En instruction",
        "the step was taken: {}",
        w.text("main").await
    );
    w.save("decide-apres-fournisseur", true).await;
    // The file records who decided: her account, not the provider.
    let events = request(
        &server.addr,
        "GET",
        &format!("/api/applications/{id}/events"),
        Some(&token(&db, "Audit", "admin")),
        &[],
        None,
    )
    .unwrap();
    let by = events
        .body
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|e| e["action"] == "soumettre-au-comite");
    assert!(
        by.is_some_and(|e| e["actor"].as_str().is_some_and(|a| a.starts_with("user:"))),
        "{}",
        events.body
    );

    // Signing out here goes on to the provider's sign-out, then back home.
    w.click("header .account form button").await;
    let mut asked = false;
    for _ in 0..100 {
        let url = w.c.current_url().await.unwrap();
        if url.as_str().starts_with(&provider.issuer) {
            asked = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(asked, "the browser reaches the provider's sign-out");
    w.click("button[name=logout][value=yes]").await;
    w.css("header .account a[href='/connexion']").await;
    assert_eq!(
        w.c.current_url().await.unwrap().as_str(),
        format!("{site}/")
    );
    // Signed out at the provider too: signing in again asks for the login.
    w.go("/connexion").await;
    w.click("a[href^='/connexion/oidc/proconnect']").await;
    w.css("input[name=login]").await;
    w.verdict(2).await;
}
