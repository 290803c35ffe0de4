//! The HTTP side of [`Error`]: its status, its RFC 9457 `application/problem+json` body,
//! and the rejections of axum's extractors as errors.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::error::Error;

impl Error {
    pub fn status(&self) -> StatusCode {
        match self {
            Error::Unauthorized => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Error::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Error::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Error::Conflict(_) | Error::KeyBound { .. } | Error::PlanChanged(_) => {
                StatusCode::CONFLICT
            }
            Error::Stale { .. } => StatusCode::PRECONDITION_FAILED,
            Error::PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
            Error::TooLarge(_) | Error::Quota(_) => StatusCode::PAYLOAD_TOO_LARGE,
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
            Error::PlanChanged(_) => "fund-removed",
            Error::Stale { .. } => "stale",
            Error::PreconditionRequired => "precondition-required",
            Error::TooLarge(_) => "too-large",
            Error::Quota(_) => "upload-quota",
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
