//! The IQM client against its sandbox: exact wire shapes, the workspace header across
//! refreshes, refresh-rejection fallback, the account on hold, 401/429/5xx, sign-up and
//! logout, the sandbox's own wire rules, the opt-in limiter, secret redaction; paging the
//! list endpoints in `paging`. The answers the sandbox never gives are served by httpmock
//! in `answers` (and `paging`'s malformed pages).

// Test helpers outside #[test] functions unwrap too: a failed setup is a failed test.
#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

#[path = "client/answers.rs"]
mod answers;
#[path = "client/paging.rs"]
mod paging;

use std::time::Duration;

use iqm::sandbox::{Fault, ManualClock, Sandbox, Tokens};
use iqm::{Client, Credentials, ErrorExt as _, ErrorKind, LoginFlow};
use serde_json::{Value, json};

const CLIENT_SECRET: &str = Sandbox::CLIENT_SECRET;
const PASSWORD: &str = Sandbox::PASSWORD;
const NEW_PASSWORD: &str = "brand-new-password-33aa";
const SIGN_UP_PASSWORD: &str = "signup-password-8c7d";
/// base64("sandbox-client-id:sandbox-client-secret-5e1f"), the Basic header value.
const BASIC: &str = "c2FuZGJveC1jbGllbnQtaWQ6c2FuZGJveC1jbGllbnQtc2VjcmV0LTVlMWY=";

fn assert_redacted(text: &str, extra: &[&str]) {
    for s in [CLIENT_SECRET, PASSWORD, BASIC].iter().chain(extra) {
        assert!(!text.contains(s), "secret {s:?} leaked in:\n{text}");
    }
}

async fn setup(expires_in: u64) -> (ManualClock, Sandbox, Client) {
    let clock = ManualClock::new();
    let sandbox = Sandbox::builder()
        .clock(clock.clone())
        .token_lifetime(Duration::from_secs(expires_in))
        .start()
        .await;
    let client = sandbox.client_builder().build().unwrap();
    (clock, sandbox, client)
}

#[tokio::test]
async fn basic_header_constant_matches_the_sandbox_credentials() {
    use base64::Engine as _;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(BASIC)
        .unwrap();
    assert_eq!(
        String::from_utf8(decoded).unwrap(),
        format!("{}:{}", Sandbox::CLIENT_ID, CLIENT_SECRET)
    );
}

#[tokio::test]
async fn wire_shapes_of_every_call() {
    let (clock, sandbox, client) = setup(3600).await;
    let rec = sandbox.recorder();

    // Sign-up: JSON, Basic.
    let signed = client
        .sign_up("new-user@example.com", SIGN_UP_PASSWORD)
        .await
        .unwrap();
    assert!(signed.tokens.refresh_token().is_some());
    assert_eq!(signed.tokens.data::<iqm::OwId>(), None);
    assert_eq!(signed.scope.as_deref(), Some("read write"));
    let sign_up = rec.last("/api/v3/ua/sign-up").unwrap();
    assert_redacted(&sign_up, &[SIGN_UP_PASSWORD]);
    insta::assert_snapshot!("sign_up", sign_up);

    // Login (default): form-encoded OAuth token call, Basic.
    assert_eq!(client.login().await.unwrap(), Sandbox::OW_ID.to_string());
    let login = rec.last("/api/v3/ua/oauth/token").unwrap();
    assert_redacted(&login, &[]);
    insta::assert_snapshot!("login_oauth", login);

    // An authorized call: Bearer and the workspace header.
    let echoed: Value = client
        .get_data("/api/v3/ua/user/allowed-organizations")
        .await
        .unwrap();
    assert_eq!(echoed["owId"], Sandbox::OW_ID.to_string());
    let call = rec.last("/api/v3/ua/user/allowed").unwrap();
    insta::assert_snapshot!("authorized_call", call);

    // Refresh: form-encoded, Basic, the refresh token redacted.
    clock.advance(Duration::from_secs(3600));
    client.fetch_workspace_id().await.unwrap();
    let refresh = rec.last("/api/v3/ua/oauth/token").unwrap();
    assert!(refresh.contains("grant_type=refresh_token"));
    assert_redacted(&refresh, &[]);
    insta::assert_snapshot!("refresh", refresh);

    // Logout: Bearer and workspace header, no body.
    let message = client.logout().await.unwrap();
    assert_eq!(message, "User logged out successfully.");
    insta::assert_snapshot!("logout", rec.last("/api/v3/ua/logout").unwrap());

    // Login (JSON variant): X-Iaa-Host and the JSON body.
    let json_client = sandbox
        .client_builder()
        .with_login_flow(LoginFlow::json("app.sandbox.example"))
        .build()
        .unwrap();
    json_client.login().await.unwrap();
    let json_login = rec.last("/api/v3/ua/login").unwrap();
    assert_redacted(&json_login, &[]);
    insta::assert_snapshot!("login_json", json_login);

    assert_eq!(sandbox.hits("sign_up"), 1);
    assert_eq!(sandbox.hits("login"), 1);
    assert_eq!(sandbox.hits("json_login"), 1);
    assert_eq!(sandbox.hits("refresh"), 1);
    assert_eq!(sandbox.hits("logout"), 1);
}

/// The reference page's reading of the refresh call: a JSON body on the same path.
#[tokio::test]
async fn json_refresh_flow_keeps_the_workspace() {
    let (clock, sandbox, _) = setup(600).await;
    let client = sandbox
        .client_builder()
        .with_refresh_flow(iqm::RefreshFlow::Json)
        .build()
        .unwrap();
    let ow = client.login().await.unwrap();
    clock.advance(Duration::from_secs(600));
    let echoed: Value = client.get_data("/api/v3/campaigns/list").await.unwrap();
    assert_eq!(echoed["owId"], ow);
    let refresh = sandbox.recorder().last("/api/v3/ua/oauth/token").unwrap();
    assert_redacted(&refresh, &[]);
    insta::assert_snapshot!("refresh_json", refresh);
    assert_eq!((sandbox.hits("login"), sandbox.hits("refresh")), (1, 1));
    let s = client.session_stats();
    assert_eq!((s.sign_ins, s.refreshes, s.expiries), (1, 1, 1));
}

#[tokio::test]
async fn workspace_header_survives_refreshes() {
    let (clock, sandbox, client) = setup(600).await;
    let ow = client.login().await.unwrap();
    for round in 1..=3u64 {
        clock.advance(Duration::from_secs(600));
        let echoed: Value = client.get_data("/api/v3/campaigns/list").await.unwrap();
        assert_eq!(echoed["owId"], ow, "round {round}");
        let seen = sandbox.recorder().last("/api/v3/campaigns").unwrap();
        assert!(
            seen.contains(&format!("x-iaa-ow-id: {}", Sandbox::OW_ID)),
            "{seen}"
        );
        assert_eq!(sandbox.hits("refresh"), round);
        assert_eq!(client.workspace_id(), Some(ow.clone()));
    }
    let s = client.session_stats();
    assert_eq!((s.sign_ins, s.refreshes, s.expiries), (1, 3, 3));
    assert_eq!(sandbox.hits("login"), 1);
}

#[tokio::test]
async fn renewal_ahead_of_expiry_uses_the_refresh_token() {
    let (clock, sandbox, client) = setup(3600).await;
    client.login().await.unwrap();
    // Inside the 5-minute margin but not expired: the old token is served, one refresh runs.
    clock.advance(Duration::from_secs(3600 - 200));
    client.fetch_workspace_id().await.unwrap();
    client.settle().await.unwrap();
    assert_eq!(sandbox.hits("refresh"), 1);
    // And on demand.
    client.refresh().await.unwrap();
    assert_eq!(sandbox.hits("refresh"), 2);
    let s = client.session_stats();
    assert_eq!((s.sign_ins, s.refreshes, s.expiries), (1, 2, 0));
}

#[tokio::test]
async fn rejected_refresh_falls_back_to_one_login() {
    let (clock, sandbox, client) = setup(600).await;
    client.login().await.unwrap();
    sandbox.expire_tokens(Tokens::Refresh);
    clock.advance(Duration::from_secs(601));
    let ow = client.fetch_workspace_id().await.unwrap();
    assert_eq!(ow, Sandbox::OW_ID.to_string());
    assert_eq!(sandbox.hits("refresh"), 1);
    assert_eq!(sandbox.hits("login"), 2);
    let s = client.session_stats();
    assert_eq!(
        (
            s.sign_ins,
            s.refreshes,
            s.refresh_rejections,
            s.renewal_failures
        ),
        (2, 1, 1, 0)
    );
}

/// A sandbox that rotates refresh tokens: every refresh starts from the one the last
/// answer gave, and a client holding a used one is refused and logs in again.
#[tokio::test]
async fn rotating_refresh_tokens_are_followed_and_a_used_one_is_refused() {
    let clock = ManualClock::new();
    let sandbox = Sandbox::builder()
        .clock(clock.clone())
        .token_lifetime(Duration::from_secs(600))
        .rotating_refresh_tokens()
        .start()
        .await;
    let client = sandbox.client_builder().build().unwrap();
    let stale = sandbox.client_builder().build().unwrap();
    client.login().await.unwrap();
    let first = client.session().current().unwrap();
    stale.session().replace(first.tokens().clone());
    for _ in 0..3 {
        clock.advance(Duration::from_secs(601));
        client.fetch_workspace_id().await.unwrap();
    }
    let refreshed = client.session().current().unwrap();
    assert_ne!(
        refreshed.tokens().refresh_token(),
        first.tokens().refresh_token()
    );
    assert_eq!(
        (sandbox.hits("refresh"), sandbox.hits("refresh_refused")),
        (3, 0)
    );
    // The other client still holds the first refresh token, used since: refused, it logs
    // in instead.
    stale.fetch_workspace_id().await.unwrap();
    assert_eq!(
        (
            sandbox.hits("refresh"),
            sandbox.hits("refresh_refused"),
            sandbox.hits("login")
        ),
        (4, 1, 2)
    );
}

#[tokio::test]
async fn refresh_and_login_both_rejected_is_a_clear_unauthorized_error() {
    let (clock, sandbox, client) = setup(600).await;
    client.login().await.unwrap();
    sandbox.expire_tokens(Tokens::Refresh);
    sandbox.set_password(Sandbox::EMAIL, NEW_PASSWORD);
    clock.advance(Duration::from_secs(601));
    let e = client.fetch_workspace_id().await.unwrap_err();
    assert!(e.is_unauthorized(), "{e:?}");
    assert_eq!(e.status(), Some(403));
    assert_eq!(
        e.to_string(),
        "iqm refused the login: check the client id, secret, email and password (HTTP 403): \
         User doesn't exist or user is not allowed to provided workspace."
    );
    assert_eq!(e.iqm_error().unwrap().error_objects.len(), 1);
    assert_redacted(&format!("{e} {e:?}"), &[NEW_PASSWORD]);
    assert_eq!(sandbox.hits("refresh"), 1);
    assert_eq!(sandbox.hits("login"), 2);
    let s = client.session_stats();
    assert_eq!((s.sign_ins, s.refreshes, s.refresh_rejections), (2, 1, 1));
}

#[tokio::test]
async fn account_on_hold_is_recognisable() {
    let (_clock, sandbox, client) = setup(600).await;
    sandbox.set_on_hold(Sandbox::EMAIL, true);
    let e = client.login().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Rejected);
    assert!(!e.is_retryable());
    assert_eq!(e.status(), Some(400));
    let hold = e.account_hold().unwrap();
    assert_eq!(hold.status, "On Hold");
    assert_eq!(hold.support_email.as_deref(), Some("support@iqm.com"));
    assert!(
        e.to_string()
            .starts_with("iqm account is on hold (HTTP 400): ")
    );
    sandbox.set_on_hold(Sandbox::EMAIL, false);
    client.login().await.unwrap();
}

#[tokio::test]
async fn a_401_renews_once_and_retries() {
    let (_clock, sandbox, client) = setup(600).await;
    client.login().await.unwrap();
    sandbox.inject(Fault::unauthorized());
    client.fetch_workspace_id().await.unwrap();
    assert_eq!(sandbox.token_requests(), 2);
    assert_eq!(client.session_stats().recovered_401, 1);
    // The 401 reply uses IQM's error shape and its message survives a second 401.
    sandbox.inject(Fault::unauthorized());
    sandbox.inject(Fault::unauthorized());
    let e = client.fetch_workspace_id().await.unwrap_err();
    assert!(e.is_unauthorized());
    assert_eq!(e.vendor_message(), Some("Unauthorized"));
    assert_eq!(sandbox.token_requests(), 3);
}

#[tokio::test]
async fn rate_limit_and_server_errors_are_typed() {
    let (_clock, sandbox, client) = setup(600).await;
    sandbox.inject(Fault::rate_limited(Some(30), "Too many requests"));
    let e = client.fetch_workspace_id().await.unwrap_err();
    assert!(e.is_rate_limited());
    assert_eq!(e.retry_after(), Some(Duration::from_secs(30)));
    assert_eq!(e.vendor_message(), Some("Too many requests"));
    sandbox.inject(Fault::server_error(500));
    let e = client.fetch_workspace_id().await.unwrap_err();
    assert!(e.is_transient() && e.is_retryable());
    // A token call's 429 surfaces as such, not as a refused login.
    sandbox.inject_token(Fault::rate_limited(None, "Too many requests"));
    client.logout().await.unwrap();
    let e = client.login().await.unwrap_err();
    assert!(e.is_rate_limited(), "{e:?}");
}

#[tokio::test]
async fn sign_up_then_log_in_as_the_new_user() {
    let (_clock, sandbox, client) = setup(600).await;
    client
        .sign_up("fresh@example.com", SIGN_UP_PASSWORD)
        .await
        .unwrap();
    // A second sign-up of the same email: IQM's documented 403.
    let e = client
        .sign_up("fresh@example.com", SIGN_UP_PASSWORD)
        .await
        .unwrap_err();
    assert!(e.is_rejected());
    assert_eq!(e.status(), Some(403));
    assert_eq!(
        e.vendor_message(),
        Some(
            "User is not allowed to create a password. (User is not invited or invitation is \
             processed or invitation is expired.)"
        )
    );
    assert_redacted(&format!("{e} {e:?}"), &[SIGN_UP_PASSWORD]);
    let new_user = sandbox
        .client_builder()
        .with_credentials(Credentials::new(
            Sandbox::CLIENT_ID,
            CLIENT_SECRET,
            "fresh@example.com",
            SIGN_UP_PASSWORD,
        ))
        .build()
        .unwrap();
    let ow = new_user.login().await.unwrap();
    assert_eq!(
        Some(ow.parse::<u64>().unwrap()),
        sandbox.ow_id("fresh@example.com")
    );
}

#[tokio::test]
async fn logout_revokes_and_the_next_call_logs_in_again() {
    let (_clock, sandbox, client) = setup(600).await;
    client.login().await.unwrap();
    client.logout().await.unwrap();
    assert_eq!(client.workspace_id(), None);
    client.fetch_workspace_id().await.unwrap();
    assert_eq!(sandbox.hits("login"), 2);
    assert_eq!(client.session_stats().unauthorized, 0);
}

#[tokio::test]
async fn sandbox_enforces_the_wire_rules() {
    let (_clock, sandbox, client) = setup(600).await;
    let http = auth_core::http::default_client().unwrap();
    let base = sandbox.base_url();
    // No Basic header on the token call.
    let r = http
        .post(format!("{base}/api/v3/ua/oauth/token"))
        .form(&[
            ("grant_type", "password"),
            ("username", Sandbox::EMAIL),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // JSON login without X-Iaa-Host.
    let r = http
        .post(format!("{base}/api/v3/ua/login"))
        .header("authorization", format!("Basic {BASIC}"))
        .json(&json!({"grantType": "password", "email": Sandbox::EMAIL, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["errorObjects"][0]["field"], "X-Iaa-Host");
    // A plain-text body where the form (or JSON) is expected.
    let r = http
        .post(format!("{base}/api/v3/ua/oauth/token"))
        .header("authorization", format!("Basic {BASIC}"))
        .header("content-type", "text/plain")
        .body("grant_type=password")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    // The form without the password.
    let r = http
        .post(format!("{base}/api/v3/ua/oauth/token"))
        .header("authorization", format!("Basic {BASIC}"))
        .form(&[("grant_type", "password"), ("username", Sandbox::EMAIL)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    // A wrong method on a known route.
    let r = http
        .get(format!("{base}/api/v3/ua/oauth/token"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    // A wrong Basic value.
    let r = http
        .post(format!("{base}/api/v3/ua/sign-up"))
        .header("authorization", "Basic d3Jvbmc6d3Jvbmc=")
        .json(&json!({"email": "x@example.com", "password": "p"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["success"], false);
    assert_eq!(sandbox.hits("sign_up"), 1);
    assert_eq!(sandbox.ow_id("x@example.com"), None);
    // An authorized call without the workspace header.
    client.login().await.unwrap();
    let token = {
        // The recorder redacts it; take a fresh one through the API instead.
        let r = http
            .post(format!("{base}/api/v3/ua/oauth/token"))
            .header("authorization", format!("Basic {BASIC}"))
            .form(&[
                ("grant_type", "password"),
                ("username", Sandbox::EMAIL),
                ("password", PASSWORD),
            ])
            .send()
            .await
            .unwrap();
        let v: Value = r.json().await.unwrap();
        // Wrapped, with owId; the tokens are UUIDs.
        assert_eq!(v["success"], true);
        assert_eq!(v["data"]["owId"], Sandbox::OW_ID);
        assert_eq!(v["data"]["expires_in"], 600);
        let refresh = v["data"]["refresh_token"].as_str().unwrap().to_owned();
        let access = v["data"]["access_token"].as_str().unwrap().to_owned();
        for t in [&refresh, &access] {
            assert_eq!(t.len(), 36, "{t}");
            assert_eq!(t.matches('-').count(), 4, "{t}");
        }
        // The refresh answer is flat and has no owId.
        let r = http
            .post(format!("{base}/api/v3/ua/oauth/token"))
            .header("authorization", format!("Basic {BASIC}"))
            .form(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let flat: Value = r.json().await.unwrap();
        let mut keys: Vec<&str> = flat
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "access_token",
                "expires_in",
                "refresh_token",
                "scope",
                "token_type"
            ]
        );
        // An unknown refresh token: OAuth's invalid_grant.
        let r = http
            .post(format!("{base}/api/v3/ua/oauth/token"))
            .header("authorization", format!("Basic {BASIC}"))
            .form(&[("grant_type", "refresh_token"), ("refresh_token", "nope")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"], "invalid_grant");
        access
    };
    let r = http
        .get(format!("{base}/api/v3/campaigns/list"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = http
        .get(format!("{base}/api/v3/campaigns/list"))
        .bearer_auth(&token)
        .header("x-iaa-ow-id", "999")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = http
        .get(format!("{base}/api/v3/campaigns/list"))
        .bearer_auth(&token)
        .header("x-iaa-ow-id", Sandbox::OW_ID.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn opt_in_limiter_keeps_to_twenty_per_minute() {
    assert_eq!(iqm::RATE_LIMIT, (20, Duration::from_secs(60)));
    let (_clock, sandbox, _) = setup(600).await;
    let limiter = iqm::RateLimiter::new(20, Duration::from_secs(60)).with_max_wait(Duration::ZERO);
    let client = sandbox
        .client_builder()
        .with_rate_limiter(limiter)
        .build()
        .unwrap();
    // The login counts too: 1 + 19 calls fill the minute.
    for _ in 0..19 {
        client.fetch_workspace_id().await.unwrap();
    }
    let e = client.fetch_workspace_id().await.unwrap_err();
    assert!(e.is_rate_limited());
    assert_eq!(e.status(), None, "refused locally, never sent");
    assert_eq!(sandbox.hits("ow_id"), 19);
    assert_eq!(sandbox.hits("login"), 1);
}

#[tokio::test]
async fn nothing_secret_prints() {
    let (_clock, sandbox, client) = setup(600).await;
    client.login().await.unwrap();
    let creds = Credentials::new(Sandbox::CLIENT_ID, CLIENT_SECRET, Sandbox::EMAIL, PASSWORD);
    let builder = sandbox.client_builder();
    let signed = client
        .sign_up("x@example.com", SIGN_UP_PASSWORD)
        .await
        .unwrap();
    let shown = format!(
        "{creds:?} {:?} {client:?} {builder:?} {sandbox:?} {signed:?} {:?}",
        creds.client(),
        client.token_expiry()
    );
    assert_redacted(
        &shown,
        &[
            SIGN_UP_PASSWORD,
            signed.tokens.access_token().expose(),
            signed.tokens.refresh_token().unwrap().expose(),
        ],
    );
    assert!(shown.contains("[REDACTED]"));
    // Issued tokens: the sandbox's recorder redacts them, so none is in any rendering.
    for r in sandbox.recorder().all() {
        let text = sandbox.recorder().render(&r);
        assert_redacted(&text, &[SIGN_UP_PASSWORD]);
    }
}
