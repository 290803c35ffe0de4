//! The dependency graph of a plan's items, with iterative algorithms only: plans of a
//! million items must not overflow the stack. The loader finds loops with petgraph's
//! iterative Kosaraju; a plan without loops keeps its graph as a [`DependencyGraph`], the
//! compact form the scheduler walks.

use std::collections::{HashSet, VecDeque};

use petgraph::algo::kosaraju_scc;
use petgraph::graph::{DiGraph, NodeIndex};

use crate::model::{Action, DurationUnit, ItemKind, LinkType, Span};
use crate::schedule::{Day, day_of};

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

/// What the scheduler needs of an item, in a small record with day numbers (days since
/// 1970-01-01), so that its passes do not walk the plan's large item structs. Absent dates
/// are a sentinel rather than `Option`s: the record stays at 28 bytes, and both passes
/// stream through one per item.
#[derive(Debug, Clone, Copy)]
pub struct Node {
    duration: Option<Span>,
    not_before: Day,
    start: Day,
    finish: Day,
    deadline: Day,
    milestone: bool,
    recurring: bool,
    /// The plan has a progress report on the item.
    reported: bool,
}

const NO_DAY: Day = Day::MIN;

fn opt(d: Day) -> Option<Day> {
    (d != NO_DAY).then_some(d)
}

impl Node {
    fn of(a: &Action) -> Node {
        let day = |d: Option<jiff::civil::Date>| d.map_or(NO_DAY, day_of);
        Node {
            duration: a.timing.duration,
            not_before: day(a.timing.not_before),
            start: day(a.timing.start),
            finish: day(a.timing.finish),
            deadline: day(a.timing.deadline),
            milestone: a.kind == ItemKind::Milestone,
            recurring: a.recurrence.is_some(),
            reported: false,
        }
    }

    /// Whether the plan has a progress report on the item (so that the passes read the
    /// large progress records only for those).
    #[inline]
    pub fn reported(&self) -> bool {
        self.reported
    }

    #[inline]
    pub fn duration(&self) -> Option<Span> {
        self.duration
    }

    /// "Start no earlier than".
    #[inline]
    pub fn not_before(&self) -> Option<Day> {
        opt(self.not_before)
    }

    /// Fixed start.
    #[inline]
    pub fn start(&self) -> Option<Day> {
        opt(self.start)
    }

    /// "Finish on" date (inclusive), when the plan gives one.
    #[inline]
    pub fn finish(&self) -> Option<Day> {
        opt(self.finish)
    }

    #[inline]
    pub fn deadline(&self) -> Option<Day> {
        opt(self.deadline)
    }

    #[inline]
    pub fn milestone(&self) -> bool {
        self.milestone
    }

    #[inline]
    pub fn recurring(&self) -> bool {
        self.recurring
    }
}

/// One dependency, seen from the item at the other end (16 bytes: the lag is flattened).
#[derive(Debug, Clone, Copy)]
pub struct Edge {
    /// The predecessor (in a predecessor list) or the successor (in a successor list).
    pub other: u32,
    /// Index of the dependency in the successor's `depends_on`.
    pub k: u32,
    lag_amount: i32,
    lag_unit: DurationUnit,
    pub link: LinkType,
}

impl Edge {
    #[inline]
    pub fn lag(&self) -> Span {
        Span {
            amount: self.lag_amount,
            unit: self.lag_unit,
        }
    }
}

/// The plan's dependency graph in compressed sparse rows, both ways, with a topological
/// order: built once when the plan loads (after the loop check), read by every schedule.
#[derive(Debug, Clone, Default)]
pub struct DependencyGraph {
    nodes: Vec<Node>,
    pred_at: Vec<u32>,
    preds: Vec<Edge>,
    succ_at: Vec<u32>,
    succs: Vec<Edge>,
    order: Vec<u32>,
    /// The plan's own order, when every item comes after what it depends on (plans are
    /// usually written that way): the passes then walk the arrays sequentially.
    in_plan_order: bool,
    plan_order: Vec<u32>,
}

impl DependencyGraph {
    /// The graph of `actions`, whose dependencies are resolved (`on` is an index), with
    /// `reported[i]` telling whether item `i` has a progress report.
    pub fn new(actions: &[Action], reported: impl Fn(usize) -> bool) -> DependencyGraph {
        let n = actions.len();
        let mut pred_at = Vec::with_capacity(n + 1);
        let mut preds = Vec::with_capacity(n * 2);
        let mut out_degree = vec![0u32; n + 1];
        pred_at.push(0);
        let mut nodes = Vec::with_capacity(n);
        for (i, a) in actions.iter().enumerate() {
            nodes.push(Node {
                reported: reported(i),
                ..Node::of(a)
            });
            for (k, d) in a.depends_on.iter().enumerate() {
                out_degree[d.on] += 1;
                preds.push(Edge {
                    other: d.on as u32,
                    k: k as u32,
                    lag_amount: d.lag.amount,
                    lag_unit: d.lag.unit,
                    link: d.link,
                });
            }
            pred_at.push(preds.len() as u32);
        }
        // Successor lists by counting sort: each list keeps successors in the plan's order.
        let mut succ_at = Vec::with_capacity(n + 1);
        let mut total = 0u32;
        for d in &out_degree[..n] {
            succ_at.push(total);
            total += d;
        }
        succ_at.push(total);
        let mut fill: Vec<u32> = succ_at[..n].to_vec();
        let mut succs = vec![
            Edge {
                other: 0,
                k: 0,
                lag_amount: 0,
                lag_unit: DurationUnit::Days,
                link: LinkType::FinishToStart,
            };
            preds.len()
        ];
        for i in 0..n {
            for e in &preds[pred_at[i] as usize..pred_at[i + 1] as usize] {
                let slot = &mut fill[e.other as usize];
                succs[*slot as usize] = Edge {
                    other: i as u32,
                    ..*e
                };
                *slot += 1;
            }
        }
        // Kahn's algorithm, first in first out; a loop (refused by the loader) leaves the
        // plan's order.
        let mut indeg: Vec<u32> = pred_at.windows(2).map(|w| w[1] - w[0]).collect();
        let mut order: Vec<u32> = (0..n as u32).filter(|&i| indeg[i as usize] == 0).collect();
        order.reserve(n - order.len());
        let mut head = 0;
        while head < order.len() {
            let i = order[head] as usize;
            head += 1;
            for e in &succs[succ_at[i] as usize..succ_at[i + 1] as usize] {
                let s = e.other as usize;
                indeg[s] -= 1;
                if indeg[s] == 0 {
                    order.push(s as u32);
                }
            }
        }
        if order.len() != n {
            order = (0..n as u32).collect();
        }
        let in_plan_order = (0..n).all(|i| {
            preds[pred_at[i] as usize..pred_at[i + 1] as usize]
                .iter()
                .all(|e| (e.other as usize) < i)
        });
        DependencyGraph {
            nodes,
            pred_at,
            preds,
            succ_at,
            succs,
            order,
            plan_order: if in_plan_order {
                (0..n as u32).collect()
            } else {
                Vec::new()
            },
            in_plan_order,
        }
    }

    /// Whether any item has a progress report.
    pub fn any_reported(&self) -> bool {
        self.nodes.iter().any(|n| n.reported)
    }

    /// The scheduling inputs of every item, by index.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// Items in an order where every item comes after what it depends on (first in, first
    /// out from the items that depend on nothing).
    pub fn order(&self) -> &[u32] {
        &self.order
    }

    /// Items in an order where every item comes after what it depends on, chosen to read
    /// memory best: the plan's own order when it is topological, else
    /// [`DependencyGraph::order`]. The critical path method's results do not depend on which
    /// topological order it walks.
    pub fn pass_order(&self) -> &[u32] {
        if self.in_plan_order {
            &self.plan_order
        } else {
            &self.order
        }
    }

    /// The dependencies of item `i`, in its `depends_on` order.
    pub fn predecessors(&self, i: usize) -> &[Edge] {
        &self.preds[self.pred_at[i] as usize..self.pred_at[i + 1] as usize]
    }

    /// The items that depend on item `i`, in the plan's order.
    pub fn successors(&self, i: usize) -> &[Edge] {
        &self.succs[self.succ_at[i] as usize..self.succ_at[i + 1] as usize]
    }
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
