//! Local files: [`LocalTarget`] and [`LocalFileSystem`] (Luigi's `luigi.local_target`).
//!
//! A write goes to `<path>-luigi-tmp-<random>` in the destination's own directory and is
//! renamed over the destination on commit. Rename within one file system is atomic, so a
//! reader sees either the old file, or nothing, or the complete new one, and a writer killed
//! mid-way (even by `kill -9`) leaves at worst a stray temporary file, never a partial
//! output under the final name. On Linux, where the file system allows it, the data goes
//! instead into a file with no name in that directory (`O_TMPFILE`), linked in under the
//! destination's name on commit: just as atomic, a killed writer leaves nothing at all, and the
//! directory, which holds a million outputs in the largest benchmarks, gets one insertion per
//! file instead of a create and a rename. Nothing is `fsync`ed unless asked
//! ([`LocalTarget::with_fsync`]): see [`AtomicTempFile`] for the measurements behind that.
//!
//! Beyond Luigi: [`LocalFileSystem::copy_to`] is atomic too (copy to a temporary name, then
//! rename), and [`FileSystem::rename_dont_move`] is race-free for files (a hard link fails if
//! the destination appeared meanwhile). Where Luigi's `mkdir(parents=False)` computes the
//! parent with `os.path.dirname`, which is empty for a bare name and keeps a trailing slash,
//! this module uses the real parent directory.

use std::fmt;
use std::fs;
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::stream::{create_parent_dirs, parent_dir, random_suffix, rename_error};
use super::{AtomicTempFile, Error, FileSystem, FileSystemTarget, Target, TargetReader, TargetWriter};
use crate::format::{self, Format};

/// The local file system (Luigi's `LocalFileSystem`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LocalFileSystem;

/// The instance every [`LocalTarget`] hands out from [`FileSystemTarget::fs`].
static LOCAL_FS: LocalFileSystem = LocalFileSystem;

fn lossy(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

impl LocalFileSystem {
    /// Moves `old` to `new`, replacing a file at `new` (Luigi's `LocalFileSystem.move`).
    ///
    /// Missing parents of `new` are created. With `raise_if_exists`, an existing `new` is
    /// [`FileAlreadyExists`](Error::FileAlreadyExists). Across file systems, where rename is
    /// impossible, the file is copied to `<new>-<random>`, renamed over `new`, and `old` is
    /// deleted (directories are copied recursively); that is no longer atomic for the source.
    pub fn move_to(&self, old: &str, new: &str, raise_if_exists: bool) -> Result<(), Error> {
        let (old_path, new_path) = (Path::new(old), Path::new(new));
        if raise_if_exists && exists(new_path)? {
            return Err(Error::FileAlreadyExists { path: new.to_owned() });
        }
        create_parent_dirs(new_path)?;
        match fs::rename(old_path, new_path) {
            Ok(()) => Ok(()),
            Err(err) if err.kind() == io::ErrorKind::CrossesDevices => move_across_devices(old_path, new_path),
            Err(err) if err.kind() == io::ErrorKind::NotFound && !exists(old_path)? => {
                Err(Error::NotFound { path: old.to_owned() })
            }
            Err(err) => Err(rename_error(old_path, new_path, err)),
        }
    }

    /// Copies the file `old` to `new` (Luigi's `LocalFileSystem.copy`), creating missing
    /// parents of `new`. With `raise_if_exists`, an existing `new` is
    /// [`FileAlreadyExists`](Error::FileAlreadyExists). The copy is written to a temporary
    /// name and renamed into place, so nobody sees a half-copied file.
    pub fn copy_to(&self, old: &str, new: &str, raise_if_exists: bool) -> Result<(), Error> {
        let (old_path, new_path) = (Path::new(old), Path::new(new));
        if raise_if_exists && exists(new_path)? {
            return Err(Error::FileAlreadyExists { path: new.to_owned() });
        }
        let meta = fs::metadata(old_path).map_err(|err| Error::io("copy", old, err))?;
        if meta.is_dir() {
            return Err(Error::IsADirectory { path: old.to_owned() });
        }
        create_parent_dirs(new_path)?;
        copy_then_rename(old_path, new_path, "-luigi-tmp-")
    }
}

fn exists(path: &Path) -> Result<bool, Error> {
    path.try_exists().map_err(|err| Error::io("check existence of", &path.to_string_lossy(), err))
}

/// Copies `from` to `<to><infix><random>`, then renames that over `to`.
fn copy_then_rename(from: &Path, to: &Path, infix: &str) -> Result<(), Error> {
    let mut tmp = to.as_os_str().to_owned();
    tmp.push(format!("{infix}{:09}", random_suffix()));
    let tmp = PathBuf::from(tmp);
    let copied = if fs::symlink_metadata(from).map(|m| m.is_dir()).unwrap_or(false) {
        copy_dir_all(from, &tmp)
    } else {
        fs::copy(from, &tmp).map(drop).map_err(|err| Error::io("copy", &lossy(from), err))
    };
    let renamed = copied.and_then(|()| fs::rename(&tmp, to).map_err(|err| rename_error(&tmp, to, err)));
    if renamed.is_err() {
        // Best effort; the original error is the one worth reporting.
        let _ = fs::remove_dir_all(&tmp).or_else(|_| fs::remove_file(&tmp));
    }
    renamed
}

fn copy_dir_all(from: &Path, to: &Path) -> Result<(), Error> {
    fs::create_dir(to).map_err(|err| Error::io("create directory", &lossy(to), err))?;
    for entry in fs::read_dir(from).map_err(|err| Error::io("list", &lossy(from), err))? {
        let entry = entry.map_err(|err| Error::io("list", &lossy(from), err))?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type().map_err(|err| Error::io("stat", &lossy(&src), err))?;
        if kind.is_dir() {
            copy_dir_all(&src, &dst)?;
        } else {
            fs::copy(&src, &dst).map_err(|err| Error::io("copy", &lossy(&src), err))?;
        }
    }
    Ok(())
}

fn move_across_devices(old: &Path, new: &Path) -> Result<(), Error> {
    // Luigi's name for the intermediate copy: `<new>-<random>`.
    copy_then_rename(old, new, "-")?;
    let is_dir = fs::symlink_metadata(old).map(|m| m.is_dir()).unwrap_or(false);
    let removed = if is_dir { fs::remove_dir_all(old) } else { fs::remove_file(old) };
    removed.map_err(|err| Error::io("remove moved source", &lossy(old), err))
}

fn walk(dir: &Path, out: &mut Vec<String>) -> Result<(), Error> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        // Like os.walk, a path that vanished or is not a directory has no files.
        Err(err) if matches!(err.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory) => return Ok(()),
        Err(err) => return Err(Error::io("list", &lossy(dir), err)),
    };
    for entry in entries {
        let entry = entry.map_err(|err| Error::io("list", &lossy(dir), err))?;
        let path = entry.path();
        // `metadata` follows symbolic links, as os.walk's directory test does; a broken
        // link is listed as a file, which is what os.walk does too.
        let is_dir = fs::metadata(&path).map(|m| m.is_dir()).unwrap_or(false);
        if is_dir {
            let is_link = entry.file_type().map(|t| t.is_symlink()).unwrap_or(false);
            // os.walk does not descend into linked directories by default.
            if !is_link {
                walk(&path, out)?;
            }
        } else {
            out.push(lossy(&path));
        }
    }
    Ok(())
}

impl FileSystem for LocalFileSystem {
    fn name(&self) -> &'static str {
        "LocalFileSystem"
    }

    fn exists(&self, path: &str) -> Result<bool, Error> {
        exists(Path::new(path))
    }

    /// Removes a file, or with `recursive` a directory and everything in it. A symbolic
    /// link is removed itself, never what it points to. `skip_trash` has no meaning here.
    fn remove(&self, path: &str, recursive: bool, _skip_trash: bool) -> Result<(), Error> {
        let p = Path::new(path);
        let meta = fs::symlink_metadata(p).map_err(|err| Error::io("remove", path, err))?;
        if meta.is_dir() {
            if !recursive {
                return Err(Error::IsADirectory { path: path.to_owned() });
            }
            fs::remove_dir_all(p).map_err(|err| Error::io("remove", path, err))
        } else {
            fs::remove_file(p).map_err(|err| Error::io("remove", path, err))
        }
    }

    fn mkdir(&self, path: &str, parents: bool, raise_if_exists: bool) -> Result<(), Error> {
        let p = Path::new(path);
        if exists(p)? {
            if raise_if_exists {
                return Err(Error::FileAlreadyExists { path: path.to_owned() });
            }
            if !p.is_dir() {
                return Err(Error::NotADirectory { path: path.to_owned() });
            }
            return Ok(());
        }
        if parents {
            // create_dir_all tolerates a concurrent creator, as Luigi does for EEXIST.
            return fs::create_dir_all(p).map_err(|err| Error::io("create directory", path, err));
        }
        let parent = parent_dir(p);
        if !exists(parent)? {
            return Err(Error::MissingParentDirectory { path: path.to_owned() });
        }
        fs::create_dir(p).map_err(|err| match err.kind() {
            io::ErrorKind::NotADirectory => Error::NotADirectory { path: lossy(parent) },
            _ => Error::io("create directory", path, err),
        })
    }

    fn isdir(&self, path: &str) -> Result<bool, Error> {
        Ok(Path::new(path).is_dir())
    }

    /// Every file under `path`, recursively, sorted. A missing path or a file has no
    /// files under it, as with Luigi's `os.walk`.
    fn listdir(&self, path: &str) -> Result<Vec<String>, Error> {
        let mut out = Vec::new();
        walk(Path::new(path), &mut out)?;
        out.sort_unstable();
        Ok(out)
    }

    fn rename(&self, path: &str, dest: &str) -> Result<(), Error> {
        self.move_to(path, dest, false)
    }

    /// Renames without replacing. For a file this is a hard link (which fails if `dest`
    /// exists, atomically) followed by removing `path`; directories, and file systems
    /// without hard links, fall back to check-then-rename as Luigi does.
    fn rename_dont_move(&self, path: &str, dest: &str) -> Result<(), Error> {
        let (from, to) = (Path::new(path), Path::new(dest));
        let is_file = fs::symlink_metadata(from).map(|m| m.is_file()).unwrap_or(false);
        if is_file {
            create_parent_dirs(to)?;
            match fs::hard_link(from, to) {
                Ok(()) => return fs::remove_file(from).map_err(|err| Error::io("remove", path, err)),
                Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {
                    return Err(Error::FileAlreadyExists { path: dest.to_owned() });
                }
                // Cross-device, unsupported or forbidden hard links: fall back.
                Err(_) => {}
            }
        }
        self.move_to(path, dest, true)
    }

    fn copy(&self, path: &str, dest: &str) -> Result<(), Error> {
        self.copy_to(path, dest, false)
    }
}

/// Deletes a temporary target's file when the last handle to it goes away.
#[derive(Debug)]
struct TmpGuard {
    path: String,
}

impl Drop for TmpGuard {
    fn drop(&mut self) {
        // Best effort, as Luigi's __del__: nobody is left to report an error to.
        if Path::new(&self.path).exists() {
            let _ = LOCAL_FS.remove(&self.path, true, true);
        }
    }
}

/// A file on the local file system (Luigi's `LocalTarget`).
///
/// Cheap to clone; clones share the format and, for [temporary](LocalTarget::tmp) targets,
/// the file's lifetime.
///
/// ```
/// use std::io::Write;
/// use luigi_core::format::{Gzip, Text};
/// use luigi_core::target::{FileSystemTarget, LocalTarget, Target};
/// # fn main() -> Result<(), luigi_core::BoxError> {
/// # let dir = tempfile::tempdir()?;
/// let target = LocalTarget::new(dir.path().join("data.txt.gz")).with_format(Text >> Gzip);
/// let mut out = target.open_write()?;
/// out.write_all("über\n".as_bytes())?;
/// out.commit()?;
/// assert_eq!(target.describe(), format!("[FileSystem] {}", target.path()));
/// assert_eq!(target.open_read()?.read_to_string()?, "über\n");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct LocalTarget {
    path: String,
    format: Arc<dyn Format>,
    tmp: Option<Arc<TmpGuard>>,
    fsync: bool,
}

impl LocalTarget {
    /// A target at `path`, with the default [`Text`](crate::format::Text) format. A path
    /// that is not valid Unicode is converted lossily.
    pub fn new(path: impl AsRef<Path>) -> LocalTarget {
        let path = path.as_ref().to_string_lossy().into_owned();
        LocalTarget { path, format: format::default_format(), tmp: None, fsync: false }
    }

    /// A temporary target `<system temp dir>/luigi-tmp-<9 digits>` (Luigi's `is_tmp=True`
    /// without a path), deleted when the last clone of it is dropped.
    pub fn tmp() -> LocalTarget {
        let name = format!("luigi-tmp-{:09}", fastrand::u32(0..1_000_000_000));
        LocalTarget::new(std::env::temp_dir().join(name)).with_tmp(true)
    }

    /// Makes this a temporary target, deleted (recursively) when the last clone is dropped,
    /// or an ordinary one again.
    pub fn with_tmp(mut self, is_tmp: bool) -> LocalTarget {
        self.tmp = is_tmp.then(|| Arc::new(TmpGuard { path: self.path.clone() }));
        self
    }

    /// Reads and writes through `format` instead of [`Text`](crate::format::Text).
    pub fn with_format(mut self, format: impl Format) -> LocalTarget {
        self.format = Arc::new(format);
        self
    }

    /// Whether commits `fsync` the file and its directory, so a committed output survives a
    /// power loss (off by default; it costs about a millisecond per file).
    pub fn with_fsync(mut self, fsync: bool) -> LocalTarget {
        self.fsync = fsync;
        self
    }

    /// The format reads and writes go through.
    pub fn format(&self) -> &dyn Format {
        &*self.format
    }

    /// Whether the file is deleted when the last clone of this target is dropped.
    pub fn is_tmp(&self) -> bool {
        self.tmp.is_some()
    }

    /// The path as a [`Path`].
    pub fn as_path(&self) -> &Path {
        Path::new(&self.path)
    }

    /// Creates the parent directories of the path.
    pub fn makedirs(&self) -> Result<(), Error> {
        create_parent_dirs(self.as_path())
    }

    /// Moves the file to `new_path` (Luigi's `LocalTarget.move`); see
    /// [`LocalFileSystem::move_to`]. This target keeps its old path.
    pub fn move_to(&self, new_path: impl AsRef<Path>, raise_if_exists: bool) -> Result<(), Error> {
        LOCAL_FS.move_to(&self.path, &new_path.as_ref().to_string_lossy(), raise_if_exists)
    }

    /// Moves a directory target to `new_path` (Luigi's `move_dir`).
    pub fn move_dir(&self, new_path: impl AsRef<Path>) -> Result<(), Error> {
        self.move_to(new_path, false)
    }

    /// Copies the file to `new_path`; see [`LocalFileSystem::copy_to`].
    pub fn copy_to(&self, new_path: impl AsRef<Path>, raise_if_exists: bool) -> Result<(), Error> {
        LOCAL_FS.copy_to(&self.path, &new_path.as_ref().to_string_lossy(), raise_if_exists)
    }
}

impl Target for LocalTarget {
    fn exists(&self) -> Result<bool, Error> {
        super::warn_if_wildcards(&self.path);
        exists(self.as_path())
    }

    fn describe(&self) -> String {
        format!("[FileSystem] {}", self.path)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

impl FileSystemTarget for LocalTarget {
    fn path(&self) -> &str {
        &self.path
    }

    fn fs(&self) -> &dyn FileSystem {
        &LOCAL_FS
    }

    fn open_read(&self) -> Result<TargetReader, Error> {
        let file = fs::File::open(self.as_path()).map_err(|err| Error::io("open", &self.path, err))?;
        // Opening a directory succeeds on Unix; say what is wrong now rather than at the
        // first read.
        if file.metadata().is_ok_and(|m| m.is_dir()) {
            return Err(Error::IsADirectory { path: self.path.clone() });
        }
        let source = self.format.pipe_reader(Box::new(BufReader::new(file)))?;
        Ok(TargetReader::new(source, self.path.clone()))
    }

    fn open_write(&self) -> Result<TargetWriter, Error> {
        let sink = AtomicTempFile::replacing(&self.path)?.with_sync(self.fsync);
        let sink = self.format.pipe_writer(Box::new(sink))?;
        Ok(TargetWriter::new(sink, self.path.clone()))
    }

    fn remove(&self) -> Result<(), Error> {
        LOCAL_FS.remove(&self.path, true, true)
    }
}

impl fmt::Debug for LocalTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalTarget")
            .field("path", &self.path)
            .field("format", &self.format)
            .field("is_tmp", &self.is_tmp())
            .finish()
    }
}

/// Prints the path, as Luigi's `str(target)`.
impl fmt::Display for LocalTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_then_rename_copies_directories() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        fs::create_dir_all(src.join("a/b")).unwrap();
        fs::write(src.join("top"), "1").unwrap();
        fs::write(src.join("a/b/deep"), "2").unwrap();
        let dst = dir.path().join("dst");
        copy_then_rename(&src, &dst, "-luigi-tmp-").unwrap();
        assert_eq!(fs::read(dst.join("top")).unwrap(), b"1");
        assert_eq!(fs::read(dst.join("a/b/deep")).unwrap(), b"2");
        // The fallback used across devices also deletes the source.
        move_across_devices(&src, &dir.path().join("moved")).unwrap();
        assert!(!src.exists());
        assert_eq!(fs::read(dir.path().join("moved/a/b/deep")).unwrap(), b"2");
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 2, "temporary copies left behind: {names:?}");
    }

    #[test]
    fn copy_then_rename_cleans_up_on_failure() {
        let dir = tempfile::tempdir().unwrap();
        let err = copy_then_rename(&dir.path().join("missing"), &dir.path().join("dst"), "-").unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
