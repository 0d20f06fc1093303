//! Runs the example pipelines of `luigi-cli/examples/` as real processes and checks what they
//! promise: their output files, their exit codes and the lines of their execution summaries.
//!
//! Each test runs an example binary in its own temporary directory with `--local-scheduler
//! --no-lock`, so tests run in parallel without sharing files or the process lock, and with
//! no `LUIGI_CONFIG_PATH`, so a developer's configuration cannot change the outcome.
//!
//! Finding the binaries: `cargo test` builds a package's examples before running its
//! integration tests, next to them in `target/<profile>/examples/`. A narrower command (`cargo
//! test --test examples`) does not, so when a binary is missing, or older than its example's
//! source, the tests build all examples once with the `cargo` that runs them, into the same
//! target directory and profile.
//!
//! Expected values are computed here independently of the examples (the top-ten list is
//! recounted from the generated stream files), and the summary is searched in stdout and
//! stderr together, so where the command line chooses to print it does not matter.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

mod support;

/// The longest any single example run may take before the test kills it and fails.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------
// Locating and running the example binaries.
// ---------------------------------------------------------------------------------------------

/// Builds the examples, matching this test binary's target directory and profile. Runs at
/// most once per test process.
fn build_examples() {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    if let Err(err) = BUILT.get_or_init(|| support::build(&["--examples"])) {
        panic!("the example binaries are missing and building them failed: {err}");
    }
}

/// Whether the binary at `path` is missing or older than its example's source file.
fn missing_or_stale(name: &str, path: &Path) -> bool {
    let modified = |path: &Path| std::fs::metadata(path).and_then(|meta| meta.modified()).ok();
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples").join(format!("{name}.rs"));
    match (modified(path), modified(&source)) {
        (None, _) => true,
        (Some(built), Some(edited)) => built < edited,
        (Some(_), None) => false,
    }
}

/// The path of an example binary, building the examples if it is missing or older than its
/// source (as after `cargo test --test examples`, which does not build examples). A change
/// elsewhere in the workspace is picked up by a plain `cargo test`, which rebuilds them.
fn example(name: &str) -> PathBuf {
    // Tests run in parallel; one of them builds while the others wait for it here.
    static LOCK: Mutex<()> = Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let path = support::example_path(name);
    if missing_or_stale(name, &path) {
        build_examples();
    }
    assert!(path.exists(), "the example {} was not built", path.display());
    path
}

/// A finished run: exit code and everything it printed.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Stdout and stderr together: where the summary goes is the command line's business.
    fn text(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    /// Asserts the exit code, showing the output when it is wrong.
    fn assert_code(&self, code: i32) -> &Run {
        assert_eq!(self.code, Some(code), "unexpected exit code; output:\n{}", self.text());
        self
    }

    /// Asserts that every line in `lines` appears in the output, trimmed, in this order.
    fn assert_lines(&self, lines: &[&str]) -> &Run {
        let text = self.text();
        let mut printed = text.lines().map(str::trim);
        for line in lines {
            assert!(
                printed.any(|printed| printed == *line),
                "the output lacks the line {line:?} (or has it out of order):\n{text}"
            );
        }
        self
    }

    /// Asserts that `line` appears nowhere in the output.
    fn assert_no_line(&self, line: &str) -> &Run {
        let text = self.text();
        assert!(!text.lines().any(|printed| printed.trim() == line), "the output has the line {line:?}:\n{text}");
        self
    }
}

/// A command for `example` in `dir` with the test's fixed flags, isolated from the caller's
/// configuration.
fn command(example_name: &str, dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(example(example_name));
    cmd.args(args).arg("--no-lock");
    if !args.contains(&"--scheduler-port") {
        cmd.arg("--local-scheduler");
    }
    cmd.current_dir(dir)
        .env_remove("LUIGI_CONFIG_PATH")
        .env_remove("LUIGI_CONFIG_PARSER")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Reads a child's pipe to the end on its own thread, so neither pipe can fill and block it.
fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Waits for the process `pid`, whose status `status` delivers, killing it after
/// [`RUN_TIMEOUT`].
fn wait_or_kill(pid: u32, status: &mpsc::Receiver<std::io::Result<ExitStatus>>, what: &str) -> Option<i32> {
    match status.recv_timeout(RUN_TIMEOUT) {
        Ok(Ok(status)) => status.code(),
        Ok(Err(err)) => panic!("cannot wait for {what}: {err}"),
        Err(_) => {
            // The pid is our own child's, which has not been reaped (its waiter is still blocked).
            if let Ok(pid) = libc::pid_t::try_from(pid) {
                // SAFETY: kill has no memory-safety preconditions.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            panic!("{what} did not finish within {RUN_TIMEOUT:?} and was killed");
        }
    }
}

/// Runs `example` to the end in `dir`.
fn run(example_name: &str, dir: &Path, args: &[&str]) -> Run {
    let mut child = command(example_name, dir, args)
        .spawn()
        .unwrap_or_else(|err| panic!("cannot start the example {example_name}: {err}"));
    let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
    let (stdout, stderr) = (stdout.map(drain), stderr.map(drain));
    let pid = child.id();
    let (send, status) = mpsc::channel();
    std::thread::spawn(move || send.send(child.wait()));
    let code = wait_or_kill(pid, &status, &format!("{example_name} {}", args.join(" ")));
    let stdout = stdout.and_then(|handle| handle.join().ok()).unwrap_or_default();
    let stderr = stderr.and_then(|handle| handle.join().ok()).unwrap_or_default();
    Run { code, stdout, stderr }
}

fn read(path: impl AsRef<Path>) -> String {
    let path = path.as_ref();
    std::fs::read_to_string(path).unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()))
}

fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|err| panic!("cannot create a temporary directory: {err}"))
}

fn root_of(dir: &tempfile::TempDir) -> String {
    dir.path().join("out").to_string_lossy().into_owned()
}

// ---------------------------------------------------------------------------------------------
// word_count
// ---------------------------------------------------------------------------------------------

#[test]
fn word_count_runs_both_tasks_then_nothing_then_only_what_is_missing() {
    let dir = temp_dir();
    let root = root_of(&dir);
    let args = ["CountLetters", "--root", root.as_str()];

    run("word_count", dir.path(), &args).assert_code(0).assert_lines(&[
        "Scheduled 2 tasks of which:",
        "* 2 ran successfully:",
        &format!("- 1 CountLetters(root={root})"),
        &format!("- 1 GenerateWords(root={root})"),
        "This progress looks :) because there were no failed tasks or missing dependencies",
    ]);
    assert_eq!(read(format!("{root}/words.txt")), "apple\nbanana\ngrapefruit\n");
    assert_eq!(read(format!("{root}/letter_counts.txt")), "apple | 5\nbanana | 6\ngrapefruit | 10\n");

    // Everything is complete: the second run only checks the top task.
    let modified = std::fs::metadata(format!("{root}/letter_counts.txt")).and_then(|m| m.modified()).ok();
    run("word_count", dir.path(), &args)
        .assert_code(0)
        .assert_lines(&[
            "Scheduled 1 tasks of which:",
            "* 1 complete ones were encountered:",
            &format!("- 1 CountLetters(root={root})"),
            "Did not run any tasks",
            "This progress looks :) because there were no failed tasks or missing dependencies",
        ])
        .assert_no_line("* 1 ran successfully:");
    let unchanged = std::fs::metadata(format!("{root}/letter_counts.txt")).and_then(|m| m.modified()).ok();
    assert_eq!(modified, unchanged, "the second run rewrote letter_counts.txt");

    // Without the last output, only the last task runs again.
    std::fs::remove_file(format!("{root}/letter_counts.txt")).unwrap_or_else(|err| panic!("cannot delete: {err}"));
    run("word_count", dir.path(), &args).assert_code(0).assert_lines(&[
        "Scheduled 2 tasks of which:",
        "* 1 complete ones were encountered:",
        &format!("- 1 GenerateWords(root={root})"),
        "* 1 ran successfully:",
        &format!("- 1 CountLetters(root={root})"),
    ]);
    assert_eq!(read(format!("{root}/letter_counts.txt")), "apple | 5\nbanana | 6\ngrapefruit | 10\n");
}

#[test]
fn word_count_without_its_required_parameter_fails_before_running_anything() {
    let dir = temp_dir();
    // As in Luigi, a task that cannot be built is an error outside any task: [retcode]
    // unhandled_exception (40 here).
    let output = run("word_count", dir.path(), &["CountLetters"]);
    output.assert_code(40);
    assert!(output.stderr.contains("'root'"), "the error does not name the missing parameter:\n{}", output.text());
    assert!(!output.text().contains("Luigi Execution Summary"), "a run started:\n{}", output.text());
}

// ---------------------------------------------------------------------------------------------
// top_artists
// ---------------------------------------------------------------------------------------------

fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap_or_else(|err| panic!("bad date {text}: {err}"))
}

/// The top-ten file for the days `[date_a, date_b)`, recounted from the stream files.
fn expected_top10(root: &str, date_a: NaiveDate, date_b: NaiveDate) -> String {
    let mut plays = std::collections::BTreeMap::<String, u64>::new();
    for day in date_a.iter_days().take_while(|day| *day < date_b) {
        let path = format!("{root}/{}", day.format("streams_%Y_%m_%d_faked.tsv"));
        for line in read(&path).lines() {
            let artist = line.split(' ').nth(1).unwrap_or_else(|| panic!("{path}: malformed line {line:?}"));
            *plays.entry(artist.to_owned()).or_default() += 1;
        }
    }
    let mut ranked: Vec<(String, u64)> = plays.into_iter().collect();
    ranked.sort_by(|(a_name, a_count), (b_name, b_count)| b_count.cmp(a_count).then(a_name.cmp(b_name)));
    ranked.iter().take(10).map(|(artist, count)| format!("{date_a}\t{date_b}\t{artist}\t{count}\n")).collect()
}

/// Checks one day's stream file: 1000 `timestamp artist track` lines of that day, in time order.
fn check_streams(root: &str, day: NaiveDate) {
    let path = format!("{root}/{}", day.format("streams_%Y_%m_%d_faked.tsv"));
    let text = read(&path);
    let start = NaiveDateTime::new(day, NaiveTime::MIN).and_utc().timestamp();
    let mut previous = start;
    let mut lines = 0;
    for line in text.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        assert_eq!(fields.len(), 3, "{path}: {line:?} is not `timestamp artist track`");
        let timestamp: i64 = fields[0].parse().unwrap_or_else(|err| panic!("{path}: bad timestamp in {line:?}: {err}"));
        assert!((previous..start + 86_400).contains(&timestamp), "{path}: {line:?} is out of order or not on {day}");
        assert!(fields[1].starts_with("artist") && fields[2].starts_with("track"), "{path}: {line:?}");
        previous = timestamp;
        lines += 1;
    }
    assert_eq!(lines, 1000, "{path}");
}

#[test]
fn top_artists_ranks_a_custom_interval_then_reuses_its_days_for_the_month() {
    let dir = temp_dir();
    let root = root_of(&dir);

    let week = ["Top10Artists", "--date-interval", "2024-01-01-2024-01-08", "--root", &root, "--workers", "2"];
    run("top_artists", dir.path(), &week).assert_code(0).assert_lines(&[
        "Scheduled 9 tasks of which:",
        "* 9 ran successfully:",
        &format!("- 1 AggregateArtists(date_interval=2024-01-01-2024-01-08, root={root})"),
        &format!("- 7 Streams(date=2024-01-01...2024-01-07, root={root})"),
        &format!("- 1 Top10Artists(date_interval=2024-01-01-2024-01-08, root={root})"),
    ]);
    for day in date("2024-01-01").iter_days().take(7) {
        check_streams(&root, day);
    }
    assert!(!Path::new(&format!("{root}/streams_2024_01_08_faked.tsv")).exists(), "the interval's end is excluded");
    let top = read(format!("{root}/top_artists_2024-01-01-2024-01-08.tsv"));
    assert_eq!(top, expected_top10(&root, date("2024-01-01"), date("2024-01-08")));
    assert_eq!(top.lines().count(), 10);

    // Every play is counted once in the aggregate.
    let aggregate = read(format!("{root}/artist_streams_2024-01-01-2024-01-08.tsv"));
    let total: u64 = aggregate
        .lines()
        .map(|line| line.split('\t').nth(1).and_then(|count| count.parse::<u64>().ok()).unwrap_or(0))
        .sum();
    assert_eq!(total, 7 * 1000);

    // The month shares its first seven days with the week.
    let month = ["Top10Artists", "--date-interval", "2024-01", "--root", &root, "--workers", "2"];
    run("top_artists", dir.path(), &month).assert_code(0).assert_lines(&[
        "Scheduled 33 tasks of which:",
        "* 7 complete ones were encountered:",
        &format!("- 7 Streams(date=2024-01-01...2024-01-07, root={root})"),
        "* 26 ran successfully:",
        &format!("- 1 AggregateArtists(date_interval=2024-01, root={root})"),
        &format!("- 24 Streams(date=2024-01-08...2024-01-31, root={root})"),
        &format!("- 1 Top10Artists(date_interval=2024-01, root={root})"),
    ]);
    assert_eq!(
        read(format!("{root}/top_artists_2024-01.tsv")),
        expected_top10(&root, date("2024-01-01"), date("2024-02-01"))
    );
}

#[test]
fn top_artists_stream_data_depends_only_on_the_date() {
    let (first, second) = (temp_dir(), temp_dir());
    let (root_a, root_b) = (root_of(&first), root_of(&second));
    run("top_artists", first.path(), &["Streams", "--date", "2023-12-31", "--root", &root_a]).assert_code(0);
    run("top_artists", second.path(), &["Streams", "--date", "2023-12-31", "--root", &root_b]).assert_code(0);
    run("top_artists", second.path(), &["Streams", "--date", "2024-01-01", "--root", &root_b]).assert_code(0);
    let day = |root: &str, name: &str| read(format!("{root}/streams_{name}_faked.tsv"));
    assert_eq!(day(&root_a, "2023_12_31"), day(&root_b, "2023_12_31"));
    assert_ne!(day(&root_b, "2023_12_31"), day(&root_b, "2024_01_01"), "two days have the same plays");
    check_streams(&root_a, date("2023-12-31"));
}

#[test]
fn top_artists_takes_luigis_interval_forms() {
    let dir = temp_dir();
    let root = root_of(&dir);
    // A single day is a valid interval too; its file name is the interval's string form.
    run("top_artists", dir.path(), &["Top10Artists", "--date-interval", "2024-02-29", "--root", &root])
        .assert_code(0)
        .assert_lines(&["Scheduled 3 tasks of which:", "* 3 ran successfully:"]);
    assert_eq!(
        read(format!("{root}/top_artists_2024-02-29.tsv")),
        expected_top10(&root, date("2024-02-29"), date("2024-03-01"))
    );

    // ISO week 1 of 2024 runs from Monday 2024-01-01 to Sunday 2024-01-07.
    run("top_artists", dir.path(), &["Top10Artists", "--date-interval", "2024-W01", "--root", &root])
        .assert_code(0)
        .assert_lines(&[&format!("- 7 Streams(date=2024-01-01...2024-01-07, root={root})")]);
    assert_eq!(
        read(format!("{root}/top_artists_2024-W01.tsv")),
        expected_top10(&root, date("2024-01-01"), date("2024-01-08"))
    );

    let bad = run("top_artists", dir.path(), &["Top10Artists", "--date-interval", "2024-13", "--root", &root]);
    bad.assert_code(40);
    assert!(bad.stderr.contains("date_interval"), "the error does not name the parameter:\n{}", bad.text());
    assert!(!bad.text().contains("Luigi Execution Summary"), "a run started:\n{}", bad.text());
}

// ---------------------------------------------------------------------------------------------
// wrapper
// ---------------------------------------------------------------------------------------------

fn expected_report(i: i64) -> String {
    format!("report {i}\nsum of squares 0..={i}: {}\n", i * (i + 1) * (2 * i + 1) / 6)
}

#[test]
fn wrapper_runs_every_report_and_the_summary_collapses_them_into_ranges() {
    let dir = temp_dir();
    let root = root_of(&dir);

    let fifty = ["AllReports", "--n", "50", "--root", &root, "--work-ms", "0", "--workers", "4"];
    run("wrapper", dir.path(), &fifty).assert_code(0).assert_lines(&[
        "Scheduled 51 tasks of which:",
        "* 51 ran successfully:",
        &format!("- 1 AllReports(root={root}, n=50)"),
        &format!("- 50 Report(root={root}, i=0...49, work_ms=0)"),
    ]);
    for i in 0..50 {
        assert_eq!(read(format!("{root}/reports/report_{i}.txt")), expected_report(i));
    }

    // Ten more: the first fifty are found complete and form a range of their own.
    let sixty = ["AllReports", "--n", "60", "--root", &root, "--work-ms", "0", "--workers", "4"];
    run("wrapper", dir.path(), &sixty).assert_code(0).assert_lines(&[
        "Scheduled 61 tasks of which:",
        "* 50 complete ones were encountered:",
        &format!("- 50 Report(root={root}, i=0...49, work_ms=0)"),
        "* 11 ran successfully:",
        &format!("- 1 AllReports(root={root}, n=60)"),
        &format!("- 10 Report(root={root}, i=50...59, work_ms=0)"),
    ]);
    assert_eq!(read(format!("{root}/reports/report_59.txt")), expected_report(59));

    // The wrapper is complete once its reports are, whatever work_ms says.
    run("wrapper", dir.path(), &["AllReports", "--n", "60", "--root", &root, "--work-ms", "5"])
        .assert_code(0)
        .assert_lines(&["Scheduled 1 tasks of which:", "* 1 complete ones were encountered:", "Did not run any tasks"]);
}

#[test]
fn wrapper_with_several_workers_runs_reports_at_the_same_time() {
    let dir = temp_dir();
    let root = root_of(&dir);
    // Eight reports of 400 ms each take at least 3.2 s one after the other, so finishing the
    // whole run sooner proves that reports overlapped.
    const REPORTS: u32 = 8;
    const WORK: Duration = Duration::from_millis(400);
    // Built (if need be) before the clock starts.
    example("wrapper");
    let started = Instant::now();
    run("wrapper", dir.path(), &["AllReports", "--n", "8", "--root", &root, "--work-ms", "400", "--workers", "4"])
        .assert_code(0)
        .assert_lines(&["* 9 ran successfully:"]);
    let elapsed = started.elapsed();
    assert!(elapsed < WORK * REPORTS, "8 reports with 4 workers took {elapsed:?}: they did not run in parallel");
}

// ---------------------------------------------------------------------------------------------
// dynamic_deps
// ---------------------------------------------------------------------------------------------

/// Runs `Dynamic --seed seed` and checks its files; returns how many `Data` tasks it required.
fn check_dynamic(root: &str, seed: i64) -> usize {
    let config = read(format!("{root}/config_{seed}.txt"));
    let numbers: Vec<i64> = config
        .split(',')
        .map(|word| word.parse().unwrap_or_else(|err| panic!("config_{seed}.txt: {word:?}: {err}")))
        .collect();
    assert!((7..=25).contains(&numbers.len()), "config_{seed}.txt lists {} numbers", numbers.len());
    let mut distinct = numbers.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), numbers.len(), "config_{seed}.txt repeats a number");
    assert!(numbers.iter().all(|n| (0..300).contains(n)), "config_{seed}.txt: {numbers:?}");
    for n in &numbers {
        assert_eq!(read(format!("{root}/data/data_{n}.txt")), n.to_string());
    }
    let sum: i64 = numbers.iter().sum();
    assert_eq!(
        read(format!("{root}/dynamic_{seed}.txt")),
        format!("data tasks: {}\nsum: {sum}\nrun() started 1 time(s) in this process\n", numbers.len())
    );
    numbers.len()
}

#[test]
fn dynamic_deps_with_one_worker_continues_run_after_each_require() {
    let dir = temp_dir();
    let root = root_of(&dir);
    let args = ["Dynamic", "--seed", "1", "--root", &root, "--workers", "1"];
    let first = run("dynamic_deps", dir.path(), &args);
    first.assert_code(0);
    let data = check_dynamic(&root, 1);
    first.assert_lines(&[
        &format!("Scheduled {} tasks of which:", data + 2),
        &format!("* {} ran successfully:", data + 2),
        &format!("- 1 Configuration(root={root}, seed=1)"),
        "This progress looks :) because there were no failed tasks or missing dependencies",
    ]);
    assert!(first.text().contains(&format!("- {data} Data(root={root}, magic_number=")), "{}", first.text());

    run("dynamic_deps", dir.path(), &args).assert_code(0).assert_lines(&[
        "Scheduled 1 tasks of which:",
        "* 1 complete ones were encountered:",
        &format!("- 1 Dynamic(root={root}, seed=1)"),
        "Did not run any tasks",
    ]);
}

#[test]
fn dynamic_deps_reuses_complete_requirements_and_runs_in_parallel() {
    let dir = temp_dir();
    let root = root_of(&dir);
    // Configuration already exists when Dynamic requires it at run time: it is not run again.
    run("dynamic_deps", dir.path(), &["Configuration", "--seed", "7", "--root", &root]).assert_code(0);
    let config_before = read(format!("{root}/config_7.txt"));
    let modified = std::fs::metadata(format!("{root}/config_7.txt")).and_then(|m| m.modified()).ok();

    let output = run("dynamic_deps", dir.path(), &["Dynamic", "--seed", "7", "--root", &root, "--workers", "3"]);
    output.assert_code(0).assert_no_line(&format!("- 1 Configuration(root={root}, seed=7)"));
    check_dynamic(&root, 7);
    assert_eq!(read(format!("{root}/config_7.txt")), config_before);
    let unchanged = std::fs::metadata(format!("{root}/config_7.txt")).and_then(|m| m.modified()).ok();
    assert_eq!(modified, unchanged, "the complete Configuration ran again");
}

// ---------------------------------------------------------------------------------------------
// external_wait
// ---------------------------------------------------------------------------------------------

/// Creates the external data the way the example's docs say: written aside, then renamed.
fn deliver_incoming(root: &str) {
    let dir = format!("{root}/incoming");
    std::fs::create_dir_all(&dir).unwrap_or_else(|err| panic!("cannot create {dir}: {err}"));
    let aside = format!("{dir}/.data.tmp");
    std::fs::write(&aside, "hello luigi\nhello rust\n").unwrap_or_else(|err| panic!("cannot write {aside}: {err}"));
    std::fs::rename(&aside, format!("{dir}/data.txt")).unwrap_or_else(|err| panic!("cannot rename {aside}: {err}"));
}

#[test]
fn external_wait_without_the_data_ends_with_missing_external_dependencies() {
    let dir = temp_dir();
    let root = root_of(&dir);
    let args = ["CountIncoming", "--root", root.as_str()];
    run("external_wait", dir.path(), &args)
        .assert_code(20)
        .assert_lines(&[
            "Scheduled 2 tasks of which:",
            "* 1 were missing external dependencies:",
            &format!("- 1 Incoming(root={root})"),
            "* 1 had missing dependencies:",
            &format!("- 1 CountIncoming(root={root})"),
            "Did not run any tasks",
            "This progress looks :| because there were missing external dependencies",
        ])
        .assert_no_line("* 1 ran successfully:");
    assert!(!Path::new(&format!("{root}/counts.txt")).exists());

    // Once the data is there, an ordinary run finds it and runs the consumer.
    deliver_incoming(&root);
    run("external_wait", dir.path(), &args).assert_code(0).assert_lines(&[
        "Scheduled 2 tasks of which:",
        "* 1 complete ones were encountered:",
        &format!("- 1 Incoming(root={root})"),
        "* 1 ran successfully:",
        &format!("- 1 CountIncoming(root={root})"),
    ]);
    assert_eq!(read(format!("{root}/counts.txt")), "lines: 2\nwords: 4\n");
}

#[test]
fn external_wait_with_keep_alive_finishes_once_the_data_appears() {
    let dir = temp_dir();
    let root = root_of(&dir);
    let args = [
        "CountIncoming",
        "--root",
        root.as_str(),
        "--worker-retry-external-tasks",
        "--worker-keep-alive",
        "--scheduler-retry-delay",
        "0.2",
        "--worker-wait-interval",
        "0.1",
        "--worker-wait-jitter",
        "0",
    ];
    let mut child = command("external_wait", dir.path(), &args)
        .spawn()
        .unwrap_or_else(|err| panic!("cannot start the example external_wait: {err}"));
    let stdout = child.stdout.take().map(drain);
    let pid = child.id();
    let (send, status) = mpsc::channel();
    let stderr = child.stderr.take().unwrap_or_else(|| panic!("stderr was not captured"));
    std::thread::spawn(move || send.send(child.wait()));

    // Follow the log until the worker has checked the external task and found it missing, so
    // the data really arrives while the worker waits; then keep collecting the rest.
    let (lines_send, lines) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines_send.send(line);
        }
    });
    let deadline = Instant::now() + RUN_TIMEOUT;
    let mut log = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => {
                let checked_and_missing = (line.contains("Incoming(") && line.contains("failed"))
                    || (line.contains("Incoming_") && line.contains("FAILED"));
                log.push(line);
                if checked_and_missing {
                    break;
                }
            }
            Err(_) => {
                if let Ok(pid) = libc::pid_t::try_from(pid) {
                    // SAFETY: kill has no memory-safety preconditions; the pid is our unreaped child.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
                panic!("the worker never reported the missing external task as failed:\n{}", log.join("\n"));
            }
        }
    }
    deliver_incoming(&root);

    let code = wait_or_kill(pid, &status, "external_wait with --worker-keep-alive");
    let _ = reader.join();
    log.extend(lines.try_iter());
    let run =
        Run { code, stdout: stdout.and_then(|handle| handle.join().ok()).unwrap_or_default(), stderr: log.join("\n") };
    run.assert_code(0).assert_lines(&[
        "Scheduled 2 tasks of which:",
        "* 2 ran successfully:",
        &format!("- 1 CountIncoming(root={root})"),
        &format!("- 1 Incoming(root={root})"),
        "This progress looks :) because there were failed tasks but they all succeeded in a retry",
    ]);
    assert_eq!(read(format!("{root}/counts.txt")), "lines: 2\nwords: 4\n");
}

// ---------------------------------------------------------------------------------------------
// workloads
// ---------------------------------------------------------------------------------------------

/// Our `luigid` on a free loopback port, killed when dropped.
struct Luigid {
    child: std::process::Child,
    port: u16,
}

impl Luigid {
    fn start(dir: &Path) -> Luigid {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .unwrap_or_else(|err| panic!("cannot find a free port: {err}"))
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_luigid"))
            .args(["--address", "127.0.0.1", "--port", &port.to_string(), "--state-path"])
            .arg(dir.join("state.db"))
            .current_dir(dir)
            .env_remove("LUIGI_CONFIG_PATH")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start luigid: {err}"));
        let luigid = Luigid { child, port };
        let deadline = Instant::now() + RUN_TIMEOUT;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "luigid did not listen on port {port} within {RUN_TIMEOUT:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
        luigid
    }
}

impl Drop for Luigid {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A chain run by two runner threads against a real `luigid`: each link becomes runnable only
/// once the previous one is reported DONE, over another connection than the next `get_work`.
/// The worker once trusted a "nothing for you" answered before that DONE arrived and stopped
/// with most of the chain left; every link must run.
#[test]
fn workloads_chain_against_luigid_runs_every_link() {
    let dir = temp_dir();
    let root = root_of(&dir);
    let luigid = Luigid::start(dir.path());
    let port = luigid.port.to_string();
    let args = ["Chain", "--n", "1000", "--root", &root, "--workers", "2", "--scheduler-host", "127.0.0.1"];
    let args: Vec<&str> = args.into_iter().chain(["--scheduler-port", &port]).collect();
    run("workloads", dir.path(), &args).assert_code(0).assert_lines(&["* 1000 ran successfully:"]);
    let links = std::fs::read_dir(Path::new(&root).join("chain")).map_or(0, |entries| entries.count());
    assert_eq!(links, 1000, "files under {root}/chain");
}
