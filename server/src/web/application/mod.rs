//! An application's page, for its applicant and for staff: its data, eligibility result
//! and explanation, pieces, opinions, history, and the workflow actions the viewer may take
//! as forms carrying the version they were shown (a stale page gets a clear message).

use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use metroplan_engine::model::{Fund, RoleKind, Transition, Workflow};
use metroplan_engine::workflow::{Actor, may_take};
use serde::Deserialize;
use serde_json::Value;

use super::applicant::{check_pieces, label_of, read_multipart};
use super::layout::{
    alert_error, csrf, euros_str, explanation, file_state_badge, fund_label, instant, role_fr,
    shell_in,
};
use super::public::served;
use super::{CSRF_FIELD, PageError, Viewer, WebForm, field, form};
use crate::error::Error;
use crate::http::AppState;
use crate::service::{ApplicationView, Presence};
use crate::tokens::Principal;

mod actions;
mod step_pieces;
pub mod summary;
pub mod tone;

pub use actions::{act, take_action};
use tone::Tone;

#[derive(Debug, Default, Deserialize)]
pub struct Flash {
    pub fait: Option<String>,
}

pub fn version_of(f: &[(String, String)]) -> Result<i64, PageError> {
    field(f, "version")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| PageError::bad_form("Le formulaire ne porte pas la version du dossier."))
}

#[tracing::instrument(skip(s, v))]
pub async fn application(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<String>,
    Query(q): Query<Flash>,
) -> Result<Response, PageError> {
    let who = v.require(&RoleKind::ALL)?;
    let view = s.ctx.get(&who, &id).await?;
    let flash = q.fait.as_deref().map(|a| done_fr(&s, &view, a));
    let body = render(&s, &v, &who, view, flash.as_ref(), None, None).await?;
    Ok(v.ok(body))
}

/// The page again, with why the action was refused.
pub async fn page_with_error(
    s: &AppState,
    v: &Viewer,
    who: &Principal,
    id: &str,
    status: StatusCode,
    message: &str,
) -> Result<Response, PageError> {
    let view = s.ctx.get(who, id).await?;
    let body = render(s, v, who, view, None, Some(message), None).await?;
    Ok(v.page(status, body))
}

/// A draft's edit refused field by field: the page again with the edit form open, each
/// control showing what was typed and its error beside it (nothing written).
pub async fn page_with_form_errors(
    s: &AppState,
    v: &Viewer,
    who: &Principal,
    id: &str,
    message: &str,
    posted: &[(String, String)],
    errors: &[(String, String)],
) -> Result<Response, PageError> {
    let view = s.ctx.get(who, id).await?;
    let body = render(s, v, who, view, None, Some(message), Some((posted, errors))).await?;
    Ok(v.page(StatusCode::UNPROCESSABLE_ENTITY, body))
}

/// The page again, refusing a change to a file whose fund a live edit renamed or removed
/// (409, nothing written).
pub async fn refuse_removed(
    s: &AppState,
    v: &Viewer,
    who: &Principal,
    id: &str,
) -> Result<Response, PageError> {
    let (status, msg) = super::layout::refusal_fr(&Error::PlanChanged(String::new()));
    page_with_error(s, v, who, id, status, &msg).await
}

/// The banner after a step, with the colour of what the file's state now means.
fn done_fr(s: &AppState, view: &ApplicationView, action: &str) -> (String, Tone) {
    let tone = s
        .ctx
        .plans
        .get(&view.plan)
        .and_then(|p| {
            let f = p.plan.fund(&view.fund)?;
            let wf = p.plan.workflow(f.workflow.as_str())?;
            Some(tone::state_tone(&p.plan, wf, &view.state))
        })
        .unwrap_or(Tone::Neutral);
    (done_text(s, view, action), tone)
}

fn done_text(s: &AppState, view: &ApplicationView, action: &str) -> String {
    if action == "enregistre" {
        return "Dossier enregistré.".into();
    }
    if action == "pieces" {
        return "Pièces enregistrées.".into();
    }
    if action == "reevalue" {
        return format!(
            "Dossier réévalué selon les règles en vigueur : {}.",
            view.outcome
                .as_deref()
                .map_or("résultat inconnu", super::layout::outcome_fr)
        );
    }
    let label = s
        .ctx
        .plans
        .get(&view.plan)
        .and_then(|p| {
            let f = p.plan.fund(&view.fund)?;
            let wf = p.plan.workflow(f.workflow.as_str())?;
            wf.transitions
                .iter()
                .find(|t| t.id.as_str() == action)
                .map(|t| t.label.clone())
        })
        .unwrap_or_else(|| action.to_string());
    format!(
        "« {label} » : c'est fait. Le dossier est maintenant : {}.",
        view.state_label
    )
}

/// A refused draft edit shown again: the fields as sent, the errors by field path.
type Retry<'a> = (&'a [(String, String)], &'a [(String, String)]);

async fn render(
    s: &AppState,
    v: &Viewer,
    who: &Principal,
    view: ApplicationView,
    flash: Option<&(String, Tone)>,
    error: Option<&str>,
    retry: Option<Retry<'_>>,
) -> Result<Markup, PageError> {
    // A file whose fund a live edit renamed or removed stays readable, without its form.
    if view.fund_status == Presence::Removed {
        return render_removed(s, v, who, view, flash, error).await;
    }
    let p = served(s, &view.plan)?;
    let tz = p.tz.clone();
    let (fund, wf) = {
        let f = p.plan.fund(&view.fund).ok_or_else(PageError::not_found)?;
        let wf = p
            .plan
            .workflow(f.workflow.as_str())
            .ok_or_else(PageError::not_found)?;
        (f, wf)
    };
    let applicant = who.role == RoleKind::Applicant;
    let draft = view.state == wf.initial.as_str();
    let incomplete = metroplan_engine::workflow::completion(&p.plan, wf, &view.state)
        .is_some_and(|t| view.actions.iter().any(|a| *a == t.id.as_str()));
    let preview = if draft && applicant {
        Some(s.ctx.preview(who, &view.id).await)
    } else {
        None
    };
    let explanation_v = if draft {
        None
    } else {
        s.ctx.explanation(who, &view.id).await.ok()
    };
    let events = s.ctx.events(who, &view.id).await?;
    let opinions = if applicant {
        Vec::new()
    } else {
        s.ctx.opinions(who, &view.id).await?
    };
    let summary = form::summary(&p.plan, fund, &view.data);
    let presentation: Vec<(&str, &str)> = fund
        .form
        .fields
        .iter()
        .filter(|f| f.ty == metroplan_engine::model::FieldType::LongText)
        .filter_map(|f| {
            let text = f
                .path
                .split('.')
                .try_fold(&view.data, |v, k| v.get(k))
                .and_then(Value::as_str)
                .filter(|t| !t.trim().is_empty())?;
            Some((f.label.as_str(), text))
        })
        .collect();
    let have: Vec<String> = view.documents.iter().map(|d| d.kind.clone()).collect();
    let title = view
        .title
        .clone()
        .unwrap_or_else(|| "Dossier sans titre".into());
    // Offered: what the view lists for the viewer's role kind, narrowed to the plan roles
    // they hold, by the engine's rule for `decide`.
    let roles = who.plan_roles(&view.plan, &view.fund);
    let actor = Actor {
        id: &who.id,
        kind: Some(who.role),
        roles: &roles,
    };
    let transitions: Vec<&Transition> = view
        .actions
        .iter()
        .filter_map(|a| wf.transitions.iter().find(|t| t.id.as_str() == a))
        .filter(|t| may_take(&p.plan, t, &actor))
        .collect();
    // A step the committee's vote holds back is not offered: it is said what it waits for.
    let today = super::public::today(s, &p);
    let given: Vec<metroplan_engine::workflow::Opinion> = opinions
        .iter()
        .filter(|o| !o.declared_link)
        .map(|o| metroplan_engine::workflow::Opinion {
            reviewer: o.reviewer.clone(),
            favourable: o.favourable == Some(true),
        })
        .collect();
    let (transitions, held): (Vec<&Transition>, Vec<&Transition>) =
        transitions.into_iter().partition(|t| {
            t.vote.as_ref().is_none_or(|vote| {
                metroplan_engine::workflow::vote_holds(fund, vote, &given, today).is_ok()
            })
        });
    let mut held: Vec<(&Transition, String)> = held
        .into_iter()
        .filter_map(|t| {
            let vote = t.vote.as_ref()?;
            metroplan_engine::workflow::vote_holds(fund, vote, &given, today)
                .err()
                .map(|(_, fr)| (t, format!("pas encore possible. {fr}")))
        })
        .collect();
    // A reviewer who declared a link of interest gives no opinion on the file: the opinion's
    // form is not offered to them again.
    let declared = opinions
        .iter()
        .any(|o| o.declared_link && o.reviewer == who.id);
    let (transitions, excluded): (Vec<&Transition>, Vec<&Transition>) = transitions
        .into_iter()
        .partition(|t| !(declared && t.records == Some(metroplan_engine::model::Record::Opinion)));
    held.extend(excluded.into_iter().map(|t| {
        (
            t,
            "vous avez déclaré un lien d'intérêt avec ce dossier\u{a0}: vous n'y donnez pas d'avis.".to_string(),
        )
    }));
    let missing: Vec<String> = explanation_v
        .as_ref()
        .and_then(|x| x.get("evaluation"))
        .and_then(|e| e.get("missing"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(|m| match m.strip_prefix("documents.") {
                    // A missing piece is named by its label, as in the pieces' form.
                    Some(kind) => label_of(fund, &format!("piece.{kind}")),
                    None => label_of(fund, m),
                })
                .collect()
        })
        .unwrap_or_default();
    let state_tone = tone::state_tone(&p.plan, wf, &view.state);
    // Staff read first what a decision needs; the people named by their names.
    let staff_summary = !applicant && !draft;
    let names = if applicant {
        Default::default()
    } else {
        let mut ids: Vec<String> = opinions.iter().map(|o| o.reviewer.clone()).collect();
        ids.extend(events.iter().map(|e| e.actor.clone()));
        ids.sort();
        ids.dedup();
        s.ctx.names(who, ids).await?
    };
    let envelope = match view.call {
        Some(year) if staff_summary => s.ctx.envelope(who, &view.plan, &view.fund, year).await.ok(),
        _ => None,
    };
    let pending = if applicant && view.filed_on.is_some() {
        s.ctx.pending_steps(who, &view.id).await?
    } else {
        Vec::new()
    };
    let summary_block = staff_summary.then(|| {
        summary::staff(&summary::Staff {
            view: &view,
            plan: &p.plan,
            wf,
            fund_title: &fund.title,
            evaluation: explanation_v.as_ref(),
            opinions: &opinions,
            events: &events,
            names: &names,
            envelope: envelope.as_ref(),
            tz: &tz,
        })
    });
    let proposed = summary::proposal(wf, &events, &names).and_then(|p| p.value);
    let offer = actions::Offer {
        offered: &transitions,
        held: &held,
        proposed,
        today,
    };
    let name_of =
        |id: &str, label: &str| names.get(id).cloned().unwrap_or_else(|| label.to_string());
    Ok(shell_in(
        v,
        &view.plan,
        &title,
        html! {
            @if let Some((m, t)) = flash { (tone::banner(*t, m)) }
            @if let Some(e) = error { (alert_error(e)) }
            @if view.state_status == Presence::Removed {
                div.alert.error role="status" { p { strong { "Étape retirée du plan" } "\u{a0}: l'étape où se trouve ce dossier n'existe plus dans le circuit d'instruction du fonds. Le dossier reste consultable, mais il ne peut plus être modifié tant que le plan ne la contient pas de nouveau." } }
            }
            @if let Some(b) = summary_block {
                (b)
            } @else {
                dl.fiche {
                    dt { "État" } dd { (tone::badge(state_tone, &view.state, &super::layout::file_state_label(&view))) }
                    dt { "Fonds" } dd { a href={"/plans/" (view.plan) "/fonds/" (view.fund)} { (fund.title) } }
                    @if let Some(n) = &view.applicant_name { dt { "Porteur" } dd { (n) @if let Some(k) = &view.applicant { " (SIRET " (form::siret_text(k)) ")" } } }
                    @if let Some(c) = view.call { dt { "Appel à projets" } dd { (c) } }
                    @if let Some(r) = &view.requested { dt { "Montant demandé" } dd { (euros_str(r)) } }
                    @if let Some(a) = &view.awarded { dt { "Montant attribué" } dd { (euros_str(a)) } }
                    @if view.paid != "0" && view.paid != "0.00" { dt { "Versé" } dd { (euros_str(&view.paid)) } }
                    @if let Some(d) = &view.filed_on { dt { "Déposé le" } dd { (super::layout::day(d)) } }
                    @if let Some(d) = &view.deadline { dt { "À compléter avant le" } dd { strong { (super::layout::day(d)) } } }
                    @if let Some(d) = &view.decided_on { dt { "Décidé le" } dd { (super::layout::day(d)) } }
                }
            }
            @if staff_summary {
                (actions::section(v, fund, wf, &view, &offer))
            }
            @if applicant && view.filed_on.is_some() {
                (summary::decision(&p.plan, fund, wf, &view, &events))
                (summary::receipt(&p.plan, wf, &view, &pending))
            }
            @if let Some(pv) = &preview {
                section.apercu aria-labelledby="apercu-titre" {
                    h2 id="apercu-titre" { "Aperçu de l'éligibilité" }
                    p { "Résultat que donnerait le contrôle automatique si vous déposiez le dossier aujourd'hui, avec les pièces déjà fournies. Rien n'est encore déposé." }
                    @match pv {
                        Ok(x) => {
                            @let outcome = x.get("evaluation").and_then(|e| e.get("outcome")).and_then(Value::as_str).unwrap_or("");
                            p.resultat { "Résultat : " strong class={"issue-" (outcome)} { (super::layout::outcome_fr(outcome)) } }
                            (explanation(x.get("text").and_then(Value::as_str).unwrap_or("")))
                        }
                        Err(e) => { (alert_error(&super::layout::refusal_fr(e).1)) }
                    }
                }
            }
            @if incomplete && applicant && !missing.is_empty() {
                section {
                    h2 { "Ce qui manque" }
                    ul { @for m in &missing { li { (m) } } }
                    @if let Some(d) = &view.deadline { p { "Complétez le dossier au plus tard le " strong { (super::layout::day(d)) } "." } }
                }
            }
            @if applicant && (draft || incomplete) {
                section {
                    h2 { "Pièces jointes" }
                    form.formulaire method="post" enctype="multipart/form-data" action={"/dossiers/" (view.id) "/pieces"} {
                        (csrf(v))
                        input type="hidden" name="version" value=(view.version);
                        (form::pieces(fund, &have))
                        button type="submit" { "Envoyer les pièces" }
                    }
                }
            }
            @if !staff_summary {
                (actions::section(v, fund, wf, &view, &offer))
            }
            @if let Some(x) = &explanation_v {
                section aria-labelledby="explication-titre" {
                    h2 id="explication-titre" { "Contrôle d'éligibilité et explication" }
                    p { "Explication due au demandeur (article R311-3-1-2 du code des relations entre le public et l'administration)." }
                    (explanation(x.get("text").and_then(Value::as_str).unwrap_or("")))
                    @if matches!(who.role, RoleKind::Instructor | RoleKind::Admin) {
                        form.action method="post" action={"/dossiers/" (view.id) "/reevaluer"} {
                            (csrf(v))
                            input type="hidden" name="version" value=(view.version);
                            h3 { "Réévaluer selon les règles en vigueur" }
                            p.aide { "Le contrôle est refait avec les règles et paramètres actuels, à la date de dépôt du dossier. L'ancien et le nouveau résultat sont inscrits dans l'historique ; l'état du dossier ne change pas." }
                            div.champ {
                                label for="motif-reevaluation" { "Motif" }
                                textarea id="motif-reevaluation" name="motif" rows="2" required {}
                            }
                            button type="submit" { "Réévaluer" }
                        }
                    }
                }
            }
            // Reviewers read the project as the applicant wrote it (its description, its
            // indicators: the form's long texts), each under its label.
            @if !applicant && !presentation.is_empty() {
                section aria-labelledby="presentation-titre" {
                    h2 id="presentation-titre" { "Présentation du projet" }
                    @for (i, (label, text)) in presentation.iter().enumerate() {
                        h3 id={"presentation-" (i)} { (label) }
                        p.texte-long { (text) }
                    }
                }
            }
            section aria-labelledby="donnees-titre" {
                h2 id="donnees-titre" { "Données du dossier" }
                dl.fiche {
                    @for (l, val) in &summary { dt { (l) } dd { (val) } }
                }
                @if applicant && draft {
                    details open[retry.is_some()] {
                        summary { "Modifier le dossier" }
                        form.formulaire method="post" action={"/dossiers/" (view.id) "/modifier"} {
                            (csrf(v))
                            input type="hidden" name="version" value=(view.version);
                            @if let Some((_, errors)) = retry { (form::error_summary(fund, errors, None)) }
                            (form::fields(&p.plan, fund, &view.data, retry.map(|r| r.0), retry.map_or(&[][..], |r| r.1), &[]))
                            button type="submit" { "Enregistrer les modifications" }
                        }
                    }
                }
            }
            section aria-labelledby="pieces-titre" {
                h2 id="pieces-titre" { "Pièces fournies" }
                @if view.documents.is_empty() { p { "Aucune pièce." } }
                ul {
                    @for d in &view.documents {
                        li {
                            a href={"/dossiers/" (view.id) "/pieces/" (d.kind)} {
                                @match metroplan_engine::workflow::step_piece_label(wf, &d.kind) {
                                    Some(l) => (l),
                                    None => (label_of(fund, &format!("piece.{}", d.kind))),
                                }
                            }
                            " (" (super::layout::media_fr(&d.media_type)) ", " (d.size / 1024 + 1) "\u{a0}Ko)"
                        }
                    }
                }
            }
            @if !applicant {
                section aria-labelledby="avis-titre" {
                    h2 id="avis-titre" { "Avis du comité et déclarations d'intérêts" }
                    @if opinions.is_empty() { p { "Aucun avis pour l'instant." } } @else {
                        div.table-scroll tabindex="0" {
                            table {
                                caption.visually-hidden { "Avis du comité" }
                                thead { tr {
                                    th scope="col" { "Membre" }
                                    th scope="col" { "Lien d'intérêt déclaré" }
                                    th scope="col" { "Sens" }
                                    th scope="col" { "Avis" }
                                    th scope="col" { "Notes" }
                                    th scope="col" { "Date" }
                                } }
                                tbody {
                                    @for o in &opinions {
                                        tr {
                                            th scope="row" { (name_of(&o.reviewer, &o.reviewer_name)) }
                                            td { @if o.declared_link { "oui\u{a0}: écarté du dossier" } @else { (summary::linked_fr(&events, o)) } }
                                            td { @match o.favourable { Some(true) => "favorable", Some(false) => "défavorable", None => "" } }
                                            td { (o.opinion) }
                                            td { (actions::scores_fr(fund, &o.scores)) }
                                            td { (instant(&o.created_at, &p.tz)) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            (super::letters::section(&view))
            section aria-labelledby="historique-titre" {
                h2 id="historique-titre" { "Historique" }
                ol.historique {
                    @for e in &events {
                        li {
                            time datetime=(super::layout::datetime_attr(&e.at)) { (instant(&e.at, &tz)) }
                            " · "
                            (event_fr(Some(wf), Some(fund), e))
                            // Where the step led is what matters; where it came from is the line before.
                            @if let (Some(a), Some(b)) = (&e.from_state, &e.to_state) { @if a != b { " → " (state_label(wf, b)) } }
                            " · "
                            (actor_fr(who, &name_of(&e.actor, e.actor_name.as_deref().unwrap_or(&e.actor)), &e.role))
                            @if let Some(r) = &e.reason { " · motif\u{a0}: " (r) }
                        }
                    }
                }
            }
        },
    ))
}

/// The page of a file whose fund a live edit renamed or removed: what is stored, readable,
/// marked, with no form (a change is refused, 409).
async fn render_removed(
    s: &AppState,
    v: &Viewer,
    who: &Principal,
    view: ApplicationView,
    flash: Option<&(String, Tone)>,
    error: Option<&str>,
) -> Result<Markup, PageError> {
    let explanation_v = s.ctx.explanation(who, &view.id).await.ok();
    let events = s.ctx.events(who, &view.id).await?;
    let tz = super::layout::plan_tz(s, Some(&view.plan));
    let title = view
        .title
        .clone()
        .unwrap_or_else(|| "Dossier sans titre".into());
    let state_of = |id: &str| {
        s.ctx
            .plans
            .known_state_label(&view.plan, &view.fund, id)
            .unwrap_or_else(|| "étape qui n'existe plus dans le plan".into())
    };
    Ok(shell_in(
        v,
        &view.plan,
        &title,
        html! {
            @if let Some((m, t)) = flash { (tone::banner(*t, m)) }
            @if let Some(e) = error { (alert_error(e)) }
            div.alert.error role="status" {
                p { strong { "Fonds retiré du plan" } "\u{a0}: ce dossier relève d'un fonds qui n'existe plus dans le plan (" (fund_label(&view)) "). Il reste consultable, mais il ne peut plus être modifié tant que le plan ne contient pas de nouveau ce fonds." }
            }
            dl.fiche {
                dt { "État" } dd { (file_state_badge(&view)) }
                dt { "Fonds" } dd { (fund_label(&view)) " " strong.retire { "(retiré du plan)" } }
                @if let Some(n) = &view.applicant_name { dt { "Porteur" } dd { (n) @if let Some(k) = &view.applicant { " (SIRET " (form::siret_text(k)) ")" } } }
                @if let Some(c) = view.call { dt { "Appel à projets" } dd { (c) } }
                @if let Some(r) = &view.requested { dt { "Montant demandé" } dd { (euros_str(r)) } }
                @if let Some(a) = &view.awarded { dt { "Montant attribué" } dd { (euros_str(a)) } }
                @if view.paid != "0" && view.paid != "0.00" { dt { "Versé" } dd { (euros_str(&view.paid)) } }
                @if let Some(d) = &view.filed_on { dt { "Déposé le" } dd { (super::layout::day(d)) } }
                @if let Some(d) = &view.decided_on { dt { "Décidé le" } dd { (super::layout::day(d)) } }
                dt { "Version" } dd { (view.version) }
            }
            @if let Some(x) = &explanation_v {
                section aria-labelledby="explication-titre" {
                    h2 id="explication-titre" { "Contrôle d'éligibilité et explication" }
                    (explanation(x.get("text").and_then(Value::as_str).unwrap_or("")))
                }
            }
            section aria-labelledby="donnees-titre" {
                h2 id="donnees-titre" { "Données du dossier" }
                p { "Les données saisies restent enregistrées telles quelles\u{a0}; leur présentation dépend du formulaire du fonds, que le plan ne contient plus." }
            }
            section aria-labelledby="pieces-titre" {
                h2 id="pieces-titre" { "Pièces fournies" }
                @if view.documents.is_empty() { p { "Aucune pièce." } }
                ul {
                    @for (n, d) in view.documents.iter().enumerate() {
                        li {
                            a href={"/dossiers/" (view.id) "/pieces/" (d.kind)} {
                                (d.file_name.clone().unwrap_or_else(|| format!("Pièce jointe n° {}", n + 1)))
                            }
                            " (" (super::layout::media_fr(&d.media_type)) ", " (d.size / 1024 + 1) "\u{a0}Ko)"
                        }
                    }
                }
            }
            (super::letters::section(&view))
            section aria-labelledby="historique-titre" {
                h2 id="historique-titre" { "Historique" }
                ol.historique {
                    @for e in &events {
                        li {
                            time datetime=(super::layout::datetime_attr(&e.at)) { (instant(&e.at, &tz)) }
                            " · "
                            (event_fr(None, None, e))
                            @if let (Some(a), Some(b)) = (&e.from_state, &e.to_state) { @if a != b { " → " (state_of(b)) } }
                            " · "
                            (actor_fr(who, e.actor_name.as_deref().unwrap_or(&e.actor), &e.role))
                            @if let Some(r) = &e.reason { " · motif\u{a0}: " (r) }
                        }
                    }
                }
            }
        },
    ))
}

fn state_label(wf: &Workflow, id: &str) -> String {
    wf.states.iter().find(|s| s.id.as_str() == id).map_or_else(
        || "étape qui n'existe plus dans le plan".to_string(),
        |s| s.label.clone(),
    )
}

/// What an event of the history was, in words: a step by its label, a piece by its label, a
/// letter by its title (never an action's id).
fn event_fr(wf: Option<&Workflow>, fund: Option<&Fund>, e: &crate::audit::Event) -> String {
    let text = |k: &str| e.payload.get(k).and_then(Value::as_str);
    match e.action.as_str() {
        "create" => "Création du dossier".into(),
        "edit-draft" => "Modification du brouillon".into(),
        "upload" | "document" => {
            let kind = text("kind").unwrap_or_default();
            let label = fund
                .and_then(|f| f.form.documents.iter().find(|d| d.id.as_str() == kind))
                .map(|d| d.label.as_str())
                .or_else(|| wf.and_then(|w| metroplan_engine::workflow::step_piece_label(w, kind)));
            match label {
                Some(l) => format!("Pièce jointe\u{a0}: {l}"),
                None => "Pièce jointe".into(),
            }
        }
        "issue-document" => match text("title") {
            Some(t) => format!("Courrier émis\u{a0}: {t}"),
            None => "Courrier émis".into(),
        },
        "eligibility-check" => "Contrôle automatique d'éligibilité".into(),
        "re-evaluation" => "Réévaluation selon les règles en vigueur".into(),
        a if a.starts_with("reminder:") => "Relance envoyée".into(),
        other => match wf {
            Some(wf) => wf
                .transitions
                .iter()
                .find(|t| t.id.as_str() == other)
                .map_or_else(
                    || "Étape du circuit d'instruction".to_string(),
                    |t| t.label.clone(),
                ),
            None => "Étape du circuit d'instruction".into(),
        },
    }
}

/// Staff see who acted; applicants see the role (staff names are not theirs to know).
fn actor_fr(who: &Principal, actor: &str, role: &str) -> String {
    let role_label = RoleKind::parse(role).map_or_else(
        || {
            if role == "system" {
                "traitement automatique".to_string()
            } else {
                role.to_string()
            }
        },
        |r| role_fr(r).to_string(),
    );
    if who.role == RoleKind::Applicant || role == "system" {
        role_label
    } else {
        format!("{actor} ({role_label})")
    }
}

#[tracing::instrument(skip(s, v, mp))]
pub async fn pieces(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<String>,
    mp: Multipart,
) -> Result<Response, PageError> {
    let who = v.require(&[RoleKind::Applicant])?;
    let (posted, files) = read_multipart(mp, s.config.upload_limit, &v).await?;
    v.check_csrf(field(&posted, CSRF_FIELD))?;
    let view = s.ctx.get(&who, &id).await?;
    if view.fund_status == Presence::Removed {
        return refuse_removed(&s, &v, &who, &id).await;
    }
    let p = served(&s, &view.plan)?;
    let fund = p.plan.fund(&view.fund).ok_or_else(PageError::not_found)?;
    let bad = check_pieces(fund, &files);
    if !bad.is_empty() {
        let msg = bad
            .iter()
            .map(|(k, m)| format!("{} : {m}", label_of(fund, k)))
            .collect::<Vec<_>>()
            .join(" ; ");
        return page_with_error(&s, &v, &who, &id, StatusCode::UNPROCESSABLE_ENTITY, &msg).await;
    }
    if files.is_empty() {
        return page_with_error(
            &s,
            &v,
            &who,
            &id,
            StatusCode::UNPROCESSABLE_ENTITY,
            "Choisissez au moins un fichier.",
        )
        .await;
    }
    for (kind, bytes, name) in files {
        if let Err(e) = s
            .ctx
            .upload(&who, &id, &kind, &bytes, name, &s.config.documents, None)
            .await
        {
            let (status, msg) = super::layout::refusal_fr(&e);
            return page_with_error(&s, &v, &who, &id, status, &msg).await;
        }
    }
    Ok(Redirect::to(&format!("/dossiers/{id}?fait=pieces")).into_response())
}

#[tracing::instrument(skip(s, v))]
pub async fn download(
    State(s): State<AppState>,
    v: Viewer,
    Path((id, kind)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let who = v.require(&RoleKind::ALL)?;
    let (sha, media, name) = s.ctx.document(&who, &id, &kind).await?;
    let path = crate::documents::path_of(&s.config.documents, &sha);
    let bytes = tokio::fs::read(&path).await.map_err(|e| {
        PageError::from(Error::Internal(anyhow::anyhow!(
            "piece {kind} of {id}: {}: {e}",
            path.display()
        )))
    })?;
    let file = name
        .unwrap_or_else(|| format!("{kind}.bin"))
        .replace(['"', '\\', '\r', '\n'], "_");
    let mut res = bytes.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&media)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"{}\"",
        file.escape_default()
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

#[tracing::instrument(skip(s, v, f))]
pub async fn reevaluate(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<String>,
    WebForm(f): WebForm,
) -> Result<Response, PageError> {
    let who = v.require(&[RoleKind::Instructor, RoleKind::Admin])?;
    v.check_csrf(field(&f, CSRF_FIELD))?;
    let version = version_of(&f)?;
    let reason = field(&f, "motif")
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_string);
    if reason.is_none() {
        return page_with_error(
            &s,
            &v,
            &who,
            &id,
            StatusCode::UNPROCESSABLE_ENTITY,
            "Indiquez le motif de la réévaluation.",
        )
        .await;
    }
    match s.ctx.reevaluate(&who, &id, Some(version), reason).await {
        Ok(_) => Ok(Redirect::to(&format!("/dossiers/{id}?fait=reevalue")).into_response()),
        Err(e @ (Error::NotFound(_) | Error::Internal(_))) => Err(e.into()),
        Err(e) => {
            let (status, msg) = super::layout::refusal_fr(&e);
            page_with_error(&s, &v, &who, &id, status, &msg).await
        }
    }
}
