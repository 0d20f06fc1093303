//! Measures the engine alone: announce N tasks (a layered DAG like the Tree workload), then
//! run them all through get_work/add_task(DONE) as one worker would, reporting throughput and
//! memory. `cargo run --release -p luigi-scheduler --example engine_load -- 1000000`.

use std::time::Instant;

use luigi_core::TaskId;
use luigi_core::rpc::SchedulerApi;
use luigi_core::rpc::wire::{AddTaskRequest, GetWorkRequest, ParamMap, Work};
use luigi_core::status::TaskStatus;
use luigi_scheduler::{Config, Scheduler};

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .map(|l| l.split_whitespace().nth(1).unwrap_or("0").parse().unwrap_or(0))
        })
        .unwrap_or(0)
}

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let depth = 10;
    let width = (n / depth).max(1);
    let config = Config { prune_on_get_work: true, ..Config::default() };
    let scheduler = Scheduler::new(config);
    let id = |layer: usize, i: usize| TaskId::from(format!("Node_{layer}_{i}_0123456789"));
    let before = rss_kib();
    let start = Instant::now();
    for layer in (0..depth).rev() {
        for i in 0..width {
            let mut request = AddTaskRequest::new(id(layer, i), "worker-1");
            request.family = "Node".into();
            let mut params = ParamMap::new();
            params.insert("root".into(), "/tmp/x".into());
            params.insert("layer".into(), layer.to_string());
            params.insert("i".into(), i.to_string());
            request.params = Some(params);
            if layer > 0 {
                let mut deps = vec![id(layer - 1, i), id(layer - 1, (i + 1) % width)];
                if i % 2 == 0 {
                    deps.push(id(layer - 1, (i + width / 2) % width));
                }
                deps.sort();
                deps.dedup();
                request.deps = Some(deps);
            }
            scheduler.add_task(request).unwrap();
        }
    }
    let announced = start.elapsed();
    let after_add = rss_kib();
    let start = Instant::now();
    let mut done = 0;
    loop {
        let reply = scheduler.get_work(GetWorkRequest::new("worker-1")).unwrap();
        let Work::Task { task_id, .. } = reply.work else { break };
        let mut request = AddTaskRequest::new(task_id, "worker-1");
        request.status = TaskStatus::Done;
        request.runnable = None;
        scheduler.add_task(request).unwrap();
        done += 1;
    }
    let ran = start.elapsed();
    let tasks = width * depth;
    println!(
        "{tasks} tasks: announce {:.2?} ({:.0}/s), run {done} {:.2?} ({:.0} get_work+done/s), memory {:.0} B/task",
        announced,
        tasks as f64 / announced.as_secs_f64(),
        ran,
        done as f64 / ran.as_secs_f64(),
        (after_add.saturating_sub(before) * 1024) as f64 / tasks as f64
    );
}
