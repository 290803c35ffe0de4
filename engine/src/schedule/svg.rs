//! An SVG Gantt chart drawn by us: one row per item grouped by axis, bars coloured by axis,
//! the critical path outlined in red, milestones as diamonds, occurrences of recurring items
//! as separate marks, dependency arrows, and a "today" line. Labels are French, the text is
//! escaped, and the chart carries a title and description for screen readers.

use std::fmt::Write as _;

use jiff::civil::Date;

use super::calendar::day_of;
use super::cpm::Schedule;
use crate::model::{ItemKind, Plan};

const LABEL_W: f64 = 380.0;
const CHART_W: f64 = 1100.0;
const ROW_H: f64 = 22.0;
const HEAD_H: f64 = 44.0;
/// Colour-blind-safe palette (Okabe-Ito), one colour per axis, cycling.
const PALETTE: [&str; 7] = [
    "#0072B2", "#009E73", "#E69F00", "#56B4E9", "#CC79A7", "#D55E00", "#000000",
];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The chart; `today` draws the "Aujourd'hui" line when it falls in the plan's span.
pub fn gantt(plan: &Plan, s: &Schedule, today: Option<Date>) -> String {
    gantt_of(plan, s, today, |_| true)
}

/// The chart of the items `keep` selects (by index); arrows are drawn between kept items,
/// and an axis with no kept item has no heading.
pub fn gantt_of(
    plan: &Plan,
    s: &Schedule,
    today: Option<Date>,
    keep: impl Fn(usize) -> bool,
) -> String {
    let start = day_of(plan.start);
    let end = (day_of(s.finish).max(day_of(plan.horizon)) + 1).max(start + 1);
    let scale = CHART_W / f64::from(end - start);
    let x = |d: Date| LABEL_W + f64::from(day_of(d) - start) * scale;

    // Rows: items grouped by axis, in plan order; each axis has a heading row.
    let mut rows: Vec<Option<usize>> = Vec::new();
    let mut axis_of_row: Vec<usize> = Vec::new();
    for (k, axis) in plan.axes.iter().enumerate() {
        if !plan
            .actions
            .iter()
            .enumerate()
            .any(|(i, a)| a.axis == axis.id && keep(i))
        {
            continue;
        }
        rows.push(None);
        axis_of_row.push(k);
        for (i, a) in plan.actions.iter().enumerate() {
            if a.axis == axis.id && keep(i) {
                rows.push(Some(i));
                axis_of_row.push(k);
            }
        }
    }
    let row_of: Vec<usize> = {
        let mut v = vec![0; plan.actions.len()];
        for (r, item) in rows.iter().enumerate() {
            if let Some(i) = item {
                v[*i] = r;
            }
        }
        v
    };
    let height = HEAD_H + ROW_H * rows.len() as f64 + 30.0;
    let width = LABEL_W + CHART_W + 20.0;
    let y = |r: usize| HEAD_H + ROW_H * r as f64;

    let mut o = String::new();
    let _ = writeln!(
        o,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" role="img" aria-labelledby="titre desc" font-family="system-ui, sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        o,
        r#"<title id="titre">Calendrier : {}</title>"#,
        esc(&plan.title)
    );
    let crit = s.critical_path.len();
    let _ = writeln!(
        o,
        r#"<desc id="desc">Diagramme de Gantt de {} actions et jalons, du {} au {} ; {} sur le chemin critique (contour rouge).</desc>"#,
        rows.iter().filter(|r| r.is_some()).count(),
        crate::french::date_fr(plan.start),
        crate::french::date_fr(s.finish),
        crit
    );
    let _ = writeln!(
        o,
        r##"<defs><marker id="fleche" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>"##
    );
    let _ = writeln!(o, r##"<rect width="100%" height="100%" fill="#ffffff"/>"##);

    // Years along the top, with a light line at each 1 January.
    // Only years whose 1 January is inside the chart (a plan voted on 19 December would
    // otherwise print two year labels on top of each other).
    for year in plan.start.year()..=(super::calendar::date_of(end - 1).year()) {
        let Ok(jan1) = Date::new(year, 1, 1) else {
            continue;
        };
        if jan1 < plan.start {
            continue;
        }
        let xx = x(jan1);
        let _ = writeln!(
            o,
            r##"<line x1="{xx:.1}" y1="{:.1}" x2="{xx:.1}" y2="{:.1}" stroke="#ddd"/>"##,
            HEAD_H - 14.0,
            height - 30.0
        );
        let _ = writeln!(
            o,
            r##"<text x="{:.1}" y="{:.1}" fill="#333">{year}</text>"##,
            xx + 3.0,
            HEAD_H - 18.0
        );
    }

    // Row labels, axis headings and bars.
    for (r, item) in rows.iter().enumerate() {
        let top = y(r);
        let color = PALETTE[axis_of_row[r] % PALETTE.len()];
        match item {
            None => {
                let axis = &plan.axes[axis_of_row[r]];
                let _ = writeln!(
                    o,
                    r##"<rect x="0" y="{top:.1}" width="{width:.0}" height="{ROW_H}" fill="#f3f4f6"/>"##
                );
                let _ = writeln!(
                    o,
                    r#"<text x="6" y="{:.1}" font-weight="bold" fill="{color}">{}</text>"#,
                    top + 15.0,
                    esc(&axis.title)
                );
            }
            Some(i) => {
                let a = &plan.actions[*i];
                let it = &s.item(*i);
                let class = if it.critical {
                    "element critique"
                } else {
                    "element"
                };
                let _ = writeln!(o, r#"<g class="{class}" id="item-{}">"#, esc(a.id.as_str()));
                let _ = writeln!(
                    o,
                    r##"<text x="14" y="{:.1}" fill="#111">{}</text>"##,
                    top + 15.0,
                    esc(&truncate(&a.title, 58))
                );
                let tip = format!(
                    "{} : {} → {} (marge {} j ouvrés)",
                    a.title,
                    crate::french::date_fr(it.early_start),
                    crate::french::date_fr(it.early_finish),
                    it.total_float
                );
                let stroke = if it.critical {
                    r##" stroke="#c00000" stroke-width="2""##
                } else {
                    ""
                };
                let spans: Vec<(Date, Date)> = if it.occurrences.is_empty() {
                    vec![(it.early_start, it.early_finish)]
                } else {
                    it.occurrences.clone()
                };
                for (s0, s1) in spans {
                    if a.kind == ItemKind::Milestone {
                        let cx = x(s0);
                        let cy = top + ROW_H / 2.0;
                        let _ = writeln!(
                            o,
                            r#"<polygon points="{:.1},{:.1} {:.1},{:.1} {:.1},{:.1} {:.1},{:.1}" fill="{color}"{stroke}><title>{}</title></polygon>"#,
                            cx,
                            cy - 7.0,
                            cx + 7.0,
                            cy,
                            cx,
                            cy + 7.0,
                            cx - 7.0,
                            cy,
                            esc(&tip)
                        );
                    } else {
                        let x0 = x(s0);
                        let x1 = x(s1.tomorrow().unwrap_or(s1)).max(x0 + 2.0);
                        let _ = writeln!(
                            o,
                            r#"<rect x="{x0:.1}" y="{:.1}" width="{:.1}" height="{:.1}" rx="2" fill="{color}" fill-opacity="0.85"{stroke}><title>{}</title></rect>"#,
                            top + 5.0,
                            x1 - x0,
                            ROW_H - 10.0,
                            esc(&tip)
                        );
                    }
                }
                let _ = writeln!(o, "</g>");
            }
        }
    }

    // Dependency arrows: from the predecessor's end (or start) to the successor's start row.
    for (i, a) in plan.actions.iter().enumerate() {
        if !keep(i) {
            continue;
        }
        for d in &a.depends_on {
            if !keep(d.on) {
                continue;
            }
            let p = &s.item(d.on);
            let from_x = match d.link {
                crate::model::LinkType::StartToStart | crate::model::LinkType::StartToFinish => {
                    x(p.early_start)
                }
                _ => x(p.early_finish.tomorrow().unwrap_or(p.early_finish)),
            };
            let to_x = x(s.item(i).early_start);
            let y0 = y(row_of[d.on]) + ROW_H / 2.0;
            let y1 = y(row_of[i]) + ROW_H / 2.0;
            let _ = writeln!(
                o,
                r##"<path d="M{from_x:.1},{y0:.1} H{:.1} V{y1:.1} H{to_x:.1}" fill="none" stroke="#555" stroke-width="0.8" marker-end="url(#fleche)"/>"##,
                from_x.max(to_x - 4.0).min(from_x + 4.0)
            );
        }
    }

    if let Some(t) = today
        && day_of(t) >= start
        && day_of(t) < end
    {
        let tx = x(t);
        let _ = writeln!(
            o,
            r##"<line class="aujourdhui" x1="{tx:.1}" y1="{:.1}" x2="{tx:.1}" y2="{:.1}" stroke="#c00000" stroke-dasharray="4 3"/><text x="{:.1}" y="{:.1}" fill="#c00000">Aujourd'hui ({})</text>"##,
            HEAD_H - 10.0,
            height - 30.0,
            tx + 3.0,
            height - 14.0,
            crate::french::date_fr(t)
        );
    }
    let _ = writeln!(
        o,
        r##"<text x="6" y="{:.1}" fill="#333">Contour rouge : chemin critique. ◆ : jalon. Marges en jours ouvrés.</text>"##,
        height - 14.0
    );
    o.push_str("</svg>\n");
    o
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}
