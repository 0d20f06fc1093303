//! Durable scheduler state: an SQLite database written as the state changes, so that a
//! `kill -9` of `luigid` at any moment loses no DONE, FAILED or DISABLED status and never
//! hands a running task to a second worker after a restart.
//!
//! This module owns the on-disk format. The engine hands it [`ChangeSet`]s — the full current
//! record of every task and worker a call changed, as JSON rows, plus deletions — and a
//! background writer thread applies them in transactions, many calls per transaction (group
//! commit). Each change set gets a sequence number; [`Durability`] tells the HTTP server when
//! a sequence number is on disk, and the server answers a request only then. A crash can
//! therefore lose only changes whose requests were never answered, which workers repeat
//! (Luigi's client retries, and re-announces tasks on the next run).
//!
//! The writer commits when somebody wants the queued changes, not as soon as one arrives: a
//! request first lets every other request the runtime holds queue its changes, then asks
//! (see [`Durability::wait_for`]). Committing on arrival made groups of two or three and
//! woke the writer thread for each, and the wake-ups cost more than the commits. A commit
//! wakes only the requests it covers (each waiter registers its sequence number); a broadcast
//! woke every waiting request, and those whose changes were still queued went back to sleep.
//!
//! Rows are snapshots, not a log: a task's row is its whole record, replaced on every change,
//! so the file never needs compaction and loading is one scan. The database runs in WAL mode
//! with `synchronous=NORMAL`: a committed transaction survives the process being killed (it
//! is in the OS page cache and the WAL); `sync = full` in `[luigid]` makes it survive power
//! loss too, at the cost of an fsync per group.
//!
//! Checkpoints (copying the WAL into the database file, with its fsyncs) run on a second
//! thread with its own connection, so commits never wait for them; the writer checkpoints
//! itself only when the WAL passes [`WRITER_CHECKPOINT_PAGES`], which keeps the WAL bounded
//! under a load that never pauses (a background checkpoint cannot reset a WAL that is being
//! appended to). By then the background thread has copied nearly everything, so that
//! checkpoint is short.
//!
//! Schema version 2: `meta(key, value)` holds `schema_version` and `created_by`;
//! `tasks(seq, id, record)` is keyed by the task's creation sequence number (an integer key:
//! rows created or changed together sit on the same pages, and no index on the text id is
//! maintained, so a commit writes a few pages instead of one per task); `workers(id, record)`,
//! `batchers(worker, family, record)` and `settings(key, value)` hold JSON records. Version 1
//! (`tasks(id, record)`) is migrated on open. A database with a newer schema is refused with a
//! clear message; a file that is not an SQLite database (for example Python luigid's
//! `state.pickle`) is never overwritten.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, params};
use serde::{Deserialize, Serialize};

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = 2;

/// WAL pages after which the writer checkpoints itself (128 MiB with 4 KiB pages); see the
/// module docs. Each of those checkpoints stalls every reply waiting on the writer for a few
/// milliseconds; at 32 MiB they came often enough under load to add a millisecond to the
/// `get_work` p99 (4.0-4.5 ms -> 3.1-3.7 ms at 128 MiB, same build otherwise).
pub const WRITER_CHECKPOINT_PAGES: i64 = 32_768;

/// The least time between two background checkpoints: each one fsyncs, and a busy scheduler
/// commits thousands of times a second.
const CHECKPOINT_PAUSE: Duration = Duration::from_millis(20);

/// Why the state database could not be opened or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// SQLite failed on the database.
    #[error("scheduler state database {path}: {source}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// The SQLite error.
        source: rusqlite::Error,
    },
    /// The file exists but is not a luigi-rs state database.
    #[error(
        "{path} is not a luigi-rs scheduler state database ({what}); move it away or choose another file with \
         --state-path or [scheduler] state_path"
    )]
    Foreign {
        /// The file.
        path: PathBuf,
        /// What it looks like.
        what: &'static str,
    },
    /// The database was written by a newer luigi-rs.
    #[error(
        "{path} has scheduler state schema version {found}, but this luigid understands up to {SCHEMA_VERSION}; \
         run a newer luigid, or move the file away to start with empty state"
    )]
    TooNew {
        /// The file.
        path: PathBuf,
        /// The version found.
        found: i64,
    },
    /// A stored record could not be decoded.
    #[error("{path}: stored {table} record '{id}' is corrupt: {message}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The table.
        table: &'static str,
        /// The row's key.
        id: String,
        /// What is wrong.
        message: String,
    },
    /// The directory could not be created.
    #[error("cannot create the directory for the scheduler state {path}: {source}")]
    Directory {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// How hard to flush.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sync {
    /// Survive process crashes (WAL, `synchronous=NORMAL`).
    #[default]
    Normal,
    /// Survive power loss too (`synchronous=FULL`).
    Full,
}

/// A task's stored record. Fields at their default value are left out (and read back as
/// that default): a typical row shrinks to less than half, and every row is written again
/// on each status change, so this is bytes the writer does not copy, checksum and write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskRow {
    pub(crate) status: luigi_core::status::TaskStatus,
    pub(crate) family: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) module: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) params: Vec<(String, String, bool)>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) visibilities_given: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) deps: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) stakeholders: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) workers: Vec<String>,
    pub(crate) time: f64,
    pub(crate) updated: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) retry: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) remove: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) worker_running: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) time_running: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) resources: Option<luigi_core::rpc::wire::ResourceMap>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) resources_running: Option<luigi_core::rpc::wire::ResourceMap>,
    pub(crate) priority: luigi_core::rpc::wire::Number,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) expl: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) accepts_messages: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) runnable: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) batchable: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) batch_id: Option<String>,
    pub(crate) policy: (i64, i64, i64),
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) failures: Vec<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) first_failure: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) disable_time: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) tracking_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) status_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) progress_percentage: Option<luigi_core::rpc::wire::Number>,
    #[serde(default)]
    pub(crate) created_seq: u64,
    #[serde(default)]
    pub(crate) status_seq: u64,
}

/// A worker's stored record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerRow {
    #[serde(default)]
    pub(crate) host: Option<String>,
    pub(crate) last_active: f64,
    #[serde(default)]
    pub(crate) last_get_work: Option<f64>,
    pub(crate) started: f64,
    #[serde(default)]
    pub(crate) info: luigi_core::rpc::wire::InfoMap,
    #[serde(default)]
    pub(crate) disabled: bool,
    #[serde(default)]
    pub(crate) rpc_messages: Vec<luigi_core::rpc::wire::RpcMessage>,
    #[serde(default)]
    pub(crate) created_seq: u64,
}

/// Scheduler-wide settings that survive restarts (Luigi forgets them; we keep them).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SettingsRow {
    /// Whether the scheduler is paused.
    #[serde(default)]
    pub(crate) paused: bool,
    /// Resource capacities changed at run time (`update_resource(s)`).
    #[serde(default)]
    pub(crate) resources: luigi_core::rpc::wire::ResourceMap,
}

/// Everything loaded from a database.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub(crate) tasks: Vec<(String, TaskRow)>,
    pub(crate) workers: Vec<(String, WorkerRow)>,
    pub(crate) batchers: Vec<(String, String, (Vec<String>, luigi_core::rpc::wire::Number))>,
    pub(crate) settings: Option<SettingsRow>,
}

/// What one engine call changed, as rows to write.
///
/// Task and worker rows travel as records and are encoded by the writer thread: the engine
/// builds a change set with its lock held, and encoding there made every request hold the
/// lock longer (two request threads then met on it and slept in the kernel); the writer also
/// encodes only the last version of a row that changed several times in one commit.
#[derive(Debug, Default)]
pub struct ChangeSet {
    /// (the task's creation sequence number — its row's key —, task id, its record or `None`
    /// to delete the row).
    pub(crate) tasks: Vec<(u64, luigi_core::TaskId, Option<TaskRow>)>,
    /// Worker id → its record, or `None` to delete it.
    pub(crate) workers: Vec<(Arc<str>, Option<WorkerRow>)>,
    /// (worker, family) → batcher as JSON.
    pub(crate) batchers: Vec<(String, String, String)>,
    /// The settings record as JSON, when changed.
    pub(crate) settings: Option<String>,
}

impl ChangeSet {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty() && self.workers.is_empty() && self.batchers.is_empty() && self.settings.is_none()
    }
}

/// Opens (creating if needed) the database at `path` and loads it.
pub fn open(path: &Path, sync: Sync) -> Result<(Connection, Snapshot), Error> {
    let sqlite = |source| Error::Sqlite { path: path.to_owned(), source };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| Error::Directory { path: parent.to_owned(), source })?;
    }
    check_not_foreign(path)?;
    let mut conn = connect(path, sync).map_err(sqlite)?;
    let has_meta: bool = conn
        .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'", [], |row| {
            row.get::<_, i64>(0)
        })
        .map_err(sqlite)?
        > 0;
    if has_meta {
        let version: i64 = conn
            .query_row("SELECT value FROM meta WHERE key = 'schema_version'", [], |row| {
                row.get::<_, String>(0).map(|v| v.parse().unwrap_or(0))
            })
            .map_err(|_| Error::Foreign { path: path.to_owned(), what: "an SQLite database with another schema" })?;
        if version > SCHEMA_VERSION {
            return Err(Error::TooNew { path: path.to_owned(), found: version });
        }
        if version == 1 {
            migrate_v1_to_v2(&mut conn, path)?;
        }
    } else {
        let tables: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table'", [], |row| row.get(0))
            .map_err(sqlite)?;
        if tables > 0 {
            return Err(Error::Foreign { path: path.to_owned(), what: "an SQLite database with other tables" });
        }
        conn.execute_batch(&format!(
            "BEGIN;
             CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             CREATE TABLE tasks (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, record TEXT NOT NULL);
             CREATE TABLE workers (id TEXT PRIMARY KEY, record TEXT NOT NULL);
             CREATE TABLE batchers (worker TEXT NOT NULL, family TEXT NOT NULL, record TEXT NOT NULL,
                                    PRIMARY KEY (worker, family));
             CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             INSERT INTO meta VALUES ('schema_version', '{SCHEMA_VERSION}');
             INSERT INTO meta VALUES ('created_by', 'luigi-rs {}');
             COMMIT;",
            env!("CARGO_PKG_VERSION")
        ))
        .map_err(sqlite)?;
    }
    let snapshot = load(&conn, path)?;
    Ok((conn, snapshot))
}

/// A connection to the state database in WAL mode with the requested durability.
fn connect(path: &Path, sync: Sync) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", if sync == Sync::Full { "FULL" } else { "NORMAL" })?;
    conn.busy_timeout(Duration::from_secs(5))?;
    Ok(conn)
}

/// Schema 1 keyed tasks by their text id; schema 2 by their creation sequence number. Rows
/// keep their record; the key is the record's `created_seq` where it has a distinct one, and
/// otherwise a fresh number after every sequence number in use (in the old row order, which
/// is creation order), written back into the record so that the engine sees the same number.
fn migrate_v1_to_v2(conn: &mut Connection, path: &Path) -> Result<(), Error> {
    let sqlite = |source| Error::Sqlite { path: path.to_owned(), source };
    let tx = conn.transaction().map_err(sqlite)?;
    let rows: Vec<(String, String)> = {
        let mut statement = tx.prepare("SELECT id, record FROM tasks ORDER BY rowid").map_err(sqlite)?;
        statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .map_err(sqlite)?
            .collect::<Result<_, _>>()
            .map_err(sqlite)?
    };
    let mut decoded = Vec::with_capacity(rows.len());
    for (id, record) in rows {
        let row: TaskRow = decode(&record).map_err(|err| corrupt(path, "tasks", &id, &err))?;
        decoded.push((id, row));
    }
    let mut next = decoded.iter().map(|(_, row)| row.created_seq.max(row.status_seq)).max().unwrap_or(0);
    let mut used = std::collections::HashSet::new();
    tx.execute_batch(
        "ALTER TABLE tasks RENAME TO tasks_v1;
         CREATE TABLE tasks (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, record TEXT NOT NULL);",
    )
    .map_err(sqlite)?;
    {
        let mut insert = tx.prepare("INSERT INTO tasks (seq, id, record) VALUES (?1, ?2, ?3)").map_err(sqlite)?;
        for (id, mut row) in decoded {
            if row.created_seq == 0 || !used.insert(row.created_seq) {
                next += 1;
                row.created_seq = next;
                used.insert(next);
            }
            let record = encode(&row).map_err(|err| corrupt(path, "tasks", &id, &err))?;
            insert.execute(params![row.created_seq.cast_signed(), id, record]).map_err(sqlite)?;
        }
    }
    tx.execute_batch(
        "DROP TABLE tasks_v1;
         UPDATE meta SET value = '2' WHERE key = 'schema_version';",
    )
    .map_err(sqlite)?;
    tx.commit().map_err(sqlite)?;
    tracing::info!(path = %path.display(), "migrated the scheduler state database from schema version 1 to 2");
    Ok(())
}

/// The error for a stored record that cannot be decoded (or, migrating, encoded again).
fn corrupt(path: &Path, table: &'static str, id: &str, err: &luigi_core::rpc::json::Error) -> Error {
    Error::Corrupt { path: path.to_owned(), table, id: id.to_owned(), message: err.to_string() }
}

/// Refuses files that are clearly something else, before SQLite touches them.
fn check_not_foreign(path: &Path) -> Result<(), Error> {
    let Ok(bytes) = std::fs::read(path).map(|b| b.into_iter().take(16).collect::<Vec<u8>>()) else {
        return Ok(());
    };
    if bytes.is_empty() || bytes.starts_with(b"SQLite format 3\0") {
        return Ok(());
    }
    let what = if bytes.first() == Some(&0x80) { "it looks like a Python luigid pickle" } else { "an unknown format" };
    Err(Error::Foreign { path: path.to_owned(), what })
}

/// Records are stored as Python-flavoured JSON, so `Infinity` (a batcher's unlimited size)
/// survives.
pub(crate) fn encode<T: serde::Serialize>(value: &T) -> Result<String, luigi_core::rpc::json::Error> {
    luigi_core::rpc::json::to_string(value, luigi_core::rpc::json::Style::Python)
}

/// The inverse of [`encode`].
fn decode<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, luigi_core::rpc::json::Error> {
    luigi_core::rpc::json::from_str(text)
}

fn load(conn: &Connection, path: &Path) -> Result<Snapshot, Error> {
    let sqlite = |source| Error::Sqlite { path: path.to_owned(), source };
    let corrupt = |table, id: &str, err| corrupt(path, table, id, &err);
    let mut snapshot = Snapshot::default();
    let read = |sql: &str| -> Result<Vec<(String, String)>, Error> {
        let mut statement = conn.prepare(sql).map_err(sqlite)?;
        let rows = statement
            .query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)))
            .map_err(sqlite)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(sqlite)?;
        Ok(rows)
    };
    {
        let mut statement = conn.prepare("SELECT seq, id, record FROM tasks").map_err(sqlite)?;
        let mut rows = statement.query([]).map_err(sqlite)?;
        while let Some(stored) = rows.next().map_err(sqlite)? {
            let seq: i64 = stored.get(0).map_err(sqlite)?;
            let id: String = stored.get(1).map_err(sqlite)?;
            let record: String = stored.get(2).map_err(sqlite)?;
            let mut row: TaskRow = decode(&record).map_err(|e| corrupt("tasks", &id, e))?;
            // The key is what later changes address the row by.
            row.created_seq = seq.cast_unsigned();
            snapshot.tasks.push((id, row));
        }
    }
    for (id, record) in read("SELECT id, record FROM workers")? {
        let row: WorkerRow = decode(&record).map_err(|e| corrupt("workers", &id, e))?;
        snapshot.workers.push((id, row));
    }
    for (key, record) in read("SELECT worker || char(31) || family, record FROM batchers")? {
        let batcher = decode(&record).map_err(|e| corrupt("batchers", &key, e))?;
        let (worker, family) = key.split_once('\u{1f}').unwrap_or((key.as_str(), ""));
        snapshot.batchers.push((worker.to_owned(), family.to_owned(), batcher));
    }
    if let Some((_, value)) = read("SELECT key, value FROM settings WHERE key = 'settings'")?.pop() {
        snapshot.settings = Some(decode(&value).map_err(|e| corrupt("settings", "settings", e))?);
    }
    Ok(snapshot)
}

fn apply(conn: &mut Connection, sets: &[(u64, ChangeSet)]) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    {
        let mut upsert_task = tx.prepare_cached(
            "INSERT INTO tasks (seq, id, record) VALUES (?1, ?2, ?3)
             ON CONFLICT(seq) DO UPDATE SET record = excluded.record",
        )?;
        let mut delete_task = tx.prepare_cached("DELETE FROM tasks WHERE seq = ?1")?;
        let mut upsert_worker = tx.prepare_cached(
            "INSERT INTO workers (id, record) VALUES (?1, ?2) ON CONFLICT(id) DO UPDATE SET record = excluded.record",
        )?;
        let mut delete_worker = tx.prepare_cached("DELETE FROM workers WHERE id = ?1")?;
        let mut upsert_batcher = tx.prepare_cached(
            "INSERT INTO batchers (worker, family, record) VALUES (?1, ?2, ?3)
             ON CONFLICT(worker, family) DO UPDATE SET record = excluded.record",
        )?;
        let mut upsert_setting = tx.prepare_cached(
            "INSERT INTO settings (key, value) VALUES ('settings', ?1) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        )?;
        // Later change sets supersede earlier ones; write only each record's last version.
        let mut tasks: std::collections::HashMap<u64, (&str, Option<&TaskRow>)> = std::collections::HashMap::new();
        let mut workers: std::collections::HashMap<&str, Option<&WorkerRow>> = std::collections::HashMap::new();
        let mut settings = None;
        for (_, set) in sets {
            for (seq, id, record) in &set.tasks {
                tasks.insert(*seq, (id.as_str(), record.as_ref()));
            }
            for (id, record) in &set.workers {
                workers.insert(id, record.as_ref());
            }
            for (worker, family, record) in &set.batchers {
                upsert_batcher.execute(params![worker, family, record])?;
            }
            if set.settings.is_some() {
                settings = set.settings.as_deref();
            }
        }
        for (seq, (id, record)) in tasks {
            let key = seq.cast_signed();
            match record.map(encode) {
                Some(Ok(json)) => upsert_task.execute(params![key, id, json])?,
                Some(Err(err)) => {
                    tracing::error!(task = id, "cannot encode task for saving: {err}");
                    continue;
                }
                None => delete_task.execute(params![key])?,
            };
        }
        for (id, record) in workers {
            match record.map(encode) {
                Some(Ok(json)) => upsert_worker.execute(params![id, json])?,
                Some(Err(err)) => {
                    tracing::error!(worker = id, "cannot encode worker for saving: {err}");
                    continue;
                }
                None => delete_worker.execute(params![id])?,
            };
        }
        if let Some(settings) = settings {
            upsert_setting.execute(params![settings])?;
        }
    }
    tx.commit()
}

/// Change sets handed to the writer and not yet taken by it, and when it should take them.
#[derive(Default)]
struct Queue {
    sets: Vec<(u64, ChangeSet)>,
    /// Somebody waits for the queued sets: the writer must commit them without waiting for more.
    wanted: bool,
    /// The writer is blocked waiting for `wanted` (so setting it must wake the writer).
    writer_idle: bool,
    /// No more sets will come: commit what is queued and stop.
    closed: bool,
    /// Requests waiting for a sequence number to be on disk, each woken by the commit that
    /// covers it (not by every commit, as a broadcast would).
    waiters: Vec<(u64, tokio::sync::oneshot::Sender<()>)>,
    /// The writer has exited: nothing more will become durable, so nobody may wait.
    stopped: bool,
}

/// What the submitters, the waiters and the writer share.
#[derive(Default)]
struct Shared {
    /// parking_lot's, like the engine's lock: taken by every request, held for a push.
    queue: parking_lot::Mutex<Queue>,
    wake_writer: parking_lot::Condvar,
    submitted: AtomicU64,
    /// The latest sequence number on disk (also read without the lock).
    durable: AtomicU64,
}

impl Shared {
    fn lock(&self) -> parking_lot::MutexGuard<'_, Queue> {
        self.queue.lock()
    }

    /// Asks the writer to commit what is queued (waking it only if it sleeps).
    fn want(&self, queue: &mut Queue) {
        if !queue.wanted && !queue.sets.is_empty() {
            queue.wanted = true;
            if queue.writer_idle {
                self.wake_writer.notify_one();
            }
        }
    }

    /// Records that everything up to `seq` is on disk and wakes the requests waiting for it.
    fn published(&self, seq: u64) {
        let ready = {
            let mut queue = self.lock();
            self.durable.fetch_max(seq, Ordering::SeqCst);
            queue.waiters.extract_if(.., |(waiting_for, _)| *waiting_for <= seq).collect()
        };
        wake(ready);
    }

    /// The writer has exited: releases every waiter, now and later.
    fn stopped(&self) {
        let all = {
            let mut queue = self.lock();
            queue.stopped = true;
            std::mem::take(&mut queue.waiters)
        };
        wake(all);
    }
}

/// Queued change sets after which the writer is woken even if nobody asked yet (a bound on
/// the memory and on the size of one commit under a load that never pauses).
const WAKE_AT: usize = 1024;

fn wake(waiters: Vec<(u64, tokio::sync::oneshot::Sender<()>)>) {
    for (_, waiter) in waiters {
        // A waiter that gave up (its request was dropped) needs no answer.
        let _ = waiter.send(());
    }
}

/// Releases every durability waiter when dropped (by the writer thread as it ends).
struct ReleaseWaiters(Arc<Shared>);

impl Drop for ReleaseWaiters {
    fn drop(&mut self) {
        self.0.stopped();
    }
}

/// Tells when changes are on disk.
#[derive(Clone)]
pub struct Durability {
    shared: Arc<Shared>,
}

impl Durability {
    /// The sequence number of the latest change set handed to the writer.
    pub fn submitted(&self) -> u64 {
        self.shared.submitted.load(Ordering::SeqCst)
    }

    /// The sequence number of the latest change set on disk.
    pub fn durable(&self) -> u64 {
        self.shared.durable.load(Ordering::SeqCst)
    }

    /// Waits until change set `seq` (and everything before it) is on disk.
    ///
    /// This is where group commits form: the caller first yields, so that every other request
    /// the runtime already has in hand reaches this point too, and only then asks the writer
    /// to commit. Under load one commit then covers every request of a round, and the writer
    /// is woken once per round instead of once per request (waking a thread costs more than
    /// the rest of a small commit).
    pub async fn wait_for(&self, seq: u64) {
        if self.durable() >= seq {
            return;
        }
        tokio::task::yield_now().await;
        let done = {
            let mut queue = self.shared.lock();
            // Checked under the lock the writer publishes under, so no wake-up is missed.
            if queue.stopped || self.durable() >= seq {
                return;
            }
            self.shared.want(&mut queue);
            let (waiter, done) = tokio::sync::oneshot::channel();
            queue.waiters.push((seq, waiter));
            done
        };
        // An error cannot happen (the writer answers every waiter, even when it stops).
        let _ = done.await;
    }
}

/// The writer: a thread that applies change sets to the database in group commits.
pub struct Persister {
    shared: Arc<Shared>,
    durability: Durability,
    thread: Mutex<Option<JoinHandle<()>>>,
    checkpointer: Option<Checkpointer>,
}

impl Persister {
    /// Starts the writer thread on an open database, and the checkpoint thread beside it.
    pub fn start(conn: Connection, path: PathBuf) -> Persister {
        Persister::start_with_wal_limit(conn, path, WRITER_CHECKPOINT_PAGES)
    }

    /// [`Persister::start`] with the writer checkpointing itself past `wal_pages` WAL pages
    /// instead of [`WRITER_CHECKPOINT_PAGES`].
    fn start_with_wal_limit(conn: Connection, path: PathBuf, wal_pages: i64) -> Persister {
        let checkpointer = Checkpointer::start(&conn, &path);
        let wal_pages = if checkpointer.is_some() { wal_pages } else { 1000 };
        if let Err(err) = conn.pragma_update(None, "wal_autocheckpoint", wal_pages) {
            tracing::warn!(path = %path.display(), "cannot set wal_autocheckpoint: {err}");
        }
        let signal = checkpointer.as_ref().map(|c| Arc::clone(&c.signal));
        let shared = Arc::new(Shared::default());
        let for_writer = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("luigid-state-writer".into())
            .spawn(move || {
                // Waiters are released however the writer ends, a panic included.
                let _release = ReleaseWaiters(Arc::clone(&for_writer));
                writer_loop(conn, &path, &for_writer, signal.as_deref());
            })
            .ok();
        if thread.is_none() {
            tracing::error!("could not start the scheduler state writer thread; state will not be saved");
            shared.lock().closed = true;
            shared.stopped();
        }
        Persister {
            durability: Durability { shared: Arc::clone(&shared) },
            shared,
            thread: Mutex::new(thread),
            checkpointer,
        }
    }

    /// Hands a change set to the writer; returns its sequence number. Call with the engine's
    /// lock held, so sequence numbers follow the order of the changes. The writer commits it
    /// when somebody waits for it ([`Durability::wait_for`]), or sooner under heavy load.
    pub fn submit(&self, changes: ChangeSet) -> u64 {
        // The number is taken under the queue's lock, so sets enter the queue in number order:
        // taken before it, a set numbered 6 could be committed (and `durable` say 6) while set 5
        // was not yet queued, and set 5's waiter would be answered before its change was saved.
        let mut queue = self.shared.lock();
        let seq = self.shared.submitted.fetch_add(1, Ordering::SeqCst) + 1;
        if queue.closed {
            tracing::error!("the scheduler state writer has stopped; this change is not saved");
            return seq;
        }
        queue.sets.push((seq, changes));
        if queue.sets.len() >= WAKE_AT {
            self.shared.want(&mut queue);
        }
        seq
    }

    /// The handle the server waits on.
    pub fn durability(&self) -> Durability {
        self.durability.clone()
    }

    /// Asks the writer to commit what is queued now, without waiting for it (for changes
    /// nobody waits for, such as the pruner's).
    pub fn flush(&self) {
        let mut queue = self.shared.lock();
        self.shared.want(&mut queue);
    }

    /// Writes everything submitted so far and stops the writer (and the checkpoint thread).
    pub fn close(&self) {
        {
            let mut queue = self.shared.lock();
            queue.closed = true;
            self.shared.wake_writer.notify_one();
        }
        if let Some(thread) = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = thread.join();
        }
        if let Some(checkpointer) = &self.checkpointer {
            checkpointer.stop();
        }
    }
}

/// What the writer and the checkpoint thread share.
#[derive(Default)]
struct CheckpointSignal {
    state: Mutex<CheckpointState>,
    changed: std::sync::Condvar,
}

#[derive(Default)]
struct CheckpointState {
    /// Something was committed since the last checkpoint started.
    wanted: bool,
    stop: bool,
}

impl CheckpointSignal {
    fn lock(&self) -> std::sync::MutexGuard<'_, CheckpointState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Called by the writer after each commit; wakes the checkpoint thread at most once per
    /// checkpoint.
    fn committed(&self) {
        let mut state = self.lock();
        if !state.wanted {
            state.wanted = true;
            self.changed.notify_one();
        }
    }
}

/// The checkpoint thread: passive checkpoints on its own connection, at most one per
/// [`CHECKPOINT_PAUSE`], while commits keep coming.
struct Checkpointer {
    signal: Arc<CheckpointSignal>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Checkpointer {
    /// Opens a second connection with the writer's `synchronous` setting; `None` (the writer
    /// then checkpoints as SQLite does by default) if that fails.
    fn start(writer: &Connection, path: &Path) -> Option<Checkpointer> {
        let sync = match writer.pragma_query_value(None, "synchronous", |row| row.get::<_, i64>(0)) {
            Ok(level) if level >= 2 => Sync::Full,
            _ => Sync::Normal,
        };
        let conn = match connect(path, sync) {
            Ok(conn) => conn,
            Err(err) => {
                tracing::warn!(path = %path.display(), "cannot open a checkpoint connection, the writer checkpoints: {err}");
                return None;
            }
        };
        let signal = Arc::new(CheckpointSignal::default());
        let shared = Arc::clone(&signal);
        let owned = path.to_owned();
        let thread = std::thread::Builder::new()
            .name("luigid-checkpoint".into())
            .spawn(move || checkpoint_loop(&conn, &owned, &shared))
            .ok()?;
        Some(Checkpointer { signal, thread: Mutex::new(Some(thread)) })
    }

    fn stop(&self) {
        self.signal.lock().stop = true;
        self.signal.changed.notify_one();
        if let Some(thread) = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = thread.join();
        }
    }
}

fn checkpoint_loop(conn: &Connection, path: &Path, signal: &CheckpointSignal) {
    loop {
        {
            let mut state = signal.lock();
            while !state.wanted && !state.stop {
                state = signal.changed.wait(state).unwrap_or_else(|e| e.into_inner());
            }
            if state.stop {
                return;
            }
            state.wanted = false;
        }
        if let Err(err) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(path = %path.display(), "background checkpoint failed (the writer will checkpoint): {err}");
        }
        let state = signal.lock();
        let _ = signal.changed.wait_timeout_while(state, CHECKPOINT_PAUSE, |state| !state.stop);
    }
}

impl Drop for Persister {
    fn drop(&mut self) {
        self.close();
    }
}

/// The writer: waits until queued change sets are wanted, takes all of them, and applies them
/// in one transaction (later versions of a record replace earlier ones, see [`apply`]).
fn writer_loop(mut conn: Connection, path: &Path, shared: &Shared, checkpoints: Option<&CheckpointSignal>) {
    let mut last_seq = 0u64;
    loop {
        let pending = {
            let mut queue = shared.lock();
            while !queue.closed && !queue.wanted {
                queue.writer_idle = true;
                shared.wake_writer.wait(&mut queue);
            }
            queue.writer_idle = false;
            queue.wanted = false;
            if queue.sets.is_empty() {
                if queue.closed {
                    break;
                }
                continue;
            }
            std::mem::take(&mut queue.sets)
        };
        last_seq = pending.last().map_or(last_seq, |(seq, _)| *seq);
        let mut attempt = 0;
        loop {
            match apply(&mut conn, &pending) {
                Ok(()) => break,
                Err(err) if attempt < 5 => {
                    attempt += 1;
                    tracing::error!(path = %path.display(), "saving scheduler state failed (attempt {attempt}): {err}; retrying");
                    std::thread::sleep(Duration::from_millis(200 * attempt));
                }
                Err(err) => {
                    tracing::error!(path = %path.display(), "saving scheduler state failed, {} changes are lost: {err}", pending.len());
                    break;
                }
            }
        }
        // Replies waiting on these changes may go now (even after a failure, rather than hang).
        shared.published(last_seq);
        if let Some(checkpoints) = checkpoints {
            checkpoints.committed();
        }
    }
    shared.published(last_seq);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_files_that_are_not_ours() {
        let dir = tempfile::tempdir().unwrap();
        let pickle = dir.path().join("state.pickle");
        std::fs::write(&pickle, b"\x80\x04\x95\x00\x00").unwrap();
        let err = open(&pickle, Sync::Normal).unwrap_err();
        assert!(err.to_string().contains("Python luigid pickle"), "{err}");
        assert_eq!(std::fs::read(&pickle).unwrap(), b"\x80\x04\x95\x00\x00", "never overwritten");

        let other = dir.path().join("other.db");
        Connection::open(&other).unwrap().execute_batch("CREATE TABLE x (y INTEGER);").unwrap();
        assert!(matches!(open(&other, Sync::Normal), Err(Error::Foreign { .. })));

        let text = dir.path().join("notes.txt");
        std::fs::write(&text, "hello").unwrap();
        assert!(matches!(open(&text, Sync::Normal), Err(Error::Foreign { .. })));
    }

    #[test]
    fn refuses_a_newer_schema_and_reopens_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/dir/state.db");
        let (conn, snapshot) = open(&path, Sync::Full).unwrap();
        assert!(snapshot.tasks.is_empty());
        drop(conn);
        let (conn, _) = open(&path, Sync::Normal).unwrap();
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'", []).unwrap();
        drop(conn);
        let err = open(&path, Sync::Normal).unwrap_err();
        assert!(matches!(err, Error::TooNew { found: 99, .. }), "{err}");
        assert!(err.to_string().contains("schema version 99"));
    }

    /// A fresh state database in a temporary directory, with a writer started on it.
    fn started() -> (tempfile::TempDir, PathBuf, Persister) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let (conn, _) = open(&path, Sync::Normal).unwrap();
        let persister = Persister::start(conn, path.clone());
        (dir, path, persister)
    }

    /// A task record whose explanation is `expl`.
    fn row(expl: &str) -> TaskRow {
        let mut row: TaskRow = decode(&v1_record("PENDING", None)).unwrap();
        row.expl = Some(expl.to_owned());
        row
    }

    /// A change set creating (or replacing) task row `key`.
    fn one_task(key: u64) -> ChangeSet {
        let mut set = ChangeSet::default();
        set.tasks.push((key, luigi_core::TaskId::new(format!("T{key}")), Some(row(""))));
        set
    }

    /// The number of task rows in the database at `path`.
    fn task_rows(path: &Path) -> i64 {
        let conn = Connection::open(path).unwrap();
        conn.query_row("SELECT count(*) FROM tasks", [], |row| row.get(0)).unwrap()
    }

    /// Waits (up to a minute) for the writer thread to get change set `seq` on disk by itself.
    fn wait_until_durable(persister: &Persister, seq: u64) {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while persister.durability().durable() < seq && std::time::Instant::now() < deadline {
            std::thread::yield_now();
        }
    }

    #[test]
    fn writer_applies_changes_in_groups_and_reports_durability() {
        let (_dir, path, persister) = started();
        let durability = persister.durability();
        let mut last = 0;
        for i in 0..100 {
            let mut set = ChangeSet::default();
            set.tasks.push((i + 1, luigi_core::TaskId::new(format!("T{i}")), Some(row(&i.to_string()))));
            if i % 10 == 9 {
                set.tasks.push((i, luigi_core::TaskId::new(format!("T{}", i - 1)), None));
            }
            last = persister.submit(set);
        }
        assert_eq!(durability.submitted(), last);
        persister.close();
        assert_eq!(durability.durable(), last);
        assert_eq!(task_rows(&path), 90, "ten deletions applied after their inserts");
    }

    #[test]
    fn concurrent_waiters_get_their_changes_committed() {
        let (_dir, path, persister) = started();
        let persister = Arc::new(persister);
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap();
        runtime.block_on(async {
            let mut handles = Vec::new();
            for client in 0..64u64 {
                let persister = Arc::clone(&persister);
                handles.push(tokio::spawn(async move {
                    let durability = persister.durability();
                    for i in 0..20 {
                        let seq = persister.submit(one_task(client * 20 + i + 1));
                        durability.wait_for(seq).await;
                        assert!(durability.durable() >= seq);
                    }
                }));
            }
            for handle in handles {
                handle.await.unwrap();
            }
        });
        assert_eq!(task_rows(&path), 64 * 20, "every answered change is in the database before close");
    }

    #[test]
    fn flush_commits_changes_nobody_waits_for() {
        let (_dir, path, persister) = started();
        let seq = persister.submit(one_task(1));
        persister.flush();
        wait_until_durable(&persister, seq);
        assert_eq!(persister.durability().durable(), seq, "flush did not get the change committed");
        assert_eq!(task_rows(&path), 1);
    }

    #[test]
    fn a_long_queue_is_committed_without_being_asked() {
        let (_dir, _path, persister) = started();
        let mut last = 0;
        for key in 1..=WAKE_AT as u64 {
            last = persister.submit(one_task(key));
        }
        // Nobody waits and nobody flushes: the queue's length alone wakes the writer.
        wait_until_durable(&persister, last);
        assert_eq!(persister.durability().durable(), last, "a full queue was not committed");
    }

    #[test]
    fn a_commit_wakes_only_the_waiters_it_covers() {
        let (_dir, _path, persister) = started();
        let durability = persister.durability();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        runtime.block_on(async {
            let first = persister.submit(one_task(1));
            // Waiting for a change not yet submitted: the commit of `first` must not end it.
            let later = tokio::spawn({
                let durability = durability.clone();
                async move { durability.wait_for(first + 1).await }
            });
            durability.wait_for(first).await;
            assert_eq!(durability.durable(), first);
            // A wrongly woken waiter would finish within a few turns of this one-thread runtime.
            for _ in 0..10 {
                tokio::task::yield_now().await;
            }
            assert!(!later.is_finished(), "an earlier commit released a waiter for a later change");
            let second = persister.submit(one_task(2));
            assert_eq!(second, first + 1);
            persister.flush();
            tokio::time::timeout(Duration::from_secs(60), later).await.unwrap().unwrap();
            assert_eq!(durability.durable(), second);
        });
    }

    #[test]
    fn waiters_are_released_when_the_writer_stops() {
        let (_dir, _path, persister) = started();
        let durability = persister.durability();
        persister.close();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        runtime.block_on(async {
            // Nothing will ever make sequence number 5 durable; the wait must still end.
            tokio::time::timeout(Duration::from_secs(60), durability.wait_for(5)).await.unwrap();
        });
    }

    /// A task row as schema 1 stored it (text key, record with or without `created_seq`).
    fn v1_record(status: &str, created_seq: Option<u64>) -> String {
        let seq = created_seq.map(|seq| format!(", \"created_seq\": {seq}, \"status_seq\": {seq}")).unwrap_or_default();
        format!(
            "{{\"status\": \"{status}\", \"family\": \"F\", \"time\": 1.0, \"updated\": 2.0, \"priority\": 0, \
             \"policy\": [999999999, 999999999, 3600]{seq}}}"
        )
    }

    #[test]
    fn a_version_1_database_is_migrated_keeping_every_task() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             CREATE TABLE tasks (id TEXT PRIMARY KEY, record TEXT NOT NULL);
             CREATE TABLE workers (id TEXT PRIMARY KEY, record TEXT NOT NULL);
             CREATE TABLE batchers (worker TEXT NOT NULL, family TEXT NOT NULL, record TEXT NOT NULL,
                                    PRIMARY KEY (worker, family));
             CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             INSERT INTO meta VALUES ('schema_version', '1');",
        )
        .unwrap();
        // Two rows with distinct sequence numbers, one from before they were stored, and one
        // that repeats another's number.
        for (id, record) in [
            ("A", v1_record("DONE", Some(7))),
            ("B", v1_record("FAILED", None)),
            ("C", v1_record("PENDING", Some(3))),
            ("D", v1_record("DISABLED", Some(7))),
        ] {
            conn.execute("INSERT INTO tasks (id, record) VALUES (?1, ?2)", params![id, record]).unwrap();
        }
        drop(conn);

        let (conn, snapshot) = open(&path, Sync::Normal).unwrap();
        let version: String =
            conn.query_row("SELECT value FROM meta WHERE key = 'schema_version'", [], |row| row.get(0)).unwrap();
        assert_eq!(version, "2");
        let mut tasks: Vec<(String, TaskStatus, u64)> =
            snapshot.tasks.iter().map(|(id, row)| (id.clone(), row.status, row.created_seq)).collect();
        tasks.sort();
        use luigi_core::status::TaskStatus;
        assert_eq!(
            tasks,
            [
                ("A".to_owned(), TaskStatus::Done, 7),
                ("B".to_owned(), TaskStatus::Failed, 8),
                ("C".to_owned(), TaskStatus::Pending, 3),
                ("D".to_owned(), TaskStatus::Disabled, 9),
            ]
        );
        // The keys are the records' numbers, so the engine's later changes find the rows.
        let keys: Vec<(i64, String)> = conn
            .prepare("SELECT seq, id FROM tasks ORDER BY seq")
            .unwrap()
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(keys, [(3, "C".into()), (7, "A".into()), (8, "B".into()), (9, "D".into())]);
        drop(conn);
        let (_, again) = open(&path, Sync::Normal).unwrap();
        assert_eq!(again.tasks.len(), 4, "opening a migrated file again changes nothing");
    }

    #[test]
    fn the_wal_stays_bounded_under_commits_that_never_pause() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let (conn, _) = open(&path, Sync::Normal).unwrap();
        // A quarter of the production limit keeps the test quick; the mechanism is the same.
        let limit = WRITER_CHECKPOINT_PAGES / 4;
        let persister = Persister::start_with_wal_limit(conn, path.clone(), limit);
        let durability = persister.durability();
        let record = row(&"x".repeat(3000));
        let wal = dir.path().join("state.db-wal");
        let largest = AtomicU64::new(0);
        // Several clients each wait for their change to be durable before sending the next,
        // as requests do: commits follow each other without a pause, each rewriting
        // page-sized rows, for several times the writer's threshold in WAL frames, with the
        // checkpoint thread copying them out all along (a background checkpoint alone cannot
        // reset a WAL that is always being appended to).
        let per_client = limit.cast_unsigned();
        std::thread::scope(|scope| {
            for client in 0..4u64 {
                let (persister, durability, record, wal, largest) = (&persister, &durability, &record, &wal, &largest);
                scope.spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
                    for i in 0..per_client {
                        let key = client * per_client + i % 1000 + 1;
                        let mut set = ChangeSet::default();
                        set.tasks.push((key, luigi_core::TaskId::new(format!("T{key}")), Some(record.clone())));
                        let seq = persister.submit(set);
                        runtime.block_on(durability.wait_for(seq));
                        if i % 256 == 0 {
                            largest.fetch_max(std::fs::metadata(wal).map_or(0, |m| m.len()), Ordering::Relaxed);
                        }
                    }
                });
            }
        });
        let largest = largest.into_inner();
        persister.close();
        let threshold = limit.cast_unsigned() * 4096;
        // Without the writer's own checkpoints this WAL passes 70 MB; a slow machine gives the
        // background thread more pauses to reset it in, so only ask that it was loaded at all.
        assert!(largest > threshold / 8, "the WAL reached only {largest} bytes: the test did not load it");
        assert!(largest < 2 * threshold, "the WAL grew to {largest} bytes (threshold {threshold})");
    }
}
