//! The explanation as a French text fit to send to the applicant: what concerns them first,
//! the four items of R311-3-1-2 next, the mention, and last a technical section (rule ids,
//! field paths, the ruleset's hash) that a page folds away.

use std::fmt::Write as _;

use super::{Explanation, NOT_EVALUATED, Stage};
use crate::french::{amount_fr, date_fr};
use crate::rules::{Evaluation, Outcome, Status};

/// The heading that opens the technical section (pages fold what follows it).
pub const TECHNICAL: &str = "Détails techniques";

pub fn text_fr(x: &Explanation, e: &Evaluation) -> String {
    let mut o = String::new();
    match e.filed_on {
        Some(d) => {
            let _ = writeln!(
                o,
                "Examen automatique de votre demande, à la date du {}",
                date_fr(d)
            );
        }
        None => {
            let _ = writeln!(
                o,
                "Examen automatique de votre demande (sa date de dépôt manque)"
            );
        }
    }
    let _ = writeln!(o, "{}", x.verdict);
    let fails: Vec<_> = x
        .unmet
        .iter()
        .filter(|f| f.status == Status::Fail)
        .collect();
    let lacks: Vec<_> = x
        .unmet
        .iter()
        .filter(|f| f.status == Status::Missing)
        .collect();
    if !fails.is_empty() {
        let _ = writeln!(o, "\nConditions non remplies\u{a0}:");
        for f in &fails {
            let _ = writeln!(o, "- {}\u{a0}: {}", f.article, f.text);
        }
    }
    if !x.missing.is_empty() {
        let _ = writeln!(o, "\nÉléments manquants\u{a0}:");
        for m in &x.missing {
            let _ = writeln!(o, "- {m}");
        }
    }
    if !lacks.is_empty() {
        let _ = writeln!(o, "\nConditions qui n'ont pas pu être vérifiées\u{a0}:");
        for f in &lacks {
            let _ = writeln!(o, "- {}\u{a0}: {}", f.article, f.text);
        }
    }
    if !x.met.is_empty() {
        let _ = writeln!(o, "\nConditions remplies\u{a0}:");
        for f in &x.met {
            let _ = writeln!(o, "- {}\u{a0}: {}", f.article, f.text);
        }
    }
    if let Some(s) = &e.score
        && e.outcome == Outcome::Eligible
    {
        let _ = writeln!(
            o,
            "\nGrille de sélection\u{a0}: {} sur {} attribués automatiquement\u{a0}; jusqu'à {} après l'appréciation du comité de sélection.",
            points(s.points),
            points(s.total),
            points(s.max_reachable)
        );
        for g in &x.grid {
            let _ = writeln!(o, "- {}\u{a0}: {}", g.label, g.text);
        }
    }
    let _ = writeln!(
        o,
        "\n1. Contribution du traitement algorithmique\n{}",
        x.contribution
    );
    let _ = writeln!(o, "\n2. Données utilisées et leurs sources");
    for d in &x.data {
        let _ = writeln!(
            o,
            "- {}\u{a0}: {} (source\u{a0}: {})",
            d.label, d.value, d.source
        );
    }
    let _ = writeln!(o, "\n3. Paramètres appliqués à votre dossier");
    if x.parameters.is_empty() {
        let _ = writeln!(o, "- aucun");
    }
    for p in &x.parameters {
        let _ = writeln!(
            o,
            "- {}\u{a0}: {}, en vigueur {} ({})",
            p.label, p.value, p.period, p.reference
        );
    }
    let _ = writeln!(o, "\n4. Opérations effectuées");
    let counts = |s: &str| x.operations.iter().filter(|op| op.result == s).count();
    // "1 remplie", "2 remplies", "0 remplie".
    let n = |k: usize, one: &str, many: &str| format!("{k} {}", if k > 1 { many } else { one });
    let _ = writeln!(
        o,
        "Le traitement a examiné {} du règlement, dans l'ordre de ses articles\u{a0}: {}, {}, {} faute d'information, {}.",
        n(x.operations.len(), "condition", "conditions"),
        n(counts("remplie"), "remplie", "remplies"),
        n(counts("non remplie"), "non remplie", "non remplies"),
        n(
            counts("information manquante"),
            "impossible à vérifier",
            "impossibles à vérifier"
        ),
        n(
            counts("sans objet pour ce dossier")
                + counts("remplacée par une dérogation")
                + counts(NOT_EVALUATED),
            "sans objet pour votre dossier ou remplacée par une dérogation",
            "sans objet pour votre dossier ou remplacées par une dérogation"
        ),
    );
    for op in &x.operations {
        let _ = writeln!(
            o,
            "- {}\u{a0}: {} — {}",
            op.article, op.description, op.result
        );
    }
    let _ = writeln!(o, "\nVos droits\u{a0}:\n{}", x.notice);
    if x.stage == Stage::Pending {
        let _ = writeln!(
            o,
            "Ce résultat n'est pas une décision\u{a0}: la décision vous est notifiée par écrit, avec ses motifs et les voies de recours."
        );
    }
    let _ = writeln!(o, "\n{TECHNICAL}");
    for op in &x.operations {
        let _ = writeln!(
            o,
            "- contrôle {} ({})\u{a0}: {}{}",
            op.rule,
            op.article,
            op.result,
            if op.detail.is_empty() {
                String::new()
            } else {
                format!(" — {}", op.detail)
            }
        );
    }
    let _ = writeln!(o, "- version des règles\u{a0}: {}", x.ruleset);
    o
}

fn points(p: rust_decimal::Decimal) -> String {
    format!("{}\u{a0}points", amount_fr(p))
}
