//! The visualiser: a web UI for `luigid`, written as plain HTML, CSS and JavaScript under
//! `ui/assets/` and embedded in the binary with `include_str!`, so `cargo build` needs no
//! Node or npm step and the served files are exactly the committed ones.
//!
//! [`router`] serves:
//!
//! | path | what |
//! |---|---|
//! | `/static/visualiser/index.html` (and `/static/visualiser/`) | the page (`GET /` redirects here, as in Luigi) |
//! | `/static/visualiser/app.js`, `app.css` | its script and style sheet |
//! | `/visualiser-api/tasks` | one page of the filtered, sorted task list with status and family counts |
//! | `/visualiser-api/graph` | a task's dependency or dependents graph, cut at a display limit |
//!
//! Key decision: the task list is paged, filtered and counted on the server
//! ([`crate::engine::ui_query`]) so the browser only ever holds one page of rows, which keeps
//! the page interactive at 100k tasks; Luigi's own visualiser downloads every task through
//! `task_list` and freezes. Everything else the UI does (task errors, workers, resources and
//! every action) goes through the ordinary `/api/<method>` RPCs, so the UI exercises the same
//! protocol, authentication and CORS rules as any client. The page is served with a
//! Content-Security-Policy that forbids inline and foreign scripts, a second line of defence
//! behind the script's rule of only ever putting user-supplied strings into the DOM as text.
//! The JSON handlers run on the blocking pool because a query walks every task.

use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::json;

use crate::engine::Scheduler;
use crate::engine::ui_query::{Category, GraphDirection, SortKey, TaskQuery};

/// Rows per page when the request does not say.
pub const DEFAULT_PAGE_SIZE: usize = 50;
/// Most rows one request may ask for.
pub const MAX_PAGE_SIZE: usize = 1000;
/// Graph nodes drawn when the request does not say.
pub const DEFAULT_GRAPH_NODES: usize = 300;
/// Most graph nodes one request may ask for (also capped by `max_graph_nodes`): an SVG with
/// more nodes than this is neither readable nor quick to draw.
pub const MAX_GRAPH_NODES: usize = 3000;

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");

/// The page's Content-Security-Policy: scripts and styles only from files we serve.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   object-src 'none'; base-uri 'none'; frame-ancestors 'self'";

/// The visualiser's routes over `scheduler`.
pub fn router(scheduler: Arc<Scheduler>) -> Router {
    Router::new()
        .route("/static/visualiser/", get(index))
        .route("/static/visualiser/index.html", get(index))
        .route("/static/visualiser/app.js", get(|| async { asset(APP_JS, "text/javascript; charset=utf-8") }))
        .route("/static/visualiser/app.css", get(|| async { asset(APP_CSS, "text/css; charset=utf-8") }))
        .route("/visualiser-api/tasks", get(tasks))
        .route("/visualiser-api/graph", get(graph))
        .with_state(scheduler)
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        ],
        body,
    )
        .into_response()
}

async fn index() -> Response {
    let mut response = asset(INDEX_HTML, "text/html; charset=utf-8");
    response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    response
}

/// A 400 with `{"error": ...}`.
fn bad_request(message: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": message }))).into_response()
}

fn no_store(mut response: Response) -> Response {
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Query parameters of `/visualiser-api/tasks`.
#[derive(Debug, Default, Deserialize)]
struct TasksParams {
    /// A category (`PENDING`, `UPSTREAM_FAILED`...).
    status: Option<Category>,
    family: Option<String>,
    search: Option<String>,
    /// One task by id (the detail view).
    id: Option<String>,
    sort: Option<SortKey>,
    /// `asc` or `desc`.
    dir: Option<String>,
    offset: Option<usize>,
    limit: Option<usize>,
}

async fn tasks(
    State(scheduler): State<Arc<Scheduler>>,
    params: Result<Query<TasksParams>, QueryRejection>,
) -> Response {
    let params = match params {
        Ok(Query(params)) => params,
        Err(rejection) => return bad_request(rejection.body_text()),
    };
    let sort = params.sort.unwrap_or_default();
    let descending = match params.dir.as_deref() {
        Some("asc") => false,
        Some("desc") => true,
        Some(other) => return bad_request(format!("dir={other}: expected asc or desc")),
        // Newest and most urgent first; names A to Z.
        None => matches!(sort, SortKey::Time | SortKey::Priority),
    };
    let query = TaskQuery {
        category: params.status,
        family: params.family,
        search: params.search.unwrap_or_default(),
        task_id: params.id,
        sort,
        descending,
        offset: params.offset.unwrap_or(0),
        limit: params.limit.unwrap_or(DEFAULT_PAGE_SIZE).min(MAX_PAGE_SIZE),
    };
    match tokio::task::spawn_blocking(move || scheduler.ui_task_page(&query)).await {
        Ok(page) => no_store(Json(page).into_response()),
        Err(err) => (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({ "error": err.to_string() }))).into_response(),
    }
}

/// Query parameters of `/visualiser-api/graph`.
#[derive(Debug, Deserialize)]
struct GraphParams {
    id: String,
    #[serde(default)]
    dir: GraphDirection,
    /// `false` leaves out DONE tasks (as `dep_graph`'s `include_done`).
    include_done: Option<bool>,
    limit: Option<usize>,
}

async fn graph(
    State(scheduler): State<Arc<Scheduler>>,
    params: Result<Query<GraphParams>, QueryRejection>,
) -> Response {
    let params = match params {
        Ok(Query(params)) => params,
        Err(rejection) => return bad_request(rejection.body_text()),
    };
    let limit = params.limit.unwrap_or(DEFAULT_GRAPH_NODES).min(MAX_GRAPH_NODES);
    let include_done = params.include_done.unwrap_or(true);
    let id = params.id;
    let walked = tokio::task::spawn_blocking(move || scheduler.ui_graph(&id, params.dir, include_done, limit)).await;
    match walked {
        Ok(Some(view)) => no_store(Json(view).into_response()),
        Ok(None) => {
            (StatusCode::NOT_FOUND, Json(json!({ "error": "the scheduler does not know this task" }))).into_response()
        }
        Err(err) => (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({ "error": err.to_string() }))).into_response(),
    }
}

#[cfg(test)]
mod tests;
