//! Raw plan-file structures: exactly what a TOML file may say, with source spans.
//!
//! Nothing outside `plan::load` and `plan::convert` sees these types: they are turned
//! into the domain model (`crate::model`) by a validating conversion. Their doc comments
//! are the plan language reference: they become the JSON Schema's descriptions.

use schemars::JsonSchema;
use serde::Deserialize;

use super::literal::{Amount, MonthDay, PlanDate, Span};
use crate::model::{ItemKind, LinkType, Status, TerritoryLevel};

/// A value with its byte range in the file it was read from.
pub type Sp<T> = toml::Spanned<T>;

mod fund;
mod workflow;
pub use fund::*;
pub use workflow::*;

/// One plan file. The root file (`plan.toml`) holds `[plan]`; every file may hold any
/// of the other sections, and the plan is the union of all files.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(title = "metroplan plan file", deny_unknown_fields)]
#[allow(
    dead_code,
    reason = "the schema's root and the loading benchmarks' baseline; parse reads each item on its own"
)]
pub struct RawFile {
    /// Identity of the plan. Only in the root file `plan.toml`.
    pub plan: Option<RawPlan>,
    /// The plan's working-day calendar.
    pub calendar: Option<RawCalendar>,
    /// Orientations (axes) of the plan, with their objectives.
    #[serde(default)]
    pub axis: Vec<RawAxis>,
    /// Actions and milestones.
    #[serde(default)]
    pub action: Vec<RawAction>,
    /// Partners: institutions, associations, companies, internal departments.
    #[serde(default)]
    pub partner: Vec<RawPartner>,
    /// Territories: the plan area, territorial councils, communes, priority neighbourhoods.
    #[serde(default)]
    pub territory: Vec<RawTerritory>,
    /// Flags that territories may carry (e.g. "has a local plan").
    #[serde(default)]
    pub territory_flag: Vec<RawLabelled>,
    /// Staff and resources assigned to the plan.
    #[serde(default)]
    pub staff: Vec<RawStaff>,
    /// Elected officials.
    #[serde(default)]
    pub official: Vec<RawOfficial>,
    /// Roles that people play in workflows.
    #[serde(default)]
    pub role: Vec<RawRole>,
    /// Audiences that actions address.
    #[serde(default)]
    pub audience: Vec<RawLabelled>,
    /// Discrimination criteria (or any other classification of what an action addresses).
    #[serde(default)]
    pub criterion: Vec<RawLabelled>,
    /// Domains of intervention (employment, housing...).
    #[serde(default)]
    pub domain: Vec<RawLabelled>,
    /// The plan's budget: dated yearly amounts and their allocations.
    pub budget: Option<RawBudget>,
    /// Grant funds with their form, parameters, rules and workflow.
    #[serde(default)]
    pub fund: Vec<RawFund>,
    /// Approval workflows: states, transitions, roles and guards.
    #[serde(default)]
    pub workflow: Vec<RawWorkflow>,
    /// Progress reports: what actually happened to an item.
    #[serde(default)]
    pub progress: Vec<RawProgress>,
    /// Named baselines: the dates of the items as they stood at a moment (e.g. the vote).
    #[serde(default)]
    pub baseline: Vec<RawBaseline>,
}

/// Top-level sections a plan file may hold, in the order the reference lists them.
pub const SECTIONS: &[&str] = &[
    "plan",
    "calendar",
    "axis",
    "action",
    "partner",
    "territory",
    "territory_flag",
    "staff",
    "official",
    "role",
    "audience",
    "criterion",
    "domain",
    "budget",
    "fund",
    "workflow",
    "progress",
    "baseline",
];

/// Identity of the plan.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields, rename = "Plan")]
pub struct RawPlan {
    /// Identifier: lowercase letters, digits, `-` and `_` (used in URLs).
    #[schemars(with = "String")]
    pub id: Sp<String>,
    /// Full title.
    pub title: String,
    /// Institution that owns the plan.
    pub owner: String,
    /// The deliberation that adopted the plan.
    pub deliberation: RawDeliberation,
    /// First day of the plan.
    #[schemars(with = "PlanDate")]
    pub start: Sp<PlanDate>,
    /// Last day covered by the plan.
    #[schemars(with = "PlanDate")]
    pub horizon: Sp<PlanDate>,
    /// ISO 4217 currency code of every amount, e.g. "EUR".
    pub currency: String,
    /// Locale of the plan's texts, e.g. "fr-FR".
    pub locale: String,
    /// IANA time zone in which dates and deadlines are read, e.g. "Europe/Paris".
    #[schemars(with = "String")]
    pub timezone: Sp<String>,
    /// Other files of the plan, relative to this one. `dir/*.toml` takes every TOML file of a directory.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub include: Vec<Sp<String>>,
    /// The founding document the plan encodes.
    pub source: Option<RawDocument>,
    /// A short summary.
    pub summary: Option<String>,
}

/// The deliberation that adopted the plan.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields, rename = "Deliberation")]
pub struct RawDeliberation {
    /// Date of the vote.
    #[schemars(with = "PlanDate")]
    pub date: Sp<PlanDate>,
    /// Reference of the deliberation (number, council session).
    pub reference: String,
    /// The body that voted.
    pub body: Option<String>,
}

/// A founding document.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields, rename = "Document")]
pub struct RawDocument {
    /// Title of the document.
    pub title: String,
    /// Where it can be found (a file name, an address, an archive reference).
    #[allow(
        dead_code,
        reason = "accepted for the plan's readers; the model keeps the title"
    )]
    pub reference: Option<String>,
}

/// Where an item comes from in the founding document.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields, rename = "Source")]
pub struct RawSource {
    /// Section or page of the founding document.
    pub section: String,
    /// The passage, quoted word for word.
    pub quote: String,
}

/// A role people play in workflows, and the kind of access the server grants it.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields, rename = "Role")]
pub struct RawRole {
    /// Identifier.
    #[schemars(with = "String")]
    pub id: Sp<String>,
    /// Label shown to people.
    pub label: String,
    /// Longer description.
    pub description: Option<String>,
    /// What the server lets people in this role do: `applicant` (their own applications
    /// only), `instructor`, `reviewer`, `approver`, `finance` or `admin`. A role without a
    /// kind cannot be given to anyone.
    pub kind: Option<crate::model::RoleKind>,
}

/// An entry of a simple registry: an id and a label.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields, rename = "Labelled")]
pub struct RawLabelled {
    /// Identifier.
    #[schemars(with = "String")]
    pub id: Sp<String>,
    /// Label shown to people.
    pub label: String,
    /// Longer description.
    pub description: Option<String>,
}

/// The working-day calendar.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields, rename = "Calendar")]
pub struct RawCalendar {
    /// Public holidays observed: "fr" (French public holidays, computed for any year) or "none".
    #[schemars(with = "String")]
    pub holidays: Sp<String>,
    /// Days of the week that are worked, e.g. ["mon", "tue", "wed", "thu", "fri"].
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub working_days: Vec<Sp<String>>,
    /// Closures: periods when nothing is worked.
    #[serde(default)]
    pub closure: Vec<RawClosure>,
}

/// A closure of the calendar, once or every year.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields, rename = "Closure")]
pub struct RawClosure {
    /// Why (e.g. "Fermeture estivale").
    pub label: String,
    /// A one-time closure: first day.
    #[schemars(with = "Option<PlanDate>")]
    pub from: Option<Sp<PlanDate>>,
    /// A one-time closure: last day.
    #[schemars(with = "Option<PlanDate>")]
    pub until: Option<Sp<PlanDate>>,
    /// A yearly closure: first day, MM-DD.
    #[schemars(with = "Option<MonthDay>")]
    pub every_year_from: Option<Sp<MonthDay>>,
    /// A yearly closure: last day, MM-DD.
    #[schemars(with = "Option<MonthDay>")]
    pub every_year_until: Option<Sp<MonthDay>>,
}

/// An orientation (axis) of the plan.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields, rename = "Axis")]
pub struct RawAxis {
    /// Identifier.
    #[schemars(with = "String")]
    pub id: Sp<String>,
    /// Title.
    pub title: String,
    /// What the axis aims at.
    pub description: Option<String>,
    /// Objectives of the axis.
    #[serde(default)]
    pub objective: Vec<RawObjective>,
    /// Where it comes from in the founding document.
    pub source: Option<RawSource>,
}

/// An objective within an axis.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields, rename = "Objective")]
pub struct RawObjective {
    /// Identifier, unique in the plan.
    #[schemars(with = "String")]
    pub id: Sp<String>,
    /// Title.
    pub title: String,
    /// Where it comes from in the founding document.
    pub source: Option<RawSource>,
}

/// An action or a milestone.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields, rename = "Action")]
pub struct RawAction {
    /// Identifier, unique in the plan.
    #[schemars(with = "String")]
    pub id: Sp<String>,
    /// "action" (default) or "milestone".
    pub kind: Option<ItemKind>,
    /// The axis it belongs to.
    #[schemars(with = "String")]
    pub axis: Sp<String>,
    /// The objective it serves, within its axis.
    #[schemars(with = "Option<String>")]
    pub objective: Option<Sp<String>>,
    /// Title.
    pub title: String,
    /// What is done.
    pub description: Option<String>,
    /// The partner (or internal department) that leads it.
    #[schemars(with = "Option<String>")]
    pub lead: Option<Sp<String>>,
    /// Other partners involved.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub partners: Vec<Sp<String>>,
    /// Audiences addressed.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub audiences: Vec<Sp<String>>,
    /// Criteria addressed.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub criteria: Vec<Sp<String>>,
    /// Domains addressed.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub domains: Vec<Sp<String>>,
    /// Territories where it takes place (any level of the territory hierarchy).
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub territories: Vec<Sp<String>>,
    /// Duration (e.g. "20wd", "3mo"); milestones have none.
    #[schemars(with = "Option<Span>")]
    pub duration: Option<Sp<Span>>,
    /// Fixed start date.
    #[schemars(with = "Option<PlanDate>")]
    pub start: Option<Sp<PlanDate>>,
    /// Fixed finish date.
    #[schemars(with = "Option<PlanDate>")]
    pub finish: Option<Sp<PlanDate>>,
    /// Constraint: start no earlier than this date.
    #[schemars(with = "Option<PlanDate>")]
    pub not_before: Option<Sp<PlanDate>>,
    /// Constraint: finish no later than this date.
    #[schemars(with = "Option<PlanDate>")]
    pub deadline: Option<Sp<PlanDate>>,
    /// Recurrence: the item happens again every year.
    pub recurrence: Option<RawRecurrence>,
    /// Items this one depends on.
    #[serde(default)]
    pub depends_on: Vec<RawDependency>,
    /// Indicators with targets.
    #[serde(default)]
    pub indicator: Vec<RawIndicator>,
    /// Budget lines of the action.
    #[serde(default)]
    pub budget_line: Vec<RawBudgetLine>,
    /// Staff working on it.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub staff: Vec<Sp<String>>,
    /// Where it comes from in the founding document.
    pub source: Option<RawSource>,
}

/// A dependency on another item.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields, rename = "Dependency")]
pub struct RawDependency {
    /// The item depended on.
    #[schemars(with = "String")]
    pub on: Sp<String>,
    /// Link type; "finish-to-start" when absent.
    #[serde(rename = "type")]
    pub link: Option<LinkType>,
    /// Lag (or lead, when negative), e.g. "10wd".
    #[schemars(with = "Option<Span>")]
    pub lag: Option<Sp<Span>>,
    /// Why this dependency exists.
    pub reason: Option<String>,
}

/// A yearly recurrence.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields, rename = "Recurrence")]
pub struct RawRecurrence {
    /// Frequency: "yearly".
    #[schemars(with = "String")]
    pub every: Sp<String>,
    /// First year.
    #[schemars(with = "i32")]
    pub from_year: Sp<i32>,
    /// Last year.
    #[schemars(with = "i32")]
    pub until_year: Sp<i32>,
    /// Day of the year each occurrence starts on (MM-DD).
    #[schemars(with = "Option<MonthDay>")]
    pub on: Option<Sp<MonthDay>>,
    /// A window instead of a day: first day (MM-DD).
    #[schemars(with = "Option<MonthDay>")]
    pub window_from: Option<Sp<MonthDay>>,
    /// A window instead of a day: last day (MM-DD).
    #[schemars(with = "Option<MonthDay>")]
    pub window_until: Option<Sp<MonthDay>>,
    /// Fewest occurrences a year (e.g. 1 highlight).
    #[schemars(with = "Option<u32>")]
    pub min_per_year: Option<Sp<u32>>,
    /// Most occurrences a year (e.g. 3 highlights).
    #[schemars(with = "Option<u32>")]
    pub max_per_year: Option<Sp<u32>>,
}

/// An indicator with its target.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields, rename = "Indicator")]
pub struct RawIndicator {
    /// Identifier, unique within the action.
    #[schemars(with = "String")]
    pub id: Sp<String>,
    /// What is measured.
    pub label: String,
    /// Unit (e.g. "agents formés", "%").
    pub unit: Option<String>,
    /// Target value.
    #[schemars(with = "Amount")]
    pub target: Sp<Amount>,
    /// Date by which the target is to be reached.
    #[schemars(with = "Option<PlanDate>")]
    pub by: Option<Sp<PlanDate>>,
}

/// A budget line of an action for one year.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields, rename = "BudgetLine")]
pub struct RawBudgetLine {
    /// Year.
    #[schemars(with = "i32")]
    pub year: Sp<i32>,
    /// Amount in the plan's currency.
    #[schemars(with = "Amount")]
    pub amount: Sp<Amount>,
    /// What it pays for.
    pub label: String,
}

/// A partner.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields, rename = "Partner")]
pub struct RawPartner {
    /// Identifier.
    #[schemars(with = "String")]
    pub id: Sp<String>,
    /// Name.
    pub name: String,
    /// Kind, e.g. "etat", "autorite-independante", "association", "interne".
    pub kind: String,
    /// What it brings.
    pub role: Option<String>,
    /// Where it comes from in the founding document.
    pub source: Option<RawSource>,
}

/// A territory.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields, rename = "Territory")]
pub struct RawTerritory {
    /// Identifier.
    #[schemars(with = "String")]
    pub id: Sp<String>,
    /// Name.
    pub name: String,
    /// Level: "area", "council", "commune" or "neighbourhood".
    pub level: TerritoryLevel,
    /// The territory it belongs to (none for the area).
    #[schemars(with = "Option<String>")]
    pub parent: Option<Sp<String>>,
    /// Official code (INSEE code for a commune).
    #[schemars(with = "Option<String>")]
    pub code: Option<Sp<String>>,
    /// Population.
    pub population: Option<u64>,
    /// Flags declared in `[[territory_flag]]`.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub flags: Vec<Sp<String>>,
    /// Where it comes from in the founding document.
    pub source: Option<RawSource>,
}

/// A staff position or resource.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields, rename = "Staff")]
pub struct RawStaff {
    /// Identifier.
    #[schemars(with = "String")]
    pub id: Sp<String>,
    /// Position.
    pub title: String,
    /// Full-time equivalents.
    #[schemars(with = "Amount")]
    pub fte: Sp<Amount>,
    /// Department (a partner of kind "interne").
    #[schemars(with = "Option<String>")]
    pub unit: Option<Sp<String>>,
    /// Where it comes from in the founding document.
    pub source: Option<RawSource>,
}

/// An elected official.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields, rename = "Official")]
pub struct RawOfficial {
    /// Identifier.
    #[schemars(with = "String")]
    pub id: Sp<String>,
    /// Name, when the document gives it.
    pub name: Option<String>,
    /// Office held.
    pub office: String,
    /// Roles the official holds in workflows.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub roles: Vec<Sp<String>>,
    /// Where it comes from in the founding document.
    pub source: Option<RawSource>,
}

/// A dated amount: in force from a date, optionally until another.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields, rename = "DatedAmount")]
pub struct RawDatedAmount {
    /// The value.
    #[schemars(with = "Amount")]
    pub value: Sp<Amount>,
    /// First day it applies.
    #[schemars(with = "PlanDate")]
    pub from: Sp<PlanDate>,
    /// Last day it applies (open-ended when absent).
    #[schemars(with = "Option<PlanDate>")]
    pub until: Option<Sp<PlanDate>>,
    /// The text that sets it (article, deliberation, document passage).
    pub reference: String,
}

/// The plan's budget.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields, rename = "Budget")]
pub struct RawBudget {
    /// Yearly amount of the plan, as dated values.
    #[serde(default)]
    pub annual: Vec<RawDatedAmount>,
    /// Allocations of a year's budget to an axis or an action.
    #[serde(default)]
    pub allocation: Vec<RawAllocation>,
}

/// An allocation of a year's budget.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields, rename = "Allocation")]
pub struct RawAllocation {
    /// Year.
    #[schemars(with = "i32")]
    pub year: Sp<i32>,
    /// The axis it goes to (or `action`).
    #[schemars(with = "Option<String>")]
    pub axis: Option<Sp<String>>,
    /// The action it goes to (or `axis`).
    #[schemars(with = "Option<String>")]
    pub action: Option<Sp<String>>,
    /// Amount.
    #[schemars(with = "Amount")]
    pub amount: Sp<Amount>,
    /// What it pays for.
    pub label: Option<String>,
}

/// A progress report on one item.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields, rename = "Progress")]
pub struct RawProgress {
    /// The item reported on.
    #[schemars(with = "String")]
    pub item: Sp<String>,
    /// Its state.
    pub status: Status,
    /// The day of the report.
    #[schemars(with = "PlanDate")]
    pub as_of: Sp<PlanDate>,
    /// The day it actually started.
    #[schemars(with = "Option<PlanDate>")]
    pub actual_start: Option<Sp<PlanDate>>,
    /// The day it actually finished.
    #[schemars(with = "Option<PlanDate>")]
    pub actual_finish: Option<Sp<PlanDate>>,
    /// Share of the work done, 0 to 100.
    #[schemars(with = "Option<u8>")]
    pub percent: Option<Sp<u8>>,
    /// Values of the item's indicators measured at the report.
    #[serde(default)]
    pub indicator: Vec<RawIndicatorValue>,
    /// A comment.
    pub note: Option<String>,
}

/// A measured value of an indicator.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields, rename = "IndicatorValue")]
pub struct RawIndicatorValue {
    /// The indicator, as declared on the item.
    #[schemars(with = "String")]
    pub id: Sp<String>,
    /// The value measured.
    #[schemars(with = "Amount")]
    pub value: Sp<Amount>,
}

/// A named baseline.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields, rename = "Baseline")]
pub struct RawBaseline {
    /// Identifier (used with `--baseline`).
    #[schemars(with = "String")]
    pub id: Sp<String>,
    /// What it records, e.g. "Plan voté en décembre 2019".
    pub label: String,
    /// The day it was taken.
    #[schemars(with = "PlanDate")]
    pub taken_on: Sp<PlanDate>,
    /// The dates of the items.
    #[serde(default)]
    pub item: Vec<RawBaselineItem>,
}

/// The dates of one item in a baseline.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields, rename = "BaselineItem")]
pub struct RawBaselineItem {
    /// The item.
    #[schemars(with = "String")]
    pub id: Sp<String>,
    /// Its start then.
    #[schemars(with = "PlanDate")]
    pub start: Sp<PlanDate>,
    /// Its last day then.
    #[schemars(with = "PlanDate")]
    pub finish: Sp<PlanDate>,
}
