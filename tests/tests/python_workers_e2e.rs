//! Real Python Luigi 3.8.1 workers against a luigid: two worker processes at once on one ~300-task DAG.
//!
//! `tests/python/e2e_pipeline.py --start-luigid` starts the luigid under test (`LUIGID_BIN`, else the
//! default chosen in `python_support`), runs two `luigi` command-line workers concurrently (one on
//! Luigi's `requests` transport, one on its `urllib` one, each with `--workers 2`), then a third on the
//! finished pipeline, and checks that every task ran exactly once across the first two and the third
//! ran nothing, every output exists, the scheduler lists every task as DONE, and all execution
//! summaries report success (see the script's docstring for why Luigi's NOT_RUN verdict is accepted
//! for the two concurrent workers when its numbers reconcile with what the other worker ran).
//!
//! A second test proves the checks have teeth: with a separate luigid per worker nothing coordinates
//! the two, so tasks run twice, and the harness must say so.

mod python_support;

use serde_json::Value;

/// The DAG's size, as e2e_pipeline.py builds it (100 sources, 4 layers of 50, 10 merges, 1 root).
const EXPECTED_TASKS: u64 = 311;

/// Runs e2e_pipeline.py with `extra` arguments; returns its exit code, JSON report and output.
fn run_pipeline(env: &python_support::PythonEnv, extra: &[&str]) -> (Option<i32>, Value, String) {
    let luigid = python_support::luigid_command(env).unwrap_or_else(|e| panic!("no luigid to test: {e}"));
    let dir = tempfile::tempdir().expect("a temporary directory for the pipeline");
    let workdir = dir.path().join("work").display().to_string();
    let json_path = dir.path().join("report.json");
    let json_arg = json_path.display().to_string();
    let mut args = vec!["--start-luigid", "--workdir", &workdir, "--json", &json_arg, "--timeout", "600"];
    args.extend_from_slice(extra);
    let output = python_support::run_harness(env, &luigid, "e2e_pipeline.py", &args);
    let text = python_support::output_text(&output);
    let report = std::fs::read_to_string(&json_path)
        .ok()
        .and_then(|raw| serde_json::from_str(&raw).ok())
        .unwrap_or_else(|| panic!("e2e_pipeline.py wrote no readable report ({}):\n{text}", output.status));
    (output.status.code(), report, text)
}

#[test]
fn two_python_workers_run_every_task_exactly_once() {
    let Some(env) = python_support::python_env() else { return };
    let (code, report, text) = run_pipeline(&env, &[]);
    println!("{text}");
    assert_eq!(code, Some(0), "the end-to-end checks failed:\n{text}");
    assert_eq!(report["ok"], Value::Bool(true), "{text}");
    assert_eq!(report["expected_tasks"].as_u64(), Some(EXPECTED_TASKS), "{text}");
    assert_eq!(report["scheduler_statuses"]["DONE"].as_u64(), Some(EXPECTED_TASKS), "{text}");
    let ran = |label: &str| report[format!("worker_{label}")]["tasks_run"].as_u64().unwrap_or(0);
    assert_eq!(ran("A") + ran("B"), EXPECTED_TASKS, "{text}");
    for label in ["A", "B", "C"] {
        let worker = &report[format!("worker_{label}")];
        assert_eq!(worker["exit_code"].as_i64(), Some(0), "worker {label}: {text}");
        let verdict = worker["verdict"].as_str().unwrap_or("");
        assert!(verdict.starts_with("This progress looks :"), "worker {label} verdict {verdict:?}: {text}");
    }
    // The late worker found everything complete: it ran nothing and says so plainly.
    assert_eq!(ran("C"), 0, "{text}");
    assert_eq!(
        report["worker_C"]["verdict"].as_str(),
        Some("This progress looks :) because there were no failed tasks or missing dependencies"),
        "{text}"
    );
}

#[test]
fn the_checks_catch_workers_that_nothing_coordinates() {
    let Some(env) = python_support::python_env() else { return };
    let (code, report, text) = run_pipeline(&env, &["--self-test-separate-schedulers"]);
    assert_eq!(code, Some(1), "with a scheduler per worker the checks must fail:\n{text}");
    assert_eq!(report["ok"], Value::Bool(false), "{text}");
    let problems: Vec<&str> =
        report["problems"].as_array().map(|list| list.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    assert!(problems.iter().any(|p| p.contains("ran more than once")), "no double run reported: {problems:?}");
}
