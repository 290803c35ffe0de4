//! The guards a transition may declare: one table gives each guard's name in plan files,
//! what it checks, the fund parameter it reads and what the person refused is told. The
//! enum is closed, so [`super::decide`] handles every guard or does not compile.

/// Parameters the guards read, by the id a fund gives them.
pub const PARAM_MIN_OPINIONS: &str = "avis-minimum";
/// The share of the award paid as an advance at the first payment.
pub const PARAM_ADVANCE_RATE: &str = "taux-avance";

macro_rules! guards {
    ($( $variant:ident = $name:literal, param $param:expr, $description:literal, fr $fr:literal; )*) => {
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

            /// The fund parameter it reads, if any: a fund whose workflow uses the guard must
            /// declare it (E021).
            pub fn param(self) -> Option<&'static str> { match self { $( Guard::$variant => $param, )* } }

            /// What a person refused by it reads, in French.
            pub fn refusal_fr(self) -> &'static str { match self { $( Guard::$variant => $fr, )* } }
        }
    };
}

guards! {
    CallOpen = "call-open", param None,
        "the fund's call for the application's year is open (in the plan's time zone)",
        fr "L'appel à projets n'est pas ouvert à cette date.";
    OnePerApplicant = "one-per-applicant", param None,
        "the applicant has no other application in the same call",
        fr "Ce porteur a déjà déposé un dossier pour cet appel à projets.";
    Eligible = "eligible", param None,
        "the automatic eligibility check concluded `eligible`",
        fr "Le résultat du contrôle d'éligibilité ne permet pas cette étape.";
    Ineligible = "ineligible", param None,
        "the automatic eligibility check concluded `ineligible`",
        fr "Le résultat du contrôle d'éligibilité ne permet pas cette étape.";
    Incomplete = "incomplete", param None,
        "the automatic eligibility check concluded `incomplete`",
        fr "Le résultat du contrôle d'éligibilité ne permet pas cette étape.";
    CompletionInTime = "completion-in-time", param None,
        "the completion deadline of an incomplete application has not passed",
        fr "Le délai pour compléter ce dossier est dépassé.";
    CompletionOverdue = "completion-overdue", param None,
        "the completion deadline of an incomplete application has passed",
        fr "Le délai pour compléter ce dossier n'est pas encore dépassé.";
    ConflictDeclared = "conflict-declared", param None,
        "the actor has declared their links of interest for this application",
        fr "Déclarez d'abord si vous avez un lien d'intérêt avec le porteur.";
    NoConflictOfInterest = "no-conflict-of-interest", param None,
        "the actor has no declared link with the applicant and has not given an opinion yet",
        fr "Vous avez déclaré un lien d'intérêt avec le porteur ou déjà donné votre avis : vous ne pouvez pas donner d'avis sur ce dossier.";
    MinOpinionsReached = "min-opinions-reached", param Some(PARAM_MIN_OPINIONS),
        "at least as many opinions were given as the fund's parameter `avis-minimum` says",
        fr "Le nombre minimal d'avis du comité de sélection n'est pas encore atteint.";
    NotFiler = "not-filer", param None,
        "the actor did not file the application",
        fr "Vous ne pouvez pas agir sur un dossier que vous avez déposé.";
    NotInstructor = "not-instructor", param None,
        "the actor did not instruct the application",
        fr "Vous avez instruit ce dossier : la décision revient à une autre personne.";
    AmountWithinRequest = "amount-within-request", param None,
        "the awarded amount is at most the requested amount",
        fr "Le montant dépasse le montant demandé par le porteur.";
    AmountWithinCeiling = "amount-within-ceiling", param None,
        "the awarded amount is at most the amount the eligibility rules accepted at filing (the ceiling in force then, with its exceptions)",
        fr "Le montant dépasse le montant retenu par le contrôle d'éligibilité (plafond).";
    WithinEnvelope = "within-envelope", param None,
        "the awarded amount fits in what remains of the year's envelope",
        fr "Ce montant dépasserait ce qui reste de l'enveloppe de l'année.";
    ReasonGiven = "reason-given", param None,
        "a reason is written",
        fr "Indiquez le motif.";
    AgreementSigned = "agreement-signed", param None,
        "the agreement is signed",
        fr "Indiquez la date de signature de la convention.";
    FinalReportReceived = "final-report-received", param None,
        "the final report was received",
        fr "Le bilan final n'a pas encore été déposé.";
    PaymentsWithinAward = "payments-within-award", param None,
        "the total paid stays at most the awarded amount (the first payment is the advance at the fund's `taux-avance`, when it has one)",
        fr "Le total versé dépasserait le montant attribué.";
    FullyPaid = "fully-paid", param None,
        "the awarded amount has been paid in full",
        fr "Le montant attribué n'a pas encore été entièrement versé.";
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
    }

    #[test]
    fn every_guard_is_described_and_has_a_french_refusal() {
        for g in Guard::ALL {
            assert!(!g.description().is_empty(), "{g}");
            let fr = g.refusal_fr();
            assert!(fr.ends_with('.'), "{g}: {fr}");
            // French typography: a no-break space before « : ; ? ! ».
            for p in [" :", " ;", " ?", " !"] {
                assert!(!fr.contains(p), "{g}: an ordinary space before `{p}`: {fr}");
            }
        }
    }
}
