//! A client's mistake gets a problem document naming the field, never a 500, and changes
//! nothing.

use axum::http::{Method, StatusCode};
use metroplan_engine::model::RoleKind;
use serde_json::json;

use crate::support::*;

const OPEN: &str = "2021-03-01T10:00:00+01:00";

#[tokio::test]
async fn malformed_requests_are_problems_that_name_the_field() {
    let env = Env::new(OPEN).await;
    let asso = env.token("asso", RoleKind::Applicant).await;
    let path = format!("/api/plans/{PLAN}/funds/{FUND}/applications");
    let cases: Vec<(Vec<u8>, StatusCode, Option<&str>)> = vec![
        (b"{not json".to_vec(), StatusCode::BAD_REQUEST, None),
        (
            json!({"data": application(), "surprise": 1})
                .to_string()
                .into_bytes(),
            StatusCode::BAD_REQUEST,
            Some("surprise"),
        ),
        (
            json!({"draft": true}).to_string().into_bytes(),
            StatusCode::BAD_REQUEST,
            Some("data"),
        ),
        (
            json!({"data": {"call": "deux mille"}})
                .to_string()
                .into_bytes(),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("data.call"),
        ),
        (
            json!({"data": {"applicant": {"kind": "asociation"}}})
                .to_string()
                .into_bytes(),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("data.applicant.kind"),
        ),
        (vec![b' '; 300 * 1024], StatusCode::PAYLOAD_TOO_LARGE, None),
    ];
    for (body, status, field) in cases {
        let r = call(
            &env.app,
            Method::POST,
            &path,
            Some(&asso),
            &[],
            Some(body),
            "application/json",
        )
        .await;
        assert_eq!(r.status, status, "{}", r.text);
        assert_eq!(
            r.headers["content-type"], "application/problem+json",
            "{}",
            r.text
        );
        assert_eq!(r.body["status"], status.as_u16());
        assert!(r.body["detail"].as_str().is_some_and(|d| !d.is_empty()));
        if let Some(f) = field {
            assert_eq!(r.body["field"], f, "{}", r.body);
        }
    }
    let r = call(
        &env.app,
        Method::POST,
        &path,
        Some(&asso),
        &[],
        Some(b"{}".to_vec()),
        "text/plain",
    )
    .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let list = env.get("/api/applications", &asso).await;
    assert_eq!(
        list.body["items"].as_array().unwrap().len(),
        0,
        "nothing stored"
    );
}

/// Security review: a `requested_amount` of 1e28 panicked inside the write transaction (the
/// cents overflowed) and the client got no answer.
#[tokio::test]
async fn a_requested_amount_of_1e28_is_a_422_naming_the_field_and_stores_nothing() {
    let env = Env::new(OPEN).await;
    let asso = env.token("asso", RoleKind::Applicant).await;
    assert_eq!(
        metroplan_engine::rules::application::MAX_MONEY,
        rust_decimal::Decimal::from(1_000_000_000_000_i64)
    );
    for (amount, draft) in [
        (json!(1e28), false),
        (json!("10000000000000000000000000000"), false),
        (json!(79_228_162_514_264_337_593_543_950_335.0_f64), true),
        (json!("1000000000000.01"), true),
    ] {
        let mut data = application();
        data["project"]["requested_amount"] = amount.clone();
        let r = create(&env, &asso, json!({"data": data, "draft": draft})).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{amount}: {}",
            r.body
        );
        assert_eq!(
            r.body["field"], "data.project.requested_amount",
            "{}",
            r.body
        );
    }
    let mut data = application();
    data["project"]["requested_amount"] = json!("1000000000000");
    data["project"]["total_cost"] = json!("1000000000000");
    let r = create(&env, &asso, json!({"data": data, "draft": true})).await;
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "the largest amount is taken: {}",
        r.body
    );
    let list = env.get("/api/applications", &asso).await;
    assert_eq!(
        list.body["items"].as_array().unwrap().len(),
        1,
        "only that one"
    );
}

/// Security review: a client-supplied `X-Request-Id` was written as is into log lines, where
/// spaces and `=` forge fields.
#[tokio::test]
async fn a_client_request_id_that_could_forge_log_fields_is_replaced() {
    let env = Env::new(OPEN).await;
    let id_of = |r: &Res| r.headers["x-request-id"].to_str().unwrap().to_string();
    let plain = env
        .call(
            Method::GET,
            "/api/plans",
            None,
            &[("x-request-id", "abc-123.4:5_6")],
            None,
        )
        .await;
    assert_eq!(
        id_of(&plain),
        "abc-123.4:5_6",
        "a plain id is kept, for tracing"
    );
    for forged in [
        "abc method=DELETE uri=/admin",
        "abc\"x=1",
        "a\tb",
        &"x".repeat(129),
        "",
    ] {
        let r = env
            .call(
                Method::GET,
                "/api/plans",
                None,
                &[("x-request-id", forged)],
                None,
            )
            .await;
        let id = id_of(&r);
        assert_ne!(id, forged);
        assert!(
            id.len() == 36 && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-'),
            "{forged:?} replaced by a fresh id, not {id:?}"
        );
    }
}

/// Security review: a 5-byte `%PDF-` was accepted as a piece. A document cut short (no end
/// marker) is refused as damaged, naming the file, and nothing is stored.
#[tokio::test]
async fn a_five_byte_or_truncated_pdf_is_refused_as_damaged() {
    let env = Env::new(OPEN).await;
    let asso = env.token("asso", RoleKind::Applicant).await;
    let id = draft(&env, &asso).await;
    let truncated_pdf = &PDF[..PDF.len() - 7];
    let truncated_png: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    let truncated_jpeg: &[u8] = &[0xFF, 0xD8, 0xFF, 0xE0, 0, 16, b'J', b'F'];
    let short_webp: &[u8] = b"RIFF\xff\0\0\0WEBPVP8 ";
    for (what, bytes) in [
        ("five bytes", &b"%PDF-"[..]),
        ("a PDF without its end", truncated_pdf),
        ("a PNG without IEND", truncated_png),
        ("a JPEG without its end marker", truncated_jpeg),
        ("a WebP shorter than it says", short_webp),
    ] {
        let r = env.upload(&id, "rib", &asso, bytes, "rib.pdf").await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{what}: {}",
            r.text
        );
        assert_eq!(r.body["field"], "file", "{what}");
    }
    let view = env.get(&format!("/api/applications/{id}"), &asso).await;
    assert_eq!(view.body["documents"], json!([]), "nothing stored");
    assert_eq!(
        env.upload(&id, "rib", &asso, PDF, "rib.pdf").await.status,
        StatusCode::OK,
        "a whole PDF is taken"
    );
}

/// `body` posted to the fund's applications.
async fn create(env: &Env, token: &str, body: serde_json::Value) -> Res {
    env.call(
        Method::POST,
        &format!("/api/plans/{PLAN}/funds/{FUND}/applications"),
        Some(token),
        &[],
        Some(body),
    )
    .await
}

/// A draft of `asso`'s with no pieces yet, under the applicant key `siret`.
async fn draft_of(env: &Env, asso: &str, siret: &str) -> String {
    let mut data = application();
    data["documents"] = json!([]);
    data["applicant"]["siret"] = json!(siret);
    let r = create(env, asso, json!({"data": data, "draft": true})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

async fn draft(env: &Env, asso: &str) -> String {
    draft_of(env, asso, "81234567800019").await
}

/// Security review: a replaced piece stays on disk and there was no quota, so one applicant
/// could fill the disk by replacing a piece again and again.
#[tokio::test]
async fn uploads_beyond_the_file_or_the_daily_quota_are_refused_and_change_nothing() {
    let mut env = Env::new(OPEN).await;
    let piece = PDF.len() as i64;
    let mut state = env.state.clone();
    state.ctx.quotas = metroplan_server::service::documents::Quotas {
        per_file: 3 * piece,
        per_day: 5 * piece,
    };
    env.app = metroplan_server::app(state);
    let asso = env.token("asso", RoleKind::Applicant).await;
    let a = draft(&env, &asso).await;
    // Replacing the same piece counts each time.
    for _ in 0..3 {
        let r = env.upload(&a, "rib", &asso, PDF, "rib.pdf").await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    let before = env.get(&format!("/api/applications/{a}"), &asso).await.body;
    let over = env.upload(&a, "statuts", &asso, PDF, "statuts.pdf").await;
    assert_eq!(over.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", over.body);
    assert_eq!(over.body["type"], "/problems/upload-quota", "{}", over.body);
    let after = env.get(&format!("/api/applications/{a}"), &asso).await.body;
    assert_eq!(after["version"], before["version"], "nothing written");
    assert_eq!(after["documents"], before["documents"]);
    // Another file of the same person: the day's allowance is what is left (2 pieces).
    let b = draft(&env, &asso).await;
    for kind in ["rib", "statuts"] {
        let r = env.upload(&b, kind, &asso, PDF, "p.pdf").await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    let over = env
        .upload(&b, "budget_previsionnel", &asso, PDF, "b.pdf")
        .await;
    assert_eq!(over.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", over.body);
    assert!(
        over.body["detail"]
            .as_str()
            .unwrap()
            .contains("last 24 hours"),
        "{}",
        over.body
    );
    // Someone else's allowance is their own.
    let other = env.token("autre", RoleKind::Applicant).await;
    let c = draft_of(&env, &other, "51234567800012").await;
    let r = env.upload(&c, "rib", &other, PDF, "rib.pdf").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

#[tokio::test]
async fn unknown_plans_funds_actions_and_paths_are_404_problems() {
    let env = Env::new(OPEN).await;
    let asso = env.token("asso", RoleKind::Applicant).await;
    let r = env.file(&asso, application()).await;
    let id = r.body["id"].as_str().unwrap().to_string();
    for (method, path) in [
        (Method::GET, "/api/plans/nulle-part".to_string()),
        (
            Method::POST,
            format!("/api/plans/{PLAN}/funds/pas-de-fonds/applications"),
        ),
        (
            Method::POST,
            format!("/api/applications/{id}/actions/voler"),
        ),
        (Method::GET, "/api/applications/inconnu".to_string()),
        (Method::GET, "/api/pas/ici".to_string()),
    ] {
        let r = env
            .call(
                method,
                &path,
                Some(&asso),
                &[("if-match", "\"v3\"")],
                Some(json!({"data": {}})),
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}: {}", r.text);
        assert_eq!(r.headers["content-type"], "application/problem+json");
    }
    let r = env
        .call(
            Method::GET,
            "/api/plans/amp-pmlcd/schedule?format=pdf",
            None,
            &[],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["field"], "format");
    let r = env
        .call(
            Method::GET,
            "/api/applications?limit=0",
            Some(&asso),
            &[],
            None,
        )
        .await;
    assert_eq!(r.body["field"], "limit");
}

#[tokio::test]
async fn documents_are_accepted_by_content_not_by_name() {
    let env = Env::new(OPEN).await;
    let asso = env.token("asso", RoleKind::Applicant).await;
    let r = env.file(&asso, application()).await;
    let id = r.body["id"].as_str().unwrap().to_string();
    let fake = env
        .upload(&id, "rib", &asso, b"MZ\x90\x00 not a pdf", "rib.pdf")
        .await;
    assert_eq!(
        fake.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "{}",
        fake.text
    );
    let png = env
        .upload(
            &id,
            "rib",
            &asso,
            b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\0IEND\xaeB`\x82",
            "rib.bin",
        )
        .await;
    assert_eq!(png.status, StatusCode::OK, "{}", png.text);
    assert_eq!(png.body["documents"][0]["media_type"], "image/png");
    let unknown = env.upload(&id, "passeport", &asso, PDF, "p.pdf").await;
    assert_eq!(unknown.body["field"], "kind");
    let big = vec![b'%'; 11 * 1024 * 1024];
    let r = env.upload(&id, "rib", &asso, &big, "gros.pdf").await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text);
    // A retried upload with its key replays the answer and does not bump the version again.
    let first = env
        .upload_with(
            &id,
            "statuts",
            &asso,
            PDF,
            "s.pdf",
            &[("idempotency-key", "statuts-1")],
        )
        .await;
    let again = env
        .upload_with(
            &id,
            "statuts",
            &asso,
            PDF,
            "s.pdf",
            &[("idempotency-key", "statuts-1")],
        )
        .await;
    assert_eq!(first.body["version"], again.body["version"]);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    // Stored by hash, outside the database.
    let sha = png.body["documents"][0]["sha256"].as_str().unwrap();
    assert!(
        env.dir
            .path()
            .join("documents")
            .join(&sha[..2])
            .join(sha)
            .is_file()
    );
    let events = env
        .get(&format!("/api/applications/{id}/events"), &asso)
        .await;
    assert!(
        events
            .body
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "upload" && e["payload"]["sha256"] == sha)
    );
}

#[tokio::test]
async fn the_dry_run_runs_the_rules_as_filing_does_with_today_as_the_filing_date() {
    // It used to leave the filing date out: every dry run was "incomplete".
    let env = Env::new(OPEN).await;
    let mut data = application();
    data["documents"] = json!(["rib"]);
    let r = env
        .call(
            Method::POST,
            &format!("/api/plans/{PLAN}/funds/{FUND}/eligibility"),
            None,
            &[],
            Some(json!({ "data": data })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["outcome"], "incomplete", "{}", r.text);
    let missing = r.body["missing"].to_string();
    assert!(missing.contains("statuts"), "{missing}");
    assert!(!missing.contains("submitted_on"), "{missing}");
}

#[tokio::test]
async fn the_dry_run_stores_nothing() {
    let env = Env::new(OPEN).await;
    let r = env
        .call(
            Method::POST,
            &format!("/api/plans/{PLAN}/funds/{FUND}/eligibility"),
            None,
            &[],
            Some(json!({ "data": application() })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // Run as the server files it: filed today, with the pieces the data says it has.
    assert_eq!(r.body["outcome"], "eligible", "{}", r.text);
    assert!(r.body["explanation"].is_object());
    let n: i64 = sqlx::Row::get(
        &sqlx::query("SELECT COUNT(*) AS n FROM applications")
            .fetch_one(&env.db.pool)
            .await
            .unwrap(),
        "n",
    );
    assert_eq!(n, 0);
}

/// Found by Schemathesis: JSON does not tell `12` from `12.0`, and a re-evaluation's body is
/// optional (absent or `null`).
#[tokio::test]
async fn whole_scores_written_as_decimals_and_an_absent_re_evaluation_body_are_accepted() {
    let env = Env::new("2021-03-01T10:00:00+01:00").await;
    let asso = env.token("asso", RoleKind::Applicant).await;
    let instr = env.token("instr", RoleKind::Instructor).await;
    let rev = env.token("membre", RoleKind::Reviewer).await;
    let id = env.eligible(&asso, application()).await;
    env.act(&id, "soumettre-au-comite", &instr, json!({})).await;
    let half = env
        .act(
            &id,
            "donner-avis",
            &rev,
            json!({"linked": false, "favourable": true, "opinion": "ok", "scores": {"diagnostic": 1.5}}),
        )
        .await;
    assert_eq!(half.status, StatusCode::BAD_REQUEST, "{}", half.body);
    assert!(
        half.body["detail"]
            .as_str()
            .unwrap()
            .contains("whole number")
    );
    let whole = env
        .act(&id, "donner-avis", &rev, json!({"linked": false, "favourable": true, "opinion": "ok", "scores": {"diagnostic": 12.0, "innovation": 10}}))
        .await;
    assert_eq!(whole.status, StatusCode::OK, "{}", whole.body);
    for body in [None, Some(serde_json::Value::Null)] {
        let current = env.get(&format!("/api/applications/{id}"), &instr).await;
        let etag = current.headers["etag"].to_str().unwrap().to_string();
        let r = env
            .call(
                Method::POST,
                &format!("/api/applications/{id}/reevaluate"),
                Some(&instr),
                &[("if-match", &etag)],
                body,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body["outcome"], "eligible");
    }
}

/// A PDF whose content (and so whose stored file) differs by `tag`.
fn pdf_of(tag: &str) -> Vec<u8> {
    format!("%PDF-1.4\n% {tag}\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n").into_bytes()
}

fn stored(env: &Env, bytes: &[u8]) -> bool {
    use sha2::Digest;
    let sha = hex::encode(sha2::Sha256::digest(bytes));
    metroplan_server::documents::path_of(&env.dir.path().join("documents"), &sha).exists()
}

#[tokio::test]
async fn regression_a_replaced_piece_is_deleted_once_nothing_relies_on_it() {
    let env = Env::new(OPEN).await;
    let asso = env.token("asso", RoleKind::Applicant).await;
    let a = draft(&env, &asso).await;
    let (x, y, shared) = (pdf_of("x"), pdf_of("y"), pdf_of("partagée"));
    assert_eq!(
        env.upload(&a, "rib", &asso, &x, "rib.pdf").await.status,
        StatusCode::OK
    );
    assert!(stored(&env, &x));
    // Replaced in the draft, before any step: its bytes go (its upload event keeps the hash).
    assert_eq!(
        env.upload(&a, "rib", &asso, &y, "rib.pdf").await.status,
        StatusCode::OK
    );
    assert!(!stored(&env, &x), "the replaced piece is deleted");
    assert!(stored(&env, &y));
    // The same content held by another file stays.
    let b = draft(&env, &asso).await;
    assert_eq!(
        env.upload(&b, "statuts", &asso, &shared, "s.pdf")
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        env.upload(&a, "rib", &asso, &shared, "rib.pdf")
            .await
            .status,
        StatusCode::OK
    );
    assert!(!stored(&env, &y));
    assert_eq!(
        env.upload(&a, "rib", &asso, &x, "rib.pdf").await.status,
        StatusCode::OK
    );
    assert!(stored(&env, &shared), "file b still holds it");
    // A piece in force when a step was taken on the file is the step's evidence: kept.
    let instr = env.token("instr", RoleKind::Instructor).await;
    let c = env
        .file(&asso, application_of("51234567800012", 8000))
        .await;
    assert_eq!(c.status, StatusCode::CREATED, "{}", c.body);
    let c = c.body["id"].as_str().unwrap().to_string();
    let kept = pdf_of("vue par l'instruction");
    assert_eq!(
        env.upload(&c, "rib", &asso, &kept, "rib.pdf").await.status,
        StatusCode::OK
    );
    let etag = env
        .get(&format!("/api/applications/{c}"), &instr)
        .await
        .headers["etag"]
        .to_str()
        .unwrap()
        .to_string();
    let r = env
        .call(
            Method::POST,
            &format!("/api/applications/{c}/reevaluate"),
            Some(&instr),
            &[("if-match", &etag)],
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = env
        .upload(&c, "rib", &asso, &pdf_of("nouvelle"), "rib.pdf")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(stored(&env, &kept), "relied on by a step: kept");
    // Every piece on a file has its bytes (x, deleted once, was stored again).
    for bytes in [&x, &shared, &pdf_of("nouvelle")] {
        assert!(stored(&env, bytes));
    }
}
