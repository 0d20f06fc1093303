//! In-memory targets for tests: [`MockTarget`] and [`MockFileSystem`] (Luigi's `luigi.mock`).
//!
//! All instances share one process-wide store keyed by path, like Luigi's, so a test can
//! write through one task's `MockTarget` and read it through another's, or inspect the
//! store with [`MockFileSystem::get_data`]. Writes become visible on commit, atomically.
//! The store is a `BTreeMap` behind a mutex: prefix operations (`listdir`, recursive
//! `remove`, `isdir`) are range scans, not full scans.
//!
//! The mock keeps Luigi's prefix semantics on purpose, quirks included: `listdir("a")`
//! lists `a`, `a/x` and also `ab`; `isdir` is true for any path that prefixes a stored key
//! (including a stored file itself); `mkdir` does nothing.
//!
//! Because the store is shared, tests running in parallel must use distinct paths, and
//! should not call [`clear`](MockFileSystem::clear) on it; [`MockFileSystem::isolated`]
//! gives a private store for that.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Cursor, Write};
use std::ops::Bound;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError};

use super::{Error, FileSystem, FileSystemTarget, Target, TargetReader, TargetWriter, WriteSink};
use crate::format::{self, Format};

type Store = Mutex<BTreeMap<String, Arc<[u8]>>>;

static GLOBAL: LazyLock<Arc<Store>> = LazyLock::new(Arc::default);

/// An in-memory file system, shared process-wide unless made [`isolated`](MockFileSystem::isolated).
#[derive(Clone)]
pub struct MockFileSystem {
    store: Arc<Store>,
}

impl Default for MockFileSystem {
    fn default() -> MockFileSystem {
        MockFileSystem::new()
    }
}

impl MockFileSystem {
    /// A handle to the process-wide store.
    pub fn new() -> MockFileSystem {
        MockFileSystem { store: Arc::clone(&GLOBAL) }
    }

    /// A handle to a new, private store, shared only by its clones.
    pub fn isolated() -> MockFileSystem {
        MockFileSystem { store: Arc::default() }
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Arc<[u8]>>> {
        // Every operation leaves the map consistent, so a panic elsewhere while the lock
        // was held does not make the data suspect.
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The contents of the file at `path`.
    pub fn get_data(&self, path: &str) -> Result<Vec<u8>, Error> {
        self.lock().get(path).map(|data| data.to_vec()).ok_or_else(|| Error::NotFound { path: path.to_owned() })
    }

    /// A snapshot of every file, by path.
    pub fn get_all_data(&self) -> BTreeMap<String, Vec<u8>> {
        self.lock().iter().map(|(path, data)| (path.clone(), data.to_vec())).collect()
    }

    /// Stores `data` at `path`, replacing what was there (test setup).
    pub fn put_data(&self, path: impl Into<String>, data: impl Into<Vec<u8>>) {
        self.lock().insert(path.into(), Arc::from(data.into()));
    }

    /// Deletes every file.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// Moves `path` to `dest`; with `raise_if_exists`, an existing `dest` is
    /// [`FileAlreadyExists`](Error::FileAlreadyExists).
    pub fn move_to(&self, path: &str, dest: &str, raise_if_exists: bool) -> Result<(), Error> {
        let mut store = self.lock();
        if raise_if_exists && store.contains_key(dest) {
            return Err(Error::FileAlreadyExists { path: dest.to_owned() });
        }
        let data = store.remove(path).ok_or_else(|| Error::NotFound { path: path.to_owned() })?;
        store.insert(dest.to_owned(), data);
        Ok(())
    }

    /// Copies `path` to `dest`; with `raise_if_exists`, an existing `dest` is
    /// [`FileAlreadyExists`](Error::FileAlreadyExists).
    pub fn copy_to(&self, path: &str, dest: &str, raise_if_exists: bool) -> Result<(), Error> {
        let mut store = self.lock();
        if raise_if_exists && store.contains_key(dest) {
            return Err(Error::FileAlreadyExists { path: dest.to_owned() });
        }
        let data = store.get(path).cloned().ok_or_else(|| Error::NotFound { path: path.to_owned() })?;
        store.insert(dest.to_owned(), data);
        Ok(())
    }

    fn keys_with_prefix<'m>(
        store: &'m BTreeMap<String, Arc<[u8]>>,
        prefix: &'m str,
    ) -> impl Iterator<Item = &'m String> {
        store
            .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
            .map(|(key, _)| key)
            .take_while(move |key| key.starts_with(prefix))
    }
}

impl fmt::Debug for MockFileSystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shared = Arc::ptr_eq(&self.store, &GLOBAL);
        f.debug_struct("MockFileSystem").field("shared", &shared).finish_non_exhaustive()
    }
}

impl FileSystem for MockFileSystem {
    fn name(&self) -> &'static str {
        "MockFileSystem"
    }

    fn exists(&self, path: &str) -> Result<bool, Error> {
        Ok(self.lock().contains_key(path))
    }

    /// Non-recursive: removes exactly `path` ([`NotFound`](Error::NotFound) if absent).
    /// Recursive: removes every path starting with `path`, which may be none.
    fn remove(&self, path: &str, recursive: bool, _skip_trash: bool) -> Result<(), Error> {
        let mut store = self.lock();
        if !recursive {
            return store.remove(path).map(drop).ok_or_else(|| Error::NotFound { path: path.to_owned() });
        }
        let doomed: Vec<String> = MockFileSystem::keys_with_prefix(&store, path).cloned().collect();
        for key in doomed {
            store.remove(&key);
        }
        Ok(())
    }

    /// Does nothing: the mock has no directories.
    fn mkdir(&self, _path: &str, _parents: bool, _raise_if_exists: bool) -> Result<(), Error> {
        Ok(())
    }

    fn isdir(&self, path: &str) -> Result<bool, Error> {
        Ok(MockFileSystem::keys_with_prefix(&self.lock(), path).next().is_some())
    }

    /// Every stored path starting with `path`, sorted.
    fn listdir(&self, path: &str) -> Result<Vec<String>, Error> {
        Ok(MockFileSystem::keys_with_prefix(&self.lock(), path).cloned().collect())
    }

    fn rename(&self, path: &str, dest: &str) -> Result<(), Error> {
        self.move_to(path, dest, false)
    }

    /// Atomic: the check and the move happen under one lock.
    fn rename_dont_move(&self, path: &str, dest: &str) -> Result<(), Error> {
        self.move_to(path, dest, true)
    }

    fn copy(&self, path: &str, dest: &str) -> Result<(), Error> {
        self.copy_to(path, dest, false)
    }
}

/// An in-memory target (Luigi's `MockTarget`), stored in the process-wide
/// [`MockFileSystem`] unless given another one.
///
/// ```
/// use std::io::Write;
/// use luigi_core::target::{FileSystemTarget, MockFileSystem, MockTarget, Target};
/// # fn main() -> Result<(), luigi_core::BoxError> {
/// let target = MockTarget::new("/mock/doc-example/out.txt");
/// let mut out = target.open_write()?;
/// out.write_all(b"42\n")?;
/// out.commit()?;
/// assert!(target.exists()?);
/// assert_eq!(MockFileSystem::new().get_data("/mock/doc-example/out.txt")?, b"42\n");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct MockTarget {
    path: String,
    fs: MockFileSystem,
    format: Arc<dyn Format>,
    mirror_on_stderr: bool,
}

impl MockTarget {
    /// A target at `path` in the process-wide store, with the default
    /// [`Text`](crate::format::Text) format.
    pub fn new(path: impl Into<String>) -> MockTarget {
        MockTarget {
            path: path.into(),
            fs: MockFileSystem::new(),
            format: format::default_format(),
            mirror_on_stderr: false,
        }
    }

    /// Stores the target in `fs` instead of the process-wide store.
    pub fn with_fs(mut self, fs: MockFileSystem) -> MockTarget {
        self.fs = fs;
        self
    }

    /// Reads and writes through `format`.
    pub fn with_format(mut self, format: impl Format) -> MockTarget {
        self.format = Arc::new(format);
        self
    }

    /// Also echoes everything written to standard error, each line prefixed with the path.
    pub fn with_mirror_on_stderr(mut self, mirror: bool) -> MockTarget {
        self.mirror_on_stderr = mirror;
        self
    }

    /// The store this target lives in.
    pub fn mock_fs(&self) -> &MockFileSystem {
        &self.fs
    }

    /// Moves the data to `dest` (Luigi's `MockTarget.move`); this target keeps its path.
    pub fn move_to(&self, dest: &str, raise_if_exists: bool) -> Result<(), Error> {
        self.fs.move_to(&self.path, dest, raise_if_exists)
    }
}

impl Target for MockTarget {
    fn exists(&self) -> Result<bool, Error> {
        self.fs.exists(&self.path)
    }

    fn describe(&self) -> String {
        format!("[FileSystem] {}", self.path)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

impl FileSystemTarget for MockTarget {
    fn path(&self) -> &str {
        &self.path
    }

    fn fs(&self) -> &dyn FileSystem {
        &self.fs
    }

    fn open_read(&self) -> Result<TargetReader, Error> {
        let data =
            self.fs.lock().get(&self.path).cloned().ok_or_else(|| Error::NotFound { path: self.path.clone() })?;
        let source = self.format.pipe_reader(Box::new(Cursor::new(data)))?;
        Ok(TargetReader::new(source, self.path.clone()))
    }

    fn open_write(&self) -> Result<TargetWriter, Error> {
        let mirror = self.mirror_on_stderr.then(|| Mirror { prefix: format!("{}: ", self.path), at_line_start: true });
        let sink = MockSink { fs: self.fs.clone(), path: self.path.clone(), data: Vec::new(), mirror };
        let sink = self.format.pipe_writer(Box::new(sink))?;
        Ok(TargetWriter::new(sink, self.path.clone()))
    }

    fn remove(&self) -> Result<(), Error> {
        self.fs.remove(&self.path, true, true)
    }
}

impl fmt::Debug for MockTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockTarget").field("path", &self.path).field("format", &self.format).finish_non_exhaustive()
    }
}

/// Prints the path, as Luigi's `str(target)`.
impl fmt::Display for MockTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path)
    }
}

/// Echoes written bytes with the path at the start of every line.
struct Mirror {
    prefix: String,
    at_line_start: bool,
}

impl Mirror {
    fn echo(&mut self, out: &mut dyn Write, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            if self.at_line_start {
                out.write_all(self.prefix.as_bytes())?;
            }
            let end = data.iter().position(|&b| b == b'\n').map_or(data.len(), |i| i + 1);
            out.write_all(&data[..end])?;
            self.at_line_start = data[end - 1] == b'\n';
            data = &data[end..];
        }
        Ok(())
    }
}

struct MockSink {
    fs: MockFileSystem,
    path: String,
    data: Vec<u8>,
    mirror: Option<Mirror>,
}

impl Write for MockSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(mirror) = &mut self.mirror {
            // Mirroring is a debugging aid; a closed stderr must not fail the write.
            let _ = mirror.echo(&mut io::stderr().lock(), buf);
        }
        self.data.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl WriteSink for MockSink {
    fn commit(self: Box<Self>) -> io::Result<()> {
        let MockSink { fs, path, data, .. } = *self;
        fs.lock().insert(path, Arc::from(data));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_prefixes_every_line() {
        let mut mirror = Mirror { prefix: "p: ".into(), at_line_start: true };
        let mut out = Vec::new();
        for chunk in [&b"one\ntw"[..], b"o\n", b"", b"\nthree"] {
            mirror.echo(&mut out, chunk).unwrap();
        }
        assert_eq!(String::from_utf8(out).unwrap(), "p: one\np: two\np: \np: three");
    }

    #[test]
    fn mirrored_target_still_stores_the_data() {
        let fs = MockFileSystem::isolated();
        let target = MockTarget::new("m").with_fs(fs.clone()).with_mirror_on_stderr(true);
        let mut out = target.open_write().unwrap();
        out.write_all(b"to stderr too\n").unwrap();
        out.commit().unwrap();
        assert_eq!(fs.get_data("m").unwrap(), b"to stderr too\n");
    }

    #[test]
    fn debug_says_which_store() {
        assert_eq!(format!("{:?}", MockFileSystem::new()), "MockFileSystem { shared: true, .. }");
        assert_eq!(format!("{:?}", MockFileSystem::isolated()), "MockFileSystem { shared: false, .. }");
    }
}
