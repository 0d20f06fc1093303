//! Running one task, and what a running task can ask of its worker.
//!
//! [`execute`] is Luigi's `TaskProcess.run`: check that dependencies are complete, fire
//! `START`, run (or, for an external task, re-check completeness), fire `PROCESSING_TIME` and
//! `SUCCESS` or `FAILURE`, log Luigi's `done` or `failed` line (through [`Events`], so a child
//! process's lines reach the worker's log), and produce the outcome the worker reports. It runs on a pool
//! thread, or in a child process when the task must be killable (see `crate::subprocess`).
//!
//! [`TaskHooks`] is the worker's implementation of `luigi_core::task::RunHooks`: status
//! messages, progress and tracking URLs go straight to the scheduler; dynamic requirements go
//! to the worker, which schedules them and returns once they are complete, so `run()` simply
//! continues (it is not restarted from the top as in Luigi); scheduler messages arrive on a
//! per-task channel fed by the keep-alive thread.

use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use luigi_core::event::{self, Event, EventArgs};
use luigi_core::rpc::SchedulerApi;
use luigi_core::rpc::wire::{AddTaskRequest, DecreaseRunningTaskResourcesRequest, Number};
use luigi_core::rpc::wire::{SetTaskProgressPercentageRequest, SetTaskStatusMessageRequest};
use luigi_core::status::TaskStatus;
use luigi_core::task::{Resources, RunContext, RunHooks, SchedulerMessage, TaskKind};
use luigi_core::{BoxError, IdSet, TaskId, TaskRef};

/// Tasks known complete during this run, shared by scheduling and running (Luigi's
/// `cache_task_completion`, always on: a task that was complete stays complete within a run).
#[derive(Debug, Default)]
pub(crate) struct CompletionCache {
    complete: RwLock<IdSet>,
}

impl CompletionCache {
    /// Whether `task` is complete, asking the task only if it was not already known complete.
    pub(crate) fn is_complete(&self, task: &TaskRef) -> Result<bool, BoxError> {
        if self.complete.read().unwrap_or_else(|e| e.into_inner()).contains(task.id()) {
            return Ok(true);
        }
        let complete = catch_panics(task, "complete()", || task.complete())?;
        if complete {
            self.mark(task.id());
        }
        Ok(complete)
    }

    /// Records that a task is complete (it just ran successfully).
    pub(crate) fn mark(&self, id: &TaskId) {
        self.complete.write().unwrap_or_else(|e| e.into_inner()).insert(id.clone());
    }
}

/// What running a task produced, as the worker reports it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Outcome {
    /// DONE or FAILED.
    pub(crate) status: TaskStatus,
    /// The explanation (`on_success()` or `on_failure()`), sent JSON-encoded.
    pub(crate) expl: Option<String>,
    /// Dependencies found incomplete at run time.
    pub(crate) missing: Vec<String>,
}

/// Settings of one run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RunSettings {
    pub(crate) check_unfulfilled_deps: bool,
    pub(crate) check_complete_on_run: bool,
}

/// An error raised by the worker itself (not by user code), shown like an exception.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct WorkerError(String);

/// Where a running task's events go: handlers in this process, or (in a child process) the
/// worker that started it.
pub(crate) trait Events {
    fn fire(&self, task: &TaskRef, event: Event, args: &EventArgs<'_>);

    /// Logs a line of the task's life (`done`, `failed`, at INFO or ERROR) where the worker's
    /// logging is set up. Takes the unformatted line so that a disabled level costs nothing.
    fn log(&self, level: tracing::Level, line: std::fmt::Arguments<'_>);
}

/// A line a task in a child process logs, sent to the worker to emit.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(tag = "level", content = "message", rename_all = "snake_case")]
pub(crate) enum TaskLog {
    Info(String),
    Error(String),
}

impl TaskLog {
    /// Emits the line on this process's `luigi-interface` logger.
    pub(crate) fn emit(&self) {
        match self {
            TaskLog::Info(message) => tracing::info!(target: "luigi-interface", "{message}"),
            TaskLog::Error(message) => tracing::error!(target: "luigi-interface", "{message}"),
        }
    }
}

/// Fires events on this process's handlers.
pub(crate) struct LocalEvents;

impl Events for LocalEvents {
    fn fire(&self, task: &TaskRef, event: Event, args: &EventArgs<'_>) {
        event::fire(task.task(), event, args);
    }

    fn log(&self, level: tracing::Level, line: std::fmt::Arguments<'_>) {
        if level == tracing::Level::ERROR {
            tracing::error!(target: "luigi-interface", "{line}");
        } else {
            tracing::info!(target: "luigi-interface", "{line}");
        }
    }
}

/// Luigi's `TaskProcess.run`.
pub(crate) fn execute(
    task: &TaskRef,
    hooks: &dyn RunHooks,
    cache: &CompletionCache,
    settings: RunSettings,
    worker_id: &str,
    events: &dyn Events,
) -> Outcome {
    let pid = crate::pid();
    let mut missing = Vec::new();
    // Every call into user code is guarded on its own (so the error names it); the outer guard
    // covers the rest (outputs and targets asked about a missing dependency).
    let result = catch_panics(task, "running", || -> Result<Option<String>, BoxError> {
        if settings.check_unfulfilled_deps && task.kind() != TaskKind::External {
            for dep in catch_panics(task, "requires()", || Ok(task.deps()))? {
                if !cache.is_complete(&dep)? {
                    let absent: Vec<String> = dep
                        .output_targets()
                        .iter()
                        .filter(|target| !target.exists().unwrap_or(false))
                        .map(|target| target_label(target.describe()))
                        .collect();
                    if absent.is_empty() {
                        missing.push(dep.id().to_string());
                    } else {
                        missing.push(format!("{} ({})", dep.id(), absent.join(", ")));
                    }
                }
            }
            if !missing.is_empty() {
                let noun = if missing.len() == 1 { "dependency" } else { "dependencies" };
                return Err(Box::new(WorkerError(format!("Unfulfilled {noun} at run time: {}", missing.join(", ")))));
            }
        }
        events.fire(task, Event::Start, &EventArgs::None);
        let started = Instant::now();
        if task.kind() == TaskKind::External {
            return if cache.is_complete(task)? {
                Ok(task.on_success())
            } else {
                Err(Box::new(WorkerError(
                    "Task is an external data dependency and data does not exist (yet?).".to_owned(),
                )))
            };
        }
        let mut ctx = RunContext::new(hooks);
        catch_panics(task, "run()", || task.run(&mut ctx))?;
        if settings.check_complete_on_run && !catch_panics(task, "complete()", || task.complete())? {
            return Err(Box::new(WorkerError(
                "Task finished running, but complete() is still returning false.".to_owned(),
            )));
        }
        cache.mark(task.id());
        events.fire(task, Event::ProcessingTime, &EventArgs::Seconds(started.elapsed().as_secs_f64()));
        let expl = catch_panics(task, "on_success()", || Ok(task.on_success()))?;
        events.log(tracing::Level::INFO, format_args!("[pid {pid}] Worker {worker_id} done      {task}"));
        events.fire(task, Event::Success, &EventArgs::None);
        Ok(expl)
    });
    match result {
        Ok(expl) => Outcome { status: TaskStatus::Done, expl, missing },
        Err(error) => {
            // An external task whose data is missing is a plain failure message, not an error
            // with a trace, as in Luigi.
            let text = if task.kind() == TaskKind::External && missing.is_empty() {
                error.to_string()
            } else {
                // Luigi logs the exception with its traceback; the error chain is ours.
                events.log(
                    tracing::Level::ERROR,
                    format_args!("[pid {pid}] Worker {worker_id} failed    {task}\n{error}"),
                );
                events.fire(task, Event::Failure, &EventArgs::Error(error.as_ref()));
                catch_panics(task, "on_failure()", || Ok(task.on_failure(error.as_ref())))
                    .unwrap_or_else(|panicked| format!("{}\n{panicked}", error))
            };
            Outcome { status: TaskStatus::Failed, expl: Some(text), missing }
        }
    }
}

/// `[FileSystem] /path` → `/path`, as Luigi prints missing outputs with `str(target)`.
fn target_label(description: String) -> String {
    match description.split_once("] ") {
        Some((_, path)) if description.starts_with('[') => path.to_owned(),
        _ => description,
    }
}

/// Calls user code (`what` of `task`: `run()`, `complete()`, `requires()`...), turning a panic
/// into an error: a broken task fails or is a scheduling error, it never takes the worker down.
pub(crate) fn catch_panics<T>(
    task: &TaskRef,
    what: &str,
    call: impl FnOnce() -> Result<T, BoxError>,
) -> Result<T, BoxError> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(call)) {
        Ok(result) => result,
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic payload".to_owned());
            Err(Box::new(WorkerError(format!("{what} of {task} panicked: {message}"))))
        }
    }
}

/// Asks the worker for tasks at run time: blocks until they are complete (or cannot be).
pub(crate) type Requirer = Arc<dyn Fn(&TaskId, Vec<TaskRef>) -> Result<(), String> + Send + Sync>;

/// The worker's side of a running task's `RunContext`.
pub(crate) struct TaskHooks {
    pub(crate) scheduler: Arc<dyn SchedulerApi>,
    pub(crate) worker_id: Arc<str>,
    pub(crate) task: TaskRef,
    pub(crate) requirer: Requirer,
    pub(crate) messages: Option<Mutex<Receiver<SchedulerMessage>>>,
}

impl RunHooks for TaskHooks {
    fn set_status_message(&self, message: &str) -> Result<(), BoxError> {
        self.scheduler.set_task_status_message(SetTaskStatusMessageRequest {
            task_id: self.task.id().clone(),
            status_message: Some(message.to_owned()),
        })?;
        Ok(())
    }

    fn set_progress_percentage(&self, percentage: f64) -> Result<(), BoxError> {
        let value = if percentage.fract() == 0.0 && percentage.abs() < 1e15 {
            Number::Int(percentage as i64)
        } else {
            Number::Float(percentage)
        };
        self.scheduler.set_task_progress_percentage(SetTaskProgressPercentageRequest {
            task_id: self.task.id().clone(),
            progress_percentage: Some(value),
        })?;
        Ok(())
    }

    fn set_tracking_url(&self, url: &str) -> Result<(), BoxError> {
        let mut request = AddTaskRequest::new(self.task.id().clone(), self.worker_id.to_string());
        request.status = TaskStatus::Running;
        request.tracking_url = Some(url.to_owned());
        // Luigi's worker sends this call with the default `accepts_messages=False`, which
        // switches messages off for a task that sets a tracking URL; we keep the task's own.
        request.accepts_messages = Some(self.task.accepts_messages());
        self.scheduler.add_task(request)?;
        Ok(())
    }

    fn decrease_running_resources(&self, decrease: &Resources) -> Result<(), BoxError> {
        self.scheduler.decrease_running_task_resources(DecreaseRunningTaskResourcesRequest {
            task_id: self.task.id().clone(),
            decrease_resources: decrease.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        })?;
        Ok(())
    }

    fn require(&self, tasks: Vec<TaskRef>) -> Result<(), BoxError> {
        if tasks.is_empty() {
            return Ok(());
        }
        (self.requirer)(self.task.id(), tasks).map_err(|message| -> BoxError { Box::new(WorkerError(message)) })
    }

    fn next_message(&self, timeout: Option<Duration>) -> Option<SchedulerMessage> {
        let receiver = self.messages.as_ref()?.lock().unwrap_or_else(|e| e.into_inner());
        match timeout {
            None => receiver.try_recv().ok(),
            Some(timeout) => receiver.recv_timeout(timeout).ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use luigi_core::prelude::*;

    use super::*;

    #[derive(Task, Clone, Debug)]
    struct PanicsInComplete;

    impl Task for PanicsInComplete {
        type Requires = ();
        type Output = ();
        fn requires(&self) {}
        fn output(&self) {}
        fn complete(&self) -> Result<bool, BoxError> {
            panic!("on purpose")
        }
    }

    #[test]
    fn a_panicking_complete_is_an_error_not_a_crash() {
        let cache = CompletionCache::default();
        let error = cache.is_complete(&TaskRef::new(PanicsInComplete)).expect_err("complete() panicked");
        assert_eq!(error.to_string(), "complete() of PanicsInComplete() panicked: on purpose");
    }

    #[test]
    fn a_panic_in_user_code_names_the_method_and_the_task() {
        let task = TaskRef::new(PanicsInComplete);
        let error = catch_panics(&task, "requires()", || -> Result<(), BoxError> { panic!("{}", "formatted") })
            .expect_err("it panicked");
        assert_eq!(error.to_string(), "requires() of PanicsInComplete() panicked: formatted");
        assert_eq!(catch_panics(&task, "run()", || Ok(5)).ok(), Some(5));
    }
}
