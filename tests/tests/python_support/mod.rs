//! Shared plumbing for the tests that drive real Python Luigi 3.8.1 (`python_conformance.rs`,
//! `python_workers_e2e.rs`): preparing the Python environment, choosing the luigid under test, and
//! running a harness script from `tests/python/`.
//!
//! The Python side is prepared by `tests/python/setup_venv.sh`, which is idempotent and works offline
//! once its cache exists, so every test simply runs it (once per test binary, behind a `OnceLock`)
//! and reads the two `KEY=value` lines it prints last. When it cannot work (no Python, no network and
//! nothing cached), the tests skip with the reason, unless `LUIGI_TEST_REQUIRE_SERVICES=1` demands
//! the real thing, as CI does.
//!
//! Which luigid is tested: the `LUIGID_BIN` environment variable when set (a command line, usually one
//! path); otherwise [`DEFAULT_LUIGID`]: our own `luigid`, built in the same cargo profile as the test.
//! To check the harness itself against the reference, run with `LUIGID_BIN` naming Python's luigid
//! (with a test clock, `tests/python/clock_luigid.py` wraps it).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The luigid the harnesses start when `LUIGID_BIN` is not set.
pub(crate) const DEFAULT_LUIGID: LuigidDefault = LuigidDefault::OurBuild;

/// Where the default luigid comes from.
#[allow(dead_code, reason = "PythonVenv is kept to check the harness against the reference")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LuigidDefault {
    /// Python Luigi 3.8.1's `luigid` from the harness venv: the reference behaviour.
    PythonVenv,
    /// Our `luigid`, from the same cargo target directory as the running test binary.
    OurBuild,
}

/// The prepared Python side: a venv with Luigi 3.8.1 and the unpacked Luigi 3.8.1 sdist.
#[derive(Clone, Debug)]
pub(crate) struct PythonEnv {
    /// The virtualenv directory.
    pub(crate) venv: PathBuf,
    /// The unpacked sdist (holds Luigi's `test/` directory).
    pub(crate) sdist: PathBuf,
}

impl PythonEnv {
    /// The venv's Python interpreter.
    pub(crate) fn python(&self) -> PathBuf {
        self.venv.join("bin").join("python")
    }
}

/// True when CI demands that unreachable services fail the test instead of skipping it.
pub(crate) fn require_services() -> bool {
    std::env::var("LUIGI_TEST_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

/// `tests/python/`, where the harness scripts live.
pub(crate) fn harness_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("python")
}

/// The Python environment, prepared once per test binary; `None` (after printing why) when it cannot
/// be had and services are not required. Panics when they are.
pub(crate) fn python_env() -> Option<PythonEnv> {
    static ENV: OnceLock<Result<PythonEnv, String>> = OnceLock::new();
    match ENV.get_or_init(setup_python_env) {
        Ok(env) => Some(env.clone()),
        Err(why) if require_services() => {
            panic!("LUIGI_TEST_REQUIRE_SERVICES=1 but the Python Luigi environment is unavailable: {why}")
        }
        Err(why) => {
            println!("skipping: the Python Luigi environment is unavailable: {why}");
            None
        }
    }
}

fn setup_python_env() -> Result<PythonEnv, String> {
    let script = harness_dir().join("setup_venv.sh");
    let output =
        Command::new("bash").arg(&script).output().map_err(|e| format!("cannot run bash {}: {e}", script.display()))?;
    if !output.status.success() {
        return Err(format!(
            "{} failed ({}):\n{}",
            script.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim_end()
        ));
    }
    parse_setup_output(&String::from_utf8_lossy(&output.stdout))
}

/// Reads the `LUIGI_RS_VENV=` and `LUIGI_RS_SDIST=` lines `setup_venv.sh` prints.
pub(crate) fn parse_setup_output(stdout: &str) -> Result<PythonEnv, String> {
    let value = |key: &str| {
        stdout
            .lines()
            .rev()
            .find_map(|line| line.strip_prefix(key).and_then(|rest| rest.strip_prefix('=')))
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .ok_or_else(|| format!("setup_venv.sh printed no {key}= line; its output was:\n{stdout}"))
    };
    Ok(PythonEnv { venv: value("LUIGI_RS_VENV")?, sdist: value("LUIGI_RS_SDIST")? })
}

/// The luigid command line under test, as the harness scripts take it in `LUIGID_BIN`.
pub(crate) fn luigid_command(env: &PythonEnv) -> Result<String, String> {
    if let Ok(configured) = std::env::var("LUIGID_BIN")
        && !configured.trim().is_empty()
    {
        return Ok(configured);
    }
    match DEFAULT_LUIGID {
        LuigidDefault::PythonVenv => Ok(env.venv.join("bin").join("luigid").display().to_string()),
        LuigidDefault::OurBuild => {
            let exe = std::env::current_exe().map_err(|e| format!("cannot locate the test binary: {e}"))?;
            let luigid = our_luigid_beside(&exe)
                .ok_or_else(|| format!("cannot derive the target directory from {}", exe.display()))?;
            if luigid.is_file() {
                Ok(luigid.display().to_string())
            } else {
                Err(format!("{} does not exist; build it first (cargo build -p luigi-cli)", luigid.display()))
            }
        }
    }
}

/// Our `luigid` in the cargo profile directory of a test binary (`<target>/<profile>/deps/<test>`).
pub(crate) fn our_luigid_beside(test_exe: &Path) -> Option<PathBuf> {
    let deps = test_exe.parent()?;
    if deps.file_name()? != "deps" {
        return None;
    }
    Some(deps.parent()?.join(format!("luigid{}", std::env::consts::EXE_SUFFIX)))
}

/// Runs a harness script with the venv's Python, `LUIGID_BIN` set to the luigid under test.
pub(crate) fn run_harness(env: &PythonEnv, luigid: &str, script: &str, args: &[&str]) -> Output {
    let script_path = harness_dir().join(script);
    Command::new(env.python())
        .arg(&script_path)
        .args(args)
        .env("LUIGID_BIN", luigid)
        .env("LUIGI_RS_SDIST", &env.sdist)
        // Keep the source tree free of __pycache__ directories.
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} {}: {e}", env.python().display(), script_path.display()))
}

/// The combined stdout and stderr of a harness run, for failure messages.
pub(crate) fn output_text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setup_output_is_read_from_its_last_lines() {
        let env = parse_setup_output("noise\nLUIGI_RS_VENV=/c/venv\nLUIGI_RS_SDIST=/c/luigi-3.8.1-sdist\n").unwrap();
        assert_eq!(env.venv, Path::new("/c/venv"));
        assert_eq!(env.sdist, Path::new("/c/luigi-3.8.1-sdist"));
        assert_eq!(env.python(), Path::new("/c/venv/bin/python"));
    }

    #[test]
    fn setup_output_without_both_lines_is_an_error() {
        assert!(parse_setup_output("LUIGI_RS_VENV=/c/venv\n").unwrap_err().contains("LUIGI_RS_SDIST"));
        assert!(parse_setup_output("LUIGI_RS_VENV=\nLUIGI_RS_SDIST=/s\n").unwrap_err().contains("LUIGI_RS_VENV"));
        assert!(parse_setup_output("").is_err());
    }

    #[test]
    fn our_luigid_sits_in_the_profile_directory_of_the_test_binary() {
        let exe = Path::new("/t/debug/deps/python_conformance-0123abcd");
        let expected = format!("/t/debug/luigid{}", std::env::consts::EXE_SUFFIX);
        assert_eq!(our_luigid_beside(exe), Some(PathBuf::from(expected)));
        assert_eq!(our_luigid_beside(Path::new("/t/debug/python_conformance")), None);
        assert_eq!(our_luigid_beside(Path::new("python_conformance")), None);
    }
}
