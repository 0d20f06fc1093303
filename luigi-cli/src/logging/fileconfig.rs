//! Python's `logging.config.fileConfig` INI files (`[core] logging_conf_file`,
//! `--logging-conf-file`), the common subset, translated into a `Spec` (`spec.rs`).
//!
//! Supported: `[loggers]`/`[handlers]`/`[formatters]` `keys`; `[logger_root]` and named loggers
//! (`level`, `handlers`, `qualname`, `propagate`); handlers of class `StreamHandler` (`args`
//! `()`, `(sys.stderr,)` or `(sys.stdout,)`), `FileHandler` (`args` `('path',)` or `('path',
//! 'a'|'w')`, optionally an encoding and `delay`; or the same as `kwargs`) and `NullHandler`,
//! with `level` and `formatter`; formatters with `format`, `datefmt` and `style`. Anything else
//! (rotating handlers, filters, custom classes, arbitrary Python in `args`) is an error naming
//! the file and line, never silently ignored: a log that quietly goes nowhere is worse than a
//! run that refuses to start.
//!
//! The INI reader is our own rather than `luigi_core::config`'s, because it must keep line
//! numbers for those errors and must not interpolate `%(...)s` in format strings (Python reads
//! them raw). As in Python's `ConfigParser`, option names are case-insensitive, values may
//! continue on indented lines, and `#`/`;` start comment lines.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::format::Format;
use super::spec::{Destination, HandlerSpec, LoggerSpec, NOTSET, Spec, WARNING, parse_level};

/// A problem in a logging configuration file.
#[derive(Debug, thiserror::Error)]
#[error("{path}:{line}: {message}")]
pub struct FileConfigError {
    /// The file.
    pub path: PathBuf,
    /// The 1-based line (of the section header when the problem is a missing option).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// One option's value and where it was.
#[derive(Debug, Clone)]
struct Value {
    text: String,
    line: usize,
}

#[derive(Debug, Default)]
struct Section {
    line: usize,
    options: HashMap<String, Value>,
}

/// A parsed INI file.
struct Ini<'a> {
    path: &'a Path,
    sections: HashMap<String, Section>,
}

impl Ini<'_> {
    fn error(&self, line: usize, message: impl Into<String>) -> FileConfigError {
        FileConfigError { path: self.path.to_owned(), line, message: message.into() }
    }

    fn section(&self, name: &str, wanted_by: usize) -> Result<&Section, FileConfigError> {
        self.sections.get(name).ok_or_else(|| self.error(wanted_by, format!("section [{name}] is missing")))
    }

    /// `keys` of `[loggers]`/`[handlers]`/`[formatters]`, with the line they are on.
    fn keys(&self, name: &str) -> Vec<(String, usize)> {
        let Some(section) = self.sections.get(name) else { return Vec::new() };
        let Some(value) = section.options.get("keys") else { return Vec::new() };
        split_list(&value.text).into_iter().map(|key| (key, value.line)).collect()
    }
}

fn split_list(text: &str) -> Vec<String> {
    text.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

fn parse_ini<'a>(path: &'a Path, text: &str) -> Result<Ini<'a>, FileConfigError> {
    let mut ini = Ini { path, sections: HashMap::new() };
    let mut current: Option<String> = None;
    // The option a continuation line extends, and its key line's indentation.
    let mut last: Option<(String, usize)> = None;
    for (idx, raw) in text.lines().enumerate() {
        let line = idx + 1;
        let trimmed = raw.trim();
        let indent = raw.len() - raw.trim_start().len();
        if trimmed.is_empty() {
            last = None;
            continue;
        }
        if trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if let (Some((key, key_indent)), Some(section)) = (&last, &current)
            && indent > *key_indent
        {
            if let Some(value) = ini.sections.get_mut(section).and_then(|s| s.options.get_mut(key)) {
                value.text.push('\n');
                value.text.push_str(trimmed);
            }
            continue;
        }
        if let Some(header) = trimmed.strip_prefix('[') {
            let Some(name) = header.strip_suffix(']') else {
                return Err(ini.error(line, format!("malformed section header `{trimmed}`")));
            };
            if ini.sections.contains_key(name) {
                return Err(ini.error(line, format!("section [{name}] appears twice")));
            }
            ini.sections.insert(name.to_owned(), Section { line, options: HashMap::new() });
            current = Some(name.to_owned());
            last = None;
            continue;
        }
        let Some(section) = &current else {
            return Err(ini.error(line, "an option before any [section] header"));
        };
        let Some(split) = trimmed.find(['=', ':']) else {
            return Err(ini.error(line, format!("expected `option = value`, found `{trimmed}`")));
        };
        let key = trimmed[..split].trim().to_ascii_lowercase();
        let value = trimmed[split + 1..].trim().to_owned();
        let options = &mut ini.sections.get_mut(section).expect("the current section exists").options;
        if options.contains_key(&key) {
            return Err(ini.error(line, format!("option `{key}` appears twice in [{section}]")));
        }
        options.insert(key.clone(), Value { text: value, line });
        last = Some((key, indent));
    }
    Ok(ini)
}

/// Reads and translates a `fileConfig` file.
pub(crate) fn load(path: &Path) -> Result<Spec, super::Error> {
    let text = std::fs::read_to_string(path).map_err(|source| super::Error::Read { path: path.to_owned(), source })?;
    Ok(parse(path, &text)?)
}

/// Translates the text of a `fileConfig` file (`path` is for messages).
pub(crate) fn parse(path: &Path, text: &str) -> Result<Spec, FileConfigError> {
    let ini = parse_ini(path, text)?;
    for (name, section) in &ini.sections {
        if name == "filters" || name.starts_with("filter_") {
            return Err(ini.error(section.line, "logging filters are not supported"));
        }
    }
    let formatters = formatters(&ini)?;
    let (handlers, handler_index) = handlers(&ini, &formatters)?;
    let loggers = loggers(&ini, &handler_index)?;
    Ok(Spec { handlers, loggers })
}

fn formatters(ini: &Ini<'_>) -> Result<HashMap<String, Format>, FileConfigError> {
    let mut out = HashMap::new();
    for (key, line) in ini.keys("formatters") {
        let name = format!("formatter_{key}");
        let section = ini.section(&name, line)?;
        for (option, value) in &section.options {
            match option.as_str() {
                "format" | "datefmt" | "style" | "validate" => {}
                "class" if matches!(value.text.as_str(), "" | "logging.Formatter") => {}
                "class" => {
                    return Err(ini.error(
                        value.line,
                        format!("formatter class `{}` is not supported (only logging.Formatter)", value.text),
                    ));
                }
                other => return Err(ini.error(value.line, format!("formatter option `{other}` is not supported"))),
            }
        }
        let get = |option: &str| section.options.get(option);
        let style = get("style").map_or("%", |v| v.text.as_str());
        let format = match get("format") {
            Some(format) => Format::parse(&format.text, style, get("datefmt").map(|v| v.text.as_str()))
                .map_err(|message| ini.error(format.line, message))?,
            None => Format::message_only(),
        };
        out.insert(key, format);
    }
    Ok(out)
}

fn handlers(
    ini: &Ini<'_>,
    formatters: &HashMap<String, Format>,
) -> Result<(Vec<HandlerSpec>, HashMap<String, usize>), FileConfigError> {
    let mut handlers = Vec::new();
    let mut index = HashMap::new();
    for (key, line) in ini.keys("handlers") {
        let section = ini.section(&format!("handler_{key}"), line)?;
        let class = section
            .options
            .get("class")
            .ok_or_else(|| ini.error(section.line, format!("[handler_{key}] needs a `class`")))?;
        let mut level = NOTSET;
        let mut format = Format::message_only();
        for (option, value) in &section.options {
            match option.as_str() {
                "class" | "args" | "kwargs" => {}
                "level" => level = parse_level(&value.text).map_err(|m| ini.error(value.line, m))?,
                "formatter" if value.text.is_empty() => {}
                "formatter" => {
                    format = formatters.get(&value.text).cloned().ok_or_else(|| {
                        ini.error(value.line, format!("formatter `{}` is not listed in [formatters] keys", value.text))
                    })?;
                }
                other => return Err(ini.error(value.line, format!("handler option `{other}` is not supported"))),
            }
        }
        let args = match section.options.get("args") {
            Some(value) => {
                let items = match literal::parse(&value.text).map_err(|m| ini.error(value.line, m))? {
                    literal::Lit::Tuple(items) => items,
                    other => vec![other],
                };
                (items, value.line)
            }
            None => (Vec::new(), section.line),
        };
        let kwargs = match section.options.get("kwargs") {
            Some(value) => match literal::parse(&value.text).map_err(|m| ini.error(value.line, m))? {
                literal::Lit::Dict(pairs) => (pairs, value.line),
                _ => return Err(ini.error(value.line, "kwargs must be a dict such as {'mode': 'a'}")),
            },
            None => (Vec::new(), section.line),
        };
        let destination =
            destination((&class.text, class.line), args, kwargs).map_err(|(line, m)| ini.error(line, m))?;
        index.insert(key.clone(), handlers.len());
        handlers.push(HandlerSpec { name: key, level, format, destination });
    }
    Ok((handlers, index))
}

type Located<T> = (T, usize);

/// The destination of a handler `class` built with `args` and `kwargs`.
fn destination(
    (class, class_line): Located<&str>,
    (args, args_line): Located<Vec<literal::Lit>>,
    (kwargs, kwargs_line): Located<Vec<(String, literal::Lit)>>,
) -> Result<Destination, (usize, String)> {
    use literal::Lit;
    let class_name = class.strip_prefix("logging.").unwrap_or(class);
    // Python binds positional arguments to these parameter names.
    let params: &[&str] = match class_name {
        "StreamHandler" => &["stream"],
        "FileHandler" => &["filename", "mode", "encoding", "delay", "errors"],
        "NullHandler" => &[],
        _ => {
            return Err((
                class_line,
                format!("handler class `{class}` is not supported (use StreamHandler, FileHandler or NullHandler)"),
            ));
        }
    };
    if args.len() > params.len() {
        return Err((args_line, format!("{class_name} takes at most {} arguments, got {}", params.len(), args.len())));
    }
    let mut named: Vec<(&str, Lit, usize)> = params.iter().zip(args).map(|(p, a)| (*p, a, args_line)).collect();
    for (key, value) in kwargs {
        let Some(param) = params.iter().find(|p| **p == key) else {
            return Err((kwargs_line, format!("{class_name} has no argument `{key}`")));
        };
        if named.iter().any(|(p, _, _)| p == param) {
            return Err((kwargs_line, format!("{class_name} got `{key}` twice")));
        }
        named.push((param, value, kwargs_line));
    }
    let get = |name: &str| named.iter().find(|(p, _, _)| *p == name).map(|(_, v, line)| (v, *line));
    match class_name {
        "NullHandler" => Ok(Destination::Null),
        "StreamHandler" => match get("stream") {
            None | Some((Lit::Name("sys.stderr") | Lit::None, _)) => Ok(Destination::Stderr),
            Some((Lit::Name("sys.stdout"), _)) => Ok(Destination::Stdout),
            Some((other, line)) => {
                Err((line, format!("StreamHandler stream {other:?}: only sys.stderr and sys.stdout")))
            }
        },
        _ => {
            let path = match get("filename") {
                Some((Lit::Str(path), _)) => PathBuf::from(path),
                Some((other, line)) => {
                    return Err((line, format!("FileHandler filename must be a string, not {other:?}")));
                }
                None => return Err((args_line, "FileHandler needs a filename, as in args=('luigi.log', 'a')".into())),
            };
            let append = match get("mode") {
                None => true,
                Some((Lit::Str(mode), _)) if mode == "a" => true,
                Some((Lit::Str(mode), _)) if mode == "w" => false,
                Some((other, line)) => return Err((line, format!("FileHandler mode {other:?}: only 'a' and 'w'"))),
            };
            match get("encoding") {
                None | Some((Lit::None, _)) => {}
                Some((Lit::Str(enc), _)) if matches!(enc.to_ascii_lowercase().as_str(), "utf-8" | "utf8") => {}
                Some((other, line)) => return Err((line, format!("FileHandler encoding {other:?}: only UTF-8"))),
            }
            if let Some((Lit::Str(_), line)) = get("errors") {
                return Err((line, "FileHandler `errors` is not supported".into()));
            }
            Ok(Destination::File { path, append })
        }
    }
}

fn loggers(ini: &Ini<'_>, handler_index: &HashMap<String, usize>) -> Result<Vec<LoggerSpec>, FileConfigError> {
    let keys = ini.keys("loggers");
    let loggers_line = ini.sections.get("loggers").map_or(1, |s| s.line);
    if !keys.iter().any(|(key, _)| key == "root") {
        return Err(ini.error(loggers_line, "[loggers] keys must include `root`"));
    }
    let mut root = None;
    let mut named = Vec::new();
    for (key, line) in keys {
        let section = ini.section(&format!("logger_{key}"), line)?;
        let is_root = key == "root";
        let mut logger = LoggerSpec::root(if is_root { WARNING } else { NOTSET });
        let mut qualname = None;
        for (option, value) in &section.options {
            match option.as_str() {
                "level" => logger.level = parse_level(&value.text).map_err(|m| ini.error(value.line, m))?,
                "handlers" => {
                    for handler in split_list(&value.text) {
                        let idx = handler_index.get(&handler).ok_or_else(|| {
                            ini.error(value.line, format!("handler `{handler}` is not listed in [handlers] keys"))
                        })?;
                        logger.handlers.push(*idx);
                    }
                }
                "qualname" if !is_root => qualname = Some(value.text.clone()),
                "propagate" if !is_root => {
                    logger.propagate = match value.text.as_str() {
                        "1" => true,
                        "0" => false,
                        other => return Err(ini.error(value.line, format!("propagate must be 0 or 1, not `{other}`"))),
                    };
                }
                "qualname" | "propagate" => {}
                other => return Err(ini.error(value.line, format!("logger option `{other}` is not supported"))),
            }
        }
        if is_root {
            root = Some(logger);
        } else {
            logger.name = qualname.ok_or_else(|| {
                ini.error(section.line, format!("[logger_{key}] needs a `qualname` (the logger's name)"))
            })?;
            named.push(logger);
        }
    }
    let mut loggers = vec![root.unwrap_or_else(|| LoggerSpec::root(WARNING))];
    loggers.extend(named);
    Ok(loggers)
}

/// The Python literals that appear in `args` and `kwargs`: strings, numbers, `True`/`False`/
/// `None`, `sys.stdout`/`sys.stderr`, tuples and dicts.
mod literal {
    #[derive(Debug, Clone, PartialEq)]
    pub(super) enum Lit {
        Str(String),
        Num(f64),
        Bool(bool),
        None,
        /// `sys.stdout`, `sys.stderr`.
        Name(&'static str),
        Tuple(Vec<Lit>),
        Dict(Vec<(String, Lit)>),
    }

    pub(super) fn parse(text: &str) -> Result<Lit, String> {
        let mut parser = Parser { chars: text.chars().collect(), pos: 0 };
        let value = parser.value()?;
        parser.skip_ws();
        if parser.pos != parser.chars.len() {
            return Err(format!("unexpected text after position {} in `{text}`", parser.pos));
        }
        Ok(value)
    }

    struct Parser {
        chars: Vec<char>,
        pos: usize,
    }

    impl Parser {
        fn skip_ws(&mut self) {
            while self.chars.get(self.pos).is_some_and(|c| c.is_whitespace()) {
                self.pos += 1;
            }
        }

        fn peek(&mut self) -> Option<char> {
            self.skip_ws();
            self.chars.get(self.pos).copied()
        }

        fn value(&mut self) -> Result<Lit, String> {
            match self.peek() {
                Some('(') => {
                    self.pos += 1;
                    let mut items = Vec::new();
                    let mut trailing_comma = false;
                    loop {
                        if self.peek() == Some(')') {
                            self.pos += 1;
                            break;
                        }
                        items.push(self.value()?);
                        trailing_comma = false;
                        match self.peek() {
                            Some(',') => {
                                self.pos += 1;
                                trailing_comma = true;
                            }
                            Some(')') => {}
                            _ => return Err("expected `,` or `)` in a tuple".into()),
                        }
                    }
                    // `(x)` is just x in Python; `(x,)` is a tuple.
                    if items.len() == 1 && !trailing_comma {
                        return Ok(items.pop().unwrap_or(Lit::None));
                    }
                    Ok(Lit::Tuple(items))
                }
                Some('{') => {
                    self.pos += 1;
                    let mut pairs = Vec::new();
                    loop {
                        if self.peek() == Some('}') {
                            self.pos += 1;
                            break;
                        }
                        let Lit::Str(key) = self.value()? else { return Err("dict keys must be strings".into()) };
                        if self.peek() != Some(':') {
                            return Err("expected `:` in a dict".into());
                        }
                        self.pos += 1;
                        pairs.push((key, self.value()?));
                        match self.peek() {
                            Some(',') => self.pos += 1,
                            Some('}') => {}
                            _ => return Err("expected `,` or `}` in a dict".into()),
                        }
                    }
                    Ok(Lit::Dict(pairs))
                }
                Some(quote @ ('\'' | '"')) => {
                    self.pos += 1;
                    let mut out = String::new();
                    loop {
                        let Some(c) = self.chars.get(self.pos).copied() else {
                            return Err("unterminated string".into());
                        };
                        self.pos += 1;
                        match c {
                            c if c == quote => return Ok(Lit::Str(out)),
                            '\\' => {
                                let Some(next) = self.chars.get(self.pos).copied() else {
                                    return Err("unterminated string".into());
                                };
                                self.pos += 1;
                                out.push(match next {
                                    'n' => '\n',
                                    't' => '\t',
                                    other => other,
                                });
                            }
                            c => out.push(c),
                        }
                    }
                }
                Some(_) => {
                    let start = self.pos;
                    while self
                        .chars
                        .get(self.pos)
                        .is_some_and(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '+'))
                    {
                        self.pos += 1;
                    }
                    let word: String = self.chars[start..self.pos].iter().collect();
                    match word.as_str() {
                        "sys.stdout" => Ok(Lit::Name("sys.stdout")),
                        "sys.stderr" => Ok(Lit::Name("sys.stderr")),
                        "True" => Ok(Lit::Bool(true)),
                        "False" => Ok(Lit::Bool(false)),
                        "None" => Ok(Lit::None),
                        _ => word.parse::<f64>().map(Lit::Num).map_err(|_| {
                            let shown = if word.is_empty() { self.chars[start..].iter().collect() } else { word };
                            format!("`{shown}` is not supported here (only strings, numbers, True/False/None, sys.stdout and sys.stderr)")
                        }),
                    }
                }
                None => Err("expected a value".into()),
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn python_literals() {
            assert_eq!(parse("(sys.stderr,)"), Ok(Lit::Tuple(vec![Lit::Name("sys.stderr")])));
            assert_eq!(parse("()"), Ok(Lit::Tuple(vec![])));
            assert_eq!(
                parse("('/tmp/a b.log', \"w\", None, True)"),
                Ok(Lit::Tuple(vec![Lit::Str("/tmp/a b.log".into()), Lit::Str("w".into()), Lit::None, Lit::Bool(true)]))
            );
            assert_eq!(parse("('x')"), Ok(Lit::Str("x".into())));
            assert_eq!(
                parse("{'mode': 'a', 'delay': 1}"),
                Ok(Lit::Dict(vec![("mode".into(), Lit::Str("a".into())), ("delay".into(), Lit::Num(1.0))]))
            );
            assert!(parse("(os.getenv('X'),)").unwrap_err().contains("os.getenv"));
            assert!(parse("('unterminated").is_err());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(text: &str) -> Result<Spec, FileConfigError> {
        parse(Path::new("logging.cfg"), text)
    }

    const FULL: &str = "\
[loggers]
keys=root,luigi

[handlers]
keys=console,file

[formatters]
keys=simple,timed

[logger_root]
level=WARNING
handlers=console

[logger_luigi]
level=DEBUG
handlers=file
qualname=luigi-interface
propagate=0

[handler_console]
class=StreamHandler
level=INFO
formatter=simple
args=(sys.stdout,)

[handler_file]
class=logging.FileHandler
formatter=timed
args=('/tmp/luigi.log', 'w')

[formatter_simple]
format=%(levelname)s: %(message)s

[formatter_timed]
# Python reads formats raw: no interpolation of %(...)s.
format=%(asctime)s %(levelname)s
  %(name)s %(message)s
datefmt=%H:%M
";

    #[test]
    fn a_full_file_is_translated() {
        let spec = spec(FULL).unwrap();
        assert_eq!(spec.handlers.len(), 2);
        assert_eq!(spec.handlers[0].destination, Destination::Stdout);
        assert_eq!(spec.handlers[0].level, 20);
        assert_eq!(spec.handlers[1].destination, Destination::File { path: "/tmp/luigi.log".into(), append: false });
        assert_eq!(spec.handlers[1].level, NOTSET);
        let root = &spec.loggers[0];
        assert_eq!((root.name.as_str(), root.level, root.handlers.as_slice()), ("", WARNING, &[0][..]));
        let luigi = &spec.loggers[1];
        assert_eq!(luigi.name, "luigi-interface");
        assert_eq!((luigi.level, luigi.propagate, luigi.handlers.as_slice()), (10, false, &[1][..]));
    }

    #[test]
    fn luigis_own_test_file_is_accepted() {
        let text = "[loggers]\nkeys=root\n[handlers]\nkeys=consoleHandler\n[formatters]\nkeys=simpleFormatter\n\
                    [logger_root]\nlevel=DEBUG\nhandlers=consoleHandler\n[handler_consoleHandler]\nclass=StreamHandler\n\
                    level=DEBUG\nformatter=simpleFormatter\nargs=(sys.stdout,)\n[formatter_simpleFormatter]\n\
                    format=%(levelname)s: %(message)s\n";
        let spec = spec(text).unwrap();
        assert_eq!(spec.loggers[0].level, 10);
        assert_eq!(spec.handlers[0].destination, Destination::Stdout);
    }

    #[test]
    fn defaults_follow_python() {
        let spec = spec("[loggers]\nkeys=root\n[logger_root]\nhandlers=\n[handlers]\nkeys=\n").unwrap();
        assert_eq!(spec.loggers[0].level, WARNING);
        assert!(spec.loggers[0].handlers.is_empty());
        let spec = spec_with_handler("class=StreamHandler\n");
        assert_eq!(spec.handlers[0].destination, Destination::Stderr);
        let spec = spec_with_handler("class=FileHandler\nkwargs={'filename': 'x.log'}\n");
        assert_eq!(spec.handlers[0].destination, Destination::File { path: "x.log".into(), append: true });
        let spec = spec_with_handler("class=logging.NullHandler\n");
        assert_eq!(spec.handlers[0].destination, Destination::Null);
    }

    fn spec_with_handler(handler: &str) -> Spec {
        spec(&with_handler(handler)).unwrap()
    }

    fn with_handler(handler: &str) -> String {
        format!("[loggers]\nkeys=root\n[logger_root]\nhandlers=h\n[handlers]\nkeys=h\n[handler_h]\n{handler}")
    }

    fn error(text: &str) -> String {
        spec(text).unwrap_err().to_string()
    }

    #[test]
    fn unsupported_constructs_name_the_line() {
        let err = error(&with_handler("class=handlers.RotatingFileHandler\nargs=('x.log', 'a', 10, 3)\n"));
        assert!(err.starts_with("logging.cfg:8: "), "{err}");
        assert!(err.contains("RotatingFileHandler"), "{err}");
        let err = error(&with_handler("class=StreamHandler\nargs=(open('x'),)\n"));
        assert!(err.starts_with("logging.cfg:9: "), "{err}");
        let err = error(&with_handler("class=FileHandler\nargs=('x.log', 'r+')\n"));
        assert!(err.starts_with("logging.cfg:9: ") && err.contains("mode"), "{err}");
        let err = error(&with_handler("class=StreamHandler\nfilters=f\n"));
        assert!(err.starts_with("logging.cfg:9: ") && err.contains("filters"), "{err}");
        let err = error(&with_handler("class=StreamHandler\nformatter=nope\n"));
        assert!(err.starts_with("logging.cfg:9: ") && err.contains("nope"), "{err}");
        let err = error(&format!(
            "{}[formatters]\nkeys=f\n[formatter_f]\nformat=%(funcName)s\n",
            with_handler("class=StreamHandler\n")
        ));
        assert!(err.starts_with("logging.cfg:12: ") && err.contains("funcName"), "{err}");
        let err = error("[loggers]\nkeys=root,x\n[logger_root]\n[logger_x]\nlevel=INFO\n");
        assert!(err.starts_with("logging.cfg:4: ") && err.contains("qualname"), "{err}");
        let err = error("[loggers]\nkeys=x\n");
        assert!(err.starts_with("logging.cfg:1: ") && err.contains("root"), "{err}");
        let err = error("[loggers]\nkeys=root\n[logger_root]\nlevel=LOUD\n");
        assert!(err.starts_with("logging.cfg:4: ") && err.contains("LOUD"), "{err}");
        let err = error("[loggers]\nkeys=root\n[logger_root]\nhandlers=missing\n");
        assert!(err.starts_with("logging.cfg:4: ") && err.contains("missing"), "{err}");
        let err = error("[loggers]\nkeys=root,gone\n[logger_root]\n");
        assert!(err.starts_with("logging.cfg:2: ") && err.contains("[logger_gone]"), "{err}");
        let err = error("keys=root\n");
        assert!(err.starts_with("logging.cfg:1: "), "{err}");
        let err = error("[loggers]\nkeys=root\n[filter_x]\n[logger_root]\n");
        assert!(err.starts_with("logging.cfg:3: ") && err.contains("filters"), "{err}");
    }
}
