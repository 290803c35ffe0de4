//! The page shell, shared fragments and French wording.

use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use maud::{DOCTYPE, Markup, PreEscaped, html};
use metroplan_engine::model::RoleKind;
use metroplan_engine::rules::explain::amount_fr;
use metroplan_engine::workflow::Guard;
use rust_decimal::Decimal;

use super::{CSRF_FIELD, Viewer};
use crate::error::Error;

// One stylesheet and one script served, kept in a file per page family so that each can be
// read (and changed) on its own.
const STYLE: &str = concat!(
    include_str!("../../assets/style.css"),
    include_str!("../../assets/form.css"),
    include_str!("../../assets/decision.css"),
    include_str!("../../assets/timeline.css"),
);
const SCRIPT: &str = concat!(
    include_str!("../../assets/app.js"),
    include_str!("../../assets/form.js"),
    include_str!("../../assets/decision.js"),
    include_str!("../../assets/timeline.js"),
);

pub async fn style() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLE,
    )
}

pub async fn script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        SCRIPT,
    )
}

pub fn role_fr(r: RoleKind) -> &'static str {
    match r {
        RoleKind::Applicant => "Porteur de projet",
        RoleKind::Instructor => "Instruction",
        RoleKind::Reviewer => "Comité de sélection",
        RoleKind::Approver => "Élu délégué",
        RoleKind::Finance => "Finances",
        RoleKind::Admin => "Administration",
    }
}

/// An amount in euros, French style (`12 000,50 €`).
pub fn euros(d: Decimal) -> String {
    format!("{}\u{a0}€", amount_fr(d))
}

/// A decimal string from the services, in euros.
pub fn euros_str(s: &str) -> String {
    s.parse::<Decimal>().map(euros).unwrap_or_else(|_| s.into())
}

/// A stored RFC 3339 instant as a person reads it where the plan is: `1er mars 2021 à 10 h 02`.
pub fn instant(s: &str, tz: &jiff::tz::TimeZone) -> String {
    match s.parse::<jiff::Timestamp>() {
        Ok(t) => metroplan_engine::french::datetime_fr(t, tz),
        Err(_) => s.to_string(),
    }
}

/// The time zone a plan's dates are read in; for what belongs to no plan (or to a plan no
/// longer served), the server's own.
pub fn plan_tz(s: &crate::http::AppState, plan: Option<&str>) -> jiff::tz::TimeZone {
    plan.and_then(|p| s.ctx.plans.get(p))
        .map(|p| p.tz.clone())
        .unwrap_or_else(jiff::tz::TimeZone::system)
}

/// A stored day (`2021-03-01`) as a person reads it: `1er mars 2021`.
pub fn day(s: &str) -> String {
    s.get(..10)
        .and_then(|d| d.parse::<jiff::civil::Date>().ok())
        .map_or_else(|| s.to_string(), metroplan_engine::french::date_fr)
}

/// `0 refusé`, `1 dossier traité`, `3 dossiers traités`: French plurals, never "(s)".
pub fn count_fr(n: usize, one: &str, many: &str) -> String {
    match n {
        0 => format!("0 {one}"),
        1 => format!("1 {one}"),
        n => format!("{} {many}", amount_fr(Decimal::from(n))),
    }
}

/// A stored instant as a `datetime` attribute (to the second: HTML allows at most
/// milliseconds).
pub fn datetime_attr(s: &str) -> String {
    match s.get(..19) {
        Some(head) => format!("{head}Z"),
        None => s.to_string(),
    }
}

pub fn url_encode(s: &str) -> String {
    let mut o = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                o.push(b as char)
            }
            _ => o.push_str(&format!("%{b:02X}")),
        }
    }
    o
}

/// The hidden CSRF field of every form.
pub fn csrf(v: &Viewer) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(v.csrf()); }
}

fn head(title: &str, script: bool) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · " (super::site::current().operator) }
            link rel="stylesheet" href="/static/style.css";
            @if script { script src="/static/app.js" defer {} }
        }
    }
}

tokio::task_local! {
    /// The demonstration banner of the request being answered (`serve --demo`), set by
    /// [`super::demo_banner`] around every page route, so that error pages, which are
    /// rendered without the server's state, carry it too.
    pub static DEMO_BANNER: String;
}

/// The demonstration banner, when the server runs in that mode.
fn demo() -> Markup {
    html! {
        @if let Ok(text) = DEMO_BANNER.try_with(|b| b.clone()) {
            p.demo role="note" { (text) }
        }
    }
}

/// A whole page: header with the navigation for the viewer's role, the content, a footer;
/// French typography put in by one pass over the result.
pub fn shell(v: &Viewer, title: &str, content: Markup) -> Markup {
    typeset_page(shell_markup(v, None, title, content))
}

/// A page about one plan's matter (a file, its form) whose address does not name the plan:
/// the header and footer name that plan's authority, as on the plan's own pages.
pub fn shell_in(v: &Viewer, plan: &str, title: &str, content: Markup) -> Markup {
    typeset_page(shell_markup(v, Some(plan), title, content))
}

fn typeset_page(page: Markup) -> Markup {
    PreEscaped(super::site::typo::typeset_html(&page.into_string()))
}

fn shell_markup(v: &Viewer, plan: Option<&str>, title: &str, content: Markup) -> Markup {
    let role = v.role();
    html! {
        (DOCTYPE)
        html lang="fr" {
            (head(title, true))
            body {
                a.skip href="#contenu" { "Aller au contenu" }
                header.site {
                    (demo())
                    nav aria-label="Navigation principale" {
                        (brand(&v.path, plan))
                        ul {
                            (nav_link(&v.path, "/", "Plans"))
                            @if role == Some(RoleKind::Applicant) {
                                (nav_link(&v.path, "/mes-dossiers", "Mes dossiers"))
                            }
                            @if role.is_some_and(|r| r != RoleKind::Applicant) {
                                (nav_link(&v.path, "/instruction", "Instruction"))
                            }
                            @if role == Some(RoleKind::Admin) {
                                (nav_link(&v.path, "/admin", "Administration"))
                            }
                            (nav_link(&v.path, "/aide", "Aide"))
                        }
                        div.account {
                            @if let Some(s) = &v.session {
                                span { (s.user.name) span.role { " · " (role_fr(s.user.role)) } }
                                form method="post" action="/deconnexion" {
                                    (csrf(v))
                                    button.link type="submit" { "Se déconnecter" }
                                }
                            } @else {
                                a href="/connexion" { "Se connecter" }
                                a href="/inscription" { "Créer un compte" }
                            }
                        }
                    }
                }
                main id="contenu" tabindex="-1" {
                    h1 { (title) }
                    (content)
                }
                (footer(&v.path, plan))
            }
        }
    }
}

/// The header's name: on a plan's pages, its authority (and logo); elsewhere the operator.
fn brand(path: &str, plan: Option<&str>) -> Markup {
    let id = super::site::current();
    match authority_of(path, plan) {
        Some((plan, owner, logo)) => html! {
            a.brand href={"/plans/" (plan)} {
                @if logo { img.logo src={"/plans/" (plan) "/logo"} alt=""; }
                span { (owner) }
            }
        },
        None => html! {
            a.brand href="/" {
                // One authority's site: its logo on every page, not only on its plan's.
                @if let [(plan, owner, true)] = id.plans.as_slice() { @if *owner == id.operator { img.logo src={"/plans/" (plan) "/logo"} alt=""; } }
                span { (id.operator) }
            }
        },
    }
}

/// The plan a page is about: the one given, else the one its address names.
fn authority_of(path: &str, plan: Option<&str>) -> Option<(String, String, bool)> {
    match plan {
        Some(p) => super::site::current()
            .plans
            .iter()
            .find(|(id, _, _)| id == p)
            .cloned(),
        None => super::site::plan_of_path(path),
    }
}

/// A navigation link, marked as the current page where the viewer is.
fn nav_link(path: &str, href: &str, label: &str) -> Markup {
    let here = path.split('?').next().unwrap_or(path);
    // A file's pages belong to the list they are reached from (one of the two is shown).
    let current = match href {
        "/" => here == "/" || here.starts_with("/plans/"),
        "/mes-dossiers" | "/instruction" => {
            here == href || here.starts_with(&format!("{href}/")) || here.starts_with("/dossiers/")
        }
        _ => here == href || here.starts_with(&format!("{href}/")),
    };
    html! {
        li { a href=(href) aria-current=[current.then_some("page")] { (label) } }
    }
}

/// The footer French public sites have: who publishes, the pages owed, the CRPA note.
fn footer(path: &str, plan: Option<&str>) -> Markup {
    let id = super::site::current();
    let authority = authority_of(path, plan).map(|(_, owner, _)| owner);
    html! {
        footer.site {
            p.editeur {
                strong { (authority.as_deref().unwrap_or(&id.operator)) }
            }
            ul.liens-legaux {
                @for (slug, title) in super::site::PUBLISHED {
                    li { a href={"/" (slug)} { (title) } }
                }
            }
            p {
                "Les décisions prises avec l'aide d'un traitement algorithmique sont expliquées à chaque demandeur "
                "(code des relations entre le public et l'administration, articles L311-3-1 et R311-3-1-2)."
            }
        }
    }
}

/// An error page, without the viewer's navigation.
pub fn bare(title: &str, message: &str) -> Markup {
    typeset_page(bare_markup(title, message))
}

fn bare_markup(title: &str, message: &str) -> Markup {
    html! {
        (DOCTYPE)
        html lang="fr" {
            (head(title, false))
            body {
                a.skip href="#contenu" { "Aller au contenu" }
                header.site {
                    (demo())
                    nav aria-label="Navigation principale" {
                        (brand("/", None))
                        ul {
                            li { a href="/" { "Plans" } }
                            li { a href="/aide" { "Aide" } }
                        }
                        div.account { a href="/connexion" { "Se connecter" } }
                    }
                }
                main id="contenu" tabindex="-1" {
                    h1 { (title) }
                    p.alert.error role="alert" { (message) }
                    p { a href="/" { "Retour à l'accueil" } " · " a href="/aide" { "Aide et contact" } }
                }
                (footer("/", None))
            }
        }
    }
}

pub fn alert_error(message: &str) -> Markup {
    html! { div.alert.error role="alert" { p { (message) } } }
}

pub fn alert_ok(message: &str) -> Markup {
    html! { div.alert.ok role="status" { p { (message) } } }
}

/// The R311-3-1-2 explanation (plain text from the engine) as headed sections and lists,
/// without its technical section (rule ids, field paths, the ruleset's hash): nobody reads
/// those on a page; the API and the rules' publication keep them.
pub fn explanation(text: &str) -> Markup {
    let mut blocks: Vec<Markup> = Vec::new();
    let mut items: Vec<String> = Vec::new();
    let flush = |items: &mut Vec<String>, blocks: &mut Vec<Markup>| {
        if !items.is_empty() {
            let list = std::mem::take(items);
            blocks.push(html! { ul { @for i in &list { li { (i) } } } });
        }
    };
    let personal = text
        .split_once(metroplan_engine::rules::explain::text::TECHNICAL)
        .map_or(text, |(p, _)| p);
    for line in personal.lines() {
        let l = line.trim();
        if l.is_empty() {
            flush(&mut items, &mut blocks);
        } else if let Some(item) = l.strip_prefix("- ") {
            items.push(item.to_string());
        } else if (l.len() > 3
            && l.as_bytes()[0].is_ascii_digit()
            && l[1..].starts_with(". ")
            && !l.contains(':'))
            // "Conditions non remplies :", "Vos droits :": the engine's list headings.
            || (l.ends_with("\u{a0}:") && !l.starts_with("- "))
        {
            flush(&mut items, &mut blocks);
            blocks.push(html! { h3 { (l) } });
        } else {
            flush(&mut items, &mut blocks);
            blocks.push(html! { p { (l) } });
        }
    }
    flush(&mut items, &mut blocks);
    html! {
        div.explication {
            @for b in blocks { (b) }
        }
    }
}

/// Why a service refused, in French, with the status to answer.
pub fn refusal_fr(e: &Error) -> (StatusCode, String) {
    match e {
        Error::Stale { .. } => (
            StatusCode::PRECONDITION_FAILED,
            "Quelqu'un d'autre a modifié ce dossier depuis que vous avez ouvert la page. Rien n'a été enregistré : rechargez la page pour voir son état actuel, puis recommencez.".into(),
        ),
        Error::Conflict(_) => (
            StatusCode::CONFLICT,
            "Cette action n'est pas possible dans l'état actuel du dossier. Rechargez la page pour voir son état.".into(),
        ),
        Error::PlanChanged(_) => (
            StatusCode::CONFLICT,
            "Ce dossier relève d'un fonds ou d'une étape qui n'existe plus dans le plan\u{a0}: il reste consultable, mais il ne peut plus être modifié. Rien n'a été enregistré. Signalez-le à l'administrateur du dispositif.".into(),
        ),
        Error::KeyBound { .. } => (
            StatusCode::CONFLICT,
            "Ce numéro d'identification (SIRET) est déjà rattaché à un autre compte : seul ce compte peut déposer en son nom. Si c'est le vôtre, demandez à l'administrateur du dispositif de vous le transférer.".into(),
        ),
        Error::Forbidden(_) => (
            StatusCode::FORBIDDEN,
            "Votre profil ne permet pas cette action sur ce dossier.".into(),
        ),
        Error::Unprocessable {
            detail,
            field,
            guard,
            extra,
        } => (
            StatusCode::UNPROCESSABLE_ENTITY,
            guard_fr(guard.as_deref(), extra.as_deref()).unwrap_or_else(|| match field {
                Some(f) => format!("Donnée refusée ({f}) : {detail}"),
                None => format!("Donnée refusée : {detail}"),
            }),
        ),
        Error::TooLarge(_) => (
            StatusCode::PAYLOAD_TOO_LARGE,
            "Le fichier envoyé est trop volumineux.".into(),
        ),
        Error::Quota(_) => (
            StatusCode::PAYLOAD_TOO_LARGE,
            "La limite des pièces envoyées est atteinte : rien n'a été enregistré. Envoyez des fichiers plus légers (un PDF compressé, une image réduite), ou réessayez demain ; en cas de besoin, contactez le service instructeur.".into(),
        ),
        Error::UnsupportedMediaType(_) => (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Une pièce jointe doit être un PDF ou une image (PNG, JPEG, WebP).".into(),
        ),
        Error::BadRequest { detail, .. } => (
            StatusCode::BAD_REQUEST,
            format!("Requête invalide : {detail}"),
        ),
        Error::Busy => (
            StatusCode::SERVICE_UNAVAILABLE,
            "Le serveur est très sollicité : réessayez dans un instant.".into(),
        ),
        Error::DatabaseUnreachable => (
            StatusCode::SERVICE_UNAVAILABLE,
            "La base de données est momentanément indisponible : rien n'a été enregistré. Réessayez dans quelques instants.".into(),
        ),
        Error::StorageRefused(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "Le serveur ne peut plus rien enregistrer pour le moment : rien n'a été enregistré. L'équipe technique est prévenue ; réessayez plus tard.".into(),
        ),
        Error::RulesUnavailable(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "Les règles d'éligibilité de ce dispositif sont en cours de correction : votre dossier n'a pas été déposé. Réessayez plus tard.".into(),
        ),
        other => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("Erreur : {other}"),
        ),
    }
}

fn guard_fr(guard: Option<&str>, extra: Option<&serde_json::Value>) -> Option<String> {
    let s = |k: &str| {
        extra
            .and_then(|x| x.get(k))
            .map(|v| match v {
                serde_json::Value::String(s) => euros_str(s),
                other => other.to_string(),
            })
            .unwrap_or_default()
    };
    if let Some(fr) = extra.and_then(|x| x.get("fr")).and_then(|v| v.as_str()) {
        return Some(fr.to_string());
    }
    let guard = Guard::parse(guard?)?;
    Some(match guard {
        // The one refusal that says how much remains.
        Guard::WithinEnvelope => format!(
            "Ce montant dépasserait l'enveloppe {} du fonds ({}), dont {} déjà engagés\u{a0}: il reste {}.",
            s("year"),
            s("envelope"),
            s("committed"),
            s("remaining")
        ),
        other => other.refusal_fr().to_string(),
    })
}

/// A file's state, as a badge: for a state a live edit took out of the plan, its last known
/// label, or else « étape qui n'existe plus dans le plan » (never its id).
pub fn file_state_badge(view: &crate::service::ApplicationView) -> Markup {
    state_badge(&view.state, &file_state_label(view))
}

/// A file's state as a person reads it (see [`file_state_badge`]).
pub fn file_state_label(view: &crate::service::ApplicationView) -> String {
    use crate::service::Presence;
    if view.state_status == Presence::Removed && view.state_label == view.state {
        return "étape qui n'existe plus dans le plan".into();
    }
    view.state_label.clone()
}

/// The fund of a file, as a person reads it: its title, or for a fund a live edit renamed or
/// removed, its last known title or « fonds qui n'existe plus dans le plan ».
pub fn fund_label(view: &crate::service::ApplicationView) -> String {
    view.fund_title
        .clone()
        .unwrap_or_else(|| "fonds qui n'existe plus dans le plan".into())
}

/// The mark of a file whose fund or state a live edit took out of the plan; nothing else.
pub fn removed_mark(view: &crate::service::ApplicationView) -> Markup {
    use crate::service::Presence;
    html! {
        @if view.fund_status == Presence::Removed {
            " " strong.retire { "Fonds retiré du plan" } " (" (fund_label(view)) ")"
        } @else if view.state_status == Presence::Removed {
            " " strong.retire { "Étape retirée du plan" }
        }
    }
}

/// A state, as a badge.
pub fn state_badge(id: &str, label: &str) -> Markup {
    html! { span class={"etat etat-" (id)} { (if label.is_empty() { id } else { label }) } }
}

pub fn outcome_fr(o: &str) -> &'static str {
    match o {
        "eligible" => "éligible",
        "ineligible" => "inéligible",
        "incomplete" => "incomplet",
        _ => "inconnu",
    }
}

pub fn raw(s: &str) -> PreEscaped<&str> {
    PreEscaped(s)
}

/// A piece's kind of file as people name it (the media type is for machines).
pub fn media_fr(media: &str) -> &'static str {
    match media {
        "application/pdf" => "PDF",
        "image/png" => "image PNG",
        "image/jpeg" => "image JPEG",
        "image/webp" => "image WebP",
        _ => "fichier",
    }
}

/// Why a file is not taken as a piece, as the person reads it; `None` when it is taken.
pub fn piece_refusal_fr(bytes: &[u8]) -> Option<&'static str> {
    match crate::documents::check(bytes) {
        Ok(_) => None,
        Err(crate::documents::Unfit::NotADocument) => {
            Some("Ce fichier n'est ni un PDF ni une image (PNG, JPEG, WebP).")
        }
        Err(crate::documents::Unfit::Damaged(_)) => Some(
            "Ce fichier est incomplet ou endommagé\u{a0}: ouvrez-le pour vérifier, enregistrez-le à nouveau, puis envoyez-le.",
        ),
    }
}
