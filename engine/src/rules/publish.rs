//! The public description of a fund's algorithm (code des relations entre le public et
//! l'administration, article L312-1-3): its rules, its parameters with their periods and
//! articles, the form it reads and its source, in Markdown and HTML; with the authority and
//! its contact, the publication date, the call calendar and the territorial reference the
//! rules read. Both are written from one document built from the compiled ruleset and the
//! plan it was compiled from, so what is published is what runs. Internal names (rules,
//! parameters, fields) and the rules' hash are only in the closing technical annex.

use std::fmt::Write as _;

use jiff::civil::Date;

use super::explain::{amount_fr, unit_value_fr};
use super::{DeclKind, Declaration, Ruleset};
use crate::french::{date_fr, period_fr};
use crate::model::{
    Administration, Assessment, ChoiceSet, Field, FieldType, Form, Fund, Plan, Requirement,
    Territory, TerritoryLevel,
};

/// A block of the published document.
enum Block {
    Heading(u8, String),
    Paragraph(String),
    List(Vec<String>),
    Table(Vec<String>, Vec<Vec<String>>),
    /// A two-column table whose second column holds names the script uses (shown as code).
    Names([String; 2], Vec<(String, String)>),
    /// A paragraph naming something of the code: the text before, the name, the text after.
    Naming(String, String, String),
    Code(String),
}

/// What the publication is written from: the plan and the fund as loaded, the fund's
/// compiled rules, and the day of publication (given by the caller: the engine reads no
/// clock).
#[derive(Debug, Clone, Copy)]
pub struct Publication<'a> {
    pub plan: &'a Plan,
    pub fund: &'a Fund,
    pub rules: &'a Ruleset,
    pub on: Date,
}

impl<'a> Publication<'a> {
    /// The publication of `fund`'s rules on day `on`; `None` when its rules did not compile.
    pub fn new(plan: &'a Plan, fund: &'a Fund, on: Date) -> Option<Publication<'a>> {
        let rules = fund.ruleset.as_deref()?;
        Some(Publication {
            plan,
            fund,
            rules,
            on,
        })
    }

    /// The publication in Markdown.
    pub fn markdown(&self) -> String {
        let mut d = document(self);
        d.push(Block::Heading(2, ANNEX.into()));
        d.extend(annex(self));
        markdown_of(d)
    }

    /// The publication's body as HTML elements (headings from `h1`), to embed in a page.
    pub fn html_fragment(&self) -> String {
        let (text, annex) = self.html_parts();
        format!("{text}<h2>{ANNEX}</h2>\n{annex}")
    }

    /// The publication's text and its technical annex (without its heading, [`ANNEX`]) apart,
    /// as HTML elements: a page shows the text and folds the annex, which is written for
    /// readers of the source.
    pub fn html_parts(&self) -> (String, String) {
        (html_of(document(self)), html_of(annex(self)))
    }

    /// The publication as a standalone HTML page, in French.
    pub fn html(&self) -> String {
        let mut o =
            String::from("<!doctype html>\n<html lang=\"fr\">\n<head>\n<meta charset=\"utf-8\">\n");
        let _ = writeln!(
            o,
            "<title>Règles de l'algorithme : {}</title>\n<style>body{{font-family:system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;line-height:1.5}}table{{border-collapse:collapse;width:100%;margin-bottom:1.5rem}}th,td{{border:1px solid #999;padding:.3rem .5rem;text-align:left;vertical-align:top}}pre{{background:#f4f4f4;padding:1rem;overflow-x:auto}}</style>\n</head>\n<body>\n<main>",
            esc(&self.fund.title)
        );
        o.push_str(&self.html_fragment());
        o.push_str("</main>\n</body>\n</html>\n");
        o
    }
}

/// A field's type as people name it.
fn type_fr(form: &Form, f: &Field) -> String {
    let choices = || {
        choice_set(form, f)
            .map(|c| {
                c.options
                    .iter()
                    .map(|o| o.label.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default()
    };
    match f.ty {
        FieldType::Text => "texte".into(),
        FieldType::LongText => "texte long".into(),
        FieldType::Integer => "nombre entier".into(),
        FieldType::Year => "année".into(),
        FieldType::Commune => "commune".into(),
        FieldType::Money => "montant en euros".into(),
        FieldType::Boolean => "oui ou non".into(),
        FieldType::Date => "date".into(),
        FieldType::Choice => format!("un choix parmi : {}", choices()),
        FieldType::Choices => format!("un ou plusieurs choix parmi : {}", choices()),
        FieldType::Siret => "numéro SIRET (14 chiffres)".into(),
        FieldType::Communes => "liste de communes".into(),
        FieldType::Documents => "pièces jointes (liste ci-dessous)".into(),
    }
}

fn choice_set<'f>(form: &'f Form, f: &Field) -> Option<&'f ChoiceSet> {
    let id = f.choices.as_ref()?;
    form.choices.iter().find(|c| c.id == *id)
}

/// A value of a field as people read it: a choice's label, `oui` or `non`.
fn value_label(form: &Form, f: Option<&Field>, value: &str) -> String {
    if let Some(f) = f {
        if f.ty == FieldType::Boolean {
            return match value {
                "true" => "oui".into(),
                "false" => "non".into(),
                v => v.into(),
            };
        }
        if let Some(o) =
            choice_set(form, f).and_then(|c| c.options.iter().find(|o| o.id.as_str() == value))
        {
            return o.label.clone();
        }
    }
    value.into()
}

/// When a field or a piece is required, with the form's labels.
fn requirement_fr(form: &Form, r: &Requirement) -> String {
    match r {
        Requirement::Optional => "facultatif".into(),
        Requirement::Always => "obligatoire".into(),
        Requirement::When { field, values } => {
            let f = form.fields.iter().find(|f| f.path == *field);
            let label = f.map_or_else(|| field.clone(), |f| f.label.clone());
            format!(
                "obligatoire si « {label} » est {}",
                values
                    .iter()
                    .map(|v| format!("« {} »", value_label(form, f, v.as_str())))
                    .collect::<Vec<_>>()
                    .join(" ou ")
            )
        }
    }
}

fn period_of(from: Date, until: Option<Date>) -> String {
    match until {
        Some(u) => period_fr(from, u),
        None => format!("depuis le {}", date_fr(from)),
    }
}

fn level_fr(l: TerritoryLevel) -> &'static str {
    match l {
        TerritoryLevel::Area => "Territoire du plan",
        TerritoryLevel::Council => "Conseils de territoire",
        TerritoryLevel::Commune => "Communes",
        TerritoryLevel::Neighbourhood => "Quartiers prioritaires",
    }
}

/// Whether territory `t` has `flag`, itself or through a territory that contains it (as the
/// rules' `has_flag` reads it): `oui`, `par <the territory that has it>`, or `non`.
fn flag_cell(plan: &Plan, t: &Territory, flag: &str) -> String {
    if t.flags.iter().any(|f| f.as_str() == flag) {
        return "oui".into();
    }
    match plan
        .ancestors(t.id.as_str())
        .find(|a| a.flags.iter().any(|f| f.as_str() == flag))
    {
        Some(a) => format!("par {}", a.name),
        None => "non".into(),
    }
}

fn administration(b: &mut Vec<Block>, a: Option<&Administration>) {
    b.push(Block::Heading(2, "Autorité responsable et contact".into()));
    let Some(a) = a else {
        b.push(Block::Paragraph(
            "Le plan ne déclare pas l'autorité responsable de ce fonds.".into(),
        ));
        return;
    };
    let mut items = vec![
        format!("Autorité responsable : {} (SIRET {})", a.authority, a.siret),
        format!("Service instructeur : {}", a.service),
        format!("Adresse : {}", a.address),
        format!("Courriel : {}", a.email),
        format!("Téléphone : {}", a.phone),
    ];
    if let Some(w) = &a.website {
        items.push(format!("Site : {w}"));
    }
    b.push(Block::List(items));
    b.push(Block::Paragraph(format!(
        "Toute personne peut obtenir de ce service la communication des règles de ce \
traitement et, pour son dossier, de la manière dont elles lui ont été appliquées (article \
R311-3-1-2 du code des relations entre le public et l'administration). Une décision peut être \
contestée devant la juridiction compétente : {}.",
        a.court
    )));
}

fn calendar(b: &mut Vec<Block>, fund: &Fund) {
    b.push(Block::Heading(2, "Calendrier des appels à projets".into()));
    if fund.calls.is_empty() {
        b.push(Block::Paragraph(
            "Le fonds n'a pas d'appel à projets.".into(),
        ));
        return;
    }
    b.push(Block::List(
        fund.calls
            .iter()
            .map(|c| format!("Appel {} : {}", c.year, period_fr(c.opens, c.closes)))
            .collect(),
    ));
    let mut references: Vec<&str> = Vec::new();
    for c in &fund.calls {
        if !references.contains(&c.reference.as_str()) {
            references.push(&c.reference);
        }
    }
    b.push(Block::Paragraph(format!(
        "Un dossier est déposé pendant l'appel de son année, premier et dernier jours compris \
({}).",
        references.join(" ; ")
    )));
}

fn territories(b: &mut Vec<Block>, plan: &Plan) {
    if plan.territories.is_empty() {
        return;
    }
    b.push(Block::Heading(2, "Référentiel territorial".into()));
    b.push(Block::Paragraph(
        "Les règles lisent les caractéristiques des territoires ci-dessous. Un territoire a \
aussi les caractéristiques des territoires qui le contiennent."
            .into(),
    ));
    let levels = [
        TerritoryLevel::Area,
        TerritoryLevel::Council,
        TerritoryLevel::Commune,
        TerritoryLevel::Neighbourhood,
    ];
    for flag in &plan.territory_flags {
        b.push(Block::Heading(3, flag.label.clone()));
        if let Some(d) = &flag.description {
            b.push(Block::Paragraph(d.clone()));
        }
        let items: Vec<String> = levels
            .iter()
            .filter_map(|&level| {
                let names: Vec<&str> = plan
                    .territories
                    .iter()
                    .filter(|t| t.level == level && t.flags.contains(&flag.id))
                    .map(|t| t.name.as_str())
                    .collect();
                (!names.is_empty()).then(|| format!("{} : {}", level_fr(level), names.join(", ")))
            })
            .collect();
        if items.is_empty() {
            b.push(Block::Paragraph("Aucun territoire.".into()));
        } else {
            b.push(Block::List(items));
        }
    }
    let communes: Vec<&Territory> = plan
        .territories
        .iter()
        .filter(|t| t.level == TerritoryLevel::Commune)
        .collect();
    if communes.is_empty() {
        return;
    }
    b.push(Block::Heading(3, "Communes membres".into()));
    let mut head = vec![
        "Commune".to_string(),
        "Code INSEE".into(),
        "Conseil de territoire".into(),
    ];
    head.extend(plan.territory_flags.iter().map(|f| f.label.clone()));
    let rows = communes
        .iter()
        .map(|t| {
            let mut row = vec![
                t.name.clone(),
                t.code.clone().unwrap_or_default(),
                plan.council_of(t.id.as_str())
                    .map_or_else(|| "—".to_string(), |c| c.name.clone()),
            ];
            row.extend(
                plan.territory_flags
                    .iter()
                    .map(|f| flag_cell(plan, t, f.id.as_str())),
            );
            row
        })
        .collect();
    b.push(Block::Table(head, rows));
}

/// The title of the technical annex.
pub const ANNEX: &str = "Annexe technique";

/// The form's two checks come first: the script's declarations are numbered from 3.
const FIRST_DECLARATION: usize = 3;

fn document(p: &Publication<'_>) -> Vec<Block> {
    let Publication {
        plan,
        fund,
        rules,
        on,
    } = *p;
    let env = &rules.env;
    let form = &env.form;
    let authority = fund
        .administration
        .as_ref()
        .map_or_else(String::new, |a| format!(", {}", a.authority));
    let mut b = vec![
        Block::Heading(1, format!("Règles de l'algorithme : {}", fund.title)),
        Block::Paragraph(format!(
            "Publication au titre de l'article L312-1-3 du code des relations entre le public et \
l'administration : les règles du traitement algorithmique qui examine les demandes au fonds « {} » \
({}{}). Publié le {}. Ce document est produit à partir des règles exécutées : il ne peut pas \
différer de ce qui s'applique.",
            fund.title,
            plan.title,
            authority,
            date_fr(on)
        )),
    ];
    administration(&mut b, fund.administration.as_ref());
    b.push(Block::Heading(2, "Rôle du traitement".into()));
    b.push(Block::Paragraph(
        "Le traitement applique à chaque dossier déposé les règles du règlement du fonds \
énumérées ci-dessous, avec les paramètres en vigueur à la date du dépôt. Il conclut que le \
dossier est recevable, incomplet (il manque une information ou une pièce, dont la liste est \
communiquée au porteur) ou irrecevable (une règle n'est pas satisfaite). La suite de \
l'instruction et la décision suivent le circuit du fonds."
            .into(),
    ));
    calendar(&mut b, fund);
    b.push(Block::Heading(2, "Règles appliquées, dans l'ordre".into()));
    let mut rows = vec![
        vec![
            "1".to_string(),
            "Formulaire de demande".into(),
            "Les informations obligatoires du formulaire sont renseignées ; sinon le dossier est \
incomplet"
                .into(),
            "contrôle du formulaire".into(),
        ],
        vec![
            "2".to_string(),
            "Formulaire de demande".into(),
            "Les pièces requises sont jointes ; sinon le dossier est incomplet".into(),
            "contrôle du formulaire".into(),
        ],
    ];
    let numbered = numbered(rules);
    let number_of = |id: &str| {
        numbered
            .iter()
            .position(|d| d.id == id)
            .map(|i| i + FIRST_DECLARATION)
    };
    for (i, d) in numbered.iter().enumerate() {
        let kind = match &d.kind {
            DeclKind::Exception { overrides, .. } => match number_of(overrides) {
                Some(n) => format!("dérogation à la règle n° {n}"),
                None => "dérogation".into(),
            },
            _ => "règle".to_string(),
        };
        rows.push(vec![
            (i + FIRST_DECLARATION).to_string(),
            d.article.clone(),
            d.message.clone(),
            kind,
        ]);
    }
    b.push(Block::Table(
        vec![
            "N°".into(),
            "Article".into(),
            "Condition".into(),
            "Nature".into(),
        ],
        rows,
    ));
    b.push(Block::Paragraph(
        "Un dossier est irrecevable si une règle n'est pas satisfaite ; sinon il est incomplet \
s'il manque une information ou une pièce ; sinon il est recevable. Une dérogation qui \
s'applique remplace la règle qu'elle vise."
            .into(),
    ));
    b.push(Block::Heading(2, "Paramètres et leurs périodes".into()));
    let mut rows = Vec::new();
    for p in &env.parameters {
        for v in p.values.iter() {
            rows.push(vec![
                p.label.clone(),
                unit_value_fr(p.unit, v.value),
                period_of(v.from, v.until),
                v.reference.clone(),
            ]);
        }
    }
    b.push(Block::Table(
        vec![
            "Paramètre".into(),
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
                "Grille de sélection (sur {} points, {})",
                amount_fr(g.total),
                g.reference
            ),
        ));
        let rows = g
            .criteria
            .iter()
            .map(|c| {
                let points = env
                    .parameters
                    .iter()
                    .find(|p| p.id == c.points)
                    .and_then(|p| p.values.at(on).map(|v| unit_value_fr(p.unit, v.value)))
                    .unwrap_or_else(|| "—".into());
                let assessed = match (c.assessed, &c.field) {
                    (Assessment::Reviewer, _) => "appréciée par le comité de sélection".to_string(),
                    (Assessment::Automatic, Some(f)) => format!(
                        "automatique (« {} »)",
                        form.fields
                            .iter()
                            .find(|x| x.path == *f)
                            .map_or(f.as_str(), |x| x.label.as_str())
                    ),
                    (Assessment::Automatic, None) => "automatique (référentiel territorial)".into(),
                };
                vec![c.label.clone(), points, assessed]
            })
            .collect();
        b.push(Block::Table(
            vec![
                "Critère".into(),
                format!("Points au {}", date_fr(on)),
                "Appréciation".into(),
            ],
            rows,
        ));
    }
    territories(&mut b, plan);
    b.push(Block::Heading(2, "Formulaire de demande".into()));
    let rows = form
        .fields
        .iter()
        .map(|f| {
            vec![
                f.label.clone(),
                type_fr(form, f),
                requirement_fr(form, &f.requirement),
            ]
        })
        .collect();
    b.push(Block::Table(
        vec![
            "Information demandée".into(),
            "Type".into(),
            "Exigence".into(),
        ],
        rows,
    ));
    let rows = form
        .documents
        .iter()
        .map(|d| {
            vec![
                d.label.clone(),
                requirement_fr(form, &d.requirement),
                d.reference.clone().unwrap_or_default(),
            ]
        })
        .collect();
    b.push(Block::Table(
        vec!["Pièce".into(), "Exigence".into(), "Référence".into()],
        rows,
    ));
    b
}

/// The declarations the publication numbers (the grid is not a rule), in the script's order.
fn numbered(rules: &Ruleset) -> Vec<&Declaration> {
    rules
        .declarations
        .iter()
        .filter(|d| !matches!(d.kind, DeclKind::Grid))
        .collect()
}

fn annex(p: &Publication<'_>) -> Vec<Block> {
    let mut b = Vec::new();
    technical(&mut b, p.plan, p.rules, &numbered(p.rules));
    b
}

/// The technical annex: what a reader of the source code needs (the names the script uses,
/// the version of the rules), kept apart from the text.
fn technical(b: &mut Vec<Block>, plan: &Plan, rules: &Ruleset, numbered: &[&Declaration]) {
    let env = &rules.env;
    b.push(Block::Naming(
        "Cette annexe sert à lire le code source des règles : elle donne les noms que le script \
emploie. Version des règles (empreinte du script, des paramètres, du formulaire, des appels et \
des territoires) : "
            .into(),
        rules.hash.clone(),
        ".".into(),
    ));
    b.push(Block::Names(
        ["N°".into(), "Nom de la règle dans le script".into()],
        numbered
            .iter()
            .enumerate()
            .map(|(i, d)| ((i + FIRST_DECLARATION).to_string(), d.id.clone()))
            .collect(),
    ));
    b.push(Block::Names(
        ["Paramètre".into(), "Nom dans le script".into()],
        env.parameters
            .iter()
            .map(|p| (p.label.clone(), p.id.to_string()))
            .collect(),
    ));
    b.push(Block::Names(
        ["Information demandée".into(), "Nom du champ".into()],
        env.form
            .fields
            .iter()
            .map(|f| (f.label.clone(), f.path.clone()))
            .chain(
                env.form
                    .documents
                    .iter()
                    .map(|d| (d.label.clone(), format!("documents.{}", d.id))),
            )
            .collect(),
    ));
    if !plan.territory_flags.is_empty() {
        b.push(Block::Names(
            ["Caractéristique".into(), "Nom dans le script".into()],
            plan.territory_flags
                .iter()
                .map(|f| (f.label.clone(), f.id.to_string()))
                .collect(),
        ));
    }
    // The file's name only: where the server keeps it is nobody's business.
    let file = std::path::Path::new(&rules.script).file_name().map_or_else(
        || rules.script.clone(),
        |f| f.to_string_lossy().into_owned(),
    );
    b.push(Block::Heading(3, "Code source des règles".into()));
    b.push(Block::Naming("Script ".into(), file, " :".into()));
    b.push(Block::Code(rules.source.clone()));
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn markdown_of(document: Vec<Block>) -> String {
    let mut o = String::new();
    for block in document {
        match block {
            Block::Heading(level, t) => {
                let _ = writeln!(o, "{} {t}\n", "#".repeat(level as usize));
            }
            Block::Paragraph(t) => {
                let _ = writeln!(o, "{t}\n");
            }
            Block::List(items) => {
                for i in items {
                    let _ = writeln!(o, "- {}", i.replace('\n', " "));
                }
                o.push('\n');
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
            Block::Names(head, rows) => {
                let _ = writeln!(o, "| {} | {} |", md_cell(&head[0]), md_cell(&head[1]));
                let _ = writeln!(o, "| --- | --- |");
                for (label, name) in rows {
                    let _ = writeln!(o, "| {} | `{}` |", md_cell(&label), md_cell(&name));
                }
                o.push('\n');
            }
            Block::Naming(before, name, after) => {
                let _ = writeln!(o, "{before}`{name}`{after}\n");
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

fn html_of(document: Vec<Block>) -> String {
    let mut o = String::new();
    for block in document {
        match block {
            Block::Heading(level, t) => {
                let _ = writeln!(o, "<h{level}>{}</h{level}>", esc(&t));
            }
            Block::Paragraph(t) => {
                let _ = writeln!(o, "<p>{}</p>", esc(&t));
            }
            Block::List(items) => {
                o.push_str("<ul>\n");
                for i in items {
                    let _ = writeln!(o, "<li>{}</li>", esc(&i));
                }
                o.push_str("</ul>\n");
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
            Block::Names(head, rows) => {
                let _ = writeln!(
                    o,
                    "<table>\n<thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead>\n<tbody>",
                    esc(&head[0]),
                    esc(&head[1])
                );
                for (label, name) in rows {
                    let _ = writeln!(
                        o,
                        "<tr><td>{}</td><td><code>{}</code></td></tr>",
                        esc(&label),
                        esc(&name)
                    );
                }
                o.push_str("</tbody>\n</table>\n");
            }
            Block::Naming(before, name, after) => {
                let _ = writeln!(
                    o,
                    "<p>{}<code>{}</code>{}</p>",
                    esc(&before),
                    esc(&name),
                    esc(&after)
                );
            }
            Block::Code(src) => {
                let _ = writeln!(o, "<pre><code>{}</code></pre>", esc(&src));
            }
        }
    }
    o
}
