//! Critical path method over the plan's dependency graph.
//!
//! Days are exclusive at the finish internally (`finish` is the first day after the work);
//! the public [`ItemSchedule`] gives inclusive last days, as people read them. Both passes
//! run over one iterative topological order (Kahn), so a million items need no recursion.
//!
//! The passes work on flat arrays of day numbers: the plan's items are copied once into
//! small [`Node`] records, the dependencies come from the plan's [`DependencyGraph`]
//! (compressed adjacency lists built and ordered once, when the plan loads), and dates, ids
//! and progress are only looked up when an item is read ([`Schedule::item`]). That keeps a
//! 100 000-item schedule within a few times a bare topological sort.
//!
//! [`DependencyGraph`]: crate::graph::DependencyGraph

use jiff::civil::Date;
use rust_decimal::Decimal;
use serde::Serialize;
use serde::ser::SerializeStruct;

use super::calendar::{Day, WorkCalendar, date_of, day_of};
use crate::diagnostic::{Code, Diagnostic};
use crate::model::{Action, DurationUnit, LinkType, Plan, Progress, RecurrenceDay, Span, Status};

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
    Predecessor { item: u32, dependency: u32 },
    /// It actually started that day (progress report).
    Actual,
    /// It has not started and the forecast is made as of that day.
    AsOf,
}

/// The computed dates of one item, as people read them (inclusive last days).
#[derive(Debug, Clone, Serialize)]
pub struct ItemSchedule<'p> {
    pub id: &'p str,
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
    /// Indicator values of the latest progress report, with the targets the plan sets.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub indicators: Vec<IndicatorValue<'p>>,
    /// Calendar days its start and last day moved against the chosen baseline.
    pub start_variance: Option<i32>,
    pub finish_variance: Option<i32>,
    /// Unfinished and past its deadline or its baseline finish, or reported suspended.
    pub late: bool,
}

/// A reported indicator value next to its target.
#[derive(Debug, Clone, Serialize)]
pub struct IndicatorValue<'p> {
    pub id: &'p str,
    pub label: &'p str,
    pub unit: Option<&'p str>,
    pub value: Decimal,
    pub target: Decimal,
}

/// The schedule of a plan. Items are read through [`Schedule::item`]; the passes keep only
/// day numbers.
#[derive(Debug)]
pub struct Schedule<'p> {
    plan: &'p Plan,
    options: Options,
    es: Vec<Day>,
    /// Exclusive early finish.
    ef: Vec<Day>,
    ls: Vec<Day>,
    /// Exclusive late finish.
    lf: Vec<Day>,
    total_float: Vec<i32>,
    free_float: Vec<i32>,
    driver: Vec<Driver>,
    /// (item, start, exclusive end) of every occurrence, sorted by item.
    occurrences: Vec<(u32, Day, Day)>,
    /// Last day of work of the whole plan.
    pub finish: Date,
    /// Critical items in topological order.
    pub critical_path: Vec<usize>,
    pub diagnostics: Vec<Diagnostic>,
}

impl<'p> Schedule<'p> {
    /// The number of items (the plan's actions and milestones).
    pub fn len(&self) -> usize {
        self.es.len()
    }

    pub fn is_empty(&self) -> bool {
        self.es.is_empty()
    }

    /// The plan this schedule was computed from.
    pub fn plan(&self) -> &'p Plan {
        self.plan
    }

    /// Item `i` of the plan with its computed dates, progress and variance.
    pub fn item(&self, i: usize) -> ItemSchedule<'p> {
        let plan = self.plan;
        let a = &plan.actions[i];
        let (es, ef) = (self.es[i], self.ef[i]);
        let last = last_day(ef, es);
        let report = plan.progress.get(i).and_then(Option::as_ref);
        let status = report.map(|r| r.status);
        let base = self
            .options
            .baseline
            .and_then(|b| plan.baselines.get(b))
            .and_then(|b| b.items.get(i).copied().flatten());
        let done = matches!(status, Some(Status::Done | Status::Abandoned));
        let past_deadline = a.timing.deadline.is_some_and(|dl| last > day_of(dl));
        let past_baseline = base.is_some_and(|(_, bf)| last > day_of(bf));
        let tf = i64::from(self.total_float[i]);
        ItemSchedule {
            id: a.id.as_str(),
            early_start: date_of(es),
            early_finish: date_of(last),
            late_start: date_of(self.ls[i]),
            late_finish: date_of(last_day(self.lf[i], self.ls[i])),
            total_float: tf,
            free_float: i64::from(self.free_float[i]),
            critical: tf <= self.options.critical_float,
            driver: self.driver[i],
            occurrences: self
                .occurrences_of(i)
                .iter()
                .map(|&(_, s, e)| (date_of(s), date_of((e - 1).max(s))))
                .collect(),
            status,
            percent: report.and_then(|r| r.percent),
            indicators: report.map_or_else(Vec::new, |r| indicator_values(a, r)),
            start_variance: base.map(|(bs, _)| es - day_of(bs)),
            finish_variance: base.map(|(_, bf)| last - day_of(bf)),
            late: !done && (past_deadline || past_baseline || status == Some(Status::Suspended)),
        }
    }

    /// Every item, in the plan's order.
    pub fn items(&self) -> impl ExactSizeIterator<Item = ItemSchedule<'p>> + '_ {
        (0..self.len()).map(|i| self.item(i))
    }

    fn occurrences_of(&self, i: usize) -> &[(u32, Day, Day)] {
        let lo = self.occurrences.partition_point(|o| (o.0 as usize) < i);
        let hi = self.occurrences.partition_point(|o| (o.0 as usize) <= i);
        &self.occurrences[lo..hi]
    }

    /// The chain of driving predecessors of `item`, from the item back to what starts it.
    pub fn driving_chain(&self, item: usize) -> Vec<usize> {
        let mut chain = vec![item];
        let mut cur = item;
        // Bounded by the number of items: the graph has no loop.
        for _ in 0..self.len() {
            match self.driver[cur] {
                Driver::Predecessor { item: p, .. } => {
                    chain.push(p as usize);
                    cur = p as usize;
                }
                _ => break,
            }
        }
        chain
    }
}

fn indicator_values<'p>(a: &'p Action, r: &'p Progress) -> Vec<IndicatorValue<'p>> {
    r.indicators
        .iter()
        .filter_map(|(id, value)| {
            let ind = a.indicators.iter().find(|x| x.id == *id)?;
            Some(IndicatorValue {
                id: ind.id.as_str(),
                label: &ind.label,
                unit: ind.unit.as_deref(),
                value: *value,
                target: ind.target,
            })
        })
        .collect()
}

impl Serialize for Schedule<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct Items<'a, 'p>(&'a Schedule<'p>);
        impl Serialize for Items<'_, '_> {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_seq(self.0.items())
            }
        }
        let mut st = serializer.serialize_struct("Schedule", 3)?;
        st.serialize_field("items", &Items(self))?;
        st.serialize_field("finish", &self.finish)?;
        st.serialize_field("critical_path", &self.critical_path)?;
        st.end()
    }
}

/// An unknown working-day ordinal.
const NO: u32 = u32::MAX;
/// No day (with [`NO`]: nothing computed).
const NO_DAY: Day = Day::MIN;

struct Ctx<'a> {
    cal: &'a WorkCalendar,
}

impl Ctx<'_> {
    #[inline]
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

    #[inline]
    fn back(&self, day: Day, lag: Span) -> Day {
        self.shift(
            day,
            Span {
                amount: -lag.amount,
                unit: lag.unit,
            },
        )
    }

    /// Exclusive finish of an item of `duration` started on `start`.
    #[inline]
    fn finish_of(&self, duration: Option<Span>, start: Day) -> Day {
        match duration {
            None => start,
            Some(d) => match d.unit {
                DurationUnit::WorkingDays => {
                    self.cal.finish_after_working(start, d.amount.max(0) as u32)
                }
                _ => self.shift(start, d),
            },
        }
    }

    /// Start of an item of `duration` so that it finishes (exclusive) on `finish`.
    #[inline]
    fn start_of(&self, duration: Option<Span>, finish: Day) -> Day {
        match duration {
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
    #[inline]
    fn snap(&self, day: Day) -> Day {
        self.cal.next_working(day)
    }

    // The same operations on a day with its working-day ordinal (`NO` when unknown), so that
    // working-day arithmetic is one table read instead of two, and working days between two
    // days with known ordinals a subtraction. Each falls back to the plain operation.

    /// [`Ctx::shift`] with ordinals.
    #[inline]
    fn shift_o(&self, day: Day, o: u32, lag: Span) -> (Day, u32) {
        if lag.amount == 0 {
            return (day, o);
        }
        if lag.unit == DurationUnit::WorkingDays
            && o != NO
            && let Some(k) = o.checked_add_signed(lag.amount)
            && let Some(d) = self.cal.day_at(k)
        {
            return (d, k);
        }
        (self.shift(day, lag), NO)
    }

    /// [`Ctx::start_of`] with ordinals.
    #[inline]
    fn start_of_o(&self, duration: Option<Span>, finish: Day, fo: u32) -> (Day, u32) {
        match duration {
            None => (finish, fo),
            Some(d) if d.unit == DurationUnit::WorkingDays && d.amount <= 0 => (finish, fo),
            Some(d)
                if d.unit == DurationUnit::WorkingDays
                    && fo != NO
                    && let Some(k) = fo.checked_sub(d.amount as u32)
                    && let Some(x) = self.cal.day_at(k) =>
            {
                (x, k)
            }
            _ => (self.start_of(duration, finish), NO),
        }
    }

    /// [`Ctx::finish_of`] with ordinals.
    #[inline]
    fn finish_of_o(&self, duration: Option<Span>, start: Day, so: u32) -> (Day, u32) {
        match duration {
            None => (start, so),
            Some(d) if d.unit == DurationUnit::WorkingDays && so != NO => {
                let n = d.amount.max(0) as u32;
                let last = if n == 0 { so } else { so + n - 1 };
                match self.cal.day_at(last) {
                    Some(x) if n == 0 => (x, so),
                    Some(x) => (x + 1, so + n),
                    None => (self.finish_of(duration, start), NO),
                }
            }
            _ => (self.finish_of(duration, start), NO),
        }
    }

    /// [`Ctx::snap`] with ordinals.
    #[inline]
    fn snap_o(&self, day: Day, o: u32) -> (Day, u32) {
        let o = if o != NO { Some(o) } else { self.cal.ord(day) };
        match o.and_then(|k| self.cal.day_at(k).map(|d| (d, k))) {
            Some(x) => x,
            None => (self.snap(day), NO),
        }
    }

    /// The ordinal of `day`, computed if not known.
    #[inline]
    fn ord(&self, day: Day, o: u32) -> u32 {
        if o != NO {
            o
        } else {
            self.cal.ord(day).unwrap_or(NO)
        }
    }

    /// Working days in `[a, b)`.
    #[inline]
    fn between(&self, a: Day, ao: u32, b: Day, bo: u32) -> i64 {
        if ao != NO && bo != NO {
            i64::from(bo) - i64::from(ao)
        } else {
            self.cal.working_days_between(a, b)
        }
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
        _ => ctx.finish_of(a.timing.duration, start),
    }
}

/// Schedules every item of `plan`.
pub fn schedule(plan: &Plan, options: Options) -> Schedule<'_> {
    let cal = WorkCalendar::new(&plan.calendar, plan.start, plan.horizon);
    schedule_with(plan, &cal, options)
}

/// Schedules with a calendar built once (what-if analyses reuse it).
pub fn schedule_with<'p>(plan: &'p Plan, cal: &WorkCalendar, options: Options) -> Schedule<'p> {
    schedule_slipped(plan, cal, options, None)
}

/// Schedules with one item forced to start `slip.1` calendar days later than it could.
fn schedule_slipped<'p>(
    plan: &'p Plan,
    cal: &WorkCalendar,
    options: Options,
    slip: Option<(usize, i32)>,
) -> Schedule<'p> {
    let ctx = Ctx { cal };
    let n = plan.actions.len();
    let net = &plan.graph;
    let nodes = net.nodes();
    let plan_start = day_of(plan.start);
    let mut diagnostics = Vec::new();
    // Re-forecasting needs actuals: a plan that reports no progress keeps its planned dates.
    let reforecast_from = options.as_of.filter(|_| plan.graph.any_reported());

    // Forward pass.
    let mut es = vec![plan_start; n];
    // Free float of each item: the least room any successor leaves it (working days),
    // gathered in the forward pass, where each dependency's requirement is computed anyway.
    let mut room = vec![i64::MAX; n];
    let mut needs: Vec<(u32, Day, u32)> = Vec::new();
    let mut ef = vec![plan_start; n];
    // Working-day ordinals of `es` and `ef` (see `Ctx::shift_o`).
    let mut es_o = vec![NO; n];
    let mut ef_o = vec![NO; n];
    let mut driver = vec![Driver::PlanStart; n];
    let mut occurrences: Vec<(u32, Day, Day)> = Vec::new();
    for &i in net.pass_order() {
        let i = i as usize;
        let node = &nodes[i];
        let mut start = plan_start;
        let mut start_o = NO;
        let mut why = Driver::PlanStart;
        let bump = |day: (Day, u32), d: Driver, start: &mut (Day, u32), why: &mut Driver| {
            if day.0 > start.0 {
                *start = day;
                *why = d;
            }
        };
        let mut at = (start, start_o);
        if let Some(nb) = node.not_before() {
            bump((nb, NO), Driver::NotBefore, &mut at, &mut why);
        }
        needs.clear();
        for e in net.predecessors(i) {
            let p = e.other as usize;
            let need = match e.link {
                LinkType::FinishToStart => ctx.shift_o(ef[p], ef_o[p], e.lag()),
                LinkType::StartToStart => ctx.shift_o(es[p], es_o[p], e.lag()),
                LinkType::FinishToFinish => {
                    let (x, xo) = ctx.shift_o(ef[p], ef_o[p], e.lag());
                    ctx.start_of_o(node.duration(), x, xo)
                }
                LinkType::StartToFinish => {
                    let (x, xo) = ctx.shift_o(es[p], es_o[p], e.lag());
                    ctx.start_of_o(node.duration(), x, xo)
                }
            };
            needs.push((e.other, need.0, need.1));
            bump(
                need,
                Driver::Predecessor {
                    item: e.other,
                    dependency: e.k,
                },
                &mut at,
                &mut why,
            );
        }
        (start, start_o) = ctx.snap_o(at.0, at.1);
        let snapped = (start, start_o);
        let slip_days = slip.filter(|(item, _)| *item == i).map_or(0, |(_, d)| d);
        if slip_days != 0 {
            start = ctx.cal.next_working(start + slip_days);
        }
        let mut first_occurrence_end = None;
        if node.recurring() {
            let a = &plan.actions[i];
            let occ = occurrence_starts(a);
            // The first occurrence on or after what the dependencies allow.
            match occ.iter().position(|&o| o >= start) {
                Some(f) => {
                    if occ[f] > start || why == Driver::PlanStart {
                        why = Driver::Recurrence;
                    }
                    start = occ[f];
                    for &o in &occ[f..] {
                        let end = occurrence_end(&ctx, a, o, date_of(o).year());
                        first_occurrence_end.get_or_insert(end);
                        occurrences.push((i as u32, o, end));
                    }
                }
                None => diagnostics.push(Diagnostic::at(
                    Code::ScheduleConflict,
                    a.loc.clone(),
                    format!(
                        "`{}` cannot start before {}: after its last occurrence ({})",
                        a.id,
                        date_of(start),
                        a.recurrence.as_ref().map_or(0, |r| r.until_year)
                    ),
                )),
            }
        }
        if let Some(f) = node.start() {
            if start > f {
                let a = &plan.actions[i];
                diagnostics.push(
                    Diagnostic::at(
                        Code::ScheduleConflict,
                        a.loc.clone(),
                        format!(
                            "`{}` is fixed to start on {}, but its dependencies allow {} at the earliest",
                            a.id,
                            date_of(f),
                            date_of(start)
                        ),
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
        // Progress records are large: read only those of items that have one.
        let report = node
            .reported()
            .then(|| plan.progress.get(i).and_then(Option::as_ref))
            .flatten();
        let started = report.and_then(|r| r.actual_start);
        if let Some(actual) = started {
            start = day_of(actual);
            why = Driver::Actual;
        } else if let Some(as_of) = reforecast_from
            && node.start().is_none()
            && report.is_none_or(|r| r.status != Status::Done)
            && day_of(as_of) > start
        {
            start = ctx.snap(day_of(as_of));
            why = Driver::AsOf;
        }
        es[i] = start;
        es_o[i] = if start == snapped.0 {
            snapped.1
        } else {
            ctx.ord(start, NO)
        };
        let mut planned_finish = (NO_DAY, NO);
        ef[i] = match (node.finish(), node.recurring()) {
            (Some(fin), _) if node.duration().is_none() => (fin + 1).max(start),
            (_, true) => {
                first_occurrence_end.unwrap_or_else(|| ctx.finish_of(node.duration(), start))
            }
            _ => {
                planned_finish = ctx.finish_of_o(node.duration(), start, es_o[i]);
                planned_finish.0
            }
        };
        if let Some(fin) = node.finish()
            && node.duration().is_none()
            && fin + 1 < start
        {
            let a = &plan.actions[i];
            diagnostics.push(Diagnostic::at(
                Code::ScheduleConflict,
                a.loc.clone(),
                format!(
                    "`{}` must finish on {}, but cannot start before {}",
                    a.id,
                    date_of(fin),
                    date_of(start)
                ),
            ));
        }
        if node.milestone() {
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
        ef_o[i] = if ef[i] == planned_finish.0 {
            ctx.ord(ef[i], planned_finish.1)
        } else if ef[i] == es[i] {
            es_o[i]
        } else {
            ctx.ord(ef[i], NO)
        };
        for &(p, need, need_o) in &needs {
            let p = p as usize;
            room[p] = room[p].min(ctx.between(need, need_o, es[i], es_o[i]).max(0));
        }
    }
    occurrences.sort_unstable_by_key(|o| (o.0, o.1));
    let end = ef
        .iter()
        .copied()
        .max()
        .unwrap_or(plan_start)
        .max(plan_start);

    // Backward pass, with floats.
    let mut lf = vec![end; n];
    let mut ls = vec![end; n];
    let end_o = ctx.ord(end, NO);
    let mut lf_o = vec![end_o; n];
    let mut ls_o = vec![end_o; n];
    let mut total_float = vec![0; n];
    let mut free_float = vec![0; n];
    let back = |l: Span| Span {
        amount: -l.amount,
        unit: l.unit,
    };
    for &i in net.pass_order().iter().rev() {
        let i = i as usize;
        let node = &nodes[i];
        let mut finish = (end, end_o);
        if let Some(dl) = node.deadline()
            && dl + 1 < finish.0
        {
            finish = (dl + 1, NO);
        }
        for e in net.successors(i) {
            let s = e.other as usize;
            let need = match e.link {
                LinkType::FinishToStart => ctx.shift_o(ls[s], ls_o[s], back(e.lag())),
                LinkType::StartToStart => {
                    let (x, xo) = ctx.shift_o(ls[s], ls_o[s], back(e.lag()));
                    ctx.finish_of_o(node.duration(), x, xo)
                }
                LinkType::FinishToFinish => ctx.shift_o(lf[s], lf_o[s], back(e.lag())),
                LinkType::StartToFinish => {
                    let (x, xo) = ctx.shift_o(lf[s], lf_o[s], back(e.lag()));
                    ctx.finish_of_o(node.duration(), x, xo)
                }
            };
            if need.0 < finish.0 || (need.0 == finish.0 && finish.1 == NO) {
                finish = need;
            }
        }
        let (finish, finish_o) = finish;
        let finish_on = node.finish().is_some() && node.duration().is_none();
        let fixed = node.start().is_some() || node.recurring() || finish_on;
        let elastic = finish_on && node.start().is_none();
        lf[i] = finish;
        lf_o[i] = finish_o;
        (ls[i], ls_o[i]) = if elastic {
            // "Ongoing until a date": a later start only shortens it, so it absorbs delays
            // up to its last day and does not make what precedes it critical.
            (es[i].max(ef[i] - 1).min(finish.max(es[i])), NO)
        } else if fixed {
            // A fixed item does not move; its float is the room its successors leave it.
            (es[i] + (finish - ef[i]), NO)
        } else if node.milestone() {
            (finish, finish_o)
        } else {
            ctx.start_of_o(node.duration(), finish, finish_o)
        };
        let tf = ctx.between(es[i], es_o[i], ls[i], ls_o[i]);
        let ff = if room[i] == i64::MAX {
            ctx.between(ef[i], ef_o[i], end, end_o).max(0)
        } else {
            room[i]
        };
        total_float[i] = clamp_days(tf);
        free_float[i] = clamp_days(ff.min(tf.max(0)));
        if let Some(dl) = node.deadline()
            && ef[i] > dl + 1
        {
            let a = &plan.actions[i];
            diagnostics.push(
                Diagnostic::at(
                    Code::DeadlineMissed,
                    a.loc.clone(),
                    format!(
                        "`{}` finishes on {} at the earliest, after its deadline {}",
                        a.id,
                        date_of(last_day(ef[i], es[i])),
                        date_of(dl)
                    ),
                )
                .with_help(
                    "the chain of driving predecessors (`metroplan why`) shows what pushes it",
                ),
            );
        }
    }

    let critical = |i: usize| i64::from(total_float[i]) <= options.critical_float;
    let mut critical_path = Vec::with_capacity((0..n).filter(|&i| critical(i)).count());
    critical_path.extend(
        net.order()
            .iter()
            .map(|&i| i as usize)
            .filter(|&i| critical(i)),
    );
    Schedule {
        plan,
        options,
        es,
        ef,
        ls,
        lf,
        total_float,
        free_float,
        driver,
        occurrences,
        finish: date_of((end - 1).max(plan_start)),
        critical_path,
        diagnostics,
    }
}

/// Day counts fit in `i32` (the calendar spans a few thousand years at most).
fn clamp_days(d: i64) -> i32 {
    d.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
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
    /// The item's index in the plan.
    #[serde(skip)]
    pub item: usize,
    /// Its early start before and after the slip (`from` and `to` are its last days).
    #[serde(skip)]
    pub start_before: Date,
    #[serde(skip)]
    pub start_after: Date,
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
    let base = schedule_slipped(plan, &cal, options, None);
    let slipped = schedule_slipped(plan, &cal, options, Some((item, days)));
    let moves = (0..base.len())
        .filter(|&i| base.es[i] != slipped.es[i] || base.ef[i] != slipped.ef[i])
        .map(|i| {
            let (from, to) = (
                last_day(base.ef[i], base.es[i]),
                last_day(slipped.ef[i], slipped.es[i]),
            );
            Move {
                id: plan.actions[i].id.to_string(),
                from: date_of(from),
                to: date_of(to),
                days: to - from,
                item: i,
                start_before: date_of(base.es[i]),
                start_after: date_of(slipped.es[i]),
            }
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
