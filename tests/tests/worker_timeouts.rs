//! Task timeouts end to end: a task over its `worker_timeout()` (or `[worker] timeout`) runs
//! in a child process that the worker kills, the task fails with Luigi's message and fires
//! `TIMEOUT` only; a task within its timeout succeeds in its child; a child that dies on its
//! own is a `PROCESS_FAILURE`. Run with the in-process scheduler and against our `luigid`.
//!
//! No timing assertion can flake under load: the timed-out task would sleep 60 s, the timeout
//! is 1 s, and the test only asserts that the run ended well before the 60 s (under 50 s) and
//! that the task never reached its end.

use std::path::{Path, PathBuf};

use luigi_tests::Luigid;
use luigi_tests::pipeline::{Finished, Pipeline, Program, RETCODES_CFG, codes};

const LUIGID: &str = env!("CARGO_BIN_EXE_luigid-under-test");

fn rust() -> Program {
    Program::Rust(PathBuf::from(env!("CARGO_BIN_EXE_pipeline-under-test")))
}

fn cfg(extra: &str) -> String {
    format!("[core]\nno_lock = true\nlog_level = INFO\n{extra}\n{RETCODES_CFG}")
}

fn event_names_of(pipeline: &Pipeline, prefix: &str) -> Vec<String> {
    pipeline.events().into_iter().filter(|e| e.task.starts_with(prefix)).map(|e| e.event).collect()
}

/// Checks a run whose only task, `Sleepy`, was stopped by a 1 s timeout.
fn assert_timed_out(pipeline: &Pipeline, finished: &Finished) {
    finished.assert_code(codes::TASK_FAILED);
    assert!(finished.elapsed.as_secs() < 50, "the task was not stopped in time: {}", finished.describe());
    assert_eq!(pipeline.count_runs("Sleepy_", "start"), 1, "{}", finished.describe());
    assert_eq!(pipeline.count_runs("Sleepy_", "end"), 0, "the task ran to its end: {}", finished.describe());
    assert!(!pipeline.has_output("Sleepy_"));
    assert!(finished.stderr.contains("timed out after 1 seconds and was terminated."), "{}", finished.describe());
    let summary = finished.summary();
    assert_eq!(summary.count("failed"), 1, "{}", summary.text);
    assert_eq!(summary.verdict, "This progress looks :( because there were failed tasks");
    // Luigi fires TIMEOUT, and neither FAILURE nor PROCESS_FAILURE, for a task it killed.
    assert_eq!(event_names_of(pipeline, "Sleepy_"), ["event.core.start", "event.core.timeout"]);
}

#[test]
fn a_task_over_its_worker_timeout_is_killed_and_fails() {
    let mut pipeline = Pipeline::new(&cfg(""));
    let root = pipeline.root_arg();
    let finished =
        pipeline.run(&rust(), &["Sleepy", "--root", &root, "--seconds", "60", "--timeout", "1", "--local-scheduler"]);
    assert_timed_out(&pipeline, &finished);
}

#[test]
fn the_worker_section_timeout_applies_to_tasks_without_their_own() {
    let mut pipeline = Pipeline::new(&cfg("[worker]\ntimeout = 1\n"));
    let root = pipeline.root_arg();
    let finished =
        pipeline.run(&rust(), &["Sleepy", "--root", &root, "--seconds", "60", "--timeout", "0", "--local-scheduler"]);
    assert_timed_out(&pipeline, &finished);
}

#[test]
fn a_task_killed_by_its_timeout_fails_in_luigid_too() {
    let mut pipeline = Pipeline::new(&cfg(""));
    let daemon = pipeline.work.join("daemon");
    std::fs::create_dir(&daemon).expect("the daemon directory");
    let luigid = Luigid::start(Path::new(LUIGID), &daemon, &["--state-path", "state.db"]).expect("luigid starts");
    let url = format!("http://127.0.0.1:{}/", luigid.port);
    let root = pipeline.root_arg();
    let finished = pipeline
        .run(&rust(), &["Sleepy", "--root", &root, "--seconds", "60", "--timeout", "1", "--scheduler-url", &url]);
    assert_timed_out(&pipeline, &finished);
    let tasks = luigid.rpc("task_list", &serde_json::json!({"status": "FAILED", "upstream_status": ""})).unwrap();
    let tasks = tasks.as_object().expect("task_list answers an object");
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    let id = tasks.keys().next().expect("one task");
    assert!(id.starts_with("Sleepy_"), "{id}");
    let error = luigid.rpc("fetch_error", &serde_json::json!({"task_id": id})).unwrap();
    let text = error["error"].as_str().unwrap_or_default();
    assert!(text.contains("timed out after 1 seconds and was terminated."), "{error}");
}

#[test]
fn a_task_within_its_timeout_succeeds_in_its_child_process() {
    let mut pipeline = Pipeline::new(&cfg(""));
    let root = pipeline.root_arg();
    let running = pipeline
        .spawn(&rust(), &["Sleepy", "--root", &root, "--seconds", "0", "--timeout", "120", "--local-scheduler"]);
    let worker_pid = running.pid();
    let finished = running.finish();
    finished.assert_code(0);
    assert!(pipeline.has_output("Sleepy_"));
    let runs = pipeline.runs();
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert!(runs.iter().all(|r| r.pid != worker_pid), "the task ran in the worker's process: {runs:?}");
    // The child's `done` line (with the child's pid, as in Luigi) reaches the worker's log.
    let done = format!("INFO: [pid {}] Worker Worker(", runs[0].pid);
    assert!(
        finished.stderr.lines().any(|line| line.starts_with(&done) && line.contains(") done      Sleepy(")),
        "{}",
        finished.describe()
    );
    // The child relays the events it fires to the worker, whose handlers record them.
    assert_eq!(
        event_names_of(&pipeline, "Sleepy_"),
        ["event.core.start", "event.core.processing_time", "event.core.success"]
    );
    assert_eq!(finished.summary().count("ran successfully"), 1);
}

#[test]
fn a_child_process_that_dies_is_a_process_failure() {
    let mut pipeline = Pipeline::new(&cfg(""));
    let root = pipeline.root_arg();
    let finished = pipeline.run(&rust(), &["Dies", "--root", &root, "--timeout", "120", "--local-scheduler"]);
    finished.assert_code(codes::TASK_FAILED);
    assert_eq!(pipeline.count_runs("Dies_", "run"), 1);
    assert!(finished.stderr.contains("died unexpectedly with exit code 3"), "{}", finished.describe());
    assert_eq!(event_names_of(&pipeline, "Dies_"), ["event.core.start", "event.core.process_failure"]);
    assert_eq!(finished.summary().count("failed"), 1);
}

#[test]
fn force_multiprocessing_runs_a_task_without_timeout_in_a_child() {
    let mut pipeline = Pipeline::new(&cfg("[worker]\nforce_multiprocessing = true\n"));
    let root = pipeline.root_arg();
    let finished = pipeline.run(&rust(), &["Dies", "--root", &root, "--timeout", "0", "--local-scheduler"]);
    // Had the task run in the worker's process, its exit(3) would have ended the worker.
    finished.assert_code(codes::TASK_FAILED);
    assert_eq!(event_names_of(&pipeline, "Dies_"), ["event.core.start", "event.core.process_failure"]);
}
