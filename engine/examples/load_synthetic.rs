//! Time and peak memory of loading a synthetic plan, one mode per process so that the
//! peak resident set (VmHWM) belongs to that mode alone.
//!
//! `cargo run --release -p metroplan-engine --example load_synthetic -- 100000 load`
//! `cargo run --release -p metroplan-engine --example load_synthetic -- 100000 baseline`

use std::time::Instant;

use metroplan_engine::plan::raw::RawFile;
use metroplan_engine::{load, synth};

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
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let mode = args.next().unwrap_or_else(|| "load".into());
    let src = synth::plan(n);
    let bytes: usize = src.files.values().map(String::len).sum();
    let before = peak_rss_kib();
    let t = Instant::now();
    match mode.as_str() {
        "baseline" => {
            for text in src.files.values() {
                let parsed: RawFile = toml::from_str(text).expect("valid TOML");
                std::hint::black_box(parsed);
            }
        }
        "parse" => {
            let mut parts = metroplan_engine::plan::parse::RawParts::default();
            let mut diags = metroplan_engine::diagnostic::Diagnostics::default();
            let mut map = metroplan_engine::source::SourceMap::default();
            for (path, text) in &src.files {
                let id = map.add(path.clone(), text.clone());
                metroplan_engine::plan::parse::parse_file(id, map.text(id), &mut parts, &mut diags);
            }
            std::hint::black_box(&parts);
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
