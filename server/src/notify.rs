//! Notifications: queued in the outbox in the transaction that changes the application, sent
//! by a background worker over SMTP. A message is claimed before it is sent and marked sent
//! after, with a stable `Message-ID`, so retries never produce a second message for one
//! change (a relay that saw the first attempt recognizes the id). Over TLS the relay's
//! certificate is always checked: a failure leaves the message queued with its error, so a
//! message asked to go encrypted never goes in clear.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context as _;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sqlx::Row;

use crate::clock::{Clock, stamp};
use crate::metrics::Metrics;
use crate::store::Db;

/// Queues a message in the caller's transaction; `application_id` is `None` for a message
/// about the account (a link to confirm an address or to reset a password).
pub async fn queue(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    application_id: Option<&str>,
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

/// How the worker reaches the relay, from `--smtp` (and `--smtp-ca`), checked at start.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// The URL without its password, for log lines.
    relay: String,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("relay", &self.relay)
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

/// What `--smtp` asks of the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Security {
    /// `smtp://`: in clear, for a relay on the same machine or a trusted network.
    Plain,
    /// `smtp://…?tls=required`: STARTTLS, and no message if the relay does not offer it.
    StartTls,
    /// `smtps://`: TLS from the first byte.
    Implicit,
}

impl Mailer {
    /// `url` is `smtp://[user:password@]host[:port]` (plain, port 25),
    /// `smtp://…?tls=required` (STARTTLS, port 587) or `smtps://…` (implicit TLS, port 465);
    /// `ca` is a PEM file of certificates trusted besides the system's roots.
    pub fn new(url: &str, ca: Option<&Path>, from: &str) -> anyhow::Result<Mailer> {
        let relay = redact(url);
        let (security, host) = security(url).with_context(|| format!("--smtp {relay}"))?;
        let from: Mailbox = from
            .parse()
            .with_context(|| format!("--mail-from {from:?}: not an email address"))?;
        // lettre reads the host, port, credentials (percent-decoded) and EHLO name; the TLS
        // parameters are replaced below, to trust `--smtp-ca` as well.
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .with_context(|| format!("--smtp {relay}"))?
            .timeout(Some(Duration::from_secs(10)));
        match (security, ca) {
            (Security::Plain, Some(ca)) => anyhow::bail!(
                "--smtp-ca {}: the relay {relay} is reached in clear; use smtps:// or ?tls=required",
                ca.display()
            ),
            (Security::Plain, None) => {
                // A password sent in clear crosses the network readable by anyone on the way;
                // a relay on this machine is the one place plain SMTP may take credentials.
                let parsed = url::Url::parse(url).with_context(|| format!("--smtp {relay}"))?;
                let loopback = match parsed.host() {
                    // A non-special scheme's host is opaque, an IPv4 address included.
                    Some(url::Host::Domain(d)) => {
                        d == "localhost"
                            || d.parse::<std::net::IpAddr>().is_ok_and(|a| a.is_loopback())
                    }
                    Some(url::Host::Ipv4(a)) => a.is_loopback(),
                    Some(url::Host::Ipv6(a)) => a.is_loopback(),
                    None => false,
                };
                if (!parsed.username().is_empty() || parsed.password().is_some()) && !loopback {
                    anyhow::bail!(
                        "--smtp {relay}: credentials would cross the network in clear; use smtps:// or ?tls=required"
                    );
                }
            }
            (Security::StartTls | Security::Implicit, ca) => {
                let mut params = TlsParameters::builder(host);
                if let Some(ca) = ca {
                    let pem =
                        std::fs::read(ca).with_context(|| format!("--smtp-ca {}", ca.display()))?;
                    // A PEM without certificates parses as an empty list: trusting nothing
                    // more would hide a wrong file until the first message.
                    if !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
                        anyhow::bail!("--smtp-ca {}: no PEM certificate in it", ca.display());
                    }
                    let cert = Certificate::from_pem(&pem)
                        .with_context(|| format!("--smtp-ca {}", ca.display()))?;
                    params = params.add_root_certificate(cert);
                }
                let params = params
                    .build_rustls()
                    .with_context(|| format!("--smtp {relay}: TLS parameters"))?;
                builder = builder.tls(if security == Security::Implicit {
                    Tls::Wrapper(params)
                } else {
                    Tls::Required(params)
                });
            }
        }
        Ok(Mailer {
            transport: builder.build(),
            from,
            relay,
        })
    }

    /// The relay's URL without its password.
    pub fn relay(&self) -> &str {
        &self.relay
    }
}

/// The URL with its password replaced by `***`, for log lines and error messages; a URL that
/// does not parse is not repeated at all, since where its password ends is unknown.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            u.to_string()
        }
        Err(_) => "(an address that does not parse as a URL)".into(),
    }
}

/// The security `--smtp` asks for and the host the certificate must name. Anything lettre
/// would also accept but that may fall back to clear text (`?tls=opportunistic`) is refused.
fn security(url: &str) -> anyhow::Result<(Security, String)> {
    let u = url::Url::parse(url).map_err(|e| {
        anyhow::anyhow!(
            "{e}; use smtp://HOST:PORT, smtp://HOST:PORT?tls=required or smtps://HOST:PORT"
        )
    })?;
    let mut tls = None;
    for (k, v) in u.query_pairs() {
        match (&*k, &*v) {
            ("tls", "required") if tls.is_none() => tls = Some(()),
            _ => anyhow::bail!(
                "unknown parameter {k}={v}: the only one is tls=required (STARTTLS, never in clear)"
            ),
        }
    }
    let security = match (u.scheme(), tls) {
        ("smtp", None) => Security::Plain,
        ("smtp", Some(())) => Security::StartTls,
        ("smtps", None) => Security::Implicit,
        ("smtps", Some(())) => anyhow::bail!("smtps:// is TLS already: drop ?tls=required"),
        (scheme, _) => anyhow::bail!("unknown scheme {scheme}://: use smtp:// or smtps://"),
    };
    let host = match u.host() {
        Some(url::Host::Domain(d)) if !d.is_empty() => d.to_string(),
        Some(url::Host::Ipv4(ip)) => ip.to_string(),
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        _ => anyhow::bail!("no host"),
    };
    Ok((security, host))
}

/// Sends what the outbox holds until the server stops.
pub async fn run(
    db: Db,
    mailer: Mailer,
    clock: Clock,
    metrics: Arc<Metrics>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    tracing::info!(relay = %mailer.relay, "sending notifications");
    loop {
        let sent = match send_due(&db, &mailer, &clock, &metrics).await {
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

async fn send_due(
    db: &Db,
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
                .from(mailer.from.clone())
                .to(recipient.parse()?)
                .subject(subject)
                .message_id(Some(format!("<{id}@metroplan>")))
                .header(ContentType::TEXT_PLAIN)
                .body(body)?;
            mailer.transport.send(msg).await?;
            anyhow::Ok(())
        }
        .await;
        match result {
            Ok(()) => {
                // An account message holds a link's secret: once sent, the database need not keep it.
                sqlx::query("UPDATE outbox SET sent_at = $1, last_error = NULL, body = CASE WHEN application_id IS NULL THEN '(envoyé ; le texte n''est pas conservé)' ELSE body END WHERE id = $2")
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
