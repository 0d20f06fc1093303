//! The `luigid` binary: the central scheduler daemon (see `luigi_cli::luigid`).
fn main() -> std::process::ExitCode {
    luigi_cli::luigid::main()
}
