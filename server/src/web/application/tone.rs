//! The colour of a state's badge and of the banner after a step, from the engine's reading
//! of the workflow (`metroplan_engine::workflow::tone`).

use maud::{Markup, html};
pub use metroplan_engine::workflow::tone::*;

/// The class that colours a badge or a banner (`decision.css`).
pub fn class(tone: Tone) -> &'static str {
    match tone {
        Tone::Favourable => "ton-favorable",
        Tone::Unfavourable => "ton-defavorable",
        Tone::Waiting => "ton-attente",
        Tone::Neutral => "ton-neutre",
    }
}

/// A state as a badge coloured by what it means.
pub fn badge(tone: Tone, state: &str, label: &str) -> Markup {
    html! { span class={"etat etat-" (state) " " (class(tone))} { (label) } }
}

/// The banner after a step, coloured by what the file's new state means: green only when it
/// is favourable; `ok` (the step was carried out) never on an unfavourable or waiting state.
pub fn banner(tone: Tone, message: &str) -> Markup {
    let class = match tone {
        Tone::Favourable => "alert ok ton-favorable",
        Tone::Neutral => "alert ok ton-neutre",
        Tone::Waiting => "alert ton-attente",
        Tone::Unfavourable => "alert ton-defavorable",
    };
    html! { div class=(class) role="status" { p { (message) } } }
}
