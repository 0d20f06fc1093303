//! The scheduling engine: Luigi 3.8.1's central-scheduler state machine (inventory §2),
//! sans-IO, deterministic given its clock, and built for a million tasks.
//!
//! [`Scheduler`] implements [`SchedulerApi`], so the same object serves `luigid` (behind the
//! HTTP server) and a worker's `--local-scheduler` (in-process). Each call takes the state
//! lock, reads the injected [`Clock`] once, and runs one operation from `ops` (state
//! changes) or `views` (replies built from state). The state itself (`state`) keeps the
//! indices that make the hot calls cheap: `get_work` is O(log n) for workers without resource
//! constraints, `count_pending` is O(running tasks), `prune` touches only tasks with due timers
//! or changed stakeholders.
//!
//! The engine never reads the system clock, never does I/O and never blocks: history records
//! go to a [`TaskHistory`] that must queue them, and changed records are collected for the
//! persistence layer to write (see `crate::persist`).

mod debug;
mod idx;
mod metrics;
mod ops;
mod records;
mod snapshot;
pub(crate) mod state;
pub mod ui_query;
mod views;

use std::sync::Arc;

use parking_lot::{Mutex, MutexGuard};

use indexmap::IndexMap;
use luigi_core::config::Configuration;
use luigi_core::rpc::wire::*;
use luigi_core::rpc::{Error, SchedulerApi};

use crate::clock::{Clock, SystemClock};
use crate::history::TaskHistory;
use crate::metrics::MetricsSource;
use crate::persist::{self, Persister};
use state::State;

/// The scheduler's policies: Luigi's `[scheduler]` options (inventory §8.4).
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Seconds before a FAILED task becomes PENDING again; negative: never.
    pub retry_delay: f64,
    /// Seconds before a task without stakeholders is removed.
    pub remove_delay: f64,
    /// Seconds without contact after which a worker is considered gone.
    pub worker_disconnect_delay: f64,
    /// Failures counted over this many seconds.
    pub disable_window: i64,
    /// Failures within the window that disable a task.
    pub retry_count: i64,
    /// Seconds after the first failure after which failing disables a task.
    pub disable_hard_timeout: i64,
    /// Seconds a scheduler-disabled task stays disabled.
    pub disable_persist: i64,
    /// Largest `task_list` reply.
    pub max_shown_tasks: i64,
    /// Largest graph reply.
    pub max_graph_nodes: i64,
    /// Prune on every `get_work` (the local scheduler does).
    pub prune_on_get_work: bool,
    /// Whether `pause` does anything.
    pub pause_enabled: bool,
    /// Whether scheduler messages may be sent to tasks.
    pub send_messages: bool,
    /// Ignore PENDING re-announcements this many seconds after DONE.
    pub stable_done_cooldown_secs: f64,
    /// Aggregate failure e-mails instead of sending them one by one.
    pub batch_emails: bool,
    /// Whether task history is recorded (`has_task_history`).
    pub record_task_history: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config::from(&luigi_core::config::Scheduler::default_values())
    }
}

impl From<&luigi_core::config::Scheduler> for Config {
    fn from(section: &luigi_core::config::Scheduler) -> Self {
        Config {
            retry_delay: section.retry_delay,
            remove_delay: section.remove_delay,
            worker_disconnect_delay: section.worker_disconnect_delay,
            disable_window: section.disable_window,
            retry_count: section.retry_count,
            disable_hard_timeout: section.disable_hard_timeout,
            disable_persist: section.disable_persist,
            max_shown_tasks: section.max_shown_tasks,
            max_graph_nodes: section.max_graph_nodes,
            prune_on_get_work: section.prune_on_get_work,
            pause_enabled: section.pause_enabled,
            send_messages: section.send_messages,
            stable_done_cooldown_secs: section.stable_done_cooldown_secs as f64,
            batch_emails: section.batch_emails,
            record_task_history: section.record_task_history,
        }
    }
}

/// The central scheduler.
pub struct Scheduler {
    /// A `parking_lot` lock: calls hold it for microseconds, and std's put a colliding request
    /// thread to sleep in the kernel and woke it with another system call.
    state: Mutex<State>,
    clock: Arc<dyn Clock>,
    persister: Option<Persister>,
}

impl Scheduler {
    /// A scheduler with these policies, no configured resources and the system clock.
    pub fn new(config: Config) -> Scheduler {
        Scheduler::with_clock(config, Arc::new(SystemClock))
    }

    /// A scheduler reading time from `clock`.
    pub fn with_clock(config: Config, clock: Arc<dyn Clock>) -> Scheduler {
        Scheduler { state: Mutex::new(State::new(config, IndexMap::new())), clock, persister: None }
    }

    /// A scheduler whose state is loaded from, and saved as it changes to, the SQLite
    /// database at `path` (created if missing). Configure resources before calling
    /// [`Scheduler::durability`] users start sending requests.
    pub fn open_persistent(
        config: Config,
        clock: Arc<dyn Clock>,
        path: &std::path::Path,
        sync: persist::Sync,
    ) -> Result<Scheduler, persist::Error> {
        let (conn, snapshot) = persist::open(path, sync)?;
        let now = clock.now();
        let mut state = State::new(config, IndexMap::new());
        let (n_tasks, n_workers) = (snapshot.tasks.len(), snapshot.workers.len());
        state.restore(snapshot, now);
        state.track_changes = true;
        tracing::info!(path = %path.display(), tasks = n_tasks, workers = n_workers, "loaded scheduler state");
        Ok(Scheduler { state: Mutex::new(state), clock, persister: Some(Persister::start(conn, path.to_owned())) })
    }

    /// When persistence is on: the handle that tells when a change is on disk. The server
    /// waits on it before answering, so an answered request is never lost.
    pub fn durability(&self) -> Option<persist::Durability> {
        self.persister.as_ref().map(Persister::durability)
    }

    /// Writes all pending changes and stops the writer (at shutdown).
    pub fn close(&self) {
        if let Some(persister) = &self.persister {
            persister.close();
        }
    }

    /// A scheduler configured like Luigi's: `[scheduler]` policies and `[resources]`
    /// capacities from `config`.
    pub fn from_configuration(config: &Configuration, clock: Arc<dyn Clock>) -> Result<Scheduler, SetupError> {
        let ctx = luigi_core::param::ParamContext::new(Arc::new(config.clone()));
        let section = <luigi_core::config::Scheduler as luigi_core::TaskParams>::from_args(
            &ctx,
            &luigi_core::param::ParamArgs::new(),
        )?;
        let resources = config.int_dict("resources")?;
        let scheduler = Scheduler::with_clock(Config::from(&section), clock);
        scheduler.set_resources(resources);
        Ok(scheduler)
    }

    /// Sets resource capacities (Luigi's `[resources]` section). Capacities changed at run time
    /// and saved in the state database keep precedence.
    pub fn set_resources(&self, resources: impl IntoIterator<Item = (String, i64)>) {
        let mut state = self.lock();
        let mut capacities: IndexMap<String, i64> = resources.into_iter().collect();
        let runtime = state.runtime_resources.clone();
        capacities.extend(runtime);
        state.resources = capacities;
    }

    /// Sends status changes to a task history.
    pub fn set_history(&self, history: Arc<dyn TaskHistory>) {
        self.lock().history = Some(history);
    }

    /// The policies in force.
    pub fn config(&self) -> Config {
        self.lock().config.clone()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // No poisoning: a panic while holding the lock is a bug, and the state is still the
        // best we have.
        self.state.lock()
    }

    /// Runs `op` on the state at the current time, then handles its side effects.
    fn with_state<R>(&self, op: impl FnOnce(&mut State, f64) -> R) -> R {
        let now = self.clock.now();
        let mut state = self.lock();
        let result = op(&mut state, now);
        for (task_id, message) in state.disable_notices.drain(..) {
            tracing::warn!(task = %task_id, "Luigi Scheduler: DISABLED {task_id} due to excessive failures: {message}");
        }
        if let Some(persister) = &self.persister {
            let changes = state.take_changes();
            if !changes.is_empty() {
                persister.submit(changes);
            }
        }
        result
    }

    /// Number of tasks known (visible), for diagnostics.
    pub fn task_count(&self) -> usize {
        self.lock().n_visible()
    }

    /// One page of the visualiser's task list with its counts ([`ui_query`]); reads the state
    /// without changing it.
    pub fn ui_task_page(&self, query: &ui_query::TaskQuery) -> ui_query::TaskPage {
        ui_query::task_page(&self.lock(), query)
    }

    /// The visualiser's bounded dependency (or dependents) graph of `task_id` ([`ui_query`]);
    /// `None` for an unknown task.
    pub fn ui_graph(
        &self,
        task_id: &str,
        direction: ui_query::GraphDirection,
        include_done: bool,
        limit: usize,
    ) -> Option<ui_query::GraphView> {
        ui_query::graph_view(&self.lock(), task_id, direction, include_done, limit)
    }

    /// A stable, line-per-record text picture of the whole state (tasks sorted by id, then
    /// workers sorted by id), for tests and debugging. The format is not a wire format and
    /// may change.
    pub fn debug_snapshot(&self) -> String {
        debug::snapshot(&self.lock())
    }
}

/// Why a scheduler could not be set up from configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// A `[scheduler]` option has an invalid value.
    #[error("invalid [scheduler] configuration: {0}")]
    Scheduler(#[from] luigi_core::param::Error),
    /// The `[resources]` section could not be read.
    #[error("invalid [resources] configuration: {0}")]
    Resources(#[from] luigi_core::config::Error),
}

/// A random version-4 UUID in its canonical text form, as Python's `str(uuid.uuid4())`.
fn uuid4() -> String {
    let mut bytes = [0u8; 16];
    for byte in &mut bytes {
        *byte = fastrand::u8(..);
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

impl SchedulerApi for Scheduler {
    fn add_task(&self, request: AddTaskRequest) -> Result<(), Error> {
        self.with_state(|s, now| ops::add_task(s, now, request));
        Ok(())
    }

    fn add_task_batcher(&self, request: AddTaskBatcherRequest) -> Result<(), Error> {
        self.with_state(|s, _| ops::add_task_batcher(s, request));
        Ok(())
    }

    fn add_worker(&self, request: AddWorkerRequest) -> Result<(), Error> {
        self.with_state(|s, now| ops::add_worker(s, now, request));
        Ok(())
    }

    fn get_work(&self, request: GetWorkRequest) -> Result<GetWorkReply, Error> {
        Ok(self.with_state(|s, now| ops::get_work(s, now, request)))
    }

    fn count_pending(&self, request: CountPendingRequest) -> Result<CountPendingReply, Error> {
        Ok(self.with_state(|s, now| {
            let w = s.get_worker(&request.worker, now);
            ops::count_pending(s, w, now)
        }))
    }

    fn ping(&self, request: PingRequest) -> Result<PingReply, Error> {
        Ok(self.with_state(|s, now| ops::ping(s, now, &request.worker)))
    }

    fn announce_scheduling_failure(&self, request: AnnounceSchedulingFailureRequest) -> Result<(), Error> {
        // Only recorded for batch e-mails, which need a notifier; log it meanwhile.
        if self.lock().config.batch_emails {
            tracing::warn!(task = %request.task_name, family = %request.family, "scheduling failure announced");
        }
        Ok(())
    }

    fn set_task_status_message(&self, request: SetTaskStatusMessageRequest) -> Result<(), Error> {
        self.with_state(|s, _| {
            let message = request.status_message;
            ops::update_running_extra(s, &request.task_id, |extra| extra.status_message = message.clone());
        });
        Ok(())
    }

    fn get_task_status_message(&self, request: TaskIdRequest) -> Result<TaskStatusMessageReply, Error> {
        let state = self.lock();
        let status_message = match state.lookup(&request.task_id) {
            Some(t) => state.task(t).status_message().map(str::to_owned),
            None => Some(String::new()),
        };
        Ok(TaskStatusMessageReply { task_id: request.task_id, status_message })
    }

    fn set_task_progress_percentage(&self, request: SetTaskProgressPercentageRequest) -> Result<(), Error> {
        self.with_state(|s, _| {
            let progress = request.progress_percentage;
            ops::update_running_extra(s, &request.task_id, |extra| extra.progress_percentage = progress);
        });
        Ok(())
    }

    fn get_task_progress_percentage(&self, request: TaskIdRequest) -> Result<TaskProgressReply, Error> {
        let state = self.lock();
        let progress_percentage = state.lookup(&request.task_id).and_then(|t| state.task(t).progress_percentage());
        Ok(TaskProgressReply { task_id: request.task_id, progress_percentage })
    }

    fn decrease_running_task_resources(&self, request: DecreaseRunningTaskResourcesRequest) -> Result<(), Error> {
        self.with_state(|s, _| ops::decrease_running_task_resources(s, &request.task_id, &request.decrease_resources));
        Ok(())
    }

    fn get_running_task_resources(&self, request: TaskIdRequest) -> Result<RunningTaskResourcesReply, Error> {
        let state = self.lock();
        let resources =
            state.lookup(&request.task_id).and_then(|t| state.task(t).resources_running.as_deref().cloned());
        Ok(RunningTaskResourcesReply { task_id: request.task_id, resources })
    }

    fn report_task_statistics(&self, request: ReportTaskStatisticsRequest) -> Result<(), Error> {
        tracing::debug!(task = %request.task_id, statistics = %request.statistics, "task statistics reported");
        Ok(())
    }

    fn add_scheduler_message_response(&self, request: AddSchedulerMessageResponseRequest) -> Result<(), Error> {
        self.with_state(|s, _| {
            if let Some(t) = s.lookup(&request.task_id) {
                s.task_mut(t).extra_mut().message_responses.insert(request.message_id, request.response);
            }
        });
        Ok(())
    }

    fn get_scheduler_message_response(
        &self,
        request: GetSchedulerMessageResponseRequest,
    ) -> Result<SchedulerMessageResponseReply, Error> {
        let response = self.with_state(|s, _| {
            let t = s.lookup(&request.task_id)?;
            s.task_mut(t).extra.as_mut().and_then(|extra| extra.message_responses.shift_remove(&request.message_id))
        });
        Ok(SchedulerMessageResponseReply { response: response.unwrap_or(serde_json::Value::Null) })
    }

    fn send_scheduler_message(&self, request: SendSchedulerMessageRequest) -> Result<SendSchedulerMessageReply, Error> {
        Ok(self.with_state(|s, now| ops::send_scheduler_message(s, now, request, uuid4())))
    }

    fn set_worker_processes(&self, request: SetWorkerProcessesRequest) -> Result<(), Error> {
        self.with_state(|s, now| ops::set_worker_processes(s, now, &request.worker, request.n));
        Ok(())
    }

    fn disable_worker(&self, request: WorkerRequest) -> Result<(), Error> {
        self.with_state(|s, now| ops::disable_worker(s, now, &request.worker));
        Ok(())
    }

    fn graph(&self, _request: NoArgs) -> Result<GraphReply, Error> {
        Ok(self.with_state(views::graph))
    }

    fn dep_graph(&self, request: DepGraphRequest) -> Result<GraphReply, Error> {
        Ok(self.with_state(|s, now| views::dep_graph(s, now, &request)))
    }

    fn inverse_dep_graph(&self, request: DepGraphRequest) -> Result<GraphReply, Error> {
        Ok(self.with_state(|s, now| views::inverse_dep_graph(s, now, &request)))
    }

    fn task_list(&self, request: TaskListRequest) -> Result<TaskListReply, Error> {
        Ok(self.with_state(|s, now| views::task_list(s, now, &request)))
    }

    fn task_search(&self, request: TaskSearchRequest) -> Result<TaskSearchReply, Error> {
        Ok(self.with_state(|s, now| views::task_search(s, now, &request.task_str)))
    }

    fn worker_list(&self, request: WorkerListRequest) -> Result<Vec<WorkerEntry>, Error> {
        Ok(self.with_state(|s, now| views::worker_list(s, now, request.include_running)))
    }

    fn resource_list(&self, _request: NoArgs) -> Result<Vec<ResourceEntry>, Error> {
        Ok(self.with_state(views::resource_list))
    }

    fn fetch_error(&self, request: TaskIdRequest) -> Result<FetchErrorReply, Error> {
        Ok(views::fetch_error(&self.lock(), &request.task_id))
    }

    fn re_enable_task(&self, request: TaskIdRequest) -> Result<ReEnableTaskReply, Error> {
        Ok(self.with_state(|s, now| ops::re_enable_task(s, now, &request.task_id)))
    }

    fn forgive_failures(&self, request: OptionalTaskIdRequest) -> Result<TaskStatusReply, Error> {
        Ok(self.with_state(|s, now| ops::forgive_failures(s, now, request.task_id)))
    }

    fn mark_as_done(&self, request: OptionalTaskIdRequest) -> Result<TaskStatusReply, Error> {
        Ok(self.with_state(|s, now| ops::mark_as_done(s, now, request.task_id)))
    }

    fn prune(&self, _request: NoArgs) -> Result<(), Error> {
        self.with_state(ops::prune);
        // The server's pruner waits for no reply: have what pruning changed committed now
        // (changes are otherwise committed when a request waits for them).
        if let Some(persister) = &self.persister {
            persister.flush();
        }
        Ok(())
    }

    fn has_task_history(&self, _request: NoArgs) -> Result<bool, Error> {
        Ok(self.lock().config.record_task_history)
    }

    fn is_pause_enabled(&self, _request: NoArgs) -> Result<PauseEnabledReply, Error> {
        Ok(PauseEnabledReply { enabled: self.lock().config.pause_enabled })
    }

    fn is_paused(&self, _request: NoArgs) -> Result<PausedReply, Error> {
        Ok(PausedReply { paused: self.lock().paused })
    }

    fn pause(&self, _request: NoArgs) -> Result<(), Error> {
        self.with_state(|state, _| {
            if state.config.pause_enabled {
                state.paused = true;
                state.settings_dirty = true;
            }
        });
        Ok(())
    }

    fn unpause(&self, _request: NoArgs) -> Result<(), Error> {
        self.with_state(|state, _| {
            if state.config.pause_enabled {
                state.paused = false;
                state.settings_dirty = true;
            }
        });
        Ok(())
    }

    fn update_resources(&self, request: UpdateResourcesRequest) -> Result<(), Error> {
        self.with_state(|state, _| {
            state.runtime_resources.extend(request.resources.clone());
            state.resources.extend(request.resources);
            state.settings_dirty = true;
        });
        Ok(())
    }

    fn update_resource(&self, request: UpdateResourceRequest) -> Result<bool, Error> {
        Ok(self.with_state(|state, _| ops::update_resource(state, &request)))
    }
}

impl MetricsSource for Scheduler {
    fn render_prometheus(&self) -> String {
        let state = self.lock();
        let gauges = [
            ("luigi_scheduler_tasks", "Tasks the scheduler knows", state.n_visible() as f64),
            ("luigi_scheduler_workers", "Workers the scheduler knows", state.by_worker.len() as f64),
        ];
        state.counters.render(&gauges)
    }
}

#[cfg(test)]
mod tests;
