//! The Rust half of the interoperability twin pipeline (`tests/tests/interop.rs`): a program
//! with compiled-in tasks, run like Luigi's `luigi` command through `luigi_cli::main()`.
//!
//! Its twin is `tests/python/interop_pipeline.py`: the same families with the same parameter
//! names and types, so a task has the same id in both languages and a Rust worker and a Python
//! worker sharing one scheduler share its tasks. See that file for the graph.
//!
//! Every run sleeps `sleep_ms` milliseconds (so the workers genuinely interleave), appends one
//! line `<task id> <$INTEROP_WORKER>` to `<root>/runs.log` with `O_APPEND` in one write (so
//! lines from concurrent processes never mix and the test can count runs per task and per
//! worker), then writes its output `<root>/<task id>`.

use std::io::Write;
use std::time::Duration;

use luigi_core::AnyTask;
use luigi_core::prelude::*;
use luigi_tests::task_outputs::{output_of, write_output};

/// Appends this run to `<root>/runs.log`.
fn record_run(task: &dyn AnyTask, root: &str) -> Result<(), BoxError> {
    let worker = std::env::var("INTEROP_WORKER").unwrap_or_else(|_| "rust".to_owned());
    let line = format!("{} {worker}\n", task.compute_id());
    let mut log = std::fs::OpenOptions::new().create(true).append(true).open(format!("{root}/runs.log"))?;
    log.write_all(line.as_bytes())?;
    Ok(())
}

/// The body every pipeline task shares: sleep, record, write the output.
fn run_task(task: &dyn AnyTask, root: &str, sleep_ms: i64) -> Result<(), BoxError> {
    std::thread::sleep(Duration::from_millis(u64::try_from(sleep_ms).unwrap_or(0)));
    record_run(task, root)?;
    write_output(task, root)
}

/// A task without requirements.
#[derive(Task, Clone, Debug)]
struct InteropLeaf {
    root: String,
    sleep_ms: i64,
    i: i64,
}

impl Task for InteropLeaf {
    type Requires = ();
    type Output = LocalTarget;

    fn requires(&self) {}

    fn output(&self) -> LocalTarget {
        output_of(self, &self.root)
    }

    fn run(&self, _ctx: &mut RunContext<'_>) -> Result<(), BoxError> {
        run_task(self, &self.root, self.sleep_ms)
    }
}

/// A task requiring leaves `i` and `(i + 1) % n`.
#[derive(Task, Clone, Debug)]
struct InteropPair {
    root: String,
    sleep_ms: i64,
    n: i64,
    i: i64,
}

impl Task for InteropPair {
    type Requires = Vec<InteropLeaf>;
    type Output = LocalTarget;

    fn requires(&self) -> Vec<InteropLeaf> {
        let leaf = |i| InteropLeaf { root: self.root.clone(), sleep_ms: self.sleep_ms, i };
        vec![leaf(self.i), leaf((self.i + 1) % self.n.max(1))]
    }

    fn output(&self) -> LocalTarget {
        output_of(self, &self.root)
    }

    fn run(&self, _ctx: &mut RunContext<'_>) -> Result<(), BoxError> {
        run_task(self, &self.root, self.sleep_ms)
    }
}

/// The root: requires pairs `0..n`, so the graph has `2n + 1` tasks.
#[derive(Task, Clone, Debug)]
struct InteropAll {
    root: String,
    sleep_ms: i64,
    n: i64,
}

impl Task for InteropAll {
    type Requires = Vec<InteropPair>;
    type Output = LocalTarget;

    fn requires(&self) -> Vec<InteropPair> {
        (0..self.n).map(|i| InteropPair { root: self.root.clone(), sleep_ms: self.sleep_ms, n: self.n, i }).collect()
    }

    fn output(&self) -> LocalTarget {
        output_of(self, &self.root)
    }

    fn run(&self, _ctx: &mut RunContext<'_>) -> Result<(), BoxError> {
        run_task(self, &self.root, self.sleep_ms)
    }
}

/// A task that fails with `message`.
#[derive(Task, Clone, Debug)]
struct InteropFail {
    root: String,
    message: String,
}

impl Task for InteropFail {
    type Requires = ();
    type Output = LocalTarget;

    fn requires(&self) {}

    fn output(&self) -> LocalTarget {
        output_of(self, &self.root)
    }

    fn run(&self, _ctx: &mut RunContext<'_>) -> Result<(), BoxError> {
        record_run(self, &self.root)?;
        Err(self.message.clone().into())
    }
}

fn main() -> std::process::ExitCode {
    luigi_cli::main()
}
