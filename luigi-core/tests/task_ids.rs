//! Task ids byte-identical to Python Luigi 3.8.1.
//!
//! `tests/data/task_ids.jsonl` was produced by real Luigi: for each task, its family, its
//! parameters (type, command-line string, significance, visibility), the `params` map
//! Luigi sends to the scheduler (`str_params`) and the task id. Each family below declares
//! the same parameters with the Rust type that plays that Luigi parameter class; the test
//! builds every line's task by family name through the registry from the command-line
//! strings, exactly as the CLI does, and compares `str_params` and the id byte for byte.

use std::path::PathBuf;

use luigi_core::param::chrono::{NaiveDate, TimeDelta};
use luigi_core::param::{CommaList, DateHour, DateInterval, DateMinute, DateSecond, Month, ParamArgs, Year};
use luigi_core::prelude::*;
use luigi_core::registry;
use serde_json::{Map, Value};

macro_rules! plain_task {
    ($name:ident) => {
        impl Task for $name {
            type Requires = ();
            type Output = ();
            fn requires(&self) {}
            fn output(&self) {}
        }
    };
}

#[derive(Task, Clone, Debug)]
#[task(namespace = "my_namespace")]
struct MyTask {
    my_param: String,
}
plain_task!(MyTask);

#[derive(Task, Clone, Debug)]
struct Plain;
plain_task!(Plain);

#[derive(Task, Clone, Debug)]
struct DateTask {
    date: NaiveDate,
}
plain_task!(DateTask);

#[derive(Task, Clone, Debug)]
struct Multi {
    date: NaiveDate,
    n: i64,
    flag: bool,
    #[param(significant = false)]
    note: String,
    #[param(visibility = "hidden")]
    secret: String,
    #[param(visibility = "private", name = "priv")]
    private: String,
}
plain_task!(Multi);

#[derive(Task, Clone, Debug)]
struct LongP {
    a: String,
    b: String,
    c: String,
    d: String,
}
plain_task!(LongP);

#[derive(Task, Clone, Debug)]
#[task(namespace = "ns.sub")]
struct Explicit {
    x: String,
}
plain_task!(Explicit);

#[derive(Task, Clone, Debug)]
struct Floats {
    a: f64,
    b: f64,
    c: f64,
    d: f64,
}
plain_task!(Floats);

#[derive(Task, Clone, Debug)]
struct Months {
    m: Month,
    y: Year,
}
plain_task!(Months);

#[derive(Task, Clone, Debug)]
struct Hours {
    h: DateHour,
    mi: DateMinute,
    s: DateSecond,
}
plain_task!(Hours);

#[derive(Task, Clone, Debug)]
struct Intervals {
    i: DateInterval,
}
plain_task!(Intervals);

#[derive(Task, Clone, Debug)]
struct Deltas {
    d: TimeDelta,
}
plain_task!(Deltas);

#[derive(Task, Clone, Debug)]
struct Lists {
    l: Vec<Value>,
}
plain_task!(Lists);

#[derive(Task, Clone, Debug)]
struct Tuples {
    t: ((i64, i64), (i64, i64)),
}
plain_task!(Tuples);

#[derive(Task, Clone, Debug)]
struct Dicts {
    d: Map<String, Value>,
}
plain_task!(Dicts);

#[derive(ParamEnum, Clone, Copy, Debug, PartialEq, Eq)]
#[param(rename_all = "lowercase")]
enum Color {
    Red,
    Green,
    Blue,
}

#[derive(Task, Clone, Debug)]
struct Enums {
    c: Color,
    cs: CommaList<Color>,
}
plain_task!(Enums);

#[derive(Task, Clone, Debug)]
struct Paths {
    p: PathBuf,
}
plain_task!(Paths);

#[derive(Task, Clone, Debug)]
struct Optionals {
    o: Option<String>,
    i: Option<i64>,
}
plain_task!(Optionals);

#[derive(Task, Clone, Debug)]
struct Bools {
    b: bool,
}
plain_task!(Bools);

#[derive(Task, Clone, Debug)]
struct Ints {
    n: i64,
    m: i128,
}
plain_task!(Ints);

#[derive(Task, Clone, Debug)]
struct Escapes {
    x: String,
}
plain_task!(Escapes);

#[derive(Task, Clone, Debug)]
struct Empty {
    x: String,
}
plain_task!(Empty);

#[derive(Task, Clone, Debug)]
struct Order {
    #[param(name = "B")]
    upper_b: String,
    a: String,
    #[param(name = "_")]
    underscore: String,
    #[param(name = "Z")]
    upper_z: String,
}
plain_task!(Order);

#[test]
fn every_reference_vector_matches() {
    let text = include_str!("data/task_ids.jsonl");
    let mut checked = 0;
    for (line_no, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let vector: Value = serde_json::from_str(line).unwrap();
        let family = vector["family"].as_str().unwrap();
        let mut args = ParamArgs::new();
        for param in vector["params"].as_array().unwrap() {
            args = args.with(param["name"].as_str().unwrap(), param["cli"].as_str().unwrap());
        }
        let task =
            registry::build(family, &args).unwrap_or_else(|e| panic!("line {}: building {family}: {e}", line_no + 1));
        let sent: Map<String, Value> = task
            .str_params(false, false)
            .into_iter()
            .map(|(name, value)| (name.to_owned(), Value::String(value)))
            .collect();
        let expected = vector["str_params"].as_object().unwrap();
        assert_eq!(&sent, expected, "line {}: str_params of {family}", line_no + 1);
        assert_eq!(
            task.id().as_str(),
            vector["task_id"].as_str().unwrap(),
            "line {}: task id of {family}",
            line_no + 1
        );
        checked += 1;
    }
    assert_eq!(checked, 28, "every vector line was checked");
}
