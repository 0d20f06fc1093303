//! The task registry: every task family and config section linked into the binary.
//!
//! The CLI needs it to turn `mybin Chain --n 5` into a task, and the worker needs it to
//! rebuild a task from the `(family, params)` a scheduler sends back (other workers'
//! tasks, batches, assistants). `#[derive(Task)]` and `#[derive(Config)]` submit a
//! [`Registration`] through `inventory`, so merely linking a type registers it, as importing
//! a module does in Python; [`register`] adds one at run time.
//!
//! Lookups go by family. Two different types claiming one family make it ambiguous (an
//! error when building it by name, as in Luigi). An unknown family gets Luigi's message,
//! with near names (edit distance at most 5) suggested.

use std::collections::HashMap;
use std::sync::{LazyLock, RwLock};

use crate::param::{self, ParamArgs, ParamContext, ParamInfo};
use crate::task::{Task, TaskKind, TaskParams, TaskRef};

/// Why a family could not be looked up or built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No type has this family.
    #[error("{message}")]
    NotFound {
        /// The family asked for.
        family: String,
        /// Luigi's text: `No task X. Did you mean:\n...` or `No task X. Candidates are: ...`.
        message: String,
    },
    /// Several types have this family.
    #[error("Task '{family}' is ambiguous: it is defined by {}", types.join(" and "))]
    Ambiguous {
        /// The family.
        family: String,
        /// The Rust types defining it.
        types: Vec<&'static str>,
    },
    /// The family is a config section, which cannot be scheduled.
    #[error("'{family}' is a config section, not a task")]
    NotATask {
        /// The family.
        family: String,
    },
    /// A parameter value was missing or invalid.
    #[error(transparent)]
    Param(#[from] param::Error),
}

/// Builds a task from string arguments.
type BuildFn = fn(&ParamContext, &ParamArgs) -> Result<TaskRef, param::Error>;

/// How to build one registered type; emitted by the derive macros.
#[derive(Debug)]
pub struct Registration {
    family: fn() -> &'static str,
    module: fn() -> &'static str,
    kind: fn() -> TaskKind,
    infos: fn() -> &'static [ParamInfo],
    use_cmdline_section: fn() -> bool,
    type_name: fn() -> &'static str,
    build: Option<BuildFn>,
    reduce_batch: fn(&str, &[String]) -> Result<String, crate::param::ParseError>,
}

fn build_task<T: Task>(ctx: &ParamContext, args: &ParamArgs) -> Result<TaskRef, param::Error> {
    T::from_args(ctx, args).map(TaskRef::new)
}

impl Registration {
    /// The registration of a task type.
    pub const fn task<T: Task>() -> Registration {
        Registration {
            family: T::family,
            module: T::module,
            kind: T::kind,
            infos: T::param_infos,
            use_cmdline_section: T::use_cmdline_section,
            type_name: std::any::type_name::<T>,
            build: Some(build_task::<T>),
            reduce_batch: T::reduce_batch,
        }
    }

    /// The registration of a config section.
    pub const fn config<T: TaskParams>() -> Registration {
        Registration {
            family: T::family,
            module: T::module,
            kind: T::kind,
            infos: T::param_infos,
            use_cmdline_section: T::use_cmdline_section,
            type_name: std::any::type_name::<T>,
            build: None,
            reduce_batch: T::reduce_batch,
        }
    }

    /// The family (or section name).
    pub fn family(&self) -> &'static str {
        (self.family)()
    }

    /// The defining Rust module.
    pub fn module(&self) -> &'static str {
        (self.module)()
    }

    /// The kind.
    pub fn kind(&self) -> TaskKind {
        (self.kind)()
    }

    /// The parameter declarations.
    pub fn param_infos(&self) -> &'static [ParamInfo] {
        (self.infos)()
    }

    /// Whether command-line flags carry the family prefix (false for `core`-like sections).
    pub fn use_cmdline_section(&self) -> bool {
        (self.use_cmdline_section)()
    }

    /// The Rust type name.
    pub fn type_name(&self) -> &'static str {
        (self.type_name)()
    }

    /// Reduces the values a scheduler sends for a batched parameter to one string with the
    /// parameter's batch method (see [`TaskParams::reduce_batch`]).
    pub fn reduce_batch(&self, param: &str, values: &[String]) -> Result<String, crate::param::ParseError> {
        (self.reduce_batch)(param, values)
    }

    /// Whether this is a task (not a config section).
    pub fn is_task(&self) -> bool {
        self.build.is_some()
    }

    /// Builds the task from explicit string arguments, the context's command-line flags and
    /// configuration, and defaults.
    pub fn build(&self, ctx: &ParamContext, args: &ParamArgs) -> Result<TaskRef, Error> {
        let build = self.build.ok_or_else(|| Error::NotATask { family: self.family().to_owned() })?;
        Ok(build(ctx, args)?)
    }

    /// Builds the task from the string parameters a scheduler stores (Luigi's
    /// `from_str_params`): names the type does not declare are ignored.
    pub fn from_str_params<'a>(
        &self,
        ctx: &ParamContext,
        params: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<TaskRef, Error> {
        let infos = self.param_infos();
        let args =
            ParamArgs::from_named(params.into_iter().filter(|(name, _)| infos.iter().any(|info| info.name == *name)));
        self.build(ctx, &args)
    }
}

inventory::collect!(Registration);

/// An index of registrations by family.
#[derive(Debug, Default)]
pub struct Registry {
    by_family: HashMap<&'static str, Vec<&'static Registration>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Registry {
        Registry::default()
    }

    /// A registry of everything submitted by the derive macros in this binary.
    pub fn from_inventory() -> Registry {
        let mut registry = Registry::new();
        for registration in inventory::iter::<Registration> {
            registry.add(registration);
        }
        registry
    }

    /// Adds a registration; adding the same type twice is a no-op.
    pub fn add(&mut self, registration: &'static Registration) {
        let entries = self.by_family.entry(registration.family()).or_default();
        if !entries.iter().any(|known| known.type_name() == registration.type_name()) {
            entries.push(registration);
        }
    }

    /// The registration of `family`.
    pub fn get(&self, family: &str) -> Result<&'static Registration, Error> {
        match self.by_family.get(family).map(Vec::as_slice) {
            Some([only]) => Ok(only),
            Some(many) if !many.is_empty() => {
                Err(Error::Ambiguous { family: family.to_owned(), types: many.iter().map(|r| r.type_name()).collect() })
            }
            _ => Err(Error::NotFound { family: family.to_owned(), message: self.missing_message(family) }),
        }
    }

    /// Every registered family, sorted.
    pub fn families(&self) -> Vec<&'static str> {
        let mut families: Vec<&'static str> = self.by_family.keys().copied().collect();
        families.sort_unstable();
        families
    }

    /// Every unambiguous registration, sorted by family.
    pub fn registrations(&self) -> Vec<&'static Registration> {
        let mut all: Vec<&'static Registration> =
            self.by_family.values().filter(|entries| entries.len() == 1).map(|entries| entries[0]).collect();
        all.sort_unstable_by_key(|r| r.family());
        all
    }

    fn missing_message(&self, family: &str) -> String {
        let mut weighted: Vec<(usize, &'static str)> = self
            .families()
            .into_iter()
            .map(|known| (strsim::levenshtein(family, known), known))
            .filter(|(distance, known)| *distance <= 5 && *distance < known.chars().count())
            .collect();
        weighted.sort_by_key(|(distance, _)| *distance);
        if weighted.is_empty() {
            format!("No task {family}. Candidates are: {}", self.families().join(","))
        } else {
            let names: Vec<&str> = weighted.into_iter().map(|(_, name)| name).collect();
            format!("No task {family}. Did you mean:\n{}", names.join("\n"))
        }
    }
}

static GLOBAL: LazyLock<RwLock<Registry>> = LazyLock::new(|| RwLock::new(Registry::from_inventory()));

/// Adds a registration to the process-wide registry (for types not registered by the derive
/// macros, e.g. when `inventory` is unavailable on a platform).
pub fn register(registration: &'static Registration) {
    GLOBAL.write().unwrap_or_else(|e| e.into_inner()).add(registration);
}

/// Looks up a family in the process-wide registry.
pub fn lookup(family: &str) -> Result<&'static Registration, Error> {
    GLOBAL.read().unwrap_or_else(|e| e.into_inner()).get(family)
}

/// Every family in the process-wide registry, sorted.
pub fn families() -> Vec<&'static str> {
    GLOBAL.read().unwrap_or_else(|e| e.into_inner()).families()
}

/// Every unambiguous registration in the process-wide registry, sorted by family.
pub fn registrations() -> Vec<&'static Registration> {
    GLOBAL.read().unwrap_or_else(|e| e.into_inner()).registrations()
}

/// Builds a task by family from explicit arguments and the global parameter context.
pub fn build(family: &str, args: &ParamArgs) -> Result<TaskRef, Error> {
    lookup(family)?.build(&ParamContext::global(), args)
}

/// Rebuilds a task from the `(family, params)` a scheduler sends back.
pub fn from_str_params<'a>(
    family: &str,
    params: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<TaskRef, Error> {
    lookup(family)?.from_str_params(&ParamContext::global(), params)
}
