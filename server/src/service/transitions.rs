//! Workflow transitions: the one a person asks for, decided by the engine from facts read
//! in the write transaction, then the automatic steps it leads to.

use std::sync::atomic::Ordering;

use jiff::civil::Date;
use metroplan_engine::model::{Fund, RoleKind};
use metroplan_engine::workflow::{self, Actor, Guard, Input, Recorded, Refusal};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::audit::NewEvent;
use crate::clock::stamp;
use crate::error::{Error, Result};
use crate::plans::Served;
use crate::store::WriteTx;
use crate::tokens::Principal;

use super::action_body::ActionBody;
use super::content::{bind_applicant_key, replace_content};
use super::documents::documents_of;
use super::idempotency::{Reply, claim_key, store_reply};
use super::ledger::over_envelope;
use super::rows::{AppRow, flush, load_row, touch_in_place};
use super::views::visible;
use super::{Ctx, euros, scope};

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
            "amount": body.amount.map(|a| a.to_string()), "reason": body.reason, "linked": body.linked, "favourable": body.favourable,
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
        let served = self.served_for_change(id, &row.plan, &row.fund, &row.state)?;
        if row.version != expected {
            return Err(Error::Stale {
                current: row.version,
            });
        }
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
        let letters = super::letters::letters_of(&mut *tx.tx, id).await?;
        let mut view = self.view(row, docs, who)?;
        view.letters = letters;
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
        let (fund, wf) = scope(served, &row.fund)?;
        let today = self.today(served);
        let now_s = stamp(self.clock.now());
        let roles = who.plan_roles(&row.plan, &row.fund);
        let actor = Actor {
            id: &who.id,
            kind: Some(who.role),
            roles: &roles,
        };
        let input = Input {
            amount: body.amount,
            reason: body.reason.clone(),
            linked: body.linked,
            favourable: body.favourable,
            signed_on: body.signed_on,
            data: body.data.is_some(),
        };
        let mut payload = json!({});
        // New content from the applicant first, so that guards and rules see the file as it
        // will be; the engine refuses data where the plan does not take it, and a refusal
        // drops the transaction with the change.
        if let Some(data) = &body.data {
            if who.role != RoleKind::Applicant {
                return Err(Error::unprocessable(
                    "only the applicant changes the application's content",
                    Some("data"),
                ));
            }
            match wf.transitions.iter().find(|t| t.id.as_str() == action) {
                None => {
                    return Err(refusal(Refusal::UnknownAction {
                        workflow: wf.id.to_string(),
                        action: action.to_string(),
                    }));
                }
                Some(t) if !t.data => {
                    return Err(refusal(Refusal::DataNotAccepted {
                        action: action.to_string(),
                    }));
                }
                Some(_) => {}
            }
            replace_content(tx, wf, fund, row, data, &now_s).await?;
            payload["data"] = data.clone();
        }
        let mut facts = self.facts(tx, fund, row, today, may_have_documents).await?;
        if who.role != RoleKind::Applicant
            && let Some(key) = &row.applicant_key
        {
            facts.actor_is_filer =
                crate::applicant_keys::is_filer(tx, who, &row.plan, &row.fund, key).await?;
        }
        let decision =
            match workflow::decide(&served.plan, fund, wf, action, &actor, &facts, &input) {
                Ok(d) => d,
                Err(r) => {
                    self.metrics.refusals.fetch_add(1, Ordering::Relaxed);
                    return Err(match &r {
                        Refusal::Guard { guard, .. } if guard == Guard::WithinEnvelope.name() => {
                            let year = row.call_year.unwrap_or(0);
                            let committed = euros(self.committed(tx, row, year).await?);
                            over_envelope(fund, year, input.amount.unwrap_or_default(), committed)
                        }
                        Refusal::Guard { guard, .. } if guard == Guard::OnePerApplicant.name() => {
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
        if workflow::filing(&served.plan, wf).is_some_and(|f| f.id == t.id) {
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
        self.book(
            tx,
            fund,
            row,
            &decision.effects,
            t.id.as_str(),
            &now_s,
            &mut payload,
        )
        .await?;
        // A step that states an amount without moving money (the instructor's proposal)
        // keeps it in its event: the decision starts from it.
        if let Some(a) = body.amount
            && payload.get("amount").is_none()
            && t.guards.iter().any(|g| {
                matches!(
                    g,
                    Guard::AmountWithinRequest | Guard::AmountWithinCeiling | Guard::WithinEnvelope
                )
            })
        {
            payload["amount"] = json!(a.round_dp(2).to_string());
        }
        if !decision.conditions.is_empty() {
            payload["conditions"] = json!(decision.conditions);
        }
        if let Some(rec) = &decision.recorded {
            self.record_step(tx, fund, row, who, rec, body, &now_s, &mut payload)
                .await?;
        }
        if let Some(d) = body.signed_on {
            payload["signed_on"] = json!(d.to_string());
        }
        if decision.stays {
            touch_in_place(
                tx,
                row,
                who,
                now_s.clone(),
                t.id.as_str(),
                payload,
                body.reason.clone(),
            );
            return Ok(None);
        }
        self.move_to(
            tx,
            served,
            row,
            Move {
                action: t.id.as_str(),
                to: t.to.as_str(),
                actor: who.id.as_str(),
                role: who.role.name(),
                payload,
                reason: body.reason.clone(),
            },
            today,
            &now_s,
        )
        .await?;
        self.metrics.transitions.fetch_add(1, Ordering::Relaxed);
        self.automatic_steps(tx, served, row, facts, today, &now_s, may_have_documents)
            .await
    }

    /// The automatic steps after a transition: the eligibility check where the new state
    /// calls for it, then the automatic transition whose guards hold, until none does (a
    /// loop of automatic transitions is refused when the plan loads).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn automatic_steps(
        &self,
        tx: &mut WriteTx,
        served: &Served,
        row: &mut AppRow,
        mut facts: workflow::Facts,
        today: Date,
        now_s: &str,
        may_have_documents: bool,
    ) -> Result<Option<Value>> {
        let (fund, wf) = scope(served, &row.fund)?;
        let mut report = None;
        loop {
            let state = row.state.clone();
            if workflow::checks_eligibility(wf, &state) {
                report = Some(
                    self.check_eligibility(tx, fund, row, &facts, today, now_s, may_have_documents)
                        .await?,
                );
            }
            // The step just taken changed the money, the opinions, the report, the check:
            // the automatic steps decide on the file as it now is.
            facts = self.facts(tx, fund, row, today, may_have_documents).await?;
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
            let mut payload = json!({});
            self.book(
                tx,
                fund,
                row,
                &next.effects,
                next.transition.id.as_str(),
                now_s,
                &mut payload,
            )
            .await?;
            self.move_to(
                tx,
                served,
                row,
                Move {
                    action: next.transition.id.as_str(),
                    to: next.transition.to.as_str(),
                    actor: workflow::SYSTEM_ROLE,
                    role: workflow::SYSTEM_ROLE,
                    payload,
                    reason: None,
                },
                today,
                now_s,
            )
            .await?;
        }
        Ok(report)
    }

    /// What the step records beyond the state: an opinion, a declaration of interest, the
    /// final report.
    #[allow(clippy::too_many_arguments)]
    async fn record_step(
        &self,
        tx: &mut WriteTx,
        fund: &Fund,
        row: &mut AppRow,
        who: &Principal,
        rec: &Recorded,
        body: &ActionBody,
        now_s: &str,
        payload: &mut Value,
    ) -> Result<()> {
        match rec {
            Recorded::Opinion { favourable } => {
                let opinion = body
                    .opinion
                    .clone()
                    .filter(|o| !o.trim().is_empty())
                    .ok_or_else(|| Error::unprocessable("write the opinion", Some("opinion")))?;
                let scores = self.check_scores(fund, body.scores.as_ref())?;
                sqlx::query("INSERT INTO opinions (application_id, reviewer, opinion, scores, created_at, favourable) VALUES ($1, $2, $3, $4, $5, $6)")
                    .bind(&row.id)
                    .bind(&who.id)
                    .bind(&opinion)
                    .bind(scores.to_string())
                    .bind(now_s)
                    .bind(i64::from(*favourable))
                    .execute(&mut *tx.tx)
                    .await?;
                payload["opinion"] = json!(opinion);
                payload["favourable"] = json!(favourable);
                payload["scores"] = scores;
                payload["linked"] = json!(false);
            }
            Recorded::Declaration => {
                sqlx::query("INSERT INTO declarations (application_id, reviewer, at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
                    .bind(&row.id)
                    .bind(&who.id)
                    .bind(now_s)
                    .execute(&mut *tx.tx)
                    .await?;
                payload["linked"] = json!(true);
                payload["declaration"] = json!(true);
            }
            Recorded::FinalReport => {
                row.final_report = 1;
                payload["final_report"] = json!(true);
            }
        }
        Ok(())
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

    /// Moves the file to another state: the event, the deadline and what time will do
    /// there, and the applicant's notification.
    pub(super) async fn move_to(
        &self,
        tx: &mut WriteTx,
        served: &Served,
        row: &mut AppRow,
        m: Move<'_>,
        today: Date,
        now_s: &str,
    ) -> Result<()> {
        let (fund, wf) = scope(served, &row.fund)?;
        let Move {
            action,
            to,
            actor,
            role,
            payload,
            reason,
        } = m;
        let from = row.state.clone();
        let moved = from != to;
        row.state = to.to_string();
        row.version += 1;
        row.updated_at = now_s.to_string();
        if moved {
            // A step that stays (an opinion) keeps the deadline and what time has pending.
            row.deadline = wf
                .states
                .iter()
                .find(|s| s.id.as_str() == to)
                .and_then(|s| s.deadline)
                .and_then(|span| workflow::add_span(today, span, 1))
                .map(|d| d.to_string());
            row.entered_on = Some(today.to_string());
            row.pending_time = Some(self.schedule(tx, fund, wf, row, today).await?);
        }
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
        let issued = match wf.transitions.iter().find(|t| t.id.as_str() == action) {
            Some(t) => {
                let step = super::letters::Step {
                    transition: t,
                    reason: reason.as_deref(),
                    today,
                    now: now_s,
                };
                self.issue_letters(tx, served, fund, wf, row, &step).await?
            }
            None => Vec::new(),
        };
        if (moved || !issued.is_empty())
            && let Some(email) = row.owner_email.clone()
        {
            let (subject, text) = self
                .email(
                    tx,
                    served,
                    fund,
                    wf,
                    row,
                    action,
                    reason.as_deref(),
                    &issued,
                    today,
                    now_s,
                )
                .await?;
            crate::notify::queue(&mut tx.tx, Some(&row.id), &email, &subject, &text, now_s).await?;
        }

        Ok(())
    }
}

/// A move to another state (or the same), as the event records it.
pub(super) struct Move<'a> {
    pub(super) action: &'a str,
    pub(super) to: &'a str,
    pub(super) actor: &'a str,
    pub(super) role: &'a str,
    pub(super) payload: Value,
    pub(super) reason: Option<String>,
}

pub(super) fn refusal(r: Refusal) -> Error {
    match r {
        Refusal::UnknownAction { .. } => Error::NotFound(r.to_string()),
        Refusal::WrongState { .. } => Error::Conflict(r.to_string()),
        Refusal::WrongRole { .. } | Refusal::NotOwner { .. } => Error::Forbidden(r.to_string()),
        Refusal::DataNotAccepted { .. } => Error::Unprocessable {
            detail: r.to_string(),
            field: Some("data".into()),
            guard: None,
            extra: None,
        },
        Refusal::Guard {
            ref guard,
            field,
            ref fr,
            ..
        } => Error::Unprocessable {
            detail: r.to_string(),
            field: field.map(str::to_string),
            guard: Some(guard.clone()),
            // What a person reads: the pages show it as it is.
            extra: Some(Box::new(json!({ "fr": fr }))),
        },
    }
}
