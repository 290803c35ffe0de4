//! The plan's timeline: the Gantt chart fitted to the page's column with its legend, the
//! same items listed by quarter (what a phone shows instead of the chart), the table of
//! dates and floats, and the staff's "what if this slips" form, whose result is drawn on the
//! chart and listed right above it.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use jiff::civil::Date;
use maud::{Markup, html};
use metroplan_engine::french::{date_fr, period_fr};
use metroplan_engine::model::{RoleKind, Status};
use metroplan_engine::schedule::{
    Filter, Options, Schedule, WhatIf, schedule, svg, timeline as entries, what_if as run_what_if,
};
use serde::Deserialize;

use super::layout::{count_fr, raw, shell};
use super::public::{served, status_fr, today};
use super::{CSRF_FIELD, PageError, Viewer, WebForm, field};
use crate::http::AppState;
use crate::plans::Served;

/// Status filter values (plan-file status names), their labels and statuses. Items without a
/// progress report count as not started, as in the timeline query.
const STATUS_FILTERS: [(&str, &str, Status); 5] = [
    ("not-started", "Prévue ou non commencée", Status::NotStarted),
    ("in-progress", "En cours", Status::InProgress),
    ("done", "Terminée", Status::Done),
    ("suspended", "Suspendue", Status::Suspended),
    ("abandoned", "Abandonnée", Status::Abandoned),
];

#[derive(Debug, Default, Deserialize)]
pub struct TimelineQuery {
    pub axe: Option<String>,
    pub statut: Option<String>,
}

#[tracing::instrument(skip(s, v))]
pub async fn timeline(
    State(s): State<AppState>,
    v: Viewer,
    Path(plan): Path<String>,
    Query(q): Query<TimelineQuery>,
) -> Result<Response, PageError> {
    let p = served(&s, &plan)?;
    Ok(v.ok(timeline_page(&s, &v, &p, &q, None)))
}

/// A what-if's result, as the page shows it.
pub struct Simulation {
    item: usize,
    days: i32,
    result: WhatIf,
}

/// `1er trimestre 2021`, `2e trimestre 2021`.
fn quarter_fr(d: Date) -> String {
    let q = (d.month() - 1) / 3 + 1;
    let ord = if q == 1 {
        "1er".to_string()
    } else {
        format!("{q}e")
    };
    format!("{ord} trimestre {}", d.year())
}

fn dates_fr(start: Date, finish: Date) -> String {
    if start == finish {
        format!("le {}", date_fr(start))
    } else {
        period_fr(start, finish)
    }
}

/// The timeline page; `sim` is the result of the staff's "what if this slips" form.
pub fn timeline_page(
    s: &AppState,
    v: &Viewer,
    p: &Served,
    q: &TimelineQuery,
    sim: Option<Simulation>,
) -> Markup {
    let pl = &p.plan;
    let sc: Schedule<'_> = schedule(pl, Options::default());
    let axe = q.axe.as_deref().filter(|a| !a.is_empty());
    let statut = q.statut.as_deref().filter(|a| !a.is_empty());
    // The timeline's own filters; a value the plan does not have shows nothing.
    let filter = Filter {
        axis: axe,
        // `prevue` (no report) was a filter of its own before: old links still work.
        status: statut
            .map(|x| if x == "prevue" { "not-started" } else { x })
            .and_then(|x| STATUS_FILTERS.iter().find(|(k, _, _)| *k == x).map(|f| f.2)),
        ..Filter::default()
    };
    let matcher = filter.matcher(pl).ok();
    let unknown_status = statut.is_some() && filter.status.is_none();
    let keep = |i: usize| !unknown_status && matcher.as_ref().is_some_and(|m| m.keeps(pl, &sc, i));
    let today = today(s, p);
    let moves = sim.as_ref().map_or(&[][..], |w| &w.result.moves[..]);
    let chart = svg::gantt_with(pl, &sc, Some(today), keep, moves, false);
    let kept: Vec<usize> = (0..pl.actions.len()).filter(|&i| keep(i)).collect();
    // The same items by quarter, one entry per occurrence of a recurring item.
    let listed = if unknown_status {
        Vec::new()
    } else {
        entries(pl, &sc, &filter).map_or_else(|_| Vec::new(), |t| t.items)
    };
    let mut quarters: Vec<(String, Vec<_>)> = Vec::new();
    for e in &listed {
        let qf = quarter_fr(e.start);
        match quarters.last_mut() {
            Some((k, v)) if *k == qf => v.push(e),
            _ => quarters.push((qf, vec![e])),
        }
    }
    let axis_index = |id: &str| {
        pl.axes
            .iter()
            .position(|a| a.id.as_str() == id)
            .unwrap_or(0)
    };
    let used_axes: Vec<usize> = (0..pl.axes.len())
        .filter(|&k| kept.iter().any(|&i| pl.actions[i].axis == pl.axes[k].id))
        .collect();
    let staff = v.role().is_some_and(|r| r != RoleKind::Applicant);
    let end = sc.finish.max(pl.horizon);
    shell(
        v,
        &format!("Calendrier : {}", pl.title),
        html! {
            p.lead {
                "Du " (date_fr(pl.start)) " au " (date_fr(end)) " : "
                (count_fr(pl.actions.len(), "action ou jalon", "actions et jalons")) ". "
                a href={"/api/plans/" (pl.id) "/schedule?format=ics"} { "S'abonner au calendrier (iCalendar)" }
            }
            form.filtres method="get" action={"/plans/" (pl.id) "/calendrier"} {
                div.champ {
                    label for="axe" { "Axe" }
                    select id="axe" name="axe" {
                        option value="" { "Tous les axes" }
                        @for a in &pl.axes {
                            option value=(a.id) selected[axe == Some(a.id.as_str())] { (a.title) }
                        }
                    }
                }
                div.champ {
                    label for="statut" { "État" }
                    select id="statut" name="statut" {
                        option value="" { "Tous les états" }
                        @for (k, l, _) in STATUS_FILTERS {
                            option value=(k) selected[statut == Some(k)] { (l) }
                        }
                    }
                }
                button type="submit" { "Filtrer" }
            }
            @if staff {
                details.simulation open[sim.is_some()] {
                    summary { "Et si une action glisse ? Simuler un retard" }
                    form.simuler method="post" action={"/plans/" (pl.id) "/calendrier"} {
                        (super::layout::csrf(v))
                        div.champ {
                            label for="element" { "Action ou jalon" }
                            select id="element" name="element" required {
                                option value="" { "Choisir…" }
                                @for (i, a) in pl.actions.iter().enumerate() {
                                    option value=(a.id) selected[sim.as_ref().is_some_and(|w| w.item == i)] { (a.title) }
                                }
                            }
                        }
                        div.champ {
                            label for="jours" { "Retard (jours calendaires)" }
                            input id="jours" name="jours" type="number" min="1" max="3650" value=(sim.as_ref().map_or(30, |w| w.days)) required;
                        }
                        button type="submit" { "Simuler" }
                    }
                }
            }
            @if let Some(w) = &sim { (simulation(pl, w)) }
            // Between phone and desktop widths the chart scrolls in its box: the keyboard must reach it.
            figure.gantt tabindex="0" {
                (raw(&chart))
                figcaption {
                    (kept.len()) " sur " (count_fr(pl.actions.len(), "action ou jalon affiché", "actions et jalons affichés"))
                    ", du " (date_fr(pl.start)) " au " (date_fr(end)) ". Survolez une barre pour ses dates et sa marge ; le tableau des échéances plus bas donne les mêmes informations."
                }
            }
            div.legende-gantt {
                h2.visually-hidden { "Légende du diagramme" }
                ul.legende {
                    @for &k in &used_axes {
                        li { span class={"pastille axe-" (k % svg::PALETTE.len())} aria-hidden="true" {} (pl.axes[k].title) }
                    }
                }
                p { (svg::critical_legend(pl, &sc)) }
                p {
                    "◆ : jalon. Flèche : dépendance. Ligne pointillée : aujourd'hui (" (date_fr(today)) "). T1 à T4 : trimestres."
                    @if sim.is_some() { " Barre hachurée : dates après le glissement simulé." }
                }
            }
            section.vue-liste aria-labelledby="liste-titre" {
                h2 id="liste-titre" { "Calendrier par trimestre" }
                @if quarters.is_empty() { p { "Aucune action ne correspond aux filtres." } }
                @for (label, items) in &quarters {
                    h3 { (label) }
                    ul.trimestre {
                        @for e in items {
                            @let k = axis_index(e.axis);
                            li class={"axe-bord-" (k % svg::PALETTE.len())} data-element=(e.id) {
                                strong { (e.title) }
                                @if e.critical { " " span.badge { "critique" } }
                                br;
                                (capitalised(&dates_fr(e.start, e.finish)))
                                @if let Some(y) = e.occurrence { " (édition " (y) ")" }
                                br;
                                span.axe { (pl.axes.get(k).map_or("", |a| a.title.as_str())) }
                            }
                        }
                    }
                }
            }
            h2 { "Échéances" }
            table.cartes {
                caption { "Dates au plus tôt et marge de chaque action (en jours ouvrés)" }
                thead { tr {
                    th scope="col" { "Action ou jalon" }
                    th scope="col" { "Début" }
                    th scope="col" { "Fin" }
                    th scope="col" { "Marge (jours ouvrés)" }
                    th scope="col" { "État" }
                } }
                tbody {
                    @for &i in &kept {
                        @let it = sc.item(i);
                        tr class=[it.critical.then_some("critique")] {
                            th scope="row" data-label="Action ou jalon" { (pl.actions[i].title) @if it.critical { " " span.badge { "critique" } } }
                            td data-label="Début" { (date_fr(it.early_start)) }
                            td data-label="Fin" { (date_fr(it.early_finish)) }
                            td.nombre data-label="Marge (jours ouvrés)" { (it.total_float) }
                            td data-label="État" { (status_fr(it.status, it.early_start, it.early_finish, today)) }
                        }
                    }
                }
            }
        },
    )
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// The what-if's result: the plan's finish, broken deadlines and the moved items.
fn simulation(pl: &metroplan_engine::model::Plan, w: &Simulation) -> Markup {
    let r = &w.result;
    let title = |i: usize| pl.actions[i].title.as_str();
    html! {
        section.resultat id="simulation" role="status" aria-labelledby="simulation-titre" {
            h2 id="simulation-titre" { "Si « " (title(w.item)) " » glisse de " (count_fr(w.days as usize, "jour", "jours")) }
            p {
                @if r.finish_before == r.finish_after {
                    "La fin du plan ne bouge pas : " (date_fr(r.finish_before)) "."
                } @else {
                    "Fin du plan : " (date_fr(r.finish_before)) " → " strong { (date_fr(r.finish_after)) } "."
                }
                @if r.broken_deadlines.is_empty() {
                    " Aucune échéance imposée n'est dépassée."
                } @else {
                    " " strong.retard { (count_fr(r.broken_deadlines.len(), "échéance dépassée", "échéances dépassées")) } "."
                }
            }
            @if r.moves.is_empty() {
                p { "Rien d'autre ne bouge." }
            } @else {
                table.cartes.decalages {
                    caption { (count_fr(r.moves.len(), "action décalée", "actions décalées")) " (barres hachurées sur le diagramme)" }
                    thead { tr {
                        th scope="col" { "Action ou jalon" }
                        th scope="col" { "Fin prévue" }
                        th scope="col" { "Nouvelle fin" }
                        th scope="col" { "Décalage (jours)" }
                    } }
                    tbody {
                        @for m in &r.moves {
                            tr {
                                th scope="row" data-label="Action ou jalon" { (title(m.item)) }
                                td data-label="Fin prévue" { (date_fr(m.from)) }
                                td data-label="Nouvelle fin" { (date_fr(m.to)) }
                                td.nombre data-label="Décalage (jours)" { (m.days) }
                            }
                        }
                    }
                }
            }
        }
    }
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
        .ok_or_else(|| {
            PageError::bad_form("Le retard est un nombre de jours entre 1 et 3\u{202f}650.")
        })?;
    let result = run_what_if(&p.plan, index, days, Options::default());
    Ok(v.ok(timeline_page(
        &s,
        &v,
        &p,
        &TimelineQuery::default(),
        Some(Simulation {
            item: index,
            days,
            result,
        }),
    )))
}
