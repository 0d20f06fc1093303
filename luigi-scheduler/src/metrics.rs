//! What `luigid` exposes at `/metrics`.
//!
//! Luigi's metrics collectors hook task starts, failures, disables and completions; ours are
//! counters kept by the engine and rendered in Prometheus text format. The server only sees
//! [`MetricsSource`], so it does not depend on the engine's internals.

/// Something that renders metrics in the Prometheus text exposition format.
pub trait MetricsSource: Send + Sync + 'static {
    /// The full `/metrics` body.
    fn render_prometheus(&self) -> String;
}
