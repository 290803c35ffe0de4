//! Plan roles held by people and services: a grant says that a principal takes one of a plan's
//! `[[role]]`s on that plan's files, of one fund or of every fund. Stored in `role_grants`,
//! keyed by the principal's stable id, so that an account's grants hold for its sessions and
//! every token made for it. A principal with no grant in a plan takes every role of its kind
//! there (what accounts did before plan roles).

use metroplan_engine::model::{Plan, RoleKind};
use sqlx::Row;

use crate::plans::Plans;
use crate::store::Db;

/// One plan role held in `plan`, for `fund` (`None`: every fund of the plan).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub plan: String,
    pub fund: Option<String>,
    pub role: String,
}

/// Why plan roles cannot be given to an account or token.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GrantError {
    #[error("--plan-role needs --plan: a plan role means nothing without its plan")]
    NoPlan,
    #[error("--plan: no plan `{plan}` is served (plans: {known})")]
    UnknownPlan { plan: String, known: String },
    #[error("--fund: plan `{plan}` has no fund `{fund}` (funds: {known})")]
    UnknownFund {
        plan: String,
        fund: String,
        known: String,
    },
    #[error("--plan-role: plan `{plan}` has no role `{role}`; {of_kind}")]
    UnknownRole {
        plan: String,
        role: String,
        of_kind: String,
    },
    #[error("--plan-role: role `{role}` of plan `{plan}` is {found}, not {kind}; {of_kind}")]
    WrongKind {
        plan: String,
        role: String,
        kind: &'static str,
        found: String,
        of_kind: String,
    },
}

/// The plan's roles of `kind`, for a message.
fn roles_of_kind(plan: &Plan, kind: RoleKind) -> String {
    let ids: Vec<String> = plan
        .roles
        .iter()
        .filter(|r| r.kind == Some(kind))
        .map(|r| format!("`{}`", r.id))
        .collect();
    if ids.is_empty() {
        format!("it declares no role of kind {}", kind.name())
    } else {
        format!("its roles of kind {}: {}", kind.name(), ids.join(", "))
    }
}

/// The grants of `roles` in `plan` (and `fund`) for an account or token of `kind`, each role
/// checked against the plan: it exists and has that kind. Repeated roles count once.
pub fn check(
    plans: &Plans,
    kind: RoleKind,
    plan: Option<&str>,
    fund: Option<&str>,
    roles: &[String],
) -> Result<Vec<Grant>, GrantError> {
    if roles.is_empty() {
        return Ok(Vec::new());
    }
    let Some(plan) = plan else {
        return Err(GrantError::NoPlan);
    };
    let Some(served) = plans.get(plan) else {
        return Err(GrantError::UnknownPlan {
            plan: plan.to_string(),
            known: plans.by_id.keys().cloned().collect::<Vec<_>>().join(", "),
        });
    };
    let p = &served.plan;
    if let Some(f) = fund
        && p.fund(f).is_none()
    {
        return Err(GrantError::UnknownFund {
            plan: plan.to_string(),
            fund: f.to_string(),
            known: p
                .funds
                .iter()
                .map(|f| f.id.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    let mut out: Vec<Grant> = Vec::new();
    for role in roles {
        let Some(r) = p.role(role) else {
            return Err(GrantError::UnknownRole {
                plan: plan.to_string(),
                role: role.clone(),
                of_kind: roles_of_kind(p, kind),
            });
        };
        if r.kind != Some(kind) {
            return Err(GrantError::WrongKind {
                plan: plan.to_string(),
                role: role.clone(),
                kind: kind.name(),
                found: r
                    .kind
                    .map_or_else(|| "of no kind".into(), |k| format!("of kind {}", k.name())),
                of_kind: roles_of_kind(p, kind),
            });
        }
        let g = Grant {
            plan: plan.to_string(),
            fund: fund.map(str::to_string),
            role: role.clone(),
        };
        if !out.contains(&g) {
            out.push(g);
        }
    }
    Ok(out)
}

/// Stores `grants` for `principal` on `conn` (the transaction that creates the principal).
pub async fn insert(
    conn: &mut sqlx::AnyConnection,
    principal: &str,
    grants: &[Grant],
    now: &str,
) -> Result<(), sqlx::Error> {
    for g in grants {
        sqlx::query(
            "INSERT INTO role_grants (principal, plan, fund, role, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(principal)
        .bind(&g.plan)
        .bind(&g.fund)
        .bind(&g.role)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The grants `principal` holds, in a stable order.
pub async fn of(db: &Db, principal: &str) -> Result<Vec<Grant>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT plan, fund, role FROM role_grants WHERE principal = $1 ORDER BY plan, fund, role",
    )
    .bind(principal)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Grant {
                plan: r.try_get("plan")?,
                fund: r.try_get("fund")?,
                role: r.try_get("role")?,
            })
        })
        .collect()
}

/// The roles of `grants` that apply to a file of (`plan`, `fund`). Empty when none is for that
/// plan: the principal then takes every role of its kind, as the engine's `Actor` says.
pub fn roles_in(grants: &[Grant], plan: &str, fund: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for g in grants
        .iter()
        .filter(|g| g.plan == plan && g.fund.as_deref().is_none_or(|f| f == fund))
    {
        if !out.contains(&g.role) {
            out.push(g.role.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(plan: &str, fund: Option<&str>, role: &str) -> Grant {
        Grant {
            plan: plan.into(),
            fund: fund.map(Into::into),
            role: role.into(),
        }
    }

    #[test]
    fn the_roles_of_a_file_are_the_grants_of_its_plan_for_its_fund_or_every_fund() {
        let grants = [
            grant("plan-a", None, "premier-niveau"),
            grant("plan-a", Some("fonds-1"), "second-niveau"),
            grant("plan-a", Some("fonds-2"), "autre"),
            grant("plan-b", None, "decideur"),
            grant("plan-b", Some("fonds-1"), "decideur"),
        ];
        let cases: &[(&str, &str, &[&str])] = &[
            ("plan-a", "fonds-1", &["premier-niveau", "second-niveau"]),
            ("plan-a", "fonds-2", &["premier-niveau", "autre"]),
            ("plan-a", "fonds-3", &["premier-niveau"]),
            ("plan-b", "fonds-1", &["decideur"]),
            ("plan-c", "fonds-1", &[]),
        ];
        for (plan, fund, want) in cases {
            assert_eq!(roles_in(&grants, plan, fund), *want, "{plan}/{fund}");
        }
    }
}
