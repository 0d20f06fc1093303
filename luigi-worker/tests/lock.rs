//! Tests of the process lock (`luigi_worker::lock`) with real processes, porting Luigi's
//! `test/lock_test.py`.
//!
//! Processes that "run the same command" are probe children started with one identical
//! command line (`sh -c <script> lockprobe`); the lock is taken on their behalf with
//! `lock::acquire_for`, so several holders with equal command lines can exist at once. A probe
//! prints `ready` once its SIGUSR1 trap is set and `usr1` whenever it receives SIGUSR1; the test
//! reads these lines from its stdout, so no test sleeps to synchronise.
//!
//! Each test uses a pid directory of its own, because every test of this binary runs with the
//! same command line (this process's).

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use luigi_worker::lock::{self, Error};

/// The probe's script: trap SIGUSR1 and report it, say when ready, idle until killed.
const SCRIPT: &str = "trap 'echo usr1' USR1; echo ready; while :; do sleep 0.05; done";

/// A child process with a known command line that reports the SIGUSR1s it receives.
struct Probe {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Probe {
    fn start(tag: &str) -> Probe {
        let mut child =
            Command::new("sh").args(["-c", SCRIPT, "lockprobe", tag]).stdout(Stdio::piped()).spawn().expect("start sh");
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if sender.send(line).is_err() {
                    return;
                }
            }
        });
        let probe = Probe { child, lines };
        probe.expect("ready");
        probe
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits (at most 10 s) for the probe to print `line`.
    fn expect(&self, line: &str) {
        let got = self.lines.recv_timeout(Duration::from_secs(10));
        assert_eq!(got.as_deref(), Ok(line), "probe {}", self.pid());
    }

    /// Kills the probe and reaps it, so its pid no longer runs anything.
    fn stop(mut self) -> u32 {
        let pid = self.pid();
        let _ = self.child.kill();
        let _ = self.child.wait();
        pid
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The probe command line as Luigi reads it.
fn probe_command_line(tag: &str) -> String {
    format!("sh -c {SCRIPT} lockprobe {tag}")
}

/// A fresh pid directory (not yet created) inside a temp dir.
fn pid_dir() -> (tempfile::TempDir, PathBuf) {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("luigi");
    (temp, dir)
}

/// The pids in a pid file, in file order.
fn pids_in(file: &Path) -> Vec<u32> {
    std::fs::read_to_string(file).unwrap().lines().map(|line| line.parse().unwrap()).collect()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn already_running(result: Result<lock::Acquired, Error>) -> (Vec<u32>, bool) {
    match result {
        Err(Error::AlreadyRunning { pids, signalled }) => (pids, signalled),
        other => panic!("expected AlreadyRunning, got {other:?}"),
    }
}

/// lock_test.py `test_getpcmd` and `test_get_info`: command lines as Luigi reads them.
#[test]
fn command_lines_are_read_like_luigi() {
    let mut sleep = Command::new("sleep").arg("30").spawn().unwrap();
    // Right after the spawn the kernel may still be setting up the new program, and shows an
    // empty command line for a moment (Luigi's test retries for the same reason).
    let started = std::time::Instant::now();
    let mut read = lock::command_line(sleep.id());
    while read.is_empty() && started.elapsed() < Duration::from_secs(5) {
        thread::sleep(Duration::from_millis(1));
        read = lock::command_line(sleep.id());
    }
    assert_eq!(read, "sleep 30");
    let _ = sleep.kill();
    let _ = sleep.wait();
    assert_eq!(lock::command_line(sleep.id()), format!("[PROCESS_WITH_PID={}]", sleep.id()));

    let probe = Probe::start("à我ф");
    assert_eq!(lock::command_line(probe.pid()), probe_command_line("à我ф"));
    assert_eq!(
        lock::pid_file(Path::new("/tmp/luigi"), "sleep 30"),
        Path::new("/tmp/luigi/eb9cae91b2ea654022d9dd9647379a7b.pid")
    );
}

/// lock_test.py `test_acquiring_free_lock`, with the modes of the directory and the file.
#[test]
fn a_free_lock_is_taken_and_records_our_pid() {
    let (_temp, dir) = pid_dir();
    let acquired = lock::acquire(&dir, 1, false).unwrap();
    let me = std::process::id();
    assert_eq!(acquired.command_line, lock::command_line(me));
    assert_eq!(acquired.pid_file, lock::pid_file(&dir, &acquired.command_line));
    assert!(acquired.running.is_empty() && acquired.signalled.is_empty());
    assert_eq!(std::fs::read_to_string(&acquired.pid_file).unwrap(), format!("{me}\n"));
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&acquired.pid_file), 0o777);
}

/// lock_test.py `test_acquiring_taken_lock`: our own pid in the file counts as running.
#[test]
fn a_listed_live_process_holds_the_lock() {
    let (_temp, dir) = pid_dir();
    let me = std::process::id();
    let file = lock::acquire(&dir, 1, false).unwrap().pid_file;
    let err = lock::acquire(&dir, 1, false).unwrap_err();
    assert_eq!(err.to_string().split(" (").next().unwrap(), format!("Pid(s) {{{me}}} already running"));
    assert_eq!(already_running(Err(err)), (vec![me], false));
    assert_eq!(pids_in(&file), [me]);
}

/// lock_test.py `test_acquiring_partially_taken_lock`.
#[test]
fn lock_size_two_allows_a_second_holder() {
    let (_temp, dir) = pid_dir();
    let me = std::process::id();
    lock::acquire(&dir, 1, false).unwrap();
    let acquired = lock::acquire(&dir, 2, false).unwrap();
    assert_eq!(pids_in(&acquired.pid_file), [me]);
    assert_eq!(mode(&acquired.pid_file) & 0o700, 0o700);
}

/// lock_test.py `test_acquiring_lock_from_missing_process` and `test_cleans_old_pid_entries`.
#[test]
fn stale_entries_are_ignored_and_dropped() {
    let (_temp, dir) = pid_dir();
    let me = std::process::id();
    let gone = Probe::start("gone").stop();
    let other = Probe::start("other command");
    let file = lock::pid_file(&dir, &lock::command_line(me));
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(&file, format!("{gone}\n\n {} \n0\n-5\n99999999999\n", other.pid())).unwrap();
    let acquired = lock::acquire(&dir, 1, false).unwrap();
    assert!(acquired.running.is_empty());
    assert_eq!(pids_in(&file), [me]);
}

/// Two processes with one command line and lock_size 1: the second is refused until the
/// first has gone.
#[test]
fn a_second_process_with_the_same_command_line_is_refused() {
    let (_temp, dir) = pid_dir();
    let tag = "same";
    let (a, b, c) = (Probe::start(tag), Probe::start(tag), Probe::start(tag));
    let first = lock::acquire_for(a.pid(), &dir, 1, false).unwrap();
    assert_eq!(first.pid_file, lock::pid_file(&dir, &probe_command_line(tag)));
    assert_eq!(already_running(lock::acquire_for(b.pid(), &dir, 1, false)), (vec![a.pid()], false));

    let second = lock::acquire_for(b.pid(), &dir, 2, false).unwrap();
    assert_eq!(second.running, [a.pid()]);
    let mut holders = vec![a.pid(), b.pid()];
    holders.sort_unstable();
    assert_eq!(already_running(lock::acquire_for(c.pid(), &dir, 2, false)), (holders.clone(), false));
    let mut listed = pids_in(&first.pid_file);
    listed.sort_unstable();
    assert_eq!(listed, holders);

    // This process runs another command line, so it has a lock file of its own.
    assert_ne!(lock::acquire(&dir, 1, false).unwrap().pid_file, first.pid_file);

    let a = a.stop();
    let third = lock::acquire_for(c.pid(), &dir, 2, false).unwrap();
    assert_eq!(third.running, [b.pid()]);
    let listed = pids_in(&first.pid_file);
    assert!(!listed.contains(&a) && listed.contains(&b.pid()) && listed.contains(&c.pid()), "{listed:?}");
}

/// lock_test.py `test_take_lock_with_kill` and `test_take_lock_has_only_one_extra_life`, with
/// real signals.
#[test]
fn take_lock_signals_the_holders_and_allows_one_extra() {
    let (_temp, dir) = pid_dir();
    let tag = "take";
    let (a, b, c) = (Probe::start(tag), Probe::start(tag), Probe::start(tag));
    lock::acquire_for(a.pid(), &dir, 1, false).unwrap();

    let taken = lock::acquire_for(b.pid(), &dir, 1, true).unwrap();
    assert_eq!(taken.signalled, [a.pid()]);
    a.expect("usr1");

    // A second --take-lock run finds two holders: it signals both and is still refused.
    let err = lock::acquire_for(c.pid(), &dir, 1, true).unwrap_err();
    assert!(err.to_string().contains("SIGUSR1 was sent"), "{err}");
    let mut holders = vec![a.pid(), b.pid()];
    holders.sort_unstable();
    assert_eq!(already_running(Err(err)), (holders, true));
    a.expect("usr1");
    b.expect("usr1");
    assert!(c.lines.try_recv().is_err(), "the refused process signalled itself");
}

#[test]
fn take_lock_never_signals_this_process() {
    let (_temp, dir) = pid_dir();
    lock::acquire(&dir, 1, false).unwrap();
    // Our own pid is listed and alive: it counts, but gets no signal (which would kill us).
    let acquired = lock::acquire(&dir, 1, true).unwrap();
    assert!(acquired.signalled.is_empty());
}

#[test]
fn lock_size_zero_always_refuses() {
    let (_temp, dir) = pid_dir();
    let err = lock::acquire(&dir, 0, false).unwrap_err();
    assert!(err.to_string().starts_with("Pid(s) set() already running"), "{err}");
}

#[test]
fn an_existing_directory_keeps_its_mode_and_a_missing_parent_is_an_error() {
    let (_temp, dir) = pid_dir();
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    lock::acquire(&dir, 1, false).unwrap();
    assert_eq!(mode(&dir), 0o755);

    let missing = dir.join("no/such/dir");
    let err = lock::acquire(&missing, 1, false).unwrap_err();
    assert!(matches!(&err, Error::CreateDir { path, .. } if path == &missing), "{err:?}");
}

#[test]
fn a_corrupt_pid_file_is_an_error_naming_it() {
    let (_temp, dir) = pid_dir();
    std::fs::create_dir(&dir).unwrap();
    let file = lock::pid_file(&dir, &lock::command_line(std::process::id()));
    std::fs::write(&file, "12\nnot a pid\n").unwrap();
    let err = lock::acquire(&dir, 1, false).unwrap_err();
    assert!(matches!(&err, Error::BadPidFile { line, .. } if line == "not a pid"), "{err:?}");
    assert!(err.to_string().contains(file.to_str().unwrap()), "{err}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "12\nnot a pid\n");
}

/// Runs starting at the same moment cannot both take the last place.
#[test]
fn simultaneous_acquisitions_respect_the_lock_size() {
    let (_temp, dir) = pid_dir();
    let probes: Vec<Probe> = (0..6).map(|_| Probe::start("race")).collect();
    let results: Vec<bool> = thread::scope(|scope| {
        let handles: Vec<_> = probes
            .iter()
            .map(|probe| {
                let (dir, pid) = (&dir, probe.pid());
                scope.spawn(move || lock::acquire_for(pid, dir, 2, false).is_ok())
            })
            .collect();
        handles.into_iter().map(|handle| handle.join().unwrap()).collect()
    });
    assert_eq!(results.iter().filter(|&&ok| ok).count(), 2, "{results:?}");
    assert_eq!(pids_in(&lock::pid_file(&dir, &probe_command_line("race"))).len(), 2);
}
