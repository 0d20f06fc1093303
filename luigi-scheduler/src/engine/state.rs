//! The scheduler's state and the one place that keeps its indices true.
//!
//! [`State`] owns the task and worker slabs and every derived index the RPCs need to avoid
//! scanning all tasks: tasks by status, the `get_work` order of runnable tasks (globally and
//! per worker), each worker's pending counters for `count_pending`, dependents of each task
//! with a count of unfinished dependencies, and timers for retries, re-enables and removals.
//!
//! Invariant maintenance is centralised: any change to a task's status, workers, resources,
//! priority or unfinished-dependency count goes through [`State::detach`] (remove the task's
//! contribution to the derived indices) and [`State::attach`] (add it back). `set_status`
//! reproduces Luigi's `SimpleTaskState.set_status` rule by rule (inventory §2.4), including
//! batch propagation and the excessive-failure disable.
//!
//! Dependencies nobody announced are "ghost" records: Luigi does not store them, so they are
//! invisible to every RPC, but dependents can point at them and they are promoted in place when
//! their task is announced.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap, HashSet};
use std::sync::Arc;

use indexmap::IndexMap;
use luigi_core::rpc::wire::{Number, ParamMap, ResourceMap};
use luigi_core::status::TaskStatus;
use luigi_core::{IdMap, TaskId};
use smallvec::SmallVec;

use super::Config;

/// Up to this many dependencies, membership is checked by scanning (cheaper than hashing).
const SCAN_LIMIT: usize = 16;
use super::idx::{IdxSet, OrdF64, Rank, Slots, TaskIdx, WorkerIdx};
use super::metrics::Counters;
use super::records::{Failures, ParamList, Policy, TaskRec, WorkerRec};
use crate::history::{HistoryEvent, HistoryTask, TaskHistory};

/// A registered batcher: the batched parameter names and the largest batch.
pub(crate) type Batcher = (Vec<String>, Number);

/// What a timer entry is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum TimerKind {
    /// A FAILED task becomes PENDING (`retry`).
    Retry,
    /// A scheduler-disabled task is re-enabled (`scheduler_disable_time + disable_persist`).
    ReEnable,
    /// A task is removed (`remove`).
    Remove,
}

/// `(due time, kind, task, generation)`, earliest first.
type TimerEntry = Reverse<(OrdF64, TimerKind, TaskIdx, u32)>;

/// Number of statuses, for the per-status index.
const N_STATUS: usize = 8;

fn status_slot(status: TaskStatus) -> usize {
    match status {
        TaskStatus::Pending => 0,
        TaskStatus::Running => 1,
        TaskStatus::Done => 2,
        TaskStatus::Failed => 3,
        TaskStatus::Disabled => 4,
        TaskStatus::Unknown => 5,
        TaskStatus::BatchRunning => 6,
        TaskStatus::Suspended => 7,
    }
}

/// The whole scheduler state.
pub(crate) struct State {
    pub(crate) config: Config,
    tasks: Slots<TaskRec>,
    generations: Vec<u32>,
    free_tasks: Vec<TaskIdx>,
    pub(crate) by_id: IdMap<TaskIdx>,
    workers: Vec<Option<WorkerRec>>,
    free_workers: Vec<WorkerIdx>,
    /// Looked up on every RPC by the worker's name; foldhash, as for ids (SipHash was the
    /// larger part of a lookup).
    pub(crate) by_worker: HashMap<Arc<str>, WorkerIdx, foldhash::fast::RandomState>,
    /// Visible tasks by status, each list in the order tasks entered the status (swap-removal
    /// disturbs that order, which only matters for ties; see `Rank`).
    by_status: [Vec<TaskIdx>; N_STATUS],
    /// Every ready task (PENDING, all dependencies DONE), in `get_work` order.
    pub(crate) ready: BTreeSet<Rank>,
    /// A task whose contribution to the derived indices is suspended (see [`State::hold`]).
    held: Option<TaskIdx>,
    status_seq: u64,
    timers: BinaryHeap<TimerEntry>,
    /// Tasks to re-examine at the next prune (stakeholders may have gone).
    pub(crate) recheck: HashSet<TaskIdx>,
    interned: HashMap<Box<str>, Arc<str>, foldhash::fast::RandomState>,
    /// Batchers registered by `add_task_batcher`: (worker id, family) → (batched parameters,
    /// max batch size). Kept apart from worker records, as Luigi does: registering one does not
    /// create a worker, and they outlive worker pruning.
    pub(crate) batchers: HashMap<(Arc<str>, Arc<str>), Batcher>,
    /// Configured and runtime resource capacities.
    pub(crate) resources: IndexMap<String, i64>,
    pub(crate) paused: bool,
    /// Bumped whenever a status or dependency changes; invalidates the upstream cache.
    pub(crate) version: u64,
    pub(crate) upstream_disabled_cache: Option<(u64, HashSet<TaskIdx>)>,
    pub(crate) history: Option<Arc<dyn TaskHistory>>,
    pub(crate) counters: Counters,
    pub(crate) dirty_tasks: Vec<TaskIdx>,
    pub(crate) dirty_workers: Vec<WorkerIdx>,
    /// Tasks removed since the last save: (creation sequence number, the key of their stored
    /// row; id).
    pub(crate) deleted_tasks: Vec<(u64, TaskId)>,
    pub(crate) deleted_workers: Vec<Arc<str>>,
    pub(crate) dirty_batchers: Vec<(Arc<str>, Arc<str>)>,
    pub(crate) settings_dirty: bool,
    /// Capacities changed at run time (persisted on top of the configured ones).
    pub(crate) runtime_resources: luigi_core::rpc::wire::ResourceMap,
    /// Whether changes are being collected for persistence.
    pub(crate) track_changes: bool,
    /// Disable notifications waiting to be sent (task id, message), drained by the caller.
    pub(crate) disable_notices: Vec<(TaskId, String)>,
}

impl State {
    pub(crate) fn new(config: Config, resources: IndexMap<String, i64>) -> State {
        State {
            config,
            tasks: Slots::default(),
            generations: Vec::new(),
            free_tasks: Vec::new(),
            by_id: IdMap::default(),
            workers: Vec::new(),
            free_workers: Vec::new(),
            by_worker: HashMap::default(),
            by_status: Default::default(),
            ready: BTreeSet::new(),
            held: None,
            status_seq: 0,
            timers: BinaryHeap::new(),
            recheck: HashSet::new(),
            interned: HashMap::default(),
            batchers: HashMap::new(),
            resources,
            paused: false,
            version: 0,
            upstream_disabled_cache: None,
            history: None,
            counters: Counters::default(),
            dirty_tasks: Vec::new(),
            dirty_workers: Vec::new(),
            deleted_tasks: Vec::new(),
            deleted_workers: Vec::new(),
            dirty_batchers: Vec::new(),
            settings_dirty: false,
            runtime_resources: Default::default(),
            track_changes: false,
            disable_notices: Vec::new(),
        }
    }

    // ----- access --------------------------------------------------------------------------

    pub(crate) fn task(&self, t: TaskIdx) -> &TaskRec {
        self.tasks.get(t).expect("task handles always point at live slots")
    }

    pub(crate) fn task_mut(&mut self, t: TaskIdx) -> &mut TaskRec {
        self.tasks.get_mut(t).expect("task handles always point at live slots")
    }

    pub(crate) fn worker(&self, w: WorkerIdx) -> &WorkerRec {
        self.workers[w as usize].as_ref().expect("worker handles always point at live slots")
    }

    pub(crate) fn worker_mut(&mut self, w: WorkerIdx) -> &mut WorkerRec {
        self.workers[w as usize].as_mut().expect("worker handles always point at live slots")
    }

    /// A visible task by id (ghosts do not count, as Luigi never stored them).
    pub(crate) fn lookup(&self, id: &TaskId) -> Option<TaskIdx> {
        self.by_id.get(id).copied().filter(|t| self.task(*t).visible)
    }

    /// Whether the worker slot holds a record.
    pub(crate) fn worker_is_live(&self, w: WorkerIdx) -> bool {
        self.workers.get(w as usize).is_some_and(Option::is_some)
    }

    /// Appends a visible task to the index of its status (when restoring state).
    pub(crate) fn insert_into_status(&mut self, t: TaskIdx) {
        let slot = status_slot(self.task(t).status);
        self.task_mut(t).status_pos = self.by_status[slot].len() as u32;
        self.by_status[slot].push(t);
    }

    /// Makes sure new sequence numbers come after `seen` (when restoring state).
    pub(crate) fn bump_seq(&mut self, seen: u64) {
        self.status_seq = self.status_seq.max(seen);
    }

    /// Whether the slot holds a record (visible or ghost).
    pub(crate) fn is_live(&self, t: TaskIdx) -> bool {
        self.tasks.get(t).is_some()
    }

    pub(crate) fn generation(&self, t: TaskIdx) -> u32 {
        self.generations[t as usize]
    }

    /// Visible tasks with this status.
    pub(crate) fn with_status(&self, status: TaskStatus) -> &[TaskIdx] {
        &self.by_status[status_slot(status)]
    }

    /// Number of visible tasks.
    pub(crate) fn n_visible(&self) -> usize {
        self.by_status.iter().map(Vec::len).sum()
    }

    /// Every visible task, in no particular order.
    pub(crate) fn visible_tasks(&self) -> impl Iterator<Item = TaskIdx> + '_ {
        self.by_status.iter().flatten().copied()
    }

    /// Every visible task in creation order, the order Luigi's task dict iterates in (where the
    /// order shows in replies, such as which task is a `graph` traversal root).
    pub(crate) fn tasks_in_creation_order(&self) -> Vec<TaskIdx> {
        let mut tasks: Vec<TaskIdx> = self.visible_tasks().collect();
        tasks.sort_unstable_by_key(|t| self.task(*t).created_seq);
        tasks
    }

    /// Every worker, in creation order (Luigi's worker dict order).
    pub(crate) fn worker_indices(&self) -> impl Iterator<Item = WorkerIdx> + '_ {
        let mut workers: Vec<WorkerIdx> =
            self.workers.iter().enumerate().filter(|(_, w)| w.is_some()).map(|(idx, _)| idx as WorkerIdx).collect();
        workers.sort_unstable_by_key(|w| self.worker(*w).created_seq);
        workers.into_iter()
    }

    pub(crate) fn intern(&mut self, text: &str) -> Arc<str> {
        if let Some(found) = self.interned.get(text) {
            return Arc::clone(found);
        }
        let shared: Arc<str> = Arc::from(text);
        self.interned.insert(Box::from(text), Arc::clone(&shared));
        shared
    }

    pub(crate) fn rank(&self, t: TaskIdx) -> Rank {
        let task = self.task(t);
        Rank {
            neg_priority: OrdF64(-task.priority.as_f64()),
            time: OrdF64(task.time),
            status_seq: task.status_seq,
            task: t,
        }
    }

    pub(crate) fn default_policy(&self) -> Policy {
        Policy {
            retry_count: self.config.retry_count,
            disable_hard_timeout: self.config.disable_hard_timeout,
            disable_window: self.config.disable_window,
        }
    }

    // ----- change tracking -----------------------------------------------------------------

    pub(crate) fn mark_dirty(&mut self, t: TaskIdx) {
        if !self.track_changes {
            return;
        }
        let task = self.task_mut(t);
        if !task.dirty && task.visible {
            task.dirty = true;
            self.dirty_tasks.push(t);
        }
    }

    pub(crate) fn mark_worker_dirty(&mut self, w: WorkerIdx) {
        if !self.track_changes {
            return;
        }
        let worker = self.worker_mut(w);
        if !worker.dirty {
            worker.dirty = true;
            self.dirty_workers.push(w);
        }
    }

    // ----- workers -------------------------------------------------------------------------

    /// The worker with this id, created if unknown (Luigi creates a worker record for any RPC
    /// naming one).
    pub(crate) fn get_worker(&mut self, id: &str, now: f64) -> WorkerIdx {
        if let Some(w) = self.by_worker.get(id) {
            return *w;
        }
        let shared: Arc<str> = Arc::from(id);
        let seq = self.next_status_seq();
        let record = WorkerRec::new(Arc::clone(&shared), now, seq);
        let w = match self.free_workers.pop() {
            Some(w) => {
                self.workers[w as usize] = Some(record);
                w
            }
            None => {
                self.workers.push(Some(record));
                (self.workers.len() - 1) as WorkerIdx
            }
        };
        self.by_worker.insert(shared, w);
        self.worker_mut(w).dirty = false;
        self.mark_worker_dirty(w);
        w
    }

    /// Luigi's `_update_worker`: touch `last_active` (and `last_get_work`).
    pub(crate) fn touch_worker(
        &mut self,
        id: &str,
        now: f64,
        host: Option<Option<String>>,
        get_work: bool,
    ) -> WorkerIdx {
        let w = self.get_worker(id, now);
        let worker = self.worker_mut(w);
        if let Some(host) = host {
            // Luigi stores `{"host": host}`, which is truthy even when host is None.
            worker.host = host;
        }
        worker.last_active = now;
        if get_work {
            worker.last_get_work = Some(now);
        }
        // Not marked for saving: activity times change on every call, and a restart refreshes
        // them anyway (see `snapshot`), so writing them would cost a row per request for nothing.
        w
    }

    /// Removes a worker that timed out: it leaves every task's stakeholders and workers.
    pub(crate) fn remove_worker(&mut self, w: WorkerIdx) {
        for t in self.worker(w).stake.to_vec() {
            let task = self.task_mut(t);
            task.stakeholders.remove(w);
            if task.stakeholders.is_empty() {
                self.recheck.insert(t);
            }
            self.mark_dirty(t);
        }
        for t in self.worker(w).tasks.to_vec() {
            self.detach(t);
            self.task_mut(t).workers.retain(|x| *x != w);
            self.attach(t);
        }
        let record = self.workers[w as usize].take().expect("live worker");
        self.by_worker.remove(&record.id);
        if self.track_changes {
            self.deleted_workers.push(record.id);
        }
        self.free_workers.push(w);
    }

    /// Luigi's `disable_workers`: the worker leaves every task's `workers` (but stays a
    /// stakeholder) and forgets its tasks.
    pub(crate) fn disable_worker(&mut self, w: WorkerIdx) {
        for t in self.worker(w).tasks.to_vec() {
            self.detach(t);
            self.task_mut(t).workers.retain(|x| *x != w);
            self.attach(t);
        }
        let worker = self.worker_mut(w);
        worker.disabled = true;
        worker.tasks = IdxSet::default();
        self.mark_worker_dirty(w);
    }

    /// Adds `w` to the task's ordered `workers` set (no-op if present).
    pub(crate) fn add_task_worker(&mut self, t: TaskIdx, w: WorkerIdx) {
        if self.task(t).workers.contains(&w) {
            self.worker_mut(w).tasks.insert(t);
            return;
        }
        self.detach(t);
        self.task_mut(t).workers.push(w);
        self.worker_mut(w).tasks.insert(t);
        self.attach(t);
    }

    pub(crate) fn add_stakeholder(&mut self, t: TaskIdx, w: WorkerIdx) {
        if self.task_mut(t).stakeholders.insert(w) {
            self.worker_mut(w).stake.insert(t);
            self.mark_dirty(t);
        }
    }

    // ----- tasks ---------------------------------------------------------------------------

    fn alloc_task(&mut self, record: TaskRec) -> TaskIdx {
        match self.free_tasks.pop() {
            Some(t) => {
                self.generations[t as usize] = self.generations[t as usize].wrapping_add(1);
                self.tasks.replace(t, Some(record));
                t
            }
            None => {
                self.generations.push(0);
                self.tasks.push(record)
            }
        }
    }

    fn blank_task(&self, id: TaskId, now: f64) -> TaskRec {
        TaskRec {
            id,
            visible: false,
            status: TaskStatus::Unknown,
            created_seq: 0,
            status_pos: 0,
            status_seq: 0,
            family: Arc::from(""),
            module: None,
            params: ParamList::default(),
            param_visibilities: None,
            deps: SmallVec::new(),
            rdeps: IdxSet::default(),
            unmet: 0,
            stakeholders: IdxSet::default(),
            workers: SmallVec::new(),
            time: now,
            updated: now,
            retry: None,
            remove: None,
            worker_running: None,
            time_running: None,
            resources: None,
            resources_running: None,
            priority: Number::Int(0),
            expl: None,
            accepts_messages: false,
            runnable: false,
            batchable: false,
            batch_id: None,
            policy: self.default_policy(),
            failures: None,
            scheduler_disable_time: None,
            extra: None,
            dirty: false,
        }
    }

    /// The handle for `id`, creating an invisible ghost if nothing is known about it.
    pub(crate) fn task_or_ghost(&mut self, id: &TaskId, now: f64) -> TaskIdx {
        if let Some(t) = self.by_id.get(id) {
            return *t;
        }
        let record = self.blank_task(id.clone(), now);
        let t = self.alloc_task(record);
        self.by_id.insert(id.clone(), t);
        t
    }

    /// Makes a ghost visible with `status` (Luigi's `get_task(..., setdefault=...)` creating it).
    pub(crate) fn promote(&mut self, t: TaskIdx, status: TaskStatus, now: f64) {
        debug_assert!(!self.task(t).visible);
        self.detach(t);
        let seq = self.next_status_seq();
        let policy = self.default_policy();
        let task = self.task_mut(t);
        task.visible = true;
        task.status = status;
        task.status_seq = seq;
        task.created_seq = seq;
        task.time = now;
        task.updated = now;
        task.policy = policy;
        let slot = status_slot(status);
        self.task_mut(t).status_pos = self.by_status[slot].len() as u32;
        self.by_status[slot].push(t);
        if status == TaskStatus::Done {
            self.done_changed(t, true);
        }
        self.attach(t);
        self.version += 1;
        // No recheck here: callers add a stakeholder right away, or queue the task themselves.
        self.mark_dirty(t);
    }

    fn next_status_seq(&mut self) -> u64 {
        self.status_seq += 1;
        self.status_seq
    }

    /// Replaces the task's dependencies (`deps` argument of `add_task`).
    pub(crate) fn set_deps(&mut self, t: TaskIdx, deps: &[TaskId], now: f64) {
        // A handful of dependencies is deduplicated by scanning; a wide fan-in (a wrapper of a
        // million tasks) by hashing, or `add_task` would be quadratic in its dependencies.
        let wide = deps.len() > SCAN_LIMIT;
        if wide {
            // Most of a wide fan-in is new: make room once instead of rehashing every id as
            // the index doubles.
            self.by_id.reserve(deps.len());
            self.generations.reserve(deps.len());
        }
        let mut seen: HashSet<TaskIdx> = if wide { HashSet::with_capacity(deps.len()) } else { HashSet::new() };
        let mut wanted: Vec<TaskIdx> = Vec::with_capacity(deps.len());
        for dep in deps {
            let d = self.task_or_ghost(dep, now);
            let first = if wide { seen.insert(d) } else { !wanted.contains(&d) };
            if first {
                wanted.push(d);
            }
        }
        let old = std::mem::take(&mut self.task_mut(t).deps);
        let old_wide = old.len() > SCAN_LIMIT;
        let mut kept: SmallVec<[TaskIdx; 4]> = SmallVec::with_capacity(wanted.len());
        let mut linked: HashSet<TaskIdx> = HashSet::new();
        for d in old {
            let still = if wide { seen.contains(&d) } else { wanted.contains(&d) };
            if !still {
                self.unlink_dep(t, d);
                continue;
            }
            let first = if old_wide { linked.insert(d) } else { !kept.contains(&d) };
            if first {
                kept.push(d);
            }
        }
        if !old_wide {
            linked.extend(kept.iter().copied());
        }
        self.task_mut(t).deps = kept;
        let new: Vec<TaskIdx> = wanted.into_iter().filter(|d| !linked.contains(d)).collect();
        self.link_new_deps(t, &new);
        self.version += 1;
    }

    /// Adds dependencies (`new_deps` of `add_task`).
    pub(crate) fn add_deps(&mut self, t: TaskIdx, deps: &[TaskId], now: f64) {
        for dep in deps {
            let d = self.task_or_ghost(dep, now);
            if !self.task(t).deps.contains(&d) {
                self.link_new_deps(t, &[d]);
            }
        }
        self.version += 1;
    }

    /// Links dependencies `t` does not have yet, taking the task out of the derived indices
    /// once for all of them.
    fn link_new_deps(&mut self, t: TaskIdx, new: &[TaskIdx]) {
        if new.is_empty() {
            return;
        }
        self.detach(t);
        for &d in new {
            let dep_done = self.task(d).status == TaskStatus::Done;
            let task = self.task_mut(t);
            task.deps.push(d);
            if !dep_done {
                task.unmet += 1;
            }
            self.task_mut(d).rdeps.insert(t);
        }
        self.attach(t);
        self.mark_dirty(t);
    }

    fn unlink_dep(&mut self, t: TaskIdx, d: TaskIdx) {
        let dep_done = self.task(d).status == TaskStatus::Done;
        self.detach(t);
        let task = self.task_mut(t);
        task.deps.retain(|x| *x != d);
        if !dep_done {
            task.unmet -= 1;
        }
        self.attach(t);
        self.task_mut(d).rdeps.remove(t);
        self.free_if_orphan_ghost(d);
        self.mark_dirty(t);
    }

    fn free_if_orphan_ghost(&mut self, t: TaskIdx) {
        let task = self.task(t);
        if !task.visible && task.rdeps.is_empty() {
            let id = task.id.clone();
            self.by_id.remove(&id);
            self.tasks.replace(t, None);
            self.free_tasks.push(t);
        }
    }

    /// Removes a task (Luigi's `inactivate_tasks`). A task others still depend on stays as a
    /// ghost so their dependency lists keep pointing at it.
    pub(crate) fn delete_task(&mut self, t: TaskIdx) {
        debug_assert!(self.task(t).visible);
        self.detach(t);
        let slot = status_slot(self.task(t).status);
        self.remove_from_status(t, slot);
        if self.task(t).status == TaskStatus::Done {
            self.done_changed(t, false);
        }
        for d in std::mem::take(&mut self.task_mut(t).deps) {
            self.task_mut(d).rdeps.remove(t);
            self.free_if_orphan_ghost(d);
        }
        for w in self.task(t).stakeholders.to_vec() {
            self.worker_mut(w).stake.remove(t);
        }
        for w in std::mem::take(&mut self.task_mut(t).workers) {
            self.worker_mut(w).tasks.remove(t);
        }
        self.recheck.remove(&t);
        let id = self.task(t).id.clone();
        if self.track_changes {
            let seq = self.task(t).created_seq;
            self.deleted_tasks.push((seq, id.clone()));
        }
        let now = self.task(t).updated;
        let rdeps = std::mem::take(&mut self.task_mut(t).rdeps);
        let mut ghost = self.blank_task(id, now);
        ghost.rdeps = rdeps;
        // Every dependent already counts a non-DONE dependency for this one (done_changed).
        *self.task_mut(t) = ghost;
        self.generations[t as usize] = self.generations[t as usize].wrapping_add(1);
        self.version += 1;
        self.free_if_orphan_ghost(t);
    }

    fn remove_from_status(&mut self, t: TaskIdx, slot: usize) {
        let pos = self.task(t).status_pos as usize;
        let list = &mut self.by_status[slot];
        debug_assert_eq!(list[pos], t);
        list.swap_remove(pos);
        if let Some(moved) = list.get(pos).copied() {
            self.task_mut(moved).status_pos = pos as u32;
        }
    }

    /// Whether the task can run now: PENDING and every dependency DONE (Luigi's `_schedulable`).
    pub(crate) fn schedulable(&self, t: TaskIdx) -> bool {
        let task = self.task(t);
        task.visible && task.status == TaskStatus::Pending && task.unmet == 0
    }

    /// Removes the task's contribution to derived indices (see the module docs).
    pub(crate) fn detach(&mut self, t: TaskIdx) {
        if self.held != Some(t) {
            self.contribute(t, false);
        }
    }

    /// Adds the task's contribution to derived indices back.
    pub(crate) fn attach(&mut self, t: TaskIdx) {
        if self.held != Some(t) {
            self.contribute(t, true);
        }
        self.mark_dirty(t);
    }

    /// Detaches `t` for a series of changes: until [`State::release`], the `detach`/`attach`
    /// pairs of those changes skip it, and it is attached once, as it ends up. `add_task`
    /// changes a task in up to half a dozen steps, each of which otherwise removed and
    /// re-inserted it in the ordered ready sets.
    pub(crate) fn hold(&mut self, t: TaskIdx) {
        self.release();
        self.detach(t);
        self.held = Some(t);
    }

    /// Attaches the held task, if any (see [`State::hold`]).
    pub(crate) fn release(&mut self) {
        if let Some(t) = self.held.take()
            && self.is_live(t)
        {
            self.attach(t);
        }
    }

    fn contribute(&mut self, t: TaskIdx, add: bool) {
        let task = self.task(t);
        if !task.visible {
            return;
        }
        let pending_or_failed = matches!(task.status, TaskStatus::Pending | TaskStatus::Failed);
        let pending_with_resources = task.status == TaskStatus::Pending && !task.resources_is_empty();
        let ready = self.schedulable(t);
        if !pending_or_failed && !pending_with_resources && !ready {
            return;
        }
        let n = task.workers.len();
        let rank = self.rank(t);
        if ready {
            if add {
                self.ready.insert(rank);
            } else {
                self.ready.remove(&rank);
            }
        }
        for pos in 0..n {
            let w = self.task(t).workers[pos];
            let worker = self.worker_mut(w);
            if ready {
                if add {
                    worker.ready.insert(rank);
                } else {
                    worker.ready.remove(&rank);
                }
            }
            if pending_with_resources {
                if add {
                    worker.pending_with_resources += 1;
                } else {
                    worker.pending_with_resources -= 1;
                }
            }
            if pending_or_failed {
                let unique = u64::from(n == 1);
                let last = u64::from(pos + 1 == n);
                if add {
                    worker.n_pending += 1;
                    worker.n_unique += unique;
                    worker.n_last += last;
                } else {
                    worker.n_pending -= 1;
                    worker.n_unique -= unique;
                    worker.n_last -= last;
                }
            }
        }
    }

    /// A task became DONE (`now_done`) or stopped being DONE: its dependents' counts of
    /// unfinished dependencies change.
    ///
    /// The dependents are not marked for saving: `unmet` is derived (a restart recounts it from
    /// the stored statuses), and re-saving a wide fan-in's whole row, with every dependency id,
    /// on each dependency's completion made a run against `luigid` quadratic.
    fn done_changed(&mut self, t: TaskIdx, now_done: bool) {
        for r in self.task(t).rdeps.to_vec() {
            self.contribute(r, false);
            let dependent = self.task_mut(r);
            if now_done {
                dependent.unmet -= 1;
            } else {
                dependent.unmet += 1;
            }
            self.contribute(r, true);
        }
    }

    /// Changes the status field and every index that depends on it; no Luigi rules here.
    pub(crate) fn move_status(&mut self, t: TaskIdx, new: TaskStatus, now: f64) {
        let old = self.task(t).status;
        if old == new {
            return;
        }
        self.detach(t);
        self.remove_from_status(t, status_slot(old));
        let seq = self.next_status_seq();
        let slot = status_slot(new);
        let pos = self.by_status[slot].len() as u32;
        self.by_status[slot].push(t);
        let task = self.task_mut(t);
        task.status = new;
        task.status_pos = pos;
        task.status_seq = seq;
        task.updated = now;
        self.attach(t);
        if (old == TaskStatus::Done) != (new == TaskStatus::Done) {
            self.done_changed(t, new == TaskStatus::Done);
        }
        if self.task(t).stakeholders.is_empty() {
            self.recheck.insert(t);
        }
        self.version += 1;
        let task = self.tasks.get(t).expect("live task");
        self.counters.status_changed(task, now);
    }

    /// Luigi's `set_status` (inventory §2.4).
    pub(crate) fn set_status(&mut self, t: TaskIdx, new_status: TaskStatus, now: f64) {
        let mut new_status = new_status;
        let current = self.task(t).status;
        if new_status == TaskStatus::Disabled && matches!(current, TaskStatus::Running | TaskStatus::BatchRunning) {
            return;
        }
        let remove_on_failure = self.task(t).batch_id.is_some() && !self.task(t).batchable;
        if current == TaskStatus::Disabled {
            if new_status == TaskStatus::Done {
                self.clear_disable(t);
            } else if self.task(t).scheduler_disable_time.is_some() && new_status != TaskStatus::Disabled {
                return;
            }
        }
        if current == TaskStatus::Running
            && new_status != TaskStatus::Running
            && let Some(batch_id) = self.task(t).batch_id.clone()
        {
            for mate in self.batch_running(&batch_id) {
                self.set_status(mate, new_status, now);
                self.task_mut(mate).batch_id = None;
            }
            self.task_mut(t).batch_id = None;
        }
        if new_status == TaskStatus::Failed && self.task(t).status != TaskStatus::Disabled {
            self.add_failure(t, now);
            if self.has_excessive_failures(t, now) {
                self.task_mut(t).scheduler_disable_time = Some(now);
                let disable_at = now + self.config.disable_persist as f64;
                self.push_timer(disable_at, TimerKind::ReEnable, t);
                new_status = TaskStatus::Disabled;
                if !self.config.batch_emails {
                    let task = self.task(t);
                    let message = format!(
                        "{} failed {} times in the last {} seconds, so it is being disabled for {} seconds",
                        task.id, task.policy.retry_count, task.policy.disable_window, self.config.disable_persist
                    );
                    self.disable_notices.push((task.id.clone(), message));
                }
            }
        } else if new_status == TaskStatus::Disabled {
            self.task_mut(t).scheduler_disable_time = None;
        }
        self.move_status(t, new_status, now);
        if new_status == TaskStatus::Failed {
            let retry_at = now + self.config.retry_delay;
            self.task_mut(t).retry = Some(retry_at);
            self.push_timer(retry_at, TimerKind::Retry, t);
            if remove_on_failure {
                self.task_mut(t).remove = Some(now);
                self.push_timer(now, TimerKind::Remove, t);
            }
        }
        self.mark_dirty(t);
    }

    /// Counts a task handed to a worker (Luigi's `handle_task_started`).
    pub(crate) fn count_started(&mut self, t: TaskIdx) {
        let task = self.tasks.get(t).expect("live task");
        self.counters.started(task);
    }

    /// Luigi's `re_enable` without a config: forget the disable and the failures.
    fn clear_disable(&mut self, t: TaskIdx) {
        let task = self.task_mut(t);
        task.scheduler_disable_time = None;
        task.failures = None;
    }

    /// Luigi's `re_enable` with a config: the task becomes FAILED (so it waits another
    /// `retry_delay`) with its failures forgotten.
    pub(crate) fn re_enable(&mut self, t: TaskIdx, now: f64) {
        self.clear_disable(t);
        self.set_status(t, TaskStatus::Failed, now);
        self.task_mut(t).failures = None;
    }

    fn add_failure(&mut self, t: TaskIdx, now: f64) {
        let failures = self.task_mut(t).failures.get_or_insert_with(|| Box::new(Failures::default()));
        // Python tests `if not self.first_failure_time`, so a first failure at time 0 is
        // forgotten by the next one; kept for identical behaviour under faked clocks.
        if failures.first.is_none_or(|first| first == 0.0) {
            failures.first = Some(now);
        }
        failures.times.push_back(now);
    }

    fn has_excessive_failures(&mut self, t: TaskIdx, now: f64) -> bool {
        let policy = self.task(t).policy;
        let Some(failures) = self.task_mut(t).failures.as_mut() else { return false };
        if let Some(first) = failures.first
            && now >= first + policy.disable_hard_timeout as f64
        {
            return true;
        }
        let min_time = now - policy.disable_window as f64;
        while failures.times.front().is_some_and(|time| *time < min_time) {
            failures.times.pop_front();
        }
        failures.times.len() as i64 >= policy.retry_count
    }

    /// Luigi's `_update_priority`: priorities only increase, and spread to existing
    /// dependencies with a lower priority.
    pub(crate) fn update_priority(&mut self, t: TaskIdx, priority: Number) {
        let mut stack = vec![(t, priority)];
        while let Some((t, priority)) = stack.pop() {
            let current = self.task(t).priority;
            // Python's `max(new, existing)` keeps the first argument unless the second is larger.
            let raised = if current.as_f64() > priority.as_f64() { current } else { priority };
            if raised != current {
                self.detach(t);
                self.task_mut(t).priority = raised;
                self.attach(t);
            }
            for pos in 0..self.task(t).deps.len() {
                let d = self.task(t).deps[pos];
                let dep = self.task(d);
                if dep.visible && raised.as_f64() > dep.priority.as_f64() {
                    stack.push((d, raised));
                }
            }
        }
    }

    /// BATCH_RUNNING tasks of a batch (Luigi's `get_batch_running_tasks`).
    pub(crate) fn batch_running(&self, batch_id: &str) -> Vec<TaskIdx> {
        self.with_status(TaskStatus::BatchRunning)
            .iter()
            .copied()
            .filter(|t| self.task(*t).batch_id.as_deref() == Some(batch_id))
            .collect()
    }

    // ----- parameters ----------------------------------------------------------------------

    /// Luigi's `Task.set_params`: store the parameters and split public from hidden using the
    /// visibilities already known.
    pub(crate) fn set_params(&mut self, t: TaskIdx, params: Option<&ParamMap>) {
        let Some(params) = params.filter(|p| !p.is_empty()) else {
            self.task_mut(t).params = ParamList::default();
            return;
        };
        let visibilities = self.task_mut(t).param_visibilities.take();
        let visibility = |name: &str| -> i64 {
            visibilities.as_ref().and_then(|v| v.iter().find(|(n, _)| &**n == name).map(|(_, v)| *v)).unwrap_or(0)
        };
        let mut entries = Vec::with_capacity(params.len());
        for (name, value) in params {
            entries.push((self.intern(name), value.as_str(), visibility(name) == 0));
        }
        let task = self.task_mut(t);
        task.params = ParamList::new(entries);
        // Visibilities only matter for splitting parameters, which happens once; keep them only
        // as a marker that they were given (Luigi does not replace non-empty visibilities).
        task.param_visibilities = visibilities.map(|_| Box::default());
    }

    pub(crate) fn set_param_visibilities(&mut self, t: TaskIdx, visibilities: Option<&IndexMap<String, i64>>) {
        let stored = visibilities
            .filter(|v| !v.is_empty())
            .map(|v| v.iter().map(|(name, vis)| (self.intern(name), *vis)).collect::<Vec<_>>().into_boxed_slice());
        self.task_mut(t).param_visibilities = stored;
    }

    pub(crate) fn set_resources(&mut self, t: TaskIdx, resources: ResourceMap) {
        self.detach(t);
        self.task_mut(t).resources = if resources.is_empty() { None } else { Some(Box::new(resources)) };
        self.attach(t);
    }

    // ----- timers ----------------------------------------------------------------------------

    pub(crate) fn push_timer(&mut self, due: f64, kind: TimerKind, t: TaskIdx) {
        let generation = self.generation(t);
        self.timers.push(Reverse((OrdF64(due), kind, t, generation)));
    }

    /// Pops every timer entry due at or before `now` that still refers to the same task.
    pub(crate) fn due_timers(&mut self, now: f64) -> Vec<TaskIdx> {
        let mut due = Vec::new();
        while let Some(Reverse((time, _, t, generation))) = self.timers.peek().copied() {
            if time.0 > now {
                break;
            }
            self.timers.pop();
            if self.generations.get(t as usize) == Some(&generation) && self.tasks.get(t).is_some() {
                due.push(t);
            }
        }
        due
    }

    // ----- history ---------------------------------------------------------------------------

    /// Luigi's `_update_task_history`.
    pub(crate) fn record_history(&self, t: TaskIdx, status: TaskStatus, host: Option<&str>, now: f64) {
        let Some(history) = &self.history else { return };
        let event = match status {
            TaskStatus::Done => HistoryEvent::Done,
            TaskStatus::Failed => HistoryEvent::Failed,
            TaskStatus::Pending => HistoryEvent::Pending,
            TaskStatus::Running => HistoryEvent::Running,
            _ => return,
        };
        let task = self.task(t);
        let record = HistoryTask {
            task_id: task.id.to_string(),
            family: task.family.to_string(),
            params: task.params.iter().map(|p| (p.name.to_string(), p.value.to_owned())).collect(),
        };
        history.record(record, event, host.map(str::to_owned), now);
    }
}
