//! The guards a transition may declare: one table gives each guard's name in plan files,
//! what it checks, the facts it reads and what the person refused is told, and [`check`]
//! has one arm per guard. The enum is closed, so a guard without an arm does not compile.
//! Parameters are named in the plan where a step reads one (a vote's quorum, an advance's
//! rate), never by a guard.

use rust_decimal::Decimal;

use super::{Actor, Facts, Input};
use crate::rules::Outcome;

macro_rules! guards {
    ($( $variant:ident = $name:literal, reads [$($fact:literal),*], $description:literal, fr $fr:literal; )*) => {
        /// A guard of the workflow vocabulary.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Guard { $( $variant, )* }

        impl Guard {
            pub const ALL: &'static [Guard] = &[ $( Guard::$variant, )* ];

            /// Its name in plan files.
            pub fn name(self) -> &'static str { match self { $( Guard::$variant => $name, )* } }

            /// What it checks, for the reference and the docs.
            pub fn description(self) -> &'static str {
                match self { $( Guard::$variant => $description, )* }
            }

            /// The facts (and inputs) it reads, by their names in the reference.
            pub fn reads(self) -> &'static [&'static str] {
                match self { $( Guard::$variant => &[$($fact),*], )* }
            }

            /// What a person refused by it reads, in French.
            pub fn refusal_fr(self) -> &'static str { match self { $( Guard::$variant => $fr, )* } }
        }
    };
}

guards! {
    CallOpen = "call-open", reads ["call_open"],
        "the fund's call for the application's year is open (in the plan's time zone)",
        fr "L'appel à projets n'est pas ouvert à cette date.";
    OnePerApplicant = "one-per-applicant", reads ["other_filings"],
        "the applicant has no other application in the same call",
        fr "Ce porteur a déjà déposé un dossier pour cet appel à projets.";
    Eligible = "eligible", reads ["outcome"],
        "the automatic eligibility check concluded `eligible`",
        fr "Le résultat du contrôle d'éligibilité ne permet pas cette étape.";
    Ineligible = "ineligible", reads ["outcome"],
        "the automatic eligibility check concluded `ineligible`",
        fr "Le résultat du contrôle d'éligibilité ne permet pas cette étape.";
    Incomplete = "incomplete", reads ["outcome"],
        "the automatic eligibility check concluded `incomplete`",
        fr "Le résultat du contrôle d'éligibilité ne permet pas cette étape.";
    CompletionInTime = "completion-in-time", reads ["deadline", "today"],
        "the deadline of the current state has not passed",
        fr "Le délai pour compléter ce dossier est dépassé.";
    CompletionOverdue = "completion-overdue", reads ["deadline", "today"],
        "the deadline of the current state has passed",
        fr "Le délai pour compléter ce dossier n'est pas encore dépassé.";
    AmountWithinRequest = "amount-within-request", reads ["amount", "requested"],
        "the amount given is a positive sum of at most the amount requested",
        fr "Le montant dépasse le montant demandé par le porteur.";
    AmountWithinCeiling = "amount-within-ceiling", reads ["amount", "requested"],
        "the amount given is at most the amount the eligibility rules accepted at filing (the ceiling in force then, with its exceptions)",
        fr "Le montant dépasse le montant retenu par le contrôle d'éligibilité (plafond).";
    WithinEnvelope = "within-envelope", reads ["amount", "envelope_remaining"],
        "the amount given fits in what remains of the year's envelope (the award's commitment checks it again in the same statement)",
        fr "Ce montant dépasserait ce qui reste de l'enveloppe de l'année.";
    ReasonGiven = "reason-given", reads ["reason"],
        "a reason is written",
        fr "Indiquez le motif.";
    AgreementSigned = "agreement-signed", reads ["signed_on", "today"],
        "the date the agreement was signed is given, and not in the future",
        fr "Indiquez la date de signature de la convention.";
    FinalReportReceived = "final-report-received", reads ["final_report"],
        "the final report was received",
        fr "Le bilan final n'a pas encore été déposé.";
    NoFinalReport = "no-final-report", reads ["final_report"],
        "the final report was not received",
        fr "Le bilan final a été déposé.";
    FullyPaid = "fully-paid", reads ["awarded", "paid"],
        "the awarded amount has been paid in full",
        fr "Le montant attribué n'a pas encore été entièrement versé.";
    Awarded = "awarded", reads ["awarded"],
        "an amount is committed for the file",
        fr "Aucun montant n'est engagé pour ce dossier.";
}

type Refused = (Option<&'static str>, String);

/// Whether guard `g` holds; the field at fault and why, when it does not.
pub(super) fn check(
    g: Guard,
    facts: &Facts,
    input: &Input,
    _actor: &Actor<'_>,
) -> Result<(), Refused> {
    let day = facts.today;
    let no = |field: Option<&'static str>, message: String| Err((field, message));
    match g {
        Guard::CallOpen if !facts.call_open => no(
            None,
            "the call for applications of this year is not open today".into(),
        ),
        Guard::OnePerApplicant if facts.other_filings > 0 => no(
            None,
            "this applicant already filed an application to this call".into(),
        ),
        Guard::Eligible | Guard::Ineligible | Guard::Incomplete => {
            let want = match g {
                Guard::Eligible => Outcome::Eligible,
                Guard::Ineligible => Outcome::Ineligible,
                _ => Outcome::Incomplete,
            };
            if facts.outcome == Some(want) {
                Ok(())
            } else {
                no(
                    None,
                    format!("the eligibility check did not conclude `{}`", want.name()),
                )
            }
        }
        Guard::CompletionInTime if facts.deadline.is_some_and(|d| day > d) => no(
            None,
            format!(
                "the deadline ({}) has passed",
                facts.deadline.map(|d| d.to_string()).unwrap_or_default()
            ),
        ),
        Guard::CompletionOverdue if facts.deadline.is_none_or(|d| day <= d) => {
            no(None, "the deadline has not passed".into())
        }
        Guard::AmountWithinRequest | Guard::AmountWithinCeiling | Guard::WithinEnvelope => {
            let Some(amount) = input.amount else {
                return no(Some("amount"), "give the amount".into());
            };
            if amount <= Decimal::ZERO || amount.normalize().scale() > 2 {
                return no(
                    Some("amount"),
                    "the amount is a positive sum in euros with at most 2 decimals".into(),
                );
            }
            let limit = match g {
                Guard::WithinEnvelope => facts.envelope_remaining,
                _ => facts.requested,
            }
            .unwrap_or(Decimal::ZERO);
            if amount <= limit {
                return Ok(());
            }
            let what = match g {
                Guard::AmountWithinRequest => "the amount requested",
                Guard::AmountWithinCeiling => "the amount the eligibility rules accepted",
                _ => "what remains of the year's envelope",
            };
            no(
                Some("amount"),
                format!("{amount} € is above {what}: {limit} €"),
            )
        }
        Guard::ReasonGiven if input.reason.as_deref().is_none_or(|r| r.trim().is_empty()) => {
            no(Some("reason"), "write the reason".into())
        }
        Guard::AgreementSigned if input.signed_on.is_none_or(|d| d > day) => no(
            Some("signed_on"),
            "give the date the agreement was signed (not in the future)".into(),
        ),
        Guard::FinalReportReceived if !facts.final_report => {
            no(None, "the final report was not received".into())
        }
        Guard::NoFinalReport if facts.final_report => {
            no(None, "the final report was received".into())
        }
        Guard::FullyPaid
            if facts.money.committed.is_zero() || facts.money.paid < facts.money.committed =>
        {
            no(
                None,
                format!(
                    "{} € paid of {} € awarded",
                    facts.money.paid, facts.money.committed
                ),
            )
        }
        Guard::Awarded if facts.money.committed <= Decimal::ZERO => {
            no(None, "no amount is committed for this file".into())
        }
        // The guard holds: each arm above refuses only when its condition fails.
        Guard::CallOpen
        | Guard::OnePerApplicant
        | Guard::CompletionInTime
        | Guard::CompletionOverdue
        | Guard::ReasonGiven
        | Guard::AgreementSigned
        | Guard::FinalReportReceived
        | Guard::NoFinalReport
        | Guard::FullyPaid
        | Guard::Awarded => Ok(()),
    }
}

impl Guard {
    /// The guard called `name` in plan files.
    pub fn parse(name: &str) -> Option<Guard> {
        Guard::ALL.iter().copied().find(|g| g.name() == name)
    }

    /// Whether it reads the outcome of the eligibility check.
    pub fn reads_eligibility(self) -> bool {
        matches!(
            self,
            Guard::Eligible | Guard::Ineligible | Guard::Incomplete
        )
    }
}

impl serde::Serialize for Guard {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl std::fmt::Display for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_guard_parses_back_from_its_name_and_names_are_unique() {
        for g in Guard::ALL {
            assert_eq!(Guard::parse(g.name()), Some(*g));
            assert_eq!(
                Guard::ALL.iter().filter(|x| x.name() == g.name()).count(),
                1
            );
        }
        assert_eq!(Guard::parse("avis-minimum"), None);
        assert_eq!(Guard::parse("not-filer"), None, "built in, not a guard");
    }

    #[test]
    fn every_guard_is_described_and_has_a_french_refusal() {
        for g in Guard::ALL {
            assert!(!g.description().is_empty(), "{g}");
            assert!(!g.reads().is_empty(), "{g}");
            for fact in g.reads() {
                let known = super::super::conditions::FACTS
                    .iter()
                    .any(|(n, _)| n == fact)
                    || ["deadline", "reason", "signed_on", "envelope_remaining"].contains(fact);
                assert!(
                    known,
                    "{g} reads `{fact}`, which the reference does not describe"
                );
            }
            let fr = g.refusal_fr();
            assert!(fr.ends_with('.'), "{g}: {fr}");
            // French typography: a no-break space before « : ; ? ! ».
            for p in [" :", " ;", " ?", " !"] {
                assert!(!fr.contains(p), "{g}: an ordinary space before `{p}`: {fr}");
            }
        }
    }
}
