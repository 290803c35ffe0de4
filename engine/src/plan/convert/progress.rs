//! Progress reports (the latest per item) and baselines.

use jiff::civil::Date;
use rustc_hash::FxHashMap;

use super::registry::{Cx, Registries, Registry, sp_loc};
use crate::diagnostic::{Code, Diagnostic, Loc};
use crate::model::*;
use crate::plan::parse::Item;
use crate::plan::raw::*;

pub(super) fn progress(
    cx: &mut Cx<'_>,
    reports: Vec<Item<RawProgress>>,
    r: &Registries,
    index: &FxHashMap<Id, usize>,
    actions: &[Action],
) -> Vec<Option<Progress>> {
    let mut out: Vec<Option<Progress>> = vec![None; actions.len()];
    let mut seen: FxHashMap<(usize, Date), Loc> = FxHashMap::default();
    for it in reports {
        let (f, p) = (it.file, it.value);
        let Some(item) = cx.refer(&r.action, f, &p.item) else {
            continue;
        };
        let Some(&i) = index.get(item.as_str()) else {
            continue;
        };
        let as_of = p.as_of.get_ref().0;
        if let Some(first) = seen.get(&(i, as_of)) {
            cx.push(
                Diagnostic::at(
                    Code::DuplicateId,
                    sp_loc(f, &p.as_of),
                    format!("two progress reports on `{item}` for {as_of}"),
                )
                .with_related(first.clone(), "the other report"),
            );
            continue;
        }
        seen.insert((i, as_of), sp_loc(f, &p.as_of));
        if let Some(pc) = &p.percent
            && *pc.get_ref() > 100
        {
            cx.push(
                Diagnostic::at(
                    Code::InvalidValue,
                    sp_loc(f, pc),
                    format!("{}% is more than 100%", pc.get_ref()),
                )
                .with_label("a share of the work, 0 to 100"),
            );
        }
        if let Some(s) = &p.actual_start {
            cx.range(f, s, p.actual_finish.as_ref(), &format!("`{item}`"));
            if s.get_ref().0 > as_of {
                cx.push(Diagnostic::at(
                    Code::InvertedRange,
                    sp_loc(f, s),
                    format!(
                        "`{item}` started on {} after the report of {as_of}",
                        s.get_ref()
                    ),
                ));
            }
        }
        let needs = match p.status {
            Status::Done => p.actual_finish.is_none().then_some("actual_finish"),
            Status::InProgress | Status::Suspended => {
                p.actual_start.is_none().then_some("actual_start")
            }
            _ => None,
        };
        if let Some(key) = needs {
            cx.push(
                Diagnostic::at(
                    Code::MissingKey,
                    sp_loc(f, &p.item),
                    format!(
                        "progress of `{item}` says `{}` but has no `{key}`",
                        p.status.name()
                    ),
                )
                .with_help(format!("add `{key} = YYYY-MM-DD`")),
            );
        }
        let mut indicators = Vec::new();
        let mut reg = Registry::new("indicator");
        for ind in &actions[i].indicators {
            reg.ids.insert(ind.id.shared().clone(), sp_loc(f, &p.item));
        }
        for v in &p.indicator {
            if let Some(id) = cx.refer(&reg, f, &v.id) {
                indicators.push((id, v.value.get_ref().0));
            }
        }
        let report = Progress {
            status: p.status,
            as_of,
            actual_start: p.actual_start.map(|d| d.into_inner().0),
            actual_finish: p.actual_finish.map(|d| d.into_inner().0),
            percent: p.percent.map(|x| x.into_inner()),
            indicators,
            note: p.note,
        };
        // The latest report wins.
        if out[i].as_ref().is_none_or(|old| old.as_of < as_of) {
            out[i] = Some(report);
        }
    }
    out
}

pub(super) fn baselines(
    cx: &mut Cx<'_>,
    raw: Vec<Item<RawBaseline>>,
    r: &Registries,
    index: &FxHashMap<Id, usize>,
) -> Vec<Baseline> {
    let mut ids = Registry::new("baseline");
    let mut out = Vec::new();
    for it in raw {
        let (f, b) = (it.file, it.value);
        let Some(id) = cx.declare(&mut ids, f, &b.id) else {
            continue;
        };
        let mut items: Vec<Option<(Date, Date)>> = vec![None; index.len()];
        let mut seen = Registry::new("baseline item");
        for e in &b.item {
            let Some(item) = cx.refer(&r.action, f, &e.id) else {
                continue;
            };
            if cx.declare(&mut seen, f, &e.id).is_none() {
                continue;
            }
            cx.range(
                f,
                &e.start,
                Some(&e.finish),
                &format!("`{item}` in baseline `{id}`"),
            );
            if let Some(&i) = index.get(item.as_str()) {
                items[i] = Some((e.start.get_ref().0, e.finish.get_ref().0));
            }
        }
        out.push(Baseline {
            id,
            label: b.label,
            taken_on: b.taken_on.get_ref().0,
            items,
        });
    }
    out
}
