//! The facts `workflow::decide` needs, read in the write transaction.

use jiff::civil::Date;
use metroplan_engine::model::Fund;
use metroplan_engine::rules::Outcome;
use metroplan_engine::workflow::{Facts, Money, Opinion};
use rust_decimal::Decimal;
use sqlx::Row;

use crate::error::Result;
use crate::store::WriteTx;

use super::ledger::{envelope_of, of_application};
use super::rows::AppRow;
use super::{Ctx, euros};

impl Ctx {
    /// What `decide` needs: who took which step, the opinions and declarations, the
    /// earlier filings, the file's ledger and the year's, and the file as it will be.
    pub(super) async fn facts(
        &self,
        tx: &mut WriteTx,
        fund: &Fund,
        row: &AppRow,
        today: Date,
        stored: bool,
    ) -> Result<Facts> {
        let (mut steps, mut opinions, mut declared) = (Vec::new(), Vec::new(), Vec::new());
        // A new application has nobody yet who acted on it.
        if stored {
            for r in sqlx::query(
                "SELECT action, actor FROM events WHERE application_id = $1 ORDER BY seq",
            )
            .bind(&row.id)
            .fetch_all(&mut *tx.tx)
            .await?
            {
                steps.push((
                    r.try_get::<String, _>("action")?,
                    r.try_get::<String, _>("actor")?,
                ));
            }
            for r in
                sqlx::query("SELECT reviewer, favourable FROM opinions WHERE application_id = $1")
                    .bind(&row.id)
                    .fetch_all(&mut *tx.tx)
                    .await?
            {
                opinions.push(Opinion {
                    reviewer: r.try_get("reviewer")?,
                    favourable: r.try_get::<Option<i64>, _>("favourable")?.unwrap_or(0) != 0,
                });
            }
            for r in sqlx::query("SELECT reviewer FROM declarations WHERE application_id = $1")
                .bind(&row.id)
                .fetch_all(&mut *tx.tx)
                .await?
            {
                declared.push(r.try_get("reviewer")?);
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
        let mine = of_application(&mut *tx.tx, &row.id).await?;
        let mut pieces = Vec::new();
        for r in sqlx::query("SELECT kind FROM documents WHERE application_id = $1")
            .bind(&row.id)
            .fetch_all(&mut *tx.tx)
            .await?
        {
            pieces.push(r.try_get("kind")?);
        }
        Ok(Facts {
            state: row.state.clone(),
            owner: row.owner_id.clone(),
            actor_is_filer: false,
            steps,
            opinions,
            declared,
            outcome: outcome_of(row.outcome.as_deref()),
            requested: requested_of(row),
            money: Money {
                committed: euros(mine.committed_cents),
                paid: euros(mine.paid_cents),
                reclaimed: euros(mine.reclaimed_cents),
            },
            deadline: row.deadline.as_deref().and_then(|d| d.parse().ok()),
            today,
            call_open,
            other_filings: other_filings as u32,
            envelope_remaining: Some(envelope - euros(committed)),
            final_report: row.final_report != 0,
            pieces,
            data: serde_json::from_str(&row.data).unwrap_or(serde_json::Value::Null),
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
