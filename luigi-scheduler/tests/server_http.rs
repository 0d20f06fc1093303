//! The HTTP server over real loopback connections, against a fake scheduler.
//!
//! Covers the wire protocol's transport rules (inventory §1.1, §12.1): GET and POST forms,
//! urlencoded unicode, empty and missing `data`, extra keys, Python-flavoured JSON, unknown
//! methods, malformed and mistyped arguments, oversized bodies, and that the server keeps
//! serving after each bad request; the other routes (`/`, `HEAD /`, `/metrics`, 404s);
//! the CORS cases of Luigi's `server_test.py`, ported as plain HTTP checks; gzip; basic
//! authentication, including a real Python Luigi client authenticating from its URL; the test
//! clock; merged routers; the pruner; and graceful shutdown.

mod support;

use std::io::Read;
use std::path::Path;
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use luigi_core::config::{Configuration, Discovery, Syntax};
use luigi_core::rpc::Method;
use luigi_scheduler::clock::{Clock, ManualClock};
use luigi_scheduler::metrics::MetricsSource;
use luigi_scheduler::server::{self, Router, ServerConfig};
use serde_json::{Value, json};
use support::{Fake, Reply, TestServer, api, form_encode};

/// A server configuration from `luigi.cfg` text.
fn config(text: &str) -> ServerConfig {
    let mut config = Configuration::empty(Syntax::Cfg, Discovery::system());
    config.read_str(text, Path::new("luigi.cfg")).expect("valid cfg text");
    ServerConfig::from_config(&config).expect("a valid server configuration")
}

/// A scripted fake behind a server with `config`.
fn start(config: ServerConfig) -> (TestServer, Arc<Fake>) {
    let (fake, api) = api(Fake::scripted());
    let app = server::app(api).config(config).build();
    (TestServer::start(app), fake)
}

/// `POST /api/ping` for worker `w`, which must succeed: the server is still serving.
fn assert_serving(server: &TestServer, fake: &Fake) {
    fake.script().push_reply(Method::Ping, json!({"rpc_messages": []}));
    let reply = server.post_form("/api/ping", "data=%7B%22worker%22%3A+%22w%22%7D");
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json(), json!({"response": {"rpc_messages": []}}));
}

fn assert_error(reply: &Reply, status: u16, needle: &str) {
    assert_eq!(reply.status, status, "{}", String::from_utf8_lossy(&reply.body));
    assert_eq!(reply.header("content-type"), Some("application/json; charset=UTF-8"));
    let message = reply.json()["error"].as_str().expect("an error message").to_owned();
    assert!(message.contains(needle), "{message:?} should mention {needle:?}");
}

#[test]
fn get_and_post_forms_reach_the_scheduler() {
    let (server, fake) = start(ServerConfig::default());
    let script = fake.script();

    script.push_reply(Method::Ping, json!({"rpc_messages": [{"name": "set_worker_processes", "kwargs": {"n": 2}}]}));
    let data = form_encode(r#"{"worker": "xyz"}"#);
    let reply = server.get(&format!("/api/ping?data={data}"), &[]);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json; charset=UTF-8"));
    assert_eq!(
        reply.text(),
        r#"{"response": {"rpc_messages": [{"name": "set_worker_processes", "kwargs": {"n": 2}}]}}"#
    );

    // What Python's client sends: a POST form with every argument.
    let add_task = json!({"task_id": "A_1_f4fe3360f0", "status": "PENDING", "runnable": true, "deps": [],
        "new_deps": null, "expl": null, "resources": {"cpu": 1}, "priority": 10, "family": "A", "module": "m",
        "params": {"n": "1"}, "param_visibilities": {"n": 0}, "accepts_messages": false, "assistant": false,
        "tracking_url": null, "worker": "w", "batchable": false, "batch_id": null,
        "retry_policy_dict": {"retry_count": null, "disable_hard_timeout": null, "disable_window": null},
        "owners": []});
    let reply = server.post_form("/api/add_task", &format!("data={}", form_encode(&add_task.to_string())));
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text(), r#"{"response": null}"#);

    // A percent-encoded method name is the method.
    let reply = server.post_form("/api/is%5Fpaused", "");
    assert_eq!(reply.status, 500, "nothing scripted for is_paused: the fake fails, the server reports it");

    let calls = script.take_calls();
    assert_eq!(calls[0], (Method::Ping, json!({"worker": "xyz"})));
    assert_eq!(calls[1].0, Method::AddTask);
    assert_eq!(calls[1].1["task_id"], "A_1_f4fe3360f0");
    assert_eq!(calls[1].1["resources"], json!({"cpu": 1}));
    assert_eq!(calls[2].0, Method::IsPaused);
}

#[test]
fn unicode_survives_urlencoding() {
    let (server, fake) = start(ServerConfig::default());
    let task_id = "Tâsk_€_😀_\"quoted\" &amp; +plus";
    let data = json!({"task_id": task_id, "status_message": "naïve\nline"}).to_string();
    let reply = server.post_form("/api/set_task_status_message", &format!("data={}", form_encode(&data)));
    assert_eq!(reply.status, 200, "{}", reply.text());
    let reply = server.get(&format!("/api/get_task_status_message?data={}", form_encode(r#"{"task_id":"é"}"#)), &[]);
    assert_eq!(reply.status, 500, "nothing scripted");
    // Unencoded UTF-8 in the request line is not HTTP; hyper answers 400 and the server goes on.
    let reply = server.raw("GET /api/ping?data={\"worker\":\"é\"} HTTP/1.1\r\nHost: t\r\n\r\n".as_bytes());
    assert_eq!(reply.status, 400);
    let calls = fake.script().take_calls();
    assert_eq!(calls[0], (Method::SetTaskStatusMessage, json!({"task_id": task_id, "status_message": "naïve\nline"})));
    assert_eq!(calls[1], (Method::GetTaskStatusMessage, json!({"task_id": "é"})));
    // Replies are ASCII-escaped like Python's json.dumps.
    fake.script().push_reply(Method::GetTaskStatusMessage, json!({"taskId": "é", "statusMessage": "😀</b>"}));
    let reply = server.get("/api/get_task_status_message?data=%7B%22task_id%22%3A%22%C3%A9%22%7D", &[]);
    assert_eq!(reply.text(), r#"{"response": {"taskId": "\u00e9", "statusMessage": "\ud83d\ude00<\/b>"}}"#);
}

#[test]
fn empty_missing_and_extra_data() {
    let (server, fake) = start(ServerConfig::default());
    let script = fake.script();
    for path in ["/api/pause?data=", "/api/pause", "/api/pause?data=%20", "/api/pause?other=1"] {
        let reply = server.get(path, &[]);
        assert_eq!((path, reply.status, reply.text()), (path, 200, r#"{"response": null}"#.to_owned()));
    }
    let reply = server.post_form("/api/unpause", "data=");
    assert_eq!(reply.status, 200);
    let reply = server.request("POST", "/api/unpause", &[], None);
    assert_eq!(reply.status, 200, "POST without a body");
    // HEAD must not run an RPC (HEAD /api/pause would pause).
    assert_eq!(server.request("HEAD", "/api/pause", &[], None).status, 405);
    // Extra keys are tolerated (Luigi's test_raw_ping_extended).
    script.push_reply(Method::Ping, json!({"rpc_messages": []}));
    let reply = server.post_form("/api/ping", &format!("data={}", form_encode(r#"{"worker": "xyz", "foo": "bar"}"#)));
    assert_eq!(reply.status, 200);
    let calls = script.take_calls();
    assert_eq!(calls.len(), 7);
    assert_eq!(calls[6], (Method::Ping, json!({"worker": "xyz"})));
}

#[test]
fn python_flavoured_json_and_json_bodies() {
    let (server, fake) = start(ServerConfig::default());
    let script = fake.script();
    let data = r#"{"worker": "w", "task_family": "B", "batched_args": ["date"], "max_batch_size": Infinity}"#;
    let reply = server.post_form("/api/add_task_batcher", &format!("data={}", form_encode(data)));
    assert_eq!(reply.status, 200, "{}", reply.text());

    // A JSON body is the data itself.
    script.push_reply(Method::Ping, json!({"rpc_messages": []}));
    let reply = server.request(
        "POST",
        "/api/ping",
        &["Content-Type: application/json"],
        Some(br#"{"worker": "json-body", "x": NaN}"#),
    );
    assert_eq!(reply.status, 200, "{}", reply.text());

    // POST with the field in the query string only, and with both (the body wins, as in Tornado).
    script.push_reply(Method::Ping, json!({"rpc_messages": []}));
    script.push_reply(Method::Ping, json!({"rpc_messages": []}));
    let query = form_encode(r#"{"worker": "query"}"#);
    assert_eq!(server.post_form(&format!("/api/ping?data={query}"), "").status, 200);
    let body = form_encode(r#"{"worker": "body"}"#);
    assert_eq!(server.post_form(&format!("/api/ping?data={query}"), &format!("data={body}")).status, 200);

    let calls = script.take_calls();
    assert_eq!(calls[0].1["max_batch_size"], "Infinity");
    assert_eq!(calls[1].1, json!({"worker": "json-body"}));
    assert_eq!(calls[2].1, json!({"worker": "query"}));
    assert_eq!(calls[3].1, json!({"worker": "body"}));
}

#[test]
fn unknown_methods_are_404_and_the_server_keeps_serving() {
    let (server, fake) = start(ServerConfig::default());
    for path in ["/api/foo", "/api/fdsfds", "/api/", "/api/update_metrics_task_started", "/api/Ping", "/api/ping/x"] {
        assert_error(&server.get(path, &[]), 404, "unknown scheduler RPC method");
        assert_error(&server.post_form(path, "data=%7B%22dummy%22%3A1%7D"), 404, "unknown scheduler RPC method");
        assert_serving(&server, &fake);
    }
    assert_error(&server.get("/api/%FF", &[]), 404, "unknown");
    // Other paths are plain 404s.
    for path in ["/foo", "/apix", "/static/visualiser/index.html", "/metrics/x"] {
        assert_eq!(server.get(path, &[]).status, 404, "{path}");
    }
    assert_serving(&server, &fake);
}

#[test]
fn bad_arguments_are_400_and_the_server_keeps_serving() {
    let (server, fake) = start(ServerConfig::default());
    let cases: &[(&str, &str, &str)] = &[
        ("ping", r#"{"worker": "#, "EOF"),
        ("ping", "not json", "JSON object"),
        ("ping", r#"["w"]"#, "JSON object"),
        ("ping", "{}", "missing field `worker`"),
        ("ping", r#"{"worker": 5}"#, "invalid type"),
        ("add_task", r#"{"task_id": "A", "worker": "w", "priority": "high"}"#, "invalid type"),
        ("add_task", r#"{"task_id": "A", "worker": "w", "status": "DONE!"}"#, "DONE!"),
        ("set_worker_processes", r#"{"worker": "w", "n": null}"#, "invalid type"),
        ("ping", r#"{"worker": "w"} trailing"#, "trailing"),
    ];
    for (method, data, needle) in cases {
        let reply = server.post_form(&format!("/api/{method}"), &format!("data={}", form_encode(data)));
        assert_error(&reply, 400, needle);
        assert!(reply.json()["error"].as_str().unwrap_or_default().contains(method));
        assert_serving(&server, &fake);
        let reply = server.get(&format!("/api/{method}?data={}", form_encode(data)), &[]);
        assert_error(&reply, 400, needle);
        assert_serving(&server, &fake);
    }
    // Percent-encoded bytes that are not UTF-8.
    assert_error(&server.post_form("/api/ping", "data=%FF%FE"), 400, "not valid UTF-8");
    assert_error(&server.get("/api/ping?data=%C3%28", &[]), 400, "not valid UTF-8");
    assert_error(
        &server.request("POST", "/api/ping", &["Content-Type: application/json"], Some(b"{\"worker\": \"\xff\"}")),
        400,
        "not valid UTF-8",
    );
    // A body of another type.
    assert_error(
        &server.request("POST", "/api/ping", &["Content-Type: text/plain"], Some(b"worker=w")),
        415,
        "application/x-www-form-urlencoded",
    );
    // A garbage request line: hyper answers 400 itself and the server carries on.
    let reply = server.raw(b"\x16\x03\x01garbage\r\n\r\n");
    assert_eq!(reply.status, 400);
    assert_serving(&server, &fake);
    // The scheduler failing is a 500 with its message.
    assert_error(&server.post_form("/api/get_work", "data=%7B%22worker%22%3A%22w%22%7D"), 500, "get_work");
    assert_serving(&server, &fake);
}

#[test]
fn oversized_bodies_are_413() {
    let mut small = ServerConfig::default();
    small.max_body_size = 1024;
    let (server, fake) = start(small);
    let big = format!("data={}", "x".repeat(4096));
    assert_error(&server.post_form("/api/ping", &big), 413, "max_body_size");
    assert_serving(&server, &fake);
    // The same without a Content-Length (chunked).
    let mut request = b"POST /api/ping HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\
        Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n"
        .to_vec();
    for _ in 0..4 {
        request.extend_from_slice(format!("400\r\n{}\r\n", "y".repeat(1024)).as_bytes());
    }
    request.extend_from_slice(b"0\r\n\r\n");
    assert_error(&server.raw(&request), 413, "max_body_size");
    assert_serving(&server, &fake);
    // A body just under the limit is fine.
    let data = format!(r#"{{"worker": "{}"}}"#, "w".repeat(900));
    fake.script().push_reply(Method::Ping, json!({"rpc_messages": []}));
    assert_eq!(server.post_form("/api/ping", &format!("data={}", form_encode(&data))).status, 200);

    // The default limit is 16 MiB; a larger declared body is refused before it is read.
    let (server, fake) = start(ServerConfig::default());
    let request = b"POST /api/ping HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\
        Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 17000000\r\n\r\ndata=";
    assert_error(&server.raw(request), 413, "max_body_size");
    assert_serving(&server, &fake);
}

/// A scheduler panic is a 500, and the next request is served.
#[test]
fn a_panicking_scheduler_is_a_500() {
    let mut fake = Fake::scripted();
    fake.hook = Some(Box::new(|method| {
        if method == Method::TaskList || method == Method::Pause {
            panic!("engine bug in {method}");
        }
    }));
    let (fake, api) = api(fake);
    let server = TestServer::start(server::app(api).build());
    // Inline and on the blocking pool.
    assert_error(&server.get("/api/pause", &[]), 500, "panicked");
    assert_error(&server.get("/api/task_list", &[]), 500, "panicked");
    assert_serving(&server, &fake);
}

#[test]
fn root_health_check_and_metrics() {
    struct Counters;
    impl MetricsSource for Counters {
        fn render_prometheus(&self) -> String {
            "# TYPE luigi_task_started_total counter\nluigi_task_started_total 3\n".to_owned()
        }
    }
    let (_fake, api_without) = api(Fake::scripted());
    let server = TestServer::start(server::app(api_without).build());
    // Luigi's test_root_redirect: relative, no leading slash.
    let reply = server.get("/", &[]);
    assert_eq!(reply.status, 302);
    assert_eq!(reply.header("location"), Some("static/visualiser/index.html"));
    // test_api_allow_head_on_root.
    let reply = server.request("HEAD", "/", &[], None);
    assert_eq!(reply.status, 204);
    assert!(reply.body.is_empty());
    // Without a metrics source: an empty 200, like Luigi's default collector.
    let reply = server.get("/metrics", &[]);
    assert_eq!((reply.status, reply.body.len()), (200, 0));

    let (_fake, api_with) = api(Fake::scripted());
    let source: Arc<dyn MetricsSource> = Arc::new(Counters);
    let server = TestServer::start(server::app(api_with).metrics(Some(source)).build());
    let reply = server.get("/metrics", &[]);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("text/plain; version=0.0.4; charset=utf-8"));
    assert!(reply.text().contains("luigi_task_started_total 3"));
}

#[test]
fn large_replies_are_gzipped_for_clients_that_accept_it() {
    let (server, fake) = start(ServerConfig::default());
    let script = fake.script();
    let many: serde_json::Map<String, Value> = (0..200)
        .map(|i| {
            let node = json!({"status": "PENDING", "workers": ["w"], "worker_running": null, "time_running": null,
                "start_time": 1.5, "last_updated": 1.5, "params": {"i": i.to_string()}, "name": "Leaf",
                "priority": 0, "resources": {}, "resources_running": null, "tracking_url": null,
                "status_message": null, "progress_percentage": null, "display_name": format!("Leaf(i={i})")});
            (format!("Leaf_{i}_0123456789"), node)
        })
        .collect();
    let list = Value::Object(many);
    script.push_reply(Method::TaskList, list.clone());
    let plain = server.get("/api/task_list", &[]);
    assert_eq!(plain.status, 200);
    assert!(plain.header("content-encoding").is_none());
    assert!(plain.body.len() > 10_000);

    script.push_reply(Method::TaskList, list.clone());
    let gzipped = server.get("/api/task_list", &["Accept-Encoding: gzip, deflate"]);
    assert_eq!(gzipped.header("content-encoding"), Some("gzip"));
    assert_eq!(gzipped.header("vary"), Some("Accept-Encoding"));
    assert!(gzipped.body.len() * 5 < plain.body.len(), "{} vs {}", gzipped.body.len(), plain.body.len());
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(&gzipped.body[..]).read_to_end(&mut unzipped).expect("valid gzip");
    assert_eq!(unzipped, plain.body);

    // Small replies are not worth compressing, nor medium replies to the hot worker calls.
    script.push_reply(Method::IsPaused, json!({"paused": true}));
    let small = server.get("/api/is_paused", &["Accept-Encoding: gzip"]);
    assert!(small.header("content-encoding").is_none());
    let running: Vec<Value> =
        (0..40).map(|i| json!({"task_id": format!("T_{i}"), "worker": "w", "host": "h"})).collect();
    let work = json!({"n_pending_tasks": 0, "n_unique_pending": 0, "n_pending_last_scheduled": 0,
        "worker_state": "active", "running_tasks": running, "task_id": null});
    script.push_reply(Method::GetWork, work);
    let medium = server.request(
        "POST",
        "/api/get_work",
        &["Accept-Encoding: gzip", "Content-Type: application/x-www-form-urlencoded"],
        Some(b"data=%7B%22worker%22%3A%22w%22%7D"),
    );
    assert!(medium.body.len() > 1024 && medium.header("content-encoding").is_none());
    // ... but a huge one is.
    let running: Vec<Value> =
        (0..2000).map(|i| json!({"task_id": format!("T_{i}"), "worker": "w", "host": "h"})).collect();
    let huge = json!({"n_pending_tasks": 0, "n_unique_pending": 0, "n_pending_last_scheduled": 0,
        "worker_state": "active", "running_tasks": running, "task_id": null});
    script.push_reply(Method::GetWork, huge);
    let reply = server.request(
        "POST",
        "/api/get_work",
        &["Accept-Encoding: gzip", "Content-Type: application/x-www-form-urlencoded"],
        Some(b"data=%7B%22worker%22%3A%22w%22%7D"),
    );
    assert_eq!(reply.header("content-encoding"), Some("gzip"));
    script.push_reply(Method::TaskList, list.clone());
    let refused = server.get("/api/task_list", &["Accept-Encoding: gzip;q=0"]);
    assert!(refused.header("content-encoding").is_none());

    // Compression can be switched off.
    let (server, fake) = start(config("[luigid]\ncompress_responses = false\n"));
    fake.script().push_reply(Method::TaskList, list);
    let reply = server.get("/api/task_list", &["Accept-Encoding: gzip"]);
    assert!(reply.header("content-encoding").is_none());
    assert!(reply.header("vary").is_none());
}

/// Luigi's `ServerTest` CORS cases: its setup enables CORS for any and the null origin, and
/// each case adds options.
mod cors {
    use super::*;

    /// Luigi's test setup, then `extra` (`option = value` lines) set over it, as its tests do
    /// with `get_config().set(...)`.
    fn cors_config(extra: &str) -> ServerConfig {
        let mut config = Configuration::empty(Syntax::Cfg, Discovery::system());
        let base = [("enabled", "true"), ("allow_any_origin", "true"), ("allow_null_origin", "true")];
        let overrides = extra.lines().filter_map(|line| line.split_once(" = "));
        for (option, value) in base.into_iter().chain(overrides) {
            config.set("cors", option, value).expect("a valid value");
        }
        ServerConfig::from_config(&config).expect("a valid server configuration")
    }
    const ALL: [&str; 6] = [
        "access-control-allow-headers",
        "access-control-allow-methods",
        "access-control-allow-origin",
        "access-control-max-age",
        "access-control-allow-credentials",
        "access-control-expose-headers",
    ];

    fn server(extra: &str) -> (TestServer, Arc<Fake>) {
        start(cors_config(extra))
    }

    fn preflight(extra: &str, origin: Option<&str>) -> Reply {
        let (server, _fake) = server(extra);
        let header = origin.map(|origin| format!("Origin: {origin}"));
        let headers: Vec<&str> = header.iter().map(String::as_str).collect();
        let reply = server.request("OPTIONS", "/api/graph", &headers, None);
        assert_eq!(reply.status, 204);
        reply
    }

    fn simple(extra: &str, origin: Option<&str>) -> Reply {
        let (server, fake) = server(extra);
        fake.script().push_reply(Method::Graph, json!({}));
        let header = origin.map(|origin| format!("Origin: {origin}"));
        let headers: Vec<&str> = header.iter().map(String::as_str).collect();
        let reply = server.get("/api/graph", &headers);
        assert_eq!((reply.status, reply.text()), (200, r#"{"response": {}}"#.to_owned()));
        reply
    }

    fn assert_default_preflight(reply: &Reply, origin: &str) {
        assert_eq!(reply.header("access-control-allow-headers"), Some("Accept, Content-Type, Origin"));
        assert_eq!(reply.header("access-control-allow-methods"), Some("GET, OPTIONS"));
        assert_eq!(reply.header("access-control-allow-origin"), Some(origin));
        assert_eq!(reply.header("access-control-max-age"), Some("86400"));
    }

    fn assert_none(reply: &Reply) {
        for name in ALL {
            assert!(reply.header(name).is_none(), "{name} should be absent: {:?}", reply.headers);
        }
    }

    #[test]
    fn preflight_headers() {
        let reply = preflight("", Some("foo"));
        assert_default_preflight(&reply, "*");
        assert!(reply.header("access-control-allow-credentials").is_none());
        assert!(reply.header("access-control-expose-headers").is_none());
    }

    #[test]
    fn preflight_all_response_headers() {
        let reply = preflight("allow_credentials = true\nexposed_headers = foo, bar\n", Some("foo"));
        assert_default_preflight(&reply, "*");
        assert_eq!(reply.header("access-control-allow-credentials"), Some("true"));
        assert_eq!(reply.header("access-control-expose-headers"), Some("foo, bar"));
    }

    #[test]
    fn preflight_null_origin() {
        let reply = preflight("", Some("null"));
        assert_default_preflight(&reply, "null");
        assert!(reply.header("access-control-allow-credentials").is_none());
        assert!(reply.header("access-control-expose-headers").is_none());
    }

    #[test]
    fn preflight_disallow_null() {
        assert_none(&preflight("allow_null_origin = false\n", Some("null")));
    }

    #[test]
    fn preflight_listed_origin() {
        let reply = preflight("allow_any_origin = false\nallowed_origins = [\"foo\", \"bar\"]\n", Some("foo"));
        assert_default_preflight(&reply, "foo");
        assert!(reply.header("access-control-allow-credentials").is_none());
        assert!(reply.header("access-control-expose-headers").is_none());
    }

    #[test]
    fn preflight_unlisted_origin() {
        assert_none(&preflight("allow_any_origin = false\nallowed_origins = [\"foo\", \"bar\"]\n", Some("foobar")));
    }

    #[test]
    fn preflight_no_allowed_origins() {
        assert_none(&preflight("allow_any_origin = false\n", Some("foo")));
    }

    #[test]
    fn preflight_disabled() {
        assert_none(&preflight("enabled = false\n", Some("foo")));
    }

    #[test]
    fn preflight_without_origin() {
        assert_none(&preflight("", None));
    }

    #[test]
    fn simple_any_origin() {
        assert_eq!(simple("", Some("foo")).header("access-control-allow-origin"), Some("*"));
    }

    #[test]
    fn simple_null_origin() {
        assert_eq!(simple("", Some("null")).header("access-control-allow-origin"), Some("null"));
    }

    #[test]
    fn simple_disallow_null() {
        assert!(simple("allow_null_origin = false\n", Some("null")).header("access-control-allow-origin").is_none());
    }

    #[test]
    fn simple_listed_origin() {
        let reply = simple("allow_any_origin = false\nallowed_origins = [\"foo\", \"bar\"]\n", Some("foo"));
        assert_eq!(reply.header("access-control-allow-origin"), Some("foo"));
        let vary: Vec<&str> = reply
            .headers
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case("vary"))
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(vary, ["Accept-Encoding", "Origin"]);
    }

    #[test]
    fn simple_unlisted_origin() {
        let reply = simple("allow_any_origin = false\nallowed_origins = [\"foo\", \"bar\"]\n", Some("foobar"));
        assert!(reply.header("access-control-allow-origin").is_none());
    }

    #[test]
    fn simple_no_allowed_origins() {
        assert!(simple("allow_any_origin = false\n", Some("foo")).header("access-control-allow-origin").is_none());
    }

    #[test]
    fn simple_disabled() {
        assert!(simple("enabled = false\n", Some("foo")).header("access-control-allow-origin").is_none());
    }

    #[test]
    fn simple_without_origin() {
        assert!(simple("", None).header("access-control-allow-origin").is_none());
    }

    #[test]
    fn errors_carry_cors_headers_too() {
        let (server, _fake) = server("");
        let reply = server.get("/api/nope", &["Origin: foo"]);
        assert_eq!(reply.status, 404);
        assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
    }

    #[test]
    fn off_by_default() {
        let (server, fake) = start(ServerConfig::default());
        fake.script().push_reply(Method::Graph, json!({}));
        assert_none(&server.get("/api/graph", &["Origin: foo"]));
        let reply = server.request("OPTIONS", "/api/graph", &["Origin: foo"], None);
        assert_eq!(reply.status, 204);
        assert_none(&reply);
    }
}

mod auth {
    use super::*;

    /// `alice:pw`, and `alice:px`, in base64.
    const ALICE: &str = "Authorization: Basic YWxpY2U6cHc=";
    const WRONG: &str = "Authorization: Basic YWxpY2U6cHg=";

    fn server() -> (TestServer, Arc<Fake>) {
        let extra: Router = Router::new().route("/history", axum::routing::get(|| async { "history page" }));
        let (fake, api) = api(Fake::scripted());
        let app = server::app(api).config(config("[luigid]\nbasic_auth_users = alice:pw\n")).merge(extra).build();
        (TestServer::start(app), fake)
    }

    #[test]
    fn every_route_but_the_health_check_needs_credentials() {
        let (server, fake) = server();
        for (method, path) in [
            ("GET", "/api/ping"),
            ("POST", "/api/ping"),
            ("GET", "/"),
            ("GET", "/metrics"),
            ("GET", "/history"),
            ("GET", "/nope"),
        ] {
            for headers in [&[][..], &[WRONG][..], &["Authorization: Bearer x"][..]] {
                let reply = server.request(method, path, headers, None);
                assert_eq!(reply.status, 401, "{method} {path} {headers:?}");
                assert_eq!(reply.header("www-authenticate"), Some("Basic realm=\"luigid\", charset=\"UTF-8\""));
            }
        }
        assert!(fake.script().calls().is_empty());
        assert_eq!(server.request("HEAD", "/", &[], None).status, 204);
        assert_eq!(server.request("OPTIONS", "/api/ping", &[], None).status, 204);

        fake.script().push_reply(Method::Ping, json!({"rpc_messages": []}));
        let reply = server.request(
            "POST",
            "/api/ping",
            &[ALICE, "Content-Type: application/x-www-form-urlencoded"],
            Some(b"data=%7B%22worker%22%3A%22w%22%7D"),
        );
        assert_eq!(reply.status, 200);
        assert_eq!(server.get("/", &[ALICE]).status, 302);
        assert_eq!(server.get("/metrics", &[ALICE]).status, 200);
        assert_eq!(server.get("/history", &[ALICE]).text(), "history page");
        assert_eq!(server.get("/nope", &[ALICE]).status, 404);
    }

    /// An unchanged Python Luigi client authenticates from the credentials in its URL.
    #[test]
    fn python_luigi_client_authenticates_from_its_url() {
        let python = std::env::var("LUIGI_PYTHON").unwrap_or_else(|_| {
            format!("{}/.cache/luigi-rs/venv/bin/python", std::env::var("HOME").unwrap_or_default())
        });
        let available = std::process::Command::new(&python)
            .args(["-c", "import luigi.rpc"])
            .output()
            .is_ok_and(|output| output.status.success());
        if !available {
            assert!(
                std::env::var("LUIGI_TEST_REQUIRE_SERVICES").as_deref() != Ok("1"),
                "Python Luigi 3.8.1 is required (LUIGI_TEST_REQUIRE_SERVICES=1) but {python} cannot import luigi"
            );
            eprintln!("skipping: {python} cannot import luigi (set LUIGI_PYTHON to a Python with luigi 3.8.1)");
            return;
        }
        let (server, fake) = server();
        fake.script()
            .push_reply(Method::Ping, json!({"rpc_messages": [{"name": "set_worker_processes", "kwargs": {"n": 3}}]}));
        fake.script().push_reply(Method::Ping, json!({"rpc_messages": []}));
        let dir = tempfile::tempdir().expect("a temp dir");
        // Luigi's _ServerTest checks (ping, raw ping with an extra key, 404 as RPCError) through
        // an unchanged RemoteScheduler whose URL carries the credentials, then a wrong password.
        let script = "import sys\n\
            from luigi.rpc import RemoteScheduler, RPCError\n\
            def client(url):\n    s = RemoteScheduler(url)\n    s._rpc_retry_attempts = 1\n    s._rpc_retry_wait = 0\n    return s\n\
            s = client(sys.argv[1])\n\
            print(s.ping(worker='w'))\n\
            print(s._request('/api/ping', {'worker': 'xyz', 'foo': 'bar'}))\n\
            try:\n    s._request('/api/fdsfds', {'dummy': 1})\n    print('no error')\n\
            except RPCError:\n    print('404 is an RPCError')\n\
            try:\n    client(sys.argv[2]).add_worker(worker='w', info={})\n    print('accepted')\n\
            except RPCError:\n    print('rejected')\n";
        let output = std::process::Command::new(&python)
            .current_dir(dir.path())
            .env("LUIGI_CONFIG_PATH", dir.path().join("none.cfg"))
            .args([
                "-c",
                script,
                &format!("http://alice:pw@{}", server.addr),
                &format!("http://alice:wrong@{}", server.addr),
            ])
            .output()
            .expect("run python");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{stdout}\n{}\n{:?}",
            String::from_utf8_lossy(&output.stderr),
            fake.script().calls()
        );
        assert_eq!(
            stdout,
            "{'rpc_messages': [{'name': 'set_worker_processes', 'kwargs': {'n': 3}}]}\n\
             {'rpc_messages': []}\n404 is an RPCError\nrejected\n"
        );
        assert_eq!(
            fake.script().take_calls(),
            [(Method::Ping, json!({"worker": "w"})), (Method::Ping, json!({"worker": "xyz"}))]
        );
    }
}

#[test]
fn the_test_clock_moves_only_when_enabled() {
    let (_fake, without) = api(Fake::scripted());
    let server = TestServer::start(server::app(without).build());
    assert_eq!(server.post_form("/_testing/clock", "data=%7B%22time%22%3A1%7D").status, 404);

    let clock = Arc::new(ManualClock::new(1000.0));
    let (_fake, with) = api(Fake::scripted());
    let server = TestServer::start(server::app(with).test_clock(Some(Arc::clone(&clock))).build());
    let reply = server.request(
        "POST",
        "/_testing/clock",
        &["Content-Type: application/json"],
        Some(br#"{"time": 1700000000.5}"#),
    );
    assert_eq!((reply.status, reply.json()), (200, json!({"time": 1700000000.5})));
    assert_eq!(clock.now(), 1700000000.5);
    let reply = server.post_form("/_testing/clock", &format!("data={}", form_encode(r#"{"advance": 60}"#)));
    assert_eq!(reply.json(), json!({"time": 1700000060.5}));
    let reply = server.post_form("/_testing/clock", "");
    assert_eq!(reply.json(), json!({"time": 1700000060.5}));
    for bad in [r#"{"time": "soon"}"#, r#"{"advance": Infinity}"#, "[1]", "{", r#"{"time": NaN}"#] {
        let reply = server.post_form("/_testing/clock", &format!("data={}", form_encode(bad)));
        assert_eq!(reply.status, 400, "{bad}: {}", reply.text());
    }
    assert_eq!(clock.now(), 1700000060.5);
    assert_eq!(server.get("/_testing/clock", &[]).status, 405);
}

#[test]
fn the_pruner_calls_prune_periodically() {
    let (fake, api_for_app) = api(Fake::scripted());
    let pruned = Arc::clone(&api_for_app);
    let mut server =
        TestServer::start_with(server::app(api_for_app).build(), |s| s.prune_every(pruned, Duration::from_millis(20)));
    let deadline = Instant::now() + Duration::from_secs(10);
    while fake.script().calls().iter().filter(|(method, _)| *method == Method::Prune).count() < 2 {
        assert!(Instant::now() < deadline, "prune was not called twice within 10 s");
        std::thread::sleep(Duration::from_millis(5));
    }
    server.begin_shutdown();
    server.wait().expect("a clean shutdown");
}

/// Shutdown stops accepting connections at once but lets a request in flight finish.
#[test]
fn graceful_shutdown_finishes_requests_in_flight() {
    let (entered_tx, entered_rx) = mpsc::channel::<()>();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let entered_tx = Mutex::new(entered_tx);
    let release_rx = Mutex::new(release_rx);
    let mut fake = Fake::scripted();
    fake.hook = Some(Box::new(move |method| {
        if method == Method::Unpause {
            let _ = entered_tx.lock().map(|tx| tx.send(()));
            let _ = release_rx.lock().map(|rx| rx.recv_timeout(Duration::from_secs(10)));
        }
    }));
    let (_fake, api) = api(fake);
    let mut server = TestServer::start(server::app(api).build());
    let addr = server.addr;
    let in_flight = std::thread::spawn(move || {
        support::raw(addr, b"GET /api/unpause HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    });
    entered_rx.recv_timeout(Duration::from_secs(10)).expect("the request reached the scheduler");
    server.begin_shutdown();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(addr).is_ok() {
        assert!(Instant::now() < deadline, "still accepting connections 10 s after shutdown");
        std::thread::sleep(Duration::from_millis(5));
    }
    release_tx.send(()).expect("release the request");
    let reply = in_flight.join().expect("the client thread");
    assert_eq!((reply.status, reply.text()), (200, r#"{"response": null}"#.to_owned()));
    server.wait().expect("a clean shutdown");
}
