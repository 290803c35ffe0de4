//! The applicant's pages: their files, and the new application form.

use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use metroplan_engine::model::{Fund, RoleKind};
use serde_json::Value;

use super::layout::{csrf, euros_str, file_state_badge, removed_mark, shell};
use super::public::{served, today};
use super::{CSRF_FIELD, PageError, Viewer, WebForm, field, form};
use crate::http::AppState;
use crate::plans::Served;

/// An uploaded piece: its kind, bytes and file name.
pub type Piece = (String, Vec<u8>, Option<String>);

/// Text fields and files of a multipart form. A file larger than `limit` is refused whole.
pub async fn read_multipart(
    mut mp: Multipart,
    limit: usize,
) -> Result<(Vec<(String, String)>, Vec<Piece>), PageError> {
    let mut fields = Vec::new();
    let mut files = Vec::new();
    loop {
        let next = mp.next_field().await.map_err(|e| {
            PageError::bad_form(format!("Le formulaire envoyé est illisible ({e})."))
        })?;
        let Some(f) = next else { break };
        let name = f.name().unwrap_or_default().to_string();
        let file_name = f.file_name().map(str::to_string);
        let bytes = f.bytes().await.map_err(|e| {
            PageError::status(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Envoi trop volumineux",
                format!("Le formulaire n'a pas pu être reçu en entier ({e}). Chaque pièce doit faire moins de {} Mo.", limit / (1024 * 1024)),
            )
        })?;
        match name.strip_prefix("piece.") {
            Some(kind) => {
                if bytes.is_empty() {
                    continue;
                }
                if bytes.len() > limit {
                    return Err(PageError::status(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "Pièce trop volumineuse",
                        format!(
                            "Chaque pièce doit faire moins de {} Mo.",
                            limit / (1024 * 1024)
                        ),
                    ));
                }
                files.push((kind.to_string(), bytes.to_vec(), file_name));
            }
            None => fields.push((name, String::from_utf8_lossy(&bytes).into_owned())),
        }
    }
    Ok((fields, files))
}

/// Pieces that are not a PDF or an image, as errors by field.
pub fn check_pieces(fund: &Fund, files: &[Piece]) -> Vec<(String, String)> {
    files
        .iter()
        .filter_map(|(kind, bytes, _)| {
            if !fund.form.documents.iter().any(|d| d.id.as_str() == kind) {
                return Some((
                    format!("piece.{kind}"),
                    "Ce formulaire ne demande pas cette pièce.".into(),
                ));
            }
            crate::documents::sniff(bytes).is_none().then(|| {
                (
                    format!("piece.{kind}"),
                    "Ce fichier n'est ni un PDF ni une image (PNG, JPEG, WebP).".into(),
                )
            })
        })
        .collect()
}

#[tracing::instrument(skip_all)]
pub async fn mine(State(s): State<AppState>, v: Viewer) -> Result<Response, PageError> {
    let who = v.require(&[RoleKind::Applicant])?;
    let apps = s.ctx.visible_applications(&who, None, None, None).await?;
    let mut open = Vec::new();
    for p in s.ctx.plans.current().by_id.values() {
        let t = today(&s, p);
        for f in &p.plan.funds {
            if f.keys.is_some() && f.calls.iter().any(|c| c.opens <= t && t <= c.closes) {
                open.push((p.plan.id.to_string(), f.id.to_string(), f.title.clone()));
            }
        }
    }
    Ok(v.ok(shell(
        &v,
        "Mes dossiers",
        html! {
            @if !open.is_empty() {
                section {
                    h2 { "Appels à projets ouverts" }
                    ul {
                        @for (p, f, t) in &open {
                            li { (t) " : " a href={"/plans/" (p) "/fonds/" (f) "/deposer"} { "déposer un dossier" } }
                        }
                    }
                }
            }
            h2 { "Mes dossiers" }
            @if apps.is_empty() {
                p { "Vous n'avez encore aucun dossier." }
            } @else {
                div.table-scroll tabindex="0" {
                    table {
                        caption.visually-hidden { "Mes dossiers" }
                        thead { tr {
                            th scope="col" { "Projet" }
                            th scope="col" { "Appel" }
                            th scope="col" { "Montant demandé" }
                            th scope="col" { "État" }
                            th scope="col" { "À faire avant" }
                        } }
                        tbody {
                            @for a in &apps {
                                tr {
                                    th scope="row" { a href={"/dossiers/" (a.id)} { (a.title.clone().unwrap_or_else(|| "(sans titre)".into())) } (removed_mark(a)) }
                                    td { (a.call.map(|c| c.to_string()).unwrap_or_default()) }
                                    td { (a.requested.as_deref().map(euros_str).unwrap_or_default()) }
                                    td { (file_state_badge(a)) }
                                    td { (a.deadline.clone().unwrap_or_default()) }
                                }
                            }
                        }
                    }
                }
            }
        },
    )))
}

fn new_page(
    v: &Viewer,
    p: &Served,
    fund: &Fund,
    data: &Value,
    errors: &[(String, String)],
    year: i16,
) -> Markup {
    let call_path = fund
        .keys
        .as_ref()
        .map(|k| k.call.clone())
        .unwrap_or_default();
    let mut defaults = vec![(call_path.as_str(), year.to_string())];
    let (name, siret);
    if let Some(s) = &v.session {
        name = s.user.name.clone();
        siret = s.user.siret.clone().unwrap_or_default();
        if let Some(k) = &fund.keys {
            defaults.push((k.applicant_name.as_str(), name.clone()));
            defaults.push((k.applicant.as_str(), siret.clone()));
        }
    }
    shell(
        v,
        &format!("Nouveau dossier : {}", fund.title),
        html! {
            p.lead {
                "Les champs et les pièces demandés sont ceux du règlement du fonds. "
                "Vous pouvez enregistrer le dossier et voir le résultat du contrôle d'éligibilité avant de le déposer. "
                "La date de dépôt est le jour où vous déposez."
            }
            @if !errors.is_empty() {
                div.alert.error role="alert" {
                    p { "Le dossier n'a pas été enregistré : corrigez les champs signalés." }
                    ul { @for (f, m) in errors { li { (label_of(fund, f)) " : " (m) } } }
                    p { "Les fichiers choisis doivent être sélectionnés à nouveau." }
                }
            }
            form.formulaire method="post" enctype="multipart/form-data" action={"/plans/" (p.plan.id) "/fonds/" (fund.id) "/deposer"} {
                (csrf(v))
                (form::fields(&p.plan, fund, data, errors, &defaults))
                fieldset.champ {
                    legend { "Pièces jointes" }
                    (form::pieces(fund, &[]))
                }
                div.boutons {
                    button type="submit" name="intention" value="apercu" { "Enregistrer et vérifier l'éligibilité" }
                    button.secondaire type="submit" name="intention" value="depot" { "Déposer le dossier" }
                }
            }
        },
    )
}

pub fn label_of(fund: &Fund, path: &str) -> String {
    if let Some(kind) = path.strip_prefix("piece.") {
        return fund
            .form
            .documents
            .iter()
            .find(|d| d.id.as_str() == kind)
            .map_or_else(|| kind.to_string(), |d| d.label.clone());
    }
    fund.form
        .fields
        .iter()
        .find(|f| f.path == path)
        .map_or_else(|| path.to_string(), |f| f.label.clone())
}

fn fund_of<'a>(p: &'a Served, fund: &str) -> Result<&'a Fund, PageError> {
    p.plan
        .fund(fund)
        .filter(|f| f.keys.is_some())
        .ok_or_else(PageError::not_found)
}

#[tracing::instrument(skip(s, v))]
pub async fn new_form(
    State(s): State<AppState>,
    v: Viewer,
    Path((plan, fund)): Path<(String, String)>,
) -> Result<Response, PageError> {
    v.require(&[RoleKind::Applicant])?;
    let p = served(&s, &plan)?;
    let f = fund_of(&p, &fund)?;
    let year = today(&s, &p).year();
    Ok(v.ok(new_page(&v, &p, f, &Value::Null, &[], year)))
}

#[tracing::instrument(skip(s, v, mp))]
pub async fn create(
    State(s): State<AppState>,
    v: Viewer,
    Path((plan, fund)): Path<(String, String)>,
    mp: Multipart,
) -> Result<Response, PageError> {
    let who = v.require(&[RoleKind::Applicant])?;
    let p = served(&s, &plan)?;
    let f = fund_of(&p, &fund)?;
    let (posted, files) = read_multipart(mp, s.config.upload_limit).await?;
    v.check_csrf(field(&posted, CSRF_FIELD))?;
    let year = today(&s, &p).year();
    let data = match form::data_from(&p.plan, f, &posted) {
        Ok(d) => d,
        Err(errors) => {
            return Ok(v.page(
                StatusCode::UNPROCESSABLE_ENTITY,
                new_page(&v, &p, f, &echo(&p, f, &posted), &errors, year),
            ));
        }
    };
    let bad = check_pieces(f, &files);
    if !bad.is_empty() {
        return Ok(v.page(
            StatusCode::UNPROCESSABLE_ENTITY,
            new_page(&v, &p, f, &data, &bad, year),
        ));
    }
    let created = s.ctx.create(&who, &plan, &fund, data, true, None).await?;
    let id = created.body["id"].as_str().unwrap_or_default().to_string();
    for (kind, bytes, name) in files {
        s.ctx
            .upload(&who, &id, &kind, &bytes, name, &s.config.documents, None)
            .await?;
    }
    tracing::info!(application = %id, "draft saved from the form");
    if field(&posted, "intention") == Some("depot") {
        let current = s.ctx.get(&who, &id).await?;
        // The plan says which transition files; the page does not name it.
        let filing = p
            .plan
            .workflow(f.workflow.as_str())
            .and_then(|wf| metroplan_engine::workflow::filing(&p.plan, wf))
            .map(|t| t.id.to_string())
            .ok_or_else(PageError::not_found)?;
        return super::application::take_action(&s, &v, &who, &id, &filing, current.version, &[])
            .await;
    }
    Ok(Redirect::to(&format!("/dossiers/{id}?fait=enregistre")).into_response())
}

/// What the applicant typed, kept as text so that a refused form is shown as sent.
fn echo(p: &Served, f: &Fund, posted: &[(String, String)]) -> Value {
    let mut ok_fields: Vec<(String, String)> = Vec::new();
    for (k, val) in posted {
        ok_fields.push((k.clone(), val.clone()));
    }
    // Keep what parses; the rest is shown empty with its error.
    let mut data = serde_json::Map::new();
    for field in &f.form.fields {
        let one: Vec<(String, String)> = ok_fields
            .iter()
            .filter(|(k, _)| *k == form::control_name(&field.path))
            .cloned()
            .collect();
        if let Ok(Value::Object(m)) = form::data_from(&p.plan, f, &one) {
            merge(&mut data, m);
        }
    }
    Value::Object(data)
}

fn merge(into: &mut serde_json::Map<String, Value>, from: serde_json::Map<String, Value>) {
    for (k, v) in from {
        match (into.get_mut(&k), v) {
            (Some(Value::Object(a)), Value::Object(b)) => merge(a, b),
            (_, v) => {
                into.insert(k, v);
            }
        }
    }
}

/// Saves a draft's new content.
#[tracing::instrument(skip(s, v, f))]
pub async fn edit(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<String>,
    WebForm(f): WebForm,
) -> Result<Response, PageError> {
    let who = v.require(&[RoleKind::Applicant])?;
    v.check_csrf(field(&f, CSRF_FIELD))?;
    let version = super::application::version_of(&f)?;
    let current = s.ctx.get(&who, &id).await?;
    if current.fund_status == crate::service::Presence::Removed {
        return super::application::refuse_removed(&s, &v, &who, &id).await;
    }
    let p = served(&s, &current.plan)?;
    let fund = fund_of(&p, &current.fund)?;
    let data = match form::data_from(&p.plan, fund, &f) {
        Ok(d) => d,
        Err(errors) => {
            let msg = errors
                .iter()
                .map(|(path, m)| format!("{} : {m}", label_of(fund, path)))
                .collect::<Vec<_>>()
                .join(" ; ");
            return super::application::page_with_error(
                &s,
                &v,
                &who,
                &id,
                StatusCode::UNPROCESSABLE_ENTITY,
                &format!("Le dossier n'a pas été modifié : {msg}"),
            )
            .await;
        }
    };
    match s.ctx.save_draft(&who, &id, data, version).await {
        Ok(_) => Ok(Redirect::to(&format!("/dossiers/{id}?fait=enregistre")).into_response()),
        Err(e) => {
            let (status, msg) = super::layout::refusal_fr(&e);
            if matches!(
                e,
                crate::error::Error::NotFound(_) | crate::error::Error::Internal(_)
            ) {
                return Err(e.into());
            }
            super::application::page_with_error(&s, &v, &who, &id, status, &msg).await
        }
    }
}
