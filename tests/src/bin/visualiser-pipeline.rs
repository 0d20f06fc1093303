//! The pipeline the visualiser's browser tests (`tests/tests/visualiser.rs`) run against a real
//! `luigid`, through `luigi_cli::main()` like any user program.
//!
//! `VisReport(date)` requires three `VisPart(i)` tasks, one `VisLabel` whose public parameter
//! holds hostile markup (the test passes `<script>alert(1)</script>`) and whose `token` is a
//! hidden parameter, and one `VisBroken` that fails with its `reason`. So after one run the
//! scheduler holds four DONE tasks, one FAILED task and a root that is PENDING with an upstream
//! failure: every category the list's cards count in a finished run with a failure.
//!
//! `VisChat` runs until the test lets it finish, answering scheduler messages, so the test can
//! send messages from the task's page and read the answers.

use std::path::Path;
use std::time::{Duration, Instant};

use luigi_core::prelude::*;
use luigi_tests::task_outputs::{output_of, write_output};

/// A plain part of the report.
#[derive(Task, Clone, Debug)]
struct VisPart {
    root: String,
    i: i64,
}

impl Task for VisPart {
    type Requires = ();
    type Output = LocalTarget;

    fn requires(&self) {}

    fn output(&self) -> LocalTarget {
        output_of(self, &self.root)
    }

    fn run(&self, _ctx: &mut RunContext<'_>) -> Result<(), BoxError> {
        write_output(self, &self.root)
    }
}

/// A task whose label is shown in the UI and whose token must never be.
#[derive(Task, Clone, Debug)]
struct VisLabel {
    root: String,
    label: String,
    #[param(visibility = "hidden")]
    token: String,
}

impl Task for VisLabel {
    type Requires = ();
    type Output = LocalTarget;

    fn requires(&self) {}

    fn output(&self) -> LocalTarget {
        output_of(self, &self.root)
    }

    fn run(&self, _ctx: &mut RunContext<'_>) -> Result<(), BoxError> {
        write_output(self, &self.root)
    }
}

/// Always fails with `reason`.
#[derive(Task, Clone, Debug)]
struct VisBroken {
    root: String,
    reason: String,
}

impl Task for VisBroken {
    type Requires = ();
    type Output = LocalTarget;

    fn requires(&self) {}

    fn output(&self) -> LocalTarget {
        output_of(self, &self.root)
    }

    fn run(&self, _ctx: &mut RunContext<'_>) -> Result<(), BoxError> {
        Err(self.reason.clone().into())
    }
}

/// The root.
#[derive(Task, Clone, Debug)]
struct VisReport {
    root: String,
    date: String,
    label: String,
}

impl Task for VisReport {
    type Requires = (Vec<VisPart>, VisLabel, VisBroken);
    type Output = LocalTarget;

    fn requires(&self) -> Self::Requires {
        let root = self.root.clone();
        (
            (0..3).map(|i| VisPart { root: root.clone(), i }).collect(),
            VisLabel { root: root.clone(), label: self.label.clone(), token: "s3cret-token".to_owned() },
            VisBroken { root, reason: format!("the report for {} cannot be built: source missing", self.date) },
        )
    }

    fn output(&self) -> LocalTarget {
        output_of(self, &self.root)
    }

    fn run(&self, _ctx: &mut RunContext<'_>) -> Result<(), BoxError> {
        write_output(self, &self.root)
    }
}

/// A task that shows a status message and progress, answers every scheduler message with
/// `echo: <message>`, and on `track` answers `tracking`, sets its tracking URL and waits for
/// the file `<root>/stop` before finishing. (Luigi's worker sends `accepts_messages=false`
/// with a tracking URL, switching messages off; ours keeps the task's own value, which the test
/// checks after the URL is set.)
#[derive(Task, Clone, Debug)]
struct VisChat {
    root: String,
}

impl Task for VisChat {
    type Requires = ();
    type Output = LocalTarget;

    fn requires(&self) {}

    fn output(&self) -> LocalTarget {
        output_of(self, &self.root)
    }

    fn accepts_messages(&self) -> bool {
        true
    }

    fn run(&self, ctx: &mut RunContext<'_>) -> Result<(), BoxError> {
        ctx.set_status_message("waiting for messages")?;
        ctx.set_progress_percentage(40.0)?;
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            let Some(message) = ctx.next_message(Duration::from_millis(100)) else { continue };
            if message.content != "track" {
                message.respond(&format!("echo: {}", message.content))?;
                continue;
            }
            message.respond("tracking")?;
            ctx.set_tracking_url("http://tracker.invalid/jobs/1?view=<b>")?;
            let stop = Path::new(&self.root).join("stop");
            while !stop.exists() {
                if Instant::now() > deadline {
                    return Err("the stop file did not appear within 120 s".into());
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            return write_output(self, &self.root);
        }
        Err("no track message within 120 s".into())
    }
}

fn main() -> std::process::ExitCode {
    luigi_cli::main()
}
