//! `String`: Luigi's `Parameter` / `StrParameter`, and with `choices` its `ChoiceParameter`.
//!
//! The string form is the value itself. Choices are checked by the trait's default
//! `normalize` (see [`super::check_choices`]), so nothing here overrides it.

use crate::param::{ParamOptions, ParamValue, ParseError};

impl ParamValue for String {
    const TYPE_NAME: &'static str = "str";

    fn parse(text: &str, _options: &ParamOptions) -> Result<Self, ParseError> {
        Ok(text.to_owned())
    }

    fn serialize(&self) -> String {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_verbatim_and_choices_are_checked() {
        let options = ParamOptions { choices: Some(&["a", "b"]), ..ParamOptions::DEFAULT };
        let value = String::parse(" a ", &ParamOptions::DEFAULT).unwrap();
        assert_eq!(value.serialize(), " a ");
        assert_eq!(String::parse("a", &options).unwrap().normalize(&options).unwrap(), "a");
        let err = String::parse("c", &options).unwrap().normalize(&options).unwrap_err();
        assert_eq!(err.message(), "c is not a valid choice from {'a', 'b'}");
    }
}
