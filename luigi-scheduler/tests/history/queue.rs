//! The queue in front of the writer: `record` never waits for the database. When the writer is
//! stuck (here: another connection holds SQLite's write lock) records beyond the queue's capacity are
//! dropped and counted; once the database is free again the queued ones are written. And a large
//! burst (100,000 records) is written completely when the queue is big enough.

use std::sync::Arc;
use std::time::Instant;

use luigi_scheduler::clock::ManualClock;
use luigi_scheduler::history::{HistoryConfig, HistoryEvent, HistoryStore, Page, TaskHistory};

use crate::common::{T0, sqlite_url, task};

#[test]
fn full_queue_drops_instead_of_blocking() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("history.db");
    let mut config = HistoryConfig::new(sqlite_url(&path));
    config.queue_size = 4;
    config.batch_size = 1;
    config.clock = Arc::new(ManualClock::new(T0));
    let store = HistoryStore::open(config).expect("open");

    // Hold the write lock, so the writer waits in SQLite's busy handler on its first record.
    let blocker = rusqlite::Connection::open(&path).expect("open a second connection");
    blocker.execute_batch("BEGIN EXCLUSIVE").expect("take the write lock");

    let total = 1_000u64;
    let t = task("Q_1", "Q", &[("k", "v")]);
    for i in 0..total {
        store.record(t.clone(), HistoryEvent::Pending, None, T0 + i as f64);
    }
    let stats = store.stats();
    // One record in the writer's hands, at most four queued; everything else was dropped.
    assert!(stats.dropped >= total - 6, "{stats:?}");
    assert_eq!(stats.queued + stats.dropped, total, "{stats:?}");

    blocker.execute_batch("COMMIT").expect("release the lock");
    store.flush().expect("flush");
    let stats = store.stats();
    assert_eq!(stats.written + stats.failed, stats.queued, "{stats:?}");
    assert_eq!(stats.failed, 0, "{stats:?}");
    let run = store.latest_run_for_task_id("Q_1", Page::first()).expect("query").expect("the run");
    assert_eq!(run.events.items.len() as u64, stats.written);
}

#[test]
fn hundred_thousand_records_are_all_written() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = HistoryConfig::new(sqlite_url(&dir.path().join("history.db")));
    config.queue_size = 100_000;
    config.clock = Arc::new(ManualClock::new(T0 + 86_000.0));
    let store = HistoryStore::open(config).expect("open");

    let n_tasks = 20_000;
    let tasks: Vec<_> = (0..n_tasks)
        .map(|i| task(&format!("Bulk_{i}"), "Bulk", &[("i", &i.to_string()), ("day", "2026-01-15")]))
        .collect();
    let events =
        [HistoryEvent::Pending, HistoryEvent::Running, HistoryEvent::Done, HistoryEvent::Pending, HistoryEvent::Done];
    let start = Instant::now();
    let mut slowest = std::time::Duration::ZERO;
    for (step, &event) in events.iter().enumerate() {
        for (i, t) in tasks.iter().enumerate() {
            let host = (event == HistoryEvent::Running).then(|| "worker-1".to_owned());
            let call = Instant::now();
            store.record(t.clone(), event, host, T0 + (step * n_tasks + i) as f64 * 1e-3);
            slowest = slowest.max(call.elapsed());
        }
    }
    let recording = start.elapsed();
    store.flush().expect("flush");
    let total = start.elapsed();
    let stats = store.stats();
    eprintln!(
        "100k records: record() took {:.0} ns per call on average (slowest {:?}); written after {:?}",
        recording.as_nanos() as f64 / 100_000.0,
        slowest,
        total
    );
    assert_eq!((stats.queued, stats.written, stats.dropped, stats.failed), (100_000, 100_000, 0, 0), "{stats:?}");
    let families = store.families(Page::first()).expect("families");
    assert_eq!(families.items[0].runs, n_tasks as i64);
    let run = store.latest_run_for_task_id("Bulk_123", Page::first()).expect("query").expect("a run");
    let names: Vec<_> = run.events.items.iter().filter_map(|e| e.name.as_deref()).collect();
    assert_eq!(names, ["DONE", "PENDING", "DONE", "RUNNING", "PENDING"]);
    assert_eq!(run.host.as_deref(), Some("worker-1"));
}
