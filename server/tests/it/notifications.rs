//! Every state change that concerns the applicant is queued with it and sent once by email,
//! to a real SMTP server (aiosmtpd, `tests/fixtures/smtp/relay.py`) this test runs.

use std::time::Duration;

use metroplan_server::notify::Mailer;

use crate::smtp_tls::{Relay, four_queued, run_worker};

#[tokio::test]
async fn state_changes_reach_the_applicant_by_email_once_even_after_a_refused_attempt() {
    // depose → incomplet, incomplet → depose → en-instruction: 4 changes of state.
    let env = four_queued().await;
    let relay = Relay::start("plain", None, 1).await;
    let mailer = Mailer::new(
        &format!("smtp://127.0.0.1:{}", relay.port),
        None,
        "metroplan <noreply@metroplan.example>",
    )
    .unwrap();
    run_worker(&env, mailer, &relay, 4, Duration::from_secs(20)).await;
    let got: Vec<String> = relay
        .messages()
        .iter()
        .map(|m| m["data"].as_str().unwrap().to_string())
        .collect();
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
