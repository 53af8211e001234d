//! Workspace automation, run as `cargo xtask <command>`:
//!
//! - `ci`: format check, clippy with warnings denied, every test, docs with warnings denied,
//!   and the one-vendor footprint check. This is what `.ci/run` runs.
//! - `demo`: every vendor quickstart against its in-process sandbox, summarised in one table.
//! - `demo --fleet [N] [--redis-url URL]`: N IQM client processes (the `fleet_member`
//!   example of auth-store-redis) sharing one token through Redis, beside N that keep
//!   their own, against one sandbox each; one table of sign-ins and renewals. Redis is
//!   `--redis-url`, else `REDIS_URL`, else a `redis-server` started here on a free port.
//! - `publish-check`: `cargo publish --dry-run` for every published crate.
//! - `footprint`: the one-vendor check alone.
//! - `readme`: the top-level README's sandbox example in a fresh crate with only the
//!   README's dependency lines (part of `ci`).
//! - `fuzz [SECONDS]`: every `cargo fuzz` target in `fuzz/` for SECONDS each (default 60),
//!   one table of executions; fails on any crash. Needs `cargo install cargo-fuzz`.
//!
//! No dependencies beyond std: xtask must build fast on a cold machine.

mod tidy;

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
        Some("demo") if args.iter().any(|a| a == "--fleet") => demo_fleet(&args[1..]),
        Some("demo") => demo(),
        Some("publish-check") => publish_check(),
        Some("footprint") => footprint(),
        Some("readme") => readme(),
        Some("fuzz") => fuzz(&args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask <ci | demo [--fleet [N] [--redis-url URL]] | publish-check | footprint | readme | fuzz [SECONDS]>"
            );
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
    // The fuzz crate is its own workspace, outside `--all`.
    run(
        "fmt fuzz",
        cargo().args(["fmt", "--check", "--manifest-path", "fuzz/Cargo.toml"]),
    )?;
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
    // Code behind a feature gate can leave something unused without it, which the
    // workspace-wide run never shows: there the tests' features are on for every crate.
    // Each published library alone, then, as a user compiles it: with its default
    // features and with none.
    let libraries: Vec<&str> = ["auth-core"]
        .iter()
        .chain(VENDORS)
        .chain(OPT_IN)
        .copied()
        .collect();
    for library in &libraries {
        for (flags, label) in [(&[][..], "default"), (&["--no-default-features"][..], "no")] {
            run(
                &format!("clippy {library}, {label} features"),
                cargo()
                    .args(["clippy", "--lib", "-p", library])
                    .args(flags)
                    .args(["--", "-D", "warnings"]),
            )?;
        }
    }
    {
        // The Redis store's tests need a real redis-server: the one REDIS_URL names, else one
        // started here (stopped when the tests end) by .ci/redis.sh, which installs it from
        // the system packages when missing.
        let redis = TestRedis::start()?;
        let mut test = cargo();
        test.args(["test", "--workspace", "--all-features"]);
        if let Some(redis) = &redis {
            test.envs(redis.env.iter().map(|(k, v)| (k, v)));
        }
        run("test", &mut test)?;
    }
    readme()?;
    run(
        "doc",
        cargo()
            .args(["doc", "--workspace", "--no-deps", "--all-features"])
            .env("RUSTDOCFLAGS", "-D warnings"),
    )?;
    footprint()
}

/// A redis-server `.ci/redis.sh` started for the tests; stopped when dropped.
struct TestRedis {
    env: Vec<(String, String)>,
}

impl TestRedis {
    /// `None` when `REDIS_URL` already names one.
    fn start() -> Result<Option<TestRedis>, String> {
        if std::env::var_os("REDIS_URL").is_some() {
            return Ok(None);
        }
        eprintln!("==> redis-server for the Redis store's tests (.ci/redis.sh start)");
        let out = Command::new("bash")
            .args([".ci/redis.sh", "start"])
            .current_dir(workspace_root())
            .stderr(std::process::Stdio::inherit())
            .output()
            .map_err(|e| format!(".ci/redis.sh: could not start: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                ".ci/redis.sh start failed ({}): the Redis store's tests need a redis-server \
                 (set REDIS_URL to use your own)",
                out.status
            ));
        }
        let env = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.strip_prefix("export ")?.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        Ok(Some(TestRedis { env }))
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .args([".ci/redis.sh", "stop"])
            .current_dir(workspace_root())
            .status();
    }
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
        "[package]\nname = \"readme-check\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n[workspace]\n\n{}\n{}",
        path_dependencies(&toml, &root),
        dev_profile(&root)?
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

/// The workspace's `[profile.dev...]` sections, for a crate built as its own workspace in the
/// same target dir: without them its dependencies are built again, with full debug info (a
/// second copy of the tree on disk, which a small CI disk does not hold).
fn dev_profile(root: &std::path::Path) -> Result<String, String> {
    let manifest =
        std::fs::read_to_string(root.join("Cargo.toml")).map_err(|e| format!("Cargo.toml: {e}"))?;
    let mut out = String::new();
    let mut keep = false;
    for line in manifest.lines() {
        if line.starts_with('[') {
            keep = line.starts_with("[profile.dev");
        }
        if keep {
            out.push_str(line);
            out.push('\n');
        }
    }
    if out.is_empty() {
        return Err("Cargo.toml has no [profile.dev] section".into());
    }
    Ok(out)
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
/// The packages in `cargo tree -p package`, as (name, version) pairs such as
/// ("reqwest", "v0.13.5"), one per line of the tree (so repeated).
fn tree_packages(
    package: &str,
    edges: &str,
    features: Option<&str>,
) -> Result<Vec<(String, String)>, String> {
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
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            Some((words.next()?.to_owned(), words.next()?.to_owned()))
        })
        .collect())
}

/// The distinct versions of `name` among `packages`.
fn versions_of(packages: &[(String, String)], name: &str) -> Vec<String> {
    let mut found: Vec<String> = packages
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v.clone())
        .collect();
    found.sort();
    found.dedup();
    found
}

/// The reqwest line every vendor crate is on: a user hands us a client of this line.
const REQWEST_LINE: &str = "v0.13.";
/// Crates no vendor crate may compile by default: aws-lc (reqwest 0.13's `rustls` feature
/// brings it; the vendors use ring, a far lighter build) and the middleware adapter's
/// dependency, which only the `middleware` feature brings.
const NOT_BY_DEFAULT: &[&str] = &["aws-lc-sys", "aws-lc-rs", "reqwest-middleware"];

fn footprint() -> Result<(), String> {
    eprintln!("==> footprint");
    // The check must be able to fail: the contract tests depend on every vendor crate, so
    // the same parsing must find all five there, and reqwest.
    let all = tree_packages("contract-tests", "normal,build,dev", None)?;
    let found = VENDORS
        .iter()
        .filter(|v| all.iter().any(|(n, _)| n == *v))
        .count();
    if found != VENDORS.len() || versions_of(&all, "reqwest").is_empty() {
        return Err(format!(
            "footprint self-check found {found} of {} vendor crates and reqwest {:?} in contract-tests",
            VENDORS.len(),
            versions_of(&all, "reqwest")
        ));
    }
    let mut failures = Vec::new();
    for vendor in VENDORS {
        for features in [None, Some("sandbox")] {
            let packages = tree_packages(vendor, "normal,build", features)?;
            let has = |name: &str| packages.iter().any(|(n, _)| n == name);
            let others: Vec<&str> = VENDORS
                .iter()
                .chain(OPT_IN)
                .chain(NOT_BY_DEFAULT)
                .copied()
                .filter(|v| v != vendor && has(v))
                .collect();
            let label = features
                .map(|f| format!(" --features {f}"))
                .unwrap_or_default();
            let reqwest = versions_of(&packages, "reqwest");
            let one_reqwest = reqwest.len() == 1 && reqwest[0].starts_with(REQWEST_LINE);
            if others.is_empty() && has("auth-core") && one_reqwest {
                eprintln!(
                    "    {vendor}{label}: auth-core, reqwest {}, no other vendor crate, no opt-in crate, no aws-lc",
                    reqwest[0]
                );
            } else {
                failures.push(format!(
                    "{vendor}{label} pulls in {others:?}, reqwest {reqwest:?} (want one {REQWEST_LINE}x)"
                ));
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

/// The cargo-fuzz release `.ci/run` installs; named in the error when it is missing.
const CARGO_FUZZ_VERSION: &str = "0.13.2";

/// How each target is built and run. No sanitizer: the workspace forbids `unsafe`, so what
/// the fuzzer can find is panics, overflows and failed assertions, which need no ASan; and
/// ASan made every target about 6x slower here (jwt_text 46k exec/s with it, 296k without;
/// jwt_structured 10k vs 69k), so the same budget tries six times the inputs. cargo fuzz
/// still builds optimized with debug assertions and overflow checks on.
const FUZZ_BUILD_FLAGS: &[&str] = &["--sanitizer", "none"];

/// libFuzzer's per-input time limit in seconds: an input this slow is a hang, reported as
/// a failure like a crash.
const FUZZ_INPUT_TIMEOUT: u32 = 10;

/// One target's run.
#[derive(Debug)]
struct FuzzRun {
    target: String,
    executions: Option<u64>,
    per_second: Option<u64>,
    wall: f64,
    failure: Option<String>,
}

fn fuzz(args: &[String]) -> Result<(), String> {
    let seconds: u32 =
        match args {
            [] => 60,
            [s] => s.parse().ok().filter(|s| *s > 0).ok_or_else(|| {
                format!("fuzz: SECONDS must be a positive whole number, not {s:?}")
            })?,
            _ => return Err("usage: cargo xtask fuzz [SECONDS]".into()),
        };
    let installed = cargo()
        .args(["fuzz", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !installed {
        return Err(format!(
            "cargo fuzz is not installed: run `cargo install cargo-fuzz --locked --version \
             {CARGO_FUZZ_VERSION}` (libFuzzer builds on the stable toolchain through \
             RUSTC_BOOTSTRAP=1, which this command sets)"
        ));
    }
    let targets = fuzz_targets()?;
    // The harness's own tests (the secret's encodings the properties look for).
    run(
        "fuzz harness tests",
        cargo().args(["test", "--manifest-path", "fuzz/Cargo.toml", "--lib"]),
    )?;
    // Built once: `cargo fuzz run` with the same flags then finds every target up to date.
    run(
        "fuzz build",
        cargo_fuzz().arg("build").args(FUZZ_BUILD_FLAGS),
    )?;
    let root = workspace_root().join("fuzz");
    let mut runs = Vec::new();
    for target in &targets {
        eprintln!("==> fuzz {target} ({seconds} s)");
        runs.push(fuzz_one(&root, target, seconds)?);
    }
    print_fuzz_table(&runs, seconds);
    let failed: Vec<&FuzzRun> = runs.iter().filter(|r| r.failure.is_some()).collect();
    if failed.is_empty() {
        return Ok(());
    }
    for r in &failed {
        eprintln!(
            "--- {} (full output in fuzz/artifacts/{}/last-run.log) ---\n{}",
            r.target,
            r.target,
            r.failure.as_deref().unwrap_or_default()
        );
    }
    Err(format!(
        "fuzzing failed for {:?}",
        failed.iter().map(|r| r.target.as_str()).collect::<Vec<_>>()
    ))
}

/// `cargo fuzz` in the workspace root, with libFuzzer's nightly flags allowed on stable.
fn cargo_fuzz() -> Command {
    let mut c = cargo();
    c.arg("fuzz").env("RUSTC_BOOTSTRAP", "1");
    c
}

fn fuzz_targets() -> Result<Vec<String>, String> {
    let out = cargo_fuzz()
        .arg("list")
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cargo fuzz list: {e}"))?;
    if !out.status.success() {
        return Err("cargo fuzz list failed".into());
    }
    let targets: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    if targets.is_empty() {
        return Err("cargo fuzz list found no targets in fuzz/".into());
    }
    Ok(targets)
}

/// Run one target on its generated corpus (written, ignored by git) and its committed seeds
/// (read only: libFuzzer writes new inputs to the first directory alone).
fn fuzz_one(root: &std::path::Path, target: &str, seconds: u32) -> Result<FuzzRun, String> {
    let corpus = root.join("corpus").join(target);
    let seeds = root.join("seeds").join(target);
    let artifacts = root.join("artifacts").join(target);
    for dir in [&corpus, &artifacts] {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let start = Instant::now();
    let out = cargo_fuzz()
        .arg("run")
        .args(FUZZ_BUILD_FLAGS)
        .arg(target)
        .arg(&corpus)
        .arg(&seeds)
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .arg(format!("-timeout={FUZZ_INPUT_TIMEOUT}"))
        .arg("-print_final_stats=1")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cargo fuzz run {target}: {e}"))?;
    let wall = start.elapsed().as_secs_f64();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let log = artifacts.join("last-run.log");
    std::fs::write(&log, &text).map_err(|e| format!("{}: {e}", log.display()))?;
    let failure = (!out.status.success()).then(|| failure_summary(&text));
    Ok(FuzzRun {
        target: target.to_owned(),
        executions: final_stat(&text, "stat::number_of_executed_units"),
        per_second: final_stat(&text, "stat::average_exec_per_sec"),
        wall,
        failure,
    })
}

/// What to show of a failed run: the panic (or libFuzzer's error) and how to reproduce it,
/// else the output's last lines.
fn failure_summary(output: &str) -> String {
    let lines: Vec<&str> = output.lines().collect();
    let mut keep: Vec<&str> = Vec::new();
    if let Some(at) = lines
        .iter()
        .position(|l| l.contains("panicked at") || l.contains("ERROR: libFuzzer"))
    {
        keep.extend(
            lines[at..]
                .iter()
                .take_while(|l| !l.starts_with("stack backtrace:") && !l.starts_with("note:"))
                .take(12),
        );
    }
    if let Some(at) = lines.iter().position(|l| l.starts_with("Reproduce with:")) {
        keep.extend(lines[at..].iter().take(3).filter(|l| !l.trim().is_empty()));
    }
    if keep.is_empty() {
        keep.extend(&lines[lines.len().saturating_sub(30)..]);
    }
    keep.join("\n")
}

/// A number libFuzzer prints with `-print_final_stats=1`, as `stat::name: 1234`.
fn final_stat(output: &str, name: &str) -> Option<u64> {
    output.lines().rev().find_map(|l| {
        l.trim()
            .strip_prefix(name)?
            .strip_prefix(':')?
            .trim()
            .parse()
            .ok()
    })
}

fn print_fuzz_table(runs: &[FuzzRun], seconds: u32) {
    let show = |n: Option<u64>| n.map_or_else(|| "-".to_owned(), |n| n.to_string());
    println!();
    println!(
        "{:<16} {:>14} {:>10} {:>8}  result ({seconds} s each)",
        "target", "executions", "exec/s", "wall"
    );
    for r in runs {
        println!(
            "{:<16} {:>14} {:>10} {:>7.1}s  {}",
            r.target,
            show(r.executions),
            show(r.per_second),
            r.wall,
            if r.failure.is_some() { "FAILED" } else { "ok" }
        );
    }
    let total: u64 = runs.iter().filter_map(|r| r.executions).sum();
    println!("total executions {total}");
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

/// How many members each side of the fleet demo has, how long they run, and how long the
/// sandbox's tokens live (short, so the run crosses several expiries in real time).
const FLEET_MEMBERS: usize = 4;
const FLEET_RUN: std::time::Duration = std::time::Duration::from_secs(10);
const FLEET_TOKEN_LIFETIME_S: u64 = 4;

/// The fleet demo's arguments: the number of members and where Redis is.
fn fleet_args(args: &[String]) -> Result<(usize, Option<String>), String> {
    let mut members = FLEET_MEMBERS;
    let mut redis = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--fleet" => {}
            "--redis-url" => {
                redis = Some(it.next().ok_or("--redis-url needs a URL")?.clone());
            }
            n => {
                members = n
                    .parse()
                    .ok()
                    .filter(|n| (1..=32).contains(n))
                    .ok_or_else(|| {
                        format!("demo --fleet: {n:?} is not a member count (1 to 32)")
                    })?;
            }
        }
    }
    Ok((members, redis))
}

/// A redis-server this command started (stopped when dropped).
struct OwnRedis(std::process::Child);

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start a loopback redis-server on a free port, if one is installed.
fn start_redis() -> Option<(OwnRedis, String)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let child = Command::new("redis-server")
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let redis = OwnRedis(child);
    let start = Instant::now();
    while start.elapsed() < std::time::Duration::from_secs(5) {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some((redis, format!("redis://127.0.0.1:{port}")));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    None
}

/// A whole-number field of a one-line JSON object, as `fleet_member` prints them.
fn json_u64(line: &str, key: &str) -> Option<u64> {
    let at = line.find(&format!("\"{key}\":"))? + key.len() + 3;
    let digits: String = line[at..]
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// A string field of a one-line JSON object (no escapes: a URL).
fn json_str(line: &str, key: &str) -> Option<String> {
    let at = line.find(&format!("\"{key}\":\""))? + key.len() + 4;
    Some(line[at..].split('"').next()?.to_owned())
}

/// One side of the fleet demo, as the sandbox and its members counted it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct FleetRun {
    members: usize,
    logins: u64,
    refreshes: u64,
    calls: u64,
    failed: u64,
    loaded: u64,
    fallbacks: u64,
}

impl FleetRun {
    fn token_requests(&self) -> u64 {
        self.logins + self.refreshes
    }
}

/// A started side: its sandbox host and its members, all reading `stop` on stdin.
struct FleetSide {
    host: std::process::Child,
    host_out: std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
    members: Vec<std::process::Child>,
}

fn start_side(
    bin: &std::path::Path,
    members: usize,
    redis: Option<&str>,
) -> Result<FleetSide, String> {
    use std::io::BufRead as _;
    let clean = |cmd: &mut Command| {
        for (key, _) in std::env::vars() {
            if key.starts_with("FLEET_") || key.starts_with("IQM_") || key == "REDIS_URL" {
                cmd.env_remove(&key);
            }
        }
    };
    let mut host_cmd = Command::new(bin);
    clean(&mut host_cmd);
    let mut host = host_cmd
        .arg("--sandbox")
        .env("FLEET_TOKEN_LIFETIME_S", FLEET_TOKEN_LIFETIME_S.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not start {}: {e}", bin.display()))?;
    let stdout = host.stdout.take().ok_or("no stdout")?;
    let mut host_out = std::io::BufReader::new(stdout).lines();
    let first = host_out
        .next()
        .and_then(Result::ok)
        .ok_or("the fleet sandbox printed nothing")?;
    let url = json_str(&first, "sandbox_url").ok_or(format!("no sandbox url in {first:?}"))?;
    let namespace = format!("xtask-demo-fleet-{}", std::process::id());
    let mut started = Vec::new();
    for _ in 0..members {
        let mut cmd = Command::new(bin);
        clean(&mut cmd);
        cmd.env("SANDBOX_URL", &url)
            .env("FLEET_INTERVAL_MS", "100")
            .env("FLEET_NAMESPACE", &namespace)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        if let Some(r) = redis {
            cmd.env("REDIS_URL", r);
        }
        started.push(
            cmd.spawn()
                .map_err(|e| format!("could not start a member: {e}"))?,
        );
    }
    Ok(FleetSide {
        host,
        host_out,
        members: started,
    })
}

fn stop_side(side: FleetSide) -> Result<FleetRun, String> {
    use std::io::Write as _;
    let mut run = FleetRun {
        members: side.members.len(),
        ..FleetRun::default()
    };
    for mut m in side.members {
        if let Some(mut stdin) = m.stdin.take() {
            let _ = stdin.write_all(b"stop\n");
        }
        let out = m.wait_with_output().map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text.lines().last().unwrap_or_default();
        let n = |k: &str| json_u64(line, k).unwrap_or(0);
        if !out.status.success() {
            run.failed += 1;
        }
        run.calls += n("calls");
        run.failed += n("failed_calls");
        run.loaded += n("store_loaded");
        run.fallbacks += n("store_fallbacks");
    }
    let mut host = side.host;
    drop(host.stdin.take());
    let last = side
        .host_out
        .map_while(Result::ok)
        .last()
        .ok_or("the fleet sandbox printed no counts")?;
    let _ = host.wait();
    run.logins = json_u64(&last, "logins").unwrap_or(0);
    run.refreshes = json_u64(&last, "refreshes").unwrap_or(0);
    Ok(run)
}

fn demo_fleet(args: &[String]) -> Result<(), String> {
    let (members, given) = fleet_args(args)?;
    let mut own = None;
    let redis = match given.or_else(|| std::env::var("REDIS_URL").ok()) {
        Some(url) => url,
        None => {
            let (server, url) = start_redis().ok_or(
                "the fleet demo needs Redis: give --redis-url URL or REDIS_URL, or install \
                 redis-server (apt-get install redis-server) so it can start one",
            )?;
            own = Some(server);
            url
        }
    };
    run(
        "build fleet_member",
        cargo().args([
            "build",
            "-p",
            "auth-store-redis",
            "--example",
            "fleet_member",
        ]),
    )?;
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| workspace_root().join("target"));
    let bin = target.join("debug").join("examples").join("fleet_member");
    eprintln!(
        "==> {members} processes sharing one token through {} and {members} on their own, \
         {}s, tokens living {FLEET_TOKEN_LIFETIME_S}s",
        if own.is_some() {
            "a redis-server started here"
        } else {
            "Redis"
        },
        FLEET_RUN.as_secs()
    );
    // Both sides at once, each with its own sandbox.
    let fleet = start_side(&bin, members, Some(&redis))?;
    let separate = start_side(&bin, members, None)?;
    std::thread::sleep(FLEET_RUN);
    let fleet = stop_side(fleet)?;
    let separate = stop_side(separate)?;
    drop(own);
    print_fleet_table(&fleet, &separate);
    if fleet.failed + separate.failed > 0 {
        return Err("some calls failed (the members' errors are above)".into());
    }
    Ok(())
}

fn print_fleet_table(fleet: &FleetRun, separate: &FleetRun) {
    println!();
    println!(
        "{:<36} {:>9} {:>10} {:>15} {:>7} {:>7} {:>18}",
        "", "sign-ins", "refreshes", "token requests", "calls", "failed", "loaded from redis"
    );
    let row = |name: String, r: &FleetRun, loaded: String| {
        println!(
            "{name:<36} {:>9} {:>10} {:>15} {:>7} {:>7} {loaded:>18}",
            r.logins,
            r.refreshes,
            r.token_requests(),
            r.calls,
            r.failed
        );
    };
    row(
        format!("fleet: {} processes, one token", fleet.members),
        fleet,
        fleet.loaded.to_string(),
    );
    row(
        format!("{} separate processes", separate.members),
        separate,
        "-".to_owned(),
    );
    println!();
    println!("{}", describe_fleet(fleet, separate));
}

/// The table in one sentence.
fn describe_fleet(fleet: &FleetRun, separate: &FleetRun) -> String {
    let ratio = if fleet.token_requests() == 0 {
        String::new()
    } else {
        format!(
            " ({:.1}x fewer)",
            separate.token_requests() as f64 / fleet.token_requests() as f64
        )
    };
    let fallbacks = match fleet.fallbacks {
        0 => String::new(),
        n => format!("; {n} renewals fell back to a process's own while Redis did not answer"),
    };
    format!(
        "the fleet of {} signed in {} time(s) and renewed {} time(s): {} token requests where {} \
         separate processes made {}{ratio}{fallbacks}",
        fleet.members,
        fleet.logins,
        fleet.refreshes,
        fleet.token_requests(),
        separate.members,
        separate.token_requests()
    )
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
    fn libfuzzer_final_stats_are_read() {
        let out = "#1000 DONE cov: 1 ft: 2\nDone 1000 runs in 2 second(s)\n\
                   stat::number_of_executed_units: 1775654\n\
                   stat::average_exec_per_sec:     295942\n\
                   stat::peak_rss_mb:              40\n";
        assert_eq!(
            final_stat(out, "stat::number_of_executed_units"),
            Some(1_775_654)
        );
        assert_eq!(final_stat(out, "stat::average_exec_per_sec"), Some(295_942));
        assert_eq!(final_stat(out, "stat::slowest_unit_time_sec"), None);
        assert_eq!(
            final_stat("crashed before any stats", "stat::peak_rss_mb"),
            None
        );
    }

    #[test]
    fn a_failure_shows_the_panic_and_the_reproduction() {
        let out = "#5 INITED\nthread '<unnamed>' panicked at src/lib.rs:193:17:\n\
                   Debug of the error shows the secret\nstack backtrace:\n   0: frame\n\
                   ==1== ERROR: libFuzzer: deadly signal\n\
                   Reproduce with:\n\n\tcargo fuzz run scrub fuzz/artifacts/scrub/crash-1\n\n\
                   Minimize test case with:\n";
        assert_eq!(
            failure_summary(out),
            "thread '<unnamed>' panicked at src/lib.rs:193:17:\n\
             Debug of the error shows the secret\n\
             Reproduce with:\n\tcargo fuzz run scrub fuzz/artifacts/scrub/crash-1"
        );
        assert_eq!(failure_summary("a\nb"), "a\nb");
    }

    #[test]
    fn the_fleet_demo_reads_its_arguments_and_the_members_lines() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(fleet_args(&args(&["--fleet"])), Ok((FLEET_MEMBERS, None)));
        assert_eq!(
            fleet_args(&args(&["--fleet", "6", "--redis-url", "redis://h:1"])),
            Ok((6, Some("redis://h:1".to_owned())))
        );
        assert!(fleet_args(&args(&["--fleet", "0"])).is_err());
        assert!(fleet_args(&args(&["--fleet", "--redis-url"])).is_err());
        let line = r#"{"calls":118,"failed_calls":0,"pid":42,"store_loaded":7}"#;
        assert_eq!(json_u64(line, "calls"), Some(118));
        assert_eq!(json_u64(line, "failed_calls"), Some(0));
        assert_eq!(json_u64(line, "store_loaded"), Some(7));
        assert_eq!(json_u64(line, "missing"), None);
        assert_eq!(
            json_str(r#"{"sandbox_url":"http://127.0.0.1:9"}"#, "sandbox_url").as_deref(),
            Some("http://127.0.0.1:9")
        );
        let fleet = FleetRun {
            members: 4,
            logins: 1,
            refreshes: 4,
            calls: 380,
            ..FleetRun::default()
        };
        let separate = FleetRun {
            members: 4,
            logins: 4,
            refreshes: 16,
            calls: 380,
            ..FleetRun::default()
        };
        assert_eq!(
            describe_fleet(&fleet, &separate),
            "the fleet of 4 signed in 1 time(s) and renewed 4 time(s): 5 token requests where 4 separate processes made 20 (4.0x fewer)"
        );
    }

    #[test]
    fn no_summary_line_means_no_fields() {
        assert!(parse_summary("DEMO-SUMMARYvendor=x\nplain output\n").is_none());
        assert!(parse_summary("").is_none());
    }
}
