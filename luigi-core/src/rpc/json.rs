//! Python-flavoured JSON for the RPC wire: a reader that accepts `Infinity`, `-Infinity` and
//! `NaN`, and a serde writer that produces the bytes Python's `json.dumps` (and Tornado) produce.
//!
//! Reading. Python's `json.dumps` writes non-finite floats as the bare tokens `Infinity`,
//! `-Infinity` and `NaN`, and a real worker sends one on every `add_task_batcher` call
//! (`"max_batch_size": Infinity`). `serde_json` rejects those tokens and cannot represent
//! non-finite numbers at all, so [`normalize`] makes one pass over the text and turns each bare
//! token *outside string literals* into the string literal of the same spelling (`"Infinity"`).
//! Wire types that may carry such a number ([`Number`](super::wire::Number)) accept those three
//! strings; a field typed as arbitrary JSON (`serde_json::Value`) sees the string. Text without
//! any such token — every request except `add_task_batcher` — is returned borrowed, uncopied.
//! Because quoting lengthens the text by two bytes per token, column numbers in parse errors
//! after a replaced token are off by that much.
//!
//! Writing. [`to_string`] is a complete serde serializer with two [`Style`]s:
//! [`Style::Python`] is `json.dumps` with its defaults (`", "` and `": "` separators, every
//! character outside printable ASCII escaped as `\uXXXX`, floats in `repr` form, non-finite
//! floats as the bare tokens); [`Style::Tornado`] additionally escapes `</` as `<\/`, which is
//! what Tornado's `write(dict)` does to every luigid reply. The client side needs the Python
//! style because Python's luigid only understands `Infinity` for an unlimited batch size
//! (`serde_json` would write `null`, which breaks `get_work` on a Python server); the server side
//! uses the Tornado style so that replies are byte-for-byte what Python luigid sends, which makes
//! captured Python traffic directly comparable with ours. Any JSON parser reads both styles.
//!
//! Object keys are written in the order the value yields them; integer and boolean keys are
//! written as strings the way Python converts them (`1` → `"1"`, `true` → `"true"`).

use std::borrow::Cow;
use std::fmt::{self, Write as _};

use serde::de::DeserializeOwned;
use serde::ser::{self, Serialize};

use crate::pyjson;

/// What went wrong reading or writing wire JSON.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The text is not JSON, or does not have the shape the target type expects.
    #[error("{0}")]
    Parse(#[from] serde_json::Error),
    /// A value cannot be written as JSON (for example a map key that is not a string or number).
    #[error("cannot write JSON: {0}")]
    Write(String),
}

impl ser::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error::Write(msg.to_string())
    }
}

/// How [`to_string`] formats its output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Style {
    /// Python's `json.dumps(value)`: `", "`/`": "` separators, ASCII-only output, floats as
    /// `repr`, non-finite floats as `Infinity`/`-Infinity`/`NaN`. What Python RPC clients send.
    #[default]
    Python,
    /// [`Style::Python`] with `</` escaped as `<\/`: what Tornado writes for luigid replies.
    Tornado,
}

/// Rewrites bare `Infinity`, `-Infinity` and `NaN` tokens outside string literals into string
/// literals (`"Infinity"`, ...), so that `serde_json` can parse Python's output. Returns the
/// input unchanged (borrowed) when it contains no such token. Malformed text is passed on as
/// it is, for the JSON parser to reject with a position.
pub fn normalize(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut idx = 0;
    while idx < bytes.len() {
        let (token, quoted): (usize, &str) = match bytes[idx] {
            b'"' => {
                idx = skip_string(bytes, idx + 1);
                continue;
            }
            b'I' if bytes[idx..].starts_with(b"Infinity") => (8, "\"Infinity\""),
            b'N' if bytes[idx..].starts_with(b"NaN") => (3, "\"NaN\""),
            b'-' if bytes[idx + 1..].starts_with(b"Infinity") => (9, "\"-Infinity\""),
            _ => {
                idx += 1;
                continue;
            }
        };
        let buf = out.get_or_insert_with(|| String::with_capacity(text.len() + 16));
        // `idx` and `copied` sit on ASCII bytes, so both are char boundaries.
        buf.push_str(&text[copied..idx]);
        buf.push_str(quoted);
        idx += token;
        copied = idx;
    }
    match out {
        None => Cow::Borrowed(text),
        Some(mut buf) => {
            buf.push_str(&text[copied..]);
            Cow::Owned(buf)
        }
    }
}

/// Returns the index just past the closing quote of the string literal whose contents start at
/// `idx`, or the end of the input for an unterminated literal.
fn skip_string(bytes: &[u8], mut idx: usize) -> usize {
    while idx < bytes.len() {
        match bytes[idx] {
            b'"' => return idx + 1,
            b'\\' => idx += 2,
            _ => idx += 1,
        }
    }
    bytes.len()
}

/// Parses Python-flavoured JSON (see [`normalize`]) into `T`.
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, Error> {
    Ok(serde_json::from_str(&normalize(text))?)
}

/// Writes `value` as JSON text in the given [`Style`].
pub fn to_string<T: Serialize + ?Sized>(value: &T, style: Style) -> Result<String, Error> {
    let mut out = String::with_capacity(128);
    value.serialize(Serializer { out: &mut out, style })?;
    Ok(out)
}

/// Writes the body of an RPC reply, `{"response": <value>}`, the way luigid (Tornado) does.
pub fn reply_body<T: Serialize + ?Sized>(value: &T) -> Result<String, Error> {
    let mut out = String::with_capacity(128);
    out.push_str("{\"response\": ");
    value.serialize(Serializer { out: &mut out, style: Style::Tornado })?;
    out.push('}');
    Ok(out)
}

/// Appends `text` as a JSON string literal in the given style.
fn write_str(out: &mut String, text: &str, style: Style) {
    out.reserve(text.len() + 2);
    out.push('"');
    let bytes = text.as_bytes();
    let mut run_start = 0;
    let mut idx = 0;
    while idx < bytes.len() {
        let byte = bytes[idx];
        let plain = (0x20..0x7f).contains(&byte)
            && byte != b'"'
            && byte != b'\\'
            && !(byte == b'/' && style == Style::Tornado && idx > 0 && bytes[idx - 1] == b'<');
        if plain {
            idx += 1;
            continue;
        }
        out.push_str(&text[run_start..idx]);
        if byte < 0x80 {
            match byte {
                b'"' => out.push_str("\\\""),
                b'\\' => out.push_str("\\\\"),
                b'/' => out.push_str("\\/"),
                b'\n' => out.push_str("\\n"),
                b'\r' => out.push_str("\\r"),
                b'\t' => out.push_str("\\t"),
                0x08 => out.push_str("\\b"),
                0x0c => out.push_str("\\f"),
                _ => push_unicode_escape(out, u16::from(byte)),
            }
            idx += 1;
        } else {
            // A multi-byte UTF-8 sequence starts here, so `idx` is a char boundary.
            let ch = text[idx..].chars().next().unwrap_or(char::REPLACEMENT_CHARACTER);
            let mut units = [0u16; 2];
            for unit in ch.encode_utf16(&mut units) {
                push_unicode_escape(out, *unit);
            }
            idx += ch.len_utf8();
        }
        run_start = idx;
    }
    out.push_str(&text[run_start..]);
    out.push('"');
}

fn push_unicode_escape(out: &mut String, unit: u16) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push_str("\\u");
    for shift in [12, 8, 4, 0] {
        out.push(char::from(HEX[usize::from((unit >> shift) & 0xf)]));
    }
}

fn write_float(out: &mut String, value: f64) {
    pyjson::write_json_float(out, value);
}

fn write_int(out: &mut String, value: impl fmt::Display) {
    // Writing to a String cannot fail.
    let _ = write!(out, "{value}");
}

/// The serde serializer behind [`to_string`] and [`reply_body`].
struct Serializer<'a> {
    out: &'a mut String,
    style: Style,
}

impl<'a> Serializer<'a> {
    fn reborrow(&mut self) -> Serializer<'_> {
        Serializer { out: &mut *self.out, style: self.style }
    }
}

/// An array or object being written; `first` tells whether a separator is due, `close` holds
/// the closing text (one extra `}` for enum variants written as `{"Variant": ...}`).
struct Compound<'a> {
    ser: Serializer<'a>,
    first: bool,
    close: &'static str,
}

impl Compound<'_> {
    fn separator(&mut self) {
        if self.first {
            self.first = false;
        } else {
            self.ser.out.push_str(", ");
        }
    }

    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.separator();
        value.serialize(self.ser.reborrow())
    }

    fn field<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result<(), Error> {
        self.separator();
        write_str(self.ser.out, key, self.ser.style);
        self.ser.out.push_str(": ");
        value.serialize(self.ser.reborrow())
    }

    fn finish(self) -> Result<(), Error> {
        self.ser.out.push_str(self.close);
        Ok(())
    }
}

impl<'a> ser::Serializer for Serializer<'a> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'a>;
    type SerializeTuple = Compound<'a>;
    type SerializeTupleStruct = Compound<'a>;
    type SerializeTupleVariant = Compound<'a>;
    type SerializeMap = Compound<'a>;
    type SerializeStruct = Compound<'a>;
    type SerializeStructVariant = Compound<'a>;

    fn serialize_bool(self, value: bool) -> Result<(), Error> {
        self.out.push_str(if value { "true" } else { "false" });
        Ok(())
    }

    fn serialize_i8(self, value: i8) -> Result<(), Error> {
        self.serialize_i64(i64::from(value))
    }

    fn serialize_i16(self, value: i16) -> Result<(), Error> {
        self.serialize_i64(i64::from(value))
    }

    fn serialize_i32(self, value: i32) -> Result<(), Error> {
        self.serialize_i64(i64::from(value))
    }

    fn serialize_i64(self, value: i64) -> Result<(), Error> {
        write_int(self.out, value);
        Ok(())
    }

    fn serialize_i128(self, value: i128) -> Result<(), Error> {
        write_int(self.out, value);
        Ok(())
    }

    fn serialize_u8(self, value: u8) -> Result<(), Error> {
        self.serialize_u64(u64::from(value))
    }

    fn serialize_u16(self, value: u16) -> Result<(), Error> {
        self.serialize_u64(u64::from(value))
    }

    fn serialize_u32(self, value: u32) -> Result<(), Error> {
        self.serialize_u64(u64::from(value))
    }

    fn serialize_u64(self, value: u64) -> Result<(), Error> {
        write_int(self.out, value);
        Ok(())
    }

    fn serialize_u128(self, value: u128) -> Result<(), Error> {
        write_int(self.out, value);
        Ok(())
    }

    fn serialize_f32(self, value: f32) -> Result<(), Error> {
        self.serialize_f64(f64::from(value))
    }

    fn serialize_f64(self, value: f64) -> Result<(), Error> {
        write_float(self.out, value);
        Ok(())
    }

    fn serialize_char(self, value: char) -> Result<(), Error> {
        let mut buf = [0u8; 4];
        self.serialize_str(value.encode_utf8(&mut buf))
    }

    fn serialize_str(self, value: &str) -> Result<(), Error> {
        write_str(self.out, value, self.style);
        Ok(())
    }

    fn serialize_bytes(self, value: &[u8]) -> Result<(), Error> {
        // Like serde_json: bytes are an array of numbers.
        let mut seq = self.serialize_seq(Some(value.len()))?;
        for byte in value {
            ser::SerializeSeq::serialize_element(&mut seq, byte)?;
        }
        ser::SerializeSeq::end(seq)
    }

    fn serialize_none(self) -> Result<(), Error> {
        self.serialize_unit()
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), Error> {
        self.out.push_str("null");
        Ok(())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        self.serialize_unit()
    }

    fn serialize_unit_variant(self, _name: &'static str, _index: u32, variant: &'static str) -> Result<(), Error> {
        self.serialize_str(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _name: &'static str, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        let Serializer { out, style } = self;
        out.push('{');
        write_str(out, variant, style);
        out.push_str(": ");
        value.serialize(Serializer { out: &mut *out, style })?;
        out.push('}');
        Ok(())
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Compound<'a>, Error> {
        self.out.push('[');
        Ok(Compound { ser: self, first: true, close: "]" })
    }

    fn serialize_tuple(self, len: usize) -> Result<Compound<'a>, Error> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<Compound<'a>, Error> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'a>, Error> {
        self.out.push('{');
        write_str(self.out, variant, self.style);
        self.out.push_str(": [");
        Ok(Compound { ser: self, first: true, close: "]}" })
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Compound<'a>, Error> {
        self.out.push('{');
        Ok(Compound { ser: self, first: true, close: "}" })
    }

    fn serialize_struct(self, _name: &'static str, len: usize) -> Result<Compound<'a>, Error> {
        self.serialize_map(Some(len))
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'a>, Error> {
        self.out.push('{');
        write_str(self.out, variant, self.style);
        self.out.push_str(": {");
        Ok(Compound { ser: self, first: true, close: "}}" })
    }
}

impl ser::SerializeSeq for Compound<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }

    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl ser::SerializeTuple for Compound<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }

    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl ser::SerializeTupleStruct for Compound<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }

    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl ser::SerializeTupleVariant for Compound<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }

    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl ser::SerializeMap for Compound<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.separator();
        key.serialize(KeySerializer { out: self.ser.out, style: self.ser.style })?;
        self.ser.out.push_str(": ");
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        value.serialize(self.ser.reborrow())
    }

    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl ser::SerializeStruct for Compound<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), Error> {
        self.field(key, value)
    }

    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl ser::SerializeStructVariant for Compound<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), Error> {
        self.field(key, value)
    }

    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

/// Writes object keys: strings as they are, numbers and booleans converted to strings the way
/// Python's `json.dumps` converts them; anything else is an error.
struct KeySerializer<'a> {
    out: &'a mut String,
    style: Style,
}

impl KeySerializer<'_> {
    fn quoted(self, text: &str) -> Result<(), Error> {
        write_str(self.out, text, self.style);
        Ok(())
    }

    fn unsupported(what: &str) -> Error {
        Error::Write(format!("a JSON object key must be a string, number or boolean, not {what}"))
    }
}

impl ser::Serializer for KeySerializer<'_> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = ser::Impossible<(), Error>;
    type SerializeTuple = ser::Impossible<(), Error>;
    type SerializeTupleStruct = ser::Impossible<(), Error>;
    type SerializeTupleVariant = ser::Impossible<(), Error>;
    type SerializeMap = ser::Impossible<(), Error>;
    type SerializeStruct = ser::Impossible<(), Error>;
    type SerializeStructVariant = ser::Impossible<(), Error>;

    fn serialize_bool(self, value: bool) -> Result<(), Error> {
        self.quoted(if value { "true" } else { "false" })
    }

    fn serialize_i8(self, value: i8) -> Result<(), Error> {
        self.quoted(&value.to_string())
    }

    fn serialize_i16(self, value: i16) -> Result<(), Error> {
        self.quoted(&value.to_string())
    }

    fn serialize_i32(self, value: i32) -> Result<(), Error> {
        self.quoted(&value.to_string())
    }

    fn serialize_i64(self, value: i64) -> Result<(), Error> {
        self.quoted(&value.to_string())
    }

    fn serialize_i128(self, value: i128) -> Result<(), Error> {
        self.quoted(&value.to_string())
    }

    fn serialize_u8(self, value: u8) -> Result<(), Error> {
        self.quoted(&value.to_string())
    }

    fn serialize_u16(self, value: u16) -> Result<(), Error> {
        self.quoted(&value.to_string())
    }

    fn serialize_u32(self, value: u32) -> Result<(), Error> {
        self.quoted(&value.to_string())
    }

    fn serialize_u64(self, value: u64) -> Result<(), Error> {
        self.quoted(&value.to_string())
    }

    fn serialize_u128(self, value: u128) -> Result<(), Error> {
        self.quoted(&value.to_string())
    }

    fn serialize_f32(self, value: f32) -> Result<(), Error> {
        self.serialize_f64(f64::from(value))
    }

    fn serialize_f64(self, value: f64) -> Result<(), Error> {
        self.quoted(&pyjson::json_float(value))
    }

    fn serialize_char(self, value: char) -> Result<(), Error> {
        let mut buf = [0u8; 4];
        self.quoted(value.encode_utf8(&mut buf))
    }

    fn serialize_str(self, value: &str) -> Result<(), Error> {
        self.quoted(value)
    }

    fn serialize_bytes(self, _value: &[u8]) -> Result<(), Error> {
        Err(Self::unsupported("bytes"))
    }

    fn serialize_none(self) -> Result<(), Error> {
        // Python writes a `None` key as "null".
        self.quoted("null")
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), Error> {
        self.quoted("null")
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        self.quoted("null")
    }

    fn serialize_unit_variant(self, _name: &'static str, _index: u32, variant: &'static str) -> Result<(), Error> {
        self.quoted(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _name: &'static str, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<(), Error> {
        Err(Self::unsupported("an enum variant with data"))
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, Error> {
        Err(Self::unsupported("a sequence"))
    }

    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, Error> {
        Err(Self::unsupported("a tuple"))
    }

    fn serialize_tuple_struct(self, _name: &'static str, _len: usize) -> Result<Self::SerializeTupleStruct, Error> {
        Err(Self::unsupported("a tuple struct"))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(Self::unsupported("an enum variant with data"))
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, Error> {
        Err(Self::unsupported("a map"))
    }

    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Self::SerializeStruct, Error> {
        Err(Self::unsupported("a struct"))
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(Self::unsupported("an enum variant with data"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn python(value: &Value) -> String {
        to_string(value, Style::Python).unwrap()
    }

    #[test]
    fn ordinary_json_is_not_copied() {
        let text = r#"{"a": [1, -2.5e3, true, null], "b": "Infinity NaN -Infinity", "c": {}}"#;
        assert!(matches!(normalize(text), Cow::Borrowed(_)));
        assert!(matches!(normalize(""), Cow::Borrowed(_)));
    }

    #[test]
    fn bare_tokens_become_strings() {
        let text = r#"{"max_batch_size": Infinity, "x": [-Infinity, NaN,Infinity], "n": -1}"#;
        assert_eq!(normalize(text), r#"{"max_batch_size": "Infinity", "x": ["-Infinity", "NaN","Infinity"], "n": -1}"#);
        assert_eq!(normalize("Infinity"), "\"Infinity\"");
        assert_eq!(normalize("-Infinity"), "\"-Infinity\"");
        assert_eq!(normalize("\n\t NaN \n"), "\n\t \"NaN\" \n");
    }

    #[test]
    fn tokens_inside_strings_are_untouched() {
        let text = r#"{"Infinity": "NaN", "k": "a \"Infinity\" b\\", "z": NaN}"#;
        assert_eq!(normalize(text), r#"{"Infinity": "NaN", "k": "a \"Infinity\" b\\", "z": "NaN"}"#);
        let nested = r#"[{"a": ["x\\\"NaN", {"b": -Infinity}]}]"#;
        assert_eq!(normalize(nested), r#"[{"a": ["x\\\"NaN", {"b": "-Infinity"}]}]"#);
        let value: Value = from_str(nested).unwrap();
        assert_eq!(value, json!([{"a": ["x\\\"NaN", {"b": "-Infinity"}]}]));
    }

    #[test]
    fn negative_numbers_are_not_tokens() {
        let value: Value = from_str("[-1, -0.5, -1e5, -Infinity]").unwrap();
        assert_eq!(value, json!([-1, -0.5, -1e5, "-Infinity"]));
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        for text in [
            "",
            "{",
            "{\"a\": }",
            "{\"a\": \"unterminated",
            "Infinit",
            "-",
            "- Infinity",
            "Infinityx",
            "NaNa",
            "{\"a\": 1,}",
            "\"\\",
            "[1, 2",
            "nul",
            "{\"é\": \u{1F600}}",
        ] {
            assert!(from_str::<Value>(text).is_err(), "{text:?} should not parse");
        }
    }

    #[test]
    fn python_style_matches_json_dumps() {
        // Expected texts from Python: json.dumps(value).
        assert_eq!(
            python(&json!({"a": [1, 2.0, "x", null, true], "b": {}})),
            r#"{"a": [1, 2.0, "x", null, true], "b": {}}"#
        );
        assert_eq!(python(&json!("é😀\u{7f}\u{1}</")), r#""\u00e9\ud83d\ude00\u007f\u0001</""#);
        assert_eq!(python(&json!([1e16, 1e-05, 0.1, -0.0, 123456789.125])), "[1e+16, 1e-05, 0.1, -0.0, 123456789.125]");
        assert_eq!(python(&json!([[], {}, ""])), r#"[[], {}, ""]"#);
        assert_eq!(
            to_string(&[f64::INFINITY, f64::NEG_INFINITY, f64::NAN], Style::Python).unwrap(),
            "[Infinity, -Infinity, NaN]"
        );
    }

    #[test]
    fn tornado_style_escapes_closing_tags() {
        let text = to_string(&json!({"x": "</script> a/b <\\/ //"}), Style::Tornado).unwrap();
        assert_eq!(text, r#"{"x": "<\/script> a/b <\\/ //"}"#);
        assert_eq!(to_string("<</", Style::Tornado).unwrap(), r#""<<\/""#);
        assert_eq!(reply_body(&json!({"a": null})).unwrap(), r#"{"response": {"a": null}}"#);
        assert_eq!(reply_body(&()).unwrap(), r#"{"response": null}"#);
    }

    #[test]
    fn keys_follow_python_conversions() {
        let mut map = std::collections::BTreeMap::new();
        map.insert(1, "one");
        assert_eq!(to_string(&map, Style::Python).unwrap(), r#"{"1": "one"}"#);
        let mut bad = std::collections::BTreeMap::new();
        bad.insert(vec![1], 2);
        assert!(matches!(to_string(&bad, Style::Python), Err(Error::Write(_))));
    }

    #[test]
    fn enums_are_written_like_serde_json() {
        #[derive(serde::Serialize)]
        enum Shape {
            Unit,
            New(u8),
            Tuple(u8, u8),
            Struct { a: u8 },
        }
        let shapes = [Shape::Unit, Shape::New(1), Shape::Tuple(1, 2), Shape::Struct { a: 3 }];
        let text = to_string(&shapes, Style::Python).unwrap();
        assert_eq!(text, r#"["Unit", {"New": 1}, {"Tuple": [1, 2]}, {"Struct": {"a": 3}}]"#);
        let expected: Value = serde_json::to_value(&shapes).unwrap();
        assert_eq!(from_str::<Value>(&text).unwrap(), expected);
    }

    #[test]
    fn round_trips_through_the_reader() {
        let value = json!({"k\"ey": ["\u{0}\u{1f}\\", 1, -2, 3.25, {"n": null}], "b": false});
        for style in [Style::Python, Style::Tornado] {
            let text = to_string(&value, style).unwrap();
            assert_eq!(from_str::<Value>(&text).unwrap(), value);
        }
    }
}
