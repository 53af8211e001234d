//! The IQM client against its sandbox (and httpmock for answers the sandbox never gives):
//! exact wire shapes, the workspace header across refreshes, refresh-rejection fallback,
//! error parsing of every documented example, the opt-in limiter, secret redaction.

use std::time::Duration;

use httpmock::Method::{GET, POST};
use httpmock::MockServer;
use iqm::sandbox::{Fault, ManualClock, Sandbox, Tokens};
use iqm::{Client, Credentials, ErrorExt as _, ErrorKind, IqmError, LoginFlow};
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
    let http = reqwest::Client::new();
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

/// Every error example of the extracted OpenAPI, served by the call it documents.
#[tokio::test]
async fn every_openapi_error_example_parses_without_loss() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/iqm-auth-openapi.json"
    );
    let spec: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut checked = 0;
    for (route, ops) in spec["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            for (status, response) in op["responses"].as_object().unwrap() {
                let status: u16 = status.parse().unwrap();
                if status < 400 {
                    continue;
                }
                let content = &response["content"]["application/json"];
                for example in [&content["example"], &content["schema"]["example"]] {
                    if example.is_null() {
                        continue;
                    }
                    check_example(route, method, status, example).await;
                    checked += 1;
                }
            }
        }
    }
    // sign-up 403, login 400 (on hold) and 403, each as media and schema example.
    assert_eq!(checked, 6);
}

/// The spec's nested examples too: each `errorObjects` item example (with the `data`
/// example beside it where the schema has one) served in the documented envelope.
#[tokio::test]
async fn every_nested_openapi_error_example_parses_without_loss() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/iqm-auth-openapi.json"
    );
    let spec: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut checked = Vec::new();
    for (route, ops) in spec["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            for (status, response) in op["responses"].as_object().unwrap() {
                let status: u16 = status.parse().unwrap();
                let props = &response["content"]["application/json"]["schema"]["properties"];
                let item = &props["errorObjects"]["items"]["example"];
                if status < 400 || item.is_null() {
                    continue;
                }
                let mut body = json!({"success": false, "errorObjects": [item]});
                let data = &props["data"]["example"];
                if !data.is_null() {
                    body["data"] = data.clone();
                }
                check_example(route, method, status, &body).await;
                checked.push(format!("{route} {status} data={}", !data.is_null()));
            }
        }
    }
    assert_eq!(
        checked,
        [
            "/api/v3/ua/login 400 data=true",
            "/api/v3/ua/login 403 data=false",
            "/api/v3/ua/sign-up 403 data=false",
        ]
    );
}

async fn check_example(route: &str, method: &str, status: u16, example: &Value) {
    let server = MockServer::start_async().await;
    let body = example.to_string();
    server
        .mock_async(|when, then| {
            when.method(method.to_uppercase().as_str()).path(route);
            then.status(status)
                .header("content-type", "application/json")
                .body(body.clone());
        })
        .await;
    let mut builder = Client::builder()
        .with_base_url(server.base_url())
        .with_credentials(Sandbox::credentials());
    if route == "/api/v3/ua/login" {
        builder = builder.with_login_flow(LoginFlow::json("app.example.com"));
    }
    let client = builder.build().unwrap();
    let e = match route {
        "/api/v3/ua/sign-up" => client.sign_up("a@example.com", "pw").await.unwrap_err(),
        "/api/v3/ua/login" => client.login().await.unwrap_err(),
        other => panic!("no call for {other}"),
    };
    let what = format!("{method} {route} {status}");
    assert_eq!(e.status(), Some(status), "{what}");
    let detail = e.iqm_error().unwrap_or_else(|| panic!("{what}: no detail"));
    // Without loss: the detail serializes back to the example exactly.
    assert_eq!(&serde_json::to_value(detail).unwrap(), example, "{what}");
    let objects = example["errorObjects"].as_array().unwrap();
    assert_eq!(detail.error_objects.len(), objects.len(), "{what}");
    let first = objects[0]["error"].as_str().unwrap();
    assert!(
        e.vendor_message().unwrap().starts_with(first),
        "{what}: {e}"
    );
    let expected = match (route, status) {
        // A held account is a rejection (and recognisable); a refused login is unauthorized.
        (_, 400) => {
            assert!(e.account_hold().is_some(), "{what}");
            ErrorKind::Rejected
        }
        ("/api/v3/ua/login", 403) => ErrorKind::Unauthorized,
        _ => ErrorKind::Rejected,
    };
    assert_eq!(e.kind(), expected, "{what}");
}

/// The notes' general shape, with `field` and `data`, on an authorized call at every
/// documented status.
#[tokio::test]
async fn notes_error_shape_at_every_documented_status() {
    for (status, kind) in [
        (400, ErrorKind::Rejected),
        (403, ErrorKind::Rejected),
        (408, ErrorKind::Transient),
        (412, ErrorKind::Rejected),
        (422, ErrorKind::Rejected),
        (429, ErrorKind::RateLimited),
        (500, ErrorKind::Transient),
    ] {
        let example = json!({
            "success": false,
            "data": {"requestId": "r-1"},
            "errorObjects": [
                {"error": "Invalid value", "reason": "must be positive", "field": "budget"},
                {"error": "Second problem"}
            ]
        });
        let server = MockServer::start_async().await;
        server
            .mock_async(|when, then| {
                when.method(POST).path("/api/v3/ua/oauth/token");
                then.status(200).header("content-type", "application/json").body(
                    json!({"success": true, "data": {"access_token": "at-1", "refresh_token": "rt-1",
                        "expires_in": 3600, "owId": 5}})
                    .to_string(),
                );
            })
            .await;
        let body = example.to_string();
        server
            .mock_async(|when, then| {
                when.method(GET)
                    .path("/api/v3/things")
                    .header("x-iaa-ow-id", "5");
                then.status(status)
                    .header("content-type", "application/json")
                    .body(body.clone());
            })
            .await;
        let client = Client::builder()
            .with_base_url(server.base_url())
            .with_credentials(Sandbox::credentials())
            .build()
            .unwrap();
        let e = client
            .get_data::<Value>("/api/v3/things")
            .await
            .unwrap_err();
        assert_eq!(e.kind(), kind, "status {status}");
        assert_eq!(e.status(), Some(status));
        assert_eq!(
            e.vendor_message(),
            Some("budget: Invalid value (must be positive); Second problem")
        );
        let d = e.iqm_error().unwrap();
        assert_eq!(serde_json::to_value(d).unwrap(), example);
        assert!(e.account_hold().is_none());
    }
}

#[tokio::test]
async fn login_without_ow_id_asks_for_it() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(POST).path("/api/v3/ua/oauth/token");
            then.status(200)
                .header("content-type", "application/json")
                .body(
                    json!({"access_token": "at-9", "refresh_token": "rt-9", "expires_in": 3600})
                        .to_string(),
                );
        })
        .await;
    let ow = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/api/v3/ua/user/ow-id")
                .header("authorization", "Bearer at-9");
            then.status(200)
                .header("content-type", "application/json")
                .body(r#"{"success":true,"data":31337}"#);
        })
        .await;
    let client = Client::builder()
        .with_base_url(server.base_url())
        .with_credentials(Sandbox::credentials())
        .build()
        .unwrap();
    assert_eq!(client.login().await.unwrap(), "31337");
    ow.assert_calls_async(1).await;
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

#[tokio::test]
async fn a_login_400_is_refused_only_when_it_says_so() {
    for (body, kind) in [
        (
            json!({"error": "invalid_grant", "error_description": "Bad credentials"}),
            ErrorKind::Unauthorized,
        ),
        (
            json!({"success": false, "errorObjects": [{"error": "username is required", "field": "username"}]}),
            ErrorKind::Rejected,
        ),
    ] {
        let server = MockServer::start_async().await;
        let text = body.to_string();
        server
            .mock_async(|when, then| {
                when.method(POST).path("/api/v3/ua/oauth/token");
                then.status(400)
                    .header("content-type", "application/json")
                    .body(text.clone());
            })
            .await;
        let client = Client::builder()
            .with_base_url(server.base_url())
            .with_credentials(Sandbox::credentials())
            .build()
            .unwrap();
        let e = client.login().await.unwrap_err();
        assert_eq!(e.kind(), kind, "{body}");
        assert_eq!(e.status(), Some(400));
        assert_eq!(serde_json::to_value(e.iqm_error().unwrap()).unwrap(), body);
    }
}

/// A client on a mock server whose login answers `status` / `content_type` / `body`.
async fn login_answer(status: u16, content_type: &str, body: &str) -> iqm::Error {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(POST).path("/api/v3/ua/oauth/token");
            then.status(status)
                .header("content-type", content_type)
                .body(body);
        })
        .await;
    let client = Client::builder()
        .with_base_url(server.base_url())
        .with_credentials(Sandbox::credentials())
        .build()
        .unwrap();
    let e = client.login().await.unwrap_err();
    assert_eq!(client.workspace_id(), None);
    assert_redacted(&format!("{e} {e:?}"), &[]);
    e
}

#[tokio::test]
async fn garbled_login_answers_are_typed_errors() {
    let json_ct = "application/json";
    for (status, ct, body, kind) in [
        (200, json_ct, "", ErrorKind::BadResponse),
        (200, json_ct, "{not json", ErrorKind::BadResponse),
        (
            200,
            "text/html",
            "<html>maintenance</html>",
            ErrorKind::BadResponse,
        ),
        (200, json_ct, "[]", ErrorKind::BadResponse),
        (200, json_ct, "null", ErrorKind::BadResponse),
        (
            200,
            json_ct,
            r#"{"success":true,"data":null}"#,
            ErrorKind::BadResponse,
        ),
        (
            200,
            json_ct,
            r#"{"success":true,"data":{"access_token":null,"owId":5}}"#,
            ErrorKind::BadResponse,
        ),
        (
            200,
            json_ct,
            r#"{"access_token":"a","expires_in":"soon","owId":5}"#,
            ErrorKind::BadResponse,
        ),
        (
            200,
            json_ct,
            r#"{"access_token":"a","expires_in":60,"owId":"1\r\n2"}"#,
            ErrorKind::BadResponse,
        ),
        // A 200 that carries IQM's error body is an error, with the body kept.
        (
            200,
            json_ct,
            r#"{"success":false,"errorObjects":[{"error":"nope"}]}"#,
            ErrorKind::Rejected,
        ),
        (500, "text/html", "<html>oops</html>", ErrorKind::Transient),
        (502, json_ct, "", ErrorKind::Transient),
        (
            408,
            json_ct,
            r#"{"success":false,"errorObjects":null}"#,
            ErrorKind::Transient,
        ),
    ] {
        let e = login_answer(status, ct, body).await;
        assert_eq!(e.kind(), kind, "{status} {ct} {body:?}: {e:?}");
    }
    let e = login_answer(
        200,
        json_ct,
        r#"{"success":false,"errorObjects":[{"error":"nope"}]}"#,
    )
    .await;
    assert_eq!(e.vendor_message(), Some("nope"));
    assert_eq!(e.iqm_error().unwrap().error_objects.len(), 1);
}

#[tokio::test]
async fn garbled_workspace_answers_are_typed_errors() {
    for body in [
        "",
        "{",
        r#"{"success":true}"#,
        r#"{"success":true,"data":null}"#,
        r#"{"success":true,"data":"1\n2"}"#,
        r#"{"success":false,"errorObjects":[{"error":"no workspace"}]}"#,
    ] {
        let server = MockServer::start_async().await;
        server
            .mock_async(|when, then| {
                when.method(POST).path("/api/v3/ua/oauth/token");
                then.status(200)
                    .header("content-type", "application/json")
                    .body(
                        json!({"access_token": "at-1", "expires_in": 3600, "owId": 5}).to_string(),
                    );
            })
            .await;
        server
            .mock_async(|when, then| {
                when.method(GET).path("/api/v3/ua/user/ow-id");
                then.status(200)
                    .header("content-type", "application/json")
                    .body(body);
            })
            .await;
        let client = Client::builder()
            .with_base_url(server.base_url())
            .with_credentials(Sandbox::credentials())
            .build()
            .unwrap();
        let e = client.fetch_workspace_id().await.unwrap_err();
        assert!(e.is_bad_response() || e.is_rejected(), "{body:?}: {e:?}");
        // What the client holds is untouched.
        assert_eq!(client.workspace_id().as_deref(), Some("5"), "{body:?}");
    }
}

/// A garbled refresh answer fails that call with a typed error, keeps the session (and its
/// owId), and the next good refresh still sends the login's workspace id.
#[tokio::test]
async fn a_garbled_refresh_answer_loses_nothing() {
    let clock = ManualClock::new();
    let server = MockServer::start_async().await;
    let login =
        server
            .mock_async(|when, then| {
                when.method(POST)
                    .path("/api/v3/ua/oauth/token")
                    .body_includes("grant_type=password");
                then.status(200).header("content-type", "application/json").body(
                json!({"success": true, "data": {"access_token": "at-1", "refresh_token": "rt-1",
                    "expires_in": 600, "owId": 77}})
                .to_string(),
            );
            })
            .await;
    let bad_refresh = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/api/v3/ua/oauth/token")
                .body_includes("grant_type=refresh_token");
            then.status(200)
                .header("content-type", "application/json")
                .body(r#"{"access_token": 42}"#);
        })
        .await;
    let api = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/api/v3/things")
                .header("authorization", "Bearer at-2")
                .header("x-iaa-ow-id", "77");
            then.status(200)
                .header("content-type", "application/json")
                .body(r#"{"success":true,"data":1}"#);
        })
        .await;
    let client = Client::builder()
        .with_base_url(server.base_url())
        .with_credentials(Sandbox::credentials())
        .with_clock(clock.clone())
        .build()
        .unwrap();
    assert_eq!(client.login().await.unwrap(), "77");
    clock.advance(Duration::from_secs(601));
    let e = client.get_data::<u64>("/api/v3/things").await.unwrap_err();
    assert!(e.is_bad_response(), "{e:?}");
    assert_eq!(client.workspace_id().as_deref(), Some("77"));
    bad_refresh.assert_calls_async(1).await;
    bad_refresh.delete_async().await;
    let good_refresh = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/api/v3/ua/oauth/token")
                .body_includes("grant_type=refresh_token")
                .body_includes("refresh_token=rt-1");
            then.status(200)
                .header("content-type", "application/json")
                .body(
                    json!({"access_token": "at-2", "scope": "read write", "expires_in": 600})
                        .to_string(),
                );
        })
        .await;
    assert_eq!(client.get_data::<u64>("/api/v3/things").await.unwrap(), 1);
    login.assert_calls_async(1).await;
    good_refresh.assert_calls_async(1).await;
    api.assert_calls_async(1).await;
    let s = client.session_stats();
    // Attempts: the garbled refresh and the good one.
    assert_eq!((s.sign_ins, s.refreshes, s.renewal_failures), (1, 2, 1));
}

/// A server that echoes what it was sent in its error body: the error shows none of it.
#[tokio::test]
async fn secrets_echoed_in_error_bodies_are_scrubbed() {
    const ECHO_SECRET: &str = "echoed-client-secret-71b0";
    const ECHO_PASSWORD: &str = "echoed-password-0c4e";
    const ECHO_REFRESH: &str = "echoed-refresh-token-9a2f";
    let basic = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(format!("cid:{ECHO_SECRET}"))
    };
    let server = MockServer::start_async().await;
    let body = json!({"success": false, "errorObjects": [{
        "error": format!("bad password {ECHO_PASSWORD} for client secret {ECHO_SECRET}"),
        "reason": format!("header was Basic {basic}"),
    }]})
    .to_string();
    server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/api/v3/ua/oauth/token")
                .body_includes("grant_type=password");
            then.status(403)
                .header("content-type", "application/json")
                .body(body.clone());
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(POST).path("/api/v3/ua/sign-up");
            then.status(422)
                .header("content-type", "application/json")
                .body(
                    json!({"success": false, "errorObjects": [{
                        "error": format!("password {ECHO_PASSWORD} is too weak"),
                        "field": "password"}]})
                    .to_string(),
                );
        })
        .await;
    let client = Client::builder()
        .with_base_url(server.base_url())
        .with_credentials(Credentials::new(
            "cid",
            ECHO_SECRET,
            "e@example.com",
            ECHO_PASSWORD,
        ))
        .build()
        .unwrap();
    let secrets = [ECHO_SECRET, ECHO_PASSWORD, basic.as_str(), ECHO_REFRESH];
    let check = |e: &iqm::Error| {
        let shown = format!("{e} {e:?} {:?} {:?}", e.vendor_message(), e.iqm_error());
        for s in secrets {
            assert!(!shown.contains(s), "{s:?} leaked in {shown}");
        }
        assert!(shown.contains("[REDACTED]"), "{shown}");
    };
    let e = client.login().await.unwrap_err();
    assert!(e.is_unauthorized());
    check(&e);
    let e = client
        .sign_up("n@example.com", ECHO_PASSWORD)
        .await
        .unwrap_err();
    assert!(e.is_rejected());
    check(&e);
    // A refresh answered 500 with the refresh token echoed: surfaced, scrubbed.
    let clock = ManualClock::new();
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/api/v3/ua/oauth/token")
                .body_includes("grant_type=password");
            then.status(200)
                .header("content-type", "application/json")
                .body(
                    json!({"access_token": "at-1", "refresh_token": ECHO_REFRESH,
                    "expires_in": 600, "owId": 5})
                    .to_string(),
                );
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/api/v3/ua/oauth/token")
                .body_includes("grant_type=refresh_token");
            then.status(500)
                .header("content-type", "application/json")
                .body(
                    json!({"success": false, "errorObjects": [{
                        "error": format!("cannot refresh {ECHO_REFRESH}")}]})
                    .to_string(),
                );
        })
        .await;
    let client = Client::builder()
        .with_base_url(server.base_url())
        .with_credentials(Credentials::new(
            "cid",
            ECHO_SECRET,
            "e@example.com",
            ECHO_PASSWORD,
        ))
        .with_clock(clock.clone())
        .build()
        .unwrap();
    client.login().await.unwrap();
    let e = client.refresh().await.unwrap_err();
    assert!(e.is_transient(), "{e:?}");
    check(&e);
    assert_eq!(client.session_stats().sign_ins, 1);
}

/// A 429 with a garbled `Retry-After`: still rate limiting, no retry hint invented, the
/// IQM body kept.
#[tokio::test]
async fn a_garbled_retry_after_is_tolerated() {
    let server = MockServer::start_async().await;
    let body = json!({"success": false, "errorObjects": [{"error": "Too many requests"}]});
    let text = body.to_string();
    let m = server
        .mock_async(|when, then| {
            when.method(POST).path("/api/v3/ua/oauth/token");
            then.status(429)
                .header("content-type", "application/json")
                .header("retry-after", "soon-ish")
                .body(text.clone());
        })
        .await;
    let client = Client::builder()
        .with_base_url(server.base_url())
        .with_credentials(Sandbox::credentials())
        .build()
        .unwrap();
    let e = client.login().await.unwrap_err();
    assert!(e.is_rate_limited() && e.is_retryable(), "{e:?}");
    assert_eq!(e.retry_after(), None);
    assert_eq!(e.vendor_message(), Some("Too many requests"));
    assert_eq!(serde_json::to_value(e.iqm_error().unwrap()).unwrap(), body);
    m.assert_calls_async(1).await;
    assert_eq!(client.session_stats().sign_ins, 1);
}

/// A hostile IQM echoes every secret of the call, in every encoding and straddling the
/// error-body bound: none of it reaches the error (Display, Debug, `{:#?}`, the vendor
/// message, or the `IqmError` detail serialized back to JSON).
#[tokio::test]
async fn no_secret_of_a_call_survives_a_hostile_echo() {
    use auth_core::sandbox::{assert_secret_free, echoes};
    const SECRET: &str = r#"cl&ent/secret"<x>é"#;
    const PASS: &str = r#"p&ss<1> "q"\/+%"#;
    const ACCESS: &str = "at-hostile-&<1f2e>";
    const REFRESH: &str = "rt-hostile-/9a8b+";
    let basic = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(format!("hostile-id:{SECRET}"))
    };
    let login_secrets = [SECRET, PASS, basic.as_str()];
    let server = MockServer::start_async().await;
    let client = Client::builder()
        .with_base_url(server.base_url())
        .with_credentials(Credentials::new(
            "hostile-id",
            SECRET,
            "me@example.com",
            PASS,
        ))
        .build()
        .unwrap();
    let error_body = |echo: &str| {
        format!(
            r#"{{"success":false,"errorObjects":[{{"error":"bad password {echo}","field":"{echo}"}}]}}"#
        )
    };
    // The login echoes the password, the client secret and the Basic header value.
    for secret in login_secrets {
        for (name, echo) in echoes(secret) {
            let body = error_body(&echo);
            let mock = server
                .mock_async(|when, then| {
                    when.method(POST).path("/api/v3/ua/oauth/token");
                    then.status(400).body(body.clone());
                })
                .await;
            let err = client.login().await.unwrap_err();
            assert_eq!(err.status(), Some(400), "{name}");
            assert_secret_free::<IqmError>(&err, &login_secrets, &format!("login, {name}"));
            mock.delete_async().await;
        }
    }
    // An authorized call echoes the access and refresh tokens.
    let token = server
        .mock_async(|when, then| {
            when.method(POST).path("/api/v3/ua/oauth/token");
            then.status(200).header("content-type", "application/json").body(
                json!({"access_token": ACCESS, "refresh_token": REFRESH, "expires_in": 3600, "owId": 5})
                    .to_string(),
            );
        })
        .await;
    for secret in [ACCESS, REFRESH] {
        for (name, echo) in echoes(secret) {
            let body = error_body(&echo);
            let mock = server
                .mock_async(|when, then| {
                    when.method(GET).path("/api/v3/things");
                    then.status(422).body(body.clone());
                })
                .await;
            let err = client
                .get_json::<Value>("/api/v3/things")
                .await
                .unwrap_err();
            assert_eq!(err.status(), Some(422), "{name}");
            assert_secret_free::<IqmError>(&err, &[ACCESS, REFRESH], &format!("call, {name}"));
            mock.delete_async().await;
        }
    }
    assert_eq!(token.calls_async().await, 1);
}
