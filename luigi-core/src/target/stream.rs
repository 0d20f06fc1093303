//! Reading and writing targets: [`TargetWriter`] (commit-on-close), [`TargetReader`], the
//! [`WriteSink`] trait backends implement, and [`AtomicTempFile`], the sink most of them need.
//!
//! A write goes through three layers: the user writes into a [`TargetWriter`], which buffers
//! and owns a boxed [`WriteSink`]; formats ([`crate::format`]) wrap the sink to compress or
//! translate; the innermost sink belongs to the backend (a temporary file renamed into place
//! for local files, a buffer for the mock store, a temporary file uploaded on commit for S3).
//! Nothing becomes visible until [`TargetWriter::commit`], which finishes every layer from
//! the outside in; dropping the writer instead discards everything, so an error or a panic
//! in a task never leaves a partial output behind.
//!
//! Sinks and readers speak `io::Error`, because they implement `std::io::Write` and `Read`.
//! A backend that needs to report a richer [`Error`] (such as [`Error::Backend`]) converts it
//! with `io::Error::from`; [`TargetWriter::commit`] and the reader conveniences unwrap it
//! again, adding the target's path to plain I/O errors.
//!
//! Reads and writes are blocking. Backends whose client is asynchronous block on it inside
//! their sink or reader; core never depends on an async runtime.

use std::fmt;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use super::Error;

/// The end of a write pipeline: where written bytes go, and how they become visible.
///
/// Dropping a sink without calling [`commit`](WriteSink::commit) must discard what was
/// written (remove temporary files, abort uploads). Formats implement `WriteSink` too,
/// wrapping the next sink; their `commit` finishes their own stream (say, the gzip trailer)
/// and then commits the sink they wrap.
pub trait WriteSink: Write + Send {
    /// Makes everything written visible, atomically where the backend allows it.
    fn commit(self: Box<Self>) -> io::Result<()>;
}

/// A sink that keeps everything in memory and does nothing on commit; useful in tests and
/// as the innermost layer of an in-memory backend.
impl WriteSink for Vec<u8> {
    fn commit(self: Box<Self>) -> io::Result<()> {
        Ok(())
    }
}

/// A buffered writer to a target; call [`commit`](TargetWriter::commit) to make the data
/// visible. Dropping it without committing discards everything written.
///
/// ```
/// use std::io::Write;
/// use luigi_core::target::{FileSystemTarget, LocalTarget, Target};
/// # fn main() -> Result<(), luigi_core::BoxError> {
/// # let dir = tempfile::tempdir()?;
/// let target = LocalTarget::new(dir.path().join("greeting.txt"));
/// let mut out = target.open_write()?;
/// writeln!(out, "hello")?;
/// assert!(!target.exists()?); // not yet visible
/// out.commit()?;
/// assert_eq!(target.open_read()?.read_to_string()?, "hello\n");
/// # Ok(()) }
/// ```
#[must_use = "a TargetWriter discards its data unless commit() is called"]
pub struct TargetWriter {
    // `None` only after commit or during drop.
    inner: Option<BufWriter<Box<dyn WriteSink>>>,
    path: String,
}

impl TargetWriter {
    /// A writer into `sink`, for the target at `path` (used in error messages).
    pub fn new(sink: Box<dyn WriteSink>, path: impl Into<String>) -> TargetWriter {
        TargetWriter { inner: Some(BufWriter::new(sink)), path: path.into() }
    }

    /// The path of the target being written.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Flushes everything and makes it visible under the target's path.
    pub fn commit(mut self) -> Result<(), Error> {
        let Some(writer) = self.inner.take() else {
            return Err(missing_writer(&self.path));
        };
        let sink = writer.into_inner().map_err(|err| Error::stream("write", &self.path, err.into_error()))?;
        sink.commit().map_err(|err| Error::stream("commit", &self.path, err))
    }

    /// Discards everything written; the same as dropping the writer, but explicit.
    pub fn abort(self) {
        drop(self);
    }

    fn writer(&mut self) -> io::Result<&mut BufWriter<Box<dyn WriteSink>>> {
        self.inner.as_mut().ok_or_else(|| missing_writer(&self.path).into())
    }
}

fn missing_writer(path: &str) -> Error {
    Error::Io { op: "write", path: path.to_owned(), source: io::Error::other("the writer was already closed") }
}

impl Write for TargetWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer()?.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.writer()?.write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer()?.flush()
    }
}

impl Drop for TargetWriter {
    fn drop(&mut self) {
        if let Some(writer) = self.inner.take() {
            // Throw the buffered bytes away rather than flushing them into a sink that is
            // about to discard everything anyway.
            let (sink, _unwritten) = writer.into_parts();
            drop(sink);
            tracing::debug!(path = %self.path, "target writer dropped without commit; output discarded");
        }
    }
}

impl fmt::Debug for TargetWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TargetWriter").field("path", &self.path).finish_non_exhaustive()
    }
}

/// A buffered reader of a target, after its format has decoded it.
///
/// It implements `Read` and `BufRead`; [`read_to_string`](TargetReader::read_to_string),
/// [`read_bytes`](TargetReader::read_bytes) and [`lines`](TargetReader::lines) are
/// shortcuts whose errors name the target. (They shadow the `std::io` methods of the same
/// names, which stay reachable as `Read::read_to_string(&mut reader, &mut buf)`.)
pub struct TargetReader {
    inner: Box<dyn BufRead + Send>,
    path: String,
}

impl TargetReader {
    /// A reader over `source`, for the target at `path` (used in error messages).
    pub fn new(source: Box<dyn BufRead + Send>, path: impl Into<String>) -> TargetReader {
        TargetReader { inner: source, path: path.into() }
    }

    /// A reader over an unbuffered source, adding a buffer.
    pub fn from_read(source: impl Read + Send + 'static, path: impl Into<String>) -> TargetReader {
        TargetReader::new(Box::new(BufReader::new(source)), path)
    }

    /// The path of the target being read.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Reads everything that is left as UTF-8 text.
    pub fn read_to_string(&mut self) -> Result<String, Error> {
        let mut text = String::new();
        Read::read_to_string(&mut self.inner, &mut text).map_err(|err| Error::stream("read", &self.path, err))?;
        Ok(text)
    }

    /// Reads everything that is left as bytes.
    pub fn read_bytes(&mut self) -> Result<Vec<u8>, Error> {
        let mut bytes = Vec::new();
        self.inner.read_to_end(&mut bytes).map_err(|err| Error::stream("read", &self.path, err))?;
        Ok(bytes)
    }

    /// The remaining lines, without their `\n` or `\r\n`. Iteration stops after the first
    /// error.
    pub fn lines(self) -> Lines {
        Lines { reader: self, done: false }
    }
}

impl Read for TargetReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

impl BufRead for TargetReader {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        self.inner.consume(amt);
    }
}

impl fmt::Debug for TargetReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TargetReader").field("path", &self.path).finish_non_exhaustive()
    }
}

/// The lines of a [`TargetReader`], from [`TargetReader::lines`].
#[derive(Debug)]
pub struct Lines {
    reader: TargetReader,
    done: bool,
}

impl Iterator for Lines {
    type Item = Result<String, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let mut line = Vec::new();
        match self.reader.inner.read_until(b'\n', &mut line) {
            Ok(0) => {
                self.done = true;
                None
            }
            Ok(_) => {
                if line.last() == Some(&b'\n') {
                    line.pop();
                    if line.last() == Some(&b'\r') {
                        line.pop();
                    }
                }
                Some(String::from_utf8(line).map_err(|err| {
                    self.done = true;
                    let source = io::Error::new(io::ErrorKind::InvalidData, err.utf8_error());
                    Error::Io { op: "read", path: self.reader.path.clone(), source }
                }))
            }
            Err(err) => {
                self.done = true;
                Some(Err(Error::stream("read", &self.reader.path, err)))
            }
        }
    }
}

type OnCommit = Box<dyn FnOnce(&Path) -> Result<(), Error> + Send>;

enum Finish {
    /// Rename the temporary file over this path.
    Rename(PathBuf),
    /// Give the nameless temporary file this name, replacing what is there.
    #[cfg(target_os = "linux")]
    Link(PathBuf),
    /// Hand the temporary file to a callback, then delete it if it is still there.
    Call(OnCommit),
}

/// A [`WriteSink`] that writes a local temporary file and, on commit, either renames it over
/// a destination ([`replacing`](AtomicTempFile::replacing)) or hands its path to a callback
/// ([`new`](AtomicTempFile::new)), such as an upload to S3 or a `put` to HDFS (Luigi's
/// `AtomicLocalFile`).
///
/// The temporary file is created exclusively (never clobbering another writer's) and deleted
/// if the sink is dropped without commit, or after the callback returns. On Linux, a
/// [`replacing`](AtomicTempFile::replacing) sink's file has no name at all until commit
/// (`O_TMPFILE`, where the file system has it), so not even a killed writer leaves one behind.
///
/// Durability: by default nothing is `fsync`ed. A rename after a complete write already
/// guarantees that no process ever sees a partial file, even if the writer is killed; only a
/// power loss or kernel crash right after commit can lose the data, and `fsync` per file
/// costs about a millisecond on ordinary disks (1M tiny outputs would take tens of minutes
/// instead of about a minute). [`with_sync`](AtomicTempFile::with_sync) turns it on for
/// outputs that must survive a power cut.
pub struct AtomicTempFile {
    // `None` after commit, during which the file is closed before being handed on.
    file: Option<File>,
    // `None` for a nameless file (Linux `O_TMPFILE`).
    tmp: Option<PathBuf>,
    finish: Option<Finish>,
    sync: bool,
    // Whether the temporary file is still ours to delete on drop.
    armed: bool,
}

/// How many random names to try before giving up on creating a temporary file.
const CREATE_ATTEMPTS: usize = 32;

impl AtomicTempFile {
    /// A temporary file `<system temp dir>/luigi-tmp-<9+ digits>` whose path is passed to
    /// `on_commit` when the writer commits; the file is deleted afterwards if `on_commit`
    /// left it in place, and also when `on_commit` fails.
    pub fn new(on_commit: impl FnOnce(&Path) -> Result<(), Error> + Send + 'static) -> Result<AtomicTempFile, Error> {
        let dir = std::env::temp_dir();
        let (file, tmp) = create_unique(|| dir.join(format!("luigi-tmp-{:09}", random_suffix())))?;
        Ok(AtomicTempFile::from_parts(file, Some(tmp), Finish::Call(Box::new(on_commit))))
    }

    /// Like [`new`](AtomicTempFile::new), at a temporary path of the caller's choosing,
    /// which must not exist yet.
    pub fn at(
        tmp: impl Into<PathBuf>,
        on_commit: impl FnOnce(&Path) -> Result<(), Error> + Send + 'static,
    ) -> Result<AtomicTempFile, Error> {
        let tmp = tmp.into();
        let file = create_new(&tmp).map_err(|err| Error::io("create temporary file", &tmp.to_string_lossy(), err))?;
        Ok(AtomicTempFile::from_parts(file, Some(tmp), Finish::Call(Box::new(on_commit))))
    }

    /// A temporary file `<dest>-luigi-tmp-<9+ digits>` beside `dest` that replaces `dest`
    /// by rename on commit, atomically when both are on one file system (they are, being in
    /// one directory). On Linux the file is, where possible, a nameless one in `dest`'s
    /// directory that commit links in as `dest` (through a temporary name and a rename when
    /// `dest` exists), so the directory never holds a temporary name at all.
    /// Missing parent directories of `dest` are created.
    /// A `dest` that cannot name a file (empty, ending in a slash or `..`) is
    /// [`Error::InvalidPath`].
    pub fn replacing(dest: impl Into<PathBuf>) -> Result<AtomicTempFile, Error> {
        let dest = dest.into();
        let ends_in_separator =
            dest.as_os_str().as_encoded_bytes().last().is_some_and(|&b| std::path::is_separator(char::from(b)));
        if dest.file_name().is_none() || ends_in_separator {
            return Err(Error::InvalidPath {
                path: dest.to_string_lossy().into_owned(),
                reason: "a file path is needed, not an empty or directory path",
            });
        }
        #[cfg(target_os = "linux")]
        {
            let nameless = match super::unnamed::create(&dest) {
                Err(err) if err.kind() == io::ErrorKind::NotFound => {
                    create_parent_dirs(&dest)?;
                    super::unnamed::create(&dest).unwrap_or(None)
                }
                other => other.unwrap_or(None),
            };
            if let Some(file) = nameless {
                return Ok(AtomicTempFile::from_parts(file, None, Finish::Link(dest)));
            }
        }
        let make_tmp = || tmp_beside(&dest);
        let (file, tmp) = match create_unique(make_tmp) {
            Err(Error::NotFound { .. }) => {
                // The common case has the directory already; only create it on demand, which
                // saves a system call per file when writing many outputs into one directory.
                create_parent_dirs(&dest)?;
                create_unique(make_tmp)?
            }
            other => other?,
        };
        Ok(AtomicTempFile::from_parts(file, Some(tmp), Finish::Rename(dest)))
    }

    fn from_parts(file: File, tmp: Option<PathBuf>, finish: Finish) -> AtomicTempFile {
        AtomicTempFile { file: Some(file), tmp, finish: Some(finish), sync: false, armed: true }
    }

    /// Whether to `fsync` the data (and, for [`replacing`](AtomicTempFile::replacing), the
    /// directory) on commit, so it survives a power loss. Off by default.
    pub fn with_sync(mut self, sync: bool) -> AtomicTempFile {
        self.sync = sync;
        self
    }

    /// The temporary file's path; `None` while it has none (see
    /// [`replacing`](AtomicTempFile::replacing)).
    pub fn tmp_path(&self) -> Option<&Path> {
        self.tmp.as_deref()
    }

    fn file(&mut self) -> io::Result<&mut File> {
        self.file.as_mut().ok_or_else(|| io::Error::other("the temporary file was already closed"))
    }

    fn finish(&mut self) -> Result<(), Error> {
        let tmp = self.tmp.as_deref().unwrap_or(Path::new(""));
        let tmp_str = || tmp.to_string_lossy().into_owned();
        let file = self.file.take();
        if let Some(file) = &file
            && self.sync
        {
            file.sync_all().map_err(|err| Error::io("sync", &tmp_str(), err))?;
        }
        match self.finish.take() {
            Some(Finish::Rename(dest)) => {
                drop(file);
                fs::rename(tmp, &dest).map_err(|err| rename_error(tmp, &dest, err))?;
                self.armed = false;
                if self.sync {
                    sync_parent_dir(&dest)?;
                }
                Ok(())
            }
            #[cfg(target_os = "linux")]
            Some(Finish::Link(dest)) => {
                let file = file.ok_or_else(|| Error::Io {
                    op: "commit",
                    path: dest.to_string_lossy().into_owned(),
                    source: io::Error::other("the temporary file was already closed"),
                })?;
                link_nameless(file, &dest, self.sync)?;
                if self.sync {
                    sync_parent_dir(&dest)?;
                }
                Ok(())
            }
            Some(Finish::Call(on_commit)) => {
                drop(file);
                let result = on_commit(tmp);
                self.armed = false;
                match fs::remove_file(tmp) {
                    Ok(()) => {}
                    Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                    Err(err) => tracing::warn!(path = %tmp.display(), %err, "could not delete temporary file"),
                }
                result
            }
            None => Err(Error::Io {
                op: "commit",
                path: tmp_str(),
                source: io::Error::other("the temporary file was already committed"),
            }),
        }
    }
}

impl Write for AtomicTempFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file()?.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.file()?.write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file()?.flush()
    }
}

impl WriteSink for AtomicTempFile {
    fn commit(mut self: Box<Self>) -> io::Result<()> {
        self.finish().map_err(io::Error::from)
    }
}

impl Drop for AtomicTempFile {
    fn drop(&mut self) {
        drop(self.file.take());
        if self.armed
            && let Some(tmp) = &self.tmp
        {
            // Best effort: a temporary file that cannot be deleted is harmless garbage, and
            // there is nobody to report the error to.
            let _ = fs::remove_file(tmp);
        }
    }
}

impl fmt::Debug for AtomicTempFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AtomicTempFile").field("tmp", &self.tmp).field("sync", &self.sync).finish_non_exhaustive()
    }
}

/// `<dest>-luigi-tmp-<9+ digits>`.
fn tmp_beside(dest: &Path) -> PathBuf {
    let mut tmp = dest.as_os_str().to_owned();
    tmp.push(format!("-luigi-tmp-{:09}", random_suffix()));
    PathBuf::from(tmp)
}

/// Commits a nameless file as `dest`: a link where `dest` is free; where it exists, a link
/// under a temporary name renamed over it (a link never replaces); where this process cannot
/// link nameless files at all, a copy into a named temporary file renamed over it.
#[cfg(target_os = "linux")]
fn link_nameless(file: File, dest: &Path, sync: bool) -> Result<(), Error> {
    link_nameless_with(file, dest, sync, super::unnamed::link)
}

/// [`link_nameless`] with the way of linking passed in, so tests can take every branch.
#[cfg(target_os = "linux")]
fn link_nameless_with(
    mut file: File,
    dest: &Path,
    sync: bool,
    link: impl Fn(&File, &Path) -> io::Result<()>,
) -> Result<(), Error> {
    use std::io::Seek;

    let tmp = match link(&file, dest) {
        Ok(()) => return Ok(()),
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {
            at_unique_name(|| tmp_beside(dest), "link temporary file", |tmp| link(&file, tmp))?.1
        }
        Err(err) if err.kind() == io::ErrorKind::Unsupported => {
            let (mut named, tmp) = create_unique(|| tmp_beside(dest))?;
            let copied = file
                .rewind()
                .and_then(|()| io::copy(&mut file, &mut named))
                .and_then(|_| if sync { named.sync_all() } else { Ok(()) });
            if let Err(err) = copied {
                let _ = fs::remove_file(&tmp);
                return Err(Error::io("copy temporary file", &tmp.to_string_lossy(), err));
            }
            tmp
        }
        Err(err) => return Err(Error::io("link temporary file", &dest.to_string_lossy(), err)),
    };
    fs::rename(&tmp, dest).map_err(|err| {
        let _ = fs::remove_file(&tmp);
        rename_error(&tmp, dest, err)
    })
}

/// A random number below 10^10, printed with `{:09}` in temporary names as Luigi does.
pub(crate) fn random_suffix() -> u64 {
    fastrand::u64(0..10_000_000_000)
}

fn create_new(path: &Path) -> io::Result<File> {
    File::options().write(true).create_new(true).open(path)
}

/// Creates a file at the first name from `make_path` that does not exist yet.
fn create_unique(make_path: impl FnMut() -> PathBuf) -> Result<(File, PathBuf), Error> {
    at_unique_name(make_path, "create temporary file", create_new)
}

/// Runs `make` (which fails with `AlreadyExists` on a taken name) at names from `make_path`
/// until one is free, up to [`CREATE_ATTEMPTS`] names.
fn at_unique_name<T>(
    mut make_path: impl FnMut() -> PathBuf,
    op: &'static str,
    mut make: impl FnMut(&Path) -> io::Result<T>,
) -> Result<(T, PathBuf), Error> {
    let mut last = None;
    for _ in 0..CREATE_ATTEMPTS {
        let path = make_path();
        match make(&path) {
            Ok(made) => return Ok((made, path)),
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => last = Some((path, err)),
            Err(err) => return Err(Error::io(op, &path.to_string_lossy(), err)),
        }
    }
    let (path, err) = last.unzip();
    Err(Error::Io {
        op,
        path: path.map(|p| p.to_string_lossy().into_owned()).unwrap_or_default(),
        source: io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "{CREATE_ATTEMPTS} random names were all taken ({}); clean up stale -luigi-tmp- files",
                err.map(|e| e.to_string()).unwrap_or_default()
            ),
        ),
    })
}

pub(crate) fn create_parent_dirs(path: &Path) -> Result<(), Error> {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => {
            fs::create_dir_all(parent).map_err(|err| Error::io("create directory", &parent.to_string_lossy(), err))
        }
        _ => Ok(()),
    }
}

pub(crate) fn rename_error(from: &Path, to: &Path, err: io::Error) -> Error {
    let to_str = to.to_string_lossy();
    match err.kind() {
        io::ErrorKind::IsADirectory | io::ErrorKind::DirectoryNotEmpty => Error::IsADirectory { path: to_str.into() },
        io::ErrorKind::NotADirectory => Error::NotADirectory { path: to_str.into() },
        _ => Error::Io { op: "rename", path: format!("{} to {to_str}", from.to_string_lossy()), source: err },
    }
}

/// The directory `path` is in: its parent, or `.` for a bare name.
pub(crate) fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// Makes a rename into `path`'s directory durable.
pub(crate) fn sync_parent_dir(path: &Path) -> Result<(), Error> {
    let parent = parent_dir(path);
    File::open(parent).and_then(|dir| dir.sync_all()).map_err(|err| Error::io("sync", &parent.to_string_lossy(), err))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn writer_commits_through_the_sink() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("sub/dir/out.txt");
        let mut writer = TargetWriter::new(Box::new(AtomicTempFile::replacing(&dest).unwrap()), "out");
        writer.write_all(b"abc").unwrap();
        writer.flush().unwrap();
        assert!(!dest.exists());
        writer.commit().unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"abc");
        assert_eq!(fs::read_dir(dest.parent().unwrap()).unwrap().count(), 1, "temporary file left behind");
    }

    #[test]
    fn replacing_an_existing_file_leaves_only_the_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.txt");
        fs::write(&dest, "old").unwrap();
        for (previous, text) in [("old", "new"), ("new", "newer")] {
            let mut writer = TargetWriter::new(Box::new(AtomicTempFile::replacing(&dest).unwrap()), "out");
            writer.write_all(text.as_bytes()).unwrap();
            writer.flush().unwrap();
            assert_eq!(fs::read_to_string(&dest).unwrap(), previous, "visible before commit");
            writer.commit().unwrap();
            assert_eq!(fs::read_to_string(&dest).unwrap(), text);
        }
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1, "temporary file left behind");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn without_links_a_nameless_file_is_copied_into_place() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.txt");
        let cannot_link = |_: &File, _: &Path| Err(io::ErrorKind::Unsupported.into());
        for (sync, text) in [(false, "first"), (true, "second, over the first")] {
            let Some(mut file) = super::super::unnamed::create(&dest).unwrap() else { return };
            file.write_all(text.as_bytes()).unwrap();
            link_nameless_with(file, &dest, sync, cannot_link).unwrap();
            assert_eq!(fs::read_to_string(&dest).unwrap(), text);
        }
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1, "temporary file left behind");

        let broken = |_: &File, _: &Path| Err(io::ErrorKind::PermissionDenied.into());
        let Some(file) = super::super::unnamed::create(&dest).unwrap() else { return };
        let err = link_nameless_with(file, &dir.path().join("other"), false, broken).unwrap_err();
        assert!(err.to_string().contains("link temporary file"), "{err}");
    }

    #[test]
    fn dropped_writer_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.txt");
        let sink = AtomicTempFile::replacing(&dest).unwrap();
        let tmp = sink.tmp_path().map(Path::to_owned);
        if let Some(tmp) = &tmp {
            assert!(tmp.to_string_lossy().contains("out.txt-luigi-tmp-"));
        }
        let mut writer = TargetWriter::new(Box::new(sink), "out");
        writer.write_all(&[7; 100_000]).unwrap();
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), usize::from(tmp.is_some()));
        writer.abort();
        assert!(!dest.exists());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn callback_sink_receives_the_file_and_cleans_up() {
        let seen = Arc::new(Mutex::new(None));
        let seen2 = Arc::clone(&seen);
        let sink = AtomicTempFile::new(move |path| {
            *seen2.lock().unwrap() = Some(fs::read(path).map_err(|e| Error::io("read", "tmp", e))?);
            Ok(())
        })
        .unwrap()
        .with_sync(true);
        let tmp = sink.tmp_path().expect("a callback sink's file has a name").to_owned();
        let name = tmp.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with("luigi-tmp-") && name.len() >= "luigi-tmp-".len() + 9, "{name}");
        let mut writer = TargetWriter::new(Box::new(sink), "remote://x");
        writer.write_all(b"payload").unwrap();
        writer.commit().unwrap();
        assert_eq!(seen.lock().unwrap().as_deref(), Some(&b"payload"[..]));
        assert!(!tmp.exists());
    }

    #[test]
    fn callback_errors_come_back_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let tmp = dir.path().join("upload.tmp");
        let sink =
            AtomicTempFile::at(&tmp, |_| Err(Error::backend("upload s3://bucket/key", "connection reset"))).unwrap();
        // The exact path must be new.
        assert!(matches!(
            AtomicTempFile::at(&tmp, |_| Ok(())),
            Err(Error::FileAlreadyExists { ref path }) if path.ends_with("upload.tmp")
        ));
        let writer = TargetWriter::new(Box::new(sink), "s3://bucket/key");
        let err = writer.commit().unwrap_err();
        assert!(matches!(err, Error::Backend { .. }), "{err:?}");
        assert_eq!(err.to_string(), "upload s3://bucket/key: connection reset");
        assert!(!tmp.exists(), "temporary file kept after a failed callback");
    }

    #[test]
    fn rename_failure_is_reported_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("taken");
        fs::create_dir(&dest).unwrap();
        fs::write(dest.join("inside"), "x").unwrap();
        let mut writer = TargetWriter::new(Box::new(AtomicTempFile::replacing(&dest).unwrap()), "taken");
        writer.write_all(b"data").unwrap();
        let err = writer.commit().unwrap_err();
        assert!(matches!(err, Error::IsADirectory { .. }), "{err:?}");
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["taken"]);
    }

    #[test]
    fn replacing_reports_a_file_in_the_way_of_the_parent() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("file"), "x").unwrap();
        let err = AtomicTempFile::replacing(dir.path().join("file/sub/out")).unwrap_err();
        assert!(matches!(err, Error::NotADirectory { .. }), "{err:?}");
    }

    #[test]
    fn reader_conveniences() {
        let reader = TargetReader::from_read(&b"one\r\ntwo\nthree"[..], "p");
        let lines: Vec<_> = reader.lines().collect::<Result<_, _>>().unwrap();
        assert_eq!(lines, ["one", "two", "three"]);

        let mut reader = TargetReader::from_read(&b"bytes\xff"[..], "p");
        assert_eq!(reader.read_bytes().unwrap(), b"bytes\xff");

        let mut reader = TargetReader::from_read(&b"bad\xff"[..], "p");
        let err = reader.read_to_string().unwrap_err();
        assert!(matches!(err, Error::Io { op: "read", ref path, .. } if path == "p"), "{err:?}");

        let mut lines = TargetReader::from_read(&b"ok\nbad\xff\nnever\n"[..], "p").lines();
        assert_eq!(lines.next().unwrap().unwrap(), "ok");
        assert!(lines.next().unwrap().is_err());
        assert!(lines.next().is_none(), "iteration continues after an error");

        let mut reader = TargetReader::from_read(&b"abc"[..], "p");
        assert_eq!(reader.fill_buf().unwrap(), b"abc");
        reader.consume(1);
        let mut rest = String::new();
        Read::read_to_string(&mut reader, &mut rest).unwrap();
        assert_eq!(rest, "bc");
        assert_eq!(format!("{reader:?}"), "TargetReader { path: \"p\", .. }");
    }
}
