//! The engine's task and worker records (inventory §2.2), laid out for memory.
//!
//! Everything a million-task run has a million of is kept small: parameters as a boxed slice
//! with interned names, dependencies as `u32` handles, fields most tasks never use (tracking
//! URL, status message, failure history, message responses) behind one optional box. Fields
//! keep Luigi's meaning; where Luigi stores a worker id string that outlives the worker
//! (`worker_running` stays on a DONE task after its worker left), the string is kept.

use std::collections::VecDeque;
use std::sync::Arc;

use indexmap::IndexMap;
use luigi_core::TaskId;
use luigi_core::rpc::wire::{InfoMap, Number, ParamMap, ResourceMap, RpcMessage};
use luigi_core::status::TaskStatus;
use serde_json::Value;
use smallvec::SmallVec;

use super::idx::{IdxSet, TaskIdx, WorkerIdx};

/// A task's parameters as the adding worker sent them, packed into two allocations: the
/// entries (interned name, end of the value, visibility) and one string of all values.
#[derive(Debug, Clone, Default)]
pub(crate) struct ParamList {
    entries: Box<[(Arc<str>, u32, bool)]>,
    values: Box<str>,
}

/// One parameter of a [`ParamList`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct ParamRef<'a> {
    /// The name.
    pub(crate) name: &'a Arc<str>,
    /// The serialized value.
    pub(crate) value: &'a str,
    /// Whether the UI may show it (visibility public).
    pub(crate) public: bool,
}

impl ParamList {
    /// Packs `(name, value, public)` entries, in order.
    pub(crate) fn new<'a>(items: impl IntoIterator<Item = (Arc<str>, &'a str, bool)>) -> ParamList {
        let mut values = String::new();
        let mut entries = Vec::new();
        for (name, value, public) in items {
            values.push_str(value);
            // A parameter string over 4 GiB cannot arrive in one request body.
            entries.push((name, u32::try_from(values.len()).unwrap_or(u32::MAX), public));
        }
        ParamList { entries: entries.into_boxed_slice(), values: values.into_boxed_str() }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = ParamRef<'_>> + '_ {
        let mut start = 0usize;
        self.entries.iter().map(move |(name, end, public)| {
            let end = (*end as usize).min(self.values.len());
            let value = self.values.get(start..end).unwrap_or("");
            start = end;
            ParamRef { name, value, public: *public }
        })
    }
}

/// A parameter name with the visibility a worker declared for it (0 public, 1 hidden).
pub(crate) type Visibility = (Arc<str>, i64);

/// The effective retry policy of a task: the scheduler's values overridden per task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Policy {
    /// Failures within the window that disable the task.
    pub(crate) retry_count: i64,
    /// Seconds after the first failure after which failing disables the task.
    pub(crate) disable_hard_timeout: i64,
    /// Seconds over which failures are counted.
    pub(crate) disable_window: i64,
}

/// Failure bookkeeping, only for tasks that have failed.
#[derive(Debug, Clone, Default)]
pub(crate) struct Failures {
    /// Failure times within the window (older ones are dropped lazily).
    pub(crate) times: VecDeque<f64>,
    /// The first failure since the last reset.
    pub(crate) first: Option<f64>,
}

/// Fields only some tasks use.
#[derive(Debug, Clone, Default)]
pub(crate) struct Extra {
    pub(crate) tracking_url: Option<String>,
    pub(crate) status_message: Option<String>,
    pub(crate) progress_percentage: Option<Number>,
    pub(crate) message_responses: IndexMap<String, Value>,
}

/// A task the scheduler knows about.
#[derive(Debug, Clone)]
pub(crate) struct TaskRec {
    pub(crate) id: TaskId,
    /// False for "ghosts": dependencies nobody has announced, which Luigi does not store; they
    /// exist only so that dependents can point at them, and are invisible to every RPC.
    pub(crate) visible: bool,
    pub(crate) status: TaskStatus,
    /// When the task was created (a global counter): the order Luigi's task dict iterates in.
    pub(crate) created_seq: u64,
    /// Position in the status index (for O(1) removal).
    pub(crate) status_pos: u32,
    /// When the task entered its current status (a global counter; see `Rank`).
    pub(crate) status_seq: u64,
    /// Interned family; empty for placeholders.
    pub(crate) family: Arc<str>,
    pub(crate) module: Option<Arc<str>>,
    pub(crate) params: ParamList,
    /// The visibilities the worker sent, used when parameters arrive after them.
    pub(crate) param_visibilities: Option<Box<[Visibility]>>,
    /// Dependencies, in the order first announced.
    pub(crate) deps: SmallVec<[TaskIdx; 4]>,
    /// Tasks that depend on this one.
    pub(crate) rdeps: IdxSet,
    /// How many dependencies are not DONE (ghosts count as not DONE).
    pub(crate) unmet: u32,
    pub(crate) stakeholders: IdxSet,
    /// Workers that may run it, in the order they were added (an ordered set).
    pub(crate) workers: SmallVec<[WorkerIdx; 2]>,
    pub(crate) time: f64,
    pub(crate) updated: f64,
    pub(crate) retry: Option<f64>,
    pub(crate) remove: Option<f64>,
    pub(crate) worker_running: Option<Arc<str>>,
    pub(crate) time_running: Option<f64>,
    pub(crate) resources: Option<Box<ResourceMap>>,
    pub(crate) resources_running: Option<Box<ResourceMap>>,
    pub(crate) priority: Number,
    /// The explanation the worker sent (JSON text; `"null"` for most tasks, shared).
    pub(crate) expl: Option<Arc<str>>,
    pub(crate) accepts_messages: bool,
    pub(crate) runnable: bool,
    pub(crate) batchable: bool,
    pub(crate) batch_id: Option<Arc<str>>,
    pub(crate) policy: Policy,
    pub(crate) failures: Option<Box<Failures>>,
    pub(crate) scheduler_disable_time: Option<f64>,
    pub(crate) extra: Option<Box<Extra>>,
    /// Whether the task changed since state was last persisted.
    pub(crate) dirty: bool,
}

impl TaskRec {
    pub(crate) fn resources_is_empty(&self) -> bool {
        self.resources.as_ref().is_none_or(|r| r.is_empty())
    }

    pub(crate) fn resources_map(&self) -> ResourceMap {
        self.resources.as_deref().cloned().unwrap_or_default()
    }

    pub(crate) fn extra_mut(&mut self) -> &mut Extra {
        self.extra.get_or_insert_with(Default::default)
    }

    /// Sets (or clears) the tracking URL; clearing one that was never set allocates nothing,
    /// since every task announced as PENDING clears it.
    pub(crate) fn set_tracking_url(&mut self, url: Option<String>) {
        match (url, self.extra.as_mut()) {
            (None, None) => {}
            (None, Some(extra)) => extra.tracking_url = None,
            (Some(url), _) => self.extra_mut().tracking_url = Some(url),
        }
    }

    pub(crate) fn tracking_url(&self) -> Option<&str> {
        self.extra.as_ref().and_then(|e| e.tracking_url.as_deref())
    }

    pub(crate) fn status_message(&self) -> Option<&str> {
        self.extra.as_ref().and_then(|e| e.status_message.as_deref())
    }

    pub(crate) fn progress_percentage(&self) -> Option<Number> {
        self.extra.as_ref().and_then(|e| e.progress_percentage)
    }

    /// All parameters, as sent (hidden ones included).
    pub(crate) fn param_map(&self) -> ParamMap {
        self.params.iter().map(|p| (p.name.to_string(), p.value.to_string())).collect()
    }

    /// The public parameters, as the UI shows them.
    pub(crate) fn public_param_map(&self) -> ParamMap {
        self.params.iter().filter(|p| p.public).map(|p| (p.name.to_string(), p.value.to_string())).collect()
    }

    /// The value of parameter `name`.
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|p| &**p.name == name).map(|p| p.value)
    }

    /// Luigi's `pretty_id`: `Family(k=v, ...)` over the public parameters sorted by name.
    pub(crate) fn pretty_id(&self) -> String {
        luigi_core::task::pretty_id(&self.family, self.params.iter().filter(|p| p.public).map(|p| (&**p.name, p.value)))
    }

    pub(crate) fn is_running(&self) -> bool {
        matches!(self.status, TaskStatus::Running | TaskStatus::BatchRunning)
    }
}

/// A worker the scheduler has heard from.
#[derive(Debug, Clone)]
pub(crate) struct WorkerRec {
    pub(crate) id: Arc<str>,
    /// When the record was created (a global counter): the order Luigi's worker dict iterates in.
    pub(crate) created_seq: u64,
    /// The host it last reported in `get_work`.
    pub(crate) host: Option<String>,
    pub(crate) last_active: f64,
    pub(crate) last_get_work: Option<f64>,
    pub(crate) started: f64,
    pub(crate) info: InfoMap,
    pub(crate) disabled: bool,
    pub(crate) rpc_messages: Vec<RpcMessage>,
    /// Tasks this worker may run (it is in their `workers`).
    pub(crate) tasks: IdxSet,
    /// Tasks this worker is a stakeholder of.
    pub(crate) stake: IdxSet,
    /// Its tasks that could run now (PENDING, every dependency DONE), in `get_work` order.
    pub(crate) ready: std::collections::BTreeSet<super::idx::Rank>,
    /// Its PENDING tasks that declare resources (zero makes it a "trivial" worker).
    pub(crate) pending_with_resources: u32,
    /// Its PENDING or FAILED tasks.
    pub(crate) n_pending: u64,
    /// ... of which it is the only worker.
    pub(crate) n_unique: u64,
    /// ... of which it was the last worker added.
    pub(crate) n_last: u64,
    pub(crate) dirty: bool,
}

impl WorkerRec {
    pub(crate) fn new(id: Arc<str>, now: f64, created_seq: u64) -> WorkerRec {
        WorkerRec {
            id,
            created_seq,
            host: None,
            last_active: now,
            last_get_work: None,
            started: now,
            info: InfoMap::new(),
            disabled: false,
            rpc_messages: Vec::new(),
            tasks: IdxSet::default(),
            stake: IdxSet::default(),
            ready: Default::default(),
            pending_with_resources: 0,
            n_pending: 0,
            n_unique: 0,
            n_last: 0,
            dirty: true,
        }
    }

    /// Luigi's `Worker.assistant`: the `assistant` info key, truth-tested.
    pub(crate) fn is_assistant(&self) -> bool {
        self.info.get("assistant").is_some_and(truthy)
    }

    /// The number of processes the worker said it runs (`workers` info key, default 1).
    pub(crate) fn processes(&self) -> i64 {
        match self.info.get("workers") {
            Some(Value::Number(n)) => n.as_i64().unwrap_or(1),
            Some(Value::Bool(b)) => i64::from(*b),
            _ => 1,
        }
    }
}

/// Python's truth test of a JSON value.
pub(crate) fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

#[cfg(test)]
mod size_tests {
    /// Design §5 budgets under 1 KiB per task in luigid; the record is the largest part, so a
    /// field added carelessly shows up here first.
    #[test]
    fn task_record_stays_small() {
        let size = std::mem::size_of::<super::TaskRec>();
        assert!(size <= 460, "TaskRec grew to {size} bytes; keep rarely used fields in `Extra`");
        assert!(std::mem::size_of::<super::ParamList>() <= 32);
    }
}
