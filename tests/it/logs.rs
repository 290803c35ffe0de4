//! The server's logs, at debug level, hold no password, token, session secret or applicant's
//! personal data (email, name, SIRET), through sign-up, sign-in, API calls and filing.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

use serde_json::json;

use crate::mail::MailRelay;
use crate::server::{application, database};
use crate::{metroplan, repo};

const PASSWORD: &str = "motdepasse-tres-secret-42";

/// One HTTP/1.1 request; returns the status, the Set-Cookie values and the body.
fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, Vec<String>, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let cookies = head
        .lines()
        .filter_map(|l| {
            l.strip_prefix("set-cookie: ")
                .or_else(|| l.strip_prefix("Set-Cookie: "))
        })
        .map(|c| c.split(';').next().unwrap().to_string())
        .collect();
    (status, cookies, body.to_string())
}

fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"_csrf\" value=\"").unwrap() + "name=\"_csrf\" value=\"".len();
    html[at..at + html[at..].find('"').unwrap()].to_string()
}

#[test]
fn logs_hold_no_secret_and_no_personal_data() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _drop) = database(dir.path());
    let log = dir.path().join("server.log");
    let mail = MailRelay::start();
    let mut child = Command::new(metroplan())
        .current_dir(repo())
        .args([
            "serve",
            "--plans",
            "plans",
            "--bind",
            "127.0.0.1:0",
            "--database",
            &db,
            "--now",
            "2021-03-01T10:00:00+01:00",
        ])
        .arg("--documents")
        .arg(dir.path().join("documents"))
        .args(mail.serve_args())
        .env("METROPLAN_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("metroplan: listening on http://")
        .unwrap()
        .to_string();

    // An association registers, signs out, fails once and signs in again.
    let (_, cookies, page) = http(&addr, "GET", "/inscription", &[], "");
    let anon = cookies[0].clone();
    let form = format!(
        "_csrf={}&name=Association+Secrete+des+Habitants&siret=81234567800019&email=contact%40asso-secrete.example&password={PASSWORD}&password2={PASSWORD}",
        csrf_of(&page)
    );
    let (status, _, _) = http(
        &addr,
        "POST",
        "/inscription",
        &[
            ("cookie", &anon),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
        &form,
    );
    assert_eq!(
        status, 200,
        "the account waits for its address to be confirmed"
    );
    // The link that confirms it, from the message the relay received.
    let confirm = mail.link("contact@asso-secrete.example", "/inscription/confirmer");
    let jeton = confirm.split("jeton=").nth(1).unwrap().to_string();
    let (_, _, page) = http(&addr, "GET", &confirm, &[("cookie", &anon)], "");
    let (status, cookies, _) = http(
        &addr,
        "POST",
        "/inscription/confirmer",
        &[
            ("cookie", &anon),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
        &format!("_csrf={}&jeton={jeton}&password={PASSWORD}", csrf_of(&page)),
    );
    assert_eq!(status, 303);
    let session = cookies
        .iter()
        .find(|c| c.starts_with("mp_session="))
        .unwrap()
        .clone();
    let (status, _, _) = http(&addr, "GET", "/mes-dossiers", &[("cookie", &session)], "");
    assert_eq!(status, 200);
    let (_, _, page) = http(&addr, "GET", "/connexion", &[("cookie", &anon)], "");
    for password in ["mauvais-mot-de-passe-1", PASSWORD] {
        let form = format!(
            "_csrf={}&email=contact%40asso-secrete.example&password={password}",
            csrf_of(&page)
        );
        http(
            &addr,
            "POST",
            "/connexion",
            &[
                ("cookie", &anon),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            &form,
        );
    }

    // A token of the account files an application through the API.
    let out = Command::new(metroplan())
        .args([
            "token",
            "create",
            "--user",
            "contact@asso-secrete.example",
            "--database",
            &db,
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let mut data = application("81234567800019", 5000);
    data["applicant"]["name"] = json!("Association Secrete des Habitants");
    let body = json!({ "data": data }).to_string();
    let (status, _, answer) = http(
        &addr,
        "POST",
        "/api/plans/amp-pmlcd/funds/fonds-initiative/applications",
        &[
            ("authorization", &format!("Bearer {token}")),
            ("content-type", "application/json"),
        ],
        &body,
    );
    assert_eq!(status, 201, "{answer}");

    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    child.wait().unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("signed in") && text.contains("request"),
        "the log is at debug level:\n{text}"
    );
    let session_secret = session.trim_start_matches("mp_session=");
    for secret in [
        PASSWORD,
        "mauvais-mot-de-passe-1",
        token.as_str(),
        session_secret,
        jeton.as_str(),
        "asso-secrete",
        "Secrete",
        "81234567800019",
    ] {
        assert!(!text.contains(secret), "the log holds `{secret}`");
    }
}
