//! Finds or installs the reference peer: Python Luigi 3.8.1 in a virtualenv.
//!
//! `LUIGI_PYTHON` names an interpreter that already has Luigi; otherwise a virtualenv is
//! created (once) at `~/.cache/luigi-rs/venv` and `luigi==3.8.1` installed into it from PyPI.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, bail};

/// The Python interpreter of an environment with `luigi==3.8.1`.
pub(crate) fn interpreter() -> anyhow::Result<PathBuf> {
    if let Some(python) = std::env::var_os("LUIGI_PYTHON") {
        return Ok(PathBuf::from(python));
    }
    let home = std::env::var_os("HOME").context("HOME is not set; set LUIGI_PYTHON instead")?;
    let venv = PathBuf::from(home).join(".cache/luigi-rs/venv");
    let python = venv.join("bin/python");
    if has_luigi(&python) {
        return Ok(python);
    }
    eprintln!("installing Python Luigi 3.8.1 into {}", venv.display());
    let status = Command::new("python3").args(["-m", "venv"]).arg(&venv).status().context("running python3 -m venv")?;
    if !status.success() {
        bail!("python3 -m venv {} failed", venv.display());
    }
    let status = Command::new(&python)
        .args(["-m", "pip", "install", "--quiet", "luigi==3.8.1"])
        .status()
        .context("running pip install luigi==3.8.1")?;
    if !status.success() || !has_luigi(&python) {
        bail!("could not install luigi==3.8.1 into {}", venv.display());
    }
    Ok(python)
}

fn has_luigi(python: &std::path::Path) -> bool {
    Command::new(python)
        .args(["-c", "import luigi, sys; sys.exit(0 if luigi.__version__ == '3.8.1' else 1)"])
        .output()
        .is_ok_and(|out| out.status.success())
}
