//! Task events (Luigi's `luigi.event.Event`) and the handlers registered for them.
//!
//! The worker fires an [`Event`] at fixed points of a task's life (dependency discovered,
//! start, success, failure...); user code registers handlers for one task type
//! ([`on`]) or for every task ([`on_any`]), as `@MyTask.event_handler(Event.SUCCESS)` and
//! `@luigi.Task.event_handler(...)` do in Luigi. A handler that fails or panics is logged
//! and ignored, never failing the task, as in Luigi.
//!
//! Handlers live in a process-wide table indexed by event, so firing an event costs one
//! read lock and a walk over that event's handlers only.

use std::any::TypeId;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, RwLock};

use crate::BoxError;
use crate::task::{AnyTask, Task, TaskRef};

/// A point in a task's life at which handlers run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    /// Scheduling found a dependency of the task ([`EventArgs::Dependency`]).
    DependencyDiscovered,
    /// Scheduling found an external task incomplete, or `complete()` failed.
    DependencyMissing,
    /// Scheduling found the task already complete.
    DependencyPresent,
    /// `requires()` failed, or scheduling the task failed unexpectedly ([`EventArgs::Error`]).
    BrokenTask,
    /// The task is about to run.
    Start,
    /// Fired by user code to report progress ([`EventArgs::Progress`]).
    Progress,
    /// `run()` failed ([`EventArgs::Error`]).
    Failure,
    /// `run()` succeeded.
    Success,
    /// `run()` succeeded after this many seconds ([`EventArgs::Seconds`]).
    ProcessingTime,
    /// The worker stopped the task for running too long ([`EventArgs::Message`]).
    Timeout,
    /// The process running the task died ([`EventArgs::Message`]).
    ProcessFailure,
}

impl Event {
    /// Every event.
    pub const ALL: [Event; 11] = [
        Event::DependencyDiscovered,
        Event::DependencyMissing,
        Event::DependencyPresent,
        Event::BrokenTask,
        Event::Start,
        Event::Progress,
        Event::Failure,
        Event::Success,
        Event::ProcessingTime,
        Event::Timeout,
        Event::ProcessFailure,
    ];

    /// Luigi's event string (`event.core.success`...).
    pub fn as_str(self) -> &'static str {
        match self {
            Event::DependencyDiscovered => "event.core.dependency.discovered",
            Event::DependencyMissing => "event.core.dependency.missing",
            Event::DependencyPresent => "event.core.dependency.present",
            Event::BrokenTask => "event.core.task.broken",
            Event::Start => "event.core.start",
            Event::Progress => "event.core.progress",
            Event::Failure => "event.core.failure",
            Event::Success => "event.core.success",
            Event::ProcessingTime => "event.core.processing_time",
            Event::Timeout => "event.core.timeout",
            Event::ProcessFailure => "event.core.process_failure",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// What an event carries besides the task.
#[derive(Debug, Clone, Copy)]
pub enum EventArgs<'a> {
    /// Nothing else.
    None,
    /// The dependency that was discovered.
    Dependency(&'a TaskRef),
    /// The error that occurred.
    Error(&'a (dyn std::error::Error + 'static)),
    /// A duration in seconds.
    Seconds(f64),
    /// A message.
    Message(&'a str),
    /// A user-defined progress payload.
    Progress(&'a serde_json::Value),
}

type Callback = Arc<dyn Fn(&dyn AnyTask, &EventArgs<'_>) -> Result<(), BoxError> + Send + Sync>;

struct Handler {
    id: u64,
    type_id: Option<TypeId>,
    callback: Callback,
}

/// Identifies a registered handler, to remove it with [`remove`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HandlerId(u64);

static NEXT_ID: AtomicU64 = AtomicU64::new(1);
static HANDLERS: LazyLock<RwLock<Vec<Vec<Handler>>>> =
    LazyLock::new(|| RwLock::new((0..Event::ALL.len()).map(|_| Vec::new()).collect()));

fn add(event: Event, type_id: Option<TypeId>, callback: Callback) -> HandlerId {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    HANDLERS.write().unwrap_or_else(|e| e.into_inner())[event.index()].push(Handler { id, type_id, callback });
    HandlerId(id)
}

/// Registers a handler for `event` on tasks of type `T`.
pub fn on<T, F>(event: Event, handler: F) -> HandlerId
where
    T: Task,
    F: Fn(&T, &EventArgs<'_>) -> Result<(), BoxError> + Send + Sync + 'static,
{
    add(
        event,
        Some(TypeId::of::<T>()),
        Arc::new(move |task: &dyn AnyTask, args: &EventArgs<'_>| match task.as_any().downcast_ref::<T>() {
            Some(task) => handler(task, args),
            None => Ok(()),
        }),
    )
}

/// Registers a handler for `event` on every task.
pub fn on_any<F>(event: Event, handler: F) -> HandlerId
where
    F: Fn(&dyn AnyTask, &EventArgs<'_>) -> Result<(), BoxError> + Send + Sync + 'static,
{
    add(event, None, Arc::new(handler))
}

/// Removes a handler; returns whether it was registered.
pub fn remove(id: HandlerId) -> bool {
    let mut handlers = HANDLERS.write().unwrap_or_else(|e| e.into_inner());
    for list in handlers.iter_mut() {
        if let Some(pos) = list.iter().position(|h| h.id == id.0) {
            list.remove(pos);
            return true;
        }
    }
    false
}

/// Runs the handlers registered for `event` that apply to `task`. Failing or panicking
/// handlers are logged and skipped. Returns how many handlers ran.
pub fn fire(task: &dyn AnyTask, event: Event, args: &EventArgs<'_>) -> usize {
    let task_type = task.as_any().type_id();
    // Clone the matching callbacks so no lock is held while user code runs (a handler may
    // register another handler).
    let callbacks: Vec<Callback> = {
        let handlers = HANDLERS.read().unwrap_or_else(|e| e.into_inner());
        handlers[event.index()]
            .iter()
            .filter(|h| h.type_id.is_none_or(|t| t == task_type))
            .map(|h| Arc::clone(&h.callback))
            .collect()
    };
    for callback in &callbacks {
        match catch_unwind(AssertUnwindSafe(|| callback(task, args))) {
            Ok(Ok(())) => {}
            Ok(Err(err)) => {
                tracing::error!(event = event.as_str(), task = %task.repr(), "error in event handler: {err}");
            }
            Err(_) => {
                tracing::error!(event = event.as_str(), task = %task.repr(), "event handler panicked");
            }
        }
    }
    callbacks.len()
}
