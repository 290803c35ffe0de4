//! A fund's application form (sets of choices, fields, documents, conditional
//! requirements) and its selection grid.

use std::collections::HashMap;
use std::sync::Arc;

use jiff::civil::Date;
use rust_decimal::Decimal;

use super::registry::{Cx, Registries, Registry, sp_loc};
use crate::diagnostic::{Code, Diagnostic, Loc};
use crate::model::*;
use crate::plan::raw::*;
use crate::source::FileId;

pub(super) fn form(cx: &mut Cx<'_>, f: FileId, raw: &RawForm, r: &Registries) -> Option<Form> {
    let _ = r;
    let mut sets = Registry::new("set of choices");
    let mut choices = Vec::new();
    let mut options_of: HashMap<String, Registry> = HashMap::new();
    for c in &raw.choices {
        let Some(cid) = cx.declare(&mut sets, f, &c.id) else {
            continue;
        };
        let mut opts = Registry::new("choice");
        let options = c
            .option
            .iter()
            .filter_map(|o| {
                Some(Choice {
                    id: cx.declare(&mut opts, f, &o.id)?,
                    label: o.label.clone(),
                })
            })
            .collect();
        options_of.insert(cid.to_string(), opts);
        choices.push(ChoiceSet { id: cid, options });
    }
    let mut section_ids = Registry::new("form section");
    let mut sections = Vec::new();
    let mut declared_at = Vec::new();
    for s in &raw.section {
        let Some(id) = cx.declare(&mut section_ids, f, &s.id) else {
            continue;
        };
        declared_at.push(sp_loc(f, &s.id));
        sections.push(FormSection {
            id,
            title: s.title.clone(),
            help: s.help.clone(),
        });
    }
    let mut in_section: HashMap<String, usize> = HashMap::new();
    let mut section_of = |cx: &mut Cx<'_>, named: Option<&Sp<String>>| -> Option<Id> {
        let first = sections.first()?.id.clone();
        let Some(name) = named else {
            *in_section.entry(first.to_string()).or_default() += 1;
            return Some(first);
        };
        match section_ids.ids.get_key_value(name.get_ref().as_str()) {
            Some((shared, _)) => {
                *in_section.entry(shared.to_string()).or_default() += 1;
                Some(Id::from_shared(shared.clone()))
            }
            None => {
                cx.push(unknown_section(
                    &section_ids,
                    sp_loc(f, name),
                    name.get_ref(),
                ));
                *in_section.entry(first.to_string()).or_default() += 1;
                Some(first)
            }
        }
    };
    let mut paths = Registry::new("field");
    let mut fields = Vec::new();
    let field_types: HashMap<String, (FieldType, Option<String>)> = raw
        .field
        .iter()
        .map(|fl| {
            (
                fl.path.get_ref().clone(),
                (fl.ty, fl.choices.as_ref().map(|c| c.get_ref().clone())),
            )
        })
        .collect();
    let mut ok = true;
    for fl in &raw.field {
        let path = fl.path.get_ref();
        let valid = !path.is_empty() && path.split('.').all(|seg| Id::parse(seg).is_ok());
        if !valid {
            cx.push(
                Diagnostic::at(
                    Code::InvalidId,
                    sp_loc(f, &fl.path),
                    format!("`{path}` is not a field path"),
                )
                .with_help("write a dotted path of ids, e.g. \"project.requested_amount\""),
            );
            ok = false;
            continue;
        }
        if paths.contains(path) {
            let first = paths.ids[path.as_str()].clone();
            cx.push(
                Diagnostic::at(
                    Code::DuplicateId,
                    sp_loc(f, &fl.path),
                    format!("field `{path}` is declared twice"),
                )
                .with_related(first, "first declared here"),
            );
            ok = false;
            continue;
        }
        paths
            .ids
            .insert(Arc::from(path.as_str()), sp_loc(f, &fl.path));
        let needs_choices = matches!(fl.ty, FieldType::Choice | FieldType::Choices);
        let choices_ref = match (&fl.choices, needs_choices) {
            (Some(c), true) => cx.refer(&sets, f, c),
            (None, true) => {
                cx.push(
                    Diagnostic::at(
                        Code::MissingKey,
                        sp_loc(f, &fl.path),
                        format!("field `{path}` of type choice needs `choices`"),
                    )
                    .with_help("name a set declared in `[[fund.form.choices]]`"),
                );
                ok = false;
                None
            }
            (Some(c), false) => {
                cx.push(
                    Diagnostic::at(
                        Code::WrongKindOfReference,
                        sp_loc(f, c),
                        format!("field `{path}` is not a choice field and cannot have `choices`"),
                    )
                    .with_help("set `type = \"choice\"` or remove `choices`"),
                );
                None
            }
            (None, false) => None,
        };
        let requirement = requirement(
            cx,
            f,
            fl.required,
            fl.required_when.as_ref(),
            &field_types,
            &options_of,
            &paths,
        );
        let section = section_of(cx, fl.section.as_ref());
        fields.push(Field {
            path: path.clone(),
            ty: fl.ty,
            label: fl.label.clone(),
            help: fl.help.clone(),
            choices: choices_ref,
            requirement: requirement?,
            section,
        });
    }
    let mut docs = Registry::new("document");
    let mut documents = Vec::new();
    for d in &raw.document {
        let Some(did) = cx.declare(&mut docs, f, &d.id) else {
            continue;
        };
        let requirement = requirement(
            cx,
            f,
            d.required,
            d.required_when.as_ref(),
            &field_types,
            &options_of,
            &paths,
        );
        let section = section_of(cx, d.section.as_ref());
        documents.push(DocumentSpec {
            id: did,
            label: d.label.clone(),
            requirement: requirement?,
            reference: d.reference.clone(),
            section,
        });
    }
    for (s, at) in sections.iter().zip(declared_at) {
        if !in_section.contains_key(s.id.as_str()) {
            cx.push(
                Diagnostic::at(
                    Code::FormSection,
                    at,
                    format!("form section `{}` has no field and no document", s.id),
                )
                .with_label("nothing names this section")
                .with_help(format!(
                    "add `section = \"{}\"` to the fields or documents it groups, or remove the section",
                    s.id
                )),
            );
            ok = false;
        }
    }
    ok.then_some(Form {
        choices,
        fields,
        documents,
        sections,
    })
}

/// A field or document naming a section the form does not declare (E028).
fn unknown_section(sections: &Registry, loc: Loc, name: &str) -> Diagnostic {
    let d = Diagnostic::at(
        Code::FormSection,
        loc,
        format!("unknown form section `{name}`"),
    )
    .with_label("no `[[fund.form.section]]` has this id")
    .with_suggestions(crate::suggest::closest(name, sections.sorted()));
    if d.suggestions.is_empty() {
        d.with_help(format!(
            "the sections declared are: {}",
            sections.sorted().join(", ")
        ))
    } else {
        d
    }
}

fn requirement(
    cx: &mut Cx<'_>,
    f: FileId,
    required: bool,
    when: Option<&RawCondition>,
    field_types: &HashMap<String, (FieldType, Option<String>)>,
    options_of: &HashMap<String, Registry>,
    paths: &Registry,
) -> Option<Requirement> {
    let Some(w) = when else {
        return Some(if required {
            Requirement::Always
        } else {
            Requirement::Optional
        });
    };
    if required {
        cx.push(
            Diagnostic::at(
                Code::ConflictingTiming,
                sp_loc(f, &w.field),
                "`required = true` and `required_when` contradict each other",
            )
            .with_help("keep `required_when` for a conditional requirement"),
        );
        return None;
    }
    let name = w.field.get_ref();
    let Some((ty, set)) = field_types.get(name) else {
        let all = Registry {
            kind: "field",
            ids: paths.ids.clone(),
        };
        cx.unknown(&all, sp_loc(f, &w.field), name);
        return None;
    };
    let values: Vec<Id> = match ty {
        FieldType::Choice => {
            let opts = set.as_ref().and_then(|s| options_of.get(s))?;
            w.values
                .iter()
                .filter_map(|v| match v.get_ref() {
                    RawConditionValue::Choice(c) => {
                        cx.refer(opts, f, &Sp::new(v.span(), c.clone()))
                    }
                    RawConditionValue::YesNo(b) => {
                        cx.push(
                            Diagnostic::at(
                                Code::WrongKindOfReference,
                                sp_loc(f, v),
                                format!(
                                    "`{name}` is a choice field: `{b}` is not one of its choices"
                                ),
                            )
                            .with_help("list choice ids, e.g. in = [\"association\"]"),
                        );
                        None
                    }
                })
                .collect()
        }
        // A yes/no field: the condition holds for the answers listed, stored as `true` and
        // `false`.
        FieldType::Boolean => w
            .values
            .iter()
            .filter_map(|v| match v.get_ref() {
                RawConditionValue::YesNo(b) => Id::parse(if *b { "true" } else { "false" }).ok(),
                RawConditionValue::Choice(c) => {
                    cx.push(
                        Diagnostic::at(
                            Code::WrongKindOfReference,
                            sp_loc(f, v),
                            format!(
                                "`{name}` is a yes/no field: write `true` or `false`, not \"{c}\""
                            ),
                        )
                        .with_help("e.g. required_when = { field = \"project.qpv\", in = [true] }"),
                    );
                    None
                }
            })
            .collect(),
        _ => {
            cx.push(Diagnostic::at(
                Code::WrongKindOfReference,
                sp_loc(f, &w.field),
                format!(
                    "`required_when` needs a choice field or a yes/no field, and `{name}` is neither"
                ),
            ));
            return None;
        }
    };
    (values.len() == w.values.len()).then(|| Requirement::When {
        field: name.clone(),
        values,
    })
}

pub(super) fn grid(
    cx: &mut Cx<'_>,
    f: FileId,
    g: &RawGrid,
    preg: &Registry,
    params: &[Parameter],
    form: Option<&Form>,
) -> Option<Grid> {
    let total = cx.non_negative(f, &g.total, "the grid total");
    let mut ids = Registry::new("grid criterion");
    let mut criteria = Vec::new();
    for c in &g.criterion {
        let cid = cx.declare(&mut ids, f, &c.id);
        let points = cx.refer(preg, f, &c.points);
        if let Some(p) = points
            .as_ref()
            .and_then(|p| params.iter().find(|x| &x.id == p))
            && p.unit != ParamUnit::Points
        {
            cx.push(
                Diagnostic::at(
                    Code::WrongKindOfReference,
                    sp_loc(f, &c.points),
                    format!("parameter `{}` is in {:?}, not points", p.id, p.unit),
                )
                .with_help("give the parameter `unit = \"points\"`"),
            );
        }
        let field = match (c.assessed, &c.field) {
            (Assessment::Automatic, Some(fl)) => {
                if let Some(form) = form {
                    match form.fields.iter().find(|x| x.path == *fl.get_ref()) {
                        Some(x) if x.ty == FieldType::Boolean => {}
                        Some(_) => cx.push(Diagnostic::at(
                            Code::WrongKindOfReference,
                            sp_loc(f, fl),
                            format!("field `{}` is not a boolean", fl.get_ref()),
                        )),
                        None => {
                            let reg = Registry {
                                kind: "field",
                                ids: form
                                    .fields
                                    .iter()
                                    .map(|x| (Arc::from(x.path.as_str()), Loc::new(f, 0..0)))
                                    .collect(),
                            };
                            cx.unknown(&reg, sp_loc(f, fl), fl.get_ref());
                        }
                    }
                }
                Some(fl.get_ref().clone())
            }
            // Computed by the rules script from other data (e.g. the communes' flags).
            (Assessment::Automatic, None) => None,
            (Assessment::Reviewer, Some(fl)) => {
                cx.push(
                    Diagnostic::at(
                        Code::WrongKindOfReference,
                        sp_loc(f, fl),
                        "a criterion scored by reviewers reads no field",
                    )
                    .with_help("remove `field`, or set `assessed = \"automatic\"`"),
                );
                None
            }
            (Assessment::Reviewer, None) => None,
        };
        if let (Some(id), Some(points)) = (cid, points) {
            criteria.push(GridCriterion {
                id,
                label: c.label.clone(),
                points,
                assessed: c.assessed,
                field,
            });
        }
    }
    // The points must add up to the total on every day a points value changes.
    let used: Vec<&Parameter> = criteria
        .iter()
        .filter_map(|c| params.iter().find(|p| p.id == c.points))
        .collect();
    let mut days: Vec<Date> = used
        .iter()
        .flat_map(|p| p.values.iter().map(|v| v.from))
        .collect();
    days.sort();
    days.dedup();
    for day in days {
        let sum: Option<Decimal> = used.iter().map(|p| p.values.at(day).map(|v| v.value)).sum();
        if let Some(sum) = sum
            && sum != total
        {
            cx.push(
                Diagnostic::at(
                    Code::GridTotal,
                    sp_loc(f, &g.total),
                    format!("on {day} the grid's points add up to {sum}, not {total}"),
                )
                .with_label("declared total"),
            );
            break;
        }
    }
    Some(Grid {
        total,
        reference: g.reference.clone(),
        criteria,
    })
}
