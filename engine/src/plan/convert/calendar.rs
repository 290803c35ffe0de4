//! The working-day calendar: public holidays, days of the week worked, closures.

use super::registry::{Cx, sp_loc};
use crate::diagnostic::{Code, Diagnostic};
use crate::model::*;
use crate::plan::parse::Item;
use crate::plan::raw::*;
use crate::suggest::closest;

/// The plan's `[calendar]` (Monday to Friday with no holidays when there is none).
pub(super) fn calendar(cx: &mut Cx<'_>, items: &[Item<RawCalendar>]) -> Calendar {
    let calendar = match items.first() {
        Some(c) => one(cx, c),
        None => Calendar::default(),
    };
    for extra in items.iter().skip(1) {
        cx.push(
            Diagnostic::at(
                Code::DuplicateId,
                extra.loc(),
                "`[calendar]` is declared twice",
            )
            .with_related(items[0].loc(), "first declared here"),
        );
    }
    calendar
}

fn one(cx: &mut Cx<'_>, it: &Item<RawCalendar>) -> Calendar {
    let c = &it.value;
    let f = it.file;
    let holidays = match c.holidays.get_ref().as_str() {
        "fr" => Holidays::Fr,
        "none" => Holidays::None,
        other => {
            cx.push(
                Diagnostic::at(
                    Code::UnknownReference,
                    sp_loc(f, &c.holidays),
                    format!("unknown set of public holidays `{other}`"),
                )
                .with_suggestions(closest(other, ["fr", "none"]))
                .with_help("known sets: \"fr\" (French public holidays) and \"none\""),
            );
            Holidays::None
        }
    };
    const DAYS: [(&str, Weekday); 7] = [
        ("mon", Weekday::Mon),
        ("tue", Weekday::Tue),
        ("wed", Weekday::Wed),
        ("thu", Weekday::Thu),
        ("fri", Weekday::Fri),
        ("sat", Weekday::Sat),
        ("sun", Weekday::Sun),
    ];
    let mut working_days = Vec::new();
    for d in &c.working_days {
        match DAYS.iter().find(|(n, _)| n == d.get_ref()) {
            Some((_, w)) => working_days.push(*w),
            None => cx.push(
                Diagnostic::at(
                    Code::InvalidValue,
                    sp_loc(f, d),
                    format!("unknown day of the week `{}`", d.get_ref()),
                )
                .with_suggestions(closest(d.get_ref(), DAYS.iter().map(|(n, _)| *n))),
            ),
        }
    }
    if c.working_days.is_empty() {
        working_days = DAYS[..5].iter().map(|(_, w)| *w).collect();
    }
    let mut closures = Vec::new();
    for cl in &c.closure {
        match (
            &cl.from,
            &cl.until,
            &cl.every_year_from,
            &cl.every_year_until,
        ) {
            (Some(from), Some(until), None, None) => {
                cx.range(f, from, Some(until), "a closure");
                closures.push(Closure::Once {
                    label: cl.label.clone(),
                    from: from.get_ref().0,
                    until: until.get_ref().0,
                });
            }
            (None, None, Some(from), Some(until)) => {
                // A yearly closure over the whole year leaves no working day at all.
                let (f, u) = (from.get_ref().in_year(2021), until.get_ref().in_year(2021));
                let days = if f <= u {
                    (u - f).get_days() + 1
                } else {
                    365 - (f - u).get_days() + 1
                };
                if days >= 365 {
                    cx.push(
                        Diagnostic::at(Code::ConflictingTiming, sp_loc(it.file, from), format!("closure `{}` closes the whole year: nothing could ever be scheduled", cl.label))
                            .with_help("a yearly closure is a part of the year, e.g. every_year_from = \"12-25\" and every_year_until = \"12-31\""),
                    );
                    continue;
                }
                closures.push(Closure::Yearly {
                    label: cl.label.clone(),
                    from: *from.get_ref(),
                    until: *until.get_ref(),
                });
            }
            _ => {
                let loc = cl
                    .from
                    .as_ref()
                    .map(|s| sp_loc(f, s))
                    .or(cl.every_year_from.as_ref().map(|s| sp_loc(f, s)))
                    .unwrap_or(it.loc());
                cx.push(
                    Diagnostic::at(Code::ConflictingTiming, loc, format!("closure `{}` needs either `from` and `until`, or `every_year_from` and `every_year_until`", cl.label))
                        .with_help("a one-time closure has dates, a yearly one has MM-DD days"),
                );
            }
        }
    }
    Calendar {
        holidays,
        working_days,
        closures,
    }
}
