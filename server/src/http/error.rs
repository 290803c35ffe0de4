//! One error type for every handler, answered as RFC 9457 `application/problem+json`.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

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

    pub fn status(&self) -> StatusCode {
        match self {
            Error::Unauthorized => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Error::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Error::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Error::Conflict(_) | Error::KeyBound { .. } => StatusCode::CONFLICT,
            Error::Stale { .. } => StatusCode::PRECONDITION_FAILED,
            Error::PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
            Error::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::Busy
            | Error::DatabaseUnreachable
            | Error::StorageRefused(_)
            | Error::RulesUnavailable(_)
            | Error::TimedOut(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn slug(&self) -> &'static str {
        match self {
            Error::Unauthorized => "unauthorized",
            Error::Forbidden(_) => "forbidden",
            Error::NotFound(_) => "not-found",
            Error::BadRequest { .. } => "bad-request",
            Error::Unprocessable { guard: Some(_), .. } => "refused-by-guard",
            Error::Unprocessable { .. } => "unprocessable",
            Error::MethodNotAllowed => "method-not-allowed",
            Error::Conflict(_) => "conflict",
            Error::KeyBound { .. } => "applicant-key-bound",
            Error::Stale { .. } => "stale",
            Error::PreconditionRequired => "precondition-required",
            Error::TooLarge(_) => "too-large",
            Error::UnsupportedMediaType(_) => "unsupported-media-type",
            Error::Busy => "busy",
            Error::DatabaseUnreachable => "database-unreachable",
            Error::StorageRefused(_) => "storage-refused",
            Error::RulesUnavailable(_) => "rules-unavailable",
            Error::TimedOut(_) => "timed-out",
            Error::Internal(_) => "internal",
        }
    }

    /// When a 503 is worth retrying, in seconds (RFC 9110 `Retry-After`).
    pub fn retry_after(&self) -> Option<u32> {
        match self {
            Error::Busy => Some(1),
            Error::DatabaseUnreachable => Some(5),
            Error::StorageRefused(_) => Some(60),
            Error::TimedOut(_) => Some(5),
            Error::RulesUnavailable(_) => Some(crate::rules_guard::COOL_DOWN.as_secs() as u32),
            _ => None,
        }
    }

    /// The problem document (RFC 9457), with `field`/`guard` naming what is at fault.
    pub fn problem(&self) -> Value {
        let status = self.status();
        let mut p = json!({
            "type": format!("/problems/{}", self.slug()),
            "title": status.canonical_reason().unwrap_or("error"),
            "status": status.as_u16(),
            "detail": self.to_string(),
        });
        match self {
            Error::BadRequest { field: Some(f), .. } | Error::KeyBound { field: f } => {
                p["field"] = json!(f)
            }
            Error::Unprocessable {
                field,
                guard,
                extra,
                ..
            } => {
                if let Some(f) = field {
                    p["field"] = json!(f);
                }
                if let Some(g) = guard {
                    p["guard"] = json!(g);
                }
                if let Some(Value::Object(m)) = extra.as_deref() {
                    for (k, v) in m {
                        p[k] = v.clone();
                    }
                }
            }
            Error::Stale { current } => p["current_version"] = json!(current),
            _ => {}
        }
        p
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        match &self {
            Error::Internal(e) => tracing::error!(error = format!("{e:#}"), "internal error"),
            // The operator must act on these; the client only waits.
            Error::DatabaseUnreachable | Error::StorageRefused(_) | Error::RulesUnavailable(_) => {
                tracing::error!(problem = self.slug(), "{self}")
            }
            _ => {}
        }
        let status = self.status();
        let mut res = (status, self.problem().to_string()).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(seconds) = self.retry_after() {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if status == StatusCode::UNAUTHORIZED {
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        res
    }
}

impl From<JsonRejection> for Error {
    fn from(r: JsonRejection) -> Self {
        let text = r.body_text();
        match r.status() {
            StatusCode::PAYLOAD_TOO_LARGE => Error::TooLarge(text),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                Error::UnsupportedMediaType("send Content-Type: application/json".into())
            }
            _ => {
                // serde names the unknown or wrong field: "unknown field `x`, expected …".
                let field = text
                    .split('`')
                    .nth(1)
                    .filter(|_| text.contains("field"))
                    .map(str::to_string);
                Error::BadRequest {
                    detail: text,
                    field,
                }
            }
        }
    }
}

impl From<QueryRejection> for Error {
    fn from(r: QueryRejection) -> Self {
        Error::bad(r.body_text(), None)
    }
}

impl From<PathRejection> for Error {
    fn from(r: PathRejection) -> Self {
        Error::bad(r.body_text(), None)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
