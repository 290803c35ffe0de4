//! What a decision needs, first on a file's page for staff (the eligibility verdict, the
//! instructor's proposal, the score out of the grid's total with each criterion's points and
//! maximum, each opinion by its reviewer's name, the declarations of interest, what remains
//! of the year's envelope), and for the applicant, after filing, the receipt and what
//! happens next.

use std::collections::HashMap;

use maud::{Markup, html};
use metroplan_engine::model::{MoneyEffect, Plan, RoleKind, Workflow};
use metroplan_engine::rules::standing::{Standing, standing};
use rust_decimal::Decimal;
use serde_json::Value;

use super::super::layout::{day, euros_str, instant};
use super::tone::{Tone, badge};
use crate::audit::Event;
use crate::service::{ApplicationView, EnvelopeView, OpinionView};

/// The file's score on the grid, from the evaluation recorded at filing and the opinions of
/// reviewers who gave one (a declared link keeps a reviewer out).
pub fn score(evaluation: &Value, opinions: &[OpinionView]) -> Option<Standing> {
    standing(
        evaluation,
        opinions
            .iter()
            .filter(|o| !o.declared_link)
            .map(|o| &o.scores),
    )
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
    /// The amount proposed, as a number (the award's form starts from it).
    pub value: Option<Decimal>,
    pub reason: Option<&'a str>,
}

pub fn proposal<'a>(
    wf: &Workflow,
    events: &'a [Event],
    names: &HashMap<String, String>,
) -> Option<Proposal<'a>> {
    // A proposal is an instructor's step that brings the file to its decision (to a state
    // from which a step awards) or that states an amount; submitting to the committee is not.
    let decides = |state: &str| {
        wf.transitions.iter().any(|t| {
            t.from.iter().any(|f| f.as_str() == state) && t.effects.contains(&MoneyEffect::Award)
        })
    };
    let e = events.iter().rev().find(|e| {
        RoleKind::parse(&e.role) == Some(RoleKind::Instructor)
            && e.from_state.is_some()
            && e.from_state != e.to_state
            && wf.transitions.iter().any(|t| {
                t.id.as_str() == e.action
                    && (decides(t.to.as_str())
                        || e.payload.get("amount").is_some_and(Value::is_string))
            })
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
        value: e
            .payload
            .get("amount")
            .and_then(Value::as_str)
            .and_then(|a| a.parse().ok()),
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
                        dt { "Éligibilité" } dd { strong class=(super::tone::class(verdict_tone)) { (verdict) } }
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
                                    @if s.opinions == 0 && given.is_empty() { " (aucun avis pour l'instant)" }
                                    @else if s.opinions == 0 { " (les avis n'ont pas noté les critères du comité)" }
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
                                li { strong { (name_of(o)) } "\u{a0}: lien d'intérêt déclaré, ne prend pas part à l'avis" }
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
    // A timed step is said by where it leads, not by its own label.
    let label_of = |id: &str| {
        let t = wf.transitions.iter().find(|t| t.id.as_str() == id)?;
        wf.states
            .iter()
            .find(|s| s.id == t.to)
            .map(|s| s.label.clone())
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
                            li { "Le " strong { (day(on)) } ", sans autre intervention d'ici là, le dossier passera à l'étape «\u{a0}" (l) "\u{a0}»." }
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

/// For the applicant, once the file is decided (favourably or not) or closed: what was
/// decided, on which day, by whom, with its reasons, the amount, the notification letter and
/// the appeal routes (a decision of the administration can be contested within two months).
pub fn decision(
    plan: &Plan,
    fund: &metroplan_engine::model::Fund,
    wf: &Workflow,
    view: &ApplicationView,
    events: &[Event],
) -> Markup {
    let tone = super::tone::state_tone(plan, wf, &view.state);
    let terminal = wf
        .states
        .iter()
        .any(|s| s.id.as_str() == view.state && s.terminal);
    if tone != Tone::Unfavourable && !(tone == Tone::Favourable && view.awarded.is_some()) {
        return html! {};
    }
    // The step that brought the file where it is; for a favourable file, the award.
    let step = events.iter().rev().find(|e| {
        e.from_state.is_some()
            && e.from_state != e.to_state
            && match tone {
                Tone::Favourable => wf
                    .transitions
                    .iter()
                    .any(|t| t.id.as_str() == e.action && t.effects.contains(&MoneyEffect::Award)),
                _ => e.to_state.as_deref() == Some(view.state.as_str()),
            }
    });
    let Some(step) = step else {
        return html! {};
    };
    let by_applicant = RoleKind::parse(&step.role) == Some(RoleKind::Applicant);
    // What the applicant did is their step; what was decided is the state it led to.
    let label = if by_applicant {
        wf.transitions
            .iter()
            .find(|t| t.id.as_str() == step.action)
            .map(|t| t.label.clone())
    } else {
        step.to_state
            .as_deref()
            .and_then(|to| wf.states.iter().find(|s| s.id.as_str() == to))
            .map(|s| s.label.clone())
    }
    .unwrap_or_else(|| super::super::layout::file_state_label(view));
    let on = &step.at[..step.at.len().min(10)];
    let letter = view
        .letters
        .iter()
        .rev()
        .find(|l| l.issued_on.as_str() >= on && l.template.starts_with("notification"));
    let authority = fund
        .administration
        .as_ref()
        .map(|a| a.authority.clone())
        .unwrap_or_else(|| "l'administration".into());
    let routes = metroplan_engine::rules::explain::appeal_routes_fr(fund);
    html! {
        section.decision-demandeur aria-labelledby="decision-titre" {
            h2 id="decision-titre" { @if by_applicant { "Votre dossier est clos" } @else { "Décision" } }
            @if by_applicant {
                p { "Le " strong { (day(on)) } ", vous avez choisi\u{a0}: " (label) "." }
                @if terminal { p { "Le dossier ne peut plus être modifié. Vous pouvez déposer une nouvelle demande tant que l'appel à projets est ouvert." } }
            } @else if step.role == "system" {
                p { "Le " strong { (day(on)) } ", sans décision expresse dans le délai prévu par le règlement du fonds\u{a0}: " strong class=(super::tone::class(tone)) { (label) } "." }
            } @else {
                p { "Décision du " strong { (day(on)) } " (" (authority) ")\u{a0}: " strong class=(super::tone::class(tone)) { (label) } "." }
            }
            @if let Some(a) = &view.awarded { @if tone == Tone::Favourable { p { "Montant attribué\u{a0}: " strong { (euros_str(a)) } "." } } }
            @if let Some(r) = &step.reason { p { "Motif\u{a0}: " (r) } }
            @if let Some(l) = letter {
                p { a href={"/dossiers/" (view.id) "/courriers/" (l.id)} download { "Télécharger la notification\u{a0}: " (l.title) } " (PDF, " (l.size / 1024 + 1) "\u{a0}Ko)" }
            }
            @if !by_applicant {
                (routes_markup(&routes))
            }
        }
    }
}

/// The appeal routes' text (a heading, paragraphs, `- ` items) as markup.
fn routes_markup(text: &str) -> Markup {
    let mut blocks: Vec<Markup> = Vec::new();
    let mut items: Vec<&str> = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(i) = line.strip_prefix("- ") {
            items.push(i);
            continue;
        }
        if !items.is_empty() {
            let list = std::mem::take(&mut items);
            blocks.push(html! { ul { @for i in list { li { (i) } } } });
        }
        match line.strip_prefix("## ").or_else(|| line.strip_prefix("# ")) {
            Some(h) => blocks.push(html! { h3 { (h) } }),
            None => blocks.push(html! { p { (line) } }),
        }
    }
    if !items.is_empty() {
        blocks.push(html! { ul { @for i in &items { li { (i) } } } });
    }
    html! { div.voies-recours { @for b in blocks { (b) } } }
}
