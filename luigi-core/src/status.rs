//! Task statuses as the scheduler and the wire protocol name them.
//!
//! [`TaskStatus`] is what a task is (`PENDING`, `RUNNING`, `DONE`...); [`UpstreamStatus`]
//! is what the scheduler derives for a pending task from its dependencies, ordered by
//! severity. Both serialize as Luigi's upper-case strings, which appear in RPC requests,
//! replies and the UI.

use std::fmt;
use std::str::FromStr;

/// The status of a task in the scheduler (Luigi's `luigi.task_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskStatus {
    /// Waiting to run.
    Pending,
    /// Running on a worker.
    Running,
    /// Complete.
    Done,
    /// The last run failed; it will be retried after `retry_delay`.
    Failed,
    /// Failed too often, or disabled by a worker; not run until re-enabled.
    Disabled,
    /// Status unknown, e.g. a dependency no worker has reported yet, or a scheduling failure.
    Unknown,
    /// Part of a batch whose representative task is running.
    BatchRunning,
    /// Legacy status from old clients, stored as `Pending`.
    Suspended,
}

impl TaskStatus {
    /// Every status, in Luigi's order.
    pub const ALL: [TaskStatus; 8] = [
        TaskStatus::Pending,
        TaskStatus::Running,
        TaskStatus::Done,
        TaskStatus::Failed,
        TaskStatus::Disabled,
        TaskStatus::Unknown,
        TaskStatus::BatchRunning,
        TaskStatus::Suspended,
    ];

    /// The wire name (`PENDING`, `BATCH_RUNNING`...).
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Pending => "PENDING",
            TaskStatus::Running => "RUNNING",
            TaskStatus::Done => "DONE",
            TaskStatus::Failed => "FAILED",
            TaskStatus::Disabled => "DISABLED",
            TaskStatus::Unknown => "UNKNOWN",
            TaskStatus::BatchRunning => "BATCH_RUNNING",
            TaskStatus::Suspended => "SUSPENDED",
        }
    }
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not a status name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown task status '{0}'; expected one of PENDING, RUNNING, DONE, FAILED, DISABLED, UNKNOWN, BATCH_RUNNING")]
pub struct UnknownStatus(pub String);

impl FromStr for TaskStatus {
    type Err = UnknownStatus;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        TaskStatus::ALL.into_iter().find(|status| status.as_str() == text).ok_or_else(|| UnknownStatus(text.to_owned()))
    }
}

/// The status a pending task inherits from its dependencies, in increasing severity
/// (`None` < `Running` < `MissingInput` < `Failed` < `Disabled`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum UpstreamStatus {
    /// Nothing upstream is blocking (`""` on the wire).
    #[default]
    None,
    /// A dependency is running (`UPSTREAM_RUNNING`).
    Running,
    /// A dependency's input is missing (`UPSTREAM_MISSING_INPUT`).
    MissingInput,
    /// A dependency failed (`UPSTREAM_FAILED`).
    Failed,
    /// A dependency is disabled (`UPSTREAM_DISABLED`).
    Disabled,
}

impl UpstreamStatus {
    /// The wire name; empty for [`UpstreamStatus::None`].
    pub fn as_str(self) -> &'static str {
        match self {
            UpstreamStatus::None => "",
            UpstreamStatus::Running => "UPSTREAM_RUNNING",
            UpstreamStatus::MissingInput => "UPSTREAM_MISSING_INPUT",
            UpstreamStatus::Failed => "UPSTREAM_FAILED",
            UpstreamStatus::Disabled => "UPSTREAM_DISABLED",
        }
    }

    /// Parses a wire name; the empty string is [`UpstreamStatus::None`].
    pub fn parse(text: &str) -> Option<UpstreamStatus> {
        [
            UpstreamStatus::None,
            UpstreamStatus::Running,
            UpstreamStatus::MissingInput,
            UpstreamStatus::Failed,
            UpstreamStatus::Disabled,
        ]
        .into_iter()
        .find(|status| status.as_str() == text)
    }
}

impl fmt::Display for UpstreamStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_use_luigi_names() {
        for status in TaskStatus::ALL {
            assert_eq!(status.as_str().parse::<TaskStatus>(), Ok(status));
            assert_eq!(serde_json::to_string(&status).unwrap(), format!("\"{status}\""));
        }
        assert!("pending".parse::<TaskStatus>().is_err());
        assert!(UpstreamStatus::Disabled > UpstreamStatus::Failed);
        assert_eq!(UpstreamStatus::parse(""), Some(UpstreamStatus::None));
    }
}
