//! Workflows: states, transitions, their roles and guards, and reachability.

use std::collections::{HashSet, VecDeque};

use super::registry::{Cx, Registries, Registry, sp_loc};
use crate::diagnostic::{Code, Diagnostic};
use crate::model::*;
use crate::plan::parse::Item;
use crate::plan::raw::*;
use crate::suggest::closest;
use crate::workflow::Guard;

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

fn workflow(cx: &mut Cx<'_>, it: &Item<RawWorkflow>, id: Id, r: &Registries) -> Option<Workflow> {
    let w = &it.value;
    let f = it.file;
    let mut states = Registry::new("state");
    let mut out_states = Vec::new();
    for s in &w.state {
        if let Some(sid) = cx.declare(&mut states, f, &s.id) {
            out_states.push(State {
                id: sid,
                label: s.label.clone(),
                terminal: s.terminal,
                deadline: s.deadline.as_ref().map(|d| *d.get_ref()),
            });
        }
    }
    let states = Registry {
        kind: "state",
        ..states
    };
    let initial = cx.refer(&states, f, &w.initial);
    let mut tids = Registry::new("transition");
    let mut transitions = Vec::new();
    let mut ok = initial.is_some();
    for t in &w.transition {
        let tid = cx.declare(&mut tids, f, &t.id);
        let from: Vec<Id> = t
            .from
            .iter()
            .filter_map(|s| cx.refer(&states, f, s))
            .collect();
        let to = cx.refer(&states, f, &t.to);
        let role = cx.refer(&r.role, f, &t.role);
        let mut guards = Vec::new();
        for g in &t.guards {
            if let Some(guard) = Guard::parse(g.get_ref()) {
                guards.push(guard);
            } else {
                cx.push(
                    Diagnostic::at(
                        Code::UnknownReference,
                        sp_loc(f, g),
                        format!("unknown guard `{}`", g.get_ref()),
                    )
                    .with_label("not a guard the engine knows")
                    .with_suggestions(closest(g.get_ref(), Guard::ALL.iter().map(|g| g.name())))
                    .with_help("the guards are listed in docs/errors.md under E006"),
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
        match (tid, to, role) {
            (Some(tid), Some(to), Some(role)) if from.len() == t.from.len() => {
                transitions.push(Transition {
                    id: tid,
                    label: t.label.clone(),
                    from,
                    to,
                    role,
                    guards,
                    reference: t.reference.clone(),
                })
            }
            _ => ok = false,
        }
    }
    if !ok {
        return None;
    }
    let initial = initial?;
    // Reachability from the initial state.
    let mut reached: HashSet<&str> = HashSet::from([initial.as_str()]);
    let mut queue = VecDeque::from([initial.as_str()]);
    while let Some(s) = queue.pop_front() {
        for t in &transitions {
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
    Some(Workflow {
        id,
        title: w.title.clone(),
        initial,
        states: out_states,
        transitions,
    })
}
