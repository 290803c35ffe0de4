//! An application's content: the form check, the values the workflow reads from it, and
//! the binding of its applicant key.

use metroplan_engine::model::{Fund, Workflow};
use rust_decimal::Decimal;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::store::WriteTx;

use super::cents;
use super::rows::AppRow;

fn text_at<'v>(data: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(data, |v, k| v.get(k))
}

/// The values the workflow reads from an application's data.
pub(super) struct Keys {
    pub(super) call: Option<i64>,
    pub(super) applicant: Option<String>,
    pub(super) applicant_name: Option<String>,
    pub(super) title: Option<String>,
    pub(super) requested: Option<i64>,
    /// The project's total cost, in cents, when the fund's keys name one.
    pub(super) total_cost: Option<i64>,
}

pub(super) fn keys_of(fund: &Fund, data: &Value) -> Keys {
    let Some(k) = &fund.keys else {
        return Keys {
            call: None,
            applicant: None,
            applicant_name: None,
            title: None,
            requested: None,
            total_cost: None,
        };
    };
    let s = |p: &str| {
        text_at(data, p)
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    Keys {
        // A year field may hold the four digits a form posts ("2021").
        call: text_at(data, &k.call).and_then(|v| {
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        }),
        applicant: s(&k.applicant),
        applicant_name: s(&k.applicant_name),
        title: s(&k.title),
        requested: money_at(data, &k.requested_amount),
        total_cost: k.total_cost.as_deref().and_then(|p| money_at(data, p)),
    }
}

/// A money field's value, in cents.
fn money_at(data: &Value, path: &str) -> Option<i64> {
    text_at(data, path)
        .and_then(|v| match v {
            Value::Number(n) => n.to_string().parse::<Decimal>().ok(),
            Value::String(s) => s.parse::<Decimal>().ok(),
            _ => None,
        })
        .and_then(cents)
}

/// Replaces the file's content with `data`: checked against the form, its keys read, a filed
/// file's applicant key and call kept (refused naming the field that would change them), the
/// applicant key bound. The one home of a content change, for drafts and for steps that take
/// data.
pub(super) async fn replace_content(
    tx: &mut WriteTx,
    wf: &Workflow,
    fund: &Fund,
    row: &mut AppRow,
    data: &Value,
    now: &str,
) -> Result<()> {
    check_form(fund, data)?;
    let k = keys_of(fund, data);
    if metroplan_engine::workflow::is_filed(wf, &row.state)
        && (k.call != row.call_year || k.applicant != row.applicant_key)
    {
        let field = fund.keys.as_ref().map(|keys| {
            if k.call != row.call_year {
                format!("data.{}", keys.call)
            } else {
                format!("data.{}", keys.applicant)
            }
        });
        return Err(Error::Unprocessable {
            detail: "a filed application keeps its applicant and its call: file a new application instead".into(),
            field,
            guard: Some("filed-keys".into()),
            extra: None,
        });
    }
    row.data = data.to_string();
    row.call_year = k.call;
    row.applicant_key = k.applicant;
    row.applicant_name = k.applicant_name;
    row.title = k.title;
    row.requested_cents = k.requested;
    bind_applicant_key(tx, row, fund, now).await
}

/// The file's applicant key is its owner's: bound on first use, refused when another holds it.
pub(super) async fn bind_applicant_key(
    tx: &mut WriteTx,
    row: &AppRow,
    fund: &Fund,
    now: &str,
) -> Result<()> {
    if let (Some(key), Some(keys)) = (&row.applicant_key, &fund.keys) {
        crate::applicant_keys::claim(
            tx,
            &row.owner_id,
            &row.plan,
            &row.fund,
            key,
            &format!("data.{}", keys.applicant),
            now,
        )
        .await?;
    }
    Ok(())
}

pub(super) fn check_form(fund: &Fund, data: &Value) -> Result<()> {
    if !data.is_object() {
        return Err(Error::unprocessable(
            "the application is a JSON object",
            Some("data"),
        ));
    }
    metroplan_engine::rules::application::check(&fund.form, data)
        .map_err(|e| Error::unprocessable(e.message.clone(), Some(&format!("data.{}", e.field))))?;
    Ok(())
}
