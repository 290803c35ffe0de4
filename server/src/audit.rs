//! The audit trail: every change is an event chained to the previous one by a SHA-256 hash,
//! and the chain's head is kept in its own row. `metroplan audit verify` recomputes the chain:
//! an edited, deleted, inserted or reordered row breaks it. Someone who can write the database
//! can also recompute every later hash and the head: the signed checkpoints kept outside it
//! ([`checkpoint`]) catch that, and [`money`] checks the money tables against the events.

pub mod checkpoint;
pub mod money;
pub mod tsa;

use std::collections::BTreeMap;

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::store::Db;

/// An event before it joins the chain.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub application_id: Option<String>,
    pub actor: String,
    pub role: String,
    pub at: String,
    pub action: String,
    pub from_state: Option<String>,
    pub to_state: Option<String>,
    /// JSON.
    pub payload: String,
    pub reason: Option<String>,
}

/// An event as stored.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Event {
    pub seq: i64,
    pub application_id: Option<String>,
    /// The actor's identity (`user:…`, `token:…`, `system`; a name in events written before
    /// identities were ids); for an applicant, a staff actor is its role only.
    pub actor: String,
    /// The actor's label (an email, a token's name), for staff only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor_name: Option<String>,
    pub role: String,
    pub at: String,
    pub action: String,
    pub from_state: Option<String>,
    pub to_state: Option<String>,
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    pub reason: Option<String>,
    #[serde(skip)]
    pub payload_text: String,
    pub prev_hash: String,
    pub hash: String,
}

impl Event {
    /// What its hash covers, besides its place in the chain.
    pub fn content(&self) -> NewEvent {
        NewEvent {
            application_id: self.application_id.clone(),
            actor: self.actor.clone(),
            role: self.role.clone(),
            at: self.at.clone(),
            action: self.action.clone(),
            from_state: self.from_state.clone(),
            to_state: self.to_state.clone(),
            payload: self.payload_text.clone(),
            reason: self.reason.clone(),
        }
    }
}

/// An event with its place in the chain.
#[derive(Debug)]
pub struct Sealed {
    pub seq: i64,
    pub event: NewEvent,
    pub prev_hash: String,
    pub hash: String,
}

fn digest(seq: i64, e: &NewEvent, prev_hash: &str) -> String {
    // A JSON array: unambiguous field boundaries whatever the fields contain.
    let canonical = serde_json::json!([
        seq,
        e.application_id,
        e.actor,
        e.role,
        e.at,
        e.action,
        e.from_state,
        e.to_state,
        e.payload,
        e.reason,
        prev_hash
    ]);
    hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
}

pub fn seal(event: NewEvent, seq: i64, prev_hash: &str) -> Sealed {
    Sealed {
        seq,
        hash: digest(seq, &event, prev_hash),
        event,
        prev_hash: prev_hash.to_string(),
    }
}

pub fn event_from_row(r: &sqlx::any::AnyRow) -> Result<Event, sqlx::Error> {
    let payload_text: String = r.try_get("payload")?;
    Ok(Event {
        seq: r.try_get("seq")?,
        application_id: r.try_get("application_id")?,
        actor: r.try_get("actor")?,
        actor_name: None,
        role: r.try_get("role")?,
        at: r.try_get("at")?,
        action: r.try_get("action")?,
        from_state: r.try_get("from_state")?,
        to_state: r.try_get("to_state")?,
        payload: serde_json::from_str(&payload_text).unwrap_or(serde_json::Value::Null),
        reason: r.try_get("reason")?,
        payload_text,
        prev_hash: r.try_get("prev_hash")?,
        hash: r.try_get("hash")?,
    })
}

pub const EVENT_COLUMNS: &str = "seq, application_id, actor, role, at, action, from_state, to_state, payload, reason, prev_hash, hash";

/// The first break in the chain, if any.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Break {
    #[error("event {seq}: its hash does not match its content (the row was edited)")]
    Edited { seq: i64 },
    #[error(
        "event {seq}: it does not follow event {previous} (a row was deleted, inserted or reordered)"
    )]
    Unlinked { seq: i64, previous: i64 },
    #[error(
        "the chain ends at event {last} with hash {found}, but its head records event {head_seq} (rows were deleted at the end, or the head was edited)"
    )]
    Head {
        last: i64,
        found: String,
        head_seq: i64,
    },
    #[error(
        "event {seq}: its hash is not the one checkpointed at {at} (the trail was rewritten at or before this event, its later hashes and head recomputed)"
    )]
    Rewritten { seq: i64, at: String },
    #[error(
        "the chain ends at event {last}, but the checkpoint of {at} records event {seq} (events were deleted at the end: the trail was truncated or emptied)"
    )]
    Truncated { last: i64, seq: i64, at: String },
}

/// What a checkpoint says the chain held: event `seq` had this hash at `at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpointed {
    pub hash: String,
    pub at: String,
}

/// What `audit verify` reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verified {
    pub events: u64,
    pub head: String,
}

/// Recomputes the whole chain, streaming it in pages.
pub async fn verify(db: &Db) -> Result<Result<Verified, Break>, sqlx::Error> {
    verify_against(db, &BTreeMap::new()).await
}

/// Recomputes the whole chain and checks it holds every checkpointed `(seq, hash)`.
pub async fn verify_against(
    db: &Db,
    checkpoints: &BTreeMap<i64, Checkpointed>,
) -> Result<Result<Verified, Break>, sqlx::Error> {
    let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
        .fetch_one(&db.pool)
        .await?;
    let head_seq: i64 = head.try_get("seq")?;
    let head_hash: String = head.try_get("hash")?;
    let mut prev_hash = "genesis".to_string();
    let mut prev_seq = 0i64;
    let mut count = 0u64;
    loop {
        let rows = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE seq > $1 ORDER BY seq LIMIT 5000"
        ))
        .bind(prev_seq)
        .fetch_all(&db.pool)
        .await?;
        if rows.is_empty() {
            break;
        }
        for r in &rows {
            let e = event_from_row(r)?;
            if e.seq != prev_seq + 1 || e.prev_hash != prev_hash {
                return Ok(Err(Break::Unlinked {
                    seq: e.seq,
                    previous: prev_seq,
                }));
            }
            let h = digest(e.seq, &e.content(), &e.prev_hash);
            if h != e.hash {
                return Ok(Err(Break::Edited { seq: e.seq }));
            }
            if let Some(c) = checkpoints.get(&e.seq)
                && c.hash != e.hash
            {
                return Ok(Err(Break::Rewritten {
                    seq: e.seq,
                    at: c.at.clone(),
                }));
            }
            prev_hash = e.hash;
            prev_seq = e.seq;
            count += 1;
        }
    }
    if let Some((&seq, c)) = checkpoints.last_key_value()
        && seq > prev_seq
    {
        return Ok(Err(Break::Truncated {
            last: prev_seq,
            seq,
            at: c.at.clone(),
        }));
    }
    if prev_seq != head_seq || prev_hash != head_hash {
        return Ok(Err(Break::Head {
            last: prev_seq,
            found: prev_hash,
            head_seq,
        }));
    }
    Ok(Ok(Verified {
        events: count,
        head: head_hash,
    }))
}
