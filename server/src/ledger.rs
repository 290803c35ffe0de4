//! A fund's ledger per year: what is committed (awards) and paid. The one read of it, for
//! the guards' facts, the envelope check's refusal and the envelope view.

use sqlx::Row;

/// A year's totals, in cents.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub committed_cents: i64,
    pub paid_cents: i64,
}

/// The totals of `fund` of `plan` for `year`; zero when nothing was recorded that year.
pub async fn totals<'e, E>(ex: E, plan: &str, fund: &str, year: i64) -> Result<Totals, sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let row = sqlx::query(
        "SELECT committed_cents, paid_cents FROM ledger WHERE plan = $1 AND fund = $2 AND year = $3",
    )
    .bind(plan)
    .bind(fund)
    .bind(year)
    .fetch_optional(ex)
    .await?;
    match row {
        Some(r) => Ok(Totals {
            committed_cents: r.try_get("committed_cents")?,
            paid_cents: r.try_get("paid_cents")?,
        }),
        None => Ok(Totals::default()),
    }
}
