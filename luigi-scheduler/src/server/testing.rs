//! `POST /_testing/clock`: moves the scheduler's clock over HTTP, for `luigid --test-clock` only.
//!
//! Luigi's scheduler tests simulate passing time by patching `time.time` in-process; a third of
//! them cannot run against an out-of-process server without a way to move the server's clock
//! (inventory §11.3). The route exists only when the router was given a [`ManualClock`], which
//! only the hidden `--test-clock` flag does.
//!
//! The clock follows real time until the first request here, which freezes it (as Luigi's
//! tests see real time until they fake it).
//!
//! The arguments are read like an RPC's `data` (form field, query string or JSON body):
//! `{"time": <epoch seconds>}` sets the clock, `{"advance": <seconds>}` moves it (after
//! setting, if both are given). The reply is `{"time": <the clock's time>}`.
//!
//! [`ManualClock`]: crate::clock::ManualClock

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use luigi_core::rpc::json;
use serde_json::Value;

use super::AppState;
use super::api::request_data;
use crate::clock::Clock;

/// `POST /_testing/clock`.
pub(super) async fn set_clock(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let Some(clock) = state.test_clock.as_ref() else { return StatusCode::NOT_FOUND.into_response() };
    let data = match request_data(request, state.config.max_body_size).await {
        Ok(data) => data.unwrap_or_default(),
        Err((status, message)) => return reply(status, serde_json::json!({ "error": message })),
    };
    let arguments: Value = if data.trim().is_empty() {
        Value::Object(Default::default())
    } else {
        match json::from_str(&data) {
            Ok(value) => value,
            Err(err) => return bad_request(format!("the clock arguments are not JSON: {err}")),
        }
    };
    let time = match seconds(&arguments, "time") {
        Ok(time) => time,
        Err(message) => return bad_request(message),
    };
    let advance = match seconds(&arguments, "advance") {
        Ok(advance) => advance,
        Err(message) => return bad_request(message),
    };
    if let Some(time) = time {
        clock.set(time);
    }
    if let Some(advance) = advance {
        clock.advance(advance);
    }
    let now = clock.now();
    tracing::info!(target: "luigi.server", "test clock now reads {now}");
    reply(StatusCode::OK, serde_json::json!({ "time": now }))
}

/// The finite number under `key`, if present.
fn seconds(arguments: &Value, key: &str) -> Result<Option<f64>, String> {
    let Some(object) = arguments.as_object() else {
        return Err("send a JSON object like {\"time\": 1700000000.0} or {\"advance\": 60}".to_owned());
    };
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => value
            .as_f64()
            .filter(|seconds| seconds.is_finite())
            .map(Some)
            .ok_or_else(|| format!("\"{key}\" must be a finite number of seconds, not {value}")),
    }
}

fn bad_request(message: String) -> Response {
    reply(StatusCode::BAD_REQUEST, serde_json::json!({ "error": message }))
}

fn reply(status: StatusCode, body: Value) -> Response {
    let content_type = HeaderValue::from_static("application/json; charset=UTF-8");
    (status, [(header::CONTENT_TYPE, content_type)], body.to_string()).into_response()
}
