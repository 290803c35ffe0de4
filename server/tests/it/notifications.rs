//! Every state change that concerns the applicant is queued with it and sent once by email,
//! to a local SMTP sink this test runs.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use metroplan_engine::model::RoleKind;
use metroplan_server::notify;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use crate::support::*;

/// A minimal SMTP server that keeps every message's data; it refuses the first `fail`
/// messages with a temporary error.
async fn sink(fail: usize) -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let got = Arc::new(Mutex::new(Vec::new()));
    let seen = got.clone();
    let failures = Arc::new(Mutex::new(fail));
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let seen = seen.clone();
            let failures = failures.clone();
            tokio::spawn(async move {
                let (r, mut w) = stream.into_split();
                let mut lines = BufReader::new(r).lines();
                w.write_all(b"220 sink ESMTP\r\n").await.ok();
                let mut data: Option<String> = None;
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(d) = data.as_mut() {
                        if line == "." {
                            let msg = data.take().unwrap();
                            let refuse = {
                                let mut f = failures.lock().unwrap();
                                if *f > 0 {
                                    *f -= 1;
                                    true
                                } else {
                                    false
                                }
                            };
                            if refuse {
                                w.write_all(b"451 try again later\r\n").await.ok();
                            } else {
                                seen.lock().unwrap().push(msg);
                                w.write_all(b"250 queued\r\n").await.ok();
                            }
                        } else {
                            d.push_str(&line);
                            d.push('\n');
                        }
                        continue;
                    }
                    let verb = line
                        .split_whitespace()
                        .next()
                        .unwrap_or("")
                        .to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" | "HELO" => b"250 sink\r\n",
                        "DATA" => {
                            data = Some(String::new());
                            b"354 go on\r\n"
                        }
                        "QUIT" => {
                            w.write_all(b"221 bye\r\n").await.ok();
                            return;
                        }
                        _ => b"250 ok\r\n",
                    };
                    w.write_all(reply).await.ok();
                }
            });
        }
    });
    (port, got)
}

#[tokio::test]
async fn state_changes_reach_the_applicant_by_email_once_even_after_a_refused_attempt() {
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
    // depose → incomplet, incomplet → depose → en-instruction: 4 changes of state.
    let (port, got) = sink(1).await;
    let (stop, rx) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(notify::run(
        env.db.clone(),
        notify::Mailer {
            smtp: format!("smtp://127.0.0.1:{port}"),
            from: "metroplan <noreply@metroplan.example>".into(),
        },
        env.state.ctx.clock,
        env.metrics.clone(),
        rx,
    ));
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while got.lock().unwrap().len() < 4 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Wait a little more: a duplicate would show up now.
    tokio::time::sleep(Duration::from_millis(600)).await;
    stop.send(true).unwrap();
    worker.await.unwrap();
    let got = got.lock().unwrap().clone();
    assert_eq!(got.len(), 4, "{got:#?}");
    assert!(got.iter().any(|m| m.contains("contact@asso.example")));
    assert!(
        got.iter()
            .any(|m| m.contains("au plus tard le 16 mars 2021.")),
        "{got:#?}"
    );
    let pending: i64 = sqlx::Row::get(
        &sqlx::query("SELECT COUNT(*) AS n FROM outbox WHERE sent_at IS NULL")
            .fetch_one(&env.db.pool)
            .await
            .unwrap(),
        "n",
    );
    assert_eq!(pending, 0);
}
