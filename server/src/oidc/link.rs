//! Which account an identity from a provider opens. An identity once linked opens its
//! account by the provider's stable subject, whatever its email becomes. An identity seen for
//! the first time is linked by the email the provider asserted as verified, to the account
//! with that email; through a provider open to applicants, a verified email without an
//! account makes a new applicant account. Otherwise an administrator links it
//! (`metroplan user link`). Each link is an event of the audit trail.

use jiff::Timestamp;
use metroplan_engine::model::RoleKind;
use sqlx::Row;

use super::{Identity, Provider};
use crate::accounts::{self, NewUser, USER_COLUMNS, User, normalize_email};
use crate::audit::NewEvent;
use crate::clock::stamp;
use crate::store::{Db, WriteTx};

/// What an identity opens.
#[derive(Debug)]
pub enum Linked {
    /// The account linked to this identity before.
    Known(User),
    /// The account with the identity's verified email, linked now.
    ByEmail(User),
    /// A new applicant account, made from the identity.
    Created(User),
    /// The linked account is disabled.
    Disabled,
    /// The account is of a kind this provider does not sign in (an applicant through a staff
    /// provider, or staff through the public's).
    NotForThisProvider,
    /// No account, and none may be made from this identity: an administrator links it.
    NoAccount,
}

/// A password hash no password matches: accounts made from an identity sign in through their
/// provider (or choose a password by "mot de passe oublié").
const NO_PASSWORD: &str = "!";

pub async fn account_for(
    db: &Db,
    provider: &Provider,
    id: &Identity,
    now: Timestamp,
) -> Result<Linked, accounts::AccountError> {
    let mut w = db.write().await?;
    let known = sqlx::query(&format!(
        "SELECT disabled_at, {USER_COLUMNS} FROM users WHERE id = (SELECT user_id FROM oidc_identities WHERE provider = $1 AND subject = $2)"
    ))
    .bind(&provider.id)
    .bind(&id.subject)
    .fetch_optional(&mut *w.tx)
    .await?;
    if let Some(r) = known {
        let outcome = usable(&r, provider)?;
        w.commit().await?;
        return with_grants(db, outcome).await;
    }
    let email = id
        .email
        .as_deref()
        .filter(|_| id.email_verified)
        .map(normalize_email);
    let Some(email) = email else {
        w.commit().await?;
        return Ok(Linked::NoAccount);
    };
    let by_email = sqlx::query(&format!(
        "SELECT disabled_at, {USER_COLUMNS} FROM users WHERE email = $1"
    ))
    .bind(&email)
    .fetch_optional(&mut *w.tx)
    .await?;
    let outcome = match by_email {
        Some(r) => match usable(&r, provider)? {
            Linked::Known(user) => {
                insert(&mut w, provider, id, &user.id, "email", now).await?;
                // The provider vouched for the address: an account waiting for its
                // confirmation link is confirmed. Whoever registered it never proved the
                // address theirs: their password and SIRET are not kept (else registering
                // someone's address first would open their account).
                let confirmed = sqlx::query(
                    "UPDATE users SET email_confirmed_at = $1, password_hash = $2, siret = NULL WHERE id = $3 AND email_confirmed_at IS NULL",
                )
                .bind(stamp(now))
                .bind(NO_PASSWORD)
                .bind(&user.id)
                .execute(&mut *w.tx)
                .await?
                .rows_affected();
                let user = if confirmed == 1 {
                    User {
                        siret: None,
                        ..user
                    }
                } else {
                    user
                };
                Linked::ByEmail(user)
            }
            other => other,
        },
        None if provider.audience.applicants() => {
            let name = id
                .name
                .clone()
                .unwrap_or_else(|| email.split('@').next().unwrap_or(&email).to_string());
            let new = NewUser {
                email: &email,
                name: &name,
                role: RoleKind::Applicant,
                plan: None,
                fund: None,
                siret: None,
                password: "",
                grants: &[],
            };
            match accounts::insert_user(&mut w, &new, NO_PASSWORD, true, now).await? {
                Some(user) => {
                    insert(&mut w, provider, id, &user.id, "email", now).await?;
                    w.record(event(&user.id, "account-register", provider, now));
                    Linked::Created(user)
                }
                // Made by a registration in between: linked at the next sign-in.
                None => Linked::NoAccount,
            }
        }
        None => Linked::NoAccount,
    };
    w.commit().await?;
    with_grants(db, outcome).await
}

/// The account of `r`, if it is enabled and of a kind `provider` signs in.
fn usable(r: &sqlx::any::AnyRow, provider: &Provider) -> Result<Linked, sqlx::Error> {
    if r.try_get::<Option<String>, _>("disabled_at")?.is_some() {
        return Ok(Linked::Disabled);
    }
    let Some(user) = User::from_row(r)? else {
        return Ok(Linked::NoAccount);
    };
    let allowed = if user.role == RoleKind::Applicant {
        provider.audience.applicants()
    } else {
        provider.audience.staff()
    };
    Ok(if allowed {
        Linked::Known(user)
    } else {
        Linked::NotForThisProvider
    })
}

async fn with_grants(db: &Db, l: Linked) -> Result<Linked, accounts::AccountError> {
    Ok(match l {
        Linked::Known(u) => Linked::Known(u.with_grants(db).await?),
        Linked::ByEmail(u) => Linked::ByEmail(u.with_grants(db).await?),
        Linked::Created(u) => Linked::Created(u.with_grants(db).await?),
        other => other,
    })
}

/// Links `id` to the account `user_id`; `by` is "email" (the provider's verified email) or
/// the administrator's identity, recorded as the event's actor.
async fn insert(
    w: &mut WriteTx,
    provider: &Provider,
    id: &Identity,
    user_id: &str,
    by: &str,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO oidc_identities (provider, subject, user_id, linked_at, linked_by) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&provider.id)
    .bind(&id.subject)
    .bind(user_id)
    .bind(stamp(now))
    .bind(by)
    .execute(&mut *w.tx)
    .await?;
    let mut e = event(user_id, "identity-link", provider, now);
    if by != "email" {
        e.actor = by.to_string();
        e.role = "admin".into();
        e.payload = serde_json::json!({ "provider": provider.id, "account": user_id }).to_string();
    }
    w.record(e);
    Ok(())
}

fn event(user_id: &str, action: &str, provider: &Provider, now: Timestamp) -> NewEvent {
    NewEvent {
        application_id: None,
        actor: format!("user:{user_id}"),
        role: "system".into(),
        at: stamp(now),
        action: action.into(),
        from_state: None,
        to_state: None,
        payload: serde_json::json!({ "provider": provider.id }).to_string(),
        reason: None,
    }
}

/// What an administrator's link or unlink did.
#[derive(Debug, PartialEq, Eq)]
pub enum Admin {
    Done,
    NoSuchAccount,
    /// The identity is linked to another account already (unlink it first).
    LinkedElsewhere,
    NotLinked,
}

/// Links `(provider, subject)` to the account with `email` (`metroplan user link`).
pub async fn link_by_admin(
    db: &Db,
    provider: &Provider,
    subject: &str,
    email: &str,
    actor: &str,
    now: Timestamp,
) -> Result<Admin, sqlx::Error> {
    let mut w = db.write().await?;
    let Some(user) = sqlx::query("SELECT id FROM users WHERE email = $1")
        .bind(normalize_email(email))
        .fetch_optional(&mut *w.tx)
        .await?
    else {
        return Ok(Admin::NoSuchAccount);
    };
    let user_id: String = user.try_get("id")?;
    let current =
        sqlx::query("SELECT user_id FROM oidc_identities WHERE provider = $1 AND subject = $2")
            .bind(&provider.id)
            .bind(subject)
            .fetch_optional(&mut *w.tx)
            .await?;
    if let Some(r) = current {
        let holder: String = r.try_get("user_id")?;
        return Ok(if holder == user_id {
            Admin::Done
        } else {
            Admin::LinkedElsewhere
        });
    }
    let id = Identity {
        provider: provider.id.clone(),
        subject: subject.to_string(),
        email: None,
        email_verified: false,
        name: None,
        id_token: String::new(),
    };
    insert(&mut w, provider, &id, &user_id, actor, now).await?;
    w.commit().await?;
    Ok(Admin::Done)
}

/// Removes the link of `(provider, subject)` (`metroplan user unlink`); the identity then
/// opens no account until linked again.
pub async fn unlink(
    db: &Db,
    provider: &str,
    subject: &str,
    actor: &str,
    now: Timestamp,
) -> Result<Admin, sqlx::Error> {
    let mut w = db.write().await?;
    let Some(r) = sqlx::query(
        "DELETE FROM oidc_identities WHERE provider = $1 AND subject = $2 RETURNING user_id",
    )
    .bind(provider)
    .bind(subject)
    .fetch_optional(&mut *w.tx)
    .await?
    else {
        return Ok(Admin::NotLinked);
    };
    let user_id: String = r.try_get("user_id")?;
    w.record(NewEvent {
        application_id: None,
        actor: actor.to_string(),
        role: "admin".into(),
        at: stamp(now),
        action: "identity-unlink".into(),
        from_state: None,
        to_state: None,
        payload: serde_json::json!({ "provider": provider, "account": user_id }).to_string(),
        reason: None,
    });
    w.commit().await?;
    Ok(Admin::Done)
}

/// The identities linked to accounts: (provider, subject, email, linked_at, linked_by).
pub async fn identities(
    db: &Db,
) -> Result<Vec<(String, String, String, String, String)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT i.provider, i.subject, u.email, i.linked_at, i.linked_by FROM oidc_identities i JOIN users u ON u.id = i.user_id ORDER BY u.email, i.provider",
    )
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("provider")?,
                r.try_get("subject")?,
                r.try_get("email")?,
                r.try_get("linked_at")?,
                r.try_get("linked_by")?,
            ))
        })
        .collect()
}
