//! The pieces of an application: uploaded (by content, stored by hash) and read back.

use metroplan_engine::model::RoleKind;
use metroplan_engine::workflow;
use serde_json::json;
use sqlx::Row;

use crate::audit::NewEvent;
use crate::clock::stamp;
use crate::documents::Unfit;
use crate::error::{Error, Result};
use crate::tokens::Principal;

use super::idempotency::{Reply, claim_key, store_reply};
use super::rows::load_row;
use super::views::DocumentView;
use super::{Ctx, scope};

/// How much may be uploaded, in bytes.
#[derive(Debug, Clone, Copy)]
pub struct Quotas {
    /// To one file, replaced pieces included.
    pub per_file: i64,
    /// By one person in 24 hours, all files together.
    pub per_day: i64,
}

impl Default for Quotas {
    fn default() -> Self {
        Quotas {
            per_file: 100 * 1024 * 1024,
            per_day: 300 * 1024 * 1024,
        }
    }
}

/// Refuses an upload of `size` bytes that would take the file or its uploader beyond their
/// allowance. Read in the upload's transaction once the file's row is locked, so concurrent
/// uploads to one file are counted; the daily allowance may be passed by the uploads in flight
/// to other files at that moment (10 MiB each at most).
async fn quota(
    tx: &mut crate::store::WriteTx,
    quotas: Quotas,
    who: &Principal,
    id: &str,
    size: usize,
    now: jiff::Timestamp,
) -> Result<()> {
    let size = size as i64;
    let on_file: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM uploads WHERE application_id = $1",
    )
    .bind(id)
    .fetch_one(&mut *tx.tx)
    .await?;
    if on_file + size > quotas.per_file {
        return Err(Error::Quota(format!(
            "the pieces uploaded to this file would exceed {} bytes (replaced pieces count: the audit trail keeps them)",
            quotas.per_file
        )));
    }
    let since = stamp(
        now.checked_sub(jiff::SignedDuration::from_hours(24))
            .expect("a day ago is a valid instant"),
    );
    let today: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM uploads WHERE actor = $1 AND created_at > $2",
    )
    .bind(&who.id)
    .bind(&since)
    .fetch_one(&mut *tx.tx)
    .await?;
    if today + size > quotas.per_day {
        return Err(Error::Quota(format!(
            "you uploaded {today} bytes in the last 24 hours: at most {} bytes",
            quotas.per_day
        )));
    }
    Ok(())
}

pub(super) async fn documents_of<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    ex: E,
    id: &str,
) -> Result<Vec<DocumentView>> {
    Ok(sqlx::query_as::<_, DocumentView>(
        "SELECT kind, sha256, media_type, size, file_name FROM documents WHERE application_id = $1 ORDER BY kind",
    )
    .bind(id)
    .fetch_all(ex)
    .await?)
}

impl Ctx {
    /// Stores an uploaded piece and attaches it to the application: a piece of the form (in a
    /// state that accepts them) or of a step the uploader may take from the file's state.
    #[allow(clippy::too_many_arguments)]
    pub async fn upload(
        &self,
        who: &Principal,
        id: &str,
        kind: &str,
        bytes: &[u8],
        file_name: Option<String>,
        docs_root: &std::path::Path,
        key: Option<&str>,
    ) -> Result<Reply> {
        let media = crate::documents::check(bytes).map_err(|e| match e {
            Unfit::NotADocument => Error::UnsupportedMediaType(
                "a document is a PDF or an image (PNG, JPEG, WebP), recognized by its content"
                    .into(),
            ),
            Unfit::Damaged(media) => Error::unprocessable(
                format!("the {media} file is truncated or damaged: its end marker is missing"),
                Some("file"),
            ),
        })?;
        let view = self.get(who, id).await?;
        let served = self.served_for_change(id, &view.plan, &view.fund, &view.state)?;
        let (fund, wf) = scope(&served, &view.fund)?;
        let form_piece = fund.form.documents.iter().any(|d| d.id.as_str() == kind);
        match workflow::step_piece(wf, &view.state, kind) {
            // A step's piece is joined by whoever may take the step, before taking it.
            Some((t, _)) if !form_piece => {
                if !view.actions.iter().any(|a| a == t.id.as_str()) {
                    return Err(Error::Forbidden(format!(
                        "the piece `{kind}` is joined by whoever takes `{}`",
                        t.id
                    )));
                }
            }
            _ if form_piece => {
                if who.role != RoleKind::Applicant {
                    return Err(Error::Forbidden(
                        "only the applicant uploads the pieces of an application".into(),
                    ));
                }
                // The plan says where the form's pieces are taken (a draft, an incomplete file).
                if !workflow::accepts_pieces(wf, &view.state) {
                    return Err(Error::Conflict(format!(
                        "application `{id}` takes no pieces in its state `{}`: the plan accepts them only where a state declares `accepts = [\"pieces\"]` or a step from it asks for them",
                        view.state
                    )));
                }
            }
            _ => {
                let known: Vec<&str> = fund
                    .form
                    .documents
                    .iter()
                    .map(|d| d.id.as_str())
                    .chain(
                        wf.transitions
                            .iter()
                            .flat_map(|t| t.pieces.iter().map(|p| p.id.as_str())),
                    )
                    .collect();
                return Err(if workflow::step_piece_label(wf, kind).is_some() {
                    Error::Conflict(format!(
                        "the piece `{kind}` is asked by a step that does not leave the state `{}`",
                        view.state
                    ))
                } else {
                    Error::unprocessable(
                        format!(
                            "the plan asks for no piece `{kind}` (it asks for: {})",
                            known.join(", ")
                        ),
                        Some("kind"),
                    )
                });
            }
        }
        let sha = crate::documents::store(docs_root, bytes)
            .await
            .map_err(|e| Error::Internal(e.into()))?;
        let now_s = stamp(self.clock.now());
        let mut tx = self.db.write().await?;
        // Against a replaced piece of the same content being deleted meanwhile.
        tx.lock_key(&format!("document:{sha}")).await?;
        let request = json!({"op": "upload", "id": id, "kind": kind, "sha256": sha}).to_string();
        if let Some((status, body)) = claim_key(&mut tx, who, key, &request, &now_s).await? {
            return Ok(Reply {
                status,
                body,
                replayed: true,
            });
        }
        // The state may have changed since it was read above.
        let state = load_row(&mut tx, id).await?.state;
        if state != view.state {
            return Err(Error::Conflict(format!(
                "the application moved to `{state}` meanwhile: reload it"
            )));
        }
        let replaced = sqlx::query(
            "DELETE FROM documents WHERE application_id = $1 AND kind = $2 RETURNING sha256, created_at",
        )
        .bind(id)
        .bind(kind)
        .fetch_optional(&mut *tx.tx)
        .await?
        .map(|r| -> std::result::Result<(String, String), sqlx::Error> {
            Ok((r.try_get("sha256")?, r.try_get("created_at")?))
        })
        .transpose()?
        .filter(|(old, _)| *old != sha);
        sqlx::query("INSERT INTO documents (application_id, kind, sha256, media_type, size, file_name, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(id).bind(kind).bind(&sha).bind(media).bind(bytes.len() as i64).bind(&file_name).bind(&now_s)
            .execute(&mut *tx.tx).await?;
        sqlx::query("UPDATE applications SET version = version + 1, updated_at = $1 WHERE id = $2")
            .bind(&now_s)
            .bind(id)
            .execute(&mut *tx.tx)
            .await?;
        // After the file's row is written (and locked, on PostgreSQL): uploads to one file
        // are counted one after the other.
        quota(&mut tx, self.quotas, who, id, bytes.len(), self.clock.now()).await?;
        sqlx::query(
            "INSERT INTO uploads (application_id, actor, size, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(&who.id)
        .bind(bytes.len() as i64)
        .bind(&now_s)
        .execute(&mut *tx.tx)
        .await?;
        tx.record(NewEvent {
            application_id: Some(id.into()),
            actor: who.id.clone(),
            role: who.role.name().into(),
            at: now_s.clone(),
            action: "upload".into(),
            from_state: Some(view.state.clone()),
            to_state: Some(view.state.clone()),
            payload: json!({"kind": kind, "sha256": sha, "media_type": media, "size": bytes.len(), "file_name": file_name}).to_string(),
            reason: None,
        });
        let row = load_row(&mut tx, id).await?;
        let docs = documents_of(&mut *tx.tx, id).await?;
        let body = serde_json::to_value(self.view(row, docs, who)?).map_err(anyhow::Error::from)?;
        store_reply(&mut tx, who, key, 200, &body).await?;
        tx.commit().await?;
        // A replaced piece of the same content deleted just before this commit: written again.
        if !tokio::fs::try_exists(crate::documents::path_of(docs_root, &sha))
            .await
            .unwrap_or(true)
        {
            crate::documents::store(docs_root, bytes)
                .await
                .map_err(|e| Error::Internal(e.into()))?;
        }
        if let Some((old, since)) = replaced {
            self.forget_replaced(docs_root, id, &old, &since).await;
        }
        Ok(Reply {
            status: 200,
            body,
            replayed: false,
        })
    }

    /// Deletes a replaced piece's bytes once nothing relies on them: no file holds them, no
    /// other upload brought the same content (pieces are stored by content, shared), and no
    /// step was taken on the file while the piece was in force (a step may have relied on
    /// it: the file is then the evidence, kept). The upload's event keeps the hash. Runs
    /// after the commit; a failure is logged, never the request's.
    async fn forget_replaced(&self, docs_root: &std::path::Path, id: &str, sha: &str, since: &str) {
        let done = async {
            let mut tx = self.db.write().await?;
            // Serialised with any upload of the same content (see `upload`).
            tx.lock_key(&format!("document:{sha}")).await?;
            let held = sqlx::query("SELECT 1 AS x FROM documents WHERE sha256 = $1 LIMIT 1")
                .bind(sha)
                .fetch_optional(&mut *tx.tx)
                .await?
                .is_some();
            let uploads: i64 = sqlx::query(
                "SELECT COUNT(*) AS n FROM events WHERE action = 'upload' AND payload LIKE $1",
            )
            .bind(format!("%\"sha256\":\"{sha}\"%"))
            .fetch_one(&mut *tx.tx)
            .await?
            .try_get("n")?;
            let stepped = sqlx::query(
                "SELECT 1 AS x FROM events WHERE application_id = $1 AND action <> 'upload' AND at >= $2 LIMIT 1",
            )
            .bind(id)
            .bind(since)
            .fetch_optional(&mut *tx.tx)
            .await?
            .is_some();
            let deleted = if held || uploads > 1 || stepped {
                false
            } else {
                // Before the commit, while the lock keeps uploads of this content waiting.
                match tokio::fs::remove_file(crate::documents::path_of(docs_root, sha)).await {
                    Ok(()) => true,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
                    Err(e) => {
                        tracing::warn!(application = id, error = %e, "replaced piece not deleted");
                        false
                    }
                }
            };
            tx.commit().await?;
            Ok::<bool, sqlx::Error>(deleted)
        };
        match done.await {
            Ok(true) => tracing::info!(application = id, "replaced piece deleted"),
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(application = id, error = %e, "replaced piece kept: its uses could not be read")
            }
        }
    }

    /// Where a piece's bytes are, its media type and file name.
    pub async fn document(
        &self,
        who: &Principal,
        id: &str,
        kind: &str,
    ) -> Result<(String, String, Option<String>)> {
        let view = self.get(who, id).await?;
        let d = view
            .documents
            .into_iter()
            .find(|d| d.kind == kind)
            .ok_or_else(|| Error::NotFound(format!("application `{id}` has no piece `{kind}`")))?;
        Ok((d.sha256, d.media_type, d.file_name))
    }
}
