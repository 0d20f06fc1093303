//! Files that get their name only on commit (Linux `O_TMPFILE`), for [`super::AtomicTempFile`].
//!
//! [`create`] opens a file with no name in a directory; [`link`] gives it one. The name appears
//! with the complete contents in one step, like a rename, but nothing else ever appears in the
//! directory: a writer killed mid-way, even by `kill -9`, leaves no stray temporary file (the
//! kernel frees the nameless file), and the directory sees one insertion per output instead of
//! a temporary name created and then renamed. With a million outputs in one directory that is
//! a third of the file system's work per file saved.
//!
//! Linking a nameless file needs either `linkat(fd, "", AT_EMPTY_PATH)` (allowed to privileged
//! processes, and on recent kernels to anyone) or `linkat("/proc/self/fd/N", AT_SYMLINK_FOLLOW)`
//! (needs `/proc`). Which one works is a property of the process, so the first success is
//! remembered; when neither works, [`link`] says [`io::ErrorKind::Unsupported`] once, the caller
//! falls back to copying that one file, and [`create`] declines from then on, so every later
//! write takes the named temporary file path. File systems without `O_TMPFILE` make [`create`]
//! decline too.

use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU8, Ordering};

use rustix::fs::{AtFlags, CWD, Mode, OFlags, linkat, openat};
use rustix::io::Errno;

use super::stream::parent_dir;

/// How nameless files are linked in this process: not known yet.
const UNKNOWN: u8 = 0;
/// `linkat` with `AT_EMPTY_PATH` works.
const EMPTY_PATH: u8 = 1;
/// Linking through `/proc/self/fd` works.
const PROC_FD: u8 = 2;
/// Neither works: write named temporary files instead.
const NEITHER: u8 = 3;

static METHOD: AtomicU8 = AtomicU8::new(UNKNOWN);

/// Opens a nameless file (read and write) in `dest`'s directory.
///
/// `Ok(None)` when this cannot be done here (the file system has no `O_TMPFILE`, the directory
/// cannot be opened for it, or linking is known not to work): the caller should write a named
/// temporary file, which reports any real problem with the directory on its own.
/// [`io::ErrorKind::NotFound`] when the directory does not exist.
pub(super) fn create(dest: &Path) -> io::Result<Option<File>> {
    if METHOD.load(Ordering::Relaxed) == NEITHER {
        return Ok(None);
    }
    match openat(CWD, parent_dir(dest), OFlags::RDWR | OFlags::TMPFILE | OFlags::CLOEXEC, Mode::from_raw_mode(0o666)) {
        Ok(fd) => Ok(Some(File::from(fd))),
        Err(Errno::NOENT) => Err(io::ErrorKind::NotFound.into()),
        Err(_) => Ok(None),
    }
}

/// Gives the nameless `file` the name `dest`.
///
/// [`io::ErrorKind::AlreadyExists`] when `dest` exists (a link never replaces);
/// [`io::ErrorKind::Unsupported`] when this process can link nameless files in neither way.
pub(super) fn link(file: &File, dest: &Path) -> io::Result<()> {
    let method = METHOD.load(Ordering::Relaxed);
    if method == EMPTY_PATH || method == UNKNOWN {
        match linkat(file, "", CWD, dest, AtFlags::EMPTY_PATH) {
            Ok(()) => return remember(EMPTY_PATH),
            // Unprivileged callers get ENOENT (older kernels) or EPERM; ENOENT may also mean the
            // directory is gone, which the next attempt tells apart.
            Err(Errno::NOENT | Errno::PERM) if method == UNKNOWN => {}
            Err(err) => return Err(err.into()),
        }
    }
    if method == NEITHER {
        return Err(io::ErrorKind::Unsupported.into());
    }
    match link_by_proc_fd(file, dest) {
        Ok(()) => remember(PROC_FD),
        Err(Errno::NOENT | Errno::PERM | Errno::XDEV) if method == UNKNOWN && parent_dir(dest).is_dir() => {
            METHOD.store(NEITHER, Ordering::Relaxed);
            Err(io::ErrorKind::Unsupported.into())
        }
        Err(err) => Err(err.into()),
    }
}

fn link_by_proc_fd(file: &File, dest: &Path) -> Result<(), Errno> {
    let by_fd = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(file));
    linkat(CWD, by_fd.as_str(), CWD, dest, AtFlags::SYMLINK_FOLLOW)
}

fn remember(method: u8) -> io::Result<()> {
    METHOD.store(method, Ordering::Relaxed);
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn a_nameless_file_appears_whole_under_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.txt");
        let Some(mut file) = create(&dest).unwrap() else {
            // A file system without O_TMPFILE (the test's temporary directory is elsewhere).
            return;
        };
        file.write_all(b"whole").unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "nothing is visible before the link");
        match link(&file, &dest) {
            Ok(()) => assert_eq!(std::fs::read(&dest).unwrap(), b"whole"),
            Err(err) => assert_eq!(err.kind(), io::ErrorKind::Unsupported),
        }
    }

    #[test]
    fn linking_through_proc_works_too() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("by-proc");
        let Some(mut file) = create(&dest).unwrap() else { return };
        file.write_all(b"via /proc").unwrap();
        link_by_proc_fd(&file, &dest).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"via /proc");
    }

    #[test]
    fn links_never_replace_and_missing_directories_are_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("taken");
        std::fs::write(&dest, "old").unwrap();
        let Some(file) = create(&dest).unwrap() else { return };
        let err = link(&file, &dest).unwrap_err();
        assert!(matches!(err.kind(), io::ErrorKind::AlreadyExists | io::ErrorKind::Unsupported), "{err:?}");
        assert_eq!(std::fs::read(&dest).unwrap(), b"old");
        let missing = dir.path().join("no/such/out");
        assert_eq!(create(&missing).unwrap_err().kind(), io::ErrorKind::NotFound);
    }
}
