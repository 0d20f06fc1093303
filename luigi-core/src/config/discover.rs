//! Where configuration files are found and how they are read: Luigi's search path, parser
//! choice and precedence (inventory §8.1).
//!
//! [`Discovery`] bundles the three things discovery depends on — the system directory
//! (`/etc/luigi`), the working directory and the environment — so that tests can point all
//! three elsewhere instead of touching the real ones. [`Discovery::load`] then does what
//! importing `luigi.configuration` does:
//!
//! 1. the syntax comes from `LUIGI_CONFIG_PARSER` (`cfg` by default; an unknown value is
//!    warned about and means `cfg`);
//! 2. cfg reads `/etc/luigi/client.cfg` (deprecated), `/etc/luigi/luigi.cfg`, `client.cfg`
//!    (deprecated), `luigi.cfg`; TOML reads `/etc/luigi/luigi.toml`, `luigi.toml`;
//! 3. `LUIGI_CONFIG_PATH` is appended when it exists and its extension is not the other
//!    syntax's (that case is warned about and ignored, as Luigi hands the file to the parser
//!    that is not in use);
//! 4. files are read in order, each overriding earlier ones option by option; missing
//!    files are skipped silently.
//!
//! TOML files are parsed with the `toml` crate; the cfg syntax lives in [`super::cfg`].

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Configuration, Data, Error, Syntax, Value, cfg, warn_once};

/// Reads an environment variable: `Some(value)` when set.
pub type EnvLookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Where configuration files are looked for and where environment variables come from.
///
/// [`Discovery::system`] is the real thing; tests build one over temporary directories and
/// a fixed environment:
///
/// ```
/// use luigi_core::config::Discovery;
///
/// let dir = std::env::temp_dir();
/// let discovery = Discovery::system()
///     .with_etc_dir(dir.join("no-such-etc"))
///     .with_cwd(dir.join("no-such-cwd"))
///     .with_env_vars([("LUIGI_CONFIG_PARSER", "toml")]);
/// let config = discovery.load().unwrap();
/// assert_eq!(config.syntax(), luigi_core::config::Syntax::Toml);
/// assert!(config.files().is_empty());
/// ```
#[derive(Clone)]
pub struct Discovery {
    etc_dir: PathBuf,
    cwd: Option<PathBuf>,
    env: EnvLookup,
}

impl fmt::Debug for Discovery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Discovery").field("etc_dir", &self.etc_dir).field("cwd", &self.cwd).finish_non_exhaustive()
    }
}

impl Default for Discovery {
    fn default() -> Discovery {
        Discovery::system()
    }
}

impl Discovery {
    /// The real locations: `/etc/luigi`, the process's working directory and environment.
    pub fn system() -> Discovery {
        Discovery {
            etc_dir: PathBuf::from("/etc/luigi"),
            cwd: None,
            // Python decodes undecodable bytes rather than ignoring the variable; a lossy
            // conversion is the nearest equivalent.
            env: Arc::new(|name| std::env::var_os(name).map(|value| value.to_string_lossy().into_owned())),
        }
    }

    /// Looks for system-wide files in `dir` instead of `/etc/luigi`.
    pub fn with_etc_dir(mut self, dir: impl Into<PathBuf>) -> Discovery {
        self.etc_dir = dir.into();
        self
    }

    /// Resolves relative paths (`luigi.cfg`, a relative `LUIGI_CONFIG_PATH`) against `dir`
    /// instead of the process's working directory.
    pub fn with_cwd(mut self, dir: impl Into<PathBuf>) -> Discovery {
        self.cwd = Some(dir.into());
        self
    }

    /// Reads environment variables through `lookup` instead of the process environment.
    pub fn with_env(mut self, lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Discovery {
        self.env = Arc::new(lookup);
        self
    }

    /// Uses exactly these environment variables, and no others.
    pub fn with_env_vars<K, V>(self, vars: impl IntoIterator<Item = (K, V)>) -> Discovery
    where
        K: Into<String>,
        V: Into<String>,
    {
        let vars: std::collections::HashMap<String, String> =
            vars.into_iter().map(|(key, value)| (key.into(), value.into())).collect();
        self.with_env(move |name| vars.get(name).cloned())
    }

    /// The directory of system-wide files.
    pub fn etc_dir(&self) -> &Path {
        &self.etc_dir
    }

    /// The value of environment variable `name`, if set.
    pub fn var(&self, name: &str) -> Option<String> {
        (self.env)(name)
    }

    /// `path` made absolute against the working directory given to
    /// [`with_cwd`](Discovery::with_cwd), or unchanged (the OS then uses the process's).
    pub fn resolve(&self, path: &Path) -> PathBuf {
        match &self.cwd {
            Some(cwd) if path.is_relative() => cwd.join(path),
            _ => path.to_path_buf(),
        }
    }

    /// The syntax `LUIGI_CONFIG_PARSER` selects: `cfg` when unset; an unknown value is
    /// warned about and means `cfg`.
    pub fn syntax(&self) -> Syntax {
        match self.var("LUIGI_CONFIG_PARSER") {
            None => Syntax::Cfg,
            Some(name) => Syntax::from_parser_name(&name).unwrap_or_else(|| {
                tracing::warn!("invalid LUIGI_CONFIG_PARSER {name:?}: expected cfg, conf, ini or toml; using cfg");
                Syntax::Cfg
            }),
        }
    }

    /// The standard files for `syntax`, lowest precedence first (without
    /// `LUIGI_CONFIG_PATH`).
    pub fn standard_paths(&self, syntax: Syntax) -> Vec<PathBuf> {
        match syntax {
            Syntax::Cfg => vec![
                self.etc_dir.join("client.cfg"),
                self.etc_dir.join("luigi.cfg"),
                PathBuf::from("client.cfg"),
                PathBuf::from("luigi.cfg"),
            ],
            Syntax::Toml => vec![self.etc_dir.join("luigi.toml"), PathBuf::from("luigi.toml")],
        }
    }

    /// Finds and reads every configuration file (see the module documentation).
    pub fn load(&self) -> Result<Configuration, Error> {
        let syntax = self.syntax();
        let mut config = Configuration::empty(syntax, self.clone());
        config.search_path = self.standard_paths(syntax);
        if let Some(path) = self.var("LUIGI_CONFIG_PATH") {
            let path = PathBuf::from(path);
            if !self.resolve(&path).is_file() {
                tracing::warn!("config file does not exist: {}", path.display());
            } else if let Some(other) = Syntax::from_extension(&path).filter(|other| *other != syntax) {
                tracing::warn!(
                    "LUIGI_CONFIG_PATH {} is for the {} parser, but the {} parser is in use, so it is ignored; \
                     set LUIGI_CONFIG_PARSER={} to use it",
                    path.display(),
                    other.name(),
                    syntax.name(),
                    other.name()
                );
            } else {
                config.search_path.push(path);
            }
        }
        config.reload()?;
        tracing::info!("Loaded {:?}", config.files);
        Ok(config)
    }

    /// Reads `paths` in order on top of `current` (cfg) or from scratch (TOML), returning
    /// the new data and the files that existed. `current` is not modified, so a failed read
    /// leaves the caller's configuration as it was.
    pub(super) fn read_files(
        &self,
        syntax: Syntax,
        paths: &[PathBuf],
        current: &Data,
    ) -> Result<(Data, Vec<PathBuf>), Error> {
        let mut data = match syntax {
            Syntax::Cfg => current.clone(),
            Syntax::Toml => Data::default(),
        };
        if syntax == Syntax::Cfg {
            let deprecated: Vec<&PathBuf> = paths
                .iter()
                .filter(|path| path.file_name().is_some_and(|name| name == "client.cfg") && self.resolve(path).exists())
                .collect();
            if !deprecated.is_empty() {
                warn_once(format!(
                    "Luigi configuration files named 'client.cfg' are deprecated in favour of 'luigi.cfg'. Found: {deprecated:?}"
                ));
            }
        }
        let mut files = Vec::new();
        for path in paths {
            let resolved = self.resolve(path);
            let Some(text) = read_text(syntax, &resolved)? else { continue };
            parse_into(syntax, &text, &resolved, &mut data)?;
            files.push(path.clone());
        }
        Ok((data, files))
    }
}

/// The text of a configuration file, or `None` when it is to be skipped.
///
/// Missing files and directories are skipped silently in both syntaxes. Luigi's cfg parser
/// also skips files it cannot open (e.g. for lack of permission), which is warned about
/// here; its TOML parser fails on them.
fn read_text(syntax: Syntax, path: &Path) -> Result<Option<String>, Error> {
    if !path.is_file() {
        return Ok(None);
    }
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(err) if syntax == Syntax::Cfg => {
            tracing::warn!("skipping configuration file {}: {err}", path.display());
            return Ok(None);
        }
        Err(err) => return Err(Error::Io { path: path.to_path_buf(), message: err.to_string() }),
    };
    String::from_utf8(bytes).map(Some).map_err(|err| Error::Io {
        path: path.to_path_buf(),
        message: format!("not valid UTF-8 (byte offset {}); save it as UTF-8", err.utf8_error().valid_up_to()),
    })
}

/// Parses one file's text in `syntax` into `data`, on top of what is there.
pub(super) fn parse_into(syntax: Syntax, text: &str, path: &Path, data: &mut Data) -> Result<(), Error> {
    match syntax {
        Syntax::Cfg => cfg::parse(text, path, data),
        Syntax::Toml => merge_toml(text, path, data),
    }
}

/// Merges a TOML document: every top-level key must be a table (a section), whose keys
/// override earlier files' one by one. Nested tables are values, kept whole.
fn merge_toml(text: &str, path: &Path, data: &mut Data) -> Result<(), Error> {
    let document: toml::Table = text
        .parse()
        .map_err(|err: toml::de::Error| Error::Toml { path: path.to_path_buf(), message: err.to_string() })?;
    // Check the whole document first so a bad file changes nothing.
    if let Some((key, _)) = document.iter().find(|(_, value)| !value.is_table()) {
        return Err(Error::TomlNotTable { path: path.to_path_buf(), key: key.clone() });
    }
    for (section, value) in document {
        let toml::Value::Table(table) = value else { continue };
        let options = data.sections.entry(section).or_default();
        for (name, value) in table {
            options.insert(name, Value::Toml(value));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_sections_merge_key_by_key_and_keep_nested_tables() {
        let mut data = Data::default();
        merge_toml("[a]\nx = 1\ny = { k = 'v' }\n", Path::new("one.toml"), &mut data).unwrap();
        merge_toml("[a]\ny = { other = 2 }\nz = true\n", Path::new("two.toml"), &mut data).unwrap();
        let a = &data.sections["a"];
        assert_eq!(a["x"], Value::Toml(toml::Value::Integer(1)));
        let mut nested = toml::Table::new();
        nested.insert("other".into(), toml::Value::Integer(2));
        assert_eq!(a["y"], Value::Toml(toml::Value::Table(nested)));
        assert_eq!(a["z"], Value::Toml(toml::Value::Boolean(true)));
    }

    #[test]
    fn toml_top_level_values_are_rejected() {
        let mut data = Data::default();
        let err = merge_toml("x = 1\n[a]\ny = 2\n", Path::new("bad.toml"), &mut data).unwrap_err();
        assert_eq!(err, Error::TomlNotTable { path: PathBuf::from("bad.toml"), key: "x".into() });
        assert!(data.sections.is_empty());
    }

    #[test]
    fn toml_syntax_errors_carry_the_position() {
        let mut data = Data::default();
        let err = merge_toml("[a]\nx = \n", Path::new("bad.toml"), &mut data).unwrap_err();
        let Error::Toml { path, message } = err else { panic!("unexpected error {err:?}") };
        assert_eq!(path, PathBuf::from("bad.toml"));
        assert!(message.contains("line 2"), "{message}");
    }

    #[test]
    fn parser_name_selects_the_syntax() {
        let with = |value: &str| Discovery::system().with_env_vars([("LUIGI_CONFIG_PARSER", value)]).syntax();
        assert_eq!(with("toml"), Syntax::Toml);
        assert_eq!(with("cfg"), Syntax::Cfg);
        assert_eq!(with("ini"), Syntax::Cfg);
        assert_eq!(with("conf"), Syntax::Cfg);
        assert_eq!(with("TOML"), Syntax::Cfg);
        assert_eq!(with(""), Syntax::Cfg);
        assert_eq!(Discovery::system().with_env_vars(Vec::<(String, String)>::new()).syntax(), Syntax::Cfg);
    }
}
