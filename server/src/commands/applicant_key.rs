//! `metroplan applicant-key transfer`: an administrator moves an applicant key's binding.

use std::process::ExitCode;

use metroplan_server::applicant_keys;
use metroplan_server::clock::stamp;
use metroplan_server::store::Db;

use super::serve::{DbArgs, runtime};

/// Who the audit trail records for a change made at the command line: the operator who runs
/// it holds the database, not an account.
const CLI_ACTOR: &str = "cli";

#[derive(Debug, clap::Subcommand)]
pub enum ApplicantKeyCommand {
    /// Bind an applicant key (a SIRET, or the fund's declared key) of one fund to another
    /// account or token; recorded in the audit trail.
    Transfer {
        #[arg(long)]
        plan: String,
        #[arg(long)]
        fund: String,
        /// The key as the form holds it (e.g. the 14 digits of a SIRET).
        #[arg(long)]
        key: String,
        /// The new holder: an account's email, or a token id (`token:<id>`).
        #[arg(long)]
        to: String,
        /// The plans served, to check that the plan has this fund.
        #[arg(long, env = "METROPLAN_PLANS", default_value = "plans")]
        plans: std::path::PathBuf,
        #[command(flatten)]
        db: DbArgs,
    },
}

pub fn run(cmd: ApplicantKeyCommand) -> anyhow::Result<ExitCode> {
    let ApplicantKeyCommand::Transfer {
        plan,
        fund,
        key,
        to,
        plans,
        db,
    } = cmd;
    // A typo must not bind a key of a fund nobody runs (and record it in the audit trail).
    let served = metroplan_server::plans::Plans::load(&plans)?;
    let Some(p) = served.by_id.get(&plan) else {
        let known: Vec<&str> = served.by_id.keys().map(String::as_str).collect();
        anyhow::bail!(
            "--plan: no plan `{plan}` under {} (plans: {})",
            plans.display(),
            known.join(", ")
        );
    };
    if p.plan.fund(&fund).is_none() {
        let known: Vec<&str> = p.plan.funds.iter().map(|f| f.id.as_str()).collect();
        anyhow::bail!(
            "--fund: plan `{plan}` has no fund `{fund}` (funds: {})",
            known.join(", ")
        );
    }
    runtime()?.block_on(async move {
        let db = Db::connect(&db.database).await?;
        let to_id = applicant_keys::resolve(&db, &to).await?;
        let now = stamp(jiff::Timestamp::now());
        let before =
            applicant_keys::transfer(&db, &plan, &fund, &key, &to_id, CLI_ACTOR, &now).await?;
        eprintln!(
            "metroplan: applicant key `{key}` of {plan}/{fund} now belongs to `{to}` ({to_id}; was {})",
            before.as_deref().unwrap_or("unbound")
        );
        anyhow::Ok(ExitCode::SUCCESS)
    })
}
