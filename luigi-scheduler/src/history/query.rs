//! The queries behind the history pages, and the types they return.
//!
//! Each query is one parameterised SQL text shared by both backends (see `db.rs`); user input only
//! ever travels as bound arguments. Every list is paginated with [`Page`] and fetches one row more
//! than asked for, which tells whether a next page exists without counting a possibly huge table.
//!
//! Semantics follow Luigi's `DbTaskHistory` where it has one, with deliberate differences noted on
//! each function: a run is one `tasks` row; its status and "last action" are its newest event.

use chrono::NaiveDateTime;

use super::Error;
use super::db::{Arg, Conn, Value, local_to_epoch, python_str};

/// Parameters as (name, value) pairs, in name order; a value is `NULL` only in databases other
/// programs wrote.
pub type Parameters = Vec<(String, Option<String>)>;

/// The most rows one page may ask for.
pub const MAX_PER_PAGE: u32 = 1000;
/// The page size when none is given.
pub const DEFAULT_PER_PAGE: u32 = 100;
/// The most parameters shown for one run; a run with more is marked truncated.
pub const MAX_PARAMS: usize = 1000;
/// The most parameters a `by_params` query may match on.
pub const MAX_MATCH_PARAMS: usize = 32;

/// Which slice of a list to return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// 1-based page number.
    pub page: u32,
    /// Rows per page, from 1 to [`MAX_PER_PAGE`].
    pub per_page: u32,
}

impl Page {
    /// Page `page` (1-based; 0 is taken as 1) of `per_page` rows (clamped to 1..=[`MAX_PER_PAGE`]).
    pub fn new(page: u32, per_page: u32) -> Page {
        Page { page: page.max(1), per_page: per_page.clamp(1, MAX_PER_PAGE) }
    }

    /// The first page with the default size.
    pub fn first() -> Page {
        Page::new(1, DEFAULT_PER_PAGE)
    }

    fn limit_plus_one(self) -> i64 {
        i64::from(self.per_page) + 1
    }

    fn offset(self) -> i64 {
        i64::from(self.page - 1) * i64::from(self.per_page)
    }
}

impl Default for Page {
    fn default() -> Page {
        Page::first()
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq)]
pub struct Paged<T> {
    /// The rows of this page.
    pub items: Vec<T>,
    /// Which page this is.
    pub page: Page,
    /// Whether there is a next page.
    pub has_more: bool,
}

impl<T> Paged<T> {
    fn from_rows(mut items: Vec<T>, page: Page) -> Paged<T> {
        let has_more = items.len() > page.per_page as usize;
        items.truncate(page.per_page as usize);
        Paged { items, page, has_more }
    }
}

/// A moment as stored: naive local time (what Luigi's `datetime.now()` gives).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(pub NaiveDateTime);

impl Timestamp {
    /// Seconds since the Unix epoch, reading the stored time in this machine's time zone.
    pub fn epoch(self) -> f64 {
        local_to_epoch(self.0)
    }
}

impl std::fmt::Display for Timestamp {
    /// Python's `str(datetime)`, as Luigi's pages show it: `2026-11-21 06:50:16.509168`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&python_str(self.0))
    }
}

/// One run (a `tasks` row) in a list.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    /// `tasks.id`, the run's row id.
    pub id: i64,
    /// The Luigi task id (`NULL` in rows written before Luigi recorded it).
    pub task_id: Option<String>,
    /// The task family.
    pub name: Option<String>,
    /// The worker host that ran it, when known.
    pub host: Option<String>,
    /// The newest event's name (`PENDING`, `RUNNING`, `DONE`, `FAILED`).
    pub status: Option<String>,
    /// The newest event's time.
    pub last_action: Option<Timestamp>,
    /// Parameters, by name.
    pub parameters: Parameters,
}

/// One event of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// `task_events.id`.
    pub id: i64,
    /// `PENDING`, `RUNNING`, `DONE` or `FAILED`.
    pub name: Option<String>,
    /// When it happened.
    pub ts: Timestamp,
}

/// One run with its events.
#[derive(Debug, Clone, PartialEq)]
pub struct RunDetail {
    /// `tasks.id`.
    pub id: i64,
    /// The Luigi task id.
    pub task_id: Option<String>,
    /// The task family.
    pub name: Option<String>,
    /// The worker host, when known.
    pub host: Option<String>,
    /// Parameters, by name (at most [`MAX_PARAMS`]).
    pub parameters: Parameters,
    /// Whether parameters were cut at [`MAX_PARAMS`].
    pub parameters_truncated: bool,
    /// Events, newest first.
    pub events: Paged<Event>,
}

/// A task family and how many runs it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Family {
    /// The family name.
    pub name: String,
    /// Its number of `tasks` rows.
    pub runs: i64,
}

/// One execution in a family's timeline: a `RUNNING` event and what followed it.
#[derive(Debug, Clone, PartialEq)]
pub struct Execution {
    /// The `RUNNING` event's id.
    pub event_id: i64,
    /// The run's row id.
    pub run_id: i64,
    /// The Luigi task id.
    pub task_id: Option<String>,
    /// The worker host of the run.
    pub host: Option<String>,
    /// When it started running.
    pub started: Timestamp,
    /// The next event of the same run (`DONE`, `FAILED`, or `PENDING` after a lost worker), if any.
    pub outcome: Option<String>,
    /// When that next event happened.
    pub ended: Option<Timestamp>,
}

impl Execution {
    /// Seconds from start to the next event.
    pub fn duration_secs(&self) -> Option<f64> {
        self.ended.map(|end| (end.0 - self.started.0).num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6)
    }
}

/// The newest event of run `t.id`, as a correlated subquery, so each list needs only one statement.
const LAST_EVENT: &str =
    "(SELECT e2.event_name FROM task_events e2 WHERE e2.task_id = t.id ORDER BY e2.ts DESC, e2.id DESC LIMIT 1)";

fn runs_sql(filter: &str, extra: &str, limit_arg: usize) -> String {
    format!(
        "SELECT t.id, t.task_id, t.name, t.host, MAX(e.ts) AS last_ts, {LAST_EVENT} \
         FROM tasks t JOIN task_events e ON e.task_id = t.id \
         WHERE {filter}{extra} \
         GROUP BY t.id, t.task_id, t.name, t.host \
         ORDER BY last_ts DESC, t.id DESC LIMIT ?{limit_arg} OFFSET ?{}",
        limit_arg + 1
    )
}

fn run_summaries(conn: &mut dyn Conn, sql: &str, args: &[Arg<'_>], page: Page) -> Result<Paged<RunSummary>, Error> {
    let rows = conn.query(sql, args)?;
    let mut runs = Vec::with_capacity(rows.len());
    for row in rows {
        let mut row = row.into_iter();
        let mut next = || row.next().unwrap_or(Value::Null);
        let id = next().int("tasks.id")?;
        runs.push(RunSummary {
            id,
            task_id: next().text(),
            name: next().text(),
            host: next().text(),
            last_action: next().opt_ts("task_events.ts")?.map(Timestamp),
            status: next().text(),
            parameters: Vec::new(),
        });
    }
    let mut runs = Paged::from_rows(runs, page);
    for run in &mut runs.items {
        run.parameters = parameters(conn, run.id)?.0;
    }
    Ok(runs)
}

fn parameters(conn: &mut dyn Conn, id: i64) -> Result<(Parameters, bool), Error> {
    let limit = MAX_PARAMS as i64 + 1;
    let rows = conn.query(
        "SELECT name, value FROM task_parameters WHERE task_id = ?1 ORDER BY name LIMIT ?2",
        &[Arg::Int(id), Arg::Int(limit)],
    )?;
    let truncated = rows.len() > MAX_PARAMS;
    let mut params = Vec::with_capacity(rows.len().min(MAX_PARAMS));
    for row in rows.into_iter().take(MAX_PARAMS) {
        let mut row = row.into_iter();
        let name = row.next().unwrap_or(Value::Null).text().unwrap_or_default();
        let value = row.next().unwrap_or(Value::Null).text();
        params.push((name, value));
    }
    Ok((params, truncated))
}

/// Runs with an event at or after `since`, newest activity first (Luigi's `find_latest_runs`, which
/// `/history` shows for the last 24 hours).
pub(crate) fn recent_runs(conn: &mut dyn Conn, since: NaiveDateTime, page: Page) -> Result<Paged<RunSummary>, Error> {
    let sql = runs_sql("e.ts >= ?1", "", 2);
    run_summaries(conn, &sql, &[Arg::Ts(since), Arg::Int(page.limit_plus_one()), Arg::Int(page.offset())], page)
}

/// Runs of family `name` whose parameters include every `(name, value)` in `params`, newest activity
/// first (Luigi's `find_all_by_parameters`, which lists oldest first; newest first suits pagination).
pub(crate) fn runs_by_params(
    conn: &mut dyn Conn,
    name: &str,
    params: &[(String, String)],
    page: Page,
) -> Result<Paged<RunSummary>, Error> {
    if params.len() > MAX_MATCH_PARAMS {
        return Err(Error::Query { reason: format!("at most {MAX_MATCH_PARAMS} parameters can be matched at once") });
    }
    let mut extra = String::new();
    let mut args = vec![Arg::Text(name)];
    for (k, v) in params {
        let n = args.len();
        extra.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM task_parameters p WHERE p.task_id = t.id AND p.name = ?{} AND p.value = ?{})",
            n + 1,
            n + 2
        ));
        args.push(Arg::Text(k));
        args.push(Arg::Text(v));
    }
    let sql = runs_sql("t.name = ?1", &extra, args.len() + 1);
    args.push(Arg::Int(page.limit_plus_one()));
    args.push(Arg::Int(page.offset()));
    run_summaries(conn, &sql, &args, page)
}

/// One run by row id, with a page of its events, newest first (Luigi's `find_task_by_id`).
pub(crate) fn run(conn: &mut dyn Conn, id: i64, events: Page) -> Result<Option<RunDetail>, Error> {
    let rows = conn.query("SELECT id, task_id, name, host FROM tasks WHERE id = ?1", &[Arg::Int(id)])?;
    let Some(row) = rows.into_iter().next() else {
        return Ok(None);
    };
    let mut row = row.into_iter();
    let mut next = || row.next().unwrap_or(Value::Null);
    let id = next().int("tasks.id")?;
    let task_id = next().text();
    let name = next().text();
    let host = next().text();
    let (parameters, parameters_truncated) = parameters(conn, id)?;
    let rows = conn.query(
        "SELECT id, event_name, ts FROM task_events WHERE task_id = ?1 ORDER BY ts DESC, id DESC LIMIT ?2 OFFSET ?3",
        &[Arg::Int(id), Arg::Int(events.limit_plus_one()), Arg::Int(events.offset())],
    )?;
    let mut list = Vec::with_capacity(rows.len());
    for row in rows {
        let mut row = row.into_iter();
        let mut next = || row.next().unwrap_or(Value::Null);
        list.push(Event {
            id: next().int("task_events.id")?,
            name: next().text(),
            ts: Timestamp(next().ts("task_events.ts")?),
        });
    }
    Ok(Some(RunDetail {
        id,
        task_id,
        name,
        host,
        parameters,
        parameters_truncated,
        events: Paged::from_rows(list, events),
    }))
}

/// The newest run of Luigi task id `task_id` (Luigi's `find_task_by_task_id`, which takes the last
/// row; rows are numbered in insertion order, so that is the highest id).
pub(crate) fn latest_run_for_task_id(
    conn: &mut dyn Conn,
    task_id: &str,
    events: Page,
) -> Result<Option<RunDetail>, Error> {
    let rows = conn.query("SELECT id FROM tasks WHERE task_id = ?1 ORDER BY id DESC LIMIT 1", &[Arg::Text(task_id)])?;
    match rows.into_iter().next().and_then(|row| row.into_iter().next()) {
        Some(id) => run(conn, id.int("tasks.id")?, events),
        None => Ok(None),
    }
}

/// Every family with at least one run, by name (the `/tasklist` menu; Luigi lists every row's name,
/// repeats included).
pub(crate) fn families(conn: &mut dyn Conn, page: Page) -> Result<Paged<Family>, Error> {
    let rows = conn.query(
        "SELECT name, COUNT(*) FROM tasks WHERE name IS NOT NULL GROUP BY name ORDER BY name LIMIT ?1 OFFSET ?2",
        &[Arg::Int(page.limit_plus_one()), Arg::Int(page.offset())],
    )?;
    let mut list = Vec::with_capacity(rows.len());
    for row in rows {
        let mut row = row.into_iter();
        let name = row.next().unwrap_or(Value::Null).text().unwrap_or_default();
        let runs = row.next().unwrap_or(Value::Null).int("count")?;
        list.push(Family { name, runs });
    }
    Ok(Paged::from_rows(list, page))
}

/// The executions of family `name`, newest first: each `RUNNING` event with the run's next event.
/// Luigi's `/tasklist/<name>` charts the same durations, but pairs a `RUNNING` event with the event
/// whose id is one higher, which is often another task's; we take the same run's next event.
pub(crate) fn timeline(conn: &mut dyn Conn, name: &str, page: Page) -> Result<Paged<Execution>, Error> {
    const NEXT: &str = "FROM task_events n WHERE n.task_id = e.task_id AND (n.ts > e.ts OR (n.ts = e.ts AND n.id > e.id)) \
                        ORDER BY n.ts, n.id LIMIT 1";
    let sql = format!(
        "SELECT e.id, t.id, t.task_id, t.host, e.ts, (SELECT n.event_name {NEXT}), (SELECT n.ts {NEXT}) \
         FROM task_events e JOIN tasks t ON t.id = e.task_id \
         WHERE t.name = ?1 AND e.event_name = 'RUNNING' \
         ORDER BY e.ts DESC, e.id DESC LIMIT ?2 OFFSET ?3"
    );
    let rows = conn.query(&sql, &[Arg::Text(name), Arg::Int(page.limit_plus_one()), Arg::Int(page.offset())])?;
    let mut list = Vec::with_capacity(rows.len());
    for row in rows {
        let mut row = row.into_iter();
        let mut next = || row.next().unwrap_or(Value::Null);
        list.push(Execution {
            event_id: next().int("task_events.id")?,
            run_id: next().int("tasks.id")?,
            task_id: next().text(),
            host: next().text(),
            started: Timestamp(next().ts("task_events.ts")?),
            outcome: next().text(),
            ended: next().opt_ts("task_events.ts")?.map(Timestamp),
        });
    }
    Ok(Paged::from_rows(list, page))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_clamp() {
        assert_eq!(Page::new(0, 0), Page { page: 1, per_page: 1 });
        assert_eq!(Page::new(3, 5000), Page { page: 3, per_page: MAX_PER_PAGE });
        assert_eq!(Page::new(3, 10).offset(), 20);
        assert_eq!(Page::new(u32::MAX, MAX_PER_PAGE).offset(), i64::from(u32::MAX - 1) * 1000);
        let paged = Paged::from_rows(vec![1, 2, 3], Page::new(1, 2));
        assert_eq!((paged.items, paged.has_more), (vec![1, 2], true));
        let paged = Paged::from_rows(vec![1, 2], Page::new(1, 2));
        assert_eq!((paged.items, paged.has_more), (vec![1, 2], false));
    }

    #[test]
    fn generated_sql_numbers_placeholders_in_order() {
        let sql = runs_sql("t.name = ?1", " AND x = ?2 AND y = ?3", 4);
        assert!(sql.ends_with("LIMIT ?4 OFFSET ?5"), "{sql}");
    }
}
