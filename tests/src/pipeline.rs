//! Harness for the worker's end-to-end tests (`tests/tests/worker_*.rs`): run the test
//! pipeline (`src/bin/pipeline-under-test.rs`, a user program calling `luigi_cli::main()`) or
//! its Python twin (`tests/python/worker_pipeline.py`) as real processes, and read back what
//! they did.
//!
//! A [`Pipeline`] is one test's sandbox: a temporary directory with the workers' working
//! directory (holding the `luigi.cfg` the test wrote) and the `root` directory every task of
//! the pipeline writes under. [`Pipeline::spawn`] starts a process there with stdout and stderr
//! sent to files (so a full pipe can never block it), [`Running::finish`] waits for it with a
//! generous limit and returns a [`Finished`]: exit code or signal, both streams, how long it
//! took. [`Summary::parse`] reads the execution summary back into its categories, and
//! [`Pipeline::events`] / [`Pipeline::runs`] read the event log and the run log the tasks
//! keep. Tests wait for files the tasks create ([`wait_for_file`]), never for time to pass.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::unavailable;

/// Longest any process of a test may take before the test kills it and fails.
pub const PROCESS_LIMIT: Duration = Duration::from_secs(180);

/// The exit codes of Luigi's recommended `[retcode]` values, our defaults.
pub mod codes {
    /// The process lock is held by an identical command.
    pub const ALREADY_RUNNING: i32 = 10;
    /// External data is missing.
    pub const MISSING_DATA: i32 = 20;
    /// Tasks were not granted run permission.
    pub const NOT_RUN: i32 = 25;
    /// A task failed.
    pub const TASK_FAILED: i32 = 30;
    /// A task's `complete()` or `requires()` failed.
    pub const SCHEDULING_ERROR: i32 = 35;
    /// An error outside any task.
    pub const UNHANDLED_EXCEPTION: i32 = 40;
}

/// `[retcode]` with Luigi's recommended values, for Python runs (whose defaults are zeros)
/// and to state ours explicitly.
pub const RETCODES_CFG: &str = "[retcode]\nalready_running = 10\nmissing_data = 20\nnot_run = 25\n\
                                task_failed = 30\nscheduling_error = 35\nunhandled_exception = 40\n";

/// Which twin of the pipeline a process runs.
#[derive(Debug, Clone)]
pub enum Program {
    /// Our program (`CARGO_BIN_EXE_pipeline-under-test`).
    Rust(PathBuf),
    /// `python -m luigi --module worker_pipeline`, with this interpreter.
    Python(PathBuf),
}

/// One test's sandbox.
pub struct Pipeline {
    _tmp: tempfile::TempDir,
    /// The workers' working directory, with their `luigi.cfg`.
    pub work: PathBuf,
    /// Where the tasks write (`--root`).
    pub root: PathBuf,
    /// The event log (`$PIPELINE_EVENTS`).
    pub events_file: PathBuf,
    spawned: usize,
}

impl Pipeline {
    /// A sandbox whose `luigi.cfg` is `cfg`.
    pub fn new(cfg: &str) -> Pipeline {
        let tmp = tempfile::tempdir().expect("a temporary directory");
        let work = tmp.path().join("work");
        let root = tmp.path().join("root");
        for dir in [&work, &root] {
            std::fs::create_dir(dir).expect("creating a test directory");
        }
        std::fs::write(work.join("luigi.cfg"), cfg).expect("writing luigi.cfg");
        let events_file = tmp.path().join("events.log");
        Pipeline { _tmp: tmp, work, root, events_file, spawned: 0 }
    }

    /// `--root` as a string.
    pub fn root_arg(&self) -> String {
        self.root.display().to_string()
    }

    /// Empties the root directory and the event log (between runs of the two twins).
    pub fn reset(&self) {
        std::fs::remove_dir_all(&self.root).expect("removing the root directory");
        std::fs::create_dir(&self.root).expect("re-creating the root directory");
        let _ = std::fs::remove_file(&self.events_file);
    }

    /// The command that runs `program` with `args` in the working directory, recording events.
    pub fn command(&self, program: &Program, args: &[&str]) -> Command {
        let mut command = match program {
            Program::Rust(path) => Command::new(path),
            Program::Python(python) => {
                let mut command = Command::new(python);
                command
                    .args(["-m", "luigi", "--module", "worker_pipeline"])
                    .env("PYTHONPATH", Path::new(env!("CARGO_MANIFEST_DIR")).join("python"))
                    .env("PYTHONDONTWRITEBYTECODE", "1");
                command
            }
        };
        command
            .args(args)
            .current_dir(&self.work)
            .env_remove("LUIGI_CONFIG_PATH")
            .env_remove("LUIGI_CONFIG_PARSER")
            .env("PIPELINE_EVENTS", &self.events_file)
            .stdin(Stdio::null());
        command
    }

    /// Starts `program` with `args`.
    pub fn spawn(&mut self, program: &Program, args: &[&str]) -> Running {
        self.spawned += 1;
        let stdout = self.work.join(format!("run-{}.out", self.spawned));
        let stderr = self.work.join(format!("run-{}.err", self.spawned));
        let mut command = self.command(program, args);
        command
            .stdout(std::fs::File::create(&stdout).expect("the stdout file"))
            .stderr(std::fs::File::create(&stderr).expect("the stderr file"));
        let child = command.spawn().unwrap_or_else(|err| panic!("starting {program:?}: {err}"));
        Running { child, stdout, stderr, started: Instant::now(), args: args.iter().map(|a| (*a).to_owned()).collect() }
    }

    /// Runs `program` with `args` to its end.
    pub fn run(&mut self, program: &Program, args: &[&str]) -> Finished {
        self.spawn(program, args).finish()
    }

    /// The events recorded so far, one `(event, task id, extra)` per line, in order.
    pub fn events(&self) -> Vec<EventLine> {
        std::fs::read_to_string(&self.events_file)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| {
                let mut words = line.split(' ');
                Some(EventLine {
                    event: words.next()?.to_owned(),
                    task: words.next()?.to_owned(),
                    extra: words.next().map(str::to_owned),
                })
            })
            .collect()
    }

    /// The lines of `<root>/runs.log`, in order.
    pub fn runs(&self) -> Vec<RunLine> {
        std::fs::read_to_string(self.root.join("runs.log"))
            .unwrap_or_default()
            .lines()
            .filter_map(|line| {
                let mut words = line.split(' ');
                Some(RunLine {
                    task: words.next()?.to_owned(),
                    what: words.next()?.to_owned(),
                    pid: words.next()?.parse().ok()?,
                })
            })
            .collect()
    }

    /// How many `runs.log` lines say `what` for a task whose id starts with `prefix`.
    pub fn count_runs(&self, prefix: &str, what: &str) -> usize {
        self.runs().iter().filter(|r| r.task.starts_with(prefix) && r.what == what).count()
    }

    /// Whether the task output `<root>/<id>` exists for a task whose id starts with `prefix`.
    pub fn has_output(&self, prefix: &str) -> bool {
        std::fs::read_dir(&self.root)
            .map(|entries| entries.filter_map(Result::ok).any(|e| e.file_name().to_string_lossy().starts_with(prefix)))
            .unwrap_or(false)
    }
}

/// One line of `runs.log`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunLine {
    /// The task id.
    pub task: String,
    /// `run`, `start`, `pre`...
    pub what: String,
    /// The process that wrote it.
    pub pid: u32,
}

/// One recorded event.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct EventLine {
    /// Luigi's event string (`event.core.success`...).
    pub event: String,
    /// The task it fired for.
    pub task: String,
    /// The dependency, for `event.core.dependency.discovered`.
    pub extra: Option<String>,
}

/// A process of the pipeline.
pub struct Running {
    child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
    started: Instant,
    args: Vec<String>,
}

impl Running {
    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (a `libc::SIG*`) to the process.
    pub fn signal(&self, signal: i32) {
        let pid = i32::try_from(self.child.id()).expect("a pid fits i32");
        // SAFETY: kill(2) on our own child, which has not been reaped yet (we hold its Child).
        let rc = unsafe { libc::kill(pid, signal) };
        assert_eq!(rc, 0, "kill({pid}, {signal}) failed");
    }

    /// Whether the process has exited (it can still be finished).
    pub fn has_exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// What it wrote to stderr so far.
    pub fn stderr_so_far(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Waits for the exit, killing the process after [`PROCESS_LIMIT`].
    pub fn finish(mut self) -> Finished {
        let deadline = self.started + PROCESS_LIMIT;
        let status: Option<ExitStatus> = loop {
            if let Some(status) = self.child.try_wait().expect("waiting for a pipeline process") {
                break Some(status);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let elapsed = self.started.elapsed();
        let stdout = std::fs::read_to_string(&self.stdout).unwrap_or_default();
        let stderr = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        let finished = Finished {
            code: status.and_then(|s| s.code()),
            signal: status.and_then(|s| std::os::unix::process::ExitStatusExt::signal(&s)),
            stdout,
            stderr,
            elapsed,
            args: self.args.join(" "),
        };
        assert!(status.is_some(), "the process did not exit within {PROCESS_LIMIT:?}: {}", finished.describe());
        finished
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A process that exited.
#[derive(Debug, Clone)]
pub struct Finished {
    /// The exit code, unless a signal ended it.
    pub code: Option<i32>,
    /// The signal that ended it.
    pub signal: Option<i32>,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error (where the log and the summary go).
    pub stderr: String,
    /// From start to exit.
    pub elapsed: Duration,
    args: String,
}

impl Finished {
    /// Everything about the run, for assertion messages.
    pub fn describe(&self) -> String {
        format!(
            "`{}` exited with code {:?} (signal {:?}) after {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.args, self.code, self.signal, self.elapsed, self.stdout, self.stderr
        )
    }

    /// Asserts the exit code.
    pub fn assert_code(&self, code: i32) -> &Finished {
        assert_eq!(self.code, Some(code), "unexpected exit: {}", self.describe());
        self
    }

    /// Both streams.
    pub fn output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// The execution summary it printed.
    pub fn summary(&self) -> Summary {
        Summary::parse(&self.output()).unwrap_or_else(|| panic!("no execution summary: {}", self.describe()))
    }
}

const BANNER: &str = "===== Luigi Execution Summary =====";

/// A parsed execution summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The text from the first banner to the last, inclusive (log prefixes removed).
    pub text: String,
    /// `Scheduled N tasks of which:`'s N (0 for "Did not schedule any tasks").
    pub scheduled: usize,
    /// Each `* <count> <phrase>:` line in order, with the task lines under it.
    pub categories: Vec<Category>,
    /// The `This progress looks ...` line.
    pub verdict: String,
}

/// One category of a summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category {
    /// `ran successfully`, `failed`, `were missing external dependencies`...
    pub phrase: String,
    /// Its count.
    pub count: usize,
    /// The task lines under it (`- 2 Leaf(...)`), trimmed.
    pub tasks: Vec<String>,
}

impl Summary {
    /// Finds and parses the summary in a process's output (`INFO: ` log prefixes allowed).
    pub fn parse(output: &str) -> Option<Summary> {
        let start = output.find(BANNER)?;
        let end = output.rfind(BANNER)?;
        if end <= start {
            return None;
        }
        let text = output[start..end + BANNER.len()].to_owned();
        let mut summary = Summary { text: text.clone(), scheduled: 0, categories: Vec::new(), verdict: String::new() };
        for line in text.lines() {
            let trimmed = line.trim();
            if let Some(rest) = trimmed.strip_prefix("Scheduled ") {
                summary.scheduled = rest.split(' ').next()?.parse().ok()?;
            } else if let Some(rest) = trimmed.strip_prefix("* ") {
                let (count, phrase) = rest.split_once(' ')?;
                summary.categories.push(Category {
                    phrase: phrase.trim_end_matches(':').trim_end_matches(", among these").to_owned(),
                    count: count.parse().ok()?,
                    tasks: Vec::new(),
                });
            } else if trimmed.starts_with("- ") {
                summary.categories.last_mut()?.tasks.push(trimmed.to_owned());
            } else if trimmed.starts_with("This progress looks") {
                summary.verdict = trimmed.to_owned();
            }
        }
        Some(summary)
    }

    /// The count of the category with `phrase` (0 when absent).
    pub fn count(&self, phrase: &str) -> usize {
        self.categories.iter().filter(|c| c.phrase == phrase).map(|c| c.count).sum()
    }

    /// The task lines of the category with `phrase`.
    pub fn tasks(&self, phrase: &str) -> Vec<String> {
        self.categories.iter().filter(|c| c.phrase == phrase).flat_map(|c| c.tasks.clone()).collect()
    }
}

/// Waits (up to [`PROCESS_LIMIT`]) until `path` exists; false if it never does or `running`
/// exits first.
pub fn wait_for_file(path: &Path, running: &mut Running) -> bool {
    let deadline = Instant::now() + PROCESS_LIMIT;
    while Instant::now() < deadline {
        if path.exists() {
            return true;
        }
        if running.has_exited() {
            return path.exists();
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// The Python with Luigi 3.8.1 (`LUIGI_PYTHON`, default the project's venv), or `None` after
/// reporting why the test must be skipped (it fails under `LUIGI_TEST_REQUIRE_SERVICES=1`).
pub fn luigi_python() -> Option<PathBuf> {
    let python = std::env::var_os("LUIGI_PYTHON").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/luigi-rs/venv/bin/python")
    });
    let check = "import luigi; assert luigi.__version__ == '3.8.1', luigi.__version__";
    let why = match Command::new(&python).args(["-c", check]).output() {
        Ok(out) if out.status.success() => return Some(python),
        Ok(out) => format!("{} cannot import luigi 3.8.1: {}", python.display(), String::from_utf8_lossy(&out.stderr)),
        Err(err) => format!("cannot run {}: {err}", python.display()),
    };
    unavailable(&format!("{why}; set LUIGI_PYTHON to a Python with luigi==3.8.1"));
    None
}

/// Writes `text` to `path` atomically (write a sibling, rename), so a task polling for the
/// file never sees it half-written.
pub fn create_file(path: &Path, text: &str) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp-partial");
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))
}

/// Waits (up to [`PROCESS_LIMIT`]) until `condition` holds; panics naming `what` if it never
/// does or `running` exits first.
pub fn wait_until(running: &mut Running, what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + PROCESS_LIMIT;
    while Instant::now() < deadline {
        if condition() {
            return;
        }
        if running.has_exited() {
            assert!(condition(), "the process exited before {what}; stderr:\n{}", running.stderr_so_far());
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("timed out waiting for {what}; stderr:\n{}", running.stderr_so_far());
}
