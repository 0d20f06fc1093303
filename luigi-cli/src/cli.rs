//! The `luigi` command line: `mybin [flags] TaskFamily [flags]`, built from the task registry.
//!
//! As in Luigi (inventory §6.3), every registered task and config section contributes a
//! global flag per parameter, `--<Family>-<param>` (underscores become dashes, dots stay), except
//! sections such as `core` that take theirs without a prefix (`--workers`, `--local-scheduler`);
//! the task being run also gets its parameters as plain `--<param>`. Unambiguous prefixes of long
//! flags are accepted, as argparse does. `--help` lists the common flags and the task's own;
//! `--help-all` lists everything.
//!
//! Parsing happens in two passes because the root task's flags depend on which task it is:
//! the first pass finds the family (the first word that is not a flag or a flag's value), the
//! second parses everything with clap. The result is a [`Parsed`]: the family, the root task's
//! own values (Luigi's constructor arguments) and the global values, which go into the
//! process-wide `ParamContext` so every task and config section resolves them.

use std::collections::HashMap;

use clap::{Arg, ArgAction, Command};
use luigi_core::param::{CliKind, ParamArgs, ParamInfo};
use luigi_core::registry::{self, Registration};

/// One command-line flag.
#[derive(Debug, Clone)]
struct Flag {
    long: String,
    family: &'static str,
    info: ParamInfo,
    /// A parameter of the task being run (`--param`), as opposed to `--Family-param`.
    local: bool,
}

/// What the command line asked for.
#[derive(Debug, Default)]
pub struct Parsed {
    /// The task family to run (`None` when only help was asked for).
    pub family: Option<String>,
    /// The root task's own parameter values.
    pub args: ParamArgs,
    /// `(family, param, value)` for every global flag given.
    pub globals: Vec<(String, String, String)>,
    /// Help text to print instead of running, if `--help`/`--help-all` was given.
    pub help: Option<String>,
    /// `--no-progress`: no live progress display.
    pub no_progress: bool,
}

/// The id and long name of `--no-progress`, a flag of the command line itself rather than of
/// a config section (`[progress] enabled = false` is its configuration twin).
const NO_PROGRESS: &str = "no-progress";

/// Why the command line could not be understood.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No task family was given.
    #[error("No task specified; usage: {program} [flags] TaskFamily [--param value ...] (see --help)")]
    NoTask {
        /// The program name.
        program: String,
    },
    /// The family is unknown or ambiguous.
    #[error(transparent)]
    Registry(#[from] registry::Error),
    /// A flag or value is wrong.
    #[error("{0}")]
    Usage(String),
}

fn dashed(text: &str) -> String {
    text.replace('_', "-")
}

fn global_flags() -> Vec<Flag> {
    let mut flags = Vec::new();
    for registration in registry::registrations() {
        for info in registration.param_infos() {
            let long = if registration.use_cmdline_section() {
                format!("{}-{}", dashed(registration.family()), dashed(info.name))
            } else {
                dashed(info.name)
            };
            flags.push(Flag { long, family: registration.family(), info: *info, local: false });
        }
    }
    flags
}

fn local_flags(registration: &Registration) -> Vec<Flag> {
    registration
        .param_infos()
        .iter()
        .map(|info| Flag { long: dashed(info.name), family: registration.family(), info: *info, local: true })
        .collect()
}

/// Whether a flag consumes the next word as its value.
fn takes_value(kind: CliKind) -> bool {
    matches!(kind, CliKind::Value)
}

/// The flag `word` names (exactly, or as an unambiguous prefix), if any.
fn resolve<'a>(flags: &'a [Flag], word: &str) -> Option<&'a Flag> {
    if let Some(exact) = flags.iter().find(|f| f.long == word) {
        return Some(exact);
    }
    let mut candidates = flags.iter().filter(|f| f.long.starts_with(word));
    let first = candidates.next()?;
    candidates.next().is_none().then_some(first)
}

/// Finds the task family: the first word that is neither a flag nor a flag's value.
fn find_family(flags: &[Flag], args: &[String]) -> Option<String> {
    let mut iter = args.iter();
    while let Some(word) = iter.next() {
        if word == "--" {
            return iter.next().cloned();
        }
        if let Some(flag) = word.strip_prefix("--") {
            if flag.contains('=') {
                continue;
            }
            if resolve(flags, flag).is_some_and(|f| takes_value(f.info.cli)) {
                iter.next();
            }
            continue;
        }
        if word.starts_with('-') && word.len() > 1 {
            continue;
        }
        return Some(word.clone());
    }
    None
}

fn help_text(info: &ParamInfo) -> String {
    let mut text = info.description.unwrap_or("").to_owned();
    if let Some(default) = info.default {
        let value = default();
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(&format!("[default: {value}]"));
    }
    text
}

fn to_arg(flag: &Flag, id: String) -> Arg {
    let arg = Arg::new(id).long(flag.long.clone()).help(help_text(&flag.info));
    match flag.info.cli {
        CliKind::Value => arg.action(ArgAction::Set).value_name(flag.info.type_name.to_uppercase()),
        CliKind::Flag => arg.action(ArgAction::SetTrue),
        CliKind::OptionalValue => {
            arg.action(ArgAction::Set).num_args(0..=1).default_missing_value("true").value_name("true|false")
        }
    }
}

fn command(program: &str, flags: &[Flag]) -> Command {
    let mut command = Command::new(program.to_owned())
        .disable_help_flag(true)
        .disable_version_flag(true)
        .infer_long_args(true)
        .arg(Arg::new("__task").value_name("TASK").index(1));
    for (idx, flag) in flags.iter().enumerate() {
        command = command.arg(to_arg(flag, format!("f{idx}")));
    }
    // A task parameter of the same name keeps the flag.
    if !flags.iter().any(|flag| flag.long == NO_PROGRESS) {
        command = command.arg(
            Arg::new(NO_PROGRESS)
                .long(NO_PROGRESS)
                .action(ArgAction::SetTrue)
                .help("Do not show the live progress display on a terminal ([progress] enabled = false)"),
        );
    }
    command
}

/// Parses `args` (without the program name).
pub fn parse(program: &str, args: &[String]) -> Result<Parsed, Error> {
    let globals = global_flags();
    let family = find_family(&globals, args);
    let registration = match &family {
        Some(family) => Some(registry::lookup(family)?),
        None => None,
    };
    // The root task's own flags win over global flags of the same name.
    let mut flags: Vec<Flag> = registration.map(local_flags).unwrap_or_default();
    let taken: std::collections::HashSet<String> = flags.iter().map(|f| f.long.clone()).collect();
    flags.extend(globals.into_iter().filter(|f| !taken.contains(&f.long)));
    let matches = command(program, &flags)
        .try_get_matches_from(std::iter::once(program.to_owned()).chain(args.iter().cloned()))
        .map_err(|e| Error::Usage(e.to_string()))?;
    let no_progress = matches.try_get_one::<bool>(NO_PROGRESS).ok().flatten().copied().unwrap_or(false);
    let mut parsed = Parsed { family: family.clone(), no_progress, ..Parsed::default() };
    let mut help = None;
    for (idx, flag) in flags.iter().enumerate() {
        let id = format!("f{idx}");
        let value = match flag.info.cli {
            CliKind::Flag => matches.get_flag(&id).then(|| "true".to_owned()),
            _ => matches.get_one::<String>(&id).cloned(),
        };
        let Some(value) = value else { continue };
        if flag.family == "core" && (flag.info.name == "help" || flag.info.name == "help_all") && !flag.local {
            help = Some(flag.info.name == "help_all");
        }
        if flag.local {
            parsed.args.named.push((flag.info.name.to_owned(), value));
        } else {
            parsed.globals.push((flag.family.to_owned(), flag.info.name.to_owned(), value));
        }
    }
    if let Some(all) = help {
        parsed.help = Some(render_help(program, &flags, registration, all));
    } else if family.is_none() {
        return Err(Error::NoTask { program: program.to_owned() });
    }
    Ok(parsed)
}

/// `--help` (common flags and the task's own) or `--help-all` (every flag).
fn render_help(program: &str, flags: &[Flag], registration: Option<&Registration>, all: bool) -> String {
    let shown: Vec<Flag> =
        flags.iter().filter(|f| all || f.local || (f.family == "core") || f.info.always_in_help).cloned().collect();
    let mut command = command(program, &shown).about(match registration {
        Some(registration) => format!("Run {} and everything it requires.", registration.family()),
        None => "Run a task and everything it requires: give its family, then its parameters.".to_owned(),
    });
    if !all {
        command = command.after_help("Use --help-all to list every flag of every task and config section.");
    }
    command.render_help().to_string()
}

/// The families and sections whose flags were given, for error messages and tests.
pub fn flags_by_family(parsed: &Parsed) -> HashMap<String, Vec<(String, String)>> {
    let mut out: HashMap<String, Vec<(String, String)>> = HashMap::new();
    for (family, param, value) in &parsed.globals {
        out.entry(family.clone()).or_default().push((param.clone(), value.clone()));
    }
    out
}
