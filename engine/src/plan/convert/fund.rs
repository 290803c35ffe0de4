//! Funds: their action, workflow and rules script, envelopes, calls, parameters, and the
//! form fields the workflow reads (`[fund.keys]`).

use std::collections::HashMap;

use jiff::civil::Date;
use rust_decimal::Decimal;

use super::budget::year_budget;
use super::form::{form, grid};
use super::registry::{Cx, Registries, Registry, sp_loc};
use crate::diagnostic::{Code, Diagnostic, Loc};
use crate::model::*;
use crate::plan::files::{PlanSource, confine};
use crate::plan::parse::Item;
use crate::plan::raw::*;
use crate::source::FileId;

/// The plan's funds, in file order (those with errors left out).
pub(super) fn funds(
    cx: &mut Cx<'_>,
    items: &[Item<RawFund>],
    ids: Vec<Option<Id>>,
    r: &Registries,
    source: &dyn PlanSource,
    budget: &Budget,
    period: (Date, Date),
) -> Vec<Fund> {
    items
        .iter()
        .zip(ids)
        .filter_map(|(it, id)| fund(cx, it, id?, r, source, budget, period))
        .collect()
}

fn fund(
    cx: &mut Cx<'_>,
    it: &Item<RawFund>,
    id: Id,
    r: &Registries,
    source: &dyn PlanSource,
    budget: &Budget,
    (start, horizon): (Date, Date),
) -> Option<Fund> {
    let fd = &it.value;
    let f = it.file;
    let action = fd.action.as_ref().and_then(|a| cx.refer(&r.action, f, a));
    let workflow = cx.refer(&r.workflow, f, &fd.workflow);
    let rules = match confine(std::path::Path::new(""), fd.rules.get_ref()) {
        Ok(p) if p.starts_with("rules") && p.extension().is_some_and(|e| e == "rhai") => {
            if !source.exists(&p) {
                cx.push(
                    Diagnostic::at(
                        Code::RulesScriptMissing,
                        sp_loc(f, &fd.rules),
                        format!("rules script `{}` of fund `{id}` is not found", p.display()),
                    )
                    .with_label("no such file in the plan directory")
                    .with_help("create it, or correct the path (relative to the plan directory)"),
                );
            }
            Some(p)
        }
        Ok(_) => {
            cx.push(
                Diagnostic::at(
                    Code::InvalidValue,
                    sp_loc(f, &fd.rules),
                    format!(
                        "rules script `{}` must be a `.rhai` file under `rules/`",
                        fd.rules.get_ref()
                    ),
                )
                .with_suggestions(vec![format!("rules/{id}.rhai")]),
            );
            None
        }
        Err(msg) => {
            cx.push(
                Diagnostic::at(Code::Include, sp_loc(f, &fd.rules), msg)
                    .with_label("outside the plan directory"),
            );
            None
        }
    };
    let envelope = cx.dated(
        &fd.envelope,
        f,
        &format!("the envelope of fund `{id}`"),
        false,
    );
    for (e, raw) in envelope.iter().zip(&fd.envelope) {
        let y = e.from.year();
        if let Some(b) = year_budget(&budget.annual, y)
            && e.value > b
        {
            cx.push(
                Diagnostic::at(
                    Code::BudgetExceeded,
                    sp_loc(f, &raw.value),
                    format!(
                        "the envelope of fund `{id}` ({}) is above the plan's budget for {y} ({b})",
                        e.value
                    ),
                )
                .with_label("above the year's budget"),
            );
        }
    }
    // Calls.
    let mut calls = Vec::new();
    let mut years: HashMap<i16, Loc> = HashMap::new();
    for c in &fd.calls {
        let (Some(first), Some(last)) = (cx.year(f, &c.first_year), cx.year(f, &c.last_year))
        else {
            continue;
        };
        if last < first {
            cx.push(
                Diagnostic::at(
                    Code::InvertedRange,
                    sp_loc(f, &c.last_year),
                    format!("calls end in {last} before they start in {first}"),
                )
                .with_related(sp_loc(f, &c.first_year), "first year here"),
            );
        }
        if c.closes.get_ref() < c.opens.get_ref() {
            cx.push(
                Diagnostic::at(
                    Code::InvertedRange,
                    sp_loc(f, &c.closes),
                    format!(
                        "the call closes on {} before it opens on {}",
                        c.closes.get_ref(),
                        c.opens.get_ref()
                    ),
                )
                .with_related(sp_loc(f, &c.opens), "opens here"),
            );
        }
        for y in first..=last {
            let loc = sp_loc(f, &c.first_year);
            if let Some(prev) = years.get(&y) {
                cx.push(
                    Diagnostic::at(
                        Code::OverlappingPeriods,
                        loc.clone(),
                        format!("fund `{id}` has two calls in {y}"),
                    )
                    .with_related(prev.clone(), "the other call"),
                );
                break;
            }
            years.insert(y, loc);
            calls.push(CallWindow {
                year: y,
                opens: c.opens.get_ref().in_year(y),
                closes: c.closes.get_ref().in_year(y),
                reference: c.reference.clone(),
            });
            if y < start.year() || y > horizon.year() {
                cx.push(Diagnostic::at(
                    Code::OutsidePlanPeriod,
                    sp_loc(f, &c.last_year),
                    format!(
                        "a call in {y} is outside the plan's years ({} to {})",
                        start.year(),
                        horizon.year()
                    ),
                ));
                break;
            }
        }
    }
    calls.sort_by_key(|c| c.year);
    // Parameters.
    let mut preg = Registry::new("parameter");
    let mut parameters = Vec::new();
    for p in &fd.parameter {
        let Some(pid) = cx.declare(&mut preg, f, &p.id) else {
            continue;
        };
        let values = cx.dated(&p.value, f, &format!("parameter `{pid}`"), false);
        if values.is_empty() {
            cx.push(
                Diagnostic::at(
                    Code::MissingKey,
                    sp_loc(f, &p.id),
                    format!("parameter `{pid}` has no value"),
                )
                .with_help("add a `[[fund.parameter.value]]` with value, from and reference"),
            );
        }
        if p.unit == ParamUnit::Ratio {
            for (v, raw) in values.iter().zip(&p.value) {
                if v.value > Decimal::ONE {
                    cx.push(
                        Diagnostic::at(
                            Code::InvalidValue,
                            sp_loc(f, &raw.value),
                            format!("ratio {} is above 1", v.value),
                        )
                        .with_help("write 80 % as 0.8"),
                    );
                }
            }
        }
        parameters.push(Parameter {
            id: pid,
            label: p.label.clone(),
            unit: p.unit,
            values,
        });
    }
    let form = form(cx, f, &fd.form, r);
    let grid = fd
        .grid
        .as_ref()
        .and_then(|g| grid(cx, f, g, &preg, &parameters, form.as_ref()));
    let keys = form
        .as_ref()
        .and_then(|form| fund_keys(cx, f, &id, fd, form));
    let administration = administration(cx, f, &id, fd, keys.as_ref().is_some_and(Option::is_some));
    let templates_dir = match &fd.templates {
        None => Some(None),
        Some(dir) => match confine(std::path::Path::new(""), dir.get_ref()) {
            Ok(p) => Some(Some(p)),
            Err(e) => {
                cx.push(Diagnostic::at(Code::Include, sp_loc(f, dir), e).with_help(
                    "give a directory inside the plan directory, e.g. \"courriers/mon-fonds\"",
                ));
                None
            }
        },
    };
    let (workflow, rules, form, keys) = (workflow?, rules?, form?, keys?);
    Some(Fund {
        keys,
        administration: administration?,
        templates_dir: templates_dir?,
        templates: Default::default(),
        id,
        title: fd.title.clone(),
        purpose: fd.purpose.clone(),
        action,
        workflow,
        rules,
        envelope,
        calls,
        parameters,
        form,
        grid,
        ruleset: None,
    })
}

/// `[fund.administration]`, checked: a SIRET of 14 digits, an email address. `Some(None)`
/// when it is absent (a warning if the fund takes applications); `None` when it is wrong.
fn administration(
    cx: &mut Cx<'_>,
    f: FileId,
    id: &Id,
    fd: &RawFund,
    takes_applications: bool,
) -> Option<Option<Administration>> {
    let Some(a) = &fd.administration else {
        if takes_applications {
            cx.push(
                Diagnostic::at(
                    Code::NoAdministration,
                    sp_loc(f, &fd.id),
                    format!("fund `{id}` takes applications but declares no [fund.administration]"),
                )
                .with_label("receipts and letters will not name the service, its contacts or the court")
                .with_help("add [fund.administration] with authority, siret, service, address, email, phone, place, signatory and court"),
            );
        }
        return Some(None);
    };
    let mut ok = true;
    let siret = a.siret.get_ref();
    if siret.len() != 14 || !siret.bytes().all(|b| b.is_ascii_digit()) {
        ok = false;
        cx.push(
            Diagnostic::at(
                Code::InvalidValue,
                sp_loc(f, &a.siret),
                format!("`{siret}` is not a SIRET number"),
            )
            .with_label("14 digits expected")
            .with_help("write the authority's SIRET as 14 digits, without spaces"),
        );
    }
    let email = a.email.get_ref();
    if !email
        .split_once('@')
        .is_some_and(|(u, d)| !u.is_empty() && d.contains('.'))
    {
        ok = false;
        cx.push(
            Diagnostic::at(
                Code::InvalidValue,
                sp_loc(f, &a.email),
                format!("`{email}` is not an email address"),
            )
            .with_label("an address such as service@example.fr expected"),
        );
    }
    ok.then(|| {
        Some(Administration {
            authority: a.authority.clone(),
            siret: siret.clone(),
            service: a.service.clone(),
            address: a.address.clone(),
            email: email.clone(),
            phone: a.phone.clone(),
            place: a.place.clone(),
            signatory: a.signatory.clone(),
            court: a.court.clone(),
            website: a.website.clone(),
        })
    })
}

/// The fields the workflow reads, with their defaults, each a form field of the right type.
///
/// `Some(None)`: a fund with no `[fund.keys]` whose form has none of the default fields is a
/// rules-only fund (no workflow can file to it); `None`: errors were reported.
fn fund_keys(
    cx: &mut Cx<'_>,
    f: FileId,
    id: &Id,
    fd: &RawFund,
    form: &Form,
) -> Option<Option<FundKeys>> {
    let k = fd.keys.as_ref();
    let has = |path: &str, want: &[FieldType]| {
        form.fields
            .iter()
            .any(|x| x.path == path && want.contains(&x.ty))
    };
    if k.is_none()
        && !has("call", &[FieldType::Integer, FieldType::Year])
        && !has("applicant.siret", &[FieldType::Text, FieldType::Siret])
        && !has("project.requested_amount", &[FieldType::Money])
    {
        return Some(None);
    }
    let mut ok = true;
    let mut one = |key: &str, given: Option<&Sp<String>>, default: &str, want: &[FieldType]| {
        let path = given.map_or(default, |s| s.get_ref().as_str()).to_string();
        if !has(&path, want) {
            ok = false;
            let what = want
                .iter()
                .map(|t| format!("{t:?}").to_lowercase())
                .collect::<Vec<_>>()
                .join(" or ");
            let loc = given.map_or_else(|| sp_loc(f, &fd.id), |s| sp_loc(f, s));
            cx.push(
                Diagnostic::at(
                    Code::InvalidValue,
                    loc,
                    format!("fund `{id}`: `keys.{key}` is `{path}`, which is not a {what} field of the form"),
                )
                .with_label("the server reads this field of every application")
                .with_help(format!("add a {what} field `{path}` to the form, or set `keys.{key}` under [fund.keys] to the field that holds it")),
            );
        }
        path
    };
    let call = one(
        "call",
        k.and_then(|k| k.call.as_ref()),
        "call",
        &[FieldType::Integer, FieldType::Year],
    );
    let applicant = one(
        "applicant",
        k.and_then(|k| k.applicant.as_ref()),
        "applicant.siret",
        &[FieldType::Text, FieldType::Siret],
    );
    let applicant_name = one(
        "applicant_name",
        k.and_then(|k| k.applicant_name.as_ref()),
        "applicant.name",
        &[FieldType::Text, FieldType::LongText],
    );
    let title = one(
        "title",
        k.and_then(|k| k.title.as_ref()),
        "project.title",
        &[FieldType::Text, FieldType::LongText],
    );
    let requested_amount = one(
        "requested_amount",
        k.and_then(|k| k.requested_amount.as_ref()),
        "project.requested_amount",
        &[FieldType::Money],
    );
    // Optional: checked when given, else the conventional field when the form has it.
    let total_cost = match k.and_then(|k| k.total_cost.as_ref()) {
        Some(given) => Some(one(
            "total_cost",
            Some(given),
            "project.total_cost",
            &[FieldType::Money],
        )),
        None => has("project.total_cost", &[FieldType::Money]).then(|| "project.total_cost".into()),
    };
    ok.then_some(Some(FundKeys {
        call,
        applicant,
        applicant_name,
        title,
        requested_amount,
        total_cost,
    }))
}
