//! Parameters: the typed fields of a task, and their Luigi string forms.
//!
//! A task's parameters are the fields of its struct (see `#[derive(Task)]`). Each field type
//! implements [`ParamValue`], which gives the exact string form Python Luigi uses to parse a
//! value from the command line or a config file and to serialize it into `params` and the
//! task id. Per-field options that Luigi passes to a `Parameter(...)` constructor (date
//! `interval`, `choices`, numeric bounds, explicit bool parsing...) travel in
//! [`ParamOptions`]; the rest of a field's declaration (name, significance, visibility,
//! positional, description, batch method) is its [`ParamInfo`].
//!
//! Which Rust type plays which Luigi parameter class is listed in [`types`]. Value resolution
//! (constructor > `--Family-param` > `[Family]` in config > default) lives in [`resolve`], so
//! that the derive macro only has to generate one call per field.
//!
//! Key decision: parse/serialize are associated functions on the value type rather than
//! methods of a parameter object, so a task is a plain struct of plain values (cheap to
//! clone and hash, no per-instance parameter objects), and the per-field knobs are `'static`
//! data emitted by the derive macro.

pub mod batch;
pub mod resolve;
pub mod types;

pub use resolve::{Error, ParamArgs, ParamContext, Resolver};
pub use types::*;

/// The date and time crate parameter types are built on, re-exported so that tasks can name
/// `NaiveDate` or `TimeDelta` without depending on it directly.
pub use chrono;

use std::fmt;

/// Who may see a parameter (Luigi's `ParameterVisibility`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Visibility {
    /// In the task id, sent to the scheduler and shown in the UI.
    #[default]
    Public,
    /// Not in the task id and not shown in the UI, but sent to the scheduler.
    Hidden,
    /// Never leaves the worker; only part of the task's `repr`.
    Private,
}

impl Visibility {
    /// The integer Luigi sends in `param_visibilities` (0 public, 1 hidden, 2 private).
    pub fn as_int(self) -> u8 {
        match self {
            Visibility::Public => 0,
            Visibility::Hidden => 1,
            Visibility::Private => 2,
        }
    }

    /// Luigi's reading of an integer: anything unknown falls back to public.
    pub fn from_int(value: i64) -> Visibility {
        match value {
            1 => Visibility::Hidden,
            2 => Visibility::Private,
            _ => Visibility::Public,
        }
    }
}

/// How a parameter appears on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CliKind {
    /// `--name VALUE`.
    Value,
    /// `--name` alone sets it to true (Luigi's implicit bool parsing: `store_true`).
    Flag,
    /// `--name` alone is true, `--name true|false` sets it (Luigi's explicit bool parsing).
    OptionalValue,
}

/// Per-field options a Luigi user passes to the `Parameter` constructor, as `'static` data
/// so the derive macro can emit them in a `static`.
///
/// Each value type reads only the options it understands; the derive macro rejects unknown
/// option names at compile time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParamOptions {
    /// Date-like types: snap values down to `start + k * interval` (days, months, years,
    /// hours, minutes or seconds, depending on the type).
    pub interval: Option<i64>,
    /// Date-like types: the origin of `interval` snapping, in the type's own string form.
    pub start: Option<&'static str>,
    /// Bool: explicit parsing (`--flag false` allowed) instead of a `store_true` flag.
    pub explicit: bool,
    /// Path: make the value absolute.
    pub absolute: bool,
    /// Path: the path must exist.
    pub exists: bool,
    /// Choice parameters: the allowed serialized values.
    pub choices: Option<&'static [&'static str]>,
    /// Numerical parameters: the lower bound.
    pub min: Option<f64>,
    /// Numerical parameters: the upper bound.
    pub max: Option<f64>,
    /// Numerical parameters: whether `min` itself is allowed (Luigi's `left_op=operator.le`).
    pub min_inclusive: bool,
    /// Numerical parameters: whether `max` itself is allowed (Luigi's default `right_op` is
    /// `operator.lt`, so false).
    pub max_inclusive: bool,
}

impl ParamOptions {
    /// No options: Luigi's defaults.
    pub const DEFAULT: ParamOptions = ParamOptions {
        interval: None,
        start: None,
        explicit: false,
        absolute: false,
        exists: false,
        choices: None,
        min: None,
        max: None,
        min_inclusive: true,
        max_inclusive: false,
    };
}

impl Default for ParamOptions {
    fn default() -> Self {
        ParamOptions::DEFAULT
    }
}

/// A value that failed to parse or validate, with a message in Luigi's words where Luigi has
/// one. [`resolve::Error`] adds which task and parameter it was for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    message: String,
}

impl ParseError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> ParseError {
        ParseError { message: message.into() }
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ParseError {}

/// A type that can be a task parameter: it has Luigi's string form.
///
/// `parse` and `serialize` must be inverse on every value `parse` accepts after
/// normalization, and `serialize` must produce exactly the text Python Luigi produces for
/// the equivalent parameter class, because it goes into the task id.
pub trait ParamValue: Clone + Send + Sync + 'static {
    /// The short type name shown in `--help` and in error messages (`int`, `date`, ...).
    const TYPE_NAME: &'static str;

    /// Parses the command-line / config-file string form.
    fn parse(text: &str, options: &ParamOptions) -> Result<Self, ParseError>;

    /// The string form sent to the scheduler and hashed into the task id.
    fn serialize(&self) -> String;

    /// Parses a value from a `luigi.toml` file, where values are native TOML types. The
    /// default converts the TOML value to the string Luigi would see and calls [`parse`].
    ///
    /// [`parse`]: ParamValue::parse
    fn parse_toml(value: &toml::Value, options: &ParamOptions) -> Result<Self, ParseError> {
        Self::parse(&types::toml_to_param_string(value), options)
    }

    /// Brings a value into canonical form and validates it (Luigi's `normalize`), applied to
    /// every value whatever its source.
    ///
    /// The default checks `options.choices` with [`check_choices`]; an implementation that
    /// overrides this method should call it on its result, so that every type honours
    /// `choices`.
    fn normalize(self, options: &ParamOptions) -> Result<Self, ParseError> {
        check_choices(&self, options)?;
        Ok(self)
    }

    /// The next value in an enumeration (ints +1, dates +interval), used by the execution
    /// summary to collapse ranges. `None` when the type is not enumerable.
    fn next_in_enumeration(&self, options: &ParamOptions) -> Option<Self> {
        let _ = options;
        None
    }

    /// The default a field of this type has when its declaration gives none: `None` for
    /// optional parameters and `false` for bools, as in Luigi; otherwise the parameter is
    /// required.
    fn implicit_default() -> Option<Self> {
        None
    }

    /// How the parameter is written on the command line.
    fn cli_kind(options: &ParamOptions) -> CliKind {
        let _ = options;
        CliKind::Value
    }

    /// Text appended to the parameter's description in `--help`, such as Luigi's
    /// `Choices: {a, b}`.
    fn describe_options(options: &ParamOptions) -> Option<String> {
        options.choices.map(|choices| format!("Choices: {{{}}}", choices.join(", ")))
    }
}

/// Everything declared about one parameter of a task or config section, except its value.
#[derive(Debug, Clone, Copy)]
pub struct ParamInfo {
    /// The field name, which is the parameter name (`my_param`; `--my-param` on the command
    /// line).
    pub name: &'static str,
    /// [`ParamValue::TYPE_NAME`] of the field type.
    pub type_name: &'static str,
    /// The description shown in `--help` (the field's doc comment unless given).
    pub description: Option<&'static str>,
    /// Whether it is part of the task id and `repr` (Luigi's `significant`).
    pub significant: bool,
    /// Who may see it.
    pub visibility: Visibility,
    /// Whether it may be given positionally.
    pub positional: bool,
    /// Whether it has a batch method (makes the task batchable).
    pub batchable: bool,
    /// Whether it should be listed in `--help` even for non-root tasks.
    pub always_in_help: bool,
    /// How it appears on the command line.
    pub cli: CliKind,
    /// Type-specific options.
    pub options: ParamOptions,
    /// A deprecated extra config location `(section, option)` (Luigi's `config_path`).
    pub config_path: Option<(&'static str, &'static str)>,
    /// The default value's string form, for `--help`; `None` for required parameters.
    pub default: Option<fn() -> String>,
    /// [`ParamValue::next_in_enumeration`] on string forms (see [`next_serialized`]), so that
    /// code holding only a `dyn AnyTask`, such as the execution summary collapsing
    /// `Bar(num=1...9)`, can ask for the value after a serialized one. Called with
    /// [`options`](ParamInfo::options).
    pub next_in_enumeration: fn(&str, &ParamOptions) -> Option<String>,
}

impl ParamInfo {
    /// Whether the parameter is part of the task id (significant and public).
    pub fn in_task_id(&self) -> bool {
        self.significant && self.visibility == Visibility::Public
    }

    /// The option name on the command line, without dashes: underscores become dashes.
    pub fn cli_name(&self) -> String {
        self.name.replace('_', "-")
    }
}

/// The string form of the value after `text` in an enumeration: `text` parsed as a `T`,
/// stepped with [`ParamValue::next_in_enumeration`], serialized again. `None` when `T` is not
/// enumerable or `text` does not parse.
///
/// A parameter with `choices` or bounds plays Luigi's `ChoiceParameter` or
/// `NumericalParameter`, which never enumerate (even over ints), so it gets `None` too.
/// This is what `#[derive(Task)]` stores in [`ParamInfo::next_in_enumeration`].
pub fn next_serialized<T: ParamValue>(text: &str, options: &ParamOptions) -> Option<String> {
    if options.choices.is_some() || options.min.is_some() || options.max.is_some() {
        return None;
    }
    T::parse(text, options).ok()?.next_in_enumeration(options).map(|next| next.serialize())
}

/// The names of a [`ParamValue`] enum's variants, in declaration order (implemented by
/// `#[derive(ParamEnum)]`).
pub trait EnumNames {
    /// Every accepted name.
    const NAMES: &'static [&'static str];
}
