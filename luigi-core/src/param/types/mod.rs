//! The Rust types that play Luigi's parameter classes, with Luigi's exact string forms.
//!
//! Each Luigi class maps to a plain Rust type implementing [`ParamValue`]; a task field of that
//! type behaves like a Luigi parameter of that class:
//!
//! | Luigi class | Rust type | `TYPE_NAME` |
//! |---|---|---|
//! | `Parameter`, `StrParameter` | [`String`] | `str` |
//! | `IntParameter` | `i8`..`i128`, `u8`..`u128`, `isize`, `usize` | `int` |
//! | `FloatParameter` | [`f64`], [`f32`] | `float` |
//! | `BoolParameter` | [`bool`] (`#[param(explicit)]` for explicit parsing) | `bool` |
//! | `DateParameter` | [`chrono::NaiveDate`] | `date` |
//! | `MonthParameter`, `YearParameter` | [`Month`], [`Year`] | `month`, `year` |
//! | `DateHourParameter`, `DateMinuteParameter`, `DateSecondParameter` | [`DateHour`], [`DateMinute`], [`DateSecond`] | `datehour`, ... |
//! | `DateIntervalParameter` | [`DateInterval`] | `date_interval` |
//! | `TimeDeltaParameter` | [`chrono::TimeDelta`], [`std::time::Duration`] | `timedelta` |
//! | `PathParameter` | [`std::path::PathBuf`] (`absolute`, `exists`) | `path` |
//! | `ListParameter` | [`Vec<T>`] for any serde `T` | `list` |
//! | `TupleParameter` | tuples `(A, B)` .. `(A, B, C, D, E, F)` of serde types | `tuple` |
//! | `DictParameter` | [`serde_json::Map`], [`indexmap::IndexMap<String, T>`] | `dict` |
//! | (any JSON) | [`serde_json::Value`], [`Json<T>`] | `json` |
//! | `EnumParameter` | a `#[derive(ParamEnum)]` enum | `enum` |
//! | `EnumListParameter`, `ChoiceListParameter` | [`CommaList<T>`] | `list` |
//! | `ChoiceParameter` | any of the above with `#[param(choices = [...])]` | the inner type's |
//! | `NumericalParameter` | an int or float with `#[param(min = .., max = ..)]` | `int`, `float` |
//! | `TaskParameter` | [`TaskParam`] | `task` |
//! | `Optional*Parameter` | [`Option<T>`]: `""` is `None` | the inner type's |
//!
//! The families live in submodules: `text` (strings, choices), `number` (ints, floats, bools,
//! bounds), `date` (dates and datetimes with interval snapping, and a replica of Python's
//! `strptime`), `interval` (date intervals), `timedelta`, `path`, `json` (list, tuple, dict and
//! JSON values, with the Python-JSON and Python-literal parsers in `pyparse`), `list`
//! (comma-separated lists), `option` and `task`. This file holds what they share: Python's
//! notion of whitespace and decimal digits, `repr(str)` for error messages, the choice check,
//! and the TOML-to-string conversion.
//!
//! Key decision: every parser re-implements the exact Python routine Luigi calls (`int()`,
//! `float()`, `strptime`, `json.loads`, `ast.literal_eval`, the date-interval and timedelta
//! regexes) rather than a "reasonable" Rust equivalent, because a value that parses
//! differently serializes differently and so changes the task id. Where Luigi raises a
//! specific `ValueError` text, the same text is produced.
//!
//! Choices are checked generically: [`ParamValue::normalize`]'s default implementation calls
//! [`check_choices`], which compares the value's serialized form with `options.choices`;
//! every implementation here that overrides `normalize` calls it too (or delegates to an
//! inner type that does, as [`Option<T>`] and [`CommaList<T>`] do per element). A user type
//! overriding `normalize` should call [`check_choices`] at its end.

mod date;
mod interval;
mod json;
mod list;
mod number;
mod option;
mod path;
mod pyparse;
mod task;
mod text;
mod timedelta;

use std::borrow::Cow;
use std::fmt::Write as _;

pub use date::{DateHour, DateMinute, DateSecond, Month, Year};
pub use interval::{DateInterval, DateIntervalKind};
pub use json::Json;
pub use list::CommaList;
pub use task::TaskParam;

use super::{ParamOptions, ParamValue, ParseError};
use crate::pyjson;

/// The string Luigi's `Parameter.parse` sees for a TOML value: Python's `str()` of the value
/// the `toml` package loads (`True`, `1.0`, `2024-01-01`, `[1, 'a']`).
pub fn toml_to_param_string(value: &toml::Value) -> String {
    match value {
        toml::Value::String(text) => text.clone(),
        other => {
            let mut out = String::new();
            write_toml_python(&mut out, other, false);
            out
        }
    }
}

/// Appends Python's `str()` (or `repr()` inside containers) of a loaded TOML value.
fn write_toml_python(out: &mut String, value: &toml::Value, nested: bool) {
    match value {
        toml::Value::String(text) if nested => out.push_str(&python_repr(text)),
        toml::Value::String(text) => out.push_str(text),
        toml::Value::Integer(int) => {
            let _ = write!(out, "{int}");
        }
        toml::Value::Float(float) => out.push_str(&pyjson::float_repr(*float)),
        toml::Value::Boolean(flag) => out.push_str(if *flag { "True" } else { "False" }),
        toml::Value::Datetime(datetime) => {
            // Python's `str(datetime)` separates date and time with a space and writes UTC as
            // an offset.
            let text = datetime.to_string().replacen('T', " ", 1).replace('Z', "+00:00");
            if nested {
                out.push_str(&python_repr(&text));
            } else {
                out.push_str(&text);
            }
        }
        toml::Value::Array(items) => {
            out.push('[');
            for (idx, item) in items.iter().enumerate() {
                if idx > 0 {
                    out.push_str(", ");
                }
                write_toml_python(out, item, true);
            }
            out.push(']');
        }
        toml::Value::Table(table) => {
            out.push('{');
            for (idx, (key, item)) in table.iter().enumerate() {
                if idx > 0 {
                    out.push_str(", ");
                }
                out.push_str(&python_repr(key));
                out.push_str(": ");
                write_toml_python(out, item, true);
            }
            out.push('}');
        }
    }
}

/// Checks `options.choices` (Luigi's `ChoiceParameter`): the value's serialized form must be
/// one of them. A no-op without choices.
///
/// The error reads like Luigi's, `c is not a valid choice from {'a', 'b'}`, listing the
/// choices in declaration order (Luigi prints a Python set, whose order is arbitrary).
pub fn check_choices<T: ParamValue>(value: &T, options: &ParamOptions) -> Result<(), ParseError> {
    let Some(choices) = options.choices else { return Ok(()) };
    let serialized = value.serialize();
    if choices.contains(&serialized.as_str()) {
        return Ok(());
    }
    // Luigi prints the set of typed choices: strings quoted, numbers bare.
    let quoted = T::TYPE_NAME == "str";
    let listed: Vec<Cow<'_, str>> =
        choices.iter().map(|c| if quoted { Cow::Owned(python_repr(c)) } else { Cow::Borrowed(*c) }).collect();
    Err(ParseError::new(format!("{serialized} is not a valid choice from {{{}}}", listed.join(", "))))
}

/// Python's `repr(str)`: single quotes unless the text contains a single quote and no double
/// quote, with backslash escapes for the quote, backslash and non-printable characters.
pub fn python_repr(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') { '"' } else { '\'' };
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for ch in text.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if !py_isprintable(c) => {
                let code = u32::from(c);
                let _ = match code {
                    0..=0xff => write!(out, "\\x{code:02x}"),
                    0x100..=0xffff => write!(out, "\\u{code:04x}"),
                    _ => write!(out, "\\U{code:08x}"),
                };
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Python's `str.isprintable()` for one character, as far as `repr` needs it: control and
/// format characters and every space other than U+0020 are escaped. (Unassigned and
/// private-use code points, which Python also escapes, are left as they are.)
fn py_isprintable(ch: char) -> bool {
    let format_char = matches!(
        ch,
        '\u{ad}' | '\u{600}'..='\u{605}' | '\u{61c}' | '\u{6dd}' | '\u{70f}' | '\u{180e}' | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206f}' | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
    );
    !(ch.is_control() || format_char || (py_isspace(ch) && ch != ' '))
}

/// Python's `str.isspace()`: Unicode whitespace plus the ASCII separators 0x1C–0x1F, which
/// Rust's `char::is_whitespace` leaves out.
pub(crate) fn py_isspace(ch: char) -> bool {
    ch.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&ch)
}

/// The first code point of every block of ten Unicode decimal digits (category Nd), as of
/// Unicode 14.0 (Python 3.11). Generated with `unicodedata.decimal(c) == 0`; every block is
/// contiguous, so a digit's value is its offset from the block start.
const DIGIT_ZEROS: [u32; 66] = [
    0x30, 0x660, 0x6F0, 0x7C0, 0x966, 0x9E6, 0xA66, 0xAE6, 0xB66, 0xBE6, 0xC66, 0xCE6, 0xD66, 0xDE6, 0xE50, 0xED0,
    0xF20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90, 0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620,
    0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0, 0xFF10, 0x104A0, 0x10D30, 0x11066, 0x110F0, 0x11136, 0x111D0,
    0x112F0, 0x11450, 0x114D0, 0x11650, 0x116C0, 0x11730, 0x118E0, 0x11950, 0x11C50, 0x11D50, 0x11DA0, 0x16A60,
    0x16AC0, 0x16B50, 0x1D7CE, 0x1D7D8, 0x1D7E2, 0x1D7EC, 0x1D7F6, 0x1E140, 0x1E2F0, 0x1E950, 0x1FBF0,
];

/// The value of a character Python's regex `\d` matches and `int()` accepts: ASCII digits and
/// every other Unicode decimal digit (Arabic-Indic, fullwidth...).
pub(crate) fn py_digit(ch: char) -> Option<u32> {
    if ch.is_ascii_digit() {
        return Some(u32::from(ch) - u32::from('0'));
    }
    if ch.is_ascii() {
        return None;
    }
    let code = u32::from(ch);
    let idx = DIGIT_ZEROS.partition_point(|zero| *zero <= code);
    let zero = DIGIT_ZEROS[idx.checked_sub(1)?];
    let value = code - zero;
    (value < 10).then_some(value)
}

/// What Python's `int()` and `float()` do before parsing: Unicode decimal digits become ASCII
/// digits, Unicode whitespace becomes a space, and surrounding whitespace is stripped.
/// Borrowed when the text is plain ASCII, which is nearly always.
pub(crate) fn py_numeric_text(text: &str) -> Cow<'_, str> {
    if text.is_ascii() {
        return Cow::Borrowed(text.trim_matches(py_isspace));
    }
    let mapped: String = text
        .chars()
        .map(|ch| {
            if py_isspace(ch) {
                ' '
            } else if let Some(digit) = py_digit(ch) {
                char::from(b'0' + digit as u8)
            } else {
                ch
            }
        })
        .collect();
    Cow::Owned(mapped.trim_matches(' ').to_owned())
}

/// Python's `a % b` for integers: the result has the sign of `b`. `None` when `b` is zero
/// (Python raises `ZeroDivisionError`).
pub(crate) fn py_mod(a: i64, b: i64) -> Option<i64> {
    if b == 0 {
        return None;
    }
    let rem = a.checked_rem(b).unwrap_or(0);
    Some(if rem != 0 && (rem < 0) != (b < 0) { rem + b } else { rem })
}

/// The interval of a date-like parameter, defaulting to 1 as Luigi does.
pub(crate) fn interval_of(options: &ParamOptions) -> i64 {
    options.interval.unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_repr_quotes_like_python() {
        assert_eq!(python_repr("abc"), "'abc'");
        assert_eq!(python_repr("it's"), "\"it's\"");
        assert_eq!(python_repr("a'b\"c"), "'a\\'b\"c'");
        assert_eq!(python_repr("a\nb\\\u{1}é\u{7f}"), "'a\\nb\\\\\\x01é\\x7f'");
        assert_eq!(python_repr("\u{a0}\u{200b}\u{2028}😀"), "'\\xa0\\u200b\\u2028😀'");
    }

    #[test]
    fn unicode_digits_and_spaces() {
        assert_eq!(py_digit('7'), Some(7));
        assert_eq!(py_digit('٣'), Some(3));
        assert_eq!(py_digit('９'), Some(9));
        assert_eq!(py_digit('a'), None);
        assert_eq!(py_digit('\u{2160}'), None);
        assert_eq!(py_numeric_text(" \t12\n"), "12");
        assert_eq!(py_numeric_text("\u{3000}١٢\u{1f}"), "12");
    }

    #[test]
    fn python_modulo_follows_the_divisor() {
        assert_eq!(py_mod(7, 3), Some(1));
        assert_eq!(py_mod(-7, 3), Some(2));
        assert_eq!(py_mod(7, -3), Some(-2));
        assert_eq!(py_mod(-6, 3), Some(0));
        assert_eq!(py_mod(1, 0), None);
    }

    #[test]
    fn toml_values_read_as_python_str() {
        let parse = |text: &str| -> toml::Value {
            let table: toml::Table = toml::from_str(&format!("v = {text}")).unwrap();
            table["v"].clone()
        };
        assert_eq!(toml_to_param_string(&parse("\"x\"")), "x");
        assert_eq!(toml_to_param_string(&parse("true")), "True");
        assert_eq!(toml_to_param_string(&parse("1e16")), "1e+16");
        assert_eq!(toml_to_param_string(&parse("42")), "42");
        assert_eq!(toml_to_param_string(&parse("[1, 'a', false]")), "[1, 'a', False]");
        assert_eq!(toml_to_param_string(&parse("2024-01-02")), "2024-01-02");
        assert_eq!(toml_to_param_string(&parse("{ b = 1, a = 2 }")), "{'b': 1, 'a': 2}");
    }
}
