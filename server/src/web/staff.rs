//! Staff pages: the inbox with its filters and counts, decisions in bulk, the envelope
//! dashboard, CSV exports, and the "what if this slips" form of the timeline.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::html;
use metroplan_engine::model::FieldType;
use metroplan_engine::model::{Fund, Plan, TerritoryLevel};
use metroplan_engine::schedule::{Options, what_if as run_what_if};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::Value;

use super::layout::{
    count_fr, csrf, euros, euros_str, file_state_badge, file_state_label, instant, removed_mark,
    shell,
};
use super::public::{TimelineQuery, ledger, served, timeline_page, today};
use super::{CSRF_FIELD, PageError, Viewer, WebForm, charts, field};
use crate::error::Error;
use crate::http::AppState;
use crate::service::{ActionBody, ApplicationView, envelope_of};

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

/// Rows shown in the inbox's table; the counts and the CSV export cover every file.
const INBOX_ROWS: usize = 500;

#[derive(Debug, Default, Deserialize)]
pub struct InboxQuery {
    pub plan: Option<String>,
    pub fonds: Option<String>,
    pub appel: Option<String>,
    pub etat: Option<String>,
    pub conseil: Option<String>,
}

fn nonempty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

struct Row {
    app: ApplicationView,
    councils: Vec<String>,
}

async fn rows(s: &AppState, v: &Viewer, q: &InboxQuery) -> Result<(Vec<Row>, Vec<Row>), PageError> {
    let who = v.staff()?;
    let call = match nonempty(&q.appel) {
        Some(c) => Some(c.parse::<i64>().map_err(|_| {
            PageError::bad_form("L'année d'appel est un nombre (par exemple 2021).")
        })?),
        None => None,
    };
    let apps = s
        .ctx
        .visible_applications(&who, nonempty(&q.plan), nonempty(&q.fonds), call)
        .await?;
    let mut all = Vec::new();
    for app in apps {
        let councils = s
            .ctx
            .plans
            .get(&app.plan)
            .and_then(|p| {
                p.plan
                    .fund(&app.fund)
                    .map(|f| councils(&p.plan, f, &app.data))
            })
            .unwrap_or_default();
        all.push(Row { app, councils });
    }
    let (before_state, _): (Vec<Row>, Vec<Row>) = all
        .into_iter()
        .partition(|r| nonempty(&q.conseil).is_none_or(|c| r.councils.iter().any(|x| x == c)));
    let (shown, hidden): (Vec<Row>, Vec<Row>) = before_state
        .into_iter()
        .partition(|r| nonempty(&q.etat).is_none_or(|e| r.app.state == e));
    Ok((shown, hidden))
}

#[tracing::instrument(skip(s, v))]
pub async fn inbox(
    State(s): State<AppState>,
    v: Viewer,
    Query(q): Query<InboxQuery>,
) -> Result<Response, PageError> {
    let who = v.staff()?;
    let (shown, hidden) = rows(&s, &v, &q).await?;
    // Counts by state over the files the other filters keep.
    let mut counts: BTreeMap<(String, String), usize> = BTreeMap::new();
    for r in shown.iter().chain(hidden.iter()) {
        *counts
            .entry((r.app.state.clone(), file_state_label(&r.app)))
            .or_default() += 1;
    }
    // One version of the plans for the whole page.
    let plans = s.ctx.plans.current();
    let funds: Vec<(String, String, String)> = plans
        .by_id
        .values()
        .flat_map(|p| {
            p.plan
                .funds
                .iter()
                .filter(|f| who.covers(p.plan.id.as_str(), f.id.as_str()))
                .map(|f| (p.plan.id.to_string(), f.id.to_string(), f.title.clone()))
        })
        .collect();
    let mut council_names: Vec<String> = plans
        .by_id
        .values()
        .flat_map(|p| {
            p.plan
                .territories
                .iter()
                .filter(|t| t.level == TerritoryLevel::Council)
                .map(|t| t.name.clone())
        })
        .collect();
    council_names.sort();
    council_names.dedup();
    let mut states: Vec<(String, String)> = plans
        .by_id
        .values()
        .flat_map(|p| {
            p.plan.workflows.iter().flat_map(|w| {
                w.states
                    .iter()
                    .map(|st| (st.id.to_string(), st.label.clone()))
            })
        })
        .collect();
    let mut seen = std::collections::HashSet::new();
    states.retain(|(id, _)| seen.insert(id.clone()));
    // Bulk actions: the transitions my role kind and plan roles may take, in the workflows of
    // my funds.
    let mut bulk: Vec<(String, String)> = Vec::new();
    for p in plans.by_id.values() {
        for f in p
            .plan
            .funds
            .iter()
            .filter(|f| who.covers(p.plan.id.as_str(), f.id.as_str()))
        {
            if let Some(wf) = p.plan.workflow(f.workflow.as_str()) {
                let roles = who.plan_roles(p.plan.id.as_str(), f.id.as_str());
                let actor = metroplan_engine::workflow::Actor {
                    id: &who.id,
                    kind: Some(who.role),
                    roles: &roles,
                };
                for t in &wf.transitions {
                    let kind = p.plan.role_kind_of(t);
                    if kind == Some(who.role)
                        && metroplan_engine::workflow::may_take(&p.plan, t, &actor)
                        && !bulk.iter().any(|(id, _)| id == t.id.as_str())
                    {
                        bulk.push((t.id.to_string(), t.label.clone()));
                    }
                }
            }
        }
    }
    let query_string = format!(
        "plan={}&fonds={}&appel={}&etat={}&conseil={}",
        super::layout::url_encode(nonempty(&q.plan).unwrap_or("")),
        super::layout::url_encode(nonempty(&q.fonds).unwrap_or("")),
        super::layout::url_encode(nonempty(&q.appel).unwrap_or("")),
        super::layout::url_encode(nonempty(&q.etat).unwrap_or("")),
        super::layout::url_encode(nonempty(&q.conseil).unwrap_or("")),
    );
    Ok(v.ok(shell(
        &v,
        "Dossiers à instruire",
        html! {
            form.filtres method="get" action="/instruction" {
                div.champ {
                    label for="fonds" { "Fonds" }
                    select id="fonds" name="fonds" {
                        option value="" { "Tous les fonds" }
                        @for (_, f, t) in &funds { option value=(f) selected[nonempty(&q.fonds) == Some(f.as_str())] { (t) } }
                    }
                }
                div.champ {
                    label for="appel" { "Appel (année)" }
                    input id="appel" name="appel" type="number" min="2000" max="2100" value=(nonempty(&q.appel).unwrap_or(""));
                }
                div.champ {
                    label for="etat" { "État" }
                    select id="etat" name="etat" {
                        option value="" { "Tous les états" }
                        @for (id, l) in &states { option value=(id) selected[nonempty(&q.etat) == Some(id.as_str())] { (l) } }
                    }
                }
                div.champ {
                    label for="conseil" { "Conseil de territoire" }
                    select id="conseil" name="conseil" {
                        option value="" { "Tous" }
                        @for c in &council_names { option value=(c) selected[nonempty(&q.conseil) == Some(c.as_str())] { (c) } }
                    }
                }
                button type="submit" { "Filtrer" }
            }
            section aria-labelledby="compte-titre" {
                h2 id="compte-titre" { "Dossiers par état" }
                ul.compteurs {
                    @for ((id, label), n) in &counts {
                        li { a href={"/instruction?etat=" (id) "&fonds=" (nonempty(&q.fonds).unwrap_or("")) "&appel=" (nonempty(&q.appel).unwrap_or("")) "&conseil=" (super::layout::url_encode(nonempty(&q.conseil).unwrap_or("")))} { (label) " : " strong { (n) } } }
                    }
                }
                p {
                    a href={"/instruction/dossiers.csv?" (query_string)} { "Exporter ces dossiers (CSV)" }
                    @for (p, f, t) in &funds {
                        " · " a href={"/plans/" (p) "/fonds/" (f) "/enveloppe"} { "Enveloppe : " (t) }
                    }
                }
            }
            form method="post" action="/instruction/lot" {
                (csrf(&v))
                div.table-scroll tabindex="0" {
                    table.boite {
                        caption {
                            (shown.len()) " dossier" @if shown.len() != 1 { "s" }
                            @if shown.len() > INBOX_ROWS { " : les " (INBOX_ROWS) " plus récemment modifiés sont affichés ; affinez les filtres, ou exportez-les tous en CSV" }
                        }
                        thead { tr {
                            th scope="col" { span.visually-hidden { "Sélection" } }
                            th scope="col" { "Projet" }
                            th scope="col" { "Porteur" }
                            th scope="col" { "Appel" }
                            th scope="col" { "Conseil de territoire" }
                            th scope="col" { "Demandé" }
                            th scope="col" { "État" }
                            th scope="col" { "Mis à jour" }
                        } }
                        tbody {
                            @for r in shown.iter().take(INBOX_ROWS) {
                                @let t = r.app.title.clone().unwrap_or_else(|| "(sans titre)".into());
                                tr {
                                    td {
                                        input type="checkbox" name="dossier" value={(r.app.id) ":" (r.app.version)} id={"choix-" (r.app.id)} aria-label={"Sélectionner « " (t) " »"};
                                    }
                                    th scope="row" { a href={"/dossiers/" (r.app.id)} { (t) } (removed_mark(&r.app)) }
                                    td { (r.app.applicant_name.clone().unwrap_or_default()) }
                                    td { (r.app.call.map(|c| c.to_string()).unwrap_or_default()) }
                                    td { (r.councils.join(", ")) }
                                    td.nombre { (r.app.requested.as_deref().map(euros_str).unwrap_or_default()) }
                                    td { (file_state_badge(&r.app)) }
                                    td { (instant(&r.app.updated_at, &super::layout::plan_tz(&s, Some(&r.app.plan)))) }
                                }
                            }
                        }
                    }
                }
                @if !bulk.is_empty() && !shown.is_empty() {
                    fieldset.groupe.lot {
                        legend { "Décision groupée sur les dossiers sélectionnés" }
                        div.champ {
                            label for="lot-action" { "Action" }
                            select id="lot-action" name="action" required {
                                option value="" { "Choisir…" }
                                @for (id, l) in &bulk { option value=(id) { (l) } }
                            }
                        }
                        div.champ {
                            label for="lot-motif" { "Motif (si l'action en demande un)" }
                            textarea id="lot-motif" name="motif" rows="2" {}
                        }
                        p.aide { "Une attribution groupée attribue à chaque dossier le montant qu'il demande. Chaque dossier réussit ou échoue seul ; un rapport suit." }
                        button type="submit" { "Appliquer aux dossiers sélectionnés" }
                    }
                }
            }
        },
    )))
}

#[tracing::instrument(skip(s, v))]
pub async fn inbox_csv(
    State(s): State<AppState>,
    v: Viewer,
    Query(q): Query<InboxQuery>,
) -> Result<Response, PageError> {
    let (shown, _) = rows(&s, &v, &q).await?;
    let mut out = String::from(
        "id,plan,fonds,appel,porteur,siret,projet,conseils,etat,demande,attribue,verse,depose_le,mis_a_jour\r\n",
    );
    for r in &shown {
        let a = &r.app;
        let cells = [
            a.id.clone(),
            a.plan.clone(),
            a.fund.clone(),
            a.call.map(|c| c.to_string()).unwrap_or_default(),
            a.applicant_name.clone().unwrap_or_default(),
            a.applicant.clone().unwrap_or_default(),
            a.title.clone().unwrap_or_default(),
            r.councils.join(" ; "),
            a.state.clone(),
            a.requested.clone().unwrap_or_default(),
            a.awarded.clone().unwrap_or_default(),
            a.paid.clone(),
            a.filed_on.clone().unwrap_or_default(),
            a.updated_at.clone(),
        ];
        metroplan_engine::csv::row(&mut out, cells.iter().map(String::as_str));
    }
    let mut res = out.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"dossiers.csv\""),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
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
    // Whether the action awards an amount: then each file gets the amount it requested.
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
    let mut report = Vec::new();
    for (id, version) in &picked {
        let current = s.ctx.get(&who, id).await;
        let (title, amount) = match &current {
            Ok(a) => (
                a.title.clone().unwrap_or_else(|| id.clone()),
                a.requested
                    .as_deref()
                    .and_then(|r| r.parse::<Decimal>().ok()),
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
            Ok(r) => Ok(r.body["state_label"]
                .as_str()
                .unwrap_or_default()
                .to_string()),
            Err(Error::NotFound(_)) => Err("dossier introuvable".to_string()),
            Err(Error::Internal(e)) => {
                tracing::error!(error = %e, application = %id, "bulk action failed");
                Err("erreur interne ; réessayez".to_string())
            }
            Err(e) => Err(super::layout::refusal_fr(&e).1),
        };
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
                p.lead { (count_fr(ok, "dossier traité", "dossiers traités")) ", " (count_fr(report.len() - ok, "refusé", "refusés")) ". Chaque dossier a été traité séparément." }
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
    let envelope = envelope_of(f, year);
    let (committed, paid) = ledger(&s, &plan, &fund, year).await?;
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

/// "What if this slips": staff only.
#[tracing::instrument(skip(s, v, f))]
pub async fn what_if(
    State(s): State<AppState>,
    v: Viewer,
    Path(plan): Path<String>,
    WebForm(f): WebForm,
) -> Result<Response, PageError> {
    v.staff()?;
    v.check_csrf(field(&f, CSRF_FIELD))?;
    let p = served(&s, &plan)?;
    let item = field(&f, "element").unwrap_or("");
    let Some(index) = p.plan.actions.iter().position(|a| a.id.as_str() == item) else {
        return Err(PageError::bad_form("Choisissez une action du plan."));
    };
    let days: i32 = field(&f, "jours")
        .and_then(|d| d.trim().parse().ok())
        .filter(|d| (1..=3650).contains(d))
        .ok_or_else(|| PageError::bad_form("Le retard est un nombre de jours entre 1 et 3650."))?;
    let w = run_what_if(&p.plan, index, days, Options::default());
    let title = |id: &str| {
        p.plan
            .actions
            .iter()
            .find(|a| a.id.as_str() == id)
            .map_or_else(|| id.to_string(), |a| a.title.clone())
    };
    let result = html! {
        div.resultat role="status" {
            h3 { "Si « " (title(item)) " » glisse de " (days) " jours" }
            p { "Fin du plan : " (w.finish_before.to_string()) " → " strong { (w.finish_after.to_string()) } "." }
            @if w.broken_deadlines.is_empty() {
                p { "Aucune échéance imposée n'est dépassée." }
            } @else {
                p { "Échéances dépassées :" }
                ul { @for d in &w.broken_deadlines { li { (d) } } }
            }
            @if w.moves.is_empty() {
                p { "Rien d'autre ne bouge." }
            } @else {
                div.table-scroll tabindex="0" {
                    table {
                        caption { (w.moves.len()) " élément(s) décalé(s)" }
                        thead { tr { th scope="col" { "Action ou jalon" } th scope="col" { "Fin prévue" } th scope="col" { "Nouvelle fin" } th scope="col" { "Décalage (jours)" } } }
                        tbody {
                            @for m in &w.moves {
                                tr { th scope="row" { (title(&m.id)) } td { (m.from.to_string()) } td { (m.to.to_string()) } td.nombre { (m.days) } }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(v.ok(timeline_page(
        &s,
        &v,
        &p,
        &TimelineQuery::default(),
        Some(result),
    )))
}
