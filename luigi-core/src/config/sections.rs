//! Typed `[core]`, `[worker]` and `[scheduler]` sections with Luigi's option names and
//! defaults.
//!
//! They are ordinary config sections (`#[derive(Config)]`), so each option resolves like any
//! task parameter: command line (`--workers 4`, `--worker-keep-alive`, `--scheduler-retry-delay
//! 60`), then the config file (underscored or dashed spelling), then Luigi's deprecated
//! aliases (`[core] worker-ping-interval`, `default-scheduler-host`, ...), then the default.
//! `[core]` takes its flags without a prefix, as in Luigi.
//!
//! The RPC client options Luigi reads raw from `[core]` (`rpc-connect-timeout`, ...) are not
//! parameters in Luigi (they have no command-line flags), so they are a plain struct,
//! [`RpcSettings`], read from the configuration.

use std::time::Duration;

use crate::Config;
use crate::param::{self, ParamArgs, ParamContext};
use crate::task::TaskParams;

use super::{Configuration, Error};

/// `[core]`: how the `luigi` command runs (Luigi's `core` config class).
#[derive(Config, Clone, Debug, PartialEq)]
#[config(section = "core", no_cmdline_section)]
pub struct Core {
    /// Use an in-memory central scheduler. Useful for testing.
    #[param(always_in_help)]
    pub local_scheduler: bool,
    /// Hostname of machine running remote scheduler
    #[param(default = "localhost", config_path = "core.default-scheduler-host")]
    pub scheduler_host: String,
    /// Port of remote scheduler api process
    #[param(default = 8082, config_path = "core.default-scheduler-port")]
    pub scheduler_port: i64,
    /// Full path to remote scheduler
    #[param(default = "", config_path = "core.default-scheduler-url")]
    pub scheduler_url: String,
    /// Maximum number of workers running the same command
    #[param(default = 1)]
    pub lock_size: i64,
    /// Ignore if similar process is already running
    pub no_lock: bool,
    /// Directory to store the pid file
    #[param(default = default_lock_pid_dir())]
    pub lock_pid_dir: String,
    /// Signal other processes to stop getting work if already running
    pub take_lock: bool,
    /// Maximum number of parallel tasks to run
    #[param(default = 1)]
    pub workers: i64,
    /// Configuration file for logging
    #[param(default = "")]
    pub logging_conf_file: String,
    /// Default log level to use when logging_conf_file is not set
    #[param(default = "DEBUG", choices = ["NOTSET", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"])]
    pub log_level: String,
    /// Used for dynamic loading of modules
    #[param(default = "", always_in_help)]
    pub module: String,
    /// Use multiprocessing to do scheduling in parallel.
    pub parallel_scheduling: bool,
    /// The number of processes to use for scheduling in parallel. By default the number of available CPUs will be used
    #[param(default = 0)]
    pub parallel_scheduling_processes: i64,
    /// Run any task from the scheduler.
    pub assistant: bool,
    /// Show most common flags and all task-specific flags
    #[param(always_in_help)]
    pub help: bool,
    /// Show all command line flags
    #[param(always_in_help)]
    pub help_all: bool,
}

fn default_lock_pid_dir() -> String {
    std::env::temp_dir().join("luigi").to_string_lossy().into_owned()
}

/// `[worker]`: how a worker behaves (Luigi's `worker` config class).
#[derive(Config, Clone, Debug, PartialEq)]
#[config(section = "worker")]
pub struct Worker {
    /// Override the auto-generated worker_id
    #[param(default = "")]
    pub id: String,
    /// Seconds between keep-alive pings to the scheduler.
    #[param(default = 1.0, config_path = "core.worker-ping-interval")]
    pub ping_interval: f64,
    /// Stay alive while the scheduler has pending tasks.
    #[param(config_path = "core.worker-keep-alive")]
    pub keep_alive: bool,
    /// Keep a worker alive only if there are pending tasks it alone can run.
    #[param(config_path = "core.worker-count-uniques")]
    pub count_uniques: bool,
    /// Keep a worker alive only if there are pending tasks which it was the last to schedule.
    pub count_last_scheduled: bool,
    /// Seconds to wait between asking the scheduler for work.
    #[param(default = 1.0, config_path = "core.worker-wait-interval")]
    pub wait_interval: f64,
    /// Maximum extra random seconds added to wait_interval.
    #[param(default = 5.0)]
    pub wait_jitter: f64,
    /// Stop keeping alive after being idle this long (0: forever).
    #[param(default = "0")]
    pub max_keep_alive_idle_duration: chrono::TimeDelta,
    /// Times a task may be rescheduled after "unfulfilled dependencies".
    #[param(default = 1, config_path = "core.worker-max-reschedules")]
    pub max_reschedules: i64,
    /// Seconds after which a running task is killed (0: never).
    #[param(default = 0, config_path = "core.worker-timeout")]
    pub timeout: i64,
    /// Maximum number of tasks this worker schedules.
    #[param(config_path = "core.worker-task-limit")]
    pub task_limit: Option<i64>,
    /// If true, incomplete external tasks will be retested for completion while Luigi is running.
    #[param(config_path = "core.retry-external-tasks")]
    pub retry_external_tasks: bool,
    /// If true, send e-mails directly from the worker on failure
    #[param(default = true)]
    pub send_failure_email: bool,
    /// If true, the SIGUSR1 shutdown handler will NOT be installed on the worker
    pub no_install_shutdown_handler: bool,
    /// If true, check for completeness of dependencies before running a task
    #[param(default = true)]
    pub check_unfulfilled_deps: bool,
    /// If true, only mark tasks as done after running if they are complete.
    pub check_complete_on_run: bool,
    /// If true, use separate processes also when running with 1 worker
    pub force_multiprocessing: bool,
    /// A context wrapped around each task's run (Luigi takes a Python class name).
    pub task_process_context: Option<String>,
    /// If true, cache the response of successful completion checks of tasks during the run.
    pub cache_task_completion: bool,
}

/// `[scheduler]`: the scheduler's policies (Luigi's `scheduler` config class); read by
/// `luigid` and by the in-process scheduler of `--local-scheduler`.
#[derive(Config, Clone, Debug, PartialEq)]
#[config(section = "scheduler")]
pub struct Scheduler {
    /// Seconds before a FAILED task becomes PENDING again (negative: never).
    #[param(default = 900.0)]
    pub retry_delay: f64,
    /// Seconds before a task without stakeholders is removed.
    #[param(default = 600.0)]
    pub remove_delay: f64,
    /// Seconds without contact after which a worker is considered dead.
    #[param(default = 60.0)]
    pub worker_disconnect_delay: f64,
    /// Where the scheduler keeps its state.
    #[param(default = "/var/lib/luigi-server/state.pickle")]
    pub state_path: String,
    /// Send e-mails in batches rather than immediately
    pub batch_emails: bool,
    /// Seconds over which failures are counted for disabling.
    #[param(default = 3600)]
    pub disable_window: i64,
    /// Failures within disable_window that disable a task.
    #[param(default = 999999999)]
    pub retry_count: i64,
    /// Seconds after the first failure after which a failing task is disabled.
    #[param(default = 999999999)]
    pub disable_hard_timeout: i64,
    /// Seconds a scheduler-disabled task stays disabled.
    #[param(default = 86400)]
    pub disable_persist: i64,
    /// Largest task list the UI is sent.
    #[param(default = 100000)]
    pub max_shown_tasks: i64,
    /// Largest dependency graph the UI is sent.
    #[param(default = 100000)]
    pub max_graph_nodes: i64,
    /// Record task history in a database.
    pub record_task_history: bool,
    /// Prune on every get_work call (set for the local scheduler).
    pub prune_on_get_work: bool,
    /// Allow pausing the scheduler.
    #[param(default = true)]
    pub pause_enabled: bool,
    /// Allow sending messages to running tasks.
    #[param(default = true)]
    pub send_messages: bool,
    /// Which metrics collector to use.
    #[param(default = "default", choices = ["default", "none", "datadog", "prometheus", "custom"])]
    pub metrics_collector: String,
    /// The custom metrics collector, for metrics_collector = custom.
    pub metrics_custom_import: Option<String>,
    /// Sets cooldown period to avoid running the same task twice
    #[param(default = 10)]
    pub stable_done_cooldown_secs: i64,
}

macro_rules! defaults {
    ($($section:ident),*) => {
        $(
            impl $section {
                /// Luigi's defaults, ignoring configuration files and the command line.
                pub fn default_values() -> $section {
                    let ctx = ParamContext::new(std::sync::Arc::new(Configuration::new()));
                    // Every option of these sections has a valid default, checked by the tests below.
                    $section::from_args(&ctx, &ParamArgs::new()).expect("built-in defaults are valid")
                }
            }
        )*
    };
}

defaults!(Core, Worker, Scheduler);

/// Loads a config section from the process-wide context (command line and config files).
pub fn load<T: TaskParams>() -> Result<T, param::Error> {
    T::from_args(&ParamContext::global(), &ParamArgs::new())
}

/// How the worker's HTTP client talks to a remote scheduler: the `[core]` options Luigi reads
/// without declaring them as parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcSettings {
    /// Timeout of one request (`rpc-connect-timeout`, 10 s).
    pub connect_timeout: Duration,
    /// Attempts before giving up (`rpc-retry-attempts`, 3).
    pub retry_attempts: u32,
    /// Wait between attempts (`rpc-retry-wait`, 30 s).
    pub retry_wait: Duration,
    /// Whether to log retries (`rpc-log-retries`, true).
    pub log_retries: bool,
}

impl Default for RpcSettings {
    fn default() -> Self {
        RpcSettings {
            connect_timeout: Duration::from_secs(10),
            retry_attempts: 3,
            retry_wait: Duration::from_secs(30),
            log_retries: true,
        }
    }
}

impl RpcSettings {
    /// Reads the settings from `[core]`, falling back to Luigi's defaults.
    pub fn from_config(config: &Configuration) -> Result<RpcSettings, Error> {
        let defaults = RpcSettings::default();
        let timeout = config.get_float_or("core", "rpc_connect_timeout", defaults.connect_timeout.as_secs_f64())?;
        let attempts = config.get_int_or("core", "rpc_retry_attempts", i64::from(defaults.retry_attempts))?;
        let wait = config.get_float_or("core", "rpc_retry_wait", defaults.retry_wait.as_secs_f64())?;
        Ok(RpcSettings {
            connect_timeout: Duration::try_from_secs_f64(timeout).unwrap_or(defaults.connect_timeout),
            retry_attempts: u32::try_from(attempts.max(1)).unwrap_or(defaults.retry_attempts),
            retry_wait: Duration::try_from_secs_f64(wait).unwrap_or(defaults.retry_wait),
            log_retries: config.get_bool_or("core", "rpc_log_retries", defaults.log_retries)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn load_with(config: Configuration) -> (Core, Worker, Scheduler) {
        let ctx = ParamContext::new(Arc::new(config));
        let args = ParamArgs::new();
        (
            Core::from_args(&ctx, &args).unwrap(),
            Worker::from_args(&ctx, &args).unwrap(),
            Scheduler::from_args(&ctx, &args).unwrap(),
        )
    }

    #[test]
    fn defaults_are_luigis() {
        let (core, worker, scheduler) = load_with(Configuration::new());
        assert_eq!(core.scheduler_host, "localhost");
        assert_eq!(core.scheduler_port, 8082);
        assert_eq!(core.workers, 1);
        assert_eq!(core.log_level, "DEBUG");
        assert!(core.lock_pid_dir.ends_with("luigi"));
        assert_eq!(worker.ping_interval, 1.0);
        assert_eq!(worker.task_limit, None);
        assert!(worker.send_failure_email && worker.check_unfulfilled_deps && !worker.keep_alive);
        assert_eq!(worker.max_keep_alive_idle_duration, chrono::TimeDelta::zero());
        assert_eq!(scheduler.retry_delay, 900.0);
        assert_eq!(scheduler.stable_done_cooldown_secs, 10);
        assert_eq!(scheduler.metrics_collector, "default");
        assert!(scheduler.pause_enabled);
        assert_eq!(Core::family(), "core");
        assert!(!Core::use_cmdline_section());
    }

    #[test]
    fn options_and_deprecated_aliases_are_read() {
        let mut config = Configuration::new();
        config.set("core", "default-scheduler-host", "sched.example").unwrap();
        config.set("core", "worker-keep-alive", "true").unwrap();
        config.set("core", "workers", "4").unwrap();
        config.set("worker", "task_limit", "10").unwrap();
        config.set("scheduler", "retry_delay", "30").unwrap();
        let (core, worker, scheduler) = load_with(config);
        assert_eq!(core.scheduler_host, "sched.example");
        assert_eq!(core.workers, 4);
        assert!(worker.keep_alive);
        assert_eq!(worker.task_limit, Some(10));
        assert_eq!(scheduler.retry_delay, 30.0);
    }

    #[test]
    fn invalid_choice_is_rejected() {
        let mut config = Configuration::new();
        config.set("core", "log_level", "LOUD").unwrap();
        let ctx = ParamContext::new(Arc::new(config));
        assert!(Core::from_args(&ctx, &ParamArgs::new()).is_err());
    }

    #[test]
    fn rpc_settings_default_and_override() {
        assert_eq!(RpcSettings::from_config(&Configuration::new()).unwrap(), RpcSettings::default());
        let mut config = Configuration::new();
        config.set("core", "rpc-connect-timeout", "2.5").unwrap();
        config.set("core", "rpc-retry-attempts", "1").unwrap();
        let settings = RpcSettings::from_config(&config).unwrap();
        assert_eq!(settings.connect_timeout, Duration::from_millis(2500));
        assert_eq!(settings.retry_attempts, 1);
    }
}
