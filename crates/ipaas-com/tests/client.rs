//! The iPaaS.com client over real HTTP against its sandbox (and plain httpmock for shapes the
//! sandbox never sends): wire shapes, the token lifecycle rules, paging and typed errors.
//!
//! Modules: `paging` (X-Pagination walks and broken metadata), `errors` (typed errors,
//! broken answers, secrets), `sandbox_rules` (the wire rules the sandbox enforces),
//! `readme_example` (the README's sandbox example, verbatim).

// Test helpers outside #[test] functions unwrap too: a failed setup is a failed test.
#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::time::Duration;

use ipaas_com::sandbox::{
    self, API_KEY, DEFAULT_COMPANY, EMAIL, Fault, ManualClock, OTHER_COMPANY, PASSWORD, Sandbox,
    Tokens, routes,
};
use ipaas_com::{Api, AuthScheme, Client, Error};
use reqwest::Method;
use serde_json::{Value, json};

// A crate root's modules resolve beside it: these live in tests/client/.
#[path = "client/errors.rs"]
mod errors;
#[path = "client/paging.rs"]
mod paging;
/// The README's "Testing your code" example, run as one of these tests.
#[path = "client/readme_example.rs"]
mod readme_example;
#[path = "client/sandbox_rules.rs"]
mod sandbox_rules;

const HOUR: Duration = Duration::from_secs(3600);

async fn setup() -> (ManualClock, Sandbox, Client) {
    let clock = ManualClock::new();
    let sandbox = Sandbox::builder()
        .clock(clock.clone())
        .token_lifetime(HOUR)
        .start()
        .await;
    let client = sandbox.client_builder().build().unwrap();
    (clock, sandbox, client)
}

async fn echo(client: &Client) -> Result<Value, Error> {
    client.get_json(Api::Subscriptions, "Subscriptions").await
}

/// Logins and refreshes the sandbox served.
fn token_calls(sandbox: &Sandbox) -> (u64, u64) {
    (sandbox.hits(routes::LOGIN), sandbox.hits(routes::REFRESH))
}

fn assert_redacted(rendered: &str) {
    assert!(!rendered.contains(PASSWORD), "{rendered}");
    assert!(!rendered.contains("eyJ"), "a JWT leaked: {rendered}");
    assert!(!rendered.contains("AQA-sandbox-refresh"), "{rendered}");
}

#[test]
fn readme_sandbox_example_is_verbatim() {
    let readme = include_str!("../README.md");
    let example = include_str!("client/readme_example.rs");
    assert!(
        readme.contains(example),
        "README and tests/client/readme_example.rs drifted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wire_shapes_of_every_sso_call_and_a_page() {
    let (clock, sandbox, client) = setup().await;
    let rec = sandbox.recorder();

    let me = client.login().await.unwrap();
    assert_eq!(me.id, Some(sandbox::USER_ID));
    assert_eq!(me.email_address.as_deref(), Some(EMAIL));
    let login = rec.last("/sso/v2/Auth/Login").unwrap();
    assert_redacted(&login);
    insta::assert_snapshot!(login, @r#"
        POST /sso/v2/Auth/Login
        accept: application/json
        content-type: application/json

        {
          "email_address": "user@example.com",
          "password": "[REDACTED]"
        }
        "#);

    clock.advance(HOUR);
    client.companies().await.unwrap();
    let refresh = rec.last("/sso/v2/Auth/Refresh").unwrap();
    assert_redacted(&refresh);
    insta::assert_snapshot!(refresh, @r#"
        POST /sso/v2/Auth/Refresh
        accept: application/json
        content-type: application/json

        {
          "refresh_token": "[REDACTED]"
        }
        "#);
    let companies = rec.last("/sso/v2/User/664/Companies").unwrap();
    assert_redacted(&companies);
    insta::assert_snapshot!(companies, @r#"
        GET /sso/v2/User/664/Companies
        accept: application/json
        authorization: Bearer [REDACTED]
        "#);

    client.change_company(OTHER_COMPANY).await.unwrap();
    let change = rec.last("/sso/v2/User/ChangeCompany").unwrap();
    assert_redacted(&change);
    insta::assert_snapshot!(change, @r#"
        GET /sso/v2/User/ChangeCompany/0b6f5a44-1b2c-4d3e-8f90-000000000002
        accept: application/json
        authorization: Bearer [REDACTED]
        "#);

    let page = client
        .list::<Value>(Api::Subscriptions, "Events")
        .with_page_size(100)
        .with_query("status", "open")
        .page(2)
        .await
        .unwrap();
    assert_eq!(page.items.len(), 100);
    let list = rec.last("/subscriptions/v2/Events").unwrap();
    assert_redacted(&list);
    insta::assert_snapshot!(list, @r#"
        GET /subscriptions/v2/Events?status=open&pageNumber=2&pageSize=100
        accept: application/json
        authorization: Bearer [REDACTED]
        "#);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refresh_only_after_actual_expiry_and_single_flight() {
    let (clock, sandbox, client) = setup().await;
    echo(&client).await.unwrap();
    assert_eq!(token_calls(&sandbox), (1, 0));

    // One second before expiry the token is still valid: no refresh, however many calls.
    clock.advance(HOUR - Duration::from_secs(1));
    for _ in 0..5 {
        echo(&client).await.unwrap();
    }
    assert_eq!(token_calls(&sandbox), (1, 0));
    assert_eq!(client.session_stats().refreshes, 0);

    // Expired: exactly one refresh.
    clock.advance(Duration::from_secs(1));
    echo(&client).await.unwrap();
    assert_eq!(token_calls(&sandbox), (1, 1));

    // 100 concurrent calls after the next expiry: one refresh between them.
    clock.advance(HOUR);
    let calls: Vec<_> = (0..100)
        .map(|_| {
            let c = client.clone();
            tokio::spawn(async move { echo(&c).await })
        })
        .collect();
    for c in calls {
        c.await.unwrap().unwrap();
    }
    assert_eq!(token_calls(&sandbox), (1, 2));
    let stats = client.session_stats();
    assert_eq!((stats.sign_ins, stats.refreshes, stats.expiries), (1, 2, 2));
    assert_eq!(stats.requests, 1 + 5 + 1 + 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_company_replaces_the_token_set_without_a_refresh() {
    let (_clock, sandbox, client) = setup().await;
    let before = echo(&client).await.unwrap();
    assert_eq!(before["company_id"], DEFAULT_COMPANY);
    let companies = client.companies().await.unwrap();
    assert_eq!(companies.len(), 2);
    assert_eq!(companies[1].id, OTHER_COMPANY);
    assert_eq!(companies[1].name.as_deref(), Some("Globex Wholesale"));

    let old = client.session().current().unwrap();
    client.change_company(&companies[1].id).await.unwrap();
    let new = client.session().current().unwrap();
    assert_ne!(
        old.tokens().access_token().expose(),
        new.tokens().access_token().expose()
    );
    assert_ne!(
        old.tokens().refresh_token().unwrap().expose(),
        new.tokens().refresh_token().unwrap().expose()
    );

    let after = echo(&client).await.unwrap();
    assert_eq!(after["company_id"], OTHER_COMPANY);
    let sent = sandbox
        .recorder()
        .last("/subscriptions/v2/Subscriptions")
        .unwrap();
    assert!(sent.contains("authorization: Bearer [REDACTED]"), "{sent}");
    assert_eq!(sandbox.hits(routes::CHANGE_COMPANY), 1);
    assert_eq!(token_calls(&sandbox), (1, 0));
    assert_eq!(client.session_stats().refreshes, 0);

    // Switching to an unknown company is the vendor's 404, typed.
    let e = client.change_company("no-such-company").await.unwrap_err();
    assert!(e.is_rejected() && e.status() == Some(404), "{e:?}");
    assert_eq!(e.vendor_message(), Some("Company not found."));
    let e = client.change_company(" ").await.unwrap_err();
    assert!(e.is_invalid_input(), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_refresh_token_falls_back_to_one_login() {
    let (clock, sandbox, client) = setup().await;
    echo(&client).await.unwrap();
    sandbox.expire_tokens(Tokens::Refresh);
    clock.advance(HOUR);
    echo(&client).await.unwrap();
    assert_eq!(token_calls(&sandbox), (2, 1));
    let stats = client.session_stats();
    assert_eq!((stats.sign_ins, stats.refresh_rejections), (2, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_answer_without_refresh_token_keeps_the_old_one() {
    let clock = ManualClock::new();
    let sandbox = Sandbox::builder()
        .clock(clock.clone())
        .rotate_refresh_tokens(false)
        .start()
        .await;
    let client = sandbox.client_builder().build().unwrap();
    echo(&client).await.unwrap();
    let first = client.session().current().unwrap();
    let held = first.tokens().refresh_token().unwrap().expose().to_owned();
    for _ in 0..3 {
        clock.advance(HOUR);
        echo(&client).await.unwrap();
    }
    assert_eq!(token_calls(&sandbox), (1, 3));
    let now = client.session().current().unwrap();
    assert_eq!(now.tokens().refresh_token().unwrap().expose(), held);
    // The profile from login survives refresh answers that carry no user data.
    assert_eq!(
        client.profile().unwrap().name.as_deref(),
        Some("Sandbox User")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explicit_refresh_sends_only_the_refresh_token() {
    let (_clock, sandbox, client) = setup().await;
    client.login().await.unwrap();
    client.refresh().await.unwrap();
    assert_eq!(token_calls(&sandbox), (1, 1));
    let sent = sandbox.recorder().last("/sso/v2/Auth/Refresh").unwrap();
    assert!(!sent.contains("authorization"), "{sent}");
    echo(&client).await.unwrap();
    assert_eq!(sandbox.token_requests(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_401_renews_and_retries_once_then_surfaces() {
    let (_clock, sandbox, client) = setup().await;
    echo(&client).await.unwrap();
    sandbox.inject(Fault::unauthorized());
    echo(&client).await.unwrap();
    assert_eq!(token_calls(&sandbox), (1, 1));
    assert_eq!(client.session_stats().recovered_401, 1);

    sandbox.inject(Fault::unauthorized());
    sandbox.inject(Fault::unauthorized());
    let e = echo(&client).await.unwrap_err();
    assert!(e.is_unauthorized(), "{e:?}");
    assert_eq!(token_calls(&sandbox), (1, 2));
    assert_eq!(sandbox.hits(routes::ECHO), 1 + 2 + 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_key_is_never_refreshed() {
    let clock = ManualClock::new();
    let sandbox = Sandbox::builder().clock(clock.clone()).start().await;
    let client = sandbox
        .client_builder()
        .with_credentials(Sandbox::api_key_credentials())
        .build()
        .unwrap();
    let v = echo(&client).await.unwrap();
    assert_eq!(v["company_id"], sandbox::API_KEY_COMPANY);
    clock.advance(HOUR * 48);
    echo(&client).await.unwrap();

    sandbox.inject(Fault::unauthorized());
    let e = echo(&client).await.unwrap_err();
    assert!(e.is_unauthorized(), "{e:?}");
    assert_eq!(sandbox.token_requests(), 0);
    assert_eq!(sandbox.hits(routes::ECHO), 3);
    let stats = client.session_stats();
    assert_eq!(
        (stats.sign_ins, stats.refreshes, stats.unauthorized),
        (0, 0, 1)
    );
    assert!(!format!("{e} {e:?} {client:?}").contains(API_KEY));

    assert!(client.refresh().await.unwrap_err().is_config());
    assert!(client.login().await.unwrap_err().is_config());
    assert!(client.companies().await.unwrap_err().is_invalid_input());
    assert!(
        client
            .change_company(OTHER_COMPANY)
            .await
            .unwrap_err()
            .is_config()
    );
    assert_eq!(sandbox.token_requests(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_scheme_is_selectable() {
    let (_clock, sandbox, _) = setup().await;
    let client = sandbox
        .client_builder()
        .with_auth_scheme(AuthScheme::Raw)
        .build()
        .unwrap();
    echo(&client).await.unwrap();
    let sent = sandbox.recorder().last("/subscriptions").unwrap();
    assert!(sent.contains("authorization: [REDACTED]\n"), "{sent}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generic_request_reaches_any_endpoint() {
    let (_clock, _sandbox, client) = setup().await;
    let v: Value = client
        .request(Method::PUT, "products", "Product/A 1")
        .with_version("v1")
        .with_query("force", true)
        .with_json(&json!({"sku": "A 1"}))
        .send_json()
        .await
        .unwrap();
    assert_eq!(v["method"], "PUT");
    assert_eq!(v["path"], "/products/v1/Product/A%201");
    assert_eq!(v["query"], "force=true");
    assert_eq!(v["body"], json!({"sku": "A 1"}));

    let e = client
        .request(Method::GET, "sso", "Nope")
        .send()
        .await
        .unwrap_err();
    assert!(e.is_rejected() && e.status() == Some(404), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn optional_login_fields_and_bad_input() {
    let (_clock, sandbox, _) = setup().await;
    let client = sandbox
        .client_builder()
        .with_credentials(
            Sandbox::user_credentials()
                .with_remember_me(true)
                .with_tracking_guid("5d1e")
                .with_return_url("https://app.example/done"),
        )
        .build()
        .unwrap();
    client.login().await.unwrap();
    let sent = sandbox.recorder().last("/sso/v2/Auth/Login").unwrap();
    assert!(sent.contains(r#""remember_me": true"#), "{sent}");
    assert!(sent.contains(r#""tracking_guid": "5d1e""#), "{sent}");
    assert!(
        sent.contains(r#""return_url": "https://app.example/done""#),
        "{sent}"
    );
    assert!(
        client
            .companies_of("")
            .await
            .unwrap_err()
            .is_invalid_input()
    );
    // Another user's companies: the vendor's 404, typed, not retried.
    let e = client.companies_of("1").await.unwrap_err();
    assert!(e.is_rejected() && e.status() == Some(404), "{e:?}");
    assert_eq!(sandbox.token_requests(), 1);
}

/// Issue 13: a login whose token arrives already expired (its expiry a minute in the past)
/// is refreshed at once; no request carries the expired token: 1 login, 1 refresh.
#[tokio::test]
async fn a_token_expired_on_arrival_is_never_sent() {
    use auth_core::sandbox::rfc3339;
    use httpmock::MockServer;
    let server = MockServer::start_async().await;
    let clock = ManualClock::new();
    let at = |secs: i64| {
        let now = auth_core::Clock::now(&clock);
        rfc3339(if secs < 0 {
            now - Duration::from_secs(60)
        } else {
            now + HOUR
        })
    };
    let (stale, fresh) = (at(-60), at(3600));
    // The answers' `Date` on the test's clock (a server adds the machine's otherwise).
    let date = auth_core::sandbox::http_date(auth_core::Clock::now(&clock));
    let login = server
        .mock_async(|when, then| {
            when.path("/sso/v2/Auth/Login");
            then.status(200).header("content-type", "application/json").header("date", &date).body(
                json!({"access_token": "at-stale", "refresh_token": "rt-1", "access_token_expiration": stale})
                    .to_string(),
            );
        })
        .await;
    let refresh = server
        .mock_async(|when, then| {
            when.path("/sso/v2/Auth/Refresh");
            then.status(200).header("content-type", "application/json").header("date", &date).body(
                json!({"access_token": "at-fresh", "refresh_token": "rt-2", "access_token_expiration": fresh})
                    .to_string(),
            );
        })
        .await;
    let with_stale = server
        .mock_async(|when, then| {
            when.path("/subscriptions/v2/Events")
                .header("authorization", "Bearer at-stale");
            then.status(401).body("expired");
        })
        .await;
    let with_fresh = server
        .mock_async(|when, then| {
            when.path("/subscriptions/v2/Events")
                .header("authorization", "Bearer at-fresh");
            then.status(200)
                .header("content-type", "application/json")
                .body("[]");
        })
        .await;
    let client = Client::builder()
        .with_base_url(server.base_url())
        .with_clock(clock.clone())
        .with_credentials(ipaas_com::Credentials::user("me@example.com", "pw-1"))
        .build()
        .unwrap();
    for _ in 0..5 {
        client
            .get_json::<Value>(Api::Subscriptions, "Events")
            .await
            .unwrap();
    }
    assert_eq!(with_stale.calls_async().await, 0);
    assert_eq!(with_fresh.calls_async().await, 5);
    assert_eq!(
        (login.calls_async().await, refresh.calls_async().await),
        (1, 1)
    );
    assert_eq!(client.session_stats().expired_on_arrival, 1);
}

/// Issue 16: the refresh body iPaaS.com's own C# tool sends, `{access_token,
/// refresh_token}`, is selectable; the default stays the page's `{refresh_token}` only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tools_refresh_form_is_selectable() {
    let sandbox = Sandbox::builder()
        .accept_tool_refresh_form(true)
        .start()
        .await;
    let client = sandbox
        .client_builder()
        .with_refresh_form(ipaas_com::RefreshForm::WithAccessToken)
        .build()
        .unwrap();
    client.login().await.unwrap();
    client.refresh().await.unwrap();
    assert_eq!(token_calls(&sandbox), (1, 1));
    let sent = sandbox.recorder().last("/sso/v2/Auth/Refresh").unwrap();
    assert!(!sent.contains("authorization"), "{sent}");
    assert_redacted(&sent);
    insta::assert_snapshot!("refresh_tool_form", sent);
    echo(&client).await.unwrap();
}
