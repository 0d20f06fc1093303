//! The `luigi` command: Luigi's command line, with the tasks linked into this binary (the
//! contrib tasks of the enabled features) and the tools (`luigi grep`, `luigi deps`,
//! `luigi deps-tree`).
//!
//! Rust tasks are compiled, not imported: to run your own tasks, call `luigi_cli::main()` from
//! your binary's `main` (see the README) and use that binary as you would use `luigi`.
//!
//! It runs on mimalloc, as `luigid` does: with hundreds of thousands of tasks glibc's malloc
//! was an eighth of a run. The allocator is the binary's choice; `docs/cli.md` ("Large
//! pipelines") shows the two lines that give a pipeline binary of your own the same.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    luigi_cli::main()
}
