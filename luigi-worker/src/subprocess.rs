//! Running a task in a child process, so that a task that overruns its timeout can really be
//! stopped (Luigi forks a process per task for the same reason).
//!
//! A Rust program cannot safely fork once it has threads, so the worker starts a fresh copy of
//! its own executable with `LUIGI_RS_TASK_CHILD=1` in the environment. That copy must call
//! [`init`] first thing in `main` (`luigi_cli::main()` does): it sees the variable, rebuilds
//! the task from the registry, runs it, and exits; the program's own `main` never continues.
//! Without [`init`], the worker cannot use child processes and runs tasks with a timeout on
//! threads, warning that they cannot be stopped.
//!
//! Parent and child speak JSON lines: the parent sends the task (family and every parameter)
//! on the child's stdin; the child reports on its original stdout what its `RunContext` does
//! (status message, progress, tracking URL, resource decreases, dynamic requirements, events,
//! message responses, its `done`/`failed` log lines) and finally the outcome. The child sets up
//! no logging of its own: its lines are emitted by the parent, through the parent's handlers. The child's own prints go to stderr, so user
//! output cannot corrupt the protocol. The parent relays each call to the scheduler or the run
//! loop, fires the events on its own copy of the task (so handlers registered in the parent
//! run), and stops the child's whole process group with SIGKILL on timeout. A child that dies
//! without reporting is a failure: "Task X died unexpectedly with exit code N".

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use luigi_core::event::{self, Event, EventArgs};
use luigi_core::param::ParamContext;
use luigi_core::registry;
use luigi_core::rpc::wire::AddSchedulerMessageResponseRequest;
use luigi_core::status::TaskStatus;
use luigi_core::task::{Resources, RunHooks, SchedulerMessage};
use luigi_core::{BoxError, TaskRef};
use serde::{Deserialize, Serialize};

use crate::runner::{self, CompletionCache, Events, Outcome, RunSettings, TaskHooks, TaskLog};

/// The environment variable that makes a program run one task as a worker's child.
pub const CHILD_ENV: &str = "LUIGI_RS_TASK_CHILD";

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Call first thing in `main`. In a worker's child process this runs the task it was sent and
/// exits; otherwise it returns at once and lets this program's workers run tasks in child
/// processes.
pub fn init() {
    if std::env::var_os(CHILD_ENV).is_some() {
        let code = run_child();
        std::process::exit(code);
    }
    ENABLED.store(true, Ordering::SeqCst);
}

/// Whether this process can start task child processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Available,
    Unavailable,
}

impl Mode {
    pub(crate) fn detect() -> Mode {
        if ENABLED.load(Ordering::SeqCst) { Mode::Available } else { Mode::Unavailable }
    }

    pub(crate) fn available(self) -> bool {
        self == Mode::Available
    }
}

/// Stops a child process and everything it started.
#[derive(Debug)]
pub(crate) struct Killer {
    pid: i32,
    /// Set before the kill, so the relay thread knows the death was ordered: a timed-out task
    /// fires `TIMEOUT` only, never `PROCESS_FAILURE` as well (as in Luigi).
    killed: Arc<AtomicBool>,
}

impl Killer {
    pub(crate) fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
        // SAFETY: kill(2) with a negative pid signals the process group the child leads (it was
        // started with process_group(0)); no memory is involved.
        unsafe {
            libc::kill(-self.pid, libc::SIGKILL);
        }
    }
}

/// What the parent sends first: the task.
#[derive(Serialize, Deserialize)]
struct Request {
    family: String,
    params: Vec<(String, String)>,
    /// The parent's `--Family-param value` flags, so config sections and tasks built in the
    /// child resolve parameters as in the parent.
    cli: Vec<(String, String, String)>,
    check_unfulfilled_deps: bool,
    check_complete_on_run: bool,
    /// The parent worker's id, which the task's log lines name.
    worker_id: String,
}

/// A task named by family and parameters (for dynamic requirements).
#[derive(Serialize, Deserialize)]
struct TaskSpec {
    family: String,
    params: Vec<(String, String)>,
}

impl TaskSpec {
    fn of(task: &TaskRef) -> TaskSpec {
        let names = task.param_infos().iter().map(|info| info.name.to_owned());
        TaskSpec { family: task.family().to_owned(), params: names.zip(task.serialize_params()).collect() }
    }

    fn build(&self) -> Result<TaskRef, String> {
        let registration = registry::lookup(&self.family).map_err(|e| e.to_string())?;
        registration
            .from_str_params(&ParamContext::global(), self.params.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .map_err(|e| e.to_string())
    }
}

/// Child → parent.
#[derive(Serialize, Deserialize)]
#[serde(tag = "call", rename_all = "snake_case")]
enum FromChild {
    StatusMessage { value: String },
    Progress { value: f64 },
    TrackingUrl { value: String },
    Decrease { value: Resources },
    Require { id: u64, tasks: Vec<TaskSpec> },
    Respond { message_id: String, response: String },
    Event { name: String, text: Option<String>, seconds: Option<f64> },
    Log { line: TaskLog },
    Done { status: TaskStatus, expl: Option<String>, missing: Vec<String> },
}

/// Parent → child, after the request.
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum ToChild {
    Reply { id: u64, error: Option<String> },
    Message { content: String, message_id: String },
}

/// An error reported by the child, re-raised in the parent for event handlers.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct ChildError(String);

/// Starts `task` in a child process; its outcome arrives on `outcome`.
pub(crate) fn spawn(
    task: &TaskRef,
    hooks: TaskHooks,
    settings: RunSettings,
    outcome: Sender<Outcome>,
) -> Result<Killer, String> {
    let to_loop = outcome;
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program to start a child: {e}"))?;
    let mut child = Command::new(exe)
        .env(CHILD_ENV, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start a child process: {e}"))?;
    let pid = i32::try_from(child.id()).map_err(|_| "child pid out of range".to_owned())?;
    let spec = TaskSpec::of(task);
    let cli = ParamContext::global()
        .cli_values()
        .map(|(family, param, value)| (family.to_owned(), param.to_owned(), value.to_owned()))
        .collect();
    let request = Request {
        family: spec.family,
        params: spec.params,
        cli,
        check_unfulfilled_deps: settings.check_unfulfilled_deps,
        check_complete_on_run: settings.check_complete_on_run,
        worker_id: hooks.worker_id.to_string(),
    };
    let stdin = Arc::new(Mutex::new(child.stdin.take().ok_or("child has no stdin")?));
    let stdout = child.stdout.take().ok_or("child has no stdout")?;
    write_line(&stdin, &request).map_err(|e| format!("cannot send the task to the child: {e}"))?;
    let task = task.clone();
    let finished = Arc::new(AtomicBool::new(false));
    let killed = Arc::new(AtomicBool::new(false));
    let killer = Killer { pid, killed: Arc::clone(&killed) };
    let hooks = Arc::new(hooks);
    if hooks.messages.is_some() {
        let (hooks, stdin, finished) = (Arc::clone(&hooks), Arc::clone(&stdin), Arc::clone(&finished));
        let _ = std::thread::Builder::new().name("luigi-child-messages".into()).spawn(move || {
            while !finished.load(Ordering::SeqCst) {
                if let Some(message) = hooks.next_message(Some(Duration::from_millis(200))) {
                    let line = ToChild::Message { content: message.content, message_id: message.message_id };
                    if write_line(&stdin, &line).is_err() {
                        return;
                    }
                }
            }
        });
    }
    std::thread::Builder::new()
        .name("luigi-child-relay".into())
        .spawn(move || {
            let mut outcome = None;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let message: FromChild = match serde_json::from_str(&line) {
                    Ok(message) => message,
                    Err(err) => {
                        tracing::warn!(target: "luigi-interface", "unexpected line from the child running {task}: {err}: {line}");
                        continue;
                    }
                };
                match relay(&task, &hooks, &stdin, message) {
                    Some(done) => {
                        outcome = Some(done);
                        break;
                    }
                    None => continue,
                }
            }
            finished.store(true, Ordering::SeqCst);
            let status = child.wait();
            let outcome = outcome.unwrap_or_else(|| {
                let code = status.ok().and_then(|s| s.code()).map_or("a signal".to_owned(), |c| c.to_string());
                let message = format!("Task {} died unexpectedly with exit code {code}", task.id());
                if !killed.load(Ordering::SeqCst) {
                    event::fire(task.task(), Event::ProcessFailure, &EventArgs::Message(&message));
                    tracing::info!(target: "luigi-interface", "{message}");
                }
                Outcome { status: TaskStatus::Failed, expl: Some(message), missing: Vec::new() }
            });
            let _ = to_loop.send(outcome);
        })
        .map_err(|e| format!("cannot start the relay thread: {e}"))?;
    Ok(killer)
}

/// Handles one line from the child; returns the outcome when the child is done.
fn relay(
    task: &TaskRef,
    hooks: &TaskHooks,
    stdin: &Mutex<std::process::ChildStdin>,
    message: FromChild,
) -> Option<Outcome> {
    let warn = |what: &str, err: BoxError| tracing::warn!(target: "luigi-interface", "{task}: {what} failed: {err}");
    match message {
        FromChild::StatusMessage { value } => {
            hooks.set_status_message(&value).unwrap_or_else(|e| warn("status message", e))
        }
        FromChild::Progress { value } => hooks.set_progress_percentage(value).unwrap_or_else(|e| warn("progress", e)),
        FromChild::TrackingUrl { value } => hooks.set_tracking_url(&value).unwrap_or_else(|e| warn("tracking URL", e)),
        FromChild::Decrease { value } => {
            hooks.decrease_running_resources(&value).unwrap_or_else(|e| warn("decreasing resources", e))
        }
        FromChild::Require { id, tasks } => {
            let built: Result<Vec<TaskRef>, String> = tasks.iter().map(TaskSpec::build).collect();
            let error = match built {
                Ok(tasks) => hooks.require(tasks).err().map(|e| e.to_string()),
                Err(err) => Some(err),
            };
            let _ = write_line(stdin, &ToChild::Reply { id, error });
        }
        FromChild::Respond { message_id, response } => {
            let request = AddSchedulerMessageResponseRequest {
                task_id: task.id().clone(),
                message_id,
                response: serde_json::Value::String(response),
            };
            if let Err(err) = hooks.scheduler.add_scheduler_message_response(request) {
                warn("responding to a scheduler message", Box::new(err));
            }
        }
        FromChild::Event { name, text, seconds } => {
            let error = ChildError(text.clone().unwrap_or_default());
            let (event, args) = match name.as_str() {
                "start" => (Event::Start, EventArgs::None),
                "success" => (Event::Success, EventArgs::None),
                "processing_time" => (Event::ProcessingTime, EventArgs::Seconds(seconds.unwrap_or(0.0))),
                "failure" => (Event::Failure, EventArgs::Error(&error)),
                _ => return None,
            };
            event::fire(task.task(), event, &args);
        }
        FromChild::Log { line } => line.emit(),
        FromChild::Done { status, expl, missing } => return Some(Outcome { status, expl, missing }),
    }
    None
}

fn write_line<T: Serialize>(out: &Mutex<impl Write>, value: &T) -> std::io::Result<()> {
    let mut line = serde_json::to_string(value).map_err(std::io::Error::other)?;
    line.push('\n');
    let mut out = out.lock().unwrap_or_else(|e| e.into_inner());
    out.write_all(line.as_bytes())?;
    out.flush()
}

// ----- the child's side ------------------------------------------------------------------------

/// The child's `RunHooks`: everything becomes a line to the parent.
struct ChildHooks {
    out: Arc<Mutex<std::fs::File>>,
    replies: Mutex<HashMap<u64, Sender<Option<String>>>>,
    next_id: AtomicU64,
    messages: Mutex<mpsc::Receiver<SchedulerMessage>>,
}

impl ChildHooks {
    fn send(&self, message: &FromChild) -> Result<(), BoxError> {
        write_line(&self.out, message).map_err(|e| -> BoxError { format!("lost contact with the worker: {e}").into() })
    }
}

impl RunHooks for ChildHooks {
    fn set_status_message(&self, message: &str) -> Result<(), BoxError> {
        self.send(&FromChild::StatusMessage { value: message.to_owned() })
    }

    fn set_progress_percentage(&self, percentage: f64) -> Result<(), BoxError> {
        self.send(&FromChild::Progress { value: percentage })
    }

    fn set_tracking_url(&self, url: &str) -> Result<(), BoxError> {
        self.send(&FromChild::TrackingUrl { value: url.to_owned() })
    }

    fn decrease_running_resources(&self, decrease: &Resources) -> Result<(), BoxError> {
        self.send(&FromChild::Decrease { value: decrease.clone() })
    }

    fn require(&self, tasks: Vec<TaskRef>) -> Result<(), BoxError> {
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        let (reply, answer) = mpsc::channel();
        self.replies.lock().unwrap_or_else(|e| e.into_inner()).insert(id, reply);
        self.send(&FromChild::Require { id, tasks: tasks.iter().map(TaskSpec::of).collect() })?;
        match answer.recv() {
            Ok(None) => Ok(()),
            Ok(Some(error)) => Err(Box::new(ChildError(error))),
            Err(_) => Err("lost contact with the worker while waiting for required tasks".into()),
        }
    }

    fn next_message(&self, timeout: Option<Duration>) -> Option<SchedulerMessage> {
        let receiver = self.messages.lock().unwrap_or_else(|e| e.into_inner());
        match timeout {
            None => receiver.try_recv().ok(),
            Some(timeout) => receiver.recv_timeout(timeout).ok(),
        }
    }
}

/// Forwards events to the parent instead of firing them here.
struct ForwardEvents {
    out: Arc<Mutex<std::fs::File>>,
}

impl Events for ForwardEvents {
    fn fire(&self, _task: &TaskRef, event: Event, args: &EventArgs<'_>) {
        let name = match event {
            Event::Start => "start",
            Event::Success => "success",
            Event::ProcessingTime => "processing_time",
            Event::Failure => "failure",
            _ => return,
        };
        let (text, seconds) = match args {
            EventArgs::Error(error) => (Some(error.to_string()), None),
            EventArgs::Seconds(seconds) => (None, Some(*seconds)),
            _ => (None, None),
        };
        let _ = write_line(&self.out, &FromChild::Event { name: name.to_owned(), text, seconds });
    }

    fn log(&self, level: tracing::Level, line: std::fmt::Arguments<'_>) {
        let line = if level == tracing::Level::ERROR {
            TaskLog::Error(line.to_string())
        } else {
            TaskLog::Info(line.to_string())
        };
        let _ = write_line(&self.out, &FromChild::Log { line });
    }
}

/// The child's whole life: read the task, run it, report, return the exit code.
fn run_child() -> i32 {
    // SAFETY: called first thing in main, before any other thread exists, so nothing else reads
    // the environment concurrently; the variable must not leak into programs the task starts.
    unsafe { std::env::remove_var(CHILD_ENV) };
    // Keep the real stdout for the protocol and send the task's own prints to stderr.
    // SAFETY: dup/dup2 on the process's standard descriptors; the new descriptor is owned by
    // the File created from it and closed when it drops.
    let out = unsafe {
        let fd = libc::dup(1);
        if fd < 0 || libc::dup2(2, 1) < 0 {
            eprintln!("luigi task child: cannot set up the protocol descriptor");
            return 70;
        }
        <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fd)
    };
    let out = Arc::new(Mutex::new(out));
    let mut stdin = BufReader::new(std::io::stdin());
    let mut first = String::new();
    if stdin.read_line(&mut first).is_err() {
        return 70;
    }
    let request: Request = match serde_json::from_str(&first) {
        Ok(request) => request,
        Err(err) => {
            eprintln!("luigi task child: bad request from the worker: {err}");
            return 70;
        }
    };
    let mut context = ParamContext::new(luigi_core::config::Configuration::global());
    for (family, param, value) in &request.cli {
        context.set_cli_value(family.as_str(), param.as_str(), value.as_str());
    }
    ParamContext::set_global(context);
    let (message_tx, message_rx) = mpsc::channel();
    let hooks = Arc::new(ChildHooks {
        out: Arc::clone(&out),
        replies: Mutex::new(HashMap::new()),
        next_id: AtomicU64::new(1),
        messages: Mutex::new(message_rx),
    });
    {
        let hooks = Arc::clone(&hooks);
        let _ = std::thread::Builder::new().name("luigi-child-stdin".into()).spawn(move || {
            for line in stdin.lines() {
                let Ok(line) = line else { return };
                match serde_json::from_str::<ToChild>(&line) {
                    Ok(ToChild::Reply { id, error }) => {
                        if let Some(reply) = hooks.replies.lock().unwrap_or_else(|e| e.into_inner()).remove(&id) {
                            let _ = reply.send(error);
                        }
                    }
                    Ok(ToChild::Message { content, message_id }) => {
                        let out = Arc::clone(&hooks.out);
                        let id = message_id.clone();
                        let responder: luigi_core::task::Responder = Arc::new(move |response: &str| {
                            write_line(
                                &out,
                                &FromChild::Respond { message_id: id.clone(), response: response.to_owned() },
                            )
                            .map_err(|e| -> BoxError { e.to_string().into() })
                        });
                        let _ = message_tx.send(SchedulerMessage::new(content, message_id, responder));
                    }
                    Err(_) => {}
                }
            }
        });
    }
    let spec = TaskSpec { family: request.family, params: request.params };
    let outcome = match spec.build() {
        Ok(task) => {
            let settings = RunSettings {
                check_unfulfilled_deps: request.check_unfulfilled_deps,
                check_complete_on_run: request.check_complete_on_run,
            };
            runner::execute(
                &task,
                hooks.as_ref(),
                &CompletionCache::default(),
                settings,
                &request.worker_id,
                &ForwardEvents { out: Arc::clone(&out) },
            )
        }
        Err(err) => Outcome {
            status: TaskStatus::Failed,
            expl: Some(format!("the task child process could not rebuild the task: {err}")),
            missing: Vec::new(),
        },
    };
    let done = FromChild::Done { status: outcome.status, expl: outcome.expl, missing: outcome.missing };
    if write_line(&out, &done).is_err() {
        return 70;
    }
    0
}
