//! The Rhai engine that runs eligibility rules: only the packages rules need, no modules,
//! no `eval`, strict variables, bounded operations, depth and sizes, and a wall-clock
//! deadline. A script that loops, recurses without end or builds a huge value is stopped
//! with an error naming the limit; the process goes on.

use std::cell::Cell;
use std::time::{Duration, Instant};

use rhai::packages::{
    BasicArrayPackage, BasicMapPackage, CorePackage, LogicPackage, MoreStringPackage, Package,
};
use rhai::{Dynamic, Engine};

/// Limits of one evaluation.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_operations: u64,
    pub max_call_levels: usize,
    pub max_string_size: usize,
    pub max_array_size: usize,
    pub max_map_size: usize,
    pub wall_clock: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        // Real rules take a few hundred operations; these leave room for a hundred times more
        // and still stop a runaway script well within 100 ms.
        Limits {
            max_operations: 200_000,
            max_call_levels: 32,
            max_string_size: 64 * 1024,
            max_array_size: 10_000,
            max_map_size: 1_000,
            wall_clock: Duration::from_millis(50),
        }
    }
}

thread_local! {
    /// When the evaluation running on this thread must stop.
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Marks the start of an evaluation on this thread; the guard clears the deadline.
pub(crate) fn start_clock(limit: Duration) -> ClockGuard {
    DEADLINE.with(|d| d.set(Some(Instant::now() + limit)));
    ClockGuard
}

#[derive(Debug)]
pub(crate) struct ClockGuard;

impl Drop for ClockGuard {
    fn drop(&mut self) {
        DEADLINE.with(|d| d.set(None));
    }
}

/// The message a script stopped by the clock ends with.
pub const TIME_LIMIT: &str = "time limit";

/// A sandboxed engine with `limits`. Host functions are added by the caller.
pub fn engine(limits: Limits) -> Engine {
    let mut engine = Engine::new_raw();
    CorePackage::new().register_into_engine(&mut engine);
    LogicPackage::new().register_into_engine(&mut engine);
    BasicArrayPackage::new().register_into_engine(&mut engine);
    BasicMapPackage::new().register_into_engine(&mut engine);
    MoreStringPackage::new().register_into_engine(&mut engine);
    engine.disable_symbol("eval");
    engine.set_strict_variables(true);
    engine.set_max_operations(limits.max_operations);
    engine.set_max_call_levels(limits.max_call_levels);
    engine.set_max_expr_depths(64, 32);
    engine.set_max_string_size(limits.max_string_size);
    engine.set_max_array_size(limits.max_array_size);
    engine.set_max_map_size(limits.max_map_size);
    engine.set_max_variables(256);
    engine.set_max_functions(256);
    engine.on_progress(|ops| {
        // Reading the clock costs more than an operation: look every 1024 of them.
        if ops % 1024 != 0 {
            return None;
        }
        let late = DEADLINE.with(|d| d.get().is_some_and(|t| Instant::now() >= t));
        late.then(|| Dynamic::from(TIME_LIMIT))
    });
    engine
}
