//! Bearer tokens: printed once when created, stored as their SHA-256 hash.

use std::collections::HashMap;
use std::sync::RwLock;

use metroplan_engine::model::RoleKind;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::store::Db;

/// Who is calling: a token's name, role kind and the fund it is limited to.
#[derive(Debug, Clone)]
pub struct Principal {
    /// A stable id that says nothing about the person (a token's or an account's id): what
    /// logs record, where `name` (an email, for people) would be personal data.
    pub id: String,
    pub name: String,
    pub role: RoleKind,
    /// `None`: every fund of every plan.
    pub fund: Option<String>,
    pub email: Option<String>,
}

impl Principal {
    /// Whether this principal may see applications of `fund`.
    pub fn covers(&self, fund: &str) -> bool {
        self.fund.as_deref().is_none_or(|f| f == fund)
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
    fund: Option<&str>,
    email: Option<&str>,
    now: &str,
) -> anyhow::Result<String> {
    if name.trim().is_empty() {
        anyhow::bail!("--name: give the person's or service's name");
    }
    let secret = format!("mp_{}", random_hex(24));
    sqlx::query(
        "INSERT INTO tokens (id, name, role, fund, email, hash, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(random_hex(8))
    .bind(name)
    .bind(role.name())
    .bind(fund)
    .bind(email)
    .bind(hash(&secret))
    .bind(now)
    .execute(&db.pool)
    .await?;
    Ok(secret)
}

/// Creates a token that acts as `user` (their email, role and fund) and returns its secret.
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
        let row = sqlx::query("SELECT id, name, role, fund, email FROM tokens WHERE hash = $1")
            .bind(&h)
            .fetch_optional(&db.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let role: String = row.try_get("role")?;
        let Some(role) = RoleKind::parse(&role) else {
            return Ok(None);
        };
        let p = Principal {
            id: format!("token:{}", row.try_get::<String, _>("id")?),
            name: row.try_get("name")?,
            role,
            fund: row.try_get("fund")?,
            email: row.try_get("email")?,
        };
        self.known
            .write()
            .expect("token cache")
            .insert(h, p.clone());
        Ok(Some(p))
    }
}
