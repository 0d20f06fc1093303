//! Python-compatible JSON text: the exact bytes Python's `json.dumps` and `repr(float)` produce.
//!
//! Task ids hash `json.dumps(params, separators=(",", ":"), sort_keys=True)`, and list, tuple
//! and dict parameters serialize as `json.dumps(value)` with the default `", "`/`": "`
//! separators; both escape every character outside printable ASCII as lowercase `\uXXXX`
//! (astral characters as UTF-16 surrogate pairs). Any difference here changes task ids, so
//! this module is the one place that writes such text, and `serde_json`'s own writer is never
//! used for anything that is hashed or sent as a parameter string.
//!
//! [`float_repr`] reproduces Python's shortest round-trip float formatting (`1.0`, `1e+16`,
//! `1e-05`), which `FloatParameter` serialization and JSON numbers both need.

use serde_json::Value;

/// The separators between items and between a key and its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Separators {
    /// Python's default `(", ", ": ")`, used for parameter values.
    Default,
    /// `(",", ":")`, used for the task-id hash.
    Compact,
}

impl Separators {
    fn item(self) -> &'static str {
        match self {
            Separators::Default => ", ",
            Separators::Compact => ",",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Separators::Default => ": ",
            Separators::Compact => ":",
        }
    }
}

/// Serializes `value` like `json.dumps(value, separators=..., sort_keys=...)` with
/// `ensure_ascii=True`. Object keys keep their insertion order unless `sort_keys` is set, in
/// which case they are ordered by Unicode code point, as Python sorts `str`.
pub fn dumps(value: &Value, separators: Separators, sort_keys: bool) -> String {
    let mut out = String::new();
    write_value(&mut out, value, separators, sort_keys);
    out
}

/// Serializes a map of strings with compact separators and sorted keys: the text whose md5
/// is part of a task id.
pub fn dumps_sorted_str_map<'a>(entries: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut sorted: Vec<(&str, &str)> = entries.into_iter().collect();
    // Rust compares `str` by bytes, and UTF-8 byte order equals code-point order.
    sorted.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let mut out = String::with_capacity(16 + sorted.iter().map(|(k, v)| k.len() + v.len() + 6).sum::<usize>());
    out.push('{');
    for (idx, (key, value)) in sorted.iter().enumerate() {
        if idx > 0 {
            out.push(',');
        }
        write_str(&mut out, key);
        out.push(':');
        write_str(&mut out, value);
    }
    out.push('}');
    out
}

fn write_value(out: &mut String, value: &Value, separators: Separators, sort_keys: bool) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(number) => {
            if let Some(int) = number.as_i64() {
                out.push_str(&int.to_string());
            } else if let Some(uint) = number.as_u64() {
                out.push_str(&uint.to_string());
            } else if let Some(float) = number.as_f64() {
                out.push_str(&json_float(float));
            }
        }
        Value::String(text) => write_str(out, text),
        Value::Array(items) => {
            out.push('[');
            for (idx, item) in items.iter().enumerate() {
                if idx > 0 {
                    out.push_str(separators.item());
                }
                write_value(out, item, separators, sort_keys);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            if sort_keys {
                entries.sort_by(|a, b| a.0.cmp(b.0));
            }
            for (idx, (key, item)) in entries.into_iter().enumerate() {
                if idx > 0 {
                    out.push_str(separators.item());
                }
                write_str(out, key);
                out.push_str(separators.key());
                write_value(out, item, separators, sort_keys);
            }
            out.push('}');
        }
    }
}

/// Appends `text` as a JSON string literal with Python's `ensure_ascii=True` escaping.
pub fn write_str(out: &mut String, text: &str) {
    out.push('"');
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(ch),
            _ => {
                let mut units = [0u16; 2];
                for unit in ch.encode_utf16(&mut units) {
                    push_unicode_escape(out, *unit);
                }
            }
        }
    }
    out.push('"');
}

fn push_unicode_escape(out: &mut String, unit: u16) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push_str("\\u");
    for shift in [12, 8, 4, 0] {
        out.push(HEX[usize::from((unit >> shift) & 0xf)] as char);
    }
}

/// A float as Python's `json.dumps` writes it: `repr(x)`, except that infinities and NaN
/// become the non-standard tokens `Infinity`, `-Infinity` and `NaN`.
pub fn json_float(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_owned()
    } else if value.is_infinite() {
        if value > 0.0 { "Infinity".to_owned() } else { "-Infinity".to_owned() }
    } else {
        float_repr(value)
    }
}

/// [`json_float`] appended to `out`.
pub fn write_json_float(out: &mut String, value: f64) {
    if value.is_finite() {
        write_float_repr(out, value);
    } else {
        out.push_str(&json_float(value));
    }
}

/// Python's `repr(float)` (equal to `str(float)` since Python 3.2): the shortest digits that
/// round-trip, in fixed notation when the decimal exponent is in `-4 <= e < 16`, otherwise in
/// scientific notation with a signed exponent of at least two digits.
pub fn float_repr(value: f64) -> String {
    let mut out = String::new();
    write_float_repr(&mut out, value);
    out
}

/// [`float_repr`] appended to `out`. Timestamps are in every scheduler record, so the common
/// case (fixed notation) is formatted in place: Rust's `Display` for `f64` writes the same
/// shortest round-trip digits in fixed notation, and only lacks Python's `.0` on whole numbers.
pub fn write_float_repr(out: &mut String, value: f64) {
    use std::fmt::Write as _;
    let magnitude = value.abs();
    if (1e-4..1e16).contains(&magnitude) {
        let start = out.len();
        let _ = write!(out, "{value}");
        if !out[start..].contains('.') {
            out.push_str(".0");
        }
        return;
    }
    out.push_str(&float_repr_slow(value));
}

/// [`float_repr`] by way of scientific notation: right for every value, including the
/// exponent forms, zeros and non-finite values.
fn float_repr_slow(value: f64) -> String {
    if value.is_nan() {
        return "nan".to_owned();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf".to_owned() } else { "-inf".to_owned() };
    }
    let negative = value.is_sign_negative();
    if value == 0.0 {
        return if negative { "-0.0".to_owned() } else { "0.0".to_owned() };
    }
    // `{:e}` prints the shortest round-trip digits as `d.ddde<exp>`.
    let sci = format!("{:e}", value.abs());
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    // Position of the decimal point relative to the start of `digits`.
    let decpt = exponent + 1;
    let mut out = String::with_capacity(digits.len() + 8);
    if negative {
        out.push('-');
    }
    if (-4 < decpt) && (decpt <= 16) {
        if decpt <= 0 {
            out.push_str("0.");
            for _ in 0..(-decpt) {
                out.push('0');
            }
            out.push_str(&digits);
        } else {
            let point = decpt as usize;
            if digits.len() <= point {
                out.push_str(&digits);
                for _ in digits.len()..point {
                    out.push('0');
                }
                out.push_str(".0");
            } else {
                out.push_str(&digits[..point]);
                out.push('.');
                out.push_str(&digits[point..]);
            }
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exponent < 0 { '-' } else { '+' });
        let magnitude = exponent.unsigned_abs();
        if magnitude < 10 {
            out.push('0');
        }
        out.push_str(&magnitude.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn floats_match_python_repr() {
        let cases = [
            (1.0, "1.0"),
            (0.1, "0.1"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (2.5e-7, "2.5e-07"),
            (123456789.125, "123456789.125"),
            (-3.5, "-3.5"),
            (-0.0, "-0.0"),
            (1e100, "1e+100"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (12345678901234567.0, "1.2345678901234568e+16"),
            (0.3, "0.3"),
            (1.0 / 3.0, "0.3333333333333333"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
        ];
        for (value, expected) in cases {
            assert_eq!(float_repr(value), expected, "repr of {value:e}");
        }
    }

    #[test]
    fn the_fixed_notation_fast_path_agrees_with_the_general_one() {
        // A deterministic spread of magnitudes and digit counts across the fast path's range
        // and its edges (xorshift, so the test needs no random-number crate).
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let below_fixed_limit = f64::from_bits(1e16_f64.to_bits() - 1);
        let below_fixed_start = f64::from_bits(1e-4_f64.to_bits() - 1);
        let mut values = vec![1e-4, 1e16, below_fixed_limit, below_fixed_start, 1e15 + 0.5, 1.0, 1e9];
        for _ in 0..20_000 {
            let bits = next();
            let exponent = (bits % 25) as i32 - 6;
            let mantissa = (bits >> 11) as f64 / (1u64 << 53) as f64;
            values.push(mantissa * 10f64.powi(exponent));
            values.push((bits >> 34) as f64);
            values.push(1_795_280_357.0 + (bits % 1_000_000) as f64 / 1_000_000.0);
        }
        for value in values {
            for value in [value, -value] {
                let mut fast = String::new();
                write_float_repr(&mut fast, value);
                assert_eq!(fast, float_repr_slow(value), "repr of {value:e}");
            }
        }
    }

    #[test]
    fn strings_escape_like_ensure_ascii() {
        let mut out = String::new();
        write_str(&mut out, "a\"b\\c\n\t\u{1}\u{7f}/😀é");
        assert_eq!(out, r#""a\"b\\c\n\t\u0001\u007f/\ud83d\ude00\u00e9""#);
    }

    #[test]
    fn default_separators_keep_insertion_order() {
        let value: Value = serde_json::from_str(r#"{"b": 1, "a": [1, 2.0, "x", null, true]}"#).unwrap();
        assert_eq!(dumps(&value, Separators::Default, false), r#"{"b": 1, "a": [1, 2.0, "x", null, true]}"#);
        assert_eq!(dumps(&value, Separators::Compact, true), r#"{"a":[1,2.0,"x",null,true],"b":1}"#);
    }

    #[test]
    fn sorted_map_orders_by_code_point() {
        let text = dumps_sorted_str_map([("B", "1"), ("a", "2"), ("_", "3"), ("Z", "4")]);
        assert_eq!(text, r#"{"B":"1","Z":"4","_":"3","a":"2"}"#);
        assert_eq!(dumps(&json!({}), Separators::Compact, true), "{}");
    }
}
