//! The README's first pipeline, `GenerateWords` → `CountLetters`, run by the real worker.
//!
//! ```sh
//! cargo run -p luigi-cli --example word_count -- CountLetters --root /tmp/luigi-rs-demo --local-scheduler
//! cat /tmp/luigi-rs-demo/letter_counts.txt   # apple | 5, banana | 6, grapefruit | 10
//! cargo run -p luigi-cli --example word_count -- CountLetters --root /tmp/luigi-rs-demo --local-scheduler
//! ```
//!
//! The first run schedules both tasks and runs `GenerateWords`, then `CountLetters`. The second
//! run finds `CountLetters` complete (its output exists), so it does not even look at
//! `GenerateWords`: the summary says "1 complete ones were encountered" and "Did not run any
//! tasks". Delete `letter_counts.txt` and only `CountLetters` runs again.
//!
//! `main` is `luigi_cli::main()`, so this binary is a full `luigi` command for the tasks linked
//! into it: `--help` lists their parameters, `--workers N` runs tasks in parallel, and without
//! `--local-scheduler` it talks to a running `luigid`.

use std::io::Write;

use luigi_core::prelude::*;

/// Writes a few words, one per line.
#[derive(Task, Clone, Debug)]
struct GenerateWords {
    /// Directory for all outputs.
    root: String,
}

impl Task for GenerateWords {
    type Requires = ();
    type Output = LocalTarget;

    fn requires(&self) {}

    fn output(&self) -> LocalTarget {
        LocalTarget::new(format!("{}/words.txt", self.root))
    }

    fn run(&self, _ctx: &mut RunContext<'_>) -> Result<(), BoxError> {
        let mut out = self.output().open_write()?;
        for word in ["apple", "banana", "grapefruit"] {
            writeln!(out, "{word}")?;
        }
        out.commit()?; // atomic: the file appears complete or not at all
        Ok(())
    }
}

/// Counts the letters of each word.
#[derive(Task, Clone, Debug)]
struct CountLetters {
    /// Directory for all outputs.
    root: String,
}

impl Task for CountLetters {
    type Requires = GenerateWords;
    type Output = LocalTarget;

    fn requires(&self) -> GenerateWords {
        GenerateWords { root: self.root.clone() }
    }

    fn output(&self) -> LocalTarget {
        LocalTarget::new(format!("{}/letter_counts.txt", self.root))
    }

    fn run(&self, _ctx: &mut RunContext<'_>) -> Result<(), BoxError> {
        let words = self.input().open_read()?; // `input()` is typed: the outputs of `requires()`
        let mut out = self.output().open_write()?;
        for word in words.lines() {
            let word = word?;
            writeln!(out, "{word} | {}", word.chars().count())?;
        }
        out.commit()?;
        Ok(())
    }
}

fn main() -> std::process::ExitCode {
    luigi_cli::main()
}
