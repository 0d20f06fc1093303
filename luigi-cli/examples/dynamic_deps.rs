//! Dynamic dependencies: a task that finds out what it needs while it runs (Luigi's
//! `dynamic_requirements.py`, where `run()` yields tasks).
//!
//! ```sh
//! cargo run -p luigi-cli --example dynamic_deps -- Dynamic --seed 1 --root /tmp/luigi-rs-dynamic --local-scheduler --workers 1
//! cat /tmp/luigi-rs-dynamic/dynamic_1.txt
//! ```
//!
//! `Dynamic(seed)` requires nothing up front. Its `run()` first requires `Configuration(seed)`,
//! which writes a list of numbers chosen by the seed; it reads that list, and only then knows
//! which `Data(magic_number)` tasks it needs, one per number, and requires them all at once.
//! It finally writes how many numbers there were and their sum.
//!
//! Semantics of [`RunContext::require`] (they differ from Luigi's on purpose):
//!
//! - The call blocks until every required task is complete — scheduled with the scheduler as
//!   new dependencies of the running task, and run by this worker or another — and then
//!   returns their outputs, typed like `input()`. Tasks already complete are not run again.
//! - `run()` then continues where it was. It is not stopped and restarted from the top, as a
//!   Python task that `yield`s is, so work done before the call is not repeated and local
//!   variables survive. The output file records how often `run()` started in this process:
//!   once.
//! - While it waits the task stays RUNNING, so no other worker takes it, and it does not hold
//!   one of the `--workers` slots: the worker starts another runner thread so the tasks it
//!   waits for can run. That is why `--workers 1` works.
//! - If a required task fails, `require` returns an error and the task fails with it (`?`).
//!   If the worker must give up waiting, the task is left PENDING and a later run starts it
//!   from the top.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};

use luigi_core::prelude::*;

/// How many times `Dynamic::run` has started in this process.
static DYNAMIC_RUN_STARTS: AtomicUsize = AtomicUsize::new(0);

/// SplitMix64: a tiny, well-known generator, so the numbers depend on nothing but the seed.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Writes 7 to 25 distinct numbers below 300, chosen by `seed`, comma-separated.
#[derive(Task, Clone, Debug)]
struct Configuration {
    /// Directory for all outputs.
    root: String,
    /// Chooses the numbers.
    seed: i64,
}

impl Task for Configuration {
    type Requires = ();
    type Output = LocalTarget;

    fn requires(&self) {}

    fn output(&self) -> LocalTarget {
        LocalTarget::new(format!("{}/config_{}.txt", self.root, self.seed))
    }

    fn run(&self, _ctx: &mut RunContext<'_>) -> Result<(), BoxError> {
        let mut rng = SplitMix64(self.seed.cast_unsigned());
        let wanted = 7 + rng.next() % 19;
        let mut numbers = Vec::new();
        while (numbers.len() as u64) < wanted {
            let number = rng.next() % 300;
            if !numbers.contains(&number) {
                numbers.push(number);
            }
        }
        let text: Vec<String> = numbers.iter().map(u64::to_string).collect();
        let mut out = self.output().open_write()?;
        write!(out, "{}", text.join(","))?;
        out.commit()?;
        Ok(())
    }
}

/// Writes its number.
#[derive(Task, Clone, Debug)]
struct Data {
    /// Directory for all outputs.
    root: String,
    /// The number to write.
    magic_number: i64,
}

impl Task for Data {
    type Requires = ();
    type Output = LocalTarget;

    fn requires(&self) {}

    fn output(&self) -> LocalTarget {
        LocalTarget::new(format!("{}/data/data_{}.txt", self.root, self.magic_number))
    }

    fn run(&self, _ctx: &mut RunContext<'_>) -> Result<(), BoxError> {
        let mut out = self.output().open_write()?;
        write!(out, "{}", self.magic_number)?;
        out.commit()?;
        Ok(())
    }
}

/// Requires `Configuration`, then one `Data` per number it lists, all from `run()`.
#[derive(Task, Clone, Debug)]
struct Dynamic {
    /// Directory for all outputs.
    root: String,
    /// Passed on to `Configuration`.
    #[param(default = 1)]
    seed: i64,
}

impl Task for Dynamic {
    type Requires = ();
    type Output = LocalTarget;

    fn requires(&self) {}

    fn output(&self) -> LocalTarget {
        LocalTarget::new(format!("{}/dynamic_{}.txt", self.root, self.seed))
    }

    fn run(&self, ctx: &mut RunContext<'_>) -> Result<(), BoxError> {
        let starts = DYNAMIC_RUN_STARTS.fetch_add(1, Ordering::SeqCst) + 1;

        // This one could have been in `requires()`...
        let config = ctx.require(Configuration { root: self.root.clone(), seed: self.seed })?;
        let text = config.open_read()?.read_to_string()?;
        let numbers =
            text.split(',').map(|word| word.trim().parse::<i64>()).collect::<Result<Vec<_>, _>>().map_err(|err| {
                format!("{}: not a comma-separated list of numbers ({err})", config.as_path().display())
            })?;
        ctx.set_status_message(&format!("requiring {} Data tasks", numbers.len()))?;

        // ... but these depend on what Configuration wrote.
        let data: Vec<Data> =
            numbers.iter().map(|&magic_number| Data { root: self.root.clone(), magic_number }).collect();
        let outputs = ctx.require(data)?;
        let mut sum = 0;
        for output in &outputs {
            let text = output.open_read()?.read_to_string()?;
            sum += text
                .trim()
                .parse::<i64>()
                .map_err(|err| format!("{}: not a number ({err})", output.as_path().display()))?;
        }

        let mut out = self.output().open_write()?;
        writeln!(out, "data tasks: {}", outputs.len())?;
        writeln!(out, "sum: {sum}")?;
        writeln!(out, "run() started {starts} time(s) in this process")?;
        out.commit()?;
        Ok(())
    }
}

fn main() -> std::process::ExitCode {
    luigi_cli::main()
}
