//! JSON-shaped parameters: Luigi's `ListParameter` ([`Vec<T>`]), `TupleParameter` (Rust
//! tuples), `DictParameter` ([`serde_json::Map`], [`IndexMap<String, T>`]) and any JSON value
//! ([`serde_json::Value`], [`Json<T>`]).
//!
//! All of them serialize as Python's `json.dumps(value)` with the default `", "` and `": "`
//! separators, insertion order and ASCII escaping ([`pyjson::dumps`]), which is the text Luigi
//! hashes into task ids. Parsing reads Python's JSON, or for tuples Python's literal syntax
//! too (`((1, 2), (3, 4))`), through `pyparse`, applying Luigi's coercions (`list()` of a dict
//! is its keys, of a string its characters), then converts the JSON to the Rust type with
//! serde.
//!
//! The Rust type decides what the value can be, so the text can change shape where Python's
//! untyped value would not: a `Vec<f64>` writes `[1]` as `[1.0]`. Use [`serde_json::Value`]
//! elements to keep any JSON exactly. Values a `serde_json::Value` cannot hold — integers
//! beyond 64 bits, NaN and infinities — are rejected when parsed, and `normalize` rejects
//! values whose `Serialize` implementation fails (such as maps with non-string keys), so that
//! `serialize` never meets one.
//!
//! In `luigi.toml`, arrays and tables are taken as they are (Luigi hands the native value to
//! `DictParameter`); a TOML string is parsed like a command-line value.

use std::fmt;
use std::ops::{Deref, DerefMut};

use indexmap::IndexMap;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::param::{ParamOptions, ParamValue, ParseError};
use crate::pyjson::{self, Separators};

use super::check_choices;
use super::pyparse::{luigi_list, luigi_tuple, parse_json, python_type};

/// The text of a JSON value as Luigi writes parameter values.
fn dumps(value: &Value) -> String {
    pyjson::dumps(value, Separators::Default, false)
}

/// A Rust value as JSON; `Null` if its `Serialize` fails, which `normalize` rules out.
fn to_json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// Rejects values whose `Serialize` implementation fails, then checks choices.
fn checked<T: Serialize + ParamValue>(value: T, options: &ParamOptions) -> Result<T, ParseError> {
    serde_json::to_value(&value)
        .map_err(|err| ParseError::new(format!("the value cannot be written as JSON: {err}")))?;
    check_choices(&value, options)?;
    Ok(value)
}

/// Converts parsed JSON to the parameter's Rust type.
fn from_json<T: DeserializeOwned>(value: Value, what: &str) -> Result<T, ParseError> {
    let shown = dumps(&value);
    serde_json::from_value(value)
        .map_err(|err| ParseError::new(format!("{what} {shown} does not fit the parameter's type: {err}")))
}

/// A native TOML value as JSON, keeping table order.
fn toml_to_json(value: &toml::Value) -> Result<Value, ParseError> {
    Ok(match value {
        toml::Value::String(text) => Value::String(text.clone()),
        toml::Value::Integer(int) => Value::Number((*int).into()),
        toml::Value::Float(float) => serde_json::Number::from_f64(*float)
            .map(Value::Number)
            .ok_or_else(|| ParseError::new(format!("the TOML float {float} cannot be held by a JSON parameter")))?,
        toml::Value::Boolean(flag) => Value::Bool(*flag),
        toml::Value::Datetime(datetime) => Value::String(datetime.to_string()),
        toml::Value::Array(items) => Value::Array(items.iter().map(toml_to_json).collect::<Result<_, _>>()?),
        toml::Value::Table(table) => Value::Object(
            table
                .iter()
                .map(|(key, item)| Ok((key.clone(), toml_to_json(item)?)))
                .collect::<Result<_, ParseError>>()?,
        ),
    })
}

/// The items of a TOML array (or the keys of a table, as Python's `list()` gives).
fn toml_items(value: &toml::Value) -> Result<Vec<Value>, ParseError> {
    match toml_to_json(value)? {
        Value::Array(items) => Ok(items),
        Value::Object(map) => Ok(map.into_iter().map(|(key, _)| Value::String(key)).collect()),
        other => Err(ParseError::new(format!("expected a TOML array, got a {}", python_type(&other)))),
    }
}

fn expect_object(value: Value) -> Result<Map<String, Value>, ParseError> {
    match value {
        Value::Object(map) => Ok(map),
        other => {
            Err(ParseError::new(format!("expected a JSON object, got a {}: {}", python_type(&other), dumps(&other))))
        }
    }
}

fn list_from_items<T: DeserializeOwned>(items: Vec<Value>) -> Result<Vec<T>, ParseError> {
    items.into_iter().enumerate().map(|(idx, item)| from_json(item, &format!("list item {idx},"))).collect()
}

impl<T> ParamValue for Vec<T>
where
    T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
{
    const TYPE_NAME: &'static str = "list";

    fn parse(text: &str, _options: &ParamOptions) -> Result<Self, ParseError> {
        list_from_items(luigi_list(text)?)
    }

    fn parse_toml(value: &toml::Value, options: &ParamOptions) -> Result<Self, ParseError> {
        match value {
            toml::Value::String(text) => Self::parse(text, options),
            other => list_from_items(toml_items(other)?),
        }
    }

    fn serialize(&self) -> String {
        dumps(&to_json(self))
    }

    fn normalize(self, options: &ParamOptions) -> Result<Self, ParseError> {
        checked(self, options)
    }
}

macro_rules! tuple_param {
    ($(($($name:ident),+)),* $(,)?) => {$(
        impl<$($name),+> ParamValue for ($($name,)+)
        where
            $($name: Serialize + DeserializeOwned + Clone + Send + Sync + 'static),+
        {
            const TYPE_NAME: &'static str = "tuple";

            fn parse(text: &str, _options: &ParamOptions) -> Result<Self, ParseError> {
                from_json(Value::Array(luigi_tuple(text)?), "the tuple")
            }

            fn parse_toml(value: &toml::Value, options: &ParamOptions) -> Result<Self, ParseError> {
                match value {
                    toml::Value::String(text) => Self::parse(text, options),
                    other => from_json(Value::Array(toml_items(other)?), "the tuple"),
                }
            }

            fn serialize(&self) -> String {
                dumps(&to_json(self))
            }

            fn normalize(self, options: &ParamOptions) -> Result<Self, ParseError> {
                checked(self, options)
            }
        }
    )*};
}

tuple_param!((A), (A, B), (A, B, C), (A, B, C, D), (A, B, C, D, E), (A, B, C, D, E, F));

impl ParamValue for Value {
    const TYPE_NAME: &'static str = "json";

    fn parse(text: &str, _options: &ParamOptions) -> Result<Self, ParseError> {
        parse_json(text)
    }

    fn parse_toml(value: &toml::Value, options: &ParamOptions) -> Result<Self, ParseError> {
        match value {
            toml::Value::String(text) => Self::parse(text, options),
            other => toml_to_json(other),
        }
    }

    fn serialize(&self) -> String {
        dumps(self)
    }
}

impl ParamValue for Map<String, Value> {
    const TYPE_NAME: &'static str = "dict";

    fn parse(text: &str, _options: &ParamOptions) -> Result<Self, ParseError> {
        expect_object(parse_json(text)?)
    }

    fn parse_toml(value: &toml::Value, options: &ParamOptions) -> Result<Self, ParseError> {
        match value {
            toml::Value::String(text) => Self::parse(text, options),
            other => expect_object(toml_to_json(other)?),
        }
    }

    fn serialize(&self) -> String {
        let mut out = String::new();
        // Written directly rather than through a cloned `Value`: dict parameters can be large.
        out.push('{');
        for (idx, (key, value)) in self.iter().enumerate() {
            if idx > 0 {
                out.push_str(", ");
            }
            pyjson::write_str(&mut out, key);
            out.push_str(": ");
            out.push_str(&dumps(value));
        }
        out.push('}');
        out
    }
}

fn index_map_from<T: DeserializeOwned>(map: Map<String, Value>) -> Result<IndexMap<String, T>, ParseError> {
    map.into_iter()
        .map(|(key, value)| {
            let converted = from_json(value, &format!("the value of {key:?},"))?;
            Ok((key, converted))
        })
        .collect()
}

impl<T> ParamValue for IndexMap<String, T>
where
    T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
{
    const TYPE_NAME: &'static str = "dict";

    fn parse(text: &str, _options: &ParamOptions) -> Result<Self, ParseError> {
        index_map_from(expect_object(parse_json(text)?)?)
    }

    fn parse_toml(value: &toml::Value, options: &ParamOptions) -> Result<Self, ParseError> {
        match value {
            toml::Value::String(text) => Self::parse(text, options),
            other => index_map_from(expect_object(toml_to_json(other)?)?),
        }
    }

    fn serialize(&self) -> String {
        let mut out = String::new();
        out.push('{');
        for (idx, (key, value)) in self.iter().enumerate() {
            if idx > 0 {
                out.push_str(", ");
            }
            pyjson::write_str(&mut out, key);
            out.push_str(": ");
            out.push_str(&dumps(&to_json(value)));
        }
        out.push('}');
        out
    }

    fn normalize(self, options: &ParamOptions) -> Result<Self, ParseError> {
        for value in self.values() {
            serde_json::to_value(value)
                .map_err(|err| ParseError::new(format!("the value cannot be written as JSON: {err}")))?;
        }
        check_choices(&self, options)?;
        Ok(self)
    }
}

/// Any serde type as a JSON parameter: parsed with Python's `json.loads` rules and written
/// with `json.dumps`, like Luigi's `DictParameter` holding arbitrary JSON.
///
/// ```
/// use luigi_core::param::{Json, ParamOptions, ParamValue};
///
/// #[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
/// struct Window {
///     start: u32,
///     end: u32,
/// }
///
/// let window = Json::<Window>::parse(r#"{"start": 1, "end": 5}"#, &ParamOptions::DEFAULT).unwrap();
/// assert_eq!(window.end, 5);
/// assert_eq!(window.serialize(), r#"{"start": 1, "end": 5}"#);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    /// The wrapped value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Json<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for Json<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T> From<T> for Json<T> {
    fn from(value: T) -> Json<T> {
        Json(value)
    }
}

impl<T: Serialize> fmt::Display for Json<T> {
    /// The parameter's string form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&dumps(&to_json(&self.0)))
    }
}

impl<T> ParamValue for Json<T>
where
    T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
{
    const TYPE_NAME: &'static str = "json";

    fn parse(text: &str, _options: &ParamOptions) -> Result<Self, ParseError> {
        from_json(parse_json(text)?, "the JSON value").map(Json)
    }

    fn parse_toml(value: &toml::Value, options: &ParamOptions) -> Result<Self, ParseError> {
        match value {
            toml::Value::String(text) => Self::parse(text, options),
            other => from_json(toml_to_json(other)?, "the TOML value").map(Json),
        }
    }

    fn serialize(&self) -> String {
        dumps(&to_json(&self.0))
    }

    fn normalize(self, options: &ParamOptions) -> Result<Self, ParseError> {
        serde_json::to_value(&self.0)
            .map_err(|err| ParseError::new(format!("the value cannot be written as JSON: {err}")))?;
        check_choices(&self, options)?;
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn opts() -> ParamOptions {
        ParamOptions::DEFAULT
    }

    /// `ParamValue::serialize`, which `serde::Serialize::serialize` would shadow here.
    fn ser<T: ParamValue>(value: &T) -> String {
        ParamValue::serialize(value)
    }

    #[test]
    fn lists_and_dicts_write_like_json_dumps() {
        let list = Vec::<Value>::parse(r#"[1,"x",{"k":"v"},"é😀"]"#, &opts()).unwrap();
        assert_eq!(ser(&list), r#"[1, "x", {"k": "v"}, "\u00e9\ud83d\ude00"]"#);
        let floats = Vec::<f64>::parse("[1, 1e16, 2.5e-7]", &opts()).unwrap();
        assert_eq!(ser(&floats), "[1.0, 1e+16, 2.5e-07]");
        let dict = Map::<String, Value>::parse(r#"{"b": 1, "a": [1, 2]}"#, &opts()).unwrap();
        assert_eq!(ser(&dict), r#"{"b": 1, "a": [1, 2]}"#);
        let typed = IndexMap::<String, Vec<i64>>::parse(r#"{"z": [1], "a": []}"#, &opts()).unwrap();
        assert_eq!(ser(&typed), r#"{"z": [1], "a": []}"#);
        assert!(Map::<String, Value>::parse("[1]", &opts()).unwrap_err().message().contains("list"));
        assert!(Vec::<i64>::parse(r#"[1, "x"]"#, &opts()).unwrap_err().message().contains("list item 1"));
        assert_eq!(ser(&Value::parse(" 5 ", &opts()).unwrap()), "5");
    }

    #[test]
    fn tuples_take_json_or_python_literals() {
        let nested = <((i64, i64), (i64, i64))>::parse("((1,2),(3,4))", &opts()).unwrap();
        assert_eq!(nested, ((1, 2), (3, 4)));
        assert_eq!(ser(&nested), "[[1, 2], [3, 4]]");
        let mixed = <(i64, String)>::parse("(1, 'a')", &opts()).unwrap();
        assert_eq!(ser(&mixed), r#"[1, "a"]"#);
        let json = <(Option<bool>, Option<i64>)>::parse("(True, None)", &opts()).unwrap();
        assert_eq!(ser(&json), "[true, null]");
        assert!(<(i64, i64)>::parse("(1, 2, 3)", &opts()).is_err());
        assert_eq!(<(String,)>::parse("'abc'", &opts()).unwrap_err().message(), "Parsed result cannot be a string");
    }

    #[test]
    fn toml_values_are_taken_as_they_are() {
        let table: toml::Table = toml::from_str("d = { b = 1, a = [1, 2.5] }\nl = [1, 2]\ns = '[3]'").unwrap();
        assert_eq!(ser(&Map::<String, Value>::parse_toml(&table["d"], &opts()).unwrap()), r#"{"b": 1, "a": [1, 2.5]}"#);
        assert_eq!(Vec::<i64>::parse_toml(&table["l"], &opts()), Ok(vec![1, 2]));
        assert_eq!(Vec::<i64>::parse_toml(&table["s"], &opts()), Ok(vec![3]));
        assert_eq!(<(i64, i64)>::parse_toml(&table["l"], &opts()), Ok((1, 2)));
    }

    #[test]
    fn unserializable_values_fail_in_normalize() {
        let mut bad = HashMap::new();
        bad.insert((1, 2), 3);
        assert!(Json(bad).normalize(&opts()).is_err());
        let json = Json(vec![1u8, 2]);
        assert_eq!(json.to_string(), "[1, 2]");
        assert_eq!(json.clone().normalize(&opts()), Ok(json));
    }
}
