//! A readable text picture of the engine state, used by the data-driven engine tests to
//! snapshot what a sequence of RPCs leaves behind (statuses, workers, stakeholders, timers,
//! counters), and handy when debugging.

use std::fmt::Write;

use luigi_core::rpc::wire::Number;

use super::state::State;

fn num(value: f64) -> String {
    luigi_core::pyjson::float_repr(value)
}

/// One line per visible task, sorted by id, then one per worker, sorted by id.
pub(crate) fn snapshot(state: &State) -> String {
    let mut tasks: Vec<u32> = state.visible_tasks().collect();
    tasks.sort_by(|a, b| state.task(*a).id.cmp(&state.task(*b).id));
    let mut out = String::new();
    for t in tasks {
        let task = state.task(t);
        let ids = |list: &mut dyn Iterator<Item = u32>| -> String {
            let mut names: Vec<String> = list.map(|w| state.worker(w).id.to_string()).collect();
            names.sort();
            names.join(",")
        };
        let _ = write!(out, "task {} {}", task.id, task.status);
        if !task.family.is_empty() {
            let _ = write!(out, " family={}", task.family);
        }
        if task.priority != Number::Int(0) {
            let _ = write!(out, " priority={}", task.priority);
        }
        let _ = write!(out, " time={} updated={}", num(task.time), num(task.updated));
        if !task.deps.is_empty() {
            let mut deps: Vec<String> = task.deps.iter().map(|d| state.task(*d).id.to_string()).collect();
            deps.sort();
            let _ = write!(out, " deps={} unmet={}", deps.join(","), task.unmet);
        }
        let workers: Vec<String> = task.workers.iter().map(|w| state.worker(*w).id.to_string()).collect();
        if !workers.is_empty() {
            let _ = write!(out, " workers={}", workers.join(","));
        }
        if !task.stakeholders.is_empty() {
            let _ = write!(out, " stake={}", ids(&mut task.stakeholders.iter()));
        }
        if let Some(runner) = &task.worker_running {
            let _ = write!(out, " running={runner}");
        }
        if let Some(retry) = task.retry {
            let _ = write!(out, " retry={}", num(retry));
        }
        if let Some(remove) = task.remove {
            let _ = write!(out, " remove={}", num(remove));
        }
        if let Some(at) = task.scheduler_disable_time {
            let _ = write!(out, " disabled_at={}", num(at));
        }
        if let Some(failures) = &task.failures {
            let _ = write!(out, " failures={}", failures.times.len());
        }
        if let Some(batch) = &task.batch_id {
            let _ = write!(out, " batch={}", &batch[..batch.len().min(8)]);
        }
        if !task.resources_is_empty() {
            let resources: Vec<String> = task.resources_map().iter().map(|(k, v)| format!("{k}:{v}")).collect();
            let _ = write!(out, " resources={}", resources.join(","));
        }
        out.push('\n');
    }
    let mut workers: Vec<u32> = state.worker_indices().collect();
    workers.sort_by(|a, b| state.worker(*a).id.cmp(&state.worker(*b).id));
    for w in workers {
        let worker = state.worker(w);
        let ready: Vec<String> = worker.ready.iter().map(|r| state.task(r.task).id.to_string()).collect();
        let _ = write!(
            out,
            "worker {} {} last_active={} pending={} unique={} last={}",
            worker.id,
            if worker.disabled { "disabled" } else { "active" },
            num(worker.last_active),
            worker.n_pending,
            worker.n_unique,
            worker.n_last
        );
        if !ready.is_empty() {
            let _ = write!(out, " ready={}", ready.join(","));
        }
        out.push('\n');
    }
    out
}
