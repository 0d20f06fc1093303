//! `--background` and `--pidfile`: detaching from the terminal, and the pid file.
//!
//! Detaching is the classic double fork: fork, `setsid` in the child (a new session without a
//! controlling terminal), fork again so the daemon can never reacquire one, and point stdin at
//! `/dev/null` and stdout/stderr at `luigi-server-<date>.out`/`.err` in the log directory, as
//! Python's `luigid --background` does. The working directory is kept (Python's
//! `working_directory="."`), so relative paths in the configuration keep their meaning.
//!
//! Unlike Python, the original process waits on a pipe until the daemon reports that it is
//! serving (or why it could not start) and exits accordingly. Forking is only sound while the
//! process has a single thread, so [`daemonize`] refuses otherwise (on Linux, where the thread
//! count can be read).
//!
//! The pid file: a live pid in it stops a second server from starting (a pid that cannot be
//! signalled for lack of permission is alive too, unlike in Python); it is written atomically
//! and removed when the server exits cleanly, if it still names this process.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use super::Error;

/// Where `--background` logs without `--logdir` (Python's default).
pub const DEFAULT_BACKGROUND_LOGDIR: &str = "/var/log/luigi";

/// The two sides of a fork.
pub(super) enum Forked {
    /// The original process: the daemon's start-up result.
    Parent(Result<(), Error>),
    /// The daemon, with the pipe to report readiness on.
    Daemon(ReadyPipe),
}

/// The daemon's end of the readiness pipe.
pub(super) struct ReadyPipe(File);

impl ReadyPipe {
    /// Tells the waiting parent that the server is serving.
    pub(super) fn ready(mut self) {
        let _ = self.0.write_all(b"ready\n");
    }

    /// Tells the waiting parent why the server could not start.
    pub(super) fn fail(mut self, message: &str) {
        let _ = self.0.write_all(format!("error: {message}\n").as_bytes());
    }
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.to_owned();
    move |source| Error::Io { action, path, source }
}

/// Detaches from the terminal, logging stdout and stderr to files in `logdir`.
pub(super) fn daemonize(logdir: &Path) -> Result<Forked, Error> {
    refuse_if_threaded()?;
    std::fs::create_dir_all(logdir).map_err(io_error("create the log directory", logdir))?;
    let today = chrono::Local::now().format("%Y-%m-%d");
    let out_path = logdir.join(format!("luigi-server-{today}.out"));
    let err_path = logdir.join(format!("luigi-server-{today}.err"));
    let append = |path: &Path| std::fs::OpenOptions::new().create(true).append(true).open(path);
    let out = append(&out_path).map_err(io_error("open", &out_path))?;
    let err = append(&err_path).map_err(io_error("open", &err_path))?;
    let null =
        std::fs::OpenOptions::new().read(true).open("/dev/null").map_err(io_error("open", Path::new("/dev/null")))?;

    let (read_end, write_end) = pipe()?;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: the process is single-threaded (checked above), so the child may keep running
    // arbitrary code after the fork.
    match unsafe { libc::fork() } {
        -1 => Err(Error::Daemonize(format!("fork failed: {}", std::io::Error::last_os_error()))),
        0 => {
            drop(read_end);
            // SAFETY: plain system calls on a single-threaded child.
            unsafe {
                if libc::setsid() == -1 {
                    libc::_exit(1);
                }
                match libc::fork() {
                    -1 => libc::_exit(1),
                    0 => {}
                    // The intermediate child exits at once; the daemon is re-parented to init.
                    _ => libc::_exit(0),
                }
            }
            redirect(&null, 0)?;
            redirect(&out, 1)?;
            redirect(&err, 2)?;
            Ok(Forked::Daemon(ReadyPipe(File::from(write_end))))
        }
        child => {
            drop(write_end);
            let mut status = 0;
            // SAFETY: reaping the intermediate child we just forked.
            unsafe { libc::waitpid(child, &mut status, 0) };
            let mut report = String::new();
            let _ = File::from(read_end).read_to_string(&mut report);
            let result = if report.starts_with("ready") {
                Ok(())
            } else if let Some(message) = report.strip_prefix("error: ") {
                Err(Error::Daemonize(format!("the server did not start: {}", message.trim_end())))
            } else {
                Err(Error::Daemonize(format!(
                    "the server exited before it was ready; see {} and {}",
                    err_path.display(),
                    logdir.join("luigi-server.log").display()
                )))
            };
            Ok(Forked::Parent(result))
        }
    }
}

/// Forking a process with several threads leaves the child with locks held by threads that no
/// longer exist; refuse rather than risk a deadlock.
fn refuse_if_threaded() -> Result<(), Error> {
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        let threads = tasks.count();
        if threads > 1 {
            return Err(Error::Daemonize(format!(
                "the process already runs {threads} threads; --background must start before any thread"
            )));
        }
    }
    Ok(())
}

fn pipe() -> Result<(OwnedFd, OwnedFd), Error> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } == -1 {
        return Err(Error::Daemonize(format!("pipe failed: {}", std::io::Error::last_os_error())));
    }
    // SAFETY: pipe2 succeeded, so both descriptors are open and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn redirect(file: &File, target: libc::c_int) -> Result<(), Error> {
    use std::os::fd::AsRawFd;
    // SAFETY: dup2 onto a standard descriptor; both descriptors are valid.
    if unsafe { libc::dup2(file.as_raw_fd(), target) } == -1 {
        return Err(Error::Daemonize(format!(
            "redirecting descriptor {target} failed: {}",
            std::io::Error::last_os_error()
        )));
    }
    Ok(())
}

/// Raises the open-file limit to the hard limit (at most 2^20): every worker keeps a connection
/// open, and the usual soft limit of 1024 would cap a busy scheduler at about a thousand workers.
pub(super) fn raise_open_file_limit() {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit with a valid rlimit struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return;
        }
        let wanted = limit.rlim_max.min(1 << 20);
        if limit.rlim_cur >= wanted {
            return;
        }
        let old = limit.rlim_cur;
        limit.rlim_cur = wanted;
        if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
            tracing::debug!(target: "luigi.server", "raised the open-file limit from {old} to {wanted}");
        }
    }
}

/// Whether a process with this pid exists (one we may not signal exists too).
fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists and may be signalled.
    if unsafe { libc::kill(pid, 0) } == 0 {
        return true;
    }
    std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// The pid in a pid file, if it holds one.
fn read_pid(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok().filter(|pid| *pid > 0)
}

/// Fails if `path` names a running process other than this one.
pub(super) fn check_pidfile(path: &Path) -> Result<(), Error> {
    match read_pid(path) {
        Some(pid) if pid != std::process::id() as i32 && alive(pid) => {
            Err(Error::AlreadyRunning { pid, path: path.to_owned() })
        }
        _ => Ok(()),
    }
}

/// A written pid file, removed on drop if it still names this process.
pub(super) struct PidFile {
    path: PathBuf,
    pid: i32,
}

impl PidFile {
    /// Checks `path` again (another server may have started meanwhile) and writes this
    /// process's pid to it atomically.
    pub(super) fn write(path: &Path) -> Result<PidFile, Error> {
        check_pidfile(path)?;
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io_error("create the pid file's directory", dir))?;
        }
        let pid = std::process::id() as i32;
        let mut temporary = path.as_os_str().to_owned();
        temporary.push(format!(".{pid}.tmp"));
        let temporary = PathBuf::from(temporary);
        std::fs::write(&temporary, format!("{pid}\n")).map_err(io_error("write", &temporary))?;
        std::fs::rename(&temporary, path).map_err(|source| {
            let _ = std::fs::remove_file(&temporary);
            Error::Io { action: "write", path: path.to_owned(), source }
        })?;
        tracing::info!(target: "luigi.server", "wrote pid {pid} to {}", path.display());
        Ok(PidFile { path: path.to_owned(), pid })
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        if read_pid(&self.path) == Some(self.pid) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run/luigid.pid");
        check_pidfile(&path).expect("no file: nothing runs");
        let written = PidFile::write(&path).expect("writes");
        assert_eq!(read_pid(&path), Some(std::process::id() as i32));
        // Our own pid does not block us (a restart after a crash may find it).
        check_pidfile(&path).expect("our own pid");
        drop(written);
        assert!(!path.exists(), "removed on drop");

        // A live process blocks; pid 1 always exists.
        std::fs::write(&path, "1\n").unwrap();
        let err = check_pidfile(&path).unwrap_err();
        assert!(matches!(err, Error::AlreadyRunning { pid: 1, .. }), "{err}");
        assert!(PidFile::write(&path).is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "1\n", "left alone");

        // A dead pid or garbage does not.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        std::fs::write(&path, format!("{dead}")).unwrap();
        check_pidfile(&path).expect("dead pid");
        std::fs::write(&path, "not a pid").unwrap();
        check_pidfile(&path).expect("garbage");
        std::fs::write(&path, "-5").unwrap();
        check_pidfile(&path).expect("negative");

        // A pid file replaced by another server is not removed by us.
        let written = PidFile::write(&path).unwrap();
        std::fs::write(&path, "1\n").unwrap();
        drop(written);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "1\n");
    }

    #[test]
    fn open_file_limit_reaches_the_hard_limit() {
        raise_open_file_limit();
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: getrlimit with a valid struct.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) }, 0);
        assert!(limit.rlim_cur >= limit.rlim_max.min(1 << 20), "{} < {}", limit.rlim_cur, limit.rlim_max);
    }

    #[test]
    fn daemonize_refuses_in_a_threaded_process() {
        // The test harness runs tests on threads, so this process has several.
        let _other = std::thread::spawn(|| std::thread::park_timeout(std::time::Duration::from_secs(1)));
        let dir = tempfile::tempdir().unwrap();
        let err = match daemonize(dir.path()) {
            Err(err) => err,
            Ok(_) => panic!("forked in a threaded process"),
        };
        assert!(err.to_string().contains("before any thread"), "{err}");
    }
}
