//! `metroplan diff`: a council's review of a revised plan, as text (compared with a reviewed
//! fixture) and as JSON.

use std::path::Path;

use crate::{copy_dir, repo, run, stdout};

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} has `{from}`", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

/// The demo plan as revised: an action removed and one added, a duration lengthened, a
/// dependency added, the 2022 ceiling raised, the 2021 allocation cut.
fn revised(tmp: &Path) -> std::path::PathBuf {
    copy_dir(&repo().join("plans"), &tmp.join("plans"));
    let p = tmp.join("plans/amp-pmlcd");
    let actions = p.join("actions/1-exemplaire.toml");
    edit(&actions, "duration = \"3mo\"", "duration = \"5mo\"");
    let text = std::fs::read_to_string(&actions).unwrap();
    std::fs::write(
        &actions,
        format!(
            "{text}\n[[action]]\nid = \"charte-recrutement\"\naxis = \"metropole-exemplaire\"\ntitle = \"Charte de recrutement sans discrimination\"\nduration = \"2mo\"\ndepends_on = [{{ on = \"atelier-elus\", lag = \"10wd\" }}]\n"
        ),
    )
    .unwrap();
    let conditions = p.join("actions/3-conditions.toml");
    edit(
        &conditions,
        "depends_on = [{ on = \"equipe-projet\" }]\nsource = { section = \"Conditions de réussite\", quote = \"**s'inscrire",
        "depends_on = [{ on = \"equipe-projet\" }, { on = \"atelier-elus\", lag = \"1mo\" }]\nsource = { section = \"Conditions de réussite\", quote = \"**s'inscrire",
    );
    edit(
        &p.join("funds/fonds-initiative.toml"),
        "value = 12000\nfrom = 2022-01-01",
        "value = 15000\nfrom = 2022-01-01",
    );
    let budget = std::fs::read_to_string(p.join("budget.toml")).unwrap();
    let at = budget.find("year = 2021").unwrap();
    let amount = budget[at..].find("amount = 30000").unwrap() + at;
    std::fs::write(
        p.join("budget.toml"),
        format!(
            "{}amount = 25000{}",
            &budget[..amount],
            &budget[amount + "amount = 30000".len()..]
        ),
    )
    .unwrap();
    p
}

#[test]
fn a_revised_plan_is_reviewed_as_text_and_json() {
    let tmp = tempfile::tempdir().unwrap();
    let new = revised(tmp.path());
    assert!(run(&["check", new.to_str().unwrap()]).status.success());
    let old = repo().join("plans/amp-pmlcd");
    let out = run(&["diff", old.to_str().unwrap(), new.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected = repo().join("tests/fixtures/diff/revised-plan.txt");
    let actual = stdout(&out);
    if std::env::var_os("METROPLAN_BLESS").is_some() {
        std::fs::write(&expected, &actual).unwrap();
    }
    assert_eq!(
        actual,
        std::fs::read_to_string(&expected).unwrap(),
        "the review text (METROPLAN_BLESS=1 rewrites the fixture; review it before committing)"
    );

    let json = run(&[
        "diff",
        old.to_str().unwrap(),
        new.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["added"][0]["id"], "charte-recrutement");
    assert_eq!(v["changed"][0]["changes"][0]["field"], "timing.duration");
    assert_eq!(v["parameters"][0]["new"], "15000");
    assert_eq!(v["budget"][0]["year"], 2021);
    assert_eq!(v["dependencies"][0]["on"], "atelier-elus");
    assert!(
        v["schedule"]["moves"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == "valoriser-existant"),
        "what moves"
    );
}

#[test]
fn a_plan_compared_with_itself_has_no_change_and_a_broken_plan_is_refused() {
    let p = repo().join("plans/amp-pmlcd");
    let same = run(&["diff", p.to_str().unwrap(), p.to_str().unwrap()]);
    assert_eq!(stdout(&same), "No change.\n");
    let broken = repo().join("engine/tests/fixtures/diagnostics/E006-unknown-dependency");
    let out = run(&["diff", p.to_str().unwrap(), broken.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("E006"));
}
