//! Bearer tokens: printed once when created, stored as their SHA-256 hash.

use std::collections::HashMap;
use std::sync::RwLock;

use metroplan_engine::model::RoleKind;
use sha2::{Digest, Sha256};
use sqlx::Row;

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
}

impl Principal {
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
    if name.trim().is_empty() {
        anyhow::bail!("--name: give the person's or service's name");
    }
    let secret = format!("mp_{}", random_hex(24));
    sqlx::query(
        "INSERT INTO tokens (id, name, role, plan, fund, email, hash, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(random_hex(8))
    .bind(name)
    .bind(role.name())
    .bind(plan)
    .bind(fund)
    .bind(email)
    .bind(hash(&secret))
    .bind(now)
    .execute(&db.pool)
    .await?;
    Ok(secret)
}

/// Creates a token that acts as `user` (the same identity, role and fund) and returns its secret.
pub async fn create_for_user(
    db: &Db,
    user: &crate::accounts::User,
    now: &str,
) -> anyhow::Result<String> {
    let secret = format!("mp_{}", random_hex(24));
    sqlx::query(
        "INSERT INTO tokens (id, name, role, fund, email, hash, created_at, user_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(random_hex(8))
    .bind(&user.email)
    .bind(user.role.name())
    .bind(&user.fund)
    .bind(&user.email)
    .bind(hash(&secret))
    .bind(now)
    .bind(&user.id)
    .execute(&db.pool)
    .await?;
    Ok(secret)
}

/// Token lookups, cached: tokens never change once created.
#[derive(Debug, Default)]
pub struct Cache {
    known: RwLock<HashMap<String, Principal>>,
}

impl Cache {
    pub async fn find(&self, db: &Db, token: &str) -> Result<Option<Principal>, sqlx::Error> {
        let h = hash(token);
        if let Some(p) = self.known.read().expect("token cache").get(&h) {
            return Ok(Some(p.clone()));
        }
        let row = sqlx::query(
            "SELECT t.id, t.name, t.role, t.plan, t.fund, t.email, t.user_id, u.email AS user_email \
             FROM tokens t LEFT JOIN users u ON u.id = t.user_id WHERE t.hash = $1",
        )
        .bind(&h)
        .fetch_optional(&db.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let role: String = row.try_get("role")?;
        let Some(role) = RoleKind::parse(&role) else {
            return Ok(None);
        };
        // A token made with `--user` is that account: the same identity as its sessions.
        let user: Option<String> = row.try_get("user_id")?;
        let user_email: Option<String> = row.try_get("user_email")?;
        let p = Principal {
            id: match &user {
                Some(u) => format!("user:{u}"),
                None => format!("token:{}", row.try_get::<String, _>("id")?),
            },
            name: row.try_get("name")?,
            role,
            plan: row.try_get("plan")?,
            fund: row.try_get("fund")?,
            email: user_email.or(row.try_get("email")?),
        };
        self.known
            .write()
            .expect("token cache")
            .insert(h, p.clone());
        Ok(Some(p))
    }
}
