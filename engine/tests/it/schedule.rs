//! The scheduler: a hand-checked textbook network, the demonstration plan, and a property
//! test against a brute-force computation on random networks.

use std::path::Path;

use metroplan_engine::schedule::{Driver, Options, day_of, schedule};
use metroplan_engine::{DirSource, MemorySource, load};
use proptest::prelude::*;

/// The `[plan]` table of the small plans written by the tests below, with its horizon.
fn header(horizon: &str) -> String {
    format!(
        "[plan]\nid = \"p\"\ntitle = \"P\"\nowner = \"T\"\nstart = 2020-01-01\nhorizon = {horizon}\ncurrency = \"EUR\"\nlocale = \"fr-FR\"\ntimezone = \"Europe/Paris\"\ndeliberation = {{ date = 2019-12-01, reference = \"T\" }}\n"
    )
}

/// A plan made of one `plan.toml` in memory.
fn in_memory(text: String) -> MemorySource {
    let mut src = MemorySource::new("p");
    src.insert("plan.toml", text);
    src
}

fn fixture(name: &str) -> metroplan_engine::Plan {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/schedule")
        .join(name);
    let loaded = load(&DirSource::new(dir));
    let text: Vec<String> = loaded
        .diagnostics
        .iter()
        .map(|d| loaded.sources.render(d))
        .collect();
    loaded.plan.unwrap_or_else(|| panic!("{}", text.join("\n")))
}

#[test]
fn textbook_network_has_the_hand_computed_dates_floats_and_critical_path() {
    let plan = fixture("textbook");
    let s = schedule(&plan, Options::default());
    let start = day_of(plan.start);
    let row = |id: &str| {
        let i = plan
            .actions
            .iter()
            .position(|a| a.id.as_str() == id)
            .unwrap();
        let it = &s.item(i);
        (
            day_of(it.early_start) - start,
            day_of(it.early_finish) - start + 1,
            it.total_float,
            it.free_float,
            it.critical,
        )
    };
    // (early start, exclusive early finish, total float, free float, critical)
    assert_eq!(row("a"), (0, 3, 0, 0, true));
    assert_eq!(row("b"), (3, 7, 0, 0, true));
    assert_eq!(row("c"), (3, 5, 6, 0, false));
    assert_eq!(row("d"), (7, 12, 0, 0, true));
    assert_eq!(row("e"), (5, 6, 6, 6, false));
    assert_eq!(row("f"), (12, 14, 0, 0, true));
    assert_eq!(row("g"), (1, 3, 11, 11, false));
    assert_eq!(row("h"), (11, 14, 0, 0, true));
    let crit: Vec<&str> = s
        .critical_path
        .iter()
        .map(|&i| plan.actions[i].id.as_str())
        .collect();
    assert_eq!(crit, ["a", "b", "d", "h", "f"]);
    assert_eq!(s.finish.to_string(), "2020-01-14");
    // Why does F start on day 12? Because of D, because of B, because of A.
    let f = plan
        .actions
        .iter()
        .position(|a| a.id.as_str() == "f")
        .unwrap();
    let chain: Vec<&str> = s
        .driving_chain(f)
        .iter()
        .map(|&i| plan.actions[i].id.as_str())
        .collect();
    assert_eq!(chain, ["f", "d", "b", "a"]);
    assert_eq!(s.item(0).driver, Driver::PlanStart);
}

#[test]
fn demo_plan_schedule_follows_the_founding_document() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plans/amp-pmlcd");
    let loaded = load(&DirSource::new(dir));
    let plan = loaded.plan.expect("demo plan");
    let s = schedule(&plan, Options::default());
    let get = |id: &str| {
        s.item(
            plan.actions
                .iter()
                .position(|a| a.id.as_str() == id)
                .unwrap(),
        )
    };
    assert!(get("atelier-elus").early_finish < get("label-diversite-egalite").early_start);
    assert!(get("plan-formation").early_finish < get("candidature-labels").early_start);
    assert!(get("guide-bonnes-pratiques").early_finish < get("candidature-labels").early_start);
    let years = |id: &str| {
        get(id)
            .occurrences
            .iter()
            .map(|(d, _)| d.year())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        years("fonds-initiative-annuel"),
        (2020..=2025).collect::<Vec<_>>()
    );
    assert_eq!(
        years("campagne-communication"),
        (2021..=2025).collect::<Vec<_>>()
    );
    let call = &get("fonds-initiative-annuel").occurrences[0];
    assert_eq!(
        (call.0.to_string(), call.1.to_string()),
        ("2020-02-01".into(), "2020-02-01".into())
    );
    // 20 working days after Thursday 2019-12-19, skipping the year-end closure (12-25 to
    // 12-31) and New Year's Day: 12-20, 12-23, 12-24, 01-02, 01-03, then 01-06 ... 01-24.
    assert_eq!(get("atelier-elus").early_start.to_string(), "2020-01-24");
    assert!(s.diagnostics.is_empty(), "{:?}", s.diagnostics);
    let table: String = s
        .items()
        .map(|it| {
            format!(
                "{:<32} {} {} float={}{}\n",
                it.id,
                it.early_start,
                it.early_finish,
                it.total_float,
                if it.critical { " critical" } else { "" }
            )
        })
        .collect();
    insta::with_settings!({snapshot_path => "../snapshots", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("amp-pmlcd.schedule", table);
    });
}

/// One item of a random network: its duration, and its dependencies as
/// (predecessor seed, link type 0..4, lag in days).
type RandomItem = (u8, Vec<(usize, u8, i8)>);

/// A random network as a plan file: durations and lags in calendar days, every day worked.
fn network() -> impl Strategy<Value = Vec<RandomItem>> {
    prop::collection::vec(
        (
            1u8..10,
            prop::collection::vec((0usize..1000, 0u8..4, -3i8..6), 0..3),
        ),
        1..40,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn forward_pass_matches_brute_force_relaxation(net in network()) {
        let links = ["finish-to-start", "start-to-start", "finish-to-finish", "start-to-finish"];
        let mut text = header("2030-12-31")
            + "[calendar]\nholidays = \"none\"\nworking_days = [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\", \"sat\", \"sun\"]\n[[axis]]\nid = \"x\"\ntitle = \"X\"\n";
        // Edges only go to earlier items: a DAG by construction.
        let mut edges: Vec<Vec<(usize, usize, i32)>> = Vec::new();
        for (i, (dur, deps)) in net.iter().enumerate() {
            text.push_str(&format!("[[action]]\nid = \"i{i}\"\naxis = \"x\"\ntitle = \"I\"\nduration = \"{dur}d\"\n"));
            let mut seen = std::collections::HashSet::new();
            let deps: Vec<(usize, usize, i32)> = deps
                .iter()
                .filter(|_| i > 0)
                .map(|(p, l, lag)| (p % i.max(1), *l as usize, *lag as i32))
                .filter(|(p, _, _)| seen.insert(*p))
                .collect();
            if !deps.is_empty() {
                let list: Vec<String> = deps
                    .iter()
                    .map(|(p, l, lag)| format!("{{ on = \"i{p}\", type = \"{}\", lag = \"{lag}d\" }}", links[*l]))
                    .collect();
                text.push_str(&format!("depends_on = [{}]\n", list.join(", ")));
            }
            edges.push(deps);
        }
        let loaded = load(&in_memory(text));
        let plan = loaded.plan.expect("generated plan is valid");
        let s = schedule(&plan, Options::default());

        // Brute force: relax every constraint until nothing changes (no topological order).
        let n = net.len();
        let dur: Vec<i32> = net.iter().map(|(d, _)| *d as i32).collect();
        let mut es = vec![0i32; n];
        loop {
            let mut changed = false;
            for i in 0..n {
                for &(p, l, lag) in &edges[i] {
                    let need = match l {
                        0 => es[p] + dur[p] + lag,
                        1 => es[p] + lag,
                        2 => es[p] + dur[p] + lag - dur[i],
                        _ => es[p] + lag - dur[i],
                    };
                    if need > es[i] {
                        es[i] = need;
                        changed = true;
                    }
                }
            }
            if !changed { break; }
        }
        let start = day_of(plan.start);
        let end = (0..n).map(|i| es[i] + dur[i]).max().unwrap();
        for i in 0..n {
            prop_assert_eq!(day_of(s.item(i).early_start) - start, es[i], "early start of i{}", i);
            prop_assert_eq!(day_of(s.item(i).early_finish) - start + 1, es[i] + dur[i]);
            prop_assert!(s.item(i).total_float >= 0);
            prop_assert!(s.item(i).free_float <= s.item(i).total_float);
        }
        prop_assert_eq!(day_of(s.finish) - start + 1, end);
        // Something always ends the plan: at least one item is critical.
        prop_assert!(!s.critical_path.is_empty());
    }
}

#[test]
fn progress_reforecasts_from_actuals_and_flags_late_items_against_the_baseline() {
    let plan = fixture("progress");
    let base = plan
        .baselines
        .iter()
        .position(|b| b.id.as_str() == "initial");
    let as_of: jiff::civil::Date = "2020-01-12".parse().unwrap();
    let s = schedule(
        &plan,
        Options {
            as_of: Some(as_of),
            baseline: base,
            ..Options::default()
        },
    );
    let get = |id: &str| {
        s.item(
            plan.actions
                .iter()
                .position(|a| a.id.as_str() == id)
                .unwrap(),
        )
    };
    // Reported indicator values come out next to their targets.
    let b = get("b");
    let sessions: Vec<(&str, String, String)> = b
        .indicators
        .iter()
        .map(|v| (v.id, v.value.to_string(), v.target.to_string()))
        .collect();
    assert_eq!(sessions, [("sessions", "5.5".into(), "12".into())]);
    assert_eq!(b.percent, Some(50));
    // A took 5 days instead of 3: its actual dates replace the plan's.
    assert_eq!(
        (
            get("a").early_start.to_string(),
            get("a").early_finish.to_string()
        ),
        ("2020-01-02".into(), "2020-01-06".into())
    );
    assert_eq!(get("a").driver, Driver::Actual);
    assert!(!get("a").late, "done items are not late");
    // B started on 01-07 and lasts 4 days: 01-10, still going on the report day, so it runs
    // at least into 01-12 (as of) and D follows it.
    assert_eq!(get("b").early_start.to_string(), "2020-01-07");
    assert!(get("b").early_finish >= as_of);
    assert!(get("d").early_start > get("b").early_finish);
    // C has not started: it cannot start before the day of the forecast.
    assert_eq!(get("c").early_start, as_of);
    assert_eq!(get("c").driver, Driver::AsOf);
    // Variance against the baseline, and lateness.
    let baseline_f: jiff::civil::Date = "2020-01-14".parse().unwrap();
    let moved = day_of(get("f").early_finish) - day_of(baseline_f);
    assert!(moved > 0);
    assert_eq!(get("f").finish_variance, Some(moved));
    assert!(get("f").late, "F finishes after its baseline");
    assert!(get("e").late, "suspended");
    assert_eq!(
        get("e").status,
        Some(metroplan_engine::model::Status::Suspended)
    );
}

#[test]
fn progress_reports_are_validated() {
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/schedule/textbook/plan.toml");
    let mut text = std::fs::read_to_string(dir).unwrap();
    text.push_str(
        "\n[[progress]]\nitem = \"z\"\nstatus = \"done\"\nas_of = 2020-01-10\n\n[[progress]]\nitem = \"a\"\nstatus = \"done\"\nas_of = 2020-01-10\npercent = 120\n\n[[progress]]\nitem = \"b\"\nstatus = \"finished\"\nas_of = 2020-01-10\n",
    );
    let loaded = load(&in_memory(text));
    let codes: Vec<&str> = loaded.diagnostics.iter().map(|d| d.code.as_str()).collect();
    let msgs: Vec<String> = loaded
        .diagnostics
        .iter()
        .map(|d| loaded.sources.render(d))
        .collect();
    assert!(codes.contains(&"E006"), "unknown item: {msgs:?}");
    assert!(
        codes.contains(&"E004"),
        "done without actual_finish: {msgs:?}"
    );
    // Each E003 on its own: one must not hide that the other check broke.
    assert!(
        msgs.iter()
            .any(|m| m.contains("E003") && m.contains("120% is more than 100%")),
        "percent over 100: {msgs:?}"
    );
    assert!(
        msgs.iter()
            .any(|m| m.contains("E003") && m.contains("unknown value `finished`")),
        "unknown status: {msgs:?}"
    );
    assert!(
        msgs.iter()
            .any(|m| m.contains("allowed values: not-started, in-progress, done")),
        "{msgs:?}"
    );
    assert!(
        !msgs.iter().any(|m| m.contains("did you mean one of `a`")),
        "no noise for one-letter ids: {msgs:?}"
    );
}

#[test]
fn a_recurrence_of_two_highlights_a_year_expands_to_two_dated_occurrences_a_year() {
    let src = in_memory(
        header("2021-12-31")
            + "[[axis]]\nid = \"x\"\ntitle = \"X\"\n[[action]]\nid = \"temps-forts\"\naxis = \"x\"\ntitle = \"Temps forts\"\nduration = \"1d\"\nrecurrence = { every = \"yearly\", from_year = 2020, until_year = 2021, window_from = \"04-01\", window_until = \"11-30\", min_per_year = 2, max_per_year = 3 }\n",
    );
    let plan = load(&src).plan.expect("valid");
    let s = schedule(&plan, Options::default());
    let occ: Vec<String> = s
        .item(0)
        .occurrences
        .iter()
        .map(|(d, _)| d.to_string())
        .collect();
    // 244 days from 04-01 to 11-30, halved: the second highlight 122 days after the first.
    assert_eq!(
        occ,
        ["2020-04-01", "2020-08-01", "2021-04-01", "2021-08-01"]
    );
}

#[test]
fn regression_a_closure_over_the_whole_year_is_refused_not_scheduled_forever() {
    let src = in_memory(
        header("2021-12-31")
            + "[calendar]\nholidays = \"fr\"\nclosure = [{ label = \"Fermé\", every_year_from = \"12-01\", every_year_until = \"11-30\" }]\n",
    );
    let loaded = load(&src);
    assert!(loaded.plan.is_none());
    let msg: Vec<String> = loaded
        .diagnostics
        .iter()
        .map(|d| loaded.sources.render(d))
        .collect();
    assert!(
        msg.iter()
            .any(|m| m.contains("E016") && m.contains("closes the whole year")),
        "{msg:?}"
    );
}

#[test]
fn regression_declaring_the_builtin_system_role_says_it_is_built_in() {
    let text = header("2021-12-31") + "[[role]]\nid = \"system\"\nlabel = \"Système\"\n";
    let loaded = load(&in_memory(text));
    let msg: Vec<String> = loaded
        .diagnostics
        .iter()
        .map(|d| loaded.sources.render(d))
        .collect();
    assert!(loaded.plan.is_none());
    assert!(
        msg.iter().any(|m| m.contains("E005")
            && m.contains("role `system` is built in")
            && m.contains("plan.toml:12:")),
        "{msg:?}"
    );
}

/// The plan text of a random network, with durations and lags in `unit`, its items written
/// in `order`.
fn network_text(net: &[RandomItem], unit: &str, order: &[usize]) -> String {
    let links = [
        "finish-to-start",
        "start-to-start",
        "finish-to-finish",
        "start-to-finish",
    ];
    let mut text = header("2030-12-31")
        + "[calendar]\nholidays = \"none\"\nworking_days = [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\", \"sat\", \"sun\"]\n[[axis]]\nid = \"x\"\ntitle = \"X\"\n";
    for &i in order {
        let (dur, deps) = &net[i];
        text.push_str(&format!(
            "[[action]]\nid = \"i{i}\"\naxis = \"x\"\ntitle = \"I\"\nduration = \"{dur}{unit}\"\n"
        ));
        let mut seen = std::collections::HashSet::new();
        let list: Vec<String> = deps
            .iter()
            .filter(|_| i > 0)
            .map(|(p, l, lag)| (p % i.max(1), *l as usize, *lag))
            .filter(|(p, _, _)| seen.insert(*p))
            .map(|(p, l, lag)| {
                format!(
                    "{{ on = \"i{p}\", type = \"{}\", lag = \"{lag}{unit}\" }}",
                    links[l]
                )
            })
            .collect();
        if !list.is_empty() {
            text.push_str(&format!("depends_on = [{}]\n", list.join(", ")));
        }
    }
    text
}

/// Every item's computed values by id, with drivers named by id.
fn by_id(plan: &metroplan_engine::Plan) -> std::collections::BTreeMap<String, String> {
    let s = schedule(plan, Options::default());
    s.items()
        .map(|it| {
            let driver = match it.driver {
                Driver::Predecessor { item, .. } => plan.actions[item as usize].id.to_string(),
                other => format!("{other:?}"),
            };
            (
                it.id.to_string(),
                format!(
                    "{} {} {} {} tf={} ff={} crit={} by={driver}",
                    it.early_start,
                    it.early_finish,
                    it.late_start,
                    it.late_finish,
                    it.total_float,
                    it.free_float,
                    it.critical
                ),
            )
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(150))]

    /// On a calendar where every day is worked, working days are days: the working-day
    /// arithmetic (on cached ordinals) must give what the calendar-day arithmetic gives. And
    /// the order the plan lists its items in (topological or not) changes nothing.
    #[test]
    fn working_day_arithmetic_and_item_order_do_not_change_the_schedule(net in network()) {
        let forward: Vec<usize> = (0..net.len()).collect();
        let backward: Vec<usize> = (0..net.len()).rev().collect();
        let plan = |unit: &str, order: &[usize]| {
            load(&in_memory(network_text(&net, unit, order)))
                .plan
                .expect("generated plan is valid")
        };
        let days = by_id(&plan("d", &forward));
        prop_assert_eq!(&by_id(&plan("wd", &forward)), &days);
        prop_assert_eq!(&by_id(&plan("wd", &backward)), &days);
        prop_assert_eq!(&by_id(&plan("d", &backward)), &days);
    }
}

/// The year labels along the chart's top: the year the chart opens in is named when its slice
/// has room for the label (Lyon's plan opens on 2 May 2016), not when it is a sliver (the
/// demo plan opens on 19 December 2019, where the label would run into 2020's).
#[test]
fn the_gantt_names_the_opening_year_when_its_slice_has_room() {
    let year_labels = |dir: &str| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        let plan = load(&DirSource::new(dir)).plan.expect("plan loads");
        let svg = metroplan_engine::schedule::svg::gantt(
            &plan,
            &schedule(&plan, Options::default()),
            None,
        );
        svg.lines()
            .filter(|l| l.contains(r#"y="20""#) && l.contains("font-weight=\"bold\""))
            .filter_map(|l| l.split('>').nth(1)?.split('<').next().map(str::to_string))
            .collect::<Vec<_>>()
    };
    let lyon = year_labels("../plans/lyon-pama");
    assert_eq!(lyon.first().map(String::as_str), Some("2016"), "{lyon:?}");
    assert_eq!(lyon.iter().filter(|y| *y == "2016").count(), 1, "{lyon:?}");
    let amp = year_labels("../plans/amp-pmlcd");
    assert_eq!(amp.first().map(String::as_str), Some("2020"), "{amp:?}");
}
