//! Workflow vocabulary and decisions. Plans name guards, effects, records, votes, timers and
//! reminders from this vocabulary; a plan cannot invent one, so a typo is caught at load.
//! [`decide`] says whether an actor may take a transition given what the server knows of the
//! application, and what the step does: pure logic, no I/O, so that every rule of the
//! approval circuit is tested here and the server only gathers facts and stores the result.
//! Built-in invariants (the filer takes no staff step, declared separations of duties,
//! payments within the award and the advance within its rate) hold whatever the plan says.

use jiff::civil::Date;
use rust_decimal::Decimal;
use serde_json::Value;

use crate::model::{Fund, Plan, Record, RoleKind, StepPiece, Transition, Workflow};
use crate::rules::Outcome;

pub mod conditions;
mod guards;
mod money;
mod time;
pub mod tone;
pub mod v1;

pub use guards::Guard;
pub use money::{Money, default_amount, vote_holds};
pub use time::{Dates, add_span, reminder_day, reminder_expired, reminders, timer_day, timers};

/// The role of automatic steps (eligibility check on filing, timers).
pub const SYSTEM_ROLE: &str = "system";

/// Who asks for a transition.
#[derive(Debug, Clone)]
pub struct Actor<'a> {
    /// Stable id of the person or service.
    pub id: &'a str,
    /// `None` for metroplan itself (automatic steps).
    pub kind: Option<RoleKind>,
    /// The plan roles the actor holds in the file's plan and fund. Empty: the actor holds
    /// every role of its kind (accounts made before plan roles).
    pub roles: &'a [String],
}

impl Actor<'_> {
    pub const SYSTEM: Actor<'static> = Actor {
        id: SYSTEM_ROLE,
        kind: None,
        roles: &[],
    };
}

/// A reviewer's opinion, as the vote counts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opinion {
    pub reviewer: String,
    pub favourable: bool,
}

/// What the server knows of an application when a transition is asked for.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub state: String,
    /// The id of the account the file belongs to.
    pub owner: String,
    /// Whether the actor holds the file's applicant key (whatever the account that filed).
    pub actor_is_filer: bool,
    /// Who took which transition on the file: (transition id, actor id).
    pub steps: Vec<(String, String)>,
    pub opinions: Vec<Opinion>,
    /// Reviewers who declared a link of interest with the applicant.
    pub declared: Vec<String>,
    pub outcome: Option<Outcome>,
    /// The amount the eligibility rules accepted (the requested amount of an eligible
    /// application).
    pub requested: Option<Decimal>,
    /// The file's ledger.
    pub money: Money,
    /// End of the current state's deadline (inclusive), in the plan's time zone.
    pub deadline: Option<Date>,
    /// Today in the plan's time zone.
    pub today: Date,
    /// Whether the call of the application is open today (plan's time zone).
    pub call_open: bool,
    /// Other applications of the same applicant to the same call.
    pub other_filings: u32,
    /// What remains of the envelope of the application's year.
    pub envelope_remaining: Option<Decimal>,
    /// Whether the final report was received.
    pub final_report: bool,
    /// The kinds of the pieces the file holds.
    pub pieces: Vec<String>,
    /// The application's data as it will be after the step.
    pub data: Value,
}

/// What the actor sends with the transition.
#[derive(Debug, Clone, Default)]
pub struct Input {
    pub amount: Option<Decimal>,
    pub reason: Option<String>,
    /// For reviewers: `Some(false)` declares no link with the applicant, `Some(true)` a link.
    pub linked: Option<bool>,
    /// For reviewers: whether the opinion is favourable.
    pub favourable: Option<bool>,
    pub signed_on: Option<Date>,
    /// Whether new application data comes with the step.
    pub data: bool,
}

/// A ledger entry the step writes, for the server to store in the decision's transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Commit this amount on the envelope of the application's year (the server checks the
    /// envelope in the same statement).
    Commit(Decimal),
    /// Decommit this amount: it returns to the envelope of the award's year.
    Decommit(Decimal),
    Payment(Decimal),
    Reclaim(Decimal),
}

/// What the step records beyond the state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    Opinion {
        favourable: bool,
    },
    /// A reviewer's declared link of interest: final; the file stays where it is.
    Declaration,
    FinalReport,
}

/// A transition that may be taken.
#[derive(Debug, Clone)]
pub struct Decision<'w> {
    pub transition: &'w Transition,
    pub effects: Vec<Effect>,
    pub recorded: Option<Recorded>,
    /// The file does not move (a declaration of interest).
    pub stays: bool,
    /// Each Rhai condition with its result, for the step's record.
    pub conditions: Vec<(String, bool)>,
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
    #[error(
        "transition `{action}` takes no application data: the file's content changes only where the plan says so"
    )]
    DataNotAccepted { action: String },
    /// A guard of the vocabulary, a built-in invariant or a condition does not hold.
    #[error("`{guard}` refused `{action}`: {message}")]
    Guard {
        action: String,
        /// The guard's name, or the built-in check's (`not-filer`, `distinct-from`, `vote`,
        /// `opinion`, `payment`, `condition`).
        guard: String,
        /// The input field at fault, when one is.
        field: Option<&'static str>,
        message: String,
        /// What the person reads, in French.
        fr: String,
    },
}

pub(crate) fn refuse(
    action: &str,
    guard: &str,
    field: Option<&'static str>,
    message: String,
    fr: impl Into<String>,
) -> Refusal {
    Refusal::Guard {
        action: action.to_string(),
        guard: guard.to_string(),
        field,
        message,
        fr: fr.into(),
    }
}

/// The value of a fund parameter on `day`.
pub fn param(fund: &Fund, id: &str, day: Date) -> Option<Decimal> {
    fund.parameters
        .iter()
        .find(|p| p.id.as_str() == id)
        .and_then(|p| p.values.at(day))
        .map(|d| d.value)
}

/// Whether `actor` may take `t`: system steps are metroplan's; a person needs the plan role,
/// or, holding no plan role, a role of the same kind. [`decide`] checks it; pages offering
/// actions ask it too, so that they offer what `decide` allows.
pub fn may_take(plan: &Plan, t: &Transition, actor: &Actor<'_>) -> bool {
    match (t.is_system(), actor.kind) {
        (true, None) => true,
        (false, Some(k)) if actor.roles.is_empty() => plan.role_kind_of(t) == Some(k),
        (false, Some(_)) => actor.roles.iter().any(|r| r == t.role.as_str()),
        _ => false,
    }
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
    if !may_take(plan, t, actor) {
        return Err(Refusal::WrongRole {
            action: action.to_string(),
            role: t.role.to_string(),
        });
    }
    let applicant = actor.kind == Some(RoleKind::Applicant);
    if applicant && actor.id != facts.owner {
        return Err(Refusal::NotOwner {
            action: action.to_string(),
        });
    }
    if input.data && !t.data {
        return Err(Refusal::DataNotAccepted {
            action: action.to_string(),
        });
    }
    if !applicant && actor.kind.is_some() {
        separation(t, actor, facts)?;
    }
    for &g in &t.guards {
        guards::check(g, facts, input, actor)
            .map_err(|(field, message)| refuse(action, g.name(), field, message, g.refusal_fr()))?;
    }
    if let Some(v) = &t.vote {
        money::vote(fund, action, v, facts)?;
    }
    pieces_joined(t, facts)?;
    let recorded = match t.records {
        Some(Record::Opinion) => Some(opinion(action, actor, facts, input)?),
        Some(Record::FinalReport) => Some(Recorded::FinalReport),
        None => None,
    };
    if recorded == Some(Recorded::Declaration) {
        return Ok(Decision {
            transition: t,
            effects: Vec::new(),
            recorded,
            stays: true,
            conditions: Vec::new(),
        });
    }
    let effects = money::effects(fund, action, t, facts, input)?;
    let mut checked = Vec::new();
    for c in &t.conditions {
        let held = conditions::eval(&c.source, facts, input, &facts.data);
        let ok = held.as_ref().is_ok_and(|h| *h);
        if !ok {
            let why = match held {
                Err(e) => format!("the condition `{}` could not be checked: {e}", c.source),
                Ok(_) => format!("the condition `{}` does not hold", c.source),
            };
            return Err(refuse(action, "condition", None, why, c.refusal.clone()));
        }
        checked.push((c.source.clone(), true));
    }
    Ok(Decision {
        transition: t,
        effects,
        recorded,
        stays: false,
        conditions: checked,
    })
}

/// The filer never takes a staff step; a declared separation of duties holds.
fn separation(t: &Transition, actor: &Actor<'_>, facts: &Facts) -> Result<(), Refusal> {
    let action = t.id.as_str();
    if facts.actor_is_filer {
        return Err(refuse(
            action,
            "not-filer",
            None,
            "the holder of the file's applicant key takes no part in its instruction or decision"
                .into(),
            "Vous ne pouvez pas agir sur un dossier que vous avez déposé.",
        ));
    }
    if let Some((step, _)) = facts
        .steps
        .iter()
        .find(|(step, who)| who == actor.id && t.distinct_from.iter().any(|d| d.as_str() == step))
    {
        return Err(refuse(
            action,
            "distinct-from",
            None,
            format!("whoever took `{step}` on this file does not take `{action}`"),
            "Vous êtes déjà intervenu sur ce dossier à une autre étape\u{a0}: celle-ci revient à une autre personne.",
        ));
    }
    Ok(())
}

/// A step's required pieces are on the file before it is taken.
fn pieces_joined(t: &Transition, facts: &Facts) -> Result<(), Refusal> {
    let missing: Vec<&StepPiece> = t
        .pieces
        .iter()
        .filter(|p| p.required && !facts.pieces.iter().any(|k| k == p.id.as_str()))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = missing.iter().map(|p| p.id.as_str()).collect();
    let labels: Vec<&str> = missing.iter().map(|p| p.label.as_str()).collect();
    Err(refuse(
        t.id.as_str(),
        "pieces",
        Some("pieces"),
        format!("join the step's required pieces first: {}", ids.join(", ")),
        format!(
            "Joignez d'abord\u{a0}: {}.",
            crate::french::list_fr(&labels)
        ),
    ))
}

/// A reviewer's opinion needs their declaration of interest first; a declared link is
/// recorded and keeps them out of the file for good.
fn opinion(
    action: &str,
    actor: &Actor<'_>,
    facts: &Facts,
    input: &Input,
) -> Result<Recorded, Refusal> {
    if facts.declared.iter().any(|d| d == actor.id) {
        return Err(refuse(
            action,
            "opinion",
            None,
            "you declared a link of interest with the applicant: you give no opinion on this file"
                .into(),
            "Vous avez déclaré un lien d'intérêts avec le porteur\u{a0}: vous ne donnez pas d'avis sur ce dossier.",
        ));
    }
    if facts.opinions.iter().any(|o| o.reviewer == actor.id) {
        return Err(refuse(
            action,
            "opinion",
            None,
            "you have already given an opinion on this file".into(),
            "Vous avez déjà donné votre avis sur ce dossier.",
        ));
    }
    match (input.linked, input.favourable) {
        (None, _) => Err(refuse(
            action,
            "opinion",
            Some("linked"),
            "declare your links of interest with the applicant (`linked`: true or false)".into(),
            "Déclarez d'abord si vous avez un lien d'intérêts avec le porteur.",
        )),
        (Some(true), _) => Ok(Recorded::Declaration),
        (Some(false), None) => Err(refuse(
            action,
            "opinion",
            Some("favourable"),
            "say whether the opinion is favourable (`favourable`: true or false)".into(),
            "Indiquez si votre avis est favorable ou défavorable.",
        )),
        (Some(false), Some(favourable)) => Ok(Recorded::Opinion { favourable }),
    }
}

/// The transition that files an application: the applicant's way out of the initial state.
pub fn filing<'w>(plan: &Plan, wf: &'w Workflow) -> Option<&'w Transition> {
    wf.transitions
        .iter()
        .find(|t| plan.role_kind_of(t) == Some(RoleKind::Applicant) && t.from.contains(&wf.initial))
}

/// Whether a file in `state` has been filed (it left the initial state): its applicant key
/// and call no longer change.
pub fn is_filed(wf: &Workflow, state: &str) -> bool {
    state != wf.initial.as_str()
}

/// The applicant's transition out of `state` that takes new data (completing an incomplete
/// file), if the workflow has one.
pub fn completion<'w>(plan: &Plan, wf: &'w Workflow, state: &str) -> Option<&'w Transition> {
    if state == wf.initial.as_str() {
        return None;
    }
    wf.transitions.iter().find(|t| {
        t.data
            && plan.role_kind_of(t) == Some(RoleKind::Applicant)
            && t.from.iter().any(|f| f.as_str() == state)
    })
}

/// Whether the applicant may save the form of a file in `state`.
pub fn accepts_data(wf: &Workflow, state: &str) -> bool {
    wf.states
        .iter()
        .any(|s| s.id.as_str() == state && s.accepts_data)
}

/// Whether the applicant may upload pieces to a file in `state`.
pub fn accepts_pieces(wf: &Workflow, state: &str) -> bool {
    wf.states
        .iter()
        .any(|s| s.id.as_str() == state && s.accepts_pieces)
}

/// The step out of `state` that takes a piece of kind `kind`, with the piece, if any.
pub fn step_piece<'w>(
    wf: &'w Workflow,
    state: &str,
    kind: &str,
) -> Option<(&'w Transition, &'w StepPiece)> {
    wf.transitions
        .iter()
        .filter(|t| t.from.iter().any(|f| f.as_str() == state))
        .find_map(|t| {
            t.pieces
                .iter()
                .find(|p| p.id.as_str() == kind)
                .map(|p| (t, p))
        })
}

/// The label of a step's piece of kind `kind`, wherever in the workflow it is asked.
pub fn step_piece_label<'w>(wf: &'w Workflow, kind: &str) -> Option<&'w str> {
    wf.transitions
        .iter()
        .flat_map(|t| &t.pieces)
        .find(|p| p.id.as_str() == kind)
        .map(|p| p.label.as_str())
}

/// The automatic transitions out of `state` (taken by metroplan itself as soon as their
/// guards hold, in plan order); timed ones are in [`timers`].
pub fn automatic<'w>(wf: &'w Workflow, state: &str) -> impl Iterator<Item = &'w Transition> {
    wf.transitions.iter().filter(move |t| {
        t.is_system() && t.timer.is_none() && t.from.iter().any(|f| f.as_str() == state)
    })
}

/// Whether entering `state` calls for the eligibility check (an automatic transition out of it
/// depends on its outcome).
pub fn checks_eligibility(wf: &Workflow, state: &str) -> bool {
    automatic(wf, state).any(|t| t.guards.iter().any(|g| g.reads_eligibility()))
}
