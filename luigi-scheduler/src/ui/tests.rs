//! The visualiser's routes in process (`tower::ServiceExt::oneshot`): the embedded assets and
//! their headers, the paged task list (categories, counts that ignore their own filter,
//! search, sorting, pagination, one task by id, hidden parameters never sent) and the bounded
//! graph with its truncation report.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use luigi_core::rpc::SchedulerApi;
use luigi_core::rpc::wire::AddTaskRequest;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::router;
use crate::engine::{Config, Scheduler};

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }
}

async fn get(scheduler: &Arc<Scheduler>, uri: &str) -> Reply {
    let app = router(scheduler.clone());
    let response = app.oneshot(Request::get(uri).body(Body::empty()).expect("request")).await.expect("response");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 16 << 20).await.expect("body");
    Reply { status, headers, body: String::from_utf8(bytes.to_vec()).expect("UTF-8") }
}

fn add(scheduler: &Scheduler, request: Value) {
    let mut request = request;
    request["worker"] = json!("w1");
    let request: AddTaskRequest = serde_json::from_value(request).expect("an add_task request");
    scheduler.add_task(request).expect("add_task");
}

/// `Fail` failed, `Blocked` waits on it, `Off` is disabled, `Waits` waits on `Off` (and on
/// `Fail`: disabled outranks failed), plus 30 done `Leaf` tasks with a hidden parameter.
fn fixture() -> Arc<Scheduler> {
    let scheduler = Arc::new(Scheduler::new(Config::default()));
    add(&scheduler, json!({"task_id": "Fail_1", "family": "Fail", "status": "FAILED", "expl": "boom"}));
    add(&scheduler, json!({"task_id": "Off_1", "family": "Off", "status": "DISABLED"}));
    add(&scheduler, json!({"task_id": "Blocked_1", "family": "Blocked", "deps": ["Fail_1"]}));
    add(&scheduler, json!({"task_id": "Waits_1", "family": "Waits", "deps": ["Off_1", "Fail_1"]}));
    for i in 0..30 {
        add(
            &scheduler,
            json!({
                "task_id": format!("Leaf_{i:02}"), "family": "Leaf", "status": "DONE", "priority": i,
                "params": {"i": format!("{i:02}"), "secret": "s3cret", "label": "<script>alert(1)</script>"},
                "param_visibilities": {"i": 0, "secret": 1, "label": 0},
            }),
        );
    }
    scheduler
}

#[tokio::test]
async fn serves_the_page_with_a_strict_content_security_policy() {
    let scheduler = fixture();
    let page = get(&scheduler, "/static/visualiser/index.html").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
    let csp = page.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
    assert!(page.body.contains(r#"<script src="app.js"></script>"#));
    let script = get(&scheduler, "/static/visualiser/app.js").await;
    assert!(script.headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/javascript"));
    // The safety rule of the script: user data never goes through innerHTML.
    assert!(!script.body.contains(".innerHTML"), "app.js must not use innerHTML");
    assert!(get(&scheduler, "/static/visualiser/app.css").await.body.contains(".card"));
}

#[tokio::test]
async fn counts_categories_and_families_without_their_own_filter() {
    let scheduler = fixture();
    let page = get(&scheduler, "/visualiser-api/tasks").await.json();
    assert_eq!(page["total"], 34);
    assert_eq!(page["matched"], 34);
    let counts = &page["counts"];
    assert_eq!(counts["FAILED"], 1);
    assert_eq!(counts["DISABLED"], 1);
    assert_eq!(counts["UPSTREAM_FAILED"], 1, "{counts}");
    assert_eq!(counts["UPSTREAM_DISABLED"], 1, "{counts}");
    assert_eq!(counts["PENDING"], 0);
    assert_eq!(counts["DONE"], 30);
    assert_eq!(page["tasks"].as_array().unwrap().len(), 34.min(super::DEFAULT_PAGE_SIZE));

    // A category filter narrows rows and family counts, but not the category counts.
    let failed = get(&scheduler, "/visualiser-api/tasks?status=UPSTREAM_FAILED").await.json();
    assert_eq!(failed["matched"], 1);
    assert_eq!(failed["tasks"][0]["id"], "Blocked_1");
    assert_eq!(failed["counts"]["DONE"], 30);
    assert_eq!(failed["families"], json!([{"name": "Blocked", "count": 1}]));

    // A family filter narrows category counts, not the family list.
    let leaves = get(&scheduler, "/visualiser-api/tasks?family=Leaf").await.json();
    assert_eq!(leaves["matched"], 30);
    assert_eq!(leaves["counts"]["FAILED"], 0);
    assert_eq!(leaves["families"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn searches_sorts_and_pages() {
    let scheduler = fixture();
    let found = get(&scheduler, "/visualiser-api/tasks?search=leaf%28%20I%3D07").await.json();
    assert_eq!(found["matched"], 1, "terms match the display name, ignoring case");
    assert_eq!(found["tasks"][0]["id"], "Leaf_07");
    let row = &found["tasks"][0];
    assert_eq!(
        row["params"],
        json!({"i": "07", "label": "<script>alert(1)</script>"}),
        "hidden parameters never leave"
    );
    assert!(!found.to_string().contains("s3cret"));
    // Hidden values are not searchable either.
    assert_eq!(get(&scheduler, "/visualiser-api/tasks?search=s3cret").await.json()["matched"], 0);

    let page2 =
        get(&scheduler, "/visualiser-api/tasks?family=Leaf&sort=priority&dir=desc&offset=10&limit=10").await.json();
    let ids: Vec<&str> = page2["tasks"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap()).collect();
    let expected: Vec<String> = (10..20).rev().map(|i| format!("Leaf_{i:02}")).collect();
    assert_eq!(ids, expected);
    assert_eq!(page2["offset"], 10);

    let by_name = get(&scheduler, "/visualiser-api/tasks?sort=name&limit=2").await.json();
    assert_eq!(by_name["tasks"][0]["id"], "Blocked_1");
    assert_eq!(by_name["tasks"][1]["id"], "Fail_1");

    let past_end = get(&scheduler, "/visualiser-api/tasks?offset=1000").await.json();
    assert_eq!(past_end["tasks"], json!([]));
    assert_eq!(past_end["matched"], 34);
}

#[tokio::test]
async fn finds_one_task_by_id() {
    let scheduler = fixture();
    let one = get(&scheduler, "/visualiser-api/tasks?id=Waits_1").await.json();
    assert_eq!(one["matched"], 1);
    let row = &one["tasks"][0];
    assert_eq!(row["category"], "UPSTREAM_DISABLED");
    assert_eq!(row["status"], "PENDING");
    assert_eq!(row["num_deps"], 2);
    assert_eq!(row["blocked_by"], json!([{"id": "Off_1", "display_name": "Off()", "status": "DISABLED"}]));
    let blocked = get(&scheduler, "/visualiser-api/tasks?id=Blocked_1").await.json();
    assert_eq!(blocked["tasks"][0]["blocked_by"][0]["id"], "Fail_1");
    let leaf = get(&scheduler, "/visualiser-api/tasks?id=Leaf_01").await.json();
    assert!(leaf["tasks"][0].get("blocked_by").is_none(), "only tasks waiting behind a failure");
    let none = get(&scheduler, "/visualiser-api/tasks?id=Nope").await.json();
    assert_eq!(none["matched"], 0);
    assert_eq!(none["tasks"], json!([]));
}

#[tokio::test]
async fn rejects_bad_parameters() {
    let scheduler = fixture();
    for uri in ["/visualiser-api/tasks?status=SLEEPY", "/visualiser-api/tasks?dir=up", "/visualiser-api/tasks?limit=x"]
    {
        let reply = get(&scheduler, uri).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{uri}");
        assert!(reply.json()["error"].is_string());
    }
    assert_eq!(get(&scheduler, "/visualiser-api/graph").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(get(&scheduler, "/visualiser-api/graph?id=Nope").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn cuts_a_large_graph_and_says_where() {
    let scheduler = Arc::new(Scheduler::new(Config::default()));
    // Root -> 100 children, each child -> one grandchild.
    let children: Vec<String> = (0..100).map(|i| format!("Child_{i:03}")).collect();
    add(&scheduler, json!({"task_id": "Root_1", "family": "Root", "deps": children}));
    for (i, child) in children.iter().enumerate() {
        add(&scheduler, json!({"task_id": child, "family": "Child", "deps": [format!("Grand_{i:03}")]}));
    }
    let graph = get(&scheduler, "/visualiser-api/graph?id=Root_1&limit=51").await.json();
    let nodes = graph["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 51);
    assert_eq!(graph["truncated"], true);
    assert_eq!(nodes[0]["id"], "Root_1");
    assert_eq!(nodes[0]["layer"], 0);
    assert_eq!(nodes[0]["next"].as_array().unwrap().len(), 50);
    assert_eq!(nodes[0]["hidden"], 50);
    assert_eq!(nodes[1]["layer"], 1);
    // A dependency nobody announced is drawn as UNKNOWN.
    assert_eq!(nodes[1]["hidden"], 1);

    let whole = get(&scheduler, "/visualiser-api/graph?id=Child_000&limit=10").await.json();
    assert_eq!(whole["truncated"], false);
    assert_eq!(whole["nodes"][1]["category"], "UNKNOWN");
    assert_eq!(whole["nodes"][0]["next"], json!([1]));

    let up = get(&scheduler, "/visualiser-api/graph?id=Child_005&dir=dependents").await.json();
    let ids: Vec<&str> = up["nodes"].as_array().unwrap().iter().map(|n| n["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["Child_005", "Root_1"]);
}

#[tokio::test]
async fn lists_at_most_max_families_but_keeps_the_chosen_one() {
    use crate::engine::ui_query::MAX_FAMILIES;
    let scheduler = Arc::new(Scheduler::new(Config::default()));
    let n = MAX_FAMILIES + 20;
    for i in 0..n {
        add(&scheduler, json!({"task_id": format!("F{i:04}_1"), "family": format!("F{i:04}")}));
    }
    let page = get(&scheduler, "/visualiser-api/tasks").await.json();
    assert_eq!(page["families_total"], n);
    assert_eq!(page["family_tasks"], n);
    assert_eq!(page["families"].as_array().unwrap().len(), MAX_FAMILIES);
    let last = format!("F{:04}", n - 1);
    let chosen = get(&scheduler, &format!("/visualiser-api/tasks?family={last}")).await.json();
    let names: Vec<&str> = chosen["families"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), MAX_FAMILIES + 1);
    assert_eq!(names.last(), Some(&last.as_str()), "the filtered family stays in the sidebar");
    assert_eq!(chosen["matched"], 1);
}

#[tokio::test]
async fn graphs_can_leave_done_tasks_out() {
    let scheduler = Arc::new(Scheduler::new(Config::default()));
    add(&scheduler, json!({"task_id": "Done_1", "family": "Done", "status": "DONE"}));
    add(&scheduler, json!({"task_id": "Bad_1", "family": "Bad", "status": "FAILED"}));
    add(&scheduler, json!({"task_id": "Top_1", "family": "Top", "deps": ["Done_1", "Bad_1"]}));
    let ids = |graph: &Value| -> Vec<String> {
        graph["nodes"].as_array().unwrap().iter().map(|n| n["id"].as_str().unwrap().to_owned()).collect()
    };
    let all = get(&scheduler, "/visualiser-api/graph?id=Top_1").await.json();
    assert_eq!(ids(&all), ["Top_1", "Bad_1", "Done_1"]);
    assert_eq!(all["nodes"][0]["category"], "UPSTREAM_FAILED");
    assert_eq!(all["nodes"][1]["category"], "FAILED");
    let open = get(&scheduler, "/visualiser-api/graph?id=Top_1&include_done=false").await.json();
    assert_eq!(ids(&open), ["Top_1", "Bad_1"]);
    assert_eq!(open["nodes"][0]["next"], json!([1]));
    assert_eq!(open["truncated"], false);
}
