//! Workflows: states, transitions, their roles and guards, what they declare (see `steps`
//! and `time`), reachability and loops of automatic transitions.

use std::collections::{HashSet, VecDeque};

use super::registry::{Cx, Registries, Registry, sp_loc};
use crate::diagnostic::{Code, Diagnostic};
use crate::model::*;
use crate::plan::parse::Item;
use crate::plan::raw::*;
use crate::source::FileId;

mod steps;
mod time;

pub(super) use time::parameters as workflow_parameters;

/// A step's piece and a form's piece of a fund on the workflow share the file's kinds: the
/// same id for both would let one overwrite the other.
pub(super) fn piece_kinds(cx: &mut Cx<'_>, raw: &[Item<RawWorkflow>], funds: &[Fund]) {
    for fund in funds {
        let Some(it) = raw
            .iter()
            .find(|it| it.value.id.get_ref() == fund.workflow.as_str())
        else {
            continue;
        };
        let form_kinds: HashSet<&str> = fund.form.documents.iter().map(|d| d.id.as_str()).collect();
        for p in it.value.transition.iter().flat_map(|t| &t.piece) {
            if form_kinds.contains(p.id.get_ref().as_str()) {
                cx.push(
                    Diagnostic::at(
                        Code::DuplicateId,
                        sp_loc(it.file, &p.id),
                        format!(
                            "piece `{}` of a step is also a piece of the form of fund `{}`",
                            p.id.get_ref(),
                            fund.id
                        ),
                    )
                    .with_label("the file keeps one piece of each kind")
                    .with_help("give the step's piece its own id"),
                );
            }
        }
    }
}

/// The plan's workflows, in file order (those with errors left out).
pub(super) fn workflows(
    cx: &mut Cx<'_>,
    items: &[Item<RawWorkflow>],
    ids: Vec<Option<Id>>,
    r: &Registries,
) -> Vec<Workflow> {
    items
        .iter()
        .zip(ids)
        .filter_map(|(it, id)| workflow(cx, it, id?, r))
        .collect()
}

/// Where a name is declared, for the parts of a workflow to refer to each other.
pub(super) struct Names {
    pub(super) states: Registry,
    pub(super) transitions: Registry,
}

fn states(cx: &mut Cx<'_>, w: &RawWorkflow, f: FileId) -> (Registry, Vec<State>) {
    let mut reg = Registry::new("state");
    let mut out = Vec::new();
    for s in &w.state {
        let Some(sid) = cx.declare(&mut reg, f, &s.id) else {
            continue;
        };
        let initial = s.id.get_ref() == w.initial.get_ref();
        let (mut data, mut pieces) = (
            s.accepts.is_none() && initial,
            s.accepts.is_none() && initial,
        );
        for a in s.accepts.iter().flatten() {
            match a.get_ref().as_str() {
                "data" => data = true,
                "pieces" => pieces = true,
                other => cx.push(
                    Diagnostic::at(
                        Code::InvalidValue,
                        sp_loc(f, a),
                        format!("a state accepts `data` or `pieces`, not `{other}`"),
                    )
                    .with_suggestions(crate::suggest::closest(other, ["data", "pieces"])),
                ),
            }
        }
        out.push(State {
            id: sid,
            label: s.label.clone(),
            terminal: s.terminal,
            deadline: s.deadline.as_ref().map(|d| *d.get_ref()),
            accepts_data: data,
            accepts_pieces: pieces,
        });
    }
    (reg, out)
}

fn workflow(cx: &mut Cx<'_>, it: &Item<RawWorkflow>, id: Id, r: &Registries) -> Option<Workflow> {
    let w = &it.value;
    let f = it.file;
    let (states_reg, out_states) = states(cx, w, f);
    let initial = cx.refer(&states_reg, f, &w.initial);
    let mut tids = Registry::new("transition");
    let declared: Vec<Option<Id>> = w
        .transition
        .iter()
        .map(|t| cx.declare(&mut tids, f, &t.id))
        .collect();
    let names = Names {
        states: states_reg,
        transitions: tids,
    };
    let mut transitions = Vec::new();
    let mut ok = initial.is_some();
    // The file keeps one piece of each kind: a kind is declared once in the workflow.
    let mut piece_ids = Registry::new("piece");
    for (t, tid) in w.transition.iter().zip(declared) {
        let pieces: Vec<StepPiece> = t
            .piece
            .iter()
            .filter_map(|p| {
                Some(StepPiece {
                    id: cx.declare(&mut piece_ids, f, &p.id)?,
                    label: p.label.clone(),
                    help: p.help.clone(),
                    required: p.required,
                })
            })
            .collect();
        ok &= pieces.len() == t.piece.len();
        let from: Vec<Id> = t
            .from
            .iter()
            .filter_map(|s| cx.refer(&names.states, f, s))
            .collect();
        let to = cx.refer(&names.states, f, &t.to);
        let role = cx.refer(&r.role, f, &t.role);
        let declared = steps::declarations(cx, f, t, w, &names);
        for (name, p) in &t.only_above {
            if !t.documents.iter().any(|d| d.get_ref() == name) {
                cx.push(
                    Diagnostic::at(
                        Code::Template,
                        sp_loc(f, p),
                        format!("`only_above` names `{name}`, which transition `{}` does not issue", t.id.get_ref()),
                    )
                    .with_help(format!("add \"{name}\" to the transition's `documents`, or remove it from `only_above`")),
                );
            }
        }
        for s in &t.from {
            if w.state
                .iter()
                .any(|st| st.id.get_ref() == s.get_ref() && st.terminal)
            {
                cx.push(
                    Diagnostic::at(Code::WorkflowDeadEnd, sp_loc(f, s), format!("transition `{}` leaves terminal state `{}`", t.id.get_ref(), s.get_ref()))
                        .with_help("a terminal state ends the workflow: remove `terminal = true` or this transition"),
                );
            }
        }
        match (tid, to, role, declared) {
            (Some(tid), Some(to), Some(role), Some(d)) if from.len() == t.from.len() => transitions
                .push(Transition {
                    id: tid,
                    label: t.label.clone(),
                    from,
                    to,
                    role,
                    guards: d.guards,
                    conditions: d.conditions,
                    data: t.data,
                    effects: d.effects,
                    records: d.records,
                    vote: d.vote,
                    distinct_from: d.distinct_from,
                    timer: d.timer,
                    documents: t
                        .documents
                        .iter()
                        .map(|n| Issue {
                            template: n.get_ref().clone(),
                            above: t.only_above.get(n.get_ref()).map(|p| p.get_ref().clone()),
                            at: sp_loc(f, n),
                        })
                        .collect(),
                    pieces,
                    reference: t.reference.clone(),
                }),
            _ => ok = false,
        }
    }
    let reminders = time::reminders(cx, f, w, &names, r);
    if !ok {
        return None;
    }
    let initial = initial?;
    reachability(cx, f, w, &id, &initial, &transitions);
    automatic_loops(cx, f, w, &transitions);
    Some(Workflow {
        id,
        title: w.title.clone(),
        initial,
        states: out_states,
        transitions,
        reminders: reminders?,
    })
}

fn reachability(
    cx: &mut Cx<'_>,
    f: FileId,
    w: &RawWorkflow,
    id: &Id,
    initial: &Id,
    transitions: &[Transition],
) {
    let mut reached: HashSet<&str> = HashSet::from([initial.as_str()]);
    let mut queue = VecDeque::from([initial.as_str()]);
    while let Some(s) = queue.pop_front() {
        for t in transitions {
            if t.from.iter().any(|x| x.as_str() == s) && reached.insert(t.to.as_str()) {
                queue.push_back(t.to.as_str());
            }
        }
    }
    for s in &w.state {
        let sid = s.id.get_ref().as_str();
        if !reached.contains(sid) {
            cx.push(
                Diagnostic::at(
                    Code::UnreachableState,
                    sp_loc(f, &s.id),
                    format!("state `{sid}` of workflow `{id}` cannot be reached from `{initial}`"),
                )
                .with_label("no transition leads here")
                .with_help("add a transition to it, or remove the state"),
            );
        }
        if !s.terminal
            && !transitions
                .iter()
                .any(|t| t.from.iter().any(|x| x.as_str() == sid))
        {
            cx.push(
                Diagnostic::at(
                    Code::WorkflowDeadEnd,
                    sp_loc(f, &s.id),
                    format!("state `{sid}` is not terminal and no transition leaves it"),
                )
                .with_label("files would be stuck here")
                .with_help("add a transition from it, or mark it `terminal = true`"),
            );
        }
    }
    if !w.state.iter().any(|s| s.terminal) {
        cx.push(
            Diagnostic::at(
                Code::WorkflowDeadEnd,
                sp_loc(f, &w.id),
                format!("workflow `{id}` has no terminal state"),
            )
            .with_help("mark the states that end a file with `terminal = true`"),
        );
    }
}

/// Automatic transitions (system, no timer) are taken one after the other as soon as their
/// guards hold: a loop of them would never stop, so it is refused here rather than capped.
fn automatic_loops(cx: &mut Cx<'_>, f: FileId, w: &RawWorkflow, transitions: &[Transition]) {
    let auto: Vec<&Transition> = transitions
        .iter()
        .filter(|t| t.is_system() && t.timer.is_none())
        .collect();
    for start in &auto {
        // Depth-first from the transition's target; a path back to one of its sources
        // through automatic transitions only is a loop.
        let mut seen: HashSet<&str> = HashSet::new();
        let mut stack = vec![(start.to.as_str(), vec![start.id.as_str()])];
        let mut found = None;
        while let Some((state, path)) = stack.pop() {
            if start.from.iter().any(|s| s.as_str() == state) {
                found = Some(path);
                break;
            }
            if !seen.insert(state) {
                continue;
            }
            for t in auto
                .iter()
                .filter(|t| t.from.iter().any(|s| s.as_str() == state))
            {
                let mut p = path.clone();
                p.push(t.id.as_str());
                stack.push((t.to.as_str(), p));
            }
        }
        let Some(path) = found else { continue };
        // Reported once, at the loop's first transition in file order.
        if auto
            .iter()
            .position(|t| path.contains(&t.id.as_str()))
            .is_some_and(|first| auto[first].id != start.id)
        {
            continue;
        }
        let Some(raw) = w
            .transition
            .iter()
            .find(|t| t.id.get_ref() == start.id.as_str())
        else {
            continue;
        };
        cx.push(
            Diagnostic::at(
                Code::AutomaticLoop,
                sp_loc(f, &raw.id),
                format!(
                    "the automatic transitions {} form a loop: a file would move for ever",
                    path.iter()
                        .map(|p| format!("`{p}`"))
                        .collect::<Vec<_>>()
                        .join(" → ")
                ),
            )
            .with_label("automatic transition in a loop")
            .with_help("give one of them a person's role or a `timer`"),
        );
    }
}
