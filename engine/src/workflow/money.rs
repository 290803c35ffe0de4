//! What steps do to the money, and the committee's vote. A file's ledger is the sum of its
//! entries; the effects a plan declares turn into entries here, each bounded by the
//! built-in invariants: payments within the award, the advance within its rate, reductions
//! and reclaims within what there is.

use rust_decimal::Decimal;

use super::{Effect, Facts, Input, Refusal, param, refuse};
use crate::model::{Fund, MoneyEffect, Transition, Vote, VoteRule};

/// A file's ledger: sums of its entries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Money {
    /// Commitments less decommitments.
    pub committed: Decimal,
    pub paid: Decimal,
    pub reclaimed: Decimal,
}

fn positive_cents(action: &str, amount: Decimal) -> Result<Decimal, Refusal> {
    if amount <= Decimal::ZERO || amount.normalize().scale() > 2 {
        return Err(refuse(
            action,
            "payment",
            Some("amount"),
            "the amount is a positive sum in euros with at most 2 decimals".into(),
            "Le montant est une somme positive en euros, avec au plus deux décimales.",
        ));
    }
    Ok(amount)
}

fn above(action: &str, amount: Decimal, cap: Decimal, what: &str, fr: &str) -> Refusal {
    refuse(
        action,
        "payment",
        Some("amount"),
        format!("{amount} € is above {what}: {cap} €"),
        fr,
    )
}

/// The most an advance at `rate` may still pay: rounded down to the cent, it never exceeds
/// its rate, not even by half a cent (article 10: « jamais davantage »).
fn advance_cap(m: &Money, rate: Decimal) -> Decimal {
    (m.committed * rate).round_dp_with_strategy(2, rust_decimal::RoundingStrategy::ToZero) - m.paid
}

/// What a payment or a reclaim pays when the step is given no amount, as [`effects`] books
/// it: the advance at its rate less what was paid, the award less what was paid, what was
/// paid and not reclaimed. `None` for the other effects, or when nothing is due.
pub fn default_amount(
    fund: &Fund,
    effect: &MoneyEffect,
    m: &Money,
    today: jiff::civil::Date,
) -> Option<Decimal> {
    let due = match effect {
        MoneyEffect::Advance { rate } => advance_cap(m, param(fund, rate.as_str(), today)?),
        MoneyEffect::Balance => m.committed - m.paid,
        MoneyEffect::Reclaim => m.paid - m.reclaimed,
        _ => return None,
    };
    (due > Decimal::ZERO).then_some(due)
}

/// The ledger entries of the step's declared effects.
pub(super) fn effects(
    fund: &Fund,
    action: &str,
    t: &Transition,
    facts: &Facts,
    input: &Input,
) -> Result<Vec<Effect>, Refusal> {
    let m = facts.money;
    let unpaid = m.committed - m.paid;
    let mut out = Vec::new();
    for e in &t.effects {
        match e {
            MoneyEffect::Award => {
                let Some(amount) = input.amount else {
                    return Err(refuse(
                        action,
                        "payment",
                        Some("amount"),
                        "give the amount awarded".into(),
                        "Indiquez le montant attribué.",
                    ));
                };
                out.push(Effect::Commit(positive_cents(action, amount)?));
            }
            MoneyEffect::Reduce => {
                if input.reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
                    return Err(refuse(
                        action,
                        "payment",
                        Some("reason"),
                        "a reduction is motivated: write the reason".into(),
                        "Une réduction est motivée\u{a0}: indiquez le motif.",
                    ));
                }
                let Some(amount) = input.amount else {
                    return Err(refuse(
                        action,
                        "payment",
                        Some("amount"),
                        "give the amount the award is reduced by".into(),
                        "Indiquez le montant de la réduction.",
                    ));
                };
                let amount = positive_cents(action, amount)?;
                if amount > unpaid {
                    return Err(above(
                        action,
                        amount,
                        unpaid,
                        "what is committed and not paid",
                        "La réduction dépasse la part de l'aide qui n'a pas été versée.",
                    ));
                }
                out.push(Effect::Decommit(amount));
            }
            MoneyEffect::Release => {
                if unpaid > Decimal::ZERO {
                    out.push(Effect::Decommit(unpaid));
                }
            }
            MoneyEffect::Advance { rate } => {
                let Some(r) = param(fund, rate.as_str(), facts.today) else {
                    return Err(refuse(
                        action,
                        "payment",
                        None,
                        format!("the fund has no value of `{rate}` today"),
                        "Le taux de l'avance n'est pas fixé à cette date.",
                    ));
                };
                let cap = advance_cap(&m, r);
                if cap <= Decimal::ZERO {
                    return Err(refuse(
                        action,
                        "payment",
                        None,
                        format!(
                            "the advance is at most {} × {} €, and {} € is paid already",
                            r, m.committed, m.paid
                        ),
                        "L'avance a déjà été versée à son taux.",
                    ));
                }
                let amount = positive_cents(action, input.amount.unwrap_or(cap))?;
                if amount > cap {
                    return Err(above(
                        action,
                        amount,
                        cap,
                        "the advance at its rate",
                        "L'avance ne dépasse jamais son taux.",
                    ));
                }
                out.push(Effect::Payment(amount));
            }
            MoneyEffect::Balance => {
                if unpaid <= Decimal::ZERO {
                    return Err(refuse(
                        action,
                        "payment",
                        None,
                        format!(
                            "{} € paid of {} € awarded: nothing is due",
                            m.paid, m.committed
                        ),
                        "Le montant attribué a déjà été entièrement versé.",
                    ));
                }
                let amount = positive_cents(action, input.amount.unwrap_or(unpaid))?;
                if amount > unpaid {
                    return Err(above(
                        action,
                        amount,
                        unpaid,
                        "the award less what was paid",
                        "Le total versé dépasserait le montant attribué.",
                    ));
                }
                out.push(Effect::Payment(amount));
            }
            MoneyEffect::Reclaim => {
                let cap = m.paid - m.reclaimed;
                match input.amount {
                    None if cap > Decimal::ZERO => out.push(Effect::Reclaim(cap)),
                    None => {}
                    Some(a) => {
                        let a = positive_cents(action, a)?;
                        if a > cap {
                            return Err(above(
                                action,
                                a,
                                cap,
                                "what was paid and not reclaimed",
                                "Le reversement dépasse ce qui a été versé.",
                            ));
                        }
                        out.push(Effect::Reclaim(a));
                    }
                }
            }
        }
    }
    Ok(out)
}

/// The committee's vote: the quorum of opinions given, then its rule.
pub(super) fn vote(fund: &Fund, action: &str, v: &Vote, facts: &Facts) -> Result<(), Refusal> {
    vote_holds(fund, v, &facts.opinions, facts.today)
        .map_err(|(why, fr)| refuse(action, "vote", None, why, fr))
}

/// Whether the committee's opinions carry `v` on `today`: `Err` gives why not (for logs and
/// the API) and the French sentence a page shows beside the step it holds back.
pub fn vote_holds(
    fund: &Fund,
    v: &Vote,
    opinions: &[super::Opinion],
    today: jiff::civil::Date,
) -> Result<(), (String, &'static str)> {
    let given = Decimal::from(opinions.len() as u64);
    let favourable = opinions.iter().filter(|o| o.favourable).count() as u64;
    let quorum = param(fund, v.quorum.as_str(), today).unwrap_or(Decimal::ONE);
    if given < quorum {
        return Err((
            format!("{given} opinion(s) given, at least {quorum} needed"),
            "Le nombre minimal d'avis du comité n'est pas encore atteint.",
        ));
    }
    let (passed, why) = match &v.rule {
        VoteRule::Majority => (
            Decimal::from(favourable * 2) > given,
            format!("{favourable} favourable opinion(s) of {given}: no majority"),
        ),
        VoteRule::Favourable(p) => {
            let need = param(fund, p.as_str(), today).unwrap_or(Decimal::ONE);
            (
                Decimal::from(favourable) >= need,
                format!("{favourable} favourable opinion(s), at least {need} needed"),
            )
        }
    };
    if passed {
        Ok(())
    } else {
        Err((why, "L'avis du comité n'est pas favorable."))
    }
}
