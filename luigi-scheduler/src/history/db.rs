//! The two database backends behind one small interface: SQLite (rusqlite) and PostgreSQL (the sync
//! `postgres` crate).
//!
//! [`Database`] is an open connection; all work happens inside [`Database::transaction`], which hands
//! a [`Conn`] to a closure and commits when it returns `Ok`. Queries are written once, in
//! [`Conn::query`]'s SQL dialect: standard SQL with `?1`, `?2`, ... placeholders, which the PostgreSQL
//! side rewrites to `$1`, `$2`, ... . Values cross the interface as [`Arg`] and [`Value`], so the
//! query code in `query.rs` and the schema code in `schema.rs` never name a backend type. Bulk
//! writes are backend methods, because each database has its own fast path: prepared single-row
//! inserts for SQLite (cheap in-process calls), and `UNNEST` array inserts for PostgreSQL (one round
//! trip per table per batch instead of one per row).
//!
//! Timestamps are stored as Luigi stores them: naive local time (`datetime.now()`). SQLite has no
//! timestamp type, so, like SQLAlchemy, we store text `YYYY-MM-DD HH:MM:SS.ffffff` with exactly six
//! fractional digits; that keeps text comparison chronological and lets SQLAlchemy parse our rows.
//! PostgreSQL uses `TIMESTAMP WITHOUT TIME ZONE`.
//!
//! The `postgres` crate runs its own small Tokio runtime, so its `Client` must never be created or
//! dropped on an async executor thread; the store only touches it on the writer thread and inside
//! `spawn_blocking` or plain threads.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Local, NaiveDate, NaiveDateTime, TimeZone};
use postgres::types::{ToSql, Type};
use postgres::{NoTls, Statement};
use rusqlite::types::{ToSqlOutput, ValueRef};

use super::Error;
use super::url::{DbUrl, PostgresUrl, SqliteLocation};

/// How long an SQLite statement waits for another process's lock before failing.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long connecting to PostgreSQL may take unless the URL says otherwise.
const PG_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Prepared PostgreSQL statements kept per connection; generated `by_params` queries vary, so the
/// cache is bounded.
const PG_STATEMENT_CACHE: usize = 128;

/// A value bound to a placeholder.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Arg<'a> {
    /// An integer (row ids, limits).
    Int(i64),
    /// Text.
    Text(&'a str),
    /// A naive local timestamp.
    Ts(NaiveDateTime),
}

/// A value read from a result column.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// SQL NULL.
    Null,
    /// An integer.
    Int(i64),
    /// A floating-point number (SQLite only).
    Real(f64),
    /// Text.
    Text(String),
    /// A timestamp (PostgreSQL; SQLite timestamps arrive as text).
    Ts(NaiveDateTime),
}

impl Value {
    /// The value as an integer.
    pub(crate) fn int(&self, column: &'static str) -> Result<i64, Error> {
        match self {
            Value::Int(n) => Ok(*n),
            other => Err(corrupt(column, other)),
        }
    }

    /// The value as optional text; integers are shown as text (SQLite's loose typing lets other tools
    /// store numbers in text columns).
    pub(crate) fn text(self) -> Option<String> {
        match self {
            Value::Null => None,
            Value::Text(s) => Some(s),
            Value::Int(n) => Some(n.to_string()),
            Value::Real(x) => Some(x.to_string()),
            Value::Ts(ts) => Some(python_str(ts)),
        }
    }

    /// The value as a timestamp; SQLite text is parsed in the forms SQLAlchemy and SQLite write.
    pub(crate) fn ts(&self, column: &'static str) -> Result<NaiveDateTime, Error> {
        match self {
            Value::Ts(ts) => Ok(*ts),
            Value::Text(s) => parse_ts(s).ok_or_else(|| corrupt(column, self)),
            // Unix epoch seconds, as some tools store them.
            Value::Int(n) => Ok(epoch_to_local(*n as f64)),
            Value::Real(x) => Ok(epoch_to_local(*x)),
            Value::Null => Err(corrupt(column, self)),
        }
    }

    /// The value as an optional timestamp.
    pub(crate) fn opt_ts(&self, column: &'static str) -> Result<Option<NaiveDateTime>, Error> {
        match self {
            Value::Null => Ok(None),
            other => other.ts(column).map(Some),
        }
    }
}

fn corrupt(column: &'static str, found: &Value) -> Error {
    Error::Corrupt { column, found: format!("{found:?}") }
}

/// A `tasks` row to insert.
#[derive(Debug)]
pub(crate) struct NewTaskRow<'a> {
    /// `tasks.task_id`: the Luigi task id.
    pub(crate) task_id: &'a str,
    /// `tasks.name`: the family.
    pub(crate) name: &'a str,
    /// `tasks.host`.
    pub(crate) host: Option<&'a str>,
}

/// A `task_parameters` row to insert.
#[derive(Debug)]
pub(crate) struct ParamRow<'a> {
    /// The `tasks.id` it belongs to.
    pub(crate) row: i64,
    /// Parameter name.
    pub(crate) name: &'a str,
    /// Serialized value.
    pub(crate) value: &'a str,
}

/// A `task_events` row to insert.
#[derive(Debug)]
pub(crate) struct EventRow {
    /// The `tasks.id` it belongs to.
    pub(crate) row: i64,
    /// `PENDING`, `RUNNING`, `DONE` or `FAILED`.
    pub(crate) event: &'static str,
    /// When, as naive local time.
    pub(crate) ts: NaiveDateTime,
}

/// Which backend a connection talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// Operations inside one transaction.
pub(crate) trait Conn {
    /// The backend.
    fn kind(&self) -> Kind;
    /// Runs a query and returns every row.
    fn query(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<Vec<Value>>, Error>;
    /// Runs one or more statements without arguments (DDL).
    fn batch(&mut self, sql: &str) -> Result<(), Error>;
    /// The columns of `table` as (name, declared type), or `None` when the table does not exist.
    fn table_columns(&mut self, table: &str) -> Result<Option<Vec<(String, String)>>, Error>;
    /// Inserts `tasks` rows and returns their ids, in order.
    fn insert_tasks(&mut self, rows: &[NewTaskRow<'_>]) -> Result<Vec<i64>, Error>;
    /// Inserts `task_parameters` rows.
    fn insert_params(&mut self, rows: &[ParamRow<'_>]) -> Result<(), Error>;
    /// Inserts `task_events` rows.
    fn insert_events(&mut self, rows: &[EventRow]) -> Result<(), Error>;
    /// Sets `tasks.host` of the given rows.
    fn update_hosts(&mut self, rows: &[(i64, &str)]) -> Result<(), Error>;
}

/// An in-memory SQLite connection shared by the writer and the reader.
pub(crate) type SharedSqlite = Arc<Mutex<rusqlite::Connection>>;

/// An open database connection.
pub(crate) enum Database {
    /// SQLite; the connection is shared with the reader for in-memory databases.
    Sqlite(SharedSqlite),
    /// PostgreSQL.
    Postgres(Box<PgDb>),
}

impl Database {
    /// Opens a connection. `shared` is the in-memory SQLite connection when the store already has one,
    /// since every `sqlite://` connection would otherwise be a separate empty database.
    pub(crate) fn open(url: &DbUrl, shared: Option<&SharedSqlite>) -> Result<Database, Error> {
        match url {
            DbUrl::Sqlite(SqliteLocation::Memory) => match shared {
                Some(conn) => Ok(Database::Sqlite(Arc::clone(conn))),
                None => {
                    let conn = rusqlite::Connection::open_in_memory().map_err(|e| open_error(url, e))?;
                    Ok(Database::Sqlite(Arc::new(Mutex::new(conn))))
                }
            },
            DbUrl::Sqlite(SqliteLocation::File(path)) => open_sqlite_file(url, path),
            DbUrl::Postgres(pg) => Ok(Database::Postgres(Box::new(PgDb::connect(url, pg)?))),
        }
    }

    /// The in-memory SQLite connection, for sharing with a second `Database`.
    pub(crate) fn shared_memory(&self, url: &DbUrl) -> Option<SharedSqlite> {
        match (self, url) {
            (Database::Sqlite(conn), DbUrl::Sqlite(SqliteLocation::Memory)) => Some(Arc::clone(conn)),
            _ => None,
        }
    }

    /// Settings for the writer's connection. PostgreSQL commits without waiting for its WAL flush
    /// (`synchronous_commit = off`): a server crash can lose the last fraction of a second of
    /// history but never corrupts it, and the writer no longer waits for a disk flush per batch.
    pub(crate) fn tune_for_writing(&mut self) -> Result<(), Error> {
        match self {
            Database::Sqlite(_) => Ok(()),
            Database::Postgres(pg) => Ok(pg.client.batch_execute("SET synchronous_commit TO off")?),
        }
    }

    /// Whether the connection is unusable and must be reopened (PostgreSQL after a lost connection).
    pub(crate) fn is_broken(&self) -> bool {
        match self {
            Database::Sqlite(_) => false,
            Database::Postgres(pg) => pg.client.is_closed(),
        }
    }

    /// Runs `f` in a transaction, committing when it returns `Ok` and rolling back otherwise.
    pub(crate) fn transaction<R>(&mut self, f: impl FnOnce(&mut dyn Conn) -> Result<R, Error>) -> Result<R, Error> {
        match self {
            Database::Sqlite(conn) => {
                let mut guard = lock(conn);
                // IMMEDIATE takes the write lock up front, so a concurrent writer (another luigid)
                // makes us wait in the busy handler instead of failing mid-transaction.
                let tx = guard.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                let out = f(&mut SqliteConn(&tx))?;
                tx.commit()?;
                Ok(out)
            }
            Database::Postgres(pg) => pg.transaction(f),
        }
    }

    /// Runs read-only `f` in a transaction, so a page sees one consistent snapshot.
    pub(crate) fn read<R>(&mut self, f: impl FnOnce(&mut dyn Conn) -> Result<R, Error>) -> Result<R, Error> {
        match self {
            Database::Sqlite(conn) => {
                let mut guard = lock(conn);
                let tx = guard.transaction_with_behavior(rusqlite::TransactionBehavior::Deferred)?;
                let out = f(&mut SqliteConn(&tx))?;
                tx.commit()?;
                Ok(out)
            }
            Database::Postgres(pg) => pg.transaction(f),
        }
    }
}

/// Locks the SQLite connection; a panic while holding it cannot leave SQLite itself inconsistent
/// (an open transaction is rolled back when its guard drops), so a poisoned lock is still usable.
fn lock(conn: &Mutex<rusqlite::Connection>) -> MutexGuard<'_, rusqlite::Connection> {
    conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn open_error(url: &DbUrl, source: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::Open { target: url.to_string(), source: Box::new(source) }
}

fn open_sqlite_file(url: &DbUrl, path: &Path) -> Result<Database, Error> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty() && !p.exists()) {
        std::fs::create_dir_all(parent).map_err(|e| open_error(url, e))?;
    }
    let conn = rusqlite::Connection::open(path).map_err(|e| open_error(url, e))?;
    conn.busy_timeout(SQLITE_BUSY_TIMEOUT).map_err(|e| open_error(url, e))?;
    // WAL lets the pages read while the writer commits; NORMAL sync is durable against crashes of
    // this process and only risks the last moments of history on power loss.
    let mode: String =
        conn.query_row("PRAGMA journal_mode=WAL", [], |row| row.get(0)).map_err(|e| open_error(url, e))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::debug!(journal_mode = %mode, "task history database did not switch to WAL");
    }
    conn.pragma_update(None, "synchronous", "NORMAL").map_err(|e| open_error(url, e))?;
    // A bigger page cache keeps the hot index pages (task ids are not inserted in order) in memory.
    conn.pragma_update(None, "cache_size", -32_768).map_err(|e| open_error(url, e))?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(Database::Sqlite(Arc::new(Mutex::new(conn))))
}

/// A connection inside an SQLite transaction.
struct SqliteConn<'a>(&'a rusqlite::Connection);

impl rusqlite::ToSql for Arg<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match *self {
            Arg::Int(n) => ToSqlOutput::from(n),
            Arg::Text(s) => ToSqlOutput::from(s),
            Arg::Ts(ts) => ToSqlOutput::from(sqlite_ts(ts)),
        })
    }
}

impl Conn for SqliteConn<'_> {
    fn kind(&self) -> Kind {
        Kind::Sqlite
    }

    fn query(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<Vec<Value>>, Error> {
        let mut stmt = self.0.prepare_cached(sql)?;
        let n = stmt.column_count();
        let mut rows = stmt.query(rusqlite::params_from_iter(args.iter()))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let mut values = Vec::with_capacity(n);
            for i in 0..n {
                values.push(match row.get_ref(i)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(n) => Value::Int(n),
                    ValueRef::Real(x) => Value::Real(x),
                    ValueRef::Text(t) | ValueRef::Blob(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                });
            }
            out.push(values);
        }
        Ok(out)
    }

    fn batch(&mut self, sql: &str) -> Result<(), Error> {
        Ok(self.0.execute_batch(sql)?)
    }

    fn table_columns(&mut self, table: &str) -> Result<Option<Vec<(String, String)>>, Error> {
        let mut stmt = self.0.prepare("SELECT name, type FROM pragma_table_info(?1)")?;
        let cols = stmt
            .query_map([table], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(if cols.is_empty() { None } else { Some(cols) })
    }

    fn insert_tasks(&mut self, rows: &[NewTaskRow<'_>]) -> Result<Vec<i64>, Error> {
        let mut stmt = self.0.prepare_cached("INSERT INTO tasks (task_id, name, host) VALUES (?1, ?2, ?3)")?;
        let mut ids = Vec::with_capacity(rows.len());
        for row in rows {
            stmt.execute(rusqlite::params![row.task_id, row.name, row.host])?;
            ids.push(self.0.last_insert_rowid());
        }
        Ok(ids)
    }

    fn insert_params(&mut self, rows: &[ParamRow<'_>]) -> Result<(), Error> {
        let mut stmt =
            self.0.prepare_cached("INSERT INTO task_parameters (task_id, name, value) VALUES (?1, ?2, ?3)")?;
        for row in rows {
            stmt.execute(rusqlite::params![row.row, row.name, row.value])?;
        }
        Ok(())
    }

    fn insert_events(&mut self, rows: &[EventRow]) -> Result<(), Error> {
        let mut stmt =
            self.0.prepare_cached("INSERT INTO task_events (task_id, event_name, ts) VALUES (?1, ?2, ?3)")?;
        let mut ts = String::with_capacity(26);
        for row in rows {
            ts.clear();
            write_sqlite_ts(&mut ts, row.ts);
            stmt.execute(rusqlite::params![row.row, row.event, ts])?;
        }
        Ok(())
    }

    fn update_hosts(&mut self, rows: &[(i64, &str)]) -> Result<(), Error> {
        let mut stmt = self.0.prepare_cached("UPDATE tasks SET host = ?1 WHERE id = ?2")?;
        for &(row, host) in rows {
            stmt.execute(rusqlite::params![host, row])?;
        }
        Ok(())
    }
}

/// A PostgreSQL connection and what we keep per connection.
pub(crate) struct PgDb {
    client: postgres::Client,
    /// Prepared statements by SQL text.
    statements: HashMap<String, Statement>,
    /// The sequence behind `tasks.id` (`SERIAL`), used to reserve ids for bulk inserts; `None` when the
    /// column has no owned sequence, in which case rows are inserted one by one with `RETURNING id`.
    tasks_seq: Option<Option<String>>,
}

impl PgDb {
    fn connect(url: &DbUrl, pg: &PostgresUrl) -> Result<PgDb, Error> {
        let mut config = postgres::Config::new();
        if let Some(user) = &pg.user {
            config.user(user);
        }
        if let Some(password) = &pg.password {
            config.password(password);
        }
        match pg.host.as_deref() {
            Some(path) if path.starts_with('/') => config.host_path(path),
            Some(host) => config.host(host),
            None => config.host("localhost"),
        };
        config.port(pg.port.unwrap_or(5432));
        if let Some(db) = &pg.dbname {
            config.dbname(db);
        }
        config.application_name("luigid");
        config.connect_timeout(PG_CONNECT_TIMEOUT);
        config.ssl_mode(postgres::config::SslMode::Disable);
        for (key, value) in &pg.params {
            match key.as_str() {
                "options" => {
                    config.options(value);
                }
                "application_name" => {
                    config.application_name(value);
                }
                "connect_timeout" => {
                    let secs: u64 = value.parse().map_err(|_| Error::InvalidUrl {
                        url: url.to_string(),
                        reason: format!("connect_timeout `{value}` is not a whole number of seconds"),
                    })?;
                    config.connect_timeout(Duration::from_secs(secs));
                }
                "sslmode" => match value.as_str() {
                    "disable" | "allow" | "prefer" => {}
                    other => {
                        return Err(Error::InvalidUrl {
                            url: url.to_string(),
                            reason: format!(
                                "sslmode={other} needs TLS, which the task history's PostgreSQL client \
                                 does not support; use sslmode=disable or prefer"
                            ),
                        });
                    }
                },
                _ => {}
            }
        }
        let client = config.connect(NoTls).map_err(|e| open_error(url, e))?;
        Ok(PgDb { client, statements: HashMap::new(), tasks_seq: None })
    }

    fn transaction<R>(&mut self, f: impl FnOnce(&mut dyn Conn) -> Result<R, Error>) -> Result<R, Error> {
        let mut tx = self.client.transaction()?;
        let mut conn = PgConn { tx: &mut tx, statements: &mut self.statements, tasks_seq: &mut self.tasks_seq };
        let out = f(&mut conn)?;
        tx.commit()?;
        Ok(out)
    }
}

/// A connection inside a PostgreSQL transaction.
struct PgConn<'a, 't> {
    tx: &'a mut postgres::Transaction<'t>,
    statements: &'a mut HashMap<String, Statement>,
    tasks_seq: &'a mut Option<Option<String>>,
}

impl PgConn<'_, '_> {
    fn prepare(&mut self, sql: &str) -> Result<Statement, Error> {
        if let Some(stmt) = self.statements.get(sql) {
            return Ok(stmt.clone());
        }
        let stmt = self.tx.prepare(&pg_placeholders(sql))?;
        if self.statements.len() >= PG_STATEMENT_CACHE {
            self.statements.clear();
        }
        self.statements.insert(sql.to_owned(), stmt.clone());
        Ok(stmt)
    }

    fn tasks_sequence(&mut self) -> Result<Option<String>, Error> {
        if let Some(seq) = self.tasks_seq {
            return Ok(seq.clone());
        }
        let row = self.tx.query_one("SELECT pg_get_serial_sequence('tasks', 'id')", &[])?;
        let seq: Option<String> = row.get(0);
        *self.tasks_seq = Some(seq.clone());
        Ok(seq)
    }
}

/// Rewrites `?N` placeholders to PostgreSQL's `$N`.
fn pg_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '?' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('$');
        } else {
            out.push(c);
        }
    }
    out
}

/// Binds `args` with the types PostgreSQL inferred for the statement's parameters (`int4` ids need
/// `i32`, `LIMIT` needs `i64`, and so on).
fn pg_bind<'a>(stmt: &Statement, args: &'a [Arg<'a>]) -> Result<Vec<Box<dyn ToSql + Sync + 'a>>, Error> {
    let types = stmt.params();
    if types.len() != args.len() {
        return Err(Error::Query { reason: format!("statement takes {} arguments, got {}", types.len(), args.len()) });
    }
    let out_of_range = |n: i64, ty: &Type| Error::Query { reason: format!("{n} does not fit PostgreSQL type {ty}") };
    args.iter()
        .zip(types)
        .map(|(arg, ty)| -> Result<Box<dyn ToSql + Sync + 'a>, Error> {
            Ok(match *arg {
                Arg::Int(n) if *ty == Type::INT2 => Box::new(i16::try_from(n).map_err(|_| out_of_range(n, ty))?),
                Arg::Int(n) if *ty == Type::INT4 => Box::new(i32::try_from(n).map_err(|_| out_of_range(n, ty))?),
                Arg::Int(n) if *ty == Type::INT8 => Box::new(n),
                Arg::Int(n) => Box::new(n.to_string()),
                Arg::Text(s) => Box::new(s),
                Arg::Ts(ts) if *ty == Type::TIMESTAMPTZ => Box::new(local_datetime(ts)),
                Arg::Ts(ts) => Box::new(ts),
            })
        })
        .collect()
}

fn pg_value(row: &postgres::Row, i: usize) -> Result<Value, Error> {
    let ty = row.columns()[i].type_().clone();
    let value = if ty == Type::INT2 {
        row.try_get::<_, Option<i16>>(i)?.map(|n| Value::Int(n.into()))
    } else if ty == Type::INT4 {
        row.try_get::<_, Option<i32>>(i)?.map(|n| Value::Int(n.into()))
    } else if ty == Type::INT8 {
        row.try_get::<_, Option<i64>>(i)?.map(Value::Int)
    } else if ty == Type::TIMESTAMP {
        row.try_get::<_, Option<NaiveDateTime>>(i)?.map(Value::Ts)
    } else if ty == Type::TIMESTAMPTZ {
        row.try_get::<_, Option<DateTime<Local>>>(i)?.map(|ts| Value::Ts(ts.naive_local()))
    } else if ty == Type::FLOAT8 {
        row.try_get::<_, Option<f64>>(i)?.map(Value::Real)
    } else {
        // TEXT, VARCHAR, NAME, BPCHAR and anything else with a text form.
        row.try_get::<_, Option<String>>(i)?.map(Value::Text)
    };
    Ok(value.unwrap_or(Value::Null))
}

impl Conn for PgConn<'_, '_> {
    fn kind(&self) -> Kind {
        Kind::Postgres
    }

    fn query(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<Vec<Value>>, Error> {
        let stmt = self.prepare(sql)?;
        let bound = pg_bind(&stmt, args)?;
        let refs: Vec<&(dyn ToSql + Sync)> = bound.iter().map(|b| &**b as &(dyn ToSql + Sync)).collect();
        let rows = self.tx.query(&stmt, &refs)?;
        rows.iter().map(|row| (0..row.len()).map(|i| pg_value(row, i)).collect()).collect()
    }

    fn batch(&mut self, sql: &str) -> Result<(), Error> {
        Ok(self.tx.batch_execute(sql)?)
    }

    fn table_columns(&mut self, table: &str) -> Result<Option<Vec<(String, String)>>, Error> {
        // Resolve the table through search_path, as SQLAlchemy's has_table does, then read its columns.
        let rows = self.tx.query(
            "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) \
             FROM pg_attribute a WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped \
             ORDER BY a.attnum",
            &[&table],
        )?;
        if rows.is_empty() {
            return Ok(None);
        }
        Ok(Some(rows.iter().map(|row| (row.get(0), row.get(1))).collect()))
    }

    fn insert_tasks(&mut self, rows: &[NewTaskRow<'_>]) -> Result<Vec<i64>, Error> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let Some(seq) = self.tasks_sequence()? else {
            let stmt = self.prepare("INSERT INTO tasks (task_id, name, host) VALUES (?1, ?2, ?3) RETURNING id")?;
            let mut ids = Vec::with_capacity(rows.len());
            for row in rows {
                let id: i32 = self.tx.query_one(&stmt, &[&row.task_id, &row.name, &row.host])?.get(0);
                ids.push(id.into());
            }
            return Ok(ids);
        };
        // Reserve ids from the column's own sequence, then insert every row in one statement; ids
        // from nextval are unique however many writers share the table.
        let reserve = self.prepare("SELECT nextval(?1::text::regclass) FROM generate_series(1, ?2::int4)")?;
        let n = i32::try_from(rows.len()).map_err(|_| Error::Query { reason: "batch too large".to_owned() })?;
        let ids: Vec<i64> = self.tx.query(&reserve, &[&seq, &n])?.iter().map(|r| r.get(0)).collect();
        let insert = self.prepare(
            "INSERT INTO tasks (id, task_id, name, host) \
             SELECT * FROM UNNEST(?1::int8[], ?2::text[], ?3::text[], ?4::text[])",
        )?;
        let task_ids: Vec<&str> = rows.iter().map(|r| r.task_id).collect();
        let names: Vec<&str> = rows.iter().map(|r| r.name).collect();
        let hosts: Vec<Option<&str>> = rows.iter().map(|r| r.host).collect();
        self.tx.execute(&insert, &[&ids, &task_ids, &names, &hosts])?;
        Ok(ids)
    }

    fn insert_params(&mut self, rows: &[ParamRow<'_>]) -> Result<(), Error> {
        if rows.is_empty() {
            return Ok(());
        }
        let stmt = self.prepare(
            "INSERT INTO task_parameters (task_id, name, value) SELECT * FROM UNNEST(?1::int8[], ?2::text[], ?3::text[])",
        )?;
        let ids: Vec<i64> = rows.iter().map(|r| r.row).collect();
        let names: Vec<&str> = rows.iter().map(|r| r.name).collect();
        let values: Vec<&str> = rows.iter().map(|r| r.value).collect();
        self.tx.execute(&stmt, &[&ids, &names, &values])?;
        Ok(())
    }

    fn insert_events(&mut self, rows: &[EventRow]) -> Result<(), Error> {
        if rows.is_empty() {
            return Ok(());
        }
        let stmt = self.prepare(
            "INSERT INTO task_events (task_id, event_name, ts) \
             SELECT * FROM UNNEST(?1::int8[], ?2::text[], ?3::timestamp[])",
        )?;
        let ids: Vec<i64> = rows.iter().map(|r| r.row).collect();
        let names: Vec<&str> = rows.iter().map(|r| r.event).collect();
        let ts: Vec<NaiveDateTime> = rows.iter().map(|r| r.ts).collect();
        self.tx.execute(&stmt, &[&ids, &names, &ts])?;
        Ok(())
    }

    fn update_hosts(&mut self, rows: &[(i64, &str)]) -> Result<(), Error> {
        if rows.is_empty() {
            return Ok(());
        }
        let stmt = self.prepare(
            "UPDATE tasks SET host = v.host FROM UNNEST(?1::int8[], ?2::text[]) AS v(id, host) WHERE tasks.id = v.id",
        )?;
        let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
        let hosts: Vec<&str> = rows.iter().map(|r| r.1).collect();
        self.tx.execute(&stmt, &[&ids, &hosts])?;
        Ok(())
    }
}

/// Seconds since the epoch as naive local time, rounded to microseconds (Python's resolution).
/// Values outside chrono's range (or NaN) give the epoch itself rather than failing a record.
pub(crate) fn epoch_to_local(at: f64) -> NaiveDateTime {
    let micros = (at * 1e6).round();
    let micros = if micros.is_finite() { micros as i64 } else { 0 };
    let utc = DateTime::from_timestamp_micros(micros).unwrap_or(DateTime::UNIX_EPOCH);
    utc.with_timezone(&Local).naive_local()
}

/// A naive local time as seconds since the epoch. In a DST fold the earlier instant is used; in a
/// DST gap (a time that never existed locally) the time is read as UTC.
pub(crate) fn local_to_epoch(ts: NaiveDateTime) -> f64 {
    let instant = Local
        .from_local_datetime(&ts)
        .earliest()
        .map_or_else(|| ts.and_utc().timestamp_micros(), |dt| dt.timestamp_micros());
    instant as f64 / 1e6
}

fn local_datetime(ts: NaiveDateTime) -> DateTime<Local> {
    Local.from_local_datetime(&ts).earliest().unwrap_or_else(|| ts.and_utc().with_timezone(&Local))
}

/// SQLite's text form, as SQLAlchemy writes it: always six fractional digits.
pub(crate) fn sqlite_ts(ts: NaiveDateTime) -> String {
    let mut out = String::with_capacity(26);
    write_sqlite_ts(&mut out, ts);
    out
}

fn write_sqlite_ts(out: &mut String, ts: NaiveDateTime) {
    use chrono::{Datelike, Timelike};
    // By hand: chrono's `format` costs microseconds, and the writer formats every event.
    let year = ts.year();
    if !(0..=9999).contains(&year) {
        use std::fmt::Write;
        // Writing into a String cannot fail.
        let _ = write!(out, "{}", ts.format("%Y-%m-%d %H:%M:%S%.6f"));
        return;
    }
    let mut buf = *b"0000-00-00 00:00:00.000000";
    let mut put = |at: usize, width: usize, mut n: u32| {
        for i in (at..at + width).rev() {
            buf[i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
    };
    put(0, 4, year as u32);
    put(5, 2, ts.month());
    put(8, 2, ts.day());
    put(11, 2, ts.hour());
    put(14, 2, ts.minute());
    // A leap second (nanosecond >= 1e9) is shown as second 59 with its fraction, as Python cannot
    // represent it either.
    put(17, 2, ts.second());
    put(20, 6, (ts.nanosecond() % 1_000_000_000) / 1000);
    // Only ASCII digits and separators were written.
    out.push_str(std::str::from_utf8(&buf).unwrap_or_default());
}

/// Converts epoch seconds to naive local time for many events in a row, asking the time zone only
/// once per quarter hour of UTC time (every real time zone changes its offset on a quarter hour).
#[derive(Debug, Default)]
pub(crate) struct LocalTimes {
    /// The quarter hour (UTC seconds / 900) and its offset from UTC in seconds.
    cached: Option<(i64, i64)>,
}

impl LocalTimes {
    /// `at` (seconds since the epoch) as naive local time, rounded to microseconds.
    pub(crate) fn local(&mut self, at: f64) -> NaiveDateTime {
        let micros = (at * 1e6).round();
        let micros = if micros.is_finite() { micros as i64 } else { 0 };
        let Some(utc) = DateTime::from_timestamp_micros(micros) else {
            return epoch_to_local(0.0);
        };
        let quarter = micros.div_euclid(900_000_000);
        let offset = match self.cached {
            Some((q, offset)) if q == quarter => offset,
            _ => {
                use chrono::Offset;
                let offset = i64::from(Local.offset_from_utc_datetime(&utc.naive_utc()).fix().local_minus_utc());
                self.cached = Some((quarter, offset));
                offset
            }
        };
        (utc.naive_utc()).checked_add_signed(chrono::TimeDelta::seconds(offset)).unwrap_or_else(|| utc.naive_utc())
    }
}

/// Python's `str(datetime)`: microseconds only when non-zero.
pub(crate) fn python_str(ts: NaiveDateTime) -> String {
    use chrono::Timelike;
    if ts.nanosecond() / 1000 == 0 {
        ts.format("%Y-%m-%d %H:%M:%S").to_string()
    } else {
        ts.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
    }
}

/// Parses the timestamp texts SQLite databases hold: SQLAlchemy's `YYYY-MM-DD HH:MM:SS[.ffffff]`,
/// ISO 8601 with `T`, and plain dates.
pub(crate) fn parse_ts(text: &str) -> Option<NaiveDateTime> {
    let text = text.trim();
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"] {
        if let Ok(ts) = NaiveDateTime::parse_from_str(text, format) {
            return Some(ts);
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(text: &str) -> NaiveDateTime {
        parse_ts(text).unwrap()
    }

    #[test]
    fn timestamp_texts() {
        assert_eq!(sqlite_ts(ts("2026-11-21 06:50:16.5")), "2026-11-21 06:50:16.500000");
        assert_eq!(sqlite_ts(ts("2026-11-21 06:50:16")), "2026-11-21 06:50:16.000000");
        assert_eq!(python_str(ts("2026-11-21 06:50:16.000000")), "2026-11-21 06:50:16");
        assert_eq!(python_str(ts("2026-11-21 06:50:16.076029")), "2026-11-21 06:50:16.076029");
        assert_eq!(ts("2026-11-21T06:50:16.076029"), ts("2026-11-21 06:50:16.076029"));
        assert_eq!(ts("2026-11-21"), ts("2026-11-21 00:00:00"));
        assert_eq!(ts("2026-11-21 06:50"), ts("2026-11-21 06:50:00"));
        assert_eq!(parse_ts("yesterday"), None);
        // Six digits keep text order chronological.
        assert!(sqlite_ts(ts("2026-11-21 06:50:09.9")) < sqlite_ts(ts("2026-11-21 06:50:10")));
    }

    #[test]
    fn fast_paths_agree_with_chrono() {
        let mut times = LocalTimes::default();
        for at in [0.0, 1_790_000_000.123456, 1_790_000_000.999_999_7, -86_400.5, 1_711_846_799.0, 1_711_846_800.0] {
            assert_eq!(times.local(at), epoch_to_local(at), "{at}");
            let ts = epoch_to_local(at);
            assert_eq!(sqlite_ts(ts), ts.format("%Y-%m-%d %H:%M:%S%.6f").to_string());
        }
        let far = NaiveDate::from_ymd_opt(12_345, 1, 2).unwrap().and_hms_opt(3, 4, 5).unwrap();
        assert_eq!(sqlite_ts(far), far.format("%Y-%m-%d %H:%M:%S%.6f").to_string());
        assert_eq!(times.local(f64::NAN), epoch_to_local(0.0));
    }

    #[test]
    fn epoch_round_trip() {
        for at in [0.0, 1_790_000_000.123456, 1_790_000_000.999_999_7] {
            let back = local_to_epoch(epoch_to_local(at));
            assert!((back - at).abs() < 1e-6, "{at} -> {back}");
        }
        assert_eq!(epoch_to_local(f64::NAN), epoch_to_local(0.0));
        assert_eq!(epoch_to_local(f64::INFINITY), epoch_to_local(0.0));
    }

    #[test]
    fn placeholders() {
        assert_eq!(pg_placeholders("a = ?1 AND b = ?12 OR c = '?'"), "a = $1 AND b = $12 OR c = '?'");
    }

    #[test]
    fn values() {
        assert_eq!(Value::Int(3).int("c").unwrap(), 3);
        assert!(Value::Text("x".into()).int("c").is_err());
        assert_eq!(Value::Null.text(), None);
        assert_eq!(Value::Int(7).text().as_deref(), Some("7"));
        assert_eq!(Value::Text("2026-01-02 03:04:05".into()).ts("c").unwrap(), ts("2026-01-02 03:04:05"));
        assert!(Value::Text("nope".into()).ts("c").is_err());
        assert_eq!(Value::Null.opt_ts("c").unwrap(), None);
        assert_eq!(Value::Int(0).ts("c").unwrap(), epoch_to_local(0.0));
    }
}
