//! The luigi-rs worker: schedules a task graph with a scheduler and runs the tasks (Luigi's
//! `luigi/worker.py`, `luigi/rpc.py` and `luigi/lock.py`).
//!
//! - [`Worker`] (module [`worker`]): Luigi's worker — the scheduling phase (`add`) and the run
//!   loop (`run`), with parallel tasks, timeouts, dynamic requirements and keep-alive;
//! - [`options`]: the `[core]`/`[worker]` settings the worker uses;
//! - [`identity`]: the worker id and the information it registers;
//! - [`remote`]: the HTTP client of a remote `luigid` ([`remote::RemoteScheduler`]);
//! - [`lock`]: the process lock that keeps identical `luigi` invocations from running at once;
//! - [`summary`]: the execution summary printed at the end of a run, and the per-category
//!   task sets behind it;
//! - [`retcode`]: the exit code of the `luigi` command, from the summary and `[retcode]`;
//! - [`subprocess`]: running a task in a child process so a timeout can stop it
//!   (call [`subprocess::init`] first thing in `main`);
//! - `runner`: running one task and the hooks a running task calls;
//! - `keepalive`: the ping thread and scheduler messages.
//!
//! The worker talks to its scheduler only through `luigi_core::rpc::SchedulerApi`: the
//! in-process engine for `--local-scheduler` (handed in by `luigi-cli`) or [`remote`]'s HTTP
//! client, so both paths share one request encoding.

pub mod identity;
mod keepalive;
pub mod lock;
pub mod options;
pub mod remote;
pub mod retcode;
mod runner;
pub mod subprocess;
pub mod summary;
pub mod worker;

pub use options::WorkerOptions;
pub use worker::{Error, Progress, Worker};

/// This process's id, read once: the task log lines name it per task, and `getpid` is a real
/// system call (a measurable share of a million-task chain). Task child processes are started
/// with `exec`, never a bare `fork`, so a cached value cannot belong to a parent.
pub(crate) fn pid() -> u32 {
    static PID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *PID.get_or_init(std::process::id)
}
