//! What a decision needs, first on a file's page for staff (the eligibility verdict, the
//! instructor's proposal, the score out of the grid's total with each criterion's points and
//! maximum, each opinion by its reviewer's name, the declarations of interest, what remains
//! of the year's envelope), and for the applicant, after filing, the receipt and what
//! happens next.

use std::collections::HashMap;

use maud::{Markup, html};
use metroplan_engine::model::{Plan, RoleKind, Workflow};
use rust_decimal::Decimal;
use serde_json::Value;

use super::super::layout::{day, euros_str, instant};
use super::tone::{Tone, badge};
use crate::audit::Event;
use crate::service::{ApplicationView, EnvelopeView, OpinionView};

/// One criterion of the selection grid as the file stands: its points (the rules' for the
/// automatic ones, the reviewers' average for the others; `None` while nobody scored it) and
/// its maximum.
#[derive(Debug, Clone)]
pub struct ScoreLine {
    pub label: String,
    pub points: Option<Decimal>,
    pub max: Decimal,
    pub by_reviewers: bool,
}

/// The file's score on the grid.
#[derive(Debug, Clone)]
pub struct Score {
    pub lines: Vec<ScoreLine>,
    pub total: Decimal,
    pub out_of: Decimal,
    /// The opinions whose points are averaged.
    pub opinions: usize,
}

fn decimal(v: &Value) -> Option<Decimal> {
    match v {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.to_string().parse().ok(),
        _ => None,
    }
}

/// The score from the evaluation recorded at filing (the grid's criteria, their maxima at the
/// filing date, the automatic points) and the reviewers' opinions (their points averaged over
/// the opinions that scored the criterion).
pub fn score(evaluation: &Value, opinions: &[OpinionView]) -> Option<Score> {
    let s = evaluation.get("score")?;
    let criteria = s.get("criteria")?.as_array()?;
    let scored: Vec<&OpinionView> = opinions
        .iter()
        .filter(|o| !o.declared_link && o.scores.as_object().is_some_and(|m| !m.is_empty()))
        .collect();
    let mut lines = Vec::new();
    for c in criteria {
        let id = c.get("id").and_then(Value::as_str).unwrap_or_default();
        let by_reviewers = c.get("assessed").and_then(Value::as_str) == Some("reviewer");
        let points = if by_reviewers {
            let given: Vec<Decimal> = scored
                .iter()
                .filter_map(|o| o.scores.get(id).and_then(decimal))
                .collect();
            (!given.is_empty())
                .then(|| (given.iter().sum::<Decimal>() / Decimal::from(given.len())).round_dp(1))
        } else {
            c.get("points").and_then(decimal)
        };
        lines.push(ScoreLine {
            label: c
                .get("label")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            points,
            max: c.get("max").and_then(decimal).unwrap_or_default(),
            by_reviewers,
        });
    }
    Some(Score {
        total: lines.iter().filter_map(|l| l.points).sum(),
        out_of: s.get("total").and_then(decimal).unwrap_or_default(),
        lines,
        opinions: scored.len(),
    })
}

/// Points as French writes them: `12`, `12,5`.
pub fn points_fr(d: Decimal) -> String {
    d.round_dp(1).normalize().to_string().replace('.', ",")
}

/// The eligibility verdict of the check recorded at filing.
pub fn verdict_fr(outcome: &str) -> (&'static str, Tone) {
    match outcome {
        "eligible" => ("éligible", Tone::Favourable),
        "ineligible" => (
            "non éligible\u{a0}: demande irrecevable",
            Tone::Unfavourable,
        ),
        "incomplete" => ("à compléter", Tone::Waiting),
        _ => ("pas encore contrôlé", Tone::Neutral),
    }
}

/// The instructor's proposal: the last step an instructor took that moved the file (its
/// transition's label, who, when, and the amount or reason it carried).
pub struct Proposal<'a> {
    pub label: String,
    pub by: String,
    pub at: &'a str,
    pub amount: Option<String>,
    pub reason: Option<&'a str>,
}

pub fn proposal<'a>(
    wf: &Workflow,
    events: &'a [Event],
    names: &HashMap<String, String>,
) -> Option<Proposal<'a>> {
    let e = events.iter().rev().find(|e| {
        RoleKind::parse(&e.role) == Some(RoleKind::Instructor)
            && e.from_state.is_some()
            && e.from_state != e.to_state
            && wf.transitions.iter().any(|t| t.id.as_str() == e.action)
    })?;
    let t = wf.transitions.iter().find(|t| t.id.as_str() == e.action)?;
    Some(Proposal {
        label: t.label.clone(),
        by: names
            .get(&e.actor)
            .cloned()
            .or_else(|| e.actor_name.clone())
            .unwrap_or_else(|| "l'instruction".into()),
        at: &e.at,
        amount: e
            .payload
            .get("amount")
            .and_then(Value::as_str)
            .map(euros_str),
        reason: e.reason.as_deref(),
    })
}

/// What a reviewer declared about links of interest when giving their opinion (from the
/// audit trail, where the declaration is recorded with the opinion). Events written before
/// identities were ids name the reviewer by their label.
pub fn linked_fr(events: &[Event], o: &OpinionView) -> &'static str {
    let declared = events
        .iter()
        .rev()
        .filter(|e| e.actor == o.reviewer || (!e.actor.contains(':') && e.actor == o.reviewer_name))
        .find_map(|e| e.payload.get("linked").and_then(Value::as_bool));
    match declared {
        Some(true) => "oui",
        Some(false) => "non",
        None => "non déclaré",
    }
}

/// What the staff summary shows, gathered by the page.
pub struct Staff<'a> {
    pub view: &'a ApplicationView,
    pub plan: &'a Plan,
    pub wf: &'a Workflow,
    pub fund_title: &'a str,
    pub evaluation: Option<&'a Value>,
    pub opinions: &'a [OpinionView],
    pub events: &'a [Event],
    pub names: &'a HashMap<String, String>,
    pub envelope: Option<&'a EnvelopeView>,
    pub tz: &'a jiff::tz::TimeZone,
}

/// The summary a decision needs, compact enough to sit above the fold at 1366 × 900 with
/// the page's heading.
pub fn staff(x: &Staff<'_>) -> Markup {
    let view = x.view;
    let tone = super::tone::state_tone(x.plan, x.wf, &view.state);
    let outcome = x
        .evaluation
        .and_then(|e| e.get("evaluation"))
        .and_then(|e| e.get("outcome"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    let (verdict, verdict_tone) = verdict_fr(outcome);
    let score = x
        .evaluation
        .and_then(|e| e.get("evaluation"))
        .and_then(|e| score(e, x.opinions));
    let proposal = proposal(x.wf, x.events, x.names);
    let name_of = |o: &OpinionView| {
        x.names
            .get(&o.reviewer)
            .cloned()
            .unwrap_or_else(|| o.reviewer_name.clone())
    };
    let given: Vec<&OpinionView> = x.opinions.iter().filter(|o| !o.declared_link).collect();
    let declared: Vec<&OpinionView> = x.opinions.iter().filter(|o| o.declared_link).collect();
    let favourable = given.iter().filter(|o| o.favourable == Some(true)).count();
    html! {
        section.resume id="resume" aria-labelledby="resume-titre" {
            h2.visually-hidden id="resume-titre" { "Synthèse du dossier" }
            div.resume-grille {
                div.resume-bloc {
                    dl.fiche.resume-fiche {
                        dt { "État" } dd { (badge(tone, &view.state, &super::super::layout::file_state_label(view))) }
                        @if let Some(n) = &view.applicant_name { dt { "Porteur" } dd { (n) } }
                        dt { "Fonds" } dd { a href={"/plans/" (view.plan) "/fonds/" (view.fund)} { (x.fund_title) } @if let Some(c) = view.call { ", appel " (c) } }
                        @if let Some(d) = &view.filed_on { dt { "Déposé le" } dd { (day(d)) } }
                        dt { "Éligibilité" } dd { strong class=(verdict_tone.class()) { (verdict) } }
                        @if let Some(r) = &view.requested { dt { "Montant demandé" } dd { (euros_str(r)) } }
                        dt { "Proposition" }
                        dd {
                            @match &proposal {
                                Some(p) => {
                                    (p.label)
                                    @if let Some(a) = &p.amount { "\u{a0}: " strong { (a) } }
                                    span.discret { " (" (p.by) ", " (instant(p.at, x.tz)) ")" }
                                    @if let Some(r) = p.reason { br; "Motif\u{a0}: " (r) }
                                }
                                None => { "pas encore de proposition de l'instruction" }
                            }
                        }
                        @if let Some(a) = &view.awarded { dt { "Montant attribué" } dd { strong { (euros_str(a)) } } }
                        @if view.paid != "0" && view.paid != "0.00" { dt { "Versé" } dd { (euros_str(&view.paid)) } }
                        @if let Some(e) = x.envelope {
                            dt { "Enveloppe " (e.year) }
                            dd { "reste " strong.reste { (euros_str(&e.remaining)) } " sur " (euros_str(&e.envelope)) }
                        }
                        @if let Some(d) = &view.deadline { dt { "À compléter avant le" } dd { strong { (day(d)) } } }
                        @if let Some(d) = &view.decided_on { dt { "Décidé le" } dd { (day(d)) } }
                    }
                }
                div.resume-bloc {
                    @if let Some(s) = &score {
                        table.notes {
                            caption {
                                "Note\u{a0}: " strong.total { (points_fr(s.total)) " sur " (points_fr(s.out_of)) }
                                span.discret {
                                    @if s.opinions == 0 { " (aucun avis noté)" }
                                    @else if s.opinions == 1 { " (notes d'un avis)" }
                                    @else { " (moyenne de " (s.opinions) " avis)" }
                                }
                            }
                            thead { tr { th scope="col" { "Critère" } th.nombre scope="col" { "Points" } th.nombre scope="col" { "Sur" } } }
                            tbody {
                                @for l in &s.lines {
                                    tr {
                                        th scope="row" { (l.label) @if l.by_reviewers { span.discret { " (comité)" } } }
                                        td.nombre { @match l.points { Some(p) => { (points_fr(p)) } None => { "à noter" } } }
                                        td.nombre { (points_fr(l.max)) }
                                    }
                                }
                            }
                        }
                    } @else {
                        p { "Ce fonds n'a pas de grille de sélection." }
                    }
                }
                div.resume-bloc {
                    h3 { "Avis du comité" }
                    @if given.is_empty() && declared.is_empty() {
                        p { "Aucun avis pour l'instant." }
                    } @else {
                        p.decompte { (super::super::layout::count_fr(favourable, "avis favorable", "avis favorables")) " sur " (super::super::layout::count_fr(given.len(), "avis", "avis")) }
                        ul.avis-resume {
                            @for o in &given {
                                li {
                                    strong { (name_of(o)) } "\u{a0}: "
                                    @match o.favourable {
                                        Some(true) => { span.ton-favorable { "favorable" } }
                                        Some(false) => { span.ton-defavorable { "défavorable" } }
                                        None => { "avis sans sens indiqué" }
                                    }
                                    span.discret { " · lien d'intérêt\u{a0}: " (linked_fr(x.events, o)) }
                                }
                            }
                            @for o in &declared {
                                li { strong { (name_of(o)) } "\u{a0}: lien d'intérêt déclaré, écarté du dossier" }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// After filing, for the applicant: the receipt (the day it was filed, the receipt letter)
/// and what happens next (the steps that can follow, the deadline to complete, what happens
/// on which day if nobody acts).
pub fn receipt(
    plan: &Plan,
    wf: &Workflow,
    view: &ApplicationView,
    pending: &[(String, String)],
) -> Markup {
    let Some(filed) = &view.filed_on else {
        return html! {};
    };
    let letter = view
        .letters
        .first()
        .filter(|l| l.issued_on.as_str() >= &filed[..filed.len().min(10)]);
    let state = wf.states.iter().find(|s| s.id.as_str() == view.state);
    let terminal = state.is_some_and(|s| s.terminal);
    let applicant_step = |t: &&metroplan_engine::model::Transition| {
        plan.role_kind_of(t) == Some(RoleKind::Applicant)
    };
    let mut next: Vec<String> = Vec::new();
    // What moves the file forward first, the destructive outcomes last.
    let mut steps: Vec<&metroplan_engine::model::Transition> = wf
        .transitions
        .iter()
        .filter(|t| t.from.iter().any(|f| f.as_str() == view.state))
        .filter(|t| t.to.as_str() != view.state && t.timer.is_none() && !applicant_step(t))
        .collect();
    steps.sort_by_key(|t| super::tone::rank(wf, t));
    for t in steps {
        if let Some(s) = wf.states.iter().find(|s| s.id == t.to)
            && !next.contains(&s.label)
        {
            next.push(s.label.clone());
        }
    }
    let completing = metroplan_engine::workflow::completion(plan, wf, &view.state).is_some();
    // The applicant's own way forward (the final report, say), never a withdrawal.
    let own: Vec<&metroplan_engine::model::Transition> = wf
        .transitions
        .iter()
        .filter(|t| t.from.iter().any(|f| f.as_str() == view.state))
        .filter(|t| applicant_step(t) && !t.data && !super::tone::needs_confirmation(wf, t))
        .collect();
    // Beside it, staff steps that would undo the file are not "what comes next".
    if !own.is_empty() {
        next.retain(|label| {
            wf.transitions.iter().any(|t| {
                t.from.iter().any(|f| f.as_str() == view.state)
                    && !applicant_step(&t)
                    && t.timer.is_none()
                    && !super::tone::destructive(wf, t)
                    && wf.states.iter().any(|s| s.id == t.to && &s.label == label)
            })
        });
    }
    let label_of = |id: &str| {
        wf.transitions
            .iter()
            .find(|t| t.id.as_str() == id)
            .map(|t| t.label.clone())
    };
    html! {
        section.accuse aria-labelledby="accuse-titre" {
            h2 id="accuse-titre" { "Accusé de réception" }
            p { "Votre dossier a été déposé le " strong { (day(filed)) } "." }
            @if let Some(l) = letter {
                p { a href={"/dossiers/" (view.id) "/courriers/" (l.id)} download { "Télécharger l'accusé de réception" } " (PDF, " (l.size / 1024 + 1) "\u{a0}Ko)" }
            }
            @if !terminal {
                h3 { "Et maintenant\u{a0}?" }
                ul.suite {
                    li { "Votre dossier est à l'étape\u{a0}: " strong { (super::super::layout::file_state_label(view)) } "." }
                    @if completing {
                        li {
                            "Complétez-le"
                            @if let Some(d) = &view.deadline { " au plus tard le " strong { (day(d)) } }
                            "\u{a0}: ajoutez les pièces qui manquent ci-dessous, puis utilisez «\u{a0}" (metroplan_engine::workflow::completion(plan, wf, &view.state).map(|t| t.label.as_str()).unwrap_or_default()) "\u{a0}»."
                        }
                    } @else {
                        @for t in &own {
                            @let required: Vec<&str> = t.pieces.iter().filter(|p| p.required).map(|p| p.label.as_str()).collect();
                            li {
                                "À vous d'agir\u{a0}: «\u{a0}" (t.label) "\u{a0}», avec le formulaire ci-dessous"
                                @if !required.is_empty() { " (pièces à joindre\u{a0}: " (metroplan_engine::french::list_fr(&required)) ")" }
                                "."
                            }
                        }
                        @if !next.is_empty() {
                            li { "L'étape suivante\u{a0}: " (or_list(&next)) "." }
                        }
                    }
                    @for (t, on) in pending {
                        @if let Some(l) = label_of(t) {
                            li { "Le " strong { (day(on)) } ", sans autre intervention d'ici là\u{a0}: " (l) "." }
                        }
                    }
                    li { "L'avancement du dossier et les courriers de l'administration s'affichent sur cette page." }
                }
            }
        }
    }
}

/// `a`, `a ou b`, `a, b ou c`.
fn or_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} ou {last}", init.join(", ")),
    }
}
