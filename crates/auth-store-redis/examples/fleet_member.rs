//! One member of a fleet sharing its token through Redis: the child process of the fleet
//! tests and demo. It calls `GET /me` on a sandbox with a bearer token every few
//! milliseconds for a while, renews through `auth_core::store::renew_shared` whenever it has
//! no token or is answered 401 (invalidating only the version it used), and prints what it
//! did as one JSON line on stdout.
//!
//! The sandbox speaks a minimal OAuth-like protocol: `POST /token` with a JSON body
//! `{"grant_type": "client_credentials"}` or `{"grant_type": "refresh_token",
//! "refresh_token": ...}` answers `{"access_token", "refresh_token", "expires_in"}`.
//!
//! ```text
//! SANDBOX_URL=http://127.0.0.1:PORT REDIS_URL=redis://127.0.0.1:6390 \
//!     cargo run -p auth-store-redis --example fleet_member
//! {"sign_ins":1,"refreshes":0,"calls":80,"failed_calls":0,"unauthorized":0,"loaded":0,"waited":0,"renewed":1,"unpublished":0,"fallbacks":0}
//! ```
//!
//! Settings (environment): `SANDBOX_URL`, `REDIS_URL` (required); `FLEET_NAMESPACE`
//! (default `vendor-auth-fleet`), `FLEET_RUN_MS` (default 2000), `FLEET_INTERVAL_MS`
//! (default 25), `FLEET_KEY` (the encryption key in base64; a fixed demo key otherwise).

use std::time::{Duration, Instant, SystemTime};

use auth_core::reqwest::{self, StatusCode};
use auth_core::store::{Identity, Outcome, ShareSettings, TokenStore, renew_shared};
use auth_core::{AccessToken, Error, ErrorKind, Expiry, RefreshToken, TokenSet};
use auth_store_redis::{EncryptionKey, RedisConnection, RedisStore};

/// A key for demos and tests only: a real fleet reads its key from a secret store.
const DEMO_KEY: &str = "ZGVtby1vbmx5LWtleS1kZW1vLW9ubHkta2V5LWRlbW8=";

#[derive(Default)]
struct Counts {
    sign_ins: u64,
    refreshes: u64,
    calls: u64,
    failed_calls: u64,
    unauthorized: u64,
    loaded: u64,
    waited: u64,
    renewed: u64,
    unpublished: u64,
    fallbacks: u64,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn number(name: &str, default: u64) -> u64 {
    var(name).and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// One token request: a sign-in, or a refresh from `base`'s refresh token.
async fn token_request(
    http: &reqwest::Client,
    base_url: &str,
    base: Option<&TokenSet>,
) -> Result<TokenSet, Error> {
    let body = match base.and_then(TokenSet::refresh_token) {
        Some(r) => serde_json::json!({"grant_type": "refresh_token", "refresh_token": r.expose()}),
        None => serde_json::json!({"grant_type": "client_credentials"}),
    };
    let resp = http
        .post(format!("{base_url}/token"))
        .json(&body)
        .send()
        .await
        .map_err(|e| Error::new(ErrorKind::Transient, "token request failed").with_source(e))?;
    if !resp.status().is_success() {
        return Err(Error::new(
            ErrorKind::from_status(resp.status().as_u16()),
            "token request refused",
        ));
    }
    let answer: serde_json::Value = resp.json().await.map_err(|e| {
        Error::new(ErrorKind::BadResponse, "token answer unreadable").with_source(e)
    })?;
    let field = |name: &str| {
        answer
            .get(name)
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
    };
    let access = field("access_token")
        .ok_or_else(|| Error::new(ErrorKind::BadResponse, "token answer has no access_token"))?;
    let expires_in = answer
        .get("expires_in")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(3600);
    Ok(TokenSet::new(
        AccessToken::new(access),
        Expiry::from_expires_in(expires_in, SystemTime::now()),
    )
    .with_refresh_token(field("refresh_token").map(RefreshToken::new)))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let missing = |name: &str| Error::new(ErrorKind::Config, format!("{name} is not set"));
    let base_url = var("SANDBOX_URL").ok_or_else(|| missing("SANDBOX_URL"))?;
    let redis_url = var("REDIS_URL").ok_or_else(|| missing("REDIS_URL"))?;
    let namespace = var("FLEET_NAMESPACE").unwrap_or_else(|| "vendor-auth-fleet".to_owned());
    let run = Duration::from_millis(number("FLEET_RUN_MS", 2000));
    let interval = Duration::from_millis(number("FLEET_INTERVAL_MS", 25));
    let key = EncryptionKey::from_base64(&var("FLEET_KEY").unwrap_or_else(|| DEMO_KEY.to_owned()))?;

    let conn = RedisConnection::builder(redis_url)
        .with_namespace(namespace)
        .build()?;
    let store = RedisStore::builder(conn).with_encryption_key(key).build()?;
    let client_secret = secrecy::SecretString::from("fleet-client-secret");
    let id = store.key(
        &Identity::new("fleet")
            .with_part(&base_url)
            .with_secret(&client_secret),
    );
    let settings = ShareSettings::default().with_lease_ttl(Duration::from_secs(5));
    let http = reqwest::Client::new();

    let mut counts = Counts::default();
    let mut current: Option<(TokenSet, Option<u64>)> = None;
    // The last set this process had: renewed from when the store has none to offer.
    let mut last: Option<TokenSet> = None;
    let mut seen = 0;
    let until = Instant::now() + run;
    while Instant::now() < until {
        let mut attempts = 0;
        let ok = loop {
            attempts += 1;
            let Some((tokens, version)) = current.clone() else {
                let local = last.clone();
                let renewed = renew_shared(
                    &store,
                    &id,
                    seen,
                    &settings,
                    |t| !t.expiry().is_expired(SystemTime::now()),
                    |latest| {
                        let base = latest.or(local);
                        match base.as_ref().and_then(TokenSet::refresh_token) {
                            Some(_) => counts.refreshes += 1,
                            None => counts.sign_ins += 1,
                        }
                        let http = http.clone();
                        let base_url = base_url.clone();
                        async move { token_request(&http, &base_url, base.as_ref()).await }
                    },
                )
                .await;
                match renewed {
                    Ok(shared) => {
                        match shared.outcome {
                            Outcome::Loaded => counts.loaded += 1,
                            Outcome::Waited => counts.waited += 1,
                            Outcome::Renewed => counts.renewed += 1,
                            Outcome::Unpublished => counts.unpublished += 1,
                            _ => counts.fallbacks += 1,
                        }
                        if let Some(v) = shared.version {
                            seen = v;
                        }
                        last = Some(shared.tokens.clone());
                        current = Some((shared.tokens, shared.version));
                    }
                    Err(_) => break false,
                }
                continue;
            };
            counts.calls += 1;
            let resp = http
                .get(format!("{base_url}/me"))
                .bearer_auth(tokens.access_token().expose())
                .send()
                .await;
            match resp.map(|r| r.status()) {
                Ok(StatusCode::OK) => break true,
                Ok(StatusCode::UNAUTHORIZED) if attempts < 3 => {
                    counts.unauthorized += 1;
                    // Only the version this process used is invalidated.
                    if let Some(v) = version {
                        let _ = store.invalidate(&id, v).await;
                    }
                    current = None;
                }
                _ => break false,
            }
        };
        if !ok {
            counts.failed_calls += 1;
        }
        tokio::time::sleep(interval).await;
    }
    let c = &counts;
    println!(
        "{}",
        serde_json::json!({
            "sign_ins": c.sign_ins, "refreshes": c.refreshes, "calls": c.calls,
            "failed_calls": c.failed_calls, "unauthorized": c.unauthorized, "loaded": c.loaded,
            "waited": c.waited, "renewed": c.renewed, "unpublished": c.unpublished,
            "fallbacks": c.fallbacks,
        })
    );
    Ok(())
}
