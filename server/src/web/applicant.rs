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
    v: &Viewer,
) -> Result<(Vec<(String, String)>, Vec<Piece>), PageError> {
    let mut fields = Vec::new();
    let mut files = Vec::new();
    // The pages put the CSRF token first: a form without it, or with a wrong one, is refused
    // before any file of it is read (a forged upload costs no memory).
    let mut checked = false;
    loop {
        let next = mp.next_field().await.map_err(|e| {
            PageError::bad_form(format!("Le formulaire envoyé est illisible ({e})."))
        })?;
        let Some(f) = next else { break };
        let name = f.name().unwrap_or_default().to_string();
        let file_name = f.file_name().map(str::to_string);
        if !checked {
            let sent = if name == CSRF_FIELD {
                Some(f.text().await.map_err(|e| {
                    PageError::bad_form(format!("Le formulaire envoyé est illisible ({e})."))
                })?)
            } else {
                None
            };
            v.check_csrf(sent.as_deref())?;
            checked = true;
            fields.push((name, sent.unwrap_or_default()));
            continue;
        }
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
            super::layout::piece_refusal_fr(bytes).map(|m| (format!("piece.{kind}"), m.into()))
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
                            li { (t) " : " a href={"/plans/" (p) "/fonds/" (f) "/deposer"} { "Déposer un dossier" } }
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

/// What the new application's page shows besides the empty form.
#[derive(Default)]
struct Shown<'a> {
    /// What was read of the submission (the fields that parse).
    data: Option<&'a Value>,
    /// The fields as sent, shown as typed.
    posted: Option<&'a [(String, String)]>,
    errors: &'a [(String, String)],
    /// The draft that keeps the pieces of a refused submission, and those pieces.
    draft: Option<&'a str>,
    kept: &'a [(String, Option<String>)],
}

fn new_page(v: &Viewer, p: &Served, fund: &Fund, year: i16, shown: &Shown<'_>) -> Markup {
    let mut defaults = Vec::new();
    let mut fixed = form::fixed_paths(fund);
    if let Some(k) = &fund.keys {
        defaults.push((k.call.as_str(), year.to_string()));
        if let Some(s) = &v.session {
            defaults.push((k.applicant_name.as_str(), s.user.name.clone()));
            if let (Some(siret), Some(path)) = (&s.user.siret, form::siret_path(fund)) {
                defaults.push((path, siret.clone()));
                fixed.push(path);
            }
        }
    }
    let fill = form::Fill {
        data: shown.data.unwrap_or(&Value::Null),
        posted: shown.posted,
        errors: shown.errors,
        defaults: &defaults,
        fixed: &fixed,
    };
    let errors = shown.errors;
    let note = (!shown.kept.is_empty()).then_some(
        "Les pièces jointes envoyées sont gardées dans un brouillon de ce dossier : inutile de les choisir à nouveau.",
    );
    let page = shell(
        v,
        &format!("Nouveau dossier : {}", fund.title),
        html! {
            @if !errors.is_empty() {
                (form::error_summary(fund, errors, note))
            }
            p.lead {
                "Les champs et les pièces demandés sont ceux du règlement du fonds. "
                "Vous pouvez enregistrer le dossier et voir le résultat du contrôle d'éligibilité avant de le déposer. "
                "La date de dépôt est le jour où vous déposez."
            }
            form.formulaire method="post" enctype="multipart/form-data" action={"/plans/" (p.plan.id) "/fonds/" (fund.id) "/deposer"} {
                (csrf(v))
                @if let Some(d) = shown.draft { input type="hidden" name=(DRAFT_FIELD) value=(d); }
                (form::sectioned(&p.plan, fund, &fill, shown.kept))
                div.boutons {
                    button type="submit" name="intention" value="apercu" { "Enregistrer et vérifier l'éligibilité" }
                    button.secondaire type="submit" name="intention" value="depot" { "Déposer le dossier" }
                }
            }
        },
    );
    if errors.is_empty() {
        page
    } else {
        form::error_titled(page)
    }
}

/// The hidden field naming the draft that a refused submission's pieces were kept in.
const DRAFT_FIELD: &str = "brouillon";

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
    Ok(v.ok(new_page(&v, &p, f, year, &Shown::default())))
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
    let (mut posted, files) = read_multipart(mp, s.config.upload_limit, &v).await?;
    v.check_csrf(field(&posted, CSRF_FIELD))?;
    let year = today(&s, &p).year();
    // What the applicant may not change is the server's: the call open today, the account's
    // SIRET.
    if let Some(k) = &f.keys {
        form::pin(&mut posted, &k.call, &year.to_string());
    }
    if let (Some(siret), Some(path)) = (
        v.session.as_ref().and_then(|s| s.user.siret.clone()),
        form::siret_path(f),
    ) {
        form::pin(&mut posted, path, &siret);
    }
    let draft = field(&posted, DRAFT_FIELD)
        .filter(|d| !d.is_empty())
        .map(str::to_string);
    let parsed = form::data_from(&p.plan, f, &posted);
    let bad = check_pieces(f, &files);
    let (good, _): (Vec<Piece>, Vec<Piece>) = files.into_iter().partition(|(kind, _, _)| {
        !bad.iter()
            .any(|(path, _)| path.strip_prefix("piece.") == Some(kind))
    });
    let data = match parsed {
        Ok(d) if bad.is_empty() => d,
        parsed => {
            // Refused: every value typed comes back, and the pieces sent are kept in a draft
            // (made with what could be read), so that nothing has to be chosen again.
            let mut errors = parsed.err().unwrap_or_default();
            errors.extend(bad);
            let partial = echo(&p, f, &posted);
            let mut kept_in = draft.clone();
            if !good.is_empty() {
                let id = match &draft {
                    Some(id) => id.clone(),
                    None => {
                        let created = s
                            .ctx
                            .create(&who, &plan, &fund, partial.clone(), true, None)
                            .await?;
                        created.body["id"].as_str().unwrap_or_default().to_string()
                    }
                };
                for (kind, bytes, name) in good {
                    s.ctx
                        .upload(&who, &id, &kind, &bytes, name, &s.config.documents, None)
                        .await?;
                }
                tracing::info!(application = %id, "pieces of a refused form kept in a draft");
                kept_in = Some(id);
            }
            let kept: Vec<(String, Option<String>)> = match &kept_in {
                Some(id) => s
                    .ctx
                    .get(&who, id)
                    .await?
                    .documents
                    .into_iter()
                    .map(|d| (d.kind, d.file_name))
                    .collect(),
                None => Vec::new(),
            };
            let shown = Shown {
                data: Some(&partial),
                posted: Some(&posted),
                errors: &errors,
                draft: kept_in.as_deref(),
                kept: &kept,
            };
            return Ok(v.page(
                StatusCode::UNPROCESSABLE_ENTITY,
                new_page(&v, &p, f, year, &shown),
            ));
        }
    };
    let id = match &draft {
        // The draft that kept the pieces of an earlier, refused submission takes the data.
        Some(id) => {
            let current = s.ctx.get(&who, id).await?;
            s.ctx.save_draft(&who, id, data, current.version).await?;
            id.clone()
        }
        None => {
            let created = s.ctx.create(&who, &plan, &fund, data, true, None).await?;
            created.body["id"].as_str().unwrap_or_default().to_string()
        }
    };
    for (kind, bytes, name) in good {
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
    WebForm(mut f): WebForm,
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
    // The call stays the draft's, the SIRET the account's, whatever the page sent.
    if let Some(k) = &fund.keys {
        let pointer = format!("/{}", k.call.replace('.', "/"));
        if let Some(call) = current.data.pointer(&pointer) {
            let call = call
                .as_str()
                .map_or_else(|| call.to_string(), str::to_string);
            form::pin(&mut f, &k.call, &call);
        }
    }
    if let (Some(siret), Some(path)) = (
        v.session.as_ref().and_then(|s| s.user.siret.clone()),
        form::siret_path(fund),
    ) {
        form::pin(&mut f, path, &siret);
    }
    let data = match form::data_from(&p.plan, fund, &f) {
        Ok(d) => d,
        Err(errors) => {
            return super::application::page_with_form_errors(
                &s,
                &v,
                &who,
                &id,
                "Le dossier n'a pas été modifié : corrigez les champs signalés, ce que vous avez saisi est conservé.",
                &f,
                &errors,
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
