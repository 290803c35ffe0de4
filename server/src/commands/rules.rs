//! `metroplan eligibility`, `metroplan test`, `metroplan publish-rules` and
//! `metroplan rules-diff`: a fund's rules from the command line.

use std::io::{BufRead, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use jiff::civil::Date;
use metroplan_engine::Plan;
use metroplan_engine::rules::explain::{explain, text_fr};
use metroplan_engine::rules::{Context, EvalError, Evaluation, Ruleset};
use serde::Serialize;

use super::schedule::load;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    /// The evaluation with its explanation, as JSON.
    Json,
    /// The explanation in French, as sent to the applicant.
    Text,
}

#[derive(Debug, clap::Args)]
pub struct EligibilityArgs {
    /// The plan directory.
    pub plan_dir: PathBuf,
    /// The fund whose rules apply.
    #[arg(long)]
    pub fund: String,
    /// The application (JSON), or `-` for standard input; with `--batch`, one application
    /// per line (NDJSON).
    pub application: PathBuf,
    /// Output format (single application).
    #[arg(long, value_enum, default_value_t = Format::Json)]
    pub format: Format,
    /// Filing date for applications without `submitted_on` (without it, such an application
    /// is incomplete: its filing date is missing, never taken as today).
    #[arg(long)]
    pub as_of: Option<Date>,
    /// Read NDJSON and write one JSON result per line, in order, evaluating on all cores;
    /// each result carries its `line` number and the line's `id` when it has one.
    #[arg(long)]
    pub batch: bool,
    /// Applications this applicant already filed to the same call (single application).
    #[arg(long, default_value_t = 0)]
    pub other_filings: u32,
    /// Refuse to evaluate unless the rules in force have this hash (re-evaluating a past
    /// decision: a change of rules must never silently change its result).
    #[arg(long, value_name = "HASH")]
    pub ruleset: Option<String>,
}

/// The ruleset of `fund`, or a clear error.
pub(crate) fn ruleset<'p>(plan: &'p Plan, fund: &str) -> anyhow::Result<&'p Arc<Ruleset>> {
    let Some(f) = plan.fund(fund) else {
        let close =
            metroplan_engine::suggest::closest(fund, plan.funds.iter().map(|f| f.id.as_str()));
        let known: Vec<&str> = plan.funds.iter().map(|f| f.id.as_str()).collect();
        anyhow::bail!(
            "--fund: no fund `{fund}` in plan `{}` ({})",
            plan.id,
            if close.is_empty() {
                format!("funds: {}", known.join(", "))
            } else {
                format!("did you mean `{}`?", close.join("`, `"))
            }
        );
    };
    f.ruleset.as_ref().with_context(|| {
        format!(
            "fund `{fund}` has no rules script: create {} in the plan directory",
            f.rules.display()
        )
    })
}

fn read_input(path: &Path) -> anyhow::Result<String> {
    let mut text = String::new();
    if path == Path::new("-") {
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading standard input")?;
    } else {
        text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    }
    Ok(text)
}

/// An evaluation with its explanation: what the command line and the API return.
#[derive(Debug, Serialize)]
pub struct Report<'a> {
    #[serde(flatten)]
    pub evaluation: &'a Evaluation,
    pub explanation: metroplan_engine::rules::explain::Explanation,
}

pub fn eligibility(args: EligibilityArgs) -> anyhow::Result<ExitCode> {
    let plan = load(&args.plan_dir)?;
    let rules = ruleset(&plan, &args.fund)?;
    if let Some(want) = &args.ruleset
        && *want != rules.hash
    {
        anyhow::bail!(
            "--ruleset: the rules of fund `{}` in force are {}, not {want}: the script, a parameter, the form or the territories changed",
            args.fund,
            rules.hash
        );
    }
    if args.batch {
        return batch(&plan, rules, &args);
    }
    let text = read_input(&args.application)?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not valid JSON", args.application.display()))?;
    let ctx = Context {
        filed_on: args.as_of,
        other_filings: args.other_filings,
    };
    let e = match rules.evaluate(&json, ctx) {
        Ok(e) => e,
        Err(EvalError::Input(err)) => anyhow::bail!("invalid application: {err}"),
        Err(other) => return Err(other.into()),
    };
    let x = explain(rules, &e);
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(
                &mut out,
                &Report {
                    evaluation: &e,
                    explanation: x,
                },
            )?;
            writeln!(out)?;
        }
        Format::Text => out.write_all(text_fr(&x, &e).as_bytes())?,
    }
    Ok(ExitCode::SUCCESS)
}

/// The applicant and call of an application, to count earlier filings (`rules-diff`).
fn filer(line: &str) -> Option<(String, i64)> {
    #[derive(serde::Deserialize)]
    struct Applicant {
        siret: String,
    }
    #[derive(serde::Deserialize)]
    struct Head {
        call: i64,
        applicant: Applicant,
    }
    serde_json::from_str::<Head>(line)
        .ok()
        .map(|h| (h.applicant.siret, h.call))
}

fn batch(plan: &Plan, rules: &Ruleset, args: &EligibilityArgs) -> anyhow::Result<ExitCode> {
    let reader: Box<dyn BufRead> = if args.application == Path::new("-") {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(&args.application)
                .with_context(|| format!("reading {}", args.application.display()))?,
        ))
    };
    let lines: Vec<String> = reader
        .lines()
        .collect::<Result<_, _>>()
        .context("reading the batch")?;
    // Every line gets a result line, a blank one too; a final newline ends the last line.
    let numbered: Vec<(usize, &str)> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| (i + 1, l.as_str()))
        .collect();
    let keys = plan.fund(&args.fund).and_then(|f| f.keys.as_ref());
    let mut run = metroplan_engine::rules::batch::Batch::new(rules, keys, args.as_of);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let total = numbered.len();
    let show_progress = std::io::stderr().is_terminal();
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
    // Blocks keep memory bounded; the output is in input order.
    const BLOCK: usize = 8192;
    for (b, block) in numbered.chunks(BLOCK).enumerate() {
        for line in run.block(block, threads) {
            out.write_all(line.as_bytes())?;
            out.write_all(b"\n")?;
        }
        if show_progress {
            let done = (b * BLOCK + block.len()).min(total);
            eprint!("\r{done}/{total} applications evaluated");
        }
    }
    if show_progress {
        eprintln!();
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// The plan directory.
    pub plan_dir: PathBuf,
    /// Only this fund (default: every fund with rules).
    #[arg(long)]
    pub fund: Option<String>,
    /// Print the results as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `metroplan test`: every fund's rule tests, generated boundary cases and coverage.
pub fn test(args: TestArgs) -> anyhow::Result<ExitCode> {
    use metroplan_engine::rules::cases;
    let plan = load(&args.plan_dir)?;
    let source = metroplan_engine::DirSource::new(&args.plan_dir);
    let mut runs = Vec::new();
    for f in &plan.funds {
        if args.fund.as_deref().is_some_and(|x| x != f.id.as_str()) {
            continue;
        }
        if f.ruleset.is_none() && args.fund.is_none() {
            eprintln!(
                "fund {}: no rules script ({} is missing): nothing to test",
                f.id,
                f.rules.display()
            );
            continue;
        }
        let rules = ruleset(&plan, f.id.as_str())?;
        let each = cases::read_each(&source, &f.rules).map_err(|e| {
            anyhow::anyhow!(
                "{e} (rule tests of fund `{}` live in {})",
                f.id,
                cases::tests_dir(&f.rules).display()
            )
        })?;
        // A malformed case is reported, with what is wrong, and the others still run.
        let mut malformed = Vec::new();
        let mut good = Vec::new();
        for (name, case) in each {
            match case {
                Ok(c) => good.push((name, c)),
                Err(e) => malformed.push(cases::CaseResult {
                    name: format!(
                        "{}: malformed",
                        cases::tests_dir(&f.rules).join(&name).display()
                    ),
                    ok: false,
                    problems: vec![e],
                }),
            }
        }
        let mut run = cases::run(rules, &good);
        run.cases.splice(0..0, malformed);
        runs.push(run);
    }
    if let Some(f) = &args.fund
        && runs.is_empty()
    {
        ruleset(&plan, f)?;
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &runs)?;
        writeln!(out)?;
    } else {
        for run in &runs {
            let ok = run.cases.iter().filter(|c| c.ok).count();
            writeln!(out, "fund {}: {} cases", run.fund, run.cases.len())?;
            for c in &run.cases {
                if c.ok {
                    writeln!(out, "  ok    {}", c.name)?;
                } else {
                    writeln!(out, "  FAIL  {}", c.name)?;
                    for p in &c.problems {
                        writeln!(out, "          {p}")?;
                    }
                }
            }
            let cov = &run.coverage;
            let mut gaps: Vec<&String> =
                cov.never_passing.iter().chain(&cov.never_failing).collect();
            gaps.sort();
            gaps.dedup();
            let full = cov.rules - gaps.len();
            writeln!(
                out,
                "  {ok}/{} cases pass; rule coverage: {}/{} rules seen passing and failing",
                run.cases.len(),
                full,
                cov.rules
            )?;
            if !cov.never_passing.is_empty() {
                writeln!(out, "  never passing: {}", cov.never_passing.join(", "))?;
            }
            if !cov.never_failing.is_empty() {
                writeln!(out, "  never failing: {}", cov.never_failing.join(", "))?;
            }
            if !cov.parameters_without_boundaries.is_empty() {
                writeln!(
                    out,
                    "  parameters without boundary cases: {}",
                    cov.parameters_without_boundaries.join(", ")
                )?;
            }
        }
    }
    Ok(if runs.iter().all(|r| r.passed()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[derive(Debug, clap::Args)]
pub struct PublishArgs {
    /// The plan directory.
    pub plan_dir: PathBuf,
    #[arg(long)]
    pub fund: String,
    /// Write `<fund>.md` and `<fund>.html` into this directory (default: Markdown on
    /// standard output).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// With no `--out`: print HTML instead of Markdown.
    #[arg(long)]
    pub html: bool,
    /// The publication date the document states (YYYY-MM-DD; default: today in the plan's
    /// time zone).
    #[arg(long)]
    pub as_of: Option<Date>,
}

/// `metroplan publish-rules`: the public description of the algorithm.
pub fn publish(args: PublishArgs) -> anyhow::Result<ExitCode> {
    use metroplan_engine::rules::publish::Publication;
    let plan = load(&args.plan_dir)?;
    let rules = ruleset(&plan, &args.fund)?;
    let fund = plan
        .fund(&args.fund)
        .context("the fund's rules were found, so is the fund")?;
    let on = match args.as_of {
        Some(d) => d,
        None => jiff::Timestamp::now()
            .in_tz(&plan.timezone)
            .with_context(|| format!("the plan's time zone {}", plan.timezone))?
            .date(),
    };
    let publication = Publication {
        plan: &plan,
        fund,
        rules,
        on,
    };
    match &args.out {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            for (ext, text) in [("md", publication.markdown()), ("html", publication.html())] {
                let path = dir.join(format!("{}.{ext}", args.fund));
                std::fs::write(&path, text)
                    .with_context(|| format!("writing {}", path.display()))?;
                eprintln!("wrote {}", path.display());
            }
        }
        None => {
            let text = if args.html {
                publication.html()
            } else {
                publication.markdown()
            };
            std::io::stdout().lock().write_all(text.as_bytes())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// The plan directory (the rules in force).
    pub plan_dir: PathBuf,
    #[arg(long)]
    pub fund: String,
    /// The applications, one JSON object per line (NDJSON).
    pub applications: PathBuf,
    /// A draft rules script, compiled against the plan's parameters.
    #[arg(long, conflicts_with = "draft_plan")]
    pub script: Option<PathBuf>,
    /// A draft plan directory (e.g. a copy with new parameter values, or a branch).
    #[arg(long)]
    pub draft_plan: Option<PathBuf>,
    /// Filing date for applications without `submitted_on` (without it, such an application
    /// is incomplete).
    #[arg(long)]
    pub as_of: Option<Date>,
    /// Print the changes as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
struct Change {
    line: usize,
    applicant: String,
    before: String,
    after: String,
    /// Rules whose result changed: (id, before, after).
    rules: Vec<(String, String, String)>,
}

/// `metroplan rules-diff`: which applications change outcome under a draft, and why.
pub fn diff(args: DiffArgs) -> anyhow::Result<ExitCode> {
    let plan = load(&args.plan_dir)?;
    let current = ruleset(&plan, &args.fund)?;
    let draft_plan;
    let compiled;
    let draft: &Ruleset = match (&args.script, &args.draft_plan) {
        (Some(script), _) => {
            let text = std::fs::read_to_string(script)
                .with_context(|| format!("reading {}", script.display()))?;
            let fund = plan.fund(&args.fund).context("fund")?;
            let mut map = metroplan_engine::source::SourceMap::default();
            let file = map.add(script.clone(), text.clone());
            compiled = Ruleset::compile(
                &plan,
                fund,
                &script.display().to_string(),
                &text,
                file,
                None,
                metroplan_engine::rules::Limits::default(),
            )
            .map_err(|ds| {
                let text: Vec<String> = ds.iter().map(|d| map.render(d)).collect();
                anyhow::anyhow!("the draft script does not compile:\n{}", text.join("\n"))
            })?;
            &compiled
        }
        (None, Some(dir)) => {
            draft_plan = load(dir)?;
            ruleset(&draft_plan, &args.fund)?
        }
        (None, None) => anyhow::bail!("give the draft: --script FILE or --draft-plan DIR"),
    };
    let text = read_input(&args.applications)?;
    let filed_on = args.as_of;
    let mut seen: rustc_hash::FxHashMap<(String, i64), u32> = Default::default();
    let mut changes = Vec::new();
    let mut count = 0;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        count += 1;
        let other = filer(line).map_or(0, |k| {
            let c = seen.entry(k).or_insert(0);
            *c += 1;
            *c - 1
        });
        let json: serde_json::Value = serde_json::from_str(line)
            .with_context(|| format!("line {}: not valid JSON", n + 1))?;
        let ctx = Context {
            filed_on,
            other_filings: other,
        };
        let summary = |r: Result<Evaluation, EvalError>| match r {
            Ok(e) => (
                e.outcome.name().to_string(),
                e.rules
                    .iter()
                    .map(|r| (r.id.clone(), r.state().to_string()))
                    .collect::<Vec<_>>(),
            ),
            Err(e) => (format!("error: {e}"), Vec::new()),
        };
        let (b, br) = summary(current.evaluate(&json, ctx));
        let (a, ar) = summary(draft.evaluate(&json, ctx));
        let mut rules: Vec<(String, String, String)> = Vec::new();
        for (id, s) in &br {
            let after = ar
                .iter()
                .find(|(x, _)| x == id)
                .map_or("absent", |(_, s)| s.as_str());
            if after != s {
                rules.push((id.clone(), s.clone(), after.to_string()));
            }
        }
        for (id, s) in &ar {
            if !br.iter().any(|(x, _)| x == id) {
                rules.push((id.clone(), "absent".into(), s.clone()));
            }
        }
        if a != b {
            changes.push(Change {
                line: n + 1,
                applicant: json
                    .pointer("/applicant/name")
                    .and_then(|v| v.as_str())
                    .unwrap_or("?")
                    .to_string(),
                before: b,
                after: a,
                rules,
            });
        }
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(
            &mut out,
            &serde_json::json!({
                "applications": count,
                "ruleset_before": current.hash,
                "ruleset_after": draft.hash,
                "changes": changes,
            }),
        )?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "{} of {count} applications change outcome ({} → {})",
            changes.len(),
            current.hash,
            draft.hash
        )?;
        for c in &changes {
            writeln!(
                out,
                "line {}: {}: {} → {}",
                c.line, c.applicant, c.before, c.after
            )?;
            for (id, b, a) in &c.rules {
                writeln!(out, "    {id}: {b} → {a}")?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
