//! Shared by the integration tests that run `luigi-cli`'s examples as real processes: where
//! this test binary's profile directory is, and how to build examples into it.
//!
//! `cargo test --test <name>` does not build examples, so tests build them with the `cargo`
//! that runs them, matching this test binary's target directory, target triple and profile;
//! each test file decides when (always, or only when a binary is missing or stale).

use std::path::{Path, PathBuf};
use std::process::Command;

/// `target/<profile>`, from this test binary's path `target/<profile>/deps/<test>-<hash>`.
pub(crate) fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_else(|err| panic!("cannot find the test binary's path: {err}"));
    exe.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| panic!("the test binary {} is not in target/<profile>/deps", exe.display()))
}

/// Where the example `name` is built.
pub(crate) fn example_path(name: &str) -> PathBuf {
    profile_dir().join("examples").join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

/// Runs `cargo build --quiet -p luigi-cli <what>` into this test binary's target directory and
/// profile; `what` is `["--example", name]` or `["--examples"]`.
pub(crate) fn build(what: &[&str]) -> Result<(), String> {
    let profile_dir = profile_dir();
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args(["build", "--quiet", "-p", "luigi-cli"])
        .args(what)
        .arg("--manifest-path")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"));
    // Cargo marks the root of every target directory with CACHEDIR.TAG: either the profile's
    // parent (`target/debug`) or, for a `--target` build, its grandparent
    // (`target/<triple>/debug`).
    let parent = profile_dir.parent().unwrap_or(&profile_dir);
    if parent.join("CACHEDIR.TAG").exists() {
        cmd.arg("--target-dir").arg(parent);
    } else if let (Some(root), Some(triple)) = (parent.parent(), parent.file_name())
        && root.join("CACHEDIR.TAG").exists()
    {
        cmd.arg("--target-dir").arg(root).arg("--target").arg(triple);
    }
    match profile_dir.file_name().and_then(|name| name.to_str()) {
        Some("debug") | None => {}
        Some("release") => {
            cmd.arg("--release");
        }
        Some(profile) => {
            cmd.args(["--profile", profile]);
        }
    }
    let output = cmd.output().map_err(|err| format!("cannot run {cmd:?}: {err}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?} failed ({}):\n{}", output.status, String::from_utf8_lossy(&output.stderr)))
    }
}
