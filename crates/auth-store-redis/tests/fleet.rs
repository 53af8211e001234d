//! Separate OS processes (the `fleet_member` example), one sandbox, one Redis: the fleet
//! signs in once and refreshes once per expiry, with no failed call. Needs `REDIS_URL` (see
//! `.ci/redis.sh`) and the example built (`cargo test` builds it).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use auth_core::sandbox::{
    Ctx, HttpMockRequest, HttpMockResponse, Kit, Route, Settings, Spec, TokenCheck, Tokens, bearer,
    json, text,
};

/// The minimal OAuth-like vendor `fleet_member` speaks. Refresh tokens rotate: a used one is
/// revoked, so a process refreshing with a stale one would be refused (and fail a call).
struct Fleet;

impl Spec for Fleet {
    fn routes() -> Vec<Route<Self>> {
        vec![
            Route::token("POST", "/token", "token", token),
            Route::authorized("GET", "/me", "me", me),
        ]
    }
}

fn token(_: &Fleet, ctx: &Ctx, req: &HttpMockRequest) -> HttpMockResponse {
    let body: serde_json::Value = serde_json::from_slice(req.body_ref()).unwrap_or_default();
    match body["grant_type"].as_str() {
        Some("client_credentials") => {}
        Some("refresh_token") => {
            let Some(old) = body["refresh_token"].as_str() else {
                return text(400, "no refresh_token");
            };
            if !matches!(ctx.store().check(old), TokenCheck::Valid(_)) {
                return text(401, "refresh token is not valid");
            }
            ctx.store().revoke(old);
        }
        _ => return text(400, "unsupported grant_type"),
    }
    json(
        200,
        &serde_json::json!({
            "access_token": ctx.issue_access("at", "fleet"),
            "refresh_token": ctx.issue_refresh("rt", "fleet"),
            "expires_in": ctx.token_lifetime().as_secs(),
        }),
    )
}

fn me(_: &Fleet, ctx: &Ctx, req: &HttpMockRequest) -> HttpMockResponse {
    match bearer(req).map(|t| ctx.store().check(&t)) {
        Some(TokenCheck::Valid(_)) => json(200, &serde_json::json!({"me": "fleet"})),
        _ => text(401, "token expired or unknown"),
    }
}

fn member_binary() -> PathBuf {
    // tests run from target/<profile>/deps; examples are built into target/<profile>/examples.
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_sign_in_once_and_refresh_once_per_expiry() {
    const MEMBERS: usize = 3;
    const EXPIRIES: u64 = 2;
    let redis_url = std::env::var("REDIS_URL").unwrap_or_else(|_| {
        panic!("REDIS_URL is not set: start a redis-server with `eval \"$(.ci/redis.sh start)\"`")
    });
    let kit = Kit::start(Fleet, Settings::new(Duration::from_secs(3600)), &[]).await;
    let namespace = format!("t-fleet-procs-{}", std::process::id());
    let children: Vec<_> = (0..MEMBERS)
        .map(|_| {
            Command::new(member_binary())
                .env("SANDBOX_URL", kit.base_url())
                .env("REDIS_URL", &redis_url)
                .env("FLEET_NAMESPACE", &namespace)
                .env("FLEET_RUN_MS", "2500")
                .env("FLEET_INTERVAL_MS", "20")
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    // Every member is calling before the first expiry, and between expiries.
    wait_for_calls(&kit, 3 * MEMBERS as u64).await;
    for _ in 0..EXPIRIES {
        kit.expire_tokens(Tokens::Access);
        let after = kit.hits("me") + 3 * MEMBERS as u64;
        wait_for_calls(&kit, after).await;
    }
    let mut totals = serde_json::Map::new();
    for child in children {
        let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
            .await
            .unwrap();
        assert!(out.status.success());
        let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        for (k, v) in line.as_object().unwrap() {
            let sum = totals.get(k).and_then(|t| t.as_u64()).unwrap_or(0) + v.as_u64().unwrap();
            totals.insert(k.clone(), sum.into());
        }
    }
    let total = |k: &str| totals[k].as_u64().unwrap();
    assert_eq!(total("failed_calls"), 0, "{totals:?}");
    assert_eq!(total("sign_ins"), 1, "{totals:?}");
    assert_eq!(total("refreshes"), EXPIRIES, "{totals:?}");
    assert_eq!(total("fallbacks"), 0, "{totals:?}");
    assert_eq!(kit.token_requests(), 1 + EXPIRIES);
    assert!(
        total("calls") >= 3 * MEMBERS as u64 * (EXPIRIES + 1),
        "{totals:?}"
    );
}

async fn wait_for_calls(kit: &Kit<Fleet>, n: u64) {
    let start = Instant::now();
    while kit.hits("me") < n {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the members stopped calling"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
