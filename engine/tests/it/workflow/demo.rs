//! The demo plan's circuit (Fonds d'initiative): who may take which step, the built-in checks
//! (the filer, separation of duties, the committee's vote, opinions and declarations of
//! interest, application data) and the Rhai condition, one row per case.

use metroplan_engine::model::{Id, Vote, VoteRule};

use super::*;

const FUND: &str = "fonds-initiative";

fn took(step: &str, who: &str) -> (String, String) {
    (step.to_string(), who.to_string())
}

#[test]
fn who_may_take_which_step() {
    run(
        "amp-pmlcd",
        FUND,
        vec![
            row("the applicant files", "deposer", APPLICANT, "brouillon"),
            row(
                "an applicant files another's draft",
                "deposer",
                person("autre", RoleKind::Applicant),
                "brouillon",
            )
            .want(Refused("not-owner")),
            row(
                "an instructor cannot file",
                "deposer",
                INSTRUCTOR,
                "brouillon",
            )
            .want(Refused("wrong-role")),
            row("metroplan does not file", "deposer", SYSTEM, "brouillon")
                .want(Refused("wrong-role")),
            row(
                "filing after the call closed",
                "deposer",
                APPLICANT,
                "brouillon",
            )
            .facts(|f| f.call_open = false)
            .want(Refused("call-open")),
            row(
                "filing twice in one call",
                "deposer",
                APPLICANT,
                "brouillon",
            )
            .facts(|f| f.other_filings = 1)
            .want(Refused("one-per-applicant")),
            row(
                "a person cannot take an automatic step",
                "declarer-recevable",
                INSTRUCTOR,
                "depose",
            )
            .want(Refused("wrong-role")),
            row(
                "metroplan finds the file eligible",
                "declarer-recevable",
                SYSTEM,
                "depose",
            ),
            row(
                "metroplan finds the file incomplete",
                "declarer-incomplet",
                SYSTEM,
                "depose",
            )
            .facts(|f| f.outcome = Some(Outcome::Incomplete)),
            row(
                "an eligible file is not declared ineligible",
                "declarer-irrecevable",
                SYSTEM,
                "depose",
            )
            .want(Refused("ineligible")),
            row(
                "completing on the deadline's last day",
                "completer",
                APPLICANT,
                "incomplet",
            )
            .facts(|f| f.today = date(2021, 3, 16)),
            row(
                "completing the day after the deadline",
                "completer",
                APPLICANT,
                "incomplet",
            )
            .facts(|f| f.today = date(2021, 3, 17))
            .want(Refused("completion-in-time")),
            row(
                "a finance agent does not decide",
                "attribuer",
                FINANCE,
                "a-decider",
            )
            .amount("6000")
            .want(Refused("wrong-role")),
            row(
                "an approver does not pay",
                "verser-avance",
                APPROVER,
                "convention-signee",
            )
            .money(ledger("6000", "0", "0"))
            .want(Refused("wrong-role")),
            row(
                "deciding from the wrong state",
                "attribuer",
                APPROVER,
                "en-instruction",
            )
            .amount("6000")
            .want(Refused("wrong-state")),
            row("no such step", "voler", APPROVER, "a-decider").want(Refused("unknown-action")),
            row(
                "the agreement is recorded with its date",
                "signer-convention",
                INSTRUCTOR,
                "attribue",
            )
            .input(|i| i.signed_on = Some(TODAY)),
            row(
                "the agreement needs its date",
                "signer-convention",
                INSTRUCTOR,
                "attribue",
            )
            .want(RefusedOn("agreement-signed", "signed_on")),
            row(
                "the final report is recorded with its required pieces",
                "deposer-bilan",
                APPLICANT,
                "avance-versee",
            )
            .facts(|f| f.pieces = vec!["bilan_final".into(), "compte_rendu_financier".into()])
            .want(Records(Recorded::FinalReport, false)),
            row(
                "the final report needs its report",
                "deposer-bilan",
                APPLICANT,
                "avance-versee",
            )
            .facts(|f| f.pieces = vec!["compte_rendu_financier".into(), "justificatifs".into()])
            .want(RefusedOn("pieces", "pieces")),
            row(
                "the final report needs its financial statement",
                "deposer-bilan",
                APPLICANT,
                "avance-versee",
            )
            .facts(|f| f.pieces = vec!["bilan_final".into(), "rib".into()])
            .want(RefusedOn("pieces", "pieces")),
            row(
                "the final report without any piece",
                "deposer-bilan",
                APPLICANT,
                "avance-versee",
            )
            .want(RefusedOn("pieces", "pieces")),
            row(
                "closing a file not fully paid",
                "cloturer",
                INSTRUCTOR,
                "solde-verse",
            )
            .money(ledger("6000", "3000", "0"))
            .want(Refused("fully-paid")),
            row(
                "closing a fully paid file",
                "cloturer",
                INSTRUCTOR,
                "solde-verse",
            )
            .money(ledger("6000", "6000", "0")),
            row(
                "refusing without a reason",
                "refuser",
                APPROVER,
                "a-decider",
            )
            .want(RefusedOn("reason-given", "reason")),
            row("refusing with a reason", "refuser", APPROVER, "a-decider").reason(),
        ],
    );
}

#[test]
fn data_comes_only_with_the_steps_that_take_it() {
    let data = |r: Row| r.input(|i| i.data = true);
    run(
        "amp-pmlcd",
        FUND,
        vec![
            data(row(
                "filing takes the application",
                "deposer",
                APPLICANT,
                "brouillon",
            )),
            data(row(
                "completing takes the application",
                "completer",
                APPLICANT,
                "incomplet",
            )),
            data(row(
                "withdrawing takes no data",
                "retirer",
                APPLICANT,
                "en-instruction",
            ))
            .want(Refused("data-not-accepted")),
            data(row(
                "the final report takes no form data",
                "deposer-bilan",
                APPLICANT,
                "avance-versee",
            ))
            .want(Refused("data-not-accepted")),
            data(row(
                "staff steps take no application data",
                "soumettre-au-comite",
                INSTRUCTOR,
                "en-instruction",
            ))
            .want(Refused("data-not-accepted")),
            data(row(
                "another applicant is refused as not the owner first",
                "retirer",
                person("autre", RoleKind::Applicant),
                "en-instruction",
            ))
            .want(Refused("not-owner")),
            row(
                "withdrawing without data",
                "retirer",
                APPLICANT,
                "en-instruction",
            ),
        ],
    );
}

#[test]
fn the_filer_takes_no_staff_step_and_duties_stay_separate() {
    let filer = |r: Row| r.facts(|f| f.actor_is_filer = true);
    run(
        "amp-pmlcd",
        FUND,
        vec![
            filer(row(
                "the filer does not submit to the committee",
                "soumettre-au-comite",
                INSTRUCTOR,
                "en-instruction",
            ))
            .want(Refused("not-filer")),
            filer(row(
                "the filer gives no opinion",
                "donner-avis",
                REVIEWER,
                "avis-comite",
            ))
            .input(|i| i.linked = Some(false))
            .want(Refused("not-filer")),
            filer(row(
                "the filer does not award",
                "attribuer",
                APPROVER,
                "a-decider",
            ))
            .amount("6000")
            .want(Refused("not-filer")),
            filer(row(
                "the filer does not pay",
                "verser-avance",
                FINANCE,
                "convention-signee",
            ))
            .money(ledger("6000", "0", "0"))
            .want(Refused("not-filer")),
            filer(row(
                "the filer files as the applicant",
                "deposer",
                APPLICANT,
                "brouillon",
            )),
            filer(row(
                "metroplan's steps ignore who filed",
                "declarer-recevable",
                SYSTEM,
                "depose",
            )),
            row(
                "whoever submitted does not give an opinion",
                "donner-avis",
                REVIEWER,
                "avis-comite",
            )
            .facts(|f| f.steps = vec![took("soumettre-au-comite", "r9")])
            .input(|i| i.linked = Some(false))
            .want(RefusedSaying("distinct-from", "`soumettre-au-comite`")),
            row(
                "a reviewer who gave an opinion does not propose",
                "proposer-decision",
                INSTRUCTOR,
                "avis-comite",
            )
            .facts(|f| {
                f.opinions = opinions(&[true, true]);
                f.steps = vec![took("donner-avis", "instr")];
            })
            .want(Refused("distinct-from")),
            row(
                "whoever proposed does not award",
                "attribuer",
                APPROVER,
                "a-decider",
            )
            .facts(|f| {
                f.steps = vec![
                    took("soumettre-au-comite", "instr"),
                    took("proposer-decision", "elue"),
                ]
            })
            .amount("6000")
            .want(RefusedSaying("distinct-from", "`proposer-decision`")),
            row(
                "whoever sent the unfavourable opinion does not refuse",
                "refuser",
                APPROVER,
                "a-decider",
            )
            .facts(|f| f.steps = vec![took("transmettre-avis-defavorable", "elue")])
            .reason()
            .want(Refused("distinct-from")),
            row(
                "another person proposed: the approver awards",
                "attribuer",
                APPROVER,
                "a-decider",
            )
            .facts(|f| f.steps = vec![took("proposer-decision", "instr")])
            .amount("6000")
            .want(effects(&[commit("6000")])),
            row(
                "a step not named in distinct_from does not separate",
                "attribuer",
                APPROVER,
                "a-decider",
            )
            .facts(|f| f.steps = vec![took("signer-convention", "elue")])
            .amount("6000")
            .want(effects(&[commit("6000")])),
            row(
                "whoever awarded does not pay the advance",
                "verser-avance",
                FINANCE,
                "convention-signee",
            )
            .facts(|f| f.steps = vec![took("attribuer", "fin")])
            .money(ledger("6000", "0", "0"))
            .want(Refused("distinct-from")),
            row(
                "whoever reduced does not pay the balance",
                "verser-solde",
                FINANCE,
                "bilan-depose",
            )
            .facts(|f| {
                f.final_report = true;
                f.steps = vec![took("reduire", "fin")];
            })
            .money(ledger("6000", "3000", "0"))
            .want(Refused("distinct-from")),
        ],
    );
}

#[test]
fn the_committee_votes_by_majority_after_its_quorum() {
    let propose = |name, given: &[bool]| {
        let o = opinions(given);
        row(name, "proposer-decision", INSTRUCTOR, "avis-comite")
            .amount("6000")
            .facts(move |f| f.opinions = o)
    };
    run(
        "amp-pmlcd",
        FUND,
        vec![
            propose("no opinion: below the quorum of 2", &[])
                .want(RefusedSaying("vote", "0 opinion(s) given, at least 2")),
            propose("one favourable opinion: below the quorum", &[true]).want(Refused("vote")),
            propose("two favourable opinions: a majority", &[true, true]),
            propose("one of two favourable: no majority", &[true, false])
                .want(RefusedSaying("vote", "no majority")),
            propose("two of three favourable: a majority", &[true, true, false]),
            propose(
                "one of three favourable: no majority",
                &[false, true, false],
            )
            .want(Refused("vote")),
            propose("a proposal above the request", &[true, true])
                .amount("9000")
                .want(Refused("amount-within-request")),
            propose("a proposal without an amount", &[true, true])
                .input(|i| i.amount = None)
                .want(Refused("amount-within-request")),
        ],
    );
}

#[test]
fn a_vote_decided_by_a_number_of_favourable_opinions() {
    // The demo plan votes by majority; a plan may count favourable opinions instead: quorum
    // `avis-minimum` (2), at least `dossiers-par-porteur` (1) favourable.
    let wf = demo_with("proposer-decision", |t| {
        t.vote = Some(Vote {
            quorum: Id::parse("avis-minimum").unwrap(),
            rule: VoteRule::Favourable(Id::parse("dossiers-par-porteur").unwrap()),
        })
    });
    let propose = |name, given: &[bool]| {
        let o = opinions(given);
        row(name, "proposer-decision", INSTRUCTOR, "avis-comite")
            .amount("6000")
            .facts(move |f| f.opinions = o)
    };
    run_demo_with(
        &wf,
        vec![
            propose(
                "favourable count: one favourable of two is enough",
                &[false, true],
            ),
            propose("favourable count: none favourable of two", &[false, false]).want(
                RefusedSaying("vote", "0 favourable opinion(s), at least 1 needed"),
            ),
            propose("favourable count: the quorum still holds", &[true])
                .want(RefusedSaying("vote", "at least 2 needed")),
        ],
    );
}

#[test]
fn an_opinion_follows_the_declaration_of_interest() {
    let avis = |name| row(name, "donner-avis", REVIEWER, "avis-comite");
    let declared = |i: &mut Input| i.linked = Some(false);
    run(
        "amp-pmlcd",
        FUND,
        vec![
            avis("an opinion without a declaration").want(RefusedOn("opinion", "linked")),
            avis("a declared link is recorded and the file stays")
                .input(|i| i.linked = Some(true))
                .want(Records(Recorded::Declaration, true)),
            avis("a declared link gives no opinion, even with one")
                .input(|i| {
                    i.linked = Some(true);
                    i.favourable = Some(true);
                })
                .want(Records(Recorded::Declaration, true)),
            avis("no link but no opinion either")
                .input(declared)
                .want(RefusedOn("opinion", "favourable")),
            avis("a favourable opinion")
                .input(|i| {
                    declared(i);
                    i.favourable = Some(true);
                })
                .want(Records(Recorded::Opinion { favourable: true }, false)),
            avis("an unfavourable opinion")
                .input(|i| {
                    declared(i);
                    i.favourable = Some(false);
                })
                .want(Records(Recorded::Opinion { favourable: false }, false)),
            avis("a reviewer who declared a link stays out")
                .facts(|f| f.declared = vec!["r9".into()])
                .input(|i| {
                    declared(i);
                    i.favourable = Some(true);
                })
                .want(RefusedSaying("opinion", "declared a link")),
            avis("a reviewer gives one opinion only")
                .facts(|f| {
                    f.opinions = vec![Opinion {
                        reviewer: "r9".into(),
                        favourable: false,
                    }]
                })
                .input(|i| {
                    declared(i);
                    i.favourable = Some(true);
                })
                .want(RefusedSaying("opinion", "already given")),
            avis("others' opinions and declarations do not stop a reviewer")
                .facts(|f| {
                    f.opinions = opinions(&[true]);
                    f.declared = vec!["r2".into()];
                })
                .input(|i| {
                    declared(i);
                    i.favourable = Some(true);
                })
                .want(Records(Recorded::Opinion { favourable: true }, false)),
        ],
    );
}

#[test]
fn the_unfavourable_opinion_goes_on_when_its_condition_holds() {
    let send = |name, given: &[bool]| {
        let o = opinions(given);
        row(
            name,
            "transmettre-avis-defavorable",
            INSTRUCTOR,
            "avis-comite",
        )
        .facts(move |f| f.opinions = o)
    };
    run(
        "amp-pmlcd",
        FUND,
        vec![
            send("no opinion yet", &[]).want(RefusedSaying("condition", "does not hold")),
            send("one unfavourable opinion is not two", &[false]).want(Refused("condition")),
            send("two unfavourable opinions", &[false, false]),
            send("a tie is not a favourable majority", &[true, false]),
            send(
                "a favourable majority is not sent as unfavourable",
                &[true, true, false],
            )
            .want(Refused("condition")),
        ],
    );
    // The decision keeps each condition with its result, for the step's record.
    let plan = plan("amp-pmlcd");
    let (fund, wf) = fund_of(plan, FUND);
    let facts = Facts {
        opinions: opinions(&[false, false]),
        ..base("avis-comite")
    };
    let d = decide(
        plan,
        fund,
        wf,
        "transmettre-avis-defavorable",
        &INSTRUCTOR,
        &facts,
        &Input::default(),
    )
    .expect("taken");
    assert_eq!(
        d.conditions,
        vec![(
            "opinions >= 2 && favourable * 2 <= opinions".to_string(),
            true
        )]
    );
    assert_eq!(d.transition.to.as_str(), "a-decider");
    // A refused condition tells the person the plan's French text.
    let facts = Facts {
        opinions: opinions(&[true, true]),
        ..base("avis-comite")
    };
    match decide(
        plan,
        fund,
        wf,
        "transmettre-avis-defavorable",
        &INSTRUCTOR,
        &facts,
        &Input::default(),
    ) {
        Err(Refusal::Guard { fr, .. }) => assert!(
            fr.starts_with("Le comité n'a pas encore rendu deux avis"),
            "{fr}"
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_condition_that_cannot_be_checked_does_not_hold() {
    let wf = demo_with("soumettre-au-comite", |t| {
        t.conditions = vec![metroplan_engine::model::Condition {
            source: "data.project.budget > 1000".into(),
            refusal: "Budget insuffisant.".into(),
        }]
    });
    let submit = |name| row(name, "soumettre-au-comite", INSTRUCTOR, "en-instruction");
    run_demo_with(
        &wf,
        vec![
            submit("a condition on the data holds")
                .facts(|f| f.data = serde_json::json!({"project": {"budget": 12000}})),
            submit("a condition on the data fails")
                .facts(|f| f.data = serde_json::json!({"project": {"budget": 10}}))
                .want(RefusedSaying("condition", "does not hold")),
            submit("a condition on missing data cannot be checked")
                .want(RefusedSaying("condition", "could not be checked")),
        ],
    );
}

#[test]
fn a_missing_piece_of_a_step_is_named_by_its_label() {
    let plan = plan("amp-pmlcd");
    let (fund, wf) = fund_of(plan, FUND);
    let facts = Facts {
        pieces: vec!["justificatifs".into()],
        ..base("avance-versee")
    };
    let refused = decide(
        plan,
        fund,
        wf,
        "deposer-bilan",
        &APPLICANT,
        &facts,
        &Input::default(),
    )
    .map(|_| ())
    .expect_err("refused without the report");
    let Refusal::Guard { fr, message, .. } = refused else {
        panic!("a guard's refusal: {refused:?}");
    };
    assert_eq!(
        fr,
        "Joignez d'abord\u{a0}: Bilan final de l'action et Compte rendu financier."
    );
    assert!(
        message.ends_with("bilan_final, compte_rendu_financier"),
        "{message}"
    );
}

#[test]
fn a_payment_without_an_amount_books_what_default_amount_announces() {
    // The page says what a payment step pays when given no amount: the engine's
    // `default_amount`, which must be what `decide` books.
    let plan = plan("amp-pmlcd");
    let (fund, wf) = fund_of(plan, "fonds-initiative");
    for (action, actor, state, money) in [
        (
            "verser-avance",
            FINANCE,
            "convention-signee",
            ledger("6000", "0", "0"),
        ),
        (
            "verser-avance",
            FINANCE,
            "convention-signee",
            ledger("6000.05", "1000", "0"),
        ),
        (
            "verser-solde",
            FINANCE,
            "bilan-depose",
            ledger("6000", "3000", "0"),
        ),
        (
            "demander-reversement",
            INSTRUCTOR,
            "avance-versee",
            ledger("6000", "3000", "500"),
        ),
    ] {
        let t = wf
            .transitions
            .iter()
            .find(|t| t.id.as_str() == action)
            .expect("the step");
        let mut facts = base(state);
        facts.money = money;
        facts.final_report = true;
        let input = Input {
            reason: Some("motif".into()),
            ..Input::default()
        };
        let d = metroplan_engine::workflow::decide(plan, fund, wf, action, &actor, &facts, &input)
            .unwrap_or_else(|r| panic!("{action}: {r:?}"));
        let booked: Vec<Decimal> = d
            .effects
            .iter()
            .filter_map(|e| match e {
                Effect::Payment(a) | Effect::Reclaim(a) => Some(*a),
                _ => None,
            })
            .collect();
        let announced: Vec<Decimal> = t
            .effects
            .iter()
            .filter_map(|e| metroplan_engine::workflow::default_amount(fund, e, &money, TODAY))
            .collect();
        assert_eq!(booked, announced, "{action} on {money:?}");
        assert!(!booked.is_empty(), "{action}: something is paid");
    }
    // Nothing due: nothing announced.
    let advance = wf
        .transitions
        .iter()
        .find(|t| t.id.as_str() == "verser-avance")
        .unwrap();
    assert_eq!(
        metroplan_engine::workflow::default_amount(
            fund,
            &advance.effects[0],
            &ledger("6000", "3000", "0"),
            TODAY
        ),
        None
    );
}
