//! The read-side RPCs: serialized task nodes, `task_list`, the dependency graphs,
//! `task_search`, `worker_list`, `resource_list`, `fetch_error` and the small getters.
//!
//! Shapes follow Luigi's `_serialize_task` and `_traverse_graph` key for key (inventory §1.4):
//! `display_name` only on a traversal's root, the UNKNOWN placeholder node for dependencies
//! the scheduler has no family for, breadth-first traversal in sorted dependency order cut at
//! `max_graph_nodes`, and `task_list`'s `{"num_tasks": n}` when over the limit.
//!
//! The upstream status (inventory §2.1) is computed here too, memoised per call as Luigi
//! does, plus [`upstream_disabled`], the set of pending tasks blocked by a disabled task,
//! cached until the state changes, for `count_pending`.

use std::collections::{HashMap, HashSet, VecDeque};

use luigi_core::TaskId;
use luigi_core::rpc::wire::*;
use luigi_core::status::{TaskStatus, UpstreamStatus};

use super::idx::TaskIdx;
use super::ops;
use super::state::State;

/// Which `deps` a serialized node carries.
pub(crate) enum Deps {
    /// No `deps` key (`task_list`, `task_search`, running lists).
    None,
    /// The task's own dependencies.
    Own,
    /// The given ones (graph traversals: dependents, or without DONE ones).
    Given(Vec<TaskIdx>),
}

/// Luigi's `_serialize_task`.
pub(crate) fn serialize_task(state: &State, t: TaskIdx, deps: Deps) -> TaskNode {
    let task = state.task(t);
    let ids = |list: &[TaskIdx]| list.iter().map(|d| state.task(*d).id.clone()).collect::<Vec<TaskId>>();
    TaskNode {
        display_name: Some(task.pretty_id()),
        status: task.status,
        workers: task.workers.iter().map(|w| state.worker(*w).id.to_string()).collect(),
        worker_running: task.worker_running.as_deref().map(str::to_owned),
        time_running: task.time_running,
        start_time: task.time,
        last_updated: task.updated,
        params: task.public_param_map(),
        name: task.family.to_string(),
        priority: task.priority,
        resources: task.resources_map(),
        resources_running: task.resources_running.as_deref().cloned(),
        tracking_url: task.tracking_url().map(str::to_owned),
        status_message: task.status_message().map(str::to_owned),
        progress_percentage: task.progress_percentage(),
        re_enable_able: (task.status == TaskStatus::Disabled).then_some(task.scheduler_disable_time.is_some()),
        deps: match deps {
            Deps::None => None,
            Deps::Own => Some(ids(&task.deps)),
            Deps::Given(list) => Some(ids(&list)),
        },
        accepts_messages: (state.config.send_messages && task.status == TaskStatus::Running)
            .then_some(task.accepts_messages),
    }
}

/// Luigi's `STATUS_TO_UPSTREAM_MAP`.
fn upstream_of(status: TaskStatus) -> UpstreamStatus {
    match status {
        TaskStatus::Failed => UpstreamStatus::Failed,
        TaskStatus::Running | TaskStatus::BatchRunning => UpstreamStatus::Running,
        TaskStatus::Pending => UpstreamStatus::MissingInput,
        TaskStatus::Disabled => UpstreamStatus::Disabled,
        _ => UpstreamStatus::None,
    }
}

/// Luigi's `_upstream_status`, transcribed step for step because its memo table is shared by
/// every task of one request and its answers depend on that sharing (a node whose value is
/// still `""` is recomputed from whatever its dependencies hold when met again). `None` for
/// a task Luigi would not find.
pub(crate) fn upstream_status(
    state: &State,
    t: TaskIdx,
    table: &mut HashMap<TaskIdx, UpstreamStatus>,
) -> Option<UpstreamStatus> {
    if let Some(known) = table.get(&t) {
        return Some(*known);
    }
    if !state.task(t).visible {
        return None;
    }
    let mut stack = vec![t];
    let mut last = t;
    while let Some(current) = stack.pop() {
        last = current;
        let task = state.task(current);
        if !task.visible || task.status == TaskStatus::Done {
            continue;
        }
        match table.get(&current) {
            None => {
                if task.status == TaskStatus::Pending && !task.deps.is_empty() {
                    stack.push(current);
                    stack.extend(task.deps.iter().copied());
                    // Provisional; updated in post-order.
                    table.insert(current, UpstreamStatus::None);
                } else {
                    table.insert(current, upstream_of(task.status));
                }
            }
            Some(UpstreamStatus::None) if !task.deps.is_empty() => {
                let worst = task
                    .deps
                    .iter()
                    .map(|d| table.get(d).copied().unwrap_or(UpstreamStatus::None))
                    .max()
                    .unwrap_or(UpstreamStatus::None);
                table.insert(current, worst);
            }
            Some(_) => {}
        }
    }
    table.get(&last).copied()
}

/// PENDING tasks whose upstream status is UPSTREAM_DISABLED: reachable from a DISABLED task
/// through dependents that are PENDING. Cached until the state's version changes.
pub(crate) fn upstream_disabled(state: &mut State) -> Vec<TaskIdx> {
    if let Some((version, set)) = &state.upstream_disabled_cache
        && *version == state.version
    {
        return set.iter().copied().collect();
    }
    let mut blocked: HashSet<TaskIdx> = HashSet::new();
    let mut queue: VecDeque<TaskIdx> = state.with_status(TaskStatus::Disabled).iter().copied().collect();
    while let Some(t) = queue.pop_front() {
        for r in state.task(t).rdeps.iter() {
            let dependent = state.task(r);
            if dependent.visible && dependent.status == TaskStatus::Pending && blocked.insert(r) {
                queue.push_back(r);
            }
        }
    }
    let list = blocked.iter().copied().collect();
    state.upstream_disabled_cache = Some((state.version, blocked));
    list
}

/// `task_list` (inventory §1.4).
pub(crate) fn task_list(state: &mut State, now: f64, request: &TaskListRequest) -> TaskListReply {
    let limit = request.max_shown_tasks.unwrap_or(state.config.max_shown_tasks as u64) as usize;
    let search = request.search.as_deref().filter(|s| !s.is_empty());
    if search.is_none() {
        let count = match request.status {
            Some(status) => state.with_status(status).len(),
            None => state.n_visible(),
        };
        if request.limit && count > limit {
            let shown = if request.upstream_status.is_set() { -1 } else { count as i64 };
            return TaskListReply::TooMany { num_tasks: shown };
        }
    }
    ops::prune(state, now);
    let terms: Vec<String> = request.search.as_deref().unwrap_or("").split_whitespace().map(casefold).collect();
    // Luigi walks its status dict (or its task dict) in insertion order, and the upstream-status
    // memo shared across the walk makes answers depend on that order.
    let tasks: Vec<TaskIdx> = match request.status {
        Some(status) => {
            let mut tasks = state.with_status(status).to_vec();
            tasks.sort_unstable_by_key(|t| state.task(*t).status_seq);
            tasks
        }
        None => state.tasks_in_creation_order(),
    };
    let mut memo = HashMap::new();
    let mut result = TaskMap::new();
    for t in tasks {
        let task = state.task(t);
        if !terms.is_empty() {
            let pretty = casefold(&task.pretty_id());
            if !terms.iter().all(|term| pretty.contains(term.as_str())) {
                continue;
            }
        }
        if task.status != TaskStatus::Pending
            || !request.upstream_status.is_set()
            || request.upstream_status.admits(upstream_status(state, t, &mut memo))
        {
            result.insert(task.id.clone(), serialize_task(state, t, Deps::None));
        }
    }
    if request.limit && result.len() > limit {
        return TaskListReply::TooMany { num_tasks: result.len() as i64 };
    }
    TaskListReply::Tasks(result)
}

/// Python's `str.casefold`, close enough for search: Unicode lower-casing plus `ß` → `ss`.
fn casefold(text: &str) -> String {
    text.to_lowercase().replace('ß', "ss")
}

/// How a traversal finds the next nodes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Dependencies,
    Dependents,
}

/// Luigi's `_traverse_graph`: breadth first from `root`, dependencies in sorted order, cut at
/// `max_graph_nodes`.
fn traverse(
    state: &State,
    root: &TaskId,
    seen: &mut HashSet<TaskId>,
    direction: Direction,
    include_done: bool,
) -> GraphReply {
    let mut serialized = GraphReply::new();
    if !seen.insert(root.clone()) {
        return serialized;
    }
    let max_nodes = state.config.max_graph_nodes.max(0) as usize;
    let mut queue = VecDeque::from([root.clone()]);
    while let Some(id) = queue.pop_front() {
        let is_root = &id == root;
        let known = state.lookup(&id).filter(|t| !state.task(*t).family.is_empty());
        match known {
            None => {
                serialized.insert(id.clone(), GraphNode::Placeholder(PlaceholderNode::new(&id, is_root)));
            }
            Some(t) => {
                let mut next: Vec<TaskIdx> = match direction {
                    Direction::Dependencies => state.task(t).deps.to_vec(),
                    Direction::Dependents => state.task(t).rdeps.iter().filter(|r| state.task(*r).visible).collect(),
                };
                if !include_done {
                    next.retain(|d| state.task(*d).status != TaskStatus::Done || !state.task(*d).visible);
                }
                let mut node = serialize_task(state, t, Deps::Given(next.clone()));
                if !is_root {
                    node.display_name = None;
                }
                serialized.insert(id.clone(), GraphNode::Task(node));
                let mut next_ids: Vec<TaskId> = next.iter().map(|d| state.task(*d).id.clone()).collect();
                next_ids.sort();
                for dep in next_ids {
                    if seen.insert(dep.clone()) {
                        queue.push_back(dep);
                    }
                }
            }
        }
        if serialized.len() >= max_nodes {
            break;
        }
    }
    serialized
}

/// `dep_graph`.
pub(crate) fn dep_graph(state: &mut State, now: f64, request: &DepGraphRequest) -> GraphReply {
    ops::prune(state, now);
    if state.lookup(&request.task_id).is_none() {
        return GraphReply::new();
    }
    traverse(state, &request.task_id, &mut HashSet::new(), Direction::Dependencies, request.include_done)
}

/// `inverse_dep_graph`.
pub(crate) fn inverse_dep_graph(state: &mut State, now: f64, request: &DepGraphRequest) -> GraphReply {
    ops::prune(state, now);
    if state.lookup(&request.task_id).is_none() {
        return GraphReply::new();
    }
    traverse(state, &request.task_id, &mut HashSet::new(), Direction::Dependents, request.include_done)
}

/// `graph`: every task, traversed with a shared `seen` set.
pub(crate) fn graph(state: &mut State, now: f64) -> GraphReply {
    ops::prune(state, now);
    let mut seen = HashSet::new();
    let mut serialized = GraphReply::new();
    let roots: Vec<TaskId> = state.tasks_in_creation_order().into_iter().map(|t| state.task(t).id.clone()).collect();
    for root in roots {
        serialized.extend(traverse(state, &root, &mut seen, Direction::Dependencies, true));
    }
    serialized
}

/// `task_search`: tasks whose id contains `task_str`, grouped by status.
pub(crate) fn task_search(state: &mut State, now: f64, task_str: &str) -> TaskSearchReply {
    ops::prune(state, now);
    let mut result = TaskSearchReply::new();
    let tasks: Vec<TaskIdx> = state.visible_tasks().collect();
    for t in tasks {
        let task = state.task(t);
        if task.id.as_str().contains(task_str) {
            result.entry(task.status).or_default().insert(task.id.clone(), serialize_task(state, t, Deps::None));
        }
    }
    result
}

/// Keys `worker_list` writes itself; info keys with these names are left out rather than
/// duplicated (Python fails with a `TypeError` there).
const WORKER_KEYS: [&str; 10] = [
    "name",
    "last_active",
    "started",
    "state",
    "first_task_display_name",
    "num_unread_rpc_messages",
    "num_running",
    "num_pending",
    "num_uniques",
    "running",
];

/// `worker_list`.
pub(crate) fn worker_list(state: &mut State, now: f64, include_running: bool) -> Vec<WorkerEntry> {
    ops::prune(state, now);
    let mut entries: Vec<WorkerEntry> = state
        .worker_indices()
        .map(|w| {
            let worker = state.worker(w);
            let first_task = match worker.info.get("first_task") {
                Some(serde_json::Value::String(id)) => match state.lookup(&TaskId::new(id.as_str())) {
                    Some(t) => state.task(t).pretty_id(),
                    None => id.clone(),
                },
                Some(other) => other.to_string(),
                None => String::new(),
            };
            WorkerEntry {
                name: worker.id.to_string(),
                last_active: worker.last_active,
                started: worker.started,
                state: if worker.disabled { WorkerState::Disabled } else { WorkerState::Active },
                first_task_display_name: first_task,
                num_unread_rpc_messages: worker.rpc_messages.len() as u64,
                info: worker
                    .info
                    .iter()
                    .filter(|(key, _)| !WORKER_KEYS.contains(&key.as_str()))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                num_running: None,
                num_pending: None,
                num_uniques: None,
                running: None,
            }
        })
        .collect();
    entries.sort_by(|a, b| b.started.total_cmp(&a.started));
    if include_running {
        let mut running: HashMap<String, TaskMap> = HashMap::new();
        for t in state.with_status(TaskStatus::Running) {
            if let Some(runner) = state.task(*t).worker_running.as_deref() {
                running
                    .entry(runner.to_owned())
                    .or_default()
                    .insert(state.task(*t).id.clone(), serialize_task(state, *t, Deps::None));
            }
        }
        let mut pending: HashMap<u32, u64> = HashMap::new();
        let mut uniques: HashMap<u32, u64> = HashMap::new();
        for t in state.with_status(TaskStatus::Pending) {
            let workers = &state.task(*t).workers;
            for w in workers {
                *pending.entry(*w).or_default() += 1;
            }
            if let [only] = workers.as_slice() {
                *uniques.entry(*only).or_default() += 1;
            }
        }
        for entry in &mut entries {
            let w = state.by_worker.get(entry.name.as_str()).copied();
            let tasks = running.remove(&entry.name).unwrap_or_default();
            entry.num_running = Some(tasks.len() as u64);
            entry.num_pending = Some(w.and_then(|w| pending.get(&w).copied()).unwrap_or(0));
            entry.num_uniques = Some(w.and_then(|w| uniques.get(&w).copied()).unwrap_or(0));
            entry.running = Some(tasks);
        }
    }
    entries
}

/// `resource_list`.
pub(crate) fn resource_list(state: &mut State, now: f64) -> Vec<ResourceEntry> {
    ops::prune(state, now);
    let used = ops::used_resources(state);
    let mut consumers: HashMap<String, TaskMap> = HashMap::new();
    for t in state.with_status(TaskStatus::Running) {
        let task = state.task(*t);
        for resource in task.resources.as_deref().into_iter().flatten().map(|(name, _)| name) {
            consumers
                .entry(resource.clone())
                .or_default()
                .insert(task.id.clone(), serialize_task(state, *t, Deps::None));
        }
    }
    state
        .resources
        .iter()
        .map(|(name, total)| {
            let running = consumers.remove(name).unwrap_or_default();
            ResourceEntry {
                name: name.clone(),
                num_total: *total,
                num_used: used.get(name).copied().unwrap_or(0),
                num_consumer: running.len() as u64,
                running,
            }
        })
        .collect()
}

/// `fetch_error`.
pub(crate) fn fetch_error(state: &State, task_id: &TaskId) -> FetchErrorReply {
    match state.lookup(task_id) {
        Some(t) => {
            let task = state.task(t);
            FetchErrorReply::Known {
                task_id: task_id.clone(),
                error: task.expl.as_deref().map(str::to_owned),
                display_name: task.pretty_id(),
                task_params: task.param_map(),
                task_module: task.module.as_deref().map(str::to_owned),
                task_family: task.family.to_string(),
            }
        }
        None => FetchErrorReply::Unknown { task_id: task_id.clone(), error: String::new() },
    }
}
