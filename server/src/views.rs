//! What each viewer may read of an application's history. An applicant reads what concerns
//! them: states, decisions with their reasons, requests for pieces, their own actions; never
//! who on the staff acted (a staff actor is its role), nor a reviewer's opinion, scores,
//! declaration or reason. Staff read everything within their scope, with each actor's label.

use std::collections::HashMap;

use metroplan_engine::model::RoleKind;
use serde_json::{Map, Value};
use sqlx::Row;

use crate::audit::Event;
use crate::tokens::Principal;

/// What a staff step's payload may show its applicant: the money decided and the dates
/// signed. Everything else (opinions, scores, declarations of interest) stays with staff.
const APPLICANT_PAYLOAD: &[&str] = &["amount", "payment", "signed_on"];

/// `event` as `who` may read it, or `None` when it is none of their business.
pub fn event_for(who: &Principal, mut event: Event) -> Option<Event> {
    if who.role != RoleKind::Applicant {
        return Some(event);
    }
    let role = event.role.clone();
    if role == metroplan_engine::workflow::SYSTEM_ROLE && event.payload["to"] == "staff" {
        // A reminder sent to staff (a committee member's awaited opinion) is theirs.
        return None;
    }
    if role == RoleKind::Applicant.name() || role == metroplan_engine::workflow::SYSTEM_ROLE {
        return Some(event);
    }
    if role == RoleKind::Reviewer.name() {
        // An opinion is the committee's; a committee step that moves the file shows as a
        // change of state, without the reviewer's words.
        if event.from_state == event.to_state {
            return None;
        }
        event.reason = None;
    }
    event.actor = role;
    event.actor_name = None;
    let kept: Map<String, Value> = event
        .payload
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| APPLICANT_PAYLOAD.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    event.payload = Value::Object(kept);
    event.payload_text = event.payload.to_string();
    Some(event)
}

/// The labels of identities, for staff pages and the staff's API: an account holder's name
/// (never their email: pages name people), a service token's name; a name recorded before
/// identities were ids is its own label.
pub async fn labels(
    db: &sqlx::AnyPool,
    ids: Vec<String>,
) -> Result<HashMap<String, String>, sqlx::Error> {
    let mut out = HashMap::new();
    for id in &ids {
        let id = id.as_str();
        if out.contains_key(id) {
            continue;
        }
        let found: Option<String> = if let Some(u) = id.strip_prefix("user:") {
            sqlx::query("SELECT name AS label FROM users WHERE id = $1")
                .bind(u)
                .fetch_optional(db)
                .await?
                .map(|r| r.try_get("label"))
                .transpose()?
        } else if let Some(t) = id.strip_prefix("token:") {
            sqlx::query("SELECT name AS label FROM tokens WHERE id = $1")
                .bind(t)
                .fetch_optional(db)
                .await?
                .map(|r| r.try_get("label"))
                .transpose()?
        } else {
            None
        };
        let label = found.unwrap_or_else(|| id.strip_prefix("name:").unwrap_or(id).to_string());
        out.insert(id.to_string(), label);
    }
    Ok(out)
}
