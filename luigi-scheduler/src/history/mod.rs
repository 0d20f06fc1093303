//! Task history: a record of every task's status changes, kept in a database
//! (`[scheduler] record_task_history = true`, `[task_history] db_connection = ...`), and the
//! `/history` and `/tasklist` pages that show it.
//!
//! The engine reports each change through [`TaskHistory::record`] while it holds its state
//! lock, so implementations must return immediately (queue the record and write it on another
//! thread); a history that is slow or failing never slows down or fails scheduling, as in
//! Luigi, where history errors are logged and ignored.
//!
//! The parts, from the engine outwards:
//!
//! - [`HistoryStore`] (`store.rs`) implements [`TaskHistory`]: a bounded queue in front of a writer
//!   thread (`writer.rs`) that applies Luigi's recording rules and commits in batches; it also answers
//!   the page queries (`query.rs`) on a separate connection.
//! - `db.rs` hides the two backends, SQLite and PostgreSQL, behind one small connection interface;
//!   `schema.rs` creates Luigi's three tables and applies Luigi's upgrades for older databases, so
//!   Python's luigid and ours can share one database.
//! - [`DbUrl`] (`url.rs`) parses SQLAlchemy URLs; [`HistoryConfig`] (`config.rs`) reads the settings.
//! - [`router`] (`web.rs`, `page.rs`) serves the pages as HTML, and as JSON with `?format=json`;
//!   [`disabled_router`] answers the same paths with a clear 404 when history is off.
//!
//! See `docs/task-history.md` for configuration, URLs and the differences from Luigi.

mod config;
mod db;
mod page;
mod query;
mod schema;
mod store;
mod url;
mod web;
mod writer;

use luigi_core::BoxError;

pub use config::{DEFAULT_BATCH_SIZE, DEFAULT_DB_FILE, DEFAULT_QUEUE_SIZE, HistoryConfig};
pub use query::{
    DEFAULT_PER_PAGE, Event, Execution, Family, MAX_MATCH_PARAMS, MAX_PARAMS, MAX_PER_PAGE, Page, Paged, Parameters,
    RunDetail, RunSummary, Timestamp,
};
pub use store::{HistoryStats, HistoryStore};
pub use url::{DbUrl, PostgresUrl, SqliteLocation};
pub use web::{DISABLED_MESSAGE, disabled_router, router};

/// A task-history error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `db_connection` names a database we do not support.
    #[error("task history database `{scheme}://...` is not supported; use {supported}")]
    UnsupportedUrl {
        /// The URL's scheme, e.g. `mysql+pymysql`.
        scheme: String,
        /// The forms we accept.
        supported: &'static str,
    },
    /// `db_connection` is malformed.
    #[error("invalid task history database URL `{url}`: {reason}")]
    InvalidUrl {
        /// The URL, password hidden.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A `[task_history]` setting is out of range.
    #[error("invalid {option}: {reason}")]
    Setting {
        /// The option, e.g. `[task_history] queue_size`.
        option: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The configuration could not be read.
    #[error(transparent)]
    Config(#[from] luigi_core::config::Error),
    /// The database could not be opened or connected to.
    #[error("cannot open the task history database {target}: {source}")]
    Open {
        /// The database URL, password hidden.
        target: String,
        /// Why.
        #[source]
        source: BoxError,
    },
    /// An SQLite statement failed.
    #[error("task history SQLite error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A PostgreSQL statement failed or the connection was lost.
    #[error("task history PostgreSQL error: {0}")]
    Postgres(#[from] postgres::Error),
    /// A query could not be run as asked.
    #[error("invalid task history query: {reason}")]
    Query {
        /// Why.
        reason: String,
    },
    /// A column held a value of a type the history tables never hold; the database was changed by
    /// something other than Luigi.
    #[error("unexpected value {found} in task history column {column}; was the table changed by another program?")]
    Corrupt {
        /// The column.
        column: &'static str,
        /// The value found.
        found: String,
    },
    /// The writer thread is not running or the database connection is gone.
    #[error("task history is unavailable: {reason}")]
    Stopped {
        /// Why.
        reason: String,
    },
}

/// The task a history record is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryTask {
    /// The Luigi task id.
    pub task_id: String,
    /// The task family.
    pub family: String,
    /// Every parameter the worker sent (hidden ones included), in the order sent.
    pub params: Vec<(String, String)>,
}

/// The status change being recorded (Luigi's `task_events.event_name`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HistoryEvent {
    /// The task was (re-)scheduled: `PENDING`.
    Pending,
    /// A worker started it: `RUNNING`.
    Running,
    /// It finished successfully: `DONE`.
    Done,
    /// It failed: `FAILED`.
    Failed,
}

impl HistoryEvent {
    /// The event name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            HistoryEvent::Pending => "PENDING",
            HistoryEvent::Running => "RUNNING",
            HistoryEvent::Done => "DONE",
            HistoryEvent::Failed => "FAILED",
        }
    }
}

/// Where the engine sends history records.
pub trait TaskHistory: Send + Sync + 'static {
    /// Records `event` for `task` at time `at` (seconds since the epoch), on `host` when known
    /// (the host of the worker that started it). Must not block.
    fn record(&self, task: HistoryTask, event: HistoryEvent, host: Option<String>, at: f64);
}
