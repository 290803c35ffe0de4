//! People and their browser sessions: accounts with argon2id password hashes, sessions held
//! in the database behind an HttpOnly cookie, a CSRF secret per session, and a throttle on
//! failed sign-ins.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use jiff::{SignedDuration, Timestamp};
use metroplan_engine::model::RoleKind;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::clock::stamp;
use crate::grants::{self, Grant};
use crate::store::{Db, WriteTx};
use crate::tokens::{Principal, hash, random_hex};

/// How long a browser stays signed in.
pub const SESSION_LIFETIME: SignedDuration = SignedDuration::from_hours(12);
/// Failed sign-ins allowed for one email within [`THROTTLE_WINDOW`] before it is locked.
pub const MAX_FAILURES: i64 = 5;
pub const THROTTLE_WINDOW: SignedDuration = SignedDuration::from_mins(15);
pub const LOCK_DURATION: SignedDuration = SignedDuration::from_mins(15);
/// Failed sign-ins allowed from one client address within [`THROTTLE_WINDOW`], whatever the
/// emails tried (password spraying), before the address is locked for [`LOCK_DURATION`].
pub const MAX_CLIENT_FAILURES: i64 = 20;
/// ANSSI's recommendation for a password protecting a low-stakes account is at least 12
/// characters with no composition rules; a longer passphrase is better.
pub const MIN_PASSWORD_CHARS: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("`{0}` is not an email address")]
    InvalidEmail(String),
    #[error("the password has fewer than {MIN_PASSWORD_CHARS} characters")]
    WeakPassword,
    #[error("`{0}` is not a SIRET number (14 digits)")]
    InvalidSiret(String),
    #[error("an account already exists for `{0}`")]
    EmailTaken(String),
    #[error("the name is empty")]
    EmptyName,
    #[error("plan role `{0}` is outside the account's plan or fund")]
    GrantOutsideScope(String),
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// A person who signs in.
#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: RoleKind,
    /// Staff limited to one plan; `None` for every plan (or, with a fund, that fund's id in
    /// any plan: an account created before scopes named their plan).
    pub plan: Option<String>,
    /// Staff limited to one fund; `None` for all funds.
    pub fund: Option<String>,
    pub siret: Option<String>,
    pub created_at: String,
    /// The plan roles the account holds (for its sessions and every token made for it).
    pub grants: Vec<Grant>,
}

impl User {
    /// The identity workflows record is the account's id; the email is its label.
    pub fn principal(&self) -> Principal {
        Principal {
            id: format!("user:{}", self.id),
            name: self.email.clone(),
            role: self.role,
            plan: self.plan.clone(),
            fund: self.fund.clone(),
            email: Some(self.email.clone()),
            grants: self.grants.clone(),
        }
    }

    /// The account of row `r`, without its grants ([`User::with_grants`] reads them).
    pub(crate) fn from_row(r: &AnyRow) -> Result<Option<User>, sqlx::Error> {
        let role: String = r.try_get("role")?;
        let Some(role) = RoleKind::parse(&role) else {
            return Ok(None);
        };
        Ok(Some(User {
            id: r.try_get("id")?,
            email: r.try_get("email")?,
            name: r.try_get("name")?,
            role,
            plan: r.try_get("plan")?,
            fund: r.try_get("fund")?,
            siret: r.try_get("siret")?,
            created_at: r.try_get("created_at")?,
            grants: Vec::new(),
        }))
    }

    pub(crate) async fn with_grants(mut self, db: &Db) -> Result<User, sqlx::Error> {
        self.grants = grants::of(db, &format!("user:{}", self.id)).await?;
        Ok(self)
    }
}

pub(crate) const USER_COLUMNS: &str = "id, email, name, role, plan, fund, siret, created_at";

/// Emails are compared without case and surrounding spaces.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email
            .chars()
            .any(|c| c.is_whitespace() || c == '<' || c == '>')
        && email.len() <= 254
}

/// Hashes a password with argon2id (OWASP's defaults: 19 MiB, 2 passes). CPU-bound: call
/// it from a blocking thread.
pub fn hash_password(password: &str) -> Result<String, AccountError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| AccountError::Hash(e.to_string()))
}

pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// What a new account holds.
#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub role: RoleKind,
    /// The plan a staff account is limited to, and that its fund and grants belong to.
    pub plan: Option<&'a str>,
    pub fund: Option<&'a str>,
    pub siret: Option<&'a str>,
    pub password: &'a str,
    /// Plan roles, checked against the plan by [`grants::check`].
    pub grants: &'a [Grant],
}

pub fn check_new_user(u: &NewUser<'_>) -> Result<(), AccountError> {
    let email = normalize_email(u.email);
    if !valid_email(&email) {
        return Err(AccountError::InvalidEmail(u.email.to_string()));
    }
    if u.name.trim().is_empty() {
        return Err(AccountError::EmptyName);
    }
    if u.password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AccountError::WeakPassword);
    }
    // An account limited to a plan (and fund) holds roles there only.
    if let Some(g) = u.grants.iter().find(|g| {
        u.plan.is_some_and(|p| p != g.plan) || u.fund.is_some_and(|f| g.fund.as_deref() != Some(f))
    }) {
        return Err(AccountError::GrantOutsideScope(g.role.clone()));
    }
    // What people type ("812 345 678 00019") is the SIRET: one reading for the form and here.
    if let Some(s) = u.siret
        && metroplan_engine::french::normalize_siret(s).is_none()
    {
        return Err(AccountError::InvalidSiret(s.to_string()));
    }
    Ok(())
}

/// Creates an account whose address is taken as confirmed (an administrator, the demo or the
/// command line makes it); an applicant who registers goes through
/// [`crate::confirmations::register`] instead.
pub async fn create_user(db: &Db, u: NewUser<'_>, now: Timestamp) -> Result<User, AccountError> {
    check_new_user(&u)?;
    let phc = hash_in_background(u.password).await?;
    let mut w = db.write().await?;
    let Some(user) = insert_user(&mut w, &u, &phc, true, now).await? else {
        return Err(AccountError::EmailTaken(normalize_email(u.email)));
    };
    w.commit().await?;
    Ok(user)
}

/// Hashes a password on a blocking thread (argon2 is CPU-bound).
pub(crate) async fn hash_in_background(password: &str) -> Result<String, AccountError> {
    let password = password.to_string();
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| AccountError::Hash(e.to_string()))?
}

/// Inserts a checked account and its plan roles in `w`; `None` when the email is taken.
pub(crate) async fn insert_user(
    w: &mut WriteTx,
    u: &NewUser<'_>,
    phc: &str,
    confirmed: bool,
    now: Timestamp,
) -> Result<Option<User>, AccountError> {
    let email = normalize_email(u.email);
    let user = User {
        id: random_hex(8),
        email: email.clone(),
        name: u.name.trim().to_string(),
        role: u.role,
        plan: u.plan.map(str::to_string),
        fund: u.fund.map(str::to_string),
        siret: u.siret.and_then(metroplan_engine::french::normalize_siret),
        created_at: stamp(now),
        grants: u.grants.to_vec(),
    };
    // The account and its plan roles together: an account without the grants it was given
    // would take every role of its kind. The UNIQUE constraint decides between two
    // registrations racing for one email.
    let inserted = sqlx::query(
        "INSERT INTO users (id, email, name, role, plan, fund, siret, password_hash, created_at, email_confirmed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
    )
    .bind(&user.id)
    .bind(&user.email)
    .bind(&user.name)
    .bind(user.role.name())
    .bind(&user.plan)
    .bind(&user.fund)
    .bind(&user.siret)
    .bind(phc)
    .bind(&user.created_at)
    .bind(confirmed.then_some(&user.created_at))
    .execute(&mut *w.tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Ok(None);
    }
    grants::insert(
        &mut w.tx,
        &format!("user:{}", user.id),
        &user.grants,
        &user.created_at,
    )
    .await?;
    Ok(Some(user))
}

/// Whether any account exists (a server's first start has none).
pub async fn any(db: &Db) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query("SELECT id FROM users LIMIT 1")
        .fetch_optional(&db.pool)
        .await?
        .is_some())
}

pub async fn find_by_email(db: &Db, email: &str) -> Result<Option<User>, sqlx::Error> {
    let r = sqlx::query(&format!(
        "SELECT {USER_COLUMNS} FROM users WHERE email = $1"
    ))
    .bind(normalize_email(email))
    .fetch_optional(&db.pool)
    .await?;
    match r.as_ref().map(User::from_row).transpose()?.flatten() {
        Some(u) => Ok(Some(u.with_grants(db).await?)),
        None => Ok(None),
    }
}

pub async fn all_users(db: &Db) -> Result<Vec<User>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {USER_COLUMNS} FROM users ORDER BY role, email"
    ))
    .fetch_all(&db.pool)
    .await?;
    let mut out = Vec::new();
    for r in &rows {
        if let Some(u) = User::from_row(r)? {
            out.push(u.with_grants(db).await?);
        }
    }
    Ok(out)
}

/// Why a sign-in failed.
#[derive(Debug)]
pub enum SignIn {
    Ok(User),
    /// Wrong email or password: the two are not told apart.
    Refused,
    /// Too many failures for this account: locked until then.
    Locked(Timestamp),
    /// Too many failures from this client address: locked until then.
    ClientLocked(Timestamp),
    /// Too many sign-ins being verified at once: try again shortly.
    Busy,
    /// The right password for an account an administrator disabled.
    Disabled,
    /// The right password for an account whose address is not confirmed yet.
    Unconfirmed(User),
}

/// The throttle's key for a client address; it holds no `@`, so it is never an email.
fn client_key(client: &str) -> String {
    format!("client:{client}")
}

/// The failures recorded under `key`, and until when it is locked, if it is.
/// Counts one attempt against `key` before the password is verified, in one statement, so
/// that concurrent attempts each see the ones before them (a burst cannot verify more than
/// `max` guesses before the lock). `Ok(n)`: this is the key's `n`th attempt in the window;
/// `Err(until)` when the key is locked: then nothing is verified, and the attempt that finds
/// the count over `max` sets the lock.
pub(crate) async fn reserve_attempt(
    db: &Db,
    key: &str,
    max: i64,
    now: Timestamp,
) -> Result<Result<i64, Timestamp>, sqlx::Error> {
    let now_s = stamp(now);
    let since = stamp(
        now.checked_sub(THROTTLE_WINDOW)
            .expect("fifteen minutes ago is a valid instant"),
    );
    // Stamps have a fixed width, so their order is their text's. A locked key is not counted;
    // a count older than the window starts again.
    let row = sqlx::query(
        "INSERT INTO login_failures (email, failures, first_at, locked_until) VALUES ($1, 1, $2, NULL) \
         ON CONFLICT (email) DO UPDATE SET \
         failures = CASE WHEN login_failures.locked_until > $2 THEN login_failures.failures \
                         WHEN login_failures.first_at < $3 THEN 1 \
                         ELSE login_failures.failures + 1 END, \
         first_at = CASE WHEN login_failures.locked_until > $2 THEN login_failures.first_at \
                         WHEN login_failures.first_at < $3 THEN $2 \
                         ELSE login_failures.first_at END \
         RETURNING failures, locked_until",
    )
    .bind(key)
    .bind(&now_s)
    .bind(&since)
    .fetch_one(&db.pool)
    .await?;
    let until: Option<String> = row.try_get("locked_until")?;
    if let Some(until) = until.as_deref().and_then(parse_ts).filter(|u| *u > now) {
        return Ok(Err(until));
    }
    let failures: i64 = row.try_get("failures")?;
    if failures > max {
        return Ok(Err(lock(db, key, now).await?));
    }
    Ok(Ok(failures))
}

/// Locks `key` for [`LOCK_DURATION`] from `now`; the count starts again after it.
async fn lock(db: &Db, key: &str, now: Timestamp) -> Result<Timestamp, sqlx::Error> {
    let until = now
        .checked_add(LOCK_DURATION)
        .expect("fifteen minutes from now is a valid instant");
    sqlx::query("UPDATE login_failures SET failures = 0, locked_until = $1 WHERE email = $2")
        .bind(stamp(until))
        .bind(key)
        .execute(&db.pool)
        .await?;
    Ok(until)
}

fn parse_ts(s: &str) -> Option<Timestamp> {
    s.parse().ok()
}

/// Checks a password, counting attempts per email and per client address (when known) before
/// verifying it; the hash is verified even for an unknown email so that timing does not tell
/// which emails have accounts. At most [`VERIFICATIONS`] hashes are verified at once (each
/// holds argon2's memory): beyond, after a short wait, the answer is [`SignIn::Busy`].
pub async fn sign_in(
    db: &Db,
    email: &str,
    password: &str,
    client: Option<&str>,
    now: Timestamp,
) -> Result<SignIn, AccountError> {
    let email = normalize_email(email);
    let from = client.map(client_key);
    let from_count = match &from {
        Some(key) => match reserve_attempt(db, key, MAX_CLIENT_FAILURES, now).await? {
            Ok(n) => Some((key, n)),
            Err(until) => return Ok(SignIn::ClientLocked(until)),
        },
        None => None,
    };
    let email_count = match reserve_attempt(db, &email, MAX_FAILURES, now).await? {
        Ok(n) => n,
        Err(until) => return Ok(SignIn::Locked(until)),
    };
    let row = sqlx::query(&format!(
        "SELECT {USER_COLUMNS}, password_hash, disabled_at, email_confirmed_at FROM users WHERE email = $1"
    ))
    .bind(&email)
    .fetch_optional(&db.pool)
    .await?;
    let (user, phc, disabled, confirmed) = match &row {
        Some(r) => (
            User::from_row(r)?,
            r.try_get::<String, _>("password_hash")?,
            r.try_get::<Option<String>, _>("disabled_at")?.is_some(),
            r.try_get::<Option<String>, _>("email_confirmed_at")?
                .is_some(),
        ),
        None => (None, dummy_hash().to_string(), false, true),
    };
    let Ok(Ok(_permit)) =
        tokio::time::timeout(VERIFICATION_WAIT, db.verification_slots().acquire()).await
    else {
        // Not verified: the attempt is held against neither the account nor the address.
        release(db, &email).await?;
        if let Some((key, _)) = from_count {
            release(db, key).await?;
        }
        return Ok(SignIn::Busy);
    };
    let password = password.to_string();
    let ok = tokio::task::spawn_blocking(move || verify_password(&password, &phc))
        .await
        .unwrap_or(false);
    match user {
        // Told only to whoever gives the right password: the rest is "wrong email or
        // password", as for any account.
        Some(_) if ok && disabled => {
            if let Some((key, _)) = from_count {
                release(db, key).await?;
            }
            release(db, &email).await?;
            Ok(SignIn::Disabled)
        }
        // Counted as a failure, as it is answered: the lock must come after as many
        // attempts as for a wrong password, or its timing would tell the two apart.
        Some(u) if ok && !confirmed => {
            failed(db, &email, email_count, from_count, now).await?;
            Ok(SignIn::Unconfirmed(u))
        }
        Some(u) if ok => {
            sqlx::query("DELETE FROM login_failures WHERE email = $1")
                .bind(&email)
                .execute(&db.pool)
                .await?;
            // A success from an address is not one of its failures.
            if let Some((key, _)) = from_count {
                release(db, key).await?;
            }
            Ok(SignIn::Ok(u.with_grants(db).await?))
        }
        _ => {
            failed(db, &email, email_count, from_count, now).await?;
            Ok(SignIn::Refused)
        }
    }
}

/// A failed attempt, already counted: the failure that reaches the limit locks at once.
async fn failed(
    db: &Db,
    email: &str,
    email_count: i64,
    from_count: Option<(&String, i64)>,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    if email_count >= MAX_FAILURES {
        lock(db, email, now).await?;
    }
    if let Some((key, n)) = from_count
        && n >= MAX_CLIENT_FAILURES
    {
        lock(db, key, now).await?;
    }
    Ok(())
}

/// Gives back one counted attempt of `key` (it was not a failure).
async fn release(db: &Db, key: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE login_failures SET failures = failures - 1 WHERE email = $1 AND failures > 0",
    )
    .bind(key)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// How many password hashes are verified at once. Each argon2 verification holds its memory
/// cost (19 MiB with the default parameters) for its duration: 8 at once bound that to about
/// 150 MiB whatever the number of sign-ins in flight.
pub const VERIFICATIONS: usize = 8;
/// How long a sign-in waits for a verification slot before it is told to retry.
pub const VERIFICATION_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// The hash of a random password, verified against when the email is unknown.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password(&random_hex(16)).unwrap_or_default())
}

/// A signed-in browser.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: User,
    pub csrf: String,
}

/// Opens a session; returns the cookie's secret (only its hash is stored) and the session.
pub async fn open_session(
    db: &Db,
    user: User,
    now: Timestamp,
) -> Result<(String, Session), sqlx::Error> {
    open_session_from(db, user, None, now).await
}

/// Opens a session; `via` is the OpenID provider and the ID token it was opened with, kept to
/// end the provider's session at sign-out.
pub async fn open_session_from(
    db: &Db,
    user: User,
    via: Option<(&str, &str)>,
    now: Timestamp,
) -> Result<(String, Session), sqlx::Error> {
    // Expired sessions are useless; sign-ins are rare enough to sweep them here.
    sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
        .bind(stamp(now))
        .execute(&db.pool)
        .await?;
    let secret = random_hex(32);
    let csrf = random_hex(16);
    let expires = now
        .checked_add(SESSION_LIFETIME)
        .expect("twelve hours from now is a valid instant");
    sqlx::query(
        "INSERT INTO sessions (id, user_id, csrf, created_at, expires_at, oidc_provider, id_token) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(hash(&secret))
    .bind(&user.id)
    .bind(&csrf)
    .bind(stamp(now))
    .bind(stamp(expires))
    .bind(via.map(|v| v.0))
    .bind(via.map(|v| v.1))
    .execute(&db.pool)
    .await?;
    Ok((secret, Session { user, csrf }))
}

pub async fn session(
    db: &Db,
    secret: &str,
    now: Timestamp,
) -> Result<Option<Session>, sqlx::Error> {
    let r = sqlx::query(
        "SELECT u.id, u.email, u.name, u.role, u.plan, u.fund, u.siret, u.created_at, s.csrf, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1 AND u.disabled_at IS NULL",
    )
    .bind(hash(secret))
    .fetch_optional(&db.pool)
    .await?;
    let Some(r) = r else { return Ok(None) };
    let expires: String = r.try_get("expires_at")?;
    if parse_ts(&expires).is_none_or(|e| e <= now) {
        return Ok(None);
    }
    let Some(user) = User::from_row(&r)? else {
        return Ok(None);
    };
    Ok(Some(Session {
        user: user.with_grants(db).await?,
        csrf: r.try_get("csrf")?,
    }))
}

/// Ends a session; for one opened through an OpenID provider, returns the provider and the
/// ID token, to end the provider's session too.
pub async fn close_session(db: &Db, secret: &str) -> Result<Option<(String, String)>, sqlx::Error> {
    let via = sqlx::query("DELETE FROM sessions WHERE id = $1 RETURNING oidc_provider, id_token")
        .bind(hash(secret))
        .fetch_optional(&db.pool)
        .await?;
    Ok(match via {
        Some(r) => match (
            r.try_get::<Option<String>, _>("oidc_provider")?,
            r.try_get::<Option<String>, _>("id_token")?,
        ) {
            (Some(p), Some(t)) => Some((p, t)),
            _ => None,
        },
        None => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dummy_hash_is_a_valid_argon2id_hash() {
        assert!(PasswordHash::new(dummy_hash()).is_ok());
        assert!(!verify_password("anything", dummy_hash()));
    }

    #[test]
    fn a_password_verifies_against_its_hash_only() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterz", &h));
    }

    #[test]
    fn new_accounts_are_checked() {
        let ok = NewUser {
            email: " Asso@Example.org ",
            name: "Asso",
            role: RoleKind::Applicant,
            plan: None,
            fund: None,
            siret: Some("12345678901234"),
            password: "une phrase de passe",
            grants: &[],
        };
        assert!(check_new_user(&ok).is_ok());
        assert_eq!(normalize_email(ok.email), "asso@example.org");
        let bad = |f: fn(&mut NewUser<'static>)| {
            let mut u = ok.clone();
            f(&mut u);
            check_new_user(&u).unwrap_err().to_string()
        };
        assert!(bad(|u| u.email = "pas-un-email").contains("email"));
        assert!(bad(|u| u.password = "court").contains("12"));
        assert!(bad(|u| u.siret = Some("1234")).contains("SIRET"));
        // Spaces between the groups are what people type: accepted.
        let mut spaced = ok.clone();
        spaced.siret = Some("123 456 789 01234");
        assert!(check_new_user(&spaced).is_ok());
        assert!(bad(|u| u.name = "  ").contains("name"));
    }
}
