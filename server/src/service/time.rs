//! Time that moves files. Entering a state stores what time will do there (the engine says
//! on which day each timed transition fires and each reminder is due); [`Ctx::run_timers`]
//! fires what is due, oldest first. Each timer is claimed by one conditional update in the
//! transaction that carries it out, so several server processes on one database fire it
//! once, and a server started after a deadline catches up in order.

use jiff::civil::Date;
use metroplan_engine::model::{Fund, Recipient, Workflow};
use metroplan_engine::workflow::{self, Actor, Dates, Input};
use serde_json::{Value, json};
use sqlx::Row;

use crate::audit::NewEvent;
use crate::clock::stamp;
use crate::error::Result;
use crate::plans::Served;
use crate::store::WriteTx;

use super::rows::{AppRow, PendingTime, flush, load_row};
use super::transitions::Move;
use super::{Ctx, scope};

impl Ctx {
    /// What time will do to `row` in its state, from the dates it gives.
    pub(super) async fn schedule(
        &self,
        tx: &mut WriteTx,
        fund: &Fund,
        wf: &Workflow,
        row: &AppRow,
        today: Date,
    ) -> Result<PendingTime> {
        let entered = row
            .entered_on
            .as_deref()
            .and_then(|d| d.parse().ok())
            .unwrap_or(today);
        let mut first = Vec::new();
        for r in
            sqlx::query("SELECT state, entered_on FROM state_entries WHERE application_id = $1")
                .bind(&row.id)
                .fetch_all(&mut *tx.tx)
                .await?
        {
            let day: String = r.try_get("entered_on")?;
            if let Ok(day) = day.parse() {
                first.push((r.try_get::<String, _>("state")?, day));
            }
        }
        // States entered earlier in this request, not written yet.
        for (state, day) in row.pending_time.iter().flat_map(|p| &p.entered) {
            if let (false, Ok(day)) = (first.iter().any(|(s, _)| s == state), day.parse()) {
                first.push((state.clone(), day));
            }
        }
        if !first.iter().any(|(s, _)| *s == row.state) {
            first.push((row.state.clone(), entered));
        }
        let data: Value = serde_json::from_str(&row.data).unwrap_or(Value::Null);
        let dates = Dates {
            entered: Some(entered),
            first_entered: first,
            deadline: row.deadline.as_deref().and_then(|d| d.parse().ok()),
            call_closes: row.call_year.and_then(|y| {
                fund.calls
                    .iter()
                    .find(|c| i64::from(c.year) == y)
                    .map(|c| c.closes)
            }),
            data: Some(&data),
        };
        let mut timers = Vec::new();
        for t in workflow::timers(wf, &row.state) {
            if let Some(day) = workflow::timer_day(fund, t, &dates) {
                timers.push(("transition", t.id.to_string(), day.to_string()));
            }
        }
        for r in workflow::reminders(wf, &row.state) {
            // A reminder due before the file entered the state (a draft begun a day before
            // the call closes) would announce what is already late: none is sent.
            if let Some(day) = workflow::reminder_day(fund, r, &dates).filter(|d| *d >= entered) {
                timers.push(("reminder", r.id.to_string(), day.to_string()));
            }
        }
        let mut entered_states = row
            .pending_time
            .as_ref()
            .map(|p| p.entered.clone())
            .unwrap_or_default();
        entered_states.push((row.state.clone(), entered.to_string()));
        Ok(PendingTime {
            entered: entered_states,
            timers,
        })
    }

    /// Fires every timer and reminder due today or earlier (each plan's time zone), oldest
    /// first, until none is due (a step may schedule another that is already due: after a
    /// long stop, a chain catches up); returns how many this process fired.
    pub async fn run_timers(&self) -> Result<usize> {
        let mut fired = 0;
        // A pass fires what was due when it began; a chain of timers is as long as the
        // workflow has states, so a few passes catch up.
        for _ in 0..32 {
            let now = self.run_timers_once().await?;
            fired += now;
            if now == 0 {
                break;
            }
        }
        Ok(fired)
    }

    async fn run_timers_once(&self) -> Result<usize> {
        let plans = self.plans.current();
        let mut fired = 0;
        for served in plans.by_id.values() {
            let today = self.today(served);
            let due = sqlx::query(
                "SELECT t.application_id, t.kind, t.name, t.due_on FROM timers t JOIN applications a ON a.id = t.application_id \
                 WHERE a.plan = $1 AND t.done_at IS NULL AND t.due_on <= $2 ORDER BY t.due_on, t.application_id, t.kind",
            )
            .bind(served.plan.id.as_str())
            .bind(today.to_string())
            .fetch_all(&self.db.pool)
            .await?;
            for r in due {
                let due = Due {
                    id: r.try_get("application_id")?,
                    kind: r.try_get("kind")?,
                    name: r.try_get("name")?,
                    day: r.try_get("due_on")?,
                };
                match self.fire(served, &due).await {
                    Ok(true) => fired += 1,
                    Ok(false) => {}
                    // A file changed by a person meanwhile: the timer is tried again next time.
                    Err(crate::error::Error::Stale { .. }) => {}
                    Err(e) => {
                        tracing::warn!(application = %due.id, timer = %due.name, error = %e, "timer failed");
                    }
                }
            }
        }
        Ok(fired)
    }

    /// Carries out one due timer, if this process claims it. The step takes effect on the
    /// day it fell due (a file classed the day after its deadline was classed that day, even
    /// if the server was stopped then); its event bears the time it was carried out.
    async fn fire(&self, served: &Served, due: &Due) -> Result<bool> {
        let today: Date = due.day.parse().map_err(|e| {
            crate::error::Error::Internal(anyhow::anyhow!("timer day {}: {e}", due.day))
        })?;
        let now_s = stamp(self.clock.now());
        let mut tx = self.db.write().await?;
        let claimed = sqlx::query(
            "UPDATE timers SET done_at = $1 WHERE application_id = $2 AND kind = $3 AND name = $4 AND due_on = $5 AND done_at IS NULL",
        )
        .bind(&now_s)
        .bind(&due.id)
        .bind(&due.kind)
        .bind(&due.name)
        .bind(&due.day)
        .execute(&mut *tx.tx)
        .await?
        .rows_affected();
        if claimed != 1 {
            return Ok(false);
        }
        let mut row = load_row(&mut tx, &due.id).await?;
        let expected = row.version;
        let Ok((fund, wf)) = scope(served, &row.fund) else {
            // The plan no longer has the file's fund: nothing to fire, the claim stays.
            tx.commit().await?;
            return Ok(false);
        };
        let expired = due.kind == "reminder"
            && workflow::reminders(wf, &row.state).any(|r| {
                r.id.as_str() == due.name
                    && workflow::reminder_expired(fund, r, today, self.today(served))
            });
        let fired = if expired {
            // Caught up after the date it announced: the step itself follows, not the reminder.
            false
        } else if due.kind == "reminder" {
            self.remind(&mut tx, served, wf, &row, &due.name, &now_s)
                .await?
        } else {
            self.timed_step(&mut tx, served, fund, wf, &mut row, due, today, &now_s)
                .await?
        };
        if fired && row.version != expected {
            flush(&mut tx, &row, Some(expected), fund).await?;
        }
        tx.commit().await?;
        Ok(fired)
    }

    #[allow(clippy::too_many_arguments)]
    async fn timed_step(
        &self,
        tx: &mut WriteTx,
        served: &Served,
        fund: &Fund,
        wf: &Workflow,
        row: &mut AppRow,
        due: &Due,
        today: Date,
        now_s: &str,
    ) -> Result<bool> {
        let Some(t) = workflow::timers(wf, &row.state).find(|t| t.id.as_str() == due.name) else {
            return Ok(false);
        };
        let facts = self.facts(tx, fund, row, today, true).await?;
        let Ok(decision) = workflow::decide(
            &served.plan,
            fund,
            wf,
            t.id.as_str(),
            &Actor::SYSTEM,
            &facts,
            &Input::default(),
        ) else {
            // Its guards do not hold (a final report came in): the file stays.
            return Ok(false);
        };
        let mut payload = json!({"timer": due.day});
        self.book(
            tx,
            fund,
            row,
            &decision.effects,
            t.id.as_str(),
            now_s,
            &mut payload,
        )
        .await?;
        let reason = t.timer.as_ref().map(|tm| tm.reason.clone());
        self.move_to(
            tx,
            served,
            row,
            Move {
                action: t.id.as_str(),
                to: t.to.as_str(),
                actor: workflow::SYSTEM_ROLE,
                role: workflow::SYSTEM_ROLE,
                payload,
                reason,
            },
            today,
            now_s,
        )
        .await?;
        self.automatic_steps(tx, served, row, facts, today, now_s, true)
            .await?;
        Ok(true)
    }

    /// Sends a reminder to whom it is for, recorded as a system event of the file.
    async fn remind(
        &self,
        tx: &mut WriteTx,
        served: &Served,
        wf: &Workflow,
        row: &AppRow,
        name: &str,
        now_s: &str,
    ) -> Result<bool> {
        let Some(r) = workflow::reminders(wf, &row.state).find(|r| r.id.as_str() == name) else {
            return Ok(false);
        };
        let subject = format!("[{}] Dossier {}\u{a0}: relance", served.plan.id, row.id);
        let text = format!(
            "Bonjour,\n\nDossier {} ({}).\n{}\n\nCe message est envoyé automatiquement par metroplan.\n",
            row.id,
            row.title.as_deref().unwrap_or("sans titre"),
            r.text
        );
        let recipients: Vec<String> = match &r.to {
            Recipient::Applicant => row.owner_email.clone().into_iter().collect(),
            Recipient::Role { role, awaiting } => {
                let kind = served
                    .plan
                    .roles
                    .iter()
                    .find(|x| x.id == *role)
                    .and_then(|x| x.kind)
                    .map(|k| k.name())
                    .unwrap_or_default();
                let mut out = Vec::new();
                // The members of the role in the file's scope: accounts of its kind for this
                // plan and fund, holding the role when they hold plan roles in this plan.
                for u in sqlx::query(
                    "SELECT id, email FROM users WHERE role = $1 AND (fund IS NULL OR fund = $2) AND (plan IS NULL OR plan = $3) \
                     AND (NOT EXISTS (SELECT 1 FROM role_grants g WHERE g.principal = 'user:' || users.id AND g.plan = $3) \
                          OR EXISTS (SELECT 1 FROM role_grants g WHERE g.principal = 'user:' || users.id AND g.plan = $3 AND g.role = $4 AND (g.fund IS NULL OR g.fund = $2)))",
                )
                .bind(kind)
                .bind(&row.fund)
                .bind(&row.plan)
                .bind(role.as_str())
                .fetch_all(&mut *tx.tx)
                .await?
                {
                    let id: String = u.try_get("id")?;
                    let principal = format!("user:{id}");
                    let acted = match awaiting {
                        Some(a) => sqlx::query("SELECT 1 AS one FROM events WHERE application_id = $1 AND actor = $2 AND action = $3")
                            .bind(&row.id)
                            .bind(&principal)
                            .bind(a.as_str())
                            .fetch_optional(&mut *tx.tx)
                            .await?
                            .is_some(),
                        None => false,
                    };
                    let declared = sqlx::query("SELECT 1 AS one FROM declarations WHERE application_id = $1 AND reviewer = $2")
                        .bind(&row.id)
                        .bind(&principal)
                        .fetch_optional(&mut *tx.tx)
                        .await?
                        .is_some();
                    if !acted && !declared {
                        out.push(u.try_get("email")?);
                    }
                }
                out
            }
        };
        for email in &recipients {
            crate::notify::queue(&mut tx.tx, Some(&row.id), email, &subject, &text, now_s).await?;
        }
        tx.record(NewEvent {
            application_id: Some(row.id.clone()),
            actor: workflow::SYSTEM_ROLE.into(),
            role: workflow::SYSTEM_ROLE.into(),
            at: now_s.into(),
            action: format!("reminder:{}", r.id),
            from_state: Some(row.state.clone()),
            to_state: Some(row.state.clone()),
            payload: json!({
                "reminder": r.id.as_str(),
                "to": match &r.to {
                    Recipient::Applicant => "applicant",
                    Recipient::Role { .. } => "staff",
                },
                "recipients": recipients.len(),
            })
            .to_string(),
            reason: Some(r.text.clone()),
        });
        Ok(true)
    }
}

/// A timer due, as stored.
#[derive(Debug)]
struct Due {
    id: String,
    kind: String,
    name: String,
    day: String,
}
