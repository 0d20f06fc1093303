//! The history pages through the axum router, in process (`tower::ServiceExt::oneshot`): every path
//! in HTML and JSON, escaping of hostile values, pagination links, input errors, and the router used
//! when history is off.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use luigi_scheduler::history::{DISABLED_MESSAGE, HistoryEvent, HistoryStore, disabled_router, router};
use serde_json::Value;
use tower::ServiceExt;

use crate::common::{PgSchema, T0, open, record, sqlite_url, task};

use HistoryEvent::{Done, Failed, Pending, Running};

const XSS: &str = "<script>alert(1)</script>";

/// A response, read whole.
struct Reply {
    status: StatusCode,
    content_type: String,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        assert!(self.content_type.starts_with("application/json"), "{}", self.content_type);
        serde_json::from_str(&self.body).expect("a JSON body")
    }

    fn html(&self) -> &str {
        assert!(self.content_type.starts_with("text/html"), "{}", self.content_type);
        assert!(self.body.starts_with("<!DOCTYPE html>"));
        // Our pages never carry scripts, so any `<script` would be injected.
        assert!(!self.body.contains("<script"), "unescaped script in {}", self.body);
        &self.body
    }
}

async fn get(app: &Router, uri: &str) -> Reply {
    let response =
        app.clone().oneshot(Request::get(uri).body(Body::empty()).expect("request")).await.expect("response");
    let status = response.status();
    let content_type =
        response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let bytes = axum::body::to_bytes(response.into_body(), 16 << 20).await.expect("body");
    Reply { status, content_type, body: String::from_utf8(bytes.to_vec()).expect("UTF-8 body") }
}

/// Runs 1–3: a family with a hostile parameter, a namespaced family, and a retried task.
fn fill(store: &HistoryStore) {
    let a = task("Evil_x_1", "Evil", &[("label", XSS), ("n", "1")]);
    let b = task("my.ns.Task_b_2", "my.ns.Task", &[("n", "2"), ("path", "a b/c?d#e")]);
    let c = task("Retry__99914b932b", "Retry", &[]);
    record(store, &a, Pending, None, T0);
    record(store, &a, Running, Some("<b>host</b>"), T0 + 1.0);
    record(store, &a, Done, None, T0 + 2.5);
    record(store, &b, Pending, None, T0 + 3.0);
    record(store, &c, Pending, None, T0 + 4.0);
    record(store, &c, Running, Some("h1"), T0 + 5.0);
    record(store, &c, Failed, None, T0 + 6.0);
    record(store, &c, Running, Some("h2"), T0 + 10.0);
    record(store, &c, Done, None, T0 + 70.0);
    store.flush().expect("flush");
}

fn sqlite_app() -> (tempfile::TempDir, Router) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(sqlite_url(&dir.path().join("history.db")), T0 + 3600.0);
    fill(&store);
    (dir, router(Arc::new(store)))
}

#[tokio::test]
async fn recent_runs_page() {
    let (_dir, app) = sqlite_app();
    let reply = get(&app, "/history").await;
    assert_eq!(reply.status, StatusCode::OK);
    let html = reply.html();
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{html}");
    assert!(html.contains("&lt;b&gt;host&lt;/b&gt;"));
    assert!(html.contains("<a href=\"/history/by_id/1\">Evil</a>"));
    assert!(html.contains("<a href=\"/history/by_id/2\">my.ns.Task</a>"));
    assert!(html.contains("class=\"status s-DONE\">DONE</span>"));
    // Newest activity first: Retry (T0+70), my.ns.Task (T0+3), Evil (T0+2.5).
    let (retry, ns, evil) = (html.find(">Retry<"), html.find(">my.ns.Task<"), html.find(">Evil<"));
    assert!(retry < ns && ns < evil, "{html}");

    let json = get(&app, "/history?format=json").await.json();
    assert_eq!(
        (json["page"].as_u64(), json["per_page"].as_u64(), json["has_more"].as_bool()),
        (Some(1), Some(100), Some(false))
    );
    let runs = json["runs"].as_array().expect("runs");
    let ids: Vec<i64> = runs.iter().map(|r| r["id"].as_i64().unwrap_or_default()).collect();
    assert_eq!(ids, [3, 2, 1]);
    let evil = &runs[2];
    assert_eq!(evil["name"], "Evil");
    assert_eq!(evil["task_id"], "Evil_x_1");
    assert_eq!(evil["host"], "<b>host</b>");
    assert_eq!(evil["status"], "DONE");
    assert_eq!(evil["parameters"]["label"], XSS);
    assert_eq!(evil["parameters"]["n"], "1");
    assert!((evil["last_action_epoch"].as_f64().unwrap_or_default() - (T0 + 2.5)).abs() < 1e-6);
    assert!(evil["last_action"].as_str().is_some_and(|s| s.ends_with(":02.500000")));
    assert_eq!(runs[1]["host"], Value::Null);
}

#[tokio::test]
async fn run_pages() {
    let (_dir, app) = sqlite_app();
    let reply = get(&app, "/history/by_id/1").await;
    assert_eq!(reply.status, StatusCode::OK);
    let html = reply.html();
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("href=\"/history/by_name/Evil\""));
    assert!(html.contains("href=\"/tasklist/Evil\""));
    assert!(html.contains("href=\"/history/by_task_id/Evil_x_1\""));
    let json = get(&app, "/history/by_id/1?format=json").await.json();
    assert_eq!(json["id"], 1);
    assert_eq!(json["host"], "<b>host</b>");
    assert_eq!(json["parameters"]["label"], XSS);
    assert_eq!(json["parameters_truncated"], false);
    let events: Vec<&str> =
        json["events"].as_array().expect("events").iter().filter_map(|e| e["status"].as_str()).collect();
    assert_eq!(events, ["DONE", "RUNNING", "PENDING"]);
    assert!((json["events"][0]["epoch"].as_f64().unwrap_or_default() - (T0 + 2.5)).abs() < 1e-6);

    // The parameter with `/`, `?`, `#` and a space is linked percent-encoded and shown as is.
    let html = get(&app, "/history/by_id/2").await;
    assert!(html.html().contains("a b/c?d#e"));
    assert!(html.html().contains("href=\"/history/by_task_id/my.ns.Task_b_2\""));

    let by_task_id = get(&app, "/history/by_task_id/Retry__99914b932b?format=json").await.json();
    assert_eq!((by_task_id["id"].as_i64(), by_task_id["host"].as_str()), (Some(3), Some("h2")));
    let events = get(&app, "/history/by_task_id/Retry__99914b932b?format=json&per_page=2&page=2").await.json();
    let statuses: Vec<&str> =
        events["events"].as_array().expect("events").iter().filter_map(|e| e["status"].as_str()).collect();
    assert_eq!((statuses, events["has_more"].as_bool()), (vec!["FAILED", "RUNNING"], Some(true)));

    for (uri, status) in [
        ("/history/by_id/999", StatusCode::NOT_FOUND),
        ("/history/by_id/abc", StatusCode::BAD_REQUEST),
        ("/history/by_id/1%27%20OR%201=1", StatusCode::BAD_REQUEST),
        ("/history/by_task_id/Nope_1", StatusCode::NOT_FOUND),
    ] {
        let html = get(&app, uri).await;
        assert_eq!(html.status, status, "{uri}");
        html.html();
        let json = get(&app, &format!("{uri}?format=json")).await;
        assert_eq!(json.status, status, "{uri}");
        assert!(json.json()["error"].as_str().is_some_and(|e| !e.is_empty()), "{uri}");
    }
}

#[tokio::test]
async fn family_pages() {
    let (_dir, app) = sqlite_app();
    let json = get(&app, "/history/by_name/my.ns.Task?format=json").await.json();
    assert_eq!(json["name"], "my.ns.Task");
    assert_eq!(json["runs"].as_array().map(Vec::len), Some(1));
    assert_eq!(json["runs"][0]["parameters"]["path"], "a b/c?d#e");

    // A hostile name in the path is escaped in the page.
    let reply = get(&app, "/history/by_name/%3Cscript%3Ealert(1)%3C%2Fscript%3E").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.html().contains("All “&lt;script&gt;alert(1)&lt;/script&gt;” runs"));
    assert!(reply.html().contains("No runs recorded."));

    let menu = get(&app, "/tasklist").await;
    let html = menu.html();
    assert!(html.contains("<a href=\"/tasklist/Evil\">Evil</a>"));
    assert!(html.contains("<a href=\"/history/by_name/my.ns.Task\">1 run</a>"));
    let json = get(&app, "/tasklist?format=json").await.json();
    let names: Vec<&str> =
        json["families"].as_array().expect("families").iter().filter_map(|f| f["name"].as_str()).collect();
    assert_eq!(names, ["Evil", "Retry", "my.ns.Task"]);

    let timeline = get(&app, "/tasklist/Retry").await;
    let html = timeline.html();
    assert!(html.contains("<svg class=\"chart\""));
    assert!(html.contains("1m 00s") && html.contains("1.00s"), "{html}");
    let json = get(&app, "/tasklist/Retry?format=json").await.json();
    let executions = json["executions"].as_array().expect("executions");
    let got: Vec<(Option<&str>, Option<f64>, Option<&str>)> =
        executions.iter().map(|e| (e["outcome"].as_str(), e["duration_secs"].as_f64(), e["host"].as_str())).collect();
    assert_eq!(got, [(Some("DONE"), Some(60.0), Some("h2")), (Some("FAILED"), Some(1.0), Some("h2"))]);
    assert_eq!(executions[0]["id"], 3);
    let empty = get(&app, "/tasklist/Nothing").await;
    assert!(empty.html().contains("No executions recorded."));
}

#[tokio::test]
async fn by_params_page() {
    let (_dir, app) = sqlite_app();
    let uri = |data: &str| format!("/history/by_params/Evil?format=json&data={}", urlencode(data));
    let found = get(&app, &uri(&format!("{{\"label\": \"{}\"}}", XSS.replace('"', "\\\"")))).await.json();
    assert_eq!(found["runs"].as_array().map(Vec::len), Some(1));
    assert_eq!(found["match"]["label"], XSS);
    let numbers = get(&app, &uri("{\"n\": 1}")).await.json();
    assert_eq!(numbers["runs"].as_array().map(Vec::len), Some(1));
    let none = get(&app, &uri("{\"n\": \"2\"}")).await.json();
    assert_eq!(none["runs"].as_array().map(Vec::len), Some(0));
    let all = get(&app, "/history/by_params/Evil?format=json").await.json();
    assert_eq!(all["runs"].as_array().map(Vec::len), Some(1));

    let html = get(&app, &format!("/history/by_params/Evil?data={}", urlencode("{\"n\": \"1\"}"))).await;
    assert!(html.html().contains("Parameters: n=1"));
    assert!(html.html().contains("data=%7B%22n%22%3A%20%221%22%7D&amp;format=json"), "{}", html.body);

    for bad in ["not json", "[1, 2]", "{\"n\": null}", "{\"n\": [1]}"] {
        let reply = get(&app, &uri(bad)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(reply.json()["error"].as_str().is_some_and(|e| e.contains("data") || e.contains("parameter")), "{bad}");
    }
}

#[tokio::test]
async fn pagination_links_and_bad_queries() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(sqlite_url(&dir.path().join("history.db")), T0 + 3600.0);
    for i in 0..7 {
        record(&store, &task(&format!("Many_{i}"), "Many", &[("i", &i.to_string())]), Pending, None, T0 + f64::from(i));
    }
    store.flush().expect("flush");
    let app = router(Arc::new(store));

    let page2 = get(&app, "/history/by_name/Many?per_page=3&page=2").await;
    let html = page2.html();
    assert!(html.contains("href=\"/history/by_name/Many?per_page=3\">&larr; previous</a>"), "{html}");
    assert!(html.contains("href=\"/history/by_name/Many?page=3&amp;per_page=3\">next &rarr;</a>"), "{html}");
    let json = get(&app, "/history/by_name/Many?per_page=3&page=3&format=json").await.json();
    assert_eq!((json["runs"].as_array().map(Vec::len), json["has_more"].as_bool()), (Some(1), Some(false)));
    let json = get(&app, "/history?per_page=100000&format=json").await.json();
    assert_eq!(json["per_page"], 1000);
    let json = get(&app, "/history?page=0&format=json").await.json();
    assert_eq!(json["page"], 1);

    for uri in ["/history?page=abc", "/history?per_page=-1", "/history?format=xml", "/tasklist?page=1.5"] {
        let reply = get(&app, uri).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{uri}");
        reply.html();
    }
    assert_eq!(get(&app, "/history/nothing_here").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn disabled_history_says_so() {
    let app = disabled_router();
    for uri in ["/history", "/history/by_id/1", "/history/by_name/X", "/tasklist", "/tasklist/X"] {
        let reply = get(&app, uri).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{uri}");
        assert!(reply.html().contains(DISABLED_MESSAGE), "{uri}");
        let json = get(&app, &format!("{uri}?format=json")).await;
        assert_eq!(json.status, StatusCode::NOT_FOUND);
        assert_eq!(json.json()["error"], DISABLED_MESSAGE);
    }
}

/// The PostgreSQL client runs on blocking threads under the async router.
#[test]
fn pages_on_postgres() {
    let Some(schema) = PgSchema::create() else { return };
    let store = open(schema.url(), T0 + 3600.0);
    fill(&store);
    let app = router(Arc::new(store));
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    runtime.block_on(async {
        let json = get(&app, "/history?format=json").await.json();
        let ids: Vec<i64> = json["runs"].as_array().expect("runs").iter().filter_map(|r| r["id"].as_i64()).collect();
        assert_eq!(ids, [3, 2, 1]);
        assert_eq!(json["runs"][2]["parameters"]["label"], XSS);
        assert!(get(&app, "/history/by_id/1").await.html().contains("&lt;script&gt;"));
        let timeline = get(&app, "/tasklist/Retry?format=json").await.json();
        assert_eq!(timeline["executions"][0]["duration_secs"], 60.0);
    });
    // The router (and with it the store) is dropped inside the runtime's thread pool's reach.
    runtime.block_on(async move { drop(app) });
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
