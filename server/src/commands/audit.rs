//! `metroplan audit keygen|verify`, and the checkpoint options of `serve`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use metroplan_server::audit::{self, checkpoint, money};
use metroplan_server::store::Db;

use super::serve::{DbArgs, runtime};

#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Recompute the hash chain of the audit trail and check the money tables against it;
    /// with `--checkpoints`, check the chain holds every signed checkpoint too. Exit code 1
    /// if any row was edited, deleted, inserted or reordered, or the trail rewritten,
    /// truncated or emptied.
    Verify(VerifyArgs),
    /// Create the key that signs the checkpoints (owner-only file) and print its public
    /// half, which `verify --public-key` takes; also written to KEY.pub.
    Keygen {
        #[arg(long, value_name = "KEY")]
        key: PathBuf,
    },
}

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    db: DbArgs,
    /// The checkpoint file `serve --audit-checkpoints` writes (a copy kept off the
    /// database's machine is best).
    #[arg(long, value_name = "FILE", requires = "public_key")]
    checkpoints: Option<PathBuf>,
    /// The checkpoint key's public half: its hexadecimal digits, or a file holding them.
    #[arg(long, value_name = "KEY", requires = "checkpoints")]
    public_key: Option<String>,
}

/// The checkpoint options of `serve`.
#[derive(Debug, clap::Args)]
pub struct CheckpointArgs {
    /// The key that signs the checkpoints (`metroplan audit keygen`): not on the database's
    /// machine if possible, and never in the database or its backups.
    #[arg(
        long,
        env = "METROPLAN_AUDIT_KEY",
        value_name = "KEY",
        requires = "audit_checkpoints"
    )]
    pub audit_key: Option<PathBuf>,
    /// The append-only file the signed checkpoints of the chain's head go to.
    #[arg(
        long,
        env = "METROPLAN_AUDIT_CHECKPOINTS",
        value_name = "FILE",
        requires = "audit_key"
    )]
    pub audit_checkpoints: Option<PathBuf>,
    /// Seconds between checkpoints (when the chain grew); 0: after every change, before it
    /// is acknowledged.
    #[arg(long, env = "METROPLAN_AUDIT_INTERVAL", default_value_t = 60, value_parser = clap::value_parser!(u64).range(0..=86400))]
    pub audit_interval: u64,
    /// An RFC 3161 time-stamping authority (http://…) that stamps each checkpoint; one that
    /// does not answer leaves the checkpoint signed only, with a warning.
    #[arg(
        long,
        env = "METROPLAN_TSA_URL",
        value_name = "URL",
        requires = "audit_key"
    )]
    pub tsa_url: Option<String>,
}

/// Records the opening balance if one is owed, then starts the checkpoints of `serve` when a
/// key is given: one at start, then at the interval (or after every change) and a last one
/// when the server stops.
pub async fn start(
    args: &CheckpointArgs,
    db: &Db,
    stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
    // With or without checkpoints: `audit verify` checks the money against the events.
    let now = metroplan_server::clock::stamp(jiff::Timestamp::now());
    if money::open(db, &now).await? {
        tracing::info!(
            "recorded the ledger entries written before this version as an opening balance in the audit trail"
        );
    }
    let (Some(key), Some(file)) = (&args.audit_key, &args.audit_checkpoints) else {
        return Ok(None);
    };
    let key = checkpoint::read_key(key).context("--audit-key")?;
    let every_change = args.audit_interval == 0;
    let cp = Arc::new(
        checkpoint::Checkpointer::new(key, file.clone(), args.tsa_url.clone(), every_change)
            .context("--audit-checkpoints")?,
    );
    cp.checkpoint_head(db).await?;
    if every_change {
        db.checkpoint_every_change(cp.clone());
    }
    // After every change, the interval still checkpoints what other processes appended.
    let every = std::time::Duration::from_secs(if every_change {
        60
    } else {
        args.audit_interval
    });
    Ok(Some(tokio::spawn(checkpoint::run(
        db.clone(),
        cp,
        every,
        stop,
    ))))
}

pub fn run(cmd: AuditCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        AuditCommand::Keygen { key } => {
            let public = checkpoint::keygen(&key)?;
            let public = hex::encode(public.to_bytes());
            let pub_path = PathBuf::from(format!("{}.pub", key.display()));
            std::fs::write(&pub_path, format!("{public}\n"))
                .with_context(|| pub_path.display().to_string())?;
            println!("{public}");
            eprintln!(
                "metroplan: key written to {} (keep it off the database and its backups), public key to {}",
                key.display(),
                pub_path.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Verify(args) => verify(args),
    }
}

fn verify(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let (checkpoints, mut problems) = match (&args.checkpoints, &args.public_key) {
        (Some(file), Some(key)) => {
            let key = checkpoint::public_key(key)?;
            // A file that is not there is a mistake to report, not a trail with no checkpoint.
            if !file.exists() {
                anyhow::bail!("--checkpoints {}: no such file", file.display());
            }
            let lines = checkpoint::read(file)?;
            let (good, breaks) = checkpoint::check(&lines, &key);
            if lines.is_empty() {
                println!(
                    "audit: {} holds no checkpoint: nothing to check the chain against",
                    file.display()
                );
            }
            (good, breaks.iter().map(|b| b.to_string()).collect())
        }
        _ => (Default::default(), Vec::<String>::new()),
    };
    runtime()?.block_on(async move {
        let db = Db::connect(&args.db.database).await?;
        let chain = audit::verify_against(&db, &checkpoints).await?;
        problems.extend(money::verify(&db).await?.iter().map(|b| b.to_string()));
        let intact = match chain {
            Ok(v) if problems.is_empty() => {
                let covered = match checkpoints.last_key_value() {
                    Some((seq, c)) => format!(
                        ", {} checkpoints, the last of event {seq} at {}",
                        checkpoints.len(),
                        c.at
                    ),
                    None if args.checkpoints.is_none() => {
                        ", no checkpoints given (a trail rewritten with its head recomputed needs --checkpoints to be seen)".into()
                    }
                    None => String::new(),
                };
                println!(
                    "audit trail intact: {} events, head {}{covered}; money tables agree with the events",
                    v.events, v.head
                );
                true
            }
            Ok(_) => false,
            Err(b) => {
                println!("audit trail BROKEN: {b}");
                false
            }
        };
        for p in &problems {
            println!("audit trail BROKEN: {p}");
        }
        anyhow::Ok(if intact {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        })
    })
}
