//! The server side of the protocol without HTTP: method name and `data` text in, reply body out.
//!
//! An HTTP server extracts the method from `/api/<method>` and the `data` field from the query
//! string or form body, calls [`dispatch`], and writes the returned body with status 200, or
//! [`Error::http_status`] and the error's message on failure. Decoding failures never panic:
//! they become [`Error::BadRequest`] with serde's description of what did not fit.
//!
//! Two leniencies differ from Python luigid on purpose: empty `data` is read as `{}` (Python
//! answers 500, which breaks the stock visualiser's pause button), and unknown keys are ignored
//! for every method (Python accepts them only on methods with `**kwargs`).

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::api::for_each_method;
use super::wire::*;
use super::{Error, Method, SchedulerApi, json};

/// Decodes `data` for `method`, calls it on `api`, and encodes the reply body
/// (`{"response": ...}`). Unknown method names are [`Error::NotFound`].
pub fn dispatch(api: &dyn SchedulerApi, method: &str, data: &str) -> Result<String, Error> {
    let known = Method::from_name(method).ok_or_else(|| Error::NotFound { method: method.to_owned() })?;
    dispatch_method(api, known, data)
}

/// [`dispatch`] for a method already looked up.
pub fn dispatch_method(api: &dyn SchedulerApi, method: Method, data: &str) -> Result<String, Error> {
    macro_rules! define_dispatch {
        ($( $(#[$attr:meta])* fn $name:ident / $variant:ident ($request:ty) -> $reply:ty; )*) => {
            match method {
                $(
                    Method::$variant => {
                        let request: $request = decode_request(method, data)?;
                        let reply: $reply = api.$name(request)?;
                        encode_reply(method, &reply)
                    }
                )*
            }
        };
    }
    for_each_method!(define_dispatch)
}

/// Decodes the `data` field: empty means `{}`, anything but a JSON object is a bad request.
fn decode_request<T: DeserializeOwned>(method: Method, data: &str) -> Result<T, Error> {
    let trimmed = data.trim_start_matches([' ', '\t', '\n', '\r']);
    let text = if trimmed.is_empty() { "{}" } else { data };
    if !text.trim_start_matches([' ', '\t', '\n', '\r']).starts_with('{') {
        return Err(Error::BadRequest {
            method: method.name(),
            message: "the data field must be a JSON object of named arguments, like {\"worker\": \"...\"}".to_owned(),
        });
    }
    json::from_str(text).map_err(|err| Error::BadRequest { method: method.name(), message: err.to_string() })
}

fn encode_reply<T: Serialize>(method: Method, reply: &T) -> Result<String, Error> {
    json::reply_body(reply).map_err(|err| Error::Internal { method: method.name(), message: err.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::ScriptedScheduler;
    use serde_json::json;

    fn bad_request(result: Result<String, Error>) -> String {
        match result {
            Err(Error::BadRequest { message, .. }) => message,
            other => panic!("expected a bad request, got {other:?}"),
        }
    }

    #[test]
    fn unknown_method_is_not_found() {
        let api = ScriptedScheduler::new();
        let err = dispatch(&api, "update_metrics_task_started", "{}").unwrap_err();
        assert!(matches!(&err, Error::NotFound { method } if method == "update_metrics_task_started"));
        assert_eq!(err.http_status(), 404);
        assert!(matches!(dispatch(&api, "", ""), Err(Error::NotFound { .. })));
        assert!(matches!(dispatch(&api, "Prune", "{}"), Err(Error::NotFound { .. })));
        assert!(api.calls().is_empty());
    }

    #[test]
    fn empty_data_means_no_arguments() {
        let api = ScriptedScheduler::new();
        for data in ["", " \n", "{}", r#"{"extra": [1, {"x": NaN}]}"#] {
            api.push_reply(Method::IsPaused, json!({"paused": true}));
            assert_eq!(dispatch(&api, "is_paused", data).unwrap(), r#"{"response": {"paused": true}}"#);
        }
        assert_eq!(dispatch(&api, "pause", "").unwrap(), r#"{"response": null}"#);
        assert_eq!(dispatch(&api, "worker_list", "").unwrap_err().http_status(), 500);
        let calls = api.take_calls();
        assert_eq!(calls.len(), 6);
        assert_eq!(calls[5], (Method::WorkerList, json!({"include_running": true})));
    }

    #[test]
    fn requests_reach_the_api_decoded_with_defaults() {
        let api = ScriptedScheduler::new();
        let data = r#"{"task_id": "A_1_f4fe3360f0", "worker": "w1", "status": "SUSPENDED", "priority": 2.5,
                       "deps": null, "expl": "\"boom\"", "unknown_future_key": {"a": Infinity}}"#;
        assert_eq!(dispatch(&api, "add_task", data).unwrap(), r#"{"response": null}"#);
        let data = r#"{"worker": "w", "task_family": "B", "batched_args": ["d"], "max_batch_size": Infinity}"#;
        assert_eq!(dispatch(&api, "add_task_batcher", data).unwrap(), r#"{"response": null}"#);
        api.push_reply(Method::Ping, json!({"rpc_messages": [{"name": "set_worker_processes", "kwargs": {"n": 2}}]}));
        assert_eq!(
            dispatch(&api, "ping", r#"{"worker": "w1"}"#).unwrap(),
            r#"{"response": {"rpc_messages": [{"name": "set_worker_processes", "kwargs": {"n": 2}}]}}"#
        );
        api.push_reply(Method::TaskList, json!({"num_tasks": 7}));
        assert_eq!(dispatch(&api, "task_list", r#"{"status": "DONE"}"#).unwrap(), r#"{"response": {"num_tasks": 7}}"#);

        let calls = api.take_calls();
        let (method, add_task) = &calls[0];
        assert_eq!(*method, Method::AddTask);
        assert_eq!(add_task["status"], json!("SUSPENDED"));
        assert_eq!(add_task["priority"], json!(2.5));
        assert_eq!(add_task["runnable"], json!(true));
        assert_eq!(add_task["family"], json!(""));
        assert_eq!(add_task["expl"], json!("\"boom\""));
        assert!(add_task.get("unknown_future_key").is_none());
        assert_eq!(calls[1].1["max_batch_size"], json!("Infinity"));
        assert_eq!(calls[2], (Method::Ping, json!({"worker": "w1"})));
        assert_eq!(
            calls[3],
            (
                Method::TaskList,
                json!({"status": "DONE", "upstream_status": "", "limit": true, "search": null, "max_shown_tasks": null})
            )
        );
    }

    #[test]
    fn wrong_shapes_are_bad_requests() {
        let api = ScriptedScheduler::new();
        let message = bad_request(dispatch(&api, "add_task", r#"{"task_id": "A"}"#));
        assert!(message.contains("missing field `worker`"), "{message}");
        let message = bad_request(dispatch(&api, "add_task", r#"{"task_id": "A", "worker": "w", "priority": "high"}"#));
        assert!(message.contains("invalid type"), "{message}");
        let message = bad_request(dispatch(&api, "add_task", r#"{"task_id": 5, "worker": "w"}"#));
        assert!(message.contains("invalid type: integer `5`"), "{message}");
        let message =
            bad_request(dispatch(&api, "add_task", r#"{"task_id": "A", "worker": "w", "resources": {"cpu": 0.5}}"#));
        assert!(message.contains("invalid type: floating point"), "{message}");
        let message = bad_request(dispatch(&api, "ping", r#"["w"]"#));
        assert!(message.contains("JSON object"), "{message}");
        let message = bad_request(dispatch(&api, "ping", r#"{"worker": "#));
        assert!(message.contains("EOF"), "{message}");
        bad_request(dispatch(&api, "ping", "null"));
        bad_request(dispatch(&api, "ping", "{}"));
        bad_request(dispatch(&api, "ping", r#"{"worker": "w"} trailing"#));
        bad_request(dispatch(&api, "add_task", r#"{"task_id": "A", "worker": "w", "status": "DONE!"}"#));
        bad_request(dispatch(&api, "add_worker", r#"{"worker": "w", "info": "text"}"#));
        bad_request(dispatch(&api, "set_worker_processes", r#"{"worker": "w", "n": null}"#));
        bad_request(dispatch(&api, "dep_graph", r#"{"task_id": "T", "include_done": "yes"}"#));
        bad_request(dispatch(&api, "add_task", "{\"task_id\": \"\u{1F600}"));
        assert!(api.calls().is_empty());
    }

    #[test]
    fn api_errors_pass_through() {
        let api = ScriptedScheduler::new();
        let err = dispatch(&api, "get_work", r#"{"worker": "w"}"#).unwrap_err();
        assert!(matches!(err, Error::Internal { method: "get_work", .. }));
        assert_eq!(err.http_status(), 500);
    }
}
