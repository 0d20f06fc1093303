//! The luigi-rs command line: `luigi_cli::main()` for programs whose tasks are compiled in,
//! [`build`] for running tasks from code, and the `luigid` daemon.
//!
//! This is the only crate that wires the others together: [`run`] hands the scheduler engine
//! (`luigi-scheduler`) to the worker (`luigi-worker`) for `--local-scheduler`, and [`luigid`]
//! puts the engine, its state database and task history behind the HTTP server. [`tools`] holds
//! `luigi deps`, `luigi deps-tree` and `luigi grep`; [`logging`] configures log output as Luigi
//! does, and [`progress`] draws the live progress display of a run on a terminal.

pub mod cli;
pub mod command;
pub mod logging;
pub mod luigid;
pub mod progress;
pub mod run;
pub mod tools;

pub use command::main;
pub use run::{BuildOptions, RunResult, build};
