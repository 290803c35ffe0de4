//! `audit verify` finds any edited, deleted or reordered event.

use metroplan_engine::model::RoleKind;
use metroplan_server::audit::{Break, verify};

use crate::support::*;

async fn trail() -> Env {
    let env = Env::new("2021-03-01T10:00:00+01:00").await;
    let asso = env.token("asso", RoleKind::Applicant).await;
    env.eligible(&asso, application()).await;
    assert!(verify(&env.db).await.unwrap().is_ok());
    env
}

async fn exec(env: &Env, sql: &str) {
    sqlx::query(sql).execute(&env.db.pool).await.unwrap();
}

#[tokio::test]
async fn an_edited_event_is_detected() {
    let env = trail().await;
    exec(&env, "UPDATE events SET actor = 'quelqu-un' WHERE seq = 3").await;
    assert_eq!(
        verify(&env.db).await.unwrap(),
        Err(Break::Edited { seq: 3 })
    );
}

#[tokio::test]
async fn a_deleted_event_is_detected() {
    let env = trail().await;
    exec(&env, "DELETE FROM events WHERE seq = 4").await;
    assert_eq!(
        verify(&env.db).await.unwrap(),
        Err(Break::Unlinked {
            seq: 5,
            previous: 3
        })
    );
}

#[tokio::test]
async fn a_deleted_last_event_is_detected_by_the_head() {
    let env = trail().await;
    exec(
        &env,
        "DELETE FROM events WHERE seq = (SELECT MAX(seq) FROM events)",
    )
    .await;
    assert!(matches!(
        verify(&env.db).await.unwrap(),
        Err(Break::Head { .. })
    ));
}

#[tokio::test]
async fn reordered_events_are_detected() {
    let env = trail().await;
    // Swap the contents of two rows, hashes included.
    exec(&env, "UPDATE events SET seq = -1 WHERE seq = 2").await;
    exec(&env, "UPDATE events SET seq = 2 WHERE seq = 3").await;
    exec(&env, "UPDATE events SET seq = 3 WHERE seq = -1").await;
    assert!(matches!(
        verify(&env.db).await.unwrap(),
        Err(Break::Unlinked { seq: 2, .. })
    ));
}
