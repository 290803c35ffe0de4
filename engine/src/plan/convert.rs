//! From raw items to the domain model: every check that needs the whole plan.
//!
//! Registries are declared first (so that files can be included in any order), then
//! every item is converted; each problem becomes a diagnostic and conversion goes on,
//! so one run reports everything.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use jiff::civil::Date;
use rust_decimal::Decimal;
use rustc_hash::FxHashMap;

use super::files::{PlanSource, confine};
use super::literal::{Amount, DurationUnit, PlanDate, Span};
use super::parse::{Item, RawParts};
use super::raw::*;
use crate::diagnostic::{Code, Diagnostic, Diagnostics, Loc};
use crate::graph;
use crate::model::*;
use crate::source::FileId;
use crate::suggest::closest;
use crate::workflow::{GUARDS, SYSTEM_ROLE, is_guard};

/// Ids of one kind, with where each was declared.
#[derive(Debug, Default)]
struct Registry {
    kind: &'static str,
    ids: FxHashMap<Arc<str>, Loc>,
}

impl Registry {
    fn new(kind: &'static str) -> Self {
        Registry {
            kind,
            ids: FxHashMap::default(),
        }
    }

    /// Declared ids in order, for suggestions (computed only when something is wrong).
    fn sorted(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.ids.keys().map(|k| &**k).collect();
        v.sort_unstable();
        v
    }
    fn contains(&self, id: &str) -> bool {
        self.ids.contains_key(id)
    }
}

struct Cx<'a> {
    diags: &'a mut Diagnostics,
}

fn sp_loc<T>(file: FileId, sp: &Sp<T>) -> Loc {
    Loc::new(file, sp.span())
}

impl Cx<'_> {
    fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    fn id(&mut self, file: FileId, sp: &Sp<String>) -> Option<Id> {
        match Id::parse(sp.get_ref()) {
            Ok(id) => Some(id),
            Err(msg) => {
                let fix = slug(sp.get_ref());
                self.push(
                    Diagnostic::at(Code::InvalidId, sp_loc(file, sp), msg)
                        .with_label("invalid id")
                        .with_suggestions(if fix.is_empty() { vec![] } else { vec![fix] }),
                );
                None
            }
        }
    }

    /// Declares an id in a registry; a second declaration is an error pointing at both.
    fn declare(&mut self, reg: &mut Registry, file: FileId, sp: &Sp<String>) -> Option<Id> {
        let id = self.id(file, sp)?;
        let loc = sp_loc(file, sp);
        if let Some(first) = reg.ids.get(id.as_str()) {
            self.push(
                Diagnostic::at(
                    Code::DuplicateId,
                    loc,
                    format!("{} `{id}` is declared twice", reg.kind),
                )
                .with_label("second declaration")
                .with_related(first.clone(), format!("`{id}` is first declared here"))
                .with_help("give one of them another id, or remove one".to_string()),
            );
            return None;
        }
        reg.ids.insert(id.shared().clone(), loc);
        Some(id)
    }

    /// Resolves a reference; an unknown one is an error with the closest ids suggested.
    fn refer(&mut self, reg: &Registry, file: FileId, sp: &Sp<String>) -> Option<Id> {
        let name = sp.get_ref();
        if let Some((shared, _)) = reg.ids.get_key_value(name.as_str()) {
            return Some(Id::from_shared(shared.clone()));
        }
        self.unknown(reg, sp_loc(file, sp), name);
        None
    }

    fn unknown(&mut self, reg: &Registry, loc: Loc, name: &str) {
        let suggestions = closest(name, reg.sorted());
        let mut d = Diagnostic::at(
            Code::UnknownReference,
            loc,
            format!("unknown {} `{name}`", reg.kind),
        )
        .with_label(format!("no {} has this id", reg.kind))
        .with_suggestions(suggestions);
        if d.suggestions.is_empty() {
            d = d.with_help(if reg.ids.is_empty() {
                format!("no {} is declared in the plan", reg.kind)
            } else {
                format!(
                    "declare it, or use one of the {} {}s declared",
                    reg.ids.len(),
                    reg.kind
                )
            });
        }
        self.push(d);
    }

    fn refer_all(&mut self, reg: &Registry, file: FileId, list: &[Sp<String>]) -> Vec<Id> {
        list.iter()
            .filter_map(|sp| self.refer(reg, file, sp))
            .collect()
    }

    fn non_negative(&mut self, file: FileId, sp: &Sp<Amount>, what: &str) -> Decimal {
        let v = sp.get_ref().0;
        if v.is_sign_negative() && !v.is_zero() {
            self.push(
                Diagnostic::at(
                    Code::NegativeAmount,
                    sp_loc(file, sp),
                    format!("{what} is negative ({v})"),
                )
                .with_label("must be zero or more"),
            );
        }
        v
    }

    fn year(&mut self, file: FileId, sp: &Sp<i32>) -> Option<i16> {
        let y = *sp.get_ref();
        if (1900..=2200).contains(&y) {
            Some(y as i16)
        } else {
            self.push(
                Diagnostic::at(
                    Code::InvalidValue,
                    sp_loc(file, sp),
                    format!("`{y}` is not a plausible year"),
                )
                .with_label("expected a year such as 2020"),
            );
            None
        }
    }

    fn range(
        &mut self,
        file: FileId,
        from: &Sp<PlanDate>,
        until: Option<&Sp<PlanDate>>,
        what: &str,
    ) {
        if let Some(u) = until
            && u.get_ref() < from.get_ref()
        {
            self.push(
                Diagnostic::at(
                    Code::InvertedRange,
                    sp_loc(file, u),
                    format!(
                        "{what} ends on {} before it starts on {}",
                        u.get_ref(),
                        from.get_ref()
                    ),
                )
                .with_label("before the start")
                .with_related(sp_loc(file, from), "starts here"),
            );
        }
    }

    /// Dated values, checked for negative amounts, inverted and overlapping periods.
    fn dated(
        &mut self,
        items: &[RawDatedAmount],
        file: FileId,
        what: &str,
        negative_ok: bool,
    ) -> DatedValues<Decimal> {
        let mut out: Vec<(Dated<Decimal>, Loc)> = Vec::new();
        for r in items {
            let value = if negative_ok {
                r.value.get_ref().0
            } else {
                self.non_negative(file, &r.value, what)
            };
            self.range(file, &r.from, r.until.as_ref(), what);
            out.push((
                Dated {
                    value,
                    from: r.from.get_ref().0,
                    until: r.until.as_ref().map(|u| u.get_ref().0),
                    reference: r.reference.clone(),
                },
                sp_loc(file, &r.from),
            ));
        }
        out.sort_by_key(|(d, _)| d.from);
        for w in out.windows(2) {
            let (a, la) = &w[0];
            let (b, lb) = &w[1];
            let overlaps = a.until.is_none_or(|u| u >= b.from);
            if overlaps {
                let end = a
                    .until
                    .map_or("with no end".to_string(), |u| format!("until {u}"));
                self.push(
                    Diagnostic::at(
                        Code::OverlappingPeriods,
                        lb.clone(),
                        format!(
                            "{what}: the value from {} overlaps the value from {} {end}",
                            b.from, a.from
                        ),
                    )
                    .with_label("starts while another value is in force")
                    .with_related(la.clone(), "the other value starts here")
                    .with_help(match b.from.yesterday() {
                        Ok(day) => format!("end the earlier value on {day} with `until = {day}`"),
                        Err(_) => "end the earlier value before this one starts".to_string(),
                    }),
                );
            }
        }
        DatedValues(out.into_iter().map(|(d, _)| d).collect())
    }

    fn source(&mut self, s: &Option<RawSource>) -> Option<Source> {
        s.as_ref().map(|s| Source {
            section: s.section.clone(),
            quote: s.quote.clone(),
        })
    }
}

/// A dependency read from a file, resolved once every action has its index.
struct PendingDep {
    name: String,
    link: LinkType,
    lag: Span,
    reason: Option<String>,
    loc: Loc,
}

/// All id namespaces of a plan.
struct Registries {
    axis: Registry,
    objective: Registry,
    action: Registry,
    partner: Registry,
    territory: Registry,
    flag: Registry,
    staff: Registry,
    official: Registry,
    role: Registry,
    audience: Registry,
    criterion: Registry,
    domain: Registry,
    fund: Registry,
    workflow: Registry,
}

/// Converts and validates; returns the plan when no error was found.
pub fn convert(
    mut parts: RawParts,
    root_file: FileId,
    source: &dyn PlanSource,
    diags: &mut Diagnostics,
) -> Option<Plan> {
    let mut cx = Cx { diags };
    let Some(plan_item) = parts.plan.first() else {
        if parts.syntax_errors {
            return None;
        }
        cx.push(
            Diagnostic::at(Code::MissingPlan, Loc::new(root_file, 0..0), "the root file has no `[plan]` section")
                .with_help("start plan.toml with a [plan] table: id, title, owner, deliberation, start, horizon, currency, locale, timezone"),
        );
        return None;
    };
    let pf = plan_item.file;
    let p = &plan_item.value;
    let plan_id = cx.id(pf, &p.id);
    let start = p.start.get_ref().0;
    let horizon = p.horizon.get_ref().0;
    cx.range(pf, &p.start, Some(&p.horizon), "the plan");
    if p.currency.len() != 3 || !p.currency.bytes().all(|b| b.is_ascii_uppercase()) {
        cx.push(
            Diagnostic::at(
                Code::InvalidValue,
                plan_item.loc(),
                format!("`{}` is not an ISO 4217 currency code", p.currency),
            )
            .with_suggestions(vec!["EUR".into()]),
        );
    }
    let tz = p.timezone.get_ref();
    if jiff::tz::TimeZone::get(tz).is_err() {
        let names: Vec<String> = jiff::tz::db().available().map(|n| n.to_string()).collect();
        cx.push(
            Diagnostic::at(
                Code::UnknownReference,
                sp_loc(pf, &p.timezone),
                format!("unknown time zone `{tz}`"),
            )
            .with_label("not an IANA time zone name")
            .with_suggestions(closest(tz, names.iter().map(String::as_str))),
        );
    }
    let period = Period { start, horizon };

    // Registries first.
    let mut r = Registries {
        axis: Registry::new("axis"),
        objective: Registry::new("objective"),
        action: Registry::new("action"),
        partner: Registry::new("partner"),
        territory: Registry::new("territory"),
        flag: Registry::new("territory flag"),
        staff: Registry::new("staff member"),
        official: Registry::new("official"),
        role: Registry::new("role"),
        audience: Registry::new("audience"),
        criterion: Registry::new("criterion"),
        domain: Registry::new("domain"),
        fund: Registry::new("fund"),
        workflow: Registry::new("workflow"),
    };

    let labelled =
        |cx: &mut Cx<'_>, reg: &mut Registry, items: &[Item<RawLabelled>]| -> Vec<Labelled> {
            items
                .iter()
                .filter_map(|it| {
                    let id = cx.declare(reg, it.file, &it.value.id)?;
                    Some(Labelled {
                        id,
                        label: it.value.label.clone(),
                        description: it.value.description.clone(),
                    })
                })
                .collect()
        };
    let territory_flags = labelled(&mut cx, &mut r.flag, &parts.territory_flag);
    for it in parts
        .role
        .iter()
        .filter(|it| it.value.id.get_ref() == SYSTEM_ROLE)
    {
        cx.push(
            Diagnostic::at(
                Code::DuplicateId,
                sp_loc(it.file, &it.value.id),
                format!("role `{SYSTEM_ROLE}` is built in"),
            )
            .with_label("reserved for automatic steps")
            .with_help(
                "give this role another id; transitions done by metroplan itself use `system`",
            ),
        );
    }
    let roles: Vec<Role> = parts
        .role
        .iter()
        .filter_map(|it| {
            let id = cx.declare(&mut r.role, it.file, &it.value.id)?;
            Some(Role {
                id,
                label: it.value.label.clone(),
                description: it.value.description.clone(),
                kind: it.value.kind,
            })
        })
        .collect();
    // Declared after the plan's roles, so that a plan declaring it gets the message above.
    r.role
        .ids
        .entry(Arc::from(SYSTEM_ROLE))
        .or_insert(Loc::new(root_file, 0..0));
    let audiences = labelled(&mut cx, &mut r.audience, &parts.audience);
    let criteria = labelled(&mut cx, &mut r.criterion, &parts.criterion);
    let domains = labelled(&mut cx, &mut r.domain, &parts.domain);

    let axis_ids: Vec<Option<Id>> = parts
        .axis
        .iter()
        .map(|a| cx.declare(&mut r.axis, a.file, &a.value.id))
        .collect();
    let mut objective_axis: HashMap<String, String> = HashMap::new();
    for a in &parts.axis {
        for o in &a.value.objective {
            if let Some(id) = cx.declare(&mut r.objective, a.file, &o.id) {
                objective_axis.insert(id.to_string(), a.value.id.get_ref().clone());
            }
        }
    }
    let action_ids: Vec<Option<Id>> = parts
        .action
        .iter()
        .map(|a| cx.declare(&mut r.action, a.file, &a.value.id))
        .collect();
    let partner_ids: Vec<Option<Id>> = parts
        .partner
        .iter()
        .map(|a| cx.declare(&mut r.partner, a.file, &a.value.id))
        .collect();
    let territory_ids: Vec<Option<Id>> = parts
        .territory
        .iter()
        .map(|a| cx.declare(&mut r.territory, a.file, &a.value.id))
        .collect();
    let staff_ids: Vec<Option<Id>> = parts
        .staff
        .iter()
        .map(|a| cx.declare(&mut r.staff, a.file, &a.value.id))
        .collect();
    let official_ids: Vec<Option<Id>> = parts
        .official
        .iter()
        .map(|a| cx.declare(&mut r.official, a.file, &a.value.id))
        .collect();
    let fund_ids: Vec<Option<Id>> = parts
        .fund
        .iter()
        .map(|a| cx.declare(&mut r.fund, a.file, &a.value.id))
        .collect();
    let workflow_ids: Vec<Option<Id>> = parts
        .workflow
        .iter()
        .map(|a| cx.declare(&mut r.workflow, a.file, &a.value.id))
        .collect();

    // Calendar.
    let calendar = match parts.calendar.first() {
        Some(c) => calendar(&mut cx, c),
        None => Calendar::default(),
    };
    for extra in parts.calendar.iter().skip(1) {
        cx.push(
            Diagnostic::at(
                Code::DuplicateId,
                extra.loc(),
                "`[calendar]` is declared twice",
            )
            .with_related(parts.calendar[0].loc(), "first declared here"),
        );
    }
    for extra in parts.plan.iter().skip(1) {
        cx.push(
            Diagnostic::at(Code::DuplicateId, extra.loc(), "`[plan]` is declared twice")
                .with_related(plan_item.loc(), "first declared here")
                .with_help("`[plan]` belongs in plan.toml only"),
        );
    }

    // Axes.
    let axes: Vec<Axis> = parts
        .axis
        .iter()
        .zip(axis_ids)
        .filter_map(|(a, id)| {
            let id = id?;
            let objectives = a
                .value
                .objective
                .iter()
                .filter_map(|o| {
                    Some(Objective {
                        id: Id::parse(o.id.get_ref()).ok()?,
                        title: o.title.clone(),
                        source: cx.source(&o.source),
                    })
                })
                .collect();
            Some(Axis {
                id,
                title: a.value.title.clone(),
                description: a.value.description.clone(),
                objectives,
                source: cx.source(&a.value.source),
            })
        })
        .collect();

    // Partners, territories, staff, officials.
    let partners: Vec<Partner> = parts
        .partner
        .iter()
        .zip(partner_ids)
        .filter_map(|(it, id)| {
            let p = &it.value;
            Some(Partner {
                id: id?,
                name: p.name.clone(),
                kind: p.kind.clone(),
                role: p.role.clone(),
                source: cx.source(&p.source),
            })
        })
        .collect();

    let levels: HashMap<String, TerritoryLevel> = parts
        .territory
        .iter()
        .map(|t| (t.value.id.get_ref().clone(), t.value.level))
        .collect();
    let mut codes: HashMap<String, Loc> = HashMap::new();
    let mut territories = Vec::new();
    for (it, id) in parts.territory.iter().zip(territory_ids) {
        let t = &it.value;
        let parent = match (&t.parent, t.level) {
            (None, TerritoryLevel::Area) => None,
            (Some(p), TerritoryLevel::Area) => {
                cx.push(
                    Diagnostic::at(
                        Code::WrongKindOfReference,
                        sp_loc(it.file, p),
                        "the plan area has no parent territory",
                    )
                    .with_label("remove this parent"),
                );
                None
            }
            (None, level) => {
                cx.push(
                    Diagnostic::at(
                        Code::MissingKey,
                        sp_loc(it.file, &t.id),
                        format!("territory `{}` has no `parent`", t.id.get_ref()),
                    )
                    .with_help(format!(
                        "a {} belongs to a larger territory: add `parent = \"...\"`",
                        level_name(level)
                    )),
                );
                None
            }
            (Some(p), level) => {
                let pid = cx.refer(&r.territory, it.file, p);
                if let (Some(pid), Some(pl)) = (&pid, levels.get(p.get_ref())) {
                    let ok = matches!(
                        (level, pl),
                        (TerritoryLevel::Council, TerritoryLevel::Area)
                            | (
                                TerritoryLevel::Commune,
                                TerritoryLevel::Council | TerritoryLevel::Area
                            )
                            | (TerritoryLevel::Neighbourhood, TerritoryLevel::Commune)
                    );
                    if !ok {
                        cx.push(
                            Diagnostic::at(
                                Code::WrongKindOfReference,
                                sp_loc(it.file, p),
                                format!("a {} cannot belong to {} `{pid}`", level_name(level), level_name(*pl)),
                            )
                            .with_label("wrong level")
                            .with_help("councils belong to the area, communes to a council or the area, neighbourhoods to a commune"),
                        );
                    }
                }
                pid
            }
        };
        if let Some(code) = &t.code {
            let loc = sp_loc(it.file, code);
            if let Some(first) = codes.get(code.get_ref()) {
                cx.push(
                    Diagnostic::at(
                        Code::DuplicateId,
                        loc,
                        format!("territory code `{}` is declared twice", code.get_ref()),
                    )
                    .with_related(first.clone(), "first declared here"),
                );
            } else {
                codes.insert(code.get_ref().clone(), loc);
            }
        }
        let flags = cx.refer_all(&r.flag, it.file, &t.flags);
        if let Some(id) = id {
            territories.push(Territory {
                id,
                name: t.name.clone(),
                level: t.level,
                parent,
                code: t.code.as_ref().map(|c| c.get_ref().clone()),
                population: t.population,
                flags,
                source: cx.source(&t.source),
            });
        }
    }

    let mut staff = Vec::new();
    for (it, id) in parts.staff.iter().zip(staff_ids) {
        let s = &it.value;
        let fte = cx.non_negative(it.file, &s.fte, "a full-time equivalent");
        let unit = s
            .unit
            .as_ref()
            .and_then(|u| cx.refer(&r.partner, it.file, u));
        if let Some(id) = id {
            staff.push(Staff {
                id,
                title: s.title.clone(),
                fte,
                unit,
                source: cx.source(&s.source),
            });
        }
    }
    let mut officials = Vec::new();
    for (it, id) in parts.official.iter().zip(official_ids) {
        let o = &it.value;
        let roles = cx.refer_all(&r.role, it.file, &o.roles);
        if let Some(id) = id {
            officials.push(Official {
                id,
                name: o.name.clone(),
                office: o.office.clone(),
                roles,
                source: cx.source(&o.source),
            });
        }
    }

    // Actions.
    // Costs written on the actions, checked against the budget with the allocations.
    let action_lines: Vec<(i16, Decimal, Loc)> = parts
        .action
        .iter()
        .flat_map(|it| {
            // Implausible years are reported by the action's own conversion.
            it.value.budget_line.iter().filter_map(move |b| {
                let year = i16::try_from(*b.year.get_ref()).ok()?;
                Some((year, b.amount.get_ref().0, sp_loc(it.file, &b.amount)))
            })
        })
        .collect();
    let n_actions = parts.action.len();
    let mut actions: Vec<Action> = Vec::with_capacity(n_actions);
    let mut action_index: FxHashMap<Id, usize> = FxHashMap::default();
    action_index.reserve(n_actions);
    let mut pending_deps: Vec<Vec<PendingDep>> = Vec::with_capacity(n_actions);
    // Raw actions are consumed (their texts move into the model) and freed one by one.
    for (mut it, id) in std::mem::take(&mut parts.action)
        .into_iter()
        .zip(action_ids)
    {
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
        let timing = timing(&mut cx, f, a, kind, period, it.damaged);
        let recurrence = a
            .recurrence
            .as_ref()
            .and_then(|rec| recurrence(&mut cx, f, rec, a));
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

    // Budget.
    let budget = budget(&mut cx, &parts, &r, start, horizon, &action_lines);

    // Workflows.
    let workflows: Vec<Workflow> = parts
        .workflow
        .iter()
        .zip(workflow_ids)
        .filter_map(|(it, id)| workflow(&mut cx, it, id?, &r))
        .collect();

    // Funds.
    let funds: Vec<Fund> = parts
        .fund
        .iter()
        .zip(fund_ids)
        .filter_map(|(it, id)| fund(&mut cx, it, id?, &r, source, &budget, start, horizon))
        .collect();

    let progress = progress(
        &mut cx,
        std::mem::take(&mut parts.progress),
        &r,
        &action_index,
        &actions,
    );
    let baselines = baselines(
        &mut cx,
        std::mem::take(&mut parts.baseline),
        &r,
        &action_index,
    );

    let plan_id = plan_id?;
    if cx.diags.has_errors() {
        return None;
    }
    let graph =
        graph::DependencyGraph::new(&actions, |i| progress.get(i).is_some_and(Option::is_some));
    Some(Plan {
        id: plan_id,
        title: p.title.clone(),
        owner: p.owner.clone(),
        deliberation_date: p.deliberation.date.get_ref().0,
        deliberation_reference: p.deliberation.reference.clone(),
        deliberation_body: p.deliberation.body.clone(),
        start,
        horizon,
        currency: p.currency.clone(),
        locale: p.locale.clone(),
        timezone: tz.clone(),
        summary: p.summary.clone(),
        source_document: p.source.as_ref().map(|s| s.title.clone()),
        calendar,
        axes,
        actions,
        partners,
        territories,
        territory_flags,
        staff,
        officials,
        roles,
        audiences,
        criteria,
        domains,
        budget,
        funds,
        workflows,
        progress,
        baselines,
        action_index,
        graph,
    })
}

fn level_name(l: TerritoryLevel) -> &'static str {
    match l {
        TerritoryLevel::Area => "plan area",
        TerritoryLevel::Council => "territorial council",
        TerritoryLevel::Commune => "commune",
        TerritoryLevel::Neighbourhood => "neighbourhood",
    }
}

/// The plan's `start` to `horizon`, both included.
#[derive(Clone, Copy)]
struct Period {
    start: Date,
    horizon: Date,
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

fn calendar(cx: &mut Cx<'_>, it: &Item<RawCalendar>) -> Calendar {
    let c = &it.value;
    let f = it.file;
    let holidays = match c.holidays.get_ref().as_str() {
        "fr" => Holidays::Fr,
        "none" => Holidays::None,
        other => {
            cx.push(
                Diagnostic::at(
                    Code::UnknownReference,
                    sp_loc(f, &c.holidays),
                    format!("unknown set of public holidays `{other}`"),
                )
                .with_suggestions(closest(other, ["fr", "none"]))
                .with_help("known sets: \"fr\" (French public holidays) and \"none\""),
            );
            Holidays::None
        }
    };
    const DAYS: [(&str, Weekday); 7] = [
        ("mon", Weekday::Mon),
        ("tue", Weekday::Tue),
        ("wed", Weekday::Wed),
        ("thu", Weekday::Thu),
        ("fri", Weekday::Fri),
        ("sat", Weekday::Sat),
        ("sun", Weekday::Sun),
    ];
    let mut working_days = Vec::new();
    for d in &c.working_days {
        match DAYS.iter().find(|(n, _)| n == d.get_ref()) {
            Some((_, w)) => working_days.push(*w),
            None => cx.push(
                Diagnostic::at(
                    Code::InvalidValue,
                    sp_loc(f, d),
                    format!("unknown day of the week `{}`", d.get_ref()),
                )
                .with_suggestions(closest(d.get_ref(), DAYS.iter().map(|(n, _)| *n))),
            ),
        }
    }
    if c.working_days.is_empty() {
        working_days = DAYS[..5].iter().map(|(_, w)| *w).collect();
    }
    let mut closures = Vec::new();
    for cl in &c.closure {
        match (
            &cl.from,
            &cl.until,
            &cl.every_year_from,
            &cl.every_year_until,
        ) {
            (Some(from), Some(until), None, None) => {
                cx.range(f, from, Some(until), "a closure");
                closures.push(Closure::Once {
                    label: cl.label.clone(),
                    from: from.get_ref().0,
                    until: until.get_ref().0,
                });
            }
            (None, None, Some(from), Some(until)) => {
                // A yearly closure over the whole year leaves no working day at all.
                let (f, u) = (from.get_ref().in_year(2021), until.get_ref().in_year(2021));
                let days = if f <= u {
                    (u - f).get_days() + 1
                } else {
                    365 - (f - u).get_days() + 1
                };
                if days >= 365 {
                    cx.push(
                        Diagnostic::at(Code::ConflictingTiming, sp_loc(it.file, from), format!("closure `{}` closes the whole year: nothing could ever be scheduled", cl.label))
                            .with_help("a yearly closure is a part of the year, e.g. every_year_from = \"12-25\" and every_year_until = \"12-31\""),
                    );
                    continue;
                }
                closures.push(Closure::Yearly {
                    label: cl.label.clone(),
                    from: *from.get_ref(),
                    until: *until.get_ref(),
                });
            }
            _ => {
                let loc = cl
                    .from
                    .as_ref()
                    .map(|s| sp_loc(f, s))
                    .or(cl.every_year_from.as_ref().map(|s| sp_loc(f, s)))
                    .unwrap_or(it.loc());
                cx.push(
                    Diagnostic::at(Code::ConflictingTiming, loc, format!("closure `{}` needs either `from` and `until`, or `every_year_from` and `every_year_until`", cl.label))
                        .with_help("a one-time closure has dates, a yearly one has MM-DD days"),
                );
            }
        }
    }
    Calendar {
        holidays,
        working_days,
        closures,
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

fn year_budget(budget: &DatedValues<Decimal>, year: i16) -> Option<Decimal> {
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

fn budget(
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

fn workflow(cx: &mut Cx<'_>, it: &Item<RawWorkflow>, id: Id, r: &Registries) -> Option<Workflow> {
    let w = &it.value;
    let f = it.file;
    let mut states = Registry::new("state");
    let mut out_states = Vec::new();
    for s in &w.state {
        if let Some(sid) = cx.declare(&mut states, f, &s.id) {
            out_states.push(State {
                id: sid,
                label: s.label.clone(),
                terminal: s.terminal,
                deadline: s.deadline.as_ref().map(|d| *d.get_ref()),
            });
        }
    }
    let states = Registry {
        kind: "state",
        ..states
    };
    let initial = cx.refer(&states, f, &w.initial);
    let mut tids = Registry::new("transition");
    let mut transitions = Vec::new();
    let mut ok = initial.is_some();
    for t in &w.transition {
        let tid = cx.declare(&mut tids, f, &t.id);
        let from: Vec<Id> = t
            .from
            .iter()
            .filter_map(|s| cx.refer(&states, f, s))
            .collect();
        let to = cx.refer(&states, f, &t.to);
        let role = cx.refer(&r.role, f, &t.role);
        let mut guards = Vec::new();
        for g in &t.guards {
            if is_guard(g.get_ref()) {
                guards.extend(Id::parse(g.get_ref()).ok());
            } else {
                cx.push(
                    Diagnostic::at(
                        Code::UnknownReference,
                        sp_loc(f, g),
                        format!("unknown guard `{}`", g.get_ref()),
                    )
                    .with_label("not a guard the engine knows")
                    .with_suggestions(closest(g.get_ref(), GUARDS.iter().map(|(n, _)| *n)))
                    .with_help("the guards are listed in docs/errors.md under E006"),
                );
            }
        }
        for s in &t.from {
            if w.state
                .iter()
                .any(|st| st.id.get_ref() == s.get_ref() && st.terminal)
            {
                cx.push(
                    Diagnostic::at(Code::WorkflowDeadEnd, sp_loc(f, s), format!("transition `{}` leaves terminal state `{}`", t.id.get_ref(), s.get_ref()))
                        .with_help("a terminal state ends the workflow: remove `terminal = true` or this transition"),
                );
            }
        }
        match (tid, to, role) {
            (Some(tid), Some(to), Some(role)) if from.len() == t.from.len() => {
                transitions.push(Transition {
                    id: tid,
                    label: t.label.clone(),
                    from,
                    to,
                    role,
                    guards,
                    reference: t.reference.clone(),
                })
            }
            _ => ok = false,
        }
    }
    if !ok {
        return None;
    }
    let initial = initial?;
    // Reachability from the initial state.
    let mut reached: HashSet<&str> = HashSet::from([initial.as_str()]);
    let mut queue = VecDeque::from([initial.as_str()]);
    while let Some(s) = queue.pop_front() {
        for t in &transitions {
            if t.from.iter().any(|x| x.as_str() == s) && reached.insert(t.to.as_str()) {
                queue.push_back(t.to.as_str());
            }
        }
    }
    for s in &w.state {
        let sid = s.id.get_ref().as_str();
        if !reached.contains(sid) {
            cx.push(
                Diagnostic::at(
                    Code::UnreachableState,
                    sp_loc(f, &s.id),
                    format!("state `{sid}` of workflow `{id}` cannot be reached from `{initial}`"),
                )
                .with_label("no transition leads here")
                .with_help("add a transition to it, or remove the state"),
            );
        }
        if !s.terminal
            && !transitions
                .iter()
                .any(|t| t.from.iter().any(|x| x.as_str() == sid))
        {
            cx.push(
                Diagnostic::at(
                    Code::WorkflowDeadEnd,
                    sp_loc(f, &s.id),
                    format!("state `{sid}` is not terminal and no transition leaves it"),
                )
                .with_label("files would be stuck here")
                .with_help("add a transition from it, or mark it `terminal = true`"),
            );
        }
    }
    if !w.state.iter().any(|s| s.terminal) {
        cx.push(
            Diagnostic::at(
                Code::WorkflowDeadEnd,
                sp_loc(f, &w.id),
                format!("workflow `{id}` has no terminal state"),
            )
            .with_help("mark the states that end a file with `terminal = true`"),
        );
    }
    Some(Workflow {
        id,
        title: w.title.clone(),
        initial,
        states: out_states,
        transitions,
    })
}

#[allow(clippy::too_many_arguments)]
fn fund(
    cx: &mut Cx<'_>,
    it: &Item<RawFund>,
    id: Id,
    r: &Registries,
    source: &dyn PlanSource,
    budget: &Budget,
    start: Date,
    horizon: Date,
) -> Option<Fund> {
    let fd = &it.value;
    let f = it.file;
    let action = fd.action.as_ref().and_then(|a| cx.refer(&r.action, f, a));
    let workflow = cx.refer(&r.workflow, f, &fd.workflow);
    let rules = match confine(std::path::Path::new(""), fd.rules.get_ref()) {
        Ok(p) if p.starts_with("rules") && p.extension().is_some_and(|e| e == "rhai") => {
            if !source.exists(&p) {
                cx.push(
                    Diagnostic::at(
                        Code::RulesScriptMissing,
                        sp_loc(f, &fd.rules),
                        format!("rules script `{}` of fund `{id}` is not found", p.display()),
                    )
                    .with_label("no such file in the plan directory")
                    .with_help("create it, or correct the path (relative to the plan directory)"),
                );
            }
            Some(p)
        }
        Ok(_) => {
            cx.push(
                Diagnostic::at(
                    Code::InvalidValue,
                    sp_loc(f, &fd.rules),
                    format!(
                        "rules script `{}` must be a `.rhai` file under `rules/`",
                        fd.rules.get_ref()
                    ),
                )
                .with_suggestions(vec![format!("rules/{id}.rhai")]),
            );
            None
        }
        Err(msg) => {
            cx.push(
                Diagnostic::at(Code::Include, sp_loc(f, &fd.rules), msg)
                    .with_label("outside the plan directory"),
            );
            None
        }
    };
    let envelope = cx.dated(
        &fd.envelope,
        f,
        &format!("the envelope of fund `{id}`"),
        false,
    );
    for (e, raw) in envelope.iter().zip(&fd.envelope) {
        let y = e.from.year();
        if let Some(b) = year_budget(&budget.annual, y)
            && e.value > b
        {
            cx.push(
                Diagnostic::at(
                    Code::BudgetExceeded,
                    sp_loc(f, &raw.value),
                    format!(
                        "the envelope of fund `{id}` ({}) is above the plan's budget for {y} ({b})",
                        e.value
                    ),
                )
                .with_label("above the year's budget"),
            );
        }
    }
    // Calls.
    let mut calls = Vec::new();
    let mut years: HashMap<i16, Loc> = HashMap::new();
    for c in &fd.calls {
        let (Some(first), Some(last)) = (cx.year(f, &c.first_year), cx.year(f, &c.last_year))
        else {
            continue;
        };
        if last < first {
            cx.push(
                Diagnostic::at(
                    Code::InvertedRange,
                    sp_loc(f, &c.last_year),
                    format!("calls end in {last} before they start in {first}"),
                )
                .with_related(sp_loc(f, &c.first_year), "first year here"),
            );
        }
        if c.closes.get_ref() < c.opens.get_ref() {
            cx.push(
                Diagnostic::at(
                    Code::InvertedRange,
                    sp_loc(f, &c.closes),
                    format!(
                        "the call closes on {} before it opens on {}",
                        c.closes.get_ref(),
                        c.opens.get_ref()
                    ),
                )
                .with_related(sp_loc(f, &c.opens), "opens here"),
            );
        }
        for y in first..=last {
            let loc = sp_loc(f, &c.first_year);
            if let Some(prev) = years.get(&y) {
                cx.push(
                    Diagnostic::at(
                        Code::OverlappingPeriods,
                        loc.clone(),
                        format!("fund `{id}` has two calls in {y}"),
                    )
                    .with_related(prev.clone(), "the other call"),
                );
                break;
            }
            years.insert(y, loc);
            calls.push(CallWindow {
                year: y,
                opens: c.opens.get_ref().in_year(y),
                closes: c.closes.get_ref().in_year(y),
                reference: c.reference.clone(),
            });
            if y < start.year() || y > horizon.year() {
                cx.push(Diagnostic::at(
                    Code::OutsidePlanPeriod,
                    sp_loc(f, &c.last_year),
                    format!(
                        "a call in {y} is outside the plan's years ({} to {})",
                        start.year(),
                        horizon.year()
                    ),
                ));
                break;
            }
        }
    }
    calls.sort_by_key(|c| c.year);
    // Parameters.
    let mut preg = Registry::new("parameter");
    let mut parameters = Vec::new();
    for p in &fd.parameter {
        let Some(pid) = cx.declare(&mut preg, f, &p.id) else {
            continue;
        };
        let values = cx.dated(&p.value, f, &format!("parameter `{pid}`"), false);
        if values.is_empty() {
            cx.push(
                Diagnostic::at(
                    Code::MissingKey,
                    sp_loc(f, &p.id),
                    format!("parameter `{pid}` has no value"),
                )
                .with_help("add a `[[fund.parameter.value]]` with value, from and reference"),
            );
        }
        if p.unit == ParamUnit::Ratio {
            for (v, raw) in values.iter().zip(&p.value) {
                if v.value > Decimal::ONE {
                    cx.push(
                        Diagnostic::at(
                            Code::InvalidValue,
                            sp_loc(f, &raw.value),
                            format!("ratio {} is above 1", v.value),
                        )
                        .with_help("write 80 % as 0.8"),
                    );
                }
            }
        }
        parameters.push(Parameter {
            id: pid,
            label: p.label.clone(),
            unit: p.unit,
            values,
        });
    }
    let form = form(cx, f, &fd.form, r);
    let grid = fd
        .grid
        .as_ref()
        .and_then(|g| grid(cx, f, g, &preg, &parameters, form.as_ref()));
    let keys = form
        .as_ref()
        .and_then(|form| fund_keys(cx, f, &id, fd, form));
    let (workflow, rules, form, keys) = (workflow?, rules?, form?, keys?);
    Some(Fund {
        keys,
        id,
        title: fd.title.clone(),
        purpose: fd.purpose.clone(),
        action,
        workflow,
        rules,
        envelope,
        calls,
        parameters,
        form,
        grid,
        ruleset: None,
    })
}

fn form(cx: &mut Cx<'_>, f: FileId, raw: &RawForm, r: &Registries) -> Option<Form> {
    let _ = r;
    let mut sets = Registry::new("set of choices");
    let mut choices = Vec::new();
    let mut options_of: HashMap<String, Registry> = HashMap::new();
    for c in &raw.choices {
        let Some(cid) = cx.declare(&mut sets, f, &c.id) else {
            continue;
        };
        let mut opts = Registry::new("choice");
        let options = c
            .option
            .iter()
            .filter_map(|o| {
                Some(Choice {
                    id: cx.declare(&mut opts, f, &o.id)?,
                    label: o.label.clone(),
                })
            })
            .collect();
        options_of.insert(cid.to_string(), opts);
        choices.push(ChoiceSet { id: cid, options });
    }
    let mut paths = Registry::new("field");
    let mut fields = Vec::new();
    let field_types: HashMap<String, (FieldType, Option<String>)> = raw
        .field
        .iter()
        .map(|fl| {
            (
                fl.path.get_ref().clone(),
                (fl.ty, fl.choices.as_ref().map(|c| c.get_ref().clone())),
            )
        })
        .collect();
    let mut ok = true;
    for fl in &raw.field {
        let path = fl.path.get_ref();
        let valid = !path.is_empty() && path.split('.').all(|seg| Id::parse(seg).is_ok());
        if !valid {
            cx.push(
                Diagnostic::at(
                    Code::InvalidId,
                    sp_loc(f, &fl.path),
                    format!("`{path}` is not a field path"),
                )
                .with_help("write a dotted path of ids, e.g. \"project.requested_amount\""),
            );
            ok = false;
            continue;
        }
        if paths.contains(path) {
            let first = paths.ids[path.as_str()].clone();
            cx.push(
                Diagnostic::at(
                    Code::DuplicateId,
                    sp_loc(f, &fl.path),
                    format!("field `{path}` is declared twice"),
                )
                .with_related(first, "first declared here"),
            );
            ok = false;
            continue;
        }
        paths
            .ids
            .insert(Arc::from(path.as_str()), sp_loc(f, &fl.path));
        let needs_choices = matches!(fl.ty, FieldType::Choice | FieldType::Choices);
        let choices_ref = match (&fl.choices, needs_choices) {
            (Some(c), true) => cx.refer(&sets, f, c),
            (None, true) => {
                cx.push(
                    Diagnostic::at(
                        Code::MissingKey,
                        sp_loc(f, &fl.path),
                        format!("field `{path}` of type choice needs `choices`"),
                    )
                    .with_help("name a set declared in `[[fund.form.choices]]`"),
                );
                ok = false;
                None
            }
            (Some(c), false) => {
                cx.push(
                    Diagnostic::at(
                        Code::WrongKindOfReference,
                        sp_loc(f, c),
                        format!("field `{path}` is not a choice field and cannot have `choices`"),
                    )
                    .with_help("set `type = \"choice\"` or remove `choices`"),
                );
                None
            }
            (None, false) => None,
        };
        let requirement = requirement(
            cx,
            f,
            fl.required,
            fl.required_when.as_ref(),
            &field_types,
            &options_of,
            &paths,
        );
        fields.push(Field {
            path: path.clone(),
            ty: fl.ty,
            label: fl.label.clone(),
            help: fl.help.clone(),
            choices: choices_ref,
            requirement: requirement?,
        });
    }
    let mut docs = Registry::new("document");
    let mut documents = Vec::new();
    for d in &raw.document {
        let Some(did) = cx.declare(&mut docs, f, &d.id) else {
            continue;
        };
        let requirement = requirement(
            cx,
            f,
            d.required,
            d.required_when.as_ref(),
            &field_types,
            &options_of,
            &paths,
        );
        documents.push(DocumentSpec {
            id: did,
            label: d.label.clone(),
            requirement: requirement?,
            reference: d.reference.clone(),
        });
    }
    ok.then_some(Form {
        choices,
        fields,
        documents,
    })
}

fn requirement(
    cx: &mut Cx<'_>,
    f: FileId,
    required: bool,
    when: Option<&RawCondition>,
    field_types: &HashMap<String, (FieldType, Option<String>)>,
    options_of: &HashMap<String, Registry>,
    paths: &Registry,
) -> Option<Requirement> {
    let Some(w) = when else {
        return Some(if required {
            Requirement::Always
        } else {
            Requirement::Optional
        });
    };
    if required {
        cx.push(
            Diagnostic::at(
                Code::ConflictingTiming,
                sp_loc(f, &w.field),
                "`required = true` and `required_when` contradict each other",
            )
            .with_help("keep `required_when` for a conditional requirement"),
        );
        return None;
    }
    let name = w.field.get_ref();
    let Some((ty, set)) = field_types.get(name) else {
        let all = Registry {
            kind: "field",
            ids: paths.ids.clone(),
        };
        cx.unknown(&all, sp_loc(f, &w.field), name);
        return None;
    };
    if *ty != FieldType::Choice {
        cx.push(Diagnostic::at(
            Code::WrongKindOfReference,
            sp_loc(f, &w.field),
            format!("`required_when` needs a choice field, and `{name}` is not one"),
        ));
        return None;
    }
    let opts = set.as_ref().and_then(|s| options_of.get(s))?;
    let values: Vec<Id> = w
        .values
        .iter()
        .filter_map(|v| cx.refer(opts, f, v))
        .collect();
    (values.len() == w.values.len()).then(|| Requirement::When {
        field: name.clone(),
        values,
    })
}

fn grid(
    cx: &mut Cx<'_>,
    f: FileId,
    g: &RawGrid,
    preg: &Registry,
    params: &[Parameter],
    form: Option<&Form>,
) -> Option<Grid> {
    let total = cx.non_negative(f, &g.total, "the grid total");
    let mut ids = Registry::new("grid criterion");
    let mut criteria = Vec::new();
    for c in &g.criterion {
        let cid = cx.declare(&mut ids, f, &c.id);
        let points = cx.refer(preg, f, &c.points);
        if let Some(p) = points
            .as_ref()
            .and_then(|p| params.iter().find(|x| &x.id == p))
            && p.unit != ParamUnit::Points
        {
            cx.push(
                Diagnostic::at(
                    Code::WrongKindOfReference,
                    sp_loc(f, &c.points),
                    format!("parameter `{}` is in {:?}, not points", p.id, p.unit),
                )
                .with_help("give the parameter `unit = \"points\"`"),
            );
        }
        let field = match (c.assessed, &c.field) {
            (Assessment::Automatic, Some(fl)) => {
                if let Some(form) = form {
                    match form.fields.iter().find(|x| x.path == *fl.get_ref()) {
                        Some(x) if x.ty == FieldType::Boolean => {}
                        Some(_) => cx.push(Diagnostic::at(
                            Code::WrongKindOfReference,
                            sp_loc(f, fl),
                            format!("field `{}` is not a boolean", fl.get_ref()),
                        )),
                        None => {
                            let reg = Registry {
                                kind: "field",
                                ids: form
                                    .fields
                                    .iter()
                                    .map(|x| (Arc::from(x.path.as_str()), Loc::new(f, 0..0)))
                                    .collect(),
                            };
                            cx.unknown(&reg, sp_loc(f, fl), fl.get_ref());
                        }
                    }
                }
                Some(fl.get_ref().clone())
            }
            // Computed by the rules script from other data (e.g. the communes' flags).
            (Assessment::Automatic, None) => None,
            (Assessment::Reviewer, Some(fl)) => {
                cx.push(
                    Diagnostic::at(
                        Code::WrongKindOfReference,
                        sp_loc(f, fl),
                        "a criterion scored by reviewers reads no field",
                    )
                    .with_help("remove `field`, or set `assessed = \"automatic\"`"),
                );
                None
            }
            (Assessment::Reviewer, None) => None,
        };
        if let (Some(id), Some(points)) = (cid, points) {
            criteria.push(GridCriterion {
                id,
                label: c.label.clone(),
                points,
                assessed: c.assessed,
                field,
            });
        }
    }
    // The points must add up to the total on every day a points value changes.
    let used: Vec<&Parameter> = criteria
        .iter()
        .filter_map(|c| params.iter().find(|p| p.id == c.points))
        .collect();
    let mut days: Vec<Date> = used
        .iter()
        .flat_map(|p| p.values.iter().map(|v| v.from))
        .collect();
    days.sort();
    days.dedup();
    for day in days {
        let sum: Option<Decimal> = used.iter().map(|p| p.values.at(day).map(|v| v.value)).sum();
        if let Some(sum) = sum
            && sum != total
        {
            cx.push(
                Diagnostic::at(
                    Code::GridTotal,
                    sp_loc(f, &g.total),
                    format!("on {day} the grid's points add up to {sum}, not {total}"),
                )
                .with_label("declared total"),
            );
            break;
        }
    }
    Some(Grid {
        total,
        reference: g.reference.clone(),
        criteria,
    })
}

fn progress(
    cx: &mut Cx<'_>,
    reports: Vec<Item<RawProgress>>,
    r: &Registries,
    index: &FxHashMap<Id, usize>,
    actions: &[Action],
) -> Vec<Option<Progress>> {
    let mut out: Vec<Option<Progress>> = vec![None; actions.len()];
    let mut seen: FxHashMap<(usize, Date), Loc> = FxHashMap::default();
    for it in reports {
        let (f, p) = (it.file, it.value);
        let Some(item) = cx.refer(&r.action, f, &p.item) else {
            continue;
        };
        let Some(&i) = index.get(item.as_str()) else {
            continue;
        };
        let as_of = p.as_of.get_ref().0;
        if let Some(first) = seen.get(&(i, as_of)) {
            cx.push(
                Diagnostic::at(
                    Code::DuplicateId,
                    sp_loc(f, &p.as_of),
                    format!("two progress reports on `{item}` for {as_of}"),
                )
                .with_related(first.clone(), "the other report"),
            );
            continue;
        }
        seen.insert((i, as_of), sp_loc(f, &p.as_of));
        if let Some(pc) = &p.percent
            && *pc.get_ref() > 100
        {
            cx.push(
                Diagnostic::at(
                    Code::InvalidValue,
                    sp_loc(f, pc),
                    format!("{}% is more than 100%", pc.get_ref()),
                )
                .with_label("a share of the work, 0 to 100"),
            );
        }
        if let Some(s) = &p.actual_start {
            cx.range(f, s, p.actual_finish.as_ref(), &format!("`{item}`"));
            if s.get_ref().0 > as_of {
                cx.push(Diagnostic::at(
                    Code::InvertedRange,
                    sp_loc(f, s),
                    format!(
                        "`{item}` started on {} after the report of {as_of}",
                        s.get_ref()
                    ),
                ));
            }
        }
        let needs = match p.status {
            Status::Done => p.actual_finish.is_none().then_some("actual_finish"),
            Status::InProgress | Status::Suspended => {
                p.actual_start.is_none().then_some("actual_start")
            }
            _ => None,
        };
        if let Some(key) = needs {
            cx.push(
                Diagnostic::at(
                    Code::MissingKey,
                    sp_loc(f, &p.item),
                    format!(
                        "progress of `{item}` says `{}` but has no `{key}`",
                        p.status.name()
                    ),
                )
                .with_help(format!("add `{key} = YYYY-MM-DD`")),
            );
        }
        let mut indicators = Vec::new();
        let mut reg = Registry::new("indicator");
        for ind in &actions[i].indicators {
            reg.ids.insert(ind.id.shared().clone(), sp_loc(f, &p.item));
        }
        for v in &p.indicator {
            if let Some(id) = cx.refer(&reg, f, &v.id) {
                indicators.push((id, v.value.get_ref().0));
            }
        }
        let report = Progress {
            status: p.status,
            as_of,
            actual_start: p.actual_start.map(|d| d.into_inner().0),
            actual_finish: p.actual_finish.map(|d| d.into_inner().0),
            percent: p.percent.map(|x| x.into_inner()),
            indicators,
            note: p.note,
        };
        // The latest report wins.
        if out[i].as_ref().is_none_or(|old| old.as_of < as_of) {
            out[i] = Some(report);
        }
    }
    out
}

fn baselines(
    cx: &mut Cx<'_>,
    raw: Vec<Item<RawBaseline>>,
    r: &Registries,
    index: &FxHashMap<Id, usize>,
) -> Vec<Baseline> {
    let mut ids = Registry::new("baseline");
    let mut out = Vec::new();
    for it in raw {
        let (f, b) = (it.file, it.value);
        let Some(id) = cx.declare(&mut ids, f, &b.id) else {
            continue;
        };
        let mut items: Vec<Option<(Date, Date)>> = vec![None; index.len()];
        let mut seen = Registry::new("baseline item");
        for e in &b.item {
            let Some(item) = cx.refer(&r.action, f, &e.id) else {
                continue;
            };
            if cx.declare(&mut seen, f, &e.id).is_none() {
                continue;
            }
            cx.range(
                f,
                &e.start,
                Some(&e.finish),
                &format!("`{item}` in baseline `{id}`"),
            );
            if let Some(&i) = index.get(item.as_str()) {
                items[i] = Some((e.start.get_ref().0, e.finish.get_ref().0));
            }
        }
        out.push(Baseline {
            id,
            label: b.label,
            taken_on: b.taken_on.get_ref().0,
            items,
        });
    }
    out
}

/// The fields the workflow reads, with their defaults, each a form field of the right type.
///
/// `Some(None)`: a fund with no `[fund.keys]` whose form has none of the default fields is a
/// rules-only fund (no workflow can file to it); `None`: errors were reported.
fn fund_keys(
    cx: &mut Cx<'_>,
    f: FileId,
    id: &Id,
    fd: &RawFund,
    form: &Form,
) -> Option<Option<FundKeys>> {
    let k = fd.keys.as_ref();
    let has = |path: &str, want: &[FieldType]| {
        form.fields
            .iter()
            .any(|x| x.path == path && want.contains(&x.ty))
    };
    if k.is_none()
        && !has("call", &[FieldType::Integer])
        && !has("applicant.siret", &[FieldType::Text, FieldType::Siret])
        && !has("project.requested_amount", &[FieldType::Money])
    {
        return Some(None);
    }
    let mut ok = true;
    let mut one = |key: &str, given: Option<&Sp<String>>, default: &str, want: &[FieldType]| {
        let path = given.map_or(default, |s| s.get_ref().as_str()).to_string();
        if !has(&path, want) {
            ok = false;
            let what = want
                .iter()
                .map(|t| format!("{t:?}").to_lowercase())
                .collect::<Vec<_>>()
                .join(" or ");
            let loc = given.map_or_else(|| sp_loc(f, &fd.id), |s| sp_loc(f, s));
            cx.push(
                Diagnostic::at(
                    Code::InvalidValue,
                    loc,
                    format!("fund `{id}`: `keys.{key}` is `{path}`, which is not a {what} field of the form"),
                )
                .with_label("the server reads this field of every application")
                .with_help(format!("add a {what} field `{path}` to the form, or set `keys.{key}` under [fund.keys] to the field that holds it")),
            );
        }
        path
    };
    let call = one(
        "call",
        k.and_then(|k| k.call.as_ref()),
        "call",
        &[FieldType::Integer],
    );
    let applicant = one(
        "applicant",
        k.and_then(|k| k.applicant.as_ref()),
        "applicant.siret",
        &[FieldType::Text, FieldType::Siret],
    );
    let applicant_name = one(
        "applicant_name",
        k.and_then(|k| k.applicant_name.as_ref()),
        "applicant.name",
        &[FieldType::Text, FieldType::LongText],
    );
    let title = one(
        "title",
        k.and_then(|k| k.title.as_ref()),
        "project.title",
        &[FieldType::Text, FieldType::LongText],
    );
    let requested_amount = one(
        "requested_amount",
        k.and_then(|k| k.requested_amount.as_ref()),
        "project.requested_amount",
        &[FieldType::Money],
    );
    ok.then_some(Some(FundKeys {
        call,
        applicant,
        applicant_name,
        title,
        requested_amount,
    }))
}
