//! Interoperability end to end, with real processes: luigi-rs workers (`interop-under-test`, a
//! program calling `luigi_cli::main()`) and Python Luigi 3.8.1 workers, against our `luigid`
//! and against Python's `luigid`, sharing one scheduler on the same pipeline.
//!
//! The pipeline has a twin in each language (`tests/src/bin/interop-under-test.rs` and
//! `tests/python/interop_pipeline.py`): the same families and parameters, hence the same task
//! ids, so a task one worker ran is done for the other. Every run sleeps a few milliseconds, so
//! concurrent workers genuinely interleave, and appends `<task id> <worker name>` to
//! `runs.log` with `O_APPEND`, so the test can count runs per task and per worker. The checks:
//! every task of the graph ran exactly once, its output exists and the scheduler has it DONE;
//! every worker ran at least one task, exited 0, and printed a summary whose categories add up
//! to the graph and whose "ran successfully" count is what the log says it ran. A failing task
//! shows up FAILED in either scheduler with the worker's error text.
//!
//! Also: a worker authenticates to a `luigid` with basic authentication through credentials in
//! the scheduler URL (and a wrong password fails cleanly, with the error printed once), and a
//! worker reaches a `luigid --unix-socket` through an `http+unix://` URL.
//!
//! Python parts use the interpreter named by `LUIGI_PYTHON` (default
//! `~/.cache/luigi-rs/venv/bin/python`, made by `tests/python/setup_venv.sh`); without Luigi 3.8.1 there they are skipped, or fail
//! under `LUIGI_TEST_REQUIRE_SERVICES=1`.
//!
//! Workers run with our default exit codes except `task_failed = 30`, which is set for both
//! languages (Luigi's default is 0) so a failed run exits 30 in both. A worker sharing the
//! scheduler reports the tasks another worker ran as "being run by another worker" or "not
//! granted run permission" (exactly as Luigi does). When the root task is complete at its end
//! our worker exits 0 (`Retcode::for_finished_run`). Without keep-alive a worker also stops, as
//! Luigi's does, as soon as the scheduler has nothing left for it while the other worker still
//! runs the last tasks; that worker exits `already_running` (10) or `not_run` (25, for the tasks
//! the scheduler gave the other worker), and the tests accept exactly that case: exit 10 or 25
//! with a summary that names tasks run by the other worker.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use luigi_tests::Luigid;
use serde_json::{Value, json};

const INTEROP: &str = env!("CARGO_BIN_EXE_interop-under-test");
const LUIGID: &str = env!("CARGO_BIN_EXE_luigid-under-test");
const SUMMARY_MARK: &str = "===== Luigi Execution Summary =====";
/// Longest a worker may take before the test gives up on it.
const WORKER_TIMEOUT: Duration = Duration::from_secs(90);

/// The configuration every worker (Rust or Python) reads from its working directory.
const WORKER_CFG: &str = "[core]\nno_lock = true\nlog_level = INFO\nrpc_retry_attempts = 2\nrpc_retry_wait = 0\n\
                          [retcode]\ntask_failed = 30\n";

/// A test's directories: task outputs and `runs.log`, the workers' working directory (with
/// their `luigi.cfg`) and the scheduler's.
struct Dirs {
    tmp: tempfile::TempDir,
    work: PathBuf,
    daemon: PathBuf,
}

impl Dirs {
    fn new() -> Dirs {
        let tmp = tempfile::tempdir().expect("a temporary directory");
        let work = tmp.path().join("work");
        let daemon = tmp.path().join("daemon");
        for dir in [&work, &daemon] {
            std::fs::create_dir(dir).expect("creating a test directory");
        }
        std::fs::write(work.join("luigi.cfg"), WORKER_CFG).expect("writing the workers' luigi.cfg");
        Dirs { work, daemon, tmp }
    }

    /// A new, empty directory for one pipeline's outputs.
    fn root(&self, name: &str) -> PathBuf {
        let root = self.tmp.path().join(name);
        std::fs::create_dir(&root).expect("creating a pipeline root");
        root
    }
}

/// The Python with Luigi 3.8.1, or `None` after reporting why the test must be skipped.
fn python() -> Option<PathBuf> {
    luigi_tests::pipeline::luigi_python()
}

/// Starts Python's `luigid` through a small launcher script, so the harness can start it like
/// ours (the harness passes `--address`, `--port` and our arguments to one executable).
fn python_luigid(python: &Path, dirs: &Dirs) -> Luigid {
    let launcher = dirs.daemon.join("python-luigid");
    let quoted = python.display().to_string().replace('\'', r"'\''");
    let script = format!(
        "#!/bin/sh\nexec '{quoted}' -c 'import sys; from luigi.cmdline import luigid; luigid(sys.argv[1:])' \"$@\"\n"
    );
    std::fs::write(&launcher, script).expect("writing the luigid launcher");
    let mut permissions = std::fs::metadata(&launcher).expect("the launcher").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&launcher, permissions).expect("making the launcher executable");
    Luigid::start(&launcher, &dirs.daemon, &["--state-path", "state.pickle"]).expect("Python luigid starts")
}

fn our_luigid(dirs: &Dirs) -> Luigid {
    Luigid::start(Path::new(LUIGID), &dirs.daemon, &["--state-path", "state.db"]).expect("luigid starts")
}

fn url_of(luigid: &Luigid) -> String {
    format!("http://127.0.0.1:{}/", luigid.port)
}

/// Which twin a worker runs.
#[derive(Clone, Copy)]
enum Lang<'a> {
    Rust,
    Python(&'a Path),
}

/// A worker process.
struct Worker {
    name: String,
    child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
}

/// A worker that exited.
struct Finished {
    name: String,
    code: Option<i32>,
    stderr: String,
}

impl Finished {
    fn describe(&self) -> String {
        format!("worker {} exited with {:?}; stderr:\n{}", self.name, self.code, self.stderr)
    }
}

impl Worker {
    /// Starts worker `name` (also what its tasks write to `runs.log`) on `task` (family and
    /// parameters), against the scheduler at `url`, with two worker threads or processes.
    fn spawn(dirs: &Dirs, lang: Lang<'_>, name: &str, url: &str, task: &[String]) -> Worker {
        let mut command = match lang {
            Lang::Rust => Command::new(INTEROP),
            Lang::Python(python) => {
                let mut command = Command::new(python);
                command
                    .args(["-m", "luigi", "--module", "interop_pipeline"])
                    .env("PYTHONPATH", Path::new(env!("CARGO_MANIFEST_DIR")).join("python"))
                    .env("PYTHONDONTWRITEBYTECODE", "1");
                command
            }
        };
        let stdout = dirs.work.join(format!("{name}.out"));
        let stderr = dirs.work.join(format!("{name}.err"));
        command
            .args(task)
            .args(["--scheduler-url", url, "--workers", "2"])
            .current_dir(&dirs.work)
            .env_remove("LUIGI_CONFIG_PATH")
            .env("INTEROP_WORKER", name)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).expect("the worker's stdout file"))
            .stderr(std::fs::File::create(&stderr).expect("the worker's stderr file"));
        let child = command.spawn().unwrap_or_else(|err| panic!("starting worker {name}: {err}"));
        Worker { name: name.to_owned(), child, stdout, stderr }
    }

    /// Whether the process has exited (without reaping it for good: `finish` still works).
    fn has_exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Waits for the exit (killing the process after [`WORKER_TIMEOUT`]).
    fn finish(mut self) -> Finished {
        let deadline = Instant::now() + WORKER_TIMEOUT;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("waiting for a worker") {
                break Some(status);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let stdout = std::fs::read_to_string(&self.stdout).unwrap_or_default();
        let stderr = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        let finished = Finished {
            name: self.name.clone(),
            code: status.and_then(|s| s.code()),
            stderr: format!("{stderr}\n--- stdout ---\n{stdout}"),
        };
        assert!(status.is_some(), "timed out: {}", finished.describe());
        finished
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if !matches!(self.child.try_wait(), Ok(Some(_))) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The execution summary a worker printed.
#[derive(Debug)]
struct Summary {
    scheduled: usize,
    /// The top-level categories: count and label (`ran successfully:`, `were left pending...`).
    top: Vec<(usize, String)>,
    /// `This progress looks ...`.
    verdict: String,
}

impl Summary {
    fn parse(finished: &Finished) -> Summary {
        let text = &finished.stderr;
        let body = text
            .find(SUMMARY_MARK)
            .map(|start| &text[start + SUMMARY_MARK.len()..])
            .and_then(|rest| rest.find(SUMMARY_MARK).map(|end| &rest[..end]))
            .unwrap_or_else(|| panic!("no execution summary: {}", finished.describe()));
        let mut summary = Summary { scheduled: 0, top: Vec::new(), verdict: String::new() };
        for line in body.lines() {
            if let Some(rest) = line.strip_prefix("Scheduled ") {
                summary.scheduled = rest.split(' ').next().and_then(|n| n.parse().ok()).unwrap_or(0);
            } else if let Some(rest) = line.strip_prefix("* ") {
                let (count, label) = rest.split_once(' ').unwrap_or((rest, ""));
                let count =
                    count.parse().unwrap_or_else(|_| panic!("bad summary line {line:?}: {}", finished.describe()));
                summary.top.push((count, label.to_owned()));
            } else if line.starts_with("This progress looks") {
                summary.verdict = line.to_owned();
            }
        }
        summary
    }

    fn count(&self, label_start: &str) -> usize {
        self.top.iter().filter(|(_, label)| label.starts_with(label_start)).map(|(n, _)| n).sum()
    }
}

/// The twin pipeline `InteropAll(root, sleep_ms, n)`: leaves `0..n`, pairs `0..n` (pair `i`
/// requires leaves `i` and `i+1 mod n`) and the root, `2n + 1` tasks.
struct Pipeline {
    root: PathBuf,
    sleep_ms: u64,
    n: usize,
}

impl Pipeline {
    fn root_str(&self) -> String {
        self.root.display().to_string()
    }

    /// The command line of the root task.
    fn task(&self) -> Vec<String> {
        let words = ["InteropAll", "--root", &self.root_str(), "--sleep-ms", &self.sleep_ms.to_string()];
        words.iter().map(|w| (*w).to_owned()).chain(["--n".to_owned(), self.n.to_string()]).collect()
    }

    fn total(&self) -> usize {
        2 * self.n + 1
    }

    /// Every task id of the graph, computed here from families and parameters.
    fn ids(&self) -> BTreeSet<String> {
        let (root, sleep, n) = (self.root_str(), self.sleep_ms.to_string(), self.n.to_string());
        let id = |family: &str, extra: &[(&str, &str)]| {
            let base = [("root", root.as_str()), ("sleep_ms", sleep.as_str())];
            luigi_core::task::task_id_str(family, base.iter().chain(extra).copied()).as_str().to_owned()
        };
        let mut ids = BTreeSet::from([id("InteropAll", &[("n", &n)])]);
        for i in 0..self.n {
            let i = i.to_string();
            ids.insert(id("InteropLeaf", &[("i", &i)]));
            ids.insert(id("InteropPair", &[("n", &n), ("i", &i)]));
        }
        ids
    }

    /// `runs.log`: task id → the workers that ran it, in order.
    fn runs(&self) -> BTreeMap<String, Vec<String>> {
        let log = std::fs::read_to_string(self.root.join("runs.log")).unwrap_or_default();
        let mut runs: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for line in log.lines() {
            let (id, worker) = line.split_once(' ').unwrap_or_else(|| panic!("malformed runs.log line {line:?}"));
            runs.entry(id.to_owned()).or_default().push(worker.to_owned());
        }
        runs
    }

    /// Every task ran exactly once and left its output; every worker exited 0, ran at least
    /// one task and summarised its run sanely; the scheduler (when given) has every task DONE.
    fn check(&self, workers: &[Finished], scheduler: Option<&Luigid>) {
        let runs = self.runs();
        for (id, by) in &runs {
            assert_eq!(by.len(), 1, "{id} ran {} times, by {by:?}", by.len());
        }
        let ids = self.ids();
        let ran: BTreeSet<String> = runs.keys().cloned().collect();
        assert_eq!(ran, ids, "the tasks that ran are not the graph's");
        for id in &ids {
            assert!(self.root.join(id).exists(), "{id} ran but left no output");
        }
        for worker in workers {
            check_exit(worker);
            let ran_here = runs.values().filter(|by| by[0] == worker.name).count();
            assert!(ran_here >= 1, "worker {} ran no task, so the workers did not share the work", worker.name);
            eprintln!("worker {} ran {ran_here} of {} tasks", worker.name, ids.len());
            check_summary(worker, self.total(), ran_here);
        }
        if let Some(luigid) = scheduler {
            let done = task_ids(luigid, "DONE");
            let missing: Vec<_> = ids.difference(&done).collect();
            assert!(missing.is_empty(), "the scheduler does not have these DONE: {missing:?}");
        }
    }
}

/// Exit 0, or `already_running` (10) or `not_run` (25, for the tasks the other worker ran
/// meanwhile) for a worker that stopped while the other worker was still running tasks of the
/// graph (its summary says so).
fn check_exit(worker: &Finished) {
    match worker.code {
        Some(0) => {}
        Some(10 | 25) => {
            let summary = Summary::parse(worker);
            let others = summary.top.iter().any(|(_, label)| label.contains("pending"))
                && (worker.stderr.contains("being run by another worker")
                    || worker.stderr.contains("being run by other worker"));
            assert!(others, "exit {:?} without tasks run by another worker: {}", worker.code, worker.describe());
        }
        _ => panic!("unexpected exit: {}", worker.describe()),
    }
}

/// A worker's summary is sane: it scheduled the whole graph, its top-level categories add up to
/// that, it reports as run successfully exactly the tasks the log says it ran, nothing failed,
/// and the verdict is not `:(`.
fn check_summary(worker: &Finished, total: usize, ran: usize) {
    let summary = Summary::parse(worker);
    let context = || format!("{summary:?} of {}", worker.describe());
    assert_eq!(summary.scheduled, total, "{}", context());
    assert_eq!(summary.top.iter().map(|(n, _)| n).sum::<usize>(), total, "categories do not add up: {}", context());
    assert_eq!(summary.count("ran successfully"), ran, "{}", context());
    assert_eq!(summary.count("failed"), 0, "{}", context());
    assert!(
        summary.verdict.starts_with("This progress looks :)") || summary.verdict.starts_with("This progress looks :|"),
        "{}",
        context()
    );
}

/// The ids of the tasks the scheduler lists with `status`.
fn task_ids(luigid: &Luigid, status: &str) -> BTreeSet<String> {
    let reply =
        luigid.rpc("task_list", &json!({"status": status, "upstream_status": "", "limit": false})).expect("task_list");
    reply.as_object().map(|tasks| tasks.keys().cloned().collect()).unwrap_or_default()
}

/// Two Rust workers, started together, share the pipeline on `luigid`.
fn two_rust_workers(dirs: &Dirs, luigid: &Luigid) {
    let pipeline = Pipeline { root: dirs.root("pipeline"), sleep_ms: 5, n: 150 };
    let url = url_of(luigid);
    let first = Worker::spawn(dirs, Lang::Rust, "rust-1", &url, &pipeline.task());
    let second = Worker::spawn(dirs, Lang::Rust, "rust-2", &url, &pipeline.task());
    let finished = [first.finish(), second.finish()];
    pipeline.check(&finished, Some(luigid));
    // Both registered with what Luigi's workers tell the scheduler about themselves.
    let workers = luigid.rpc("worker_list", &json!({})).expect("worker_list");
    let workers = workers.as_array().cloned().unwrap_or_default();
    assert_eq!(workers.len(), 2, "{workers:?}");
    let root_id = pipeline.ids().into_iter().find(|id| id.starts_with("InteropAll_")).expect("the root task");
    for worker in &workers {
        assert!(worker["name"].as_str().is_some_and(|name| name.starts_with("Worker(salt=")), "{worker}");
        assert_eq!((&worker["workers"], &worker["first_task"]), (&json!(2), &json!(root_id)), "{worker}");
        assert!(worker["pid"].as_u64().is_some() && worker["host"].as_str().is_some(), "{worker}");
    }
}

/// A Rust worker and a Python worker share the pipeline on `luigid`. The Python worker starts
/// first (it takes a second to import and schedule) and the Rust one joins once the Python one
/// holds a task, so both schedule while the other runs tasks and both run some.
fn rust_and_python_workers(dirs: &Dirs, luigid: &Luigid, python: &Path) {
    // Non-ASCII and a space in a parameter: both languages must still agree on every task id.
    let pipeline = Pipeline { root: dirs.root("pipeline ü✓"), sleep_ms: 20, n: 30 };
    let url = url_of(luigid);
    let mut py = Worker::spawn(dirs, Lang::Python(python), "python", &url, &pipeline.task());
    let deadline = Instant::now() + WORKER_TIMEOUT;
    while task_ids(luigid, "RUNNING").is_empty() && task_ids(luigid, "DONE").is_empty() {
        assert!(!py.has_exited(), "the Python worker exited before running a task: {}", py.finish().describe());
        assert!(Instant::now() < deadline, "the Python worker never started a task");
        std::thread::sleep(Duration::from_millis(10));
    }
    let rust = Worker::spawn(dirs, Lang::Rust, "rust", &url, &pipeline.task());
    let finished = [py.finish(), rust.finish()];
    pipeline.check(&finished, Some(luigid));
}

/// A failing task: exit code `task_failed` (30), a summary that says so, and in the scheduler
/// the task FAILED with the worker's error text.
fn failing_task_is_reported(dirs: &Dirs, luigid: &Luigid, lang: Lang<'_>) {
    let root = dirs.root("failing");
    let message = "interop failure: the answer was 41, not 42";
    let task = ["InteropFail", "--root", &root.display().to_string(), "--message", message].map(str::to_owned);
    let finished = Worker::spawn(dirs, lang, "failing", &url_of(luigid), &task).finish();
    assert_eq!(finished.code, Some(30), "{}", finished.describe());
    let summary = Summary::parse(&finished);
    assert_eq!((summary.scheduled, summary.count("failed")), (1, 1), "{summary:?}: {}", finished.describe());
    assert!(summary.verdict.starts_with("This progress looks :("), "{summary:?}");
    let id =
        luigi_core::task::task_id_str("InteropFail", [("root", root.to_str().expect("UTF-8")), ("message", message)]);
    let failed = luigid
        .rpc("task_list", &json!({"status": "FAILED", "upstream_status": "", "limit": false}))
        .expect("task_list");
    let listed = failed.get(id.as_str()).unwrap_or_else(|| panic!("{id} is not FAILED in {failed}"));
    assert_eq!(listed["status"], "FAILED");
    assert_eq!(listed["name"], "InteropFail");
    let error = luigid.rpc("fetch_error", &json!({"task_id": id.as_str()})).expect("fetch_error");
    let text = error["error"].as_str().unwrap_or_default();
    assert!(text.contains(message), "the scheduler's error text {text:?} lacks the task's message");
}

#[test]
fn rust_workers_share_our_luigid() {
    let dirs = Dirs::new();
    let luigid = our_luigid(&dirs);
    two_rust_workers(&dirs, &luigid);
    failing_task_is_reported(&dirs, &luigid, Lang::Rust);
}

#[test]
fn rust_workers_share_python_luigid() {
    let Some(python) = python() else { return };
    let dirs = Dirs::new();
    let luigid = python_luigid(&python, &dirs);
    two_rust_workers(&dirs, &luigid);
    failing_task_is_reported(&dirs, &luigid, Lang::Rust);
}

#[test]
fn rust_and_python_workers_share_our_luigid() {
    let Some(python) = python() else { return };
    let dirs = Dirs::new();
    let luigid = our_luigid(&dirs);
    rust_and_python_workers(&dirs, &luigid, &python);
    // And our luigid keeps a Python worker's failure (its traceback) as Python's does.
    failing_task_is_reported(&dirs, &luigid, Lang::Python(&python));
}

#[test]
fn rust_and_python_workers_share_python_luigid() {
    let Some(python) = python() else { return };
    let dirs = Dirs::new();
    let luigid = python_luigid(&python, &dirs);
    rust_and_python_workers(&dirs, &luigid, &python);
}

#[test]
fn credentials_in_the_scheduler_url_authenticate_the_worker() {
    let dirs = Dirs::new();
    // The password holds characters a URL must percent-encode; the worker decodes them.
    let users = "[luigid]\nbasic_auth_users = interop:s3cr:t@/x, py:plain-Secret_1\n";
    std::fs::write(dirs.daemon.join("luigi.cfg"), users).expect("writing luigid's luigi.cfg");
    let luigid = our_luigid(&dirs);
    let refused = luigid.rpc("ping", &json!({"worker": "nobody"})).expect_err("no credentials, no answer");
    assert!(refused.to_string().contains("HTTP 401"), "{refused}");

    let pipeline = Pipeline { root: dirs.root("pipeline"), sleep_ms: 0, n: 10 };
    let url = format!("http://interop:s3cr%3At%40%2Fx@127.0.0.1:{}/", luigid.port);
    let finished = Worker::spawn(&dirs, Lang::Rust, "rust", &url, &pipeline.task()).finish();
    pipeline.check(&[finished], None);

    let rejected = Pipeline { root: dirs.root("rejected"), sleep_ms: 0, n: 10 };
    let url = format!("http://interop:wrong@127.0.0.1:{}/", luigid.port);
    let finished = Worker::spawn(&dirs, Lang::Rust, "rust-rejected", &url, &rejected.task()).finish();
    assert_eq!(finished.code, Some(40), "unhandled_exception: {}", finished.describe());
    let error = "scheduler request failed: could not reach the scheduler: Errors (2 attempts) when connecting to \
                 remote scheduler";
    assert!(finished.stderr.contains(error), "{}", finished.describe());
    assert_eq!(finished.stderr.matches("Errors (2 attempts)").count(), 1, "the error, once: {}", finished.describe());
    assert!(finished.stderr.contains("HTTP 401"), "the error names the refusal: {}", finished.describe());
    assert!(!finished.stderr.contains("wrong"), "the password must not be printed: {}", finished.describe());
    assert!(rejected.runs().is_empty(), "a refused worker ran tasks");

    // Python workers send the URL's credentials too. Without `requests` installed Luigi uses
    // urllib, which does not percent-decode them, hence a password that needs no encoding.
    let Some(python) = python() else { return };
    let pipeline = Pipeline { root: dirs.root("python"), sleep_ms: 0, n: 3 };
    let url = format!("http://py:plain-Secret_1@127.0.0.1:{}/", luigid.port);
    let finished = Worker::spawn(&dirs, Lang::Python(&python), "python", &url, &pipeline.task()).finish();
    pipeline.check(&[finished], None);
}

/// `luigid --unix-socket`, killed when dropped.
struct UnixLuigid {
    child: Child,
    socket: PathBuf,
}

impl UnixLuigid {
    fn start(dirs: &Dirs) -> UnixLuigid {
        // A space in the path, which the URL must carry percent-encoded.
        let socket = dirs.daemon.join("luigid 1.sock");
        let log = std::fs::File::create(dirs.daemon.join("luigid.log")).expect("luigid.log");
        let child = Command::new(LUIGID)
            .args(["--unix-socket".as_ref(), socket.as_os_str(), "--state-path".as_ref(), "state.db".as_ref()])
            .current_dir(&dirs.daemon)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("luigid.log"))
            .stderr(log)
            .spawn()
            .expect("starting luigid");
        let mut luigid = UnixLuigid { child, socket };
        let deadline = Instant::now() + Duration::from_secs(30);
        while UnixStream::connect(&luigid.socket).is_err() {
            let exited = luigid.child.try_wait().expect("waiting for luigid");
            assert!(exited.is_none(), "luigid exited during start-up: {exited:?}");
            assert!(Instant::now() < deadline, "luigid did not listen on {} within 30 s", luigid.socket.display());
            std::thread::sleep(Duration::from_millis(20));
        }
        luigid
    }

    /// `scheduler_url` for the socket: its path percent-encoded as the host.
    fn url(&self) -> String {
        let path = self.socket.display().to_string();
        format!("http+unix://{}/", path.replace('%', "%25").replace('/', "%2F").replace(' ', "%20"))
    }

    /// Calls an RPC over the socket (a JSON body, one request per connection).
    fn rpc(&self, method: &str, data: &Value) -> Value {
        let body = data.to_string();
        let request = format!(
            "POST /api/{method} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let mut stream = UnixStream::connect(&self.socket).expect("connecting to luigid's socket");
        stream.write_all(request.as_bytes()).expect("sending a request");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("reading the reply");
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        let (_, payload) = response.split_once("\r\n\r\n").expect("an HTTP body");
        let decoded: Value = serde_json::from_str(payload).expect("a JSON reply");
        decoded["response"].clone()
    }
}

impl Drop for UnixLuigid {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_worker_reaches_luigid_over_a_unix_socket() {
    let dirs = Dirs::new();
    let luigid = UnixLuigid::start(&dirs);
    let pipeline = Pipeline { root: dirs.root("pipeline"), sleep_ms: 0, n: 10 };
    let finished = Worker::spawn(&dirs, Lang::Rust, "rust", &luigid.url(), &pipeline.task()).finish();
    pipeline.check(&[finished], None);
    let done = luigid.rpc("task_list", &json!({"status": "DONE", "upstream_status": "", "limit": false}));
    let done: BTreeSet<String> = done.as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default();
    assert_eq!(done, pipeline.ids(), "the scheduler behind the socket has the whole graph DONE");
}
