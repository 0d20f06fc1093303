//! How a worker behaves: the `[core]` and `[worker]` options it uses, resolved once.
//!
//! The typed config sections (`luigi_core::config::{Core, Worker}`) keep Luigi's option
//! names and string forms; [`WorkerOptions`] is the worker's own view of them, with durations
//! as `Duration` and Luigi's "0 means none" conventions turned into `Option`s, so the run loop
//! never re-interprets configuration.

use std::time::Duration;

use luigi_core::config::{Core, Worker};

/// Everything the worker reads from configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerOptions {
    /// Tasks run at the same time (`[core] workers`, `--workers`); 0 only counts pending tasks.
    pub processes: usize,
    /// Run any runnable task from the scheduler (`--assistant`).
    pub assistant: bool,
    /// A fixed worker id (`[worker] id`); generated when `None`.
    pub id: Option<String>,
    /// Keep-alive ping period (`[worker] ping_interval`).
    pub ping_interval: Duration,
    /// Stay alive while the scheduler has pending tasks (`keep_alive`).
    pub keep_alive: bool,
    /// ... only while a pending task is unique to this worker (`count_uniques`).
    pub count_uniques: bool,
    /// ... only while this worker was the last to schedule a pending task (`count_last_scheduled`).
    pub count_last_scheduled: bool,
    /// Sleep between polls (`wait_interval`).
    pub wait_interval: Duration,
    /// Extra random sleep (`wait_jitter`).
    pub wait_jitter: Duration,
    /// Stop keeping alive after being idle this long (`max_keep_alive_idle_duration`; `None`: never).
    pub max_keep_alive_idle: Option<Duration>,
    /// Re-adds of a task after "unfulfilled dependencies" (`max_reschedules`).
    pub max_reschedules: u32,
    /// Per-task run timeout (`[worker] timeout`; `None`: none). A task's own
    /// `worker_timeout()` overrides it.
    pub timeout: Option<Duration>,
    /// Most tasks this worker schedules (`task_limit`).
    pub task_limit: Option<usize>,
    /// External tasks are runnable, re-checked when handed out (`retry_external_tasks`).
    pub retry_external_tasks: bool,
    /// E-mail failures from the worker (`send_failure_email`).
    pub send_failure_email: bool,
    /// Do not install the SIGUSR1 phase-out handler (`no_install_shutdown_handler`).
    pub no_install_shutdown_handler: bool,
    /// Check that dependencies are complete before running a task (`check_unfulfilled_deps`).
    pub check_unfulfilled_deps: bool,
    /// After running, require `complete()` to be true (`check_complete_on_run`).
    pub check_complete_on_run: bool,
    /// Run every task in a child process, even without a timeout (`force_multiprocessing`).
    pub force_multiprocessing: bool,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions::from_sections(&Core::default_values(), &Worker::default_values())
    }
}

fn seconds(value: f64) -> Duration {
    Duration::try_from_secs_f64(value.max(0.0)).unwrap_or(Duration::ZERO)
}

impl WorkerOptions {
    /// The options from the `[core]` and `[worker]` sections.
    pub fn from_sections(core: &Core, worker: &Worker) -> WorkerOptions {
        let idle = worker.max_keep_alive_idle_duration.to_std().unwrap_or(Duration::ZERO);
        WorkerOptions {
            processes: usize::try_from(core.workers.max(0)).unwrap_or(1),
            assistant: core.assistant,
            id: (!worker.id.is_empty()).then(|| worker.id.clone()),
            ping_interval: seconds(worker.ping_interval),
            keep_alive: worker.keep_alive,
            count_uniques: worker.count_uniques,
            count_last_scheduled: worker.count_last_scheduled,
            // Luigi requires at least 1e-5 s; a zero wait would spin.
            wait_interval: seconds(worker.wait_interval.max(1e-5)),
            wait_jitter: seconds(worker.wait_jitter),
            max_keep_alive_idle: (!idle.is_zero()).then_some(idle),
            max_reschedules: u32::try_from(worker.max_reschedules.max(0)).unwrap_or(u32::MAX),
            timeout: (worker.timeout > 0).then(|| Duration::from_secs(worker.timeout.unsigned_abs())),
            task_limit: worker.task_limit.and_then(|limit| usize::try_from(limit).ok()),
            retry_external_tasks: worker.retry_external_tasks,
            send_failure_email: worker.send_failure_email,
            no_install_shutdown_handler: worker.no_install_shutdown_handler,
            check_unfulfilled_deps: worker.check_unfulfilled_deps,
            check_complete_on_run: worker.check_complete_on_run,
            force_multiprocessing: worker.force_multiprocessing,
        }
    }
}
