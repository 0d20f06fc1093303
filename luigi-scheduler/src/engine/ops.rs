//! The state-changing RPCs: `add_task`, `get_work`, `count_pending`, `prune` and the small
//! ones, each a transcription of Luigi 3.8.1's rules (inventory §2) onto [`State`].
//!
//! Where Luigi scans every task (`get_work` sorts all pending tasks, `count_pending` walks a
//! worker's tasks, `prune` visits everything), these use the state's indices instead:
//! - `get_work` for a worker whose pending tasks declare no resources (Luigi's "trivial"
//!   worker, the common case) takes the first entry of that worker's ordered ready set;
//!   otherwise it walks the global ready set merged with the running tasks, which is Luigi's
//!   walk minus the tasks that cannot be chosen anyway;
//! - `count_pending` reads per-worker counters, subtracting pending tasks that are upstream of
//!   a disabled task only when disabled tasks exist;
//! - `prune` visits only tasks whose timers are due or whose stakeholders changed, plus
//!   running tasks.
//!
//! Every function takes `now` from the caller: the engine never reads the clock itself.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use luigi_core::TaskId;
use luigi_core::rpc::wire::*;
use luigi_core::status::TaskStatus;
use md5::{Digest, Md5};
use serde_json::Value;

use super::idx::{Rank, TaskIdx, WorkerIdx};
use super::records::Policy;
use super::state::{State, TimerKind};
use super::views;

/// Luigi's `_generate_retry_policy`: scheduler values overridden by the non-null per-task ones.
fn retry_policy(state: &State, overrides: Option<RetryPolicyDict>) -> Policy {
    let mut policy = state.default_policy();
    if let Some(overrides) = overrides {
        if let Some(count) = overrides.retry_count {
            policy.retry_count = count;
        }
        if let Some(timeout) = overrides.disable_hard_timeout {
            policy.disable_hard_timeout = timeout;
        }
        if let Some(window) = overrides.disable_window {
            policy.disable_window = window;
        }
    }
    policy
}

/// `add_task` (inventory §2.3).
pub(crate) fn add_task(state: &mut State, now: f64, request: AddTaskRequest) {
    let w = state.touch_worker(&request.worker, now, None, false);
    let worker_id = Arc::clone(&state.worker(w).id);
    let enabled = !state.worker(w).disabled;
    let resources = request.resources.clone().unwrap_or_default();
    let policy = retry_policy(state, request.retry_policy_dict);

    let (t, created) = match state.lookup(&request.task_id) {
        Some(t) => (t, false),
        None if enabled => {
            let t = state.task_or_ghost(&request.task_id, now);
            state.promote(t, TaskStatus::Pending, now);
            (t, true)
        }
        None => return,
    };
    if state.task(t).status != TaskStatus::Running && !enabled {
        return;
    }
    // Ignore claims that the task is PENDING if it very recently was marked as DONE.
    if request.status == TaskStatus::Pending
        && state.task(t).status == TaskStatus::Done
        && now - state.task(t).updated < state.config.stable_done_cooldown_secs
    {
        return;
    }
    // The steps below change `t` several times; it re-enters the ready sets once, at the end.
    state.hold(t);
    if created {
        // Luigi creates the task with the given priority, which may be below the default.
        state.task_mut(t).priority = request.priority;
    }

    // Placeholders created for dependencies have no family or parameters yet.
    if state.task(t).family.is_empty() {
        let family = state.intern(&request.family);
        state.task_mut(t).family = family;
    }
    if state.task(t).module.as_deref().is_none_or(str::is_empty) {
        let module = request.module.as_deref().map(|m| state.intern(m));
        state.task_mut(t).module = module;
    }
    if state.task(t).param_visibilities.is_none() {
        state.set_param_visibilities(t, request.param_visibilities.as_ref());
    }
    if state.task(t).params.is_empty() {
        state.set_params(t, request.params.as_ref());
    }

    if let Some(batch_id) = &request.batch_id {
        state.task_mut(t).batch_id = Some(Arc::from(batch_id.as_str()));
    }
    if request.status == TaskStatus::Running && state.task(t).worker_running.is_none() {
        state.task_mut(t).worker_running = Some(Arc::clone(&worker_id));
        if let Some(batch_id) = request.batch_id.as_deref().filter(|b| !b.is_empty()) {
            // Copy the running resources of the first batch member.
            let first = state.batch_running(batch_id).first().copied();
            let copied = first.and_then(|b| state.task(b).resources_running.clone());
            state.task_mut(t).resources_running = copied;
        }
        state.task_mut(t).time_running = Some(now);
    }
    if let Some(accepts) = request.accepts_messages {
        state.task_mut(t).accepts_messages = accepts;
    }
    if request.tracking_url.is_some() || state.task(t).status != TaskStatus::Running {
        state.task_mut(t).set_tracking_url(request.tracking_url.clone());
        if let Some(batch_id) = state.task(t).batch_id.clone() {
            for mate in state.batch_running(&batch_id) {
                state.task_mut(mate).set_tracking_url(request.tracking_url.clone());
            }
        }
    }
    if let Some(batchable) = request.batchable {
        state.task_mut(t).batchable = batchable;
    }
    state.task_mut(t).remove = None;
    if let Some(expl) = &request.expl {
        // Every successful task reports `"null"`; interning keeps that one shared string.
        let expl = state.intern(expl);
        state.task_mut(t).expl = Some(Arc::clone(&expl));
        if let Some(batch_id) = state.task(t).batch_id.clone() {
            for mate in state.batch_running(&batch_id) {
                state.task_mut(mate).expl = Some(Arc::clone(&expl));
            }
        }
    }

    let task_is_not_running = !state.task(t).is_running();
    let task_started_a_run = matches!(request.status, TaskStatus::Done | TaskStatus::Failed | TaskStatus::Running);
    let running_on_this_worker = state.task(t).worker_running.as_deref() == Some(&*worker_id);
    let has_new_deps = request.new_deps.as_ref().is_some_and(|d| !d.is_empty());
    if task_is_not_running || (task_started_a_run && running_on_this_worker) || has_new_deps {
        // Don't allow re-scheduling of a task while it is running: it must either fail or
        // succeed on the worker actually running it.
        if request.status != state.task(t).status || request.status == TaskStatus::Pending {
            state.record_history(t, request.status, None, now);
        }
        let status = if request.status == TaskStatus::Suspended { TaskStatus::Pending } else { request.status };
        state.set_status(t, status, now);
    }

    if let Some(deps) = &request.deps {
        state.set_deps(t, deps, now);
    }
    if let Some(new_deps) = &request.new_deps {
        state.add_deps(t, new_deps, now);
    }
    state.set_resources(t, resources);

    if enabled && !request.assistant {
        state.add_stakeholder(t, w);
        // Dependencies might not exist yet: create placeholders so that they are not pruned
        // if scheduling takes a long time.
        for pos in 0..state.task(t).deps.len() {
            let d = state.task(t).deps[pos];
            if !state.task(d).visible {
                state.promote(d, TaskStatus::Unknown, now);
                state.task_mut(d).priority = request.priority;
            }
            state.add_stakeholder(d, w);
        }
    }
    state.update_priority(t, request.priority);
    // Some tasks are created (as placeholders) before their retry policy is known.
    state.task_mut(t).policy = policy;

    if request.runnable.unwrap_or(false) && request.status != TaskStatus::Failed && enabled {
        state.add_task_worker(t, w);
        state.task_mut(t).runnable = true;
    }
    if state.task(t).stakeholders.is_empty() {
        state.recheck.insert(t);
    }
    state.release();
    state.mark_dirty(t);
}

/// `add_task_batcher`.
pub(crate) fn add_task_batcher(state: &mut State, request: AddTaskBatcherRequest) {
    let worker = state.intern(&request.worker);
    let family = state.intern(&request.task_family);
    state.batchers.insert((Arc::clone(&worker), Arc::clone(&family)), (request.batched_args, request.max_batch_size));
    if state.track_changes {
        state.dirty_batchers.push((worker, family));
    }
}

/// `add_worker`: merges the info.
pub(crate) fn add_worker(state: &mut State, now: f64, request: AddWorkerRequest) {
    let w = state.get_worker(&request.worker, now);
    let worker = state.worker_mut(w);
    for (key, value) in request.info.iter() {
        worker.info.insert(key.to_owned(), value.clone());
    }
    state.mark_worker_dirty(w);
}

/// Luigi's `_has_resources`: capacity of an unconfigured resource is 1.
fn has_resources(state: &State, needed: Option<&ResourceMap>, used: &HashMap<String, i64>) -> bool {
    let Some(needed) = needed else { return true };
    needed.iter().all(|(resource, amount)| {
        let capacity = state.resources.get(resource).copied().unwrap_or(1);
        amount + used.get(resource).copied().unwrap_or(0) <= capacity
    })
}

/// Luigi's `_used_resources`: what RUNNING tasks hold.
pub(crate) fn used_resources(state: &State) -> HashMap<String, i64> {
    let mut used = HashMap::new();
    for t in state.with_status(TaskStatus::Running) {
        let task = state.task(*t);
        let held = task.resources_running.as_deref().or(task.resources.as_deref());
        for (resource, amount) in held.into_iter().flatten() {
            *used.entry(resource.clone()).or_insert(0) += amount;
        }
    }
    used
}

/// Luigi's batcher lookup: `(batched parameter names, max batch size)`, `(None, 1)` if none.
fn batcher(state: &State, w: WorkerIdx, family: &Arc<str>) -> (Option<Vec<String>>, f64) {
    let key = (Arc::clone(&state.worker(w).id), Arc::clone(family));
    match state.batchers.get(&key) {
        Some((names, max)) => (Some(names.clone()), max.as_f64()),
        None => (None, 1.0),
    }
}

/// The batch being assembled around the best task.
struct BatchPlan {
    best: TaskIdx,
    batched: Vec<(String, Vec<String>)>,
    unbatched: Vec<(String, String)>,
    tasks: Vec<TaskIdx>,
    max_size: f64,
}

impl BatchPlan {
    /// Sets up batching if a batcher is registered for the best task's family (Luigi's
    /// `batched_params`/`unbatched_params`).
    fn start(state: &State, w: WorkerIdx, best: TaskIdx) -> Option<BatchPlan> {
        let task = state.task(best);
        let (names, max_size) = batcher(state, w, &task.family);
        let names = names.filter(|n| !n.is_empty())?;
        if !task.batchable {
            return None;
        }
        let mut batched = Vec::with_capacity(names.len());
        for name in &names {
            // A batched parameter the task does not have disables batching (Python's KeyError).
            batched.push((name.clone(), vec![task.param(name)?.to_owned()]));
        }
        let unbatched = task
            .params
            .iter()
            .filter(|p| !names.iter().any(|n| n.as_str() == &**p.name))
            .map(|p| (p.name.to_string(), p.value.to_owned()))
            .collect();
        Some(BatchPlan { best, batched, unbatched, tasks: vec![best], max_size })
    }

    fn is_full(&self) -> bool {
        (self.tasks.len() as f64) >= self.max_size
    }

    /// Adds `t` to the batch if it fits (Luigi's batch condition).
    fn consider(&mut self, state: &State, t: TaskIdx) {
        if t == self.best || self.is_full() {
            return;
        }
        let best = state.task(self.best);
        let task = state.task(t);
        if task.family != best.family
            || !task.batchable
            || !self.unbatched.iter().all(|(name, value)| task.param(name) == Some(value.as_str()))
            || task.resources_map() != best.resources_map()
            || !state.schedulable(t)
        {
            return;
        }
        for (name, values) in &mut self.batched {
            values.push(task.param(name).unwrap_or_default().to_owned());
        }
        self.tasks.push(t);
    }
}

/// `get_work` (inventory §2.8).
pub(crate) fn get_work(state: &mut State, now: f64, request: GetWorkRequest) -> GetWorkReply {
    if state.config.prune_on_get_work {
        prune(state, now);
    }
    let w = state.touch_worker(&request.worker, now, Some(request.host.clone()), true);
    if state.worker(w).disabled {
        return GetWorkReply::disabled();
    }
    if request.assistant {
        state.worker_mut(w).info.insert("assistant".to_owned(), Value::Bool(true));
        state.mark_worker_dirty(w);
    }
    let worker_id = Arc::clone(&state.worker(w).id);

    let mut best: Option<TaskIdx> = None;
    if let Some(current) = &request.current_tasks {
        // A task the scheduler thinks this worker runs, but the worker does not list, is
        // handed out again (the worker lost it, e.g. restarted with the same id).
        let current: HashSet<&str> = current.iter().map(TaskId::as_str).collect();
        // Luigi takes the last of the running tasks sorted by (priority, -time): the highest
        // priority, then the oldest, and among exact ties the one that started running last.
        best = state
            .with_status(TaskStatus::Running)
            .iter()
            .copied()
            .filter(|t| {
                let task = state.task(*t);
                task.worker_running.as_deref() == Some(&*worker_id) && !current.contains(task.id.as_str())
            })
            .max_by_key(|t| {
                let rank = state.rank(*t);
                (std::cmp::Reverse(rank.neg_priority), std::cmp::Reverse(rank.time), rank.status_seq)
            });
        reset_orphaned_batch_running_tasks(state, &worker_id, now);
    }

    let mut plan: Option<BatchPlan> = None;
    let trivial = !state.worker(w).is_assistant() && state.worker(w).pending_with_resources == 0;
    if best.is_none() && !state.paused {
        if trivial {
            // No resources among this worker's pending tasks: the first ready task wins.
            let mut iter = state.worker(w).ready.iter();
            if let Some(first) = iter.next() {
                best = Some(first.task);
                plan = BatchPlan::start(state, w, first.task);
                if let Some(plan) = plan.as_mut() {
                    for rank in iter {
                        if plan.is_full() {
                            break;
                        }
                        plan.consider(state, rank.task);
                    }
                }
            }
        } else {
            (best, plan) = choose_with_resources(state, w, request.assistant, now);
        }
    }

    let reply = count_pending(state, w, now);
    let mut reply = GetWorkReply {
        n_pending_tasks: reply.n_pending_tasks,
        n_unique_pending: reply.n_unique_pending,
        n_pending_last_scheduled: Some(reply.n_pending_last_scheduled),
        worker_state: reply.worker_state,
        running_tasks: reply.running_tasks,
        work: Work::Nothing,
    };
    match (best, plan) {
        (Some(best), Some(plan)) if plan.tasks.len() > 1 => {
            let ids: Vec<TaskId> = plan.tasks.iter().map(|t| state.task(*t).id.clone()).collect();
            let joined = ids.iter().map(TaskId::as_str).collect::<Vec<_>>().join("|");
            let batch_id = hex(&Md5::digest(joined.as_bytes()));
            let shared: Arc<str> = Arc::from(batch_id.as_str());
            for t in &plan.tasks {
                state.set_status(*t, TaskStatus::BatchRunning, now);
                let resources = state.task(*t).resources.clone();
                let task = state.task_mut(*t);
                task.batch_id = Some(Arc::clone(&shared));
                task.worker_running = Some(Arc::clone(&worker_id));
                task.resources_running = Some(resources.unwrap_or_default());
                task.time_running = Some(now);
                state.mark_dirty(*t);
            }
            let task = state.task(best);
            let mut params: indexmap::IndexMap<String, BatchParam> =
                task.params.iter().map(|p| (p.name.to_string(), BatchParam::One(p.value.to_owned()))).collect();
            for (name, values) in plan.batched {
                params.insert(name, BatchParam::Many(values));
            }
            reply.work = Work::Batch {
                task_family: task.family.to_string(),
                task_module: task.module.as_deref().map(str::to_owned),
                task_params: params,
                batch_id,
                batch_task_ids: ids,
            };
        }
        (Some(best), _) => {
            state.count_started(best);
            state.set_status(best, TaskStatus::Running, now);
            let resources = state.task(best).resources.clone();
            let task = state.task_mut(best);
            task.worker_running = Some(Arc::clone(&worker_id));
            task.resources_running = Some(resources.unwrap_or_default());
            task.time_running = Some(now);
            state.mark_dirty(best);
            state.record_history(best, TaskStatus::Running, request.host.as_deref(), now);
            let task = state.task(best);
            reply.work = Work::Task {
                task_id: task.id.clone(),
                task_family: task.family.to_string(),
                task_module: task.module.as_deref().map(str::to_owned),
                task_params: task.param_map(),
            };
        }
        (None, _) => {}
    }
    reply
}

/// Luigi's walk over all pending and running tasks when resources or assistants are involved:
/// greedy reservation keeps a low-priority task from taking resources a higher-priority task
/// of another worker is about to need.
fn choose_with_resources(
    state: &State,
    w: WorkerIdx,
    assistant: bool,
    now: f64,
) -> (Option<TaskIdx>, Option<BatchPlan>) {
    let used = used_resources(state);
    let activity_limit = now - state.config.worker_disconnect_delay;
    let mut greedy_workers: HashMap<WorkerIdx, i64> = state
        .worker_indices()
        .filter(|x| state.worker(*x).last_get_work.is_some_and(|at| at > activity_limit))
        .map(|x| (x, state.worker(x).processes()))
        .collect();
    let mut greedy_resources: HashMap<String, i64> = HashMap::new();

    let mut running: Vec<Rank> = state.with_status(TaskStatus::Running).iter().map(|t| state.rank(*t)).collect();
    running.sort();
    let mut running = running.into_iter().peekable();
    let mut ready = state.ready.iter().copied().peekable();
    let mut best: Option<TaskIdx> = None;
    let mut plan: Option<BatchPlan> = None;
    loop {
        // Merge the two ordered streams; at equal priority and age, pending tasks come first
        // (Luigi lists PENDING before RUNNING before its stable sort).
        let take_running = match (ready.peek(), running.peek()) {
            (None, None) => break,
            (Some(_), None) => false,
            (None, Some(_)) => true,
            (Some(p), Some(r)) => (r.neg_priority, r.time) < (p.neg_priority, p.time),
        };
        if take_running {
            let rank = running.next().expect("peeked");
            if best.is_some() {
                continue;
            }
            let task = state.task(rank.task);
            let runner = task.worker_running.as_deref().and_then(|id| state.by_worker.get(id).copied());
            if let Some(runner) = runner
                && let Some(slots) = greedy_workers.get_mut(&runner)
            {
                *slots -= 1;
                let held = task.resources_running.as_deref().or(task.resources.as_deref());
                for (resource, amount) in held.into_iter().flatten() {
                    *greedy_resources.entry(resource.clone()).or_insert(0) += amount;
                }
            }
            continue;
        }
        let t = ready.next().expect("peeked").task;
        if best.is_some() {
            match plan.as_mut() {
                Some(plan) if !plan.is_full() => {
                    plan.consider(state, t);
                    continue;
                }
                _ => break,
            }
        }
        let task = state.task(t);
        if !has_resources(state, task.resources.as_deref(), &greedy_resources) {
            continue;
        }
        let in_workers = (assistant && task.runnable) || task.workers.contains(&w);
        if in_workers && has_resources(state, task.resources.as_deref(), &used) {
            best = Some(t);
            plan = BatchPlan::start(state, w, t);
            if plan.is_none() {
                break;
            }
        } else {
            let mut candidates = task.workers.clone();
            if assistant {
                candidates.push(w);
            }
            for candidate in candidates {
                if let Some(slots) = greedy_workers.get_mut(&candidate)
                    && *slots > 0
                {
                    *slots -= 1;
                    for (resource, amount) in task.resources.as_deref().into_iter().flatten() {
                        *greedy_resources.entry(resource.clone()).or_insert(0) += amount;
                    }
                    break;
                }
            }
        }
    }
    (best, plan)
}

/// BATCH_RUNNING tasks of this worker whose batch is no longer RUNNING go back to PENDING.
fn reset_orphaned_batch_running_tasks(state: &mut State, worker_id: &str, now: f64) {
    let running_batches: HashSet<Option<Arc<str>>> = state
        .with_status(TaskStatus::Running)
        .iter()
        .filter(|t| state.task(**t).worker_running.as_deref() == Some(worker_id))
        .map(|t| state.task(*t).batch_id.clone())
        .collect();
    let orphaned: Vec<TaskIdx> = state
        .with_status(TaskStatus::BatchRunning)
        .iter()
        .copied()
        .filter(|t| {
            let task = state.task(*t);
            task.worker_running.as_deref() == Some(worker_id) && !running_batches.contains(&task.batch_id)
        })
        .collect();
    for t in orphaned {
        state.set_status(t, TaskStatus::Pending, now);
    }
}

fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(HEX[usize::from(byte >> 4)] as char);
        out.push(HEX[usize::from(byte & 0xf)] as char);
    }
    out
}

/// `count_pending` (inventory §2.8).
pub(crate) fn count_pending(state: &mut State, w: WorkerIdx, now: f64) -> CountPendingReply {
    let mut running_tasks = Vec::new();
    let mine: Vec<TaskIdx> = state
        .with_status(TaskStatus::Running)
        .iter()
        .copied()
        .filter(|t| state.task(*t).workers.contains(&w))
        .collect();
    for t in mine {
        let Some(runner_id) = state.task(t).worker_running.clone() else { continue };
        // Luigi looks the runner up with `get_worker`, which creates a record for an unknown id.
        let runner = state.get_worker(&runner_id, now);
        running_tasks.push(RunningTask {
            task_id: state.task(t).id.clone(),
            worker: runner_id.to_string(),
            info: state.worker(runner).info.clone(),
        });
    }
    let worker = state.worker(w);
    let (mut pending, mut unique, mut last) = (worker.n_pending, worker.n_unique, worker.n_last);
    if !state.with_status(TaskStatus::Disabled).is_empty() {
        let blocked = views::upstream_disabled(state);
        for t in blocked.iter() {
            let task = state.task(*t);
            if let Some(pos) = task.workers.iter().position(|x| *x == w) {
                pending -= 1;
                unique -= u64::from(task.workers.len() == 1);
                last -= u64::from(pos + 1 == task.workers.len());
            }
        }
    }
    CountPendingReply {
        n_pending_tasks: pending,
        n_unique_pending: unique,
        n_pending_last_scheduled: last,
        worker_state: if state.worker(w).disabled { WorkerState::Disabled } else { WorkerState::Active },
        running_tasks,
    }
}

/// `prune` (inventory §2.5): drop dead workers, fail their running tasks, retry failed tasks,
/// re-enable disabled ones and remove tasks nobody cares about.
pub(crate) fn prune(state: &mut State, now: f64) {
    let delay = state.config.worker_disconnect_delay;
    let dead: Vec<WorkerIdx> = state.worker_indices().filter(|w| state.worker(*w).last_active + delay < now).collect();
    for w in dead {
        tracing::debug!(worker = %state.worker(w).id, "worker timed out (no contact for >= {delay}s)");
        state.remove_worker(w);
    }

    let assistants: HashSet<Arc<str>> = state
        .worker_indices()
        .filter(|w| state.worker(*w).is_assistant())
        .map(|w| Arc::clone(&state.worker(w).id))
        .collect();
    let mut candidates: Vec<TaskIdx> = state.with_status(TaskStatus::Running).to_vec();
    candidates.extend_from_slice(state.with_status(TaskStatus::BatchRunning));
    // Taken, not drained: a drained hash set keeps its capacity and clearing it costs O(capacity).
    candidates.extend(std::mem::take(&mut state.recheck));
    candidates.extend(state.due_timers(now));
    candidates.sort_unstable();
    candidates.dedup();

    let mut remove = Vec::new();
    for t in candidates {
        if !state.is_live(t) || !state.task(t).visible {
            continue;
        }
        fail_dead_worker_task(state, t, &assistants, now);
        update_status(state, t, now);
        if state.task(t).remove.is_some_and(|at| now >= at) {
            remove.push(t);
        }
    }
    for t in remove {
        if state.is_live(t) && state.task(t).visible {
            tracing::info!(task = %state.task(t).id, "removing task");
            state.delete_task(t);
        }
    }
}

/// Luigi's `fail_dead_worker_task`.
fn fail_dead_worker_task(state: &mut State, t: TaskIdx, assistants: &HashSet<Arc<str>>, now: f64) {
    let task = state.task(t);
    if !task.is_running() {
        return;
    }
    let Some(runner) = task.worker_running.clone() else { return };
    let is_stakeholder = state.by_worker.get(&runner).is_some_and(|w| task.stakeholders.contains(*w));
    if is_stakeholder || assistants.contains(&runner) {
        return;
    }
    tracing::info!(
        task = %task.id,
        worker = %runner,
        "task is marked as running by a disconnected worker; marking it FAILED with a retry delay of {}s",
        state.config.retry_delay
    );
    state.task_mut(t).worker_running = None;
    state.set_status(t, TaskStatus::Failed, now);
    let retry_at = now + state.config.retry_delay;
    state.task_mut(t).retry = Some(retry_at);
    state.push_timer(retry_at, TimerKind::Retry, t);
}

/// Luigi's `update_status`.
fn update_status(state: &mut State, t: TaskIdx, now: f64) {
    let task = state.task(t);
    if task.stakeholders.is_empty() && task.remove.is_none() && task.status != TaskStatus::Running {
        let remove_at = now + state.config.remove_delay;
        tracing::debug!(task = %task.id, "task has no stakeholders anymore; may remove it in {}s", state.config.remove_delay);
        state.task_mut(t).remove = Some(remove_at);
        state.push_timer(remove_at, TimerKind::Remove, t);
        state.mark_dirty(t);
    }
    let task = state.task(t);
    if task.status == TaskStatus::Disabled
        && let Some(disabled_at) = task.scheduler_disable_time
    {
        if now - disabled_at > state.config.disable_persist as f64 {
            state.re_enable(t, now);
        } else {
            state.push_timer(disabled_at + state.config.disable_persist as f64, TimerKind::ReEnable, t);
        }
    }
    let task = state.task(t);
    if task.status == TaskStatus::Failed
        && state.config.retry_delay >= 0.0
        && let Some(retry) = task.retry
    {
        if retry < now {
            state.set_status(t, TaskStatus::Pending, now);
        } else {
            // Due exactly now: Luigi retries only once `retry < now`.
            state.push_timer(retry, TimerKind::Retry, t);
        }
    }
    if let Some(remove_at) = state.task(t).remove
        && now < remove_at
    {
        state.push_timer(remove_at, TimerKind::Remove, t);
    }
}

/// `forgive_failures`.
pub(crate) fn forgive_failures(state: &mut State, now: f64, task_id: Option<TaskId>) -> TaskStatusReply {
    let Some(t) = task_id.as_ref().and_then(|id| state.lookup(id)) else {
        return TaskStatusReply { task_id, status: None };
    };
    if state.task(t).status == TaskStatus::Failed {
        state.record_history(t, TaskStatus::Pending, None, now);
        state.set_status(t, TaskStatus::Pending, now);
    }
    TaskStatusReply { task_id, status: Some(state.task(t).status) }
}

/// `mark_as_done`.
pub(crate) fn mark_as_done(state: &mut State, now: f64, task_id: Option<TaskId>) -> TaskStatusReply {
    let Some(t) = task_id.as_ref().and_then(|id| state.lookup(id)) else {
        return TaskStatusReply { task_id, status: None };
    };
    if matches!(state.task(t).status, TaskStatus::Running | TaskStatus::Failed | TaskStatus::Disabled) {
        state.record_history(t, TaskStatus::Done, None, now);
        state.set_status(t, TaskStatus::Done, now);
    }
    TaskStatusReply { task_id, status: Some(state.task(t).status) }
}

/// `re_enable_task`: only for tasks the scheduler disabled.
pub(crate) fn re_enable_task(state: &mut State, now: f64, task_id: &TaskId) -> ReEnableTaskReply {
    let Some(t) = state.lookup(task_id) else { return ReEnableTaskReply(None) };
    let task = state.task(t);
    if task.status != TaskStatus::Disabled || task.scheduler_disable_time.is_none_or(|at| at == 0.0) {
        return ReEnableTaskReply(None);
    }
    state.re_enable(t, now);
    ReEnableTaskReply(Some(views::serialize_task(state, t, views::Deps::Own)))
}

/// `disable_worker`.
pub(crate) fn disable_worker(state: &mut State, now: f64, worker: &str) {
    let w = state.get_worker(worker, now);
    state.disable_worker(w);
}

/// `set_worker_processes`.
pub(crate) fn set_worker_processes(state: &mut State, now: f64, worker: &str, n: i64) {
    let w = state.get_worker(worker, now);
    state.worker_mut(w).rpc_messages.push(RpcMessage::SetWorkerProcesses { n });
    state.mark_worker_dirty(w);
}

/// `ping`: touch the worker and hand over its queued messages.
pub(crate) fn ping(state: &mut State, now: f64, worker: &str) -> PingReply {
    let w = state.touch_worker(worker, now, None, false);
    PingReply { rpc_messages: std::mem::take(&mut state.worker_mut(w).rpc_messages) }
}

/// `decrease_running_task_resources`: only while RUNNING; also for batch mates.
pub(crate) fn decrease_running_task_resources(state: &mut State, task_id: &TaskId, decrease: &ResourceMap) {
    let Some(t) = state.lookup(task_id) else { return };
    if state.task(t).status != TaskStatus::Running {
        return;
    }
    let mut targets = vec![t];
    if let Some(batch_id) = state.task(t).batch_id.clone() {
        targets.extend(state.batch_running(&batch_id));
    }
    for target in targets {
        if let Some(running) = state.task_mut(target).resources_running.as_mut() {
            for (resource, amount) in decrease {
                if *amount > 0
                    && let Some(held) = running.get_mut(resource)
                {
                    *held = (*held - amount).max(0);
                }
            }
        }
        state.mark_dirty(target);
    }
}

/// `set_task_status_message` / `set_task_progress_percentage` / tracking fields: mirrored to
/// batch mates while the task runs.
pub(crate) fn update_running_extra(state: &mut State, task_id: &TaskId, apply: impl Fn(&mut super::records::Extra)) {
    let Some(t) = state.lookup(task_id) else { return };
    apply(state.task_mut(t).extra_mut());
    if state.task(t).status == TaskStatus::Running
        && let Some(batch_id) = state.task(t).batch_id.clone()
    {
        for mate in state.batch_running(&batch_id) {
            apply(state.task_mut(mate).extra_mut());
            state.mark_dirty(mate);
        }
    }
    state.mark_dirty(t);
}

/// `send_scheduler_message`.
pub(crate) fn send_scheduler_message(
    state: &mut State,
    now: f64,
    request: SendSchedulerMessageRequest,
    message_id: String,
) -> SendSchedulerMessageReply {
    if !state.config.send_messages {
        return SendSchedulerMessageReply { message_id: None };
    }
    let w = state.get_worker(&request.worker, now);
    state.worker_mut(w).rpc_messages.push(RpcMessage::DispatchSchedulerMessage {
        task_id: request.task,
        message_id: message_id.clone(),
        content: request.content,
    });
    state.mark_worker_dirty(w);
    SendSchedulerMessageReply { message_id: Some(message_id) }
}

/// Whether the configured resources accept `amount` (Luigi: an int, at least 0).
pub(crate) fn update_resource(state: &mut State, request: &UpdateResourceRequest) -> bool {
    let Some(amount) = request.valid_amount() else { return false };
    state.resources.insert(request.resource.clone(), amount);
    state.runtime_resources.insert(request.resource.clone(), amount);
    state.settings_dirty = true;
    true
}

#[cfg(test)]
mod derived_index_tests {
    use std::collections::BTreeSet;

    use indexmap::IndexMap;
    use luigi_core::rpc::wire::{AddTaskRequest, GetWorkRequest, Work};

    use super::*;
    use crate::engine::Config;
    use crate::engine::idx::Rank;

    /// A worker's ready set, `n_pending`, `n_unique`, `n_last` and `pending_with_resources`.
    type WorkerIndices = (BTreeSet<Rank>, u64, u64, u64, u32);
    /// The global ready set and every worker's indices, in worker order.
    type Indices = (BTreeSet<Rank>, Vec<WorkerIndices>);

    /// The ready sets and pending counters, recomputed from the task records alone.
    fn recomputed(state: &State) -> Indices {
        let mut ready = BTreeSet::new();
        let mut per_worker: HashMap<WorkerIdx, WorkerIndices> = HashMap::new();
        for t in state.visible_tasks() {
            let task = state.task(t);
            let schedulable = state.schedulable(t);
            if schedulable {
                ready.insert(state.rank(t));
            }
            let n = task.workers.len();
            for (pos, w) in task.workers.iter().enumerate() {
                let entry = per_worker.entry(*w).or_default();
                if schedulable {
                    entry.0.insert(state.rank(t));
                }
                if matches!(task.status, TaskStatus::Pending | TaskStatus::Failed) {
                    entry.1 += 1;
                    entry.2 += u64::from(n == 1);
                    entry.3 += u64::from(pos + 1 == n);
                }
                if task.status == TaskStatus::Pending && !task.resources_is_empty() {
                    entry.4 += 1;
                }
            }
        }
        let workers = state.worker_indices().map(|w| per_worker.remove(&w).unwrap_or_default()).collect();
        (ready, workers)
    }

    /// The same, as the engine maintains them.
    fn maintained(state: &State) -> Indices {
        let workers = state
            .worker_indices()
            .map(|w| {
                let worker = state.worker(w);
                (worker.ready.clone(), worker.n_pending, worker.n_unique, worker.n_last, worker.pending_with_resources)
            })
            .collect();
        (state.ready.clone(), workers)
    }

    /// Random announcements (new and repeated tasks, dependencies, priorities, resources,
    /// statuses, several workers) interleaved with `get_work`: after every call the indices
    /// the engine maintains step by step equal the ones recomputed from scratch.
    #[test]
    fn derived_indices_match_the_records_after_every_call() {
        let mut rng = fastrand::Rng::with_seed(7);
        let mut state = State::new(Config::default(), IndexMap::new());
        let mut now = 1000.0;
        for step in 0..3000 {
            now += 1.0;
            let worker = format!("w{}", rng.usize(0..4));
            if rng.u8(0..5) == 0 {
                let request: GetWorkRequest = luigi_core::rpc::json::from_str(&format!(
                    r#"{{"worker": "{worker}", "host": "h", "assistant": false, "current_tasks": []}}"#
                ))
                .unwrap();
                let reply = get_work(&mut state, now, request);
                if let Work::Task { task_id: id, .. } = reply.work {
                    let status = if rng.bool() { "DONE" } else { "FAILED" };
                    let done: AddTaskRequest = luigi_core::rpc::json::from_str(&format!(
                        r#"{{"worker": "{worker}", "task_id": "{id}", "status": "{status}", "expl": "null"}}"#
                    ))
                    .unwrap();
                    add_task(&mut state, now, done);
                }
            } else {
                let id = rng.usize(0..60);
                let deps: Vec<String> = (0..rng.usize(0..3)).map(|_| format!("\"T{}\"", rng.usize(0..60))).collect();
                let status = ["PENDING", "PENDING", "PENDING", "DONE", "FAILED", "RUNNING"][rng.usize(0..6)];
                let resources = if rng.u8(0..4) == 0 { r#"{"r": 1}"# } else { "{}" };
                let request: AddTaskRequest = luigi_core::rpc::json::from_str(&format!(
                    r#"{{"worker": "{worker}", "task_id": "T{id}", "status": "{status}", "runnable": {},
                        "deps": [{}], "priority": {}, "resources": {resources}, "family": "F",
                        "params": {{"i": "{id}"}}}}"#,
                    rng.bool(),
                    deps.join(", "),
                    rng.i32(-2..3),
                ))
                .unwrap();
                add_task(&mut state, now, request);
            }
            assert!(recomputed(&state) == maintained(&state), "derived indices drifted at step {step}");
        }
    }
}
