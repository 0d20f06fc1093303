//! The execution summary and exit codes against real Python Luigi 3.8.1.
//!
//! `tests/data/summary/generate.py` ran small pipelines with Luigi and recorded, per scenario,
//! what its worker reported (`add_task` history, `get_work` replies), the static requirements
//! of every task, Luigi's summary text for several `summary_length` values, its categories,
//! status code and exit codes. Each test here declares Rust tasks with the same families,
//! typed parameters and requirements as the Python ones (checked: the ids and the `deps()`
//! must match Luigi's), replays the history into a [`History`] and checks that every output
//! is Luigi's, byte for byte.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use luigi_core::config::Configuration;
use luigi_core::param::chrono::{NaiveDate, NaiveDateTime, TimeDelta};
use luigi_core::param::{DateHour, DateMinute, Month, ParamContext, Year};
use luigi_core::registry::{Registration, Registry};
use luigi_core::rpc::wire::RunningTask;
use luigi_core::status::TaskStatus;
use luigi_core::{ParamEnum, Task, TaskId, TaskParams, TaskRef};
use luigi_worker::retcode::Retcode;
use luigi_worker::summary::{Category, History};
use serde_json::{Map, Value, json};

/// Implements `Task` with no requirements for each type.
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

/// Implements `Task` with the given requirements (`this` is `self`).
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

/// A test named after the scenario, with a registry of the scenario's task types.
macro_rules! scenario {
    ($name:ident: $($task:ty),* $(,)?) => {
        #[test]
        fn $name() {
            #[allow(unused_mut)]
            let mut registry = Registry::new();
            $({
                static REGISTRATION: Registration = Registration::task::<$task>();
                registry.add(&REGISTRATION);
            })*
            check(stringify!($name), &registry);
        }
    };
}

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/summary")
}

fn date(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).unwrap()
}

fn str_field<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key].as_str().unwrap_or_else(|| panic!("{key} is not a string in {value}"))
}

/// Replays a recorded scenario and compares everything with what Luigi produced.
fn check(name: &str, registry: &Registry) {
    let path = data_dir().join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let data: Value = serde_json::from_str(&text).unwrap();
    let ctx = ParamContext::new(Arc::new(Configuration::new()));

    let mut history = History::new(str_field(&data, "worker_id"));
    let mut tasks: HashMap<String, TaskRef> = HashMap::new();
    for record in data["add_task_history"].as_array().unwrap() {
        let family = str_field(record, "family");
        let params: Vec<(&str, &str)> =
            record["params"].as_object().unwrap().iter().map(|(k, v)| (k.as_str(), v.as_str().unwrap())).collect();
        let task = registry
            .get(family)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .from_str_params(&ctx, params)
            .unwrap_or_else(|e| panic!("{name}: cannot build {family}: {e}"));
        assert_eq!(task.id().as_str(), str_field(record, "task_id"), "{name}: task id of {family}");
        let status: TaskStatus = str_field(record, "status").parse().unwrap();
        history.record_add_task(&task, status, record["runnable"].as_bool().unwrap());
        tasks.insert(task.id().to_string(), task);
    }
    for reply in data["get_work_history"].as_array().unwrap() {
        let task_id = reply["task_id"].as_str().map(TaskId::new);
        let running: Vec<RunningTask> = reply["running_tasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| RunningTask {
                task_id: TaskId::new(str_field(r, "task_id")),
                worker: str_field(r, "worker").to_owned(),
                info: Default::default(),
            })
            .collect();
        history.record_get_work(task_id.as_ref(), &running);
    }
    for (task_id, deps) in data["deps"].as_object().unwrap() {
        let Some(deps) = deps.as_array() else { continue };
        let expected: Vec<&str> = deps.iter().map(|d| d.as_str().unwrap()).collect();
        let ours: Vec<String> = tasks[task_id].deps().iter().map(|d| d.id().to_string()).collect();
        assert_eq!(ours, expected, "{name}: requirements of {task_id}");
    }

    let summary = history.summarize();
    for (length, expected) in data["summaries"].as_object().unwrap() {
        let ours = summary.text(length.parse().unwrap());
        assert_eq!(ours, expected.as_str().unwrap(), "{name}: summary with summary_length {length}");
    }
    assert_eq!(summary.status().name(), str_field(&data, "status"), "{name}: status");
    assert_eq!(summary.one_line_summary(), summary.status().one_line_summary());
    let categories = data["categories"].as_object().unwrap();
    assert_eq!(categories.len(), Category::ALL.len(), "{name}: Luigi's categories");
    for category in Category::ALL {
        let mut ours: Vec<String> = summary.tasks(category).map(|t| t.id().to_string()).collect();
        ours.sort();
        let expected: Vec<&str> =
            categories[category.name()].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
        assert_eq!(ours, expected, "{name}: category {category}");
        assert_eq!(summary.count(category), expected.len());
        assert_eq!(summary.is_empty(category), expected.is_empty());
    }

    let retcodes = &data["retcodes"];
    match (retcodes["luigi_defaults"].as_i64(), retcodes["recommended"].as_i64()) {
        (Some(luigi), Some(recommended)) => {
            assert_eq!(Retcode::luigi_defaults().for_summary(&summary), luigi, "{name}: Luigi's exit code");
            assert_eq!(Retcode::default().for_summary(&summary), recommended, "{name}: recommended exit code");
        }
        // Luigi crashes on an empty history; with no root task done, the code is `not_run`.
        _ => {
            assert!(history.is_empty(), "{name}: Luigi only fails to give a code when nothing was scheduled");
            assert_eq!(Retcode::default().for_summary(&summary), Retcode::default().not_run);
        }
    }

    // Naming the root explicitly changes nothing: Luigi's root is the first task reported.
    if let Some(first) = summary.all_tasks().first() {
        let mut with_root = history.clone();
        with_root.add_root(first);
        let again = with_root.summarize();
        assert_eq!(again.root(), Some(first));
        assert_eq!(Retcode::default().for_summary(&again), Retcode::default().for_summary(&summary));
    }
}

#[test]
fn every_recorded_scenario_has_a_test() {
    let source = include_str!("summary.rs");
    let declared: Vec<&str> = source
        .split("scenario!(")
        .skip(1)
        .filter_map(|rest| rest.trim_start().split_once(':').map(|(name, _)| name))
        .collect();
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(data_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|ext| ext == "json") {
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            if !declared.contains(&stem.as_str()) {
                missing.push(stem);
            }
        }
    }
    assert!(missing.is_empty(), "scenarios without a test: {missing:?}");
}

// ---------------------------------------------------------------------------------------------
// Ports of luigi/test/execution_summary_test.py

mod all_statuses {
    use super::*;

    #[derive(Task, Clone, Debug)]
    struct Bar {
        num: i64,
    }

    #[derive(Task, Clone, Debug)]
    struct Foo;

    leaves!(Bar);
    requires!(Foo => Vec<Bar>, |this| (0..5).map(|num| Bar { num }).collect());
    scenario!(all_statuses: Foo, Bar);
}

mod batches {
    use super::*;

    #[derive(Task, Clone, Debug)]
    struct MaxBatchTask {
        #[param(batch_method = "max")]
        param: i64,
    }

    #[derive(Task, Clone, Debug)]
    struct MaxBatchFailTask {
        #[param(batch_method = "max")]
        param: i64,
    }

    #[derive(Task, Clone, Debug)]
    #[task(wrapper)]
    struct MaxBatches;

    #[derive(Task, Clone, Debug)]
    #[task(wrapper, family = "MaxBatches")]
    struct MaxFailBatches;

    leaves!(MaxBatchTask, MaxBatchFailTask);
    requires!(MaxBatches => Vec<MaxBatchTask>, |this| (0..5).map(|param| MaxBatchTask { param }).collect());
    requires!(MaxFailBatches => Vec<MaxBatchFailTask>, |this| (0..5).map(|param| MaxBatchFailTask { param }).collect());
    scenario!(batch_complete: MaxBatches, MaxBatchTask);
    scenario!(batch_fail: MaxFailBatches, MaxBatchFailTask);
}

/// `Foo` requires `Bar`, both without parameters.
mod foo_bar {
    use super::*;

    #[derive(Task, Clone, Debug)]
    struct Bar;

    #[derive(Task, Clone, Debug)]
    struct Foo;

    leaves!(Bar);
    requires!(Foo => Bar, |this| Bar);
    scenario!(check_complete_error: Foo, Bar);
    scenario!(not_run_error: Foo, Bar);
}

mod deps_error {
    use super::*;

    /// Its Python twin raises in `requires()`, so it is reported UNKNOWN and its
    /// requirements are never looked at.
    #[derive(Task, Clone, Debug)]
    struct Foo;

    leaves!(Foo);
    scenario!(deps_error: Foo);
}

mod config_summary_limit {
    use super::*;

    #[derive(Task, Clone, Debug)]
    struct Bar {
        num: i64,
    }

    #[derive(Task, Clone, Debug)]
    struct Biz {
        num: i64,
    }

    #[derive(Task, Clone, Debug)]
    struct Bat {
        num: i64,
    }

    #[derive(Task, Clone, Debug)]
    struct Wut {
        num: i64,
    }

    #[derive(Task, Clone, Debug)]
    struct Foo;

    leaves!(Bar, Biz, Bat, Wut);
    requires!(Foo => Vec<TaskRef>, |this| {
        let mut deps = vec![TaskRef::new(Bat { num: 1 }), TaskRef::new(Wut { num: 1 }), TaskRef::new(Biz { num: 1 })];
        deps.extend((0..4).map(|num| TaskRef::new(Bar { num })));
        deps
    });
    scenario!(config_summary_limit: Foo, Bar, Biz, Bat, Wut);
}

mod upstream_not_running {
    use super::*;

    #[derive(Task, Clone, Debug)]
    #[task(external)]
    struct ExternalBar {
        num: i64,
    }

    #[derive(Task, Clone, Debug)]
    struct Bar {
        num: i64,
    }

    #[derive(Task, Clone, Debug)]
    struct Foo;

    leaves!(ExternalBar, Bar);
    requires!(Foo => Vec<(ExternalBar, Bar)>, |this| (0..5).map(|num| (ExternalBar { num }, Bar { num })).collect());
    scenario!(upstream_not_running: Foo, ExternalBar, Bar);
}

mod already_running {
    use super::*;

    #[derive(Task, Clone, Debug)]
    struct ParentTask;

    #[derive(Task, Clone, Debug)]
    struct LockTask;

    leaves!(LockTask);
    requires!(ParentTask => LockTask, |this| LockTask);
    scenario!(already_running: ParentTask, LockTask);
}

/// One parameterless task, alone.
mod single_tasks {
    use super::*;

    #[derive(Task, Clone, Debug)]
    struct AlreadyRunningTask;

    #[derive(Task, Clone, Debug)]
    struct SomeTask;

    #[derive(Task, Clone, Debug)]
    struct Foo;

    #[derive(Task, Clone, Debug)]
    struct FailingTask;

    #[derive(Task, Clone, Debug)]
    #[task(external)]
    struct MissingDataTask;

    #[derive(Task, Clone, Debug)]
    struct FailingRequires;

    leaves!(AlreadyRunningTask, SomeTask, Foo, FailingTask, MissingDataTask, FailingRequires);
    scenario!(already_running_2: AlreadyRunningTask);
    scenario!(not_run: AlreadyRunningTask);
    scenario!(somebody_else_finish_task: SomeTask);
    scenario!(somebody_else_disables_task: SomeTask);
    scenario!(multiple_dash_dash_workers: Foo);
    scenario!(status_with_task_retry: Foo);
    scenario!(retcode_task_failed: FailingTask);
    scenario!(retcode_missing_data: MissingDataTask);
    scenario!(retcode_already_running: AlreadyRunningTask);
    scenario!(retcode_failure_in_requires: FailingRequires);
    scenario!(nothing_scheduled:);
}

mod larger_tree {
    use super::*;

    #[derive(Task, Clone, Debug)]
    struct Dog;

    #[derive(Task, Clone, Debug)]
    struct Cat {
        num: i64,
    }

    #[derive(Task, Clone, Debug)]
    struct Bar {
        num: i64,
    }

    #[derive(Task, Clone, Debug)]
    struct Foo;

    #[derive(Task, Clone, Debug)]
    #[task(external)]
    struct ExternalBar;

    leaves!(Cat, ExternalBar);
    requires!(Dog => Cat, |this| Cat { num: 2 });
    requires!(Bar => Vec<TaskRef>, |this| match this.num {
        0 => vec![TaskRef::new(ExternalBar), TaskRef::new(Cat { num: 0 })],
        1 => vec![TaskRef::new(Cat { num: 0 }), TaskRef::new(Cat { num: 1 })],
        2 => vec![TaskRef::new(Dog)],
        _ => Vec::new(),
    });
    requires!(Foo => Vec<Bar>, |this| (0..3).map(|num| Bar { num }).collect());
    scenario!(larger_tree: Foo, Bar, Dog, Cat, ExternalBar);
}

mod with_dates {
    use super::*;

    #[derive(Task, Clone, Debug)]
    struct Bar {
        date: NaiveDate,
    }

    #[derive(Task, Clone, Debug)]
    struct Foo;

    leaves!(Bar);
    requires!(Foo => Vec<Bar>, |this| (0..10).map(|i| Bar { date: date(1998, 3, 23) + TimeDelta::days(i) }).collect());
    scenario!(with_dates: Foo, Bar);
}

mod with_ranges_minutes {
    use super::*;

    #[derive(Task, Clone, Debug)]
    struct Bar {
        time: DateMinute,
    }

    #[derive(Task, Clone, Debug)]
    struct Foo;

    leaves!(Bar);
    requires!(Foo => Vec<Bar>, |this| {
        let start: NaiveDateTime = date(1998, 3, 23).and_hms_opt(1, 50, 0).unwrap();
        (0..300).map(|i| Bar { time: DateMinute::from(start + TimeDelta::minutes(i)) }).collect()
    });
    scenario!(with_ranges_minutes: Foo, Bar);
}

mod with_ranges_one_param {
    use super::*;

    #[derive(Task, Clone, Debug)]
    struct Bar {
        num: i64,
    }

    #[derive(Task, Clone, Debug)]
    struct Foo;

    leaves!(Bar);
    requires!(Foo => Vec<Bar>, |this| (0..11).map(|num| Bar { num }).collect());
    scenario!(with_ranges_one_param: Foo, Bar);
}

mod with_ranges_multiple_params {
    use super::*;

    #[derive(Task, Clone, Debug)]
    struct Bar {
        num1: i64,
        num2: i64,
        num3: i64,
    }

    #[derive(Task, Clone, Debug)]
    struct Foo;

    leaves!(Bar);
    requires!(Foo => Vec<Bar>, |this| (0..5).map(|num2| Bar { num1: 5, num2, num3: 25 }).collect());
    scenario!(with_ranges_multiple_params: Foo, Bar);
}

/// `Foo` requires `Bar(num=i, num2=2*i)` for a number of `i` that depends on the scenario.
mod two_params {
    use super::*;

    #[derive(Task, Clone, Debug)]
    struct Bar {
        num: i64,
        num2: i64,
    }

    #[derive(Task, Clone, Debug)]
    #[task(family = "Foo")]
    struct FooOfTwo;

    #[derive(Task, Clone, Debug)]
    #[task(family = "Foo")]
    struct FooOfFour;

    leaves!(Bar);
    requires!(FooOfTwo => Vec<Bar>, |this| (0..2).map(|num| Bar { num, num2: 2 * num }).collect());
    requires!(FooOfFour => Vec<Bar>, |this| (0..4).map(|num| Bar { num, num2: 2 * num }).collect());
    scenario!(with_two_tasks: FooOfTwo, Bar);
    scenario!(multiple_params_multiple_same_task_family: FooOfFour, Bar);
}

mod really_long_param_name {
    use super::*;

    #[derive(Task, Clone, Debug)]
    struct Bar {
        #[param(name = "This_is_a_really_long_parameter_that_we_should_not_print_out_because_people_will_get_annoyed")]
        long: i64,
    }

    #[derive(Task, Clone, Debug)]
    struct Foo;

    leaves!(Bar);
    requires!(Foo => Bar, |this| Bar { long: 0 });
    scenario!(really_long_param_name: Foo, Bar);
}

mod sad_smiley_face {
    use super::*;

    #[derive(Task, Clone, Debug)]
    #[task(external)]
    struct ExternalBar;

    #[derive(Task, Clone, Debug)]
    struct Bar {
        num: i64,
    }

    #[derive(Task, Clone, Debug)]
    struct Foo;

    leaves!(ExternalBar, Bar);
    requires!(Foo => (Vec<Bar>, ExternalBar), |this| ((0..5).map(|num| Bar { num }).collect(), ExternalBar));
    scenario!(sad_smiley_face: Foo, ExternalBar, Bar);
}

mod neutral_smiley_face {
    use super::*;

    #[derive(Task, Clone, Debug)]
    #[task(external)]
    struct ExternalBar;

    #[derive(Task, Clone, Debug)]
    struct Foo;

    leaves!(ExternalBar);
    requires!(Foo => ExternalBar, |this| ExternalBar);
    scenario!(neutral_smiley_face: Foo, ExternalBar);
}

mod did_not_run_any_tasks {
    use super::*;

    #[derive(Task, Clone, Debug)]
    #[task(external)]
    struct ExternalBar {
        num: i64,
    }

    #[derive(Task, Clone, Debug)]
    struct Foo;

    leaves!(ExternalBar);
    requires!(Foo => Vec<ExternalBar>, |this| (0..10).map(|num| ExternalBar { num }).collect());
    scenario!(did_not_run_any_tasks: Foo, ExternalBar);
}

mod example {
    use super::*;

    #[derive(Task, Clone, Debug)]
    #[task(external)]
    struct MyExternal;

    #[derive(Task, Clone, Debug)]
    struct Boom {
        #[param(name = "this_is_a_really_long_I_mean_way_too_long_and_annoying_parameter")]
        long: i64,
    }

    #[derive(Task, Clone, Debug)]
    struct Foo {
        num: i64,
        num2: i64,
    }

    #[derive(Task, Clone, Debug)]
    struct Bar {
        num: i64,
    }

    #[derive(Task, Clone, Debug)]
    struct DateTask {
        date: NaiveDate,
        num: i64,
    }

    #[derive(Task, Clone, Debug)]
    struct EntryPoint;

    leaves!(MyExternal, Bar);
    requires!(Boom => Vec<Bar>, |this| (5..200).map(|num| Bar { num }).collect());
    requires!(Foo => (MyExternal, Boom), |this| (MyExternal, Boom { long: 0 }));
    requires!(DateTask => (MyExternal, Boom), |this| (MyExternal, Boom { long: 0 }));
    requires!(EntryPoint => (Vec<Foo>, Vec<DateTask>), |this| (
        (0..10).map(|i| Foo { num: 100, num2: 2 * i }).collect(),
        (0..10).map(|i| DateTask { date: date(1998, 3, 23) + TimeDelta::days(i), num: 5 }).collect(),
    ));
    scenario!(example: EntryPoint, DateTask, Boom, Bar, MyExternal, Foo);
}

mod with_datehours {
    use super::*;

    #[derive(Task, Clone, Debug)]
    struct Bar {
        datehour: DateHour,
    }

    #[derive(Task, Clone, Debug)]
    struct Foo;

    leaves!(Bar);
    requires!(Foo => Vec<Bar>, |this| {
        let start = date(1998, 3, 23).and_hms_opt(5, 0, 0).unwrap();
        (0..10).map(|i| Bar { datehour: DateHour::from(start + TimeDelta::hours(i)) }).collect()
    });
    scenario!(with_datehours: Foo, Bar);
}

mod with_months {
    use super::*;

    #[derive(Task, Clone, Debug)]
    struct Bar {
        month: Month,
    }

    #[derive(Task, Clone, Debug)]
    struct Foo;

    leaves!(Bar);
    requires!(Foo => Vec<Bar>, |this| {
        (0..3).map(|i| Bar { month: Month::from_date(date(1998, 3, 23) + TimeDelta::days(30 * i)) }).collect()
    });
    scenario!(with_months: Foo, Bar);
}

mod with_uncomparable_parameters {
    use super::*;

    #[derive(ParamEnum, Clone, Copy, Debug)]
    #[param(rename_all = "lowercase")]
    enum Color {
        Red,
        Yellow,
    }

    #[derive(Task, Clone, Debug)]
    struct Bar {
        eparam: Color,
    }

    #[derive(Task, Clone, Debug)]
    struct Baz {
        eparam: Color,
        another_param: i64,
    }

    #[derive(Task, Clone, Debug)]
    struct Foo;

    leaves!(Bar, Baz);
    requires!(Foo => (Bar, Bar, Baz, Baz), |this| (
        Bar { eparam: Color::Red },
        Bar { eparam: Color::Yellow },
        Baz { eparam: Color::Red, another_param: 5 },
        Baz { eparam: Color::Yellow, another_param: 5 },
    ));
    scenario!(with_uncomparable_parameters: Foo, Bar, Baz);
}

mod with_dicts {
    use super::*;

    #[derive(Task, Clone, Debug)]
    struct Bar {
        args: Map<String, Value>,
    }

    #[derive(Task, Clone, Debug)]
    struct Foo;

    fn args(start: NaiveDate) -> Map<String, Value> {
        let Value::Object(map) = json!({"start": start.format("%Y-%m-%d").to_string(), "num": 3}) else {
            unreachable!("json! of an object literal is an object")
        };
        map
    }

    leaves!(Bar);
    requires!(Foo => Vec<Bar>, |this| (0..10).map(|i| Bar { args: args(date(1998, 3, 23) + TimeDelta::days(i)) }).collect());
    scenario!(with_dict_dependency: Foo, Bar);
    scenario!(with_dict_argument: Bar);
}

// ---------------------------------------------------------------------------------------------
// Ports of luigi/test/retcodes_test.py

mod retcode_requiring {
    use super::*;

    #[derive(Task, Clone, Debug)]
    struct FailingComplete;

    #[derive(Task, Clone, Debug)]
    struct TaskA;

    #[derive(Task, Clone, Debug)]
    struct FailingTask;

    #[derive(Task, Clone, Debug)]
    #[task(external)]
    struct MissingDataTask;

    #[derive(Task, Clone, Debug)]
    #[task(family = "RequiringTask")]
    struct RequiresFailingComplete;

    #[derive(Task, Clone, Debug)]
    #[task(family = "RequiringTask")]
    struct RequiresTaskA;

    #[derive(Task, Clone, Debug)]
    #[task(family = "RequiringTask")]
    struct RequiresMixed;

    leaves!(FailingComplete, TaskA, FailingTask, MissingDataTask);
    requires!(RequiresFailingComplete => FailingComplete, |this| FailingComplete);
    requires!(RequiresTaskA => TaskA, |this| TaskA);
    requires!(RequiresMixed => (FailingTask, MissingDataTask), |this| (FailingTask, MissingDataTask));
    scenario!(retcode_failure_in_complete: RequiresFailingComplete, FailingComplete);
    scenario!(retcode_unknown_reason: RequiresTaskA, TaskA);
    scenario!(retcode_mixed_errors: RequiresMixed, FailingTask, MissingDataTask);
}

mod retcode_task_limit {
    use super::*;

    #[derive(Task, Clone, Debug)]
    struct TaskB;

    #[derive(Task, Clone, Debug)]
    struct TaskA;

    #[derive(Task, Clone, Debug)]
    struct TaskLimitTest;

    leaves!(TaskB);
    requires!(TaskA => TaskB, |this| TaskB);
    requires!(TaskLimitTest => TaskA, |this| TaskA);
    scenario!(retcode_task_limit: TaskLimitTest, TaskA, TaskB);
}

// ---------------------------------------------------------------------------------------------
// More shapes

mod everything_already_done {
    use super::*;

    #[derive(Task, Clone, Debug)]
    struct Done {
        num: i64,
    }

    #[derive(Task, Clone, Debug)]
    #[task(wrapper)]
    struct Root;

    leaves!(Done);
    requires!(Root => Vec<Done>, |this| (0..3).map(|num| Done { num }).collect());
    scenario!(everything_already_done: Root);
}

mod dynamic_dependencies {
    use super::*;

    #[derive(Task, Clone, Debug)]
    struct A {
        n: i64,
    }

    /// Yields `A(n=99)` from `run()` in Python: a dynamic dependency, not a requirement.
    #[derive(Task, Clone, Debug)]
    struct Dyn;

    #[derive(Task, Clone, Debug)]
    struct Fails;

    #[derive(Task, Clone, Debug)]
    #[task(external)]
    struct Ext {
        name: String,
    }

    #[derive(Task, Clone, Debug)]
    struct Root;

    leaves!(A, Dyn, Fails, Ext);
    requires!(Root => (A, A, Dyn, Fails, Ext), |this| (A { n: 1 }, A { n: 2 }, Dyn, Fails, Ext { name: "missing".into() }));
    scenario!(dynamic_dependencies: Root, A, Dyn, Fails, Ext);
}

mod many_families {
    use super::*;

    macro_rules! families {
        ($($done:ident / $ext:ident),*) => {
            $(
                #[derive(Task, Clone, Debug)]
                struct $done {
                    num: i64,
                }

                #[derive(Task, Clone, Debug)]
                #[task(external)]
                struct $ext;

                leaves!($done, $ext);
            )*

            #[derive(Task, Clone, Debug)]
            struct Root;

            requires!(Root => Vec<TaskRef>, |this| {
                let mut deps = Vec::new();
                $(deps.extend((0..2).map(|num| TaskRef::new($done { num })));)*
                $(deps.push(TaskRef::new($ext));)*
                deps
            });

            scenario!(many_families: Root, $($done, $ext),*);
        };
    }

    families!(
        Alpha / ExtAlpha,
        Bravo / ExtBravo,
        Charlie / ExtCharlie,
        Delta / ExtDelta,
        Echo / ExtEcho,
        Foxtrot / ExtFoxtrot,
        Golf / ExtGolf
    );
}

mod range_thresholds {
    use super::*;

    #[derive(Task, Clone, Debug)]
    struct Three {
        n: i64,
    }

    #[derive(Task, Clone, Debug)]
    struct Four {
        n: i64,
    }

    #[derive(Task, Clone, Debug)]
    struct Gap {
        n: i64,
    }

    #[derive(Task, Clone, Debug)]
    struct Lexical {
        n: i64,
    }

    #[derive(Task, Clone, Debug)]
    struct Pair {
        a: String,
        b: i64,
    }

    #[derive(Task, Clone, Debug)]
    struct PairTwo {
        a: String,
        b: i64,
    }

    #[derive(Task, Clone, Debug)]
    struct BothVary {
        a: i64,
        b: i64,
    }

    #[derive(Task, Clone, Debug)]
    struct Weekly {
        #[param(interval = 7)]
        week: NaiveDate,
    }

    #[derive(Task, Clone, Debug)]
    struct Yearly {
        year: Year,
    }

    #[derive(Task, Clone, Debug)]
    struct Root;

    leaves!(Three, Four, Gap, Lexical, Pair, PairTwo, BothVary, Weekly, Yearly);
    requires!(Root => Vec<TaskRef>, |this| {
        let mut deps = Vec::new();
        deps.extend([1, 2, 3].map(|n| TaskRef::new(Three { n })));
        deps.extend([7, 8, 9, 10].map(|n| TaskRef::new(Four { n })));
        deps.extend([1, 2, 3, 5].map(|n| TaskRef::new(Gap { n })));
        deps.extend([1, 2, 10, 11, 20].map(|n| TaskRef::new(Lexical { n })));
        deps.extend([1, 2, 3].map(|b| TaskRef::new(Pair { a: "x".into(), b })));
        deps.extend([1, 2].map(|b| TaskRef::new(PairTwo { a: "x".into(), b })));
        deps.extend([1, 2, 3].map(|i| TaskRef::new(BothVary { a: i, b: i })));
        // Python normalizes the dates onto the 7-day grid from 1970-01-01, so does `normalized`.
        deps.extend((0..5).map(|i| {
            TaskRef::new(Weekly { week: date(2024, 1, 1) + TimeDelta::days(7 * i) }.normalized().unwrap())
        }));
        deps.extend((2020..2024).map(|year| TaskRef::new(Yearly { year: Year::new(year).unwrap() })));
        deps
    });
    scenario!(range_thresholds: Root, Three, Four, Gap, Lexical, Pair, PairTwo, BothVary, Weekly, Yearly);
}

mod long_values {
    use super::*;

    #[derive(Task, Clone, Debug)]
    struct Ints {
        n: i64,
    }

    #[derive(Task, Clone, Debug)]
    struct Words {
        word: String,
    }

    #[derive(Task, Clone, Debug)]
    struct Huge {
        text: String,
    }

    #[derive(Task, Clone, Debug)]
    struct Wide {
        text: String,
    }

    #[derive(Task, Clone, Debug)]
    struct TwoWide {
        a: String,
        b: String,
    }

    #[derive(Task, Clone, Debug)]
    struct LongNames {
        first_rather_long_parameter_name: i64,
        second_long_name: i64,
    }

    #[derive(Task, Clone, Debug)]
    struct Unicode {
        word: String,
    }

    #[derive(Task, Clone, Debug)]
    struct Root;

    leaves!(Ints, Words, Huge, Wide, TwoWide, LongNames, Unicode);
    requires!(Root => Vec<TaskRef>, |this| {
        let mut deps = Vec::new();
        deps.extend((0..40).step_by(2).map(|n| TaskRef::new(Ints { n })));
        deps.extend(
            ["apple", "banana", "cherry", "damson", "elder", "fig", "grape"]
                .map(|word| TaskRef::new(Words { word: word.into() })),
        );
        deps.extend(['a', 'b', 'c'].map(|c| TaskRef::new(Huge { text: c.to_string().repeat(150) })));
        deps.push(TaskRef::new(Wide { text: "w".repeat(200) }));
        deps.extend(["1", "2"].map(|b| TaskRef::new(TwoWide { a: "a".repeat(100), b: b.into() })));
        deps.extend(
            [1, 2].map(|first| TaskRef::new(LongNames { first_rather_long_parameter_name: first, second_long_name: 0 })),
        );
        deps.extend(
            ["déjà-vu!", "ménagerie", "naïveté!", "zèbre", "éclair", "über"]
                .map(|word| TaskRef::new(Unicode { word: word.into() })),
        );
        deps
    });
    scenario!(long_values: Root, Ints, Words, Huge, Wide, TwoWide, LongNames, Unicode);
}

mod hidden_private_insignificant {
    use super::*;

    #[derive(Task, Clone, Debug)]
    struct Report {
        date: NaiveDate,
        kind: String,
        #[param(significant = false, default = "n")]
        note: String,
        #[param(visibility = "private", default = "s")]
        secret: String,
        #[param(visibility = "hidden", default = "t")]
        token: String,
    }

    #[derive(Task, Clone, Debug)]
    struct Pairing {
        date: NaiveDate,
        kind: String,
        #[param(significant = false, default = "n")]
        note: String,
        #[param(visibility = "private", default = "s")]
        secret: String,
    }

    #[derive(Task, Clone, Debug)]
    struct Single {
        kind: String,
        #[param(significant = false, default = "n")]
        note: String,
    }

    #[derive(Task, Clone, Debug)]
    struct Root;

    leaves!(Report, Pairing, Single);
    requires!(Root => (Vec<Report>, Vec<Pairing>, Single), |this| {
        let text = |s: &str| s.to_owned();
        (
            (0..4)
                .map(|i| Report {
                    date: date(2024, 1, 1) + TimeDelta::days(i),
                    kind: text("x"),
                    note: text("n"),
                    secret: text("s"),
                    token: text("t"),
                })
                .collect(),
            ["y", "z"]
                .map(|kind| Pairing { date: date(2024, 2, 1), kind: text(kind), note: text("n"), secret: text("s") })
                .into(),
            Single { kind: text("only"), note: text("n") },
        )
    });
    scenario!(hidden_private_insignificant: Root, Report, Pairing, Single);
}

mod non_enumerable_types {
    use super::*;

    #[derive(Task, Clone, Debug)]
    struct Opt {
        n: Option<i64>,
    }

    #[derive(Task, Clone, Debug)]
    struct Num {
        #[param(min = 0, max = 100)]
        n: i64,
    }

    #[derive(Task, Clone, Debug)]
    struct Choice {
        #[param(choices = ["1", "2", "3", "4", "5"])]
        n: i64,
    }

    #[derive(Task, Clone, Debug)]
    struct Flt {
        x: f64,
    }

    #[derive(Task, Clone, Debug)]
    struct Root;

    leaves!(Opt, Num, Choice, Flt);
    requires!(Root => Vec<(Opt, Num, Choice, Flt)>, |this| {
        (1..=5).map(|n| (Opt { n: Some(n) }, Num { n }, Choice { n }, Flt { x: n as f64 })).collect()
    });
    scenario!(non_enumerable_types: Root, Opt, Num, Choice, Flt);
}

mod failed_and_scheduling_failed {
    use super::*;

    #[derive(Task, Clone, Debug)]
    struct Broken;

    #[derive(Task, Clone, Debug)]
    struct Fails {
        n: i64,
    }

    #[derive(Task, Clone, Debug)]
    struct Root;

    leaves!(Broken, Fails);
    requires!(Root => (Broken, Fails, Fails), |this| (Broken, Fails { n: 1 }, Fails { n: 2 }));
    scenario!(failed_and_scheduling_failed: Root, Broken, Fails);
}

mod upstream_chains {
    use super::*;

    #[derive(Task, Clone, Debug)]
    struct Fails;

    #[derive(Task, Clone, Debug)]
    #[task(external)]
    struct Missing;

    #[derive(Task, Clone, Debug)]
    struct Broken;

    #[derive(Task, Clone, Debug)]
    struct Mid {
        kind: String,
    }

    #[derive(Task, Clone, Debug)]
    struct Top {
        kind: String,
    }

    #[derive(Task, Clone, Debug)]
    #[task(wrapper)]
    struct Root;

    leaves!(Fails, Missing, Broken);
    requires!(Mid => Option<TaskRef>, |this| match this.kind.as_str() {
        "fails" => Some(TaskRef::new(Fails)),
        "missing" => Some(TaskRef::new(Missing)),
        "broken" => Some(TaskRef::new(Broken)),
        _ => None,
    });
    requires!(Top => Mid, |this| Mid { kind: this.kind.clone() });
    requires!(Root => Vec<Top>, |this| ["fails", "missing", "broken"].map(|kind| Top { kind: kind.into() }).into());
    scenario!(upstream_chains: Root, Top, Mid, Fails, Missing, Broken);
}

mod other_workers {
    use super::*;

    #[derive(Task, Clone, Debug)]
    struct Leaf {
        n: i64,
    }

    #[derive(Task, Clone, Debug)]
    struct Other;

    #[derive(Task, Clone, Debug)]
    struct Root;

    leaves!(Leaf, Other);
    requires!(Root => (Vec<Leaf>, Other), |this| ((0..7).map(|n| Leaf { n }).collect(), Other));
    scenario!(other_workers: Root, Leaf, Other);
}

mod other_workers_and_success {
    use super::*;

    #[derive(Task, Clone, Debug)]
    struct Mine;

    #[derive(Task, Clone, Debug)]
    struct Theirs;

    #[derive(Task, Clone, Debug)]
    #[task(wrapper)]
    struct Root;

    leaves!(Mine, Theirs);
    requires!(Root => (Mine, Theirs), |this| (Mine, Theirs));
    scenario!(other_workers_and_success: Root, Mine, Theirs);
}

mod length_thresholds {
    use super::*;

    macro_rules! strings {
        ($($name:ident { $($field:ident),* }),* $(,)?) => {$(
            #[derive(Task, Clone, Debug)]
            struct $name {
                $($field: String,)*
            }

            leaves!($name);
        )*};
    }

    strings!(
        Cut29 { v },
        Cut30 { v },
        Cut200 { v },
        Cut201 { v },
        ReprA { text },
        ReprB { text },
        PairText100 { a, b },
        PairText101 { a, b },
    );

    #[derive(Task, Clone, Debug)]
    struct Names60 {
        #[param(name = "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn")]
        n: i64,
    }

    #[derive(Task, Clone, Debug)]
    struct Names61 {
        #[param(name = "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn")]
        n: i64,
    }

    #[derive(Task, Clone, Debug)]
    struct PairNames40 {
        #[param(name = "aaaaaaaaaaaaaaaaaaaa")]
        a: i64,
        #[param(name = "bbbbbbbbbbbbbbbbbbbb")]
        b: i64,
    }

    #[derive(Task, Clone, Debug)]
    struct PairNames41 {
        #[param(name = "aaaaaaaaaaaaaaaaaaaaa")]
        a: i64,
        #[param(name = "bbbbbbbbbbbbbbbbbbbb")]
        b: i64,
    }

    #[derive(Task, Clone, Debug)]
    struct Root;

    leaves!(Names60, Names61, PairNames40, PairNames41);
    requires!(Root => Vec<TaskRef>, |this| {
        let column = |lengths: [usize; 5]| -> Vec<String> {
            lengths.iter().zip('a'..).map(|(len, c)| c.to_string().repeat(*len)).collect()
        };
        let mut deps = Vec::new();
        deps.extend(column([9, 9, 8, 1, 1]).into_iter().map(|v| TaskRef::new(Cut29 { v })));
        deps.extend(column([9, 9, 9, 1, 1]).into_iter().map(|v| TaskRef::new(Cut30 { v })));
        deps.extend(column([99, 99, 1, 1, 1]).into_iter().map(|v| TaskRef::new(Cut200 { v })));
        deps.extend(column([100, 99, 1, 1, 1]).into_iter().map(|v| TaskRef::new(Cut201 { v })));
        deps.push(TaskRef::new(ReprA { text: "r".repeat(188) }));
        deps.push(TaskRef::new(ReprB { text: "r".repeat(189) }));
        deps.push(TaskRef::new(Names60 { n: 1 }));
        deps.push(TaskRef::new(Names61 { n: 1 }));
        deps.extend([1, 2].map(|a| TaskRef::new(PairNames40 { a, b: 0 })));
        deps.extend([1, 2].map(|a| TaskRef::new(PairNames41 { a, b: 0 })));
        deps.extend(["1", "2"].map(|b| TaskRef::new(PairText100 { a: "x".repeat(80), b: b.into() })));
        deps.extend(["1", "2"].map(|b| TaskRef::new(PairText101 { a: "x".repeat(81), b: b.into() })));
        deps
    });
    scenario!(
        length_thresholds: Root,
        Cut29,
        Cut30,
        Cut200,
        Cut201,
        ReprA,
        ReprB,
        Names60,
        Names61,
        PairNames40,
        PairNames41,
        PairText100,
        PairText101
    );
}

mod other_workers_five {
    use super::*;

    #[derive(Task, Clone, Debug)]
    struct Leaf {
        n: i64,
    }

    #[derive(Task, Clone, Debug)]
    struct Root;

    leaves!(Leaf);
    requires!(Root => Vec<Leaf>, |this| (0..5).map(|n| Leaf { n }).collect());
    scenario!(other_workers_five: Root, Leaf);
}
