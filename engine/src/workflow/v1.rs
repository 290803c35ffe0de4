//! What the first workflow language fixed that v2 declares in the plan: the guards it had that
//! are now built in or declared otherwise (with what to write instead), and the fund
//! parameters two of them read by fixed names. `metroplan check` explains a v1 guard with
//! [`REPLACED`]; `metroplan migrate` rewrites a v1 plan with the same table.

/// Each v1 guard gone in v2, with what to write instead.
pub const REPLACED: &[(&str, &str)] = &[
    (
        "min-opinions-reached",
        "declare the committee's vote: `vote = { quorum = \"<parameter>\", rule = \"majority\" }`",
    ),
    (
        "conflict-declared",
        "declare `records = \"opinion\"` on the step where reviewers give their opinion: it requires their declaration of interest",
    ),
    (
        "no-conflict-of-interest",
        "declare `records = \"opinion\"` on the step where reviewers give their opinion: a declared link is recorded and keeps the reviewer out",
    ),
    (
        "not-filer",
        "remove it: the filer never takes a staff step, whatever the plan says",
    ),
    (
        "not-instructor",
        "name the steps this one must be separated from: `distinct_from = [\"<transition>\", …]`",
    ),
    (
        "payments-within-award",
        "declare the payment: `effects = [\"advance\"]` with `rate = \"<parameter>\"`, or `effects = [\"balance\"]`",
    ),
];

/// The fund parameter v1's `min-opinions-reached` read: the quorum a migrated vote names.
pub const QUORUM_PARAMETER: &str = "avis-minimum";

/// The fund parameter v1's `payments-within-award` read for the first payment: the rate a
/// migrated advance names.
pub const ADVANCE_RATE_PARAMETER: &str = "taux-avance";

/// Whether `guard` is a v1 guard that v2 no longer has.
pub fn is_replaced(guard: &str) -> bool {
    REPLACED.iter().any(|(g, _)| *g == guard)
}
