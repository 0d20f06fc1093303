//! Parsers for the two syntaxes Luigi's JSON-like parameters read: Python's `json.loads` and
//! `ast.literal_eval`, both producing a [`serde_json::Value`], plus Luigi's coercions of the
//! result for `ListParameter` and `TupleParameter`.
//!
//! `serde_json`'s reader is not used because it differs from Python's where task ids can
//! see it: it turns integers beyond 64 bits into floats silently (Python keeps them exact),
//! and reports errors differently. Here such integers, `NaN`/`Infinity` and lone UTF-16
//! surrogates — which Python accepts but a `Value` or a Rust string cannot hold — are
//! rejected with a message saying so, and every other input is read exactly as Python reads
//! it, with Python's error texts for malformed JSON (`Expecting value: line 1 column 1 (char
//! 0)`).
//!
//! The literal parser covers what `ast.literal_eval` accepts and `json.dumps` can write:
//! numbers (decimal, hex, octal, binary, floats, `_` separators, one sign), strings with
//! every prefix and escape except bytes and f-strings, adjacent-string concatenation,
//! `True`/`False`/`None`, tuples, lists and dicts. Sets are rejected, since their order in
//! Python depends on hashing.

use serde_json::{Map, Number, Value};

use crate::param::ParseError;
use crate::pyjson;

// --- JSON ----------------------------------------------------------------------------------

/// Python's `json.loads(text)` (with `object_pairs_hook=FrozenOrderedDict`, so objects keep
/// their key order and a repeated key keeps its first position and last value).
pub(super) fn parse_json(text: &str) -> Result<Value, ParseError> {
    let mut parser = JsonParser { text, pos: 0 };
    parser.skip_ws();
    let value = parser.value()?;
    parser.skip_ws();
    if parser.pos != text.len() {
        return Err(parser.error("Extra data", parser.pos));
    }
    Ok(value)
}

struct JsonParser<'a> {
    text: &'a str,
    pos: usize,
}

impl JsonParser<'_> {
    /// Python's `JSONDecodeError` text: `msg: line L column C (char P)`, positions in code
    /// points.
    fn error(&self, message: &str, at: usize) -> ParseError {
        let before = &self.text[..at];
        let line = before.matches('\n').count() + 1;
        let column = match before.rfind('\n') {
            Some(newline) => before[newline + 1..].chars().count() + 1,
            None => before.chars().count() + 1,
        };
        ParseError::new(format!("{message}: line {line} column {column} (char {})", before.chars().count()))
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn value(&mut self) -> Result<Value, ParseError> {
        let rest = &self.text[self.pos..];
        match self.peek() {
            Some(b'"') => self.string().map(Value::String),
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'-' | b'0'..=b'9') if !rest.starts_with("-Infinity") => self.number(),
            _ if rest.starts_with("null") => self.word(4, Value::Null),
            _ if rest.starts_with("true") => self.word(4, Value::Bool(true)),
            _ if rest.starts_with("false") => self.word(5, Value::Bool(false)),
            _ if ["NaN", "Infinity", "-Infinity"].iter().any(|w| rest.starts_with(w)) => Err(ParseError::new(format!(
                "NaN and Infinity cannot be held by a JSON parameter (at char {})",
                self.text[..self.pos].chars().count()
            ))),
            _ => Err(self.error("Expecting value", self.pos)),
        }
    }

    fn word(&mut self, len: usize, value: Value) -> Result<Value, ParseError> {
        self.pos += len;
        Ok(value)
    }

    fn number(&mut self) -> Result<Value, ParseError> {
        let start = self.pos;
        let bytes = self.text.as_bytes();
        let digits = |pos: &mut usize| {
            let begin = *pos;
            while bytes.get(*pos).is_some_and(u8::is_ascii_digit) {
                *pos += 1;
            }
            *pos - begin
        };
        let mut pos = start;
        if bytes[pos] == b'-' {
            pos += 1;
        }
        match bytes.get(pos) {
            Some(b'0') => pos += 1,
            Some(b'1'..=b'9') => {
                digits(&mut pos);
            }
            _ => return Err(self.error("Expecting value", start)),
        }
        let mut is_float = false;
        if bytes.get(pos) == Some(&b'.') && bytes.get(pos + 1).is_some_and(u8::is_ascii_digit) {
            pos += 1;
            digits(&mut pos);
            is_float = true;
        }
        if matches!(bytes.get(pos), Some(b'e' | b'E')) {
            let mut exp = pos + 1;
            if matches!(bytes.get(exp), Some(b'+' | b'-')) {
                exp += 1;
            }
            if digits(&mut exp) > 0 {
                pos = exp;
                is_float = true;
            }
        }
        self.pos = pos;
        number_value(&self.text[start..pos], is_float)
    }

    fn string(&mut self) -> Result<String, ParseError> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(ch) = self.text[self.pos..].chars().next() else {
                return Err(self.error("Unterminated string starting at", start));
            };
            match ch {
                '"' => {
                    self.pos += 1;
                    return Ok(out);
                }
                '\\' => {
                    let escape_at = self.pos;
                    self.pos += 1;
                    let Some(kind) = self.peek() else {
                        return Err(self.error("Unterminated string starting at", start));
                    };
                    self.pos += 1;
                    match kind {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let unit = self.hex4(escape_at)?;
                            let code = if (0xd800..0xdc00).contains(&unit) && self.text[self.pos..].starts_with("\\u") {
                                let saved = self.pos;
                                self.pos += 2;
                                let low = self.hex4(self.pos - 2)?;
                                if (0xdc00..0xe000).contains(&low) {
                                    0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00)
                                } else {
                                    self.pos = saved;
                                    unit
                                }
                            } else {
                                unit
                            };
                            out.push(char::from_u32(code).ok_or_else(|| lone_surrogate(code))?);
                        }
                        _ => return Err(self.error("Invalid \\escape", escape_at)),
                    }
                }
                c if u32::from(c) < 0x20 => return Err(self.error("Invalid control character at", self.pos)),
                c => {
                    out.push(c);
                    self.pos += c.len_utf8();
                }
            }
        }
    }

    fn hex4(&mut self, escape_at: usize) -> Result<u32, ParseError> {
        let digits = self.text.get(self.pos..self.pos + 4).filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()));
        let Some(digits) = digits else { return Err(self.error("Invalid \\uXXXX escape", escape_at)) };
        self.pos += 4;
        u32::from_str_radix(digits, 16).map_err(|_| self.error("Invalid \\uXXXX escape", escape_at))
    }

    fn array(&mut self) -> Result<Value, ParseError> {
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Value::Array(items));
        }
        loop {
            self.skip_ws();
            items.push(self.value()?);
            self.skip_ws();
            match self.peek() {
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Value::Array(items));
                }
                Some(b',') => self.pos += 1,
                _ => return Err(self.error("Expecting ',' delimiter", self.pos)),
            }
        }
    }

    fn object(&mut self) -> Result<Value, ParseError> {
        self.pos += 1;
        let mut map = Map::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Value::Object(map));
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return Err(self.error("Expecting property name enclosed in double quotes", self.pos));
            }
            let key = self.string()?;
            self.skip_ws();
            if self.peek() != Some(b':') {
                return Err(self.error("Expecting ':' delimiter", self.pos));
            }
            self.pos += 1;
            self.skip_ws();
            let value = self.value()?;
            // With `preserve_order`, re-inserting a key keeps its first position, as a Python
            // dict built from the pairs does.
            map.insert(key, value);
            self.skip_ws();
            match self.peek() {
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::Object(map));
                }
                Some(b',') => self.pos += 1,
                _ => return Err(self.error("Expecting ',' delimiter", self.pos)),
            }
        }
    }
}

fn lone_surrogate(code: u32) -> ParseError {
    ParseError::new(format!("the lone UTF-16 surrogate \\u{code:04x} cannot be held by a Rust string"))
}

/// A number token as a `Value`: integers must fit 64 bits, floats must be finite.
fn number_value(token: &str, is_float: bool) -> Result<Value, ParseError> {
    if is_float {
        let value: f64 = token.parse().map_err(|_| ParseError::new(format!("invalid number {token}")))?;
        return float_value(value, token);
    }
    if let Ok(int) = token.parse::<i64>() {
        return Ok(Value::Number(int.into()));
    }
    if let Ok(uint) = token.parse::<u64>() {
        return Ok(Value::Number(uint.into()));
    }
    Err(ParseError::new(format!(
        "the integer {token} does not fit in 64 bits, which is the most a JSON parameter can hold"
    )))
}

fn float_value(value: f64, token: &str) -> Result<Value, ParseError> {
    Number::from_f64(value).map(Value::Number).ok_or_else(|| {
        ParseError::new(format!("the number {token} is out of range (Infinity cannot be held by a JSON parameter)"))
    })
}

// --- Python literals -----------------------------------------------------------------------

/// A parsed literal: its value as JSON, plus what the JSON loses that matters here.
struct Literal {
    value: Value,
    /// A bare number constant: the only operand `literal_eval` accepts after a sign.
    plain_number: bool,
    /// A set display, refused where it would be used.
    is_set: bool,
    /// For a dict, its keys with their Python types (`tuple({1: 2})` is `(1,)`, while the JSON
    /// object has the key `"1"`).
    dict_keys: Option<Vec<Value>>,
}

impl Literal {
    fn of(value: Value) -> Literal {
        Literal { value, plain_number: false, is_set: false, dict_keys: None }
    }

    fn set() -> Literal {
        Literal { is_set: true, ..Literal::of(Value::Null) }
    }
}

/// Python's `ast.literal_eval(text)`, converted to JSON as `json.dumps` would (tuples become
/// arrays; dict keys become strings).
#[cfg(test)]
pub(super) fn parse_python_literal(text: &str) -> Result<Value, ParseError> {
    parse_literal(text).map(|literal| literal.value)
}

fn parse_literal(text: &str) -> Result<Literal, ParseError> {
    let mut parser = LiteralParser { text, pos: 0 };
    parser.skip_ws();
    let literal = parser.testlist(None)?;
    parser.skip_ws();
    if parser.pos != text.len() {
        return Err(parser.syntax_error("unexpected text after the literal"));
    }
    if literal.is_set {
        return Err(set_error());
    }
    Ok(literal)
}

fn set_error() -> ParseError {
    ParseError::new("Python set literals are not supported: their order depends on hashing")
}

struct LiteralParser<'a> {
    text: &'a str,
    pos: usize,
}

impl LiteralParser<'_> {
    fn syntax_error(&self, what: &str) -> ParseError {
        ParseError::new(format!(
            "invalid Python literal {}: {what} at char {}",
            super::python_repr(self.text),
            self.text[..self.pos].chars().count()
        ))
    }

    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    /// Skips whitespace, line continuations and comments.
    fn skip_ws(&mut self) {
        loop {
            match self.peek() {
                Some(' ' | '\t' | '\n' | '\r' | '\u{c}') => self.pos += 1,
                Some('\\') if self.text[self.pos + 1..].starts_with('\n') => self.pos += 2,
                Some('#') => {
                    self.pos = self.text[self.pos..].find('\n').map_or(self.text.len(), |nl| self.pos + nl);
                }
                _ => return,
            }
        }
    }

    fn eat(&mut self, ch: char) -> bool {
        self.skip_ws();
        if self.peek() == Some(ch) {
            self.pos += ch.len_utf8();
            true
        } else {
            false
        }
    }

    /// `expr (',' expr)* [',']` up to `close` (or the end): a tuple when there is a comma.
    fn testlist(&mut self, close: Option<char>) -> Result<Literal, ParseError> {
        let first = self.expr()?;
        self.skip_ws();
        if self.peek() != Some(',') {
            return Ok(first);
        }
        let mut items = vec![self.element(first)?];
        while self.eat(',') {
            self.skip_ws();
            if self.peek().is_none() || self.peek() == close {
                break;
            }
            let next = self.expr()?;
            items.push(self.element(next)?);
        }
        Ok(Literal::of(Value::Array(items)))
    }

    /// A value that goes into a container.
    fn element(&self, literal: Literal) -> Result<Value, ParseError> {
        if literal.is_set {
            return Err(set_error());
        }
        Ok(literal.value)
    }

    /// An optionally signed atom.
    fn expr(&mut self) -> Result<Literal, ParseError> {
        self.skip_ws();
        let sign = match self.peek() {
            Some(sign @ ('+' | '-')) => {
                self.pos += 1;
                Some(sign)
            }
            _ => None,
        };
        let atom = self.atom()?;
        if atom.plain_number {
            self.skip_ws();
            if matches!(self.peek(), Some('+' | '-')) {
                // `literal_eval` accepts `a + bj` (a complex number), which JSON cannot hold; any
                // other operator is not a literal at all.
                self.pos += 1;
                self.skip_ws();
                return Err(match self.number() {
                    Err(err) if err == complex_error() => err,
                    _ => self.syntax_error("operators are not literals"),
                });
            }
        }
        let Some(sign) = sign else { return Ok(atom) };
        if !atom.plain_number {
            return Err(self.syntax_error("a sign may only precede a number"));
        }
        let value = match (sign, &atom.value) {
            ('+', _) => atom.value,
            (_, Value::Number(number)) => negate(number)?,
            _ => return Err(self.syntax_error("a sign may only precede a number")),
        };
        Ok(Literal::of(value))
    }

    fn atom(&mut self) -> Result<Literal, ParseError> {
        self.skip_ws();
        let Some(ch) = self.peek() else { return Err(self.syntax_error("unexpected end")) };
        match ch {
            '(' => {
                self.pos += 1;
                if self.eat(')') {
                    return Ok(Literal::of(Value::Array(Vec::new())));
                }
                let inner = self.testlist(Some(')'))?;
                if !self.eat(')') {
                    return Err(self.syntax_error("expected ')'"));
                }
                Ok(inner)
            }
            '[' => {
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    if self.eat(']') {
                        return Ok(Literal::of(Value::Array(items)));
                    }
                    let item = self.expr()?;
                    items.push(self.element(item)?);
                    if !self.eat(',') {
                        if self.eat(']') {
                            return Ok(Literal::of(Value::Array(items)));
                        }
                        return Err(self.syntax_error("expected ',' or ']'"));
                    }
                }
            }
            '{' => self.dict_or_set(),
            '0'..='9' | '.' => self.number(),
            _ if ch.is_alphabetic() || ch == '_' || ch == '\'' || ch == '"' => self.name_or_string(),
            _ => Err(self.syntax_error("unexpected character")),
        }
    }

    fn dict_or_set(&mut self) -> Result<Literal, ParseError> {
        self.pos += 1;
        if self.eat('}') {
            return Ok(Literal::of(Value::Object(Map::new())));
        }
        let first = self.expr()?;
        if !self.eat(':') {
            // A set display: check its syntax, then refuse it.
            while self.eat(',') {
                if self.eat('}') {
                    return Ok(Literal::set());
                }
                self.expr()?;
            }
            if !self.eat('}') {
                return Err(self.syntax_error("expected ',' or '}'"));
            }
            return Ok(Literal::set());
        }
        let mut map = Map::new();
        let mut keys = Vec::new();
        let mut key = first;
        let mut closed = false;
        loop {
            if key.is_set {
                return Err(ParseError::new("unhashable type: 'set'"));
            }
            let value = self.expr()?;
            let value = self.element(value)?;
            if !keys.contains(&key.value) {
                keys.push(key.value.clone());
            }
            map.insert(json_key(key.value)?, value);
            if !self.eat(',') {
                break;
            }
            if self.eat('}') {
                closed = true;
                break;
            }
            key = self.expr()?;
            if !self.eat(':') {
                return Err(self.syntax_error("expected ':'"));
            }
        }
        if closed || self.eat('}') {
            return Ok(Literal { dict_keys: Some(keys), ..Literal::of(Value::Object(map)) });
        }
        Err(self.syntax_error("expected ',' or '}'"))
    }

    fn number(&mut self) -> Result<Literal, ParseError> {
        let start = self.pos;
        let rest = &self.text[start..];
        let bytes = rest.as_bytes();
        // Digits with single `_` separators.
        let run = |from: usize, ok: fn(u8) -> bool| -> usize {
            let mut end = from;
            while end < bytes.len() {
                let separator = bytes[end] == b'_' && end > from && bytes.get(end + 1).copied().is_some_and(ok);
                if !(ok(bytes[end]) || separator) {
                    break;
                }
                end += 1;
            }
            end
        };
        let radix = match (bytes.first(), bytes.get(1)) {
            (Some(b'0'), Some(b'x' | b'X')) => Some((16, (|b: u8| b.is_ascii_hexdigit()) as fn(u8) -> bool)),
            (Some(b'0'), Some(b'o' | b'O')) => Some((8, (|b: u8| (b'0'..=b'7').contains(&b)) as fn(u8) -> bool)),
            (Some(b'0'), Some(b'b' | b'B')) => Some((2, (|b: u8| b == b'0' || b == b'1') as fn(u8) -> bool)),
            _ => None,
        };
        let (value, end) = if let Some((radix, ok)) = radix {
            // Python allows one `_` right after the prefix.
            let digits_from = if bytes.get(2) == Some(&b'_') { 3 } else { 2 };
            let end = run(digits_from, ok);
            if end == digits_from {
                return Err(self.syntax_error("invalid number"));
            }
            let digits: String = rest[digits_from..end].chars().filter(|c| *c != '_').collect();
            let value = u64::from_str_radix(&digits, radix).map_err(|_| too_large(&rest[..end]))?;
            (Value::Number(value.into()), end)
        } else {
            let int_end = run(0, |b| b.is_ascii_digit());
            let mut end = int_end;
            let mut is_float = false;
            if bytes.get(end) == Some(&b'.') {
                is_float = true;
                end = run(end + 1, |b| b.is_ascii_digit());
                if int_end == 0 && end == 1 {
                    return Err(self.syntax_error("invalid number"));
                }
            }
            if matches!(bytes.get(end), Some(b'e' | b'E')) {
                let mut exp = end + 1;
                if matches!(bytes.get(exp), Some(b'+' | b'-')) {
                    exp += 1;
                }
                let exp_end = run(exp, |b| b.is_ascii_digit());
                if exp_end == exp {
                    return Err(self.syntax_error("invalid number"));
                }
                end = exp_end;
                is_float = true;
            }
            let token: String = rest[..end].chars().filter(|c| *c != '_').collect();
            if matches!(bytes.get(end), Some(b'j' | b'J')) {
                return Err(complex_error());
            }
            if !is_float && token.len() > 1 && token.bytes().any(|b| b != b'0') && token.starts_with('0') {
                return Err(self.syntax_error("leading zeros in decimal integer literals are not permitted"));
            }
            (number_value(&token, is_float)?, end)
        };
        if bytes.get(end).is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'.') {
            self.pos = start + end;
            return Err(self.syntax_error("invalid number"));
        }
        self.pos = start + end;
        Ok(Literal { plain_number: true, ..Literal::of(value) })
    }

    fn name_or_string(&mut self) -> Result<Literal, ParseError> {
        let start = self.pos;
        let rest = &self.text[start..];
        let name_len = rest.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(rest.len());
        let name = &rest[..name_len];
        let quote_follows = matches!(rest[name_len..].chars().next(), Some('\'' | '"'));
        if quote_follows && name.len() <= 2 {
            let lower = name.to_ascii_lowercase();
            if ["", "r", "u"].contains(&lower.as_str()) {
                return self.strings();
            }
            if ["b", "br", "rb"].contains(&lower.as_str()) {
                // `json.dumps`'s words for what Luigi then fails on.
                return Err(ParseError::new("Object of type bytes is not JSON serializable"));
            }
            if ["f", "fr", "rf"].contains(&lower.as_str()) {
                return Err(ParseError::new("f-strings are not literals"));
            }
        }
        self.pos = start + name_len;
        let value = match name {
            "True" => Value::Bool(true),
            "False" => Value::Bool(false),
            "None" => Value::Null,
            _ => {
                self.pos = start;
                return Err(ParseError::new(format!("malformed node or string: the name {name} is not a literal")));
            }
        };
        Ok(Literal::of(value))
    }

    /// One or more adjacent string literals, concatenated.
    fn strings(&mut self) -> Result<Literal, ParseError> {
        let mut out = String::new();
        loop {
            self.string(&mut out)?;
            let saved = self.pos;
            self.skip_ws();
            let rest = &self.text[self.pos..];
            let prefix_len = rest
                .find(['\'', '"'])
                .filter(|len| *len <= 2 && ["", "r", "u"].contains(&rest[..*len].to_ascii_lowercase().as_str()));
            if prefix_len.is_none() {
                self.pos = saved;
                return Ok(Literal::of(Value::String(out)));
            }
        }
    }

    fn string(&mut self, out: &mut String) -> Result<(), ParseError> {
        let rest = &self.text[self.pos..];
        let prefix_len = rest.find(['\'', '"']).unwrap_or(0);
        let raw = rest[..prefix_len].to_ascii_lowercase().contains('r');
        self.pos += prefix_len;
        let rest = &self.text[self.pos..];
        let quote = if rest.starts_with("'''") {
            "'''"
        } else if rest.starts_with("\"\"\"") {
            "\"\"\""
        } else if rest.starts_with('\'') {
            "'"
        } else {
            "\""
        };
        self.pos += quote.len();
        loop {
            let rest = &self.text[self.pos..];
            if rest.starts_with(quote) {
                self.pos += quote.len();
                return Ok(());
            }
            let Some(ch) = rest.chars().next() else {
                return Err(self.syntax_error("unterminated string literal"));
            };
            if ch == '\n' && quote.len() == 1 {
                return Err(self.syntax_error("unterminated string literal"));
            }
            if ch != '\\' {
                out.push(ch);
                self.pos += ch.len_utf8();
                continue;
            }
            let Some(next) = rest[1..].chars().next() else {
                return Err(self.syntax_error("unterminated string literal"));
            };
            self.pos += 1 + next.len_utf8();
            if raw {
                // A raw string keeps the backslash, which only stops the quote from ending it.
                out.push('\\');
                out.push(next);
                continue;
            }
            match next {
                '\n' => {}
                '\\' | '\'' | '"' => out.push(next),
                'a' => out.push('\u{7}'),
                'b' => out.push('\u{8}'),
                'f' => out.push('\u{c}'),
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                'v' => out.push('\u{b}'),
                '0'..='7' => {
                    let mut code = next.to_digit(8).unwrap_or(0);
                    for _ in 0..2 {
                        match self.peek().and_then(|c| c.to_digit(8)) {
                            Some(digit) => {
                                code = code * 8 + digit;
                                self.pos += 1;
                            }
                            None => break,
                        }
                    }
                    out.push(char::from_u32(code).ok_or_else(|| lone_surrogate(code))?);
                }
                'x' | 'u' | 'U' => {
                    let len = match next {
                        'x' => 2,
                        'u' => 4,
                        _ => 8,
                    };
                    let code = self.hex(len)?;
                    // A surrogate pair written as two escapes is one character once encoded by
                    // `json.dumps`, so it is combined here.
                    let code = if (0xd800..0xdc00).contains(&code) && self.text[self.pos..].starts_with("\\u") {
                        let saved = self.pos;
                        self.pos += 2;
                        match self.hex(4) {
                            Ok(low) if (0xdc00..0xe000).contains(&low) => {
                                0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00)
                            }
                            _ => {
                                self.pos = saved;
                                code
                            }
                        }
                    } else {
                        code
                    };
                    out.push(char::from_u32(code).ok_or_else(|| {
                        if code > 0x10ffff {
                            self.syntax_error("illegal Unicode character")
                        } else {
                            lone_surrogate(code)
                        }
                    })?);
                }
                'N' => return Err(ParseError::new("\\N{...} escapes are not supported in tuple literals")),
                other => {
                    // Python keeps unknown escapes as written (with a warning).
                    out.push('\\');
                    out.push(other);
                }
            }
        }
    }

    fn hex(&mut self, len: usize) -> Result<u32, ParseError> {
        let digits = self.text.get(self.pos..self.pos + len).filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()));
        let Some(digits) = digits else { return Err(self.syntax_error("truncated escape")) };
        self.pos += len;
        u32::from_str_radix(digits, 16).map_err(|_| self.syntax_error("truncated escape"))
    }
}

/// `json.dumps`'s words for a complex number, which `literal_eval` reads but JSON cannot hold.
fn complex_error() -> ParseError {
    ParseError::new("Object of type complex is not JSON serializable")
}

fn too_large(token: &str) -> ParseError {
    ParseError::new(format!("the integer {token} does not fit in 64 bits, which is the most a JSON parameter can hold"))
}

fn negate(number: &Number) -> Result<Value, ParseError> {
    if let Some(negated) = number.as_i64().and_then(i64::checked_neg) {
        return Ok(Value::Number(negated.into()));
    }
    if let Some(uint) = number.as_u64() {
        // -(2^63) is the one u64 whose negation fits.
        if uint == 1 << 63 {
            return Ok(Value::Number(i64::MIN.into()));
        }
        return Err(too_large(&format!("-{uint}")));
    }
    let float = number.as_f64().unwrap_or(0.0);
    float_value(-float, &pyjson::float_repr(-float))
}

/// A dict key as `json.dumps` writes it: strings as they are, numbers, booleans and `None`
/// in their JSON spelling.
fn json_key(key: Value) -> Result<String, ParseError> {
    match key {
        Value::String(text) => Ok(text),
        Value::Number(number) => Ok(pyjson::dumps(&Value::Number(number), pyjson::Separators::Default, false)),
        Value::Bool(flag) => Ok(flag.to_string()),
        Value::Null => Ok("null".to_owned()),
        Value::Array(_) => Err(ParseError::new("keys must be str, int, float, bool or None, not tuple")),
        Value::Object(_) => Err(ParseError::new("unhashable type: 'dict'")),
    }
}

// --- Luigi's coercions ---------------------------------------------------------------------

/// Python's type name of a JSON value, for `TypeError` texts.
pub(super) fn python_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(number) if number.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

fn not_iterable(value: &Value) -> ParseError {
    ParseError::new(format!("'{}' object is not iterable", python_type(value)))
}

/// Python's `tuple(value)` / `list(value)`: a list's items, a dict's keys, a string's
/// characters; `None` for scalars (Python raises `TypeError`).
fn iterate(value: Value) -> Result<Vec<Value>, Value> {
    match value {
        Value::Array(items) => Ok(items),
        Value::Object(map) => Ok(map.into_iter().map(|(key, _)| Value::String(key)).collect()),
        Value::String(text) => Ok(text.chars().map(|ch| Value::String(ch.to_string())).collect()),
        scalar => Err(scalar),
    }
}

/// Luigi's `ListParameter.parse`: `list(json.loads(text))`.
pub(super) fn luigi_list(text: &str) -> Result<Vec<Value>, ParseError> {
    match parse_json(text)? {
        Value::Null => {
            Err(ParseError::new("the JSON null is not a list (an optional list parameter reads \"\" as None)"))
        }
        value => iterate(value).map_err(|scalar| not_iterable(&scalar)),
    }
}

/// Luigi's `TupleParameter.parse`: JSON whose items are strings or iterables (each made a
/// tuple), else `ast.literal_eval`, whose result must be an iterable other than a string.
pub(super) fn luigi_tuple(text: &str) -> Result<Vec<Value>, ParseError> {
    if let Ok(value) = parse_json(text) {
        let items = iterate(value).ok().and_then(|items| {
            items
                .into_iter()
                .map(|item| match item {
                    Value::String(_) => Some(item),
                    other => iterate(other).ok().map(Value::Array),
                })
                .collect::<Option<Vec<Value>>>()
        });
        if let Some(items) = items {
            return Ok(items);
        }
    }
    let literal = parse_literal(text)?;
    if let Some(keys) = literal.dict_keys {
        return Ok(keys);
    }
    match literal.value {
        Value::String(_) => Err(ParseError::new("Parsed result cannot be a string")),
        value => iterate(value).map_err(|scalar| not_iterable(&scalar)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dumps(value: &Value) -> String {
        pyjson::dumps(value, pyjson::Separators::Default, false)
    }

    fn json(text: &str) -> Result<String, String> {
        parse_json(text).map(|v| dumps(&v)).map_err(|e| e.message().to_owned())
    }

    fn literal(text: &str) -> Result<String, String> {
        parse_python_literal(text).map(|v| dumps(&v)).map_err(|e| e.message().to_owned())
    }

    #[test]
    fn json_reads_like_python() {
        assert_eq!(json(r#" [1, "x", {"k": "v"}] "#).as_deref(), Ok(r#"[1, "x", {"k": "v"}]"#));
        assert_eq!(json(r#"{"a":1,"a":2,"b":3}"#).as_deref(), Ok(r#"{"a": 2, "b": 3}"#));
        assert_eq!(json("[-0, -0.0, 1E5, 10.50]").as_deref(), Ok("[0, -0.0, 100000.0, 10.5]"));
        assert_eq!(json(r#""\ud83d\ude00\u00e9\/""#).as_deref(), Ok(r#""\ud83d\ude00\u00e9/""#));
        assert_eq!(json("18446744073709551615").as_deref(), Ok("18446744073709551615"));
        assert_eq!(json("x").unwrap_err(), "Expecting value: line 1 column 1 (char 0)");
        assert_eq!(json("[1,2").unwrap_err(), "Expecting ',' delimiter: line 1 column 5 (char 4)");
        assert_eq!(json("[1,]").unwrap_err(), "Expecting value: line 1 column 4 (char 3)");
        assert_eq!(json("{\"a\" 1}").unwrap_err(), "Expecting ':' delimiter: line 1 column 6 (char 5)");
        assert_eq!(
            json("{'a': 1}").unwrap_err(),
            "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"
        );
        assert_eq!(json("[1]\n x").unwrap_err(), "Extra data: line 2 column 2 (char 5)");
        assert_eq!(json("01").unwrap_err(), "Extra data: line 1 column 2 (char 1)");
        assert_eq!(json("\"a").unwrap_err(), "Unterminated string starting at: line 1 column 1 (char 0)");
        assert!(json("[NaN]").unwrap_err().contains("NaN"));
        assert!(json("[12345678901234567890123]").unwrap_err().contains("64 bits"));
        assert!(json(r#""\ud83d""#).unwrap_err().contains("surrogate"));
        assert!(json("1e400").is_err());
    }

    #[test]
    fn literals_read_like_literal_eval() {
        assert_eq!(literal("((1,2),(3,4))").as_deref(), Ok("[[1, 2], [3, 4]]"));
        assert_eq!(literal("(1, 'a')").as_deref(), Ok(r#"[1, "a"]"#));
        assert_eq!(literal("(True, None, False)").as_deref(), Ok("[true, null, false]"));
        assert_eq!(literal("1, 2").as_deref(), Ok("[1, 2]"));
        assert_eq!(literal("(1,)").as_deref(), Ok("[1]"));
        assert_eq!(literal("(1)").as_deref(), Ok("1"));
        assert_eq!(literal("()").as_deref(), Ok("[]"));
        assert_eq!(literal("(1.5, -2, +3, 1e3, -(4), .5, 5.)").as_deref(), Ok("[1.5, -2, 3, 1000.0, -4, 0.5, 5.0]"));
        assert_eq!(literal("(0x10, 0o17, 0b101, 1_000, 0_0)").as_deref(), Ok("[16, 15, 5, 1000, 0]"));
        assert_eq!(
            literal(r#"("a" 'b' r'\d', u"\x41\101\u00e9\U0001F600\ud83d\ude00\q")"#).as_deref(),
            Ok(r#"["ab\\d", "AA\u00e9\ud83d\ude00\ud83d\ude00\\q"]"#)
        );
        assert_eq!(
            literal("{'a': (1, 2), 1: None, 2.5: 1, True: 0, None: 1}").as_deref(),
            Ok(r#"{"a": [1, 2], "1": null, "2.5": 1, "true": 0, "null": 1}"#)
        );
        assert_eq!(literal("[1, [2, 3],]  # comment").as_deref(), Ok("[1, [2, 3]]"));
        assert_eq!(literal("'''x\ny'''").as_deref(), Ok(r#""x\ny""#));
        for bad in [
            "[true]", "--1", "-(1,)", "-True", "01", "{1, 2}", "(b'x',)", "1j", "(1", "'a", "x", "1 2", "f'x'",
            "1e400", "0x",
        ] {
            assert!(literal(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn luigi_coercions() {
        let tuple = |text: &str| luigi_tuple(text).map(|v| dumps(&Value::Array(v))).map_err(|e| e.message().to_owned());
        assert_eq!(tuple("[[1, 2], [3, 4]]").as_deref(), Ok("[[1, 2], [3, 4]]"));
        assert_eq!(tuple(r#"[{"a": 1}]"#).as_deref(), Ok(r#"[["a"]]"#));
        assert_eq!(tuple(r#"{"a": 1}"#).as_deref(), Ok(r#"["a"]"#));
        assert_eq!(tuple(r#""abc""#).as_deref(), Ok(r#"["a", "b", "c"]"#));
        assert_eq!(tuple("[[1], 2]").as_deref(), Ok("[[1], 2]"));
        assert_eq!(tuple("'abc'").unwrap_err(), "Parsed result cannot be a string");
        assert_eq!(tuple("5").unwrap_err(), "'int' object is not iterable");
        assert!(tuple("[true]").is_err());
        let list = |text: &str| luigi_list(text).map(|v| dumps(&Value::Array(v))).map_err(|e| e.message().to_owned());
        assert_eq!(list(r#"{"a": 1, "b": 2}"#).as_deref(), Ok(r#"["a", "b"]"#));
        assert_eq!(list(r#""ab""#).as_deref(), Ok(r#"["a", "b"]"#));
        assert_eq!(list("5").unwrap_err(), "'int' object is not iterable");
        assert!(list("null").is_err());
    }
}
