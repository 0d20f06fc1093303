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

/// The race behind a flaky CI run (fixed): a runner finishes `Child(0)`, asks for work and is
/// told "nothing" — but before it reads the answer, the parent goes on and requires
/// `Child(1..3)` and waits for them. The stale "nothing" made the runner tell the waiting
/// parent to give up; it was reported PENDING and ran again from the top. The scheduler here
/// delivers exactly that stale answer, deterministically, so the race cannot hide.
mod stale_reply {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, Weak};
    use std::time::{Duration, Instant};

    use luigi_core::prelude::*;
    use luigi_core::rpc::{Error, Loopback, RpcClient, Transport};
    use luigi_worker::{Worker, WorkerOptions};
    use serde_json::Value;

    static PARENT_STARTS: AtomicUsize = AtomicUsize::new(0);

    #[derive(Task, Clone, Debug)]
    struct StaleChild {
        root: String,
        n: i64,
    }

    impl Task for StaleChild {
        type Requires = ();
        type Output = LocalTarget;
        fn requires(&self) {}
        fn output(&self) -> LocalTarget {
            LocalTarget::new(format!("{}/child_{}.txt", self.root, self.n))
        }
        fn run(&self, _ctx: &mut RunContext<'_>) -> Result<(), BoxError> {
            let mut out = self.output().open_write()?;
            std::io::Write::write_all(&mut out, b"x")?;
            out.commit()?;
            Ok(())
        }
    }

    #[derive(Task, Clone, Debug)]
    struct StaleParent {
        root: String,
    }

    impl Task for StaleParent {
        type Requires = ();
        type Output = LocalTarget;
        fn requires(&self) {}
        fn output(&self) -> LocalTarget {
            LocalTarget::new(format!("{}/parent.txt", self.root))
        }
        fn run(&self, ctx: &mut RunContext<'_>) -> Result<(), BoxError> {
            PARENT_STARTS.fetch_add(1, Ordering::SeqCst);
            ctx.require(StaleChild { root: self.root.clone(), n: 0 })?;
            ctx.require((1..4).map(|n| StaleChild { root: self.root.clone(), n }).collect::<Vec<_>>())?;
            let mut out = self.output().open_write()?;
            std::io::Write::write_all(&mut out, b"done")?;
            out.commit()?;
            Ok(())
        }
    }

    /// How far the run is, as seen on the wire.
    #[derive(Default)]
    struct Seen {
        /// `add_task` calls that registered run-time requirements.
        requirement_batches: u32,
        /// `StaleChild(0)`, the first batch, was reported DONE.
        first_done: bool,
        /// A `get_work` was answered "nothing" after that.
        nothing_answered: bool,
        /// That stale "nothing" has been delivered.
        held_once: bool,
    }

    /// The in-process engine seen through the wire encoding, forcing the race's order: after
    /// the first batch of requirements is done, the parent's announcements of its second batch
    /// wait until a `get_work` has been answered "nothing", and that answer is held back until
    /// the parent has registered the batch and is waiting for it.
    struct StaleOnce {
        inner: Loopback<luigi_scheduler::Scheduler>,
        seen: Mutex<Seen>,
        changed: Condvar,
        worker: OnceLock<Weak<Worker>>,
    }

    /// How long the transport waits for the other side of the race before letting go (the
    /// test then fails on `held_once`, never hangs).
    const PATIENCE: Duration = Duration::from_secs(20);

    impl StaleOnce {
        fn parent_waits(&self) -> bool {
            let worker = self.worker.get().and_then(Weak::upgrade);
            worker.is_some_and(|worker| worker.progress().waiting > 0)
        }

        /// Waits (re-checking every few milliseconds) until `done` holds or [`PATIENCE`] ends.
        fn wait_until<'a>(
            &'a self,
            mut seen: MutexGuard<'a, Seen>,
            done: impl Fn(&Seen) -> bool,
        ) -> MutexGuard<'a, Seen> {
            let deadline = Instant::now() + PATIENCE;
            while Instant::now() < deadline && !done(&seen) {
                seen = self.changed.wait_timeout(seen, Duration::from_millis(2)).unwrap().0;
            }
            seen
        }
    }

    impl Transport for StaleOnce {
        fn call(&self, method: &str, data_json: &str) -> Result<String, Error> {
            let data: Value = serde_json::from_str(data_json).expect("the worker sends JSON");
            if method == "add_task" && data["status"] == "PENDING" {
                let seen = self.seen.lock().unwrap();
                if seen.requirement_batches == 1 && seen.first_done {
                    drop(self.wait_until(seen, |seen| seen.nothing_answered));
                }
            }
            let reply = self.inner.call(method, data_json)?;
            if method == "add_task" {
                let mut seen = self.seen.lock().unwrap();
                if data["new_deps"].as_array().is_some_and(|deps| !deps.is_empty()) {
                    seen.requirement_batches += 1;
                } else if data["status"] == "DONE" && seen.requirement_batches == 1 {
                    seen.first_done = true;
                }
                self.changed.notify_all();
            }
            if method == "get_work" {
                let answer: Value = serde_json::from_str(&reply).expect("the engine answers JSON");
                let mut seen = self.seen.lock().unwrap();
                if answer["response"]["task_id"].is_null() && seen.first_done && !seen.held_once {
                    seen.held_once = true;
                    seen.nothing_answered = true;
                    self.changed.notify_all();
                    let seen = self.wait_until(seen, |seen| seen.requirement_batches >= 2 && self.parent_waits());
                    assert!(seen.requirement_batches >= 2, "the parent never required its second batch");
                }
            }
            Ok(reply)
        }
    }

    #[test]
    fn a_stale_nothing_does_not_make_a_waiting_task_give_up() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_str().unwrap().to_owned();
        let transport = Arc::new(StaleOnce {
            inner: Loopback::new(luigi_scheduler::Scheduler::new(luigi_scheduler::Config::default())),
            seen: Mutex::new(Seen::default()),
            changed: Condvar::new(),
            worker: OnceLock::new(),
        });
        // Two runner slots: with one, a runner that finished a task asks again only while the
        // parent still waits, which the transport cannot arrange; with two it always asks, and
        // the give-up rule it triggers is the same (nothing running, a task waiting).
        let options = WorkerOptions { processes: 2, no_install_shutdown_handler: true, ..WorkerOptions::default() };
        let worker = Arc::new(Worker::new(Arc::new(RpcClient::new(Arc::clone(&transport))), options));
        assert!(transport.worker.set(Arc::downgrade(&worker)).is_ok(), "the worker is set once");

        assert!(worker.add(TaskRef::new(StaleParent { root: root.clone() })).unwrap());
        let succeeded = worker.run().unwrap();

        assert!(transport.seen.lock().unwrap().held_once, "the stale answer was never delivered");
        assert_eq!(PARENT_STARTS.load(Ordering::SeqCst), 1, "the parent's run() started again");
        assert!(succeeded, "{}", worker.summarize().text(5));
        assert!(dir.path().join("parent.txt").exists());
    }
}
