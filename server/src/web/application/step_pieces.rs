//! The pieces a step asks for (the applicant's final report, say): file inputs on the step's
//! form, which is then sent as multipart; the files are joined to the file before the step is
//! taken, so that a refused step loses nothing (the pieces stay on the file, listed with the
//! others, and the step can be taken again).

use axum::extract::{FromRequest, Multipart, Request};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use maud::{Markup, html};
use metroplan_engine::model::Transition;

use super::super::applicant::{Piece, read_multipart};
use super::super::{PageError, WebForm};
use crate::error::Error;
use crate::http::AppState;
use crate::tokens::Principal;

/// A step's posted form: its fields, and the files of the pieces it asks for.
pub struct ActionForm {
    pub fields: Vec<(String, String)>,
    pub files: Vec<Piece>,
}

impl FromRequest<AppState> for ActionForm {
    type Rejection = PageError;

    async fn from_request(req: Request, s: &AppState) -> Result<Self, PageError> {
        let multipart = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|c| c.to_str().ok())
            .is_some_and(|c| c.starts_with("multipart/form-data"));
        if !multipart {
            let WebForm(fields) = WebForm::from_request(req, s).await?;
            return Ok(ActionForm {
                fields,
                files: Vec::new(),
            });
        }
        let (mut parts, body) = req.into_parts();
        let v = <super::super::Viewer as axum::extract::FromRequestParts<AppState>>::from_request_parts(&mut parts, s).await?;
        let req = Request::from_parts(parts, body);
        let mp = Multipart::from_request(req, s).await.map_err(|e| {
            tracing::info!(rejection = %e, "step form refused");
            PageError::bad_form(
                "Le formulaire envoyé est illisible\u{a0}: rechargez la page et recommencez.",
            )
        })?;
        let (fields, files) = read_multipart(mp, s.config.upload_limit, &v).await?;
        Ok(ActionForm { fields, files })
    }
}

/// Why pieces were not joined: what the person reads (with the page's status), or a fault.
pub type Refused = Result<(StatusCode, String), PageError>;

/// The file inputs of a step's pieces (empty when it asks for none).
pub fn inputs(t: &Transition, have: &[String]) -> Markup {
    html! {
        @for p in &t.pieces {
            @let input = format!("piece-{}-{}", t.id, p.id);
            @let help = format!("{input}-aide");
            div.champ {
                label for=(input) {
                    (p.label)
                    @if !p.required { " (facultatif)" }
                }
                p.aide id=(help) {
                    @if let Some(h) = &p.help { (h) " " }
                    "Un PDF ou une image (PNG, JPEG, WebP)."
                    @if have.iter().any(|k| k == p.id.as_str()) { " Déjà joint\u{a0}: un nouveau fichier remplace le précédent." }
                }
                input id=(input) name={"piece." (p.id)} type="file" accept="application/pdf,image/png,image/jpeg,image/webp" aria-describedby=(help)
                    required[p.required && !have.iter().any(|k| k == p.id.as_str())];
            }
        }
    }
}

/// Joins the posted files to the file, each one a piece the step asks for; returns the file's
/// version after them. What is refused is said in French, and nothing after it is joined.
pub async fn join(
    s: &AppState,
    who: &Principal,
    id: &str,
    t: &Transition,
    files: Vec<Piece>,
    version: i64,
) -> Result<i64, Refused> {
    let mut version = version;
    for (kind, bytes, name) in files {
        let Some(p) = t.pieces.iter().find(|p| p.id.as_str() == kind) else {
            return Err(Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                "Cette étape ne demande pas cette pièce.".into(),
            )));
        };
        if let Some(why) = super::super::layout::piece_refusal_fr(&bytes) {
            return Err(Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("{}\u{a0}: {}", p.label, lower_first(why)),
            )));
        }
        match s
            .ctx
            .upload(who, id, &kind, &bytes, name, &s.config.documents, None)
            .await
        {
            Ok(reply) => {
                version = reply
                    .body
                    .get("version")
                    .and_then(serde_json::Value::as_i64)
                    .unwrap_or(version);
            }
            Err(e @ (Error::NotFound(_) | Error::Internal(_))) => return Err(Err(e.into())),
            Err(e) => return Err(Ok(super::super::layout::refusal_fr(&e))),
        }
    }
    Ok(version)
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_lowercase().chain(c).collect())
        .unwrap_or_default()
}
