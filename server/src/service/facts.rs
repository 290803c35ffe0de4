//! The facts `workflow::decide` needs, read in the write transaction.

use jiff::civil::Date;
use metroplan_engine::model::{Fund, RoleKind};
use metroplan_engine::rules::Outcome;
use metroplan_engine::workflow::Facts;
use rust_decimal::Decimal;
use sqlx::Row;

use crate::error::Result;
use crate::store::WriteTx;

use super::ledger::envelope_of;
use super::rows::AppRow;
use super::{Ctx, euros};

impl Ctx {
    /// What `decide` needs: the people who acted on the application, the earlier filings
    /// and the year's ledger.
    pub(super) async fn facts(
        &self,
        tx: &mut WriteTx,
        fund: &Fund,
        row: &AppRow,
        today: Date,
        stored: bool,
    ) -> Result<Facts> {
        // A new application has nobody yet who acted on it.
        let people = if !stored {
            Vec::new()
        } else {
            sqlx::query(
            "SELECT actor, kind FROM participants WHERE application_id = $1 \
             UNION ALL SELECT reviewer AS actor, 'opinion' AS kind FROM opinions WHERE application_id = $1",
        )
        .bind(&row.id)
        .fetch_all(&mut *tx.tx)
        .await?
        };
        let (mut instructors, mut reviewers) = (Vec::new(), Vec::new());
        for p in &people {
            let kind: String = p.try_get("kind")?;
            let actor: String = p.try_get("actor")?;
            if kind == RoleKind::Instructor.name() {
                instructors.push(actor);
            } else if kind == "opinion" {
                reviewers.push(actor);
            }
        }
        let year = row.call_year.unwrap_or(0);
        let counts = sqlx::query(
            "SELECT COUNT(*) AS others FROM filings WHERE plan = $1 AND fund = $2 AND call_year = $3 AND applicant_key = $4 AND application_id <> $5",
        )
        .bind(&row.plan)
        .bind(&row.fund)
        .bind(year)
        .bind(row.applicant_key.as_deref().unwrap_or(""))
        .bind(&row.id)
        .fetch_one(&mut *tx.tx)
        .await?;
        let other_filings: i64 = counts.try_get("others")?;
        let committed = self.committed(tx, row, year).await?;
        let envelope = envelope_of(fund, year);
        let call_open = row.call_year.is_some_and(|y| {
            fund.calls
                .iter()
                .any(|c| i64::from(c.year) == y && c.opens <= today && today <= c.closes)
        });
        Ok(Facts {
            state: row.state.clone(),
            owner: row.owner_id.clone(),
            instructors,
            reviewers,
            outcome: outcome_of(row.outcome.as_deref()),
            requested: requested_of(row),
            awarded: row.awarded_cents.map(euros),
            paid: euros(row.paid_cents),
            deadline: row.deadline.as_deref().and_then(|d| d.parse().ok()),
            today,
            call_open,
            other_filings: other_filings as u32,
            envelope_remaining: Some(envelope - euros(committed)),
            final_report: row.final_report != 0,
        })
    }
}

pub(super) fn outcome_of(o: Option<&str>) -> Option<Outcome> {
    match o? {
        "eligible" => Some(Outcome::Eligible),
        "ineligible" => Some(Outcome::Ineligible),
        "incomplete" => Some(Outcome::Incomplete),
        _ => None,
    }
}

/// The amount the rules accepted: the requested amount of an eligible application.
pub(super) fn requested_of(row: &AppRow) -> Option<Decimal> {
    (row.outcome.as_deref() == Some("eligible"))
        .then(|| row.requested_cents.map(euros))
        .flatten()
}
