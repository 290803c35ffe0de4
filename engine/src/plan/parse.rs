//! Reading one plan file into raw items, reporting every problem it can find.
//!
//! The file is parsed once into toml's spanned tree; each item of each section is then
//! deserialized on its own, so that one bad action does not hide the next one, and every
//! key that no structure knows is reported (serde would stop at the first).

use std::ops::Range;
use std::sync::OnceLock;

use rustc_hash::FxHashMap;
use serde::de::DeserializeOwned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::raw::*;
use crate::diagnostic::{Code, Diagnostic, Diagnostics, Loc};
use crate::source::FileId;
use crate::suggest::closest;

/// An item with the file it came from and the span of its whole table.
#[derive(Debug)]
pub struct Item<T> {
    pub file: FileId,
    pub span: Range<usize>,
    pub value: T,
    /// Keys with bad values were dropped (and reported): absent keys may be among them.
    pub damaged: bool,
}

impl<T> Item<T> {
    pub fn loc(&self) -> Loc {
        Loc::new(self.file, self.span.clone())
    }
}

/// Everything read from the files of a plan, before validation.
#[derive(Debug, Default)]
pub struct RawParts {
    pub plan: Vec<Item<RawPlan>>,
    pub calendar: Vec<Item<RawCalendar>>,
    pub axis: Vec<Item<RawAxis>>,
    pub action: Vec<Item<RawAction>>,
    pub partner: Vec<Item<RawPartner>>,
    pub territory: Vec<Item<RawTerritory>>,
    pub territory_flag: Vec<Item<RawLabelled>>,
    pub staff: Vec<Item<RawStaff>>,
    pub official: Vec<Item<RawOfficial>>,
    pub role: Vec<Item<RawRole>>,
    pub audience: Vec<Item<RawLabelled>>,
    pub criterion: Vec<Item<RawLabelled>>,
    pub domain: Vec<Item<RawLabelled>>,
    pub budget: Vec<Item<RawBudget>>,
    pub fund: Vec<Item<RawFund>>,
    pub workflow: Vec<Item<RawWorkflow>>,
    pub progress: Vec<Item<RawProgress>>,
    pub baseline: Vec<Item<RawBaseline>>,
    /// Some file had TOML syntax errors: what is missing may only be unreadable.
    pub syntax_errors: bool,
}

/// Where an item is in its file: `[section]`, or the `index`-th `[[section]]`.
#[derive(Debug, Clone, Copy)]
struct ItemPath<'a> {
    section: &'a str,
    index: Option<usize>,
}

/// The keys leading to a table inside an item, linked on the stack: nothing is allocated
/// unless an unknown key has to be reported.
#[derive(Clone, Copy)]
struct Names<'a> {
    name: &'a str,
    parent: Option<&'a Names<'a>>,
}

impl Names<'_> {
    fn join(&self) -> String {
        let mut parts = vec![self.name];
        let mut cur = self.parent;
        while let Some(n) = cur {
            parts.push(n.name);
            cur = n.parent;
        }
        parts.reverse();
        parts.join(".")
    }
}

struct FileCtx<'a> {
    file: FileId,
    text: &'a str,
    diags: &'a mut Diagnostics,
    /// Values the TOML parser already reported: no second diagnostic for them.
    syntax_spans: Vec<Range<usize>>,
}

/// Parses one file's text and appends its items to `parts`.
pub fn parse_file(file: FileId, text: &str, parts: &mut RawParts, diags: &mut Diagnostics) {
    let (root, errors) = DeTable::parse_recoverable(text);
    let syntax_errors = !errors.is_empty();
    let mut syntax_spans = Vec::new();
    for e in errors {
        let span = e.span().unwrap_or(0..0);
        syntax_spans.push(span.clone());
        let msg = e.message().trim();
        // The TOML parser itself refuses impossible dates such as 2021-02-30.
        let d = if msg.starts_with("invalid date") || msg.contains("day between") {
            Diagnostic::at(
                Code::ImpossibleDate,
                Loc::new(file, span),
                format!("impossible date: {}", first_line(msg)),
            )
            .with_label("this day does not exist")
        } else {
            Diagnostic::at(
                Code::Syntax,
                Loc::new(file, span),
                format!("invalid TOML: {}", first_line(msg)),
            )
            .with_help("see https://toml.io for the syntax of TOML files")
        };
        diags.push(d);
    }
    // Go on with the parser's recovered tree, so that one typo does not hide the rest of
    // the file; the caller is told, so that it does not add "missing" follow-ups.
    parts.syntax_errors |= syntax_errors;
    let mut ctx = FileCtx {
        file,
        text,
        diags,
        syntax_spans,
    };
    for (key, value) in root.into_inner() {
        let key_span = key.span();
        let name = key.into_inner();
        let base = ItemPath {
            section: name.as_ref(),
            index: None,
        };
        match name.as_ref() {
            "plan" => ctx.one(&mut parts.plan, value, base),
            "calendar" => ctx.one(&mut parts.calendar, value, base),
            "budget" => ctx.one(&mut parts.budget, value, base),
            "axis" => ctx.many(&mut parts.axis, value, base),
            "action" => ctx.many(&mut parts.action, value, base),
            "partner" => ctx.many(&mut parts.partner, value, base),
            "territory" => ctx.many(&mut parts.territory, value, base),
            "territory_flag" => ctx.many(&mut parts.territory_flag, value, base),
            "staff" => ctx.many(&mut parts.staff, value, base),
            "official" => ctx.many(&mut parts.official, value, base),
            "role" => ctx.many(&mut parts.role, value, base),
            "audience" => ctx.many(&mut parts.audience, value, base),
            "criterion" => ctx.many(&mut parts.criterion, value, base),
            "domain" => ctx.many(&mut parts.domain, value, base),
            "fund" => ctx.many(&mut parts.fund, value, base),
            "workflow" => ctx.many(&mut parts.workflow, value, base),
            "progress" => ctx.many(&mut parts.progress, value, base),
            "baseline" => ctx.many(&mut parts.baseline, value, base),
            other => {
                let d = Diagnostic::at(
                    Code::UnknownKey,
                    Loc::new(file, key_span),
                    format!("unknown section `{other}`"),
                )
                .with_label("not a section of plan files")
                .with_suggestions(closest(other, SECTIONS.iter().copied()));
                ctx.diags.push(d);
            }
        }
    }
}

fn first_line(m: &str) -> &str {
    m.lines().next().unwrap_or(m)
}

impl FileCtx<'_> {
    fn one<T: DeserializeOwned>(
        &mut self,
        out: &mut Vec<Item<T>>,
        value: toml::Spanned<DeValue<'_>>,
        path: ItemPath<'_>,
    ) {
        if !value.get_ref().is_table() {
            let span = value.span();
            self.type_error(span, path, "a table");
            return;
        }
        if let Some(item) = self.item(value, path) {
            out.push(item);
        }
    }

    fn many<T: DeserializeOwned>(
        &mut self,
        out: &mut Vec<Item<T>>,
        value: toml::Spanned<DeValue<'_>>,
        path: ItemPath<'_>,
    ) {
        let span = value.span();
        match value.into_inner() {
            DeValue::Array(items) => {
                out.reserve(items.len());
                for (i, v) in items.into_iter().enumerate() {
                    let p = ItemPath {
                        index: Some(i),
                        ..path
                    };
                    if let Some(item) = self.item(v, p) {
                        out.push(item);
                    }
                }
            }
            _ => self.type_error(span, path, "an array of tables"),
        }
    }

    fn type_error(&mut self, span: Range<usize>, path: ItemPath<'_>, expected: &str) {
        let name = path.section;
        let help = if expected.starts_with("an array") {
            format!("write each entry under its own `[[{name}]]` header")
        } else {
            format!("write it as a `[{name}]` table")
        };
        self.diags.push(
            Diagnostic::at(
                Code::InvalidValue,
                Loc::new(self.file, span),
                format!("`{name}` must be {expected}"),
            )
            .with_help(help),
        );
    }

    fn item<T: DeserializeOwned>(
        &mut self,
        value: toml::Spanned<DeValue<'_>>,
        path: ItemPath<'_>,
    ) -> Option<Item<T>> {
        let span = value.span();
        let mut removed: Vec<Range<usize>> = Vec::new();
        let had_unknown = self.check_keys(value.get_ref(), path);
        let broken = self
            .syntax_spans
            .iter()
            .any(|s| span.start <= s.start && s.end <= span.end);
        let mut value = value;
        // Each failed attempt reports one error, drops the offending key and tries again,
        // so that every bad value of an item is reported, not only the first. Bounded: an
        // item has few keys, and each round removes one.
        for _round in 0..32 {
            let de = ValueDeserializer::from(value);
            let result: Result<T, toml::de::Error> = T::deserialize(de);
            let e = match result {
                Ok(value) => {
                    return Some(Item {
                        file: self.file,
                        span,
                        value,
                        damaged: broken || had_unknown || !removed.is_empty(),
                    });
                }
                Err(e) => e,
            };
            let err_span = e.span();
            let already = err_span.as_ref().is_some_and(|es| {
                self.syntax_spans
                    .iter()
                    .chain(&removed)
                    .any(|s| s.start <= es.start && es.end <= s.end)
            });
            let follow_up = e.message().contains("missing field") && !removed.is_empty();
            if !already && !follow_up {
                self.diags.push(serde_error(self.file, span.clone(), &e));
            }
            // Retry without the bad key, on a fresh copy of the item.
            let es = err_span.filter(|es| *es != span && !e.message().contains("missing field"))?;
            let mut fresh = fresh_item(self.text, path)?;
            if !prune(fresh.get_mut(), &es) {
                return None;
            }
            removed.push(es);
            value = fresh;
        }
        None
    }

    /// Reports every key of an item that its structure does not have; true if any.
    fn check_keys(&mut self, value: &DeValue<'_>, path: ItemPath<'_>) -> bool {
        let section = path.section;
        let Some(Some(shape)) = shapes().fields.get(section) else {
            return false;
        };
        self.walk_keys(
            value,
            shape,
            &Names {
                name: section,
                parent: None,
            },
        )
    }

    fn walk_keys(&mut self, value: &DeValue<'_>, shape: &Shape, names: &Names<'_>) -> bool {
        let mut found = false;
        match value {
            DeValue::Table(t) => {
                for (k, v) in t.iter() {
                    let key: &str = k.get_ref().as_ref();
                    match shape.fields.get(key) {
                        None => {
                            found = true;
                            self.unknown_key(key, k.span(), shape, names);
                        }
                        Some(Some(child)) => {
                            let inner = Names {
                                name: key,
                                parent: Some(names),
                            };
                            found |= self.walk_keys(v.get_ref(), child, &inner);
                        }
                        Some(None) => {}
                    }
                }
            }
            DeValue::Array(items) => {
                for v in items.iter() {
                    found |= self.walk_keys(v.get_ref(), shape, names);
                }
            }
            _ => {}
        }
        found
    }

    fn unknown_key(&mut self, key: &str, span: Range<usize>, shape: &Shape, names: &Names<'_>) {
        let mut d = Diagnostic::at(
            Code::UnknownKey,
            Loc::new(self.file, span),
            format!("unknown key `{key}` in `[{}]`", names.join()),
        )
        .with_label("not a key of this table")
        .with_suggestions(closest(key, shape.names.iter().map(String::as_str)));
        if d.suggestions.is_empty() && !shape.names.is_empty() {
            d = d.with_help(format!(
                "the keys allowed here are: {}",
                shape.names.join(", ")
            ));
        }
        self.diags.push(d);
    }
}

/// The keys each table of a plan file may have, from the JSON Schema (built once).
#[derive(Debug, Default)]
struct Shape {
    /// Each allowed key, with the shape of its value when that is a table (or tables).
    fields: FxHashMap<String, Option<Shape>>,
    /// The allowed keys in schema order, for suggestions.
    names: Vec<String>,
}

fn shapes() -> &'static Shape {
    static SHAPES: OnceLock<Shape> = OnceLock::new();
    SHAPES.get_or_init(|| {
        let root = schema();
        shape_at(root, root, 0).unwrap_or_default()
    })
}

fn shape_at(root: &serde_json::Value, node: &serde_json::Value, depth: u32) -> Option<Shape> {
    if depth > 16 {
        return None;
    }
    let node = resolve(root, node);
    if node.get("type").and_then(|t| t.as_str()) == Some("array") {
        return shape_at(root, node.get("items")?, depth + 1);
    }
    let props = node.get("properties")?.as_object()?;
    Some(Shape {
        fields: props
            .iter()
            .map(|(k, v)| (k.clone(), shape_at(root, v, depth + 1)))
            .collect(),
        names: props.keys().cloned().collect(),
    })
}

fn schema() -> &'static serde_json::Value {
    static SCHEMA: OnceLock<serde_json::Value> = OnceLock::new();
    SCHEMA
        .get_or_init(|| serde_json::to_value(crate::schema::plan_file_schema()).unwrap_or_default())
}

/// Follows `$ref`, and the `allOf`/`anyOf` wrappers of optional structs.
fn resolve<'a>(
    root: &'a serde_json::Value,
    mut node: &'a serde_json::Value,
) -> &'a serde_json::Value {
    for _ in 0..16 {
        if let Some(r) = node.get("$ref").and_then(|r| r.as_str()) {
            let name = r.rsplit('/').next().unwrap_or("");
            match root
                .get("definitions")
                .or_else(|| root.get("$defs"))
                .and_then(|d| d.get(name))
            {
                Some(n) => node = n,
                None => return node,
            }
        } else if let Some(any) = node
            .get("allOf")
            .or_else(|| node.get("anyOf"))
            .and_then(|a| a.as_array())
        {
            match any
                .iter()
                .find(|b| b.get("type").and_then(|t| t.as_str()) != Some("null"))
            {
                Some(n) => node = n,
                None => return node,
            }
        } else {
            return node;
        }
    }
    node
}

/// Turns a deserialization error into a diagnostic with the right code and hints.
fn serde_error(file: FileId, item_span: Range<usize>, e: &toml::de::Error) -> Diagnostic {
    let msg = e.message().trim().to_string();
    let span = e.span().unwrap_or(item_span);
    let loc = Loc::new(file, span);
    if let Some(field) = between(&msg, "missing field `", "`") {
        return Diagnostic::at(Code::MissingKey, loc, format!("missing key `{field}`"))
            .with_label(format!("this table needs `{field}`"))
            .with_help(format!("add `{field} = ...` to this table"));
    }
    if let Some(variant) = between(&msg, "unknown variant `", "`") {
        let expected: Vec<String> = msg
            .split("expected ")
            .nth(1)
            .map(|rest| {
                rest.split('`')
                    .enumerate()
                    .filter(|(i, _)| i % 2 == 1)
                    .map(|(_, s)| s.to_string())
                    .collect()
            })
            .unwrap_or_default();
        let mut d = Diagnostic::at(
            Code::InvalidValue,
            loc,
            format!("unknown value `{variant}`"),
        )
        .with_label("not one of the allowed values")
        .with_suggestions(closest(&variant, expected.iter().map(String::as_str)));
        if d.suggestions.is_empty() {
            d = d.with_help(format!("allowed values: {}", expected.join(", ")));
        }
        return d;
    }
    if msg.starts_with("impossible date") {
        return Diagnostic::at(Code::ImpossibleDate, loc, msg)
            .with_label("this day does not exist");
    }
    let msg = msg.replace("invalid type: ", "wrong type: ");
    Diagnostic::at(Code::InvalidValue, loc, msg).with_label("invalid value")
}

fn between(s: &str, start: &str, end: &str) -> Option<String> {
    let i = s.find(start)? + start.len();
    let j = s[i..].find(end)? + i;
    Some(s[i..j].to_string())
}

/// The item at `path`, parsed again from the text.
fn fresh_item<'i>(text: &'i str, path: ItemPath<'_>) -> Option<toml::Spanned<DeValue<'i>>> {
    let (root, _) = DeTable::parse_recoverable(text);
    let (_, value) = root
        .into_inner()
        .into_iter()
        .find(|(k, _)| k.get_ref().as_ref() == path.section)?;
    match path.index {
        None => Some(value),
        Some(i) => match value.into_inner() {
            DeValue::Array(items) => items.into_iter().nth(i),
            _ => None,
        },
    }
}

/// Removes the innermost key whose value holds `bad`; false if there is none.
fn prune(value: &mut DeValue<'_>, bad: &Range<usize>) -> bool {
    let within = |s: &Range<usize>| s.start <= bad.start && bad.end <= s.end;
    match value {
        DeValue::Table(t) => {
            let mut pruned_inside = false;
            let mut drop_key = None;
            for (k, v) in t.iter_mut() {
                if within(&v.span()) || within(&k.span()) {
                    if prune(v.get_mut(), bad) {
                        pruned_inside = true;
                    } else {
                        drop_key = Some(k.get_ref().to_string());
                    }
                    break;
                }
            }
            if pruned_inside {
                return true;
            }
            match drop_key {
                Some(key) => {
                    let old = std::mem::take(t);
                    for (k, v) in old {
                        if k.get_ref().as_ref() != key.as_str() {
                            t.insert(k, v);
                        }
                    }
                    true
                }
                None => false,
            }
        }
        DeValue::Array(items) => {
            for v in items.iter_mut() {
                if within(&v.span()) {
                    return prune(v.get_mut(), bad);
                }
            }
            false
        }
        _ => false,
    }
}
