//! What changed between two versions of a plan, in the terms a council reviews before a vote:
//! actions added, removed or changed (field by field), dependencies, dated parameters and
//! envelopes of each fund, the budget of each year, and what the change does to the schedule.

use std::collections::{BTreeMap, BTreeSet};

use jiff::civil::Date;
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::Value;

use crate::model::{DatedValues, ItemKind, Plan};
use crate::schedule::{Options, schedule};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FieldChange {
    pub field: String,
    pub old: Value,
    pub new: Value,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ActionChange {
    pub id: String,
    pub title: String,
    pub changes: Vec<FieldChange>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Item {
    pub id: String,
    pub title: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DependencyChange {
    pub action: String,
    /// `added` or `removed`.
    pub change: &'static str,
    pub on: String,
    /// Link type and lag, as the plan writes them.
    pub detail: String,
}

/// One dated value of a parameter or an envelope.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DatedChange {
    pub fund: String,
    /// The parameter's id, or `envelope`.
    pub parameter: String,
    /// `added`, `removed` or `changed`.
    pub change: &'static str,
    pub from: Date,
    pub until_old: Option<Date>,
    pub until_new: Option<Date>,
    pub old: Option<Decimal>,
    pub new: Option<Decimal>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BudgetYear {
    pub year: i16,
    /// The annual budget voted for the plan, when it says one.
    pub annual_old: Option<Decimal>,
    pub annual_new: Option<Decimal>,
    /// Allocations and actions' budget lines of the year.
    pub allocated_old: Decimal,
    pub allocated_new: Decimal,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Move {
    pub id: String,
    pub title: String,
    pub milestone: bool,
    pub old_finish: Date,
    pub new_finish: Date,
    /// Calendar days later (negative: earlier).
    pub days: i32,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ScheduleImpact {
    pub finish_old: Date,
    pub finish_new: Date,
    /// Items in both versions whose last day moved, milestones first.
    pub moves: Vec<Move>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PlanDiff {
    pub plan: String,
    pub added: Vec<Item>,
    pub removed: Vec<Item>,
    pub changed: Vec<ActionChange>,
    pub dependencies: Vec<DependencyChange>,
    pub parameters: Vec<DatedChange>,
    pub budget: Vec<BudgetYear>,
    pub schedule: ScheduleImpact,
}

impl PlanDiff {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.changed.is_empty()
            && self.dependencies.is_empty()
            && self.parameters.is_empty()
            && self.budget.is_empty()
            && self.schedule.moves.is_empty()
            && self.schedule.finish_old == self.schedule.finish_new
    }
}

/// Fields compared on their own; dependencies are reported apart.
const SKIPPED: &[&str] = &["id", "depends_on"];

/// The action's fields as dotted paths (`timing.duration`), so that a change names the
/// field that changed rather than the whole group.
fn fields(v: &Value) -> BTreeMap<String, Value> {
    fn walk(prefix: &str, v: &Value, out: &mut BTreeMap<String, Value>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    if prefix.is_empty() && SKIPPED.contains(&k.as_str()) {
                        continue;
                    }
                    let path = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&path, x, out);
                }
            }
            other => {
                out.insert(prefix.to_string(), other.clone());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk("", v, &mut out);
    out
}

fn dependency_key(d: &crate::model::Dependency) -> (String, String) {
    (d.on_id.to_string(), format!("{} {}", d.link.name(), d.lag))
}

fn dated_changes(
    fund: &str,
    parameter: &str,
    old: Option<&DatedValues<Decimal>>,
    new: Option<&DatedValues<Decimal>>,
    out: &mut Vec<DatedChange>,
) {
    let index = |v: Option<&DatedValues<Decimal>>| -> BTreeMap<Date, (Decimal, Option<Date>)> {
        v.map(|v| v.iter().map(|d| (d.from, (d.value, d.until))).collect())
            .unwrap_or_default()
    };
    let (o, n) = (index(old), index(new));
    let froms: BTreeSet<Date> = o.keys().chain(n.keys()).copied().collect();
    for from in froms {
        let (a, b) = (o.get(&from), n.get(&from));
        let change = match (a, b) {
            (Some(x), Some(y)) if x == y => continue,
            (Some(_), Some(_)) => "changed",
            (None, Some(_)) => "added",
            (Some(_), None) => "removed",
            (None, None) => continue,
        };
        out.push(DatedChange {
            fund: fund.to_string(),
            parameter: parameter.to_string(),
            change,
            from,
            until_old: a.and_then(|x| x.1),
            until_new: b.and_then(|x| x.1),
            old: a.map(|x| x.0),
            new: b.map(|x| x.0),
        });
    }
}

fn values_of<'a>(f: Option<&'a crate::model::Fund>, p: &str) -> Option<&'a DatedValues<Decimal>> {
    f.and_then(|f| f.parameters.iter().find(|x| x.id.as_str() == p))
        .map(|x| &x.values)
}

fn budget_by_year(p: &Plan) -> BTreeMap<i16, Decimal> {
    let mut m: BTreeMap<i16, Decimal> = BTreeMap::new();
    for a in &p.budget.allocations {
        *m.entry(a.year).or_default() += a.amount;
    }
    for a in &p.actions {
        for l in &a.budget_lines {
            *m.entry(l.year).or_default() += l.amount;
        }
    }
    m
}

fn annual(p: &Plan, year: i16) -> Option<Decimal> {
    Date::new(year, 1, 1)
        .ok()
        .and_then(|d| p.budget.annual.at(d))
        .map(|d| d.value)
}

/// The differences from `old` to `new`.
pub fn diff(old: &Plan, new: &Plan) -> PlanDiff {
    let old_ids: BTreeMap<&str, usize> = old
        .actions
        .iter()
        .enumerate()
        .map(|(i, a)| (a.id.as_str(), i))
        .collect();
    let new_ids: BTreeMap<&str, usize> = new
        .actions
        .iter()
        .enumerate()
        .map(|(i, a)| (a.id.as_str(), i))
        .collect();
    let item = |p: &Plan, i: usize| Item {
        id: p.actions[i].id.to_string(),
        title: p.actions[i].title.clone(),
    };
    let added = new
        .actions
        .iter()
        .enumerate()
        .filter(|(_, a)| !old_ids.contains_key(a.id.as_str()))
        .map(|(i, _)| item(new, i))
        .collect();
    let removed = old
        .actions
        .iter()
        .enumerate()
        .filter(|(_, a)| !new_ids.contains_key(a.id.as_str()))
        .map(|(i, _)| item(old, i))
        .collect();

    let mut changed = Vec::new();
    let mut dependencies = Vec::new();
    for (i, a) in new.actions.iter().enumerate() {
        let Some(&j) = old_ids.get(a.id.as_str()) else {
            continue;
        };
        let b = &old.actions[j];
        let (fa, fb) = (
            fields(&serde_json::to_value(a).unwrap_or(Value::Null)),
            fields(&serde_json::to_value(b).unwrap_or(Value::Null)),
        );
        let keys: BTreeSet<&String> = fa.keys().chain(fb.keys()).collect();
        let changes: Vec<FieldChange> = keys
            .into_iter()
            .filter_map(|k| {
                let (n, o) = (
                    fa.get(k).cloned().unwrap_or(Value::Null),
                    fb.get(k).cloned().unwrap_or(Value::Null),
                );
                (n != o).then(|| FieldChange {
                    field: k.clone(),
                    old: o,
                    new: n,
                })
            })
            .collect();
        if !changes.is_empty() {
            changed.push(ActionChange {
                id: a.id.to_string(),
                title: new.actions[i].title.clone(),
                changes,
            });
        }
        let deps = |x: &crate::model::Action| -> BTreeSet<(String, String)> {
            x.depends_on.iter().map(dependency_key).collect()
        };
        let (dn, dold) = (deps(a), deps(b));
        for (on, detail) in dn.difference(&dold) {
            dependencies.push(DependencyChange {
                action: a.id.to_string(),
                change: "added",
                on: on.clone(),
                detail: detail.clone(),
            });
        }
        for (on, detail) in dold.difference(&dn) {
            dependencies.push(DependencyChange {
                action: a.id.to_string(),
                change: "removed",
                on: on.clone(),
                detail: detail.clone(),
            });
        }
    }

    let mut parameters = Vec::new();
    let funds: BTreeSet<&str> = old
        .funds
        .iter()
        .chain(&new.funds)
        .map(|f| f.id.as_str())
        .collect();
    for fund in funds {
        let (fo, fnew) = (old.fund(fund), new.fund(fund));
        dated_changes(
            fund,
            "envelope",
            fo.map(|f| &f.envelope),
            fnew.map(|f| &f.envelope),
            &mut parameters,
        );
        let params: BTreeSet<&str> = fo
            .into_iter()
            .chain(fnew)
            .flat_map(|f| f.parameters.iter().map(|p| p.id.as_str()))
            .collect();
        for p in params {
            dated_changes(
                fund,
                p,
                values_of(fo, p),
                values_of(fnew, p),
                &mut parameters,
            );
        }
    }

    let (bo, bn) = (budget_by_year(old), budget_by_year(new));
    let years: BTreeSet<i16> = bo.keys().chain(bn.keys()).copied().collect();
    let budget = years
        .into_iter()
        .filter_map(|y| {
            let row = BudgetYear {
                year: y,
                annual_old: annual(old, y),
                annual_new: annual(new, y),
                allocated_old: bo.get(&y).copied().unwrap_or_default(),
                allocated_new: bn.get(&y).copied().unwrap_or_default(),
            };
            (row.annual_old != row.annual_new || row.allocated_old != row.allocated_new)
                .then_some(row)
        })
        .collect();

    let (so, sn) = (
        schedule(old, Options::default()),
        schedule(new, Options::default()),
    );
    let mut moves: Vec<Move> = new
        .actions
        .iter()
        .enumerate()
        .filter_map(|(i, a)| {
            let j = *old_ids.get(a.id.as_str())?;
            let (o, n) = (so.item(j).early_finish, sn.item(i).early_finish);
            let days = (n - o).get_days();
            (days != 0).then(|| Move {
                id: a.id.to_string(),
                title: a.title.clone(),
                milestone: a.kind == ItemKind::Milestone,
                old_finish: o,
                new_finish: n,
                days,
            })
        })
        .collect();
    moves.sort_by(|a, b| {
        b.milestone
            .cmp(&a.milestone)
            .then(b.days.abs().cmp(&a.days.abs()))
            .then(a.id.cmp(&b.id))
    });
    PlanDiff {
        plan: new.id.to_string(),
        added,
        removed,
        changed,
        dependencies,
        parameters,
        budget,
        schedule: ScheduleImpact {
            finish_old: so.finish,
            finish_new: sn.finish,
            moves,
        },
    }
}
