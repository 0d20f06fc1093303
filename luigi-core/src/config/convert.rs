//! Python's text conversions as Luigi's configuration applies them: whitespace as
//! `str.isspace`, `str.strip`, ConfigParser's boolean words, `int(text)` and `float(text)`.
//!
//! They live apart from the parser because both the cfg parser (stripping, indentation) and
//! the typed getters of [`Configuration`](super::Configuration) need them, and because each
//! differs from its Rust counterpart in small ways that decide whether a file Python Luigi
//! accepts is accepted here too: Python counts U+001C..U+001F as whitespace, `int()` and
//! `float()` accept `_` between digits, and ConfigParser knows eight boolean words.
//!
//! Deliberately absent: non-ASCII decimal digits, which Python's `int()` also accepts but no
//! configuration file uses.

/// Whether Python's `str.isspace()` holds for `ch` (also what `\s` matches in `re`).
pub(super) fn is_py_space(ch: char) -> bool {
    // Rust's notion of whitespace lacks the four ASCII separators that Python counts.
    ch.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&ch)
}

/// Python's `text.strip()`.
pub(super) fn py_strip(text: &str) -> &str {
    text.trim_matches(is_py_space)
}

/// Python's `text.rstrip()`.
pub(super) fn py_rstrip(text: &str) -> &str {
    text.trim_end_matches(is_py_space)
}

/// ConfigParser's boolean words (`getboolean`): `1/yes/true/on` and `0/no/false/off`, in
/// any case, with no surrounding whitespace allowed.
pub(super) fn parse_bool(text: &str) -> Option<bool> {
    const TRUE: [&str; 4] = ["1", "yes", "true", "on"];
    const FALSE: [&str; 4] = ["0", "no", "false", "off"];
    if TRUE.iter().any(|word| word.eq_ignore_ascii_case(text)) {
        Some(true)
    } else if FALSE.iter().any(|word| word.eq_ignore_ascii_case(text)) {
        Some(false)
    } else {
        None
    }
}

/// Python's `int(text)` for base 10, limited to 64 bits: surrounding whitespace, an
/// optional sign, and digits with single underscores between them.
pub(super) fn parse_int(text: &str) -> Option<i64> {
    let text = py_strip(text);
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty()
        || !digits.bytes().all(|b| b.is_ascii_digit() || b == b'_')
        || !underscores_between_digits(digits)
    {
        return None;
    }
    if digits.contains('_') {
        let cleaned: String = text.chars().filter(|ch| *ch != '_').collect();
        cleaned.parse().ok()
    } else {
        text.parse().ok()
    }
}

/// Python's `float(text)`: surrounding whitespace, underscores between digits, `inf`,
/// `infinity` and `nan` in any case with an optional sign.
pub(super) fn parse_float(text: &str) -> Option<f64> {
    let text = py_strip(text);
    // Rust's grammar is otherwise the same as Python's for decimal floats, so only the
    // underscores need handling here.
    if text.contains('_') {
        if !underscores_between_digits(text) {
            return None;
        }
        let cleaned: String = text.chars().filter(|ch| *ch != '_').collect();
        cleaned.parse().ok()
    } else {
        text.parse().ok()
    }
}

/// Whether every `_` in `text` has an ASCII digit on both sides (PEP 515).
fn underscores_between_digits(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.iter().enumerate().all(|(idx, byte)| {
        *byte != b'_'
            || (idx > 0
                && bytes[idx - 1].is_ascii_digit()
                && bytes.get(idx + 1).is_some_and(|next| next.is_ascii_digit()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_matches_python_isspace() {
        for ch in ['\t', '\n', '\u{b}', '\u{c}', '\r', '\u{1c}', '\u{1f}', ' ', '\u{85}', '\u{a0}', '\u{3000}'] {
            assert!(is_py_space(ch), "{ch:?}");
        }
        for ch in ['a', '\u{0}', '\u{1b}', '\u{200b}', '\u{feff}'] {
            assert!(!is_py_space(ch), "{ch:?}");
        }
        assert_eq!(py_strip("\u{1c} a b \u{c}"), "a b");
        assert_eq!(py_rstrip(" a\n\n"), " a");
    }

    #[test]
    fn booleans_are_configparser_words() {
        for word in ["1", "yes", "YES", "true", "True", "on", "On"] {
            assert_eq!(parse_bool(word), Some(true), "{word}");
        }
        for word in ["0", "no", "No", "false", "FALSE", "off"] {
            assert_eq!(parse_bool(word), Some(false), "{word}");
        }
        for word in ["", "maybe", " yes", "t", "y", "2", "truee"] {
            assert_eq!(parse_bool(word), None, "{word}");
        }
    }

    #[test]
    fn ints_follow_python_int() {
        assert_eq!(parse_int("42"), Some(42));
        assert_eq!(parse_int(" -7 "), Some(-7));
        assert_eq!(parse_int("+1_000"), Some(1000));
        assert_eq!(parse_int("007"), Some(7));
        assert_eq!(parse_int("9223372036854775807"), Some(i64::MAX));
        for bad in ["", "+", "1.5", "1_", "_1", "1__0", "0x10", "1e3", "12a", "9223372036854775808", "- 1"] {
            assert_eq!(parse_int(bad), None, "{bad}");
        }
    }

    #[test]
    fn floats_follow_python_float() {
        assert_eq!(parse_float("1.5"), Some(1.5));
        assert_eq!(parse_float(" 1e3 "), Some(1000.0));
        assert_eq!(parse_float("1_0.5"), Some(10.5));
        assert_eq!(parse_float(".5"), Some(0.5));
        assert_eq!(parse_float("5."), Some(5.0));
        assert_eq!(parse_float("-Infinity"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_float("inf"), Some(f64::INFINITY));
        assert!(parse_float("NaN").is_some_and(f64::is_nan));
        for bad in ["", ".", "1_.5", "_1", "1e", "abc", "0x10", "1.5f"] {
            assert_eq!(parse_float(bad), None, "{bad}");
        }
    }
}
