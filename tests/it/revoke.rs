//! `metroplan token list|revoke`, `metroplan user disable|enable` and `user sessions|sign-out`
//! against a real server:
//! what they print, what they refuse, and that a revoked token is refused by the server.

use std::process::Command;

use super::metroplan;
use super::server::{Server, database, request, token};

const OPEN: &str = "2021-03-01T10:00:00+01:00";

fn cli(args: &[&str], db: &str) -> (bool, String, String) {
    let out = Command::new(metroplan())
        .args(args)
        .args(["--database", db])
        .output()
        .expect("metroplan");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_token_revoked_at_the_command_line_is_listed_revoked_and_refused_by_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _drop) = database(dir.path());
    let server = Server::start(&db, dir.path(), OPEN);
    let kept = token(&db, "tableau de bord", "instructor");
    let ended = token(&db, "ancien script", "instructor");
    let (ok, out, _) = cli(&["token", "list"], &db);
    assert!(ok);
    let line = out
        .lines()
        .find(|l| l.contains("service ancien script"))
        .unwrap_or_else(|| panic!("listed: {out}"));
    assert!(line.ends_with("active"), "{line}");
    assert!(!out.contains(&ended), "never a secret: {out}");
    let id = line.split('\t').next().unwrap();

    let (ok, _, err) = cli(&["token", "revoke", id], &db);
    assert!(ok, "{err}");
    assert!(err.contains("revoked"), "{err}");
    let (_, out, _) = cli(&["token", "list"], &db);
    assert!(
        out.lines()
            .any(|l| l.starts_with(id) && l.contains("\trevoked ")),
        "{out}"
    );
    // Never used before: the server reads it and refuses it at once.
    let r = request(
        &server.addr,
        "GET",
        "/api/applications",
        Some(&ended),
        &[],
        None,
    )
    .unwrap();
    assert_eq!(r.status, 401, "{}", r.body);
    let r = request(
        &server.addr,
        "GET",
        "/api/applications",
        Some(&kept),
        &[],
        None,
    )
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);

    let (ok, _, err) = cli(&["token", "revoke", "inconnu"], &db);
    assert!(!ok && err.contains("no token `inconnu`"), "{err}");
    let (ok, _, err) = cli(&["user", "disable", "personne@example.org"], &db);
    assert!(!ok && err.contains("no account"), "{err}");
    let (ok, _, err) = cli(&["user", "enable", "personne@example.org"], &db);
    assert!(!ok && err.contains("no account"), "{err}");
    // Sessions: none open here (the server was reached with tokens only).
    let (ok, out, err) = cli(&["user", "sessions"], &db);
    assert!(
        ok && out.is_empty() && err.contains("no open session"),
        "{out}{err}"
    );
    let (ok, _, err) = cli(&["user", "sign-out", "personne@example.org"], &db);
    assert!(ok && err.contains("0 session(s) ended"), "{err}");
    let (ok, _, err) = cli(&["user", "sign-out"], &db);
    assert!(
        !ok && err.contains("<EMAIL>"),
        "an email or a session: {err}"
    );
    let (ok, out, err) = cli(&["audit", "verify"], &db);
    assert!(ok && out.contains("intact"), "{out}{err}");
}

#[test]
fn user_link_ties_a_provider_identity_to_an_account_and_unlink_undoes_it() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _drop) = database(dir.path());
    // The database made by a first start.
    drop(Server::start(&db, dir.path(), OPEN));
    super::web::user(&db, "agent@amp.example", "instructor", "Ana Agent");
    let providers = dir.path().join("oidc.toml");
    std::fs::write(
        &providers,
        "[[provider]]\nid = \"proconnect\"\nlabel = \"ProConnect\"\nissuer = \"https://auth.example\"\nclient_id = \"c\"\nclient_secret = \"s\"\nfor = \"staff\"\n",
    )
    .unwrap();
    let p = providers.to_str().unwrap();
    let link = |email: &str, provider: &str| {
        cli(
            &[
                "user",
                "link",
                email,
                "--provider",
                provider,
                "--subject",
                "sub-42",
                "--oidc",
                p,
            ],
            &db,
        )
    };
    let (ok, _, err) = link("agent@amp.example", "franceconnect");
    assert!(
        !ok && err.contains("no provider `franceconnect`") && err.contains("proconnect"),
        "{err}"
    );
    let (ok, _, err) = link("personne@amp.example", "proconnect");
    assert!(
        !ok && err.contains("no account for `personne@amp.example`"),
        "{err}"
    );
    let (ok, _, err) = link("agent@amp.example", "proconnect");
    assert!(ok, "{err}");
    assert!(
        err.contains("opens the account `agent@amp.example`"),
        "{err}"
    );
    let (ok, out, _) = cli(&["user", "identities"], &db);
    assert!(ok);
    assert!(
        out.starts_with("agent@amp.example\tproconnect\tsub-42\tlinked ") && out.contains("by cli"),
        "{out}"
    );
    let unlink = || {
        cli(
            &[
                "user",
                "unlink",
                "--provider",
                "proconnect",
                "--subject",
                "sub-42",
            ],
            &db,
        )
    };
    let (ok, _, err) = unlink();
    assert!(ok, "{err}");
    let (ok, _, err) = unlink();
    assert!(!ok && err.contains("linked to no account"), "{err}");
    let (_, out, err) = cli(&["user", "identities"], &db);
    assert!(
        out.is_empty() && err.contains("no linked identity"),
        "{out}{err}"
    );
    // Both changes are in the audit trail, which stays intact.
    let (ok, out, _) = cli(&["audit", "verify"], &db);
    assert!(ok, "{out}");
}
