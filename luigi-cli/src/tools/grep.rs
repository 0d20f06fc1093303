//! `luigi grep` (Python's `luigi-grep`): searches the tasks a running scheduler knows by task id
//! prefix or by status, and prints each match with its dependencies grouped by their status.
//!
//! [`fetch_graph`] asks the scheduler for its whole dependency graph (`GET /api/graph`, no
//! arguments, as Luigi does), [`Graph::prefix_search`] and [`Graph::status_search`] select the
//! tasks, [`write_matches`] prints them; [`run`] does all of it for the command line with the
//! flags of [`GrepArgs`]. The output is Luigi's, line for line: `Fetching from url: <url>`, then
//! per task `<id>: <status>, Dependencies:`, and per dependency status (in the order each status
//! first occurs among the task's dependencies) `  status=<S>` followed by `    <dep id>` lines.
//! Dependencies missing from the graph (the scheduler cuts its reply at `max_graph_nodes`) are
//! grouped under `UNKNOWN`. As in Luigi, the prefix is matched case-sensitively and the status
//! case-insensitively, `--prefix` wins when both are given, and with neither nothing is fetched
//! or printed.
//!
//! The HTTP exchange is a minimal blocking HTTP/1.1 GET over a `std` TCP stream (one request,
//! `Connection: close`, `Content-Length`, chunked or read-to-close bodies), because a one-shot
//! command needs nothing more and the workspace carries no blocking HTTP client. It asks for
//! the identity encoding, so neither Python's luigid nor ours compresses the reply.
//!
//! The reply is decoded leniently, like Python's `json.loads` followed by dictionary lookups:
//! only each node's `status` and `deps` are read, so fields a scheduler adds or types it
//! writes differently cannot break the search. Missing `deps` count as none (Python would fail
//! on such a node only when printing it). Node order is the reply's order.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use clap::Parser;
use serde_json::Value;

/// How long to wait for the scheduler to accept the connection, per resolved address.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long one read or write on the connection may block. Generous, because a scheduler with
/// a million tasks takes a while to serialise its graph, but finite so that a stalled server
/// does not hang the command forever.
const IO_TIMEOUT: Duration = Duration::from_secs(300);

/// Why `luigi grep` failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The scheduler could not be reached, or the connection failed mid-reply.
    #[error(
        "cannot fetch {url}: {source}; check that the scheduler runs and --scheduler-host/--scheduler-port name it"
    )]
    Transport {
        /// The URL requested.
        url: String,
        /// The network error.
        source: io::Error,
    },
    /// The scheduler answered with an HTTP error status.
    #[error("{url} answered HTTP {status}: {body}")]
    Status {
        /// The URL requested.
        url: String,
        /// The HTTP status code.
        status: u16,
        /// The start of the reply body.
        body: String,
    },
    /// The reply is not a well-formed HTTP response.
    #[error("the reply from {url} is not valid HTTP: {message}; is a Luigi scheduler listening there?")]
    Protocol {
        /// The URL requested.
        url: String,
        /// What is wrong with it.
        message: String,
    },
    /// The reply body is not the JSON graph a Luigi scheduler sends.
    #[error("the scheduler's graph could not be read: {message}; is the server a Luigi 3.8 scheduler?")]
    Decode {
        /// What did not fit.
        message: String,
    },
    /// The results could not be written (a closed pipe, a full disk).
    #[error("cannot write the search results: {0}")]
    Write(#[from] io::Error),
}

/// The flags of `luigi grep` (those of Python's `luigi-grep`).
#[derive(Debug, Clone, PartialEq, Eq, Parser)]
#[command(name = "grep", about = "Searches the tasks of a running scheduler by task id prefix or by status")]
pub struct GrepArgs {
    /// The scheduler's host name.
    #[arg(long, value_name = "HOST", default_value = "localhost")]
    pub scheduler_host: String,
    /// The scheduler's port.
    #[arg(long, value_name = "PORT", default_value_t = 8082)]
    pub scheduler_port: u16,
    /// Tasks whose id starts with this text (case-sensitive); wins over --status.
    #[arg(long, value_name = "TEXT")]
    pub prefix: Option<String>,
    /// Tasks with this status (PENDING, RUNNING, DONE, FAILED, DISABLED, UNKNOWN...; any case).
    #[arg(long, value_name = "STATUS")]
    pub status: Option<String>,
}

impl Default for GrepArgs {
    fn default() -> Self {
        GrepArgs { scheduler_host: "localhost".to_owned(), scheduler_port: 8082, prefix: None, status: None }
    }
}

/// One task of the scheduler's graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphNode {
    /// The task id.
    pub id: String,
    /// Its status as the scheduler wrote it (`PENDING`, `DONE`...).
    pub status: String,
    /// The ids of its dependencies, in the scheduler's order.
    pub deps: Vec<String>,
}

/// The scheduler's dependency graph as `luigi grep` needs it: ids, statuses and dependencies,
/// in the order of the scheduler's reply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Graph {
    nodes: Vec<GraphNode>,
    index: HashMap<String, usize>,
}

/// A task that matched a search, with its dependencies grouped by status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrepMatch<'a> {
    /// The task id.
    pub name: &'a str,
    /// Its status.
    pub status: &'a str,
    /// Dependency ids grouped by their status, statuses in order of first occurrence;
    /// dependencies missing from the graph under `UNKNOWN`.
    pub deps_by_status: Vec<(&'a str, Vec<&'a str>)>,
}

impl Graph {
    /// Reads the body of a `/api/graph` reply: `{"response": {<task id>: {"status": ..., "deps":
    /// [...], ...}, ...}}`. Python's `NaN`/`Infinity` tokens are accepted, as `json.loads` does.
    pub fn from_json(body: &str) -> Result<Graph, Error> {
        let decode = |message: String| Error::Decode { message };
        let value: Value = luigi_core::rpc::json::from_str(body).map_err(|err| decode(format!("not JSON ({err})")))?;
        let Some(Value::Object(response)) = value.get("response") else {
            return Err(decode("no \"response\" object in the reply".to_owned()));
        };
        let mut graph = Graph { nodes: Vec::with_capacity(response.len()), index: HashMap::new() };
        graph.index.reserve(response.len());
        for (id, node) in response {
            let Some(Value::String(status)) = node.get("status") else {
                return Err(decode(format!("task {id} has no status")));
            };
            let deps = match node.get("deps") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(deps)) => deps
                    .iter()
                    .map(|dep| dep.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| decode(format!("the dependencies of task {id} are not all task ids")))?,
                Some(_) => return Err(decode(format!("the dependencies of task {id} are not a list"))),
            };
            graph.push(GraphNode { id: id.clone(), status: status.clone(), deps });
        }
        Ok(graph)
    }

    /// Adds a node; a node with an id already present replaces it in place, as a JSON object
    /// with a repeated key does in Python.
    pub fn push(&mut self, node: GraphNode) {
        match self.index.get(&node.id) {
            Some(&position) => self.nodes[position] = node,
            None => {
                self.index.insert(node.id.clone(), self.nodes.len());
                self.nodes.push(node);
            }
        }
    }

    /// The nodes, in the scheduler's order.
    pub fn nodes(&self) -> &[GraphNode] {
        &self.nodes
    }

    /// The node with this task id.
    pub fn get(&self, id: &str) -> Option<&GraphNode> {
        self.index.get(id).map(|&position| &self.nodes[position])
    }

    /// The tasks whose id starts with `prefix` (case-sensitive, as in Luigi).
    pub fn prefix_search(&self, prefix: &str) -> Vec<GrepMatch<'_>> {
        self.nodes.iter().filter(|node| node.id.starts_with(prefix)).map(|node| self.matched(node)).collect()
    }

    /// The tasks whose status is `status`, ignoring case (as in Luigi).
    pub fn status_search(&self, status: &str) -> Vec<GrepMatch<'_>> {
        let wanted = status.to_lowercase();
        self.nodes.iter().filter(|node| node.status.to_lowercase() == wanted).map(|node| self.matched(node)).collect()
    }

    fn matched<'a>(&'a self, node: &'a GraphNode) -> GrepMatch<'a> {
        let mut deps_by_status: Vec<(&str, Vec<&str>)> = Vec::new();
        for dep in &node.deps {
            let status = self.get(dep).map_or("UNKNOWN", |found| found.status.as_str());
            // A handful of statuses at most: a linear scan beats a map.
            match deps_by_status.iter_mut().find(|(seen, _)| *seen == status) {
                Some((_, ids)) => ids.push(dep),
                None => deps_by_status.push((status, vec![dep])),
            }
        }
        GrepMatch { name: &node.id, status: &node.status, deps_by_status }
    }
}

/// Prints search results in Luigi's format (see the module documentation).
pub fn write_matches(matches: &[GrepMatch<'_>], out: &mut dyn Write) -> io::Result<()> {
    for found in matches {
        writeln!(out, "{}: {}, Dependencies:", found.name, found.status)?;
        for (status, ids) in &found.deps_by_status {
            writeln!(out, "  status={status}")?;
            for id in ids {
                writeln!(out, "    {id}")?;
            }
        }
    }
    Ok(())
}

/// `http://<host>:<port>/api/graph`, the URL Luigi fetches (and prints).
pub fn graph_url(host: &str, port: u16) -> String {
    format!("http://{host}:{port}/api/graph")
}

/// Fetches and reads the scheduler's dependency graph.
pub fn fetch_graph(host: &str, port: u16) -> Result<Graph, Error> {
    let url = graph_url(host, port);
    let body = http_get(host, port, "/api/graph", &url)?;
    let body = String::from_utf8(body).map_err(|err| Error::Decode { message: format!("not UTF-8 ({err})") })?;
    Graph::from_json(&body)
}

/// `luigi grep`: fetches the graph and prints the tasks matching `args.prefix`, else
/// `args.status`. With neither (or both empty, as Python's truth test has it), it does nothing.
pub fn run(args: &GrepArgs, out: &mut dyn Write) -> Result<(), Error> {
    let prefix = args.prefix.as_deref().filter(|prefix| !prefix.is_empty());
    let status = args.status.as_deref().filter(|status| !status.is_empty());
    if prefix.is_none() && status.is_none() {
        return Ok(());
    }
    writeln!(out, "Fetching from url: {}", graph_url(&args.scheduler_host, args.scheduler_port))?;
    out.flush()?;
    let graph = fetch_graph(&args.scheduler_host, args.scheduler_port)?;
    let matches = match (prefix, status) {
        (Some(prefix), _) => graph.prefix_search(prefix),
        (None, Some(status)) => graph.status_search(status),
        (None, None) => Vec::new(),
    };
    write_matches(&matches, out)?;
    Ok(out.flush()?)
}

/// One blocking `GET path` to `host:port`; the body of a 2xx reply.
fn http_get(host: &str, port: u16, path: &str, url: &str) -> Result<Vec<u8>, Error> {
    let transport = |source: io::Error| Error::Transport { url: url.to_owned(), source };
    // `[::1]` is how a URL writes an IPv6 address; name resolution wants it bare.
    let bare = host.strip_prefix('[').and_then(|inner| inner.strip_suffix(']')).unwrap_or(host);
    let mut last_error = None;
    let mut stream = None;
    for addr in (bare, port).to_socket_addrs().map_err(transport)? {
        match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
            Ok(connected) => {
                stream = Some(connected);
                break;
            }
            Err(err) => last_error = Some(err),
        }
    }
    let stream = stream.ok_or_else(|| {
        transport(last_error.unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address for this host")))
    })?;
    stream.set_read_timeout(Some(IO_TIMEOUT)).map_err(transport)?;
    stream.set_write_timeout(Some(IO_TIMEOUT)).map_err(transport)?;
    let authority = if bare.contains(':') { format!("[{bare}]:{port}") } else { format!("{bare}:{port}") };
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nAccept: */*\r\nAccept-Encoding: identity\r\n\
         User-Agent: luigi-rs\r\nConnection: close\r\n\r\n"
    );
    (&stream).write_all(request.as_bytes()).map_err(transport)?;
    let (status, body) = read_response(&mut BufReader::new(stream)).map_err(|err| match err {
        ReplyError::Io(source) => transport(source),
        ReplyError::Malformed(message) => Error::Protocol { url: url.to_owned(), message },
    })?;
    if !(200..300).contains(&status) {
        let text = String::from_utf8_lossy(&body);
        let mut snippet: String = text.chars().take(200).collect();
        if snippet.len() < text.len() {
            snippet.push_str("...");
        }
        return Err(Error::Status { url: url.to_owned(), status, body: snippet });
    }
    Ok(body)
}

/// Why an HTTP reply could not be read.
#[derive(Debug)]
enum ReplyError {
    Io(io::Error),
    Malformed(String),
}

impl From<io::Error> for ReplyError {
    fn from(err: io::Error) -> Self {
        ReplyError::Io(err)
    }
}

/// Reads one HTTP/1.x response: the status code and the body, decoded from `Content-Length`,
/// chunked transfer encoding, or read until the server closes the connection.
fn read_response(reader: &mut impl BufRead) -> Result<(u16, Vec<u8>), ReplyError> {
    let malformed = |message: String| ReplyError::Malformed(message);
    let status_line = read_line(reader)?.ok_or_else(|| malformed("the server closed the connection".to_owned()))?;
    let mut parts = status_line.split_whitespace();
    let status = match (parts.next(), parts.next().map(str::parse::<u16>)) {
        (Some(version), Some(Ok(status))) if version.starts_with("HTTP/1.") => status,
        _ => return Err(malformed(format!("unexpected status line {status_line:?}"))),
    };
    let mut length = None;
    let mut chunked = false;
    loop {
        let line = read_line(reader)?.ok_or_else(|| malformed("the headers end early".to_owned()))?;
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(malformed(format!("unexpected header line {line:?}")));
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse::<u64>().map_err(|_| malformed(format!("bad Content-Length {value:?}")))?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.rsplit(',').next().is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"));
        } else if name.eq_ignore_ascii_case("content-encoding") && !value.eq_ignore_ascii_case("identity") {
            return Err(malformed(format!("the body is {value}-encoded although identity was asked for")));
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let line = read_line(reader)?.ok_or_else(|| malformed("the chunked body ends early".to_owned()))?;
            let size = line.split(';').next().unwrap_or_default().trim();
            let size = u64::from_str_radix(size, 16).map_err(|_| malformed(format!("bad chunk size {size:?}")))?;
            if size == 0 {
                // Trailers, if any, up to the empty line (or the end of the stream).
                while read_line(reader)?.is_some_and(|trailer| !trailer.is_empty()) {}
                break;
            }
            read_exactly(reader, size, &mut body)?;
            if read_line(reader)?.is_none_or(|end| !end.is_empty()) {
                return Err(malformed("a chunk does not end with CRLF".to_owned()));
            }
        }
    } else if let Some(length) = length {
        read_exactly(reader, length, &mut body)?;
    } else {
        reader.read_to_end(&mut body)?;
    }
    Ok((status, body))
}

/// Appends exactly `count` bytes to `body`; the stream ending first is an error. Reading
/// through `take` means a lying length costs no allocation up front.
fn read_exactly(reader: &mut impl BufRead, count: u64, body: &mut Vec<u8>) -> Result<(), ReplyError> {
    let got = reader.take(count).read_to_end(body)?;
    if (got as u64) < count {
        return Err(ReplyError::Malformed(format!("the body ends after {got} of {count} bytes")));
    }
    Ok(())
}

/// One header line without its line ending; `None` at the end of the stream.
fn read_line(reader: &mut impl BufRead) -> Result<Option<String>, ReplyError> {
    let mut line = Vec::new();
    if reader.read_until(b'\n', &mut line)? == 0 {
        return Ok(None);
    }
    while line.last().is_some_and(|byte| *byte == b'\n' || *byte == b'\r') {
        line.pop();
    }
    String::from_utf8(line).map(Some).map_err(|_| ReplyError::Malformed("a header line is not UTF-8".to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    const GRAPH: &str = r#"{"response": {
        "A_1": {"status": "PENDING", "deps": ["B_1", "C_1", "X_9", "D_1"], "priority": Infinity},
        "B_1": {"status": "DONE", "deps": []},
        "C_1": {"status": "FAILED"},
        "D_1": {"status": "DONE", "deps": null, "extra": {"nested": [1, 2]}},
        "a_2": {"status": "pending", "deps": ["A_1"]}
    }}"#;

    fn lines(matches: &[GrepMatch<'_>]) -> String {
        let mut out = Vec::new();
        write_matches(matches, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn prefix_search_is_case_sensitive_and_groups_dependencies() {
        let graph = Graph::from_json(GRAPH).unwrap();
        assert_eq!(graph.nodes().len(), 5);
        assert_eq!(
            lines(&graph.prefix_search("A")),
            "A_1: PENDING, Dependencies:\n  status=DONE\n    B_1\n    D_1\n  status=FAILED\n    C_1\n  \
             status=UNKNOWN\n    X_9\n"
        );
        assert_eq!(lines(&graph.prefix_search("a_")), "a_2: pending, Dependencies:\n  status=PENDING\n    A_1\n");
        assert_eq!(lines(&graph.prefix_search("")).matches("Dependencies").count(), 5);
        assert!(graph.prefix_search("Z").is_empty());
    }

    #[test]
    fn status_search_ignores_case() {
        let graph = Graph::from_json(GRAPH).unwrap();
        let names = |status: &str| graph.status_search(status).iter().map(|m| m.name).collect::<Vec<_>>();
        assert_eq!(names("Pending"), ["A_1", "a_2"]);
        assert_eq!(names("done"), ["B_1", "D_1"]);
        assert_eq!(names("UNKNOWN"), Vec::<&str>::new());
        assert_eq!(lines(&graph.status_search("failed")), "C_1: FAILED, Dependencies:\n");
    }

    #[test]
    fn replies_that_are_not_graphs() {
        for (body, expected) in [
            ("", "not JSON"),
            ("[]", "no \"response\""),
            (r#"{"response": null}"#, "no \"response\""),
            (r#"{"response": {"A": {"deps": []}}}"#, "task A has no status"),
            (r#"{"response": {"A": {"status": 3}}}"#, "task A has no status"),
            (r#"{"response": {"A": "DONE"}}"#, "task A has no status"),
            (r#"{"response": {"A": {"status": "DONE", "deps": "B"}}}"#, "not a list"),
            (r#"{"response": {"A": {"status": "DONE", "deps": [1]}}}"#, "not all task ids"),
        ] {
            let err = Graph::from_json(body).unwrap_err();
            assert!(matches!(err, Error::Decode { .. }) && err.to_string().contains(expected), "{body}: {err}");
        }
        assert_eq!(Graph::from_json(r#"{"response": {}}"#).unwrap(), Graph::default());
    }

    #[test]
    fn a_repeated_key_keeps_its_place_and_the_last_value() {
        let graph = Graph::from_json(
            r#"{"response": {"A": {"status": "DONE"}, "B": {"status": "DONE"}, "A": {"status": "FAILED"}}}"#,
        )
        .unwrap();
        let ids: Vec<_> = graph.nodes().iter().map(|node| (node.id.as_str(), node.status.as_str())).collect();
        assert_eq!(ids, [("A", "FAILED"), ("B", "DONE")]);
    }

    fn response(raw: &[u8]) -> Result<(u16, Vec<u8>), ReplyError> {
        read_response(&mut &raw[..])
    }

    #[test]
    fn http_bodies_by_length_chunks_or_close() {
        let (status, body) = response(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello, and more").unwrap();
        assert_eq!((status, body.as_slice()), (200, &b"hello"[..]));
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\nA\r\n, world!!!\r\n0\r\nX-Trailer: 1\r\n\r\n";
        assert_eq!(response(chunked).unwrap().1, b"hello, world!!!");
        assert_eq!(response(b"HTTP/1.0 200 OK\nServer: x\n\nuntil close").unwrap().1, b"until close");
        assert_eq!(response(b"HTTP/1.1 404 Not Found\r\ncontent-length: 2\r\n\r\nno").unwrap(), (404, b"no".to_vec()));
    }

    #[test]
    fn malformed_http_is_an_error_not_a_panic() {
        for raw in [
            &b""[..],
            b"SSH-2.0-OpenSSH\r\n",
            b"HTTP/1.1 abc OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
            b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 3",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffff\r\nabc",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nX: \xff\r\n\r\n",
        ] {
            assert!(
                matches!(response(raw), Err(ReplyError::Malformed(_))),
                "{:?} was accepted",
                String::from_utf8_lossy(raw)
            );
        }
    }

    /// Serves `reply` once on a free port, after reading the request (returned by the thread).
    fn serve_once(reply: impl AsRef<[u8]> + Send + 'static) -> (u16, std::thread::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let thread = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = Vec::new();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            while let Ok(Some(line)) = read_line(&mut reader) {
                request.extend_from_slice(line.as_bytes());
                request.push(b'\n');
                if line.is_empty() {
                    break;
                }
            }
            stream.write_all(reply.as_ref()).unwrap();
            String::from_utf8(request).unwrap()
        });
        (port, thread)
    }

    #[test]
    fn run_prints_the_url_then_the_matches() {
        // The body split in two chunks in the middle of a string.
        let (first, second) = r#"{"response": {"A": {"status": "DONE", "deps": ["B"]}}}"#.split_at(32);
        let reply = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n\
             {:x}\r\n{first}\r\n{:x}\r\n{second}\r\n0\r\n\r\n",
            first.len(),
            second.len()
        );
        let (port, server) = serve_once(reply);
        let args = GrepArgs {
            scheduler_host: "127.0.0.1".into(),
            scheduler_port: port,
            prefix: Some("A".into()),
            status: Some("nothing matches this".into()),
        };
        let mut out = Vec::new();
        run(&args, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!(
                "Fetching from url: http://127.0.0.1:{port}/api/graph\nA: DONE, Dependencies:\n  status=UNKNOWN\n    B\n"
            )
        );
        let request = server.join().unwrap();
        assert!(request.starts_with("GET /api/graph HTTP/1.1\nHost: 127.0.0.1:"), "{request}");
        assert!(
            request.contains("Accept-Encoding: identity\n") && request.contains("Connection: close\n"),
            "{request}"
        );
    }

    #[test]
    fn nothing_to_search_for_fetches_nothing() {
        // Port 9 (discard) is never a scheduler: fetching would fail.
        for (prefix, status) in [(None, None), (Some(""), None), (Some(""), Some(""))] {
            let args = GrepArgs {
                scheduler_host: "127.0.0.1".into(),
                scheduler_port: 9,
                prefix: prefix.map(str::to_owned),
                status: status.map(str::to_owned),
            };
            let mut out = Vec::new();
            run(&args, &mut out).unwrap();
            assert!(out.is_empty());
        }
    }

    #[test]
    fn http_errors_and_refused_connections() {
        let (port, server) = serve_once(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\noops");
        let err = fetch_graph("127.0.0.1", port).unwrap_err();
        assert!(matches!(&err, Error::Status { status: 500, body, .. } if body == "oops"), "{err}");
        server.join().unwrap();

        let (port, server) = serve_once(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}");
        assert!(matches!(fetch_graph("127.0.0.1", port), Err(Error::Decode { .. })));
        server.join().unwrap();

        let (port, server) = serve_once(b"garbage\r\n");
        assert!(matches!(fetch_graph("127.0.0.1", port), Err(Error::Protocol { .. })));
        server.join().unwrap();

        // A port nothing listens on: bind one, then free it.
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let err = fetch_graph("127.0.0.1", port).unwrap_err();
        assert!(matches!(err, Error::Transport { .. }), "{err}");
        assert!(err.to_string().contains(&format!("http://127.0.0.1:{port}/api/graph")), "{err}");
        let err = fetch_graph("host.invalid", 8082).unwrap_err();
        assert!(matches!(err, Error::Transport { .. }), "{err}");
    }

    #[test]
    fn flags_and_defaults() {
        assert_eq!(GrepArgs::try_parse_from(["grep"]).unwrap(), GrepArgs::default());
        let args = GrepArgs::try_parse_from([
            "grep",
            "--scheduler-host",
            "sched",
            "--scheduler-port",
            "9000",
            "--prefix",
            "A",
            "--status",
            "done",
        ])
        .unwrap();
        assert_eq!(
            args,
            GrepArgs {
                scheduler_host: "sched".into(),
                scheduler_port: 9000,
                prefix: Some("A".into()),
                status: Some("done".into())
            }
        );
        assert!(GrepArgs::try_parse_from(["grep", "--scheduler-port", "http"]).is_err());
    }
}
