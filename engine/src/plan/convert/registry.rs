//! Ids and references: a registry per namespace, and the conversion context that reports
//! duplicate declarations, unknown references and bad values as diagnostics.

use std::sync::Arc;

use rust_decimal::Decimal;
use rustc_hash::FxHashMap;

use crate::diagnostic::{Code, Diagnostic, Diagnostics, Loc};
use crate::model::*;
use crate::plan::literal::{Amount, PlanDate};
use crate::plan::raw::*;
use crate::source::FileId;
use crate::suggest::closest;

/// Ids of one kind, with where each was declared.
#[derive(Debug, Default)]
pub(super) struct Registry {
    pub(super) kind: &'static str,
    pub(super) ids: FxHashMap<Arc<str>, Loc>,
}

impl Registry {
    pub(super) fn new(kind: &'static str) -> Self {
        Registry {
            kind,
            ids: FxHashMap::default(),
        }
    }

    /// Declared ids in order, for suggestions (computed only when something is wrong).
    pub(super) fn sorted(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.ids.keys().map(|k| &**k).collect();
        v.sort_unstable();
        v
    }
    pub(super) fn contains(&self, id: &str) -> bool {
        self.ids.contains_key(id)
    }
}

pub(super) struct Cx<'a> {
    pub(super) diags: &'a mut Diagnostics,
}

pub(super) fn sp_loc<T>(file: FileId, sp: &Sp<T>) -> Loc {
    Loc::new(file, sp.span())
}

impl Cx<'_> {
    pub(super) fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    pub(super) fn id(&mut self, file: FileId, sp: &Sp<String>) -> Option<Id> {
        match Id::parse(sp.get_ref()) {
            Ok(id) => Some(id),
            Err(msg) => {
                let fix = slug(sp.get_ref());
                self.push(
                    Diagnostic::at(Code::InvalidId, sp_loc(file, sp), msg)
                        .with_label("invalid id")
                        .with_suggestions(if fix.is_empty() { vec![] } else { vec![fix] }),
                );
                None
            }
        }
    }

    /// Declares an id in a registry; a second declaration is an error pointing at both.
    pub(super) fn declare(
        &mut self,
        reg: &mut Registry,
        file: FileId,
        sp: &Sp<String>,
    ) -> Option<Id> {
        let id = self.id(file, sp)?;
        let loc = sp_loc(file, sp);
        if let Some(first) = reg.ids.get(id.as_str()) {
            self.push(
                Diagnostic::at(
                    Code::DuplicateId,
                    loc,
                    format!("{} `{id}` is declared twice", reg.kind),
                )
                .with_label("second declaration")
                .with_related(first.clone(), format!("`{id}` is first declared here"))
                .with_help("give one of them another id, or remove one".to_string()),
            );
            return None;
        }
        reg.ids.insert(id.shared().clone(), loc);
        Some(id)
    }

    /// Resolves a reference; an unknown one is an error with the closest ids suggested.
    pub(super) fn refer(&mut self, reg: &Registry, file: FileId, sp: &Sp<String>) -> Option<Id> {
        let name = sp.get_ref();
        if let Some((shared, _)) = reg.ids.get_key_value(name.as_str()) {
            return Some(Id::from_shared(shared.clone()));
        }
        self.unknown(reg, sp_loc(file, sp), name);
        None
    }

    pub(super) fn unknown(&mut self, reg: &Registry, loc: Loc, name: &str) {
        let suggestions = closest(name, reg.sorted());
        let mut d = Diagnostic::at(
            Code::UnknownReference,
            loc,
            format!("unknown {} `{name}`", reg.kind),
        )
        .with_label(format!("no {} has this id", reg.kind))
        .with_suggestions(suggestions);
        if d.suggestions.is_empty() {
            d = d.with_help(if reg.ids.is_empty() {
                format!("no {} is declared in the plan", reg.kind)
            } else {
                format!(
                    "declare it, or use one of the {} {}s declared",
                    reg.ids.len(),
                    reg.kind
                )
            });
        }
        self.push(d);
    }

    pub(super) fn refer_all(
        &mut self,
        reg: &Registry,
        file: FileId,
        list: &[Sp<String>],
    ) -> Vec<Id> {
        list.iter()
            .filter_map(|sp| self.refer(reg, file, sp))
            .collect()
    }

    pub(super) fn non_negative(&mut self, file: FileId, sp: &Sp<Amount>, what: &str) -> Decimal {
        let v = sp.get_ref().0;
        if v.is_sign_negative() && !v.is_zero() {
            self.push(
                Diagnostic::at(
                    Code::NegativeAmount,
                    sp_loc(file, sp),
                    format!("{what} is negative ({v})"),
                )
                .with_label("must be zero or more"),
            );
        }
        v
    }

    pub(super) fn year(&mut self, file: FileId, sp: &Sp<i32>) -> Option<i16> {
        let y = *sp.get_ref();
        if (1900..=2200).contains(&y) {
            Some(y as i16)
        } else {
            self.push(
                Diagnostic::at(
                    Code::InvalidValue,
                    sp_loc(file, sp),
                    format!("`{y}` is not a plausible year"),
                )
                .with_label("expected a year such as 2020"),
            );
            None
        }
    }

    pub(super) fn range(
        &mut self,
        file: FileId,
        from: &Sp<PlanDate>,
        until: Option<&Sp<PlanDate>>,
        what: &str,
    ) {
        if let Some(u) = until
            && u.get_ref() < from.get_ref()
        {
            self.push(
                Diagnostic::at(
                    Code::InvertedRange,
                    sp_loc(file, u),
                    format!(
                        "{what} ends on {} before it starts on {}",
                        u.get_ref(),
                        from.get_ref()
                    ),
                )
                .with_label("before the start")
                .with_related(sp_loc(file, from), "starts here"),
            );
        }
    }

    /// Dated values, checked for negative amounts, inverted and overlapping periods.
    pub(super) fn dated(
        &mut self,
        items: &[RawDatedAmount],
        file: FileId,
        what: &str,
        negative_ok: bool,
    ) -> DatedValues<Decimal> {
        let mut out: Vec<(Dated<Decimal>, Loc)> = Vec::new();
        for r in items {
            let value = if negative_ok {
                r.value.get_ref().0
            } else {
                self.non_negative(file, &r.value, what)
            };
            self.range(file, &r.from, r.until.as_ref(), what);
            out.push((
                Dated {
                    value,
                    from: r.from.get_ref().0,
                    until: r.until.as_ref().map(|u| u.get_ref().0),
                    reference: r.reference.clone(),
                },
                sp_loc(file, &r.from),
            ));
        }
        out.sort_by_key(|(d, _)| d.from);
        for w in out.windows(2) {
            let (a, la) = &w[0];
            let (b, lb) = &w[1];
            let overlaps = a.until.is_none_or(|u| u >= b.from);
            if overlaps {
                let end = a
                    .until
                    .map_or("with no end".to_string(), |u| format!("until {u}"));
                self.push(
                    Diagnostic::at(
                        Code::OverlappingPeriods,
                        lb.clone(),
                        format!(
                            "{what}: the value from {} overlaps the value from {} {end}",
                            b.from, a.from
                        ),
                    )
                    .with_label("starts while another value is in force")
                    .with_related(la.clone(), "the other value starts here")
                    .with_help(match b.from.yesterday() {
                        Ok(day) => format!("end the earlier value on {day} with `until = {day}`"),
                        Err(_) => "end the earlier value before this one starts".to_string(),
                    }),
                );
            }
        }
        DatedValues(out.into_iter().map(|(d, _)| d).collect())
    }

    pub(super) fn source(&mut self, s: &Option<RawSource>) -> Option<Source> {
        s.as_ref().map(|s| Source {
            section: s.section.clone(),
            quote: s.quote.clone(),
        })
    }
}

/// All id namespaces of a plan.
pub(super) struct Registries {
    pub(super) axis: Registry,
    pub(super) objective: Registry,
    pub(super) action: Registry,
    pub(super) partner: Registry,
    pub(super) territory: Registry,
    pub(super) flag: Registry,
    pub(super) staff: Registry,
    pub(super) official: Registry,
    pub(super) role: Registry,
    pub(super) audience: Registry,
    pub(super) criterion: Registry,
    pub(super) domain: Registry,
    pub(super) fund: Registry,
    pub(super) workflow: Registry,
}

impl Registries {
    pub(super) fn new() -> Registries {
        Registries {
            axis: Registry::new("axis"),
            objective: Registry::new("objective"),
            action: Registry::new("action"),
            partner: Registry::new("partner"),
            territory: Registry::new("territory"),
            flag: Registry::new("territory flag"),
            staff: Registry::new("staff member"),
            official: Registry::new("official"),
            role: Registry::new("role"),
            audience: Registry::new("audience"),
            criterion: Registry::new("criterion"),
            domain: Registry::new("domain"),
            fund: Registry::new("fund"),
            workflow: Registry::new("workflow"),
        }
    }
}
