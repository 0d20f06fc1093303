//! A user program for the worker's end-to-end tests (`tests/tests/worker_*.rs`): small task
//! families that time out, fail and then succeed, break while being scheduled, require tasks
//! at run time, wait on a gate, or kill their own process, run like Luigi's `luigi` command
//! through `luigi_cli::main()`.
//!
//! Its Python twin is `tests/python/worker_pipeline.py` (the same families, parameter names
//! and types, so task ids and summaries can be compared with Luigi 3.8.1's); dynamic
//! requirements have no twin, because ours deliberately differ from Luigi's `yield`.
//!
//! What the tests observe, all under the task's `root` directory or the working directory:
//! - `runs.log`: one line `<task id> <what> <pid>` per noteworthy step (`run`, `pre`,
//!   `post`...), appended with `O_APPEND` in one write, so lines of concurrent processes never mix;
//! - `<task id>`: the task's output;
//! - `$PIPELINE_EVENTS` (when set): one line per event fired, `<event> <task id>` plus the
//!   dependency's id for `event.core.dependency.discovered`, written by handlers registered
//!   for every task before `luigi_cli::main()` runs;
//! - files `started-<i>`/`checking` that say a task reached a point, and files `release`/`go`
//!   the test creates to let it go on, so tests synchronise on files, never on sleeps.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use luigi_core::AnyTask;
use luigi_core::event::{self, Event, EventArgs};
use luigi_core::prelude::*;
use luigi_tests::task_outputs::{output_of, write_output};

/// Longest a task waits for a file the test is expected to create.
const FILE_WAIT: Duration = Duration::from_secs(120);

/// Appends `line` to `path` in one `O_APPEND` write.
fn append(path: &Path, line: &str) -> Result<(), BoxError> {
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    file.write_all(format!("{line}\n").as_bytes())?;
    Ok(())
}

/// Records `<task id> <what> <pid>` in `<root>/runs.log`.
fn record(task: &dyn AnyTask, root: &str, what: &str) -> Result<(), BoxError> {
    append(&Path::new(root).join("runs.log"), &format!("{} {what} {}", task.compute_id(), std::process::id()))
}

/// Waits until `path` exists; an error after [`FILE_WAIT`].
fn wait_for(path: &Path) -> Result<(), BoxError> {
    let deadline = Instant::now() + FILE_WAIT;
    while !path.exists() {
        if Instant::now() > deadline {
            return Err(format!("{} did not appear within {} s", path.display(), FILE_WAIT.as_secs()).into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

fn timeout_of(seconds: i64) -> Option<Duration> {
    (seconds > 0).then(|| Duration::from_secs(seconds.unsigned_abs()))
}

/// A task without requirements that records its run.
#[derive(Task, Clone, Debug)]
struct Leaf {
    root: String,
    i: i64,
}

impl Task for Leaf {
    type Requires = ();
    type Output = LocalTarget;

    fn requires(&self) {}

    fn output(&self) -> LocalTarget {
        output_of(self, &self.root)
    }

    fn run(&self, _ctx: &mut RunContext<'_>) -> Result<(), BoxError> {
        record(self, &self.root, "run")?;
        write_output(self, &self.root)
    }
}

/// Sleeps `seconds`, with a `worker_timeout` of `timeout` seconds (0: none, so `[worker]
/// timeout` applies).
#[derive(Task, Clone, Debug)]
struct Sleepy {
    root: String,
    seconds: i64,
    timeout: i64,
}

impl Task for Sleepy {
    type Requires = ();
    type Output = LocalTarget;

    fn requires(&self) {}

    fn output(&self) -> LocalTarget {
        output_of(self, &self.root)
    }

    fn worker_timeout(&self) -> Option<Duration> {
        timeout_of(self.timeout)
    }

    fn run(&self, _ctx: &mut RunContext<'_>) -> Result<(), BoxError> {
        record(self, &self.root, "start")?;
        std::thread::sleep(Duration::from_secs(self.seconds.max(0).unsigned_abs()));
        record(self, &self.root, "end")?;
        write_output(self, &self.root)
    }
}

/// Fails its first `fail_times` runs, then succeeds. Runs are counted in `<root>/runs.log`.
#[derive(Task, Clone, Debug)]
struct Flaky {
    root: String,
    fail_times: i64,
}

impl Task for Flaky {
    type Requires = ();
    type Output = LocalTarget;

    fn requires(&self) {}

    fn output(&self) -> LocalTarget {
        output_of(self, &self.root)
    }

    fn run(&self, _ctx: &mut RunContext<'_>) -> Result<(), BoxError> {
        record(self, &self.root, "run")?;
        let log = std::fs::read_to_string(Path::new(&self.root).join("runs.log"))?;
        let id = (self as &dyn AnyTask).compute_id();
        let runs = log.lines().filter(|line| line.split(' ').next() == Some(id.as_str())).count();
        if i64::try_from(runs).unwrap_or(i64::MAX) <= self.fail_times {
            return Err(format!("flaky failure {runs}").into());
        }
        write_output(self, &self.root)
    }
}

/// Requires a [`Flaky`], so the worker has a pending task while the flaky one waits for its
/// retry.
#[derive(Task, Clone, Debug)]
struct FlakyRoot {
    root: String,
    fail_times: i64,
}

impl Task for FlakyRoot {
    type Requires = Flaky;
    type Output = LocalTarget;

    fn requires(&self) -> Flaky {
        Flaky { root: self.root.clone(), fail_times: self.fail_times }
    }

    fn output(&self) -> LocalTarget {
        output_of(self, &self.root)
    }

    fn run(&self, _ctx: &mut RunContext<'_>) -> Result<(), BoxError> {
        record(self, &self.root, "run")?;
        write_output(self, &self.root)
    }
}

/// A task whose `complete()` panics (`mode = panic`) or returns an error (any other mode).
#[derive(Task, Clone, Debug)]
struct BadComplete {
    root: String,
    mode: String,
}

impl Task for BadComplete {
    type Requires = ();
    type Output = LocalTarget;

    fn requires(&self) {}

    fn output(&self) -> LocalTarget {
        output_of(self, &self.root)
    }

    fn complete(&self) -> Result<bool, BoxError> {
        if self.mode == "panic" {
            panic!("complete() of BadComplete panics on purpose");
        }
        Err("complete() of BadComplete fails on purpose".into())
    }

    fn run(&self, _ctx: &mut RunContext<'_>) -> Result<(), BoxError> {
        record(self, &self.root, "run")?;
        write_output(self, &self.root)
    }
}

/// A task whose `requires()` panics.
#[derive(Task, Clone, Debug)]
struct BadRequires {
    root: String,
}

impl Task for BadRequires {
    type Requires = Leaf;
    type Output = LocalTarget;

    fn requires(&self) -> Leaf {
        panic!("requires() of BadRequires panics on purpose");
    }

    fn output(&self) -> LocalTarget {
        output_of(self, &self.root)
    }

    fn run(&self, _ctx: &mut RunContext<'_>) -> Result<(), BoxError> {
        record(self, &self.root, "run")?;
        write_output(self, &self.root)
    }
}

/// Requires a healthy leaf and the two broken tasks.
#[derive(Task, Clone, Debug)]
struct Broken {
    root: String,
}

impl Task for Broken {
    type Requires = (Leaf, BadComplete, BadRequires);
    type Output = LocalTarget;

    fn requires(&self) -> (Leaf, BadComplete, BadRequires) {
        let root = self.root.clone();
        (
            Leaf { root: root.clone(), i: 7 },
            BadComplete { root: root.clone(), mode: "panic".to_owned() },
            BadRequires { root },
        )
    }

    fn output(&self) -> LocalTarget {
        output_of(self, &self.root)
    }

    fn run(&self, _ctx: &mut RunContext<'_>) -> Result<(), BoxError> {
        record(self, &self.root, "run")?;
        write_output(self, &self.root)
    }
}

/// Always fails.
#[derive(Task, Clone, Debug)]
struct Fails {
    root: String,
}

impl Task for Fails {
    type Requires = ();
    type Output = LocalTarget;

    fn requires(&self) {}

    fn output(&self) -> LocalTarget {
        output_of(self, &self.root)
    }

    fn run(&self, _ctx: &mut RunContext<'_>) -> Result<(), BoxError> {
        record(self, &self.root, "run")?;
        Err("this task always fails".into())
    }
}

/// External data: complete iff `<root>/ext-<name>` exists.
#[derive(Task, Clone, Debug)]
#[task(external)]
struct Ext {
    root: String,
    name: String,
}

impl Task for Ext {
    type Requires = ();
    type Output = LocalTarget;

    fn requires(&self) {}

    fn output(&self) -> LocalTarget {
        LocalTarget::new(format!("{}/ext-{}", self.root, self.name))
    }
}

/// Requires leaves 1 and 2, a failing task and external data `ext-<name>`.
#[derive(Task, Clone, Debug)]
struct Mixed {
    root: String,
    name: String,
}

impl Task for Mixed {
    type Requires = (Vec<Leaf>, Fails, Ext);
    type Output = LocalTarget;

    fn requires(&self) -> (Vec<Leaf>, Fails, Ext) {
        let root = self.root.clone();
        (
            vec![Leaf { root: root.clone(), i: 1 }, Leaf { root: root.clone(), i: 2 }],
            Fails { root: root.clone() },
            Ext { root, name: self.name.clone() },
        )
    }

    fn output(&self) -> LocalTarget {
        output_of(self, &self.root)
    }

    fn run(&self, _ctx: &mut RunContext<'_>) -> Result<(), BoxError> {
        record(self, &self.root, "run")?;
        write_output(self, &self.root)
    }
}

/// Requires leaf 1 and external data `ext-<name>`: all well when the data exists.
#[derive(Task, Clone, Debug)]
struct Chain {
    root: String,
    name: String,
}

impl Task for Chain {
    type Requires = (Leaf, Ext);
    type Output = LocalTarget;

    fn requires(&self) -> (Leaf, Ext) {
        (Leaf { root: self.root.clone(), i: 1 }, Ext { root: self.root.clone(), name: self.name.clone() })
    }

    fn output(&self) -> LocalTarget {
        output_of(self, &self.root)
    }

    fn run(&self, _ctx: &mut RunContext<'_>) -> Result<(), BoxError> {
        record(self, &self.root, "run")?;
        write_output(self, &self.root)
    }
}

/// Requires `DynChild(0)` at run time, then `DynChild(1..n)` together, recording `pre`,
/// `middle` and `post` around the calls; `timeout` as for [`Sleepy`].
#[derive(Task, Clone, Debug)]
struct Dyn {
    root: String,
    n: i64,
    timeout: i64,
}

impl Task for Dyn {
    type Requires = ();
    type Output = LocalTarget;

    fn requires(&self) {}

    fn output(&self) -> LocalTarget {
        output_of(self, &self.root)
    }

    fn worker_timeout(&self) -> Option<Duration> {
        timeout_of(self.timeout)
    }

    fn run(&self, ctx: &mut RunContext<'_>) -> Result<(), BoxError> {
        record(self, &self.root, "pre")?;
        let child = |i| DynChild { root: self.root.clone(), i };
        ctx.require(child(0))?;
        record(self, &self.root, "middle")?;
        ctx.require((1..self.n).map(child).collect::<Vec<_>>())?;
        record(self, &self.root, "post")?;
        write_output(self, &self.root)
    }
}

/// A dynamic requirement of [`Dyn`]; child `i == 99` fails.
#[derive(Task, Clone, Debug)]
struct DynChild {
    root: String,
    i: i64,
}

impl Task for DynChild {
    type Requires = ();
    type Output = LocalTarget;

    fn requires(&self) {}

    fn output(&self) -> LocalTarget {
        output_of(self, &self.root)
    }

    fn run(&self, _ctx: &mut RunContext<'_>) -> Result<(), BoxError> {
        record(self, &self.root, "run")?;
        if self.i == 99 {
            return Err("dynamic child 99 fails".into());
        }
        write_output(self, &self.root)
    }
}

/// Requires [`Dyn`] with a failing child: the dynamic failure must fail `Dyn`.
#[derive(Task, Clone, Debug)]
struct DynFails {
    root: String,
}

impl Task for DynFails {
    type Requires = ();
    type Output = LocalTarget;

    fn requires(&self) {}

    fn output(&self) -> LocalTarget {
        output_of(self, &self.root)
    }

    fn run(&self, ctx: &mut RunContext<'_>) -> Result<(), BoxError> {
        record(self, &self.root, "pre")?;
        ctx.require(vec![DynChild { root: self.root.clone(), i: 1 }, DynChild { root: self.root.clone(), i: 99 }])?;
        record(self, &self.root, "post")?;
        write_output(self, &self.root)
    }
}

/// Creates `<root>/started-<i>`, then waits for `<root>/release` before finishing.
#[derive(Task, Clone, Debug)]
struct Gate {
    root: String,
    i: i64,
}

impl Task for Gate {
    type Requires = ();
    type Output = LocalTarget;

    fn requires(&self) {}

    fn output(&self) -> LocalTarget {
        output_of(self, &self.root)
    }

    fn run(&self, _ctx: &mut RunContext<'_>) -> Result<(), BoxError> {
        record(self, &self.root, "run")?;
        std::fs::write(Path::new(&self.root).join(format!("started-{}", self.i)), b"")?;
        wait_for(&Path::new(&self.root).join("release"))?;
        write_output(self, &self.root)
    }
}

/// Requires gates `0..n`.
#[derive(Task, Clone, Debug)]
struct Gates {
    root: String,
    n: i64,
}

impl Task for Gates {
    type Requires = Vec<Gate>;
    type Output = LocalTarget;

    fn requires(&self) -> Vec<Gate> {
        (0..self.n).map(|i| Gate { root: self.root.clone(), i }).collect()
    }

    fn output(&self) -> LocalTarget {
        output_of(self, &self.root)
    }

    fn run(&self, _ctx: &mut RunContext<'_>) -> Result<(), BoxError> {
        record(self, &self.root, "run")?;
        write_output(self, &self.root)
    }
}

/// Requires gates `0..n` at run time, in one call, recording `pre` and `post` around it.
#[derive(Task, Clone, Debug)]
struct DynGates {
    root: String,
    n: i64,
}

impl Task for DynGates {
    type Requires = ();
    type Output = LocalTarget;

    fn requires(&self) {}

    fn output(&self) -> LocalTarget {
        output_of(self, &self.root)
    }

    fn run(&self, ctx: &mut RunContext<'_>) -> Result<(), BoxError> {
        record(self, &self.root, "pre")?;
        ctx.require((0..self.n).map(|i| Gate { root: self.root.clone(), i }).collect::<Vec<_>>())?;
        record(self, &self.root, "post")?;
        write_output(self, &self.root)
    }
}

/// Its `complete()` creates `<root>/checking` and waits for `<root>/go`: the worker is in its
/// scheduling phase while the test holds `go` back.
#[derive(Task, Clone, Debug)]
struct SlowComplete {
    root: String,
}

impl Task for SlowComplete {
    type Requires = ();
    type Output = LocalTarget;

    fn requires(&self) {}

    fn output(&self) -> LocalTarget {
        output_of(self, &self.root)
    }

    fn complete(&self) -> Result<bool, BoxError> {
        std::fs::write(Path::new(&self.root).join("checking"), b"")?;
        wait_for(&Path::new(&self.root).join("go"))?;
        Ok(self.output().exists()?)
    }

    fn run(&self, _ctx: &mut RunContext<'_>) -> Result<(), BoxError> {
        record(self, &self.root, "run")?;
        write_output(self, &self.root)
    }
}

/// Ends its own process with exit code 3 in `run()`; `timeout` as for [`Sleepy`] (use one, or
/// `[worker] force_multiprocessing`, so the task runs in a child process).
#[derive(Task, Clone, Debug)]
struct Dies {
    root: String,
    timeout: i64,
}

impl Task for Dies {
    type Requires = ();
    type Output = LocalTarget;

    fn requires(&self) {}

    fn output(&self) -> LocalTarget {
        output_of(self, &self.root)
    }

    fn worker_timeout(&self) -> Option<Duration> {
        timeout_of(self.timeout)
    }

    fn run(&self, _ctx: &mut RunContext<'_>) -> Result<(), BoxError> {
        record(self, &self.root, "run")?;
        std::process::exit(3);
    }
}

/// Appends every event to `$PIPELINE_EVENTS`.
fn record_events() {
    let Some(path) = std::env::var_os("PIPELINE_EVENTS") else { return };
    for event in Event::ALL {
        let path = path.clone();
        event::on_any(event, move |task, args| {
            let mut line = format!("{} {}", event.as_str(), task.compute_id());
            if let EventArgs::Dependency(dep) = args {
                line.push(' ');
                line.push_str(dep.id().as_str());
            }
            append(Path::new(&path), &line)
        });
    }
}

fn main() -> std::process::ExitCode {
    record_events();
    luigi_cli::main()
}
