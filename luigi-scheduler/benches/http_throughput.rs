//! Throughput and latency of the HTTP layer alone: the `luigid` router in front of a fake
//! scheduler that answers instantly, loaded over loopback by keep-alive connections sending
//! what Python workers send (form-encoded `add_task`, `get_work` and `ping` POSTs).
//!
//! Design target (design §5): at least 50k requests/s with p99 under 5 ms on 64 connections,
//! for the whole server; the HTTP layer must leave most of that budget to the engine.
//!
//! Run: `cargo bench -p luigi-scheduler --bench http_throughput`. Environment: `BENCH_SECONDS`
//! (default 10), `BENCH_CONNECTIONS` (64), `BENCH_GZIP=1` (clients accept gzip, as Python's
//! `requests` does), `BENCH_SERVER_THREADS` (the server runtime's worker threads; default one
//! per core), `BENCH_SERVE=<port>` (only serve, for an external load generator such as `wrk`). The generator runs in the same process on its own runtime, so on a small machine
//! it competes with the server for the cores, as `wrk` would.

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use luigi_scheduler::server::{self, ListenOn, Listeners, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|value| value.parse().ok()).unwrap_or(default)
}

fn main() {
    let seconds: u64 = env("BENCH_SECONDS", 10);
    let connections: usize = env("BENCH_CONNECTIONS", 64);
    let gzip = env("BENCH_GZIP", 0u8) == 1;
    let serve_port: Option<u16> = std::env::var("BENCH_SERVE").ok().and_then(|port| port.parse().ok());

    let (_fake, api) = support::api(support::Fake::fixed());
    let app = server::app(api).build();
    let on = ListenOn::Tcp { addresses: vec!["127.0.0.1".into()], port: serve_port.unwrap_or(0) };
    let listeners = match Listeners::bind(&on, &Default::default()) {
        Ok(listeners) => listeners,
        Err(err) => {
            eprintln!("cannot bind: {err}");
            std::process::exit(1);
        }
    };
    let addr = match &listeners.addrs()[0] {
        server::BoundAddr::Tcp(addr) => *addr,
        server::BoundAddr::Unix(_) => unreachable!("bound TCP"),
    };
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = std::env::var("BENCH_SERVER_THREADS").ok().and_then(|n| n.parse().ok()) {
        builder.worker_threads(threads);
    }
    let server_runtime = builder.enable_all().build().expect("a runtime");
    let server = Server::new(listeners, app);
    if serve_port.is_some() {
        println!("serving on http://{addr} until SIGINT/SIGTERM");
        let _ = server_runtime.block_on(server.serve(server::shutdown_signal()));
        return;
    }
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    server_runtime.spawn(server.serve(async move {
        let _ = stop_rx.await;
    }));

    let client_runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("a runtime");
    let requests = Arc::new(requests(addr, gzip));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let latencies: Vec<Vec<u32>> = client_runtime.block_on(async {
        let mut tasks = Vec::new();
        for index in 0..connections {
            let requests = Arc::clone(&requests);
            tasks.push(tokio::spawn(async move { connection(addr, &requests, index, deadline).await }));
        }
        let mut all = Vec::new();
        for task in tasks {
            all.push(task.await.expect("a client task"));
        }
        all
    });
    let elapsed = started.elapsed().as_secs_f64();
    let _ = stop_tx.send(());
    let mut all: Vec<u32> = latencies.into_iter().flatten().collect();
    all.sort_unstable();
    let count = all.len();
    let percentile = |p: f64| all.get(((count as f64 * p) as usize).min(count.saturating_sub(1))).copied().unwrap_or(0);
    println!(
        "{count} requests in {elapsed:.1} s over {connections} connections (gzip accepted: {gzip}): {:.0} req/s; \
         latency p50 {} us, p99 {} us, p99.9 {} us, max {} us",
        count as f64 / elapsed,
        percentile(0.50),
        percentile(0.99),
        percentile(0.999),
        all.last().copied().unwrap_or(0)
    );
}

/// The request mix of a busy worker: mostly `get_work` and `add_task`, some `ping`.
fn requests(addr: std::net::SocketAddr, gzip: bool) -> Vec<Vec<u8>> {
    let accept = if gzip { "Accept-Encoding: gzip, deflate\r\n" } else { "" };
    let bodies = [
        (
            "add_task",
            r#"{"task_id": "Leaf_42_f4fe3360f0", "status": "PENDING", "runnable": true, "deps": [], "new_deps": null, "expl": null, "resources": {}, "priority": 0, "family": "Leaf", "module": "wl", "params": {"root": "/tmp/x", "i": "42"}, "param_visibilities": {"root": 0, "i": 0}, "accepts_messages": false, "assistant": false, "tracking_url": null, "worker": "Worker(salt=1, workers=1, host=h, username=u, pid=1)", "batchable": false, "batch_id": null, "retry_policy_dict": {"retry_count": null, "disable_hard_timeout": null, "disable_window": null}, "owners": []}"#,
        ),
        (
            "get_work",
            r#"{"worker": "Worker(salt=1, workers=1, host=h, username=u, pid=1)", "current_tasks": [], "assistant": false, "host": "h"}"#,
        ),
        ("ping", r#"{"worker": "Worker(salt=1, workers=1, host=h, username=u, pid=1)"}"#),
    ];
    bodies
        .iter()
        .map(|(method, data)| {
            let body = format!("data={}", support::form_encode(data));
            format!(
                "POST /api/{method} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: python-requests/2.32\r\n{accept}\
                 Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .into_bytes()
        })
        .collect()
}

/// One keep-alive connection sending requests back to back until `deadline`; returns the
/// latency of each, in microseconds.
async fn connection(addr: std::net::SocketAddr, requests: &[Vec<u8>], index: usize, deadline: Instant) -> Vec<u32> {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let mut latencies = Vec::with_capacity(100_000);
    let mut buffer = vec![0u8; 64 * 1024];
    let mut turn = index;
    while Instant::now() < deadline {
        // Two get_work and two add_task per ping.
        let request = &requests[[0, 1, 0, 1, 2][turn % 5]];
        turn += 1;
        let sent = Instant::now();
        stream.write_all(request).await.expect("write");
        let mut filled = 0;
        loop {
            let read = stream.read(&mut buffer[filled..]).await.expect("read");
            assert!(read > 0, "the server closed the connection");
            filled += read;
            if let Some(total) = complete_length(&buffer[..filled]) {
                assert!(buffer.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&buffer[..filled]));
                assert_eq!(filled, total, "one reply at a time");
                break;
            }
        }
        latencies.push(u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX));
    }
    latencies
}

/// The length of a complete reply in `bytes` (headers plus Content-Length), once it is complete.
fn complete_length(bytes: &[u8]) -> Option<usize> {
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&bytes[..end]).ok()?;
    let length: usize = head
        .split("\r\n")
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length").then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    (bytes.len() >= end + length).then_some(end + length)
}
