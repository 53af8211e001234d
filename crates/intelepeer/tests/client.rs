//! The IntelePeer client over real HTTP against its sandbox: wire shapes, token expiry and
//! renewal, the per-API header scheme, the static CPaaS token, and error mapping.

// Test helpers outside #[test] functions unwrap too: a failed setup is a failed test.
#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::time::{Duration, SystemTime};

use auth_core::Expiry;
use futures::TryStreamExt as _;
use intelepeer::sandbox::{Fault, ManualClock, Sandbox, TokenStyle};
use intelepeer::{
    Api, AuthEndpoint, AuthScheme, Client, Credentials, Environment, ErrorExt as _, SendSms,
};

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

async fn start(clock: &ManualClock) -> Sandbox {
    Sandbox::builder().clock(clock.clone()).start().await
}

fn sms() -> SendSms {
    SendSms::new("+13035550100", "+13035550199", "hello from the sandbox")
}

fn sandbox_client(sandbox: &Sandbox) -> Client {
    sandbox.client_builder().build().unwrap()
}

/// The expiry of the token the client holds.
fn expiry(client: &Client) -> Expiry {
    *client.session().current().unwrap().tokens().expiry()
}

/// The token the sandbox issued last, read from the authenticate answer the client got.
async fn current_token(sandbox: &Sandbox) -> String {
    // Authenticate directly to learn a token value for leak assertions.
    let http = auth_core::http::default_client().unwrap();
    let v: serde_json::Value = http
        .post(format!("{}/_rest/v4/authenticate", sandbox.base_url()))
        .header("accept", "application/json")
        .json(&serde_json::json!({"username": Sandbox::USERNAME, "password": Sandbox::PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn snapshot_of_authenticate_request() {
    let clock = ManualClock::new();
    let sandbox = start(&clock).await;
    let client = sandbox_client(&sandbox);
    client.authenticate().await.unwrap();
    let shown = sandbox.recorder().last("/_rest/v4/authenticate").unwrap();
    assert!(!shown.contains(Sandbox::PASSWORD));
    insta::assert_snapshot!(shown, @r#"
    POST /_rest/v4/authenticate
    accept: application/json
    content-type: application/json

    {
      "password": "[REDACTED]",
      "username": "sandbox-api-user"
    }
    "#);
}

#[tokio::test]
async fn snapshot_of_send_sms_request_uses_bearer() {
    let clock = ManualClock::new();
    let sandbox = start(&clock).await;
    let client = sandbox_client(&sandbox);
    let receipt = client.send_sms(&sms()).await.unwrap();
    assert_eq!(receipt.status.as_deref(), Some("queued"));
    assert_eq!(receipt.to.as_deref(), Some("+13035550199"));
    assert!(receipt.message_id.is_some());
    let shown = sandbox.recorder().last("/_rest/v4/app/sms/send").unwrap();
    assert!(!shown.contains("ipt-"), "token not redacted: {shown}");
    insta::assert_snapshot!(shown, @r#"
    POST /_rest/v4/app/sms/send
    accept: application/json
    authorization: Bearer [REDACTED]
    content-type: application/json

    {
      "from": "+13035550100",
      "text": "hello from the sandbox",
      "to": "+13035550199"
    }
    "#);
}

#[tokio::test]
async fn snapshot_of_portal_request_uses_raw_token() {
    let clock = ManualClock::new();
    let sandbox = start(&clock).await;
    let client = sandbox_client(&sandbox);
    let page = client.accounts_page(2, 100).await.unwrap();
    assert_eq!(page.items.len(), 100);
    assert_eq!(page.items[0].id.as_deref(), Some("100101"));
    let shown = sandbox.recorder().last("/_rest/v4/my/").unwrap();
    assert!(!shown.contains("ipt-"), "token not redacted: {shown}");
    insta::assert_snapshot!(shown, @r#"
    GET /_rest/v4/my/accounts?page=2&pageSize=100
    accept: application/json
    authorization: [REDACTED]
    "#);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn crossing_24_hours_reauthenticates_once_for_100_callers() {
    let clock = ManualClock::new();
    // A slow authenticate answer (real time; expiry follows the manual clock only): every
    // caller is spawned well before the one re-authentication can finish, so all 100 wait
    // on it. Without single-flight each would authenticate on its own.
    let sandbox = Sandbox::builder()
        .clock(clock.clone())
        .auth_delay(Duration::from_millis(300))
        .start()
        .await;
    let client = sandbox_client(&sandbox);
    client.send_sms(&sms()).await.unwrap();
    assert_eq!(sandbox.token_requests(), 1);

    clock.advance(DAY + Duration::from_secs(1));
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let c = client.clone();
            tokio::spawn(async move {
                if i % 2 == 0 {
                    c.send_sms(&sms()).await.map(drop)
                } else {
                    c.accounts_page(1, 10).await.map(drop)
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(sandbox.token_requests(), 2);
    assert_eq!(sandbox.hits("authenticate"), 2);
    let stats = client.session_stats();
    assert_eq!(stats.sign_ins, 2);
    assert_eq!(
        stats.unauthorized, 0,
        "no call may reach the server with the expired token"
    );
    assert_eq!(stats.expiries, 1, "one expired token, counted once");
    assert_eq!(stats.requests, 101);
    assert_eq!(sandbox.hits("send_sms") + sandbox.hits("accounts"), 101);
}

#[tokio::test]
async fn opaque_token_expires_24_hours_after_issue() {
    let clock = ManualClock::new();
    let sandbox = start(&clock).await;
    let client = sandbox_client(&sandbox);
    let issued = clock_now(&clock);
    client.authenticate().await.unwrap();
    let expiry = expiry(&client);
    assert_eq!(expiry.expires_at(), Some(issued + DAY));
    assert_eq!(expiry.lifetime(), Some(DAY));

    // Still valid 21 hours in, before its renewal window (the last 10 %): no re-authentication.
    clock.advance(Duration::from_secs(21 * 3600));
    client.accounts_page(1, 5).await.unwrap();
    assert_eq!(sandbox.token_requests(), 1);
}

fn clock_now(clock: &ManualClock) -> SystemTime {
    auth_core::Clock::now(clock)
}

#[tokio::test]
async fn jwt_token_expires_at_its_exp_claim() {
    let clock = ManualClock::new();
    let lifetime = Duration::from_secs(2 * 3600);
    let sandbox = Sandbox::builder()
        .clock(clock.clone())
        .token_style(TokenStyle::Jwt)
        .token_lifetime(lifetime)
        .start()
        .await;
    // The client's own lifetime stays 24 h: the JWT's exp must win.
    let client = sandbox_client(&sandbox);
    let issued = clock_now(&clock);
    client.send_sms(&sms()).await.unwrap();
    let expiry = expiry(&client);
    assert_eq!(expiry.expires_at(), Some(issued + lifetime));
    assert_eq!(expiry.lifetime(), Some(lifetime));

    let shown = sandbox.recorder().last("/_rest/v4/app/sms/send").unwrap();
    assert!(
        shown.contains("authorization: Bearer [REDACTED]"),
        "{shown}"
    );
    assert!(!shown.contains("eyJ"), "JWT not redacted: {shown}");

    clock.advance(lifetime + Duration::from_secs(1));
    client.send_sms(&sms()).await.unwrap();
    assert_eq!(sandbox.token_requests(), 2);
    assert_eq!(client.session_stats().unauthorized, 0);
}

#[tokio::test]
async fn renewal_inside_the_margin_keeps_serving_the_valid_token() {
    let clock = ManualClock::new();
    let sandbox = start(&clock).await;
    let client = sandbox_client(&sandbox);
    client.authenticate().await.unwrap();
    // 24 h minus 4 minutes: inside the 5-minute margin, still valid.
    clock.advance(DAY - Duration::from_secs(240));
    let first = expiry(&client).expires_at();
    client.send_sms(&sms()).await.unwrap();
    // The background re-authentication runs on its own task: wait for it (the clock does
    // not move).
    client.settle().await.unwrap();
    assert_eq!(sandbox.token_requests(), 2);
    assert_ne!(expiry(&client).expires_at(), first);
    clock.advance(Duration::from_secs(600));
    client.send_sms(&sms()).await.unwrap();
    assert_eq!(
        sandbox.token_requests(),
        2,
        "the renewed token is valid for another day"
    );
    assert_eq!(client.session_stats().expiries, 0);
}

#[tokio::test]
async fn a_401_on_a_call_reauthenticates_once_and_retries() {
    let clock = ManualClock::new();
    let sandbox = start(&clock).await;
    let client = sandbox_client(&sandbox);
    client.accounts_page(1, 10).await.unwrap();
    sandbox.inject(Fault::unauthorized());
    client.accounts_page(1, 10).await.unwrap();
    assert_eq!(sandbox.token_requests(), 2);
    assert_eq!(sandbox.hits("accounts"), 3);
    assert_eq!(client.session_stats().recovered_401, 1);

    // Two in a row: exactly one re-authentication, then the second 401 surfaces.
    sandbox.inject(Fault::unauthorized());
    sandbox.inject(Fault::unauthorized());
    let e = client.send_sms(&sms()).await.unwrap_err();
    assert!(e.is_unauthorized());
    assert_eq!(e.vendor_message(), Some("Unauthorized"));
    assert_eq!(e.api_error().unwrap().code, Some(401));
    assert_eq!(sandbox.token_requests(), 3);
}

#[tokio::test]
async fn bad_credentials_are_unauthorized_and_not_retried() {
    let clock = ManualClock::new();
    let sandbox = start(&clock).await;
    const WRONG: &str = "wrong-password-9d2e";
    let client = sandbox
        .client_builder()
        .with_credentials(Credentials::password(Sandbox::USERNAME, WRONG))
        .build()
        .unwrap();
    let e = client.send_sms(&sms()).await.unwrap_err();
    assert!(e.is_unauthorized(), "{e:?}");
    assert_eq!(e.status(), Some(401));
    assert_eq!(e.vendor_message(), Some("Unauthorized"));
    assert_eq!(
        e.to_string(),
        "bad credentials: intelepeer refused the username or password (HTTP 401): Unauthorized"
    );
    assert_eq!(
        sandbox.token_requests(),
        1,
        "authenticate's 401 must not trigger another"
    );
    assert_eq!(sandbox.hits("send_sms"), 0);
    for shown in [format!("{e}"), format!("{e:?}"), format!("{client:?}")] {
        assert!(!shown.contains(WRONG), "secret leaked: {shown}");
    }
    // The next call tries again (failures are not cached), once.
    assert!(client.authenticate().await.unwrap_err().is_unauthorized());
    assert_eq!(sandbox.token_requests(), 2);
}

#[tokio::test]
async fn static_token_401_surfaces_without_renewal() {
    let clock = ManualClock::new();
    let sandbox = start(&clock).await;
    let token = sandbox.issue_static_token();
    let client = sandbox
        .client_builder()
        .with_credentials(Credentials::static_token(token.clone()))
        .build()
        .unwrap();
    client.send_sms(&sms()).await.unwrap();
    assert_eq!(expiry(&client).expires_at(), None);
    // A year later, still no authentication.
    clock.advance(DAY * 365);
    client.send_sms(&sms()).await.unwrap();

    sandbox.inject(Fault::unauthorized());
    let e = client.send_sms(&sms()).await.unwrap_err();
    assert!(e.is_unauthorized(), "{e:?}");
    assert_eq!(
        sandbox.hits("authenticate") + sandbox.hits("sms_authenticate"),
        0
    );
    assert_eq!(
        sandbox.token_requests(),
        1,
        "only the static token ever issued"
    );
    assert_eq!(sandbox.hits("send_sms"), 3, "the 401 was not retried");
    let stats = client.session_stats();
    assert_eq!(
        (stats.sign_ins, stats.unauthorized, stats.recovered_401),
        (0, 1, 0)
    );
    for shown in [format!("{e}"), format!("{e:?}"), format!("{client:?}")] {
        assert!(!shown.contains(&token), "token leaked: {shown}");
    }
    // The CPaaS token is not a portal token: the portal's 401 surfaces too, unrenewed.
    let e = client.accounts_page(1, 10).await.unwrap_err();
    assert!(e.is_unauthorized(), "{e:?}");
    assert_eq!(
        e.vendor_message(),
        Some("Unauthorized: the cpaas token is not valid on the portal")
    );
    assert_eq!(sandbox.hits("accounts"), 1);
    assert_eq!(sandbox.token_requests(), 1);
    assert_eq!(client.session_stats().sign_ins, 0);
}

#[tokio::test]
async fn per_api_scheme_is_enforced_and_configurable() {
    let clock = ManualClock::new();
    let sandbox = start(&clock).await;
    // Send the portal the Bearer form: the sandbox refuses it, like the portal does.
    let client = sandbox
        .client_builder()
        .with_auth_scheme(Api::Portal, AuthScheme::Bearer)
        .build()
        .unwrap();
    client.send_sms(&sms()).await.unwrap();
    let e = client.accounts_page(1, 10).await.unwrap_err();
    assert!(e.is_unauthorized());
    assert_eq!(
        e.vendor_message(),
        Some("Unauthorized: expected the raw token, not Bearer")
    );
    // The 401 caused one re-authentication and one retry, which failed the same way.
    assert_eq!(sandbox.token_requests(), 2);
    assert_eq!(sandbox.hits("accounts"), 2);

    // The generic request reaches either API with its scheme.
    let good = sandbox_client(&sandbox);
    let v: serde_json::Value = good
        .request(Api::Portal, reqwest::Method::GET, "/_rest/v4/my/accounts")
        .query(&[("page", "3"), ("pageSize", "100")])
        .send_json()
        .await
        .unwrap();
    assert_eq!(v["accounts"].as_array().unwrap().len(), 50);
    let v: serde_json::Value = good
        .post_json(
            Api::Cpaas,
            "/_rest/v4/app/sms/send",
            &serde_json::json!({"from": "+1", "to": "+2", "text": "x"}),
        )
        .await
        .unwrap();
    assert_eq!(v["status"], "queued");
}

#[tokio::test]
async fn accounts_stream_walks_every_page() {
    let clock = ManualClock::new();
    let sandbox = start(&clock).await;
    let client = sandbox_client(&sandbox);
    let accounts: Vec<_> = client.accounts(100).try_collect().await.unwrap();
    assert_eq!(accounts.len(), 250);
    assert_eq!(accounts[249].name.as_deref(), Some("Account 250"));
    assert_eq!(accounts[6].status.as_deref(), Some("suspended"));
    assert!(accounts[0].extra.contains_key("parentId"));
    assert_eq!(sandbox.hits("accounts"), 3);
    let pages: Vec<_> = client.account_pages(125).try_collect().await.unwrap();
    assert_eq!(pages.len(), 2);
    assert_eq!(pages[1].info.total_items, Some(250));
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_typed() {
    let clock = ManualClock::new();
    let sandbox = start(&clock).await;
    let client = sandbox_client(&sandbox);
    sandbox.inject(Fault::rate_limited(Some(30), "Too Many Requests"));
    let e = client.send_sms(&sms()).await.unwrap_err();
    assert!(e.is_rate_limited() && e.is_retryable());
    assert_eq!(e.retry_after(), Some(Duration::from_secs(30)));
    assert_eq!(e.vendor_message(), Some("Too Many Requests"));
    sandbox.inject_on("accounts", Fault::server_error(503));
    let e = client.accounts_page(1, 1).await.unwrap_err();
    assert!(e.is_transient());
    assert_eq!(e.status(), Some(503));
    // A 5xx on authenticate is transient too, not "bad credentials": retried inside the
    // renewal (3 attempts by default), then surfaced.
    let fresh = sandbox.client_builder().build().unwrap();
    for _ in 0..3 {
        sandbox.inject_token(Fault::server_error(502));
    }
    let e = fresh.authenticate().await.unwrap_err();
    assert!(e.is_transient(), "{e:?}");
    assert_eq!(fresh.session_stats().renewal_retries, 2);
    assert_eq!(client.session_stats().sign_ins, 1);
}

#[tokio::test]
async fn sandbox_enforces_the_wire_rules() {
    let clock = ManualClock::new();
    let sandbox = start(&clock).await;
    let http = auth_core::http::default_client().unwrap();
    let base = sandbox.base_url();
    // No Accept: application/json on authenticate.
    let r = http
        .post(format!("{base}/_rest/v4/authenticate"))
        .json(&serde_json::json!({"username": "u", "password": "p"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 406);
    // A form body instead of JSON.
    let r = http
        .post(format!("{base}/_rest/v4/authenticate"))
        .header("accept", "application/json")
        .body("username=u&password=p")
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    // The raw token on the SMS API is refused.
    let token = current_token(&sandbox).await;
    let r = http
        .post(format!("{base}/_rest/v4/app/sms/send"))
        .header("authorization", token.clone())
        .json(&serde_json::json!({"from": "+1", "to": "+2", "text": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["code"], 401);
    // A missing field is a 400 in the vendor's shape, surfaced as rejected.
    let client = sandbox_client(&sandbox);
    let e = client
        .post_json::<_, serde_json::Value>(
            Api::Cpaas,
            "/_rest/v4/app/sms/send",
            &serde_json::json!({"from": "+1"}),
        )
        .await
        .unwrap_err();
    assert!(e.is_rejected());
    assert_eq!(e.vendor_message(), Some("to is required"));
    // Wrong method.
    let e = client
        .get_json::<serde_json::Value>(Api::Cpaas, "/_rest/v4/app/sms/send")
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(405));
}

#[tokio::test]
async fn sms_era_authenticate_endpoint_is_selectable() {
    let clock = ManualClock::new();
    let sandbox = start(&clock).await;
    let client = sandbox
        .client_builder()
        .with_auth_endpoint(AuthEndpoint::SmsApi)
        .build()
        .unwrap();
    client.send_sms(&sms()).await.unwrap();
    assert_eq!(sandbox.hits("sms_authenticate"), 1);
    assert_eq!(sandbox.hits("authenticate"), 0);
}

#[tokio::test]
async fn secrets_never_print() {
    const PASSWORD: &str = "pw-never-printed-51ab";
    const TOKEN: &str = "static-never-printed-77c1";
    let creds = Credentials::password("someone", PASSWORD);
    let client = Client::builder()
        .with_environment(Environment::Atmosphere)
        .with_credentials(creds.clone())
        .build()
        .unwrap();
    let builder = Client::builder().with_credentials(Credentials::static_token(TOKEN));
    let static_client = Client::builder()
        .with_credentials(Credentials::static_token(TOKEN))
        .build()
        .unwrap();
    for shown in [
        format!("{creds:?}"),
        format!("{client:?}"),
        format!("{builder:?}"),
        format!("{static_client:?}"),
        format!("{:?}", Credentials::static_token(TOKEN)),
        format!(
            "{:?}",
            Sandbox::builder()
                .user("someone", PASSWORD)
                .token_style(TokenStyle::Jwt)
        ),
        format!("{:?}", Sandbox::builder().start().await),
    ] {
        assert!(
            !shown.contains(PASSWORD)
                && !shown.contains(TOKEN)
                && !shown.contains(Sandbox::PASSWORD),
            "leaked: {shown}"
        );
    }
}

#[tokio::test]
async fn sandbox_answers_unknown_paths_and_revocations_in_the_vendor_shape() {
    use intelepeer::sandbox::VendorSandbox as _;
    use intelepeer::sandbox::{StaticTokenSandbox, Tokens};
    let sandbox = StaticTokenSandbox::start(ManualClock::new(), DAY).await;
    let shown = format!("{sandbox:?}");
    let token = sandbox.secrets().remove(0);
    assert!(!shown.contains(&token), "token leaked: {shown}");
    let client = sandbox.client().unwrap();
    client.send_sms(&sms()).await.unwrap();
    // Expiring every token revokes the static one too: its 401 surfaces, unrenewed.
    sandbox.expire_tokens(Tokens::All);
    let e = client.send_sms(&sms()).await.unwrap_err();
    assert!(e.is_unauthorized(), "{e:?}");
    assert_eq!(e.vendor_message(), Some("Unauthorized: token expired"));
    assert_eq!(sandbox.token_requests(), 1);
    let e = client
        .get_json::<serde_json::Value>(Api::Cpaas, "/_rest/v4/app/sms/unknown")
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(404));
    assert_eq!(e.api_error().unwrap().code, Some(404));
}

/// Bad answers from a server that is not the sandbox: each is a typed error, never a panic,
/// and the client keeps working (and keeps its token) afterwards.
mod bad_input {
    use super::*;
    use httpmock::prelude::{GET, MockServer, POST};

    const PASSWORD: &str = "bad-input-password-3e1f";
    const TOKEN: &str = "fFkq-bad-input-token";

    fn client_for(server: &MockServer, clock: &ManualClock) -> Client {
        Client::builder()
            .with_base_url(server.base_url())
            .with_api_url(server.base_url())
            .with_clock(clock.clone())
            .with_credentials(Credentials::password("api-user", PASSWORD))
            .build()
            .unwrap()
    }

    /// Serve `body` with `content_type` and `status` on the authenticate call.
    async fn authenticate_answer(status: u16, content_type: &str, body: &str) -> intelepeer::Error {
        let server = MockServer::start_async().await;
        server
            .mock_async(|when, then| {
                when.method(POST).path("/_rest/v4/authenticate");
                then.status(status)
                    .header("content-type", content_type)
                    .body(body);
            })
            .await;
        let clock = ManualClock::new();
        let client = client_for(&server, &clock);
        let e = client.authenticate().await.unwrap_err();
        for shown in [format!("{e}"), format!("{e:?}")] {
            assert!(!shown.contains(PASSWORD), "leaked: {shown}");
        }
        assert_eq!(client.session_stats().sign_ins, 1);
        e
    }

    #[tokio::test]
    async fn malformed_authenticate_answers_are_typed_errors() {
        for (status, ct, body) in [
            (200, "application/json", "{not json"),
            (200, "application/json", ""),
            (200, "application/json", r#"{"token":null}"#),
            (200, "application/json", r#"{"token":{"value":"x"}}"#),
            (200, "application/json", "null"),
            (200, "text/html", "<html>maintenance</html>"),
            // A token shaped like a JWT whose payload is garbage.
            (
                200,
                "application/json",
                r#"{"token":"eyJhbGciOiJIUzI1NiJ9.@@@.sig"}"#,
            ),
        ] {
            let e = authenticate_answer(status, ct, body).await;
            assert!(e.is_bad_response(), "{body}: {e:?}");
        }
    }

    #[tokio::test]
    async fn a_200_with_an_error_body_is_not_a_token() {
        let e = authenticate_answer(
            200,
            "application/json",
            r#"{"code":401,"error":"Unauthorized"}"#,
        )
        .await;
        assert!(e.is_unauthorized(), "{e:?}");
        assert_eq!(e.vendor_message(), Some("Unauthorized"));
        let e = authenticate_answer(
            200,
            "application/json",
            r#"{"code":"503","message":"try later"}"#,
        )
        .await;
        assert!(e.is_bad_response(), "{e:?}");
        assert_eq!(e.vendor_message(), Some("try later"));
        assert_eq!(e.api_error().unwrap().code, Some(503));
    }

    #[tokio::test]
    async fn unexpected_statuses_on_authenticate_are_typed() {
        let e = authenticate_answer(401, "text/plain", "").await;
        assert!(e.is_unauthorized());
        assert_eq!(e.status(), Some(401));
        let e = authenticate_answer(
            403,
            "application/json",
            r#"{"code":403,"error":"no API access"}"#,
        )
        .await;
        assert!(e.is_rejected(), "{e:?}");
        assert_eq!(e.status(), Some(403));
        assert_eq!(e.vendor_message(), Some("no API access"));
        let e = authenticate_answer(500, "text/html", "<h1>oops</h1>").await;
        assert!(e.is_transient());
        // A garbled Retry-After header is ignored, not a failure.
        let server = MockServer::start_async().await;
        server
            .mock_async(|when, then| {
                when.method(POST).path("/_rest/v4/authenticate");
                then.status(429)
                    .header("retry-after", "soon-ish, maybe")
                    .body(r#"{"code":429,"error":"Too Many Requests"}"#);
            })
            .await;
        let e = client_for(&server, &ManualClock::new())
            .authenticate()
            .await
            .unwrap_err();
        assert!(e.is_rate_limited(), "{e:?}");
        assert_eq!(e.retry_after(), None);
        assert_eq!(e.vendor_message(), Some("Too Many Requests"));
    }

    #[tokio::test]
    async fn malformed_call_answers_keep_the_session() {
        let server = MockServer::start_async().await;
        let auth = server
            .mock_async(|when, then| {
                when.method(POST).path("/_rest/v4/authenticate");
                then.status(200)
                    .header("content-type", "application/json")
                    .body(format!(r#"{{"token":"{TOKEN}"}}"#));
            })
            .await;
        server
            .mock_async(|when, then| {
                when.method(POST).path("/_rest/v4/app/sms/send");
                then.status(200)
                    .header("content-type", "text/html")
                    .body("<html>ok</html>");
            })
            .await;
        server
            .mock_async(|when, then| {
                when.method(GET).path("/_rest/v4/my/accounts");
                then.status(200)
                    .header("content-type", "application/json")
                    .body(r#"{"accounts":null,"total":null}"#);
            })
            .await;
        let clock = ManualClock::new();
        let client = client_for(&server, &clock);
        let e = client.send_sms(&sms()).await.unwrap_err();
        assert!(e.is_bad_response(), "{e:?}");
        assert_eq!(e.status(), Some(200));
        let e = client.accounts_page(1, 10).await.unwrap_err();
        assert!(e.is_bad_response(), "{e:?}");
        let e = client
            .get_json::<Vec<u32>>(Api::Cpaas, "/_rest/v4/my/accounts")
            .await
            .unwrap_err();
        assert!(e.is_bad_response(), "{e:?}");
        // One authentication served all three; the token is still held.
        auth.assert_calls_async(1).await;
        assert!(client.token_expiry().is_some());
        let stats = client.session_stats();
        assert_eq!(
            (stats.sign_ins, stats.unauthorized, stats.requests),
            (1, 0, 3)
        );
        for shown in [format!("{e}"), format!("{e:?}"), format!("{client:?}")] {
            assert!(
                !shown.contains(TOKEN) && !shown.contains(PASSWORD),
                "leaked: {shown}"
            );
        }
    }

    #[tokio::test]
    async fn null_and_unknown_fields_are_tolerated() {
        let server = MockServer::start_async().await;
        server
            .mock_async(|when, then| {
                when.method(POST).path("/_rest/v4/authenticate");
                then.status(200)
                    .header("content-type", "application/json")
                    .body(format!(r#"{{"token":"{TOKEN}","extra":null}}"#));
            })
            .await;
        server
            .mock_async(|when, then| {
                when.method(POST).path("/_rest/v4/app/sms/send");
                then.status(200)
                    .header("content-type", "application/json")
                    .body(r#"{"messageId":null,"status":null,"segments":2}"#);
            })
            .await;
        server
            .mock_async(|when, then| {
                when.method(GET).path("/_rest/v4/my/accounts");
                then.status(200)
                    .header("content-type", "application/json")
                    .body(r#"[{"id":null,"name":null,"status":null,"new":1},{"accountId":"7"}]"#);
            })
            .await;
        let client = client_for(&server, &ManualClock::new());
        let r = client.send_sms(&sms()).await.unwrap();
        assert_eq!((r.message_id, r.status), (None, None));
        assert_eq!(r.extra["segments"], 2);
        let page = client.accounts_page(1, 10).await.unwrap();
        assert_eq!(page.items.len(), 2);
        assert_eq!(page.items[1].id.as_deref(), Some("7"));
        assert_eq!(page.next, None);
    }
}

/// A hostile IntelePeer echoes every secret of the call (password, token, static token), in
/// every encoding and straddling the error-body bound, in an error answer and in a `200`
/// authenticate answer without a token: none of it reaches the error (Display, Debug,
/// `{:#?}`, the vendor message, or the `ApiError` detail serialized back to JSON).
#[tokio::test]
async fn no_secret_of_a_call_survives_a_hostile_echo() {
    use auth_core::sandbox::{assert_secret_free, echoes};
    use httpmock::prelude::{GET, MockServer, POST};
    use intelepeer::{Api, ApiError};
    const PASS: &str = r#"p&ss<1> "q"\/+%"#;
    const TOKEN: &str = "tok-hostile-&<1f2e>+";
    const STATIC: &str = "static-&<cpaas>/9a8b";
    let all = [PASS, TOKEN, STATIC];
    let server = MockServer::start_async().await;
    let client = Client::builder()
        .with_base_url(server.base_url())
        .with_api_url(server.base_url())
        .with_clock(ManualClock::new())
        .with_credentials(Credentials::password("api-user", PASS))
        .build()
        .unwrap();
    let body =
        |echo: &str| format!(r#"{{"code":401,"error":"bad password {echo}","message":"{echo}"}}"#);
    for status in [401, 200] {
        for (name, echo) in echoes(PASS) {
            let b = body(&echo);
            let mock = server
                .mock_async(|when, then| {
                    when.method(POST).path("/_rest/v4/authenticate");
                    then.status(status)
                        .header("content-type", "application/json")
                        .body(b.clone());
                })
                .await;
            let err = client.authenticate().await.unwrap_err();
            assert!(
                err.is_unauthorized() || err.is_bad_response(),
                "{status} {name}: {err}"
            );
            assert_secret_free::<ApiError>(&err, &all, &format!("authenticate {status}, {name}"));
            mock.delete_async().await;
        }
    }
    server
        .mock_async(|when, then| {
            when.method(POST).path("/_rest/v4/authenticate");
            then.status(200)
                .header("content-type", "application/json")
                .body(format!(r#"{{"token":"{TOKEN}"}}"#));
        })
        .await;
    let keyed = Client::builder()
        .with_base_url(server.base_url())
        .with_api_url(server.base_url())
        .with_credentials(Credentials::static_token(STATIC))
        .build()
        .unwrap();
    for (who, secret) in [(&client, TOKEN), (&keyed, STATIC)] {
        for (name, echo) in echoes(secret) {
            let b = body(&echo);
            let mock = server
                .mock_async(|when, then| {
                    when.method(GET).path("/_rest/v4/my/accounts");
                    then.status(403).body(b.clone());
                })
                .await;
            let err = who
                .get_json::<serde_json::Value>(Api::Portal, "/_rest/v4/my/accounts")
                .await
                .unwrap_err();
            assert_eq!(err.status(), Some(403), "{name}");
            assert_secret_free::<ApiError>(&err, &all, &format!("call, {name}"));
            mock.delete_async().await;
        }
    }
}

/// Issue 13: an authenticate answer whose JWT arrives already expired (`exp` a minute in the
/// past, on IntelePeer's clock as its `Date` says) is followed at once by one more; no
/// request carries the expired token: 2 authenticates (there is no refresh grant).
#[tokio::test]
async fn a_token_expired_on_arrival_is_never_sent() {
    use httpmock::prelude::{MockServer, POST};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    let server = MockServer::start_async().await;
    let clock = ManualClock::new();
    let logins = Arc::new(AtomicU64::new(0));
    let (c, n) = (clock.clone(), logins.clone());
    server
        .mock_async(move |when, then| {
            when.method(POST).path("/_rest/v4/authenticate");
            then.respond_with(move |_req: &auth_core::sandbox::HttpMockRequest| {
                let now = auth_core::Clock::now(&c);
                let first = n.fetch_add(1, Ordering::SeqCst) == 0;
                let exp = if first {
                    now - Duration::from_secs(60)
                } else {
                    now + Duration::from_secs(3600)
                };
                let sub = if first { "stale" } else { "fresh" };
                let claims =
                    serde_json::json!({"exp": auth_core::sandbox::unix_seconds(exp), "sub": sub});
                let mut r = auth_core::sandbox::json(
                    200,
                    &serde_json::json!({"token": auth_core::sandbox::mint_jwt(&claims)}),
                );
                r.headers
                    .get_or_insert_with(Vec::new)
                    .push(("date".into(), auth_core::sandbox::http_date(now)));
                r
            });
        })
        .await;
    let stale_calls = Arc::new(AtomicU64::new(0));
    let s = stale_calls.clone();
    server
        .mock_async(move |when, then| {
            when.path("/_rest/v4/my/accounts");
            then.respond_with(move |req: &auth_core::sandbox::HttpMockRequest| {
                let token = auth_core::sandbox::header(req, "authorization").unwrap_or_default();
                let sub = auth_core::jwt::jwt_claims(&token)
                    .ok()
                    .and_then(|c| c["sub"].as_str().map(str::to_owned));
                if sub.as_deref() != Some("fresh") {
                    s.fetch_add(1, Ordering::SeqCst);
                }
                auth_core::sandbox::json(200, &serde_json::json!({"accounts": []}))
            });
        })
        .await;
    let client = Client::builder()
        .with_base_url(server.base_url())
        .with_api_url(server.base_url())
        .with_clock(clock.clone())
        .with_credentials(Credentials::password("api-user", "pw-77"))
        .build()
        .unwrap();
    for _ in 0..5 {
        client
            .get_json::<serde_json::Value>(Api::Portal, "/_rest/v4/my/accounts")
            .await
            .unwrap();
    }
    assert_eq!(stale_calls.load(Ordering::SeqCst), 0);
    assert_eq!(logins.load(Ordering::SeqCst), 2);
    let stats = client.session_stats();
    assert_eq!(
        (stats.sign_ins, stats.expired_on_arrival, stats.unauthorized),
        (2, 1, 0)
    );
}
