//! Measures what task history costs the scheduler: the time of each `record()` call (what the engine
//! pays while holding its lock) and how fast the writer thread drains records into the database.
//!
//! Run: `cargo run --release -p luigi-scheduler --example history_bench -- [URL] [RECORDS] [RATE]`
//!
//! - URL: an SQLAlchemy URL (default: an SQLite file in a temporary directory);
//! - RECORDS: how many records (default 100000), five events per task (PENDING, RUNNING, DONE,
//!   PENDING, DONE);
//! - RATE: records per second to offer (default 100000; 0 = as fast as possible);
//! - QUEUE: the queue size (default `[task_history] queue_size`'s default); make it at least
//!   RECORDS to measure the writer's throughput without drops.
//!
//! It prints the mean and percentiles of `record()`, how many records were dropped because the
//! queue was full, and the writer's throughput. This is a benchmark, never a test: timings depend on
//! the machine.

use std::time::{Duration, Instant};

use luigi_scheduler::history::{DbUrl, HistoryConfig, HistoryEvent, HistoryStore, HistoryTask, TaskHistory};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = tempfile::tempdir()?;
    let url = match args.first().filter(|a| !a.is_empty()) {
        Some(url) => DbUrl::parse(url)?,
        None => DbUrl::parse(&format!("sqlite:///{}", dir.path().join("bench.db").display()))?,
    };
    let records: usize = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(100_000);
    let rate: f64 = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(100_000.0);

    let mut config = HistoryConfig::new(url.clone());
    if let Some(queue) = args.get(3) {
        config.queue_size = queue.parse()?;
    }
    let store = HistoryStore::open(config)?;
    let events =
        [HistoryEvent::Pending, HistoryEvent::Running, HistoryEvent::Done, HistoryEvent::Pending, HistoryEvent::Done];
    let n_tasks = records.div_ceil(events.len());
    let stamp = std::process::id();
    // The engine hands over owned records; build them up front so only record() is timed.
    let mut work: Vec<(HistoryTask, HistoryEvent, Option<String>)> = Vec::with_capacity(records);
    for &event in &events {
        for i in 0..n_tasks {
            if work.len() == records {
                break;
            }
            let task = HistoryTask {
                task_id: format!("Bench_{stamp}_{i}"),
                family: "Bench".to_owned(),
                params: vec![("i".to_owned(), i.to_string()), ("date".to_owned(), "2026-01-15".to_owned())],
            };
            let host = (event == HistoryEvent::Running).then(|| "worker-1".to_owned());
            work.push((task, event, host));
        }
    }

    let mut times = Vec::with_capacity(records);
    let start = Instant::now();
    for (n, (task, event, host)) in work.into_iter().enumerate() {
        if rate > 0.0 {
            // Offer records at the requested rate, spinning briefly rather than sleeping coarsely.
            let due = start + Duration::from_secs_f64(n as f64 / rate);
            while Instant::now() < due {
                std::hint::spin_loop();
            }
        }
        let t = Instant::now();
        store.record(task, event, host, 1_768_478_400.0 + n as f64 * 1e-3);
        times.push(t.elapsed());
    }
    let offered = start.elapsed();
    store.flush()?;
    let drained = start.elapsed();
    let stats = store.stats();

    times.sort_unstable();
    let pct = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
    let mean = times.iter().sum::<Duration>() / times.len() as u32;
    println!("database: {url}");
    println!(
        "records: {records} ({n_tasks} tasks), offered in {offered:.2?} ({:.0}/s)",
        records as f64 / offered.as_secs_f64()
    );
    println!(
        "record(): mean {mean:?}, p50 {:?}, p99 {:?}, p99.9 {:?}, max {:?}",
        pct(0.5),
        pct(0.99),
        pct(0.999),
        times[times.len() - 1]
    );
    println!(
        "written {} / dropped {} / failed {}; all written after {drained:.2?} ({:.0} records/s end to end)",
        stats.written,
        stats.dropped,
        stats.failed,
        stats.written as f64 / drained.as_secs_f64()
    );
    Ok(())
}
