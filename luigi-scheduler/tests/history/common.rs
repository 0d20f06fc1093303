//! Shared helpers: building records, opening stores on temporary SQLite files or on a private
//! PostgreSQL schema, and finding the services and tools the interop tests need.
//!
//! PostgreSQL tests each get a schema of their own (`search_path` in the URL's `options`), dropped
//! when the test ends, so they run in parallel against the one `test` database without seeing each
//! other. A missing service skips the test locally and fails it when
//! `LUIGI_TEST_REQUIRE_SERVICES=1` (as CI sets).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use luigi_scheduler::clock::ManualClock;
use luigi_scheduler::history::{DbUrl, HistoryConfig, HistoryEvent, HistoryStore, HistoryTask, TaskHistory};

/// Where the tests find PostgreSQL unless `LUIGI_TEST_PG_URL` says otherwise (design §4).
pub(crate) const DEFAULT_PG_URL: &str = "postgresql://postgres@127.0.0.1:5432/test";

/// A moment in the test data: 2026-01-15 12:00:00 UTC.
pub(crate) const T0: f64 = 1_768_478_400.0;

/// Whether unreachable services must fail tests rather than skip them.
pub(crate) fn services_required() -> bool {
    std::env::var("LUIGI_TEST_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

/// Skips (returns `None`) or fails, per `LUIGI_TEST_REQUIRE_SERVICES`.
pub(crate) fn unavailable<T>(what: &str) -> Option<T> {
    if services_required() {
        panic!("{what} (LUIGI_TEST_REQUIRE_SERVICES=1, so this fails instead of skipping)");
    }
    eprintln!("skipping: {what}");
    None
}

/// A task record.
pub(crate) fn task(task_id: &str, family: &str, params: &[(&str, &str)]) -> HistoryTask {
    HistoryTask {
        task_id: task_id.to_owned(),
        family: family.to_owned(),
        params: params.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
    }
}

/// Records one event.
pub(crate) fn record(store: &HistoryStore, t: &HistoryTask, event: HistoryEvent, host: Option<&str>, at: f64) {
    store.record(t.clone(), event, host.map(str::to_owned), at);
}

/// A store on `url` whose clock reads `now`.
pub(crate) fn open(url: DbUrl, now: f64) -> HistoryStore {
    let mut config = HistoryConfig::new(url);
    config.clock = Arc::new(ManualClock::new(now));
    HistoryStore::open(config).expect("open the history store")
}

/// An SQLite file URL.
pub(crate) fn sqlite_url(path: &Path) -> DbUrl {
    DbUrl::parse(&format!("sqlite:///{}", path.display())).expect("sqlite URL")
}

/// The PostgreSQL server URL for tests.
pub(crate) fn pg_base_url() -> String {
    std::env::var("LUIGI_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_PG_URL.to_owned())
}

/// A private PostgreSQL schema, dropped on drop.
pub(crate) struct PgSchema {
    pub(crate) name: String,
    admin: Option<postgres::Client>,
}

impl PgSchema {
    /// Creates a fresh schema, or `None` (skip) when PostgreSQL is unreachable.
    pub(crate) fn create() -> Option<PgSchema> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let base = pg_base_url();
        let mut admin = match postgres::Client::connect(&base, postgres::NoTls) {
            Ok(client) => client,
            Err(err) => return unavailable(&format!("PostgreSQL at {base} is unreachable: {err}")),
        };
        let name = format!(
            "luigi_history_test_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            fastrand::u32(..)
        );
        admin.batch_execute(&format!("CREATE SCHEMA {name}")).expect("create a test schema");
        Some(PgSchema { name, admin: Some(admin) })
    }

    /// The URL of a connection whose `search_path` is this schema.
    pub(crate) fn url_string(&self) -> String {
        format!("{}?options=-csearch_path%3D{}", pg_base_url(), self.name)
    }

    /// [`PgSchema::url_string`] parsed.
    pub(crate) fn url(&self) -> DbUrl {
        DbUrl::parse(&self.url_string()).expect("postgres URL")
    }

    /// Runs SQL in this schema.
    pub(crate) fn execute(&mut self, sql: &str) {
        let admin = self.admin.as_mut().expect("admin connection");
        admin.batch_execute(&format!("SET search_path TO {}; {sql}", self.name)).expect("run SQL in the test schema");
    }

    /// Runs a query in this schema and returns its rows as text.
    pub(crate) fn query(&mut self, sql: &str) -> Vec<Vec<Option<String>>> {
        let admin = self.admin.as_mut().expect("admin connection");
        admin.batch_execute(&format!("SET search_path TO {}", self.name)).expect("set search_path");
        admin
            .simple_query(sql)
            .expect("query the test schema")
            .into_iter()
            .filter_map(|m| match m {
                postgres::SimpleQueryMessage::Row(row) => {
                    Some((0..row.len()).map(|i| row.get(i).map(str::to_owned)).collect())
                }
                _ => None,
            })
            .collect()
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        if let Some(mut admin) = self.admin.take() {
            let _ = admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
        }
    }
}

/// The directory of the committed reference data.
pub(crate) fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/history")
}

/// A Python with luigi 3.8.1 and SQLAlchemy (and psycopg2 when `postgres`), or `None` (skip).
pub(crate) fn python(postgres: bool) -> Option<PathBuf> {
    let python = std::env::var_os("LUIGI_PYTHON").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/luigi-rs/venv/bin/python")
    });
    let imports = if postgres { "import luigi, sqlalchemy, psycopg2" } else { "import luigi, sqlalchemy" };
    let check = format!("{imports}; assert luigi.__version__ == '3.8.1', luigi.__version__");
    match std::process::Command::new(&python).args(["-c", &check]).output() {
        Ok(out) if out.status.success() => Some(python),
        Ok(out) => unavailable(&format!(
            "{} cannot run the interop check ({check}): {}; install luigi==3.8.1 \"sqlalchemy<1.4\" psycopg2-binary \
             or set LUIGI_PYTHON",
            python.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(err) => unavailable(&format!("cannot run {}: {err}; set LUIGI_PYTHON", python.display())),
    }
}
