//! Fidelity of `luigi_core::rpc` against real Luigi 3.8.1 traffic.
//!
//! `tests/data/rpc/captures/<method>.jsonl` holds every exchange a logging proxy saw between
//! real Python workers (and visualiser-style calls) and a real Python luigid; `capture.py` next
//! to it regenerates them. For every captured exchange these tests check both sides of the
//! contract:
//!
//! - server side: `dispatch` decodes Python's request, a scripted scheduler answers with
//!   Python's reply value, and the body we write is the same JSON as Python's (and, in fact,
//!   the same bytes);
//! - client side: the request decodes into its typed request, re-encodes to what the Python
//!   client sent (for the calls the Python client made, which send every argument), and
//!   Python's reply body decodes through `RpcClient` into the typed reply and re-encodes to the
//!   same JSON.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use luigi_core::TaskId;
use luigi_core::rpc::json::{self, Style};
use luigi_core::rpc::wire::*;
use luigi_core::rpc::{Error, Method, RpcClient, SchedulerApi, ScriptedScheduler, Transport, dispatch};
use serde_json::Value;

/// One captured request and its reply.
#[derive(Debug)]
struct Exchange {
    /// `file:line`, for failure messages.
    origin: String,
    method: String,
    http: String,
    /// The raw `data` field; `None` when the request had none.
    data: Option<String>,
    status: u16,
    response: String,
}

impl Exchange {
    /// The arguments as the server reads them: a missing or empty field means `{}`.
    fn data_or_empty(&self) -> &str {
        match self.data.as_deref() {
            None | Some("") => "{}",
            Some(data) => data,
        }
    }
}

fn captures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/rpc/captures")
}

fn load_captures() -> Vec<Exchange> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(captures_dir())
        .expect("the captures directory exists")
        .map(|entry| entry.expect("readable directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "jsonl"))
        .collect();
    files.sort();
    let mut exchanges = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("readable capture file");
        let name = file.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
        for (idx, line) in text.lines().enumerate() {
            let entry: Value = serde_json::from_str(line).expect("each capture line is JSON");
            let field = |key: &str| entry.get(key).and_then(Value::as_str).map(str::to_owned);
            exchanges.push(Exchange {
                origin: format!("{name}:{}", idx + 1),
                method: name.trim_end_matches(".jsonl").to_owned(),
                http: field("http").expect("http verb"),
                data: field("data"),
                status: entry
                    .get("status")
                    .and_then(Value::as_u64)
                    .and_then(|s| u16::try_from(s).ok())
                    .expect("status"),
                response: field("response").expect("response body"),
            });
        }
    }
    assert!(exchanges.len() > 100, "expected the committed captures, found {}", exchanges.len());
    exchanges
}

/// Parses wire JSON and turns every number into a float, so that `1` and `1.0` compare equal
/// and only real differences remain. Object comparison ignores key order.
fn normalised(text: &str) -> Value {
    fn walk(value: Value) -> Value {
        match value {
            Value::Number(number) => {
                number.as_f64().and_then(serde_json::Number::from_f64).map_or(Value::Null, Value::Number)
            }
            Value::Array(items) => Value::Array(items.into_iter().map(walk).collect()),
            Value::Object(map) => Value::Object(map.into_iter().map(|(key, value)| (key, walk(value))).collect()),
            other => other,
        }
    }
    walk(json::from_str(text).unwrap_or_else(|err| panic!("not wire JSON ({err}): {text}")))
}

/// Fails with the first differing position of two texts, not two screens of JSON.
fn assert_same_bytes(ours: &str, python: &str, origin: &str) {
    if ours == python {
        return;
    }
    let at = ours.bytes().zip(python.bytes()).take_while(|(a, b)| a == b).count();
    let window = |text: &str| {
        let mut start = at.saturating_sub(60).min(text.len());
        while !text.is_char_boundary(start) {
            start -= 1;
        }
        let mut end = (at + 60).min(text.len());
        while !text.is_char_boundary(end) {
            end += 1;
        }
        text[start..end].to_owned()
    };
    panic!(
        "{origin}: same JSON, different bytes at offset {at}:\n  ours:   {}\n  python: {}",
        window(ours),
        window(python)
    );
}

fn python_reply_value(exchange: &Exchange) -> Value {
    let body: Value = json::from_str(&exchange.response).expect("Python's reply is JSON");
    body.get("response").cloned().unwrap_or_else(|| panic!("{}: reply without response", exchange.origin))
}

#[test]
fn every_method_was_captured() {
    let captured: BTreeSet<String> =
        load_captures().into_iter().filter(|exchange| exchange.status == 200).map(|exchange| exchange.method).collect();
    for method in Method::ALL {
        assert!(captured.contains(method.name()), "no successful capture of {}", method.name());
    }
    for name in &captured {
        assert!(Method::from_name(name).is_some(), "captured method {name} is not in Method::ALL");
    }
}

/// Server side: our dispatch answers Python's request with Python's reply value, byte for byte.
#[test]
fn dispatch_reproduces_python_replies() {
    let mut checked = 0;
    for exchange in load_captures() {
        let scheduler = ScriptedScheduler::new();
        let method = Method::from_name(&exchange.method).expect("known method");
        if exchange.status == 200 {
            scheduler.push_reply(method, python_reply_value(&exchange));
        }
        let body = dispatch(&scheduler, &exchange.method, exchange.data.as_deref().unwrap_or(""))
            .unwrap_or_else(|err| panic!("{}: {err}\n  data: {:?}", exchange.origin, exchange.data));
        assert_eq!(scheduler.calls().len(), 1, "{}", exchange.origin);
        if exchange.status != 200 {
            // Python answers 500 for empty `data` (the visualiser's pause button) and for extra
            // keys on methods without **kwargs; we accept both on purpose.
            assert!(
                matches!(exchange.data.as_deref(), Some("") | Some("{\"extra\": 1}")),
                "{}: unexpected Python failure",
                exchange.origin
            );
            assert_eq!(body, r#"{"response": null}"#);
            continue;
        }
        assert_eq!(normalised(&body), normalised(&exchange.response), "{}: semantic difference", exchange.origin);
        assert_same_bytes(&body, &exchange.response, &exchange.origin);
        checked += 1;
    }
    assert!(checked > 100);
}

/// A transport that answers with one captured body and checks the method it is asked for.
struct Replay<'a> {
    method: &'a str,
    body: &'a str,
}

impl Transport for Replay<'_> {
    fn call(&self, method: &str, _data_json: &str) -> Result<String, Error> {
        assert_eq!(method, self.method);
        Ok(self.body.to_owned())
    }
}

/// Decodes the captured request into its typed request, sends it through an `RpcClient` whose
/// transport replays Python's reply, and returns (our re-encoded request, our re-encoded reply).
macro_rules! client_exchange {
    ($exchange:expr, [$($name:ident: $request:ty),* $(,)?]) => {{
        let exchange: &Exchange = $exchange;
        let client = RpcClient::new(Replay { method: &exchange.method, body: &exchange.response });
        match exchange.method.as_str() {
            $(
                stringify!($name) => {
                    let request: $request = json::from_str(exchange.data_or_empty())
                        .unwrap_or_else(|err| panic!("{}: request does not decode: {err}", exchange.origin));
                    let sent = json::to_string(&request, Style::Python).expect("requests encode");
                    let reply = client
                        .$name(request)
                        .unwrap_or_else(|err| panic!("{}: reply does not decode: {err}", exchange.origin));
                    (sent, json::reply_body(&reply).expect("replies encode"))
                }
            )*
            other => panic!("{}: no client mapping for {other}", exchange.origin),
        }
    }};
}

fn client_round_trip(exchange: &Exchange) -> (String, String) {
    client_exchange!(exchange, [
        add_task: AddTaskRequest,
        add_task_batcher: AddTaskBatcherRequest,
        add_worker: AddWorkerRequest,
        get_work: GetWorkRequest,
        count_pending: CountPendingRequest,
        ping: PingRequest,
        announce_scheduling_failure: AnnounceSchedulingFailureRequest,
        set_task_status_message: SetTaskStatusMessageRequest,
        get_task_status_message: TaskIdRequest,
        set_task_progress_percentage: SetTaskProgressPercentageRequest,
        get_task_progress_percentage: TaskIdRequest,
        decrease_running_task_resources: DecreaseRunningTaskResourcesRequest,
        get_running_task_resources: TaskIdRequest,
        report_task_statistics: ReportTaskStatisticsRequest,
        add_scheduler_message_response: AddSchedulerMessageResponseRequest,
        get_scheduler_message_response: GetSchedulerMessageResponseRequest,
        send_scheduler_message: SendSchedulerMessageRequest,
        set_worker_processes: SetWorkerProcessesRequest,
        disable_worker: WorkerRequest,
        graph: NoArgs,
        dep_graph: DepGraphRequest,
        inverse_dep_graph: DepGraphRequest,
        task_list: TaskListRequest,
        task_search: TaskSearchRequest,
        worker_list: WorkerListRequest,
        resource_list: NoArgs,
        fetch_error: TaskIdRequest,
        re_enable_task: TaskIdRequest,
        forgive_failures: OptionalTaskIdRequest,
        mark_as_done: OptionalTaskIdRequest,
        prune: NoArgs,
        has_task_history: NoArgs,
        is_pause_enabled: NoArgs,
        is_paused: NoArgs,
        pause: NoArgs,
        unpause: NoArgs,
        update_resources: UpdateResourcesRequest,
        update_resource: UpdateResourceRequest,
    ])
}

/// Client side: every captured request decodes into its type and every reply into its type; the
/// Python client's requests (POST, all arguments sent) re-encode to the same JSON, and every
/// reply re-encodes to the same JSON (and bytes) as Python's.
#[test]
fn client_reproduces_python_requests_and_replies() {
    let mut requests_compared = 0;
    for exchange in load_captures().iter().filter(|exchange| exchange.status == 200) {
        let (sent, reply) = client_round_trip(exchange);
        if exchange.http == "POST" {
            let python = exchange.data.as_deref().expect("POST requests carry data");
            assert_eq!(normalised(&sent), normalised(python), "{}: request re-encodes differently", exchange.origin);
            requests_compared += 1;
        }
        assert_eq!(
            normalised(&reply),
            normalised(&exchange.response),
            "{}: reply re-encodes differently",
            exchange.origin
        );
        assert_same_bytes(&reply, &exchange.response, &exchange.origin);
    }
    assert!(requests_compared > 50);
}

/// Spot checks that the decoded values mean what Python meant, not only that they round-trip.
#[test]
fn captured_shapes_decode_to_the_right_variants() {
    let captures = load_captures();
    let find = |method: &str, needle: &str| {
        captures
            .iter()
            .find(|exchange| exchange.method == method && exchange.status == 200 && exchange.response.contains(needle))
            .unwrap_or_else(|| panic!("no {method} capture containing {needle}"))
    };
    let reply = |exchange: &Exchange| python_reply_value(exchange);

    let batch: GetWorkReply = serde_json::from_value(reply(find("get_work", "batch_id"))).unwrap();
    match &batch.work {
        Work::Batch { task_params, batch_task_ids, batch_id, .. } => {
            assert!(task_params.values().any(|value| matches!(value, BatchParam::Many(values) if values.len() > 1)));
            assert!(batch_task_ids.len() > 1);
            assert_eq!(batch_id.len(), 32);
        }
        other => panic!("expected a batch, got {other:?}"),
    }
    let disabled: GetWorkReply = serde_json::from_value(reply(find("get_work", "\"disabled\""))).unwrap();
    assert_eq!(disabled, GetWorkReply::disabled());

    let batcher = captures
        .iter()
        .find(|exchange| {
            exchange.method == "add_task_batcher" && exchange.data.as_deref().is_some_and(|d| d.contains("Infinity"))
        })
        .expect("a batcher with an infinite max_batch_size");
    let request: AddTaskBatcherRequest = json::from_str(batcher.data_or_empty()).unwrap();
    assert_eq!(request.max_batch_size, Number::INFINITY);

    let too_many: TaskListReply = serde_json::from_value(reply(find("task_list", "num_tasks"))).unwrap();
    assert!(matches!(too_many, TaskListReply::TooMany { .. }));

    let graph: GraphReply = serde_json::from_value(reply(find("dep_graph", "Ghost_x_1234567890"))).unwrap();
    let ghost = graph.get(&TaskId::from("Ghost_x_1234567890")).expect("the ghost dependency");
    assert!(matches!(ghost, GraphNode::Placeholder(node) if node.name == "Ghost" && node.display_name.is_none()));
    let nameless = graph.get(&TaskId::from("nounderscore")).expect("the id without a family");
    assert!(matches!(nameless, GraphNode::Placeholder(node) if node.name == "UNKNOWN"));
    assert_eq!(
        graph.values().filter(|node| matches!(node, GraphNode::Task(task) if task.display_name.is_some())).count(),
        1
    );

    let ping: PingReply = serde_json::from_value(reply(find("ping", "dispatch_scheduler_message"))).unwrap();
    assert!(ping.rpc_messages.iter().any(|message| matches!(message, RpcMessage::DispatchSchedulerMessage { .. })));

    let workers: Vec<WorkerEntry> = serde_json::from_value(reply(find("worker_list", "first_task"))).unwrap();
    assert!(workers.iter().any(|worker| worker.info.contains_key("salt") && worker.running.is_some()));

    let re_enabled: ReEnableTaskReply = serde_json::from_value(reply(find("re_enable_task", "display_name"))).unwrap();
    assert!(re_enabled.0.is_some_and(|node| node.deps.is_some()));

    let error: FetchErrorReply = serde_json::from_value(reply(find("fetch_error", "Runtime error"))).unwrap();
    match error {
        FetchErrorReply::Known { error: Some(expl), .. } => {
            let decoded: String = serde_json::from_str(&expl).expect("expl is a JSON-encoded string");
            assert!(decoded.starts_with("Runtime error:"));
        }
        other => panic!("expected a known task's error, got {other:?}"),
    }

    let info = captures
        .iter()
        .filter(|exchange| exchange.method == "add_worker")
        .map(|exchange| json::from_str::<AddWorkerRequest>(exchange.data_or_empty()).unwrap().info)
        .collect::<Vec<_>>();
    assert!(info.iter().any(|info| matches!(info, WorkerInfo::Pairs(_))));
    assert!(info.iter().any(|info| matches!(info, WorkerInfo::Object(_))));
}
