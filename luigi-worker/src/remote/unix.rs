//! A minimal HTTP/1.1 client over a UNIX socket, for `http+unix://` scheduler URLs.
//!
//! `ureq` only dials TCP (its pluggable connectors are an unversioned API), so this module
//! speaks just enough HTTP/1.1 for the scheduler protocol: it POSTs a form body with a
//! `Content-Length`, and reads a response delimited by `Content-Length`, by chunked transfer
//! encoding, or by the end of the connection. Connections are kept alive and reused, because a
//! worker makes many small requests; a request on a reused connection that the server had
//! already closed is sent once more on a fresh connection (only when no byte of a response came
//! back, so the server cannot have acted on it twice — it never saw it or closed the connection).
//!
//! Every read and write is bounded by one deadline for the whole exchange, the per-request
//! timeout of `rpc-connect-timeout`, and the status line, headers and body are bounded in size,
//! so a stuck or hostile server cannot hang the worker or exhaust its memory.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The largest status line plus headers accepted.
const MAX_HEAD: u64 = 64 * 1024;
/// Idle connections kept for reuse; more would only pin file descriptors on the server.
const MAX_IDLE: usize = 8;

/// Posts requests to an HTTP server listening on a UNIX socket.
pub(super) struct UnixClient {
    socket: PathBuf,
    /// The process that opened the idle connections; a forked child must not share them.
    idle: Mutex<(u32, Vec<Connection>)>,
}

/// One connection with its read buffer (which may hold nothing of a finished response).
type Connection = BufReader<DeadlineStream>;

/// The outcome of one exchange.
pub(super) struct Reply {
    /// The HTTP status.
    pub(super) status: u16,
    /// The response body.
    pub(super) body: Vec<u8>,
}

impl UnixClient {
    /// A client of the server at `socket`; connects lazily.
    pub(super) fn new(socket: &Path) -> UnixClient {
        UnixClient { socket: socket.to_owned(), idle: Mutex::new((std::process::id(), Vec::new())) }
    }

    /// POSTs `body` as a form to `path` and returns the response, within `timeout` in all.
    pub(super) fn post(
        &self,
        path: &str,
        authorization: Option<&str>,
        body: &str,
        timeout: Duration,
        max_body: u64,
    ) -> io::Result<Reply> {
        let deadline = Instant::now() + timeout;
        let request = encode_request(path, authorization, body);
        if let Some(mut connection) = self.take_idle() {
            connection.get_mut().deadline = deadline;
            match exchange(&mut connection, &request, max_body) {
                Ok((reply, reusable)) => {
                    if reusable {
                        self.put_idle(connection);
                    }
                    return Ok(reply);
                }
                // The server closed the idle connection before reading this request: resend.
                Err(Failure { error: _, response_started: false }) => {}
                Err(Failure { error, .. }) => return Err(error),
            }
        }
        let stream = UnixStream::connect(&self.socket).map_err(|err| {
            io::Error::new(err.kind(), format!("cannot connect to the UNIX socket {}: {err}", self.socket.display()))
        })?;
        let mut connection = BufReader::new(DeadlineStream { stream, deadline });
        let (reply, reusable) = exchange(&mut connection, &request, max_body).map_err(|failure| failure.error)?;
        if reusable {
            self.put_idle(connection);
        }
        Ok(reply)
    }

    fn take_idle(&self) -> Option<Connection> {
        let mut idle = self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let pid = std::process::id();
        if idle.0 != pid {
            // Forked: the connections belong to the parent; forget this copy of them.
            idle.1.clear();
            idle.0 = pid;
        }
        idle.1.pop()
    }

    fn put_idle(&self, connection: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if idle.0 == std::process::id() && idle.1.len() < MAX_IDLE {
            idle.1.push(connection);
        }
    }
}

/// A UNIX stream whose every read and write ends by `deadline`.
pub(super) struct DeadlineStream {
    stream: UnixStream,
    deadline: Instant,
}

impl DeadlineStream {
    /// The time left, or a timeout error when none is.
    fn remaining(&self) -> io::Result<Duration> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "the scheduler did not answer in time"));
        }
        Ok(left)
    }
}

/// Turns the `WouldBlock` a socket timeout produces into a clear `TimedOut`.
fn timed_out(err: io::Error) -> io::Error {
    match err.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
            io::Error::new(io::ErrorKind::TimedOut, "the scheduler did not answer in time")
        }
        _ => err,
    }
}

impl Read for DeadlineStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.remaining()?;
        self.stream.set_read_timeout(Some(left))?;
        self.stream.read(buf).map_err(timed_out)
    }
}

impl Write for DeadlineStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let left = self.remaining()?;
        self.stream.set_write_timeout(Some(left))?;
        self.stream.write(buf).map_err(timed_out)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

/// Why an exchange failed, and whether any of a response had arrived.
struct Failure {
    error: io::Error,
    response_started: bool,
}

fn encode_request(path: &str, authorization: Option<&str>, body: &str) -> Vec<u8> {
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: {}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
        super::USER_AGENT,
        body.len()
    );
    if let Some(authorization) = authorization {
        head.push_str("Authorization: ");
        head.push_str(authorization);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    let mut request = head.into_bytes();
    request.extend_from_slice(body.as_bytes());
    request
}

/// Sends `request` and reads the response; also says whether the connection can be reused.
fn exchange(connection: &mut Connection, request: &[u8], max_body: u64) -> Result<(Reply, bool), Failure> {
    let not_started = |error| Failure { error, response_started: false };
    connection.get_mut().write_all(request).map_err(not_started)?;
    connection.get_mut().flush().map_err(not_started)?;
    // A closed keep-alive connection shows as an empty read (or a reset) right here.
    match connection.fill_buf() {
        Ok([]) => {
            return Err(not_started(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the scheduler closed the connection without answering",
            )));
        }
        Ok(_) => {}
        Err(error) => return Err(not_started(error)),
    }
    read_response(connection, max_body).map_err(|error| Failure { error, response_started: true })
}

fn read_response(connection: &mut Connection, max_body: u64) -> io::Result<(Reply, bool)> {
    let mut head_budget = MAX_HEAD;
    let status_line = read_line(connection, &mut head_budget)?;
    let (http10, status) = parse_status_line(&status_line)?;
    let mut content_length = None;
    let mut chunked = false;
    let mut close = http10;
    loop {
        let line = read_line(connection, &mut head_budget)?;
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(bad_response("a header line without a colon"));
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            content_length =
                Some(value.parse::<u64>().map_err(|_| bad_response("a Content-Length that is not a number"))?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.rsplit(',').next().is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"));
        } else if name.eq_ignore_ascii_case("connection") {
            for option in value.split(',').map(str::trim) {
                if option.eq_ignore_ascii_case("close") {
                    close = true;
                } else if option.eq_ignore_ascii_case("keep-alive") && http10 {
                    close = false;
                }
            }
        }
    }
    let body = if status == 204 || status == 304 || (100..200).contains(&status) {
        Vec::new()
    } else if chunked {
        read_chunked(connection, max_body)?
    } else if let Some(length) = content_length {
        if length > max_body {
            return Err(too_large(max_body));
        }
        let mut body = Vec::with_capacity(usize::try_from(length).unwrap_or(0).min(1 << 20));
        connection.take(length).read_to_end(&mut body)?;
        if (body.len() as u64) < length {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the response body ended early"));
        }
        body
    } else {
        // Delimited by the end of the connection, which therefore cannot be reused.
        close = true;
        read_limited(connection, max_body)?
    };
    Ok((Reply { status, body }, !close))
}

/// Reads one CRLF- (or LF-) terminated line, without its terminator, charging `budget`.
fn read_line(connection: &mut Connection, budget: &mut u64) -> io::Result<String> {
    let mut line = Vec::new();
    let read = connection.take(*budget).read_until(b'\n', &mut line)?;
    *budget = budget.saturating_sub(read as u64);
    if line.last() != Some(&b'\n') {
        return Err(if read == 0 || *budget > 0 {
            io::Error::new(io::ErrorKind::UnexpectedEof, "the response ended in its headers")
        } else {
            bad_response("headers larger than 64 KiB")
        });
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    String::from_utf8(line).map_err(|_| bad_response("a header that is not UTF-8"))
}

/// `HTTP/1.1 200 OK` → (is HTTP/1.0, 200).
fn parse_status_line(line: &str) -> io::Result<(bool, u16)> {
    let mut parts = line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/1.") {
        return Err(bad_response("a status line that is not HTTP/1.x"));
    }
    let status = parts
        .next()
        .and_then(|code| code.parse::<u16>().ok())
        .filter(|code| (100..1000).contains(code))
        .ok_or_else(|| bad_response("a status line without a status code"))?;
    Ok((version == "HTTP/1.0", status))
}

fn read_chunked(connection: &mut Connection, max_body: u64) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut budget = MAX_HEAD;
        let line = read_line(connection, &mut budget)?;
        let size = line.split(';').next().unwrap_or("").trim();
        let size = u64::from_str_radix(size, 16).map_err(|_| bad_response("a chunk size that is not hex"))?;
        if size == 0 {
            // Trailers, up to the empty line.
            while !read_line(connection, &mut budget)?.is_empty() {}
            return Ok(body);
        }
        if (body.len() as u64).saturating_add(size) > max_body {
            return Err(too_large(max_body));
        }
        let before = body.len();
        connection.take(size).read_to_end(&mut body)?;
        if ((body.len() - before) as u64) < size {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the response body ended in a chunk"));
        }
        if !read_line(connection, &mut budget)?.is_empty() {
            return Err(bad_response("a chunk longer than its size"));
        }
    }
}

fn read_limited(connection: &mut Connection, max_body: u64) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    connection.take(max_body + 1).read_to_end(&mut body)?;
    if body.len() as u64 > max_body {
        return Err(too_large(max_body));
    }
    Ok(body)
}

fn bad_response(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("the scheduler sent {what}"))
}

fn too_large(max_body: u64) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("the scheduler's response is larger than {max_body} bytes"))
}

#[cfg(test)]
mod tests {
    use std::os::unix::net::UnixListener;
    use std::thread;

    use super::*;

    /// Serves each accepted connection with `serve`, on a socket in a fresh temp dir.
    fn server(
        serve: impl Fn(usize, UnixStream) + Send + 'static,
    ) -> (tempfile::TempDir, PathBuf, thread::JoinHandle<()>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let handle = thread::spawn(move || {
            for (index, stream) in listener.incoming().enumerate() {
                let Ok(stream) = stream else { return };
                serve(index, stream);
            }
        });
        (dir, path, handle)
    }

    /// Reads one request head and its Content-Length body.
    fn read_request(reader: &mut BufReader<&UnixStream>) -> Option<String> {
        let mut head = String::new();
        let mut length = 0;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).ok()? == 0 {
                return None;
            }
            if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = value.trim().parse().ok()?;
            }
            if line == "\r\n" {
                break;
            }
            head.push_str(&line);
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).ok()?;
        Some(head + &String::from_utf8(body).ok()?)
    }

    const SECOND: Duration = Duration::from_secs(5);

    #[test]
    fn chunked_and_close_delimited_bodies() {
        let (_dir, path, _server) = server(|index, stream| {
            let mut reader = BufReader::new(&stream);
            read_request(&mut reader);
            let reply: &[u8] = if index == 0 {
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\n{\"re\r\n9\r\nsponse\": \r\n6\r\nnull}\n\r\n0\r\nT: 1\r\n\r\n"
            } else {
                b"HTTP/1.0 500 Oops\r\n\r\nbroken"
            };
            (&stream).write_all(reply).unwrap();
        });
        let client = UnixClient::new(&path);
        let reply = client.post("/api/ping", None, "data=%7B%7D", SECOND, 1 << 20).unwrap();
        assert_eq!((reply.status, reply.body.as_slice()), (200, &b"{\"response\": null}\n"[..]));
        // The chunked response left the connection reusable, but this server closed it after
        // one exchange: the client notices and uses a fresh connection.
        let reply = client.post("/api/ping", None, "", SECOND, 1 << 20).unwrap();
        assert_eq!((reply.status, reply.body.as_slice()), (500, &b"broken"[..]));
    }

    #[test]
    fn keep_alive_connections_are_reused() {
        let (_dir, path, _server) = server(|index, stream| {
            let mut reader = BufReader::new(&stream);
            while let Some(request) = read_request(&mut reader) {
                let body = format!("{index} {}", request.len());
                let reply = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len());
                (&stream).write_all(reply.as_bytes()).unwrap();
            }
        });
        let client = UnixClient::new(&path);
        for _ in 0..3 {
            let reply = client.post("/api/ping", Some("Basic eDp5"), "data=1", SECOND, 1 << 20).unwrap();
            assert!(reply.body.starts_with(b"0 "), "{:?}", String::from_utf8_lossy(&reply.body));
        }
    }

    #[test]
    fn limits_and_malformed_responses() {
        let replies: [&[u8]; 6] = [
            b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort",
            b"HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n",
            b"SSH-2.0-OpenSSH\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n",
        ];
        let (_dir, path, _server) = server(move |index, stream| {
            let mut reader = BufReader::new(&stream);
            read_request(&mut reader);
            let _ = (&stream).write_all(replies[index]);
        });
        let client = UnixClient::new(&path);
        let mut errors = Vec::new();
        for _ in 0..replies.len() {
            errors.push(client.post("/", None, "", SECOND, 1000).err().unwrap().to_string());
        }
        assert!(errors[0].contains("ended early"), "{errors:?}");
        assert!(errors[1].contains("larger than 1000 bytes"), "{errors:?}");
        assert!(errors[2].contains("not HTTP/1.x"), "{errors:?}");
        assert!(errors[3].contains("without a colon"), "{errors:?}");
        assert!(errors[4].contains("not hex"), "{errors:?}");
        assert!(errors[5].contains("larger than 1000 bytes"), "{errors:?}");
    }

    #[test]
    fn a_silent_server_times_out() {
        let (_dir, path, _server) = server(|_, stream| {
            let mut reader = BufReader::new(&stream);
            read_request(&mut reader);
            // Hold the connection open without answering until the client gives up.
            let _ = reader.read_line(&mut String::new());
        });
        let started = Instant::now();
        let err = UnixClient::new(&path).post("/", None, "", Duration::from_millis(200), 1000).err().unwrap();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() < Duration::from_secs(3));
    }

    #[test]
    fn a_missing_socket_names_the_path() {
        let err =
            UnixClient::new(Path::new("/nonexistent/luigid.sock")).post("/", None, "", SECOND, 1000).err().unwrap();
        assert!(err.to_string().contains("/nonexistent/luigid.sock"), "{err}");
    }
}
