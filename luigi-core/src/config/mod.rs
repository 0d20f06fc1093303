//! Configuration files: `luigi.cfg` (ConfigParser syntax) or `luigi.toml`, found, parsed and
//! looked up exactly as Python Luigi 3.8.1 does.
//!
//! [`Configuration`] is the merged content of every file read, in one of two [`Syntax`]es
//! (Luigi runs one parser per process, chosen by `LUIGI_CONFIG_PARSER`). [`Discovery`] says
//! where files are looked for (`/etc/luigi`, the working directory, `LUIGI_CONFIG_PATH`) and
//! where environment variables come from; [`Configuration::load`] uses the real ones, tests
//! inject their own. [`Value`] is what a lookup returns: a string for cfg files, a native
//! TOML value for TOML files, so that parameters can parse each the way Luigi does.
//!
//! The cfg parser ([`cfg`]) mirrors Python's `configparser` with Luigi's settings, and the
//! lookup rules mirror Luigi's `LuigiConfigParser`: `%(name)s` and `${VAR}` are interpolated
//! when a value is read; an option is looked up with underscores first, then with dashes
//! (deprecated, warned about once); `[DEFAULT]` supplies options to every existing section.
//! TOML lookups are plain: no aliasing, no `[DEFAULT]`, no interpolation.
//!
//! A process-wide configuration ([`Configuration::global`]) exists because Luigi's is a
//! singleton that task parameters read deep inside user code. It is loaded lazily; if
//! loading fails, the error is logged and an empty configuration is used, so that library
//! code never has to handle it. The CLI, which must report such errors, calls
//! [`Configuration::load`] itself and installs the result with
//! [`Configuration::set_global`].
//!
//! Deliberately absent: the typed `[core]`, `[worker]` and `[scheduler]` sections, which are
//! `#[derive(Config)]` structs resolved through this API, and logging setup, for which the
//! TOML `[logging]` table is only kept ([`Configuration::logging_table`]).

mod cfg;
mod convert;
mod discover;
pub mod sections;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use indexmap::IndexMap;

pub use discover::{Discovery, EnvLookup};
pub use sections::{Core, RpcSettings, Scheduler, Worker};

/// The section whose options every other cfg section inherits.
pub const DEFAULT_SECTION: &str = "DEFAULT";

/// A configuration error: a file that cannot be read or parsed, a value that cannot be
/// interpolated or converted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration file exists but could not be read.
    #[error("cannot read configuration file {}: {message}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A cfg file has something other than comments before its first `[section]` header.
    #[error(
        "{}, line {line}: {text:?} comes before any [section] header; start the file with a section such as [core]",
        .path.display()
    )]
    MissingSectionHeader {
        /// The file.
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
        /// The offending line.
        text: String,
    },
    /// Lines of a cfg file that are not a `[section]` header, a `name = value` or
    /// `name: value` option with a non-empty name, an indented continuation or a comment.
    #[error(
        "{}: cannot parse {}; expected `[section]`, `name = value`, `name: value`, an indented continuation or a `#`/`;` comment",
        .path.display(),
        describe_lines(lines)
    )]
    Parse {
        /// The file.
        path: PathBuf,
        /// Every bad line: 1-based number and text.
        lines: Vec<(usize, String)>,
    },
    /// A section header repeated within one cfg file.
    #[error("{}, line {line}: section [{section}] appears twice in this file; merge the two", .path.display())]
    DuplicateSection {
        /// The file.
        path: PathBuf,
        /// The 1-based line number of the repetition.
        line: usize,
        /// The section.
        section: String,
    },
    /// An option repeated within one section of one cfg file.
    #[error("{}, line {line}: option {option} appears twice in section [{section}]; keep one", .path.display())]
    DuplicateOption {
        /// The file.
        path: PathBuf,
        /// The 1-based line number of the repetition.
        line: usize,
        /// The section.
        section: String,
        /// The option.
        option: String,
    },
    /// A `luigi.toml` file that is not valid TOML.
    #[error("cannot parse TOML file {}: {message}", .path.display())]
    Toml {
        /// The file.
        path: PathBuf,
        /// The TOML parser's description, with line and column.
        message: String,
    },
    /// A top-level key of a `luigi.toml` file whose value is not a table.
    #[error("{}: top-level key {key} is not a table; every setting belongs in a [section] table", .path.display())]
    TomlNotTable {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
    },
    /// A `%` in a cfg value that is neither `%%` nor `%(name)s`.
    #[error("cannot interpolate [{section}] {option}: {message}; write %% for a literal %")]
    InterpolationSyntax {
        /// The section.
        section: String,
        /// The option.
        option: String,
        /// What is wrong.
        message: String,
    },
    /// A `%(name)s` reference to an option that exists neither in the section nor in
    /// `[DEFAULT]`.
    #[error(
        "[{section}] {option} = {raw:?} refers to %({reference})s, but [{section}] and [DEFAULT] have no option {reference}"
    )]
    InterpolationMissingOption {
        /// The section.
        section: String,
        /// The option.
        option: String,
        /// The missing option's name.
        reference: String,
        /// The raw value.
        raw: String,
    },
    /// `%(name)s` references nested more than 10 levels deep (usually a cycle).
    #[error("[{section}] {option} = {raw:?}: %(name)s references nest more than 10 levels deep; is there a cycle?")]
    InterpolationDepth {
        /// The section.
        section: String,
        /// The option.
        option: String,
        /// The raw value.
        raw: String,
    },
    /// A `${VAR}` reference to an unset environment variable.
    #[error(
        "environment variable {var} referenced in [{section}] {option} = {value:?} is not set; set it or remove the reference"
    )]
    MissingEnvVar {
        /// The section.
        section: String,
        /// The option.
        option: String,
        /// The variable name.
        var: String,
        /// The value after `%(name)s` interpolation.
        value: String,
    },
    /// A value given to [`Configuration::set`] with a `%` that is neither `%%` nor
    /// `%(name)s`.
    #[error("cannot set [{section}] {option} = {value:?}: invalid % at position {position}; write %% for a literal %")]
    InvalidSetValue {
        /// The section.
        section: String,
        /// The option.
        option: String,
        /// The value.
        value: String,
        /// Character position of the bad `%` once `%%` and references are removed, as
        /// Python reports it.
        position: usize,
    },
    /// A value that does not convert to the requested type.
    #[error("[{section}] {option} = {value:?} is not {expected}")]
    InvalidValue {
        /// The section.
        section: String,
        /// The option.
        option: String,
        /// The value as written.
        value: String,
        /// What was expected, e.g. `a boolean (1/yes/true/on or 0/no/false/off)`.
        expected: &'static str,
    },
}

fn describe_lines(lines: &[(usize, String)]) -> String {
    let parts: Vec<String> = lines.iter().map(|(line, text)| format!("line {line} {text:?}")).collect();
    parts.join(", ")
}

/// A shorthand for results with this module's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A configuration value: a string from a cfg file, or a native TOML value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// From `luigi.cfg`. Values returned by lookups are interpolated; stored ones are raw.
    Str(String),
    /// From `luigi.toml`.
    Toml(toml::Value),
}

impl fmt::Display for Value {
    /// The text of a string, or the TOML form of any other value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Str(text) | Value::Toml(toml::Value::String(text)) => f.write_str(text),
            Value::Toml(other) => write!(f, "{other}"),
        }
    }
}

/// Which file format, and with it which lookup rules, a configuration uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Syntax {
    /// `luigi.cfg`: ConfigParser syntax, interpolation, `[DEFAULT]`, dashed aliases.
    #[default]
    Cfg,
    /// `luigi.toml`: native TOML values, plain lookups.
    Toml,
}

impl Syntax {
    /// The syntax a `LUIGI_CONFIG_PARSER` value names: `cfg`, `conf` or `ini` (all Luigi's
    /// ConfigParser), or `toml`. Case-sensitive, as in Luigi.
    pub fn from_parser_name(name: &str) -> Option<Syntax> {
        match name {
            "cfg" | "conf" | "ini" => Some(Syntax::Cfg),
            "toml" => Some(Syntax::Toml),
            _ => None,
        }
    }

    /// The syntax a file's extension names (`.cfg`, `.conf`, `.ini`, `.toml`), if any.
    pub fn from_extension(path: &Path) -> Option<Syntax> {
        path.extension().and_then(|ext| ext.to_str()).and_then(Syntax::from_parser_name)
    }

    /// The parser name Luigi uses: `cfg` or `toml`.
    pub fn name(self) -> &'static str {
        match self {
            Syntax::Cfg => "cfg",
            Syntax::Toml => "toml",
        }
    }
}

/// The options of one section, in file order.
type Options = IndexMap<String, Value>;

/// The parsed content of every file read: `[DEFAULT]` (cfg only) and the named sections.
#[derive(Debug, Clone, Default)]
struct Data {
    defaults: Options,
    sections: IndexMap<String, Options>,
}

/// The merged configuration of every file read.
///
/// Values are stored raw; cfg values are interpolated on every lookup, as Python does, so
/// `${VAR}` sees the environment at lookup time.
#[derive(Debug, Clone)]
pub struct Configuration {
    syntax: Syntax,
    data: Data,
    /// Every file to read on [`reload`](Configuration::reload), in order.
    search_path: Vec<PathBuf>,
    /// The files of `search_path` that existed when last read.
    files: Vec<PathBuf>,
    discovery: Discovery,
}

impl Default for Configuration {
    fn default() -> Configuration {
        Configuration::new()
    }
}

static GLOBAL: RwLock<Option<Arc<Configuration>>> = RwLock::new(None);

/// Deprecation messages already logged, so each is logged once per process, as Python's
/// default warning filter does.
static WARNED: Mutex<Option<HashSet<String>>> = Mutex::new(None);

fn warn_once(message: String) {
    let mut warned = WARNED.lock().unwrap_or_else(|e| e.into_inner());
    if warned.get_or_insert_with(HashSet::new).insert(message.clone()) {
        tracing::warn!("{message}");
    }
}

impl Configuration {
    /// An empty cfg-syntax configuration that reads the process environment and reads no
    /// files.
    pub fn new() -> Configuration {
        Configuration::empty(Syntax::Cfg, Discovery::system())
    }

    /// An empty configuration of `syntax` whose relative paths and `${VAR}` references are
    /// resolved through `discovery`.
    pub fn empty(syntax: Syntax, discovery: Discovery) -> Configuration {
        Configuration { syntax, data: Data::default(), search_path: Vec::new(), files: Vec::new(), discovery }
    }

    /// Finds and reads the configuration files as Luigi does (see [`Discovery`]), with the
    /// real `/etc/luigi`, working directory and environment.
    pub fn load() -> Result<Configuration> {
        Discovery::system().load()
    }

    /// The process-wide configuration: the one installed with [`set_global`], or else the
    /// files found by [`load`] on first use. A load error is logged and an empty
    /// configuration used instead; callers that must see the error call [`load`] and
    /// [`set_global`] themselves.
    ///
    /// [`set_global`]: Configuration::set_global
    /// [`load`]: Configuration::load
    pub fn global() -> Arc<Configuration> {
        if let Some(config) = GLOBAL.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
            return Arc::clone(config);
        }
        let mut slot = GLOBAL.write().unwrap_or_else(|e| e.into_inner());
        let config = slot.get_or_insert_with(|| {
            let discovery = Discovery::system();
            let loaded = discovery.load().unwrap_or_else(|err| {
                tracing::error!("cannot load the configuration, continuing without it: {err}");
                Configuration::empty(discovery.syntax(), discovery.clone())
            });
            Arc::new(loaded)
        });
        Arc::clone(config)
    }

    /// Installs the process-wide configuration.
    pub fn set_global(config: Arc<Configuration>) {
        *GLOBAL.write().unwrap_or_else(|e| e.into_inner()) = Some(config);
    }

    /// A copy of the process-wide configuration ([`global`](Configuration::global)).
    pub fn global_or_default() -> Configuration {
        Configuration::global().as_ref().clone()
    }

    /// The syntax of the files this configuration reads.
    pub fn syntax(&self) -> Syntax {
        self.syntax
    }

    /// Where relative paths and `${VAR}` references are resolved.
    pub fn discovery(&self) -> &Discovery {
        &self.discovery
    }

    /// Every file read on [`reload`](Configuration::reload), in order, whether or not it
    /// exists.
    pub fn search_path(&self) -> &[PathBuf] {
        &self.search_path
    }

    /// The files that existed and were read, in order (Luigi logs these as `Loaded [...]`).
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// Adds a file at runtime, as Luigi's `add_config_path`: the syntax comes from the
    /// extension (`.cfg`, `.conf`, `.ini`, `.toml`; any other means this configuration's
    /// syntax), then every file is read again.
    ///
    /// Returns `Ok(false)`, with a warning, when the file does not exist or has the other
    /// syntax's extension (Luigi hands such a file to the parser that is not in use, so it
    /// is never read). On a read error the configuration is left unchanged.
    pub fn add_config_path(&mut self, path: impl AsRef<Path>) -> Result<bool> {
        let path = path.as_ref();
        if !self.discovery.resolve(path).is_file() {
            tracing::warn!("config file does not exist: {}", path.display());
            return Ok(false);
        }
        if let Some(syntax) = Syntax::from_extension(path)
            && syntax != self.syntax
        {
            tracing::warn!(
                "config file {} is for the {} parser, but the {} parser is in use, so it is ignored; \
                 set LUIGI_CONFIG_PARSER={} to use it",
                path.display(),
                syntax.name(),
                self.syntax.name(),
                syntax.name()
            );
            return Ok(false);
        }
        self.search_path.push(path.to_path_buf());
        if let Err(err) = self.reload() {
            self.search_path.pop();
            return Err(err);
        }
        Ok(true)
    }

    /// Reads every file of the search path again, as Luigi's `reload`.
    ///
    /// As in Luigi, cfg files are read on top of the current values (so values from
    /// [`set`](Configuration::set) survive unless a file sets them), while TOML files replace
    /// everything. On error the configuration is left unchanged.
    pub fn reload(&mut self) -> Result<()> {
        let (data, files) = self.discovery.read_files(self.syntax, &self.search_path, &self.data)?;
        self.data = data;
        self.files = files;
        Ok(())
    }

    /// Parses `text` as if it were the content of a file named `origin` read after all
    /// others. The text is not remembered: [`reload`](Configuration::reload) does not read it
    /// again.
    pub fn read_str(&mut self, text: &str, origin: &Path) -> Result<()> {
        let mut data = self.data.clone();
        discover::parse_into(self.syntax, text, origin, &mut data)?;
        self.data = data;
        Ok(())
    }

    /// The named sections, in the order first seen (`[DEFAULT]` is not one of them).
    pub fn sections(&self) -> impl Iterator<Item = &str> + '_ {
        self.data.sections.keys().map(String::as_str)
    }

    /// Whether the named section exists (`[DEFAULT]` never counts, as in ConfigParser).
    pub fn has_section(&self, section: &str) -> bool {
        self.data.sections.contains_key(section)
    }

    /// Whether `[section] option` has a value, with the same rules as
    /// [`get`](Configuration::get).
    pub fn has_option(&self, section: &str, option: &str) -> bool {
        match self.syntax {
            Syntax::Toml => self.data.sections.get(section).is_some_and(|options| options.contains_key(option)),
            Syntax::Cfg => self.cfg_lookup(section, option).is_some(),
        }
    }

    /// The value of `[section] option`, or `None` when it is not set.
    ///
    /// For cfg files, as Luigi: the name with dashes replaced by underscores is tried first,
    /// then with underscores replaced by dashes (logging a deprecation warning); an existing
    /// section inherits `[DEFAULT]`'s options; the value is interpolated (`%(name)s`, then
    /// `${VAR}`). For TOML files the value is returned as stored.
    pub fn get(&self, section: &str, option: &str) -> Result<Option<Value>> {
        match self.syntax {
            Syntax::Toml => Ok(self.data.sections.get(section).and_then(|options| options.get(option)).cloned()),
            Syntax::Cfg => match self.cfg_lookup(section, option) {
                None => Ok(None),
                Some((found, raw)) => self.interpolate(section, &found, raw).map(Some),
            },
        }
    }

    /// Finds the raw cfg value of `[section] option` and the spelling it was found under.
    fn cfg_lookup<'a>(&'a self, section: &str, option: &'a str) -> Option<(Cow<'a, str>, &'a Value)> {
        // Most lookups are for parameters that are not configured; a missing section answers
        // those without allocating.
        let named = if section == DEFAULT_SECTION { None } else { Some(self.data.sections.get(section)?) };
        let find = |name: &str| named.and_then(|options| options.get(name)).or_else(|| self.data.defaults.get(name));
        let underscored: Cow<'a, str> =
            if option.contains('-') { Cow::Owned(option.replace('-', "_")) } else { Cow::Borrowed(option) };
        if let Some(value) = find(&underscored) {
            return Some((underscored, value));
        }
        if !underscored.contains('_') {
            return None;
        }
        let dashed = underscored.replace('_', "-");
        let value = find(&dashed)?;
        warn_once(format!(
            "Configuration [{section}] {dashed} (with dashes) should be avoided. Please use underscores: {underscored}."
        ));
        Some((Cow::Owned(dashed), value))
    }

    /// Interpolates a raw cfg value of `[section] option`.
    fn interpolate(&self, section: &str, option: &str, raw: &Value) -> Result<Value> {
        let text = match raw {
            Value::Str(text) => text,
            // A cfg configuration only ever stores strings; should a TOML value get here,
            // it has nothing to interpolate.
            Value::Toml(_) => return Ok(raw.clone()),
        };
        let named = if section == DEFAULT_SECTION { None } else { self.data.sections.get(section) };
        let lookup = |name: &str| -> Option<&'_ str> {
            match named.and_then(|options| options.get(name)).or_else(|| self.data.defaults.get(name))? {
                Value::Str(text) => Some(text.as_str()),
                Value::Toml(_) => None,
            }
        };
        let env = |var: &str| self.discovery.var(var);
        cfg::interpolate(section, option, text, &lookup, &env).map(Value::Str)
    }

    /// The option names visible in `section`, as ConfigParser's `options()`: the section's
    /// own, then `[DEFAULT]`'s that it does not override (cfg). Empty for a missing section.
    pub fn options(&self, section: &str) -> Vec<&str> {
        let Some(own) = self.data.sections.get(section) else { return Vec::new() };
        let mut names: Vec<&str> = own.keys().map(String::as_str).collect();
        names.extend(self.data.defaults.keys().map(String::as_str).filter(|name| !own.contains_key(*name)));
        names
    }

    /// The options of `section` with their interpolated values, as ConfigParser's
    /// `items()`: `[DEFAULT]`'s options first (with the section's values where it overrides
    /// them), then the section's own. `items("DEFAULT")` lists `[DEFAULT]` alone. Empty for
    /// a missing section.
    pub fn items(&self, section: &str) -> Result<Vec<(String, Value)>> {
        let own = self.data.sections.get(section);
        if own.is_none() && section != DEFAULT_SECTION {
            return Ok(Vec::new());
        }
        if self.syntax == Syntax::Toml {
            return Ok(own
                .map(|options| options.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default());
        }
        let mut merged: IndexMap<&str, &Value> = self.data.defaults.iter().map(|(k, v)| (k.as_str(), v)).collect();
        if let Some(own) = own {
            merged.extend(own.iter().map(|(k, v)| (k.as_str(), v)));
        }
        merged.into_iter().map(|(name, raw)| Ok((name.to_owned(), self.interpolate(section, name, raw)?))).collect()
    }

    /// A section of `name = integer` options, as Luigi's `getintdict` (used for
    /// `[resources]`). For cfg files, options inherited from or overriding `[DEFAULT]` are
    /// left out, since `[DEFAULT]` rarely holds integers. Empty for a missing section.
    pub fn int_dict(&self, section: &str) -> Result<IndexMap<String, i64>> {
        let items = self.items(section)?;
        if self.syntax == Syntax::Cfg && !items.is_empty() {
            // Luigi interpolates `[DEFAULT]` on its own here, which fails where a default
            // refers to an option only the section has; do the same so errors match.
            self.items(DEFAULT_SECTION)?;
        }
        items
            .into_iter()
            .filter(|(name, _)| self.syntax == Syntax::Toml || !self.data.defaults.contains_key(name))
            .map(|(name, value)| {
                let number = to_int(section, &name, &value)?;
                Ok((name, number))
            })
            .collect()
    }

    /// The options of `[family]` with names as parameters spell them (dashes replaced by
    /// underscores) and their values, for warning about options that are not parameters
    /// (Luigi's `UnconsumedParameterWarning`). Empty when the section does not exist.
    ///
    /// For cfg files this includes `[DEFAULT]`'s options and interpolates every value, as
    /// Luigi does (an interpolation error is returned, as Luigi raises it). Luigi's TOML
    /// parser never reports unconsumed options; this lists them anyway, so the caller
    /// decides.
    pub fn family_entries(&self, family: &str) -> Result<Vec<(String, Value)>> {
        if !self.has_section(family) {
            return Ok(Vec::new());
        }
        self.options(family)
            .into_iter()
            .map(|name| {
                let value = self.get(family, name)?.unwrap_or_else(|| Value::Str(String::new()));
                Ok((name.replace('-', "_"), value))
            })
            .collect()
    }

    /// Sets `[section] option = value`, creating the section if needed. `[DEFAULT]` may be
    /// set too.
    ///
    /// In a cfg configuration the value is checked as ConfigParser does: a `%` must be `%%`
    /// or part of `%(name)s`. In a TOML configuration the value is stored as a TOML string.
    pub fn set(&mut self, section: &str, option: &str, value: impl Into<String>) -> Result<()> {
        let value = value.into();
        let stored = match self.syntax {
            Syntax::Cfg => {
                if let Some(position) = cfg::invalid_percent(&value) {
                    return Err(Error::InvalidSetValue {
                        section: section.to_owned(),
                        option: option.to_owned(),
                        value,
                        position,
                    });
                }
                Value::Str(value)
            }
            Syntax::Toml => Value::Toml(toml::Value::String(value)),
        };
        let options = if self.syntax == Syntax::Cfg && section == DEFAULT_SECTION {
            &mut self.data.defaults
        } else {
            self.data.sections.entry(section.to_owned()).or_default()
        };
        options.insert(option.to_owned(), stored);
        Ok(())
    }

    /// `[section] option` as a string. TOML numbers and booleans are written as Python
    /// would (`8082`, `1.5`, `True`); TOML arrays and tables are an error.
    pub fn get_str(&self, section: &str, option: &str) -> Result<Option<String>> {
        self.get(section, option)?.map(|value| to_str(section, option, value)).transpose()
    }

    /// `[section] option` as a boolean: ConfigParser's `1/yes/true/on` and `0/no/false/off`
    /// in any case, or a TOML boolean.
    pub fn get_bool(&self, section: &str, option: &str) -> Result<Option<bool>> {
        self.get(section, option)?.map(|value| to_bool(section, option, &value)).transpose()
    }

    /// `[section] option` as an integer, as Python's `int()` parses it (`+1_000`), or a
    /// TOML integer.
    pub fn get_int(&self, section: &str, option: &str) -> Result<Option<i64>> {
        self.get(section, option)?.map(|value| to_int(section, option, &value)).transpose()
    }

    /// `[section] option` as a float, as Python's `float()` parses it (`1e3`, `inf`), or a
    /// TOML float or integer.
    pub fn get_float(&self, section: &str, option: &str) -> Result<Option<f64>> {
        self.get(section, option)?.map(|value| to_float(section, option, &value)).transpose()
    }

    /// [`get_str`](Configuration::get_str), or `default` when the option is not set.
    pub fn get_str_or(&self, section: &str, option: &str, default: &str) -> Result<String> {
        Ok(self.get_str(section, option)?.unwrap_or_else(|| default.to_owned()))
    }

    /// [`get_bool`](Configuration::get_bool), or `default` when the option is not set.
    pub fn get_bool_or(&self, section: &str, option: &str, default: bool) -> Result<bool> {
        Ok(self.get_bool(section, option)?.unwrap_or(default))
    }

    /// [`get_int`](Configuration::get_int), or `default` when the option is not set.
    pub fn get_int_or(&self, section: &str, option: &str, default: i64) -> Result<i64> {
        Ok(self.get_int(section, option)?.unwrap_or(default))
    }

    /// [`get_float`](Configuration::get_float), or `default` when the option is not set.
    pub fn get_float_or(&self, section: &str, option: &str, default: f64) -> Result<f64> {
        Ok(self.get_float(section, option)?.unwrap_or(default))
    }

    /// A TOML configuration's section as a table, e.g. for `[logging]`. `None` for cfg
    /// configurations and missing sections.
    pub fn section_table(&self, section: &str) -> Option<toml::Table> {
        if self.syntax != Syntax::Toml {
            return None;
        }
        let options = self.data.sections.get(section)?;
        let mut table = toml::Table::new();
        for (name, value) in options {
            let value = match value {
                Value::Toml(value) => value.clone(),
                Value::Str(text) => toml::Value::String(text.clone()),
            };
            table.insert(name.clone(), value);
        }
        Some(table)
    }

    /// The TOML `[logging]` table, which Luigi passes to `logging.config.dictConfig`. Only
    /// TOML configurations have one, as in Luigi.
    pub fn logging_table(&self) -> Option<toml::Table> {
        self.section_table("logging")
    }
}

/// Adds a file to the process-wide configuration and re-reads every file, as Luigi's
/// `luigi.configuration.add_config_path`. See [`Configuration::add_config_path`].
pub fn add_config_path(path: impl AsRef<Path>) -> Result<bool> {
    let mut config = Configuration::global_or_default();
    let added = config.add_config_path(path)?;
    if added {
        Configuration::set_global(Arc::new(config));
    }
    Ok(added)
}

fn invalid(section: &str, option: &str, value: &Value, expected: &'static str) -> Error {
    Error::InvalidValue { section: section.to_owned(), option: option.to_owned(), value: value.to_string(), expected }
}

fn to_str(section: &str, option: &str, value: Value) -> Result<String> {
    match value {
        Value::Str(text) | Value::Toml(toml::Value::String(text)) => Ok(text),
        Value::Toml(toml::Value::Integer(number)) => Ok(number.to_string()),
        Value::Toml(toml::Value::Float(number)) => Ok(crate::pyjson::float_repr(number)),
        Value::Toml(toml::Value::Boolean(flag)) => Ok(if flag { "True" } else { "False" }.to_owned()),
        Value::Toml(toml::Value::Datetime(datetime)) => Ok(datetime.to_string()),
        other => Err(invalid(section, option, &other, "a string")),
    }
}

fn to_bool(section: &str, option: &str, value: &Value) -> Result<bool> {
    const EXPECTED: &str = "a boolean (1/yes/true/on or 0/no/false/off)";
    match value {
        Value::Toml(toml::Value::Boolean(flag)) => Ok(*flag),
        Value::Str(text) | Value::Toml(toml::Value::String(text)) => {
            convert::parse_bool(text).ok_or_else(|| invalid(section, option, value, EXPECTED))
        }
        other => Err(invalid(section, option, other, EXPECTED)),
    }
}

fn to_int(section: &str, option: &str, value: &Value) -> Result<i64> {
    const EXPECTED: &str = "an integer";
    match value {
        Value::Toml(toml::Value::Integer(number)) => Ok(*number),
        Value::Str(text) | Value::Toml(toml::Value::String(text)) => {
            convert::parse_int(text).ok_or_else(|| invalid(section, option, value, EXPECTED))
        }
        other => Err(invalid(section, option, other, EXPECTED)),
    }
}

fn to_float(section: &str, option: &str, value: &Value) -> Result<f64> {
    const EXPECTED: &str = "a number";
    match value {
        Value::Toml(toml::Value::Float(number)) => Ok(*number),
        // TOML has no implicit conversion, but Luigi's float options are commonly written as
        // integers (`retry_delay = 900`), which Python accepts.
        Value::Toml(toml::Value::Integer(number)) => Ok(*number as f64),
        Value::Str(text) | Value::Toml(toml::Value::String(text)) => {
            convert::parse_float(text).ok_or_else(|| invalid(section, option, value, EXPECTED))
        }
        other => Err(invalid(section, option, other, EXPECTED)),
    }
}
