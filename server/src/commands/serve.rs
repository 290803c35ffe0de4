//! `metroplan serve` and `metroplan token create`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use metroplan_engine::model::RoleKind;
use metroplan_server::clock::{Clock, stamp};
use metroplan_server::config::{Config, DEFAULT_DATABASE};
use metroplan_server::metrics::Metrics;
use metroplan_server::plans::{PlanSet, Plans};
use metroplan_server::service::Ctx;
use metroplan_server::store::Db;
use metroplan_server::{AppState, accounts, app, demo, grants, notify, tokens};

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// A plan directory, or a directory of plan directories.
    #[arg(long, env = "METROPLAN_PLANS", default_value = "plans")]
    pub plans: PathBuf,
    /// sqlite://FILE (default: metroplan.db in the working directory) or postgres://…
    #[arg(long, env = "METROPLAN_DATABASE_URL", default_value = DEFAULT_DATABASE)]
    pub database: String,
    /// Address to listen on (port 0: any free port, printed at start).
    #[arg(long, env = "METROPLAN_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,
    /// Mail relay for notifications; without it they wait in the outbox. smtp://HOST:PORT is
    /// plain SMTP (a relay on the same machine), smtp://HOST:PORT?tls=required is STARTTLS and
    /// smtps://HOST:PORT TLS from the start, the certificate checked either way (a TLS failure
    /// keeps the message queued, never sent in clear). Credentials: smtps://USER:PASSWORD@HOST.
    #[arg(long, env = "METROPLAN_SMTP_URL")]
    pub smtp: Option<String>,
    /// A PEM file of CA certificates the relay's certificate may chain to, besides the
    /// system's roots (a relay with a private CA).
    #[arg(
        long,
        env = "METROPLAN_SMTP_CA",
        value_name = "FILE",
        requires = "smtp"
    )]
    pub smtp_ca: Option<PathBuf>,
    /// Sender of notifications.
    #[arg(
        long,
        env = "METROPLAN_MAIL_FROM",
        default_value = "metroplan <noreply@localhost>"
    )]
    pub mail_from: String,
    /// The address people reach the pages at (e.g. https://aides.example.fr), for the links
    /// in emails; default: the address the server listens on.
    #[arg(long, env = "METROPLAN_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Where uploaded documents are kept (default: beside the SQLite file, or ./documents).
    #[arg(long, env = "METROPLAN_DOCUMENTS")]
    pub documents: Option<PathBuf>,
    /// Start the clock at this instant (RFC 3339) for a trial run: calls, deadlines and
    /// filing dates follow it. It then advances in real time.
    #[arg(long, env = "METROPLAN_NOW")]
    pub now: Option<jiff::Timestamp>,
    /// How often, in seconds, the server fires the timed steps and reminders that fell due.
    #[arg(long, env = "METROPLAN_TIMER_INTERVAL", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub timer_interval: u64,
    /// Mark session cookies `Secure`: set it when users reach the server over HTTPS.
    #[arg(long, env = "METROPLAN_SECURE_COOKIES")]
    pub secure_cookies: bool,
    /// Abandon a request not answered within this many seconds, its body's upload included
    /// (a slow client holds no connection or transaction for longer).
    #[arg(long, env = "METROPLAN_REQUEST_TIMEOUT", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub request_timeout: u64,
    /// The same for the requests that upload pieces (up to 10 MiB each, several to a form).
    #[arg(long, env = "METROPLAN_UPLOAD_TIMEOUT", default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub upload_timeout: u64,
    /// The server is reached through a reverse proxy that appends the client's address to
    /// `X-Forwarded-For` (the sign-in throttle counts failures per client address). The proxy
    /// then holds the connections: `--max-connections-per-address` does not apply.
    #[arg(long, env = "METROPLAN_BEHIND_PROXY")]
    pub behind_proxy: bool,
    /// Close a connection whose request head (line and headers) is not all received within
    /// this many seconds (a client trickling headers holds no connection for long).
    #[arg(long, env = "METROPLAN_HEADER_TIMEOUT", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub header_timeout: u64,
    /// Connections one client address may hold at once; more are closed as they come.
    #[arg(long, env = "METROPLAN_MAX_CONNECTIONS_PER_ADDRESS", default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=100000))]
    pub max_connections_per_address: u64,
    /// Demonstration mode, for a first look on fictitious data: creates trial accounts for
    /// every role the plans declare (printed at start, with their password), starts the clock
    /// where one of the plans' calls is open (unless `--now` is given), and says so on every
    /// page. Not for a database holding real applications.
    #[arg(long, env = "METROPLAN_DEMO")]
    pub demo: bool,
    /// A TOML file of OpenID Connect providers to sign in through (ProConnect for agents,
    /// FranceConnect for the public…): see docs/operations.md, "Signing in through an
    /// identity provider". Needs `--public-url`, the address the providers send people back to.
    #[arg(
        long,
        env = "METROPLAN_OIDC",
        value_name = "FILE",
        requires = "public_url"
    )]
    pub oidc: Option<PathBuf>,
    #[command(flatten)]
    pub audit: super::audit::CheckpointArgs,
}

#[derive(Debug, clap::Args)]
pub struct DbArgs {
    #[arg(long, env = "METROPLAN_DATABASE_URL", default_value = DEFAULT_DATABASE)]
    pub database: String,
}

#[derive(Debug, clap::Subcommand)]
pub enum TokenCommand {
    /// Create a bearer token; it is printed once and stored hashed.
    ///
    /// With `--user`, the token is that person (their identity, role, scope and plan roles).
    /// Without it, `--name` and `--role` make a service token (an integration, a script), an
    /// identity of its own whatever its name.
    Create(CreateToken),
    /// List the tokens: id, whose, role, scope, created, active or revoked (never a secret).
    List {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Revoke a token (its id as `list` shows it): it stops authenticating, within 30 s on a
    /// running server; recorded in the audit trail.
    Revoke {
        id: String,
        #[command(flatten)]
        db: DbArgs,
    },
}

/// What `token create` takes.
#[derive(Debug, clap::Args)]
pub struct CreateToken {
    /// The person the token belongs to (their account's email).
    #[arg(long, conflicts_with_all = ["name", "role", "plan", "fund", "email", "plan_role"])]
    user: Option<String>,
    /// Who uses a service token; recorded in the audit trail.
    #[arg(long, required_unless_present = "user")]
    name: Option<String>,
    /// applicant, instructor, reviewer, approver, finance or admin.
    #[arg(long, value_parser = parse_role, required_unless_present = "user")]
    role: Option<RoleKind>,
    /// Limit it to one plan.
    #[arg(long)]
    plan: Option<String>,
    /// Limit it to one fund of `--plan` (a fund id means nothing without its plan).
    #[arg(long, requires = "plan")]
    fund: Option<String>,
    /// A role of `--plan` (its `[[role]]` id, of the token's role kind) that the token takes
    /// on that plan's files, of `--fund` or of every fund; repeat it for several. Without
    /// it, the token takes every role of its kind.
    #[arg(long = "plan-role", value_name = "ROLE", requires = "plan")]
    plan_role: Vec<String>,
    /// Where notifications about an applicant's applications are sent.
    #[arg(long)]
    email: Option<String>,
    #[command(flatten)]
    plans: PlansArg,
    #[command(flatten)]
    db: DbArgs,
}

/// The plans `--plan-role` is checked against.
#[derive(Debug, clap::Args)]
pub struct PlansArg {
    /// The plans served (a plan directory, or a directory of plan directories): read to
    /// check `--plan-role`.
    #[arg(long, env = "METROPLAN_PLANS", default_value = "plans")]
    pub plans: PathBuf,
}

impl PlansArg {
    /// The grants of `roles`, checked against the plans (read only when roles are given).
    fn grants(
        &self,
        kind: RoleKind,
        plan: Option<&str>,
        fund: Option<&str>,
        roles: &[String],
    ) -> anyhow::Result<Vec<grants::Grant>> {
        if roles.is_empty() {
            return Ok(Vec::new());
        }
        let plans = Plans::load(&self.plans)
            .with_context(|| format!("--plans {}", self.plans.display()))?;
        Ok(grants::check(&plans, kind, plan, fund, roles)?)
    }
}

/// ` (plan roles: a, b in plan/fund)`, for the confirmation.
fn grants_said(g: &[grants::Grant]) -> String {
    match g.first() {
        None => String::new(),
        Some(first) => format!(
            ", plan roles {} in {}/{}",
            g.iter()
                .map(|g| g.role.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            first.plan,
            first.fund.as_deref().unwrap_or("*")
        ),
    }
}

#[derive(Debug, clap::Subcommand)]
pub enum UserCommand {
    /// Create an account. The password is asked twice on a terminal, else read from the
    /// first line of standard input.
    Create(CreateUser),
    /// Disable an account: it can no longer sign in, its sessions end and its tokens are
    /// revoked; recorded in the audit trail.
    Disable {
        email: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Enable a disabled account again (its revoked tokens stay revoked).
    Enable {
        email: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// List the open browser sessions (of one account with its email): id, whose, opened,
    /// expires. The id is a hash of the cookie's secret, which cannot open the session.
    Sessions {
        email: Option<String>,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Link an OpenID provider's identity to an account: signing in through the provider
    /// then opens it. Identities with a verified email are linked at their first sign-in.
    Link(super::identities::Link),
    /// Remove the link of an identity (`--provider`, `--subject`).
    Unlink(super::identities::Unlink),
    /// List the identities linked to accounts.
    Identities {
        #[command(flatten)]
        db: DbArgs,
    },
    /// End browser sessions: every session of the account of EMAIL, or the one `--session`
    /// names; recorded in the audit trail. The account can sign in again.
    SignOut {
        #[arg(required_unless_present = "session")]
        email: Option<String>,
        /// One session's id, as `user sessions` lists it.
        #[arg(long, conflicts_with = "email")]
        session: Option<String>,
        #[command(flatten)]
        db: DbArgs,
    },
}

/// What `user create` takes.
#[derive(Debug, clap::Args)]
pub struct CreateUser {
    #[arg(long)]
    email: String,
    /// applicant, instructor, reviewer, approver, finance or admin.
    #[arg(long, value_parser = parse_role)]
    role: RoleKind,
    /// The name shown on pages (default: the email).
    #[arg(long)]
    name: Option<String>,
    /// Limit a staff account to one plan.
    #[arg(long)]
    plan: Option<String>,
    /// Limit a staff account to one fund of `--plan` (a fund id means nothing without its
    /// plan).
    #[arg(long, requires = "plan")]
    fund: Option<String>,
    /// A role of `--plan` (its `[[role]]` id, of the account's role kind) that the person
    /// takes on that plan's files, of `--fund` or of every fund; repeat it for several.
    /// Without it, the person takes every role of their kind.
    #[arg(long = "plan-role", value_name = "ROLE", requires = "plan")]
    plan_role: Vec<String>,
    /// An applicant's SIRET.
    #[arg(long)]
    siret: Option<String>,
    #[command(flatten)]
    plans: PlansArg,
    #[command(flatten)]
    db: DbArgs,
}

fn parse_role(s: &str) -> Result<RoleKind, String> {
    RoleKind::parse(s).ok_or_else(|| {
        format!(
            "`{s}` is not a role: {}",
            RoleKind::ALL.map(|k| k.name()).join(", ")
        )
    })
}

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

pub fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("METROPLAN_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    runtime()?.block_on(async move {
        let plans = PlanSet::from(Plans::load(&args.plans)?);
        let db = Db::connect(&args.database).await?;
        let trial = args
            .demo
            .then(|| demo::trial_call(&plans.current(), jiff::Timestamp::now()))
            .flatten();
        let start = args
            .now
            .or_else(|| trial.as_ref().and_then(|c| c.start_clock_at));
        let clock = start.map(Clock::starting_at).unwrap_or_default();
        // Said once the address is known, after the line that gives it.
        let guide = if args.demo {
            let seeded = demo::seed(&db, &plans.current(), clock.now()).await?;
            Guide::Demo {
                seeded,
                trial,
                now_given: args.now.is_some(),
                clock: clock.now(),
            }
        } else if !accounts::any(&db).await? {
            Guide::FirstStart {
                database: args.database.clone(),
            }
        } else {
            Guide::None
        };
        let mut config = Config::new(args.plans.clone(), args.database.clone());
        if let Some(d) = args.documents {
            config.documents = d;
        }
        config.smtp = args.smtp.clone();
        config.smtp_ca = args.smtp_ca.clone();
        config.secure_cookies = args.secure_cookies;
        config.request_timeout = std::time::Duration::from_secs(args.request_timeout);
        config.upload_timeout = std::time::Duration::from_secs(args.upload_timeout);
        config.behind_proxy = args.behind_proxy;
        config.mail_from = args.mail_from.clone();
        config.demo = args.demo;
        if let Some(file) = &args.oidc {
            config.oidc = Arc::new(metroplan_server::oidc::Providers::load(file)?);
        }
        let metrics = Arc::new(Metrics::default());
        let state = AppState {
            ctx: Ctx {
                db: db.clone(),
                plans: plans.clone(),
                clock,
                metrics: metrics.clone(),
                rules: Default::default(),
                letters: metroplan_server::service::letters::LetterStore::new(
                    config.documents.clone(),
                    args.public_url.clone(),
                ),
                quotas: Default::default(),
            },
            config: Arc::new(config),
            tokens: Default::default(),
        };
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let reload_stop = stop_rx.clone();
        let timer_stop = stop_rx.clone();
        let checkpoint_stop = stop_rx.clone();
        // A relay address that cannot work stops the start: a worker that quietly never sends
        // would leave every notification waiting unseen.
        let mailer = args
            .smtp
            .as_deref()
            .map(|smtp| notify::Mailer::new(smtp, args.smtp_ca.as_deref(), &args.mail_from))
            .transpose()?;
        if mailer.is_some() && args.public_url.is_none() {
            // The links people get by email would name the address the server listens on,
            // which is rarely the one they reach it at.
            tracing::warn!("--smtp without --public-url: emailed links use the listening address");
            eprintln!(
                "metroplan: warning: --smtp without --public-url: the links in emails will point to the address the server listens on"
            );
        }
        let worker = mailer.map(|mailer| {
            tokio::spawn(notify::run(db.clone(), mailer, clock, metrics, stop_rx))
        });
        // Time moves files: what fell due while the server was stopped fires now, in order,
        // then every `--timer-interval` seconds.
        let caught_up = state.ctx.run_timers().await?;
        if caught_up > 0 {
            tracing::info!(caught_up, "carried out the timed steps and reminders that fell due while stopped");
        }
        let timers = tokio::spawn(run_timers(
            state.ctx.clone(),
            std::time::Duration::from_secs(args.timer_interval),
            timer_stop,
        ));
        let reloader = tokio::spawn(metroplan_server::reload::run(
            plans,
            args.plans.clone(),
            reload_stop,
        ));
        let checkpoints = super::audit::start(&args.audit, &db, checkpoint_stop).await?;
        let listener = tokio::net::TcpListener::bind(&args.bind)
            .await
            .with_context(|| format!("--bind {}", args.bind))?;
        let addr = listener.local_addr()?;
        println!("metroplan: listening on http://{addr}");
        let _ = state.ctx.letters.public_url.set(format!("http://{addr}"));
        guide.print(&addr.to_string());
        tracing::info!(%addr, database = %metroplan_server::store::redact(&args.database), "serving");
        let limits = metroplan_server::listen::Limits {
            header_timeout: std::time::Duration::from_secs(args.header_timeout),
            per_address: (!args.behind_proxy).then_some(args.max_connections_per_address as usize),
        };
        metroplan_server::listen::serve(listener, app(state), limits, shutdown()).await;
        let _ = stop_tx.send(true);
        let _ = reloader.await;
        let _ = timers.await;
        if let Some(c) = checkpoints {
            let _ = c.await;
        }
        if let Some(w) = worker {
            let _ = w.await;
        }
        db.pool.close().await;
        tracing::info!("stopped");
        anyhow::Ok(ExitCode::SUCCESS)
    })
}

/// What `serve` tells the person who started it, after the address.
enum Guide {
    None,
    /// No account yet: how to create the first administrator.
    FirstStart {
        database: String,
    },
    Demo {
        seeded: Vec<demo::DemoAccount>,
        trial: Option<demo::TrialCall>,
        now_given: bool,
        clock: jiff::Timestamp,
    },
}

impl Guide {
    fn print(&self, addr: &str) {
        match self {
            Guide::None => {}
            Guide::FirstStart { database } => {
                // The command as this binary was started (`target/release/metroplan` under
                // `cargo run`), on the same database, so that it can be pasted as it is.
                let program = std::env::args()
                    .next()
                    .unwrap_or_else(|| "metroplan".into());
                let db = if database == DEFAULT_DATABASE {
                    String::new()
                } else {
                    format!(
                        " --database {}",
                        shell_word(&metroplan_server::store::redact(database))
                    )
                };
                println!(
                    "metroplan: no account yet. Create the first administrator (the password, 12 characters or more, is asked twice):"
                );
                println!(
                    "    {} user create{db} --role admin --email admin@example.org --name \"Prénom Nom\"",
                    shell_word(&program)
                );
                println!(
                    "metroplan: then sign in at http://{addr}/connexion. For a first look on fictitious data with trial accounts: serve --demo"
                );
            }
            Guide::Demo {
                seeded,
                trial,
                now_given,
                clock,
            } => {
                println!(
                    "metroplan: DEMONSTRATION MODE: fictitious data and trial accounts; every page says so."
                );
                match (trial, now_given) {
                    (_, true) => println!("metroplan: the clock reads {clock:.0} (--now)."),
                    (Some(c), false) => println!(
                        "metroplan: the clock reads {clock:.0}{}: the {} call of fund `{}` (plan `{}`) is open, {} to {}.",
                        if c.start_clock_at.is_some() {
                            " (a trial date; --now to choose another)"
                        } else {
                            ", the real date"
                        },
                        c.year,
                        c.fund,
                        c.plan,
                        c.opens,
                        c.closes
                    ),
                    (None, false) => println!(
                        "metroplan: no plan has a fund that can be applied to: the clock reads the real date."
                    ),
                }
                println!(
                    "metroplan: trial accounts, all with the password `{}`; sign in at http://{addr}/connexion",
                    demo::PASSWORD
                );
                for a in seeded {
                    let roles = a
                        .grants
                        .iter()
                        .map(|g| format!("{}: {}", g.plan, g.role))
                        .collect::<Vec<_>>()
                        .join(", ");
                    let roles = if roles.is_empty() {
                        roles
                    } else {
                        format!(" ({roles})")
                    };
                    println!(
                        "    {:<11} {:<32} {}{roles}",
                        a.role.name(),
                        a.email,
                        a.name
                    );
                }
            }
        }
    }
}

/// `s` as one shell word.
fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-:@+=,".contains(&b))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Ctrl-C or SIGTERM: stop accepting, let requests in flight finish.
async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

pub fn token(cmd: TokenCommand) -> anyhow::Result<ExitCode> {
    let cmd = match cmd {
        TokenCommand::List { db } => return super::access::list(db),
        TokenCommand::Revoke { id, db } => return super::access::revoke(&id, db),
        TokenCommand::Create(create) => create,
    };
    let CreateToken {
        user,
        name,
        role,
        plan,
        fund,
        plan_role,
        email,
        plans,
        db,
    } = cmd;
    // Checked before anything is written.
    let granted = match role {
        Some(kind) => plans.grants(kind, plan.as_deref(), fund.as_deref(), &plan_role)?,
        None => Vec::new(),
    };
    runtime()?.block_on(async move {
        let db = Db::connect(&db.database).await?;
        let now = stamp(jiff::Timestamp::now());
        let (secret, who, role, fund) = match user {
            Some(email) => {
                let u = accounts::find_by_email(&db, &email)
                    .await?
                    .with_context(|| format!("--user: no account for `{email}` (create it with `metroplan user create`)"))?;
                let secret = tokens::create_for_user(&db, &u, &now).await?;
                (secret, u.email, u.role, u.fund)
            }
            None => {
                let (Some(name), Some(role)) = (name, role) else {
                    anyhow::bail!("give --user, or --name and --role for a service token");
                };
                let secret = tokens::create_token(
                    &db,
                    &tokens::NewToken {
                        name: &name,
                        role,
                        plan: plan.as_deref(),
                        fund: fund.as_deref(),
                        email: email.as_deref(),
                        grants: &granted,
                    },
                    &now,
                )
                .await?;
                let scope = match (plan, fund) {
                    (Some(p), Some(f)) => Some(format!("{p}/{f}")),
                    (Some(p), None) => Some(format!("{p}/*")),
                    _ => None,
                }
                .map(|s| format!("{s}{}", grants_said(&granted)));
                (secret, name, role, scope)
            }
        };
        println!("{secret}");
        eprintln!(
            "metroplan: token for `{who}` ({}{}) created; it is shown only now",
            role.name(),
            fund.map(|f| format!(", fund {f}")).unwrap_or_default()
        );
        anyhow::Ok(ExitCode::SUCCESS)
    })
}

fn read_password() -> anyhow::Result<String> {
    if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        let first = rpassword::prompt_password("Password: ")?;
        let again = rpassword::prompt_password("Password again: ")?;
        if first != again {
            anyhow::bail!("the two passwords differ");
        }
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    }
}

pub fn user(cmd: UserCommand) -> anyhow::Result<ExitCode> {
    let cmd = match cmd {
        UserCommand::Disable { email, db } => return super::access::disable(&email, db),
        UserCommand::Enable { email, db } => return super::access::enable(&email, db),
        UserCommand::Sessions { email, db } => {
            return super::access::sessions(email.as_deref(), db);
        }
        UserCommand::SignOut { email, session, db } => {
            return super::access::sign_out(email.as_deref(), session.as_deref(), db);
        }
        UserCommand::Link(a) => return super::identities::link(a),
        UserCommand::Unlink(a) => return super::identities::unlink(a),
        UserCommand::Identities { db } => return super::identities::list(db),
        UserCommand::Create(create) => create,
    };
    let CreateUser {
        email,
        role,
        name,
        plan,
        fund,
        plan_role,
        siret,
        plans,
        db,
    } = cmd;
    // Checked before the password is asked and before anything is written.
    let granted = plans.grants(role, plan.as_deref(), fund.as_deref(), &plan_role)?;
    let password = read_password()?;
    runtime()?.block_on(async move {
        let db = Db::connect(&db.database).await?;
        let u = accounts::create_user(
            &db,
            accounts::NewUser {
                email: &email,
                name: name.as_deref().unwrap_or(&email),
                role,
                plan: plan.as_deref(),
                fund: fund.as_deref(),
                siret: siret.as_deref(),
                password: &password,
                grants: &granted,
            },
            jiff::Timestamp::now(),
        )
        .await?;
        let scope = match (&u.plan, &u.fund) {
            (Some(p), Some(f)) => format!(", {p}/{f}"),
            (Some(p), None) => format!(", {p}/*"),
            (None, Some(f)) => format!(", fund {f}"),
            (None, None) => String::new(),
        };
        eprintln!(
            "metroplan: account `{}` ({}{scope}{}) created",
            u.email,
            u.role.name(),
            grants_said(&u.grants)
        );
        anyhow::Ok(ExitCode::SUCCESS)
    })
}

/// Fires what falls due, every `every`, until the server stops.
async fn run_timers(
    ctx: metroplan_server::service::Ctx,
    every: std::time::Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
        if let Err(e) = ctx.run_timers().await {
            tracing::warn!(error = %e, "timers");
        }
    }
}
