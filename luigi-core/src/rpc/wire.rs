//! The request and reply types of every Luigi 3.8.1 scheduler RPC, exactly as they travel.
//!
//! Every request type is named `<Method>Request` (methods without arguments share
//! [`NoArgs`]); reply types are named after what they hold. Field names are Luigi's argument
//! and key names, so `serde` maps them one to one. Three rules shape the requests:
//!
//! - A field with a Python default has the same `serde` default, so a request that leaves it
//!   out decodes as Python would fill it in. Arguments Python requires (or asserts, such as
//!   `worker` and `add_task`'s `task_id`) have no default: leaving them out is a bad request.
//! - Unknown keys are ignored, as Python's `**kwargs` methods do; extra keys on methods without
//!   `**kwargs` are also ignored (Python answers HTTP 500 there, which helps no one).
//! - Serializing writes every field, defaults included, because the Python client always sends
//!   every declared argument.
//!
//! Field types accept what Python really sends: `null` where Python passes `None` through,
//! numbers that may be ints or floats ([`Number`]), `Infinity` for `max_batch_size`, a list of
//! pairs *or* an object for `add_worker`'s `info` ([`WorkerInfo`]), string parameter maps
//! ([`ParamMap`]) and `"SUSPENDED"` as a status. A `null` for a boolean that Python only tests
//! for truth (`assistant`, `limit`, `include_done`, `include_running`) reads as `false`.
//!
//! Replies reproduce Python's shapes key for key, including keys that exist only in some
//! contexts: [`TaskNode`]'s `display_name`, `re_enable_able`, `deps` and `accepts_messages`;
//! the [`PlaceholderNode`] that graph replies use for unknown dependencies; `task_list`'s
//! [`TaskListReply::TooMany`]; [`WorkerEntry`]'s spread-in worker info; the three shapes of
//! [`GetWorkReply`] (task, batch, nothing) and its disabled-worker form. Maps keep insertion
//! order ([`IndexMap`]) so replies can be written in the order Python writes them.
//!
//! These types are the wire format only. The scheduler engine keeps its own state and builds
//! these at the edge; nothing here knows HTTP (see `rpc::dispatch` and `rpc::client`).

use std::cmp::Ordering;
use std::fmt;

use indexmap::IndexMap;
use serde::de::{self, Deserializer, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::status::{TaskStatus, UpstreamStatus};
use crate::task::{RetryPolicy, TaskId};

/// Parameter name → serialized value, as Luigi's `to_str_params` produces it.
pub type ParamMap = IndexMap<String, String>;

/// Resource name → amount. Luigi's resources are integers; a float amount is a bad request.
pub type ResourceMap = IndexMap<String, i64>;

/// Free-form worker information (`salt`, `workers`, `host`, `username`, `pid`, `first_task`...).
pub type InfoMap = IndexMap<String, Value>;

/// A number Python keeps as either an int or a float (`priority`, `progress_percentage`,
/// `max_batch_size`), so that it is written back the way it came (`5` stays `5`, `2.5` stays
/// `2.5`). Reads `Infinity`, `-Infinity` and `NaN` (see [`super::json`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    /// A Python `int` that fits in 64 bits.
    Int(i64),
    /// A Python `float`, including the infinities and NaN.
    Float(f64),
}

impl Number {
    /// Positive infinity, Python's `float("inf")`.
    pub const INFINITY: Number = Number::Float(f64::INFINITY);

    /// The value as a float.
    pub fn as_f64(self) -> f64 {
        match self {
            // Precision loss above 2^53 matches Python's own int/float comparisons closely enough
            // for priorities and percentages.
            Number::Int(value) => value as f64,
            Number::Float(value) => value,
        }
    }
}

impl Default for Number {
    fn default() -> Self {
        Number::Int(0)
    }
}

impl From<i64> for Number {
    fn from(value: i64) -> Self {
        Number::Int(value)
    }
}

impl From<f64> for Number {
    fn from(value: f64) -> Self {
        Number::Float(value)
    }
}

impl PartialOrd for Number {
    /// Compares numerically, ints exactly; NaN is unordered, as in Python.
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        match (self, other) {
            (Number::Int(a), Number::Int(b)) => Some(a.cmp(b)),
            _ => self.as_f64().partial_cmp(&other.as_f64()),
        }
    }
}

impl fmt::Display for Number {
    /// Python's `str()` of the number (`5`, `2.5`, `inf`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Number::Int(value) => write!(f, "{value}"),
            Number::Float(value) => f.write_str(&crate::pyjson::float_repr(*value)),
        }
    }
}

impl Serialize for Number {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match *self {
            Number::Int(value) => serializer.serialize_i64(value),
            Number::Float(value) => serializer.serialize_f64(value),
        }
    }
}

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NumberVisitor;

        impl Visitor<'_> for NumberVisitor {
            type Value = Number;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number (or Infinity, -Infinity, NaN)")
            }

            fn visit_i64<E: de::Error>(self, value: i64) -> Result<Number, E> {
                Ok(Number::Int(value))
            }

            fn visit_u64<E: de::Error>(self, value: u64) -> Result<Number, E> {
                Ok(i64::try_from(value).map_or(Number::Float(value as f64), Number::Int))
            }

            fn visit_f64<E: de::Error>(self, value: f64) -> Result<Number, E> {
                Ok(Number::Float(value))
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<Number, E> {
                match value {
                    "Infinity" => Ok(Number::Float(f64::INFINITY)),
                    "-Infinity" => Ok(Number::Float(f64::NEG_INFINITY)),
                    "NaN" => Ok(Number::Float(f64::NAN)),
                    _ => Err(E::invalid_type(de::Unexpected::Str(value), &self)),
                }
            }
        }

        deserializer.deserialize_any(NumberVisitor)
    }
}

/// A worker's state as the scheduler reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkerState {
    /// Asking for and running work.
    #[default]
    Active,
    /// Disabled from the UI: gets no more work and exits when its running tasks finish.
    Disabled,
}

/// `add_worker`'s `info`: a list of `[key, value]` pairs (a worker's first registration) or an
/// object (`{"workers": n}` after `set_worker_processes`). Both merge into the worker's info the
/// same way; the shape is kept so it is sent back as it came.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum WorkerInfo {
    /// `[["salt", "..."], ["workers", 1], ...]`.
    Pairs(Vec<(String, Value)>),
    /// `{"workers": 2}`.
    Object(InfoMap),
}

impl WorkerInfo {
    /// The entries in order; a later duplicate key overrides an earlier one when merged.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        let (pairs, object) = match self {
            WorkerInfo::Pairs(pairs) => (Some(pairs.iter().map(|(key, value)| (key.as_str(), value))), None),
            WorkerInfo::Object(map) => (None, Some(map.iter().map(|(key, value)| (key.as_str(), value)))),
        };
        pairs.into_iter().flatten().chain(object.into_iter().flatten())
    }
}

/// `add_task`'s `retry_policy_dict`: per-task overrides of the scheduler's retry policy; `null`
/// entries mean "use the scheduler's value".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryPolicyDict {
    /// Failures within `disable_window` seconds that disable the task.
    #[serde(default)]
    pub retry_count: Option<i64>,
    /// Seconds after the first failure after which a failing task is disabled.
    #[serde(default)]
    pub disable_hard_timeout: Option<i64>,
    /// Seconds over which failures are counted.
    #[serde(default)]
    pub disable_window: Option<i64>,
}

impl From<RetryPolicy> for RetryPolicyDict {
    fn from(policy: RetryPolicy) -> Self {
        let int = |value: Option<u64>| value.map(|value| i64::try_from(value).unwrap_or(i64::MAX));
        RetryPolicyDict {
            retry_count: int(policy.retry_count),
            disable_hard_timeout: int(policy.disable_hard_timeout),
            disable_window: int(policy.disable_window),
        }
    }
}

fn pending() -> TaskStatus {
    TaskStatus::Pending
}

fn default_true() -> bool {
    true
}

fn some_true() -> Option<bool> {
    Some(true)
}

fn some_false() -> Option<bool> {
    Some(false)
}

fn infinity() -> Number {
    Number::INFINITY
}

/// Reads a boolean that Python only tests for truth: `null` counts as `false`.
fn py_bool<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    Ok(Option::<bool>::deserialize(deserializer)?.unwrap_or(false))
}

/// A parameter map that also accepts values that are not strings, which hand-written clients
/// (and Luigi's own scheduler tests) send: `{"a": 1}` is stored as `{"a": "1"}`. Luigi's
/// scheduler keeps such values as they are; workers always send strings, so the difference
/// only shows in what `task_list` echoes back for those clients. Numbers keep their JSON text,
/// booleans and `null` become Python's `True`, `False` and `None`, lists and objects their
/// JSON text.
mod lenient_params {
    use super::*;

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<ParamMap>, D::Error> {
        Ok(Option::<Params>::deserialize(deserializer)?.map(|params| params.0))
    }

    pub(super) fn deserialize_required<'de, D: Deserializer<'de>>(deserializer: D) -> Result<ParamMap, D::Error> {
        Ok(Params::deserialize(deserializer)?.0)
    }

    struct Params(ParamMap);

    impl<'de> Deserialize<'de> for Params {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Params, D::Error> {
            struct MapVisitor;
            impl<'de> Visitor<'de> for MapVisitor {
                type Value = Params;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("an object of parameter values")
                }
                fn visit_map<A: de::MapAccess<'de>>(self, mut access: A) -> Result<Params, A::Error> {
                    let mut map = ParamMap::with_capacity(access.size_hint().unwrap_or(0).min(64));
                    while let Some((name, value)) = access.next_entry::<String, Text>()? {
                        map.insert(name, value.0);
                    }
                    Ok(Params(map))
                }
            }
            deserializer.deserialize_map(MapVisitor)
        }
    }

    /// One value as text.
    struct Text(String);

    impl<'de> Deserialize<'de> for Text {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Text, D::Error> {
            struct TextVisitor;
            impl<'de> Visitor<'de> for TextVisitor {
                type Value = Text;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a parameter value")
                }
                fn visit_str<E: de::Error>(self, value: &str) -> Result<Text, E> {
                    Ok(Text(value.to_owned()))
                }
                fn visit_string<E: de::Error>(self, value: String) -> Result<Text, E> {
                    Ok(Text(value))
                }
                fn visit_bool<E: de::Error>(self, value: bool) -> Result<Text, E> {
                    Ok(Text(if value { "True" } else { "False" }.to_owned()))
                }
                fn visit_i64<E: de::Error>(self, value: i64) -> Result<Text, E> {
                    Ok(Text(value.to_string()))
                }
                fn visit_u64<E: de::Error>(self, value: u64) -> Result<Text, E> {
                    Ok(Text(value.to_string()))
                }
                fn visit_f64<E: de::Error>(self, value: f64) -> Result<Text, E> {
                    Ok(Text(crate::pyjson::float_repr(value)))
                }
                fn visit_unit<E: de::Error>(self) -> Result<Text, E> {
                    Ok(Text("None".to_owned()))
                }
                fn visit_none<E: de::Error>(self) -> Result<Text, E> {
                    self.visit_unit()
                }
                fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Text, A::Error> {
                    let value = Value::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
                    Ok(Text(crate::pyjson::dumps(&value, crate::pyjson::Separators::Default, false)))
                }
                fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Text, A::Error> {
                    let value = Value::deserialize(de::value::MapAccessDeserializer::new(map))?;
                    Ok(Text(crate::pyjson::dumps(&value, crate::pyjson::Separators::Default, false)))
                }
            }
            deserializer.deserialize_any(TextVisitor)
        }
    }
}

/// `task_list`'s `status`: `""` (or `null`) for every status.
mod status_filter {
    use super::*;

    pub(super) fn serialize<S: Serializer>(status: &Option<TaskStatus>, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(status.map_or("", TaskStatus::as_str))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<TaskStatus>, D::Error> {
        match Option::<std::borrow::Cow<'de, str>>::deserialize(deserializer)?.as_deref() {
            None | Some("") => Ok(None),
            Some(text) => text.parse().map(Some).map_err(de::Error::custom),
        }
    }
}

/// `task_list`'s `upstream_status` filter. Luigi compares it as a string with each PENDING
/// task's upstream status, so any text is accepted: `""` (or `null`) filters nothing, and a
/// text that names no upstream status matches no PENDING task.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum UpstreamFilter {
    /// `""` or `null`: every task.
    #[default]
    Any,
    /// PENDING tasks only when their upstream status is this one.
    Only(UpstreamStatus),
    /// Text that is no upstream status (`"FAILED"`, say): no PENDING task matches.
    Unmatchable(String),
}

impl UpstreamFilter {
    /// Whether the filter is set (Luigi's truthiness of the string).
    pub fn is_set(&self) -> bool {
        *self != UpstreamFilter::Any
    }

    /// Whether a PENDING task whose upstream status is `status` passes.
    pub fn admits(&self, status: Option<UpstreamStatus>) -> bool {
        match self {
            UpstreamFilter::Any => true,
            UpstreamFilter::Only(wanted) => status == Some(*wanted),
            UpstreamFilter::Unmatchable(_) => false,
        }
    }
}

impl Serialize for UpstreamFilter {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            UpstreamFilter::Any => serializer.serialize_str(""),
            UpstreamFilter::Only(status) => serializer.serialize_str(status.as_str()),
            UpstreamFilter::Unmatchable(text) => serializer.serialize_str(text),
        }
    }
}

impl<'de> Deserialize<'de> for UpstreamFilter {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<UpstreamFilter, D::Error> {
        let text = Option::<std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Ok(match text.as_deref().unwrap_or("") {
            "" => UpstreamFilter::Any,
            text => UpstreamStatus::parse(text)
                .map_or_else(|| UpstreamFilter::Unmatchable(text.to_owned()), UpstreamFilter::Only),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

/// The arguments of a method that takes none (`prune`, `pause`, `graph`, ...). Any keys sent are
/// ignored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoArgs {}

/// `add_task`: announce a task, its dependencies and its status; also how a worker reports
/// results, claims a batch and updates the tracking URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AddTaskRequest {
    /// The task's id. Python defaults it to `None`; a task without an id is a bad request here.
    pub task_id: TaskId,
    /// The reported status (default `PENDING`; `SUSPENDED` is stored as `PENDING`).
    #[serde(default = "pending")]
    pub status: TaskStatus,
    /// Whether this worker can run the task (default `true`; the final report sends `null`).
    #[serde(default = "some_true")]
    pub runnable: Option<bool>,
    /// The complete dependency list, replacing the known one (default `null`: unchanged).
    #[serde(default)]
    pub deps: Option<Vec<TaskId>>,
    /// Dynamic dependencies to add (default `null`).
    #[serde(default)]
    pub new_deps: Option<Vec<TaskId>>,
    /// The explanation of a failure: an opaque, JSON-encoded string kept verbatim (default `null`).
    #[serde(default)]
    pub expl: Option<String>,
    /// Resources the task needs (default `null`, which the scheduler treats as `{}`).
    #[serde(default)]
    pub resources: Option<ResourceMap>,
    /// Priority; only ever raised (default `0`).
    #[serde(default)]
    pub priority: Number,
    /// The task family (default `""`).
    #[serde(default)]
    pub family: String,
    /// The defining module (default `null`).
    #[serde(default)]
    pub module: Option<String>,
    /// Every parameter as a string, including hidden and insignificant ones (default `null`;
    /// values that are not strings are read as text, see `lenient_params`).
    #[serde(default, deserialize_with = "lenient_params::deserialize")]
    pub params: Option<ParamMap>,
    /// Parameter name → visibility (0 public, 1 hidden); `null` when `params` is empty.
    #[serde(default)]
    pub param_visibilities: Option<IndexMap<String, i64>>,
    /// Whether the running task reads scheduler messages (default `false`; `null`: unchanged).
    #[serde(default = "some_false")]
    pub accepts_messages: Option<bool>,
    /// Whether the caller is an assistant worker (default `false`).
    #[serde(default, deserialize_with = "py_bool")]
    pub assistant: bool,
    /// A URL where the running task can be followed (default `null`).
    #[serde(default)]
    pub tracking_url: Option<String>,
    /// The calling worker's id. Python defaults it to `None` and then asserts it is set.
    pub worker: String,
    /// Whether the task can join a batch (default `null`: unchanged).
    #[serde(default)]
    pub batchable: Option<bool>,
    /// The batch this task runs as part of (default `null`).
    #[serde(default)]
    pub batch_id: Option<String>,
    /// Per-task retry policy overrides (default `null`).
    #[serde(default)]
    pub retry_policy_dict: Option<RetryPolicyDict>,
    /// E-mail addresses of the task's owners (default `null`).
    #[serde(default)]
    pub owners: Option<Vec<String>>,
}

impl AddTaskRequest {
    /// A request with Python's defaults for every optional argument.
    pub fn new(task_id: TaskId, worker: impl Into<String>) -> Self {
        AddTaskRequest {
            task_id,
            status: TaskStatus::Pending,
            runnable: Some(true),
            deps: None,
            new_deps: None,
            expl: None,
            resources: None,
            priority: Number::Int(0),
            family: String::new(),
            module: None,
            params: None,
            param_visibilities: None,
            accepts_messages: Some(false),
            assistant: false,
            tracking_url: None,
            worker: worker.into(),
            batchable: None,
            batch_id: None,
            retry_policy_dict: None,
            owners: None,
        }
    }
}

/// `add_task_batcher`: this worker can run `task_family` in batches over `batched_args`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AddTaskBatcherRequest {
    /// The calling worker's id.
    pub worker: String,
    /// The batchable task family.
    pub task_family: String,
    /// The parameters whose values are combined (those declared with a batch method).
    pub batched_args: Vec<String>,
    /// The most tasks in one batch (default infinite, sent as the bare token `Infinity`).
    #[serde(default = "infinity")]
    pub max_batch_size: Number,
}

/// `add_worker`: merge `info` into the worker's information.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AddWorkerRequest {
    /// The worker's id.
    pub worker: String,
    /// Information to merge.
    pub info: WorkerInfo,
}

/// `get_work`: ask for a task to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GetWorkRequest {
    /// The worker's host name (default `null`).
    #[serde(default)]
    pub host: Option<String>,
    /// Whether the worker is an assistant that runs any runnable task (default `false`).
    #[serde(default, deserialize_with = "py_bool")]
    pub assistant: bool,
    /// Ids of the tasks the worker is running now (default `null`); a task the scheduler believes
    /// this worker runs but that is missing here is handed out again.
    #[serde(default)]
    pub current_tasks: Option<Vec<TaskId>>,
    /// The worker's id. Python defaults it to `None` and then asserts it is set.
    pub worker: String,
}

impl GetWorkRequest {
    /// A request with Python's defaults for every optional argument.
    pub fn new(worker: impl Into<String>) -> Self {
        GetWorkRequest { host: None, assistant: false, current_tasks: None, worker: worker.into() }
    }
}

/// `count_pending`: the counts of `get_work` without asking for work (`--workers 0`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountPendingRequest {
    /// The worker's id.
    pub worker: String,
}

/// `ping`: keep-alive; the reply carries queued messages for the worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PingRequest {
    /// The worker's id (Python reads it from `**kwargs` and fails without it).
    pub worker: String,
}

/// `announce_scheduling_failure`: a task could not be scheduled (its `complete()` or
/// `requires()` raised); only used for batched failure e-mails.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnnounceSchedulingFailureRequest {
    /// The task's `str()`, e.g. `Family(param=value)`.
    pub task_name: String,
    /// The task family.
    pub family: String,
    /// The significant parameters as strings.
    #[serde(deserialize_with = "lenient_params::deserialize_required")]
    pub params: ParamMap,
    /// The formatted traceback (plain text, not JSON-encoded).
    #[serde(default)]
    pub expl: Option<String>,
    /// E-mail addresses of the task's owners.
    #[serde(default)]
    pub owners: Option<Vec<String>>,
    /// The worker's id, passed as an extra keyword; Python needs it only with `batch_emails`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
}

/// `set_task_status_message`: the running task's free-text status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetTaskStatusMessageRequest {
    /// The task.
    pub task_id: TaskId,
    /// The message (`null` clears it).
    #[serde(default)]
    pub status_message: Option<String>,
}

/// A request naming one task (`get_task_status_message`, `fetch_error`, `re_enable_task`...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskIdRequest {
    /// The task.
    pub task_id: TaskId,
}

/// `set_task_progress_percentage`: the running task's progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetTaskProgressPercentageRequest {
    /// The task.
    pub task_id: TaskId,
    /// The progress, usually 0–100 (`null` clears it).
    #[serde(default)]
    pub progress_percentage: Option<Number>,
}

/// `decrease_running_task_resources`: release part of a running task's resources early.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecreaseRunningTaskResourcesRequest {
    /// The running task.
    pub task_id: TaskId,
    /// Resource → amount to give back.
    pub decrease_resources: ResourceMap,
}

/// `report_task_statistics`: statistics handed to the metrics collector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportTaskStatisticsRequest {
    /// The task.
    pub task_id: TaskId,
    /// Arbitrary statistics.
    #[serde(default)]
    pub statistics: Value,
}

/// `add_scheduler_message_response`: a running task answers a scheduler message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AddSchedulerMessageResponseRequest {
    /// The task that answers.
    pub task_id: TaskId,
    /// The id `send_scheduler_message` returned.
    pub message_id: String,
    /// The answer, any JSON.
    #[serde(default)]
    pub response: Value,
}

/// `get_scheduler_message_response`: fetch (and remove) a task's answer to a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetSchedulerMessageResponseRequest {
    /// The task.
    pub task_id: TaskId,
    /// The message's id.
    pub message_id: String,
}

/// `send_scheduler_message`: queue a message for a running task, delivered by the next `ping`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendSchedulerMessageRequest {
    /// The worker running the task.
    pub worker: String,
    /// The task's id.
    pub task: TaskId,
    /// The message text.
    pub content: String,
}

/// `set_worker_processes`: ask a worker to change its number of processes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetWorkerProcessesRequest {
    /// The worker.
    pub worker: String,
    /// The new number of processes.
    pub n: i64,
}

/// A request naming one worker (`disable_worker`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerRequest {
    /// The worker.
    pub worker: String,
}

/// `dep_graph` and `inverse_dep_graph`: the graph around one task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepGraphRequest {
    /// The root task.
    pub task_id: TaskId,
    /// Whether DONE tasks are included and traversed (default `true`).
    #[serde(default = "default_true", deserialize_with = "py_bool")]
    pub include_done: bool,
}

impl DepGraphRequest {
    /// A request with Python's default (`include_done` true).
    pub fn new(task_id: TaskId) -> Self {
        DepGraphRequest { task_id, include_done: true }
    }
}

/// `task_list`: tasks filtered by status, upstream status and search terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskListRequest {
    /// Only tasks with this status; `None` (`""` on the wire, the default) for all.
    #[serde(default, with = "status_filter")]
    pub status: Option<TaskStatus>,
    /// For PENDING tasks, only those with this upstream status (default `""`: no filter).
    #[serde(default)]
    pub upstream_status: UpstreamFilter,
    /// Whether to answer with a count instead of a list above `max_shown_tasks` (default `true`).
    #[serde(default = "default_true", deserialize_with = "py_bool")]
    pub limit: bool,
    /// Whitespace-separated terms that must all occur (case-folded) in the display name.
    #[serde(default)]
    pub search: Option<String>,
    /// The limit; `null` or `0` for the scheduler's `max_shown_tasks` (default `null`).
    #[serde(default)]
    pub max_shown_tasks: Option<u64>,
}

impl Default for TaskListRequest {
    /// Python's defaults: every status, no upstream filter, limited, no search.
    fn default() -> Self {
        TaskListRequest {
            status: None,
            upstream_status: UpstreamFilter::Any,
            limit: true,
            search: None,
            max_shown_tasks: None,
        }
    }
}

/// `task_search`: tasks whose id contains `task_str`, grouped by status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskSearchRequest {
    /// The substring to look for in task ids.
    pub task_str: String,
}

/// `worker_list`: the active workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerListRequest {
    /// Whether to add running tasks and pending counts per worker (default `true`).
    #[serde(default = "default_true", deserialize_with = "py_bool")]
    pub include_running: bool,
}

impl Default for WorkerListRequest {
    fn default() -> Self {
        WorkerListRequest { include_running: true }
    }
}

/// `forgive_failures` and `mark_as_done`: act on one task (`task_id` defaults to `null`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OptionalTaskIdRequest {
    /// The task; `null` is answered with a `null` status.
    #[serde(default)]
    pub task_id: Option<TaskId>,
}

/// `update_resources`: set the capacity of several resources (each key is a resource name).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UpdateResourcesRequest {
    /// Resource → new capacity.
    pub resources: ResourceMap,
}

/// `update_resource`: set the capacity of one resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpdateResourceRequest {
    /// The resource's name.
    pub resource: String,
    /// The new capacity. Kept as sent: Python answers `false` (instead of failing) when it is
    /// not a non-negative integer, so the scheduler needs to see what was sent.
    #[serde(default)]
    pub amount: Value,
}

impl UpdateResourceRequest {
    /// The amount if it is an integer ≥ 0, the only amounts Python accepts.
    pub fn valid_amount(&self) -> Option<i64> {
        self.amount.as_i64().filter(|amount| *amount >= 0)
    }
}

// ---------------------------------------------------------------------------------------------
// Replies
// ---------------------------------------------------------------------------------------------

/// A task as the scheduler serializes it for `task_list`, the graph methods, `task_search`,
/// `worker_list`/`resource_list` (`running`) and `re_enable_task`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskNode {
    /// `Family(k=v, ...)` over the public parameters sorted by name. Graph replies keep it only
    /// on the root of a traversal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// The task's status.
    pub status: TaskStatus,
    /// Workers that may run the task, in the order they were added.
    pub workers: Vec<String>,
    /// The worker running it, if any.
    pub worker_running: Option<String>,
    /// When it started running (epoch seconds).
    pub time_running: Option<f64>,
    /// When it was first added (epoch seconds).
    pub start_time: f64,
    /// When its status last changed (epoch seconds).
    pub last_updated: f64,
    /// Public parameters as strings.
    pub params: ParamMap,
    /// The task family.
    pub name: String,
    /// The priority.
    pub priority: Number,
    /// Declared resources.
    pub resources: ResourceMap,
    /// Resources held while running (`null` until it first runs).
    pub resources_running: Option<ResourceMap>,
    /// Where the running task can be followed.
    pub tracking_url: Option<String>,
    /// The task's status message.
    pub status_message: Option<String>,
    /// The task's progress.
    pub progress_percentage: Option<Number>,
    /// Only for DISABLED tasks: whether the scheduler disabled it (and `re_enable_task` applies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub re_enable_able: Option<bool>,
    /// Dependencies (dependents in `inverse_dep_graph`); absent in lists of tasks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deps: Option<Vec<TaskId>>,
    /// Only for RUNNING tasks when the scheduler sends messages: whether the task reads them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepts_messages: Option<bool>,
}

/// A graph node for a dependency the scheduler knows nothing about (or only as a placeholder
/// without a family): `{"deps": [], "status": "UNKNOWN", "workers": [], "start_time":
/// "UNKNOWN", "params": {"task_id": id}, "name": family, "display_name": id, "priority": 0}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlaceholderNode {
    /// Always empty.
    pub deps: Vec<TaskId>,
    /// Always UNKNOWN.
    pub status: TaskStatus,
    /// Always empty.
    pub workers: Vec<String>,
    /// Always the string `"UNKNOWN"`.
    pub start_time: String,
    /// `{"task_id": <id>}`.
    pub params: ParamMap,
    /// The family guessed from the id (the text before the first `_` or `(`), else `UNKNOWN`.
    pub name: String,
    /// The id, on the root of a traversal only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Always 0.
    pub priority: Number,
}

impl PlaceholderNode {
    /// The placeholder Python builds for `task_id`; `is_root` keeps the display name.
    pub fn new(task_id: &TaskId, is_root: bool) -> Self {
        let id = task_id.as_str();
        // Python matches `^([^(_]+)[(_]`: a non-empty prefix up to the first `(` or `_`.
        let name = match id.find(['(', '_']) {
            Some(end) if end > 0 => &id[..end],
            _ => "UNKNOWN",
        };
        let mut params = ParamMap::with_capacity(1);
        params.insert("task_id".to_owned(), id.to_owned());
        PlaceholderNode {
            deps: Vec::new(),
            status: TaskStatus::Unknown,
            workers: Vec::new(),
            start_time: "UNKNOWN".to_owned(),
            params,
            name: name.to_owned(),
            display_name: is_root.then(|| id.to_owned()),
            priority: Number::Int(0),
        }
    }
}

/// A node of a `graph`, `dep_graph` or `inverse_dep_graph` reply.
// Placeholders are rare, so the space they waste is cheaper than boxing every task node.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum GraphNode {
    /// A known task, with `deps`.
    Task(TaskNode),
    /// An unknown dependency.
    Placeholder(PlaceholderNode),
}

/// Task id → node, in traversal order.
pub type GraphReply = IndexMap<TaskId, GraphNode>;

/// Task id → node (without `deps`).
pub type TaskMap = IndexMap<TaskId, TaskNode>;

/// `task_list`'s reply: the tasks, or only a count when there are too many.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TaskListReply {
    /// `{"num_tasks": n}`: more than the limit; `-1` when an upstream filter was asked for and
    /// the count was not computed.
    TooMany {
        /// The number of tasks, or -1.
        num_tasks: i64,
    },
    /// The tasks.
    Tasks(TaskMap),
}

/// `task_search`'s reply: status → (task id → node).
pub type TaskSearchReply = IndexMap<TaskStatus, TaskMap>;

/// One entry of `worker_list`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerEntry {
    /// The worker's id.
    pub name: String,
    /// Last contact (epoch seconds).
    pub last_active: f64,
    /// First contact (epoch seconds).
    pub started: f64,
    /// Active or disabled.
    pub state: WorkerState,
    /// The display name of `info.first_task` if that task is known, else the raw value or `""`.
    pub first_task_display_name: String,
    /// Messages queued for the worker's next `ping`.
    pub num_unread_rpc_messages: u64,
    /// Every key of the worker's info, spread into the entry.
    #[serde(flatten)]
    pub info: InfoMap,
    /// With `include_running`: the number of tasks it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_running: Option<u64>,
    /// With `include_running`: PENDING tasks it may run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_pending: Option<u64>,
    /// With `include_running`: PENDING tasks only it may run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_uniques: Option<u64>,
    /// With `include_running`: the tasks it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running: Option<TaskMap>,
}

/// One entry of `resource_list`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceEntry {
    /// The resource.
    pub name: String,
    /// Its capacity.
    pub num_total: i64,
    /// The amount held by RUNNING tasks.
    pub num_used: i64,
    /// The number of RUNNING tasks that declare it.
    pub num_consumer: u64,
    /// Those tasks.
    pub running: TaskMap,
}

/// A task running somewhere, as listed in `count_pending`/`get_work` replies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunningTask {
    /// The task.
    pub task_id: TaskId,
    /// The worker running it.
    pub worker: String,
    /// That worker's info, spread in.
    #[serde(flatten)]
    pub info: InfoMap,
}

/// `count_pending`'s reply: the work this worker may still do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CountPendingReply {
    /// PENDING and FAILED tasks this worker may run (not upstream-disabled).
    pub n_pending_tasks: u64,
    /// Of those, tasks only this worker may run.
    pub n_unique_pending: u64,
    /// Of those, tasks this worker was the last to add.
    pub n_pending_last_scheduled: u64,
    /// The worker's state.
    pub worker_state: WorkerState,
    /// Tasks this worker may run that are running (on any worker).
    pub running_tasks: Vec<RunningTask>,
}

/// A batched parameter's value in a batch `get_work` reply: the batched parameters carry the
/// list of member values, the others the representative task's value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum BatchParam {
    /// An ordinary parameter.
    One(String),
    /// A batched parameter: one value per member task.
    Many(Vec<String>),
}

/// What `get_work` hands out.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Work {
    /// Nothing to do now (`task_id: null`).
    #[default]
    Nothing,
    /// Run one task.
    Task {
        /// The task.
        task_id: TaskId,
        /// Its family.
        task_family: String,
        /// Its module, if the adding worker sent one.
        task_module: Option<String>,
        /// Every parameter exactly as the adding worker sent it.
        task_params: ParamMap,
    },
    /// Run a batch: build one task from the combined parameters and claim it with `add_task`
    /// (status RUNNING, this `batch_id`).
    Batch {
        /// The family.
        task_family: String,
        /// The module.
        task_module: Option<String>,
        /// The parameters, batched ones as lists.
        task_params: IndexMap<String, BatchParam>,
        /// md5 hex of the `|`-joined member ids.
        batch_id: String,
        /// The member tasks.
        batch_task_ids: Vec<TaskId>,
    },
}

/// `get_work`'s reply: the counts of [`CountPendingReply`] plus the [`Work`].
#[derive(Debug, Clone, PartialEq)]
pub struct GetWorkReply {
    /// See [`CountPendingReply::n_pending_tasks`].
    pub n_pending_tasks: u64,
    /// See [`CountPendingReply::n_unique_pending`].
    pub n_unique_pending: u64,
    /// See [`CountPendingReply::n_pending_last_scheduled`]. `None` only in the reply to a
    /// disabled worker, which Python sends without this key (its client reads it as 0).
    pub n_pending_last_scheduled: Option<u64>,
    /// The worker's state.
    pub worker_state: WorkerState,
    /// See [`CountPendingReply::running_tasks`].
    pub running_tasks: Vec<RunningTask>,
    /// The task or batch to run, if any.
    pub work: Work,
}

impl GetWorkReply {
    /// The reply for a disabled worker: no work, zero counts, no `n_pending_last_scheduled`.
    pub fn disabled() -> Self {
        GetWorkReply {
            n_pending_tasks: 0,
            n_unique_pending: 0,
            n_pending_last_scheduled: None,
            worker_state: WorkerState::Disabled,
            running_tasks: Vec::new(),
            work: Work::Nothing,
        }
    }

    /// A reply with the given counts and work.
    pub fn new(counts: CountPendingReply, work: Work) -> Self {
        GetWorkReply {
            n_pending_tasks: counts.n_pending_tasks,
            n_unique_pending: counts.n_unique_pending,
            n_pending_last_scheduled: Some(counts.n_pending_last_scheduled),
            worker_state: counts.worker_state,
            running_tasks: counts.running_tasks,
            work,
        }
    }
}

impl Serialize for GetWorkReply {
    /// Writes the keys in Python's order, which differs for the disabled-worker reply.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("n_pending_tasks", &self.n_pending_tasks)?;
        match self.n_pending_last_scheduled {
            Some(last_scheduled) => {
                map.serialize_entry("n_unique_pending", &self.n_unique_pending)?;
                map.serialize_entry("n_pending_last_scheduled", &last_scheduled)?;
                map.serialize_entry("worker_state", &self.worker_state)?;
                map.serialize_entry("running_tasks", &self.running_tasks)?;
                serialize_work(&mut map, &self.work)?;
            }
            None => {
                map.serialize_entry("running_tasks", &self.running_tasks)?;
                serialize_work(&mut map, &self.work)?;
                map.serialize_entry("n_unique_pending", &self.n_unique_pending)?;
                map.serialize_entry("worker_state", &self.worker_state)?;
            }
        }
        map.end()
    }
}

fn serialize_work<M: SerializeMap>(map: &mut M, work: &Work) -> Result<(), M::Error> {
    match work {
        Work::Nothing => map.serialize_entry("task_id", &None::<TaskId>),
        Work::Task { task_id, task_family, task_module, task_params } => {
            map.serialize_entry("task_id", task_id)?;
            map.serialize_entry("task_family", task_family)?;
            map.serialize_entry("task_module", task_module)?;
            map.serialize_entry("task_params", task_params)
        }
        Work::Batch { task_family, task_module, task_params, batch_id, batch_task_ids } => {
            map.serialize_entry("task_id", &None::<TaskId>)?;
            map.serialize_entry("task_family", task_family)?;
            map.serialize_entry("task_module", task_module)?;
            map.serialize_entry("task_params", task_params)?;
            map.serialize_entry("batch_id", batch_id)?;
            map.serialize_entry("batch_task_ids", batch_task_ids)
        }
    }
}

/// Every key `get_work` may send, for decoding.
#[derive(Deserialize)]
struct RawGetWorkReply {
    n_pending_tasks: u64,
    n_unique_pending: u64,
    #[serde(default)]
    n_pending_last_scheduled: Option<u64>,
    worker_state: WorkerState,
    running_tasks: Vec<RunningTask>,
    #[serde(default)]
    task_id: Option<TaskId>,
    #[serde(default)]
    task_family: Option<String>,
    #[serde(default)]
    task_module: Option<String>,
    #[serde(default)]
    task_params: Option<IndexMap<String, BatchParam>>,
    #[serde(default)]
    batch_id: Option<String>,
    #[serde(default)]
    batch_task_ids: Option<Vec<TaskId>>,
}

impl<'de> Deserialize<'de> for GetWorkReply {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = RawGetWorkReply::deserialize(deserializer)?;
        let missing =
            |key: &'static str| de::Error::custom(format_args!("get_work reply hands out work but has no {key}"));
        let work = match (raw.task_id, raw.batch_id) {
            (_, Some(batch_id)) => Work::Batch {
                task_family: raw.task_family.ok_or_else(|| missing("task_family"))?,
                task_module: raw.task_module,
                task_params: raw.task_params.ok_or_else(|| missing("task_params"))?,
                batch_id,
                batch_task_ids: raw.batch_task_ids.ok_or_else(|| missing("batch_task_ids"))?,
            },
            (Some(task_id), None) => {
                let params = raw.task_params.ok_or_else(|| missing("task_params"))?;
                let task_params = params
                    .into_iter()
                    .map(|(name, value)| match value {
                        BatchParam::One(value) => Ok((name, value)),
                        BatchParam::Many(_) => Err(de::Error::custom(format_args!(
                            "get_work reply for a single task has a list value for parameter '{name}'"
                        ))),
                    })
                    .collect::<Result<ParamMap, D::Error>>()?;
                Work::Task {
                    task_id,
                    task_family: raw.task_family.ok_or_else(|| missing("task_family"))?,
                    task_module: raw.task_module,
                    task_params,
                }
            }
            (None, None) => Work::Nothing,
        };
        Ok(GetWorkReply {
            n_pending_tasks: raw.n_pending_tasks,
            n_unique_pending: raw.n_unique_pending,
            n_pending_last_scheduled: raw.n_pending_last_scheduled,
            worker_state: raw.worker_state,
            running_tasks: raw.running_tasks,
            work,
        })
    }
}

/// A message queued for a worker and delivered in the next `ping` reply.
#[derive(Debug, Clone, PartialEq)]
pub enum RpcMessage {
    /// `{"name": "set_worker_processes", "kwargs": {"n": n}}`.
    SetWorkerProcesses {
        /// The new number of processes.
        n: i64,
    },
    /// `{"name": "dispatch_scheduler_message", "kwargs": {"task_id", "message_id", "content"}}`.
    DispatchSchedulerMessage {
        /// The task the message is for.
        task_id: TaskId,
        /// The id to answer with (`add_scheduler_message_response`).
        message_id: String,
        /// The message text.
        content: String,
    },
    /// Any other message, or a known name whose arguments do not have the expected shape.
    Other {
        /// The message name (a worker method name).
        name: String,
        /// Its keyword arguments.
        kwargs: serde_json::Map<String, Value>,
    },
}

/// The wire form of an [`RpcMessage`].
#[derive(Serialize, Deserialize)]
struct RawRpcMessage {
    name: String,
    #[serde(default)]
    kwargs: serde_json::Map<String, Value>,
}

impl Serialize for RpcMessage {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        match self {
            RpcMessage::SetWorkerProcesses { n } => {
                map.serialize_entry("name", "set_worker_processes")?;
                map.serialize_entry("kwargs", &SetWorkerProcessesKwargs { n: *n })?;
            }
            RpcMessage::DispatchSchedulerMessage { task_id, message_id, content } => {
                map.serialize_entry("name", "dispatch_scheduler_message")?;
                map.serialize_entry("kwargs", &DispatchKwargs { task_id, message_id, content })?;
            }
            RpcMessage::Other { name, kwargs } => {
                map.serialize_entry("name", name)?;
                map.serialize_entry("kwargs", kwargs)?;
            }
        }
        map.end()
    }
}

#[derive(Serialize)]
struct SetWorkerProcessesKwargs {
    n: i64,
}

#[derive(Serialize)]
struct DispatchKwargs<'a> {
    task_id: &'a TaskId,
    message_id: &'a str,
    content: &'a str,
}

impl<'de> Deserialize<'de> for RpcMessage {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let RawRpcMessage { name, kwargs } = RawRpcMessage::deserialize(deserializer)?;
        let text = |key: &str| kwargs.get(key).and_then(Value::as_str);
        let known = match name.as_str() {
            "set_worker_processes" if kwargs.len() == 1 => {
                kwargs.get("n").and_then(Value::as_i64).map(|n| RpcMessage::SetWorkerProcesses { n })
            }
            "dispatch_scheduler_message" if kwargs.len() == 3 => {
                match (text("task_id"), text("message_id"), text("content")) {
                    (Some(task_id), Some(message_id), Some(content)) => Some(RpcMessage::DispatchSchedulerMessage {
                        task_id: TaskId::from(task_id),
                        message_id: message_id.to_owned(),
                        content: content.to_owned(),
                    }),
                    _ => None,
                }
            }
            _ => None,
        };
        Ok(known.unwrap_or(RpcMessage::Other { name, kwargs }))
    }
}

/// `ping`'s reply: the worker's queued messages (drained by this call).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PingReply {
    /// The messages, oldest first.
    pub rpc_messages: Vec<RpcMessage>,
}

/// `get_task_status_message`'s reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskStatusMessageReply {
    /// The task asked about.
    #[serde(rename = "taskId")]
    pub task_id: TaskId,
    /// Its message; `""` for an unknown task, `null` if never set.
    #[serde(rename = "statusMessage")]
    pub status_message: Option<String>,
}

/// `get_task_progress_percentage`'s reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskProgressReply {
    /// The task asked about.
    #[serde(rename = "taskId")]
    pub task_id: TaskId,
    /// Its progress; `null` if unknown or never set.
    #[serde(rename = "progressPercentage")]
    pub progress_percentage: Option<Number>,
}

/// `get_running_task_resources`'s reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunningTaskResourcesReply {
    /// The task asked about.
    #[serde(rename = "taskId")]
    pub task_id: TaskId,
    /// Resources it holds while running; `null` if unknown or never run.
    pub resources: Option<ResourceMap>,
}

/// `get_scheduler_message_response`'s reply.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SchedulerMessageResponseReply {
    /// The task's answer, or `null` if there is none (yet, or any more: reading removes it).
    #[serde(default)]
    pub response: Value,
}

/// `send_scheduler_message`'s reply.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendSchedulerMessageReply {
    /// The new message's id (a UUID); `null` when the scheduler does not send messages.
    pub message_id: Option<String>,
}

/// `fetch_error`'s reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FetchErrorReply {
    /// A known task.
    Known {
        /// The task asked about.
        #[serde(rename = "taskId")]
        task_id: TaskId,
        /// The stored `expl`, verbatim (a JSON-encoded string); `null` if never reported.
        error: Option<String>,
        /// The task's display name.
        #[serde(rename = "displayName")]
        display_name: String,
        /// Every parameter as sent by the adding worker.
        #[serde(rename = "taskParams")]
        task_params: ParamMap,
        /// The task's module.
        #[serde(rename = "taskModule")]
        task_module: Option<String>,
        /// The task's family.
        #[serde(rename = "taskFamily")]
        task_family: String,
    },
    /// An unknown task: `{"taskId": id, "error": ""}`.
    Unknown {
        /// The task asked about.
        #[serde(rename = "taskId")]
        task_id: TaskId,
        /// Always `""`.
        error: String,
    },
}

/// `re_enable_task`'s reply: the re-enabled task (with `deps`), or `{}` if it was not disabled
/// by the scheduler.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReEnableTaskReply(pub Option<TaskNode>);

impl Serialize for ReEnableTaskReply {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            Some(node) => node.serialize(serializer),
            None => serializer.serialize_map(Some(0))?.end(),
        }
    }
}

impl<'de> Deserialize<'de> for ReEnableTaskReply {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Empty {}

        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Shape {
            Empty(Empty),
            Node(Box<TaskNode>),
        }

        Ok(match Shape::deserialize(deserializer)? {
            Shape::Empty(Empty {}) => ReEnableTaskReply(None),
            Shape::Node(node) => ReEnableTaskReply(Some(*node)),
        })
    }
}

/// `forgive_failures`' and `mark_as_done`'s reply.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskStatusReply {
    /// The task asked about.
    pub task_id: Option<TaskId>,
    /// Its status afterwards; `null` for an unknown task.
    pub status: Option<TaskStatus>,
}

/// `is_pause_enabled`'s reply.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PauseEnabledReply {
    /// Whether `pause` does anything.
    pub enabled: bool,
}

/// `is_paused`'s reply.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PausedReply {
    /// Whether the scheduler hands out no work.
    pub paused: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::json;
    use serde_json::json;

    #[test]
    fn parameter_values_that_are_not_strings_are_read_as_text() {
        let request: AddTaskRequest = json::from_str(
            r#"{"task_id": "A_1", "worker": "w", "params": {"s": "x", "i": 1, "f": 2.5, "b": true, "n": null,
                "l": [1, "a"], "d": {"k": 2}}}"#,
        )
        .unwrap();
        let params = request.params.unwrap();
        let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            pairs,
            [
                ("s", "x"),
                ("i", "1"),
                ("f", "2.5"),
                ("b", "True"),
                ("n", "None"),
                ("l", "[1, \"a\"]"),
                ("d", "{\"k\": 2}")
            ]
        );
        let request: AddTaskRequest = json::from_str(r#"{"task_id": "A_1", "worker": "w", "params": null}"#).unwrap();
        assert!(request.params.is_none());
        assert!(json::from_str::<AddTaskRequest>(r#"{"task_id": "A_1", "worker": "w", "params": [1]}"#).is_err());
    }

    #[test]
    fn numbers_keep_int_or_float() {
        let numbers: Vec<Number> =
            json::from_str("[5, 2.5, -3, Infinity, -Infinity, NaN, 18446744073709551615]").unwrap();
        assert_eq!(numbers[0], Number::Int(5));
        assert_eq!(numbers[1], Number::Float(2.5));
        assert_eq!(numbers[2], Number::Int(-3));
        assert_eq!(numbers[3], Number::INFINITY);
        assert_eq!(numbers[4], Number::Float(f64::NEG_INFINITY));
        assert!(numbers[5].as_f64().is_nan());
        assert_eq!(numbers[6], Number::Float(18446744073709551615.0));
        assert_eq!(json::to_string(&numbers[..5], json::Style::Python).unwrap(), "[5, 2.5, -3, Infinity, -Infinity]");
        assert!(Number::Int(3) < Number::Float(3.5));
        assert!(Number::Float(f64::NAN).partial_cmp(&Number::Int(1)).is_none());
        assert_eq!(Number::Float(1.0).to_string(), "1.0");
        assert!(json::from_str::<Number>("\"five\"").is_err());
    }

    #[test]
    fn add_task_fills_python_defaults() {
        let request: AddTaskRequest =
            json::from_str(r#"{"task_id": "A_1_x", "worker": "w", "surprise": [1]}"#).unwrap();
        assert_eq!(request, AddTaskRequest::new(TaskId::from("A_1_x"), "w"));
        let text = json::to_string(&request, json::Style::Python).unwrap();
        let sent: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(sent.as_object().map(|map| map.len()), Some(20), "every argument is sent: {text}");
        assert_eq!(sent["runnable"], json!(true));
        assert_eq!(sent["family"], json!(""));
        assert_eq!(sent["owners"], json!(null));
    }

    #[test]
    fn nulls_where_python_tests_truth() {
        let request: GetWorkRequest = json::from_str(r#"{"worker": "w", "assistant": null}"#).unwrap();
        assert!(!request.assistant);
        let request: TaskListRequest =
            json::from_str(r#"{"status": null, "upstream_status": null, "limit": null}"#).unwrap();
        assert_eq!(request.status, None);
        assert_eq!(request.upstream_status, UpstreamFilter::Any);
        assert!(!request.limit);
        assert!(json::from_str::<TaskListRequest>(r#"{"status": "BOGUS"}"#).is_err());
        // Luigi compares the upstream filter as text: an unknown one matches nothing, no error.
        let request: TaskListRequest = json::from_str(r#"{"upstream_status": "FAILED"}"#).unwrap();
        assert_eq!(request.upstream_status, UpstreamFilter::Unmatchable("FAILED".into()));
        assert!(request.upstream_status.is_set() && !request.upstream_status.admits(Some(UpstreamStatus::Failed)));
        let request: TaskListRequest = json::from_str(r#"{"upstream_status": "UPSTREAM_FAILED"}"#).unwrap();
        assert!(request.upstream_status.admits(Some(UpstreamStatus::Failed)));
        assert_eq!(json::to_string(&request.upstream_status, json::Style::Python).unwrap(), r#""UPSTREAM_FAILED""#);
    }

    #[test]
    fn worker_info_keeps_its_shape() {
        let pairs: WorkerInfo = json::from_str(r#"[["salt", "1"], ["workers", 1]]"#).unwrap();
        let object: WorkerInfo = json::from_str(r#"{"workers": 2}"#).unwrap();
        assert_eq!(pairs.iter().map(|(key, _)| key).collect::<Vec<_>>(), ["salt", "workers"]);
        assert_eq!(object.iter().collect::<Vec<_>>(), [("workers", &json!(2))]);
        assert_eq!(json::to_string(&pairs, json::Style::Python).unwrap(), r#"[["salt", "1"], ["workers", 1]]"#);
        assert!(json::from_str::<WorkerInfo>("[[1, 2]]").is_err());
    }

    #[test]
    fn placeholder_family_guess() {
        let node = PlaceholderNode::new(&TaskId::from("Ghost_x_123"), true);
        assert_eq!(node.name, "Ghost");
        assert_eq!(node.display_name.as_deref(), Some("Ghost_x_123"));
        assert_eq!(PlaceholderNode::new(&TaskId::from("Fam(a=1)"), false).name, "Fam");
        assert_eq!(PlaceholderNode::new(&TaskId::from("_leading"), false).name, "UNKNOWN");
        assert_eq!(PlaceholderNode::new(&TaskId::from("plain"), false).name, "UNKNOWN");
        let text = json::to_string(&PlaceholderNode::new(&TaskId::from("plain"), false), json::Style::Python).unwrap();
        assert_eq!(
            text,
            r#"{"deps": [], "status": "UNKNOWN", "workers": [], "start_time": "UNKNOWN", "params": {"task_id": "plain"}, "name": "UNKNOWN", "priority": 0}"#
        );
    }

    #[test]
    fn rpc_messages_fall_back_to_other() {
        let messages: Vec<RpcMessage> = json::from_str(
            r#"[{"name": "set_worker_processes", "kwargs": {"n": 3}},
                {"name": "set_worker_processes", "kwargs": {"n": null}},
                {"name": "dispatch_scheduler_message", "kwargs": {"task_id": "T", "message_id": "m", "content": "c"}},
                {"name": "something_new"}]"#,
        )
        .unwrap();
        assert_eq!(messages[0], RpcMessage::SetWorkerProcesses { n: 3 });
        assert!(matches!(&messages[1], RpcMessage::Other { name, .. } if name == "set_worker_processes"));
        assert!(matches!(&messages[2], RpcMessage::DispatchSchedulerMessage { content, .. } if content == "c"));
        assert!(matches!(&messages[3], RpcMessage::Other { kwargs, .. } if kwargs.is_empty()));
    }

    #[test]
    fn get_work_shapes() {
        let disabled = json::to_string(&GetWorkReply::disabled(), json::Style::Python).unwrap();
        assert_eq!(
            disabled,
            r#"{"n_pending_tasks": 0, "running_tasks": [], "task_id": null, "n_unique_pending": 0, "worker_state": "disabled"}"#
        );
        assert_eq!(json::from_str::<GetWorkReply>(&disabled).unwrap(), GetWorkReply::disabled());
        let bad = r#"{"n_pending_tasks": 0, "n_unique_pending": 0, "worker_state": "active", "running_tasks": [],
                      "task_id": "T", "task_family": "F", "task_params": {"a": ["1"]}}"#;
        assert!(json::from_str::<GetWorkReply>(bad).is_err());
        let no_family = r#"{"n_pending_tasks": 0, "n_unique_pending": 0, "worker_state": "active",
                            "running_tasks": [], "task_id": "T", "task_params": {}}"#;
        let err = json::from_str::<GetWorkReply>(no_family).unwrap_err().to_string();
        assert!(err.contains("task_family"), "{err}");
    }

    #[test]
    fn task_list_reply_variants() {
        assert_eq!(
            json::from_str::<TaskListReply>(r#"{"num_tasks": -1}"#).unwrap(),
            TaskListReply::TooMany { num_tasks: -1 }
        );
        assert_eq!(json::from_str::<TaskListReply>("{}").unwrap(), TaskListReply::Tasks(TaskMap::new()));
        assert_eq!(json::from_str::<ReEnableTaskReply>("{}").unwrap(), ReEnableTaskReply(None));
        assert_eq!(json::to_string(&ReEnableTaskReply(None), json::Style::Python).unwrap(), "{}");
    }

    #[test]
    fn update_resource_amounts() {
        let amount = |value: Value| UpdateResourceRequest { resource: "r".into(), amount: value }.valid_amount();
        assert_eq!(amount(json!(3)), Some(3));
        assert_eq!(amount(json!(0)), Some(0));
        assert_eq!(amount(json!(-1)), None);
        assert_eq!(amount(json!(1.5)), None);
        assert_eq!(amount(json!("3")), None);
        assert_eq!(amount(json!(null)), None);
    }

    #[test]
    fn retry_policy_conversion() {
        let policy = RetryPolicy { retry_count: Some(3), disable_hard_timeout: None, disable_window: Some(u64::MAX) };
        assert_eq!(
            RetryPolicyDict::from(policy),
            RetryPolicyDict { retry_count: Some(3), disable_hard_timeout: None, disable_window: Some(i64::MAX) }
        );
    }
}
