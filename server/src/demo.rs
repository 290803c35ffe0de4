//! The demonstration mode (`serve --demo`): trial accounts for every role kind the plans
//! declare, each member of staff holding their plan roles, a clock set where one of their calls
//! is open, and a banner on every page. All of it is derived from the plans served, so that
//! any plan can be demonstrated.

use jiff::civil::Date;
use jiff::{Timestamp, ToSpan as _};
use metroplan_engine::french::date_fr;
use metroplan_engine::model::RoleKind;

use crate::accounts::{self, AccountError, NewUser};
use crate::grants::Grant;
use crate::plans::Plans;
use crate::store::Db;

/// The password of every trial account (printed at start, shown in the banner).
pub const PASSWORD: &str = "demonstration";

/// The domain of trial accounts' emails (reserved: no mail can reach it).
pub const EMAIL_DOMAIN: &str = "demo.example";

/// A selection committee has several members: three, so that a quorum of two or three can be
/// tried. (Workflow v2 declares quorums in the plan; the count will come from there.)
const REVIEWERS: usize = 3;

/// Display names, in French, by role kind; reviewers take the next ones in turn.
const NAMES: &[(RoleKind, &[&str])] = &[
    (RoleKind::Applicant, &["Camille Durand"]),
    (RoleKind::Instructor, &["Inès Martin"]),
    (
        RoleKind::Reviewer,
        &[
            "Hugo Bernard",
            "Léa Petit",
            "Yanis Robert",
            "Chloé Richard",
            "Mehdi Dubois",
            "Manon Fournier",
        ],
    ),
    (
        RoleKind::Approver,
        &["Sophie Lefèvre", "Julien Roux", "Claire Lambert"],
    ),
    (RoleKind::Finance, &["Thomas Moreau"]),
    (RoleKind::Admin, &["Nadia Garnier"]),
];

/// A fictitious SIRET for the trial applicant (14 digits, as the forms want).
const APPLICANT_SIRET: &str = "00000000000018";

/// A trial account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoAccount {
    pub email: String,
    pub name: String,
    pub role: RoleKind,
    /// Staff: in each plan declaring roles of their kind, one of them (for every fund).
    pub grants: Vec<Grant>,
}

/// The trial accounts for `plans`: for each role kind some plan declares, in the order of
/// [`RoleKind::ALL`], as many accounts as a plan has roles of that kind (three reviewers at
/// least). The n-th member of staff of a kind holds, in each plan, the n-th role of that kind
/// (or its last), so that two levels of approval of one kind are two people: the first can
/// take the first level and not the second.
pub fn accounts_for(plans: &Plans) -> Vec<DemoAccount> {
    let declared = |k: RoleKind| {
        plans
            .by_id
            .values()
            .any(|s| s.plan.roles.iter().any(|r| r.kind == Some(k)))
    };
    let mut out = Vec::new();
    for kind in RoleKind::ALL.into_iter().filter(|&k| declared(k)) {
        let names = NAMES
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or(&[][..], |(_, n)| *n);
        // Per plan, its roles of this kind, in the plan's order.
        let roles: Vec<(String, Vec<String>)> = plans
            .by_id
            .values()
            .map(|s| {
                let of_kind = s
                    .plan
                    .roles
                    .iter()
                    .filter(|r| r.kind == Some(kind))
                    .map(|r| r.id.to_string())
                    .collect::<Vec<_>>();
                (s.plan.id.to_string(), of_kind)
            })
            .filter(|(_, r)| !r.is_empty())
            .collect();
        let most = roles.iter().map(|(_, r)| r.len()).max().unwrap_or(1);
        let count = if kind == RoleKind::Reviewer {
            most.max(REVIEWERS)
        } else {
            most
        };
        for i in 0..count {
            let email = if count > 1 {
                format!("{}{}@{EMAIL_DOMAIN}", kind.name(), i + 1)
            } else {
                format!("{}@{EMAIL_DOMAIN}", kind.name())
            };
            let name = names.get(i).map_or_else(
                || match (kind, count) {
                    (RoleKind::Reviewer, _) => format!("Membre du comité {}", i + 1),
                    (_, 1) => kind.name().into(),
                    _ => format!("{} {}", kind.name(), i + 1),
                },
                |n| n.to_string(),
            );
            let grants = if kind == RoleKind::Applicant {
                Vec::new()
            } else {
                roles
                    .iter()
                    .map(|(plan, r)| Grant {
                        plan: plan.clone(),
                        fund: None,
                        role: r[i.min(r.len() - 1)].clone(),
                    })
                    .collect()
            };
            out.push(DemoAccount {
                email,
                name,
                role: kind,
                grants,
            });
        }
    }
    out
}

/// Creates the trial accounts that do not exist yet; an account already there (a second
/// start, or another process starting at the same time) is kept as it is.
pub async fn seed(
    db: &Db,
    plans: &Plans,
    now: Timestamp,
) -> Result<Vec<DemoAccount>, AccountError> {
    let wanted = accounts_for(plans);
    for a in &wanted {
        if accounts::find_by_email(db, &a.email).await?.is_some() {
            continue;
        }
        let created = accounts::create_user(
            db,
            NewUser {
                email: &a.email,
                name: &a.name,
                role: a.role,
                plan: None,
                fund: None,
                siret: (a.role == RoleKind::Applicant).then_some(APPLICANT_SIRET),
                password: PASSWORD,
                grants: &a.grants,
            },
            now,
        )
        .await;
        match created {
            Ok(_) | Err(AccountError::EmailTaken(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(wanted)
}

/// A call the demonstration can file to, and the instant the clock should read for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrialCall {
    pub plan: String,
    pub fund: String,
    pub year: i16,
    pub opens: Date,
    pub closes: Date,
    /// `None` when the call is open at the real date: the clock stays real.
    pub start_clock_at: Option<Timestamp>,
}

/// The first call (plans by id, funds and calls in the plan's order) open at `now` in its
/// plan's time zone; else the call that opened last, the clock set to the day after it
/// opened, at 10:00 (its closing day for a one-day call). `None` when no plan has a fund
/// anyone can file to.
pub fn trial_call(plans: &Plans, now: Timestamp) -> Option<TrialCall> {
    let mut latest: Option<(TrialCall, jiff::tz::TimeZone)> = None;
    for served in plans.by_id.values() {
        let today = now.to_zoned_datetime(served.tz.clone()).date();
        for fund in served.plan.funds.iter().filter(|f| f.keys.is_some()) {
            for c in &fund.calls {
                let call = TrialCall {
                    plan: served.plan.id.to_string(),
                    fund: fund.id.to_string(),
                    year: c.year,
                    opens: c.opens,
                    closes: c.closes,
                    start_clock_at: None,
                };
                if c.opens <= today && today <= c.closes {
                    return Some(call);
                }
                if latest.as_ref().is_none_or(|(l, _)| c.opens > l.opens) {
                    latest = Some((call, served.tz.clone()));
                }
            }
        }
    }
    let (mut call, tz) = latest?;
    let day = call
        .opens
        .checked_add(1.day())
        .ok()
        .filter(|d| *d <= call.closes)
        .unwrap_or(call.closes);
    call.start_clock_at = day
        .at(10, 0, 0, 0)
        .to_zoned_datetime(tz)
        .ok()
        .map(|z| z.timestamp());
    Some(call)
}

/// The banner every page shows in demonstration mode, with the date the server's clock
/// reads (not the real one, in a trial run).
pub fn banner(today: Date) -> String {
    format!(
        "Démonstration\u{a0}: données fictives, comptes d'essai (mot de passe «\u{a0}{PASSWORD}\u{a0}»), \
         rien de ce qui est saisi ici n'a de valeur. Date du serveur\u{a0}: {}.",
        date_fr(today)
    )
}
