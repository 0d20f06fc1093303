//! [`HistoryStore`]: the task history the engine records into and the pages read from.
//!
//! Recording and reading are separate paths. [`TaskHistory::record`] only puts the record on a
//! bounded queue (`try_send`, no lock, no I/O) and returns; a dedicated writer thread (`writer.rs`)
//! owns the write connection and commits records in batches. When the queue is full, the record is
//! dropped and counted, with a warning at most every ten seconds: a slow database must never stall
//! the scheduler. Reads (the query methods) use a second connection opened on first use, so a long
//! page query never delays writes; for an in-memory SQLite database, which exists only inside its
//! one connection, reader and writer share that connection behind a mutex.
//!
//! The query methods block. From async code call them through `tokio::task::spawn_blocking`, as the
//! web pages do; the PostgreSQL client in particular refuses to run on an async executor thread.

use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::db::{Conn, Database, SharedSqlite, epoch_to_local};
use super::query::{self, Execution, Family, Page, Paged, RunDetail, RunSummary};
use super::writer::{Msg, RateLimit, Record, Stats, Writer};
use super::{Error, HistoryConfig, HistoryEvent, HistoryTask, TaskHistory};
use crate::clock::Clock;
use crate::history::url::DbUrl;

/// How far back `/history` looks, as in Luigi.
const RECENT_WINDOW_SECS: f64 = 24.0 * 3600.0;

/// Counters describing the store's work since it was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HistoryStats {
    /// Records accepted by `record`.
    pub queued: u64,
    /// Records written to the database.
    pub written: u64,
    /// Records dropped by `record` because the queue was full.
    pub dropped: u64,
    /// Records the writer could not write (database errors).
    pub failed: u64,
}

/// Task history kept in SQLite or PostgreSQL, in Luigi's schema.
pub struct HistoryStore {
    /// The queue to the writer; `None` only while dropping.
    tx: Option<SyncSender<Msg>>,
    writer: Option<JoinHandle<()>>,
    stats: Arc<Stats>,
    drop_warn: RateLimit,
    url: DbUrl,
    /// The reading connection, opened on first use.
    reader: Mutex<Option<Database>>,
    /// The in-memory SQLite connection shared with the writer.
    shared: Option<SharedSqlite>,
    clock: Arc<dyn Clock>,
}

impl HistoryStore {
    /// Opens the database, creates or upgrades Luigi's tables, and starts the writer thread. Blocks
    /// until the database is ready (the connection is made on the writer thread, so this is safe to
    /// call from async code at start-up).
    ///
    /// # Errors
    ///
    /// The database cannot be opened or connected to, or its tables cannot be created or upgraded.
    pub fn open(config: HistoryConfig) -> Result<HistoryStore, Error> {
        let HistoryConfig { url, queue_size, batch_size, clock } = config;
        let stats = Arc::new(Stats::default());
        let (tx, rx) = mpsc::sync_channel(queue_size.max(1));
        let (ready_tx, ready_rx) = mpsc::sync_channel(1);
        let writer_url = url.clone();
        let writer_stats = Arc::clone(&stats);
        let writer = std::thread::Builder::new()
            .name("luigi-history".to_owned())
            .spawn(move || match Writer::open(writer_url, writer_stats, batch_size) {
                Ok((writer, shared)) => {
                    // The opener waits for this; if it has gone, nobody will send records either.
                    if ready_tx.send(Ok(shared)).is_ok() {
                        writer.run(rx);
                    }
                }
                Err(err) => {
                    let _ = ready_tx.send(Err(err));
                }
            })
            .map_err(|e| Error::Open { target: url.to_string(), source: Box::new(e) })?;
        let shared = match ready_rx.recv() {
            Ok(result) => result?,
            Err(_) => {
                return Err(Error::Stopped { reason: "the writer thread ended while opening the database".to_owned() });
            }
        };
        tracing::info!(database = %url, "recording task history");
        Ok(HistoryStore {
            tx: Some(tx),
            writer: Some(writer),
            stats,
            drop_warn: RateLimit::new(Duration::from_secs(10)),
            url,
            reader: Mutex::new(None),
            shared,
            clock,
        })
    }

    /// The database this store uses.
    pub fn url(&self) -> &DbUrl {
        &self.url
    }

    /// What the store has done so far.
    pub fn stats(&self) -> HistoryStats {
        HistoryStats {
            queued: self.stats.queued.load(Ordering::Relaxed),
            written: self.stats.written.load(Ordering::Relaxed),
            dropped: self.stats.dropped.load(Ordering::Relaxed),
            failed: self.stats.failed.load(Ordering::Relaxed),
        }
    }

    /// Waits until every record queued before this call has been written (or has failed). Blocks,
    /// and may wait for queue space; meant for shutdown and tests, not for the scheduler's hot path.
    ///
    /// # Errors
    ///
    /// [`Error::Stopped`] when the writer thread is gone.
    pub fn flush(&self) -> Result<(), Error> {
        let stopped = || Error::Stopped { reason: "the writer thread has exited".to_owned() };
        let tx = self.tx.as_ref().ok_or_else(stopped)?;
        let (done_tx, done_rx) = mpsc::sync_channel(1);
        tx.send(Msg::Flush(done_tx)).map_err(|_| stopped())?;
        done_rx.recv().map_err(|_| stopped())
    }

    /// Runs `f` on the reading connection, opening (or reopening a lost) connection first.
    fn read<R>(&self, mut f: impl FnMut(&mut dyn Conn) -> Result<R, Error>) -> Result<R, Error> {
        let mut guard = self.reader.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for attempt in 0..2 {
            let db = match guard.take() {
                Some(db) if !db.is_broken() => guard.insert(db),
                _ => guard.insert(Database::open(&self.url, self.shared.as_ref())?),
            };
            match db.read(&mut f) {
                Err(err) if attempt == 0 && db.is_broken() => {
                    tracing::debug!(error = %err, "task history read connection lost; reconnecting");
                }
                other => return other,
            }
        }
        Err(Error::Stopped { reason: "the task history database connection keeps failing".to_owned() })
    }

    /// Runs with an event in the 24 hours before the store's clock reads now, newest activity first:
    /// what `/history` shows.
    ///
    /// # Errors
    ///
    /// A database error.
    pub fn recent_runs(&self, page: Page) -> Result<Paged<RunSummary>, Error> {
        let since = epoch_to_local(self.clock.now() - RECENT_WINDOW_SECS);
        self.read(|conn| query::recent_runs(conn, since, page))
    }

    /// Runs of task family `name`, newest activity first.
    ///
    /// # Errors
    ///
    /// A database error.
    pub fn runs_by_name(&self, name: &str, page: Page) -> Result<Paged<RunSummary>, Error> {
        self.read(|conn| query::runs_by_params(conn, name, &[], page))
    }

    /// Runs of task family `name` having every parameter in `params` with exactly that value (values
    /// compare as the serialized strings Luigi stores), newest activity first.
    ///
    /// # Errors
    ///
    /// More than [`query::MAX_MATCH_PARAMS`] parameters, or a database error.
    pub fn runs_by_params(
        &self,
        name: &str,
        params: &[(String, String)],
        page: Page,
    ) -> Result<Paged<RunSummary>, Error> {
        self.read(|conn| query::runs_by_params(conn, name, params, page))
    }

    /// One run by row id, with page `events` of its events (newest first); `None` when there is no
    /// such row.
    ///
    /// # Errors
    ///
    /// A database error.
    pub fn run(&self, id: i64, events: Page) -> Result<Option<RunDetail>, Error> {
        self.read(|conn| query::run(conn, id, events))
    }

    /// The newest run of Luigi task id `task_id`.
    ///
    /// # Errors
    ///
    /// A database error.
    pub fn latest_run_for_task_id(&self, task_id: &str, events: Page) -> Result<Option<RunDetail>, Error> {
        self.read(|conn| query::latest_run_for_task_id(conn, task_id, events))
    }

    /// Every recorded task family with its number of runs, by name.
    ///
    /// # Errors
    ///
    /// A database error.
    pub fn families(&self, page: Page) -> Result<Paged<Family>, Error> {
        self.read(|conn| query::families(conn, page))
    }

    /// The executions (`RUNNING` events and their outcome) of family `name`, newest first.
    ///
    /// # Errors
    ///
    /// A database error.
    pub fn timeline(&self, name: &str, page: Page) -> Result<Paged<Execution>, Error> {
        self.read(|conn| query::timeline(conn, name, page))
    }
}

impl TaskHistory for HistoryStore {
    fn record(&self, task: HistoryTask, event: HistoryEvent, host: Option<String>, at: f64) {
        let Some(tx) = &self.tx else { return };
        match tx.try_send(Msg::Record(Record { task, event, host, at })) {
            Ok(()) => {
                self.stats.queued.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                let total = self.stats.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                if self.drop_warn.allow() {
                    tracing::warn!(
                        database = %self.url,
                        dropped_total = total,
                        "task history queue is full; dropping records (the database is slower than the scheduler; \
                         raise [task_history] queue_size or use a faster database)"
                    );
                }
            }
        }
    }
}

impl Drop for HistoryStore {
    fn drop(&mut self) {
        // Closing the queue lets the writer write what is left and exit.
        self.tx = None;
        if let Some(writer) = self.writer.take()
            && writer.join().is_err()
        {
            tracing::warn!("the task history writer thread panicked");
        }
        // A PostgreSQL client owns a small runtime that must not be dropped on an async executor
        // thread, and a store is often dropped on one; drop the reader on a plain thread.
        let reader = self.reader.get_mut().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
        if let Some(reader @ Database::Postgres(_)) = reader {
            let _ = std::thread::spawn(move || drop(reader)).join();
        }
    }
}

impl std::fmt::Debug for HistoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HistoryStore").field("url", &self.url).field("stats", &self.stats()).finish_non_exhaustive()
    }
}
