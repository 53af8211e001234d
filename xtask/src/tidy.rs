//! House rules as tests, after rust-analyzer's `xtask/src/tidy.rs`: every vendor crate keeps
//! the one skeleton (same files, same re-exports, the kit's builder and sandbox, one name
//! for each idea), and no crate grows a doctest that only shows a call compiles.

#![cfg(test)]

use std::fs;
use std::path::{Path, PathBuf};

use crate::{VENDORS, workspace_root};

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn crate_dir(vendor: &str) -> PathBuf {
    workspace_root().join("crates").join(vendor)
}

fn rs_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(rs_files(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// The same files for the same things in every vendor crate, and one test file name.
#[test]
fn every_vendor_crate_has_the_skeleton_files() {
    const SRC: &[&str] = &[
        "auth.rs",
        "client.rs",
        "error.rs",
        "lib.rs",
        "models.rs",
        "sandbox.rs",
    ];
    let mut problems = Vec::new();
    for vendor in VENDORS {
        let src = crate_dir(vendor).join("src");
        let mut names: Vec<String> = fs::read_dir(&src)
            .unwrap_or_else(|e| panic!("{vendor}: {e}"))
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        // A `fuzzing.rs` entry point (compiled only under cargo fuzz) is allowed beside them.
        names.retain(|n| n != "fuzzing.rs");
        if names != SRC {
            problems.push(format!("{vendor}/src has {names:?}, want {SRC:?}"));
        }
        let tests = crate_dir(vendor).join("tests");
        let top: Vec<String> = fs::read_dir(&tests)
            .map(|d| {
                d.flatten()
                    .filter(|e| e.path().extension().is_some_and(|x| x == "rs"))
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        if top != ["client.rs"] {
            problems.push(format!(
                "{vendor}/tests has test files {top:?}, want [\"client.rs\"]"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// What a user touches is re-exported, so a consumer depends on the vendor crate alone.
#[test]
fn every_vendor_crate_reexports_what_users_touch() {
    let mut problems = Vec::new();
    for vendor in VENDORS {
        let lib = read(&crate_dir(vendor).join("src/lib.rs"));
        let exported = |name: &str| {
            lib.lines().any(|l| {
                let l = l.trim();
                (l.starts_with("pub use") || l.starts_with("pub type") || l.contains(" pub use "))
                    && l.contains(name)
            }) || lib.contains(&format!("{name},")) && lib.contains("pub use")
        };
        for name in [
            "Client",
            "ClientBuilder",
            "Error",
            "ErrorKind",
            "Result",
            "SessionStats",
            "ErrorExt",
        ] {
            if !exported(name) {
                problems.push(format!("{vendor}: lib.rs does not re-export {name}"));
            }
        }
        let sandbox = read(&crate_dir(vendor).join("src/sandbox.rs"));
        for name in ["Fault", "ManualClock", "Tokens"] {
            let reexported = sandbox
                .lines()
                .any(|l| l.trim_start().starts_with("pub use") && l.contains(name))
                || sandbox.contains("pub use auth_core::sandbox::{") && sandbox.contains(name);
            if !reexported {
                problems.push(format!("{vendor}: sandbox.rs does not re-export {name}"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Builders and sandboxes come from the kit, and one idea has one name.
#[test]
fn every_vendor_crate_is_built_on_the_kit() {
    const OLD_NAMES: &[&str] = &[
        "fn inject_auth",
        "fn inject_login",
        "fn inject_on_auth",
        "fn expire_all_tokens",
        "fn expire_access_tokens",
        "fn revoke_api_tokens",
        "fn expire_all_sessions",
        "fn expires_in(",
        "fn lock<",
        "MockServer::start",
        "fn session_stats",
        "fn token_expiry",
    ];
    let mut problems = Vec::new();
    for vendor in VENDORS {
        let dir = crate_dir(vendor).join("src");
        let client = read(&dir.join("client.rs"));
        let sandbox = read(&dir.join("sandbox.rs"));
        if !client.contains("client_builder!(") || !client.contains("VendorBuilder for") {
            problems.push(format!(
                "{vendor}: the builder is not the kit's (client_builder!)"
            ));
        }
        if !sandbox.contains("Spec for") || !sandbox.contains("VendorSandbox for") {
            problems.push(format!(
                "{vendor}: the sandbox is not the kit's (Spec, VendorSandbox)"
            ));
        }
        if !read(&dir.join("error.rs")).contains("pub trait ErrorExt") {
            problems.push(format!("{vendor}: error.rs has no ErrorExt trait"));
        }
        for file in rs_files(&dir) {
            let text = read(&file);
            for old in OLD_NAMES {
                if text.contains(old) {
                    problems.push(format!("{}: `{old}` (the kit has this)", file.display()));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A doctest teaches or asserts; one that only shows a call compiles is noise.
#[test]
fn no_doctest_only_shows_that_a_call_compiles() {
    const NOISE: &[&str] = &["# drop(", "# let _ = ", "/// # drop("];
    let mut problems = Vec::new();
    for dir in ["crates/auth-core/src"]
        .into_iter()
        .map(String::from)
        .chain(VENDORS.iter().map(|v| format!("crates/{v}/src")))
    {
        for file in rs_files(&workspace_root().join(&dir)) {
            for (i, line) in read(&file).lines().enumerate() {
                let l = line.trim_start();
                if (l.starts_with("///") || l.starts_with("//!"))
                    && NOISE.iter().any(|n| l.contains(n))
                {
                    problems.push(format!("{}:{}: {}", file.display(), i + 1, l));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// No test is switched off: a test that cannot run cannot fail.
#[test]
fn no_test_is_ignored_or_expects_a_panic() {
    let mut problems = Vec::new();
    for dir in ["crates", "tests", "xtask/src"] {
        for file in rs_files(&workspace_root().join(dir)) {
            if file.ends_with("tidy.rs") {
                continue;
            }
            let text = read(&file);
            for bad in ["#[ignore", "#[should_panic"] {
                if text.contains(bad) {
                    problems.push(format!("{}: {bad}", file.display()));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Lints live in `[workspace.lints]`, not in each crate's `lib.rs`.
#[test]
fn lints_live_in_the_workspace_manifest() {
    let manifest = read(&workspace_root().join("Cargo.toml"));
    assert!(
        manifest.contains("unwrap_used"),
        "[workspace.lints.clippy] lacks unwrap_used"
    );
    let mut problems = Vec::new();
    for c in std::iter::once("auth-core").chain(VENDORS.iter().copied()) {
        let lib = read(&crate_dir(c).join("src/lib.rs"));
        if lib.contains("#![warn(") || lib.contains("#![deny(") {
            problems.push(format!("{c}: lib.rs sets lints itself"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
