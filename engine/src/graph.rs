//! The dependency graph of a plan's items (petgraph), with iterative algorithms only:
//! plans of a million items must not overflow the stack.

use std::collections::{HashSet, VecDeque};

use petgraph::algo::kosaraju_scc;
use petgraph::graph::{DiGraph, NodeIndex};

/// An edge of a loop: item `to` depends on item `from` through its `dep`-th dependency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoopEdge {
    pub from: usize,
    pub to: usize,
    pub dep: usize,
}

/// Builds the graph: one node per item (same index), an edge from each predecessor to
/// its successor, weighted by the index of the dependency in the successor's list.
pub fn build<I: IntoIterator<Item = usize>>(
    n: usize,
    deps: impl Fn(usize) -> I,
) -> DiGraph<(), usize, u32> {
    let mut g = DiGraph::with_capacity(n, n * 2);
    for _ in 0..n {
        g.add_node(());
    }
    for to in 0..n {
        for (k, from) in deps(to).into_iter().enumerate() {
            g.add_edge(NodeIndex::new(from), NodeIndex::new(to), k);
        }
    }
    g
}

/// One loop per strongly connected component that has one, each as its edges in order.
/// Deterministic: components and loops start from their lowest item index.
pub fn loops(g: &DiGraph<(), usize, u32>) -> Vec<Vec<LoopEdge>> {
    let mut out = Vec::new();
    for comp in kosaraju_scc(g) {
        let members: HashSet<NodeIndex> = comp.iter().copied().collect();
        let Some(&start) = comp.iter().min() else {
            continue;
        };
        let self_loop = g.edges_connecting(start, start).next();
        if comp.len() == 1 {
            if let Some(e) = self_loop {
                out.push(vec![LoopEdge {
                    from: start.index(),
                    to: start.index(),
                    dep: *e.weight(),
                }]);
            }
            continue;
        }
        // Shortest way back to `start` inside the component (BFS keeps it readable).
        let mut prev: Vec<Option<(NodeIndex, usize)>> = vec![None; g.node_count()];
        let mut seen = HashSet::new();
        let mut queue = VecDeque::new();
        let mut found = None;
        let mut succ: Vec<_> = g
            .edges(start)
            .map(|e| (petgraph::visit::EdgeRef::target(&e), *e.weight()))
            .collect();
        succ.sort();
        for (t, w) in succ {
            if members.contains(&t) && seen.insert(t) {
                prev[t.index()] = Some((start, w));
                queue.push_back(t);
            }
        }
        while let Some(n) = queue.pop_front() {
            let mut succ: Vec<_> = g
                .edges(n)
                .map(|e| (petgraph::visit::EdgeRef::target(&e), *e.weight()))
                .collect();
            succ.sort();
            for (t, w) in succ {
                if t == start {
                    found = Some((n, w));
                    break;
                }
                if members.contains(&t) && seen.insert(t) {
                    prev[t.index()] = Some((n, w));
                    queue.push_back(t);
                }
            }
            if found.is_some() {
                break;
            }
        }
        let Some((last, w)) = found else { continue };
        let mut edges = vec![LoopEdge {
            from: last.index(),
            to: start.index(),
            dep: w,
        }];
        let mut cur = last;
        while cur != start {
            let Some((p, w)) = prev[cur.index()] else {
                break;
            };
            edges.push(LoopEdge {
                from: p.index(),
                to: cur.index(),
                dep: w,
            });
            cur = p;
        }
        edges.reverse();
        out.push(edges);
    }
    out.sort_by_key(|l| l.first().map(|e| e.from));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_whole_loop() {
        // 0 <- 1 <- 2 <- 0 (2 depends on 1, 1 on 0, 0 on 2), 3 depends on 0.
        let deps = |i: usize| match i {
            0 => vec![2],
            1 => vec![0],
            2 => vec![1],
            3 => vec![0],
            _ => vec![],
        };
        let g = build(4, deps);
        let l = loops(&g);
        assert_eq!(l.len(), 1);
        let path: Vec<usize> = l[0].iter().map(|e| e.from).collect();
        assert_eq!(path, vec![0, 1, 2]);
        assert_eq!(l[0].last().unwrap().to, 0);
    }

    #[test]
    fn a_long_chain_does_not_overflow_the_stack() {
        let n = 1_000_000;
        let g = build(n, |i| if i == 0 { vec![] } else { vec![i - 1] });
        assert!(loops(&g).is_empty());
    }
}
