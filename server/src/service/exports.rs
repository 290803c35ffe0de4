//! Open-data exports.

use metroplan_engine::model::FieldType;

use crate::error::Result;

use super::{Ctx, euros, scope};

/// An awarded application, as the export reads it.
#[derive(Debug, sqlx::FromRow)]
struct Award {
    id: String,
    applicant_key: Option<String>,
    applicant_name: Option<String>,
    title: Option<String>,
    awarded_cents: i64,
    decided_on: Option<String>,
}

impl Ctx {
    /// Awarded grants in the SCDL « subventions » format (one row per award; public data).
    pub async fn export_csv(&self, plan: &str, fund_id: &str) -> Result<String> {
        let served = self.served(plan)?;
        let (fund, _) = scope(&served, fund_id)?;
        let rows = sqlx::query_as::<_, Award>("SELECT id, applicant_key, applicant_name, title, awarded_cents, decided_on, call_year FROM applications WHERE plan = $1 AND fund = $2 AND awarded_cents IS NOT NULL ORDER BY decided_on, id")
            .bind(plan).bind(fund_id)
            .fetch_all(&self.db.pool).await?;
        // Only legal persons (known by their SIRET) are published by name: a fund for people
        // (a bike aid) publishes its awards without who received them.
        let legal_persons = fund.keys.as_ref().is_some_and(|k| {
            fund.form
                .fields
                .iter()
                .any(|f| f.path == k.applicant && f.ty == FieldType::Siret)
        });
        let mut out = String::from(
            "nomAttribuant,idAttribuant,dateConvention,referenceDecision,nomBeneficiaire,idBeneficiaire,objet,montant,nature,conditionsVersement,datesPeriodeVersement,idRAE,notificationUE,pourcentageSubvention\r\n",
        );
        for r in rows {
            let Award {
                id,
                applicant_key: siret,
                applicant_name: name,
                title,
                awarded_cents: amount,
                decided_on: decided,
            } = r;
            let (name, siret, title) = if legal_persons {
                (name, siret, title)
            } else {
                (
                    Some("personne physique (non publiée)".to_string()),
                    None,
                    None,
                )
            };
            let object = match title.as_deref() {
                Some(t) => format!("{} — {t}", fund.title),
                None => fund.title.to_string(),
            };
            let cols = [
                served.plan.title.to_string(),
                String::new(),
                decided
                    .as_deref()
                    .map(|d| d.get(..10).unwrap_or(d).to_string())
                    .unwrap_or_default(),
                id,
                name.unwrap_or_default(),
                siret.unwrap_or_default(),
                object,
                euros(amount).to_string(),
                "aide en numéraire".into(),
                "échelonné".into(),
                String::new(),
                String::new(),
                "non".into(),
                String::new(),
            ];
            metroplan_engine::csv::row(&mut out, cols.iter().map(String::as_str));
        }
        Ok(out)
    }
}
