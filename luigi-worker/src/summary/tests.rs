//! Unit tests of the summary on hand-built histories: the cases of Luigi's
//! `execution_summary_test.py` replayed as the worker would record them (expected texts are
//! Luigi's), plus edge cases Luigi's tests do not reach. `tests/summary.rs` checks the same
//! code against runs of real Python Luigi.

use luigi_core::rpc::wire::RunningTask;
use luigi_core::status::TaskStatus::{self, Disabled, Done, Failed, Pending, Unknown};
use luigi_core::{Task, TaskId, TaskRef};

use super::*;

macro_rules! leaves {
    ($($task:ty),* $(,)?) => {$(
        impl Task for $task {
            type Requires = ();
            type Output = ();
            fn requires(&self) {}
            fn output(&self) {}
        }
    )*};
}

macro_rules! requires {
    ($task:ty => $req:ty, |$this:ident| $body:expr) => {
        impl Task for $task {
            type Requires = $req;
            type Output = ();
            #[allow(unused_variables)]
            fn requires(&self) -> $req {
                let $this = self;
                $body
            }
            fn output(&self) {}
        }
    };
}

#[derive(Task, Clone, Debug)]
struct Bar {
    num: i64,
}

#[derive(Task, Clone, Debug)]
#[task(family = "Bar")]
struct BarNoParams;

#[derive(Task, Clone, Debug)]
struct TwoBar {
    num: i64,
    num2: i64,
}

/// `Foo` requiring `Bar(0..5)`.
#[derive(Task, Clone, Debug)]
#[task(family = "Foo")]
struct FooOfBars;

/// `Foo` requiring the parameterless `Bar`.
#[derive(Task, Clone, Debug)]
#[task(family = "Foo")]
struct FooOfBar;

#[derive(Task, Clone, Debug)]
#[task(family = "Foo")]
struct FooAlone;

#[derive(Task, Clone, Debug)]
struct ParentTask;

#[derive(Task, Clone, Debug)]
struct LockTask;

/// A chain: `Chain(n)` requires `Chain(n + 1)` up to `len`, whose end requires `Ext`.
#[derive(Task, Clone, Debug)]
struct Chain {
    n: i64,
    len: i64,
}

#[derive(Task, Clone, Debug)]
#[task(external)]
struct Ext;

/// Two tasks requiring each other, which Luigi's search tolerates.
#[derive(Task, Clone, Debug)]
struct Ping;

#[derive(Task, Clone, Debug)]
struct Pong;

leaves!(Bar, BarNoParams, TwoBar, FooAlone, LockTask, Ext);
requires!(FooOfBars => Vec<Bar>, |this| (0..5).map(|num| Bar { num }).collect());
requires!(FooOfBar => BarNoParams, |this| BarNoParams);
requires!(ParentTask => LockTask, |this| LockTask);
requires!(Chain => Vec<TaskRef>, |this| if this.n < this.len {
    vec![TaskRef::new(Chain { n: this.n + 1, len: this.len })]
} else {
    vec![TaskRef::new(Ext)]
});
requires!(Ping => Pong, |this| Pong);
requires!(Pong => Ping, |this| Ping);

fn bar(num: i64) -> TaskRef {
    TaskRef::new(Bar { num })
}

fn running(task: &TaskRef, worker: &str) -> RunningTask {
    RunningTask { task_id: task.id().clone(), worker: worker.to_owned(), info: Default::default() }
}

fn replay(records: &[(&TaskRef, TaskStatus, bool)]) -> History {
    let mut history = History::new("me");
    for (task, status, runnable) in records {
        history.record_add_task(task, *status, *runnable);
    }
    history
}

fn lines(text: &[&str]) -> String {
    text.join("\n")
}

fn ids(summary: &ExecutionSummary, category: Category) -> Vec<String> {
    let mut ids: Vec<String> = summary.tasks(category).map(ToString::to_string).collect();
    ids.sort();
    ids
}

#[test]
fn all_statuses() {
    let foo = TaskRef::new(FooOfBars);
    let bars: Vec<TaskRef> = (0..5).map(bar).collect();
    let mut records = vec![(&foo, Pending, true)];
    records.extend([(&bars[4], Pending, true), (&bars[3], Pending, true), (&bars[2], Pending, true)]);
    records.extend([(&bars[1], Done, false), (&bars[0], Pending, true), (&bars[0], Failed, false)]);
    records.extend([(&bars[3], Done, false), (&bars[2], Done, false), (&bars[4], Done, false)]);
    let summary = replay(&records).summarize();
    assert_eq!(ids(&summary, Category::AlreadyDone), ["Bar(num=1)"]);
    assert_eq!(ids(&summary, Category::Completed), ["Bar(num=2)", "Bar(num=3)", "Bar(num=4)"]);
    assert_eq!(ids(&summary, Category::Failed), ["Bar(num=0)"]);
    assert_eq!(ids(&summary, Category::UpstreamFailure), ["Foo()"]);
    assert!(summary.is_empty(Category::UpstreamMissingDependency));
    assert!(summary.is_empty(Category::RunByOtherWorker));
    assert!(summary.is_empty(Category::StillPendingExt));
    assert_eq!(summary.categories_of(&bars[0]), [Category::EverFailed, Category::Failed]);
    assert_eq!(summary.status(), StatusCode::Failed);
    let expected = lines(&[
        "",
        "===== Luigi Execution Summary =====",
        "",
        "Scheduled 6 tasks of which:",
        "* 1 complete ones were encountered:",
        "    - 1 Bar(num=1)",
        "* 3 ran successfully:",
        "    - 3 Bar(num=2,3,4)",
        "* 1 failed:",
        "    - 1 Bar(num=0)",
        "* 1 were left pending, among these:",
        "    * 1 had failed dependencies:",
        "        - 1 Foo()",
        "",
        "This progress looks :( because there were failed tasks",
        "",
        "===== Luigi Execution Summary =====",
        "",
    ]);
    assert_eq!(summary.text(5), expected);
}

#[test]
fn check_complete_error() {
    let (foo, bar) = (TaskRef::new(FooOfBar), TaskRef::new(BarNoParams));
    let summary = replay(&[(&foo, Pending, true), (&bar, Unknown, false)]).summarize();
    assert_eq!(ids(&summary, Category::StillPendingNotExt), ["Foo()"]);
    assert_eq!(ids(&summary, Category::UpstreamSchedulingError), ["Foo()"]);
    assert_eq!(ids(&summary, Category::SchedulingError), ["Bar()"]);
    assert!(summary.is_empty(Category::NotRun));
    let expected = lines(&[
        "Scheduled 2 tasks of which:",
        "* 1 failed scheduling:",
        "    - 1 Bar()",
        "* 1 were left pending, among these:",
        "    * 1 had dependencies whose scheduling failed:",
        "        - 1 Foo()",
        "",
        "Did not run any tasks",
        "This progress looks :( because there were tasks whose scheduling failed",
    ]);
    assert_eq!(summary.body(5), expected);
}

#[test]
fn not_run_error() {
    let (foo, bar) = (TaskRef::new(FooOfBar), TaskRef::new(BarNoParams));
    let mut history = replay(&[(&foo, Pending, true), (&bar, Done, false)]);
    history.record_get_work(None, &[]);
    let summary = history.summarize();
    assert_eq!(ids(&summary, Category::NotRun), ["Foo()"]);
    assert_eq!(ids(&summary, Category::AlreadyDone), ["Bar()"]);
    assert_eq!(summary.status(), StatusCode::NotRun);
    let expected = lines(&[
        "Scheduled 2 tasks of which:",
        "* 1 complete ones were encountered:",
        "    - 1 Bar()",
        "* 1 were left pending, among these:",
        "    * 1 was not granted run permission by the scheduler:",
        "        - 1 Foo()",
        "",
        "Did not run any tasks",
        "This progress looks :| because there were tasks that were not granted run permission by the scheduler",
    ]);
    assert_eq!(summary.body(5), expected);
}

#[test]
fn deps_error() {
    let foo = TaskRef::new(FooAlone);
    let summary = replay(&[(&foo, Unknown, false)]).summarize();
    let expected = lines(&[
        "Scheduled 1 tasks of which:",
        "* 1 failed scheduling:",
        "    - 1 Foo()",
        "",
        "Did not run any tasks",
        "This progress looks :( because there were tasks whose scheduling failed",
    ]);
    assert_eq!(summary.body(5), expected);
    assert_eq!(summary.status(), StatusCode::SchedulingFailed);
}

#[test]
fn summary_length_cuts_families() {
    #[derive(Task, Clone, Debug)]
    struct Biz {
        num: i64,
    }
    leaves!(Biz);

    let foo = TaskRef::new(FooAlone);
    let done: Vec<TaskRef> = (0..4).map(bar).chain([TaskRef::new(Biz { num: 1 })]).collect();
    let mut records: Vec<(&TaskRef, TaskStatus, bool)> = done.iter().map(|t| (t, Done, false)).collect();
    records.extend([(&foo, Pending, true), (&foo, Done, false)]);
    let summary = replay(&records).summarize();
    let cut = lines(&[
        "Scheduled 6 tasks of which:",
        "* 5 complete ones were encountered:",
        "    - 4 Bar(num=0...3)",
        "    ...",
        "* 1 ran successfully:",
        "    - 1 Foo()",
        "",
        "This progress looks :) because there were no failed tasks or missing dependencies",
    ]);
    assert_eq!(summary.body(1), cut);
    // Zero or less lists every family, as does a limit the families do not reach.
    let all = cut.replace("    ...", "    - 1 Biz(num=1)");
    assert_eq!(summary.body(0), all);
    assert_eq!(summary.body(-3), all);
    assert_eq!(summary.body(2), all);
}

#[test]
fn already_running() {
    let (parent, lock) = (TaskRef::new(ParentTask), TaskRef::new(LockTask));
    let mut history = replay(&[(&parent, Pending, true), (&lock, Pending, true)]);
    history.record_get_work(None, &[running(&lock, "other_worker"), running(&parent, "me")]);
    let summary = history.summarize();
    assert_eq!(ids(&summary, Category::RunByOtherWorker), ["LockTask()"]);
    assert_eq!(ids(&summary, Category::UpstreamRunByOtherWorker), ["ParentTask()"]);
    assert!(summary.is_empty(Category::NotRun));
    let expected = lines(&[
        "Scheduled 2 tasks of which:",
        "* 2 were left pending, among these:",
        "    * 1 were being run by another worker:",
        "        - 1 LockTask()",
        "    * 1 had dependencies that were being run by other worker:",
        "        - 1 ParentTask()",
        "",
        "The other workers were:",
        "    - other_worker ran 1 tasks",
        "",
        "Did not run any tasks",
        "This progress looks :) because there were no failed tasks or missing dependencies",
    ]);
    assert_eq!(summary.body(5), expected);
    assert_eq!(summary.other_workers().len(), 1);
    assert_eq!(summary.other_workers()[0].tasks, [lock]);
}

#[test]
fn records_can_be_replayed_in_bulk() {
    let (parent, lock) = (TaskRef::new(ParentTask), TaskRef::new(LockTask));
    let mut history = History::new("me");
    history.extend([
        AddTaskRecord { task: parent.clone(), status: Pending, runnable: true },
        AddTaskRecord { task: lock.clone(), status: Pending, runnable: true },
    ]);
    history.extend([
        GetWorkRecord { task_id: Some(lock.id().clone()), running_tasks: vec![running(&parent, "busy")] },
        GetWorkRecord { task_id: None, running_tasks: vec![running(&lock, "busy")] },
    ]);
    let summary = history.summarize();
    assert_eq!(ids(&summary, Category::RunByOtherWorker), ["LockTask()"]);
    assert_eq!(ids(&summary, Category::UpstreamRunByOtherWorker), ["ParentTask()"]);
    assert_eq!(history.worker_id(), "me");
    assert!(!history.is_empty());
}

#[test]
fn only_replies_without_work_from_other_workers_count() {
    let (parent, lock) = (TaskRef::new(ParentTask), TaskRef::new(LockTask));
    let mut history = replay(&[(&parent, Pending, true), (&lock, Pending, true)]);
    // A reply that handed out work, this worker's own task, and a task it never scheduled.
    history.record_get_work(Some(parent.id()), &[running(&lock, "busy")]);
    history.record_get_work(None, &[running(&lock, "me")]);
    history.record_get_work(
        None,
        &[RunningTask {
            task_id: TaskId::new("Elsewhere__99914b932b"),
            worker: "stranger".into(),
            info: Default::default(),
        }],
    );
    let summary = history.summarize();
    assert!(summary.other_workers().is_empty());
    assert!(summary.is_empty(Category::RunByOtherWorker));
    assert_eq!(ids(&summary, Category::NotRun), ["LockTask()", "ParentTask()"]);
    // The same pair reported again counts once.
    history.record_get_work(None, &[running(&lock, "busy"), running(&lock, "busy")]);
    history.record_get_work(None, &[running(&lock, "busy")]);
    let summary = history.summarize();
    assert_eq!(summary.other_workers().len(), 1);
    assert_eq!(summary.other_workers()[0].tasks.len(), 1);
}

#[test]
fn two_tasks_of_a_multi_parameter_family() {
    let foo = TaskRef::new(FooAlone);
    let two: Vec<TaskRef> = (0..2).map(|num| TaskRef::new(TwoBar { num, num2: 2 * num })).collect();
    let four: Vec<TaskRef> = (0..4).map(|num| TaskRef::new(TwoBar { num, num2: 2 * num })).collect();
    for (bars, line) in [
        (&two, "    - 2 TwoBar(num=0, num2=0) and TwoBar(num=1, num2=2)"),
        (&four, "    - 4 TwoBar(num=0, num2=0) ..."),
    ] {
        let mut records = vec![(&foo, Pending, true), (&foo, Done, false)];
        records.extend(bars.iter().flat_map(|t| [(t, Pending, true), (t, Done, false)]));
        let summary = replay(&records).summarize();
        let expected = lines(&[
            &format!("Scheduled {} tasks of which:", bars.len() + 1),
            &format!("* {} ran successfully:", bars.len() + 1),
            "    - 1 Foo()",
            line,
            "",
            "This progress looks :) because there were no failed tasks or missing dependencies",
        ]);
        assert_eq!(summary.body(5), expected);
    }
}

#[test]
fn failure_then_success_in_a_retry() {
    let foo = TaskRef::new(FooAlone);
    let summary =
        replay(&[(&foo, Pending, true), (&foo, Failed, false), (&foo, Pending, true), (&foo, Done, false)]).summarize();
    assert_eq!(ids(&summary, Category::Completed), ["Foo()"]);
    assert_eq!(ids(&summary, Category::EverFailed), ["Foo()"]);
    assert!(summary.is_empty(Category::Failed));
    assert_eq!(summary.status(), StatusCode::SuccessWithRetry);
    let body = summary.body(5);
    assert!(body.starts_with("Scheduled 1 tasks of which:\n* 1 ran successfully:\n    - 1 Foo()\n"), "{body}");
    assert!(
        body.ends_with("\n\nThis progress looks :) because there were failed tasks but they all succeeded in a retry")
    );
    assert!(!body.contains("ever failed"));
}

#[test]
fn nothing_scheduled() {
    let summary = History::new("me").summarize();
    assert_eq!(summary.status(), StatusCode::Success);
    assert_eq!(summary.root(), None);
    assert!(!summary.root_is_done());
    assert_eq!(
        summary.text(5),
        "\n===== Luigi Execution Summary =====\n\nDid not schedule any tasks\n\n===== Luigi Execution Summary =====\n"
    );
}

#[test]
fn statuses_outside_the_categories_count_nowhere() {
    let foo = TaskRef::new(FooAlone);
    let mut history = History::new("me");
    history.record_add_task(&foo, Disabled, false);
    history.record_add_task(&foo, TaskStatus::Running, false);
    let summary = history.summarize();
    assert!(Category::ALL.into_iter().all(|category| summary.is_empty(category)));
    assert_eq!(summary.all_tasks(), [foo]);
    assert_eq!(summary.body(5), "Did not schedule any tasks");
}

#[test]
fn a_task_in_two_counted_categories_counts_twice() {
    // Reported UNKNOWN, then PENDING (a second `add` that succeeded): Luigi counts it in both.
    let foo = TaskRef::new(FooAlone);
    let summary = replay(&[(&foo, Unknown, false), (&foo, Pending, true)]).summarize();
    assert_eq!(summary.scheduled_count(), 2);
    assert!(summary.body(5).starts_with("Scheduled 2 tasks of which:\n* 1 failed scheduling:"));
}

#[test]
fn long_chains_do_not_overflow_the_stack() {
    const LEN: i64 = 50_000;
    let tasks: Vec<TaskRef> = (0..=LEN).map(|n| TaskRef::new(Chain { n, len: LEN })).collect();
    let ext = TaskRef::new(Ext);
    let mut history = History::new("me");
    for task in &tasks {
        history.record_add_task(task, Pending, true);
    }
    history.record_add_task(&ext, Pending, false);
    let summary = history.summarize();
    assert_eq!(summary.count(Category::UpstreamMissingDependency), tasks.len());
    assert!(summary.is_empty(Category::NotRun));
    assert_eq!(summary.status(), StatusCode::MissingExt);
}

#[test]
fn cycles_terminate_as_in_luigi() {
    let (ping, pong) = (TaskRef::new(Ping), TaskRef::new(Pong));
    let summary = replay(&[(&ping, Pending, true), (&pong, Pending, true)]).summarize();
    assert_eq!(ids(&summary, Category::NotRun), ["Ping()", "Pong()"]);
}

#[test]
fn the_root_is_the_first_root_or_else_the_first_task() {
    let (foo, bar) = (TaskRef::new(FooOfBar), TaskRef::new(BarNoParams));
    let mut history = replay(&[(&foo, Pending, true), (&bar, Done, false)]);
    assert_eq!(history.summarize().root(), Some(&foo));
    assert!(!history.summarize().root_is_done());
    history.add_root(&bar);
    assert_eq!(history.roots(), std::slice::from_ref(&bar));
    let summary = history.summarize();
    assert_eq!(summary.root(), Some(&bar));
    assert!(summary.root_is_done());
}

#[test]
fn categories_and_status_codes_use_luigi_words() {
    assert_eq!(Category::ALL.map(Category::name)[..3], ["already_done", "completed", "ever_failed"]);
    assert_eq!(Category::NotRun.to_string(), "not_run");
    assert_eq!(Category::EverFailed.phrase(), None);
    assert_eq!(Category::StillPendingNotExt.phrase(), None);
    assert!(Category::StillPendingExt.is_pending_reason() && Category::NotRun.is_pending_reason());
    assert!(!Category::StillPendingNotExt.is_pending_reason() && !Category::SchedulingError.is_pending_reason());
    assert_eq!(
        StatusCode::MissingExt.one_line_summary(),
        "This progress looks :| because there were missing external dependencies"
    );
    assert_eq!(StatusCode::FailedAndSchedulingFailed.to_string(), "FAILED_AND_SCHEDULING_FAILED");
    assert_eq!(StatusCode::FailedAndSchedulingFailed.smiley(), ":(");
    assert!(StatusCode::SuccessWithRetry.is_success() && !StatusCode::NotRun.is_success());
    assert_eq!(SummaryConfig::default().summary_length, 5);
}

#[test]
fn summary_length_is_a_config_section() {
    use std::sync::Arc;

    use luigi_core::TaskParams;
    use luigi_core::config::Configuration;
    use luigi_core::param::{ParamArgs, ParamContext};

    let mut config = Configuration::new();
    config.read_str("[execution_summary]\nsummary_length = 1\n", std::path::Path::new("luigi.cfg")).unwrap();
    let loaded = SummaryConfig::from_args(&ParamContext::new(Arc::new(config)), &ParamArgs::new()).unwrap();
    assert_eq!(loaded.summary_length, 1);
    let default = SummaryConfig::from_args(&ParamContext::new(Arc::new(Configuration::new())), &ParamArgs::new());
    assert_eq!(default.unwrap(), SummaryConfig::default());
    assert_eq!(SummaryConfig::family(), "execution_summary");
}
