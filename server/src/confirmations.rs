//! What is done through a link sent by email: confirming the address of an applicant who
//! registers, and choosing a new password when it is forgotten. A link holds a random secret
//! of which only the hash is kept in `email_links`; the message holding it stays in the
//! outbox until it is sent, then its text is dropped. A link is used once and expires. What a person is told does
//! not depend on whether the address has an account: registering with an address already in
//! use and asking a reset for an unknown one get the same page as anyone else, and the
//! address's owner is the one told, by email.

use jiff::{SignedDuration, Timestamp};
use metroplan_engine::french::typeset;
use metroplan_engine::model::RoleKind;
use sqlx::Row;

use crate::accounts::{self, AccountError, NewUser, User, check_new_user, normalize_email};
use crate::audit::NewEvent;
use crate::clock::stamp;
use crate::store::{Db, WriteTx};
use crate::tokens::{hash, random_hex};

/// How long a password-reset link works.
pub const RESET_LIFETIME: SignedDuration = SignedDuration::from_hours(1);
/// How long a confirmation link works.
pub const CONFIRM_LIFETIME: SignedDuration = SignedDuration::from_hours(24);
/// Account messages sent to one address within an hour; beyond, nothing more is sent (the
/// page says the same), so the service cannot be made to flood someone's mailbox.
pub const MAILS_PER_HOUR: i64 = 3;
/// Reset requests one client address may make within the sign-in throttle's window.
pub const MAX_CLIENT_REQUESTS: i64 = 20;

/// What a link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Reset,
    Confirm,
}

impl Purpose {
    fn name(self) -> &'static str {
        match self {
            Purpose::Reset => "reset",
            Purpose::Confirm => "confirm",
        }
    }

    fn lifetime(self) -> SignedDuration {
        match self {
            Purpose::Reset => RESET_LIFETIME,
            Purpose::Confirm => CONFIRM_LIFETIME,
        }
    }

    /// The page the link opens.
    pub fn path(self) -> &'static str {
        match self {
            Purpose::Reset => "/mot-de-passe/nouveau",
            Purpose::Confirm => "/inscription/confirmer",
        }
    }
}

/// The address the links in emails start with (the pages' public address; empty when the
/// server does not know it, which only tests do).
#[derive(Debug, Clone, Copy)]
pub struct Site<'a> {
    pub public_url: &'a str,
    /// The service's name, which the messages name: a person must know who writes.
    pub service: &'a str,
}

impl Site<'_> {
    fn link(&self, purpose: Purpose, secret: &str) -> String {
        format!("{}{}?jeton={secret}", self.public_url, purpose.path())
    }
}

/// Makes a link for `user_id`; the secret goes in the email, its hash in the table.
async fn issue(
    w: &mut WriteTx,
    user_id: &str,
    purpose: Purpose,
    now: Timestamp,
) -> Result<String, sqlx::Error> {
    let secret = random_hex(32);
    let expires = now
        .checked_add(purpose.lifetime())
        .expect("a day from now is a valid instant");
    sqlx::query(
        "INSERT INTO email_links (id, user_id, purpose, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(hash(&secret))
    .bind(user_id)
    .bind(purpose.name())
    .bind(stamp(now))
    .bind(stamp(expires))
    .execute(&mut *w.tx)
    .await?;
    Ok(secret)
}

/// Uses a link: the account it was made for, if the secret is one of `purpose`'s, unused and
/// unexpired. One statement marks it used, so two tabs racing with one link get one success.
async fn take(
    w: &mut WriteTx,
    secret: &str,
    purpose: Purpose,
    now: Timestamp,
) -> Result<Option<String>, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE email_links SET used_at = $1 WHERE id = $2 AND purpose = $3 AND used_at IS NULL AND expires_at > $1 RETURNING user_id",
    )
    .bind(stamp(now))
    .bind(hash(secret))
    .bind(purpose.name())
    .fetch_optional(&mut *w.tx)
    .await?;
    r.map(|r| r.try_get("user_id")).transpose()
}

/// Whether another account message may go to `recipient` now (see [`MAILS_PER_HOUR`]).
async fn may_mail(w: &mut WriteTx, recipient: &str, now: Timestamp) -> Result<bool, sqlx::Error> {
    let since = stamp(
        now.checked_sub(SignedDuration::from_hours(1))
            .expect("an hour ago is a valid instant"),
    );
    let r = sqlx::query(
        "SELECT COUNT(*) AS n FROM outbox WHERE application_id IS NULL AND recipient = $1 AND created_at > $2",
    )
    .bind(recipient)
    .bind(since)
    .fetch_one(&mut *w.tx)
    .await?;
    Ok(r.try_get::<i64, _>("n")? < MAILS_PER_HOUR)
}

/// Queues an account message if [`may_mail`] allows it; `true` when queued. The link, if
/// any, stands on its own line between the two parts of the text.
async fn mail(
    w: &mut WriteTx,
    to: &str,
    subject: &str,
    text: [&str; 2],
    link: Option<&str>,
    site: Site<'_>,
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    if !may_mail(w, to, now).await? {
        return Ok(false);
    }
    let subject = format!("{subject} – {}", site.service);
    queue_text(w, to, &subject, text, link, Some(site.service), &stamp(now)).await?;
    Ok(true)
}

/// Queues an account message: the prose typeset, the link (not typeset: a no-break space
/// would break it) on its own line between the text's two parts.
async fn queue_text(
    w: &mut WriteTx,
    to: &str,
    subject: &str,
    text: [&str; 2],
    link: Option<&str>,
    service: Option<&str>,
    now: &str,
) -> Result<(), sqlx::Error> {
    let mut body = format!("Bonjour,\n\n{}\n\n", typeset(text[0]));
    if let Some(l) = link {
        body.push_str(l);
        body.push_str("\n\n");
    }
    body.push_str(&typeset(text[1]));
    body.push('\n');
    if let Some(service) = service {
        body.push_str(&format!("\n{service}\n"));
    }
    crate::notify::queue(&mut w.tx, None, to, subject, &body, now).await
}

/// Tells a person what an administrator did to their access (an account disabled or enabled
/// again, a token revoked), in the transaction that does it; not throttled: administrators
/// do not act in bursts, and each act is one the person must learn of.
pub async fn access_notice(
    w: &mut WriteTx,
    to: &str,
    notice: AccessNotice,
    now: &str,
) -> Result<(), sqlx::Error> {
    let (subject, text) = match notice {
        AccessNotice::Disabled => (
            "Votre compte a été désactivé",
            [
                "Un administrateur a désactivé votre compte : vous ne pouvez plus vous y connecter, vos sessions ont été fermées et vos jetons d'accès révoqués.",
                "Pour savoir pourquoi ou pour le faire réactiver, écrivez au service indiqué sur la page « Aide et contact ». Vos dossiers sont conservés.",
            ],
        ),
        AccessNotice::Enabled => (
            "Votre compte est de nouveau actif",
            [
                "Un administrateur a réactivé votre compte : vous pouvez de nouveau vous y connecter avec votre mot de passe.",
                "Les jetons d'accès révoqués le restent ; demandez-en un nouveau si vous en avez besoin.",
            ],
        ),
        AccessNotice::TokenRevoked => (
            "Un jeton d'accès a été révoqué",
            [
                "Un administrateur a révoqué un jeton d'accès de votre compte : les programmes qui l'utilisaient ne peuvent plus accéder au service.",
                "Votre mot de passe et vos autres jetons ne changent pas. Si vous n'attendiez pas cette révocation, écrivez au service indiqué sur la page « Aide et contact ».",
            ],
        ),
    };
    queue_text(w, to, subject, text, None, None, now).await
}

/// What [`access_notice`] tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessNotice {
    Disabled,
    Enabled,
    TokenRevoked,
}

fn event(user_id: &str, role: &str, action: &str, now: Timestamp) -> NewEvent {
    NewEvent {
        application_id: None,
        actor: format!("user:{user_id}"),
        role: role.into(),
        at: stamp(now),
        action: action.into(),
        from_state: None,
        to_state: None,
        payload: "{}".into(),
        reason: None,
    }
}

/// What a registration did. The person who registered is told the same in every case
/// ("a message was sent to this address"); the difference is for the logs and the tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registered {
    /// A new account, waiting for its address to be confirmed.
    New,
    /// An account not confirmed yet, registered again: its details are replaced by these
    /// (whoever registered first did not prove the address was theirs) and a new link sent.
    Renewed,
    /// The address already has a confirmed account: its owner is told so by email.
    Existing,
    /// Nothing sent: this address had its share of messages for the hour.
    Throttled,
    /// Too many registrations from this client address: until then (nothing was done).
    ClientLocked(Timestamp),
}

const CONFIRM_TEXT: [&str; 2] = [
    "Pour terminer la création de votre compte porteur de projet, confirmez votre adresse électronique en ouvrant ce lien dans les 24 heures :",
    "Si vous n'avez pas demandé la création de ce compte, ignorez ce message : sans confirmation, le compte ne sert à rien.",
];
const EXISTING_TEXT: [&str; 2] = [
    "Quelqu'un, peut-être vous, a demandé à créer un compte porteur de projet avec cette adresse électronique.",
    "Un compte existe déjà pour cette adresse : connectez-vous avec votre mot de passe habituel, ou, si vous l'avez oublié, choisissez-en un nouveau depuis la page « Mot de passe oublié ». Si vous n'êtes pas à l'origine de cette demande, ignorez ce message : votre compte n'a pas changé.",
];
const RESET_TEXT: [&str; 2] = [
    "Une demande de nouveau mot de passe a été faite pour votre compte. Pour choisir un nouveau mot de passe, ouvrez ce lien dans l'heure qui suit :",
    "Le lien ne sert qu'une fois. Si vous n'êtes pas à l'origine de cette demande, ignorez ce message : votre mot de passe reste inchangé.",
];

/// Registers an applicant: the account is usable once the link sent to its address is
/// followed. The password is hashed whatever the address, so that the time taken does not
/// tell either.
pub async fn register(
    db: &Db,
    u: NewUser<'_>,
    client: Option<&str>,
    site: Site<'_>,
    now: Timestamp,
) -> Result<Registered, AccountError> {
    check_new_user(&u)?;
    // Each registration costs a hash and may send a message: bounded per client address.
    if let Some(c) = client
        && let Err(until) =
            accounts::reserve_attempt(db, &format!("register:{c}"), MAX_CLIENT_REQUESTS, now)
                .await?
    {
        return Ok(Registered::ClientLocked(until));
    }
    let phc = accounts::hash_in_background(u.password).await?;
    let email = normalize_email(u.email);
    let mut w = db.write().await?;
    let existing = sqlx::query("SELECT id, email_confirmed_at FROM users WHERE email = $1")
        .bind(&email)
        .fetch_optional(&mut *w.tx)
        .await?;
    let outcome = match existing {
        Some(r)
            if r.try_get::<Option<String>, _>("email_confirmed_at")?
                .is_some() =>
        {
            if mail(
                &mut w,
                &email,
                "Votre compte existe déjà",
                EXISTING_TEXT,
                None,
                site,
                now,
            )
            .await?
            {
                Registered::Existing
            } else {
                Registered::Throttled
            }
        }
        Some(r) => {
            let id: String = r.try_get("id")?;
            if !may_mail(&mut w, &email, now).await? {
                return Ok(Registered::Throttled);
            }
            // Links first, then the account, as `confirm` locks them: two transactions never
            // wait on each other. The links sent for the details replaced must not confirm
            // these.
            sqlx::query(
                "DELETE FROM email_links WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL",
            )
            .bind(&id)
            .bind(Purpose::Confirm.name())
            .execute(&mut *w.tx)
            .await?;
            // Still unconfirmed: a confirmation that committed since the SELECT wins.
            let replaced = sqlx::query("UPDATE users SET name = $1, siret = $2, password_hash = $3 WHERE id = $4 AND email_confirmed_at IS NULL")
                .bind(u.name.trim())
                .bind(u.siret.and_then(metroplan_engine::french::normalize_siret))
                .bind(&phc)
                .bind(&id)
                .execute(&mut *w.tx)
                .await?
                .rows_affected();
            if replaced == 0 {
                return Ok(Registered::Throttled);
            }
            send_confirmation(&mut w, &id, &email, site, now).await?;
            w.record(event(
                &id,
                RoleKind::Applicant.name(),
                "account-register",
                now,
            ));
            Registered::Renewed
        }
        None => {
            if !may_mail(&mut w, &email, now).await? {
                return Ok(Registered::Throttled);
            }
            match accounts::insert_user(&mut w, &u, &phc, false, now).await? {
                Some(user) => {
                    send_confirmation(&mut w, &user.id, &email, site, now).await?;
                    w.record(event(
                        &user.id,
                        RoleKind::Applicant.name(),
                        "account-register",
                        now,
                    ));
                    Registered::New
                }
                // Another registration for this address committed in between.
                None => Registered::Throttled,
            }
        }
    };
    w.commit().await?;
    Ok(outcome)
}

async fn send_confirmation(
    w: &mut WriteTx,
    user_id: &str,
    email: &str,
    site: Site<'_>,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    let secret = issue(w, user_id, Purpose::Confirm, now).await?;
    let link = site.link(Purpose::Confirm, &secret);
    mail(
        w,
        email,
        "Confirmez votre adresse électronique",
        CONFIRM_TEXT,
        Some(&link),
        site,
        now,
    )
    .await?;
    Ok(())
}

/// Sends a new confirmation link to an account that signed in with the right password but
/// has not confirmed its address (the first message may be lost).
pub async fn resend_confirmation(
    db: &Db,
    user: &User,
    site: Site<'_>,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    let mut w = db.write().await?;
    if may_mail(&mut w, &user.email, now).await? {
        send_confirmation(&mut w, &user.id, &user.email, site, now).await?;
    }
    w.commit().await
}

/// What following a confirmation link did.
#[derive(Debug)]
pub enum Confirmed {
    /// The address is confirmed, and every confirmation link of the account is used up.
    Done(User),
    /// The password is not the one chosen at registration (the link is not used): whoever
    /// registered last with this address chose it, and only they may confirm.
    WrongPassword,
    /// The link is unknown, used or expired, or the account is confirmed or disabled.
    InvalidLink,
}

/// Confirms the address a link was sent to, given the password chosen at registration: the
/// link proves the address, the password proves whose registration it is (someone else may
/// have registered the same address since the link was sent).
pub async fn confirm(
    db: &Db,
    secret: &str,
    password: &str,
    now: Timestamp,
) -> Result<Confirmed, AccountError> {
    let found = sqlx::query(
        "SELECT u.id, u.email, u.password_hash FROM email_links l JOIN users u ON u.id = l.user_id \
         WHERE l.id = $1 AND l.purpose = $2 AND l.used_at IS NULL AND l.expires_at > $3 \
         AND u.disabled_at IS NULL AND u.email_confirmed_at IS NULL",
    )
    .bind(hash(secret))
    .bind(Purpose::Confirm.name())
    .bind(stamp(now))
    .fetch_optional(&db.pool)
    .await?;
    let Some(found) = found else {
        return Ok(Confirmed::InvalidLink);
    };
    let (user_id, email): (String, String) = (found.try_get("id")?, found.try_get("email")?);
    let phc: String = found.try_get("password_hash")?;
    let (password, checked) = (password.to_string(), phc.clone());
    let ok = tokio::task::spawn_blocking(move || accounts::verify_password(&password, &checked))
        .await
        .unwrap_or(false);
    if !ok {
        return Ok(Confirmed::WrongPassword);
    }
    let mut w = db.write().await?;
    if take(&mut w, secret, Purpose::Confirm, now)
        .await?
        .as_deref()
        != Some(user_id.as_str())
    {
        return Ok(Confirmed::InvalidLink);
    }
    // The password checked above must still be the account's: a registration may have
    // replaced it in between.
    let confirmed = sqlx::query(
        "UPDATE users SET email_confirmed_at = $1 WHERE id = $2 AND email_confirmed_at IS NULL AND disabled_at IS NULL AND password_hash = $3",
    )
    .bind(stamp(now))
    .bind(&user_id)
    .bind(&phc)
    .execute(&mut *w.tx)
    .await?
    .rows_affected();
    if confirmed == 0 {
        return Ok(Confirmed::InvalidLink);
    }
    sqlx::query("UPDATE email_links SET used_at = $1 WHERE user_id = $2 AND purpose = $3 AND used_at IS NULL")
        .bind(stamp(now))
        .bind(&user_id)
        .bind(Purpose::Confirm.name())
        .execute(&mut *w.tx)
        .await?;
    w.record(event(
        &user_id,
        RoleKind::Applicant.name(),
        "email-confirm",
        now,
    ));
    w.commit().await?;
    match accounts::find_by_email(db, &email).await? {
        Some(u) => Ok(Confirmed::Done(u)),
        None => Ok(Confirmed::InvalidLink),
    }
}

/// What a reset request did; the person is told the same unless their address is locked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetAsked {
    /// A link was sent, if the address has an account that is not disabled.
    Done,
    /// Too many requests from this client address: until then.
    ClientLocked(Timestamp),
}

/// Sends a password-reset link to `email` if it has an account (an applicant's or staff's)
/// that is not disabled; the answer is the same either way.
pub async fn ask_reset(
    db: &Db,
    email: &str,
    client: Option<&str>,
    site: Site<'_>,
    now: Timestamp,
) -> Result<ResetAsked, sqlx::Error> {
    if let Some(c) = client
        && let Err(until) =
            accounts::reserve_attempt(db, &format!("reset:{c}"), MAX_CLIENT_REQUESTS, now).await?
    {
        return Ok(ResetAsked::ClientLocked(until));
    }
    let email = normalize_email(email);
    let mut w = db.write().await?;
    let r = sqlx::query("SELECT id FROM users WHERE email = $1 AND disabled_at IS NULL")
        .bind(&email)
        .fetch_optional(&mut *w.tx)
        .await?;
    if let Some(r) = r {
        let id: String = r.try_get("id")?;
        if may_mail(&mut w, &email, now).await? {
            let secret = issue(&mut w, &id, Purpose::Reset, now).await?;
            let link = site.link(Purpose::Reset, &secret);
            mail(
                &mut w,
                &email,
                "Choisir un nouveau mot de passe",
                RESET_TEXT,
                Some(&link),
                site,
                now,
            )
            .await?;
        }
    }
    w.commit().await?;
    Ok(ResetAsked::Done)
}

/// Whether a reset link can still be used (the page asks for the new password only then).
pub async fn reset_link_valid(db: &Db, secret: &str, now: Timestamp) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "SELECT user_id FROM email_links WHERE id = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3",
    )
    .bind(hash(secret))
    .bind(Purpose::Reset.name())
    .bind(stamp(now))
    .fetch_optional(&db.pool)
    .await?
    .is_some())
}

/// What a new password through a reset link did.
#[derive(Debug)]
pub enum Reset {
    /// Changed: every session of the account ended, its sign-in throttle cleared, its
    /// address confirmed (the link reached it).
    Done(User),
    /// The link is unknown, used or expired, or its account was disabled since.
    InvalidLink,
    /// The password is too short (the link is not used).
    Weak,
}

pub async fn reset_password(
    db: &Db,
    secret: &str,
    password: &str,
    now: Timestamp,
) -> Result<Reset, AccountError> {
    if password.chars().count() < accounts::MIN_PASSWORD_CHARS {
        return Ok(Reset::Weak);
    }
    let phc = accounts::hash_in_background(password).await?;
    let mut w = db.write().await?;
    let Some(user_id) = take(&mut w, secret, Purpose::Reset, now).await? else {
        return Ok(Reset::InvalidLink);
    };
    let r = sqlx::query(
        "UPDATE users SET password_hash = $1, email_confirmed_at = COALESCE(email_confirmed_at, $2) WHERE id = $3 AND disabled_at IS NULL RETURNING email, role",
    )
    .bind(&phc)
    .bind(stamp(now))
    .bind(&user_id)
    .fetch_optional(&mut *w.tx)
    .await?;
    let Some(r) = r else {
        return Ok(Reset::InvalidLink);
    };
    let email: String = r.try_get("email")?;
    let role: String = r.try_get("role")?;
    // Whoever knew the old password is signed out everywhere.
    sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(&user_id)
        .execute(&mut *w.tx)
        .await?;
    sqlx::query("DELETE FROM login_failures WHERE email = $1")
        .bind(&email)
        .execute(&mut *w.tx)
        .await?;
    // The account's other links stop working too, confirmation links included.
    sqlx::query("UPDATE email_links SET used_at = $1 WHERE user_id = $2 AND used_at IS NULL")
        .bind(stamp(now))
        .bind(&user_id)
        .execute(&mut *w.tx)
        .await?;
    w.record(event(&user_id, &role, "password-reset", now));
    w.commit().await?;
    match accounts::find_by_email(db, &email).await? {
        Some(u) => Ok(Reset::Done(u)),
        None => Ok(Reset::InvalidLink),
    }
}
