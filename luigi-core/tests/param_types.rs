//! Parameter types against real Python Luigi 3.8.1.
//!
//! `data/param_vectors.jsonl` holds, for every Luigi parameter class, command-line strings
//! and what Luigi made of each (the serialized value after parse + normalize, or its error);
//! `data/param_task_ids.jsonl` holds tasks built from strings with their `str_params` and
//! task ids. Both come from `data/gen_param_vectors.py`, which runs Luigi; this test replays
//! them through the Rust types and the derive macros, so it needs no Python.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use luigi_core::config::Configuration;
use luigi_core::param::chrono::{NaiveDate, TimeDelta};
use luigi_core::param::{
    CommaList, DateHour, DateInterval, DateMinute, DateSecond, Month, ParamArgs, ParamContext, ParamOptions,
    ParamValue, TaskParam, Year,
};
use luigi_core::task::task_id_str;
use luigi_core::{ParamEnum, Task, TaskParams, TaskRef};
use serde::Deserialize;
use serde_json::{Map, Value};

/// The enum the generator declares as `Color(red, green, blue)`.
#[derive(ParamEnum, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[param(rename_all = "lowercase")]
enum Color {
    Red,
    Green,
    Blue,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct VectorOptions {
    interval: Option<i64>,
    start: Option<String>,
    choices: Option<Vec<String>>,
    min: Option<f64>,
    max: Option<f64>,
    min_inclusive: Option<bool>,
    max_inclusive: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Vector {
    #[serde(rename = "type")]
    kind: String,
    options: VectorOptions,
    input: String,
    ok: Option<String>,
    error: Option<String>,
    #[serde(rename = "match")]
    match_kind: Option<String>,
}

/// `ParamOptions` holds `'static` data, as the derive macro emits it; the test leaks its few
/// strings to get there.
fn leak(text: &str) -> &'static str {
    Box::leak(text.to_owned().into_boxed_str())
}

fn param_options(options: &VectorOptions) -> ParamOptions {
    ParamOptions {
        interval: options.interval,
        start: options.start.as_deref().map(leak),
        choices: options.choices.as_ref().map(|choices| {
            let leaked: Vec<&'static str> = choices.iter().map(|c| leak(c)).collect();
            &*Box::leak(leaked.into_boxed_slice())
        }),
        min: options.min,
        max: options.max,
        min_inclusive: options.min_inclusive.unwrap_or(true),
        max_inclusive: options.max_inclusive.unwrap_or(false),
        ..ParamOptions::DEFAULT
    }
}

/// What resolution does with a command-line string: parse, normalize, serialize.
fn run<T: ParamValue>(input: &str, options: &ParamOptions) -> Result<String, String> {
    T::parse(input, options)
        .and_then(|value| value.normalize(options))
        .map(|value| value.serialize())
        .map_err(|err| err.message().to_owned())
}

/// The Rust type standing for each Python parameter class of the generator.
fn run_kind(kind: &str, input: &str, options: &ParamOptions, tuple_arity: usize) -> Option<Result<String, String>> {
    Some(match kind {
        "str" | "choice" => run::<String>(input, options),
        "int" | "choice_int" | "numerical_int" => run::<i64>(input, options),
        "int128" => run::<i128>(input, options),
        "float" | "numerical_float" => run::<f64>(input, options),
        "bool" => run::<bool>(input, options),
        "date" => run::<NaiveDate>(input, options),
        "month" => run::<Month>(input, options),
        "year" => run::<Year>(input, options),
        "datehour" => run::<DateHour>(input, options),
        "dateminute" => run::<DateMinute>(input, options),
        "datesecond" => run::<DateSecond>(input, options),
        "date_interval" => run::<DateInterval>(input, options),
        "timedelta" => run::<TimeDelta>(input, options),
        "path" => run::<PathBuf>(input, options),
        "list" => run::<Vec<Value>>(input, options),
        "tuple" => match tuple_arity {
            1 => run::<(Value,)>(input, options),
            2 => run::<(Value, Value)>(input, options),
            3 => run::<(Value, Value, Value)>(input, options),
            4 => run::<(Value, Value, Value, Value)>(input, options),
            5 => run::<(Value, Value, Value, Value, Value)>(input, options),
            6 => run::<(Value, Value, Value, Value, Value, Value)>(input, options),
            // Luigi's empty tuple has no Rust tuple type to play it.
            _ => return None,
        },
        "dict" => run::<Map<String, Value>>(input, options),
        "json" => run::<Value>(input, options),
        "enum" => run::<Color>(input, options),
        "enum_list" => run::<CommaList<Color>>(input, options),
        "choice_list" => run::<CommaList<String>>(input, options),
        "optional_choice" | "optional_str" => run::<Option<String>>(input, options),
        "optional_numerical_int" | "optional_int" => run::<Option<i64>>(input, options),
        "optional_float" => run::<Option<f64>>(input, options),
        "optional_bool" => run::<Option<bool>>(input, options),
        "optional_list" => run::<Option<Vec<Value>>>(input, options),
        "optional_tuple" => run::<Option<(Value, Value)>>(input, options),
        "optional_dict" => run::<Option<Map<String, Value>>>(input, options),
        "optional_path" => run::<Option<PathBuf>>(input, options),
        other => panic!("the generator wrote an unknown type {other:?}; add it to run_kind"),
    })
}

/// Checks one outcome against Luigi's; `None` when they agree.
fn compare(vector: &Vector, actual: &Result<String, String>) -> Option<String> {
    let describe = || format!("{} {:?}", vector.kind, vector.input);
    match (&vector.ok, actual) {
        (Some(expected), Ok(got)) if got == expected => None,
        (Some(expected), Ok(got)) => Some(format!("{}: Luigi wrote {expected:?}, Rust {got:?}", describe())),
        (Some(expected), Err(err)) => Some(format!("{}: Luigi wrote {expected:?}, Rust failed: {err}", describe())),
        (None, Ok(got)) => Some(format!(
            "{}: Luigi failed ({:?}), Rust wrote {got:?}",
            describe(),
            vector.error.as_deref().unwrap_or("")
        )),
        (None, Err(err)) => {
            let expected = vector.error.as_deref().unwrap_or_default();
            let agrees = match vector.match_kind.as_deref() {
                Some("exact") => err == expected,
                Some("prefix") => err.starts_with(expected),
                _ => true,
            };
            (!agrees).then(|| format!("{}: Luigi's error {expected:?}, Rust's {err:?}", describe()))
        }
    }
}

fn vectors() -> Vec<Vector> {
    include_str!("data/param_vectors.jsonl")
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|err| panic!("bad vector {line}: {err}")))
        .collect()
}

#[test]
fn every_type_matches_luigi() {
    let vectors = vectors();
    let mut failures = Vec::new();
    let mut checked = 0;
    for vector in &vectors {
        let options = param_options(&vector.options);
        // Python's tuple length picks the Rust tuple type; failures are failures at any arity.
        let arity = match &vector.ok {
            Some(ok) if vector.kind.contains("tuple") => serde_json::from_str::<Vec<Value>>(ok).map_or(2, |v| v.len()),
            _ => 2,
        };
        let Some(actual) = run_kind(&vector.kind, &vector.input, &options, arity) else {
            assert_eq!(vector.ok.as_deref(), Some("[]"), "only the empty tuple is skipped");
            continue;
        };
        checked += 1;
        failures.extend(compare(vector, &actual));
        if vector.kind == "timedelta" {
            // std's Duration plays the same parameter, except that it cannot be negative.
            let duration = run::<Duration>(&vector.input, &options);
            match (&vector.ok, &duration) {
                (Some(ok), Err(_)) if ok.starts_with('-') => {}
                (Some(ok), Ok(_)) if ok.starts_with('-') => {
                    failures.push(format!("Duration {:?}: a negative value was accepted", vector.input))
                }
                _ => failures.extend(compare(vector, &duration).map(|f| format!("Duration {f}"))),
            }
        }
    }
    assert!(checked > 400, "only {checked} vectors checked");
    assert!(
        failures.is_empty(),
        "{} of {checked} vectors disagree with Luigi:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_luigi_class_has_vectors() {
    let vectors = vectors();
    for kind in [
        "str",
        "int",
        "float",
        "bool",
        "date",
        "month",
        "year",
        "datehour",
        "dateminute",
        "datesecond",
        "date_interval",
        "timedelta",
        "path",
        "list",
        "tuple",
        "dict",
        "enum",
        "enum_list",
        "choice",
        "choice_list",
        "numerical_int",
        "numerical_float",
        "optional_int",
        "optional_list",
        "optional_path",
    ] {
        let count = vectors.iter().filter(|v| v.kind == kind).count();
        let errors = vectors.iter().filter(|v| v.kind == kind && v.ok.is_none()).count();
        // Luigi rejects no string as a plain, optional or path parameter.
        let total = kind == "str" || kind == "path" || kind.starts_with("optional");
        assert!(count >= 2 && (errors > 0 || total), "{kind}: {count} vectors, {errors} errors");
    }
}

// --- tasks built from strings, against Python's task ids -----------------------------------

/// Mirrors the generator's `pt.ParamTypesTask`.
#[derive(Task, Clone, Debug)]
#[task(namespace = "pt")]
struct ParamTypesTask {
    day: NaiveDate,
    #[param(interval = 6)]
    hour: DateHour,
    #[param(default = 5)]
    n: i64,
    #[param(default = 0.5)]
    ratio: f64,
    flag: bool,
    #[param(default = "3600")]
    span: TimeDelta,
    #[param(default = "2015-06")]
    window: DateInterval,
    #[param(default = "[]")]
    tags: Vec<Value>,
    #[param(default = "(1, 'a')")]
    pair: (i64, String),
    #[param(default = "{}")]
    conf: Map<String, Value>,
    #[param(choices = ["fast", "slow"], default = "fast")]
    mode: String,
    #[param(default = "")]
    colors: CommaList<Color>,
    #[param(default = Color::Red)]
    color: Color,
    #[param(default = "out")]
    out: PathBuf,
    maybe: Option<i64>,
    #[param(default = "2015-01")]
    month: Month,
    #[param(default = "2015-01-01T0000")]
    minute: DateMinute,
    #[param(min = 0, max = 10, default = 3)]
    bounded: i64,
    #[param(significant = false, default = "x")]
    note: String,
    #[param(visibility = "hidden", default = "s")]
    secret: String,
}

impl Task for ParamTypesTask {
    type Requires = ();
    type Output = ();

    fn requires(&self) {}

    fn output(&self) {}
}

/// Mirrors the generator's `pt.ParamTypesRunner`.
#[derive(Task, Clone, Debug)]
#[task(namespace = "pt")]
struct ParamTypesRunner {
    target: TaskParam,
    #[param(default = "2020")]
    year: Year,
    #[param(default = "2020-01-01T000000")]
    second: DateSecond,
    #[param(default = "0")]
    every: TimeDelta,
}

impl Task for ParamTypesRunner {
    type Requires = ();
    type Output = ();

    fn requires(&self) {}

    fn output(&self) {}
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskCase {
    family: String,
    args: BTreeMap<String, String>,
    str_params: BTreeMap<String, String>,
    task_id: String,
}

fn task_cases() -> Vec<TaskCase> {
    include_str!("data/param_task_ids.jsonl")
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|err| panic!("bad case {line}: {err}")))
        .collect()
}

fn context() -> ParamContext {
    ParamContext::new(Arc::new(Configuration::new()))
}

fn build(case: &TaskCase) -> TaskRef {
    let args = ParamArgs::from_named(case.args.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    luigi_core::registry::lookup(&case.family)
        .and_then(|registration| registration.build(&context(), &args))
        .unwrap_or_else(|err| panic!("{}: {err}", case.family))
}

#[test]
fn task_ids_match_luigi() {
    let cases = task_cases();
    assert_eq!(cases.len(), 5);
    for case in &cases {
        let task = build(case);
        let str_params: BTreeMap<String, String> =
            task.str_params(false, false).into_iter().map(|(name, value)| (name.to_owned(), value)).collect();
        assert_eq!(str_params, case.str_params, "{} {:?}", case.family, case.args);
        assert_eq!(task.id().as_str(), case.task_id, "{} {:?}", case.family, case.args);
        // The id is Luigi's task_id_str over the significant public parameters.
        let significant = case.str_params.iter().filter(|(name, _)| !["note", "secret"].contains(&name.as_str()));
        let id = task_id_str(&case.family, significant.map(|(k, v)| (k.as_str(), v.as_str())));
        assert_eq!(id.as_str(), case.task_id);
    }
}

#[test]
fn typed_fields_hold_the_normalized_values() {
    let cases = task_cases();
    let task = build(&cases[1]);
    let task = task.downcast_ref::<ParamTypesTask>().unwrap();
    assert_eq!(task.day, NaiveDate::from_ymd_opt(2024, 2, 9).unwrap());
    assert_eq!(task.hour.to_string(), "2024-02-09T00");
    assert_eq!(task.pair, (2, "b".to_owned()));
    assert_eq!(task.colors.0, vec![Color::Blue, Color::Red]);
    assert_eq!(task.color, Color::Green);
    assert_eq!(task.out, PathBuf::from("a/b/c"));
    assert_eq!(task.maybe, Some(12));
    assert_eq!(task.span, TimeDelta::hours(27));
    assert_eq!(task.window.dates().count(), 7);
    assert_eq!(task.minute.to_string(), "2015-01-01T1007");
    assert!(task.flag);
}

#[test]
fn task_params_build_their_task() {
    let cases = task_cases();
    let runner = build(&cases[3]);
    let runner = runner.downcast_ref::<ParamTypesRunner>().unwrap();
    assert_eq!(runner.target.family(), "pt.ParamTypesTask");
    let args = ParamArgs::from_named(cases[0].args.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let built = runner.target.build_with(&context(), &args).unwrap();
    assert_eq!(built.id().as_str(), cases[0].task_id);
    let unknown = TaskParam::parse("pt.NoSuchTask", &ParamOptions::DEFAULT).unwrap_err();
    assert!(unknown.message().starts_with("No task pt.NoSuchTask."), "{}", unknown.message());
    assert_eq!(TaskParam::of::<ParamTypesTask>().unwrap(), runner.target);
}

#[test]
fn invalid_values_name_the_parameter() {
    let bad_choice = ParamArgs::new().with("day", "2024-01-31").with("hour", "2024-01-31T13").with("mode", "medium");
    let err = ParamTypesTask::from_args(&context(), &bad_choice).unwrap_err().to_string();
    assert!(err.contains("'mode'") && err.contains("medium is not a valid choice from {'fast', 'slow'}"), "{err}");
    let out_of_bounds = ParamArgs::new().with("day", "2024-01-31").with("hour", "2024-01-31T13").with("bounded", "10");
    let err = ParamTypesTask::from_args(&context(), &out_of_bounds).unwrap_err().to_string();
    assert!(err.contains("10 is not in the set of int in [0, 10)"), "{err}");
    let bad_date = ParamArgs::new().with("day", "2024-02-30").with("hour", "2024-01-31T13");
    let err = ParamTypesTask::from_args(&context(), &bad_date).unwrap_err().to_string();
    assert!(err.contains("day is out of range for month"), "{err}");
}

#[test]
fn derived_enums_work_as_values_and_lists() {
    let options = ParamOptions::DEFAULT;
    assert_eq!(Color::parse("green", &options), Ok(Color::Green));
    assert_eq!(Color::Blue.serialize(), "blue");
    assert!(Color::parse("Green", &options).is_err());
    let list = CommaList::<Color>::parse("red,blue,red", &options).unwrap();
    assert_eq!(list.0, vec![Color::Red, Color::Blue, Color::Red]);
    assert_eq!(
        CommaList::<Color>::parse("red,x", &options).unwrap_err().message(),
        "Invalid enum value \"x\" index 1 - could not be parsed"
    );
    assert_eq!(Color::describe_options(&options).as_deref(), Some("Choices: {red, green, blue}"));
}

#[test]
fn param_infos_describe_the_types() {
    use luigi_core::param::CliKind;

    let infos = ParamTypesTask::param_infos();
    let type_of = |name: &str| infos.iter().find(|info| info.name == name).map(|info| info.type_name);
    assert_eq!(type_of("hour"), Some("datehour"));
    assert_eq!(type_of("window"), Some("date_interval"));
    assert_eq!(type_of("pair"), Some("tuple"));
    assert_eq!(type_of("conf"), Some("dict"));
    assert_eq!(type_of("colors"), Some("list"));
    assert_eq!(type_of("maybe"), Some("int"));
    assert_eq!(type_of("span"), Some("timedelta"));
    let flag = infos.iter().find(|info| info.name == "flag").unwrap();
    assert_eq!(flag.cli, CliKind::Flag);
    assert_eq!((flag.default.unwrap())(), "False");
    let maybe = infos.iter().find(|info| info.name == "maybe").unwrap();
    assert_eq!((maybe.default.unwrap())(), "");
    assert!(infos.iter().find(|info| info.name == "day").unwrap().default.is_none());
}

#[test]
fn param_infos_step_enumerations_on_string_forms() {
    let infos = ParamTypesTask::param_infos();
    let next = |name: &str, value: &str| {
        let info = infos.iter().find(|info| info.name == name).unwrap();
        (info.next_in_enumeration)(value, &info.options)
    };
    assert_eq!(next("n", "9").as_deref(), Some("10"));
    assert_eq!(next("day", "2024-02-28").as_deref(), Some("2024-02-29"));
    // The hour parameter has `interval = 6`, so it steps by six hours.
    assert_eq!(next("hour", "2024-01-31T18").as_deref(), Some("2024-02-01T00"));
    assert_eq!(next("month", "2015-12").as_deref(), Some("2016-01"));
    assert_eq!(next("minute", "2015-01-01T2359").as_deref(), Some("2015-01-02T0000"));
    // Luigi's optional, numerical, choice, string and float parameters do not enumerate.
    assert_eq!(next("maybe", "3"), None);
    assert_eq!(next("bounded", "3"), None);
    assert_eq!(next("mode", "fast"), None);
    assert_eq!(next("note", "x"), None);
    assert_eq!(next("ratio", "0.5"), None);
    // Text that does not parse has no successor rather than an error.
    assert_eq!(next("n", "nine"), None);
}

#[test]
fn values_luigi_accepts_but_rust_cannot_hold_fail_clearly() {
    let options = ParamOptions::DEFAULT;
    let err = |result: Result<String, String>| result.unwrap_err();
    assert!(err(run::<Vec<Value>>("null", &options)).contains("null is not a list"));
    assert!(err(run::<Vec<Value>>("[NaN]", &options)).contains("NaN and Infinity"));
    assert!(err(run::<Value>("-Infinity", &options)).contains("NaN and Infinity"));
    assert!(err(run::<Vec<Value>>("[1e400]", &options)).contains("out of range"));
    assert!(err(run::<Vec<Value>>("[12345678901234567890123]", &options)).contains("64 bits"));
    assert!(err(run::<Value>(r#""\udc00""#, &options)).contains("surrogate"));
    assert!(err(run::<Map<String, Value>>("[1, 2]", &options)).contains("expected a JSON object"));
    assert!(err(run::<(Value, Value)>("(1, 2, 3)", &options)).contains("does not fit"));
    assert!(err(run::<TimeDelta>("1e20", &options)).contains("out of range"));
}
