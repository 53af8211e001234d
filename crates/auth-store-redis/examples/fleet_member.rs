//! One process of a fleet of IQM clients sharing one token (and, if asked, one rate limit)
//! through Redis: the child process of the fleet tests and of `cargo xtask demo --fleet`.
//!
//! It builds a real vendor client, `iqm::Client`, with `with_token_store` (a `RedisStore`)
//! and optionally `with_rate_limiter` (a `RedisLimiter`, or a local `RateLimiter`), calls
//! an IQM API route over and over until its stdin says `stop` (or closes), and prints what
//! it did as one JSON line on stdout: its calls and failed calls, the session's counters,
//! and the longest it went without a successful call. Every request carries its process id
//! in `X-Fleet-Member`, so the sandbox can tell the members apart.
//!
//! ```text
//! SANDBOX_URL=http://127.0.0.1:PORT REDIS_URL=redis://127.0.0.1:6390 \
//!     cargo run -p auth-store-redis --example fleet_member
//! stop
//! {"pid":4242,"calls":118,"failed_calls":0,"sign_ins":1,"refreshes":0,"store_loaded":0,...}
//! ```
//!
//! Without `REDIS_URL` it keeps its tokens to itself, as a client without a store does (the
//! "separate processes" column of the demo). With `--sandbox` it is the fleet's vendor
//! instead: it starts one IQM sandbox (refresh tokens rotating, so a stale one would be
//! refused), prints `{"sandbox_url": ...}`, serves until stdin closes and prints the
//! sandbox's counts.
//!
//! Settings (environment): `SANDBOX_URL` (required for a member); `REDIS_URL`,
//! `FLEET_REDIS_USER`, `FLEET_REDIS_PASSWORD`; `FLEET_NAMESPACE` (default
//! `vendor-auth-fleet`); `FLEET_KEY` (the encryption key in base64; a fixed demo key
//! otherwise); `FLEET_INTERVAL_MS` (pause between calls, default 25); `FLEET_MAX_RUN_MS`
//! (default 120000); `FLEET_LEASE_TTL_MS`, `FLEET_STORE_TIMEOUT_MS`,
//! `FLEET_TOKEN_TIMEOUT_MS`, `FLEET_REDIS_TIMEOUT_MS`, `FLEET_REDIS_COOLDOWN_MS`;
//! `FLEET_LIMIT` (`redis` or `local`) with `FLEET_LIMIT_MAX` (default 20) and
//! `FLEET_LIMIT_WINDOW_MS` (default 60000). For `--sandbox`: `FLEET_TOKEN_LIFETIME_S`
//! (default 3600).

use std::io::{BufRead as _, Write as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use auth_core::reqwest::header;
use auth_core::store::ShareSettings;
use auth_core::{Error, ErrorKind, RateLimiter};
use auth_store_redis::{EncryptionKey, RedisConnection, RedisLimiter, RedisStore};
use iqm::sandbox::Sandbox;
use serde_json::{Value, json};

/// A key for demos and tests only: a real fleet reads its key from a secret store.
const DEMO_KEY: &str = "ZGVtby1vbmx5LWtleS1kZW1vLW9ubHkta2V5LWRlbW8=";

/// The API route every member calls (the sandbox echoes it).
const PATH: &str = "/api/v3/fleet/ping";

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn millis(name: &str) -> Option<Duration> {
    var(name)
        .and_then(|v| v.parse().ok())
        .map(Duration::from_millis)
}

fn number(name: &str, default: u64) -> u64 {
    var(name).and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Set once stdin says `stop` or closes: the parent decides when a member is done (and a
/// parent that dies closes it).
fn stop_on_stdin() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            match line {
                Ok(l) if l.trim() == "stop" => break,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        flag.store(true, Ordering::SeqCst);
    });
    stop
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Error> {
    if std::env::args().nth(1).as_deref() == Some("--sandbox") {
        return host().await;
    }
    member().await
}

/// The fleet's vendor: one IQM sandbox for every member.
async fn host() -> Result<(), Error> {
    let lifetime = Duration::from_secs(number("FLEET_TOKEN_LIFETIME_S", 3600));
    let sandbox = Sandbox::builder()
        .token_lifetime(lifetime)
        .rotating_refresh_tokens()
        .start()
        .await;
    say(&json!({ "sandbox_url": sandbox.base_url() }));
    let stop = stop_on_stdin();
    while !stop.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    say(&json!({
        "logins": sandbox.hits("login"),
        "refreshes": sandbox.hits("refresh"),
        "refresh_refused": sandbox.hits("refresh_refused"),
        "api": sandbox.hits("api"),
    }));
    Ok(())
}

async fn member() -> Result<(), Error> {
    let missing = |name: &str| Error::new(ErrorKind::Config, format!("{name} is not set"));
    let base_url = var("SANDBOX_URL").ok_or_else(|| missing("SANDBOX_URL"))?;
    let interval = Duration::from_millis(number("FLEET_INTERVAL_MS", 25));
    let max_run = Duration::from_millis(number("FLEET_MAX_RUN_MS", 120_000));
    let pid = std::process::id();

    // Every request says which member sent it.
    let mut headers = header::HeaderMap::new();
    headers.insert("x-fleet-member", header::HeaderValue::from(pid));
    let http = auth_core::http::client_builder()?
        .default_headers(headers)
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| Error::new(ErrorKind::Config, "http client").with_source(e))?;
    let mut builder = iqm::Client::builder()
        .with_base_url(base_url)
        .with_credentials(Sandbox::credentials())
        .with_http_client(http);
    if let Some(t) = millis("FLEET_TOKEN_TIMEOUT_MS") {
        builder = builder.with_token_timeout(t);
    }
    let limit = (
        u32::try_from(number("FLEET_LIMIT_MAX", 20)).unwrap_or(20),
        Duration::from_millis(number("FLEET_LIMIT_WINDOW_MS", 60_000)),
    );
    if let Some(redis_url) = var("REDIS_URL") {
        let mut conn = RedisConnection::builder(redis_url).with_namespace(
            var("FLEET_NAMESPACE").unwrap_or_else(|| "vendor-auth-fleet".to_owned()),
        );
        if let Some(user) = var("FLEET_REDIS_USER") {
            conn = conn.with_username(user);
        }
        if let Some(password) = var("FLEET_REDIS_PASSWORD") {
            conn = conn.with_password(password);
        }
        if let Some(t) = millis("FLEET_REDIS_TIMEOUT_MS") {
            conn = conn.with_timeout(t);
        }
        if let Some(c) = millis("FLEET_REDIS_COOLDOWN_MS") {
            conn = conn.with_cooldown(c);
        }
        let conn = conn.build()?;
        let key =
            EncryptionKey::from_base64(&var("FLEET_KEY").unwrap_or_else(|| DEMO_KEY.to_owned()))?;
        let store = RedisStore::builder(conn.clone())
            .with_encryption_key(key)
            .with_poll_interval(Duration::from_millis(100))
            .build()?;
        let mut settings = ShareSettings::default();
        if let Some(ttl) = millis("FLEET_LEASE_TTL_MS") {
            settings = settings.with_lease_ttl(ttl);
        }
        if let Some(t) = millis("FLEET_STORE_TIMEOUT_MS") {
            settings = settings.with_store_timeout(t);
        }
        builder = builder.with_token_store(store, settings);
        if var("FLEET_LIMIT").as_deref() == Some("redis") {
            builder = builder.with_rate_limiter(
                RedisLimiter::builder(conn, "iqm-fleet", limit.0, limit.1).build()?,
            );
        }
    }
    if var("FLEET_LIMIT").as_deref() == Some("local") {
        builder = builder.with_rate_limiter(RateLimiter::new(limit.0, limit.1));
    }
    let client = builder.build()?;

    let stop = stop_on_stdin();
    let started = Instant::now();
    let (mut calls, mut failed) = (0u64, 0u64);
    let (mut max_call, mut max_gap) = (Duration::ZERO, Duration::ZERO);
    let mut last_ok: Option<Instant> = None;
    while !stop.load(Ordering::SeqCst) && started.elapsed() < max_run {
        let at = Instant::now();
        let answer = client.get_data::<Value>(PATH).await;
        calls += 1;
        max_call = max_call.max(at.elapsed());
        match answer {
            Ok(_) => {
                if let Some(prev) = last_ok {
                    max_gap = max_gap.max(prev.elapsed());
                }
                last_ok = Some(Instant::now());
            }
            Err(e) => {
                failed += 1;
                // The session scrubbed it of every credential and token.
                eprintln!("fleet_member {pid}: call failed: {e}");
            }
        }
        tokio::time::sleep(interval).await;
    }
    let s = client.session_stats();
    say(&json!({
            "pid": pid,
            "calls": calls,
            "failed_calls": failed,
            "sign_ins": s.sign_ins,
            "refreshes": s.refreshes,
            "refresh_rejections": s.refresh_rejections,
            "renewal_failures": s.renewal_failures,
            "unauthorized": s.unauthorized,
            "recovered_401": s.recovered_401,
            "store_loaded": s.store_loaded,
            "store_fallbacks": s.store_fallbacks,
            "store_unpublished": s.store_unpublished,
            "limiter_degraded": s.limiter_degraded,
            "max_call_ms": u64::try_from(max_call.as_millis()).unwrap_or(u64::MAX),
        "max_gap_ms": u64::try_from(max_gap.as_millis()).unwrap_or(u64::MAX),
    }));
    Ok(())
}

/// One JSON line on stdout; a parent that went away (its pipe closed) is no error.
fn say(line: &Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}
