//! The worker's client of a remote scheduler (`luigid`): Luigi's `RemoteScheduler`
//! (`luigi/rpc.py`) in Rust.
//!
//! [`RemoteScheduler`] is `luigi_core::rpc::RpcClient<HttpTransport>`: the core's `RpcClient`
//! encodes every call exactly as Python does (every argument present, `Infinity` and all) and
//! decodes the replies, and [`HttpTransport`] only moves the bytes. The transport:
//!
//! - builds the URL of each RPC from the scheduler URL ([`SchedulerUrl`]: sub-path mounting,
//!   `https://`, `http+unix://`, credentials turned into `Authorization: Basic`);
//! - POSTs `application/x-www-form-urlencoded` `data=<JSON>` (encoded like Python's `urlencode`);
//! - bounds each request by `rpc-connect-timeout` and retries connection failures, timeouts
//!   and HTTP statuses >= 400 up to `rpc-retry-attempts` times, `rpc-retry-wait` apart, then
//!   fails with Luigi's `Errors (N attempts) when connecting to remote scheduler '<url>'` and
//!   the last cause ([`http_status`] digs the HTTP status out of such an error);
//! - re-requests a `get_work` answered with `null` up to three times in all, as Luigi does
//!   (its `allow_null=False`); the third `null` reaches `RpcClient`, which reports
//!   [`Error::NullResponse`](RpcError::NullResponse).
//!
//! Like Luigi, `ping` gets the same transport retries as every other method: its `attempts=1`
//! in Luigi's scheduler only limits the `null` re-requests, which `ping` does not make anyway.
//! Tests and callers that must not wait use [`RpcSettings::retry_wait`] of zero.
//!
//! The HTTP client is `ureq` (blocking, rustls, connection pool) rather than `reqwest`: the
//! worker is synchronous, and `reqwest::blocking` would run a Tokio runtime on a thread of its
//! own and hop to it on every call, for nothing but a larger dependency tree. `ureq` keeps
//! connections alive and reuses them, which is what a worker making thousands of small calls a
//! second needs. It cannot dial UNIX sockets through a stable API, so `http+unix://` goes
//! through a small HTTP/1.1 client of our own (`remote/unix.rs`). Redirects, proxies from the
//! environment (`HTTP_PROXY`, `NO_PROXY`) and the bundled web PKI roots follow `ureq`'s
//! defaults, which match what Python's `requests` does; responses are not gzip-compressed
//! (Python's client asks for gzip; our small JSON replies are cheaper to send plain).
//!
//! Host names are resolved by `remote/resolve.rs` (IP literals in place, names cached for a
//! few seconds) instead of `ureq`'s resolver, which spawns a thread for every request.
//!
//! After a `fork()` the child drops the connections it inherited and opens its own, like
//! Luigi's fetcher, which recreates its `requests` session when the pid changes.

mod resolve;
mod unix;
mod url;

use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use luigi_core::BoxError;
use luigi_core::config::{Core, RpcSettings};
use luigi_core::rpc::{self, Method, RpcClient, Transport};
use serde::Deserialize;
use serde::de::IgnoredAny;

pub use self::url::{SchedulerUrl, Scheme};

/// The `Error` every [`SchedulerApi`](rpc::SchedulerApi) call returns.
pub use luigi_core::rpc::Error as RpcError;

/// The scheduler API over HTTP: what a worker holds when `[core] local_scheduler` is off.
pub type RemoteScheduler = RpcClient<HttpTransport>;

/// The `User-Agent` of every request.
const USER_AGENT: &str = concat!("luigi-rs/", env!("CARGO_PKG_VERSION"));
/// The form's content type; Luigi's fetchers send exactly this.
const FORM: &str = "application/x-www-form-urlencoded";
/// Requests of a `get_work` answered with `null` before giving up (Luigi's `_request` default).
const NULL_ATTEMPTS: u32 = 3;
/// The largest response read. A scheduler's replies are JSON objects; `task_list` of a busy
/// scheduler can be tens of megabytes, which is well under this.
const MAX_BODY: u64 = 1 << 30;
/// Idle keep-alive connections kept, as in Python's `requests` (its pool holds 10).
const MAX_IDLE: usize = 10;

/// What can go wrong setting up a remote scheduler client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The scheduler URL cannot be used.
    #[error(
        "cannot use the scheduler URL '{url}': {reason} (set [core] scheduler_url, or scheduler_host and scheduler_port)"
    )]
    InvalidUrl {
        /// The URL, without credentials.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// The scheduler URL of a `[core]` section, with Luigi's precedence: `scheduler_url` when it is
/// not empty, else `http://{scheduler_host}:{scheduler_port}/`.
pub fn scheduler_url(core: &Core) -> String {
    if core.scheduler_url.is_empty() {
        format!("http://{}:{}/", core.scheduler_host, core.scheduler_port)
    } else {
        core.scheduler_url.clone()
    }
}

/// A [`RemoteScheduler`] for `url` (see [`SchedulerUrl`]) with the given timeouts and retries.
///
/// Nothing is sent yet: connections are made by the first call.
pub fn connect(url: &str, settings: RpcSettings) -> Result<RemoteScheduler, Error> {
    Ok(RpcClient::new(HttpTransport::new(url, settings)?))
}

/// Carries RPCs to a scheduler over HTTP(S) or a UNIX socket, with Luigi's timeouts and
/// retries. Cheap to share between threads (`&self` calls), with one connection pool.
pub struct HttpTransport {
    url: SchedulerUrl,
    settings: RpcSettings,
    connection: Connection,
}

enum Connection {
    /// `http://` and `https://`, through `ureq`.
    Tcp(TcpClient),
    /// `http+unix://`.
    Unix(unix::UnixClient),
}

impl HttpTransport {
    /// A transport to the scheduler at `url`, with the timeout and retries of `settings`.
    pub fn new(url: &str, settings: RpcSettings) -> Result<HttpTransport, Error> {
        let url = SchedulerUrl::parse(url)?;
        let connection = match url.socket_path() {
            Some(socket) => Connection::Unix(unix::UnixClient::new(socket)),
            None => Connection::Tcp(TcpClient::new(settings.connect_timeout)),
        };
        Ok(HttpTransport { url, settings, connection })
    }

    /// The scheduler's URL.
    pub fn url(&self) -> &SchedulerUrl {
        &self.url
    }

    /// The timeout and retry settings.
    pub fn settings(&self) -> &RpcSettings {
        &self.settings
    }

    /// Posts `body` to the RPC `method`, retrying failures as Luigi does.
    fn fetch(&self, method: &str, body: &str) -> Result<String, RpcError> {
        let attempts = self.settings.retry_attempts.max(1);
        let mut attempt = 1;
        loop {
            let failure = match self.fetch_once(method, body) {
                Ok(reply) => return Ok(reply),
                Err(failure) => failure,
            };
            if self.settings.log_retries {
                tracing::warn!(
                    "Failed connecting to remote scheduler '{}' (attempt {attempt} of {attempts}): {failure}",
                    self.url
                );
            }
            if attempt >= attempts {
                return Err(RpcError::Transport {
                    message: format!(
                        "Errors ({attempts} attempts) when connecting to remote scheduler '{}': {failure}",
                        self.url
                    ),
                    source: Some(failure.into_source()),
                });
            }
            attempt += 1;
            if self.settings.log_retries {
                tracing::info!("Retrying attempt {attempt} of {attempts} (max)");
                tracing::info!("Wait for {} seconds", self.settings.retry_wait.as_secs_f64());
            }
            if !self.settings.retry_wait.is_zero() {
                std::thread::sleep(self.settings.retry_wait);
            }
        }
    }

    /// One request, without retries.
    fn fetch_once(&self, method: &str, body: &str) -> Result<String, Failure> {
        let timeout = self.settings.connect_timeout;
        let authorization = self.url.authorization();
        let (status, bytes) = match &self.connection {
            Connection::Tcp(client) => client.post(&self.url.endpoint(method), authorization, body)?,
            Connection::Unix(client) => {
                let reply = client
                    .post(&self.url.path(method), authorization, body, timeout, MAX_BODY)
                    .map_err(|err| Failure::Io(Box::new(err)))?;
                (reply.status, reply.body)
            }
        };
        let text = String::from_utf8(bytes).unwrap_or_else(|err| String::from_utf8_lossy(err.as_bytes()).into_owned());
        if status >= 400 {
            return Err(Failure::Status { status, body: text });
        }
        Ok(text)
    }
}

impl Transport for HttpTransport {
    fn call(&self, method: &str, data_json: &str) -> Result<String, RpcError> {
        let body = form_body(data_json);
        // Only get_work insists on a non-null response (Luigi's allow_null=False).
        let rounds = if method == Method::GetWork.name() { NULL_ATTEMPTS } else { 1 };
        let mut round = 1;
        loop {
            let reply = self.fetch(method, &body)?;
            if round >= rounds || !is_null_response(&reply) {
                return Ok(reply);
            }
            tracing::warn!("Received null response from remote scheduler '{}' to {method}; asking again", self.url);
            round += 1;
        }
    }
}

impl fmt::Debug for HttpTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL's Debug shows no credentials.
        f.debug_struct("HttpTransport").field("url", &self.url).field("settings", &self.settings).finish()
    }
}

/// The HTTP status a scheduler answered with, when `err` is (or wraps) an HTTP error status:
/// e.g. 404 for an RPC the server does not know or a wrong sub-path, 401 for missing
/// credentials.
pub fn http_status(err: &RpcError) -> Option<u16> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(error) = current {
        if let Some(RpcError::Server { status, .. }) = error.downcast_ref::<RpcError>() {
            return Some(*status);
        }
        current = error.source();
    }
    None
}

/// Why one attempt failed.
#[derive(Debug)]
enum Failure {
    /// No HTTP response: connection refused, timeout, broken exchange, TLS failure, ...
    Io(BoxError),
    /// The server answered with an HTTP error status.
    Status { status: u16, body: String },
}

impl Failure {
    /// The error kept as the source of the final error.
    fn into_source(self) -> BoxError {
        match self {
            Failure::Io(err) => err,
            Failure::Status { status, body } => Box::new(RpcError::Server { status, body }),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Io(err) => write!(f, "{err}"),
            Failure::Status { status, body } => {
                const MAX: usize = 200;
                let mut end = body.len().min(MAX);
                while !body.is_char_boundary(end) {
                    end -= 1;
                }
                match body[..end].trim() {
                    "" => write!(f, "HTTP {status}"),
                    body => write!(f, "HTTP {status}: {body}"),
                }
            }
        }
    }
}

/// The `ureq` agent, rebuilt after a `fork()`.
struct TcpClient {
    timeout: Duration,
    agent: Mutex<(u32, ureq::Agent)>,
}

impl TcpClient {
    fn new(timeout: Duration) -> TcpClient {
        TcpClient { timeout, agent: Mutex::new((std::process::id(), agent(timeout))) }
    }

    fn post(&self, url: &str, authorization: Option<&str>, body: &str) -> Result<(u16, Vec<u8>), Failure> {
        let agent = {
            let mut slot = self.agent.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let pid = std::process::id();
            if slot.0 != pid {
                *slot = (pid, agent(self.timeout));
            }
            slot.1.clone()
        };
        let mut request = agent.post(url).header("Content-Type", FORM);
        if let Some(authorization) = authorization {
            request = request.header("Authorization", authorization);
        }
        let response = request.send(body).map_err(|err| Failure::Io(Box::new(err)))?;
        let status = response.status().as_u16();
        let bytes = response
            .into_body()
            .into_with_config()
            .limit(MAX_BODY)
            .read_to_vec()
            .map_err(|err| Failure::Io(Box::new(err)))?;
        Ok((status, bytes))
    }
}

/// An agent whose whole request (connect, send, receive) ends within `timeout`, as Luigi's
/// `rpc-connect-timeout` bounds a request, and which leaves error statuses to us.
/// Names resolve through [`resolve::CachingResolver`]: `ureq`'s own resolver spawns a thread
/// per request to honour the timeout.
fn agent(timeout: Duration) -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .user_agent(USER_AGENT)
        .max_idle_connections(MAX_IDLE)
        .max_idle_connections_per_host(MAX_IDLE)
        .build();
    ureq::Agent::with_parts(
        config,
        ureq::unversioned::transport::DefaultConnector::default(),
        resolve::CachingResolver::default(),
    )
}

/// `data=<text>` form-encoded as Python's `urlencode` does (`quote_plus`): letters, digits
/// and `_.-~` stay, a space becomes `+`, every other byte of the UTF-8 text becomes `%XX`.
pub fn form_body(data_json: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut body = String::with_capacity(5 + data_json.len() * 3 / 2);
    body.push_str("data=");
    for &byte in data_json.as_bytes() {
        match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => body.push(char::from(byte)),
            b' ' => body.push('+'),
            _ => {
                body.push('%');
                body.push(char::from(HEX[usize::from(byte >> 4)]));
                body.push(char::from(HEX[usize::from(byte & 0xf)]));
            }
        }
    }
    body
}

/// Whether a reply body is `{"response": null}` (any spacing); a body that does not parse is
/// not, and is left to `RpcClient` to report.
fn is_null_response(body: &str) -> bool {
    #[derive(Deserialize)]
    struct Envelope {
        // Without the explicit deserializer serde would read a missing field as None.
        #[serde(deserialize_with = "Option::deserialize")]
        response: Option<IgnoredAny>,
    }
    matches!(rpc::json::from_str::<Envelope>(body), Ok(Envelope { response: None }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_body_is_pythons_urlencode() {
        assert_eq!(form_body(r#"{"foo": "bar baz/test"}"#), "data=%7B%22foo%22%3A+%22bar+baz%2Ftest%22%7D");
        assert_eq!(form_body(""), "data=");
        assert_eq!(form_body("é~*"), "data=%C3%A9~%2A");
    }

    #[test]
    fn null_responses_are_recognised() {
        assert!(is_null_response(r#"{"response": null}"#));
        assert!(is_null_response(r#"{"response":null}"#));
        assert!(!is_null_response(r#"{"response": {}}"#));
        assert!(!is_null_response(r#"{"response": Infinity}"#));
        assert!(!is_null_response("<html>"));
        assert!(!is_null_response("{}"));
    }

    #[test]
    fn scheduler_url_precedence() {
        let mut core = Core::default_values();
        assert_eq!(scheduler_url(&core), "http://localhost:8082/");
        core.scheduler_host = "sched".into();
        core.scheduler_port = 9000;
        assert_eq!(scheduler_url(&core), "http://sched:9000/");
        core.scheduler_url = "https://luigi.example/sub".into();
        assert_eq!(scheduler_url(&core), "https://luigi.example/sub");
    }

    #[test]
    fn status_failures_keep_the_status_and_a_short_body() {
        let failure = Failure::Status { status: 404, body: format!("  {}", "ü".repeat(300)) };
        let text = failure.to_string();
        assert!(text.starts_with("HTTP 404: ü") && text.len() < 220, "{text}");
        let err = RpcError::Transport { message: text, source: Some(failure.into_source()) };
        assert_eq!(http_status(&err), Some(404));
        assert_eq!(http_status(&RpcError::Transport { message: "down".into(), source: None }), None);
        assert_eq!(Failure::Status { status: 502, body: " \n".into() }.to_string(), "HTTP 502");
    }

    #[test]
    fn debug_output_has_no_credentials() {
        let transport = HttpTransport::new("http://alice:secret@h:1/", RpcSettings::default()).unwrap();
        let debug = format!("{transport:?}");
        assert!(debug.contains("http://h:1") && !debug.contains("secret"), "{debug}");
    }
}
