//! `metroplan user link|unlink|identities`: an administrator links an OpenID provider's
//! identity to an account (an agent whose provider asserts no verified email, or another
//! email than the account's), removes a link, lists them. Each change is in the audit trail.

use std::path::PathBuf;
use std::process::ExitCode;

use metroplan_server::oidc::Providers;
use metroplan_server::oidc::link::{self, Admin};
use metroplan_server::store::Db;

use super::serve::{DbArgs, runtime};

const CLI_ACTOR: &str = "cli";

#[derive(Debug, clap::Args)]
pub struct Link {
    /// The account's email.
    email: String,
    /// The provider's id in the providers' file.
    #[arg(long)]
    provider: String,
    /// The identity's `sub` at the provider (the server logs it when an identity opens no
    /// account).
    #[arg(long)]
    subject: String,
    /// The providers' file the server is started with (`serve --oidc`).
    #[arg(long, env = "METROPLAN_OIDC", value_name = "FILE")]
    oidc: PathBuf,
    #[command(flatten)]
    db: DbArgs,
}

#[derive(Debug, clap::Args)]
pub struct Unlink {
    #[arg(long)]
    provider: String,
    #[arg(long)]
    subject: String,
    #[command(flatten)]
    db: DbArgs,
}

pub fn link(a: Link) -> anyhow::Result<ExitCode> {
    let providers = Providers::load(&a.oidc)?;
    let Some(provider) = providers.get(&a.provider) else {
        anyhow::bail!(
            "no provider `{}` in {} (declared: {})",
            a.provider,
            a.oidc.display(),
            providers
                .all()
                .iter()
                .map(|p| p.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    };
    runtime()?.block_on(async move {
        let db = Db::connect(&a.db.database).await?;
        match link::link_by_admin(
            &db,
            provider,
            &a.subject,
            &a.email,
            CLI_ACTOR,
            jiff::Timestamp::now(),
        )
        .await?
        {
            Admin::Done => {
                eprintln!(
                    "metroplan: identity `{}` of {} opens the account `{}`",
                    a.subject, a.provider, a.email
                );
                anyhow::Ok(ExitCode::SUCCESS)
            }
            Admin::NoSuchAccount | Admin::NotLinked => {
                anyhow::bail!("no account for `{}`", a.email)
            }
            Admin::LinkedElsewhere => anyhow::bail!(
                "identity `{}` of {} opens another account: `user unlink` it first",
                a.subject,
                a.provider
            ),
        }
    })
}

pub fn unlink(a: Unlink) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async move {
        let db = Db::connect(&a.db.database).await?;
        match link::unlink(
            &db,
            &a.provider,
            &a.subject,
            CLI_ACTOR,
            jiff::Timestamp::now(),
        )
        .await?
        {
            Admin::NotLinked => anyhow::bail!(
                "identity `{}` of {} is linked to no account",
                a.subject,
                a.provider
            ),
            _ => {
                eprintln!(
                    "metroplan: identity `{}` of {} unlinked",
                    a.subject, a.provider
                );
                anyhow::Ok(ExitCode::SUCCESS)
            }
        }
    })
}

pub fn list(db: DbArgs) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async move {
        let db = Db::connect(&db.database).await?;
        let rows = link::identities(&db).await?;
        if rows.is_empty() {
            eprintln!("metroplan: no linked identity");
        }
        for (provider, subject, email, at, by) in rows {
            println!("{email}\t{provider}\t{subject}\tlinked {at} by {by}");
        }
        anyhow::Ok(ExitCode::SUCCESS)
    })
}
