//! The luigi-rs central scheduler: the state machine behind `luigid` and `--local-scheduler`.
//!
//! - [`engine`]: the scheduling state machine of Luigi 3.8.1 (inventory §2),
//!   sans-IO and driven by an injected [`clock::Clock`]; it implements
//!   `luigi_core::rpc::SchedulerApi`, so a worker can use it in-process.
//! - [`history`]: task history (`[scheduler] record_task_history`): the hook the engine calls,
//!   storage in SQLite or PostgreSQL, and the `/history` pages.
//! - `server`: the HTTP server of `luigid` (`/api/<method>`, `/metrics`, history, visualiser).
//!   Only this module, the history pages and [`ui`] know HTTP.
//! - [`ui`]: the visualiser (embedded HTML/CSS/JS and its paged task-list and graph queries).
//! - [`clock`]: wall-clock and manual clocks.
//! - [`metrics`]: the metrics the engine exposes at `/metrics`.
//! - [`persist`]: the durable state database (SQLite, written as state changes).

pub mod clock;
pub mod engine;
pub mod history;
pub mod metrics;
pub mod persist;
pub mod server;
pub mod ui;

pub use engine::{Config, Scheduler};
