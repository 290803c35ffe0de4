//! Applicant keys (the fund's key field: a SIRET, or what `[fund.keys]` declares) bound to
//! one principal per (plan, fund). A key is bound on first use: to the applicant account
//! registered with that SIRET if there is one (registration binds it), else to whoever
//! first files under it. Filing under a key bound to another principal is refused; an
//! administrator moves a binding with `metroplan applicant-key transfer`, an audited event.

use sqlx::Row;

use crate::audit::NewEvent;
use crate::error::Error;
use crate::store::{Db, WriteTx};
use crate::tokens::Principal;

/// Who holds `key` in (plan, fund), if anyone.
async fn holder(
    tx: &mut WriteTx,
    plan: &str,
    fund: &str,
    key: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query(
        "SELECT principal_id FROM applicant_keys WHERE plan = $1 AND fund = $2 AND key = $3",
    )
    .bind(plan)
    .bind(fund)
    .bind(key)
    .fetch_optional(&mut *tx.tx)
    .await?
    .map(|r| r.try_get("principal_id"))
    .transpose()
}

/// The applicant account registered with `key` as its SIRET (the oldest, if several).
async fn registered(tx: &mut WriteTx, key: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query(
        "SELECT id FROM users WHERE siret = $1 AND role = 'applicant' ORDER BY created_at, id LIMIT 1",
    )
    .bind(key)
    .fetch_optional(&mut *tx.tx)
    .await?
    .map(|r| r.try_get::<String, _>("id").map(|id| format!("user:{id}")))
    .transpose()
}

/// Binds `key` to `owner_id` on first use, or checks that it is theirs; `field` names the
/// form's key field in the refusal.
pub async fn claim(
    tx: &mut WriteTx,
    owner_id: &str,
    plan: &str,
    fund: &str,
    key: &str,
    field: &str,
    now: &str,
) -> Result<(), Error> {
    let bound = match holder(tx, plan, fund, key).await? {
        Some(h) => h,
        None => {
            let to = registered(tx, key)
                .await?
                .unwrap_or_else(|| owner_id.to_string());
            // Two first filings racing: the primary key keeps one; both read it back.
            sqlx::query("INSERT INTO applicant_keys (plan, fund, key, principal_id, bound_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING")
                .bind(plan)
                .bind(fund)
                .bind(key)
                .bind(&to)
                .bind(now)
                .execute(&mut *tx.tx)
                .await?;
            holder(tx, plan, fund, key).await?.unwrap_or(to)
        }
    };
    if bound == owner_id {
        Ok(())
    } else {
        Err(Error::KeyBound {
            field: field.to_string(),
        })
    }
}

/// Whether `who` is the applicant of `key` in (plan, fund) whatever their account: the key is
/// bound to them, or their account was made with it as its SIRET. The filer takes no part
/// in staff steps (article 15 of the demo fund).
pub async fn is_filer(
    tx: &mut WriteTx,
    who: &Principal,
    plan: &str,
    fund: &str,
    key: &str,
) -> Result<bool, sqlx::Error> {
    if holder(tx, plan, fund, key).await?.as_deref() == Some(who.id.as_str()) {
        return Ok(true);
    }
    let Some(user) = who.id.strip_prefix("user:") else {
        return Ok(false);
    };
    Ok(
        sqlx::query("SELECT 1 AS one FROM users WHERE id = $1 AND siret = $2")
            .bind(user)
            .bind(key)
            .fetch_optional(&mut *tx.tx)
            .await?
            .is_some(),
    )
}

#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error("`{0}` is neither an account's email nor a token id (token:…)")]
    UnknownPrincipal(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Resolves `to` (an account's email, or `token:<id>` / a bare token id) to a principal id.
pub async fn resolve(db: &Db, to: &str) -> Result<String, TransferError> {
    if let Some(u) = crate::accounts::find_by_email(db, to).await? {
        return Ok(format!("user:{}", u.id));
    }
    let t = to.strip_prefix("token:").unwrap_or(to);
    let row = sqlx::query("SELECT id, user_id FROM tokens WHERE id = $1")
        .bind(t)
        .fetch_optional(&db.pool)
        .await?
        .ok_or_else(|| TransferError::UnknownPrincipal(to.to_string()))?;
    // A token made for an account is that account.
    Ok(match row.try_get::<Option<String>, _>("user_id")? {
        Some(u) => format!("user:{u}"),
        None => format!("token:{}", row.try_get::<String, _>("id")?),
    })
}

/// Moves (or makes) the binding of `key` in (plan, fund) to `to_id`, recorded in the audit
/// trail as `applicant-key-transfer` by `admin`; returns the previous holder.
pub async fn transfer(
    db: &Db,
    plan: &str,
    fund: &str,
    key: &str,
    to_id: &str,
    admin: &str,
    now: &str,
) -> Result<Option<String>, TransferError> {
    let mut tx = db.write().await?;
    let before = holder(&mut tx, plan, fund, key).await?;
    sqlx::query("DELETE FROM applicant_keys WHERE plan = $1 AND fund = $2 AND key = $3")
        .bind(plan)
        .bind(fund)
        .bind(key)
        .execute(&mut *tx.tx)
        .await?;
    sqlx::query("INSERT INTO applicant_keys (plan, fund, key, principal_id, bound_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(plan)
        .bind(fund)
        .bind(key)
        .bind(to_id)
        .bind(now)
        .execute(&mut *tx.tx)
        .await?;
    tx.record(NewEvent {
        application_id: None,
        actor: admin.to_string(),
        role: "admin".into(),
        at: now.to_string(),
        action: "applicant-key-transfer".into(),
        from_state: None,
        to_state: None,
        payload:
            serde_json::json!({"plan": plan, "fund": fund, "key": key, "from": before, "to": to_id})
                .to_string(),
        reason: None,
    });
    tx.commit().await?;
    Ok(before)
}
