//! `Idempotency-Key`: a key claimed in the request's transaction, and the reply stored with
//! it so that a retry gets the same answer.

use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::error::{Error, Result};
use crate::store::WriteTx;
use crate::tokens::Principal;

/// Claims an idempotency key in `tx`: `Some(reply)` when the request was already answered.
pub(super) async fn claim_key(
    tx: &mut WriteTx,
    who: &Principal,
    key: Option<&str>,
    request: &str,
    now: &str,
) -> Result<Option<(u16, Value)>> {
    let Some(key) = key else { return Ok(None) };
    if key.is_empty() || key.len() > 200 {
        return Err(Error::bad("Idempotency-Key: 1 to 200 characters", None));
    }
    let hash = hex::encode(Sha256::digest(request.as_bytes()));
    let inserted = sqlx::query(
        "INSERT INTO idempotency (principal, key, request_hash, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(&who.id)
    .bind(key)
    .bind(&hash)
    .bind(now)
    .execute(&mut *tx.tx)
    .await?
    .rows_affected();
    if inserted == 1 {
        return Ok(None);
    }
    let row = sqlx::query(
        "SELECT request_hash, status, body FROM idempotency WHERE principal = $1 AND key = $2",
    )
    .bind(&who.id)
    .bind(key)
    .fetch_one(&mut *tx.tx)
    .await?;
    let stored: String = row.try_get("request_hash")?;
    if stored != hash {
        return Err(Error::unprocessable(
            "this Idempotency-Key was used for another request: use a new key for a new request",
            Some("Idempotency-Key"),
        ));
    }
    let status: Option<i64> = row.try_get("status")?;
    let body: Option<String> = row.try_get("body")?;
    match (status, body) {
        (Some(s), Some(b)) => Ok(Some((
            s as u16,
            serde_json::from_str(&b).unwrap_or(Value::Null),
        ))),
        _ => Err(Error::Conflict(
            "a request with this Idempotency-Key is still being processed".into(),
        )),
    }
}

pub(super) async fn store_reply(
    tx: &mut WriteTx,
    who: &Principal,
    key: Option<&str>,
    status: u16,
    body: &Value,
) -> Result<()> {
    if let Some(key) = key {
        sqlx::query(
            "UPDATE idempotency SET status = $1, body = $2 WHERE principal = $3 AND key = $4",
        )
        .bind(status as i64)
        .bind(body.to_string())
        .bind(&who.id)
        .bind(key)
        .execute(&mut *tx.tx)
        .await?;
    }
    Ok(())
}

/// A reply: status, body, and whether it replays an earlier answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub replayed: bool,
}
