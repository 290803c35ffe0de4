//! Random sequences of workflow actions, by random people with random inputs, while the clock
//! moves forward and the timers fire, never break the invariants: per fund and year, what the
//! ledger row holds is the sum of the append-only entries and the commitments stay within the
//! envelope; per file, nothing is paid beyond what is committed, nothing reclaimed beyond
//! what was paid, the file's amounts are its entries' sums; every separation of duties the
//! plan declares holds and the filer takes no staff step; every timer due has fired; no
//! request is a 5xx, and the audit chain stays valid. Seeds are fixed, so a failure replays
//! exactly.

use std::collections::{BTreeMap, BTreeSet};

use axum::Router;
use axum::http::{Method, StatusCode};
use jiff::{SignedDuration, Timestamp};
use metroplan_engine::model::RoleKind;
use serde_json::{Value, json};
use sqlx::Row;

use crate::support::*;

const OPEN: &str = "2021-03-01T09:00:00Z";
/// How far the clock moves over one walk, at most.
const MAX_DAYS: i64 = 400;
const PIECES: [&str; 4] = [
    "budget_previsionnel",
    "rib",
    "statuts",
    "attestation_regularite",
];

/// xorshift64*: small, seeded, good enough to pick actions.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Cents as the API writes euros: `"1234.05"`, `"-0.01"`.
fn euros(c: i64) -> String {
    let sign = if c < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", c.abs() / 100, c.abs() % 100)
}

/// A workflow action with the file's current ETag, on the router of the walk's current time.
async fn act(app: &Router, id: &str, action: &str, token: &str, body: Value) -> Res {
    let current = call_json(
        app,
        Method::GET,
        &format!("/api/applications/{id}"),
        Some(token),
        &[],
        None,
    )
    .await;
    assert!(
        !current.status.is_server_error(),
        "reading {id}: {} {}",
        current.status,
        current.text
    );
    let etag = current
        .headers
        .get("etag")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_else(|| "\"v0\"".into());
    call_json(
        app,
        Method::POST,
        &format!("/api/applications/{id}/actions/{action}"),
        Some(token),
        &[("if-match", &etag)],
        Some(body),
    )
    .await
}

/// One piece uploaded to the file, on the router of the walk's current time.
async fn upload(app: &Router, id: &str, kind: &str, token: &str) -> Res {
    let boundary = "XmetroplanX";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"piece.pdf\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(PDF);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    call(
        app,
        Method::POST,
        &format!("/api/applications/{id}/documents/{kind}"),
        Some(token),
        &[],
        Some(body),
        &format!("multipart/form-data; boundary={boundary}"),
    )
    .await
}

const SUMS: &str = "CAST(COALESCE(SUM(CASE WHEN kind = 'commit' THEN cents ELSE 0 END), 0) AS BIGINT) AS commits, \
     CAST(COALESCE(SUM(CASE WHEN kind = 'decommit' THEN cents ELSE 0 END), 0) AS BIGINT) AS decommits, \
     CAST(COALESCE(SUM(CASE WHEN kind = 'payment' THEN cents ELSE 0 END), 0) AS BIGINT) AS payments, \
     CAST(COALESCE(SUM(CASE WHEN kind = 'reclaim' THEN cents ELSE 0 END), 0) AS BIGINT) AS reclaims";

/// Sums of ledger entries, in cents.
#[derive(Debug, Default, Clone, Copy)]
struct Sums {
    commits: i64,
    decommits: i64,
    payments: i64,
    reclaims: i64,
}

impl Sums {
    fn of(r: &sqlx::any::AnyRow) -> Sums {
        Sums {
            commits: r.try_get("commits").unwrap(),
            decommits: r.try_get("decommits").unwrap(),
            payments: r.try_get("payments").unwrap(),
            reclaims: r.try_get("reclaims").unwrap(),
        }
    }

    fn committed(&self) -> i64 {
        self.commits - self.decommits
    }
}

async fn file_sums(env: &Env, id: &str) -> Sums {
    let r = sqlx::query(&format!(
        "SELECT {SUMS} FROM ledger_entries WHERE application_id = $1"
    ))
    .bind(id)
    .fetch_one(&env.db.pool)
    .await
    .unwrap();
    Sums::of(&r)
}

/// The ledger entries so far, in order: they are only ever appended to.
type Entries = Vec<(i64, String, String, i64)>;

async fn entries(env: &Env) -> Entries {
    sqlx::query("SELECT CAST(id AS BIGINT) AS id, application_id, kind, CAST(cents AS BIGINT) AS cents FROM ledger_entries ORDER BY id")
        .fetch_all(&env.db.pool)
        .await
        .unwrap()
        .iter()
        .map(|r| {
            (
                r.try_get("id").unwrap(),
                r.try_get("application_id").unwrap(),
                r.try_get("kind").unwrap(),
                r.try_get("cents").unwrap(),
            )
        })
        .collect()
}

/// The envelope of `year` of the fund, as the plan declares it, in cents.
fn envelope_cents(env: &Env, plan: &str, fund: &str, year: i64) -> i64 {
    let served = env.plans.get(plan).expect("a served plan");
    let f = served.plan.fund(fund).expect("a fund of the plan");
    let envelope = jiff::civil::Date::new(year as i16, 1, 1)
        .ok()
        .and_then(|d| f.envelope.at(d))
        .map(|d| d.value)
        .unwrap_or_default();
    i64::try_from((envelope * rust_decimal::Decimal::from(100)).trunc()).expect("cents")
}

async fn check_invariants(env: &Env, at: &str, seen: &mut Entries) {
    let pool = &env.db.pool;
    let plans = env.plans.current();

    // The entries are appended to, never changed or removed.
    let now = entries(env).await;
    assert!(
        now.len() >= seen.len() && now[..seen.len()] == seen[..],
        "{at}: ledger entries changed or removed: {seen:?} then {now:?}"
    );
    *seen = now;

    // Per fund and year: the ledger row is the entries' sums, within the envelope.
    // (plan, fund, year) → the entries' sums, the ledger row's (committed, paid).
    type Years = BTreeMap<(String, String, i64), (Sums, Option<(i64, i64)>)>;
    let mut years = Years::new();
    for r in sqlx::query(&format!(
        "SELECT plan, fund, CAST(year AS BIGINT) AS year, {SUMS} FROM ledger_entries GROUP BY plan, fund, year"
    ))
    .fetch_all(pool)
    .await
    .unwrap()
    {
        let k = (
            r.try_get("plan").unwrap(),
            r.try_get("fund").unwrap(),
            r.try_get("year").unwrap(),
        );
        years.entry(k).or_default().0 = Sums::of(&r);
    }
    for r in sqlx::query(
        "SELECT plan, fund, CAST(year AS BIGINT) AS year, CAST(committed_cents AS BIGINT) AS c, CAST(paid_cents AS BIGINT) AS p FROM ledger",
    )
    .fetch_all(pool)
    .await
    .unwrap()
    {
        let k = (
            r.try_get("plan").unwrap(),
            r.try_get("fund").unwrap(),
            r.try_get("year").unwrap(),
        );
        years.entry(k).or_default().1 = Some((r.try_get("c").unwrap(), r.try_get("p").unwrap()));
    }
    for ((plan, fund, year), (sums, row)) in &years {
        let (committed, paid) = row.unwrap_or_else(|| {
            panic!("{at}: entries of {plan}/{fund}/{year} without a ledger row")
        });
        assert_eq!(
            committed,
            sums.committed(),
            "{at}: {plan}/{fund}/{year}: the ledger's committed total is not Σ commit − Σ decommit of its entries ({sums:?})"
        );
        assert_eq!(
            paid, sums.payments,
            "{at}: {plan}/{fund}/{year}: the ledger's paid total is not Σ payment of its entries ({sums:?})"
        );
        let envelope_cents = envelope_cents(env, plan, fund, *year);
        assert!(
            0 <= committed && committed <= envelope_cents,
            "{at}: {plan}/{fund}/{year}: {committed} cents committed, envelope {envelope_cents}"
        );
    }

    // Per file: paid within what is committed, reclaimed within what was paid, the file's
    // amounts equal to its entries' sums; the separations of duties and the filer's exclusion.
    let apps = sqlx::query(
        "SELECT id, plan, fund, owner_id, applicant_key, CAST(awarded_cents AS BIGINT) AS awarded, CAST(paid_cents AS BIGINT) AS paid FROM applications",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    for a in &apps {
        let id: String = a.try_get("id").unwrap();
        let plan: String = a.try_get("plan").unwrap();
        let fund: String = a.try_get("fund").unwrap();
        let owner: String = a.try_get("owner_id").unwrap();
        let key: Option<String> = a.try_get("applicant_key").unwrap();
        let awarded: Option<i64> = a.try_get("awarded").unwrap();
        let paid: i64 = a.try_get("paid").unwrap();
        let s = file_sums(env, &id).await;
        assert!(
            0 <= s.payments && s.payments <= s.committed(),
            "{at}: {id}: paid {} beyond committed − released {} ({s:?})",
            s.payments,
            s.committed()
        );
        assert!(
            s.reclaims <= s.payments,
            "{at}: {id}: {} reclaimed of {} paid",
            s.reclaims,
            s.payments
        );
        assert_eq!(
            awarded.unwrap_or(0),
            s.committed(),
            "{at}: {id}: awarded_cents {awarded:?} is not its entries' committed sum ({s:?})"
        );
        assert_eq!(
            awarded.is_some(),
            s.commits > 0,
            "{at}: {id}: awarded_cents {awarded:?} with {} cents ever committed",
            s.commits
        );
        assert_eq!(
            paid, s.payments,
            "{at}: {id}: paid_cents {paid} is not its entries' payments ({s:?})"
        );

        // Whoever holds the file's applicant key, by binding or by their account's SIRET, and
        // the account that filed.
        let mut filers: BTreeSet<String> = sqlx::query(
            "SELECT principal_id AS who FROM applicant_keys WHERE plan = $1 AND fund = $2 AND key = $3 \
             UNION SELECT 'user:' || id AS who FROM users WHERE siret = $3",
        )
        .bind(&plan)
        .bind(&fund)
        .bind(&key)
        .fetch_all(pool)
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get("who").unwrap())
        .collect();
        filers.insert(owner);
        let served = plans.get(&plan).expect("the file's plan is served");
        let f = served.plan.fund(&fund).expect("the file's fund");
        let wf = served.plan.workflow(f.workflow.as_str()).unwrap();
        let events = sqlx::query(
            "SELECT action, actor, role FROM events WHERE application_id = $1 ORDER BY seq",
        )
        .bind(&id)
        .fetch_all(pool)
        .await
        .unwrap();
        let mut earlier: Vec<(String, String)> = Vec::new();
        for e in &events {
            let action: String = e.try_get("action").unwrap();
            let actor: String = e.try_get("actor").unwrap();
            let role: String = e.try_get("role").unwrap();
            let staff = role != RoleKind::Applicant.name()
                && role != metroplan_engine::workflow::SYSTEM_ROLE;
            if staff {
                assert!(
                    !filers.contains(&actor),
                    "{at}: {id}: `{action}` taken by {actor}, who holds its applicant key ({filers:?})"
                );
            }
            if let Some(t) = wf.transitions.iter().find(|t| t.id.as_str() == action)
                && actor != metroplan_engine::workflow::SYSTEM_ROLE
            {
                for d in &t.distinct_from {
                    assert!(
                        !earlier
                            .iter()
                            .any(|(a, who)| a == d.as_str() && *who == actor),
                        "{at}: {id}: `{action}` taken by {actor}, who took `{d}` on it earlier (distinct_from)"
                    );
                }
            }
            earlier.push((action, actor));
        }
    }
}

/// After the timers ran at `today`: none that was due is left undone.
async fn check_timers_fired(env: &Env, at: &str, today: &str) {
    let left: Vec<String> = sqlx::query(
        "SELECT application_id || ' ' || kind || ' ' || name || ' ' || due_on AS v FROM timers WHERE done_at IS NULL AND due_on <= $1",
    )
    .bind(today)
    .fetch_all(&env.db.pool)
    .await
    .unwrap()
    .iter()
    .map(|r| r.try_get("v").unwrap())
    .collect();
    assert!(
        left.is_empty(),
        "{at}: timers due by {today} and not fired: {left:?}"
    );
}

/// An amount near one of the caps that apply to `action` on a file: sometimes just at it,
/// sometimes a cent over or under, sometimes a part of it; sometimes none or a malformed one.
fn amount_for(
    rng: &mut Rng,
    action: &str,
    s: Sums,
    requested: i64,
    remaining: i64,
) -> Option<Value> {
    let unpaid = s.committed() - s.payments;
    let caps: Vec<i64> = match action {
        "attribuer" => vec![requested, remaining, 1_000_000, requested / 2],
        "verser-avance" => vec![s.committed() / 2 - s.payments],
        "verser-solde" | "reduire" => vec![unpaid],
        "demander-reversement" => vec![s.payments - s.reclaims, s.payments / 3],
        _ => vec![requested],
    };
    match rng.below(12) {
        0 => None,
        1 => Some(json!(
            rng.pick(&["-5", "abc", "0", "12.345", "0.00", "1e3"][..])
                .to_string()
        )),
        2 => Some(json!(*rng.pick(&caps) as f64 / 100.0)),
        n => {
            let cap = *rng.pick(&caps);
            let c = match n {
                3..=5 => cap,
                6 | 7 => cap + 1,
                8 => cap - 1,
                9 => cap / 2,
                10 => 1,
                _ => cap + 10_000,
            };
            Some(json!(euros(c)))
        }
    }
}

/// The body of `action`: what it takes, with inputs that sometimes pass and sometimes fail.
fn body_for(rng: &mut Rng, action: &str, s: Sums, requested: i64, remaining: i64) -> Value {
    let mut body = json!({});
    let money = matches!(
        action,
        "attribuer"
            | "proposer-decision"
            | "verser-avance"
            | "verser-solde"
            | "reduire"
            | "demander-reversement"
    );
    if (money || rng.one_in(8))
        && let Some(a) = amount_for(rng, action, s, requested, remaining)
    {
        body["amount"] = a;
    }
    let wants_reason = matches!(
        action,
        "reduire" | "demander-reversement" | "refuser" | "classer-sans-suite"
    );
    if rng.below(3) < if wants_reason { 2 } else { 1 } {
        body["reason"] = json!(if rng.one_in(6) { "  " } else { "motif" });
    }
    if action == "donner-avis" {
        match rng.below(10) {
            0 => {}
            1 | 2 => body["linked"] = json!(true),
            _ => body["linked"] = json!(false),
        }
        match rng.below(10) {
            0 => {}
            1..=5 => body["favourable"] = json!(true),
            _ => body["favourable"] = json!(false),
        }
        match rng.below(10) {
            0 => {}
            1 => body["opinion"] = json!(" "),
            _ => body["opinion"] = json!("avis"),
        }
        if rng.one_in(2) {
            body["scores"] = json!({"diagnostic": rng.below(25), "innovation": rng.below(20)});
        }
    }
    if action == "signer-convention" || rng.one_in(10) {
        match rng.below(4) {
            0 => {}
            1 => body["signed_on"] = json!("2030-01-01"),
            _ => body["signed_on"] = json!("2021-03-01"),
        }
    }
    if rng.one_in(40) {
        body["bogus"] = json!(1);
    }
    body
}

/// What one walk did, for the coverage check over the fixed seeds.
#[derive(Debug, Default)]
struct Walked {
    /// Transitions taken (events of the files), timers and automatic steps included.
    actions: BTreeSet<String>,
    /// Kinds of ledger entries written.
    entries: BTreeSet<String>,
    /// The workflow's transitions.
    transitions: Vec<String>,
    days: i64,
}

async fn distinct(env: &Env, sql: &str) -> BTreeSet<String> {
    sqlx::query(sql)
        .fetch_all(&env.db.pool)
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get("v").unwrap())
        .collect()
}

async fn run(seed: u64, steps: usize) -> Walked {
    let env = Env::new(OPEN).await;
    let mut rng = Rng(seed);
    let mut now: Timestamp = OPEN.parse().unwrap();
    let mut app = env.at(&now.to_string());
    let mut days = 0;
    // The third applicant is also on the staff: an approver account with her SIRET.
    const STAFF_SIRET: &str = "81234567809999";
    let asso_c = env
        .account("asso-c@example.org", RoleKind::Applicant, Some(STAFF_SIRET))
        .await;
    let elue_c = env
        .account("elue-c@example.org", RoleKind::Approver, Some(STAFF_SIRET))
        .await;
    // One person with four role kinds: the separations of duties are hers to break.
    let poly = env
        .account("polyvalente@example.org", RoleKind::Instructor, None)
        .await;
    let applicants = [
        env.token("asso-a", RoleKind::Applicant).await,
        env.token("asso-b", RoleKind::Applicant).await,
        env.token_of(&asso_c).await,
    ];
    let staff: Vec<(RoleKind, String)> = vec![
        (
            RoleKind::Instructor,
            env.token("instr-1", RoleKind::Instructor).await,
        ),
        (
            RoleKind::Instructor,
            env.token("instr-2", RoleKind::Instructor).await,
        ),
        (
            RoleKind::Reviewer,
            env.token("membre-1", RoleKind::Reviewer).await,
        ),
        (
            RoleKind::Reviewer,
            env.token("membre-2", RoleKind::Reviewer).await,
        ),
        (
            RoleKind::Reviewer,
            env.token("membre-3", RoleKind::Reviewer).await,
        ),
        (
            RoleKind::Approver,
            env.token("elue-1", RoleKind::Approver).await,
        ),
        (
            RoleKind::Approver,
            env.token("elue-2", RoleKind::Approver).await,
        ),
        (
            RoleKind::Finance,
            env.token("finances", RoleKind::Finance).await,
        ),
        (RoleKind::Approver, env.token_of(&elue_c).await),
        (RoleKind::Instructor, env.token_of(&poly).await),
        (
            RoleKind::Reviewer,
            env.token_of_as(&poly, RoleKind::Reviewer).await,
        ),
        (
            RoleKind::Approver,
            env.token_of_as(&poly, RoleKind::Approver).await,
        ),
        (
            RoleKind::Finance,
            env.token_of_as(&poly, RoleKind::Finance).await,
        ),
    ];
    let mut apps: Vec<(String, usize)> = Vec::new();
    for i in 0..10 {
        // One filing per SIRET per call: the staff member's association files once.
        let (owner, siret) = if i == 0 {
            (2, STAFF_SIRET.to_string())
        } else {
            (rng.below(2), format!("8123456780{i:04}"))
        };
        let amount = 1000 + (rng.below(90) as u32) * 100;
        let mut data = application_of(&siret, amount);
        data["project"]["ends_on"] =
            json!(*rng.pick(&["2021-05-31", "2021-07-31", "2021-12-15"][..]));
        let id = if i % 4 == 3 {
            // Filed without its pieces: incomplete; the walk may upload them and complete it
            // in time, or the deadline passes. One of them asks for less than the minimum: it
            // is ineligible whatever its pieces.
            if i == 7 {
                data["project"]["requested_amount"] = json!(500);
            }
            let r = env.file(&applicants[owner], data).await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
            let expected = if i == 7 { "irrecevable" } else { "incomplet" };
            assert_eq!(r.body["state"], expected, "{}", r.text);
            r.body["id"].as_str().unwrap().to_string()
        } else {
            env.eligible(&applicants[owner], data).await
        };
        apps.push((id, owner));
    }
    // And a draft, which its applicant may file or delete.
    let draft = env
        .draft(&applicants[0], application_of("81234567800042", 4000))
        .await;
    assert_eq!(draft.status, StatusCode::CREATED, "{}", draft.body);
    assert_eq!(draft.body["state"], "brouillon", "{}", draft.body);
    apps.push((draft.body["id"].as_str().unwrap().to_string(), 0));
    let served = env.plans.get(PLAN).unwrap();
    let fund = served.plan.fund(FUND).unwrap();
    let wf = served.plan.workflow(fund.workflow.as_str()).unwrap();
    // (transition, the states it leaves, the role kind that takes it, whether it ends the file)
    type Step = (String, Vec<String>, Option<RoleKind>, bool);
    let transitions: Vec<Step> = wf
        .transitions
        .iter()
        .map(|t| {
            let ends = wf.states.iter().any(|st| st.id == t.to && st.terminal);
            // Closing a paid file is its normal end; the walk's one draft is as likely
            // deleted as filed.
            (
                t.id.to_string(),
                t.from.iter().map(|f| f.to_string()).collect(),
                served.plan.role_kind_of(t),
                ends && !matches!(
                    t.id.as_str(),
                    "cloturer" | "constater-reversement" | "supprimer-brouillon"
                ),
            )
        })
        .collect();
    let terminal: Vec<&str> = wf
        .states
        .iter()
        .filter(|s| s.terminal)
        .map(|s| s.id.as_str())
        .collect();
    let mut seen = Entries::new();
    let mut taken = 0;
    for step in 0..steps {
        let at = format!("seed {seed} step {step} ({now})");
        // The clock moves forward now and then, and the timers due fire as a server started
        // then would run them; the requests that follow are at the new time.
        if days < MAX_DAYS && rng.one_in(10) {
            // Days, then weeks, then months: files get through instruction before the
            // implicit rejection (2 months), and time reaches the final reports' limits.
            let d = (1 + rng.below(3 + days as usize / 10) as i64).min(MAX_DAYS - days);
            days += d;
            now = now.checked_add(SignedDuration::from_hours(24 * d)).unwrap();
            let at = format!("seed {seed} step {step} (+{d} days: {now})");
            env.ctx_at(&now.to_string())
                .run_timers()
                .await
                .unwrap_or_else(|e| panic!("{at}: the timers: {e}"));
            app = env.at(&now.to_string());
            check_timers_fired(&env, &at, &now.strftime("%Y-%m-%d").to_string()).await;
            check_invariants(&env, &at, &mut seen).await;
            continue;
        }
        // Mostly a file that is still open.
        let open_files: Vec<(String, usize, String)> = {
            let mut v = Vec::new();
            for (id, owner) in &apps {
                let state: String = sqlx::query("SELECT state FROM applications WHERE id = $1")
                    .bind(id)
                    .fetch_one(&env.db.pool)
                    .await
                    .unwrap()
                    .try_get("state")
                    .unwrap();
                v.push((id.clone(), *owner, state));
            }
            v
        };
        let alive: Vec<&(String, usize, String)> = open_files
            .iter()
            .filter(|f| !terminal.contains(&f.2.as_str()))
            .collect();
        let (id, owner, state) = if !alive.is_empty() && !rng.one_in(10) {
            (*rng.pick(&alive)).clone()
        } else {
            rng.pick(&open_files).clone()
        };
        // Pieces: the applicant uploads one where the state takes them.
        if metroplan_engine::workflow::accepts_pieces(wf, &state) && rng.one_in(3) {
            let who = if rng.one_in(8) {
                &applicants[(owner + 1) % applicants.len()]
            } else {
                &applicants[owner]
            };
            let kind = *rng.pick::<&str>(&PIECES);
            let r = upload(&app, &id, kind, who).await;
            assert!(
                !r.status.is_server_error(),
                "{at}: upload to {id}: {} {}",
                r.status,
                r.text
            );
            continue;
        }
        // The pieces a step from that state asks for (the final report's), by its applicant.
        let step_pieces: Vec<&str> = wf
            .transitions
            .iter()
            .filter(|t| t.from.iter().any(|f| f.as_str() == state))
            .flat_map(|t| t.pieces.iter().map(|p| p.id.as_str()))
            .collect();
        // Mostly all of them at once, sometimes one only (the step is then refused for the
        // others).
        if !step_pieces.is_empty() && rng.one_in(2) {
            let kinds = if rng.one_in(4) {
                vec![*rng.pick(&step_pieces)]
            } else {
                step_pieces
            };
            for kind in kinds {
                let r = upload(&app, &id, kind, &applicants[owner]).await;
                assert!(
                    !r.status.is_server_error(),
                    "{at}: step piece to {id}: {} {}",
                    r.status,
                    r.text
                );
            }
            continue;
        }
        // Mostly an action a person may take in that state, by someone of the right kind
        // (metroplan takes the automatic and timed ones); sometimes anything by anyone (the file's applicant, another applicant, any staff member).
        // Withdrawals and refusals end a file early: rarer, so that files get far.
        // The applicants of two files go silent once filed: those files wait for time (the
        // final report's limit, its reminder, the lapse).
        let silent = apps
            .iter()
            .position(|a| a.0 == id)
            .is_some_and(|i| i == 5 || i == 6);
        let open: Vec<&Step> = transitions
            .iter()
            .filter(|t| t.2.is_some() && t.1.contains(&state) && (!t.3 || rng.one_in(10)))
            .filter(|t| !silent || t.2 != Some(RoleKind::Applicant))
            .collect();
        let (action, kind) = if !open.is_empty() && rng.below(20) < 17 {
            let t = rng.pick(&open);
            (t.0.clone(), t.2)
        } else {
            let t = rng.pick(&transitions);
            (t.0.clone(), None)
        };
        let who = match kind {
            Some(RoleKind::Applicant) => applicants[owner].clone(),
            Some(k) => {
                let of_kind: Vec<&String> =
                    staff.iter().filter(|s| s.0 == k).map(|s| &s.1).collect();
                (*rng.pick(&of_kind)).clone()
            }
            None => match rng.below(10) {
                0 => applicants[owner].clone(),
                1 => applicants[(owner + 1) % applicants.len()].clone(),
                _ => rng.pick(&staff).1.clone(),
            },
        };
        let requested: i64 = sqlx::query(
            "SELECT CAST(COALESCE(requested_cents, 0) AS BIGINT) AS r FROM applications WHERE id = $1",
        )
        .bind(&id)
        .fetch_one(&env.db.pool)
        .await
        .unwrap()
        .try_get("r")
        .unwrap();
        let committed: i64 = sqlx::query(
            "SELECT CAST(COALESCE(SUM(committed_cents), 0) AS BIGINT) AS c FROM ledger WHERE year = 2021",
        )
        .fetch_one(&env.db.pool)
        .await
        .unwrap()
        .try_get("c")
        .unwrap();
        let s = file_sums(&env, &id).await;
        let body = body_for(
            &mut rng,
            &action,
            s,
            requested,
            envelope_cents(&env, PLAN, FUND, 2021) - committed,
        );
        let r = act(&app, &id, &action, &who, body.clone()).await;
        assert!(
            !r.status.is_server_error(),
            "{at}: {action} on {id} in {state} {body} → {} {}",
            r.status,
            r.text
        );
        if r.status == StatusCode::OK {
            taken += 1;
        } else {
            assert!(
                r.body.get("type").is_some(),
                "{at}: a refusal is a problem document: {} {}",
                r.status,
                r.text
            );
        }
        if step % 25 == 0 || r.status == StatusCode::OK {
            check_invariants(&env, &at, &mut seen).await;
        }
    }
    check_invariants(&env, &format!("seed {seed} end"), &mut seen).await;
    let v = metroplan_server::audit::verify(&env.db).await.unwrap();
    assert!(v.is_ok(), "seed {seed}: audit chain {v:?}");
    // Every entry, year total and file amount, rebuilt from the events alone.
    let money = metroplan_server::audit::money::verify(&env.db)
        .await
        .unwrap();
    assert!(
        money.is_empty(),
        "seed {seed}: money against the events {money:?}"
    );
    assert!(
        taken > 10,
        "seed {seed}: only {taken} actions taken: the walk explores too little"
    );
    Walked {
        actions: distinct(
            &env,
            "SELECT DISTINCT action AS v FROM events WHERE application_id IS NOT NULL",
        )
        .await,
        entries: distinct(&env, "SELECT DISTINCT kind AS v FROM ledger_entries").await,
        transitions: wf.transitions.iter().map(|t| t.id.to_string()).collect(),
        days,
    }
}

const STEPS: usize = 500;

/// Five fixed walks, which together take every transition of the demo plan's workflow and
/// write every kind of ledger entry; then, with `METROPLAN_WALK_SECONDS=N`, new seeds for N
/// seconds (CI runs them for a minute), each named in a failure so that
/// `METROPLAN_WALK_SEED=S` replays it.
#[tokio::test]
async fn random_walks_through_the_workflow_keep_every_invariant() {
    if let Ok(seed) = std::env::var("METROPLAN_WALK_SEED") {
        let w = run(seed.parse().expect("METROPLAN_WALK_SEED: a number"), STEPS).await;
        println!(
            "seed {seed}: {} days, actions taken: {:?}",
            w.days, w.actions
        );
        return;
    }
    let mut all = Walked::default();
    for seed in [
        0x9E37_79B9_7F4A_7C15,
        0xD1B5_4A32_D192_ED03,
        42,
        0x0BAD_5EED_2021_0301,
        7,
        // Reaches the reduction, the balance and the closing after a final report.
        9,
    ] {
        let w = run(seed, STEPS).await;
        println!(
            "seed {seed}: {} days, {} actions taken: {:?}",
            w.days,
            w.actions.len(),
            w.actions
        );
        all.actions.extend(w.actions);
        all.entries.extend(w.entries);
        all.transitions = w.transitions;
    }
    // The walks reach every transition: one that no walk takes is not covered by these checks.
    let missing: Vec<&String> = all
        .transitions
        .iter()
        .filter(|t| !all.actions.contains(*t))
        .collect();
    assert!(
        missing.is_empty(),
        "no fixed walk takes {missing:?}; taken: {:?}",
        all.actions
    );
    for kind in ["commit", "decommit", "payment", "reclaim"] {
        assert!(
            all.entries.contains(kind),
            "no fixed walk writes a `{kind}` entry: {:?}",
            all.entries
        );
    }
    let budget = std::env::var("METROPLAN_WALK_SECONDS").ok().map(|s| {
        std::time::Duration::from_secs(s.parse().expect("METROPLAN_WALK_SECONDS: seconds"))
    });
    if let Some(budget) = budget {
        let start = std::time::Instant::now();
        let mut seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
            | 1;
        let mut walks = 0;
        while start.elapsed() < budget {
            seed = seed.wrapping_mul(0x2545_F491_4F6C_DD1D).rotate_left(17) | 1;
            run(seed, STEPS).await;
            walks += 1;
        }
        println!(
            "random walks: {walks} more walks of {STEPS} steps in {:?}",
            start.elapsed()
        );
    }
}
