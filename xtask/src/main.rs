//! Project automation, run as `cargo xtask <command>` (the cargo-xtask convention: a binary in
//! the workspace instead of shell scripts, so it runs wherever cargo does).
//!
//! Commands:
//! - `bench rpc`: `luigid` RPC throughput, latency and memory per task, ours and Python Luigi
//!   3.8.1's side by side, written to `docs/benchmarks.md` (see [`mod@bench`]).
//! - `bench workloads`: the `Chain`, `FanIn` and `Tree` pipelines of design §5 end to end,
//!   ours and Python Luigi's, with the local scheduler and with `luigid` (see [`mod@workloads`]).
//!
//! Python Luigi is installed by xtask itself into a virtualenv under
//! `~/.cache/luigi-rs/venv` (override with `LUIGI_PYTHON=/path/to/python`).

mod bench;
mod loadgen;
mod python;
mod workloads;

use std::process::ExitCode;

fn usage() -> &'static str {
    "usage: cargo xtask bench rpc [--tasks N] [--python-tasks N] [--connections N] [--seconds N] [--no-python] [--no-write] [--no-state] [--luigid PATH]
       cargo xtask bench workloads [--shapes Chain,FanIn,Tree] [--n 1k,10k,100k,1m] [--luigid-n 1k,10k,100k] [--python-n 1k,10k]
                                   [--python-luigid-n 1k] [--modes local,luigid] [--workers 2] [--repeat 3] [--no-python] [--no-write]"
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("bench") => bench::run(&args[1..]),
        Some("-h" | "--help") | None => {
            println!("{}", usage());
            return ExitCode::SUCCESS;
        }
        Some(other) => Err(anyhow::anyhow!("unknown command '{other}'\n{}", usage())),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: {err:#}");
            ExitCode::FAILURE
        }
    }
}
