//! The service's one error type: what went wrong, in terms of the request and of the
//! database, whatever the channel. `http::error` answers it as a problem document, the
//! pages (`web/`) as a French error page.

use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("a valid bearer token is required (Authorization: Bearer …)")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// A malformed request: bad JSON, an unknown field, a bad query parameter.
    #[error("{detail}")]
    BadRequest {
        detail: String,
        field: Option<String>,
    },
    /// A well-formed request that the rules or the workflow refuse.
    #[error("{detail}")]
    Unprocessable {
        detail: String,
        field: Option<String>,
        guard: Option<String>,
        extra: Option<Box<Value>>,
    },
    #[error("this method is not allowed on this path: see /openapi.json")]
    MethodNotAllowed,
    #[error("{0}")]
    Conflict(String),
    /// A change asked for on a file whose fund or state a live edit of the plan renamed or
    /// removed: the file is read, never changed, until the plan has its fund and state again.
    #[error("{0}")]
    PlanChanged(String),
    /// An applicant key (`field` of the form) bound to another account.
    #[error(
        "the applicant key in `{field}` belongs to another account: an administrator can transfer it (`metroplan applicant-key transfer`)"
    )]
    KeyBound { field: String },
    #[error(
        "the application changed since you read it (now version {current}): reload it and decide again"
    )]
    Stale { current: i64 },
    #[error("send If-Match with the application's ETag: without it two people could both decide")]
    PreconditionRequired,
    #[error("{0}")]
    TooLarge(String),
    /// An allowance of uploads is used up (per file, or per uploader and day).
    #[error("{0}")]
    Quota(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error(
        "the database did not answer in time (busy or unreachable); nothing was recorded: retry"
    )]
    Busy,
    /// The database cannot be reached (restarting, down, network): nothing was recorded.
    #[error("the database cannot be reached just now; nothing was recorded: retry in a moment")]
    DatabaseUnreachable,
    /// The database refuses writes (a full disk, a read-only file): nothing was recorded.
    #[error("the database cannot store anything just now ({0}); nothing was recorded")]
    StorageRefused(&'static str),
    /// A fund's rules script fails: the filing is refused whole until the plan is mended.
    #[error("{0}")]
    RulesUnavailable(String),
    /// The request, its body's upload included, took longer than the server's limit.
    #[error(
        "the request was not completed within {0} s and was abandoned; retrying with the same Idempotency-Key is safe"
    )]
    TimedOut(u64),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        match storage_fault(&e) {
            Some(fault) => fault,
            None => Error::Internal(e.into()),
        }
    }
}

/// What a database error says about the database itself, as opposed to a bug in a query: the
/// client can do nothing about either, but these pass once the operator acts, so they are
/// 503s that say so rather than 500s.
fn storage_fault(e: &sqlx::Error) -> Option<Error> {
    match e {
        sqlx::Error::PoolTimedOut => Some(Error::Busy),
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => Some(Error::DatabaseUnreachable),
        sqlx::Error::Database(d) => {
            let code = d.code()?;
            // PostgreSQL: class 08 is a connection exception; 57P01-57P03 an administrator
            // shutdown, a crash shutdown, "cannot connect now" (a restart in progress).
            if code.starts_with("08") || code.starts_with("57P") {
                return Some(Error::DatabaseUnreachable);
            }
            // 40001 and 40P01: a serialization failure or a deadlock between two writers;
            // the transaction was rolled back whole, and trying again succeeds.
            if code == "40001" || code == "40P01" {
                return Some(Error::Busy);
            }
            // SQLite's extended result codes keep the primary code in their low byte.
            match code.parse::<i32>().ok()? & 0xff {
                13 => Some(Error::StorageRefused("the disk is full")),
                8 => Some(Error::StorageRefused("the database file is read-only")),
                10 => Some(Error::StorageRefused(
                    "the disk reported an input/output error",
                )),
                14 => Some(Error::StorageRefused("the database file cannot be opened")),
                _ => None,
            }
        }
        _ => None,
    }
}

impl From<anyhow::Error> for Error {
    fn from(e: anyhow::Error) -> Self {
        match e.downcast_ref::<sqlx::Error>().and_then(storage_fault) {
            Some(fault) => fault,
            None => Error::Internal(e),
        }
    }
}

impl Error {
    pub fn bad(detail: impl Into<String>, field: Option<&str>) -> Error {
        Error::BadRequest {
            detail: detail.into(),
            field: field.map(str::to_string),
        }
    }

    pub fn unprocessable(detail: impl Into<String>, field: Option<&str>) -> Error {
        Error::Unprocessable {
            detail: detail.into(),
            field: field.map(str::to_string),
            guard: None,
            extra: None,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
