//! Time that moves files: the day a timed transition fires and the day a reminder is due,
//! from the dates a file gives. The server stores these days when a file enters a state and
//! fires what is due; the arithmetic lives here, once.

use jiff::civil::Date;
use serde_json::Value;

use super::param;
use crate::model::{
    DateOf, DurationUnit, Fund, ParamUnit, Reminder, Span, Transition, Wait, When, Workflow,
};

/// The dates a file gives, in the plan's time zone.
#[derive(Debug, Clone, Default)]
pub struct Dates<'a> {
    /// The day the file entered its current state.
    pub entered: Option<Date>,
    /// The day the file first entered each state it went through.
    pub first_entered: Vec<(String, Date)>,
    /// The last day of the current state's deadline.
    pub deadline: Option<Date>,
    /// The closing day of the file's call.
    pub call_closes: Option<Date>,
    /// The application's data (for date fields).
    pub data: Option<&'a Value>,
}

/// `day` moved by `span` (working days count as days: the plan's calendar is for actions).
pub fn add_span(day: Date, span: Span, sign: i64) -> Option<Date> {
    let n = i64::from(span.amount) * sign;
    let s = match span.unit {
        DurationUnit::Days | DurationUnit::WorkingDays => jiff::Span::new().days(n),
        DurationUnit::Weeks => jiff::Span::new().weeks(n),
        DurationUnit::Months => jiff::Span::new().months(n),
    };
    day.checked_add(s).ok()
}

/// A wait as a span: written, or the fund parameter's value in force on `day`.
fn span_of(fund: &Fund, wait: &Wait, day: Date) -> Option<Span> {
    match wait {
        Wait::Span(s) => Some(*s),
        Wait::Parameter(p) => {
            let unit = fund.parameters.iter().find(|x| x.id == *p)?.unit;
            let v = param(fund, p.as_str(), day)?;
            let amount = i32::try_from(v.trunc().mantissa()).ok()?;
            let unit = match unit {
                ParamUnit::Months => DurationUnit::Months,
                _ => DurationUnit::Days,
            };
            Some(Span { amount, unit })
        }
    }
}

fn field_date(data: &Value, path: &str) -> Option<Date> {
    path.split('.')
        .try_fold(data, |v, k| v.get(k))?
        .as_str()?
        .parse()
        .ok()
}

/// The date `when` is about: `(date, is_a_limit)`. A limit (`at`) is the last day allowed,
/// so what fires at it fires the day after; a wait (`after`) ends on its day.
fn reference(fund: &Fund, when: &When, d: &Dates<'_>) -> Option<(Date, bool)> {
    match when {
        When::At { date, plus } => {
            let base = match date {
                DateOf::Deadline => d.deadline?,
                DateOf::CallCloses => d.call_closes?,
                DateOf::Field(path) => field_date(d.data?, path)?,
            };
            let day = match plus {
                Some(w) => add_span(base, span_of(fund, w, base)?, 1)?,
                None => base,
            };
            Some((day, true))
        }
        When::After { wait, since } => {
            let start = match since {
                Some(s) => d
                    .first_entered
                    .iter()
                    .find(|(st, _)| st == s.as_str())
                    .map(|(_, day)| *day)?,
                None => d.entered?,
            };
            Some((add_span(start, span_of(fund, wait, start)?, 1)?, false))
        }
    }
}

/// The day a timed transition fires for a file with these dates.
pub fn timer_day(fund: &Fund, t: &Transition, d: &Dates<'_>) -> Option<Date> {
    let (day, limit) = reference(fund, &t.timer.as_ref()?.when, d)?;
    if limit {
        day.tomorrow().ok()
    } else {
        Some(day)
    }
}

/// The day a reminder is due: its date less `before`.
pub fn reminder_day(fund: &Fund, r: &Reminder, d: &Dates<'_>) -> Option<Date> {
    let (day, _) = reference(fund, &r.when, d)?;
    match &r.before {
        Some(w) => add_span(day, span_of(fund, w, day)?, -1),
        None => Some(day),
    }
}

/// Whether a reminder due on `due` has become pointless by `today`: the date it announced
/// has passed (a server stopped over it catches up with the step itself, not the reminder).
/// A reminder after a wait (`after`, no `before`) stays worth sending.
pub fn reminder_expired(fund: &Fund, r: &Reminder, due: Date, today: Date) -> bool {
    match &r.before {
        Some(w) => span_of(fund, w, due)
            .and_then(|s| add_span(due, s, 1))
            .is_some_and(|limit| today > limit),
        None => false,
    }
}

/// The timed transitions out of `state`.
pub fn timers<'w>(wf: &'w Workflow, state: &str) -> impl Iterator<Item = &'w Transition> {
    wf.transitions
        .iter()
        .filter(move |t| t.timer.is_some() && t.from.iter().any(|f| f.as_str() == state))
}

/// The reminders due in `state`.
pub fn reminders<'w>(wf: &'w Workflow, state: &str) -> impl Iterator<Item = &'w Reminder> {
    wf.reminders
        .iter()
        .filter(move |r| r.states.iter().any(|s| s.as_str() == state))
}
