//! The `[logging]` table of `luigi.toml`, which Python Luigi hands to
//! `logging.config.dictConfig`, translated into a `Spec` (`spec.rs`).
//!
//! Supported: `version = 1`, `formatters` (`format`, `datefmt`, `style`), `handlers` of class
//! `logging.StreamHandler` (`stream = "ext://sys.stdout"` or `ext://sys.stderr`),
//! `logging.FileHandler` (`filename`, `mode` `a`/`w`, `encoding` UTF-8, `delay`) and
//! `logging.NullHandler`, with `level` and `formatter`; `loggers` (`level`, `handlers`,
//! `propagate`, `disabled`) and `root`. Errors name the key, as in
//! `[logging.handlers.file] class`, since a TOML table no longer knows its line numbers.
//!
//! `disable_existing_loggers` is accepted and has no effect: in Python it silences loggers
//! created before the configuration (Luigi's `luigi-interface` among them) unless they are
//! listed, a trap we do not reproduce.

use std::path::PathBuf;

use toml::{Table, Value};

use super::format::Format;
use super::spec::{Destination, HandlerSpec, LoggerSpec, NOTSET, Spec, WARNING, parse_level};

/// A problem in the `[logging]` table.
#[derive(Debug, thiserror::Error)]
#[error("[logging{key}]: {message}")]
pub struct DictConfigError {
    /// Where: `.handlers.file`, `.root`... (empty for the table itself).
    pub key: String,
    /// What is wrong.
    pub message: String,
}

fn err(key: &str, message: impl Into<String>) -> DictConfigError {
    DictConfigError { key: key.to_owned(), message: message.into() }
}

fn table<'a>(value: &'a Value, key: &str) -> Result<&'a Table, DictConfigError> {
    value.as_table().ok_or_else(|| err(key, "must be a table"))
}

fn string<'a>(value: &'a Value, key: &str, option: &str) -> Result<&'a str, DictConfigError> {
    value.as_str().ok_or_else(|| err(key, format!("`{option}` must be a string")))
}

fn level(value: &Value, key: &str) -> Result<i64, DictConfigError> {
    match value {
        Value::Integer(n) => Ok(*n),
        Value::String(text) => parse_level(text).map_err(|m| err(key, m)),
        _ => Err(err(key, "`level` must be a level name or number")),
    }
}

fn boolean(value: &Value, key: &str, option: &str) -> Result<bool, DictConfigError> {
    match value {
        Value::Boolean(b) => Ok(*b),
        Value::Integer(n) => Ok(*n != 0),
        _ => Err(err(key, format!("`{option}` must be true or false"))),
    }
}

/// Translates the `[logging]` table.
pub(crate) fn parse(config: &Table) -> Result<Spec, DictConfigError> {
    match config.get("version") {
        Some(Value::Integer(1)) => {}
        Some(other) => return Err(err("", format!("unsupported version {other} (only 1)"))),
        None => return Err(err("", "`version = 1` is required")),
    }
    for (option, value) in config {
        match option.as_str() {
            "version" | "formatters" | "handlers" | "loggers" | "root" | "disable_existing_loggers" => {}
            "incremental" if value.as_bool() == Some(false) => {}
            "incremental" => return Err(err("", "incremental configuration is not supported")),
            "filters" if value.as_table().is_some_and(Table::is_empty) => {}
            "filters" => return Err(err(".filters", "logging filters are not supported")),
            other => return Err(err("", format!("unknown key `{other}`"))),
        }
    }
    let mut formats = std::collections::HashMap::new();
    if let Some(formatters) = config.get("formatters") {
        for (name, value) in table(formatters, ".formatters")? {
            let key = format!(".formatters.{name}");
            let section = table(value, &key)?;
            let mut text = None;
            let (mut datefmt, mut style) = (None, "%");
            for (option, value) in section {
                match option.as_str() {
                    "format" => text = Some(string(value, &key, option)?),
                    "datefmt" => datefmt = Some(string(value, &key, option)?),
                    "style" => style = string(value, &key, option)?,
                    "validate" => {}
                    "class" if value.as_str() == Some("logging.Formatter") => {}
                    other => return Err(err(&key, format!("formatter option `{other}` is not supported"))),
                }
            }
            let format = match text {
                Some(text) => Format::parse(text, style, datefmt).map_err(|m| err(&key, m))?,
                None => Format::message_only(),
            };
            formats.insert(name.clone(), format);
        }
    }
    let mut handlers = Vec::new();
    let mut index = std::collections::HashMap::new();
    if let Some(section) = config.get("handlers") {
        for (name, value) in table(section, ".handlers")? {
            let key = format!(".handlers.{name}");
            index.insert(name.clone(), handlers.len());
            handlers.push(handler(name, table(value, &key)?, &key, &formats)?);
        }
    }
    let logger_handlers = |value: &Value, key: &str| -> Result<Vec<usize>, DictConfigError> {
        let list = value.as_array().ok_or_else(|| err(key, "`handlers` must be a list of handler names"))?;
        list.iter()
            .map(|name| {
                let name = name.as_str().ok_or_else(|| err(key, "`handlers` must be a list of handler names"))?;
                index
                    .get(name)
                    .copied()
                    .ok_or_else(|| err(key, format!("no handler named `{name}` in [logging.handlers]")))
            })
            .collect()
    };
    let logger = |name: &str, value: &Value, key: &str, root: bool| -> Result<LoggerSpec, DictConfigError> {
        let mut logger = LoggerSpec { name: name.to_owned(), ..LoggerSpec::root(if root { WARNING } else { NOTSET }) };
        for (option, value) in table(value, key)? {
            match option.as_str() {
                "level" => logger.level = level(value, key)?,
                "handlers" => logger.handlers = logger_handlers(value, key)?,
                "propagate" if !root => logger.propagate = boolean(value, key, option)?,
                "disabled" if !root => logger.disabled = boolean(value, key, option)?,
                "filters" => return Err(err(key, "logging filters are not supported")),
                other => return Err(err(key, format!("logger option `{other}` is not supported"))),
            }
        }
        Ok(logger)
    };
    let mut loggers = vec![match config.get("root") {
        Some(value) => logger("", value, ".root", true)?,
        None => LoggerSpec::root(WARNING),
    }];
    if let Some(section) = config.get("loggers") {
        for (name, value) in table(section, ".loggers")? {
            loggers.push(logger(name, value, &format!(".loggers.{name}"), false)?);
        }
    }
    Ok(Spec { handlers, loggers })
}

fn handler(
    name: &str,
    section: &Table,
    key: &str,
    formats: &std::collections::HashMap<String, Format>,
) -> Result<HandlerSpec, DictConfigError> {
    let class = section.get("class").ok_or_else(|| err(key, "a handler needs a `class`"))?;
    let class = string(class, key, "class")?;
    let class_name = class.strip_prefix("logging.").unwrap_or(class);
    let allowed: &[&str] = match class_name {
        "StreamHandler" => &["stream"],
        "FileHandler" => &["filename", "mode", "encoding", "delay"],
        "NullHandler" => &[],
        _ => {
            return Err(err(
                key,
                format!(
                    "handler class `{class}` is not supported (use logging.StreamHandler, logging.FileHandler or logging.NullHandler)"
                ),
            ));
        }
    };
    let mut spec = HandlerSpec {
        name: name.to_owned(),
        level: NOTSET,
        format: Format::message_only(),
        destination: Destination::Null,
    };
    for (option, value) in section {
        match option.as_str() {
            "class" => {}
            "level" => spec.level = level(value, key)?,
            "formatter" => {
                let name = string(value, key, option)?;
                spec.format = formats
                    .get(name)
                    .cloned()
                    .ok_or_else(|| err(key, format!("no formatter named `{name}` in [logging.formatters]")))?;
            }
            "filters" => return Err(err(key, "logging filters are not supported")),
            other if allowed.contains(&other) => {}
            other => return Err(err(key, format!("`{other}` is not an option of {class_name}"))),
        }
    }
    spec.destination = match class_name {
        "NullHandler" => Destination::Null,
        "StreamHandler" => match section.get("stream").map(|v| string(v, key, "stream")).transpose()? {
            None | Some("ext://sys.stderr") => Destination::Stderr,
            Some("ext://sys.stdout") => Destination::Stdout,
            Some(other) => {
                return Err(err(key, format!("stream `{other}`: only ext://sys.stderr and ext://sys.stdout")));
            }
        },
        _ => {
            let path = section
                .get("filename")
                .ok_or_else(|| err(key, "logging.FileHandler needs a `filename`"))
                .and_then(|v| string(v, key, "filename"))?;
            let append = match section.get("mode").map(|v| string(v, key, "mode")).transpose()? {
                None | Some("a") => true,
                Some("w") => false,
                Some(other) => return Err(err(key, format!("mode `{other}`: only \"a\" and \"w\""))),
            };
            if let Some(encoding) = section.get("encoding") {
                let encoding = string(encoding, key, "encoding")?;
                if !matches!(encoding.to_ascii_lowercase().as_str(), "utf-8" | "utf8") {
                    return Err(err(key, format!("encoding `{encoding}`: only UTF-8")));
                }
            }
            Destination::File { path: PathBuf::from(path), append }
        }
    };
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(text: &str) -> Result<Spec, DictConfigError> {
        let table: Table = text.parse().unwrap();
        parse(&table)
    }

    #[test]
    fn luigis_own_test_table_is_accepted() {
        let spec = spec(
            "version = 1\ndisable_existing_loggers = false\n\
             [formatters.mockformatter]\nformat = \"{levelname}: {message}\"\nstyle = \"{\"\n\
             [handlers.mockhandler]\nclass = \"logging.StreamHandler\"\nlevel = \"INFO\"\nformatter = \"mockformatter\"\n\
             [loggers.mocklogger]\nhandlers = [\"mockhandler\"]\nlevel = 'INFO'\ndisabled = false\npropagate = false\n",
        )
        .unwrap();
        assert_eq!(spec.loggers[0], LoggerSpec::root(WARNING));
        let logger = &spec.loggers[1];
        assert_eq!((logger.name.as_str(), logger.level, logger.propagate), ("mocklogger", 20, false));
        assert_eq!(logger.handlers, vec![0]);
        assert_eq!(spec.handlers[0].destination, Destination::Stderr);
        assert_eq!(spec.handlers[0].level, 20);
    }

    #[test]
    fn files_streams_and_root() {
        let spec = spec(
            "version = 1\n[handlers.out]\nclass = \"logging.StreamHandler\"\nstream = \"ext://sys.stdout\"\n\
             [handlers.file]\nclass = \"logging.FileHandler\"\nfilename = \"/tmp/x.log\"\nmode = \"w\"\n\
             [root]\nlevel = \"DEBUG\"\nhandlers = [\"out\", \"file\"]\n",
        )
        .unwrap();
        assert_eq!(spec.loggers[0].level, 10);
        assert_eq!(spec.loggers[0].handlers, vec![0, 1]);
        assert_eq!(spec.handlers[0].destination, Destination::Stdout);
        assert_eq!(spec.handlers[1].destination, Destination::File { path: "/tmp/x.log".into(), append: false });
    }

    #[test]
    fn errors_name_the_key() {
        let error = |text: &str| spec(text).unwrap_err().to_string();
        assert!(error("[root]\nlevel = \"INFO\"\n").contains("version"));
        assert!(error("version = 2\n").contains("version 2"));
        let e = error("version = 1\n[handlers.h]\nclass = \"logging.handlers.RotatingFileHandler\"\n");
        assert!(e.starts_with("[logging.handlers.h]: ") && e.contains("RotatingFileHandler"), "{e}");
        let e = error("version = 1\n[handlers.h]\nclass = \"logging.StreamHandler\"\nfilename = \"x\"\n");
        assert!(e.starts_with("[logging.handlers.h]: ") && e.contains("filename"), "{e}");
        let e = error("version = 1\n[formatters.f]\nformat = \"%(nope)s\"\n");
        assert!(e.starts_with("[logging.formatters.f]: ") && e.contains("nope"), "{e}");
        let e = error("version = 1\n[loggers.x]\nhandlers = [\"missing\"]\n");
        assert!(e.starts_with("[logging.loggers.x]: ") && e.contains("missing"), "{e}");
        let e = error("version = 1\n[root]\nlevel = \"LOUD\"\n");
        assert!(e.starts_with("[logging.root]: ") && e.contains("LOUD"), "{e}");
        let e = error("version = 1\n[filters.f]\nname = \"x\"\n");
        assert!(e.contains("filters"), "{e}");
    }
}
