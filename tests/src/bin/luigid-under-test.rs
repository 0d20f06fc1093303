//! This crate's own copy of `luigid` (the real program, `luigi_cli::luigid::main()`), so its
//! end-to-end tests can start it through `CARGO_BIN_EXE_luigid-under-test`.
fn main() -> std::process::ExitCode {
    luigi_cli::luigid::main()
}
