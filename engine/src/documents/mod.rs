//! What the administration writes to people: receipts, decision letters, emails and the
//! sentences of the explanation, from templates. A fund's plan directory may hold its own
//! templates (`templates = "courriers/…"` on the fund, one `<name>.j2` file per template,
//! `regles/<rule-id>.j2` for a rule's sentence); every template it does not write comes from
//! the engine's defaults, so another authority changes a wording without code.
//!
//! Templates are MiniJinja (Jinja2 syntax), compiled when the plan loads (E025 at the file's
//! line), rendered with undefined variables refused. What they produce is a light markup: the
//! first line `# …` is the letter's subject, `## …` a heading, `- …` a list item, a blank line
//! ends a paragraph; French typography (no-break spaces before « : ; ? ! ») is applied after.

mod markup;
mod template;

pub use markup::{Block, Letter};
pub use template::{DEFAULTS, RenderError, TemplateError, Templates};
