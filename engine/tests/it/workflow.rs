//! The approval circuit's decisions on the demo plan: who may take which transition, and
//! which guard refuses, each case one row.

use jiff::civil::date;
use metroplan_engine::model::RoleKind;
use metroplan_engine::rules::Outcome;
use metroplan_engine::workflow::{Actor, Effect, Facts, Input, Refusal, decide};
use rust_decimal::Decimal;

fn plan() -> metroplan_engine::Plan {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../plans/amp-pmlcd");
    metroplan_engine::load_dir(dir)
        .plan
        .expect("demo plan loads")
}

fn facts(state: &str) -> Facts {
    Facts {
        state: state.into(),
        owner: "asso".into(),
        instructors: vec!["instr".into()],
        reviewers: vec!["r1".into(), "r2".into()],
        outcome: Some(Outcome::Eligible),
        requested: Some(Decimal::from(8000)),
        awarded: Some(Decimal::from(6000)),
        paid: Decimal::ZERO,
        deadline: Some(date(2021, 3, 16)),
        today: date(2021, 3, 10),
        call_open: true,
        other_filings: 0,
        envelope_remaining: Some(Decimal::from(30000)),
        final_report: false,
    }
}

/// The guard that refuses, or `None` when the transition is allowed.
fn verdict(
    action: &str,
    who: (&str, Option<RoleKind>),
    f: Facts,
    input: Input,
) -> Result<Vec<Effect>, String> {
    let plan = plan();
    let fund = plan.fund("fonds-initiative").unwrap();
    let wf = plan.workflow(fund.workflow.as_str()).unwrap();
    let actor = Actor {
        name: who.0,
        kind: who.1,
    };
    decide(&plan, fund, wf, action, &actor, &f, &input)
        .map(|d| d.effects)
        .map_err(|r| match r {
            Refusal::Guard { guard, .. } => guard,
            Refusal::WrongRole { .. } => "wrong-role".into(),
            Refusal::NotOwner { .. } => "not-owner".into(),
            Refusal::WrongState { .. } => "wrong-state".into(),
            Refusal::UnknownAction { .. } => "unknown-action".into(),
        })
}

fn amount(a: i64) -> Input {
    Input {
        amount: Some(Decimal::from(a)),
        ..Input::default()
    }
}

/// Name, action, actor, facts, input, expected effects or refusing guard.
type Case = (
    &'static str,
    &'static str,
    (&'static str, Option<RoleKind>),
    Facts,
    Input,
    Result<Vec<Effect>, String>,
);

const ELUE: (&str, Option<RoleKind>) = ("elue", Some(RoleKind::Approver));

#[test]
fn decisions_of_the_demo_circuit() {
    let closed = Facts {
        call_open: false,
        ..facts("brouillon")
    };
    let filed = Facts {
        other_filings: 1,
        ..facts("brouillon")
    };
    let one_opinion = Facts {
        reviewers: vec!["r1".into()],
        ..facts("avis-comite")
    };
    let late = Facts {
        today: date(2021, 3, 17),
        ..facts("incomplet")
    };
    let tight = Facts {
        envelope_remaining: Some(Decimal::from(5000)),
        ..facts("a-decider")
    };
    let advanced = Facts {
        paid: Decimal::from(3000),
        final_report: true,
        ..facts("bilan-depose")
    };
    let cases: Vec<Case> = vec![
        (
            "file",
            "deposer",
            ("asso", Some(RoleKind::Applicant)),
            facts("brouillon"),
            Input::default(),
            Ok(vec![]),
        ),
        (
            "file for someone else",
            "deposer",
            ("autre", Some(RoleKind::Applicant)),
            facts("brouillon"),
            Input::default(),
            Err("not-owner".into()),
        ),
        (
            "file after the call",
            "deposer",
            ("asso", Some(RoleKind::Applicant)),
            closed,
            Input::default(),
            Err("call-open".into()),
        ),
        (
            "file twice",
            "deposer",
            ("asso", Some(RoleKind::Applicant)),
            filed,
            Input::default(),
            Err("one-per-applicant".into()),
        ),
        (
            "an instructor files",
            "deposer",
            ("instr", Some(RoleKind::Instructor)),
            facts("brouillon"),
            Input::default(),
            Err("wrong-role".into()),
        ),
        (
            "a person takes an automatic step",
            "declarer-recevable",
            ("instr", Some(RoleKind::Instructor)),
            facts("depose"),
            Input::default(),
            Err("wrong-role".into()),
        ),
        (
            "automatic step",
            "declarer-recevable",
            ("system", None),
            facts("depose"),
            Input::default(),
            Ok(vec![]),
        ),
        (
            "wrong outcome",
            "declarer-irrecevable",
            ("system", None),
            facts("depose"),
            Input::default(),
            Err("ineligible".into()),
        ),
        (
            "complete late",
            "completer",
            ("asso", Some(RoleKind::Applicant)),
            late,
            Input::default(),
            Err("completion-in-time".into()),
        ),
        (
            "propose with one opinion",
            "proposer-decision",
            ("instr", Some(RoleKind::Instructor)),
            one_opinion,
            Input::default(),
            Err("min-opinions-reached".into()),
        ),
        (
            "opinion without declaration",
            "donner-avis",
            ("r3", Some(RoleKind::Reviewer)),
            facts("avis-comite"),
            Input::default(),
            Err("conflict-declared".into()),
        ),
        (
            "linked reviewer",
            "donner-avis",
            ("r3", Some(RoleKind::Reviewer)),
            facts("avis-comite"),
            Input {
                linked: Some(true),
                ..Input::default()
            },
            Err("no-conflict-of-interest".into()),
        ),
        (
            "second opinion",
            "donner-avis",
            ("r1", Some(RoleKind::Reviewer)),
            facts("avis-comite"),
            Input {
                linked: Some(false),
                ..Input::default()
            },
            Err("no-conflict-of-interest".into()),
        ),
        (
            "award",
            "attribuer",
            ELUE,
            facts("a-decider"),
            amount(6000),
            Ok(vec![Effect::Award(Decimal::from(6000))]),
        ),
        (
            "award without amount",
            "attribuer",
            ELUE,
            facts("a-decider"),
            Input::default(),
            Err("amount-within-request".into()),
        ),
        (
            "award above request",
            "attribuer",
            ELUE,
            facts("a-decider"),
            amount(8001),
            Err("amount-within-request".into()),
        ),
        (
            "award above envelope",
            "attribuer",
            ELUE,
            tight,
            amount(6000),
            Err("within-envelope".into()),
        ),
        (
            "award by the instructor",
            "attribuer",
            ("instr", Some(RoleKind::Approver)),
            facts("a-decider"),
            amount(6000),
            Err("not-instructor".into()),
        ),
        (
            "award by the filer",
            "attribuer",
            ("asso", Some(RoleKind::Approver)),
            facts("a-decider"),
            amount(6000),
            Err("not-filer".into()),
        ),
        (
            "award from the wrong state",
            "attribuer",
            ELUE,
            facts("en-instruction"),
            amount(6000),
            Err("wrong-state".into()),
        ),
        (
            "refuse without reason",
            "refuser",
            ELUE,
            facts("a-decider"),
            Input::default(),
            Err("reason-given".into()),
        ),
        (
            "advance",
            "verser-avance",
            ("fin", Some(RoleKind::Finance)),
            facts("convention-signee"),
            Input::default(),
            Ok(vec![Effect::Payment(Decimal::from(3000))]),
        ),
        (
            "balance",
            "verser-solde",
            ("fin", Some(RoleKind::Finance)),
            advanced.clone(),
            Input::default(),
            Ok(vec![Effect::Payment(Decimal::from(3000))]),
        ),
        (
            "overpayment",
            "verser-solde",
            ("fin", Some(RoleKind::Finance)),
            advanced,
            amount(3001),
            Err("payments-within-award".into()),
        ),
        (
            "balance before the report",
            "verser-solde",
            ("fin", Some(RoleKind::Finance)),
            facts("bilan-depose"),
            Input::default(),
            Err("final-report-received".into()),
        ),
        (
            "close unpaid",
            "cloturer",
            ("instr", Some(RoleKind::Instructor)),
            facts("solde-verse"),
            Input::default(),
            Err("fully-paid".into()),
        ),
        (
            "no such action",
            "voler",
            ELUE,
            facts("a-decider"),
            Input::default(),
            Err("unknown-action".into()),
        ),
    ];
    for (name, action, who, f, input, want) in cases {
        assert_eq!(verdict(action, who, f, input), want, "{name}");
    }
}

#[test]
fn the_filing_and_completion_transitions_come_from_the_plan_not_from_their_ids() {
    for name in ["amp-pmlcd", "lyon-pama"] {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../plans")
            .join(name);
        let plan = metroplan_engine::load_dir(dir)
            .plan
            .expect("the plan loads");
        for wf in &plan.workflows {
            let filing = metroplan_engine::workflow::filing(&plan, wf).expect("a way to file");
            assert!(filing.from.contains(&wf.initial), "{name}");
            assert_eq!(
                plan.role_kind_of(filing),
                Some(RoleKind::Applicant),
                "{name}"
            );
            // Nothing completes a draft; an incomplete file is completed by its applicant,
            // into the eligibility check again.
            assert!(
                metroplan_engine::workflow::completion(&plan, wf, wf.initial.as_str()).is_none()
            );
            let incomplete = wf
                .transitions
                .iter()
                .find(|t| {
                    t.guards
                        .contains(&metroplan_engine::workflow::Guard::Incomplete)
                })
                .map(|t| t.to.as_str())
                .expect("an incomplete state");
            let completion = metroplan_engine::workflow::completion(&plan, wf, incomplete)
                .expect("a way to complete");
            assert_eq!(
                plan.role_kind_of(completion),
                Some(RoleKind::Applicant),
                "{name}"
            );
            assert!(
                metroplan_engine::workflow::checks_eligibility(wf, completion.to.as_str()),
                "{name}"
            );
        }
    }
}
