//! The staff's inbox: the files of their funds with filters, a search, sorting, pages of
//! fifty, counts by state, and the CSV export of everything the filters keep.

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use maud::html;
use metroplan_engine::french::fold;
use metroplan_engine::model::TerritoryLevel;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::Value;

use super::layout::{
    count_fr, csrf, euros_str, file_state_badge, file_state_label, instant, removed_mark, shell,
};
use super::staff::councils;
use super::{PageError, Viewer};
use crate::http::AppState;
use crate::service::ApplicationView;

/// Rows per page of the inbox; the counts and the CSV export cover every file.
pub const PAGE_SIZE: usize = 50;

#[derive(Debug, Default, Deserialize)]
pub struct InboxQuery {
    pub plan: Option<String>,
    pub fonds: Option<String>,
    pub appel: Option<String>,
    pub etat: Option<String>,
    pub conseil: Option<String>,
    /// Words searched in the applicant's name, the project's title and the SIRET.
    pub q: Option<String>,
    /// The sorted column: see [`SORTS`].
    pub tri: Option<String>,
    /// `asc` or `desc`.
    pub sens: Option<String>,
    pub page: Option<String>,
}

pub(super) fn nonempty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// The inbox's sortable columns: (query value, header, first direction when chosen).
const SORTS: [(&str, &str, bool); 6] = [
    ("projet", "Projet", true),
    ("porteur", "Porteur", true),
    ("demande", "Demandé", false),
    ("score", "Score", false),
    ("echeance", "Échéance", true),
    ("maj", "Mis à jour", false),
];

struct Row {
    app: ApplicationView,
    councils: Vec<String>,
    /// The average total of the opinions' scores, out of 100.
    score: Option<Decimal>,
    /// The next day something is due on the file: a pending timer, else its deadline to
    /// complete.
    due: Option<jiff::civil::Date>,
}

/// Whether every word of the search is in the file's applicant, title or SIRET.
fn matches(app: &ApplicationView, q: &str) -> bool {
    let hay = fold(&format!(
        "{} {}",
        app.applicant_name.as_deref().unwrap_or(""),
        app.title.as_deref().unwrap_or("")
    ));
    let siret: String = app
        .applicant
        .as_deref()
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let digits: String = q.chars().filter(|c| !c.is_whitespace()).collect();
    (!digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) && siret.contains(&digits))
        || fold(q).split_whitespace().all(|w| hay.contains(w))
}

/// Each file's score on its grid brought to 100 points, computed as the decision page does
/// (the rules' points for the automatic criteria, the reviewers' average for the others).
async fn scores(
    s: &AppState,
    visible: &[&str],
) -> Result<std::collections::HashMap<String, Decimal>, PageError> {
    use sqlx::Row as _;
    let rows = sqlx::query("SELECT application_id, scores FROM opinions")
        .fetch_all(&s.ctx.db.pool)
        .await?;
    let mut given: std::collections::HashMap<String, Vec<Value>> = Default::default();
    for r in rows {
        let id: String = r.try_get("application_id")?;
        let text: String = r.try_get("scores")?;
        if let Ok(v) = serde_json::from_str::<Value>(&text) {
            given.entry(id).or_default().push(v);
        }
    }
    // Only the listed files' evaluations are read (each holds the whole explanation).
    let mut evaluated = Vec::new();
    for chunk in visible.chunks(500) {
        let marks = (1..=chunk.len())
            .map(|k| format!("${k}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT id, evaluation FROM applications WHERE evaluation IS NOT NULL AND id IN ({marks})"
        );
        let mut q = sqlx::query(&sql);
        for id in chunk {
            q = q.bind(*id);
        }
        evaluated.extend(q.fetch_all(&s.ctx.db.pool).await?);
    }
    let mut out = std::collections::HashMap::new();
    for r in evaluated {
        let id: String = r.try_get("id")?;
        let text: Option<String> = r.try_get("evaluation")?;
        let Some(v) = text.and_then(|t| serde_json::from_str::<Value>(&t).ok()) else {
            continue;
        };
        let evaluation = v.get("evaluation").unwrap_or(&v);
        let opinions = given.get(&id).map(Vec::as_slice).unwrap_or_default();
        if let Some(st) = metroplan_engine::rules::standing::standing(evaluation, opinions) {
            out.insert(id, st.out_of_100());
        }
    }
    Ok(out)
}

/// Each file's next pending timer.
async fn next_due(
    s: &AppState,
) -> Result<std::collections::HashMap<String, jiff::civil::Date>, PageError> {
    use sqlx::Row as _;
    let rows = sqlx::query(
        "SELECT application_id, MIN(due_on) AS due FROM timers WHERE done_at IS NULL GROUP BY application_id",
    )
    .fetch_all(&s.ctx.db.pool)
    .await?;
    let mut out = std::collections::HashMap::new();
    for r in rows {
        let id: String = r.try_get("application_id")?;
        let due: Option<String> = r.try_get("due")?;
        if let Some(d) = due.and_then(|d| d.get(..10).and_then(|x| x.parse().ok())) {
            out.insert(id, d);
        }
    }
    Ok(out)
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
    let search = nonempty(&q.q);
    let visible: Vec<&str> = apps.iter().map(|a| a.id.as_str()).collect();
    let scores = scores(s, &visible).await?;
    let dues = next_due(s).await?;
    let mut all = Vec::new();
    for app in apps {
        if search.is_some_and(|w| !matches(&app, w)) {
            continue;
        }
        let served = s.ctx.plans.get(&app.plan);
        let councils = served
            .as_ref()
            .and_then(|p| {
                p.plan
                    .fund(&app.fund)
                    .map(|f| councils(&p.plan, f, &app.data))
            })
            .unwrap_or_default();
        let score = scores.get(&app.id).copied();
        let due = dues.get(&app.id).copied().or_else(|| {
            app.deadline
                .as_deref()
                .and_then(|d| d.get(..10).and_then(|x| x.parse().ok()))
        });
        all.push(Row {
            app,
            councils,
            score,
            due,
        });
    }
    let (before_state, _): (Vec<Row>, Vec<Row>) = all
        .into_iter()
        .partition(|r| nonempty(&q.conseil).is_none_or(|c| r.councils.iter().any(|x| x == c)));
    let (shown, hidden): (Vec<Row>, Vec<Row>) = before_state
        .into_iter()
        .partition(|r| nonempty(&q.etat).is_none_or(|e| r.app.state == e));
    Ok((shown, hidden))
}

/// Sorts the rows by the chosen column; absent values last whatever the direction, ties in
/// the order of the last change.
fn sort_rows(rows: &mut [Row], key: &str, asc: bool) {
    use std::cmp::Ordering;
    fn opt<T: Ord>(a: &Option<T>, b: &Option<T>, asc: bool) -> Ordering {
        match (a, b) {
            (Some(x), Some(y)) => {
                if asc {
                    x.cmp(y)
                } else {
                    y.cmp(x)
                }
            }
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        }
    }
    let money = |r: &Row| {
        r.app
            .requested
            .as_deref()
            .and_then(|x| x.parse::<Decimal>().ok())
    };
    let text = |x: &Option<String>| x.as_deref().map(fold).filter(|t| !t.is_empty());
    rows.sort_by(|a, b| {
        let o = match key {
            "projet" => opt(&text(&a.app.title), &text(&b.app.title), asc),
            "porteur" => opt(
                &text(&a.app.applicant_name),
                &text(&b.app.applicant_name),
                asc,
            ),
            "demande" => opt(&money(a), &money(b), asc),
            "score" => opt(&a.score, &b.score, asc),
            "echeance" => opt(&a.due, &b.due, asc),
            _ => opt(&Some(&a.app.updated_at), &Some(&b.app.updated_at), asc),
        };
        o.then_with(|| b.app.updated_at.cmp(&a.app.updated_at))
    });
}

/// The inbox's query string with `page`, `tri` and `sens` replaced (`None`: left out).
fn inbox_link(
    q: &InboxQuery,
    tri: Option<&str>,
    sens: Option<&str>,
    page: Option<usize>,
) -> String {
    use super::layout::url_encode;
    let mut parts: Vec<String> = Vec::new();
    for (k, v) in [
        ("plan", nonempty(&q.plan)),
        ("fonds", nonempty(&q.fonds)),
        ("appel", nonempty(&q.appel)),
        ("etat", nonempty(&q.etat)),
        ("conseil", nonempty(&q.conseil)),
        ("q", nonempty(&q.q)),
        ("tri", tri),
        ("sens", sens),
    ] {
        if let Some(v) = v {
            parts.push(format!("{k}={}", url_encode(v)));
        }
    }
    if let Some(p) = page.filter(|p| *p > 1) {
        parts.push(format!("page={p}"));
    }
    if parts.is_empty() {
        "/instruction".to_string()
    } else {
        format!("/instruction?{}", parts.join("&"))
    }
}

/// A score as French writes it: `72,5`.
fn score_fr(d: Decimal) -> String {
    d.normalize().to_string().replace('.', ",")
}

#[tracing::instrument(skip(s, v))]
pub async fn inbox(
    State(s): State<AppState>,
    v: Viewer,
    Query(q): Query<InboxQuery>,
) -> Result<Response, PageError> {
    let who = v.staff()?;
    let (mut shown, hidden) = rows(&s, &v, &q).await?;
    let tri = nonempty(&q.tri)
        .filter(|t| SORTS.iter().any(|(k, _, _)| k == t))
        .unwrap_or("maj");
    let first_asc = SORTS
        .iter()
        .find(|(k, _, _)| *k == tri)
        .is_some_and(|x| x.2);
    let asc = match nonempty(&q.sens) {
        Some("asc") => true,
        Some("desc") => false,
        _ => first_asc,
    };
    sort_rows(&mut shown, tri, asc);
    let pages = shown.len().div_ceil(PAGE_SIZE).max(1);
    let page = match nonempty(&q.page) {
        None => 1,
        Some(p) => p
            .parse::<usize>()
            .ok()
            .filter(|p| *p >= 1)
            .ok_or_else(|| PageError::bad_form("Le numéro de page est un nombre, par exemple 2."))?
            .min(pages),
    };
    let on_page: Vec<&Row> = shown
        .iter()
        .skip((page - 1) * PAGE_SIZE)
        .take(PAGE_SIZE)
        .collect();
    let sens_now = if asc { "asc" } else { "desc" };
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
    // The states of the funds this person covers (those the filters keep), one group per
    // fund: the same id in two funds is two states.
    let in_filter = |plan: &str, fund: &str| {
        who.covers(plan, fund)
            && nonempty(&q.plan).is_none_or(|p| p == plan)
            && nonempty(&q.fonds).is_none_or(|f| f == fund)
    };
    let states: Vec<(String, Vec<(String, String)>)> = plans
        .by_id
        .values()
        .flat_map(|p| {
            p.plan
                .funds
                .iter()
                .filter(|f| in_filter(p.plan.id.as_str(), f.id.as_str()))
                .filter_map(|f| {
                    let w = p.plan.workflow(f.workflow.as_str())?;
                    Some((
                        f.title.clone(),
                        w.states
                            .iter()
                            .map(|st| (st.id.to_string(), st.label.clone()))
                            .collect(),
                    ))
                })
        })
        .collect();
    let first_group = nonempty(&q.etat).and_then(|e| {
        states
            .iter()
            .position(|(_, l)| l.iter().any(|(id, _)| id == e))
    });
    let shown_states: std::collections::HashSet<&str> =
        shown.iter().map(|r| r.app.state.as_str()).collect();
    // Bulk actions: the transitions my role kind and plan roles may take, in the workflows of
    // my funds.
    let mut bulk: Vec<(String, String)> = Vec::new();
    for p in plans.by_id.values() {
        for f in p
            .plan
            .funds
            .iter()
            .filter(|f| in_filter(p.plan.id.as_str(), f.id.as_str()))
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
                    // Only the steps one of the listed files could take.
                    if kind == Some(who.role)
                        && t.from.iter().any(|f| shown_states.contains(f.as_str()))
                        && metroplan_engine::workflow::may_take(&p.plan, t, &actor)
                        && !bulk.iter().any(|(id, _)| id == t.id.as_str())
                    {
                        bulk.push((t.id.to_string(), t.label.clone()));
                    }
                }
            }
        }
    }
    let query_string = inbox_link(&q, None, None, None)
        .trim_start_matches("/instruction")
        .trim_start_matches('?')
        .to_string();
    let sort_header = |key: &'static str, label: &'static str| {
        let (next, aria) = if key == tri {
            (
                if asc { "desc" } else { "asc" },
                Some(if asc { "ascending" } else { "descending" }),
            )
        } else {
            let first = SORTS
                .iter()
                .find(|(k, _, _)| *k == key)
                .is_some_and(|x| x.2);
            (if first { "asc" } else { "desc" }, None)
        };
        let hint = match (aria, asc) {
            (Some(_), true) => " (trié par ordre croissant)",
            (Some(_), false) => " (trié par ordre décroissant)",
            _ => "",
        };
        html! {
            th scope="col" aria-sort=[aria] {
                a href=(inbox_link(&q, Some(key), Some(next), None)) {
                    (label)
                    @if !hint.is_empty() { span.visually-hidden { (hint) } }
                    @if aria.is_some() { span aria-hidden="true" { @if asc { " ▲" } @else { " ▼" } } }
                }
            }
        }
    };
    Ok(v.ok(shell(
        &v,
        "Dossiers à instruire",
        html! {
            form.filtres method="get" action="/instruction" {
                div.champ.recherche {
                    label for="q" { "Rechercher" }
                    input id="q" name="q" type="search" value=(nonempty(&q.q).unwrap_or("")) aria-describedby="q-aide";
                    p.aide id="q-aide" { "Porteur, titre du projet ou SIRET ; accents et majuscules indifférents." }
                }
                @if let Some(t) = nonempty(&q.tri) { input type="hidden" name="tri" value=(t); }
                @if let Some(t) = nonempty(&q.sens) { input type="hidden" name="sens" value=(t); }
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
                        @if let [(_, only)] = states.as_slice() {
                            @for (id, l) in only { option value=(id) selected[nonempty(&q.etat) == Some(id.as_str())] { (l) } }
                        } @else {
                            @for (g, (fund, list)) in states.iter().enumerate() {
                                optgroup label=(fund) {
                                    // One option selected, in the first fund that has the state.
                                    @for (id, l) in list { option value=(id) selected[nonempty(&q.etat) == Some(id.as_str()) && first_group == Some(g)] { (l) } }
                                }
                            }
                        }
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
                table.boite.cartes {
                    caption {
                        (count_fr(shown.len(), "dossier", "dossiers"))
                        @if pages > 1 { " · page " (page) " sur " (pages) }
                        // In the caption, so that it stays when rows become cards on a phone.
                        label.tout-selectionner hidden {
                            input type="checkbox" id="tout-selectionner";
                            " Tout sélectionner sur cette page"
                        }
                    }
                    thead { tr {
                        th scope="col" {
                            span.visually-hidden { "Sélection" }
                        }
                        (sort_header("projet", "Projet"))
                        (sort_header("porteur", "Porteur"))
                        th scope="col" { "Appel" }
                        th scope="col" { "Conseil de territoire" }
                        (sort_header("demande", "Demandé"))
                        (sort_header("score", "Score"))
                        th scope="col" { "État" }
                        (sort_header("echeance", "Échéance"))
                        (sort_header("maj", "Mis à jour"))
                    } }
                    tbody {
                        @for r in &on_page {
                            @let t = r.app.title.clone().unwrap_or_else(|| "(sans titre)".into());
                            tr {
                                td data-label="Sélection" {
                                    input type="checkbox" name="dossier" value={(r.app.id) ":" (r.app.version)} id={"choix-" (r.app.id)} aria-label={"Sélectionner « " (t) " »"};
                                }
                                th scope="row" data-label="Projet" { a href={"/dossiers/" (r.app.id)} { (t) } (removed_mark(&r.app)) }
                                td data-label="Porteur" { (r.app.applicant_name.clone().unwrap_or_default()) }
                                td data-label="Appel" { (r.app.call.map(|c| c.to_string()).unwrap_or_default()) }
                                td data-label="Conseil de territoire" { (r.councils.join(", ")) }
                                td.nombre data-label="Demandé" { (r.app.requested.as_deref().map(euros_str).unwrap_or_default()) }
                                td.nombre data-label="Score" {
                                    @match r.score { Some(sc) => { (score_fr(sc)) " / 100" }, None => "—" }
                                }
                                td data-label="État" { (file_state_badge(&r.app)) }
                                td data-label="Échéance" { (r.due.map(metroplan_engine::french::date_fr).unwrap_or_else(|| "—".into())) }
                                td data-label="Mis à jour" { (instant(&r.app.updated_at, &super::layout::plan_tz(&s, Some(&r.app.plan)))) }
                            }
                        }
                    }
                }
                @if pages > 1 {
                    nav.pagination aria-label="Pages des dossiers" {
                        @if page > 1 { a rel="prev" href=(inbox_link(&q, Some(tri), Some(sens_now), Some(page - 1))) { "← Page précédente" } }
                        span aria-current="page" { "Page " (page) " sur " (pages) }
                        @if page < pages { a rel="next" href=(inbox_link(&q, Some(tri), Some(sens_now), Some(page + 1))) { "Page suivante →" } }
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
                        p.aide { "Une attribution groupée attribue à chaque dossier le montant que l'instruction a proposé (à défaut, celui qu'il demande). Chaque dossier réussit ou échoue seul ; un rapport suit." }
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
