//! Working-day calendars: weekdays worked, French public holidays computed for any year,
//! and the plan's closures. Days are `Day` numbers (days since 1970-01-01) so that the
//! scheduler does integer arithmetic; a table of working days makes "add N working days"
//! a lookup instead of a walk.

use std::cell::RefCell;

use jiff::civil::Date;
use rustc_hash::FxHashMap;

use crate::model::{Calendar, Closure, Holidays, Weekday};

/// A calendar day as a number of days since 1970-01-01.
pub type Day = i32;

/// About 3 000 years: no real schedule reaches it; a calendar without working days would.
const MAX_TABLE_DAYS: Day = 1_100_000;

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
pub fn day_of(d: Date) -> Day {
    ymd_day(
        i32::from(d.year()),
        i32::from(d.month()),
        i32::from(d.day()),
    )
}

/// Days since 1970-01-01 of year `y`, month `m`, day `dd` (a day past the month's end
/// spills into the next month).
fn ymd_day(y: i32, m: i32, dd: i32) -> Day {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + dd - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day number.
pub fn date_of(day: Day) -> Date {
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    Date::new(y as i16, m as i8, d as i8).unwrap_or(Date::constant(1970, 1, 1))
}

fn days_in_month(year: i32, month: i8) -> i8 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => 31,
    }
}

/// 0 = Monday ... 6 = Sunday.
fn weekday_index(day: Day) -> usize {
    // 1970-01-01 was a Thursday.
    (day + 3).rem_euclid(7) as usize
}

/// Easter Sunday (anonymous Gregorian algorithm).
pub fn easter(year: i32) -> Date {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    Date::new(year as i16, month as i8, day as i8).unwrap_or(Date::constant(2000, 4, 23))
}

/// French public holidays of a year (metropolitan France), with their names.
pub fn french_holidays(year: i32) -> Vec<(Date, &'static str)> {
    let y = year as i16;
    let e = day_of(easter(year));
    let fixed = |m: i8, d: i8| Date::new(y, m, d).unwrap_or(Date::constant(2000, 1, 1));
    let mut v = vec![
        (fixed(1, 1), "Jour de l'an"),
        (date_of(e + 1), "Lundi de Pâques"),
        (fixed(5, 1), "Fête du Travail"),
        (fixed(5, 8), "Victoire 1945"),
        (date_of(e + 39), "Ascension"),
        (date_of(e + 50), "Lundi de Pentecôte"),
        (fixed(7, 14), "Fête nationale"),
        (fixed(8, 15), "Assomption"),
        (fixed(11, 1), "Toussaint"),
        (fixed(11, 11), "Armistice 1918"),
        (fixed(12, 25), "Noël"),
    ];
    v.sort();
    v
}

/// The precomputed part of a calendar: a contiguous range of days.
#[derive(Debug, Clone, Default)]
struct Table {
    first: Day,
    /// `worked[i]`: day `first + i` is a working day.
    worked: Vec<bool>,
    /// `before[i]`: working days in `[first, first + i)`; one more entry than `worked`.
    before: Vec<u32>,
    /// The working days of the range, in order.
    days: Vec<Day>,
}

impl Table {
    /// Index of `day` in the table, if the table covers it.
    #[inline]
    fn covering(&self, day: Day) -> Option<usize> {
        usize::try_from(day - self.first)
            .ok()
            .filter(|&i| i < self.worked.len())
    }
}

/// A plan's calendar, with O(1) working-day arithmetic: a table of working days that grows
/// (doubling) when a schedule runs past it, so that even a plan running centuries past its
/// horizon never walks day by day.
#[derive(Debug)]
pub struct WorkCalendar {
    table: RefCell<Table>,
    weekdays: [bool; 7],
    holidays: Holidays,
    /// One-off closures, as inclusive day ranges.
    once: Vec<(Day, Day)>,
    /// Yearly closures, as inclusive (month, day) ranges; one may wrap over the new year.
    yearly: Vec<((i8, i8), (i8, i8))>,
    holiday_cache: RefCell<FxHashMap<i32, Vec<Day>>>,
}

impl WorkCalendar {
    /// The calendar of `cal`, precomputed from a year before `from` to ten years after `to`.
    pub fn new(cal: &Calendar, from: Date, to: Date) -> Self {
        let mut weekdays = [false; 7];
        for w in &cal.working_days {
            let i = match w {
                Weekday::Mon => 0,
                Weekday::Tue => 1,
                Weekday::Wed => 2,
                Weekday::Thu => 3,
                Weekday::Fri => 4,
                Weekday::Sat => 5,
                Weekday::Sun => 6,
            };
            weekdays[i] = true;
        }
        if !weekdays.iter().any(|w| *w) {
            weekdays = [true, true, true, true, true, false, false];
        }
        let first = day_of(from) - 366;
        let c = WorkCalendar {
            table: RefCell::new(Table {
                first,
                before: vec![0],
                ..Table::default()
            }),
            weekdays,
            holidays: cal.holidays,
            once: cal
                .closures
                .iter()
                .filter_map(|c| match c {
                    Closure::Once { from, until, .. } => Some((day_of(*from), day_of(*until))),
                    Closure::Yearly { .. } => None,
                })
                .collect(),
            yearly: cal
                .closures
                .iter()
                .filter_map(|c| match c {
                    Closure::Yearly { from, until, .. } => {
                        Some(((from.month, from.day), (until.month, until.day)))
                    }
                    Closure::Once { .. } => None,
                })
                .collect(),
            holiday_cache: RefCell::default(),
        };
        c.extend_to(day_of(to) + 10 * 366);
        c
    }

    fn compute_working(&self, day: Day) -> bool {
        let d = date_of(day);
        let holidays = self.holidays_of(i32::from(d.year()));
        self.working_on(day, (d.month(), d.day()), &holidays)
    }

    /// The public holidays of `year` as day numbers (none for a plan without holidays).
    fn holidays_of(&self, year: i32) -> Vec<Day> {
        if self.holidays != Holidays::Fr {
            return Vec::new();
        }
        self.holiday_cache
            .borrow_mut()
            .entry(year)
            .or_insert_with(|| {
                french_holidays(year)
                    .into_iter()
                    .map(|(d, _)| day_of(d))
                    .collect()
            })
            .clone()
    }

    /// Whether `day`, whose month and day are `md`, is worked, given its year's holidays.
    fn working_on(&self, day: Day, md: (i8, i8), holidays: &[Day]) -> bool {
        self.weekdays[weekday_index(day)] && !holidays.contains(&day) && !self.closed(day, md)
    }

    /// Grows the table so that it covers `day` (at least doubling, so growth is amortised).
    fn extend_to(&self, day: Day) {
        let (first, len) = {
            let t = self.table.borrow();
            (t.first, t.worked.len() as Day)
        };
        let last = first + len - 1;
        if day <= last {
            return;
        }
        let target = day.max(last + len.max(366));
        let mut t = self.table.borrow_mut();
        let grow = (target - last) as usize;
        t.before.reserve(grow);
        t.worked.reserve(grow);
        t.days.reserve(grow);
        // Whole ranges at a time: weekdays by a rolling counter, then holidays and closures
        // cleared by index. Growing the table is part of every schedule, so it must be cheap.
        let base = last + 1;
        let mut worked = vec![false; grow];
        let mut wd = weekday_index(base);
        for w in &mut worked {
            *w = self.weekdays[wd];
            wd = if wd == 6 { 0 } else { wd + 1 };
        }
        let mut clear = |from: Day, until_excl: Day| {
            let lo = (from.max(base) - base) as usize;
            let hi = (until_excl.min(target + 1) - base).max(0) as usize;
            if lo < hi {
                worked[lo..hi].fill(false);
            }
        };
        for &(a, b) in &self.once {
            clear(a, b + 1);
        }
        let (y0, y1) = (
            i32::from(date_of(base).year()),
            i32::from(date_of(target).year()),
        );
        for y in y0..=y1 {
            for h in self.holidays_of(y) {
                clear(h, h + 1);
            }
            // The first day whose (month, day) is at or after `md`, and the first after it.
            let at_or_after = |(m, d): (i8, i8)| {
                if d > days_in_month(y, m) {
                    ymd_day(y, i32::from(m) + 1, 1)
                } else {
                    ymd_day(y, i32::from(m), i32::from(d))
                }
            };
            let after = |(m, d): (i8, i8)| {
                if d >= days_in_month(y, m) {
                    ymd_day(y, i32::from(m) + 1, 1)
                } else {
                    ymd_day(y, i32::from(m), i32::from(d) + 1)
                }
            };
            for &(f, u) in &self.yearly {
                if f <= u {
                    clear(at_or_after(f), after(u));
                } else {
                    clear(ymd_day(y, 1, 1), after(u));
                    clear(at_or_after(f), ymd_day(y + 1, 1, 1));
                }
            }
        }
        let mut count = t.before.pop().unwrap_or(0);
        for (k, &w) in worked.iter().enumerate() {
            t.before.push(count);
            if w {
                count += 1;
                t.days.push(base + k as Day);
            }
        }
        t.worked.extend_from_slice(&worked);
        t.before.push(count);
    }

    fn closed(&self, day: Day, md: (i8, i8)) -> bool {
        self.once.iter().any(|&(a, b)| a <= day && day <= b)
            || self.yearly.iter().any(|&(f, u)| {
                if f <= u {
                    f <= md && md <= u
                } else {
                    md >= f || md <= u
                }
            })
    }

    /// The working-day ordinal of `day`: how many working days the table has before it, so
    /// that `day_at(ord(day))` is the first working day at or after `day`, and
    /// `ord(b) - ord(a)` the working days in `[a, b)`. `None` before the table's first day.
    #[inline]
    pub fn ord(&self, day: Day) -> Option<u32> {
        {
            let t = self.table.borrow();
            if let Some(i) = t.covering(day) {
                return Some(t.before[i]);
            }
        }
        self.ord_slow(day)
    }

    #[cold]
    #[inline(never)]
    fn ord_slow(&self, day: Day) -> Option<u32> {
        let i = self.index(day)?;
        self.table.borrow().before.get(i).copied()
    }

    /// The working day of ordinal `k` (growing the table if needed); `None` past the bound
    /// of a calendar with almost no working day.
    #[inline]
    pub fn day_at(&self, k: u32) -> Option<Day> {
        if let Some(&d) = self.table.borrow().days.get(k as usize) {
            return Some(d);
        }
        self.day_at_slow(k)
    }

    #[cold]
    #[inline(never)]
    fn day_at_slow(&self, k: u32) -> Option<Day> {
        loop {
            if let Some(&d) = self.table.borrow().days.get(k as usize) {
                return Some(d);
            }
            let last = self.last();
            if last - self.table.borrow().first > MAX_TABLE_DAYS {
                return None;
            }
            self.extend_to(last + 1);
        }
    }

    /// Index of `day` in the table, growing it if needed; `None` before its first day.
    fn index(&self, day: Day) -> Option<usize> {
        self.extend_to(day);
        let i = day - self.table.borrow().first;
        (i >= 0).then_some(i as usize)
    }

    /// Last day of the precomputed table.
    pub fn last(&self) -> Day {
        let t = self.table.borrow();
        t.first + t.worked.len() as Day - 1
    }

    pub fn is_working(&self, day: Day) -> bool {
        match self.index(day) {
            Some(i) => self.table.borrow().worked[i],
            None => self.compute_working(day),
        }
    }

    /// The first working day at or after `day`.
    #[inline]
    pub fn next_working(&self, day: Day) -> Day {
        self.nth_working_from(day, 0)
    }

    /// The `n`-th working day counting from `day` (0 = the first working day at or after it).
    #[inline]
    fn nth_working_from(&self, day: Day, n: u32) -> Day {
        // The scheduler's hot path, inlined: one borrow and two lookups when the table
        // covers it; growing the table is out of line.
        {
            let t = self.table.borrow();
            if let Some(i) = t.covering(day)
                && let Some(&d) = t.days.get(t.before[i] as usize + n as usize)
            {
                return d;
            }
        }
        self.nth_working_from_slow(day, n)
    }

    #[cold]
    #[inline(never)]
    fn nth_working_from_slow(&self, day: Day, n: u32) -> Day {
        if let Some(i) = self.index(day) {
            loop {
                let k = self.table.borrow().before[i] as usize + n as usize;
                if let Some(d) = self.table.borrow().days.get(k) {
                    return *d;
                }
                let last = self.last();
                // A calendar with (almost) no working day must not grow forever; the loader
                // refuses closures over the whole year, this is the last line of defence.
                if last - self.table.borrow().first > MAX_TABLE_DAYS {
                    return last;
                }
                self.extend_to(last + 1);
            }
        }
        // Before the table: walk (only for dates a year before the plan starts).
        self.walk(day, n, 1)
    }

    /// The `n`-th working day from `day` going in direction `step` (+1 or -1), day by day.
    fn walk(&self, day: Day, n: u32, step: Day) -> Day {
        let mut d = day;
        let mut left = n;
        for _ in 0..MAX_TABLE_DAYS {
            if self.is_working(d) {
                if left == 0 {
                    return d;
                }
                left -= 1;
            }
            d += step;
        }
        d
    }

    /// The `n`-th working day counting back from `day` (0 = the last working day at or before it).
    #[inline]
    fn nth_working_back(&self, day: Day, n: u32) -> Day {
        {
            let t = self.table.borrow();
            if let Some(i) = t.covering(day) {
                let upto = t.before[i + 1] as usize;
                if upto > n as usize {
                    return t.days[upto - 1 - n as usize];
                }
            }
        }
        self.nth_working_back_slow(day, n)
    }

    #[cold]
    #[inline(never)]
    fn nth_working_back_slow(&self, day: Day, n: u32) -> Day {
        if let Some(i) = self.index(day) {
            let t = self.table.borrow();
            let upto = t.before[i + 1] as usize; // working days in [first, day]
            if upto > n as usize {
                return t.days[upto - 1 - n as usize];
            }
        }
        self.walk(day, n, -1)
    }

    /// Working days in `[a, b)` (negative when `b < a`).
    #[inline]
    pub fn working_days_between(&self, a: Day, b: Day) -> i64 {
        {
            let t = self.table.borrow();
            if let (Some(i), Some(j)) = (t.covering(a), t.covering(b)) {
                return i64::from(t.before[j]) - i64::from(t.before[i]);
            }
        }
        self.working_days_between_slow(a, b)
    }

    #[cold]
    #[inline(never)]
    fn working_days_between_slow(&self, a: Day, b: Day) -> i64 {
        if a > b {
            return -self.working_days_between(b, a);
        }
        match (self.index(a), self.index(b)) {
            (Some(i), Some(j)) => {
                let t = self.table.borrow();
                t.before[j] as i64 - t.before[i] as i64
            }
            _ => (a..b).filter(|d| self.is_working(*d)).count() as i64,
        }
    }

    /// Exclusive end of work of `n` working days starting at `start` (snapped forward).
    #[inline]
    pub fn finish_after_working(&self, start: Day, n: u32) -> Day {
        if n == 0 {
            return self.next_working(start);
        }
        self.nth_working_from(start, n - 1) + 1
    }

    /// The start such that `n` working days end just before `finish` (exclusive).
    #[inline]
    pub fn start_before_working(&self, finish: Day, n: u32) -> Day {
        if n == 0 {
            return finish;
        }
        self.nth_working_back(finish - 1, n - 1)
    }

    /// `day` moved by `n` working days (a lag): positive forward, negative backward.
    #[inline]
    pub fn shift_working(&self, day: Day, n: i32) -> Day {
        if n >= 0 {
            self.nth_working_from(day, n as u32)
        } else {
            self.nth_working_back(day - 1, (-n - 1) as u32)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        s.parse().unwrap()
    }

    #[test]
    fn day_numbers_round_trip() {
        for s in [
            "1970-01-01",
            "2000-02-29",
            "2019-12-19",
            "2024-12-31",
            "1900-03-01",
            "2100-02-28",
        ] {
            assert_eq!(date_of(day_of(d(s))), d(s), "{s}");
        }
        assert_eq!(day_of(d("1970-01-02")), 1);
        assert_eq!(weekday_index(day_of(d("2026-11-28"))), 5, "a Saturday");
    }

    #[test]
    fn easter_and_moving_holidays_match_the_official_dates() {
        // Dates published by the French government (service-public.fr) for these years.
        assert_eq!(easter(2020), d("2020-04-12"));
        assert_eq!(easter(2024), d("2024-03-31"));
        assert_eq!(easter(2025), d("2025-04-20"));
        let h2024: Vec<String> = french_holidays(2024)
            .iter()
            .map(|(d, _)| d.to_string())
            .collect();
        for expect in ["2024-04-01", "2024-05-09", "2024-05-20"] {
            assert!(h2024.contains(&expect.to_string()), "{expect} in {h2024:?}");
        }
        assert_eq!(french_holidays(2025).len(), 11);
    }

    #[test]
    fn table_built_by_ranges_matches_the_day_by_day_rule() {
        let md = |month, day| crate::model::MonthDay { month, day };
        let cal = Calendar {
            holidays: Holidays::Fr,
            closures: vec![
                Closure::Yearly {
                    label: "fêtes".into(),
                    from: md(12, 24),
                    until: md(1, 2),
                },
                Closure::Yearly {
                    label: "été".into(),
                    from: md(8, 1),
                    until: md(8, 15),
                },
                Closure::Yearly {
                    label: "bissextile".into(),
                    from: md(2, 29),
                    until: md(2, 29),
                },
                Closure::Yearly {
                    label: "fin février".into(),
                    from: md(2, 27),
                    until: md(2, 29),
                },
                Closure::Once {
                    label: "déménagement".into(),
                    from: d("2023-05-02"),
                    until: d("2023-05-05"),
                },
            ],
            ..Calendar::default()
        };
        let c = WorkCalendar::new(&cal, d("2020-01-01"), d("2025-12-31"));
        // Grow past the first table, across several leap and non-leap years.
        let far = day_of(d("2110-01-01"));
        let _ = c.is_working(far);
        let t = c.table.borrow();
        for (k, &w) in t.worked.iter().enumerate() {
            let day = t.first + k as Day;
            assert_eq!(w, c.compute_working(day), "{}", date_of(day));
        }
    }

    #[test]
    fn a_calendar_without_working_days_does_not_hang() {
        let cal = Calendar {
            closures: vec![Closure::Yearly {
                label: "tout".into(),
                from: crate::model::MonthDay { month: 1, day: 1 },
                until: crate::model::MonthDay { month: 12, day: 31 },
            }],
            ..Calendar::default()
        };
        let c = WorkCalendar::new(&cal, d("2020-01-01"), d("2020-12-31"));
        let start = day_of(d("2020-03-02"));
        // It gives up at the bound instead of looping; the loader refuses such plans anyway.
        assert!(c.next_working(start) > start);
        assert!(c.shift_working(start, -3) < start);
    }

    #[test]
    fn working_day_arithmetic_skips_weekends_holidays_and_closures() {
        let cal = Calendar {
            holidays: Holidays::Fr,
            closures: vec![Closure::Yearly {
                label: "fin d'année".into(),
                from: crate::model::MonthDay { month: 12, day: 25 },
                until: crate::model::MonthDay { month: 12, day: 31 },
            }],
            ..Calendar::default()
        };
        let c = WorkCalendar::new(&cal, d("2020-01-01"), d("2025-12-31"));
        // Friday 2020-05-01 is a holiday; Thursday 2020-04-30 + 1 working day is Monday 05-04.
        assert_eq!(
            date_of(c.shift_working(day_of(d("2020-04-30")), 1)),
            d("2020-05-04")
        );
        // 5 working days from Monday 2020-01-06 end on Friday: exclusive finish is Saturday.
        assert_eq!(
            date_of(c.finish_after_working(day_of(d("2020-01-06")), 5)),
            d("2020-01-11")
        );
        assert_eq!(
            date_of(c.start_before_working(day_of(d("2020-01-11")), 5)),
            d("2020-01-06")
        );
        // The closure: nothing is worked from 12-25 to 12-31; 2021-01-01 is a holiday.
        assert_eq!(
            date_of(c.next_working(day_of(d("2020-12-24")) + 1)),
            d("2021-01-04")
        );
        assert_eq!(
            c.working_days_between(day_of(d("2020-01-06")), day_of(d("2020-01-13"))),
            5
        );
        // Far outside the precomputed range, the walk gives the same answers.
        assert_eq!(
            date_of(c.next_working(day_of(d("2060-05-01")))),
            d("2060-05-03")
        );
    }
}
