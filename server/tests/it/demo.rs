//! The demonstration mode (`serve --demo`): trial accounts for every role kind the plans
//! declare, seeded once however often the server starts; a trial date where a call is open,
//! derived from the plans; and the banner on every page, only in that mode.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::http::{Method, StatusCode};
use metroplan_engine::model::RoleKind;
use metroplan_server::{accounts, demo};

use crate::page_matrix::declared_routes;
use crate::support::*;
use crate::web::{Browser, csrf_of, filed_by};

const OPEN: &str = "2021-03-01T10:00:00+01:00";

/// A browser signed in as a trial account, with the password the demonstration publishes.
async fn signed_in(app: &axum::Router, email: &str) -> Browser {
    let mut b = Browser::new(app.clone());
    let page = b.get("/connexion").await.text;
    let r = b
        .send(
            Method::POST,
            "/connexion",
            Some(&[
                ("_csrf", csrf_of(&page).as_str()),
                ("email", email),
                ("password", demo::PASSWORD),
            ]),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{email} signs in");
    b
}

#[tokio::test]
async fn demo_seeding_creates_one_account_per_declared_role_kind_and_a_second_start_changes_nothing()
 {
    let env = Env::new(OPEN).await;
    let plans = env.plans.current();
    let now = jiff::Timestamp::now();
    let seeded = demo::seed(&env.db, &plans, now).await.expect("seed");
    let declared: BTreeSet<&str> = plans
        .by_id
        .values()
        .flat_map(|s| s.plan.roles.iter().filter_map(|r| r.kind))
        .map(RoleKind::name)
        .collect();
    let kinds: BTreeSet<&str> = seeded.iter().map(|a| a.role.name()).collect();
    assert_eq!(
        kinds, declared,
        "one kind of account per role kind declared"
    );
    let reviewers = seeded
        .iter()
        .filter(|a| a.role == RoleKind::Reviewer)
        .count();
    assert!(reviewers >= 3, "a committee: {reviewers} reviewers");

    let users = accounts::all_users(&env.db).await.unwrap();
    assert_eq!(users.len(), seeded.len());
    for a in &seeded {
        let u = users
            .iter()
            .find(|u| u.email == a.email)
            .unwrap_or_else(|| panic!("{} not created", a.email));
        assert_eq!((u.role, u.name.as_str()), (a.role, a.name.as_str()));
        assert_eq!(u.fund, None, "{}: every fund", a.email);
    }
    // Display names are people's names as French pages write them, not identifiers.
    assert!(
        seeded
            .iter()
            .any(|a| a.name.contains('è') || a.name.contains('é')),
        "{seeded:?}"
    );
    assert!(seeded.iter().all(|a| !a.name.contains('@')), "{seeded:?}");

    // A second start (and a third) creates nothing and fails on nothing.
    let ids: Vec<String> = users.iter().map(|u| u.id.clone()).collect();
    for _ in 0..2 {
        let again = demo::seed(&env.db, &plans, now).await.expect("seed again");
        assert_eq!(again, seeded);
    }
    let after: Vec<String> = accounts::all_users(&env.db)
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.id)
        .collect();
    assert_eq!(after, ids, "the same accounts, none added");

    // Each trial account signs in with the published password.
    for a in &seeded {
        signed_in(&env.app, &a.email).await;
    }
}

/// Whatever the plans, the trial date lies in a call of a fund one can file to: the one open
/// on the real date if any, else the latest call, the day after it opened.
#[tokio::test]
async fn the_trial_date_is_in_an_open_call_derived_from_the_plans() {
    let env = Env::new(OPEN).await;
    let plans = env.plans.current();
    let calls: Vec<(String, String, jiff::civil::Date, jiff::civil::Date)> = plans
        .by_id
        .values()
        .flat_map(|s| {
            s.plan
                .funds
                .iter()
                .filter(|f| f.keys.is_some())
                .flat_map(move |f| {
                    f.calls
                        .iter()
                        .map(move |c| (s.plan.id.to_string(), f.id.to_string(), c.opens, c.closes))
                })
        })
        .collect();
    assert!(!calls.is_empty());
    let open_on = |plan: &str, t: jiff::Timestamp| {
        let tz = &plans.get(plan).unwrap().tz;
        t.to_zoned_datetime(tz.clone()).date()
    };

    // After every call: the latest one, a day after it opened, in the morning.
    let later = jiff::Timestamp::from_second(4_102_444_800).unwrap(); // 2100-01-01
    let t = demo::trial_call(&plans, later).expect("a call");
    let at = t.start_clock_at.expect("the clock is moved");
    let day = open_on(&t.plan, at);
    assert!(t.opens < day && day <= t.closes, "{t:?}: {day}");
    let latest = calls.iter().map(|c| c.2).max().unwrap();
    assert_eq!(t.opens, latest, "{t:?}");
    assert!(
        calls
            .iter()
            .any(|c| (c.0.as_str(), c.1.as_str(), c.2, c.3)
                == (&*t.plan, &*t.fund, t.opens, t.closes))
    );

    // On a date inside a call: that call, and the clock stays real.
    let (plan, _, opens, _) = &calls[0];
    let inside = opens
        .checked_add(jiff::ToSpan::days(3))
        .unwrap()
        .at(12, 0, 0, 0)
        .to_zoned_datetime(plans.get(plan).unwrap().tz.clone())
        .unwrap()
        .timestamp();
    let t = demo::trial_call(&plans, inside).expect("a call");
    assert_eq!(t.start_clock_at, None, "{t:?}");
    let day = open_on(&t.plan, inside);
    assert!(t.opens <= day && day <= t.closes, "{t:?}: {day}");
}

/// The banner, as the pages write it.
const BANNER: &str = "Démonstration\u{a0}: données fictives, comptes d'essai";

#[tokio::test]
async fn in_demo_mode_every_page_shows_the_banner_and_otherwise_none_does() {
    let env = Env::new(OPEN).await;
    let mut state = env.state.clone();
    let mut config = (*state.config).clone();
    config.demo = true;
    state.config = Arc::new(config);
    let demo_app = metroplan_server::app(state);
    let seeded = demo::seed(&env.db, &env.plans.current(), jiff::Timestamp::now())
        .await
        .unwrap();
    let applicant = accounts::find_by_email(&env.db, &seeded[0].email)
        .await
        .unwrap()
        .unwrap();
    let admin = seeded.iter().find(|a| a.role == RoleKind::Admin).unwrap();
    let id = filed_by(&env, &applicant).await;

    let mut pages = 0;
    for (demo, app) in [(true, demo_app), (false, env.app.clone())] {
        let mut stranger = Browser::new(app.clone());
        let mut signed = Vec::new();
        for email in [applicant.email.as_str(), admin.email.as_str()] {
            signed.push(signed_in(&app, email).await);
        }
        let mut uris: Vec<String> = declared_routes()
            .into_iter()
            .filter(|(m, _)| m == "GET")
            .map(|(_, t)| {
                t.replace("{plan}", PLAN)
                    .replace("{fund}", FUND)
                    .replace("{id}", &id)
                    .replace("{kind}", "rib")
            })
            .collect();
        // Error pages are pages too.
        uris.push("/plans/no-such-plan".into());
        uris.push("/dossiers/no-such-file".into());
        for uri in &uris {
            for (who, b) in std::iter::once(("stranger", &mut stranger))
                .chain(["applicant", "admin"].into_iter().zip(signed.iter_mut()))
            {
                let r = b.get(uri).await;
                let html = r
                    .headers
                    .get("content-type")
                    .is_some_and(|t| t.to_str().unwrap().starts_with("text/html"));
                if !html {
                    continue;
                }
                pages += 1;
                assert_eq!(
                    r.text.contains(BANNER),
                    demo,
                    "GET {uri} as {who} ({}), demo mode {demo}:\n{}",
                    r.status,
                    r.text
                );
                if demo {
                    assert!(
                        r.text.contains("Date du serveur\u{a0}: 1er mars 2021."),
                        "{uri}"
                    );
                }
            }
        }
    }
    assert!(pages > 40, "{pages} pages seen");
}

#[tokio::test]
async fn the_demo_banner_gives_the_day_in_the_plans_time_zone_not_utc() {
    // 00:30 in Marseille is still the day before in UTC.
    let env = Env::new("2021-03-01T00:30:00+01:00").await;
    let mut state = env.state.clone();
    let mut config = (*state.config).clone();
    config.demo = true;
    state.config = Arc::new(config);
    let mut visitor = Browser::new(metroplan_server::app(state));
    let page = visitor.get("/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("1er mars 2021"), "{}", page.text);
    assert!(!page.text.contains("28 février 2021"), "{}", page.text);
}
