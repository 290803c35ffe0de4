//! What a script sees: the fund's form, parameters and calls, and the plan's territories,
//! copied when the ruleset compiles.

use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::model::{CallWindow, Form, Fund, Grid, Parameter, Plan, Territory};

/// The form field that gives the date of filing: parameters are resolved on that day.
pub const FILING_DATE_FIELD: &str = "submitted_on";

/// What the rules may read of the plan, copied when the ruleset compiles so that an
/// evaluation needs nothing else (and the ruleset's hash covers all of it).
#[derive(Debug, Serialize)]
pub struct Env {
    pub plan: String,
    pub fund: String,
    pub fund_title: String,
    pub parameters: Vec<Parameter>,
    pub calls: Vec<CallWindow>,
    pub form: Form,
    pub grid: Option<Grid>,
    pub territories: Vec<TerritoryInfo>,
    /// The territory flags' labels, by id ("plcd" → "dotée d'un PLCD"), for the explanation.
    pub flag_labels: Vec<(String, String)>,
    /// The awarding authority and its service, for the explanation's mention.
    pub administration: Option<crate::model::Administration>,
    #[serde(skip)]
    territory_index: FxHashMap<String, usize>,
    /// Each territory's ancestors and council (indexes into `territories`), from the plan's
    /// hierarchy.
    #[serde(skip)]
    ancestors: Vec<Vec<usize>>,
    #[serde(skip)]
    councils: Vec<Option<usize>>,
}

/// A territory as the rules see it.
#[derive(Debug, Clone, Serialize)]
pub struct TerritoryInfo {
    pub id: String,
    pub name: String,
    pub level: String,
    pub code: Option<String>,
    pub parent: Option<usize>,
    pub flags: Vec<String>,
}

impl Env {
    pub(super) fn new(plan: &Plan, fund: &Fund, parameters: Vec<Parameter>) -> Env {
        let index_of = |t: &Territory| plan.territory_position(t.id.as_str());
        let territories: Vec<TerritoryInfo> = plan
            .territories
            .iter()
            .map(|t| TerritoryInfo {
                id: t.id.to_string(),
                name: t.name.clone(),
                level: serde_json::to_value(t.level)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                code: t.code.clone(),
                parent: t
                    .parent
                    .as_ref()
                    .and_then(|p| plan.territory_position(p.as_str())),
                flags: t.flags.iter().map(|f| f.to_string()).collect(),
            })
            .collect();
        let mut territory_index = FxHashMap::default();
        for (i, t) in territories.iter().enumerate() {
            territory_index.insert(t.id.clone(), i);
            if let Some(c) = &t.code {
                territory_index.entry(c.clone()).or_insert(i);
            }
        }
        let ancestors = plan
            .territories
            .iter()
            .map(|t| plan.ancestors(t.id.as_str()).filter_map(index_of).collect())
            .collect();
        let councils = plan
            .territories
            .iter()
            .map(|t| plan.council_of(t.id.as_str()).and_then(index_of))
            .collect();
        Env {
            plan: plan.id.to_string(),
            fund: fund.id.to_string(),
            fund_title: fund.title.clone(),
            parameters,
            calls: fund.calls.clone(),
            form: fund.form.clone(),
            grid: fund.grid.clone(),
            territories,
            flag_labels: plan
                .territory_flags
                .iter()
                .map(|f| (f.id.to_string(), f.label.clone()))
                .collect(),
            administration: fund.administration.clone(),
            territory_index,
            ancestors,
            councils,
        }
    }

    /// A territory by code (communes) or id.
    pub fn territory(&self, key: &str) -> Option<(usize, &TerritoryInfo)> {
        self.territory_index
            .get(key)
            .map(|&i| (i, &self.territories[i]))
    }

    pub(super) fn parameter(&self, id: &str) -> Option<&Parameter> {
        self.parameters.iter().find(|p| p.id.as_str() == id)
    }

    /// The territory and its ancestors, nearest first.
    pub(super) fn lineage(&self, i: usize) -> impl Iterator<Item = &TerritoryInfo> {
        std::iter::once(i)
            .chain(self.ancestors[i].iter().copied())
            .map(|j| &self.territories[j])
    }

    /// The territorial council territory `i` is or belongs to.
    pub(super) fn council(&self, i: usize) -> Option<&TerritoryInfo> {
        self.councils[i].map(|j| &self.territories[j])
    }
}
