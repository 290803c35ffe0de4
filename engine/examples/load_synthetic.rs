//! Time and peak memory of loading a synthetic plan, one mode per process so that the
//! peak resident set (VmHWM) belongs to that mode alone.
//!
//! `cargo run --release -p metroplan-engine --example load_synthetic -- 100000 load`
//! `cargo run --release -p metroplan-engine --example load_synthetic -- 100000 baseline`

use std::time::Instant;

// The same allocator as the `metroplan` binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use metroplan_engine::{load, plan, synth};

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(str::to_string)
        })
        .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

fn main() {
    let mut args = std::env::args().skip(1);
    // `compare`: baseline and load alternate in one process; the median ratio is printed.
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let mode = args.next().unwrap_or_else(|| "load".into());
    // DEPS=3: three dependencies per action (the scheduler issue's benchmark plan).
    let src = match std::env::var("DEPS").ok().and_then(|d| d.parse().ok()) {
        Some(d) => synth::plan_with_dependencies(n, d),
        None => synth::plan(n),
    };
    let bytes: usize = src.files.values().map(String::len).sum();
    if mode == "schedule" {
        let plan = load(&src).plan.expect("valid");
        let t = Instant::now();
        let mut s = metroplan_engine::schedule::schedule(&plan, Default::default());
        for _ in 0..std::env::var("ROUNDS")
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(0)
        {
            s = metroplan_engine::schedule::schedule(&plan, Default::default());
        }
        println!(
            "schedule actions={n} time_ms={:.1} finish={}",
            t.elapsed().as_secs_f64() * 1000.0,
            s.finish
        );
        return;
    }
    if mode == "schedule-compare" {
        schedule_compare(&src, n);
        return;
    }
    if mode == "compare" {
        compare(&src, n);
        return;
    }
    let before = peak_rss_kib();
    let t = Instant::now();
    match mode.as_str() {
        "baseline" => {
            std::hint::black_box(plan::baseline_deserialize(&src));
        }
        "parse" => {
            std::hint::black_box(plan::parse_only(&src));
        }
        _ => {
            let loaded = load(&src);
            assert!(loaded.plan.is_some(), "synthetic plan must be valid");
            std::hint::black_box(&loaded);
        }
    }
    let elapsed = t.elapsed();
    println!(
        "{mode} actions={n} input_mib={:.1} time_ms={:.0} peak_rss_mib={:.0} (generator alone: {:.0})",
        bytes as f64 / 1048576.0,
        elapsed.as_secs_f64() * 1000.0,
        peak_rss_kib() as f64 / 1024.0,
        before as f64 / 1024.0
    );
}

fn compare(src: &metroplan_engine::MemorySource, n: usize) {
    let rounds = 7;
    let (mut base, mut ours) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let t = Instant::now();
        drop(std::hint::black_box(plan::baseline_deserialize(src)));
        base.push(t.elapsed().as_secs_f64() * 1000.0);
        let t = Instant::now();
        let loaded = load(src);
        assert!(loaded.plan.is_some());
        drop(std::hint::black_box(loaded));
        ours.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    report(
        &format!("compare actions={n} rounds={rounds}"),
        ("baseline", base),
        ("load", ours),
    );
}

/// Prints the medians of two interleaved series and the median of their round ratios.
fn report(head: &str, (bname, mut base): (&str, Vec<f64>), (oname, mut ours): (&str, Vec<f64>)) {
    let mut ratios: Vec<f64> = ours.iter().zip(&base).map(|(o, b)| o / b).collect();
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "{head} {bname}_median_ms={:.3} {oname}_median_ms={:.3} ratio_median={:.2}",
        median(&mut base),
        median(&mut ours),
        median(&mut ratios)
    );
}

/// Schedule against a bare petgraph `toposort` of the same graph, interleaved round by
/// round so that both see the same machine load; prints the medians and the median ratio.
fn schedule_compare(src: &metroplan_engine::MemorySource, n: usize) {
    use petgraph::graph::{DiGraph, NodeIndex};
    let plan = load(src).plan.expect("valid");
    let mut g: DiGraph<(), ()> = DiGraph::with_capacity(n, n * 2);
    for _ in 0..n {
        g.add_node(());
    }
    for (i, a) in plan.actions.iter().enumerate() {
        for d in &a.depends_on {
            g.add_edge(NodeIndex::new(d.on), NodeIndex::new(i), ());
        }
    }
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(31);
    let (mut base, mut ours) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let t = Instant::now();
        std::hint::black_box(petgraph::algo::toposort(&g, None).expect("DAG"));
        base.push(t.elapsed().as_secs_f64() * 1000.0);
        let t = Instant::now();
        std::hint::black_box(metroplan_engine::schedule::schedule(
            &plan,
            Default::default(),
        ));
        ours.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    report(
        &format!("schedule-compare actions={n} rounds={rounds}"),
        ("toposort", base),
        ("schedule", ours),
    );
}
