//! Graph queries on a plan: what must finish before an item, and what it unblocks.
//! Breadth-first with an explicit queue: no recursion, whatever the plan's depth.

use std::collections::VecDeque;

use crate::model::Plan;

/// Every item `item` depends on, directly or not, nearest first (then plan order).
pub fn upstream(plan: &Plan, item: usize) -> Vec<usize> {
    walk(plan.actions.len(), item, |i| {
        plan.actions[i].depends_on.iter().map(|d| d.on).collect()
    })
}

/// Every item that depends on `item`, directly or not, nearest first (then plan order).
pub fn downstream(plan: &Plan, item: usize) -> Vec<usize> {
    let mut succ: Vec<Vec<usize>> = vec![Vec::new(); plan.actions.len()];
    for (i, a) in plan.actions.iter().enumerate() {
        for d in &a.depends_on {
            succ[d.on].push(i);
        }
    }
    walk(plan.actions.len(), item, |i| succ[i].clone())
}

fn walk(n: usize, start: usize, next: impl Fn(usize) -> Vec<usize>) -> Vec<usize> {
    let mut seen = vec![false; n];
    seen[start] = true;
    let mut queue = VecDeque::from([start]);
    let mut out = Vec::new();
    while let Some(i) = queue.pop_front() {
        let mut level = next(i);
        level.sort_unstable();
        for j in level {
            if !seen[j] {
                seen[j] = true;
                out.push(j);
                queue.push_back(j);
            }
        }
    }
    out
}
