//! The raw structures of a workflow: states, transitions with what they check, record and do
//! to the money, the timers that fire them and the reminders before them. Doc comments are
//! the plan language reference, like the rest of `raw`; `docs/workflow.md` explains the
//! vocabulary with examples.

use schemars::JsonSchema;
use serde::Deserialize;

use super::Sp;
use crate::plan::literal::Span;

/// An approval workflow.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields, rename = "Workflow")]
pub struct RawWorkflow {
    /// Identifier.
    #[schemars(with = "String")]
    pub id: Sp<String>,
    /// Title.
    pub title: String,
    /// State a new file starts in.
    #[schemars(with = "String")]
    pub initial: Sp<String>,
    /// States.
    pub state: Vec<RawState>,
    /// Transitions.
    pub transition: Vec<RawTransition>,
    /// Reminders sent before a deadline or after a wait, once per file, deadline and
    /// recipient.
    #[serde(default)]
    pub reminder: Vec<RawReminder>,
}

/// A state of a workflow.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields, rename = "State")]
pub struct RawState {
    /// Identifier.
    #[schemars(with = "String")]
    pub id: Sp<String>,
    /// Label shown to people.
    pub label: String,
    /// A final state: nothing happens after it.
    #[serde(default)]
    pub terminal: bool,
    /// Time allowed in this state before it is overdue (e.g. "15d"): its last day is the
    /// file's deadline, which `completion-in-time` and `at = "deadline"` read.
    #[schemars(with = "Option<Span>")]
    pub deadline: Option<Sp<Span>>,
    /// What the applicant may change while the file is in this state: `"data"` (save the
    /// form) and `"pieces"` (upload documents). Default: both in the initial state, nothing
    /// elsewhere.
    #[schemars(with = "Option<Vec<String>>")]
    pub accepts: Option<Vec<Sp<String>>>,
}

/// A transition of a workflow.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields, rename = "Transition")]
pub struct RawTransition {
    /// Identifier (the action's name in the API).
    #[schemars(with = "String")]
    pub id: Sp<String>,
    /// Label of the button.
    pub label: String,
    /// States it may start from.
    #[schemars(with = "Vec<String>")]
    pub from: Vec<Sp<String>>,
    /// State it leads to.
    #[schemars(with = "String")]
    pub to: Sp<String>,
    /// Role allowed to perform it ("system" for automatic and timed steps).
    #[schemars(with = "String")]
    pub role: Sp<String>,
    /// Guards that must hold, from the engine's list of guards (docs/workflow.md).
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub guards: Vec<Sp<String>>,
    /// Conditions the vocabulary lacks: Rhai expressions over the same facts as the guards
    /// (docs/workflow.md), each true for the transition to be taken.
    #[serde(default)]
    pub conditions: Vec<RawStepCondition>,
    /// Whether the applicant may send new application data with it (a completion). Data sent
    /// with any other transition is refused.
    #[serde(default)]
    pub data: bool,
    /// What it does to the money: `award`, `reduce`, `release`, `advance`, `balance`,
    /// `reclaim`, each an entry of the fund's append-only ledger.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub effects: Vec<Sp<String>>,
    /// The fund parameter giving the advance's share of the award (unit `ratio`): needed
    /// with the `advance` effect, which never pays above it.
    #[schemars(with = "Option<String>")]
    pub rate: Option<Sp<String>>,
    /// What the step records beyond the state: `"opinion"` (a reviewer's opinion, with the
    /// declaration of interest it requires) or `"final-report"`.
    #[schemars(with = "Option<String>")]
    pub records: Option<Sp<String>>,
    /// The committee vote this step needs.
    pub vote: Option<RawVote>,
    /// Transitions whose actors may not take this one on the same file (separation of
    /// duties). The filer, by applicant key, never takes a staff step.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub distinct_from: Vec<Sp<String>>,
    /// For a `system` transition: the time that fires it. Without one, a `system` transition
    /// is taken as soon as its guards hold after another step.
    pub timer: Option<RawTimer>,
    /// The documents the administration issues when the step is taken: names of the fund's
    /// templates (its own `<name>.j2` or the engine's: `accuse-reception`,
    /// `notification-attribution`, `notification-refus`, `notification-irrecevabilite`,
    /// `notification-sans-suite`, `notification-caducite`, `notification-reduction`,
    /// `notification-reversement`, `notification-rejet-implicite`, `arrete-attribution`,
    /// `convention`), each a dated PDF kept with the file and sent to the applicant.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub documents: Vec<Sp<String>>,
    /// Documents issued only when the award is above an amount: template name → fund
    /// parameter (unit `currency`), e.g. `{ convention = "seuil-convention" }`.
    #[serde(default)]
    #[schemars(with = "std::collections::BTreeMap<String, String>")]
    pub only_above: std::collections::BTreeMap<String, Sp<String>>,
    /// The pieces whoever takes the step joins to it (the applicant's final report, say):
    /// each a PDF or an image, kept with the file like the form's pieces, asked on the step's
    /// form. A required piece must be there for the step to be taken.
    #[serde(default)]
    pub piece: Vec<RawStepPiece>,
    /// The text that provides for it.
    pub reference: Option<String>,
}

/// A piece joined to a step.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields, rename = "StepPiece")]
pub struct RawStepPiece {
    /// Identifier, unique among the pieces of the workflow and of the form of every fund
    /// that uses it (the file keeps one piece of each kind).
    #[schemars(with = "String")]
    pub id: Sp<String>,
    /// Label, as the person reads it.
    pub label: String,
    /// What the piece is, said under its label.
    pub help: Option<String>,
    /// The step cannot be taken without it.
    #[serde(default)]
    pub required: bool,
}

/// A condition written in Rhai.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields, rename = "StepCondition")]
pub struct RawStepCondition {
    /// A Rhai expression that evaluates to `true` or `false`.
    #[schemars(with = "String")]
    pub rhai: Sp<String>,
    /// What the person refused reads, in French.
    pub refusal: String,
}

/// A committee vote.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields, rename = "Vote")]
pub struct RawVote {
    /// The fund parameter giving the number of opinions needed (unit `count`).
    #[schemars(with = "String")]
    pub quorum: Sp<String>,
    /// What decides once the quorum is reached: `"majority"` (more favourable opinions than
    /// unfavourable ones among those given) or `"favourable"` (at least the number of
    /// favourable opinions the parameter `favourable` gives).
    #[schemars(with = "String")]
    pub rule: Sp<String>,
    /// With `rule = "favourable"`: the fund parameter giving the favourable opinions needed.
    #[schemars(with = "Option<String>")]
    pub favourable: Option<Sp<String>>,
}

/// When a timed transition fires: `at` a date the file gives (the day after it), or `after`
/// a wait from entering a state (on the day the wait ends).
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields, rename = "Timer")]
pub struct RawTimer {
    /// `"deadline"` (the state's deadline), `"call-closes"` (the closing day of the file's
    /// call) or the dotted path of a date field of the form (e.g. `"project.ends_on"`).
    #[schemars(with = "Option<String>")]
    pub at: Option<Sp<String>>,
    /// With `at`: a duration added to the date, written `3mo` or as a fund parameter in
    /// days or months.
    #[schemars(with = "Option<String>")]
    pub plus: Option<Sp<String>>,
    /// A wait, written `2mo` or as a fund parameter in days or months.
    #[schemars(with = "Option<String>")]
    pub after: Option<Sp<String>>,
    /// With `after`: the state whose first entry starts the wait (default: entering the
    /// state the transition leaves).
    #[schemars(with = "Option<String>")]
    pub since: Option<Sp<String>>,
    /// Why the file moves, in French: recorded with the step and told to the applicant.
    pub reason: String,
}

/// A reminder: a message sent once, on a day computed like a timer's.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields, rename = "Reminder")]
pub struct RawReminder {
    /// Identifier.
    #[schemars(with = "String")]
    pub id: Sp<String>,
    /// The states in which it is due.
    #[serde(rename = "in")]
    #[schemars(with = "Vec<String>")]
    pub states: Vec<Sp<String>>,
    /// A date, as in a timer: `"deadline"`, `"call-closes"` or a date field's path.
    #[schemars(with = "Option<String>")]
    pub at: Option<Sp<String>>,
    /// With `at`: a duration added to the date (a span or a fund parameter).
    #[schemars(with = "Option<String>")]
    pub plus: Option<Sp<String>>,
    /// A wait from entering the state (a span or a fund parameter).
    #[schemars(with = "Option<String>")]
    pub after: Option<Sp<String>>,
    /// With `after`: the state whose first entry starts the wait.
    #[schemars(with = "Option<String>")]
    pub since: Option<Sp<String>>,
    /// How long before the date it is sent (a span or a fund parameter).
    #[schemars(with = "Option<String>")]
    pub before: Option<Sp<String>>,
    /// `"applicant"`, or a role: its members in the file's scope who have not yet taken the
    /// transition named by `awaiting`.
    #[schemars(with = "String")]
    pub to: Sp<String>,
    /// With a role in `to`: the transition the reminder asks them to take.
    #[schemars(with = "Option<String>")]
    pub awaiting: Option<Sp<String>>,
    /// The message, in French.
    pub text: String,
}
