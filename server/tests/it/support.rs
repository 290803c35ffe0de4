//! A server on a fresh database, and helpers to call it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use metroplan_engine::model::RoleKind;
use metroplan_server::clock::Clock;
use metroplan_server::config::Config;
use metroplan_server::metrics::Metrics;
use metroplan_server::plans::{PlanSet, Plans};
use metroplan_server::service::Ctx;
use metroplan_server::store::Db;
use metroplan_server::{AppState, app, tokens};
use serde_json::{Value, json};
use tower::ServiceExt;

pub const PLAN: &str = "amp-pmlcd";
pub const FUND: &str = "fonds-initiative";

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn application() -> Value {
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/association-vitrolles-2021.json"),
    )
    .expect("fixture");
    serde_json::from_str(&text).expect("fixture is JSON")
}

/// The same application from another applicant (another SIRET).
pub fn application_of(siret: &str, amount: u32) -> Value {
    let mut a = application();
    a["applicant"]["siret"] = json!(siret);
    a["project"]["requested_amount"] = json!(amount);
    a["project"]["total_cost"] = json!(amount * 2);
    a
}

pub const PDF: &[u8] = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n";

/// A database for one test: a SQLite file in `dir`, or a new PostgreSQL database that is
/// dropped with the guard.
pub async fn database(dir: &std::path::Path) -> (String, Option<DropDatabase>) {
    match std::env::var("METROPLAN_TEST_DATABASE_URL") {
        Ok(base) if !base.is_empty() => {
            sqlx::any::install_default_drivers();
            let name = format!("mp_{}", tokens::random_hex(6));
            let admin = sqlx::AnyPool::connect(&base)
                .await
                .expect("PostgreSQL for tests");
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&admin)
                .await
                .expect("create test database");
            admin.close().await;
            let (head, _) = base.rsplit_once('/').expect("URL ends with /DATABASE");
            (format!("{head}/{name}"), Some(DropDatabase { base, name }))
        }
        _ => (
            format!("sqlite://{}", dir.join("metroplan.db").display()),
            None,
        ),
    }
}

/// Drops a test's PostgreSQL database when the test ends (`WITH (FORCE)` closes what is
/// still connected).
#[derive(Debug)]
pub struct DropDatabase {
    base: String,
    name: String,
}

impl Drop for DropDatabase {
    fn drop(&mut self) {
        let _ = std::process::Command::new("psql")
            .args([
                &self.base,
                "-q",
                "-c",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
}

#[derive(Debug)]
pub struct Env {
    pub dir: tempfile::TempDir,
    pub url: String,
    pub db: Db,
    pub plans: PlanSet,
    pub metrics: Arc<Metrics>,
    pub state: AppState,
    pub app: Router,
    _drop: Option<DropDatabase>,
}

impl Env {
    /// A server whose clock reads `now` (RFC 3339).
    pub async fn new(now: &str) -> Env {
        Env::with_plans(now, &repo().join("plans")).await
    }

    /// A server on the plans under `plans_dir`.
    pub async fn with_plans(now: &str, plans_dir: &std::path::Path) -> Env {
        Env::upgraded(now, plans_dir, 0, &[]).await
    }

    /// A server on a database that was at migration `version` (0: none) and held the rows
    /// `sql` inserts, as an older metroplan left it; the server migrates it when it starts.
    pub async fn upgraded(now: &str, plans_dir: &Path, version: i64, sql: &[&str]) -> Env {
        let dir = tempfile::tempdir().expect("temp dir");
        let (url, drop) = database(dir.path()).await;
        if version > 0 {
            sqlx::any::install_default_drivers();
            let raw = if url.starts_with("sqlite:") {
                format!("{url}?mode=rwc")
            } else {
                url.clone()
            };
            let pool = sqlx::AnyPool::connect(&raw).await.expect("database");
            let mut m = if url.starts_with("sqlite:") {
                sqlx::migrate!("./migrations/sqlite")
            } else {
                sqlx::migrate!("./migrations/postgres")
            };
            m.migrations = m
                .migrations
                .iter()
                .filter(|x| x.version <= version)
                .cloned()
                .collect::<Vec<_>>()
                .into();
            m.run(&pool).await.expect("older migrations");
            for q in sql {
                sqlx::query(q).execute(&pool).await.expect(q);
            }
            pool.close().await;
        }
        let db = Db::connect(&url).await.expect("database");
        let plans = PlanSet::from(Plans::load(plans_dir).expect("plans"));
        let metrics = Arc::new(Metrics::default());
        let state = state(&db, &plans, &metrics, &url, dir.path(), now);
        let app = app(state.clone());
        Env {
            dir,
            url,
            db,
            plans,
            metrics,
            state,
            app,
            _drop: drop,
        }
    }

    /// The same server and database, its clock at `now`.
    pub fn at(&self, now: &str) -> Router {
        let state = state(
            &self.db,
            &self.plans,
            &self.metrics,
            &self.url,
            self.dir.path(),
            now,
        );
        app(state)
    }

    /// The services of the same server and database, their clock at `now`: what a server
    /// process started then would run (its timers).
    pub fn ctx_at(&self, now: &str) -> Ctx {
        state(
            &self.db,
            &self.plans,
            &self.metrics,
            &self.url,
            self.dir.path(),
            now,
        )
        .ctx
    }

    /// Rows of `sql` (one text column `v`), for assertions on what was stored.
    pub async fn texts(&self, sql: &str, id: &str) -> Vec<String> {
        use sqlx::Row;
        sqlx::query(sql)
            .bind(id)
            .fetch_all(&self.db.pool)
            .await
            .expect(sql)
            .iter()
            .map(|r| r.try_get::<String, _>("v").expect("a text column `v`"))
            .collect()
    }

    pub async fn token(&self, name: &str, role: RoleKind) -> String {
        self.token_with(name, role, None, None).await
    }

    pub async fn token_with(
        &self,
        name: &str,
        role: RoleKind,
        fund: Option<&str>,
        email: Option<&str>,
    ) -> String {
        tokens::create(
            &self.db,
            name,
            role,
            None,
            fund,
            email,
            "2021-01-01T00:00:00Z",
        )
        .await
        .expect("token")
    }

    /// A scoped service token: `fund` of `plan` only.
    pub async fn token_scoped(&self, name: &str, role: RoleKind, plan: &str, fund: &str) -> String {
        tokens::create(
            &self.db,
            name,
            role,
            Some(plan),
            Some(fund),
            None,
            "2021-01-01T00:00:00Z",
        )
        .await
        .expect("token")
    }

    /// An account (the web tests' password), with a SIRET for an applicant or for
    /// a member of staff who is also an applicant.
    pub async fn account(
        &self,
        email: &str,
        role: RoleKind,
        siret: Option<&str>,
    ) -> metroplan_server::accounts::User {
        metroplan_server::accounts::create_user(
            &self.db,
            metroplan_server::accounts::NewUser {
                email,
                name: email,
                role,
                plan: None,
                fund: None,
                siret,
                password: crate::web::PASSWORD,
                grants: &[],
            },
            jiff::Timestamp::now(),
        )
        .await
        .expect("account")
    }

    /// A token of `user`'s, as `metroplan token create --user` makes it.
    pub async fn token_of(&self, user: &metroplan_server::accounts::User) -> String {
        tokens::create_for_user(&self.db, user, "2021-01-01T00:00:00Z")
            .await
            .expect("token")
    }

    /// A second token of one account's with another role kind: one person, one identity,
    /// two roles (what plan roles per person will give).
    pub async fn token_of_as(
        &self,
        user: &metroplan_server::accounts::User,
        role: RoleKind,
    ) -> String {
        let mut as_role = user.clone();
        as_role.role = role;
        self.token_of(&as_role).await
    }

    pub async fn call(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> Res {
        call_json(&self.app, method, uri, token, headers, body).await
    }

    pub async fn get(&self, uri: &str, token: &str) -> Res {
        self.call(Method::GET, uri, Some(token), &[], None).await
    }

    /// Files an application and returns (id, version).
    pub async fn file(&self, token: &str, data: Value) -> Res {
        self.call(
            Method::POST,
            &format!("/api/plans/{PLAN}/funds/{FUND}/applications"),
            Some(token),
            &[],
            Some(json!({ "data": data })),
        )
        .await
    }

    /// Creates a draft (not filed) of `data`.
    pub async fn draft(&self, token: &str, data: Value) -> Res {
        self.call(
            Method::POST,
            &format!("/api/plans/{PLAN}/funds/{FUND}/applications"),
            Some(token),
            &[],
            Some(json!({ "data": data, "draft": true })),
        )
        .await
    }

    /// Takes a workflow action with the application's current ETag.
    pub async fn act(&self, id: &str, action: &str, token: &str, body: Value) -> Res {
        let current = self.get(&format!("/api/applications/{id}"), token).await;
        let etag = current
            .headers
            .get("etag")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_else(|| "\"v0\"".into());
        self.call(
            Method::POST,
            &format!("/api/applications/{id}/actions/{action}"),
            Some(token),
            &[("if-match", &etag)],
            Some(body),
        )
        .await
    }

    pub async fn upload(&self, id: &str, kind: &str, token: &str, bytes: &[u8], name: &str) -> Res {
        self.upload_with(id, kind, token, bytes, name, &[]).await
    }

    pub async fn upload_with(
        &self,
        id: &str,
        kind: &str,
        token: &str,
        bytes: &[u8],
        name: &str,
        headers: &[(&str, &str)],
    ) -> Res {
        let boundary = "XmetroplanX";
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        call(
            &self.app,
            Method::POST,
            &format!("/api/applications/{id}/documents/{kind}"),
            Some(token),
            headers,
            Some(body),
            &format!("multipart/form-data; boundary={boundary}"),
        )
        .await
    }

    /// A file of `asso`'s awarded 7 500 €, its agreement signed and its advance paid
    /// (`avance-versee`), through the API.
    pub async fn advanced(&self, asso: &str) -> String {
        let env = self;
        let instr = env.token("instructrice", RoleKind::Instructor).await;
        let r1 = env.token("membre-1", RoleKind::Reviewer).await;
        let r2 = env.token("membre-2", RoleKind::Reviewer).await;
        let elue = env.token("elue", RoleKind::Approver).await;
        let fin = env.token("finances", RoleKind::Finance).await;
        let id = env.eligible(asso, application()).await;
        env.act(&id, "soumettre-au-comite", &instr, json!({})).await;
        for r in [&r1, &r2] {
            let a = env
                .act(
                    &id,
                    "donner-avis",
                    r,
                    json!({"linked": false, "favourable": true, "opinion": "Solide."}),
                )
                .await;
            assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        }
        let r = env
            .act(&id, "proposer-decision", &instr, json!({"amount": "7500"}))
            .await;
        assert_eq!(r.body["state"], "a-decider", "{}", r.body);
        let r = env
            .act(&id, "attribuer", &elue, json!({"amount": "7500"}))
            .await;
        assert_eq!(r.body["state"], "attribue", "{}", r.body);
        let r = env
            .act(
                &id,
                "signer-convention",
                &instr,
                json!({"signed_on": "2021-03-01"}),
            )
            .await;
        assert_eq!(r.body["state"], "convention-signee", "{}", r.body);
        let r = env.act(&id, "verser-avance", &fin, json!({})).await;
        assert_eq!(r.body["paid"], "3750.00", "{}", r.body);
        id
    }

    /// Joins the pieces the demonstration plan's final report requires (`deposer-bilan` is
    /// refused without them).
    pub async fn final_report_pieces(&self, id: &str, token: &str) {
        for kind in ["bilan_final", "compte_rendu_financier"] {
            let r = self
                .upload(id, kind, token, PDF, &format!("{kind}.pdf"))
                .await;
            assert_eq!(r.status, StatusCode::OK, "{kind}: {}", r.body);
        }
    }

    /// Files the fixture application, uploads its pieces, completes it: it is `en-instruction`.
    pub async fn eligible(&self, token: &str, data: Value) -> String {
        let r = self.file(token, data).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let id = r.body["id"].as_str().unwrap().to_string();
        assert_eq!(
            r.body["state"], "incomplet",
            "no piece uploaded yet: {}",
            r.body
        );
        for kind in [
            "budget_previsionnel",
            "rib",
            "statuts",
            "attestation_regularite",
        ] {
            let u = self.upload(&id, kind, token, PDF, "piece.pdf").await;
            assert_eq!(u.status, StatusCode::OK, "{}", u.body);
        }
        let c = self.act(&id, "completer", token, json!({})).await;
        assert_eq!(c.status, StatusCode::OK, "{}", c.body);
        assert_eq!(c.body["state"], "en-instruction", "{}", c.body);
        id
    }
}

fn state(
    db: &Db,
    plans: &PlanSet,
    metrics: &Arc<Metrics>,
    url: &str,
    dir: &std::path::Path,
    now: &str,
) -> AppState {
    let mut config = Config::new(repo().join("plans"), url.to_string());
    config.documents = dir.join("documents");
    AppState {
        ctx: Ctx {
            db: db.clone(),
            plans: plans.clone(),
            clock: Clock::starting_at(now.parse().expect("RFC 3339 instant")),
            metrics: metrics.clone(),
            rules: Default::default(),
            letters: metroplan_server::service::letters::LetterStore::new(
                config.documents.clone(),
                Some("http://metroplan.test".into()),
            ),
            quotas: Default::default(),
        },
        config: Arc::new(config),
        tokens: Default::default(),
    }
}

#[derive(Debug)]
pub struct Res {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

/// A JSON request.
pub async fn call_json(
    app: &Router,
    method: Method,
    uri: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> Res {
    let body = body.map(|b| b.to_string().into_bytes());
    call(app, method, uri, token, headers, body, "application/json").await
}

pub async fn call(
    app: &Router,
    method: Method,
    uri: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: Option<Vec<u8>>,
    content_type: &str,
) -> Res {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = match body {
        Some(b) => req.header("content-type", content_type).body(Body::from(b)),
        None => req.body(Body::empty()),
    }
    .expect("request");
    let res = app.clone().oneshot(req).await.expect("the router answers");
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .expect("body");
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Res {
        status,
        headers,
        body,
        text,
    }
}

/// A copy of the repository's plans to edit.
pub fn plans_copy() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("cp")
        .arg("-r")
        .arg(repo().join("plans"))
        .arg(tmp.path())
        .status()
        .unwrap();
    assert!(status.success());
    let dir = tmp.path().join("plans");
    (tmp, dir)
}

pub fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} has `{from}`", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}
