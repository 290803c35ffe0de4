//! `metroplan serve --audit-key … --audit-checkpoints …` as a real process: a checkpoint when
//! SIGTERM stops it (whatever the interval), or one after every change before the change is
//! acknowledged; `audit verify --checkpoints` passes on what it wrote.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use crate::metroplan;
use crate::server::{FILE, OPEN, Server, application, database, request, token};

/// `audit keygen`: the public key it prints.
fn keygen(dir: &Path) -> String {
    let out = Command::new(metroplan())
        .args(["audit", "keygen", "--key"])
        .arg(dir.join("audit.key"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// `audit verify` with the checkpoints: the number of events it found intact.
fn verified(db: &str, dir: &Path, public: &str) -> i64 {
    let out = Command::new(metroplan())
        .args(["audit", "verify", "--database", db, "--checkpoints"])
        .arg(dir.join("checkpoints.jsonl"))
        .args(["--public-key", public])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}");
    said.strip_prefix("audit trail intact: ")
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{said}"))
}

/// The checkpoints written so far.
fn checkpoints(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("checkpoints.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn serve(db: &str, dir: &Path, interval: &str) -> Server {
    let key = dir.join("audit.key");
    let file = dir.join("checkpoints.jsonl");
    Server::start_args(
        db,
        dir,
        OPEN,
        &crate::repo().join("plans"),
        &[
            "--audit-key",
            key.to_str().unwrap(),
            "--audit-checkpoints",
            file.to_str().unwrap(),
            "--audit-interval",
            interval,
        ],
    )
}

fn file(server: &Server, token: &str, siret: &str) {
    let r = request(
        &server.addr,
        "POST",
        FILE,
        Some(token),
        &[],
        Some(&json!({"data": application(siret, 8000)})),
    )
    .unwrap();
    assert_eq!(r.status, 201, "{:?}", r.body);
}

#[test]
fn serve_checkpoints_when_it_stops_and_not_twice_the_same_head() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _drop) = database(dir.path());
    let public = keygen(dir.path());
    let asso = token(&db, "asso", "applicant");
    let mut server = serve(&db, dir.path(), "3600");
    // An empty chain has no head to checkpoint.
    assert_eq!(checkpoints(dir.path()).len(), 0);
    file(&server, &asso, "81234567800019");
    file(&server, &asso, "81234567800027");
    assert!(server.terminate().success());
    let written = checkpoints(dir.path());
    assert_eq!(written.len(), 1, "{written:?}");
    let events = verified(&db, dir.path(), &public);
    assert_eq!(written[0]["seq"], events);
    // Started and stopped again: the head is covered, nothing more is written.
    let mut server = serve(&db, dir.path(), "3600");
    // Answering, so its SIGTERM handler is in place.
    let health = request(&server.addr, "GET", "/healthz", None, &[], None).unwrap();
    assert_eq!(health.status, 200);
    assert!(server.terminate().success());
    assert_eq!(checkpoints(dir.path()).len(), 1);
}

#[test]
fn serve_with_interval_0_checkpoints_every_change_before_acknowledging_it() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _drop) = database(dir.path());
    let public = keygen(dir.path());
    let asso = token(&db, "asso", "applicant");
    let mut server = serve(&db, dir.path(), "0");
    for siret in ["81234567800019", "81234567800027"] {
        file(&server, &asso, siret);
        // Acknowledged: its events are checkpointed already (the server still runs).
        let last = checkpoints(dir.path()).pop().unwrap();
        assert_eq!(last["seq"], verified(&db, dir.path(), &public));
    }
    assert!(server.terminate().success());
}
