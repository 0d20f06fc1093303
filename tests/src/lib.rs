//! Shared harness for the end-to-end tests: start and kill real `luigid` processes, talk to
//! them over real HTTP, and decide when a test needs a service it cannot reach.
//!
//! The crate has its own copy of the daemon (`src/bin/luigid-under-test.rs`, which calls
//! `luigi_cli::luigid::main()`), because Cargo only exposes the binaries of the package under
//! test to its integration tests (`CARGO_BIN_EXE_*`). Tests pass that path to [`Luigid::start`].
//!
//! [`pipeline`] is the harness of the worker tests (`tests/worker_*.rs`): it runs the crate's
//! test program `src/bin/pipeline-under-test.rs` (or its Python twin) in a sandbox and reads
//! back summaries, exit codes, events and runs. [`task_outputs`] is the output those programs'
//! tasks write (a file named after the task id).
//!
//! The HTTP client here is deliberately minimal (one request per connection, `Connection:
//! close`): tests must see exactly what a worker sees, including connection failures while a
//! server is being killed, without a client library retrying behind their back.

pub mod pipeline;
pub mod task_outputs;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;

/// Whether tests must fail instead of skipping when a service is unreachable (CI sets
/// `LUIGI_TEST_REQUIRE_SERVICES=1`).
pub fn services_required() -> bool {
    std::env::var("LUIGI_TEST_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

/// Reports an unavailable service: panics when services are required, otherwise prints why
/// and returns, so the caller can skip.
pub fn unavailable(why: &str) {
    assert!(!services_required(), "required service unavailable: {why}");
    eprintln!("skipping: {why}");
}

/// A free TCP port on the loopback interface.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free loopback port")
}

/// A `luigid` process.
pub struct Luigid {
    child: Option<Child>,
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    binary: PathBuf,
    dir: PathBuf,
    args: Vec<String>,
}

impl Luigid {
    /// Starts `binary` in working directory `dir` on a free port with extra `args`, and waits
    /// until it answers.
    pub fn start(binary: &Path, dir: &Path, args: &[&str]) -> anyhow::Result<Luigid> {
        let mut luigid = Luigid {
            child: None,
            port: free_port(),
            binary: binary.to_owned(),
            dir: dir.to_owned(),
            args: args.iter().map(|a| (*a).to_owned()).collect(),
        };
        luigid.spawn()?;
        Ok(luigid)
    }

    fn spawn(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("luigid.log"))
            .context("opening luigid.log")?;
        let child = Command::new(&self.binary)
            .current_dir(&self.dir)
            .args(["--address", "127.0.0.1", "--port", &self.port.to_string()])
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", self.binary.display()))?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                bail!("luigid exited during start-up with {status}; log:\n{}", self.log());
            }
            if head(self.port).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        bail!("luigid did not answer within 30 s; log:\n{}", self.log())
    }

    /// The process's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("luigid.log")).unwrap_or_default()
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills the process with SIGKILL (no chance to save anything) and waits for it.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the process again on the same port, directory and arguments.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.kill9();
        self.spawn()
    }

    /// Calls an RPC.
    pub fn rpc(&self, method: &str, data: &Value) -> anyhow::Result<Value> {
        rpc(self.port, method, data)
    }
}

impl Drop for Luigid {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn head(port: u16) -> anyhow::Result<u16> {
    let response = request(port, "HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
    status_of(&response)
}

fn status_of(response: &str) -> anyhow::Result<u16> {
    response.split(' ').nth(1).and_then(|s| s.parse().ok()).context("malformed HTTP status line")
}

fn request(port: u16, text: &str) -> anyhow::Result<String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.write_all(text.as_bytes())?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response)
}

/// Percent-encodes a form value.
fn form_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(byte as char),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// Calls `/api/<method>` with a POST form, as Python's client does; returns `response`.
pub fn rpc(port: u16, method: &str, data: &Value) -> anyhow::Result<Value> {
    let body = format!("data={}", form_encode(&data.to_string()));
    let text = format!(
        "POST /api/{method} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let response = request(port, &text)?;
    let status = status_of(&response)?;
    let (_, payload) = response.split_once("\r\n\r\n").context("no HTTP body")?;
    if status != 200 {
        bail!("HTTP {status} from {method}: {payload}");
    }
    let decoded: Value =
        luigi_core::rpc::json::from_str(payload).with_context(|| format!("decoding {method} reply {payload}"))?;
    Ok(decoded.get("response").cloned().unwrap_or(Value::Null))
}
