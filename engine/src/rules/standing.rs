//! A file's standing on its fund's selection grid, from what was recorded at filing (the
//! criteria, their maxima at the filing date, the points the rules gave the automatic ones)
//! and the reviewers' scores. One computation, so that the inbox's column and the decision
//! page's table never disagree.

use rust_decimal::Decimal;
use serde_json::Value;

/// One criterion as the file stands.
#[derive(Debug, Clone, PartialEq)]
pub struct StandingLine {
    pub id: String,
    pub label: String,
    /// The rules' points for an automatic criterion, the reviewers' average (to one decimal)
    /// for the others; `None` while nobody scored it.
    pub points: Option<Decimal>,
    pub max: Decimal,
    pub by_reviewers: bool,
}

/// The file's score on the grid.
#[derive(Debug, Clone, PartialEq)]
pub struct Standing {
    pub lines: Vec<StandingLine>,
    /// The sum of the points given so far.
    pub total: Decimal,
    /// The grid's total.
    pub out_of: Decimal,
    /// How many reviewers' scores are averaged.
    pub opinions: usize,
}

impl Standing {
    /// The total brought to 100 points, so that files of funds with different grids sort
    /// together.
    pub fn out_of_100(&self) -> Decimal {
        if self.out_of > Decimal::ZERO && self.out_of != Decimal::ONE_HUNDRED {
            (self.total * Decimal::ONE_HUNDRED / self.out_of).round_dp(1)
        } else {
            self.total
        }
    }
}

fn decimal(v: &Value) -> Option<Decimal> {
    match v {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.to_string().parse().ok(),
        _ => None,
    }
}

/// The standing from an evaluation as serialized (its `score` member) and each reviewer's
/// scores (an object from criterion id to points; reviewers who scored nothing are not
/// counted). `None` when the evaluation has no score (no grid, or not eligible).
pub fn standing<'a>(
    evaluation: &Value,
    reviewers: impl IntoIterator<Item = &'a Value>,
) -> Option<Standing> {
    let s = evaluation.get("score")?;
    let criteria = s.get("criteria")?.as_array()?;
    let scored: Vec<&serde_json::Map<String, Value>> = reviewers
        .into_iter()
        .filter_map(Value::as_object)
        .filter(|m| !m.is_empty())
        .collect();
    let mut lines = Vec::with_capacity(criteria.len());
    for c in criteria {
        let id = c.get("id").and_then(Value::as_str).unwrap_or_default();
        let by_reviewers = c.get("assessed").and_then(Value::as_str) == Some("reviewer");
        let points = if by_reviewers {
            let given: Vec<Decimal> = scored
                .iter()
                .filter_map(|m| m.get(id).and_then(decimal))
                .collect();
            (!given.is_empty())
                .then(|| (given.iter().sum::<Decimal>() / Decimal::from(given.len())).round_dp(1))
        } else {
            c.get("points").and_then(decimal)
        };
        lines.push(StandingLine {
            id: id.to_string(),
            label: c
                .get("label")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            points,
            max: c.get("max").and_then(decimal).unwrap_or_default(),
            by_reviewers,
        });
    }
    Some(Standing {
        total: lines.iter().filter_map(|l| l.points).sum(),
        out_of: s.get("total").and_then(decimal).unwrap_or_default(),
        lines,
        opinions: scored.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn evaluation() -> Value {
        json!({"score": {"points": "10", "total": "50", "criteria": [
            {"id": "auto", "label": "Automatique", "max": "20", "points": "10", "assessed": "automatic"},
            {"id": "qualite", "label": "Qualité", "max": "30", "points": null, "assessed": "reviewer"},
        ]}})
    }

    #[test]
    fn reviewers_are_averaged_and_added_to_the_automatic_points() {
        let a = json!({"qualite": 20});
        let b = json!({"qualite": "25"});
        let s = standing(&evaluation(), [&a, &b]).unwrap();
        assert_eq!(s.lines[0].points, Some(Decimal::from(10)));
        assert_eq!(s.lines[1].points, Some(Decimal::new(225, 1)));
        assert_eq!(s.total, Decimal::new(325, 1));
        assert_eq!(s.out_of, Decimal::from(50));
        assert_eq!(s.opinions, 2);
        assert_eq!(s.out_of_100(), Decimal::from(65));
    }

    #[test]
    fn without_opinions_only_the_automatic_points_count() {
        let empty = json!({});
        let s = standing(&evaluation(), [&empty]).unwrap();
        assert_eq!(s.lines[1].points, None);
        assert_eq!(s.total, Decimal::from(10));
        assert_eq!(s.opinions, 0);
        assert_eq!(s.out_of_100(), Decimal::from(20));
    }

    #[test]
    fn a_grid_of_100_points_is_not_rescaled() {
        let mut e = evaluation();
        e["score"]["total"] = json!("100");
        let s = standing(&e, []).unwrap();
        assert_eq!(s.out_of_100(), s.total);
    }

    #[test]
    fn a_grid_without_points_is_not_rescaled_nor_divided_by_zero() {
        let mut e = evaluation();
        e["score"]["total"] = json!("0");
        let s = standing(&e, []).unwrap();
        assert_eq!(s.out_of_100(), Decimal::from(10));
    }

    #[test]
    fn an_evaluation_without_a_score_has_no_standing() {
        assert_eq!(standing(&json!({"outcome": "ineligible"}), []), None);
    }

    #[test]
    fn averages_round_to_one_decimal() {
        let a = json!({"qualite": 10});
        let b = json!({"qualite": 10});
        let c = json!({"qualite": 11});
        let s = standing(&evaluation(), [&a, &b, &c]).unwrap();
        assert_eq!(s.lines[1].points, Some(Decimal::new(103, 1)));
    }
}
