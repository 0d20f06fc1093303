//! Plugs the real scheduling engine into `luigid`: policies from `[scheduler]`, capacities
//! from `[resources]`, durable state at `[scheduler] state_path` (or `--state-path`), and task
//! history when `[scheduler] record_task_history` is on (its pages are mounted either way, to
//! say clearly when it is off).
//!
//! State path rules, chosen so that an existing Python deployment can switch binaries without
//! losing anything or failing to start:
//! - an empty `state_path` runs without persistence;
//! - a Python luigid pickle at the path is left untouched, and our database goes beside it
//!   (`<path>.luigi-rs.db`), with a warning that the Python state was not imported;
//! - if the built-in default location (`/var/lib/luigi-server/...`) cannot be created (a
//!   non-root user), `luigid` warns and runs without persistence, as Python luigid runs when it
//!   cannot save; a path the user configured must work, or `luigid` refuses to start.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use luigi_core::TaskParams;
use luigi_core::param::{ParamArgs, ParamContext};
use luigi_scheduler::history::{self, HistoryConfig, HistoryStore};
use luigi_scheduler::persist::{self, Sync};
use luigi_scheduler::{Config, Scheduler};

use super::{LuigidContext, LuigidServices};

/// Python luigid's default `state_path`.
const DEFAULT_STATE_PATH: &str = "/var/lib/luigi-server/state.pickle";

/// Builds the engine for `luigid` from its configuration.
pub fn services(ctx: &LuigidContext) -> anyhow::Result<LuigidServices> {
    let params = ParamContext::new(Arc::clone(&ctx.config));
    let section = luigi_core::config::Scheduler::from_args(&params, &ParamArgs::new())
        .context("invalid [scheduler] configuration")?;
    let resources = ctx.config.int_dict("resources").context("invalid [resources] configuration")?;
    let sync = match ctx.config.get_str("luigid", "state_sync")?.as_deref() {
        None | Some("normal") => Sync::Normal,
        Some("full") => Sync::Full,
        Some(other) => anyhow::bail!("[luigid] state_sync = {other}: expected normal or full"),
    };
    let config = Config::from(&section);
    let scheduler = open(config, ctx, &section.state_path, sync)?;
    scheduler.set_resources(resources);
    let scheduler = Arc::new(scheduler);
    let durability = scheduler.durability();
    let mut services = LuigidServices::new(scheduler.clone());
    services.routers.push(luigi_scheduler::ui::router(scheduler.clone()));
    let history = match HistoryConfig::from_config(&ctx.config).context("invalid task history configuration")? {
        Some(mut history_config) => {
            history_config.clock = Arc::clone(&ctx.clock);
            let store = Arc::new(HistoryStore::open(history_config).context("cannot open the task history database")?);
            scheduler.set_history(store.clone());
            services.routers.push(history::router(store.clone()));
            Some(store)
        }
        None => {
            services.routers.push(history::disabled_router());
            None
        }
    };
    let closing = Arc::clone(&scheduler);
    services.metrics = Some(scheduler);
    services.durability = durability;
    services.on_shutdown = Some(Box::new(move || {
        closing.close();
        if let Some(store) = history {
            store.flush().context("cannot write the last task history records")?;
        }
        Ok(())
    }));
    Ok(services)
}

fn open(config: Config, ctx: &LuigidContext, state_path: &str, sync: Sync) -> anyhow::Result<Scheduler> {
    if state_path.trim().is_empty() {
        tracing::warn!(target: "luigi.server", "[scheduler] state_path is empty: scheduler state is not saved");
        return Ok(Scheduler::with_clock(config, Arc::clone(&ctx.clock)));
    }
    let mut path = PathBuf::from(state_path);
    if is_python_pickle(&path) {
        let beside = PathBuf::from(format!("{state_path}.luigi-rs.db"));
        tracing::warn!(
            target: "luigi.server",
            "{} is Python luigid's pickled state, which cannot be imported; it is left untouched and this \
             scheduler keeps its own state in {}",
            path.display(),
            beside.display()
        );
        path = beside;
    }
    match Scheduler::open_persistent(config.clone(), Arc::clone(&ctx.clock), &path, sync) {
        Ok(scheduler) => Ok(scheduler),
        Err(err @ (persist::Error::Directory { .. } | persist::Error::Sqlite { .. }))
            if state_path == DEFAULT_STATE_PATH =>
        {
            tracing::warn!(
                target: "luigi.server",
                "cannot keep scheduler state at the default location ({err}); running without saved state. \
                 Set [scheduler] state_path or --state-path to a writable file to keep state across restarts"
            );
            Ok(Scheduler::with_clock(config, Arc::clone(&ctx.clock)))
        }
        Err(err) => Err(err).context("cannot open the scheduler state"),
    }
}

fn is_python_pickle(path: &Path) -> bool {
    std::fs::read(path).ok().and_then(|bytes| bytes.first().copied()) == Some(0x80)
}
