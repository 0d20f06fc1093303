//! The `luigi.cfg` syntax: a parser with the semantics of Python's `configparser` as Luigi
//! configures it, and the two interpolations Luigi applies when a value is read.
//!
//! [`parse`] reads one file into the merged [`Data`] of all files read so far, exactly as
//! `ConfigParser.read` does with Luigi's settings: `[section]` headers and option names are
//! case-sensitive (`optionxform = str`), `=` or `:` (whichever comes first) separates name
//! and value, only whole-line `#`/`;` comments exist (a `;` or `#` after a value is part of
//! the value), deeper-indented lines continue the previous value (joined with `\n`, blank
//! lines inside a value kept, trailing ones dropped), and `strict` mode rejects a section or
//! an option repeated within one file while later files override earlier ones option by
//! option. Errors name the file and line.
//!
//! [`interpolate`] is Luigi's `CombinedInterpolation`: `configparser.BasicInterpolation`
//! (`%(name)s` from the same section or `[DEFAULT]`, `%%` for `%`, at most 10 levels deep)
//! followed by `${VAR}` environment interpolation. Interpolation happens when a value is
//! read, not when the file is parsed, because that is when Python does it: a broken `%` in
//! an option nobody reads is not an error.
//!
//! Deliberately absent: the parts of `configparser` Luigi does not use (custom delimiters,
//! inline comments, `allow_no_value`, `ExtendedInterpolation`).

use std::collections::HashSet;
use std::path::Path;

use indexmap::IndexMap;

use super::convert::{is_py_space, py_rstrip, py_strip};
use super::{DEFAULT_SECTION, Data, Error, Options, Value};

/// configparser's `MAX_INTERPOLATION_DEPTH`.
const MAX_INTERPOLATION_DEPTH: usize = 10;

/// Which section the lines being read belong to.
#[derive(Clone, Copy)]
enum Cursor {
    /// `[DEFAULT]`.
    Defaults,
    /// A named section, by its index in [`Data::sections`].
    Named(usize),
}

/// The option whose value is being read, with its lines so far.
struct Pending {
    cursor: Cursor,
    name: String,
    lines: Vec<String>,
}

impl Pending {
    /// Stores the finished value, joined as configparser's `_join_multiline_values` does.
    fn store(self, data: &mut Data) {
        let mut value = self.lines.join("\n");
        value.truncate(py_rstrip(&value).len());
        section_mut(data, self.cursor).insert(self.name, Value::Str(value));
    }
}

fn section_mut(data: &mut Data, cursor: Cursor) -> &mut Options {
    match cursor {
        Cursor::Defaults => &mut data.defaults,
        // The index came from `insert_full`/`get_index_of` on this same map, which only
        // grows while a file is read.
        Cursor::Named(idx) => &mut data.sections[idx],
    }
}

fn section_name(data: &Data, cursor: Cursor) -> &str {
    match cursor {
        Cursor::Defaults => DEFAULT_SECTION,
        Cursor::Named(idx) => data.sections.get_index(idx).map_or("", |(name, _)| name.as_str()),
    }
}

/// Reads one cfg file's text into `data`, on top of what earlier files put there.
///
/// `path` is only used in error messages. On error `data` may hold part of the file; callers
/// parse into a copy when they need all-or-nothing.
pub(super) fn parse(text: &str, path: &Path, data: &mut Data) -> Result<(), Error> {
    // Python would reject a UTF-8 byte order mark as text before the first section;
    // editors on Windows add one silently, so it is skipped instead.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut cursor: Option<Cursor> = None;
    let mut pending: Option<Pending> = None;
    let mut sections_seen: HashSet<String> = HashSet::new();
    let mut options_seen: HashSet<(Option<usize>, String)> = HashSet::new();
    let mut indent_level = 0usize;
    let mut bad_lines: Vec<(usize, String)> = Vec::new();

    for (idx, line) in lines(text).enumerate() {
        let lineno = idx + 1;
        let value = py_strip(line);
        let is_comment = value.starts_with('#') || value.starts_with(';');
        if value.is_empty() || is_comment {
            // A blank line is part of the value being read (trailing ones are dropped when
            // the value is stored); a comment line is skipped without ending the value.
            if !is_comment && let Some(pending) = pending.as_mut() {
                pending.lines.push(String::new());
            }
            continue;
        }
        let indent = line.chars().take_while(|ch| is_py_space(*ch)).count();
        if cursor.is_some()
            && indent > indent_level
            && let Some(pending) = pending.as_mut()
        {
            pending.lines.push(value.to_owned());
            continue;
        }
        indent_level = indent;

        if let Some(header) = section_header(value) {
            if let Some(done) = pending.take() {
                done.store(data);
            }
            if header == DEFAULT_SECTION {
                cursor = Some(Cursor::Defaults);
            } else if let Some(existing) = data.sections.get_index_of(header) {
                if !sections_seen.insert(header.to_owned()) {
                    return Err(Error::DuplicateSection {
                        path: path.to_path_buf(),
                        line: lineno,
                        section: header.to_owned(),
                    });
                }
                cursor = Some(Cursor::Named(existing));
            } else {
                sections_seen.insert(header.to_owned());
                let (created, _) = data.sections.insert_full(header.to_owned(), IndexMap::new());
                cursor = Some(Cursor::Named(created));
            }
        } else if let Some(current) = cursor {
            let Some((name, first)) = split_option(value) else {
                // configparser collects these and raises one error at the end of the file;
                // the option being read stays current, so indented lines still continue it.
                bad_lines.push((lineno, line.to_owned()));
                continue;
            };
            if let Some(done) = pending.take() {
                done.store(data);
            }
            if name.is_empty() {
                bad_lines.push((lineno, line.to_owned()));
                continue;
            }
            let key = match current {
                Cursor::Defaults => None,
                Cursor::Named(idx) => Some(idx),
            };
            if !options_seen.insert((key, name.to_owned())) {
                return Err(Error::DuplicateOption {
                    path: path.to_path_buf(),
                    line: lineno,
                    section: section_name(data, current).to_owned(),
                    option: name.to_owned(),
                });
            }
            pending = Some(Pending { cursor: current, name: name.to_owned(), lines: vec![first.to_owned()] });
        } else {
            return Err(Error::MissingSectionHeader { path: path.to_path_buf(), line: lineno, text: line.to_owned() });
        }
    }
    if let Some(done) = pending.take() {
        done.store(data);
    }
    if bad_lines.is_empty() { Ok(()) } else { Err(Error::Parse { path: path.to_path_buf(), lines: bad_lines }) }
}

/// Splits text into lines as Python's universal-newline mode does: at `\n`, `\r\n` or `\r`.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        match rest.find(['\n', '\r']) {
            Some(end) => {
                let line = &rest[..end];
                let skip = if rest[end..].starts_with("\r\n") { 2 } else { 1 };
                rest = &rest[end + skip..];
                Some(line)
            }
            None => {
                let line = rest;
                rest = "";
                Some(line)
            }
        }
    })
}

/// configparser's `SECTCRE` (`\[(?P<header>.+)\]` matched at the start): the name runs to
/// the *last* `]` on the line, and anything after it is ignored.
fn section_header(value: &str) -> Option<&str> {
    let inner = value.strip_prefix('[')?;
    let end = inner.rfind(']')?;
    if end == 0 { None } else { Some(&inner[..end]) }
}

/// configparser's `OPTCRE`: the name is everything before the first `=` or `:`, both parts
/// stripped of whitespace.
fn split_option(value: &str) -> Option<(&str, &str)> {
    let delim = value.find(['=', ':'])?;
    Some((py_rstrip(&value[..delim]), py_strip(&value[delim + 1..])))
}

/// Reads `[section] option`, whose raw text is `raw`, through Luigi's two interpolations.
///
/// `lookup` finds the raw value of another option as `configparser` does: in the section
/// itself, then in `[DEFAULT]`. `env` reads an environment variable.
pub(super) fn interpolate<'v>(
    section: &str,
    option: &str,
    raw: &str,
    lookup: &dyn Fn(&str) -> Option<&'v str>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, Error> {
    let basic = if raw.contains('%') {
        let mut out = String::with_capacity(raw.len());
        basic_interpolate(section, option, raw, raw, lookup, &mut out, 1)?;
        out
    } else {
        raw.to_owned()
    };
    env_interpolate(section, option, basic, env)
}

/// configparser's `BasicInterpolation._interpolate_some`.
fn basic_interpolate<'v>(
    section: &str,
    option: &str,
    raw: &str,
    mut rest: &str,
    lookup: &dyn Fn(&str) -> Option<&'v str>,
    out: &mut String,
    depth: usize,
) -> Result<(), Error> {
    if depth > MAX_INTERPOLATION_DEPTH {
        return Err(Error::InterpolationDepth {
            section: section.to_owned(),
            option: option.to_owned(),
            raw: raw.to_owned(),
        });
    }
    while !rest.is_empty() {
        let Some(pos) = rest.find('%') else {
            out.push_str(rest);
            return Ok(());
        };
        out.push_str(&rest[..pos]);
        rest = &rest[pos..];
        match rest.as_bytes().get(1) {
            Some(b'%') => {
                out.push('%');
                rest = &rest[2..];
            }
            Some(b'(') => {
                let Some((name, after)) = reference(rest) else {
                    return Err(Error::InterpolationSyntax {
                        section: section.to_owned(),
                        option: option.to_owned(),
                        message: format!("bad interpolation variable reference {rest:?}"),
                    });
                };
                rest = after;
                let Some(value) = lookup(name) else {
                    return Err(Error::InterpolationMissingOption {
                        section: section.to_owned(),
                        option: option.to_owned(),
                        reference: name.to_owned(),
                        raw: raw.to_owned(),
                    });
                };
                if value.contains('%') {
                    basic_interpolate(section, option, raw, value, lookup, out, depth + 1)?;
                } else {
                    out.push_str(value);
                }
            }
            _ => {
                return Err(Error::InterpolationSyntax {
                    section: section.to_owned(),
                    option: option.to_owned(),
                    message: format!("'%' must be followed by '%' or '(', found: {rest:?}"),
                });
            }
        }
    }
    Ok(())
}

/// Matches `%\(([^)]+)\)s` at the start of `text`: the referenced name and the text after.
fn reference(text: &str) -> Option<(&str, &str)> {
    let body = text.strip_prefix("%(")?;
    let close = body.find(')')?;
    let after = body[close + 1..].strip_prefix('s')?;
    if close == 0 { None } else { Some((&body[..close], after)) }
}

/// Luigi's `EnvironmentInterpolation`: replaces every `${VAR}` with the variable's value.
/// Substituted text is not scanned again, and there is no escape for `$`.
fn env_interpolate(
    section: &str,
    option: &str,
    value: String,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, Error> {
    if !value.contains("${") {
        return Ok(value);
    }
    let mut out = String::with_capacity(value.len());
    let mut rest = value.as_str();
    while let Some((start, end, var)) = env_reference(rest) {
        let Some(replacement) = env(var) else {
            return Err(Error::MissingEnvVar {
                section: section.to_owned(),
                option: option.to_owned(),
                var: var.to_owned(),
                value: value.clone(),
            });
        };
        out.push_str(&rest[..start]);
        out.push_str(&replacement);
        rest = &rest[end..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The leftmost match of `\$\{([^}]+)\}` in `text`: its start, end and the variable name.
fn env_reference(text: &str) -> Option<(usize, usize, &str)> {
    let mut from = 0;
    while let Some(found) = text[from..].find("${") {
        let start = from + found;
        let body = &text[start + 2..];
        match body.find('}') {
            // `${}` is not a reference; a later `${` may still be one.
            Some(0) => from = start + 1,
            Some(close) => return Some((start, start + 2 + close + 1, &body[..close])),
            // Without a closing brace further on, no later `${` can match either.
            None => return None,
        }
    }
    None
}

/// configparser's `BasicInterpolation.before_set`: the position of the first `%` that is
/// neither `%%` nor part of `%(name)s`, if any.
pub(super) fn invalid_percent(value: &str) -> Option<usize> {
    // Python removes every `%%` first, then every reference, and reports the position in
    // what is left; doing the same keeps the reported position identical.
    let without_escapes = value.replace("%%", "");
    let mut rest = without_escapes.as_str();
    let mut left = String::with_capacity(rest.len());
    while let Some(pos) = rest.find("%(") {
        left.push_str(&rest[..pos]);
        match reference(&rest[pos..]) {
            Some((_, after)) => rest = after,
            None => {
                left.push('%');
                rest = &rest[pos + 1..];
            }
        }
    }
    left.push_str(rest);
    left.find('%').map(|byte| left[..byte].chars().count())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::path::PathBuf;

    use super::*;

    fn parsed(text: &str) -> Result<Data, Error> {
        let mut data = Data::default();
        parse(text, Path::new("t.cfg"), &mut data).map(|()| data)
    }

    fn raw(data: &Data, section: &str, option: &str) -> Option<String> {
        let options = if section == DEFAULT_SECTION { &data.defaults } else { data.sections.get(section)? };
        match options.get(option)? {
            Value::Str(text) => Some(text.clone()),
            Value::Toml(_) => None,
        }
    }

    #[test]
    fn first_delimiter_wins_and_whitespace_is_stripped() {
        let data = parsed("[S]\na:b = c\nmy key = v\nk\t=\tv v \nempty =\n").unwrap();
        assert_eq!(raw(&data, "S", "a").as_deref(), Some("b = c"));
        assert_eq!(raw(&data, "S", "my key").as_deref(), Some("v"));
        assert_eq!(raw(&data, "S", "k").as_deref(), Some("v v"));
        assert_eq!(raw(&data, "S", "empty").as_deref(), Some(""));
    }

    #[test]
    fn inline_comments_are_part_of_the_value() {
        let data = parsed("[a]\nx = 1 ; not a comment\ny: 2 # nor this\n").unwrap();
        assert_eq!(raw(&data, "a", "x").as_deref(), Some("1 ; not a comment"));
        assert_eq!(raw(&data, "a", "y").as_deref(), Some("2 # nor this"));
    }

    #[test]
    fn continuation_lines_keep_inner_blank_lines_and_skip_comments() {
        let data = parsed("[a]\nx = 1\n\n  2\n# c\n  3\n\n\n[b]\n").unwrap();
        assert_eq!(raw(&data, "a", "x").as_deref(), Some("1\n\n2\n3"));
        let data = parsed("[s]\ncont=\n  foo\n\tbar\n").unwrap();
        assert_eq!(raw(&data, "s", "cont").as_deref(), Some("\nfoo\nbar"));
    }

    #[test]
    fn indentation_is_relative_to_the_option_line() {
        let data = parsed("[s]\n  k = 1\n  j = 2\n    cont\nl = 3\n  [t]\n").unwrap();
        assert_eq!(raw(&data, "s", "k").as_deref(), Some("1"));
        assert_eq!(raw(&data, "s", "j").as_deref(), Some("2\ncont"));
        assert_eq!(raw(&data, "s", "l").as_deref(), Some("3\n[t]"));
        assert!(!data.sections.contains_key("t"));
    }

    #[test]
    fn universal_newlines() {
        let data = parsed("[s]\r\nk = 1\r\n  more\r\nj=2\rz=3\n").unwrap();
        assert_eq!(raw(&data, "s", "k").as_deref(), Some("1\nmore"));
        assert_eq!(raw(&data, "s", "j").as_deref(), Some("2"));
        assert_eq!(raw(&data, "s", "z").as_deref(), Some("3"));
    }

    #[test]
    fn section_headers_run_to_the_last_bracket() {
        let data = parsed("[ a ] trailing\nk=1\n[b]c]\nk=2\n").unwrap();
        assert_eq!(data.sections.keys().collect::<Vec<_>>(), [" a ", "b]c"]);
        let err = parsed("[a]\n[]\n").unwrap_err();
        assert_eq!(err, Error::Parse { path: PathBuf::from("t.cfg"), lines: vec![(2, "[]".into())] });
    }

    #[test]
    fn names_are_case_sensitive_and_default_is_special() {
        let data = parsed("[DEFAULT]\nx=1\n[DEFAULT]\ny=2\n[default]\nX=3\n").unwrap();
        assert_eq!(raw(&data, DEFAULT_SECTION, "x").as_deref(), Some("1"));
        assert_eq!(raw(&data, DEFAULT_SECTION, "y").as_deref(), Some("2"));
        assert_eq!(raw(&data, "default", "X").as_deref(), Some("3"));
        assert_eq!(raw(&data, "default", "x"), None);
    }

    #[test]
    fn structural_errors_name_the_line() {
        let path = PathBuf::from("t.cfg");
        assert_eq!(
            parsed("# c\nx = 1\n[a]\n").unwrap_err(),
            Error::MissingSectionHeader { path: path.clone(), line: 2, text: "x = 1".into() }
        );
        assert_eq!(
            parsed("[a]\nx=1\n[a]\n").unwrap_err(),
            Error::DuplicateSection { path: path.clone(), line: 3, section: "a".into() }
        );
        assert_eq!(
            parsed("[a]\nx=1\nx=2\n").unwrap_err(),
            Error::DuplicateOption { path: path.clone(), line: 3, section: "a".into(), option: "x".into() }
        );
        assert_eq!(
            parsed("[DEFAULT]\nx=1\n[DEFAULT]\nx=2\n").unwrap_err(),
            Error::DuplicateOption { path: path.clone(), line: 4, section: "DEFAULT".into(), option: "x".into() }
        );
        assert_eq!(
            parsed("[a]\nbare\nok = 1\n= 3\n").unwrap_err(),
            Error::Parse { path, lines: vec![(2, "bare".into()), (4, "= 3".into())] }
        );
    }

    #[test]
    fn later_files_override_option_by_option() {
        let mut data = Data::default();
        parse("[a]\nx=1\ny=2\n", Path::new("one.cfg"), &mut data).unwrap();
        parse("[a]\ny=3\nz=4\n", Path::new("two.cfg"), &mut data).unwrap();
        let keys: Vec<_> = data.sections["a"].keys().collect();
        assert_eq!(keys, ["x", "y", "z"]);
        assert_eq!(raw(&data, "a", "y").as_deref(), Some("3"));
    }

    #[test]
    fn byte_order_mark_is_skipped() {
        let data = parsed("\u{feff}[s]\nk=1\n").unwrap();
        assert_eq!(raw(&data, "s", "k").as_deref(), Some("1"));
    }

    fn interp(raw_value: &str, options: &[(&str, &str)], env: &[(&str, &str)]) -> Result<String, Error> {
        let options: HashMap<&str, &str> = options.iter().copied().collect();
        let env: HashMap<String, String> = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        interpolate("s", "o", raw_value, &|name| options.get(name).copied(), &|var| env.get(var).cloned())
    }

    #[test]
    fn basic_interpolation() {
        assert_eq!(interp("%(a)s/%(b)s", &[("a", "x"), ("b", "%(a)s%%")], &[]).unwrap(), "x/x%");
        assert_eq!(interp("50%%", &[], &[]).unwrap(), "50%");
        assert_eq!(interp("plain", &[], &[]).unwrap(), "plain");
        assert!(matches!(interp("50%", &[], &[]), Err(Error::InterpolationSyntax { .. })));
        assert!(matches!(interp("%(bad", &[], &[]), Err(Error::InterpolationSyntax { .. })));
        assert!(matches!(interp("%()s", &[], &[]), Err(Error::InterpolationSyntax { .. })));
        assert!(matches!(interp("%(a)d", &[("a", "1")], &[]), Err(Error::InterpolationSyntax { .. })));
        assert_eq!(
            interp("%(nope)s", &[], &[]).unwrap_err(),
            Error::InterpolationMissingOption {
                section: "s".into(),
                option: "o".into(),
                reference: "nope".into(),
                raw: "%(nope)s".into()
            }
        );
        assert!(matches!(interp("%(o)s", &[("o", "%(o)s")], &[]), Err(Error::InterpolationDepth { .. })));
    }

    #[test]
    fn depth_limit_is_ten_levels() {
        // The value being read is level 1 and each referenced value holding a `%` one more,
        // so reading `v2` (as `%(v3)s` here) reaches `v11` at level 10, the last allowed.
        let chain: Vec<(String, String)> =
            (0..12).map(|idx| (format!("v{idx}"), format!("%(v{})s", idx + 1))).collect();
        let mut options: Vec<(&str, &str)> = chain.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        options.push(("v12", "end"));
        assert_eq!(interp("%(v3)s", &options, &[]).unwrap(), "end");
        assert!(matches!(interp("%(v2)s", &options, &[]), Err(Error::InterpolationDepth { .. })));
    }

    #[test]
    fn environment_interpolation_runs_after_basic() {
        let env = [("HOME", "/home/u"), ("EMPTY", "")];
        assert_eq!(interp("${HOME}/x", &[], &env).unwrap(), "/home/u/x");
        assert_eq!(interp("%(d)s/y", &[("d", "${HOME}")], &env).unwrap(), "/home/u/y");
        assert_eq!(interp("$${HOME}${EMPTY}", &[], &env).unwrap(), "$/home/u");
        assert_eq!(interp("${}${HOME", &[], &env).unwrap(), "${}${HOME");
        assert_eq!(interp("${} ${HOME}", &[], &env).unwrap(), "${} /home/u");
        assert_eq!(
            interp("a ${NOPE} %(x)s", &[("x", "1")], &env).unwrap_err(),
            Error::MissingEnvVar {
                section: "s".into(),
                option: "o".into(),
                var: "NOPE".into(),
                value: "a ${NOPE} 1".into()
            }
        );
    }

    #[test]
    fn substituted_environment_values_are_not_rescanned() {
        let env = [("A", "${B}"), ("B", "b")];
        assert_eq!(interp("${A}", &[], &env).unwrap(), "${B}");
    }

    #[test]
    fn set_validation_matches_before_set() {
        assert_eq!(invalid_percent("50%%"), None);
        assert_eq!(invalid_percent("%(a)s and %(b)s"), None);
        assert_eq!(invalid_percent("50%"), Some(2));
        assert_eq!(invalid_percent("%%x%(a)s%"), Some(1));
        assert_eq!(invalid_percent("%(a"), Some(0));
    }
}
