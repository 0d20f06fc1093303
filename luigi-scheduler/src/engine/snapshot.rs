//! Converting engine records to and from the stored rows of `crate::persist`.
//!
//! The engine marks every task and worker a call changes; [`State::take_changes`] turns
//! them into rows (whole records; the writer thread encodes them as JSON) after the call,
//! while the state lock is still held, so the writer sees changes in the order they happened.
//! [`State::restore`] rebuilds the state, including every derived index, from a loaded
//! snapshot.
//!
//! Restoring gives every worker a fresh `last_active` (the load time): workers that were
//! alive before a `luigid` restart get a full `worker_disconnect_delay` to reconnect before
//! their running tasks are failed, rather than being pruned at once because the scheduler
//! itself was down (Python luigid would fail them at the first prune).

use std::sync::Arc;

use luigi_core::TaskId;
use luigi_core::status::TaskStatus;
use smallvec::SmallVec;

use super::records::{Extra, Failures, ParamList, Policy};
use super::state::{State, TimerKind};
use crate::persist::{ChangeSet, SettingsRow, Snapshot, TaskRow, WorkerRow, encode};

impl State {
    fn task_row(&self, t: u32) -> TaskRow {
        let task = self.task(t);
        let worker_ids = |list: &mut dyn Iterator<Item = u32>| -> Vec<String> {
            list.map(|w| self.worker(w).id.to_string()).collect()
        };
        TaskRow {
            status: task.status,
            family: task.family.to_string(),
            module: task.module.as_deref().map(str::to_owned),
            params: task.params.iter().map(|p| (p.name.to_string(), p.value.to_owned(), p.public)).collect(),
            visibilities_given: task.param_visibilities.is_some(),
            deps: task.deps.iter().map(|d| self.task(*d).id.to_string()).collect(),
            stakeholders: worker_ids(&mut task.stakeholders.iter()),
            workers: worker_ids(&mut task.workers.iter().copied()),
            time: task.time,
            updated: task.updated,
            retry: task.retry,
            remove: task.remove,
            worker_running: task.worker_running.as_deref().map(str::to_owned),
            time_running: task.time_running,
            resources: task.resources.as_deref().cloned(),
            resources_running: task.resources_running.as_deref().cloned(),
            priority: task.priority,
            expl: task.expl.as_deref().map(str::to_owned),
            accepts_messages: task.accepts_messages,
            runnable: task.runnable,
            batchable: task.batchable,
            batch_id: task.batch_id.as_deref().map(str::to_owned),
            policy: (task.policy.retry_count, task.policy.disable_hard_timeout, task.policy.disable_window),
            failures: task.failures.as_ref().map(|f| f.times.iter().copied().collect()).unwrap_or_default(),
            first_failure: task.failures.as_ref().and_then(|f| f.first),
            disable_time: task.scheduler_disable_time,
            tracking_url: task.tracking_url().map(str::to_owned),
            status_message: task.status_message().map(str::to_owned),
            progress_percentage: task.progress_percentage(),
            created_seq: task.created_seq,
            status_seq: task.status_seq,
        }
    }

    fn worker_row(&self, w: u32) -> WorkerRow {
        let worker = self.worker(w);
        WorkerRow {
            host: worker.host.clone(),
            last_active: worker.last_active,
            last_get_work: worker.last_get_work,
            started: worker.started,
            info: worker.info.clone(),
            disabled: worker.disabled,
            rpc_messages: worker.rpc_messages.clone(),
            created_seq: worker.created_seq,
        }
    }

    /// Everything changed since the last call, as rows to write.
    pub(crate) fn take_changes(&mut self) -> ChangeSet {
        let mut changes = ChangeSet::default();
        // Deletions first: a task deleted and re-created in one call ends up stored.
        for (seq, id) in std::mem::take(&mut self.deleted_tasks) {
            changes.tasks.push((seq, id, None));
        }
        for t in std::mem::take(&mut self.dirty_tasks) {
            if !self.is_live(t) {
                continue;
            }
            self.task_mut(t).dirty = false;
            if !self.task(t).visible {
                continue;
            }
            let row = self.task_row(t);
            changes.tasks.push((self.task(t).created_seq, self.task(t).id.clone(), Some(row)));
        }
        for id in std::mem::take(&mut self.deleted_workers) {
            changes.workers.push((id, None));
        }
        for w in std::mem::take(&mut self.dirty_workers) {
            if !self.worker_is_live(w) {
                continue;
            }
            self.worker_mut(w).dirty = false;
            changes.workers.push((Arc::clone(&self.worker(w).id), Some(self.worker_row(w))));
        }
        for (worker, family) in std::mem::take(&mut self.dirty_batchers) {
            if let Some(batcher) = self.batchers.get(&(Arc::clone(&worker), Arc::clone(&family)))
                && let Ok(json) = encode(batcher)
            {
                changes.batchers.push((worker.to_string(), family.to_string(), json));
            }
        }
        if std::mem::take(&mut self.settings_dirty) {
            let settings = SettingsRow { paused: self.paused, resources: self.runtime_resources.clone() };
            changes.settings = encode(&settings).ok();
        }
        changes
    }

    /// Rebuilds the state from stored rows; `now` is the load time.
    pub(crate) fn restore(&mut self, snapshot: Snapshot, now: f64) {
        let mut max_seq = 0u64;
        let mut workers = snapshot.workers;
        workers.sort_by_key(|(_, row)| row.created_seq);
        for (id, row) in workers {
            let w = self.get_worker(&id, now);
            max_seq = max_seq.max(row.created_seq);
            let worker = self.worker_mut(w);
            worker.host = row.host;
            // A grace period: the scheduler was down, not the worker.
            worker.last_active = row.last_active.max(now);
            worker.last_get_work = row.last_get_work;
            worker.started = row.started;
            worker.info = row.info;
            worker.disabled = row.disabled;
            worker.rpc_messages = row.rpc_messages;
            worker.created_seq = row.created_seq;
        }
        let mut tasks = snapshot.tasks;
        tasks.sort_by_key(|(_, row)| row.created_seq);
        let mut restored = Vec::with_capacity(tasks.len());
        for (id, row) in &tasks {
            let task_id = TaskId::from(id.as_str());
            let t = self.task_or_ghost(&task_id, row.time);
            max_seq = max_seq.max(row.created_seq).max(row.status_seq);
            let family = self.intern(&row.family);
            let module = row.module.as_deref().map(|m| self.intern(m));
            let params = ParamList::new(
                row.params.iter().map(|(name, value, public)| (self.intern(name), value.as_str(), *public)),
            );
            let expl = row.expl.as_deref().map(|e| self.intern(e));
            let workers: SmallVec<[u32; 2]> =
                row.workers.iter().filter_map(|w| self.by_worker.get(w.as_str()).copied()).collect();
            let stakeholders: Vec<u32> =
                row.stakeholders.iter().filter_map(|w| self.by_worker.get(w.as_str()).copied()).collect();
            let worker_running = row.worker_running.as_deref().map(Arc::<str>::from);
            let batch_id = row.batch_id.as_deref().map(Arc::<str>::from);
            let extra = (row.tracking_url.is_some()
                || row.status_message.is_some()
                || row.progress_percentage.is_some())
            .then(|| {
                Box::new(Extra {
                    tracking_url: row.tracking_url.clone(),
                    status_message: row.status_message.clone(),
                    progress_percentage: row.progress_percentage,
                    message_responses: Default::default(),
                })
            });
            let failures = (!row.failures.is_empty() || row.first_failure.is_some()).then(|| {
                Box::new(Failures { times: row.failures.iter().copied().collect(), first: row.first_failure })
            });
            let task = self.task_mut(t);
            task.visible = true;
            task.status = row.status;
            task.created_seq = row.created_seq;
            task.status_seq = row.status_seq;
            task.family = family;
            task.module = module;
            task.params = params;
            task.param_visibilities = row.visibilities_given.then(Box::default);
            task.time = row.time;
            task.updated = row.updated;
            task.retry = row.retry;
            task.remove = row.remove;
            task.worker_running = worker_running;
            task.time_running = row.time_running;
            task.resources = row.resources.clone().filter(|r| !r.is_empty()).map(Box::new);
            task.resources_running = row.resources_running.clone().map(Box::new);
            task.priority = row.priority;
            task.expl = expl;
            task.accepts_messages = row.accepts_messages;
            task.runnable = row.runnable;
            task.batchable = row.batchable;
            task.batch_id = batch_id;
            task.policy =
                Policy { retry_count: row.policy.0, disable_hard_timeout: row.policy.1, disable_window: row.policy.2 };
            task.failures = failures;
            task.scheduler_disable_time = row.disable_time;
            task.extra = extra;
            task.workers = workers.clone();
            for w in workers {
                self.worker_mut(w).tasks.insert(t);
            }
            for w in stakeholders {
                self.task_mut(t).stakeholders.insert(w);
                self.worker_mut(w).stake.insert(t);
            }
            self.insert_into_status(t);
            restored.push(t);
        }
        // Dependencies once every task exists, so each link finds its target.
        for ((_, row), t) in tasks.iter().zip(&restored) {
            for dep in &row.deps {
                let d = self.task_or_ghost(&TaskId::from(dep.as_str()), row.time);
                if self.task(*t).deps.contains(&d) {
                    continue;
                }
                let dep_done = self.task(d).visible && self.task(d).status == TaskStatus::Done;
                let task = self.task_mut(*t);
                task.deps.push(d);
                if !dep_done {
                    task.unmet += 1;
                }
                self.task_mut(d).rdeps.insert(*t);
            }
        }
        for t in &restored {
            self.attach(*t);
            let task = self.task(*t);
            let (retry, remove, disabled) = (task.retry, task.remove, task.scheduler_disable_time);
            if task.status == TaskStatus::Failed
                && let Some(at) = retry
            {
                self.push_timer(at, TimerKind::Retry, *t);
            }
            if let Some(at) = remove {
                self.push_timer(at, TimerKind::Remove, *t);
            }
            if self.task(*t).status == TaskStatus::Disabled
                && let Some(at) = disabled
            {
                let due = at + self.config.disable_persist as f64;
                self.push_timer(due, TimerKind::ReEnable, *t);
            }
            if self.task(*t).stakeholders.is_empty() {
                self.recheck.insert(*t);
            }
        }
        for (worker, family, batcher) in snapshot.batchers {
            let key = (self.intern(&worker), self.intern(&family));
            self.batchers.insert(key, batcher);
        }
        if let Some(settings) = snapshot.settings {
            self.paused = settings.paused;
            self.runtime_resources = settings.resources.clone();
            self.resources.extend(settings.resources);
        }
        self.bump_seq(max_seq);
        self.version += 1;
        // Nothing restored needs writing back.
        for t in std::mem::take(&mut self.dirty_tasks) {
            if self.is_live(t) {
                self.task_mut(t).dirty = false;
            }
        }
        for w in std::mem::take(&mut self.dirty_workers) {
            if self.worker_is_live(w) {
                self.worker_mut(w).dirty = false;
            }
        }
    }
}
