//! Workflow transitions: the one a person asks for, decided by the engine from facts read
//! in the write transaction, then the automatic steps it leads to.

use std::sync::atomic::Ordering;

use jiff::civil::Date;
use metroplan_engine::model::{Fund, RoleKind, Workflow};
use metroplan_engine::workflow::{self, Actor, Effect, Guard, Input, Refusal};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::audit::NewEvent;
use crate::clock::stamp;
use crate::error::{Error, Result};
use crate::plans::Served;
use crate::store::WriteTx;
use crate::tokens::Principal;

use super::action_body::ActionBody;
use super::content::{bind_applicant_key, check_form, keys_of};
use super::documents::documents_of;
use super::facts::{outcome_of, requested_of};
use super::idempotency::{Reply, claim_key, store_reply};
use super::ledger::{over_envelope, record_payment};
use super::rows::{AppRow, flush, load_row};
use super::views::visible;
use super::{Ctx, cents, euros, scope};

/// What a transition is applied to: the request's write transaction, the plan as that
/// transaction read it, who asks, and the application row it changes in memory.
#[derive(Debug)]
pub(super) struct Step<'a> {
    pub(super) tx: &'a mut WriteTx,
    pub(super) served: &'a Served,
    pub(super) who: &'a Principal,
    pub(super) row: &'a mut AppRow,
}

impl Ctx {
    /// Takes a workflow transition.
    pub async fn act(
        &self,
        who: &Principal,
        id: &str,
        action: &str,
        body: ActionBody,
        if_match: Option<i64>,
        key: Option<&str>,
    ) -> Result<Reply> {
        let Some(expected) = if_match else {
            return Err(Error::PreconditionRequired);
        };
        let now_s = stamp(self.clock.now());
        let request = json!({
            "op": "act", "id": id, "action": action, "if_match": expected,
            "amount": body.amount.map(|a| a.to_string()), "reason": body.reason, "linked": body.linked,
            "opinion": body.opinion, "scores": body.scores, "signed_on": body.signed_on, "data": body.data,
        })
        .to_string();
        let mut tx = self.db.write().await?;
        if let Some((status, body)) = claim_key(&mut tx, who, key, &request, &now_s).await? {
            return Ok(Reply {
                status,
                body,
                replayed: true,
            });
        }
        let row = load_row(&mut tx, id).await?;
        if !visible(who, &row.owner_id, &row.plan, &row.fund) {
            return Err(Error::NotFound(format!("no application `{id}`")));
        }
        if row.version != expected {
            return Err(Error::Stale {
                current: row.version,
            });
        }
        let served = self.served(&row.plan)?.clone();
        let mut row = row;
        let eligibility = self
            .apply(
                Step {
                    tx: &mut tx,
                    served: &served,
                    who,
                    row: &mut row,
                },
                action,
                &body,
                true,
            )
            .await?;
        let (fund, _) = scope(&served, &row.fund)?;
        flush(&mut tx, &row, Some(expected), fund).await?;
        let docs = documents_of(&mut *tx.tx, id).await?;
        let mut view = self.view(row, docs, who)?;
        view.eligibility = eligibility;
        let body = serde_json::to_value(&view).map_err(anyhow::Error::from)?;
        store_reply(&mut tx, who, key, 200, &body).await?;
        tx.commit().await?;
        Ok(Reply {
            status: 200,
            body,
            replayed: false,
        })
    }

    /// Applies one transition by a person, then the automatic ones it leads to. Returns the
    /// eligibility report when the check ran.
    pub(super) async fn apply(
        &self,
        step: Step<'_>,
        action: &str,
        body: &ActionBody,
        may_have_documents: bool,
    ) -> Result<Option<Value>> {
        let Step {
            tx,
            served,
            who,
            row,
        } = step;
        let id = row.id.clone();
        let id = id.as_str();
        let (fund, wf) = scope(served, &row.fund)?;
        let today = self.today(served);
        let now_s = stamp(self.clock.now());
        let actor = Actor {
            name: &who.id,
            kind: Some(who.role),
        };
        let input = Input {
            amount: body.amount,
            reason: body.reason.clone(),
            linked: body.linked,
            signed_on: body.signed_on,
        };
        let mut facts = self.facts(tx, fund, row, today, may_have_documents).await?;
        if who.role != RoleKind::Applicant
            && let Some(key) = &row.applicant_key
            && crate::applicant_keys::is_filer(tx, who, &row.plan, &row.fund, key).await?
        {
            // The engine's `not-filer` compares the actor with the owner; the filer is who
            // holds the file's applicant key, whatever the account that filed it, so a staff
            // member holding it acts as the owner.
            facts.owner = who.id.clone();
        }
        let decision =
            match workflow::decide(&served.plan, fund, wf, action, &actor, &facts, &input) {
                Ok(d) => d,
                Err(r) => {
                    self.metrics.refusals.fetch_add(1, Ordering::Relaxed);
                    return Err(match &r {
                        Refusal::Guard { guard, .. } if guard == "within-envelope" => {
                            let year = row.call_year.unwrap_or(0);
                            let committed = euros(self.committed(tx, row, year).await?);
                            over_envelope(fund, year, input.amount.unwrap_or_default(), committed)
                        }
                        Refusal::Guard { guard, .. } if guard == "one-per-applicant" => {
                            let mut e = refusal(r.clone());
                            if let (Error::Unprocessable { field, .. }, Some(k)) =
                                (&mut e, &fund.keys)
                            {
                                *field = Some(format!("data.{}", k.applicant));
                            }
                            e
                        }
                        _ => refusal(r),
                    });
                }
            };
        let t = decision.transition;
        let mut payload = json!({});
        // New content from the applicant, while the application can still change.
        if let Some(data) = &body.data {
            if who.role != RoleKind::Applicant {
                return Err(Error::unprocessable(
                    "only the applicant changes the application's content",
                    Some("data"),
                ));
            }
            check_form(fund, data)?;
            let k = keys_of(fund, data);
            row.data = data.to_string();
            row.call_year = k.call;
            row.applicant_key = k.applicant;
            row.applicant_name = k.applicant_name;
            row.title = k.title;
            row.requested_cents = k.requested;
            bind_applicant_key(tx, row, fund, &now_s).await?;
            payload["data"] = data.clone();
        }
        if t.guards.contains(&Guard::OnePerApplicant) {
            let (Some(call), Some(applicant)) = (row.call_year, row.applicant_key.clone()) else {
                return Err(Error::unprocessable(
                    "the call and the applicant's identifier are needed to file",
                    fund.keys.as_ref().map(|k| k.applicant.as_str()),
                ));
            };
            // The key is checked again at filing: it may have been transferred since the
            // draft was written.
            bind_applicant_key(tx, row, fund, &now_s).await?;
            row.pending_filing = Some((call, applicant));
        }
        for e in &decision.effects {
            match *e {
                Effect::Award(amount) => {
                    self.commit_award(tx, fund, row, amount, &now_s).await?;
                    payload["amount"] = json!(amount.to_string());
                }
                Effect::Payment(amount) => {
                    let c = cents(amount).ok_or_else(|| {
                        Error::unprocessable("at most 2 decimals", Some("amount"))
                    })?;
                    row.paid_cents += c;
                    record_payment(tx, row, c).await?;
                    payload["payment"] = json!(amount.to_string());
                }
            }
        }
        // What the roles record beyond the state.
        match who.role {
            RoleKind::Reviewer if body.opinion.is_some() || t.from.contains(&t.to) => {
                let opinion = body
                    .opinion
                    .clone()
                    .filter(|o| !o.trim().is_empty())
                    .ok_or_else(|| Error::unprocessable("write the opinion", Some("opinion")))?;
                let scores = self.check_scores(fund, body.scores.as_ref())?;
                sqlx::query("INSERT INTO opinions (application_id, reviewer, opinion, scores, created_at) VALUES ($1, $2, $3, $4, $5)")
                    .bind(id)
                    .bind(&who.id)
                    .bind(&opinion)
                    .bind(scores.to_string())
                    .bind(&now_s)
                    .execute(&mut *tx.tx)
                    .await?;
                payload["opinion"] = json!(opinion);
                payload["scores"] = scores;
                payload["linked"] = json!(body.linked);
            }
            RoleKind::Instructor | RoleKind::Reviewer | RoleKind::Approver => {
                sqlx::query("INSERT INTO participants (application_id, actor, kind) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
                    .bind(id)
                    .bind(&who.id)
                    .bind(who.role.name())
                    .execute(&mut *tx.tx)
                    .await?;
            }
            _ => {}
        }
        if who.role == RoleKind::Applicant
            && row.final_report == 0
            && t.guards.is_empty()
            && wf
                .transitions
                .iter()
                .any(|n| n.from.contains(&t.to) && n.guards.contains(&Guard::FinalReportReceived))
        {
            row.final_report = 1;
        }
        if let Some(d) = body.signed_on {
            payload["signed_on"] = json!(d.to_string());
        }
        self.move_to(
            tx,
            served,
            wf,
            row,
            t.id.as_str(),
            t.to.as_str(),
            who.id.as_str(),
            who.role.name(),
            payload,
            body.reason.clone(),
            today,
            &now_s,
        )
        .await?;
        self.metrics.transitions.fetch_add(1, Ordering::Relaxed);
        // Automatic steps: the eligibility check, then the transition its outcome selects.
        let mut report = None;
        let mut state = t.to.to_string();
        for _ in 0..8 {
            if workflow::checks_eligibility(wf, &state) {
                report = Some(
                    self.check_eligibility(
                        tx,
                        fund,
                        row,
                        &facts,
                        today,
                        &now_s,
                        may_have_documents,
                    )
                    .await?,
                );
            }
            // The facts the automatic steps read change only with the state and the check.
            facts.state = row.state.clone();
            facts.outcome = outcome_of(row.outcome.as_deref());
            facts.requested = requested_of(row);
            facts.deadline = row.deadline.as_deref().and_then(|d| d.parse().ok());
            let next = workflow::automatic(wf, &state).find_map(|t| {
                workflow::decide(
                    &served.plan,
                    fund,
                    wf,
                    t.id.as_str(),
                    &Actor::SYSTEM,
                    &facts,
                    &Input::default(),
                )
                .ok()
            });
            let Some(next) = next else { break };
            let to = next.transition.to.to_string();
            self.move_to(
                tx,
                served,
                wf,
                row,
                next.transition.id.as_str(),
                &to,
                workflow::SYSTEM_ROLE,
                workflow::SYSTEM_ROLE,
                json!({}),
                None,
                today,
                &now_s,
            )
            .await?;
            state = to;
        }
        Ok(report)
    }

    fn check_scores(
        &self,
        fund: &Fund,
        scores: Option<&std::collections::BTreeMap<String, u32>>,
    ) -> Result<Value> {
        let Some(grid) = &fund.grid else {
            return Ok(json!({}));
        };
        let mut out = serde_json::Map::new();
        for (k, v) in scores.into_iter().flatten() {
            let Some(c) = grid.criteria.iter().find(|c| c.id.as_str() == k) else {
                return Err(Error::unprocessable(
                    format!("the selection grid has no criterion `{k}`"),
                    Some(&format!("scores.{k}")),
                ));
            };
            if c.assessed != metroplan_engine::model::Assessment::Reviewer {
                return Err(Error::unprocessable(
                    format!("criterion `{k}` is computed by the rules, not scored by reviewers"),
                    Some(&format!("scores.{k}")),
                ));
            }
            let max = fund
                .parameters
                .iter()
                .find(|p| p.id == c.points)
                .and_then(|p| p.values.iter().last())
                .map(|d| d.value)
                .unwrap_or_default();
            if Decimal::from(*v) > max {
                return Err(Error::unprocessable(
                    format!("criterion `{k}` is scored out of {max}"),
                    Some(&format!("scores.{k}")),
                ));
            }
            out.insert(k.clone(), json!(v));
        }
        Ok(Value::Object(out))
    }

    #[allow(clippy::too_many_arguments)]
    async fn move_to(
        &self,
        tx: &mut WriteTx,
        served: &Served,
        wf: &Workflow,
        row: &mut AppRow,
        action: &str,
        to: &str,
        actor: &str,
        role: &str,
        payload: Value,
        reason: Option<String>,
        today: Date,
        now_s: &str,
    ) -> Result<()> {
        let from = row.state.clone();
        let deadline = wf
            .states
            .iter()
            .find(|s| s.id.as_str() == to)
            .and_then(|s| s.deadline)
            .map(|span| add_span(today, span).to_string());
        row.state = to.to_string();
        row.version += 1;
        row.deadline = deadline.clone();
        row.updated_at = now_s.to_string();
        tx.record(NewEvent {
            application_id: Some(row.id.clone()),
            actor: actor.into(),
            role: role.into(),
            at: now_s.into(),
            action: action.into(),
            from_state: Some(from.clone()),
            to_state: Some(to.into()),
            payload: payload.to_string(),
            reason: reason.clone(),
        });
        if from != to
            && let Some(email) = row.owner_email.clone()
        {
            let label = wf
                .states
                .iter()
                .find(|s| s.id.as_str() == to)
                .map(|s| s.label.as_str())
                .unwrap_or(to);
            let subject = format!("[{}] Dossier {} : {}", served.plan.id, row.id, label);
            let mut text = format!(
                "Bonjour,\n\nVotre dossier {} ({}) est passé à l'état : {}.\n",
                row.id,
                row.title.as_deref().unwrap_or("sans titre"),
                label
            );
            if let Some(d) = &deadline {
                text.push_str(&format!("Date limite : {d}.\n"));
            }
            if let Some(r) = &reason {
                text.push_str(&format!("Motif : {r}\n"));
            }
            text.push_str("\nCe message est envoyé automatiquement par metroplan.\n");
            crate::notify::queue(&mut tx.tx, &row.id, &email, &subject, &text, now_s).await?;
        }
        Ok(())
    }
}

fn add_span(day: Date, span: metroplan_engine::model::Span) -> Date {
    use metroplan_engine::model::DurationUnit;
    let n = i64::from(span.amount);
    let s = match span.unit {
        DurationUnit::Days | DurationUnit::WorkingDays => jiff::Span::new().days(n),
        DurationUnit::Weeks => jiff::Span::new().weeks(n),
        DurationUnit::Months => jiff::Span::new().months(n),
    };
    day.checked_add(s).unwrap_or(day)
}

fn refusal(r: Refusal) -> Error {
    match r {
        Refusal::UnknownAction { .. } => Error::NotFound(r.to_string()),
        Refusal::WrongState { .. } => Error::Conflict(r.to_string()),
        Refusal::WrongRole { .. } | Refusal::NotOwner { .. } => Error::Forbidden(r.to_string()),
        Refusal::Guard {
            ref guard, field, ..
        } => Error::Unprocessable {
            detail: r.to_string(),
            field: field.map(str::to_string),
            guard: Some(guard.clone()),
            extra: None,
        },
    }
}
