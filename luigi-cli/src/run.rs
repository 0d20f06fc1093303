//! Running tasks: [`build`] for code, [`run_tasks`] for the command line.
//!
//! Both follow Luigi's `_schedule_and_run` (inventory §6.3): create the scheduler — the
//! in-process engine for `--local-scheduler` (with `prune_on_get_work`, as Luigi's local
//! scheduler), or the HTTP client of a `luigid` — then have one worker schedule every root task
//! and run until nothing is left, and summarise. This is the one place that wires the scheduler
//! engine into a worker (`luigi-worker` does not depend on `luigi-scheduler`). The process lock
//! and exit codes belong to the command line (`crate::command`): `build` takes no lock, as
//! Luigi's `build` defaults to `no_lock`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use luigi_core::config::{Configuration, Core, Worker as WorkerSection};
use luigi_core::param::{ParamArgs, ParamContext};
use luigi_core::rpc::SchedulerApi;
use luigi_core::{TaskParams, TaskRef};
use luigi_worker::summary::{ExecutionSummary, StatusCode, SummaryConfig};
use luigi_worker::{Worker, WorkerOptions};

use crate::progress::{Display, ProgressConfig, ProgressOptions};

/// Settings for [`build`]: Luigi's `core` parameters, read from configuration, overridable.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// `[core]`: scheduler location, workers, local scheduler...
    pub core: Core,
    /// `[worker]`.
    pub worker: WorkerSection,
    /// `[progress]`: the live progress display on a terminal (shown only when stderr is a
    /// terminal and log output is luigi's own; see `crate::progress`).
    pub progress: ProgressOptions,
}

impl BuildOptions {
    /// The configured options (config files and any global command-line flags).
    pub fn from_config() -> anyhow::Result<BuildOptions> {
        let ctx = ParamContext::global();
        Ok(BuildOptions {
            core: Core::from_args(&ctx, &ParamArgs::new()).context("invalid [core] configuration")?,
            worker: WorkerSection::from_args(&ctx, &ParamArgs::new()).context("invalid [worker] configuration")?,
            progress: ProgressOptions::from(
                &ProgressConfig::from_args(&ctx, &ParamArgs::new()).context("invalid [progress] configuration")?,
            ),
        })
    }

    /// Runs with the in-process scheduler.
    pub fn local_scheduler(mut self, local: bool) -> BuildOptions {
        self.core.local_scheduler = local;
        self
    }

    /// Shows (or never shows) the live progress display while running on a terminal.
    pub fn progress(mut self, enabled: bool) -> BuildOptions {
        self.progress.enabled = enabled;
        self
    }

    /// Runs this many tasks at once.
    pub fn workers(mut self, workers: usize) -> BuildOptions {
        self.core.workers = i64::try_from(workers).unwrap_or(i64::MAX);
        self
    }
}

/// What a run produced (Luigi's `LuigiRunResult`).
#[derive(Debug)]
pub struct RunResult {
    /// Every task was scheduled and every task this worker ran succeeded (Luigi's
    /// `scheduling_succeeded`, which despite its name is false when a task fails).
    pub success: bool,
    /// The execution summary: which tasks ran, failed or were left pending, and why
    /// ([`ExecutionSummary::tasks`] lists each category's tasks).
    pub summary: ExecutionSummary,
    /// The summary's text, as printed at the end of a command-line run.
    pub summary_text: String,
    /// The worker id.
    pub worker_id: String,
}

impl RunResult {
    /// The verdict (`:)`, `:|` or `:(` and why).
    pub fn status(&self) -> StatusCode {
        self.summary.status()
    }

    /// `This progress looks :) because there were no failed tasks or missing dependencies`.
    pub fn one_line_summary(&self) -> String {
        self.summary.one_line_summary()
    }
}

/// The scheduler a run uses.
fn scheduler(core: &Core) -> anyhow::Result<Arc<dyn SchedulerApi>> {
    if core.local_scheduler {
        let config = Configuration::global();
        // The global context carries `--scheduler-*` flags from the command line, as Luigi's
        // local scheduler reads its `scheduler` config class with the command line applied.
        let ctx = ParamContext::global();
        let section = luigi_core::config::Scheduler::from_args(&ctx, &ParamArgs::new())
            .context("invalid [scheduler] configuration")?;
        let mut engine_config = luigi_scheduler::Config::from(&section);
        engine_config.prune_on_get_work = true;
        let engine = luigi_scheduler::Scheduler::new(engine_config);
        engine.set_resources(config.int_dict("resources").context("invalid [resources] configuration")?);
        return Ok(Arc::new(engine));
    }
    let url = luigi_worker::remote::scheduler_url(core);
    let settings = luigi_core::config::RpcSettings::from_config(&Configuration::global())
        .context("invalid rpc-* options in [core]")?;
    let remote = luigi_worker::remote::connect(&url, settings)
        .with_context(|| format!("cannot use the scheduler at {url}; check [core] scheduler_url"))?;
    Ok(Arc::new(remote))
}

/// Schedules and runs `roots` with one worker, with the progress display when it is on.
pub fn run_tasks(roots: Vec<TaskRef>, options: &BuildOptions) -> anyhow::Result<RunResult> {
    let scheduler = scheduler(&options.core)?;
    let worker = Worker::new(scheduler, WorkerOptions::from_sections(&options.core, &options.worker));
    let running = AtomicBool::new(false);
    let success = std::thread::scope(|scope| {
        let display = Display::start(scope, &worker, &options.progress, &running);
        let outcome = (|| -> anyhow::Result<bool> {
            let mut success = true;
            for root in roots {
                success &= worker.add(root)?;
            }
            tracing::info!(target: "luigi-interface", "Done scheduling tasks");
            running.store(true, Ordering::SeqCst);
            Ok(success & worker.run()?)
        })();
        // The display goes before the summary is printed.
        if let Some(display) = display {
            display.finish();
        }
        outcome
    })?;
    let summary = worker.summarize();
    let worker_id = worker.id().to_owned();
    // The summary holds what it needs; the worker's bookkeeping and an in-process scheduler's
    // whole state go before the text is built, which for a million tasks is the largest
    // allocation of the run and would otherwise add to the peak.
    drop(worker);
    let length = luigi_core::config::sections::load::<SummaryConfig>().map_or(5, |section| section.summary_length);
    let summary_text = summary.text(length);
    tracing::info!(target: "luigi-interface", "{summary_text}");
    crate::logging::flush();
    Ok(RunResult { success, summary, summary_text, worker_id })
}

/// Luigi's `luigi.build(tasks, detailed_summary=True)`: schedules and runs `tasks` (with the
/// configured scheduler, or the local one via [`BuildOptions::local_scheduler`]).
pub fn build(tasks: Vec<TaskRef>, options: BuildOptions) -> anyhow::Result<RunResult> {
    run_tasks(tasks, &options)
}
