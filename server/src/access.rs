//! Access that ends: a bearer token revoked, an account disabled (and enabled again). The
//! rows stay, since the audit trail names them; each change is an event of the trail. A
//! disabled account's sessions end at once and its tokens are revoked with it; enabling it
//! again gives back the sign-in, not the tokens (new ones are made). The person is told each
//! change by email, in the transaction that makes it.

use sqlx::Row;

use crate::accounts::normalize_email;
use crate::audit::NewEvent;
use crate::confirmations::{AccessNotice, access_notice};
use crate::store::{Db, WriteTx};

/// A token as `metroplan token list` shows it: never its secret (only its hash is stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    pub id: String,
    pub name: String,
    pub role: String,
    pub plan: Option<String>,
    pub fund: Option<String>,
    /// The account it acts as, for a token made with `--user`.
    pub user: Option<String>,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

/// When each disabled account was disabled, by account id.
pub async fn disabled(db: &Db) -> Result<std::collections::HashMap<String, String>, sqlx::Error> {
    let rows = sqlx::query("SELECT id, disabled_at FROM users WHERE disabled_at IS NOT NULL")
        .fetch_all(&db.pool)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("disabled_at")?)))
        .collect()
}

pub async fn tokens(db: &Db) -> Result<Vec<TokenRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT t.id, t.name, t.role, t.plan, t.fund, u.email AS user_email, t.created_at, t.revoked_at \
         FROM tokens t LEFT JOIN users u ON u.id = t.user_id ORDER BY t.created_at, t.id",
    )
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(TokenRow {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                role: r.try_get("role")?,
                plan: r.try_get("plan")?,
                fund: r.try_get("fund")?,
                user: r.try_get("user_email")?,
                created_at: r.try_get("created_at")?,
                revoked_at: r.try_get("revoked_at")?,
            })
        })
        .collect()
}

fn event(actor: &str, now: &str, action: &str, payload: serde_json::Value) -> NewEvent {
    NewEvent {
        application_id: None,
        actor: actor.to_string(),
        role: "admin".into(),
        at: now.to_string(),
        action: action.into(),
        from_state: None,
        to_state: None,
        payload: payload.to_string(),
        reason: None,
    }
}

/// What a revocation found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    Now,
    Already,
    Unknown,
}

/// Revokes the token `id` (as `token list` shows it), recorded as `token-revoke` by `actor`.
pub async fn revoke_token(
    db: &Db,
    id: &str,
    actor: &str,
    now: &str,
) -> Result<Revoked, sqlx::Error> {
    let mut tx = db.write().await?;
    let found: Option<Option<String>> = sqlx::query("SELECT revoked_at FROM tokens WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *tx.tx)
        .await?
        .map(|r| r.try_get("revoked_at"))
        .transpose()?;
    let out = match found {
        None => Revoked::Unknown,
        Some(Some(_)) => Revoked::Already,
        Some(None) => {
            sqlx::query("UPDATE tokens SET revoked_at = $1 WHERE id = $2")
                .bind(now)
                .bind(id)
                .execute(&mut *tx.tx)
                .await?;
            tx.record(event(
                actor,
                now,
                "token-revoke",
                serde_json::json!({ "token": id }),
            ));
            // The token's owner learns of it, when the token is a person's.
            let owner: Option<String> = sqlx::query(
                "SELECT u.email FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.id = $1",
            )
            .bind(id)
            .fetch_optional(&mut *tx.tx)
            .await?
            .map(|r| r.try_get("email"))
            .transpose()?;
            if let Some(to) = owner {
                access_notice(&mut tx, &to, AccessNotice::TokenRevoked, now).await?;
            }
            Revoked::Now
        }
    };
    tx.commit().await?;
    Ok(out)
}

/// What disabling an account did: how many sessions ended and tokens were revoked; `None`
/// when no account has that email.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Disabled {
    pub sessions: u64,
    pub tokens: u64,
}

async fn user_id(tx: &mut WriteTx, email: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query("SELECT id FROM users WHERE email = $1")
        .bind(normalize_email(email))
        .fetch_optional(&mut *tx.tx)
        .await?
        .map(|r| r.try_get("id"))
        .transpose()
}

/// Disables the account of `email`: it can no longer sign in, its sessions end, its tokens
/// are revoked; recorded as `account-disable` by `actor`.
pub async fn disable_user(
    db: &Db,
    email: &str,
    actor: &str,
    now: &str,
) -> Result<Option<Disabled>, sqlx::Error> {
    let mut tx = db.write().await?;
    let Some(id) = user_id(&mut tx, email).await? else {
        return Ok(None);
    };
    let changed =
        sqlx::query("UPDATE users SET disabled_at = $1 WHERE id = $2 AND disabled_at IS NULL")
            .bind(now)
            .bind(&id)
            .execute(&mut *tx.tx)
            .await?
            .rows_affected();
    // A reset link asked before must not work once the account is enabled again.
    sqlx::query("UPDATE email_links SET used_at = $1 WHERE user_id = $2 AND used_at IS NULL")
        .bind(now)
        .bind(&id)
        .execute(&mut *tx.tx)
        .await?;
    let sessions = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(&id)
        .execute(&mut *tx.tx)
        .await?
        .rows_affected();
    let tokens =
        sqlx::query("UPDATE tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(&id)
            .execute(&mut *tx.tx)
            .await?
            .rows_affected();
    tx.record(event(
        actor,
        now,
        "account-disable",
        serde_json::json!({ "user": id, "sessions": sessions, "tokens": tokens }),
    ));
    if changed > 0 {
        access_notice(
            &mut tx,
            &normalize_email(email),
            AccessNotice::Disabled,
            now,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Some(Disabled { sessions, tokens }))
}

/// Enables the account of `email` again (its revoked tokens stay revoked); `false` when no
/// account has that email. Recorded as `account-enable` by `actor`.
pub async fn enable_user(
    db: &Db,
    email: &str,
    actor: &str,
    now: &str,
) -> Result<bool, sqlx::Error> {
    let mut tx = db.write().await?;
    let Some(id) = user_id(&mut tx, email).await? else {
        return Ok(false);
    };
    let changed = sqlx::query(
        "UPDATE users SET disabled_at = NULL WHERE id = $1 AND disabled_at IS NOT NULL",
    )
    .bind(&id)
    .execute(&mut *tx.tx)
    .await?
    .rows_affected();
    tx.record(event(
        actor,
        now,
        "account-enable",
        serde_json::json!({ "user": id }),
    ));
    if changed > 0 {
        access_notice(&mut tx, &normalize_email(email), AccessNotice::Enabled, now).await?;
    }
    tx.commit().await?;
    Ok(true)
}

/// An open browser session, as the admin page and `user sessions` list it. `id` is the
/// stored hash of the cookie's secret: it names the session and cannot open it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub id: String,
    pub email: String,
    pub name: String,
    pub created_at: String,
    pub expires_at: String,
}

/// The sessions not yet expired at `now`, newest first; of one account when `email` is given.
pub async fn sessions(
    db: &Db,
    email: Option<&str>,
    now: &str,
) -> Result<Vec<SessionRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT s.id, u.email, u.name, s.created_at, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.expires_at > $1 AND ($2 = '' OR u.email = $2) ORDER BY s.created_at DESC, s.id",
    )
    .bind(now)
    .bind(email.map(normalize_email).unwrap_or_default())
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(SessionRow {
                id: r.try_get("id")?,
                email: r.try_get("email")?,
                name: r.try_get("name")?,
                created_at: r.try_get("created_at")?,
                expires_at: r.try_get("expires_at")?,
            })
        })
        .collect()
}

/// What to end: one session (its id as [`sessions`] gives it), or every session of an account.
#[derive(Debug, Clone, Copy)]
pub enum Sessions<'a> {
    One(&'a str),
    OfAccount(&'a str),
}

/// Ends sessions, recorded as `session-end` by `actor` when any ended; how many did.
pub async fn end_sessions(
    db: &Db,
    which: Sessions<'_>,
    actor: &str,
    now: &str,
) -> Result<u64, sqlx::Error> {
    let mut tx = db.write().await?;
    let (sql, key, payload) = match which {
        Sessions::One(id) => (
            "DELETE FROM sessions WHERE id = $1",
            id.to_string(),
            serde_json::json!({ "session": id }),
        ),
        Sessions::OfAccount(email) => {
            let Some(user) = user_id(&mut tx, email).await? else {
                return Ok(0);
            };
            (
                "DELETE FROM sessions WHERE user_id = $1",
                user.clone(),
                serde_json::json!({ "user": user }),
            )
        }
    };
    let ended = sqlx::query(sql)
        .bind(&key)
        .execute(&mut *tx.tx)
        .await?
        .rows_affected();
    if ended > 0 {
        let mut payload = payload;
        payload["ended"] = ended.into();
        tx.record(event(actor, now, "session-end", payload));
        tx.commit().await?;
    }
    Ok(ended)
}

/// The accounts whose address is not confirmed yet (registered, link not followed).
pub async fn unconfirmed(db: &Db) -> Result<std::collections::HashSet<String>, sqlx::Error> {
    let rows = sqlx::query("SELECT id FROM users WHERE email_confirmed_at IS NULL")
        .fetch_all(&db.pool)
        .await?;
    rows.iter().map(|r| r.try_get("id")).collect()
}
