//! `metroplan migrate`: a plan's workflows rewritten in place from the first workflow language
//! into v2, comments and layout kept (`toml_edit`), then the plan loaded to report what is left.
//!
//! What changes (`engine/src/plan/convert/workflow/steps.rs`, `REPLACED`, names the same):
//!
//! - `not-filer` is removed: the filer never takes a staff step, whatever the plan says;
//! - `not-instructor` becomes `distinct_from`, naming the steps taken by instructor roles
//!   that lead to this one (a guess, said in the output);
//! - `min-opinions-reached` becomes a majority `vote` whose quorum is
//!   (the parameter the guard read);
//! - `conflict-declared` and `no-conflict-of-interest` become `records = "opinion"`;
//! - `payments-within-award` becomes `effects = ["advance"]` with the rate v1 read on
//!   the first payment when the fund has that parameter, else `effects = ["balance"]` (a
//!   guess, said in the output);
//! - what the first language granted without saying: `data = true` on the filing and on each
//!   completion (an applicant step into a state that runs the eligibility check again);
//!   `accepts = ["pieces"]` on the states a completion leaves; `effects = ["award"]` where an
//!   amount guard implied the award; `records = "final-report"` on the applicant's guard-less
//!   step into a state that a `final-report-received` step leaves.
//!
//! A workflow already in v2 (it declares something only v2 has and no guard of the first
//! language) is left as it is, so a second run changes nothing.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use metroplan_engine::Code;
use metroplan_engine::workflow::v1::{
    ADVANCE_RATE_PARAMETER as ADVANCE_RATE, QUORUM_PARAMETER as QUORUM,
};
use toml_edit::{Array, ArrayOfTables, DocumentMut, InlineTable, Item, Table, Value};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The plan directory (the one holding plan.toml).
    pub plan_dir: PathBuf,
}

/// Keys only v2 has: a workflow declaring one of them was written for v2.
const V2_TRANSITION_KEYS: &[&str] = &[
    "data",
    "effects",
    "rate",
    "records",
    "vote",
    "distinct_from",
    "timer",
    "conditions",
];

/// What the plan's other files say that the migration reads: each role's kind, and the
/// parameters of the funds that run each workflow.
#[derive(Default)]
struct PlanFacts {
    role_kinds: BTreeMap<String, String>,
    /// Workflow id → the parameter ids of each fund that runs it.
    fund_parameters: BTreeMap<String, Vec<BTreeSet<String>>>,
}

fn str_of(t: &Table, key: &str) -> String {
    t.get(key)
        .and_then(Item::as_str)
        .unwrap_or_default()
        .to_string()
}

fn strings(t: &Table, key: &str) -> Vec<String> {
    t.get(key)
        .and_then(Item::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn tables<'a>(t: &'a Table, key: &str) -> impl Iterator<Item = &'a Table> {
    t.get(key)
        .and_then(Item::as_array_of_tables)
        .into_iter()
        .flat_map(ArrayOfTables::iter)
}

fn facts_of(doc: &DocumentMut, facts: &mut PlanFacts) {
    for r in tables(doc.as_table(), "role") {
        facts.role_kinds.insert(str_of(r, "id"), str_of(r, "kind"));
    }
    for f in tables(doc.as_table(), "fund") {
        let params = tables(f, "parameter").map(|p| str_of(p, "id")).collect();
        facts
            .fund_parameters
            .entry(str_of(f, "workflow"))
            .or_default()
            .push(params);
    }
}

/// Every `.toml` file under `dir`, sorted, skipping hidden directories.
fn toml_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let name = e.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            toml_files(&path, out)?;
        } else if path.extension().is_some_and(|x| x == "toml") {
            out.push(path);
        }
    }
    Ok(())
}

/// Why `dir` is not a plan directory, if it is not one.
fn not_a_plan(dir: &Path) -> Option<String> {
    if !dir.is_dir() {
        return Some(format!("{} is not a directory", dir.display()));
    }
    let root = dir.join("plan.toml");
    let Ok(text) = std::fs::read_to_string(&root) else {
        return Some(format!(
            "{} is not a plan directory: it has no plan.toml",
            dir.display()
        ));
    };
    match text.parse::<DocumentMut>() {
        Ok(doc) if doc.get("plan").is_some_and(Item::is_table) => None,
        Ok(_) => Some(format!(
            "{} is not a plan's root file: it has no [plan] table",
            root.display()
        )),
        Err(e) => Some(format!("{} is not valid TOML: {e}", root.display())),
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let dir = &args.plan_dir;
    if let Some(why) = not_a_plan(dir) {
        eprintln!("metroplan migrate: {why}; nothing written");
        return Ok(ExitCode::from(1));
    }
    let mut files = Vec::new();
    toml_files(dir, &mut files).with_context(|| format!("reading {}", dir.display()))?;
    // Everything is read and parsed before anything is written.
    let mut docs = Vec::new();
    let mut facts = PlanFacts::default();
    for path in files {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let doc = match text.parse::<DocumentMut>() {
            Ok(doc) => doc,
            Err(e) => {
                eprintln!(
                    "metroplan migrate: {} is not valid TOML: {e}\nnothing written",
                    path.display()
                );
                return Ok(ExitCode::from(1));
            }
        };
        facts_of(&doc, &mut facts);
        docs.push((path, text, doc));
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut written = 0;
    let mut workflow_files = 0;
    for (path, text, mut doc) in docs {
        let Some(workflows) = doc
            .get_mut("workflow")
            .and_then(Item::as_array_of_tables_mut)
        else {
            continue;
        };
        workflow_files += 1;
        let shown = path
            .strip_prefix(dir)
            .unwrap_or(&path)
            .display()
            .to_string();
        let mut notes = Vec::new();
        for wf in workflows.iter_mut() {
            migrate_workflow(wf, &facts, &mut notes);
        }
        let new = doc.to_string();
        if new == text {
            writeln!(
                out,
                "{shown}: already in the v2 workflow language, unchanged"
            )?;
            continue;
        }
        std::fs::write(&path, &new).with_context(|| format!("writing {}", path.display()))?;
        written += 1;
        writeln!(out, "{shown}: rewritten in the v2 workflow language")?;
        for n in notes {
            writeln!(out, "  {n}")?;
        }
    }
    if workflow_files == 0 {
        writeln!(
            out,
            "{}: the plan has no workflow; nothing to migrate",
            dir.display()
        )?;
    } else if written == 0 {
        writeln!(out, "nothing to migrate: no file was written")?;
    } else {
        writeln!(
            out,
            "{written} file{} written; lines marked `guess` are worth a look",
            if written == 1 { "" } else { "s" }
        )?;
    }
    let loaded = metroplan_engine::load_dir(dir);
    let unreadable = loaded
        .diagnostics
        .iter()
        .any(|d| d.code == Code::Include && d.loc.is_none());
    for d in &loaded.diagnostics {
        writeln!(out, "{}", loaded.sources.render(d))?;
    }
    let (e, w) = (loaded.errors(), loaded.warnings());
    if loaded.plan.is_some() {
        writeln!(
            out,
            "the plan loads: no error, {w} warning{}",
            if w == 1 { "" } else { "s" }
        )?;
        Ok(ExitCode::SUCCESS)
    } else {
        writeln!(
            out,
            "the plan does not load yet: {e} error{}, {w} warning{} (fix them, then `metroplan check {}`)",
            if e == 1 { "" } else { "s" },
            if w == 1 { "" } else { "s" },
            dir.display()
        )?;
        Ok(ExitCode::from(if unreadable { 2 } else { 1 }))
    }
}

/// A transition as the migration reads it.
struct Step {
    id: String,
    from: Vec<String>,
    to: String,
    role: String,
    guards: Vec<String>,
}

fn reachable(steps: &[Step], start: &str) -> BTreeMap<String, usize> {
    let mut dist = BTreeMap::from([(start.to_string(), 0)]);
    let mut queue = VecDeque::from([start.to_string()]);
    while let Some(s) = queue.pop_front() {
        let d = dist[&s];
        for t in steps.iter().filter(|t| t.from.contains(&s)) {
            if !dist.contains_key(&t.to) {
                dist.insert(t.to.clone(), d + 1);
                queue.push_back(t.to.clone());
            }
        }
    }
    dist
}

fn quoted(ids: &[String]) -> String {
    let inner: Vec<String> = ids.iter().map(|i| format!("\"{i}\"")).collect();
    format!("[{}]", inner.join(", "))
}

fn migrate_workflow(wf: &mut Table, facts: &PlanFacts, notes: &mut Vec<String>) {
    let wf_id = str_of(wf, "id");
    let initial = str_of(wf, "initial");
    let steps: Vec<Step> = tables(wf, "transition")
        .map(|t| Step {
            id: str_of(t, "id"),
            from: strings(t, "from"),
            to: str_of(t, "to"),
            role: str_of(t, "role"),
            guards: strings(t, "guards"),
        })
        .collect();
    let terminal: BTreeSet<String> = tables(wf, "state")
        .filter(|s| s.get("terminal").and_then(Item::as_bool) == Some(true))
        .map(|s| str_of(s, "id"))
        .collect();
    let has_gone = steps.iter().any(|s| {
        s.guards
            .iter()
            .any(|g| metroplan_engine::workflow::v1::is_replaced(g))
    });
    let declares_v2 = wf.contains_key("reminder")
        || tables(wf, "transition").any(|t| V2_TRANSITION_KEYS.iter().any(|k| t.contains_key(k)))
        || tables(wf, "state").any(|s| s.contains_key("accepts"));
    if declares_v2 && !has_gone {
        return;
    }
    let kind = |role: &str| facts.role_kinds.get(role).map(String::as_str);
    let is_applicant = |s: &Step| kind(&s.role) == Some("applicant");
    // States whose entry runs the eligibility check: an automatic step out of them reads it.
    let checks: BTreeSet<&str> = steps
        .iter()
        .filter(|s| {
            s.role == "system"
                && s.guards
                    .iter()
                    .any(|g| matches!(g.as_str(), "eligible" | "ineligible" | "incomplete"))
        })
        .flat_map(|s| s.from.iter().map(String::as_str))
        .collect();
    let filing = steps
        .iter()
        .find(|s| is_applicant(s) && s.from.contains(&initial) && !terminal.contains(&s.to))
        .map(|s| s.id.clone());
    let completions: Vec<&Step> = steps
        .iter()
        .filter(|s| is_applicant(s) && !s.from.contains(&initial) && checks.contains(s.to.as_str()))
        .collect();
    let completed_states: BTreeSet<&str> = completions
        .iter()
        .flat_map(|s| s.from.iter().map(String::as_str))
        .collect();
    let report_states: BTreeSet<&str> = steps
        .iter()
        .filter(|s| s.guards.iter().any(|g| g == "final-report-received"))
        .flat_map(|s| s.from.iter().map(String::as_str))
        .collect();
    // The payments of the first language, nearest the initial state first.
    let dist = reachable(&steps, &initial);
    let first_payment = steps
        .iter()
        .filter(|s| s.guards.iter().any(|g| g == "payments-within-award"))
        .min_by_key(|s| {
            s.from
                .iter()
                .filter_map(|f| dist.get(f))
                .min()
                .copied()
                .unwrap_or(usize::MAX)
        })
        .map(|s| s.id.clone());
    let funds = facts.fund_parameters.get(&wf_id);
    let has_rate =
        funds.is_some_and(|fs| !fs.is_empty() && fs.iter().all(|p| p.contains(ADVANCE_RATE)));

    let mut wf_notes = Vec::new();
    if let Some(states) = wf.get_mut("state").and_then(Item::as_array_of_tables_mut) {
        for st in states.iter_mut() {
            let id = str_of(st, "id");
            if id != initial
                && completed_states.contains(id.as_str())
                && !st.contains_key("accepts")
            {
                add_key(st, "accepts", string_array(&["pieces".to_string()]));
                wf_notes.push(format!(
                    "state `{id}`: accepts = [\"pieces\"] (the applicant uploads pieces here before completing; v2 accepts them only where it says so)"
                ));
            }
        }
    }
    let Some(transitions) = wf
        .get_mut("transition")
        .and_then(Item::as_array_of_tables_mut)
    else {
        notes.extend(wf_notes);
        return;
    };
    for (t, step) in transitions.iter_mut().zip(&steps) {
        let id = &step.id;
        let mut said = Vec::new();
        let mut remove = |g: &str| -> bool {
            let Some(arr) = t.get_mut("guards").and_then(Item::as_array_mut) else {
                return false;
            };
            let before = arr.len();
            arr.retain(|v| v.as_str() != Some(g));
            before != arr.len()
        };
        let mut removed = Vec::new();
        for (g, _) in metroplan_engine::workflow::v1::REPLACED {
            if remove(g) {
                removed.push(*g);
            }
        }
        tidy_guards(t);
        let want = |t: &Table, key: &str| !t.contains_key(key);

        if removed.contains(&"not-filer") {
            said.push(
                "removed guard `not-filer`: built in (the filer never takes a staff step)"
                    .to_string(),
            );
        }
        if (filing.as_ref() == Some(id) || completions.iter().any(|c| &c.id == id))
            && want(t, "data")
        {
            add_key(t, "data", Item::Value(Value::from(true)));
            said.push(if filing.as_ref() == Some(id) {
                "data = true (the filing sends the application's data)".to_string()
            } else {
                "data = true (a completion: it sends new data and the eligibility check runs again)"
                    .to_string()
            });
        }
        let award = step.guards.iter().any(|g| {
            matches!(
                g.as_str(),
                "within-envelope" | "amount-within-request" | "amount-within-ceiling"
            )
        });
        if award && push_effect(t, "award") {
            said.push("effects = [\"award\"] (its amount guards implied the award)".to_string());
        }
        if removed.contains(&"payments-within-award") {
            if first_payment.as_ref() == Some(id) && has_rate {
                push_effect(t, "advance");
                if want(t, "rate") {
                    add_key(t, "rate", Item::Value(Value::from(ADVANCE_RATE)));
                }
                said.push(format!(
                    "`payments-within-award` → effects = [\"advance\"], rate = \"{ADVANCE_RATE}\" (guess: the first payment, and the fund has `{ADVANCE_RATE}`)"
                ));
            } else {
                push_effect(t, "balance");
                said.push(format!(
                    "`payments-within-award` → effects = [\"balance\"] (guess: {})",
                    if first_payment.as_ref() == Some(id) {
                        format!("the fund has no `{ADVANCE_RATE}`, so it pays the balance")
                    } else {
                        "not the first payment".to_string()
                    }
                ));
            }
        }
        let opinion = removed
            .iter()
            .any(|g| matches!(*g, "conflict-declared" | "no-conflict-of-interest"));
        if opinion && want(t, "records") {
            add_key(t, "records", Item::Value(Value::from("opinion")));
            said.push("`conflict-declared`, `no-conflict-of-interest` → records = \"opinion\" (the opinion requires the declaration of interest)".to_string());
        }
        let report = is_applicant(step)
            && step.guards.is_empty()
            && report_states.contains(step.to.as_str());
        if report && want(t, "records") {
            add_key(t, "records", Item::Value(Value::from("final-report")));
            said.push(
                "records = \"final-report\" (the step before `final-report-received` recorded it)"
                    .to_string(),
            );
        }
        if removed.contains(&"min-opinions-reached") && want(t, "vote") {
            let mut vote = InlineTable::new();
            vote.insert("quorum", Value::from(QUORUM));
            vote.insert("rule", Value::from("majority"));
            vote.fmt();
            add_key(t, "vote", Item::Value(Value::InlineTable(vote)));
            said.push(format!(
                "`min-opinions-reached` → vote = {{ quorum = \"{QUORUM}\", rule = \"majority\" }}"
            ));
        }
        if removed.contains(&"not-instructor") {
            let before: Vec<String> = steps
                .iter()
                .filter(|s| {
                    s.id != *id
                        && kind(&s.role) == Some("instructor")
                        && reachable(&steps, &s.to)
                            .keys()
                            .any(|r| step.from.contains(r))
                })
                .map(|s| s.id.clone())
                .collect();
            if before.is_empty() {
                said.push("removed guard `not-instructor`: no instructor step leads to it, nothing to separate (guess: check it)".to_string());
            } else {
                let mut added = Vec::new();
                match t.get_mut("distinct_from").and_then(Item::as_array_mut) {
                    Some(arr) => {
                        for b in &before {
                            if !arr.iter().any(|v| v.as_str() == Some(b)) {
                                arr.push(b.as_str());
                                added.push(b.clone());
                            }
                        }
                    }
                    None => {
                        add_key(t, "distinct_from", string_array(&before));
                        added = before.clone();
                    }
                }
                said.push(format!(
                    "`not-instructor` → distinct_from = {} (guess: the steps of instructor roles that lead to it; add any other step whose actor must not take this one)",
                    quoted(&added)
                ));
            }
        }
        for s in said {
            wf_notes.push(format!("transition `{id}`: {s}"));
        }
    }
    if !wf_notes.is_empty() {
        notes.push(format!("workflow `{wf_id}`:"));
        notes.extend(wf_notes.into_iter().map(|n| format!("  {n}")));
    }
}

fn string_array(items: &[String]) -> Item {
    let mut a = Array::new();
    for i in items {
        a.push(i.as_str());
    }
    Item::Value(Value::Array(a))
}

/// After guards were removed: an empty list goes (unless a comment is written on it), and a
/// one-line list is laid out again as `["a", "b"]`.
fn tidy_guards(t: &mut Table) {
    let Some(arr) = t.get("guards").and_then(Item::as_array) else {
        return;
    };
    let commented = t
        .key("guards")
        .and_then(|k| k.leaf_decor().prefix())
        .and_then(|p| p.as_str())
        .is_some_and(|p| p.contains('#'));
    if arr.is_empty() && !commented {
        t.remove("guards");
        return;
    }
    let one_line = arr.iter().all(|v| {
        let d = v.decor();
        let p = d.prefix().and_then(|r| r.as_str()).unwrap_or("");
        let s = d.suffix().and_then(|r| r.as_str()).unwrap_or("");
        !(p.contains('\n') || p.contains('#') || s.contains('\n') || s.contains('#'))
    }) && !arr.trailing().as_str().unwrap_or("").contains('\n');
    if one_line && let Some(arr) = t.get_mut("guards").and_then(Item::as_array_mut) {
        arr.fmt();
    }
}

/// Adds `effect` to the transition's `effects` (creating the key); whether it was missing.
fn push_effect(t: &mut Table, effect: &str) -> bool {
    match t.get_mut("effects").and_then(Item::as_array_mut) {
        Some(arr) => {
            if arr.iter().any(|v| v.as_str() == Some(effect)) {
                return false;
            }
            arr.push(effect);
            true
        }
        None => {
            add_key(t, "effects", string_array(&[effect.to_string()]));
            true
        }
    }
}

/// Inserts a key before `timer` and `reference`, which close a transition in the plans.
fn add_key(t: &mut Table, key: &str, item: Item) {
    let tail: Vec<_> = ["timer", "reference"]
        .iter()
        .filter_map(|k| t.remove_entry(k))
        .collect();
    t.insert(key, item);
    for (k, v) in tail {
        t.insert_formatted(&k, v);
    }
}
