//! The execution summary printed at the end of a run (Luigi's `luigi.execution_summary`):
//! which tasks were already done, ran, failed or were left pending and why, and the
//! one-line verdict `This progress looks :) because ...`.
//!
//! The worker feeds a [`History`] while it runs: every `add_task` it sends
//! ([`History::record_add_task`]: scheduling-phase reports and run results alike) and every
//! `get_work` reply ([`History::record_get_work`]: which task was handed out and which tasks
//! other workers are running). [`History::summarize`] turns that into an
//! [`ExecutionSummary`]: each task's [`Category`] set, the other workers that blocked tasks,
//! and the [`StatusCode`]. The summary then renders Luigi's text byte for byte
//! ([`ExecutionSummary::text`], in `text.rs`) and feeds the exit code
//! ([`crate::retcode`]).
//!
//! Key decision: the history is folded as it is recorded instead of being kept as Luigi's
//! list of `(task, status, runnable)` tuples. Luigi only ever asks set questions of that
//! list ("was this task ever reported PENDING? DONE? FAILED?"), plus "which task came
//! first", so a few flag bits per distinct task answer them all and memory stays
//! proportional to the number of tasks, not of reports. Likewise the `get_work` replies are
//! reduced to the distinct `(other worker, task)` pairs of replies that handed out nothing,
//! in first-seen order, which is all Luigi reads from them.
//!
//! Categories follow Luigi exactly, including its quirks: a task reported DONE without ever
//! being PENDING is "already done"; the pending sub-categories come from a walk over the
//! static requirements (`deps()`) of tasks left pending; "had dependencies whose scheduling
//! failed" looks at direct requirements only, while the failure, missing-data and
//! other-worker reasons propagate through whole chains.
//!
//! Not here: what to do with the summary (logging it, the detailed result of `build()`),
//! which is the worker's business, and exit codes, which live in [`crate::retcode`].

mod text;

use std::collections::{HashMap, HashSet};
use std::fmt;

use luigi_core::Config;
use luigi_core::rpc::wire::RunningTask;
use luigi_core::status::TaskStatus;
use luigi_core::{IdMap, TaskId, TaskRef};

/// `[execution_summary]`: how long the summary may get (Luigi's `execution_summary` config
/// class).
#[derive(Config, Clone, Debug, PartialEq)]
#[config(section = "execution_summary")]
pub struct SummaryConfig {
    /// The number of task families listed per category before the rest is cut to "...";
    /// zero or less lists them all.
    #[param(default = 5)]
    pub summary_length: i64,
}

impl Default for SummaryConfig {
    fn default() -> Self {
        SummaryConfig { summary_length: 5 }
    }
}

/// A set of tasks the summary distinguishes (the keys of Luigi's `_summary_dict`).
///
/// The declaration order is the order in which the categories are printed;
/// [`Category::EverFailed`] and [`Category::StillPendingNotExt`] are computed but never
/// printed as such.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    /// Reported DONE without ever being reported PENDING: complete before the run.
    AlreadyDone,
    /// Reported PENDING, then DONE: ran successfully.
    Completed,
    /// Reported FAILED at least once, whatever happened after.
    EverFailed,
    /// Reported FAILED and never completed.
    Failed,
    /// Reported UNKNOWN: `complete()` or `requires()` raised, or the task limit was hit.
    SchedulingError,
    /// Left PENDING and not runnable by this worker: a missing external dependency.
    StillPendingExt,
    /// Left PENDING and runnable; the categories below say why it did not run.
    StillPendingNotExt,
    /// Running on another worker when this one asked for work.
    RunByOtherWorker,
    /// Pending because something upstream failed.
    UpstreamFailure,
    /// Pending because something upstream is a missing external dependency.
    UpstreamMissingDependency,
    /// Pending because something upstream was running on another worker.
    UpstreamRunByOtherWorker,
    /// Pending because a direct requirement failed scheduling.
    UpstreamSchedulingError,
    /// Pending for no reason visible to this worker: the scheduler did not hand it out.
    NotRun,
}

impl Category {
    /// Every category, in Luigi's order.
    pub const ALL: [Category; 13] = [
        Category::AlreadyDone,
        Category::Completed,
        Category::EverFailed,
        Category::Failed,
        Category::SchedulingError,
        Category::StillPendingExt,
        Category::StillPendingNotExt,
        Category::RunByOtherWorker,
        Category::UpstreamFailure,
        Category::UpstreamMissingDependency,
        Category::UpstreamRunByOtherWorker,
        Category::UpstreamSchedulingError,
        Category::NotRun,
    ];

    /// Luigi's key for the category (`already_done`, `still_pending_ext`...).
    pub fn name(self) -> &'static str {
        match self {
            Category::AlreadyDone => "already_done",
            Category::Completed => "completed",
            Category::EverFailed => "ever_failed",
            Category::Failed => "failed",
            Category::SchedulingError => "scheduling_error",
            Category::StillPendingExt => "still_pending_ext",
            Category::StillPendingNotExt => "still_pending_not_ext",
            Category::RunByOtherWorker => "run_by_other_worker",
            Category::UpstreamFailure => "upstream_failure",
            Category::UpstreamMissingDependency => "upstream_missing_dependency",
            Category::UpstreamRunByOtherWorker => "upstream_run_by_other_worker",
            Category::UpstreamSchedulingError => "upstream_scheduling_error",
            Category::NotRun => "not_run",
        }
    }

    /// The phrase printed after the count (`* 3 ran successfully:`); `None` for the two
    /// categories that are never printed.
    pub fn phrase(self) -> Option<&'static str> {
        Some(match self {
            Category::AlreadyDone => "complete ones were encountered",
            Category::Completed => "ran successfully",
            Category::Failed => "failed",
            Category::SchedulingError => "failed scheduling",
            Category::StillPendingExt => "were missing external dependencies",
            Category::RunByOtherWorker => "were being run by another worker",
            Category::UpstreamFailure => "had failed dependencies",
            Category::UpstreamMissingDependency => "had missing dependencies",
            Category::UpstreamRunByOtherWorker => "had dependencies that were being run by other worker",
            Category::UpstreamSchedulingError => "had dependencies whose scheduling failed",
            Category::NotRun => "was not granted run permission by the scheduler",
            Category::EverFailed | Category::StillPendingNotExt => return None,
        })
    }

    /// Whether the category is printed indented under "were left pending, among these".
    pub fn is_pending_reason(self) -> bool {
        self >= Category::StillPendingExt && self != Category::StillPendingNotExt
    }

    fn bit(self) -> u16 {
        1 << self as u16
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The overall verdict of a run (Luigi's `LuigiStatusCode`), with its smiley and reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusCode {
    /// No failed tasks and no missing dependencies.
    Success,
    /// Tasks failed but all of them succeeded in a retry.
    SuccessWithRetry,
    /// Tasks failed.
    Failed,
    /// Tasks failed, and the scheduling of others failed.
    FailedAndSchedulingFailed,
    /// The scheduling of tasks failed.
    SchedulingFailed,
    /// Tasks were not granted run permission by the scheduler.
    NotRun,
    /// External dependencies were missing.
    MissingExt,
}

impl StatusCode {
    /// Luigi's enum member name (`SUCCESS`, `MISSING_EXT`...).
    pub fn name(self) -> &'static str {
        match self {
            StatusCode::Success => "SUCCESS",
            StatusCode::SuccessWithRetry => "SUCCESS_WITH_RETRY",
            StatusCode::Failed => "FAILED",
            StatusCode::FailedAndSchedulingFailed => "FAILED_AND_SCHEDULING_FAILED",
            StatusCode::SchedulingFailed => "SCHEDULING_FAILED",
            StatusCode::NotRun => "NOT_RUN",
            StatusCode::MissingExt => "MISSING_EXT",
        }
    }

    /// `:)`, `:|` or `:(`.
    pub fn smiley(self) -> &'static str {
        match self {
            StatusCode::Success | StatusCode::SuccessWithRetry => ":)",
            StatusCode::NotRun | StatusCode::MissingExt => ":|",
            StatusCode::Failed | StatusCode::FailedAndSchedulingFailed | StatusCode::SchedulingFailed => ":(",
        }
    }

    /// Why the run looks the way it does, as Luigi words it.
    pub fn reason(self) -> &'static str {
        match self {
            StatusCode::Success => "there were no failed tasks or missing dependencies",
            StatusCode::SuccessWithRetry => "there were failed tasks but they all succeeded in a retry",
            StatusCode::Failed => "there were failed tasks",
            StatusCode::FailedAndSchedulingFailed => "there were failed tasks and tasks whose scheduling failed",
            StatusCode::SchedulingFailed => "there were tasks whose scheduling failed",
            StatusCode::NotRun => "there were tasks that were not granted run permission by the scheduler",
            StatusCode::MissingExt => "there were missing external dependencies",
        }
    }

    /// `This progress looks <smiley> because <reason>` (Luigi's `one_line_summary`).
    pub fn one_line_summary(self) -> String {
        format!("This progress looks {} because {}", self.smiley(), self.reason())
    }

    /// Whether the run counts as a success (`:)`).
    pub fn is_success(self) -> bool {
        matches!(self, StatusCode::Success | StatusCode::SuccessWithRetry)
    }
}

impl fmt::Display for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One `add_task` the worker sent: Luigi's `(task, status, runnable)` history entry.
#[derive(Debug, Clone)]
pub struct AddTaskRecord {
    /// The task reported on.
    pub task: TaskRef,
    /// The status sent.
    pub status: TaskStatus,
    /// The `runnable` flag sent (false for external tasks and for tasks reported DONE or
    /// UNKNOWN; true for batch members reported with their batch).
    pub runnable: bool,
}

/// One `get_work` (or `count_pending`) reply, as far as the summary is concerned: Luigi's
/// `_get_work_response_history` entry.
#[derive(Debug, Clone)]
pub struct GetWorkRecord {
    /// The task handed out, if any.
    pub task_id: Option<TaskId>,
    /// The tasks running anywhere, with the worker running each.
    pub running_tasks: Vec<RunningTask>,
}

/// What was reported about one task, as flag bits.
#[derive(Debug, Clone, Copy, Default)]
struct Reported(u8);

impl Reported {
    const PENDING_RUNNABLE: u8 = 1;
    const PENDING_NOT_RUNNABLE: u8 = 1 << 1;
    const DONE: u8 = 1 << 2;
    const FAILED: u8 = 1 << 3;
    const UNKNOWN: u8 = 1 << 4;

    fn has(self, flag: u8) -> bool {
        self.0 & flag != 0
    }
}

/// Everything the summary needs from a worker's run, recorded as it happens.
///
/// Cheap to feed: each record is a hash lookup and a bit set. Recording the same task many
/// times keeps one entry.
#[derive(Debug, Clone)]
pub struct History {
    worker_id: String,
    roots: Vec<TaskRef>,
    tasks: Vec<(TaskRef, Reported)>,
    index: IdMap<usize>,
    blocked: Vec<(String, TaskId)>,
    blocked_seen: HashMap<String, HashSet<TaskId>>,
}

impl History {
    /// An empty history for the worker with this id (its own running tasks are not "run by
    /// another worker").
    pub fn new(worker_id: impl Into<String>) -> History {
        History {
            worker_id: worker_id.into(),
            roots: Vec::new(),
            tasks: Vec::new(),
            index: IdMap::default(),
            blocked: Vec::new(),
            blocked_seen: HashMap::new(),
        }
    }

    /// The worker's id.
    pub fn worker_id(&self) -> &str {
        &self.worker_id
    }

    /// Records a task the user asked for. The first root decides the exit code's "the root
    /// task did not complete" rule; without roots, the first task reported stands in for it,
    /// as in Luigi.
    pub fn add_root(&mut self, task: &TaskRef) {
        self.roots.push(task.clone());
    }

    /// The roots recorded with [`add_root`](History::add_root).
    pub fn roots(&self) -> &[TaskRef] {
        &self.roots
    }

    /// Records an `add_task` sent to the scheduler (Luigi's `_add_task_history` entry): both
    /// the reports of the scheduling phase and the results of runs. When the result of a
    /// batch is reported, Luigi also records every task of the batch with the same status
    /// and `runnable = true`; the worker should do the same.
    ///
    /// Other statuses than PENDING, DONE, FAILED and UNKNOWN (DISABLED, RUNNING...) are kept
    /// as scheduled tasks but fall in no category, as in Luigi.
    pub fn record_add_task(&mut self, task: &TaskRef, status: TaskStatus, runnable: bool) {
        let flag = match status {
            TaskStatus::Pending if runnable => Reported::PENDING_RUNNABLE,
            TaskStatus::Pending => Reported::PENDING_NOT_RUNNABLE,
            TaskStatus::Done => Reported::DONE,
            TaskStatus::Failed => Reported::FAILED,
            TaskStatus::Unknown => Reported::UNKNOWN,
            _ => 0,
        };
        let tasks = &mut self.tasks;
        let idx = *self.index.entry(task.id().clone()).or_insert_with(|| {
            tasks.push((task.clone(), Reported::default()));
            tasks.len() - 1
        });
        tasks[idx].1.0 |= flag;
    }

    /// Makes room for `additional` more tasks (a task with that many requirements is about
    /// to have them reported).
    pub fn reserve(&mut self, additional: usize) {
        self.index.reserve(additional);
        self.tasks.reserve(additional);
    }

    /// Records a `get_work` (or `count_pending`) reply: the task handed out, if any (for a
    /// batch, the batch task's id; `None` when the batch could not be loaded, as Luigi
    /// records it), and the tasks running anywhere. Only replies that handed out nothing
    /// matter: their tasks running on other workers, if this worker scheduled them, are the
    /// ones "being run by another worker".
    pub fn record_get_work(&mut self, task_id: Option<&TaskId>, running_tasks: &[RunningTask]) {
        if task_id.is_some() {
            return;
        }
        for running in running_tasks {
            if running.worker == self.worker_id {
                continue;
            }
            // Replies repeat the same running tasks while a worker waits; look them up without
            // allocating.
            let seen = match self.blocked_seen.get_mut(running.worker.as_str()) {
                Some(seen) => seen,
                None => self.blocked_seen.entry(running.worker.clone()).or_default(),
            };
            if !seen.contains(&running.task_id) {
                seen.insert(running.task_id.clone());
                self.blocked.push((running.worker.clone(), running.task_id.clone()));
            }
        }
    }

    /// Whether nothing was reported at all.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Sorts the recorded tasks into categories.
    ///
    /// Calls `deps()` on every task left pending while runnable, to find out why it did not
    /// run, as Luigi calls `_requires()`.
    pub fn summarize(&self) -> ExecutionSummary {
        ExecutionSummary::new(self)
    }
}

impl Extend<AddTaskRecord> for History {
    fn extend<I: IntoIterator<Item = AddTaskRecord>>(&mut self, records: I) {
        for record in records {
            self.record_add_task(&record.task, record.status, record.runnable);
        }
    }
}

impl Extend<GetWorkRecord> for History {
    fn extend<I: IntoIterator<Item = GetWorkRecord>>(&mut self, records: I) {
        for record in records {
            self.record_get_work(record.task_id.as_ref(), &record.running_tasks);
        }
    }
}

/// Another worker that was running tasks of ours when we asked for work.
#[derive(Debug, Clone)]
pub struct OtherWorker {
    /// Its id.
    pub worker: String,
    /// The tasks it was running, in the order first seen.
    pub tasks: Vec<TaskRef>,
}

/// The outcome of a run, sorted into Luigi's categories.
#[derive(Debug, Clone)]
pub struct ExecutionSummary {
    tasks: Vec<TaskRef>,
    index: IdMap<usize>,
    members: Vec<u16>,
    other_workers: Vec<OtherWorker>,
    root: Option<TaskRef>,
    status: StatusCode,
}

impl ExecutionSummary {
    fn new(history: &History) -> ExecutionSummary {
        let tasks: Vec<TaskRef> = history.tasks.iter().map(|(task, _)| task.clone()).collect();
        let mut members: Vec<u16> = history.tasks.iter().map(|(_, reported)| base_categories(*reported)).collect();

        let other_workers = other_workers(history);
        for other in &other_workers {
            for task in &other.tasks {
                if let Some(&idx) = history.index.get(task.id()) {
                    members[idx] |= Category::RunByOtherWorker.bit();
                }
            }
        }
        explain_pending(&tasks, &history.index, &mut members);

        let root = history.roots.first().or_else(|| tasks.first()).cloned();
        let status = status_of(&members);
        ExecutionSummary { tasks, index: history.index.clone(), members, other_workers, root, status }
    }

    /// The verdict.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// `This progress looks ... because ...`.
    pub fn one_line_summary(&self) -> String {
        self.status.one_line_summary()
    }

    /// Whether `task` is in `category`.
    pub fn contains(&self, category: Category, task: &TaskRef) -> bool {
        self.index.get(task.id()).is_some_and(|&idx| self.members[idx] & category.bit() != 0)
    }

    /// The tasks in `category`, in the order they were first reported.
    pub fn tasks(&self, category: Category) -> impl Iterator<Item = &TaskRef> + '_ {
        let bit = category.bit();
        self.tasks.iter().zip(&self.members).filter(move |(_, members)| **members & bit != 0).map(|(task, _)| task)
    }

    /// The number of tasks in `category`.
    pub fn count(&self, category: Category) -> usize {
        let bit = category.bit();
        self.members.iter().filter(|members| **members & bit != 0).count()
    }

    /// Whether `category` has no task.
    pub fn is_empty(&self, category: Category) -> bool {
        let bit = category.bit();
        !self.members.iter().any(|members| members & bit != 0)
    }

    /// Every task reported, in the order first reported.
    pub fn all_tasks(&self) -> &[TaskRef] {
        &self.tasks
    }

    /// The number Luigi prints as `Scheduled N tasks`: the sizes of the already done,
    /// completed, failed, scheduling error and both pending categories, added up (a task in
    /// two of them counts twice, as in Luigi).
    pub fn scheduled_count(&self) -> usize {
        [
            Category::AlreadyDone,
            Category::Completed,
            Category::Failed,
            Category::SchedulingError,
            Category::StillPendingExt,
            Category::StillPendingNotExt,
        ]
        .into_iter()
        .map(|category| self.count(category))
        .sum()
    }

    /// The other workers that blocked tasks, in the order first seen.
    pub fn other_workers(&self) -> &[OtherWorker] {
        &self.other_workers
    }

    /// The task the exit code's root rule looks at: the first root recorded, else the first
    /// task reported.
    pub fn root(&self) -> Option<&TaskRef> {
        self.root.as_ref()
    }

    /// Whether the root task completed or was already done.
    pub fn root_is_done(&self) -> bool {
        self.root
            .as_ref()
            .is_some_and(|root| self.contains(Category::Completed, root) || self.contains(Category::AlreadyDone, root))
    }

    /// The categories of `task`, in Luigi's order; empty for a task never reported.
    pub fn categories_of(&self, task: &TaskRef) -> Vec<Category> {
        match self.index.get(task.id()).copied() {
            Some(idx) => Category::ALL.into_iter().filter(|category| self.members[idx] & category.bit() != 0).collect(),
            None => Vec::new(),
        }
    }
}

/// The categories that follow from the reports alone.
fn base_categories(reported: Reported) -> u16 {
    let pending = reported.has(Reported::PENDING_RUNNABLE) || reported.has(Reported::PENDING_NOT_RUNNABLE);
    let done = reported.has(Reported::DONE);
    let ever_failed = reported.has(Reported::FAILED);
    let completed = done && pending;
    let mut members = 0;
    let mut set = |category: Category, cond: bool| {
        if cond {
            members |= category.bit();
        }
    };
    set(Category::Completed, completed);
    set(Category::AlreadyDone, done && !pending);
    set(Category::EverFailed, ever_failed);
    set(Category::Failed, ever_failed && !completed);
    set(Category::SchedulingError, reported.has(Reported::UNKNOWN));
    let left_pending = !ever_failed && !completed;
    set(Category::StillPendingExt, left_pending && reported.has(Reported::PENDING_NOT_RUNNABLE));
    set(Category::StillPendingNotExt, left_pending && reported.has(Reported::PENDING_RUNNABLE));
    members
}

/// The other workers and the tasks of ours they ran, in the order first seen; tasks this
/// worker never reported are skipped (Luigi looks them up in its scheduled tasks), and so is
/// a worker left with none.
fn other_workers(history: &History) -> Vec<OtherWorker> {
    let mut workers: Vec<OtherWorker> = Vec::new();
    let mut positions: HashMap<&str, usize> = HashMap::new();
    for (worker, task_id) in &history.blocked {
        let Some(&idx) = history.index.get(task_id) else { continue };
        let position = *positions.entry(worker.as_str()).or_insert_with(|| {
            workers.push(OtherWorker { worker: worker.clone(), tasks: Vec::new() });
            workers.len() - 1
        });
        workers[position].tasks.push(history.tasks[idx].0.clone());
    }
    workers
}

/// Luigi's depth-first search over the requirements of tasks left pending while runnable,
/// which sets the `upstream_*` and `not_run` categories.
///
/// Iterative, so that long chains cannot overflow the stack; a frame's flags are updated
/// after each requirement exactly where the recursive original does, so results match it
/// even on (pathological) cyclic graphs. Requirements this worker never reported belong to
/// no category and are skipped.
fn explain_pending(tasks: &[TaskRef], index: &IdMap<usize>, members: &mut [u16]) {
    struct Frame {
        idx: usize,
        deps: Vec<usize>,
        next: usize,
        reasons: bool,
    }

    let pending = Category::StillPendingNotExt.bit();
    let failure = Category::EverFailed.bit() | Category::UpstreamFailure.bit();
    let missing = Category::StillPendingExt.bit() | Category::UpstreamMissingDependency.bit();
    let other = Category::RunByOtherWorker.bit() | Category::UpstreamRunByOtherWorker.bit();
    let scheduling = Category::SchedulingError.bit();

    let deps_of = |idx: usize| -> Vec<usize> {
        tasks[idx].deps().iter().filter_map(|dep| index.get(dep.id()).copied()).collect()
    };
    let mut visited = vec![false; tasks.len()];
    let mut stack: Vec<Frame> = Vec::new();
    for start in 0..tasks.len() {
        if members[start] & pending == 0 || visited[start] {
            continue;
        }
        visited[start] = true;
        stack.push(Frame { idx: start, deps: deps_of(start), next: 0, reasons: false });
        while let Some(frame) = stack.last_mut() {
            // Coming back from a requirement's visit: account for it, then move on.
            if let Some(&dep) = frame.deps.get(frame.next) {
                if !visited[dep] {
                    visited[dep] = true;
                    if members[dep] & pending != 0 {
                        let deps = deps_of(dep);
                        stack.push(Frame { idx: dep, deps, next: 0, reasons: false });
                        continue;
                    }
                }
                let (current, dep_members) = (frame.idx, members[dep]);
                for (mask, category) in [
                    (failure, Category::UpstreamFailure),
                    (missing, Category::UpstreamMissingDependency),
                    (other, Category::UpstreamRunByOtherWorker),
                    (scheduling, Category::UpstreamSchedulingError),
                ] {
                    if dep_members & mask != 0 {
                        members[current] |= category.bit();
                        frame.reasons = true;
                    }
                }
                frame.next += 1;
                continue;
            }
            let Some(done) = stack.pop() else { break };
            if !done.reasons && members[done.idx] & Category::RunByOtherWorker.bit() == 0 {
                members[done.idx] |= Category::NotRun.bit();
            }
        }
    }
}

/// Luigi's `_tasks_status`: the first matching verdict.
fn status_of(members: &[u16]) -> StatusCode {
    let any = |category: Category| members.iter().any(|m| m & category.bit() != 0);
    if any(Category::EverFailed) {
        if !any(Category::Failed) {
            StatusCode::SuccessWithRetry
        } else if any(Category::SchedulingError) {
            StatusCode::FailedAndSchedulingFailed
        } else {
            StatusCode::Failed
        }
    } else if any(Category::SchedulingError) {
        StatusCode::SchedulingFailed
    } else if any(Category::NotRun) {
        StatusCode::NotRun
    } else if any(Category::StillPendingExt) {
        StatusCode::MissingExt
    } else {
        StatusCode::Success
    }
}

#[cfg(test)]
mod tests;
