//! Runs the `word_count` example as a real process and checks where its log lines go and how
//! they look under each way of configuring logging, and that the progress display appears only
//! on a terminal.
//!
//! Each run happens in its own temporary directory with `--local-scheduler --no-lock` and no
//! inherited `LUIGI_CONFIG_PATH`/`RUST_LOG`, so tests run in parallel and a developer's
//! environment cannot change the outcome. The terminal case runs the binary under `script`
//! (util-linux, part of every Debian system), which gives it a pseudo-terminal; where `script`
//! is missing that one test says so and skips, unless `LUIGI_TEST_REQUIRE_SERVICES=1`.
//!
//! Finding the binary: `cargo test --test logging` does not build examples, so the test builds
//! `word_count` once with the `cargo` that runs it, into this test binary's target directory
//! and profile (as `tests/examples.rs` does).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

mod support;

/// The `word_count` example, built on first use.
fn word_count() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            support::build(&["--example", "word_count"]).unwrap_or_else(|err| panic!("{err}"));
            support::example_path("word_count")
        })
        .clone()
}

/// `word_count CountLetters --root <dir>/out --local-scheduler --no-lock <extra>` in `dir`.
fn command(dir: &Path, extra: &[&str]) -> Command {
    let mut cmd = Command::new(word_count());
    cmd.current_dir(dir)
        .args(["CountLetters", "--root"])
        .arg(dir.join("out"))
        .args(["--local-scheduler", "--no-lock"])
        .args(extra)
        .env_remove("LUIGI_CONFIG_PATH")
        .env_remove("LUIGI_CONFIG_PARSER")
        .env_remove("RUST_LOG");
    cmd
}

fn run(cmd: Command) -> (Output, String) {
    let (output, stderr, _) = run_with_pid(cmd);
    (output, stderr)
}

fn run_with_pid(mut cmd: Command) -> (Output, String, u32) {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).stdin(Stdio::null());
    let child = cmd.spawn().unwrap_or_else(|err| panic!("cannot run {cmd:?}: {err}"));
    let pid = child.id();
    let output = child.wait_with_output().expect("wait for the run");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output, stderr, pid)
}

/// The line format `%(asctime)s %(levelname)-8s %(name)s[%(process)d] %(message)s`, checked
/// field by field.
fn assert_timed_line(line: &str, pid: u32) {
    let (date, rest) = line.split_at(10);
    assert!(chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_ok(), "{line}");
    let (time, rest) = rest[1..].split_at(12);
    assert!(chrono::NaiveTime::parse_from_str(time, "%H:%M:%S,%3f").is_ok(), "{line}");
    let level = &rest[1..9];
    assert!(["INFO    ", "ERROR   ", "WARNING ", "DEBUG   "].contains(&level), "{line}");
    let expected_name = format!(" luigi-interface[{pid}] ");
    assert!(rest[9..].starts_with(&expected_name), "{line}");
}

const CONF: &str = "\
[loggers]
keys=root,interface

[handlers]
keys=all,errors

[formatters]
keys=timed,bare

[logger_root]
level=WARNING
handlers=

[logger_interface]
level=INFO
handlers=all,errors
qualname=luigi-interface
propagate=0

[handler_all]
class=FileHandler
level=INFO
formatter=timed
args=('all.log', 'w')

[handler_errors]
class=logging.FileHandler
level=ERROR
formatter=bare
args=('errors.log',)

[formatter_timed]
format=%(asctime)s %(levelname)-8s %(name)s[%(process)d] %(message)s

[formatter_bare]
format=%(levelname)s|%(message)s
";

#[test]
fn a_logging_conf_file_sends_formatted_lines_to_files_by_level() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("logging.cfg"), CONF).unwrap();
    let (output, stderr, pid) =
        run_with_pid(command(dir.path(), &["--logging-conf-file", "logging.cfg", "--log-level", "DEBUG"]));
    assert!(output.status.success(), "{stderr}");
    assert!(dir.path().join("out/letter_counts.txt").exists());
    // Nothing went to the console: the interface logger does not propagate to the root.
    assert!(!stderr.contains("Done scheduling tasks"), "{stderr}");

    let all = std::fs::read_to_string(dir.path().join("all.log")).unwrap();
    let timed: Vec<&str> = all.lines().filter(|line| line.starts_with(|c: char| c.is_ascii_digit())).collect();
    assert!(timed.len() >= 4, "{all}");
    for line in &timed {
        assert_timed_line(line, pid);
    }
    let done = format!(" INFO     luigi-interface[{pid}] Done scheduling tasks");
    assert!(timed.iter().any(|line| line.ends_with(&done)), "{all}");
    assert!(all.contains("===== Luigi Execution Summary ====="), "{all}");
    // A successful run logs no errors, so the ERROR handler's file exists and is empty.
    assert_eq!(std::fs::read_to_string(dir.path().join("errors.log")).unwrap(), "");
}

#[test]
fn handler_levels_split_errors_from_info() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("logging.cfg"), CONF).unwrap();
    // `out` is a file, so CountLetters cannot even check its output: an ERROR while scheduling.
    std::fs::write(dir.path().join("out"), "").unwrap();
    // This time the file is named by `[core] logging_conf_file` in ./luigi.cfg.
    std::fs::write(dir.path().join("luigi.cfg"), "[core]\nlogging_conf_file = logging.cfg\n").unwrap();
    let (output, stderr) = run(command(dir.path(), &[]));
    assert!(!output.status.success(), "{stderr}");
    let errors = std::fs::read_to_string(dir.path().join("errors.log")).unwrap();
    assert!(errors.starts_with("ERROR|"), "{errors}");
    assert!(!errors.contains("INFO|"), "{errors}");
    let all = std::fs::read_to_string(dir.path().join("all.log")).unwrap();
    assert!(all.lines().any(|line| line.contains(" ERROR    luigi-interface[")), "{all}");
    assert!(all.lines().any(|line| line.contains(" INFO     luigi-interface[")), "{all}");
}

#[test]
fn the_default_console_format_and_log_level() {
    let dir = tempfile::tempdir().unwrap();
    let (output, stderr) = run(command(dir.path(), &[]));
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.lines().any(|line| line == "INFO: Done scheduling tasks"), "{stderr}");
    assert!(stderr.contains("===== Luigi Execution Summary ====="), "{stderr}");

    let dir = tempfile::tempdir().unwrap();
    let (output, stderr) = run(command(dir.path(), &["--log-level", "WARNING"]));
    assert!(output.status.success(), "{stderr}");
    assert!(!stderr.contains("INFO:"), "{stderr}");
    assert!(dir.path().join("out/letter_counts.txt").exists());
}

#[test]
fn rust_log_overrides_the_level() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = command(dir.path(), &["--log-level", "DEBUG"]);
    cmd.env("RUST_LOG", "warn");
    let (output, stderr) = run(cmd);
    assert!(output.status.success(), "{stderr}");
    assert!(!stderr.contains("INFO:"), "{stderr}");
}

#[test]
fn no_configure_logging_installs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("luigi.cfg"), "[core]\nno_configure_logging = true\n").unwrap();
    let (output, stderr) = run(command(dir.path(), &[]));
    assert!(output.status.success(), "{stderr}");
    assert!(!stderr.contains("INFO:"), "{stderr}");
    assert!(!stderr.contains("Done scheduling tasks"), "{stderr}");
}

#[test]
fn a_toml_logging_table_is_used() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("luigi.toml"),
        "[logging]\nversion = 1\n\
         [logging.formatters.brace]\nformat = \"{levelname:>7} {name}: {message}\"\nstyle = \"{\"\n\
         [logging.handlers.file]\nclass = \"logging.FileHandler\"\nfilename = \"toml.log\"\nformatter = \"brace\"\n\
         [logging.loggers.luigi-interface]\nlevel = \"INFO\"\nhandlers = [\"file\"]\npropagate = false\n",
    )
    .unwrap();
    let mut cmd = command(dir.path(), &[]);
    cmd.env("LUIGI_CONFIG_PARSER", "toml");
    let (output, stderr) = run(cmd);
    assert!(output.status.success(), "{stderr}");
    let log = std::fs::read_to_string(dir.path().join("toml.log")).unwrap();
    assert!(log.lines().any(|line| line == "   INFO luigi-interface: Done scheduling tasks"), "{log}");
    assert!(!stderr.contains("Done scheduling tasks"), "{stderr}");
}

#[test]
fn configuration_mistakes_stop_the_run_with_the_place() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("logging.cfg");
    std::fs::write(&conf, "[loggers]\nkeys=root\n[logger_root]\nhandlers=h\n[handlers]\nkeys=h\n[handler_h]\nclass=handlers.RotatingFileHandler\n").unwrap();
    let (output, stderr) = run(command(dir.path(), &["--logging-conf-file", "logging.cfg"]));
    assert!(!output.status.success());
    assert!(
        stderr.contains("logging.cfg:8: handler class `handlers.RotatingFileHandler` is not supported"),
        "{stderr}"
    );
    assert!(!dir.path().join("out").exists(), "nothing ran");

    let (output, stderr) = run(command(dir.path(), &["--logging-conf-file", "missing.cfg"]));
    assert!(!output.status.success());
    assert!(stderr.contains("cannot find the logging configuration file missing.cfg"), "{stderr}");
}

#[test]
fn no_progress_display_without_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let (output, stderr) = run(command(dir.path(), &["--workers", "2"]));
    assert!(output.status.success(), "{stderr}");
    assert!(!stderr.contains('\x1b'), "escape codes in piped output: {stderr:?}");
    assert!(!stderr.contains(" running, "), "{stderr}");
    assert!(!String::from_utf8_lossy(&output.stdout).contains('\x1b'));
    // The flag is accepted and the run is the same.
    let dir = tempfile::tempdir().unwrap();
    let (output, stderr) = run(command(dir.path(), &["--no-progress"]));
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("INFO: Done scheduling tasks"), "{stderr}");
}

/// `script -qec CMD /dev/null`: CMD on a pseudo-terminal, its output on our stdout.
fn on_a_terminal(dir: &Path, extra: &[&str]) -> Option<(bool, String)> {
    let script = ["/usr/bin/script", "/bin/script"].into_iter().map(Path::new).find(|p| p.exists());
    let Some(script) = script else {
        assert!(
            std::env::var("LUIGI_TEST_REQUIRE_SERVICES").as_deref() != Ok("1"),
            "`script` (util-linux) is needed for the terminal test"
        );
        eprintln!("skipping: no `script` program to give the run a terminal");
        return None;
    };
    let quote = |text: &str| format!("'{}'", text.replace('\'', r"'\''"));
    let mut words = vec![quote(&word_count().to_string_lossy()), "CountLetters".into(), "--root".into()];
    words.push(quote(&dir.join("out").to_string_lossy()));
    words.extend(["--local-scheduler", "--no-lock", "--workers", "2"].map(String::from));
    words.extend(extra.iter().map(|word| quote(word)));
    let output = Command::new(script)
        .current_dir(dir)
        .args(["-qec", &words.join(" "), "/dev/null"])
        .stdin(std::process::Stdio::null())
        .env("TERM", "xterm")
        .env_remove("LUIGI_CONFIG_PATH")
        .env_remove("RUST_LOG")
        .output()
        .expect("run script");
    Some((output.status.success(), String::from_utf8_lossy(&output.stdout).into_owned()))
}

#[test]
fn the_progress_display_draws_on_a_terminal_and_logs_print_above_it() {
    let dir = tempfile::tempdir().unwrap();
    let Some((ok, transcript)) = on_a_terminal(dir.path(), &[]) else { return };
    assert!(ok, "{transcript}");
    // The display drew at least once (it starts before scheduling) and was cleared with
    // erase-line codes; every log line is still whole, each at the start of a line.
    assert!(transcript.contains("\x1b[2K"), "{transcript:?}");
    assert!(transcript.contains("scheduling: ") || transcript.contains(" done, "), "{transcript:?}");
    assert!(transcript.contains("INFO: Done scheduling tasks"), "{transcript:?}");
    assert!(transcript.contains("===== Luigi Execution Summary ====="), "{transcript:?}");

    let dir = tempfile::tempdir().unwrap();
    let Some((ok, transcript)) = on_a_terminal(dir.path(), &["--no-progress"]) else { return };
    assert!(ok, "{transcript}");
    assert!(!transcript.contains('\x1b'), "{transcript:?}");
    assert!(transcript.contains("INFO: Done scheduling tasks"), "{transcript:?}");
}
