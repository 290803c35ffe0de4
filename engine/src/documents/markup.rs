//! The light markup templates write, read into blocks a letter or a page lays out.

use serde::Serialize;

use crate::french::typeset;

/// A rendered document: its subject and its blocks, typeset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Letter {
    pub subject: String,
    pub blocks: Vec<Block>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "text", rename_all = "kebab-case")]
pub enum Block {
    Heading(String),
    Paragraph(String),
    Bullets(Vec<String>),
}

impl Letter {
    /// Reads the markup: `# subject` (first), `## heading`, `- item`, paragraphs separated by
    /// blank lines (their lines joined by a space).
    pub fn parse(text: &str) -> Letter {
        let mut subject = String::new();
        let mut blocks = Vec::new();
        let mut para: Vec<&str> = Vec::new();
        let mut items: Vec<String> = Vec::new();
        fn flush(para: &mut Vec<&str>, items: &mut Vec<String>, blocks: &mut Vec<Block>) {
            if !para.is_empty() {
                blocks.push(Block::Paragraph(typeset(&para.join(" "))));
                para.clear();
            }
            if !items.is_empty() {
                blocks.push(Block::Bullets(std::mem::take(items)));
            }
        }
        for line in text.lines() {
            let l = line.trim();
            if l.is_empty() {
                flush(&mut para, &mut items, &mut blocks);
            } else if let Some(h) = l.strip_prefix("## ") {
                flush(&mut para, &mut items, &mut blocks);
                blocks.push(Block::Heading(typeset(h.trim())));
            } else if let Some(s) = l.strip_prefix("# ") {
                flush(&mut para, &mut items, &mut blocks);
                if subject.is_empty() {
                    subject = typeset(s.trim());
                } else {
                    blocks.push(Block::Heading(typeset(s.trim())));
                }
            } else if let Some(item) = l.strip_prefix("- ") {
                if !para.is_empty() {
                    let p = std::mem::take(&mut para);
                    blocks.push(Block::Paragraph(typeset(&p.join(" "))));
                }
                items.push(typeset(item.trim()));
            } else if !items.is_empty() && line.starts_with("  ") {
                // A list item continued on the next line.
                if let Some(last) = items.last_mut() {
                    last.push(' ');
                    last.push_str(&typeset(l));
                }
            } else {
                if !items.is_empty() {
                    blocks.push(Block::Bullets(std::mem::take(&mut items)));
                }
                para.push(l);
            }
        }
        flush(&mut para, &mut items, &mut blocks);
        Letter { subject, blocks }
    }

    /// The letter as plain text (an email body, a test's reading).
    pub fn to_text(&self) -> String {
        let mut o = String::new();
        for b in &self.blocks {
            match b {
                Block::Heading(h) => {
                    o.push_str(h);
                    o.push('\n');
                }
                Block::Paragraph(p) => {
                    o.push_str(p);
                    o.push('\n');
                }
                Block::Bullets(items) => {
                    for i in items {
                        o.push_str("- ");
                        o.push_str(i);
                        o.push('\n');
                    }
                }
            }
            o.push('\n');
        }
        o.trim_end().to_string() + "\n"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_reads_subject_headings_lists_and_paragraphs() {
        let l = Letter::parse(
            "# Objet : accusé\n\nBonjour,\nsuite.\n\n## Pièces\n- RIB\n- statuts\n  signés\nFin.\n",
        );
        assert_eq!(l.subject, "Objet\u{a0}: accusé");
        assert_eq!(
            l.blocks,
            vec![
                Block::Paragraph("Bonjour, suite.".into()),
                Block::Heading("Pièces".into()),
                Block::Bullets(vec!["RIB".into(), "statuts signés".into()]),
                Block::Paragraph("Fin.".into()),
            ]
        );
    }
}
