//! French wording shared by everything metroplan writes for people: dates as they are written
//! in a letter or a publication (`1er mars 2021`). Amounts are `rules::explain::amount_fr`.

use jiff::civil::Date;

const MONTHS: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];

/// The day of the month as French writes it: `1er`, then `2`, `3`...
fn day_fr(d: Date) -> String {
    if d.day() == 1 {
        "1er".to_string()
    } else {
        d.day().to_string()
    }
}

fn month_fr(d: Date) -> &'static str {
    MONTHS[(d.month() - 1) as usize]
}

/// `2 février 2025`, `1er mars 2021`.
pub fn date_fr(d: Date) -> String {
    format!("{} {} {}", day_fr(d), month_fr(d), d.year())
}

/// A period from `from` to `to` inclusive, the year written once when both days share it:
/// `du 1er février au 31 mars 2021`, `du 15 décembre 2020 au 31 janvier 2021`.
pub fn period_fr(from: Date, to: Date) -> String {
    if from.year() == to.year() {
        format!("du {} {} au {}", day_fr(from), month_fr(from), date_fr(to))
    } else {
        format!("du {} au {}", date_fr(from), date_fr(to))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn the_first_of_the_month_is_written_1er() {
        assert_eq!(date_fr(date(2021, 3, 1)), "1er mars 2021");
        assert_eq!(date_fr(date(2022, 1, 1)), "1er janvier 2022");
    }

    #[test]
    fn other_days_are_plain_numbers_and_months_have_their_accents() {
        assert_eq!(date_fr(date(2025, 2, 2)), "2 février 2025");
        assert_eq!(date_fr(date(2020, 12, 31)), "31 décembre 2020");
        assert_eq!(date_fr(date(2021, 8, 15)), "15 août 2021");
    }

    #[test]
    fn a_period_writes_a_shared_year_once() {
        assert_eq!(
            period_fr(date(2021, 2, 1), date(2021, 3, 31)),
            "du 1er février au 31 mars 2021"
        );
        assert_eq!(
            period_fr(date(2020, 12, 15), date(2021, 1, 31)),
            "du 15 décembre 2020 au 31 janvier 2021"
        );
    }
}
