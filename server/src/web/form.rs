//! The application form generated from the fund's form in the plan: one labelled control
//! per field, choices as selects or checkboxes, documents as file inputs; and the reverse,
//! from posted fields to the application's JSON, checked field by field in French.

use maud::{Markup, html};
use metroplan_engine::model::FieldType;
use metroplan_engine::model::{DocumentSpec, Fund, Plan, Requirement, TerritoryLevel};
use serde_json::{Map, Value, json};

use crate::service::set_by_server;

/// The HTML name of a field's control.
pub fn control_name(path: &str) -> String {
    format!("f.{path}")
}

/// The HTML id of a field's control (ids may not contain dots for CSS selectors' sake).
fn control_id(path: &str) -> String {
    format!("champ-{}", path.replace('.', "-"))
}

pub fn piece_name(kind: &str) -> String {
    format!("piece.{kind}")
}

fn lookup<'v>(data: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(data, |v, k| v.get(k))
}

fn set(data: &mut Map<String, Value>, path: &str, value: Value) {
    let mut keys: Vec<&str> = path.split('.').collect();
    let last = keys.pop().unwrap_or(path);
    let mut at = data;
    for k in keys {
        let entry = at
            .entry(k.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        at = entry.as_object_mut().expect("made an object just above");
    }
    at.insert(last.to_string(), value);
}

/// When a field or piece is required, in French.
pub fn requirement_fr(fund: &Fund, r: &Requirement) -> Option<String> {
    match r {
        Requirement::Optional => None,
        Requirement::Always => Some("obligatoire".into()),
        Requirement::When { field, values } => {
            let f = fund.form.fields.iter().find(|f| f.path == *field);
            let labels: Vec<String> = values
                .iter()
                .map(|v| choice_label(fund, f.and_then(|f| f.choices.as_ref()), v.as_str()))
                .collect();
            Some(format!(
                "obligatoire si « {} » est : {}",
                f.map_or(field.as_str(), |f| f.label.as_str()),
                labels.join(", ")
            ))
        }
    }
}

pub fn choice_label(fund: &Fund, set: Option<&metroplan_engine::model::Id>, id: &str) -> String {
    set.and_then(|s| fund.form.choices.iter().find(|c| c.id == *s))
        .and_then(|c| c.options.iter().find(|o| o.id.as_str() == id))
        .map_or_else(|| id.to_string(), |o| o.label.clone())
}

fn communes(plan: &Plan) -> Vec<(&str, &str)> {
    let mut v: Vec<(&str, &str)> = plan
        .territories
        .iter()
        .filter(|t| t.level == TerritoryLevel::Commune)
        .filter_map(|t| t.code.as_deref().map(|c| (c, t.name.as_str())))
        .collect();
    v.sort_by(|a, b| a.1.cmp(b.1));
    v
}

/// The plan's communes grouped by their conseil de territoire (in the plan's order of
/// councils), each group sorted by name; communes without a council come last.
fn communes_by_council(plan: &Plan) -> Vec<(String, Vec<(&str, &str)>)> {
    let mut groups: Vec<(String, Vec<(&str, &str)>)> = plan
        .territories
        .iter()
        .filter(|t| t.level == TerritoryLevel::Council)
        .map(|t| (t.name.clone(), Vec::new()))
        .collect();
    let mut others = Vec::new();
    for t in plan
        .territories
        .iter()
        .filter(|t| t.level == TerritoryLevel::Commune)
    {
        let Some(code) = t.code.as_deref() else {
            continue;
        };
        let group = plan
            .council_of(t.id.as_str())
            .and_then(|c| groups.iter_mut().find(|(n, _)| *n == c.name));
        match group {
            Some((_, list)) => list.push((code, t.name.as_str())),
            None => others.push((code, t.name.as_str())),
        }
    }
    if !others.is_empty() {
        let title = if groups.is_empty() {
            "Communes"
        } else {
            "Autres communes"
        };
        groups.push((title.to_string(), others));
    }
    groups.retain(|(_, l)| !l.is_empty());
    for (_, l) in &mut groups {
        l.sort_by_cached_key(|c| metroplan_engine::french::fold(c.1));
    }
    groups
}

/// An amount as the applicant wrote it back: "8 000", "9 000,50" (the server reads it again).
fn money_text(v: Option<&Value>) -> String {
    let t = text_of(v);
    t.parse::<rust_decimal::Decimal>()
        .map_or(t, metroplan_engine::french::amount_fr)
}

fn text_of(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

/// What a form is filled with.
#[derive(Clone, Copy)]
pub struct Fill<'a> {
    /// The application's data (stored, or what was read of a refused submission).
    pub data: &'a Value,
    /// The fields as sent by a refused submission: each control shows what was typed,
    /// the faulty ones too.
    pub posted: Option<&'a [(String, String)]>,
    /// The errors by field path (`piece.<kind>` for a piece).
    pub errors: &'a [(String, String)],
    /// Values shown when the data has none.
    pub defaults: &'a [(&'a str, String)],
    /// Paths the applicant may not change: shown as text, sent back in a hidden input.
    pub fixed: &'a [&'a str],
}

/// The values a field's control shows, as text (`oui`/`non` for a yes/no field, one per
/// chosen item for a list).
fn shown(f: &metroplan_engine::model::Field, fill: &Fill<'_>) -> Vec<String> {
    let default = || {
        fill.defaults
            .iter()
            .find(|(p, _)| *p == f.path)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
            .into_iter()
            .collect::<Vec<_>>()
    };
    if fill.fixed.contains(&f.path.as_str()) {
        let d = default();
        if !d.is_empty() {
            return d;
        }
    }
    if let Some(posted) = fill.posted {
        let name = control_name(&f.path);
        return posted
            .iter()
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect();
    }
    match lookup(fill.data, &f.path) {
        None | Some(Value::Null) => default(),
        Some(Value::Bool(b)) => vec![if *b { "oui" } else { "non" }.to_string()],
        Some(Value::Array(a)) => a.iter().map(|x| text_of(Some(x))).collect(),
        Some(v) if f.ty == FieldType::Money => vec![money_text(Some(v))],
        Some(v) => vec![text_of(Some(v))],
    }
}

/// The field a condition reads, as a control name, and the values (as the controls send
/// them) for which it holds: what `form.js` reads to show a field only when it applies.
fn visible_when(fund: &Fund, r: &Requirement) -> Option<(String, String)> {
    let Requirement::When { field, values } = r else {
        return None;
    };
    let ty = fund.form.fields.iter().find(|f| f.path == *field)?.ty;
    let values: Vec<&str> = values
        .iter()
        .map(|v| match (ty, v.as_str()) {
            (FieldType::Boolean, "true") => "oui",
            (FieldType::Boolean, "false") => "non",
            (_, v) => v,
        })
        .collect();
    Some((control_name(field), values.join(" ")))
}

/// The form's controls, filled with `data`, with the error of each field beside it, grouped
/// in the form's sections (a `fieldset` each); the call year and a SIRET already given are
/// shown as text.
pub fn fields(
    plan: &Plan,
    fund: &Fund,
    data: &Value,
    posted: Option<&[(String, String)]>,
    errors: &[(String, String)],
    defaults: &[(&str, String)],
) -> Markup {
    // A draft's SIRET is the account's (the new application's page showed it as text).
    let mut fixed = fixed_paths(fund);
    fixed.extend(siret_path(fund));
    let fill = Fill {
        data,
        posted,
        errors,
        defaults,
        fixed: &fixed,
    };
    let groups = fund.form.by_section();
    html! {
        @for g in &groups {
            @let shown_fields: Vec<_> = g.fields.iter().filter(|f| !set_by_server(&f.path, f.ty)).collect();
            @if !shown_fields.is_empty() {
                @if let Some(s) = g.section {
                    fieldset.partie {
                        legend { (s.title) }
                        @if let Some(h) = &s.help { p.aide { (h) } }
                        @for f in shown_fields { (field(plan, fund, f, &fill)) }
                    }
                } @else {
                    @for f in shown_fields { (field(plan, fund, f, &fill)) }
                }
            }
        }
    }
}

/// The paths the applicant never changes on any form: the call (the year of the call open
/// when the file was made). The new application's page adds the SIRET of the account.
pub fn fixed_paths(fund: &Fund) -> Vec<&str> {
    fund.keys
        .as_ref()
        .map(|k| vec![k.call.as_str()])
        .unwrap_or_default()
}

/// The path of the applicant's SIRET, when the fund's applicant key is one.
pub fn siret_path(fund: &Fund) -> Option<&str> {
    let k = fund.keys.as_ref()?;
    fund.form
        .fields
        .iter()
        .any(|f| f.path == k.applicant && f.ty == FieldType::Siret)
        .then_some(k.applicant.as_str())
}

/// Replaces what was posted for `path` by `value`: what the applicant may not change is the
/// server's, whatever the page sent.
pub fn pin(posted: &mut Vec<(String, String)>, path: &str, value: &str) {
    let name = control_name(path);
    posted.retain(|(k, _)| *k != name);
    posted.push((name, value.to_string()));
}

/// The whole form of a new application: a table of contents, then each section with its
/// fields and its pieces (`have`: the pieces already kept, by kind, with their file name).
pub fn sectioned(
    plan: &Plan,
    fund: &Fund,
    fill: &Fill<'_>,
    have: &[(String, Option<String>)],
) -> Markup {
    let groups = fund.form.by_section();
    let visible = |g: &metroplan_engine::model::SectionContent<'_>| {
        g.fields.iter().any(|f| !set_by_server(&f.path, f.ty))
            || !g.documents.is_empty()
            || g.fields
                .iter()
                .any(|f| fill.fixed.contains(&f.path.as_str()))
    };
    let titled: Vec<_> = groups.iter().filter(|g| visible(g)).collect();
    html! {
        @if titled.len() > 1 {
            nav.sommaire-formulaire aria-labelledby="sommaire-titre" {
                h2 id="sommaire-titre" { "Les parties du formulaire" }
                ol {
                    @for g in &titled {
                        @if let Some(s) = g.section {
                            li { a href={"#partie-" (s.id)} { (s.title) } }
                        }
                    }
                }
            }
        }
        @for g in &titled {
            @let body = html! {
                @for f in g.fields.iter().filter(|f| !set_by_server(&f.path, f.ty)) {
                    (field(plan, fund, f, fill))
                }
                @if !g.documents.is_empty() {
                    @if g.section.is_none() { h2 { "Pièces jointes" } }
                    (pieces_of(fund, &g.documents, have))
                }
            };
            @if let Some(s) = g.section {
                section.partie id={"partie-" (s.id)} aria-labelledby={"partie-" (s.id) "-titre"} {
                    h2 id={"partie-" (s.id) "-titre"} { (s.title) }
                    @if let Some(h) = &s.help { p.aide { (h) } }
                    (body)
                }
            } @else {
                (body)
            }
        }
    }
}

/// The control of one field, its label, help and error.
fn field(plan: &Plan, fund: &Fund, f: &metroplan_engine::model::Field, fill: &Fill<'_>) -> Markup {
    let name = control_name(&f.path);
    let id = control_id(&f.path);
    let req = requirement_fr(fund, &f.requirement);
    let required = matches!(f.requirement, Requirement::Always);
    let values = shown(f, fill);
    let one = values.first().cloned().unwrap_or_default();
    let error = fill
        .errors
        .iter()
        .find(|(p, _)| *p == f.path)
        .map(|(_, m)| m.as_str());
    let help_id = format!("{id}-aide");
    let err_id = format!("{id}-erreur");
    let described = {
        let mut d = Vec::new();
        if req.is_some() || f.help.is_some() {
            d.push(help_id.clone());
        }
        if error.is_some() {
            d.push(err_id.clone());
        }
        (!d.is_empty()).then(|| d.join(" "))
    };
    let described = described.as_deref();
    let invalid = error.map(|_| "true");
    let (when, when_values) = visible_when(fund, &f.requirement).unzip();
    let options = || {
        f.choices
            .as_ref()
            .and_then(|s| fund.form.choices.iter().find(|c| c.id == *s))
            .map(|c| c.options.as_slice())
            .unwrap_or_default()
    };
    if fill.fixed.contains(&f.path.as_str()) && !one.is_empty() {
        let text = if f.ty == FieldType::Siret {
            siret_text(&one)
        } else {
            one.clone()
        };
        return html! {
            div.champ.fixe id=(id) {
                p { span.libelle { (f.label) " : " } strong { (text) } }
                input type="hidden" name=(name) value=(one);
            }
        };
    }
    html! {
        @match f.ty {
            FieldType::Boolean | FieldType::Choices | FieldType::Communes => {
                fieldset.champ.groupe id=(id) aria-describedby=[described] data-visible-when=[when.as_deref()] data-visible-values=[when_values.as_deref()] {
                    legend { (f.label) }
                    (help(&help_id, req.as_deref(), f.help.as_deref()))
                    (field_error(&err_id, error))
                    @match f.ty {
                        FieldType::Boolean => {
                            div.options.en-ligne {
                                label { input type="radio" name=(name) value="oui" checked[one == "oui"] required[required]; " Oui" }
                                label { input type="radio" name=(name) value="non" checked[one == "non"]; " Non" }
                            }
                        }
                        FieldType::Communes => { (communes_picker(plan, &id, &name, &values)) }
                        _ => {
                            div.options {
                                @for o in options() {
                                    label { input type="checkbox" name=(name) value=(o.id) checked[values.iter().any(|c| c == o.id.as_str())]; " " (o.label) }
                                }
                            }
                        }
                    }
                }
            }
            _ => {
                div.champ data-visible-when=[when.as_deref()] data-visible-values=[when_values.as_deref()] {
                    label for=(id) { (f.label) }
                    (help(&help_id, req.as_deref(), f.help.as_deref()))
                    (field_error(&err_id, error))
                    @match f.ty {
                        FieldType::LongText => {
                            textarea id=(id) name=(name) rows="6" required[required] aria-describedby=[described] aria-invalid=[invalid] { (one) }
                        }
                        FieldType::Choice => {
                            select id=(id) name=(name) required[required] aria-describedby=[described] aria-invalid=[invalid] {
                                option value="" { "Choisir…" }
                                @for o in options() {
                                    option value=(o.id) selected[one == o.id.as_str()] { (o.label) }
                                }
                            }
                        }
                        FieldType::Commune => {
                            select id=(id) name=(name) required[required] aria-describedby=[described] aria-invalid=[invalid] {
                                option value="" { "Choisir une commune…" }
                                @for (council, list) in communes_by_council(plan) {
                                    optgroup label=(council) {
                                        @for (code, n) in list {
                                            option value=(code) selected[one == code] { (n) }
                                        }
                                    }
                                }
                            }
                        }
                        _ => {
                            @let (ty, mode) = match f.ty {
                                FieldType::Integer | FieldType::Year => ("text", Some("numeric")),
                                // No `pattern`: the browser would refuse "12 000" with a bubble
                                // of its own; the server reads it and says what is wrong.
                                FieldType::Money => ("text", Some("decimal")),
                                FieldType::Date => ("date", None),
                                FieldType::Siret => ("text", Some("numeric")),
                                _ => ("text", None),
                            };
                            input id=(id) name=(name) type=(ty) inputmode=[mode] value=(one) required[required] aria-describedby=[described] aria-invalid=[invalid];
                        }
                    }
                }
            }
        }
    }
}

/// `81234567800019` as it is printed: `812 345 678 00019`.
pub fn siret_text(s: &str) -> String {
    if s.len() == 14 && s.bytes().all(|b| b.is_ascii_digit()) {
        format!("{} {} {} {}", &s[..3], &s[3..6], &s[6..9], &s[9..])
    } else {
        s.to_string()
    }
}

/// Communes chosen by name: one box per commune, grouped by conseil de territoire (each group
/// folds), and a search by name that `form.js` shows and runs. The value sent is the code.
fn communes_picker(plan: &Plan, id: &str, name: &str, chosen: &[String]) -> Markup {
    let groups = communes_by_council(plan);
    let search = format!("{id}-recherche");
    html! {
        div.recherche-communes hidden data-communes-search {
            label for=(search) { "Rechercher une commune par son nom" }
            input id=(search) type="search" autocomplete="off" aria-describedby={(search) "-compte"};
            p.aide id={(search) "-compte"} aria-live="polite" {}
        }
        p.aide data-communes-chosen {
            @let names: Vec<&str> = groups.iter().flat_map(|(_, l)| l.iter()).filter(|(c, _)| chosen.iter().any(|x| x == c)).map(|(_, n)| *n).collect();
            @if names.is_empty() { "Aucune commune choisie." } @else { "Communes choisies : " (metroplan_engine::french::list_fr(&names)) "." }
        }
        @for (i, (council, list)) in groups.iter().enumerate() {
            @let n = list.iter().filter(|(c, _)| chosen.iter().any(|x| x == c)).count();
            details.conseil open[n > 0] data-communes-group {
                summary {
                    (council) " "
                    span.compte { "(" (super::layout::count_fr(list.len(), "commune", "communes")) @if n > 0 { ", " (super::layout::count_fr(n, "choisie", "choisies")) } ")" }
                }
                fieldset.communes-conseil {
                    legend.visually-hidden { (council) }
                    div.options.colonnes {
                        @for (code, commune) in list {
                            label data-commune-name=(commune) {
                                input type="checkbox" name=(name) value=(code) checked[chosen.iter().any(|c| c == code)] data-group=(i);
                                " " (commune)
                            }
                        }
                    }
                }
            }
        }
    }
}

fn help(id: &str, req: Option<&str>, help: Option<&str>) -> Markup {
    html! {
        @if req.is_some() || help.is_some() {
            p.aide id=(id) {
                @if let Some(h) = help { (h) " " }
                @if let Some(r) = req { "(" (r) ")" }
            }
        }
    }
}

fn field_error(id: &str, error: Option<&str>) -> Markup {
    html! { @if let Some(e) = error { p.erreur-champ id=(id) { (e) } } }
}

/// File inputs for the fund's pieces.
pub fn pieces(fund: &Fund, have: &[String]) -> Markup {
    let have: Vec<(String, Option<String>)> = have.iter().map(|k| (k.clone(), None)).collect();
    let all: Vec<&DocumentSpec> = fund.form.documents.iter().collect();
    pieces_of(fund, &all, &have)
}

/// File inputs for some pieces; `have`: those already kept (kind and file name).
fn pieces_of(fund: &Fund, docs: &[&DocumentSpec], have: &[(String, Option<String>)]) -> Markup {
    html! {
        @for d in docs {
            @let id = format!("piece-{}", d.id);
            @let kept = have.iter().find(|(k, _)| k == d.id.as_str());
            @let (when, when_values) = visible_when(fund, &d.requirement).unzip();
            div.champ data-visible-when=[when.as_deref()] data-visible-values=[when_values.as_deref()] {
                label for=(id) { (d.label) }
                p.aide id={(id) "-aide"} {
                    "PDF, PNG, JPEG ou WebP. "
                    @if let Some(r) = requirement_fr(fund, &d.requirement) { "(" (r) ")" }
                }
                @if let Some((_, name)) = kept {
                    p.deja-fourni id={(id) "-fourni"} {
                        @match name {
                            Some(n) => { "Déjà fourni : " strong { (n) } ". Un nouveau fichier le remplace." }
                            None => { "Déjà fournie : un nouveau fichier la remplace." }
                        }
                    }
                }
                @let described = if kept.is_some() { format!("{id}-aide {id}-fourni") } else { format!("{id}-aide") };
                input id=(id) name=(piece_name(d.id.as_str())) type="file" accept="application/pdf,image/png,image/jpeg,image/webp" aria-describedby=(described);
            }
        }
    }
}

/// The summary of a refused submission: how many errors, each a link to its field; the page
/// moves the focus to it (`autofocus`, and `form.js`).
pub fn error_summary(fund: &Fund, errors: &[(String, String)], note: Option<&str>) -> Markup {
    html! {
        div.resume-erreurs id="resume-erreurs" role="alert" tabindex="-1" autofocus data-focus-first {
            h2 { "Le formulaire contient " (super::layout::count_fr(errors.len(), "erreur", "erreurs")) }
            ul {
                @for (path, m) in errors {
                    @let target = match path.strip_prefix("piece.") {
                        Some(kind) => format!("#piece-{kind}"),
                        None => format!("#{}", control_id(path)),
                    };
                    li { a href=(target) { (super::applicant::label_of(fund, path)) " : " (m) } }
                }
            }
            @if let Some(n) = note { p { (n) } }
        }
    }
}

/// A page whose `<title>` starts with « Erreur : », as a refused form's page does.
pub fn error_titled(page: Markup) -> Markup {
    maud::PreEscaped(
        page.into_string()
            .replacen("<title>", "<title>Erreur\u{a0}: ", 1),
    )
}

/// The application's JSON from posted fields, or the errors by field path.
pub fn data_from(
    plan: &Plan,
    fund: &Fund,
    posted: &[(String, String)],
) -> Result<Value, Vec<(String, String)>> {
    let mut data = Map::new();
    let mut errors = Vec::new();
    for f in fund
        .form
        .fields
        .iter()
        .filter(|f| !set_by_server(&f.path, f.ty))
    {
        let name = control_name(&f.path);
        let values: Vec<&str> = posted
            .iter()
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
            .collect();
        let one = values.first().copied();
        let choice_ok = |v: &str| {
            f.choices
                .as_ref()
                .and_then(|s| fund.form.choices.iter().find(|c| c.id == *s))
                .is_some_and(|c| c.options.iter().any(|o| o.id.as_str() == v))
        };
        let mut bad = |m: &str| errors.push((f.path.clone(), m.to_string()));
        let value = match f.ty {
            FieldType::Choices | FieldType::Communes => {
                if values.is_empty() {
                    continue;
                }
                let known: Vec<&str> = if f.ty == FieldType::Communes {
                    communes(plan).into_iter().map(|(c, _)| c).collect()
                } else {
                    Vec::new()
                };
                if values.iter().any(|v| {
                    if f.ty == FieldType::Communes {
                        !known.contains(v)
                    } else {
                        !choice_ok(v)
                    }
                }) {
                    bad("Choisissez parmi les propositions de la liste.");
                    continue;
                }
                json!(values)
            }
            _ => {
                let Some(v) = one else { continue };
                match f.ty {
                    FieldType::Boolean => match v {
                        "oui" => json!(true),
                        "non" => json!(false),
                        _ => {
                            bad("Répondez par oui ou par non.");
                            continue;
                        }
                    },
                    FieldType::Integer => match v.parse::<i64>() {
                        Ok(n) => json!(n),
                        Err(_) => {
                            bad("Indiquez un nombre entier.");
                            continue;
                        }
                    },
                    // What people type: "12 000", "9 000,50", "12 000 €" (one reading, in
                    // engine::french).
                    FieldType::Money => match metroplan_engine::french::parse_amount_fr(v) {
                        Some(d) if d >= rust_decimal::Decimal::ZERO && d.scale() <= 2 => {
                            json!(d.to_string())
                        }
                        _ => {
                            bad("Indiquez un montant en euros, par exemple 12 000 ou 9 000,50.");
                            continue;
                        }
                    },
                    FieldType::Date => match v.parse::<jiff::civil::Date>() {
                        Ok(d) => json!(d.to_string()),
                        Err(_) => {
                            bad("Indiquez une date (AAAA-MM-JJ).");
                            continue;
                        }
                    },
                    FieldType::Siret => match metroplan_engine::french::normalize_siret(v) {
                        Some(digits) => json!(digits),
                        None => {
                            bad("Le SIRET compte exactement 14 chiffres.");
                            continue;
                        }
                    },
                    FieldType::Commune => {
                        if communes(plan).iter().any(|(c, _)| *c == v) {
                            json!(v)
                        } else {
                            bad("Choisissez une commune de la liste.");
                            continue;
                        }
                    }
                    FieldType::Choice => {
                        if choice_ok(v) {
                            json!(v)
                        } else {
                            bad("Choisissez parmi les propositions de la liste.");
                            continue;
                        }
                    }
                    _ => json!(v),
                }
            }
        };
        set(&mut data, &f.path, value);
    }
    if errors.is_empty() {
        Ok(Value::Object(data))
    } else {
        Err(errors)
    }
}

/// The application's fields as label and shown value, in the form's order.
pub fn summary(plan: &Plan, fund: &Fund, data: &Value) -> Vec<(String, String)> {
    let names: Vec<(&str, &str)> = communes(plan);
    fund.form
        .fields
        .iter()
        .filter_map(|f| {
            let v = lookup(data, &f.path)?;
            let shown = match (f.ty, v) {
                (FieldType::Boolean, Value::Bool(b)) => if *b { "oui" } else { "non" }.to_string(),
                (FieldType::Choice, Value::String(s)) => choice_label(fund, f.choices.as_ref(), s),
                (FieldType::Choices, Value::Array(a)) => a
                    .iter()
                    .filter_map(Value::as_str)
                    .map(|s| choice_label(fund, f.choices.as_ref(), s))
                    .collect::<Vec<_>>()
                    .join(", "),
                (FieldType::Communes, Value::Array(a)) => a
                    .iter()
                    .filter_map(Value::as_str)
                    .map(|c| {
                        names
                            .iter()
                            .find(|(code, _)| *code == c)
                            .map_or_else(|| c.to_string(), |(_, n)| format!("{n} ({c})"))
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                (FieldType::Commune, Value::String(c)) => names
                    .iter()
                    .find(|(code, _)| code == c)
                    .map_or_else(|| c.clone(), |(_, n)| n.to_string()),
                (FieldType::Documents, _) => return None,
                (FieldType::Money, v) => super::layout::euros_str(&text_of(Some(v))),
                (FieldType::Date, Value::String(s)) => s
                    .parse::<jiff::civil::Date>()
                    .map_or_else(|_| s.clone(), metroplan_engine::french::date_fr),
                (_, Value::Array(a)) => a
                    .iter()
                    .map(|x| text_of(Some(x)))
                    .collect::<Vec<_>>()
                    .join(", "),
                (_, v) if siret_path(fund) == Some(f.path.as_str()) => {
                    siret_text(&text_of(Some(v)))
                }
                (_, v) => text_of(Some(v)),
            };
            // The value says its unit: "Montant demandé au fonds : 8 000 €".
            let label = f.label.strip_suffix(" (€)").unwrap_or(&f.label);
            Some((label.to_string(), shown))
        })
        .collect()
}
