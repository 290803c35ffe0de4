//! The raw structures of a fund: its calls, parameters, form, grid and the keys the server
//! reads. Doc comments are the plan language reference, like the rest of `raw`.

use schemars::JsonSchema;
use serde::Deserialize;

use super::{RawDatedAmount, Sp};
use crate::model::{Assessment, FieldType, ParamUnit};
use crate::plan::literal::{Amount, MonthDay};

/// Where the server finds an application's call, applicant and requested amount.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields, rename = "FundKeys")]
pub struct RawFundKeys {
    /// Dotted path of the call year (an integer field). Default `call`.
    #[schemars(with = "Option<String>")]
    pub call: Option<Sp<String>>,
    /// Dotted path of the applicant's identifier (a text field, e.g. the SIRET). Default
    /// `applicant.siret`.
    #[schemars(with = "Option<String>")]
    pub applicant: Option<Sp<String>>,
    /// Dotted path of the applicant's name (a text field). Default `applicant.name`.
    #[schemars(with = "Option<String>")]
    pub applicant_name: Option<Sp<String>>,
    /// Dotted path of the project's title (a text field). Default `project.title`.
    #[schemars(with = "Option<String>")]
    pub title: Option<Sp<String>>,
    /// Dotted path of the amount requested (a money field). Default
    /// `project.requested_amount`.
    #[schemars(with = "Option<String>")]
    pub requested_amount: Option<Sp<String>>,
    /// Dotted path of the project's total cost (a money field), from which the open-data
    /// export computes the share of the cost the grant covers. Default `project.total_cost`
    /// when the form has that money field; without one, the export leaves the share out.
    #[schemars(with = "Option<String>")]
    pub total_cost: Option<Sp<String>>,
}

/// A grant fund.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields, rename = "Fund")]
pub struct RawFund {
    /// Identifier.
    #[schemars(with = "String")]
    pub id: Sp<String>,
    /// Title.
    pub title: String,
    /// What the fund supports.
    pub purpose: String,
    /// The action of the plan that the fund implements.
    #[schemars(with = "Option<String>")]
    pub action: Option<Sp<String>>,
    /// The approval workflow of its applications.
    #[schemars(with = "String")]
    pub workflow: Sp<String>,
    /// Path of its eligibility rules script, relative to the plan directory, under `rules/`.
    #[schemars(with = "String")]
    pub rules: Sp<String>,
    /// Yearly envelope, as dated values.
    #[serde(default)]
    pub envelope: Vec<RawDatedAmount>,
    /// Yearly calls for applications.
    #[serde(default)]
    pub calls: Vec<RawCalls>,
    /// Parameters the rules read, each with dated values.
    #[serde(default)]
    pub parameter: Vec<RawParameter>,
    /// The application form.
    pub form: RawForm,
    /// The selection grid.
    pub grid: Option<RawGrid>,
    /// Where the server finds the call, the applicant and the amount in an application.
    pub keys: Option<RawFundKeys>,
    /// The authority that awards the grants and the service that answers applicants: what
    /// receipts, letters, the explanation and the publication tell people.
    pub administration: Option<RawAdministration>,
    /// Directory of the fund's own templates, relative to the plan directory: `<name>.j2`
    /// replaces the engine's template of that name (receipts, letters, emails, the
    /// explanation's sentences), `regles/<rule-id>.j2` says in French why a rule is not met.
    #[schemars(with = "Option<String>")]
    pub templates: Option<Sp<String>>,
}

/// The authority that awards a fund's grants and the service that instructs its files, as
/// receipts (CRPA R112-5), decision letters and the open-data export name them.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields, rename = "Administration")]
pub struct RawAdministration {
    /// The awarding authority, as published (SCDL `nomAttribuant`), e.g. "Métropole
    /// Aix-Marseille-Provence".
    pub authority: String,
    /// The authority's SIRET (14 digits; SCDL `idAttribuant`).
    #[schemars(with = "String")]
    pub siret: Sp<String>,
    /// The service that instructs the files.
    pub service: String,
    /// The service's postal address, on one line.
    pub address: String,
    /// The service's email address.
    #[schemars(with = "String")]
    pub email: Sp<String>,
    /// The service's telephone number.
    pub phone: String,
    /// The town letters are dated from ("Marseille, le 1er mars 2021").
    pub place: String,
    /// Who signs the decisions, as it reads above the signature ("Pour la Présidente et par
    /// délégation, la Vice-présidente déléguée").
    pub signatory: String,
    /// The administrative court competent for appeals, with its address.
    pub court: String,
    /// The public page of the fund, if any.
    pub website: Option<String>,
}

/// Call windows repeated every year over a range of years.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields, rename = "Calls")]
pub struct RawCalls {
    /// First year with a call.
    #[schemars(with = "i32")]
    pub first_year: Sp<i32>,
    /// Last year with a call.
    #[schemars(with = "i32")]
    pub last_year: Sp<i32>,
    /// Opening day (MM-DD), included.
    #[schemars(with = "MonthDay")]
    pub opens: Sp<MonthDay>,
    /// Closing day (MM-DD), included until the end of the day in the plan's time zone.
    #[schemars(with = "MonthDay")]
    pub closes: Sp<MonthDay>,
    /// The text that sets it.
    pub reference: String,
}

/// A parameter of a fund's rules.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields, rename = "Parameter")]
pub struct RawParameter {
    /// Name, read by the rules script with `param("name")`.
    #[schemars(with = "String")]
    pub id: Sp<String>,
    /// What it is.
    pub label: String,
    /// Unit.
    pub unit: ParamUnit,
    /// Its values over time; periods must not overlap.
    #[serde(default)]
    pub value: Vec<RawDatedAmount>,
}

/// The application form of a fund.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields, rename = "Form")]
pub struct RawForm {
    /// The form's sections, in the order the applicant reads them (`[[fund.form.section]]`).
    /// Each field and document names its section with `section = "…"`; one that names none
    /// is shown in the first section. Without sections, the form is one section.
    #[serde(default)]
    pub section: Vec<RawFormSection>,
    /// Sets of choices used by fields.
    #[serde(default)]
    pub choices: Vec<RawChoices>,
    /// Fields of the application, by dotted path (e.g. "applicant.kind").
    #[serde(default)]
    pub field: Vec<RawField>,
    /// Documents attached to the application.
    #[serde(default)]
    pub document: Vec<RawDocumentSpec>,
}

/// A section of the application form: a titled group of fields and documents.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields, rename = "FormSection")]
pub struct RawFormSection {
    /// Identifier, named by the fields' and documents' `section`.
    #[schemars(with = "String")]
    pub id: Sp<String>,
    /// Title shown to the applicant (e.g. "Le porteur du projet").
    pub title: String,
    /// A sentence shown under the title.
    pub help: Option<String>,
}

/// A named set of choices.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields, rename = "Choices")]
pub struct RawChoices {
    /// Identifier of the set.
    #[schemars(with = "String")]
    pub id: Sp<String>,
    /// The choices.
    pub option: Vec<RawChoice>,
}

/// One choice.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields, rename = "Choice")]
pub struct RawChoice {
    /// Value stored in the application.
    #[schemars(with = "String")]
    pub id: Sp<String>,
    /// Label shown to the applicant.
    pub label: String,
}

/// A condition on another field's value.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields, rename = "Condition")]
pub struct RawCondition {
    /// Path of a choice field or of a yes/no (boolean) field.
    #[schemars(with = "String")]
    pub field: Sp<String>,
    /// The values for which the condition holds: choice ids for a choice field, `true` or
    /// `false` for a yes/no field (`in = [true]`: required when the answer is yes).
    #[serde(rename = "in")]
    #[schemars(with = "Vec<RawConditionValue>")]
    pub values: Vec<Sp<RawConditionValue>>,
}

/// A value a condition holds for: a choice id, or yes/no.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
#[schemars(rename = "ConditionValue")]
pub enum RawConditionValue {
    /// A choice id of a choice field.
    Choice(String),
    /// An answer of a yes/no field.
    YesNo(bool),
}

/// A field of the application form.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields, rename = "Field")]
pub struct RawField {
    /// Dotted path in the application (e.g. "project.requested_amount").
    #[schemars(with = "String")]
    pub path: Sp<String>,
    /// Type.
    #[serde(rename = "type")]
    pub ty: FieldType,
    /// Label shown to the applicant.
    pub label: String,
    /// Help text.
    pub help: Option<String>,
    /// For "choice" and "choices": the set of choices.
    #[schemars(with = "Option<String>")]
    pub choices: Option<Sp<String>>,
    /// Required for every applicant.
    #[serde(default)]
    pub required: bool,
    /// Required only when another field has one of some values. The page shows the field
    /// only when the condition holds.
    pub required_when: Option<RawCondition>,
    /// The form section it is shown in (an id of `[[fund.form.section]]`).
    #[schemars(with = "Option<String>")]
    pub section: Option<Sp<String>>,
}

/// A document attached to an application.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields, rename = "DocumentSpec")]
pub struct RawDocumentSpec {
    /// Identifier (the value listed in the application's `documents`).
    #[schemars(with = "String")]
    pub id: Sp<String>,
    /// Label.
    pub label: String,
    /// Required for every applicant.
    #[serde(default)]
    pub required: bool,
    /// Required only when a field has one of some values.
    pub required_when: Option<RawCondition>,
    /// The text that requires it.
    pub reference: Option<String>,
    /// The form section it is asked in (an id of `[[fund.form.section]]`).
    #[schemars(with = "Option<String>")]
    pub section: Option<Sp<String>>,
}

/// The selection grid.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields, rename = "Grid")]
pub struct RawGrid {
    /// Total points of the grid.
    #[schemars(with = "Amount")]
    pub total: Sp<Amount>,
    /// The text that sets it.
    pub reference: String,
    /// Criteria of the grid.
    pub criterion: Vec<RawGridCriterion>,
}

/// A criterion of the selection grid.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields, rename = "GridCriterion")]
pub struct RawGridCriterion {
    /// Identifier.
    #[schemars(with = "String")]
    pub id: Sp<String>,
    /// Label.
    pub label: String,
    /// The parameter that gives its points (so that a vote can change them).
    #[schemars(with = "String")]
    pub points: Sp<String>,
    /// "automatic" or "reviewer".
    pub assessed: Assessment,
    /// For automatic criteria: the boolean field of the form it reads. Without it, the rules
    /// script computes the criterion from other data.
    #[schemars(with = "Option<String>")]
    pub field: Option<Sp<String>>,
}
