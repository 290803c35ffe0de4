//! Actions and milestones: references, timing, recurrence, indicators, budget lines, and
//! the dependency graph (every loop reported whole).

use std::collections::HashMap;

use jiff::civil::Date;
use rust_decimal::Decimal;
use rustc_hash::FxHashMap;

use super::registry::{Cx, Registries, Registry, sp_loc};
use crate::diagnostic::{Code, Diagnostic, Loc};
use crate::graph;
use crate::model::*;
use crate::plan::literal::{DurationUnit, PlanDate, Span};
use crate::plan::parse::Item;
use crate::plan::raw::*;
use crate::source::FileId;
use crate::suggest::closest;

/// A dependency read from a file, resolved once every action has its index.
struct PendingDep {
    name: String,
    link: LinkType,
    lag: Span,
    reason: Option<String>,
    loc: Loc,
}

/// The plan's `start` to `horizon`, both included.
#[derive(Clone, Copy)]
pub(super) struct Period {
    pub(super) start: Date,
    pub(super) horizon: Date,
}

impl Period {
    fn contains(self, d: Date) -> bool {
        self.start <= d && d <= self.horizon
    }
}

fn outside(f: FileId, d: &Sp<PlanDate>, p: Period) -> Diagnostic {
    Diagnostic::at(
        Code::OutsidePlanPeriod,
        sp_loc(f, d),
        format!(
            "{} is outside the plan's period ({} to {})",
            d.get_ref(),
            p.start,
            p.horizon
        ),
    )
    .with_label("outside the plan's period")
}

/// The actions, in file order, with their index by id.
pub(super) struct Actions {
    pub(super) actions: Vec<Action>,
    pub(super) index: FxHashMap<Id, usize>,
    /// Costs written on the actions (year, amount, where), checked against the budget with
    /// the allocations.
    pub(super) lines: Vec<(i16, Decimal, Loc)>,
}

/// Converts the actions (consumed: their texts move into the model and each raw action is
/// freed once converted), then resolves their dependencies and reports every loop.
pub(super) fn actions(
    cx: &mut Cx<'_>,
    raw: Vec<Item<RawAction>>,
    action_ids: Vec<Option<Id>>,
    r: &Registries,
    objective_axis: &HashMap<String, String>,
    period: Period,
) -> Actions {
    let action_lines: Vec<(i16, Decimal, Loc)> = raw
        .iter()
        .flat_map(|it| {
            // Implausible years are reported by the action's own conversion.
            it.value.budget_line.iter().filter_map(move |b| {
                let year = i16::try_from(*b.year.get_ref()).ok()?;
                Some((year, b.amount.get_ref().0, sp_loc(it.file, &b.amount)))
            })
        })
        .collect();
    let n_actions = raw.len();
    let mut actions: Vec<Action> = Vec::with_capacity(n_actions);
    let mut action_index: FxHashMap<Id, usize> = FxHashMap::default();
    action_index.reserve(n_actions);
    let mut pending_deps: Vec<Vec<PendingDep>> = Vec::with_capacity(n_actions);
    // Raw actions are consumed (their texts move into the model) and freed one by one.
    for (mut it, id) in raw.into_iter().zip(action_ids) {
        let title = std::mem::take(&mut it.value.title);
        let description = it.value.description.take();
        let raw_deps = std::mem::take(&mut it.value.depends_on);
        let a = &it.value;
        let f = it.file;
        let axis = cx.refer(&r.axis, f, &a.axis);
        let objective = a.objective.as_ref().and_then(|o| {
            let oid = cx.refer(&r.objective, f, o)?;
            if let Some(owner) = objective_axis.get(oid.as_str())
                && owner != a.axis.get_ref()
            {
                cx.push(
                    Diagnostic::at(
                        Code::WrongKindOfReference,
                        sp_loc(f, o),
                        format!(
                            "objective `{oid}` belongs to axis `{owner}`, not `{}`",
                            a.axis.get_ref()
                        ),
                    )
                    .with_suggestions(vec![owner.clone()])
                    .with_help(
                        "set `axis` to the objective's axis, or pick an objective of this axis",
                    ),
                );
            }
            Some(oid)
        });
        let lead = a.lead.as_ref().and_then(|l| cx.refer(&r.partner, f, l));
        let partners_ = cx.refer_all(&r.partner, f, &a.partners);
        let audiences_ = cx.refer_all(&r.audience, f, &a.audiences);
        let criteria_ = cx.refer_all(&r.criterion, f, &a.criteria);
        let domains_ = cx.refer_all(&r.domain, f, &a.domains);
        let territories_ = cx.refer_all(&r.territory, f, &a.territories);
        let staff_ = cx.refer_all(&r.staff, f, &a.staff);
        let kind = a.kind.unwrap_or(ItemKind::Action);
        let timing = timing(cx, f, a, kind, period, it.damaged);
        let recurrence = a
            .recurrence
            .as_ref()
            .and_then(|rec| recurrence(cx, f, rec, a));
        let mut indicator_ids = Registry::new("indicator");
        let indicators = a
            .indicator
            .iter()
            .filter_map(|i| {
                let id = cx.declare(&mut indicator_ids, f, &i.id)?;
                let target = cx.non_negative(f, &i.target, "an indicator target");
                if let Some(by) = &i.by
                    && !period.contains(by.get_ref().0)
                {
                    cx.push(outside(f, by, period));
                }
                Some(Indicator {
                    id,
                    label: i.label.clone(),
                    unit: i.unit.clone(),
                    target,
                    by: i.by.as_ref().map(|b| b.get_ref().0),
                })
            })
            .collect();
        let budget_lines = a
            .budget_line
            .iter()
            .filter_map(|b| {
                let amount = cx.non_negative(f, &b.amount, "a budget line");
                let year = cx.year(f, &b.year)?;
                Some(BudgetLine {
                    year,
                    amount,
                    label: b.label.clone(),
                })
            })
            .collect();
        let (Some(id), Some(axis)) = (id, axis) else {
            continue;
        };
        let deps: Vec<PendingDep> = raw_deps
            .into_iter()
            .map(|d| PendingDep {
                loc: sp_loc(f, &d.on),
                link: d.link.unwrap_or(LinkType::FinishToStart),
                lag: d.lag.map(|l| l.into_inner()).unwrap_or(Span {
                    amount: 0,
                    unit: DurationUnit::Days,
                }),
                reason: d.reason,
                name: d.on.into_inner(),
            })
            .collect();
        action_index.insert(id.clone(), actions.len());
        pending_deps.push(deps);
        actions.push(Action {
            id,
            kind,
            axis,
            objective,
            title,
            description,
            lead,
            partners: partners_,
            audiences: audiences_,
            criteria: criteria_,
            domains: domains_,
            territories: territories_,
            timing,
            recurrence,
            depends_on: Vec::new(),
            indicators,
            budget_lines,
            staff: staff_,
            source: cx.source(&a.source),
            loc: sp_loc(f, &a.id),
        });
    }
    // Dependencies, now that every action has its index.
    for (i, deps) in pending_deps.into_iter().enumerate() {
        let mut kept = Vec::with_capacity(deps.len());
        for d in deps {
            match action_index.get_key_value(d.name.as_str()) {
                Some((on_id, &j)) => kept.push(Dependency {
                    on: j,
                    on_id: on_id.clone(),
                    link: d.link,
                    lag: d.lag,
                    reason: d.reason,
                    loc: d.loc,
                }),
                None if r.action.contains(&d.name) => {} // declared but dropped for another error
                None => cx.unknown(&r.action, d.loc, &d.name),
            }
        }
        actions[i].depends_on = kept;
    }
    loops(cx, &actions);
    Actions {
        actions,
        index: action_index,
        lines: action_lines,
    }
}

/// Reports every dependency loop, each one whole.
fn loops(cx: &mut Cx<'_>, actions: &[Action]) {
    let g = graph::build(actions.len(), |i| {
        actions[i].depends_on.iter().map(|d| d.on)
    });
    for lp in graph::loops(&g) {
        let mut names: Vec<&str> = lp.iter().map(|e| actions[e.from].id.as_str()).collect();
        names.push(actions[lp[0].from].id.as_str());
        let first = &lp[0];
        let mut d = Diagnostic::at(
            Code::DependencyCycle,
            actions[first.to].depends_on[first.dep].loc.clone(),
            format!("dependency cycle: {}", names.join(" → ")),
        )
        .with_label(format!("`{}` depends on `{}`", actions[first.to].id, actions[first.from].id))
        .with_help("remove one of these dependencies: each item of a loop would have to finish before itself");
        for e in &lp[1..] {
            d = d.with_related(
                actions[e.to].depends_on[e.dep].loc.clone(),
                format!("`{}` depends on `{}`", actions[e.to].id, actions[e.from].id),
            );
        }
        cx.push(d);
    }
}

fn timing(
    cx: &mut Cx<'_>,
    f: FileId,
    a: &RawAction,
    kind: ItemKind,
    period: Period,
    damaged: bool,
) -> Timing {
    let t = Timing {
        duration: a.duration.as_ref().map(|d| *d.get_ref()),
        start: a.start.as_ref().map(|d| d.get_ref().0),
        finish: a.finish.as_ref().map(|d| d.get_ref().0),
        not_before: a.not_before.as_ref().map(|d| d.get_ref().0),
        deadline: a.deadline.as_ref().map(|d| d.get_ref().0),
    };
    if let (Some(s), Some(fin)) = (&a.start, &a.finish) {
        cx.range(f, s, Some(fin), &format!("`{}`", a.id.get_ref()));
    }
    if let (Some(s), Some(fin)) = (&a.not_before, &a.deadline) {
        cx.range(
            f,
            s,
            Some(fin),
            &format!("the window of `{}`", a.id.get_ref()),
        );
    }
    if let Some(d) = &a.duration {
        if kind == ItemKind::Milestone {
            cx.push(
                Diagnostic::at(
                    Code::ConflictingTiming,
                    sp_loc(f, d),
                    format!("milestone `{}` has a duration", a.id.get_ref()),
                )
                .with_label("a milestone is a point in time")
                .with_help("remove `duration`, or make it an action with `kind = \"action\"`"),
            );
        } else if d.get_ref().amount <= 0 {
            cx.push(
                Diagnostic::at(
                    Code::InvalidValue,
                    sp_loc(f, d),
                    "a duration must be positive",
                )
                .with_label("zero or negative"),
            );
        }
        if a.start.is_some() && a.finish.is_some() {
            cx.push(
                Diagnostic::at(
                    Code::ConflictingTiming,
                    sp_loc(f, d),
                    format!("`{}` has a start, a finish and a duration", a.id.get_ref()),
                )
                .with_help("give two of them: the third follows"),
            );
        }
    } else if kind == ItemKind::Action && a.finish.is_none() && a.recurrence.is_none() && !damaged {
        cx.push(
            Diagnostic::at(Code::MissingKey, sp_loc(f, &a.id), format!("action `{}` has neither a duration nor a finish date", a.id.get_ref()))
                .with_help("add `duration = \"20wd\"` (or d, w, mo), or `finish = YYYY-MM-DD`; a point in time is `kind = \"milestone\"`"),
        );
    }
    if kind == ItemKind::Milestone
        && let (Some(s), Some(fin)) = (&a.start, &a.finish)
        && s.get_ref() != fin.get_ref()
    {
        cx.push(
            Diagnostic::at(
                Code::ConflictingTiming,
                sp_loc(f, fin),
                format!(
                    "milestone `{}` starts and finishes on different days",
                    a.id.get_ref()
                ),
            )
            .with_help("give a milestone one date, `start`"),
        );
    }
    if a.recurrence.is_some() && (a.start.is_some() || a.finish.is_some()) {
        let loc = a
            .start
            .as_ref()
            .or(a.finish.as_ref())
            .map(|d| sp_loc(f, d))
            .unwrap_or(sp_loc(f, &a.id));
        cx.push(
            Diagnostic::at(
                Code::ConflictingTiming,
                loc,
                format!("`{}` recurs and has fixed dates", a.id.get_ref()),
            )
            .with_help(
                "a recurring item takes its dates from `recurrence`; remove `start`/`finish`",
            ),
        );
    }
    for d in [&a.start, &a.finish, &a.not_before, &a.deadline]
        .into_iter()
        .flatten()
    {
        if !period.contains(d.get_ref().0) {
            cx.push(outside(f, d, period));
        }
    }
    t
}

fn recurrence(
    cx: &mut Cx<'_>,
    f: FileId,
    rec: &RawRecurrence,
    a: &RawAction,
) -> Option<Recurrence> {
    if rec.every.get_ref() != "yearly" {
        cx.push(
            Diagnostic::at(
                Code::InvalidValue,
                sp_loc(f, &rec.every),
                format!("unknown frequency `{}`", rec.every.get_ref()),
            )
            .with_suggestions(closest(rec.every.get_ref(), ["yearly"]))
            .with_help("the supported frequency is \"yearly\""),
        );
    }
    let from_year = cx.year(f, &rec.from_year)?;
    let until_year = cx.year(f, &rec.until_year)?;
    if until_year < from_year {
        cx.push(
            Diagnostic::at(
                Code::InvertedRange,
                sp_loc(f, &rec.until_year),
                format!("recurrence ends in {until_year} before it starts in {from_year}"),
            )
            .with_related(sp_loc(f, &rec.from_year), "starts here"),
        );
    }
    let when = match (&rec.on, &rec.window_from, &rec.window_until) {
        (Some(on), None, None) => RecurrenceDay::On { day: *on.get_ref() },
        (None, Some(wf), Some(wu)) => {
            if wu.get_ref() < wf.get_ref() {
                cx.push(
                    Diagnostic::at(
                        Code::InvertedRange,
                        sp_loc(f, wu),
                        format!(
                            "the window ends on {} before it starts on {}",
                            wu.get_ref(),
                            wf.get_ref()
                        ),
                    )
                    .with_related(sp_loc(f, wf), "starts here"),
                );
            }
            RecurrenceDay::Window {
                from: *wf.get_ref(),
                until: *wu.get_ref(),
            }
        }
        _ => {
            cx.push(
                Diagnostic::at(Code::ConflictingTiming, sp_loc(f, &rec.every), format!("recurrence of `{}` needs either `on` or both `window_from` and `window_until`", a.id.get_ref()))
                    .with_help("e.g. `on = \"03-21\"`, or `window_from = \"02-01\"` and `window_until = \"03-31\"`"),
            );
            return None;
        }
    };
    let min = rec.min_per_year.as_ref().map(|m| *m.get_ref()).unwrap_or(1);
    let max = rec
        .max_per_year
        .as_ref()
        .map(|m| *m.get_ref())
        .unwrap_or(min.max(1));
    if let Some(m) = &rec.max_per_year
        && (max < min || max == 0)
    {
        cx.push(
            Diagnostic::at(
                Code::InvertedRange,
                sp_loc(f, m),
                format!("at most {max} a year, but at least {min}"),
            )
            .with_label("below the minimum"),
        );
    }
    Some(Recurrence {
        from_year,
        until_year,
        when,
        min_per_year: min,
        max_per_year: max,
    })
}
