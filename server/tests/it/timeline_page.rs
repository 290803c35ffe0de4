//! The timeline page through the router: the chart fits the page's column (a viewBox scaled to
//! it), no label is cut, the legend says what critical means and what it gives, the list by
//! quarter holds every item of the chart, and a what-if lists and draws what moves.

use axum::http::StatusCode;
use metroplan_engine::model::RoleKind;

use crate::support::*;
use crate::web::{Browser, account};

const OPEN: &str = "2021-03-01T10:00:00+01:00";

fn svg_of(page: &str) -> &str {
    let at = page.find("<svg").expect("a chart");
    let end = page[at..].find("</svg>").expect("the chart ends") + at;
    &page[at..end + 6]
}

/// The ids of the chart's items (`id="item-…"` of their groups), in order.
fn chart_items(svg: &str) -> Vec<String> {
    svg.split("<g class=\"element")
        .skip(1)
        .map(|g| {
            g.split("id=\"item-")
                .nth(1)
                .and_then(|r| r.split('"').next())
                .expect("an item id")
                .to_string()
        })
        .collect()
}

#[tokio::test]
async fn the_chart_fits_its_column_with_every_label_whole_and_a_legend() {
    let env = Env::new(OPEN).await;
    let mut b = Browser::new(env.app.clone());
    let r = b.get("/plans/amp-pmlcd/calendrier").await;
    assert_eq!(r.status, StatusCode::OK);
    let page = &r.text;
    let svg = svg_of(page);
    // Drawn on a viewBox the page scales to its column (CSS `width: 100%`), 1 100 units wide.
    let head = &svg[..svg.find('>').unwrap()];
    assert!(head.contains("viewBox=\"0 0 1100 "), "{head}");
    let css = b.get("/static/style.css").await.text;
    assert!(
        css.contains("figure.gantt svg { display: block; width: 100%;"),
        "the chart is scaled to the column"
    );
    // Every label whole: no ellipsis, and every title of the plan in the chart's text.
    assert!(!svg.contains('…'), "a label was cut");
    let plan = metroplan_engine::load_dir(repo().join("plans/amp-pmlcd"))
        .plan
        .unwrap();
    let decode = |t: &str| {
        t.replace("&#39;", "'")
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
            .replace(['\u{a0}', '\u{202f}'], " ")
    };
    let lines: Vec<String> = svg
        .split("<tspan")
        .skip(1)
        .filter_map(|t| t.split('>').nth(1)?.split('<').next())
        .map(decode)
        .collect();
    let joined = lines
        .join(" ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for a in &plan.actions {
        let title = decode(&a.title)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        assert!(joined.contains(&title), "whole, wrapped: {title}");
    }
    assert!(
        lines.iter().all(|l| l.chars().count() <= 38),
        "lines fit the label column"
    );
    // The whole horizon: a year label for each year to 2025.
    for year in 2020..=2025 {
        assert!(svg.contains(&format!(">{year}</text>")), "{year}");
    }
    // The legend: each axis's colour, and what critical means; nothing is critical in this
    // plan, so the page says so instead of announcing red.
    assert!(page.contains("class=\"legende-gantt\""));
    assert_eq!(
        page.matches("class=\"pastille axe-").count(),
        plan.axes.len(),
        "a colour per axis"
    );
    assert!(
        page.contains("Action critique\u{a0}: marge nulle"),
        "the definition"
    );
    assert!(page.contains("la fin du plan (31 décembre 2025)"));
    assert!(page.contains("Aucune action critique\u{a0}: la plus petite marge est de"));
    assert!(!page.contains("Chemin critique en rouge"));
}

#[tokio::test]
async fn the_list_by_quarter_holds_every_item_of_the_chart() {
    let env = Env::new(OPEN).await;
    let mut b = Browser::new(env.app.clone());
    for uri in [
        "/plans/amp-pmlcd/calendrier",
        "/plans/amp-pmlcd/calendrier?axe=metropole-exemplaire",
        "/plans/lyon-pama/calendrier",
    ] {
        let page = b.get(uri).await.text;
        let mut chart = chart_items(svg_of(&page));
        let list = page
            .split("class=\"vue-liste\"")
            .nth(1)
            .expect("the list view")
            .split("</section>")
            .next()
            .unwrap();
        assert!(list.contains("trimestre 20"), "{uri}: grouped by quarter");
        assert!(list.contains("<h3>1er trimestre 2020</h3>") || uri.contains("lyon"));
        let mut listed: Vec<String> = list
            .split("data-element=\"")
            .skip(1)
            .map(|r| r.split('"').next().unwrap().to_string())
            .collect();
        listed.sort();
        listed.dedup();
        chart.sort();
        assert!(!chart.is_empty(), "{uri}");
        assert_eq!(
            listed, chart,
            "{uri}: every item of the chart, and only them"
        );
        // Dates in French.
        assert!(!list.contains("2020-"), "{uri}");
    }
    let css = b.get("/static/style.css").await.text;
    assert!(css.contains(".vue-liste { display: none; }"));
    assert!(css.contains("@media (max-width: 37.49rem) {\n  figure.gantt { display: none; }\n  .vue-liste { display: block; }"));
}

#[tokio::test]
async fn a_what_if_lists_the_moved_items_above_the_chart_and_draws_them_on_it() {
    let env = Env::new(OPEN).await;
    account(&env, "instr@amp.example", RoleKind::Instructor).await;
    let mut b = Browser::new(env.app.clone());
    b.sign_in("instr@amp.example").await;
    let r = b
        .post(
            "/plans/amp-pmlcd/calendrier",
            "/plans/amp-pmlcd/calendrier",
            &[("element", "plan-formation"), ("jours", "60")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let page = &r.text;
    let result = page.find("id=\"simulation\"").expect("the result");
    let chart = page.find("<figure class=\"gantt\"").expect("the chart");
    assert!(
        result < chart,
        "the result comes before the chart, not below it"
    );
    let table = &page[result..chart];
    // plan-formation and the label it leads to move; each moved item is a row and a
    // hatched bar.
    let rows = table.matches("<th scope=\"row\"").count();
    assert!(rows >= 3, "{table}");
    assert!(table.contains("Plan de formation des agents"));
    assert!(table.contains("Labels AFNOR Diversité et Égalité professionnelle obtenus"));
    assert!(table.contains("actions décalées"));
    assert!(!table.contains("2021-"), "dates in French");
    let svg = svg_of(page);
    assert_eq!(
        svg.matches("class=\"glisse\"").count(),
        rows,
        "one slipped bar per moved item"
    );
    assert!(page.contains("Barre hachurée\u{a0}: dates après le glissement simulé."));
    // The form keeps what was asked.
    assert!(page.contains("<option value=\"plan-formation\" selected>"));
    assert!(page.contains("value=\"60\""));
}
