//! Scheduling (calendar, both CPM passes, floats, critical path) of synthetic plans, against
//! a bare petgraph `toposort` of the same dependency graph in the same run.
//!
//! Run: `cargo bench -p metroplan-engine --bench schedule`

// The same allocator as the `metroplan` binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use metroplan_engine::schedule::{Options, schedule};
use metroplan_engine::{load, synth};
use petgraph::graph::{DiGraph, NodeIndex};

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("schedule");
    group.sample_size(10);
    // (actions, dependencies per action; `None`: one or two, as the load benchmark's plans)
    for (n, deps) in [(10_000usize, None), (100_000, None), (100_000, Some(3))] {
        let src = match deps {
            Some(d) => synth::plan_with_dependencies(n, d),
            None => synth::plan(n),
        };
        let plan = load(&src).plan.expect("valid synthetic plan");
        let label = match deps {
            Some(d) => format!("{n}-deps-{d}"),
            None => n.to_string(),
        };
        let mut g: DiGraph<(), ()> = DiGraph::with_capacity(n, n * 2);
        for _ in 0..n {
            g.add_node(());
        }
        for (i, a) in plan.actions.iter().enumerate() {
            for d in &a.depends_on {
                g.add_edge(NodeIndex::new(d.on), NodeIndex::new(i), ());
            }
        }
        group.bench_with_input(
            BenchmarkId::new("baseline-petgraph-toposort", &label),
            &g,
            |b, g| b.iter(|| std::hint::black_box(petgraph::algo::toposort(g, None).expect("DAG"))),
        );
        group.bench_with_input(
            BenchmarkId::new("metroplan-schedule", &label),
            &plan,
            |b, plan| b.iter(|| std::hint::black_box(schedule(plan, Options::default()))),
        );
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
