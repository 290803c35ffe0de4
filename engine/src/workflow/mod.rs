//! Workflow vocabulary and decisions. Plans name guards from this list; a plan cannot
//! invent a guard, so a typo is caught at load. [`decide`] says whether an actor may take a
//! transition given what the server knows of the application: pure logic, no I/O, so that
//! every rule of the approval circuit is tested here and the server only gathers facts and
//! stores the result.

use jiff::civil::Date;
use rust_decimal::Decimal;

use crate::model::{Fund, Plan, RoleKind, Transition, Workflow};
use crate::rules::Outcome;

mod guards;

pub use guards::{Guard, PARAM_ADVANCE_RATE, PARAM_MIN_OPINIONS};

/// The role of automatic steps (eligibility check on filing, deadline expiry).
pub const SYSTEM_ROLE: &str = "system";

/// Who asks for a transition.
#[derive(Debug, Clone)]
pub struct Actor<'a> {
    /// Stable name of the person or service (a token's name).
    pub name: &'a str,
    /// `None` for metroplan itself (automatic steps).
    pub kind: Option<RoleKind>,
}

impl Actor<'_> {
    pub const SYSTEM: Actor<'static> = Actor {
        name: SYSTEM_ROLE,
        kind: None,
    };
}

/// What the server knows of an application when a transition is asked for.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub state: String,
    /// The name of who created the application.
    pub owner: String,
    /// The names of the people who took an instructor's transition on it.
    pub instructors: Vec<String>,
    /// The names of the reviewers who gave an opinion.
    pub reviewers: Vec<String>,
    pub outcome: Option<Outcome>,
    /// The amount the eligibility rules accepted (the requested amount of an eligible
    /// application).
    pub requested: Option<Decimal>,
    pub awarded: Option<Decimal>,
    pub paid: Decimal,
    /// End of the completion deadline (inclusive), in the plan's time zone.
    pub deadline: Option<Date>,
    /// Today in the plan's time zone.
    pub today: Date,
    /// Whether the call of the application is open today (plan's time zone).
    pub call_open: bool,
    /// Other applications of the same applicant to the same call.
    pub other_filings: u32,
    /// What remains of the envelope of the application's year.
    pub envelope_remaining: Option<Decimal>,
    /// Whether the final report was filed.
    pub final_report: bool,
}

/// What the actor sends with the transition.
#[derive(Debug, Clone, Default)]
pub struct Input {
    pub amount: Option<Decimal>,
    pub reason: Option<String>,
    /// For reviewers: `Some(false)` declares no link with the applicant, `Some(true)` a link.
    pub linked: Option<bool>,
    pub signed_on: Option<Date>,
}

/// What the transition does beyond changing the state, for the server to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// An award is decided: commit this amount on the envelope of the application's year.
    Award(Decimal),
    /// A payment of this amount.
    Payment(Decimal),
}

/// A transition that may be taken.
#[derive(Debug, Clone)]
pub struct Decision<'w> {
    pub transition: &'w Transition,
    pub effects: Vec<Effect>,
}

/// Why a transition is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("workflow `{workflow}` has no transition `{action}`")]
    UnknownAction { workflow: String, action: String },
    #[error("transition `{action}` cannot be taken from state `{state}` (it goes from {from})")]
    WrongState {
        action: String,
        state: String,
        from: String,
    },
    #[error("transition `{action}` is for the role `{role}`")]
    WrongRole { action: String, role: String },
    #[error("only the applicant who created this application may take `{action}`")]
    NotOwner { action: String },
    #[error("guard `{guard}` refused `{action}`: {message}")]
    Guard {
        action: String,
        guard: String,
        /// The input field at fault, when one is.
        field: Option<&'static str>,
        message: String,
    },
}

/// Whether `actor` may take `action` on an application with `facts`, and what it does.
pub fn decide<'w>(
    plan: &Plan,
    fund: &Fund,
    wf: &'w Workflow,
    action: &str,
    actor: &Actor<'_>,
    facts: &Facts,
    input: &Input,
) -> Result<Decision<'w>, Refusal> {
    let Some(t) = wf.transitions.iter().find(|t| t.id.as_str() == action) else {
        return Err(Refusal::UnknownAction {
            workflow: wf.id.to_string(),
            action: action.to_string(),
        });
    };
    if !t.from.iter().any(|s| s.as_str() == facts.state) {
        return Err(Refusal::WrongState {
            action: action.to_string(),
            state: facts.state.clone(),
            from: t
                .from
                .iter()
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    let wanted = if t.role.as_str() == SYSTEM_ROLE {
        None
    } else {
        plan.role_kind_of(t)
    };
    let allowed = match (t.role.as_str() == SYSTEM_ROLE, actor.kind) {
        (true, None) => true,
        (false, Some(k)) => wanted == Some(k),
        _ => false,
    };
    if !allowed {
        return Err(Refusal::WrongRole {
            action: action.to_string(),
            role: t.role.to_string(),
        });
    }
    if actor.kind == Some(RoleKind::Applicant) && actor.name != facts.owner {
        return Err(Refusal::NotOwner {
            action: action.to_string(),
        });
    }
    let day = facts.today;
    let param = |id: &str| {
        fund.parameters
            .iter()
            .find(|p| p.id.as_str() == id)
            .and_then(|p| p.values.at(day))
            .map(|d| d.value)
    };
    let mut effects = Vec::new();
    for &g in &t.guards {
        let refuse = |field: Option<&'static str>, message: String| Refusal::Guard {
            action: action.to_string(),
            guard: g.to_string(),
            field,
            message,
        };
        match g {
            Guard::CallOpen if !facts.call_open => {
                return Err(refuse(
                    None,
                    "the call for applications of this year is not open today".into(),
                ));
            }
            Guard::OnePerApplicant if facts.other_filings > 0 => {
                return Err(refuse(
                    None,
                    "this applicant already filed an application to this call".into(),
                ));
            }
            Guard::Eligible | Guard::Ineligible | Guard::Incomplete => {
                let want = match g {
                    Guard::Eligible => Outcome::Eligible,
                    Guard::Ineligible => Outcome::Ineligible,
                    _ => Outcome::Incomplete,
                };
                if facts.outcome != Some(want) {
                    return Err(refuse(
                        None,
                        format!("the eligibility check did not conclude `{}`", want.name()),
                    ));
                }
            }
            Guard::CompletionInTime if facts.deadline.is_some_and(|d| day > d) => {
                return Err(refuse(
                    None,
                    format!(
                        "the completion deadline ({}) has passed",
                        facts.deadline.map(|d| d.to_string()).unwrap_or_default()
                    ),
                ));
            }
            Guard::CompletionOverdue if facts.deadline.is_none_or(|d| day <= d) => {
                return Err(refuse(
                    None,
                    "the completion deadline has not passed".into(),
                ));
            }
            Guard::ConflictDeclared if input.linked.is_none() => {
                return Err(refuse(
                    Some("linked"),
                    "declare your links of interest with the applicant (`linked`: true or false)"
                        .into(),
                ));
            }
            Guard::NoConflictOfInterest if input.linked == Some(true) => {
                return Err(refuse(
                    Some("linked"),
                    "a reviewer linked to the applicant does not give an opinion on this application"
                        .into(),
                ));
            }
            Guard::NoConflictOfInterest if facts.reviewers.iter().any(|r| r == actor.name) => {
                return Err(refuse(
                    None,
                    "you have already given an opinion on this application".into(),
                ));
            }
            Guard::MinOpinionsReached => {
                let min = param(PARAM_MIN_OPINIONS).unwrap_or(Decimal::ONE);
                if Decimal::from(facts.reviewers.len() as u64) < min {
                    return Err(refuse(
                        None,
                        format!(
                            "{} opinion(s) given, at least {min} needed",
                            facts.reviewers.len()
                        ),
                    ));
                }
            }
            Guard::NotFiler if actor.name == facts.owner => {
                return Err(refuse(
                    None,
                    "nobody acts on an application they filed".into(),
                ));
            }
            Guard::NotInstructor if facts.instructors.iter().any(|i| i == actor.name) => {
                return Err(refuse(
                    None,
                    "nobody decides on an application they instructed".into(),
                ));
            }
            Guard::AmountWithinRequest | Guard::AmountWithinCeiling | Guard::WithinEnvelope => {
                let Some(amount) = input.amount else {
                    return Err(refuse(Some("amount"), "give the amount awarded".into()));
                };
                if amount <= Decimal::ZERO || amount.normalize().scale() > 2 {
                    return Err(refuse(
                        Some("amount"),
                        "the amount is a positive sum in euros with at most 2 decimals".into(),
                    ));
                }
                let limit = match g {
                    Guard::WithinEnvelope => facts.envelope_remaining,
                    _ => facts.requested,
                };
                let limit = limit.unwrap_or(Decimal::ZERO);
                if amount > limit {
                    let what = match g {
                        Guard::AmountWithinRequest => "the amount requested",
                        Guard::AmountWithinCeiling => "the amount the eligibility rules accepted",
                        _ => "what remains of the year's envelope",
                    };
                    return Err(refuse(
                        Some("amount"),
                        format!("{amount} € is above {what}: {limit} €"),
                    ));
                }
                if !effects.contains(&Effect::Award(amount)) {
                    effects.push(Effect::Award(amount));
                }
            }
            Guard::ReasonGiven if input.reason.as_deref().is_none_or(|r| r.trim().is_empty()) => {
                return Err(refuse(Some("reason"), "write the reason".into()));
            }
            Guard::AgreementSigned if input.signed_on.is_none_or(|d| d > day) => {
                return Err(refuse(
                    Some("signed_on"),
                    "give the date the agreement was signed (not in the future)".into(),
                ));
            }
            Guard::FinalReportReceived if !facts.final_report => {
                return Err(refuse(None, "the final report was not received".into()));
            }
            Guard::PaymentsWithinAward => {
                let awarded = facts.awarded.unwrap_or(Decimal::ZERO);
                let due = awarded - facts.paid;
                // The first payment is the advance when the fund has a rate for it.
                let default = match param(PARAM_ADVANCE_RATE) {
                    Some(rate) if facts.paid.is_zero() => (awarded * rate).round_dp(2),
                    _ => due,
                };
                let amount = input.amount.unwrap_or(default);
                if amount <= Decimal::ZERO || amount > due {
                    return Err(refuse(
                        Some("amount"),
                        format!(
                            "a payment of {amount} € would exceed the award: {awarded} € awarded, {} € paid",
                            facts.paid
                        ),
                    ));
                }
                effects.push(Effect::Payment(amount));
            }
            Guard::FullyPaid if facts.awarded.is_none_or(|a| facts.paid < a) => {
                return Err(refuse(
                    None,
                    format!(
                        "{} € paid of {} € awarded",
                        facts.paid,
                        facts.awarded.unwrap_or_default()
                    ),
                ));
            }
            // The guard holds: each arm above refuses only when its condition fails.
            Guard::CallOpen
            | Guard::OnePerApplicant
            | Guard::CompletionInTime
            | Guard::CompletionOverdue
            | Guard::ConflictDeclared
            | Guard::NoConflictOfInterest
            | Guard::NotFiler
            | Guard::NotInstructor
            | Guard::ReasonGiven
            | Guard::AgreementSigned
            | Guard::FinalReportReceived
            | Guard::FullyPaid => {}
        }
    }
    Ok(Decision {
        transition: t,
        effects,
    })
}

/// The transition that files an application: the applicant's way out of the initial state.
pub fn filing<'w>(plan: &Plan, wf: &'w Workflow) -> Option<&'w Transition> {
    wf.transitions
        .iter()
        .find(|t| plan.role_kind_of(t) == Some(RoleKind::Applicant) && t.from.contains(&wf.initial))
}

/// The applicant's transition out of `state` that sends the file back to the eligibility
/// check (completing an incomplete file), if the workflow has one.
pub fn completion<'w>(plan: &Plan, wf: &'w Workflow, state: &str) -> Option<&'w Transition> {
    if state == wf.initial.as_str() {
        return None;
    }
    wf.transitions.iter().find(|t| {
        plan.role_kind_of(t) == Some(RoleKind::Applicant)
            && t.from.iter().any(|f| f.as_str() == state)
            && checks_eligibility(wf, t.to.as_str())
    })
}

/// The automatic transitions out of `state` (taken by metroplan itself, in plan order).
pub fn automatic<'w>(wf: &'w Workflow, state: &str) -> impl Iterator<Item = &'w Transition> {
    wf.transitions.iter().filter(move |t| {
        t.role.as_str() == SYSTEM_ROLE && t.from.iter().any(|f| f.as_str() == state)
    })
}

/// Whether entering `state` calls for the eligibility check (an automatic transition out of it
/// depends on its outcome).
pub fn checks_eligibility(wf: &Workflow, state: &str) -> bool {
    automatic(wf, state).any(|t| t.guards.iter().any(|g| g.reads_eligibility()))
}
