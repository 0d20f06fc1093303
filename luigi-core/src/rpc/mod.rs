//! The worker–scheduler contract: [`SchedulerApi`] with one method per Luigi 3.8.1 RPC, the
//! wire types of its requests and replies, and the protocol glue on both sides of HTTP.
//!
//! The parts and how they relate:
//!
//! - [`SchedulerApi`] (in `api`) is the contract. The in-process scheduler engine implements it;
//!   so does [`RpcClient`], which speaks the protocol to a remote `luigid`. A worker holds a
//!   `dyn SchedulerApi` and cannot tell which it has, exactly like Luigi's `Scheduler` and
//!   `RemoteScheduler`. [`Method`] names the RPCs.
//! - [`wire`] holds every request and reply type, with Luigi's argument names, Python defaults
//!   and reply shapes (verified against captures of a real luigid, see `tests/rpc_wire.rs`).
//! - [`json`] reads Python-flavoured JSON (`Infinity`, `NaN`) and writes JSON the way Python and
//!   Tornado do.
//! - [`dispatch()`] is the server side without HTTP: method name + `data` text in, reply body
//!   out. [`RpcClient`] is the client side without HTTP: it encodes each call and hands the text
//!   to a [`Transport`]. The HTTP server (scheduler crate) and HTTP client (worker crate) only
//!   move bytes; everything about the protocol's content lives here.
//! - [`ScriptedScheduler`] is a test double: it records calls and answers queued JSON replies.
//!
//! The protocol itself (inventory §1): `/api/<method>` with one form or query field `data`
//! holding a JSON object of named arguments (absent or empty means `{}`); the reply is
//! `{"response": <value>}`. Unknown methods are 404, undecodable arguments 400.

mod api;
mod client;
mod dispatch;
pub mod json;
mod scripted;
pub mod wire;

pub use api::{Method, SchedulerApi};
pub use client::{Loopback, RpcClient, Transport};
pub use dispatch::{dispatch, dispatch_method};
pub use scripted::ScriptedScheduler;

/// A result whose error is an RPC [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong calling or serving a scheduler RPC.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No RPC method has this name (HTTP 404).
    #[error("unknown scheduler RPC method '{method}'; Luigi 3.8.1 has add_task, get_work, ping, task_list, ...")]
    NotFound {
        /// The name that was asked for.
        method: String,
    },
    /// The request's `data` is not a JSON object or does not fit the method's arguments (HTTP 400).
    #[error("bad request for '{method}': {message}")]
    BadRequest {
        /// The method called.
        method: &'static str,
        /// What is wrong with the arguments.
        message: String,
    },
    /// The scheduler failed while handling a well-formed request (HTTP 500).
    #[error("the scheduler failed to handle '{method}': {message}")]
    Internal {
        /// The method called.
        method: &'static str,
        /// What failed.
        message: String,
    },
    /// The scheduler could not be reached, or the exchange broke off (client side).
    #[error("could not reach the scheduler: {message}; check that luigid is running and the scheduler URL")]
    Transport {
        /// What failed, for people.
        message: String,
        /// The underlying error, if any.
        #[source]
        source: Option<crate::BoxError>,
    },
    /// The scheduler answered with an HTTP error status (client side).
    #[error("the scheduler answered HTTP {status}: {}", snippet(.body))]
    Server {
        /// The HTTP status.
        status: u16,
        /// The response body.
        body: String,
    },
    /// The scheduler's reply could not be decoded as the method's reply type (client side).
    #[error("could not decode the scheduler's reply to '{method}': {message}; is the server a Luigi 3.8 scheduler?")]
    Decode {
        /// The method called.
        method: &'static str,
        /// What did not fit.
        message: String,
    },
    /// The reply was `{"response": null}` where a value is required, as for `get_work`
    /// (Python's client retries such a reply three times before giving up).
    #[error("the scheduler answered '{method}' with a null response")]
    NullResponse {
        /// The method called.
        method: &'static str,
    },
}

impl Error {
    /// The HTTP status a server answers this error with: 404, 400, or 500 for everything else.
    pub fn http_status(&self) -> u16 {
        match self {
            Error::NotFound { .. } => 404,
            Error::BadRequest { .. } => 400,
            _ => 500,
        }
    }
}

/// The start of a long response body, for error messages.
fn snippet(body: &str) -> &str {
    const MAX: usize = 300;
    if body.len() <= MAX {
        return body;
    }
    let mut end = MAX;
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    &body[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_messages() {
        let not_found = Error::NotFound { method: "nope".into() };
        assert_eq!(not_found.http_status(), 404);
        assert!(not_found.to_string().contains("'nope'"));
        let bad = Error::BadRequest { method: "add_task", message: "missing field `worker`".into() };
        assert_eq!(bad.http_status(), 400);
        assert_eq!(bad.to_string(), "bad request for 'add_task': missing field `worker`");
        let server = Error::Server { status: 502, body: "é".repeat(400) };
        assert_eq!(server.http_status(), 500);
        assert!(server.to_string().len() < 400);
        let null = Error::NullResponse { method: "get_work" };
        assert_eq!(null.to_string(), "the scheduler answered 'get_work' with a null response");
    }
}
