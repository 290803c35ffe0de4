//! The HTTP API: JSON, errors as RFC 9457 problems, OpenAPI 3.1 at `/openapi.json`.

pub mod bodies;
pub mod error;
mod form_schema;
mod handlers;
pub use handlers::pdf_response;
mod openapi;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::config::Config;
use crate::error::Error;
use crate::metrics::Metrics;
use crate::service::Ctx;
use crate::tokens::{Cache, Principal};

#[derive(Debug, Clone)]
pub struct AppState {
    pub ctx: Ctx,
    pub config: Arc<Config>,
    pub tokens: Arc<Cache>,
}

impl AppState {
    pub fn metrics(&self) -> &Metrics {
        &self.ctx.metrics
    }
}

/// The caller, from `Authorization: Bearer <token>`.
impl FromRequestParts<AppState> for Principal {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(Error::Unauthorized)?;
        state
            .tokens
            .find(&state.ctx.db, token.trim())
            .await?
            .ok_or(Error::Unauthorized)
    }
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The routes whose body carries uploaded pieces.
pub const UPLOAD_ROUTES: [&str; 3] = [
    "/api/applications/{id}/documents/{kind}",
    "/plans/{plan}/fonds/{fund}/deposer",
    "/dossiers/{id}/pieces",
];

async fn count(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    // Pieces of up to 10 MiB, several to a form, take minutes on a slow line: their routes get
    // the longer limit, every other one the short limit that keeps slow clients from holding
    // connections.
    let limit = if method == "POST" && UPLOAD_ROUTES.contains(&route.as_str()) {
        state.config.upload_timeout
    } else {
        state.config.request_timeout
    };
    let res = match tokio::time::timeout(limit, next.run(req)).await {
        Ok(res) => res,
        // The handler's future is dropped, and with it any transaction it had open.
        Err(_) => axum::response::IntoResponse::into_response(Error::TimedOut(limit.as_secs())),
    };
    state.metrics().request(
        &method,
        &route,
        res.status().as_u16(),
        start.elapsed().as_micros() as u64,
    );
    res
}

/// The application's routes.
pub fn app(state: AppState) -> Router {
    let body_limit = state.config.body_limit;
    let upload_limit = state.config.upload_limit;
    let api = Router::new()
        .route("/healthz", get(handlers::healthz))
        .route("/metrics", get(handlers::metrics))
        .route("/openapi.json", get(handlers::openapi))
        .route("/api/plans", get(handlers::plans))
        .route("/api/plans/{plan}", get(handlers::plan))
        .route("/api/plans/{plan}/schedule", get(handlers::schedule))
        .route("/api/plans/{plan}/timeline", get(handlers::timeline))
        .route(
            "/api/plans/{plan}/funds/{fund}/eligibility",
            post(handlers::eligibility),
        )
        .route(
            "/api/plans/{plan}/funds/{fund}/form.schema.json",
            get(handlers::form_schema),
        )
        .route(
            "/api/plans/{plan}/funds/{fund}/applications",
            post(handlers::create),
        )
        .route(
            "/api/plans/{plan}/funds/{fund}/envelope",
            get(handlers::envelope),
        )
        .route(
            "/api/plans/{plan}/funds/{fund}/export.csv",
            get(handlers::export_csv),
        )
        .route("/api/applications", get(handlers::list))
        .route("/api/applications/{id}", get(handlers::application))
        .route(
            "/api/applications/{id}/actions/{action}",
            post(handlers::act),
        )
        .route(
            "/api/applications/{id}/reevaluate",
            post(handlers::reevaluate),
        )
        .route("/api/applications/{id}/events", get(handlers::events))
        .route(
            "/api/applications/{id}/letters/{letter}",
            get(handlers::letter),
        )
        .route(
            "/api/applications/{id}/explanation",
            get(handlers::explanation),
        )
        .route(
            "/api/applications/{id}/documents/{kind}",
            post(handlers::upload).layer(DefaultBodyLimit::max(upload_limit + 64 * 1024)),
        )
        .layer(DefaultBodyLimit::max(body_limit));
    let pages = crate::web::routes()
        .layer(DefaultBodyLimit::max(upload_limit * 6 + 256 * 1024))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::web::demo_banner,
        ));
    api.merge(pages)
        .fallback(handlers::not_found)
        .method_not_allowed_fallback(handlers::method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), count))
        // Outside the time-out, so that a page route that timed out gets a French page too.
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::web::site::page_errors,
        ))
        // Every answer, pages or API, redirects and errors included: pages set a fuller policy
        // of their own, which these leave alone.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request| {
                let id = req
                    .headers()
                    .get(REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!("request", request_id = %id, method = %req.method(), uri = %logged_uri(req.uri()))
            }),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(axum::middleware::map_request(plain_request_id))
        .with_state(state)
}

/// A client's request id is kept only if it is a plain token (letters, digits, `-_.:`, at
/// most 128): anything else (spaces, `=`, quotes, control characters) could forge fields in
/// the log lines it is written into, so it is dropped and a fresh one is made.
async fn plain_request_id(mut req: Request) -> Request {
    let plain = |v: &HeaderValue| {
        let b = v.as_bytes();
        !b.is_empty()
            && b.len() <= 128
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || b"-_.:".contains(c))
    };
    let values = req.headers().get_all(REQUEST_ID);
    let keep = values.iter().count() <= 1 && values.iter().all(plain);
    if !keep {
        req.headers_mut().remove(REQUEST_ID);
    }
    req
}

/// The query parameters that carry a secret (an emailed link's): logged as `***`.
const SECRET_PARAMETERS: &[&str] = &["jeton"];

/// A request's address as the logs hold it: the secret in an emailed link is someone's key
/// to their account for an hour, and logs are read by more people than accounts are.
fn logged_uri(uri: &axum::http::Uri) -> String {
    let Some(query) = uri.query() else {
        return uri.path().to_string();
    };
    let masked: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if SECRET_PARAMETERS.contains(&k) => format!("{k}=***"),
            _ => pair.to_string(),
        })
        .collect();
    format!("{}?{}", uri.path(), masked.join("&"))
}

#[cfg(test)]
mod tests {
    use super::logged_uri;

    #[test]
    fn regression_the_secret_of_an_emailed_link_is_not_logged() {
        let uri = "/mot-de-passe/nouveau?a=1&jeton=abc123&b=2"
            .parse()
            .unwrap();
        assert_eq!(logged_uri(&uri), "/mot-de-passe/nouveau?a=1&jeton=***&b=2");
        assert_eq!(logged_uri(&"/aide".parse().unwrap()), "/aide");
        assert_eq!(logged_uri(&"/x?jetons=1".parse().unwrap()), "/x?jetons=1");
    }
}
