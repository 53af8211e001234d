//! Workspace automation, run as `cargo xtask <command>`:
//!
//! - `ci`: format check, clippy with warnings denied, every test, docs with warnings denied,
//!   and the one-vendor footprint check. This is what `.ci/run` runs.
//! - `demo`: every vendor quickstart against its in-process sandbox, summarised in one table.
//! - `publish-check`: `cargo publish --dry-run` for every published crate.
//! - `footprint`: the one-vendor check alone.
//!
//! No dependencies beyond std: xtask must build fast on a cold machine.

use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

/// The published vendor crates; each must compile in no other vendor crate.
const VENDORS: &[&str] = &["ipaas-com", "platformio", "incend", "intelepeer", "iqm"];
/// Published crates a user adds on purpose (the Redis token store): no vendor crate may pull
/// them in.
const OPT_IN: &[&str] = &["auth-store-redis"];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("demo") => demo(),
        Some("publish-check") => publish_check(),
        Some("footprint") => footprint(),
        _ => {
            eprintln!("usage: cargo xtask <ci | demo | publish-check | footprint>");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(workspace_root());
    c
}

fn workspace_root() -> std::path::PathBuf {
    let manifest = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .map(|p| p.to_path_buf())
        .unwrap_or(manifest)
}

fn run(step: &str, cmd: &mut Command) -> Result<(), String> {
    eprintln!("==> {step}");
    let start = Instant::now();
    let status = cmd
        .status()
        .map_err(|e| format!("{step}: could not start: {e}"))?;
    eprintln!("    {step}: {:.1}s", start.elapsed().as_secs_f64());
    if status.success() {
        Ok(())
    } else {
        Err(format!("{step} failed ({status})"))
    }
}

fn ci() -> Result<(), String> {
    run("fmt", cargo().args(["fmt", "--all", "--check"]))?;
    run(
        "clippy",
        cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    run(
        "test",
        cargo().args(["test", "--workspace", "--all-features"]),
    )?;
    run(
        "doc",
        cargo()
            .args(["doc", "--workspace", "--no-deps", "--all-features"])
            .env("RUSTDOCFLAGS", "-D warnings"),
    )?;
    footprint()
}

/// A consumer of one vendor crate compiles in no other vendor crate, with or without its
/// sandbox feature.
/// The package names in `cargo tree -p package` over the given edge kinds.
fn tree_names(package: &str, edges: &str, features: Option<&str>) -> Result<Vec<String>, String> {
    let mut cmd = cargo();
    cmd.args([
        "tree", "-p", package, "-e", edges, "--prefix", "none", "--format", "{p}",
    ]);
    if let Some(f) = features {
        cmd.args(["--features", f]);
    }
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cargo tree: {e}"))?;
    if !out.status.success() {
        return Err(format!("cargo tree -p {package} failed"));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect())
}

fn footprint() -> Result<(), String> {
    eprintln!("==> footprint");
    // The check must be able to fail: the contract tests depend on every vendor crate, so
    // the same parsing must find all five there.
    let all = tree_names("contract-tests", "normal,build,dev", None)?;
    let found = VENDORS
        .iter()
        .filter(|v| all.iter().any(|n| n == *v))
        .count();
    if found != VENDORS.len() {
        return Err(format!(
            "footprint self-check found {found} of {} vendor crates in contract-tests",
            VENDORS.len()
        ));
    }
    let mut failures = Vec::new();
    for vendor in VENDORS {
        for features in [None, Some("sandbox")] {
            let names = tree_names(vendor, "normal,build", features)?;
            let others: Vec<&str> = VENDORS
                .iter()
                .chain(OPT_IN)
                .copied()
                .filter(|v| v != vendor && names.iter().any(|n| n == v))
                .collect();
            let label = features
                .map(|f| format!(" --features {f}"))
                .unwrap_or_default();
            if others.is_empty() && names.iter().any(|n| n == "auth-core") {
                eprintln!("    {vendor}{label}: auth-core, no other vendor crate, no opt-in crate");
            } else {
                failures.push(format!("{vendor}{label} pulls in {others:?}"));
            }
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!("footprint check failed: {}", failures.join("; ")))
    }
}

fn publish_check() -> Result<(), String> {
    // Packages and builds each crate alone, in dependency order, against a local copy of
    // the crates not yet on crates.io.
    run(
        "publish --dry-run",
        cargo().args([
            "publish",
            "--workspace",
            "--dry-run",
            "--allow-dirty",
            "--exclude",
            "xtask",
            "--exclude",
            "contract-tests",
        ]),
    )
}

#[derive(Debug, Default, Clone)]
struct Summary {
    vendor: String,
    mode: String,
    fields: Vec<(String, String)>,
    wall: f64,
    ok: bool,
    tail: String,
}

impl Summary {
    fn field(&self, name: &str) -> String {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| "-".into())
    }
}

fn demo() -> Result<(), String> {
    let start = Instant::now();
    let examples: Vec<String> = VENDORS.iter().map(|v| format!("{v}-quickstart")).collect();
    // One build of all five examples, then the binaries run concurrently.
    let mut build = cargo();
    build.args(["build", "--quiet", "--features", "auth-core/sandbox"]);
    for v in VENDORS {
        build.args(["-p", v]);
    }
    for v in VENDORS {
        build.args(["--features", &format!("{v}/sandbox")]);
    }
    for e in &examples {
        build.args(["--example", e]);
    }
    run("build quickstarts", &mut build)?;
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| workspace_root().join("target"));
    let handles: Vec<_> = VENDORS
        .iter()
        .zip(&examples)
        .map(|(vendor, example)| {
            let bin = target.join("debug").join("examples").join(example);
            let vendor = vendor.to_string();
            std::thread::spawn(move || run_quickstart(&vendor, &bin))
        })
        .collect();
    let mut rows = Vec::new();
    for h in handles {
        rows.push(
            h.join()
                .map_err(|_| "a quickstart thread panicked".to_string())?,
        );
    }
    print_table(&rows, start.elapsed().as_secs_f64());
    let failed: Vec<&str> = rows
        .iter()
        .filter(|r| !r.ok)
        .map(|r| r.vendor.as_str())
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        for r in rows.iter().filter(|r| !r.ok) {
            eprintln!("--- {} output (last lines) ---\n{}", r.vendor, r.tail);
        }
        Err(format!("quickstart failed for {failed:?}"))
    }
}

fn run_quickstart(vendor: &str, bin: &std::path::Path) -> Summary {
    let start = Instant::now();
    let mut cmd = Command::new(bin);
    // The demo is the sandbox tour: never let a developer's environment point it at a
    // real vendor.
    for (key, _) in std::env::vars() {
        let prefix = vendor
            .split('-')
            .next()
            .unwrap_or(vendor)
            .to_ascii_uppercase();
        if key.starts_with(&format!("{prefix}_")) {
            cmd.env_remove(&key);
        }
    }
    let output = cmd.stdin(Stdio::null()).output();
    let wall = start.elapsed().as_secs_f64();
    let mut s = Summary {
        vendor: vendor.to_string(),
        wall,
        ..Summary::default()
    };
    let Ok(out) = output else {
        s.tail = format!("could not start {}", bin.display());
        return s;
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let all: Vec<&str> = stdout.lines().chain(stderr.lines()).collect();
    s.tail = all[all.len().saturating_sub(15)..].join("\n");
    if let Some(fields) = parse_summary(&stdout) {
        s.fields = fields;
        s.mode = s.field("mode");
        s.ok = out.status.success();
    }
    s
}

/// The `key=value` pairs of the last `DEMO-SUMMARY` line a quickstart printed.
fn parse_summary(stdout: &str) -> Option<Vec<(String, String)>> {
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with("DEMO-SUMMARY "))?;
    Some(
        line.split_whitespace()
            .skip(1)
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

fn print_table(rows: &[Summary], total: f64) {
    let cols = [
        ("sign_ins", "sign-ins"),
        ("calls", "calls"),
        ("pages", "pages"),
        ("expiries", "expiries"),
        ("renewals", "renewals"),
        ("recovered_401", "401 recovered"),
    ];
    println!();
    print!("{:<12} {:<8}", "vendor", "mode");
    for (_, h) in cols {
        print!(" {h:>13}");
    }
    println!(" {:>9} {:>6}", "wall", "ok");
    for r in rows {
        print!(
            "{:<12} {:<8}",
            r.vendor,
            if r.mode.is_empty() { "-" } else { &r.mode }
        );
        for (k, _) in cols {
            print!(" {:>13}", r.field(k));
        }
        println!(
            " {:>8.2}s {:>6}",
            r.wall,
            if r.ok { "yes" } else { "FAILED" }
        );
    }
    println!("total wall time {total:.2}s (including the build)");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_summary_line_is_read() {
        let out = "signed in\nDEMO-SUMMARY vendor=old calls=1\nmore\nDEMO-SUMMARY vendor=iqm mode=sandbox calls=4 junk\n";
        let s = Summary {
            fields: parse_summary(out).unwrap(),
            ..Summary::default()
        };
        assert_eq!(s.field("vendor"), "iqm");
        assert_eq!(s.field("calls"), "4");
        assert_eq!(s.field("renewals"), "-");
    }

    #[test]
    fn no_summary_line_means_no_fields() {
        assert!(parse_summary("DEMO-SUMMARYvendor=x\nplain output\n").is_none());
        assert!(parse_summary("").is_none());
    }
}
