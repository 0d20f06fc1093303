//! Luigi's task-history tables: created when missing, and upgraded from older Luigi schemas.
//!
//! The tables, columns, types and index names are the ones SQLAlchemy 1.3 emits for Luigi 3.8.1's
//! models (`tasks`, `task_parameters`, `task_events`; indexes `ix_tasks_task_id`, `ix_tasks_name`,
//! `ix_task_events_task_id`, `ix_task_events_ts`), so a database created by either Python's luigid or
//! ours works with the other. As with SQLAlchemy's `create_all`, indexes are only created together
//! with their table; an existing table is left as it is except for Luigi's own two upgrades:
//!
//! 1. a `tasks` table without `task_id` (Luigi before 2.x) gets the column and index `ix_task_id`;
//! 2. `task_parameters.value` is widened to `TEXT` on PostgreSQL; SQLite cannot change a column's type,
//!    so, like Luigi, we only warn there (SQLite does not enforce the old length limit anyway).

use super::Error;
use super::db::{Conn, Kind};

const SQLITE_TABLES: [(&str, &str); 3] = [
    (
        "tasks",
        "CREATE TABLE IF NOT EXISTS tasks (\n\tid INTEGER NOT NULL, \n\ttask_id VARCHAR(200), \n\tname VARCHAR(128), \n\t\
         host VARCHAR(128), \n\tPRIMARY KEY (id)\n);\n\
         CREATE INDEX IF NOT EXISTS ix_tasks_task_id ON tasks (task_id);\n\
         CREATE INDEX IF NOT EXISTS ix_tasks_name ON tasks (name);",
    ),
    (
        "task_parameters",
        "CREATE TABLE IF NOT EXISTS task_parameters (\n\ttask_id INTEGER NOT NULL, \n\tname VARCHAR(128) NOT NULL, \n\t\
         value TEXT, \n\tPRIMARY KEY (task_id, name), \n\tFOREIGN KEY(task_id) REFERENCES tasks (id)\n);",
    ),
    (
        "task_events",
        "CREATE TABLE IF NOT EXISTS task_events (\n\tid INTEGER NOT NULL, \n\ttask_id INTEGER, \n\t\
         event_name VARCHAR(20), \n\tts TIMESTAMP NOT NULL, \n\tPRIMARY KEY (id), \n\t\
         FOREIGN KEY(task_id) REFERENCES tasks (id)\n);\n\
         CREATE INDEX IF NOT EXISTS ix_task_events_task_id ON task_events (task_id);\n\
         CREATE INDEX IF NOT EXISTS ix_task_events_ts ON task_events (ts);",
    ),
];

const POSTGRES_TABLES: [(&str, &str); 3] = [
    (
        "tasks",
        "CREATE TABLE IF NOT EXISTS tasks (\n\tid SERIAL NOT NULL, \n\ttask_id VARCHAR(200), \n\tname VARCHAR(128), \n\t\
         host VARCHAR(128), \n\tPRIMARY KEY (id)\n);\n\
         CREATE INDEX IF NOT EXISTS ix_tasks_task_id ON tasks (task_id);\n\
         CREATE INDEX IF NOT EXISTS ix_tasks_name ON tasks (name);",
    ),
    (
        "task_parameters",
        "CREATE TABLE IF NOT EXISTS task_parameters (\n\ttask_id INTEGER NOT NULL, \n\tname VARCHAR(128) NOT NULL, \n\t\
         value TEXT, \n\tPRIMARY KEY (task_id, name), \n\tFOREIGN KEY(task_id) REFERENCES tasks (id)\n);",
    ),
    (
        "task_events",
        "CREATE TABLE IF NOT EXISTS task_events (\n\tid SERIAL NOT NULL, \n\ttask_id INTEGER, \n\t\
         event_name VARCHAR(20), \n\tts TIMESTAMP WITHOUT TIME ZONE NOT NULL, \n\tPRIMARY KEY (id), \n\t\
         FOREIGN KEY(task_id) REFERENCES tasks (id)\n);\n\
         CREATE INDEX IF NOT EXISTS ix_task_events_task_id ON task_events (task_id);\n\
         CREATE INDEX IF NOT EXISTS ix_task_events_ts ON task_events (ts);",
    ),
];

/// What [`ensure`] did, for logs and tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct SchemaReport {
    /// Tables that did not exist and were created.
    pub(crate) created: Vec<&'static str>,
    /// Luigi's upgrade 1 ran: `tasks.task_id` and index `ix_task_id` were added.
    pub(crate) added_task_id: bool,
    /// Luigi's upgrade 2 ran on PostgreSQL: `task_parameters.value` became `TEXT`.
    pub(crate) widened_value: bool,
    /// SQLite's `task_parameters.value` is not `TEXT` and cannot be changed.
    pub(crate) narrow_value_kept: bool,
}

/// Creates missing tables and applies Luigi's upgrades, in the caller's transaction.
pub(crate) fn ensure(conn: &mut dyn Conn) -> Result<SchemaReport, Error> {
    let tables = match conn.kind() {
        Kind::Sqlite => SQLITE_TABLES,
        Kind::Postgres => POSTGRES_TABLES,
    };
    let mut report = SchemaReport::default();
    for (table, ddl) in tables {
        if conn.table_columns(table)?.is_none() {
            conn.batch(ddl)?;
            report.created.push(table);
        }
    }

    let tasks = conn.table_columns("tasks")?.unwrap_or_default();
    if !tasks.iter().any(|(name, _)| name == "task_id") {
        tracing::warn!("upgrading the task history schema: adding tasks.task_id");
        conn.batch("ALTER TABLE tasks ADD COLUMN task_id VARCHAR(200);\nCREATE INDEX ix_task_id ON tasks (task_id);")?;
        report.added_task_id = true;
    }

    let params = conn.table_columns("task_parameters")?.unwrap_or_default();
    let value_type = params.iter().find(|(name, _)| name == "value").map(|(_, ty)| ty.as_str()).unwrap_or("TEXT");
    if !value_type.eq_ignore_ascii_case("text") {
        match conn.kind() {
            Kind::Postgres => {
                tracing::warn!(old_type = %value_type, "upgrading the task history schema: task_parameters.value to TEXT");
                conn.batch("ALTER TABLE task_parameters ALTER COLUMN value TYPE TEXT")?;
                report.widened_value = true;
            }
            Kind::Sqlite => {
                tracing::warn!(
                    old_type = %value_type,
                    "SQLite cannot change task_parameters.value to TEXT; use a new database file to pick up the \
                     new column type (SQLite does not enforce the old length, so history still works)"
                );
                report.narrow_value_kept = true;
            }
        }
    }
    Ok(report)
}
