//! Clients that hold connections: the server closes a connection whose request head does not
//! arrive in time, and one address holds at most so many connections at once (security
//! review: a client sending one header line every 5 s was still connected after 45 s, and
//! 1 100 of them exhausted the open files for everyone).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::repo;
use crate::server::{OPEN, Server, database, request};

/// Whether the server closed `s` (read gives the end, after any answer it sent first).
fn closed_by_server(s: &mut TcpStream, within: Duration) -> bool {
    s.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

#[test]
fn a_client_trickling_headers_is_disconnected_at_the_header_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _drop) = database(dir.path());
    let server = Server::start_args(
        &db,
        dir.path(),
        OPEN,
        &repo().join("plans"),
        &["--header-timeout", "2"],
    );
    let mut s = TcpStream::connect(&server.addr).unwrap();
    s.write_all(b"GET /api/plans HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let start = Instant::now();
    let mut dropped = false;
    // One header line a second, as a slowloris client does, for up to 10 s.
    for i in 0..10 {
        if s.write_all(format!("X-Lent-{i}: a\r\n").as_bytes())
            .is_err()
            || closed_by_server(&mut s, Duration::from_secs(1))
        {
            dropped = true;
            break;
        }
    }
    let after = start.elapsed();
    assert!(dropped, "still connected after {after:?}");
    assert!(
        after < Duration::from_secs(6),
        "closed only after {after:?}"
    );
    // A client that sends its request at once is served.
    let r = request(&server.addr, "GET", "/api/plans", None, &[], None).expect("an answer");
    assert_eq!(r.status, 200);
}

#[test]
fn one_address_holds_at_most_its_connections() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _drop) = database(dir.path());
    let server = Server::start_args(
        &db,
        dir.path(),
        OPEN,
        &repo().join("plans"),
        &[
            "--max-connections-per-address",
            "3",
            "--header-timeout",
            "60",
        ],
    );
    let mut held: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(&server.addr).unwrap())
        .collect();
    // Each of the three is accepted and waits for its request.
    std::thread::sleep(Duration::from_millis(300));
    for s in &mut held {
        assert!(
            !closed_by_server(s, Duration::from_millis(200)),
            "a held connection was closed"
        );
    }
    let mut fourth = TcpStream::connect(&server.addr).unwrap();
    assert!(
        closed_by_server(&mut fourth, Duration::from_secs(3)),
        "a fourth connection from the same address is closed"
    );
    assert!(
        request(&server.addr, "GET", "/api/plans", None, &[], None).is_none(),
        "no request gets through while the address holds its three"
    );
    // One is given back: the next request is served.
    drop(held.pop());
    std::thread::sleep(Duration::from_millis(300));
    let r = request(&server.addr, "GET", "/api/plans", None, &[], None).expect("an answer");
    assert_eq!(r.status, 200);
}
