//! [`ScriptedScheduler`]: a [`SchedulerApi`] test double that records every call and answers
//! with replies queued in advance.
//!
//! It exists so that code on either side of the contract can be tested without a scheduler
//! engine: a worker test scripts what "the scheduler" answers, and protocol tests push Python's
//! captured replies through [`dispatch`](super::dispatch()) and [`RpcClient`](super::RpcClient).
//! Requests are recorded and replies given as JSON values (the wire form), so a test reads like
//! the traffic it stands for. It has no scheduling logic at all.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::api::for_each_method;
use super::wire::*;
use super::{Error, Method, SchedulerApi, json};

/// A scheduler that records calls and answers from a script; see the module docs.
#[derive(Debug, Default)]
pub struct ScriptedScheduler {
    calls: Mutex<Vec<(Method, Value)>>,
    replies: Mutex<HashMap<Method, VecDeque<Value>>>,
}

impl ScriptedScheduler {
    /// A scheduler with an empty script.
    pub fn new() -> Self {
        ScriptedScheduler::default()
    }

    /// Queues `reply` (the JSON of the `response` value) as the answer to the next call of
    /// `method`. Replies to one method are used in the order they were queued. A method with
    /// nothing queued answers `null` if its reply type allows it, and fails otherwise.
    pub fn push_reply(&self, method: Method, reply: Value) {
        lock(&self.replies).entry(method).or_default().push_back(reply);
    }

    /// Every call so far, with its request as the JSON a Python client would send (a
    /// non-finite number appears as the string `"Infinity"`, `"-Infinity"` or `"NaN"`).
    pub fn calls(&self) -> Vec<(Method, Value)> {
        lock(&self.calls).clone()
    }

    /// Takes the recorded calls, leaving none.
    pub fn take_calls(&self) -> Vec<(Method, Value)> {
        std::mem::take(&mut *lock(&self.calls))
    }

    fn answer<Req: Serialize, Rep: DeserializeOwned>(&self, method: Method, request: &Req) -> Result<Rep, Error> {
        let internal = |message: String| Error::Internal { method: method.name(), message };
        let text = json::to_string(request, json::Style::Python).map_err(|err| internal(err.to_string()))?;
        let recorded: Value = json::from_str(&text).map_err(|err| internal(err.to_string()))?;
        lock(&self.calls).push((method, recorded));
        let queued = lock(&self.replies).get_mut(&method).and_then(VecDeque::pop_front);
        let reply = queued.unwrap_or(Value::Null);
        serde_json::from_value(reply)
            .map_err(|err| internal(format!("the scripted reply does not fit (nothing queued means null): {err}")))
    }
}

/// Locks a mutex, recovering the data if a panicking test thread poisoned it.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

macro_rules! impl_scripted {
    ($( $(#[$attr:meta])* fn $name:ident / $variant:ident ($request:ty) -> $reply:ty; )*) => {
        impl SchedulerApi for ScriptedScheduler {
            $(
                fn $name(&self, request: $request) -> Result<$reply, Error> {
                    self.answer(Method::$variant, &request)
                }
            )*
        }
    };
}

for_each_method!(impl_scripted);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::TaskId;
    use serde_json::json;

    #[test]
    fn records_and_answers_in_order() {
        let scheduler = ScriptedScheduler::new();
        scheduler.push_reply(Method::IsPaused, json!({"paused": true}));
        scheduler.push_reply(Method::IsPaused, json!({"paused": false}));
        assert_eq!(scheduler.is_paused(NoArgs {}).unwrap(), PausedReply { paused: true });
        assert_eq!(scheduler.is_paused(NoArgs {}).unwrap(), PausedReply { paused: false });
        assert!(matches!(scheduler.is_paused(NoArgs {}), Err(Error::Internal { method: "is_paused", .. })));
        scheduler.prune(NoArgs {}).unwrap();
        scheduler
            .add_task_batcher(AddTaskBatcherRequest {
                worker: "w".into(),
                task_family: "F".into(),
                batched_args: vec!["a".into()],
                max_batch_size: Number::INFINITY,
            })
            .unwrap();
        scheduler.fetch_error(TaskIdRequest { task_id: TaskId::from("T") }).unwrap_err();
        let calls = scheduler.take_calls();
        assert_eq!(calls.len(), 6);
        assert_eq!(calls[3], (Method::Prune, json!({})));
        assert_eq!(calls[4].1["max_batch_size"], json!("Infinity"));
        assert!(scheduler.calls().is_empty());
    }
}
