//! `metroplan token list|revoke`, `metroplan user disable|enable` and `metroplan user
//! sessions|sign-out`: an administrator ends (or gives back) access, each change recorded in
//! the audit trail.

use std::process::ExitCode;

use metroplan_server::access::{self, Revoked, Sessions};
use metroplan_server::clock::stamp;
use metroplan_server::store::Db;

use super::serve::{DbArgs, runtime};

/// Who the audit trail records for a change made at the command line.
const CLI_ACTOR: &str = "cli";

/// Every token, one line each (never a secret: only hashes are stored).
pub fn list(db: DbArgs) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async move {
        let db = Db::connect(&db.database).await?;
        let rows = access::tokens(&db).await?;
        if rows.is_empty() {
            eprintln!("metroplan: no token");
        }
        for t in rows {
            let scope = match (&t.plan, &t.fund) {
                (Some(p), Some(f)) => format!("{p}/{f}"),
                (Some(p), None) => format!("{p}/*"),
                _ => "*".into(),
            };
            let state = match &t.revoked_at {
                Some(at) => format!("revoked {at}"),
                None => "active".into(),
            };
            let who = match &t.user {
                Some(u) => format!("user {u}"),
                None => format!("service {}", t.name),
            };
            println!(
                "{}\t{who}\t{}\t{scope}\tcreated {}\t{state}",
                t.id, t.role, t.created_at
            );
        }
        anyhow::Ok(ExitCode::SUCCESS)
    })
}

pub fn revoke(id: &str, db: DbArgs) -> anyhow::Result<ExitCode> {
    let id = id.strip_prefix("token:").unwrap_or(id).to_string();
    runtime()?.block_on(async move {
        let db = Db::connect(&db.database).await?;
        let now = stamp(jiff::Timestamp::now());
        match access::revoke_token(&db, &id, CLI_ACTOR, &now).await? {
            Revoked::Now => {
                eprintln!(
                    "metroplan: token {id} revoked; a running server refuses it within {} s",
                    metroplan_server::tokens::RECHECK.as_secs()
                );
                anyhow::Ok(ExitCode::SUCCESS)
            }
            Revoked::Already => {
                eprintln!("metroplan: token {id} was already revoked");
                anyhow::Ok(ExitCode::SUCCESS)
            }
            Revoked::Unknown => {
                anyhow::bail!("no token `{id}` (see `metroplan token list`)")
            }
        }
    })
}

pub fn disable(email: &str, db: DbArgs) -> anyhow::Result<ExitCode> {
    let email = email.to_string();
    runtime()?.block_on(async move {
        let db = Db::connect(&db.database).await?;
        let now = stamp(jiff::Timestamp::now());
        let Some(d) = access::disable_user(&db, &email, CLI_ACTOR, &now).await? else {
            anyhow::bail!("no account for `{email}`");
        };
        eprintln!(
            "metroplan: account `{email}` disabled: {} session(s) ended, {} token(s) revoked",
            d.sessions, d.tokens
        );
        anyhow::Ok(ExitCode::SUCCESS)
    })
}

pub fn enable(email: &str, db: DbArgs) -> anyhow::Result<ExitCode> {
    let email = email.to_string();
    runtime()?.block_on(async move {
        let db = Db::connect(&db.database).await?;
        let now = stamp(jiff::Timestamp::now());
        if !access::enable_user(&db, &email, CLI_ACTOR, &now).await? {
            anyhow::bail!("no account for `{email}`");
        }
        eprintln!("metroplan: account `{email}` enabled (its revoked tokens stay revoked)");
        anyhow::Ok(ExitCode::SUCCESS)
    })
}

/// The open sessions (of one account with `email`), one line each: its id, whose, opened,
/// expires.
pub fn sessions(email: Option<&str>, db: DbArgs) -> anyhow::Result<ExitCode> {
    let email = email.map(str::to_string);
    runtime()?.block_on(async move {
        let db = Db::connect(&db.database).await?;
        let now = stamp(jiff::Timestamp::now());
        let rows = access::sessions(&db, email.as_deref(), &now).await?;
        if rows.is_empty() {
            eprintln!("metroplan: no open session");
        }
        for s in rows {
            println!(
                "{}	{}	opened {}	expires {}",
                s.id, s.email, s.created_at, s.expires_at
            );
        }
        anyhow::Ok(ExitCode::SUCCESS)
    })
}

/// Ends every session of the account of `email`, or the one session `--session` names.
pub fn sign_out(
    email: Option<&str>,
    session: Option<&str>,
    db: DbArgs,
) -> anyhow::Result<ExitCode> {
    let (email, session) = (email.map(str::to_string), session.map(str::to_string));
    runtime()?.block_on(async move {
        let db = Db::connect(&db.database).await?;
        let now = stamp(jiff::Timestamp::now());
        let which = match (&email, &session) {
            (_, Some(id)) => Sessions::One(id),
            (Some(e), None) => Sessions::OfAccount(e),
            (None, None) => anyhow::bail!("give an account's email or --session ID"),
        };
        let ended = access::end_sessions(&db, which, CLI_ACTOR, &now).await?;
        eprintln!("metroplan: {ended} session(s) ended");
        anyhow::Ok(ExitCode::SUCCESS)
    })
}
