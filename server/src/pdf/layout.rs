//! The letter as rows of text placed on A4 pages. Everything but the footer flows through one
//! list of rows, so that a letterhead, a recipient or a paragraph of any length breaks across
//! pages instead of running off one; the footer is drawn on each page afterwards, once the
//! page count is known.

use super::text::{Faces, Weight, wrap};
use super::{Block, Document};

/// A4 in points (210 × 297 mm).
pub(super) const PAGE_WIDTH: f32 = 595.276;
pub(super) const PAGE_HEIGHT: f32 = 841.89;

const MM: f32 = 72.0 / 25.4;
const LEFT: f32 = 25.0 * MM;
const RIGHT: f32 = PAGE_WIDTH - 20.0 * MM;
const TOP: f32 = 15.0 * MM;
/// Where the body stops; the footer lives below.
pub(super) const BOTTOM: f32 = PAGE_HEIGHT - 25.0 * MM;
const TEXT_WIDTH: f32 = RIGHT - LEFT;
/// The right-hand column: the recipient (where a window envelope shows it), the place and
/// date, the signature.
const COLUMN: f32 = 110.0 * MM;

const BODY: f32 = 10.5;
const SMALL: f32 = 9.0;
const HEADING: f32 = 11.5;
const LEADING: f32 = 1.35;
/// The recipient starts this many header rows down, in the envelope's window.
const RECIPIENT_ROW: usize = 7;

/// A line of text at a horizontal position; its baseline comes from its row.
#[derive(Debug, Clone)]
pub(super) struct Run {
    pub(super) x: f32,
    pub(super) weight: Weight,
    pub(super) size: f32,
    pub(super) text: String,
}

/// A row of the flow: its height, what it holds, and whether the page may not break after it.
#[derive(Debug, Clone, Default)]
struct Row {
    height: f32,
    runs: Vec<Run>,
    keep_with_next: bool,
}

impl Row {
    fn gap(height: f32) -> Row {
        Row {
            height,
            ..Row::default()
        }
    }

    fn is_gap(&self) -> bool {
        self.runs.is_empty()
    }
}

/// A run placed on a page: `y` is its baseline, from the top of the page.
#[derive(Debug, Clone)]
pub(super) struct Placed {
    pub(super) y: f32,
    pub(super) run: Run,
}

pub(super) type Page = Vec<Placed>;

fn line(size: f32) -> f32 {
    size * LEADING
}

fn run(x: f32, weight: Weight, size: f32, text: String) -> Run {
    Run {
        x,
        weight,
        size,
        text,
    }
}

/// The rows of a whole letter.
fn rows(doc: &Document, faces: &Faces) -> Vec<Row> {
    let mut rows = header(doc, faces);
    let regular = faces.get(Weight::Regular);
    if !doc.place_and_date.is_empty() {
        rows.push(Row::gap(line(BODY)));
        for text in wrap(&doc.place_and_date, regular, BODY, RIGHT - COLUMN) {
            rows.push(text_row(COLUMN, Weight::Regular, BODY, text));
        }
    }
    if !doc.reference.is_empty() {
        rows.push(Row::gap(line(BODY)));
        rows.extend(fields(&doc.reference, faces, BODY));
    }
    rows.push(Row::gap(line(BODY)));
    for block in &doc.blocks {
        rows.extend(block_rows(block, faces));
    }
    if !doc.signature.is_empty() {
        rows.push(Row::gap(line(BODY) * 1.5));
        let mut signature: Vec<Row> = doc
            .signature
            .iter()
            .flat_map(|s| wrap(s, regular, BODY, RIGHT - COLUMN))
            .map(|t| text_row(COLUMN, Weight::Regular, BODY, t))
            .collect();
        // The signature block is never split (it is a few lines).
        let n = signature.len();
        for r in signature.iter_mut().take(n.saturating_sub(1)) {
            r.keep_with_next = true;
        }
        rows.extend(signature);
    }
    rows
}

fn text_row(x: f32, weight: Weight, size: f32, text: String) -> Row {
    Row {
        height: line(size),
        runs: vec![run(x, weight, size, text)],
        keep_with_next: false,
    }
}

/// The letterhead (top left, its first line in bold: the authority) beside the recipient (top
/// right, lower down), as shared rows.
fn header(doc: &Document, faces: &Faces) -> Vec<Row> {
    let mut left = Vec::new();
    for (i, l) in doc.letterhead.iter().enumerate() {
        let weight = if i == 0 {
            Weight::Bold
        } else {
            Weight::Regular
        };
        let size = if i == 0 { BODY } else { SMALL };
        for t in wrap(l, faces.get(weight), size, COLUMN - LEFT - 6.0 * MM) {
            left.push(run(LEFT, weight, size, t));
        }
    }
    let right: Vec<Run> = doc
        .recipient
        .iter()
        .flat_map(|l| wrap(l, faces.get(Weight::Regular), BODY, RIGHT - COLUMN))
        .map(|t| run(COLUMN, Weight::Regular, BODY, t))
        .collect();
    let start = if right.is_empty() { 0 } else { RECIPIENT_ROW };
    let n = left.len().max(start + right.len());
    let mut left = left.into_iter();
    let mut right = right.into_iter();
    (0..n)
        .map(|i| {
            let mut runs: Vec<Run> = left.next().into_iter().collect();
            if i >= start {
                runs.extend(right.next());
            }
            let mut row = Row {
                height: line(BODY),
                runs,
                keep_with_next: false,
            };
            if row.runs.is_empty() {
                // A blank header row still takes its place (it is not a droppable gap).
                row.runs
                    .push(run(LEFT, Weight::Regular, BODY, String::new()));
            }
            row
        })
        .collect()
}

fn block_rows(block: &Block, faces: &Faces) -> Vec<Row> {
    let regular = faces.get(Weight::Regular);
    match block {
        Block::Heading(text) => {
            let mut rows = vec![Row::gap(line(BODY) * 0.6)];
            for t in wrap(text, faces.get(Weight::Bold), HEADING, TEXT_WIDTH) {
                let mut r = text_row(LEFT, Weight::Bold, HEADING, t);
                // A heading is never the last thing on a page.
                r.keep_with_next = true;
                rows.push(r);
            }
            rows.push(Row {
                keep_with_next: true,
                ..Row::gap(line(BODY) * 0.2)
            });
            rows
        }
        Block::Paragraph(text) => {
            let mut rows: Vec<Row> = wrap(text, regular, BODY, TEXT_WIDTH)
                .into_iter()
                .map(|t| text_row(LEFT, Weight::Regular, BODY, t))
                .collect();
            no_orphan_or_widow(&mut rows);
            rows.push(Row::gap(line(BODY) * 0.5));
            rows
        }
        Block::Bullets(items) => {
            let indent = 5.0 * MM;
            let mut rows = Vec::new();
            for item in items {
                let mut item_rows: Vec<Row> = wrap(item, regular, BODY, TEXT_WIDTH - indent)
                    .into_iter()
                    .map(|t| text_row(LEFT + indent, Weight::Regular, BODY, t))
                    .collect();
                if let Some(first) = item_rows.first_mut() {
                    first
                        .runs
                        .push(run(LEFT + 1.5 * MM, Weight::Regular, BODY, "•".into()));
                }
                no_orphan_or_widow(&mut item_rows);
                rows.extend(item_rows);
            }
            rows.push(Row::gap(line(BODY) * 0.5));
            rows
        }
        Block::Fields(pairs) => {
            let mut rows = fields(pairs, faces, BODY);
            rows.push(Row::gap(line(BODY) * 0.5));
            rows
        }
        Block::Spacer => vec![Row::gap(line(BODY))],
    }
}

/// Label and value rows: the label in bold, followed by « : » (with the no-break space French
/// puts before a colon), in a column as wide as the widest label but at most 40 % of the line;
/// the value beside it, both wrapped within their column.
fn fields(pairs: &[(String, String)], faces: &Faces, size: f32) -> Vec<Row> {
    let bold = faces.get(Weight::Bold);
    let regular = faces.get(Weight::Regular);
    let labels: Vec<String> = pairs.iter().map(|(l, _)| format!("{l}\u{A0}:")).collect();
    let widest = labels
        .iter()
        .flat_map(|l| l.split('\n'))
        .map(|l| bold.width(l, size))
        .fold(0.0, f32::max);
    let label_width = widest.min(TEXT_WIDTH * 0.4);
    let gap = 2.5 * MM;
    let value_x = LEFT + label_width + gap;
    let mut rows = Vec::new();
    for (label, (_, value)) in labels.iter().zip(pairs) {
        let ls = wrap(label, bold, size, label_width);
        let vs = wrap(value, regular, size, RIGHT - value_x);
        let n = ls.len().max(vs.len());
        let mut ls = ls.into_iter();
        let mut vs = vs.into_iter();
        let mut pair_rows: Vec<Row> = (0..n)
            .map(|_| {
                let mut runs = Vec::new();
                runs.extend(ls.next().map(|t| run(LEFT, Weight::Bold, size, t)));
                runs.extend(vs.next().map(|t| run(value_x, Weight::Regular, size, t)));
                Row {
                    height: line(size),
                    runs,
                    keep_with_next: false,
                }
            })
            .collect();
        no_orphan_or_widow(&mut pair_rows);
        rows.extend(pair_rows);
    }
    rows
}

/// A paragraph of several lines does not leave its first line alone at the bottom of a page,
/// nor its last alone at the top of the next.
fn no_orphan_or_widow(rows: &mut [Row]) {
    let n = rows.len();
    if n >= 2 {
        rows[0].keep_with_next = true;
        rows[n - 2].keep_with_next = true;
    }
}

/// The rows cut into pages. A chain of rows that must stay together (with the row after it)
/// moves whole to the next page when it does not fit, unless it would not fit on an empty page
/// either; a gap at the top of a page is dropped.
pub(super) fn paginate(doc: &Document, faces: &Faces) -> Vec<Page> {
    let rows = rows(doc, faces);
    let mut pages: Vec<Page> = Vec::new();
    let mut page: Page = Vec::new();
    let mut y = TOP;
    let mut at_top = true;
    let mut i = 0;
    while i < rows.len() {
        let row = &rows[i];
        if row.is_gap() && at_top {
            i += 1;
            continue;
        }
        // The height of this row and every row it is kept with.
        let mut j = i;
        let mut chain = row.height;
        while rows[j].keep_with_next && j + 1 < rows.len() {
            j += 1;
            chain += rows[j].height;
        }
        let needed = if chain <= BOTTOM - TOP {
            chain
        } else {
            row.height
        };
        if y + needed > BOTTOM && !at_top {
            pages.push(std::mem::take(&mut page));
            y = TOP;
            at_top = true;
            if row.is_gap() {
                i += 1;
                continue;
            }
        }
        y += row.height;
        for r in &row.runs {
            page.push(Placed {
                // The baseline sits about four fifths down the line.
                y: y - row.height * 0.25,
                run: r.clone(),
            });
        }
        at_top = false;
        i += 1;
    }
    if !page.is_empty() || pages.is_empty() {
        pages.push(page);
    }
    pages
}

/// The footer's lines for one page: the document's footer (at most three lines; what does not
/// fit ends in « … ») on the left, « page N / M » at the right of its first line.
pub(super) fn footer(doc: &Document, faces: &Faces, n: usize, total: usize) -> Page {
    let regular = faces.get(Weight::Regular);
    let number = format!("page {n} / {total}");
    let number_width = regular.width(&number, SMALL - 1.0);
    let size = SMALL - 1.0;
    let mut lines = wrap(
        &doc.footer,
        regular,
        size,
        TEXT_WIDTH - number_width - 6.0 * MM,
    );
    if lines.len() > 3 {
        lines.truncate(3);
        if let Some(last) = lines.last_mut() {
            last.push('…');
        }
    }
    let top = BOTTOM + 8.0 * MM;
    let mut placed: Vec<Placed> = lines
        .into_iter()
        .enumerate()
        .map(|(k, text)| Placed {
            y: top + k as f32 * line(size),
            run: run(LEFT, Weight::Regular, size, text),
        })
        .collect();
    placed.push(Placed {
        y: top,
        run: run(RIGHT - number_width, Weight::Regular, size, number),
    });
    placed
}
