//! The visualiser's read queries over the scheduler state: one page of a filtered, sorted task list with
//! the counts its status cards and family sidebar show, and a bounded dependency graph.
//!
//! Luigi's visualiser asks `task_list` for every task of a status and filters, sorts and pages
//! in the browser, which freezes at tens of thousands of tasks. Here the browser sends its
//! filters and gets back only the rows it draws: one pass over the visible tasks classifies,
//! filters and counts them (status counts ignore the status filter, family counts ignore the
//! family filter, so both stay meaningful while filtering), the page is picked with a partial
//! selection (`select_nth_unstable_by`) instead of sorting every match, and only the page's
//! rows are serialized. Measured at 100k tasks in the docs (docs/visualiser.md).
//!
//! Categories split PENDING as Luigi's visualiser does with upstream statuses: a pending task
//! that reaches a DISABLED task through pending tasks is "upstream disabled", otherwise one that
//! reaches a FAILED task is "upstream failed" (DISABLED outranks FAILED in Luigi's severity
//! order). Both sets come from one breadth-first walk over dependents from the disabled and
//! failed tasks, so their cost is the size of the blocked part of the graph, not of the whole
//! state.
//!
//! The graph query is a breadth-first walk like `dep_graph`'s but cut at the caller's display
//! limit (never above `max_graph_nodes`), with each node's BFS depth as its layer and, for
//! nodes on the cut, how many neighbours were left out, so the browser can say the drawing is
//! truncated and where.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use luigi_core::TaskId;
use luigi_core::rpc::wire::{Number, ParamMap};
use luigi_core::status::TaskStatus;
use serde::Serialize;

use super::idx::TaskIdx;
use super::state::State;

/// Most families one page lists: a sidebar of thousands helps nobody, and a state where every
/// task is its own family would otherwise send every name on every poll.
pub const MAX_FAMILIES: usize = 300;

/// What the visualiser shows a task as: its status, with PENDING split by upstream status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Category {
    /// PENDING, nothing upstream failed or disabled.
    Pending,
    /// RUNNING.
    Running,
    /// BATCH_RUNNING.
    BatchRunning,
    /// DONE.
    Done,
    /// FAILED.
    Failed,
    /// PENDING behind a FAILED task.
    UpstreamFailed,
    /// DISABLED.
    Disabled,
    /// PENDING behind a DISABLED task.
    UpstreamDisabled,
    /// UNKNOWN (or a legacy status).
    Unknown,
}

impl Category {
    /// Every category, in the order the cards show them.
    pub const ALL: [Category; 9] = [
        Category::Pending,
        Category::Running,
        Category::BatchRunning,
        Category::Done,
        Category::Failed,
        Category::UpstreamFailed,
        Category::Disabled,
        Category::UpstreamDisabled,
        Category::Unknown,
    ];

    fn slot(self) -> usize {
        self as usize
    }
}

/// How the list is sorted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SortKey {
    /// Family, then task id.
    Name,
    /// Priority.
    Priority,
    /// Last status change (the default).
    #[default]
    Time,
    /// Category, in card order.
    Status,
    /// The worker running it (tasks not running last).
    Worker,
}

/// One request for a page of the task list.
#[derive(Debug, Clone, Default)]
pub struct TaskQuery {
    /// Only tasks of this category.
    pub category: Option<Category>,
    /// Only tasks of this family.
    pub family: Option<String>,
    /// Whitespace-separated terms that must all occur, ignoring case, in the display name.
    pub search: String,
    /// Only this task (the detail view): an O(1) lookup, no scan.
    pub task_id: Option<String>,
    /// Sort key.
    pub sort: SortKey,
    /// Descending instead of ascending.
    pub descending: bool,
    /// Rows to skip.
    pub offset: usize,
    /// Rows to return.
    pub limit: usize,
}

/// One row of the task list (and the detail view).
#[derive(Debug, Clone, Serialize)]
pub struct TaskRow {
    /// Task id.
    pub id: String,
    /// Family.
    pub name: String,
    /// Luigi's display name, `Family(k=v, ...)`, over public parameters.
    pub display_name: String,
    /// Public parameters (hidden ones are never sent).
    pub params: ParamMap,
    /// Priority.
    pub priority: Number,
    /// The scheduler's status.
    pub status: TaskStatus,
    /// The visualiser's category.
    pub category: Category,
    /// When the task was first scheduled (Luigi's `start_time`).
    pub start_time: f64,
    /// Last status change.
    pub last_updated: f64,
    /// When it started running.
    pub time_running: Option<f64>,
    /// The worker running it.
    pub worker_running: Option<String>,
    /// Workers interested in it.
    pub workers: Vec<String>,
    /// The task's status message.
    pub status_message: Option<String>,
    /// Progress, 0 to 100.
    pub progress_percentage: Option<Number>,
    /// Tracking URL.
    pub tracking_url: Option<String>,
    /// Whether `re_enable_task` would re-enable it (scheduler-disabled tasks only).
    pub re_enable_able: bool,
    /// Whether `send_scheduler_message` can reach it.
    pub accepts_messages: bool,
    /// Number of dependencies.
    pub num_deps: usize,
    /// Number of visible dependents.
    pub num_dependents: usize,
    /// Task module, when the worker sent one.
    pub module: Option<String>,
    /// For one task looked up by id that waits behind a failure: the FAILED (or, for upstream
    /// disabled, DISABLED) tasks it waits for, nearest first, at most [`MAX_BLOCKERS`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub blocked_by: Vec<Blocker>,
}

/// A task another one waits for.
#[derive(Debug, Clone, Serialize)]
pub struct Blocker {
    /// Task id.
    pub id: String,
    /// Display name.
    pub display_name: String,
    /// Its status.
    pub status: TaskStatus,
}

/// Most blockers reported for one task.
pub const MAX_BLOCKERS: usize = 20;

/// A family and how many tasks of it pass the other filters.
#[derive(Debug, Clone, Serialize)]
pub struct FamilyCount {
    /// Family name.
    pub name: String,
    /// Matching tasks.
    pub count: u64,
}

/// A page of the task list with the counts around it.
#[derive(Debug, Clone, Serialize)]
pub struct TaskPage {
    /// Visible tasks in the scheduler.
    pub total: usize,
    /// Tasks passing every filter.
    pub matched: usize,
    /// Offset of the first row.
    pub offset: usize,
    /// Count per category of tasks passing the family and search filters.
    pub counts: HashMap<Category, u64>,
    /// Count per family of tasks passing the category and search filters, by name: the first
    /// [`MAX_FAMILIES`], plus the filtered family when it is further down.
    pub families: Vec<FamilyCount>,
    /// How many families have tasks passing the category and search filters.
    pub families_total: usize,
    /// How many tasks pass the category and search filters (the "all families" count).
    pub family_tasks: u64,
    /// The rows.
    pub tasks: Vec<TaskRow>,
    /// Whether the scheduler is paused.
    pub paused: bool,
    /// Whether pausing is allowed.
    pub pause_enabled: bool,
    /// Whether task history is recorded (the UI links to `/history`).
    pub history: bool,
    /// Whether messages may be sent to running tasks.
    pub send_messages: bool,
    /// `max_graph_nodes`.
    pub max_graph_nodes: i64,
}

/// Which way a graph walk goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GraphDirection {
    /// Dependencies (`dep_graph`).
    #[default]
    Deps,
    /// Dependents (`inverse_dep_graph`).
    Dependents,
}

/// One node of a bounded graph.
#[derive(Debug, Clone, Serialize)]
pub struct GraphNodeRow {
    /// Task id.
    pub id: String,
    /// Family (the id for a task the scheduler only knows as a dependency).
    pub name: String,
    /// Display name.
    pub display_name: String,
    /// Category (UNKNOWN for a dependency nobody announced).
    pub category: Category,
    /// Breadth-first depth from the root: the drawing's layer.
    pub layer: usize,
    /// Indices into `nodes` of the neighbours drawn (dependencies or dependents).
    pub next: Vec<usize>,
    /// Neighbours left out because the walk was cut.
    pub hidden: usize,
}

/// A graph cut at a node limit.
#[derive(Debug, Clone, Serialize)]
pub struct GraphView {
    /// Nodes, root first, in breadth-first order.
    pub nodes: Vec<GraphNodeRow>,
    /// Whether nodes were left out.
    pub truncated: bool,
    /// The limit applied.
    pub limit: usize,
    /// The scheduler's `max_graph_nodes`.
    pub max_graph_nodes: i64,
}

/// Per-call classification of pending tasks.
struct Upstream {
    disabled: HashSet<TaskIdx>,
    failed: HashSet<TaskIdx>,
}

impl Upstream {
    fn compute(state: &State) -> Upstream {
        let disabled = blocked_by(state, state.with_status(TaskStatus::Disabled), &HashSet::new());
        let failed = blocked_by(state, state.with_status(TaskStatus::Failed), &disabled);
        Upstream { disabled, failed }
    }

    fn category(&self, state: &State, t: TaskIdx) -> Category {
        match state.task(t).status {
            TaskStatus::Pending | TaskStatus::Suspended if self.disabled.contains(&t) => Category::UpstreamDisabled,
            TaskStatus::Pending | TaskStatus::Suspended if self.failed.contains(&t) => Category::UpstreamFailed,
            TaskStatus::Pending | TaskStatus::Suspended => Category::Pending,
            TaskStatus::Running => Category::Running,
            TaskStatus::BatchRunning => Category::BatchRunning,
            TaskStatus::Done => Category::Done,
            TaskStatus::Failed => Category::Failed,
            TaskStatus::Disabled => Category::Disabled,
            TaskStatus::Unknown => Category::Unknown,
        }
    }
}

/// PENDING tasks reachable from `sources` through PENDING dependents, minus `exclude`.
fn blocked_by(state: &State, sources: &[TaskIdx], exclude: &HashSet<TaskIdx>) -> HashSet<TaskIdx> {
    let mut blocked = HashSet::new();
    let mut queue: VecDeque<TaskIdx> = sources.iter().copied().collect();
    while let Some(t) = queue.pop_front() {
        for r in state.task(t).rdeps.iter() {
            let dependent = state.task(r);
            if dependent.visible && dependent.status == TaskStatus::Pending && blocked.insert(r) {
                queue.push_back(r);
            }
        }
    }
    blocked.retain(|t| !exclude.contains(t));
    blocked
}

/// Python's `str.casefold`, close enough for search.
fn casefold(text: &str) -> String {
    text.to_lowercase().replace('ß', "ss")
}

/// Whether every (case-folded) term occurs in `text` ignoring case. ASCII text, the common case,
/// is compared in place; anything else is case-folded first.
fn matches_all(text: &str, terms: &[String]) -> bool {
    if text.is_ascii() && terms.iter().all(|t| t.is_ascii()) {
        let bytes = text.as_bytes();
        return terms.iter().all(|term| {
            let needle = term.as_bytes();
            needle.is_empty() || bytes.windows(needle.len()).any(|window| window.eq_ignore_ascii_case(needle))
        });
    }
    let folded = casefold(text);
    terms.iter().all(|term| folded.contains(term.as_str()))
}

fn row(state: &State, t: TaskIdx, category: Category) -> TaskRow {
    let task = state.task(t);
    TaskRow {
        id: task.id.to_string(),
        name: task.family.to_string(),
        display_name: task.pretty_id(),
        params: task.public_param_map(),
        priority: task.priority,
        status: task.status,
        category,
        start_time: task.time,
        last_updated: task.updated,
        time_running: task.time_running,
        worker_running: task.worker_running.as_deref().map(str::to_owned),
        workers: task.workers.iter().map(|w| state.worker(*w).id.to_string()).collect(),
        status_message: task.status_message().map(str::to_owned),
        progress_percentage: task.progress_percentage(),
        tracking_url: task.tracking_url().map(str::to_owned),
        re_enable_able: task.status == TaskStatus::Disabled && task.scheduler_disable_time.is_some_and(|at| at != 0.0),
        accepts_messages: state.config.send_messages && task.status == TaskStatus::Running && task.accepts_messages,
        num_deps: task.deps.len(),
        num_dependents: task.rdeps.iter().filter(|r| state.task(*r).visible).count(),
        module: task.module.as_deref().map(str::to_owned),
        blocked_by: Vec::new(),
    }
}

/// The tasks of `status` that `t` reaches through PENDING dependencies, breadth first.
fn blockers(state: &State, t: TaskIdx, status: TaskStatus) -> Vec<Blocker> {
    let mut found = Vec::new();
    let mut seen = HashSet::from([t]);
    let mut queue = VecDeque::from([t]);
    while let Some(current) = queue.pop_front() {
        for d in state.task(current).deps.iter().copied() {
            let dep = state.task(d);
            if !dep.visible || !seen.insert(d) {
                continue;
            }
            if dep.status == status {
                found.push(Blocker { id: dep.id.to_string(), display_name: dep.pretty_id(), status });
                if found.len() == MAX_BLOCKERS {
                    return found;
                }
            } else if dep.status == TaskStatus::Pending {
                queue.push_back(d);
            }
        }
    }
    found
}

/// One page of the task list; see the module docs.
pub(crate) fn task_page(state: &State, query: &TaskQuery) -> TaskPage {
    let upstream = Upstream::compute(state);
    let mut page = TaskPage {
        total: state.n_visible(),
        matched: 0,
        offset: query.offset,
        counts: HashMap::new(),
        families: Vec::new(),
        families_total: 0,
        family_tasks: 0,
        tasks: Vec::new(),
        paused: state.paused,
        pause_enabled: state.config.pause_enabled,
        history: state.config.record_task_history,
        send_messages: state.config.send_messages,
        max_graph_nodes: state.config.max_graph_nodes,
    };
    if let Some(id) = &query.task_id {
        if let Some(t) = state.lookup(&TaskId::new(id.as_str())) {
            let category = upstream.category(state, t);
            page.matched = 1;
            if query.offset == 0 && query.limit > 0 {
                let mut row = row(state, t, category);
                row.blocked_by = match category {
                    Category::UpstreamFailed => blockers(state, t, TaskStatus::Failed),
                    Category::UpstreamDisabled => blockers(state, t, TaskStatus::Disabled),
                    _ => Vec::new(),
                };
                page.tasks.push(row);
            }
        }
        return page;
    }
    let terms: Vec<String> = query.search.split_whitespace().map(casefold).collect();
    let family = query.family.as_deref().filter(|f| !f.is_empty());
    let mut counts = [0u64; Category::ALL.len()];
    // Families are interned, so they are counted by address (no string hashing per task);
    // equal names behind different addresses are merged below.
    let mut families: HashMap<usize, (&str, u64), BuildHasherDefault<AddressHasher>> = HashMap::default();
    let mut matched: Vec<Match> = Vec::new();
    for t in state.visible_tasks() {
        let task = state.task(t);
        if !terms.is_empty() && !matches_all(&task.pretty_id(), &terms) {
            continue;
        }
        let category = upstream.category(state, t);
        let family_ok = family.is_none_or(|f| *task.family == *f);
        let category_ok = query.category.is_none_or(|c| c == category);
        if family_ok {
            counts[category.slot()] += 1;
        }
        if category_ok {
            let address = Arc::as_ptr(&task.family).cast::<u8>() as usize;
            families.entry(address).or_insert((&task.family, 0)).1 += 1;
        }
        if family_ok && category_ok {
            let (key, then) = match query.sort {
                SortKey::Time => (task.updated, 0.0),
                SortKey::Priority => (task.priority.as_f64(), task.updated),
                SortKey::Status => (category.slot() as f64, task.updated),
                SortKey::Name | SortKey::Worker => (0.0, task.updated),
            };
            matched.push(Match { key, then, t, category });
        }
    }
    page.counts = Category::ALL.iter().map(|c| (*c, counts[c.slot()])).collect();
    let mut by_name: Vec<(&str, u64)> = families.into_values().collect();
    by_name.sort_unstable_by(|a, b| a.0.cmp(b.0));
    by_name.dedup_by(|later, kept| {
        let same = later.0 == kept.0;
        if same {
            kept.1 += later.1;
        }
        same
    });
    page.families_total = by_name.len();
    page.family_tasks = by_name.iter().map(|(_, count)| count).sum();
    let beyond = family.and_then(|f| by_name.iter().skip(MAX_FAMILIES).find(|(name, _)| *name == f).copied());
    by_name.truncate(MAX_FAMILIES);
    by_name.extend(beyond);
    page.families = by_name.into_iter().map(|(name, count)| FamilyCount { name: name.to_owned(), count }).collect();
    page.matched = matched.len();

    let compare = |a: &Match, b: &Match| {
        let primary = match query.sort {
            SortKey::Time | SortKey::Priority | SortKey::Status => a.key.total_cmp(&b.key),
            SortKey::Name => state.task(a.t).family.cmp(&state.task(b.t).family),
            SortKey::Worker => match (&state.task(a.t).worker_running, &state.task(b.t).worker_running) {
                (Some(x), Some(y)) => x.cmp(y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            },
        };
        let primary = if query.descending { primary.reverse() } else { primary };
        primary.then_with(|| match query.sort {
            // Within a family, by task id; otherwise the most recently changed first.
            SortKey::Name => state.task(a.t).id.as_str().cmp(state.task(b.t).id.as_str()),
            _ => b.then.total_cmp(&a.then).then(a.t.cmp(&b.t)),
        })
    };
    let end = query.offset.saturating_add(query.limit).min(matched.len());
    if query.offset < end {
        // Only the rows up to the page's end need ordering.
        if end < matched.len() {
            matched.select_nth_unstable_by(end, compare);
            matched.truncate(end);
        }
        matched.sort_unstable_by(compare);
        page.tasks = matched[query.offset..end].iter().map(|m| row(state, m.t, m.category)).collect();
    }
    page
}

/// A task that passed the filters, with its sort keys copied out, so that ordering compares
/// within the vector instead of reading two task records per comparison.
#[derive(Clone, Copy)]
struct Match {
    key: f64,
    then: f64,
    t: TaskIdx,
    category: Category,
}

/// Hashes the address of an interned string: a multiply and a fold, since addresses are
/// aligned and differ in their middle bits.
#[derive(Default)]
struct AddressHasher(u64);

impl Hasher for AddressHasher {
    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*byte)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_usize(&mut self, n: usize) {
        let x = (n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 = x ^ (x >> 29);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A breadth-first graph from `root`, cut at `limit` nodes (at most `max_graph_nodes`); `None`
/// when the scheduler does not know the task.
pub(crate) fn graph_view(
    state: &State,
    root: &str,
    direction: GraphDirection,
    include_done: bool,
    limit: usize,
) -> Option<GraphView> {
    let root = state.lookup(&TaskId::new(root))?;
    let max_graph_nodes = state.config.max_graph_nodes;
    let limit = limit.clamp(1, usize::try_from(max_graph_nodes.max(1)).unwrap_or(usize::MAX));
    let upstream = Upstream::compute(state);
    let mut index: HashMap<TaskIdx, usize> = HashMap::from([(root, 0)]);
    let mut order: Vec<(TaskIdx, usize)> = vec![(root, 0)];
    let mut truncated = false;
    let mut cursor = 0;
    let neighbours = |t: TaskIdx| -> Vec<TaskIdx> {
        let task = state.task(t);
        let mut next: Vec<TaskIdx> = match direction {
            GraphDirection::Deps => task.deps.to_vec(),
            GraphDirection::Dependents => task.rdeps.iter().filter(|r| state.task(*r).visible).collect(),
        };
        if !include_done {
            next.retain(|d| state.task(*d).status != TaskStatus::Done || !state.task(*d).visible);
        }
        next.sort_by(|a, b| state.task(*a).id.as_str().cmp(state.task(*b).id.as_str()));
        next
    };
    while cursor < order.len() {
        let (t, layer) = order[cursor];
        cursor += 1;
        // Ghost dependencies have no dependencies of their own to walk.
        if !state.task(t).visible {
            continue;
        }
        for d in neighbours(t) {
            if index.contains_key(&d) {
                continue;
            }
            if order.len() >= limit {
                truncated = true;
                break;
            }
            index.insert(d, order.len());
            order.push((d, layer + 1));
        }
    }
    let nodes = order
        .iter()
        .map(|&(t, layer)| {
            let task = state.task(t);
            let (mut next, mut hidden) = (Vec::new(), 0);
            if task.visible {
                for d in neighbours(t) {
                    match index.get(&d) {
                        Some(i) => next.push(*i),
                        None => hidden += 1,
                    }
                }
            }
            let (name, display_name, category) = if task.visible && !task.family.is_empty() {
                (task.family.to_string(), task.pretty_id(), upstream.category(state, t))
            } else {
                (task.id.to_string(), task.id.to_string(), Category::Unknown)
            };
            GraphNodeRow { id: task.id.to_string(), name, display_name, category, layer, next, hidden }
        })
        .collect();
    Some(GraphView { nodes, truncated, limit, max_graph_nodes })
}

#[cfg(test)]
mod tests {
    use super::matches_all;

    #[test]
    fn search_ignores_case_in_ascii_and_beyond() {
        let terms = |t: &[&str]| t.iter().map(|s| super::casefold(s)).collect::<Vec<_>>();
        assert!(matches_all("Report(date=2024-01-01)", &terms(&["report", "DATE=2024"])));
        assert!(!matches_all("Report(date=2024-01-01)", &terms(&["report", "2025"])));
        assert!(matches_all("Straße(x=ÄB)", &terms(&["STRASSE", "äb"])));
        assert!(!matches_all("Straße(x=ÄB)", &terms(&["strasse", "ac"])));
        assert!(matches_all("Short", &[]));
        assert!(!matches_all("ab", &terms(&["abc"])));
    }
}
