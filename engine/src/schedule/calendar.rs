//! Working-day calendars: weekdays worked, French public holidays computed for any year,
//! and the plan's closures. Days are `Day` numbers (days since 1970-01-01) so that the
//! scheduler does integer arithmetic; a table of working days makes "add N working days"
//! a lookup instead of a walk.

use jiff::civil::Date;

use crate::model::{Calendar, Closure, Holidays, Weekday};

/// A calendar day as a number of days since 1970-01-01.
pub type Day = i32;

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
pub fn day_of(d: Date) -> Day {
    let (y, m, dd) = (d.year() as i32, d.month() as i32, d.day() as i32);
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

/// A plan's calendar over a range of days, with O(1) working-day arithmetic inside the range
/// (and a day-by-day walk outside it, for far slips).
#[derive(Debug, Clone)]
pub struct WorkCalendar {
    first: Day,
    /// `worked[i]`: day `first + i` is a working day.
    worked: Vec<bool>,
    /// `before[i]`: working days in `[first, first + i)`.
    before: Vec<u32>,
    /// The working days of the range, in order.
    days: Vec<Day>,
    weekdays: [bool; 7],
    holidays: Holidays,
    closures: Vec<Closure>,
}

impl WorkCalendar {
    /// The calendar of `cal` between `from` and `to` (inclusive), both widened by a margin.
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
        let last = day_of(to) + 10 * 366;
        let mut c = WorkCalendar {
            first,
            worked: Vec::new(),
            before: Vec::new(),
            days: Vec::new(),
            weekdays,
            holidays: cal.holidays,
            closures: cal.closures.clone(),
        };
        let n = (last - first + 1).max(1) as usize;
        let mut holiday_days = std::collections::HashSet::new();
        if c.holidays == Holidays::Fr {
            for y in date_of(first).year()..=date_of(last).year() {
                holiday_days.extend(
                    french_holidays(y as i32)
                        .into_iter()
                        .map(|(d, _)| day_of(d)),
                );
            }
        }
        c.worked = (0..n)
            .map(|i| {
                let day = first + i as Day;
                c.weekdays[weekday_index(day)] && !holiday_days.contains(&day) && !c.closed(day)
            })
            .collect();
        c.before = Vec::with_capacity(n + 1);
        let mut count = 0u32;
        for (i, w) in c.worked.iter().enumerate() {
            c.before.push(count);
            if *w {
                count += 1;
                c.days.push(first + i as Day);
            }
        }
        c.before.push(count);
        c
    }

    fn closed(&self, day: Day) -> bool {
        let d = date_of(day);
        self.closures.iter().any(|c| match c {
            Closure::Once { from, until, .. } => *from <= d && d <= *until,
            Closure::Yearly { from, until, .. } => {
                let md = (d.month(), d.day());
                let (f, u) = ((from.month, from.day), (until.month, until.day));
                if f <= u {
                    f <= md && md <= u
                } else {
                    md >= f || md <= u
                }
            }
        })
    }

    fn in_range(&self, day: Day) -> Option<usize> {
        let i = day - self.first;
        (i >= 0 && (i as usize) < self.worked.len()).then_some(i as usize)
    }

    pub fn is_working(&self, day: Day) -> bool {
        match self.in_range(day) {
            Some(i) => self.worked[i],
            None => {
                let y = date_of(day).year() as i32;
                let holiday = self.holidays == Holidays::Fr
                    && french_holidays(y).iter().any(|(d, _)| day_of(*d) == day);
                self.weekdays[weekday_index(day)] && !holiday && !self.closed(day)
            }
        }
    }

    /// The first working day at or after `day`.
    pub fn next_working(&self, day: Day) -> Day {
        self.nth_working_from(day, 0)
    }

    /// The `n`-th working day counting from `day` (0 = the first working day at or after it).
    fn nth_working_from(&self, day: Day, n: u32) -> Day {
        if let Some(i) = self.in_range(day) {
            let k = self.before[i] as usize + n as usize;
            if let Some(d) = self.days.get(k) {
                return *d;
            }
        }
        let mut d = day;
        let mut left = n;
        loop {
            if self.is_working(d) {
                if left == 0 {
                    return d;
                }
                left -= 1;
            }
            d += 1;
        }
    }

    /// The `n`-th working day counting back from `day` (0 = the last working day at or before it).
    fn nth_working_back(&self, day: Day, n: u32) -> Day {
        if let Some(i) = self.in_range(day) {
            let upto = self.before[i + 1] as usize; // working days in [first, day]
            if upto > n as usize {
                return self.days[upto - 1 - n as usize];
            }
        }
        let mut d = day;
        let mut left = n;
        loop {
            if self.is_working(d) {
                if left == 0 {
                    return d;
                }
                left -= 1;
            }
            d -= 1;
        }
    }

    /// Working days in `[a, b)` (negative when `b < a`).
    pub fn working_days_between(&self, a: Day, b: Day) -> i64 {
        if a > b {
            return -self.working_days_between(b, a);
        }
        match (self.in_range(a), self.in_range(b)) {
            (Some(i), Some(j)) => self.before[j] as i64 - self.before[i] as i64,
            _ => (a..b).filter(|d| self.is_working(*d)).count() as i64,
        }
    }

    /// Exclusive end of work of `n` working days starting at `start` (snapped forward).
    pub fn finish_after_working(&self, start: Day, n: u32) -> Day {
        if n == 0 {
            return self.next_working(start);
        }
        self.nth_working_from(start, n - 1) + 1
    }

    /// The start such that `n` working days end just before `finish` (exclusive).
    pub fn start_before_working(&self, finish: Day, n: u32) -> Day {
        if n == 0 {
            return finish;
        }
        self.nth_working_back(finish - 1, n - 1)
    }

    /// `day` moved by `n` working days (a lag): positive forward, negative backward.
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
    fn working_day_arithmetic_skips_weekends_holidays_and_closures() {
        let cal = Calendar {
            holidays: Holidays::Fr,
            working_days: vec![
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
            ],
            closures: vec![Closure::Yearly {
                label: "fin d'année".into(),
                from: crate::model::MonthDay { month: 12, day: 25 },
                until: crate::model::MonthDay { month: 12, day: 31 },
            }],
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
