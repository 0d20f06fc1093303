//! Comma-separated lists: [`CommaList<T>`], Luigi's `EnumListParameter` (with a
//! `#[derive(ParamEnum)]` element) and `ChoiceListParameter` (with `choices`).
//!
//! The string form is the elements' own string forms joined with `,`; the empty string is
//! the empty list, and an empty item between commas is an element parsed from `""` (an error
//! for enums, as in Luigi). `choices` apply to each element: `normalize` delegates to the
//! element type, whose own `normalize` checks them.

use std::ops::{Deref, DerefMut};

use crate::param::{ParamOptions, ParamValue, ParseError};

/// A list written as comma-separated elements, `red,blue` (Luigi's `EnumListParameter` and
/// `ChoiceListParameter`).
///
/// ```
/// use luigi_core::param::{CommaList, ParamOptions, ParamValue};
///
/// let options = ParamOptions { choices: Some(&["foo", "bar"]), ..ParamOptions::DEFAULT };
/// let list = CommaList::<String>::parse("foo,bar,foo", &options).unwrap().normalize(&options).unwrap();
/// assert_eq!(list.len(), 3);
/// assert_eq!(list.serialize(), "foo,bar,foo");
/// assert!(CommaList::<String>::parse("foo,baz", &options).unwrap().normalize(&options).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct CommaList<T>(pub Vec<T>);

impl<T> CommaList<T> {
    /// The elements.
    pub fn into_inner(self) -> Vec<T> {
        self.0
    }
}

impl<T> Deref for CommaList<T> {
    type Target = Vec<T>;

    fn deref(&self) -> &Vec<T> {
        &self.0
    }
}

impl<T> DerefMut for CommaList<T> {
    fn deref_mut(&mut self) -> &mut Vec<T> {
        &mut self.0
    }
}

impl<T> From<Vec<T>> for CommaList<T> {
    fn from(items: Vec<T>) -> CommaList<T> {
        CommaList(items)
    }
}

impl<T> FromIterator<T> for CommaList<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> CommaList<T> {
        CommaList(iter.into_iter().collect())
    }
}

impl<T> IntoIterator for CommaList<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a, T> IntoIterator for &'a CommaList<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// Parses one element, with Luigi's `EnumListParameter` message for enums.
fn parse_item<T: ParamValue>(item: &str, idx: usize, options: &ParamOptions) -> Result<T, ParseError> {
    T::parse(item, options).map_err(|err| {
        if T::TYPE_NAME == "enum" {
            ParseError::new(format!("Invalid enum value \"{item}\" index {idx} - could not be parsed"))
        } else {
            err
        }
    })
}

impl<T: ParamValue> ParamValue for CommaList<T> {
    const TYPE_NAME: &'static str = "list";

    fn parse(text: &str, options: &ParamOptions) -> Result<Self, ParseError> {
        if text.is_empty() {
            return Ok(CommaList(Vec::new()));
        }
        text.split(',').enumerate().map(|(idx, item)| parse_item(item, idx, options)).collect()
    }

    /// A TOML array gives the elements directly; anything else is read as the string form.
    fn parse_toml(value: &toml::Value, options: &ParamOptions) -> Result<Self, ParseError> {
        match value {
            toml::Value::Array(items) => items.iter().map(|item| T::parse_toml(item, options)).collect(),
            other => Self::parse(&super::toml_to_param_string(other), options),
        }
    }

    fn serialize(&self) -> String {
        let mut out = String::new();
        for (idx, item) in self.0.iter().enumerate() {
            if idx > 0 {
                out.push(',');
            }
            out.push_str(&item.serialize());
        }
        out
    }

    fn normalize(self, options: &ParamOptions) -> Result<Self, ParseError> {
        self.0.into_iter().map(|item| item.normalize(options)).collect()
    }

    fn describe_options(options: &ParamOptions) -> Option<String> {
        T::describe_options(options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_string_is_the_empty_list() {
        let options = ParamOptions::DEFAULT;
        let empty = CommaList::<i64>::parse("", &options).unwrap();
        assert!(empty.is_empty());
        assert_eq!(empty.serialize(), "");
        let ints = CommaList::<i64>::parse("1,2, 3", &options).unwrap();
        assert_eq!(ints.0, vec![1, 2, 3]);
        assert_eq!(ints.serialize(), "1,2,3");
        assert!(CommaList::<i64>::parse("1,,2", &options).is_err());
        assert_eq!(CommaList::<String>::parse("a,,b", &options).unwrap().len(), 3);
    }

    #[test]
    fn choices_apply_to_each_element() {
        let options = ParamOptions { choices: Some(&["a", "b"]), ..ParamOptions::DEFAULT };
        let err = CommaList::<String>::parse("a,c", &options).unwrap().normalize(&options).unwrap_err();
        assert_eq!(err.message(), "c is not a valid choice from {'a', 'b'}");
        let ok = CommaList::<String>::parse("b,a,b", &options).unwrap().normalize(&options).unwrap();
        assert_eq!(ok.serialize(), "b,a,b");
        assert_eq!(CommaList::<String>::describe_options(&options).as_deref(), Some("Choices: {a, b}"));
    }

    #[test]
    fn toml_arrays_are_elements() {
        let table: toml::Table = toml::from_str("l = [1, 2]\ns = '3,4'").unwrap();
        let options = ParamOptions::DEFAULT;
        assert_eq!(CommaList::<i64>::parse_toml(&table["l"], &options).unwrap().0, vec![1, 2]);
        assert_eq!(CommaList::<i64>::parse_toml(&table["s"], &options).unwrap().0, vec![3, 4]);
    }
}
