//! What a running task can do besides its own work: report status, progress and tracking
//! URLs, release resources, receive scheduler messages and require more tasks.
//!
//! [`RunContext`] is the handle `run()` receives; it forwards to a [`RunHooks`]
//! implementation supplied by whoever runs the task (the worker, which talks to the
//! scheduler). Luigi attaches these as attributes on the task object during `run()`; an
//! explicit context makes their lifetime visible in the signature instead.
//!
//! Dynamic dependencies ([`RunContext::require`]) block the calling thread until the
//! worker has the required tasks complete, then return their outputs, so `run()` continues
//! where it was instead of being restarted from the top as in Luigi.

use std::sync::Arc;
use std::time::Duration;

use crate::BoxError;

use super::nested::Requirements;
use super::{Resources, TaskRef};

/// The services a task runner offers to a running task. Implemented by the worker.
pub trait RunHooks: Send + Sync {
    /// Sets the status message shown in the scheduler UI.
    fn set_status_message(&self, message: &str) -> Result<(), BoxError>;

    /// Sets the progress percentage shown in the scheduler UI.
    fn set_progress_percentage(&self, percentage: f64) -> Result<(), BoxError>;

    /// Sets the tracking URL shown in the scheduler UI.
    fn set_tracking_url(&self, url: &str) -> Result<(), BoxError>;

    /// Gives back part of the running task's resources to the scheduler.
    fn decrease_running_resources(&self, decrease: &Resources) -> Result<(), BoxError>;

    /// Blocks until every task in `tasks` is complete (scheduling and running them as
    /// needed); fails if any of them cannot be completed.
    fn require(&self, tasks: Vec<TaskRef>) -> Result<(), BoxError>;

    /// The next message the scheduler sent to this task, waiting up to `timeout`
    /// (`None`: do not wait).
    fn next_message(&self, timeout: Option<Duration>) -> Option<SchedulerMessage>;
}

/// Sends a task's response to a scheduler message back to the scheduler.
pub type Responder = Arc<dyn Fn(&str) -> Result<(), BoxError> + Send + Sync>;

/// A message sent to a running task from the scheduler (UI), which the task may answer.
#[derive(Clone)]
pub struct SchedulerMessage {
    /// The message text.
    pub content: String,
    /// The scheduler's id for the message.
    pub message_id: String,
    responder: Responder,
}

impl SchedulerMessage {
    /// A message whose response goes to `responder`.
    pub fn new(content: impl Into<String>, message_id: impl Into<String>, responder: Responder) -> SchedulerMessage {
        SchedulerMessage { content: content.into(), message_id: message_id.into(), responder }
    }

    /// Sends a response back to the scheduler.
    pub fn respond(&self, response: &str) -> Result<(), BoxError> {
        (self.responder)(response)
    }
}

impl std::fmt::Debug for SchedulerMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchedulerMessage")
            .field("content", &self.content)
            .field("message_id", &self.message_id)
            .finish()
    }
}

/// Hooks for a task run outside a worker: reports go nowhere, and required tasks must
/// already be complete.
struct DetachedHooks;

impl RunHooks for DetachedHooks {
    fn set_status_message(&self, _message: &str) -> Result<(), BoxError> {
        Ok(())
    }
    fn set_progress_percentage(&self, _percentage: f64) -> Result<(), BoxError> {
        Ok(())
    }
    fn set_tracking_url(&self, _url: &str) -> Result<(), BoxError> {
        Ok(())
    }
    fn decrease_running_resources(&self, _decrease: &Resources) -> Result<(), BoxError> {
        Ok(())
    }
    fn require(&self, tasks: Vec<TaskRef>) -> Result<(), BoxError> {
        for task in tasks {
            if !task.complete()? {
                return Err(format!("{task} is required at run time but is not complete, and no worker is running this task to schedule it").into());
            }
        }
        Ok(())
    }
    fn next_message(&self, _timeout: Option<Duration>) -> Option<SchedulerMessage> {
        None
    }
}

static DETACHED: DetachedHooks = DetachedHooks;

/// The handle a running task gets.
pub struct RunContext<'a> {
    hooks: &'a dyn RunHooks,
}

impl<'a> RunContext<'a> {
    /// A context forwarding to `hooks`.
    pub fn new(hooks: &'a dyn RunHooks) -> RunContext<'a> {
        RunContext { hooks }
    }

    /// Sets the status message shown in the scheduler UI.
    pub fn set_status_message(&mut self, message: &str) -> Result<(), BoxError> {
        self.hooks.set_status_message(message)
    }

    /// Sets the progress percentage (0–100) shown in the scheduler UI.
    pub fn set_progress_percentage(&mut self, percentage: f64) -> Result<(), BoxError> {
        self.hooks.set_progress_percentage(percentage)
    }

    /// Sets the tracking URL shown in the scheduler UI.
    pub fn set_tracking_url(&mut self, url: &str) -> Result<(), BoxError> {
        self.hooks.set_tracking_url(url)
    }

    /// Gives back part of this task's resources while it keeps running.
    pub fn decrease_running_resources(&mut self, decrease: &Resources) -> Result<(), BoxError> {
        self.hooks.decrease_running_resources(decrease)
    }

    /// Requires more tasks at run time (Luigi's dynamic dependencies, `yield` in `run()`):
    /// returns their outputs once they are all complete.
    pub fn require<R: Requirements>(&mut self, requirements: R) -> Result<R::Outputs, BoxError> {
        let mut tasks = Vec::new();
        requirements.collect_tasks(&mut tasks);
        self.hooks.require(tasks)?;
        Ok(requirements.outputs())
    }

    /// The next scheduler message for this task, if one is waiting.
    pub fn try_next_message(&mut self) -> Option<SchedulerMessage> {
        self.hooks.next_message(None)
    }

    /// The next scheduler message for this task, waiting up to `timeout`.
    pub fn next_message(&mut self, timeout: Duration) -> Option<SchedulerMessage> {
        self.hooks.next_message(Some(timeout))
    }
}

impl RunContext<'static> {
    /// A context for running a task outside any worker (tests, scripts): reports are
    /// dropped and required tasks must already be complete.
    pub fn detached() -> RunContext<'static> {
        RunContext { hooks: &DETACHED }
    }
}
