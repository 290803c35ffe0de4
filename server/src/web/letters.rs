//! The documents the administration issued on a file (receipt, decision letters, arrêté,
//! convention): listed on the file's page, downloaded as PDF by the applicant and by staff.

use axum::extract::{Path, State};
use axum::response::Response;
use maud::{Markup, html};
use metroplan_engine::french::date_fr;
use metroplan_engine::model::RoleKind;

use super::{PageError, Viewer};
use crate::error::Error;
use crate::http::AppState;
use crate::service::ApplicationView;

pub fn section(view: &ApplicationView) -> Markup {
    html! {
        @if !view.letters.is_empty() {
            section aria-labelledby="courriers-titre" {
                h2 id="courriers-titre" { "Courriers de l'administration" }
                ul.courriers {
                    @for (k, l) in view.letters.iter().enumerate() {
                        // A letter sent again (a receipt after the file was completed) says so.
                        @let before = view.letters[..k].iter().filter(|o| o.title == l.title).count();
                        li {
                            a href={"/dossiers/" (view.id) "/courriers/" (l.id)} download { (l.title) @if before > 0 { " (" (before + 1) "e envoi)" } }
                            " — "
                            (l.issued_on.parse::<jiff::civil::Date>().map_or_else(|_| l.issued_on.clone(), date_fr))
                            " (PDF, " (l.size / 1024 + 1) "\u{a0}Ko)"
                        }
                    }
                }
            }
        }
    }
}

pub async fn download(
    State(s): State<AppState>,
    v: Viewer,
    Path((id, letter)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let who = v.require(&RoleKind::ALL)?;
    let (path, name) = s.ctx.letter(&who, &id, &letter).await?;
    let bytes = tokio::fs::read(&path).await.map_err(|e| {
        PageError::from(Error::Internal(anyhow::anyhow!(
            "letter {letter} of {id}: {e}"
        )))
    })?;
    Ok(crate::http::pdf_response(bytes, &name))
}
