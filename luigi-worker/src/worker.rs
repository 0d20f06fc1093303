//! The worker: Luigi's `luigi.worker.Worker`, scheduling phase and run loop.
//!
//! [`Worker::add`] walks the graph backwards from a task: each task is checked for completeness
//! (through a cache shared by the whole run, in parallel batches when the frontier is large),
//! reported to the scheduler with everything Luigi sends (status, dependencies, parameters and
//! their visibilities, priority, resources, retry policy, owners...), and its requirements are
//! queued. On a large graph the scheduler calls go through a queue to a thread of their own,
//! in order, so the walk does not wait for them (see `Outbox`). [`Worker::run`] then asks the
//! scheduler for work until there is none.
//!
//! Key decision: the run loop is not one thread dispatching to a pool, as Luigi's is. Each of
//! the `processes` runner threads asks the scheduler for a task, runs it and reports the result
//! itself, so a task costs no thread hand-offs — on a small machine those context switches,
//! not the tasks, were the run's main cost. Asking for work is serialised (one `get_work` at a
//! time, and a claimed task joins the running set before the next request) so the scheduler
//! never sees this worker's running task missing from `current_tasks`, which would make it
//! hand the task out again.
//!
//! Dynamic dependencies differ from Luigi on purpose: a task that requires more tasks from
//! `run()` blocks until the worker has them complete and then continues, instead of being
//! stopped and re-run from the start. While it waits it stays RUNNING in the scheduler (its new
//! dependencies are added with `new_deps`), so no other worker takes it, and it does not count
//! against `processes` — an extra runner thread starts — so one worker can run the tasks it
//! waits for.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};

use parking_lot::{Condvar, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indexmap::IndexMap;
use luigi_core::event::{self, Event, EventArgs};
use luigi_core::param::{ParamArgs, ParamContext, Visibility};
use luigi_core::registry;
use luigi_core::rpc::SchedulerApi;
use luigi_core::rpc::wire::*;
use luigi_core::status::TaskStatus;
use luigi_core::task::{SchedulerMessage, TaskKind};
use luigi_core::{BoxError, IdMap, IdSet, TaskId, TaskRef};
use serde_json::Value;

use crate::identity::Identity;
use crate::options::WorkerOptions;
use crate::runner::{self, CompletionCache, Outcome, RunSettings, TaskHooks};
use crate::summary::{ExecutionSummary, History};

/// Why the worker could not do its job at all (as opposed to a task failing).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The scheduler could not be reached or refused a request.
    ///
    /// The RPC error is part of the message and deliberately not the error's `source()`: its
    /// text already carries its causes, so a reporter that prints the chain (as the command
    /// line does) would otherwise print the whole message two or three times.
    #[error("scheduler request failed: {0}")]
    Scheduler(luigi_core::rpc::Error),
}

impl From<luigi_core::rpc::Error> for Error {
    fn from(error: luigi_core::rpc::Error) -> Error {
        Error::Scheduler(error)
    }
}

/// How far the run has got, for a progress display ([`Worker::progress`]).
#[derive(Debug, Clone, Default)]
pub struct Progress {
    /// Distinct tasks scheduled (reported to the scheduler) so far.
    pub scheduled: usize,
    /// Tasks found complete while scheduling.
    pub already_done: usize,
    /// Tasks this worker ran successfully.
    pub done: usize,
    /// Tasks this worker ran that failed (a task that failed and then succeeded counts in both).
    pub failed: usize,
    /// Tasks reported runnable and not yet run here (some may be run by other workers).
    pub pending: usize,
    /// Tasks external to this run that are missing (reported not runnable).
    pub missing_external: usize,
    /// The tasks running now, oldest first.
    pub running: Vec<TaskRef>,
    /// How many of the running tasks are blocked in `RunContext::require`, waiting for the
    /// tasks they required at run time.
    pub waiting: usize,
}

/// A task this worker is running.
struct Running {
    task: TaskRef,
    /// Waiting for tasks it required at run time.
    waiting: bool,
}

/// Set by SIGUSR1: stop asking for work, finish running tasks, exit (Luigi's phase-out).
static PHASE_OUT: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigusr1(_signal: libc::c_int) {
    PHASE_OUT.store(true, Ordering::SeqCst);
}

/// Installs the SIGUSR1 handler that makes workers of this process phase out (Luigi's
/// shutdown handler). [`Worker::new`] does it unless `[worker] no_install_shutdown_handler`;
/// a program that can be signalled earlier (the `luigi` command, once it holds the process lock
/// that `--take-lock` signals) calls it sooner, so a signal that arrives before the worker
/// exists is not fatal: the default action of SIGUSR1 ends the process. A signal received
/// before the run makes the worker ask for no work at all.
pub fn install_shutdown_handler() {
    // SAFETY: the handler only stores into an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGUSR1, on_sigusr1 as extern "C" fn(libc::c_int) as libc::sighandler_t);
    }
}

/// The first interval at which an idle runner asks for work again once being woken has
/// proved fruitless; it doubles up to `wait_interval`.
const FIRST_IDLE_POLL: Duration = Duration::from_millis(5);

/// The worker's bookkeeping, shared by the runner threads.
struct State {
    first_task: Option<TaskId>,
    scheduled: IdMap<TaskRef>,
    batch_families: HashSet<&'static str>,
    batch_running: HashMap<TaskId, Vec<TaskRef>>,
    add_succeeded: bool,
    run_succeeded: bool,
    /// Counters behind [`Progress`].
    progress: Progress,
    /// What the execution summary is made of.
    history: History,
    running: IndexMap<TaskId, Running>,
    /// How many times the scheduler's view of our work changed under a question in flight: a
    /// run ended (its status reported) or a running task registered run-time requirements. A
    /// `get_work` reply is only trusted to mean "nothing left" if this did not move while it
    /// was being asked.
    work_changes: u64,
    failed: HashSet<TaskId>,
    /// Tasks that gave up waiting for run-time requirements: reported PENDING, not FAILED, so
    /// a later run starts them again once their requirements are done (as Luigi leaves them).
    suspended: HashSet<TaskId>,
    unfulfilled: HashMap<String, u32>,
    idle_since: Option<Instant>,
    /// The last runner that woke from waiting for work found none: finishing a task then
    /// wakes nobody, and idle runners poll on a growing interval instead (see `runner`).
    idle_wakes_fruitless: bool,
    /// The run is over: runner threads exit.
    finished: bool,
    /// Tasks waiting on requirements that nothing here can make progress on must give up.
    give_up_waiting: bool,
    threads: usize,
    error: Option<luigi_core::rpc::Error>,
}

impl State {
    fn new(worker_id: &str) -> State {
        State {
            first_task: None,
            scheduled: IdMap::default(),
            batch_families: HashSet::new(),
            batch_running: HashMap::new(),
            add_succeeded: true,
            run_succeeded: true,
            progress: Progress::default(),
            history: History::new(worker_id),
            running: IndexMap::new(),
            work_changes: 0,
            failed: HashSet::new(),
            suspended: HashSet::new(),
            unfulfilled: HashMap::new(),
            idle_since: None,
            idle_wakes_fruitless: false,
            finished: false,
            give_up_waiting: false,
            threads: 0,
            error: None,
        }
    }

    fn active(&self) -> usize {
        self.running.values().filter(|r| !r.waiting).count()
    }

    fn waiting(&self) -> usize {
        self.running.len() - self.active()
    }
}

/// What the worker and its threads share.
struct Shared {
    scheduler: Arc<dyn SchedulerApi>,
    options: WorkerOptions,
    identity: Identity,
    worker_id: Arc<str>,
    processes: Arc<AtomicUsize>,
    keep_alive: AtomicBool,
    stop_requesting_work: AtomicBool,
    cache: CompletionCache,
    params: Arc<ParamContext>,
    subprocesses: crate::subprocess::Mode,
    messages: Arc<Mutex<HashMap<TaskId, Sender<SchedulerMessage>>>>,
    /// parking_lot's lock and condition variable: both runner threads take the lock for every
    /// task, and every finished task notifies; std's `Condvar` made a system call for each
    /// notification even with nobody waiting (one futex call per task, a third of a Tree run's
    /// system calls besides the file system's).
    state: parking_lot::Mutex<State>,
    /// Notified whenever a task finishes, starts waiting or stops waiting.
    changed: Condvar,
    /// Serialises `get_work` (see the module docs).
    asking: parking_lot::Mutex<()>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

/// Luigi's worker. Cloning gives another handle on the same worker (for a progress display
/// polling [`Worker::progress`] from another thread, say).
#[derive(Clone)]
pub struct Worker {
    shared: Arc<Shared>,
}

impl Worker {
    /// A worker using `scheduler`.
    pub fn new(scheduler: Arc<dyn SchedulerApi>, options: WorkerOptions) -> Worker {
        // Installed now, not when the run starts: a SIGUSR1 during the scheduling phase must
        // phase the worker out, not kill the process.
        if !options.no_install_shutdown_handler {
            install_shutdown_handler();
        }
        let identity = Identity::new(options.processes, options.id.as_deref());
        let worker_id: Arc<str> = Arc::from(identity.id.as_str());
        let state = State::new(&worker_id);
        Worker {
            shared: Arc::new(Shared {
                scheduler,
                processes: Arc::new(AtomicUsize::new(options.processes)),
                keep_alive: AtomicBool::new(options.keep_alive),
                stop_requesting_work: AtomicBool::new(false),
                options,
                identity,
                worker_id,
                cache: CompletionCache::default(),
                params: ParamContext::global(),
                subprocesses: crate::subprocess::Mode::detect(),
                messages: Arc::new(Mutex::new(HashMap::new())),
                state: parking_lot::Mutex::new(state),
                changed: Condvar::new(),
                asking: parking_lot::Mutex::new(()),
                threads: Mutex::new(Vec::new()),
            }),
        }
    }

    /// The worker id.
    pub fn id(&self) -> &str {
        &self.shared.worker_id
    }

    /// The host name reported to the scheduler.
    pub fn host(&self) -> &str {
        &self.shared.identity.host
    }

    /// How far the run has got: counts of tasks by state and the running tasks. Cheap (it
    /// copies counters and the running set), so a display may call it several times a second.
    pub fn progress(&self) -> Progress {
        let state = self.shared.lock();
        let mut progress = state.progress.clone();
        progress.scheduled = state.scheduled.len();
        progress.running = state.running.values().map(|r| r.task.clone()).collect();
        progress.waiting = state.waiting();
        progress
    }

    /// What this worker reported and was handed out so far, the input of the summary.
    pub fn history(&self) -> History {
        self.shared.lock().history.clone()
    }

    /// The execution summary of everything this worker did so far.
    pub fn summarize(&self) -> ExecutionSummary {
        self.shared.lock().history.summarize()
    }

    /// Checks `root` and everything it requires, and reports them to the scheduler. Returns
    /// false if any task could not be scheduled (its `complete()` or `requires()` failed).
    pub fn add(&self, root: TaskRef) -> Result<bool, Error> {
        self.shared.lock().history.add_root(&root);
        self.shared.add(root)
    }

    /// Asks the scheduler for work and runs it until nothing is left. Returns true if every
    /// task this worker ran succeeded.
    pub fn run(&self) -> Result<bool, Error> {
        let shared = &self.shared;
        tracing::info!(target: "luigi-interface", "Running Worker with {} processes", shared.options.processes);
        let first_task = {
            let mut state = shared.lock();
            state.run_succeeded = true;
            state.finished = false;
            state.give_up_waiting = false;
            state.first_task.clone()
        };
        let mut info: Vec<(String, Value)> = shared.identity.info.clone();
        info.push(("first_task".to_owned(), first_task.map_or(Value::Null, |id| Value::String(id.to_string()))));
        shared
            .scheduler
            .add_worker(AddWorkerRequest { worker: shared.worker_id.to_string(), info: WorkerInfo::Pairs(info) })?;
        let keepalive = crate::keepalive::KeepAlive::start(
            Arc::clone(&shared.scheduler),
            Arc::clone(&shared.worker_id),
            shared.options.ping_interval,
            Arc::clone(&shared.processes),
            Arc::clone(&shared.messages),
        );
        Shared::ensure_threads(shared, shared.processes.load(Ordering::SeqCst).max(1));
        // Runner threads may start more runner threads; join until none are left.
        loop {
            let next = shared.threads.lock().unwrap_or_else(|e| e.into_inner()).pop();
            match next {
                Some(handle) => {
                    let _ = handle.join();
                }
                None => break,
            }
        }
        keepalive.stop();
        let mut state = shared.lock();
        match state.error.take() {
            Some(error) => Err(Error::Scheduler(error)),
            None => Ok(state.run_succeeded),
        }
    }
}

/// A scheduler call of the scheduling phase, in the order the walk makes them.
// Nearly every call is an `add_task`: boxing it would cost an allocation per task for nothing.
#[allow(clippy::large_enum_variant)]
enum Call {
    AddTask(AddTaskRequest),
    Batcher(AddTaskBatcherRequest),
    SchedulingFailure(AnnounceSchedulingFailureRequest),
}

/// Once the walk has found this many tasks, its scheduler calls go through a queue.
const QUEUE_FROM: usize = 256;

/// Calls handed to the sending thread at a time: one hand-off per call would cost more than
/// the engine's side of an `add_task`.
const CALLS_PER_HANDOFF: usize = 512;

/// Hand-offs the queue holds before the walk waits for the sending thread.
const QUEUE_DEPTH: usize = 4;

/// Where the scheduling phase sends its scheduler calls: straight to the scheduler (the
/// default), or, once the graph proves large, to a thread that makes them in order while the
/// walk goes on inspecting tasks. For a local scheduler that thread runs the engine's side of
/// every `add_task` on the second core; for a remote one it overlaps the round trips with the
/// walk. Luigi ignores what `add_task` answers, so nothing the walk does depends on the calls
/// having been made — only `add` returning waits for them.
#[derive(Default)]
struct Outbox {
    queue: Option<mpsc::SyncSender<Vec<Call>>>,
    batch: Vec<Call>,
    /// The sending thread stopped because a call failed: the walk must stop too.
    closed: bool,
}

impl Outbox {
    fn call(&mut self, shared: &Shared, call: Call) -> Result<(), Error> {
        if self.queue.is_some() {
            self.batch.push(call);
            if self.batch.len() >= CALLS_PER_HANDOFF {
                self.flush();
            }
            Ok(())
        } else {
            shared.call(call)
        }
    }

    /// Hands the calls gathered so far to the sending thread.
    fn flush(&mut self) {
        if let Some(queue) = &self.queue
            && !self.batch.is_empty()
            && queue.send(std::mem::take(&mut self.batch)).is_err()
        {
            self.closed = true;
        }
    }
}

/// How a runner thread should continue after asking for work.
enum Next {
    Run(TaskId),
    /// Ask again at once: a task finished while the question was on its way, so the answer
    /// may predate what that task unblocked.
    Again,
    Wait,
    Sleep,
    Stop,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock()
    }

    // ----- scheduling ------------------------------------------------------------------------

    fn add(&self, root: TaskRef) -> Result<bool, Error> {
        {
            let mut state = self.lock();
            if state.first_task.is_none() {
                state.first_task = Some(root.id().clone());
            }
            state.add_succeeded = true;
        }
        let mut seen: IdSet = IdSet::default();
        seen.insert(root.id().clone());
        let mut stack = vec![root];
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).max(1);
        std::thread::scope(|scope| {
            let mut out = Outbox::default();
            let mut sender = None;
            let walked = (|| -> Result<(), Error> {
                while !stack.is_empty() && !out.closed {
                    // Wide (a wrapper of many tasks) or deep (a long chain), the graph is large.
                    if sender.is_none() && seen.len() >= QUEUE_FROM {
                        let (queue, calls) = mpsc::sync_channel::<Vec<Call>>(QUEUE_DEPTH);
                        sender =
                            Some(scope.spawn(move || calls.into_iter().flatten().try_for_each(|call| self.call(call))));
                        out.queue = Some(queue);
                    }
                    // Take a batch from the top of the stack (Luigi's LIFO order within a
                    // batch), check completeness and requirements in parallel, then report in
                    // order.
                    let take = stack.len().min(1024);
                    let batch: Vec<TaskRef> = stack.split_off(stack.len() - take).into_iter().rev().collect();
                    let inspected = inspect_all(&batch, &self.cache, threads);
                    for (task, inspection) in batch.into_iter().zip(inspected) {
                        let deps = self.report_scheduled(task, inspection, &mut out)?;
                        // A wrapper of a million tasks would otherwise grow this set (rehashing
                        // every id) twenty times over; the same for the maps `report_scheduled`
                        // fills.
                        seen.reserve(deps.len());
                        for dep in deps {
                            if seen.insert(dep.id().clone()) {
                                stack.push(dep);
                            }
                        }
                    }
                }
                Ok(())
            })();
            // Closing the queue lets the sending thread finish what is queued and stop.
            out.flush();
            drop(out);
            let sent = match sender {
                None => Ok(()),
                Some(handle) => handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            };
            // A failed call stops the walk; its error is the one to report.
            sent.and(walked)
        })?;
        Ok(self.lock().add_succeeded)
    }

    /// Luigi's `_add`: decides the status of one task and reports it; returns its requirements
    /// to check next.
    fn report_scheduled(&self, task: TaskRef, inspection: Inspection, out: &mut Outbox) -> Result<Vec<TaskRef>, Error> {
        let mut deps: Option<Vec<TaskRef>> = None;
        let (mut status, runnable);
        let over_limit = self.options.task_limit.is_some_and(|limit| self.lock().scheduled.len() >= limit);
        if over_limit {
            tracing::warn!(
                target: "luigi-interface",
                "Will not run {task} or any dependencies due to exceeded task-limit of {}",
                self.options.task_limit.unwrap_or_default()
            );
            status = TaskStatus::Unknown;
            runnable = false;
        } else {
            match inspection.complete {
                Err(error) => {
                    self.lock().add_succeeded = false;
                    tracing::error!(
                        target: "luigi-interface",
                        "Will not run {task} or any dependencies due to error in complete() method:\n{error}"
                    );
                    event::fire(task.task(), Event::DependencyMissing, &EventArgs::None);
                    self.announce_scheduling_failure(&task, &error, out)?;
                    status = TaskStatus::Unknown;
                    runnable = false;
                }
                Ok(true) => {
                    status = TaskStatus::Done;
                    runnable = false;
                    event::fire(task.task(), Event::DependencyPresent, &EventArgs::None);
                }
                Ok(false) if task.kind() == TaskKind::External => {
                    status = TaskStatus::Pending;
                    runnable = self.options.retry_external_tasks;
                    event::fire(task.task(), Event::DependencyMissing, &EventArgs::None);
                    tracing::warn!(
                        target: "luigi-interface",
                        "Data for {task} does not exist (yet?). The task is an external data dependency, so it cannot \
                         be run from this luigi process."
                    );
                }
                Ok(false) => match inspection.deps {
                    Some(Err(error)) => {
                        self.lock().add_succeeded = false;
                        tracing::error!(
                            target: "luigi-interface",
                            "Will not run {task} or any dependencies due to error in deps() method:\n{error}"
                        );
                        event::fire(task.task(), Event::BrokenTask, &EventArgs::Error(error.as_ref()));
                        self.announce_scheduling_failure(&task, &error, out)?;
                        status = TaskStatus::Unknown;
                        runnable = false;
                    }
                    found => {
                        self.add_task_batcher(&task, out)?;
                        status = TaskStatus::Pending;
                        runnable = true;
                        deps = Some(match found {
                            Some(Ok(found)) => found,
                            _ => task.deps(),
                        });
                    }
                },
            }
            if task.disabled() {
                status = TaskStatus::Disabled;
            }
        }
        let dep_ids = deps.as_ref().map(|deps| {
            for dep in deps {
                event::fire(task.task(), Event::DependencyDiscovered, &EventArgs::Dependency(dep));
            }
            deps.iter().map(|d| d.id().clone()).collect::<Vec<_>>()
        });
        {
            let mut state = self.lock();
            if let Some(ids) = &dep_ids {
                // The requirements are reported next: room for them now rather than rehashing.
                state.scheduled.reserve(ids.len());
                state.history.reserve(ids.len());
            }
            let newly = state.scheduled.insert(task.id().clone(), task.clone()).is_none();
            if newly {
                match (status, runnable) {
                    (TaskStatus::Done, _) => state.progress.already_done += 1,
                    (TaskStatus::Pending, true) => state.progress.pending += 1,
                    (TaskStatus::Pending, false) => state.progress.missing_external += 1,
                    _ => {}
                }
            }
        }
        let mut request = self.task_request(&task, status);
        request.deps = dep_ids;
        request.runnable = Some(runnable);
        request.priority = Number::Int(task.priority());
        request.batchable = Some(is_batchable(&task));
        request.accepts_messages = Some(task.accepts_messages());
        self.send(request, &task, runnable, out)?;
        Ok(deps.unwrap_or_default())
    }

    fn announce_scheduling_failure(&self, task: &TaskRef, error: &BoxError, out: &mut Outbox) -> Result<(), Error> {
        let request = AnnounceSchedulingFailureRequest {
            task_name: task.to_string(),
            family: task.family().to_owned(),
            params: task.str_params(true, false).into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            expl: Some(error.to_string()),
            owners: Some(task.owner_email()),
            worker: Some(self.worker_id.to_string()),
        };
        out.call(self, Call::SchedulingFailure(request))
    }

    fn add_task_batcher(&self, task: &TaskRef, out: &mut Outbox) -> Result<(), Error> {
        let family = task.family();
        if !self.lock().batch_families.insert(family) {
            return Ok(());
        }
        let batched: Vec<String> =
            task.param_infos().iter().filter(|info| info.batchable).map(|info| info.name.to_owned()).collect();
        if !batched.is_empty() {
            out.call(
                self,
                Call::Batcher(AddTaskBatcherRequest {
                    worker: self.worker_id.to_string(),
                    task_family: family.to_owned(),
                    batched_args: batched,
                    max_batch_size: task.max_batch_size().map_or(Number::INFINITY, |n| Number::Int(n as i64)),
                }),
            )?;
        }
        Ok(())
    }

    /// The fields every `add_task` about `task` carries.
    fn task_request(&self, task: &TaskRef, status: TaskStatus) -> AddTaskRequest {
        let mut request = AddTaskRequest::new(task.id().clone(), self.worker_id.to_string());
        request.status = status;
        let params: ParamMap = task.str_params(false, false).into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        if !params.is_empty() {
            request.param_visibilities = Some(
                task.param_infos()
                    .iter()
                    .filter(|info| info.visibility != Visibility::Private)
                    .map(|info| (info.name.to_owned(), i64::from(info.visibility.as_int())))
                    .collect(),
            );
        }
        request.params = Some(params);
        request.resources = Some(task.resources().into_iter().collect());
        request.family = task.family().to_owned();
        request.module = Some(task.module().to_owned());
        request.retry_policy_dict = Some(task.retry_policy().into());
        request.owners = Some(task.owner_email());
        request.assistant = self.options.assistant;
        request
    }

    /// Records an `add_task` for the summary and sends it through `out` (Luigi's `_add_task`).
    fn send(&self, request: AddTaskRequest, task: &TaskRef, runnable: bool, out: &mut Outbox) -> Result<(), Error> {
        {
            let mut state = self.lock();
            state.history.record_add_task(task, request.status, runnable);
            if let Some(mates) = state.batch_running.remove(task.id()) {
                for mate in mates {
                    state.history.record_add_task(&mate, request.status, true);
                }
            }
        }
        out.call(self, Call::AddTask(request))
    }

    /// Makes one call of the scheduling phase, on whichever thread the [`Outbox`] chose.
    fn call(&self, call: Call) -> Result<(), Error> {
        match call {
            Call::AddTask(request) => {
                let (task_id, status) = (request.task_id.clone(), request.status);
                self.scheduler.add_task(request)?;
                tracing::info!(target: "luigi-interface", "Informed scheduler that task   {task_id}   has status   {status}");
            }
            Call::Batcher(request) => self.scheduler.add_task_batcher(request)?,
            Call::SchedulingFailure(request) => {
                let task = request.task_name.clone();
                if let Err(err) = self.scheduler.announce_scheduling_failure(request) {
                    tracing::warn!(target: "luigi-interface", "could not announce the scheduling failure of {task}: {err}");
                }
            }
        }
        Ok(())
    }

    // ----- running ---------------------------------------------------------------------------

    /// Starts runner threads until there are `count`.
    fn ensure_threads(shared: &Arc<Shared>, count: usize) {
        let mut state = shared.lock();
        while state.threads < count {
            let runner = Arc::clone(shared);
            let number = state.threads;
            match std::thread::Builder::new().name(format!("luigi-worker-{number}")).spawn(move || runner.runner()) {
                Ok(handle) => {
                    state.threads += 1;
                    shared.threads.lock().unwrap_or_else(|e| e.into_inner()).push(handle);
                }
                Err(err) => {
                    tracing::error!(target: "luigi-interface", "cannot start a worker thread ({err}); running with {number}");
                    return;
                }
            }
        }
    }

    fn start_phasing_out(&self) {
        if !self.stop_requesting_work.swap(true, Ordering::SeqCst) {
            tracing::info!(target: "luigi-interface", "Worker {} is phasing out: finishing running tasks, asking for no more", self.worker_id);
        }
        self.keep_alive.store(false, Ordering::SeqCst);
    }

    /// One runner thread: ask, run, report, until the run is over.
    fn runner(self: Arc<Self>) {
        // After waiting for work: whether that wait ended in a question, and how long the next
        // wait may be if the answer is again "nothing" (doubling up to `wait_interval`).
        let mut woke_from_idle = false;
        let mut idle_poll = FIRST_IDLE_POLL;
        loop {
            if PHASE_OUT.load(Ordering::SeqCst) {
                self.start_phasing_out();
            }
            {
                let mut state = self.lock();
                if state.finished {
                    return;
                }
                let processes = self.processes.load(Ordering::SeqCst);
                if processes > 0 && state.active() >= processes {
                    self.changed.wait_for(&mut state, self.options.wait_interval);
                    drop(state);
                    continue;
                }
            }
            let next = match self.ask() {
                Ok(next) => next,
                Err(error) => {
                    let mut state = self.lock();
                    tracing::error!(target: "luigi-interface", "stopping: {error}");
                    state.error.get_or_insert(error);
                    state.finished = true;
                    self.changed.notify_all();
                    return;
                }
            };
            if std::mem::take(&mut woke_from_idle) {
                match next {
                    Next::Wait => self.lock().idle_wakes_fruitless = true,
                    Next::Run(_) => {
                        self.lock().idle_wakes_fruitless = false;
                        idle_poll = FIRST_IDLE_POLL;
                    }
                    Next::Again | Next::Sleep | Next::Stop => {}
                }
            }
            match next {
                Next::Run(task_id) => {
                    if let Err(Error::Scheduler(error)) = self.run_task(&task_id) {
                        let mut state = self.lock();
                        tracing::error!(target: "luigi-interface", "stopping: {error}");
                        state.error.get_or_insert(error);
                        state.finished = true;
                        self.changed.notify_all();
                        return;
                    }
                }
                Next::Again => {}
                Next::Wait => {
                    let mut state = self.lock();
                    if !state.finished {
                        // While waking up has been fruitless (a chain: one task runnable at a
                        // time), finishing tasks do not wake this runner; it asks again after
                        // a short, doubling interval, so it joins in soon when parallel work
                        // appears and stays quiet when it does not.
                        let wait = if state.idle_wakes_fruitless {
                            let wait = idle_poll.min(self.options.wait_interval);
                            idle_poll = (idle_poll * 2).min(self.options.wait_interval);
                            wait
                        } else {
                            self.options.wait_interval
                        };
                        self.changed.wait_for(&mut state, wait);
                        woke_from_idle = true;
                    }
                }
                Next::Sleep => {
                    let jitter = self.options.wait_jitter.mul_f64(fastrand::f64());
                    std::thread::sleep(self.options.wait_interval + jitter);
                }
                Next::Stop => return,
            }
        }
    }

    /// Asks the scheduler for work (one thread at a time) and claims what it hands out.
    fn ask(&self) -> Result<Next, luigi_core::rpc::Error> {
        let _asking = self.asking.lock();
        if self.lock().finished {
            return Ok(Next::Stop);
        }
        let work_changes = self.lock().work_changes;
        let reply = if self.stop_requesting_work.load(Ordering::SeqCst) {
            GetWorkReply::disabled()
        } else if self.processes.load(Ordering::SeqCst) > 0 {
            tracing::debug!(target: "luigi-interface", "Asking scheduler for work...");
            let current: Vec<TaskId> = self.lock().running.keys().cloned().collect();
            self.scheduler.get_work(GetWorkRequest {
                host: Some(self.identity.host.clone()),
                assistant: self.options.assistant,
                current_tasks: Some(current),
                worker: self.worker_id.to_string(),
            })?
        } else {
            tracing::debug!(target: "luigi-interface", "Checking if tasks are still pending");
            let counts = self.scheduler.count_pending(CountPendingRequest { worker: self.worker_id.to_string() })?;
            GetWorkReply {
                n_pending_tasks: counts.n_pending_tasks,
                n_unique_pending: counts.n_unique_pending,
                n_pending_last_scheduled: Some(counts.n_pending_last_scheduled),
                worker_state: counts.worker_state,
                running_tasks: counts.running_tasks,
                work: Work::Nothing,
            }
        };
        if reply.worker_state == WorkerState::Disabled {
            self.start_phasing_out();
        }
        let claimed = self.claim(&reply)?;
        if claimed.is_some() {
            tracing::debug!(target: "luigi-interface", "Pending tasks: {}", reply.n_pending_tasks);
        } else if !self.stop_requesting_work.load(Ordering::SeqCst) {
            log_remote_tasks(&reply);
        }
        let mut state = self.lock();
        if let Some(task_id) = claimed {
            state.idle_since = None;
            if state.running.contains_key(&task_id) {
                tracing::debug!(target: "luigi-interface", "Got already running task id {task_id} from scheduler, taking a break");
                return Ok(Next::Sleep);
            }
            let Some(task) = state.scheduled.get(&task_id).cloned() else { return Ok(Next::Wait) };
            state.running.insert(task_id.clone(), Running { task, waiting: false });
            return Ok(Next::Run(task_id));
        }
        if state.work_changes != work_changes && !self.stop_requesting_work.load(Ordering::SeqCst) {
            // Another runner thread reported a task done, or a running task added requirements
            // (over its own connection), while this question was in flight: the scheduler may
            // have answered before it knew, so the "nothing for you" is stale. Ask again rather
            // than stop with work left, or tell a waiting task to give up on requirements that
            // are about to be handed out.
            return Ok(Next::Again);
        }
        if state.running.is_empty() {
            let idle_since = *state.idle_since.get_or_insert_with(Instant::now);
            if self.keep_alive_decision(&reply, idle_since) {
                return Ok(Next::Sleep);
            }
            state.finished = true;
            self.changed.notify_all();
            return Ok(Next::Stop);
        }
        if state.active() == 0 {
            // Only tasks waiting on run-time requirements remain and the scheduler has nothing
            // for us: unless those requirements are done (or keep-alive says to wait for other
            // workers), nothing here can make progress. A worker phasing out asks for nothing
            // more, so its waiting tasks give up at once.
            if !self.stop_requesting_work.load(Ordering::SeqCst) {
                let idle_since = *state.idle_since.get_or_insert_with(Instant::now);
                if self.keep_alive_decision(&reply, idle_since) {
                    return Ok(Next::Sleep);
                }
            }
            state.give_up_waiting = true;
            self.changed.notify_all();
        }
        Ok(Next::Wait)
    }

    /// Luigi's `_keep_alive`.
    fn keep_alive_decision(&self, reply: &GetWorkReply, idle_since: Instant) -> bool {
        if !self.keep_alive.load(Ordering::SeqCst) {
            false
        } else if self.options.assistant {
            true
        } else if self.options.count_last_scheduled {
            reply.n_pending_last_scheduled.unwrap_or(0) > 0
        } else if self.options.count_uniques {
            reply.n_unique_pending > 0
        } else if reply.n_pending_tasks == 0 {
            false
        } else {
            match self.options.max_keep_alive_idle {
                None => true,
                Some(limit) => idle_since.elapsed() < limit,
            }
        }
    }

    /// Turns a `get_work` reply into a task to run: a task this worker scheduled, a task built
    /// from the scheduler's family and parameters, or a batch built and claimed.
    fn claim(&self, reply: &GetWorkReply) -> Result<Option<TaskId>, luigi_core::rpc::Error> {
        let task_id = match &reply.work {
            Work::Nothing => None,
            Work::Task { task_id, task_family, task_params, .. } => {
                if self.lock().scheduled.contains_key(task_id) {
                    Some(task_id.clone())
                } else {
                    tracing::info!(target: "luigi-interface", "Did not schedule {task_id}, will load it dynamically");
                    let params: Vec<(&str, &str)> = task_params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                    let built = registry::lookup(task_family).map_err(|e| e.to_string()).and_then(|registration| {
                        registration.from_str_params(&self.params, params).map_err(|e| e.to_string())
                    });
                    match built {
                        Ok(task) => {
                            self.lock().scheduled.insert(task_id.clone(), task);
                            Some(task_id.clone())
                        }
                        Err(error) => {
                            self.task_load_failed(std::slice::from_ref(task_id), &error)?;
                            None
                        }
                    }
                }
            }
            Work::Batch { task_family, task_module, task_params, batch_id, batch_task_ids } => {
                match self.build_batch(task_family, task_params) {
                    Ok(task) => {
                        let mut request = AddTaskRequest::new(task.id().clone(), self.worker_id.to_string());
                        request.module = task_module.clone().or_else(|| Some(task.module().to_owned()));
                        request.family = task_family.clone();
                        request.params =
                            Some(task.str_params(false, false).into_iter().map(|(k, v)| (k.to_owned(), v)).collect());
                        request.status = TaskStatus::Running;
                        request.batch_id = Some(batch_id.clone());
                        self.scheduler.add_task(request)?;
                        let id = task.id().clone();
                        let mut state = self.lock();
                        let mates: Vec<TaskRef> =
                            batch_task_ids.iter().filter_map(|id| state.scheduled.get(id).cloned()).collect();
                        state.scheduled.insert(id.clone(), task);
                        state.batch_running.insert(id.clone(), mates);
                        Some(id)
                    }
                    Err(error) => {
                        self.task_load_failed(batch_task_ids, &error)?;
                        None
                    }
                }
            }
        };
        self.lock().history.record_get_work(task_id.as_ref(), &reply.running_tasks);
        Ok(task_id)
    }

    /// Builds the task a batch stands for: each batched parameter's values reduced with its
    /// batch method.
    fn build_batch(&self, family: &str, params: &IndexMap<String, BatchParam>) -> Result<TaskRef, String> {
        let registration = registry::lookup(family).map_err(|e| e.to_string())?;
        let mut args = ParamArgs::new();
        for (name, value) in params {
            let value = match value {
                BatchParam::One(value) => value.clone(),
                BatchParam::Many(values) => registration.reduce_batch(name, values).map_err(|e| e.to_string())?,
            };
            if registration.param_infos().iter().any(|info| info.name == name) {
                args = args.with(name.clone(), value);
            }
        }
        registration.build(&self.params, &args).map_err(|e| e.to_string())
    }

    /// Luigi's `_handle_task_load_error`.
    fn task_load_failed(&self, task_ids: &[TaskId], error: &str) -> Result<(), luigi_core::rpc::Error> {
        let ids: Vec<&str> = task_ids.iter().map(TaskId::as_str).collect();
        let message = format!("Cannot find task(s) sent by scheduler: {}", ids.join(","));
        tracing::error!(target: "luigi-interface", "{message}: {error}");
        for id in task_ids {
            let mut request = AddTaskRequest::new(id.clone(), self.worker_id.to_string());
            request.status = TaskStatus::Failed;
            request.runnable = Some(false);
            request.expl = Some(json_string(&format!("{message}\n{error}")));
            self.scheduler.add_task(request)?;
        }
        self.lock().run_succeeded = false;
        Ok(())
    }

    /// Runs a claimed task on this thread (or in a child process it waits for) and reports it.
    fn run_task(self: &Arc<Self>, task_id: &TaskId) -> Result<(), Error> {
        let Some(task) = self.lock().running.get(task_id).map(|r| r.task.clone()) else { return Ok(()) };
        let timeout = task.worker_timeout().or(self.options.timeout);
        tracing::info!(target: "luigi-interface", "[pid {}] Worker {} running   {task}", crate::pid(), self.worker_id);
        let messages = task.accepts_messages().then(|| {
            let (sender, receiver) = mpsc::channel();
            self.messages.lock().unwrap_or_else(|e| e.into_inner()).insert(task_id.clone(), sender);
            Mutex::new(receiver)
        });
        let requirer_shared = Arc::clone(self);
        let hooks = TaskHooks {
            scheduler: Arc::clone(&self.scheduler),
            worker_id: Arc::clone(&self.worker_id),
            task: task.clone(),
            requirer: Arc::new(move |task_id: &TaskId, tasks: Vec<TaskRef>| requirer_shared.require(task_id, tasks)),
            messages,
        };
        let settings = RunSettings {
            check_unfulfilled_deps: self.options.check_unfulfilled_deps,
            check_complete_on_run: self.options.check_complete_on_run,
        };
        let use_child = timeout.is_some() || self.options.force_multiprocessing;
        let outcome = if use_child && self.subprocesses.available() {
            let (sender, receiver) = mpsc::channel();
            match crate::subprocess::spawn(&task, hooks, settings, sender) {
                Ok(killer) => match timeout {
                    None => receiver.recv().unwrap_or_else(|_| died(&task)),
                    Some(limit) => match receiver.recv_timeout(limit) {
                        Ok(outcome) => outcome,
                        Err(RecvTimeoutError::Disconnected) => died(&task),
                        Err(RecvTimeoutError::Timeout) => {
                            killer.kill();
                            let message = format!(
                                "Task {task_id} timed out after {} seconds and was terminated.",
                                limit.as_secs_f64()
                            );
                            event::fire(task.task(), Event::Timeout, &EventArgs::Message(&message));
                            tracing::info!(target: "luigi-interface", "{message}");
                            Outcome { status: TaskStatus::Failed, expl: Some(message), missing: Vec::new() }
                        }
                    },
                },
                Err(error) => {
                    tracing::error!(target: "luigi-interface", "{error}");
                    Outcome { status: TaskStatus::Failed, expl: Some(error), missing: Vec::new() }
                }
            }
        } else {
            if use_child {
                tracing::warn!(
                    target: "luigi-interface",
                    "{task} has a timeout, but this program cannot run tasks in child processes (call \
                     luigi_worker::subprocess::init() first thing in main, as luigi_cli::main() does); running it \
                     on a thread, which cannot be stopped if it overruns"
                );
            }
            runner::execute(&task, &hooks, &self.cache, settings, &self.worker_id, &runner::LocalEvents)
        };
        self.finish(task_id, &task, outcome)
    }

    /// A task ended: report it (Luigi's `_handle_next_task`).
    fn finish(&self, task_id: &TaskId, task: &TaskRef, outcome: Outcome) -> Result<(), Error> {
        self.messages.lock().unwrap_or_else(|e| e.into_inner()).remove(task_id);
        let external_retryable = task.kind() == TaskKind::External && self.options.retry_external_tasks;
        if outcome.status == TaskStatus::Failed && !external_retryable && self.options.send_failure_email {
            tracing::debug!(target: "luigi-interface", "failure e-mails need the contrib email backend; not sent for {task}");
        }
        let suspended = self.lock().suspended.remove(task_id) && outcome.status == TaskStatus::Failed;
        let outcome = if suspended {
            tracing::info!(target: "luigi-interface", "{task} is left PENDING until its run-time requirements are complete");
            Outcome { status: TaskStatus::Pending, expl: None, missing: Vec::new() }
        } else {
            outcome
        };
        let mut request = self.task_request(task, outcome.status);
        request.expl = Some(json_string_opt(outcome.expl.as_deref()));
        request.runnable = None;
        request.new_deps = Some(Vec::new());
        let sent = self.send(request, task, true, &mut Outbox::default());
        let mut reschedule = !outcome.missing.is_empty();
        {
            let mut state = self.lock();
            state.running.shift_remove(task_id);
            state.work_changes += 1;
            match outcome.status {
                TaskStatus::Done => {
                    self.cache.mark(task.id());
                    state.progress.done += 1;
                    state.progress.pending = state.progress.pending.saturating_sub(1);
                }
                TaskStatus::Pending => {}
                _ => {
                    state.failed.insert(task_id.clone());
                    state.progress.failed += 1;
                    state.progress.pending = state.progress.pending.saturating_sub(1);
                }
            }
            for missing in &outcome.missing {
                let count = state.unfulfilled.entry(missing.clone()).or_default();
                *count += 1;
                if *count > self.options.max_reschedules {
                    reschedule = false;
                }
            }
            state.run_succeeded &= outcome.status == TaskStatus::Done || suspended;
            // This thread asks for work next anyway. Idle runners are woken only while waking
            // them has found work; tasks waiting for run-time requirements always are.
            if !state.idle_wakes_fruitless || state.waiting() > 0 {
                self.changed.notify_all();
            }
        }
        sent?;
        if reschedule {
            self.add(task.clone())?;
        }
        Ok(())
    }

    /// A running task required more tasks: schedule the incomplete ones and wait until they are
    /// complete. Called on the requiring task's thread.
    fn require(self: &Arc<Self>, task_id: &TaskId, tasks: Vec<TaskRef>) -> Result<(), String> {
        let incomplete: Vec<TaskRef> =
            tasks.into_iter().filter(|task| !self.cache.is_complete(task).unwrap_or(false)).collect();
        if incomplete.is_empty() {
            return Ok(());
        }
        let Some(parent) = self.lock().running.get(task_id).map(|r| r.task.clone()) else {
            return Err("the requiring task is no longer running".to_owned());
        };
        tracing::info!(target: "luigi-interface", "[pid {}] Worker {} new requirements      {parent}", crate::pid(), self.worker_id);
        for dep in &incomplete {
            self.add(dep.clone()).map_err(|e| e.to_string())?;
        }
        // The parent stays RUNNING; its new dependencies join its dependency list.
        let mut request = self.task_request(&parent, TaskStatus::Running);
        request.new_deps = Some(incomplete.iter().map(|d| d.id().clone()).collect());
        request.runnable = None;
        self.scheduler.add_task(request).map_err(|e| e.to_string())?;
        let waiting = {
            let mut state = self.lock();
            if let Some(running) = state.running.get_mut(task_id) {
                running.waiting = true;
            }
            // In the same critical section as `waiting`: a runner that sees this task waiting
            // also sees that its own (possibly older) reply may predate the new requirements.
            state.work_changes += 1;
            state.give_up_waiting = false;
            self.changed.notify_all();
            state.waiting()
        };
        Shared::ensure_threads(self, self.processes.load(Ordering::SeqCst).max(1) + waiting);
        let verdict = loop {
            // Read the give-up signal before looking at the requirements, never after: the
            // runner that finishes the last requirement marks it complete and only then may
            // find nothing to do and signal a give-up. Checking in the other order let a task
            // give up on requirements that had just completed — it was reported PENDING and
            // then run again from the top in the same run.
            let state = self.lock();
            let give_up = state.give_up_waiting || state.finished;
            let failed: Vec<String> =
                incomplete.iter().filter(|d| state.failed.contains(d.id())).map(|d| d.to_string()).collect();
            if !failed.is_empty() {
                break Err(format!("required task(s) failed: {}", failed.join(", ")));
            }
            drop(state);
            let pending: Vec<&TaskRef> =
                incomplete.iter().filter(|d| !self.cache.is_complete(d).unwrap_or(false)).collect();
            if pending.is_empty() {
                break Ok(());
            }
            let mut state = self.lock();
            if give_up {
                state.suspended.insert(task_id.clone());
                let pending: Vec<String> = pending.iter().map(|d| d.to_string()).collect();
                break Err(format!(
                    "required task(s) are not complete and this worker has nothing left to run them: {}",
                    pending.join(", ")
                ));
            }
            if !(state.give_up_waiting || state.finished) {
                self.changed.wait_for(&mut state, self.options.wait_interval);
            }
        };
        let mut state = self.lock();
        if let Some(running) = state.running.get_mut(task_id) {
            running.waiting = false;
        }
        if verdict.is_err() {
            tracing::warn!(target: "luigi-interface", "{parent} cannot continue: its requirements did not complete");
        }
        verdict
    }
}

fn died(task: &TaskRef) -> Outcome {
    Outcome {
        status: TaskStatus::Failed,
        expl: Some(format!("Task {} died unexpectedly", task.id())),
        missing: Vec::new(),
    }
}

/// What scheduling needs to know about a task, computed off the main thread.
struct Inspection {
    complete: Result<bool, BoxError>,
    /// `Some` for incomplete non-external tasks: their requirements (or why they failed).
    deps: Option<Result<Vec<TaskRef>, BoxError>>,
}

/// Luigi's `_log_remote_tasks`: why a `get_work` reply had nothing for this worker.
fn log_remote_tasks(reply: &GetWorkReply) {
    if !tracing::enabled!(target: "luigi-interface", tracing::Level::DEBUG) {
        return;
    }
    tracing::debug!(target: "luigi-interface", "Done");
    tracing::debug!(target: "luigi-interface", "There are no more tasks to run at this time");
    if !reply.running_tasks.is_empty() {
        for running in &reply.running_tasks {
            tracing::debug!(target: "luigi-interface", "{} is currently run by worker {}", running.task_id, running.worker);
        }
    } else if reply.n_pending_tasks > 0 {
        tracing::debug!(
            target: "luigi-interface",
            "There are {} pending tasks possibly being run by other workers",
            reply.n_pending_tasks
        );
        if reply.n_unique_pending > 0 {
            tracing::debug!(
                target: "luigi-interface",
                "There are {} pending tasks unique to this worker",
                reply.n_unique_pending
            );
        }
        if let Some(last_scheduled) = reply.n_pending_last_scheduled.filter(|&n| n > 0) {
            tracing::debug!(
                target: "luigi-interface",
                "There are {last_scheduled} pending tasks last scheduled by this worker"
            );
        }
    }
}

fn inspect(task: &TaskRef, cache: &CompletionCache) -> Inspection {
    tracing::debug!(target: "luigi-interface", "Checking if {task} is complete");
    let complete = cache.is_complete(task);
    let deps = match &complete {
        Ok(false) if task.kind() != TaskKind::External => Some(collect_deps(task)),
        _ => None,
    };
    Inspection { complete, deps }
}

/// `requires()`, with a panic turned into an error (a broken task must not kill the worker).
fn collect_deps(task: &TaskRef) -> Result<Vec<TaskRef>, BoxError> {
    runner::catch_panics(task, "requires()", || Ok(task.deps()))
}

/// Inspects a batch, in parallel when it is large enough to be worth threads.
fn inspect_all(batch: &[TaskRef], cache: &CompletionCache, threads: usize) -> Vec<Inspection> {
    if threads <= 1 || batch.len() < 64 {
        return batch.iter().map(|task| inspect(task, cache)).collect();
    }
    let chunk = batch.len().div_ceil(threads);
    let mut parts = batch.chunks(chunk);
    let own = parts.next().unwrap_or_default();
    std::thread::scope(|scope| {
        // The calling thread inspects the first part itself rather than wait idle.
        let handles: Vec<_> = parts
            .map(|part| scope.spawn(move || part.iter().map(|task| inspect(task, cache)).collect::<Vec<_>>()))
            .collect();
        let mut inspected: Vec<Inspection> = own.iter().map(|task| inspect(task, cache)).collect();
        for handle in handles {
            // A panicking complete() is caught per task in `inspect`; a failed join means the
            // inspection machinery itself failed, a bug, and skipping tasks would hide it.
            inspected.extend(handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
        }
        inspected
    })
}

fn is_batchable(task: &TaskRef) -> bool {
    task.param_infos().iter().any(|info| info.batchable)
}

/// Python's `json.dumps(text)`.
fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    luigi_core::pyjson::write_str(&mut out, text);
    out
}

/// Python's `json.dumps(expl)` for an optional explanation (`"null"` for none).
fn json_string_opt(text: Option<&str>) -> String {
    text.map_or_else(|| "null".to_owned(), json_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use luigi_core::Task;
    use luigi_core::rpc::{Method, ScriptedScheduler};
    use serde_json::json;

    #[derive(Task, Clone, Debug)]
    struct Leaf {
        i: i64,
    }

    impl Task for Leaf {
        type Requires = ();
        type Output = ();
        fn requires(&self) {}
        fn output(&self) {}
    }

    /// Requires more leaves than [`QUEUE_FROM`], so its scheduling goes through the queue.
    #[derive(Task, Clone, Debug)]
    struct Wide;

    const WIDTH: i64 = 1000;

    impl Task for Wide {
        type Requires = Vec<Leaf>;
        type Output = ();
        fn requires(&self) -> Vec<Leaf> {
            (0..WIDTH).map(|i| Leaf { i }).collect()
        }
        fn output(&self) {}
    }

    fn worker(scheduler: &Arc<ScriptedScheduler>) -> Worker {
        let options = WorkerOptions { no_install_shutdown_handler: true, ..WorkerOptions::default() };
        Worker::new(Arc::clone(scheduler) as Arc<dyn SchedulerApi>, options)
    }

    fn added_ids(scheduler: &ScriptedScheduler) -> Vec<String> {
        scheduler
            .calls()
            .into_iter()
            .filter(|(method, _)| *method == Method::AddTask)
            .map(|(_, request)| request["task_id"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    #[test]
    fn queued_scheduling_calls_keep_the_walks_order() {
        let scheduler = Arc::new(ScriptedScheduler::new());
        assert!(worker(&scheduler).add(TaskRef::new(Wide)).unwrap());
        let ids = added_ids(&scheduler);
        // The wrapper, then its requirements from the top of the stack down (Luigi's order).
        let mut expected = vec![TaskRef::new(Wide).id().to_string()];
        expected.extend((0..WIDTH).rev().map(|i| TaskRef::new(Leaf { i }).id().to_string()));
        assert_eq!(ids, expected);
        assert_eq!(scheduler.calls()[0].1["deps"].as_array().map(Vec::len), Some(WIDTH as usize));
    }

    /// A chain longer than [`QUEUE_FROM`]: its frontier never holds more than one task.
    #[derive(Task, Clone, Debug)]
    struct Link {
        n: i64,
    }

    impl Task for Link {
        type Requires = Option<Link>;
        type Output = ();
        fn requires(&self) -> Option<Link> {
            (self.n > 1).then(|| Link { n: self.n - 1 })
        }
        fn output(&self) {}
    }

    #[test]
    fn a_deep_chain_is_reported_whole_and_in_order() {
        let scheduler = Arc::new(ScriptedScheduler::new());
        let length = 1500;
        assert!(worker(&scheduler).add(TaskRef::new(Link { n: length })).unwrap());
        let expected: Vec<String> = (1..=length).rev().map(|n| TaskRef::new(Link { n }).id().to_string()).collect();
        assert_eq!(added_ids(&scheduler), expected);
    }

    #[test]
    fn a_failed_queued_call_stops_the_walk_and_is_reported() {
        let scheduler = Arc::new(ScriptedScheduler::new());
        for _ in 0..500 {
            scheduler.push_reply(Method::AddTask, Value::Null);
        }
        // `add_task` answers nothing; anything else makes the 501st call fail.
        scheduler.push_reply(Method::AddTask, json!("not nothing"));
        let err = worker(&scheduler).add(TaskRef::new(Wide)).unwrap_err();
        assert!(err.to_string().contains("scripted reply does not fit"), "{err}");
        // Nothing after the failed call reached the scheduler.
        assert_eq!(added_ids(&scheduler).len(), 501);
    }

    #[test]
    fn a_scheduler_error_is_told_once() {
        let rpc = luigi_core::rpc::Error::Transport {
            message: "Errors (3 attempts) when connecting to remote scheduler 'http://h:1': HTTP 401".into(),
            source: Some("the scheduler answered HTTP 401".into()),
        };
        let err = Error::from(rpc);
        assert_eq!(
            err.to_string(),
            "scheduler request failed: could not reach the scheduler: Errors (3 attempts) when connecting to remote \
             scheduler 'http://h:1': HTTP 401; check that luigid is running and the scheduler URL"
        );
        // Printing the chain must not repeat what the message already says.
        assert!(std::error::Error::source(&err).is_none());
    }
}
