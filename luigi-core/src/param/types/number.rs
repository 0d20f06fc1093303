//! Numbers and booleans: Luigi's `IntParameter`, `FloatParameter`, `BoolParameter`, and with
//! `min`/`max` options its `NumericalParameter`.
//!
//! Parsing follows Python's `int()` and `float()` exactly (surrounding whitespace, a sign,
//! `_` between digits, Unicode decimal digits, `inf`/`nan` spellings), and floats serialize
//! with Python's `str(float)` ([`pyjson::float_repr`]) since that text is hashed into task
//! ids. Python ints are unbounded; a Rust field has a width, so a value that does not fit
//! is an error naming the type, and `i128` covers anything a real pipeline passes.
//!
//! Bounds are checked twice, on purpose: in `parse`, where Luigi checks them and where the
//! raw text is available for its message (`7 is not in the set of int in [-3, 7)`), and in
//! `normalize`, so values built in code are held to the same bounds.

use std::cmp::Ordering;

use crate::param::{CliKind, ParamOptions, ParamValue, ParseError};
use crate::pyjson;

use super::{check_choices, py_numeric_text, python_repr};

/// Splits Python `int()` text (already stripped) into sign and magnitude. `Err(true)` when the
/// magnitude does not even fit in `u128`, `Err(false)` when the text is not an integer.
fn parse_py_int(text: &str) -> Result<(bool, u128), bool> {
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let bytes = digits.as_bytes();
    if bytes.is_empty() || !bytes[0].is_ascii_digit() || !bytes[bytes.len() - 1].is_ascii_digit() {
        return Err(false);
    }
    let mut magnitude: u128 = 0;
    let mut overflow = false;
    let mut previous_underscore = false;
    for byte in bytes {
        match byte {
            b'_' if !previous_underscore => previous_underscore = true,
            b'0'..=b'9' => {
                previous_underscore = false;
                match magnitude.checked_mul(10).and_then(|m| m.checked_add(u128::from(byte - b'0'))) {
                    Some(next) => magnitude = next,
                    None => overflow = true,
                }
            }
            _ => return Err(false),
        }
    }
    if overflow { Err(true) } else { Ok((negative, magnitude)) }
}

/// A parsed integer in the widest signed type, or `None` when it only fits in `u128`.
fn signed(negative: bool, magnitude: u128) -> Option<i128> {
    if negative {
        if magnitude == 1u128 << 127 { Some(i128::MIN) } else { i128::try_from(magnitude).ok().map(|m| -m) }
    } else {
        i128::try_from(magnitude).ok()
    }
}

/// The message for an integer that does not fit the field's Rust type.
fn out_of_range(text: &str, rust_type: &str) -> ParseError {
    ParseError::new(format!(
        "int value {} does not fit in the Rust type {rust_type} of this parameter; use a wider integer type",
        text.trim()
    ))
}

/// Python's `int(text)` converted to `T`.
fn parse_int<T: TryFrom<i128> + TryFrom<u128>>(text: &str, rust_type: &str) -> Result<T, ParseError> {
    let cleaned = py_numeric_text(text);
    match parse_py_int(&cleaned) {
        Ok((negative, magnitude)) => {
            let converted = match signed(negative, magnitude) {
                Some(value) => T::try_from(value).ok(),
                None if !negative => T::try_from(magnitude).ok(),
                None => None,
            };
            converted.ok_or_else(|| out_of_range(&cleaned, rust_type))
        }
        Err(true) => Err(out_of_range(&cleaned, rust_type)),
        Err(false) => Err(ParseError::new(format!("invalid literal for int() with base 10: {}", python_repr(text)))),
    }
}

/// Checks Python `float()` syntax and returns the text without `_` separators, ready for
/// Rust's (equally correctly rounded) float parser. `None` when Python would reject it.
fn clean_py_float(text: &str) -> Option<String> {
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    if ["inf", "infinity", "nan"].iter().any(|word| unsigned.eq_ignore_ascii_case(word)) {
        return Some(text.to_owned());
    }
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut idx = 0;
    if let Some(sign @ (b'+' | b'-')) = bytes.first() {
        out.push(char::from(*sign));
        idx = 1;
    }
    // A run of digits with single underscores between digits; returns how many digits.
    let digit_part = |idx: &mut usize, out: &mut String| -> Option<usize> {
        let mut count = 0;
        while *idx < bytes.len() {
            match bytes[*idx] {
                digit @ b'0'..=b'9' => {
                    out.push(char::from(digit));
                    count += 1;
                    *idx += 1;
                }
                b'_' if count > 0 && bytes.get(*idx + 1).is_some_and(u8::is_ascii_digit) => *idx += 1,
                b'_' => return None,
                _ => break,
            }
        }
        Some(count)
    };
    let mut mantissa_digits = digit_part(&mut idx, &mut out)?;
    if bytes.get(idx) == Some(&b'.') {
        out.push('.');
        idx += 1;
        mantissa_digits += digit_part(&mut idx, &mut out)?;
    }
    if mantissa_digits == 0 {
        return None;
    }
    if let Some(e @ (b'e' | b'E')) = bytes.get(idx) {
        out.push(char::from(*e));
        idx += 1;
        if let Some(sign @ (b'+' | b'-')) = bytes.get(idx) {
            out.push(char::from(*sign));
            idx += 1;
        }
        if digit_part(&mut idx, &mut out)? == 0 {
            return None;
        }
    }
    (idx == bytes.len()).then_some(out)
}

/// Python's `float(text)` parsed as `T`.
pub(super) fn parse_float<T: std::str::FromStr>(text: &str) -> Result<T, ParseError> {
    let invalid = || ParseError::new(format!("could not convert string to float: {}", python_repr(text)));
    let cleaned = clean_py_float(&py_numeric_text(text)).ok_or_else(invalid)?;
    cleaned.parse().map_err(|_| invalid())
}

/// A number compared against `f64` bounds without losing integer precision.
#[derive(Clone, Copy)]
enum Num {
    Int(i128),
    Float(f64),
}

impl Num {
    /// Compares with a bound; `None` when either side is NaN (every Python comparison with
    /// NaN is false).
    fn cmp_bound(self, bound: f64) -> Option<Ordering> {
        match self {
            Num::Float(value) => value.partial_cmp(&bound),
            Num::Int(_) if bound.is_nan() => None,
            Num::Int(_) if bound >= 2f64.powi(127) => Some(Ordering::Less),
            Num::Int(_) if bound < -(2f64.powi(127)) => Some(Ordering::Greater),
            Num::Int(value) => {
                let floor = bound.floor();
                // In range, so the conversion is exact.
                match value.cmp(&(floor as i128)) {
                    Ordering::Equal if bound > floor => Some(Ordering::Less),
                    other => Some(other),
                }
            }
        }
    }
}

/// A bound as Luigi prints it: integers for int parameters, Python floats otherwise.
fn bound_text(bound: Option<f64>, type_name: &str, missing: &str) -> String {
    match bound {
        None => missing.to_owned(),
        Some(value) if type_name == "int" && value.fract() == 0.0 && value.abs() < 1e18 => {
            format!("{}", value as i64)
        }
        Some(value) => pyjson::float_repr(value),
    }
}

/// Luigi's `_permitted_range`, e.g. `int in [-3, 7)`; `None` without bounds.
fn permitted_range(type_name: &str, options: &ParamOptions) -> Option<String> {
    if options.min.is_none() && options.max.is_none() {
        return None;
    }
    Some(format!(
        "{type_name} in {}{}, {}{}",
        if options.min_inclusive { "[" } else { "(" },
        bound_text(options.min, type_name, "-inf"),
        bound_text(options.max, type_name, "inf"),
        if options.max_inclusive { "]" } else { ")" },
    ))
}

/// Checks `options.min`/`max` (Luigi's `NumericalParameter`); `shown` is the text named in
/// the error.
fn check_bounds(value: Num, shown: &str, type_name: &str, options: &ParamOptions) -> Result<(), ParseError> {
    let above_min = options.min.is_none_or(|min| match value.cmp_bound(min) {
        Some(Ordering::Greater) => true,
        Some(Ordering::Equal) => options.min_inclusive,
        _ => false,
    });
    let below_max = options.max.is_none_or(|max| match value.cmp_bound(max) {
        Some(Ordering::Less) => true,
        Some(Ordering::Equal) => options.max_inclusive,
        _ => false,
    });
    if above_min && below_max {
        return Ok(());
    }
    let range = permitted_range(type_name, options).unwrap_or_default();
    Err(ParseError::new(format!("{shown} is not in the set of {range}")))
}

/// Luigi's description suffixes: `Choices: {...}` and `permitted values: int in [0, 5)`.
fn describe_numeric(type_name: &str, options: &ParamOptions) -> Option<String> {
    let choices = options.choices.map(|choices| format!("Choices: {{{}}}", choices.join(", ")));
    let range = permitted_range(type_name, options).map(|range| format!("permitted values: {range}"));
    match (choices, range) {
        (Some(choices), Some(range)) => Some(format!("{choices} {range}")),
        (choices, range) => choices.or(range),
    }
}

/// Python's `int(x)` of a float read from TOML: truncation, with Python's errors for NaN and
/// infinities.
fn int_of_float(value: f64) -> Result<i128, ParseError> {
    if value.is_nan() {
        return Err(ParseError::new("cannot convert float NaN to integer"));
    }
    if value.is_infinite() {
        return Err(ParseError::new("cannot convert float infinity to integer"));
    }
    let truncated = value.trunc();
    if truncated.abs() >= 2f64.powi(127) {
        return Err(ParseError::new(format!(
            "int value {} does not fit in a 128-bit integer",
            pyjson::float_repr(truncated)
        )));
    }
    Ok(truncated as i128)
}

macro_rules! int_param {
    ($($ty:ty),* $(,)?) => {$(
        impl ParamValue for $ty {
            const TYPE_NAME: &'static str = "int";

            fn parse(text: &str, options: &ParamOptions) -> Result<Self, ParseError> {
                let value: $ty = parse_int(text, stringify!($ty))?;
                check_bounds(value.num(), text, Self::TYPE_NAME, options)?;
                Ok(value)
            }

            fn parse_toml(value: &toml::Value, options: &ParamOptions) -> Result<Self, ParseError> {
                let wide: i128 = match value {
                    toml::Value::String(text) => return Self::parse(text, options),
                    toml::Value::Integer(int) => i128::from(*int),
                    toml::Value::Float(float) => int_of_float(*float)?,
                    toml::Value::Boolean(flag) => i128::from(*flag),
                    other => {
                        return Err(ParseError::new(format!(
                            "int() argument must be a string or a number, not the TOML {}",
                            other.type_str()
                        )))
                    }
                };
                let value = <$ty>::try_from(wide).map_err(|_| out_of_range(&wide.to_string(), stringify!($ty)))?;
                check_bounds(value.num(), &wide.to_string(), Self::TYPE_NAME, options)?;
                Ok(value)
            }

            fn serialize(&self) -> String {
                self.to_string()
            }

            fn normalize(self, options: &ParamOptions) -> Result<Self, ParseError> {
                if options.min.is_some() || options.max.is_some() {
                    check_bounds(self.num(), &self.to_string(), Self::TYPE_NAME, options)?;
                }
                check_choices(&self, options)?;
                Ok(self)
            }

            fn next_in_enumeration(&self, _options: &ParamOptions) -> Option<Self> {
                self.checked_add(1)
            }

            fn describe_options(options: &ParamOptions) -> Option<String> {
                describe_numeric(Self::TYPE_NAME, options)
            }
        }

        impl AsNum for $ty {
            fn num(self) -> Num {
                match i128::try_from(self) {
                    Ok(value) => Num::Int(value),
                    // Only u128 values above i128::MAX get here; a float is close enough to
                    // compare them with f64 bounds.
                    Err(_) => Num::Float(self as f64),
                }
            }
        }
    )*};
}

/// Conversion of a parameter number for bound checks.
trait AsNum {
    fn num(self) -> Num;
}

int_param!(i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize);

macro_rules! float_param {
    ($($ty:ty => $repr:expr),* $(,)?) => {$(
        impl ParamValue for $ty {
            const TYPE_NAME: &'static str = "float";

            fn parse(text: &str, options: &ParamOptions) -> Result<Self, ParseError> {
                let value: $ty = parse_float(text)?;
                check_bounds(Num::Float(f64::from(value)), text, Self::TYPE_NAME, options)?;
                Ok(value)
            }

            fn parse_toml(value: &toml::Value, options: &ParamOptions) -> Result<Self, ParseError> {
                let float = match value {
                    toml::Value::String(text) => return Self::parse(text, options),
                    toml::Value::Float(float) => *float as $ty,
                    toml::Value::Integer(int) => *int as $ty,
                    toml::Value::Boolean(flag) => if *flag { 1.0 } else { 0.0 },
                    other => {
                        return Err(ParseError::new(format!(
                            "float() argument must be a string or a real number, not the TOML {}",
                            other.type_str()
                        )))
                    }
                };
                check_bounds(Num::Float(f64::from(float)), &float.serialize(), Self::TYPE_NAME, options)?;
                Ok(float)
            }

            fn serialize(&self) -> String {
                let repr: fn($ty) -> String = $repr;
                repr(*self)
            }

            fn normalize(self, options: &ParamOptions) -> Result<Self, ParseError> {
                if options.min.is_some() || options.max.is_some() {
                    check_bounds(Num::Float(f64::from(self)), &self.serialize(), Self::TYPE_NAME, options)?;
                }
                check_choices(&self, options)?;
                Ok(self)
            }

            fn describe_options(options: &ParamOptions) -> Option<String> {
                describe_numeric(Self::TYPE_NAME, options)
            }
        }
    )*};
}

float_param!(
    f64 => pyjson::float_repr,
    // Python floats are doubles. An `f32` field holds the nearest single to what was typed, so
    // it is written as the shortest decimal that round-trips as an `f32` (what was typed, for
    // short inputs), laid out as Python would write that decimal as a double.
    f32 => |value| pyjson::float_repr(value.to_string().parse::<f64>().unwrap_or(f64::NAN)),
);

impl ParamValue for bool {
    const TYPE_NAME: &'static str = "bool";

    /// Luigi accepts exactly `true` and `false` in any case (no `yes`, `1` or whitespace).
    fn parse(text: &str, _options: &ParamOptions) -> Result<Self, ParseError> {
        // No non-ASCII character lowercases to one of these letters, so an ASCII comparison
        // is exactly Python's `str.lower() == "true"`.
        if text.eq_ignore_ascii_case("true") {
            Ok(true)
        } else if text.eq_ignore_ascii_case("false") {
            Ok(false)
        } else {
            Err(ParseError::new(format!("cannot interpret '{text}' as boolean")))
        }
    }

    fn serialize(&self) -> String {
        if *self { "True".to_owned() } else { "False".to_owned() }
    }

    fn implicit_default() -> Option<Self> {
        Some(false)
    }

    fn cli_kind(options: &ParamOptions) -> CliKind {
        if options.explicit { CliKind::OptionalValue } else { CliKind::Flag }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> ParamOptions {
        ParamOptions::DEFAULT
    }

    #[test]
    fn ints_parse_like_python_int() {
        assert_eq!(i64::parse(" +1_000\n", &opts()), Ok(1000));
        assert_eq!(i64::parse("-0", &opts()), Ok(0));
        assert_eq!(i64::parse("٣", &opts()), Ok(3));
        assert_eq!(i128::parse("12345678901234567890", &opts()), Ok(12345678901234567890));
        assert_eq!(i128::parse("-170141183460469231731687303715884105728", &opts()), Ok(i128::MIN));
        assert_eq!(u128::parse("340282366920938463463374607431768211455", &opts()), Ok(u128::MAX));
        for bad in ["", "5.0", "0x10", "1__0", "_1", "1_", "- 5", "1e3"] {
            let err = i64::parse(bad, &opts()).unwrap_err();
            assert_eq!(err.message(), format!("invalid literal for int() with base 10: {}", python_repr(bad)));
        }
        assert!(u8::parse("256", &opts()).unwrap_err().message().contains("u8"));
        assert!(u8::parse("-1", &opts()).is_err());
        assert!(i128::parse("9999999999999999999999999999999999999999", &opts()).is_err());
        assert_eq!(i64::MAX.next_in_enumeration(&opts()), None);
        assert_eq!(5i32.next_in_enumeration(&opts()), Some(6));
    }

    #[test]
    fn floats_parse_like_python_float() {
        assert_eq!(f64::parse("1_000.5", &opts()), Ok(1000.5));
        assert_eq!(f64::parse(" .5 ", &opts()), Ok(0.5));
        assert_eq!(f64::parse("5.", &opts()), Ok(5.0));
        assert_eq!(f64::parse("1e1_0", &opts()), Ok(1e10));
        assert_eq!(f64::parse("-iNfInItY", &opts()), Ok(f64::NEG_INFINITY));
        assert!(f64::parse("nan", &opts()).unwrap().is_nan());
        assert_eq!(f64::parse("1e400", &opts()), Ok(f64::INFINITY));
        for bad in ["", "_1", "1__0", "1_e5", "0x10", "1,5", "infinit", ".", "e5", "1e", "1._5"] {
            let err = f64::parse(bad, &opts()).unwrap_err();
            assert_eq!(err.message(), format!("could not convert string to float: {}", python_repr(bad)));
        }
        assert_eq!(0.1f32.serialize(), "0.1");
        assert_eq!(1e16f32.serialize(), "1e+16");
        assert_eq!(f32::parse("2.5e-7", &opts()).unwrap().serialize(), "2.5e-07");
    }

    #[test]
    fn bounds_match_numerical_parameter() {
        let options = ParamOptions { min: Some(-3.0), max: Some(7.0), ..ParamOptions::DEFAULT };
        assert_eq!(i64::parse("-3", &options), Ok(-3));
        assert_eq!(i64::parse("7", &options).unwrap_err().message(), "7 is not in the set of int in [-3, 7)");
        let flipped = ParamOptions { min_inclusive: false, max_inclusive: true, ..options };
        assert_eq!(i64::parse("-3", &flipped).unwrap_err().message(), "-3 is not in the set of int in (-3, 7]");
        assert_eq!(8i64.normalize(&options).unwrap_err().message(), "8 is not in the set of int in [-3, 7)");
        let floats = ParamOptions { min: Some(0.5), max: Some(1.5), ..ParamOptions::DEFAULT };
        assert_eq!(f64::parse("1.5", &floats).unwrap_err().message(), "1.5 is not in the set of float in [0.5, 1.5)");
        assert!(f64::NAN.normalize(&floats).is_err());
        let only_min = ParamOptions { min: Some(0.0), ..ParamOptions::DEFAULT };
        assert_eq!(u64::MAX.normalize(&only_min), Ok(u64::MAX));
        assert_eq!(i64::describe_options(&options).as_deref(), Some("permitted values: int in [-3, 7)"));
        assert!(Num::Int(2).cmp_bound(2.5) == Some(Ordering::Less));
        assert!(Num::Int(3).cmp_bound(2.5) == Some(Ordering::Greater));
        assert!(Num::Int(i128::MAX).cmp_bound(1e300) == Some(Ordering::Less));
    }

    #[test]
    fn bools_accept_only_true_and_false() {
        assert_eq!(bool::parse("TRUE", &opts()), Ok(true));
        assert_eq!(bool::parse("fAlSe", &opts()), Ok(false));
        assert_eq!(bool::parse("yes", &opts()).unwrap_err().message(), "cannot interpret 'yes' as boolean");
        assert!(bool::parse(" true", &opts()).is_err());
        assert_eq!(true.serialize(), "True");
        assert_eq!(bool::implicit_default(), Some(false));
        assert_eq!(bool::cli_kind(&opts()), CliKind::Flag);
        assert_eq!(bool::cli_kind(&ParamOptions { explicit: true, ..opts() }), CliKind::OptionalValue);
        assert_eq!(bool::parse_toml(&toml::Value::Boolean(true), &opts()), Ok(true));
        assert!(bool::parse_toml(&toml::Value::Integer(1), &opts()).is_err());
    }

    #[test]
    fn toml_numbers_convert_like_python() {
        assert_eq!(i64::parse_toml(&toml::Value::Float(5.7), &opts()), Ok(5));
        assert_eq!(i64::parse_toml(&toml::Value::Float(-5.7), &opts()), Ok(-5));
        assert_eq!(i64::parse_toml(&toml::Value::Boolean(true), &opts()), Ok(1));
        assert!(i64::parse_toml(&toml::Value::Float(f64::NAN), &opts()).is_err());
        assert!(u8::parse_toml(&toml::Value::Integer(300), &opts()).is_err());
        assert_eq!(f64::parse_toml(&toml::Value::Integer(3), &opts()).unwrap().serialize(), "3.0");
        assert_eq!(f64::parse_toml(&toml::Value::String("1e16".into()), &opts()).unwrap().serialize(), "1e+16");
    }
}
