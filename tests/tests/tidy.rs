//! Tidy checks that keep the workspace's structural rules true, run as ordinary tests.
//!
//! - Dependency direction (design §2): `luigi-core` depends on no luigi crate; the worker,
//!   the scheduler and contrib depend on core only (the worker may use the scheduler's
//!   engine for `--local-scheduler`, but nothing depends on the CLI, and contrib never on the
//!   scheduler or the worker). Checked by reading every manifest, so a forbidden edge
//!   fails `cargo test` before anyone builds on it.
//! - Every `.rs` file opens with a `//!` comment saying what it is for.
//! - No `todo!()`/`unimplemented!()` left in the tree, and no `#[ignore]`d tests.

use std::fs;
use std::path::{Path, PathBuf};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ sits inside the workspace").to_path_buf()
}

/// The luigi crates a manifest depends on, in any dependency table.
fn luigi_dependencies(manifest: &Path) -> Vec<(String, String)> {
    let text = fs::read_to_string(manifest).unwrap_or_else(|e| panic!("reading {}: {e}", manifest.display()));
    let doc: toml::Table = text.parse().unwrap_or_else(|e| panic!("parsing {}: {e}", manifest.display()));
    let mut found = Vec::new();
    let mut tables: Vec<(String, &toml::Table)> = Vec::new();
    for key in ["dependencies", "dev-dependencies", "build-dependencies"] {
        if let Some(table) = doc.get(key).and_then(toml::Value::as_table) {
            tables.push((key.to_owned(), table));
        }
    }
    if let Some(targets) = doc.get("target").and_then(toml::Value::as_table) {
        for (cfg, target) in targets {
            for key in ["dependencies", "dev-dependencies", "build-dependencies"] {
                if let Some(table) = target.get(key).and_then(toml::Value::as_table) {
                    tables.push((format!("target.{cfg}.{key}"), table));
                }
            }
        }
    }
    for (kind, table) in tables {
        for name in table.keys() {
            if name.starts_with("luigi-") {
                found.push((kind.clone(), name.clone()));
            }
        }
    }
    found
}

#[test]
fn dependency_direction_follows_the_design() {
    let root = workspace_root();
    // crate → the luigi crates it may depend on (normal dependencies).
    let allowed: &[(&str, &[&str])] = &[
        ("luigi-core", &["luigi-derive"]),
        ("luigi-core/derive", &[]),
        ("luigi-scheduler", &["luigi-core"]),
        ("luigi-worker", &["luigi-core"]),
        ("luigi-contrib", &["luigi-core"]),
        ("luigi-cli", &["luigi-core", "luigi-worker", "luigi-scheduler", "luigi-contrib"]),
    ];
    let mut violations = Vec::new();
    for (dir, permitted) in allowed {
        let manifest = root.join(dir).join("Cargo.toml");
        for (kind, dep) in luigi_dependencies(&manifest) {
            // Dev-dependencies may reach further for tests, but never the CLI from a library.
            let ok =
                if kind.contains("dev-dependencies") { dep != "luigi-cli" } else { permitted.contains(&dep.as_str()) };
            if !ok {
                violations.push(format!("{dir} has {kind} on {dep}"));
            }
        }
    }
    assert!(violations.is_empty(), "forbidden dependency edges (design §2):\n{}", violations.join("\n"));
}

#[test]
fn the_check_catches_a_forbidden_edge() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("Cargo.toml");
    fs::write(
        &manifest,
        "[package]\nname = \"x\"\n[dependencies]\nluigi-worker = { path = \"../w\" }\nserde = \"1\"\n",
    )
    .unwrap();
    assert_eq!(luigi_dependencies(&manifest), vec![("dependencies".to_owned(), "luigi-worker".to_owned())]);
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if path.is_dir() {
            if name != "target" && !name.starts_with('.') && name != "node_modules" {
                rust_files(&path, out);
            }
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_rust_file_opens_with_a_module_comment() {
    let mut files = Vec::new();
    rust_files(&workspace_root(), &mut files);
    assert!(files.len() > 10, "found only {} .rs files; is the walk broken?", files.len());
    let missing: Vec<String> = files
        .iter()
        .filter(|path| {
            let text = fs::read_to_string(path).unwrap_or_default();
            !text.trim_start().starts_with("//!")
        })
        .map(|path| path.display().to_string())
        .collect();
    assert!(missing.is_empty(), "these files lack a leading //! comment:\n{}", missing.join("\n"));
}

#[test]
fn no_stubs_or_ignored_tests() {
    let mut files = Vec::new();
    rust_files(&workspace_root(), &mut files);
    let this_file = Path::new(file!()).file_name().unwrap();
    let banned = [concat!("todo", "!("), concat!("unimplemented", "!("), concat!("#[", "ignore")];
    let mut hits = Vec::new();
    for path in files.iter().filter(|p| p.file_name() != Some(this_file)) {
        let text = fs::read_to_string(path).unwrap_or_default();
        for (line_no, line) in text.lines().enumerate() {
            if banned.iter().any(|b| line.contains(b)) {
                hits.push(format!("{}:{}: {}", path.display(), line_no + 1, line.trim()));
            }
        }
    }
    assert!(hits.is_empty(), "stubs or ignored tests:\n{}", hits.join("\n"));
}
