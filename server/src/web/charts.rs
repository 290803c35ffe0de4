//! Small charts drawn on the server: the envelope gauge and bar charts. The shapes are SVG
//! stretched to their box; every word and figure is HTML text beside them, so that labels
//! read at the page's size (never under 12 px) on a phone as on a desktop. Each drawing has
//! a title and a description, and the page prints the same figures as text.

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
    let paid_w = share(paid, envelope) * 100.0;
    let committed_w = share(committed, envelope) * 100.0;
    let remaining = envelope - committed;
    let pct = (share(committed, envelope) * 100.0).round();
    html! {
        figure.jauge {
            svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 10" preserveAspectRatio="none" role="img" aria-labelledby="jauge-titre jauge-desc" {
                title id="jauge-titre" { "Consommation de l'enveloppe" }
                desc id="jauge-desc" {
                    "Enveloppe " (euros(envelope)) " ; engagé " (euros(committed)) " (" (pct) " %) dont versé " (euros(paid)) " ; reste " (euros(remaining)) "."
                }
                rect x="0" y="0" width="100" height="10" fill="#e5e7eb" {}
                rect x="0" y="0" width=(format!("{committed_w:.2}")) height="10" fill="#7fb3d9" {}
                rect x="0" y="0" width=(format!("{paid_w:.2}")) height="10" fill="#0b5394" {}
            }
            figcaption {
                span.jauge-bornes { span { "0" } strong { (pct) " % engagé" } span { (euros(envelope)) } }
                ul.legende-jauge {
                    li { span.pastille.jauge-verse aria-hidden="true" {} "Versé" }
                    li { span.pastille.jauge-engage aria-hidden="true" {} "Engagé, pas encore versé" }
                    li { span.pastille.jauge-reste aria-hidden="true" {} "Reste à engager" }
                }
            }
        }
    }
}

/// Horizontal bars, one per label, with the amount written after each.
pub fn bars(title: &str, rows: &[(String, Decimal)]) -> Markup {
    let max = rows.iter().map(|(_, v)| *v).max().unwrap_or(Decimal::ZERO);
    html! {
        figure.barres {
            figcaption { (title) }
            @if rows.is_empty() {
                p { "Aucune attribution." }
            } @else {
                ul {
                    @for (label, v) in rows {
                        @let w = share(*v, max) * 100.0;
                        li {
                            span.barre-libelle { (label) }
                            span.barre-trait {
                                svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 10" preserveAspectRatio="none" aria-hidden="true" focusable="false" {
                                    rect x="0" y="0" width=(format!("{w:.2}")) height="10" fill="#0b5394" {}
                                }
                            }
                            span.barre-montant { (euros(*v)) }
                        }
                    }
                }
            }
        }
    }
}
