//! The letters the administration issues (receipts, decision letters, arrêtés, conventions)
//! as PDF: a [`Document`] in, the bytes of an A4 PDF out. The wording is the caller's; this
//! module only sets it on the page.
//!
//! The output is deterministic: the same document gives the same bytes (no clock, no random
//! id: krilla derives the file id from the content and the dates come from the letter), so a
//! stored letter can be addressed by its hash. The two DejaVu Sans faces are embedded in the
//! binary (`server/assets/fonts/`) and subset into each PDF; the text is extractable (every
//! glyph maps back to its character).
//!
//! Any text is accepted: control characters are dropped (a line feed breaks the line), and a
//! character the fonts lack is printed, and extracted, as U+FFFD « � », so a reader sees that
//! something is missing; [`unprintable`] lists those characters beforehand for a caller that
//! would rather refuse.

mod layout;
mod text;

use std::collections::BTreeSet;

use krilla::SerializeSettings;
use krilla::geom::Point;
use krilla::metadata::{DateTime, Metadata};
use krilla::page::PageSettings;

use text::{Faces, Weight};

/// A letter, top to bottom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// The PDF's title (metadata: what a viewer shows in its title bar).
    pub title: String,
    /// The PDF's author (metadata): the issuing authority.
    pub author: String,
    /// The letter's date, also the PDF's creation and modification dates: never the clock,
    /// so that rendering again gives the same bytes.
    pub date: jiff::civil::Date,
    /// The block at the top left: the authority (first line, in bold), its service, address,
    /// contacts.
    pub letterhead: Vec<String>,
    /// The block at the top right, where a window envelope shows it.
    pub recipient: Vec<String>,
    /// « Marseille, le 1er mars 2021 », under the recipient.
    pub place_and_date: String,
    /// « Objet », « Dossier », « Affaire suivie par »…: label and value rows before the body.
    pub reference: Vec<(String, String)>,
    pub blocks: Vec<Block>,
    /// The signatory's lines (title, name), in the right-hand column after the body; never
    /// split across pages.
    pub signature: Vec<String>,
    /// At the foot of every page (at most three lines), beside « page N / M ».
    pub footer: String,
}

/// A piece of the letter's body. Text breaks at spaces only: write « 8 000 € » and
/// « article 5 : » with no-break spaces (U+202F, U+00A0) and they stay on one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    /// In bold; never left alone at the bottom of a page.
    Heading(String),
    /// Wrapped to the line; a `\n` inside starts a new line.
    Paragraph(String),
    /// One bullet per item.
    Bullets(Vec<String>),
    /// Label and value rows, the label in bold followed by « : » (which is added).
    Fields(Vec<(String, String)>),
    /// One blank line.
    Spacer,
}

#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    /// PDF dates run from year 0 to 9999.
    #[error("the letter's date {0} cannot be a PDF date (years 0 to 9999)")]
    Date(jiff::civil::Date),
    /// The embedded fonts did not load: a bug (they are part of the binary).
    #[error("an embedded font could not be read")]
    Font,
    #[error("the PDF could not be written: {0}")]
    Write(String),
}

/// The letter as an A4 PDF.
///
/// ```
/// use metroplan_server::pdf::{Block, Document, render};
///
/// let doc = Document {
///     title: "Accusé de réception".into(),
///     author: "Métropole Aix-Marseille-Provence".into(),
///     date: jiff::civil::date(2021, 3, 1),
///     letterhead: vec![
///         "Métropole Aix-Marseille-Provence".into(),
///         "Direction de la mobilité".into(),
///         "58 boulevard Charles Livon, 13007 Marseille".into(),
///     ],
///     recipient: vec!["Association Vélo Vitrolles".into(), "13127 Vitrolles".into()],
///     place_and_date: "Marseille, le 1er mars 2021".into(),
///     reference: vec![("Objet".into(), "Accusé de réception de votre demande".into())],
///     blocks: vec![
///         Block::Paragraph("Madame, Monsieur,".into()),
///         Block::Heading("Votre demande".into()),
///         Block::Fields(vec![("Montant demandé".into(), "8\u{202F}000\u{A0}€".into())]),
///         Block::Bullets(vec!["le RIB".into(), "les statuts".into()]),
///         Block::Spacer,
///     ],
///     signature: vec!["Pour le Président,".into(), "Jeanne Martin".into()],
///     footer: "Métropole Aix-Marseille-Provence — Direction de la mobilité".into(),
/// };
/// let pdf = render(&doc).unwrap();
/// assert!(pdf.starts_with(b"%PDF-"));
/// assert_eq!(pdf, render(&doc).unwrap());
/// ```
pub fn render(doc: &Document) -> Result<Vec<u8>, PdfError> {
    let faces = Faces::load()?;
    let pages = layout::paginate(doc, &faces);
    let total = pages.len();
    let settings = SerializeSettings {
        // Untagged for now: a letter's structure tree is a separate piece of work.
        enable_tagging: false,
        ..SerializeSettings::default()
    };
    let mut pdf = krilla::Document::new_with(settings);
    pdf.set_metadata(metadata(doc)?);
    for (i, body) in pages.iter().enumerate() {
        let size = PageSettings::from_wh(layout::PAGE_WIDTH, layout::PAGE_HEIGHT)
            .ok_or_else(|| PdfError::Write("A4 is not a page size".into()))?;
        let mut page = pdf.start_page_with(size);
        let mut surface = page.surface();
        let footer = layout::footer(doc, &faces, i + 1, total);
        for placed in body.iter().chain(&footer) {
            let run = &placed.run;
            if run.text.is_empty() {
                continue;
            }
            let face = faces.get(run.weight);
            let glyphs = face.glyphs(&run.text);
            surface.draw_glyphs(
                Point::from_xy(run.x, placed.y),
                &glyphs,
                face.font.clone(),
                &run.text,
                run.size,
                false,
            );
        }
        surface.finish();
        page.finish();
    }
    pdf.finish().map_err(|e| PdfError::Write(format!("{e:?}")))
}

fn metadata(doc: &Document) -> Result<Metadata, PdfError> {
    let year = u16::try_from(doc.date.year()).map_err(|_| PdfError::Date(doc.date))?;
    let date = DateTime::new(year)
        .month(doc.date.month().unsigned_abs())
        .day(doc.date.day().unsigned_abs())
        .utc_offset_hour(0);
    let mut meta = Metadata::new()
        .language("fr-FR".into())
        .creator("metroplan".into())
        .creation_date(date);
    if !doc.title.is_empty() {
        meta = meta.title(doc.title.clone());
    }
    if !doc.author.is_empty() {
        meta = meta.authors(vec![doc.author.clone()]);
    }
    Ok(meta)
}

/// The characters of `doc` that no embedded face can print (they would come out as « � »),
/// for a caller that prefers to refuse the letter. Control characters are not listed: they
/// are dropped.
pub fn unprintable(doc: &Document) -> BTreeSet<char> {
    let Ok(faces) = Faces::load() else {
        return BTreeSet::new();
    };
    let regular = faces.get(Weight::Regular);
    let bold = faces.get(Weight::Bold);
    let mut texts: Vec<&str> = vec![&doc.place_and_date, &doc.footer];
    texts.extend(doc.letterhead.iter().map(String::as_str));
    texts.extend(doc.recipient.iter().map(String::as_str));
    texts.extend(doc.signature.iter().map(String::as_str));
    for (l, v) in &doc.reference {
        texts.extend([l.as_str(), v.as_str()]);
    }
    for block in &doc.blocks {
        match block {
            Block::Heading(t) | Block::Paragraph(t) => texts.push(t),
            Block::Bullets(items) => texts.extend(items.iter().map(String::as_str)),
            Block::Fields(pairs) => {
                for (l, v) in pairs {
                    texts.extend([l.as_str(), v.as_str()]);
                }
            }
            Block::Spacer => {}
        }
    }
    texts
        .iter()
        .flat_map(|t| t.chars())
        .filter(|&c| {
            c != text::REPLACEMENT
                && [regular, bold]
                    .iter()
                    .any(|face| text::printed(c, face) == Some(text::REPLACEMENT))
        })
        .collect()
}
