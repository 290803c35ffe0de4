//! Load generator for `metroplan serve`: starts the release server on a fresh database, then
//! measures filings (JSON, eligibility, audit) and approvals (envelope check) over keep-alive
//! HTTP/1.1 connections, at saturation (closed loop) and at a fixed offered rate (open loop,
//! latency counted from when each request was due, so a slow server cannot hide its queue).
//!
//! ```text
//! cargo build --release -p metroplan
//! cargo run --release -p metroplan --example load -- [--database URL] [--seconds N]
//!     [--audit-interval S]
//! ```
//! `--audit-interval S` starts the server with signed audit checkpoints (a new key), every S
//! seconds or, with 0, after every change: the cost of checkpoints per filing.
//! Reports throughput, latency percentiles, the server's RSS idle and after the filings, and
//! the envelope's committed total against the envelope.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader as TokioBufReader};
use tokio::net::TcpStream;

const FILE: &str = "/api/plans/amp-pmlcd/funds/fonds-initiative/applications";

struct Conn {
    r: TokioBufReader<tokio::net::tcp::OwnedReadHalf>,
    w: tokio::net::tcp::OwnedWriteHalf,
}

impl Conn {
    async fn open(addr: &str) -> Conn {
        let s = TcpStream::connect(addr).await.expect("connect");
        s.set_nodelay(true).ok();
        let (r, w) = s.into_split();
        Conn {
            r: TokioBufReader::new(r),
            w,
        }
    }

    /// One request on the kept-alive connection: (status, etag, body).
    async fn send(
        &mut self,
        method: &str,
        path: &str,
        extra: &str,
        body: &str,
    ) -> (u16, Option<String>, String) {
        let ct = if extra.contains("Content-Type") {
            ""
        } else {
            "Content-Type: application/json\r\n"
        };
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: load\r\n{ct}Content-Length: {}\r\n{extra}\r\n{body}",
            body.len()
        );
        self.w.write_all(req.as_bytes()).await.expect("write");
        let mut line = String::new();
        self.r.read_line(&mut line).await.expect("status line");
        let status = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let mut len = 0usize;
        let mut etag = None;
        loop {
            line.clear();
            self.r.read_line(&mut line).await.expect("header");
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let lower = l.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                len = v.trim().parse().unwrap_or(0);
            } else if lower.starts_with("etag:") {
                etag = Some(l[5..].trim().to_string());
            }
        }
        let mut buf = vec![0u8; len];
        self.r.read_exact(&mut buf).await.expect("body");
        (status, etag, String::from_utf8_lossy(&buf).into_owned())
    }
}

fn application(n: u64, amount: u32) -> Value {
    let text = std::fs::read_to_string(
        repo().join("server/tests/fixtures/association-vitrolles-2021.json"),
    )
    .unwrap();
    let mut a: Value = serde_json::from_str(&text).unwrap();
    a["applicant"]["siret"] = json!(format!("9{n:013}"));
    a["project"]["requested_amount"] = json!(amount);
    a["project"]["total_cost"] = json!(amount * 2);
    a
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().join("metroplan")
}

fn token(db: &str, name: &str, role: &str) -> String {
    let out = Command::new(bin())
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
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

struct Stats {
    lat_us: Vec<u64>,
    elapsed: Duration,
    errors: u64,
}

impl Stats {
    fn report(&mut self, name: &str) {
        self.lat_us.sort_unstable();
        let n = self.lat_us.len();
        let p = |q: f64| {
            self.lat_us
                .get(((n as f64 * q) as usize).min(n.saturating_sub(1)))
                .copied()
                .unwrap_or(0) as f64
                / 1000.0
        };
        println!(
            "{name}: {n} requests in {:.2} s = {:.0} req/s; latency ms p50 {:.2} p90 {:.2} p99 {:.2} max {:.2}; errors {}",
            self.elapsed.as_secs_f64(),
            n as f64 / self.elapsed.as_secs_f64(),
            p(0.5),
            p(0.9),
            p(0.99),
            p(1.0),
            self.errors
        );
    }
}

type Task = tokio::task::JoinHandle<(Vec<u64>, u64)>;

/// The latencies and errors of every connection's task.
async fn gather(tasks: Vec<Task>, start: Instant) -> Stats {
    let mut s = Stats {
        lat_us: Vec::new(),
        elapsed: Duration::ZERO,
        errors: 0,
    };
    for t in tasks {
        let (l, e) = t.await.unwrap();
        s.lat_us.extend(l);
        s.errors += e;
    }
    s.elapsed = start.elapsed();
    s
}

/// Closed loop: `conns` connections, each sending as soon as the previous answer arrives,
/// for `seconds` or `limit` requests, whichever comes first.
async fn saturate<F>(addr: &str, conns: usize, seconds: u64, limit: u64, next: Arc<F>) -> Stats
where
    F: Fn(u64) -> (String, String, String, String, u16) + Send + Sync + 'static,
{
    let counter = Arc::new(AtomicU64::new(0));
    let stop = Instant::now() + Duration::from_secs(seconds);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..conns {
        let (addr, counter, next) = (addr.to_string(), counter.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut c = Conn::open(&addr).await;
            let (mut lat, mut errors) = (Vec::new(), 0u64);
            while Instant::now() < stop {
                let i = counter.fetch_add(1, Ordering::Relaxed);
                if i >= limit {
                    break;
                }
                let (method, path, headers, body, want) = next(i);
                let t = Instant::now();
                let (status, _, _) = c.send(&method, &path, &headers, &body).await;
                lat.push(t.elapsed().as_micros() as u64);
                if status != want {
                    errors += 1;
                }
            }
            (lat, errors)
        }));
    }
    gather(tasks, start).await
}

/// Open loop: `rate` requests per second spread over `conns` connections; latency from the
/// moment each request was due.
async fn offered<F>(addr: &str, conns: usize, rate: u64, seconds: u64, next: Arc<F>) -> Stats
where
    F: Fn(u64) -> (String, String, String, String, u16) + Send + Sync + 'static,
{
    let total = rate * seconds;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for k in 0..conns as u64 {
        let (addr, next) = (addr.to_string(), next.clone());
        let conns = conns as u64;
        tasks.push(tokio::spawn(async move {
            let mut c = Conn::open(&addr).await;
            let (mut lat, mut errors) = (Vec::new(), 0u64);
            let mut i = k;
            while i < total {
                let due = start + Duration::from_nanos(i * 1_000_000_000 / rate);
                tokio::time::sleep_until(due.into()).await;
                let (method, path, headers, body, want) = next(i);
                let (status, _, _) = c.send(&method, &path, &headers, &body).await;
                lat.push(due.elapsed().as_micros() as u64);
                if status != want {
                    errors += 1;
                }
                i += conns;
            }
            (lat, errors)
        }));
    }
    gather(tasks, start).await
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let seconds: u64 = arg("--seconds").and_then(|s| s.parse().ok()).unwrap_or(10);
    let conns: usize = arg("--connections")
        .and_then(|s| s.parse().ok())
        .unwrap_or(32);
    let rate: u64 = arg("--rate").and_then(|s| s.parse().ok()).unwrap_or(1000);
    let target: u64 = arg("--applications")
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap();
    let db = arg("--database")
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("load.db").display()));
    // Tokens before the server starts, so that the migrations run once.
    let asso = token(&db, "asso", "applicant");
    let elue = token(&db, "elue", "approver");
    let checkpoints = dir.path().join("checkpoints.jsonl");
    let audit: Vec<String> = match arg("--audit-interval") {
        Some(every) => {
            let key = dir.path().join("audit.key");
            let made = Command::new(bin())
                .args(["audit", "keygen", "--key"])
                .arg(&key)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("audit keygen");
            assert!(made.success(), "audit keygen");
            vec![
                "--audit-key".into(),
                key.display().to_string(),
                "--audit-checkpoints".into(),
                checkpoints.display().to_string(),
                "--audit-interval".into(),
                every,
            ]
        }
        None => Vec::new(),
    };
    let mut child = Command::new(bin())
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
            // Every connection of the load comes from this one address.
            "--max-connections-per-address",
            &(conns + 16).to_string(),
        ])
        .args(&audit)
        .env("METROPLAN_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the release server (cargo build --release -p metroplan)");
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .trim_start_matches("metroplan: listening on http://")
        .to_string();
    let pid = child.id();
    tokio::time::sleep(Duration::from_millis(300)).await;
    println!(
        "database: {}",
        if db.starts_with("sqlite") {
            "SQLite file"
        } else {
            "PostgreSQL"
        }
    );
    println!("server RSS idle: {} MiB", rss_kib(pid) / 1024);

    let seq = Arc::new(AtomicU64::new(0));
    let filing = {
        let (asso, seq) = (asso.clone(), seq.clone());
        Arc::new(move |_: u64| {
            let n = seq.fetch_add(1, Ordering::Relaxed);
            let body = json!({"data": application(n, 5000)}).to_string();
            (
                "POST".to_string(),
                FILE.to_string(),
                format!("Authorization: Bearer {asso}\r\n"),
                body,
                201u16,
            )
        })
    };
    let mut s = saturate(&addr, conns, seconds, u64::MAX, filing.clone()).await;
    s.report(&format!("filing, saturation ({conns} connections)"));
    let mut s = offered(&addr, conns, rate, seconds, filing.clone()).await;
    s.report(&format!("filing, {rate} req/s offered"));

    let n_approve: u64 = arg("--approvals")
        .and_then(|s| s.parse().ok())
        .unwrap_or(4000);
    let prepared = Arc::new(prepare(&addr, &db, n_approve, conns).await);
    let approve = {
        let (elue, prepared) = (elue.clone(), prepared.clone());
        Arc::new(move |i: u64| {
            let (id, etag) = &prepared[i as usize];
            (
                "POST".to_string(),
                format!("/api/applications/{id}/actions/attribuer"),
                format!("Authorization: Bearer {elue}\r\nIf-Match: {etag}\r\n"),
                json!({"amount": "1"}).to_string(),
                200u16,
            )
        })
    };
    let mut s = saturate(&addr, conns, 600, prepared.len() as u64, approve).await;
    s.report("approval (envelope check, 1 € each), saturation");
    let (_, _, body) = Conn::open(&addr)
        .await
        .send(
            "GET",
            "/api/plans/amp-pmlcd/funds/fonds-initiative/envelope?year=2021",
            &format!("Authorization: Bearer {elue}\r\n"),
            "",
        )
        .await;
    let e: Value = serde_json::from_str(&body).unwrap();
    println!(
        "envelope 2021: {} €, committed {} €",
        e["envelope"], e["committed"]
    );

    // Fill to `target` applications for the memory figure.
    let have = seq.load(Ordering::Relaxed);
    if have < target {
        let mut s = saturate(&addr, conns, 3600, target - have, filing.clone()).await;
        s.report("filing, fill");
    }
    println!(
        "server RSS after {} applications: {} MiB",
        seq.load(Ordering::Relaxed),
        rss_kib(pid) / 1024
    );
    if !audit.is_empty() {
        let lines = std::fs::read_to_string(&checkpoints).unwrap_or_default();
        println!("audit checkpoints written: {}", lines.lines().count());
    }
    child.kill().ok();
    child.wait().ok();
}

fn version_tag(body: &str) -> String {
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    format!("\"v{}\"", v["version"].as_i64().unwrap_or(0))
}

/// Applications brought to the decision (pieces uploaded, two opinions), with their ETags.
async fn prepare(addr: &str, db: &str, n: u64, conns: usize) -> Vec<(String, String)> {
    let instr = token(db, "instr", "instructor");
    let r1 = token(db, "r1", "reviewer");
    let r2 = token(db, "r2", "reviewer");
    let owner = token(db, "asso-decide", "applicant");
    let counter = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..conns {
        let (addr, counter) = (addr.to_string(), counter.clone());
        let (instr, r1, r2, owner) = (instr.clone(), r1.clone(), r2.clone(), owner.clone());
        tasks.push(tokio::spawn(async move {
            let mut c = Conn::open(&addr).await;
            let mut out = Vec::new();
            loop {
                let i = counter.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return out;
                }
                let auth = |t: &str| format!("Authorization: Bearer {t}\r\n");
                let body = json!({"data": application(5_000_000_000 + i, 5000)}).to_string();
                let (st, _, b) = c.send("POST", FILE, &auth(&owner), &body).await;
                assert_eq!(st, 201, "{b}");
                let id = serde_json::from_str::<Value>(&b).unwrap()["id"].as_str().unwrap().to_string();
                for kind in ["budget_previsionnel", "rib", "statuts", "attestation_regularite"] {
                    let part = "--XbX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.pdf\"\r\n\r\n%PDF-1.4\n%%EOF\n\r\n--XbX--\r\n";
                    let (st, _, b) = c
                        .send("POST", &format!("/api/applications/{id}/documents/{kind}"), &format!("{}Content-Type: multipart/form-data; boundary=XbX\r\n", auth(&owner)), part)
                        .await;
                    assert_eq!(st, 200, "{b}");
                }
                let mut etag = version_tag(&c.send("GET", &format!("/api/applications/{id}"), &auth(&owner), "").await.2);
                for (action, who, body) in [
                    ("completer", &owner, json!({})),
                    ("soumettre-au-comite", &instr, json!({})),
                    ("donner-avis", &r1, json!({"linked": false, "favourable": true, "opinion": "ok"})),
                    ("donner-avis", &r2, json!({"linked": false, "favourable": true, "opinion": "ok"})),
                    ("proposer-decision", &instr, json!({"amount": "1000"})),
                ] {
                    let (st, _, b) = c
                        .send("POST", &format!("/api/applications/{id}/actions/{action}"), &format!("{}If-Match: {etag}\r\n", auth(who)), &body.to_string())
                        .await;
                    assert_eq!(st, 200, "{action}: {b}");
                    etag = version_tag(&b);
                }
                out.push((id, etag));
            }
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all
}
