//! Applications created, drafts edited, one read, and the lists (the API's pages and the
//! pages' lists share one query).

use std::sync::atomic::Ordering;

use metroplan_engine::model::RoleKind;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::audit::NewEvent;
use crate::clock::{Clock, stamp};
use crate::error::{Error, Result};
use crate::tokens::Principal;

use super::action_body::ActionBody;
use super::content::{bind_applicant_key, check_form, keys_of, replace_content};
use super::documents::documents_of;
use super::idempotency::{Reply, claim_key, store_reply};
use super::rows::{APP_COLUMNS, AppRow, flush, load_row, touch_in_place};
use super::transitions::Step;
use super::views::{ApplicationView, visible};
use super::{Ctx, scope};

fn new_id(clock: &Clock) -> String {
    // Time first, so ids sort by creation (keyset pagination), then randomness.
    let ms = clock.now().as_millisecond().max(0) as u64;
    format!("{ms:012x}{}", crate::tokens::random_hex(8))
}

/// Filters of the application list.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub plan: Option<String>,
    pub fund: Option<String>,
    pub state: Option<String>,
    pub call: Option<i64>,
    /// The `next` of the previous page.
    pub after: Option<String>,
    /// 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

/// Which applications a list shows (beyond what the viewer may see).
#[derive(Debug, Default)]
struct Filter<'a> {
    /// Only ids after this one (the API's pages).
    after: Option<&'a str>,
    plan: Option<&'a str>,
    fund: Option<&'a str>,
    state: Option<&'a str>,
    call: Option<i64>,
}

#[derive(Debug, Clone, Copy)]
enum Order {
    Id,
    RecentlyChanged,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page {
    pub items: Vec<ApplicationView>,
    /// Pass as `after` for the next page; absent on the last.
    pub next: Option<String>,
}

impl Ctx {
    /// Creates an application; unless it is a draft, files it in the same transaction.
    pub async fn create(
        &self,
        who: &Principal,
        plan: &str,
        fund_id: &str,
        data: Value,
        draft: bool,
        key: Option<&str>,
    ) -> Result<Reply> {
        let served = self.served(plan)?.clone();
        let (fund, wf) = scope(&served, fund_id)?;
        if who.role != RoleKind::Applicant {
            return Err(Error::Forbidden(
                "only an applicant's token creates applications".into(),
            ));
        }
        if !who.covers(plan, fund_id) {
            return Err(Error::Forbidden(format!(
                "your token is not for fund `{fund_id}`"
            )));
        }
        if fund.keys.is_none() {
            return Err(Error::Conflict(format!(
                "fund `{fund_id}` takes no applications: its form has no call, applicant or amount (see [fund.keys])"
            )));
        }
        check_form(fund, &data)?;
        let now = self.clock.now();
        let now_s = stamp(now);
        let request =
            json!({"op": "create", "plan": plan, "fund": fund_id, "data": data, "draft": draft})
                .to_string();
        let mut tx = self.db.write().await?;
        if let Some((status, body)) = claim_key(&mut tx, who, key, &request, &now_s).await? {
            return Ok(Reply {
                status,
                body,
                replayed: true,
            });
        }
        let id = new_id(&self.clock);
        let k = keys_of(fund, &data);
        let mut row = AppRow {
            id: id.clone(),
            plan: plan.to_string(),
            fund: fund_id.to_string(),
            call_year: k.call,
            applicant_key: k.applicant.clone(),
            applicant_name: k.applicant_name.clone(),
            title: k.title.clone(),
            state: wf.initial.to_string(),
            version: 1,
            owner: who.name.clone(),
            owner_id: who.id.clone(),
            owner_email: who.email.clone(),
            data: data.to_string(),
            requested_cents: k.requested,
            awarded_cents: None,
            paid_cents: 0,
            outcome: None,
            ruleset: None,
            filed_on: None,
            deadline: None,
            final_report: 0,
            decided_on: None,
            created_at: now_s.clone(),
            updated_at: now_s.clone(),
            entered_on: Some(self.today(&served).to_string()),
            evaluation: None,
            pending_filing: None,
            pending_time: None,
        };
        row.pending_time = Some(
            self.schedule(&mut tx, fund, wf, &row, self.today(&served))
                .await?,
        );
        bind_applicant_key(&mut tx, &row, fund, &now_s).await?;
        tx.record(NewEvent {
            application_id: Some(id.clone()),
            actor: who.id.clone(),
            role: who.role.name().into(),
            at: now_s.clone(),
            action: "create".into(),
            from_state: None,
            to_state: Some(wf.initial.to_string()),
            payload: json!({"data": data}).to_string(),
            reason: None,
        });
        let mut eligibility = None;
        if !draft {
            // The applicant's way out of a draft: filing.
            let file = metroplan_engine::workflow::filing(&served.plan, wf).ok_or_else(|| {
                Error::Conflict(format!(
                    "workflow `{}` has no transition by which an applicant files",
                    wf.id
                ))
            })?;
            let out = self
                .apply(
                    Step {
                        tx: &mut tx,
                        served: &served,
                        who,
                        row: &mut row,
                    },
                    file.id.as_str(),
                    &ActionBody::default(),
                    false,
                )
                .await?;
            eligibility = out;
        }
        flush(&mut tx, &row, None, fund).await?;
        // A new application has no documents yet.
        let mut view = self.view(row, Vec::new(), who)?;
        view.eligibility = eligibility;
        let body = serde_json::to_value(&view).map_err(anyhow::Error::from)?;
        store_reply(&mut tx, who, key, 201, &body).await?;
        tx.commit().await?;
        if !draft {
            self.metrics.filings.fetch_add(1, Ordering::Relaxed);
        }
        Ok(Reply {
            status: 201,
            body,
            replayed: false,
        })
    }

    /// Changes a draft's content (the applicant, before filing).
    pub async fn save_draft(
        &self,
        who: &Principal,
        id: &str,
        data: Value,
        expected: i64,
    ) -> Result<ApplicationView> {
        let now_s = stamp(self.clock.now());
        let mut tx = self.db.write().await?;
        let mut row = load_row(&mut tx, id).await?;
        if who.role != RoleKind::Applicant || who.id != row.owner_id {
            return Err(Error::NotFound(format!("no application `{id}`")));
        }
        let served = self.served_for_change(id, &row.plan, &row.fund, &row.state)?;
        if row.version != expected {
            return Err(Error::Stale {
                current: row.version,
            });
        }
        let (fund, wf) = scope(&served, &row.fund)?;
        if !metroplan_engine::workflow::accepts_data(wf, &row.state) {
            return Err(Error::Conflict(format!(
                "application `{id}` does not take new content in its state `{}`: only the steps the plan declares with `data = true` do",
                row.state
            )));
        }
        replace_content(&mut tx, wf, fund, &mut row, &data, &now_s).await?;
        // The call's closing may have changed with the call: what time will do, again.
        let today = self.today(&served);
        row.pending_time = Some(self.schedule(&mut tx, fund, wf, &row, today).await?);
        touch_in_place(
            &mut tx,
            &mut row,
            who,
            now_s,
            "edit-draft",
            json!({ "data": data }),
            None,
        );
        flush(&mut tx, &row, Some(expected), fund).await?;
        let docs = documents_of(&mut *tx.tx, id).await?;
        tx.commit().await?;
        self.view(row, docs, who)
    }

    pub async fn get(&self, who: &Principal, id: &str) -> Result<ApplicationView> {
        let row = sqlx::query_as::<_, AppRow>(&format!(
            "SELECT {APP_COLUMNS} FROM applications WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.db.pool)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no application `{id}`")))?;
        if !visible(who, &row.owner_id, &row.plan, &row.fund) {
            return Err(Error::NotFound(format!("no application `{id}`")));
        }
        let docs = documents_of(&self.db.pool, id).await?;
        let mut view = self.view(row, docs, who)?;
        view.letters = super::letters::letters_of(&self.db.pool, id).await?;
        Ok(view)
    }

    pub async fn list(&self, who: &Principal, q: ListQuery) -> Result<Page> {
        let limit = q.limit.unwrap_or(50);
        if !(1..=200).contains(&limit) {
            return Err(Error::bad("limit: 1 to 200", Some("limit")));
        }
        let filter = Filter {
            after: Some(q.after.as_deref().unwrap_or_default()),
            plan: q.plan.as_deref(),
            fund: q.fund.as_deref(),
            state: q.state.as_deref(),
            call: q.call,
        };
        let rows = self
            .select(who, &filter, Order::Id, Some(i64::from(limit) + 1))
            .await?;
        let more = rows.len() > limit as usize;
        let mut items = Vec::new();
        for row in rows.into_iter().take(limit as usize) {
            items.push(self.view(row, Vec::new(), who)?);
        }
        let next = if more {
            items.last().map(|i| i.id.clone())
        } else {
            None
        };
        Ok(Page { items, next })
    }

    /// The applications `who` may see that pass `filter`: the one query behind the API's
    /// list and the pages' lists, so that both see the same files.
    async fn select(
        &self,
        who: &Principal,
        filter: &Filter<'_>,
        order: Order,
        limit: Option<i64>,
    ) -> Result<Vec<AppRow>> {
        // (a literal `column operator`, value): every value is bound, never pasted.
        let mut texts: Vec<(&str, &str)> = Vec::new();
        if let Some(a) = filter.after {
            texts.push(("id >", a));
        }
        for (col, v) in [
            ("plan =", filter.plan),
            ("fund =", filter.fund),
            ("state =", filter.state),
        ] {
            if let Some(v) = v {
                texts.push((col, v));
            }
        }
        if who.role == RoleKind::Applicant {
            texts.push(("owner_id =", &who.id));
        } else {
            if let Some(p) = &who.plan {
                texts.push(("plan =", p));
            }
            if let Some(f) = &who.fund {
                texts.push(("fund =", f));
            }
        }
        let mut sql = format!("SELECT {APP_COLUMNS} FROM applications WHERE 1 = 1");
        for (n, (col, _)) in texts.iter().enumerate() {
            sql.push_str(&format!(" AND {col} ${}", n + 1));
        }
        // Numbers are bound too, after the texts, in the order of their placeholders.
        let mut numbers: Vec<i64> = Vec::new();
        if let Some(c) = filter.call {
            numbers.push(c);
            sql.push_str(&format!(
                " AND call_year = ${}",
                texts.len() + numbers.len()
            ));
        }
        sql.push_str(match order {
            Order::Id => " ORDER BY id",
            Order::RecentlyChanged => " ORDER BY updated_at DESC, id",
        });
        if let Some(n) = limit {
            numbers.push(n);
            sql.push_str(&format!(" LIMIT ${}", texts.len() + numbers.len()));
        }
        let mut query = sqlx::query_as::<_, AppRow>(&sql);
        for (_, v) in texts {
            query = query.bind(v);
        }
        for n in numbers {
            query = query.bind(n);
        }
        Ok(query.fetch_all(&self.db.pool).await?)
    }

    /// Every application `who` may see, filtered, most recently changed first; without
    /// their documents.
    pub async fn visible_applications(
        &self,
        who: &Principal,
        plan: Option<&str>,
        fund: Option<&str>,
        call: Option<i64>,
    ) -> Result<Vec<ApplicationView>> {
        let filter = Filter {
            plan,
            fund,
            call,
            ..Filter::default()
        };
        self.select(who, &filter, Order::RecentlyChanged, None)
            .await?
            .into_iter()
            .map(|row| self.view(row, Vec::new(), who))
            .collect()
    }
}
