//! The site around the plans: who runs it (the operator, from `<plans>/site/site.toml`), the
//! pages every authority must publish (`/mentions-legales`, `/accessibilite`,
//! `/donnees-personnelles`, `/aide`: the operator's `site/<page>.md`, then each served plan's
//! `pages/<page>.md` under its authority's name), the plans' logos, and the French pages of
//! the addresses no route answers. See docs/pages.md.

use std::path::Path;
use std::sync::Arc;

use axum::extract::{Path as UrlPath, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{Markup, PreEscaped, html};
use metroplan_engine::model::PAGES;

pub mod typo;

use super::layout::shell;
use super::{PageError, Viewer};
use crate::http::AppState;

/// The operator's directory, beside the plan directories.
pub const SITE_DIR: &str = "site";

/// Each published page: its address (the file stem) and its title.
pub const PUBLISHED: [(&str, &str); 4] = [
    ("mentions-legales", "Mentions légales"),
    ("accessibilite", "Accessibilité"),
    ("donnees-personnelles", "Données personnelles"),
    ("aide", "Aide et contact"),
];

/// Who the pages name: the site's operator, and each served plan's authority and logo.
#[derive(Debug, Clone, Default)]
pub struct Identity {
    /// The operator's name; with one plan served and no `site.toml`, that plan's owner.
    pub operator: String,
    /// (plan id, its owner, whether it has a logo).
    pub plans: Vec<(String, String, bool)>,
}

tokio::task_local! {
    /// The identity of the site for the request being answered, set around every page route
    /// by [`identity_scope`] so that the shell (and error pages) can name the authority.
    pub static IDENTITY: Arc<Identity>;
}

#[derive(Debug, serde::Deserialize)]
struct SiteToml {
    name: String,
}

fn site_dir(s: &AppState) -> std::path::PathBuf {
    s.config.plans.join(SITE_DIR)
}

pub fn identity(s: &AppState) -> Identity {
    let plans = s.ctx.plans.current();
    let list: Vec<(String, String, bool)> = plans
        .by_id
        .values()
        .map(|p| {
            (
                p.plan.id.to_string(),
                p.plan.owner.clone(),
                p.plan.logo.is_some(),
            )
        })
        .collect();
    let declared = std::fs::read_to_string(site_dir(s).join("site.toml"))
        .ok()
        .and_then(|t| toml::from_str::<SiteToml>(&t).ok())
        .map(|t| t.name);
    let operator = declared.unwrap_or_else(|| match list.as_slice() {
        [(_, owner, _)] => owner.clone(),
        _ => "Aides et subventions".into(),
    });
    Identity {
        operator,
        plans: list,
    }
}

/// Sets [`IDENTITY`] for the page routes.
pub async fn identity_scope(
    State(s): State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    IDENTITY.scope(Arc::new(identity(&s)), next.run(req)).await
}

/// The identity of the request being answered (a default outside a page route).
pub fn current() -> Arc<Identity> {
    IDENTITY.try_with(Arc::clone).unwrap_or_default()
}

/// The plan a path belongs to (`/plans/{plan}/…`), when it is served: its pages' header
/// names its authority rather than the operator.
pub fn plan_of_path(path: &str) -> Option<(String, String, bool)> {
    let id = path.strip_prefix("/plans/")?.split(['/', '?']).next()?;
    current().plans.iter().find(|(p, _, _)| p == id).cloned()
}

/// Markdown as HTML, raw HTML written in it shown as text: the pages are the authority's
/// words, never markup that could run in a visitor's browser.
pub fn markdown(text: &str) -> String {
    use pulldown_cmark::{Event, Options, Parser, html};
    let parser = Parser::new_ext(text, Options::ENABLE_TABLES).map(|e| match e {
        Event::Html(h) | Event::InlineHtml(h) => Event::Text(h),
        other => other,
    });
    let mut out = String::new();
    html::push_html(&mut out, parser);
    out
}

/// Headings inside a section move down one level (`##` of a plan's file under its `h2`).
fn demote(html: &str) -> String {
    let mut s = html.to_string();
    for n in (2..=5).rev() {
        s = s
            .replace(&format!("<h{n}>"), &format!("<h{}>", n + 1))
            .replace(&format!("</h{n}>"), &format!("</h{}>", n + 1));
    }
    s.replace("<h1>", "<h2>").replace("</h1>", "</h2>")
}

fn published(s: &AppState, slug: &str, title: &str) -> Markup {
    let operator = std::fs::read_to_string(site_dir(s).join(format!("{slug}.md"))).ok();
    let plans = s.ctx.plans.current();
    let sections: Vec<(String, String, String)> = plans
        .by_id
        .values()
        .filter_map(|p| {
            let page = p.plan.pages.iter().find(|x| x.slug == slug)?;
            Some((
                p.plan.owner.clone(),
                p.plan.title.clone(),
                markdown(&page.markdown),
            ))
        })
        .collect();
    let several = sections.len() > 1 || operator.is_some();
    html! {
        @if let Some(text) = &operator {
            div.publication { (PreEscaped(markdown(text))) }
        }
        @for (owner, plan_title, body) in &sections {
            @if several {
                section.publication aria-label=(owner) {
                    h2 { (owner) }
                    p.lead { "Pour le plan « " (plan_title) " »." }
                    (PreEscaped(demote(body)))
                }
            } @else {
                div.publication { (PreEscaped(body.as_str())) }
            }
        }
        @if operator.is_none() && sections.is_empty() {
            p { "Cette page n'a pas encore été rédigée par l'autorité qui publie ce service : " a href="/aide" { "écrivez au service" } "." }
        }
        @if slug != "aide" {
            p { "Voir aussi : " a href="/aide" { "aide et contact" } "." }
        }
        @let _ = title;
    }
}

fn page_for(
    slug: &'static str,
) -> impl Fn(State<AppState>, Viewer) -> std::future::Ready<Response> + Clone {
    move |State(s): State<AppState>, v: Viewer| {
        let title = PUBLISHED
            .iter()
            .find(|(p, _)| *p == slug)
            .map_or(slug, |(_, t)| t);
        std::future::ready(v.ok(shell(&v, title, published(&s, slug, title))))
    }
}

pub fn routes() -> axum::Router<AppState> {
    debug_assert!(PUBLISHED.iter().map(|(p, _)| *p).eq(PAGES));
    axum::Router::new()
        .route(
            "/mentions-legales",
            axum::routing::get(page_for("mentions-legales")),
        )
        .route(
            "/accessibilite",
            axum::routing::get(page_for("accessibilite")),
        )
        .route(
            "/donnees-personnelles",
            axum::routing::get(page_for("donnees-personnelles")),
        )
        .route("/aide", axum::routing::get(page_for("aide")))
        .route("/plans/{plan}/logo", axum::routing::get(logo))
}

/// A plan's logo, from its directory.
pub async fn logo(
    State(s): State<AppState>,
    UrlPath(plan): UrlPath<String>,
) -> Result<Response, PageError> {
    let served = s.ctx.plans.get(&plan).ok_or_else(PageError::not_found)?;
    let rel = served.plan.logo.as_ref().ok_or_else(PageError::not_found)?;
    let bytes = tokio::fs::read(served.dir.join(rel))
        .await
        .map_err(|_| PageError::not_found())?;
    let kind = if Path::new(rel).extension().is_some_and(|e| e == "svg") {
        "image/svg+xml"
    } else {
        "image/png"
    };
    Ok((
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=3600"),
            // An SVG opened on its own runs nothing.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'",
            ),
        ],
        bytes,
    )
        .into_response())
}

/// Whether an address belongs to the API, whose errors stay problem documents.
pub fn is_api(path: &str) -> bool {
    path == "/openapi.json"
        || path == "/healthz"
        || path == "/metrics"
        || path.starts_with("/api/")
        || path == "/api"
}

/// What a page route answers for an error the API would answer with a problem document:
/// the same status, in French, in the site's shell.
pub fn error_page(status: StatusCode) -> Response {
    page_error(status).into_response()
}

/// The French page for an error status, as a page error a handler can return.
pub fn page_error(status: StatusCode) -> PageError {
    let (title, message) = match status {
        StatusCode::NOT_FOUND => (
            "Page introuvable",
            "Cette adresse ne correspond à aucune page. Elle a peut-être changé : repartez de l'accueil ou de la page d'aide.",
        ),
        StatusCode::METHOD_NOT_ALLOWED => (
            "Action impossible",
            "Cette page ne s'utilise pas ainsi (méthode non permise). Revenez à la page précédente et recommencez depuis son formulaire.",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "Envoi trop volumineux",
            "Ce que vous avez envoyé dépasse la taille permise : rien n'a été enregistré. Réduisez la taille des pièces et recommencez.",
        ),
        StatusCode::SERVICE_UNAVAILABLE => (
            "Service momentanément indisponible",
            "Le serveur n'a pas pu répondre à temps : rien n'a été enregistré. Réessayez dans quelques instants.",
        ),
        s if s.is_server_error() => (
            "Erreur interne",
            "Le serveur n'a pas pu afficher cette page. L'incident est enregistré ; réessayez plus tard.",
        ),
        _ => (
            "Requête invalide",
            "Cette demande n'a pas pu être traitée. Revenez à la page précédente et recommencez.",
        ),
    };
    PageError::status(status, title, message)
}

/// Around every answer that is not the API's: the site's identity and the demonstration
/// banner in scope, and an error answered as a problem document or plain text (an unknown
/// address, a wrong method, a body too large, a time-out) turned into a French page with the
/// same status, so that no page route ever shows English or JSON.
pub async fn page_errors(
    State(s): State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if is_api(req.uri().path()) {
        return next.run(req).await;
    }
    let identity = Arc::new(identity(&s));
    let work = async move {
        let res = next.run(req).await;
        let status = res.status();
        let html = res
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.starts_with("text/html"));
        if (status.is_client_error() || status.is_server_error()) && !html {
            let retry = res.headers().get(header::RETRY_AFTER).cloned();
            let mut page = error_page(status);
            if let Some(r) = retry {
                page.headers_mut().insert(header::RETRY_AFTER, r);
            }
            return page;
        }
        res
    };
    let work = IDENTITY.scope(identity, work);
    match super::demo_text(&s) {
        Some(text) => super::layout::DEMO_BANNER.scope(text, work).await,
        None => work.await,
    }
}
