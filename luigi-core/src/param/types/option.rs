//! Optional parameters: [`Option<T>`] plays every `Optional*Parameter` of Luigi.
//!
//! The empty string is `None` both ways, the implicit default is `None`, and everything else
//! (parsing, options, normalization, command-line kind, description) is the inner type's.
//! As in Luigi's `OptionalParameterMixin`, `None` is never validated (so it passes
//! `choices` and bounds) and optional values are not enumerable.

use crate::param::{CliKind, ParamOptions, ParamValue, ParseError};

impl<T: ParamValue> ParamValue for Option<T> {
    const TYPE_NAME: &'static str = T::TYPE_NAME;

    fn parse(text: &str, options: &ParamOptions) -> Result<Self, ParseError> {
        if text.is_empty() { Ok(None) } else { T::parse(text, options).map(Some) }
    }

    fn parse_toml(value: &toml::Value, options: &ParamOptions) -> Result<Self, ParseError> {
        match value {
            toml::Value::String(text) if text.is_empty() => Ok(None),
            other => T::parse_toml(other, options).map(Some),
        }
    }

    fn serialize(&self) -> String {
        self.as_ref().map(T::serialize).unwrap_or_default()
    }

    fn normalize(self, options: &ParamOptions) -> Result<Self, ParseError> {
        self.map(|value| value.normalize(options)).transpose()
    }

    fn implicit_default() -> Option<Self> {
        Some(None)
    }

    fn cli_kind(options: &ParamOptions) -> CliKind {
        T::cli_kind(options)
    }

    fn describe_options(options: &ParamOptions) -> Option<String> {
        T::describe_options(options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn empty_is_none_and_none_is_not_validated() {
        let options = ParamOptions { choices: Some(&["1", "2"]), ..ParamOptions::DEFAULT };
        assert_eq!(Option::<i64>::parse("", &options), Ok(None));
        assert_eq!(Option::<i64>::parse("2", &options), Ok(Some(2)));
        assert_eq!(None::<i64>.normalize(&options), Ok(None));
        assert!(Some(3i64).normalize(&options).is_err());
        assert_eq!(None::<NaiveDate>.serialize(), "");
        assert_eq!(Option::<bool>::implicit_default(), Some(None));
        assert_eq!(Option::<bool>::cli_kind(&ParamOptions::DEFAULT), CliKind::Flag);
        assert_eq!(Some(5i64).next_in_enumeration(&ParamOptions::DEFAULT), None);
        assert_eq!(Option::<i64>::parse_toml(&toml::Value::String(String::new()), &options), Ok(None));
        assert_eq!(Option::<i64>::parse_toml(&toml::Value::Integer(1), &options), Ok(Some(1)));
    }
}
