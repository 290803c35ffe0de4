//! Request handlers: parse, authorize, call the service, answer.

use axum::Json;
use axum::extract::{FromRequest, Multipart, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::civil::Date;
use metroplan_engine::model::Status;
use metroplan_engine::schedule::{Filter, Options, export, schedule as run_schedule};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::bodies::*;
use crate::error::{Error, Result};
use crate::service::{ActionBody, ApplicationView, EnvelopeView, ListQuery, Page, Reply};
use crate::tokens::Principal;

/// A JSON body whose rejections are problem documents.
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(Error))]
pub struct Body<T>(pub T);

/// A query string whose rejections are problem documents.
#[derive(Debug, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(Error))]
pub struct Q<T>(pub T);

#[derive(Debug, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(Error))]
pub struct P<T>(pub T);

fn idempotency_key(h: &HeaderMap) -> Result<Option<String>> {
    h.get("idempotency-key")
        .map(|v| {
            v.to_str()
                .map(|s| s.trim_matches('"').to_string())
                .map_err(|_| {
                    Error::bad(
                        "Idempotency-Key: visible ASCII only",
                        Some("Idempotency-Key"),
                    )
                })
        })
        .transpose()
}

fn if_match(h: &HeaderMap) -> Result<Option<i64>> {
    let Some(v) = h.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let s = v.to_str().unwrap_or("");
    s.trim()
        .trim_start_matches("W/")
        .trim_matches('"')
        .strip_prefix('v')
        .and_then(|n| n.parse().ok())
        .map(Some)
        .ok_or_else(|| {
            Error::bad(
                format!("If-Match: `{s}` is not an ETag this server gave (\"v<version>\")"),
                Some("If-Match"),
            )
        })
}

pub fn etag(version: i64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"v{version}\"")).expect("an ETag is ASCII")
}

fn reply(r: Reply) -> Response {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::OK);
    let version = r.body.get("version").and_then(Value::as_i64);
    let location = r
        .body
        .get("id")
        .and_then(Value::as_str)
        .map(|id| format!("/api/applications/{id}"));
    let mut res = (status, Json(r.body)).into_response();
    if let Some(v) = version {
        res.headers_mut().insert(header::ETAG, etag(v));
    }
    if status == StatusCode::CREATED
        && let Some(l) = location.and_then(|l| HeaderValue::from_str(&l).ok())
    {
        res.headers_mut().insert(header::LOCATION, l);
    }
    if r.replayed {
        res.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    res
}

pub async fn method_not_allowed() -> Error {
    Error::MethodNotAllowed
}

pub async fn not_found() -> Error {
    Error::NotFound("no such path: see /openapi.json".into())
}

#[utoipa::path(
    get, path = "/healthz", tag = "operations", operation_id = "healthz",
    responses((status = 200, description = "The server and its database answer", body = String, content_type = "text/plain", example = "ok"))
)]
#[tracing::instrument(skip_all)]
pub async fn healthz(State(s): State<AppState>) -> Result<&'static str> {
    sqlx::query("SELECT 1").execute(&s.ctx.db.pool).await?;
    Ok("ok")
}

#[utoipa::path(
    get, path = "/metrics", tag = "operations", operation_id = "metrics",
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain"))
)]
pub async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        format!("{}{}", s.metrics().render(), s.ctx.rules.render()),
    )
}

pub async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(super::openapi::document())
}

#[utoipa::path(
    get, path = "/api/plans", tag = "plans", operation_id = "list_plans",
    responses((status = 200, description = "The plans served", body = [PlanSummary]))
)]
#[tracing::instrument(skip_all)]
pub async fn plans(State(s): State<AppState>) -> Json<Vec<PlanSummary>> {
    Json(
        s.ctx
            .plans
            .current()
            .by_id
            .values()
            .map(|p| PlanSummary {
                id: p.plan.id.to_string(),
                title: p.plan.title.clone(),
                timezone: p.plan.timezone.clone(),
                funds: p
                    .plan
                    .funds
                    .iter()
                    .map(|f| FundSummary {
                        id: f.id.to_string(),
                        title: f.title.clone(),
                    })
                    .collect(),
            })
            .collect(),
    )
}

#[utoipa::path(
    get, path = "/api/plans/{plan}", tag = "plans", operation_id = "get_plan",
    params(("plan" = String, Path)),
    responses((status = 200, description = "The validated plan", body = PlanDocument), (status = 404, description = "No such plan"))
)]
#[tracing::instrument(skip(s))]
pub async fn plan(State(s): State<AppState>, P(plan): P<String>) -> Result<Json<Value>> {
    let p = s.ctx.served(&plan)?;
    Ok(Json(
        serde_json::to_value(&p.plan).map_err(anyhow::Error::from)?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ScheduleQuery {
    /// json (default), csv, ics, mermaid or svg.
    pub format: Option<String>,
    /// Re-forecast as of this day (ISO 8601).
    #[param(value_type = Option<String>, format = Date)]
    pub as_of: Option<Date>,
}

#[utoipa::path(
    get, path = "/api/plans/{plan}/schedule", tag = "schedule", operation_id = "get_schedule",
    params(("plan" = String, Path), ScheduleQuery),
    responses((status = 200, description = "The schedule in the format asked for", content(
        (ScheduleDocument = "application/json"),
        (String = "text/csv"),
        (String = "text/calendar"),
        (String = "text/plain"),
        (String = "image/svg+xml"),
    )))
)]
#[tracing::instrument(skip(s))]
pub async fn schedule(
    State(s): State<AppState>,
    P(plan): P<String>,
    Q(q): Q<ScheduleQuery>,
) -> Result<Response> {
    let p = s.ctx.served(&plan)?.clone();
    let format = match q.format.as_deref() {
        None => export::Format::Json,
        Some(name) => export::Format::parse(name).ok_or_else(|| {
            Error::bad(
                format!("format `{name}`: use {}", export::Format::names()),
                Some("format"),
            )
        })?,
    };
    let options = Options {
        as_of: q.as_of,
        ..Options::default()
    };
    let sched = run_schedule(&p.plan, options);
    // The chart's today line: the day asked for, or today on the server's clock.
    let today = q
        .as_of
        .unwrap_or_else(|| s.ctx.clock.now().to_zoned_datetime(p.tz.clone()).date());
    let body = format.render(&p.plan, &sched, Some(today));
    Ok(([(header::CONTENT_TYPE, format.media_type())], body).into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TimelineQuery {
    /// First day of the window (default: the plan's start).
    #[param(value_type = Option<String>, format = Date)]
    pub from: Option<Date>,
    /// Last day of the window (default: the plan's finish or horizon, the later).
    #[param(value_type = Option<String>, format = Date)]
    pub to: Option<Date>,
    /// Only items of this axis.
    pub axis: Option<String>,
    /// Only items this partner leads.
    pub lead: Option<String>,
    /// Only items this partner leads or takes part in.
    pub partner: Option<String>,
    /// Only items in this territory, inside it, or covering it.
    pub territory: Option<String>,
    /// not-started (includes items without a progress report), in-progress, done, suspended
    /// or abandoned.
    pub status: Option<String>,
    /// Only late items (past their deadline or baseline, or suspended).
    pub late: Option<bool>,
    /// Only what must finish before this item.
    pub upstream: Option<String>,
    /// Only what this item unblocks.
    pub downstream: Option<String>,
    /// Only the first N items starting on or after today.
    pub next: Option<usize>,
}

#[utoipa::path(
    get, path = "/api/plans/{plan}/timeline", tag = "schedule", operation_id = "get_timeline",
    params(("plan" = String, Path), TimelineQuery),
    responses((status = 200, description = "Items in the window", body = Timeline))
)]
#[tracing::instrument(skip(s))]
pub async fn timeline(
    State(s): State<AppState>,
    P(plan): P<String>,
    Q(q): Q<TimelineQuery>,
) -> Result<Json<Timeline>> {
    let p = s.ctx.served(&plan)?.clone();
    let status = match q.status.as_deref() {
        None => None,
        // The names plan files use for a status.
        Some(name) => Some(serde_json::from_value::<Status>(json!(name)).map_err(|_| {
            Error::bad(
                format!(
                    "status `{name}`: use not-started, in-progress, done, suspended or abandoned"
                ),
                Some("status"),
            )
        })?),
    };
    let today = s.ctx.clock.now().to_zoned_datetime(p.tz.clone()).date();
    let sched = run_schedule(
        &p.plan,
        Options {
            as_of: Some(today),
            ..Options::default()
        },
    );
    let filter = Filter {
        from: q.from,
        to: q.to,
        axis: q.axis.as_deref(),
        lead: q.lead.as_deref(),
        partner: q.partner.as_deref(),
        territory: q.territory.as_deref(),
        status,
        late: q.late.unwrap_or(false),
        upstream: q.upstream.as_deref(),
        downstream: q.downstream.as_deref(),
        next: q.next,
        as_of: Some(today),
    };
    let t = metroplan_engine::schedule::timeline(&p.plan, &sched, &filter)
        .map_err(|e| Error::bad(e.to_string(), Some(e.filter())))?;
    Ok(Json(Timeline::from(t)))
}

#[utoipa::path(
    post, path = "/api/plans/{plan}/funds/{fund}/eligibility", tag = "eligibility", operation_id = "dry_run",
    params(("plan" = String, Path), ("fund" = String, Path)),
    request_body(content = EligibilityBody, description = "The application, as when filing", example = json!({"data": example_application()})),
    responses(
        (status = 200, description = "The evaluation and its explanation; nothing is stored", body = DryRun),
        (status = 422, description = "The application does not fit the form: `field` names the value at fault"),
    )
)]
#[tracing::instrument(skip(s, body))]
pub async fn eligibility(
    State(s): State<AppState>,
    P((plan, fund)): P<(String, String)>,
    Body(body): Body<EligibilityBody>,
) -> Result<Json<Value>> {
    Ok(Json(s.ctx.dry_run(&plan, &fund, &body.data)?))
}

#[utoipa::path(
    get, path = "/api/plans/{plan}/funds/{fund}/form.schema.json", tag = "applications", operation_id = "get_form_schema",
    params(("plan" = String, Path), ("fund" = String, Path)),
    responses((status = 200, description = "The fund's form as a JSON Schema (draft 2020-12): what an application's `data` may hold", content(
        (Object = "application/schema+json"),
    )))
)]
#[tracing::instrument(skip(s))]
pub async fn form_schema(
    State(s): State<AppState>,
    P((plan, fund)): P<(String, String)>,
) -> Result<Response> {
    let p = s.ctx.served(&plan)?.clone();
    let f = p
        .plan
        .fund(&fund)
        .ok_or_else(|| Error::NotFound(format!("plan `{plan}` has no fund `{fund}`")))?;
    let schema = super::form_schema::form_schema(&plan, f);
    Ok((
        [(header::CONTENT_TYPE, "application/schema+json")],
        schema.to_string(),
    )
        .into_response())
}

/// The body that creates an application.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    #[schema(value_type = ApplicationData)]
    pub data: Value,
    /// Keep it as a draft (to upload pieces first); by default it is filed at once.
    #[serde(default)]
    pub draft: bool,
}

#[utoipa::path(
    post, path = "/api/plans/{plan}/funds/{fund}/applications", tag = "applications", operation_id = "create_application",
    params(("plan" = String, Path), ("fund" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer to the same request (1 to 200 visible ASCII characters)", pattern = r"^[!-~]{1,200}$")),
    request_body(content = CreateBody, example = json!({"data": example_application()})),
    responses(
        (status = 201, body = ApplicationView, description = "Created (and filed unless a draft), with the eligibility result", headers(("Location" = String, description = "The application's URL"), ("ETag" = String, description = "Its version, for If-Match"))),
        (status = 422, description = "Refused: the field or guard is named"),
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(skip(s, who, headers, body), fields(who = %who.id))]
pub async fn create(
    State(s): State<AppState>,
    who: Principal,
    P((plan, fund)): P<(String, String)>,
    headers: HeaderMap,
    Body(body): Body<CreateBody>,
) -> Result<Response> {
    let key = idempotency_key(&headers)?;
    let r = s
        .ctx
        .create(&who, &plan, &fund, body.data, body.draft, key.as_deref())
        .await?;
    Ok(reply(r))
}

#[utoipa::path(
    get, path = "/api/applications", tag = "applications", operation_id = "list_applications",
    params(ListQuery),
    responses((status = 200, body = Page, description = "The applications the caller may see, oldest first, a page at a time")),
    security(("bearer" = []))
)]
#[tracing::instrument(skip(s, who), fields(who = %who.id))]
pub async fn list(
    State(s): State<AppState>,
    who: Principal,
    Q(q): Q<ListQuery>,
) -> Result<Json<Page>> {
    Ok(Json(s.ctx.list(&who, q).await?))
}

#[utoipa::path(
    get, path = "/api/applications/{id}", tag = "applications", operation_id = "get_application",
    params(("id" = String, Path)),
    responses(
        (status = 200, body = ApplicationView, description = "The application, with its ETag", headers(("ETag" = String, description = "Its version, for If-Match"))),
        (status = 404, description = "No such application, or not yours"),
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(skip(s, who), fields(who = %who.id))]
pub async fn application(
    State(s): State<AppState>,
    who: Principal,
    P(id): P<String>,
) -> Result<Response> {
    let v = s.ctx.get(&who, &id).await?;
    let tag = etag(v.version);
    let mut res = Json(v).into_response();
    res.headers_mut().insert(header::ETAG, tag);
    Ok(res)
}

#[utoipa::path(
    post, path = "/api/applications/{id}/actions/{action}", tag = "workflow", operation_id = "take_action",
    params(("id" = String, Path), ("action" = String, Path, description = "A transition of the fund's workflow, by its id in the plan"), ("If-Match" = String, Header, description = "The application's ETag", pattern = r#"^(W/)?"v[0-9]{1,18}"$"#), ("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer to the same request (1 to 200 visible ASCII characters)", pattern = r"^[!-~]{1,200}$")),
    request_body = ActionBody,
    responses(
        (status = 200, body = ApplicationView, description = "Taken: the application in its new state", headers(("ETag" = String, description = "Its new version"))),
        (status = 403, description = "Not your role"),
        (status = 409, description = "Not from this state; or a live edit of the plan removed the file's fund or state (`/problems/fund-removed`): the file is read, not changed"),
        (status = 412, description = "Stale ETag"),
        (status = 422, description = "A guard refused: `guard` and `field` name it"),
        (status = 428, description = "If-Match missing"),
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(skip(s, who, headers, body), fields(who = %who.id))]
pub async fn act(
    State(s): State<AppState>,
    who: Principal,
    P((id, action)): P<(String, String)>,
    headers: HeaderMap,
    Body(body): Body<ActionBody>,
) -> Result<Response> {
    let key = idempotency_key(&headers)?;
    let m = if_match(&headers)?;
    let r = s
        .ctx
        .act(&who, &id, &action, body, m, key.as_deref())
        .await?;
    Ok(reply(r))
}

/// A piece, uploaded as multipart/form-data (the OpenAPI description of the upload's body;
/// the handler reads the multipart stream itself).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UploadForm {
    /// The document: a PDF or an image (PNG, JPEG, WebP), recognized by its content.
    #[schema(value_type = String, format = Binary)]
    #[expect(
        dead_code,
        reason = "describes the body in OpenAPI; the handler streams the parts"
    )]
    pub file: Vec<u8>,
}

/// The body of a re-evaluation.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReevaluateBody {
    /// Why (recorded in the audit trail).
    #[serde(default)]
    pub reason: Option<String>,
}

#[utoipa::path(
    post, path = "/api/applications/{id}/reevaluate", tag = "workflow", operation_id = "reevaluate",
    params(("id" = String, Path), ("If-Match" = String, Header, description = "The application's ETag", pattern = r#"^(W/)?"v[0-9]{1,18}"$"#)),
    request_body(content = Option<ReevaluateBody>, description = "Optional"),
    responses(
        (status = 200, body = ApplicationView, description = "Checked again with the fund's current rules, as of the filing date; the state is unchanged"),
        (status = 403, description = "Instructors and administrators only"),
        (status = 409, description = "Never filed; or a live edit of the plan removed the file's fund or state (`/problems/fund-removed`)"),
        (status = 412, description = "Stale ETag"),
        (status = 428, description = "If-Match missing"),
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(skip(s, who, headers, raw), fields(who = %who.id))]
pub async fn reevaluate(
    State(s): State<AppState>,
    who: Principal,
    P(id): P<String>,
    headers: HeaderMap,
    raw: axum::body::Bytes,
) -> Result<Response> {
    let m = if_match(&headers)?;
    // The body is optional: no body is no reason.
    let text = std::str::from_utf8(&raw).unwrap_or("?").trim();
    let body: ReevaluateBody = if text.is_empty() || text == "null" {
        ReevaluateBody::default()
    } else {
        serde_json::from_slice(&raw)
            .map_err(|e| Error::bad(format!("the body is not a re-evaluation: {e}"), None))?
    };
    let view = s.ctx.reevaluate(&who, &id, m, body.reason).await?;
    let version = view.version;
    let mut res = Json(view).into_response();
    res.headers_mut().insert(header::ETAG, etag(version));
    Ok(res)
}

#[utoipa::path(
    get, path = "/api/applications/{id}/events", tag = "audit", operation_id = "list_events",
    params(("id" = String, Path)),
    responses((status = 200, body = [crate::audit::Event], description = "The audit trail of the application")),
    security(("bearer" = []))
)]
#[tracing::instrument(skip(s, who), fields(who = %who.id))]
pub async fn events(
    State(s): State<AppState>,
    who: Principal,
    P(id): P<String>,
) -> Result<Json<Vec<crate::audit::Event>>> {
    Ok(Json(s.ctx.events(&who, &id).await?))
}

#[utoipa::path(
    get, path = "/api/applications/{id}/explanation", tag = "eligibility", operation_id = "get_explanation",
    params(("id" = String, Path)),
    responses((status = 200, body = Report, description = "The R311-3-1-2 explanation recorded with the eligibility check, with its ruleset hash")),
    security(("bearer" = []))
)]
#[tracing::instrument(skip(s, who), fields(who = %who.id))]
pub async fn explanation(
    State(s): State<AppState>,
    who: Principal,
    P(id): P<String>,
) -> Result<Json<Value>> {
    Ok(Json(s.ctx.explanation(&who, &id).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct YearQuery {
    pub year: i64,
}

#[utoipa::path(
    get, path = "/api/plans/{plan}/funds/{fund}/envelope", tag = "funds", operation_id = "get_envelope",
    params(("plan" = String, Path), ("fund" = String, Path), YearQuery),
    responses((status = 200, body = EnvelopeView, description = "The year's envelope: committed, paid and remaining (decimal strings, euros)")),
    security(("bearer" = []))
)]
#[tracing::instrument(skip(s, who), fields(who = %who.id))]
pub async fn envelope(
    State(s): State<AppState>,
    who: Principal,
    P((plan, fund)): P<(String, String)>,
    Q(q): Q<YearQuery>,
) -> Result<Json<EnvelopeView>> {
    Ok(Json(s.ctx.envelope(&who, &plan, &fund, q.year).await?))
}

#[utoipa::path(
    get, path = "/api/plans/{plan}/funds/{fund}/export.csv", tag = "exports", operation_id = "export_csv",
    params(("plan" = String, Path), ("fund" = String, Path)),
    responses((status = 200, body = String, content_type = "text/csv", description = "Awarded grants, SCDL « subventions » CSV (public data)"))
)]
#[tracing::instrument(skip(s))]
pub async fn export_csv(
    State(s): State<AppState>,
    P((plan, fund)): P<(String, String)>,
) -> Result<Response> {
    let csv = s.ctx.export_csv(&plan, &fund).await?;
    Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], csv).into_response())
}

#[utoipa::path(
    post, path = "/api/applications/{id}/documents/{kind}", tag = "documents", operation_id = "upload_document",
    params(("id" = String, Path), ("kind" = String, Path, description = "A document id of the fund's form (its schema's `x-documents`), or of a piece that a step from the file's state asks for (the workflow's `piece`, the final report's)"), ("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer to the same request (1 to 200 visible ASCII characters)", pattern = r"^[!-~]{1,200}$")),
    request_body(content = UploadForm, content_type = "multipart/form-data", description = "One part named `file`"),
    responses(
        (status = 200, body = ApplicationView, description = "Stored: the application with its pieces"),
        (status = 403, description = "Not the applicant (a form piece), or not someone who may take the step (a step's piece)"),
        (status = 409, description = "The file's state takes no such piece now"),
        (status = 413, description = "Too large"),
        (status = 415, description = "Not a PDF or an image"),
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(skip(s, who, multipart), fields(who = %who.id))]
pub async fn upload(
    State(s): State<AppState>,
    who: Principal,
    P((id, kind)): P<(String, String)>,
    headers: HeaderMap,
    multipart: std::result::Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Response> {
    let mut multipart = multipart.map_err(|r| {
        Error::UnsupportedMediaType(format!(
            "send the document as multipart/form-data with a part named `file` ({})",
            r.body_text()
        ))
    })?;
    let key = idempotency_key(&headers)?;
    let limit = s.config.upload_limit;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| multipart_error(e.status(), e.body_text()))?
    {
        if field.name() != Some("file") {
            continue;
        }
        let name = field.file_name().map(str::to_string);
        let bytes = field
            .bytes()
            .await
            .map_err(|e| multipart_error(e.status(), e.body_text()))?;
        if bytes.len() > limit {
            return Err(Error::TooLarge(format!(
                "a document is at most {limit} bytes"
            )));
        }
        let r = s
            .ctx
            .upload(
                &who,
                &id,
                &kind,
                &bytes,
                name,
                &s.config.documents,
                key.as_deref(),
            )
            .await?;
        return Ok(reply(r));
    }
    Err(Error::bad(
        "send the document as a multipart part named `file`",
        Some("file"),
    ))
}

fn multipart_error(status: StatusCode, text: String) -> Error {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        Error::TooLarge(text)
    } else {
        Error::bad(text, Some("file"))
    }
}

#[utoipa::path(
    get, path = "/api/applications/{id}/letters/{letter}", tag = "documents", operation_id = "get_letter",
    params(("id" = String, Path), ("letter" = String, Path, description = "The document's id, from the application's `letters`")),
    responses((status = 200, content_type = "application/pdf", body = PdfFile, description = "A document the administration issued on the file (receipt, decision letter, arrêté, convention), as PDF")),
    security(("bearer" = []))
)]
#[tracing::instrument(skip(s, who), fields(who = %who.id))]
pub async fn letter(
    State(s): State<AppState>,
    who: Principal,
    P((id, letter)): P<(String, String)>,
) -> Result<Response> {
    let (path, name) = s.ctx.letter(&who, &id, &letter).await?;
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|e| Error::Internal(anyhow::anyhow!("letter {letter} of {id}: {e}")))?;
    Ok(pdf_response(bytes, &name))
}

/// A PDF document (the OpenAPI description of a letter's body: bytes, not an array of numbers).
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
#[expect(
    dead_code,
    reason = "describes the body in OpenAPI; the handler sends the file's bytes"
)]
pub struct PdfFile(Vec<u8>);

/// A PDF for download, under its file name.
pub fn pdf_response(bytes: Vec<u8>, name: &str) -> Response {
    let mut res = bytes.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pdf"),
    );
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{safe}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    res
}
