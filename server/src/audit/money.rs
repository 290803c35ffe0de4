//! The money tables checked against the chain: every step that moves money records its ledger
//! entries in its event (`"ledger": [{plan, fund, year, kind, cents}]`), so the entries, each
//! year's running totals (`ledger`) and each file's amounts (`applications`) can be rebuilt
//! from the events alone. A row edited, added or deleted in any of them disagrees.
//!
//! Entries written before events carried them are summed, once, into one `ledger-opening`
//! event (an opening balance) when the server first starts with this check ([`open`]).

use std::collections::BTreeMap;

use serde_json::{Value, json};
use sqlx::Row as _;

use super::NewEvent;
use crate::store::Db;

/// The action of the opening balance's event.
pub const OPENING: &str = "ledger-opening";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyBreak {
    #[error(
        "application {application} ({plan}/{fund} {year}): the ledger entries hold {table} cents of `{kind}`, the events {events} (a ledger entry was edited, added or deleted)"
    )]
    Entries {
        plan: String,
        fund: String,
        year: i64,
        application: String,
        kind: String,
        table: i64,
        events: i64,
    },
    #[error(
        "the ledger of {plan}/{fund} {year}: {what} {table} cents, the events {events} (the ledger row was edited)"
    )]
    Ledger {
        plan: String,
        fund: String,
        year: i64,
        what: &'static str,
        table: i64,
        events: i64,
    },
    #[error(
        "application {application}: {what} {table} cents, the events {events} (the application's amount was edited)"
    )]
    Application {
        application: String,
        what: &'static str,
        table: i64,
        events: i64,
    },
}

/// (plan, fund, year, application, kind) → cents.
type Sums = BTreeMap<(String, String, i64, String, String), i64>;

fn add(sums: &mut Sums, e: &Value, application: Option<&str>) {
    let text = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let application = application
        .map(str::to_string)
        .unwrap_or(text("application"));
    let key = (
        text("plan"),
        text("fund"),
        e.get("year").and_then(Value::as_i64).unwrap_or(0),
        application,
        text("kind"),
    );
    *sums.entry(key).or_default() += e.get("cents").and_then(Value::as_i64).unwrap_or(0);
}

/// The entries as the events record them.
async fn from_events(db: &Db) -> Result<Sums, sqlx::Error> {
    let mut sums = Sums::new();
    let mut after = 0i64;
    loop {
        // Only a filter: the payload is read as JSON below.
        let rows = sqlx::query(
            "SELECT seq, application_id, action, payload FROM events WHERE seq > $1 AND (action = $2 OR payload LIKE '%\"ledger\"%') ORDER BY seq LIMIT 5000",
        )
        .bind(after)
        .bind(OPENING)
        .fetch_all(&db.pool)
        .await?;
        let Some(last) = rows.last() else { break };
        after = last.try_get("seq")?;
        for r in &rows {
            let payload: Value =
                serde_json::from_str(&r.try_get::<String, _>("payload")?).unwrap_or(Value::Null);
            let action: String = r.try_get("action")?;
            let application: Option<String> = r.try_get("application_id")?;
            let (list, application) = if action == OPENING {
                (payload.get("balances"), None)
            } else {
                (payload.get("ledger"), application.as_deref())
            };
            for e in list.and_then(Value::as_array).into_iter().flatten() {
                add(&mut sums, e, application);
            }
        }
    }
    Ok(sums)
}

const ENTRY_SUMS: &str = "SELECT plan, fund, CAST(year AS BIGINT) AS year, application_id, kind, CAST(SUM(cents) AS BIGINT) AS cents FROM ledger_entries GROUP BY plan, fund, year, application_id, kind";

fn entry_sums(rows: &[sqlx::any::AnyRow]) -> Result<Sums, sqlx::Error> {
    let mut sums = Sums::new();
    for r in rows {
        sums.insert(
            (
                r.try_get("plan")?,
                r.try_get("fund")?,
                r.try_get("year")?,
                r.try_get("application_id")?,
                r.try_get("kind")?,
            ),
            r.try_get("cents")?,
        );
    }
    Ok(sums)
}

/// Every disagreement between the money tables and the events.
pub async fn verify(db: &Db) -> Result<Vec<MoneyBreak>, sqlx::Error> {
    let events = from_events(db).await?;
    let table = entry_sums(&sqlx::query(ENTRY_SUMS).fetch_all(&db.pool).await?)?;
    let mut breaks = Vec::new();
    let keys: std::collections::BTreeSet<_> = events.keys().chain(table.keys()).collect();
    for k in keys {
        let (t, e) = (
            table.get(k).copied().unwrap_or(0),
            events.get(k).copied().unwrap_or(0),
        );
        if t != e {
            let (plan, fund, year, application, kind) = k.clone();
            breaks.push(MoneyBreak::Entries {
                plan,
                fund,
                year,
                application,
                kind,
                table: t,
                events: e,
            });
        }
    }
    // Per year: committed = commit − decommit, paid = payment; per file the same.
    let mut years: BTreeMap<(String, String, i64), (i64, i64)> = BTreeMap::new();
    let mut files: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for ((plan, fund, year, application, kind), cents) in &events {
        let (committed, paid) = match kind.as_str() {
            "commit" => (*cents, 0),
            "decommit" => (-cents, 0),
            "payment" => (0, *cents),
            _ => (0, 0),
        };
        for acc in [
            years
                .entry((plan.clone(), fund.clone(), *year))
                .or_default(),
            files.entry(application.clone()).or_default(),
        ] {
            acc.0 += committed;
            acc.1 += paid;
        }
    }
    let rows = sqlx::query("SELECT plan, fund, CAST(year AS BIGINT) AS year, CAST(committed_cents AS BIGINT) AS c, CAST(paid_cents AS BIGINT) AS p FROM ledger")
        .fetch_all(&db.pool)
        .await?;
    let mut ledger = BTreeMap::new();
    for r in &rows {
        let key: (String, String, i64) =
            (r.try_get("plan")?, r.try_get("fund")?, r.try_get("year")?);
        ledger.insert(key, (r.try_get::<i64, _>("c")?, r.try_get::<i64, _>("p")?));
    }
    let keys: std::collections::BTreeSet<_> = years.keys().chain(ledger.keys()).collect();
    for k in keys {
        let (t, e) = (
            ledger.get(k).copied().unwrap_or_default(),
            years.get(k).copied().unwrap_or_default(),
        );
        for (what, t, e) in [("committed", t.0, e.0), ("paid", t.1, e.1)] {
            if t != e {
                breaks.push(MoneyBreak::Ledger {
                    plan: k.0.clone(),
                    fund: k.1.clone(),
                    year: k.2,
                    what,
                    table: t,
                    events: e,
                });
            }
        }
    }
    let rows = sqlx::query("SELECT id, CAST(awarded_cents AS BIGINT) AS a, CAST(paid_cents AS BIGINT) AS p FROM applications ORDER BY id")
        .fetch_all(&db.pool)
        .await?;
    for r in &rows {
        let id: String = r.try_get("id")?;
        let awarded: Option<i64> = r.try_get("a")?;
        let e = files.get(&id).copied().unwrap_or_default();
        let t = (awarded.unwrap_or(0), r.try_get::<i64, _>("p")?);
        for (what, t, e) in [("awarded", t.0, e.0), ("paid", t.1, e.1)] {
            if t != e {
                breaks.push(MoneyBreak::Application {
                    application: id.clone(),
                    what,
                    table: t,
                    events: e,
                });
            }
        }
    }
    Ok(breaks)
}

/// Records the ledger entries that no event records yet as one opening balance, once: on a
/// database whose entries were written before events carried them. Whether it wrote one.
pub async fn open(db: &Db, now: &str) -> Result<bool, sqlx::Error> {
    let mut tx = db.write().await?;
    // Locks the head row first: two processes starting at once do not both open.
    sqlx::query("UPDATE audit_head SET seq = seq WHERE id = 1")
        .execute(&mut *tx.tx)
        .await?;
    let recorded = sqlx::query(
        "SELECT seq FROM events WHERE action = $1 OR payload LIKE '%\"ledger\"%' LIMIT 1",
    )
    .bind(OPENING)
    .fetch_optional(&mut *tx.tx)
    .await?;
    if recorded.is_some() {
        return Ok(false);
    }
    let sums = entry_sums(&sqlx::query(ENTRY_SUMS).fetch_all(&mut *tx.tx).await?)?;
    if sums.is_empty() {
        return Ok(false);
    }
    let balances: Vec<Value> = sums
        .into_iter()
        .map(|((plan, fund, year, application, kind), cents)| {
            json!({"plan": plan, "fund": fund, "year": year, "application": application, "kind": kind, "cents": cents})
        })
        .collect();
    tx.record(NewEvent {
        application_id: None,
        actor: "system".into(),
        role: "system".into(),
        at: now.into(),
        action: OPENING.into(),
        from_state: None,
        to_state: None,
        payload: json!({ "balances": balances }).to_string(),
        reason: Some("the ledger entries written before events recorded them".into()),
    });
    tx.commit().await?;
    Ok(true)
}
