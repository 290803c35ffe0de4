//! The domain model of a plan: what the rest of metroplan works with.
//!
//! Values of these types come only out of [`crate::load_plan`], which validated them:
//! every reference points at something declared, dates exist and ranges are ordered,
//! dated values do not overlap, dependencies form no loop, workflows are well formed.

mod territories;
mod workflow;
pub use workflow::*;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use jiff::civil::Date;
use rust_decimal::Decimal;
use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::diagnostic::Loc;
pub use crate::plan::literal::{DurationUnit, MonthDay, Span};
pub(crate) use territories::TerritoryTree;

/// An identifier: lowercase ASCII letters, digits, `-` and `_`, starting with a letter or digit.
///
/// Shared (`Arc<str>`): the registry and every reference to an item hold the same text, so a
/// plan of 100 000 actions does not allocate one string per reference.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Id(Arc<str>);

impl Serialize for Id {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl Id {
    pub fn parse(s: &str) -> Result<Id, String> {
        let ok = !s.is_empty()
            && s.len() <= 80
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
            && s.as_bytes()[0].is_ascii_alphanumeric();
        if ok {
            Ok(Id(Arc::from(s)))
        } else {
            let fixed = slug(s);
            Err(if fixed.is_empty() {
                format!("`{s}` is not a valid id: use lowercase letters, digits, `-` and `_`")
            } else {
                format!(
                    "`{s}` is not a valid id: use lowercase letters, digits, `-` and `_`, e.g. `{fixed}`"
                )
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// An id already validated and interned by a registry.
    pub(crate) fn from_shared(s: Arc<str>) -> Id {
        Id(s)
    }

    pub(crate) fn shared(&self) -> &Arc<str> {
        &self.0
    }
}

/// A valid id close to `s` (accents removed, spaces to dashes).
pub fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        let c = match c {
            'à' | 'â' | 'ä' | 'À' | 'Â' => 'a',
            'é' | 'è' | 'ê' | 'ë' | 'É' | 'È' | 'Ê' => 'e',
            'î' | 'ï' | 'Î' => 'i',
            'ô' | 'ö' | 'Ô' => 'o',
            'ù' | 'û' | 'ü' | 'Û' => 'u',
            'ç' | 'Ç' => 'c',
            c if c.is_ascii_alphanumeric() => c.to_ascii_lowercase(),
            '_' => '_',
            _ => '-',
        };
        if c == '-' && (out.is_empty() || out.ends_with('-')) {
            continue;
        }
        out.push(c);
    }
    out.trim_end_matches('-').to_string()
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::borrow::Borrow<str> for Id {
    fn borrow(&self) -> &str {
        &self.0
    }
}

/// A value in force over a period.
#[derive(Debug, Clone, Serialize)]
pub struct Dated<T> {
    pub value: T,
    pub from: Date,
    /// Last day in force; open-ended when `None`.
    pub until: Option<Date>,
    pub reference: String,
}

/// Values over time, sorted by start, no two in force on the same day.
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct DatedValues<T>(pub(crate) Vec<Dated<T>>);

/// Dated values from a list, sorted by start. For drafts built in code (what-if analyses);
/// plan files go through the loader, which also refuses overlapping periods.
impl<T> FromIterator<Dated<T>> for DatedValues<T> {
    fn from_iter<I: IntoIterator<Item = Dated<T>>>(iter: I) -> Self {
        let mut v: Vec<Dated<T>> = iter.into_iter().collect();
        v.sort_by_key(|d| d.from);
        DatedValues(v)
    }
}

impl<T> DatedValues<T> {
    /// The value in force on `day`, if any.
    pub fn at(&self, day: Date) -> Option<&Dated<T>> {
        self.0
            .iter()
            .find(|d| d.from <= day && d.until.is_none_or(|u| day <= u))
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Dated<T>> {
        self.0.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Where an item comes from in the founding document.
#[derive(Debug, Clone, Serialize)]
pub struct Source {
    pub section: String,
    pub quote: String,
}

/// An entry of a simple registry (roles, audiences, criteria, domains, flags).
#[derive(Debug, Clone, Serialize)]
pub struct Labelled {
    pub id: Id,
    pub label: String,
    pub description: Option<String>,
}

/// What the server lets people in a role do. Plans name their roles in their own words;
/// the kind is what the server checks.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum RoleKind {
    /// Files applications and acts on their own applications only.
    Applicant,
    /// Instructs applications.
    Instructor,
    /// Gives opinions and scores (selection committee).
    Reviewer,
    /// Decides (the elected official).
    Approver,
    /// Pays.
    Finance,
    /// Reads everything and manages access; decides nothing.
    Admin,
}

impl RoleKind {
    pub const ALL: [RoleKind; 6] = [
        RoleKind::Applicant,
        RoleKind::Instructor,
        RoleKind::Reviewer,
        RoleKind::Approver,
        RoleKind::Finance,
        RoleKind::Admin,
    ];

    pub fn name(self) -> &'static str {
        match self {
            RoleKind::Applicant => "applicant",
            RoleKind::Instructor => "instructor",
            RoleKind::Reviewer => "reviewer",
            RoleKind::Approver => "approver",
            RoleKind::Finance => "finance",
            RoleKind::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<RoleKind> {
        RoleKind::ALL.into_iter().find(|k| k.name() == s)
    }
}

/// A role people play in workflows.
#[derive(Debug, Clone, Serialize)]
pub struct Role {
    pub id: Id,
    pub label: String,
    pub description: Option<String>,
    pub kind: Option<RoleKind>,
}

/// The pages every authority that takes applications must publish, by file stem (which is
/// also their address on the site): legal notice, accessibility statement (RGAA), personal
/// data (RGPD), help and contact.
pub const PAGES: [&str; 4] = [
    "mentions-legales",
    "accessibilite",
    "donnees-personnelles",
    "aide",
];

/// One published page of a plan: its Markdown, as written in `pages/<slug>.md`.
#[derive(Debug, Clone)]
pub struct PlanPage {
    pub slug: &'static str,
    pub markdown: String,
}

/// A validated plan.
#[derive(Debug, Serialize)]
pub struct Plan {
    pub id: Id,
    pub title: String,
    pub owner: String,
    pub deliberation_date: Date,
    pub deliberation_reference: String,
    pub deliberation_body: Option<String>,
    pub start: Date,
    pub horizon: Date,
    pub currency: String,
    pub locale: String,
    pub timezone: String,
    pub summary: Option<String>,
    pub source_document: Option<String>,
    pub calendar: Calendar,
    pub axes: Vec<Axis>,
    pub actions: Vec<Action>,
    pub partners: Vec<Partner>,
    pub territories: Vec<Territory>,
    pub territory_flags: Vec<Labelled>,
    pub staff: Vec<Staff>,
    pub officials: Vec<Official>,
    pub roles: Vec<Role>,
    pub audiences: Vec<Labelled>,
    pub criteria: Vec<Labelled>,
    pub domains: Vec<Labelled>,
    pub budget: Budget,
    pub funds: Vec<Fund>,
    pub workflows: Vec<Workflow>,
    /// The latest progress report of each item that has one, by item index.
    pub progress: Vec<Option<Progress>>,
    pub baselines: Vec<Baseline>,
    /// The pages the authority publishes about this plan (`pages/*.md`), in
    /// [`PAGES`](crate::model::PAGES) order: kept out of the plan's JSON, which describes the
    /// plan, not its site.
    #[serde(skip)]
    pub pages: Vec<PlanPage>,
    /// The authority's logo, relative to the plan directory (`logo.svg` or `logo.png`).
    #[serde(skip)]
    pub logo: Option<std::path::PathBuf>,
    #[serde(skip)]
    pub(crate) action_index: FxHashMap<Id, usize>,
    /// The dependencies as a compact graph with a topological order (no loops: the loader
    /// refuses a plan with one).
    #[serde(skip)]
    pub graph: crate::graph::DependencyGraph,
    #[serde(skip)]
    pub(crate) territory_tree: TerritoryTree,
}

impl Plan {
    pub fn action(&self, id: &str) -> Option<&Action> {
        self.action_index.get(id).map(|&i| &self.actions[i])
    }

    pub fn fund(&self, id: &str) -> Option<&Fund> {
        self.funds.iter().find(|f| f.id.as_str() == id)
    }

    pub fn workflow(&self, id: &str) -> Option<&Workflow> {
        self.workflows.iter().find(|w| w.id.as_str() == id)
    }

    pub fn role(&self, id: &str) -> Option<&Role> {
        self.roles.iter().find(|r| r.id.as_str() == id)
    }

    /// The kind of the role that takes transition `t` (`None` for the built-in `system`
    /// role, and for a plan role declared without a kind).
    pub fn role_kind_of(&self, t: &Transition) -> Option<RoleKind> {
        self.role(t.role.as_str()).and_then(|r| r.kind)
    }
}

/// Day of the week, as plan files write it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

/// The public holidays a calendar observes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Holidays {
    /// French public holidays (metropolitan France).
    Fr,
    None,
}

/// The working-day calendar.
#[derive(Debug, Clone, Serialize)]
pub struct Calendar {
    pub holidays: Holidays,
    pub working_days: Vec<Weekday>,
    pub closures: Vec<Closure>,
}

impl Default for Calendar {
    /// Monday to Friday, no public holidays, no closures.
    fn default() -> Self {
        Calendar {
            holidays: Holidays::None,
            working_days: vec![
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
            ],
            closures: Vec::new(),
        }
    }
}

/// A period when nothing is worked.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Closure {
    Once {
        label: String,
        from: Date,
        until: Date,
    },
    Yearly {
        label: String,
        from: MonthDay,
        until: MonthDay,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct Axis {
    pub id: Id,
    pub title: String,
    pub description: Option<String>,
    pub objectives: Vec<Objective>,
    pub source: Option<Source>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Objective {
    pub id: Id,
    pub title: String,
    pub source: Option<Source>,
}

/// An action or milestone.
#[derive(Debug, Clone, Serialize)]
pub struct Action {
    pub id: Id,
    pub kind: ItemKind,
    pub axis: Id,
    pub objective: Option<Id>,
    pub title: String,
    pub description: Option<String>,
    pub lead: Option<Id>,
    pub partners: Vec<Id>,
    pub audiences: Vec<Id>,
    pub criteria: Vec<Id>,
    pub domains: Vec<Id>,
    pub territories: Vec<Id>,
    pub timing: Timing,
    pub recurrence: Option<Recurrence>,
    pub depends_on: Vec<Dependency>,
    pub indicators: Vec<Indicator>,
    pub budget_lines: Vec<BudgetLine>,
    pub staff: Vec<Id>,
    pub source: Option<Source>,
    #[serde(skip)]
    pub loc: Loc,
}

/// When an item happens, as the plan states it (the scheduler computes the rest).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Timing {
    pub duration: Option<Span>,
    pub start: Option<Date>,
    pub finish: Option<Date>,
    pub not_before: Option<Date>,
    pub deadline: Option<Date>,
}

/// A yearly recurrence.
#[derive(Debug, Clone, Serialize)]
pub struct Recurrence {
    pub from_year: i16,
    pub until_year: i16,
    pub when: RecurrenceDay,
    pub min_per_year: u32,
    pub max_per_year: u32,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum RecurrenceDay {
    On { day: MonthDay },
    Window { from: MonthDay, until: MonthDay },
}

/// A dependency on another item.
#[derive(Debug, Clone, Serialize)]
pub struct Dependency {
    /// Index of the item depended on in [`Plan::actions`].
    #[serde(skip)]
    pub on: usize,
    #[serde(rename = "on")]
    pub on_id: Id,
    pub link: LinkType,
    pub lag: Span,
    pub reason: Option<String>,
    #[serde(skip)]
    pub loc: Loc,
}

#[derive(Debug, Clone, Serialize)]
pub struct Indicator {
    pub id: Id,
    pub label: String,
    pub unit: Option<String>,
    pub target: Decimal,
    pub by: Option<Date>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BudgetLine {
    pub year: i16,
    pub amount: Decimal,
    pub label: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Partner {
    pub id: Id,
    pub name: String,
    pub kind: String,
    pub role: Option<String>,
    pub source: Option<Source>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Territory {
    pub id: Id,
    pub name: String,
    pub level: TerritoryLevel,
    pub parent: Option<Id>,
    pub code: Option<String>,
    pub population: Option<u64>,
    pub flags: Vec<Id>,
    pub source: Option<Source>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Staff {
    pub id: Id,
    pub title: String,
    pub fte: Decimal,
    pub unit: Option<Id>,
    pub source: Option<Source>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Official {
    pub id: Id,
    pub name: Option<String>,
    pub office: String,
    pub roles: Vec<Id>,
    pub source: Option<Source>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Budget {
    pub annual: DatedValues<Decimal>,
    pub allocations: Vec<Allocation>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Allocation {
    pub year: i16,
    pub target: AllocationTarget,
    pub amount: Decimal,
    pub label: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", content = "id", rename_all = "kebab-case")]
pub enum AllocationTarget {
    Axis(Id),
    Action(Id),
}

#[derive(Debug, Clone, Serialize)]
pub struct Fund {
    pub id: Id,
    pub title: String,
    pub purpose: String,
    pub action: Option<Id>,
    pub workflow: Id,
    /// Path of the rules script, relative to the plan directory.
    pub rules: PathBuf,
    pub envelope: DatedValues<Decimal>,
    pub calls: Vec<CallWindow>,
    pub parameters: Vec<Parameter>,
    pub form: Form,
    pub grid: Option<Grid>,
    /// Where the server finds the call, applicant and amount of an application; `None` for
    /// a fund whose form has none of them (rules only: nothing can be filed to it).
    pub keys: Option<FundKeys>,
    /// The authority and its service, as the applicant's documents name them; `None` only
    /// for a fund that takes no application (W005 otherwise).
    pub administration: Option<Administration>,
    /// Directory of the fund's own templates, relative to the plan directory.
    pub templates_dir: Option<PathBuf>,
    /// The fund's templates: its own, and the engine's for the others.
    #[serde(skip)]
    pub templates: std::sync::Arc<crate::documents::Templates>,
    /// The compiled rules script, when it exists and compiles.
    #[serde(skip)]
    pub ruleset: Option<std::sync::Arc<crate::rules::Ruleset>>,
}

/// The awarding authority and the service that instructs a fund's files (a SIRET of 14
/// digits, an email with an `@`: checked at load).
#[derive(Debug, Clone, Serialize)]
pub struct Administration {
    pub authority: String,
    pub siret: String,
    pub service: String,
    pub address: String,
    pub email: String,
    pub phone: String,
    pub place: String,
    pub signatory: String,
    pub court: String,
    pub website: Option<String>,
}

/// Dotted paths of the application fields the workflow needs, checked against the form.
#[derive(Debug, Clone, Serialize)]
pub struct FundKeys {
    pub call: String,
    pub applicant: String,
    pub applicant_name: String,
    pub title: String,
    pub requested_amount: String,
    /// The project's total cost, when the form has one (a money field).
    pub total_cost: Option<String>,
}

/// One year's call for applications: open from `opens` to the end of `closes`.
#[derive(Debug, Clone, Serialize)]
pub struct CallWindow {
    pub year: i16,
    pub opens: Date,
    pub closes: Date,
    pub reference: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Parameter {
    pub id: Id,
    pub label: String,
    pub unit: ParamUnit,
    pub values: DatedValues<Decimal>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Form {
    pub choices: Vec<ChoiceSet>,
    pub fields: Vec<Field>,
    pub documents: Vec<DocumentSpec>,
    /// The sections the page groups fields and documents in, in order; empty: one section.
    /// Layout only: not serialized, so that it is not part of what the rules read nor of the
    /// ruleset's hash.
    #[serde(skip)]
    pub sections: Vec<FormSection>,
}

/// A section of the application form.
#[derive(Debug, Clone, Serialize)]
pub struct FormSection {
    pub id: Id,
    pub title: String,
    pub help: Option<String>,
}

/// One section of the form as the page shows it: its declaration (`None` for a form without
/// sections), its fields and its documents, each in the form's order.
#[derive(Debug)]
pub struct SectionContent<'f> {
    pub section: Option<&'f FormSection>,
    pub fields: Vec<&'f Field>,
    pub documents: Vec<&'f DocumentSpec>,
}

impl Form {
    /// The fields and documents grouped by section, in the sections' order (one group when the
    /// form declares no section).
    pub fn by_section(&self) -> Vec<SectionContent<'_>> {
        if self.sections.is_empty() {
            return vec![SectionContent {
                section: None,
                fields: self.fields.iter().collect(),
                documents: self.documents.iter().collect(),
            }];
        }
        self.sections
            .iter()
            .map(|s| SectionContent {
                section: Some(s),
                fields: self
                    .fields
                    .iter()
                    .filter(|f| f.section.as_ref() == Some(&s.id))
                    .collect(),
                documents: self
                    .documents
                    .iter()
                    .filter(|d| d.section.as_ref() == Some(&s.id))
                    .collect(),
            })
            .collect()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ChoiceSet {
    pub id: Id,
    pub options: Vec<Choice>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Choice {
    pub id: Id,
    pub label: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Field {
    pub path: String,
    pub ty: FieldType,
    pub label: String,
    pub help: Option<String>,
    pub choices: Option<Id>,
    pub requirement: Requirement,
    /// The section it is shown in (the first one when it names none); `None` without sections.
    #[serde(skip)]
    pub section: Option<Id>,
}

/// When a field or document must be given.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Requirement {
    Optional,
    Always,
    When { field: String, values: Vec<Id> },
}

#[derive(Debug, Clone, Serialize)]
pub struct DocumentSpec {
    pub id: Id,
    pub label: String,
    pub requirement: Requirement,
    pub reference: Option<String>,
    /// The section it is asked in (the first one when it names none); `None` without sections.
    #[serde(skip)]
    pub section: Option<Id>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Grid {
    pub total: Decimal,
    pub reference: String,
    pub criteria: Vec<GridCriterion>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GridCriterion {
    pub id: Id,
    pub label: String,
    /// The parameter giving the points.
    pub points: Id,
    pub assessed: Assessment,
    pub field: Option<String>,
}

/// The latest progress report on an item.
#[derive(Debug, Clone, Serialize)]
pub struct Progress {
    pub status: Status,
    pub as_of: Date,
    pub actual_start: Option<Date>,
    pub actual_finish: Option<Date>,
    pub percent: Option<u8>,
    pub indicators: Vec<(Id, Decimal)>,
    pub note: Option<String>,
}

/// Item dates recorded at a moment.
#[derive(Debug, Clone, Serialize)]
pub struct Baseline {
    pub id: Id,
    pub label: String,
    pub taken_on: Date,
    /// (start, last day) by item index; `None` for items added since.
    pub items: Vec<Option<(Date, Date)>>,
}

impl Plan {
    /// A baseline by id.
    pub fn baseline(&self, id: &str) -> Option<&Baseline> {
        self.baselines.iter().find(|b| b.id.as_str() == id)
    }
}

/// Whether an item has a duration or marks a point in time.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, schemars::JsonSchema, Serialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum ItemKind {
    /// Work that takes time.
    Action,
    /// A point in time (zero duration): a vote, a launch, a label obtained.
    Milestone,
}

/// The type of a dependency link.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize, schemars::JsonSchema, Serialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum LinkType {
    /// This item starts after the other finishes (the default).
    #[serde(alias = "FS")]
    FinishToStart,
    /// This item starts after the other starts.
    #[serde(alias = "SS")]
    StartToStart,
    /// This item finishes after the other finishes.
    #[serde(alias = "FF")]
    FinishToFinish,
    /// This item finishes after the other starts.
    #[serde(alias = "SF")]
    StartToFinish,
}

impl LinkType {
    /// The name plan files use.
    pub fn name(self) -> &'static str {
        match self {
            LinkType::FinishToStart => "finish-to-start",
            LinkType::StartToStart => "start-to-start",
            LinkType::FinishToFinish => "finish-to-finish",
            LinkType::StartToFinish => "start-to-finish",
        }
    }
}

/// The level of a territory in the hierarchy.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize, schemars::JsonSchema, Serialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum TerritoryLevel {
    /// The whole plan area.
    Area,
    /// A territorial council (conseil de territoire).
    Council,
    /// A commune.
    Commune,
    /// A priority neighbourhood (quartier prioritaire).
    Neighbourhood,
}

/// The unit of a parameter.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize, schemars::JsonSchema, Serialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum ParamUnit {
    /// Money in the plan's currency.
    Currency,
    /// A ratio between 0 and 1 (0.8 = 80 %).
    Ratio,
    /// A number of days.
    Days,
    /// A number of months.
    Months,
    /// A count.
    Count,
    /// Points of a grid.
    Points,
}

impl ParamUnit {
    /// Its name in plan files.
    pub fn name(self) -> &'static str {
        match self {
            ParamUnit::Currency => "currency",
            ParamUnit::Ratio => "ratio",
            ParamUnit::Days => "days",
            ParamUnit::Months => "months",
            ParamUnit::Count => "count",
            ParamUnit::Points => "points",
        }
    }
}

/// The type of a form field.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize, schemars::JsonSchema, Serialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum FieldType {
    /// A short text.
    Text,
    /// A long text.
    LongText,
    /// A whole number.
    Integer,
    /// A year (1000 to 9999), a whole number written without a thousands separator.
    Year,
    /// A decimal amount of money.
    Money,
    /// Yes or no.
    Boolean,
    /// A date.
    Date,
    /// One of a set of choices.
    Choice,
    /// Several of a set of choices.
    Choices,
    /// A French SIRET number (14 digits).
    Siret,
    /// A list of commune codes of the plan's territories.
    Communes,
    /// One commune code (INSEE) of the plan's territories.
    Commune,
    /// The list of documents attached.
    Documents,
}

/// How a grid criterion is assessed.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize, schemars::JsonSchema, Serialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Assessment {
    /// From a boolean field of the application.
    Automatic,
    /// Scored by reviewers.
    Reviewer,
}

/// The state of an item in a progress report.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize, schemars::JsonSchema, Serialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Not started yet.
    NotStarted,
    /// Under way.
    InProgress,
    /// Finished.
    Done,
    /// Stopped for now; it will resume.
    Suspended,
    /// Given up: it will not be done.
    Abandoned,
}

impl Status {
    /// The name plan files use.
    pub fn name(self) -> &'static str {
        match self {
            Status::NotStarted => "not-started",
            Status::InProgress => "in-progress",
            Status::Done => "done",
            Status::Suspended => "suspended",
            Status::Abandoned => "abandoned",
        }
    }
}
