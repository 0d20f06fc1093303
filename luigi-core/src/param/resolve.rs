//! Parameter value resolution: where each field of a task gets its value from.
//!
//! Luigi's order (inventory §4.2), which [`Resolver`] implements one field at a time:
//! 1. explicit constructor arguments ([`ParamArgs`]: positional, then named; for the root
//!    task the CLI's local `--param` flags arrive here);
//! 2. the global command-line flag `--Family-param` ([`ParamContext::set_cli_value`]);
//! 3. the config file: option `param` in section `[Family]` (dashed spelling accepted);
//! 4. the deprecated `config_path` location;
//! 5. the declared default, or the type's implicit default (`None`, `false`).
//!
//! Every string goes through [`ParamValue::parse`] and every value through
//! [`ParamValue::normalize`]. Errors carry Luigi's messages (`Family[args=[...],
//! kwargs={...}]: requires the 'x' parameter to be set`, ...), so users see the same text.
//!
//! [`ParamContext`] bundles the loaded configuration with the global CLI flags. A
//! process-wide one ([`ParamContext::global`]) exists because tasks build other tasks deep
//! inside `requires()`, where threading a context through every call would burden every
//! user; tests and embedders can still pass an explicit one.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock};

use crate::config::{self, Configuration};

use super::{ParamInfo, ParamValue, ParseError};

/// Why a task or config section could not be built from its parameter values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No value from any source and no default (Luigi's `MissingParameterException`).
    #[error("{call}: requires the '{param}' parameter to be set")]
    Missing {
        /// `Family[args=[...], kwargs={...}]`.
        call: String,
        /// The parameter name.
        param: String,
    },
    /// More positional values than positional parameters.
    #[error("{call}: takes at most {max} parameters ({given} given)")]
    TooManyPositional {
        /// `Family[args=[...], kwargs={...}]`.
        call: String,
        /// Number of positional parameters.
        max: usize,
        /// Number of positional values given.
        given: usize,
    },
    /// A named value for a parameter that does not exist (Luigi's `UnknownParameterException`).
    #[error("{call}: unknown parameter {param}")]
    Unknown {
        /// `Family[args=[...], kwargs={...}]`.
        call: String,
        /// The unknown name.
        param: String,
    },
    /// A named value for a parameter already given positionally (Luigi's
    /// `DuplicateParameterException`).
    #[error("{call}: parameter {param} was already set as a positional parameter")]
    Duplicate {
        /// `Family[args=[...], kwargs={...}]`.
        call: String,
        /// The parameter name.
        param: String,
    },
    /// A value that does not parse or validate.
    #[error("{family}: invalid value for parameter '{param}' (from {source_desc}): {message}")]
    Invalid {
        /// The task family.
        family: String,
        /// The parameter name.
        param: String,
        /// Where the value came from (`the command line`, `[Family] in the config`...).
        source_desc: String,
        /// What is wrong with it.
        message: String,
    },
    /// The config file could not be read for this parameter (e.g. a missing `${ENV}`).
    #[error("{family}: cannot read parameter '{param}' from the configuration: {message}")]
    Config {
        /// The task family.
        family: String,
        /// The parameter name.
        param: String,
        /// The configuration error.
        message: String,
    },
}

/// Explicit parameter values given when a task is built by name: Luigi's positional `args`
/// and keyword `kwargs`, as strings in their command-line form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParamArgs {
    /// Positional values, matched in order against the positional parameters.
    pub positional: Vec<String>,
    /// Named values, in the order given.
    pub named: Vec<(String, String)>,
}

impl ParamArgs {
    /// No explicit values.
    pub fn new() -> ParamArgs {
        ParamArgs::default()
    }

    /// Adds a named value.
    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> ParamArgs {
        self.named.push((name.into(), value.into()));
        self
    }

    /// Adds a positional value.
    pub fn with_positional(mut self, value: impl Into<String>) -> ParamArgs {
        self.positional.push(value.into());
        self
    }

    /// Named values from a map such as the `params` a scheduler sends back.
    pub fn from_named<'a>(named: impl IntoIterator<Item = (&'a str, &'a str)>) -> ParamArgs {
        ParamArgs {
            positional: Vec::new(),
            named: named.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
        }
    }

    /// Luigi's description of a call, `Family[args=['a'], kwargs={'n': '1'}]`, used in
    /// error messages.
    pub fn describe(&self, family: &str) -> String {
        let args: Vec<String> = self.positional.iter().map(|v| python_str_repr(v)).collect();
        let kwargs: Vec<String> =
            self.named.iter().map(|(k, v)| format!("{}: {}", python_str_repr(k), python_str_repr(v))).collect();
        format!("{family}[args=[{}], kwargs={{{}}}]", args.join(", "), kwargs.join(", "))
    }
}

/// Python's `repr(str)` for the characters that matter in error messages.
fn python_str_repr(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') { '"' } else { '\'' };
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for ch in text.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// The sources of parameter values other than the constructor: the configuration and the
/// global `--Family-param` command-line flags.
#[derive(Debug, Clone, Default)]
pub struct ParamContext {
    config: Arc<Configuration>,
    cli: HashMap<(String, String), String>,
}

static GLOBAL: RwLock<Option<Arc<ParamContext>>> = RwLock::new(None);

impl ParamContext {
    /// A context over this configuration, with no command-line flags.
    pub fn new(config: Arc<Configuration>) -> ParamContext {
        ParamContext { config, cli: HashMap::new() }
    }

    /// The configuration values come from.
    pub fn config(&self) -> &Arc<Configuration> {
        &self.config
    }

    /// Records `--Family-param value` from the command line.
    pub fn set_cli_value(&mut self, family: impl Into<String>, param: impl Into<String>, value: impl Into<String>) {
        self.cli.insert((family.into(), param.into()), value.into());
    }

    /// The command-line value for `--Family-param`, if given.
    pub fn cli_value(&self, family: &str, param: &str) -> Option<&str> {
        // Building the tuple key costs two small allocations; this runs only while a task
        // is constructed by name, never per scheduler call.
        self.cli.get(&(family.to_owned(), param.to_owned())).map(String::as_str)
    }

    /// Every `--Family-param value` recorded, as `(family, param, value)` (in no particular
    /// order), for handing the command line on to a child process.
    pub fn cli_values(&self) -> impl Iterator<Item = (&str, &str, &str)> + '_ {
        self.cli.iter().map(|((family, param), value)| (family.as_str(), param.as_str(), value.as_str()))
    }

    /// The process-wide context: the one installed with [`ParamContext::set_global`], or else
    /// one over the configuration files discovered as Luigi does.
    pub fn global() -> Arc<ParamContext> {
        if let Some(ctx) = GLOBAL.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
            return Arc::clone(ctx);
        }
        let mut slot = GLOBAL.write().unwrap_or_else(|e| e.into_inner());
        let ctx = slot.get_or_insert_with(|| Arc::new(ParamContext::new(Configuration::global())));
        Arc::clone(ctx)
    }

    /// Installs the process-wide context (the CLI does this after parsing flags).
    pub fn set_global(ctx: ParamContext) {
        *GLOBAL.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(ctx));
    }
}

/// Where a value came from, for error messages.
#[derive(Clone, Copy)]
enum Source<'s> {
    Explicit,
    Cli,
    Config(&'s str, &'s str),
    Default,
}

impl fmt::Display for Source<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Explicit => f.write_str("the arguments"),
            Source::Cli => f.write_str("the command line"),
            Source::Config(section, option) => write!(f, "[{section}] {option} in the configuration"),
            Source::Default => f.write_str("the default"),
        }
    }
}

/// Resolves the fields of one task or config section, in declaration order.
///
/// The derive macro creates one with [`Resolver::new`] and calls [`Resolver::value`] once per
/// field, passing the field's index in `infos`.
pub struct Resolver<'a> {
    family: &'a str,
    infos: &'static [ParamInfo],
    ctx: &'a ParamContext,
    args: &'a ParamArgs,
    explicit: Vec<Option<&'a str>>,
}

impl<'a> Resolver<'a> {
    /// Matches `args` against the parameters: positional values in order, then named values.
    pub fn new(
        family: &'a str,
        infos: &'static [ParamInfo],
        ctx: &'a ParamContext,
        args: &'a ParamArgs,
    ) -> Result<Resolver<'a>, Error> {
        let mut explicit: Vec<Option<&'a str>> = vec![None; infos.len()];
        let positional: Vec<usize> = (0..infos.len()).filter(|idx| infos[*idx].positional).collect();
        if args.positional.len() > positional.len() {
            return Err(Error::TooManyPositional {
                call: args.describe(family),
                max: positional.len(),
                given: args.positional.len(),
            });
        }
        for (value, idx) in args.positional.iter().zip(&positional) {
            explicit[*idx] = Some(value.as_str());
        }
        for (name, value) in &args.named {
            let Some(idx) = infos.iter().position(|info| info.name == name) else {
                return Err(Error::Unknown { call: args.describe(family), param: name.clone() });
            };
            if explicit[idx].is_some() {
                return Err(Error::Duplicate { call: args.describe(family), param: name.clone() });
            }
            explicit[idx] = Some(value.as_str());
        }
        Ok(Resolver { family, infos, ctx, args, explicit })
    }

    /// The value of field `idx` of type `T`, with `default` as the declared default.
    pub fn value<T: ParamValue>(&self, idx: usize, default: Option<fn() -> Result<T, ParseError>>) -> Result<T, Error> {
        let info = &self.infos[idx];
        let options = &info.options;
        let invalid = |source: Source<'_>, err: ParseError| Error::Invalid {
            family: self.family.to_owned(),
            param: info.name.to_owned(),
            source_desc: source.to_string(),
            message: err.message().to_owned(),
        };
        let (value, source) = if let Some(text) = self.explicit[idx] {
            (T::parse(text, options).map_err(|e| invalid(Source::Explicit, e))?, Source::Explicit)
        } else if let Some(text) = self.ctx.cli_value(self.family, info.name).filter(|t| !t.is_empty()) {
            (T::parse(text, options).map_err(|e| invalid(Source::Cli, e))?, Source::Cli)
        } else if let Some(value) = self.read_config::<T>(info, self.family, info.name)? {
            (value, Source::Config(self.family, info.name))
        } else if let Some(value) = match info.config_path {
            Some((section, option)) => self.read_config::<T>(info, section, option)?,
            None => None,
        } {
            (value, Source::Default)
        } else if let Some(default) = default {
            (default().map_err(|e| invalid(Source::Default, e))?, Source::Default)
        } else if let Some(implicit) = T::implicit_default() {
            (implicit, Source::Default)
        } else {
            return Err(Error::Missing { call: self.args.describe(self.family), param: info.name.to_owned() });
        };
        value.normalize(options).map_err(|e| invalid(source, e))
    }

    /// Reads `[section] option` (or its dashed spelling) and parses it as `T`.
    fn read_config<T: ParamValue>(&self, info: &ParamInfo, section: &str, option: &str) -> Result<Option<T>, Error> {
        let found = self.ctx.config.get(section, option).map_err(|e| Error::Config {
            family: self.family.to_owned(),
            param: info.name.to_owned(),
            message: e.to_string(),
        })?;
        let Some(found) = found else { return Ok(None) };
        let parsed = match &found {
            config::Value::Str(text) => T::parse(text, &info.options),
            config::Value::Toml(value) => T::parse_toml(value, &info.options),
        };
        parsed.map(Some).map_err(|e| Error::Invalid {
            family: self.family.to_owned(),
            param: info.name.to_owned(),
            source_desc: Source::Config(section, option).to_string(),
            message: e.message().to_owned(),
        })
    }
}
