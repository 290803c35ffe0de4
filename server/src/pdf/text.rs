//! The two embedded faces, what they can draw, and line breaking. krilla draws glyphs but does
//! not break lines; we measure with the same font's advance widths (no kerning, so what we
//! measure is exactly what is drawn) and break greedily at spaces.

use krilla::text::{Font, GlyphId, KrillaGlyph};
use skrifa::instance::{LocationRef, Size};
use skrifa::metrics::GlyphMetrics;
use skrifa::{FontRef, MetadataProvider};

use super::PdfError;

static REGULAR: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
static BOLD: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");

/// Drawn for a character neither face has: visible on paper, and extracted as U+FFFD, so a
/// reader (or a test) sees that something was not printed rather than a silent gap.
pub(super) const REPLACEMENT: char = '\u{FFFD}';

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Weight {
    Regular,
    Bold,
}

/// One face: the krilla font that is embedded, and skrifa's view of the same bytes to measure.
pub(super) struct Face {
    pub(super) font: Font,
    charmap: skrifa::charmap::Charmap<'static>,
    metrics: GlyphMetrics<'static>,
    upem: f32,
    replacement: u32,
}

impl std::fmt::Debug for Face {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Face").field("upem", &self.upem).finish()
    }
}

impl Face {
    fn load(data: &'static [u8]) -> Result<Face, PdfError> {
        let font = Font::new(data.to_vec().into(), 0).ok_or(PdfError::Font)?;
        let skrifa = FontRef::new(data).map_err(|_| PdfError::Font)?;
        let upem = f32::from(
            skrifa
                .metrics(Size::unscaled(), LocationRef::default())
                .units_per_em,
        );
        let charmap = skrifa.charmap();
        let replacement = charmap.map(REPLACEMENT).ok_or(PdfError::Font)?.to_u32();
        Ok(Face {
            font,
            charmap,
            metrics: skrifa.glyph_metrics(Size::unscaled(), LocationRef::default()),
            upem,
            replacement,
        })
    }

    /// The glyph that draws `c`, or the replacement glyph when the face has none.
    fn glyph(&self, c: char) -> u32 {
        self.charmap
            .map(c)
            .map(|g| g.to_u32())
            .unwrap_or(self.replacement)
    }

    pub(super) fn has(&self, c: char) -> bool {
        self.charmap.map(c).is_some()
    }

    /// Advance of `c` in ems.
    fn advance(&self, c: char) -> f32 {
        let g = skrifa::GlyphId::new(self.glyph(c));
        self.metrics.advance_width(g).unwrap_or(0.0) / self.upem
    }

    /// Width of `text` at `size` points.
    pub(super) fn width(&self, text: &str, size: f32) -> f32 {
        text.chars().map(|c| self.advance(c)).sum::<f32>() * size
    }

    /// The glyphs of one line of already sanitized text, each pointing at its character (so
    /// that the ToUnicode map gives the text back).
    pub(super) fn glyphs(&self, text: &str) -> Vec<KrillaGlyph> {
        text.char_indices()
            .map(|(i, c)| {
                KrillaGlyph::new(
                    GlyphId::new(self.glyph(c)),
                    self.advance(c),
                    0.0,
                    0.0,
                    0.0,
                    i..i + c.len_utf8(),
                    None,
                )
            })
            .collect()
    }
}

/// Both faces, loaded once per render (the bytes are static; parsing them is cheap).
#[derive(Debug)]
pub(super) struct Faces {
    regular: Face,
    bold: Face,
}

impl Faces {
    pub(super) fn load() -> Result<Faces, PdfError> {
        Ok(Faces {
            regular: Face::load(REGULAR)?,
            bold: Face::load(BOLD)?,
        })
    }

    pub(super) fn get(&self, weight: Weight) -> &Face {
        match weight {
            Weight::Regular => &self.regular,
            Weight::Bold => &self.bold,
        }
    }
}

/// What is printed of `text` in `face`: control characters go (a tab is a space; a line feed
/// is kept, it breaks the line), invisible format characters that the face would draw as
/// boxes go, and any character the face lacks becomes [`REPLACEMENT`].
pub(super) fn sanitize(text: &str, face: &Face) -> String {
    text.chars().filter_map(|c| printed(c, face)).collect()
}

/// What is printed for `c` in `face`, if anything (see [`sanitize`]).
pub(super) fn printed(c: char, face: &Face) -> Option<char> {
    match c {
        '\n' => Some('\n'),
        '\t' | '\r' => Some(' '),
        c if c.is_control() => None,
        '\u{00AD}'
        | '\u{200B}'..='\u{200F}'
        | '\u{2028}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}'
        | '\u{FEFF}' => None,
        c if face.has(c) => Some(c),
        _ => Some(REPLACEMENT),
    }
}

/// `text` broken into lines no wider than `width` points. Lines break at ordinary spaces only,
/// never at a no-break space (U+00A0, U+202F: « 8 000 € », « article 5 : » stay whole), and a
/// line feed forces a break. A word wider than the whole line is cut between characters, the
/// only way left to print it. Runs of spaces collapse to one. Nothing else is lost: the words
/// of the lines, in order, are the words of the text.
pub(super) fn wrap(text: &str, face: &Face, size: f32, width: f32) -> Vec<String> {
    let space = face.width(" ", size);
    let mut lines = Vec::new();
    for hard in sanitize(text, face).split('\n') {
        let mut line = String::new();
        let mut line_width = 0.0;
        for word in hard.split(' ').filter(|w| !w.is_empty()) {
            let w = face.width(word, size);
            if !line.is_empty() && line_width + space + w <= width {
                line.push(' ');
                line.push_str(word);
                line_width += space + w;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            if w <= width {
                line.push_str(word);
                line_width = w;
                continue;
            }
            // Too long for any line: cut it, at least one character per line.
            line_width = 0.0;
            for c in word.chars() {
                let cw = face.width(c.encode_utf8(&mut [0; 4]), size);
                if !line.is_empty() && line_width + cw > width {
                    lines.push(std::mem::take(&mut line));
                    line_width = 0.0;
                }
                line.push(c);
                line_width += cw;
            }
        }
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn faces() -> Faces {
        Faces::load().expect("the embedded fonts load")
    }

    #[test]
    fn no_break_spaces_keep_amounts_whole() {
        let f = faces();
        let face = f.get(Weight::Regular);
        let amount = "8\u{202F}000\u{A0}€";
        let width = face.width(amount, 10.0) + 1.0;
        let lines = wrap(&format!("un montant de {amount} versé"), face, 10.0, width);
        assert!(lines.contains(&amount.to_string()), "{lines:?}");
    }

    #[test]
    fn words_longer_than_a_line_are_cut_not_lost() {
        let f = faces();
        let face = f.get(Weight::Regular);
        let word = "x".repeat(500);
        let lines = wrap(&format!("a {word} b"), face, 10.0, 100.0);
        assert!(lines.len() > 3);
        assert!(lines.iter().all(|l| face.width(l, 10.0) <= 100.0));
        assert_eq!(lines.concat().replace(' ', ""), format!("a{word}b"));
    }

    #[test]
    fn french_characters_are_in_both_faces() {
        let f = faces();
        for face in [f.get(Weight::Regular), f.get(Weight::Bold)] {
            for c in "éèêàâçôîïùûœŒÉÀÇ«»’€\u{A0}\u{202F}–…°".chars() {
                assert!(face.has(c), "{c:?} missing");
            }
        }
    }

    #[test]
    fn controls_go_and_unknown_characters_are_replaced() {
        let f = faces();
        let face = f.get(Weight::Regular);
        assert_eq!(
            sanitize("a\u{0}b\tc\u{200B}d\u{E000}", face),
            "ab cd\u{FFFD}"
        );
    }
}
