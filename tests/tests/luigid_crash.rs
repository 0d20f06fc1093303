//! `kill -9` of a real `luigid` in the middle of a run, repeatedly, then restart: nothing a
//! worker was told is lost, and no task is ever handed to two workers (design §6).
//!
//! Two workers share 300 tasks. Worker W1 asks for work and reports results (DONE, FAILED, or
//! nothing yet) while a killer thread sends SIGKILL to the daemon at a random moment. Only
//! answered requests count as facts: a task W1 was given is W1's; a result the server
//! acknowledged must survive. After each restart the test checks every fact against the
//! scheduler's state, then lets W2 ask for work: it must never receive a task W1 holds.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use luigi_tests::Luigid;
use serde_json::{Value, json};

const TASKS: usize = 300;

fn task_id(i: usize) -> String {
    format!("Crash_{i}_0123456789")
}

fn announce(luigid: &Luigid, worker: &str) -> anyhow::Result<()> {
    for i in 0..TASKS {
        luigid.rpc(
            "add_task",
            &json!({"worker": worker, "task_id": task_id(i), "family": "Crash", "params": {"i": i.to_string()}}),
        )?;
    }
    Ok(())
}

fn statuses(luigid: &Luigid) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for status in ["PENDING", "RUNNING", "DONE", "FAILED", "DISABLED"] {
        let reply = luigid.rpc("task_list", &json!({"status": status, "limit": false}))?;
        for id in reply.as_object().map(|m| m.keys().cloned().collect::<Vec<_>>()).unwrap_or_default() {
            out.insert(id, status.to_owned());
        }
    }
    Ok(out)
}

#[derive(Default)]
struct Facts {
    /// Task → the worker the scheduler answered it was handed to.
    owner: BTreeMap<String, String>,
    /// Tasks whose DONE report was acknowledged.
    done: BTreeSet<String>,
    /// Tasks whose FAILED report was acknowledged.
    failed: BTreeSet<String>,
}

impl Facts {
    fn check(&self, state: &BTreeMap<String, String>) -> Result<(), String> {
        for id in &self.done {
            if state.get(id).map(String::as_str) != Some("DONE") {
                return Err(format!("{id} was acknowledged DONE but is {:?} after the restart", state.get(id)));
            }
        }
        for id in &self.failed {
            if !matches!(state.get(id).map(String::as_str), Some("FAILED" | "DISABLED")) {
                return Err(format!("{id} was acknowledged FAILED but is {:?} after the restart", state.get(id)));
            }
        }
        for id in self.owner.keys() {
            if self.done.contains(id) || self.failed.contains(id) {
                continue;
            }
            // Its report may have been applied with the reply lost in the kill, so DONE or FAILED
            // are fine; PENDING (or gone) would let another worker run it again.
            if !matches!(state.get(id).map(String::as_str), Some("RUNNING" | "DONE" | "FAILED" | "DISABLED")) {
                return Err(format!(
                    "{id} was handed out but is {:?} after the restart, so it could run twice",
                    state.get(id)
                ));
            }
        }
        Ok(())
    }
}

fn run(binary: &Path) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    std::fs::write(
        dir.path().join("luigi.cfg"),
        "[scheduler]\nretry_delay = 100000\nworker_disconnect_delay = 100000\nremove_delay = 100000\n\
         stable_done_cooldown_secs = 0\n",
    )?;
    let mut luigid = Luigid::start(binary, dir.path(), &["--state-path", "state.db"])?;
    announce(&luigid, "W1")?;
    announce(&luigid, "W2")?;
    let mut facts = Facts::default();
    let mut rng = fastrand::Rng::with_seed(20261121);
    for round in 0..8 {
        let pid = luigid.pid();
        let delay = Duration::from_millis(rng.u64(20..200));
        let killer = std::thread::spawn(move || {
            std::thread::sleep(delay);
            if let Some(pid) = pid {
                let _ = std::process::Command::new("kill").args(["-9", &pid.to_string()]).status();
            }
        });
        // W1 works until the server dies under it.
        let mut answered = 0;
        loop {
            let reply = match luigid.rpc("get_work", &json!({"worker": "W1", "host": "h1"})) {
                Ok(reply) => reply,
                Err(_) => break,
            };
            let Some(id) = reply.get("task_id").and_then(Value::as_str).map(str::to_owned) else {
                break;
            };
            if let Some(previous) = facts.owner.insert(id.clone(), "W1".into()) {
                anyhow::bail!("round {round}: {id} handed to W1 although {previous} already had it");
            }
            answered += 1;
            let outcome = rng.u8(0..10);
            let status = match outcome {
                0..=5 => "DONE",
                6..=7 => "FAILED",
                _ => continue,
            };
            let report = json!({"worker": "W1", "task_id": id, "status": status, "expl": "null", "runnable": null});
            if luigid.rpc("add_task", &report).is_err() {
                break;
            }
            if status == "DONE" {
                facts.done.insert(id);
            } else {
                facts.failed.insert(id);
            }
        }
        killer.join().expect("killer thread");
        luigid.restart()?;
        let state = statuses(&luigid)?;
        facts.check(&state).map_err(|e| anyhow::anyhow!("round {round} (after {answered} hand-outs): {e}"))?;
        // W2 may take only what nobody holds.
        for _ in 0..5 {
            let reply = luigid.rpc("get_work", &json!({"worker": "W2", "host": "h2"}))?;
            let Some(id) = reply.get("task_id").and_then(Value::as_str).map(str::to_owned) else { break };
            if let Some(previous) = facts.owner.insert(id.clone(), "W2".into()) {
                anyhow::bail!("round {round}: {id} handed to W2 although {previous} had it: it would run twice");
            }
            luigid.rpc("add_task", &json!({"worker": "W2", "task_id": id, "status": "DONE", "runnable": null}))?;
            facts.done.insert(id);
        }
    }
    let state = statuses(&luigid)?;
    facts.check(&state).map_err(|e| anyhow::anyhow!("at the end: {e}"))?;
    assert!(facts.done.len() > 20, "the run made progress ({} tasks done)", facts.done.len());
    Ok(())
}

#[test]
fn kill_9_loses_nothing_acknowledged_and_never_hands_a_task_out_twice() {
    run(Path::new(env!("CARGO_BIN_EXE_luigid-under-test"))).unwrap();
}
