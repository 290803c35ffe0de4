//! What a caller reads of an application: the view with the actions they may take, its
//! history as `crate::views` filters it for them, its explanation and its opinions.

use metroplan_engine::model::RoleKind;
use metroplan_engine::workflow::{self, Actor};
use serde::Serialize;
use serde_json::Value;
use sqlx::Row;

use crate::audit::EVENT_COLUMNS;
use crate::error::{Error, Result};
use crate::tokens::Principal;

use super::rows::AppRow;
use super::{Ctx, euros, money};

/// An application as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApplicationView {
    pub id: String,
    pub plan: String,
    pub fund: String,
    pub state: String,
    /// The state's label; when `state_status` is `removed`, the last label this server
    /// served for it, or else the state's id.
    pub state_label: String,
    /// `removed` when a live edit of the plan took the file's state out of its fund's
    /// workflow (or removed the fund): the file is read as it is, offers no action, and a
    /// change to it is refused (409, `/problems/fund-removed`).
    pub state_status: Presence,
    /// `removed` when a live edit of the plan renamed or removed the file's fund (or the
    /// plan): the file stays listed and readable, offers no action, and a change to it is
    /// refused (409, `/problems/fund-removed`).
    pub fund_status: Presence,
    /// The fund's title in the served plan; for a removed fund, the last title this server
    /// served for it, absent when it does not know it (it served no version with that fund
    /// since it started).
    pub fund_title: Option<String>,
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
    /// The documents the administration issued on the file (receipt, letters), oldest first.
    pub letters: Vec<super::letters::LetterView>,
    /// The transitions the caller may ask for now (guards are checked when asked).
    pub actions: Vec<String>,
    /// The eligibility result with its explanation, on the response that filed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<crate::http::bodies::Report>, nullable = false)]
    pub eligibility: Option<Value>,
}

/// Whether the served plan still has what a file refers to (its fund, its state).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Presence {
    /// The served plan has it.
    Current,
    /// A live edit of the plan renamed or removed it.
    Removed,
}

impl Presence {
    fn of(present: bool) -> Presence {
        if present {
            Presence::Current
        } else {
            Presence::Removed
        }
    }
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
    /// Whether the opinion is favourable (`None`: given before opinions said so, or a
    /// declaration).
    pub favourable: Option<bool>,
    pub scores: Value,
    pub created_at: String,
    /// A declared link of interest: final; the reviewer gives no opinion on the file.
    pub declared_link: bool,
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
    /// The view of a file for `who`. It never fails because of a live edit of the plan: a
    /// file whose plan, fund or state the served plan no longer has is shown as it is stored,
    /// marked `removed`, with the last title and label this server knew, and no action.
    pub(super) fn view(
        &self,
        row: AppRow,
        docs: Vec<DocumentView>,
        who: &Principal,
    ) -> Result<ApplicationView> {
        let served = self.plans.get(&row.plan);
        let scoped = served.as_deref().and_then(|p| {
            let f = p.plan.fund(&row.fund)?;
            let wf = p.plan.workflow(f.workflow.as_str())?;
            Some((p, f, wf))
        });
        let state =
            scoped.and_then(|(_, _, wf)| wf.states.iter().find(|s| s.id.as_str() == row.state));
        let fund_title = scoped
            .map(|(_, f, _)| f.title.clone())
            .or_else(|| self.plans.known_fund_title(&row.plan, &row.fund));
        let state_label = state
            .map(|s| s.label.clone())
            .or_else(|| {
                self.plans
                    .known_state_label(&row.plan, &row.fund, &row.state)
            })
            .unwrap_or_else(|| row.state.clone());
        let actions = match (scoped, state) {
            (Some((p, _, wf)), Some(_)) => {
                let roles = who.plan_roles(&row.plan, &row.fund);
                let actor = Actor {
                    id: &who.id,
                    kind: Some(who.role),
                    roles: &roles,
                };
                wf.transitions
                    .iter()
                    .filter(|t| t.from.iter().any(|f| f.as_str() == row.state))
                    .filter(|t| {
                        workflow::may_take(&p.plan, t, &actor)
                            && (who.role != RoleKind::Applicant || who.id == row.owner_id)
                    })
                    .map(|t| t.id.to_string())
                    .collect()
            }
            // Nothing is offered on a file the plan no longer describes.
            _ => Vec::new(),
        };
        Ok(ApplicationView {
            id: row.id,
            plan: row.plan,
            fund: row.fund,
            state: row.state,
            state_label,
            state_status: Presence::of(state.is_some()),
            fund_status: Presence::of(scoped.is_some()),
            fund_title,
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
            letters: Vec::new(),
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
            "SELECT reviewer, opinion, scores, created_at, favourable, CAST(0 AS BIGINT) AS declared FROM opinions WHERE application_id = $1 \
             UNION ALL SELECT reviewer, '' AS opinion, '' AS scores, at AS created_at, NULL AS favourable, CAST(1 AS BIGINT) AS declared FROM declarations WHERE application_id = $1 \
             ORDER BY created_at, reviewer",
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
                    favourable: r.try_get::<Option<i64>, _>("favourable")?.map(|f| f != 0),
                    scores: serde_json::from_str(&scores).unwrap_or(Value::Null),
                    created_at: r.try_get("created_at")?,
                    declared_link: r.try_get::<i64, _>("declared")? != 0,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Error::from)
    }
}

impl Ctx {
    /// The names of people by identity, for staff pages (an account's name; a token's name;
    /// else its label): never an email when the account has a name.
    pub async fn names(
        &self,
        who: &Principal,
        ids: Vec<String>,
    ) -> Result<std::collections::HashMap<String, String>> {
        if who.role == RoleKind::Applicant {
            return Err(Error::Forbidden("names of staff are for staff".into()));
        }
        let mut out = crate::views::labels(&self.db.pool, ids.clone()).await?;
        for id in &ids {
            let Some(u) = id.strip_prefix("user:") else {
                continue;
            };
            let name: Option<String> = sqlx::query("SELECT name FROM users WHERE id = $1")
                .bind(u)
                .fetch_optional(&self.db.pool)
                .await?
                .map(|r| r.try_get("name"))
                .transpose()?;
            if let Some(n) = name.filter(|n| !n.trim().is_empty()) {
                out.insert(id.clone(), n);
            }
        }
        Ok(out)
    }

    /// The timed steps a file waits for (the transition each would take, the day it is due),
    /// soonest first: what happens without anyone acting.
    pub async fn pending_steps(&self, who: &Principal, id: &str) -> Result<Vec<(String, String)>> {
        self.get(who, id).await?;
        let rows = sqlx::query(
            "SELECT name, due_on FROM timers WHERE application_id = $1 AND kind = 'transition' AND done_at IS NULL ORDER BY due_on, name",
        )
        .bind(id)
        .fetch_all(&self.db.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("name")?, r.try_get("due_on")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Error::from)
    }
}
