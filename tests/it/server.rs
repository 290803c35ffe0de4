//! The server as a real process: listening on a port, two processes on one database, killed
//! in the middle of a burst. The database is a SQLite file, or PostgreSQL when
//! `METROPLAN_TEST_DATABASE_URL` is set (a new database per test).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::{metroplan, repo};

pub const FILE: &str = "/api/plans/amp-pmlcd/funds/fonds-initiative/applications";

/// A database for one test: a SQLite file, or a new PostgreSQL database dropped with the guard.
pub fn database(dir: &Path) -> (String, Option<DropDatabase>) {
    match std::env::var("METROPLAN_TEST_DATABASE_URL") {
        Ok(base) if !base.is_empty() => {
            let (url, drop) = postgres_database(&base);
            (url, Some(drop))
        }
        _ => (
            format!("sqlite://{}", dir.join("metroplan.db").display()),
            None,
        ),
    }
}

/// A new PostgreSQL database on the server of `base`, dropped with the guard.
pub fn postgres_database(base: &str) -> (String, DropDatabase) {
    let name = format!(
        "mp_e2e_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
            % 1_000_000_000
    );
    let status = Command::new("psql")
        .args([base, "-q", "-c", &format!("CREATE DATABASE {name}")])
        .status()
        .expect("psql");
    assert!(status.success(), "creating the test database");
    let (head, _) = base.rsplit_once('/').unwrap();
    (
        format!("{head}/{name}"),
        DropDatabase {
            base: base.to_string(),
            name,
        },
    )
}

/// Drops a test's PostgreSQL database at the end of the test.
pub struct DropDatabase {
    base: String,
    name: String,
}

impl Drop for DropDatabase {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args([
                &self.base,
                "-q",
                "-c",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

pub struct Server {
    child: Child,
    pub addr: String,
}

impl Server {
    pub fn start(db: &str, dir: &Path, now: &str) -> Server {
        Server::start_with(db, dir, now, &repo().join("plans"))
    }

    /// A server on the plans under `plans`.
    pub fn start_with(db: &str, dir: &Path, now: &str, plans: &Path) -> Server {
        Server::start_args(db, dir, now, plans, &[])
    }

    /// A server on the plans under `plans`, with more options.
    pub fn start_args(db: &str, dir: &Path, now: &str, plans: &Path, more: &[&str]) -> Server {
        let mut child = Command::new(metroplan())
            .current_dir(repo())
            .arg("serve")
            .arg("--plans")
            .arg(plans)
            // Any free port, unless the test chose one.
            .args(if more.contains(&"--bind") {
                &[][..]
            } else {
                &["--bind", "127.0.0.1:0"][..]
            })
            .args(["--database", db, "--now", now])
            .args(more)
            .arg("--documents")
            .arg(dir.join("documents"))
            .env("METROPLAN_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start metroplan serve");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .expect("the server says where it listens");
        let addr = line
            .trim()
            .strip_prefix("metroplan: listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line: {line}"))
            .to_string();
        Server { child, addr }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().ok();
    }

    pub fn terminate(&mut self) -> std::process::ExitStatus {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill -TERM");
        self.child.wait().expect("the server stops")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn token(db: &str, name: &str, role: &str) -> String {
    let out = Command::new(metroplan())
        .args([
            "token",
            "create",
            "--name",
            name,
            "--role",
            role,
            "--database",
            db,
        ])
        .output()
        .expect("token create");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[derive(Debug)]
pub struct Res {
    pub status: u16,
    pub etag: Option<String>,
    pub body: Value,
}

/// One HTTP/1.1 request on its own connection; `None` when the connection fails (the server
/// was killed).
pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> Option<Res> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(&body);
    s.write_all(req.as_bytes()).ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let etag = head.lines().find_map(|l| {
        l.to_ascii_lowercase()
            .starts_with("etag:")
            .then(|| l[5..].trim().to_string())
    });
    Some(Res {
        status,
        etag,
        body: serde_json::from_str(body).unwrap_or(Value::Null),
    })
}

pub fn application(siret: &str, amount: u32) -> Value {
    let text = std::fs::read_to_string(
        repo().join("server/tests/fixtures/association-vitrolles-2021.json"),
    )
    .unwrap();
    let mut a: Value = serde_json::from_str(&text).unwrap();
    a["applicant"]["siret"] = json!(siret);
    a["project"]["requested_amount"] = json!(amount);
    a["project"]["total_cost"] = json!(amount * 2);
    a
}

/// A token that acts as the account of `email` (`metroplan token create --user`).
pub fn token_for(db: &str, email: &str) -> String {
    let out = Command::new(metroplan())
        .args(["token", "create", "--user", email, "--database", db])
        .output()
        .expect("token create --user");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

pub fn act(addr: &str, id: &str, action: &str, token: &str, body: Value) -> Res {
    let cur = request(
        addr,
        "GET",
        &format!("/api/applications/{id}"),
        Some(token),
        &[],
        None,
    )
    .unwrap();
    let etag = cur.etag.unwrap_or_default();
    request(
        addr,
        "POST",
        &format!("/api/applications/{id}/actions/{action}"),
        Some(token),
        &[("If-Match", &etag)],
        Some(&body),
    )
    .unwrap()
}

const PDF: &str = "%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n";

pub fn upload(addr: &str, id: &str, kind: &str, token: &str) -> u16 {
    let mut s = TcpStream::connect(addr).unwrap();
    let b = "XbX";
    let body = format!(
        "--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.pdf\"\r\n\r\n{PDF}\r\n--{b}--\r\n"
    );
    let req = format!(
        "POST /api/applications/{id}/documents/{kind} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {token}\r\nContent-Type: multipart/form-data; boundary={b}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.split_whitespace().nth(1).unwrap().parse().unwrap()
}

pub const OPEN: &str = "2021-03-01T10:00:00+01:00";

#[test]
fn a_real_server_answers_and_stops_gracefully_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _drop) = database(dir.path());
    let mut server = Server::start(&db, dir.path(), OPEN);
    let health = request(&server.addr, "GET", "/healthz", None, &[], None).unwrap();
    assert_eq!(health.status, 200);
    let asso = token(&db, "asso", "applicant");
    let r = request(
        &server.addr,
        "POST",
        FILE,
        Some(&asso),
        &[],
        Some(&json!({"data": application("81234567800019", 8000)})),
    )
    .unwrap();
    assert_eq!(r.status, 201, "{}", r.body);
    let metrics = request(&server.addr, "GET", "/metrics", None, &[], None).unwrap();
    assert_eq!(metrics.status, 200);
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
}

/// Brings applications to the decision through the API of `addr`.
pub fn to_decide(addr: &str, db: &str, n: usize, amount: u32) -> Vec<String> {
    let instr = token(db, "Inès Instruction", "instructor");
    let r1 = token(db, "Romain Rapporteur", "reviewer");
    let r2 = token(db, "Rachida Rapporteure", "reviewer");
    (0..n)
        .map(|i| {
            let asso = token(db, &format!("asso-{i}"), "applicant");
            let r = request(
                addr,
                "POST",
                FILE,
                Some(&asso),
                &[],
                Some(&json!({"data": application(&format!("812345678{i:05}"), amount)})),
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
                assert_eq!(upload(addr, &id, kind, &asso), 200);
            }
            assert_eq!(
                act(addr, &id, "completer", &asso, json!({})).body["state"],
                "en-instruction"
            );
            act(addr, &id, "soumettre-au-comite", &instr, json!({}));
            for r in [&r1, &r2] {
                act(
                    addr,
                    &id,
                    "donner-avis",
                    r,
                    json!({"linked": false, "favourable": true, "opinion": "ok"}),
                );
            }
            assert_eq!(
                act(
                    addr,
                    &id,
                    "proposer-decision",
                    &instr,
                    json!({"amount": amount.to_string()})
                )
                .body["state"],
                "a-decider"
            );
            id
        })
        .collect()
}

#[test]
fn two_server_processes_on_one_database_never_overspend_the_envelope() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _drop) = database(dir.path());
    let a = Server::start(&db, dir.path(), OPEN);
    let b = Server::start(&db, dir.path(), OPEN);
    // 12 × 7 000 € asked of the 30 000 € envelope of 2021: 4 fit.
    let ids = to_decide(&a.addr, &db, 12, 7000);
    let elue = token(&db, "elue", "approver");
    let handles: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let addr = if i % 2 == 0 {
                a.addr.clone()
            } else {
                b.addr.clone()
            };
            let (id, elue) = (id.clone(), elue.clone());
            std::thread::spawn(move || {
                act(&addr, &id, "attribuer", &elue, json!({"amount": "7000"}))
            })
        })
        .collect();
    let results: Vec<Res> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let approved = results.iter().filter(|r| r.status == 200).count();
    for r in results.iter().filter(|r| r.status != 200) {
        assert_eq!(r.status, 422, "{}", r.body);
        assert_eq!(r.body["guard"], "within-envelope", "{}", r.body);
        assert!(
            r.body["remaining"].is_string(),
            "every refusal says what remains: {}",
            r.body
        );
    }
    assert_eq!(approved, 4);
    assert_eq!(committed_2021(&b.addr, &elue), "28000.00");
}

/// What the 2021 envelope of the demonstration fund has committed, as the API says.
pub fn committed_2021(addr: &str, token: &str) -> String {
    let e = request(
        addr,
        "GET",
        "/api/plans/amp-pmlcd/funds/fonds-initiative/envelope?year=2021",
        Some(token),
        &[],
        None,
    )
    .unwrap();
    e.body["committed"]
        .as_str()
        .unwrap_or_else(|| panic!("{}", e.body))
        .to_string()
}

#[test]
fn a_server_killed_during_a_burst_of_filings_keeps_every_filing_it_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _drop) = database(dir.path());
    let mut server = Server::start(&db, dir.path(), OPEN);
    let asso = token(&db, "asso", "applicant");
    let addr = server.addr.clone();
    let burst: Vec<_> = (0..4)
        .map(|t| {
            let (addr, asso) = (addr.clone(), asso.clone());
            std::thread::spawn(move || {
                let mut acknowledged = Vec::new();
                for i in 0..10_000 {
                    let body = json!({"data": application(&format!("8{t}{i:012}"), 5000)});
                    match request(&addr, "POST", FILE, Some(&asso), &[], Some(&body)) {
                        Some(r) if r.status == 201 => {
                            acknowledged.push(r.body["id"].as_str().unwrap().to_string())
                        }
                        Some(r) => panic!("{}: {}", r.status, r.body),
                        None => break,
                    }
                }
                acknowledged
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    server.kill();
    let acknowledged: Vec<String> = burst.into_iter().flat_map(|h| h.join().unwrap()).collect();
    assert!(
        acknowledged.len() > 20,
        "the burst got going: {}",
        acknowledged.len()
    );

    let server = Server::start(&db, dir.path(), OPEN);
    for id in &acknowledged {
        let r = request(
            &server.addr,
            "GET",
            &format!("/api/applications/{id}"),
            Some(&asso),
            &[],
            None,
        )
        .unwrap();
        assert_eq!(r.status, 200, "acknowledged filing {id} lost");
        assert_eq!(r.body["state"], "incomplet");
    }
    audit_is_intact(&db);
}

/// `metroplan audit verify` finds the chain intact.
pub fn audit_is_intact(db: &str) {
    let out = Command::new(metroplan())
        .args(["audit", "verify", "--database", db])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && said.contains("intact"), "{said}");
}

#[test]
fn a_body_too_large_or_too_slow_is_refused_and_the_server_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _drop) = database(dir.path());
    let server = Server::start_args(
        &db,
        dir.path(),
        OPEN,
        &repo().join("plans"),
        &["--request-timeout", "1"],
    );
    let asso = token(&db, "asso", "applicant");

    // 300 KiB of JSON: over the 256 KiB limit.
    let mut big = application("81234567800019", 5000);
    big["project"]["description"] = json!("x".repeat(300 * 1024));
    let r = request(
        &server.addr,
        "POST",
        FILE,
        Some(&asso),
        &[],
        Some(&json!({"data": big})),
    )
    .unwrap();
    assert_eq!(r.status, 413, "{}", r.body);
    assert_eq!(r.body["type"], "/problems/too-large", "{}", r.body);

    // A client that announces 2 000 bytes and sends 20, then waits.
    let started = std::time::Instant::now();
    let mut s = TcpStream::connect(&server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "POST {FILE} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {asso}\r\nContent-Type: application/json\r\nContent-Length: 2000\r\n\r\n{{\"data\": {{\"call\": 20"
    )
    .unwrap();
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    let waited = started.elapsed();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("/problems/timed-out"), "{answer}");
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
        "cut off at the 1 s limit: {waited:?}"
    );

    // Nothing was recorded, and the server answers the next client.
    let mine = request(
        &server.addr,
        "GET",
        "/api/applications",
        Some(&asso),
        &[],
        None,
    )
    .unwrap();
    assert_eq!(mine.status, 200);
    assert_eq!(
        mine.body["items"].as_array().map(Vec::len),
        Some(0),
        "{}",
        mine.body
    );
    let body = json!({"data": application("81234567800019", 5000)});
    let r = request(&server.addr, "POST", FILE, Some(&asso), &[], Some(&body)).unwrap();
    assert_eq!(r.status, 201, "{}", r.body);

    // A piece uploaded slowly, over more than the 1 s limit, has the upload limit (600 s).
    let id = r.body["id"].as_str().unwrap();
    let b = "XbX";
    let part = format!(
        "--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"rib.pdf\"\r\n\r\n{PDF}\r\n--{b}--\r\n"
    );
    let mut s = TcpStream::connect(&server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "POST /api/applications/{id}/documents/rib HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {asso}\r\nContent-Type: multipart/form-data; boundary={b}\r\nContent-Length: {}\r\n\r\n{}",
        part.len(),
        &part[..20]
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    s.write_all(&part.as_bytes()[20..]).unwrap();
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}
