//! Pages anyone may read: the plans, their actions and timeline, the funds, and the public
//! description of each fund's algorithm.

use axum::extract::{Path, State};
use axum::response::Response;
use jiff::civil::Date;
use maud::html;
use metroplan_engine::french::{date_fr, period_fr};
use metroplan_engine::model::{Plan, RoleKind, Status};
use metroplan_engine::rules::publish::{ANNEX, Publication};
use metroplan_engine::schedule::{Options, Schedule, schedule};
use rust_decimal::Decimal;

use super::layout::{euros, raw, shell};
use super::{PageError, Viewer, charts};
use crate::http::AppState;
use crate::plans::Served;
use crate::service::envelope_of;

pub fn served(s: &AppState, plan: &str) -> Result<std::sync::Arc<Served>, PageError> {
    s.ctx.plans.get(plan).ok_or_else(PageError::not_found)
}

pub fn today(s: &AppState, p: &Served) -> Date {
    s.ctx.clock.now().to_zoned_datetime(p.tz.clone()).date()
}

/// The name of a partner, territory, staff position or official, else the id itself.
pub fn name_of(plan: &Plan, id: &str) -> String {
    if let Some(p) = plan.partners.iter().find(|p| p.id.as_str() == id) {
        return p.name.clone();
    }
    if let Some(t) = plan.territories.iter().find(|t| t.id.as_str() == id) {
        return t.name.clone();
    }
    if let Some(s) = plan.staff.iter().find(|s| s.id.as_str() == id) {
        return s.title.clone();
    }
    id.to_string()
}

/// An item's state: the last progress report's, else what the calendar says on `today`
/// (an item past its end without a report is not "planned").
pub fn status_fr(s: Option<Status>, start: Date, finish: Date, today: Date) -> &'static str {
    match s {
        None if finish < today => "Échue, sans compte rendu",
        None if start <= today => "En cours selon le calendrier",
        None => "À venir",
        Some(Status::NotStarted) => "Non commencée",
        Some(Status::InProgress) => "En cours",
        Some(Status::Done) => "Terminée",
        Some(Status::Suspended) => "Suspendue",
        Some(Status::Abandoned) => "Abandonnée",
    }
}

#[tracing::instrument(skip_all)]
pub async fn home(State(s): State<AppState>, v: Viewer) -> Result<Response, PageError> {
    let plans: Vec<_> = s.ctx.plans.current().by_id.values().cloned().collect();
    Ok(v.ok(shell(
        &v,
        "Plans publics",
        html! {
            p.lead { "Les plans votés, leurs actions, leur calendrier et leurs fonds de subvention." }
            @for p in &plans {
                section.carte {
                    h2 { a href={"/plans/" (p.plan.id)} { (p.plan.title) } }
                    p { (p.plan.owner) " · délibération du " (date_fr(p.plan.deliberation_date)) " (" (p.plan.deliberation_reference) ")" }
                    @if let Some(summary) = &p.plan.summary { p { (summary) } }
                    ul.liens {
                        li { a href={"/plans/" (p.plan.id) "/calendrier"} { "Calendrier" } }
                        @for f in &p.plan.funds {
                            li { a href={"/plans/" (p.plan.id) "/fonds/" (f.id)} { (f.title) } }
                        }
                    }
                }
            }
        },
    )))
}

fn sched(p: &Served) -> Schedule<'_> {
    schedule(&p.plan, Options::default())
}

#[tracing::instrument(skip(s, v))]
pub async fn plan(
    State(s): State<AppState>,
    v: Viewer,
    Path(plan): Path<String>,
) -> Result<Response, PageError> {
    let p = served(&s, &plan)?;
    let sc = sched(&p);
    let pl = &p.plan;
    let today = today(&s, &p);
    Ok(v.ok(shell(
        &v,
        &pl.title,
        html! {
            p.lead { (pl.owner) " · délibération du " (date_fr(pl.deliberation_date)) " (" (pl.deliberation_reference) ")" }
            @if let Some(summary) = &pl.summary { p { (summary) } }
            p { a href={"/plans/" (pl.id) "/calendrier"} { "Voir le calendrier (diagramme de Gantt)" } }
            @if !pl.funds.is_empty() {
                h2 { "Fonds de subvention" }
                ul {
                    @for f in &pl.funds {
                        li { a href={"/plans/" (pl.id) "/fonds/" (f.id)} { (f.title) } }
                    }
                }
            }
            @for axis in &pl.axes {
                section {
                    h2 id={"axe-" (axis.id)} { (axis.title) }
                    @if let Some(d) = &axis.description { p { (d) } }
                    div.table-scroll tabindex="0" {
                        table.cartes {
                            caption { "Actions de l'axe « " (axis.title) " »" }
                            thead { tr {
                                th scope="col" { "Action" }
                                th scope="col" { "Pilote" }
                                th scope="col" { "Partenaires" }
                                th scope="col" { "Territoires" }
                                th scope="col" { "Dates prévues" }
                                th scope="col" { "État" }
                            } }
                            tbody {
                                @for (i, a) in pl.actions.iter().enumerate().filter(|(_, a)| a.axis == axis.id) {
                                    @let it = sc.item(i);
                                    tr {
                                        th scope="row" data-label="Action" { (a.title) }
                                        td data-label="Pilote" { (a.lead.as_ref().map(|l| name_of(pl, l.as_str())).unwrap_or_else(|| "—".into())) }
                                        td data-label="Partenaires" { (list_or_dash(a.partners.iter().map(|x| name_of(pl, x.as_str())))) }
                                        td data-label="Territoires" { (list_or_dash(a.territories.iter().map(|x| name_of(pl, x.as_str())))) }
                                        td data-label="Dates prévues" { (if it.early_start == it.early_finish { date_fr(it.early_start) } else { period_fr(it.early_start, it.early_finish) }) }
                                        td data-label="État" {
                                            (status_fr(it.status, it.early_start, it.early_finish, today))
                                            @if it.late { " " span.retard { "(en retard)" } }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    )))
}

fn list_or_dash(items: impl Iterator<Item = String>) -> String {
    let v: Vec<String> = items.collect();
    if v.is_empty() {
        "—".into()
    } else {
        v.join(", ")
    }
}

#[tracing::instrument(skip(s, v))]
pub async fn fund(
    State(s): State<AppState>,
    v: Viewer,
    Path((plan, fund)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let p = served(&s, &plan)?;
    let f = p.plan.fund(&fund).ok_or_else(PageError::not_found)?;
    let today = today(&s, &p);
    let year = today.year();
    let call = f.calls.iter().find(|c| c.year == year);
    let open = call.is_some_and(|c| c.opens <= today && today <= c.closes);
    let next = f.calls.iter().find(|c| c.opens > today);
    let envelope = envelope_of(f, i64::from(year));
    let (committed, paid) = ledger(&s, &plan, &fund, i64::from(year)).await?;
    let applicant = v.role() == Some(RoleKind::Applicant);
    Ok(v.ok(shell(
        &v,
        &f.title,
        html! {
            p.lead { (f.purpose) }
            h2 { "Appel à projets " (year) }
            @match call {
                Some(c) => p {
                    (capitalised(&period_fr(c.opens, c.closes))) " inclus : "
                    @if open { strong.ouvert { "ouvert" } } @else { strong.ferme { "fermé" } }
                    " (" (c.reference) ")."
                },
                None => p { "Pas d'appel à projets en " (year) "." },
            }
            @if let Some(n) = next { p { "Prochain appel : " (period_fr(n.opens, n.closes)) "." } }
            @if open {
                @if applicant {
                    p { a.bouton href={"/plans/" (plan) "/fonds/" (fund) "/deposer"} { "Déposer un dossier" } }
                } @else if v.session.is_none() {
                    p { a href="/inscription" { "Créez un compte" } " ou " a href={"/connexion?suite=/plans/" (plan) "/fonds/" (fund) "/deposer"} { "connectez-vous" } " pour déposer un dossier." }
                }
            }
            h2 { "Enveloppe " (year) }
            (charts::gauge(envelope, committed, paid))
            dl.chiffres {
                dt { "Enveloppe" } dd { (euros(envelope)) }
                dt { "Engagé" } dd { (euros(committed)) }
                dt { "Versé" } dd { (euros(paid)) }
                dt { "Reste à engager" } dd { (euros(envelope - committed)) }
            }
            h2 { "Comment les dossiers sont examinés" }
            p {
                "Un traitement algorithmique contrôle l'éligibilité de chaque dossier déposé. "
                a href={"/plans/" (plan) "/fonds/" (fund) "/algorithme"} { "Lire la description publique de l'algorithme" }
                " (règles, paramètres et leurs sources)."
            }
        },
    )))
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

pub async fn ledger(
    s: &AppState,
    plan: &str,
    fund: &str,
    year: i64,
) -> Result<(Decimal, Decimal), PageError> {
    use sqlx::Row;
    let r = sqlx::query(
        "SELECT committed_cents, paid_cents FROM ledger WHERE plan = $1 AND fund = $2 AND year = $3",
    )
    .bind(plan)
    .bind(fund)
    .bind(year)
    .fetch_optional(&s.ctx.db.pool)
    .await?;
    Ok(match r {
        Some(r) => (
            crate::service::euros(r.try_get("committed_cents")?),
            crate::service::euros(r.try_get("paid_cents")?),
        ),
        None => (Decimal::ZERO, Decimal::ZERO),
    })
}

#[tracing::instrument(skip(s, v))]
pub async fn algorithm(
    State(s): State<AppState>,
    v: Viewer,
    Path((plan, fund)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let p = served(&s, &plan)?;
    let f = p.plan.fund(&fund).ok_or_else(PageError::not_found)?;
    // Published today, in the plan's time zone.
    let publication =
        Publication::new(&p.plan, f, today(&s, &p)).ok_or_else(PageError::not_found)?;
    let (text, annex) = publication.html_parts();
    let (text, annex) = (page_fragment(&text), page_fragment(&annex));
    Ok(v.ok(shell(
        &v,
        &format!("Algorithme : {}", f.title),
        html! {
            p.lead { "Description publiée en application de l'article L312-1-3 du code des relations entre le public et l'administration." }
            div.publication { (raw(&text)) }
            // Folded: the names the script uses and its source are for those who read code.
            details.annexe {
                summary { (ANNEX) " : code source des règles et noms employés par le script" }
                div.publication { (raw(&annex)) }
            }
        },
    )))
}

/// A publication's HTML as a part of this page: the publication starts at h1 and the page
/// has its own, so its headings move down one; a long script or a wide table scrolls within
/// its box, not the page, and keyboard users must reach it too.
fn page_fragment(html: &str) -> String {
    html.replace("<h3>", "<h4>")
        .replace("</h3>", "</h4>")
        .replace("<h2>", "<h3>")
        .replace("</h2>", "</h3>")
        .replace("<h1>", "<h2>")
        .replace("</h1>", "</h2>")
        .replace("<pre>", "<pre tabindex=\"0\">")
        .replace(
            "<table>",
            "<div class=\"table-scroll\" tabindex=\"0\"><table>",
        )
        .replace("</table>", "</table></div>")
}
