//! Workflows as the engine runs them: every behaviour a plan declares (guards, conditions,
//! effects on money, what a step records, votes, separation of duties, timers, reminders)
//! is a field here, checked at load, so that the server asks and never guesses.

use serde::Serialize;

use super::{Id, Span};
use crate::workflow::Guard;

#[derive(Debug, Clone, Serialize)]
pub struct Workflow {
    pub id: Id,
    pub title: String,
    pub initial: Id,
    pub states: Vec<State>,
    pub transitions: Vec<Transition>,
    pub reminders: Vec<Reminder>,
}

#[derive(Debug, Clone, Serialize)]
pub struct State {
    pub id: Id,
    pub label: String,
    pub terminal: bool,
    pub deadline: Option<Span>,
    /// The applicant may save the form in this state.
    pub accepts_data: bool,
    /// The applicant may upload pieces in this state.
    pub accepts_pieces: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Transition {
    pub id: Id,
    pub label: String,
    pub from: Vec<Id>,
    pub to: Id,
    pub role: Id,
    pub guards: Vec<Guard>,
    pub conditions: Vec<Condition>,
    /// The applicant may send new application data with it.
    pub data: bool,
    pub effects: Vec<MoneyEffect>,
    pub records: Option<Record>,
    pub vote: Option<Vote>,
    /// Transitions whose actors may not take this one on the same file.
    pub distinct_from: Vec<Id>,
    pub timer: Option<Timer>,
    /// The documents the step issues, in order.
    pub documents: Vec<Issue>,
    /// The pieces whoever takes the step joins to it.
    pub pieces: Vec<StepPiece>,
    pub reference: Option<String>,
}

/// A piece joined to a step (a final report): its id is the kind the file keeps it under.
#[derive(Debug, Clone, Serialize)]
pub struct StepPiece {
    pub id: Id,
    pub label: String,
    pub help: Option<String>,
    pub required: bool,
}

/// A document a step issues: a template of the fund's, only above an amount when `above`
/// names a currency parameter (checked against the fund's templates and parameters at load).
#[derive(Debug, Clone, Serialize)]
pub struct Issue {
    pub template: String,
    pub above: Option<String>,
    #[serde(skip)]
    pub(crate) at: crate::diagnostic::Loc,
}

impl Workflow {
    /// Whether the grant is paid in instalments: some transition pays an advance and another
    /// the balance (SCDL's `échelonné`); otherwise it is paid in one go (`unique`). Read from
    /// the effects the transitions declare, whatever they are called.
    pub fn pays_in_instalments(&self) -> bool {
        let declares = |want: fn(&MoneyEffect) -> bool| {
            self.transitions.iter().any(|t| t.effects.iter().any(want))
        };
        declares(|e| matches!(e, MoneyEffect::Advance { .. }))
            && declares(|e| matches!(e, MoneyEffect::Balance))
    }
}

impl Transition {
    /// Taken by metroplan itself (automatically or on a timer).
    pub fn is_system(&self) -> bool {
        self.role.as_str() == crate::workflow::SYSTEM_ROLE
    }
}

/// A Rhai condition of a transition, compiled at load.
#[derive(Debug, Clone, Serialize)]
pub struct Condition {
    pub source: String,
    pub refusal: String,
}

/// What a transition does to the money: each is an entry of the append-only ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MoneyEffect {
    /// Commits the amount decided on the envelope of the application's year.
    Award,
    /// Decommits part of the award, by a motivated decision.
    Reduce,
    /// Decommits what is not paid (a lapse): it returns to the envelope of the award's year.
    Release,
    /// Pays the advance: at most the award times the rate, less what was paid.
    Advance { rate: Id },
    /// Pays the balance: at most the award less what was paid.
    Balance,
    /// Reclaims what was paid (reversement), or part of it.
    Reclaim,
}

impl MoneyEffect {
    pub const NAMES: &'static [&'static str] = &[
        "award", "reduce", "release", "advance", "balance", "reclaim",
    ];

    pub fn name(&self) -> &'static str {
        match self {
            MoneyEffect::Award => "award",
            MoneyEffect::Reduce => "reduce",
            MoneyEffect::Release => "release",
            MoneyEffect::Advance { .. } => "advance",
            MoneyEffect::Balance => "balance",
            MoneyEffect::Reclaim => "reclaim",
        }
    }

    /// What it does, for the reference and the docs.
    pub fn description(name: &str) -> &'static str {
        match name {
            "award" => {
                "commits the amount decided (`amount`) on the envelope of the application's year, in the same statement that checks the envelope"
            }
            "reduce" => {
                "decommits part of the award (`amount`, at most the award less what was paid), by a motivated decision (`reason`)"
            }
            "release" => {
                "decommits what is not paid (a lapse): it returns to the envelope of the award's year"
            }
            "advance" => {
                "pays the advance: `amount` or, by default, the award times the fund parameter named by `rate`, never above it"
            }
            "balance" => {
                "pays the balance: `amount` or, by default, the award less what was paid, never above it"
            }
            "reclaim" => {
                "reclaims what was paid (`amount` or, by default, all of it not yet reclaimed): a reversement"
            }
            _ => "",
        }
    }
}

/// What a step records beyond the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Record {
    /// A reviewer's opinion (favourable or not, text, scores), after their declaration of
    /// interest; a declared link is recorded, final, and the reviewer gives no opinion.
    Opinion,
    /// The applicant's final report.
    FinalReport,
}

impl Record {
    pub const NAMES: &'static [&'static str] = &["opinion", "final-report"];

    pub fn parse(name: &str) -> Option<Record> {
        match name {
            "opinion" => Some(Record::Opinion),
            "final-report" => Some(Record::FinalReport),
            _ => None,
        }
    }
}

/// A committee vote: the quorum of opinions and what decides.
#[derive(Debug, Clone, Serialize)]
pub struct Vote {
    /// The fund parameter giving the opinions needed.
    pub quorum: Id,
    pub rule: VoteRule,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum VoteRule {
    /// More favourable opinions than unfavourable ones.
    Majority,
    /// At least the parameter's number of favourable opinions.
    Favourable(Id),
}

/// A duration written in the plan or read from a fund parameter (days or months).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Wait {
    Span(Span),
    Parameter(Id),
}

/// A date a file gives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DateOf {
    /// The last day of the state's deadline.
    Deadline,
    /// The closing day of the file's call.
    CallCloses,
    /// A date field of the form, by dotted path.
    Field(String),
}

/// When a timer fires or a reminder is due.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum When {
    /// The day after a date, plus a duration.
    At { date: DateOf, plus: Option<Wait> },
    /// A wait after entering a state (`since`, else the state the file is in).
    After { wait: Wait, since: Option<Id> },
}

#[derive(Debug, Clone, Serialize)]
pub struct Timer {
    pub when: When,
    /// Why the file moves, in French.
    pub reason: String,
}

/// Who a reminder is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Recipient {
    Applicant,
    /// The members of a role in the file's scope who have not taken `awaiting` yet.
    Role {
        role: Id,
        awaiting: Option<Id>,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct Reminder {
    pub id: Id,
    pub states: Vec<Id>,
    pub when: When,
    pub before: Option<Wait>,
    pub to: Recipient,
    pub text: String,
}
