//! The inspection tools of Luigi's command line, as library functions: `luigi deps`
//! ([`deps`], Python's `luigi-deps`), `luigi deps-tree` ([`deps_tree`], `luigi-deps-tree`) and
//! `luigi grep` ([`grep`], `luigi-grep`).
//!
//! Each tool is a function that takes inputs already built by the command line (a root
//! [`TaskRef`](luigi_core::TaskRef) for the two dependency tools, a scheduler address for
//! grep) and writes to a `&mut dyn Write`, plus a small clap `Args` struct for the tool's own
//! flags. Parsing the task and its parameters from the registry, and choosing stdout, belong
//! to the `luigi` command; keeping them out of here makes every tool testable on a buffer.
//!
//! The output is byte-for-byte what Python Luigi 3.8.1 prints, checked against recorded
//! Python output in `tests/tools.rs`, with three deliberate differences, each documented on
//! its tool: `deps` prints its tasks in a fixed order (Python prints a set, whose order changes
//! from run to run), `deps-tree` stops after a configurable number of lines (Python re-prints
//! shared sub-DAGs, which grows exponentially with the depth of a diamond-shaped DAG), and
//! `deps-tree` marks a dependency cycle instead of recursing until the stack overflows.

pub mod deps;
pub mod deps_tree;
pub mod grep;
