//! The plan's header and its directory: every id declared first (files may be included in
//! any order), then axes and objectives, partners, territories, staff and officials.

use std::collections::HashMap;
use std::sync::Arc;

use super::registry::{Cx, Registries, Registry, sp_loc};
use crate::diagnostic::{Code, Diagnostic, Loc};
use crate::model::*;
use crate::plan::parse::{Item, RawParts};
use crate::plan::raw::*;
use crate::source::FileId;
use crate::suggest::closest;
use crate::workflow::SYSTEM_ROLE;

/// Checks `[plan]` itself: its id, period, currency and time zone; gives its id.
pub(super) fn header(cx: &mut Cx<'_>, plan_item: &Item<RawPlan>) -> Option<Id> {
    let pf = plan_item.file;
    let p = &plan_item.value;
    let plan_id = cx.id(pf, &p.id);
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
    plan_id
}

/// `[plan]` written more than once (only the first counts).
pub(super) fn extra_plans(cx: &mut Cx<'_>, plans: &[Item<RawPlan>]) {
    let Some(plan_item) = plans.first() else {
        return;
    };
    for extra in plans.iter().skip(1) {
        cx.push(
            Diagnostic::at(Code::DuplicateId, extra.loc(), "`[plan]` is declared twice")
                .with_related(plan_item.loc(), "first declared here")
                .with_help("`[plan]` belongs in plan.toml only"),
        );
    }
}

/// The ids of every namespace, declared before any item is converted; the labelled
/// registries and roles are complete once declared.
pub(super) struct Declared {
    pub(super) territory_flags: Vec<Labelled>,
    pub(super) roles: Vec<Role>,
    pub(super) audiences: Vec<Labelled>,
    pub(super) criteria: Vec<Labelled>,
    pub(super) domains: Vec<Labelled>,
    /// The axis each objective belongs to.
    pub(super) objective_axis: HashMap<String, String>,
    /// One per raw item, in file order: `None` where the declaration was refused.
    pub(super) axis: Vec<Option<Id>>,
    pub(super) action: Vec<Option<Id>>,
    pub(super) partner: Vec<Option<Id>>,
    pub(super) territory: Vec<Option<Id>>,
    pub(super) staff: Vec<Option<Id>>,
    pub(super) official: Vec<Option<Id>>,
    pub(super) fund: Vec<Option<Id>>,
    pub(super) workflow: Vec<Option<Id>>,
}

fn labelled(cx: &mut Cx<'_>, reg: &mut Registry, items: &[Item<RawLabelled>]) -> Vec<Labelled> {
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
}

/// Declares every id of the plan in its registry.
pub(super) fn declare(
    cx: &mut Cx<'_>,
    r: &mut Registries,
    parts: &RawParts,
    root_file: FileId,
) -> Declared {
    // The items of one kind declared in the registry of the same name, in file order.
    macro_rules! ids {
        ($kind:ident) => {
            parts
                .$kind
                .iter()
                .map(|a| cx.declare(&mut r.$kind, a.file, &a.value.id))
                .collect::<Vec<Option<Id>>>()
        };
    }
    let territory_flags = labelled(cx, &mut r.flag, &parts.territory_flag);
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
    let audiences = labelled(cx, &mut r.audience, &parts.audience);
    let criteria = labelled(cx, &mut r.criterion, &parts.criterion);
    let domains = labelled(cx, &mut r.domain, &parts.domain);

    let axis = ids!(axis);
    let mut objective_axis: HashMap<String, String> = HashMap::new();
    for a in &parts.axis {
        for o in &a.value.objective {
            if let Some(id) = cx.declare(&mut r.objective, a.file, &o.id) {
                objective_axis.insert(id.to_string(), a.value.id.get_ref().clone());
            }
        }
    }
    let action = ids!(action);
    let partner = ids!(partner);
    let territory = ids!(territory);
    let staff = ids!(staff);
    let official = ids!(official);
    let fund = ids!(fund);
    let workflow = ids!(workflow);
    Declared {
        territory_flags,
        roles,
        audiences,
        criteria,
        domains,
        objective_axis,
        axis,
        action,
        partner,
        territory,
        staff,
        official,
        fund,
        workflow,
    }
}

pub(super) fn axes(cx: &mut Cx<'_>, items: &[Item<RawAxis>], ids: Vec<Option<Id>>) -> Vec<Axis> {
    let axes: Vec<Axis> = items
        .iter()
        .zip(ids)
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
    axes
}

pub(super) fn partners(
    cx: &mut Cx<'_>,
    items: &[Item<RawPartner>],
    ids: Vec<Option<Id>>,
) -> Vec<Partner> {
    let partners: Vec<Partner> = items
        .iter()
        .zip(ids)
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
    partners
}

/// Territories, each at a level that fits its parent's, with unique codes.
pub(super) fn territories(
    cx: &mut Cx<'_>,
    items: &[Item<RawTerritory>],
    ids: Vec<Option<Id>>,
    r: &Registries,
) -> Vec<Territory> {
    let levels: HashMap<String, TerritoryLevel> = items
        .iter()
        .map(|t| (t.value.id.get_ref().clone(), t.value.level))
        .collect();
    let mut codes: HashMap<String, Loc> = HashMap::new();
    let mut territories = Vec::new();
    for (it, id) in items.iter().zip(ids) {
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
    territories
}

pub(super) fn staff(
    cx: &mut Cx<'_>,
    items: &[Item<RawStaff>],
    ids: Vec<Option<Id>>,
    r: &Registries,
) -> Vec<Staff> {
    let mut staff = Vec::new();
    for (it, id) in items.iter().zip(ids) {
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
    staff
}

pub(super) fn officials(
    cx: &mut Cx<'_>,
    items: &[Item<RawOfficial>],
    ids: Vec<Option<Id>>,
    r: &Registries,
) -> Vec<Official> {
    let mut officials = Vec::new();
    for (it, id) in items.iter().zip(ids) {
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
    officials
}

fn level_name(l: TerritoryLevel) -> &'static str {
    match l {
        TerritoryLevel::Area => "plan area",
        TerritoryLevel::Council => "territorial council",
        TerritoryLevel::Commune => "commune",
        TerritoryLevel::Neighbourhood => "neighbourhood",
    }
}
