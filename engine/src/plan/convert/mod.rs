//! From raw items to the domain model: every check that needs the whole plan.
//!
//! Registries are declared first (so that files can be included in any order), then
//! every item is converted; each problem becomes a diagnostic and conversion goes on,
//! so one run reports everything. One module per part of the plan: `directory` (the
//! header, every id, axes, partners, territories, staff, officials), `calendar`,
//! `actions` (with the dependency graph), `budget`, `workflow`, `fund` and its `form`,
//! `progress` (and baselines); `registry` holds what they share.

mod actions;
mod budget;
mod calendar;
mod directory;
mod form;
mod fund;
mod progress;
mod registry;
mod workflow;

use super::files::PlanSource;
use super::parse::RawParts;
use crate::diagnostic::{Code, Diagnostic, Diagnostics, Loc};
use crate::graph;
use crate::model::*;
use crate::source::FileId;
use registry::{Cx, Registries};

/// Converts and validates; returns the plan when no error was found.
pub(crate) fn convert(
    mut parts: RawParts,
    root_file: FileId,
    source: &dyn PlanSource,
    diags: &mut Diagnostics,
) -> Option<Plan> {
    let mut cx = Cx { diags };
    let plans = std::mem::take(&mut parts.plan);
    let Some(plan_item) = plans.first() else {
        if parts.syntax_errors {
            return None;
        }
        cx.push(
            Diagnostic::at(Code::MissingPlan, Loc::new(root_file, 0..0), "the root file has no `[plan]` section")
                .with_help("start plan.toml with a [plan] table: id, title, owner, deliberation, start, horizon, currency, locale, timezone"),
        );
        return None;
    };
    let p = &plan_item.value;
    let (start, horizon) = (p.start.get_ref().0, p.horizon.get_ref().0);
    let plan_id = directory::header(&mut cx, plan_item);

    let mut r = Registries::new();
    let d = directory::declare(&mut cx, &mut r, &parts, root_file);
    let calendar = calendar::calendar(&mut cx, &parts.calendar);
    directory::extra_plans(&mut cx, &plans);
    let axes = directory::axes(&mut cx, &parts.axis, d.axis);
    let partners = directory::partners(&mut cx, &parts.partner, d.partner);
    let territories = directory::territories(&mut cx, &parts.territory, d.territory, &r);
    let staff = directory::staff(&mut cx, &parts.staff, d.staff, &r);
    let officials = directory::officials(&mut cx, &parts.official, d.official, &r);
    let period = actions::Period { start, horizon };
    let raw_actions = std::mem::take(&mut parts.action);
    let actions::Actions {
        actions,
        index: action_index,
        lines,
    } = actions::actions(
        &mut cx,
        raw_actions,
        d.action,
        &r,
        &d.objective_axis,
        period,
    );
    let budget = budget::budget(&mut cx, &parts, &r, start, horizon, &lines);
    let workflows = workflow::workflows(&mut cx, &parts.workflow, d.workflow, &r);
    let funds = fund::funds(
        &mut cx,
        &parts.fund,
        d.fund,
        &r,
        source,
        &budget,
        (start, horizon),
    );
    workflow::workflow_parameters(&mut cx, &parts.workflow, &funds, &workflows);
    workflow::piece_kinds(&mut cx, &parts.workflow, &funds);
    let reports = std::mem::take(&mut parts.progress);
    let progress = progress::progress(&mut cx, reports, &r, &action_index, &actions);
    let baselines = std::mem::take(&mut parts.baseline);
    let baselines = progress::baselines(&mut cx, baselines, &r, &action_index);

    let plan_id = plan_id?;
    if cx.diags.has_errors() {
        return None;
    }
    let graph =
        graph::DependencyGraph::new(&actions, |i| progress.get(i).is_some_and(Option::is_some));
    let territory_tree = TerritoryTree::new(&territories);
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
        timezone: p.timezone.get_ref().clone(),
        summary: p.summary.clone(),
        source_document: p.source.as_ref().map(|s| s.title.clone()),
        calendar,
        axes,
        actions,
        partners,
        territories,
        territory_flags: d.territory_flags,
        staff,
        officials,
        roles: d.roles,
        audiences: d.audiences,
        criteria: d.criteria,
        domains: d.domains,
        budget,
        funds,
        workflows,
        progress,
        baselines,
        pages: Vec::new(),
        logo: None,
        action_index,
        graph,
        territory_tree,
    })
}
