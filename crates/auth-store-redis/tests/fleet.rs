//! The fleet as issue 14 asks to show it: separate OS processes (the `fleet_member`
//! example: a real `iqm::Client` built with `with_token_store` on a `RedisStore`), ONE IQM
//! sandbox started here in the parent and reached by every child over loopback, one Redis.
//!
//! - eight processes sign in once, and renew once per expiry across ten expiries, each
//!   renewal from the latest refresh token (the sandbox rotates them and refuses a used
//!   one); what Redis holds, dumped with `redis-cli`, has no token or secret in clear;
//! - the lease holder SIGKILLed mid-renewal (the sandbox holds its token request): another
//!   process renews after the lease TTL, and no process waits longer than the TTL and one
//!   renewal;
//! - Redis stopped mid-run (a redis-server of this test's own): every process keeps calling
//!   on its own renewals, no call fails, and after the restart they share again;
//! - four processes on one `RedisLimiter` never exceed 20 requests in any rolling window,
//!   and one alone gets the whole quota. The window is scaled from IQM's minute to 3 s so
//!   that "3 minutes" take 9 s (the members limit themselves to 20 per 3.06 s: a 2 %
//!   margin for the time between admission and arrival).
//!
//! Needs `REDIS_URL` (`eval "$(.ci/redis.sh start)"`), `redis-server` and `redis-cli` on the
//! PATH, and the example built (`cargo test` builds it); a test that lacks one fails and
//! says which. The tests run one at a time: each spawns processes on a 2-core machine.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::collections::HashMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use iqm::sandbox::{Sandbox, Tokens};
use serde_json::Value;

/// The route the members call.
const PATH: &str = "/api/v3/fleet/ping";

/// One fleet test at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| {
        panic!(
            "REDIS_URL is not set: these tests need a real redis-server; start one with \
             `eval \"$(.ci/redis.sh start)\"`"
        )
    })
}

fn member_binary() -> PathBuf {
    // Tests run from target/<profile>/deps; examples are built into target/<profile>/examples.
    let exe = std::env::current_exe().unwrap();
    let path = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join("fleet_member");
    assert!(
        path.exists(),
        "{} is missing: build it with `cargo build -p auth-store-redis --example fleet_member` (cargo test does)",
        path.display()
    );
    path
}

/// A fleet member: its process, fed `stop` on stdin when the test is done with it.
struct Member {
    child: Child,
}

impl Member {
    fn spawn(sandbox: &Sandbox, redis: Option<&str>, env: &[(&str, &str)]) -> Member {
        let mut cmd = Command::new(member_binary());
        cmd.env("SANDBOX_URL", sandbox.base_url())
            .env("FLEET_MAX_RUN_MS", "90000")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, _) in std::env::vars() {
            if k.starts_with("FLEET_") || k.starts_with("IQM_") {
                cmd.env_remove(&k);
            }
        }
        cmd.env_remove("REDIS_URL");
        if let Some(url) = redis {
            cmd.env("REDIS_URL", url);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        Member {
            child: cmd.spawn().unwrap(),
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Tell it to stop and read its one JSON line.
    async fn stop(mut self) -> Value {
        let mut stdin = self.child.stdin.take().unwrap();
        let _ = stdin.write_all(b"stop\n");
        drop(stdin);
        let out = tokio::task::spawn_blocking(move || self.child.wait_with_output().unwrap())
            .await
            .unwrap();
        assert!(out.status.success(), "a member failed: {:?}", out.status);
        let text = String::from_utf8(out.stdout).unwrap();
        serde_json::from_str(text.lines().last().unwrap_or_default())
            .unwrap_or_else(|e| panic!("member output {text:?}: {e}"))
    }
}

async fn stop_all(members: Vec<Member>) -> Vec<Value> {
    let mut out = Vec::new();
    for m in members {
        out.push(m.stop().await);
    }
    out
}

fn total(lines: &[Value], key: &str) -> u64 {
    lines.iter().map(|l| l[key].as_u64().unwrap()).sum()
}

/// Requests to the members' route so far, per member process id.
fn calls_by_member(sandbox: &Sandbox) -> HashMap<u32, u64> {
    let mut counts = HashMap::new();
    for r in sandbox.recorder().all() {
        if r.path_and_query != PATH {
            continue;
        }
        if let Some((_, pid)) = r.headers.iter().find(|(k, _)| k == "x-fleet-member") {
            *counts.entry(pid.parse().unwrap()).or_insert(0) += 1;
        }
    }
    counts
}

/// Wait until every member in `pids` sent at least `more` calls beyond `since`.
async fn wait_for_calls(sandbox: &Sandbox, pids: &[u32], since: &HashMap<u32, u64>, more: u64) {
    wait_until("every member calling", Duration::from_secs(30), || {
        let now = calls_by_member(sandbox);
        pids.iter()
            .all(|p| now.get(p).copied().unwrap_or(0) >= since.get(p).copied().unwrap_or(0) + more)
    })
    .await;
}

async fn wait_until(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The ACL user `.ci/redis.sh` makes, when it is there: the members sign in to Redis with
/// it, so its password is one more secret that must not be stored.
fn acl_env() -> Vec<(&'static str, String)> {
    match (
        std::env::var("REDIS_ACL_USER"),
        std::env::var("REDIS_ACL_PASSWORD"),
    ) {
        (Ok(user), Ok(password)) => vec![
            ("FLEET_REDIS_USER", user),
            ("FLEET_REDIS_PASSWORD", password),
        ],
        _ => Vec::new(),
    }
}

fn as_pairs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

fn redis_cli(url: &str, args: &[&str]) -> Vec<u8> {
    let out = Command::new("redis-cli")
        .arg("-u")
        .arg(url)
        .arg("--raw")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("redis-cli could not run ({e}): install redis-tools"));
    assert!(out.status.success(), "redis-cli {args:?} failed");
    out.stdout
}

/// Every key of `namespace` and everything it holds, as `redis-cli` prints it.
fn dump(url: &str, namespace: &str) -> (Vec<String>, Vec<u8>) {
    let listed = redis_cli(url, &["--scan", "--pattern", &format!("{namespace}:*")]);
    let keys: Vec<String> = String::from_utf8(listed)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let mut all = Vec::new();
    for key in &keys {
        all.extend_from_slice(key.as_bytes());
        all.push(b'\n');
        let kind = String::from_utf8(redis_cli(url, &["TYPE", key])).unwrap();
        let value = match kind.trim() {
            "hash" => redis_cli(url, &["HGETALL", key]),
            "string" => redis_cli(url, &["GET", key]),
            other => panic!("unexpected {other} at {key}"),
        };
        all.extend_from_slice(&value);
    }
    (keys, all)
}

/// `secret` and the forms it could be stored in without encryption.
fn forms(secret: &str) -> Vec<String> {
    let b = secret.as_bytes();
    let mut out: Vec<String> = auth_core::sandbox::echoes(secret)
        .into_iter()
        .filter(|(name, _)| *name != "straddling")
        .map(|(_, text)| text)
        .collect();
    out.push(base64::engine::general_purpose::STANDARD.encode(b));
    out.push(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b));
    out.push(b.iter().map(|c| format!("{c:02x}")).collect());
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_processes_sign_in_once_and_renew_once_per_expiry_from_the_latest_refresh_token() {
    const MEMBERS: usize = 8;
    const EXPIRIES: u64 = 10;
    let _serial = SERIAL.lock().await;
    let redis = redis_url();
    let sandbox = Sandbox::builder()
        .token_lifetime(Duration::from_secs(3600))
        .rotating_refresh_tokens()
        .start()
        .await;
    let namespace = format!("t-fleet-eight-{}", std::process::id());
    let acl = acl_env();
    let mut env = as_pairs(&acl);
    env.extend([
        ("FLEET_NAMESPACE", namespace.as_str()),
        ("FLEET_INTERVAL_MS", "40"),
    ]);
    let members: Vec<Member> = (0..MEMBERS)
        .map(|_| Member::spawn(&sandbox, Some(&redis), &env))
        .collect();
    let pids: Vec<u32> = members.iter().map(Member::pid).collect();
    wait_for_calls(&sandbox, &pids, &HashMap::new(), 3).await;
    assert_eq!(sandbox.hits("login"), 1, "one sign-in for the whole fleet");

    for round in 1..=EXPIRIES {
        let before = calls_by_member(&sandbox);
        sandbox.expire_tokens(Tokens::Access);
        wait_until("the renewal", Duration::from_secs(20), || {
            sandbox.hits("refresh") >= round
        })
        .await;
        // Each member was refused at least once, renewed, and went on calling.
        wait_for_calls(&sandbox, &pids, &before, 3).await;
    }

    // What Redis holds: the namespace's keys (a keyed hash, never the credentials) and the
    // sealed set. No token the sandbox issued and no credential, in any plain encoding.
    let (keys, held) = dump(&redis, &namespace);
    assert!(
        keys.iter().any(|k| k.ends_with(":tokens")),
        "nothing stored? {keys:?}"
    );
    let mut secrets = sandbox.recorder().secrets();
    assert!(
        secrets.len() >= 2 + 2 * EXPIRIES as usize,
        "{}",
        secrets.len()
    );
    secrets.extend([Sandbox::EMAIL.to_owned(), Sandbox::CLIENT_ID.to_owned()]);
    // The ACL password (the user name is no secret: it is `fleet`, as is the namespace).
    secrets.extend(
        acl.iter()
            .filter(|(k, _)| *k == "FLEET_REDIS_PASSWORD")
            .map(|(_, v)| v.clone()),
    );
    let held_text = String::from_utf8_lossy(&held);
    for secret in &secrets {
        for form in forms(secret) {
            assert!(
                !held_text.contains(&form),
                "redis holds a secret in clear ({form:?} of one of {} secrets)",
                secrets.len()
            );
        }
    }

    let lines = stop_all(members).await;
    assert_eq!(total(&lines, "failed_calls"), 0, "{lines:?}");
    assert_eq!(
        (total(&lines, "sign_ins"), total(&lines, "refreshes")),
        (1, EXPIRIES),
        "{lines:?}"
    );
    assert_eq!(total(&lines, "store_fallbacks"), 0, "{lines:?}");
    assert_eq!(total(&lines, "store_unpublished"), 0, "{lines:?}");
    // Every other member's renewal was answered by the store: at the start and at each
    // expiry, seven members loaded what one renewed.
    assert_eq!(
        total(&lines, "store_loaded"),
        (MEMBERS as u64 - 1) * (EXPIRIES + 1),
        "{lines:?}"
    );
    // The sandbox saw the same: one login, ten refreshes, and not one refresh token that
    // was not the latest (it rotates them and refuses a used one).
    assert_eq!(
        (
            sandbox.hits("login"),
            sandbox.hits("refresh"),
            sandbox.hits("refresh_refused")
        ),
        (1, EXPIRIES, 0)
    );
    eprintln!(
        "fleet of {MEMBERS}: {} calls, 1 sign-in, {EXPIRIES} refreshes for {EXPIRIES} expiries, {} loaded from the store, {} keys in redis",
        total(&lines, "calls"),
        total(&lines, "store_loaded"),
        keys.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lease_holder_killed_mid_renewal_is_taken_over_after_the_lease_ttl() {
    const MEMBERS: usize = 4;
    const TTL: Duration = Duration::from_secs(5);
    // One renewal at worst: 3 attempts of the 1 s token timeout and 0.6 s of backoff.
    const RENEWAL: Duration = Duration::from_millis(3600);
    let _serial = SERIAL.lock().await;
    let redis = redis_url();
    let sandbox = Sandbox::builder()
        .token_lifetime(Duration::from_secs(3600))
        .rotating_refresh_tokens()
        .start()
        .await;
    let namespace = format!("t-fleet-kill-{}", std::process::id());
    let ttl_ms = TTL.as_millis().to_string();
    let env = [
        ("FLEET_NAMESPACE", namespace.as_str()),
        ("FLEET_INTERVAL_MS", "40"),
        ("FLEET_LEASE_TTL_MS", ttl_ms.as_str()),
        ("FLEET_TOKEN_TIMEOUT_MS", "1000"),
        ("FLEET_STORE_TIMEOUT_MS", "250"),
    ];
    let mut members: Vec<Member> = (0..MEMBERS)
        .map(|_| Member::spawn(&sandbox, Some(&redis), &env))
        .collect();
    let pids: Vec<u32> = members.iter().map(Member::pid).collect();
    wait_for_calls(&sandbox, &pids, &HashMap::new(), 3).await;

    // The next token request is held (long past the takeover), so its sender holds the
    // lease and waits: kill it there.
    sandbox.stall_next("token", Duration::from_secs(60)).await;
    sandbox.expire_tokens(Tokens::Access);
    wait_until("a renewal to be held", Duration::from_secs(10), || {
        !sandbox.stalled().is_empty()
    })
    .await;
    let held_at = Instant::now();
    let held = &sandbox.stalled()[0];
    let holder: u32 = held
        .headers
        .iter()
        .find(|(k, _)| k == "x-fleet-member")
        .map(|(_, v)| v.parse().unwrap())
        .unwrap();
    let at = members.iter().position(|m| m.pid() == holder).unwrap();
    let mut killed = members.remove(at);
    killed.child.kill().unwrap(); // SIGKILL
    killed.child.wait().unwrap();
    let survivors: Vec<u32> = members.iter().map(Member::pid).collect();

    // Another process takes the lapsed lease and refreshes, from the latest refresh token.
    wait_until(
        "the takeover",
        TTL + RENEWAL + Duration::from_secs(5),
        || sandbox.hits("refresh") == 1,
    )
    .await;
    let takeover = held_at.elapsed();
    let before = calls_by_member(&sandbox);
    wait_for_calls(&sandbox, &survivors, &before, 3).await;
    let lines = stop_all(members).await;

    assert!(
        takeover >= TTL - Duration::from_millis(500),
        "taken over after {takeover:?}, before the lease TTL of {TTL:?}"
    );
    assert_eq!(total(&lines, "failed_calls"), 0, "{lines:?}");
    assert_eq!(total(&lines, "refreshes"), 1, "{lines:?}");
    assert_eq!(total(&lines, "store_fallbacks"), 0, "{lines:?}");
    let longest = lines
        .iter()
        .map(|l| l["max_call_ms"].as_u64().unwrap())
        .max()
        .unwrap();
    assert!(
        Duration::from_millis(longest) <= TTL + RENEWAL,
        "a member waited {longest} ms for a token, more than the lease TTL and one renewal"
    );
    assert_eq!(
        (
            sandbox.hits("login"),
            sandbox.hits("refresh"),
            sandbox.hits("refresh_refused")
        ),
        (1, 1, 0)
    );
    eprintln!(
        "holder {holder} killed mid-renewal: taken over after {takeover:?} (lease TTL {TTL:?}); \
         longest wait for a token {longest} ms; {} calls, 0 failed",
        total(&lines, "calls")
    );
}

/// A redis-server of one test's own, on a free port, stopped on drop.
struct OwnRedis {
    port: u16,
    child: Option<Child>,
}

impl OwnRedis {
    fn start() -> OwnRedis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut r = OwnRedis { port, child: None };
        r.restart();
        r
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "redis-server could not start ({e}): install it (apt-get install redis-server)"
                )
            });
        self.child = Some(child);
        let start = Instant::now();
        while !self.answers() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn answers(&self) -> bool {
        Command::new("redis-cli")
            .args(["-p", &self.port.to_string(), "ping"])
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"PONG"))
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_mid_run_no_call_fails_and_the_fleet_shares_again_after_the_restart() {
    const MEMBERS: usize = 4;
    let _serial = SERIAL.lock().await;
    let mut redis = OwnRedis::start();
    let sandbox = Sandbox::builder()
        .token_lifetime(Duration::from_secs(3600))
        .rotating_refresh_tokens()
        .start()
        .await;
    let url = redis.url();
    let env = [
        ("FLEET_NAMESPACE", "t-fleet-outage"),
        ("FLEET_INTERVAL_MS", "40"),
        ("FLEET_REDIS_TIMEOUT_MS", "200"),
        ("FLEET_REDIS_COOLDOWN_MS", "300"),
        ("FLEET_STORE_TIMEOUT_MS", "250"),
    ];
    let members: Vec<Member> = (0..MEMBERS)
        .map(|_| Member::spawn(&sandbox, Some(&url), &env))
        .collect();
    let pids: Vec<u32> = members.iter().map(Member::pid).collect();
    wait_for_calls(&sandbox, &pids, &HashMap::new(), 3).await;
    let grants = || sandbox.hits("login") + sandbox.hits("refresh");
    assert_eq!(grants(), 1);

    // Shared while Redis is up: one renewal for the expiry.
    let before = calls_by_member(&sandbox);
    sandbox.expire_tokens(Tokens::Access);
    wait_for_calls(&sandbox, &pids, &before, 3).await;
    assert_eq!(grants(), 2);

    // Redis goes away, then the tokens expire: every member renews on its own and keeps
    // calling. Each sends a refresh with the shared refresh token: the first rotates it
    // away, the other three are refused and sign in instead.
    redis.stop();
    let before = calls_by_member(&sandbox);
    sandbox.expire_tokens(Tokens::Access);
    wait_for_calls(&sandbox, &pids, &before, 5).await;
    let during = grants();
    let n = MEMBERS as u64;
    assert_eq!(during, 2 + n + (n - 1));
    assert_eq!(sandbox.hits("refresh_refused"), n - 1);

    // Redis is back (empty: nothing was persisted). After the breaker's cooldown the next
    // expiry is one renewal for everyone again.
    redis.restart();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = calls_by_member(&sandbox);
    sandbox.expire_tokens(Tokens::Access);
    wait_for_calls(&sandbox, &pids, &before, 3).await;
    assert_eq!(grants(), during + 1, "shared again after the restart");
    // ... and every member sends the same token again.
    let mut last_token: HashMap<String, String> = HashMap::new();
    for r in sandbox.recorder().all() {
        let header = |name: &str| {
            r.headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        if let (Some(pid), Some(auth)) = (header("x-fleet-member"), header("authorization"))
            && r.path_and_query == PATH
        {
            last_token.insert(pid, auth);
        }
    }
    let distinct: std::collections::HashSet<&String> = last_token.values().collect();
    assert_eq!(distinct.len(), 1, "{} tokens in use", distinct.len());

    let lines = stop_all(members).await;
    assert_eq!(total(&lines, "failed_calls"), 0, "{lines:?}");
    assert_eq!(
        total(&lines, "store_fallbacks"),
        MEMBERS as u64,
        "{lines:?}"
    );
    // Logins: the first and the three refused during the outage; refreshes: one before,
    // four during (three refused), one after.
    assert_eq!(
        (
            sandbox.hits("login"),
            sandbox.hits("refresh"),
            sandbox.hits("refresh_refused")
        ),
        (1 + n - 1, 1 + n + 1, n - 1)
    );
    eprintln!(
        "redis outage: {} calls, 0 failed; {} fallback renewals during the outage, 1 shared renewal before and 1 after",
        total(&lines, "calls"),
        total(&lines, "store_fallbacks")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_processes_share_one_rate_limit_and_one_alone_gets_all_of_it() {
    const MEMBERS: usize = 4;
    const QUOTA: usize = 20;
    // IQM's 20 a minute, with the minute scaled down to 3 s.
    const WINDOW: Duration = Duration::from_secs(3);
    // The members limit themselves to 20 per 3.06 s: a client-side limit keeps a margin
    // (2 %) for what it cannot control, the time from admission to the vendor (a process
    // descheduled between the two), so the vendor's own window never sees a 21st.
    const LIMIT_WINDOW: Duration = Duration::from_millis(3060);
    let _serial = SERIAL.lock().await;
    let redis = redis_url();
    let sandbox = Sandbox::builder()
        .token_lifetime(Duration::from_secs(3600))
        .start()
        .await;
    let namespace = format!("t-fleet-limit-{}", std::process::id());
    let window_ms = LIMIT_WINDOW.as_millis().to_string();
    let quota = QUOTA.to_string();
    let env = [
        ("FLEET_NAMESPACE", namespace.as_str()),
        ("FLEET_INTERVAL_MS", "0"),
        ("FLEET_LIMIT", "redis"),
        ("FLEET_LIMIT_MAX", quota.as_str()),
        ("FLEET_LIMIT_WINDOW_MS", window_ms.as_str()),
    ];
    let mut members: Vec<Member> = (0..MEMBERS)
        .map(|_| Member::spawn(&sandbox, Some(&redis), &env))
        .collect();
    let pids: Vec<u32> = members.iter().map(Member::pid).collect();
    wait_for_calls(&sandbox, &pids, &HashMap::new(), 1).await;
    // Three windows ("minutes") together.
    let together = Instant::now();
    tokio::time::sleep(WINDOW * 3).await;
    let shared_counts = calls_by_member(&sandbox);
    let lone = members.pop().unwrap();
    let lone_pid = lone.pid();
    let mut lines = stop_all(members).await;
    // Then one member alone, for two windows.
    let alone_from = sandbox.recorder().all().len();
    let alone = Instant::now();
    tokio::time::sleep(WINDOW * 2).await;
    let alone_for = alone.elapsed();
    lines.push(lone.stop().await);
    let alone_calls = sandbox.recorder().all()[alone_from..]
        .iter()
        .filter(|r| {
            r.headers
                .iter()
                .any(|(k, v)| k == "x-fleet-member" && *v == lone_pid.to_string())
        })
        .count();

    // Every request the sandbox got, token requests too, in the busiest rolling window.
    let times: Vec<Instant> = sandbox.arrivals().into_iter().map(|(_, t)| t).collect();
    let mut busiest = 0;
    let mut tightest = Duration::MAX;
    for (i, start) in times.iter().enumerate() {
        let in_window = times[i..]
            .iter()
            .take_while(|t| t.duration_since(*start) < WINDOW)
            .count();
        busiest = busiest.max(in_window);
        if let Some(next) = times.get(i + QUOTA) {
            tightest = tightest.min(next.duration_since(*start));
        }
    }
    assert_eq!(total(&lines, "failed_calls"), 0, "{lines:?}");
    assert_eq!(total(&lines, "limiter_degraded"), 0, "{lines:?}");
    assert!(
        busiest <= QUOTA,
        "{busiest} requests in one rolling window of {WINDOW:?}"
    );
    // Together they had the quota: the three windows are (nearly) full.
    let together_calls = times
        .iter()
        .filter(|t| **t >= together && t.duration_since(together) < WINDOW * 3)
        .count();
    assert!(
        together_calls >= QUOTA * 3 - 3,
        "{together_calls} in 3 windows"
    );
    // Alone, one member gets the whole quota, not a quarter of it.
    let full = QUOTA as f64 * alone_for.as_secs_f64() / LIMIT_WINDOW.as_secs_f64();
    assert!(
        alone_calls as f64 >= 0.9 * full,
        "alone: {alone_calls} calls in {alone_for:?}, the quota allows {full:.0}"
    );
    eprintln!(
        "shared limiter: busiest rolling {WINDOW:?} window {busiest} requests (quota {QUOTA}), \
         tightest {QUOTA}-request span {tightest:?}; together {together_calls} requests in 3 windows \
         (per member {:?}); alone {alone_calls} calls in {alone_for:?} (quota allows {full:.0})",
        pids.iter()
            .map(|p| shared_counts.get(p).copied().unwrap_or(0))
            .collect::<Vec<_>>()
    );
}
