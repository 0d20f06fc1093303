//! Targets: what tasks produce, the file systems they live on, and atomic reads and writes.
//!
//! The layers, from the task's point of view down:
//!
//! - [`Target`]: anything that exists or not (a file, a database row, a marker). A task is
//!   complete when all its outputs exist.
//! - [`FileSystemTarget`]: a target with a path on a [`FileSystem`], which can be opened for
//!   reading ([`TargetReader`]) or writing ([`TargetWriter`]), removed, or produced by an
//!   external program through a [temporary path](FileSystemTarget::temporary_path).
//! - [`FileSystem`]: the operations on paths (`exists`, `remove`, `mkdir`, `listdir`,
//!   `rename`...), object-safe so a target can hand out `&dyn FileSystem`. Operations a
//!   backend cannot do return [`Error::Unsupported`], never a panic.
//! - Streams ([`WriteSink`], [`AtomicTempFile`]): a writer is a boxed sink that only makes
//!   its data visible when committed, and formats ([`crate::format`]) wrap sinks and
//!   readers to compress or decode on the way.
//!
//! Implementations here: [`LocalTarget`]/[`LocalFileSystem`] (local files, atomic writes by
//! temporary file and rename) and [`MockTarget`]/[`MockFileSystem`] (a process-wide
//! in-memory store, for tests). S3, HDFS and database targets live in `luigi-contrib` and
//! plug into the same traits; this module holds no backend code.
//!
//! The key decision is *commit-on-close*: Python Luigi commits a write when a `with` block
//! exits normally. Rust has no such block, so [`TargetWriter::commit`] is explicit and
//! dropping a writer (an error, a panic) discards the data. No reader ever sees a partial
//! output under its final name, even if the process is killed mid-write.
//!
//! Paths are `&str`, as in Luigi, because they are also URLs (`s3://bucket/key`,
//! `hdfs://...`); local paths that are not valid Unicode are converted lossily.

mod local;
mod mock;
mod stream;
#[cfg(target_os = "linux")]
mod unnamed;

use std::any::Any;
use std::io;

pub use local::{LocalFileSystem, LocalTarget};
pub use mock::{MockFileSystem, MockTarget};
pub use stream::{AtomicTempFile, Lines, TargetReader, TargetWriter, WriteSink};

use crate::BoxError;

/// A `Result` whose error defaults to this module's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a target or file system operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O error on a path.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done (`open`, `rename`...).
        op: &'static str,
        /// The path involved.
        path: String,
        /// The underlying error.
        source: io::Error,
    },
    /// A backend error (S3, HDFS, a database...), boxed so core names no backend type.
    #[error("{context}: {source}")]
    Backend {
        /// What was being done, on what.
        context: String,
        /// The backend's error.
        source: BoxError,
    },
    /// The destination of an operation exists but must not (Luigi's `FileAlreadyExists`).
    #[error("{path} already exists; remove it first or choose another destination")]
    FileAlreadyExists {
        /// The path that exists.
        path: String,
    },
    /// A parent directory is missing and the operation may not create it (Luigi's
    /// `MissingParentDirectory`).
    #[error("the parent directory of {path} does not exist; create it first or pass parents = true")]
    MissingParentDirectory {
        /// The path whose parent is missing.
        path: String,
    },
    /// A path that must be a directory is a file (Luigi's `NotADirectory`).
    #[error("{path} exists and is not a directory")]
    NotADirectory {
        /// The path that is not a directory.
        path: String,
    },
    /// A path that must be a file is a directory.
    #[error("{path} is a directory; this operation needs a file (or recursive = true to remove a directory)")]
    IsADirectory {
        /// The path that is a directory.
        path: String,
    },
    /// A path that must exist does not.
    #[error("{path} does not exist")]
    NotFound {
        /// The missing path.
        path: String,
    },
    /// A path that cannot name what the operation needs (say, an empty path to write a
    /// file to).
    #[error("invalid path {path:?}: {reason}")]
    InvalidPath {
        /// The path.
        path: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The file system does not implement an operation (Luigi's `NotImplementedError`).
    #[error("{op} is not supported by {fs}")]
    Unsupported {
        /// The operation (`mkdir`, `listdir`...).
        op: &'static str,
        /// The file system's name.
        fs: &'static str,
    },
    /// A format could not be applied (an invalid chain, a bad compression level).
    #[error(transparent)]
    Format(#[from] crate::format::Error),
}

impl Error {
    /// A backend error with what was being done, on what (`"upload s3://b/k"`).
    pub fn backend(context: impl Into<String>, source: impl Into<BoxError>) -> Error {
        Error::Backend { context: context.into(), source: source.into() }
    }

    /// An I/O error on `path`. The common kinds become the matching variants
    /// ([`NotFound`](Error::NotFound), [`FileAlreadyExists`](Error::FileAlreadyExists),
    /// [`NotADirectory`](Error::NotADirectory), [`IsADirectory`](Error::IsADirectory)), and an
    /// `Error` that travelled inside the `io::Error` (from a sink) comes back out unchanged.
    pub fn io(op: &'static str, path: &str, source: io::Error) -> Error {
        let path = path.to_owned();
        match source.kind() {
            io::ErrorKind::NotFound if source.get_ref().is_none() => Error::NotFound { path },
            io::ErrorKind::AlreadyExists if source.get_ref().is_none() => Error::FileAlreadyExists { path },
            io::ErrorKind::NotADirectory if source.get_ref().is_none() => Error::NotADirectory { path },
            io::ErrorKind::IsADirectory if source.get_ref().is_none() => Error::IsADirectory { path },
            _ => Error::stream(op, &path, source),
        }
    }

    /// An I/O error while reading or writing a stream of `path`: an `Error` carried inside
    /// the `io::Error` is unwrapped, anything else becomes [`Error::Io`] unchanged.
    pub(crate) fn stream(op: &'static str, path: &str, source: io::Error) -> Error {
        if source.get_ref().is_some_and(|inner| inner.is::<Error>()) {
            // `into_inner` is `Some` because `get_ref` was; the downcast succeeds because `is`
            // did. The fallbacks only keep the code panic-free.
            return match source.into_inner().map(|inner| inner.downcast::<Error>()) {
                Some(Ok(error)) => *error,
                Some(Err(other)) => Error::Io { op, path: path.to_owned(), source: io::Error::other(other) },
                None => Error::Io { op, path: path.to_owned(), source: io::Error::other("unknown error") },
            };
        }
        Error::Io { op, path: path.to_owned(), source }
    }
}

/// Lets sinks and readers, which speak `io::Error`, report a target error; it comes back
/// out of [`TargetWriter::commit`] and the reader conveniences as the original `Error`.
impl From<Error> for io::Error {
    fn from(error: Error) -> io::Error {
        let kind = match &error {
            Error::Io { source, .. } => source.kind(),
            Error::FileAlreadyExists { .. } => io::ErrorKind::AlreadyExists,
            Error::NotADirectory { .. } => io::ErrorKind::NotADirectory,
            Error::IsADirectory { .. } => io::ErrorKind::IsADirectory,
            Error::NotFound { .. } => io::ErrorKind::NotFound,
            Error::Unsupported { .. } => io::ErrorKind::Unsupported,
            Error::MissingParentDirectory { .. } => io::ErrorKind::NotFound,
            Error::Format(_) | Error::InvalidPath { .. } => io::ErrorKind::InvalidInput,
            Error::Backend { .. } => io::ErrorKind::Other,
        };
        io::Error::new(kind, error)
    }
}

/// Something a task produces; it either exists or not (Luigi's `Target`).
pub trait Target: Send + Sync + 'static {
    /// Whether the target exists. A task is complete when all its outputs exist.
    fn exists(&self) -> Result<bool, Error>;

    /// A one-line description for tools such as `luigi deps` (`[FileSystem] /path`).
    fn describe(&self) -> String {
        "to be determined".to_owned()
    }

    /// The target as `Any`, to downcast to its concrete type.
    fn as_any(&self) -> &dyn Any;
}

impl<T: Target + ?Sized> Target for Box<T> {
    fn exists(&self) -> Result<bool, Error> {
        (**self).exists()
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
    fn as_any(&self) -> &dyn Any {
        (**self).as_any()
    }
}

/// Operations on the paths of one storage system (Luigi's `FileSystem`).
///
/// Only [`exists`](FileSystem::exists) and [`remove`](FileSystem::remove) are required, as in
/// Luigi; the other operations default to [`Error::Unsupported`]. Implementations must be
/// cheap to share: targets hand out `&dyn FileSystem`, and workers call it from many threads.
pub trait FileSystem: Send + Sync {
    /// A short name for messages, such as `LocalFileSystem`.
    fn name(&self) -> &'static str;

    /// Whether a file or directory exists at `path`.
    fn exists(&self, path: &str) -> Result<bool, Error>;

    /// Removes the file or directory at `path`. A directory needs `recursive`, which removes
    /// everything under it. `skip_trash` matters to file systems with a trash (HDFS).
    fn remove(&self, path: &str, recursive: bool, skip_trash: bool) -> Result<(), Error>;

    /// Creates the directory `path`: with `parents`, missing parents too; an existing
    /// directory is an error only with `raise_if_exists`
    /// ([`FileAlreadyExists`](Error::FileAlreadyExists)); an existing file is
    /// [`NotADirectory`](Error::NotADirectory); a missing parent without `parents` is
    /// [`MissingParentDirectory`](Error::MissingParentDirectory).
    fn mkdir(&self, path: &str, parents: bool, raise_if_exists: bool) -> Result<(), Error> {
        let _ = (path, parents, raise_if_exists);
        Err(Error::Unsupported { op: "mkdir", fs: self.name() })
    }

    /// Whether `path` is a directory.
    fn isdir(&self, path: &str) -> Result<bool, Error> {
        let _ = path;
        Err(Error::Unsupported { op: "isdir", fs: self.name() })
    }

    /// Every file under `path`, recursively, as full paths (directories themselves are not
    /// listed).
    fn listdir(&self, path: &str) -> Result<Vec<String>, Error> {
        let _ = path;
        Err(Error::Unsupported { op: "listdir", fs: self.name() })
    }

    /// Moves `path` to `dest`, replacing a file there (Luigi's `move`, also called `rename`).
    #[doc(alias = "move")]
    fn rename(&self, path: &str, dest: &str) -> Result<(), Error> {
        let _ = (path, dest);
        Err(Error::Unsupported { op: "rename", fs: self.name() })
    }

    /// Renames `path` to `dest` but never replaces or moves into an existing `dest`:
    /// [`FileAlreadyExists`](Error::FileAlreadyExists) if it exists. This is how temporary
    /// outputs are put in place.
    ///
    /// The default checks [`exists`](FileSystem::exists) and then calls
    /// [`rename`](FileSystem::rename), which is not atomic (a concurrent writer can slip in
    /// between); file systems that can do better override it.
    fn rename_dont_move(&self, path: &str, dest: &str) -> Result<(), Error> {
        tracing::debug!(fs = self.name(), "file system has no atomic rename; checking the destination first");
        if self.exists(dest)? {
            return Err(Error::FileAlreadyExists { path: dest.to_owned() });
        }
        self.rename(path, dest)
    }

    /// Copies the file `path` to `dest`.
    fn copy(&self, path: &str, dest: &str) -> Result<(), Error> {
        let _ = (path, dest);
        Err(Error::Unsupported { op: "copy", fs: self.name() })
    }
}

/// A target with a path on a [`FileSystem`] (Luigi's `FileSystemTarget`).
///
/// Implementors also implement [`Target`]; `exists` usually delegates to
/// `self.fs().exists(self.path())` and `describe` returns `[FileSystem] <path>`, which is
/// what `luigi deps` prints for file targets.
pub trait FileSystemTarget: Target {
    /// The path, as given.
    fn path(&self) -> &str;

    /// The file system the path lives on.
    fn fs(&self) -> &dyn FileSystem;

    /// Opens the target for reading, through its format.
    fn open_read(&self) -> Result<TargetReader, Error>;

    /// Opens the target for writing, through its format. Nothing is visible under the path
    /// until [`TargetWriter::commit`]; dropping the writer discards what was written.
    fn open_write(&self) -> Result<TargetWriter, Error>;

    /// Removes the target (recursively, if it is a directory).
    fn remove(&self) -> Result<(), Error> {
        self.fs().remove(self.path(), true, true)
    }

    /// A temporary path to produce this target at, for programs that write files
    /// themselves (Luigi's `temporary_path()`).
    ///
    /// The path is `<path without trailing slash>-luigi-tmp-<10 digits><trailing slash>`; its
    /// parent directory is created now. [`TemporaryPath::commit`] renames it into place with
    /// [`FileSystem::rename_dont_move`]; dropping the guard without committing leaves the
    /// temporary path alone, as Luigi does on an exception.
    fn temporary_path(&self) -> Result<TemporaryPath<'_>, Error> {
        TemporaryPath::new(self.fs(), self.path())
    }

    /// Runs `f` with a [temporary path](FileSystemTarget::temporary_path) and, if it
    /// succeeds, renames the result into place.
    ///
    /// ```
    /// use luigi_core::target::{FileSystemTarget, LocalTarget, Target};
    /// # fn main() -> Result<(), luigi_core::BoxError> {
    /// # let dir = tempfile::tempdir()?;
    /// let target = LocalTarget::new(dir.path().join("out/data.txt"));
    /// target.with_temporary_path(|tmp| -> Result<(), luigi_core::BoxError> {
    ///     std::fs::write(tmp, "produced by some program\n")?;
    ///     Ok(())
    /// })?;
    /// assert!(target.exists()?);
    /// # Ok(()) }
    /// ```
    fn with_temporary_path<T, E, F>(&self, f: F) -> Result<T, E>
    where
        Self: Sized,
        F: FnOnce(&str) -> Result<T, E>,
        E: From<Error>,
    {
        let tmp = self.temporary_path()?;
        let value = f(tmp.path())?;
        tmp.commit()?;
        Ok(value)
    }
}

impl<T: FileSystemTarget + ?Sized> FileSystemTarget for Box<T> {
    fn path(&self) -> &str {
        (**self).path()
    }
    fn fs(&self) -> &dyn FileSystem {
        (**self).fs()
    }
    fn open_read(&self) -> Result<TargetReader, Error> {
        (**self).open_read()
    }
    fn open_write(&self) -> Result<TargetWriter, Error> {
        (**self).open_write()
    }
    fn remove(&self) -> Result<(), Error> {
        (**self).remove()
    }
    fn temporary_path(&self) -> Result<TemporaryPath<'_>, Error> {
        (**self).temporary_path()
    }
}

/// A temporary path beside a target, renamed into place on [`commit`](TemporaryPath::commit).
///
/// Made by [`FileSystemTarget::temporary_path`].
#[derive(Debug)]
#[must_use = "the temporary path is only moved into place by commit()"]
pub struct TemporaryPath<'a> {
    fs: &'a dyn FileSystem,
    tmp: String,
    dest: &'a str,
}

impl std::fmt::Debug for dyn FileSystem + '_ {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl<'a> TemporaryPath<'a> {
    /// A temporary path for `dest` on `fs`, creating its parent directory.
    pub fn new(fs: &'a dyn FileSystem, dest: &'a str) -> Result<TemporaryPath<'a>, Error> {
        let slashless = dest.trim_end_matches('/').trim_end_matches('\\');
        let trailing = match dest.as_bytes().last() {
            Some(b'/') => "/",
            Some(b'\\') => "\\",
            _ => "",
        };
        let num = fastrand::u64(0..10_000_000_000);
        let tmp = format!("{slashless}-luigi-tmp-{num:010}{trailing}");
        let parent = posix_dirname(slashless);
        if !parent.is_empty() {
            fs.mkdir(parent, true, false)?;
        }
        Ok(TemporaryPath { fs, tmp, dest })
    }

    /// The temporary path to write to.
    pub fn path(&self) -> &str {
        &self.tmp
    }

    /// The final path.
    pub fn dest(&self) -> &str {
        self.dest
    }

    /// Renames the temporary path to the final path; fails with
    /// [`FileAlreadyExists`](Error::FileAlreadyExists) if the final path exists by now.
    pub fn commit(self) -> Result<(), Error> {
        self.fs.rename_dont_move(&self.tmp, self.dest)
    }
}

impl AsRef<str> for TemporaryPath<'_> {
    fn as_ref(&self) -> &str {
        &self.tmp
    }
}

impl AsRef<std::path::Path> for TemporaryPath<'_> {
    fn as_ref(&self) -> &std::path::Path {
        std::path::Path::new(&self.tmp)
    }
}

/// The directory part of a `/`-separated path, as Python's `os.path.dirname` on POSIX:
/// everything before the last `/`, without trailing slashes unless it is all slashes.
pub(crate) fn posix_dirname(path: &str) -> &str {
    match path.rfind('/') {
        None => "",
        Some(idx) => {
            let head = &path[..=idx];
            let trimmed = head.trim_end_matches('/');
            if trimmed.is_empty() { head } else { trimmed }
        }
    }
}

/// Whether a path has glob characters, which make "exists" a questionable completeness test.
pub(crate) fn warn_if_wildcards(path: &str) {
    if path.contains(['*', '?', '[', '{']) {
        tracing::warn!(
            path,
            "using wildcards in a target path might lead to processing of an incomplete dataset; \
             override exists() to suppress this warning"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dirname_matches_python() {
        // Expected values from Python's posixpath.dirname.
        for (path, expected) in [
            ("", ""),
            ("a", ""),
            ("a/b", "a"),
            ("a//b", "a"),
            ("/a", "/"),
            ("//a", "//"),
            ("/a/b/c", "/a/b"),
            ("s3://bucket/key", "s3://bucket"),
            ("s3://bucket", "s3:"),
            ("a/b/", "a/b"),
        ] {
            assert_eq!(posix_dirname(path), expected, "dirname({path:?})");
        }
    }

    #[test]
    fn io_errors_map_to_variants() {
        let e = Error::io("open", "/x", io::Error::from(io::ErrorKind::NotFound));
        assert!(matches!(e, Error::NotFound { ref path } if path == "/x"), "{e:?}");
        let e = Error::io("open", "/x", io::Error::from(io::ErrorKind::AlreadyExists));
        assert!(matches!(e, Error::FileAlreadyExists { .. }), "{e:?}");
        let e = Error::io("open", "/x", io::Error::from(io::ErrorKind::PermissionDenied));
        assert!(matches!(e, Error::Io { op: "open", .. }), "{e:?}");
        assert!(e.to_string().starts_with("open /x: "), "{e}");
    }

    #[test]
    fn target_errors_survive_a_trip_through_io_error() {
        let original = Error::backend("upload s3://b/k", "access denied");
        let wrapped: io::Error = original.into();
        assert_eq!(wrapped.kind(), io::ErrorKind::Other);
        let back = Error::stream("commit", "s3://b/k", wrapped);
        assert!(matches!(back, Error::Backend { ref context, .. } if context == "upload s3://b/k"), "{back:?}");
        assert_eq!(back.to_string(), "upload s3://b/k: access denied");

        let wrapped: io::Error = Error::NotFound { path: "p".into() }.into();
        assert_eq!(wrapped.kind(), io::ErrorKind::NotFound);
        assert!(matches!(Error::io("read", "q", wrapped), Error::NotFound { ref path } if path == "p"));
    }

    struct Minimal;

    impl FileSystem for Minimal {
        fn name(&self) -> &'static str {
            "Minimal"
        }
        fn exists(&self, path: &str) -> Result<bool, Error> {
            Ok(path == "there")
        }
        fn remove(&self, _path: &str, _recursive: bool, _skip_trash: bool) -> Result<(), Error> {
            Ok(())
        }
    }

    #[test]
    fn optional_operations_are_unsupported_by_default() {
        let fs: &dyn FileSystem = &Minimal;
        let check = |res: Result<(), Error>, op: &str| match res {
            Err(Error::Unsupported { op: got, fs: "Minimal" }) => assert_eq!(got, op),
            other => panic!("{op}: {other:?}"),
        };
        check(fs.mkdir("d", true, false), "mkdir");
        check(fs.isdir("d").map(drop), "isdir");
        check(fs.listdir("d").map(drop), "listdir");
        check(fs.rename("a", "b"), "rename");
        check(fs.copy("a", "b"), "copy");
        // The default rename_dont_move checks the destination, then falls back to rename.
        assert!(
            matches!(fs.rename_dont_move("a", "there"), Err(Error::FileAlreadyExists { ref path }) if path == "there")
        );
        check(fs.rename_dont_move("a", "elsewhere"), "rename");
        assert_eq!(Error::Unsupported { op: "mkdir", fs: "Minimal" }.to_string(), "mkdir is not supported by Minimal");
    }

    #[test]
    fn temporary_path_names_follow_luigi() {
        let fs = MockFileSystem::isolated();
        for (dest, prefix, suffix) in [
            ("dir/file.txt", "dir/file.txt-luigi-tmp-", ""),
            ("dir/out/", "dir/out-luigi-tmp-", "/"),
            ("s3://b/k\\", "s3://b/k-luigi-tmp-", "\\"),
            ("plain", "plain-luigi-tmp-", ""),
        ] {
            let tmp = TemporaryPath::new(&fs, dest).unwrap();
            let path = tmp.path();
            assert!(path.starts_with(prefix) && path.ends_with(suffix), "{path}");
            let digits = &path[prefix.len()..path.len() - suffix.len()];
            assert_eq!(digits.len(), 10, "{path}");
            assert!(digits.bytes().all(|b| b.is_ascii_digit()), "{path}");
            assert_eq!(tmp.dest(), dest);
        }
    }
}
