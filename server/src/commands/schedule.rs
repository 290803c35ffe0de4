//! `metroplan schedule` and `metroplan why`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use jiff::civil::Date;
use metroplan_engine::Plan;
use metroplan_engine::model::Status;
use metroplan_engine::schedule::{Driver, Options, Schedule, export, query, schedule, what_if};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The plan directory.
    pub plan_dir: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Items whose total float (in working days) is at or under this are critical.
    #[arg(long, default_value_t = 0)]
    pub critical_float: i64,
    /// Re-forecast as of this day (nothing not yet started starts before it); also the
    /// chart's "today" line. Default: today for the chart, no re-forecast otherwise.
    #[arg(long)]
    pub as_of: Option<Date>,
    /// Compare with this baseline: variance per item, late items flagged.
    #[arg(long, value_name = "NAME")]
    pub baseline: Option<String>,
}

fn baseline_index(plan: &Plan, name: Option<&str>) -> anyhow::Result<Option<usize>> {
    let Some(name) = name else { return Ok(None) };
    match plan.baselines.iter().position(|b| b.id.as_str() == name) {
        Some(i) => Ok(Some(i)),
        None => {
            let close = metroplan_engine::suggest::closest(
                name,
                plan.baselines.iter().map(|b| b.id.as_str()),
            );
            let known: Vec<&str> = plan.baselines.iter().map(|b| b.id.as_str()).collect();
            anyhow::bail!(
                "--baseline: no baseline `{name}` in plan `{}`{}",
                plan.id,
                if close.is_empty() {
                    format!(" (baselines: {})", known.join(", "))
                } else {
                    format!(" (did you mean `{}`?)", close.join("`, `"))
                }
            )
        }
    }
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    /// One line per item: dates, float, critical.
    Table,
    /// The full schedule as JSON.
    Json,
    /// RFC 4180 CSV, one row per item.
    Csv,
    /// iCalendar (RFC 5545): one event per item or occurrence, with stable UIDs.
    Ics,
    /// Mermaid gantt chart, sections by axis, critical items marked.
    Mermaid,
    /// SVG Gantt chart: bars by axis, critical path, milestones, dependencies, today line.
    Svg,
}

#[derive(Debug, clap::Args)]
pub struct WhyArgs {
    /// The plan directory.
    pub plan_dir: PathBuf,
    /// The item whose start is explained.
    pub item: String,
    /// Explain the schedule re-forecast as of this day (for plans that report progress).
    #[arg(long)]
    pub as_of: Option<Date>,
}

/// The plan has errors, already printed: `main` exits with 1 (not 2, which is for usage and I/O).
#[derive(Debug)]
pub struct PlanHasErrors;

impl std::fmt::Display for PlanHasErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the plan has errors; run `metroplan check` for details")
    }
}

impl std::error::Error for PlanHasErrors {}

/// Loads a plan; if it has errors, prints them and fails with [`PlanHasErrors`].
pub(crate) fn load(dir: &std::path::Path) -> anyhow::Result<Plan> {
    if !dir.is_dir() {
        anyhow::bail!("{} is not a directory", dir.display());
    }
    let loaded = metroplan_engine::load_dir(dir);
    match loaded.plan {
        Some(plan) => Ok(plan),
        None => {
            let mut err = std::io::stderr().lock();
            for d in &loaded.diagnostics {
                writeln!(err, "{}", loaded.sources.render(d))?;
            }
            Err(PlanHasErrors.into())
        }
    }
}

fn warn(s: &Schedule) {
    for d in &s.diagnostics {
        eprintln!("warning[{}]: {}", d.code, d.message);
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let plan = load(&args.plan_dir)?;
    let options = Options {
        critical_float: args.critical_float,
        as_of: args.as_of,
        baseline: baseline_index(&plan, args.baseline.as_deref())?,
    };
    let s = schedule(&plan, options);
    warn(&s);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match args.format {
        Format::Json => {
            let doc = serde_json::json!({ "plan": plan.id, "schedule": s });
            serde_json::to_writer_pretty(&mut out, &doc).context("writing JSON")?;
            writeln!(out)?;
        }
        Format::Csv => out.write_all(export::csv(&plan, &s).as_bytes())?,
        Format::Ics => out.write_all(export::ical(&plan, &s).as_bytes())?,
        Format::Mermaid => out.write_all(export::mermaid(&plan, &s).as_bytes())?,
        Format::Svg => {
            let today = args
                .as_of
                .unwrap_or_else(|| jiff::ZonedDateTime::now().date());
            out.write_all(
                metroplan_engine::schedule::svg::gantt(&plan, &s, Some(today)).as_bytes(),
            )?
        }
        Format::Table => {
            let width = plan
                .actions
                .iter()
                .map(|a| a.id.as_str().len())
                .max()
                .unwrap_or(2)
                .max(4);
            writeln!(
                out,
                "{:<width$}  {:<10}  {:<10}  {:<10}  {:<10}  {:>6}  {:<8}  {:<11}  {:>8}  note",
                "item",
                "start",
                "finish",
                "late start",
                "late finish",
                "float",
                "critical",
                "status",
                "variance"
            )?;
            for it in s.items() {
                let status = it.status.map(|st| st.name()).unwrap_or_default();
                let variance = it
                    .finish_variance
                    .map(|v| format!("{v:+}"))
                    .unwrap_or_default();
                writeln!(
                    out,
                    "{:<width$}  {}  {}  {}  {}  {:>6}  {:<8}  {:<11}  {:>8}  {}",
                    it.id,
                    it.early_start,
                    it.early_finish,
                    it.late_start,
                    it.late_finish,
                    it.total_float,
                    if it.critical { "yes" } else { "" },
                    status,
                    variance,
                    note(&it)
                )?;
            }
            writeln!(out, "plan finishes on {}", s.finish)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The table's last column: lateness, then reported indicator values against their targets.
fn note(it: &metroplan_engine::schedule::ItemSchedule<'_>) -> String {
    let mut parts: Vec<String> = Vec::new();
    if it.late {
        parts.push("late".into());
    }
    for v in &it.indicators {
        parts.push(format!("{} {}/{}", v.id, v.value, v.target));
    }
    parts.join(", ")
}

pub fn why(args: WhyArgs) -> anyhow::Result<ExitCode> {
    let plan = load(&args.plan_dir)?;
    let index = find_item(&plan, "item", &args.item)?;
    let s = schedule(
        &plan,
        Options {
            as_of: args.as_of,
            ..Options::default()
        },
    );
    let mut out = std::io::stdout().lock();
    let it = &s.item(index);
    writeln!(
        out,
        "`{}` starts on {} and finishes on {}; total float {} working days, free float {}{}.",
        it.id,
        it.early_start,
        it.early_finish,
        it.total_float,
        it.free_float,
        if it.critical { " (critical)" } else { "" }
    )?;
    for i in s.driving_chain(index) {
        let item = &s.item(i);
        let a = &plan.actions[i];
        let reason = match item.driver {
            Driver::PlanStart => format!("nothing before it: the plan starts on {}", plan.start),
            Driver::FixedStart => "its start date is fixed in the plan".to_string(),
            Driver::Actual => "it actually started that day (progress report)".to_string(),
            Driver::AsOf => {
                "it has not started yet: forecast from the day of the report".to_string()
            }
            Driver::NotBefore => format!(
                "it may not start before {}",
                a.timing
                    .not_before
                    .map(|d| d.to_string())
                    .unwrap_or_default()
            ),
            Driver::Recurrence => "its recurrence sets the date".to_string(),
            Driver::Predecessor {
                item: p,
                dependency,
            } => {
                let d = &a.depends_on[dependency as usize];
                format!(
                    "it depends on `{}` ({}, lag {})",
                    plan.actions[p as usize].id,
                    d.link.name(),
                    d.lag
                )
            }
        };
        writeln!(out, "  {} {}: {reason}", item.early_start, item.id)?;
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub struct TimelineArgs {
    /// The plan directory.
    pub plan_dir: PathBuf,
    /// First day of the window (YYYY-MM-DD); default: the plan's start.
    #[arg(long)]
    pub from: Option<Date>,
    /// Last day of the window (YYYY-MM-DD); default: the end of the schedule.
    #[arg(long)]
    pub to: Option<Date>,
    /// Only items of this axis.
    #[arg(long)]
    pub axis: Option<String>,
    /// Only items led by this partner.
    #[arg(long)]
    pub lead: Option<String>,
    /// Only items this partner leads or takes part in.
    #[arg(long)]
    pub partner: Option<String>,
    /// Only items taking place in this territory or in one inside it (a council includes its
    /// communes) or containing it (the whole area includes every commune).
    #[arg(long)]
    pub territory: Option<String>,
    /// Only what must finish before this item (its direct and indirect predecessors).
    #[arg(long, value_name = "ITEM", conflicts_with = "downstream")]
    pub upstream: Option<String>,
    /// Only what this item unblocks (its direct and indirect successors).
    #[arg(long, value_name = "ITEM")]
    pub downstream: Option<String>,
    /// Only the next N items starting on or after --as-of.
    #[arg(long, value_name = "N")]
    pub next: Option<usize>,
    /// The reference day of --next and of --late (default: today).
    #[arg(long)]
    pub as_of: Option<Date>,
    /// Only items in this state (from the progress reports; "not-started" includes unreported items).
    #[arg(long, value_enum)]
    pub status: Option<StatusArg>,
    /// Only late items (past their deadline or baseline, or suspended).
    #[arg(long)]
    pub late: bool,
    /// Baseline for --late.
    #[arg(long, value_name = "NAME")]
    pub baseline: Option<String>,
    /// Output format (table or json).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

fn find_item(plan: &Plan, flag: &str, id: &str) -> anyhow::Result<usize> {
    plan.actions
        .iter()
        .position(|a| a.id.as_str() == id)
        .ok_or_else(|| {
            let close =
                metroplan_engine::suggest::closest(id, plan.actions.iter().map(|a| a.id.as_str()));
            let hint = if close.is_empty() {
                String::new()
            } else {
                format!(" (did you mean `{}`?)", close.join("`, `"))
            };
            anyhow::anyhow!("{flag}: no item `{id}` in plan `{}`{hint}", plan.id)
        })
}

/// Items (and occurrences) that overlap the window and match the filters, in date order.
pub fn timeline(args: TimelineArgs) -> anyhow::Result<ExitCode> {
    let plan = load(&args.plan_dir)?;
    for (flag, value, known) in [
        (
            "--axis",
            &args.axis,
            plan.axes.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
        ),
        (
            "--lead",
            &args.lead,
            plan.partners.iter().map(|p| p.id.as_str()).collect(),
        ),
    ] {
        if let Some(v) = value
            && !known.contains(&v.as_str())
        {
            let close = metroplan_engine::suggest::closest(v, known.iter().copied());
            anyhow::bail!(
                "{flag}: no `{v}` in plan `{}`{}",
                plan.id,
                if close.is_empty() {
                    String::new()
                } else {
                    format!(" (did you mean `{}`?)", close.join("`, `"))
                }
            );
        }
    }
    let related: Option<Vec<bool>> = match (&args.upstream, &args.downstream) {
        (Some(id), _) => Some(mark(
            &plan,
            query::upstream(&plan, find_item(&plan, "--upstream", id)?),
        )),
        (_, Some(id)) => Some(mark(
            &plan,
            query::downstream(&plan, find_item(&plan, "--downstream", id)?),
        )),
        _ => None,
    };
    let as_of = args
        .as_of
        .unwrap_or_else(|| jiff::ZonedDateTime::now().date());
    let options = Options {
        as_of: Some(as_of),
        baseline: baseline_index(&plan, args.baseline.as_deref())?,
        ..Options::default()
    };
    let s = schedule(&plan, options);
    let from = args.from.unwrap_or(plan.start);
    let to = args.to.unwrap_or(s.finish.max(plan.horizon));
    if to < from {
        anyhow::bail!("--to {to} is before --from {from}");
    }
    let as_of = args
        .as_of
        .unwrap_or_else(|| jiff::ZonedDateTime::now().date());
    let mut rows: Vec<(Date, Date, &str, &str, bool)> = Vec::new();
    for (i, (a, it)) in plan.actions.iter().zip(s.items()).enumerate() {
        if args.axis.as_deref().is_some_and(|x| a.axis.as_str() != x)
            || args
                .lead
                .as_deref()
                .is_some_and(|x| a.lead.as_ref().is_none_or(|l| l.as_str() != x))
            || related.as_ref().is_some_and(|r| !r[i])
            || args
                .status
                .is_some_and(|st| st.status() != it.status.unwrap_or(Status::NotStarted))
            || (args.late && !it.late)
            || args.partner.as_deref().is_some_and(|p| {
                a.lead.as_ref().is_none_or(|l| l.as_str() != p)
                    && !a.partners.iter().any(|x| x.as_str() == p)
            })
            || args.territory.as_deref().is_some_and(|t| {
                !a.territories
                    .iter()
                    .any(|x| related_territory(&plan, x.as_str(), t))
            })
        {
            continue;
        }
        let spans: Vec<(Date, Date)> = if it.occurrences.is_empty() {
            vec![(it.early_start, it.early_finish)]
        } else {
            it.occurrences.clone()
        };
        for (start, end) in spans {
            if start <= to && end >= from && (args.next.is_none() || start >= as_of) {
                rows.push((start, end, a.id.as_str(), a.title.as_str(), it.critical));
            }
        }
    }
    rows.sort();
    if let Some(n) = args.next {
        rows.truncate(n);
    }
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            let items: Vec<_> = rows
                .iter()
                .map(|(s, e, id, title, crit)| serde_json::json!({"id": id, "title": title, "start": s, "finish": e, "critical": crit}))
                .collect();
            serde_json::to_writer_pretty(
                &mut out,
                &serde_json::json!({"plan": plan.id, "from": from, "to": to, "items": items}),
            )?;
            writeln!(out)?;
        }
        _ => {
            for (s, e, id, title, crit) in &rows {
                writeln!(
                    out,
                    "{s}  {e}  {id:<32} {title}{}",
                    if *crit { "  (critique)" } else { "" }
                )?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn mark(plan: &Plan, items: Vec<usize>) -> Vec<bool> {
    let mut v = vec![false; plan.actions.len()];
    for i in items {
        v[i] = true;
    }
    v
}

#[derive(Debug, clap::Args)]
pub struct WhatIfArgs {
    /// The plan directory.
    pub plan_dir: PathBuf,
    /// The item that slips.
    pub item: String,
    /// Calendar days it slips (negative: it comes earlier), at most 100 years either way.
    #[arg(long, allow_negative_numbers = true, value_parser = clap::value_parser!(i32).range(-36500..=36500))]
    pub slip: i32,
    /// Slip the schedule re-forecast as of this day (for plans that report progress).
    #[arg(long)]
    pub as_of: Option<Date>,
    /// Output format (table or json).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// Every item that moves if one slips, and the deadlines that break.
pub fn what_if_cmd(args: WhatIfArgs) -> anyhow::Result<ExitCode> {
    let plan = load(&args.plan_dir)?;
    let index = find_item(&plan, "item", &args.item)?;
    let w = what_if(
        &plan,
        index,
        args.slip,
        Options {
            as_of: args.as_of,
            ..Options::default()
        },
    );
    let mut out = std::io::stdout().lock();
    if matches!(args.format, Format::Json) {
        serde_json::to_writer_pretty(&mut out, &w)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        out,
        "If `{}` slips {} days, {} items move:",
        args.item,
        args.slip,
        w.moves.len()
    )?;
    for m in &w.moves {
        writeln!(
            out,
            "  {:<32} {} -> {}  ({:+} days)",
            m.id, m.from, m.to, m.days
        )?;
    }
    if w.broken_deadlines.is_empty() {
        writeln!(
            out,
            "No deadline breaks. The plan finishes on {}.",
            w.finish_after
        )?;
    } else {
        for d in &w.broken_deadlines {
            writeln!(out, "  deadline broken: {d}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A status on the command line.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum StatusArg {
    NotStarted,
    InProgress,
    Done,
    Suspended,
    Abandoned,
}

impl StatusArg {
    #[allow(clippy::wrong_self_convention)]
    fn status(self) -> Status {
        match self {
            StatusArg::NotStarted => Status::NotStarted,
            StatusArg::InProgress => Status::InProgress,
            StatusArg::Done => Status::Done,
            StatusArg::Suspended => Status::Suspended,
            StatusArg::Abandoned => Status::Abandoned,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct BaselineArgs {
    /// The plan directory.
    pub plan_dir: PathBuf,
    /// Id of the new baseline.
    #[arg(long)]
    pub name: String,
    /// What it records, e.g. "Plan voté en décembre 2019".
    #[arg(long)]
    pub label: String,
    /// The day it is taken (default: today).
    #[arg(long)]
    pub taken_on: Option<Date>,
}

/// Prints a `[[baseline]]` of the current schedule, to save as a file of the plan.
pub fn baseline(args: BaselineArgs) -> anyhow::Result<ExitCode> {
    let plan = load(&args.plan_dir)?;
    if let Err(e) = metroplan_engine::model::Id::parse(&args.name) {
        anyhow::bail!("--name: {e}");
    }
    if plan.baseline(&args.name).is_some() {
        anyhow::bail!(
            "--name: plan `{}` already has a baseline `{}`",
            plan.id,
            args.name
        );
    }
    let s = schedule(&plan, Options::default());
    let taken_on = args
        .taken_on
        .unwrap_or_else(|| jiff::ZonedDateTime::now().date());
    let mut out = std::io::stdout().lock();
    writeln!(out, "#:schema ../../plan.schema.json")?;
    writeln!(
        out,
        "# Baseline generated by `metroplan baseline` from the schedule of plan `{}`.\n",
        plan.id
    )?;
    writeln!(
        out,
        "[[baseline]]\nid = {:?}\nlabel = {:?}\ntaken_on = {taken_on}\nitem = [",
        args.name, args.label
    )?;
    for it in s.items() {
        writeln!(
            out,
            "  {{ id = {:?}, start = {}, finish = {} }},",
            it.id, it.early_start, it.early_finish
        )?;
    }
    writeln!(out, "]")?;
    Ok(ExitCode::SUCCESS)
}

/// Whether territory `a` is `b`, inside it, or contains it.
fn related_territory(plan: &Plan, a: &str, b: &str) -> bool {
    a == b
        || plan.ancestors(a).any(|t| t.id.as_str() == b)
        || plan.ancestors(b).any(|t| t.id.as_str() == a)
}
