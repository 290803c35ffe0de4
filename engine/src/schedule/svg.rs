//! An SVG Gantt chart drawn by us: one row per item grouped by axis, bars coloured by axis,
//! critical items outlined in red, milestones as diamonds, occurrences of recurring items
//! as separate marks, dependency arrows, years and quarters along the top, and a "today"
//! line. Labels are French and never cut: a long title wraps onto as many lines as it needs,
//! and its row grows with it. The text is escaped, and the chart carries a title and a
//! description for screen readers.
//!
//! The drawing is [`WIDTH`] units wide whatever the plan's span: a page scales it to its
//! column (`width: 100%`), so the whole horizon is always in view.

use std::fmt::Write as _;

use jiff::civil::Date;

use super::calendar::{date_of, day_of};
use super::cpm::{Move, Schedule};
use crate::french::{NBSP, date_fr, int_fr, period_fr};
use crate::model::{ItemKind, Plan};

/// The drawing's width, in user units; at 1 366 px a page's content column is about as wide,
/// so that [`FONT`] reads at its size.
pub const WIDTH: f64 = 1100.0;
/// Font size of every label, in user units.
pub const FONT: f64 = 14.0;
const CHART_X0: f64 = 340.0;
const CHART_X1: f64 = WIDTH - 14.0;
const LINE_H: f64 = 17.0;
const HEAD_H: f64 = 50.0;
/// Characters per line of an item's label: at [`FONT`], a line of this many characters of a
/// sans-serif face fits in [`LABEL_W`].
const WRAP: usize = 38;
/// Characters per line of an axis heading, across the whole width.
const WRAP_AXIS: usize = 120;
/// Colour-blind-safe palette (Okabe-Ito), one colour per axis, cycling.
pub const PALETTE: [&str; 7] = [
    "#0072B2", "#009E73", "#E69F00", "#56B4E9", "#CC79A7", "#D55E00", "#000000",
];
/// The outline of a critical item.
pub const CRITICAL: &str = "#c00000";

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The colour of the axis at `k` in the plan's list of axes.
pub fn axis_colour(k: usize) -> &'static str {
    PALETTE[k % PALETTE.len()]
}

/// The chart; `today` draws the "Aujourd'hui" line when it falls in the plan's span.
pub fn gantt(plan: &Plan, s: &Schedule, today: Option<Date>) -> String {
    gantt_of(plan, s, today, |_| true)
}

/// The chart of the items `keep` selects (by index), with its legend drawn below it.
pub fn gantt_of(
    plan: &Plan,
    s: &Schedule,
    today: Option<Date>,
    keep: impl Fn(usize) -> bool,
) -> String {
    gantt_with(plan, s, today, keep, &[], true)
}

/// The chart of the items `keep` selects; arrows are drawn between kept items, and an axis
/// with no kept item has no heading. Each item of `moved` (a what-if's moves) gets a second,
/// hatched bar at its new dates under its planned one. `legend` draws the legend inside the
/// drawing (a page may write it as HTML beside the chart instead).
pub fn gantt_with(
    plan: &Plan,
    s: &Schedule,
    today: Option<Date>,
    keep: impl Fn(usize) -> bool,
    moved: &[Move],
    legend: bool,
) -> String {
    let start = day_of(plan.start);
    let end = (day_of(s.finish).max(day_of(plan.horizon)) + 1).max(start + 1);
    let scale = (CHART_X1 - CHART_X0) / f64::from(end - start);
    let xd = |d: i32| CHART_X0 + f64::from(d - start) * scale;
    let x = |d: Date| xd(day_of(d));
    let moved_of = |i: usize| moved.iter().find(|m| m.item == i);

    // Rows: items grouped by axis, in plan order; each axis has a heading row.
    struct Row {
        item: Option<usize>,
        axis: usize,
        lines: Vec<String>,
        top: f64,
        h: f64,
    }
    let mut rows: Vec<Row> = Vec::new();
    let mut top = HEAD_H;
    let mut push = |item: Option<usize>, axis: usize, lines: Vec<String>, extra: bool| {
        let h = (lines.len() as f64 * LINE_H + 9.0).max(if extra { 32.0 } else { 26.0 });
        rows.push(Row {
            item,
            axis,
            lines,
            top,
            h,
        });
        top += h;
    };
    for (k, axis) in plan.axes.iter().enumerate() {
        if !plan
            .actions
            .iter()
            .enumerate()
            .any(|(i, a)| a.axis == axis.id && keep(i))
        {
            continue;
        }
        push(None, k, wrap(&axis.title, WRAP_AXIS), false);
        for (i, a) in plan.actions.iter().enumerate() {
            if a.axis == axis.id && keep(i) {
                push(Some(i), k, wrap(&a.title, WRAP), moved_of(i).is_some());
            }
        }
    }
    let body_end = top;
    let mut row_of = vec![usize::MAX; plan.actions.len()];
    for (r, row) in rows.iter().enumerate() {
        if let Some(i) = row.item {
            row_of[i] = r;
        }
    }
    let mid = |r: usize| rows[r].top + rows[r].h / 2.0;
    let legend_lines = if legend {
        legend_text(plan, s, !moved.is_empty())
    } else {
        Vec::new()
    };
    let today_in = today.filter(|t| day_of(*t) >= start && day_of(*t) < end);
    let foot = if today_in.is_some() { 26.0 } else { 6.0 };
    let height = body_end + foot + legend_lines.len() as f64 * LINE_H + 6.0;
    let width = WIDTH;

    let mut o = String::new();
    let _ = writeln!(
        o,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" role="img" aria-labelledby="titre desc" font-family="system-ui, sans-serif" font-size="{FONT}">"#
    );
    let _ = writeln!(
        o,
        r#"<title id="titre">Calendrier : {}</title>"#,
        esc(&plan.title)
    );
    let shown = rows.iter().filter(|r| r.item.is_some()).count();
    let crit = (0..plan.actions.len())
        .filter(|&i| keep(i) && s.item(i).critical)
        .count();
    let crit_text = if crit == 0 {
        "aucune action critique".to_string()
    } else if crit == 1 {
        "1 action critique (contour rouge)".to_string()
    } else {
        format!("{crit} actions critiques (contour rouge)")
    };
    let _ = writeln!(
        o,
        r#"<desc id="desc">Diagramme de Gantt de {shown} actions et jalons, du {} au {} ; {crit_text}.</desc>"#,
        date_fr(plan.start),
        date_fr(date_of(end - 1)),
    );
    let _ = writeln!(
        o,
        r##"<defs><marker id="fleche" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker><pattern id="hachures" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#ffffff"/><line x1="0" y1="0" x2="0" y2="6" stroke="#111111" stroke-width="3"/></pattern></defs>"##
    );
    let _ = writeln!(o, r##"<rect width="100%" height="100%" fill="#ffffff"/>"##);

    // Years along the top, quarters under them, a line at each 1 January and a dotted one
    // at each quarter. Only years whose 1 January is inside the chart get a label (a plan
    // voted on 19 December would otherwise print two year labels on top of each other).
    let last_year = date_of(end - 1).year();
    let quarter_w = (CHART_X1 - CHART_X0) * 91.0 / f64::from(end - start);
    // The year the chart opens in, when it does not open on 1 January, is named at the left
    // edge if its slice leaves room for the label (four digits in bold).
    if let Ok(next) = Date::new(plan.start.year() + 1, 1, 1) {
        let slice = xd(day_of(next).min(end)) - CHART_X0;
        if plan.start.day_of_year() != 1 && slice >= 44.0 {
            let _ = writeln!(
                o,
                r##"<text x="{:.1}" y="20" fill="#111111" font-weight="bold">{}</text>"##,
                CHART_X0 + 4.0,
                plan.start.year()
            );
        }
    }
    for year in plan.start.year()..=last_year {
        for q in 0..4i8 {
            let Ok(d) = Date::new(year, 1 + 3 * q, 1) else {
                continue;
            };
            let dd = day_of(d);
            if dd < start || dd >= end {
                continue;
            }
            let xx = x(d);
            let (stroke, dash, y0) = if q == 0 {
                ("#9ca3af", "", 6.0)
            } else {
                ("#e5e7eb", r#" stroke-dasharray="2 3""#, HEAD_H - 20.0)
            };
            let _ = writeln!(
                o,
                r##"<line x1="{xx:.1}" y1="{y0:.1}" x2="{xx:.1}" y2="{body_end:.1}" stroke="{stroke}"{dash}/>"##,
            );
            if q == 0 {
                let _ = writeln!(
                    o,
                    r##"<text x="{:.1}" y="20" fill="#111111" font-weight="bold">{year}</text>"##,
                    xx + 4.0,
                );
            }
            if quarter_w >= 26.0 && xd(dd) + quarter_w <= CHART_X1 + 1.0 {
                let _ = writeln!(
                    o,
                    r##"<text x="{:.1}" y="{:.1}" fill="#374151" text-anchor="middle">T{}</text>"##,
                    xx + quarter_w / 2.0,
                    HEAD_H - 8.0,
                    q + 1
                );
            }
        }
    }

    // Row labels, axis headings and bars.
    for row in &rows {
        let top = row.top;
        let color = axis_colour(row.axis);
        match row.item {
            None => {
                let _ = writeln!(
                    o,
                    r##"<rect x="0" y="{top:.1}" width="{width:.0}" height="{:.1}" fill="#f3f4f6"/>"##,
                    row.h
                );
                let _ = writeln!(
                    o,
                    r##"<rect x="0" y="{top:.1}" width="6" height="{:.1}" fill="{color}"/>"##,
                    row.h
                );
                write_lines(
                    &mut o,
                    12.0,
                    top,
                    &row.lines,
                    r##" font-weight="bold" fill="#111111""##,
                );
            }
            Some(i) => {
                let a = &plan.actions[i];
                let it = &s.item(i);
                let class = if it.critical {
                    "element critique"
                } else {
                    "element"
                };
                let _ = writeln!(o, r#"<g class="{class}" id="item-{}">"#, esc(a.id.as_str()));
                write_lines(&mut o, 14.0, top, &row.lines, r##" fill="#111111""##);
                let dates = if it.early_start == it.early_finish {
                    format!("le {}", date_fr(it.early_start))
                } else {
                    period_fr(it.early_start, it.early_finish)
                };
                let tip = format!(
                    "{}{NBSP}: {dates} (marge de {} jours ouvrés)",
                    a.title,
                    int_fr(it.total_float)
                );
                let stroke = if it.critical {
                    format!(r#" stroke="{CRITICAL}" stroke-width="2""#)
                } else {
                    String::new()
                };
                let slipped = moved_of(i);
                let cy = mid(row_of[i]) - if slipped.is_some() { 5.0 } else { 0.0 };
                let bar_h = if slipped.is_some() { 9.0 } else { 12.0 };
                let spans: Vec<(Date, Date)> = if it.occurrences.is_empty() {
                    vec![(it.early_start, it.early_finish)]
                } else {
                    it.occurrences.clone()
                };
                for (s0, s1) in spans {
                    mark(
                        &mut o,
                        a.kind,
                        x(s0),
                        x(s1.tomorrow().unwrap_or(s1)),
                        cy,
                        bar_h,
                        &format!(r#"fill="{color}"{stroke}"#),
                        &tip,
                    );
                }
                if let Some(m) = slipped {
                    let tip = format!(
                        "{}{NBSP}: après le glissement, {} (fin décalée de {} jours)",
                        a.title,
                        if m.start_after == m.to {
                            format!("le {}", date_fr(m.to))
                        } else {
                            period_fr(m.start_after, m.to)
                        },
                        m.days
                    );
                    mark(
                        &mut o,
                        a.kind,
                        x(m.start_after),
                        x(m.to.tomorrow().unwrap_or(m.to)),
                        cy + 10.0,
                        bar_h,
                        r##"class="glisse" fill="url(#hachures)" stroke="#111111" stroke-width="1""##,
                        &tip,
                    );
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
            let y0 = mid(row_of[d.on]);
            let y1 = mid(row_of[i]);
            let _ = writeln!(
                o,
                r##"<path d="M{from_x:.1},{y0:.1} H{:.1} V{y1:.1} H{to_x:.1}" fill="none" stroke="#555" stroke-width="0.8" marker-end="url(#fleche)"/>"##,
                from_x.max(to_x - 4.0).min(from_x + 4.0)
            );
        }
    }

    if let Some(t) = today_in {
        let tx = x(t);
        let label = format!("Aujourd'hui ({})", date_fr(t));
        // The label stays inside the drawing: to the left of the line near the right edge.
        let (lx, anchor) = if tx > WIDTH - 260.0 {
            (tx - 4.0, "end")
        } else {
            (tx + 4.0, "start")
        };
        let _ = writeln!(
            o,
            r##"<line class="aujourdhui" x1="{tx:.1}" y1="{:.1}" x2="{tx:.1}" y2="{:.1}" stroke="#111111" stroke-width="1.5" stroke-dasharray="5 3"/><text x="{lx:.1}" y="{:.1}" fill="#111111" text-anchor="{anchor}">{}</text>"##,
            HEAD_H - 24.0,
            body_end + 6.0,
            body_end + 20.0,
            esc(&label)
        );
    }
    for (k, line) in legend_lines.iter().enumerate() {
        let _ = writeln!(
            o,
            r##"<text x="6" y="{:.1}" fill="#333333">{}</text>"##,
            body_end + foot + LINE_H * (k as f64 + 1.0) - 4.0,
            esc(line)
        );
    }
    o.push_str("</svg>\n");
    o
}

/// A milestone's diamond at `x0`, or a bar from `x0` to `x1`, centred on `cy`.
#[allow(clippy::too_many_arguments)]
fn mark(o: &mut String, kind: ItemKind, x0: f64, x1: f64, cy: f64, h: f64, paint: &str, tip: &str) {
    if kind == ItemKind::Milestone {
        let r = h / 2.0 + 2.0;
        let _ = writeln!(
            o,
            r#"<polygon points="{:.1},{:.1} {:.1},{:.1} {:.1},{:.1} {:.1},{:.1}" {paint}><title>{}</title></polygon>"#,
            x0,
            cy - r,
            x0 + r,
            cy,
            x0,
            cy + r,
            x0 - r,
            cy,
            esc(tip)
        );
    } else {
        let x1 = x1.max(x0 + 3.0);
        let _ = writeln!(
            o,
            r#"<rect x="{x0:.1}" y="{:.1}" width="{:.1}" height="{h:.1}" rx="2" {paint}><title>{}</title></rect>"#,
            cy - h / 2.0,
            x1 - x0,
            esc(tip)
        );
    }
}

/// Lines of text from (`x`, `top`), one `tspan` per line.
fn write_lines(o: &mut String, x: f64, top: f64, lines: &[String], attrs: &str) {
    let _ = write!(o, r#"<text x="{x:.1}" y="{:.1}"{attrs}>"#, top + LINE_H);
    for (k, l) in lines.iter().enumerate() {
        let dy = if k == 0 { 0.0 } else { LINE_H };
        let _ = write!(o, r#"<tspan x="{x:.1}" dy="{dy:.0}">{}</tspan>"#, esc(l));
    }
    o.push_str("</text>\n");
}

/// The legend drawn inside a standalone chart: the axes' colours and what "critical" means.
fn legend_text(plan: &Plan, s: &Schedule, moved: bool) -> Vec<String> {
    let mut out = Vec::new();
    let axes: Vec<String> = plan.axes.iter().map(|a| a.title.clone()).collect();
    if !axes.is_empty() {
        out.extend(wrap(
            &format!(
                "Couleurs des barres : l'axe de l'action, dans l'ordre des axes ({}).",
                axes.join(" ; ")
            ),
            WRAP_AXIS + 20,
        ));
    }
    out.extend(wrap(&critical_legend(plan, s), WRAP_AXIS + 20));
    let mut more = String::from("◆ : jalon. Marges en jours ouvrés.");
    if moved {
        more.push_str(" Barre hachurée : dates après le glissement simulé.");
    }
    out.push(more);
    out
}

/// What "critical" means, said for people, with what it gives in this schedule: the
/// critical items, or "aucune action critique" and the smallest float.
pub fn critical_legend(plan: &Plan, s: &Schedule) -> String {
    let rule = format!(
        "Action critique{NBSP}: marge nulle, c'est-à-dire qu'un jour de retard dépasse son échéance ou repousse la fin du plan ({}).",
        date_fr(s.finish.max(plan.horizon))
    );
    if s.critical_path.is_empty() {
        let least = s
            .items()
            .enumerate()
            .min_by_key(|(_, it)| it.total_float)
            .map(|(i, it)| (plan.actions[i].title.as_str(), it.total_float));
        match least {
            Some((title, tf)) => format!(
                "{rule} Aucune action critique{NBSP}: la plus petite marge est de {} jours ouvrés (« {title} »).",
                int_fr(tf)
            ),
            None => format!("{rule} Aucune action critique."),
        }
    } else {
        format!("{rule} Contour rouge{NBSP}: action critique.")
    }
}

/// Greedy word wrap at `n` characters; a word longer than a line stays whole on its own.
pub fn wrap(s: &str, n: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut cur = String::new();
    for w in s.split_whitespace() {
        if !cur.is_empty() && cur.chars().count() + 1 + w.chars().count() > n {
            lines.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(w);
    }
    if !cur.is_empty() || lines.is_empty() {
        lines.push(cur);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wrap_keeps_every_word_and_respects_the_width() {
        let s = "Workshop des élus et des directions générales au site-mémorial du Camp des Milles";
        let lines = wrap(s, 38);
        assert!(lines.iter().all(|l| l.chars().count() <= 38), "{lines:?}");
        assert_eq!(lines.join(" "), s);
        assert_eq!(wrap("court", 38), vec!["court"]);
    }
}
