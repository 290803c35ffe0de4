//! "What is due this quarter?": the items and occurrences of a schedule that overlap a window
//! and match filters, in date order. The one query behind `metroplan timeline`, the API's
//! `/timeline` and the pages, so that they cannot answer differently.

use jiff::civil::Date;
use serde::Serialize;

use super::cpm::Schedule;
use super::query;
use crate::model::{Plan, Status};
use crate::suggest;

/// The filters of a timeline query; `None` or `false` leaves a filter out.
#[derive(Debug, Clone, Default)]
pub struct Filter<'a> {
    /// First day of the window (default: the plan's start).
    pub from: Option<Date>,
    /// Last day of the window (default: the schedule's finish or the horizon, the later).
    pub to: Option<Date>,
    pub axis: Option<&'a str>,
    /// Items this partner leads.
    pub lead: Option<&'a str>,
    /// Items this partner leads or takes part in.
    pub partner: Option<&'a str>,
    /// Items in this territory, inside it, or covering it.
    pub territory: Option<&'a str>,
    /// Items in this state ("not-started" includes items without a progress report).
    pub status: Option<Status>,
    /// Only late items (past their deadline or baseline, or suspended).
    pub late: bool,
    /// Only what must finish before this item.
    pub upstream: Option<&'a str>,
    /// Only what this item unblocks.
    pub downstream: Option<&'a str>,
    /// Only the first N entries starting on or after `as_of`.
    pub next: Option<usize>,
    /// The reference day of `next`.
    pub as_of: Option<Date>,
}

/// The answer: the window actually used and the entries, in date order.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Timeline<'p> {
    pub plan: &'p str,
    pub from: Date,
    pub to: Date,
    pub items: Vec<Entry<'p>>,
}

/// One item, or one occurrence of a recurring item.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Entry<'p> {
    pub id: &'p str,
    pub title: &'p str,
    pub axis: &'p str,
    pub start: Date,
    /// Last day (inclusive).
    pub finish: Date,
    /// The year of this occurrence, for a recurring item.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub occurrence: Option<i16>,
    pub critical: bool,
    pub status: &'static str,
    pub late: bool,
}

/// What is wrong with a query: a filter naming nothing the plan has, or an inverted window.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("no {what} `{value}` in plan `{plan}`{}", hint(.suggestions))]
    Unknown {
        /// The filter at fault: `axis`, `lead`, `partner`, `territory`, `upstream`, `downstream`.
        filter: &'static str,
        what: &'static str,
        value: String,
        plan: String,
        suggestions: Vec<String>,
    },
    #[error("the window ends ({to}) before it starts ({from})")]
    Inverted { from: Date, to: Date },
    #[error("upstream and downstream are one question each: ask one of them")]
    UpstreamAndDownstream,
}

impl FilterError {
    /// The filter the error is about (`to` for an inverted window).
    pub fn filter(&self) -> &'static str {
        match self {
            FilterError::Unknown { filter, .. } => filter,
            FilterError::Inverted { .. } => "to",
            FilterError::UpstreamAndDownstream => "downstream",
        }
    }
}

fn hint(s: &[String]) -> String {
    if s.is_empty() {
        String::new()
    } else {
        format!(" (did you mean `{}`?)", s.join("`, `"))
    }
}

fn known<'i>(
    plan: &Plan,
    filter: &'static str,
    what: &'static str,
    value: Option<&str>,
    ids: impl Iterator<Item = &'i str> + Clone,
) -> Result<(), FilterError> {
    match value {
        Some(v) if !ids.clone().any(|i| i == v) => Err(FilterError::Unknown {
            filter,
            what,
            value: v.to_string(),
            plan: plan.id.to_string(),
            suggestions: suggest::closest(v, ids),
        }),
        _ => Ok(()),
    }
}

fn item_index(plan: &Plan, filter: &'static str, id: &str) -> Result<usize, FilterError> {
    let ids = plan.actions.iter().map(|a| a.id.as_str());
    known(plan, filter, "item", Some(id), ids)?;
    Ok(plan
        .actions
        .iter()
        .position(|a| a.id.as_str() == id)
        .expect("checked just above"))
}

impl<'a> Filter<'a> {
    /// The item filters checked against the plan (every id they name exists), ready to test
    /// items: the window, `next` and `as_of` are the timeline's, not the matcher's.
    pub fn matcher(&self, plan: &Plan) -> Result<Matcher<'_>, FilterError> {
        known(
            plan,
            "axis",
            "axis",
            self.axis,
            plan.axes.iter().map(|a| a.id.as_str()),
        )?;
        let partners = plan.partners.iter().map(|p| p.id.as_str());
        known(plan, "lead", "partner", self.lead, partners.clone())?;
        known(plan, "partner", "partner", self.partner, partners)?;
        known(
            plan,
            "territory",
            "territory",
            self.territory,
            plan.territories.iter().map(|t| t.id.as_str()),
        )?;
        let related = match (self.upstream, self.downstream) {
            (Some(_), Some(_)) => return Err(FilterError::UpstreamAndDownstream),
            (Some(id), _) => Some(mark(
                plan,
                query::upstream(plan, item_index(plan, "upstream", id)?),
            )),
            (_, Some(id)) => Some(mark(
                plan,
                query::downstream(plan, item_index(plan, "downstream", id)?),
            )),
            _ => None,
        };
        Ok(Matcher {
            filter: self,
            related,
        })
    }
}

/// A [`Filter`] checked against a plan: tests whether an item passes every item filter.
#[derive(Debug)]
pub struct Matcher<'f> {
    filter: &'f Filter<'f>,
    related: Option<Vec<bool>>,
}

impl Matcher<'_> {
    /// Whether item `i` of the plan passes every item filter in schedule `s`.
    pub fn keeps(&self, plan: &Plan, s: &Schedule<'_>, i: usize) -> bool {
        let f = self.filter;
        let a = &plan.actions[i];
        let it = s.item(i);
        let status = it.status.unwrap_or(Status::NotStarted);
        f.axis.is_none_or(|x| a.axis.as_str() == x)
            && f.lead
                .is_none_or(|x| a.lead.as_ref().is_some_and(|l| l.as_str() == x))
            && f.partner.is_none_or(|p| {
                a.lead.as_ref().is_some_and(|l| l.as_str() == p)
                    || a.partners.iter().any(|x| x.as_str() == p)
            })
            && f.territory.is_none_or(|t| {
                a.territories
                    .iter()
                    .any(|x| related_territory(plan, x.as_str(), t))
            })
            && self.related.as_ref().is_none_or(|r| r[i])
            && f.status.is_none_or(|st| st == status)
            && (!f.late || it.late)
    }
}

/// The entries of `s` that overlap the window and pass every filter; each occurrence of a
/// recurring item is an entry of its own.
pub fn timeline<'p>(
    plan: &'p Plan,
    s: &Schedule<'p>,
    f: &Filter<'_>,
) -> Result<Timeline<'p>, FilterError> {
    let matcher = f.matcher(plan)?;
    let from = f.from.unwrap_or(plan.start);
    let to = f.to.unwrap_or(s.finish.max(plan.horizon));
    if to < from {
        return Err(FilterError::Inverted { from, to });
    }
    let mut items = Vec::new();
    for (i, (a, it)) in plan.actions.iter().zip(s.items()).enumerate() {
        if !matcher.keeps(plan, s, i) {
            continue;
        }
        let status = it.status.unwrap_or(Status::NotStarted);
        let recurring = !it.occurrences.is_empty();
        let spans = if recurring {
            it.occurrences.clone()
        } else {
            vec![(it.early_start, it.early_finish)]
        };
        for (start, finish) in spans {
            let upcoming = f.next.is_none() || f.as_of.is_none_or(|d| start >= d);
            if start <= to && finish >= from && upcoming {
                items.push(Entry {
                    id: a.id.as_str(),
                    title: a.title.as_str(),
                    axis: a.axis.as_str(),
                    start,
                    finish,
                    occurrence: recurring.then(|| start.year()),
                    critical: it.critical,
                    status: status.name(),
                    late: it.late,
                });
            }
        }
    }
    items.sort_by(|a, b| (a.start, a.finish, a.id).cmp(&(b.start, b.finish, b.id)));
    if let Some(n) = f.next {
        items.truncate(n);
    }
    Ok(Timeline {
        plan: plan.id.as_str(),
        from,
        to,
        items,
    })
}

fn mark(plan: &Plan, items: Vec<usize>) -> Vec<bool> {
    let mut v = vec![false; plan.actions.len()];
    for i in items {
        v[i] = true;
    }
    v
}

/// Whether territory `a` is `b`, inside it, or contains it.
fn related_territory(plan: &Plan, a: &str, b: &str) -> bool {
    a == b
        || plan.ancestors(a).any(|t| t.id.as_str() == b)
        || plan.ancestors(b).any(|t| t.id.as_str() == a)
}
