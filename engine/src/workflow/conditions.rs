//! Conditions a plan writes in Rhai for what the guard vocabulary lacks: expressions over the
//! same facts as the guards, run in the rules' sandbox (no I/O, bounded operations and time),
//! each result kept with the decision so that the step's record says what was checked.

use rhai::{Dynamic, Map, Scope};
use rust_decimal::Decimal;
use serde_json::Value;

use super::{Facts, Input};
use crate::rules::Limits;
use crate::rules::sandbox;

/// The facts a condition reads, with what each is.
pub const FACTS: &[(&str, &str)] = &[
    ("state", "the file's state id (text)"),
    (
        "outcome",
        "the eligibility check's outcome: `eligible`, `ineligible`, `incomplete`, or `\"\"`",
    ),
    (
        "requested",
        "the amount the rules accepted (decimal; 0 when none)",
    ),
    (
        "awarded",
        "the amount committed for the file: awards less reductions and releases (decimal)",
    ),
    ("paid", "the total paid (decimal)"),
    ("reclaimed", "the total reclaimed (decimal)"),
    (
        "amount",
        "the amount the person gives with the step (decimal; 0 when none)",
    ),
    ("opinions", "the number of opinions given (integer)"),
    ("favourable", "the number of favourable opinions (integer)"),
    (
        "other_filings",
        "the applicant's other files in the same call (integer)",
    ),
    (
        "call_open",
        "whether the file's call is open today (boolean)",
    ),
    (
        "final_report",
        "whether the final report was received (boolean)",
    ),
    (
        "today",
        "today in the plan's time zone, `YYYY-MM-DD` (text; compare as text)",
    ),
    (
        "data",
        "the application's data as it will be after the step (a map)",
    ),
];

fn engine() -> rhai::Engine {
    sandbox::engine(Limits::default())
}

fn scope(facts: &Facts, input: &Input, data: &Value) -> Scope<'static> {
    let dec = |d: Option<Decimal>| Dynamic::from_decimal(d.unwrap_or_default());
    let mut s = Scope::new();
    s.push_constant("state", facts.state.clone());
    s.push_constant(
        "outcome",
        facts.outcome.map(|o| o.name()).unwrap_or("").to_string(),
    );
    s.push_constant_dynamic("requested", dec(facts.requested));
    s.push_constant_dynamic("awarded", dec(Some(facts.money.committed)));
    s.push_constant_dynamic("paid", dec(Some(facts.money.paid)));
    s.push_constant_dynamic("reclaimed", dec(Some(facts.money.reclaimed)));
    s.push_constant_dynamic("amount", dec(input.amount));
    s.push_constant("opinions", facts.opinions.len() as i64);
    s.push_constant(
        "favourable",
        facts.opinions.iter().filter(|o| o.favourable).count() as i64,
    );
    s.push_constant("other_filings", i64::from(facts.other_filings));
    s.push_constant("call_open", facts.call_open);
    s.push_constant("final_report", facts.final_report);
    s.push_constant("today", facts.today.to_string());
    s.push_constant_dynamic("data", to_dynamic(data));
    s
}

fn to_dynamic(v: &Value) -> Dynamic {
    match v {
        Value::Null => Dynamic::UNIT,
        Value::Bool(b) => Dynamic::from_bool(*b),
        Value::Number(n) => n
            .to_string()
            .parse::<Decimal>()
            .map(Dynamic::from_decimal)
            .unwrap_or(Dynamic::UNIT),
        Value::String(s) => Dynamic::from(s.clone()),
        Value::Array(a) => Dynamic::from_array(a.iter().map(to_dynamic).collect()),
        Value::Object(o) => {
            let m: Map = o
                .iter()
                .map(|(k, v)| (k.as_str().into(), to_dynamic(v)))
                .collect();
            Dynamic::from_map(m)
        }
    }
}

/// Whether `source` compiles as an expression over the facts.
pub fn compile(source: &str) -> Result<(), String> {
    let facts = Facts::default();
    engine()
        .compile_expression_with_scope(&scope(&facts, &Input::default(), &Value::Null), source)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Evaluates a condition: `Err` when it fails to run or does not give a boolean (the step is
/// then refused: a condition that cannot be checked does not hold).
pub fn eval(source: &str, facts: &Facts, input: &Input, data: &Value) -> Result<bool, String> {
    let e = engine();
    let mut scope = scope(facts, input, data);
    let _clock = sandbox::start_clock(Limits::default().wall_clock);
    e.eval_expression_with_scope::<bool>(&mut scope, source)
        .map_err(|err| err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_condition_reads_the_facts_and_the_data() {
        let facts = Facts {
            other_filings: 2,
            ..Facts::default()
        };
        let data = serde_json::json!({"project": {"budget": 12000}});
        assert_eq!(
            eval(
                "other_filings < 3 && data.project.budget > 10000",
                &facts,
                &Input::default(),
                &data
            ),
            Ok(true)
        );
        assert_eq!(
            eval("other_filings == 0", &facts, &Input::default(), &data),
            Ok(false)
        );
    }

    #[test]
    fn a_condition_that_is_not_a_boolean_or_loops_does_not_hold() {
        let facts = Facts::default();
        assert!(eval("42", &facts, &Input::default(), &Value::Null).is_err());
        assert!(
            eval(
                "{ let x = 0; loop { x += 1; } }",
                &facts,
                &Input::default(),
                &Value::Null
            )
            .is_err()
        );
    }

    #[test]
    fn an_unknown_fact_does_not_compile() {
        assert!(compile("favourable >= 2").is_ok());
        assert!(compile("favorable >= 2").is_err());
        assert!(compile("state == ").is_err());
    }
}
