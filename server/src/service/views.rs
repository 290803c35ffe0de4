//! What a caller reads of an application: the view with the actions they may take, its
//! history as `crate::views` filters it for them, its explanation and its opinions.

use metroplan_engine::model::RoleKind;
use serde::Serialize;
use serde_json::Value;
use sqlx::Row;

use crate::audit::EVENT_COLUMNS;
use crate::error::{Error, Result};
use crate::tokens::Principal;

use super::rows::AppRow;
use super::{Ctx, euros, money, scope};

/// An application as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApplicationView {
    pub id: String,
    pub plan: String,
    pub fund: String,
    pub state: String,
    pub state_label: String,
    pub version: i64,
    pub owner: String,
    pub call: Option<i64>,
    pub applicant: Option<String>,
    pub applicant_name: Option<String>,
    pub title: Option<String>,
    #[schema(value_type = crate::http::bodies::ApplicationData)]
    pub data: Value,
    /// Decimal strings, in euros.
    pub requested: Option<String>,
    pub awarded: Option<String>,
    pub paid: String,
    pub outcome: Option<String>,
    pub ruleset: Option<String>,
    pub filed_on: Option<String>,
    pub deadline: Option<String>,
    pub decided_on: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub documents: Vec<DocumentView>,
    /// The transitions the caller may ask for now (guards are checked when asked).
    pub actions: Vec<String>,
    /// The eligibility result with its explanation, on the response that filed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<crate::http::bodies::Report>, nullable = false)]
    pub eligibility: Option<Value>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct DocumentView {
    pub kind: String,
    pub sha256: String,
    pub media_type: String,
    pub size: i64,
    pub file_name: Option<String>,
}

/// A reviewer's opinion, as staff pages show it.
#[derive(Debug, Clone, Serialize)]
pub struct OpinionView {
    /// The reviewer's identity.
    pub reviewer: String,
    /// The reviewer's label (an email, a token's name).
    pub reviewer_name: String,
    pub opinion: String,
    pub scores: Value,
    pub created_at: String,
}

/// Whether `who` may see an application: applicants their own (by identity), staff their
/// (plan, fund) scope.
pub(super) fn visible(who: &Principal, owner_id: &str, plan: &str, fund: &str) -> bool {
    match who.role {
        RoleKind::Applicant => who.id == owner_id,
        _ => who.covers(plan, fund),
    }
}

impl Ctx {
    pub(super) fn view(
        &self,
        row: AppRow,
        docs: Vec<DocumentView>,
        who: &Principal,
    ) -> Result<ApplicationView> {
        let served = self.served(&row.plan)?;
        let (_, wf) = scope(&served, &row.fund)?;
        let state_label = wf
            .states
            .iter()
            .find(|s| s.id.as_str() == row.state)
            .map(|s| s.label.clone())
            .unwrap_or_default();
        let actions = wf
            .transitions
            .iter()
            .filter(|t| t.from.iter().any(|f| f.as_str() == row.state))
            .filter(|t| {
                served.plan.role_kind_of(t) == Some(who.role)
                    && (who.role != RoleKind::Applicant || who.id == row.owner_id)
            })
            .map(|t| t.id.to_string())
            .collect();
        Ok(ApplicationView {
            id: row.id,
            plan: row.plan,
            fund: row.fund,
            state: row.state,
            state_label,
            version: row.version,
            owner: row.owner,
            call: row.call_year,
            applicant: row.applicant_key,
            applicant_name: row.applicant_name,
            title: row.title,
            data: serde_json::from_str(&row.data).unwrap_or(Value::Null),
            requested: money(row.requested_cents),
            awarded: money(row.awarded_cents),
            paid: euros(row.paid_cents).to_string(),
            outcome: row.outcome,
            ruleset: row.ruleset,
            filed_on: row.filed_on,
            deadline: row.deadline,
            decided_on: row.decided_on,
            created_at: row.created_at,
            updated_at: row.updated_at,
            documents: docs,
            actions,
            eligibility: None,
        })
    }

    pub async fn events(&self, who: &Principal, id: &str) -> Result<Vec<crate::audit::Event>> {
        self.get(who, id).await?;
        let rows = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE application_id = $1 ORDER BY seq"
        ))
        .bind(id)
        .fetch_all(&self.db.pool)
        .await?;
        let events = rows
            .iter()
            .map(crate::audit::event_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        if who.role == RoleKind::Applicant {
            return Ok(events
                .into_iter()
                .filter_map(|e| crate::views::event_for(who, e))
                .collect());
        }
        let labels = crate::views::labels(
            &self.db.pool,
            events.iter().map(|e| e.actor.clone()).collect(),
        )
        .await?;
        Ok(events
            .into_iter()
            .map(|mut e| {
                e.actor_name = labels.get(&e.actor).cloned();
                e
            })
            .collect())
    }

    /// The R311-3-1-2 explanation recorded when the application was checked.
    pub async fn explanation(&self, who: &Principal, id: &str) -> Result<Value> {
        let r =
            sqlx::query("SELECT owner_id, plan, fund, evaluation FROM applications WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.db.pool)
                .await?
                .ok_or_else(|| Error::NotFound(format!("no application `{id}`")))?;
        let owner: Option<String> = r.try_get("owner_id")?;
        let plan: String = r.try_get("plan")?;
        let fund: String = r.try_get("fund")?;
        if !visible(who, owner.as_deref().unwrap_or_default(), &plan, &fund) {
            return Err(Error::NotFound(format!("no application `{id}`")));
        }
        let ev: Option<String> = r.try_get("evaluation")?;
        let ev = ev.ok_or_else(|| {
            Error::NotFound(format!(
                "application `{id}` has not been checked yet (it is a draft)"
            ))
        })?;
        serde_json::from_str(&ev).map_err(|e| Error::Internal(e.into()))
    }

    pub async fn opinions(&self, who: &Principal, id: &str) -> Result<Vec<OpinionView>> {
        self.get(who, id).await?;
        let rows = sqlx::query(
            "SELECT reviewer, opinion, scores, created_at FROM opinions WHERE application_id = $1 ORDER BY created_at, reviewer",
        )
        .bind(id)
        .fetch_all(&self.db.pool)
        .await?;
        if who.role == RoleKind::Applicant {
            return Err(Error::Forbidden("opinions are for staff".into()));
        }
        let ids: Vec<String> = rows
            .iter()
            .map(|r| r.try_get("reviewer"))
            .collect::<Result<_, _>>()?;
        let labels = crate::views::labels(&self.db.pool, ids).await?;
        rows.iter()
            .map(|r| {
                let scores: String = r.try_get("scores")?;
                let reviewer: String = r.try_get("reviewer")?;
                Ok(OpinionView {
                    reviewer_name: labels.get(&reviewer).cloned().unwrap_or_default(),
                    reviewer,
                    opinion: r.try_get("opinion")?,
                    scores: serde_json::from_str(&scores).unwrap_or(Value::Null),
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Error::from)
    }
}
