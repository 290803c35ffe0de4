//! Staff pages: decisions in bulk (summarised, then confirmed) and the envelope dashboard.
//! The inbox is in `inbox.rs`.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;
use metroplan_engine::model::FieldType;
use metroplan_engine::model::{Fund, Plan, TerritoryLevel};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::Value;

use super::inbox::nonempty;
use super::layout::{count_fr, csrf, euros, shell};
use super::public::{ledger, served, today};
use super::{CSRF_FIELD, PageError, Viewer, WebForm, charts, field};
use crate::error::Error;
use crate::http::AppState;
use crate::service::{ActionBody, envelope_of};

/// The territorial councils an application's communes belong to.
pub fn councils(plan: &Plan, fund: &Fund, data: &Value) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for f in fund
        .form
        .fields
        .iter()
        .filter(|f| f.ty == FieldType::Communes)
    {
        let codes = f
            .path
            .split('.')
            .try_fold(data, |v, k| v.get(k))
            .and_then(Value::as_array);
        for code in codes.into_iter().flatten().filter_map(Value::as_str) {
            let council = plan
                .territories
                .iter()
                .find(|t| t.level == TerritoryLevel::Commune && t.code.as_deref() == Some(code))
                .and_then(|t| plan.council_of(t.id.as_str()));
            if let Some(c) = council
                && !out.contains(&c.name)
            {
                out.push(c.name.clone());
            }
        }
    }
    out
}

#[tracing::instrument(skip(s, v, f))]
pub async fn bulk(
    State(s): State<AppState>,
    v: Viewer,
    WebForm(f): WebForm,
) -> Result<Response, PageError> {
    let who = v.staff()?;
    v.check_csrf(field(&f, CSRF_FIELD))?;
    let action = field(&f, "action")
        .filter(|a| !a.is_empty())
        .ok_or_else(|| PageError::bad_form("Choisissez une action."))?
        .to_string();
    let reason = field(&f, "motif")
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_string);
    let picked: Vec<(String, i64)> = f
        .iter()
        .filter(|(k, _)| k == "dossier")
        .filter_map(|(_, v)| {
            let (id, ver) = v.split_once(':')?;
            Some((id.to_string(), ver.parse().ok()?))
        })
        .collect();
    if picked.is_empty() {
        return Err(PageError::bad_form("Sélectionnez au moins un dossier."));
    }
    // Whether the action awards an amount: then each file gets the amount proposed for it.
    let needs_amount = s
        .ctx
        .plans
        .current()
        .by_id
        .values()
        .flat_map(|p| p.plan.workflows.iter())
        .flat_map(|w| w.transitions.iter())
        .any(|t| {
            t.id.as_str() == action
                && t.guards
                    .contains(&metroplan_engine::workflow::Guard::AmountWithinRequest)
        });
    if field(&f, "confirme") != Some("oui") {
        return bulk_summary(
            &s,
            &v,
            &who,
            &action,
            reason.as_deref(),
            &picked,
            needs_amount,
        )
        .await;
    }
    let mut report = Vec::new();
    let mut granted = Decimal::ZERO;
    for (id, version) in &picked {
        let current = s.ctx.get(&who, id).await;
        let (title, amount) = match &current {
            Ok(a) => (
                a.title.clone().unwrap_or_else(|| id.clone()),
                award_of(&s, &who, a).await,
            ),
            Err(_) => (id.clone(), None),
        };
        let body = ActionBody {
            amount: if needs_amount { amount } else { None },
            reason: reason.clone(),
            ..ActionBody::default()
        };
        let result = match current {
            Err(e) => Err(e),
            Ok(_) => {
                s.ctx
                    .act(&who, id, &action, body, Some(*version), None)
                    .await
            }
        };
        let line = match result {
            Ok(r) => Ok(match (needs_amount, amount) {
                (true, Some(a)) => format!(
                    "{} ({})",
                    r.body["state_label"].as_str().unwrap_or_default(),
                    euros(a)
                ),
                _ => r.body["state_label"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            }),
            Err(Error::NotFound(_)) => Err("dossier introuvable".to_string()),
            Err(Error::Internal(e)) => {
                tracing::error!(error = %e, application = %id, "bulk action failed");
                Err("erreur interne ; réessayez".to_string())
            }
            Err(e) => Err(super::layout::refusal_fr(&e).1),
        };
        if line.is_ok() && needs_amount {
            granted += amount.unwrap_or_default();
        }
        report.push((id.clone(), title, line));
    }
    let ok = report.iter().filter(|r| r.2.is_ok()).count();
    let status = if ok == report.len() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    tracing::info!(action = %action, done = ok, refused = report.len() - ok, "bulk action");
    Ok(v.page(
        status,
        shell(
            &v,
            "Décision groupée : rapport",
            html! {
                p.lead {
                    @if ok == report.len() { (count_fr(ok, "dossier traité", "dossiers traités")) @if needs_amount { ", " (euros(granted)) " au total" } "." }
                    @else if ok == 0 { "Aucun dossier n'a pu être traité." }
                    @else { (count_fr(ok, "dossier traité", "dossiers traités")) ", " (count_fr(report.len() - ok, "dossier refusé", "dossiers refusés")) "." }
                    " Chaque dossier a été traité séparément."
                }
                div.table-scroll tabindex="0" {
                    table {
                        caption.visually-hidden { "Résultat par dossier" }
                        thead { tr { th scope="col" { "Dossier" } th scope="col" { "Résultat" } } }
                        tbody {
                            @for (id, title, r) in &report {
                                tr {
                                    th scope="row" { a href={"/dossiers/" (id)} { (title) } }
                                    @match r {
                                        Ok(state) => td.succes { "Fait : " (state) },
                                        Err(m) => td.echec { "Refusé : " (m) },
                                    }
                                }
                            }
                        }
                    }
                }
                p { a href="/instruction" { "Retour aux dossiers" } }
            },
        ),
    ))
}

/// The year's envelope of a fund, what is committed and what is paid: the one computation
/// the envelope page and the bulk summary read.
pub async fn envelope_year(
    s: &AppState,
    plan: &str,
    fund: &Fund,
    year: i64,
) -> Result<(Decimal, Decimal, Decimal), PageError> {
    let envelope = envelope_of(fund, year);
    let (committed, paid) = ledger(s, plan, fund.id.as_str(), year).await?;
    Ok((envelope, committed, paid))
}

/// What a bulk award gives a file: the amount the instructor proposed, else the amount
/// requested.
async fn award_of(
    s: &AppState,
    who: &crate::tokens::Principal,
    a: &crate::service::ApplicationView,
) -> Option<Decimal> {
    let requested = a
        .requested
        .as_deref()
        .and_then(|r| r.parse::<Decimal>().ok());
    let served = s.ctx.plans.get(&a.plan);
    let wf = served.as_ref().and_then(|p| {
        p.plan
            .fund(&a.fund)
            .and_then(|f| p.plan.workflow(f.workflow.as_str()))
    });
    let (Some(wf), Ok(events)) = (wf, s.ctx.events(who, &a.id).await) else {
        return requested;
    };
    super::application::summary::proposal(wf, &events, &Default::default())
        .and_then(|p| p.value)
        .or(requested)
}

/// What a bulk decision would do, before it is done: the files, the total awarded and each
/// year's envelope remaining before and after, with « Confirmer » (the same form, confirmed)
/// and « Annuler ».
async fn bulk_summary(
    s: &AppState,
    v: &Viewer,
    who: &crate::tokens::Principal,
    action: &str,
    reason: Option<&str>,
    picked: &[(String, i64)],
    needs_amount: bool,
) -> Result<Response, PageError> {
    let plans = s.ctx.plans.current();
    let label = plans
        .by_id
        .values()
        .flat_map(|p| p.plan.workflows.iter())
        .flat_map(|w| w.transitions.iter())
        .find(|t| t.id.as_str() == action)
        .map(|t| t.label.clone())
        .ok_or_else(|| PageError::bad_form("Cette action n'existe pas."))?;
    struct Line {
        id: String,
        title: String,
        applicant: String,
        amount: Option<Decimal>,
    }
    let mut lines = Vec::new();
    // (plan, fund, year) → the amount the batch would commit there.
    let mut years: BTreeMap<(String, String, i64), Decimal> = BTreeMap::new();
    for (id, _) in picked {
        match s.ctx.get(who, id).await {
            Ok(a) => {
                let amount = award_of(s, who, &a).await;
                if needs_amount && let (Some(m), Some(y)) = (amount, a.call) {
                    *years
                        .entry((a.plan.clone(), a.fund.clone(), y))
                        .or_default() += m;
                }
                lines.push(Line {
                    id: id.clone(),
                    title: a.title.clone().unwrap_or_else(|| "(sans titre)".into()),
                    applicant: a.applicant_name.clone().unwrap_or_default(),
                    amount,
                });
            }
            Err(Error::NotFound(_)) => {
                return Err(PageError::status(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Décision groupée impossible",
                    "Un des dossiers choisis est introuvable. Revenez à la liste des dossiers et choisissez-les de nouveau.",
                ));
            }
            Err(e) => return Err(e.into()),
        }
    }
    let total: Decimal = years.values().copied().sum();
    let mut envelopes = Vec::new();
    for ((plan, fund, year), amount) in &years {
        let Some(p) = plans.by_id.get(plan.as_str()) else {
            continue;
        };
        let Some(f) = p.plan.fund(fund) else { continue };
        let (envelope, committed, _) = envelope_year(s, plan, f, *year).await?;
        let before = envelope - committed;
        envelopes.push((f.title.clone(), *year, before, before - *amount));
    }
    Ok(v.ok(shell(
        v,
        "Décision groupée : confirmation",
        html! {
            p.lead {
                "« " (label) " » sur " (count_fr(lines.len(), "dossier", "dossiers")) ". Rien n'est fait tant que vous n'avez pas confirmé."
            }
            table.cartes {
                caption { "Dossiers concernés" }
                thead { tr {
                    th scope="col" { "Projet" }
                    th scope="col" { "Porteur" }
                    th scope="col" { @if needs_amount { "Montant" } @else { "Demandé" } }
                } }
                tbody {
                    @for l in &lines {
                        tr {
                            th scope="row" data-label="Projet" { a href={"/dossiers/" (l.id)} { (l.title) } }
                            td data-label="Porteur" { (l.applicant) }
                            td.nombre data-label=(if needs_amount { "Montant" } else { "Demandé" }) { (l.amount.map(euros).unwrap_or_else(|| "—".into())) }
                        }
                    }
                }
            }
            @if needs_amount {
                dl.chiffres.lot-total {
                    dt { "Total attribué" } dd { strong { (euros(total)) } }
                    @for (title, year, before, after) in &envelopes {
                        dt { "Reste de l'enveloppe " (year) " (" (title) ")" }
                        dd {
                            (euros(*before)) " avant, " strong { (euros(*after)) } " après"
                            @if *after < Decimal::ZERO { " " span.retard { "(dépassement : certains dossiers seront refusés)" } }
                        }
                    }
                }
                p.aide { "Chaque dossier reçoit le montant que l'instruction a proposé (à défaut, celui qu'il demande)\u{a0}; chacun réussit ou échoue seul." }
            }
            @if let Some(r) = reason { p { "Motif : " (r) } }
            form.lot-confirmation method="post" action="/instruction/lot" {
                (csrf(v))
                input type="hidden" name="action" value=(action);
                @if let Some(r) = reason { input type="hidden" name="motif" value=(r); }
                @for (id, version) in picked { input type="hidden" name="dossier" value={(id) ":" (version)}; }
                input type="hidden" name="confirme" value="oui";
                div.boutons {
                    button type="submit" {
                        @if needs_amount { (label) "\u{a0}: " (euros(total)) " à " (count_fr(lines.len(), "dossier", "dossiers")) }
                        @else { (label) "\u{a0}: " (count_fr(lines.len(), "dossier", "dossiers")) }
                    }
                    a.bouton.bouton-secondaire href="/instruction" { "Annuler" }
                }
            }
        },
    )))
}

#[derive(Debug, Default, Deserialize)]
pub struct YearQuery {
    pub annee: Option<String>,
}

#[tracing::instrument(skip(s, v))]
pub async fn envelope(
    State(s): State<AppState>,
    v: Viewer,
    Path((plan, fund)): Path<(String, String)>,
    Query(q): Query<YearQuery>,
) -> Result<Response, PageError> {
    let who = v.staff()?;
    let p = served(&s, &plan)?;
    let f = p.plan.fund(&fund).ok_or_else(PageError::not_found)?;
    if !who.covers(&plan, &fund) {
        return Err(PageError::status(
            StatusCode::FORBIDDEN,
            "Accès refusé",
            "Votre compte est limité à un autre fonds.",
        ));
    }
    let year: i64 = match nonempty(&q.annee) {
        Some(y) => y
            .parse()
            .ok()
            .filter(|y| (1900..=2200).contains(y))
            .ok_or_else(|| PageError::bad_form("L'année est un nombre, par exemple 2021."))?,
        None => i64::from(today(&s, &p).year()),
    };
    let (envelope, committed, paid) = envelope_year(&s, &plan, f, year).await?;
    let apps = s
        .ctx
        .visible_applications(&who, Some(&plan), Some(&fund), Some(year))
        .await?;
    let mut by_council: BTreeMap<String, Decimal> = BTreeMap::new();
    let mut awarded = 0usize;
    for a in &apps {
        let Some(amount) = a.awarded.as_deref().and_then(|x| x.parse::<Decimal>().ok()) else {
            continue;
        };
        awarded += 1;
        let c = councils(&p.plan, f, &a.data);
        let key = match c.as_slice() {
            [] => "Non rattaché".to_string(),
            [one] => one.clone(),
            _ => "Plusieurs conseils de territoire".to_string(),
        };
        *by_council.entry(key).or_default() += amount;
    }
    let bars: Vec<(String, Decimal)> = by_council.into_iter().collect();
    let years: Vec<i16> = f.calls.iter().map(|c| c.year).collect();
    Ok(v.ok(shell(
        &v,
        &format!("Enveloppe {year} : {}", f.title),
        html! {
            form.filtres method="get" action={"/plans/" (plan) "/fonds/" (fund) "/enveloppe"} {
                div.champ {
                    label for="annee" { "Année" }
                    select id="annee" name="annee" {
                        @for y in &years { option value=(y) selected[i64::from(*y) == year] { (y) } }
                    }
                }
                button type="submit" { "Afficher" }
            }
            (charts::gauge(envelope, committed, paid))
            dl.chiffres {
                dt { "Enveloppe" } dd { (euros(envelope)) }
                dt { "Engagé" } dd { (euros(committed)) }
                dt { "Versé" } dd { (euros(paid)) }
                dt { "Reste à engager" } dd { strong { (euros(envelope - committed)) } }
                dt { "Dossiers attribués" } dd { (awarded) }
            }
            h2 { "Attributions par conseil de territoire" }
            (charts::bars(&format!("Montants attribués en {year} par conseil de territoire"), &bars))
            h2 { "Exports" }
            ul {
                li { a href={"/api/plans/" (plan) "/funds/" (fund) "/export.csv"} { "Subventions attribuées, format SCDL (CSV, données publiques)" } }
                li { a href={"/instruction/dossiers.csv?fonds=" (fund) "&appel=" (year)} { "Dossiers de l'appel " (year) " (CSV)" } }
            }
        },
    )))
}
