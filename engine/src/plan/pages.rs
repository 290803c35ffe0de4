//! The pages the authority publishes about a plan: `pages/<slug>.md` for each of
//! [`PAGES`], Markdown the server renders, and the logo (`logo.svg` or `logo.png`) its
//! header shows. A plan that takes applications and lacks one of the pages is warned (W006):
//! it still loads, the site showing only the operator's text for that page.

use std::path::{Path, PathBuf};

use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::model::{PAGES, Plan, PlanPage};
use crate::plan::files::PlanSource;
use crate::source::SourceMap;

/// The directory of the published pages, in the plan directory.
pub const PAGES_DIR: &str = "pages";
/// The logo files looked for, in this order.
pub const LOGOS: [&str; 2] = ["logo.svg", "logo.png"];

pub(super) fn load_pages(
    plan: &mut Plan,
    source: &dyn PlanSource,
    sources: &mut SourceMap,
    diags: &mut Diagnostics,
) {
    let root = source.display_root();
    // The pages are owed to the public that applies: a plan with no fund open to
    // applications (a bare schedule) owes none.
    let takes_applications = plan.funds.iter().any(|f| f.administration.is_some());
    let mut missing = Vec::new();
    for slug in PAGES {
        let rel = Path::new(PAGES_DIR).join(format!("{slug}.md"));
        if !source.exists(&rel) {
            missing.push(slug);
            continue;
        }
        match source.read_to_string(&rel) {
            Ok(text) => {
                // Kept in the source map so that a later diagnostic can point into it.
                sources.add(root.join(&rel), text.clone());
                plan.pages.push(PlanPage {
                    slug,
                    markdown: text,
                });
            }
            Err(e) => diags.push(Diagnostic::new(
                Code::Include,
                None,
                format!("cannot read {}: {e}", root.join(&rel).display()),
            )),
        }
    }
    if takes_applications {
        for slug in missing {
            diags.push(
                Diagnostic::new(
                    Code::MissingPage,
                    None,
                    format!(
                        "the plan publishes no `{slug}` page: {} is missing",
                        root.join(PAGES_DIR).join(format!("{slug}.md")).display()
                    ),
                )
                .with_help(format!(
                    "write it in Markdown: the site serves it at /{slug}, under the authority's name (see docs/pages.md)"
                )),
            );
        }
    }
    plan.logo = LOGOS.iter().map(PathBuf::from).find(|p| source.exists(p));
}
