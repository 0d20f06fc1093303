//! The task, parameter and target model of luigi-rs, and the worker–scheduler contract.
//!
//! luigi-rs is Spotify's Luigi rebuilt in Rust. This crate holds everything the other
//! crates agree on, and nothing that talks to the outside world beyond local files:
//!
//! - [`task`]: the [`Task`] trait (`requires`, `output`, `run`), task kinds, task ids that
//!   are byte-identical to Python Luigi's, and [`TaskRef`], the erased handle workers use;
//! - [`param`]: parameter types with Luigi's exact string forms, and value resolution
//!   (constructor > command line > config > default);
//! - [`registry`]: every task family linked into the binary, so tasks can be rebuilt by
//!   name from strings (the CLI and the worker need this);
//! - [`target`] and [`format`](mod@format): `Target`, `FileSystem`, `LocalTarget` with atomic writes,
//!   an in-memory mock file system, and text/gzip/bzip2 formats;
//! - [`config`]: `luigi.cfg` / `luigi.toml` discovery and parsing, and the typed `[core]`,
//!   `[worker]` and `[scheduler]` sections;
//! - [`event`]: Luigi's task events and handler registration;
//! - [`rpc`]: the `SchedulerApi` trait with one method per Luigi RPC,
//!   and its wire types — the one contract the worker and the scheduler share.
//!
//! Backends (S3, HDFS, SQL) live in `luigi-contrib` and plug into the traits here; this crate
//! contains no backend code.
//!
//! Most users only need the [`prelude`].

// Lets the derive macros' generated `::luigi_core::...` paths resolve inside this crate too.
#[allow(unused_extern_crates)]
extern crate self as luigi_core;

pub mod config;
pub mod event;
pub mod format;
pub mod param;
pub mod pyjson;
pub mod registry;
pub mod rpc;
pub mod status;
pub mod target;
pub mod task;

pub use luigi_derive::{Config, ParamEnum, Task};
pub use task::{AnyTask, IdMap, IdSet, Task, TaskId, TaskKind, TaskParams, TaskRef};

/// The error type user code returns from `run()` and `complete()`: anything that is an
/// error, including `anyhow::Error` via `?`.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What a typical pipeline module imports: `use luigi_core::prelude::*;`.
pub mod prelude {
    pub use crate::BoxError;
    pub use crate::format::Format;
    pub use crate::target::{FileSystemTarget, LocalTarget, Target};
    pub use crate::task::{Outputs, Requirements, Resources, RetryPolicy, RunContext, Task, TaskParams, TaskRef};
    pub use luigi_derive::{Config, ParamEnum, Task};
}

/// Items the derive macros refer to. Not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use inventory;
    pub use std::sync::LazyLock;
}
