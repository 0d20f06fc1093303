//! Paths: Luigi's `PathParameter`, played by [`PathBuf`].
//!
//! Luigi turns the value into a `pathlib.Path` in `normalize` and serializes it with `str()`,
//! which rewrites the text: repeated slashes collapse, `.` components and a trailing slash
//! disappear, `..` stays, the empty path becomes `.`, and exactly two leading slashes are
//! kept (POSIX leaves `//` implementation-defined, so `pathlib` preserves it). Rust's
//! `Path::components` differs on the last two points, so the rewrite is done on the text
//! here. `absolute` joins relative paths to the current directory without resolving `..`
//! (like `Path.absolute()`), and `exists` fails for a missing path with Luigi's message.
//!
//! Paths that are not valid UTF-8 are written lossily; Luigi's values are Python strings, so
//! such a path has no exact Python counterpart anyway.

use std::path::{Path, PathBuf};

use crate::param::{ParamOptions, ParamValue, ParseError};

use super::check_choices;

/// Python's `str(pathlib.PurePosixPath(text))`.
fn python_path_string(text: &str) -> String {
    let root = match text.bytes().take_while(|b| *b == b'/').count() {
        0 => "",
        2 => "//",
        _ => "/",
    };
    let mut out = String::with_capacity(text.len());
    out.push_str(root);
    let mut first = true;
    for part in text.split('/').filter(|part| !part.is_empty() && *part != ".") {
        if !first {
            out.push('/');
        }
        out.push_str(part);
        first = false;
    }
    if out.is_empty() {
        out.push('.');
    }
    out
}

fn path_string(path: &Path) -> String {
    python_path_string(&path.to_string_lossy())
}

impl ParamValue for PathBuf {
    const TYPE_NAME: &'static str = "path";

    fn parse(text: &str, _options: &ParamOptions) -> Result<Self, ParseError> {
        Ok(PathBuf::from(text))
    }

    fn serialize(&self) -> String {
        path_string(self)
    }

    /// Rewrites the path as `pathlib` would, then applies `absolute` and `exists`.
    fn normalize(self, options: &ParamOptions) -> Result<Self, ParseError> {
        let mut text = path_string(&self);
        if options.absolute && !text.starts_with('/') {
            let cwd = std::env::current_dir().map_err(|err| {
                ParseError::new(format!(
                    "cannot make the path {text} absolute: the current directory is unknown: {err}"
                ))
            })?;
            text = python_path_string(&format!("{}/{text}", cwd.to_string_lossy()));
        }
        let path = PathBuf::from(&text);
        if options.exists && !path.exists() {
            return Err(ParseError::new(format!("The path {text} does not exist.")));
        }
        check_choices(&path, options)?;
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_follow_pathlib() {
        let cases = [
            ("a//b/./c/", "a/b/c"),
            ("", "."),
            (".", "."),
            ("./", "."),
            (".//.", "."),
            ("./a", "a"),
            ("a/..", "a/.."),
            ("/..", "/.."),
            ("//a/b/", "//a/b"),
            ("//", "//"),
            ("///a", "/a"),
            ("/./a", "/a"),
            ("~/x", "~/x"),
        ];
        for (input, expected) in cases {
            assert_eq!(PathBuf::from(input).serialize(), expected, "{input:?}");
        }
    }

    #[test]
    fn absolute_and_exists() {
        let dir = tempfile::tempdir().unwrap();
        let absolute = ParamOptions { absolute: true, ..ParamOptions::DEFAULT };
        let made = PathBuf::from("x/./y").normalize(&absolute).unwrap();
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(made, PathBuf::from(python_path_string(&format!("{}/x/y", cwd.display()))));
        assert_eq!(PathBuf::from("/a//b").normalize(&absolute).unwrap(), PathBuf::from("/a/b"));
        let exists = ParamOptions { exists: true, ..ParamOptions::DEFAULT };
        assert_eq!(dir.path().to_path_buf().normalize(&exists).unwrap(), dir.path());
        let missing = dir.path().join("missing");
        let err = missing.clone().normalize(&exists).unwrap_err();
        assert_eq!(err.message(), format!("The path {} does not exist.", missing.display()));
    }
}
