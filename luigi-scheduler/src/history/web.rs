//! The history pages as an axum [`Router`]: Luigi's paths, as HTML by default and as JSON with
//! `?format=json`.
//!
//! | path | shows |
//! |---|---|
//! | `/history` | runs with an event in the last 24 hours, newest activity first |
//! | `/history/by_name/{name}` | runs of a task family |
//! | `/history/by_params/{name}?data={json}` | runs of a family whose parameters match a JSON object |
//! | `/history/by_id/{id}` | one run: its parameters and events |
//! | `/history/by_task_id/{task_id}` | the newest run of a Luigi task id |
//! | `/tasklist` | every recorded task family |
//! | `/tasklist/{name}` | a family's executions: start, duration and outcome |
//!
//! Every list takes `page` (from 1) and `per_page` (1 to 1000, default 100); on a run's page they page
//! through its events. Names and task ids are matched to the end of the path, so values containing
//! `/` work as in Luigi (whose routes are `(.*?)`). Handlers run the blocking store queries with
//! `spawn_blocking`. Bad input is a 400 and a missing run a 404 (Luigi answers both with a 500); a
//! database error is a 500 with the reason, logged as a warning. [`disabled_router`] answers the same
//! paths with a 404 and [`DISABLED_MESSAGE`] when history is off, where Luigi fails with a 500.

use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Json, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::page::{self, Nav, seg};
use super::query::{DEFAULT_PER_PAGE, Execution, Family, Page, Paged, RunDetail, RunSummary, Timestamp};
use super::{Error, HistoryStore};

/// What the history paths answer when task history is off.
pub const DISABLED_MESSAGE: &str = "task history is not enabled (set [scheduler] record_task_history = true)";

/// The history pages over `store`.
pub fn router(store: Arc<HistoryStore>) -> Router {
    Router::new()
        .route("/history", get(recent))
        .route("/history/by_name/{*name}", get(by_name))
        .route("/history/by_params/{*name}", get(by_params))
        .route("/history/by_id/{id}", get(by_id))
        .route("/history/by_task_id/{*task_id}", get(by_task_id))
        .route("/tasklist", get(families))
        .route("/tasklist/{*name}", get(timeline))
        .with_state(store)
}

/// The history paths answering 404 with [`DISABLED_MESSAGE`], for a server without task history.
pub fn disabled_router() -> Router {
    Router::new()
        .route("/history", get(disabled))
        .route("/history/{*rest}", get(disabled))
        .route("/tasklist", get(disabled))
        .route("/tasklist/{*rest}", get(disabled))
}

/// The query parameters every page accepts.
#[derive(Debug, Default, Deserialize)]
struct Params {
    format: Option<String>,
    page: Option<u32>,
    per_page: Option<u32>,
    data: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Html,
    Json,
}

/// A failed request: status and message, rendered in the requested format.
#[derive(Debug)]
struct Failure {
    status: StatusCode,
    message: String,
}

impl Failure {
    fn bad_request(message: impl Into<String>) -> Failure {
        Failure { status: StatusCode::BAD_REQUEST, message: message.into() }
    }

    fn not_found(message: impl Into<String>) -> Failure {
        Failure { status: StatusCode::NOT_FOUND, message: message.into() }
    }

    fn from_error(err: Error) -> Failure {
        match err {
            Error::Query { .. } => Failure::bad_request(err.to_string()),
            err => {
                tracing::warn!(error = %err, "task history query failed");
                Failure { status: StatusCode::INTERNAL_SERVER_ERROR, message: err.to_string() }
            }
        }
    }

    fn render(self, format: Format) -> Response {
        match format {
            Format::Html => (self.status, Html(page::error(self.status.as_u16(), &self.message))).into_response(),
            Format::Json => (self.status, Json(json!({ "error": self.message }))).into_response(),
        }
    }
}

/// A parsed request: format and page.
struct Request {
    format: Format,
    page: Page,
    data: Option<String>,
}

impl Request {
    /// Reads the query string. A bad one is answered as HTML, since the format is part of what could
    /// not be read.
    fn parse(params: QueryParams) -> Result<Request, Failure> {
        let Query(params) =
            params.map_err(|rejection| Failure::bad_request(format!("bad query string: {}", rejection.body_text())))?;
        let format = match params.format.as_deref() {
            None | Some("" | "html") => Format::Html,
            Some("json") => Format::Json,
            Some(other) => {
                return Err(Failure::bad_request(format!("unknown format `{other}`; use format=json or format=html")));
            }
        };
        let page = Page::new(params.page.unwrap_or(1), params.per_page.unwrap_or(DEFAULT_PER_PAGE));
        Ok(Request { format, page, data: params.data })
    }

    fn reply(&self, result: Result<(String, Value), Failure>) -> Response {
        match (result, self.format) {
            (Ok((html, _)), Format::Html) => Html(html).into_response(),
            (Ok((_, value)), Format::Json) => Json(value).into_response(),
            (Err(failure), format) => failure.render(format),
        }
    }
}

/// Runs a blocking store query off the async executor.
async fn blocking<R: Send + 'static>(
    store: Arc<HistoryStore>,
    f: impl FnOnce(&HistoryStore) -> Result<R, Error> + Send + 'static,
) -> Result<R, Failure> {
    match tokio::task::spawn_blocking(move || f(&store)).await {
        Ok(result) => result.map_err(Failure::from_error),
        Err(err) => Err(Failure {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: format!("the task history query did not finish: {err}"),
        }),
    }
}

type QueryParams = Result<Query<Params>, QueryRejection>;

async fn recent(State(store): State<Arc<HistoryStore>>, params: QueryParams) -> Response {
    let req = match Request::parse(params) {
        Ok(req) => req,
        Err(failure) => return failure.render(Format::Html),
    };
    let page = req.page;
    let result = blocking(store, move |s| s.recent_runs(page)).await.map(|runs| {
        let nav = Nav::new("/history".to_owned());
        let html = page::runs("Runs in the last 24 hours", "", &runs, &nav);
        (html, paged_json("runs", &runs, run_summary_json))
    });
    req.reply(result)
}

async fn by_name(State(store): State<Arc<HistoryStore>>, Path(name): Path<String>, params: QueryParams) -> Response {
    let req = match Request::parse(params) {
        Ok(req) => req,
        Err(failure) => return failure.render(Format::Html),
    };
    let page = req.page;
    let query_name = name.clone();
    let result = blocking(store, move |s| s.runs_by_name(&query_name, page)).await.map(|runs| {
        let nav = Nav::new(format!("/history/by_name/{}", seg(&name)));
        let html = page::runs(&format!("All “{name}” runs"), "", &runs, &nav);
        let mut value = paged_json("runs", &runs, run_summary_json);
        value["name"] = json!(name);
        (html, value)
    });
    req.reply(result)
}

async fn by_params(State(store): State<Arc<HistoryStore>>, Path(name): Path<String>, params: QueryParams) -> Response {
    let req = match Request::parse(params) {
        Ok(req) => req,
        Err(failure) => return failure.render(Format::Html),
    };
    let data = req.data.clone().unwrap_or_else(|| "{}".to_owned());
    let matches = match match_params(&data) {
        Ok(matches) => matches,
        Err(failure) => return failure.render(req.format),
    };
    let page = req.page;
    let query_name = name.clone();
    let query_matches = matches.clone();
    let result = blocking(store, move |s| s.runs_by_params(&query_name, &query_matches, page)).await.map(|runs| {
        let mut nav = Nav::new(format!("/history/by_params/{}", seg(&name)));
        if req.data.is_some() {
            nav.keep.push(("data", data.clone()));
        }
        let wanted: Vec<String> = matches.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let intro = if wanted.is_empty() { String::new() } else { format!("Parameters: {}", wanted.join(", ")) };
        let html = page::runs(&format!("“{name}” runs by parameters"), &intro, &runs, &nav);
        let mut value = paged_json("runs", &runs, run_summary_json);
        value["name"] = json!(name);
        value["match"] = Value::Object(matches.iter().map(|(k, v)| (k.clone(), json!(v))).collect());
        (html, value)
    });
    req.reply(result)
}

/// Reads `?data=`: a JSON object of parameter name to value. Values compare with the stored strings;
/// numbers and booleans are converted as Python's `str()` would write them.
fn match_params(data: &str) -> Result<Vec<(String, String)>, Failure> {
    let value: Value = serde_json::from_str(data).map_err(|e| {
        Failure::bad_request(format!("data is not valid JSON ({e}); expected an object such as {{\"n\": \"1\"}}"))
    })?;
    let Value::Object(object) = value else {
        return Err(Failure::bad_request("data must be a JSON object of parameter name to value"));
    };
    object
        .into_iter()
        .map(|(k, v)| {
            let v = match v {
                Value::String(s) => s,
                Value::Number(n) => n.to_string(),
                Value::Bool(true) => "True".to_owned(),
                Value::Bool(false) => "False".to_owned(),
                other => {
                    return Err(Failure::bad_request(format!(
                        "the value of parameter `{k}` must be a string (the serialized value), not {other}"
                    )));
                }
            };
            Ok((k, v))
        })
        .collect()
}

async fn by_id(State(store): State<Arc<HistoryStore>>, Path(id): Path<String>, params: QueryParams) -> Response {
    let req = match Request::parse(params) {
        Ok(req) => req,
        Err(failure) => return failure.render(Format::Html),
    };
    let Ok(id) = id.parse::<i64>() else {
        return Failure::bad_request(format!("`{id}` is not a run id (a whole number)")).render(req.format);
    };
    let page = req.page;
    let result = blocking(store, move |s| s.run(id, page)).await.and_then(|run| match run {
        Some(run) => Ok(run_reply(&run, Nav::new(format!("/history/by_id/{id}")))),
        None => Err(Failure::not_found(format!("no run with id {id}"))),
    });
    req.reply(result)
}

async fn by_task_id(
    State(store): State<Arc<HistoryStore>>,
    Path(task_id): Path<String>,
    params: QueryParams,
) -> Response {
    let req = match Request::parse(params) {
        Ok(req) => req,
        Err(failure) => return failure.render(Format::Html),
    };
    let page = req.page;
    let query_task_id = task_id.clone();
    let result =
        blocking(store, move |s| s.latest_run_for_task_id(&query_task_id, page)).await.and_then(|run| match run {
            Some(run) => Ok(run_reply(&run, Nav::new(format!("/history/by_task_id/{}", seg(&task_id))))),
            None => Err(Failure::not_found(format!("no run of task {task_id}"))),
        });
    req.reply(result)
}

fn run_reply(run: &RunDetail, nav: Nav) -> (String, Value) {
    let html = page::run(run, &nav);
    let mut value = paged_json(
        "events",
        &run.events,
        |e| json!({ "id": e.id, "status": e.name, "ts": e.ts.to_string(), "epoch": e.ts.epoch() }),
    );
    value["id"] = json!(run.id);
    value["task_id"] = json!(run.task_id);
    value["name"] = json!(run.name);
    value["host"] = json!(run.host);
    value["parameters"] = params_json(&run.parameters);
    value["parameters_truncated"] = json!(run.parameters_truncated);
    (html, value)
}

async fn families(State(store): State<Arc<HistoryStore>>, params: QueryParams) -> Response {
    let req = match Request::parse(params) {
        Ok(req) => req,
        Err(failure) => return failure.render(Format::Html),
    };
    let page = req.page;
    let result = blocking(store, move |s| s.families(page)).await.map(|list| {
        let html = page::families(&list, &Nav::new("/tasklist".to_owned()));
        (html, paged_json("families", &list, |f: &Family| json!({ "name": f.name, "runs": f.runs })))
    });
    req.reply(result)
}

async fn timeline(State(store): State<Arc<HistoryStore>>, Path(name): Path<String>, params: QueryParams) -> Response {
    let req = match Request::parse(params) {
        Ok(req) => req,
        Err(failure) => return failure.render(Format::Html),
    };
    let page = req.page;
    let query_name = name.clone();
    let result = blocking(store, move |s| s.timeline(&query_name, page)).await.map(|list| {
        let html = page::timeline(&name, &list, &Nav::new(format!("/tasklist/{}", seg(&name))));
        let mut value = paged_json("executions", &list, execution_json);
        value["name"] = json!(name);
        (html, value)
    });
    req.reply(result)
}

async fn disabled(params: QueryParams) -> Response {
    let format = match params {
        Ok(Query(Params { format: Some(f), .. })) if f == "json" => Format::Json,
        _ => Format::Html,
    };
    Failure::not_found(DISABLED_MESSAGE).render(format)
}

fn paged_json<T>(key: &str, list: &Paged<T>, item: impl Fn(&T) -> Value) -> Value {
    let mut out = Map::new();
    out.insert(key.to_owned(), Value::Array(list.items.iter().map(item).collect()));
    out.insert("page".to_owned(), json!(list.page.page));
    out.insert("per_page".to_owned(), json!(list.page.per_page));
    out.insert("has_more".to_owned(), json!(list.has_more));
    Value::Object(out)
}

fn params_json(params: &[(String, Option<String>)]) -> Value {
    Value::Object(params.iter().map(|(k, v)| (k.clone(), json!(v))).collect())
}

fn ts_json(ts: Option<Timestamp>) -> (Value, Value) {
    match ts {
        Some(ts) => (json!(ts.to_string()), json!(ts.epoch())),
        None => (Value::Null, Value::Null),
    }
}

fn run_summary_json(run: &RunSummary) -> Value {
    let (last_action, last_action_epoch) = ts_json(run.last_action);
    json!({
        "id": run.id,
        "task_id": run.task_id,
        "name": run.name,
        "host": run.host,
        "status": run.status,
        "last_action": last_action,
        "last_action_epoch": last_action_epoch,
        "parameters": params_json(&run.parameters),
    })
}

fn execution_json(e: &Execution) -> Value {
    let (started, started_epoch) = ts_json(Some(e.started));
    let (ended, ended_epoch) = ts_json(e.ended);
    json!({
        "event_id": e.event_id,
        "id": e.run_id,
        "task_id": e.task_id,
        "host": e.host,
        "started": started,
        "started_epoch": started_epoch,
        "outcome": e.outcome,
        "ended": ended,
        "ended_epoch": ended_epoch,
        "duration_secs": e.duration_secs(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn match_params_forms() {
        assert_eq!(match_params("{}").unwrap(), vec![]);
        assert_eq!(
            match_params(r#"{"a": "x", "n": 2, "f": 1.5, "b": true}"#).unwrap(),
            vec![
                ("a".to_owned(), "x".to_owned()),
                ("n".to_owned(), "2".to_owned()),
                ("f".to_owned(), "1.5".to_owned()),
                ("b".to_owned(), "True".to_owned())
            ]
        );
        for bad in ["", "nope", "[1]", r#"{"a": null}"#, r#"{"a": [1]}"#] {
            assert_eq!(match_params(bad).unwrap_err().status, StatusCode::BAD_REQUEST, "{bad}");
        }
    }
}
