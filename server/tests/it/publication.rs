//! The public page of a fund's algorithm (L312-1-3): the publication the engine writes,
//! dated today in the plan's time zone, without the server's paths.

use axum::http::{Method, StatusCode};

use crate::support::*;

#[tokio::test]
async fn publication_page_shows_no_server_path_and_is_dated_today_in_the_plans_time_zone() {
    // 23:30 UTC on 28 February is already 1 March in Marseille.
    let env = Env::new("2021-02-28T23:30:00Z").await;
    let r = env
        .call(
            Method::GET,
            &format!("/plans/{PLAN}/fonds/{FUND}/algorithme"),
            None,
            &[],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let page = &r.text;
    assert!(page.contains("Publié le 1er mars 2021."), "{page}");
    let plans = repo().join("plans");
    assert!(!page.contains(plans.to_str().unwrap()), "a server path");
    assert!(!page.contains("rules/fonds-initiative.rhai"), "a path");
    for needle in [
        "<h3>Calendrier des appels à projets</h3>",
        "<li>Appel 2021\u{a0}: du 1er février au 31 mars 2021</li>",
        "<h3>Référentiel territorial</h3>",
        "<h3>Autorité responsable et contact</h3>",
        "<td>oui ou non</td>",
        "<td>montant en euros</td>",
    ] {
        assert!(page.contains(needle), "{needle}");
    }
    for internal in ["<td>boolean</td>", "<td>money</td>", " vaut entreprise_ess"] {
        assert!(!page.contains(internal), "{internal}");
    }
    let (text, annex) = page.split_once("<details class=\"annexe\">").unwrap();
    assert!(!text.contains("sha256"), "the hash only in the annex");
    // The names the script uses and its source are folded: a person reads the text first.
    assert!(annex.contains("<summary>Annexe technique"), "{annex}");
    let (folded, _) = annex.split_once("</details>").unwrap();
    assert!(
        folded.contains("<pre tabindex=\"0\"><code>"),
        "the source, folded"
    );
    assert!(
        folded.contains("<td><code>documents."),
        "the pieces by their names in the script"
    );
    assert!(!text.contains("<pre"), "no source outside the annex");
}
