//! Time as real server processes carry it out: a server started after deadlines fires what
//! fell due once, in order, and two servers started together on one database never fire a
//! timer twice. SQLite file, or PostgreSQL when `METROPLAN_TEST_DATABASE_URL` is set.

use serde_json::{Value, json};

use crate::server::{FILE, OPEN, Server, application, database, request, token};

/// Files `n` applications without their pieces: each is incomplete, its deadline 16 March.
fn incomplete_files(addr: &str, db: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let asso = token(db, &format!("asso-{i}"), "applicant");
            let r = request(
                addr,
                "POST",
                FILE,
                Some(&asso),
                &[],
                Some(&json!({"data": application(&format!("812345678{i:05}"), 5000)})),
            )
            .unwrap();
            assert_eq!(r.status, 201, "{}", r.body);
            assert_eq!(r.body["state"], "incomplet", "{}", r.body);
            r.body["id"].as_str().unwrap().to_string()
        })
        .collect()
}

fn events(addr: &str, id: &str, token: &str) -> Vec<Value> {
    let r = request(
        addr,
        "GET",
        &format!("/api/applications/{id}/events"),
        Some(token),
        &[],
        None,
    )
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    r.body.as_array().cloned().unwrap_or_default()
}

fn count(events: &[Value], action: &str) -> usize {
    events.iter().filter(|e| e["action"] == action).count()
}

const LATER: &str = "2021-04-01T09:00:00+02:00";

#[test]
fn a_server_started_after_a_deadline_fires_it_once_when_it_starts() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _drop) = database(dir.path());
    let mut first = Server::start(&db, dir.path(), OPEN);
    let ids = incomplete_files(&first.addr, &db, 2);
    assert!(first.terminate().success());
    // Stopped over the deadline: the next start catches up before it listens.
    let again = Server::start(&db, dir.path(), LATER);
    let instr = token(&db, "instr", "instructor");
    for id in &ids {
        let ev = events(&again.addr, id, &instr);
        assert_eq!(count(&ev, "classer-a-echeance"), 1, "{ev:?}");
        // Its reminder would announce a deadline already past: it is not sent.
        assert_eq!(count(&ev, "reminder:relance-completude"), 0, "{ev:?}");
        let last = ev.last().unwrap();
        assert_eq!(last["to_state"], "sans-suite", "{last}");
        assert_eq!(last["role"], "system", "{last}");
    }
}

#[test]
fn two_server_processes_started_after_the_deadlines_fire_each_timer_once() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _drop) = database(dir.path());
    let mut first = Server::start(&db, dir.path(), OPEN);
    let ids = incomplete_files(&first.addr, &db, 8);
    assert!(first.terminate().success());
    let starts: Vec<_> = (0..2)
        .map(|_| {
            let (db, path) = (db.clone(), dir.path().to_path_buf());
            std::thread::spawn(move || {
                Server::start_args(
                    &db,
                    &path,
                    LATER,
                    &crate::repo().join("plans"),
                    &["--timer-interval", "1"],
                )
            })
        })
        .collect();
    let servers: Vec<Server> = starts.into_iter().map(|h| h.join().unwrap()).collect();
    // Both run their loops for a while on the same database.
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let instr = token(&db, "instr", "instructor");
    for id in &ids {
        let ev = events(&servers[1].addr, id, &instr);
        assert_eq!(count(&ev, "classer-a-echeance"), 1, "{ev:?}");
    }
}
