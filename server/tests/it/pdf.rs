//! The PDF letters (`server/src/pdf/`), read back with the tools a reader's machine has:
//! qpdf checks the file's structure, poppler's `pdftotext`, `pdfinfo` and `pdffonts` give back
//! the text, the metadata and the fonts. A missing tool fails the test (`cargo xtask setup`
//! installs them: poppler-utils, qpdf).

use std::io::Write;
use std::process::Command;

use metroplan_server::pdf::{Block, Document, render, unprintable};
use proptest::prelude::*;

const NNBSP: char = '\u{202F}';
const NBSP: char = '\u{A0}';

/// Runs `program` on the PDF (written to a temporary file) and returns its standard output;
/// panics with the tool's own words when it fails or is not installed.
fn tool(program: &str, args: &[&str], pdf: &[u8]) -> String {
    let mut file = tempfile::Builder::new()
        .suffix(".pdf")
        .tempfile()
        .expect("a temporary file");
    file.write_all(pdf).expect("write the PDF");
    let path = file.path().to_str().expect("a UTF-8 path");
    let mut command = Command::new(program);
    command.args(args).arg(path);
    if program == "pdftotext" {
        command.arg("-");
    }
    let out = command.output().unwrap_or_else(|e| {
        panic!(
            "{program} could not be run ({e}): install poppler-utils and qpdf \
             (`cargo xtask setup` does, as root)"
        )
    });
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{program} {args:?} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn text(pdf: &[u8], layout: bool) -> String {
    let args: &[&str] = if layout {
        &["-layout", "-enc", "UTF-8"]
    } else {
        &["-enc", "UTF-8"]
    };
    tool("pdftotext", args, pdf)
}

/// The words of `s`, split at every kind of space, so that a comparison does not depend on
/// where lines broke or how many spaces the layout put between columns.
fn words(s: &str) -> Vec<String> {
    s.split(|c: char| c.is_whitespace() || c == NBSP || c == NNBSP)
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `needle`'s words appear in `hay`'s words, consecutively and in order.
fn has_words(hay: &str, needle: &str) -> bool {
    let (h, n) = (words(hay), words(needle));
    n.is_empty() || h.windows(n.len()).any(|w| w == n.as_slice())
}

fn letter() -> Document {
    Document {
        title: "Décision d'attribution — dossier 2021-0042".into(),
        author: "Métropole Aix-Marseille-Provence".into(),
        date: jiff::civil::date(2021, 3, 1),
        letterhead: vec![
            "Métropole Aix-Marseille-Provence".into(),
            "Direction de la mobilité".into(),
            "Le Pharo, 58 boulevard Charles Livon, 13007 Marseille".into(),
            "mobilite@ampmetropole.fr — 04 91 99 99 99".into(),
        ],
        recipient: vec![
            "Association « Vélo en ville »".into(),
            "Madame la Présidente".into(),
            "12 rue de l'Église".into(),
            "13127 Vitrolles".into(),
        ],
        place_and_date: "Marseille, le 1er mars 2021".into(),
        reference: vec![
            (
                "Objet".into(),
                "Attribution d'une subvention au titre du fonds d'initiative".into(),
            ),
            ("Dossier".into(), "2021-0042".into()),
            (
                "Affaire suivie par".into(),
                "Jeanne Martin, instructrice".into(),
            ),
        ],
        blocks: vec![
            Block::Paragraph("Madame la Présidente,".into()),
            Block::Paragraph(format!(
                "Par délibération du 25 février 2021, le conseil métropolitain a décidé de vous \
                 attribuer une subvention de 8{NNBSP}000{NBSP}€ pour votre projet « Vélo-école \
                 des quartiers nord », conformément à l'article{NBSP}5{NBSP}: le plafond est \
                 de 10{NNBSP}000{NBSP}€. Cette décision a été prise par une personne, après \
                 instruction de votre dossier par le service."
            )),
            Block::Heading("Montant et versement".into()),
            Block::Fields(vec![
                ("Montant attribué".into(), format!("8{NNBSP}000{NBSP}€")),
                (
                    "Versement".into(),
                    "en deux fois : une avance de 50 %, le solde sur justificatifs".into(),
                ),
            ]),
            Block::Heading("Pièces à fournir pour le solde".into()),
            Block::Bullets(vec![
                "le compte rendu financier de l'opération, signé ;".into(),
                "les factures acquittées, œuvre comprise ;".into(),
            ]),
            Block::Spacer,
            Block::Paragraph(
                "Voies et délais de recours : cette décision peut faire l'objet d'un recours \
                 devant le tribunal administratif de Marseille dans un délai de deux mois à \
                 compter de sa notification."
                    .into(),
            ),
        ],
        signature: vec![
            "Pour le Président et par délégation,".into(),
            "Paul Durand".into(),
        ],
        footer: "Métropole Aix-Marseille-Provence — Direction de la mobilité".into(),
    }
}

/// The texts of every block of `doc`, in order.
fn block_texts(doc: &Document) -> Vec<String> {
    let mut out = Vec::new();
    for b in &doc.blocks {
        match b {
            Block::Heading(t) | Block::Paragraph(t) => out.push(t.clone()),
            Block::Bullets(items) => out.extend(items.iter().cloned()),
            Block::Fields(pairs) => out.extend(pairs.iter().map(|(l, v)| format!("{l} : {v}"))),
            Block::Spacer => {}
        }
    }
    out
}

#[test]
fn a_letter_with_every_block_passes_qpdf_check() {
    let pdf = render(&letter()).expect("render");
    let out = tool("qpdf", &["--check"], &pdf);
    assert!(out.contains("No syntax or stream encoding errors"), "{out}");
}

#[test]
fn the_text_comes_back_in_order_with_french_characters() {
    let doc = letter();
    let pdf = render(&doc).expect("render");
    for layout in [false, true] {
        let t = text(&pdf, layout);
        for expected in block_texts(&doc)
            .iter()
            .chain(&doc.letterhead)
            .chain(&doc.signature)
            .chain([&doc.place_and_date, &doc.footer])
        {
            assert!(
                has_words(&t, expected),
                "layout {layout}: {expected:?} not in:\n{t}"
            );
        }
        // Without -layout, the body reads in the order it was written.
        if !layout {
            let all = words(&t);
            let mut at = 0;
            for b in block_texts(&doc) {
                let w = words(&b);
                let found = (at..all.len())
                    .find(|&i| all[i..].starts_with(&w))
                    .unwrap_or_else(|| panic!("{b:?} not after word {at}:\n{t}"));
                at = found + w.len();
            }
        }
        assert!(t.contains("1er mars 2021"), "{t}");
        // The no-break spaces are printed (DejaVu Sans draws both) and poppler extracts
        // them, like every Unicode space, as U+0020; the line never breaks inside.
        assert!(t.contains("de 8 000 € pour"), "{t}");
        assert!(t.contains("l'article 5 : le plafond"), "{t}");
        assert!(t.contains("« Vélo-école"), "{t}");
        assert!(t.contains("œuvre") && t.contains("l'Église"), "{t}");
        assert!(t.contains("page 1 / 1"), "{t}");
        assert!(!t.contains('\u{FFFD}'), "nothing replaced:\n{t}");
    }
    assert!(unprintable(&doc).is_empty());
}

#[test]
fn pdfinfo_shows_title_author_one_a4_page() {
    let doc = letter();
    let info = tool("pdfinfo", &[], &render(&doc).expect("render"));
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .map(str::trim)
            .unwrap_or_else(|| panic!("no {name} in:\n{info}"))
            .to_owned()
    };
    assert_eq!(field("Title"), doc.title);
    assert_eq!(field("Author"), doc.author);
    assert_eq!(field("Pages"), "1");
    assert!(field("Page size").contains("(A4)"), "{info}");
    assert!(field("CreationDate").contains("2021"), "{info}");
}

#[test]
fn pdffonts_shows_both_faces_embedded_and_subset() {
    let fonts = tool("pdffonts", &[], &render(&letter()).expect("render"));
    let rows: Vec<&str> = fonts.lines().skip(2).collect();
    assert_eq!(rows.len(), 2, "regular and bold:\n{fonts}");
    for row in rows {
        let cols: Vec<&str> = row.split_whitespace().collect();
        // name type encoding emb sub uni object ID
        let n = cols.len();
        assert!(cols[0].contains("DejaVuSans"), "{fonts}");
        assert_eq!(
            &cols[n - 5..n - 2],
            ["yes", "yes", "yes"],
            "emb sub uni:\n{fonts}"
        );
    }
}

#[test]
fn the_same_letter_gives_the_same_bytes() {
    let doc = letter();
    assert_eq!(render(&doc).expect("render"), render(&doc).expect("render"));
    let mut other = doc.clone();
    other.date = jiff::civil::date(2021, 3, 2);
    assert_ne!(
        render(&doc).expect("render"),
        render(&other).expect("render")
    );
}

#[test]
fn a_long_letter_paginates_and_loses_nothing() {
    const N: usize = 10_000;
    let mut doc = letter();
    doc.blocks = (0..N)
        .map(|i| {
            if i % 25 == 0 {
                Block::Heading(format!("Titre T{i}x"))
            } else {
                Block::Paragraph(format!(
                    "Marqueur P{i}x : une phrase assez longue pour occuper plus d'une ligne \
                     de la lettre, avec des mots français comme « décision » et 1{NNBSP}500{NBSP}€."
                ))
            }
        })
        .collect();
    let pdf = render(&doc).expect("render");
    let info = tool("pdfinfo", &[], &pdf);
    let pages: usize = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|p| p.trim().parse().ok())
        .expect("a page count");
    assert!(pages > 100, "{info}");
    let t = text(&pdf, false);
    let mut seen = std::collections::HashMap::new();
    for w in words(&t) {
        *seen.entry(w).or_insert(0) += 1;
    }
    for i in 0..N {
        let marker = if i % 25 == 0 {
            format!("T{i}x")
        } else {
            format!("P{i}x")
        };
        assert_eq!(seen.get(&marker), Some(&1), "{marker}");
    }
    // One page of text per form feed; page 2 has its footer.
    let page2 = t.split('\u{c}').nth(1).expect("a second page");
    assert!(page2.contains(&format!("page 2 / {pages}")), "{page2}");
    assert!(t.contains(&format!("page {pages} / {pages}")));
    qpdf_accepts(&pdf);
}

#[test]
fn a_heading_is_never_last_on_a_page() {
    let mut doc = letter();
    doc.blocks = (0..400)
        .map(|i| {
            if i % 3 == 0 {
                Block::Heading(format!("Titre H{i}x"))
            } else {
                Block::Paragraph(format!("Ligne L{i}x"))
            }
        })
        .collect();
    let t = text(&render(&doc).expect("render"), false);
    for page in t.split('\u{c}') {
        let body: Vec<&str> = page
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.contains("page ") && !l.contains("Métropole"))
            .collect();
        if let Some(last) = body.last() {
            assert!(
                !last.contains("Titre"),
                "a page ends on a heading: {last:?}"
            );
        }
    }
}

#[test]
fn empty_strings_and_huge_words_render() {
    let doc = Document {
        title: String::new(),
        author: String::new(),
        date: jiff::civil::date(2021, 1, 1),
        letterhead: vec![String::new()],
        recipient: vec![],
        place_and_date: String::new(),
        reference: vec![(String::new(), String::new())],
        blocks: vec![
            Block::Paragraph(String::new()),
            Block::Paragraph("W".repeat(5000)),
            Block::Bullets(vec![]),
            Block::Fields(vec![]),
            Block::Heading(String::new()),
        ],
        signature: vec![],
        footer: String::new(),
    };
    let pdf = render(&doc).expect("render");
    qpdf_accepts(&pdf);
    let t = text(&pdf, false);
    assert_eq!(
        t.chars().filter(|c| *c == 'W').count(),
        5000,
        "the long word is cut, not lost"
    );
}

#[test]
fn characters_the_fonts_lack_print_as_replacement() {
    let mut doc = letter();
    doc.blocks = vec![Block::Paragraph(
        "abc\u{0}\u{7}def 漢字 \u{10FFFF} fin".into(),
    )];
    assert_eq!(
        unprintable(&doc).into_iter().collect::<Vec<_>>(),
        ['字', '漢', '\u{10FFFF}']
    );
    let t = text(&render(&doc).expect("render"), false);
    assert!(t.contains("abcdef \u{FFFD}\u{FFFD} \u{FFFD} fin"), "{t}");
}

fn qpdf_accepts(pdf: &[u8]) {
    let out = tool("qpdf", &["--check"], pdf);
    assert!(out.contains("No syntax or stream encoding errors"), "{out}");
}

proptest! {
    // Few cases: each runs qpdf.
    #![proptest_config(ProptestConfig::with_cases(16))]
    #[test]
    fn any_text_gives_a_pdf_qpdf_accepts(
        a in any::<String>(),
        b in "\\PC{0,300}",
        c in prop::collection::vec(any::<String>(), 0..5),
    ) {
        let doc = Document {
            title: a.clone(),
            author: b.clone(),
            date: jiff::civil::date(2021, 3, 1),
            letterhead: c.clone(),
            recipient: c.clone(),
            place_and_date: a.clone(),
            reference: c.iter().map(|s| (s.clone(), a.clone())).collect(),
            blocks: vec![
                Block::Heading(a.clone()),
                Block::Paragraph(b.clone()),
                Block::Bullets(c.clone()),
                Block::Fields(c.iter().map(|s| (b.clone(), s.clone())).collect()),
                Block::Spacer,
            ],
            signature: c.clone(),
            footer: b.clone(),
        };
        let pdf = render(&doc).expect("render");
        qpdf_accepts(&pdf);
    }
}
