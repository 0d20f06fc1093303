//! `luigi deps`, `luigi deps-tree` and `luigi grep` against what Python Luigi 3.8.1 prints.
//!
//! The pipelines below are the Rust twins of those in `tests/data/tools/generate.py`, which
//! recorded the output of Python's `luigi-deps` and `luigi-deps-tree` for them in several
//! states (no output files, some, all), and the output of `luigi-grep` against a real Python
//! luigid (`graph_*.json` is the graph that luigid served). These tests rebuild each case from
//! the registry, create the same files in a temporary directory and compare the output: exactly
//! for deps-tree and grep, and as a set of per-task blocks for deps, whose order Python leaves
//! to its set hashing.
//!
//! One test runs live instead: it starts a Python luigid and our luigid, fills each through
//! `/api/add_task`, and checks that our grep prints what Python's `luigi-grep` prints against
//! the same server. It needs Python Luigi (`LUIGI_PYTHON`, default the project's venv): without
//! it the test is skipped, or fails when `LUIGI_TEST_REQUIRE_SERVICES=1`.

use std::cell::RefCell;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use luigi_cli::tools::{deps, deps_tree, grep};
use luigi_core::param::ParamArgs;
use luigi_core::prelude::*;
use luigi_core::registry;
use luigi_core::target::Target;
use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// The pipelines (see generate.py). Outputs live under the calling thread's root directory, so
// that tests running in parallel each see their own files.
// ---------------------------------------------------------------------------------------------

thread_local! {
    static ROOT: RefCell<String> = const { RefCell::new(String::new()) };
}

fn under_root(rel: &str) -> LocalTarget {
    ROOT.with(|root| LocalTarget::new(format!("{}/{rel}", root.borrow())))
}

/// A target that is not on a file system: `luigi deps` describes it as "to be determined".
struct Remote;

impl Target for Remote {
    fn exists(&self) -> Result<bool, luigi_core::target::Error> {
        Ok(false)
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

#[derive(Task, Clone, Debug)]
#[task(external)]
struct Source {
    name: String,
}

impl Task for Source {
    type Requires = ();
    type Output = LocalTarget;
    fn requires(&self) {}
    fn output(&self) -> LocalTarget {
        under_root(&format!("source_{}.txt", self.name))
    }
}

#[derive(Task, Clone, Debug)]
#[task(namespace = "etl")]
struct Clean {
    name: String,
    day: chrono::NaiveDate,
    #[param(default = 1, significant = false)]
    attempt: i64,
}

impl Task for Clean {
    type Requires = Source;
    type Output = LocalTarget;
    fn requires(&self) -> Source {
        Source { name: self.name.clone() }
    }
    fn output(&self) -> LocalTarget {
        under_root(&format!("clean/{}_{}.txt", self.name, self.day))
    }
}

fn clean(name: &str, day: chrono::NaiveDate) -> Clean {
    Clean { name: name.to_owned(), day, attempt: 1 }
}

#[derive(Task, Clone, Debug)]
struct Join {
    day: chrono::NaiveDate,
    #[param(default = "it's")]
    label: String,
}

impl Task for Join {
    type Requires = (Clean, Clean);
    type Output = Vec<LocalTarget>;
    fn requires(&self) -> (Clean, Clean) {
        (clean("a", self.day), clean("b", self.day))
    }
    fn output(&self) -> Vec<LocalTarget> {
        vec![under_root(&format!("join_{}.csv", self.day)), under_root(&format!("join_{}.idx", self.day))]
    }
}

fn join(day: chrono::NaiveDate) -> Join {
    Join { day, label: "it's".to_owned() }
}

#[derive(Task, Clone, Debug)]
struct Report {
    day: chrono::NaiveDate,
    #[param(default = false)]
    verbose: bool,
    #[param(default = "s", visibility = "hidden")]
    secret: String,
    #[param(default = "t", visibility = "private")]
    token: String,
}

impl Task for Report {
    type Requires = (Join, Clean);
    type Output = (LocalTarget, Remote);
    fn requires(&self) -> (Join, Clean) {
        (join(self.day), clean("a", self.day))
    }
    fn output(&self) -> (LocalTarget, Remote) {
        (under_root(&format!("report_{}.txt", self.day)), Remote)
    }
}

#[derive(Task, Clone, Debug)]
#[task(wrapper)]
struct All {
    day: chrono::NaiveDate,
}

impl Task for All {
    type Requires = (Report, Join);
    type Output = ();
    fn requires(&self) -> (Report, Join) {
        let report = Report { day: self.day, verbose: false, secret: "s".into(), token: "t".into() };
        (report, join(self.day))
    }
    fn output(&self) {}
}

/// The tree of the `luigi-deps-tree` docstring, with fixed children.
#[derive(Task, Clone, Debug)]
#[task(namespace = "examples")]
struct Bar {
    num: i64,
}

impl Task for Bar {
    type Requires = Vec<Bar>;
    type Output = LocalTarget;
    fn requires(&self) -> Vec<Bar> {
        let children: &[i64] = match self.num {
            0 => &[4, 5],
            2 => &[6],
            6 => &[7, 8],
            7 => &[9, 10],
            10 => &[11],
            8 => &[12],
            _ => &[],
        };
        children.iter().map(|&num| Bar { num }).collect()
    }
    fn output(&self) -> LocalTarget {
        under_root(&format!("bar/{}", self.num))
    }
}

#[derive(Task, Clone, Debug)]
#[task(namespace = "examples")]
struct Foo {}

impl Task for Foo {
    type Requires = Vec<Bar>;
    type Output = ();
    fn requires(&self) -> Vec<Bar> {
        (0..3).map(|num| Bar { num }).collect()
    }
    fn output(&self) {}
}

// ---------------------------------------------------------------------------------------------
// The recorded cases.
// ---------------------------------------------------------------------------------------------

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tools")
}

fn recorded() -> Value {
    let text = std::fs::read_to_string(data_dir().join("cases.json")).expect("tests/data/tools/cases.json");
    serde_json::from_str(&text).expect("cases.json is JSON")
}

/// One recorded run of a Python tool.
struct Case {
    tool: String,
    state: String,
    args: Vec<String>,
    expected: String,
}

fn cases(tool: &str) -> Vec<Case> {
    let all = recorded();
    let cases: Vec<Case> = all["cases"]
        .as_array()
        .expect("a list of cases")
        .iter()
        .filter(|case| case["tool"] == tool)
        .map(|case| Case {
            tool: tool.to_owned(),
            state: case["state"].as_str().expect("a state").to_owned(),
            args: case["args"]
                .as_array()
                .expect("args")
                .iter()
                .map(|a| a.as_str().expect("a string").to_owned())
                .collect(),
            expected: std::fs::read_to_string(data_dir().join(case["file"].as_str().expect("a file")))
                .expect("the recorded output"),
        })
        .collect();
    assert!(!cases.is_empty(), "no {tool} cases recorded");
    cases
}

/// A temporary directory holding the files of a pipeline state, installed as this thread's root.
fn pipeline_state(state: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temp dir");
    let files = &recorded()["states"][state];
    for rel in files.as_array().expect("the files of a state") {
        let path = dir.path().join(rel.as_str().expect("a path"));
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        std::fs::write(&path, "x").expect("write");
    }
    ROOT.with(|root| *root.borrow_mut() = dir.path().to_str().expect("a UTF-8 temp dir").to_owned());
    dir
}

/// Builds the task of a `luigi-deps(-tree)` command line from the registry; returns it with the
/// `--upstream-family` value, if any. Flags without a value are booleans set to true.
fn command_line(args: &[String]) -> (TaskRef, deps::DepsArgs) {
    let (family, rest) = args.split_first().expect("a task family");
    let mut params = ParamArgs::new();
    let mut upstream = deps::DepsArgs::default();
    let mut rest = rest.iter().peekable();
    while let Some(flag) = rest.next() {
        let name = flag.strip_prefix("--").expect("a flag").replace('-', "_");
        let value = match rest.peek() {
            Some(value) if !value.starts_with("--") => rest.next().expect("peeked").clone(),
            _ => "True".to_owned(),
        };
        if name == "upstream_family" {
            upstream.upstream_family = Some(value);
        } else {
            params = params.with(name, value);
        }
    }
    let task = registry::build(family, &params).unwrap_or_else(|err| panic!("building {args:?}: {err}"));
    (task, upstream)
}

fn expected_for(case: &Case, root: &Path) -> String {
    case.expected.replace("{root}", root.to_str().expect("UTF-8"))
}

/// `luigi deps` output as its per-task blocks (a `TASK:` line and its output lines), sorted.
fn blocks(text: &str) -> Vec<String> {
    let mut blocks: Vec<String> = Vec::new();
    for line in text.lines() {
        match blocks.last_mut() {
            Some(block) if !line.starts_with("   TASK: ") => {
                block.push('\n');
                block.push_str(line);
            }
            _ => blocks.push(line.to_owned()),
        }
    }
    blocks.sort();
    blocks
}

#[test]
fn deps_prints_the_tasks_python_prints() {
    for case in cases("deps") {
        let root = pipeline_state(&case.state);
        let (task, args) = command_line(&case.args);
        let mut out = Vec::new();
        deps::run(&task, &args, &mut out).expect("deps runs");
        let out = String::from_utf8(out).expect("UTF-8");
        let expected = expected_for(&case, root.path());
        assert_eq!(blocks(&out), blocks(&expected), "{} {:?}:\n{out}", case.tool, case.args);
        assert_eq!(out.len(), expected.len(), "{:?}", case.args);
        // The root comes first whenever it is on a path.
        if !expected.is_empty() {
            assert!(out.starts_with(&format!("   TASK: {}\n", task.repr())), "{:?}:\n{out}", case.args);
        }
    }
}

#[test]
fn deps_tree_prints_what_python_prints() {
    for case in cases("deps-tree") {
        let root = pipeline_state(&case.state);
        let (task, _) = command_line(&case.args);
        let mut out = Vec::new();
        let summary = deps_tree::run(&task, &deps_tree::DepsTreeArgs::default(), &mut out).expect("deps-tree runs");
        let out = String::from_utf8(out).expect("UTF-8");
        assert_eq!(out, expected_for(&case, root.path()), "{} {} {:?}", case.tool, case.state, case.args);
        assert!(!summary.truncated);
        assert_eq!(summary.lines, out.lines().count() - 1, "an empty first line, then one line per task");
    }
}

#[test]
fn a_truncated_tree_is_the_start_of_pythons() {
    for case in cases("deps-tree") {
        let root = pipeline_state(&case.state);
        let (task, _) = command_line(&case.args);
        let expected = expected_for(&case, root.path());
        let total = expected.lines().count() - 1;
        for max_lines in 1..total {
            let mut out = Vec::new();
            let summary =
                deps_tree::run(&task, &deps_tree::DepsTreeArgs { max_lines }, &mut out).expect("deps-tree runs");
            assert_eq!(summary, deps_tree::TreeSummary { lines: max_lines, truncated: true });
            let out = String::from_utf8(out).expect("UTF-8");
            let kept: Vec<&str> = out.lines().collect();
            assert_eq!(kept[..=max_lines], expected.lines().take(max_lines + 1).collect::<Vec<_>>()[..]);
            assert!(kept[max_lines + 1].starts_with(&format!("... stopped after {max_lines} lines")), "{out}");
            assert_eq!(kept.len(), max_lines + 2);
        }
        let mut out = Vec::new();
        deps_tree::run(&task, &deps_tree::DepsTreeArgs { max_lines: total }, &mut out).expect("deps-tree runs");
        assert_eq!(String::from_utf8(out).expect("UTF-8"), expected, "exactly at the limit: the whole tree");
    }
}

// ---------------------------------------------------------------------------------------------
// grep
// ---------------------------------------------------------------------------------------------

/// Serves `body` as the reply to every request on a free port, from a background thread, until
/// the test process ends.
fn serve_forever(body: String) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                line.clear();
            }
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=UTF-8\r\nContent-Length: {}\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(body.as_bytes()));
        }
    });
    port
}

fn grep_args(host: &str, port: u16, query: &[String]) -> grep::GrepArgs {
    use clap::Parser;
    let flags = ["grep", "--scheduler-host", host, "--scheduler-port", &port.to_string()].map(str::to_owned);
    grep::GrepArgs::try_parse_from(flags.iter().chain(query)).expect("valid grep flags")
}

fn our_grep(host: &str, port: u16, query: &[String]) -> String {
    let mut out = Vec::new();
    grep::run(&grep_args(host, port, query), &mut out).expect("grep runs");
    String::from_utf8(out).expect("UTF-8")
}

#[test]
fn grep_prints_what_python_printed_for_a_recorded_graph() {
    let mut ports = std::collections::HashMap::new();
    for case in cases("grep") {
        let port = *ports.entry(case.state.clone()).or_insert_with(|| {
            let graph = std::fs::read_to_string(data_dir().join(format!("graph_{}.json", case.state)));
            serve_forever(graph.expect("the recorded graph"))
        });
        let out = our_grep("127.0.0.1", port, &case.args);
        assert_eq!(out, case.expected.replace("{port}", &port.to_string()), "{} {:?}", case.state, case.args);
    }
}

/// The Python with Luigi 3.8.1, or `None` when the test must be skipped.
fn python() -> Option<PathBuf> {
    let python = std::env::var_os("LUIGI_PYTHON").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/luigi-rs/venv/bin/python")
    });
    let check = "import luigi; assert luigi.__version__ == '3.8.1', luigi.__version__";
    let why = match Command::new(&python).args(["-c", check]).output() {
        Ok(out) if out.status.success() => return Some(python),
        Ok(out) => format!("{} cannot import luigi 3.8.1: {}", python.display(), String::from_utf8_lossy(&out.stderr)),
        Err(err) => format!("cannot run {}: {err}", python.display()),
    };
    let why = format!("{why}; set LUIGI_PYTHON to a Python with luigi==3.8.1");
    assert!(
        std::env::var("LUIGI_TEST_REQUIRE_SERVICES").as_deref() != Ok("1"),
        "{why} (LUIGI_TEST_REQUIRE_SERVICES=1, so this fails instead of skipping)"
    );
    eprintln!("skipping: {why}");
    None
}

/// A scheduler process, killed when dropped.
struct Server {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts `program args...` with `--address 127.0.0.1 --port <free> --state-path <tmp>`,
    /// `config` as its only configuration file, and waits until it serves `/api/graph`.
    fn start(program: &Path, args: &[&str], config: &str) -> Server {
        let dir = tempfile::tempdir().expect("a temp dir");
        let cfg = dir.path().join("luigi.cfg");
        std::fs::write(&cfg, config).expect("write luigi.cfg");
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let state = dir.path().join("state");
        let child = Command::new(program)
            .args(args)
            .args(["--address", "127.0.0.1", "--port", &port.to_string(), "--state-path"])
            .arg(&state)
            .current_dir(dir.path())
            .env("LUIGI_CONFIG_PATH", &cfg)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| panic!("starting {}: {err}", program.display()));
        let server = Server { child, port, _dir: dir };
        let deadline = Instant::now() + Duration::from_secs(30);
        while grep::fetch_graph("127.0.0.1", port).is_err() {
            assert!(Instant::now() < deadline, "{} did not start serving on port {port}", program.display());
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// POSTs an RPC the way Luigi's client does (`data=<JSON>`, form-encoded).
    fn rpc(&self, method: &str, data: &Value) {
        let encoded: String = data
            .to_string()
            .bytes()
            .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
            .collect();
        let body = format!("data={encoded}");
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        write!(
            stream,
            "POST /api/{method} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.port,
            body.len()
        )
        .expect("send");
        let mut reply = String::new();
        stream.read_to_string(&mut reply).expect("reply");
        assert!(reply.starts_with("HTTP/1.1 200"), "{method} {data}: {reply}");
    }
}

/// Runs Python's `luigi-grep` once per query in one process; its outputs, in order.
fn python_grep(python: &Path, port: u16, queries: &[Vec<String>]) -> Vec<String> {
    const SEPARATOR: &str = "\u{1}--next query--\n";
    let script = "import json, sys\n\
        from luigi.tools import luigi_grep\n\
        port, queries = sys.argv[1], json.loads(sys.argv[2])\n\
        for query in queries:\n\
        \x20   sys.argv = ['luigi-grep', '--scheduler-host', '127.0.0.1', '--scheduler-port', port] + query\n\
        \x20   luigi_grep.main()\n\
        \x20   print('\\x01--next query--', flush=True)\n";
    let out = Command::new(python)
        .args(["-c", script, &port.to_string(), &serde_json::to_string(queries).expect("JSON")])
        .output()
        .expect("run luigi-grep");
    assert!(out.status.success(), "luigi-grep failed: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    let mut outputs: Vec<String> = text.split(SEPARATOR).map(str::to_owned).collect();
    assert_eq!(outputs.pop().as_deref(), Some(""), "one output per query");
    outputs
}

#[test]
fn grep_prints_what_luigi_grep_prints_against_python_and_rust_schedulers() {
    let Some(python) = python() else { return };
    let grep_data = &recorded()["grep"];
    let queries: Vec<Vec<String>> = serde_json::from_value(grep_data["queries"].clone()).expect("queries");
    let tasks = grep_data["tasks"].as_array().expect("tasks");
    let python_luigid = ["-c", "import sys; from luigi.cmdline import luigid; luigid(sys.argv[1:])"];
    let ours = Path::new(env!("CARGO_BIN_EXE_luigid"));
    for (name, config) in grep_data["servers"].as_object().expect("server configurations") {
        let config = config.as_str().expect("a configuration");
        for (kind, server) in
            [("Python", Server::start(&python, &python_luigid, config)), ("Rust", Server::start(ours, &[], config))]
        {
            for task in tasks {
                let data = serde_json::json!({
                    "worker": "w1", "task_id": task[0], "family": task[1], "status": task[2], "deps": task[3],
                    "params": {},
                });
                server.rpc("add_task", &data);
            }
            let expected = python_grep(&python, server.port, &queries);
            for (query, expected) in queries.iter().zip(expected) {
                let out = our_grep("127.0.0.1", server.port, query);
                assert_eq!(out, expected, "{kind} luigid, {name} graph, {query:?}");
            }
            // The searches found something: the comparison is not between two empty outputs.
            assert!(our_grep("127.0.0.1", server.port, &queries[0]).contains(", Dependencies:"), "{kind} {name}");
        }
    }
}
