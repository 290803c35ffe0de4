//! Loading and validating plans of 10 000 and 100 000 actions, against a bare
//! `toml::from_str` of the same files into the raw serde structs (the baseline the plan
//! language issue sets: at most 1.5× its time). Both run in the same process.
//!
//! Run: `cargo bench -p metroplan-engine --bench load`

// The same allocator as the `metroplan` binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use metroplan_engine::{load, plan, synth};

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("plan-load");
    group.sample_size(10);
    for n in [10_000usize, 100_000] {
        let src = synth::plan(n);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(
            BenchmarkId::new("baseline-toml-from-str", n),
            &src,
            |b, src| b.iter(|| std::hint::black_box(plan::baseline_deserialize(src))),
        );
        group.bench_with_input(
            BenchmarkId::new("metroplan-load-validate", n),
            &src,
            |b, src| {
                b.iter(|| {
                    let loaded = load(src);
                    assert!(loaded.plan.is_some());
                    std::hint::black_box(loaded);
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
