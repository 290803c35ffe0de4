//! Bearer tokens: printed once when created, stored as their SHA-256 hash.

use std::collections::HashMap;
use std::sync::RwLock;

use metroplan_engine::model::RoleKind;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::grants::{self, Grant};
use crate::store::Db;

/// Who is calling: their stable id, a label, role kind and the (plan, fund) they are limited to.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The identity: `user:<account id>` for a person (whether signed in or through a token
    /// made with `--user`), `token:<token id>` for a service token. Ownership, participants,
    /// idempotency and guards compare it; it says nothing about the person, so logs and the
    /// audit trail record it where `name` (an email, for people) would be personal data.
    pub id: String,
    /// A label for people to read (a service token's name, an account's email); never compared.
    pub name: String,
    pub role: RoleKind,
    /// `None`: every plan (or, with a fund, that fund's id in any plan: a token created before
    /// scopes named their plan).
    pub plan: Option<String>,
    /// `None`: every fund of the plan(s).
    pub fund: Option<String>,
    pub email: Option<String>,
    /// The plan roles held (`role_grants`, by `id`): a token made with `--user` holds its
    /// account's.
    pub grants: Vec<Grant>,
}

impl Principal {
    /// The plan roles that apply to a file of (`plan`, `fund`), as the engine's `Actor` takes
    /// them. Empty when no grant is for that plan: every role of the principal's kind there
    /// (accounts and tokens made before plan roles keep working).
    pub fn plan_roles(&self, plan: &str, fund: &str) -> Vec<String> {
        grants::roles_in(&self.grants, plan, fund)
    }

    /// Whether this principal may see applications of `fund` in `plan`.
    pub fn covers(&self, plan: &str, fund: &str) -> bool {
        self.plan.as_deref().is_none_or(|p| p == plan)
            && self.fund.as_deref().is_none_or(|f| f == fund)
    }
}

pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("the operating system's random source is available");
    hex::encode(buf)
}

/// A service token to create.
#[derive(Debug, Clone)]
pub struct NewToken<'a> {
    pub name: &'a str,
    pub role: RoleKind,
    pub plan: Option<&'a str>,
    pub fund: Option<&'a str>,
    pub email: Option<&'a str>,
    /// Plan roles, checked against the plan by [`grants::check`].
    pub grants: &'a [Grant],
}

/// Creates a token and returns its secret (never stored).
pub async fn create(
    db: &Db,
    name: &str,
    role: RoleKind,
    plan: Option<&str>,
    fund: Option<&str>,
    email: Option<&str>,
    now: &str,
) -> anyhow::Result<String> {
    create_token(
        db,
        &NewToken {
            name,
            role,
            plan,
            fund,
            email,
            grants: &[],
        },
        now,
    )
    .await
}

/// Creates a service token and its plan roles in one transaction; returns its secret.
pub async fn create_token(db: &Db, t: &NewToken<'_>, now: &str) -> anyhow::Result<String> {
    if t.name.trim().is_empty() {
        anyhow::bail!("--name: give the person's or service's name");
    }
    let secret = format!("mp_{}", random_hex(24));
    let id = random_hex(8);
    let mut w = db.write().await?;
    sqlx::query(
        "INSERT INTO tokens (id, name, role, plan, fund, email, hash, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&id)
    .bind(t.name)
    .bind(t.role.name())
    .bind(t.plan)
    .bind(t.fund)
    .bind(t.email)
    .bind(hash(&secret))
    .bind(now)
    .execute(&mut *w.tx)
    .await?;
    grants::insert(&mut w.tx, &format!("token:{id}"), t.grants, now).await?;
    w.commit().await?;
    Ok(secret)
}

/// Creates a token that acts as `user` (the same identity, role, scope and plan roles) and
/// returns its secret.
pub async fn create_for_user(
    db: &Db,
    user: &crate::accounts::User,
    now: &str,
) -> anyhow::Result<String> {
    let secret = format!("mp_{}", random_hex(24));
    sqlx::query(
        "INSERT INTO tokens (id, name, role, plan, fund, email, hash, created_at, user_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(random_hex(8))
    .bind(&user.email)
    .bind(user.role.name())
    .bind(&user.plan)
    .bind(&user.fund)
    .bind(&user.email)
    .bind(hash(&secret))
    .bind(now)
    .bind(&user.id)
    .execute(&db.pool)
    .await?;
    Ok(secret)
}

/// How long a looked-up token is trusted without reading it again: a token revoked (or its
/// account disabled) by another process, `metroplan token revoke` say, stops within this.
pub const RECHECK: std::time::Duration = std::time::Duration::from_secs(30);

/// Token lookups, cached for [`RECHECK`]: what a token is never changes once created, but it
/// may be revoked.
#[derive(Debug, Default)]
pub struct Cache {
    known: RwLock<HashMap<String, (Principal, std::time::Instant)>>,
}

impl Cache {
    /// Forgets every lookup: after a revocation in this process, it takes effect at once.
    pub fn forget_all(&self) {
        self.known.write().expect("token cache").clear();
    }

    pub async fn find(&self, db: &Db, token: &str) -> Result<Option<Principal>, sqlx::Error> {
        let h = hash(token);
        if let Some((p, at)) = self.known.read().expect("token cache").get(&h)
            && at.elapsed() < RECHECK
        {
            return Ok(Some(p.clone()));
        }
        let row = sqlx::query(
            "SELECT t.id, t.name, t.role, t.plan, t.fund, t.email, t.user_id, u.email AS user_email \
             FROM tokens t LEFT JOIN users u ON u.id = t.user_id \
             WHERE t.hash = $1 AND t.revoked_at IS NULL AND (t.user_id IS NULL OR u.disabled_at IS NULL)",
        )
        .bind(&h)
        .fetch_optional(&db.pool)
        .await?;
        let Some(row) = row else {
            self.known.write().expect("token cache").remove(&h);
            return Ok(None);
        };
        let role: String = row.try_get("role")?;
        let Some(role) = RoleKind::parse(&role) else {
            return Ok(None);
        };
        // A token made with `--user` is that account: the same identity as its sessions.
        let user: Option<String> = row.try_get("user_id")?;
        let user_email: Option<String> = row.try_get("user_email")?;
        let id = match &user {
            Some(u) => format!("user:{u}"),
            None => format!("token:{}", row.try_get::<String, _>("id")?),
        };
        let p = Principal {
            grants: grants::of(db, &id).await?,
            id,
            name: row.try_get("name")?,
            role,
            plan: row.try_get("plan")?,
            fund: row.try_get("fund")?,
            email: user_email.or(row.try_get("email")?),
        };
        self.known
            .write()
            .expect("token cache")
            .insert(h, (p.clone(), std::time::Instant::now()));
        Ok(Some(p))
    }
}
