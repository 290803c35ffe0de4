//! How each plan's states and steps read for people (`workflow::tone`), one table per plan:
//! a state's tone for the applicant, a step's rank among the offered ones, whether it is
//! destructive, whether it is confirmed, whether it grants or takes away.

use std::fmt::Write as _;

use metroplan_engine::workflow::tone;

use super::{fund_of, plan};

fn table(plan_name: &str, fund: &str) -> String {
    let plan = plan(plan_name);
    let (_, wf) = fund_of(plan, fund);
    let mut o = String::new();
    for s in &wf.states {
        let _ = writeln!(
            o,
            "state {}: {:?}",
            s.id,
            tone::state_tone(plan, wf, s.id.as_str())
        );
    }
    for t in &wf.transitions {
        let _ = writeln!(
            o,
            "step {}: rank {}{}{}{}{}",
            t.id,
            tone::rank(wf, t),
            if tone::destructive(wf, t) {
                ", destructive"
            } else {
                ""
            },
            if tone::needs_confirmation(wf, t) {
                ", confirmed"
            } else {
                ""
            },
            if tone::grants(t) { ", grants" } else { "" },
            if tone::takes_away(t) {
                ", takes away"
            } else {
                ""
            },
        );
    }
    o
}

#[test]
fn each_plan_reads_its_states_and_steps() {
    for (plan, fund) in [
        ("amp-pmlcd", "fonds-initiative"),
        ("lyon-pama", "aide-velo"),
    ] {
        insta::assert_snapshot!(format!("tone_{plan}"), table(plan, fund));
    }
}
