//! The task model end to end through the derive macro: families and namespaces, parameter
//! resolution and Luigi's error messages, task ids, typed `input()`, default `complete()`
//! per task kind, the registry, batch reduction and events.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use luigi_core::config::Configuration;
use luigi_core::event::{self, Event, EventArgs};
use luigi_core::param::{self, ParamArgs, ParamContext, Visibility};
use luigi_core::prelude::*;
use luigi_core::registry;
use luigi_core::target::Target;

/// A target whose existence is fixed at construction, so completion logic can be tested
/// without touching the file system.
#[derive(Debug, Clone)]
struct Flag(bool);

impl Target for Flag {
    fn exists(&self) -> Result<bool, luigi_core::target::Error> {
        Ok(self.0)
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

#[derive(Task, Clone, Debug, PartialEq)]
#[task(namespace = "my_namespace")]
struct MyTask {
    my_param: String,
}

impl Task for MyTask {
    type Requires = ();
    type Output = Flag;
    fn requires(&self) {}
    fn output(&self) -> Flag {
        Flag(self.my_param == "done")
    }
}

#[derive(Task, Clone, Debug)]
struct Multi {
    date: String,
    #[param(default = 5)]
    n: i64,
    flag: bool,
    #[param(significant = false, default = "x")]
    note: String,
    #[param(visibility = "hidden", default = "h")]
    secret: String,
    #[param(private, default = "p")]
    priv_: String,
}

impl Task for Multi {
    type Requires = ();
    type Output = ();
    fn requires(&self) {}
    fn output(&self) {}
}

#[derive(Task, Clone, Debug)]
struct Leaf {
    i: i64,
    #[param(default = true)]
    done: bool,
}

impl Task for Leaf {
    type Requires = ();
    type Output = Flag;
    fn requires(&self) {}
    fn output(&self) -> Flag {
        Flag(self.done)
    }
}

#[derive(Task, Clone, Debug)]
#[task(wrapper)]
struct Wrapper {
    n: i64,
    #[param(default = true)]
    all_done: bool,
}

impl Task for Wrapper {
    type Requires = (Leaf, Vec<Leaf>, BTreeMap<String, Leaf>);
    type Output = ();
    fn requires(&self) -> Self::Requires {
        let first = Leaf { i: 0, done: true };
        let rest = (1..self.n).map(|i| Leaf { i, done: self.all_done || i != self.n - 1 }).collect();
        let named = BTreeMap::from([("extra".to_owned(), Leaf { i: 100, done: true })]);
        (first, rest, named)
    }
    fn output(&self) {}
}

#[derive(Task, Clone, Debug)]
#[task(external)]
struct Outside {
    present: bool,
}

impl Task for Outside {
    type Requires = ();
    type Output = Option<Flag>;
    fn requires(&self) {}
    fn output(&self) -> Option<Flag> {
        Some(Flag(self.present))
    }
}

#[derive(Task, Clone, Debug)]
struct Batched {
    #[param(batch_method = "max")]
    n: i64,
    #[param(batch_method = "join")]
    items: String,
    fixed: String,
}

impl Task for Batched {
    type Requires = ();
    type Output = ();
    fn requires(&self) {}
    fn output(&self) {}
}

fn ctx() -> ParamContext {
    ParamContext::new(Arc::new(Configuration::new()))
}

#[test]
fn namespace_and_id_match_luigi() {
    let task = MyTask { my_param: "hello".into() };
    assert_eq!(MyTask::family(), "my_namespace.MyTask");
    let task = TaskRef::new(task);
    assert_eq!(task.id().as_str(), "my_namespace.MyTask_hello_890907e7ce");
    assert_eq!(task.to_string(), "my_namespace.MyTask(my_param=hello)");
    assert_eq!(task.module(), module_path!());
}

#[test]
fn visibility_and_significance_shape_ids_and_params() {
    let task = Multi::from_args(&ctx(), &ParamArgs::new().with("date", "2024-01-31")).unwrap();
    let task = TaskRef::new(task);
    // The hidden, private and insignificant parameters are not hashed.
    assert_eq!(task.id().as_str(), "Multi_2024_01_31_False_5_48bb6d0566");
    let sent: Vec<(&str, String)> = task.str_params(false, false);
    let names: Vec<&str> = sent.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, ["date", "n", "flag", "note", "secret"], "private parameters never leave the worker");
    assert_eq!(task.str_params(true, true).len(), 3);
    assert_eq!(task.repr(), "Multi(date=2024-01-31, n=5, flag=False, secret=h, priv_=p)");
    assert_eq!(task.pretty_id(), "Multi(date=2024-01-31, flag=False, n=5, note=x)");
    let infos = Multi::param_infos();
    assert_eq!(infos[4].visibility, Visibility::Hidden);
    assert_eq!(infos[5].visibility, Visibility::Private);
    assert!(!infos[3].significant);
    assert_eq!((infos[1].default.unwrap())(), "5");
    assert!(infos[0].default.is_none());
    assert_eq!((infos[2].default.unwrap())(), "False", "bools default to false");
}

#[test]
fn resolution_order_constructor_cli_config_default() {
    let mut config = Configuration::new();
    config.set("Multi", "n", "7").unwrap();
    config.set("Multi", "note", "from-config").unwrap();
    let mut context = ParamContext::new(Arc::new(config));
    context.set_cli_value("Multi", "note", "from-cli");
    let args = ParamArgs::new().with_positional("2020-01-01");
    let task = Multi::from_args(&context, &args).unwrap();
    assert_eq!(task.date, "2020-01-01");
    assert_eq!(task.n, 7, "config beats the default");
    assert_eq!(task.note, "from-cli", "the global command-line flag beats config");
    let task = Multi::from_args(&context, &args.clone().with("note", "explicit")).unwrap();
    assert_eq!(task.note, "explicit", "constructor arguments beat everything");
}

#[test]
fn resolution_errors_use_luigi_messages() {
    let err = Multi::from_args(&ctx(), &ParamArgs::new()).unwrap_err();
    assert_eq!(err.to_string(), "Multi[args=[], kwargs={}]: requires the 'date' parameter to be set");
    let err = Multi::from_args(&ctx(), &ParamArgs::new().with("date", "d").with("nope", "1")).unwrap_err();
    assert_eq!(err.to_string(), "Multi[args=[], kwargs={'date': 'd', 'nope': '1'}]: unknown parameter nope");
    let err = Multi::from_args(&ctx(), &ParamArgs::new().with_positional("d").with("date", "e")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Multi[args=['d'], kwargs={'date': 'e'}]: parameter date was already set as a positional parameter"
    );
    let mut args = ParamArgs::new();
    for value in ["a", "b", "c", "d", "e", "f", "g"] {
        args = args.with_positional(value);
    }
    let err = Multi::from_args(&ctx(), &args).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Multi[args=['a', 'b', 'c', 'd', 'e', 'f', 'g'], kwargs={}]: takes at most 6 parameters (7 given)"
    );
    let err = Multi::from_args(&ctx(), &ParamArgs::new().with("date", "d").with("n", "five")).unwrap_err();
    assert!(matches!(err, param::Error::Invalid { .. }), "{err}");
    assert!(err.to_string().contains("'n'"), "{err}");
}

#[test]
fn input_mirrors_requires_with_types() {
    let wrapper = Wrapper { n: 3, all_done: true };
    let (first, rest, named): (Flag, Vec<Flag>, BTreeMap<String, Flag>) = wrapper.input();
    assert!(first.0);
    assert_eq!(rest.len(), 2);
    assert!(named["extra"].0);
    let deps = TaskRef::new(wrapper).deps();
    let ids: Vec<String> = deps.iter().map(|d| d.id().to_string()).collect();
    assert_eq!(ids.len(), 4);
    assert_eq!(deps[0].to_string(), "Leaf(i=0, done=True)");
    // `deps()` moves the tasks out of `requires()`; the borrowing flatten gives the same
    // tasks in the same order.
    let mut borrowed = Vec::new();
    Wrapper { n: 3, all_done: true }.requires().collect_tasks(&mut borrowed);
    assert_eq!(borrowed.iter().map(|d| d.id().to_string()).collect::<Vec<_>>(), ids);
}

#[test]
fn default_completion_by_kind() {
    assert!(TaskRef::new(Wrapper { n: 3, all_done: true }).complete().unwrap());
    assert!(!TaskRef::new(Wrapper { n: 3, all_done: false }).complete().unwrap(), "one requirement incomplete");
    assert!(TaskRef::new(Outside { present: true }).complete().unwrap());
    assert!(!TaskRef::new(Outside { present: false }).complete().unwrap());
    assert!(
        !TaskRef::new(Multi::from_args(&ctx(), &ParamArgs::new().with("date", "d")).unwrap()).complete().unwrap(),
        "a task without outputs is never complete"
    );
    assert_eq!(TaskRef::new(Outside { present: true }).kind(), luigi_core::TaskKind::External);
}

#[test]
fn registry_builds_by_family_and_suggests_names() {
    let registration = registry::lookup("my_namespace.MyTask").unwrap();
    assert!(registration.is_task());
    let task = registration.from_str_params(&ctx(), [("my_param", "hello"), ("ignored", "x")]).unwrap();
    assert_eq!(task.id().as_str(), "my_namespace.MyTask_hello_890907e7ce");
    assert_eq!(task.downcast_ref::<MyTask>(), Some(&MyTask { my_param: "hello".into() }));
    let err = registry::lookup("Mult").unwrap_err();
    assert!(err.to_string().starts_with("No task Mult. Did you mean:\nMulti"), "{err}");
    let err = registry::lookup("CompletelyDifferentNameXYZ").unwrap_err();
    assert!(err.to_string().starts_with("No task CompletelyDifferentNameXYZ. Candidates are: "), "{err}");
}

#[test]
fn batch_methods_reduce_values() {
    assert_eq!(Batched::reduce_batch("n", &["3".into(), "10".into(), "7".into()]).unwrap(), "10");
    assert_eq!(Batched::reduce_batch("items", &["r".into(), "q".into()]).unwrap(), "r,q");
    assert!(Batched::reduce_batch("fixed", &["a".into()]).is_err());
    assert!(Batched::reduce_batch("n", &["x".into()]).is_err());
    assert!(Batched::param_infos()[0].batchable && !Batched::param_infos()[2].batchable);
}

#[test]
fn event_handlers_fire_per_type_and_for_all() {
    static TYPED: AtomicUsize = AtomicUsize::new(0);
    static ANY: AtomicUsize = AtomicUsize::new(0);
    let typed = event::on::<Leaf, _>(Event::Success, |task, _| {
        assert!(task.done);
        TYPED.fetch_add(1, Ordering::SeqCst);
        Ok(())
    });
    let any = event::on_any(Event::Success, |_, args| {
        assert!(matches!(args, EventArgs::None));
        ANY.fetch_add(1, Ordering::SeqCst);
        Err("handler errors are logged, not propagated".into())
    });
    let panicky = event::on_any(Event::Success, |_, _| panic!("handler panics are contained"));
    let leaf = TaskRef::new(Leaf { i: 1, done: true });
    let other = TaskRef::new(MyTask { my_param: "x".into() });
    event::fire(leaf.task(), Event::Success, &EventArgs::None);
    event::fire(other.task(), Event::Success, &EventArgs::None);
    event::fire(leaf.task(), Event::Failure, &EventArgs::None);
    assert_eq!(TYPED.load(Ordering::SeqCst), 1);
    assert_eq!(ANY.load(Ordering::SeqCst), 2);
    assert!(event::remove(typed) && event::remove(any) && event::remove(panicky));
    assert!(!event::remove(typed));
    assert_eq!(Event::ProcessingTime.as_str(), "event.core.processing_time");
}

#[test]
fn normalized_keeps_plain_values() {
    let task = Leaf { i: 4, done: false }.normalized().unwrap();
    assert_eq!(task.i, 4);
}
