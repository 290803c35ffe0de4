//! The timeline and the schedule exports answer the same through the API and the command
//! line: both call the engine's one query and its one list of formats.

use std::process::Command;

use axum::http::Method;
use metroplan_engine::schedule::export::Format;
use serde_json::Value;

use crate::support::{Env, PLAN, repo};

fn metroplan(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_metroplan"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("metroplan runs");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

#[tokio::test]
async fn the_api_timeline_expands_recurring_occurrences_like_the_command() {
    // A year of the demonstration plan: its yearly items (the fund's call, the temps forts)
    // are occurrences, which the API used to leave out.
    let env = Env::new("2022-06-15T10:00:00+02:00").await;
    let window = [("from", "2022-01-01"), ("to", "2022-12-31")];
    let query: Vec<String> = window.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let api = env
        .call(
            Method::GET,
            &format!("/api/plans/{PLAN}/timeline?{}", query.join("&")),
            None,
            &[],
            None,
        )
        .await;
    assert_eq!(api.status, 200, "{}", api.text);
    let cli: Value = serde_json::from_str(&metroplan(&[
        "timeline",
        "plans/amp-pmlcd",
        "--from",
        "2022-01-01",
        "--to",
        "2022-12-31",
        "--as-of",
        "2022-06-15",
        "--format",
        "json",
    ]))
    .expect("JSON");
    assert_eq!(api.body, cli);
    let items = api.body["items"].as_array().expect("items");
    let occurrences = items.iter().filter(|i| i["occurrence"] == 2022).count();
    assert!(
        occurrences >= 2,
        "the window holds yearly occurrences: {items:#?}"
    );
}

#[tokio::test]
async fn the_api_timeline_takes_the_command_s_filters() {
    let env = Env::new("2023-03-01T10:00:00+01:00").await;
    for (api_query, cli_args) in [
        ("territory=miramas", vec!["--territory", "miramas"]),
        ("partner=cnfpt", vec!["--partner", "cnfpt"]),
        (
            "upstream=label-diversite-egalite",
            vec!["--upstream", "label-diversite-egalite"],
        ),
        ("next=5", vec!["--next", "5"]),
    ] {
        let api = env
            .call(
                Method::GET,
                &format!("/api/plans/{PLAN}/timeline?{api_query}"),
                None,
                &[],
                None,
            )
            .await;
        assert_eq!(api.status, 200, "{api_query}: {}", api.text);
        let mut args = vec![
            "timeline",
            "plans/amp-pmlcd",
            "--as-of",
            "2023-03-01",
            "--format",
            "json",
        ];
        args.extend(cli_args);
        let cli: Value = serde_json::from_str(&metroplan(&args)).expect("JSON");
        assert_eq!(api.body, cli, "{api_query}");
        assert!(
            !api.body["items"].as_array().expect("items").is_empty(),
            "{api_query} finds something"
        );
    }
}

#[tokio::test]
async fn an_unknown_timeline_filter_value_is_a_400_naming_the_filter() {
    let env = Env::new("2023-03-01T10:00:00+01:00").await;
    for (query, field) in [
        ("territory=atlantide", "territory"),
        ("upstream=nothing-here", "upstream"),
        ("status=finished", "status"),
        (
            "upstream=label-diversite-egalite&downstream=nope",
            "downstream",
        ),
        ("from=2023-01-01&to=2022-01-01", "to"),
    ] {
        let r = env
            .call(
                Method::GET,
                &format!("/api/plans/{PLAN}/timeline?{query}"),
                None,
                &[],
                None,
            )
            .await;
        assert_eq!(r.status, 400, "{query}: {}", r.text);
        assert_eq!(r.body["field"], field, "{query}: {}", r.text);
    }
}

#[tokio::test]
async fn every_schedule_export_is_the_same_bytes_from_the_api_and_the_command() {
    let env = Env::new("2022-06-15T10:00:00+02:00").await;
    for f in Format::ALL {
        let name = f.name();
        let r = env
            .call(
                Method::GET,
                &format!("/api/plans/{PLAN}/schedule?format={name}&as_of=2022-06-15"),
                None,
                &[],
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{name}: {}", r.text);
        assert_eq!(r.headers["content-type"], f.media_type(), "{name}");
        let cli = metroplan(&[
            "schedule",
            "plans/amp-pmlcd",
            "--format",
            name,
            "--as-of",
            "2022-06-15",
        ]);
        assert_eq!(r.text, cli, "{name}");
    }
}

#[tokio::test]
async fn the_calendar_page_still_answers_its_old_prevue_filter() {
    let env = Env::new("2022-06-15T10:00:00+02:00").await;
    let mut visitor = crate::web::Browser::new(env.app.clone());
    let all = visitor.get(&format!("/plans/{PLAN}/calendrier")).await;
    let old = visitor
        .get(&format!("/plans/{PLAN}/calendrier?statut=prevue"))
        .await;
    let new = visitor
        .get(&format!("/plans/{PLAN}/calendrier?statut=not-started"))
        .await;
    assert_eq!(old.status, 200);
    let caption = |t: &str| {
        t.split("<figcaption>")
            .nth(1)
            .and_then(|c| c.split("</figcaption>").next())
            .map(str::to_string)
            .expect("a caption")
    };
    assert_eq!(caption(&old.text), caption(&new.text));
    assert!(
        !caption(&old.text).starts_with("0 "),
        "{}",
        caption(&old.text)
    );
    assert!(all.text.contains("<figcaption>"));
}
