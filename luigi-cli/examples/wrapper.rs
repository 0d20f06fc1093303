//! A wrapper task triggering many reports: `AllReports --n N` requires `Report(i)` for `i` in
//! `0..N`.
//!
//! ```sh
//! cargo run -p luigi-cli --example wrapper -- AllReports --n 50 --root /tmp/luigi-rs-reports --local-scheduler --workers 8
//! ls /tmp/luigi-rs-reports/reports        # report_0.txt ... report_49.txt
//! cargo run -p luigi-cli --example wrapper -- AllReports --n 60 --root /tmp/luigi-rs-reports --local-scheduler --workers 8
//! ```
//!
//! What it shows:
//!
//! - A wrapper task (`#[task(wrapper)]`, Luigi's `WrapperTask`) has no output and does nothing;
//!   it is complete when everything it requires is complete. It is the usual way to run many
//!   independent tasks with one command.
//! - `--workers N` runs up to N tasks at once. Each report pretends to work for `--work-ms`
//!   milliseconds (default 100), so 50 reports take about 5 s with `--workers 1` and under a
//!   second with `--workers 8`.
//! - The execution summary collapses a family whose tasks differ in one parameter into a range:
//!   `- 50 Report(root=..., i=0...49)` rather than fifty lines. The second command above finds
//!   the first fifty complete and runs ten, and the summary shows both ranges.
//!
//! `work_ms` is not significant (`#[param(significant = false)]`): it is not part of a report's
//! identity, so changing it does not make finished reports look new.

use std::io::Write;
use std::time::Duration;

use luigi_core::prelude::*;

/// One report: a little arithmetic about `i`, written to `reports/report_<i>.txt`.
#[derive(Task, Clone, Debug)]
struct Report {
    /// Directory for all outputs.
    root: String,
    /// Which report.
    i: i64,
    /// Milliseconds of pretend work before writing the report.
    #[param(default = 100, significant = false)]
    work_ms: u64,
}

impl Task for Report {
    type Requires = ();
    type Output = LocalTarget;

    fn requires(&self) {}

    fn output(&self) -> LocalTarget {
        LocalTarget::new(format!("{}/reports/report_{}.txt", self.root, self.i))
    }

    fn run(&self, _ctx: &mut RunContext<'_>) -> Result<(), BoxError> {
        std::thread::sleep(Duration::from_millis(self.work_ms));
        let squares: i128 = (0..=i128::from(self.i)).map(|k| k * k).sum();
        let mut out = self.output().open_write()?;
        writeln!(out, "report {}", self.i)?;
        writeln!(out, "sum of squares 0..={}: {squares}", self.i)?;
        out.commit()?;
        Ok(())
    }
}

/// Requires reports `0..n`; complete when they all are.
#[derive(Task, Clone, Debug)]
#[task(wrapper)]
struct AllReports {
    /// Directory for all outputs.
    root: String,
    /// How many reports.
    n: i64,
    /// Milliseconds of pretend work per report.
    #[param(default = 100, significant = false)]
    work_ms: u64,
}

impl Task for AllReports {
    type Requires = Vec<Report>;
    type Output = ();

    fn requires(&self) -> Vec<Report> {
        (0..self.n).map(|i| Report { root: self.root.clone(), i, work_ms: self.work_ms }).collect()
    }

    fn output(&self) {}
}

fn main() -> std::process::ExitCode {
    luigi_cli::main()
}
