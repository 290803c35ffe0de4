//! The staff inbox through the router: search (accents and case ignored, a SIRET typed with
//! spaces), sorting with `aria-sort`, real pages of 50 that keep the filters, the score and
//! deadline columns, the CSV of every matching file; bulk decisions summarised, then confirmed.

use axum::http::StatusCode;
use metroplan_engine::model::RoleKind;
use serde_json::json;

use crate::support::*;
use crate::web::{Browser, account};

const OPEN: &str = "2021-03-01T10:00:00+01:00";

/// The cells of a column (by `data-label`) in the order of the table's rows.
fn column(page: &str, label: &str) -> Vec<String> {
    let key = format!("data-label=\"{label}\">");
    page.split(&key)
        .skip(1)
        .map(|c| {
            let cell = c.split("</td>").next().unwrap();
            // The text without tags.
            let mut out = String::new();
            let mut tag = false;
            for ch in cell.chars() {
                match ch {
                    '<' => tag = true,
                    '>' => tag = false,
                    _ if !tag => out.push(ch),
                    _ => {}
                }
            }
            out.trim().to_string()
        })
        .collect()
}

fn ticks(page: &str) -> usize {
    page.matches("name=\"dossier\"").count()
}

fn href_of(page: &str, rel: &str) -> String {
    let at = page
        .find(&format!("rel=\"{rel}\" href=\""))
        .unwrap_or_else(|| panic!("a {rel} link"));
    let rest = &page[at + rel.len() + 13..];
    rest[..rest.find('"').unwrap()].replace("&amp;", "&")
}

#[tokio::test]
async fn the_inbox_searches_sorts_and_pages_with_its_filters_kept() {
    let env = Env::new(OPEN).await;
    let asso = env.token("asso", RoleKind::Applicant).await;
    for i in 0..120u32 {
        let mut a = application_of(&format!("812345678{i:05}"), 1000 + 10 * i);
        if i == 7 {
            a["applicant"]["name"] = json!("Maison des Jeunes d'Istres");
            a["project"]["title"] = json!("Théâtre forum contre les préjugés");
        }
        let r = env.file(&asso, a).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    account(&env, "instr@amp.example", RoleKind::Instructor).await;
    let mut b = Browser::new(env.app.clone());
    b.sign_in("instr@amp.example").await;

    // Real pages: 50 rows, « Page 1 sur 3 », no cap.
    let first = b.get("/instruction").await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(ticks(&first.text), 50);
    assert!(first.text.contains("Page 1 sur 3"), "page count");
    assert!(first.text.contains("120 dossiers"));
    assert!(
        first.text.contains("<strong>120</strong>"),
        "the counts cover them all"
    );
    assert!(
        first.text.contains("id=\"tout-selectionner\""),
        "select all"
    );

    // Sorted by amount, ascending, with a filter: the pages keep both.
    let sorted = b
        .get("/instruction?etat=incomplet&tri=demande&sens=asc")
        .await
        .text;
    let amounts = column(&sorted, "Demandé");
    assert_eq!(amounts.len(), 50);
    assert_eq!(amounts[0], "1\u{202f}000\u{a0}€", "{amounts:?}");
    assert_eq!(amounts[1], "1\u{202f}010\u{a0}€");
    assert_eq!(sorted.matches("aria-sort=").count(), 1, "one sorted column");
    assert!(
        sorted.contains("aria-sort=\"ascending\""),
        "the sorted header says so"
    );
    let demand_header = sorted
        .split("aria-sort=\"ascending\"")
        .nth(1)
        .unwrap()
        .split("</th>")
        .next()
        .unwrap();
    assert!(demand_header.contains("Demandé"), "{demand_header}");
    assert!(
        demand_header.contains("sens=desc"),
        "its link sorts the other way"
    );
    let next = href_of(&sorted, "next");
    assert!(next.contains("etat=incomplet"), "{next}");
    assert!(
        next.contains("tri=demande") && next.contains("sens=asc") && next.contains("page=2"),
        "{next}"
    );
    let second = b.get(&next).await.text;
    assert!(second.contains("Page 2 sur 3"));
    assert_eq!(column(&second, "Demandé")[0], "1\u{202f}500\u{a0}€");
    let prev = href_of(&second, "prev");
    assert!(
        prev.contains("etat=incomplet") && !prev.contains("page="),
        "{prev}"
    );
    let third = b.get(&href_of(&second, "next")).await.text;
    assert_eq!(ticks(&third), 20, "the last page holds the rest");
    assert!(third.contains("Page 3 sur 3"));
    assert!(!third.contains("rel=\"next\""));
    // Descending.
    let desc = b.get("/instruction?tri=demande&sens=desc").await.text;
    assert_eq!(column(&desc, "Demandé")[0], "2\u{202f}190\u{a0}€");
    assert!(desc.contains("aria-sort=\"descending\""));
    // A page number that is not one is a French error, not a 500.
    let bad = b.get("/instruction?page=deux").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.text.contains("Le numéro de page est un nombre"));

    // Search: accents and case ignored, in the applicant's name, the title, the SIRET.
    for q in [
        "theatre",
        "ISTRES",
        "prejuges+forum",
        "812%20345%20678%2000007",
        "81234567800007",
    ] {
        let page = b.get(&format!("/instruction?q={q}")).await.text;
        assert_eq!(ticks(&page), 1, "{q}");
        assert!(page.contains("Théâtre forum contre les préjugés"), "{q}");
        assert!(page.contains("1 dossier"), "{q}");
    }
    let none = b.get("/instruction?q=introuvable").await.text;
    assert_eq!(ticks(&none), 0);
    // The CSV carries every file the filters keep, the search included.
    let csv = b.get("/instruction/dossiers.csv?q=istres").await.text;
    assert_eq!(csv.lines().count(), 2, "{csv}");
    let all = b.get("/instruction/dossiers.csv").await.text;
    assert_eq!(all.lines().count(), 121, "header and every file");

    // The deadline column: an incomplete file's deadline to complete, in French.
    let due = column(&first.text, "Échéance");
    assert!(
        due.iter().all(|d| d.ends_with(" 2021") && !d.contains('-')),
        "{due:?}"
    );
}

/// Brings `n` applications of `amount` each to `a-decider`; the first gets scored opinions.
async fn to_decide(env: &Env, n: usize, amount: u32) -> Vec<String> {
    let instr = env.token("instr", RoleKind::Instructor).await;
    let r1 = env.token("r1", RoleKind::Reviewer).await;
    let r2 = env.token("r2", RoleKind::Reviewer).await;
    let mut ids = Vec::new();
    for i in 0..n {
        let asso = env.token(&format!("asso-{i}"), RoleKind::Applicant).await;
        let id = env
            .eligible(&asso, application_of(&format!("812345678{i:05}"), amount))
            .await;
        env.act(&id, "soumettre-au-comite", &instr, json!({})).await;
        for (r, (d, inn)) in [(&r1, (16, 8)), (&r2, (12, 4))] {
            let mut body = json!({"linked": false, "favourable": true, "opinion": "ok"});
            if i == 0 {
                body["scores"] = json!({"diagnostic": d, "innovation": inn});
            }
            let r = env.act(&id, "donner-avis", r, body).await;
            assert!(r.status.is_success(), "{}", r.body);
        }
        // The instructor proposes what was asked for: the bulk award gives each its proposal.
        let r = env
            .act(
                &id,
                "proposer-decision",
                &instr,
                json!({"amount": amount.to_string()}),
            )
            .await;
        assert_eq!(r.body["state"], "a-decider", "{}", r.body);
        ids.push(id);
    }
    ids
}

fn picked(page: &str, id: &str) -> String {
    let key = format!("value=\"{id}:");
    let at = page.find(&key).expect("the file's checkbox");
    let rest = &page[at + 7..];
    rest[..rest.find('"').unwrap()].to_string()
}

#[tokio::test]
async fn the_score_column_and_a_bulk_award_summarised_then_confirmed() {
    let env = Env::new(OPEN).await;
    let ids = to_decide(&env, 3, 8000).await;
    account(&env, "elue@amp.example", RoleKind::Approver).await;
    let mut b = Browser::new(env.app.clone());
    b.sign_in("elue@amp.example").await;
    let inbox = b.get("/instruction?tri=score").await.text;
    // The scored file first (descending by default), out of 100: the rules' points plus the
    // reviewers' average (24 and 16 → 20).
    let scores = column(&inbox, "Score");
    assert_eq!(scores.len(), 3, "{scores:?}");
    assert!(scores[0].ends_with(" / 100"), "{scores:?}");
    let n: f64 = scores[0]
        .trim_end_matches(" / 100")
        .replace(',', ".")
        .parse()
        .unwrap();
    assert!((20.0..=100.0).contains(&n), "{n}");
    // The files nobody scored show the rules' points alone, computed as the decision page
    // computes them: the reviewers' average is the whole difference.
    assert_eq!(scores[1], scores[2], "{scores:?}");
    let auto: f64 = scores[1]
        .trim_end_matches(" / 100")
        .replace(',', ".")
        .parse()
        .unwrap();
    assert!((n - auto - 20.0).abs() < 1e-9, "{scores:?}");
    assert!(inbox.contains("aria-sort=\"descending\""));

    let fields = [picked(&inbox, &ids[0]), picked(&inbox, &ids[1])];
    let form = |confirm: bool| {
        let mut f = vec![
            ("action", "attribuer"),
            ("dossier", fields[0].as_str()),
            ("dossier", fields[1].as_str()),
        ];
        if confirm {
            f.push(("confirme", "oui"));
        }
        f
    };
    // The first post only summarises: the files, the total, the envelope before and after.
    let summary = b
        .post("/instruction", "/instruction/lot", &form(false))
        .await;
    assert_eq!(summary.status, StatusCode::OK, "{}", summary.text);
    let t = &summary.text;
    assert!(t.contains("Décision groupée\u{a0}: confirmation"));
    assert!(t.contains("Total attribué"));
    assert!(t.contains("16\u{202f}000\u{a0}€"), "the total");
    assert!(t.contains("Reste de l'enveloppe 2021"));
    assert!(t.contains("30\u{202f}000\u{a0}€ avant"), "{t}");
    assert!(
        t.contains("<strong>14\u{202f}000\u{a0}€</strong> après"),
        "{t}"
    );
    assert!(
        t.contains(">Attribuer l'aide\u{a0}: 16\u{202f}000\u{a0}€ à 2 dossiers</button>")
            && t.contains(">Annuler</a>"),
        "{t}"
    );
    assert!(t.contains("name=\"confirme\" value=\"oui\""));
    let elue = env.token("elue-api", RoleKind::Approver).await;
    for id in &ids[..2] {
        let r = env.get(&format!("/api/applications/{id}"), &elue).await;
        assert_eq!(
            r.body["state"], "a-decider",
            "nothing done before confirming"
        );
    }
    // Confirmed: done, with the report.
    let done = b
        .post("/instruction", "/instruction/lot", &form(true))
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    assert!(done.text.contains("Décision groupée\u{a0}: rapport"));
    for id in &ids[..2] {
        let r = env.get(&format!("/api/applications/{id}"), &elue).await;
        assert_eq!(r.body["state"], "attribue", "{}", r.body);
    }
    let r = env
        .get(&format!("/api/applications/{}", ids[2]), &elue)
        .await;
    assert_eq!(
        r.body["state"], "a-decider",
        "the file not picked is untouched"
    );
    // The envelope page reads the same remaining amount.
    let envelope = b
        .get("/plans/amp-pmlcd/fonds/fonds-initiative/enveloppe?annee=2021")
        .await
        .text;
    assert!(envelope.contains("<strong>14\u{202f}000\u{a0}€</strong>"));
}

#[tokio::test]
async fn the_state_filter_groups_states_by_fund_and_the_bulk_list_holds_what_listed_files_can_take()
{
    let env = Env::new(OPEN).await;
    to_decide(&env, 1, 8000).await;
    account(&env, "elue@amp.example", RoleKind::Approver).await;
    let mut b = Browser::new(env.app.clone());
    b.sign_in("elue@amp.example").await;
    // Both plans' funds: one group each, and one option selected even where both funds
    // have a state of that id.
    let all = b.get("/instruction?etat=brouillon").await.text;
    assert!(
        all.contains("<optgroup label=\"Fonds d'initiative métropolitain de prévention des discriminations\">")
            && all.contains("<optgroup label=\"Aide à l'acquisition d'un vélo"),
        "{all}"
    );
    assert_eq!(all.matches(" selected").count(), 1, "one option selected");
    // One fund chosen: its states alone, without groups.
    let one = b
        .get("/instruction?plan=amp-pmlcd&fonds=fonds-initiative")
        .await
        .text;
    assert!(!one.contains("<optgroup"), "{one}");
    assert!(one.contains(">Proposé à la décision de l'élue déléguée</option>"));
    // The bulk actions: the steps of the file waiting for a decision, not every step.
    assert!(one.contains("value=\"attribuer\""), "{one}");
    assert!(!one.contains("value=\"verser-solde\""), "{one}");
}
