//! What steps do to the money, with the built-in caps: the award, the advance within its rate
//! (`taux-avance`, 50 %), the balance within the award, reductions and reclaims within what
//! there is, the release of what is unpaid. On the demo plan, then on effects the demo plan
//! guards otherwise (its guards refuse first there).

use metroplan_engine::model::MoneyEffect;

use super::*;

const FUND: &str = "fonds-initiative";

#[test]
fn the_award_commits_the_amount_decided() {
    let award = |name| row(name, "attribuer", APPROVER, "a-decider");
    run(
        "amp-pmlcd",
        FUND,
        vec![
            award("the award commits its amount")
                .amount("6000")
                .want(effects(&[commit("6000")])),
            award("an award of the whole request")
                .amount("8000")
                .want(effects(&[commit("8000")])),
            award("an award in cents")
                .amount("6000.50")
                .want(effects(&[commit("6000.50")])),
            award("an award above the request")
                .amount("8000.01")
                .want(Refused("amount-within-request")),
            award("an award without an amount").want(RefusedOn("amount-within-request", "amount")),
            award("an award above the envelope")
                .facts(|f| f.envelope_remaining = Some(Decimal::from(5000)))
                .amount("6000")
                .want(Refused("within-envelope")),
        ],
    );
    // Without the guards, the effect itself needs a positive amount with at most 2 decimals.
    let wf = demo_with("attribuer", |t| t.guards.clear());
    let award = |name| row(name, "attribuer", APPROVER, "a-decider");
    run_demo_with(
        &wf,
        vec![
            award("award effect: an amount is needed")
                .want(RefusedSaying("payment", "give the amount awarded")),
            award("award effect: zero is not an award")
                .amount("0")
                .want(RefusedOn("payment", "amount")),
            award("award effect: a negative award")
                .amount("-5")
                .want(RefusedOn("payment", "amount")),
            award("award effect: a thousandth of a euro")
                .amount("100.001")
                .want(RefusedSaying("payment", "2 decimals")),
            award("award effect: trailing zeros are cents")
                .amount("100.1000")
                .want(effects(&[commit("100.1")])),
            award("award effect: one cent")
                .amount("0.01")
                .want(effects(&[commit("0.01")])),
        ],
    );
}

#[test]
fn the_advance_never_exceeds_its_rate() {
    let advance = |name| row(name, "verser-avance", FINANCE, "convention-signee");
    run(
        "amp-pmlcd",
        FUND,
        vec![
            advance("the advance defaults to half the award")
                .money(ledger("6000", "0", "0"))
                .want(effects(&[payment("3000")])),
            advance("an advance of exactly half the award")
                .money(ledger("6000", "0", "0"))
                .amount("3000")
                .want(effects(&[payment("3000")])),
            advance("an advance a cent above half the award")
                .money(ledger("6000", "0", "0"))
                .amount("3000.01")
                .want(RefusedSaying(
                    "payment",
                    "3000.01 € is above the advance at its rate: 3000",
                )),
            advance("a smaller advance")
                .money(ledger("6000", "0", "0"))
                .amount("1000")
                .want(effects(&[payment("1000")])),
            advance("the advance defaults to what remains of it")
                .money(ledger("6000", "1000", "0"))
                .want(effects(&[payment("2000")])),
            advance("what remains of the advance, plus a cent")
                .money(ledger("6000", "1000", "0"))
                .amount("2000.01")
                .want(Refused("payment")),
            advance("the advance already paid at its rate")
                .money(ledger("6000", "3000", "0"))
                .want(RefusedSaying("payment", "is paid already")),
            advance("no advance on nothing awarded").want(Refused("payment")),
            advance("an advance in thousandths of a euro")
                .money(ledger("6000", "0", "0"))
                .amount("0.001")
                .want(RefusedSaying("payment", "2 decimals")),
            advance("the advance on an odd cent is rounded down")
                .money(ledger("3333.33", "0", "0"))
                .want(effects(&[payment("1666.66")])),
            advance("the advance on an odd cent never rounds above the rate")
                .money(ledger("0.03", "0", "0"))
                .want(effects(&[payment("0.01")])),
            advance("half a cent above the rate is refused")
                .money(ledger("3333.35", "0", "0"))
                .amount("1666.68")
                .want(Refused("payment")),
        ],
    );
}

#[test]
fn the_balance_pays_the_award_less_what_was_paid() {
    let balance =
        |name| row(name, "verser-solde", FINANCE, "bilan-depose").facts(|f| f.final_report = true);
    run(
        "amp-pmlcd",
        FUND,
        vec![
            balance("the balance defaults to what is unpaid")
                .money(ledger("6000", "3000", "0"))
                .want(effects(&[payment("3000")])),
            balance("a balance of exactly what is unpaid")
                .money(ledger("6000", "3000", "0"))
                .amount("3000")
                .want(effects(&[payment("3000")])),
            balance("a balance a cent above the award")
                .money(ledger("6000", "3000", "0"))
                .amount("3000.01")
                .want(RefusedSaying(
                    "payment",
                    "above the award less what was paid: 3000 €",
                )),
            balance("a partial balance")
                .money(ledger("6000", "3000", "0"))
                .amount("2500")
                .want(effects(&[payment("2500")])),
            balance("nothing due once fully paid")
                .money(ledger("6000", "6000", "0"))
                .want(RefusedSaying("payment", "nothing is due")),
            balance("a balance in thousandths of a euro")
                .money(ledger("6000", "3000", "0"))
                .amount("1.005")
                .want(Refused("payment")),
            row(
                "no balance before the final report",
                "verser-solde",
                FINANCE,
                "bilan-depose",
            )
            .money(ledger("6000", "3000", "0"))
            .want(Refused("final-report-received")),
        ],
    );
}

#[test]
fn a_reduction_is_motivated_and_within_what_is_unpaid() {
    let reduce = |name| {
        row(name, "reduire", APPROVER, "bilan-depose")
            .money(ledger("6000", "3000", "0"))
            .reason()
    };
    run(
        "amp-pmlcd",
        FUND,
        vec![
            reduce("a reduction decommits its amount")
                .amount("1000")
                .want(effects(&[decommit("1000")])),
            reduce("a reduction of all that is unpaid")
                .amount("3000")
                .want(effects(&[decommit("3000")])),
            reduce("a reduction a cent above what is unpaid")
                .amount("3000.01")
                .want(RefusedSaying(
                    "payment",
                    "above what is committed and not paid: 3000 €",
                )),
            reduce("a reduction without an amount").want(RefusedSaying("payment", "reduced by")),
            reduce("a reduction of zero")
                .amount("0")
                .want(RefusedOn("payment", "amount")),
            row(
                "a reduction without a reason",
                "reduire",
                APPROVER,
                "bilan-depose",
            )
            .money(ledger("6000", "3000", "0"))
            .amount("1000")
            .want(RefusedOn("reason-given", "reason")),
        ],
    );
    // Without its guard, the effect itself asks for the reason.
    let wf = demo_with("reduire", |t| t.guards.clear());
    run_demo_with(
        &wf,
        vec![
            row(
                "reduce effect: a reason is needed",
                "reduire",
                APPROVER,
                "bilan-depose",
            )
            .money(ledger("6000", "3000", "0"))
            .amount("1000")
            .want(RefusedOn("payment", "reason")),
            row(
                "reduce effect: a blank reason is none",
                "reduire",
                APPROVER,
                "bilan-depose",
            )
            .money(ledger("6000", "3000", "0"))
            .amount("1000")
            .input(|i| i.reason = Some(" ".into()))
            .want(RefusedOn("payment", "reason")),
        ],
    );
}

#[test]
fn a_lapse_releases_what_is_unpaid_and_reclaims_what_was_paid() {
    let lapse = |name, state| row(name, "constater-caducite", SYSTEM, state);
    let reclaim_of = |name| row(name, "demander-reversement", INSTRUCTOR, "avance-versee").reason();
    run(
        "amp-pmlcd",
        FUND,
        vec![
            lapse("a lapse before any payment releases the award", "attribue")
                .money(ledger("6000", "0", "0"))
                .want(effects(&[decommit("6000")])),
            lapse(
                "a lapse after the advance releases the rest and reclaims it",
                "avance-versee",
            )
            .money(ledger("6000", "3000", "0"))
            .want(effects(&[decommit("3000"), reclaim("3000")])),
            lapse(
                "a lapse reclaims only what was not reclaimed",
                "avance-versee",
            )
            .money(ledger("6000", "3000", "1000"))
            .want(effects(&[decommit("3000"), reclaim("2000")])),
            lapse("no lapse once the final report is in", "avance-versee")
                .money(ledger("6000", "3000", "0"))
                .facts(|f| f.final_report = true)
                .want(Refused("no-final-report")),
            reclaim_of("a reclaim defaults to all that was paid")
                .money(ledger("6000", "3000", "0"))
                .want(effects(&[decommit("3000"), reclaim("3000")])),
            reclaim_of("a partial reclaim")
                .money(ledger("6000", "3000", "0"))
                .amount("1000")
                .want(effects(&[decommit("3000"), reclaim("1000")])),
            reclaim_of("a reclaim of exactly what was paid")
                .money(ledger("6000", "3000", "0"))
                .amount("3000")
                .want(effects(&[decommit("3000"), reclaim("3000")])),
            reclaim_of("a reclaim a cent above what was paid")
                .money(ledger("6000", "3000", "0"))
                .amount("3000.01")
                .want(RefusedSaying(
                    "payment",
                    "above what was paid and not reclaimed: 3000 €",
                )),
            reclaim_of("a reclaim in thousandths of a euro")
                .money(ledger("6000", "3000", "0"))
                .amount("0.001")
                .want(Refused("payment")),
            reclaim_of("nothing released once fully paid")
                .money(ledger("6000", "6000", "0"))
                .want(effects(&[reclaim("6000")])),
            reclaim_of("nothing to reclaim when all is reclaimed")
                .money(ledger("6000", "6000", "6000"))
                .want(effects(&[])),
            reclaim_of("an amount to reclaim when all is reclaimed")
                .money(ledger("6000", "6000", "6000"))
                .amount("1")
                .want(Refused("payment")),
            row(
                "a reclaim needs a reason",
                "demander-reversement",
                INSTRUCTOR,
                "avance-versee",
            )
            .money(ledger("6000", "3000", "0"))
            .want(Refused("reason-given")),
        ],
    );
    // A person cannot take the lapse: it is metroplan's, on its timer.
    run(
        "amp-pmlcd",
        FUND,
        vec![
            row(
                "an instructor does not declare a lapse",
                "constater-caducite",
                INSTRUCTOR,
                "attribue",
            )
            .want(Refused("wrong-role")),
        ],
    );
}

#[test]
fn the_demo_plan_declares_the_effects_of_article_10() {
    let (_, wf) = fund_of(plan("amp-pmlcd"), FUND);
    let of = |id: &str| {
        wf.transitions
            .iter()
            .find(|t| t.id.as_str() == id)
            .map(|t| t.effects.iter().map(MoneyEffect::name).collect::<Vec<_>>())
            .unwrap()
    };
    assert_eq!(of("attribuer"), ["award"]);
    assert_eq!(of("verser-avance"), ["advance"]);
    assert_eq!(of("reduire"), ["reduce"]);
    assert_eq!(of("verser-solde"), ["balance"]);
    assert_eq!(of("constater-caducite"), ["release", "reclaim"]);
    assert_eq!(of("demander-reversement"), ["release", "reclaim"]);
}
