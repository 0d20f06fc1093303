//! Logging for `luigi` runs: `tracing` events printed the way Python Luigi's `logging` setup
//! would print them, configured from the same places, in Luigi's order (inventory §6.3, §8):
//!
//! 1. `[core] no_configure_logging = true`: nothing is installed; the program's own
//!    subscriber, if any, sees everything.
//! 2. `--logging-conf-file FILE` / `[core] logging_conf_file`: a Python `fileConfig` INI file
//!    ([`fileconfig`] lists the subset understood). A missing file is an error, as in Python.
//! 3. The `[logging]` table of `luigi.toml` (Python's `dictConfig`, [`dictconfig`]).
//! 4. Otherwise `--log-level` / `[core] log_level` (default `DEBUG`): every event at that
//!    level or above on stderr as `INFO: message`.
//!
//! `RUST_LOG` (`info`, `luigi-interface=debug,warn`, ...), when set, replaces the loggers'
//! levels in every case, so a developer can turn up one crate without editing configuration.
//!
//! How it fits: `spec` is the model both formats produce, `format` renders Python format
//! strings, `router` is the `tracing` layer that applies levels, handlers and propagation.
//! Console output goes through `output`, which prints above the live progress display
//! (`crate::progress`) instead of through it. Key decision: one layer interprets a
//! Python-shaped model, rather than a stack of `tracing-subscriber` fmt layers, because Python's
//! per-handler levels and logger propagation do not map onto per-layer filters.
//!
//! Difference from Python Luigi: without a logging configuration Luigi prints only its own
//! `luigi-interface` logger at `log_level` (other loggers' warnings reach stderr bare); we print
//! every target at `log_level` in the same format, so a task's own `tracing` events show up too.

pub mod dictconfig;
pub mod fileconfig;
mod format;
mod router;
mod spec;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};

use luigi_core::config::{Configuration, Core};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

pub use dictconfig::DictConfigError;
pub use fileconfig::FileConfigError;

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `logging_conf_file` names a file that does not exist.
    #[error("cannot find the logging configuration file {0} (set by --logging-conf-file or [core] logging_conf_file)")]
    NoConfFile(PathBuf),
    /// The configuration file cannot be read.
    #[error("cannot read the logging configuration file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The `fileConfig` file is wrong or uses something unsupported.
    #[error("logging configuration file {0}")]
    FileConfig(#[from] FileConfigError),
    /// The TOML `[logging]` table is wrong or uses something unsupported.
    #[error("logging configuration {0}")]
    DictConfig(#[from] DictConfigError),
    /// `log_level` is not a level.
    #[error("[core] log_level: {0}")]
    Level(String),
    /// A handler's file cannot be opened.
    #[error("cannot open the log file {path} of handler `{handler}`: {source}")]
    Open {
        /// The handler's name.
        handler: String,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// `[core] no_configure_logging` cannot be read.
    #[error(transparent)]
    Config(#[from] luigi_core::config::Error),
}

/// What [`setup`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Installed {
    /// `[core] no_configure_logging` is set.
    Nothing,
    /// Our subscriber is the process's.
    Ours,
    /// A subscriber was installed earlier (by the program, a test, or an earlier call) and
    /// was kept.
    Existing,
}

/// Whether our subscriber is installed, so console output goes through [`output`].
static OURS: AtomicBool = AtomicBool::new(false);

/// Whether this process's log output is ours (and so prints above a progress display).
pub(crate) fn is_ours() -> bool {
    OURS.load(Ordering::SeqCst)
}

/// What the configuration asks for: `None` for `no_configure_logging`.
fn choose(config: &Configuration, core: &Core) -> Result<Option<spec::Spec>, Error> {
    if config.get_bool_or("core", "no_configure_logging", false)? {
        return Ok(None);
    }
    if !core.logging_conf_file.is_empty() {
        let path = Path::new(&core.logging_conf_file);
        if !path.exists() {
            return Err(Error::NoConfFile(path.to_owned()));
        }
        return Ok(Some(fileconfig::load(path)?));
    }
    if let Some(table) = config.logging_table() {
        return Ok(Some(dictconfig::parse(&table)?));
    }
    let level = spec::parse_level(&core.log_level).map_err(Error::Level)?;
    Ok(Some(spec::Spec::default_console(level)))
}

/// Installs the process's log subscriber from `config` and the `[core]` options (which carry
/// `--log-level` and `--logging-conf-file`); see the module docs for the order. Errors are
/// configuration mistakes; a subscriber installed earlier is kept ([`Installed::Existing`]).
pub fn setup(config: &Configuration, core: &Core) -> Result<Installed, Error> {
    let Some(spec) = choose(config, core)? else { return Ok(Installed::Nothing) };
    let rust_log = std::env::var("RUST_LOG").ok().filter(|text| !text.trim().is_empty());
    let (targets, bad_rust_log) = match rust_log.as_deref().map(Targets::from_str) {
        Some(Ok(targets)) => (Some(targets), None),
        Some(Err(err)) => (None, Some(err)),
        None => (None, None),
    };
    let router = router::Router::new(spec, targets)?;
    if tracing_subscriber::registry().with(router).try_init().is_err() {
        return Ok(Installed::Existing);
    }
    OURS.store(true, Ordering::SeqCst);
    if let Some(err) = bad_rust_log {
        tracing::warn!(target: "luigi-interface", "RUST_LOG is ignored: {err}");
    }
    Ok(Installed::Ours)
}

/// Console output that shares the terminal with the progress display, written in batches.
///
/// Log lines are appended to a buffer and written by a background thread that waits
/// [`COALESCE`](output::COALESCE) after the first line of a batch, so a busy run makes one
/// `write` per batch instead of one per line. A worker logs three lines per task; into a pipe
/// (a service manager, `| tee`, a benchmark) each write also woke the reader, which cost about
/// a third of a million-task run on two cores. Lines appear at most a few milliseconds late;
/// [`flush`](output::flush) writes what is pending at once and runs when a run ends, when the
/// `luigi` command exits, and on a panic, so nothing is lost on the way out. While a progress
/// display is shown, each batch clears it, prints, and lets it redraw below.
pub(crate) mod output {
    use std::io::Write;
    use std::sync::{Condvar, Mutex, Once};
    use std::time::Duration;

    /// How long the writer thread lets lines gather after the first of a batch.
    pub(crate) const COALESCE: Duration = Duration::from_millis(5);

    /// Bytes queued at most before a logging thread writes them itself.
    const MAX_QUEUED: usize = 64 * 1024;

    static BAR: Mutex<Option<indicatif::ProgressBar>> = Mutex::new(None);
    /// Text not yet written, in order, as runs of one stream (`true`: stdout).
    static PENDING: Mutex<Vec<(bool, String)>> = Mutex::new(Vec::new());
    static WAKE: Condvar = Condvar::new();
    /// Held while a batch is taken and written, so batches reach the streams in order.
    static WRITING: Mutex<()> = Mutex::new(());
    static WRITER: Once = Once::new();
    /// Whether the writer thread runs; without it, output is written at once.
    static BATCHING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

    /// Sets (or, with `None`, clears) the display that output must print above.
    pub(crate) fn set_progress_bar(bar: Option<indicatif::ProgressBar>) {
        flush();
        *BAR.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = bar;
    }

    /// Queues `text` for stdout or stderr.
    pub(crate) fn write_stream(stdout: bool, text: &str) {
        WRITER.call_once(start_writer);
        if !BATCHING.load(std::sync::atomic::Ordering::SeqCst) {
            let _writing = WRITING.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            write_now(&[(stdout, text.to_owned())]);
            return;
        }
        let mut pending = PENDING.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let was_empty = pending.is_empty();
        match pending.last_mut() {
            Some((stream, run)) if *stream == stdout => run.push_str(text),
            _ => pending.push((stdout, text.to_owned())),
        }
        let queued: usize = pending.iter().map(|(_, run)| run.len()).sum();
        drop(pending);
        if queued > MAX_QUEUED {
            // The writer thread is falling behind (both cores busy): write here rather than
            // let the queue grow.
            flush();
        } else if was_empty {
            WAKE.notify_one();
        }
    }

    /// Writes everything queued so far, before returning.
    pub(crate) fn flush() {
        let _writing = WRITING.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let batch = std::mem::take(&mut *PENDING.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
        write_now(&batch);
    }

    fn start_writer() {
        let spawned = std::thread::Builder::new().name("luigi-log-writer".into()).spawn(|| {
            loop {
                let mut pending = PENDING.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                while pending.is_empty() {
                    pending = WAKE.wait(pending).unwrap_or_else(|poisoned| poisoned.into_inner());
                }
                drop(pending);
                std::thread::sleep(COALESCE);
                flush();
            }
        });
        if spawned.is_ok() {
            BATCHING.store(true, std::sync::atomic::Ordering::SeqCst);
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                flush();
                previous(info);
            }));
        }
    }

    fn write_now(batch: &[(bool, String)]) {
        if batch.is_empty() {
            return;
        }
        let write = || {
            for (stdout, text) in batch {
                if *stdout {
                    let mut out = std::io::stdout().lock();
                    let _ = out.write_all(text.as_bytes());
                    let _ = out.flush();
                } else {
                    let _ = std::io::stderr().lock().write_all(text.as_bytes());
                }
            }
        };
        // Clone the handle so the lock is not held while the display redraws.
        let bar = BAR.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
        match bar {
            Some(bar) => bar.suspend(write),
            None => write(),
        }
    }
}

/// Writes every log line still waiting to be printed (they are written in batches, a few
/// milliseconds late). [`crate::main`] and [`crate::build`] call it before they return; a
/// program that logs through our subscriber and exits by other means should call it first.
pub fn flush() {
    output::flush();
}

#[cfg(test)]
mod tests {
    use super::*;
    use luigi_core::TaskParams;
    use luigi_core::config::{Discovery, Syntax};
    use luigi_core::param::{ParamArgs, ParamContext};
    use std::sync::Arc;

    fn config(syntax: Syntax, text: &str) -> Arc<Configuration> {
        let mut config = Configuration::empty(syntax, Discovery::system());
        let name = if syntax == Syntax::Toml { "luigi.toml" } else { "luigi.cfg" };
        config.read_str(text, Path::new(name)).unwrap();
        Arc::new(config)
    }

    fn core(config: &Arc<Configuration>) -> Core {
        Core::from_args(&ParamContext::new(Arc::clone(config)), &ParamArgs::new()).unwrap()
    }

    fn chosen(config: &Arc<Configuration>) -> Result<Option<spec::Spec>, Error> {
        choose(config, &core(config))
    }

    #[test]
    fn precedence() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("logging.cfg");
        std::fs::write(&file, "[loggers]\nkeys=root\n[logger_root]\nlevel=ERROR\n").unwrap();
        let table = "[logging]\nversion = 1\n[logging.root]\nlevel = \"INFO\"\n";

        // no_configure_logging wins over everything.
        let text = format!("[core]\nno_configure_logging = true\nlogging_conf_file = {}\n", file.display());
        assert!(chosen(&config(Syntax::Cfg, &text)).unwrap().is_none());

        // The conf file wins over the [logging] table and log_level.
        let text = format!("[core]\nlogging_conf_file = \"{}\"\nlog_level = \"DEBUG\"\n{table}", file.display());
        let spec = chosen(&config(Syntax::Toml, &text)).unwrap().unwrap();
        assert_eq!(spec.loggers[0].level, 40);

        // The table wins over log_level.
        let text = format!("[core]\nlog_level = \"ERROR\"\n{table}");
        assert_eq!(chosen(&config(Syntax::Toml, &text)).unwrap().unwrap().loggers[0].level, 20);

        // log_level, DEBUG by default.
        assert_eq!(
            chosen(&config(Syntax::Cfg, "[core]\nlog_level = WARNING\n")).unwrap().unwrap().loggers[0].level,
            30
        );
        assert_eq!(chosen(&config(Syntax::Cfg, "")).unwrap().unwrap().loggers[0].level, 10);
    }

    #[test]
    fn a_missing_conf_file_is_an_error_naming_it() {
        let err = chosen(&config(Syntax::Cfg, "[core]\nlogging_conf_file = /nonexistent/logging.cfg\n")).err().unwrap();
        assert!(matches!(err, Error::NoConfFile(_)));
        assert!(err.to_string().contains("/nonexistent/logging.cfg"), "{err}");
    }

    #[test]
    fn a_bad_conf_file_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("logging.cfg");
        std::fs::write(&file, "[loggers]\nkeys=root\n[logger_root]\nlevel=LOUD\n").unwrap();
        let text = format!("[core]\nlogging_conf_file = {}\n", file.display());
        let err = chosen(&config(Syntax::Cfg, &text)).err().unwrap().to_string();
        assert!(err.contains(&format!("{}:4: ", file.display())), "{err}");
    }
}
