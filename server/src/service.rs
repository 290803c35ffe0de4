//! Applications through their workflow: the facts the engine's [`decide`] needs are read in
//! the write transaction, its decision is stored in the same transaction with the audit
//! events, the envelope commitment, the idempotency record and the notification.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use jiff::civil::Date;
use metroplan_engine::model::FieldType;
use metroplan_engine::model::{Fund, RoleKind, Workflow};
use metroplan_engine::rules::explain::{explain, text_fr};
use metroplan_engine::rules::{Context, Evaluation, FILING_DATE_FIELD, Outcome};
use metroplan_engine::workflow::{self, Actor, Effect, Facts, Guard, Input, Refusal};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::audit::{EVENT_COLUMNS, NewEvent};
use crate::clock::{Clock, stamp};
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::plans::{PlanSet, Served};
use crate::rules_guard::RulesGuard;
use crate::store::{Db, WriteTx};
use crate::tokens::Principal;

/// What the services share.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub db: Db,
    pub plans: PlanSet,
    pub clock: Clock,
    pub metrics: Arc<Metrics>,
    pub rules: Arc<RulesGuard>,
}

pub fn cents(d: Decimal) -> Option<i64> {
    let c = d * Decimal::ONE_HUNDRED;
    (c.fract().is_zero()).then(|| i64::try_from(c.trunc()).ok())?
}

pub fn euros(c: i64) -> Decimal {
    Decimal::new(c, 2)
}

fn money(c: Option<i64>) -> Option<String> {
    c.map(|c| euros(c).to_string())
}

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

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DocumentView {
    pub kind: String,
    pub sha256: String,
    pub media_type: String,
    pub size: i64,
    pub file_name: Option<String>,
}

/// The body of a workflow action.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionBody {
    /// Amount in euros (a decimal string or number): award or payment.
    #[schema(value_type = Option<String>, pattern = r"^[0-9]{1,12}(\.[0-9]{1,2})?$")]
    #[serde(default, deserialize_with = "amount")]
    pub amount: Option<Decimal>,
    pub reason: Option<String>,
    /// Reviewers: whether they have a link of interest with the applicant.
    pub linked: Option<bool>,
    /// Reviewers: the opinion.
    pub opinion: Option<String>,
    /// Reviewers: points by criterion of the selection grid assessed by reviewers.
    #[serde(default, deserialize_with = "scores")]
    pub scores: Option<std::collections::BTreeMap<String, u32>>,
    /// Date the agreement was signed.
    #[schema(value_type = Option<String>, format = Date)]
    pub signed_on: Option<Date>,
    /// Applicants: the application's new content (while it is a draft or incomplete).
    #[schema(value_type = Option<crate::http::bodies::ApplicationData>)]
    pub data: Option<Value>,
}

/// Points by criterion: whole numbers, written `12` or `12.0` (JSON does not tell them apart).
fn scores<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<std::collections::BTreeMap<String, u32>>, D::Error> {
    use serde::de::Error as _;
    let Some(m) = Option::<std::collections::BTreeMap<String, Value>>::deserialize(d)? else {
        return Ok(None);
    };
    m.into_iter()
        .map(|(k, v)| {
            let n = v
                .as_u64()
                .or_else(|| {
                    v.as_f64()
                        .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= f64::from(u32::MAX))
                        .map(|f| f as u64)
                })
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| {
                    D::Error::custom(format!("scores.{k}: {v} is not a whole number of points"))
                })?;
            Ok((k, n))
        })
        .collect::<std::result::Result<_, _>>()
        .map(Some)
}

/// An amount given as a decimal string (`"1234.50"`) or a JSON number, read exactly.
fn amount<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<Decimal>, D::Error> {
    use serde::de::Error as _;
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| D::Error::custom(format!("amount `{s}` is not a decimal number"))),
        Some(Value::Number(n)) => n
            .to_string()
            .parse()
            .map(Some)
            .map_err(|_| D::Error::custom(format!("amount {n} is not a decimal number"))),
        Some(other) => Err(D::Error::custom(format!(
            "amount: expected a decimal, got {other}"
        ))),
    }
}

#[derive(Debug, Clone)]
struct AppRow {
    id: String,
    plan: String,
    fund: String,
    call_year: Option<i64>,
    applicant_key: Option<String>,
    applicant_name: Option<String>,
    title: Option<String>,
    state: String,
    version: i64,
    /// The owner's label (an email or a token's name), for pages.
    owner: String,
    /// The owner's identity (`Principal::id`).
    owner_id: String,
    owner_email: Option<String>,
    data: String,
    requested_cents: Option<i64>,
    awarded_cents: Option<i64>,
    paid_cents: i64,
    outcome: Option<String>,
    ruleset: Option<String>,
    filed_on: Option<String>,
    deadline: Option<String>,
    final_report: i64,
    decided_on: Option<String>,
    created_at: String,
    updated_at: String,
    /// The eligibility report to store (set by the check, written by `flush`).
    evaluation: Option<String>,
    /// A filing to record (call, applicant), written by `flush` after the row.
    pending_filing: Option<(i64, String)>,
}

const APP_COLUMNS: &str = "id, plan, fund, call_year, applicant_key, applicant_name, title, state, version, owner, owner_email, data, requested_cents, awarded_cents, paid_cents, outcome, ruleset, filed_on, deadline, final_report, decided_on, created_at, updated_at, owner_id";

impl AppRow {
    fn from_row(r: &AnyRow) -> Result<AppRow, sqlx::Error> {
        Ok(AppRow {
            id: r.try_get("id")?,
            plan: r.try_get("plan")?,
            fund: r.try_get("fund")?,
            call_year: r.try_get("call_year")?,
            applicant_key: r.try_get("applicant_key")?,
            applicant_name: r.try_get("applicant_name")?,
            title: r.try_get("title")?,
            state: r.try_get("state")?,
            version: r.try_get("version")?,
            owner: r.try_get("owner")?,
            // Rows the identity migration could not resolve keep their name, owned by nobody.
            owner_id: r
                .try_get::<Option<String>, _>("owner_id")?
                .unwrap_or_default(),
            owner_email: r.try_get("owner_email")?,
            data: r.try_get("data")?,
            requested_cents: r.try_get("requested_cents")?,
            awarded_cents: r.try_get("awarded_cents")?,
            paid_cents: r.try_get("paid_cents")?,
            outcome: r.try_get("outcome")?,
            ruleset: r.try_get("ruleset")?,
            filed_on: r.try_get("filed_on")?,
            deadline: r.try_get("deadline")?,
            final_report: r.try_get("final_report")?,
            decided_on: r.try_get("decided_on")?,
            created_at: r.try_get("created_at")?,
            updated_at: r.try_get("updated_at")?,
            evaluation: None,
            pending_filing: None,
        })
    }
}

/// The plan, fund and workflow of an application.
fn scope<'a>(served: &'a Served, fund: &str) -> Result<(&'a Fund, &'a Workflow)> {
    let f = served.plan.fund(fund).ok_or_else(|| {
        Error::NotFound(format!("plan `{}` has no fund `{fund}`", served.plan.id))
    })?;
    let wf = served
        .plan
        .workflow(f.workflow.as_str())
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("fund `{fund}` has no workflow")))?;
    Ok((f, wf))
}

impl Ctx {
    pub fn served(&self, plan: &str) -> Result<Arc<Served>> {
        self.plans
            .get(plan)
            .ok_or_else(|| Error::NotFound(format!("no plan `{plan}`")))
    }

    fn today(&self, served: &Served) -> Date {
        self.clock.now().to_zoned_datetime(served.tz.clone()).date()
    }

    fn view(
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
}

async fn documents_of<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    ex: E,
    id: &str,
) -> Result<Vec<DocumentView>> {
    let rows = sqlx::query(
        "SELECT kind, sha256, media_type, size, file_name FROM documents WHERE application_id = $1 ORDER BY kind",
    )
    .bind(id)
    .fetch_all(ex)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(DocumentView {
                kind: r.try_get("kind")?,
                sha256: r.try_get("sha256")?,
                media_type: r.try_get("media_type")?,
                size: r.try_get("size")?,
                file_name: r.try_get("file_name")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(Error::from)
}

/// Whether `who` may see an application: applicants their own (by identity), staff their
/// (plan, fund) scope.
fn visible(who: &Principal, owner_id: &str, plan: &str, fund: &str) -> bool {
    match who.role {
        RoleKind::Applicant => who.id == owner_id,
        _ => who.covers(plan, fund),
    }
}

/// Claims an idempotency key in `tx`: `Some(reply)` when the request was already answered.
async fn claim_key(
    tx: &mut WriteTx,
    who: &Principal,
    key: Option<&str>,
    request: &str,
    now: &str,
) -> Result<Option<(u16, Value)>> {
    let Some(key) = key else { return Ok(None) };
    if key.is_empty() || key.len() > 200 {
        return Err(Error::bad("Idempotency-Key: 1 to 200 characters", None));
    }
    let hash = hex::encode(Sha256::digest(request.as_bytes()));
    let inserted = sqlx::query(
        "INSERT INTO idempotency (principal, key, request_hash, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(&who.id)
    .bind(key)
    .bind(&hash)
    .bind(now)
    .execute(&mut *tx.tx)
    .await?
    .rows_affected();
    if inserted == 1 {
        return Ok(None);
    }
    let row = sqlx::query(
        "SELECT request_hash, status, body FROM idempotency WHERE principal = $1 AND key = $2",
    )
    .bind(&who.id)
    .bind(key)
    .fetch_one(&mut *tx.tx)
    .await?;
    let stored: String = row.try_get("request_hash")?;
    if stored != hash {
        return Err(Error::unprocessable(
            "this Idempotency-Key was used for another request: use a new key for a new request",
            Some("Idempotency-Key"),
        ));
    }
    let status: Option<i64> = row.try_get("status")?;
    let body: Option<String> = row.try_get("body")?;
    match (status, body) {
        (Some(s), Some(b)) => Ok(Some((
            s as u16,
            serde_json::from_str(&b).unwrap_or(Value::Null),
        ))),
        _ => Err(Error::Conflict(
            "a request with this Idempotency-Key is still being processed".into(),
        )),
    }
}

async fn store_reply(
    tx: &mut WriteTx,
    who: &Principal,
    key: Option<&str>,
    status: u16,
    body: &Value,
) -> Result<()> {
    if let Some(key) = key {
        sqlx::query(
            "UPDATE idempotency SET status = $1, body = $2 WHERE principal = $3 AND key = $4",
        )
        .bind(status as i64)
        .bind(body.to_string())
        .bind(&who.id)
        .bind(key)
        .execute(&mut *tx.tx)
        .await?;
    }
    Ok(())
}

/// A reply: status, body, and whether it replays an earlier answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub replayed: bool,
}

fn text_at<'v>(data: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(data, |v, k| v.get(k))
}

/// The values the workflow reads from an application's data.
struct Keys {
    call: Option<i64>,
    applicant: Option<String>,
    applicant_name: Option<String>,
    title: Option<String>,
    requested: Option<i64>,
}

fn keys_of(fund: &Fund, data: &Value) -> Keys {
    let Some(k) = &fund.keys else {
        return Keys {
            call: None,
            applicant: None,
            applicant_name: None,
            title: None,
            requested: None,
        };
    };
    let s = |p: &str| {
        text_at(data, p)
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    Keys {
        call: text_at(data, &k.call).and_then(Value::as_i64),
        applicant: s(&k.applicant),
        applicant_name: s(&k.applicant_name),
        title: s(&k.title),
        requested: text_at(data, &k.requested_amount)
            .and_then(|v| match v {
                Value::Number(n) => n.to_string().parse::<Decimal>().ok(),
                Value::String(s) => s.parse::<Decimal>().ok(),
                _ => None,
            })
            .and_then(cents),
    }
}

/// The file's applicant key is its owner's: bound on first use, refused when another holds it.
async fn bind_applicant_key(tx: &mut WriteTx, row: &AppRow, fund: &Fund, now: &str) -> Result<()> {
    if let (Some(key), Some(keys)) = (&row.applicant_key, &fund.keys) {
        crate::applicant_keys::claim(
            tx,
            &row.owner_id,
            &row.plan,
            &row.fund,
            key,
            &format!("data.{}", keys.applicant),
            now,
        )
        .await?;
    }
    Ok(())
}

fn new_id(clock: &Clock) -> String {
    // Time first, so ids sort by creation (keyset pagination), then randomness.
    let ms = clock.now().as_millisecond().max(0) as u64;
    format!("{ms:012x}{}", crate::tokens::random_hex(8))
}

fn check_form(fund: &Fund, data: &Value) -> Result<()> {
    if !data.is_object() {
        return Err(Error::unprocessable(
            "the application is a JSON object",
            Some("data"),
        ));
    }
    metroplan_engine::rules::application::check(&fund.form, data)
        .map_err(|e| Error::unprocessable(e.message.clone(), Some(&format!("data.{}", e.field))))?;
    Ok(())
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
            evaluation: None,
            pending_filing: None,
        };
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
            let file = wf
                .transitions
                .iter()
                .find(|t| {
                    t.from.iter().any(|f| f == &wf.initial)
                        && served.plan.role_kind_of(t) == Some(RoleKind::Applicant)
                        && !wf.states.iter().any(|s| s.id == t.to && s.terminal)
                })
                .ok_or_else(|| {
                    Error::Conflict(format!(
                        "workflow `{}` has no transition by which an applicant files",
                        wf.id
                    ))
                })?;
            let out = self
                .apply(
                    &mut tx,
                    &served,
                    who,
                    &mut row,
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

    /// Takes a workflow transition.
    #[allow(clippy::too_many_arguments)]
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
            .apply(&mut tx, &served, who, &mut row, action, &body, true)
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
    #[allow(clippy::too_many_arguments)]
    async fn apply(
        &self,
        tx: &mut WriteTx,
        served: &Served,
        who: &Principal,
        row: &mut AppRow,
        action: &str,
        body: &ActionBody,
        may_have_documents: bool,
    ) -> Result<Option<Value>> {
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
                    let year = row.call_year.unwrap_or(0);
                    sqlx::query("INSERT INTO ledger (plan, fund, year) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
                        .bind(&row.plan).bind(&row.fund).bind(year)
                        .execute(&mut *tx.tx).await?;
                    sqlx::query("UPDATE ledger SET paid_cents = paid_cents + $1 WHERE plan = $2 AND fund = $3 AND year = $4")
                        .bind(c).bind(&row.plan).bind(&row.fund).bind(year)
                        .execute(&mut *tx.tx).await?;
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

    async fn commit_award(
        &self,
        tx: &mut WriteTx,
        fund: &Fund,
        row: &mut AppRow,
        amount: Decimal,
        now_s: &str,
    ) -> Result<()> {
        let c = cents(amount)
            .ok_or_else(|| Error::unprocessable("at most 2 decimals", Some("amount")))?;
        let year = row.call_year.unwrap_or(0);
        let envelope = envelope_of(fund, year);
        let env_c = cents(envelope).unwrap_or(0);
        sqlx::query(
            "INSERT INTO ledger (plan, fund, year) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(&row.plan)
        .bind(&row.fund)
        .bind(year)
        .execute(&mut *tx.tx)
        .await?;
        // The check and the commitment are one statement: on PostgreSQL the row lock makes a
        // concurrent approval re-read the committed total before testing it.
        let updated = sqlx::query("UPDATE ledger SET committed_cents = committed_cents + $1 WHERE plan = $2 AND fund = $3 AND year = $4 AND committed_cents + $1 <= $5")
            .bind(c).bind(&row.plan).bind(&row.fund).bind(year).bind(env_c)
            .execute(&mut *tx.tx).await?
            .rows_affected();
        if updated != 1 {
            let committed = euros(self.committed(tx, row, year).await?);
            self.metrics.refusals.fetch_add(1, Ordering::Relaxed);
            return Err(over_envelope(fund, year, amount, committed));
        }
        row.awarded_cents = Some(c);
        row.decided_on = Some(now_s.to_string());
        Ok(())
    }

    async fn committed(&self, tx: &mut WriteTx, row: &AppRow, year: i64) -> Result<i64> {
        Ok(
            crate::ledger::totals(&mut *tx.tx, &row.plan, &row.fund, year)
                .await?
                .committed_cents,
        )
    }

    /// What `decide` needs: the people who acted on the application, the earlier filings
    /// and the year's ledger.
    async fn facts(
        &self,
        tx: &mut WriteTx,
        fund: &Fund,
        row: &AppRow,
        today: Date,
        stored: bool,
    ) -> Result<Facts> {
        // A new application has nobody yet who acted on it.
        let people = if !stored {
            Vec::new()
        } else {
            sqlx::query(
            "SELECT actor, kind FROM participants WHERE application_id = $1 \
             UNION ALL SELECT reviewer AS actor, 'opinion' AS kind FROM opinions WHERE application_id = $1",
        )
        .bind(&row.id)
        .fetch_all(&mut *tx.tx)
        .await?
        };
        let (mut instructors, mut reviewers) = (Vec::new(), Vec::new());
        for p in &people {
            let kind: String = p.try_get("kind")?;
            let actor: String = p.try_get("actor")?;
            if kind == RoleKind::Instructor.name() {
                instructors.push(actor);
            } else if kind == "opinion" {
                reviewers.push(actor);
            }
        }
        let year = row.call_year.unwrap_or(0);
        let counts = sqlx::query(
            "SELECT COUNT(*) AS others FROM filings WHERE plan = $1 AND fund = $2 AND call_year = $3 AND applicant_key = $4 AND application_id <> $5",
        )
        .bind(&row.plan)
        .bind(&row.fund)
        .bind(year)
        .bind(row.applicant_key.as_deref().unwrap_or(""))
        .bind(&row.id)
        .fetch_one(&mut *tx.tx)
        .await?;
        let other_filings: i64 = counts.try_get("others")?;
        let committed = self.committed(tx, row, year).await?;
        let envelope = envelope_of(fund, year);
        let call_open = row.call_year.is_some_and(|y| {
            fund.calls
                .iter()
                .any(|c| i64::from(c.year) == y && c.opens <= today && today <= c.closes)
        });
        Ok(Facts {
            state: row.state.clone(),
            owner: row.owner_id.clone(),
            instructors,
            reviewers,
            outcome: outcome_of(row.outcome.as_deref()),
            requested: requested_of(row),
            awarded: row.awarded_cents.map(euros),
            paid: euros(row.paid_cents),
            deadline: row.deadline.as_deref().and_then(|d| d.parse().ok()),
            today,
            call_open,
            other_filings: other_filings as u32,
            envelope_remaining: Some(envelope - euros(committed)),
            final_report: row.final_report != 0,
        })
    }

    /// Runs the fund's rules on the application as filed: its filing date is today in the
    /// plan's time zone and its documents are the pieces actually uploaded.
    #[allow(clippy::too_many_arguments)]
    async fn check_eligibility(
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
}

/// The refusal of an award the year's envelope cannot hold, with what remains.
fn over_envelope(fund: &Fund, year: i64, amount: Decimal, committed: Decimal) -> Error {
    let envelope = envelope_of(fund, year);
    let remaining = envelope - committed;
    Error::Unprocessable {
        detail: format!(
            "{amount} € would exceed the {year} envelope of fund `{}`: {envelope} €, of which {committed} € committed; {remaining} € remain",
            fund.id
        ),
        field: Some("amount".into()),
        guard: Some("within-envelope".into()),
        extra: Some(Box::new(
            json!({"envelope": envelope.to_string(), "committed": committed.to_string(), "remaining": remaining.to_string(), "year": year}),
        )),
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

fn outcome_of(o: Option<&str>) -> Option<Outcome> {
    match o? {
        "eligible" => Some(Outcome::Eligible),
        "ineligible" => Some(Outcome::Ineligible),
        "incomplete" => Some(Outcome::Incomplete),
        _ => None,
    }
}

/// The amount the rules accepted: the requested amount of an eligible application.
fn requested_of(row: &AppRow) -> Option<Decimal> {
    (row.outcome.as_deref() == Some("eligible"))
        .then(|| row.requested_cents.map(euros))
        .flatten()
}

pub fn envelope_of(fund: &Fund, year: i64) -> Decimal {
    Date::new(year.clamp(1, 9999) as i16, 1, 1)
        .ok()
        .and_then(|d| fund.envelope.at(d))
        .map(|d| d.value)
        .unwrap_or(Decimal::ZERO)
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

/// Writes the application as `apply` left it: inserted when new (`expected` is `None`), else
/// updated if its version is still `expected` (an optimistic lock: a concurrent change makes
/// this a 412), then the filing it records.
async fn flush(tx: &mut WriteTx, row: &AppRow, expected: Option<i64>, fund: &Fund) -> Result<()> {
    let sql = match expected {
        None => format!(
            "INSERT INTO applications ({APP_COLUMNS}, evaluation) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25)"
        ),
        Some(_) => "UPDATE applications SET plan = $2, fund = $3, call_year = $4, applicant_key = $5, applicant_name = $6, title = $7, state = $8, version = $9, owner = $10, owner_email = $11, data = $12, requested_cents = $13, awarded_cents = $14, paid_cents = $15, outcome = $16, ruleset = $17, filed_on = $18, deadline = $19, final_report = $20, decided_on = $21, created_at = $22, updated_at = $23, owner_id = $24, evaluation = COALESCE($25, evaluation) WHERE id = $1 AND version = $26".to_string(),
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
        .bind(&row.evaluation);
    let q = match expected {
        None => q,
        Some(v) => q.bind(v),
    };
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
    Ok(())
}

async fn load_row(tx: &mut WriteTx, id: &str) -> Result<AppRow> {
    let r = sqlx::query(&format!(
        "SELECT {APP_COLUMNS} FROM applications WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *tx.tx)
    .await?
    .ok_or_else(|| Error::NotFound(format!("no application `{id}`")))?;
    Ok(AppRow::from_row(&r)?)
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

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EnvelopeView {
    pub plan: String,
    pub fund: String,
    pub year: i64,
    pub envelope: String,
    pub committed: String,
    pub paid: String,
    pub remaining: String,
}

impl Ctx {
    pub async fn get(&self, who: &Principal, id: &str) -> Result<ApplicationView> {
        let r = sqlx::query(&format!(
            "SELECT {APP_COLUMNS} FROM applications WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.db.pool)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no application `{id}`")))?;
        let row = AppRow::from_row(&r)?;
        if !visible(who, &row.owner_id, &row.plan, &row.fund) {
            return Err(Error::NotFound(format!("no application `{id}`")));
        }
        let docs = documents_of(&self.db.pool, id).await?;
        self.view(row, docs, who)
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
        let mut query = sqlx::query(&sql);
        for (_, v) in texts {
            query = query.bind(v);
        }
        for n in numbers {
            query = query.bind(n);
        }
        let rows = query.fetch_all(&self.db.pool).await?;
        rows.iter()
            .map(AppRow::from_row)
            .collect::<Result<_, _>>()
            .map_err(Error::from)
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

    pub async fn envelope(
        &self,
        who: &Principal,
        plan: &str,
        fund_id: &str,
        year: i64,
    ) -> Result<EnvelopeView> {
        let served = self.served(plan)?;
        let (fund, _) = scope(&served, fund_id)?;
        if who.role == RoleKind::Applicant || !who.covers(plan, fund_id) {
            return Err(Error::Forbidden(
                "the envelope is for staff of this fund".into(),
            ));
        }
        let t = crate::ledger::totals(&self.db.pool, plan, fund_id, year).await?;
        let (c, p) = (t.committed_cents, t.paid_cents);
        let env = envelope_of(fund, year);
        Ok(EnvelopeView {
            plan: plan.into(),
            fund: fund_id.into(),
            year,
            envelope: env.to_string(),
            committed: euros(c).to_string(),
            paid: euros(p).to_string(),
            remaining: (env - euros(c)).to_string(),
        })
    }

    /// Awarded grants in the SCDL « subventions » format (one row per award; public data).
    pub async fn export_csv(&self, plan: &str, fund_id: &str) -> Result<String> {
        let served = self.served(plan)?;
        let (fund, _) = scope(&served, fund_id)?;
        let rows = sqlx::query("SELECT id, applicant_key, applicant_name, title, awarded_cents, decided_on, call_year FROM applications WHERE plan = $1 AND fund = $2 AND awarded_cents IS NOT NULL ORDER BY decided_on, id")
            .bind(plan).bind(fund_id)
            .fetch_all(&self.db.pool).await?;
        // Only legal persons (known by their SIRET) are published by name: a fund for people
        // (a bike aid) publishes its awards without who received them.
        let legal_persons = fund.keys.as_ref().is_some_and(|k| {
            fund.form
                .fields
                .iter()
                .any(|f| f.path == k.applicant && f.ty == FieldType::Siret)
        });
        let mut out = String::from(
            "nomAttribuant,idAttribuant,dateConvention,referenceDecision,nomBeneficiaire,idBeneficiaire,objet,montant,nature,conditionsVersement,datesPeriodeVersement,idRAE,notificationUE,pourcentageSubvention\r\n",
        );
        for r in rows {
            let id: String = r.try_get("id")?;
            let siret: Option<String> = r.try_get("applicant_key")?;
            let name: Option<String> = r.try_get("applicant_name")?;
            let title: Option<String> = r.try_get("title")?;
            let amount: i64 = r.try_get("awarded_cents")?;
            let decided: Option<String> = r.try_get("decided_on")?;
            let (name, siret, title) = if legal_persons {
                (name, siret, title)
            } else {
                (
                    Some("personne physique (non publiée)".to_string()),
                    None,
                    None,
                )
            };
            let object = match title.as_deref() {
                Some(t) => format!("{} — {t}", fund.title),
                None => fund.title.to_string(),
            };
            let cols = [
                served.plan.title.to_string(),
                String::new(),
                decided
                    .as_deref()
                    .map(|d| d.get(..10).unwrap_or(d).to_string())
                    .unwrap_or_default(),
                id,
                name.unwrap_or_default(),
                siret.unwrap_or_default(),
                object,
                euros(amount).to_string(),
                "aide en numéraire".into(),
                "échelonné".into(),
                String::new(),
                String::new(),
                "non".into(),
                String::new(),
            ];
            metroplan_engine::csv::row(&mut out, cols.iter().map(String::as_str));
        }
        Ok(out)
    }

    /// Stores an uploaded piece and attaches it to the application (draft or incomplete).
    #[allow(clippy::too_many_arguments)]
    pub async fn upload(
        &self,
        who: &Principal,
        id: &str,
        kind: &str,
        bytes: &[u8],
        file_name: Option<String>,
        docs_root: &std::path::Path,
        key: Option<&str>,
    ) -> Result<Reply> {
        let media = crate::documents::sniff(bytes).ok_or_else(|| {
            Error::UnsupportedMediaType(
                "a document is a PDF or an image (PNG, JPEG, WebP), recognized by its content"
                    .into(),
            )
        })?;
        let view = self.get(who, id).await?;
        if who.role != RoleKind::Applicant {
            return Err(Error::Forbidden(
                "only the applicant uploads the pieces of an application".into(),
            ));
        }
        let served = self.served(&view.plan)?;
        let (fund, wf) = scope(&served, &view.fund)?;
        if !fund.form.documents.iter().any(|d| d.id.as_str() == kind) {
            let known: Vec<&str> = fund.form.documents.iter().map(|d| d.id.as_str()).collect();
            return Err(Error::unprocessable(
                format!(
                    "the form asks for no document `{kind}` (it asks for: {})",
                    known.join(", ")
                ),
                Some("kind"),
            ));
        }
        // Pieces change what the rules see: only before filing or while incomplete.
        let open = view.state == wf.initial.as_str()
            || workflow::automatic(wf, &view.state).next().is_none()
                && wf.transitions.iter().any(|t| {
                    t.from.iter().any(|f| f.as_str() == view.state)
                        && served.plan.role_kind_of(t) == Some(RoleKind::Applicant)
                        && workflow::checks_eligibility(wf, t.to.as_str())
                });
        if !open {
            return Err(Error::Conflict(format!(
                "pieces are added to a draft or an incomplete application; this one is `{}`",
                view.state
            )));
        }
        let sha = crate::documents::store(docs_root, bytes)
            .await
            .map_err(|e| Error::Internal(e.into()))?;
        let now_s = stamp(self.clock.now());
        let mut tx = self.db.write().await?;
        let request = json!({"op": "upload", "id": id, "kind": kind, "sha256": sha}).to_string();
        if let Some((status, body)) = claim_key(&mut tx, who, key, &request, &now_s).await? {
            return Ok(Reply {
                status,
                body,
                replayed: true,
            });
        }
        // The state may have changed since it was read above.
        let state = load_row(&mut tx, id).await?.state;
        if state != view.state {
            return Err(Error::Conflict(format!(
                "the application moved to `{state}` meanwhile: reload it"
            )));
        }
        sqlx::query("DELETE FROM documents WHERE application_id = $1 AND kind = $2")
            .bind(id)
            .bind(kind)
            .execute(&mut *tx.tx)
            .await?;
        sqlx::query("INSERT INTO documents (application_id, kind, sha256, media_type, size, file_name, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(id).bind(kind).bind(&sha).bind(media).bind(bytes.len() as i64).bind(&file_name).bind(&now_s)
            .execute(&mut *tx.tx).await?;
        sqlx::query("UPDATE applications SET version = version + 1, updated_at = $1 WHERE id = $2")
            .bind(&now_s)
            .bind(id)
            .execute(&mut *tx.tx)
            .await?;
        tx.record(NewEvent {
            application_id: Some(id.into()),
            actor: who.id.clone(),
            role: who.role.name().into(),
            at: now_s.clone(),
            action: "upload".into(),
            from_state: Some(view.state.clone()),
            to_state: Some(view.state.clone()),
            payload: json!({"kind": kind, "sha256": sha, "media_type": media, "size": bytes.len(), "file_name": file_name}).to_string(),
            reason: None,
        });
        let row = load_row(&mut tx, id).await?;
        let docs = documents_of(&mut *tx.tx, id).await?;
        let body = serde_json::to_value(self.view(row, docs, who)?).map_err(anyhow::Error::from)?;
        store_reply(&mut tx, who, key, 200, &body).await?;
        tx.commit().await?;
        Ok(Reply {
            status: 200,
            body,
            replayed: false,
        })
    }
}

/// Bumps the version and records an event that leaves the state as it is.
fn touch_in_place(
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

/// What the web pages need beyond the JSON API.
impl Ctx {
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
        if row.version != expected {
            return Err(Error::Stale {
                current: row.version,
            });
        }
        let served = self.served(&row.plan)?.clone();
        let (fund, wf) = scope(&served, &row.fund)?;
        if row.state != wf.initial.as_str() {
            return Err(Error::Conflict(format!(
                "application `{id}` is filed: its content changes only through `completer`"
            )));
        }
        check_form(fund, &data)?;
        let k = keys_of(fund, &data);
        row.data = data.to_string();
        row.call_year = k.call;
        row.applicant_key = k.applicant;
        row.applicant_name = k.applicant_name;
        row.title = k.title;
        row.requested_cents = k.requested;
        bind_applicant_key(&mut tx, &row, fund, &now_s).await?;
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

    /// The eligibility result the application would get if it were checked now, with the
    /// pieces uploaded so far; nothing is stored.
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

    pub async fn preview(&self, who: &Principal, id: &str) -> Result<Value> {
        let view = self.get(who, id).await?;
        let served = self.served(&view.plan)?;
        let (fund, _) = scope(&served, &view.fund)?;
        let today = self.today(&served);
        let uploaded: Vec<String> = view.documents.iter().map(|d| d.kind.clone()).collect();
        let (_, report) =
            evaluate_as_filed(&self.rules, fund, &view.data, today, Some(&uploaded), 0)?;
        Ok(report)
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

    /// Where a piece's bytes are, its media type and file name.
    pub async fn document(
        &self,
        who: &Principal,
        id: &str,
        kind: &str,
    ) -> Result<(String, String, Option<String>)> {
        let view = self.get(who, id).await?;
        let d = view
            .documents
            .into_iter()
            .find(|d| d.kind == kind)
            .ok_or_else(|| Error::NotFound(format!("application `{id}` has no piece `{kind}`")))?;
        Ok((d.sha256, d.media_type, d.file_name))
    }
}

impl Ctx {
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
        if row.version != expected {
            return Err(Error::Stale {
                current: row.version,
            });
        }
        let served = self.served(&row.plan)?;
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
