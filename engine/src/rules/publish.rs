//! The public description of a fund's algorithm (code des relations entre le public et
//! l'administration, article L312-1-3): its rules, its parameters with their periods and
//! articles, the form it reads and its source, in Markdown and HTML. Both are written from
//! one document built from the compiled ruleset, so what is published is what runs.

use std::fmt::Write as _;

use super::explain::{amount_fr, notice_fr, unit_value_fr};
use super::{DeclKind, Ruleset};
use crate::model::Assessment;
use crate::model::Requirement;

/// A block of the published document.
enum Block {
    Heading(u8, String),
    Paragraph(String),
    Table(Vec<String>, Vec<Vec<String>>),
    Code(String),
}

fn requirement_fr(r: &Requirement) -> String {
    match r {
        Requirement::Optional => "facultatif".into(),
        Requirement::Always => "obligatoire".into(),
        Requirement::When { field, values } => format!(
            "obligatoire si {field} vaut {}",
            values
                .iter()
                .map(|v| v.as_str())
                .collect::<Vec<_>>()
                .join(" ou ")
        ),
    }
}

fn document(rules: &Ruleset) -> Vec<Block> {
    let env = &rules.env;
    let mut b = vec![
        Block::Heading(1, format!("Règles de l'algorithme : {}", env.fund_title)),
        Block::Paragraph(format!(
            "Publication au titre de l'article L312-1-3 du code des relations entre le public et \
l'administration. Plan « {} », fonds « {} ». Version des règles : {}. Ce document est produit \
par metroplan à partir des fichiers exécutés : il ne peut pas différer de ce qui s'applique.",
            env.plan, env.fund, rules.hash
        )),
        Block::Heading(2, "Rôle du traitement".into()),
        Block::Paragraph(notice_fr(rules)),
        Block::Heading(2, "Règles appliquées, dans l'ordre".into()),
    ];
    let mut rows = vec![
        vec![
            "formulaire-champs".into(),
            "Formulaire de demande".into(),
            "Les champs obligatoires du formulaire sont renseignés ; sinon le dossier est incomplet".into(),
            "contrôle du formulaire".into(),
        ],
        vec![
            "formulaire-pieces".into(),
            "Formulaire de demande".into(),
            "Les pièces requises sont jointes ; sinon le dossier est incomplet".into(),
            "contrôle du formulaire".into(),
        ],
    ];
    for d in &rules.declarations {
        let kind = match &d.kind {
            DeclKind::Rule => "règle".to_string(),
            DeclKind::Exception {
                overrides,
                priority,
            } => format!("dérogation à {overrides} (priorité {priority})"),
            DeclKind::Grid => continue,
        };
        rows.push(vec![
            d.id.clone(),
            d.article.clone(),
            d.message.clone(),
            kind,
        ]);
    }
    b.push(Block::Table(
        vec![
            "Règle".into(),
            "Article".into(),
            "Condition".into(),
            "Nature".into(),
        ],
        rows,
    ));
    b.push(Block::Paragraph(
        "Un dossier est irrecevable si une règle n'est pas satisfaite ; sinon il est incomplet \
s'il manque une information ou une pièce (la liste en est communiquée au porteur) ; sinon il est \
recevable. Une dérogation qui s'applique remplace la règle qu'elle vise."
            .into(),
    ));
    b.push(Block::Heading(2, "Paramètres et leurs périodes".into()));
    let mut rows = Vec::new();
    for p in &env.parameters {
        for v in p.values.iter() {
            rows.push(vec![
                p.label.clone(),
                p.id.to_string(),
                unit_value_fr(p.unit, v.value),
                match v.until {
                    Some(u) => format!("du {} au {u}", v.from),
                    None => format!("depuis le {}", v.from),
                },
                v.reference.clone(),
            ]);
        }
    }
    b.push(Block::Table(
        vec![
            "Paramètre".into(),
            "Nom".into(),
            "Valeur".into(),
            "Période".into(),
            "Référence".into(),
        ],
        rows,
    ));
    if let Some(g) = &env.grid {
        b.push(Block::Heading(
            2,
            format!(
                "Grille de sélection (sur {}, {})",
                amount_fr(g.total),
                g.reference
            ),
        ));
        let rows = g
            .criteria
            .iter()
            .map(|c| {
                vec![
                    c.label.clone(),
                    c.points.to_string(),
                    match (c.assessed, &c.field) {
                        (Assessment::Reviewer, _) => "appréciée par les instructeurs".into(),
                        (Assessment::Automatic, Some(f)) => format!("automatique (champ {f})"),
                        (Assessment::Automatic, None) => "automatique (référentiel du plan)".into(),
                    },
                ]
            })
            .collect();
        b.push(Block::Table(
            vec![
                "Critère".into(),
                "Points (paramètre)".into(),
                "Appréciation".into(),
            ],
            rows,
        ));
    }
    b.push(Block::Heading(2, "Formulaire de demande".into()));
    let rows = env
        .form
        .fields
        .iter()
        .map(|f| {
            vec![
                f.path.clone(),
                f.label.clone(),
                serde_json::to_value(f.ty)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                requirement_fr(&f.requirement),
            ]
        })
        .collect();
    b.push(Block::Table(
        vec![
            "Champ".into(),
            "Libellé".into(),
            "Type".into(),
            "Exigence".into(),
        ],
        rows,
    ));
    let rows = env
        .form
        .documents
        .iter()
        .map(|d| {
            vec![
                d.id.to_string(),
                d.label.clone(),
                requirement_fr(&d.requirement),
                d.reference.clone().unwrap_or_default(),
            ]
        })
        .collect();
    b.push(Block::Table(
        vec![
            "Pièce".into(),
            "Libellé".into(),
            "Exigence".into(),
            "Référence".into(),
        ],
        rows,
    ));
    b.push(Block::Heading(2, "Code source des règles".into()));
    b.push(Block::Paragraph(format!("Fichier {} :", rules.script)));
    b.push(Block::Code(rules.source.clone()));
    b
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The publication in Markdown.
pub fn markdown(rules: &Ruleset) -> String {
    let mut o = String::new();
    for block in document(rules) {
        match block {
            Block::Heading(level, t) => {
                let _ = writeln!(o, "{} {t}\n", "#".repeat(level as usize));
            }
            Block::Paragraph(t) => {
                let _ = writeln!(o, "{t}\n");
            }
            Block::Table(head, rows) => {
                let _ = writeln!(
                    o,
                    "| {} |",
                    head.iter()
                        .map(|h| md_cell(h))
                        .collect::<Vec<_>>()
                        .join(" | ")
                );
                let _ = writeln!(o, "|{}|", vec![" --- "; head.len()].join("|"));
                for r in rows {
                    let _ = writeln!(
                        o,
                        "| {} |",
                        r.iter().map(|c| md_cell(c)).collect::<Vec<_>>().join(" | ")
                    );
                }
                o.push('\n');
            }
            Block::Code(src) => {
                let _ = writeln!(o, "```rhai\n{}\n```\n", src.trim_end());
            }
        }
    }
    o
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The publication's body as HTML elements (headings from `h1`), to embed in a page.
pub fn html_fragment(rules: &Ruleset) -> String {
    let mut o = String::new();
    for block in document(rules) {
        match block {
            Block::Heading(level, t) => {
                let _ = writeln!(o, "<h{level}>{}</h{level}>", esc(&t));
            }
            Block::Paragraph(t) => {
                let _ = writeln!(o, "<p>{}</p>", esc(&t));
            }
            Block::Table(head, rows) => {
                o.push_str("<table>\n<thead><tr>");
                for h in head {
                    let _ = write!(o, "<th scope=\"col\">{}</th>", esc(&h));
                }
                o.push_str("</tr></thead>\n<tbody>\n");
                for r in rows {
                    o.push_str("<tr>");
                    for c in r {
                        let _ = write!(o, "<td>{}</td>", esc(&c));
                    }
                    o.push_str("</tr>\n");
                }
                o.push_str("</tbody>\n</table>\n");
            }
            Block::Code(src) => {
                let _ = writeln!(o, "<pre><code>{}</code></pre>", esc(&src));
            }
        }
    }
    o
}

/// The publication as a standalone HTML page, in French.
pub fn html(rules: &Ruleset) -> String {
    let mut o =
        String::from("<!doctype html>\n<html lang=\"fr\">\n<head>\n<meta charset=\"utf-8\">\n");
    let _ = writeln!(
        o,
        "<title>Règles de l'algorithme : {}</title>\n<style>body{{font-family:system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;line-height:1.5}}table{{border-collapse:collapse;width:100%;margin-bottom:1.5rem}}th,td{{border:1px solid #999;padding:.3rem .5rem;text-align:left;vertical-align:top}}pre{{background:#f4f4f4;padding:1rem;overflow-x:auto}}</style>\n</head>\n<body>\n<main>",
        esc(&rules.env.fund_title)
    );
    o.push_str(&html_fragment(rules));
    o.push_str("</main>\n</body>\n</html>\n");
    o
}
