//! `metroplan eligibility`, `metroplan test`, `metroplan publish-rules` and
//! `metroplan rules-diff`: a fund's rules from the command line.

use std::io::{BufRead, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

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
    /// Filing date for applications without `submitted_on` (default: today).
    #[arg(long)]
    pub as_of: Option<Date>,
    /// Read NDJSON and write one JSON result per line, in order, evaluating on all cores.
    #[arg(long)]
    pub batch: bool,
    /// Applications this applicant already filed to the same call (single application).
    #[arg(long, default_value_t = 0)]
    pub other_filings: u32,
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
    if args.batch {
        return batch(rules, &args);
    }
    let text = read_input(&args.application)?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not valid JSON", args.application.display()))?;
    let ctx = Context {
        filed_on: Some(
            args.as_of
                .unwrap_or_else(|| jiff::ZonedDateTime::now().date()),
        ),
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

/// One line of batch output.
fn batch_line(rules: &Ruleset, line: &str, ctx: Context) -> String {
    let result = serde_json::from_str::<serde_json::Value>(line)
        .map_err(|e| format!("not valid JSON: {e}"))
        .and_then(|json| rules.evaluate(&json, ctx).map_err(|e| e.to_string()));
    match result {
        Ok(e) => {
            let x = explain(rules, &e);
            serde_json::to_string(&Report {
                evaluation: &e,
                explanation: x,
            })
            .unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() }).to_string())
        }
        Err(msg) => serde_json::json!({ "error": msg }).to_string(),
    }
}

/// The applicant and call of an application, to count earlier filings in the batch.
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

fn batch(rules: &Ruleset, args: &EligibilityArgs) -> anyhow::Result<ExitCode> {
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
    let lines: Vec<&str> = lines
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .collect();
    // Filings earlier in the batch count as already filed (article 6: one per applicant).
    let mut seen: rustc_hash::FxHashMap<(String, i64), u32> = Default::default();
    let others: Vec<u32> = lines
        .iter()
        .map(|l| match filer(l) {
            Some(k) => {
                let n = seen.entry(k).or_insert(0);
                *n += 1;
                *n - 1
            }
            None => 0,
        })
        .collect();
    let filed_on = args
        .as_of
        .unwrap_or_else(|| jiff::ZonedDateTime::now().date());
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let done = AtomicUsize::new(0);
    let total = lines.len();
    let show_progress = std::io::stderr().is_terminal();
    let chunk = total.div_ceil(threads).max(1);
    let mut outputs: Vec<Vec<String>> = Vec::new();
    std::thread::scope(|s| {
        let handles: Vec<_> = lines
            .chunks(chunk)
            .zip(others.chunks(chunk))
            .enumerate()
            .map(|(t, (ls, os))| {
                let done = &done;
                s.spawn(move || {
                    let mut out = Vec::with_capacity(ls.len());
                    for (l, &o) in ls.iter().zip(os) {
                        out.push(batch_line(
                            rules,
                            l,
                            Context {
                                filed_on: Some(filed_on),
                                other_filings: o,
                            },
                        ));
                        let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                        if show_progress && t == 0 && n % 1000 == 0 {
                            eprint!("\r{n}/{total} applications evaluated");
                        }
                    }
                    out
                })
            })
            .collect();
        for h in handles {
            outputs.push(h.join().unwrap_or_default());
        }
    });
    if show_progress {
        eprintln!("\r{total}/{total} applications evaluated");
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for line in outputs.iter().flatten() {
        out.write_all(line.as_bytes())?;
        out.write_all(b"\n")?;
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
        let rules = ruleset(&plan, f.id.as_str())?;
        let cases = cases::read(&source, &f.rules).map_err(|e| {
            anyhow::anyhow!(
                "{e} (rule tests of fund `{}` live in {})",
                f.id,
                cases::tests_dir(&f.rules).display()
            )
        })?;
        runs.push(cases::run(rules, &cases));
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
