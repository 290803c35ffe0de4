//! French typography over a rendered page: the no-break spaces before « : ; ? ! » and inside
//! « » in what people read (text, and the `title`, `aria-label`, `alt` and `placeholder`
//! attributes), never in code, scripts, styles, typed values, tag names or other attributes
//! (URLs, values). One pass over the HTML, so that no template has to remember it.

use metroplan_engine::french::typeset;

/// Elements whose content is not prose: left exactly as rendered.
const VERBATIM: [&str; 7] = ["script", "style", "code", "pre", "textarea", "kbd", "samp"];
/// Attributes a person reads.
const READ: [&str; 4] = ["title", "aria-label", "alt", "placeholder"];

pub fn typeset_html(html: &str) -> String {
    let mut out = String::with_capacity(html.len() + html.len() / 32);
    let mut rest = html;
    // Depth inside verbatim elements: text there is copied as is.
    let mut verbatim = 0usize;
    while !rest.is_empty() {
        let Some(lt) = rest.find('<') else {
            push_text(&mut out, rest, verbatim > 0);
            break;
        };
        push_text(&mut out, &rest[..lt], verbatim > 0);
        rest = &rest[lt..];
        if let Some(after) = rest.strip_prefix("<!--") {
            let end = after.find("-->").map_or(rest.len(), |e| e + 7);
            out.push_str(&rest[..end]);
            rest = &rest[end..];
            continue;
        }
        let end = tag_end(rest);
        let tag = &rest[..end];
        rest = &rest[end..];
        let closing = tag.starts_with("</");
        let name: String = tag
            .trim_start_matches('<')
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect::<String>()
            .to_ascii_lowercase();
        let is_verbatim = VERBATIM.contains(&name.as_str());
        if is_verbatim && closing {
            verbatim = verbatim.saturating_sub(1);
        }
        out.push_str(&if closing {
            tag.to_string()
        } else {
            attributes(tag)
        });
        if is_verbatim && !closing {
            // <script> and <style> hold raw text up to their end tag: copy it whole.
            if name == "script" || name == "style" || name == "textarea" {
                let close = format!("</{name}");
                let stop = rest.to_ascii_lowercase().find(&close).unwrap_or(rest.len());
                out.push_str(&rest[..stop]);
                rest = &rest[stop..];
            }
            verbatim += 1;
        }
    }
    out
}

/// Where a tag ends: the first `>` outside quotes.
fn tag_end(s: &str) -> usize {
    let mut quote = None;
    for (i, c) in s.char_indices().skip(1) {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '>') => return i + 1,
            _ => {}
        }
    }
    s.len()
}

/// A start tag, the values of the attributes people read typeset.
fn attributes(tag: &str) -> String {
    let mut out = String::with_capacity(tag.len());
    let mut rest = tag;
    while let Some(eq) = rest.find("=\"") {
        let name_start = rest[..eq]
            .rfind(|c: char| c.is_whitespace())
            .map_or(0, |i| i + 1);
        let name = rest[name_start..eq].to_ascii_lowercase();
        let value_start = eq + 2;
        let Some(len) = rest[value_start..].find('"') else {
            break;
        };
        out.push_str(&rest[..value_start]);
        let value = &rest[value_start..value_start + len];
        if READ.contains(&name.as_str()) {
            out.push_str(&escape(&typeset_words(&unescape(value)), true));
        } else {
            out.push_str(value);
        }
        rest = &rest[value_start + len..];
    }
    out.push_str(rest);
    out
}

fn push_text(out: &mut String, text: &str, verbatim: bool) {
    if verbatim || !text.contains([':', ';', '?', '!', '«', '»']) {
        out.push_str(text);
    } else {
        out.push_str(&escape(&typeset_words(&unescape(text)), false));
    }
}

/// [`typeset`], except on words that are not prose: a word where one of « : ; ? ! » is
/// followed by a letter, a digit or more punctuation (`a::b`, `mailto:x`, `?page=2`, `12:30`).
fn typeset_words(text: &str) -> String {
    let technical = |w: &str| {
        let cs: Vec<char> = w.chars().collect();
        cs.windows(2).any(|p| {
            matches!(p[0], ':' | ';' | '?' | '!')
                && (p[1].is_alphanumeric() || matches!(p[1], ':' | '/' | '=' | '&'))
        })
    };
    if !text.split_whitespace().any(technical) {
        return typeset(text);
    }
    // Technical words stand aside as private-use characters while the rest is typeset.
    let mut kept: Vec<&str> = Vec::new();
    let mut masked = String::with_capacity(text.len());
    let mut word_start = None;
    let bytes: Vec<(usize, char)> = text.char_indices().collect();
    let mut i = 0;
    while i <= bytes.len() {
        let at_end = i == bytes.len();
        let ws = !at_end && bytes[i].1.is_whitespace();
        if at_end || ws {
            if let Some(s) = word_start.take() {
                let e = if at_end { text.len() } else { bytes[i].0 };
                let w = &text[s..e];
                if technical(w) && kept.len() < 6000 {
                    masked.push(char::from_u32(0xE000 + kept.len() as u32).unwrap_or('\u{E000}'));
                    kept.push(w);
                } else {
                    masked.push_str(w);
                }
            }
            if ws {
                masked.push(bytes[i].1);
            }
        } else if word_start.is_none() {
            word_start = Some(bytes[i].0);
        }
        i += 1;
    }
    typeset(&masked)
        .chars()
        .map(|c| match (c as u32).checked_sub(0xE000) {
            Some(n) if (n as usize) < kept.len() => kept[n as usize].to_string(),
            _ => c.to_string(),
        })
        .collect()
}

fn unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

fn escape(s: &str, attribute: bool) -> String {
    let s = s
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    if attribute {
        s.replace('"', "&quot;")
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::typeset_html as t;

    #[test]
    fn text_gets_no_break_spaces_before_high_punctuation_and_inside_guillemets() {
        assert_eq!(
            t("<p>Objet : aide ; ok ? « oui » !</p>"),
            "<p>Objet\u{a0}: aide\u{a0}; ok\u{a0}? «\u{a0}oui\u{a0}»\u{a0}!</p>"
        );
    }

    #[test]
    fn urls_times_paths_and_existing_no_break_spaces_are_left_alone() {
        let html =
            "<p>Voir https://a.fr/x?y=1 à 12:30, a::b et mailto:x@y.fr ; déjà\u{a0}: bien</p>";
        assert_eq!(
            t(html),
            "<p>Voir https://a.fr/x?y=1 à 12:30, a::b et mailto:x@y.fr\u{a0}; déjà\u{a0}: bien</p>"
        );
        assert_eq!(t("<p>::</p>"), "<p>::</p>");
    }

    #[test]
    fn entities_survive_and_are_not_split() {
        assert_eq!(
            t("<p>A &amp; B : &lt;x&gt; &quot;c&quot;</p>"),
            "<p>A &amp; B\u{a0}: &lt;x&gt; \"c\"</p>"
        );
    }

    #[test]
    fn code_scripts_styles_typed_values_and_urls_are_untouched() {
        let html = "<pre>a : b</pre><code>x ? y</code><script>if (a ? b : c) {}</script>\
                    <style>a:hover{color:red}</style><textarea>Note : ok</textarea>\
                    <a href=\"/x?a=1&amp;b=2\" data-x=\"a : b\">Lien</a><input value=\"a : b\">";
        assert_eq!(t(html), html);
    }

    #[test]
    fn the_attributes_people_read_are_typeset() {
        assert_eq!(
            t("<img alt=\"Logo : Métropole\" src=\"a:b\"><abbr title=\"Quoi ?\">Q</abbr>"),
            "<img alt=\"Logo\u{a0}: Métropole\" src=\"a:b\"><abbr title=\"Quoi\u{a0}?\">Q</abbr>"
        );
    }
}
