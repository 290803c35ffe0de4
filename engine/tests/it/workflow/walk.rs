//! Random sequences of the demo plan's money steps with random amounts, the returned effects
//! applied to a running ledger: after every step taken, the built-in invariants of article 10
//! hold (nothing paid beyond the award, nothing reclaimed beyond what was paid, the advance
//! never above its rate).

use proptest::prelude::*;

use super::*;

/// The money steps, each with who takes it and the state it is taken from.
const STEPS: &[(&str, Actor<'static>, &str)] = &[
    ("attribuer", APPROVER, "a-decider"),
    ("verser-avance", FINANCE, "convention-signee"),
    ("reduire", APPROVER, "bilan-depose"),
    ("verser-solde", FINANCE, "bilan-depose"),
    ("demander-reversement", INSTRUCTOR, "avance-versee"),
    ("constater-caducite", SYSTEM, "avance-versee"),
];

#[derive(Debug, Default)]
struct Ledger {
    money: Money,
    /// Every commitment, and every decommitment, since the start.
    committed_ever: Decimal,
    released: Decimal,
}

impl Ledger {
    fn apply(&mut self, e: &Effect) {
        match e {
            Effect::Commit(a) => {
                self.money.committed += a;
                self.committed_ever += a;
            }
            Effect::Decommit(a) => {
                self.money.committed -= a;
                self.released += a;
            }
            Effect::Payment(a) => self.money.paid += a,
            Effect::Reclaim(a) => self.money.reclaimed += a,
        }
    }
}

/// A step: its index in `STEPS` and an amount in cents (`None`: the step's default).
fn steps() -> impl Strategy<Value = Vec<(usize, Option<i64>)>> {
    prop::collection::vec(
        (
            0..STEPS.len(),
            prop_oneof![
                1 => Just(None),
                3 => (1i64..1_000_000).prop_map(Some),
                1 => (-100i64..3).prop_map(Some),
            ],
        ),
        1..40,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn the_ledger_stays_within_the_award_whatever_the_steps(walk in steps()) {
        let plan = plan("amp-pmlcd");
        let (fund, wf) = fund_of(plan, "fonds-initiative");
        let rate = euros("0.5");
        let mut l = Ledger::default();
        for (i, cents) in walk {
            let (action, actor, state) = &STEPS[i];
            let facts = Facts {
                requested: Some(Decimal::from(100_000_000)),
                envelope_remaining: Some(Decimal::from(100_000_000)),
                money: l.money,
                final_report: *action == "verser-solde",
                ..base(state)
            };
            let input = Input {
                amount: cents.map(|c| Decimal::new(c, 2)),
                reason: Some("Motif".into()),
                ..Input::default()
            };
            let Ok(d) = decide(plan, fund, wf, action, actor, &facts, &input) else {
                continue;
            };
            for e in &d.effects {
                prop_assert!(!matches!(e, Effect::Commit(a) | Effect::Decommit(a) | Effect::Payment(a) | Effect::Reclaim(a) if *a <= Decimal::ZERO), "{action}: an entry of zero or less: {e:?}");
                l.apply(e);
            }
            let m = l.money;
            prop_assert!(m.committed >= Decimal::ZERO, "{action}: committed {m:?}");
            prop_assert!(Decimal::ZERO <= m.paid && m.paid <= m.committed, "{action}: paid beyond the award {m:?}");
            prop_assert!(m.paid <= l.committed_ever - l.released, "{action}: {m:?}");
            prop_assert!(m.reclaimed <= m.paid, "{action}: reclaimed beyond what was paid {m:?}");
            if *action == "verser-avance" {
                prop_assert!(m.paid <= m.committed * rate, "{action}: the advance above its rate: {m:?}");
            }
        }
    }
}

/// The walk above refuses most steps it tries; this one takes each money step once, so the
/// ledger arithmetic it relies on is checked on known sums.
#[test]
fn a_known_walk_takes_every_money_step() {
    let plan = plan("amp-pmlcd");
    let (fund, wf) = fund_of(plan, "fonds-initiative");
    let mut l = Ledger::default();
    let walk = [
        (0, Some("6000.03"), vec![commit("6000.03")]),
        (1, None, vec![payment("3000.01")]),
        (2, Some("1000"), vec![decommit("1000")]),
        (3, None, vec![payment("2000.02")]),
        (4, Some("500"), vec![reclaim("500")]),
        (5, None, vec![reclaim("4500.03")]),
    ];
    for (i, amount, want) in walk {
        let (action, actor, state) = &STEPS[i];
        let facts = Facts {
            money: l.money,
            final_report: *action == "verser-solde",
            ..base(state)
        };
        let input = Input {
            amount: amount.map(euros),
            reason: Some("Motif".into()),
            ..Input::default()
        };
        let d = decide(plan, fund, wf, action, actor, &facts, &input).expect(action);
        assert_eq!(d.effects, want, "{action}");
        d.effects.iter().for_each(|e| l.apply(e));
    }
    assert_eq!(l.money, ledger("5000.03", "5000.03", "5000.03"));
    assert_eq!(
        (l.committed_ever, l.released),
        (euros("6000.03"), euros("1000"))
    );
}
