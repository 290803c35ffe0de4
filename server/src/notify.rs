//! Notifications: queued in the outbox in the transaction that changes the application, sent
//! by a background worker over SMTP. A message is claimed before it is sent and marked sent
//! after, with a stable `Message-ID`, so retries never produce a second message for one
//! change (a relay that saw the first attempt recognizes the id).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sqlx::Row;

use crate::clock::{Clock, stamp};
use crate::metrics::Metrics;
use crate::store::Db;

/// Queues a message in the caller's transaction.
pub async fn queue(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    application_id: &str,
    recipient: &str,
    subject: &str,
    body: &str,
    now: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO outbox (id, application_id, recipient, subject, body, created_at, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
    )
    .bind(crate::tokens::random_hex(12))
    .bind(application_id)
    .bind(recipient)
    .bind(subject)
    .bind(body)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[derive(Debug, Clone)]
pub struct Mailer {
    pub smtp: String,
    pub from: String,
}

/// Sends what the outbox holds until the server stops.
pub async fn run(
    db: Db,
    mailer: Mailer,
    clock: Clock,
    metrics: Arc<Metrics>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let transport = match transport(&mailer.smtp) {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(smtp = %mailer.smtp, error = %e, "notifications disabled: bad SMTP address");
            return;
        }
    };
    loop {
        let sent = match send_due(&db, &transport, &mailer, &clock, &metrics).await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "outbox: database error");
                0
            }
        };
        if sent == 0 {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                _ = stop.changed() => return,
            }
        }
    }
}

fn transport(url: &str) -> anyhow::Result<AsyncSmtpTransport<Tokio1Executor>> {
    let rest = url
        .strip_prefix("smtp://")
        .ok_or_else(|| anyhow::anyhow!("use smtp://HOST:PORT"))?;
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (h.to_string(), p.parse::<u16>()?),
        None => (rest.to_string(), 25),
    };
    Ok(
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(port)
            .timeout(Some(Duration::from_secs(10)))
            .build(),
    )
}

async fn send_due(
    db: &Db,
    transport: &AsyncSmtpTransport<Tokio1Executor>,
    mailer: &Mailer,
    clock: &Clock,
    metrics: &Metrics,
) -> anyhow::Result<usize> {
    let now = clock.now();
    let rows = sqlx::query(
        "SELECT id, recipient, subject, body, attempts, next_attempt_at FROM outbox WHERE sent_at IS NULL AND next_attempt_at <= $1 ORDER BY created_at LIMIT 20",
    )
    .bind(stamp(now))
    .fetch_all(&db.pool)
    .await?;
    let mut sent = 0;
    for r in rows {
        let id: String = r.try_get("id")?;
        let attempts: i64 = r.try_get("attempts")?;
        let due: String = r.try_get("next_attempt_at")?;
        // Claim: push the next attempt past the time a send may take; another worker (or
        // server) skips it, and if this one dies the message is retried after the lease.
        let lease = stamp(now + jiff::SignedDuration::from_secs(60));
        let claimed = sqlx::query(
            "UPDATE outbox SET next_attempt_at = $1, attempts = attempts + 1 WHERE id = $2 AND next_attempt_at = $3 AND sent_at IS NULL",
        )
        .bind(&lease)
        .bind(&id)
        .bind(&due)
        .execute(&db.pool)
        .await?
        .rows_affected();
        if claimed != 1 {
            continue;
        }
        let recipient: String = r.try_get("recipient")?;
        let subject: String = r.try_get("subject")?;
        let body: String = r.try_get("body")?;
        let result = async {
            let msg = Message::builder()
                .from(mailer.from.parse()?)
                .to(recipient.parse()?)
                .subject(subject)
                .message_id(Some(format!("<{id}@metroplan>")))
                .header(ContentType::TEXT_PLAIN)
                .body(body)?;
            transport.send(msg).await?;
            anyhow::Ok(())
        }
        .await;
        match result {
            Ok(()) => {
                sqlx::query("UPDATE outbox SET sent_at = $1, last_error = NULL WHERE id = $2")
                    .bind(stamp(clock.now()))
                    .bind(&id)
                    .execute(&db.pool)
                    .await?;
                metrics.notifications_sent.fetch_add(1, Ordering::Relaxed);
                sent += 1;
            }
            Err(e) => {
                // Back off: 2 s, 4 s, 8 s … up to an hour.
                let wait = 2i64.saturating_pow((attempts + 1).min(11) as u32).min(3600);
                sqlx::query(
                    "UPDATE outbox SET next_attempt_at = $1, last_error = $2 WHERE id = $3",
                )
                .bind(stamp(clock.now() + jiff::SignedDuration::from_secs(wait)))
                .bind(e.to_string())
                .bind(&id)
                .execute(&db.pool)
                .await?;
                metrics
                    .notification_failures
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!(outbox = %id, error = %e, retry_in_s = wait, "notification not sent");
            }
        }
    }
    Ok(sent)
}
