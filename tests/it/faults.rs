//! Faults a real deployment meets, on the real parts: the server killed in the middle of
//! decisions, PostgreSQL restarted under it, its SQLite file's disk full or read-only. In each,
//! nothing acknowledged is lost, nothing half-written remains, the client gets a 503 problem
//! that says what happened, and the server serves again once the fault is gone, without a
//! restart of its own.
//!
//! The PostgreSQL test stops and starts the machine's cluster (`pg_ctlcluster`); the disk tests
//! mount a small tmpfs. Both need root, as CI has.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::metroplan;
use crate::server::{
    FILE, OPEN, Server, act, application, audit_is_intact, committed_2021, database, request,
    to_decide, token,
};

fn file_one(addr: &str, asso: &str, siret: &str) -> Option<crate::server::Res> {
    let body = json!({"data": application(siret, 5000)});
    request(addr, "POST", FILE, Some(asso), &[], Some(&body))
}

/// Every acknowledged filing is there, as acknowledged.
fn all_present(addr: &str, asso: &str, ids: &[String]) {
    for id in ids {
        let r = request(
            addr,
            "GET",
            &format!("/api/applications/{id}"),
            Some(asso),
            &[],
            None,
        )
        .unwrap();
        assert_eq!(r.status, 200, "acknowledged filing {id} lost: {}", r.body);
    }
}

fn assert_storage_problem(r: &crate::server::Res, what: &str) {
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.body["type"], "/problems/storage-refused", "{}", r.body);
    let detail = r.body["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains(what) && detail.contains("nothing was recorded"),
        "{detail}"
    );
}

#[test]
fn a_server_killed_during_a_burst_of_approvals_keeps_every_decision_it_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _drop) = database(dir.path());
    let mut server = Server::start(&db, dir.path(), OPEN);
    // 30 × 1 000 € fit the 30 000 € envelope of 2021 exactly.
    let ids = to_decide(&server.addr, &db, 30, 1000);
    let elue = token(&db, "elue", "approver");
    let done = Arc::new(AtomicUsize::new(0));
    let burst: Vec<_> = ids
        .chunks(8)
        .map(|chunk| {
            let (addr, elue, chunk, done) = (
                server.addr.clone(),
                elue.clone(),
                chunk.to_vec(),
                done.clone(),
            );
            std::thread::spawn(move || {
                let mut acknowledged = Vec::new();
                for id in chunk {
                    let Some(cur) = request(
                        &addr,
                        "GET",
                        &format!("/api/applications/{id}"),
                        Some(&elue),
                        &[],
                        None,
                    ) else {
                        break;
                    };
                    let etag = cur.etag.unwrap_or_default();
                    match request(
                        &addr,
                        "POST",
                        &format!("/api/applications/{id}/actions/attribuer"),
                        Some(&elue),
                        &[("If-Match", &etag)],
                        Some(&json!({"amount": "1000"})),
                    ) {
                        Some(r) if r.status == 200 => {
                            done.fetch_add(1, Ordering::SeqCst);
                            acknowledged.push(id);
                        }
                        Some(r) => panic!("{}: {}", r.status, r.body),
                        None => break,
                    }
                }
                acknowledged
            })
        })
        .collect();
    let started = Instant::now();
    while done.load(Ordering::SeqCst) < 8 && started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(1));
    }
    server.kill();
    let acknowledged: Vec<String> = burst.into_iter().flat_map(|h| h.join().unwrap()).collect();
    assert!(
        acknowledged.len() >= 8 && acknowledged.len() < ids.len(),
        "the kill fell in the middle of the burst: {} of {} acknowledged",
        acknowledged.len(),
        ids.len()
    );

    let server = Server::start(&db, dir.path(), OPEN);
    let mut awarded = 0;
    for id in &ids {
        let r = request(
            &server.addr,
            "GET",
            &format!("/api/applications/{id}"),
            Some(&elue),
            &[],
            None,
        )
        .unwrap();
        let state = r.body["state"].as_str().unwrap().to_string();
        if acknowledged.contains(id) {
            assert_eq!(state, "attribue", "acknowledged decision on {id} lost");
        }
        // A decision committed whose answer the kill swallowed is whole too.
        match state.as_str() {
            "attribue" => {
                assert_eq!(r.body["awarded"], "1000.00", "{}", r.body);
                awarded += 1;
            }
            "a-decider" => assert!(r.body["awarded"].is_null(), "{}", r.body),
            other => panic!("{id} is {other}"),
        }
    }
    assert_eq!(
        committed_2021(&server.addr, &elue),
        format!("{}.00", awarded * 1000),
        "the ledger agrees with the files"
    );
    audit_is_intact(&db);
    // The ones the kill cut off are decided now, as if nothing had happened.
    for id in ids.iter().filter(|id| !acknowledged.contains(id)) {
        let r = act(
            &server.addr,
            id,
            "attribuer",
            &elue,
            json!({"amount": "1000"}),
        );
        assert!(r.status == 200 || r.status == 409, "{}", r.body);
    }
    audit_is_intact(&db);
}

/// Starts the machine's PostgreSQL cluster again when the test ends, however it ends.
struct Cluster {
    version: String,
}

impl Cluster {
    fn ctl(&self, verb: &str) {
        let status = Command::new("pg_ctlcluster")
            .args(["--skip-systemctl-redirect", &self.version, "main", verb])
            .status()
            .expect("pg_ctlcluster");
        assert!(status.success(), "pg_ctlcluster {verb}");
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("pg_ctlcluster")
            .args(["--skip-systemctl-redirect", &self.version, "main", "start"])
            .status();
        for _ in 0..30 {
            let up = Command::new("pg_isready")
                .args(["-q", "-h", "127.0.0.1", "-p", "5432"])
                .status()
                .is_ok_and(|s| s.success());
            if up {
                break;
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    }
}

#[test]
fn postgresql_restarted_under_load_gives_503s_then_serves_again_without_restarting_metroplan() {
    let version = std::fs::read_dir("/etc/postgresql")
        .expect("this test restarts the machine's PostgreSQL cluster: /etc/postgresql")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .next()
        .expect("a PostgreSQL cluster");
    let base = std::env::var("METROPLAN_TEST_DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres"))
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".into());
    let dir = tempfile::tempdir().unwrap();
    let (db, _drop) = crate::server::postgres_database(&base);
    let cluster = Cluster { version };
    let server = Server::start(&db, dir.path(), OPEN);
    let asso = token(&db, "asso", "applicant");

    // One client files without a pause and notes every answer, with how long it took.
    let stop = Arc::new(AtomicUsize::new(0));
    let client = {
        let (addr, asso, stop) = (server.addr.clone(), asso.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut answers: Vec<(u16, Duration, Value)> = Vec::new();
            let mut i = 0;
            while stop.load(Ordering::SeqCst) == 0 {
                i += 1;
                let t = Instant::now();
                let r = file_one(&addr, &asso, &format!("9{i:013}")).expect("the server answers");
                answers.push((r.status, t.elapsed(), r.body));
                if r.status != 201 {
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
            answers
        })
    };
    std::thread::sleep(Duration::from_millis(700));
    cluster.ctl("stop");
    // Long enough that a request waits out the pool's 5 s and is answered 503.
    std::thread::sleep(Duration::from_secs(7));
    let health = request(&server.addr, "GET", "/healthz", None, &[], None).unwrap();
    assert_eq!(health.status, 503, "{}", health.body);
    cluster.ctl("start");
    // Served again: a filing goes through within 15 s of the database's return.
    let back = Instant::now();
    loop {
        let r = request(&server.addr, "GET", "/healthz", None, &[], None).unwrap();
        if r.status == 200 {
            break;
        }
        assert!(back.elapsed() < Duration::from_secs(15), "not back: {r:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(700));
    stop.store(1, Ordering::SeqCst);
    let answers = client.join().unwrap();

    let refused: Vec<_> = answers.iter().filter(|(s, ..)| *s != 201).collect();
    for (status, took, body) in &refused {
        assert_eq!(*status, 503, "{body}");
        let ty = body["type"].as_str().unwrap_or_default();
        assert!(
            ["/problems/busy", "/problems/database-unreachable"].contains(&ty),
            "{body}"
        );
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .contains("nothing was recorded"),
            "{body}"
        );
        assert!(*took < Duration::from_secs(8), "answered in {took:?}");
    }
    assert!(!refused.is_empty(), "the outage was felt");
    let last = answers.last().unwrap();
    assert_eq!(last.0, 201, "served again after the restart: {}", last.2);
    let filed: Vec<String> = answers
        .iter()
        .filter(|(s, ..)| *s == 201)
        .map(|(_, _, b)| b["id"].as_str().unwrap().to_string())
        .collect();
    all_present(&server.addr, &asso, &filed);
    println!(
        "postgresql restart: {} filings acknowledged, {} refused with 503 (slowest {:?})",
        filed.len(),
        refused.len(),
        refused.iter().map(|(_, t, _)| *t).max().unwrap()
    );
    drop(server);
    audit_is_intact(&db);
}

/// A tmpfs of `size`, unmounted when the test ends.
struct Mount {
    at: std::path::PathBuf,
}

impl Mount {
    fn tmpfs(at: &Path, size: &str) -> Mount {
        std::fs::create_dir_all(at).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .status()
            .expect("mount");
        assert!(
            status.success(),
            "this test mounts a small tmpfs to fill it: run it as root (CI does)"
        );
        Mount { at: at.into() }
    }

    fn remount(&self, mode: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,{mode}")])
            .arg(&self.at)
            .status()
            .expect("mount");
        assert!(status.success(), "remount {mode}");
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.at).status();
    }
}

#[test]
fn a_full_disk_refuses_filings_with_a_clear_503_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // Room for the schema and its write-ahead log with some to spare: on 3 MiB, since
    // migration 0010, filings still found the disk full after the filler was freed.
    let disk = Mount::tmpfs(&dir.path().join("disk"), "8m");
    let db = format!("sqlite://{}", disk.at.join("metroplan.db").display());
    let server = Server::start(&db, dir.path(), OPEN);
    let asso = token(&db, "asso", "applicant");
    let mut filed = Vec::new();
    for i in 0..5 {
        let r = file_one(&server.addr, &asso, &format!("7{i:013}")).unwrap();
        assert_eq!(r.status, 201, "{}", r.body);
        filed.push(r.body["id"].as_str().unwrap().to_string());
    }
    // Fill what is left of the disk.
    let filler = disk.at.join("filler");
    let _ = Command::new("dd")
        .args(["if=/dev/zero", "bs=64k"])
        .arg(format!("of={}", filler.display()))
        .stderr(std::process::Stdio::null())
        .status();
    // The WAL may still have room for a few: file until the disk says no.
    let mut full = None;
    for i in 0..500 {
        let r = file_one(&server.addr, &asso, &format!("71{i:012}")).unwrap();
        if r.status == 201 {
            filed.push(r.body["id"].as_str().unwrap().to_string());
        } else {
            full = Some(r);
            break;
        }
    }
    let full = full.expect("the disk filled up");
    assert_storage_problem(&full, "the disk is full");
    // More refusals, on more of the pool's connections.
    for i in 0..6 {
        let r = file_one(&server.addr, &asso, &format!("711{i:011}")).unwrap();
        assert_storage_problem(&r, "the disk is full");
    }
    // Reading still works.
    all_present(&server.addr, &asso, &filed);

    std::fs::remove_file(&filler).unwrap();
    // Every connection serves again: none is left believing it is inside a transaction that
    // SQLite rolled back on its own (regression: some filings were 500s after a full disk).
    for i in 0..16 {
        let r = file_one(&server.addr, &asso, &format!("72{i:012}")).unwrap();
        assert_eq!(
            r.status, 201,
            "served again once space is freed: {}",
            r.body
        );
        filed.push(r.body["id"].as_str().unwrap().to_string());
    }
    all_present(&server.addr, &asso, &filed);
    drop(server);
    audit_is_intact(&db);
}

/// A filesystem with files open for writing cannot be remounted read-only (EBUSY), so the
/// server is stopped first: it must then refuse to start, at once and saying why, rather than
/// retry its connections until a timeout.
#[test]
fn a_read_only_database_file_stops_the_server_at_start_with_the_reason_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let disk = Mount::tmpfs(&dir.path().join("disk"), "64m");
    let db = format!("sqlite://{}", disk.at.join("metroplan.db").display());
    let mut server = Server::start(&db, dir.path(), OPEN);
    let asso = token(&db, "asso", "applicant");
    let r = file_one(&server.addr, &asso, "73000000000000").unwrap();
    assert_eq!(r.status, 201, "{}", r.body);
    let first = r.body["id"].as_str().unwrap().to_string();
    assert!(server.terminate().success());

    disk.remount("ro");
    let started = Instant::now();
    let out = Command::new(metroplan())
        .current_dir(crate::repo())
        .args(["serve", "--plans", "plans", "--bind", "127.0.0.1:0"])
        .args(["--database", &db, "--now", OPEN])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{said}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "refused at once, not after retries: {:?}",
        started.elapsed()
    );
    assert!(
        said.contains("cannot write the database") && said.contains("Read-only file system"),
        "{said}"
    );

    disk.remount("rw");
    let server = Server::start(&db, dir.path(), OPEN);
    all_present(&server.addr, &asso, std::slice::from_ref(&first));
    let r = file_one(&server.addr, &asso, "73000000000002").unwrap();
    assert_eq!(r.status, 201, "served again once writable: {}", r.body);
    drop(server);
    audit_is_intact(&db);
}
