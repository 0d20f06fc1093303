//! The `luigid` binary: the central scheduler daemon (see `luigi_cli::luigid`).
//!
//! It runs on mimalloc: under RPC load glibc's malloc was an eighth of the daemon's CPU (small
//! request buffers allocated on one thread and freed on another), and the allocator is the
//! binary's choice, not the library's, so programs embedding the scheduler keep their own.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    luigi_cli::luigid::main()
}
