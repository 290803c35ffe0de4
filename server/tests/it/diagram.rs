//! `metroplan diagram`: each plan's workflow as a Mermaid state diagram, snapshotted and parsed
//! by Mermaid's own parser (`.ci/mermaid-parse.mjs`, installed by `cargo xtask setup`).

use std::io::Write;
use std::process::{Command, Stdio};

use crate::support::repo;

fn diagram(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_metroplan"))
        .arg("diagram")
        .args(args)
        .current_dir(repo())
        .output()
        .expect("metroplan runs")
}

/// Mermaid's verdict on `text`.
fn mermaid_parses(text: &str) -> Result<String, String> {
    let mut child = Command::new("node")
        .arg(repo().join(".ci/mermaid-parse.mjs"))
        .current_dir(repo().join(".ci"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node runs (cargo xtask setup installs it and .ci/node_modules)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if out.status.success() {
        Ok(said)
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn each_plan_draws_a_state_diagram_mermaid_parses() {
    for (plan, workflow) in [
        ("amp-pmlcd", "instruction-fonds-initiative"),
        ("lyon-pama", "instruction-aide-velo"),
    ] {
        let out = diagram(&[&format!("plans/{plan}"), "--workflow", workflow]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains("stateDiagram-v2\n"), "{text}");
        assert!(text.contains("    [*] --> brouillon\n"), "{text}");
        insta::assert_snapshot!(format!("diagram_{plan}"), text);
        assert_eq!(
            mermaid_parses(&text),
            Ok("ok stateDiagram".into()),
            "{plan}"
        );
    }
    // The timed transitions of the demonstration plan say when they fire.
    let demo = String::from_utf8(diagram(&["plans/amp-pmlcd"]).stdout).unwrap();
    assert!(
        demo.contains(
            "incomplet --> sans_suite : Classer sans suite à l'échéance (⏱ day after deadline)"
        ),
        "{demo}"
    );
    assert!(
        demo.contains("⏱ after delai-rejet-implicite since en-instruction"),
        "{demo}"
    );
    assert!(demo.contains("caduque --> [*]"), "{demo}");
}

#[test]
fn the_parser_refuses_a_broken_diagram() {
    // The check is worth something only if Mermaid refuses what it cannot draw.
    assert!(mermaid_parses("stateDiagram-v2\n    a --> \n").is_err());
}

#[test]
fn an_unknown_workflow_is_refused_with_the_plan_s_workflows() {
    let out = diagram(&["plans/lyon-pama", "--workflow", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("instruction-aide-velo"));
}
