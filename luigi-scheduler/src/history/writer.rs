//! The writer thread: takes records off the bounded queue and writes them in batches, one transaction
//! per batch.
//!
//! Recording rules (Luigi's `DbTaskHistory`): the first event for a Luigi task id in this process
//! inserts a `tasks` row with every parameter, and the row id is cached in memory, so later events for
//! that id append to the same row until the process restarts (then a new row is made). The host is
//! set when an event brings one (`RUNNING`) and kept otherwise. The cache lives only in this thread,
//! and is updated only after a batch commits, so a rolled-back batch never leaves ids of rows that do
//! not exist. Like Luigi's `self.tasks`, the cache holds one entry per distinct task id seen; that is
//! the price of Luigi's one-row-per-task-per-process rule.
//!
//! Failures never reach the scheduler. A batch that fails is retried once (after reconnecting when the
//! connection was lost); if the failure came from the data (PostgreSQL rejecting a too-long task id,
//! say), the batch is split and each record is written on its own, so one bad record costs only
//! itself, as in Luigi, where each event is its own transaction. Whatever still fails is counted and
//! logged at most every few seconds.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};
use std::time::{Duration, Instant};

use super::db::{Database, EventRow, LocalTimes, NewTaskRow, ParamRow, SharedSqlite};
use super::url::DbUrl;
use super::{Error, HistoryEvent, HistoryTask, schema};

/// A record as queued by `HistoryStore::record`.
#[derive(Debug)]
pub(crate) struct Record {
    pub(crate) task: HistoryTask,
    pub(crate) event: HistoryEvent,
    pub(crate) host: Option<String>,
    pub(crate) at: f64,
}

/// What travels on the queue.
pub(crate) enum Msg {
    /// A record to write.
    Record(Record),
    /// Write everything queued before this, then answer.
    Flush(SyncSender<()>),
}

/// Counters shared by the store and the writer.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    /// Records accepted into the queue.
    pub(crate) queued: AtomicU64,
    /// Records written and committed.
    pub(crate) written: AtomicU64,
    /// Records dropped because the queue was full (or the writer had stopped).
    pub(crate) dropped: AtomicU64,
    /// Records that could not be written.
    pub(crate) failed: AtomicU64,
}

/// Logs at most once per `every`, counting what it suppressed.
#[derive(Debug)]
pub(crate) struct RateLimit {
    every: Duration,
    start: Instant,
    /// Milliseconds since `start` of the last message, plus one (0 = never).
    last: AtomicU64,
}

impl RateLimit {
    pub(crate) fn new(every: Duration) -> RateLimit {
        RateLimit { every, start: Instant::now(), last: AtomicU64::new(0) }
    }

    /// Whether a message may be logged now.
    pub(crate) fn allow(&self) -> bool {
        let now = self.start.elapsed().as_millis() as u64 + 1;
        let last = self.last.load(Ordering::Relaxed);
        if last != 0 && now.saturating_sub(last) < self.every.as_millis() as u64 {
            return false;
        }
        self.last.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
    }
}

/// A cached `tasks` row.
#[derive(Debug)]
struct Cached {
    row: i64,
    host: Option<String>,
}

/// Where an event's row comes from within a batch.
#[derive(Debug, Clone, Copy)]
enum RowRef {
    Existing(i64),
    New(usize),
}

/// A new `tasks` row planned by a batch.
#[derive(Debug)]
struct NewTask<'a> {
    record: &'a Record,
    host: Option<&'a str>,
}

/// What one batch will write.
#[derive(Debug, Default)]
struct Plan<'a> {
    new: Vec<NewTask<'a>>,
    new_index: HashMap<&'a str, usize>,
    /// Host changes of cached rows: row id -> (task id, new host).
    hosts: HashMap<i64, (&'a str, &'a str)>,
    events: Vec<(RowRef, &'static str, f64)>,
}

/// The writer's state.
pub(crate) struct Writer {
    url: DbUrl,
    db: Option<Database>,
    rows: HashMap<String, Cached>,
    stats: Arc<Stats>,
    warn: RateLimit,
    batch_size: usize,
    times: LocalTimes,
}

/// A host worth recording: Luigi ignores empty ones.
fn host_of(record: &Record) -> Option<&str> {
    record.host.as_deref().filter(|h| !h.is_empty())
}

impl Writer {
    /// Opens the database and prepares the schema; returns the writer and, for in-memory SQLite, the
    /// connection the reader must share.
    pub(crate) fn open(
        url: DbUrl,
        stats: Arc<Stats>,
        batch_size: usize,
    ) -> Result<(Writer, Option<SharedSqlite>), Error> {
        let mut db = Database::open(&url, None)?;
        db.tune_for_writing()?;
        let report = db.transaction(schema::ensure)?;
        if !report.created.is_empty() {
            tracing::info!(database = %url, tables = ?report.created, "created task history tables");
        }
        let shared = db.shared_memory(&url);
        let writer = Writer {
            url,
            db: Some(db),
            rows: HashMap::new(),
            stats,
            warn: RateLimit::new(Duration::from_secs(10)),
            batch_size: batch_size.max(1),
            times: LocalTimes::default(),
        };
        Ok((writer, shared))
    }

    /// Runs until every sender is gone, writing what arrives.
    pub(crate) fn run(mut self, rx: Receiver<Msg>) {
        let mut batch: Vec<Record> = Vec::with_capacity(self.batch_size);
        while let Ok(first) = rx.recv() {
            let mut next = Some(first);
            while let Some(msg) = next.take() {
                match msg {
                    Msg::Record(record) => batch.push(record),
                    Msg::Flush(done) => {
                        self.write(&mut batch);
                        // The flusher may have given up waiting; nothing to do then.
                        let _ = done.send(());
                    }
                }
                if batch.len() >= self.batch_size {
                    self.write(&mut batch);
                }
                next = rx.try_recv().ok();
            }
            self.write(&mut batch);
        }
    }

    /// Writes and empties `batch`.
    fn write(&mut self, batch: &mut Vec<Record>) {
        if batch.is_empty() {
            return;
        }
        let n = batch.len() as u64;
        let result = self.try_write(batch).or_else(|err| {
            // One retry, on a fresh connection when the old one was lost.
            self.reconnect_if_broken();
            if is_data_error(&err) { Err(err) } else { self.try_write(batch) }
        });
        match result {
            Ok(()) => {
                self.stats.written.fetch_add(n, Ordering::Relaxed);
            }
            Err(err) if is_data_error(&err) && batch.len() > 1 => {
                // Isolate the bad records: each on its own, as Luigi writes them.
                for one in batch.chunks(1) {
                    match self.try_write(one) {
                        Ok(()) => {
                            self.stats.written.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(err) => self.fail(1, &err),
                    }
                }
            }
            Err(err) => self.fail(n, &err),
        }
        batch.clear();
    }

    fn fail(&self, n: u64, err: &Error) {
        let total = self.stats.failed.fetch_add(n, Ordering::Relaxed) + n;
        if self.warn.allow() {
            tracing::warn!(database = %self.url, records = n, failed_total = total, error = %err,
                "could not write task history; these records are lost");
        }
    }

    fn reconnect_if_broken(&mut self) {
        if self.db.as_ref().is_none_or(Database::is_broken) {
            self.db = None;
            match Database::open(&self.url, None).and_then(|mut db| db.tune_for_writing().map(|()| db)) {
                Ok(db) => self.db = Some(db),
                Err(err) => {
                    if self.warn.allow() {
                        tracing::warn!(database = %self.url, error = %err, "cannot reconnect to the task history database");
                    }
                }
            }
        }
    }

    /// Writes `records` in one transaction; on success, updates the row cache.
    fn try_write(&mut self, records: &[Record]) -> Result<(), Error> {
        if self.db.is_none() {
            self.reconnect_if_broken();
        }
        let Some(db) = self.db.as_mut() else {
            return Err(Error::Stopped { reason: "not connected to the database".to_owned() });
        };
        let plan = plan(&self.rows, records);
        let times = &mut self.times;
        let ids = db.transaction(|conn| {
            let new_rows: Vec<NewTaskRow<'_>> = plan
                .new
                .iter()
                .map(|t| NewTaskRow { task_id: &t.record.task.task_id, name: &t.record.task.family, host: t.host })
                .collect();
            let ids = conn.insert_tasks(&new_rows)?;
            if ids.len() != new_rows.len() {
                return Err(Error::Query {
                    reason: format!("inserting {} tasks rows returned {} ids", new_rows.len(), ids.len()),
                });
            }
            let mut params = Vec::new();
            for (t, &row) in plan.new.iter().zip(&ids) {
                push_params(&mut params, row, &t.record.task.params);
            }
            conn.insert_params(&params)?;
            let hosts: Vec<(i64, &str)> = plan.hosts.iter().map(|(&row, &(_, host))| (row, host)).collect();
            conn.update_hosts(&hosts)?;
            let events: Vec<EventRow> = plan
                .events
                .iter()
                .map(|&(row, event, at)| EventRow {
                    row: match row {
                        RowRef::Existing(id) => id,
                        RowRef::New(i) => ids[i],
                    },
                    event,
                    ts: times.local(at),
                })
                .collect();
            conn.insert_events(&events)?;
            Ok(ids)
        })?;
        for (t, row) in plan.new.iter().zip(ids) {
            self.rows.insert(t.record.task.task_id.clone(), Cached { row, host: t.host.map(str::to_owned) });
        }
        for (_, (task_id, host)) in plan.hosts {
            if let Some(cached) = self.rows.get_mut(task_id) {
                cached.host = Some(host.to_owned());
            }
        }
        Ok(())
    }
}

/// Plans a batch against the row cache.
fn plan<'a>(rows: &HashMap<String, Cached>, records: &'a [Record]) -> Plan<'a> {
    let mut plan = Plan::default();
    for record in records {
        let task_id = record.task.task_id.as_str();
        let host = host_of(record);
        let row = if let Some(cached) = rows.get(task_id) {
            if let Some(host) = host {
                let current = plan.hosts.get(&cached.row).map(|&(_, h)| h).or(cached.host.as_deref());
                if current != Some(host) {
                    plan.hosts.insert(cached.row, (task_id, host));
                }
            }
            RowRef::Existing(cached.row)
        } else {
            match plan.new_index.entry(task_id) {
                Entry::Occupied(i) => {
                    let i = *i.get();
                    if host.is_some() {
                        plan.new[i].host = host;
                    }
                    RowRef::New(i)
                }
                Entry::Vacant(slot) => {
                    slot.insert(plan.new.len());
                    plan.new.push(NewTask { record, host });
                    RowRef::New(plan.new.len() - 1)
                }
            }
        };
        plan.events.push((row, record.event.as_str(), record.at));
    }
    plan
}

/// Adds a task's parameters, keeping the last value of a repeated name (a parameter dict in Luigi).
fn push_params<'a>(out: &mut Vec<ParamRow<'a>>, row: i64, params: &'a [(String, String)]) {
    let start = out.len();
    for (name, value) in params {
        match out[start..].iter_mut().find(|p| p.name == name) {
            Some(existing) => existing.value = value,
            None => out.push(ParamRow { row, name, value }),
        }
    }
}

/// Whether an error came from the data rather than the connection (constraint violations, values
/// too long for a column): retrying the same batch cannot help, but splitting it can.
fn is_data_error(err: &Error) -> bool {
    match err {
        Error::Sqlite(e) => matches!(
            e.sqlite_error_code(),
            Some(
                rusqlite::ErrorCode::ConstraintViolation
                    | rusqlite::ErrorCode::TooBig
                    | rusqlite::ErrorCode::TypeMismatch
            )
        ),
        Error::Postgres(e) => e.code().is_some_and(|code| {
            let class = &code.code()[..2];
            class == "22" || class == "23"
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(task_id: &str, event: HistoryEvent, host: Option<&str>) -> Record {
        Record {
            task: HistoryTask {
                task_id: task_id.to_owned(),
                family: "F".to_owned(),
                params: vec![("a".to_owned(), "1".to_owned())],
            },
            event,
            host: host.map(str::to_owned),
            at: 0.0,
        }
    }

    #[test]
    fn plan_groups_new_tasks_and_tracks_hosts() {
        let mut rows = HashMap::new();
        rows.insert("known".to_owned(), Cached { row: 7, host: Some("h1".to_owned()) });
        let records = vec![
            record("new", HistoryEvent::Pending, None),
            record("known", HistoryEvent::Running, Some("h1")),
            record("new", HistoryEvent::Running, Some("h2")),
            record("known", HistoryEvent::Running, Some("h3")),
            record("new", HistoryEvent::Done, Some("")),
        ];
        let plan = plan(&rows, &records);
        assert_eq!(plan.new.len(), 1);
        assert_eq!(plan.new[0].host, Some("h2"));
        // The same host as cached is not rewritten; a new one is.
        assert_eq!(plan.hosts.len(), 1);
        assert_eq!(plan.hosts[&7], ("known", "h3"));
        let rows: Vec<String> = plan.events.iter().map(|(r, e, _)| format!("{r:?}:{e}")).collect();
        assert_eq!(
            rows,
            ["New(0):PENDING", "Existing(7):RUNNING", "New(0):RUNNING", "Existing(7):RUNNING", "New(0):DONE"]
        );
    }

    #[test]
    fn repeated_parameter_names_keep_the_last_value() {
        let params =
            vec![("a".to_owned(), "1".to_owned()), ("b".to_owned(), "2".to_owned()), ("a".to_owned(), "3".to_owned())];
        let mut out = vec![ParamRow { row: 1, name: "a", value: "other task" }];
        push_params(&mut out, 2, &params);
        let got: Vec<(i64, &str, &str)> = out.iter().map(|p| (p.row, p.name, p.value)).collect();
        assert_eq!(got, [(1, "a", "other task"), (2, "a", "3"), (2, "b", "2")]);
    }

    #[test]
    fn rate_limit() {
        let limit = RateLimit::new(Duration::from_secs(3600));
        assert!(limit.allow());
        assert!(!limit.allow());
        let always = RateLimit::new(Duration::ZERO);
        assert!(always.allow());
        assert!(always.allow());
    }
}
