//! The client side of the protocol without HTTP: [`RpcClient`] implements [`SchedulerApi`] by
//! encoding each request and handing the text to a [`Transport`].
//!
//! The worker crate's HTTP client is a `Transport`: it posts `data=<text>` to `/api/<method>`
//! and returns the body, mapping connection failures to [`Error::Transport`] and HTTP error
//! statuses to [`Error::Server`]. Retrying belongs there too (Python retries 3 times, 30 s
//! apart), as does retrying a `get_work` that answers [`Error::NullResponse`].
//!
//! Requests are written in Python's style ([`json::Style::Python`]) with every argument present,
//! so a Python luigid sees exactly what a Python worker would send — in particular
//! `"max_batch_size": Infinity`, which standard JSON cannot express. Replies are read with the
//! Python-flavoured reader. [`Loopback`] is a `Transport` that serves calls with [`dispatch`],
//! which puts the full encode → decode → encode → decode path in front of any `SchedulerApi`.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::api::for_each_method;
use super::wire::*;
use super::{Error, Method, SchedulerApi, dispatch, json};

/// Carries one RPC to a scheduler and brings back the response body.
pub trait Transport: Send + Sync {
    /// Sends `data_json` (the JSON object of arguments) to the RPC `method` and returns the
    /// response body (`{"response": ...}`).
    fn call(&self, method: &str, data_json: &str) -> Result<String, Error>;
}

impl<T: Transport + ?Sized> Transport for &T {
    fn call(&self, method: &str, data_json: &str) -> Result<String, Error> {
        (**self).call(method, data_json)
    }
}

impl<T: Transport + ?Sized> Transport for Box<T> {
    fn call(&self, method: &str, data_json: &str) -> Result<String, Error> {
        (**self).call(method, data_json)
    }
}

impl<T: Transport + ?Sized> Transport for std::sync::Arc<T> {
    fn call(&self, method: &str, data_json: &str) -> Result<String, Error> {
        (**self).call(method, data_json)
    }
}

/// A [`SchedulerApi`] that talks to a scheduler through a [`Transport`].
#[derive(Debug, Clone)]
pub struct RpcClient<T> {
    transport: T,
}

impl<T: Transport> RpcClient<T> {
    /// A client sending its calls through `transport`.
    pub fn new(transport: T) -> Self {
        RpcClient { transport }
    }

    /// The transport.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// Gives the transport back.
    pub fn into_transport(self) -> T {
        self.transport
    }

    fn call<Req: Serialize, Rep: DeserializeOwned>(&self, method: Method, request: &Req) -> Result<Rep, Error> {
        let data = json::to_string(request, json::Style::Python).map_err(|err| Error::BadRequest {
            method: method.name(),
            message: format!("could not encode the request: {err}"),
        })?;
        let body = self.transport.call(method.name(), &data)?;
        decode_reply(method, &body)
    }
}

/// The body of every reply.
#[derive(Deserialize)]
struct Envelope<R> {
    response: R,
}

/// Decodes `{"response": ...}` into the method's reply type; a `null` response where the type
/// needs a value is [`Error::NullResponse`].
fn decode_reply<Rep: DeserializeOwned>(method: Method, body: &str) -> Result<Rep, Error> {
    match json::from_str::<Envelope<Rep>>(body) {
        Ok(envelope) => Ok(envelope.response),
        Err(err) => {
            // Only on failure: was it a null the reply type cannot hold?
            if let Ok(Envelope { response: Value::Null }) = json::from_str::<Envelope<Value>>(body) {
                return Err(Error::NullResponse { method: method.name() });
            }
            Err(Error::Decode { method: method.name(), message: err.to_string() })
        }
    }
}

macro_rules! impl_client {
    ($( $(#[$attr:meta])* fn $name:ident / $variant:ident ($request:ty) -> $reply:ty; )*) => {
        impl<T: Transport> SchedulerApi for RpcClient<T> {
            $(
                fn $name(&self, request: $request) -> Result<$reply, Error> {
                    self.call(Method::$variant, &request)
                }
            )*
        }
    };
}

for_each_method!(impl_client);

/// A [`Transport`] that serves each call in process with [`dispatch`] on a [`SchedulerApi`]:
/// `RpcClient::new(Loopback::new(api))` is `api` seen through the full wire encoding.
#[derive(Debug, Clone)]
pub struct Loopback<A> {
    api: A,
}

impl<A: SchedulerApi> Loopback<A> {
    /// Serves calls with `api`.
    pub fn new(api: A) -> Self {
        Loopback { api }
    }

    /// The scheduler behind the loopback.
    pub fn api(&self) -> &A {
        &self.api
    }
}

impl<A: SchedulerApi> Transport for Loopback<A> {
    fn call(&self, method: &str, data_json: &str) -> Result<String, Error> {
        dispatch(&self.api, method, data_json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::ScriptedScheduler;
    use crate::status::TaskStatus;
    use crate::task::TaskId;
    use serde_json::json;

    /// Answers every call with a fixed body and remembers what it was sent.
    struct Canned {
        body: String,
        sent: std::sync::Mutex<Vec<(String, String)>>,
    }

    impl Canned {
        fn new(body: &str) -> Self {
            Canned { body: body.to_owned(), sent: Default::default() }
        }
    }

    impl Transport for Canned {
        fn call(&self, method: &str, data_json: &str) -> Result<String, Error> {
            self.sent.lock().unwrap_or_else(|err| err.into_inner()).push((method.to_owned(), data_json.to_owned()));
            Ok(self.body.clone())
        }
    }

    #[test]
    fn requests_are_sent_like_python() {
        let client = RpcClient::new(Canned::new(r#"{"response": null}"#));
        client
            .add_task_batcher(AddTaskBatcherRequest {
                worker: "w".into(),
                task_family: "B".into(),
                batched_args: vec!["day".into()],
                max_batch_size: Number::INFINITY,
            })
            .unwrap();
        client.pause(NoArgs {}).unwrap();
        let sent = client.transport().sent.lock().unwrap().clone();
        assert_eq!(
            sent[0],
            (
                "add_task_batcher".to_owned(),
                r#"{"worker": "w", "task_family": "B", "batched_args": ["day"], "max_batch_size": Infinity}"#
                    .to_owned()
            )
        );
        assert_eq!(sent[1], ("pause".to_owned(), "{}".to_owned()));
    }

    #[test]
    fn null_get_work_is_a_clear_error() {
        let client = RpcClient::new(Canned::new(r#"{"response": null}"#));
        let err = client.get_work(GetWorkRequest::new("w")).unwrap_err();
        assert!(matches!(err, Error::NullResponse { method: "get_work" }), "{err:?}");
        assert_eq!(client.prune(NoArgs {}).unwrap(), ());
    }

    #[test]
    fn undecodable_replies_are_decode_errors() {
        for body in ["", "<html>500</html>", "{}", r#"{"response": {"paused": "no"}}"#, r#"{"response": 1"#] {
            let client = RpcClient::new(Canned::new(body));
            let err = client.is_paused(NoArgs {}).unwrap_err();
            assert!(matches!(err, Error::Decode { method: "is_paused", .. }), "{body}: {err:?}");
        }
    }

    #[test]
    fn transport_errors_pass_through() {
        struct Down;
        impl Transport for Down {
            fn call(&self, _method: &str, _data_json: &str) -> Result<String, Error> {
                Err(Error::Transport { message: "connection refused".into(), source: None })
            }
        }
        let client = RpcClient::new(Down);
        assert!(matches!(client.ping(PingRequest { worker: "w".into() }), Err(Error::Transport { .. })));
    }

    #[test]
    fn round_trip_through_loopback() {
        let scheduler = ScriptedScheduler::new();
        let client = RpcClient::new(Loopback::new(&scheduler));
        scheduler.push_reply(
            Method::GetWork,
            json!({"n_pending_tasks": 1, "n_unique_pending": 1, "n_pending_last_scheduled": 1,
                   "worker_state": "active", "running_tasks": [], "task_id": "A_1_x", "task_family": "A",
                   "task_module": null, "task_params": {"n": "1"}}),
        );
        let reply = client.get_work(GetWorkRequest { host: Some("h".into()), ..GetWorkRequest::new("w") }).unwrap();
        assert!(matches!(&reply.work, Work::Task { task_id, task_module: None, .. } if task_id.as_str() == "A_1_x"));
        assert_eq!(reply.n_pending_last_scheduled, Some(1));

        scheduler.push_reply(Method::MarkAsDone, json!({"task_id": "A_1_x", "status": "DONE"}));
        let reply = client.mark_as_done(OptionalTaskIdRequest { task_id: Some(TaskId::from("A_1_x")) }).unwrap();
        assert_eq!(reply.status, Some(TaskStatus::Done));

        let mut request = AddTaskRequest::new(TaskId::from("A_1_x"), "w");
        request.priority = Number::Float(1.5);
        request.params = Some([("n".to_owned(), "1".to_owned())].into_iter().collect());
        client.add_task(request).unwrap();

        let err = client.get_work(GetWorkRequest::new("w")).unwrap_err();
        assert!(matches!(err, Error::Internal { method: "get_work", .. }), "{err:?}");

        let calls = scheduler.take_calls();
        assert_eq!(
            calls[0],
            (Method::GetWork, json!({"host": "h", "assistant": false, "current_tasks": null, "worker": "w"}))
        );
        assert_eq!(calls[2].1["priority"], json!(1.5));
        assert_eq!(calls[2].1["params"], json!({"n": "1"}));
    }
}
