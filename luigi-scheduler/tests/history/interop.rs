//! Interoperability with Python Luigi 3.8.1's task history, both ways.
//!
//! - Python → us: `tests/data/history/python_luigid.db` (SQLite) and `python_luigid_pg.sql`
//!   (a PostgreSQL dump) were written by Python's luigid while real Python workers ran a small
//!   pipeline (see `generate.py` there); `python_luigid*.json` record what Python's `DbTaskHistory`
//!   query API reads from them. Our store must read the same runs, parameters and events, and keep
//!   writing into those databases. These tests need no Python.
//! - us → Python: we write a history, then `check_db.py` (Python Luigi's `DbTaskHistory`) reads it,
//!   and also writes into it; we compare what Python reads with what our queries say, and read back
//!   what Python wrote. These tests need the Python peer (see `common::python`).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use luigi_scheduler::history::{DbUrl, HistoryEvent, HistoryStore, Page};
use serde_json::Value;

use crate::common::{PgSchema, data_dir, open, python, record, sqlite_url, task};

use HistoryEvent::{Done, Failed, Pending, Running};

/// One run as Python's `check_db.py` describes it.
#[derive(Debug, PartialEq)]
struct PyRun {
    id: i64,
    task_id: Option<String>,
    name: Option<String>,
    host: Option<String>,
    parameters: BTreeMap<String, Option<String>>,
    events: Vec<(String, String)>,
}

fn py_runs(described: &Value) -> Vec<PyRun> {
    let text = |v: &Value| v.as_str().map(str::to_owned);
    described["all_runs"]
        .as_array()
        .expect("all_runs")
        .iter()
        .map(|r| PyRun {
            id: r["id"].as_i64().expect("id"),
            task_id: text(&r["task_id"]),
            name: text(&r["name"]),
            host: text(&r["host"]),
            parameters: r["parameters"]
                .as_object()
                .expect("parameters")
                .iter()
                .map(|(k, v)| (k.clone(), text(v)))
                .collect(),
            events: r["events"]
                .as_array()
                .expect("events")
                .iter()
                .map(|e| (e[0].as_str().unwrap_or_default().to_owned(), e[1].as_str().unwrap_or_default().to_owned()))
                .collect(),
        })
        .collect()
}

/// Our view of run `id`, in the same shape.
fn our_run(store: &HistoryStore, id: i64) -> PyRun {
    let run = store.run(id, Page::new(1, 1000)).expect("query").unwrap_or_else(|| panic!("run {id} is missing"));
    PyRun {
        id: run.id,
        task_id: run.task_id,
        name: run.name,
        host: run.host,
        parameters: run.parameters.into_iter().collect(),
        events: run.events.items.into_iter().map(|e| (e.name.unwrap_or_default(), e.ts.to_string())).collect(),
    }
}

fn ids(v: &Value) -> Vec<i64> {
    v.as_array().expect("a list of ids").iter().map(|id| id.as_i64().expect("an id")).collect()
}

fn sorted(mut v: Vec<i64>) -> Vec<i64> {
    v.sort_unstable();
    v
}

/// Compares everything Python's `DbTaskHistory` read (`described`) with what our store reads.
fn assert_reads_like_python(store: &HistoryStore, described: &Value) {
    let runs = py_runs(described);
    assert!(!runs.is_empty());
    for py in &runs {
        assert_eq!(&our_run(store, py.id), py, "run {}", py.id);
    }
    let ours: Vec<i64> = store.recent_runs(Page::new(1, 1000)).expect("recent").items.iter().map(|r| r.id).collect();
    assert_eq!(ours, ids(&described["latest_runs"]), "recent runs");
    for (name, py_ids) in described["by_name"].as_object().expect("by_name") {
        let ours: Vec<i64> =
            store.runs_by_name(name, Page::new(1, 1000)).expect("by name").items.iter().map(|r| r.id).collect();
        // Python lists oldest first; we list newest first. The runs are the same.
        assert_eq!(sorted(ours), sorted(ids(py_ids)), "by_name {name}");
    }
    for (task_id, py_id) in described["by_task_id"].as_object().expect("by_task_id") {
        let ours = store.latest_run_for_task_id(task_id, Page::first()).expect("query").map(|r| r.id);
        assert_eq!(ours, py_id.as_i64(), "by_task_id {task_id}");
    }
    for (id, py_ids) in described["by_params"].as_object().expect("by_params") {
        let run = our_run(store, id.parse().expect("an id"));
        let params: Vec<(String, String)> =
            run.parameters.into_iter().map(|(k, v)| (k, v.unwrap_or_default())).collect();
        let name = run.name.expect("a family");
        let ours: Vec<i64> = store
            .runs_by_params(&name, &params, Page::new(1, 1000))
            .expect("by params")
            .items
            .iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(sorted(ours), sorted(ids(py_ids)), "by_params of run {id}");
    }
}

fn read_json(name: &str) -> Value {
    let text = std::fs::read_to_string(data_dir().join(name)).expect("reference JSON");
    serde_json::from_str(&text).expect("valid JSON")
}

fn described_at(described: &Value) -> f64 {
    described["described_at_epoch"].as_f64().expect("described_at_epoch")
}

/// After reading, keep writing into a database Python created: ids continue, a known task id gets a
/// new row (new process), and the rows look like Python's.
fn write_after_python(store: &HistoryStore, described: &Value) {
    let max_id = py_runs(described).iter().map(|r| r.id).max().expect("runs");
    // Stored times are naive local times of whoever wrote them; two days later is later than
    // Python's rows whatever this machine's time zone.
    let at = described_at(described) + 2.0 * 86_400.0;
    let leaf = task("HistoryLeaf_1_f4fe3360f0", "HistoryLeaf", &[("n", "1"), ("note", "insignificant")]);
    record(store, &leaf, Pending, None, at - 1.0);
    record(store, &leaf, Running, Some("rust-host"), at - 0.5);
    store.flush().expect("flush");
    let latest = store.latest_run_for_task_id(&leaf.task_id, Page::first()).expect("query").expect("the new run");
    assert_eq!(latest.id, max_id + 1);
    assert_eq!(latest.host.as_deref(), Some("rust-host"));
    let by_name = store.runs_by_name("HistoryLeaf", Page::first()).expect("by name");
    assert_eq!(by_name.items.len(), 3);
    assert_eq!(by_name.items[0].id, max_id + 1);
}

#[test]
fn python_sqlite_database_reads_as_python_reads_it() {
    let described = read_json("python_luigid.json");
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("python_luigid.db");
    std::fs::copy(data_dir().join("python_luigid.db"), &db).expect("copy the reference database");
    let store = open(sqlite_url(&db), described_at(&described));
    assert_reads_like_python(&store, &described);
    write_after_python(&store, &described);
}

#[test]
fn python_postgres_database_reads_as_python_reads_it() {
    let Some(mut schema) = PgSchema::create() else { return };
    let dump = std::fs::read_to_string(data_dir().join("python_luigid_pg.sql")).expect("reference dump");
    let dump: String = dump
        .lines()
        .filter(|line| !line.starts_with("CREATE SCHEMA"))
        .map(|line| line.replace("luigi_py_history", &schema.name) + "\n")
        .collect();
    schema.execute(&dump);
    let described = read_json("python_luigid_pg.json");
    let store = open(schema.url(), described_at(&described));
    assert_reads_like_python(&store, &described);
    write_after_python(&store, &described);
}

/// Our SQLite schema is byte-for-byte the one SQLAlchemy creates for Luigi.
#[test]
fn sqlite_schema_is_luigis() {
    let schema = |path: &Path| -> Vec<(String, String, Option<String>)> {
        let conn = rusqlite::Connection::open(path).expect("open");
        let mut stmt = conn
            .prepare("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name")
            .expect("prepare");
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows")
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let ours = dir.path().join("ours.db");
    drop(open(sqlite_url(&ours), 0.0));
    assert_eq!(schema(&ours), schema(&data_dir().join("python_luigid.db")));
}

/// Our PostgreSQL tables have the columns, types, defaults, keys and indexes Python's luigid makes.
#[test]
fn postgres_schema_is_luigis() {
    let Some(mut python_made) = PgSchema::create() else { return };
    let Some(mut ours) = PgSchema::create() else { return };
    let dump = std::fs::read_to_string(data_dir().join("python_luigid_pg.sql")).expect("reference dump");
    let dump: String = dump
        .lines()
        .filter(|line| !line.starts_with("CREATE SCHEMA") && !line.starts_with("INSERT") && !line.contains("setval"))
        .map(|line| line.replace("luigi_py_history", &python_made.name) + "\n")
        .collect();
    python_made.execute(&dump);
    drop(open(ours.url(), 0.0));
    let describe = |schema: &mut PgSchema| {
        let mut out = schema.query(
            "SELECT table_name, column_name, data_type, character_maximum_length::text, is_nullable, \
             replace(column_default, current_schema() || '.', '') \
             FROM information_schema.columns WHERE table_schema = current_schema() ORDER BY table_name, column_name",
        );
        out.extend(schema.query(
            "SELECT tablename, indexname, replace(indexdef, current_schema() || '.', '') FROM pg_indexes \
             WHERE schemaname = current_schema() ORDER BY indexname",
        ));
        out.extend(schema.query(
            "SELECT conrelid::regclass::text, contype::text, pg_get_constraintdef(oid) FROM pg_constraint \
             WHERE connamespace = current_schema()::regnamespace ORDER BY conrelid::regclass::text, contype",
        ));
        out
    };
    assert_eq!(describe(&mut ours), describe(&mut python_made));
}

/// Writes a small history "now", so Python's last-24-hours query sees it too.
fn write_ours(store: &HistoryStore, now: f64) {
    let a = task("Ours_a_1", "Ours", &[("a", "1"), ("html", "<script>alert(1)</script>")]);
    let b = task("Ours_a_2", "Ours", &[("a", "2")]);
    let c = task("Other__99914b932b", "Other", &[]);
    record(store, &a, Pending, None, now - 30.0);
    record(store, &b, Pending, None, now - 29.0);
    record(store, &c, Pending, None, now - 28.5);
    record(store, &a, Running, Some("rust-host"), now - 28.0);
    record(store, &a, Done, None, now - 20.123456);
    record(store, &b, Running, Some("rust-host"), now - 19.0);
    record(store, &b, Failed, None, now - 18.0);
    store.flush().expect("flush");
}

/// Runs `check_db.py` (Python's `DbTaskHistory`) on `url`, writing through it first.
fn python_describe(python: &Path, url: &str) -> Value {
    let out = std::process::Command::new(python)
        .arg(data_dir().join("check_db.py"))
        .arg(url)
        .arg("--write")
        .output()
        .expect("run check_db.py");
    assert!(out.status.success(), "check_db.py failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("check_db.py prints JSON")
}

fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_secs_f64()
}

/// After Python read our database (and wrote into it), both sides agree on everything.
fn check_python_reads_ours(url: DbUrl, python_url: &str, python: &Path) {
    let now = now();
    {
        let store = open(url.clone(), now);
        write_ours(&store, now);
    }
    let described = python_describe(python, python_url);
    let store = open(url, described_at(&described));
    assert_reads_like_python(&store, &described);
    // Python's write is visible to us, appended after our rows, in Luigi's shape.
    let wrote = store.latest_run_for_task_id("PythonWrote_1_abc", Page::first()).expect("query").expect("Python's run");
    assert_eq!(wrote.id, 4);
    assert_eq!((wrote.name.as_deref(), wrote.host.as_deref()), (Some("PythonWrote"), Some("python-host")));
    assert_eq!(wrote.parameters, vec![("x".to_owned(), Some("1".to_owned()))]);
    let events: Vec<_> = wrote.events.items.iter().map(|e| e.name.clone().unwrap_or_default()).collect();
    assert_eq!(events, ["DONE", "RUNNING", "PENDING"]);
    assert_eq!(py_runs(&described).len(), 4);
}

#[test]
fn python_reads_and_writes_our_sqlite_database() {
    let Some(python) = python(false) else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("ours.db");
    check_python_reads_ours(sqlite_url(&db), &format!("sqlite:///{}", db.display()), &python);
}

#[test]
fn python_reads_and_writes_our_postgres_database() {
    let Some(python) = python(true) else { return };
    let Some(schema) = PgSchema::create() else { return };
    check_python_reads_ours(schema.url(), &schema.url_string(), &python);
}
