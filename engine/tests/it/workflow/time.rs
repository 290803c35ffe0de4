//! Time in the demo circuit: the day each timed transition fires and each reminder is due,
//! which transitions are automatic, and the workflow functions the server asks (filing,
//! completion, pieces and data a state accepts, whether a file is filed).

use metroplan_engine::workflow::{
    Dates, accepts_data, accepts_pieces, automatic, checks_eligibility, completion, filing,
    is_filed, reminder_day, reminders, timer_day, timers,
};
use serde_json::json;

use super::*;

fn demo() -> (&'static Fund, &'static Workflow) {
    fund_of(plan("amp-pmlcd"), "fonds-initiative")
}

fn transition<'w>(wf: &'w Workflow, id: &str) -> &'w metroplan_engine::model::Transition {
    wf.transitions.iter().find(|t| t.id.as_str() == id).unwrap()
}

fn ids<'a, T: 'a>(items: impl Iterator<Item = &'a T>, id: impl Fn(&T) -> &str) -> Vec<String> {
    items.map(|t| id(t).to_string()).collect()
}

#[test]
fn each_timer_fires_on_its_day() {
    let (fund, wf) = demo();
    let ends = json!({"project": {"ends_on": "2021-06-30"}});
    let ends_in_november = json!({"project": {"ends_on": "2021-11-30"}});
    let no_end = json!({"project": {}});
    let entered = |state: &str, day: Date| vec![(state.to_string(), day)];
    let rows: Vec<(&str, &str, Dates<'_>, Option<Date>)> = vec![
        (
            "an incomplete file is closed the day after its deadline",
            "classer-a-echeance",
            Dates {
                deadline: Some(date(2021, 3, 16)),
                ..Dates::default()
            },
            Some(date(2021, 3, 17)),
        ),
        (
            "no deadline, no closing",
            "classer-a-echeance",
            Dates::default(),
            None,
        ),
        (
            "silence is a rejection 2 months after the file was first in instruction",
            "rejeter-implicitement",
            Dates {
                entered: Some(date(2021, 4, 20)),
                first_entered: [
                    entered("depose", date(2021, 3, 1)),
                    entered("en-instruction", date(2021, 3, 10)),
                    entered("avis-comite", date(2021, 4, 20)),
                ]
                .concat(),
                ..Dates::default()
            },
            Some(date(2021, 5, 10)),
        ),
        (
            "2 months after 31 December is the end of February",
            "rejeter-implicitement",
            Dates {
                first_entered: entered("en-instruction", date(2021, 12, 31)),
                ..Dates::default()
            },
            Some(date(2022, 2, 28)),
        ),
        (
            "no silence counted before the file was in instruction",
            "rejeter-implicitement",
            Dates {
                entered: Some(date(2021, 3, 1)),
                ..Dates::default()
            },
            None,
        ),
        (
            "the award lapses the day after the action's end plus 3 months",
            "constater-caducite",
            Dates {
                data: Some(&ends),
                ..Dates::default()
            },
            Some(date(2021, 10, 1)),
        ),
        (
            "3 months after 30 November is the end of February, and it lapses the next day",
            "constater-caducite",
            Dates {
                data: Some(&ends_in_november),
                ..Dates::default()
            },
            Some(date(2022, 3, 1)),
        ),
        (
            "no end date, no lapse",
            "constater-caducite",
            Dates {
                data: Some(&no_end),
                ..Dates::default()
            },
            None,
        ),
    ];
    for (name, id, dates, want) in rows {
        assert_eq!(timer_day(fund, transition(wf, id), &dates), want, "{name}");
    }
    // A transition without a timer fires on no day.
    let d = Dates {
        deadline: Some(date(2021, 3, 16)),
        entered: Some(TODAY),
        ..Dates::default()
    };
    assert_eq!(timer_day(fund, transition(wf, "completer"), &d), None);
}

#[test]
fn each_reminder_is_due_on_its_day() {
    let (fund, wf) = demo();
    let ends = json!({"project": {"ends_on": "2021-06-30"}});
    let reminder = |id: &str| wf.reminders.iter().find(|r| r.id.as_str() == id).unwrap();
    let rows: Vec<(&str, &str, Dates<'_>, Option<Date>)> = vec![
        (
            "the applicant is reminded 5 days before the completion deadline",
            "relance-completude",
            Dates {
                deadline: Some(date(2021, 3, 16)),
                ..Dates::default()
            },
            Some(date(2021, 3, 11)),
        ),
        (
            "the final report is reminded a month before its limit",
            "relance-bilan",
            Dates {
                data: Some(&ends),
                ..Dates::default()
            },
            Some(date(2021, 8, 30)),
        ),
        (
            "a draft is reminded 7 days before the call closes",
            "relance-brouillon",
            Dates {
                call_closes: Some(date(2021, 4, 30)),
                ..Dates::default()
            },
            Some(date(2021, 4, 23)),
        ),
        (
            "a reviewer is reminded 10 days after the file reached the committee",
            "relance-avis",
            Dates {
                entered: Some(date(2021, 4, 1)),
                ..Dates::default()
            },
            Some(date(2021, 4, 11)),
        ),
        (
            "no call closing date, no draft reminder",
            "relance-brouillon",
            Dates::default(),
            None,
        ),
    ];
    for (name, id, dates, want) in rows {
        assert_eq!(reminder_day(fund, reminder(id), &dates), want, "{name}");
    }
    let due = |state| ids(reminders(wf, state), |r| r.id.as_str());
    assert_eq!(wf.reminders.len(), 4);
    assert_eq!(due("incomplet"), ["relance-completude"]);
    assert_eq!(due("convention-signee"), ["relance-bilan"]);
    assert_eq!(due("avance-versee"), ["relance-bilan"]);
    assert_eq!(due("brouillon"), ["relance-brouillon"]);
    assert_eq!(due("avis-comite"), ["relance-avis"]);
    assert!(due("en-instruction").is_empty());
}

#[test]
fn automatic_steps_are_the_untimed_system_ones() {
    let (_, wf) = demo();
    let auto = |state| ids(automatic(wf, state), |t| t.id.as_str());
    let timed = |state| ids(timers(wf, state), |t| t.id.as_str());
    assert_eq!(
        auto("depose"),
        [
            "declarer-recevable",
            "declarer-incomplet",
            "declarer-irrecevable"
        ]
    );
    assert!(
        auto("incomplet").is_empty(),
        "the deadline's timer is not automatic"
    );
    assert_eq!(timed("incomplet"), ["classer-a-echeance"]);
    assert!(auto("attribue").is_empty());
    assert_eq!(timed("attribue"), ["constater-caducite"]);
    assert_eq!(timed("a-decider"), ["rejeter-implicitement"]);
    assert_eq!(timed("avis-comite"), ["rejeter-implicitement"]);
    assert!(timed("depose").is_empty());
    assert!(auto("brouillon").is_empty() && timed("brouillon").is_empty());
    assert!(checks_eligibility(wf, "depose"));
    assert!(!checks_eligibility(wf, "en-instruction"));
    assert!(!checks_eligibility(wf, "incomplet"));
}

#[test]
fn what_each_state_accepts_from_the_applicant() {
    let (_, wf) = demo();
    // (state, data, pieces): a draft accepts both; an incomplete file pieces only; other
    // states nothing (after the award, the pieces the decision rested on stay).
    let rows = [
        ("brouillon", true, true),
        ("incomplet", false, true),
        ("avance-versee", false, false),
        ("depose", false, false),
        ("en-instruction", false, false),
        ("cloture", false, false),
        ("pas-un-etat", false, false),
    ];
    for (state, data, pieces) in rows {
        assert_eq!(accepts_data(wf, state), data, "data in {state}");
        assert_eq!(accepts_pieces(wf, state), pieces, "pieces in {state}");
    }
    assert!(!is_filed(wf, "brouillon"));
    assert!(is_filed(wf, "depose"));
    assert!(is_filed(wf, "cloture"));
}

#[test]
fn the_filing_and_completion_transitions_come_from_the_plan_not_from_their_ids() {
    // (plan, filing, the incomplete state, its completion, a state with none)
    let rows = [
        (
            "amp-pmlcd",
            "deposer",
            "incomplet",
            "completer",
            "en-instruction",
        ),
        (
            "lyon-pama",
            "deposer",
            "incomplete",
            "completer",
            "a-verifier",
        ),
    ];
    for (name, filed_by, incomplete, completed_by, none) in rows {
        let plan = plan(name);
        for wf in &plan.workflows {
            let f = filing(plan, wf).expect("a way to file");
            assert_eq!(f.id.as_str(), filed_by, "{name}");
            assert!(f.from.contains(&wf.initial), "{name}");
            assert_eq!(plan.role_kind_of(f), Some(RoleKind::Applicant), "{name}");
            assert!(
                completion(plan, wf, wf.initial.as_str()).is_none(),
                "{name}: a draft"
            );
            let c = completion(plan, wf, incomplete).expect("a way to complete");
            assert_eq!(c.id.as_str(), completed_by, "{name}");
            assert!(checks_eligibility(wf, c.to.as_str()), "{name}");
            assert!(completion(plan, wf, none).is_none(), "{name}: {none}");
        }
    }
}

#[test]
fn the_filing_is_the_applicants_way_out_of_the_draft_whatever_the_order_of_transitions() {
    // Another applicant step (the completion) and a staff step out of the draft listed
    // first: neither is the filing.
    let plan = plan("amp-pmlcd");
    let mut wf = plan.workflows[0].clone();
    let completion = wf
        .transitions
        .iter()
        .position(|t| t.id.as_str() == "completer")
        .unwrap();
    let t = wf.transitions.remove(completion);
    wf.transitions.insert(0, t);
    let mut staff = wf
        .transitions
        .iter()
        .find(|t| t.id.as_str() == "soumettre-au-comite")
        .unwrap()
        .clone();
    staff.from = vec![wf.initial.clone()];
    wf.transitions.insert(0, staff);
    assert_eq!(filing(plan, &wf).map(|t| t.id.as_str()), Some("deposer"));
}
