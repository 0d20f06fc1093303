//! The process lock and SIGUSR1 end to end, through the command line of a real program
//! (`luigi_worker::lock` itself is tested in `luigi-worker/tests/lock.rs`; these tests check
//! what the `luigi` command makes of it): a second identical command exits `already_running`
//! while the first runs; `--no-lock` and `--lock-size 2` let identical commands run together;
//! `--take-lock` makes the holder phase out. SIGUSR1 makes a worker finish its running task and
//! start no other, also when it arrives during the scheduling phase or while a task waits for
//! run-time requirements (the run must end, not hang).
//!
//! The commands run `Gates`/`Gate` tasks, which create `started-<i>` and then wait for the test
//! to create `release`, so each test knows a process holds the lock and runs a task before it
//! acts. Each test has its own `--lock-pid-dir`. Where the Python twin has the families, the
//! phase-out is compared with Luigi 3.8.1's (summary and exit code).

use std::path::PathBuf;

use luigi_tests::pipeline::{Finished, Pipeline, Program, RETCODES_CFG, codes, create_file, luigi_python};
use luigi_tests::pipeline::{wait_for_file, wait_until};

fn rust() -> Program {
    Program::Rust(PathBuf::from(env!("CARGO_BIN_EXE_pipeline-under-test")))
}

/// With the lock on (no `no_lock`).
fn cfg() -> String {
    format!("[core]\nlog_level = INFO\n{RETCODES_CFG}")
}

struct Sandbox {
    pipeline: Pipeline,
    root: String,
    pid_dir: String,
}

impl Sandbox {
    fn new() -> Sandbox {
        let pipeline = Pipeline::new(&cfg());
        let root = pipeline.root_arg();
        let pid_dir = pipeline.work.join("locks").display().to_string();
        Sandbox { pipeline, root, pid_dir }
    }

    /// `Gates --n <n>` with one worker, the sandbox's lock directory and `extra` flags.
    fn gates(&self, n: &str, extra: &[&'static str]) -> Vec<String> {
        let mut args: Vec<String> = ["Gates", "--n", n, "--root", &self.root, "--local-scheduler", "--workers", "1"]
            .iter()
            .map(|a| (*a).to_owned())
            .collect();
        args.extend(["--lock-pid-dir".to_owned(), self.pid_dir.clone()]);
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        args
    }

    fn release(&self) {
        create_file(&self.pipeline.root.join("release"), "").expect("creating release");
    }

    fn gate_runs(&self) -> usize {
        self.pipeline.count_runs("Gate_", "run")
    }
}

fn refs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

#[test]
fn a_second_identical_command_exits_already_running() {
    let mut sandbox = Sandbox::new();
    let args = sandbox.gates("1", &[]);
    let mut first = sandbox.pipeline.spawn(&rust(), &refs(&args));
    assert!(wait_for_file(&sandbox.pipeline.root.join("started-0"), &mut first), "{}", first.stderr_so_far());
    let second = sandbox.pipeline.run(&rust(), &refs(&args));
    second.assert_code(codes::ALREADY_RUNNING);
    assert!(second.output().contains("already running"), "{}", second.describe());
    assert!(second.output().contains(&first.pid().to_string()), "names the holder: {}", second.describe());
    assert_eq!(sandbox.gate_runs(), 1, "the second command ran nothing");
    sandbox.release();
    first.finish().assert_code(0);
    // The lock is free again once the holder has exited.
    sandbox.pipeline.run(&rust(), &refs(&args)).assert_code(0);
}

#[test]
fn no_lock_lets_identical_commands_run_together() {
    let mut sandbox = Sandbox::new();
    let args = sandbox.gates("1", &["--no-lock"]);
    let mut first = sandbox.pipeline.spawn(&rust(), &refs(&args));
    assert!(wait_for_file(&sandbox.pipeline.root.join("started-0"), &mut first), "{}", first.stderr_so_far());
    let mut second = sandbox.pipeline.spawn(&rust(), &refs(&args));
    wait_until(&mut second, "the second command's gate", || sandbox.gate_runs() == 2);
    sandbox.release();
    first.finish().assert_code(0);
    second.finish().assert_code(0);
}

#[test]
fn lock_size_two_admits_two_identical_commands_and_refuses_a_third() {
    let mut sandbox = Sandbox::new();
    let args = sandbox.gates("1", &["--lock-size", "2"]);
    let mut first = sandbox.pipeline.spawn(&rust(), &refs(&args));
    wait_until(&mut first, "the first command's gate", || sandbox.gate_runs() == 1);
    let mut second = sandbox.pipeline.spawn(&rust(), &refs(&args));
    wait_until(&mut second, "the second command's gate", || sandbox.gate_runs() == 2);
    sandbox.pipeline.run(&rust(), &refs(&args)).assert_code(codes::ALREADY_RUNNING);
    sandbox.release();
    first.finish().assert_code(0);
    second.finish().assert_code(0);
}

#[test]
fn take_lock_makes_the_holder_finish_its_task_and_stop() {
    let mut sandbox = Sandbox::new();
    let args = sandbox.gates("2", &["--take-lock"]);
    let mut holder = sandbox.pipeline.spawn(&rust(), &refs(&args));
    wait_until(&mut holder, "the holder's gate", || sandbox.gate_runs() == 1);
    let mut taker = sandbox.pipeline.spawn(&rust(), &refs(&args));
    // The taker got the lock (after signalling the holder) and runs its own Gate(0).
    wait_until(&mut taker, "the taker's gate", || sandbox.gate_runs() == 2);
    sandbox.release();
    let (holder_pid, taker_pid) = (holder.pid(), taker.pid());
    let held = holder.finish();
    assert_eq!(held.signal, None, "SIGUSR1 must not kill the holder: {}", held.describe());
    taker.finish().assert_code(0);
    let runs = sandbox.pipeline.runs();
    let by = |pid| runs.iter().filter(|r| r.pid == pid).map(|r| r.task.split('_').next().unwrap_or("")).collect();
    let (holder_ran, taker_ran): (Vec<&str>, Vec<&str>) = (by(holder_pid), by(taker_pid));
    assert_eq!(holder_ran, ["Gate"], "the holder started nothing after the signal: {runs:?}\n{}", held.describe());
    assert_eq!(taker_ran.len(), 3, "{runs:?}");
    assert!(held.output().contains("phasing out"), "{}", held.describe());
}

/// Runs `Gates --n 3` with one worker, sends SIGUSR1 once Gate(0) runs, then releases it.
fn phase_out(program: &Program) -> (Finished, Vec<String>) {
    let mut pipeline = Pipeline::new(&format!("[core]\nno_lock = true\nlog_level = INFO\n{RETCODES_CFG}"));
    let root = pipeline.root_arg();
    let mut running =
        pipeline.spawn(program, &["Gates", "--n", "3", "--root", &root, "--local-scheduler", "--workers", "1"]);
    // Which gate runs first is the scheduler's choice.
    wait_until(&mut running, "a gate", || pipeline.count_runs("Gate_", "run") == 1);
    running.signal(libc::SIGUSR1);
    create_file(&pipeline.root.join("release"), "").expect("creating release");
    let finished = running.finish();
    let ran = pipeline.runs().into_iter().map(|r| r.task).collect();
    (finished, ran)
}

#[test]
fn sigusr1_lets_the_running_task_finish_and_starts_no_other() {
    let (finished, ran) = phase_out(&rust());
    assert_eq!(finished.signal, None, "{}", finished.describe());
    assert_eq!(ran.len(), 1, "{ran:?}");
    assert!(ran[0].starts_with("Gate_"), "{ran:?}");
    let summary = finished.summary();
    assert_eq!(summary.count("ran successfully"), 1, "{}", summary.text);
    if let Some(python) = luigi_python() {
        let (theirs, their_ran) = phase_out(&Program::Python(python));
        assert_eq!(their_ran.len(), 1, "{their_ran:?}");
        // Same verdict, categories and exit code (task lines name each run's own root).
        let (ours, luigis) = (finished.summary(), theirs.summary());
        let shape = |s: &luigi_tests::pipeline::Summary| {
            s.categories.iter().map(|c| (c.phrase.clone(), c.count)).collect::<Vec<_>>()
        };
        assert_eq!(shape(&ours), shape(&luigis), "ours:\n{}\nLuigi's:\n{}", ours.text, luigis.text);
        assert_eq!(ours.verdict, luigis.verdict);
        assert_eq!(finished.code, theirs.code, "ours: {}\nLuigi's: {}", finished.describe(), theirs.describe());
    }
}

#[test]
fn sigusr1_during_scheduling_is_not_fatal_and_runs_nothing() {
    let mut pipeline = Pipeline::new(&format!("[core]\nno_lock = true\nlog_level = INFO\n{RETCODES_CFG}"));
    let root = pipeline.root_arg();
    let mut running = pipeline.spawn(&rust(), &["SlowComplete", "--root", &root, "--local-scheduler"]);
    assert!(wait_for_file(&pipeline.root.join("checking"), &mut running), "{}", running.stderr_so_far());
    running.signal(libc::SIGUSR1);
    create_file(&pipeline.root.join("go"), "").expect("creating go");
    let finished = running.finish();
    assert_eq!(finished.signal, None, "SIGUSR1 killed the worker: {}", finished.describe());
    assert!(finished.code.is_some_and(|code| code != 0), "nothing ran, so not a success: {}", finished.describe());
    assert_eq!(pipeline.runs().len(), 0, "{:?}", pipeline.runs());
    assert!(finished.summary().text.contains("Did not run any tasks"), "{}", finished.describe());
}

#[test]
fn sigusr1_while_a_task_waits_for_requirements_ends_the_run() {
    let mut pipeline = Pipeline::new(&format!("[core]\nno_lock = true\nlog_level = INFO\n{RETCODES_CFG}"));
    let root = pipeline.root_arg();
    let mut running =
        pipeline.spawn(&rust(), &["DynGates", "--n", "2", "--root", &root, "--local-scheduler", "--workers", "1"]);
    wait_until(&mut running, "a gate", || pipeline.count_runs("Gate_", "run") == 1);
    running.signal(libc::SIGUSR1);
    create_file(&pipeline.root.join("release"), "").expect("creating release");
    let finished = running.finish();
    assert_eq!(finished.signal, None, "{}", finished.describe());
    assert_eq!(pipeline.count_runs("Gate_", "run"), 1, "a task started after the signal: {:?}", pipeline.runs());
    assert_eq!(pipeline.count_runs("DynGates_", "pre"), 1);
    assert_eq!(pipeline.count_runs("DynGates_", "post"), 0);
    assert!(pipeline.has_output("Gate_"));
    assert!(!pipeline.has_output("DynGates_"));
}
