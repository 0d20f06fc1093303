//! The process lock of the `luigi` command (Luigi's `luigi/lock.py`): at most `lock_size`
//! processes with the same command line run at once.
//!
//! How it works, as in Luigi: the lock is the file `<pid dir>/<md5 of our command line>.pid`,
//! one pid per line. [`acquire`] reads it and keeps the pids whose processes still run *with
//! our exact command line*, which is how stale entries (exited processes, reused pids) drop out;
//! if `lock_size` of them remain, it refuses with [`Error::AlreadyRunning`]. Otherwise it
//! rewrites the file with the survivors plus our pid. `--take-lock` first sends SIGUSR1 to the
//! survivors (a Luigi worker stops asking for work on SIGUSR1 and finishes what it runs) and
//! allows one extra process, so a second `--take-lock` run still refuses. The directory is
//! created with mode 0700, the file is opened up to 0777 for other users' runs.
//!
//! Decisions:
//!
//! - Nothing is released: like Luigi, the pid file is never cleaned up on exit, since a dead
//!   pid no longer matches and is dropped by the next run. [`Acquired`] is therefore a plain
//!   report, not a guard that must be kept alive.
//! - The read–check–write of the pid file is done under an advisory `flock`, so two runs
//!   starting at the same moment cannot both take the last place (Luigi has that race). A file
//!   system without `flock` (some NFS mounts) falls back to Luigi's unlocked behaviour.
//! - Our own pid is never signalled. Luigi would signal it too if it were in the file (which
//!   only pid reuse can cause), and SIGUSR1 would kill a process without a handler.
//! - Command lines come from `/proc/<pid>/cmdline` on Linux (NUL separators as spaces, trailing
//!   whitespace trimmed, as Luigi reads them), and from `ps -o command=` on other Unix systems
//!   (Luigi uses `pgrep -lf` on macOS, which prints the same text; this path is untested here).
//!   A command line that cannot be read is `[PROCESS_WITH_PID=<pid>]`, Luigi's placeholder,
//!   which matches no other process. Other platforms get [`Error::Unsupported`].
//! - A pid file line that is not a number is an error naming the file (Luigi fails there too),
//!   so a corrupted lock is noticed rather than silently overwritten.

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};

use md5::{Digest, Md5};

/// What can go wrong taking the process lock.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `lock_size` processes with the same command line already run.
    #[error(
        "Pid(s) {} already running{}",
        python_set(pids),
        if *signalled {
            "; SIGUSR1 was sent to them, and since another --take-lock run probably took over already, there is \
             probably no need to run this one as well"
        } else {
            " (use --take-lock to make them stop asking for work, --lock-size to allow more, or --no-lock)"
        }
    )]
    AlreadyRunning {
        /// The pids of the running processes, ascending.
        pids: Vec<u32>,
        /// Whether SIGUSR1 was sent to them (`take_lock`).
        signalled: bool,
    },
    /// The pid directory could not be created.
    #[error("cannot create the lock directory {}: {source} (create its parent, or set --lock-pid-dir)", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The pid file could not be opened, read or written.
    #[error("cannot use the lock file {}: {source} (check its permissions, or set --lock-pid-dir)", path.display())]
    PidFile {
        /// The pid file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A line of the pid file is not a pid.
    #[error("the lock file {} has a line that is not a pid: '{line}'; delete the file if no such run is active", path.display())]
    BadPidFile {
        /// The pid file.
        path: PathBuf,
        /// The offending line.
        line: String,
    },
    /// SIGUSR1 could not be sent to a running process (`take_lock`).
    #[error("cannot send SIGUSR1 to pid {pid} to take the lock: {source} (stop it yourself, or run as its user)")]
    Signal {
        /// The process.
        pid: u32,
        /// The underlying error.
        source: io::Error,
    },
    /// The process lock is not implemented on this platform.
    #[error("the process lock needs a Unix system; run with --no-lock")]
    Unsupported,
}

/// A lock taken: our pid is in the pid file. Nothing needs releasing (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acquired {
    /// The pid file.
    pub pid_file: PathBuf,
    /// Our command line, as compared with the others'.
    pub command_line: String,
    /// The other processes with our command line still running, ascending.
    pub running: Vec<u32>,
    /// The processes SIGUSR1 was sent to (`take_lock`), ascending.
    pub signalled: Vec<u32>,
}

/// Takes the lock for this process: at most `lock_size` processes with this command line may
/// hold it. With `take_lock`, the holders get SIGUSR1 and one extra process is allowed.
pub fn acquire(pid_dir: &Path, lock_size: usize, take_lock: bool) -> Result<Acquired, Error> {
    acquire_for(std::process::id(), pid_dir, lock_size, take_lock)
}

/// Takes the lock on behalf of process `pid` (its command line, its pid in the file), as
/// [`acquire`] does for this process. Useful to a supervisor, and to tests.
pub fn acquire_for(pid: u32, pid_dir: &Path, lock_size: usize, take_lock: bool) -> Result<Acquired, Error> {
    if !cfg!(unix) {
        return Err(Error::Unsupported);
    }
    let command_line = command_line(pid);
    let pid_file = pid_file(pid_dir, &command_line);
    create_dir(pid_dir)?;

    let file_error = |source| Error::PidFile { path: pid_file.clone(), source };
    let mut file =
        OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&pid_file).map_err(file_error)?;
    lock_file(&file);
    let mut text = String::new();
    file.read_to_string(&mut text).map_err(file_error)?;

    let mut running = BTreeSet::new();
    for line in text.lines().map(str::trim).filter(|line| !line.is_empty()) {
        let listed: i64 =
            line.parse().map_err(|_| Error::BadPidFile { path: pid_file.clone(), line: line.to_owned() })?;
        // Only a positive pid can name a process (and kill() reads the others as groups).
        if let Ok(listed) = u32::try_from(listed)
            && listed > 0
            && i32::try_from(listed).is_ok()
            && self::command_line(listed) == command_line
        {
            running.insert(listed);
        }
    }

    let mut allowed = lock_size;
    let mut signalled = Vec::new();
    if take_lock {
        for &other in running.iter().filter(|&&other| other != pid) {
            send_sigusr1(other)?;
            signalled.push(other);
        }
        // The processes signalled phase out, so one extra is allowed; only one, so that runs
        // with --take-lock do not pile up.
        allowed += 1;
    }
    if running.len() >= allowed {
        return Err(Error::AlreadyRunning { pids: running.into_iter().collect(), signalled: take_lock });
    }

    let mut holders = running.clone();
    holders.insert(pid);
    let mut contents = String::with_capacity(holders.len() * 8);
    for holder in &holders {
        contents.push_str(&holder.to_string());
        contents.push('\n');
    }
    file.set_len(0).map_err(file_error)?;
    file.rewind().map_err(file_error)?;
    file.write_all(contents.as_bytes()).map_err(file_error)?;
    open_up(&file);
    running.remove(&pid);
    Ok(Acquired { pid_file, command_line, running: running.into_iter().collect(), signalled })
}

/// The pid file for a command line: `<pid_dir>/<md5 hex of the command line>.pid`.
pub fn pid_file(pid_dir: &Path, command_line: &str) -> PathBuf {
    let digest = Md5::digest(command_line.as_bytes());
    let mut name = String::with_capacity(36);
    for byte in digest.iter() {
        name.push_str(&format!("{byte:02x}"));
    }
    name.push_str(".pid");
    pid_dir.join(name)
}

/// The command line of process `pid` as Luigi compares them: arguments joined by spaces,
/// trailing whitespace removed; `[PROCESS_WITH_PID=<pid>]` when it cannot be read (no such
/// process, or no permission).
pub fn command_line(pid: u32) -> String {
    read_command_line(pid).unwrap_or_else(|| format!("[PROCESS_WITH_PID={pid}]"))
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn read_command_line(pid: u32) -> Option<String> {
    let raw = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let text = String::from_utf8_lossy(&raw);
    // Python reads the file as text: universal newlines turn \r\n and \r into \n.
    let text = text.replace("\r\n", "\n").replace('\r', "\n").replace('\0', " ");
    Some(python_rstrip(&text).to_owned())
}

#[cfg(all(unix, not(any(target_os = "linux", target_os = "android"))))]
fn read_command_line(pid: u32) -> Option<String> {
    let output =
        std::process::Command::new("ps").args(["-ww", "-o", "command=", "-p", &pid.to_string()]).output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let text = python_rstrip(text.trim_start());
    (!text.is_empty()).then(|| text.to_owned())
}

#[cfg(not(unix))]
fn read_command_line(_pid: u32) -> Option<String> {
    None
}

/// `text` without trailing whitespace as Python's `str.rstrip()` sees it (which, unlike Rust,
/// counts the separators U+001C..U+001F as whitespace).
fn python_rstrip(text: &str) -> &str {
    text.trim_end_matches(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c))
}

/// Creates the pid directory with mode 0700, as Luigi does (not its parents: a missing parent
/// is an error, as in Luigi). An existing directory is left as it is.
fn create_dir(pid_dir: &Path) -> Result<(), Error> {
    let created = fs::create_dir(pid_dir);
    match created {
        Ok(()) => set_mode(pid_dir, 0o700).map_err(|source| Error::CreateDir { path: pid_dir.to_owned(), source }),
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(Error::CreateDir { path: pid_dir.to_owned(), source }),
    }
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> io::Result<()> {
    Ok(())
}

/// Makes the pid file writable by everyone (Luigi's `chmod | 0777`), when we own it; other
/// users' runs of the same command then share the lock. Best effort, as in Luigi.
#[cfg(unix)]
fn open_up(file: &File) {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    if let Ok(metadata) = file.metadata() {
        // SAFETY: getuid has no preconditions and cannot fail.
        let uid = unsafe { libc::getuid() };
        if metadata.uid() == uid {
            let _ = file.set_permissions(fs::Permissions::from_mode(metadata.mode() | 0o777));
        }
    }
}

#[cfg(not(unix))]
fn open_up(_file: &File) {}

/// Holds an exclusive advisory lock on the pid file until it is closed. Best effort: without
/// `flock` support the lock behaves as Luigi's, which has none.
#[cfg(unix)]
fn lock_file(file: &File) {
    use std::os::fd::AsRawFd;
    // SAFETY: the descriptor is open for the duration of the call (we borrow the file).
    let _ = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
}

#[cfg(not(unix))]
fn lock_file(_file: &File) {}

#[cfg(unix)]
fn send_sigusr1(pid: u32) -> Result<(), Error> {
    let target = libc::pid_t::try_from(pid)
        .map_err(|_| Error::Signal { pid, source: io::Error::from(io::ErrorKind::InvalidInput) })?;
    // SAFETY: kill has no memory preconditions; `target` is positive (checked by the caller),
    // so it names one process, never a process group.
    if unsafe { libc::kill(target, libc::SIGUSR1) } == 0 {
        return Ok(());
    }
    let source = io::Error::last_os_error();
    // A process that exited since we read its command line no longer needs the signal.
    if source.raw_os_error() == Some(libc::ESRCH) {
        return Ok(());
    }
    Err(Error::Signal { pid, source })
}

#[cfg(not(unix))]
fn send_sigusr1(_pid: u32) -> Result<(), Error> {
    Err(Error::Unsupported)
}

/// Formats pids as Python prints a set of ints: `{1, 2}`, and `set()` when empty.
fn python_set(pids: &[u32]) -> String {
    if pids.is_empty() {
        return "set()".to_owned();
    }
    let inner: Vec<String> = pids.iter().map(u32::to_string).collect();
    format!("{{{}}}", inner.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_sets_print_like_python() {
        assert_eq!(python_set(&[]), "set()");
        assert_eq!(python_set(&[7]), "{7}");
        assert_eq!(python_set(&[3, 12]), "{3, 12}");
        let err = Error::AlreadyRunning { pids: vec![3, 12], signalled: false };
        assert!(err.to_string().starts_with("Pid(s) {3, 12} already running (use --take-lock"), "{err}");
        let err = Error::AlreadyRunning { pids: vec![3], signalled: true };
        assert!(err.to_string().contains("SIGUSR1 was sent"), "{err}");
    }

    #[test]
    fn rstrip_matches_python() {
        assert_eq!(python_rstrip("sleep 1 "), "sleep 1");
        assert_eq!(python_rstrip("a \t\n\u{1f}\u{85}"), "a");
        assert_eq!(python_rstrip(" a"), " a");
    }

    #[test]
    fn pid_file_is_named_by_the_md5_of_the_command_line() {
        // hashlib.md5("sleep 30".encode("utf8")).hexdigest() and of "yes à我ф".
        assert_eq!(pid_file(Path::new("/d"), "sleep 30"), Path::new("/d/eb9cae91b2ea654022d9dd9647379a7b.pid"));
        assert_eq!(pid_file(Path::new("/d"), "yes à我ф"), Path::new("/d/e43842fd18ffb9c0f9098bcc117afef5.pid"));
    }

    #[test]
    fn unreadable_command_lines_get_luigis_placeholder() {
        assert_eq!(command_line(u32::MAX), format!("[PROCESS_WITH_PID={}]", u32::MAX));
    }
}
