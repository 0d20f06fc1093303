//! `luigi_cli::main()`: what a binary with compiled-in tasks does with its command line.
//!
//! - `mybin [flags] TaskFamily [--param value ...]` runs the task (Luigi's `luigi` command):
//!   configuration, logging, the process lock, the run, the summary, and the `[retcode]` exit
//!   code;
//! - `mybin deps TaskFamily ...` and `mybin deps-tree TaskFamily ...` inspect a task's graph
//!   (Luigi's `luigi-deps` and `luigi-deps-tree`), `mybin grep --prefix ...` searches a
//!   running scheduler (`luigi-grep`).
//!
//! Key decision: the tools are words in front of the task, not separate programs, because in
//! Rust the tasks live in the user's binary — there is no module to import by name. A
//! registered family spelled exactly like a tool word still runs as a task.
//!
//! Exit codes: parse errors exit 2 (as argparse does); errors outside any task exit with
//! `[retcode] unhandled_exception`; a run exits with the code its summary calls for.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use luigi_core::TaskRef;
use luigi_core::config::Configuration;
use luigi_core::param::ParamContext;
use luigi_worker::retcode::{self, Retcode};

use crate::cli;
use crate::run::{BuildOptions, run_tasks};
use crate::tools::{deps, deps_tree, grep};

/// The words that select a tool instead of a task.
const TOOLS: [&str; 3] = ["deps", "deps-tree", "grep"];

/// The `main` of a program whose tasks are compiled in: `mybin TaskFamily --param value ...`,
/// or one of the tools (`mybin deps ...`, `mybin deps-tree ...`, `mybin grep ...`).
///
/// Exits with the `[retcode]` code of the run: 0 on success, `task_failed` (30) when a task
/// failed, `missing_data` (20) for missing external data, `already_running` (10) when the
/// process lock is taken, and so on; `unhandled_exception` (40) for errors outside tasks, and 2
/// for a command line that cannot be parsed.
pub fn main() -> ExitCode {
    luigi_worker::subprocess::init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let program = std::env::args()
        .next()
        .and_then(|p| Path::new(&p).file_name().map(|f| f.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "luigi".to_owned());
    let result = run(&program, &args);
    crate::logging::flush();
    match result {
        Ok(code) => code,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{program}: {err:#}");
            if is_usage_error(&err) {
                return ExitCode::from(2);
            }
            let codes = luigi_core::config::sections::load::<Retcode>().unwrap_or_default();
            exit(codes.exit_code(retcode::Outcome::UnhandledError))
        }
    }
}

/// Output piped into a program that stopped reading (`| head`): not worth an error.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn is_usage_error(err: &anyhow::Error) -> bool {
    err.downcast_ref::<cli::Error>().is_some() || err.downcast_ref::<clap::Error>().is_some()
}

/// Runs one command line (without the program name) and returns its exit code.
pub fn run(program: &str, args: &[String]) -> anyhow::Result<ExitCode> {
    let config = Arc::new(Configuration::load().context("cannot load the configuration")?);
    Configuration::set_global(Arc::clone(&config));
    if let Some(tool) = args.first().filter(|word| TOOLS.contains(&word.as_str()))
        && luigi_core::registry::lookup(tool).is_err()
    {
        return run_tool(program, tool, &args[1..], &config);
    }
    let Some(Root { task: root, no_progress }) = parse_task(program, args, &config)? else {
        return Ok(ExitCode::SUCCESS);
    };
    let mut options = BuildOptions::from_config()?;
    if no_progress {
        options.progress.enabled = false;
    }
    let codes = luigi_core::config::sections::load::<Retcode>().context("invalid [retcode] configuration")?;
    crate::logging::setup(&config, &options.core)?;
    if !options.worker.no_install_shutdown_handler {
        // Before the lock: once our pid is in the lock file, `--take-lock` may signal us.
        luigi_worker::worker::install_shutdown_handler();
    }
    if !options.core.no_lock {
        let lock_size = usize::try_from(options.core.lock_size).unwrap_or(0);
        match luigi_worker::lock::acquire(Path::new(&options.core.lock_pid_dir), lock_size, options.core.take_lock) {
            Ok(_) => {}
            Err(err @ luigi_worker::lock::Error::AlreadyRunning { .. }) => {
                println!("{err}");
                return Ok(exit(codes.exit_code(retcode::Outcome::AlreadyRunning)));
            }
            Err(err) => return Err(err).context("cannot take the process lock"),
        }
    }
    let result = run_tasks(vec![root.clone()], &options)?;
    Ok(exit(codes.for_finished_run(&result.summary, || root.complete().unwrap_or(false))))
}

/// The task a command line asks for, and the command line's own flags.
struct Root {
    task: TaskRef,
    /// `--no-progress`.
    no_progress: bool,
}

/// Parses a task command line, installs its global flags in the process-wide parameter
/// context and builds the root task; `None` when help was printed instead.
fn parse_task(program: &str, args: &[String], config: &Arc<Configuration>) -> anyhow::Result<Option<Root>> {
    let parsed = match cli::parse(program, args) {
        Err(cli::Error::Registry(err)) if args.iter().any(|a| a == "--module" || a.starts_with("--module=")) => {
            return Err(anyhow::Error::new(cli::Error::Registry(err)).context(
                "--module cannot load tasks into a Rust program: tasks are compiled in, so build a binary whose \
                 main calls luigi_cli::main() and links the crate that defines them",
            ));
        }
        other => other?,
    };
    if let Some(help) = &parsed.help {
        println!("{help}");
        return Ok(None);
    }
    let mut context = ParamContext::new(Arc::clone(config));
    for (family, param, value) in &parsed.globals {
        context.set_cli_value(family.clone(), param.clone(), value.clone());
    }
    ParamContext::set_global(context);
    let family = parsed.family.as_deref().context("no task given")?;
    let task = luigi_core::registry::build(family, &parsed.args)?;
    Ok(Some(Root { task, no_progress: parsed.no_progress }))
}

/// `deps`, `deps-tree` or `grep`.
fn run_tool(program: &str, tool: &str, args: &[String], config: &Arc<Configuration>) -> anyhow::Result<ExitCode> {
    let name = format!("{program} {tool}");
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match tool {
        "grep" => {
            let flags =
                grep::GrepArgs::try_parse_from(std::iter::once(name.as_str()).chain(args.iter().map(String::as_str)))?;
            grep::run(&flags, &mut out)?;
        }
        "deps" => {
            let (own, rest) = split_flags(args, &["--upstream-family"]);
            let mut flags = deps::DepsArgs::try_parse_from(std::iter::once(name).chain(own))?;
            let Some(Root { task: root, .. }) = parse_task(program, &rest, config)? else {
                return Ok(ExitCode::SUCCESS);
            };
            flags.upstream_family = flags.resolve_upstream_family(config)?;
            deps::run(&root, &flags, &mut out)?;
        }
        _ => {
            let (own, rest) = split_flags(args, &["--max-lines"]);
            let flags = deps_tree::DepsTreeArgs::try_parse_from(std::iter::once(name).chain(own))?;
            let Some(Root { task: root, .. }) = parse_task(program, &rest, config)? else {
                return Ok(ExitCode::SUCCESS);
            };
            deps_tree::run(&root, &flags, &mut out)?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Separates a tool's own flags (each taking one value, as `--flag v` or `--flag=v`) from the
/// task command line.
fn split_flags(args: &[String], names: &[&str]) -> (Vec<String>, Vec<String>) {
    let (mut own, mut rest) = (Vec::new(), Vec::new());
    let mut words = args.iter();
    while let Some(word) = words.next() {
        let name = word.split_once('=').map_or(word.as_str(), |(name, _)| name);
        if names.contains(&name) {
            own.push(word.clone());
            if !word.contains('=')
                && let Some(value) = words.next()
            {
                own.push(value.clone());
            }
        } else {
            rest.push(word.clone());
        }
    }
    (own, rest)
}

fn exit(code: i64) -> ExitCode {
    ExitCode::from(retcode::process_exit_status(code))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn tool_flags_are_split_from_the_task_command_line() {
        let (own, rest) = split_flags(&words("Top --upstream-family Raw --date 2024-01-01"), &["--upstream-family"]);
        assert_eq!(own, words("--upstream-family Raw"));
        assert_eq!(rest, words("Top --date 2024-01-01"));
        let (own, rest) = split_flags(&words("--max-lines=5 Top --n 3"), &["--max-lines"]);
        assert_eq!(own, words("--max-lines=5"));
        assert_eq!(rest, words("Top --n 3"));
    }

    #[test]
    fn a_tool_flag_without_its_value_is_left_to_clap_to_reject() {
        let (own, rest) = split_flags(&words("Top --max-lines"), &["--max-lines"]);
        assert_eq!(own, words("--max-lines"));
        assert_eq!(rest, words("Top"));
        let err = deps_tree::DepsTreeArgs::try_parse_from(std::iter::once("deps-tree".to_owned()).chain(own));
        assert!(err.is_err());
    }
}
