//! Many applications at once (`metroplan eligibility --batch`): one result line per input
//! line, in order, each carrying its line number and the application's `id` when the line
//! gives one, so that no result can be attributed to another application.
//!
//! Earlier filings (article 6 of the demonstration fund: one per applicant and call) are the
//! earlier lines of the same applicant and call **that got an outcome**: a line refused as a
//! bad request (not JSON, not the form, rules that do not cover its date) was never filed and
//! does not count against the corrected line after it. Lines are evaluated in parallel with
//! the count their predecessors would give if they all got an outcome; a line whose count
//! turns out different is evaluated again, in order, before its result is written.

use jiff::civil::Date;
use rustc_hash::FxHashMap;
use serde_json::{Map, Value};

use super::application::{self, Application};
use super::explain::explain;
use super::{Context, EvalError, Evaluation, Ruleset};
use crate::model::FundKeys;

/// The key of a batch line that is not a form field: the application's id, echoed on its
/// result line and removed before the form is checked.
pub const ID_KEY: &str = "id";

/// The applicant and call an application is counted under.
type Filer = (String, i64);

/// A batch in progress: the outcomes counted so far per applicant and call, across blocks.
#[derive(Debug)]
pub struct Batch<'r> {
    rules: &'r Ruleset,
    call: String,
    applicant: String,
    filed_on: Option<Date>,
    filed: FxHashMap<Filer, u32>,
}

/// A line read and checked against the form, before the rules run.
struct Prepared {
    line: usize,
    id: Option<Value>,
    app: Result<Application, String>,
    filer: Option<Filer>,
}

impl<'r> Batch<'r> {
    /// `keys`: the fund's `[fund.keys]` (which fields give the call and the applicant);
    /// `filed_on`: the filing date of lines without one (`None`: such a line is incomplete).
    pub fn new(rules: &'r Ruleset, keys: Option<&FundKeys>, filed_on: Option<Date>) -> Self {
        Batch {
            rules,
            call: keys.map_or("call", |k| k.call.as_str()).to_string(),
            applicant: keys
                .map_or("applicant.siret", |k| k.applicant.as_str())
                .to_string(),
            filed_on,
            filed: FxHashMap::default(),
        }
    }

    /// The result lines (JSON, without newline) of `lines`, given as (1-based line number,
    /// text), in the same order; `threads` evaluate in parallel.
    pub fn block(&mut self, lines: &[(usize, &str)], threads: usize) -> Vec<String> {
        let prepared: Vec<Prepared> = lines.iter().map(|&(n, l)| self.prepare(n, l)).collect();
        // The count each line would get if every line of the form were filed.
        let mut provisional = self.filed.clone();
        let counts: Vec<u32> = prepared
            .iter()
            .map(|p| match (&p.app, &p.filer) {
                (Ok(_), Some(k)) => {
                    let n = provisional.entry(k.clone()).or_insert(0);
                    *n += 1;
                    *n - 1
                }
                _ => 0,
            })
            .collect();
        let threads = threads.max(1);
        let chunk = prepared.len().div_ceil(threads).max(1);
        let rules = self.rules;
        let filed_on = self.filed_on;
        let mut results: Vec<Result<Evaluation, String>> = std::thread::scope(|s| {
            let handles: Vec<_> = prepared
                .chunks(chunk)
                .zip(counts.chunks(chunk))
                .map(|(ps, cs)| {
                    s.spawn(move || {
                        ps.iter()
                            .zip(cs)
                            .map(|(p, &c)| evaluate(rules, p, filed_on, c))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect()
        });
        // In order: the real count of earlier filings, and a new evaluation where it differs.
        let mut out = Vec::with_capacity(prepared.len());
        for (i, p) in prepared.iter().enumerate() {
            if let (Ok(_), Some(k)) = (&p.app, &p.filer) {
                let real = self.filed.get(k).copied().unwrap_or(0);
                if real != counts[i] {
                    results[i] = evaluate(rules, p, filed_on, real);
                }
                if results[i].is_ok() {
                    *self.filed.entry(k.clone()).or_insert(0) += 1;
                }
            }
            out.push(self.result_line(p, &results[i]));
        }
        out
    }

    fn prepare(&self, line: usize, text: &str) -> Prepared {
        let mut p = Prepared {
            line,
            id: None,
            app: Err(String::new()),
            filer: None,
        };
        if text.trim().is_empty() {
            p.app = Err("blank line: no application".into());
            return p;
        }
        let mut json = match serde_json::from_str::<Value>(text) {
            Ok(j) => j,
            Err(e) => {
                p.app = Err(format!("not valid JSON: {e}"));
                return p;
            }
        };
        let is_field = self.rules.env.form.fields.iter().any(|f| f.path == ID_KEY);
        if !is_field && let Some(o) = json.as_object_mut() {
            p.id = o.remove(ID_KEY);
        }
        p.app = application::check(&self.rules.env.form, &json)
            .map_err(|e| EvalError::Input(e).to_string());
        if let Ok(app) = &p.app {
            let call = app.get(&self.call).and_then(|v| v.as_int().ok());
            let who = app
                .get(&self.applicant)
                .and_then(|v| v.clone().into_string().ok());
            p.filer = call.zip(who).map(|(c, w)| (w, c));
        }
        p
    }

    fn result_line(&self, p: &Prepared, r: &Result<Evaluation, String>) -> String {
        let mut m = Map::new();
        m.insert("line".into(), p.line.into());
        if let Some(id) = &p.id {
            m.insert("id".into(), id.clone());
        }
        match r {
            Ok(e) => {
                if let Ok(Value::Object(ev)) = serde_json::to_value(e) {
                    m.extend(ev);
                }
                match serde_json::to_value(explain(self.rules, e)) {
                    Ok(x) => {
                        m.insert("explanation".into(), x);
                    }
                    Err(err) => {
                        m.insert("error".into(), err.to_string().into());
                    }
                }
            }
            Err(msg) => {
                m.insert("error".into(), msg.clone().into());
            }
        }
        Value::Object(m).to_string()
    }
}

fn evaluate(
    rules: &Ruleset,
    p: &Prepared,
    filed_on: Option<Date>,
    other_filings: u32,
) -> Result<Evaluation, String> {
    let app = p.app.as_ref().map_err(Clone::clone)?;
    let ctx = Context {
        filed_on,
        other_filings,
    };
    // An evaluation is not supposed to panic; if one does, its line says so and the others
    // keep their results (and their places).
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rules.evaluate_checked(app.clone(), ctx)
    }))
    .unwrap_or_else(|_| {
        Err(EvalError::Script {
            script: rules.script.clone(),
            rule: None,
            message: "the evaluation failed (internal error)".into(),
        })
    })
    .map_err(|e| e.to_string())
}
