//! A fund's ledger: append-only entries (commit, decommit, payment, reclaim), each of one file
//! and one year; what is committed and paid are sums of entries. The one home of its SQL:
//! the reads (the guards' facts, the envelope check's refusal, the envelope view), the
//! award's check-and-commit, and the entries of every other effect. The `ledger` row of a
//! year is the lock and running total of commitments that the envelope check's one
//! conditional statement reads; the random walks check that it equals the entries' sum.
use std::sync::atomic::Ordering;

use jiff::civil::Date;
use metroplan_engine::model::{Fund, RoleKind};
use metroplan_engine::workflow::Effect;
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::store::WriteTx;
use crate::tokens::Principal;

use super::rows::AppRow;
use super::{Ctx, cents, euros, scope};

/// Sums of entries, in cents.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct Totals {
    /// Commitments less decommitments.
    pub committed_cents: i64,
    pub paid_cents: i64,
    pub reclaimed_cents: i64,
}

const SUMS: &str = "SELECT CAST(COALESCE(SUM(CASE kind WHEN 'commit' THEN cents WHEN 'decommit' THEN -cents ELSE 0 END), 0) AS BIGINT) AS committed_cents, \
     CAST(COALESCE(SUM(CASE kind WHEN 'payment' THEN cents ELSE 0 END), 0) AS BIGINT) AS paid_cents, \
     CAST(COALESCE(SUM(CASE kind WHEN 'reclaim' THEN cents ELSE 0 END), 0) AS BIGINT) AS reclaimed_cents FROM ledger_entries";

/// The totals of `fund` of `plan` for `year`; zero when nothing was recorded that year.
pub async fn totals<'e, E>(ex: E, plan: &str, fund: &str, year: i64) -> Result<Totals, sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query_as::<_, Totals>(&format!(
        "{SUMS} WHERE plan = $1 AND fund = $2 AND year = $3"
    ))
    .bind(plan)
    .bind(fund)
    .bind(year)
    .fetch_one(ex)
    .await
}

/// The totals of one file.
pub async fn of_application<'e, E>(ex: E, id: &str) -> Result<Totals, sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query_as::<_, Totals>(&format!("{SUMS} WHERE application_id = $1"))
        .bind(id)
        .fetch_one(ex)
        .await
}

/// One ledger entry, as the open-data export reads it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Entry {
    pub application_id: String,
    /// `commit`, `decommit`, `payment` or `reclaim`.
    pub kind: String,
    pub cents: i64,
    /// When it was booked (RFC 3339, UTC).
    pub at: String,
}

/// Every entry of `fund` of `plan`, in the order they were booked.
pub async fn entries_of_fund<'e, E>(
    ex: E,
    plan: &str,
    fund: &str,
) -> Result<Vec<Entry>, sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query_as::<_, Entry>(
        "SELECT application_id, kind, cents, at FROM ledger_entries WHERE plan = $1 AND fund = $2 ORDER BY id",
    )
    .bind(plan)
    .bind(fund)
    .fetch_all(ex)
    .await
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EnvelopeView {
    pub plan: String,
    pub fund: String,
    pub year: i64,
    pub envelope: String,
    pub committed: String,
    pub paid: String,
    pub remaining: String,
}

impl Ctx {
    pub(super) async fn commit_award(
        &self,
        tx: &mut WriteTx,
        fund: &Fund,
        row: &mut AppRow,
        amount: Decimal,
        now_s: &str,
    ) -> Result<()> {
        let c = cents(amount)
            .ok_or_else(|| Error::unprocessable("at most 2 decimals", Some("amount")))?;
        let year = row.call_year.unwrap_or(0);
        let envelope = envelope_of(fund, year);
        let env_c = cents(envelope).unwrap_or(0);
        sqlx::query(
            "INSERT INTO ledger (plan, fund, year) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(&row.plan)
        .bind(&row.fund)
        .bind(year)
        .execute(&mut *tx.tx)
        .await?;
        // The check and the commitment are one statement: on PostgreSQL the row lock makes a
        // concurrent approval re-read the committed total before testing it.
        let updated = sqlx::query("UPDATE ledger SET committed_cents = committed_cents + $1 WHERE plan = $2 AND fund = $3 AND year = $4 AND committed_cents + $1 <= $5")
            .bind(c).bind(&row.plan).bind(&row.fund).bind(year).bind(env_c)
            .execute(&mut *tx.tx).await?
            .rows_affected();
        if updated != 1 {
            let committed = euros(self.committed(tx, row, year).await?);
            self.metrics.refusals.fetch_add(1, Ordering::Relaxed);
            return Err(over_envelope(fund, year, amount, committed));
        }
        row.decided_on = Some(now_s.to_string());
        Ok(())
    }

    /// Writes the ledger entries of a step's effects, in the decision's transaction, and
    /// keeps the file's amounts (what views and exports read) equal to their sums.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn book(
        &self,
        tx: &mut WriteTx,
        fund: &Fund,
        row: &mut AppRow,
        effects: &[Effect],
        action: &str,
        now_s: &str,
        payload: &mut Value,
    ) -> Result<()> {
        for e in effects {
            let (kind, amount, key) = match *e {
                Effect::Commit(a) => ("commit", a, "amount"),
                Effect::Decommit(a) => ("decommit", a, "decommitted"),
                Effect::Payment(a) => ("payment", a, "payment"),
                Effect::Reclaim(a) => ("reclaim", a, "reclaimed"),
            };
            let c = cents(amount)
                .ok_or_else(|| Error::unprocessable("at most 2 decimals", Some("amount")))?;
            let year = row.call_year.unwrap_or(0);
            // The year's running totals move with the entry (the envelope check reads them).
            match *e {
                Effect::Commit(_) => self.commit_award(tx, fund, row, amount, now_s).await?,
                Effect::Decommit(_) => {
                    sqlx::query("UPDATE ledger SET committed_cents = committed_cents - $1 WHERE plan = $2 AND fund = $3 AND year = $4")
                        .bind(c).bind(&row.plan).bind(&row.fund).bind(year)
                        .execute(&mut *tx.tx).await?;
                }
                Effect::Payment(_) => record_payment(tx, row, c).await?,
                Effect::Reclaim(_) => {}
            }
            sqlx::query("INSERT INTO ledger_entries (plan, fund, year, application_id, kind, cents, at, action) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                .bind(&row.plan)
                .bind(&row.fund)
                .bind(year)
                .bind(&row.id)
                .bind(kind)
                .bind(c)
                .bind(now_s)
                .bind(action)
                .execute(&mut *tx.tx)
                .await?;
            payload[key] = json!(amount.to_string());
            // The entry itself, in the event: `audit verify` rebuilds the money tables from
            // the chain and compares (crate::audit::money).
            let entry =
                json!({"plan": row.plan, "fund": row.fund, "year": year, "kind": kind, "cents": c});
            match payload.get_mut("ledger").and_then(Value::as_array_mut) {
                Some(entries) => entries.push(entry),
                None => payload["ledger"] = json!([entry]),
            }
        }
        if !effects.is_empty() {
            let t = of_application(&mut *tx.tx, &row.id).await?;
            row.awarded_cents =
                (t.committed_cents > 0 || row.awarded_cents.is_some()).then_some(t.committed_cents);
            row.paid_cents = t.paid_cents;
        }
        Ok(())
    }

    pub(super) async fn committed(&self, tx: &mut WriteTx, row: &AppRow, year: i64) -> Result<i64> {
        Ok(totals(&mut *tx.tx, &row.plan, &row.fund, year)
            .await?
            .committed_cents)
    }

    pub async fn envelope(
        &self,
        who: &Principal,
        plan: &str,
        fund_id: &str,
        year: i64,
    ) -> Result<EnvelopeView> {
        let served = self.served(plan)?;
        let (fund, _) = scope(&served, fund_id)?;
        if who.role == RoleKind::Applicant || !who.covers(plan, fund_id) {
            return Err(Error::Forbidden(
                "the envelope is for staff of this fund".into(),
            ));
        }
        let t = totals(&self.db.pool, plan, fund_id, year).await?;
        let (c, p) = (t.committed_cents, t.paid_cents);
        let env = envelope_of(fund, year);
        Ok(EnvelopeView {
            plan: plan.into(),
            fund: fund_id.into(),
            year,
            envelope: env.to_string(),
            committed: euros(c).to_string(),
            paid: euros(p).to_string(),
            remaining: (env - euros(c)).to_string(),
        })
    }
}

/// Adds a payment of `c` cents to the ledger of the application's call year.
pub(super) async fn record_payment(tx: &mut WriteTx, row: &AppRow, c: i64) -> Result<()> {
    let year = row.call_year.unwrap_or(0);
    sqlx::query("INSERT INTO ledger (plan, fund, year) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
        .bind(&row.plan)
        .bind(&row.fund)
        .bind(year)
        .execute(&mut *tx.tx)
        .await?;
    sqlx::query("UPDATE ledger SET paid_cents = paid_cents + $1 WHERE plan = $2 AND fund = $3 AND year = $4")
        .bind(c).bind(&row.plan).bind(&row.fund).bind(year)
        .execute(&mut *tx.tx).await?;
    Ok(())
}

/// The refusal of an award the year's envelope cannot hold, with what remains.
pub(super) fn over_envelope(fund: &Fund, year: i64, amount: Decimal, committed: Decimal) -> Error {
    let envelope = envelope_of(fund, year);
    let remaining = envelope - committed;
    Error::Unprocessable {
        detail: format!(
            "{amount} € would exceed the {year} envelope of fund `{}`: {envelope} €, of which {committed} € committed; {remaining} € remain",
            fund.id
        ),
        field: Some("amount".into()),
        guard: Some("within-envelope".into()),
        extra: Some(Box::new(
            json!({"envelope": envelope.to_string(), "committed": committed.to_string(), "remaining": remaining.to_string(), "year": year}),
        )),
    }
}

pub fn envelope_of(fund: &Fund, year: i64) -> Decimal {
    Date::new(year.clamp(1, 9999) as i16, 1, 1)
        .ok()
        .and_then(|d| fund.envelope.at(d))
        .map(|d| d.value)
        .unwrap_or(Decimal::ZERO)
}
