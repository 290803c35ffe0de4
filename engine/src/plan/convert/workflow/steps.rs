//! What a transition declares beyond its states and role: guards, Rhai conditions, effects on
//! money, what it records, its vote and the transitions it must be separated from.

use super::Names;
use super::time;
use crate::diagnostic::{Code, Diagnostic};
use crate::model::*;
use crate::plan::convert::registry::{Cx, sp_loc};
use crate::plan::raw::*;
use crate::source::FileId;
use crate::suggest::closest;
use crate::workflow::{Guard, conditions};

pub(super) struct Declared {
    pub(super) guards: Vec<Guard>,
    pub(super) conditions: Vec<Condition>,
    pub(super) effects: Vec<MoneyEffect>,
    pub(super) records: Option<Record>,
    pub(super) vote: Option<Vote>,
    pub(super) distinct_from: Vec<Id>,
    pub(super) timer: Option<Timer>,
}

pub(super) fn declarations(
    cx: &mut Cx<'_>,
    f: FileId,
    t: &RawTransition,
    w: &RawWorkflow,
    names: &Names,
) -> Option<Declared> {
    let mut ok = true;
    let mut guards = Vec::new();
    for g in &t.guards {
        if let Some(guard) = Guard::parse(g.get_ref()) {
            guards.push(guard);
            continue;
        }
        ok = false;
        let d = Diagnostic::at(
            Code::UnknownReference,
            sp_loc(f, g),
            format!("unknown guard `{}`", g.get_ref()),
        );
        cx.push(
            match crate::workflow::v1::REPLACED
                .iter()
                .find(|(n, _)| n == g.get_ref())
            {
                Some((_, instead)) => d
                    .with_label("a guard of the first workflow language")
                    .with_help(format!(
                        "{instead}; `metroplan migrate <plan-dir>` rewrites it"
                    )),
                None => d
                    .with_label("not a guard the engine knows")
                    .with_suggestions(closest(g.get_ref(), Guard::ALL.iter().map(|g| g.name())))
                    .with_help("the guards are listed in docs/workflow.md"),
            },
        );
    }
    let mut conds = Vec::new();
    for c in &t.conditions {
        match conditions::compile(c.rhai.get_ref()) {
            Ok(()) => conds.push(Condition {
                source: c.rhai.get_ref().clone(),
                refusal: c.refusal.clone(),
            }),
            Err(e) => {
                ok = false;
                cx.push(
                    Diagnostic::at(
                        Code::WorkflowCondition,
                        sp_loc(f, &c.rhai),
                        format!(
                            "condition of transition `{}` does not compile: {e}",
                            t.id.get_ref()
                        ),
                    )
                    .with_label("a Rhai expression that gives true or false")
                    .with_help(format!(
                        "the facts a condition reads: {}",
                        conditions::FACTS
                            .iter()
                            .map(|(n, _)| *n)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                );
            }
        }
    }
    let effects = effects(cx, f, t, &mut ok);
    let records = t.records.as_ref().and_then(|r| {
        let parsed = Record::parse(r.get_ref());
        if parsed.is_none() {
            ok = false;
            cx.push(
                Diagnostic::at(
                    Code::InvalidValue,
                    sp_loc(f, r),
                    format!(
                        "a step records `opinion` or `final-report`, not `{}`",
                        r.get_ref()
                    ),
                )
                .with_suggestions(closest(r.get_ref(), Record::NAMES.iter().copied())),
            );
        }
        parsed
    });
    let vote = t.vote.as_ref().and_then(|v| vote(cx, f, v, &mut ok));
    let mut distinct_from = Vec::new();
    for d in &t.distinct_from {
        match cx.refer(&names.transitions, f, d) {
            Some(id) if id.as_str() == t.id.get_ref() => {}
            Some(id) => distinct_from.push(id),
            None => ok = false,
        }
    }
    let is_system = t.role.get_ref() == crate::workflow::SYSTEM_ROLE;
    if !is_system && t.timer.is_some() {
        ok = false;
        cx.push(
            Diagnostic::at(
                Code::WorkflowDeclaration,
                sp_loc(f, &t.role),
                format!(
                    "transition `{}` has a timer but the role `{}`: time moves files by itself",
                    t.id.get_ref(),
                    t.role.get_ref()
                ),
            )
            .with_label("a timed transition is taken by metroplan")
            .with_help("write `role = \"system\"`"),
        );
    }
    if is_system
        && (!effects
            .iter()
            .all(|e| matches!(e, MoneyEffect::Release | MoneyEffect::Reclaim))
            || t.data)
    {
        ok = false;
        cx.push(
            Diagnostic::at(
                Code::WorkflowDeclaration,
                sp_loc(f, &t.id),
                format!("automatic transition `{}` cannot award, reduce, pay or take data: a person does", t.id.get_ref()),
            )
            .with_help("an automatic or timed step may only `release` and `reclaim`"),
        );
    }
    let timer = match &t.timer {
        Some(raw) => match time::timer(cx, f, t, raw, w, names) {
            Some(timer) => Some(timer),
            None => {
                ok = false;
                None
            }
        },
        None => None,
    };
    ok.then_some(Declared {
        guards,
        conditions: conds,
        effects,
        records,
        vote,
        distinct_from,
        timer,
    })
}

fn effects(cx: &mut Cx<'_>, f: FileId, t: &RawTransition, ok: &mut bool) -> Vec<MoneyEffect> {
    let mut out: Vec<MoneyEffect> = Vec::new();
    for e in &t.effects {
        let effect = match e.get_ref().as_str() {
            "award" => MoneyEffect::Award,
            "reduce" => MoneyEffect::Reduce,
            "release" => MoneyEffect::Release,
            "balance" => MoneyEffect::Balance,
            "reclaim" => MoneyEffect::Reclaim,
            "advance" => match &t.rate {
                Some(rate) => match cx.id(f, rate) {
                    Some(rate) => MoneyEffect::Advance { rate },
                    None => {
                        *ok = false;
                        continue;
                    }
                },
                None => {
                    *ok = false;
                    cx.push(
                        Diagnostic::at(
                            Code::WorkflowDeclaration,
                            sp_loc(f, e),
                            format!("the advance of transition `{}` has no rate", t.id.get_ref()),
                        )
                        .with_label("an advance is paid at a declared rate")
                        .with_help(
                            "name the fund parameter: `rate = \"taux-avance\"` (unit `ratio`)",
                        ),
                    );
                    continue;
                }
            },
            other => {
                *ok = false;
                cx.push(
                    Diagnostic::at(
                        Code::InvalidValue,
                        sp_loc(f, e),
                        format!("unknown effect `{other}`"),
                    )
                    .with_label("not an effect the engine knows")
                    .with_suggestions(closest(other, MoneyEffect::NAMES.iter().copied()))
                    .with_help("the effects are listed in docs/workflow.md"),
                );
                continue;
            }
        };
        if out.iter().any(|o| o.name() == effect.name()) {
            *ok = false;
            cx.push(Diagnostic::at(
                Code::WorkflowDeclaration,
                sp_loc(f, e),
                format!(
                    "effect `{}` is declared twice on transition `{}`",
                    effect.name(),
                    t.id.get_ref()
                ),
            ));
            continue;
        }
        out.push(effect);
    }
    let pays = out
        .iter()
        .filter(|e| matches!(e, MoneyEffect::Advance { .. } | MoneyEffect::Balance))
        .count();
    let amounts = out
        .iter()
        .filter(|e| {
            matches!(
                e,
                MoneyEffect::Award
                    | MoneyEffect::Reduce
                    | MoneyEffect::Advance { .. }
                    | MoneyEffect::Balance
            )
        })
        .count();
    if pays > 1 || amounts > 1 {
        *ok = false;
        cx.push(
            Diagnostic::at(
                Code::WorkflowDeclaration,
                sp_loc(f, &t.id),
                format!("transition `{}` declares two effects that each take the step's amount", t.id.get_ref()),
            )
            .with_help("`award`, `reduce`, `advance` and `balance` each read the amount of the step: give each its own transition"),
        );
    }
    if let Some(rate) = &t.rate
        && !out.iter().any(|e| matches!(e, MoneyEffect::Advance { .. }))
    {
        *ok = false;
        cx.push(
            Diagnostic::at(
                Code::WorkflowDeclaration,
                sp_loc(f, rate),
                format!(
                    "transition `{}` has a rate but pays no advance",
                    t.id.get_ref()
                ),
            )
            .with_help("add `effects = [\"advance\"]`, or remove `rate`"),
        );
    }
    out
}

fn vote(cx: &mut Cx<'_>, f: FileId, v: &RawVote, ok: &mut bool) -> Option<Vote> {
    let quorum = cx.id(f, &v.quorum);
    let rule = match (v.rule.get_ref().as_str(), &v.favourable) {
        ("majority", None) => Some(VoteRule::Majority),
        ("favourable", Some(p)) => cx.id(f, p).map(VoteRule::Favourable),
        ("favourable", None) => {
            cx.push(
                Diagnostic::at(
                    Code::WorkflowDeclaration,
                    sp_loc(f, &v.rule),
                    "a vote decided by favourable opinions names the parameter that counts them",
                )
                .with_help("add `favourable = \"<parameter>\"` (unit `count`)"),
            );
            None
        }
        ("majority", Some(p)) => {
            cx.push(
                Diagnostic::at(
                    Code::WorkflowDeclaration,
                    sp_loc(f, p),
                    "a majority vote does not read a number of favourable opinions",
                )
                .with_help("write `rule = \"favourable\"`, or remove `favourable`"),
            );
            None
        }
        (other, _) => {
            cx.push(
                Diagnostic::at(
                    Code::InvalidValue,
                    sp_loc(f, &v.rule),
                    format!("a vote is decided by `majority` or `favourable`, not `{other}`"),
                )
                .with_suggestions(closest(other, ["majority", "favourable"])),
            );
            None
        }
    };
    match (quorum, rule) {
        (Some(quorum), Some(rule)) => Some(Vote { quorum, rule }),
        _ => {
            *ok = false;
            None
        }
    }
}
