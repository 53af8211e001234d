//! Workspace automation, run as `cargo xtask <command>`:
//!
//! - `ci`: format check, clippy with warnings denied, every test, docs with warnings denied,
//!   and the one-vendor footprint check. This is what `.ci/run` runs.
//! - `demo`: every vendor quickstart against its in-process sandbox, summarised in one table.
//! - `publish-check`: `cargo publish --dry-run` for every published crate.
//! - `footprint`: the one-vendor check alone.
//! - `readme`: the top-level README's sandbox example in a fresh crate with only the
//!   README's dependency lines (part of `ci`).
//!
//! No dependencies beyond std: xtask must build fast on a cold machine.

mod tidy;

use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

/// The published vendor crates; each must compile in no other vendor crate.
const VENDORS: &[&str] = &["ipaas-com", "platformio", "incend", "intelepeer", "iqm"];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("demo") => demo(),
        Some("publish-check") => publish_check(),
        Some("footprint") => footprint(),
        Some("readme") => readme(),
        _ => {
            eprintln!("usage: cargo xtask <ci | demo | publish-check | footprint | readme>");
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
    readme()?;
    run(
        "doc",
        cargo()
            .args(["doc", "--workspace", "--no-deps", "--all-features"])
            .env("RUSTDOCFLAGS", "-D warnings"),
    )?;
    footprint()
}

/// The top-level README's sandbox example, in a fresh crate whose manifest holds exactly the
/// README's dependency lines (the vendor crate pointed at this workspace): it must build and
/// pass with nothing else, so the README cannot promise a dependency set that does not work.
fn readme() -> Result<(), String> {
    let root = workspace_root();
    let readme =
        std::fs::read_to_string(root.join("README.md")).map_err(|e| format!("README.md: {e}"))?;
    let (toml, example) = readme_blocks(&readme)?;
    let dir = root.join("target").join("readme-crate");
    std::fs::create_dir_all(dir.join("tests")).map_err(|e| e.to_string())?;
    let manifest = format!(
        "[package]\nname = \"readme-check\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n[workspace]\n\n{}",
        path_dependencies(&toml, &root)
    );
    std::fs::write(dir.join("Cargo.toml"), manifest).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("tests").join("readme.rs"), example).map_err(|e| e.to_string())?;
    // The workspace's lock pins the same versions; the shared target dir reuses its builds.
    std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock")).map_err(|e| e.to_string())?;
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| root.join("target"));
    run(
        "readme",
        cargo()
            .current_dir(&dir)
            .args(["test", "--offline", "--manifest-path"])
            .arg(dir.join("Cargo.toml"))
            .env("CARGO_TARGET_DIR", target),
    )
}

/// The README's dependency block (after "## Depending on one vendor") and its sandbox
/// example (the first `rust` block after "## Using a sandbox in your own tests").
fn readme_blocks(readme: &str) -> Result<(String, String), String> {
    let block = |heading: &str, fence: &str| -> Result<String, String> {
        let from = readme
            .find(heading)
            .ok_or(format!("README has no {heading:?}"))?;
        let rest = &readme[from..];
        let start = rest
            .find(fence)
            .ok_or(format!("no {fence} block after {heading:?}"))?
            + fence.len();
        let end = rest[start..].find("```").ok_or("unterminated block")?;
        Ok(rest[start..start + end].trim_start_matches('\n').to_owned())
    };
    Ok((
        block("## Depending on one vendor", "```toml")?,
        block("## Using a sandbox in your own tests", "```rust")?,
    ))
}

/// The dependency lines with this workspace's crates pointed at their paths.
fn path_dependencies(toml: &str, root: &std::path::Path) -> String {
    toml.lines()
        .map(|line| {
            let Some((name, spec)) = line.split_once('=') else {
                return line.to_owned();
            };
            let name = name.trim();
            let dir = root.join("crates").join(name);
            if !VENDORS.contains(&name) && name != "auth-core" || !dir.exists() {
                return line.to_owned();
            }
            let spec = spec.split('#').next().unwrap_or_default().trim();
            let path = format!("path = {:?}", dir.display().to_string());
            let table = match spec.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(inner) => format!("{{ {path}, {} }}", inner.trim()),
                None => format!("{{ {path}, version = {spec} }}"),
            };
            format!("{name} = {table}")
        })
        .collect::<Vec<_>>()
        .join("\n")
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
                .copied()
                .filter(|v| v != vendor && names.iter().any(|n| n == v))
                .collect();
            let label = features
                .map(|f| format!(" --features {f}"))
                .unwrap_or_default();
            if others.is_empty() && names.iter().any(|n| n == "auth-core") {
                eprintln!("    {vendor}{label}: auth-core and no other vendor crate");
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
    // Not quiet: on a fresh machine this first build takes minutes, and cargo's own lines
    // show that it is moving.
    eprintln!(
        "building the five quickstarts with their sandboxes (on a fresh machine the first \
         build takes a few minutes; cargo's progress follows)"
    );
    let mut build = cargo();
    build.args(["build", "--features", "auth-core/sandbox"]);
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
    println!();
    for r in rows {
        println!("{}: {}", r.vendor, describe(r));
    }
}

/// What a row shows, in words: "1 sign-in, token expired once, 2 renewals, one 401
/// recovered, 25 pages in 31 calls".
fn describe(r: &Summary) -> String {
    if !r.ok {
        return "FAILED (its output follows)".to_owned();
    }
    let n = |k: &str| r.field(k).parse::<u64>().ok();
    let count = |v: u64, one: &str, many: &str| match v {
        0 => format!("no {many}"),
        1 => format!("1 {one}"),
        v => format!("{v} {many}"),
    };
    let times = |v: u64| match v {
        1 => "once".to_owned(),
        2 => "twice".to_owned(),
        v => format!("{v} times"),
    };
    let mut parts = Vec::new();
    if let Some(s) = n("sign_ins") {
        parts.push(count(s, "sign-in", "sign-ins"));
    }
    match n("expiries") {
        Some(0) | None => parts.push("token never expired".to_owned()),
        Some(e) => parts.push(format!("token expired {}", times(e))),
    }
    if let Some(rn) = n("renewals") {
        parts.push(count(rn, "renewal", "renewals"));
    }
    match n("recovered_401") {
        Some(0) | None => {}
        Some(1) => parts.push("one 401 recovered".to_owned()),
        Some(k) => parts.push(format!("{k} 401s recovered")),
    }
    match (n("pages"), n("calls")) {
        (Some(p), Some(c)) if p > 0 => {
            parts.push(format!(
                "{} in {}",
                count(p, "page", "pages"),
                count(c, "call", "calls")
            ));
        }
        (_, Some(c)) => parts.push(count(c, "call", "calls")),
        _ => {}
    }
    parts.join(", ")
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
    fn a_row_is_described_in_words() {
        let row = |line: &str| Summary {
            fields: parse_summary(line).unwrap(),
            ok: true,
            ..Summary::default()
        };
        assert_eq!(
            describe(&row(
                "DEMO-SUMMARY sign_ins=1 calls=31 pages=25 expiries=1 renewals=1 recovered_401=1"
            )),
            "1 sign-in, token expired once, 1 renewal, one 401 recovered, 25 pages in 31 calls"
        );
        assert_eq!(
            describe(&row(
                "DEMO-SUMMARY sign_ins=0 calls=4 pages=0 expiries=0 renewals=0 recovered_401=0"
            )),
            "no sign-ins, token never expired, no renewals, 4 calls"
        );
        assert_eq!(
            describe(&row(
                "DEMO-SUMMARY sign_ins=2 calls=3 expiries=2 renewals=2 recovered_401=2"
            )),
            "2 sign-ins, token expired twice, 2 renewals, 2 401s recovered, 3 calls"
        );
        assert_eq!(describe(&Summary::default()), "FAILED (its output follows)");
    }

    #[test]
    fn readme_dependency_lines_point_at_the_workspace() {
        let root = std::path::Path::new("/w");
        let toml = "[dependencies]\niqm = \"0.1\"   # note\n\n[dev-dependencies]\niqm = { version = \"0.1\", features = [\"sandbox\"] }\ntokio = { version = \"1\" }";
        let out = path_dependencies(toml, root);
        // /w/crates/iqm does not exist here: lines are kept as they are.
        assert_eq!(out, toml);
        let real = workspace_root();
        let out = path_dependencies(toml, &real);
        let iqm = real.join("crates/iqm").display().to_string();
        assert!(
            out.contains(&format!("iqm = {{ path = {iqm:?}, version = \"0.1\" }}")),
            "{out}"
        );
        assert!(
            out.contains(&format!(
                "iqm = {{ path = {iqm:?}, version = \"0.1\", features = [\"sandbox\"] }}"
            )),
            "{out}"
        );
        assert!(out.contains("tokio = { version = \"1\" }"));
    }

    #[test]
    fn no_summary_line_means_no_fields() {
        assert!(parse_summary("DEMO-SUMMARYvendor=x\nplain output\n").is_none());
        assert!(parse_summary("").is_none());
    }
}
