//! `luigid`'s logging, configured with Python luigid's precedence (inventory §6.2):
//!
//! 1. `[core] no_configure_logging = true`: nothing is installed (an embedding program keeps
//!    its own subscriber).
//! 2. `--background` or `--logdir DIR`: INFO and above, appended to `DIR/luigi-server.log`.
//! 3. `[core] logging_conf_file`: a Python `fileConfig` file. It must exist, as in Python; we
//!    take the root logger's level (`[logger_root] level`) from it and log to stderr, since
//!    Python handler and formatter classes have no meaning here (a warning says so).
//! 4. A TOML `[logging]` table (Python's `dictConfig`): its `root.level`, to stderr.
//! 5. Otherwise INFO and above to stderr.
//!
//! Lines look like Python's: `2024-05-01 12:00:00,123 luigi.server[4242] INFO: message`. The
//! `RUST_LOG` variable, when set, replaces the level filter (`info`, `luigi.server=debug,warn`,
//! ...); every request is logged at DEBUG, so `RUST_LOG=debug` shows the traffic (Tornado logs
//! each request at INFO; at tens of thousands of requests per second that is not a default).
//!
//! Rotation: Python's background mode rotates the log daily; we append to one file, which
//! `logrotate` with `copytruncate` can rotate (the file is opened in append mode).

use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::Mutex;

use luigi_core::config::{Configuration, Discovery, Syntax};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, Registry};

use super::Error;

/// Installs the process's log subscriber; see the module docs. A subscriber installed earlier
/// (by a test, or the embedding program) is kept.
pub(super) fn setup(config: &Configuration, log_dir: Option<&Path>) -> Result<(), Error> {
    if config.get_bool_or("core", "no_configure_logging", false)? {
        return Ok(());
    }
    let (level, destination) = choose(config, log_dir)?;
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|text| Targets::from_str(&text).ok())
        .unwrap_or_else(|| Targets::new().with_default(level));
    let layer = tracing_subscriber::fmt::layer().event_format(PythonFormat { pid: std::process::id() });
    let layer: Box<dyn Layer<Registry> + Send + Sync> = match destination {
        Destination::Stderr => Box::new(layer.with_writer(std::io::stderr).with_ansi(false).with_filter(filter)),
        Destination::File(file) => Box::new(layer.with_writer(Mutex::new(file)).with_ansi(false).with_filter(filter)),
    };
    let _ = tracing_subscriber::registry().with(layer).try_init();
    flush_pending_warnings();
    Ok(())
}

enum Destination {
    Stderr,
    File(std::fs::File),
}

/// The level and destination the configuration asks for.
fn choose(config: &Configuration, log_dir: Option<&Path>) -> Result<(LevelFilter, Destination), Error> {
    if let Some(dir) = log_dir {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            action: "create the log directory",
            path: dir.to_owned(),
            source,
        })?;
        let path = dir.join("luigi-server.log");
        let file = std::fs::OpenOptions::new().create(true).append(true).open(&path).map_err(|source| Error::Io {
            action: "open the log file",
            path: path.clone(),
            source,
        })?;
        return Ok((LevelFilter::INFO, Destination::File(file)));
    }
    let conf_file = config.get_str("core", "logging_conf_file")?.filter(|path| !path.is_empty());
    if let Some(path) = conf_file {
        let path = Path::new(&path);
        if !path.exists() {
            return Err(Error::LoggingConfMissing(path.to_owned()));
        }
        let mut python = Configuration::empty(Syntax::Cfg, Discovery::system());
        python.add_config_path(path)?;
        let level = python.get_str("logger_root", "level")?.and_then(|name| python_level(&name));
        warn_later(format!(
            "[core] logging_conf_file {}: luigid uses only its root level; handlers and formatters are Python's",
            path.display()
        ));
        return Ok((level.unwrap_or(LevelFilter::INFO), Destination::Stderr));
    }
    if let Some(table) = config.logging_table() {
        let level = table
            .get("root")
            .and_then(|root| root.get("level"))
            .and_then(|level| level.as_str())
            .and_then(python_level);
        warn_later("the [logging] table: luigid uses only root.level; handlers and formatters are Python's".into());
        return Ok((level.unwrap_or(LevelFilter::INFO), Destination::Stderr));
    }
    Ok((LevelFilter::INFO, Destination::Stderr))
}

/// Logs a warning once the subscriber exists (called while choosing it).
fn warn_later(message: String) {
    PENDING.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(message);
}

static PENDING: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Emits the warnings gathered while choosing the subscriber.
fn flush_pending_warnings() {
    let pending = std::mem::take(&mut *PENDING.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
    for message in pending {
        tracing::warn!(target: "luigi.server", "{message}");
    }
}

/// A Python logging level name as a filter.
fn python_level(name: &str) -> Option<LevelFilter> {
    match name.trim().to_ascii_uppercase().as_str() {
        "NOTSET" => Some(LevelFilter::TRACE),
        "DEBUG" => Some(LevelFilter::DEBUG),
        "INFO" => Some(LevelFilter::INFO),
        "WARNING" | "WARN" => Some(LevelFilter::WARN),
        "ERROR" | "CRITICAL" | "FATAL" => Some(LevelFilter::ERROR),
        _ => None,
    }
}

/// Python luigid's format: `%(asctime)s %(name)s[%(process)s] %(levelname)s: %(message)s`.
struct PythonFormat {
    pid: u32,
}

impl<S, N> FormatEvent<S, N> for PythonFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let now = chrono::Local::now().format("%Y-%m-%d %H:%M:%S,%3f");
        let metadata = event.metadata();
        write!(writer, "{now} {}[{}] {}: ", metadata.target(), self.pid, level_name(*metadata.level()))?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::TRACE => "TRACE",
        Level::DEBUG => "DEBUG",
        Level::INFO => "INFO",
        Level::WARN => "WARNING",
        Level::ERROR => "ERROR",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(text: &str) -> Configuration {
        let mut config = Configuration::empty(Syntax::Cfg, Discovery::system());
        config.read_str(text, Path::new("luigi.cfg")).unwrap();
        config
    }

    #[test]
    fn precedence() {
        let dir = tempfile::tempdir().unwrap();
        // --logdir wins over everything and creates the directory.
        let logs = dir.path().join("logs");
        let (level, destination) = choose(&cfg("[core]\nlogging_conf_file = /nonexistent\n"), Some(&logs)).unwrap();
        assert_eq!(level, LevelFilter::INFO);
        assert!(matches!(destination, Destination::File(_)));
        assert!(logs.join("luigi-server.log").exists());

        // A missing logging_conf_file is an error, as in Python; an empty one is no file.
        let err = choose(&cfg("[core]\nlogging_conf_file = /nonexistent/logging.cfg\n"), None).err().unwrap();
        assert!(err.to_string().contains("/nonexistent/logging.cfg"), "{err}");
        let (level, _) = choose(&cfg("[core]\nlogging_conf_file =\n"), None).unwrap();
        assert_eq!(level, LevelFilter::INFO);

        // The root level of a fileConfig file.
        let conf = dir.path().join("logging.cfg");
        std::fs::write(&conf, "[loggers]\nkeys=root\n[logger_root]\nlevel=WARNING\nhandlers=h\n").unwrap();
        let text = format!("[core]\nlogging_conf_file = {}\n", conf.display());
        let (level, destination) = choose(&cfg(&text), None).unwrap();
        assert_eq!(level, LevelFilter::WARN);
        assert!(matches!(destination, Destination::Stderr));

        // A TOML [logging] table.
        let mut toml = Configuration::empty(Syntax::Toml, Discovery::system());
        toml.read_str("[logging]\nversion = 1\n[logging.root]\nlevel = \"DEBUG\"\n", Path::new("luigi.toml")).unwrap();
        assert_eq!(choose(&toml, None).unwrap().0, LevelFilter::DEBUG);

        assert_eq!(choose(&cfg(""), None).unwrap().0, LevelFilter::INFO);
        flush_pending_warnings();
    }

    #[test]
    fn python_levels() {
        assert_eq!(python_level("warning"), Some(LevelFilter::WARN));
        assert_eq!(python_level(" CRITICAL "), Some(LevelFilter::ERROR));
        assert_eq!(python_level("NOTSET"), Some(LevelFilter::TRACE));
        assert_eq!(python_level("loud"), None);
        assert_eq!(level_name(Level::WARN), "WARNING");
    }
}
