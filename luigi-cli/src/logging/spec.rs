//! The logging model that both configuration formats are translated into: loggers (with
//! Python's dotted hierarchy, levels and propagation), handlers (where lines go, at which
//! level, in which format) and Python's numeric levels.
//!
//! `fileconfig.rs` (INI) and `dictconfig.rs` (TOML `[logging]`) each produce a [`Spec`];
//! `router.rs` turns it into the object that routes `tracing` events at run time. Keeping
//! the model separate lets both parsers be tested without installing anything.

use std::path::PathBuf;

use super::format::Format;

/// Python's `NOTSET`, the level of a logger that defers to its parent.
pub(crate) const NOTSET: i64 = 0;
/// Python's `WARNING`, the root logger's level unless configured.
pub(crate) const WARNING: i64 = 30;

/// Where a handler writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Destination {
    Stderr,
    Stdout,
    File {
        path: PathBuf,
        append: bool,
    },
    /// Python's `NullHandler`: swallows records (so they do not reach the last-resort handler).
    Null,
}

/// One handler.
#[derive(Debug, Clone)]
pub(crate) struct HandlerSpec {
    pub(crate) name: String,
    pub(crate) level: i64,
    pub(crate) format: Format,
    pub(crate) destination: Destination,
}

/// One logger; the root logger has the empty name.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LoggerSpec {
    pub(crate) name: String,
    pub(crate) level: i64,
    /// Indexes into [`Spec::handlers`].
    pub(crate) handlers: Vec<usize>,
    pub(crate) propagate: bool,
    pub(crate) disabled: bool,
}

impl LoggerSpec {
    pub(crate) fn root(level: i64) -> LoggerSpec {
        LoggerSpec { name: String::new(), level, handlers: Vec::new(), propagate: true, disabled: false }
    }
}

/// A whole logging configuration.
#[derive(Debug, Clone)]
pub(crate) struct Spec {
    pub(crate) handlers: Vec<HandlerSpec>,
    /// The root logger first, then the named ones.
    pub(crate) loggers: Vec<LoggerSpec>,
}

impl Spec {
    /// Luigi's default: everything at `level` to stderr as `LEVEL: message`.
    pub(crate) fn default_console(level: i64) -> Spec {
        let format = Format::parse("%(levelname)s: %(message)s", "%", None).unwrap_or_else(|_| Format::message_only());
        let handler = HandlerSpec { name: "console".into(), level: NOTSET, format, destination: Destination::Stderr };
        let mut root = LoggerSpec::root(level);
        root.handlers.push(0);
        Spec { handlers: vec![handler], loggers: vec![root] }
    }
}

/// A Python level: a name (`DEBUG`, `INFO`, `WARNING`/`WARN`, `ERROR`, `CRITICAL`/`FATAL`,
/// `NOTSET`; any case) or a number.
pub(crate) fn parse_level(text: &str) -> Result<i64, String> {
    let text = text.trim();
    Ok(match text.to_ascii_uppercase().as_str() {
        "NOTSET" => NOTSET,
        "DEBUG" => 10,
        "INFO" => 20,
        "WARNING" | "WARN" => WARNING,
        "ERROR" => 40,
        "CRITICAL" | "FATAL" => 50,
        _ => text.parse::<i64>().map_err(|_| {
            format!("unknown level `{text}` (use NOTSET, DEBUG, INFO, WARNING, ERROR, CRITICAL or a number)")
        })?,
    })
}

/// A `tracing` level as Python's number and name (`TRACE` sits below `DEBUG`).
pub(crate) fn python_level(level: tracing::Level) -> (i64, &'static str) {
    match level {
        tracing::Level::TRACE => (5, "TRACE"),
        tracing::Level::DEBUG => (10, "DEBUG"),
        tracing::Level::INFO => (20, "INFO"),
        tracing::Level::WARN => (30, "WARNING"),
        tracing::Level::ERROR => (40, "ERROR"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_by_name_and_number() {
        assert_eq!(parse_level("INFO"), Ok(20));
        assert_eq!(parse_level(" warning "), Ok(30));
        assert_eq!(parse_level("WARN"), Ok(30));
        assert_eq!(parse_level("CRITICAL"), Ok(50));
        assert_eq!(parse_level("15"), Ok(15));
        assert!(parse_level("LOUD").unwrap_err().contains("LOUD"));
        assert_eq!(python_level(tracing::Level::WARN), (30, "WARNING"));
    }

    #[test]
    fn the_default_console_logs_everything_at_the_level_to_stderr() {
        let spec = Spec::default_console(20);
        assert_eq!(spec.loggers, vec![LoggerSpec { handlers: vec![0], ..LoggerSpec::root(20) }]);
        assert_eq!(spec.handlers[0].destination, Destination::Stderr);
    }
}
