//! The documents the administration issues (règlement article 13; CRPA L112-3, R112-5,
//! L211-5, L311-3-1): a step that declares `documents = [...]` issues each as a dated PDF
//! from the fund's templates, stored by content hash beside the pieces, listed with the file,
//! its hash in the audit trail, linked from the email. The plan writes the wording; the
//! engine renders it; this module gathers the file's facts and keeps the result.

use std::path::PathBuf;

use jiff::civil::Date;
use metroplan_engine::documents::{Block, Letter};
use metroplan_engine::french::{date_fr, money_fr};
use metroplan_engine::model::{Administration, Fund, MoneyEffect, Transition, Workflow};
use metroplan_engine::rules::explain::{Stage, notice_at};
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::Row;

use crate::audit::NewEvent;
use crate::error::{Error, Result};
use crate::plans::Served;
use crate::store::WriteTx;
use crate::tokens::Principal;

use super::rows::AppRow;
use super::{Ctx, euros};

/// Where issued documents go, and the address people reach the pages at (for links).
#[derive(Debug, Clone, Default)]
pub struct LetterStore {
    pub documents: PathBuf,
    /// `https://aides.example.fr`: `serve --public-url`, or the address it listens on (set
    /// once it is bound); no link while it is unset.
    pub public_url: std::sync::Arc<std::sync::OnceLock<String>>,
}

impl LetterStore {
    pub fn new(documents: PathBuf, public_url: Option<String>) -> LetterStore {
        let s = LetterStore {
            documents,
            public_url: Default::default(),
        };
        if let Some(u) = public_url {
            let _ = s.public_url.set(u.trim_end_matches('/').to_string());
        }
        s
    }
}

/// A document issued on a file.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct LetterView {
    pub id: String,
    /// The template it was made from.
    pub template: String,
    /// Its subject, as the applicant reads it.
    pub title: String,
    pub sha256: String,
    pub size: i64,
    /// The day it is dated (plan's time zone).
    pub issued_on: String,
}

pub(super) async fn letters_of<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    ex: E,
    id: &str,
) -> Result<Vec<LetterView>> {
    Ok(sqlx::query_as::<_, LetterView>(
        "SELECT id, template, title, sha256, size, issued_on FROM letters WHERE application_id = $1 ORDER BY seq",
    )
    .bind(id)
    .fetch_all(ex)
    .await?)
}

/// What a step issued, for its email.
#[derive(Debug, Clone)]
pub(super) struct Issued {
    pub(super) id: String,
    pub(super) title: String,
}

/// What a step does, as its letters tell it.
pub(super) struct Step<'a> {
    pub(super) transition: &'a Transition,
    pub(super) reason: Option<&'a str>,
    pub(super) today: Date,
    pub(super) now: &'a str,
}

impl Ctx {
    /// Issues the documents `step` declares for `row` (already in its new state).
    pub(super) async fn issue_letters(
        &self,
        tx: &mut WriteTx,
        served: &Served,
        fund: &Fund,
        wf: &Workflow,
        row: &AppRow,
        step: &Step<'_>,
    ) -> Result<Vec<Issued>> {
        if step.transition.documents.is_empty() {
            return Ok(Vec::new());
        }
        let facts = self.letter_facts(tx, served, fund, wf, row, step).await?;
        let awarded = row.awarded_cents.map(euros);
        let mut out = Vec::new();
        for issue in &step.transition.documents {
            if let Some(p) = &issue.above {
                let threshold = param_on(fund, p, step.today);
                match (awarded, threshold) {
                    (Some(a), Some(t)) if a > t => {}
                    _ => continue,
                }
            }
            let letter = fund
                .templates
                .letter(&issue.template, &facts)
                .map_err(|e| Error::Internal(anyhow::anyhow!(e)))?;
            let pdf = crate::pdf::render(&document(fund, row, &letter, step.today, served))
                .map_err(|e| Error::Internal(anyhow::anyhow!(e)))?;
            let sha = crate::documents::store(&self.letters.documents, &pdf)
                .await
                .map_err(|e| Error::Internal(anyhow::anyhow!(e)))?;
            let id = crate::tokens::random_hex(8);
            sqlx::query(
                "INSERT INTO letters (id, application_id, template, title, sha256, size, issued_on, created_at, action) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(&id)
            .bind(&row.id)
            .bind(&issue.template)
            .bind(&letter.subject)
            .bind(&sha)
            .bind(pdf.len() as i64)
            .bind(step.today.to_string())
            .bind(step.now)
            .bind(step.transition.id.as_str())
            .execute(&mut *tx.tx)
            .await?;
            tx.record(NewEvent {
                application_id: Some(row.id.clone()),
                actor: "system".into(),
                role: "system".into(),
                at: step.now.into(),
                action: "issue-document".into(),
                from_state: Some(row.state.clone()),
                to_state: Some(row.state.clone()),
                payload: json!({ "template": issue.template, "title": letter.subject, "sha256": sha, "letter": id }).to_string(),
                reason: None,
            });
            out.push(Issued {
                id,
                title: letter.subject,
            });
        }
        Ok(out)
    }

    /// Everything a template may read of the file (docs/documents.md).
    pub(super) async fn letter_facts(
        &self,
        tx: &mut WriteTx,
        served: &Served,
        fund: &Fund,
        wf: &Workflow,
        row: &AppRow,
        step: &Step<'_>,
    ) -> Result<Value> {
        let stored: Option<String> = match &row.evaluation {
            Some(e) => Some(e.clone()),
            None => sqlx::query("SELECT evaluation FROM applications WHERE id = $1")
                .bind(&row.id)
                .fetch_optional(&mut *tx.tx)
                .await?
                .and_then(|r| r.try_get::<Option<String>, _>("evaluation").ok().flatten()),
        };
        let report: Value = stored
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or(Value::Null);
        let x = &report["explanation"];
        let human = !step.transition.is_system();
        let explanation = match (&fund.ruleset, x.is_object()) {
            (Some(rules), true) => json!({
                "verdict": x["verdict"],
                "unmet": x["unmet"].as_array().into_iter().flatten()
                    .filter(|f| f["status"] == "fail")
                    .map(|f| format!("{}\u{a0}: {}", f["article"].as_str().unwrap_or(""), f["text"].as_str().unwrap_or("")))
                    .collect::<Vec<_>>(),
                "notice": notice_at(rules, Stage::Decided { human }),
                "human": human,
            }),
            _ => Value::Null,
        };
        // What is missing matters to a file the rules found incomplete, not to one they
        // refused (whose receipt would otherwise ask for pieces to no end).
        let missing: Vec<Value> = if report["evaluation"]["outcome"] == "incomplete" {
            x["missing"].as_array().cloned().unwrap_or_default()
        } else {
            Vec::new()
        };
        let label_of = |id: &str| {
            wf.transitions
                .iter()
                .find(|t| t.id.as_str() == id)
                .map_or_else(|| id.to_string(), |t| t.label.clone())
        };
        let pending: Vec<Value> = row
            .pending_time
            .iter()
            .flat_map(|p| &p.timers)
            .filter(|(kind, _, _)| *kind == "transition")
            .map(|(_, id, day)| json!({ "id": id, "label": label_of(id), "on": day }))
            .collect();
        let totals = super::ledger::of_application(&mut *tx.tx, &row.id).await?;
        let mut this_step = [0i64; 4];
        for r in sqlx::query(
            "SELECT kind, CAST(SUM(cents) AS BIGINT) AS c FROM ledger_entries WHERE application_id = $1 AND at = $2 GROUP BY kind",
        )
        .bind(&row.id)
        .bind(step.now)
        .fetch_all(&mut *tx.tx)
        .await?
        {
            let kind: String = r.try_get("kind")?;
            let c: i64 = r.try_get("c")?;
            let i = ["commit", "decommit", "payment", "reclaim"]
                .iter()
                .position(|k| *k == kind)
                .unwrap_or(0);
            this_step[i] += c;
        }
        let advance_rate = wf
            .transitions
            .iter()
            .flat_map(|t| &t.effects)
            .find_map(|e| match e {
                MoneyEffect::Advance { rate } => {
                    param_on(fund, rate.as_str(), step.today).map(|v| v.to_string())
                }
                _ => None,
            });
        let threshold = step
            .transition
            .documents
            .iter()
            .find_map(|i| param_on(fund, i.above.as_ref()?, step.today).map(|v| v.to_string()));
        let state_label = wf
            .states
            .iter()
            .find(|s| s.id.as_str() == row.state)
            .map_or(row.state.as_str(), |s| s.label.as_str());
        let awarded = row.awarded_cents.map(|c| euros(c).to_string());
        Ok(json!({
            "authority": authority(fund, served),
            "fund": { "title": fund.title },
            "plan": { "title": served.plan.title },
            "today": step.today.to_string(),
            "received_on": row.filed_on.clone().unwrap_or_else(|| step.today.to_string()),
            "applicant": { "name": row.applicant_name.clone().unwrap_or_else(|| "le porteur".into()) },
            "application": {
                "title": row.title.clone().unwrap_or_else(|| "sans titre".into()),
                "filed_on": row.filed_on,
                "requested_amount": row.requested_cents.map(|c| euros(c).to_string()),
                "call": row.call_year,
                "url": self.page_url(&row.id),
            },
            "state": { "label": state_label },
            "transition": { "label": step.transition.label },
            "missing": missing,
            "completion_deadline": if missing.is_empty() { None } else { row.deadline.clone() },
            "pending": pending,
            "explanation": explanation,
            "decision": {
                "reason": step.reason,
                "awarded": awarded,
                "human": human,
                "advance_rate": advance_rate,
                "convention": threshold.as_ref().zip(row.awarded_cents).is_some_and(|(t, a)| {
                    t.parse::<rust_decimal::Decimal>().is_ok_and(|t| euros(a) > t)
                }),
                "convention_threshold": threshold,
            },
            "ledger": {
                "committed": euros(totals.committed_cents).to_string(),
                "committed_before": euros(totals.committed_cents + this_step[1]).to_string(),
                "paid": euros(totals.paid_cents).to_string(),
                "reclaimed": euros(totals.reclaimed_cents).to_string(),
                "released": (this_step[1] > 0).then(|| euros(this_step[1]).to_string()),
                "reclaim": euros(this_step[3]).to_string(),
                "to_reclaim": (totals.paid_cents - totals.reclaimed_cents > 0)
                    .then(|| euros(totals.paid_cents - totals.reclaimed_cents).to_string()),
            },
            "documents": [],
        }))
    }

    pub(super) fn page_url(&self, id: &str) -> Option<String> {
        self.letters
            .public_url
            .get()
            .map(|u| format!("{u}/dossiers/{id}"))
    }

    /// Where an issued document's bytes are, and its file name, for `who`.
    pub async fn letter(
        &self,
        who: &Principal,
        id: &str,
        letter: &str,
    ) -> Result<(PathBuf, String)> {
        self.get(who, id).await?;
        let l = letters_of(&self.db.pool, id)
            .await?
            .into_iter()
            .find(|l| l.id == letter)
            .ok_or_else(|| {
                Error::NotFound(format!("application `{id}` has no document `{letter}`"))
            })?;
        Ok((
            crate::documents::path_of(&self.letters.documents, &l.sha256),
            format!("{}-{}.pdf", l.template, l.issued_on),
        ))
    }
}

/// A parameter's value in force on `day`.
fn param_on(fund: &Fund, id: &str, day: Date) -> Option<rust_decimal::Decimal> {
    fund.parameters
        .iter()
        .find(|p| p.id.as_str() == id)
        .and_then(|p| p.values.at(day))
        .map(|v| v.value)
}

fn authority(fund: &Fund, served: &Served) -> Value {
    match &fund.administration {
        Some(a) => serde_json::to_value(a).unwrap_or(Value::Null),
        None => json!({
            "authority": served.plan.owner, "siret": "", "service": "le service instructeur",
            "address": "", "email": "", "phone": "", "place": "", "signatory": served.plan.owner,
            "court": "tribunal administratif compétent", "website": null
        }),
    }
}

/// The letter laid out: letterhead from the fund's administration, the applicant as
/// recipient, dated from the authority's town.
fn document(
    fund: &Fund,
    row: &AppRow,
    letter: &Letter,
    day: Date,
    served: &Served,
) -> crate::pdf::Document {
    let fallback = Administration {
        authority: served.plan.owner.clone(),
        siret: String::new(),
        service: String::new(),
        address: String::new(),
        email: String::new(),
        phone: String::new(),
        place: String::new(),
        signatory: served.plan.owner.clone(),
        court: String::new(),
        website: None,
    };
    let a = fund.administration.as_ref().unwrap_or(&fallback);
    let letterhead: Vec<String> = [
        a.authority.clone(),
        a.service.clone(),
        a.address.clone(),
        [a.email.as_str(), a.phone.as_str()]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" · "),
    ]
    .into_iter()
    .filter(|s| !s.is_empty())
    .collect();
    let mut reference = vec![("Objet".to_string(), letter.subject.clone())];
    if let Some(t) = &row.title {
        reference.push(("Dossier".into(), format!("«\u{a0}{t}\u{a0}»")));
    }
    if let Some(r) = row.requested_cents {
        reference.push(("Montant demandé".into(), money_fr(euros(r))));
    }
    if !a.service.is_empty() {
        reference.push(("Affaire suivie par".into(), a.service.clone()));
    }
    let place = if a.place.is_empty() {
        String::new()
    } else {
        format!("{}, ", a.place)
    };
    crate::pdf::Document {
        title: letter.subject.clone(),
        author: a.authority.clone(),
        date: day,
        letterhead,
        recipient: vec![
            row.applicant_name
                .clone()
                .unwrap_or_else(|| "Le porteur du projet".into()),
        ],
        place_and_date: format!("{place}le {}", date_fr(day)),
        reference,
        blocks: letter
            .blocks
            .iter()
            .map(|b| match b {
                Block::Heading(h) => crate::pdf::Block::Heading(h.clone()),
                Block::Paragraph(p) => crate::pdf::Block::Paragraph(p.clone()),
                Block::Bullets(items) => crate::pdf::Block::Bullets(items.clone()),
            })
            .collect(),
        signature: vec![a.signatory.clone()],
        footer: format!("{} — {}", a.authority, fund.title),
    }
}

impl Ctx {
    /// The applicant's email for a step: the fund's `courriel` template, with the state
    /// reached, what is missing and by when, the documents issued and the file's link.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn email(
        &self,
        tx: &mut WriteTx,
        served: &Served,
        fund: &Fund,
        wf: &Workflow,
        row: &AppRow,
        action: &str,
        reason: Option<&str>,
        issued: &[Issued],
        today: Date,
        now: &str,
    ) -> Result<(String, String)> {
        let Some(t) = wf.transitions.iter().find(|t| t.id.as_str() == action) else {
            return Err(Error::Internal(anyhow::anyhow!("no transition `{action}`")));
        };
        let step = Step {
            transition: t,
            reason,
            today,
            now,
        };
        let mut facts = self.letter_facts(tx, served, fund, wf, row, &step).await?;
        facts["documents"] = Value::Array(
            issued
                .iter()
                .map(|d| {
                    json!({
                        "title": d.title,
                        "url": self.page_url(&row.id).map(|u| format!("{u}/courriers/{}", d.id)),
                    })
                })
                .collect(),
        );
        let render = |name: &str| {
            fund.templates
                .render(name, &facts)
                .map_err(|e| Error::Internal(anyhow::anyhow!(e)))
        };
        let text = render("courriel")?;
        let subject = render("courriel-objet")?.trim().to_string();
        Ok((
            metroplan_engine::french::typeset(&subject),
            metroplan_engine::french::typeset(&text),
        ))
    }
}
