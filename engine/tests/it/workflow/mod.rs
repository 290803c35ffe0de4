//! The approval circuit's decisions, as decision tables: each row names what it guards, the
//! transition, the actor, the facts and input that differ from a base file, and the verdict.
//! `guards` covers every guard of the vocabulary, `demo` and `lyon` the two plans' circuits
//! (built-in checks included), `money` the effects and their caps, `time` the days timers and
//! reminders fall on, `walk` a property test of the ledger.

use jiff::civil::{Date, date};
use metroplan_engine::Plan;
use metroplan_engine::model::{Fund, RoleKind, Workflow};
use metroplan_engine::rules::Outcome;
use metroplan_engine::workflow::{
    Actor, Decision, Effect, Facts, Input, Money, Opinion, Recorded, Refusal, decide,
};
use rust_decimal::Decimal;

mod demo;
mod guards;
mod lyon;
mod money;
mod time;
mod tone;
mod walk;

/// A plan of `plans/`, loaded once per test thread.
pub fn plan(name: &str) -> &'static Plan {
    thread_local! {
        static PLANS: std::cell::RefCell<Vec<(String, &'static Plan)>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    PLANS.with(|p| {
        let mut p = p.borrow_mut();
        if let Some((_, plan)) = p.iter().find(|(n, _)| n == name) {
            return *plan;
        }
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../plans")
            .join(name);
        let loaded = metroplan_engine::load_dir(dir);
        let plan: &'static Plan = Box::leak(Box::new(loaded.plan.expect("the plan loads")));
        p.push((name.to_string(), plan));
        plan
    })
}

/// The plan's fund and its workflow.
pub fn fund_of(plan: &'static Plan, fund: &str) -> (&'static Fund, &'static Workflow) {
    let fund = plan.fund(fund).expect("the fund");
    let wf = plan.workflow(fund.workflow.as_str()).expect("its workflow");
    (fund, wf)
}

pub fn euros(s: &str) -> Decimal {
    s.parse().expect("a decimal")
}

pub fn opinions(favourable: &[bool]) -> Vec<Opinion> {
    favourable
        .iter()
        .enumerate()
        .map(|(i, f)| Opinion {
            reviewer: format!("r{}", i + 1),
            favourable: *f,
        })
        .collect()
}

pub const fn person(id: &'static str, kind: RoleKind) -> Actor<'static> {
    Actor {
        id,
        kind: Some(kind),
        roles: &[],
    }
}

pub const APPLICANT: Actor<'static> = person("asso", RoleKind::Applicant);
pub const INSTRUCTOR: Actor<'static> = person("instr", RoleKind::Instructor);
pub const REVIEWER: Actor<'static> = person("r9", RoleKind::Reviewer);
pub const APPROVER: Actor<'static> = person("elue", RoleKind::Approver);
pub const FINANCE: Actor<'static> = person("fin", RoleKind::Finance);
pub const SYSTEM: Actor<'static> = Actor::SYSTEM;

/// The base file: eligible, 8 000 € requested, nothing committed, a deadline on 16 March 2021
/// and today 10 March, the call open, the envelope well above the request.
pub fn base(state: &str) -> Facts {
    Facts {
        state: state.into(),
        owner: "asso".into(),
        outcome: Some(Outcome::Eligible),
        requested: Some(Decimal::from(8000)),
        deadline: Some(date(2021, 3, 16)),
        today: date(2021, 3, 10),
        call_open: true,
        envelope_remaining: Some(Decimal::from(30000)),
        ..Facts::default()
    }
}

pub const TODAY: Date = date(2021, 3, 10);

/// A ledger: committed, paid, reclaimed.
pub fn ledger(committed: &str, paid: &str, reclaimed: &str) -> Money {
    Money {
        committed: euros(committed),
        paid: euros(paid),
        reclaimed: euros(reclaimed),
    }
}

/// One row of a decision table.
pub struct Row {
    pub name: &'static str,
    pub action: &'static str,
    pub actor: Actor<'static>,
    pub facts: Facts,
    pub input: Input,
    pub want: Want,
}

/// A row: `name` (what it guards), `action` taken by `actor` on a file in `state`.
pub fn row(name: &'static str, action: &'static str, actor: Actor<'static>, state: &str) -> Row {
    Row {
        name,
        action,
        actor,
        facts: base(state),
        input: Input::default(),
        want: Want::Allowed(vec![]),
    }
}

impl Row {
    pub fn facts(mut self, f: impl FnOnce(&mut Facts)) -> Self {
        f(&mut self.facts);
        self
    }
    pub fn input(mut self, f: impl FnOnce(&mut Input)) -> Self {
        f(&mut self.input);
        self
    }
    pub fn amount(self, a: &str) -> Self {
        let a = euros(a);
        self.input(|i| i.amount = Some(a))
    }
    pub fn reason(self) -> Self {
        self.input(|i| i.reason = Some("Motif de la décision".into()))
    }
    pub fn money(self, m: Money) -> Self {
        self.facts(|f| f.money = m)
    }
    pub fn want(mut self, w: Want) -> Self {
        self.want = w;
        self
    }
}

/// What a row expects.
#[derive(Debug, Clone, PartialEq)]
pub enum Want {
    /// Taken, with these ledger entries, nothing recorded, the file moves.
    Allowed(Vec<Effect>),
    /// Taken, recording this; `stays`: the file does not move.
    Records(Recorded, bool),
    /// Refused by this refusal kind (`wrong-state`, `wrong-role`, `not-owner`,
    /// `data-not-accepted`, `unknown-action`) or guard / built-in check.
    Refused(&'static str),
    /// Refused by this guard or check, pointing at this input field.
    RefusedOn(&'static str, &'static str),
    /// Refused by this guard or check, with a message that contains this text.
    RefusedSaying(&'static str, &'static str),
}

pub use Want::*;

/// Taken, with these ledger entries.
pub fn effects(e: &[Effect]) -> Want {
    Allowed(e.to_vec())
}

pub fn commit(a: &str) -> Effect {
    Effect::Commit(euros(a))
}
pub fn decommit(a: &str) -> Effect {
    Effect::Decommit(euros(a))
}
pub fn payment(a: &str) -> Effect {
    Effect::Payment(euros(a))
}
pub fn reclaim(a: &str) -> Effect {
    Effect::Reclaim(euros(a))
}

fn kind(r: &Refusal) -> (&str, Option<&'static str>, String) {
    match r {
        Refusal::UnknownAction { .. } => ("unknown-action", None, r.to_string()),
        Refusal::WrongState { .. } => ("wrong-state", None, r.to_string()),
        Refusal::WrongRole { .. } => ("wrong-role", None, r.to_string()),
        Refusal::NotOwner { .. } => ("not-owner", None, r.to_string()),
        Refusal::DataNotAccepted { .. } => ("data-not-accepted", None, r.to_string()),
        Refusal::Guard {
            guard,
            field,
            message,
            ..
        } => (guard.as_str(), *field, message.clone()),
    }
}

/// Whether the decision is what the row wants.
pub fn matches(got: &Result<Decision<'_>, Refusal>, want: &Want) -> bool {
    match (got, want) {
        (Ok(d), Allowed(e)) => d.effects == *e && d.recorded.is_none() && !d.stays,
        (Ok(d), Records(r, stays)) => {
            d.effects.is_empty() && d.recorded.as_ref() == Some(r) && d.stays == *stays
        }
        (Err(r), Refused(by)) => kind(r).0 == *by,
        (Err(r), RefusedOn(by, field)) => {
            let (k, f, _) = kind(r);
            k == *by && f == Some(*field)
        }
        (Err(r), RefusedSaying(by, text)) => {
            let (k, _, m) = kind(r);
            k == *by && m.contains(text)
        }
        _ => false,
    }
}

fn show(got: &Result<Decision<'_>, Refusal>) -> String {
    match got {
        Ok(d) => format!(
            "taken: effects {:?}, recorded {:?}, stays {}",
            d.effects, d.recorded, d.stays
        ),
        Err(r) => {
            let (k, f, m) = kind(r);
            format!("refused by `{k}` (field {f:?}): {m}")
        }
    }
}

/// Runs every row on `wf` of `fund`, and reports every row that fails at once.
pub fn run_on(plan: &Plan, fund: &Fund, wf: &Workflow, rows: Vec<Row>) {
    let mut failed = Vec::new();
    let mut names = std::collections::HashSet::new();
    for r in &rows {
        assert!(names.insert(r.name), "two rows are named `{}`", r.name);
        let got = decide(plan, fund, wf, r.action, &r.actor, &r.facts, &r.input);
        if !matches(&got, &r.want) {
            failed.push(format!(
                "{} ({}): wanted {:?}, got {}",
                r.name,
                r.action,
                r.want,
                show(&got)
            ));
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} rows failed:\n{}",
        failed.len(),
        rows.len(),
        failed.join("\n")
    );
}

/// Runs every row on the plan's fund and its workflow.
pub fn run(plan_name: &str, fund: &str, rows: Vec<Row>) {
    let plan = plan(plan_name);
    let (fund, wf) = fund_of(plan, fund);
    run_on(plan, fund, wf, rows);
}

/// The demo workflow with one transition rewritten: a transition as another plan could
/// declare it (a guard or an effect the demo plan does not use there), on the same engine.
pub fn demo_with(
    action: &str,
    edit: impl FnOnce(&mut metroplan_engine::model::Transition),
) -> Workflow {
    let (_, wf) = fund_of(plan("amp-pmlcd"), "fonds-initiative");
    let mut wf = wf.clone();
    let t = wf
        .transitions
        .iter_mut()
        .find(|t| t.id.as_str() == action)
        .expect("the transition");
    edit(t);
    wf
}

/// Runs rows on a rewritten demo workflow.
pub fn run_demo_with(wf: &Workflow, rows: Vec<Row>) {
    let plan = plan("amp-pmlcd");
    let (fund, _) = fund_of(plan, "fonds-initiative");
    run_on(plan, fund, wf, rows);
}
