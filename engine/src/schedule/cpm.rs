//! Critical path method over the plan's dependency graph.
//!
//! Days are exclusive at the finish internally (`finish` is the first day after the work);
//! the public [`ItemSchedule`] gives inclusive last days, as people read them. Both passes
//! run over one iterative topological order (Kahn), so a million items need no recursion.

use std::collections::VecDeque;

use jiff::civil::Date;
use serde::Serialize;

use super::calendar::{Day, WorkCalendar, date_of, day_of};
use crate::diagnostic::{Code, Diagnostic};
use crate::model::{Action, DurationUnit, ItemKind, LinkType, Plan, RecurrenceDay, Span, Status};

/// Scheduling options.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Items whose total float (working days) is at or under this are critical.
    pub critical_float: i64,
    /// Re-forecast as of this day: nothing not yet started starts before it. Only for plans
    /// that report progress; without actuals the planned dates stand.
    pub as_of: Option<Date>,
    /// Index in `plan.baselines` of the baseline to compare with.
    pub baseline: Option<usize>,
}

/// What sets an item's early start: the answer to "why does it start on that day?".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Driver {
    /// Nothing before it: the plan's start.
    PlanStart,
    /// Its fixed start date.
    FixedStart,
    /// Its "start no earlier than" date.
    NotBefore,
    /// The first occurrence of its recurrence.
    Recurrence,
    /// A predecessor, through the dependency at `dependency` in its list.
    Predecessor { item: usize, dependency: usize },
    /// It actually started that day (progress report).
    Actual,
    /// It has not started and the forecast is made as of that day.
    AsOf,
}

/// The computed dates of one item.
#[derive(Debug, Clone, Serialize)]
pub struct ItemSchedule {
    pub id: String,
    pub early_start: Date,
    /// Last day of work (the start day for a milestone).
    pub early_finish: Date,
    pub late_start: Date,
    pub late_finish: Date,
    /// Working days the item can slip without delaying the plan or breaking a deadline.
    pub total_float: i64,
    /// Working days it can slip without delaying any successor.
    pub free_float: i64,
    pub critical: bool,
    pub driver: Driver,
    /// Dated occurrences of a recurring item (start, last day).
    pub occurrences: Vec<(Date, Date)>,
    /// Its state in the latest progress report, if any.
    pub status: Option<Status>,
    pub percent: Option<u8>,
    /// Calendar days its start and last day moved against the chosen baseline.
    pub start_variance: Option<i32>,
    pub finish_variance: Option<i32>,
    /// Unfinished and past its deadline or its baseline finish, or reported suspended.
    pub late: bool,
}

/// The schedule of a plan.
#[derive(Debug, Serialize)]
pub struct Schedule {
    pub items: Vec<ItemSchedule>,
    /// Last day of work of the whole plan.
    pub finish: Date,
    /// Critical items in topological order.
    pub critical_path: Vec<usize>,
    #[serde(skip)]
    pub diagnostics: Vec<Diagnostic>,
}

impl Schedule {
    /// The chain of driving predecessors of `item`, from the item back to what starts it.
    pub fn driving_chain(&self, item: usize) -> Vec<usize> {
        let mut chain = vec![item];
        let mut cur = item;
        // Bounded by the number of items: the graph has no loop.
        for _ in 0..self.items.len() {
            match self.items[cur].driver {
                Driver::Predecessor { item: p, .. } => {
                    chain.push(p);
                    cur = p;
                }
                _ => break,
            }
        }
        chain
    }
}

struct Ctx<'a> {
    cal: &'a WorkCalendar,
}

impl Ctx<'_> {
    fn shift(&self, day: Day, lag: Span) -> Day {
        match lag.unit {
            DurationUnit::Days => day + lag.amount,
            DurationUnit::Weeks => day + 7 * lag.amount,
            DurationUnit::WorkingDays => {
                if lag.amount == 0 {
                    day
                } else {
                    self.cal.shift_working(day, lag.amount)
                }
            }
            DurationUnit::Months => add_months(day, lag.amount),
        }
    }

    fn back(&self, day: Day, lag: Span) -> Day {
        self.shift(
            day,
            Span {
                amount: -lag.amount,
                unit: lag.unit,
            },
        )
    }

    /// Exclusive finish of `a` started on `start`.
    fn finish_of(&self, a: &Action, start: Day) -> Day {
        match a.timing.duration {
            None => start,
            Some(d) => match d.unit {
                DurationUnit::WorkingDays => {
                    self.cal.finish_after_working(start, d.amount.max(0) as u32)
                }
                _ => self.shift(start, d),
            },
        }
    }

    /// Start of `a` so that it finishes (exclusive) on `finish`.
    fn start_of(&self, a: &Action, finish: Day) -> Day {
        match a.timing.duration {
            None => finish,
            Some(d) => match d.unit {
                DurationUnit::WorkingDays => self
                    .cal
                    .start_before_working(finish, d.amount.max(0) as u32),
                _ => self.back(finish, d),
            },
        }
    }

    /// Work starts on a working day, whatever the unit of its duration.
    fn snap(&self, day: Day) -> Day {
        self.cal.next_working(day)
    }
}

fn add_months(day: Day, n: i32) -> Day {
    let d = date_of(day);
    match d.checked_add(jiff::Span::new().months(n)) {
        Ok(x) => day_of(x),
        Err(_) => day + 30 * n,
    }
}

/// Occurrence start days of a recurring item.
fn occurrence_starts(a: &Action) -> Vec<Day> {
    let Some(r) = &a.recurrence else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for y in r.from_year..=r.until_year {
        match r.when {
            RecurrenceDay::On { day } => out.push(day_of(day.in_year(y))),
            // The planned minimum (e.g. 1 of "1 to 3 highlights a year"), spread evenly over
            // the window: the first on its opening day.
            RecurrenceDay::Window { from, until } => {
                let (a, b) = (day_of(from.in_year(y)), day_of(until.in_year(y)));
                let count = r.min_per_year.max(1) as i32;
                let step = (b - a + 1) / count;
                out.extend((0..count).map(|k| a + k * step));
            }
        }
    }
    out
}

fn occurrence_end(ctx: &Ctx<'_>, a: &Action, start: Day, year: i16) -> Day {
    match (&a.recurrence, a.timing.duration) {
        (Some(r), None) => match r.when {
            RecurrenceDay::Window { until, .. } => day_of(until.in_year(year)) + 1,
            RecurrenceDay::On { .. } => start,
        },
        _ => ctx.finish_of(a, start),
    }
}

/// Kahn's algorithm; `None` if the graph has a loop (the loader refuses such plans).
fn topological_order(plan: &Plan, succ: &[Vec<(usize, usize)>]) -> Option<Vec<usize>> {
    let n = plan.actions.len();
    let mut indeg: Vec<u32> = plan
        .actions
        .iter()
        .map(|a| a.depends_on.len() as u32)
        .collect();
    let mut queue: VecDeque<usize> = (0..n).filter(|&i| indeg[i] == 0).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(i) = queue.pop_front() {
        order.push(i);
        for &(s, _) in &succ[i] {
            indeg[s] -= 1;
            if indeg[s] == 0 {
                queue.push_back(s);
            }
        }
    }
    (order.len() == n).then_some(order)
}

/// Schedules every item of `plan`.
pub fn schedule(plan: &Plan, options: Options) -> Schedule {
    let cal = WorkCalendar::new(&plan.calendar, plan.start, plan.horizon);
    schedule_with(plan, &cal, options)
}

/// Schedules with a calendar built once (what-if analyses reuse it).
pub fn schedule_with(plan: &Plan, cal: &WorkCalendar, options: Options) -> Schedule {
    schedule_slipped(plan, cal, options, None)
}

/// Schedules with one item forced to start `slip.1` calendar days later than it could.
fn schedule_slipped(
    plan: &Plan,
    cal: &WorkCalendar,
    options: Options,
    slip: Option<(usize, i32)>,
) -> Schedule {
    let ctx = Ctx { cal };
    let n = plan.actions.len();
    let mut succ: Vec<Vec<(usize, usize)>> = vec![Vec::new(); n];
    for (i, a) in plan.actions.iter().enumerate() {
        for (k, d) in a.depends_on.iter().enumerate() {
            succ[d.on].push((i, k));
        }
    }
    let order = topological_order(plan, &succ).unwrap_or_else(|| (0..n).collect());
    let plan_start = day_of(plan.start);
    let mut diagnostics = Vec::new();
    // Re-forecasting needs actuals: a plan that reports no progress keeps its planned dates.
    let reforecast_from = options
        .as_of
        .filter(|_| plan.progress.iter().any(Option::is_some));

    // Forward pass.
    let mut es = vec![plan_start; n];
    let mut ef = vec![plan_start; n];
    let mut driver = vec![Driver::PlanStart; n];
    let mut occurrences: Vec<Vec<(Day, Day)>> = vec![Vec::new(); n];
    for &i in &order {
        let a = &plan.actions[i];
        let mut start = plan_start;
        let mut why = Driver::PlanStart;
        let bump = |day: Day, d: Driver, start: &mut Day, why: &mut Driver| {
            if day > *start {
                *start = day;
                *why = d;
            }
        };
        if let Some(nb) = a.timing.not_before {
            bump(day_of(nb), Driver::NotBefore, &mut start, &mut why);
        }
        for (k, d) in a.depends_on.iter().enumerate() {
            let p = d.on;
            let need = match d.link {
                LinkType::FinishToStart => ctx.shift(ef[p], d.lag),
                LinkType::StartToStart => ctx.shift(es[p], d.lag),
                LinkType::FinishToFinish => ctx.start_of(a, ctx.shift(ef[p], d.lag)),
                LinkType::StartToFinish => ctx.start_of(a, ctx.shift(es[p], d.lag)),
            };
            bump(
                need,
                Driver::Predecessor {
                    item: p,
                    dependency: k,
                },
                &mut start,
                &mut why,
            );
        }
        start = ctx.snap(start);
        let slip_days = slip.filter(|(item, _)| *item == i).map_or(0, |(_, d)| d);
        if slip_days != 0 {
            start = ctx.cal.next_working(start + slip_days);
        }
        let occ = occurrence_starts(a);
        if let Some(r) = &a.recurrence {
            // The first occurrence on or after what the dependencies allow.
            let first = occ.iter().position(|&o| o >= start);
            match first {
                Some(f) => {
                    if occ[f] > start || why == Driver::PlanStart {
                        why = Driver::Recurrence;
                    }
                    start = occ[f];
                    occurrences[i] = occ[f..]
                        .iter()
                        .map(|&o| (o, occurrence_end(&ctx, a, o, date_of(o).year())))
                        .collect();
                }
                None => diagnostics.push(Diagnostic::at(
                    Code::ScheduleConflict,
                    a.loc.clone(),
                    format!(
                        "`{}` cannot start before {}: after its last occurrence ({})",
                        a.id,
                        date_of(start),
                        r.until_year
                    ),
                )),
            }
        }
        if let Some(fixed) = a.timing.start {
            let f = day_of(fixed);
            if start > f {
                diagnostics.push(
                    Diagnostic::at(
                        Code::ScheduleConflict,
                        a.loc.clone(),
                        format!("`{}` is fixed to start on {fixed}, but its dependencies allow {} at the earliest", a.id, date_of(start)),
                    )
                    .with_help("move the fixed date, shorten what comes before, or remove the dependency"),
                );
            }
            start = if slip_days != 0 {
                ctx.cal.next_working(f + slip_days)
            } else {
                f
            };
            why = Driver::FixedStart;
        }
        let report = plan.progress.get(i).and_then(Option::as_ref);
        let started = report.and_then(|r| r.actual_start);
        if let Some(actual) = started {
            start = day_of(actual);
            why = Driver::Actual;
        } else if let Some(as_of) = reforecast_from
            && a.timing.start.is_none()
            && report.is_none_or(|r| r.status != Status::Done)
            && day_of(as_of) > start
        {
            start = ctx.snap(day_of(as_of));
            why = Driver::AsOf;
        }
        es[i] = start;
        ef[i] = match (a.timing.finish, &a.recurrence) {
            (Some(fin), _) if a.timing.duration.is_none() => (day_of(fin) + 1).max(start),
            (_, Some(_)) => occurrences[i]
                .first()
                .map_or(ctx.finish_of(a, start), |o| o.1),
            _ => ctx.finish_of(a, start),
        };
        if let Some(fin) = a.timing.finish
            && a.timing.duration.is_none()
            && day_of(fin) + 1 < start
        {
            diagnostics.push(Diagnostic::at(
                Code::ScheduleConflict,
                a.loc.clone(),
                format!(
                    "`{}` must finish on {fin}, but cannot start before {}",
                    a.id,
                    date_of(start)
                ),
            ));
        }
        if a.kind == ItemKind::Milestone {
            ef[i] = es[i];
        }
        if let Some(r) = report {
            match (r.actual_finish, r.status) {
                (Some(fin), _) => ef[i] = (day_of(fin) + 1).max(es[i]),
                // Unfinished work goes on at least until the day of the report (or `as_of`).
                (None, Status::InProgress | Status::Suspended) => {
                    let floor = options
                        .as_of
                        .map_or(day_of(r.as_of), |d| day_of(d).max(day_of(r.as_of)));
                    ef[i] = ef[i].max(floor + 1);
                }
                _ => {}
            }
        }
        driver[i] = why;
    }
    let end = ef
        .iter()
        .copied()
        .max()
        .unwrap_or(plan_start)
        .max(plan_start);

    // Backward pass.
    let mut lf = vec![end; n];
    let mut ls = vec![end; n];
    for &i in order.iter().rev() {
        let a = &plan.actions[i];
        let mut finish = end;
        if let Some(dl) = a.timing.deadline {
            finish = finish.min(day_of(dl) + 1);
        }
        for &(s, k) in &succ[i] {
            let d = &plan.actions[s].depends_on[k];
            let need = match d.link {
                LinkType::FinishToStart => ctx.back(ls[s], d.lag),
                LinkType::StartToStart => ctx.finish_of(a, ctx.back(ls[s], d.lag)),
                LinkType::FinishToFinish => ctx.back(lf[s], d.lag),
                LinkType::StartToFinish => ctx.finish_of(a, ctx.back(lf[s], d.lag)),
            };
            finish = finish.min(need);
        }
        let fixed = a.timing.start.is_some()
            || a.recurrence.is_some()
            || (a.timing.finish.is_some() && a.timing.duration.is_none());
        let elastic =
            a.timing.finish.is_some() && a.timing.duration.is_none() && a.timing.start.is_none();
        if elastic {
            // "Ongoing until a date": a later start only shortens it, so it absorbs delays
            // up to its last day and does not make what precedes it critical.
            lf[i] = finish;
            ls[i] = es[i].max(ef[i] - 1).min(finish.max(es[i]));
        } else if fixed {
            // A fixed item does not move; its float is the room its successors leave it.
            lf[i] = finish;
            ls[i] = es[i] + (finish - ef[i]);
        } else {
            lf[i] = finish;
            ls[i] = if a.kind == ItemKind::Milestone {
                finish
            } else {
                ctx.start_of(a, finish)
            };
        }
        if let Some(dl) = a.timing.deadline
            && ef[i] > day_of(dl) + 1
        {
            diagnostics.push(
                Diagnostic::at(
                    Code::DeadlineMissed,
                    a.loc.clone(),
                    format!(
                        "`{}` finishes on {} at the earliest, after its deadline {dl}",
                        a.id,
                        date_of(last_day(ef[i], es[i]))
                    ),
                )
                .with_help(
                    "the chain of driving predecessors (`metroplan why`) shows what pushes it",
                ),
            );
        }
    }

    // Floats and critical items.
    let float = |i: usize| -> i64 { cal.working_days_between(es[i], ls[i]) };
    let mut items = Vec::with_capacity(n);
    for i in 0..n {
        let a = &plan.actions[i];
        let tf = float(i);
        let ff = succ[i]
            .iter()
            .map(|&(s, k)| {
                let d = &plan.actions[s].depends_on[k];
                let allowed = match d.link {
                    LinkType::FinishToStart => ctx.shift(ef[i], d.lag),
                    LinkType::StartToStart => ctx.shift(es[i], d.lag),
                    LinkType::FinishToFinish => {
                        ctx.start_of(&plan.actions[s], ctx.shift(ef[i], d.lag))
                    }
                    LinkType::StartToFinish => {
                        ctx.start_of(&plan.actions[s], ctx.shift(es[i], d.lag))
                    }
                };
                cal.working_days_between(allowed, es[s]).max(0)
            })
            .min()
            .unwrap_or_else(|| cal.working_days_between(ef[i], end).max(0))
            .min(tf.max(0));
        items.push(ItemSchedule {
            id: a.id.to_string(),
            early_start: date_of(es[i]),
            early_finish: date_of(last_day(ef[i], es[i])),
            late_start: date_of(ls[i]),
            late_finish: date_of(last_day(lf[i], ls[i])),
            total_float: tf,
            free_float: ff,
            critical: tf <= options.critical_float,
            driver: driver[i],
            occurrences: occurrences[i]
                .iter()
                .map(|&(s, e)| (date_of(s), date_of((e - 1).max(s))))
                .collect(),
            status: None,
            percent: None,
            start_variance: None,
            finish_variance: None,
            late: false,
        });
        let it = items.last_mut().expect("just pushed");
        let report = plan.progress.get(i).and_then(Option::as_ref);
        it.status = report.map(|r| r.status);
        it.percent = report.and_then(|r| r.percent);
        let done = matches!(it.status, Some(Status::Done | Status::Abandoned));
        let last = last_day(ef[i], es[i]);
        let base = options
            .baseline
            .and_then(|b| plan.baselines.get(b))
            .and_then(|b| b.items.get(i).copied().flatten());
        if let Some((bs, bf)) = base {
            it.start_variance = Some(es[i] - day_of(bs));
            it.finish_variance = Some(last - day_of(bf));
        }
        let past_deadline = a.timing.deadline.is_some_and(|dl| last > day_of(dl));
        let past_baseline = base.is_some_and(|(_, bf)| last > day_of(bf));
        it.late = !done && (past_deadline || past_baseline || it.status == Some(Status::Suspended));
    }
    let critical_path = order
        .iter()
        .copied()
        .filter(|&i| items[i].critical)
        .collect();
    Schedule {
        items,
        finish: date_of((end - 1).max(plan_start)),
        critical_path,
        diagnostics,
    }
}

/// The inclusive last day of work for an exclusive finish (the start for zero duration).
fn last_day(finish_exclusive: Day, start: Day) -> Day {
    (finish_exclusive - 1).max(start)
}

/// One item's move in a what-if analysis.
#[derive(Debug, Clone, Serialize)]
pub struct Move {
    pub id: String,
    pub from: Date,
    pub to: Date,
    /// Calendar days the early finish moves.
    pub days: i32,
}

/// What moves if `item` slips `days` calendar days, and which deadlines it breaks.
#[derive(Debug, Serialize)]
pub struct WhatIf {
    pub moves: Vec<Move>,
    pub broken_deadlines: Vec<String>,
    pub finish_before: Date,
    pub finish_after: Date,
}

/// Reschedules with `item` starting `days` calendar days later than it can.
pub fn what_if(plan: &Plan, item: usize, days: i32, options: Options) -> WhatIf {
    let cal = WorkCalendar::new(&plan.calendar, plan.start, plan.horizon);
    let base = schedule_with(plan, &cal, options);
    let slipped = schedule_slipped(plan, &cal, options, Some((item, days)));
    let moves = base
        .items
        .iter()
        .zip(&slipped.items)
        .filter(|(b, s)| b.early_finish != s.early_finish || b.early_start != s.early_start)
        .map(|(b, s)| Move {
            id: b.id.clone(),
            from: b.early_finish,
            to: s.early_finish,
            days: day_of(s.early_finish) - day_of(b.early_finish),
        })
        .collect();
    let before: Vec<&str> = base
        .diagnostics
        .iter()
        .filter(|d| d.code == Code::DeadlineMissed)
        .map(|d| d.message.as_str())
        .collect();
    let broken_deadlines = slipped
        .diagnostics
        .iter()
        .filter(|d| d.code == Code::DeadlineMissed && !before.contains(&d.message.as_str()))
        .map(|d| d.message.clone())
        .collect();
    WhatIf {
        moves,
        broken_deadlines,
        finish_before: base.finish,
        finish_after: slipped.finish,
    }
}
