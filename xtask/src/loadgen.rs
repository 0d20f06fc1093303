//! A small HTTP/1.1 load generator speaking Luigi's RPC protocol the way Python workers do:
//! form-encoded POSTs to `/api/<method>` on keep-alive connections.
//!
//! Each connection runs a closed loop (send, read the whole reply, send the next), which is
//! how a worker behaves, and records every request's latency. All connections share one
//! single-threaded runtime, so on a 2-core machine the generator takes one core and leaves the
//! other to the server being measured.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One keep-alive connection.
pub(crate) struct Connection {
    stream: TcpStream,
    buffer: Vec<u8>,
    /// Latency of every request sent, in microseconds.
    pub(crate) latencies: Vec<u32>,
}

fn form_encode(text: &str, out: &mut String) {
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(byte as char),
            _ => {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.push('%');
                out.push(HEX[usize::from(byte >> 4)] as char);
                out.push(HEX[usize::from(byte & 15)] as char);
            }
        }
    }
}

/// Form-encodes `data=<json>` as a POST body.
pub(crate) fn form_body(json: &str) -> String {
    let mut body = String::with_capacity(json.len() * 2 + 5);
    body.push_str("data=");
    form_encode(json, &mut body);
    body
}

/// The value of `"key": "<string>"` in a JSON reply, found without parsing the whole reply (the
/// generator must stay much cheaper than the server it measures).
pub(crate) fn string_field<'a>(reply: &'a [u8], key: &str) -> Option<&'a str> {
    let text = std::str::from_utf8(reply).ok()?;
    let pattern = format!("\"{key}\": \"");
    let start = text.find(&pattern)? + pattern.len();
    let end = text[start..].find('"')? + start;
    Some(&text[start..end])
}

impl Connection {
    pub(crate) async fn open(port: u16) -> anyhow::Result<Connection> {
        let stream =
            TcpStream::connect(("127.0.0.1", port)).await.with_context(|| format!("connecting to port {port}"))?;
        stream.set_nodelay(true)?;
        Ok(Connection { stream, buffer: Vec::with_capacity(16 * 1024), latencies: Vec::new() })
    }

    /// Posts an already form-encoded body to `/api/<method>`; returns the raw reply body.
    pub(crate) async fn post(&mut self, method: &str, body: &str) -> anyhow::Result<Vec<u8>> {
        let request = format!(
            "POST /api/{method} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let started = Instant::now();
        self.stream.write_all(request.as_bytes()).await?;
        let reply = self.read_reply().await?;
        self.latencies.push(u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX));
        Ok(reply)
    }

    async fn read_reply(&mut self) -> anyhow::Result<Vec<u8>> {
        loop {
            if let Some(end) = find(&self.buffer, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buffer[..end]).to_string();
                let status = head.split(' ').nth(1).unwrap_or("");
                if status != "200" {
                    bail!("HTTP status {status}: {head}");
                }
                let length = head
                    .lines()
                    .find_map(|line| {
                        let (name, value) = line.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length").then(|| value.trim().parse::<usize>().ok())?
                    })
                    .context("reply without Content-Length")?;
                let total = end + 4 + length;
                while self.buffer.len() < total {
                    self.fill().await?;
                }
                let body = self.buffer[end + 4..total].to_vec();
                self.buffer.drain(..total);
                return Ok(body);
            }
            self.fill().await?;
        }
    }

    async fn fill(&mut self) -> anyhow::Result<()> {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk).await?;
        if n == 0 {
            bail!("the server closed the connection");
        }
        self.buffer.extend_from_slice(&chunk[..n]);
        Ok(())
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Throughput and latency of a phase.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stats {
    pub(crate) requests: usize,
    pub(crate) seconds: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
}

impl Stats {
    pub(crate) fn from_latencies(mut latencies: Vec<u32>, elapsed: Duration) -> Stats {
        latencies.sort_unstable();
        let pick = |q: f64| -> f64 {
            if latencies.is_empty() {
                return 0.0;
            }
            let idx = ((latencies.len() as f64 - 1.0) * q).round() as usize;
            f64::from(latencies[idx]) / 1000.0
        };
        Stats { requests: latencies.len(), seconds: elapsed.as_secs_f64(), p50_ms: pick(0.50), p99_ms: pick(0.99) }
    }

    pub(crate) fn rate(&self) -> f64 {
        self.requests as f64 / self.seconds.max(1e-9)
    }
}
