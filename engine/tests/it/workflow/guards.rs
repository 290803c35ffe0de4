//! Every guard of the vocabulary, where it holds and where it refuses, on one transition of
//! the demo workflow (`classer-sans-suite`, an instructor's step) given only that guard. A
//! guard added to the table without rows here fails the test.

use metroplan_engine::rules::Outcome;
use metroplan_engine::workflow::Guard;

use super::*;

const STEP: &str = "classer-sans-suite";
const STATE: &str = "en-instruction";

fn holds(name: &'static str) -> Row {
    row(name, STEP, INSTRUCTOR, STATE)
}

fn refused(name: &'static str, guard: &'static str) -> Row {
    row(name, STEP, INSTRUCTOR, STATE).want(Refused(guard))
}

fn rows(g: Guard) -> Vec<Row> {
    let day = |d: i8| jiff::civil::date(2021, 3, d);
    let n = g.name();
    match g {
        Guard::CallOpen => vec![
            holds("call-open: the call is open"),
            refused("call-open: the call is closed", n).facts(|f| f.call_open = false),
        ],
        Guard::OnePerApplicant => vec![
            holds("one-per-applicant: no other filing"),
            refused("one-per-applicant: one other filing", n).facts(|f| f.other_filings = 1),
        ],
        Guard::Eligible => vec![
            holds("eligible: outcome eligible"),
            refused("eligible: outcome incomplete", n)
                .facts(|f| f.outcome = Some(Outcome::Incomplete)),
            refused("eligible: no outcome yet", n).facts(|f| f.outcome = None),
        ],
        Guard::Ineligible => vec![
            holds("ineligible: outcome ineligible")
                .facts(|f| f.outcome = Some(Outcome::Ineligible)),
            refused("ineligible: outcome eligible", n),
            refused("ineligible: outcome incomplete", n)
                .facts(|f| f.outcome = Some(Outcome::Incomplete)),
        ],
        Guard::Incomplete => vec![
            holds("incomplete: outcome incomplete")
                .facts(|f| f.outcome = Some(Outcome::Incomplete)),
            refused("incomplete: outcome eligible", n),
            refused("incomplete: outcome ineligible", n)
                .facts(|f| f.outcome = Some(Outcome::Ineligible)),
        ],
        Guard::CompletionInTime => vec![
            holds("completion-in-time: before the deadline"),
            holds("completion-in-time: on the deadline's last day").facts(|f| f.today = day(16)),
            holds("completion-in-time: no deadline").facts(|f| f.deadline = None),
            refused("completion-in-time: the day after the deadline", n)
                .facts(|f| f.today = day(17)),
        ],
        Guard::CompletionOverdue => vec![
            holds("completion-overdue: the day after the deadline").facts(|f| f.today = day(17)),
            refused("completion-overdue: on the deadline's last day", n)
                .facts(|f| f.today = day(16)),
            refused("completion-overdue: no deadline", n).facts(|f| f.deadline = None),
        ],
        Guard::AmountWithinRequest | Guard::AmountWithinCeiling => {
            // Both read the amount the rules accepted (8 000 €).
            let (exactly, two_decimals, above, none, zero, cents, negative, nothing) = match g {
                Guard::AmountWithinRequest => (
                    "amount-within-request: exactly the request",
                    "amount-within-request: an amount with 2 decimals",
                    "amount-within-request: a cent above the request",
                    "amount-within-request: no amount given",
                    "amount-within-request: zero",
                    "amount-within-request: a thousandth of a euro",
                    "amount-within-request: negative",
                    "amount-within-request: nothing accepted at filing",
                ),
                _ => (
                    "amount-within-ceiling: exactly the accepted amount",
                    "amount-within-ceiling: an amount with 2 decimals",
                    "amount-within-ceiling: a cent above the accepted amount",
                    "amount-within-ceiling: no amount given",
                    "amount-within-ceiling: zero",
                    "amount-within-ceiling: a thousandth of a euro",
                    "amount-within-ceiling: negative",
                    "amount-within-ceiling: nothing accepted at filing",
                ),
            };
            vec![
                holds(exactly).amount("8000.00"),
                holds(two_decimals).amount("7999.99"),
                refused(above, n).amount("8000.01").want(RefusedSaying(
                    n,
                    match g {
                        Guard::AmountWithinRequest => {
                            "8000.01 € is above the amount requested: 8000 €"
                        }
                        _ => "8000.01 € is above the amount the eligibility rules accepted: 8000 €",
                    },
                )),
                refused(none, n).want(RefusedOn(n, "amount")),
                refused(zero, n)
                    .amount("0")
                    .want(RefusedSaying(n, "positive")),
                refused(cents, n)
                    .amount("10.001")
                    .want(RefusedSaying(n, "2 decimals")),
                refused(negative, n)
                    .amount("-1")
                    .want(RefusedSaying(n, "positive")),
                refused(nothing, n)
                    .amount("1")
                    .facts(|f| f.requested = None),
            ]
        }
        Guard::WithinEnvelope => vec![
            holds("within-envelope: exactly what remains").amount("30000"),
            refused("within-envelope: a cent above what remains", n)
                .amount("30000.01")
                .want(RefusedSaying(
                    n,
                    "above what remains of the year's envelope: 30000 €",
                )),
            refused("within-envelope: no envelope left", n)
                .amount("1")
                .facts(|f| f.envelope_remaining = None),
            refused("within-envelope: no amount given", n).want(RefusedOn(n, "amount")),
        ],
        Guard::ReasonGiven => vec![
            holds("reason-given: a reason").reason(),
            refused("reason-given: no reason", n).want(RefusedOn(n, "reason")),
            refused("reason-given: blank reason", n).input(|i| i.reason = Some("  \n".into())),
        ],
        Guard::AgreementSigned => vec![
            holds("agreement-signed: signed today").input(|i| i.signed_on = Some(TODAY)),
            holds("agreement-signed: signed before").input(|i| i.signed_on = Some(day(1))),
            refused("agreement-signed: signed tomorrow", n)
                .input(|i| i.signed_on = Some(day(11)))
                .want(RefusedOn(n, "signed_on")),
            refused("agreement-signed: no date", n),
        ],
        Guard::FinalReportReceived => vec![
            holds("final-report-received: received").facts(|f| f.final_report = true),
            refused("final-report-received: not received", n),
        ],
        Guard::NoFinalReport => vec![
            holds("no-final-report: not received"),
            refused("no-final-report: received", n).facts(|f| f.final_report = true),
        ],
        Guard::FullyPaid => vec![
            holds("fully-paid: all paid").money(ledger("6000", "6000", "0")),
            refused("fully-paid: a cent unpaid", n).money(ledger("6000", "5999.99", "0")),
            refused("fully-paid: nothing awarded", n),
        ],
        Guard::Awarded => vec![
            holds("awarded: a cent committed").money(ledger("0.01", "0", "0")),
            refused("awarded: nothing committed", n),
        ],
    }
}

#[test]
fn every_guard_holds_and_refuses_as_its_table_row_says() {
    for &g in Guard::ALL {
        let wf = demo_with(STEP, |t| t.guards = vec![g]);
        let rows = rows(g);
        assert!(
            rows.iter().any(|r| r.want == Allowed(vec![]))
                && rows.iter().any(|r| r.want != Allowed(vec![])),
            "{g}: a row where it holds and one where it refuses"
        );
        run_demo_with(&wf, rows);
    }
}

#[test]
fn a_guard_refusal_tells_the_person_in_french() {
    let wf = demo_with(STEP, |t| t.guards = vec![Guard::CallOpen]);
    let plan = plan("amp-pmlcd");
    let (fund, _) = fund_of(plan, "fonds-initiative");
    let facts = Facts {
        call_open: false,
        ..base(STATE)
    };
    let got = decide(
        plan,
        fund,
        &wf,
        STEP,
        &INSTRUCTOR,
        &facts,
        &Input::default(),
    );
    match got {
        Err(Refusal::Guard {
            guard, fr, action, ..
        }) => {
            assert_eq!((guard.as_str(), action.as_str()), ("call-open", STEP));
            assert_eq!(fr, Guard::CallOpen.refusal_fr());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn only_the_outcome_guards_read_the_eligibility_check() {
    let reading: Vec<Guard> = Guard::ALL
        .iter()
        .copied()
        .filter(|g| g.reads_eligibility())
        .collect();
    assert_eq!(
        reading,
        [Guard::Eligible, Guard::Ineligible, Guard::Incomplete]
    );
}

#[test]
fn a_guard_is_written_and_serialized_by_its_plan_name() {
    for &g in Guard::ALL {
        assert_eq!(g.to_string(), g.name());
        assert_eq!(
            serde_json::to_value(g).unwrap(),
            serde_json::Value::from(g.name())
        );
        assert_eq!(Guard::parse(g.name()), Some(g));
    }
    assert_eq!(
        Guard::parse("not-instructor"),
        None,
        "replaced, not a guard"
    );
}
