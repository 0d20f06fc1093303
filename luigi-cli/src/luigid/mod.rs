//! `luigid`, the central scheduler daemon: its command line, start-up and shutdown.
//!
//! [`run`] does what Python's `luigid` does, in this order: read the configuration (Luigi's
//! discovery: `/etc/luigi`, `luigi.cfg` in the working directory, `LUIGI_CONFIG_PATH`), apply
//! `--state-path`, refuse to start if `--pidfile` names a live process, detach with
//! `--background`, configure logging, write the pid file, bind the listen addresses, build the
//! scheduler, serve until SIGTERM/SIGINT/SIGQUIT, then let the scheduler flush its state and
//! remove the pid file.
//!
//! The scheduling engine is not wired here: the caller passes `make_api`, which receives a
//! [`LuigidContext`] (the configuration and the clock the engine must use) and returns the
//! [`LuigidServices`] to serve (the engine as `dyn SchedulerApi`, its metrics, extra routers,
//! and what to do on shutdown). That keeps this module testable with a fake scheduler and lets
//! the binary plug the real engine in.
//!
//! Key decision for `--background`: the process forks *before* any thread or the tokio runtime
//! exists (forking a multithreaded process is unsound), and the parent waits on a pipe until
//! the daemon has bound its addresses, so a port conflict or bad configuration is reported on
//! the terminal with a non-zero exit status instead of vanishing into a log file.

mod daemon;
mod engine;
mod logging;

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use clap::{ArgAction, Parser};
use luigi_core::config::Configuration;
use luigi_core::rpc::SchedulerApi;
use luigi_scheduler::clock::{Clock, ManualClock, SystemClock};
use luigi_scheduler::metrics::MetricsSource;
use luigi_scheduler::server::{
    self, BoundAddr, ListenOn, Listeners, PRUNE_INTERVAL, Router, Server, ServerConfig, ShutdownSignals,
};

pub use daemon::DEFAULT_BACKGROUND_LOGDIR;
pub use engine::services as engine_services;

/// The `luigid` program: parses the command line and serves the real scheduler until a
/// shutdown signal. Binaries (ours, and test harnesses that need their own copy) call this.
pub fn main() -> std::process::ExitCode {
    let args = LuigidArgs::parse();
    match run(args, engine::services) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("luigid: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// What can stop `luigid` from starting.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration files could not be read.
    #[error("cannot load the configuration: {0}")]
    Config(#[from] luigi_core::config::Error),
    /// The HTTP server could not be configured, bound or run.
    #[error(transparent)]
    Server(#[from] server::Error),
    /// The pid file names a process that is still running.
    #[error("luigid is already running (pid {pid} in {}); stop it first or use another --pidfile", .path.display())]
    AlreadyRunning {
        /// The running process.
        pid: i32,
        /// The pid file.
        path: PathBuf,
    },
    /// A file or directory luigid needs could not be created or written.
    #[error("cannot {action} {}: {source}", .path.display())]
    Io {
        /// What was being done ("create the log directory", ...).
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
    /// Detaching from the terminal failed.
    #[error("cannot run in the background: {0}")]
    Daemonize(String),
    /// `[core] logging_conf_file` names a file that does not exist (Python raises the same).
    #[error("[core] logging_conf_file {} does not exist; fix the path or remove the option", .0.display())]
    LoggingConfMissing(PathBuf),
    /// The tokio runtime could not be started.
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// The scheduler could not be built (`make_api` failed).
    #[error("cannot start the scheduler: {0:#}")]
    Scheduler(anyhow::Error),
}

/// The `luigid` command line (Python luigid's flags, plus repeatable `--address`).
#[derive(Debug, Clone, PartialEq, Eq, Parser)]
#[command(name = "luigid", about = "The luigi-rs central scheduler", version)]
pub struct LuigidArgs {
    /// Detach from the terminal and run as a daemon
    #[arg(long)]
    pub background: bool,
    /// Refuse to start if PATH names a running process; write our pid there
    #[arg(long, value_name = "PATH")]
    pub pidfile: Option<PathBuf>,
    /// Log to DIR/luigi-server.log (default with --background: /var/log/luigi)
    #[arg(long, value_name = "DIR")]
    pub logdir: Option<PathBuf>,
    /// Where the scheduler keeps its state (sets `[scheduler] state_path`)
    #[arg(long, value_name = "PATH")]
    pub state_path: Option<PathBuf>,
    /// Address to listen on; repeat or separate with commas (default: 127.0.0.1 and ::1 only;
    /// --address 0.0.0.0,:: listens on every interface like Python luigid)
    #[arg(long, value_name = "ADDR", value_delimiter = ',', action = ArgAction::Append)]
    pub address: Vec<String>,
    /// Listen on this UNIX socket instead of TCP
    #[arg(long, value_name = "PATH", conflicts_with = "address")]
    pub unix_socket: Option<PathBuf>,
    /// TCP port to listen on
    #[arg(long, value_name = "N", default_value_t = server::DEFAULT_PORT)]
    pub port: u16,
    /// Drive the scheduler's clock over HTTP (POST /_testing/clock); for test suites only.
    #[arg(long, hide = true)]
    pub test_clock: bool,
}

impl LuigidArgs {
    /// Where to listen, from `--unix-socket`, `--address` and `--port`.
    pub fn listen_on(&self) -> ListenOn {
        match &self.unix_socket {
            Some(path) => ListenOn::Unix { path: path.clone() },
            None => ListenOn::Tcp {
                addresses: self.address.iter().map(|a| a.trim().to_owned()).filter(|a| !a.is_empty()).collect(),
                port: self.port,
            },
        }
    }
}

/// What `make_api` gets to build the scheduler.
#[non_exhaustive]
pub struct LuigidContext {
    /// The configuration (also installed as the process-wide one), with `--state-path`
    /// applied to `[scheduler] state_path`.
    pub config: Arc<Configuration>,
    /// The clock the engine must use: the system clock, or the test clock.
    pub clock: Arc<dyn Clock>,
    /// The manual clock behind `clock` when `--test-clock` was given.
    pub test_clock: Option<Arc<ManualClock>>,
    /// The command line.
    pub args: LuigidArgs,
    /// The server's tokio runtime, for the scheduler's own background tasks (periodic
    /// snapshots, ...); they are cancelled after the server stops, before `on_shutdown` runs.
    pub runtime: tokio::runtime::Handle,
}

/// A hook that runs once the server has stopped; the engine saves its state here.
pub type ShutdownHook = Box<dyn FnOnce() -> anyhow::Result<()> + Send>;

/// What `luigid` serves, as built by `make_api`.
#[must_use]
pub struct LuigidServices {
    /// The scheduler.
    pub api: Arc<dyn SchedulerApi>,
    /// The metrics for `/metrics`, if any.
    pub metrics: Option<Arc<dyn MetricsSource>>,
    /// Extra routes (task history, the visualiser's files).
    pub routers: Vec<Router>,
    /// Runs after the server stopped serving, before `run` returns (save state here).
    pub on_shutdown: Option<ShutdownHook>,
    /// When the scheduler persists its state: replies wait until their changes are on disk.
    pub durability: Option<luigi_scheduler::persist::Durability>,
}

impl LuigidServices {
    /// Serves `api` with nothing else.
    pub fn new(api: Arc<dyn SchedulerApi>) -> LuigidServices {
        LuigidServices { api, metrics: None, routers: Vec::new(), on_shutdown: None, durability: None }
    }
}

/// Called with the bound addresses once the server is ready.
pub type ReadyHook = Box<dyn FnOnce(&[BoundAddr]) + Send>;

/// A future whose completion shuts the server down.
pub type ShutdownFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Extra control over [`run_with`], for tests and embedding.
#[derive(Default)]
#[must_use]
pub struct RunHooks {
    /// Called with the bound addresses once the server is ready for requests.
    pub on_ready: Option<ReadyHook>,
    /// Another way to shut down, besides the signals.
    pub shutdown: Option<ShutdownFuture>,
    /// The configuration to use instead of the files Luigi's discovery finds.
    pub config: Option<Configuration>,
}

/// Runs `luigid` with `args`, serving what `make_api` builds, until a shutdown signal.
///
/// With `--background` this must be called before the program starts any thread (it forks);
/// the calling (parent) process returns `Ok(())` once the daemon is serving, or the daemon's
/// start-up error.
pub fn run<F>(args: LuigidArgs, make_api: F) -> Result<(), Error>
where
    F: FnOnce(&LuigidContext) -> anyhow::Result<LuigidServices>,
{
    run_with(args, make_api, RunHooks::default())
}

/// [`run`] with [`RunHooks`].
pub fn run_with<F>(args: LuigidArgs, make_api: F, mut hooks: RunHooks) -> Result<(), Error>
where
    F: FnOnce(&LuigidContext) -> anyhow::Result<LuigidServices>,
{
    let mut config = match hooks.config.take() {
        Some(config) => config,
        None => Configuration::load()?,
    };
    if let Some(state_path) = &args.state_path {
        config.set("scheduler", "state_path", state_path.to_string_lossy())?;
    }
    let config = Arc::new(config);
    Configuration::set_global(Arc::clone(&config));
    let server_config = ServerConfig::from_config(&config)?;
    if let Some(pidfile) = &args.pidfile {
        daemon::check_pidfile(pidfile)?;
    }
    let mut readiness = None;
    let mut log_dir = args.logdir.clone();
    if args.background {
        let dir = args.logdir.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_BACKGROUND_LOGDIR));
        match daemon::daemonize(&dir)? {
            daemon::Forked::Parent(result) => return result,
            daemon::Forked::Daemon(pipe) => readiness = Some(pipe),
        }
        log_dir = Some(dir);
    }
    let result = serve(args, config, server_config, log_dir, make_api, hooks, &mut readiness);
    if let (Err(err), Some(pipe)) = (&result, readiness.take()) {
        pipe.fail(&err.to_string());
    }
    result
}

/// Everything after the fork.
fn serve<F>(
    args: LuigidArgs,
    config: Arc<Configuration>,
    server_config: ServerConfig,
    log_dir: Option<PathBuf>,
    make_api: F,
    hooks: RunHooks,
    readiness: &mut Option<daemon::ReadyPipe>,
) -> Result<(), Error>
where
    F: FnOnce(&LuigidContext) -> anyhow::Result<LuigidServices>,
{
    logging::setup(&config, log_dir.as_deref())?;
    let _pidfile = args.pidfile.as_deref().map(daemon::PidFile::write).transpose()?;
    daemon::raise_open_file_limit();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(Error::Runtime)?;
    // Handle the signals from here on, before the scheduler loads its state and long before
    // readiness is announced: a SIGTERM at any later point stops the server cleanly (a signal
    // that arrives while the state loads is kept and acted on once serving starts).
    let signals = {
        let _context = runtime.enter();
        ShutdownSignals::install()
    };
    let listeners = Listeners::bind(&args.listen_on(), &server_config)?;

    let test_clock = args.test_clock.then(|| Arc::new(ManualClock::following_real_time()));
    let clock: Arc<dyn Clock> = match &test_clock {
        Some(manual) => manual.clone(),
        None => Arc::new(SystemClock),
    };
    if test_clock.is_some() {
        tracing::warn!(target: "luigi.server", "--test-clock: anyone who can reach this server can move its clock");
    }
    if let Some(auth) = &server_config.auth {
        let users: Vec<&str> = auth.user_names().collect();
        tracing::info!(target: "luigi.server", "basic authentication required; users: {}", users.join(", "));
    }
    let context =
        LuigidContext { config, clock, test_clock: test_clock.clone(), args, runtime: runtime.handle().clone() };
    let services = make_api(&context).map_err(Error::Scheduler)?;
    let LuigidServices { api, metrics, routers, on_shutdown, durability } = services;
    let mut app = server::app(Arc::clone(&api))
        .config(server_config)
        .metrics(metrics)
        .test_clock(test_clock)
        .durability(durability);
    for router in routers {
        app = app.merge(router);
    }
    let server = Server::new(listeners, app.build()).prune_every(api, PRUNE_INTERVAL);
    let addrs: Vec<String> = server.addrs().iter().map(ToString::to_string).collect();
    tracing::info!(
        target: "luigi.server",
        "Scheduler starting up: luigid {} (pid {}) listening on {}",
        env!("CARGO_PKG_VERSION"),
        std::process::id(),
        addrs.join(", ")
    );
    if let Some(on_ready) = hooks.on_ready {
        on_ready(server.addrs());
    }
    if let Some(pipe) = readiness.take() {
        pipe.ready();
    }

    let extra = hooks.shutdown;
    let result = runtime.block_on(server.serve(async move {
        match extra {
            Some(extra) => tokio::select! {
                () = signals.recv() => {}
                () = extra => {}
            },
            None => signals.recv().await,
        }
    }));
    runtime.shutdown_timeout(Duration::from_secs(5));
    tracing::info!(target: "luigi.server", "Scheduler instance shutting down");
    if let Some(on_shutdown) = on_shutdown
        && let Err(err) = on_shutdown()
    {
        tracing::error!(target: "luigi.server", "saving the scheduler state failed: {err:#}");
        result?;
        return Err(Error::Scheduler(err));
    }
    result?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<LuigidArgs, clap::Error> {
        LuigidArgs::try_parse_from(std::iter::once("luigid").chain(args.iter().copied()))
    }

    #[test]
    fn flags_are_pythons() {
        let args = parse(&[]).unwrap();
        assert_eq!(args.port, 8082);
        assert_eq!(args.listen_on(), ListenOn::Tcp { addresses: Vec::new(), port: 8082 });
        assert!(!args.background && !args.test_clock);

        let args = parse(&[
            "--background",
            "--pidfile",
            "/run/l.pid",
            "--logdir",
            "/var/log/x",
            "--state-path",
            "/tmp/s",
            "--address",
            "0.0.0.0,::",
            "--address",
            "10.0.0.1",
            "--port",
            "9000",
            "--test-clock",
        ])
        .unwrap();
        assert!(args.background && args.test_clock);
        assert_eq!(args.pidfile, Some(PathBuf::from("/run/l.pid")));
        assert_eq!(args.logdir, Some(PathBuf::from("/var/log/x")));
        assert_eq!(args.state_path, Some(PathBuf::from("/tmp/s")));
        assert_eq!(
            args.listen_on(),
            ListenOn::Tcp { addresses: vec!["0.0.0.0".into(), "::".into(), "10.0.0.1".into()], port: 9000 }
        );

        let args = parse(&["--unix-socket", "/tmp/l.sock", "--port", "1"]).unwrap();
        assert_eq!(args.listen_on(), ListenOn::Unix { path: "/tmp/l.sock".into() });
    }

    #[test]
    fn bad_flags_are_errors() {
        assert!(parse(&["--port", "eighty"]).is_err());
        assert!(parse(&["--port", "70000"]).is_err());
        assert!(parse(&["--unix-socket", "/s", "--address", "::1"]).is_err());
        assert!(parse(&["--bogus"]).is_err());
        let help = parse(&["--help"]).unwrap_err().to_string();
        assert!(help.contains("--unix-socket") && help.contains("--pidfile"), "{help}");
        assert!(!help.contains("test-clock"), "hidden: {help}");
    }
}
