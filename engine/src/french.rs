//! Values as French is written: "1er mars 2021", "8 000 €", "80 %", "oui", "a, b et c".
//! Thousands are grouped with a narrow no-break space (U+202F), a unit follows a no-break
//! space (U+00A0): a line never breaks inside a figure. One home for every text a person reads.

use jiff::civil::Date;
use rust_decimal::Decimal;

use crate::model::ParamUnit;

/// No-break space, before a unit or a high punctuation mark (« : ; ? ! »).
pub const NBSP: char = '\u{a0}';
/// Narrow no-break space, between groups of thousands.
pub const NNBSP: char = '\u{202f}';

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

/// `2021-03-01` → `1er mars 2021`.
pub fn date_fr(d: Date) -> String {
    let day = if d.day() == 1 {
        "1er".to_string()
    } else {
        d.day().to_string()
    };
    format!("{day} {} {}", MONTHS[(d.month() - 1) as usize], d.year())
}

/// An instant as read where the plan is: `1er mars 2021 à 10 h 02` (no-break spaces inside
/// the time, so that it never breaks across lines).
pub fn datetime_fr(t: jiff::Timestamp, tz: &jiff::tz::TimeZone) -> String {
    let dt = tz.to_datetime(t);
    format!(
        "{} à {}{NBSP}h{NBSP}{:02}",
        date_fr(dt.date()),
        dt.hour(),
        dt.minute()
    )
}

/// `2021-03-01` → `1er mars` (a day in a yearly calendar).
pub fn day_month_fr(d: Date) -> String {
    let full = date_fr(d);
    full.rsplit_once(' ')
        .map_or(full.clone(), |(dm, _)| dm.to_string())
}

/// A period from `from` to `to` inclusive, the year written once when both days share it:
/// `du 1er février au 31 mars 2021`, `du 15 décembre 2020 au 31 janvier 2021`.
pub fn period_fr(from: Date, to: Date) -> String {
    if from.year() == to.year() {
        format!("du {} au {}", day_month_fr(from), date_fr(to))
    } else {
        format!("du {} au {}", date_fr(from), date_fr(to))
    }
}

/// `12000.5` → `12 000,50`; `12000` → `12 000`.
pub fn amount_fr(v: Decimal) -> String {
    let v = v.normalize();
    let s = if v.fract().is_zero() {
        v.trunc().to_string()
    } else {
        format!("{:.2}", v)
    };
    let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
    let (sign, digits) = int.strip_prefix('-').map_or(("", int), |d| ("-", d));
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(NNBSP);
        }
        grouped.push(c);
    }
    if frac.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped},{frac}")
    }
}

/// `8000` → `8 000 €`.
pub fn money_fr(v: Decimal) -> String {
    format!("{}{NBSP}€", amount_fr(v))
}

/// A value in a parameter's unit, as people read it: `12 000 €`, `80 %`, `12 mois`.
pub fn unit_value_fr(unit: ParamUnit, value: Decimal) -> String {
    let n = |v: Decimal| amount_fr(v);
    match unit {
        ParamUnit::Currency => money_fr(value),
        ParamUnit::Ratio => format!("{}{NBSP}%", n(value * Decimal::ONE_HUNDRED)),
        ParamUnit::Days if value == Decimal::ONE => format!("1{NBSP}jour"),
        ParamUnit::Days => format!("{}{NBSP}jours", n(value)),
        ParamUnit::Months => format!("{}{NBSP}mois", n(value)),
        ParamUnit::Count => n(value),
        ParamUnit::Points if value <= Decimal::ONE && value >= Decimal::ZERO => {
            format!("{}{NBSP}point", n(value))
        }
        ParamUnit::Points => format!("{}{NBSP}points", n(value)),
    }
}

pub fn bool_fr(b: bool) -> &'static str {
    if b { "oui" } else { "non" }
}

/// `["a", "b", "c"]` → `a, b et c`.
pub fn list_fr<S: AsRef<str>>(items: &[S]) -> String {
    match items {
        [] => String::new(),
        [one] => one.as_ref().to_string(),
        [init @ .., last] => {
            let head: Vec<&str> = init.iter().map(AsRef::as_ref).collect();
            format!("{} et {}", head.join(", "), last.as_ref())
        }
    }
}

/// A whole number as French writes it: `1 019`, `-12 345` (narrow no-break spaces).
pub fn int_fr(n: impl Into<i64>) -> String {
    let n: i64 = n.into();
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (k, c) in digits.chars().enumerate() {
        if k > 0 && (digits.len() - k).is_multiple_of(3) {
            out.push(NNBSP);
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// Lower case without accents: for a search that ignores both, and for sorting names as a
/// French index does (« Éguilles » among the E, « Gémenos » before « Gignac »).
pub fn fold(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars().flat_map(char::to_lowercase) {
        match c {
            'à' | 'â' | 'ä' | 'á' | 'ã' | 'å' => o.push('a'),
            'ç' => o.push('c'),
            'é' | 'è' | 'ê' | 'ë' => o.push('e'),
            'î' | 'ï' | 'í' | 'ì' => o.push('i'),
            'ô' | 'ö' | 'ó' | 'ò' | 'õ' => o.push('o'),
            'ù' | 'û' | 'ü' | 'ú' => o.push('u'),
            'ÿ' | 'ý' => o.push('y'),
            'ñ' => o.push('n'),
            'œ' => o.push_str("oe"),
            'æ' => o.push_str("ae"),
            '\u{2019}' => o.push('\''),
            _ => o.push(c),
        }
    }
    o
}

/// How many digits end `chars[..i]` (a group of thousands is led by one to three).
fn digits_before(chars: &[char], i: usize) -> usize {
    chars[..i]
        .iter()
        .rev()
        .take_while(|c| c.is_ascii_digit())
        .count()
}

/// Puts the no-break spaces French wants before « : ; ? ! », inside « », before % and €,
/// and between groups of thousands, into a text written with ordinary spaces (or none).
pub fn typeset(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        match c {
            ':' | ';' | '?' | '!' | '»' => {
                // Not in "https://", "12:30" or a smiley-free "::": only after a word or a space.
                let prev = out.chars().last();
                let next = chars.get(i + 1).copied();
                let is_url_or_time =
                    c == ':' && (next == Some('/') || next.is_some_and(|n| n.is_ascii_digit()));
                if is_url_or_time {
                    out.push(c);
                    continue;
                }
                match prev {
                    Some(' ') => {
                        out.pop();
                        out.push(NBSP);
                    }
                    Some(p) if p == NBSP || p == NNBSP => {}
                    Some(_) => out.push(NBSP),
                    None => {}
                }
                out.push(c);
            }
            '«' => {
                out.push(c);
                match chars.get(i + 1) {
                    Some(' ') | Some(&NBSP) | Some(&NNBSP) | None => {}
                    Some(_) => out.push(NBSP),
                }
            }
            ' ' if out.ends_with('«') => out.push(NBSP),
            // "80 %", "8 000 €": the sign stays with its number.
            ' ' if matches!(chars.get(i + 1), Some('%' | '€')) => out.push(NBSP),
            // "1 000 kilomètres": thousands grouped by a narrow no-break space, never a line
            // break (exactly three digits follow, then no digit: not "2020 2021").
            ' ' if (1..=3).contains(&digits_before(&chars, i))
                && chars
                    .get(i + 1..i + 4)
                    .is_some_and(|d| d.iter().all(char::is_ascii_digit))
                && !chars.get(i + 4).is_some_and(char::is_ascii_digit) =>
            {
                out.push(NNBSP)
            }
            _ => out.push(c),
        }
    }
    out
}

/// What people type for an amount: `12 000`, `9 000,50`, `12 000 €`, `12000.5`, `12 000,00 EUR`.
/// Spaces of every kind group thousands; a comma or a single point is the decimal mark.
/// `None` when it is not a number: the caller names the field in its message.
pub fn parse_amount_fr(input: &str) -> Option<Decimal> {
    let t = input.trim();
    let t = t
        .strip_suffix('€')
        .or_else(|| t.strip_suffix("EUR"))
        .or_else(|| t.strip_suffix("euros"))
        .unwrap_or(t);
    let digits: String = t
        .chars()
        .filter(|c| !c.is_whitespace() && *c != NNBSP)
        .collect();
    // "12.000,50" (points for thousands, then a comma) is read the way it is written.
    let digits = if digits.contains(',') {
        digits.replace('.', "").replace(',', ".")
    } else {
        digits
    };
    let body = digits.strip_prefix('-').unwrap_or(&digits);
    if body.is_empty()
        || body.matches('.').count() > 1
        || !body.chars().all(|c| c.is_ascii_digit() || c == '.')
        || body.starts_with('.')
        || body.ends_with('.')
    {
        return None;
    }
    digits.parse::<Decimal>().ok()
}

/// A SIRET as typed (`812 345 678 00019`, `812.345.678.00019`) → its 14 digits, or `None`.
/// Registration and the form both call it, so both accept and store the same thing.
pub fn normalize_siret(input: &str) -> Option<String> {
    let digits: String = input
        .chars()
        .filter(|c| !(c.is_whitespace() || *c == NNBSP || *c == '.' || *c == '-'))
        .collect();
    (digits.len() == 14 && digits.chars().all(|c| c.is_ascii_digit())).then_some(digits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn an_instant_reads_in_the_plan_time_zone_to_the_minute() {
        let paris = jiff::tz::TimeZone::get("Europe/Paris").unwrap();
        let t: jiff::Timestamp = "2021-03-01T09:03:03.018235Z".parse().unwrap();
        assert_eq!(datetime_fr(t, &paris), "1er mars 2021 à 10\u{a0}h\u{a0}03");
        let summer: jiff::Timestamp = "2021-07-14T22:05:00Z".parse().unwrap();
        assert_eq!(
            datetime_fr(summer, &paris),
            "15 juillet 2021 à 0\u{a0}h\u{a0}05"
        );
    }
    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn dates_as_written() {
        assert_eq!(date_fr(jiff::civil::date(2021, 3, 1)), "1er mars 2021");
        assert_eq!(date_fr(jiff::civil::date(2019, 12, 19)), "19 décembre 2019");
        assert_eq!(day_month_fr(jiff::civil::date(2020, 2, 1)), "1er février");
    }

    #[test]
    fn a_period_writes_a_shared_year_once() {
        use jiff::civil::date;
        assert_eq!(
            period_fr(date(2021, 2, 1), date(2021, 3, 31)),
            "du 1er février au 31 mars 2021"
        );
        assert_eq!(
            period_fr(date(2020, 12, 15), date(2021, 1, 31)),
            "du 15 décembre 2020 au 31 janvier 2021"
        );
        assert_eq!(date_fr(date(2021, 8, 15)), "15 août 2021");
    }

    #[test]
    fn amounts_as_written() {
        assert_eq!(money_fr(dec("8000")), "8\u{202f}000\u{a0}€");
        assert_eq!(money_fr(dec("15000.01")), "15\u{202f}000,01\u{a0}€");
        assert_eq!(amount_fr(dec("-1234567")), "-1\u{202f}234\u{202f}567");
        assert_eq!(amount_fr(dec("999")), "999");
        assert_eq!(unit_value_fr(ParamUnit::Ratio, dec("0.5")), "50\u{a0}%");
        assert_eq!(unit_value_fr(ParamUnit::Points, dec("1")), "1\u{a0}point");
        assert_eq!(unit_value_fr(ParamUnit::Days, dec("2")), "2\u{a0}jours");
    }

    #[test]
    fn lists_and_typography() {
        assert_eq!(list_fr(&["a", "b", "c"]), "a, b et c");
        assert_eq!(list_fr(&["a"]), "a");
        assert_eq!(list_fr::<&str>(&[]), "");
        assert_eq!(
            typeset("Objet : aide ; ok ? oui !"),
            "Objet\u{a0}: aide\u{a0}; ok\u{a0}? oui\u{a0}!"
        );
        assert_eq!(typeset("« mot »"), "«\u{a0}mot\u{a0}»");
        assert_eq!(typeset("https://a.fr à 12:30"), "https://a.fr à 12:30");
        assert_eq!(typeset("déjà\u{a0}: bien"), "déjà\u{a0}: bien");
    }

    #[test]
    fn names_sort_as_a_french_index_does() {
        let mut names = [
            "Vitrolles",
            "Éguilles",
            "Gignac-la-Nerthe",
            "Gémenos",
            "Aubagne",
        ];
        names.sort_by_cached_key(|n| fold(n));
        assert_eq!(
            names,
            [
                "Aubagne",
                "Éguilles",
                "Gémenos",
                "Gignac-la-Nerthe",
                "Vitrolles"
            ]
        );
        assert_eq!(fold("Œuvre d’ÉTÉ"), "oeuvre d'ete");
    }

    #[test]
    fn whole_numbers_group_their_thousands() {
        assert_eq!(int_fr(7), "7");
        assert_eq!(int_fr(1019), "1\u{202f}019");
        assert_eq!(int_fr(-1234567), "-1\u{202f}234\u{202f}567");
        assert_eq!(int_fr(100), "100");
        assert_eq!(int_fr(100000), "100\u{202f}000");
    }

    #[test]
    fn numbers_keep_their_unit_and_their_thousands() {
        assert_eq!(typeset("80 % du coût"), "80\u{a0}% du coût");
        assert_eq!(typeset("8000 €"), "8000\u{a0}€");
        assert_eq!(typeset("1 000 kilomètres"), "1\u{202f}000 kilomètres");
        assert_eq!(
            typeset("12 345 678 habitants"),
            "12\u{202f}345\u{202f}678 habitants"
        );
        // Not a group of thousands: years side by side, a code, a day and a year.
        assert_eq!(typeset("2020 2021"), "2020 2021");
        assert_eq!(typeset("en 13117 13005"), "en 13117 13005");
        assert_eq!(typeset("le 3 mars 2021"), "le 3 mars 2021");
        assert_eq!(typeset("appel 2021 123"), "appel 2021 123");
    }

    #[test]
    fn amounts_as_people_type_them() {
        for (typed, v) in [
            ("12 000", "12000"),
            ("9 000,50", "9000.50"),
            ("12 000 €", "12000"),
            ("12000.5", "12000.5"),
            ("8\u{202f}000\u{a0}€", "8000"),
            ("12.000,50", "12000.50"),
        ] {
            assert_eq!(parse_amount_fr(typed), Some(dec(v)), "{typed}");
        }
        for bad in ["", "douze", "1,2,3", "1.2.3", "12 k€", ","] {
            assert_eq!(parse_amount_fr(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_siret_with_spaces_is_its_fourteen_digits() {
        assert_eq!(
            normalize_siret("812 345 678 00019").as_deref(),
            Some("81234567800019")
        );
        assert_eq!(
            normalize_siret("81234567800019").as_deref(),
            Some("81234567800019")
        );
        assert_eq!(normalize_siret("812 345 678"), None);
        assert_eq!(normalize_siret("812 345 678 0001A"), None);
    }

    proptest::proptest! {
        #[test]
        fn what_is_written_reads_back(cents in -10_000_000_000i64..10_000_000_000i64) {
            let v = Decimal::new(cents, 2);
            proptest::prop_assert_eq!(parse_amount_fr(&money_fr(v)), Some(v));
            proptest::prop_assert_eq!(parse_amount_fr(&amount_fr(v)), Some(v));
        }
    }
}
