//! The pages a link sent by email opens: confirming the address of a new account, choosing a
//! new password; and the page that asks for the second. A link's secret arrives in the
//! address (`?jeton=`) and is posted back from a form: opening the link never uses it, so a
//! mail scanner that follows links does not spend it.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;

use super::auth::{landing, signed_in};
use super::layout::{alert_error, alert_ok, csrf, shell};
use super::{CSRF_FIELD, ClientAddr, PageError, Viewer, WebForm, field};
use crate::accounts::{self, MIN_PASSWORD_CHARS};
use crate::confirmations::{self, Confirmed, Reset, ResetAsked, Site};
use crate::http::AppState;

#[derive(Debug, Default, Deserialize)]
pub struct Link {
    pub jeton: Option<String>,
}

/// A link's secret as the server makes them (64 hex digits); anything else is no link.
fn secret(s: Option<&str>) -> Option<&str> {
    s.filter(|s| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Where emailed links lead, and the service's name the messages are signed with
/// (`service`: [`super::site::identity`]'s operator).
pub fn site<'a>(s: &'a AppState, service: &'a str) -> Site<'a> {
    Site {
        public_url: s.ctx.letters.public_url.get().map_or("", String::as_str),
        service,
    }
}

fn ask_page(v: &Viewer, email: &str, message: Option<Markup>) -> Markup {
    shell(
        v,
        "Mot de passe oublié",
        html! {
            @if let Some(m) = message { (m) }
            p.lead { "Indiquez l'adresse électronique de votre compte : nous y enverrons un lien pour choisir un nouveau mot de passe." }
            form.formulaire method="post" action="/mot-de-passe-oublie" {
                (csrf(v))
                div.champ {
                    label for="email" { "Adresse électronique" }
                    input id="email" name="email" type="email" autocomplete="username" required value=(email);
                }
                button type="submit" { "Recevoir un lien" }
            }
            p { a href="/connexion" { "Retour à la connexion" } }
        },
    )
}

#[tracing::instrument(skip_all)]
pub async fn ask_form(v: Viewer) -> Response {
    v.ok(ask_page(&v, "", None))
}

/// How long the answer to a reset request takes at least, whether the address has an
/// account or not (well above the writes an account's link costs).
pub const RESET_ANSWER_FLOOR: std::time::Duration = std::time::Duration::from_millis(250);

#[tracing::instrument(skip_all)]
pub async fn ask(
    State(s): State<AppState>,
    v: Viewer,
    client: ClientAddr,
    WebForm(f): WebForm,
) -> Result<Response, PageError> {
    v.check_csrf(field(&f, CSRF_FIELD))?;
    let email = field(&f, "email").unwrap_or("").trim();
    let now = s.ctx.clock.now();
    let client = client.0.map(|ip| ip.to_string());
    let service = super::site::identity(&s).operator;
    let started = tokio::time::Instant::now();
    match confirmations::ask_reset(&s.ctx.db, email, client.as_deref(), site(&s, &service), now)
        .await?
    {
        ResetAsked::Done => {
            // An address with an account costs a link and a message to write, one without
            // costs nothing: the answer waits to a fixed floor, so its time does not tell.
            tokio::time::sleep_until(started + RESET_ANSWER_FLOOR).await;
            tracing::info!("password reset asked");
            Ok(v.ok(shell(
                &v,
                "Lien envoyé",
                html! {
                    (alert_ok("Si un compte existe pour cette adresse, un message vient d'y être envoyé avec un lien pour choisir un nouveau mot de passe. Le lien est valable une heure et ne sert qu'une fois."))
                    p { "Rien reçu dans quelques minutes ? Regardez dans les courriels indésirables, vérifiez l'adresse, puis refaites la demande." }
                    p { a href="/connexion" { "Retour à la connexion" } }
                },
            )))
        }
        ResetAsked::ClientLocked(until) => {
            tracing::warn!("password reset refused: too many requests from this address");
            let minutes = ((until.duration_since(now).as_secs() + 59) / 60).max(1);
            Ok(v.page(
                StatusCode::TOO_MANY_REQUESTS,
                ask_page(
                    &v,
                    email,
                    Some(alert_error(&format!(
                        "Trop de demandes depuis votre réseau. Réessayez dans {minutes} minute{}.",
                        if minutes > 1 { "s" } else { "" }
                    ))),
                ),
            ))
        }
    }
}

/// The link proved the address: its person is signed in, on their work.
async fn session_for(
    s: &AppState,
    user: accounts::User,
    now: jiff::Timestamp,
) -> Result<Response, PageError> {
    let to = landing(user.role);
    let (session, _) = accounts::open_session(&s.ctx.db, user, now).await?;
    Ok(signed_in(s, &session, to))
}

/// The page of a link that cannot be used, with the way to get a new one.
fn dead_link(v: &Viewer, what: &str, again: Markup) -> Response {
    v.page(
        StatusCode::GONE,
        shell(
            v,
            "Lien expiré ou déjà utilisé",
            html! {
                (alert_error(&format!("Ce lien {what} n'est plus valable : il a déjà servi ou il a expiré.")))
                p { (again) }
            },
        ),
    )
}

fn dead_reset(v: &Viewer) -> Response {
    dead_link(
        v,
        "pour choisir un nouveau mot de passe",
        html! { a href="/mot-de-passe-oublie" { "Demander un nouveau lien" } },
    )
}

fn new_password_page(v: &Viewer, secret: &str, error: Option<&str>) -> Markup {
    shell(
        v,
        "Choisir un nouveau mot de passe",
        html! {
            @if let Some(e) = error { (alert_error(e)) }
            form.formulaire method="post" action="/mot-de-passe/nouveau" {
                (csrf(v))
                input type="hidden" name="jeton" value=(secret);
                div.champ {
                    label for="password" { "Nouveau mot de passe" }
                    p.aide id="password-aide" { "Au moins " (MIN_PASSWORD_CHARS) " caractères ; une phrase de passe est plus sûre." }
                    input id="password" name="password" type="password" autocomplete="new-password" minlength=(MIN_PASSWORD_CHARS) aria-describedby="password-aide" required;
                }
                div.champ {
                    label for="password2" { "Nouveau mot de passe (confirmation)" }
                    input id="password2" name="password2" type="password" autocomplete="new-password" required;
                }
                p { "Toutes les sessions ouvertes avec l'ancien mot de passe seront fermées." }
                button type="submit" { "Enregistrer le mot de passe" }
            }
        },
    )
}

#[tracing::instrument(skip_all)]
pub async fn new_password_form(
    State(s): State<AppState>,
    v: Viewer,
    Query(q): Query<Link>,
) -> Result<Response, PageError> {
    let Some(secret) = secret(q.jeton.as_deref()) else {
        return Ok(dead_reset(&v));
    };
    if !confirmations::reset_link_valid(&s.ctx.db, secret, s.ctx.clock.now()).await? {
        return Ok(dead_reset(&v));
    }
    Ok(from_link(v.ok(new_password_page(&v, secret, None))))
}

#[tracing::instrument(skip_all)]
pub async fn new_password(
    State(s): State<AppState>,
    v: Viewer,
    WebForm(f): WebForm,
) -> Result<Response, PageError> {
    v.check_csrf(field(&f, CSRF_FIELD))?;
    let Some(secret) = secret(field(&f, "jeton")) else {
        return Ok(dead_reset(&v));
    };
    let password = field(&f, "password").unwrap_or("");
    if password != field(&f, "password2").unwrap_or("") {
        return Ok(v.page(
            StatusCode::UNPROCESSABLE_ENTITY,
            new_password_page(&v, secret, Some("Les deux mots de passe sont différents.")),
        ));
    }
    let now = s.ctx.clock.now();
    match confirmations::reset_password(&s.ctx.db, secret, password, now)
        .await
        .map_err(super::auth::account_error)?
    {
        Reset::Done(user) => {
            tracing::info!(user = %user.id, "password reset");
            session_for(&s, user, now).await
        }
        Reset::Weak => Ok(v.page(
            StatusCode::UNPROCESSABLE_ENTITY,
            new_password_page(
                &v,
                secret,
                Some(&format!(
                    "Le mot de passe doit compter au moins {MIN_PASSWORD_CHARS} caractères."
                )),
            ),
        )),
        Reset::InvalidLink => Ok(dead_reset(&v)),
    }
}

fn dead_confirmation(v: &Viewer) -> Response {
    dead_link(
        v,
        "de confirmation",
        html! {
            "Connectez-vous avec l'adresse et le mot de passe choisis à l'inscription : si l'adresse n'est pas encore confirmée, un nouveau lien vous sera envoyé. "
            a href="/connexion" { "Se connecter" }
        },
    )
}

fn confirm_page(v: &Viewer, secret: &str, error: Option<&str>) -> Markup {
    shell(
        v,
        "Confirmer votre adresse électronique",
        html! {
            @if let Some(e) = error { (alert_error(e)) }
            p.lead { "Un dernier pas : confirmez votre adresse pour activer votre compte porteur de projet." }
            form.formulaire method="post" action="/inscription/confirmer" {
                (csrf(v))
                input type="hidden" name="jeton" value=(secret);
                div.champ {
                    label for="password" { "Mot de passe choisi à l'inscription" }
                    input id="password" name="password" type="password" autocomplete="current-password" required;
                }
                button type="submit" { "Confirmer mon adresse" }
            }
        },
    )
}

/// A page opened from an emailed link: its address holds the link's secret, which no
/// request it makes (its stylesheet, its script) may carry on in a `Referer`.
fn from_link(mut res: Response) -> Response {
    res.headers_mut().insert(
        axum::http::header::REFERRER_POLICY,
        axum::http::HeaderValue::from_static("no-referrer"),
    );
    res
}

#[tracing::instrument(skip_all)]
pub async fn confirm_form(v: Viewer, Query(q): Query<Link>) -> Response {
    let Some(secret) = secret(q.jeton.as_deref()) else {
        return dead_confirmation(&v);
    };
    from_link(v.ok(confirm_page(&v, secret, None)))
}

#[tracing::instrument(skip_all)]
pub async fn confirm(
    State(s): State<AppState>,
    v: Viewer,
    WebForm(f): WebForm,
) -> Result<Response, PageError> {
    v.check_csrf(field(&f, CSRF_FIELD))?;
    let Some(secret) = secret(field(&f, "jeton")) else {
        return Ok(dead_confirmation(&v));
    };
    let password = field(&f, "password").unwrap_or("");
    let now = s.ctx.clock.now();
    match confirmations::confirm(&s.ctx.db, secret, password, now)
        .await
        .map_err(super::auth::account_error)?
    {
        Confirmed::Done(user) => {
            tracing::info!(user = %user.id, "address confirmed");
            session_for(&s, user, now).await
        }
        Confirmed::WrongPassword => Ok(v.page(
            StatusCode::UNPROCESSABLE_ENTITY,
            confirm_page(
                &v,
                secret,
                Some("Ce n'est pas le mot de passe choisi à l'inscription. Si vous avez refait l'inscription depuis, ouvrez le lien du dernier message reçu."),
            ),
        )),
        Confirmed::InvalidLink => Ok(dead_confirmation(&v)),
    }
}
