//! The outputs of the test programs' tasks (`src/bin/*-under-test.rs`, the visualiser's
//! pipeline): a file named after the task's id under the run's root, so a Rust program and its
//! Python twin agree on it and a test can tell from the directory which tasks completed.

use std::io::Write;

use luigi_core::AnyTask;
use luigi_core::BoxError;
use luigi_core::target::{FileSystemTarget, LocalTarget};

/// The output of `task`: `<root>/<task id>`.
pub fn output_of(task: &dyn AnyTask, root: &str) -> LocalTarget {
    LocalTarget::new(format!("{root}/{}", task.compute_id()))
}

/// Writes `done` to the output of `task`, atomically.
pub fn write_output(task: &dyn AnyTask, root: &str) -> Result<(), BoxError> {
    let mut out = output_of(task, root).open_write()?;
    out.write_all(b"done\n")?;
    out.commit()?;
    Ok(())
}
