//! Execution summaries and exit codes end to end: a pipeline with a failure, missing external
//! data, scheduling errors (a `complete()` that panics, a `requires()` that panics), a clean
//! run and its re-run, each run by our program with the in-process scheduler and against our
//! `luigid`, and by Luigi 3.8.1 (the Python twin `tests/python/worker_pipeline.py`) in the same
//! directory: the summary text must be the same byte for byte, and the exit code the same
//! under Luigi's recommended `[retcode]` values (our defaults).
//!
//! The Python comparisons skip when Luigi 3.8.1 is not available (they fail instead under
//! `LUIGI_TEST_REQUIRE_SERVICES=1`); the checks on our own output always run.

use std::path::{Path, PathBuf};

use luigi_tests::Luigid;
use luigi_tests::pipeline::{Finished, Pipeline, Program, RETCODES_CFG, codes, luigi_python};

const LUIGID: &str = env!("CARGO_BIN_EXE_luigid-under-test");

fn rust() -> Program {
    Program::Rust(PathBuf::from(env!("CARGO_BIN_EXE_pipeline-under-test")))
}

fn cfg() -> String {
    format!("[core]\nno_lock = true\nlog_level = INFO\n{RETCODES_CFG}")
}

/// Runs `args` (a task and its parameters; `--root` is added) with our program, then, when
/// Luigi 3.8.1 is available, with Python in an emptied root, and checks that both printed the
/// same summary and exited with the same code. `prepare` sets up the root before each run.
fn run_both(pipeline: &mut Pipeline, args: &[&str], prepare: &dyn Fn(&Path)) -> Finished {
    let root = pipeline.root_arg();
    let mut full: Vec<&str> = args.to_vec();
    full.extend(["--root", &root, "--local-scheduler"]);
    prepare(&pipeline.root);
    let ours = pipeline.run(&rust(), &full);
    if let Some(python) = luigi_python() {
        pipeline.reset();
        prepare(&pipeline.root);
        let theirs = pipeline.run(&Program::Python(python), &full);
        assert_eq!(
            ours.summary().text,
            theirs.summary().text,
            "ours:\n{}\nLuigi's:\n{}",
            ours.describe(),
            theirs.describe()
        );
        assert_eq!(
            task_lines(&ours.stderr),
            task_lines(&theirs.stderr),
            "the tasks' log lines differ; ours: {}\nLuigi's: {}",
            ours.describe(),
            theirs.describe()
        );
        assert_eq!(
            ours.code,
            theirs.code,
            "exit codes differ; ours: {}\nLuigi's: {}",
            ours.describe(),
            theirs.describe()
        );
    }
    ours
}

fn nothing(_: &Path) {}

/// A run's log lines about its tasks, as Luigi writes them: `running   Task(...)`, `done`,
/// `failed`, and at DEBUG `Checking if Task(...) is complete`, with the pids and the worker's
/// id (which differ between runs) left out, sorted (threads interleave), plus whether the run
/// ended with the keep-alive thread's shutdown line.
fn task_lines(stderr: &str) -> Vec<String> {
    let mut lines: Vec<String> = stderr
        .lines()
        .filter_map(|line| {
            if line.starts_with("DEBUG: Checking if ") {
                return Some(line.to_owned());
            }
            if line.starts_with("INFO: Worker Worker(")
                && line.ends_with(") was stopped. Shutting down Keep-Alive thread")
            {
                return Some("INFO: Worker ... was stopped. Shutting down Keep-Alive thread".to_owned());
            }
            let (level, rest) = line.split_once("[pid ")?;
            let (_, what) = rest.split_once("] Worker Worker(")?.1.split_once(") ")?;
            Some(format!("{level}{what}"))
        })
        .collect();
    lines.sort();
    lines
}

#[test]
fn a_failure_and_missing_data_exit_task_failed_with_luigis_summary() {
    let mut pipeline = Pipeline::new(&cfg());
    let finished = run_both(&mut pipeline, &["Mixed", "--name", "missing"], &nothing);
    finished.assert_code(codes::TASK_FAILED);
    let summary = finished.summary();
    assert_eq!(summary.scheduled, 5, "{}", summary.text);
    assert_eq!(summary.count("ran successfully"), 2);
    assert_eq!(summary.count("failed"), 1);
    assert_eq!(summary.count("were missing external dependencies"), 1);
    assert_eq!(summary.count("had failed dependencies"), 1);
    assert_eq!(summary.verdict, "This progress looks :( because there were failed tasks");
    // Each task that ran logs Luigi's lines: `running`, then `done` or `failed` with the error.
    let lines = task_lines(&finished.stderr);
    let count = |prefix: &str| lines.iter().filter(|line| line.starts_with(prefix)).count();
    assert_eq!(count("INFO: running   "), 3, "{lines:#?}");
    assert_eq!(count("INFO: done      "), 2, "{lines:#?}");
    assert_eq!(count("ERROR: failed    "), 1, "{lines:#?}");
}

#[test]
fn at_debug_level_the_completeness_checks_and_work_requests_are_logged_as_in_luigi() {
    let mut pipeline = Pipeline::new(&cfg().replace("log_level = INFO", "log_level = DEBUG"));
    let finished = run_both(&mut pipeline, &["Mixed", "--name", "missing"], &nothing);
    let lines = task_lines(&finished.stderr);
    // Five tasks, each checked once while scheduling.
    assert_eq!(lines.iter().filter(|line| line.starts_with("DEBUG: Checking if ")).count(), 5, "{lines:#?}");
    assert!(lines.iter().any(|line| line.ends_with("Shutting down Keep-Alive thread")), "{lines:#?}");
    for expected in ["DEBUG: Asking scheduler for work...", "DEBUG: Pending tasks: ", "DEBUG: Done"] {
        assert!(
            finished.stderr.lines().any(|line| line.starts_with(expected)),
            "no {expected:?}: {}",
            finished.describe()
        );
    }
}

#[test]
fn missing_external_data_alone_exits_missing_data() {
    let mut pipeline = Pipeline::new(&cfg());
    let finished = run_both(&mut pipeline, &["Chain", "--name", "missing"], &nothing);
    finished.assert_code(codes::MISSING_DATA);
    assert_eq!(finished.summary().verdict, "This progress looks :| because there were missing external dependencies");
}

#[test]
fn panicking_complete_and_requires_are_scheduling_errors_not_crashes() {
    let mut pipeline = Pipeline::new(&cfg());
    let finished = run_both(&mut pipeline, &["Broken"], &nothing);
    finished.assert_code(codes::SCHEDULING_ERROR);
    let summary = finished.summary();
    assert_eq!(summary.count("failed scheduling"), 2, "{}", summary.text);
    assert_eq!(summary.count("ran successfully"), 1, "{}", summary.text);
    assert_eq!(summary.verdict, "This progress looks :( because there were tasks whose scheduling failed");
    // The healthy leaf ran; the broken tasks and the root did not.
    assert_eq!(pipeline.count_runs("Leaf_", "run"), 1);
    assert_eq!(pipeline.runs().len(), 1, "{:?}", pipeline.runs());
}

#[test]
fn a_complete_that_returns_an_error_is_a_scheduling_error() {
    let mut pipeline = Pipeline::new(&cfg());
    let finished = run_both(&mut pipeline, &["BadComplete", "--mode", "error"], &nothing);
    finished.assert_code(codes::SCHEDULING_ERROR);
    assert_eq!(finished.summary().count("failed scheduling"), 1);
    assert!(finished.stderr.contains("complete() of BadComplete fails on purpose"), "{}", finished.describe());
}

#[test]
fn a_clean_run_then_its_rerun_exit_zero() {
    let mut pipeline = Pipeline::new(&cfg());
    let present = |root: &Path| std::fs::write(root.join("ext-present"), b"data").expect("external data");
    let finished = run_both(&mut pipeline, &["Chain", "--name", "present"], &present);
    finished.assert_code(0);
    let summary = finished.summary();
    assert_eq!(summary.count("ran successfully"), 2, "{}", summary.text);
    assert_eq!(summary.count("complete ones were encountered"), 1, "{}", summary.text);
    assert_eq!(summary.verdict, "This progress looks :) because there were no failed tasks or missing dependencies");
    // Everything is complete now (the last run left its outputs): nothing runs again.
    let root = pipeline.root_arg();
    let again = pipeline.run(&rust(), &["Chain", "--name", "present", "--root", &root, "--local-scheduler"]);
    again.assert_code(0);
    let summary = again.summary();
    assert_eq!(summary.count("complete ones were encountered"), 1, "{}", summary.text);
    assert_eq!(summary.count("ran successfully"), 0, "{}", summary.text);
    assert!(summary.text.contains("Did not run any tasks"), "{}", summary.text);
}

#[test]
fn retcode_options_change_the_exit_codes() {
    let mut pipeline =
        Pipeline::new("[core]\nno_lock = true\n[retcode]\ntask_failed = 6\nmissing_data = 4\nscheduling_error = 5\n");
    let root = pipeline.root_arg();
    // A failure and missing data: the largest code wins.
    pipeline.run(&rust(), &["Mixed", "--name", "missing", "--root", &root, "--local-scheduler"]).assert_code(6);
    pipeline.run(&rust(), &["Chain", "--name", "missing", "--root", &root, "--local-scheduler"]).assert_code(4);
    pipeline.run(&rust(), &["Broken", "--root", &root, "--local-scheduler"]).assert_code(5);
    // With Luigi's shipped zeros, a failure exits 0, as Luigi's does.
    let mut zeros = Pipeline::new(
        "[core]\nno_lock = true\n[retcode]\ntask_failed = 0\nmissing_data = 0\nnot_run = 0\nalready_running = 0\n\
         scheduling_error = 0\n",
    );
    let root = zeros.root_arg();
    zeros.run(&rust(), &["Mixed", "--name", "missing", "--root", &root, "--local-scheduler"]).assert_code(0);
}

#[test]
fn an_unknown_task_exits_2_and_an_unreachable_scheduler_exits_unhandled_exception() {
    let mut pipeline =
        Pipeline::new(&format!("[core]\nno_lock = true\nrpc_retry_attempts = 1\nrpc_retry_wait = 0\n{RETCODES_CFG}"));
    let root = pipeline.root_arg();
    pipeline.run(&rust(), &["NoSuchTask", "--local-scheduler"]).assert_code(2);
    let port = luigi_tests::free_port();
    let url = format!("http://127.0.0.1:{port}/");
    let finished = pipeline.run(&rust(), &["Leaf", "--root", &root, "--i", "1", "--scheduler-url", &url]);
    finished.assert_code(codes::UNHANDLED_EXCEPTION);
}

#[test]
fn the_summary_against_luigid_is_the_local_one() {
    let mut pipeline = Pipeline::new(&cfg());
    let daemon = pipeline.work.join("daemon");
    std::fs::create_dir(&daemon).expect("the daemon directory");
    let luigid = Luigid::start(Path::new(LUIGID), &daemon, &["--state-path", "state.db"]).expect("luigid starts");
    let url = format!("http://127.0.0.1:{}/", luigid.port);
    let root = pipeline.root_arg();
    let remote = pipeline.run(&rust(), &["Mixed", "--name", "missing", "--root", &root, "--scheduler-url", &url]);
    remote.assert_code(codes::TASK_FAILED);
    pipeline.reset();
    let local = pipeline.run(&rust(), &["Mixed", "--name", "missing", "--root", &root, "--local-scheduler"]);
    assert_eq!(remote.summary().text, local.summary().text, "{}\n{}", remote.describe(), local.describe());
}
