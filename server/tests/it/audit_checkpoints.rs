//! `metroplan audit verify --checkpoints` against someone who can write the database: a
//! history rewritten with every later hash and the head recomputed, a tail deleted with the
//! head moved back, an emptied trail, edited money rows; the checkpoint file edited or signed
//! with another key; the RFC 3161 round trip with `openssl ts` as the authority. Each check
//! runs the real command (the `metroplan` binary) on the test's database, SQLite or PostgreSQL.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use ed25519_dalek::SigningKey;
use metroplan_engine::model::RoleKind;
use metroplan_server::audit::checkpoint::{self, Checkpoint, Checkpointer};
use metroplan_server::audit::{self, money};
use sqlx::Row as _;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::smtp_tls::openssl;
use crate::support::*;

/// A trail with money on it and two checkpoints (after the filing, after the advance).
struct Trail {
    env: Env,
    file: PathBuf,
    public: String,
    asso: String,
}

fn key(dir: &Path, name: &str) -> (SigningKey, String) {
    let path = dir.join(name);
    let public = hex::encode(checkpoint::keygen(&path).unwrap().to_bytes());
    (checkpoint::read_key(&path).unwrap(), public)
}

async fn trail() -> Trail {
    let env = Env::new("2021-03-01T10:00:00+01:00").await;
    let (key, public) = key(env.dir.path(), "audit.key");
    let file = env.dir.path().join("checkpoints.jsonl");
    let cp = Checkpointer::new(key, file.clone(), None, false).unwrap();
    let asso = env.token("asso", RoleKind::Applicant).await;
    env.eligible(&asso, application_of("81234567800043", 2000))
        .await;
    assert!(cp.checkpoint_head(&env.db).await.unwrap().is_some());
    env.advanced(&asso).await;
    assert!(cp.checkpoint_head(&env.db).await.unwrap().is_some());
    // A head already checkpointed is not written again.
    assert!(cp.checkpoint_head(&env.db).await.unwrap().is_none());
    Trail {
        env,
        file,
        public,
        asso,
    }
}

/// `metroplan audit verify` on the trail: (passed, what it printed).
fn verify(t: &Trail) -> (bool, String) {
    verify_with(&t.env, &t.file, &t.public)
}

fn verify_with(env: &Env, file: &Path, public: &str) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_metroplan"))
        .args(["audit", "verify", "--database", &env.url, "--checkpoints"])
        .arg(file)
        .args(["--public-key", public])
        .output()
        .expect("the metroplan binary");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &*String::from_utf8_lossy(&out.stderr);
    match out.status.code() {
        Some(0) => (true, text),
        Some(1) => (false, text),
        other => panic!("audit verify exited with {other:?}: {text}"),
    }
}

fn fails_with(t: &Trail, expected: &str) {
    let (passed, text) = verify(t);
    assert!(!passed, "verify passed: {text}");
    assert!(text.contains(expected), "expected {expected:?} in: {text}");
}

async fn exec(env: &Env, sql: &str) {
    sqlx::query(sql).execute(&env.db.pool).await.unwrap();
}

/// Every event, as stored.
async fn events(env: &Env) -> Vec<audit::Event> {
    let rows = sqlx::query(&format!(
        "SELECT {} FROM events ORDER BY seq",
        audit::EVENT_COLUMNS
    ))
    .fetch_all(&env.db.pool)
    .await
    .unwrap();
    rows.iter()
        .map(|r| audit::event_from_row(r).unwrap())
        .collect()
}

/// Recomputes every hash from event `from` on, and the head: a chain that holds together.
async fn rehash_from(env: &Env, from: i64) {
    let mut prev = "genesis".to_string();
    for e in events(env).await {
        if e.seq >= from {
            let sealed = audit::seal(e.content(), e.seq, &prev);
            sqlx::query("UPDATE events SET prev_hash = $1, hash = $2 WHERE seq = $3")
                .bind(&prev)
                .bind(&sealed.hash)
                .bind(e.seq)
                .execute(&env.db.pool)
                .await
                .unwrap();
            prev = sealed.hash;
        } else {
            prev = e.hash;
        }
    }
    let last = events(env).await.last().map(|e| e.seq).unwrap_or(0);
    sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
        .bind(last)
        .bind(&prev)
        .execute(&env.db.pool)
        .await
        .unwrap();
}

/// The chain alone (no checkpoints) holds together: only the checkpoints see the rewrite.
async fn chain_alone_passes(env: &Env) {
    assert!(audit::verify(&env.db).await.unwrap().is_ok());
}

#[tokio::test]
async fn an_untouched_trail_passes_verify() {
    let t = trail().await;
    let (passed, text) = verify(&t);
    assert!(passed, "{text}");
    assert!(text.contains("2 checkpoints"), "{text}");
    assert!(text.contains("money tables agree"), "{text}");
    assert!(money::verify(&t.env.db).await.unwrap().is_empty());
    // More changes after the last checkpoint are not a break.
    t.env
        .eligible(&t.asso, application_of("81234567800027", 3000))
        .await;
    assert!(verify(&t).0);
}

#[tokio::test]
async fn a_history_rewritten_with_every_later_hash_and_the_head_recomputed_fails_verify() {
    let t = trail().await;
    exec(
        &t.env,
        "UPDATE events SET actor = 'quelqu-un' WHERE seq = 2",
    )
    .await;
    rehash_from(&t.env, 2).await;
    chain_alone_passes(&t.env).await;
    fails_with(&t, "the trail was rewritten at or before this event");
}

#[tokio::test]
async fn a_tail_deleted_with_the_head_moved_back_fails_verify() {
    let t = trail().await;
    let kept = events(&t.env).await[2].clone();
    sqlx::query("DELETE FROM events WHERE seq > $1")
        .bind(kept.seq)
        .execute(&t.env.db.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
        .bind(kept.seq)
        .bind(&kept.hash)
        .execute(&t.env.db.pool)
        .await
        .unwrap();
    chain_alone_passes(&t.env).await;
    fails_with(&t, "the trail was truncated or emptied");
}

#[tokio::test]
async fn an_emptied_trail_fails_verify() {
    let t = trail().await;
    exec(&t.env, "DELETE FROM events").await;
    exec(
        &t.env,
        "UPDATE audit_head SET seq = 0, hash = 'genesis' WHERE id = 1",
    )
    .await;
    assert_eq!(audit::verify(&t.env.db).await.unwrap().unwrap().events, 0);
    fails_with(&t, "the chain ends at event 0, but the checkpoint");
}

#[tokio::test]
async fn an_edited_ledger_row_fails_verify() {
    let t = trail().await;
    exec(
        &t.env,
        "UPDATE ledger SET committed_cents = committed_cents - 100000",
    )
    .await;
    chain_alone_passes(&t.env).await;
    fails_with(&t, "committed 650000 cents, the events 750000");
}

#[tokio::test]
async fn an_edited_ledger_entry_fails_verify() {
    let t = trail().await;
    exec(
        &t.env,
        "UPDATE ledger_entries SET cents = 1 WHERE kind = 'payment'",
    )
    .await;
    fails_with(
        &t,
        "the ledger entries hold 1 cents of `payment`, the events 375000",
    );
}

#[tokio::test]
async fn an_edited_paid_amount_of_an_application_fails_verify() {
    let t = trail().await;
    exec(&t.env, "UPDATE applications SET paid_cents = 0").await;
    fails_with(&t, "paid 0 cents, the events 375000");
}

#[tokio::test]
async fn a_checkpoint_line_edited_fails_verify() {
    let t = trail().await;
    let text = std::fs::read_to_string(&t.file).unwrap();
    let first = text.lines().next().unwrap();
    let c: Checkpoint = serde_json::from_str(first).unwrap();
    // Moved back to an earlier event whose hash the editor copied: the signature breaks.
    let e = &events(&t.env).await[1];
    let edited = text.replacen(
        &format!("\"seq\":{},\"hash\":\"{}\"", c.seq, c.hash),
        &format!("\"seq\":{},\"hash\":\"{}\"", e.seq, e.hash),
        1,
    );
    assert_ne!(edited, text);
    std::fs::write(&t.file, edited).unwrap();
    fails_with(&t, "line 1 (event 2): the signature does not match");
}

#[tokio::test]
async fn a_checkpoint_line_that_is_not_a_checkpoint_fails_verify() {
    let t = trail().await;
    let mut text = std::fs::read_to_string(&t.file).unwrap();
    text.push_str("{\"seq\": 1}\n");
    std::fs::write(&t.file, text).unwrap();
    fails_with(&t, "line 3: not a checkpoint");
}

#[tokio::test]
async fn two_signed_checkpoints_of_one_event_with_different_hashes_fail_verify() {
    let t = trail().await;
    // What a server checkpoints after a rewrite while it runs: signed, but of another chain.
    let key = checkpoint::read_key(&t.env.dir.path().join("audit.key")).unwrap();
    let first = checkpoint::read(&t.file).unwrap()[0].clone().unwrap();
    let other = Checkpoint::sign(&key, first.seq, &"0".repeat(64), "2026-12-04T00:00:00Z");
    let mut text = std::fs::read_to_string(&t.file).unwrap();
    text.push_str(&serde_json::to_string(&other).unwrap());
    text.push('\n');
    std::fs::write(&t.file, text).unwrap();
    fails_with(
        &t,
        &format!(
            "two signed checkpoints of event {} record different hashes",
            first.seq
        ),
    );
}

#[tokio::test]
async fn a_checkpoint_file_that_is_not_there_is_an_error_not_a_pass() {
    let t = trail().await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_metroplan"))
        .args(["audit", "verify", "--database", &t.env.url, "--checkpoints"])
        .arg(t.env.dir.path().join("elsewhere.jsonl"))
        .args(["--public-key", &t.public])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such file"));
}

#[tokio::test]
async fn checkpoints_signed_with_another_key_fail_verify() {
    let t = trail().await;
    // Another key, made by the command: owner-only, its public half printed and in KEY.pub.
    let other = t.env.dir.path().join("other.key");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_metroplan"))
        .args(["audit", "keygen", "--key"])
        .arg(&other)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let printed = String::from_utf8(out.stdout).unwrap();
    let pub_file = t.env.dir.path().join("other.key.pub");
    assert_eq!(std::fs::read_to_string(&pub_file).unwrap(), printed);
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(&other).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let (passed, text) = verify_with(&t.env, &t.file, pub_file.to_str().unwrap());
    assert!(!passed, "{text}");
    assert!(text.contains("signed with another key"), "{text}");
}

#[tokio::test]
async fn every_change_is_checkpointed_before_it_is_acknowledged() {
    let env = Env::new("2021-03-01T10:00:00+01:00").await;
    let (key, public) = key(env.dir.path(), "audit.key");
    let file = env.dir.path().join("checkpoints.jsonl");
    let cp = Arc::new(Checkpointer::new(key, file.clone(), None, true).unwrap());
    env.db.checkpoint_every_change(cp);
    let asso = env.token("asso", RoleKind::Applicant).await;
    let r = env.file(&asso, application()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let head: i64 = sqlx::query("SELECT seq FROM audit_head WHERE id = 1")
        .fetch_one(&env.db.pool)
        .await
        .unwrap()
        .get("seq");
    let last = checkpoint::read(&file).unwrap().pop().unwrap().unwrap();
    assert_eq!(last.seq, head);
    assert!(verify_with(&env, &file, &public).0);
}

#[tokio::test]
async fn ledger_entries_from_before_the_check_are_an_opening_balance() {
    let env = Env::new("2021-03-01T10:00:00+01:00").await;
    let asso = env.token("asso", RoleKind::Applicant).await;
    let id = env.eligible(&asso, application()).await;
    // As a version that did not record entries in events left them.
    for sql in [
        "INSERT INTO ledger_entries (plan, fund, year, application_id, kind, cents, at, action) SELECT plan, fund, call_year, id, 'commit', 500000, updated_at, 'migration' FROM applications",
        "INSERT INTO ledger (plan, fund, year, committed_cents) SELECT plan, fund, call_year, 500000 FROM applications",
        "UPDATE applications SET awarded_cents = 500000",
    ] {
        exec(&env, sql).await;
    }
    assert_eq!(money::verify(&env.db).await.unwrap().len(), 3);
    assert!(
        money::open(&env.db, "2021-03-01T10:00:00+01:00")
            .await
            .unwrap()
    );
    assert_eq!(money::verify(&env.db).await.unwrap(), vec![]);
    // Once only: a second start records nothing more.
    assert!(
        !money::open(&env.db, "2021-03-01T10:00:00+01:00")
            .await
            .unwrap()
    );
    assert!(audit::verify(&env.db).await.unwrap().is_ok());
    let opening = sqlx::query("SELECT payload FROM events WHERE action = 'ledger-opening'")
        .fetch_all(&env.db.pool)
        .await
        .unwrap();
    assert_eq!(opening.len(), 1);
    let payload: String = opening[0].get("payload");
    assert!(payload.contains(&id), "{payload}");
}

/// A CA, a time-stamping certificate it signed and the `openssl ts` configuration, in `dir`.
fn tsa_files(dir: &Path) -> PathBuf {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    openssl(
        dir,
        &[
            &["req", "-x509"],
            &ec[..],
            &[
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=Test TSA CA",
            ],
        ]
        .concat(),
    );
    openssl(
        dir,
        &[
            &["req"],
            &ec[..],
            &[
                "-keyout",
                "tsa.key",
                "-out",
                "tsa.csr",
                "-subj",
                "/CN=Test TSA",
            ],
        ]
        .concat(),
    );
    std::fs::write(
        dir.join("ext.cnf"),
        "basicConstraints=CA:FALSE\nextendedKeyUsage=critical,timeStamping\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "tsa.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "tsa.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    );
    std::fs::write(dir.join("serial"), "01\n").unwrap();
    let config = dir.join("tsa.cnf");
    std::fs::write(
        &config,
        format!(
            "[ tsa ]\ndefault_tsa = test\n[ test ]\ndir = {}\nserial = $dir/serial\n\
             signer_cert = $dir/tsa.pem\nsigner_key = $dir/tsa.key\nsigner_digest = sha256\n\
             default_policy = 1.2.3.4.1\ndigests = sha256\naccuracy = secs:1\nordering = no\n\
             tsa_name = yes\ness_cert_id_alg = sha256\n",
            dir.display()
        ),
    )
    .unwrap();
    config
}

#[tokio::test]
async fn a_checkpoint_time_stamped_by_openssl_ts_verifies_and_an_authority_down_stops_nothing() {
    let env = Env::new("2021-03-01T10:00:00+01:00").await;
    let dir = env.dir.path().join("tsa");
    std::fs::create_dir(&dir).unwrap();
    let config = tsa_files(&dir);
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tsa/tsa.py");
    let mut child = tokio::process::Command::new("python3")
        .arg(script)
        .arg("--config")
        .arg(&config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python3");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("the authority is ready within 30 s")
        .unwrap()
        .expect("the authority started");
    let port = line.strip_prefix("ready ").expect("ready PORT").to_string();

    let (key, public) = key(env.dir.path(), "audit.key");
    let file = env.dir.path().join("checkpoints.jsonl");
    let url = format!("http://127.0.0.1:{port}/tsa");
    let cp = Checkpointer::new(key.clone(), file.clone(), Some(url), false).unwrap();
    let asso = env.token("asso", RoleKind::Applicant).await;
    env.eligible(&asso, application()).await;
    let c = cp.checkpoint_head(&env.db).await.unwrap().unwrap();
    let token = c.tsa.clone().expect("a time stamp");
    assert!(c.stamped().unwrap().unwrap().time.ends_with('Z'));

    // The authority's signature, checked by openssl against its CA.
    use base64::Engine as _;
    let der = base64::engine::general_purpose::STANDARD
        .decode(&token)
        .unwrap();
    std::fs::write(dir.join("token.der"), der).unwrap();
    std::fs::write(
        dir.join("message"),
        Checkpoint::message(c.seq, &c.hash, &c.at),
    )
    .unwrap();
    // Exits non-zero unless the verification is OK.
    openssl(
        &dir,
        &[
            "ts",
            "-verify",
            "-token_in",
            "-in",
            "token.der",
            "-data",
            "message",
            "-CAfile",
            "ca.pem",
        ],
    );
    assert!(verify_with(&env, &file, &public).0);

    // A stamp moved to another checkpoint is not of it.
    env.eligible(&asso, application_of("81234567800027", 3000))
        .await;
    let c2 = cp.checkpoint_head(&env.db).await.unwrap().unwrap();
    let moved = Checkpoint {
        tsa: c.tsa.clone(),
        ..c2
    };
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str(&serde_json::to_string(&moved).unwrap());
    text.push('\n');
    std::fs::write(&file, &text).unwrap();
    let (passed, said) = verify_with(&env, &file, &public);
    assert!(!passed);
    assert!(said.contains("line 3 (event"), "{said}");
    assert!(
        said.contains("its time stamp is not of this checkpoint"),
        "{said}"
    );

    // The authority down: the checkpoint is signed without a stamp, the filing goes on.
    drop(lines);
    drop(child);
    let down = env.dir.path().join("down.jsonl");
    let cp = Arc::new(
        Checkpointer::new(
            key,
            down.clone(),
            Some(format!("http://127.0.0.1:{port}/tsa")),
            true,
        )
        .unwrap(),
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    env.db.checkpoint_every_change(cp);
    let r = env
        .file(&asso, application_of("81234567800035", 2000))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let last = checkpoint::read(&down).unwrap().pop().unwrap().unwrap();
    assert_eq!(last.tsa, None);
    assert!(last.signed_by(&key_public(&public)));
}

fn key_public(hex_key: &str) -> ed25519_dalek::VerifyingKey {
    checkpoint::public_key(hex_key).unwrap()
}
