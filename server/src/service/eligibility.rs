//! The fund's rules on an application: as filed (stored with the ruleset's hash), as a
//! dry run or a preview (nothing stored), and the audited re-evaluation.

use jiff::civil::Date;
use metroplan_engine::model::{FieldType, Fund, RoleKind};
use metroplan_engine::rules::explain::{explain, text_fr};
use metroplan_engine::rules::{Context, Evaluation, FILING_DATE_FIELD};
use metroplan_engine::workflow::{self, Facts};
use serde_json::{Value, json};

use crate::audit::NewEvent;
use crate::clock::stamp;
use crate::error::{Error, Result};
use crate::rules_guard::RulesGuard;
use crate::store::WriteTx;
use crate::tokens::Principal;

use super::documents::documents_of;
use super::rows::{AppRow, flush, load_row, touch_in_place};
use super::views::{ApplicationView, visible};
use super::{Ctx, scope};

impl Ctx {
    /// Runs the fund's rules on the application as filed: its filing date is today in the
    /// plan's time zone and its documents are the pieces actually uploaded.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn check_eligibility(
        &self,
        tx: &mut WriteTx,
        fund: &Fund,
        row: &mut AppRow,
        facts: &Facts,
        today: Date,
        now_s: &str,
        may_have_documents: bool,
    ) -> Result<Value> {
        let id = row.id.clone();
        let id = id.as_str();
        let data: Value = serde_json::from_str(&row.data).map_err(anyhow::Error::from)?;
        let uploaded: Vec<String> = if may_have_documents {
            documents_of(&mut *tx.tx, id)
                .await?
                .into_iter()
                .map(|d| d.kind)
                .collect()
        } else {
            Vec::new()
        };
        let (e, report) = evaluate_as_filed(
            &self.rules,
            fund,
            &data,
            today,
            Some(&uploaded),
            facts.other_filings,
        )?;
        row.evaluation = Some(report.to_string());
        row.outcome = Some(e.outcome.name().to_string());
        row.ruleset = Some(e.ruleset.clone());
        if row.filed_on.is_none() {
            row.filed_on = Some(today.to_string());
        }
        tx.record(NewEvent {
            application_id: Some(id.into()),
            actor: workflow::SYSTEM_ROLE.into(),
            role: workflow::SYSTEM_ROLE.into(),
            at: now_s.into(),
            action: "eligibility-check".into(),
            from_state: Some(row.state.clone()),
            to_state: Some(row.state.clone()),
            payload: json!({"outcome": e.outcome.name(), "ruleset": e.ruleset, "missing": e.missing, "failed": e.rules.iter().filter(|r| r.counts() && r.status == metroplan_engine::rules::Status::Fail).map(|r| r.id.clone()).collect::<Vec<_>>()}).to_string(),
            reason: None,
        });
        Ok(json!({"evaluation": report["evaluation"], "explanation": report["explanation"]}))
    }

    /// The public dry run: the rules on `data` as if it were filed today, with the pieces it
    /// says it has; nothing is stored. The report is the evaluation with its explanation and
    /// French text.
    pub fn dry_run(&self, plan: &str, fund_id: &str, data: &Value) -> Result<Value> {
        let served = self.served(plan)?;
        let fund = served
            .plan
            .fund(fund_id)
            .ok_or_else(|| Error::NotFound(format!("plan `{plan}` has no fund `{fund_id}`")))?;
        if fund.ruleset.is_none() {
            return Err(Error::NotFound(format!(
                "fund `{fund_id}` has no rules script"
            )));
        }
        let today = self.today(&served);
        let (_, report) = evaluate_as_filed(&self.rules, fund, data, today, None, 0)?;
        let mut v = report["evaluation"].clone();
        v["explanation"] = report["explanation"].clone();
        v["text"] = report["text"].clone();
        Ok(v)
    }

    /// The eligibility result the application would get if it were checked now, with the
    /// pieces uploaded so far; nothing is stored.
    pub async fn preview(&self, who: &Principal, id: &str) -> Result<Value> {
        let view = self.get(who, id).await?;
        let served = self.served_for_change(id, &view.plan, &view.fund, &view.state)?;
        let (fund, _) = scope(&served, &view.fund)?;
        let today = self.today(&served);
        let uploaded: Vec<String> = view.documents.iter().map(|d| d.kind.clone()).collect();
        let (_, report) =
            evaluate_as_filed(&self.rules, fund, &view.data, today, Some(&uploaded), 0)?;
        Ok(report)
    }

    /// Runs the fund's current rules again on a filed application, as of its filing date,
    /// and records the new result beside the old one in the audit trail. The state does not
    /// change: what to do with a different outcome is the staff's decision.
    pub async fn reevaluate(
        &self,
        who: &Principal,
        id: &str,
        if_match: Option<i64>,
        reason: Option<String>,
    ) -> Result<ApplicationView> {
        let Some(expected) = if_match else {
            return Err(Error::PreconditionRequired);
        };
        if !matches!(who.role, RoleKind::Instructor | RoleKind::Admin) {
            return Err(Error::Forbidden(
                "re-evaluating an application is for instructors and administrators".into(),
            ));
        }
        let now_s = stamp(self.clock.now());
        let mut tx = self.db.write().await?;
        let mut row = load_row(&mut tx, id).await?;
        if !visible(who, &row.owner_id, &row.plan, &row.fund) {
            return Err(Error::NotFound(format!("no application `{id}`")));
        }
        let served = self.served_for_change(id, &row.plan, &row.fund, &row.state)?;
        if row.version != expected {
            return Err(Error::Stale {
                current: row.version,
            });
        }
        let (fund, _) = scope(&served, &row.fund)?;
        let filed: Date = row
            .filed_on
            .as_deref()
            .and_then(|d| d.parse().ok())
            .ok_or_else(|| {
                Error::Conflict(format!(
                    "application `{id}` was never filed: there is nothing to re-evaluate"
                ))
            })?;
        let before = json!({"outcome": row.outcome, "ruleset": row.ruleset});
        let facts = self.facts(&mut tx, fund, &row, filed, true).await?;
        let result = self
            .check_eligibility(&mut tx, fund, &mut row, &facts, filed, &now_s, true)
            .await?;
        let after = json!({"outcome": row.outcome, "ruleset": row.ruleset});
        touch_in_place(
            &mut tx,
            &mut row,
            who,
            now_s,
            "re-evaluation",
            json!({ "before": before, "after": after }),
            reason,
        );
        flush(&mut tx, &row, Some(expected), fund).await?;
        let docs = documents_of(&mut *tx.tx, id).await?;
        tx.commit().await?;
        let mut view = self.view(row, docs, who)?;
        view.eligibility = Some(result);
        Ok(view)
    }
}

/// Whether the server fills this field itself when filing (`evaluate_as_filed`): the form,
/// the page and the form's JSON Schema leave it to the server.
pub fn set_by_server(path: &str, ty: FieldType) -> bool {
    path == FILING_DATE_FIELD || ty == FieldType::Documents
}

/// Runs the fund's rules on an application as the server files it: the filing date is `day`
/// and the documents are the pieces uploaded, in whichever fields the form declares for them
/// (`None`: the pieces the data says it has, for a dry run where nothing is uploaded).
/// Returns the evaluation and its report (evaluation, explanation, French text).
fn evaluate_as_filed(
    guard: &RulesGuard,
    fund: &Fund,
    data: &Value,
    day: Date,
    uploaded: Option<&[String]>,
    other_filings: u32,
) -> Result<(Evaluation, Value)> {
    let rules = fund
        .ruleset
        .as_ref()
        .ok_or_else(|| Error::Conflict(format!("fund `{}` has no rules script", fund.id)))?;
    let mut data = data.clone();
    for f in &fund.form.fields {
        if f.path == FILING_DATE_FIELD {
            set_path(&mut data, &f.path, json!(day.to_string()));
        } else if f.ty == FieldType::Documents
            && let Some(uploaded) = uploaded
        {
            set_path(&mut data, &f.path, json!(uploaded));
        }
    }
    let ctx = Context {
        filed_on: Some(day),
        other_filings,
    };
    let e = match guard.evaluate(fund.id.as_str(), rules, &data, ctx)? {
        Ok(e) => e,
        Err(err) => {
            return Err(Error::unprocessable(
                err.message.clone(),
                Some(&format!("data.{}", err.field)),
            ));
        }
    };
    let x = explain(rules, &e);
    let report = json!({ "evaluation": e, "explanation": x, "text": text_fr(&x, &e) });
    Ok((e, report))
}

/// Sets the value at a dotted path, creating the objects on the way.
fn set_path(data: &mut Value, path: &str, value: Value) {
    let mut at = data;
    let mut keys = path.split('.').peekable();
    while let Some(k) = keys.next() {
        let Value::Object(m) = at else { return };
        if keys.peek().is_none() {
            m.insert(k.to_string(), value);
            return;
        }
        at = m.entry(k.to_string()).or_insert_with(|| json!({}));
    }
}
