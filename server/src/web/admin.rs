//! Administration: accounts, API tokens, and the plans the server loaded.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use metroplan_engine::model::RoleKind;

use super::layout::{alert_error, alert_ok, csrf, instant, role_fr, shell};
use super::{CSRF_FIELD, PageError, Viewer, WebForm, field};
use crate::accounts::{self, AccountError, MIN_PASSWORD_CHARS, NewUser};
use crate::clock::stamp;
use crate::http::AppState;

async fn render(
    s: &AppState,
    v: &Viewer,
    ok: Option<Markup>,
    error: Option<&str>,
) -> Result<Markup, PageError> {
    let users = accounts::all_users(&s.ctx.db).await?;
    let tokens = crate::access::tokens(&s.ctx.db).await?;
    let disabled = crate::access::disabled(&s.ctx.db).await?;
    let unconfirmed = crate::access::unconfirmed(&s.ctx.db).await?;
    let sessions = crate::access::sessions(&s.ctx.db, None, &stamp(s.ctx.clock.now())).await?;
    let plans = s.ctx.plans.current();
    let tz = jiff::tz::TimeZone::system();
    Ok(shell(
        v,
        "Administration",
        html! {
            @if let Some(m) = ok { (m) }
            @if let Some(e) = error { (alert_error(e)) }
            section aria-labelledby="plans-titre" {
                h2 id="plans-titre" { "Plans chargés" }
                p {
                    "Les plans sont relus d'eux-mêmes dès qu'un de leurs fichiers change (ou sur le signal SIGHUP), sans redémarrer le serveur"
                    @if let Some(t) = plans.loaded_at { " ; dernière lecture le " (instant(&stamp(t), &tz)) }
                    ". Un plan qui ne se charge plus est refusé et sa dernière version valide reste servie : vérifiez une modification avec " code { "metroplan check" } " avant de l'enregistrer."
                }
                div.table-scroll tabindex="0" {
                    table {
                        caption.visually-hidden { "Plans chargés" }
                        thead { tr { th scope="col" { "Plan" } th scope="col" { "Autorité" } th scope="col" { "Actions du plan" } th scope="col" { "Fonds" } } }
                        tbody {
                            @for p in plans.by_id.values() {
                                tr {
                                    th scope="row" { a href={"/plans/" (p.plan.id)} { (p.plan.title) } }
                                    td { (p.plan.owner) }
                                    td.nombre { (p.plan.actions.len()) }
                                    td.nombre { (p.plan.funds.len()) }
                                }
                            }
                        }
                    }
                }
                @if !plans.refused.is_empty() {
                    @for r in &plans.refused {
                        div.alert.error role="alert" {
                            p {
                                "Modification refusée dans " code { (r.dir) } " : "
                                @if r.serving_previous { "la dernière version valide reste en service." } @else { "ce plan n'est pas servi." }
                            }
                            pre.diagnostics tabindex="0" { (r.diagnostics.join("\n")) }
                        }
                    }
                }
            }
            section aria-labelledby="comptes-titre" {
                h2 id="comptes-titre" { "Comptes" }
                div.table-scroll tabindex="0" {
                    table.cartes {
                        caption.visually-hidden { "Comptes" }
                        thead { tr { th scope="col" { "Nom" } th scope="col" { "Adresse" } th scope="col" { "Profil" } th scope="col" { "Fonds" } th scope="col" { "SIRET" } th scope="col" { "Créé" } th scope="col" { "Accès" } } }
                        tbody {
                            @for u in &users {
                                tr {
                                    th scope="row" data-label="Nom" { (u.name) }
                                    td data-label="Adresse" { (u.email) }
                                    td data-label="Profil" { (role_fr(u.role)) }
                                    td data-label="Fonds" { (u.fund.clone().unwrap_or_else(|| "tous".into())) }
                                    td data-label="SIRET" { (u.siret.as_deref().map(super::form::siret_text).unwrap_or_default()) }
                                    td data-label="Créé" { (instant(&u.created_at, &tz)) }
                                    td data-label="Accès" {
                                        @match disabled.get(&u.id) {
                                            Some(at) => {
                                                "désactivé le " (instant(at, &tz))
                                                form.en-ligne method="post" action="/admin/comptes/reactiver" {
                                                    (csrf(v)) input type="hidden" name="email" value=(u.email);
                                                    button.secondaire type="submit" { "Réactiver" span.visually-hidden { " " (u.name) } }
                                                }
                                            }
                                            None => {
                                                @if unconfirmed.contains(&u.id) { "adresse non confirmée" } @else { "actif" }
                                                form.en-ligne method="post" action="/admin/comptes/desactiver" {
                                                    (csrf(v)) input type="hidden" name="email" value=(u.email);
                                                    button.bouton-danger type="submit" { "Désactiver" span.visually-hidden { " " (u.name) } }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                h3 { "Créer un compte" }
                form.formulaire method="post" action="/admin/utilisateurs" {
                    (csrf(v))
                    div.champ { label for="u-name" { "Nom" } input id="u-name" name="name" type="text" required; }
                    div.champ { label for="u-email" { "Adresse électronique" } input id="u-email" name="email" type="email" required; }
                    div.champ {
                        label for="u-role" { "Profil" }
                        select id="u-role" name="role" required {
                            option value="" { "Choisir…" }
                            @for r in RoleKind::ALL { option value=(r.name()) { (role_fr(r)) } }
                        }
                    }
                    div.champ {
                        label for="u-fund" { "Limiter à un fonds (facultatif)" }
                        select id="u-fund" name="fund" {
                            option value="" { "Tous les fonds" }
                            @for p in plans.by_id.values() { @for f in &p.plan.funds { option value=(f.id) { (f.title) } } }
                        }
                    }
                    div.champ {
                        label for="u-password" { "Mot de passe initial" }
                        p.aide id="u-password-aide" { "Au moins " (MIN_PASSWORD_CHARS) " caractères, à transmettre par un autre canal." }
                        input id="u-password" name="password" type="password" autocomplete="new-password" minlength=(MIN_PASSWORD_CHARS) aria-describedby="u-password-aide" required;
                    }
                    button type="submit" { "Créer le compte" }
                }
            }
            section aria-labelledby="sessions-titre" {
                h2 id="sessions-titre" { "Sessions ouvertes" }
                @if sessions.is_empty() {
                    p { "Aucune session ouverte." }
                } @else {
                    p { "Une session dure 12 heures. La fermer oblige la personne à se reconnecter ; pour l'empêcher de revenir, désactivez son compte." }
                    div.table-scroll tabindex="0" {
                        table.cartes {
                            caption.visually-hidden { "Sessions ouvertes" }
                            thead { tr { th scope="col" { "Personne" } th scope="col" { "Adresse" } th scope="col" { "Ouverte" } th scope="col" { "Expire" } th scope="col" { "Action" } } }
                            tbody {
                                @for (i, x) in sessions.iter().enumerate() {
                                    tr {
                                        th scope="row" data-label="Personne" { (x.name) }
                                        td data-label="Adresse" { (x.email) }
                                        td data-label="Ouverte" { (instant(&x.created_at, &tz)) }
                                        td data-label="Expire" { (instant(&x.expires_at, &tz)) }
                                        td data-label="Action" {
                                            form.en-ligne method="post" action="/admin/sessions/fermer" {
                                                (csrf(v)) input type="hidden" name="session" value=(x.id);
                                                button.bouton-danger type="submit" { "Fermer" span.visually-hidden { " la session " (i + 1) " de " (x.name) } }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            section aria-labelledby="jetons-titre" {
                h2 id="jetons-titre" { "Jetons d'API" }
                div.table-scroll tabindex="0" {
                    table.cartes {
                        caption.visually-hidden { "Jetons d'API" }
                        thead { tr { th scope="col" { "Nom" } th scope="col" { "Compte" } th scope="col" { "Profil" } th scope="col" { "Fonds" } th scope="col" { "Créé" } th scope="col" { "Accès" } } }
                        tbody {
                            @for t in &tokens {
                                tr {
                                    th scope="row" data-label="Nom" { (t.name) }
                                    td data-label="Compte" { (t.user.clone().unwrap_or_else(|| "jeton de service".into())) }
                                    td data-label="Profil" { (RoleKind::parse(&t.role).map(role_fr).unwrap_or("?")) }
                                    td data-label="Fonds" { (t.fund.clone().unwrap_or_else(|| "tous".into())) }
                                    td data-label="Créé" { (instant(&t.created_at, &tz)) }
                                    td data-label="Accès" {
                                        @match &t.revoked_at {
                                            Some(at) => { "révoqué le " (instant(at, &tz)) }
                                            None => {
                                                "actif"
                                                form.en-ligne method="post" action="/admin/jetons/revoquer" {
                                                    (csrf(v)) input type="hidden" name="jeton" value=(t.id);
                                                    button.bouton-danger type="submit" { "Révoquer" span.visually-hidden { " le jeton " (t.name) } }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                h3 { "Créer un jeton pour un compte" }
                form.formulaire method="post" action="/admin/jetons" {
                    (csrf(v))
                    div.champ {
                        label for="t-user" { "Compte" }
                        select id="t-user" name="email" required {
                            option value="" { "Choisir…" }
                            @for u in &users { option value=(u.email) { (u.name) " (" (u.email) ")" } }
                        }
                    }
                    button type="submit" { "Créer le jeton" }
                }
            }
        },
    ))
}

#[tracing::instrument(skip_all)]
pub async fn page(State(s): State<AppState>, v: Viewer) -> Result<Response, PageError> {
    v.require(&[RoleKind::Admin])?;
    Ok(v.ok(render(&s, &v, None, None).await?))
}

#[tracing::instrument(skip_all)]
pub async fn create_user(
    State(s): State<AppState>,
    v: Viewer,
    WebForm(f): WebForm,
) -> Result<Response, PageError> {
    let admin = v.require(&[RoleKind::Admin])?;
    v.check_csrf(field(&f, CSRF_FIELD))?;
    let role = field(&f, "role")
        .and_then(RoleKind::parse)
        .ok_or_else(|| PageError::bad_form("Choisissez un profil."))?;
    let fund = field(&f, "fund").filter(|x| !x.is_empty());
    let created = accounts::create_user(
        &s.ctx.db,
        NewUser {
            email: field(&f, "email").unwrap_or(""),
            name: field(&f, "name").unwrap_or(""),
            role,
            plan: None,
            fund,
            siret: None,
            password: field(&f, "password").unwrap_or(""),
            grants: &[],
        },
        s.ctx.clock.now(),
    )
    .await;
    match created {
        Ok(u) => {
            tracing::info!(by = %admin.id, user = %u.id, role = u.role.name(), "account created");
            let ok = alert_ok(&format!("Compte {} créé.", u.email));
            Ok(v.ok(render(&s, &v, Some(ok), None).await?))
        }
        Err(AccountError::Db(e)) => Err(e.into()),
        Err(e) => {
            let msg = match e {
                AccountError::InvalidEmail(_) => "Adresse électronique invalide.".to_string(),
                AccountError::WeakPassword => {
                    format!(
                        "Le mot de passe doit compter au moins {MIN_PASSWORD_CHARS} caractères."
                    )
                }
                AccountError::EmailTaken(_) => "Un compte existe déjà pour cette adresse.".into(),
                AccountError::EmptyName => "Indiquez le nom.".into(),
                other => format!("Le compte n'a pas pu être créé : {other}"),
            };
            Ok(v.page(
                StatusCode::UNPROCESSABLE_ENTITY,
                render(&s, &v, None, Some(&msg)).await?,
            ))
        }
    }
}

#[tracing::instrument(skip_all)]
pub async fn create_token(
    State(s): State<AppState>,
    v: Viewer,
    WebForm(f): WebForm,
) -> Result<Response, PageError> {
    let admin = v.require(&[RoleKind::Admin])?;
    v.check_csrf(field(&f, CSRF_FIELD))?;
    let email = field(&f, "email").unwrap_or("");
    let Some(user) = accounts::find_by_email(&s.ctx.db, email).await? else {
        return Ok(v.page(
            StatusCode::UNPROCESSABLE_ENTITY,
            render(&s, &v, None, Some("Ce compte n'existe pas.")).await?,
        ));
    };
    let secret = crate::tokens::create_for_user(&s.ctx.db, &user, &stamp(s.ctx.clock.now()))
        .await
        .map_err(|e| PageError::from(crate::error::Error::Internal(e)))?;
    tracing::info!(by = %admin.id, user = %user.id, "token created");
    let ok = html! {
        div.alert.ok role="status" {
            p { "Jeton créé pour " (user.email) ". Copiez-le maintenant : il ne sera plus affiché." }
            p { code.secret { (secret) } }
        }
    };
    Ok(v.ok(render(&s, &v, Some(ok), None).await?))
}

/// Disables or enables an account from the page (and below, revokes a token): each an audit
/// event, and the server's token cache is emptied so that it takes effect at once.
#[tracing::instrument(skip_all)]
pub async fn account_change(
    State(s): State<AppState>,
    axum::extract::Path(what): axum::extract::Path<String>,
    v: Viewer,
    WebForm(f): WebForm,
) -> Result<Response, PageError> {
    if !matches!(what.as_str(), "desactiver" | "reactiver") {
        return Err(PageError::not_found());
    }
    access_change(s, v, f, &what).await
}

#[tracing::instrument(skip_all)]
pub async fn revoke_token(
    State(s): State<AppState>,
    v: Viewer,
    WebForm(f): WebForm,
) -> Result<Response, PageError> {
    access_change(s, v, f, "revoquer").await
}

#[tracing::instrument(skip_all)]
pub async fn end_session(
    State(s): State<AppState>,
    v: Viewer,
    WebForm(f): WebForm,
) -> Result<Response, PageError> {
    access_change(s, v, f, "fermer-session").await
}

async fn access_change(
    s: AppState,
    v: Viewer,
    f: Vec<(String, String)>,
    what: &str,
) -> Result<Response, PageError> {
    let admin = v.require(&[RoleKind::Admin])?;
    v.check_csrf(field(&f, CSRF_FIELD))?;
    let now = stamp(s.ctx.clock.now());
    let email = field(&f, "email").unwrap_or("");
    let said = match what {
        "revoquer" => {
            let id = field(&f, "jeton").unwrap_or("");
            match crate::access::revoke_token(&s.ctx.db, id, &admin.id, &now).await? {
                crate::access::Revoked::Unknown => Err("Ce jeton n'existe pas."),
                _ => Ok("Jeton révoqué\u{a0}: il n'ouvre plus aucun accès.".to_string()),
            }
        }
        "desactiver" => match crate::access::disable_user(&s.ctx.db, email, &admin.id, &now).await?
        {
            None => Err("Ce compte n'existe pas."),
            Some(d) => Ok(format!(
                "Compte {email} désactivé\u{a0}: {} et {} fermés.",
                super::layout::count_fr(d.sessions as usize, "session", "sessions"),
                super::layout::count_fr(d.tokens as usize, "jeton", "jetons")
            )),
        },
        "reactiver" => match crate::access::enable_user(&s.ctx.db, email, &admin.id, &now).await? {
            false => Err("Ce compte n'existe pas."),
            true => Ok(format!(
                "Compte {email} réactivé\u{a0}; ses anciens jetons restent révoqués."
            )),
        },
        "fermer-session" => {
            let id = field(&f, "session").unwrap_or("");
            match crate::access::end_sessions(
                &s.ctx.db,
                crate::access::Sessions::One(id),
                &admin.id,
                &now,
            )
            .await?
            {
                0 => Err("Cette session n'est plus ouverte."),
                _ => Ok("Session fermée\u{a0}: la personne devra se reconnecter.".to_string()),
            }
        }
        _ => return Err(PageError::not_found()),
    };
    s.tokens.forget_all();
    match said {
        Ok(m) => {
            tracing::info!(by = %admin.id, change = %what, "access changed");
            Ok(v.ok(render(&s, &v, Some(alert_ok(&m)), None).await?))
        }
        Err(m) => Ok(v.page(
            StatusCode::UNPROCESSABLE_ENTITY,
            render(&s, &v, None, Some(m)).await?,
        )),
    }
}
