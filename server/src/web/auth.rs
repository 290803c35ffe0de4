//! Signing in and out, and applicants' registration.

use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use metroplan_engine::model::RoleKind;
use serde::Deserialize;

use super::layout::{alert_error, alert_ok, csrf, shell};
use super::{CSRF_FIELD, PageError, SESSION_COOKIE, Viewer, WebForm, cookie, field};
use crate::accounts::{self, AccountError, MIN_PASSWORD_CHARS, NewUser, SignIn};
use crate::http::AppState;

#[derive(Debug, Default, Deserialize)]
pub struct Back {
    pub suite: Option<String>,
}

/// Only a path on this site, never an open redirect. Browsers drop tabs and line breaks from
/// an address and read a backslash as a slash, so `/<tab>/host` would leave the site as
/// `//host`: any control character or backslash is refused, as is a second leading slash.
pub(super) fn safe_back(s: Option<&str>) -> String {
    match s {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && !p.chars().any(|c| c.is_control() || c == '\\') =>
        {
            p.into()
        }
        _ => "/".into(),
    }
}

/// Where a role's work is: signing in without a page to come back to lands there, not on
/// the public home page.
pub fn landing(role: RoleKind) -> &'static str {
    match role {
        RoleKind::Applicant => "/mes-dossiers",
        RoleKind::Admin => "/admin",
        _ => "/instruction",
    }
}

fn session_cookie(s: &AppState, secret: &str, max_age: i64) -> HeaderValue {
    let c = format!(
        "{SESSION_COOKIE}={secret}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{}",
        if s.config.secure_cookies {
            "; Secure"
        } else {
            ""
        }
    );
    HeaderValue::from_str(&c).expect("a cookie of hex digits is a header value")
}

pub(super) fn signed_in(s: &AppState, secret: &str, to: &str) -> Response {
    let mut res = Redirect::to(to).into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        session_cookie(s, secret, accounts::SESSION_LIFETIME.as_secs()),
    );
    res
}

fn sign_in_page(s: &AppState, v: &Viewer, back: &str, email: &str, error: Option<&str>) -> Markup {
    shell(
        v,
        "Se connecter",
        html! {
            @if let Some(e) = error { (alert_error(e)) }
            (super::oidc::buttons(s, back, false))
            form.formulaire method="post" action="/connexion" {
                (csrf(v))
                input type="hidden" name="suite" value=(back);
                div.champ {
                    label for="email" { "Adresse électronique" }
                    input id="email" name="email" type="email" autocomplete="username" required value=(email);
                }
                div.champ {
                    label for="password" { "Mot de passe" }
                    input id="password" name="password" type="password" autocomplete="current-password" required;
                }
                button type="submit" { "Se connecter" }
            }
            p { a href="/mot-de-passe-oublie" { "Mot de passe oublié ?" } }
            p { "Pas encore de compte ? " a href="/inscription" { "Créer un compte porteur de projet" } }
        },
    )
}

#[tracing::instrument(skip_all)]
pub async fn sign_in_form(State(s): State<AppState>, v: Viewer, Query(q): Query<Back>) -> Response {
    let back = safe_back(q.suite.as_deref());
    v.ok(sign_in_page(&s, &v, &back, "", None))
}

#[tracing::instrument(skip_all)]
pub async fn sign_in(
    State(s): State<AppState>,
    v: Viewer,
    client: super::ClientAddr,
    WebForm(f): WebForm,
) -> Result<Response, PageError> {
    v.check_csrf(field(&f, CSRF_FIELD))?;
    let email = field(&f, "email").unwrap_or("");
    let password = field(&f, "password").unwrap_or("");
    let back = safe_back(field(&f, "suite"));
    let now = s.ctx.clock.now();
    let client = client.0.map(|ip| ip.to_string());
    match accounts::sign_in(&s.ctx.db, email, password, client.as_deref(), now)
        .await
        .map_err(account_error)?
    {
        SignIn::Ok(user) => {
            tracing::info!(user = %user.id, "signed in");
            let to = if back == "/" {
                landing(user.role).to_string()
            } else {
                back
            };
            let (secret, _) = accounts::open_session(&s.ctx.db, user, now).await?;
            Ok(signed_in(&s, &secret, &to))
        }
        SignIn::Refused => {
            // No email in logs: it is personal data, and a mistyped password often is one.
            tracing::info!("sign-in refused");
            Ok(refused(&s, &v, &back, email))
        }
        SignIn::ClientLocked(until) => {
            tracing::warn!("sign-in refused: too many failures from this address");
            Ok(locked(
                &s,
                &v,
                &back,
                email,
                until,
                now,
                "depuis votre réseau",
            ))
        }
        SignIn::Busy => {
            tracing::warn!("sign-in refused: every verification slot is taken");
            let mut res = v.page(
                StatusCode::SERVICE_UNAVAILABLE,
                sign_in_page(
                    &s,
                    &v,
                    &back,
                    email,
                    Some("Le service reçoit beaucoup de connexions en ce moment. Réessayez dans quelques secondes."),
                ),
            );
            res.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, HeaderValue::from(5));
            Ok(res)
        }
        SignIn::Disabled => {
            tracing::warn!("sign-in refused: the account is disabled");
            Ok(v.page(
                StatusCode::FORBIDDEN,
                sign_in_page(
                    &s,
                    &v,
                    &back,
                    email,
                    Some("Ce compte a été désactivé par un administrateur. Pour le réactiver ou pour savoir pourquoi, écrivez au service indiqué sur la page « Aide et contact »."),
                ),
            ))
        }
        SignIn::Unconfirmed(user) => {
            // Answered as a wrong password: otherwise registering an address with a password
            // of one's own, then signing in with it, would tell whether the address already
            // had an account. The person gets a new link; the message says to use it.
            tracing::info!(user = %user.id, "sign-in refused: address not confirmed");
            let service = super::site::identity(&s).operator;
            crate::confirmations::resend_confirmation(
                &s.ctx.db,
                &user,
                super::confirmations::site(&s, &service),
                now,
            )
            .await?;
            Ok(refused(&s, &v, &back, email))
        }
        SignIn::Locked(until) => {
            tracing::warn!("sign-in refused: too many failures for this account");
            Ok(locked(&s, &v, &back, email, until, now, "pour ce compte"))
        }
    }
}

/// The sign-in page again after a wrong email or password (or an address not confirmed yet,
/// which is not told apart).
fn refused(s: &AppState, v: &Viewer, back: &str, email: &str) -> Response {
    v.page(
        StatusCode::UNAUTHORIZED,
        sign_in_page(
            s,
            v,
            back,
            email,
            Some("Adresse électronique ou mot de passe incorrect. Si vous venez de créer votre compte, ouvrez d'abord le lien de confirmation reçu par courriel."),
        ),
    )
}

/// The sign-in page again, saying how long the lock lasts and what it applies to.
fn locked(
    s: &AppState,
    v: &Viewer,
    back: &str,
    email: &str,
    until: jiff::Timestamp,
    now: jiff::Timestamp,
    whose: &str,
) -> Response {
    let minutes = ((until.duration_since(now).as_secs() + 59) / 60).max(1);
    v.page(
        StatusCode::TOO_MANY_REQUESTS,
        sign_in_page(
            s,
            v,
            back,
            email,
            Some(&format!(
                "Trop de tentatives de connexion échouées {whose}. Réessayez dans {minutes} minute{}.",
                if minutes > 1 { "s" } else { "" }
            )),
        ),
    )
}

pub(super) fn account_error(e: AccountError) -> PageError {
    match e {
        AccountError::Db(e) => PageError::from(e),
        other => PageError::from(crate::error::Error::Internal(anyhow::anyhow!(other))),
    }
}

#[tracing::instrument(skip_all)]
pub async fn sign_out(
    State(s): State<AppState>,
    v: Viewer,
    headers: axum::http::HeaderMap,
    WebForm(f): WebForm,
) -> Result<Response, PageError> {
    v.check_csrf(field(&f, CSRF_FIELD))?;
    let via = match cookie(&headers, SESSION_COOKIE) {
        Some(secret) => accounts::close_session(&s.ctx.db, secret).await?,
        None => None,
    };
    let provider = match via {
        Some((provider, id_token)) => {
            super::oidc::provider_sign_out(&s, &provider, &id_token).await
        }
        None => None,
    };
    let mut res = provider.unwrap_or_else(|| Redirect::to("/").into_response());
    res.headers_mut()
        .append(header::SET_COOKIE, session_cookie(&s, "", 0));
    Ok(res)
}

#[derive(Debug, Default)]
struct Registration<'a> {
    name: &'a str,
    email: &'a str,
    siret: &'a str,
}

fn register_page(s: &AppState, v: &Viewer, r: &Registration<'_>, error: Option<&str>) -> Markup {
    shell(
        v,
        "Créer un compte porteur de projet",
        html! {
            p.lead { "Associations, communes et autres porteurs : un compte permet de déposer un dossier et d'en suivre l'instruction." }
            @if let Some(e) = error { (alert_error(e)) }
            (super::oidc::buttons(s, "/mes-dossiers", true))
            form.formulaire method="post" action="/inscription" {
                (csrf(v))
                div.champ {
                    label for="name" { "Nom de la structure, ou vos prénom et nom" }
                    input id="name" name="name" type="text" autocomplete="organization" required value=(r.name);
                }
                div.champ {
                    label for="siret" { "SIRET (facultatif)" }
                    p.aide id="siret-aide" {
                        "14 chiffres, avec ou sans espaces. Sans SIRET (un particulier, une copropriété), laissez vide : "
                        "l'identifiant que l'aide demande (numéro fiscal, numéro d'immatriculation…) sera rattaché à votre compte lors de votre première demande."
                    }
                    input id="siret" name="siret" type="text" inputmode="numeric" autocomplete="off" aria-describedby="siret-aide" value=(r.siret);
                }
                div.champ {
                    label for="email" { "Adresse électronique" }
                    input id="email" name="email" type="email" autocomplete="email" required value=(r.email);
                }
                div.champ {
                    label for="password" { "Mot de passe" }
                    p.aide id="password-aide" { "Au moins " (MIN_PASSWORD_CHARS) " caractères ; une phrase de passe est plus sûre." }
                    input id="password" name="password" type="password" autocomplete="new-password" minlength=(MIN_PASSWORD_CHARS) aria-describedby="password-aide" required;
                }
                div.champ {
                    label for="password2" { "Mot de passe (confirmation)" }
                    input id="password2" name="password2" type="password" autocomplete="new-password" required;
                }
                div.notice-donnees role="note" {
                    p {
                        "Vos nom, SIRET (s'il y a lieu) et adresse électronique servent à gérer votre compte et à instruire vos demandes d'aide, "
                        "dans le cadre d'une mission d'intérêt public (RGPD, article 6.1.e). "
                        "Vous pouvez y accéder, les faire rectifier ou vous opposer à leur traitement."
                    }
                    p { a href="/donnees-personnelles" { "En savoir plus sur vos données personnelles" } }
                }
                button type="submit" { "Créer mon compte" }
            }
        },
    )
}

#[tracing::instrument(skip_all)]
pub async fn register_form(State(s): State<AppState>, v: Viewer) -> Response {
    v.ok(register_page(&s, &v, &Registration::default(), None))
}

#[tracing::instrument(skip_all)]
pub async fn register(
    State(s): State<AppState>,
    v: Viewer,
    client: super::ClientAddr,
    WebForm(f): WebForm,
) -> Result<Response, PageError> {
    v.check_csrf(field(&f, CSRF_FIELD))?;
    let r = Registration {
        name: field(&f, "name").unwrap_or("").trim(),
        email: field(&f, "email").unwrap_or("").trim(),
        siret: field(&f, "siret").unwrap_or("").trim(),
    };
    let password = field(&f, "password").unwrap_or("");
    let refuse = |msg: &str| {
        v.page(
            StatusCode::UNPROCESSABLE_ENTITY,
            register_page(&s, &v, &r, Some(msg)),
        )
    };
    if password != field(&f, "password2").unwrap_or("") {
        return Ok(refuse("Les deux mots de passe sont différents."));
    }
    let now = s.ctx.clock.now();
    let service = super::site::identity(&s).operator;
    let registered = crate::confirmations::register(
        &s.ctx.db,
        NewUser {
            email: r.email,
            name: r.name,
            role: RoleKind::Applicant,
            plan: None,
            fund: None,
            // Without a SIRET, the fund's key (a numéro fiscal…) is bound to the account at
            // its first filing (`applicant_keys`).
            siret: (!r.siret.is_empty()).then_some(r.siret),
            password,
            grants: &[],
        },
        client.0.map(|ip| ip.to_string()).as_deref(),
        super::confirmations::site(&s, &service),
        now,
    )
    .await;
    match registered {
        Ok(crate::confirmations::Registered::ClientLocked(until)) => {
            tracing::warn!("registration refused: too many from this address");
            let minutes = ((until.duration_since(now).as_secs() + 59) / 60).max(1);
            return Ok(v.page(
                StatusCode::TOO_MANY_REQUESTS,
                register_page(
                    &s,
                    &v,
                    &r,
                    Some(&format!(
                        "Trop de demandes de compte depuis votre réseau. Réessayez dans {minutes} minute{}.",
                        if minutes > 1 { "s" } else { "" }
                    )),
                ),
            ));
        }
        Ok(outcome) => tracing::info!(?outcome, "applicant registration"),
        Err(AccountError::Db(e)) => return Err(e.into()),
        Err(AccountError::Hash(e)) => {
            return Err(crate::error::Error::Internal(anyhow::anyhow!(e)).into());
        }
        Err(e) => {
            let msg = match e {
                AccountError::InvalidEmail(_) => {
                    "Cette adresse électronique n'est pas valide.".into()
                }
                AccountError::WeakPassword => format!(
                    "Le mot de passe doit compter au moins {MIN_PASSWORD_CHARS} caractères."
                ),
                AccountError::InvalidSiret(_) => {
                    "Le SIRET doit compter exactement 14 chiffres.".into()
                }
                AccountError::EmptyName => {
                    "Indiquez le nom de la structure, ou vos prénom et nom.".into()
                }
                _ => "Le compte n'a pas pu être créé.".to_string(),
            };
            return Ok(refuse(&msg));
        }
    }
    // The same page whether the address is new, already has an account or had its share of
    // messages: only the address's owner learns which, by email.
    Ok(v.ok(shell(
        &v,
        "Vérifiez votre messagerie",
        html! {
            (alert_ok("Votre demande de compte est enregistrée. Un message vient d'être envoyé à l'adresse indiquée : ouvrez le lien qu'il contient pour activer votre compte. Le lien est valable 24 heures."))
            p { "Rien reçu dans quelques minutes ? Regardez dans les courriels indésirables ; si l'adresse était erronée, refaites l'inscription avec la bonne." }
            p { a href="/connexion" { "Se connecter" } }
        },
    )))
}
