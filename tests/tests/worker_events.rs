//! Task events end to end: which of Luigi's events (inventory §5.6) fire, for which task and in
//! which order, when our program runs a pipeline; compared, when Luigi 3.8.1 is available,
//! with what Luigi fires for the Python twin (`tests/python/worker_pipeline.py`) in the same
//! directory. Both twins record every event to `$PIPELINE_EVENTS` from handlers registered for
//! every task.
//!
//! Between tasks the order may legitimately differ (the order in which a scheduler hands out
//! independent tasks is not part of the contract), so the comparison is per task: each task's
//! events, in the order they fired, must be Luigi's. The scenarios cover
//! `DEPENDENCY_DISCOVERED`, `DEPENDENCY_PRESENT`, `DEPENDENCY_MISSING` (missing external data
//! and a failing `complete()`), `BROKEN_TASK`, `START`, `PROCESSING_TIME`, `SUCCESS`,
//! `FAILURE`, `TIMEOUT` and `PROCESS_FAILURE`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use luigi_tests::pipeline::{EventLine, Pipeline, Program, RETCODES_CFG, luigi_python};

fn rust() -> Program {
    Program::Rust(PathBuf::from(env!("CARGO_BIN_EXE_pipeline-under-test")))
}

fn cfg() -> String {
    format!("[core]\nno_lock = true\nlog_level = INFO\n{RETCODES_CFG}")
}

/// Each task's events in order, `event` or `event dependency`.
fn per_task(events: &[EventLine]) -> BTreeMap<String, Vec<String>> {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for event in events {
        let text = match &event.extra {
            Some(extra) => format!("{} {extra}", event.event),
            None => event.event.clone(),
        };
        map.entry(event.task.clone()).or_default().push(text);
    }
    map
}

/// Runs `args` with our program (and Luigi's twin when available, comparing per-task event
/// sequences); returns our events per task.
fn events_of(args: &[&str], prepare: &dyn Fn(&Path)) -> BTreeMap<String, Vec<String>> {
    let mut pipeline = Pipeline::new(&cfg());
    let root = pipeline.root_arg();
    let mut full: Vec<&str> = args.to_vec();
    full.extend(["--root", &root, "--local-scheduler"]);
    prepare(&pipeline.root);
    let ours_run = pipeline.run(&rust(), &full);
    let ours = per_task(&pipeline.events());
    if let Some(python) = luigi_python() {
        pipeline.reset();
        prepare(&pipeline.root);
        let theirs_run = pipeline.run(&Program::Python(python), &full);
        let theirs = per_task(&pipeline.events());
        assert_eq!(
            ours,
            theirs,
            "events differ from Luigi's\nours: {}\nLuigi's: {}",
            ours_run.describe(),
            theirs_run.describe()
        );
    }
    ours
}

/// The events of the one task whose id starts with `prefix`.
fn of<'a>(events: &'a BTreeMap<String, Vec<String>>, prefix: &str) -> &'a [String] {
    let found: Vec<_> = events.iter().filter(|(id, _)| id.starts_with(prefix)).collect();
    assert_eq!(found.len(), 1, "expected one task {prefix}: {events:?}");
    found[0].1
}

const RAN: [&str; 3] = ["event.core.start", "event.core.processing_time", "event.core.success"];

#[test]
fn a_successful_run_fires_discovery_presence_and_run_events() {
    let present = |root: &Path| std::fs::write(root.join("ext-present"), b"data").expect("external data");
    let events = events_of(&["Chain", "--name", "present"], &present);
    let chain = of(&events, "Chain_");
    assert_eq!(chain.len(), 5, "{chain:?}");
    assert!(chain[0].starts_with("event.core.dependency.discovered Leaf_1_"), "{chain:?}");
    assert!(chain[1].starts_with("event.core.dependency.discovered Ext_present_"), "{chain:?}");
    assert_eq!(chain[2..], RAN);
    assert_eq!(of(&events, "Ext_"), ["event.core.dependency.present"]);
    assert_eq!(of(&events, "Leaf_"), RAN);
}

#[test]
fn a_failure_and_missing_data_fire_failure_and_dependency_missing() {
    let events = events_of(&["Mixed", "--name", "missing"], &|_| {});
    assert_eq!(of(&events, "Fails_"), ["event.core.start", "event.core.failure"]);
    assert_eq!(of(&events, "Ext_"), ["event.core.dependency.missing"]);
    assert_eq!(of(&events, "Leaf_1_"), RAN);
    let mixed = of(&events, "Mixed_");
    assert_eq!(mixed.len(), 4, "only discoveries, the root never runs: {mixed:?}");
    assert!(mixed.iter().all(|e| e.starts_with("event.core.dependency.discovered ")), "{mixed:?}");
}

#[test]
fn broken_tasks_fire_broken_task_and_dependency_missing() {
    let events = events_of(&["Broken"], &|_| {});
    assert_eq!(of(&events, "BadRequires_"), ["event.core.task.broken"]);
    assert_eq!(of(&events, "BadComplete_"), ["event.core.dependency.missing"]);
    assert_eq!(of(&events, "Leaf_7_"), RAN);
}

#[test]
fn a_timed_out_task_fires_timeout_only() {
    let events = events_of(&["Sleepy", "--seconds", "60", "--timeout", "1"], &|_| {});
    assert_eq!(of(&events, "Sleepy_"), ["event.core.start", "event.core.timeout"]);
}

#[test]
fn a_task_process_that_dies_fires_process_failure() {
    let events = events_of(&["Dies", "--timeout", "120"], &|_| {});
    assert_eq!(of(&events, "Dies_"), ["event.core.start", "event.core.process_failure"]);
}

#[test]
fn run_time_requirements_fire_events_for_the_required_tasks() {
    // No Python twin: Luigi's yield re-runs the parent, ours continues (docs/worker.md).
    let mut pipeline = Pipeline::new(&cfg());
    let root = pipeline.root_arg();
    pipeline
        .run(&rust(), &["Dyn", "--n", "2", "--timeout", "0", "--root", &root, "--local-scheduler", "--workers", "1"])
        .assert_code(0);
    let events = per_task(&pipeline.events());
    assert_eq!(of(&events, "Dyn_"), RAN);
    assert_eq!(of(&events, "DynChild_0_"), RAN);
    assert_eq!(of(&events, "DynChild_1_"), RAN);
}
