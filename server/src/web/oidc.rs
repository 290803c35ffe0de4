//! Signing in through an OpenID provider: the link that starts it, the callback that ends it,
//! the provider's sign-out. The protocol is `crate::oidc`; this module says it in French.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::auth::{Back, landing, safe_back, signed_in};
use super::layout::shell;
use super::{PageError, Viewer, cookie};
use crate::http::AppState;
use crate::oidc::link::{self, Linked};
use crate::oidc::{Audience, OidcError};

/// The browser's half of a sign-in under way: the `state` it must come back with.
const STATE_COOKIE: &str = "mp_oidc";
const CALLBACK: &str = "/connexion/oidc/retour";

fn public_url(s: &AppState) -> &str {
    s.ctx.letters.public_url.get().map_or("", String::as_str)
}

fn callback(s: &AppState) -> String {
    format!("{}{CALLBACK}", public_url(s))
}

fn state_cookie(s: &AppState, value: &str, max_age: i64) -> HeaderValue {
    let c = format!(
        "{STATE_COOKIE}={value}; Path=/connexion/oidc; HttpOnly; SameSite=Lax; Max-Age={max_age}{}",
        if s.config.secure_cookies {
            "; Secure"
        } else {
            ""
        }
    );
    HeaderValue::from_str(&c).expect("a cookie of URL-safe characters is a header value")
}

/// The buttons of the providers open to `who`, for the sign-in and registration pages.
pub fn buttons(s: &AppState, back: &str, applicants_only: bool) -> Markup {
    let providers: Vec<_> = s
        .config
        .oidc
        .all()
        .iter()
        .filter(|p| !applicants_only || p.audience.applicants())
        .collect();
    html! {
        @if !providers.is_empty() {
            div.fournisseurs {
                @for p in &providers {
                    p {
                        a.bouton.bouton-secondaire href={"/connexion/oidc/" (p.id) "?suite=" (super::layout::url_encode(back))} {
                            "Se connecter avec " (p.label)
                        }
                        @match p.audience {
                            Audience::Staff => { " " span.aide { "(agents publics)" } }
                            Audience::Applicants => { " " span.aide { "(porteurs de projet)" } }
                            Audience::Everyone => {}
                        }
                    }
                }
                p.separateur { "ou avec votre adresse électronique et votre mot de passe :" }
            }
        }
    }
}

#[tracing::instrument(skip_all, fields(provider = %provider))]
pub async fn start(
    State(s): State<AppState>,
    Path(provider): Path<String>,
    Query(q): Query<Back>,
) -> Result<Response, PageError> {
    let back = safe_back(q.suite.as_deref());
    let now = s.ctx.clock.now();
    match s
        .config
        .oidc
        .start(&s.ctx.db, &provider, &callback(&s), &back, now)
        .await
    {
        Ok(started) => {
            let mut res = Redirect::to(started.url.as_str()).into_response();
            res.headers_mut().append(
                header::SET_COOKIE,
                state_cookie(&s, &started.state, crate::oidc::LOGIN_LIFETIME.as_secs()),
            );
            Ok(res)
        }
        Err(OidcError::UnknownProvider(_)) => Err(PageError::not_found()),
        Err(e) => Err(failure(e)),
    }
}

#[derive(Debug, Deserialize)]
pub struct Callback {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

#[tracing::instrument(skip_all)]
pub async fn finish(
    State(s): State<AppState>,
    v: Viewer,
    headers: HeaderMap,
    Query(q): Query<Callback>,
) -> Result<Response, PageError> {
    let now = s.ctx.clock.now();
    let clear = state_cookie(&s, "", 0);
    let outcome = match (&q.state, &q.code, &q.error) {
        (_, _, Some(error)) => {
            tracing::info!(error, description = ?q.error_description, "the provider ended the sign-in");
            // The person cancelled or the provider refused: the sign-in under way is over.
            if let Some(state) = &q.state {
                let answer = crate::oidc::Callback {
                    state,
                    cookie: None,
                    code: "",
                    iss: None,
                };
                let _ = s
                    .config
                    .oidc
                    .finish(&s.ctx.db, answer, &callback(&s), now)
                    .await;
            }
            Err(PageError::status(
                StatusCode::UNAUTHORIZED,
                "Connexion interrompue",
                "La connexion n'a pas abouti auprès du service d'identification (annulée, ou refusée par lui). Vous pouvez recommencer depuis la page de connexion.",
            ))
        }
        (Some(state), Some(code), None) => {
            match s
                .config
                .oidc
                .finish(
                    &s.ctx.db,
                    crate::oidc::Callback {
                        state,
                        cookie: cookie(&headers, STATE_COOKIE),
                        code,
                        iss: q.iss.as_deref(),
                    },
                    &callback(&s),
                    now,
                )
                .await
            {
                Ok((identity, back)) => open(&s, &v, identity, back).await,
                Err(e) => Err(failure(e)),
            }
        }
        _ => Err(PageError::bad_form(
            "Cette adresse de retour est incomplète. Recommencez la connexion depuis la page de connexion.",
        )),
    };
    let mut res = match outcome {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    res.headers_mut().append(header::SET_COOKIE, clear);
    Ok(res)
}

async fn open(
    s: &AppState,
    v: &Viewer,
    identity: crate::oidc::Identity,
    back: String,
) -> Result<Response, PageError> {
    let now = s.ctx.clock.now();
    let provider = s
        .config
        .oidc
        .get(&identity.provider)
        .ok_or_else(PageError::not_found)?;
    let linked = link::account_for(&s.ctx.db, provider, &identity, now)
        .await
        .map_err(super::auth::account_error)?;
    let user = match linked {
        Linked::Known(u) | Linked::ByEmail(u) | Linked::Created(u) => u,
        Linked::Disabled => {
            tracing::warn!(provider = %provider.id, "sign-in refused: the linked account is disabled");
            return Ok(v.page(
                StatusCode::FORBIDDEN,
                refusal(v, "Ce compte a été désactivé par un administrateur. Pour le réactiver ou pour savoir pourquoi, écrivez au service indiqué sur la page « Aide et contact »."),
            ));
        }
        Linked::NotForThisProvider => {
            tracing::info!(provider = %provider.id, "sign-in refused: account of another kind");
            return Ok(v.page(
                StatusCode::FORBIDDEN,
                refusal(v, &format!(
                    "Votre compte ne se connecte pas avec {} : utilisez l'autre moyen de connexion proposé, ou votre adresse électronique et votre mot de passe.",
                    provider.label
                )),
            ));
        }
        Linked::NoAccount => {
            // The subject (a pseudonymous id, not the email) is what `metroplan user link`
            // takes.
            tracing::info!(provider = %provider.id, subject = %identity.subject, "sign-in refused: no account for this identity");
            return Ok(v.page(
                StatusCode::FORBIDDEN,
                refusal(v, &format!(
                    "Aucun compte ne correspond à l'identité que {} nous a transmise. Si vous êtes agent, demandez à l'administrateur du service d'associer votre identité à votre compte ; il lui faut l'adresse électronique de votre compte.",
                    provider.label
                )),
            ));
        }
    };
    tracing::info!(user = %user.id, provider = %provider.id, "signed in through an OpenID provider");
    let to = if back == "/" {
        landing(user.role).to_string()
    } else {
        back
    };
    let (secret, _) = crate::accounts::open_session_from(
        &s.ctx.db,
        user,
        Some((&provider.id, &identity.id_token)),
        now,
    )
    .await?;
    Ok(signed_in(s, &secret, &to))
}

fn refusal(v: &Viewer, message: &str) -> Markup {
    shell(
        v,
        "Connexion impossible",
        html! {
            (super::layout::alert_error(message))
            p { a href="/connexion" { "Retour à la connexion" } }
        },
    )
}

/// A sign-in that failed on the way, said without the protocol's words; the cause is logged.
fn failure(e: OidcError) -> PageError {
    match e {
        OidcError::UnknownLogin | OidcError::Expired => {
            tracing::info!(error = %e, "OpenID sign-in refused");
            PageError::status(
                StatusCode::BAD_REQUEST,
                "Connexion expirée",
                "Cette connexion n'est plus valable : elle a déjà servi, a pris plus de 10 minutes ou a été commencée dans un autre navigateur. Recommencez depuis la page de connexion.",
            )
        }
        OidcError::InvalidIdToken(_) | OidcError::Refused(_) => {
            tracing::warn!(error = %e, "OpenID sign-in refused");
            PageError::status(
                StatusCode::UNAUTHORIZED,
                "Connexion refusée",
                "La réponse du service d'identification n'a pas pu être vérifiée ; vous n'êtes pas connecté. Recommencez depuis la page de connexion ; si cela se reproduit, prévenez le service.",
            )
        }
        OidcError::Unreachable(_) => {
            tracing::warn!(error = %e, "OpenID provider unreachable");
            PageError::status(
                StatusCode::SERVICE_UNAVAILABLE,
                "Service d'identification injoignable",
                "Le service d'identification ne répond pas en ce moment. Réessayez dans quelques minutes, ou connectez-vous avec votre adresse électronique et votre mot de passe.",
            )
        }
        OidcError::Db(e) => PageError::from(e),
        other => PageError::from(crate::error::Error::Internal(anyhow::anyhow!(other))),
    }
}

/// After sign-out from a session opened through a provider: this site's session is over;
/// the provider's ends at its own address, which a form's answer may not redirect to (the
/// pages' `form-action 'self'`), so this page goes there itself and links it.
pub async fn provider_sign_out(s: &AppState, provider: &str, id_token: &str) -> Option<Response> {
    let after = format!("{}/", public_url(s));
    let url = s
        .config
        .oidc
        .logout_url(provider, id_token, &callback(s), &after)
        .await?;
    let label = s.config.oidc.get(provider).map_or("", |p| p.label.as_str());
    let body = html! {
        (maud::DOCTYPE)
        html lang="fr" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta http-equiv="refresh" content={"0;url=" (url)};
                title { "Déconnexion effectuée — metroplan" }
                link rel="stylesheet" href="/static/style.css";
            }
            body {
                main id="contenu" {
                    h1 { "Déconnexion effectuée" }
                    p { "Votre session sur ce site est fermée. Il reste à fermer celle de " (label) "." }
                    p { a.bouton href=(url) { "Se déconnecter de " (label) } }
                }
            }
        }
    };
    let mut res = (StatusCode::OK, axum::response::Html(body.into_string())).into_response();
    super::secure_headers(res.headers_mut());
    Some(res)
}
