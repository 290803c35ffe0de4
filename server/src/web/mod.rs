//! The web pages, in French: public pages on the plan and its funds, accounts, the
//! applicant's forms and files, the staff inbox and dashboards, administration.
//!
//! Pages are rendered on the server (maud) and work without JavaScript; forms post back to
//! the page's own routes with a CSRF token; sessions are cookies naming a database row.
//! They call the same services as the JSON API, so every rule is enforced once.

mod admin;
mod applicant;
mod application;
mod auth;
mod charts;
mod confirmations;
mod form;
mod inbox;
mod layout;
mod letters;
mod oidc;
mod public;
pub mod site;
mod staff;
mod timeline;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::Markup;
use metroplan_engine::model::RoleKind;

use crate::accounts::{self, Session};
use crate::error::Error;
use crate::http::AppState;
use crate::tokens::{Principal, random_hex};

pub const SESSION_COOKIE: &str = "mp_session";
pub const CSRF_COOKIE: &str = "mp_csrf";
pub const CSRF_FIELD: &str = "_csrf";

/// The page routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(public::home))
        .route("/static/style.css", get(layout::style))
        .route("/static/app.js", get(layout::script))
        .route("/plans/{plan}", get(public::plan))
        .route(
            "/plans/{plan}/calendrier",
            get(timeline::timeline).post(timeline::what_if),
        )
        .route("/plans/{plan}/fonds/{fund}", get(public::fund))
        .route(
            "/plans/{plan}/fonds/{fund}/algorithme",
            get(public::algorithm),
        )
        .route(
            "/plans/{plan}/fonds/{fund}/deposer",
            get(applicant::new_form).post(applicant::create),
        )
        .route("/plans/{plan}/fonds/{fund}/enveloppe", get(staff::envelope))
        .route("/connexion", get(auth::sign_in_form).post(auth::sign_in))
        .route(
            "/inscription",
            get(auth::register_form).post(auth::register),
        )
        .route(
            "/inscription/confirmer",
            get(confirmations::confirm_form).post(confirmations::confirm),
        )
        .route(
            "/mot-de-passe-oublie",
            get(confirmations::ask_form).post(confirmations::ask),
        )
        .route(
            "/mot-de-passe/nouveau",
            get(confirmations::new_password_form).post(confirmations::new_password),
        )
        .route("/connexion/oidc/retour", get(oidc::finish))
        .route("/connexion/oidc/{provider}", get(oidc::start))
        .route("/deconnexion", post(auth::sign_out))
        .route("/mes-dossiers", get(applicant::mine))
        .route("/dossiers/{id}", get(application::application))
        .route("/dossiers/{id}/modifier", post(applicant::edit))
        .route("/dossiers/{id}/pieces", post(application::pieces))
        .route("/dossiers/{id}/reevaluer", post(application::reevaluate))
        .route("/dossiers/{id}/pieces/{kind}", get(application::download))
        .route("/dossiers/{id}/courriers/{letter}", get(letters::download))
        .route("/dossiers/{id}/actions/{action}", post(application::act))
        .route("/instruction", get(inbox::inbox))
        .route("/instruction/dossiers.csv", get(inbox::inbox_csv))
        .route("/instruction/lot", post(staff::bulk))
        .route("/admin", get(admin::page))
        .route("/admin/utilisateurs", post(admin::create_user))
        .route("/admin/jetons", post(admin::create_token))
        .route("/admin/jetons/revoquer", post(admin::revoke_token))
        .route("/admin/sessions/fermer", post(admin::end_session))
        .route("/admin/comptes/{what}", post(admin::account_change))
        .merge(site::routes())
}

/// In demonstration mode, every page the request renders carries the banner (with the date
/// the server's clock reads).
pub async fn demo_banner(
    axum::extract::State(s): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    match demo_text(&s) {
        Some(text) => layout::DEMO_BANNER.scope(text, next.run(req)).await,
        None => next.run(req).await,
    }
}

/// The demonstration banner's text, in that mode only.
fn demo_text(s: &AppState) -> Option<String> {
    if !s.config.demo {
        return None;
    }
    // The plans' own time zone (the first plan's, when several are served), not UTC.
    let tz = s
        .ctx
        .plans
        .current()
        .by_id
        .values()
        .next()
        .map_or(jiff::tz::TimeZone::UTC, |p| p.tz.clone());
    let today = s.ctx.clock.now().to_zoned_datetime(tz).date();
    Some(crate::demo::banner(today))
}

/// The client's address: the peer of the connection or, with `--behind-proxy`, the address
/// the proxy appended last to `X-Forwarded-For` (earlier entries are the client's to forge).
/// Behind a proxy that sent none, it is unknown: the peer is the proxy, shared by everyone,
/// and counting failures against it would lock every user out at once.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub Option<std::net::IpAddr>);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if state.config.behind_proxy {
            // The last entry only: an earlier one may be the client's forgery.
            let forwarded = parts
                .headers
                .get_all("x-forwarded-for")
                .iter()
                .next_back()
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .and_then(|a| a.trim().parse().ok());
            return Ok(ClientAddr(forwarded));
        }
        Ok(ClientAddr(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}

/// Who is looking at a page: a signed-in person, or someone anonymous with a CSRF cookie.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub session: Option<Session>,
    /// The anonymous CSRF secret from the cookie, or a new one to set.
    anon_csrf: String,
    set_anon_csrf: bool,
    secure: bool,
    /// The path asked for, to come back to after signing in.
    pub path: String,
}

pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, PageError> {
        let now = s.ctx.clock.now();
        let session = match cookie(&parts.headers, SESSION_COOKIE) {
            Some(secret) if !secret.is_empty() => accounts::session(&s.ctx.db, secret, now)
                .await
                .map_err(|e| PageError::from(Error::from(e)))?,
            _ => None,
        };
        let existing = cookie(&parts.headers, CSRF_COOKIE)
            .filter(|c| c.len() == 32 && c.bytes().all(|b| b.is_ascii_hexdigit()));
        Ok(Viewer {
            session,
            anon_csrf: existing.map_or_else(|| random_hex(16), str::to_string),
            set_anon_csrf: existing.is_none(),
            secure: s.config.secure_cookies,
            path: parts
                .uri
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_else(|| "/".into()),
        })
    }
}

impl Viewer {
    pub fn csrf(&self) -> &str {
        self.session
            .as_ref()
            .map_or(self.anon_csrf.as_str(), |s| s.csrf.as_str())
    }

    pub fn principal(&self) -> Option<Principal> {
        self.session.as_ref().map(|s| s.user.principal())
    }

    pub fn role(&self) -> Option<RoleKind> {
        self.session.as_ref().map(|s| s.user.role)
    }

    /// The signed-in person, if their role is one of `roles`; else a redirect to sign in, or
    /// a 403.
    pub fn require(&self, roles: &[RoleKind]) -> Result<Principal, PageError> {
        let Some(s) = &self.session else {
            return Err(PageError::SignIn(self.path.clone()));
        };
        if roles.contains(&s.user.role) {
            Ok(s.user.principal())
        } else {
            Err(PageError::status(
                StatusCode::FORBIDDEN,
                "Accès refusé",
                "Cette page est réservée à d'autres profils que le vôtre.",
            ))
        }
    }

    pub fn staff(&self) -> Result<Principal, PageError> {
        self.require(&STAFF)
    }

    /// The form's CSRF field must match this browser's secret.
    pub fn check_csrf(&self, sent: Option<&str>) -> Result<(), PageError> {
        match sent {
            Some(t) if !t.is_empty() && constant_eq(t.as_bytes(), self.csrf().as_bytes()) => Ok(()),
            _ => Err(PageError::status(
                StatusCode::FORBIDDEN,
                "Formulaire expiré",
                "Ce formulaire n'est plus valable (jeton de sécurité absent ou périmé). Rechargez la page et recommencez.",
            )),
        }
    }

    /// A page, with the headers every page carries.
    pub fn page(&self, status: StatusCode, body: Markup) -> Response {
        let mut res = (status, axum::response::Html(body.into_string())).into_response();
        let h = res.headers_mut();
        secure_headers(h);
        if self.set_anon_csrf && self.session.is_none() {
            let c = format!(
                "{CSRF_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax{}",
                self.anon_csrf,
                if self.secure { "; Secure" } else { "" }
            );
            if let Ok(v) = HeaderValue::from_str(&c) {
                h.append(header::SET_COOKIE, v);
            }
        }
        res
    }

    pub fn ok(&self, body: Markup) -> Response {
        self.page(StatusCode::OK, body)
    }
}

pub const STAFF: [RoleKind; 5] = [
    RoleKind::Instructor,
    RoleKind::Reviewer,
    RoleKind::Approver,
    RoleKind::Finance,
    RoleKind::Admin,
];

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Pages are private by default (they show people's files), framed by nobody, and load
/// nothing from elsewhere.
pub(super) fn secure_headers(h: &mut HeaderMap) {
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
}

/// A page that could not be shown, in French.
#[derive(Debug)]
pub enum PageError {
    /// Not signed in: go to the sign-in page, then come back.
    SignIn(String),
    Page {
        status: StatusCode,
        title: String,
        message: String,
    },
}

impl PageError {
    pub fn status(status: StatusCode, title: &str, message: impl Into<String>) -> PageError {
        PageError::Page {
            status,
            title: title.into(),
            message: message.into(),
        }
    }

    pub fn not_found() -> PageError {
        PageError::status(
            StatusCode::NOT_FOUND,
            "Page introuvable",
            "Cette page n'existe pas, ou vous n'avez pas le droit de la voir.",
        )
    }

    pub fn bad_form(message: impl Into<String>) -> PageError {
        PageError::status(
            StatusCode::BAD_REQUEST,
            "Formulaire invalide",
            message.into(),
        )
    }
}

impl From<Error> for PageError {
    fn from(e: Error) -> PageError {
        match e {
            Error::Unauthorized => PageError::SignIn("/".into()),
            Error::NotFound(_) => PageError::not_found(),
            Error::Internal(e) => {
                tracing::error!(error = %e, "page failed");
                PageError::status(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Erreur interne",
                    "Le serveur n'a pas pu afficher cette page. L'incident est enregistré ; réessayez plus tard.",
                )
            }
            other => {
                let (status, message) = layout::refusal_fr(&other);
                PageError::status(status, "Action impossible", message)
            }
        }
    }
}

impl From<sqlx::Error> for PageError {
    fn from(e: sqlx::Error) -> PageError {
        PageError::from(Error::from(e))
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::SignIn(back) => {
                let to = format!("/connexion?suite={}", layout::url_encode(&back));
                Redirect::to(&to).into_response()
            }
            PageError::Page {
                status,
                title,
                message,
            } => {
                let body = layout::bare(&title, &message);
                let mut res = (status, axum::response::Html(body.into_string())).into_response();
                secure_headers(res.headers_mut());
                res
            }
        }
    }
}

/// The value of a field in an urlencoded form.
pub fn field<'f>(form: &'f [(String, String)], name: &str) -> Option<&'f str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// An urlencoded form body; a malformed one is a 400 page.
#[derive(Debug)]
pub struct WebForm(pub Vec<(String, String)>);

impl<S: Send + Sync> axum::extract::FromRequest<S> for WebForm {
    type Rejection = PageError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, PageError> {
        axum::Form::<Vec<(String, String)>>::from_request(req, state)
            .await
            .map(|f| WebForm(f.0))
            .map_err(|e| {
                // The extractor's own text is English and technical: logged, not shown.
                tracing::info!(rejection = %e, "page form refused");
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    site::page_error(StatusCode::PAYLOAD_TOO_LARGE)
                } else {
                    PageError::bad_form(
                        "Le formulaire envoyé est illisible : rechargez la page et recommencez.",
                    )
                }
            })
    }
}
