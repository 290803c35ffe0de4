//! Schedule exports: CSV, iCalendar (RFC 5545, with RFC 9253 dependency links) and Mermaid
//! gantt. Output is deterministic: the same plan gives the same bytes, so that files can be
//! committed and calendar subscriptions update in place.

use std::fmt::Write as _;

use jiff::civil::Date;

use super::cpm::Schedule;
use crate::csv;
use crate::model::{ItemKind, LinkType, Plan};

/// The formats a schedule is exported to, with their media types: the one list the command
/// line and the API both read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
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

impl Format {
    pub const ALL: [Format; 5] = [
        Format::Json,
        Format::Csv,
        Format::Ics,
        Format::Mermaid,
        Format::Svg,
    ];

    /// The name used on the command line and in `?format=`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Ics => "ics",
            Format::Mermaid => "mermaid",
            Format::Svg => "svg",
        }
    }

    /// The format called `name`, if any.
    pub fn parse(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Every name, for messages: "json, csv, ics, mermaid or svg".
    pub fn names() -> String {
        let names: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
        let (last, rest) = names.split_last().expect("there are formats");
        format!("{} or {last}", rest.join(", "))
    }

    /// What to send as `Content-Type`.
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Csv => "text/csv; charset=utf-8",
            Format::Ics => "text/calendar; charset=utf-8",
            Format::Mermaid => "text/plain; charset=utf-8",
            Format::Svg => "image/svg+xml",
        }
    }

    /// The schedule in this format; `today` draws the chart's today line.
    pub fn render(self, plan: &Plan, s: &Schedule, today: Option<Date>) -> String {
        match self {
            Format::Json => {
                let doc = serde_json::json!({ "plan": plan.id, "schedule": s });
                let mut out = serde_json::to_string_pretty(&doc).expect("a schedule serializes");
                out.push('\n');
                out
            }
            Format::Csv => csv(plan, s),
            Format::Ics => ical(plan, s),
            Format::Mermaid => mermaid(plan, s),
            Format::Svg => super::svg::gantt(plan, s, today),
        }
    }
}

/// RFC 4180 CSV, one row per item.
pub fn csv(plan: &Plan, s: &Schedule) -> String {
    let mut out = String::from(
        "id,kind,axis,title,lead,early_start,early_finish,late_start,late_finish,total_float,free_float,critical\r\n",
    );
    for (a, it) in plan.actions.iter().zip(s.items()) {
        let kind = match a.kind {
            ItemKind::Action => "action",
            ItemKind::Milestone => "milestone",
        };
        let fields = [
            a.id.to_string(),
            kind.to_string(),
            a.axis.to_string(),
            a.title.clone(),
            a.lead.as_ref().map(|l| l.to_string()).unwrap_or_default(),
            it.early_start.to_string(),
            it.early_finish.to_string(),
            it.late_start.to_string(),
            it.late_finish.to_string(),
            it.total_float.to_string(),
            it.free_float.to_string(),
            it.critical.to_string(),
        ];
        csv::row(&mut out, fields.iter().map(String::as_str));
    }
    out
}

/// The stable UID of an item (and of one occurrence of a recurring item).
pub fn uid(plan: &Plan, item: &str, year: Option<i16>) -> String {
    match year {
        Some(y) => format!("{item}-{y}.{}@metroplan", plan.id),
        None => format!("{item}.{}@metroplan", plan.id),
    }
}

/// iCalendar: one all-day VEVENT per item, and per occurrence of a recurring item.
pub fn ical(plan: &Plan, s: &Schedule) -> String {
    let mut lines: Vec<String> = vec![
        "BEGIN:VCALENDAR".into(),
        "VERSION:2.0".into(),
        "PRODID:-//metroplan//plan schedule//FR".into(),
        "CALSCALE:GREGORIAN".into(),
        "METHOD:PUBLISH".into(),
        format!("X-WR-CALNAME:{}", escape(&plan.title)),
        format!("X-WR-TIMEZONE:{}", plan.timezone),
    ];
    // DTSTAMP is required; the plan's vote date keeps the output reproducible.
    let stamp = format!("{}T000000Z", compact(plan.deliberation_date));
    for (a, it) in plan.actions.iter().zip(s.items()) {
        let mut events: Vec<(String, Date, Date)> = Vec::new();
        if it.occurrences.is_empty() {
            events.push((
                uid(plan, a.id.as_str(), None),
                it.early_start,
                it.early_finish,
            ));
        } else {
            for (start, end) in &it.occurrences {
                events.push((uid(plan, a.id.as_str(), Some(start.year())), *start, *end));
            }
        }
        for (id, start, last) in events {
            lines.push("BEGIN:VEVENT".into());
            lines.push(format!("UID:{id}"));
            lines.push(format!("DTSTAMP:{stamp}"));
            lines.push(format!("DTSTART;VALUE=DATE:{}", compact(start)));
            // All-day events end on the day after (exclusive).
            let end = last.tomorrow().unwrap_or(last);
            lines.push(format!("DTEND;VALUE=DATE:{}", compact(end)));
            let prefix = if a.kind == ItemKind::Milestone {
                "◆ "
            } else {
                ""
            };
            lines.push(format!("SUMMARY:{prefix}{}", escape(&a.title)));
            let mut desc = a.description.clone().unwrap_or_default();
            if it.critical {
                desc.push_str("\n(chemin critique)");
            }
            if !desc.is_empty() {
                lines.push(format!("DESCRIPTION:{}", escape(desc.trim())));
            }
            lines.push(format!("CATEGORIES:{}", escape(a.axis.as_str())));
            for d in &a.depends_on {
                let reltype = match d.link {
                    LinkType::FinishToStart => "FINISHTOSTART",
                    LinkType::StartToStart => "STARTTOSTART",
                    LinkType::FinishToFinish => "FINISHTOFINISH",
                    LinkType::StartToFinish => "STARTTOFINISH",
                };
                // A recurring predecessor is published as occurrences: point at the first.
                let year = s
                    .item(d.on)
                    .occurrences
                    .first()
                    .map(|(start, _)| start.year());
                lines.push(format!(
                    "RELATED-TO;RELTYPE={reltype}:{}",
                    uid(plan, d.on_id.as_str(), year)
                ));
            }
            lines.push("END:VEVENT".into());
        }
    }
    lines.push("END:VCALENDAR".into());
    let mut out = String::new();
    for l in lines {
        fold(&mut out, &l);
    }
    out
}

fn compact(d: Date) -> String {
    format!("{:04}{:02}{:02}", d.year(), d.month(), d.day())
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace(';', "\\;")
        .replace(',', "\\,")
        .replace('\n', "\\n")
}

/// Lines of at most 75 octets, continued with a space (RFC 5545, 3.1), never inside a character.
fn fold(out: &mut String, line: &str) {
    let mut count = 0;
    for c in line.chars() {
        let len = c.len_utf8();
        if count + len > 75 {
            out.push_str("\r\n ");
            count = 1;
        }
        out.push(c);
        count += len;
    }
    out.push_str("\r\n");
}

/// Mermaid gantt, sections by axis, critical items marked `crit`.
pub fn mermaid(plan: &Plan, s: &Schedule) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "gantt");
    let _ = writeln!(out, "    title {}", clean(&plan.title));
    let _ = writeln!(out, "    dateFormat YYYY-MM-DD");
    let _ = writeln!(out, "    axisFormat %Y-%m");
    for axis in &plan.axes {
        let _ = writeln!(out, "    section {}", clean(&axis.title));
        for (a, it) in plan
            .actions
            .iter()
            .zip(s.items())
            .filter(|(a, _)| a.axis == axis.id)
        {
            let mut tags = Vec::new();
            if it.critical {
                tags.push("crit".to_string());
            }
            let end = if a.kind == ItemKind::Milestone {
                tags.push("milestone".to_string());
                "0d".to_string()
            } else {
                it.early_finish
                    .tomorrow()
                    .unwrap_or(it.early_finish)
                    .to_string()
            };
            tags.push(a.id.as_str().replace('-', "_"));
            let _ = writeln!(
                out,
                "    {} :{}, {}, {}",
                clean(&a.title),
                tags.join(", "),
                it.early_start,
                end
            );
        }
    }
    out
}

/// Mermaid gives `:` and `#` a meaning in task lines.
fn clean(s: &str) -> String {
    s.replace([':', '#', ';'], " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}
