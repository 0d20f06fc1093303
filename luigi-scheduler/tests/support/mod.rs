//! Test support shared by the server tests and the throughput benchmark: a configurable fake
//! scheduler, a server running on its own runtime, and a minimal HTTP/1.1 client.
//!
//! The fake ([`Fake`]) answers either like `ScriptedScheduler` (recording calls, replies queued
//! by the test) or from fixed replies per method (for load, without recording), and can run a
//! hook before every call, which tests use to make the scheduler panic or block. The client
//! writes raw requests, so tests control every byte (bad encodings, chunked bodies, missing
//! headers) and read every header of the reply.

#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use luigi_core::rpc::wire::*;
use luigi_core::rpc::{Error, Method, SchedulerApi, ScriptedScheduler};
use luigi_scheduler::server::{ListenOn, Listeners, Router, Server};
use serde_json::Value;

/// Runs before every call of the fake.
pub type Hook = Box<dyn Fn(Method) + Send + Sync>;

/// How the fake answers.
pub enum Mode {
    /// Like `ScriptedScheduler`.
    Scripted(ScriptedScheduler),
    /// The same JSON reply every time (`null` for methods not listed).
    Fixed(HashMap<Method, Value>),
}

/// A scheduler for tests; see the module docs.
pub struct Fake {
    pub mode: Mode,
    pub hook: Option<Hook>,
}

impl Fake {
    /// A scripted fake without a hook.
    pub fn scripted() -> Fake {
        Fake { mode: Mode::Scripted(ScriptedScheduler::new()), hook: None }
    }

    /// A fake answering the hot worker calls (`add_task`, `get_work`, `ping`, ...) with fixed,
    /// realistic replies.
    pub fn fixed() -> Fake {
        let mut replies = HashMap::new();
        replies.insert(Method::Ping, serde_json::json!({"rpc_messages": []}));
        replies.insert(
            Method::GetWork,
            serde_json::json!({"n_pending_tasks": 0, "n_unique_pending": 0, "n_pending_last_scheduled": 0,
                               "worker_state": "active", "running_tasks": [], "task_id": null}),
        );
        replies.insert(Method::IsPaused, serde_json::json!({"paused": false}));
        // A method served on the blocking pool, to measure that path against the inline one.
        replies.insert(Method::ResourceList, serde_json::json!([]));
        Fake { mode: Mode::Fixed(replies), hook: None }
    }

    /// The scripted scheduler inside (panics for a fixed fake: a test bug).
    pub fn script(&self) -> &ScriptedScheduler {
        match &self.mode {
            Mode::Scripted(script) => script,
            Mode::Fixed(_) => panic!("not a scripted fake"),
        }
    }

    fn fixed_reply<T: serde::de::DeserializeOwned>(
        replies: &HashMap<Method, Value>,
        method: Method,
    ) -> Result<T, Error> {
        let value = replies.get(&method).cloned().unwrap_or(Value::Null);
        serde_json::from_value(value).map_err(|err| Error::Internal { method: method.name(), message: err.to_string() })
    }
}

macro_rules! impl_fake {
    ($( fn $name:ident / $variant:ident ($request:ty) -> $reply:ty; )*) => {
        impl SchedulerApi for Fake {
            $(
                fn $name(&self, request: $request) -> Result<$reply, Error> {
                    if let Some(hook) = &self.hook {
                        hook(Method::$variant);
                    }
                    match &self.mode {
                        Mode::Scripted(script) => script.$name(request),
                        Mode::Fixed(replies) => {
                            let _ = request;
                            Fake::fixed_reply(replies, Method::$variant)
                        }
                    }
                }
            )*
        }
    };
}

impl_fake! {
    fn add_task / AddTask (AddTaskRequest) -> ();
    fn add_task_batcher / AddTaskBatcher (AddTaskBatcherRequest) -> ();
    fn add_worker / AddWorker (AddWorkerRequest) -> ();
    fn get_work / GetWork (GetWorkRequest) -> GetWorkReply;
    fn count_pending / CountPending (CountPendingRequest) -> CountPendingReply;
    fn ping / Ping (PingRequest) -> PingReply;
    fn announce_scheduling_failure / AnnounceSchedulingFailure (AnnounceSchedulingFailureRequest) -> ();
    fn set_task_status_message / SetTaskStatusMessage (SetTaskStatusMessageRequest) -> ();
    fn get_task_status_message / GetTaskStatusMessage (TaskIdRequest) -> TaskStatusMessageReply;
    fn set_task_progress_percentage / SetTaskProgressPercentage (SetTaskProgressPercentageRequest) -> ();
    fn get_task_progress_percentage / GetTaskProgressPercentage (TaskIdRequest) -> TaskProgressReply;
    fn decrease_running_task_resources / DecreaseRunningTaskResources (DecreaseRunningTaskResourcesRequest) -> ();
    fn get_running_task_resources / GetRunningTaskResources (TaskIdRequest) -> RunningTaskResourcesReply;
    fn report_task_statistics / ReportTaskStatistics (ReportTaskStatisticsRequest) -> ();
    fn add_scheduler_message_response / AddSchedulerMessageResponse (AddSchedulerMessageResponseRequest) -> ();
    fn get_scheduler_message_response / GetSchedulerMessageResponse (GetSchedulerMessageResponseRequest) -> SchedulerMessageResponseReply;
    fn send_scheduler_message / SendSchedulerMessage (SendSchedulerMessageRequest) -> SendSchedulerMessageReply;
    fn set_worker_processes / SetWorkerProcesses (SetWorkerProcessesRequest) -> ();
    fn disable_worker / DisableWorker (WorkerRequest) -> ();
    fn graph / Graph (NoArgs) -> GraphReply;
    fn dep_graph / DepGraph (DepGraphRequest) -> GraphReply;
    fn inverse_dep_graph / InverseDepGraph (DepGraphRequest) -> GraphReply;
    fn task_list / TaskList (TaskListRequest) -> TaskListReply;
    fn task_search / TaskSearch (TaskSearchRequest) -> TaskSearchReply;
    fn worker_list / WorkerList (WorkerListRequest) -> Vec<WorkerEntry>;
    fn resource_list / ResourceList (NoArgs) -> Vec<ResourceEntry>;
    fn fetch_error / FetchError (TaskIdRequest) -> FetchErrorReply;
    fn re_enable_task / ReEnableTask (TaskIdRequest) -> ReEnableTaskReply;
    fn forgive_failures / ForgiveFailures (OptionalTaskIdRequest) -> TaskStatusReply;
    fn mark_as_done / MarkAsDone (OptionalTaskIdRequest) -> TaskStatusReply;
    fn prune / Prune (NoArgs) -> ();
    fn has_task_history / HasTaskHistory (NoArgs) -> bool;
    fn is_pause_enabled / IsPauseEnabled (NoArgs) -> PauseEnabledReply;
    fn is_paused / IsPaused (NoArgs) -> PausedReply;
    fn pause / Pause (NoArgs) -> ();
    fn unpause / Unpause (NoArgs) -> ();
    fn update_resources / UpdateResources (UpdateResourcesRequest) -> ();
    fn update_resource / UpdateResource (UpdateResourceRequest) -> bool;
}

/// A server on 127.0.0.1 (a free port) with its own runtime; stops when dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    runtime: Option<tokio::runtime::Runtime>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: Option<std::sync::mpsc::Receiver<Result<(), luigi_scheduler::server::Error>>>,
}

impl TestServer {
    /// Serves `app` on a free loopback port.
    pub fn start(app: Router) -> TestServer {
        TestServer::start_with(app, |server| server)
    }

    /// Serves `app`, letting `configure` adjust the [`Server`] (pruning, drain timeout).
    pub fn start_with(app: Router, configure: impl FnOnce(Server) -> Server) -> TestServer {
        let on = ListenOn::Tcp { addresses: vec!["127.0.0.1".into()], port: 0 };
        let listeners = Listeners::bind(&on, &Default::default()).expect("bind a free loopback port");
        let addr = match &listeners.addrs()[0] {
            luigi_scheduler::server::BoundAddr::Tcp(addr) => *addr,
            other => panic!("unexpected address {other}"),
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (done_tx, done) = std::sync::mpsc::channel();
        let server = configure(Server::new(listeners, app));
        runtime.spawn(async move {
            let result = server
                .serve(async move {
                    let _ = stopped.await;
                })
                .await;
            let _ = done_tx.send(result);
        });
        TestServer { addr, runtime: Some(runtime), stop: Some(stop), done: Some(done) }
    }

    /// Asks the server to shut down, without waiting.
    pub fn begin_shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Waits (up to 10 s) for `serve` to return and gives its result.
    pub fn wait(&mut self) -> Result<(), luigi_scheduler::server::Error> {
        let done = self.done.take().expect("wait once");
        done.recv_timeout(Duration::from_secs(10)).expect("the server stops within 10 s")
    }

    /// Sends raw request bytes and reads the whole reply.
    pub fn raw(&self, request: &[u8]) -> Reply {
        raw(self.addr, request)
    }

    /// `GET path` with extra header lines (`Name: value`).
    pub fn get(&self, path: &str, headers: &[&str]) -> Reply {
        self.request("GET", path, headers, None)
    }

    /// `POST path` with a form body.
    pub fn post_form(&self, path: &str, body: &str) -> Reply {
        self.request("POST", path, &["Content-Type: application/x-www-form-urlencoded"], Some(body.as_bytes()))
    }

    /// Any request with a `Content-Length` body.
    pub fn request(&self, method: &str, path: &str, headers: &[&str], body: Option<&[u8]>) -> Reply {
        let mut text = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n", self.addr);
        for header in headers {
            text.push_str(header);
            text.push_str("\r\n");
        }
        let mut bytes = Vec::new();
        match body {
            Some(body) => {
                text.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
                bytes.extend_from_slice(text.as_bytes());
                bytes.extend_from_slice(body);
            }
            None => {
                text.push_str("\r\n");
                bytes.extend_from_slice(text.as_bytes());
            }
        }
        self.raw(&bytes)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.begin_shutdown();
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_secs(5));
        }
    }
}

/// An HTTP reply.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("a UTF-8 body")
    }

    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|err| panic!("not JSON ({err}): {:?}", self.text()))
    }
}

/// Sends `request` to `addr` and reads the reply until the server closes the connection.
pub fn raw(addr: SocketAddr, request: &[u8]) -> Reply {
    let mut stream = TcpStream::connect(addr).expect("connect to the test server");
    stream.set_read_timeout(Some(Duration::from_secs(20))).expect("set a timeout");
    // The server may answer (413) and close before reading everything; a failed write is fine.
    let _ = stream.write_all(request);
    let mut bytes = Vec::new();
    if let Err(err) = stream.read_to_end(&mut bytes) {
        assert!(!bytes.is_empty(), "no reply: {err}");
    }
    parse_reply(&bytes)
}

/// Parses an HTTP/1.1 reply (Content-Length, chunked, or read-to-close body).
pub fn parse_reply(bytes: &[u8]) -> Reply {
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n").expect("a complete header block");
    let head = std::str::from_utf8(&bytes[..end]).expect("ASCII headers");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("a status line");
    let status = status_line.split(' ').nth(1).and_then(|code| code.parse().ok()).expect("a status code");
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        .collect();
    let rest = &bytes[end + 4..];
    let chunked = headers
        .iter()
        .any(|(name, value)| name.eq_ignore_ascii_case("transfer-encoding") && value.eq_ignore_ascii_case("chunked"));
    let body = if chunked { dechunk(rest) } else { rest.to_vec() };
    Reply { status, headers, body }
}

fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n").expect("a chunk size line");
        let size_text = std::str::from_utf8(&rest[..line_end]).expect("hex size");
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or_default().trim(), 16).expect("hex size");
        rest = &rest[line_end + 2..];
        if size == 0 {
            return body;
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

/// Percent-encodes `text` for a form or query string, as Python's `urlencode` does.
pub fn form_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => out.push(byte as char),
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// A shared fake behind the trait object the server wants.
pub fn api(fake: Fake) -> (Arc<Fake>, Arc<dyn SchedulerApi>) {
    let fake = Arc::new(fake);
    let api: Arc<dyn SchedulerApi> = fake.clone();
    (fake, api)
}
