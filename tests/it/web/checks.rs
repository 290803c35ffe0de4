//! What a person would see wrong on a page, checked in the browser on the page as displayed:
//! dates in ISO form, times in UTC, internal ids, field paths and file paths, English words,
//! ordinary spaces where French wants no-break ones (before « : ; ? ! », inside « »), a page
//! that scrolls sideways at 390 px or 320 px, a chart label under 12 px.
//!
//! The text checked is every text node of the body in document order (options and folded
//! `<details>` included: people read them), except inside `<script>`, `<style>`, `<code>`,
//! `<pre>` and `<textarea>` (code is shown as code; a textarea holds what was typed).

use std::path::Path;
use std::time::Duration;

use fantoccini::Client;
use serde_json::{Value, json};

/// The text checks; returns one line per finding, with the text around it.
const TEXT: &str = r#"
const skip = new Set(['SCRIPT', 'STYLE', 'CODE', 'PRE', 'TEXTAREA', 'NOSCRIPT', 'TEMPLATE']);
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT, {
  acceptNode(n) {
    for (let e = n.parentElement; e; e = e.parentElement) {
      if (skip.has(e.tagName)) return NodeFilter.FILTER_REJECT;
    }
    return NodeFilter.FILTER_ACCEPT;
  }
});
let text = '';
for (let n = walker.nextNode(); n; n = walker.nextNode()) {
  // Each element's text on its own: a block boundary is not a space typed before a colon.
  text += n.data + (n.nextSibling === null ? '\u0001' : '');
}
// What people read in attributes, too.
for (const e of document.body.querySelectorAll('[aria-label], [title], [alt], [placeholder]')) {
  for (const a of ['aria-label', 'title', 'alt', 'placeholder']) {
    const v = e.getAttribute(a);
    if (v) text += '\u0001' + v + '\u0001';
  }
}
const checks = [
  ['an ISO date', /\b\d{4}-\d{2}-\s*\d{2}\b/g],
  ['a time with seconds or in UTC', /\b\d{2}:\d{2}:\d{2}\b|\bUTC\b/g],
  ['an internal id or hash', /\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*[0-9])[0-9a-f]{12,}\b/g],
  ['a field path', /\b(applicant|project|documents|data|budget|call)\.[a-z_]+/g],
  ['an identifier in snake case', /\b[a-z]+_[a-z0-9_]+\b/g],
  ['a file path', /(^|[\s(])(\/(tmp|work|home|root|var|srv)\/|\S+\.(toml|rhai|j2|md)\b)/g],
  ['English', /\b(the|and|is|are|of|not found|error|scored|out of|required|invalid|must|please|should|none|null|undefined|true|false|NaN)\b/gi],
  ['an ordinary space before « : ; ? ! »', / [:;?!»]/g],
  ['an ordinary space after «', /« /g],
  ['a plural written "(s)"', /\w\(s\)/g],
];
const found = [];
for (const [what, re] of checks) {
  for (const m of text.matchAll(re)) {
    const at = m.index;
    const around = text.slice(Math.max(0, at - 30), at + m[0].length + 30).replace(/\u0001/g, ' | ');
    found.push(what + ': « ' + m[0] + ' » in « ' + around.replace(/\s+/g, ' ').trim() + ' »');
    if (found.length > 40) return found;
  }
}
return found;
"#;

/// Chart labels as displayed: SVG text scaled by its transform, and the text of HTML charts
/// (every element with text inside a `figure`), under 12 px.
const LABELS: &str = r#"
const small = [];
for (const e of document.querySelectorAll('figure svg text, figure svg tspan')) {
  const r = e.getBoundingClientRect();
  if (r.width === 0 || r.height === 0 || !e.textContent.trim()) continue;
  const m = e.getScreenCTM();
  const scale = m ? Math.hypot(m.a, m.b) : 1;
  const px = parseFloat(getComputedStyle(e).fontSize) * scale;
  if (px < 11.95) small.push(px.toFixed(1) + ' px: « ' + e.textContent.trim().slice(0, 40) + ' »');
}
for (const e of document.querySelectorAll('figure :not(svg, svg *)')) {
  const own = Array.from(e.childNodes).some(n => n.nodeType === 3 && n.data.trim());
  if (!own || e.getClientRects().length === 0) continue;
  const px = parseFloat(getComputedStyle(e).fontSize);
  if (px < 11.95) small.push(px.toFixed(1) + ' px: « ' + e.textContent.trim().slice(0, 40) + ' »');
}
return small.slice(0, 10);
"#;

/// The elements that stick out of the viewport when the page scrolls sideways.
const OVERFLOW: &str = r#"
if (document.documentElement.scrollWidth <= window.innerWidth + 1) return [];
const wide = [];
for (const e of document.body.querySelectorAll('*')) {
  const r = e.getBoundingClientRect();
  if (r.right > window.innerWidth + 1 && r.width > 0) {
    let scrolled = false;
    for (let p = e.parentElement; p && p !== document.body; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if (o === 'auto' || o === 'scroll' || o === 'hidden') { scrolled = true; break; }
    }
    if (!scrolled) wide.push(e.tagName.toLowerCase() + (e.className && typeof e.className === 'string' ? '.' + e.className.split(' ').join('.') : '') + ' to ' + Math.round(r.right) + ' px');
  }
  if (wide.length >= 3) break;
}
return ['the page scrolls sideways to ' + document.documentElement.scrollWidth + ' px' + (wide.length ? ': ' + wide.join(', ') : '')];
"#;

async fn strings(c: &Client, script: &str) -> Vec<String> {
    let v = c
        .execute(script, vec![])
        .await
        .unwrap_or_else(|e| json!([format!("the check did not run: {e}")]));
    v.as_array()
        .into_iter()
        .flatten()
        .map(|x| x.as_str().unwrap_or_default().to_string())
        .collect()
}

/// The checks at the page's desktop width (1366 px): its text and its chart labels.
pub async fn page(c: &Client) -> Vec<String> {
    let mut found = strings(c, TEXT).await;
    found.extend(
        strings(c, LABELS)
            .await
            .into_iter()
            .map(|l| format!("at 1366 px a chart label of {l}")),
    );
    found.extend(strings(c, OVERFLOW).await);
    found
}

/// The page at 390 px (saved as `png`) and at 320 px: nothing scrolls sideways and chart labels
/// stay legible; the window is put back at 1366 × 900.
pub async fn narrow(c: &Client, png: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for (w, h) in [(390, 844), (320, 640)] {
        resize(c, w, h).await;
        found.extend(
            strings(c, OVERFLOW)
                .await
                .into_iter()
                .map(|f| format!("at {w} px {f}")),
        );
        found.extend(
            strings(c, LABELS)
                .await
                .into_iter()
                .map(|l| format!("at {w} px a chart label of {l}")),
        );
        if w == 390 {
            let shot = c.screenshot().await.expect("a screenshot");
            std::fs::write(png, shot).expect("the screenshot saved");
        }
    }
    resize(c, 1366, 900).await;
    found
}

/// Resizes the window and waits until the page has laid itself out at the new width.
async fn resize(c: &Client, w: u32, h: u32) {
    c.set_window_size(w, h).await.expect("window resized");
    for _ in 0..50 {
        let now = c
            .execute("return window.innerWidth;", vec![])
            .await
            .unwrap_or(Value::Null);
        if now.as_u64().is_some_and(|x| x.abs_diff(u64::from(w)) <= 20) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
