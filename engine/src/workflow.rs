//! Workflow vocabulary the engine understands. Plans name guards from this list; the
//! server evaluates them. A plan cannot invent a guard, so a typo is caught at load.

/// The role of automatic steps (eligibility check on filing, deadline expiry).
pub const SYSTEM_ROLE: &str = "system";

/// Guards a transition may declare, with what they check.
pub const GUARDS: &[(&str, &str)] = &[
    (
        "call-open",
        "the fund's call for the application's year is open (in the plan's time zone)",
    ),
    (
        "one-per-applicant",
        "the applicant has no other application in the same call",
    ),
    (
        "eligible",
        "the automatic eligibility check concluded `eligible`",
    ),
    (
        "ineligible",
        "the automatic eligibility check concluded `ineligible`",
    ),
    (
        "incomplete",
        "the automatic eligibility check concluded `incomplete`",
    ),
    (
        "completion-in-time",
        "the completion deadline of an incomplete application has not passed",
    ),
    (
        "completion-overdue",
        "the completion deadline of an incomplete application has passed",
    ),
    (
        "conflict-declared",
        "the actor has declared their links of interest for this application",
    ),
    (
        "no-conflict-of-interest",
        "the actor has no declared link with the applicant",
    ),
    (
        "min-opinions-reached",
        "at least the parameter `avis-minimum` opinions were filed",
    ),
    ("not-filer", "the actor did not file the application"),
    (
        "not-instructor",
        "the actor did not instruct the application",
    ),
    (
        "amount-within-request",
        "the awarded amount is at most the requested amount",
    ),
    (
        "amount-within-ceiling",
        "the awarded amount is at most the ceiling in force at filing",
    ),
    (
        "within-envelope",
        "the awarded amount fits in what remains of the year's envelope",
    ),
    ("reason-given", "a reason is written"),
    ("agreement-signed", "the agreement is signed"),
    ("final-report-received", "the final report was received"),
    (
        "payments-within-award",
        "the total paid stays at most the awarded amount",
    ),
    ("fully-paid", "the awarded amount has been paid in full"),
];

pub fn is_guard(name: &str) -> bool {
    GUARDS.iter().any(|(g, _)| *g == name)
}
