//! The OpenAPI 3.1 document served at `/openapi.json`: the operations of `handlers`, the
//! bodies of `bodies`, and what every operation shares (problem documents, the bearer
//! scheme). `tests/api/client` checks it with openapi-spec-validator and a client generated
//! by openapi-python-client; `tests/api/fuzz` fuzzes the server against it.

use utoipa::OpenApi;

use super::bodies::*;
use super::handlers::*;
use crate::service::{ActionBody, ApplicationView, EnvelopeView, Page};

/// The document.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The answers every operation may give besides its own: problem documents for a malformed
/// request, a missing token, an unknown resource, a body too large or of the wrong type.
struct CommonResponses;

impl utoipa::Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::header::HeaderBuilder;
        use utoipa::openapi::schema::{Object, Type};
        use utoipa::openapi::{RefOr, Response};
        for item in openapi.paths.paths.values_mut() {
            let ops = [
                (&mut item.get, false),
                (&mut item.post, true),
                (&mut item.put, true),
                (&mut item.delete, false),
            ];
            for (op, writes) in ops {
                let Some(op) = op.as_mut() else { continue };
                let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
                let has_body = op.request_body.is_some();
                let mut add = |code: &str, text: &str| {
                    op.responses
                        .responses
                        .entry(code.to_string())
                        .or_insert_with(|| RefOr::T(Response::new(text)));
                };
                add(
                    "400",
                    "Malformed request: the problem document names what is wrong",
                );
                if secured {
                    add("401", "Missing or unknown bearer token");
                    add("403", "Not allowed to this token's role or fund");
                }
                add("404", "No such plan, fund or application (or not yours)");
                if writes {
                    add(
                        "409",
                        "Not possible in the current state, or on a file whose fund or state a live edit of the plan removed (`/problems/fund-removed`)",
                    );
                    add(
                        "422",
                        "Refused: the problem document names the field or guard",
                    );
                }
                if has_body {
                    add("413", "Body too large");
                    add("415", "Unsupported content type");
                }
                add(
                    "503",
                    "Nothing was recorded: the database is busy, unreachable or refuses writes, or a fund's rules script is suspended; `Retry-After` says when to retry",
                );
                for (code, response) in op.responses.responses.iter_mut() {
                    let RefOr::T(response) = response else {
                        continue;
                    };
                    if code.starts_with('4') || code.starts_with('5') {
                        problem(response);
                    }
                    if code == "503" {
                        response.headers.insert(
                            "Retry-After".into(),
                            RefOr::T(
                                HeaderBuilder::new()
                                    .schema(Some(Object::with_type(Type::Integer)))
                                    .description(Some("Seconds to wait before retrying"))
                                    .build(),
                            ),
                        );
                    }
                }
            }
        }
    }
}

/// An error answer's body: a problem document, whatever the status.
fn problem(response: &mut utoipa::openapi::Response) {
    use utoipa::openapi::{ContentBuilder, Ref};
    if response.content.is_empty() {
        response.content.insert(
            "application/problem+json".into(),
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build()
                .into(),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "metroplan", description = "Public-policy plans, eligibility rules and grant workflows. Errors are RFC 9457 problem documents. An application's `data` is described, fund by fund, by the JSON Schema at `/api/plans/{plan}/funds/{fund}/form.schema.json`."),
    paths(
        healthz, metrics, plans, plan, schedule, timeline, eligibility, form_schema, create, list,
        application, act, reevaluate, events, explanation, letter, envelope, export_csv, upload
    ),
    components(schemas(
        ApplicationView, crate::service::DocumentView, crate::service::Presence, ActionBody, CreateBody, EligibilityBody,
        ReevaluateBody, UploadForm, PdfFile, Page, EnvelopeView, crate::audit::Event, ApplicationData,
        Problem, PlanSummary, FundSummary, PlanDocument, ScheduleDocument, Schedule, ScheduleItem,
        Timeline, TimelineItem, Outcome, Evaluation, RuleResult, Score, CriterionScore,
        Explanation, Finding, GridLine, Datum, AppliedParameter, DryRun, Report, crate::service::letters::LetterView
    )),
    tags(
        (name = "operations", description = "Health and metrics, for operators"),
        (name = "plans", description = "The plans served, as validated"),
        (name = "schedule", description = "The plan's schedule and timeline"),
        (name = "eligibility", description = "The fund's rules: the dry run and the explanations recorded"),
        (name = "applications", description = "Filing, reading and listing applications; the fund's form as JSON Schema"),
        (name = "workflow", description = "Transitions of the fund's workflow, and re-evaluations"),
        (name = "documents", description = "Pieces attached to an application"),
        (name = "funds", description = "Envelopes: committed, paid and remaining"),
        (name = "exports", description = "Public data exports"),
        (name = "audit", description = "The audit trail"),
    ),
    modifiers(&Security, &CommonResponses)
)]
pub struct ApiDoc;
