//! The bodies of the API as its OpenAPI document describes them. The plain ones are built
//! here and serialized by the handlers; those that the engine serializes (a plan, a schedule,
//! an evaluation and its explanation) are described by `doc` types that are never built:
//! the engine has no OpenAPI dependency, and `tests/api/fuzz` (Schemathesis) checks every
//! answer against these descriptions, so a drift fails there.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// A plan served, with its funds.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanSummary {
    pub id: String,
    pub title: String,
    /// IANA time zone: days (deadlines, filing dates) are counted in it.
    pub timezone: String,
    pub funds: Vec<FundSummary>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FundSummary {
    pub id: String,
    pub title: String,
}

/// The plan's items in a window of days.
#[derive(Debug, Serialize, ToSchema)]
pub struct Timeline {
    pub plan: String,
    #[schema(value_type = String, format = Date)]
    pub from: jiff::civil::Date,
    #[schema(value_type = String, format = Date)]
    pub to: jiff::civil::Date,
    pub items: Vec<TimelineItem>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineItem {
    pub id: String,
    pub title: String,
    pub axis: String,
    #[schema(value_type = String, format = Date)]
    pub start: jiff::civil::Date,
    #[schema(value_type = String, format = Date)]
    pub finish: jiff::civil::Date,
    /// The year of this occurrence, for a recurring item (each occurrence is an item).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub occurrence: Option<i16>,
    pub critical: bool,
    /// not-started (includes items without a progress report), in-progress, done,
    /// suspended or abandoned.
    pub status: String,
    pub late: bool,
}

impl From<metroplan_engine::schedule::Timeline<'_>> for Timeline {
    fn from(t: metroplan_engine::schedule::Timeline<'_>) -> Timeline {
        Timeline {
            plan: t.plan.to_string(),
            from: t.from,
            to: t.to,
            items: t
                .items
                .into_iter()
                .map(|e| TimelineItem {
                    id: e.id.to_string(),
                    title: e.title.to_string(),
                    axis: e.axis.to_string(),
                    start: e.start,
                    finish: e.finish,
                    occurrence: e.occurrence,
                    critical: e.critical,
                    status: e.status.to_string(),
                    late: e.late,
                })
                .collect(),
        }
    }
}

/// The body of the eligibility dry run: the application, as when filing.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EligibilityBody {
    #[schema(value_type = ApplicationData)]
    pub data: Value,
}

/// An application to the demonstration fund (`server/tests/fixtures`), the example of the
/// bodies that file one.
pub fn example_application() -> Value {
    serde_json::from_str(include_str!(
        "../../tests/fixtures/association-vitrolles-2021.json"
    ))
    .expect("the fixture is JSON")
}

pub use doc::*;

/// Descriptions of bodies that others build: never constructed.
mod doc {
    use utoipa::ToSchema;

    /// The application, as the fund's form describes it: its JSON Schema is served at
    /// `/api/plans/{plan}/funds/{fund}/form.schema.json` (unknown fields, and values of the
    /// wrong type or outside their choices, are refused naming the field).
    // Every body that carries an application refers to this one schema. It cannot `$ref` the
    // fund's own schema: a static document has one schema per body whatever the path's fund,
    // and validators and generators resolve every `$ref` when they load the document, where
    // a URL template resolves to nothing. So the description names the URL.
    #[derive(Debug, ToSchema)]
    pub struct ApplicationData {}

    /// An RFC 9457 problem document: every error answer is one
    /// (`Content-Type: application/problem+json`).
    #[derive(Debug, ToSchema)]
    pub struct Problem {
        /// `/problems/<slug>`: stable, for programs.
        #[serde(rename = "type")]
        pub kind: String,
        pub title: String,
        pub status: u16,
        /// For people: what is wrong and what to do.
        pub detail: String,
        /// The field at fault (`data.project.requested_amount`, a header, a parameter).
        pub field: Option<String>,
        /// The workflow guard, or the built-in check (`not-filer`, `distinct-from`, `vote`,
        /// `opinion`, `payment`, `condition`, `filed-keys`), that refused.
        pub guard: Option<String>,
        /// With a workflow refusal: what a person reads, in French.
        pub fr: Option<String>,
        /// On a 412: the application's current version.
        pub current_version: Option<i64>,
    }

    /// The validated plan, as the engine's model serializes it (the keys below and others:
    /// owner, calendar, axes, actions, partners, territories, roles, budget, progress...).
    #[derive(Debug, ToSchema)]
    #[schema(as = PlanDocument)]
    pub struct PlanDocument {
        pub id: String,
        pub title: String,
        pub timezone: String,
        #[schema(format = Date)]
        pub start: String,
        #[schema(format = Date)]
        pub horizon: String,
        #[schema(value_type = Vec<Object>)]
        pub funds: Vec<()>,
        #[schema(value_type = Vec<Object>)]
        pub workflows: Vec<()>,
    }

    /// The schedule as JSON (`format=json`).
    #[derive(Debug, ToSchema)]
    pub struct ScheduleDocument {
        pub plan: String,
        pub schedule: Schedule,
    }

    #[derive(Debug, ToSchema)]
    pub struct Schedule {
        pub items: Vec<ScheduleItem>,
        /// The plan's last day of work.
        #[schema(format = Date)]
        pub finish: String,
        /// Indexes into `items` of the critical items, in dependency order.
        pub critical_path: Vec<u32>,
    }

    /// The computed dates of one item (inclusive last days).
    #[derive(Debug, ToSchema)]
    pub struct ScheduleItem {
        pub id: String,
        #[schema(format = Date)]
        pub early_start: String,
        #[schema(format = Date)]
        pub early_finish: String,
        #[schema(format = Date)]
        pub late_start: String,
        #[schema(format = Date)]
        pub late_finish: String,
        /// Working days it can slip without delaying the plan.
        pub total_float: i64,
        /// Working days it can slip without delaying any successor.
        pub free_float: i64,
        pub critical: bool,
        /// What sets its early start (`kind`: plan-start, predecessor...).
        #[schema(value_type = Object)]
        pub driver: (),
        /// Dated occurrences of a recurring item: [start, last day] pairs.
        #[schema(value_type = Vec<Vec<String>>)]
        pub occurrences: Vec<()>,
        pub status: Option<String>,
        pub percent: Option<u8>,
        pub start_variance: Option<i32>,
        pub finish_variance: Option<i32>,
        pub late: bool,
    }

    #[derive(Debug, ToSchema)]
    #[schema(rename_all = "kebab-case")]
    pub enum Outcome {
        Eligible,
        Ineligible,
        Incomplete,
    }

    /// The result of the fund's rules on one application.
    #[derive(Debug, ToSchema)]
    pub struct Evaluation {
        pub outcome: Outcome,
        pub fund: String,
        #[schema(format = Date)]
        pub filed_on: String,
        pub rules: Vec<RuleResult>,
        /// Every absent field or document the outcome depends on.
        pub missing: Vec<String>,
        #[schema(nullable = false)]
        pub score: Option<Score>,
        /// What the script printed, for its authors.
        #[schema(nullable = false)]
        pub printed: Option<Vec<String>>,
        /// Content hash of the script, parameters, form and registries used.
        pub ruleset: String,
    }

    /// One rule's result.
    #[derive(Debug, ToSchema)]
    pub struct RuleResult {
        pub id: String,
        pub article: String,
        /// pass, fail or missing.
        pub status: String,
        pub message: String,
        /// Absent when true; false when the rule does not concern this application.
        #[schema(nullable = false)]
        pub applies: Option<bool>,
        #[schema(nullable = false)]
        pub missing: Option<Vec<String>>,
        /// Indexes into the explanation's `data`.
        #[schema(nullable = false)]
        pub inputs: Option<Vec<u32>>,
        /// Indexes into the explanation's `parameters`.
        #[schema(nullable = false)]
        pub parameters: Option<Vec<u32>>,
        #[schema(nullable = false)]
        pub overridden_by: Option<String>,
    }

    /// The score on the fund's selection grid (decimal strings).
    #[derive(Debug, ToSchema)]
    pub struct Score {
        pub points: String,
        pub max_reachable: String,
        pub total: String,
        pub criteria: Vec<CriterionScore>,
    }

    #[derive(Debug, ToSchema)]
    pub struct CriterionScore {
        pub id: String,
        pub label: String,
        pub max: String,
        pub points: Option<String>,
        /// automatic or reviewer.
        pub assessed: String,
    }

    /// The R311-3-1-2 explanation of an evaluation (code des relations entre le public et
    /// l'administration); its operations are the evaluation's `rules`.
    #[derive(Debug, ToSchema)]
    pub struct Explanation {
        /// The verdict in one sentence, in French.
        pub verdict: String,
        /// Each condition not met or not checkable for lack of data, in French.
        pub unmet: Vec<Finding>,
        pub met: Vec<Finding>,
        pub grid: Vec<GridLine>,
        /// What is missing, by label.
        pub missing: Vec<String>,
        pub contribution: String,
        pub data: Vec<Datum>,
        pub parameters: Vec<AppliedParameter>,
        /// The mention owed on the decision (R311-3-1-1).
        pub notice: String,
        /// `pending`, `decided-by-a-person` or `decided-automatically`.
        pub stage: String,
        pub ruleset: String,
    }

    #[derive(Debug, ToSchema)]
    pub struct Finding {
        pub rule: String,
        pub article: String,
        /// `pass`, `fail` or `missing`.
        pub status: String,
        pub text: String,
    }

    #[derive(Debug, ToSchema)]
    pub struct GridLine {
        pub criterion: String,
        pub label: String,
        pub text: String,
    }

    #[derive(Debug, ToSchema)]
    pub struct Datum {
        /// The field's path, or what the rules read.
        pub name: String,
        /// The form's label.
        pub label: String,
        /// The value in French.
        pub value: String,
        pub source: String,
    }

    #[derive(Debug, ToSchema)]
    pub struct AppliedParameter {
        pub id: String,
        pub label: String,
        pub value: String,
        pub period: String,
        pub reference: String,
        pub used_by: Vec<String>,
    }

    /// The dry run's answer: the evaluation, its explanation and the explanation in French.
    #[derive(Debug, ToSchema)]
    pub struct DryRun {
        #[serde(flatten)]
        pub evaluation: Evaluation,
        pub explanation: Explanation,
        /// The explanation, in French.
        pub text: String,
    }

    /// The eligibility check recorded with an application.
    #[derive(Debug, ToSchema)]
    pub struct Report {
        pub evaluation: Evaluation,
        pub explanation: Explanation,
        /// The explanation, in French.
        #[schema(nullable = false)]
        pub text: Option<String>,
    }
}
