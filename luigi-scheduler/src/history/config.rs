//! Task-history settings: whether history is on, where it is kept, and how the writer queue is sized.
//!
//! Luigi reads `[scheduler] record_task_history` and `[task_history] db_connection` and fails at start
//! when history is on without a URL. We instead default to an SQLite file beside the scheduler's
//! state file (`[scheduler] state_path`), named [`DEFAULT_DB_FILE`], so turning history on is one
//! line. Two luigi-rs options size the writer: `[task_history] queue_size` and `batch_size`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use luigi_core::config::Configuration;

use super::Error;
use super::url::{DbUrl, SqliteLocation};
use crate::clock::{Clock, SystemClock};

/// The default database file name, created in the state file's directory.
pub const DEFAULT_DB_FILE: &str = "luigi-task-history.db";
/// Records the queue holds before `record` starts dropping them.
pub const DEFAULT_QUEUE_SIZE: usize = 65_536;
/// Records written per transaction at most.
pub const DEFAULT_BATCH_SIZE: usize = 1_000;
/// Luigi's default `[scheduler] state_path`.
const DEFAULT_STATE_PATH: &str = "/var/lib/luigi-server/state.pickle";

/// How to open a [`HistoryStore`](super::HistoryStore).
#[derive(Clone)]
pub struct HistoryConfig {
    /// The database.
    pub url: DbUrl,
    /// How many records may wait for the writer; beyond that `record` drops them (never blocks).
    pub queue_size: usize,
    /// How many records the writer puts in one transaction at most.
    pub batch_size: usize,
    /// Where "now" comes from for `/history`'s last-24-hours window (tests use a manual clock).
    pub clock: Arc<dyn Clock>,
}

impl HistoryConfig {
    /// Settings for `url` with default queue and batch sizes and the system clock.
    pub fn new(url: DbUrl) -> HistoryConfig {
        HistoryConfig {
            url,
            queue_size: DEFAULT_QUEUE_SIZE,
            batch_size: DEFAULT_BATCH_SIZE,
            clock: Arc::new(SystemClock),
        }
    }

    /// Reads `[scheduler] record_task_history`, `[task_history] db_connection` (defaulting to
    /// [`HistoryConfig::default_db_path`] of `[scheduler] state_path`), `[task_history] queue_size` and
    /// `batch_size`. `None` when history is off.
    ///
    /// # Errors
    ///
    /// A configuration value of the wrong type, a malformed or unsupported URL, or a size below 1.
    pub fn from_config(config: &Configuration) -> Result<Option<HistoryConfig>, Error> {
        if !config.get_bool_or("scheduler", "record_task_history", false)? {
            return Ok(None);
        }
        let url = match config.get_str("task_history", "db_connection")?.filter(|s| !s.trim().is_empty()) {
            Some(url) => DbUrl::parse(&url)?,
            None => {
                let state_path = config.get_str_or("scheduler", "state_path", DEFAULT_STATE_PATH)?;
                let path = HistoryConfig::default_db_path(Path::new(&state_path));
                tracing::info!(path = %path.display(), "no [task_history] db_connection; keeping task history in SQLite");
                DbUrl::Sqlite(SqliteLocation::File(path))
            }
        };
        let mut out = HistoryConfig::new(url);
        out.queue_size = size(config, "queue_size", DEFAULT_QUEUE_SIZE)?;
        out.batch_size = size(config, "batch_size", DEFAULT_BATCH_SIZE)?;
        Ok(Some(out))
    }

    /// The default database file: [`DEFAULT_DB_FILE`] in the directory of `state_path`.
    pub fn default_db_path(state_path: &Path) -> PathBuf {
        state_path.parent().unwrap_or(Path::new("")).join(DEFAULT_DB_FILE)
    }
}

fn size(config: &Configuration, option: &str, default: usize) -> Result<usize, Error> {
    let value = config.get_int_or("task_history", option, default as i64)?;
    usize::try_from(value).ok().filter(|&n| n >= 1).ok_or_else(|| Error::Setting {
        option: format!("[task_history] {option}"),
        reason: format!("{value} is not a positive number"),
    })
}

impl std::fmt::Debug for HistoryConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HistoryConfig")
            .field("url", &self.url)
            .field("queue_size", &self.queue_size)
            .field("batch_size", &self.batch_size)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use luigi_core::config::{Discovery, Syntax};

    fn config(text: &str) -> Configuration {
        let mut config = Configuration::empty(Syntax::Cfg, Discovery::default());
        config.read_str(text, Path::new("luigi.cfg")).unwrap();
        config
    }

    #[test]
    fn off_by_default() {
        assert!(HistoryConfig::from_config(&config("[task_history]\ndb_connection = sqlite://\n")).unwrap().is_none());
        assert!(HistoryConfig::from_config(&config("[scheduler]\nrecord_task_history = false\n")).unwrap().is_none());
    }

    #[test]
    fn url_from_config() {
        let c = config(
            "[scheduler]\nrecord_task_history = true\n[task_history]\ndb_connection = postgresql://u@h/d\nqueue_size = 10\n",
        );
        let c = HistoryConfig::from_config(&c).unwrap().unwrap();
        assert_eq!(c.url.to_string(), "postgresql://u@h/d");
        assert_eq!((c.queue_size, c.batch_size), (10, DEFAULT_BATCH_SIZE));
    }

    #[test]
    fn default_is_sqlite_beside_the_state_file() {
        let c = config("[scheduler]\nrecord_task_history = True\nstate_path = /srv/luigi/state.pickle\n");
        let c = HistoryConfig::from_config(&c).unwrap().unwrap();
        assert_eq!(c.url, DbUrl::Sqlite(SqliteLocation::File(PathBuf::from("/srv/luigi/luigi-task-history.db"))));
        let c = HistoryConfig::from_config(&config("[scheduler]\nrecord_task_history = 1\n")).unwrap().unwrap();
        assert_eq!(c.url.to_string(), "sqlite:////var/lib/luigi-server/luigi-task-history.db");
        assert_eq!(HistoryConfig::default_db_path(Path::new("state.pickle")), PathBuf::from("luigi-task-history.db"));
    }

    #[test]
    fn bad_settings() {
        let bad = |text: &str| HistoryConfig::from_config(&config(text)).unwrap_err();
        assert!(matches!(
            bad("[scheduler]\nrecord_task_history = true\n[task_history]\ndb_connection = mysql://r@h/t\n"),
            Error::UnsupportedUrl { .. }
        ));
        assert!(matches!(
            bad("[scheduler]\nrecord_task_history = true\n[task_history]\nqueue_size = 0\n"),
            Error::Setting { .. }
        ));
        assert!(matches!(bad("[scheduler]\nrecord_task_history = maybe\n"), Error::Config(_)));
    }
}
