//! The budget: annual amounts, allocations to funds and actions, and the costs written on
//! the actions, checked against each year's budget.

use std::collections::{BTreeMap, HashMap};

use jiff::civil::Date;
use rust_decimal::Decimal;

use super::registry::{Cx, Registries, sp_loc};
use crate::diagnostic::{Code, Diagnostic, Loc};
use crate::model::*;
use crate::plan::parse::RawParts;

pub(super) fn year_budget(budget: &DatedValues<Decimal>, year: i16) -> Option<Decimal> {
    let jan1 = Date::new(year, 1, 1).ok()?;
    let dec31 = Date::new(year, 12, 31).ok()?;
    budget
        .at(jan1)
        .or_else(|| {
            budget
                .iter()
                .find(|d| d.from <= dec31 && d.until.is_none_or(|u| u >= jan1))
        })
        .map(|d| d.value)
}

pub(super) fn budget(
    cx: &mut Cx<'_>,
    parts: &RawParts,
    r: &Registries,
    start: Date,
    horizon: Date,
    action_lines: &[(i16, Decimal, Loc)],
) -> Budget {
    let mut annual_items = Vec::new();
    let mut allocations = Vec::new();
    let mut file = None;
    for it in &parts.budget {
        file.get_or_insert(it.file);
        annual_items.push((it.file, &it.value.annual));
    }
    if parts.budget.len() > 1 {
        cx.push(
            Diagnostic::at(
                Code::DuplicateId,
                parts.budget[1].loc(),
                "`[budget]` is declared twice",
            )
            .with_related(parts.budget[0].loc(), "first declared here"),
        );
    }
    let annual = match annual_items.first() {
        Some((f, items)) => cx.dated(items, *f, "the annual budget", false),
        None => DatedValues(Vec::new()),
    };
    let mut per_year: BTreeMap<i16, (Decimal, Option<Loc>)> = BTreeMap::new();
    for it in &parts.budget {
        let f = it.file;
        for al in &it.value.allocation {
            let amount = cx.non_negative(f, &al.amount, "an allocation");
            let Some(year) = cx.year(f, &al.year) else {
                continue;
            };
            let target = match (&al.axis, &al.action) {
                (Some(ax), None) => cx.refer(&r.axis, f, ax).map(AllocationTarget::Axis),
                (None, Some(ac)) => cx.refer(&r.action, f, ac).map(AllocationTarget::Action),
                (Some(ax), Some(_)) => {
                    cx.push(
                        Diagnostic::at(
                            Code::ConflictingTiming,
                            sp_loc(f, ax),
                            "an allocation goes to an axis or to an action, not both",
                        )
                        .with_help("split it into two allocations"),
                    );
                    None
                }
                (None, None) => {
                    cx.push(Diagnostic::at(
                        Code::MissingKey,
                        sp_loc(f, &al.year),
                        "an allocation needs `axis` or `action`",
                    ));
                    None
                }
            };
            if year < start.year() || year > horizon.year() {
                cx.push(Diagnostic::at(
                    Code::OutsidePlanPeriod,
                    sp_loc(f, &al.year),
                    format!(
                        "{year} is outside the plan's years ({} to {})",
                        start.year(),
                        horizon.year()
                    ),
                ));
            }
            let e = per_year.entry(year).or_insert((Decimal::ZERO, None));
            e.0 += amount;
            let total = e.0;
            if let Some(budget) = year_budget(&annual, year)
                && total > budget
                && e.1.is_none()
            {
                e.1 = Some(sp_loc(f, &al.amount));
                cx.push(
                        Diagnostic::at(Code::BudgetExceeded, sp_loc(f, &al.amount), format!("allocations for {year} reach {total}, above the year's budget of {budget}"))
                            .with_label("this allocation goes over the budget")
                            .with_help("lower an allocation of this year, or raise the budget with a dated value"),
                    );
            }
            if let Some(target) = target {
                allocations.push(Allocation {
                    year,
                    target,
                    amount,
                    label: al.label.clone(),
                });
            }
        }
    }
    // Costs written on the actions themselves, against the same budget.
    let mut lines: BTreeMap<i16, Decimal> = BTreeMap::new();
    let mut last_line: HashMap<i16, Loc> = HashMap::new();
    for (y, amount, loc) in action_lines {
        *lines.entry(*y).or_default() += *amount;
        last_line.insert(*y, loc.clone());
    }
    for (y, total) in lines {
        if let Some(budget) = year_budget(&annual, y)
            && total > budget
            && let Some(loc) = last_line.get(&y)
        {
            cx.push(
                        Diagnostic::at(Code::BudgetExceeded, loc.clone(), format!("budget lines of actions for {y} reach {total}, above the year's budget of {budget}"))
                            .with_help("lower the costs of the actions of this year, or raise the budget with a dated value"),
                    );
        }
    }
    Budget {
        annual,
        allocations,
    }
}
