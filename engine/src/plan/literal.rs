//! Scalar literals of plan files: dates, amounts, durations and month-days.
//!
//! Each is parsed from what a person types in TOML and keeps enough of the original
//! text to report a precise error. Money never goes through `f64` arithmetic: a TOML
//! float is read back through its shortest round-trip text (`0.8` stays exactly `0.8`).

use std::borrow::Cow;
use std::fmt;

use rust_decimal::Decimal;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

/// A calendar date as written in a plan file (`2020-01-01` or `"2020-01-01"`).
/// Impossible dates (`2021-02-29`) are refused when the file is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PlanDate(pub jiff::civil::Date);

impl PlanDate {
    pub fn parse(text: &str) -> Result<Self, String> {
        let bytes = text.as_bytes();
        let shaped = bytes.len() == 10
            && bytes[4] == b'-'
            && bytes[7] == b'-'
            && bytes
                .iter()
                .enumerate()
                .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit());
        if !shaped {
            return Err(format!(
                "`{text}` is not a date: write it as YYYY-MM-DD, e.g. 2020-01-15"
            ));
        }
        let n = |r: std::ops::Range<usize>| text[r].parse::<i16>().unwrap_or(0);
        let (y, m, d) = (n(0..4), n(5..7), n(8..10));
        jiff::civil::Date::new(y, m as i8, d as i8)
            .map(PlanDate)
            .map_err(|_| format!("impossible date `{text}`: {y:04}-{m:02} has no day {d}"))
    }
}

impl fmt::Display for PlanDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Serialize for PlanDate {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for PlanDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = PlanDate;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a date such as 2020-01-15")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<PlanDate, E> {
                PlanDate::parse(v).map_err(E::custom)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<PlanDate, A::Error> {
                let dt =
                    toml::value::Datetime::deserialize(de::value::MapAccessDeserializer::new(map))?;
                match (dt.date, dt.time, dt.offset) {
                    (Some(date), None, None) => {
                        PlanDate::parse(&date.to_string()).map_err(de::Error::custom)
                    }
                    _ => Err(de::Error::custom(format!(
                        "`{dt}` is a date-time: write a plain date such as 2020-01-15"
                    ))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for PlanDate {
    fn schema_name() -> Cow<'static, str> {
        "Date".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A calendar date, YYYY-MM-DD (a TOML local date or a string).",
            "type": "string",
            "format": "date"
        })
    }
}

/// A decimal quantity (money, rate, count) written as an integer, a float or a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Amount(pub Decimal);

impl Amount {
    pub fn parse(text: &str) -> Result<Self, String> {
        let cleaned: String = text
            .chars()
            .filter(|c| *c != '_' && *c != ' ' && *c != '\u{202f}')
            .collect();
        cleaned.parse::<Decimal>().map(Amount).map_err(|_| {
            format!("`{text}` is not a decimal number: write e.g. 10000 or \"1234.50\"")
        })
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.normalize())
    }
}

impl Serialize for Amount {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Amount;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a decimal number such as 10000 or \"1234.50\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Amount, E> {
                Ok(Amount(Decimal::from(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Amount, E> {
                Ok(Amount(Decimal::from(v)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Amount, E> {
                // Rust prints the shortest text that reads back to the same f64,
                // which is the literal the author wrote for any sane amount.
                Amount::parse(&format!("{v}")).map_err(E::custom)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Amount, E> {
                Amount::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for Amount {
    fn schema_name() -> Cow<'static, str> {
        "Amount".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A decimal number: an integer (10000), a float (0.8) or a string (\"1234.50\").",
            "anyOf": [
                { "type": "integer" },
                { "type": "number" },
                { "type": "string", "pattern": "^-?[0-9][0-9_ ]*(\\.[0-9]+)?$" }
            ]
        })
    }
}

/// The unit of a duration or lag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DurationUnit {
    /// Calendar days.
    Days,
    /// Working days of the plan's calendar.
    WorkingDays,
    /// Calendar weeks (7 days).
    Weeks,
    /// Calendar months (same day of month).
    Months,
}

/// A signed span of time: `10d`, `15wd`, `6w`, `3mo`, `-5wd`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Span {
    pub amount: i32,
    pub unit: DurationUnit,
}

impl Span {
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        let split = t
            .char_indices()
            .find(|(i, c)| !(c.is_ascii_digit() || (*i == 0 && (*c == '-' || *c == '+'))))
            .map(|(i, _)| i)
            .unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let unit = match unit.trim() {
            "d" => DurationUnit::Days,
            "wd" => DurationUnit::WorkingDays,
            "w" => DurationUnit::Weeks,
            "mo" => DurationUnit::Months,
            _ => {
                return Err(format!(
                    "`{text}` is not a duration: write a number and a unit, d (days), wd (working days), w (weeks) or mo (months), e.g. \"15wd\""
                ));
            }
        };
        let amount = num
            .parse::<i32>()
            .ok()
            .filter(|n| n.unsigned_abs() <= 36_500)
            .ok_or_else(|| format!("`{text}`: the number of a duration must be a whole number between -36500 and 36500"))?;
        Ok(Span { amount, unit })
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let u = match self.unit {
            DurationUnit::Days => "d",
            DurationUnit::WorkingDays => "wd",
            DurationUnit::Weeks => "w",
            DurationUnit::Months => "mo",
        };
        write!(f, "{}{}", self.amount, u)
    }
}

impl Serialize for Span {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Cow::<str>::deserialize(d)?;
        Span::parse(&s).map_err(de::Error::custom)
    }
}

impl JsonSchema for Span {
    fn schema_name() -> Cow<'static, str> {
        "Span".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A duration or lag: a whole number and a unit, d (calendar days), wd (working days), w (weeks), mo (months). Lags may be negative (a lead): \"-5wd\".",
            "type": "string",
            "pattern": "^[-+]?[0-9]+(d|wd|w|mo)$"
        })
    }
}

/// A day of the year without a year, `MM-DD` (e.g. `"03-21"`), for recurring dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MonthDay {
    pub month: i8,
    pub day: i8,
}

impl MonthDay {
    pub fn parse(text: &str) -> Result<Self, String> {
        let err = || format!("`{text}` is not a day of the year: write MM-DD, e.g. \"03-31\"");
        let (m, d) = text.split_once('-').ok_or_else(err)?;
        if m.len() != 2 || d.len() != 2 {
            return Err(err());
        }
        let month: i8 = m.parse().map_err(|_| err())?;
        let day: i8 = d.parse().map_err(|_| err())?;
        // 2020 is a leap year, so 02-29 is accepted here and clamped per year later.
        jiff::civil::Date::new(2020, month, day)
            .map_err(|_| format!("impossible day of the year `{text}`"))?;
        Ok(MonthDay { month, day })
    }

    /// This day in `year`; 02-29 falls back to 02-28 in common years.
    pub fn in_year(self, year: i16) -> jiff::civil::Date {
        jiff::civil::Date::new(year, self.month, self.day)
            .or_else(|_| jiff::civil::Date::new(year, self.month, self.day - 1))
            .unwrap_or(jiff::civil::Date::constant(2000, 1, 1))
    }
}

impl fmt::Display for MonthDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}-{:02}", self.month, self.day)
    }
}

impl Serialize for MonthDay {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for MonthDay {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Cow::<str>::deserialize(d)?;
        MonthDay::parse(&s).map_err(de::Error::custom)
    }
}

impl JsonSchema for MonthDay {
    fn schema_name() -> Cow<'static, str> {
        "MonthDay".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A day of the year without the year, MM-DD, e.g. \"03-31\".",
            "type": "string",
            "pattern": "^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn impossible_dates_are_refused() {
        assert!(PlanDate::parse("2021-02-29").is_err());
        assert!(PlanDate::parse("2020-02-29").is_ok());
        assert!(PlanDate::parse("2020-13-01").is_err());
        assert!(PlanDate::parse("20-01-01").is_err());
    }

    #[test]
    fn spans_parse_units_and_signs() {
        assert_eq!(
            Span::parse("15wd").unwrap(),
            Span {
                amount: 15,
                unit: DurationUnit::WorkingDays
            }
        );
        assert_eq!(
            Span::parse("-5d").unwrap(),
            Span {
                amount: -5,
                unit: DurationUnit::Days
            }
        );
        assert_eq!(Span::parse("3mo").unwrap().to_string(), "3mo");
        assert!(Span::parse("3 months").is_err());
        assert!(Span::parse("wd").is_err());
    }

    #[test]
    fn amounts_keep_decimal_text() {
        assert_eq!(Amount::parse("0.8").unwrap().0.to_string(), "0.8");
        assert_eq!(Amount::parse("10_000").unwrap().0, Decimal::from(10_000));
        assert!(Amount::parse("dix").is_err());
    }

    #[test]
    fn month_days_clamp_leap_day() {
        let md = MonthDay::parse("02-29").unwrap();
        assert_eq!(md.in_year(2021).to_string(), "2021-02-28");
        assert!(MonthDay::parse("02-30").is_err());
    }
}
