//! Random sequences of workflow actions, by random people with random inputs, never break the
//! invariants: the envelope is never exceeded and equals what was awarded, nothing is paid
//! beyond its award, nobody decides on a file they filed or instructed, no request is a 5xx,
//! and the audit chain stays valid. Seeds are fixed, so a failure replays exactly.

use axum::http::StatusCode;
use metroplan_engine::model::RoleKind;
use serde_json::json;
use sqlx::Row;

use crate::support::*;

const OPEN: &str = "2021-03-01T10:00:00+01:00";
const ENVELOPE_2021_CENTS: i64 = 30_000 * 100;

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

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

async fn check_invariants(env: &Env, step: usize) {
    let ledger =
        sqlx::query("SELECT CAST(COALESCE(SUM(committed_cents), 0) AS BIGINT) AS c FROM ledger WHERE year = 2021")
            .fetch_one(&env.db.pool)
            .await
            .unwrap();
    let committed: i64 = ledger.try_get("c").unwrap();
    assert!(
        committed <= ENVELOPE_2021_CENTS,
        "step {step}: {committed} cents committed over the envelope"
    );
    let apps = sqlx::query(
        "SELECT id, owner_id, applicant_key, awarded_cents, paid_cents FROM applications",
    )
    .fetch_all(&env.db.pool)
    .await
    .unwrap();
    let mut awarded_total = 0;
    for a in &apps {
        let id: String = a.try_get("id").unwrap();
        let owner: String = a.try_get("owner_id").unwrap();
        let key: Option<String> = a.try_get("applicant_key").unwrap();
        // Whoever holds the file's applicant key, by binding or by their account's SIRET.
        let filers: Vec<String> = sqlx::query(
            "SELECT principal_id AS who FROM applicant_keys WHERE key = $1 \
             UNION SELECT 'user:' || id AS who FROM users WHERE siret = $1",
        )
        .bind(&key)
        .fetch_all(&env.db.pool)
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get("who").unwrap())
        .collect();
        let awarded: Option<i64> = a.try_get("awarded_cents").unwrap();
        let paid: i64 = a.try_get("paid_cents").unwrap();
        awarded_total += awarded.unwrap_or(0);
        assert!(
            paid <= awarded.unwrap_or(0),
            "step {step}: {id} paid {paid} of {awarded:?}"
        );
        let deciders = sqlx::query(
            "SELECT actor FROM events WHERE application_id = $1 AND action IN ('attribuer', 'refuser')",
        )
        .bind(&id)
        .fetch_all(&env.db.pool)
        .await
        .unwrap();
        let instructors = sqlx::query(
            "SELECT actor FROM participants WHERE application_id = $1 AND kind = 'instructor'",
        )
        .bind(&id)
        .fetch_all(&env.db.pool)
        .await
        .unwrap();
        let instructors: Vec<String> = instructors
            .iter()
            .map(|r| r.try_get("actor").unwrap())
            .collect();
        for d in &deciders {
            let actor: String = d.try_get("actor").unwrap();
            assert_ne!(actor, owner, "step {step}: {id} decided by its filer");
            assert!(
                !filers.contains(&actor),
                "step {step}: {id} decided by {actor}, who holds its applicant key"
            );
            assert!(
                !instructors.contains(&actor),
                "step {step}: {id} decided by its instructor {actor}"
            );
        }
    }
    assert_eq!(
        committed, awarded_total,
        "step {step}: the ledger is what was awarded"
    );
}

async fn run(seed: u64, steps: usize) {
    let env = Env::new(OPEN).await;
    let mut rng = Rng(seed);
    // The third applicant is also on the staff: an approver account with her SIRET.
    const STAFF_SIRET: &str = "81234567809999";
    let asso_c = env
        .account("asso-c@example.org", RoleKind::Applicant, Some(STAFF_SIRET))
        .await;
    let elue_c = env
        .account("elue-c@example.org", RoleKind::Approver, Some(STAFF_SIRET))
        .await;
    let applicants = [
        env.token("asso-a", RoleKind::Applicant).await,
        env.token("asso-b", RoleKind::Applicant).await,
        env.token_of(&asso_c).await,
    ];
    let staff = [
        env.token("instr-1", RoleKind::Instructor).await,
        env.token("instr-2", RoleKind::Instructor).await,
        env.token("membre-1", RoleKind::Reviewer).await,
        env.token("membre-2", RoleKind::Reviewer).await,
        env.token("elue-1", RoleKind::Approver).await,
        env.token("elue-2", RoleKind::Approver).await,
        env.token("finances", RoleKind::Finance).await,
        env.token_of(&elue_c).await,
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
        let id = env
            .eligible(&applicants[owner], application_of(&siret, amount))
            .await;
        apps.push((id, owner));
    }
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
            (
                t.id.to_string(),
                t.from.iter().map(|f| f.to_string()).collect(),
                served.plan.role_kind_of(t),
                ends && !matches!(t.id.as_str(), "cloturer" | "constater-reversement"),
            )
        })
        .collect();
    let kinds = [
        RoleKind::Instructor,
        RoleKind::Instructor,
        RoleKind::Reviewer,
        RoleKind::Reviewer,
        RoleKind::Approver,
        RoleKind::Approver,
        RoleKind::Finance,
        RoleKind::Approver,
    ];
    let amounts = [
        None,
        Some("500"),
        Some("2500.50"),
        Some("7000"),
        Some("9999.99"),
        Some("12000"),
        Some("-5"),
        Some("abc"),
    ];
    let mut taken = 0;
    for step in 0..steps {
        let (id, owner) = rng.pick(&apps).clone();
        let state: String = sqlx::query("SELECT state FROM applications WHERE id = $1")
            .bind(&id)
            .fetch_one(&env.db.pool)
            .await
            .unwrap()
            .try_get("state")
            .unwrap();
        // Mostly an action the state allows, by someone of the right kind; sometimes anything
        // by anyone (the file's applicant, another applicant, any staff member).
        // Withdrawals and refusals end a file early: rarer, so that files get far.
        let open: Vec<&Step> = transitions
            .iter()
            .filter(|t| t.1.contains(&state) && (!t.3 || rng.below(10) == 0))
            .collect();
        let (action, kind) = if !open.is_empty() && rng.below(10) < 8 {
            let t = rng.pick(&open);
            (t.0.clone(), t.2)
        } else {
            let t = rng.pick(&transitions);
            (t.0.clone(), None)
        };
        let who = match kind {
            Some(RoleKind::Applicant) => applicants[owner].clone(),
            Some(k) => {
                let of_kind: Vec<usize> = (0..kinds.len()).filter(|&i| kinds[i] == k).collect();
                staff[*rng.pick(&of_kind)].clone()
            }
            None => match rng.below(10) {
                0 => applicants[owner].clone(),
                1 => applicants[(owner + 1) % applicants.len()].clone(),
                _ => rng.pick(&staff).clone(),
            },
        };
        let mut body = json!({});
        if let Some(a) = rng.pick(&amounts) {
            body["amount"] = json!(a);
        }
        if rng.below(2) == 0 {
            body["reason"] = json!("motif");
        }
        body["linked"] = json!(rng.below(5) == 0);
        body["opinion"] = json!("avis");
        if rng.below(2) == 0 {
            body["scores"] = json!({"diagnostic": rng.below(25), "innovation": rng.below(20)});
        }
        if rng.below(2) == 0 {
            body["signed_on"] = json!("2021-03-01");
        }
        if action != "donner-avis" {
            body.as_object_mut().unwrap().remove("opinion");
            body.as_object_mut().unwrap().remove("scores");
            body.as_object_mut().unwrap().remove("linked");
        }
        let r = env.act(&id, &action, &who, body.clone()).await;
        assert!(
            !r.status.is_server_error(),
            "seed {seed} step {step}: {action} {body} → {} {}",
            r.status,
            r.body
        );
        if r.status == StatusCode::OK {
            taken += 1;
        } else {
            assert!(
                r.body.get("type").is_some(),
                "seed {seed} step {step}: a refusal is a problem document: {}",
                r.body
            );
        }
        if step % 25 == 0 || r.status == StatusCode::OK {
            check_invariants(&env, step).await;
        }
    }
    check_invariants(&env, steps).await;
    let v = metroplan_server::audit::verify(&env.db).await.unwrap();
    assert!(v.is_ok(), "seed {seed}: audit chain {v:?}");
    assert!(
        taken > 10,
        "seed {seed}: only {taken} actions taken: the walk explores too little"
    );
}

/// Three fixed walks; then, with `METROPLAN_WALK_SECONDS=N`, new seeds for N seconds (CI runs
/// them for a minute), each named in a failure so that `METROPLAN_WALK_SEED=S` replays it.
#[tokio::test]
async fn random_walks_through_the_workflow_keep_every_invariant() {
    if let Ok(seed) = std::env::var("METROPLAN_WALK_SEED") {
        run(seed.parse().expect("METROPLAN_WALK_SEED: a number"), 400).await;
        return;
    }
    for seed in [0x9E37_79B9_7F4A_7C15, 0xD1B5_4A32_D192_ED03, 42] {
        run(seed, 400).await;
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
            run(seed, 400).await;
            walks += 1;
        }
        println!(
            "random walks: {walks} more walks of 400 steps in {:?}",
            start.elapsed()
        );
    }
}
