//! The templates of one fund: the engine's defaults, overridden by the plan's files.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::str::FromStr;

use minijinja::{Environment, UndefinedBehavior, Value};
use rust_decimal::Decimal;

use super::markup::Letter;
use crate::french::{amount_fr, date_fr, list_fr, money_fr};

/// The templates the engine provides, by name. A plan's `<name>.j2` replaces one.
pub const DEFAULTS: &[(&str, &str)] = &[
    (
        "accuse-reception",
        include_str!("defaults/accuse-reception.j2"),
    ),
    (
        "notification-attribution",
        include_str!("defaults/notification-attribution.j2"),
    ),
    (
        "notification-refus",
        include_str!("defaults/notification-refus.j2"),
    ),
    (
        "notification-irrecevabilite",
        include_str!("defaults/notification-irrecevabilite.j2"),
    ),
    (
        "notification-sans-suite",
        include_str!("defaults/notification-sans-suite.j2"),
    ),
    (
        "notification-caducite",
        include_str!("defaults/notification-caducite.j2"),
    ),
    (
        "notification-reduction",
        include_str!("defaults/notification-reduction.j2"),
    ),
    (
        "notification-reversement",
        include_str!("defaults/notification-reversement.j2"),
    ),
    (
        "notification-rejet-implicite",
        include_str!("defaults/notification-rejet-implicite.j2"),
    ),
    (
        "arrete-attribution",
        include_str!("defaults/arrete-attribution.j2"),
    ),
    ("convention", include_str!("defaults/convention.j2")),
    (
        "voies-de-recours",
        include_str!("defaults/voies-de-recours.j2"),
    ),
    (
        "en-tete-dossier",
        include_str!("defaults/en-tete-dossier.j2"),
    ),
    ("courriel", include_str!("defaults/courriel.j2")),
    ("courriel-objet", include_str!("defaults/courriel-objet.j2")),
    (
        "explication-verdict",
        include_str!("defaults/explication-verdict.j2"),
    ),
    (
        "explication-contribution",
        include_str!("defaults/explication-contribution.j2"),
    ),
    (
        "explication-mention",
        include_str!("defaults/explication-mention.j2"),
    ),
];

/// Bounds one rendering (a loop over a long list is fine; a runaway macro is not).
const FUEL: u64 = 200_000;

/// A template of the plan that does not compile.
#[derive(Debug, Clone, thiserror::Error)]
#[error("template `{name}`: {message}")]
pub struct TemplateError {
    pub name: String,
    pub file: PathBuf,
    /// 1-based line, when the template engine gives one.
    pub line: Option<usize>,
    pub message: String,
}

/// A template that could not be rendered with the facts given (a variable it reads that the
/// caller does not provide, a filter given a value of the wrong kind).
#[derive(Debug, Clone, thiserror::Error)]
#[error("template `{name}` cannot be rendered: {message}")]
pub struct RenderError {
    pub name: String,
    pub message: String,
}

pub struct Templates {
    env: Environment<'static>,
    names: BTreeSet<String>,
    /// The plan's own templates, by name (the others are the defaults).
    overridden: BTreeSet<String>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates")
            .field("names", &self.names)
            .field("overridden", &self.overridden)
            .finish()
    }
}

impl Default for Templates {
    fn default() -> Self {
        Templates::load(Vec::new()).expect("the default templates compile")
    }
}

impl Templates {
    /// The defaults, replaced or completed by the plan's `(name, file, source)`.
    pub fn load(plan: Vec<(String, PathBuf, String)>) -> Result<Templates, Vec<TemplateError>> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_fuel(Some(FUEL));
        env.add_filter("date", filter_date);
        env.add_filter("money", filter_money);
        env.add_filter("number", filter_number);
        env.add_filter("percent", filter_percent);
        env.add_filter("list", filter_list);
        env.add_function("add", |a: Value, b: Value| {
            arith(&a, &b, |x, y| x.checked_add(y))
        });
        env.add_function("sub", |a: Value, b: Value| {
            arith(&a, &b, |x, y| x.checked_sub(y))
        });
        env.add_function("mul", |a: Value, b: Value| {
            arith(&a, &b, |x, y| x.checked_mul(y))
        });
        let mut names = BTreeSet::new();
        let mut overridden = BTreeSet::new();
        let mut errors = Vec::new();
        let theirs: BTreeSet<&str> = plan.iter().map(|(n, _, _)| n.as_str()).collect();
        for (name, source) in DEFAULTS {
            if theirs.contains(name) {
                continue;
            }
            env.add_template_owned(name.to_string(), source.to_string())
                .expect("the default templates compile");
            names.insert(name.to_string());
        }
        for (name, file, source) in plan {
            match env.add_template_owned(name.clone(), source) {
                Ok(()) => {
                    names.insert(name.clone());
                    overridden.insert(name);
                }
                Err(e) => errors.push(TemplateError {
                    name,
                    file,
                    line: e.line(),
                    message: e.detail().unwrap_or("syntax error").to_string(),
                }),
            }
        }
        if errors.is_empty() {
            Ok(Templates {
                env,
                names,
                overridden,
            })
        } else {
            Err(errors)
        }
    }

    pub fn has(&self, name: &str) -> bool {
        self.names.contains(name)
    }

    /// Whether the plan wrote this template (otherwise it is the engine's default).
    pub fn is_plan_own(&self, name: &str) -> bool {
        self.overridden.contains(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }

    /// The template's text with `facts` (a JSON object).
    pub fn render(&self, name: &str, facts: &serde_json::Value) -> Result<String, RenderError> {
        let err = |e: minijinja::Error| RenderError {
            name: name.to_string(),
            message: match e.detail() {
                Some(d) => format!("{}: {d}", e.kind()),
                None => e.kind().to_string(),
            },
        };
        let t = self.env.get_template(name).map_err(err)?;
        t.render(Value::from_serialize(facts)).map_err(err)
    }

    /// The template read as a letter (subject and blocks).
    pub fn letter(&self, name: &str, facts: &serde_json::Value) -> Result<Letter, RenderError> {
        Ok(Letter::parse(&self.render(name, facts)?))
    }
}

fn bad(what: &str, v: &Value) -> minijinja::Error {
    minijinja::Error::new(
        minijinja::ErrorKind::InvalidOperation,
        format!("{what} expected, got `{v}`"),
    )
}

fn decimal(v: &Value) -> Option<Decimal> {
    let s = match v.as_str() {
        Some(s) => s.to_string(),
        None if v.is_number() => v.to_string(),
        None => return None,
    };
    Decimal::from_str(s.trim())
        .or_else(|_| Decimal::from_scientific(s.trim()))
        .ok()
}

fn arith(
    a: &Value,
    b: &Value,
    op: fn(Decimal, Decimal) -> Option<Decimal>,
) -> Result<String, minijinja::Error> {
    let x = decimal(a).ok_or_else(|| bad("a number", a))?;
    let y = decimal(b).ok_or_else(|| bad("a number", b))?;
    op(x, y)
        .map(|r| r.normalize().to_string())
        .ok_or_else(|| bad("a smaller number", a))
}

fn filter_date(v: Value) -> Result<String, minijinja::Error> {
    v.as_str()
        .and_then(|s| s.get(..10).unwrap_or(s).parse::<jiff::civil::Date>().ok())
        .map(date_fr)
        .ok_or_else(|| bad("a date (YYYY-MM-DD)", &v))
}

fn filter_money(v: Value) -> Result<String, minijinja::Error> {
    decimal(&v)
        .map(money_fr)
        .ok_or_else(|| bad("an amount", &v))
}

fn filter_number(v: Value) -> Result<String, minijinja::Error> {
    decimal(&v)
        .map(amount_fr)
        .ok_or_else(|| bad("a number", &v))
}

fn filter_percent(v: Value) -> Result<String, minijinja::Error> {
    decimal(&v)
        .map(|d| format!("{}\u{a0}%", amount_fr(d * Decimal::ONE_HUNDRED)))
        .ok_or_else(|| bad("a ratio", &v))
}

fn filter_list(v: Value) -> Result<String, minijinja::Error> {
    let items: Vec<String> = v
        .try_iter()
        .map_err(|_| bad("a list", &v))?
        .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
        .collect();
    Ok(list_fr(&items))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_compile_and_filters_write_french() {
        let t = Templates::load(vec![(
            "essai".into(),
            "essai.j2".into(),
            "{{ d | date }} ; {{ m | money }} ; {{ add(p, mul(p, r)) | money }} ; {{ r | percent }} ; {{ l | list }}".into(),
        )])
        .unwrap();
        assert!(t.has("accuse-reception") && t.is_plan_own("essai"));
        let out = t
            .render(
                "essai",
                &json!({"d": "2021-03-01", "m": 8000, "p": "10000", "r": "0.5", "l": ["a", "b", "c"]}),
            )
            .unwrap();
        assert_eq!(
            out,
            "1er mars 2021 ; 8\u{202f}000\u{a0}€ ; 15\u{202f}000\u{a0}€ ; 50\u{a0}% ; a, b et c"
        );
    }

    #[test]
    fn a_template_that_does_not_compile_is_reported_with_its_line() {
        let e = Templates::load(vec![(
            "accuse-reception".into(),
            "courriers/accuse-reception.j2".into(),
            "# Objet\n\n{% if %}\n".into(),
        )])
        .unwrap_err();
        assert_eq!(e[0].name, "accuse-reception");
        assert_eq!(e[0].line, Some(3));
    }

    #[test]
    fn an_unknown_variable_is_a_render_error_not_an_empty_text() {
        let t = Templates::load(vec![(
            "x".into(),
            "x.j2".into(),
            "{{ nope.deeper }}".into(),
        )])
        .unwrap();
        assert!(t.render("x", &json!({})).is_err());
        let t =
            Templates::load(vec![("y".into(), "y.j2".into(), "{{ a | money }}".into())]).unwrap();
        assert!(t.render("y", &json!({"a": "pas un montant"})).is_err());
    }
}
