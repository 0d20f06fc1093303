//! Task-history integration tests: one binary, one module per area.
//!
//! - `common`: fixtures (temporary SQLite files, private PostgreSQL schemas, the Python peer);
//! - `scenarios`: recording rules and queries, each run on SQLite and on PostgreSQL;
//! - `engine`: the scheduler engine recording into the store through RPCs;
//! - `interop`: databases written by Python Luigi 3.8.1's luigid read by our store, and ours read
//!   (and written) by Python's `DbTaskHistory`;
//! - `web`: the pages through the axum router (HTML, JSON, escaping, pagination, errors);
//! - `queue`: the non-blocking queue: drops when full, and a 100k-record run.

mod common;
mod engine;
mod interop;
mod queue;
mod scenarios;
mod web;
