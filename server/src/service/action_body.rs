//! The body of a workflow action, its amounts and scores read exactly.

use jiff::civil::Date;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::Value;

/// The body of a workflow action.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionBody {
    /// Amount in euros (a decimal string or number): award or payment.
    #[schema(value_type = Option<String>, pattern = r"^[0-9]{1,12}(\.[0-9]{1,2})?$")]
    #[serde(default, deserialize_with = "amount")]
    pub amount: Option<Decimal>,
    pub reason: Option<String>,
    /// Reviewers: whether they have a link of interest with the applicant.
    pub linked: Option<bool>,
    /// Reviewers: whether the opinion is favourable.
    pub favourable: Option<bool>,
    /// Reviewers: the opinion.
    pub opinion: Option<String>,
    /// Reviewers: points by criterion of the selection grid assessed by reviewers.
    #[serde(default, deserialize_with = "scores")]
    pub scores: Option<std::collections::BTreeMap<String, u32>>,
    /// Date the agreement was signed.
    #[schema(value_type = Option<String>, format = Date)]
    pub signed_on: Option<Date>,
    /// Applicants: the application's new content, with the transitions the plan declares
    /// `data = true` for (filing, completing); elsewhere it is refused.
    #[schema(value_type = Option<crate::http::bodies::ApplicationData>)]
    pub data: Option<Value>,
}

/// Points by criterion: whole numbers, written `12` or `12.0` (JSON does not tell them apart).
fn scores<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<std::collections::BTreeMap<String, u32>>, D::Error> {
    use serde::de::Error as _;
    let Some(m) = Option::<std::collections::BTreeMap<String, Value>>::deserialize(d)? else {
        return Ok(None);
    };
    m.into_iter()
        .map(|(k, v)| {
            let n = v
                .as_u64()
                .or_else(|| {
                    v.as_f64()
                        .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= f64::from(u32::MAX))
                        .map(|f| f as u64)
                })
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| {
                    D::Error::custom(format!("scores.{k}: {v} is not a whole number of points"))
                })?;
            Ok((k, n))
        })
        .collect::<std::result::Result<_, _>>()
        .map(Some)
}

/// An amount given as a decimal string (`"1234.50"`) or a JSON number, read exactly.
fn amount<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<Decimal>, D::Error> {
    use serde::de::Error as _;
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| D::Error::custom(format!("amount `{s}` is not a decimal number"))),
        Some(Value::Number(n)) => n
            .to_string()
            .parse()
            .map(Some)
            .map_err(|_| D::Error::custom(format!("amount {n} is not a decimal number"))),
        Some(other) => Err(D::Error::custom(format!(
            "amount: expected a decimal, got {other}"
        ))),
    }
}
