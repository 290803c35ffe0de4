//! The application row: read whole, changed in memory by a request, written once by
//! `flush` with the version it read as an optimistic lock.

use metroplan_engine::model::Fund;
use serde_json::Value;
use sqlx::Any;
use sqlx::Row;
use sqlx::any::{AnyTypeInfo, AnyValueRef};
use sqlx::error::BoxDynError;

use crate::audit::NewEvent;
use crate::error::{Error, Result};
use crate::store::WriteTx;
use crate::tokens::Principal;

/// An application as stored: the columns of `APP_COLUMNS`, and what `flush` writes beside them.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(super) struct AppRow {
    pub(super) id: String,
    pub(super) plan: String,
    pub(super) fund: String,
    pub(super) call_year: Option<i64>,
    pub(super) applicant_key: Option<String>,
    pub(super) applicant_name: Option<String>,
    pub(super) title: Option<String>,
    pub(super) state: String,
    pub(super) version: i64,
    /// The owner's label (an email or a token's name), for pages.
    pub(super) owner: String,
    /// The owner's identity (`Principal::id`).
    #[sqlx(try_from = "TextOrEmpty")]
    pub(super) owner_id: String,
    pub(super) owner_email: Option<String>,
    pub(super) data: String,
    pub(super) requested_cents: Option<i64>,
    pub(super) awarded_cents: Option<i64>,
    pub(super) paid_cents: i64,
    pub(super) outcome: Option<String>,
    pub(super) ruleset: Option<String>,
    pub(super) filed_on: Option<String>,
    pub(super) deadline: Option<String>,
    pub(super) final_report: i64,
    pub(super) decided_on: Option<String>,
    pub(super) created_at: String,
    pub(super) updated_at: String,
    /// The day (plan's time zone) the file entered its current state.
    pub(super) entered_on: Option<String>,
    /// The eligibility report to store (set by the check, written by `flush`).
    #[sqlx(skip)]
    pub(super) evaluation: Option<String>,
    /// A filing to record (call, applicant), written by `flush` after the row.
    #[sqlx(skip)]
    pub(super) pending_filing: Option<(i64, String)>,
    /// The file entered a state: (state, day), and what time will do to it there (kind,
    /// name, due day), replacing what was pending; written by `flush` after the row.
    #[sqlx(skip)]
    pub(super) pending_time: Option<PendingTime>,
}

/// What entering a state schedules.
#[derive(Debug, Clone, Default)]
pub(super) struct PendingTime {
    pub(super) entered: Vec<(String, String)>,
    pub(super) timers: Vec<(&'static str, String, String)>,
}

pub(super) const APP_COLUMNS: &str = "id, plan, fund, call_year, applicant_key, applicant_name, title, state, version, owner, owner_email, data, requested_cents, awarded_cents, paid_cents, outcome, ruleset, filed_on, deadline, final_report, decided_on, created_at, updated_at, owner_id, entered_on";

/// A text column that may be NULL, read as the empty text: rows the identity migration could
/// not resolve keep their owner's name, owned by nobody.
#[derive(Debug)]
pub(super) struct TextOrEmpty(Option<String>);

impl sqlx::Type<Any> for TextOrEmpty {
    fn type_info() -> AnyTypeInfo {
        <String as sqlx::Type<Any>>::type_info()
    }

    fn compatible(ty: &AnyTypeInfo) -> bool {
        <String as sqlx::Type<Any>>::compatible(ty)
    }
}

impl<'r> sqlx::Decode<'r, Any> for TextOrEmpty {
    fn decode(value: AnyValueRef<'r>) -> Result<Self, BoxDynError> {
        <Option<String> as sqlx::Decode<'r, Any>>::decode(value).map(TextOrEmpty)
    }
}

impl From<TextOrEmpty> for String {
    fn from(t: TextOrEmpty) -> String {
        t.0.unwrap_or_default()
    }
}

/// Writes the application as `apply` left it: inserted when new (`expected` is `None`), else
/// updated if its version is still `expected` (an optimistic lock: a concurrent change makes
/// this a 412), then the filing it records.
pub(super) async fn flush(
    tx: &mut WriteTx,
    row: &AppRow,
    expected: Option<i64>,
    fund: &Fund,
) -> Result<()> {
    let sql = match expected {
        None => format!(
            "INSERT INTO applications ({APP_COLUMNS}, evaluation) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26)"
        ),
        Some(_) => "UPDATE applications SET plan = $2, fund = $3, call_year = $4, applicant_key = $5, applicant_name = $6, title = $7, state = $8, version = $9, owner = $10, owner_email = $11, data = $12, requested_cents = $13, awarded_cents = $14, paid_cents = $15, outcome = $16, ruleset = $17, filed_on = $18, deadline = $19, final_report = $20, decided_on = $21, created_at = $22, updated_at = $23, owner_id = $24, entered_on = $25, evaluation = COALESCE($26, evaluation) WHERE id = $1 AND version = $27".to_string(),
    };
    let q = sqlx::query(&sql)
        .bind(&row.id)
        .bind(&row.plan)
        .bind(&row.fund)
        .bind(row.call_year)
        .bind(&row.applicant_key)
        .bind(&row.applicant_name)
        .bind(&row.title)
        .bind(&row.state)
        .bind(row.version)
        .bind(&row.owner)
        .bind(&row.owner_email)
        .bind(&row.data)
        .bind(row.requested_cents)
        .bind(row.awarded_cents)
        .bind(row.paid_cents)
        .bind(&row.outcome)
        .bind(&row.ruleset)
        .bind(&row.filed_on)
        .bind(&row.deadline)
        .bind(row.final_report)
        .bind(&row.decided_on)
        .bind(&row.created_at)
        .bind(&row.updated_at)
        .bind(&row.owner_id)
        .bind(&row.entered_on)
        .bind(&row.evaluation);
    let q = match expected {
        None => q,
        Some(v) => q.bind(v),
    };
    // What time had pending is dropped before the row is written: a timer being fired
    // locks its timer row and then the application's, so taking them in the same order here
    // makes the later of the two wait instead of deadlocking (on PostgreSQL).
    if expected.is_some() && row.pending_time.is_some() {
        sqlx::query("DELETE FROM timers WHERE application_id = $1 AND done_at IS NULL")
            .bind(&row.id)
            .execute(&mut *tx.tx)
            .await?;
    }
    let changed = q.execute(&mut *tx.tx).await?.rows_affected();
    if changed != 1 {
        let current: i64 = sqlx::query("SELECT version FROM applications WHERE id = $1")
            .bind(&row.id)
            .fetch_one(&mut *tx.tx)
            .await?
            .try_get("version")?;
        return Err(Error::Stale { current });
    }
    if let Some((call, applicant)) = &row.pending_filing {
        let inserted = sqlx::query("INSERT INTO filings (plan, fund, call_year, applicant_key, application_id) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING")
            .bind(&row.plan)
            .bind(&row.fund)
            .bind(*call)
            .bind(applicant)
            .bind(&row.id)
            .execute(&mut *tx.tx)
            .await?
            .rows_affected();
        if inserted == 0 {
            return Err(Error::Unprocessable {
                detail: format!(
                    "applicant {applicant} already filed an application to the {call} call (one per call)"
                ),
                field: fund.keys.as_ref().map(|k| format!("data.{}", k.applicant)),
                guard: Some("one-per-applicant".into()),
                extra: None,
            });
        }
    }
    if let Some(time) = &row.pending_time {
        write_time(tx, &row.id, time).await?;
    }
    Ok(())
}

/// Records the first entry into a state and replaces what time had pending for the file.
async fn write_time(tx: &mut WriteTx, id: &str, time: &PendingTime) -> Result<()> {
    for (state, day) in &time.entered {
        sqlx::query("INSERT INTO state_entries (application_id, state, entered_on) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
            .bind(id)
            .bind(state)
            .bind(day)
            .execute(&mut *tx.tx)
            .await?;
    }
    sqlx::query("DELETE FROM timers WHERE application_id = $1 AND done_at IS NULL")
        .bind(id)
        .execute(&mut *tx.tx)
        .await?;
    for (kind, name, due) in &time.timers {
        // A reminder already sent for this deadline is not sent again.
        sqlx::query("INSERT INTO timers (application_id, kind, name, due_on) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
            .bind(id)
            .bind(*kind)
            .bind(name)
            .bind(due)
            .execute(&mut *tx.tx)
            .await?;
    }
    Ok(())
}

pub(super) async fn load_row(tx: &mut WriteTx, id: &str) -> Result<AppRow> {
    sqlx::query_as::<_, AppRow>(&format!(
        "SELECT {APP_COLUMNS} FROM applications WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *tx.tx)
    .await?
    .ok_or_else(|| Error::NotFound(format!("no application `{id}`")))
}

/// Bumps the version and records an event that leaves the state as it is.
pub(super) fn touch_in_place(
    tx: &mut WriteTx,
    row: &mut AppRow,
    who: &Principal,
    now_s: String,
    action: &str,
    payload: Value,
    reason: Option<String>,
) {
    row.version += 1;
    row.updated_at = now_s.clone();
    tx.record(NewEvent {
        application_id: Some(row.id.clone()),
        actor: who.id.clone(),
        role: who.role.name().into(),
        at: now_s,
        action: action.into(),
        from_state: Some(row.state.clone()),
        to_state: Some(row.state.clone()),
        payload: payload.to_string(),
        reason,
    });
}
