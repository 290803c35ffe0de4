//! Open-data exports: the SCDL « subventions » file (schema 2.0.1, OpenDataFrance), valid
//! against the official Table Schema (`server/tests/it/scdl.rs` runs Frictionless on it).

use std::collections::HashMap;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use metroplan_engine::model::FieldType;
use rust_decimal::Decimal;
use serde_json::Value;

use crate::error::Result;

use super::content::keys_of;
use super::ledger::{Entry, entries_of_fund};
use super::{Ctx, euros, scope};

/// The SCDL columns, in the schema's order.
pub const SCDL_COLUMNS: [&str; 14] = [
    "nomAttribuant",
    "idAttribuant",
    "dateConvention",
    "referenceDecision",
    "nomBeneficiaire",
    "idBeneficiaire",
    "objet",
    "montant",
    "nature",
    "conditionsVersement",
    "datesPeriodeVersement",
    "idRAE",
    "notificationUE",
    "pourcentageSubvention",
];

/// `objet`'s maximum length in the schema.
const OBJECT_MAX: usize = 256;

/// An awarded application, as the export reads it.
#[derive(Debug, sqlx::FromRow)]
struct Award {
    id: String,
    applicant_key: Option<String>,
    applicant_name: Option<String>,
    title: Option<String>,
    decided_on: Option<String>,
    data: String,
}

/// What the ledger says of one award: what it finally amounts to and when it was paid.
#[derive(Debug, Default)]
struct Booked {
    committed: i64,
    reclaimed: i64,
    payments: Vec<String>,
}

/// The day of a stored instant, in the plan's time zone.
fn day(stamp: &str, tz: &TimeZone) -> Option<String> {
    let t: Timestamp = stamp.parse().ok()?;
    Some(t.to_zoned_datetime(tz.clone()).date().to_string())
}

/// Whether a beneficiary identifier is a SIRET as the schema wants it: 14 digits.
fn is_siret(s: &str) -> bool {
    s.len() == 14 && s.bytes().all(|b| b.is_ascii_digit())
}

impl Ctx {
    /// Awarded grants in the SCDL « subventions » format (one row per award; public data).
    ///
    /// The amount is what the ledger finally holds: the award less reductions and released
    /// parts (a lapse), less what was reclaimed; an award that comes to nothing is not a
    /// grant and has no row. Only legal persons are published, by the SIRET the schema
    /// requires: a fund whose applicants are people (no SIRET field) publishes no row, so no
    /// person is ever named.
    pub async fn export_csv(&self, plan: &str, fund_id: &str) -> Result<String> {
        let served = self.served(plan)?;
        let (fund, workflow) = scope(&served, fund_id)?;
        let rows = sqlx::query_as::<_, Award>("SELECT id, applicant_key, applicant_name, title, decided_on, data FROM applications WHERE plan = $1 AND fund = $2 AND awarded_cents IS NOT NULL ORDER BY decided_on, id")
            .bind(plan).bind(fund_id)
            .fetch_all(&self.db.pool).await?;
        let mut booked: HashMap<String, Booked> = HashMap::new();
        for Entry {
            application_id,
            kind,
            cents,
            at,
        } in entries_of_fund(&self.db.pool, plan, fund_id).await?
        {
            let b = booked.entry(application_id).or_default();
            match kind.as_str() {
                "commit" => b.committed += cents,
                "decommit" => b.committed -= cents,
                "reclaim" => b.reclaimed += cents,
                "payment" => {
                    if let Some(d) = day(&at, &served.tz) {
                        b.payments.push(d);
                    }
                }
                _ => {}
            }
        }
        let legal_persons = fund.keys.as_ref().is_some_and(|k| {
            fund.form
                .fields
                .iter()
                .any(|f| f.path == k.applicant && f.ty == FieldType::Siret)
        });
        let (authority, authority_id) = match &fund.administration {
            Some(a) => (a.authority.clone(), a.siret.clone()),
            None => (served.plan.owner.clone(), String::new()),
        };
        let conditions = if workflow.pays_in_instalments() {
            "échelonné"
        } else {
            "unique"
        };
        let mut out = String::new();
        metroplan_engine::csv::row(&mut out, SCDL_COLUMNS);
        for r in rows {
            let Some(siret) = r.applicant_key.filter(|s| legal_persons && is_siret(s)) else {
                continue;
            };
            let b = booked.remove(&r.id).unwrap_or_default();
            let amount = b.committed - b.reclaimed;
            if amount <= 0 {
                continue;
            }
            let decided = r
                .decided_on
                .as_deref()
                .and_then(|d| day(d, &served.tz))
                .unwrap_or_default();
            // One payment is its date; several, the period from the first to the last. Not
            // paid yet: the day of the decision, from which it is due.
            let payments = match (b.payments.first(), b.payments.last()) {
                (Some(first), Some(last)) if first != last => format!("{first}/{last}"),
                (Some(first), _) => first.clone(),
                _ => decided.clone(),
            };
            let data: Value = serde_json::from_str(&r.data).unwrap_or(Value::Null);
            let share = keys_of(fund, &data)
                .total_cost
                .filter(|&c| c > 0)
                .map(|c| {
                    (Decimal::from(amount) / Decimal::from(c))
                        .round_dp(4)
                        .normalize()
                        .to_string()
                })
                .unwrap_or_default();
            let object: String = match r.title.as_deref() {
                Some(t) => format!("{} — {t}", fund.title),
                None => fund.title.to_string(),
            }
            .chars()
            .take(OBJECT_MAX)
            .collect();
            let cols = [
                authority.clone(),
                authority_id.clone(),
                decided,
                r.id,
                r.applicant_name.unwrap_or_default(),
                siret,
                object,
                euros(amount).to_string(),
                "aide en numéraire".into(),
                conditions.into(),
                payments,
                String::new(),
                "non".into(),
                share,
            ];
            metroplan_engine::csv::row(&mut out, cols.iter().map(String::as_str));
        }
        Ok(out)
    }
}
