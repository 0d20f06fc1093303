//! Data-driven engine tests: scripted RPC sequences with a manual clock, replies and state
//! snapshotted in golden files.
//!
//! Each `tests/scripts/*.txt` file is a transcript. Input lines are:
//! - `config key=value ...` — `[scheduler]` options (first line; Luigi's test defaults
//!   otherwise), `resources name=amount ...` — capacities;
//! - `time T` / `advance S` — set or move the clock;
//! - `> method {json}` — an RPC, dispatched exactly as `luigid` would dispatch it; with
//!   `=> field,field` at the end only those reply fields are shown;
//! - `= state` — the engine's state snapshot;
//! - `< ERROR python:Type` as the expected reply marks a call on which Python Luigi crashes (a
//!   Luigi bug answered with HTTP 500); any reply of ours is accepted there;
//! - `#` comments and blank lines.
//!
//! Output lines (`< ` replies, `| ` state lines) are expected output. They are produced by
//! running the same script against real Python Luigi 3.8.1 (`scripts/luigi_reference.py`,
//! which snapshots Luigi's internal state in the same format), so every transcript is a
//! differential test: the engine must reply and end up exactly as Luigi does. The test fails
//! on any difference; `UPDATE_EXPECT=1` rewrites the files from our engine instead, for the
//! rare script documenting a deliberate difference (say so in its comments).

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use luigi_core::rpc::dispatch;
use luigi_scheduler::clock::ManualClock;
use luigi_scheduler::{Config, Scheduler};
use serde_json::Value;

/// Luigi's `SchedulerApiTest.get_scheduler_config()`.
fn test_config() -> Config {
    Config {
        retry_delay: 100.0,
        remove_delay: 1000.0,
        worker_disconnect_delay: 10.0,
        disable_persist: 10,
        disable_window: 10,
        retry_count: 3,
        disable_hard_timeout: 3600,
        stable_done_cooldown_secs: 0.0,
        ..Config::default()
    }
}

fn apply_option(config: &mut Config, key: &str, value: &str) -> Result<(), String> {
    let float = || value.parse::<f64>().map_err(|e| format!("{key}={value}: {e}"));
    let int = || value.parse::<i64>().map_err(|e| format!("{key}={value}: {e}"));
    let boolean = || value.parse::<bool>().map_err(|e| format!("{key}={value}: {e}"));
    match key {
        "retry_delay" => config.retry_delay = float()?,
        "remove_delay" => config.remove_delay = float()?,
        "worker_disconnect_delay" => config.worker_disconnect_delay = float()?,
        "disable_persist" => config.disable_persist = int()?,
        "disable_window" => config.disable_window = int()?,
        "retry_count" => config.retry_count = int()?,
        "disable_hard_timeout" => config.disable_hard_timeout = int()?,
        "stable_done_cooldown_secs" => config.stable_done_cooldown_secs = float()?,
        "max_shown_tasks" => config.max_shown_tasks = int()?,
        "max_graph_nodes" => config.max_graph_nodes = int()?,
        "prune_on_get_work" => config.prune_on_get_work = boolean()?,
        "pause_enabled" => config.pause_enabled = boolean()?,
        "send_messages" => config.send_messages = boolean()?,
        "record_task_history" => config.record_task_history = boolean()?,
        other => return Err(format!("unknown config option {other}")),
    }
    Ok(())
}

/// The canonical form both this runner and `scripts/luigi_reference.py` print: object keys
/// sorted, `deps` sorted, `running_tasks` sorted by task id, random message ids replaced —
/// Luigi builds those from Python sets and dicts whose order carries no meaning.
fn canonical(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            let mut out = serde_json::Map::new();
            for (key, item) in entries {
                let mut item = canonical(item);
                match (key.as_str(), &mut item) {
                    ("deps", Value::Array(list)) => list.sort_by_key(|a| a.to_string()),
                    ("running_tasks", Value::Array(list)) => {
                        list.sort_by(|a, b| a["task_id"].to_string().cmp(&b["task_id"].to_string()))
                    }
                    ("message_id", Value::String(id)) => *id = "<uuid>".to_owned(),
                    _ => {}
                }
                out.insert(key, item);
            }
            Value::Object(out)
        }
        Value::Array(list) => Value::Array(list.into_iter().map(canonical).collect()),
        other => other,
    }
}

/// How a script's scheduler keeps its state.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Storage {
    Memory,
    /// Persistent: every change saved to an SQLite file in this directory.
    Disk,
}

/// A script's final state must survive a restart: reopening the state database yields the
/// same snapshot (worker `last_active` aside, which a restart refreshes on purpose).
fn restart_and_compare(scheduler: Scheduler, clock: Arc<ManualClock>, config: Config, db: &Path) -> Result<(), String> {
    let strip = |snapshot: String| -> String {
        snapshot
            .lines()
            .map(|line| line.split(' ').filter(|word| !word.starts_with("last_active=")).collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let before = strip(scheduler.debug_snapshot());
    scheduler.close();
    drop(scheduler);
    let reopened = Scheduler::open_persistent(config, clock, db, luigi_scheduler::persist::Sync::Normal)
        .map_err(|e| format!("reopening {}: {e}", db.display()))?;
    let after = strip(reopened.debug_snapshot());
    if before != after {
        let diff: Vec<String> = before
            .lines()
            .zip(after.lines())
            .filter(|(b, a)| b != a)
            .take(3)
            .map(|(b, a)| format!("    before: {b}\n    after:  {a}"))
            .collect();
        return Err(format!(
            "state differs after a restart ({} vs {} lines):\n{}",
            before.lines().count(),
            after.lines().count(),
            diff.join("\n")
        ));
    }
    Ok(())
}

fn run_script(path: &Path) -> Result<String, String> {
    run_script_with(path, Storage::Memory)
}

fn run_script_with(path: &Path, storage: Storage) -> Result<String, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let mut out = String::new();
    let clock = Arc::new(ManualClock::new(0.0));
    let mut config = test_config();
    let mut scheduler: Option<Scheduler> = None;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let db = dir.path().join("state.db");
    let lines: Vec<&str> = text.lines().collect();
    for (line_no, line) in lines.iter().copied().enumerate() {
        let fail = |message: String| format!("{}:{}: {message}", path.display(), line_no + 1);
        if line.starts_with("< ") || line.starts_with("| ") || line == "|" {
            continue;
        }
        out.push_str(line);
        out.push('\n');
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(options) = line.strip_prefix("config ") {
            if scheduler.is_some() {
                return Err(fail("config must come before the first call".into()));
            }
            for option in options.split_whitespace() {
                let (key, value) = option.split_once('=').ok_or_else(|| fail(format!("bad option {option}")))?;
                apply_option(&mut config, key, value).map_err(fail)?;
            }
            continue;
        }
        if scheduler.is_none() {
            scheduler = Some(match storage {
                Storage::Memory => Scheduler::with_clock(config.clone(), clock.clone()),
                Storage::Disk => Scheduler::open_persistent(
                    config.clone(),
                    clock.clone(),
                    &db,
                    luigi_scheduler::persist::Sync::Normal,
                )
                .map_err(|e| fail(e.to_string()))?,
            });
        }
        let scheduler = scheduler.as_mut().expect("created above");
        if let Some(resources) = line.strip_prefix("resources ") {
            let mut parsed = Vec::new();
            for option in resources.split_whitespace() {
                let (key, value) = option.split_once('=').ok_or_else(|| fail(format!("bad resource {option}")))?;
                parsed.push((key.to_owned(), value.parse::<i64>().map_err(|e| fail(e.to_string()))?));
            }
            scheduler.set_resources(parsed);
        } else if let Some(time) = line.strip_prefix("time ") {
            clock.set(time.parse().map_err(|e| fail(format!("bad time: {e}")))?);
        } else if let Some(seconds) = line.strip_prefix("advance ") {
            clock.advance(seconds.parse().map_err(|e| fail(format!("bad advance: {e}")))?);
        } else if line == "= state" {
            for state_line in scheduler.debug_snapshot().lines() {
                out.push_str("| ");
                out.push_str(state_line);
                out.push('\n');
            }
        } else if let Some(call) = line.strip_prefix("> ") {
            let (call, fields) = match call.split_once(" => ") {
                Some((call, fields)) => (call, Some(fields.split(',').map(str::trim).collect::<Vec<_>>())),
                None => (call, None),
            };
            let (method, data) = call.split_once(' ').unwrap_or((call, "{}"));
            let reply = match dispatch(scheduler, method, data) {
                Ok(body) => {
                    let value: Value = luigi_core::rpc::json::from_str(&body).map_err(|e| fail(e.to_string()))?;
                    let mut response = value["response"].clone();
                    if method == "graph"
                        && let Value::Object(nodes) = &mut response
                    {
                        // Which nodes are traversal roots depends on Python's string-hash order.
                        for node in nodes.values_mut() {
                            if let Value::Object(fields) = node {
                                fields.remove("display_name");
                            }
                        }
                    }
                    let shown = match fields {
                        Some(fields) => Value::Object(
                            fields
                                .iter()
                                .map(|f| ((*f).to_owned(), response.get(*f).cloned().unwrap_or(Value::Null)))
                                .collect(),
                        ),
                        None => response,
                    };
                    canonical(shown).to_string()
                }
                Err(err) => format!("ERROR {err}"),
            };
            // Where Python Luigi itself crashes (a 500 from luigid), any answer of ours is accepted.
            match lines.get(line_no + 1) {
                Some(expected) if expected.starts_with("< ERROR python:") => out.push_str(expected),
                _ => {
                    out.push_str("< ");
                    out.push_str(&reply);
                }
            }
            out.push('\n');
        } else {
            return Err(fail(format!("unknown directive: {line}")));
        }
    }
    if let (Storage::Disk, Some(scheduler)) = (storage, scheduler) {
        restart_and_compare(scheduler, clock, config, &db).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(out)
}

fn scripts() -> Vec<PathBuf> {
    // ENGINE_SCRIPTS_DIR=dir runs the scripts of another directory (e.g. a large generated batch).
    let dir = match std::env::var_os("ENGINE_SCRIPTS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scripts"),
    };
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    files
}

#[test]
fn engine_scripts_match_their_transcripts() {
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    // ENGINE_SCRIPTS_OUT=dir writes every actual transcript there, for diffing by hand.
    let out_dir = std::env::var_os("ENGINE_SCRIPTS_OUT").map(PathBuf::from);
    let files = scripts();
    assert!(files.len() >= 10, "expected the engine scripts in tests/scripts, found {}", files.len());
    let mut failures = Vec::new();
    for path in files {
        let expected = fs::read_to_string(&path).unwrap();
        let result = run_script(&path);
        if let (Some(dir), Ok(actual)) = (&out_dir, &result) {
            fs::write(dir.join(path.file_name().unwrap()), actual).unwrap();
        }
        match result {
            Ok(actual) if actual == expected => {}
            Ok(actual) if update => fs::write(&path, actual).unwrap(),
            Ok(actual) => {
                let diff: Vec<String> = expected
                    .lines()
                    .zip(actual.lines())
                    .enumerate()
                    .filter(|(_, (e, a))| e != a)
                    .take(5)
                    .map(|(n, (e, a))| format!("  line {}:\n    expected: {e}\n    actual:   {a}", n + 1))
                    .collect();
                failures.push(format!("{} differs:\n{}", path.display(), diff.join("\n")));
            }
            Err(err) => failures.push(err),
        }
    }
    assert!(failures.is_empty(), "{}\n(rerun with UPDATE_EXPECT=1 to accept the new output)", failures.join("\n\n"));
}

/// The same scripts with every change saved to disk: replies must not change, and the final
/// state must come back identical after a restart.
#[test]
fn engine_scripts_survive_a_restart() {
    let mut failures = Vec::new();
    for path in scripts() {
        let expected = run_script_with(&path, Storage::Memory);
        match (run_script_with(&path, Storage::Disk), expected) {
            (Ok(actual), Ok(expected)) if actual == expected => {}
            (Ok(_), Ok(_)) => failures.push(format!("{}: replies differ with persistence on", path.display())),
            (Err(err), _) | (_, Err(err)) => failures.push(err),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
