//! Keeps one fund's broken rules script from slowing everyone else (a circuit breaker).
//!
//! A script that stops on a limit has spent its whole budget (up to 50 ms of a core, inside a
//! write transaction that, on SQLite, every other writer waits for). When a ruleset does so
//! [`TRIPS_AFTER`] times in a row, it is suspended for [`COOL_DOWN`]: calls are refused at
//! once with a 503 that names the script and the limit, without running it. After the cool
//! down, one call runs again; if it stops on a limit too, the ruleset is suspended again.
//!
//! Rulesets are told apart by their hash, so a plan reload that mends the script starts
//! afresh, and a suspended fund never holds back another fund.
//!
//! The suspension is per ruleset, not per applicant: a script that runs away only on some
//! applications lets whoever sends those suspend the fund, 30 s at a time. That is the price of
//! a bounded cost; such a script is a bug of the plan, logged at ERROR with the rule it stopped
//! in, for its authors to mend and cover with a rule test.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use metroplan_engine::rules::InputError;
use metroplan_engine::rules::{Context, EvalError, Evaluation, Ruleset};

use crate::error::Error;

/// Consecutive runs stopped on a limit before a ruleset is suspended.
pub const TRIPS_AFTER: u32 = 3;
/// How long a suspended ruleset is refused without running.
pub const COOL_DOWN: Duration = Duration::from_secs(30);

#[derive(Debug, Default)]
pub struct RulesGuard {
    failing: Mutex<HashMap<String, Failing>>,
    /// Runs that stopped on a limit: each cost a full budget.
    pub stopped: AtomicU64,
    /// Calls refused without running, while their ruleset was suspended.
    pub refused: AtomicU64,
}

#[derive(Debug)]
struct Failing {
    in_a_row: u32,
    suspended_until: Option<Instant>,
    last: String,
}

impl RulesGuard {
    /// The counters, in the Prometheus text format.
    pub fn render(&self) -> String {
        format!(
            "# HELP metroplan_rules_stopped_total Rules runs stopped on a limit.\n# TYPE metroplan_rules_stopped_total counter\nmetroplan_rules_stopped_total {}\n# HELP metroplan_rules_refused_total Calls refused while their ruleset was suspended.\n# TYPE metroplan_rules_refused_total counter\nmetroplan_rules_refused_total {}\n",
            self.stopped.load(Ordering::Relaxed),
            self.refused.load(Ordering::Relaxed)
        )
    }

    /// Runs fund `fund`'s rules under the guard. An application that does not fit the form is
    /// the caller's to word (`Ok(Err(_))`); a script that fails, stops on a limit or is
    /// suspended is a 503 that names it.
    pub fn evaluate(
        &self,
        fund: &str,
        rules: &Ruleset,
        data: &serde_json::Value,
        ctx: Context,
    ) -> Result<Result<Evaluation, InputError>, Error> {
        self.admit(fund, &rules.hash)?;
        let run = rules.evaluate(data, ctx);
        self.record(&rules.hash, &run);
        match run {
            Ok(e) => Ok(Ok(e)),
            Err(EvalError::Input(e)) => Ok(Err(e)),
            // The plan's fault, not the applicant's: said plainly, and mended by a plan reload.
            Err(other) => Err(Error::RulesUnavailable(format!(
                "the eligibility rules of fund `{fund}` cannot be run ({other}); nothing was recorded: the plan's authors must mend the script"
            ))),
        }
    }

    /// Whether the ruleset `hash` of fund `fund` may run now.
    fn admit(&self, fund: &str, hash: &str) -> Result<(), Error> {
        let mut failing = self.failing.lock().expect("rules guard");
        let Some(f) = failing.get_mut(hash) else {
            return Ok(());
        };
        match f.suspended_until {
            Some(until) if Instant::now() < until => {
                self.refused.fetch_add(1, Ordering::Relaxed);
                Err(Error::RulesUnavailable(format!(
                    "the eligibility rules of fund `{fund}` are suspended after {} runs in a row stopped on a limit ({}); nothing was recorded: the plan's authors must mend the script",
                    f.in_a_row, f.last
                )))
            }
            Some(_) => {
                // One trial run; until it ends, others wait on the verdict as if suspended.
                f.suspended_until = Some(Instant::now() + COOL_DOWN);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Records how a run of ruleset `hash` ended.
    fn record<T>(&self, hash: &str, result: &Result<T, EvalError>) {
        let mut failing = self.failing.lock().expect("rules guard");
        match result {
            Err(e @ EvalError::Limit { .. }) => {
                self.stopped.fetch_add(1, Ordering::Relaxed);
                let f = failing.entry(hash.to_string()).or_insert(Failing {
                    in_a_row: 0,
                    suspended_until: None,
                    last: String::new(),
                });
                f.in_a_row += 1;
                f.last = e.to_string();
                if f.in_a_row >= TRIPS_AFTER {
                    f.suspended_until = Some(Instant::now() + COOL_DOWN);
                    tracing::error!(
                        ruleset = hash,
                        runs = f.in_a_row,
                        cool_down_s = COOL_DOWN.as_secs(),
                        "rules suspended: {e}"
                    );
                }
            }
            // A run that ends, even on a script error, costs no more than any other.
            _ => {
                failing.remove(hash);
            }
        }
    }
}
