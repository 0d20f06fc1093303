//! Recording and query scenarios, run once on SQLite (a temporary file) and once on PostgreSQL (a
//! private schema): the same engine calls must leave the same rows in both, and the queries must
//! read them back the same way.
//!
//! Each scenario checks the tables with raw SQL (what Python Luigi would read) as well as through
//! the store's queries (what our pages show).

use chrono::{Local, TimeZone};
use luigi_scheduler::history::{DbUrl, HistoryEvent, HistoryStore, Page, TaskHistory};

use crate::common::{PgSchema, T0, open, record, sqlite_url, task};

use HistoryEvent::{Done, Failed, Pending, Running};

/// A database to run a scenario on.
pub(crate) trait Fixture {
    /// The store URL.
    fn url(&self) -> DbUrl;
    /// Rows of a raw SQL query, every value as text.
    fn rows(&mut self, sql: &str) -> Vec<Vec<Option<String>>>;
    /// Runs raw SQL statements.
    fn execute(&mut self, sql: &str);
    /// Which backend.
    fn is_postgres(&self) -> bool;
}

/// A temporary SQLite file.
pub(crate) struct SqliteFixture {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
}

impl SqliteFixture {
    pub(crate) fn new() -> SqliteFixture {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("history.db");
        SqliteFixture { _dir: dir, path }
    }
}

impl Fixture for SqliteFixture {
    fn url(&self) -> DbUrl {
        sqlite_url(&self.path)
    }

    fn rows(&mut self, sql: &str) -> Vec<Vec<Option<String>>> {
        let conn = rusqlite::Connection::open(&self.path).expect("open the SQLite file");
        let mut stmt = conn.prepare(sql).expect("prepare");
        let n = stmt.column_count();
        stmt.query_map([], |row| {
            (0..n)
                .map(|i| {
                    Ok(match row.get_ref(i)? {
                        rusqlite::types::ValueRef::Null => None,
                        rusqlite::types::ValueRef::Integer(v) => Some(v.to_string()),
                        rusqlite::types::ValueRef::Real(v) => Some(v.to_string()),
                        rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => {
                            Some(String::from_utf8_lossy(t).into_owned())
                        }
                    })
                })
                .collect()
        })
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
    }

    fn execute(&mut self, sql: &str) {
        let conn = rusqlite::Connection::open(&self.path).expect("open the SQLite file");
        conn.execute_batch(sql).expect("execute");
    }

    fn is_postgres(&self) -> bool {
        false
    }
}

impl Fixture for PgSchema {
    fn url(&self) -> DbUrl {
        PgSchema::url(self)
    }

    fn rows(&mut self, sql: &str) -> Vec<Vec<Option<String>>> {
        self.query(sql)
    }

    fn execute(&mut self, sql: &str) {
        PgSchema::execute(self, sql);
    }

    fn is_postgres(&self) -> bool {
        true
    }
}

/// `at` as the naive local time text both backends show (`YYYY-MM-DD HH:MM:SS[.ffffff]`).
pub(crate) fn local(at: f64) -> String {
    let micros = (at * 1e6).round() as i64;
    let ts = Local.timestamp_micros(micros).single().expect("valid time").naive_local();
    if micros % 1_000_000 == 0 {
        ts.format("%Y-%m-%d %H:%M:%S").to_string()
    } else {
        ts.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
    }
}

fn s(v: &str) -> Option<String> {
    Some(v.to_owned())
}

/// A raw timestamp column in the form [`local`] gives (SQLite rows hold `.000000`; PostgreSQL's
/// text trims trailing zeros).
fn ts_text(raw: &Option<String>) -> String {
    let raw = raw.as_deref().expect("a timestamp");
    let ts = chrono::NaiveDateTime::parse_from_str(raw, "%Y-%m-%d %H:%M:%S%.f").expect("a timestamp text");
    let at = ts.and_local_timezone(Local).single().expect("an unambiguous local time").timestamp_micros();
    local(at as f64 / 1e6)
}

fn flush(store: &HistoryStore) {
    store.flush().expect("flush");
    let stats = store.stats();
    assert_eq!(stats.failed, 0, "{stats:?}");
    assert_eq!(stats.dropped, 0, "{stats:?}");
}

/// PENDING → RUNNING(host) → DONE, and FAILED then a retry that succeeds on another host.
pub(crate) fn lifecycle(f: &mut dyn Fixture) {
    let store = open(f.url(), T0 + 3600.0);
    let a = task("A_x_1234", "A", &[("x", "1"), ("hidden", "secret"), ("text", "ünï 'q' \"d\"")]);
    let b = task("B__99914b932b", "B", &[]);
    record(&store, &a, Pending, None, T0);
    record(&store, &b, Pending, None, T0 + 1.0);
    record(&store, &a, Running, Some("h1"), T0 + 2.0);
    record(&store, &a, Done, None, T0 + 12.5);
    record(&store, &b, Running, Some("h1"), T0 + 3.0);
    record(&store, &b, Failed, None, T0 + 4.0);
    record(&store, &b, Pending, None, T0 + 100.0);
    record(&store, &b, Running, Some("h2"), T0 + 101.0);
    record(&store, &b, Done, Some(""), T0 + 161.0);
    flush(&store);
    assert_eq!(store.stats().written, 9);

    // The raw rows, as Python's DbTaskHistory reads them.
    assert_eq!(
        f.rows("SELECT id, task_id, name, host FROM tasks ORDER BY id"),
        vec![vec![s("1"), s("A_x_1234"), s("A"), s("h1")], vec![s("2"), s("B__99914b932b"), s("B"), s("h2")],]
    );
    assert_eq!(
        f.rows("SELECT task_id, name, value FROM task_parameters ORDER BY task_id, name"),
        vec![
            vec![s("1"), s("hidden"), s("secret")],
            vec![s("1"), s("text"), s("ünï 'q' \"d\"")],
            vec![s("1"), s("x"), s("1")],
        ]
    );
    let events = f.rows("SELECT task_id, event_name, ts FROM task_events ORDER BY id");
    let events: Vec<(String, String, String)> = events
        .iter()
        .map(|r| (r[0].clone().unwrap_or_default(), r[1].clone().unwrap_or_default(), ts_text(&r[2])))
        .collect();
    let expect = |row: &str, event: &str, at: f64| (row.to_owned(), event.to_owned(), local(at));
    assert_eq!(
        events,
        vec![
            expect("1", "PENDING", T0),
            expect("2", "PENDING", T0 + 1.0),
            expect("1", "RUNNING", T0 + 2.0),
            expect("1", "DONE", T0 + 12.5),
            expect("2", "RUNNING", T0 + 3.0),
            expect("2", "FAILED", T0 + 4.0),
            expect("2", "PENDING", T0 + 100.0),
            expect("2", "RUNNING", T0 + 101.0),
            expect("2", "DONE", T0 + 161.0),
        ]
    );
    if !f.is_postgres() {
        // SQLAlchemy's SQLite text form: always six fractional digits.
        let raw = f.rows("SELECT ts FROM task_events WHERE id = 1");
        assert_eq!(raw[0][0].as_deref().map(str::len), Some(26), "{raw:?}");
    }

    // The same through the queries.
    let run = store.run(1, Page::first()).expect("query").expect("run 1");
    assert_eq!(
        (run.task_id.as_deref(), run.name.as_deref(), run.host.as_deref()),
        (Some("A_x_1234"), Some("A"), Some("h1"))
    );
    let params: Vec<(&str, Option<&str>)> = run.parameters.iter().map(|(k, v)| (k.as_str(), v.as_deref())).collect();
    assert_eq!(params, [("hidden", Some("secret")), ("text", Some("ünï 'q' \"d\"")), ("x", Some("1"))]);
    let names: Vec<_> = run.events.items.iter().map(|e| e.name.clone().unwrap_or_default()).collect();
    assert_eq!(names, ["DONE", "RUNNING", "PENDING"]);
    assert_eq!(run.events.items[0].ts.to_string(), local(T0 + 12.5));
    assert!((run.events.items[0].ts.epoch() - (T0 + 12.5)).abs() < 1e-6);
    assert!(!run.events.has_more);

    let recent = store.recent_runs(Page::first()).expect("recent");
    let ids: Vec<i64> = recent.items.iter().map(|r| r.id).collect();
    assert_eq!(ids, [2, 1]);
    assert_eq!(recent.items[0].status.as_deref(), Some("DONE"));
    assert_eq!(recent.items[0].last_action.map(|t| t.to_string()), Some(local(T0 + 161.0)));
    assert_eq!(recent.items[1].parameters.len(), 3);

    let latest = store.latest_run_for_task_id("B__99914b932b", Page::first()).expect("query").expect("B");
    assert_eq!(latest.id, 2);
    assert!(store.latest_run_for_task_id("nope", Page::first()).expect("query").is_none());
    assert!(store.run(99, Page::first()).expect("query").is_none());

    let families = store.families(Page::first()).expect("families");
    let families: Vec<(String, i64)> = families.items.into_iter().map(|f| (f.name, f.runs)).collect();
    assert_eq!(families, [("A".to_owned(), 1), ("B".to_owned(), 1)]);

    let timeline = store.timeline("B", Page::first()).expect("timeline");
    let got: Vec<(Option<String>, Option<f64>)> =
        timeline.items.iter().map(|e| (e.outcome.clone(), e.duration_secs())).collect();
    assert_eq!(got, [(s("DONE"), Some(60.0)), (s("FAILED"), Some(1.0))]);
    assert_eq!(timeline.items[0].host.as_deref(), Some("h2"));
}

/// The same task id appends to its row within one process; a restart starts a new row.
pub(crate) fn restart_creates_new_row(f: &mut dyn Fixture) {
    let a = task("A_1", "A", &[("n", "1")]);
    {
        let store = open(f.url(), T0 + 3600.0);
        record(&store, &a, Pending, None, T0);
        record(&store, &a, Running, Some("h1"), T0 + 1.0);
        flush(&store);
    }
    {
        let store = open(f.url(), T0 + 3600.0);
        record(&store, &a, Pending, None, T0 + 10.0);
        record(&store, &a, Pending, None, T0 + 11.0);
        flush(&store);
        let runs = store.runs_by_name("A", Page::first()).expect("by name");
        let ids: Vec<i64> = runs.items.iter().map(|r| r.id).collect();
        assert_eq!(ids, [2, 1]);
        // The new row starts without a host: Luigi only learns it from RUNNING.
        assert_eq!(runs.items[0].host, None);
        assert_eq!(runs.items[1].host.as_deref(), Some("h1"));
        let latest = store.latest_run_for_task_id("A_1", Page::first()).expect("query").expect("A");
        assert_eq!((latest.id, latest.events.items.len()), (2, 2));
    }
    assert_eq!(f.rows("SELECT COUNT(*) FROM task_parameters"), vec![vec![s("2")]]);
}

/// `by_params` matches exact stored strings, all given pairs, and treats input only as data.
pub(crate) fn params_match(f: &mut dyn Fixture) {
    let store = open(f.url(), T0 + 3600.0);
    let tricky = "' OR 1=1 --";
    let tasks = [
        task("F_1", "F", &[("a", "1"), ("b", "x")]),
        task("F_2", "F", &[("a", "1"), ("b", "y")]),
        task("F_3", "F", &[("a", "2"), ("b", "x")]),
        task("F_4", "F", &[("a", tricky), ("b", "%")]),
        task("G_1", "G", &[("a", "1"), ("b", "x")]),
    ];
    for (i, t) in tasks.iter().enumerate() {
        record(&store, t, Pending, None, T0 + i as f64);
    }
    flush(&store);
    let ids = |name: &str, params: &[(&str, &str)]| -> Vec<i64> {
        let params: Vec<(String, String)> = params.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        store.runs_by_params(name, &params, Page::first()).expect("by params").items.iter().map(|r| r.id).collect()
    };
    assert_eq!(ids("F", &[("a", "1")]), [2, 1]);
    assert_eq!(ids("F", &[("a", "1"), ("b", "x")]), [1]);
    assert_eq!(ids("F", &[("b", "x")]), [3, 1]);
    assert_eq!(ids("F", &[]), [4, 3, 2, 1]);
    assert_eq!(ids("F", &[("a", tricky)]), [4]);
    assert_eq!(ids("F", &[("b", "_")]), Vec::<i64>::new());
    assert_eq!(ids("F", &[("a", "1"), ("missing", "1")]), Vec::<i64>::new());
    assert_eq!(ids("F' OR '1'='1", &[]), Vec::<i64>::new());
    assert_eq!(ids("G", &[("a", "1")]), [5]);
    let too_many: Vec<(String, String)> = (0..40).map(|i| (format!("p{i}"), "v".to_owned())).collect();
    assert!(store.runs_by_params("F", &too_many, Page::first()).is_err());
}

/// Lists and events come in pages, with `has_more` telling whether another page exists.
pub(crate) fn pagination(f: &mut dyn Fixture) {
    let store = open(f.url(), T0 + 3600.0);
    for i in 0..250 {
        record(&store, &task(&format!("P_{i}"), "P", &[("i", &i.to_string())]), Pending, None, T0 + i as f64);
    }
    let busy = task("Busy_1", "Busy", &[]);
    for i in 0..25 {
        let event = if i % 2 == 0 { Running } else { Failed };
        record(&store, &busy, event, Some("h"), T0 + 1000.0 + i as f64);
    }
    flush(&store);
    let page = |n: u32| store.runs_by_name("P", Page::new(n, 100)).expect("page");
    let (p1, p2, p3, p4) = (page(1), page(2), page(3), page(4));
    assert_eq!((p1.items.len(), p1.has_more), (100, true));
    assert_eq!((p2.items.len(), p2.has_more), (100, true));
    assert_eq!((p3.items.len(), p3.has_more), (50, false));
    assert_eq!((p4.items.len(), p4.has_more), (0, false));
    let mut all: Vec<i64> = [p1, p2, p3].iter().flat_map(|p| p.items.iter().map(|r| r.id)).collect();
    assert_eq!(all.first(), Some(&250));
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), 250);

    let recent = store.recent_runs(Page::new(1, 1000)).expect("recent");
    assert_eq!((recent.items.len(), recent.has_more), (251, false));
    assert_eq!(recent.items[0].task_id.as_deref(), Some("Busy_1"));

    let events = |n: u32| store.run(251, Page::new(n, 10)).expect("run").expect("busy run").events;
    let (e1, e3) = (events(1), events(3));
    assert_eq!((e1.items.len(), e1.has_more), (10, true));
    assert_eq!((e3.items.len(), e3.has_more), (5, false));
    assert_eq!(e1.items[0].name.as_deref(), Some("RUNNING"));
    assert!(e1.items.windows(2).all(|w| w[0].ts >= w[1].ts));

    let timeline = store.timeline("Busy", Page::new(2, 5)).expect("timeline");
    assert_eq!((timeline.items.len(), timeline.has_more), (5, true));
    assert!(timeline.items.iter().all(|e| e.outcome.as_deref() == Some("FAILED") && e.duration_secs() == Some(1.0)));
    let last = store.timeline("Busy", Page::new(3, 5)).expect("timeline");
    assert_eq!((last.items.len(), last.has_more), (3, false));
    // The newest execution overall has not finished yet.
    let first = store.timeline("Busy", Page::new(1, 1)).expect("timeline");
    assert_eq!((first.items[0].outcome.as_deref(), first.items[0].ended), (None, None));

    let families = store.families(Page::new(1, 1)).expect("families");
    assert_eq!((families.items[0].name.as_str(), families.has_more), ("Busy", true));
}

/// `/history` shows only runs with an event in the last 24 hours of the store's clock.
pub(crate) fn recent_window(f: &mut dyn Fixture) {
    let now = T0 + 10.0 * 86400.0;
    let store = open(f.url(), now);
    record(&store, &task("Old_1", "Old", &[]), Pending, None, now - 2.0 * 86400.0);
    let revived = task("Revived_1", "Revived", &[]);
    record(&store, &revived, Pending, None, now - 3.0 * 86400.0);
    record(&store, &revived, Running, Some("h"), now - 3600.0);
    record(&store, &task("New_1", "New", &[]), Pending, None, now - 60.0);
    record(&store, &task("Edge_1", "Edge", &[]), Pending, None, now - 86400.0 + 1.0);
    flush(&store);
    let recent = store.recent_runs(Page::first()).expect("recent");
    let names: Vec<&str> = recent.items.iter().filter_map(|r| r.name.as_deref()).collect();
    assert_eq!(names, ["New", "Revived", "Edge"]);
    assert_eq!(recent.items[1].status.as_deref(), Some("RUNNING"));
}

/// Tables written by an older Luigi are upgraded the way Luigi upgrades them, and keep working.
pub(crate) fn migration_from_old_schema(f: &mut dyn Fixture) {
    let serial = if f.is_postgres() { "SERIAL" } else { "INTEGER" };
    f.execute(&format!(
        "CREATE TABLE tasks (id {serial} NOT NULL, name VARCHAR(128), host VARCHAR(128), PRIMARY KEY (id));
         CREATE TABLE task_parameters (task_id INTEGER NOT NULL, name VARCHAR(128) NOT NULL, value VARCHAR(256),
             PRIMARY KEY (task_id, name), FOREIGN KEY(task_id) REFERENCES tasks (id));
         CREATE TABLE task_events (id {serial} NOT NULL, task_id INTEGER, event_name VARCHAR(20),
             ts TIMESTAMP NOT NULL, PRIMARY KEY (id), FOREIGN KEY(task_id) REFERENCES tasks (id));
         INSERT INTO tasks (name, host) VALUES ('Legacy', 'oldhost');
         INSERT INTO task_parameters VALUES (1, 'p', 'v');
         INSERT INTO task_events (task_id, event_name, ts) VALUES (1, 'DONE', '2020-01-02 03:04:05');"
    ));
    let long_value = "v".repeat(300);
    {
        let store = open(f.url(), T0 + 3600.0);
        record(&store, &task("New_1", "New", &[("long", &long_value)]), Pending, None, T0);
        flush(&store);
        let legacy = store.run(1, Page::first()).expect("query").expect("legacy run");
        assert_eq!(
            (legacy.task_id, legacy.name.as_deref(), legacy.host.as_deref()),
            (None, Some("Legacy"), Some("oldhost"))
        );
        assert_eq!(legacy.events.items[0].ts.to_string(), "2020-01-02 03:04:05");
        let new = store.latest_run_for_task_id("New_1", Page::first()).expect("query").expect("new run");
        assert_eq!(new.parameters[0].1.as_deref(), Some(long_value.as_str()));
    }
    // The index Luigi's upgrade adds, and (PostgreSQL) the widened column.
    let index = if f.is_postgres() {
        f.rows("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND indexname = 'ix_task_id'")
    } else {
        f.rows("SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'ix_task_id'")
    };
    assert_eq!(index, vec![vec![s("ix_task_id")]]);
    if f.is_postgres() {
        let ty = f.rows(
            "SELECT data_type FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = 'task_parameters' AND column_name = 'value'",
        );
        assert_eq!(ty, vec![vec![s("text")]]);
    }
    // Opening again changes nothing more.
    drop(open(f.url(), T0));
}

/// A record that the database rejects costs only itself (PostgreSQL enforces VARCHAR(128) on names).
pub(crate) fn bad_record_is_isolated(f: &mut dyn Fixture) {
    let store = open(f.url(), T0 + 3600.0);
    let long_family = "F".repeat(300);
    record(&store, &task("Good_1", "Good", &[]), Pending, None, T0);
    record(&store, &task("Long_1", &long_family, &[]), Pending, None, T0 + 1.0);
    record(&store, &task("Good_2", "Good", &[]), Pending, None, T0 + 2.0);
    store.flush().expect("flush");
    let stats = store.stats();
    let good = store.runs_by_name("Good", Page::first()).expect("query").items.len();
    assert_eq!(good, 2);
    if f.is_postgres() {
        assert_eq!((stats.written, stats.failed), (2, 1), "{stats:?}");
    } else {
        // SQLite does not enforce VARCHAR lengths, exactly as with Python's luigid.
        assert_eq!((stats.written, stats.failed), (3, 0), "{stats:?}");
    }
    // The good records after the bad one still land, and later events reuse the good rows.
    record(&store, &task("Good_1", "Good", &[]), Done, Some("h"), T0 + 3.0);
    store.flush().expect("flush");
    let run = store.latest_run_for_task_id("Good_1", Page::first()).expect("query").expect("Good_1");
    assert_eq!((run.host.as_deref(), run.events.items.len()), (Some("h"), 2));
}

/// Runs `$scenario` on SQLite and on PostgreSQL.
macro_rules! on_both {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $scenario() {
                    super::$scenario(&mut super::SqliteFixture::new());
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                fn $scenario() {
                    let Some(mut schema) = crate::common::PgSchema::create() else { return };
                    super::$scenario(&mut schema);
                }
            )*
        }
    };
}

on_both!(
    lifecycle,
    restart_creates_new_row,
    params_match,
    pagination,
    recent_window,
    migration_from_old_schema,
    bad_record_is_isolated
);

/// The in-memory database (`sqlite://`) is shared by the writer and the pages, and starts empty.
#[test]
fn sqlite_in_memory() {
    let store = open(DbUrl::parse("sqlite://").expect("url"), T0 + 60.0);
    record(&store, &task("M_1", "M", &[("k", "v")]), Pending, None, T0);
    store.flush().expect("flush");
    let runs = store.recent_runs(Page::first()).expect("recent");
    assert_eq!(runs.items.len(), 1);
    assert_eq!(runs.items[0].parameters, vec![("k".to_owned(), Some("v".to_owned()))]);
    let other = open(DbUrl::parse("sqlite://").expect("url"), T0 + 60.0);
    assert!(other.recent_runs(Page::first()).expect("recent").items.is_empty());
}

/// Opening fails clearly when the database cannot be reached, and unsupported URLs are refused.
#[test]
fn open_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, b"not a directory").expect("write");
    let url = sqlite_url(&blocker.join("history.db"));
    let err = luigi_scheduler::history::HistoryStore::open(luigi_scheduler::history::HistoryConfig::new(url))
        .expect_err("a path under a file cannot be opened");
    assert!(err.to_string().contains("cannot open the task history database"), "{err}");

    let garbage = dir.path().join("garbage.db");
    std::fs::write(&garbage, vec![7u8; 4096]).expect("write");
    let err = luigi_scheduler::history::HistoryStore::open(luigi_scheduler::history::HistoryConfig::new(sqlite_url(
        &garbage,
    )))
    .expect_err("not a database");
    assert!(!err.to_string().is_empty());

    let mut config = luigi_scheduler::history::HistoryConfig::new(
        DbUrl::parse("postgresql://nobody:pw@127.0.0.1:1/none?connect_timeout=2").expect("url"),
    );
    config.queue_size = 4;
    let err = luigi_scheduler::history::HistoryStore::open(config).expect_err("nothing listens on port 1");
    let message = err.to_string();
    assert!(message.contains("postgresql://nobody:***@127.0.0.1:1/none") && !message.contains(":pw@"), "{message}");
}

/// The store is usable through the engine's trait object.
#[test]
fn usable_as_trait_object() {
    let store: std::sync::Arc<dyn TaskHistory> = std::sync::Arc::new(open(DbUrl::parse("sqlite://").expect("url"), T0));
    store.record(task("T_1", "T", &[]), Pending, None, T0);
}
