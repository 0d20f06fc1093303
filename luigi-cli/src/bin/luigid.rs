//! The `luigid` binary: the central scheduler daemon (see `luigi_cli::luigid`).

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    luigi_cli::luigid::main()
}
