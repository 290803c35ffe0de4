//! The host functions a script calls (`rule`, `exception`, `grid`, `field`, `param`,
//! `council_of`...), each recording what it reads in the running evaluation's state, and
//! the engine that registers them.

use std::fmt::Write as _;

use jiff::civil::Date;
use rhai::{Array, Dynamic, EvalAltResult, FnPtr, INT, ImmutableString, NativeCallContext};
use rust_decimal::Decimal;

use super::environment::{Env, FILING_DATE_FIELD, TerritoryInfo};
use super::sandbox::{self, Limits};
use super::state::{Current, Mode, State, with_state};
use super::types::{DeclKind, Declaration, InputUse, ParamUse, RuleResult, Status};
use crate::model::Parameter;

type Res<T> = Result<T, Box<EvalAltResult>>;

fn runtime(msg: impl Into<String>) -> Box<EvalAltResult> {
    EvalAltResult::ErrorRuntime(Dynamic::from(msg.into()), rhai::Position::NONE).into()
}

/// Marker thrown by `field` for an absent value; the check catches it as `missing`.
const MISSING: &str = "metroplan:missing";

/// Marker thrown by `param` for a parameter with no value in force on the filing date; the
/// check catches it as not evaluated.
const UNCOVERED: &str = "metroplan:uncovered";

/// Host functions may read data only while a check runs.
fn in_check(what: &str) -> Res<()> {
    with_state(|s| match (&s.mode, &s.current) {
        (Mode::Evaluate, Some(_)) => Ok(()),
        (Mode::Declare, _) | (Mode::Evaluate, None) => Err(runtime(format!(
            "`{what}` reads data: call it inside a `rule`, `exception` or `grid` check"
        ))),
        (Mode::Idle, _) => Err(runtime("no evaluation is running")),
    })
}

pub(super) fn note_input(s: &mut State, name: String, value: String, source: &str) {
    note_input_with(s, &name, || (value, source));
}

/// Records a datum read by the running check; its name and value are only built the first
/// time it is read in an evaluation.
fn note_input_with<'a>(s: &mut State, name: &str, value: impl FnOnce() -> (String, &'a str)) {
    let i = match s.inputs.iter().position(|x| x.name == name) {
        Some(i) => i,
        None => {
            let (value, source) = value();
            s.inputs.push(InputUse {
                name: name.to_string(),
                value,
                source: source.to_string(),
            });
            s.inputs.len() - 1
        }
    };
    if let Some(c) = &mut s.current
        && !c.inputs.contains(&i)
    {
        c.inputs.push(i);
    }
}

fn host_field(path: &str) -> Res<Dynamic> {
    in_check("field")?;
    with_state(|s| {
        let found = s.app.values.get(path).cloned();
        match found {
            Some(v) => {
                // The shown value is only built the first time the field is read.
                let known = s.inputs.iter().any(|x| x.name == path);
                let shown = if known {
                    String::new()
                } else {
                    s.app.shown(path).unwrap_or_default().to_string()
                };
                let shown = move || (shown, "formulaire de demande");
                note_input_with(s, path, shown);
                Ok(v)
            }
            None => {
                if let Some(c) = &mut s.current
                    && !c.missing.iter().any(|m| m == path)
                {
                    c.missing.push(path.to_string());
                }
                Err(runtime(MISSING))
            }
        }
    })
}

fn host_has(path: &str) -> Res<bool> {
    in_check("has")?;
    Ok(with_state(|s| s.app.values.contains_key(path)))
}

fn host_param(id: &str) -> Res<Dynamic> {
    in_check("param")?;
    with_state(|s| {
        let env = s
            .env
            .clone()
            .ok_or_else(|| runtime("no evaluation is running"))?;
        let Some(p) = env.parameter(id) else {
            return Err(runtime(format!("the fund has no parameter `{id}`")));
        };
        // Without a filing date the parameter in force is unknown: the filing date is
        // missing data, as an absent field is.
        let Some(day) = s.filed_on else {
            if let Some(c) = &mut s.current
                && !c.missing.iter().any(|m| m == FILING_DATE_FIELD)
            {
                c.missing.push(FILING_DATE_FIELD.to_string());
            }
            return Err(runtime(MISSING));
        };
        let Some(v) = p.values.at(day) else {
            // The check is not evaluated; the outcome stands only if another check makes the
            // application ineligible (a filing outside every call), see `conclude`.
            let msg = format!(
                "the fund's rules do not cover {day}: parameter `{id}` has no value in force that day"
            );
            if s.out_of_period.is_none() {
                s.out_of_period = Some(msg.clone());
            }
            if let Some(c) = &mut s.current {
                c.uncovered.get_or_insert(msg);
            }
            return Err(runtime(UNCOVERED));
        };
        let i = note_param(&mut s.params, p, v);
        if let Some(c) = &mut s.current
            && !c.params.contains(&i)
        {
            c.params.push(i);
        }
        Ok(Dynamic::from_decimal(v.value))
    })
}

/// The index of parameter `p` (value `v` in force) among those applied, recording it the
/// first time.
pub(super) fn note_param(
    params: &mut Vec<ParamUse>,
    p: &Parameter,
    v: &crate::model::Dated<Decimal>,
) -> usize {
    if let Some(i) = params.iter().position(|x| x.id == p.id.as_str()) {
        return i;
    }
    params.push(ParamUse {
        id: p.id.to_string(),
        label: p.label.clone(),
        value: v.value,
        unit: p.unit,
        from: v.from,
        until: v.until,
        reference: v.reference.clone(),
    });
    params.len() - 1
}

fn describe_territory(t: &TerritoryInfo) -> String {
    let mut v = t.name.clone();
    if !t.flags.is_empty() {
        let _ = write!(v, " ({})", t.flags.join(", "));
    }
    v
}

fn territory_input(s: &mut State, env: &Env, key: &str) -> Option<usize> {
    let (i, t) = env.territory(key)?;
    let mut shown = describe_territory(t);
    if let Some(p) = t.parent.map(|p| &env.territories[p]) {
        let _ = write!(shown, ", dans {}", describe_territory(p));
    }
    note_input(
        s,
        format!("territoire {key}"),
        shown,
        "référentiel des territoires du plan",
    );
    Some(i)
}

fn host_is_member_commune(code: &str) -> Res<bool> {
    in_check("is_member_commune")?;
    Ok(with_state(|s| {
        let env = s.env.clone().expect("set while evaluating");
        let found = territory_input(s, &env, code);
        if found.is_none() {
            note_input(
                s,
                format!("territoire {code}"),
                "absent du référentiel".into(),
                "référentiel des territoires du plan",
            );
        }
        found.is_some_and(|i| env.territories[i].level == "commune")
    }))
}

/// The INSEE code of the commune a SIREN (or the SIRET it begins) identifies: a commune's
/// SIREN is `21`, the two-digit département, `0`, the three-digit commune number and a key
/// (211300553 → 13055). `None` when it is not a commune's SIREN.
pub fn commune_of_siren(siren_or_siret: &str) -> Option<String> {
    let b = siren_or_siret.as_bytes();
    if !(b.len() == 9 || b.len() == 14) || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    (b.starts_with(b"21") && b[4] == b'0')
        .then(|| format!("{}{}", &siren_or_siret[2..4], &siren_or_siret[5..8]))
}

fn host_commune_of_siren(siren: &str) -> Res<ImmutableString> {
    in_check("commune_of_siren")?;
    let code = commune_of_siren(siren);
    with_state(|s| {
        let siren9 = siren.get(..9).unwrap_or(siren);
        note_input(
            s,
            format!("commune du SIREN {siren9}"),
            code.clone()
                .unwrap_or_else(|| "pas le SIREN d'une commune".into()),
            "numéro SIREN (21, département, 0, numéro de la commune, clé)",
        );
    });
    Ok(code.unwrap_or_default().into())
}

fn host_council_of(code: &str) -> Res<ImmutableString> {
    in_check("council_of")?;
    Ok(with_state(|s| {
        let env = s.env.clone().expect("set while evaluating");
        territory_input(s, &env, code)
            .and_then(|i| env.council(i))
            .map(|t| t.id.as_str().into())
            .unwrap_or_default()
    }))
}

fn host_councils(codes: Array) -> Res<INT> {
    let mut seen: Vec<ImmutableString> = Vec::new();
    for c in codes {
        let code = c
            .into_immutable_string()
            .map_err(|t| runtime(format!("councils: a list of codes, not {t}")))?;
        let council = host_council_of(&code)?;
        if !council.is_empty() && !seen.contains(&council) {
            seen.push(council);
        }
    }
    Ok(seen.len() as INT)
}

fn host_has_flag(key: &str, flag: &str) -> Res<bool> {
    in_check("has_flag")?;
    Ok(with_state(|s| {
        let env = s.env.clone().expect("set while evaluating");
        territory_input(s, &env, key)
            .is_some_and(|i| env.lineage(i).any(|t| t.flags.iter().any(|f| f == flag)))
    }))
}

fn host_call_open_on(year: INT, day: Date) -> Res<bool> {
    in_check("call_open_on")?;
    Ok(with_state(|s| {
        let env = s.env.clone().expect("set while evaluating");
        let call = env.calls.iter().find(|c| i64::from(c.year) == year);
        let shown = call.map_or_else(
            || "aucun appel cette année".to_string(),
            |c| format!("du {} au {}", c.opens, c.closes),
        );
        note_input(
            s,
            format!("appel {year}"),
            shown,
            "calendrier des appels à projets du plan",
        );
        call.is_some_and(|c| c.opens <= day && day <= c.closes)
    }))
}

fn host_other_filings() -> Res<INT> {
    in_check("other_filings")?;
    Ok(with_state(|s| {
        let n = s.other_filings;
        note_input(
            s,
            "dossiers déjà déposés par ce porteur pour cet appel".into(),
            n.to_string(),
            "registre des dossiers du fonds",
        );
        INT::from(n)
    }))
}

// Date arithmetic saturates at jiff's bounds (years -9999 and 9999): a form accepts any date,
// and no rule should fail on one that only overflows.
fn add_months(d: Date, n: INT) -> Res<Date> {
    let n = i32::try_from(n.clamp(-240_000, 240_000)).unwrap_or(0);
    Ok(d.checked_add(jiff::Span::new().months(n))
        .unwrap_or(if n < 0 { Date::MIN } else { Date::MAX }))
}

fn add_days(d: Date, n: INT) -> Res<Date> {
    let n = n.clamp(-7_300_000, 7_300_000);
    Ok(d.checked_add(jiff::Span::new().days(n))
        .unwrap_or(if n < 0 { Date::MIN } else { Date::MAX }))
}

fn decimal_int(n: Decimal) -> Res<INT> {
    if n.fract() != Decimal::ZERO {
        return Err(runtime(format!("{n} is not a whole number")));
    }
    INT::try_from(n).map_err(|_| runtime(format!("{n} is too large")))
}

/// Runs a check closure: `true` passes, `false` fails, nothing means not applicable, and an
/// absent field read on the way makes it missing.
fn run_check(ctx: &NativeCallContext, f: &FnPtr) -> Res<(Option<Status>, Vec<String>)> {
    let r = f.call_within_context::<Dynamic>(ctx, ());
    let missing = with_state(|s| {
        s.current
            .as_mut()
            .map(|c| std::mem::take(&mut c.missing))
            .unwrap_or_default()
    });
    if !missing.is_empty() {
        return Ok((Some(Status::Missing), missing));
    }
    if with_state(|s| s.current.as_ref().is_some_and(|c| c.uncovered.is_some())) {
        // Not evaluated: `finish` records why.
        return Ok((None, missing));
    }
    let v = r?;
    if v.is_unit() {
        return Ok((None, missing));
    }
    match v.as_bool() {
        Ok(true) => Ok((Some(Status::Pass), missing)),
        Ok(false) => Ok((Some(Status::Fail), missing)),
        Err(t) => Err(runtime(format!(
            "a check returns true, false or nothing, not a {t}"
        ))),
    }
}

fn begin(id: &str) {
    with_state(|s| {
        s.current = Some(Current {
            id: id.to_string(),
            ..Current::default()
        });
    });
}

fn declare(
    ctx: &NativeCallContext,
    id: &str,
    article: &str,
    message: &str,
    kind: DeclKind,
) -> bool {
    with_state(|s| {
        if s.mode == Mode::Declare {
            let pos = ctx.call_position();
            s.declared.push((
                Declaration {
                    id: id.to_string(),
                    article: article.to_string(),
                    message: message.to_string(),
                    kind,
                    line: pos.line().unwrap_or(0),
                },
                pos,
            ));
            true
        } else {
            false
        }
    })
}

fn finish(id: &str, article: &str, message: &str, status: Option<Status>, missing: Vec<String>) {
    with_state(|s| {
        let c = s.current.take().unwrap_or_default();
        s.results.push(RuleResult {
            id: id.to_string(),
            article: article.to_string(),
            status: status.unwrap_or(Status::Pass),
            message: message.to_string(),
            applies: status.is_some(),
            missing,
            inputs: c.inputs,
            parameters: c.params,
            overridden_by: None,
            not_evaluated: c.uncovered,
            exception_applies: None,
        });
    });
}

fn host_rule(
    ctx: NativeCallContext,
    id: ImmutableString,
    article: ImmutableString,
    message: ImmutableString,
    check: FnPtr,
) -> Res<()> {
    if declare(&ctx, &id, &article, &message, DeclKind::Rule) {
        return Ok(());
    }
    begin(&id);
    let (status, missing) = run_check(&ctx, &check)?;
    finish(&id, &article, &message, status, missing);
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn host_exception(
    ctx: NativeCallContext,
    id: ImmutableString,
    article: ImmutableString,
    message: ImmutableString,
    overrides: ImmutableString,
    priority: INT,
    applies: FnPtr,
    check: FnPtr,
) -> Res<()> {
    let kind = DeclKind::Exception {
        overrides: overrides.to_string(),
        priority,
    };
    if declare(&ctx, &id, &article, &message, kind) {
        return Ok(());
    }
    begin(&id);
    let run = || -> Res<(Option<Status>, Vec<String>, Option<bool>)> {
        let (when, missing) = run_check(&ctx, &applies)?;
        match when {
            Some(Status::Pass) => {
                let (st, m) = run_check(&ctx, &check)?;
                Ok((st, m, Some(true)))
            }
            Some(Status::Missing) => Ok((Some(Status::Missing), missing, None)),
            _ => Ok((None, missing, Some(false))),
        }
    };
    let (status, missing, applies) = run()?;
    // An exception that could not be evaluated neither applies nor is set aside.
    let uncovered = with_state(|s| s.current.as_ref().is_some_and(|c| c.uncovered.is_some()));
    let applies = if uncovered { None } else { applies };
    finish(&id, &article, &message, status, missing);
    with_state(|s| {
        if let Some(r) = s.results.last_mut() {
            r.exception_applies = applies;
        }
    });
    Ok(())
}

fn host_grid(ctx: NativeCallContext, criterion: ImmutableString, check: FnPtr) -> Res<()> {
    if declare(&ctx, &criterion, "", "", DeclKind::Grid) {
        return Ok(());
    }
    begin(&criterion);
    let (status, _) = run_check(&ctx, &check)?;
    with_state(|s| {
        s.current = None;
        s.grid
            .push((criterion.to_string(), status.unwrap_or(Status::Fail)));
    });
    Ok(())
}

/// The engine with the host functions.
pub(super) fn build_engine(limits: Limits) -> rhai::Engine {
    let mut e = sandbox::engine(limits);
    e.on_print(|m| with_state(|s| s.printed.push(m.to_string())));
    e.on_debug(|m, _, pos| with_state(|s| s.printed.push(format!("{pos}: {m}"))));
    e.register_type_with_name::<Date>("Date");
    e.register_fn("rule", host_rule);
    e.register_fn("exception", host_exception);
    e.register_fn("grid", host_grid);
    e.register_fn("field", |p: &str| host_field(p));
    e.register_fn("has", |p: &str| host_has(p));
    e.register_fn("param", |p: &str| host_param(p));
    e.register_fn("is_member_commune", |c: &str| host_is_member_commune(c));
    e.register_fn("council_of", |c: &str| host_council_of(c));
    e.register_fn("commune_of_siren", |c: &str| host_commune_of_siren(c));
    e.register_fn("councils", host_councils);
    e.register_fn("has_flag", |c: &str, f: &str| host_has_flag(c, f));
    e.register_fn("call_open_on", host_call_open_on);
    e.register_fn("other_filings", host_other_filings);
    e.register_fn("add_months", add_months);
    e.register_fn("add_months", |d: Date, n: Decimal| {
        add_months(d, decimal_int(n)?)
    });
    e.register_fn("add_days", add_days);
    e.register_fn("add_days", |d: Date, n: Decimal| {
        add_days(d, decimal_int(n)?)
    });
    e.register_fn("year", |d: Date| INT::from(d.year()));
    e.register_fn("to_string", |d: Date| d.to_string());
    e.register_fn("to_debug", |d: Date| d.to_string());
    e.register_fn("==", |a: Date, b: Date| a == b);
    e.register_fn("!=", |a: Date, b: Date| a != b);
    e.register_fn("<", |a: Date, b: Date| a < b);
    e.register_fn("<=", |a: Date, b: Date| a <= b);
    e.register_fn(">", |a: Date, b: Date| a > b);
    e.register_fn(">=", |a: Date, b: Date| a >= b);
    e
}
