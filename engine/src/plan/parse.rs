//! Reading one plan file into raw items, reporting every problem it can find.
//!
//! The file is parsed once into toml's spanned tree; each item of each section is then
//! deserialized on its own, so that one bad action does not hide the next one, and every
//! key that no structure knows is reported (serde would stop at the first).

use std::ops::Range;
use std::sync::OnceLock;

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
    pub role: Vec<Item<RawLabelled>>,
    pub audience: Vec<Item<RawLabelled>>,
    pub criterion: Vec<Item<RawLabelled>>,
    pub domain: Vec<Item<RawLabelled>>,
    pub budget: Vec<Item<RawBudget>>,
    pub fund: Vec<Item<RawFund>>,
    pub workflow: Vec<Item<RawWorkflow>>,
}

/// An unknown key found while deserializing, located later (rare, so the file is
/// re-parsed only then).
struct Unknown {
    path: Vec<Seg>,
}

#[derive(Debug, Clone)]
enum Seg {
    Key(String),
    Index(usize),
}

struct FileCtx<'a> {
    file: FileId,
    text: &'a str,
    diags: &'a mut Diagnostics,
    unknown: Vec<Unknown>,
}

/// Parses one file's text and appends its items to `parts`.
pub fn parse_file(file: FileId, text: &str, parts: &mut RawParts, diags: &mut Diagnostics) {
    let (root, errors) = DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        for e in errors {
            let span = e.span().unwrap_or(0..0);
            diags.push(
                Diagnostic::at(
                    Code::Syntax,
                    Loc::new(file, span),
                    syntax_message(e.message()),
                )
                .with_help("see https://toml.io for the syntax of TOML files"),
            );
        }
        // A recovered tree would only add confusing follow-up errors.
        return;
    }
    let mut ctx = FileCtx {
        file,
        text,
        diags,
        unknown: Vec::new(),
    };
    for (key, value) in root.into_inner() {
        let key_span = key.span();
        let name = key.into_inner();
        let base = vec![Seg::Key(name.to_string())];
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
    ctx.locate_unknown();
}

fn syntax_message(m: &str) -> String {
    let m = m.trim();
    let first = m.lines().next().unwrap_or(m);
    format!("invalid TOML: {first}")
}

impl FileCtx<'_> {
    fn one<T: DeserializeOwned>(
        &mut self,
        out: &mut Vec<Item<T>>,
        value: toml::Spanned<DeValue<'_>>,
        path: Vec<Seg>,
    ) {
        if !value.get_ref().is_table() {
            let span = value.span();
            self.type_error(span, &path, "a table");
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
        path: Vec<Seg>,
    ) {
        let span = value.span();
        match value.into_inner() {
            DeValue::Array(items) => {
                for (i, v) in items.into_iter().enumerate() {
                    let mut p = path.clone();
                    p.push(Seg::Index(i));
                    if let Some(item) = self.item(v, p) {
                        out.push(item);
                    }
                }
            }
            _ => self.type_error(span, &path, "an array of tables"),
        }
    }

    fn type_error(&mut self, span: Range<usize>, path: &[Seg], expected: &str) {
        let name = match path.first() {
            Some(Seg::Key(k)) => k.clone(),
            _ => String::new(),
        };
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
        path: Vec<Seg>,
    ) -> Option<Item<T>> {
        let span = value.span();
        let de = ValueDeserializer::from(value);
        let mut ignored: Vec<Vec<Seg>> = Vec::new();
        let result: Result<T, toml::de::Error> =
            serde_ignored::deserialize(de, |p| ignored.push(segments(&p)));
        for rel in ignored {
            let mut full = path.clone();
            full.extend(rel);
            self.unknown.push(Unknown { path: full });
        }
        match result {
            Ok(value) => Some(Item {
                file: self.file,
                span,
                value,
            }),
            Err(e) => {
                self.diags.push(serde_error(self.file, span, &e));
                None
            }
        }
    }

    fn locate_unknown(&mut self) {
        if self.unknown.is_empty() {
            return;
        }
        let Ok(root) = DeTable::parse(self.text) else {
            return;
        };
        let root = root.into_inner();
        for u in std::mem::take(&mut self.unknown) {
            let (span, parent) = locate(&root, &u.path);
            let key = match u.path.last() {
                Some(Seg::Key(k)) => k.clone(),
                _ => continue,
            };
            let known = keys_at(&parent);
            let mut d = Diagnostic::at(
                Code::UnknownKey,
                Loc::new(self.file, span.unwrap_or(0..0)),
                format!("unknown key `{key}` in {}", describe(&parent)),
            )
            .with_label("not a key of this table")
            .with_suggestions(closest(&key, known.iter().map(String::as_str)));
            if d.suggestions.is_empty() && !known.is_empty() {
                d = d.with_help(format!("the keys allowed here are: {}", known.join(", ")));
            }
            self.diags.push(d);
        }
    }
}

fn segments(p: &serde_ignored::Path<'_>) -> Vec<Seg> {
    let mut out = Vec::new();
    let mut cur = p;
    loop {
        match cur {
            serde_ignored::Path::Root => break,
            serde_ignored::Path::Seq { parent, index } => {
                out.push(Seg::Index(*index));
                cur = parent;
            }
            serde_ignored::Path::Map { parent, key } => {
                out.push(Seg::Key(key.clone()));
                cur = parent;
            }
            serde_ignored::Path::Some { parent }
            | serde_ignored::Path::NewtypeStruct { parent }
            | serde_ignored::Path::NewtypeVariant { parent } => cur = parent,
        }
    }
    out.reverse();
    // `toml::Spanned` travels as a private map; its keys are not the author's.
    out.retain(|s| !matches!(s, Seg::Key(k) if k.starts_with("$__")));
    out
}

/// The span of the key at `path`, and the path of its parent table.
fn locate(root: &DeTable<'_>, path: &[Seg]) -> (Option<Range<usize>>, Vec<Seg>) {
    let parent: Vec<Seg> = path[..path.len().saturating_sub(1)].to_vec();
    let mut table = Some(root);
    let mut value: Option<&DeValue<'_>> = None;
    let mut span = None;
    for seg in path {
        match seg {
            Seg::Key(k) => {
                let t = match (table, value) {
                    (Some(t), _) => t,
                    (None, Some(DeValue::Table(t))) => t,
                    _ => return (span, parent),
                };
                let Some((key, v)) = t
                    .iter()
                    .find(|(key, _)| key.get_ref().as_ref() == k.as_str())
                else {
                    return (span, parent);
                };
                span = Some(key.span());
                value = Some(v.get_ref());
                table = None;
            }
            Seg::Index(i) => {
                let Some(DeValue::Array(a)) = value else {
                    return (span, parent);
                };
                let Some(v) = a.into_iter().nth(*i) else {
                    return (span, parent);
                };
                value = Some(v.get_ref());
            }
        }
    }
    (span, parent)
}

fn describe(parent: &[Seg]) -> String {
    let mut s = String::new();
    for seg in parent {
        if let Seg::Key(k) = seg {
            if !s.is_empty() {
                s.push('.');
            }
            s.push_str(k);
        }
    }
    if s.is_empty() {
        "the file".to_string()
    } else {
        format!("`[{s}]`")
    }
}

fn schema() -> &'static serde_json::Value {
    static SCHEMA: OnceLock<serde_json::Value> = OnceLock::new();
    SCHEMA
        .get_or_init(|| serde_json::to_value(crate::schema::plan_file_schema()).unwrap_or_default())
}

/// The keys the schema allows in the table at `path`.
fn keys_at(path: &[Seg]) -> Vec<String> {
    let root = schema();
    let mut node = root;
    for seg in path {
        node = resolve(root, node);
        node = match seg {
            Seg::Key(k) => match node.get("properties").and_then(|p| p.get(k)) {
                Some(n) => n,
                None => return Vec::new(),
            },
            Seg::Index(_) => match node.get("items") {
                Some(n) => n,
                None => return Vec::new(),
            },
        };
    }
    let node = resolve(root, node);
    node.get("properties")
        .and_then(|p| p.as_object())
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
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
