//! Run-time requirements (dynamic dependencies) end to end, with the semantics of
//! `docs/worker.md`: `RunContext::require` blocks until the required tasks are complete and
//! `run()` continues, so the code before the call runs once, and each required task runs once
//! — with `--workers 1` (the worker starts an extra runner thread while the task waits), with
//! several workers, in a child process (a task with a timeout), and against our `luigid`.
//!
//! `Dyn(n)` records `pre`, requires `DynChild(0)`, records `middle`, requires `DynChild(1..n)`
//! together, records `post`; every record carries the process id, so a re-run or a run in the
//! wrong process shows in `runs.log`.

use std::path::{Path, PathBuf};

use luigi_tests::Luigid;
use luigi_tests::pipeline::{Finished, Pipeline, Program, RETCODES_CFG, codes};

const LUIGID: &str = env!("CARGO_BIN_EXE_luigid-under-test");

fn rust() -> Program {
    Program::Rust(PathBuf::from(env!("CARGO_BIN_EXE_pipeline-under-test")))
}

fn cfg() -> String {
    format!("[core]\nno_lock = true\nlog_level = INFO\n{RETCODES_CFG}")
}

/// Checks a successful `Dyn --n 4` run: each step of the parent once, in order, each child once.
fn assert_ran_once_each(pipeline: &Pipeline, finished: &Finished) {
    finished.assert_code(0);
    let steps: Vec<String> =
        pipeline.runs().into_iter().filter(|r| r.task.starts_with("Dyn_")).map(|r| r.what).collect();
    assert_eq!(steps, ["pre", "middle", "post"], "{}", finished.describe());
    for i in 0..4 {
        assert_eq!(pipeline.count_runs(&format!("DynChild_{i}_"), "run"), 1, "child {i}: {:?}", pipeline.runs());
    }
    // DynChild(0) ran before the parent went on; the others before `post`.
    let runs = pipeline.runs();
    let position = |task: &str, what: &str| {
        runs.iter().position(|r| r.task.starts_with(task) && r.what == what).expect("a recorded step")
    };
    assert!(position("DynChild_0_", "run") < position("Dyn_", "middle"), "{runs:?}");
    for i in 1..4 {
        assert!(position(&format!("DynChild_{i}_"), "run") < position("Dyn_", "post"), "{runs:?}");
    }
    let summary = finished.summary();
    assert_eq!(summary.scheduled, 5, "{}", summary.text);
    assert_eq!(summary.count("ran successfully"), 5, "{}", summary.text);
    assert!(pipeline.has_output("Dyn_"));
}

fn run_dyn(pipeline: &mut Pipeline, extra: &[&str]) -> Finished {
    let root = pipeline.root_arg();
    let mut args = vec!["Dyn", "--n", "4", "--root", &root];
    args.extend(extra);
    pipeline.run(&rust(), &args)
}

#[test]
fn one_worker_runs_each_requirement_once_and_continues_the_task() {
    let mut pipeline = Pipeline::new(&cfg());
    let finished = run_dyn(&mut pipeline, &["--timeout", "0", "--local-scheduler", "--workers", "1"]);
    assert_ran_once_each(&pipeline, &finished);
    // The parent ran on a thread of the worker.
    let worker_pids: std::collections::BTreeSet<u32> = pipeline.runs().iter().map(|r| r.pid).collect();
    assert_eq!(worker_pids.len(), 1, "{:?}", pipeline.runs());
}

#[test]
fn several_workers_run_each_requirement_once() {
    let mut pipeline = Pipeline::new(&cfg());
    let finished = run_dyn(&mut pipeline, &["--timeout", "0", "--local-scheduler", "--workers", "3"]);
    assert_ran_once_each(&pipeline, &finished);
}

#[test]
fn a_task_in_a_child_process_requires_through_its_worker() {
    let mut pipeline = Pipeline::new(&cfg());
    let finished = run_dyn(&mut pipeline, &["--timeout", "120", "--local-scheduler", "--workers", "1"]);
    assert_ran_once_each(&pipeline, &finished);
    // The parent's steps were recorded by its child process, not by a re-run elsewhere.
    let parent_pids: std::collections::BTreeSet<u32> =
        pipeline.runs().iter().filter(|r| r.task.starts_with("Dyn_")).map(|r| r.pid).collect();
    assert_eq!(parent_pids.len(), 1, "{:?}", pipeline.runs());
}

#[test]
fn one_worker_against_luigid_runs_each_requirement_once() {
    let mut pipeline = Pipeline::new(&cfg());
    let daemon = pipeline.work.join("daemon");
    std::fs::create_dir(&daemon).expect("the daemon directory");
    let luigid = Luigid::start(Path::new(LUIGID), &daemon, &["--state-path", "state.db"]).expect("luigid starts");
    let url = format!("http://127.0.0.1:{}/", luigid.port);
    let finished = run_dyn(&mut pipeline, &["--timeout", "0", "--scheduler-url", &url, "--workers", "1"]);
    assert_ran_once_each(&pipeline, &finished);
    let done = luigid.rpc("task_list", &serde_json::json!({"status": "DONE", "upstream_status": ""})).unwrap();
    assert_eq!(done.as_object().map(|tasks| tasks.len()), Some(5), "{done}");
}

#[test]
fn a_failed_requirement_fails_the_task_without_rerunning_it() {
    let mut pipeline = Pipeline::new(&cfg());
    let root = pipeline.root_arg();
    let finished = pipeline.run(&rust(), &["DynFails", "--root", &root, "--local-scheduler", "--workers", "1"]);
    finished.assert_code(codes::TASK_FAILED);
    assert_eq!(pipeline.count_runs("DynFails_", "pre"), 1, "{:?}", pipeline.runs());
    assert_eq!(pipeline.count_runs("DynFails_", "post"), 0, "{:?}", pipeline.runs());
    assert_eq!(pipeline.count_runs("DynChild_1_", "run"), 1);
    assert_eq!(pipeline.count_runs("DynChild_99_", "run"), 1);
    let summary = finished.summary();
    assert_eq!(summary.count("failed"), 2, "{}", summary.text);
    assert!(finished.stderr.contains("required task(s) failed"), "{}", finished.describe());
}

#[test]
fn a_second_run_finds_everything_complete() {
    let mut pipeline = Pipeline::new(&cfg());
    let first = run_dyn(&mut pipeline, &["--timeout", "0", "--local-scheduler", "--workers", "1"]);
    assert_ran_once_each(&pipeline, &first);
    let again = run_dyn(&mut pipeline, &["--timeout", "0", "--local-scheduler", "--workers", "1"]);
    again.assert_code(0);
    assert_eq!(pipeline.runs().len(), 7, "nothing ran again: {:?}", pipeline.runs());
    assert_eq!(again.summary().count("complete ones were encountered"), 1);
}

#[test]
fn a_waiting_task_never_gives_up_on_requirements_that_just_completed() {
    // The race this guards against (fixed): the runner that finished the last requirement
    // found nothing more to do and told waiting tasks to give up, between the waiting task's
    // completeness check and its give-up check; the task was reported PENDING and run again
    // from the top in the same run (`pre` twice). It needs unlucky timing, so run the
    // pipeline many times, each with several threads competing (both in-thread and in a
    // child process); every run must be exact.
    let runs: Vec<std::thread::JoinHandle<()>> = (0..12)
        .map(|i| {
            std::thread::spawn(move || {
                let mut pipeline = Pipeline::new(&cfg());
                let timeout = if i % 3 == 0 { "60" } else { "0" };
                let finished = run_dyn(&mut pipeline, &["--timeout", timeout, "--local-scheduler", "--workers", "1"]);
                assert_ran_once_each(&pipeline, &finished);
            })
        })
        .collect();
    for run in runs {
        run.join().expect("a run's checks passed");
    }
}
