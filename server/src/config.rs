//! Where the server finds its plans, database and mail relay.

use std::path::PathBuf;

/// The database used when none is given: a SQLite file in the working directory.
pub const DEFAULT_DATABASE: &str = "sqlite://metroplan.db";

#[derive(Debug, Clone)]
pub struct Config {
    pub plans: PathBuf,
    pub database: String,
    /// Where uploaded documents are stored, by content hash.
    pub documents: PathBuf,
    /// The mail relay (`smtp://host:port`, `smtp://host:port?tls=required`,
    /// `smtps://host:port`); without it, notifications wait in the outbox.
    pub smtp: Option<String>,
    /// A PEM file of certificates trusted for the relay's TLS besides the system's roots.
    pub smtp_ca: Option<PathBuf>,
    /// The sender of notifications.
    pub mail_from: String,
    /// Largest request body (JSON), in bytes.
    pub body_limit: usize,
    /// Largest uploaded document, in bytes.
    pub upload_limit: usize,
    /// Mark cookies `Secure` (when the server is reached over HTTPS, behind a proxy).
    pub secure_cookies: bool,
    /// Longest time a request may take, body included, before it is abandoned with a 503.
    pub request_timeout: std::time::Duration,
    /// The same for the requests that upload pieces.
    pub upload_timeout: std::time::Duration,
    /// Behind a reverse proxy: the client's address is the last one of `X-Forwarded-For`.
    pub behind_proxy: bool,
    /// Demonstration mode (`serve --demo`): every page says its data and accounts are
    /// fictitious.
    pub demo: bool,
    /// The OpenID providers people may sign in through (`serve --oidc FILE`); none by default.
    pub oidc: std::sync::Arc<crate::oidc::Providers>,
}

impl Config {
    pub fn new(plans: PathBuf, database: String) -> Config {
        let documents = default_documents_dir(&database);
        Config {
            plans,
            database,
            documents,
            smtp: None,
            smtp_ca: None,
            mail_from: "metroplan <noreply@localhost>".into(),
            body_limit: 256 * 1024,
            upload_limit: 10 * 1024 * 1024,
            secure_cookies: false,
            request_timeout: std::time::Duration::from_secs(30),
            upload_timeout: std::time::Duration::from_secs(600),
            behind_proxy: false,
            demo: false,
            oidc: Default::default(),
        }
    }
}

/// Next to the SQLite file, or `./documents` for a server database.
pub fn default_documents_dir(database: &str) -> PathBuf {
    if let Some(path) = database
        .strip_prefix("sqlite://")
        .or_else(|| database.strip_prefix("sqlite:"))
    {
        let path = path.split('?').next().unwrap_or(path);
        let p = PathBuf::from(path);
        let stem = p
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "metroplan".into());
        return p.with_file_name(format!("{stem}-documents"));
    }
    PathBuf::from("documents")
}
