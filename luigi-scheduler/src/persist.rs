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
//! Rows are snapshots, not a log: a task's row is its whole record, replaced on every change,
//! so the file never needs compaction and loading is one scan. The database runs in WAL mode
//! with `synchronous=NORMAL`: a committed transaction survives the process being killed (it
//! is in the OS page cache and the WAL); `sync = full` in `[luigid]` makes it survive power
//! loss too, at the cost of an fsync per group.
//!
//! Schema version 1: `meta(key, value)` holds `schema_version` and `created_by`;
//! `tasks(id, record)`, `workers(id, record)`, `batchers(worker, family, record)` and
//! `settings(key, value)` hold JSON records. A database with a newer schema is refused with a
//! clear message; a file that is not an SQLite database (for example Python luigid's
//! `state.pickle`) is never overwritten.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, params};
use serde::{Deserialize, Serialize};

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = 1;

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

/// A task's stored record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskRow {
    pub(crate) status: luigi_core::status::TaskStatus,
    pub(crate) family: String,
    #[serde(default)]
    pub(crate) module: Option<String>,
    #[serde(default)]
    pub(crate) params: Vec<(String, String, bool)>,
    #[serde(default)]
    pub(crate) visibilities_given: bool,
    #[serde(default)]
    pub(crate) deps: Vec<String>,
    #[serde(default)]
    pub(crate) stakeholders: Vec<String>,
    #[serde(default)]
    pub(crate) workers: Vec<String>,
    pub(crate) time: f64,
    pub(crate) updated: f64,
    #[serde(default)]
    pub(crate) retry: Option<f64>,
    #[serde(default)]
    pub(crate) remove: Option<f64>,
    #[serde(default)]
    pub(crate) worker_running: Option<String>,
    #[serde(default)]
    pub(crate) time_running: Option<f64>,
    #[serde(default)]
    pub(crate) resources: Option<luigi_core::rpc::wire::ResourceMap>,
    #[serde(default)]
    pub(crate) resources_running: Option<luigi_core::rpc::wire::ResourceMap>,
    pub(crate) priority: luigi_core::rpc::wire::Number,
    #[serde(default)]
    pub(crate) expl: Option<String>,
    #[serde(default)]
    pub(crate) accepts_messages: bool,
    #[serde(default)]
    pub(crate) runnable: bool,
    #[serde(default)]
    pub(crate) batchable: bool,
    #[serde(default)]
    pub(crate) batch_id: Option<String>,
    pub(crate) policy: (i64, i64, i64),
    #[serde(default)]
    pub(crate) failures: Vec<f64>,
    #[serde(default)]
    pub(crate) first_failure: Option<f64>,
    #[serde(default)]
    pub(crate) disable_time: Option<f64>,
    #[serde(default)]
    pub(crate) tracking_url: Option<String>,
    #[serde(default)]
    pub(crate) status_message: Option<String>,
    #[serde(default)]
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

/// What one engine call changed, as rows ready to write.
#[derive(Debug, Default)]
pub struct ChangeSet {
    /// Task id → its record as JSON, or `None` to delete it.
    pub(crate) tasks: Vec<(String, Option<String>)>,
    /// Worker id → its record as JSON, or `None` to delete it.
    pub(crate) workers: Vec<(String, Option<String>)>,
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
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sqlite)?;
    conn.pragma_update(None, "journal_mode", "WAL").map_err(sqlite)?;
    conn.pragma_update(None, "synchronous", if sync == Sync::Full { "FULL" } else { "NORMAL" }).map_err(sqlite)?;
    conn.busy_timeout(Duration::from_secs(5)).map_err(sqlite)?;
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
        // Versions below the current one would be migrated here; 1 is the first.
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
             CREATE TABLE tasks (id TEXT PRIMARY KEY, record TEXT NOT NULL);
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

/// Records are stored as Python-flavoured JSON, so `Infinity` survives.
fn decode<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, luigi_core::rpc::json::Error> {
    luigi_core::rpc::json::from_str(text)
}

fn load(conn: &Connection, path: &Path) -> Result<Snapshot, Error> {
    let sqlite = |source| Error::Sqlite { path: path.to_owned(), source };
    let corrupt = |table: &'static str, id: &str, err: luigi_core::rpc::json::Error| Error::Corrupt {
        path: path.to_owned(),
        table,
        id: id.to_owned(),
        message: err.to_string(),
    };
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
    for (id, record) in read("SELECT id, record FROM tasks")? {
        let row: TaskRow = decode(&record).map_err(|e| corrupt("tasks", &id, e))?;
        snapshot.tasks.push((id, row));
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

fn apply(conn: &mut Connection, sets: &[ChangeSet]) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    {
        let mut upsert_task = tx.prepare_cached(
            "INSERT INTO tasks (id, record) VALUES (?1, ?2) ON CONFLICT(id) DO UPDATE SET record = excluded.record",
        )?;
        let mut delete_task = tx.prepare_cached("DELETE FROM tasks WHERE id = ?1")?;
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
        let mut tasks: std::collections::HashMap<&str, Option<&str>> = std::collections::HashMap::new();
        let mut workers: std::collections::HashMap<&str, Option<&str>> = std::collections::HashMap::new();
        let mut settings = None;
        for set in sets {
            for (id, record) in &set.tasks {
                tasks.insert(id, record.as_deref());
            }
            for (id, record) in &set.workers {
                workers.insert(id, record.as_deref());
            }
            for (worker, family, record) in &set.batchers {
                upsert_batcher.execute(params![worker, family, record])?;
            }
            if set.settings.is_some() {
                settings = set.settings.as_deref();
            }
        }
        for (id, record) in tasks {
            match record {
                Some(record) => upsert_task.execute(params![id, record])?,
                None => delete_task.execute(params![id])?,
            };
        }
        for (id, record) in workers {
            match record {
                Some(record) => upsert_worker.execute(params![id, record])?,
                None => delete_worker.execute(params![id])?,
            };
        }
        if let Some(settings) = settings {
            upsert_setting.execute(params![settings])?;
        }
    }
    tx.commit()
}

/// Tells when changes are on disk.
#[derive(Clone)]
pub struct Durability {
    submitted: Arc<AtomicU64>,
    durable: tokio::sync::watch::Receiver<u64>,
}

impl Durability {
    /// The sequence number of the latest change set handed to the writer.
    pub fn submitted(&self) -> u64 {
        self.submitted.load(Ordering::SeqCst)
    }

    /// The sequence number of the latest change set on disk.
    pub fn durable(&self) -> u64 {
        *self.durable.borrow()
    }

    /// Waits until change set `seq` (and everything before it) is on disk.
    pub async fn wait_for(&self, seq: u64) {
        if self.durable() >= seq {
            return;
        }
        let mut receiver = self.durable.clone();
        // An error means the writer stopped (shutdown); nothing more will become durable.
        let _ = receiver.wait_for(|durable| *durable >= seq).await;
    }
}

/// The writer: a thread that applies change sets to the database in group commits.
pub struct Persister {
    sender: Mutex<Option<Sender<(u64, ChangeSet)>>>,
    durability: Durability,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Persister {
    /// Starts the writer thread on an open database.
    pub fn start(conn: Connection, path: PathBuf) -> Persister {
        let (sender, receiver) = mpsc::channel::<(u64, ChangeSet)>();
        let (durable_tx, durable_rx) = tokio::sync::watch::channel(0u64);
        let thread = std::thread::Builder::new()
            .name("luigid-state-writer".into())
            .spawn(move || writer_loop(conn, path, receiver, durable_tx))
            .ok();
        if thread.is_none() {
            tracing::error!("could not start the scheduler state writer thread; state will not be saved");
        }
        Persister {
            sender: Mutex::new(Some(sender)),
            durability: Durability { submitted: Arc::new(AtomicU64::new(0)), durable: durable_rx },
            thread: Mutex::new(thread),
        }
    }

    /// Hands a change set to the writer; returns its sequence number. Call with the engine's
    /// lock held, so sequence numbers follow the order of the changes.
    pub fn submit(&self, changes: ChangeSet) -> u64 {
        let seq = self.durability.submitted.fetch_add(1, Ordering::SeqCst) + 1;
        let sender = self.sender.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(sender) = sender.as_ref()
            && sender.send((seq, changes)).is_err()
        {
            tracing::error!("the scheduler state writer has stopped; this change is not saved");
        }
        seq
    }

    /// The handle the server waits on.
    pub fn durability(&self) -> Durability {
        self.durability.clone()
    }

    /// Writes everything submitted so far and stops the writer.
    pub fn close(&self) {
        self.sender.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(thread) = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Persister {
    fn drop(&mut self) {
        self.close();
    }
}

/// Change sets applied per transaction at most, so one huge burst cannot delay every reply
/// behind one giant commit.
const MAX_GROUP: usize = 4096;

fn writer_loop(
    mut conn: Connection,
    path: PathBuf,
    receiver: Receiver<(u64, ChangeSet)>,
    durable: tokio::sync::watch::Sender<u64>,
) {
    let mut pending: Vec<ChangeSet> = Vec::new();
    let mut last_seq = 0u64;
    // Block for the first change set, then take whatever else is already queued: one commit
    // covers every call that arrived while the previous commit was running.
    while let Ok((seq, set)) = receiver.recv() {
        last_seq = seq;
        pending.push(set);
        while pending.len() < MAX_GROUP {
            match receiver.try_recv() {
                Ok((seq, set)) => {
                    last_seq = seq;
                    pending.push(set);
                }
                Err(_) => break,
            }
        }
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
        pending.clear();
        // Replies waiting on these changes may go now (even after a failure, rather than hang).
        let _ = durable.send(last_seq);
    }
    let _ = durable.send(last_seq);
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

    #[test]
    fn writer_applies_changes_in_groups_and_reports_durability() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let (conn, _) = open(&path, Sync::Normal).unwrap();
        let persister = Persister::start(conn, path.clone());
        let durability = persister.durability();
        let mut last = 0;
        for i in 0..100 {
            let mut set = ChangeSet::default();
            set.tasks.push((format!("T{i}"), Some(format!("{{\"n\": {i}}}"))));
            if i % 10 == 9 {
                set.tasks.push((format!("T{}", i - 1), None));
            }
            last = persister.submit(set);
        }
        assert_eq!(durability.submitted(), last);
        persister.close();
        assert_eq!(durability.durable(), last);
        let conn = Connection::open(&path).unwrap();
        let count: i64 = conn.query_row("SELECT count(*) FROM tasks", [], |row| row.get(0)).unwrap();
        assert_eq!(count, 90, "ten deletions applied after their inserts");
    }
}
