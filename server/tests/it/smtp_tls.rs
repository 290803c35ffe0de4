//! The outbox over TLS to a real SMTP server (aiosmtpd, `tests/fixtures/smtp/relay.py`), with a
//! CA and a certificate for 127.0.0.1 made with `openssl` for each test: STARTTLS and implicit
//! TLS deliver; a certificate the worker does not trust, or a relay that offers no STARTTLS
//! when TLS is required, leaves every message queued with its error, never sent in clear.
//! Also what `--smtp` accepts, and that its password shows in no log line or error.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use metroplan_engine::model::RoleKind;
use metroplan_server::notify::{self, Mailer};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::support::*;

const FROM: &str = "metroplan <noreply@metroplan.example>";

/// A throwaway CA and a server certificate it signed for 127.0.0.1 and localhost.
pub struct Certs {
    _dir: tempfile::TempDir,
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

pub fn openssl(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("/usr/bin/openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("/usr/bin/openssl (package openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Certs {
    pub fn new() -> Certs {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        // A name of its own: two CAs of one name would fail on the signature, not on trust.
        let subject = format!(
            "/CN=metroplan test CA {}",
            d.file_name().unwrap().to_string_lossy()
        );
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ];
        openssl(
            d,
            &[
                &["req", "-x509"][..],
                &ec,
                &[
                    "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", &subject,
                ],
            ]
            .concat(),
        );
        openssl(
            d,
            &[
                &["req"][..],
                &ec,
                &[
                    "-keyout",
                    "server.key",
                    "-out",
                    "server.csr",
                    "-subj",
                    "/CN=localhost",
                ],
            ]
            .concat(),
        );
        std::fs::write(
            d.join("server.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
             keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "server.pem",
                "-days",
                "2",
                "-extfile",
                "server.ext",
            ],
        );
        Certs {
            ca: d.join("ca.pem"),
            cert: d.join("server.pem"),
            key: d.join("server.key"),
            _dir: dir,
        }
    }
}

/// aiosmtpd on a free loopback port, killed when dropped.
pub struct Relay {
    pub port: u16,
    out: tempfile::TempDir,
    _child: tokio::process::Child,
}

impl Relay {
    /// `mode` is `plain`, `starttls` or `tls`; the first `refuse` messages get a 451.
    pub async fn start(mode: &str, certs: Option<&Certs>, refuse: usize) -> Relay {
        let out = tempfile::tempdir().unwrap();
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/smtp/relay.py");
        let mut cmd = tokio::process::Command::new("python3");
        cmd.arg(script).arg("--out").arg(out.path()).args([
            "--mode",
            mode,
            "--refuse",
            &refuse.to_string(),
        ]);
        if let Some(c) = certs {
            cmd.arg("--cert").arg(&c.cert).arg("--key").arg(&c.key);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            // Kept aside: the refused handshakes print tracebacks there, as they should.
            .stderr(std::fs::File::create(out.path().join("relay.log")).unwrap())
            .kill_on_drop(true)
            .spawn()
            .expect("python3");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("the relay says it is ready within 30 s")
            .unwrap()
            .unwrap_or_else(|| {
                panic!(
                    "the relay did not start (is aiosmtpd installed? `cargo xtask setup`): {}",
                    std::fs::read_to_string(out.path().join("relay.log")).unwrap_or_default()
                )
            });
        let port = line
            .strip_prefix("ready ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("relay said {line:?}"));
        Relay {
            port,
            out,
            _child: child,
        }
    }

    /// The messages accepted so far, in order.
    pub fn messages(&self) -> Vec<Value> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.out.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
            .collect()
    }
}

/// Runs the outbox worker until the relay holds `want` messages (or `wait` has passed), then a
/// little longer, so a duplicate would show, and stops it.
pub async fn run_worker(env: &Env, mailer: Mailer, relay: &Relay, want: usize, wait: Duration) {
    let (stop, rx) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(notify::run(
        env.db.clone(),
        mailer,
        env.state.ctx.clock,
        env.metrics.clone(),
        rx,
    ));
    let deadline = Instant::now() + wait;
    while relay.messages().len() < want && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    stop.send(true).unwrap();
    worker.await.unwrap();
}

/// An applicant whose file went through 4 changes of state: 4 messages queued.
pub async fn four_queued() -> Env {
    let env = Env::new("2021-03-01T10:00:00+01:00").await;
    let asso = env
        .token_with(
            "asso",
            RoleKind::Applicant,
            None,
            Some("contact@asso.example"),
        )
        .await;
    env.eligible(&asso, application()).await;
    env
}

struct Outbox {
    pending: usize,
    errors: Vec<String>,
    retried_later: bool,
}

async fn outbox(env: &Env) -> Outbox {
    let rows = sqlx::query(
        "SELECT sent_at, last_error, attempts, next_attempt_at, created_at FROM outbox",
    )
    .fetch_all(&env.db.pool)
    .await
    .unwrap();
    let mut o = Outbox {
        pending: 0,
        errors: Vec::new(),
        retried_later: true,
    };
    for r in rows {
        use sqlx::Row;
        if r.get::<Option<String>, _>("sent_at").is_none() {
            o.pending += 1;
        }
        if let Some(e) = r.get::<Option<String>, _>("last_error") {
            o.errors.push(e);
        }
        o.retried_later &= r.get::<i64, _>("attempts") >= 1
            && r.get::<String, _>("next_attempt_at") > r.get::<String, _>("created_at");
    }
    o
}

fn assert_all_over_tls(got: &[Value]) {
    assert_eq!(got.len(), 4, "{got:#?}");
    for m in got {
        assert!(
            m["tls"].as_str().is_some_and(|v| v.starts_with("TLSv1.")),
            "{m:#?}"
        );
        assert_eq!(m["rcpt"], serde_json::json!(["contact@asso.example"]));
    }
}

#[tokio::test]
async fn smtp_starttls_required_delivers_over_tls_to_a_relay_signed_by_the_given_ca() {
    let env = four_queued().await;
    let certs = Certs::new();
    let relay = Relay::start("starttls", Some(&certs), 0).await;
    let mailer = Mailer::new(
        &format!("smtp://127.0.0.1:{}?tls=required", relay.port),
        Some(&certs.ca),
        FROM,
    )
    .unwrap();
    run_worker(&env, mailer, &relay, 4, Duration::from_secs(20)).await;
    assert_all_over_tls(&relay.messages());
    assert_eq!(outbox(&env).await.pending, 0);
}

#[tokio::test]
async fn smtps_implicit_tls_delivers_to_a_relay_signed_by_the_given_ca() {
    let env = four_queued().await;
    let certs = Certs::new();
    let relay = Relay::start("tls", Some(&certs), 0).await;
    // The name, not the address: the certificate is checked against the host of the URL.
    let mailer = Mailer::new(
        &format!("smtps://localhost:{}", relay.port),
        Some(&certs.ca),
        FROM,
    )
    .unwrap();
    run_worker(&env, mailer, &relay, 4, Duration::from_secs(20)).await;
    assert_all_over_tls(&relay.messages());
    assert_eq!(outbox(&env).await.pending, 0);
}

#[tokio::test]
async fn smtp_certificate_from_a_ca_not_given_is_refused_and_the_messages_stay_queued() {
    let env = four_queued().await;
    let certs = Certs::new();
    let other = Certs::new();
    for (mode, url) in [
        ("starttls", "smtp://127.0.0.1:{}?tls=required"),
        ("tls", "smtps://127.0.0.1:{}"),
    ] {
        let relay = Relay::start(mode, Some(&certs), 0).await;
        let mailer = Mailer::new(
            &url.replace("{}", &relay.port.to_string()),
            Some(&other.ca),
            FROM,
        )
        .unwrap();
        run_worker(&env, mailer, &relay, 1, Duration::from_secs(2)).await;
        assert!(
            relay.messages().is_empty(),
            "{mode}: {:#?}",
            relay.messages()
        );
        let o = outbox(&env).await;
        assert_eq!(o.pending, 4, "{mode}");
        assert_eq!(o.errors.len(), 4, "{mode}: {:?}", o.errors);
        assert!(
            o.errors
                .iter()
                .all(|e| e.contains("invalid peer certificate: UnknownIssuer")),
            "{mode}: {:?}",
            o.errors
        );
        assert!(o.retried_later, "{mode}");
        // The next run takes them again at once.
        sqlx::query("UPDATE outbox SET next_attempt_at = created_at")
            .execute(&env.db.pool)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn smtp_tls_required_never_falls_back_to_clear_text_when_the_relay_offers_no_starttls() {
    let env = four_queued().await;
    let relay = Relay::start("plain", None, 0).await;
    let mailer = Mailer::new(
        &format!("smtp://127.0.0.1:{}?tls=required", relay.port),
        None,
        FROM,
    )
    .unwrap();
    run_worker(&env, mailer, &relay, 1, Duration::from_secs(2)).await;
    assert!(relay.messages().is_empty(), "{:#?}", relay.messages());
    let o = outbox(&env).await;
    assert_eq!(o.pending, 4);
    assert!(
        o.errors.len() == 4 && o.errors.iter().all(|e| e.contains("STARTTLS")),
        "{:?}",
        o.errors
    );
    assert!(o.retried_later);
}

#[test]
fn smtp_url_forms_accepted_and_refused_with_a_reason_that_hides_the_password() {
    for ok in [
        "smtp://127.0.0.1:2525",
        "smtp://relay.example",
        "smtp://relay.example:587?tls=required",
        "smtps://relay.example",
        "smtps://user:s3cret@relay.example:465",
        "smtp://user%40example:s3%2Fcret@[::1]:2525?tls=required",
        // Credentials in clear only to a relay on this machine.
        "smtp://user:s3cret@127.0.0.1:2525",
        "smtp://user:s3cret@localhost:25",
    ] {
        let m = Mailer::new(ok, None, FROM).unwrap_or_else(|e| panic!("{ok}: {e:#}"));
        assert!(!format!("{m:?}").contains("s3"), "{m:?}");
        assert!(!m.relay().contains("s3"), "{}", m.relay());
    }
    for (bad, why) in [
        ("relay.example", "does not parse"),
        ("relay.example:25", "unknown scheme"),
        ("http://u:s3cret@relay.example", "unknown scheme"),
        (
            "smtp://u:s3cret@relay.example?tls=opportunistic",
            "tls=required",
        ),
        (
            "smtp://relay.example?tls=required&tls=required",
            "unknown parameter",
        ),
        ("smtps://relay.example?tls=required", "TLS already"),
        ("smtps://u:s3cret@:465", "host"),
        ("smtp://relay.example:99999", "port"),
        // Review: a password would have crossed the network in clear.
        ("smtp://u:s3cret@relay.example:25", "in clear"),
        ("smtp://u@relay.example:25", "in clear"),
    ] {
        let e = format!("{:#}", Mailer::new(bad, None, FROM).unwrap_err());
        assert!(e.contains(why), "{bad}: {e}");
        assert!(!e.contains("s3cret"), "{bad}: {e}");
    }
    assert_eq!(
        notify::redact("smtps://user:s3cret@relay.example:465"),
        "smtps://user:***@relay.example:465"
    );
    let e = Mailer::new("smtp://relay.example", None, "not an address").unwrap_err();
    assert!(format!("{e:#}").contains("--mail-from"), "{e:#}");
}

#[test]
fn smtp_ca_needs_a_tls_url_and_a_file_holding_a_certificate() {
    let certs = Certs::new();
    let e = Mailer::new("smtp://relay.example", Some(&certs.ca), FROM).unwrap_err();
    assert!(format!("{e:#}").contains("in clear"), "{e:#}");
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    let e = Mailer::new("smtps://relay.example", Some(&empty), FROM).unwrap_err();
    assert!(format!("{e:#}").contains("no PEM certificate"), "{e:#}");
    let e = Mailer::new(
        "smtps://relay.example",
        Some(&dir.path().join("missing.pem")),
        FROM,
    )
    .unwrap_err();
    assert!(format!("{e:#}").contains("missing.pem"), "{e:#}");
    Mailer::new("smtps://relay.example", Some(&certs.ca), FROM).unwrap();
}
