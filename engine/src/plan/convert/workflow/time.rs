//! Time in a workflow: timers on transitions, reminders, and the check that every fund
//! whose workflow names a parameter or a date field has it, of the right unit or type.

use super::Names;
use crate::diagnostic::{Code, Diagnostic};
use crate::model::*;
use crate::plan::convert::registry::{Cx, Registries, sp_loc};
use crate::plan::literal::Span;
use crate::plan::parse::Item;
use crate::plan::raw::*;
use crate::source::FileId;

fn wait(cx: &mut Cx<'_>, f: FileId, sp: &Sp<String>) -> Option<Wait> {
    let text = sp.get_ref();
    if text.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+') {
        return match Span::parse(text) {
            Ok(s) if s.amount >= 0 => Some(Wait::Span(s)),
            Ok(_) => {
                cx.push(Diagnostic::at(
                    Code::InvalidValue,
                    sp_loc(f, sp),
                    format!("`{text}`: a wait is not negative"),
                ));
                None
            }
            Err(e) => {
                cx.push(Diagnostic::at(Code::InvalidValue, sp_loc(f, sp), e));
                None
            }
        };
    }
    cx.id(f, sp).map(Wait::Parameter)
}

fn date_of(sp: &Sp<String>) -> DateOf {
    match sp.get_ref().as_str() {
        "deadline" => DateOf::Deadline,
        "call-closes" => DateOf::CallCloses,
        field => DateOf::Field(field.to_string()),
    }
}

struct RawWhen<'a> {
    at: &'a Option<Sp<String>>,
    plus: &'a Option<Sp<String>>,
    after: &'a Option<Sp<String>>,
    since: &'a Option<Sp<String>>,
}

fn when(
    cx: &mut Cx<'_>,
    f: FileId,
    w: RawWhen<'_>,
    anchor: &Sp<String>,
    names: &Names,
) -> Option<When> {
    match (w.at, w.after) {
        (Some(at), None) => {
            if let Some(s) = w.since {
                cx.push(Diagnostic::at(
                    Code::WorkflowDeclaration,
                    sp_loc(f, s),
                    "`since` goes with `after`, not with `at`",
                ));
                return None;
            }
            let plus = match w.plus {
                Some(p) => Some(wait(cx, f, p)?),
                None => None,
            };
            Some(When::At {
                date: date_of(at),
                plus,
            })
        }
        (None, Some(after)) => {
            if let Some(p) = w.plus {
                cx.push(Diagnostic::at(
                    Code::WorkflowDeclaration,
                    sp_loc(f, p),
                    "`plus` goes with `at`, not with `after`",
                ));
                return None;
            }
            let since = match w.since {
                Some(s) => Some(cx.refer(&names.states, f, s)?),
                None => None,
            };
            Some(When::After {
                wait: wait(cx, f, after)?,
                since,
            })
        }
        (Some(_), Some(after)) => {
            cx.push(
                Diagnostic::at(
                    Code::WorkflowDeclaration,
                    sp_loc(f, after),
                    "a timer fires `at` a date or `after` a wait, not both",
                )
                .with_help("keep one of them"),
            );
            None
        }
        (None, None) => {
            cx.push(
                Diagnostic::at(
                    Code::WorkflowDeclaration,
                    sp_loc(f, anchor),
                    "a timer needs `at` (a date) or `after` (a wait)",
                )
                .with_help("e.g. `at = \"deadline\"`, or `after = \"2mo\"`"),
            );
            None
        }
    }
}

/// A transition's timer; `at = "deadline"` needs a deadline on every state it leaves.
pub(super) fn timer(
    cx: &mut Cx<'_>,
    f: FileId,
    t: &RawTransition,
    raw: &RawTimer,
    w: &RawWorkflow,
    names: &Names,
) -> Option<Timer> {
    let w_ = RawWhen {
        at: &raw.at,
        plus: &raw.plus,
        after: &raw.after,
        since: &raw.since,
    };
    let when = when(cx, f, w_, &t.id, names)?;
    if matches!(
        when,
        When::At {
            date: DateOf::Deadline,
            ..
        }
    ) {
        for s in &t.from {
            let has = w
                .state
                .iter()
                .any(|st| st.id.get_ref() == s.get_ref() && st.deadline.is_some());
            if !has {
                cx.push(
                    Diagnostic::at(
                        Code::WorkflowDeclaration,
                        sp_loc(f, s),
                        format!(
                            "transition `{}` fires at the deadline of `{}`, which has none",
                            t.id.get_ref(),
                            s.get_ref()
                        ),
                    )
                    .with_help("give the state a `deadline`, or the timer another date"),
                );
                return None;
            }
        }
    }
    if raw.reason.trim().is_empty() {
        cx.push(
            Diagnostic::at(
                Code::WorkflowDeclaration,
                sp_loc(f, &t.id),
                format!(
                    "the timer of transition `{}` gives no reason",
                    t.id.get_ref()
                ),
            )
            .with_help("the reason is recorded and told to the applicant: write it in French"),
        );
        return None;
    }
    Some(Timer {
        when,
        reason: raw.reason.clone(),
    })
}

pub(super) fn reminders(
    cx: &mut Cx<'_>,
    f: FileId,
    w: &RawWorkflow,
    names: &Names,
    r: &Registries,
) -> Option<Vec<Reminder>> {
    let mut ids = crate::plan::convert::registry::Registry::new("reminder");
    let mut out = Vec::new();
    let mut ok = true;
    for rm in &w.reminder {
        let id = cx.declare(&mut ids, f, &rm.id);
        let states = cx.refer_all(&names.states, f, &rm.states);
        let wh = when(
            cx,
            f,
            RawWhen {
                at: &rm.at,
                plus: &rm.plus,
                after: &rm.after,
                since: &rm.since,
            },
            &rm.id,
            names,
        );
        let before = match &rm.before {
            Some(b) => wait(cx, f, b).map(Some),
            None => Some(None),
        };
        let to = match rm.to.get_ref().as_str() {
            "applicant" => {
                if let Some(a) = &rm.awaiting {
                    cx.push(Diagnostic::at(Code::WorkflowDeclaration, sp_loc(f, a), "`awaiting` goes with a role in `to`: the applicant is reminded of the deadline"));
                    None
                } else {
                    Some(Recipient::Applicant)
                }
            }
            _ => cx.refer(&r.role, f, &rm.to).and_then(|role| {
                let awaiting = match &rm.awaiting {
                    Some(a) => Some(cx.refer(&names.transitions, f, a)?),
                    None => None,
                };
                Some(Recipient::Role { role, awaiting })
            }),
        };
        if rm.text.trim().is_empty() {
            cx.push(Diagnostic::at(
                Code::WorkflowDeclaration,
                sp_loc(f, &rm.id),
                "a reminder without a text",
            ));
            ok = false;
        }
        match (id, wh, before, to) {
            (Some(id), Some(when), Some(before), Some(to)) if states.len() == rm.states.len() => {
                out.push(Reminder {
                    id,
                    states,
                    when,
                    before,
                    to,
                    text: rm.text.clone(),
                })
            }
            _ => ok = false,
        }
    }
    ok.then_some(out)
}

/// Where a workflow names a parameter, with the units it may have.
fn named_parameters(w: &RawWorkflow) -> Vec<(&Sp<String>, &'static [ParamUnit], String)> {
    const WAIT: &[ParamUnit] = &[ParamUnit::Days, ParamUnit::Months];
    let mut out: Vec<(&Sp<String>, &'static [ParamUnit], String)> = Vec::new();
    let is_param = |sp: &Sp<String>| {
        !sp.get_ref()
            .starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+')
    };
    for t in &w.transition {
        let what = |k: &str| format!("the {k} of transition `{}`", t.id.get_ref());
        if let Some(r) = &t.rate {
            out.push((r, &[ParamUnit::Ratio], what("advance rate")));
        }
        if let Some(v) = &t.vote {
            out.push((&v.quorum, &[ParamUnit::Count], what("vote's quorum")));
            if let Some(p) = &v.favourable {
                out.push((p, &[ParamUnit::Count], what("favourable opinions needed")));
            }
        }
        if let Some(tm) = &t.timer {
            for sp in [&tm.plus, &tm.after]
                .into_iter()
                .flatten()
                .filter(|s| is_param(s))
            {
                out.push((sp, WAIT, what("timer")));
            }
        }
    }
    for rm in &w.reminder {
        for sp in [&rm.plus, &rm.after, &rm.before]
            .into_iter()
            .flatten()
            .filter(|s| is_param(s))
        {
            out.push((sp, WAIT, format!("reminder `{}`", rm.id.get_ref())));
        }
    }
    out
}

/// Every fund has the parameters its workflow names, of the right unit, and the date fields
/// its timers read: refused by `check` at the workflow's line, rather than at the first
/// decision.
pub(crate) fn parameters(
    cx: &mut Cx<'_>,
    raw: &[Item<RawWorkflow>],
    funds: &[Fund],
    workflows: &[Workflow],
) {
    for fund in funds {
        let Some(wf) = workflows.iter().find(|w| w.id == fund.workflow) else {
            continue;
        };
        let Some(it) = raw
            .iter()
            .find(|it| it.value.id.get_ref() == wf.id.as_str())
        else {
            continue;
        };
        for (sp, units, what) in named_parameters(&it.value) {
            let found = fund
                .parameters
                .iter()
                .find(|p| p.id.as_str() == sp.get_ref());
            let wrong_unit = found.is_some();
            let message = match found {
                None => format!(
                    "{what} reads the parameter `{}`, which fund `{}` does not declare",
                    sp.get_ref(),
                    fund.id
                ),
                Some(p) if !units.contains(&p.unit) => format!(
                    "{what} reads the parameter `{}` of fund `{}` as {}, but its unit is {}",
                    sp.get_ref(),
                    fund.id,
                    units
                        .iter()
                        .map(|u| format!("`{}`", u.name()))
                        .collect::<Vec<_>>()
                        .join(" or "),
                    format_args!("`{}`", p.unit.name())
                ),
                Some(_) => continue,
            };
            let help = if wrong_unit {
                format!(
                    "name a parameter of fund `{}` whose unit is `{}`, or declare one",
                    fund.id,
                    units[0].name()
                )
            } else {
                format!(
                    "declare it in fund `{}`: [[fund.parameter]] id = \"{}\" unit = \"{}\" with its dated values",
                    fund.id,
                    sp.get_ref(),
                    units[0].name()
                )
            };
            cx.push(
                Diagnostic::at(Code::MissingGuardParameter, sp_loc(it.file, sp), message)
                    .with_label("a parameter of the fund")
                    .with_help(help),
            );
        }
        for t in &it.value.transition {
            let Some(at) = t.timer.as_ref().and_then(|tm| tm.at.as_ref()) else {
                continue;
            };
            date_field(cx, it.file, at, fund);
        }
        for rm in &it.value.reminder {
            if let Some(at) = &rm.at {
                date_field(cx, it.file, at, fund);
            }
        }
    }
}

fn date_field(cx: &mut Cx<'_>, f: FileId, at: &Sp<String>, fund: &Fund) {
    let DateOf::Field(path) = date_of(at) else {
        return;
    };
    let is_date = fund
        .form
        .fields
        .iter()
        .any(|fl| fl.path == path && fl.ty == FieldType::Date);
    if !is_date {
        cx.push(
            Diagnostic::at(
                Code::WorkflowDeclaration,
                sp_loc(f, at),
                format!("`{path}` is not `deadline`, `call-closes` or a date field of the form of fund `{}`", fund.id),
            )
            .with_help("name a field of `type = \"date\"` by its dotted path, e.g. \"project.ends_on\""),
        );
    }
}
