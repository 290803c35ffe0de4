//! Invariants of the loader on damaged input: never a panic, every diagnostic points
//! inside its file, and the output is deterministic.

use metroplan_engine::{MemorySource, load};
use proptest::prelude::*;

const VALID: &str = include_str!("../fixtures/diagnostics/W003-outside-plan-period/plan.toml");

fn damaged() -> impl Strategy<Value = String> {
    let lines: Vec<String> = VALID.lines().map(str::to_string).collect();
    let n = lines.len();
    (
        0..n,
        0..n,
        prop::sample::select(vec![
            "", "=", "[[", "\"", "x = ", "]]", "é", "\u{0}", "id = 3", "[action]",
        ]),
        0..4u8,
    )
        .prop_map(move |(a, b, junk, op)| {
            let mut l = lines.clone();
            match op {
                0 => {
                    l.remove(a);
                }
                1 => l.insert(a, junk.to_string()),
                2 => l.swap(a, b),
                _ => {
                    let s = &mut l[a];
                    let cut = s
                        .char_indices()
                        .map(|(i, _)| i)
                        .nth(b % (s.chars().count() + 1))
                        .unwrap_or(s.len());
                    s.insert_str(cut, junk);
                }
            }
            l.join("\n")
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn damaged_plans_never_panic_and_spans_stay_in_bounds(text in damaged()) {
        let mut src = MemorySource::new("p");
        src.insert("plan.toml", text.clone());
        let a = load(&src);
        for d in &a.diagnostics {
            if let Some(loc) = &d.loc {
                prop_assert!(loc.span.start <= loc.span.end && loc.span.end <= text.len(), "{:?}", d);
                // Rendering must work for every span (char boundaries, last line...).
                let _ = a.sources.render(d);
            }
        }
        let b = load(&src);
        let ra: Vec<String> = a.diagnostics.iter().map(|d| a.sources.render(d)).collect();
        let rb: Vec<String> = b.diagnostics.iter().map(|d| b.sources.render(d)).collect();
        prop_assert_eq!(ra, rb);
    }

    #[test]
    fn arbitrary_bytes_never_panic(text in "\\PC{0,400}") {
        let mut src = MemorySource::new("p");
        src.insert("plan.toml", text);
        let loaded = load(&src);
        prop_assert!(loaded.plan.is_none() || loaded.diagnostics.iter().all(|d| d.severity() == metroplan_engine::Severity::Warning));
    }
}
