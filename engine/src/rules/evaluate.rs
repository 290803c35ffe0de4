//! Evaluating an application: the script's run, then the outcome (form requirements first,
//! exceptions by priority, three outcomes) and the grid score.

use jiff::civil::Date;
use rhai::EvalAltResult;
use rust_decimal::Decimal;
use rustc_hash::FxHashMap;

use super::application::{self, Application, InputError};
use super::compile::Ruleset;
use super::environment::FILING_DATE_FIELD;
use super::host::{note_input, note_param};
use super::sandbox;
use super::state::{Mode, Session, State};
use super::types::*;
use crate::model::Assessment;

impl Ruleset {
    /// Evaluates one application.
    pub fn evaluate(
        &self,
        json: &serde_json::Value,
        ctx: Context,
    ) -> Result<Evaluation, EvalError> {
        let app = application::check(&self.env.form, json)?;
        self.evaluate_checked(app, ctx)
    }

    /// Evaluates an application already checked against the form.
    pub fn evaluate_checked(
        &self,
        app: Application,
        ctx: Context,
    ) -> Result<Evaluation, EvalError> {
        // The engine reads no clock: the caller gives the day of filing when the application
        // does not (the server sets it when filing; the command line takes `--as-of`). With
        // neither, the filing date is missing data, never today: the form lists it when it
        // requires it, and every check that applies a parameter is missing it.
        let filed_on = app.date(FILING_DATE_FIELD).or(ctx.filed_on);
        let form_missing: Vec<String> = app
            .missing_fields
            .iter()
            .chain(&app.missing_documents)
            .cloned()
            .collect();
        let session = Session::start(State {
            mode: Mode::Evaluate,
            env: Some(self.env.clone()),
            app,
            filed_on,
            other_filings: ctx.other_filings,
            ..State::default()
        });
        let run = {
            let _clock = sandbox::start_clock(self.limits.wall_clock);
            self.engine.run_ast(&self.ast)
        };
        let mut st = session.finish();
        if let Err(e) = run {
            let rule = st.current.take().map(|c| c.id);
            return Err(self.error(&e, rule));
        }
        let e = self.conclude(&mut st, filed_on, form_missing);
        // A check that applies a parameter with no value on the filing date was not
        // evaluated. Another check that fails already makes the file ineligible (e.g. a filing
        // outside every call: article 6), whatever the skipped one would have said; without
        // one, the rules do not cover the date, which is the plan's gap, not an outcome.
        if let Some(message) = st.out_of_period
            && !decided_without_skipped(self, &e)
        {
            return Err(EvalError::Input(InputError {
                field: FILING_DATE_FIELD.to_string(),
                message,
            }));
        }
        Ok(e)
    }

    fn error(&self, e: &EvalAltResult, rule: Option<String>) -> EvalError {
        let l = &self.limits;
        let limit = match root(e) {
            EvalAltResult::ErrorTerminated(..) => Some(format!(
                "time limit of {} ms reached",
                l.wall_clock.as_millis()
            )),
            EvalAltResult::ErrorTooManyOperations(..) => {
                Some(format!("operation limit of {} reached", l.max_operations))
            }
            EvalAltResult::ErrorStackOverflow(..) => Some(format!(
                "call depth limit of {} reached (endless recursion?)",
                l.max_call_levels
            )),
            EvalAltResult::ErrorDataTooLarge(what, ..) => Some(format!("size limit: {what}")),
            EvalAltResult::ErrorTooManyVariables(..) => Some("variable limit reached".into()),
            _ => None,
        };
        match limit {
            Some(limit) => EvalError::Limit {
                script: self.script.clone(),
                rule,
                limit,
            },
            None => EvalError::Script {
                script: self.script.clone(),
                rule,
                message: root_message(e),
            },
        }
    }

    fn conclude(
        &self,
        st: &mut State,
        filed_on: Option<Date>,
        form_missing: Vec<String>,
    ) -> Evaluation {
        let mut rules = Vec::with_capacity(st.results.len() + 2);
        // The form's own requirements come first: they are checked before any rule.
        let (fields, docs): (Vec<String>, Vec<String>) = form_missing
            .iter()
            .cloned()
            .partition(|m| !m.starts_with("documents."));
        let form_check =
            |id: &str, article: String, message: &str, missing: Vec<String>| RuleResult {
                id: id.into(),
                article,
                status: if missing.is_empty() {
                    Status::Pass
                } else {
                    Status::Missing
                },
                message: message.into(),
                applies: true,
                missing,
                inputs: Vec::new(),
                parameters: Vec::new(),
                overridden_by: None,
                not_evaluated: None,
                exception_applies: None,
            };
        rules.push(form_check(
            "formulaire-champs",
            "Formulaire de demande".into(),
            "Les champs obligatoires du formulaire sont renseignés",
            fields,
        ));
        if !self.env.form.documents.is_empty() {
            let article = self
                .env
                .form
                .documents
                .iter()
                .find_map(|d| d.reference.clone())
                .unwrap_or_else(|| "Formulaire de demande".into());
            rules.push(form_check(
                "formulaire-pieces",
                article,
                "Les pièces requises sont jointes",
                docs,
            ));
        }
        let script_rules = std::mem::take(&mut st.results);
        let base = rules.len();
        rules.extend(script_rules);
        // Exceptions that apply replace their rule; the highest priority wins.
        let mut winner: FxHashMap<String, (i64, usize)> = FxHashMap::default();
        for (i, r) in rules.iter().enumerate().skip(base) {
            if r.exception_applies == Some(true)
                && let Some(DeclKind::Exception {
                    overrides,
                    priority,
                }) = self.declaration(&r.id).map(|d| &d.kind)
            {
                let e = winner.entry(overrides.clone()).or_insert((*priority, i));
                if *priority > e.0 {
                    *e = (*priority, i);
                }
            }
        }
        for (target, (_, i)) in &winner {
            let by = rules[*i].id.clone();
            for r in rules.iter_mut() {
                if r.id == *target {
                    r.overridden_by = Some(by.clone());
                }
            }
            // A lower-priority exception that also applied is replaced too.
            for (j, r) in rules.iter_mut().enumerate().skip(base) {
                let same_target = matches!(
                    self.declaration(&r.id).map(|d| &d.kind),
                    Some(DeclKind::Exception { overrides, .. }) if overrides == target
                );
                if j != *i && r.exception_applies == Some(true) && same_target {
                    r.overridden_by = Some(by.clone());
                }
            }
        }
        let mut missing: Vec<String> = Vec::new();
        for r in rules.iter().filter(|r| r.counts()) {
            if r.status == Status::Missing {
                for m in &r.missing {
                    if !missing.contains(m) {
                        missing.push(m.clone());
                    }
                }
            }
        }
        let counted = || rules.iter().filter(|r| r.counts());
        let outcome = if counted().any(|r| r.status == Status::Fail) {
            Outcome::Ineligible
        } else if counted().any(|r| r.status == Status::Missing) {
            Outcome::Incomplete
        } else {
            Outcome::Eligible
        };
        let score = filed_on
            .filter(|_| outcome == Outcome::Eligible)
            .and_then(|day| self.score(st, day));
        Evaluation {
            outcome,
            fund: self.env.fund.clone(),
            filed_on,
            rules,
            missing,
            inputs: std::mem::take(&mut st.inputs),
            parameters: std::mem::take(&mut st.params),
            score,
            printed: std::mem::take(&mut st.printed),
            ruleset: self.hash.clone(),
        }
    }

    /// Points of the automatic criteria; the instructors' criteria stay open.
    fn score(&self, st: &mut State, filed_on: Date) -> Option<Score> {
        let grid = self.env.grid.as_ref()?;
        let mut points = Decimal::ZERO;
        let mut open = Decimal::ZERO;
        let mut criteria = Vec::new();
        for c in &grid.criteria {
            let p = self.env.parameter(c.points.as_str())?;
            let v = p.values.at(filed_on)?;
            let max = v.value;
            note_param(&mut st.params, p, v);
            let got = match (c.assessed, &c.field) {
                (Assessment::Reviewer, _) => None,
                (Assessment::Automatic, Some(f)) => {
                    let yes = st.app.values.get(f.as_str()).and_then(|v| v.as_bool().ok());
                    if let Some(shown) = st.app.shown(f) {
                        let shown = shown.to_string();
                        note_input(st, f.clone(), shown, "formulaire de demande");
                    }
                    Some(if yes == Some(true) {
                        max
                    } else {
                        Decimal::ZERO
                    })
                }
                (Assessment::Automatic, None) => {
                    let yes = st
                        .grid
                        .iter()
                        .find(|(id, _)| id == c.id.as_str())
                        .is_some_and(|(_, s)| *s == Status::Pass);
                    Some(if yes { max } else { Decimal::ZERO })
                }
            };
            match got {
                Some(g) => points += g,
                None => open += max,
            }
            criteria.push(CriterionScore {
                id: c.id.to_string(),
                label: c.label.clone(),
                max,
                points: got,
                assessed: c.assessed,
            });
        }
        Some(Score {
            points,
            max_reachable: points + open,
            total: grid.total,
            criteria,
        })
    }

    pub fn declaration(&self, id: &str) -> Option<&Declaration> {
        self.declarations.iter().find(|d| d.id == id)
    }

    /// The ids of the checks that have a pass/fail result (rules and exceptions).
    pub fn rule_ids(&self) -> impl Iterator<Item = &str> {
        self.declarations
            .iter()
            .filter(|d| d.kind != DeclKind::Grid)
            .map(|d| d.id.as_str())
    }
}

/// Whether the outcome is ineligible through a failing check that no skipped (not evaluated)
/// exception could have replaced.
fn decided_without_skipped(rules: &Ruleset, e: &Evaluation) -> bool {
    let skipped_targets: Vec<&str> = e
        .rules
        .iter()
        .filter(|r| r.not_evaluated.is_some())
        .filter_map(|r| match rules.declaration(&r.id).map(|d| &d.kind) {
            Some(DeclKind::Exception { overrides, .. }) => Some(overrides.as_str()),
            _ => None,
        })
        .collect();
    e.outcome == Outcome::Ineligible
        && e.rules.iter().any(|r| {
            r.counts() && r.status == Status::Fail && !skipped_targets.contains(&r.id.as_str())
        })
}

fn root(e: &EvalAltResult) -> &EvalAltResult {
    match e {
        EvalAltResult::ErrorInFunctionCall(_, _, inner, _) => root(inner),
        other => other,
    }
}

pub(super) fn root_message(e: &EvalAltResult) -> String {
    let r = root(e);
    let pos = r.position();
    let msg = match r {
        EvalAltResult::ErrorRuntime(v, _) => v.to_string(),
        other => other.to_string(),
    };
    if pos.is_none() || msg.contains(&format!("{pos}")) {
        msg
    } else {
        format!("{msg} ({pos})")
    }
}
