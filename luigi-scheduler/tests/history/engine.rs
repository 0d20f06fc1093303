//! The engine and the store together: RPCs dispatched as `luigid` dispatches them, with the store
//! attached through `Scheduler::set_history`, must leave the rows Python's luigid leaves for the same
//! calls (compare `tests/data/history/python_luigid.json`: a row per task id, PENDING → RUNNING with
//! the worker's host → DONE/FAILED, parameters as the worker sent them).

use std::sync::Arc;

use luigi_core::rpc::dispatch;
use luigi_scheduler::clock::ManualClock;
use luigi_scheduler::history::{HistoryStore, Page, TaskHistory};
use luigi_scheduler::{Config, Scheduler};

use crate::common::{T0, open, sqlite_url};

fn call(scheduler: &Scheduler, method: &str, data: &str) {
    if let Err(err) = dispatch(scheduler, method, data) {
        panic!("{method} {data}: {err}");
    }
}

fn statuses(store: &HistoryStore, task_id: &str) -> Vec<String> {
    let run = store.latest_run_for_task_id(task_id, Page::first()).expect("query").expect("a run");
    run.events.items.into_iter().rev().map(|e| e.name.unwrap_or_default()).collect()
}

#[test]
fn engine_records_a_run_as_luigi_does() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(open(sqlite_url(&dir.path().join("history.db")), T0 + 3600.0));
    let clock = Arc::new(ManualClock::new(T0));
    let config = Config { record_task_history: true, retry_delay: 0.0, ..Config::default() };
    let scheduler = Scheduler::with_clock(config, clock.clone());
    scheduler.set_history(Arc::clone(&store) as Arc<dyn TaskHistory>);

    let leaf = r#""task_id": "Leaf_1_abc", "family": "Leaf", "params": {"n": "1", "secret": "s3"},
        "param_visibilities": {"secret": 1}"#;
    let fails = r#""task_id": "Fails__99914b932b", "family": "Fails", "params": {}"#;
    call(&scheduler, "add_worker", r#"{"worker": "w1", "info": {"host": "worker-host"}}"#);
    call(&scheduler, "add_task", &format!(r#"{{"worker": "w1", {leaf}, "status": "PENDING"}}"#));
    call(&scheduler, "add_task", &format!(r#"{{"worker": "w1", {fails}, "status": "PENDING"}}"#));
    clock.advance(1.0);
    call(&scheduler, "get_work", r#"{"worker": "w1", "host": "worker-host"}"#);
    clock.advance(1.0);
    call(&scheduler, "add_task", &format!(r#"{{"worker": "w1", {leaf}, "status": "DONE"}}"#));
    call(&scheduler, "get_work", r#"{"worker": "w1", "host": "worker-host"}"#);
    clock.advance(1.0);
    call(&scheduler, "add_task", &format!(r#"{{"worker": "w1", {fails}, "status": "FAILED"}}"#));
    store.flush().expect("flush");

    assert_eq!(statuses(&store, "Leaf_1_abc"), ["PENDING", "RUNNING", "DONE"]);
    assert_eq!(statuses(&store, "Fails__99914b932b"), ["PENDING", "RUNNING", "FAILED"]);
    let leaf = store.latest_run_for_task_id("Leaf_1_abc", Page::first()).expect("query").expect("leaf");
    assert_eq!(leaf.host.as_deref(), Some("worker-host"));
    // Hidden parameters are recorded too, as Luigi records every parameter the worker sent.
    let params: Vec<(&str, Option<&str>)> = leaf.parameters.iter().map(|(k, v)| (k.as_str(), v.as_deref())).collect();
    assert_eq!(params, [("n", Some("1")), ("secret", Some("s3"))]);
    assert_eq!(leaf.events.items[0].ts.epoch(), T0 + 2.0);
    let stats = store.stats();
    assert_eq!((stats.written, stats.dropped, stats.failed), (6, 0, 0), "{stats:?}");
}
