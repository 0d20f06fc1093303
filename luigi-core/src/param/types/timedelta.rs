//! Durations: Luigi's `TimeDeltaParameter`, played by [`chrono::TimeDelta`] and, for
//! non-negative durations, [`std::time::Duration`].
//!
//! Luigi tries three forms in order: a bare number of seconds (Python's `float()`, then
//! `timedelta(seconds=...)`, which rounds to microseconds half-to-even), an ISO 8601 duration
//! (`P2W`, `P1DT2H`, `PT30M`; no years or months) and a "simple" form (`1 w 2 d`, `1d3h`,
//! `2 hours`), with regexes that match a prefix and ignore what follows. Each step is
//! replayed here, including two quirks a faithful port must keep: an ISO duration of zero
//! falls through to the simple form (Luigi tests it for truthiness), and `nan` falls through
//! to the regexes while `inf` is an error.
//!
//! The string form is `{w} w {d} d {h} h {m} m {s} s` over Python's normalised
//! `timedelta` (days may be negative, seconds never are), so `-1.5` seconds reads
//! `-1 w 6 d 23 h 59 m 58 s`; anything below a second is dropped. Python limits a
//! `timedelta` to 999,999,999 days either way, and so does `normalize` here.

use std::time::Duration;

use chrono::TimeDelta;

use crate::param::{ParamOptions, ParamValue, ParseError};

use super::number::parse_float;
use super::{check_choices, py_digit};

const MICROS_PER_SEC: i128 = 1_000_000;
const SECS_PER_DAY: i64 = 86_400;
/// Python's `timedelta.max.days`.
const MAX_DAYS: i64 = 999_999_999;

/// Python's error for a duration beyond ±999,999,999 days.
fn days_error(days: i128) -> ParseError {
    ParseError::new(format!("days={days}; must have magnitude <= {MAX_DAYS}"))
}

/// Checks Python's range on a number of microseconds.
fn check_micros(micros: i128) -> Result<i128, ParseError> {
    let days = micros.div_euclid(MICROS_PER_SEC * i128::from(SECS_PER_DAY));
    if days.abs() > i128::from(MAX_DAYS) { Err(days_error(days)) } else { Ok(micros) }
}

/// `timedelta(seconds=value)` in microseconds, as CPython computes it: the integral part
/// exactly, the fraction scaled by 10^6 in double arithmetic, and what is left rounded half
/// to even against the running total.
fn micros_from_seconds(value: f64) -> Result<i128, ParseError> {
    if value.is_infinite() {
        return Err(ParseError::new("cannot convert float infinity to integer"));
    }
    // Far beyond the range; also keeps the integer arithmetic below in bounds.
    if value.abs() >= 1e17 {
        return Err(ParseError::new(format!("time delta of {value:e} seconds is out of range")));
    }
    let whole = value.trunc();
    let fraction = value - whole;
    let mut micros = (whole as i128) * MICROS_PER_SEC;
    if fraction != 0.0 {
        let scaled = 1_000_000.0 * fraction;
        let scaled_whole = scaled.trunc();
        micros += scaled_whole as i128;
        let leftover = scaled - scaled_whole;
        if leftover != 0.0 {
            let mut rounded = leftover.round();
            if (rounded - leftover).abs() == 0.5 {
                let odd = (micros & 1) as f64;
                rounded = 2.0 * ((leftover + odd) * 0.5).round() - odd;
            }
            micros += rounded as i128;
        }
    }
    check_micros(micros)
}

/// The fields of an ISO or simple duration, as matched digit runs.
#[derive(Default)]
struct Fields {
    weeks: u128,
    days: u128,
    hours: u128,
    minutes: u128,
    seconds: u128,
    overflow: bool,
}

impl Fields {
    /// `timedelta(weeks=..., days=..., ...)` in microseconds.
    fn micros(&self, text: &str) -> Result<i128, ParseError> {
        let too_large = || ParseError::new(format!("time delta {text} is out of range"));
        if self.overflow {
            return Err(too_large());
        }
        let seconds = [(self.weeks, 604_800u128), (self.days, 86_400), (self.hours, 3_600), (self.minutes, 60)]
            .iter()
            .try_fold(self.seconds, |total, (count, unit)| count.checked_mul(*unit)?.checked_add(total))
            .ok_or_else(too_large)?;
        let days = seconds / 86_400;
        if days > MAX_DAYS as u128 {
            return Err(days_error(i128::try_from(days).unwrap_or(i128::MAX)));
        }
        // Bounded by the check above.
        Ok(seconds as i128 * MICROS_PER_SEC)
    }
}

/// A cursor over the text for the regex replays.
struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn eat(&mut self, ch: char) -> bool {
        if self.peek() == Some(ch) {
            self.pos += ch.len_utf8();
            true
        } else {
            false
        }
    }

    fn eat_str(&mut self, word: &str) -> bool {
        if self.text[self.pos..].starts_with(word) {
            self.pos += word.len();
            true
        } else {
            false
        }
    }

    /// `\d+`: one or more Unicode decimal digits; `None` (and no move) when there is none.
    fn digits(&mut self, overflow: &mut bool) -> Option<u128> {
        let start = self.pos;
        let mut value: u128 = 0;
        while let Some(digit) = self.peek().and_then(py_digit) {
            match value.checked_mul(10).and_then(|v| v.checked_add(u128::from(digit))) {
                Some(next) => value = next,
                None => *overflow = true,
            }
            self.pos += self.peek().map_or(1, char::len_utf8);
        }
        (self.pos > start).then_some(value)
    }

    /// `(?P<field>\d+)<letter>` as an optional group: consumed only when it matches whole.
    fn number_then(&mut self, letter: char, overflow: &mut bool) -> Option<u128> {
        let start = self.pos;
        let mut local_overflow = false;
        match self.digits(&mut local_overflow) {
            Some(value) if self.eat(letter) => {
                *overflow |= local_overflow;
                Some(value)
            }
            _ => {
                self.pos = start;
                None
            }
        }
    }
}

/// Luigi's ISO 8601 regex, `P(nW|(nD)?(T(nH)?(nM)?(nS)?)?)`, matched at the start. `None`
/// when nothing after `P` matched.
fn parse_iso(text: &str) -> Option<Fields> {
    let mut cursor = Cursor { text, pos: 0 };
    if !cursor.eat('P') {
        return None;
    }
    let mut fields = Fields::default();
    let after_p = cursor.pos;
    if let Some(weeks) = cursor.number_then('W', &mut fields.overflow) {
        fields.weeks = weeks;
        return Some(fields);
    }
    if let Some(days) = cursor.number_then('D', &mut fields.overflow) {
        fields.days = days;
    }
    if cursor.eat('T') {
        fields.hours = cursor.number_then('H', &mut fields.overflow).unwrap_or(0);
        fields.minutes = cursor.number_then('M', &mut fields.overflow).unwrap_or(0);
        fields.seconds = cursor.number_then('S', &mut fields.overflow).unwrap_or(0);
    }
    (cursor.pos > after_p).then_some(fields)
}

/// Luigi's "simple" regex: for each unit from weeks to seconds, an optional
/// `(\d+) ?<letter>(<rest of word>)?(s)? ?`, matched at the start. `None` when no unit
/// matched.
fn parse_simple(text: &str) -> Option<Fields> {
    const UNITS: [(char, &str); 5] = [('w', "eek"), ('d', "ay"), ('h', "our"), ('m', "inute"), ('s', "econd")];
    let mut cursor = Cursor { text, pos: 0 };
    let mut fields = Fields::default();
    let mut values = [None; 5];
    for (slot, (letter, rest)) in values.iter_mut().zip(UNITS) {
        let start = cursor.pos;
        let mut overflow = false;
        let Some(value) = cursor.digits(&mut overflow) else { continue };
        cursor.eat(' ');
        if !cursor.eat(letter) {
            cursor.pos = start;
            continue;
        }
        cursor.eat_str(rest);
        cursor.eat('s');
        cursor.eat(' ');
        fields.overflow |= overflow;
        *slot = Some(value);
    }
    if values.iter().all(Option::is_none) {
        return None;
    }
    let [weeks, days, hours, minutes, seconds] = values.map(|v| v.unwrap_or(0));
    Some(Fields { weeks, days, hours, minutes, seconds, ..fields })
}

/// Luigi's `TimeDeltaParameter.parse`, in microseconds.
fn parse_micros(text: &str) -> Result<i128, ParseError> {
    if let Ok(seconds) = parse_float::<f64>(text) {
        // Python's `timedelta(seconds=nan)` raises ValueError, which Luigi catches and moves on.
        if !seconds.is_nan() {
            return micros_from_seconds(seconds);
        }
    }
    if let Some(fields) = parse_iso(text) {
        let micros = fields.micros(text)?;
        // Luigi tests the result for truthiness, so a zero duration tries the simple form.
        if micros != 0 {
            return Ok(micros);
        }
    }
    match parse_simple(text) {
        Some(fields) => fields.micros(text),
        None => Err(ParseError::new(format!("Invalid time delta - could not parse {text}"))),
    }
}

/// Luigi's string form of a duration of `seconds` (whole seconds, rounded down).
fn luigi_string(seconds: i64) -> String {
    let days = seconds.div_euclid(SECS_PER_DAY);
    let rest = seconds.rem_euclid(SECS_PER_DAY);
    format!(
        "{} w {} d {} h {} m {} s",
        days.div_euclid(7),
        days.rem_euclid(7),
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// Whole seconds of a `TimeDelta`, rounded down like Python's normalised `timedelta`.
fn floor_seconds(delta: &TimeDelta) -> i64 {
    delta.num_seconds() - i64::from(delta.subsec_nanos() < 0)
}

fn check_days(seconds: i128) -> Result<(), ParseError> {
    let days = seconds.div_euclid(i128::from(SECS_PER_DAY));
    if days.abs() > i128::from(MAX_DAYS) { Err(days_error(days)) } else { Ok(()) }
}

fn split_micros(micros: i128) -> (i64, u32) {
    // Callers have checked Python's range, well inside i64 seconds.
    let secs = micros.div_euclid(MICROS_PER_SEC) as i64;
    let nanos = (micros.rem_euclid(MICROS_PER_SEC) * 1000) as u32;
    (secs, nanos)
}

impl ParamValue for TimeDelta {
    const TYPE_NAME: &'static str = "timedelta";

    fn parse(text: &str, _options: &ParamOptions) -> Result<Self, ParseError> {
        let (secs, nanos) = split_micros(parse_micros(text)?);
        TimeDelta::new(secs, nanos).ok_or_else(|| ParseError::new(format!("time delta {text} is out of range")))
    }

    fn serialize(&self) -> String {
        luigi_string(floor_seconds(self))
    }

    fn normalize(self, options: &ParamOptions) -> Result<Self, ParseError> {
        check_days(i128::from(floor_seconds(&self)))?;
        check_choices(&self, options)?;
        Ok(self)
    }
}

impl ParamValue for Duration {
    const TYPE_NAME: &'static str = "timedelta";

    fn parse(text: &str, _options: &ParamOptions) -> Result<Self, ParseError> {
        let micros = parse_micros(text)?;
        if micros < 0 {
            let (secs, _) = split_micros(micros);
            return Err(ParseError::new(format!(
                "the time delta {text} ({}) is negative, which a std::time::Duration cannot hold; \
                 use chrono::TimeDelta for this parameter",
                luigi_string(secs)
            )));
        }
        let (secs, nanos) = split_micros(micros);
        Ok(Duration::new(secs as u64, nanos))
    }

    fn serialize(&self) -> String {
        luigi_string(i64::try_from(self.as_secs()).unwrap_or(i64::MAX))
    }

    fn normalize(self, options: &ParamOptions) -> Result<Self, ParseError> {
        check_days(i128::from(self.as_secs()))?;
        check_choices(&self, options)?;
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(text: &str) -> Result<String, String> {
        TimeDelta::parse(text, &ParamOptions::DEFAULT).map(|d| d.serialize()).map_err(|e| e.message().to_owned())
    }

    #[test]
    fn three_forms() {
        assert_eq!(show("3600").as_deref(), Ok("0 w 0 d 1 h 0 m 0 s"));
        assert_eq!(show("1.5").as_deref(), Ok("0 w 0 d 0 h 0 m 1 s"));
        assert_eq!(show("P2W").as_deref(), Ok("2 w 0 d 0 h 0 m 0 s"));
        assert_eq!(show("P1DT2H").as_deref(), Ok("0 w 1 d 2 h 0 m 0 s"));
        assert_eq!(show("P1DT2Hgarbage").as_deref(), Ok("0 w 1 d 2 h 0 m 0 s"));
        assert_eq!(show("1d3h").as_deref(), Ok("0 w 1 d 3 h 0 m 0 s"));
        assert_eq!(show("1 week 2 days").as_deref(), Ok("1 w 2 d 0 h 0 m 0 s"));
        assert_eq!(show("2 ms").as_deref(), Ok("0 w 0 d 0 h 2 m 0 s"));
        assert_eq!(show("3 d 1 w").as_deref(), Ok("0 w 3 d 0 h 0 m 0 s"));
    }

    #[test]
    fn python_quirks() {
        assert_eq!(show("-1.5").as_deref(), Ok("-1 w 6 d 23 h 59 m 58 s"));
        assert_eq!(show("0.9999996").as_deref(), Ok("0 w 0 d 0 h 0 m 1 s"));
        assert_eq!(show("86399.9999999").as_deref(), Ok("0 w 1 d 0 h 0 m 0 s"));
        assert_eq!(show("0s").as_deref(), Ok("0 w 0 d 0 h 0 m 0 s"));
        for zero in ["PT", "P0D", "P", "nan", "abc", "5x"] {
            assert_eq!(show(zero).unwrap_err(), format!("Invalid time delta - could not parse {zero}"));
        }
        assert_eq!(show("inf").unwrap_err(), "cannot convert float infinity to integer");
        assert_eq!(show("100000000000000").unwrap_err(), "days=1157407407; must have magnitude <= 999999999");
        assert!(show("999999999999w").is_err());
        assert!(show("99999999999999999999999999999999999999999s").is_err());
    }

    #[test]
    fn rounding_is_half_to_even() {
        assert_eq!(micros_from_seconds(0.0000005), Ok(0));
        assert_eq!(micros_from_seconds(0.0000015), Ok(2));
        assert_eq!(micros_from_seconds(0.0000025), Ok(2));
        assert_eq!(micros_from_seconds(-0.0000005), Ok(0));
        assert_eq!(micros_from_seconds(0.0000035), Ok(4));
        assert_eq!(micros_from_seconds(1.0000005), Ok(1_000_001));
        assert_eq!(micros_from_seconds(2.0000005), Ok(2_000_001));
        assert_eq!(micros_from_seconds(-1.5), Ok(-1_500_000));
    }

    #[test]
    fn std_durations_are_non_negative() {
        let options = ParamOptions::DEFAULT;
        assert_eq!(Duration::parse("1d3h", &options), Ok(Duration::from_secs(27 * 3600)));
        assert_eq!(Duration::from_millis(1500).serialize(), "0 w 0 d 0 h 0 m 1 s");
        assert!(Duration::parse("-1", &options).unwrap_err().message().contains("negative"));
        assert!(Duration::from_secs(86_400 * 1_000_000_000).normalize(&options).is_err());
        let negative = TimeDelta::milliseconds(-1);
        assert_eq!(negative.serialize(), "-1 w 6 d 23 h 59 m 59 s");
    }
}
