//! The workflow actions of a file's page: one form per transition the viewer may take, with
//! the inputs its guards read, the main one first and the destructive ones last, styled as
//! such and asked for again (a first POST shows what will happen; only a second one with
//! `confirme=oui` carries it out).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use metroplan_engine::model::{
    Assessment, Fund, MoneyEffect, Record, RoleKind, Transition, Workflow,
};
use metroplan_engine::workflow::Guard;
use serde_json::Value;

use super::super::layout::{csrf, euros_str, shell_in};
use super::super::public::served;
use super::super::{CSRF_FIELD, PageError, Viewer, field};
use super::step_pieces::{self, ActionForm};
use super::tone::{destructive, needs_confirmation};
use super::{page_with_error, version_of};
use crate::error::Error;
use crate::http::AppState;
use crate::service::{ActionBody, ApplicationView, Presence};
use crate::tokens::Principal;

/// The field that carries a confirmation.
const CONFIRMED: &str = "confirme";

fn has_guard(t: &Transition, g: Guard) -> bool {
    t.guards.contains(&g)
}

/// What the page offers: the steps the viewer may take now, those held back with why, the
/// amount the instructor proposed, and the day (a payment's default depends on it).
pub struct Offer<'a> {
    pub offered: &'a [&'a Transition],
    pub held: &'a [(&'a Transition, String)],
    pub proposed: Option<rust_decimal::Decimal>,
    pub today: jiff::civil::Date,
}

/// The action forms, the main one first (primary), the other steps (secondary), the
/// destructive ones last (danger).
pub fn section(
    v: &Viewer,
    fund: &Fund,
    wf: &Workflow,
    view: &ApplicationView,
    offer: &Offer<'_>,
) -> Markup {
    let held = offer.held;
    let mut ts: Vec<&Transition> = offer.offered.to_vec();
    ts.sort_by_key(|t| super::tone::rank(wf, t));
    html! {
        @if !ts.is_empty() || !held.is_empty() {
            section.actions aria-labelledby="actions-titre" {
                h2 id="actions-titre" { "Actions possibles" }
                @if !held.is_empty() {
                    ul.en-attente {
                        @for (t, why) in held {
                            li { "«\u{a0}" (t.label) "\u{a0}»\u{a0}: " (why) }
                        }
                    }
                }
                div.actions-grille {
                    @for (i, t) in ts.iter().enumerate() {
                        @let style = if destructive(wf, t) { Style::Danger } else if i == 0 { Style::Primary } else { Style::Secondary };
                        (action_form(v, fund, wf, view, t, style, offer))
                    }
                }
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    Primary,
    Secondary,
    Danger,
}

/// The form for one transition, with the inputs its guards read.
fn action_form(
    v: &Viewer,
    fund: &Fund,
    wf: &Workflow,
    view: &ApplicationView,
    t: &Transition,
    style: Style,
    offer: &Offer<'_>,
) -> Markup {
    let (proposed, today) = (offer.proposed, offer.today);
    let id = t.id.as_str();
    let opinion = t.records == Some(Record::Opinion);
    let final_report = t.records == Some(Record::FinalReport);
    let decided_amount = has_guard(t, Guard::AmountWithinRequest)
        || has_guard(t, Guard::WithinEnvelope)
        || t.effects
            .iter()
            .any(|e| matches!(e, MoneyEffect::Award | MoneyEffect::Reduce));
    // A payment or a reclaim defaults to what the plan allows; an amount may be given.
    let optional_amount = !decided_amount
        && t.effects.iter().any(|e| {
            matches!(
                e,
                MoneyEffect::Advance { .. } | MoneyEffect::Balance | MoneyEffect::Reclaim
            )
        });
    let reason = has_guard(t, Guard::ReasonGiven) || t.effects.contains(&MoneyEffect::Reduce);
    let signed = has_guard(t, Guard::AgreementSigned);
    let reviewer_criteria: Vec<_> = fund
        .grid
        .as_ref()
        .map(|g| {
            g.criteria
                .iter()
                .filter(|c| c.assessed == Assessment::Reviewer)
                .collect()
        })
        .unwrap_or_default();
    // The most each criterion takes (its parameter's value), said next to its input.
    let max_of = |points: &str| {
        fund.parameters
            .iter()
            .find(|p| p.id.as_str() == points)
            .and_then(|p| p.values.iter().last())
            .map(|d| d.value)
    };
    // The instructor's proposal when there is one, else what was asked for.
    let prefill = proposed
        .or_else(|| view.requested.as_deref().and_then(|r| r.parse().ok()))
        .map(metroplan_engine::french::amount_fr)
        .unwrap_or_default();
    let grants = t.effects.contains(&MoneyEffect::Award);
    // What the step pays without an amount, said beside the field (a reclaim's depends on
    // what was reclaimed before, which the page does not hold).
    let money = metroplan_engine::workflow::Money {
        committed: view
            .awarded
            .as_deref()
            .and_then(|a| a.parse().ok())
            .unwrap_or_default(),
        paid: view.paid.parse().unwrap_or_default(),
        reclaimed: rust_decimal::Decimal::ZERO,
    };
    let by_default = t
        .effects
        .iter()
        .filter(|e| matches!(e, MoneyEffect::Advance { .. } | MoneyEffect::Balance))
        .find_map(|e| metroplan_engine::workflow::default_amount(fund, e, &money, today));
    let class = match style {
        Style::Primary => "action action-principale",
        Style::Secondary => "action",
        Style::Danger => "action action-danger",
    };
    let to = wf.states.iter().find(|s| s.id == t.to);
    let have: Vec<String> = view.documents.iter().map(|d| d.kind.clone()).collect();
    html! {
        form class=(class) method="post" action={"/dossiers/" (view.id) "/actions/" (id)} enctype=[(!t.pieces.is_empty()).then_some("multipart/form-data")] {
            (csrf(v))
            input type="hidden" name="version" value=(view.version);
            h3 { (t.label) }
            @if let Some(r) = &t.reference { p.aide { "Référence au règlement du fonds\u{a0}: " (r) } }
            @if needs_confirmation(wf, t) {
                p.aide {
                    @if to.is_some_and(|s| s.terminal) { "Étape définitive" } @else { "Étape à confirmer" }
                    "\u{a0}: une confirmation vous sera demandée."
                }
            }
            @if opinion {
                fieldset.champ.groupe {
                    legend { "Avez-vous un lien d'intérêt avec le porteur ?" }
                    div.options.en-ligne {
                        label { input type="radio" name="lien" value="non" required; " Non" }
                        label { input type="radio" name="lien" value="oui"; " Oui" }
                    }
                }
                p.aide { "Un lien déclaré est conservé au dossier et vous écarte de ce dossier\u{a0}: vous ne donnez alors pas d'avis." }
                fieldset.champ.groupe {
                    legend { "Votre avis" }
                    div.options.en-ligne {
                        label { input type="radio" name="favorable" value="oui"; " Favorable" }
                        label { input type="radio" name="favorable" value="non"; " Défavorable" }
                    }
                }
                div.champ {
                    label for={"avis-" (id)} { "Avis motivé" }
                    textarea id={"avis-" (id)} name="avis" rows="4" {}
                }
                @for c in &reviewer_criteria {
                    @let max = max_of(c.points.as_str());
                    div.champ {
                        label for={"note-" (id) "-" (c.id)} {
                            (c.label)
                            @if let Some(m) = max { " (sur " (super::summary::points_fr(m)) " points)" } @else { " (points)" }
                        }
                        input id={"note-" (id) "-" (c.id)} name={"note." (c.id)} type="number" min="0" max=[max.map(|m| m.to_string())] step="1";
                    }
                }
            }
            (step_pieces::inputs(t, &have))
            @if final_report && t.pieces.is_empty() {
                p.aide {
                    "En confirmant, vous déclarez avoir remis le bilan final de l'action au service instructeur"
                    @if let Some(a) = &fund.administration { " (" (a.service) ", " a href={"mailto:" (a.email)} { (a.email) } ")" }
                    "."
                }
            }
            @if optional_amount {
                div.champ {
                    label for={"montant-" (id)} { "Montant (€, facultatif)" }
                    p.aide id={"montant-" (id) "-aide"} {
                        @match by_default {
                            Some(d) => { "Sans montant\u{a0}: " strong { (super::super::layout::euros(d)) } ", ce que prévoit le règlement." }
                            None => { "Sans montant, celui que prévoit le règlement." }
                        }
                    }
                    input id={"montant-" (id)} name="montant" type="text" inputmode="decimal" aria-describedby={"montant-" (id) "-aide"};
                }
            }
            @if decided_amount {
                div.champ {
                    label for={"montant-" (id)} { @if grants || t.effects.contains(&MoneyEffect::Reduce) { "Montant (€)" } @else { "Montant proposé (€)" } }
                    @if let Some(r) = &view.requested { p.aide id={"montant-" (id) "-aide"} { "Demandé\u{a0}: " (euros_str(r)) @if let (true, Some(p)) = (grants, proposed) { " · proposé par l'instruction\u{a0}: " (super::super::layout::euros(p)) } "." } }
                    input id={"montant-" (id)} name="montant" type="text" inputmode="decimal" required value=(prefill) aria-describedby=[view.requested.as_ref().map(|_| format!("montant-{id}-aide"))];
                }
            }
            @if signed {
                div.champ {
                    label for={"signature-" (id)} { "Date de signature" }
                    input id={"signature-" (id)} name="signature" type="date" required;
                }
            }
            @if reason {
                div.champ {
                    label for={"motif-" (id)} { "Motif" }
                    textarea id={"motif-" (id)} name="motif" rows="3" required {}
                }
            }
            @match style {
                Style::Danger => { button.bouton-danger type="submit" { (t.label) } }
                Style::Primary => { button.bouton-primaire type="submit" { (t.label) } }
                Style::Secondary => { button.secondaire type="submit" { (t.label) } }
            }
        }
    }
}

/// The action's body from the posted form.
pub fn body_from(f: &[(String, String)]) -> Result<ActionBody, String> {
    let mut b = ActionBody::default();
    if let Some(m) = field(f, "montant").filter(|m| !m.trim().is_empty()) {
        b.amount = Some(metroplan_engine::french::parse_amount_fr(m).ok_or_else(|| {
            "Indiquez un montant en euros, par exemple 12\u{a0}000 ou 1\u{a0}200,50.".to_string()
        })?);
    }
    b.reason = field(f, "motif")
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_string);
    b.linked = match field(f, "lien") {
        Some("oui") => Some(true),
        Some("non") => Some(false),
        _ => None,
    };
    b.favourable = match field(f, "favorable") {
        Some("oui") => Some(true),
        Some("non") => Some(false),
        _ => None,
    };
    b.opinion = field(f, "avis")
        .filter(|a| !a.trim().is_empty())
        .map(str::to_string);
    let scores: std::collections::BTreeMap<String, u32> = f
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("note.")?.to_string(), v)))
        // A criterion left blank is not scored (a reviewer who declares a link scores nothing).
        .filter(|(_, v)| !v.trim().is_empty())
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| {
            v.trim()
                .parse::<u32>()
                .map(|n| (k, n))
                .map_err(|_| "Une note est un nombre entier de points.".to_string())
        })
        .collect::<Result<_, _>>()?;
    if !scores.is_empty() {
        b.scores = Some(scores);
    }
    if let Some(d) = field(f, "signature").filter(|d| !d.is_empty()) {
        b.signed_on = Some(
            d.parse()
                .map_err(|_| "Indiquez la date de signature (jour, mois et année).".to_string())?,
        );
    }
    Ok(b)
}

#[tracing::instrument(skip(s, v, form))]
pub async fn act(
    State(s): State<AppState>,
    v: Viewer,
    Path((id, action)): Path<(String, String)>,
    form: ActionForm,
) -> Result<Response, PageError> {
    let who = v.require(&RoleKind::ALL)?;
    let ActionForm { fields: f, files } = form;
    v.check_csrf(field(&f, CSRF_FIELD))?;
    let mut version = version_of(&f)?;
    if !files.is_empty() {
        match join_step_pieces(&s, &who, &id, &action, files, version).await {
            Ok(after) => version = after,
            Err(Ok((status, msg))) => {
                return page_with_error(&s, &v, &who, &id, status, &msg).await;
            }
            Err(Err(e)) => return Err(e),
        }
    }
    if field(&f, CONFIRMED) != Some("oui")
        && let Some(page) = confirmation(&s, &v, &who, &id, &action, version, &f).await?
    {
        return Ok(page);
    }
    take_action(&s, &v, &who, &id, &action, version, &f).await
}

/// The files posted with a step, joined to the file if the step asks for them and the page
/// was current; the file's version after them.
async fn join_step_pieces(
    s: &AppState,
    who: &Principal,
    id: &str,
    action: &str,
    files: Vec<super::super::applicant::Piece>,
    version: i64,
) -> Result<i64, step_pieces::Refused> {
    let view = s.ctx.get(who, id).await.map_err(|e| Err(e.into()))?;
    if view.version != version {
        let stale = Error::Stale {
            current: view.version,
        };
        return Err(Ok(super::super::layout::refusal_fr(&stale)));
    }
    let p = served(s, &view.plan).map_err(Err)?;
    let t = p
        .plan
        .fund(&view.fund)
        .and_then(|fund| p.plan.workflow(fund.workflow.as_str()))
        .and_then(|wf| wf.transitions.iter().find(|t| t.id.as_str() == action));
    let Some(t) = t else {
        return Err(Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            "Cette étape ne demande pas de pièce.".into(),
        )));
    };
    step_pieces::join(s, who, id, t, files, version).await
}

/// For a step that needs a confirmation, the page that asks for it (what will happen, with
/// « Confirmer » and « Annuler »); nothing is written. `None` for any other step, or when
/// the step cannot be found (the engine then refuses it).
async fn confirmation(
    s: &AppState,
    v: &Viewer,
    who: &Principal,
    id: &str,
    action: &str,
    version: i64,
    f: &[(String, String)],
) -> Result<Option<Response>, PageError> {
    let view = s.ctx.get(who, id).await?;
    if view.fund_status == Presence::Removed || view.state_status == Presence::Removed {
        return Ok(None);
    }
    let p = served(s, &view.plan)?;
    let Some(fund) = p.plan.fund(&view.fund) else {
        return Ok(None);
    };
    let Some(wf) = p.plan.workflow(fund.workflow.as_str()) else {
        return Ok(None);
    };
    let Some(t) = wf.transitions.iter().find(|t| t.id.as_str() == action) else {
        return Ok(None);
    };
    if !needs_confirmation(wf, t) || !view.actions.iter().any(|a| a == action) {
        return Ok(None);
    }
    let body = match body_from(f) {
        Ok(b) => b,
        Err(m) => {
            return page_with_error(s, v, who, id, StatusCode::UNPROCESSABLE_ENTITY, &m)
                .await
                .map(Some);
        }
    };
    if has_guard(t, Guard::ReasonGiven) && body.reason.is_none() {
        return page_with_error(
            s,
            v,
            who,
            id,
            StatusCode::UNPROCESSABLE_ENTITY,
            Guard::ReasonGiven.refusal_fr(),
        )
        .await
        .map(Some);
    }
    if view.version != version {
        let (status, msg) = super::super::layout::refusal_fr(&Error::Stale {
            current: view.version,
        });
        return page_with_error(s, v, who, id, status, &msg).await.map(Some);
    }
    let to = wf.states.iter().find(|st| st.id == t.to);
    let title = view
        .title
        .clone()
        .unwrap_or_else(|| "Dossier sans titre".into());
    let kept: Vec<&(String, String)> = f
        .iter()
        .filter(|(k, _)| k != CSRF_FIELD && k != CONFIRMED)
        .collect();
    let amount = body.amount.map(super::super::layout::euros);
    let page = shell_in(
        v,
        &view.plan,
        &format!("Confirmer\u{a0}: {}", t.label),
        html! {
            div.confirmation role="alert" {
                p { "Dossier\u{a0}: «\u{a0}" (title) "\u{a0}»" @if let Some(n) = &view.applicant_name { ", porté par " (n) } "." }
                ul {
                    @if let Some(st) = to {
                        @if st.id.as_str() != view.state {
                            li { "Le dossier passera de l'étape «\u{a0}" (view.state_label) "\u{a0}» à l'étape «\u{a0}" (st.label) "\u{a0}»." }
                        }
                        @if st.terminal { li { strong { "Cette étape est définitive\u{a0}: le dossier ne pourra plus évoluer." } } }
                    }
                    @for e in &t.effects {
                        @match e {
                            MoneyEffect::Reduce => { li { "L'aide attribuée sera réduite" @if let Some(a) = &amount { " de " strong { (a) } } "." } }
                            MoneyEffect::Release => { li { "La part de l'aide qui n'a pas été versée sera désengagée et reviendra à l'enveloppe." } }
                            MoneyEffect::Reclaim => { li { "Le reversement " @if let Some(a) = &amount { "de " strong { (a) } } @else { "de ce qui a été versé" } " sera demandé au porteur." } }
                            MoneyEffect::Award => { li { "L'aide sera attribuée" @if let Some(a) = &amount { "\u{a0}: " strong { (a) } } "." } }
                            _ => {}
                        }
                    }
                    @if !t.documents.is_empty() && who.role != RoleKind::Applicant {
                        li { "Le porteur en sera informé par courrier." }
                    }
                    @if let Some(r) = &body.reason { li { "Motif\u{a0}: «\u{a0}" (r) "\u{a0}»" } }
                }
            }
            form.action.action-danger method="post" action={"/dossiers/" (view.id) "/actions/" (action)} {
                (csrf(v))
                @for (k, val) in &kept { input type="hidden" name=(k) value=(val); }
                input type="hidden" name=(CONFIRMED) value="oui";
                p { "Voulez-vous vraiment continuer\u{a0}?" }
                div.boutons {
                    button.bouton-danger type="submit" { "Confirmer" }
                    a.bouton.bouton-secondaire href={"/dossiers/" (view.id)} { "Annuler" }
                }
            }
        },
    );
    Ok(Some(v.ok(page)))
}

/// Takes the action; success goes back to the page (post/redirect/get), a refusal shows the
/// page again with the reason.
pub async fn take_action(
    s: &AppState,
    v: &Viewer,
    who: &Principal,
    id: &str,
    action: &str,
    version: i64,
    f: &[(String, String)],
) -> Result<Response, PageError> {
    let body = match body_from(f) {
        Ok(b) => b,
        Err(m) => {
            return page_with_error(s, v, who, id, StatusCode::UNPROCESSABLE_ENTITY, &m).await;
        }
    };
    match s.ctx.act(who, id, action, body, Some(version), None).await {
        Ok(_) => Ok(Redirect::to(&format!("/dossiers/{id}?fait={action}")).into_response()),
        Err(e @ (Error::NotFound(_) | Error::Internal(_))) => Err(e.into()),
        Err(e) => {
            let (status, msg) = super::super::layout::refusal_fr(&e);
            tracing::info!(application = %id, action, %status, "action refused");
            page_with_error(s, v, who, id, status, &msg).await
        }
    }
}

/// The opinion's points, criterion by criterion, by the grid's labels.
pub fn scores_fr(fund: &Fund, scores: &Value) -> String {
    let Some(m) = scores.as_object() else {
        return String::new();
    };
    m.iter()
        .map(|(k, v)| {
            let label = fund
                .grid
                .as_ref()
                .and_then(|g| g.criteria.iter().find(|c| c.id.as_str() == k))
                .map_or(k.as_str(), |c| c.label.as_str());
            format!("{label}\u{a0}: {v}")
        })
        .collect::<Vec<_>>()
        .join(" ; ")
}
