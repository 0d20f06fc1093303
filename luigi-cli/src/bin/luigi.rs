//! The `luigi` command: Luigi's command line, with the tasks linked into this binary (the
//! contrib tasks of the enabled features) and the tools (`luigi grep`, `luigi deps`,
//! `luigi deps-tree`).
//!
//! Rust tasks are compiled, not imported: to run your own tasks, call `luigi_cli::main()` from
//! your binary's `main` (see the README) and use that binary as you would use `luigi`.

fn main() -> std::process::ExitCode {
    luigi_cli::main()
}
