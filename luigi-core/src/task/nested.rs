//! Nested structures of requirements and outputs, and how `input()` mirrors `requires()`.
//!
//! Luigi lets `requires()` and `output()` return one task/target, a list, or a dict of
//! named entries, nested arbitrarily, and `input()` returns the outputs of the required
//! tasks in the same shape. Here the shapes are ordinary Rust types: a task, `()`,
//! `Option`, `Vec`, arrays, tuples, `BTreeMap`/`IndexMap`/`HashMap` of named entries, and
//! [`TaskRef`] for tasks whose type is only known at run time. [`Requirements::Outputs`]
//! maps each shape to the same shape of outputs, so `input()` is statically typed:
//! a task requiring `(Extract, Vec<Clean>)` gets `(Extract::Output, Vec<Clean::Output>)`.
//!
//! Both traits also flatten their structure (Luigi's `flatten`) for the worker, which only
//! needs the list of dependencies and the list of targets.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

use indexmap::IndexMap;

use super::{Task, TaskRef};
use crate::target::Target;

/// A nested structure of required tasks (the return type of `requires()`).
pub trait Requirements {
    /// The same structure with every task replaced by its outputs: the type of `input()`.
    type Outputs;

    /// The outputs of every required task, in the same structure.
    fn outputs(&self) -> Self::Outputs;

    /// Appends every required task, depth first, to `out` (Luigi's `flatten(requires())`).
    fn collect_tasks(&self, out: &mut Vec<TaskRef>);

    /// [`collect_tasks`](Requirements::collect_tasks), consuming the structure: the tasks are
    /// moved into their [`TaskRef`]s instead of cloned, which halves the allocations of a wide
    /// `requires()` (a wrapper of a million tasks each holding a path). The default clones.
    fn into_tasks(self, out: &mut Vec<TaskRef>)
    where
        Self: Sized,
    {
        self.collect_tasks(out);
    }
}

/// A nested structure of targets (the return type of `output()`).
pub trait Outputs {
    /// Calls `f` on every target, depth first.
    fn for_each_target(&self, f: &mut dyn FnMut(&dyn Target));

    /// Moves every target, depth first, into `out`.
    fn into_targets(self, out: &mut Vec<Box<dyn Target>>)
    where
        Self: Sized;
}

impl<T: Task> Requirements for T {
    type Outputs = T::Output;

    fn outputs(&self) -> Self::Outputs {
        self.output()
    }

    fn collect_tasks(&self, out: &mut Vec<TaskRef>) {
        out.push(TaskRef::new(self.clone()));
    }

    fn into_tasks(self, out: &mut Vec<TaskRef>) {
        out.push(TaskRef::new(self));
    }
}

impl Requirements for TaskRef {
    type Outputs = Vec<Box<dyn Target>>;

    fn outputs(&self) -> Self::Outputs {
        self.task().output_targets()
    }

    fn collect_tasks(&self, out: &mut Vec<TaskRef>) {
        out.push(self.clone());
    }
}

impl Requirements for () {
    type Outputs = ();

    fn outputs(&self) -> Self::Outputs {}

    fn collect_tasks(&self, _out: &mut Vec<TaskRef>) {}
}

impl<R: Requirements> Requirements for Option<R> {
    type Outputs = Option<R::Outputs>;

    fn outputs(&self) -> Self::Outputs {
        self.as_ref().map(R::outputs)
    }

    fn collect_tasks(&self, out: &mut Vec<TaskRef>) {
        if let Some(inner) = self {
            inner.collect_tasks(out);
        }
    }

    fn into_tasks(self, out: &mut Vec<TaskRef>) {
        if let Some(inner) = self {
            inner.into_tasks(out);
        }
    }
}

impl<R: Requirements> Requirements for Vec<R> {
    type Outputs = Vec<R::Outputs>;

    fn outputs(&self) -> Self::Outputs {
        self.iter().map(R::outputs).collect()
    }

    fn collect_tasks(&self, out: &mut Vec<TaskRef>) {
        for item in self {
            item.collect_tasks(out);
        }
    }

    fn into_tasks(self, out: &mut Vec<TaskRef>) {
        out.reserve(self.len());
        for item in self {
            item.into_tasks(out);
        }
    }
}

impl<R: Requirements, const N: usize> Requirements for [R; N] {
    type Outputs = [R::Outputs; N];

    fn outputs(&self) -> Self::Outputs {
        self.each_ref().map(R::outputs)
    }

    fn collect_tasks(&self, out: &mut Vec<TaskRef>) {
        for item in self {
            item.collect_tasks(out);
        }
    }

    fn into_tasks(self, out: &mut Vec<TaskRef>) {
        for item in self {
            item.into_tasks(out);
        }
    }
}

impl<K: Ord + Clone, R: Requirements> Requirements for BTreeMap<K, R> {
    type Outputs = BTreeMap<K, R::Outputs>;

    fn outputs(&self) -> Self::Outputs {
        self.iter().map(|(k, v)| (k.clone(), v.outputs())).collect()
    }

    fn collect_tasks(&self, out: &mut Vec<TaskRef>) {
        for item in self.values() {
            item.collect_tasks(out);
        }
    }

    fn into_tasks(self, out: &mut Vec<TaskRef>) {
        for item in self.into_values() {
            item.into_tasks(out);
        }
    }
}

impl<K: Hash + Eq + Clone, R: Requirements> Requirements for IndexMap<K, R> {
    type Outputs = IndexMap<K, R::Outputs>;

    fn outputs(&self) -> Self::Outputs {
        self.iter().map(|(k, v)| (k.clone(), v.outputs())).collect()
    }

    fn collect_tasks(&self, out: &mut Vec<TaskRef>) {
        for item in self.values() {
            item.collect_tasks(out);
        }
    }

    fn into_tasks(self, out: &mut Vec<TaskRef>) {
        for item in self.into_values() {
            item.into_tasks(out);
        }
    }
}

impl<K: Hash + Eq + Clone, R: Requirements> Requirements for HashMap<K, R> {
    type Outputs = HashMap<K, R::Outputs>;

    fn outputs(&self) -> Self::Outputs {
        self.iter().map(|(k, v)| (k.clone(), v.outputs())).collect()
    }

    fn collect_tasks(&self, out: &mut Vec<TaskRef>) {
        for item in self.values() {
            item.collect_tasks(out);
        }
    }

    fn into_tasks(self, out: &mut Vec<TaskRef>) {
        for item in self.into_values() {
            item.into_tasks(out);
        }
    }
}

macro_rules! tuple_impls {
    ($($name:ident)+) => {
        impl<$($name: Requirements),+> Requirements for ($($name,)+) {
            type Outputs = ($($name::Outputs,)+);

            #[allow(non_snake_case)]
            fn outputs(&self) -> Self::Outputs {
                let ($($name,)+) = self;
                ($($name.outputs(),)+)
            }

            #[allow(non_snake_case)]
            fn collect_tasks(&self, out: &mut Vec<TaskRef>) {
                let ($($name,)+) = self;
                $($name.collect_tasks(out);)+
            }

            #[allow(non_snake_case)]
            fn into_tasks(self, out: &mut Vec<TaskRef>) {
                let ($($name,)+) = self;
                $($name.into_tasks(out);)+
            }
        }

        impl<$($name: Outputs),+> Outputs for ($($name,)+) {
            #[allow(non_snake_case)]
            fn for_each_target(&self, f: &mut dyn FnMut(&dyn Target)) {
                let ($($name,)+) = self;
                $($name.for_each_target(f);)+
            }

            #[allow(non_snake_case)]
            fn into_targets(self, out: &mut Vec<Box<dyn Target>>) {
                let ($($name,)+) = self;
                $($name.into_targets(out);)+
            }
        }
    };
}

tuple_impls!(A);
tuple_impls!(A B);
tuple_impls!(A B C);
tuple_impls!(A B C D);
tuple_impls!(A B C D E);
tuple_impls!(A B C D E F);
tuple_impls!(A B C D E F G);
tuple_impls!(A B C D E F G H);

impl<T: Target> Outputs for T {
    fn for_each_target(&self, f: &mut dyn FnMut(&dyn Target)) {
        f(self);
    }

    fn into_targets(self, out: &mut Vec<Box<dyn Target>>) {
        out.push(Box::new(self));
    }
}

impl Outputs for () {
    fn for_each_target(&self, _f: &mut dyn FnMut(&dyn Target)) {}

    fn into_targets(self, _out: &mut Vec<Box<dyn Target>>) {}
}

impl<O: Outputs> Outputs for Option<O> {
    fn for_each_target(&self, f: &mut dyn FnMut(&dyn Target)) {
        if let Some(inner) = self {
            inner.for_each_target(f);
        }
    }

    fn into_targets(self, out: &mut Vec<Box<dyn Target>>) {
        if let Some(inner) = self {
            inner.into_targets(out);
        }
    }
}

impl<O: Outputs> Outputs for Vec<O> {
    fn for_each_target(&self, f: &mut dyn FnMut(&dyn Target)) {
        for item in self {
            item.for_each_target(f);
        }
    }

    fn into_targets(self, out: &mut Vec<Box<dyn Target>>) {
        for item in self {
            item.into_targets(out);
        }
    }
}

impl<O: Outputs, const N: usize> Outputs for [O; N] {
    fn for_each_target(&self, f: &mut dyn FnMut(&dyn Target)) {
        for item in self {
            item.for_each_target(f);
        }
    }

    fn into_targets(self, out: &mut Vec<Box<dyn Target>>) {
        for item in self {
            item.into_targets(out);
        }
    }
}

impl<K, O: Outputs> Outputs for BTreeMap<K, O> {
    fn for_each_target(&self, f: &mut dyn FnMut(&dyn Target)) {
        for item in self.values() {
            item.for_each_target(f);
        }
    }

    fn into_targets(self, out: &mut Vec<Box<dyn Target>>) {
        for item in self.into_values() {
            item.into_targets(out);
        }
    }
}

impl<K, O: Outputs> Outputs for IndexMap<K, O> {
    fn for_each_target(&self, f: &mut dyn FnMut(&dyn Target)) {
        for item in self.values() {
            item.for_each_target(f);
        }
    }

    fn into_targets(self, out: &mut Vec<Box<dyn Target>>) {
        for item in self.into_values() {
            item.into_targets(out);
        }
    }
}

impl<K, O: Outputs> Outputs for HashMap<K, O> {
    fn for_each_target(&self, f: &mut dyn FnMut(&dyn Target)) {
        for item in self.values() {
            item.for_each_target(f);
        }
    }

    fn into_targets(self, out: &mut Vec<Box<dyn Target>>) {
        for item in self.into_values() {
            item.into_targets(out);
        }
    }
}
