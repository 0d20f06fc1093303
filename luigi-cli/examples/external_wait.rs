//! An external task: data this process never makes, only waits for.
//!
//! `Incoming` is `#[task(external)]` (Luigi's `ExternalTask`): it has an output and no `run()`,
//! and it is complete iff `ROOT/incoming/data.txt` exists. `CountIncoming` requires it and
//! writes the file's line and word counts to `ROOT/counts.txt`.
//!
//! Without the file, the run cannot do anything and says so, exiting with `[retcode]
//! missing_data` (20):
//!
//! ```sh
//! cargo run -p luigi-cli --example external_wait -- CountIncoming --root /tmp/luigi-rs-external --local-scheduler
//! # ... This progress looks :| because there were missing external dependencies
//! echo $?   # 20
//! ```
//!
//! With `--worker-retry-external-tasks` the worker checks the external task again while it
//! runs, and with `--worker-keep-alive` it stays alive while something is pending instead of
//! stopping. A missing external task is marked failed and, as in Luigi, is checked again after
//! the scheduler's `retry_delay` (900 s by default, hence `--scheduler-retry-delay`), so:
//!
//! ```sh
//! cargo run -p luigi-cli --example external_wait -- CountIncoming --root /tmp/luigi-rs-external --local-scheduler \
//!     --worker-retry-external-tasks --worker-keep-alive --scheduler-retry-delay 2 \
//!     --worker-wait-interval 1 --worker-wait-jitter 0
//! ```
//!
//! and then, from another terminal (write aside and rename, so the data appears whole):
//!
//! ```sh
//! mkdir -p /tmp/luigi-rs-external/incoming && printf 'hello luigi\nhello rust\n' > /tmp/luigi-rs-external/incoming/.data.tmp && mv /tmp/luigi-rs-external/incoming/.data.tmp /tmp/luigi-rs-external/incoming/data.txt
//! ```
//!
//! Until then the log shows `Incoming` failing every `retry_delay` seconds ("data does not exist
//! (yet?)"). Within a few seconds of the file appearing the worker finds `Incoming` complete,
//! runs `CountIncoming` and exits 0; the summary says there "were failed tasks but they all
//! succeeded in a retry", as Luigi's does. A worker kept alive this way waits until the data
//! comes or it is interrupted (Ctrl-C).

use std::io::Write;

use luigi_core::prelude::*;

/// Data delivered by someone else: complete iff the file exists.
#[derive(Task, Clone, Debug)]
#[task(external)]
struct Incoming {
    /// Directory for all inputs and outputs.
    root: String,
}

impl Task for Incoming {
    type Requires = ();
    type Output = LocalTarget;

    fn requires(&self) {}

    fn output(&self) -> LocalTarget {
        LocalTarget::new(format!("{}/incoming/data.txt", self.root))
    }
}

/// Counts the lines and words of the incoming data.
#[derive(Task, Clone, Debug)]
struct CountIncoming {
    /// Directory for all inputs and outputs.
    root: String,
}

impl Task for CountIncoming {
    type Requires = Incoming;
    type Output = LocalTarget;

    fn requires(&self) -> Incoming {
        Incoming { root: self.root.clone() }
    }

    fn output(&self) -> LocalTarget {
        LocalTarget::new(format!("{}/counts.txt", self.root))
    }

    fn run(&self, _ctx: &mut RunContext<'_>) -> Result<(), BoxError> {
        let (mut lines, mut words) = (0, 0);
        for line in self.input().open_read()?.lines() {
            lines += 1;
            words += line?.split_whitespace().count();
        }
        let mut out = self.output().open_write()?;
        writeln!(out, "lines: {lines}")?;
        writeln!(out, "words: {words}")?;
        out.commit()?;
        Ok(())
    }
}

fn main() -> std::process::ExitCode {
    luigi_cli::main()
}
