//! Small SVG charts drawn on the server: the envelope gauge and bar charts. Each has a
//! title and a description, and the page prints the same figures as text beside it.

use maud::{Markup, html};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use super::layout::euros;

/// A share of `total` as a fraction between 0 and 1, for drawing only.
fn share(part: Decimal, total: Decimal) -> f64 {
    if total <= Decimal::ZERO {
        return 0.0;
    }
    (part / total).to_f64().unwrap_or(0.0).clamp(0.0, 1.0)
}

/// A horizontal gauge: paid, committed but unpaid, and remaining.
pub fn gauge(envelope: Decimal, committed: Decimal, paid: Decimal) -> Markup {
    let w = 600.0;
    let paid_w = share(paid, envelope) * w;
    let committed_w = share(committed, envelope) * w;
    let remaining = envelope - committed;
    let pct = (share(committed, envelope) * 100.0).round();
    html! {
        svg.jauge xmlns="http://www.w3.org/2000/svg" viewBox="0 0 600 70" role="img" aria-labelledby="jauge-titre jauge-desc" {
            title id="jauge-titre" { "Consommation de l'enveloppe" }
            desc id="jauge-desc" {
                "Enveloppe " (euros(envelope)) " ; engagé " (euros(committed)) " (" (pct) " %) dont versé " (euros(paid)) " ; reste " (euros(remaining)) "."
            }
            rect x="0" y="10" width="600" height="34" fill="#e5e7eb" rx="4" {}
            rect x="0" y="10" width=(format!("{committed_w:.1}")) height="34" fill="#7fb3d9" rx="4" {}
            rect x="0" y="10" width=(format!("{paid_w:.1}")) height="34" fill="#0b5394" rx="4" {}
            text x="0" y="64" font-size="13" fill="#1f2937" { "0" }
            text x="600" y="64" font-size="13" fill="#1f2937" text-anchor="end" { (euros(envelope)) }
            text x="300" y="32" font-size="14" fill="#111827" text-anchor="middle" font-weight="bold" { (pct) " % engagé" }
        }
    }
}

/// Horizontal bars, one per label, with the amount written at the end of each.
pub fn bars(title: &str, rows: &[(String, Decimal)]) -> Markup {
    let max = rows.iter().map(|(_, v)| *v).max().unwrap_or(Decimal::ZERO);
    let label_w = 260.0;
    let bar_w = 300.0;
    let row_h = 28.0;
    let height = row_h * rows.len().max(1) as f64 + 10.0;
    let desc: Vec<String> = rows
        .iter()
        .map(|(l, v)| format!("{l} : {}", euros(*v)))
        .collect();
    html! {
        svg.barres xmlns="http://www.w3.org/2000/svg" viewBox=(format!("0 0 700 {height:.0}")) role="img" aria-labelledby="barres-titre barres-desc" {
            title id="barres-titre" { (title) }
            desc id="barres-desc" { (desc.join(" ; ")) }
            @if rows.is_empty() {
                text x="0" y="20" font-size="13" fill="#1f2937" { "Aucune attribution." }
            }
            @for (i, (label, v)) in rows.iter().enumerate() {
                @let y = i as f64 * row_h + 5.0;
                @let w = share(*v, max) * bar_w;
                text x="0" y=(format!("{:.1}", y + 18.0)) font-size="13" fill="#1f2937" { (label) }
                rect x=(format!("{label_w:.0}")) y=(format!("{y:.1}")) width=(format!("{w:.1}")) height="20" fill="#0b5394" {}
                text x=(format!("{:.1}", label_w + w + 6.0)) y=(format!("{:.1}", y + 15.0)) font-size="13" fill="#1f2937" { (euros(*v)) }
            }
        }
    }
}
