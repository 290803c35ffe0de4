//! How a state and a step read for people, decided from what the workflow declares (the
//! effects on money, the guards, which states are final, which state the applicant must
//! complete), never from ids: whether a state is favourable to the applicant, which steps
//! are destructive, which need a confirmation, and the order steps are offered in. Pages
//! colour and order by it; letters and emails may too.

use crate::model::{MoneyEffect, Plan, Transition, Workflow};

use super::{Guard, completion};

/// What a state means for the file's applicant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Awarded, paid, or on the way from an award to its payment.
    Favourable,
    /// Refused, inadmissible, withdrawn, lapsed, closed without follow-up, reclaimed.
    Unfavourable,
    /// The applicant has to act (an incomplete file to complete).
    Waiting,
    /// Being processed.
    Neutral,
}

/// A step that takes something away: it must be motivated (a reason is required), or it
/// reduces, releases or reclaims money.
pub fn takes_away(t: &Transition) -> bool {
    t.guards.contains(&Guard::ReasonGiven)
        || t.effects.iter().any(|e| {
            matches!(
                e,
                MoneyEffect::Reduce | MoneyEffect::Release | MoneyEffect::Reclaim
            )
        })
}

/// A step that grants or pays.
pub fn grants(t: &Transition) -> bool {
    t.effects.iter().any(|e| {
        matches!(
            e,
            MoneyEffect::Award | MoneyEffect::Advance { .. } | MoneyEffect::Balance
        )
    })
}

fn terminal(wf: &Workflow, state: &str) -> bool {
    wf.states
        .iter()
        .any(|s| s.id.as_str() == state && s.terminal)
}

/// The states on the favourable path: entered by a step that grants or pays, or from such a
/// state by a step that takes nothing away (signing the agreement, the final report, closing
/// a file paid in full).
fn favourable_states(wf: &Workflow) -> Vec<&str> {
    let mut out: Vec<&str> = wf
        .transitions
        .iter()
        .filter(|t| grants(t))
        .map(|t| t.to.as_str())
        .collect();
    loop {
        let more: Vec<&str> = wf
            .transitions
            .iter()
            .filter(|t| !takes_away(t) && !out.contains(&t.to.as_str()))
            .filter(|t| t.from.iter().any(|f| out.contains(&f.as_str())))
            .map(|t| t.to.as_str())
            .collect();
        if more.is_empty() {
            return out;
        }
        out.extend(more);
    }
}

/// What `state` means for the applicant.
pub fn state_tone(plan: &Plan, wf: &Workflow, state: &str) -> Tone {
    if favourable_states(wf).contains(&state) {
        return Tone::Favourable;
    }
    if terminal(wf, state) {
        return Tone::Unfavourable;
    }
    // Entered only by steps that take something away (a reclaim asked for).
    let mut into = wf
        .transitions
        .iter()
        .filter(|t| t.to.as_str() == state && !t.from.iter().any(|f| f.as_str() == state))
        .peekable();
    if into.peek().is_some() && into.all(takes_away) {
        return Tone::Unfavourable;
    }
    if completion(plan, wf, state).is_some() {
        return Tone::Waiting;
    }
    Tone::Neutral
}

/// A step that ends badly for the applicant or cannot be undone without an award: styled as
/// dangerous.
pub fn destructive(wf: &Workflow, t: &Transition) -> bool {
    takes_away(t)
        || (terminal(wf, t.to.as_str()) && !favourable_states(wf).contains(&t.to.as_str()))
}

/// A step asked for again before it is carried out: a destructive one, or one after which
/// the file is final.
pub fn needs_confirmation(wf: &Workflow, t: &Transition) -> bool {
    destructive(wf, t) || terminal(wf, t.to.as_str())
}

/// The order actions are offered in: what moves the file forward (a grant first), then the
/// other steps, then the final ones, the destructive ones last.
pub fn rank(wf: &Workflow, t: &Transition) -> u8 {
    if destructive(wf, t) {
        3
    } else if terminal(wf, t.to.as_str()) {
        2
    } else if grants(t) || favourable_states(wf).contains(&t.to.as_str()) {
        0
    } else {
        1
    }
}
