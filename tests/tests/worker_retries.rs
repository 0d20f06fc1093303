//! Retries end to end: a task that fails twice and then succeeds is run again by a kept-alive
//! worker once the scheduler's `[scheduler] retry_delay` has passed (in-process scheduler, and
//! our `luigid` with `prune_on_get_work`), and the summary says the failures "all succeeded in
//! a retry"; with `[scheduler] retry_count = 2` the task is disabled after its second failure
//! and the worker stops. Compared with Luigi 3.8.1 (the Python twin) when available: same
//! number of runs, same summary, same exit code.
//!
//! `FlakyRoot` requires `Flaky`, so the worker has a pending task to stay alive for while
//! `Flaky` waits for its retry, as in Luigi. The retry delay is 1 s and the worker polls every
//! 0.1 s; nothing is timed, the test only counts runs.

use std::path::{Path, PathBuf};

use luigi_tests::Luigid;
use luigi_tests::pipeline::{Finished, Pipeline, Program, RETCODES_CFG, codes, luigi_python};

const LUIGID: &str = env!("CARGO_BIN_EXE_luigid-under-test");

fn rust() -> Program {
    Program::Rust(PathBuf::from(env!("CARGO_BIN_EXE_pipeline-under-test")))
}

const WORKER: &str = "[worker]\nkeep_alive = true\nwait_interval = 0.1\nwait_jitter = 0\n";

fn cfg(scheduler: &str) -> String {
    format!("[core]\nno_lock = true\nlog_level = INFO\n{WORKER}[scheduler]\n{scheduler}\n{RETCODES_CFG}")
}

/// Runs `FlakyRoot --fail-times <fail_times>` with `program` and the in-process scheduler.
fn run_flaky(program: &Program, scheduler: &str, fail_times: &str) -> (Finished, usize, usize) {
    let mut pipeline = Pipeline::new(&cfg(scheduler));
    let root = pipeline.root_arg();
    let finished =
        pipeline.run(program, &["FlakyRoot", "--fail-times", fail_times, "--root", &root, "--local-scheduler"]);
    (finished, pipeline.count_runs("Flaky_", "run"), pipeline.count_runs("FlakyRoot_", "run"))
}

fn compare_with_luigi(ours: &Finished, counts: (usize, usize), scheduler: &str, fail_times: &str) {
    let Some(python) = luigi_python() else { return };
    let (theirs, flaky, root) = run_flaky(&Program::Python(python), scheduler, fail_times);
    assert_eq!(counts, (flaky, root), "runs differ from Luigi's: {}", theirs.describe());
    assert_eq!(ours.code, theirs.code, "ours: {}\nLuigi's: {}", ours.describe(), theirs.describe());
    let shape = |f: &Finished| {
        let s = f.summary();
        (s.categories.iter().map(|c| (c.phrase.clone(), c.count)).collect::<Vec<_>>(), s.verdict)
    };
    assert_eq!(shape(ours), shape(&theirs), "ours: {}\nLuigi's: {}", ours.describe(), theirs.describe());
}

#[test]
fn a_failing_task_is_retried_after_the_retry_delay_until_it_succeeds() {
    let scheduler = "retry_delay = 1\n";
    let (finished, flaky, root) = run_flaky(&rust(), scheduler, "2");
    finished.assert_code(0);
    assert_eq!((flaky, root), (3, 1), "{}", finished.describe());
    let summary = finished.summary();
    assert_eq!(summary.count("ran successfully"), 2, "{}", summary.text);
    assert_eq!(summary.count("failed"), 0, "{}", summary.text);
    assert_eq!(
        summary.verdict,
        "This progress looks :) because there were failed tasks but they all succeeded in a retry"
    );
    compare_with_luigi(&finished, (flaky, root), scheduler, "2");
}

#[test]
fn retry_count_disables_the_task_and_the_worker_stops() {
    let scheduler = "retry_delay = 1\nretry_count = 2\n";
    let (finished, flaky, root) = run_flaky(&rust(), scheduler, "5");
    finished.assert_code(codes::TASK_FAILED);
    assert_eq!((flaky, root), (2, 0), "{}", finished.describe());
    assert_eq!(finished.summary().count("failed"), 1, "{}", finished.describe());
    compare_with_luigi(&finished, (flaky, root), scheduler, "5");
}

#[test]
fn luigid_hands_a_failed_task_out_again_after_the_retry_delay() {
    let mut pipeline = Pipeline::new(&cfg(""));
    let daemon = pipeline.work.join("daemon");
    std::fs::create_dir(&daemon).expect("the daemon directory");
    std::fs::write(daemon.join("luigi.cfg"), "[scheduler]\nretry_delay = 1\nprune_on_get_work = true\n")
        .expect("luigid's luigi.cfg");
    let luigid = Luigid::start(Path::new(LUIGID), &daemon, &["--state-path", "state.db"]).expect("luigid starts");
    let url = format!("http://127.0.0.1:{}/", luigid.port);
    let root = pipeline.root_arg();
    let finished = pipeline.run(&rust(), &["FlakyRoot", "--fail-times", "2", "--root", &root, "--scheduler-url", &url]);
    finished.assert_code(0);
    assert_eq!(pipeline.count_runs("Flaky_", "run"), 3, "{}", finished.describe());
    assert_eq!(pipeline.count_runs("FlakyRoot_", "run"), 1);
    let done = luigid.rpc("task_list", &serde_json::json!({"status": "DONE", "upstream_status": ""})).unwrap();
    assert_eq!(done.as_object().map(|tasks| tasks.len()), Some(2), "{done}");
}
