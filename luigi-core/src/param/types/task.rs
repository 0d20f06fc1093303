//! Task-class parameters: [`TaskParam`], Luigi's `TaskParameter`.
//!
//! The value is a task family, looked up in the process-wide [`registry`](crate::registry)
//! when parsed, so an unknown family fails with the registry's (Luigi's) message
//! (`No task X. Did you mean: ...`). The string form is the family. Holding the
//! registration rather than the name means the task can be built from it directly.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

use crate::param::{ParamArgs, ParamContext, ParamOptions, ParamValue, ParseError};
use crate::registry::{self, Registration};
use crate::task::{Task, TaskRef};

/// A registered task class, named by its family (Luigi's `TaskParameter`).
#[derive(Clone, Copy)]
pub struct TaskParam(&'static Registration);

impl TaskParam {
    /// The task class with this family in the process-wide registry; config sections are
    /// refused because they cannot be scheduled.
    pub fn new(family: &str) -> Result<TaskParam, registry::Error> {
        let registration = registry::lookup(family)?;
        if !registration.is_task() {
            return Err(registry::Error::NotATask { family: family.to_owned() });
        }
        Ok(TaskParam(registration))
    }

    /// The task class of `T` (which must be registered, as `#[derive(Task)]` does).
    pub fn of<T: Task>() -> Result<TaskParam, registry::Error> {
        TaskParam::new(T::family())
    }

    /// The task family.
    pub fn family(&self) -> &'static str {
        self.0.family()
    }

    /// The registration: parameter declarations, kind, module.
    pub fn registration(&self) -> &'static Registration {
        self.0
    }

    /// Builds a task of this class from explicit arguments, the global command line and
    /// configuration, and defaults.
    pub fn build(&self, args: &ParamArgs) -> Result<TaskRef, registry::Error> {
        self.0.build(&ParamContext::global(), args)
    }

    /// Builds a task of this class with an explicit parameter context.
    pub fn build_with(&self, ctx: &ParamContext, args: &ParamArgs) -> Result<TaskRef, registry::Error> {
        self.0.build(ctx, args)
    }
}

impl ParamValue for TaskParam {
    const TYPE_NAME: &'static str = "task";

    fn parse(text: &str, _options: &ParamOptions) -> Result<Self, ParseError> {
        TaskParam::new(text).map_err(|err| ParseError::new(err.to_string()))
    }

    fn serialize(&self) -> String {
        self.family().to_owned()
    }
}

impl fmt::Debug for TaskParam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TaskParam").field(&self.family()).finish()
    }
}

impl fmt::Display for TaskParam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.family())
    }
}

impl PartialEq for TaskParam {
    fn eq(&self, other: &Self) -> bool {
        self.family() == other.family() && self.0.type_name() == other.0.type_name()
    }
}

impl Eq for TaskParam {}

impl Hash for TaskParam {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.family().hash(state);
    }
}

impl PartialOrd for TaskParam {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for TaskParam {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.family(), self.0.type_name()).cmp(&(other.family(), other.0.type_name()))
    }
}
