//! Applications through their workflow: the facts the engine's [`decide`] needs are read in
//! the write transaction, its decision is stored in the same transaction with the audit
//! events, the envelope commitment, the idempotency record and the notification.

mod action_body;
mod applications;
mod content;
pub mod documents;
mod eligibility;
mod exports;
mod facts;
mod idempotency;
mod ledger;
pub mod letters;
mod rows;
mod time;
mod transitions;
mod views;

pub use action_body::ActionBody;
pub use applications::{ListQuery, Page};
pub use eligibility::set_by_server;
pub use idempotency::Reply;
pub use ledger::{EnvelopeView, envelope_of};
pub use views::{ApplicationView, DocumentView, OpinionView, Presence};

use std::sync::Arc;

use jiff::civil::Date;
use metroplan_engine::model::{Fund, Workflow};
use rust_decimal::Decimal;

use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::plans::{PlanSet, Served};
use crate::rules_guard::RulesGuard;
use crate::store::Db;

/// What the services share.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub db: Db,
    pub plans: PlanSet,
    pub clock: Clock,
    pub metrics: Arc<Metrics>,
    pub rules: Arc<RulesGuard>,
    /// Where issued documents are kept, and the pages' public address for links.
    pub letters: letters::LetterStore,
    /// How much may be uploaded to a file and by a person.
    pub quotas: documents::Quotas,
}

/// The amount in cents; `None` for a fraction of a cent or an amount beyond `i64` cents
/// (a `Decimal` near its maximum overflows when multiplied, so the product is checked).
pub fn cents(d: Decimal) -> Option<i64> {
    let c = d.checked_mul(Decimal::ONE_HUNDRED)?;
    (c.fract().is_zero()).then(|| i64::try_from(c.trunc()).ok())?
}

pub fn euros(c: i64) -> Decimal {
    Decimal::new(c, 2)
}

fn money(c: Option<i64>) -> Option<String> {
    c.map(|c| euros(c).to_string())
}

/// The plan, fund and workflow of an application.
fn scope<'a>(served: &'a Served, fund: &str) -> Result<(&'a Fund, &'a Workflow)> {
    let f = served.plan.fund(fund).ok_or_else(|| {
        Error::NotFound(format!("plan `{}` has no fund `{fund}`", served.plan.id))
    })?;
    let wf = served
        .plan
        .workflow(f.workflow.as_str())
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("fund `{fund}` has no workflow")))?;
    Ok((f, wf))
}

/// The fund and workflow of an existing file, for a change to it: refused (409, nothing
/// written) when a live edit renamed or removed its plan or fund, or took its state out of
/// the fund's workflow. Reading such a file never goes through here (see `Ctx::view`).
fn file_scope<'a>(
    served: Option<&'a Served>,
    id: &str,
    plan: &str,
    fund: &str,
    state: &str,
) -> Result<(&'a Fund, &'a Workflow)> {
    let refused = |what: String| {
        Error::PlanChanged(format!(
            "application `{id}` belongs to {what}: a live edit of the plan renamed or removed it. The file can be read but not changed; nothing was recorded"
        ))
    };
    let served =
        served.ok_or_else(|| refused(format!("plan `{plan}`, which is not served any more")))?;
    let f = served
        .plan
        .fund(fund)
        .ok_or_else(|| refused(format!("fund `{fund}`, which plan `{plan}` no longer has")))?;
    let wf = served
        .plan
        .workflow(f.workflow.as_str())
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("fund `{fund}` has no workflow")))?;
    if !wf.states.iter().any(|s| s.id.as_str() == state) {
        return Err(refused(format!(
            "state `{state}`, which the workflow `{}` of fund `{fund}` no longer has",
            wf.id
        )));
    }
    Ok((f, wf))
}

impl Ctx {
    pub fn served(&self, plan: &str) -> Result<Arc<Served>> {
        self.plans
            .get(plan)
            .ok_or_else(|| Error::NotFound(format!("no plan `{plan}`")))
    }

    /// The plan of an existing file, for a change to it: see [`file_scope`].
    fn served_for_change(
        &self,
        id: &str,
        plan: &str,
        fund: &str,
        state: &str,
    ) -> Result<Arc<Served>> {
        let served = self.plans.get(plan);
        file_scope(served.as_deref(), id, plan, fund, state)?;
        served.ok_or_else(|| Error::Internal(anyhow::anyhow!("plan `{plan}` vanished")))
    }

    fn today(&self, served: &Served) -> Date {
        self.clock.now().to_zoned_datetime(served.tz.clone()).date()
    }
}
