//! Exit codes of the `luigi` command (Luigi's `luigi.retcodes`), configured by `[retcode]`.
//!
//! [`Retcode`] is the typed `[retcode]` section; [`Retcode::exit_code`] maps how a run ended
//! ([`Outcome`]) to the code: the lock being taken gives `already_running`, an error outside
//! any task gives `unhandled_exception`, and a finished run gives the largest code among its
//! non-empty summary categories (`missing_data` for missing external dependencies,
//! `task_failed` for failures, `already_running` for tasks run by other workers,
//! `scheduling_error`, `not_run`). When that is 0 but the root task neither completed nor was
//! already done, the code is `not_run`.
//!
//! Key decision, a deliberate difference from Luigi: the defaults are the values Luigi's
//! documentation recommends (`already_running = 10`, `missing_data = 20`, `not_run = 25`,
//! `task_failed = 30`, `scheduling_error = 35`, `unhandled_exception = 40`), not the ones
//! Luigi ships for backwards compatibility (0 for everything except `unhandled_exception =
//! 4`), so that a failed run never exits 0 unless asked to. A user who relies on Luigi's
//! codes sets them back in `[retcode]` (see [`Retcode::luigi_defaults`]).
//!
//! A second difference: [`Retcode::for_finished_run`] (what the CLI uses) gives 0 when the
//! only reasons for a code are tasks left to other workers and the root task is complete at
//! the end, so workers sharing a scheduler do not report a finished pipeline as a failure.
//!
//! Not here: acquiring the lock and catching errors, which the CLI does before asking for a
//! code, and turning the code into a process status ([`process_exit_status`]).

use luigi_core::Config;

use crate::summary::{Category, ExecutionSummary};

/// `[retcode]`: the exit code of the `luigi` command for each way a run can go wrong (Luigi's
/// `retcode` config class, with Luigi's recommended values as defaults).
#[derive(Config, Clone, Debug, PartialEq, Eq)]
#[config(section = "retcode")]
pub struct Retcode {
    /// Exit code for errors outside any task (bad command line, internal errors).
    #[param(default = 40)]
    pub unhandled_exception: i64,
    /// Exit code when external dependencies (external tasks) are missing.
    #[param(default = 20)]
    pub missing_data: i64,
    /// Exit code when a task's run failed.
    #[param(default = 30)]
    pub task_failed: i64,
    /// Exit code when the same command is already running (the process lock), or when
    /// another worker was running tasks this run needed.
    #[param(default = 10)]
    pub already_running: i64,
    /// Exit code when a task's complete() or requires() failed, or the worker's task limit
    /// was reached.
    #[param(default = 35)]
    pub scheduling_error: i64,
    /// Exit code when the scheduler did not let tasks run.
    #[param(default = 25)]
    pub not_run: i64,
}

impl Default for Retcode {
    /// The recommended codes, which are this section's defaults.
    fn default() -> Self {
        Retcode {
            unhandled_exception: 40,
            missing_data: 20,
            task_failed: 30,
            already_running: 10,
            scheduling_error: 35,
            not_run: 25,
        }
    }
}

/// How a run of the `luigi` command ended, as far as its exit code is concerned.
#[derive(Debug, Clone, Copy)]
pub enum Outcome<'a> {
    /// Another process with the same command line holds the lock.
    AlreadyRunning,
    /// An error escaped outside any task (Luigi's "Uncaught exception in luigi").
    UnhandledError,
    /// The run went through; its summary decides.
    Finished(&'a ExecutionSummary),
}

impl Retcode {
    /// The codes Python Luigi 3.8.1 ships: 0 for everything except `unhandled_exception = 4`.
    /// Failures then exit 0; use this only for exact compatibility.
    pub fn luigi_defaults() -> Retcode {
        Retcode {
            unhandled_exception: 4,
            missing_data: 0,
            task_failed: 0,
            already_running: 0,
            scheduling_error: 0,
            not_run: 0,
        }
    }

    /// The exit code for `outcome`.
    pub fn exit_code(&self, outcome: Outcome<'_>) -> i64 {
        match outcome {
            Outcome::AlreadyRunning => self.already_running,
            Outcome::UnhandledError => self.unhandled_exception,
            Outcome::Finished(summary) => self.for_summary(summary),
        }
    }

    /// The exit code of a finished run: the largest code whose category is not empty (0 when
    /// none is, and never below 0), or `not_run` when that is 0 and the root task did not
    /// complete and was not already done.
    pub fn for_summary(&self, summary: &ExecutionSummary) -> i64 {
        let code = [
            (self.missing_data, Category::StillPendingExt),
            (self.task_failed, Category::Failed),
            (self.already_running, Category::RunByOtherWorker),
            (self.scheduling_error, Category::SchedulingError),
            (self.not_run, Category::NotRun),
        ]
        .into_iter()
        .map(|(code, category)| if summary.is_empty(category) { 0 } else { code })
        .max()
        .unwrap_or(0);
        if code == 0 && !summary.root_is_done() { self.not_run } else { code }
    }
}

impl Retcode {
    /// The exit code of a finished run, given a way to ask whether its root task is complete
    /// now: [`Retcode::for_summary`], except that when the only reasons for a non-zero code are
    /// tasks left to other workers (`already_running` for tasks they were running, `not_run`
    /// for tasks the scheduler gave them) and the root task turns out complete, the code is 0.
    ///
    /// A deliberate difference from Luigi, which exits with those codes even though the
    /// pipeline is done: with non-zero defaults, every worker sharing a scheduler would
    /// otherwise report failure on a successful run. Failures, scheduling errors and missing
    /// external data always keep their codes. `root_complete` is only called when it matters.
    pub fn for_finished_run(&self, summary: &ExecutionSummary, root_complete: impl FnOnce() -> bool) -> i64 {
        let code = self.for_summary(summary);
        if code == 0 {
            return 0;
        }
        let problems = [
            (self.missing_data, Category::StillPendingExt),
            (self.task_failed, Category::Failed),
            (self.scheduling_error, Category::SchedulingError),
        ]
        .into_iter()
        .any(|(code, category)| code != 0 && !summary.is_empty(category));
        if !problems && root_complete() { 0 } else { code }
    }
}

/// The process exit status for a code: its low 8 bits, which is what a POSIX parent sees when
/// Python's `sys.exit(code)` exits with a code outside 0..=255 (256 → 0, -1 → 255).
pub fn process_exit_status(code: i64) -> u8 {
    (code & 0xff) as u8
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use luigi_core::TaskParams;
    use luigi_core::config::Configuration;
    use luigi_core::param::{ParamArgs, ParamContext};

    use super::*;

    fn load(config: &str, args: ParamArgs) -> Retcode {
        let mut configuration = Configuration::new();
        configuration.read_str(config, std::path::Path::new("luigi.cfg")).unwrap();
        Retcode::from_args(&ParamContext::new(Arc::new(configuration)), &args).unwrap()
    }

    #[test]
    fn defaults_are_the_recommended_codes() {
        assert_eq!(load("", ParamArgs::new()), Retcode::default());
        assert_eq!(Retcode::family(), "retcode");
    }

    #[test]
    fn codes_come_from_the_config_file_and_the_command_line() {
        let retcode = load("[retcode]\ntask_failed = 3\nmissing-data = 0\n", ParamArgs::new());
        assert_eq!((retcode.task_failed, retcode.missing_data, retcode.not_run), (3, 0, 25));
        let mut configuration = Configuration::new();
        configuration.read_str("[retcode]\ntask_failed = 3\n", std::path::Path::new("luigi.cfg")).unwrap();
        let mut ctx = ParamContext::new(Arc::new(configuration));
        ctx.set_cli_value("retcode", "task_failed", "5");
        assert_eq!(Retcode::from_args(&ctx, &ParamArgs::new()).unwrap().task_failed, 5);
    }

    #[test]
    fn lock_and_errors_have_their_own_codes() {
        let retcode = Retcode::default();
        assert_eq!(retcode.exit_code(Outcome::AlreadyRunning), 10);
        assert_eq!(retcode.exit_code(Outcome::UnhandledError), 40);
        let luigi = Retcode::luigi_defaults();
        assert_eq!(luigi.exit_code(Outcome::AlreadyRunning), 0);
        assert_eq!(luigi.exit_code(Outcome::UnhandledError), 4);
    }

    /// The cases of Luigi's `retcodes_test.py`, replayed as the worker records them.
    mod luigi_cases {
        use luigi_core::rpc::wire::RunningTask;
        use luigi_core::status::TaskStatus::{self, Done, Failed, Pending, Unknown};
        use luigi_core::{Task, TaskRef};

        use super::*;
        use crate::summary::History;

        macro_rules! tasks {
            ($($task:ident $(=> $dep:ident)?),* $(,)?) => {$(
                #[derive(Task, Clone, Debug)]
                struct $task;

                impl Task for $task {
                    type Requires = Vec<TaskRef>;
                    type Output = ();
                    fn requires(&self) -> Vec<TaskRef> {
                        vec![$(TaskRef::new($dep))?]
                    }
                    fn output(&self) {}
                }
            )*};
        }

        tasks!(FailingTask, MissingDataTask, AlreadyRunningTask, FailingComplete, TaskB, TaskA => TaskB);
        tasks!(RequiresFailingComplete => FailingComplete, TaskLimitTest => TaskA, RequiresTaskA => TaskA);

        #[derive(Task, Clone, Debug)]
        struct RequiringTask;

        impl Task for RequiringTask {
            type Requires = (FailingTask, MissingDataTask);
            type Output = ();
            fn requires(&self) -> Self::Requires {
                (FailingTask, MissingDataTask)
            }
            fn output(&self) {}
        }

        fn summary(records: &[(TaskRef, TaskStatus, bool)], blocked_by: Option<&str>) -> ExecutionSummary {
            let mut history = History::new("me");
            for (task, status, runnable) in records {
                history.record_add_task(task, *status, *runnable);
            }
            let running: Vec<RunningTask> = blocked_by
                .into_iter()
                .map(|worker| RunningTask {
                    task_id: records[0].0.id().clone(),
                    worker: worker.to_owned(),
                    info: Default::default(),
                })
                .collect();
            history.record_get_work(None, &running);
            history.summarize()
        }

        fn with(change: impl FnOnce(&mut Retcode)) -> Retcode {
            let mut retcode = Retcode::luigi_defaults();
            change(&mut retcode);
            retcode
        }

        #[test]
        fn task_failed() {
            let task = TaskRef::new(FailingTask);
            let run = summary(&[(task.clone(), Pending, true), (task, Failed, false)], None);
            assert_eq!(Retcode::luigi_defaults().for_summary(&run), 0);
            assert_eq!(with(|r| r.task_failed = 5).for_summary(&run), 5);
            assert_eq!(Retcode::default().for_summary(&run), 30);
        }

        #[test]
        fn missing_data() {
            let run = summary(&[(TaskRef::new(MissingDataTask), Pending, false)], None);
            assert_eq!(Retcode::luigi_defaults().for_summary(&run), 0);
            assert_eq!(with(|r| r.missing_data = 5).for_summary(&run), 5);
            assert_eq!(Retcode::default().for_summary(&run), 20);
        }

        #[test]
        fn already_running() {
            let run = summary(&[(TaskRef::new(AlreadyRunningTask), Pending, true)], Some("not me :)"));
            assert_eq!(Retcode::luigi_defaults().for_summary(&run), 0);
            assert_eq!(with(|r| r.already_running = 5).for_summary(&run), 5);
            assert_eq!(Retcode::default().for_summary(&run), 10);
        }

        #[test]
        fn failure_in_complete_or_requires() {
            let requiring = TaskRef::new(RequiresFailingComplete);
            let run = summary(&[(requiring, Pending, true), (TaskRef::new(FailingComplete), Unknown, false)], None);
            assert_eq!(Retcode::luigi_defaults().for_summary(&run), 0);
            assert_eq!(Retcode::default().for_summary(&run), 35);
            let run = summary(&[(TaskRef::new(FailingTask), Unknown, false)], None);
            assert_eq!(Retcode::luigi_defaults().for_summary(&run), 0);
            assert_eq!(Retcode::default().for_summary(&run), 35);
        }

        #[test]
        fn task_limit() {
            let records = [
                (TaskRef::new(TaskLimitTest), Pending, true),
                (TaskRef::new(TaskA), Pending, true),
                (TaskRef::new(TaskB), Unknown, false),
            ];
            let run = summary(&records, None);
            assert_eq!(Retcode::luigi_defaults().for_summary(&run), 0);
            assert_eq!(with(|r| r.scheduling_error = 3).for_summary(&run), 3);
        }

        #[test]
        fn mixed_errors_take_the_largest_code() {
            let failing = TaskRef::new(FailingTask);
            let records = [
                (TaskRef::new(RequiringTask), Pending, true),
                (failing.clone(), Pending, true),
                (TaskRef::new(MissingDataTask), Pending, false),
                (failing, Failed, false),
            ];
            let run = summary(&records, None);
            let codes = |task_failed, missing_data| {
                with(|r| (r.task_failed, r.missing_data) = (task_failed, missing_data)).for_summary(&run)
            };
            assert_eq!(codes(4, 5), 5);
            assert_eq!(codes(7, 6), 7);
            assert_eq!(Retcode::default().for_summary(&run), 30);
        }

        #[test]
        fn unknown_reason() {
            let records = [(TaskRef::new(RequiresTaskA), Pending, true), (TaskRef::new(TaskA), Done, false)];
            let run = summary(&records, None);
            assert_eq!(Retcode::luigi_defaults().for_summary(&run), 0);
            assert_eq!(with(|r| r.not_run = 5).for_summary(&run), 5);
        }

        #[test]
        fn success_after_a_retry_is_success() {
            let task = TaskRef::new(FailingTask);
            let records = [
                (task.clone(), Pending, true),
                (task.clone(), Failed, false),
                (task.clone(), Pending, true),
                (task, Done, false),
            ];
            let run = summary(&records, None);
            assert_eq!(with(|r| r.task_failed = 5).for_summary(&run), 0);
            assert_eq!(Retcode::default().exit_code(Outcome::Finished(&run)), 0);
        }

        #[test]
        fn an_unfinished_root_without_other_reason_is_not_run() {
            // Blocked by another worker, with `already_running` set to 0: the root did not finish.
            let run = summary(&[(TaskRef::new(AlreadyRunningTask), Pending, true)], Some("other"));
            assert_eq!(with(|r| r.not_run = 25).for_summary(&run), 25);
            // Negative codes lose against the zeros of empty categories, as in Luigi's `max`.
            let task = TaskRef::new(FailingTask);
            let run = summary(&[(task.clone(), Pending, true), (task, Failed, false)], None);
            assert_eq!(with(|r| (r.task_failed, r.not_run) = (-2, 9)).for_summary(&run), 9);
            // Nothing scheduled at all (Luigi crashes here): no root, so `not_run`.
            assert_eq!(Retcode::default().for_summary(&History::new("me").summarize()), 25);
        }

        #[test]
        fn tasks_left_to_other_workers_do_not_fail_a_run_whose_root_is_complete() {
            let blocked = summary(&[(TaskRef::new(AlreadyRunningTask), Pending, true)], Some("other"));
            let codes = Retcode::default();
            assert_eq!(codes.for_finished_run(&blocked, || true), 0);
            assert_eq!(codes.for_finished_run(&blocked, || false), 10);
            let not_run =
                summary(&[(TaskRef::new(RequiresTaskA), Pending, true), (TaskRef::new(TaskA), Done, false)], None);
            assert_eq!(codes.for_finished_run(&not_run, || true), 0);
            assert_eq!(codes.for_finished_run(&not_run, || false), 25);
        }

        #[test]
        fn failures_keep_their_code_even_when_the_root_is_complete() {
            let task = TaskRef::new(FailingTask);
            let failed = summary(&[(task.clone(), Pending, true), (task, Failed, false)], Some("other"));
            let asked = std::cell::Cell::new(false);
            assert_eq!(
                Retcode::default().for_finished_run(&failed, || {
                    asked.set(true);
                    true
                }),
                30
            );
            assert!(!asked.get(), "the root need not be checked when a task failed");
            let missing = summary(&[(TaskRef::new(MissingDataTask), Pending, false)], None);
            assert_eq!(Retcode::default().for_finished_run(&missing, || true), 20);
            let success = summary(&[(TaskRef::new(TaskB), Pending, true), (TaskRef::new(TaskB), Done, false)], None);
            assert_eq!(Retcode::default().for_finished_run(&success, || panic!("not needed")), 0);
        }
    }

    #[test]
    fn process_status_keeps_the_low_byte() {
        assert_eq!(process_exit_status(30), 30);
        assert_eq!(process_exit_status(256), 0);
        assert_eq!(process_exit_status(-1), 255);
    }
}
