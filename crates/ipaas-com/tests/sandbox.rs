//! The iPaaS.com client over real HTTP against its sandbox (and plain httpmock for shapes the
//! sandbox never sends): wire shapes, the token lifecycle rules, paging and typed errors.

use std::time::Duration;

use auth_core::{AuthScheme, ManualClock};
use futures::{StreamExt as _, TryStreamExt as _};
use httpmock::prelude::{GET, MockServer};
use ipaas_com::sandbox::{
    self, API_KEY, DEFAULT_COMPANY, EMAIL, Fault, OTHER_COMPANY, PASSWORD, Sandbox, routes,
};
use ipaas_com::{Api, Client, Credentials, Error, PageToken, RateLimitKind};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

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

fn assert_redacted(rendered: &str) {
    assert!(!rendered.contains(PASSWORD), "{rendered}");
    assert!(!rendered.contains("eyJ"), "a JWT leaked: {rendered}");
    assert!(!rendered.contains("AQA-sandbox-refresh"), "{rendered}");
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
    assert_eq!((sandbox.logins(), sandbox.refreshes()), (1, 0));

    // One second before expiry the token is still valid: no refresh, however many calls.
    clock.advance(HOUR - Duration::from_secs(1));
    for _ in 0..5 {
        echo(&client).await.unwrap();
    }
    assert_eq!((sandbox.logins(), sandbox.refreshes()), (1, 0));
    assert_eq!(client.session_stats().refreshes, 0);

    // Expired: exactly one refresh.
    clock.advance(Duration::from_secs(1));
    echo(&client).await.unwrap();
    assert_eq!((sandbox.logins(), sandbox.refreshes()), (1, 1));

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
    assert_eq!((sandbox.logins(), sandbox.refreshes()), (1, 2));
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
    assert_eq!((sandbox.logins(), sandbox.refreshes()), (1, 0));
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
    sandbox.revoke_refresh_tokens();
    clock.advance(HOUR);
    echo(&client).await.unwrap();
    assert_eq!((sandbox.logins(), sandbox.refreshes()), (2, 1));
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
    assert_eq!((sandbox.logins(), sandbox.refreshes()), (1, 3));
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
    assert_eq!((sandbox.logins(), sandbox.refreshes()), (1, 1));
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
    assert_eq!((sandbox.logins(), sandbox.refreshes()), (1, 1));
    assert_eq!(client.session_stats().recovered_401, 1);

    sandbox.inject(Fault::unauthorized());
    sandbox.inject(Fault::unauthorized());
    let e = echo(&client).await.unwrap_err();
    assert!(e.is_unauthorized(), "{e:?}");
    assert_eq!((sandbox.logins(), sandbox.refreshes()), (1, 2));
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

#[derive(Debug, Deserialize, PartialEq)]
struct Event {
    id: u64,
    name: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn walks_25_pages_in_order_across_a_token_expiry() {
    let (clock, sandbox, client) = setup().await;
    let list = client
        .list::<Event>(Api::Subscriptions, "Events")
        .with_page_size(100);

    // Page by page, the token expiring between pages 12 and 13: the fetch of page 13
    // refreshes first, and no page is fetched twice.
    let mut seen = Vec::new();
    let mut next = Some(1);
    while let Some(n) = next {
        let page = list.page(n).await.unwrap();
        seen.extend(page.items);
        next = match page.next {
            Some(PageToken::Number(k)) => Some(k),
            _ => None,
        };
        if n == 12 {
            clock.advance(HOUR);
        }
    }
    assert_eq!(seen.len(), 2500);
    assert!(seen.iter().enumerate().all(|(i, e)| e.id == i as u64 + 1));
    assert_eq!(seen[2499].name, "event 2500");
    assert_eq!(sandbox.hits(routes::EVENTS), 25);
    assert_eq!((sandbox.logins(), sandbox.refreshes()), (1, 1));
    let stats = client.session_stats();
    assert_eq!((stats.expiries, stats.recovered_401), (1, 0));

    // As an item stream (which prefetches two pages ahead), expiring mid-walk: the clock
    // moves at item 1250 (page 13) once the prefetches of pages 14 and 15 have reached the
    // server, so the fetch of page 16 is the first to find the token expired and refreshes
    // first.
    let mut items = list.clone().items();
    let mut streamed = Vec::new();
    while let Some(item) = items.next().await {
        let item = item.unwrap();
        if item.id == 1250 {
            while sandbox.hits(routes::EVENTS) < 25 + 15 {
                tokio::task::yield_now().await;
            }
            clock.advance(HOUR);
        }
        streamed.push(item);
    }
    assert_eq!(streamed, seen);
    assert_eq!(client.session_stats().recovered_401, 0);
    assert_eq!(sandbox.hits(routes::EVENTS), 25 + 25);
    assert_eq!((sandbox.logins(), sandbox.refreshes()), (1, 2));

    let pages: Vec<_> = list
        .with_max_items(250)
        .pages()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(pages.len(), 3);
    assert_eq!(pages[0].info.total_pages, Some(25));
    assert_eq!(pages[0].info.total_items, Some(2500));
    assert_eq!(pages[2].info.page, Some(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_429_kinds_5xx_and_non_json_are_typed() {
    let (_clock, sandbox, client) = setup().await;
    echo(&client).await.unwrap();

    sandbox.inject(Sandbox::monthly_limit());
    let e = echo(&client).await.unwrap_err();
    assert!(e.is_rate_limited() && !e.is_retryable(), "{e:?}");
    assert_eq!(RateLimitKind::of(&e), Some(RateLimitKind::Monthly));
    assert_eq!(e.status(), Some(429));

    sandbox.inject(Sandbox::volume_limit(Some(30)));
    let e = echo(&client).await.unwrap_err();
    assert!(e.is_rate_limited() && e.is_retryable(), "{e:?}");
    assert_eq!(RateLimitKind::of(&e), Some(RateLimitKind::Volume));
    assert_eq!(e.retry_after(), Some(Duration::from_secs(30)));
    insta::assert_snapshot!(e.to_string(), @r"vendor rate limit reached (HTTP 429): Too many requests: volume restriction in effect, try again later; retry after 30s");

    sandbox.inject(Fault::server_error(503));
    let e = echo(&client).await.unwrap_err();
    assert!(e.is_transient() && e.is_retryable(), "{e:?}");
    assert_eq!(e.vendor_message(), Some("Internal Server Error"));

    sandbox.inject(Fault::status(200, "OK, but this is not JSON"));
    let e = echo(&client).await.unwrap_err();
    assert!(e.is_bad_response(), "{e:?}");
    assert_eq!(e.status(), Some(200));

    // Bad login: plain-text body as the vendor message, never the password.
    let bad = sandbox
        .client_builder()
        .with_credentials(Credentials::user(EMAIL, "wrong-password-123"))
        .build()
        .unwrap();
    let e = echo(&bad).await.unwrap_err();
    assert!(e.is_unauthorized(), "{e:?}");
    assert_eq!(
        e.vendor_message(),
        Some("Invalid email address or password.")
    );
    assert!(!format!("{e} {e:?} {bad:?}").contains("wrong-password-123"));
    // Nothing above was retried by the pipeline: one hit per call, one login per client.
    assert_eq!(sandbox.hits(routes::ECHO), 1 + 4);
    assert_eq!(sandbox.token_requests(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x_pagination_malformed_or_partial() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(GET).path("/subscriptions/v2/Broken");
            then.status(200)
                .header("X-Pagination", "{\"current_Page\": 1, ")
                .body("[1,2,3]");
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/subscriptions/v2/Partial")
                .query_param("pageNumber", "1");
            then.status(200)
                .header("X-Pagination", r#"{"current_Page":1,"next_Page":"Yes"}"#)
                .body("[1,2]");
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/subscriptions/v2/Partial")
                .query_param("pageNumber", "2");
            then.status(200)
                .header("X-Pagination", r#"{"current_Page":2}"#)
                .body("[3]");
        })
        .await;
    let client = Client::builder()
        .with_base_url(server.base_url())
        .with_credentials(Credentials::api_key("static-key"))
        .build()
        .unwrap();
    let e = client
        .list::<u32>("subscriptions", "Broken")
        .page(1)
        .await
        .unwrap_err();
    assert!(e.is_bad_response(), "{e:?}");
    assert_eq!(e.to_string(), "pagination metadata is not JSON (HTTP 200)");

    let all: Vec<u32> = client
        .list::<u32>("subscriptions", "Partial")
        .with_page_size(2)
        .items()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all, [1, 2, 3]);
    let e = client
        .list::<u32>("subscriptions", "Partial")
        .page(0)
        .await
        .unwrap_err();
    assert!(e.is_invalid_input());
    let e = client
        .list::<u32>("subscriptions", "Partial")
        .with_page_size(0)
        .page(1)
        .await
        .unwrap_err();
    assert!(e.is_invalid_input(), "{e:?}");
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

#[tokio::test]
async fn insecure_and_misconfigured_clients_are_refused() {
    // Refused at build, before any call could send the password.
    let e = Client::builder()
        .with_base_url("http://api.example.com")
        .with_credentials(Credentials::user(EMAIL, PASSWORD))
        .build()
        .unwrap_err();
    assert!(e.is_insecure_transport(), "{e:?}");
    assert!(
        Client::builder()
            .with_base_url("nope")
            .with_credentials(Credentials::api_key("k"))
            .build()
            .unwrap_err()
            .is_config()
    );
}

#[test]
fn secrets_never_print() {
    const SECRET: &str = "the-one-secret-4711";
    let user = Credentials::user(EMAIL, SECRET);
    let key = Credentials::api_key(SECRET);
    let client = Client::builder()
        .with_credentials(key.clone())
        .build()
        .unwrap();
    let builder = Client::builder().with_credentials(user.clone());
    let request = client.request(Method::GET, Api::Subscriptions, "Events");
    let list = client.list::<Value>(Api::Subscriptions, "Events");
    let shown = format!("{user:?} {key:?} {client:?} {client:#?} {builder:?} {request:?} {list:?}");
    assert!(!shown.contains(SECRET), "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_in_client_and_errors_never_print_tokens() {
    let (_clock, sandbox, client) = setup().await;
    echo(&client).await.unwrap();
    let lease = client.session().current().unwrap();
    let access = lease.tokens().access_token().expose().to_owned();
    let refresh = lease.tokens().refresh_token().unwrap().expose().to_owned();
    sandbox.inject(Fault::unauthorized());
    sandbox.inject(Fault::unauthorized());
    let e = echo(&client).await.unwrap_err();
    let shown = format!("{client:?} {client:#?} {lease:?} {e} {e:?} {sandbox:?}");
    for secret in [PASSWORD, access.as_str(), refresh.as_str()] {
        assert!(!shown.contains(secret), "{shown}");
    }
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

/// A raw request to the sandbox (no client): its status, content type and body text.
async fn raw(
    sandbox: &Sandbox,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> (u16, String, String) {
    let mut req = reqwest::Client::new().request(method, format!("{}{path}", sandbox.base_url()));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(b) = body {
        req = req.body(b.to_owned());
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, ct, resp.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_enforces_the_wire_rules() {
    let (clock, sandbox, client) = setup().await;
    const JSON: (&str, &str) = ("content-type", "application/json");
    let login_body = format!(r#"{{"email_address":"{EMAIL}","password":"{PASSWORD}"}}"#);

    // Login: POST only, JSON only, both fields required, right credentials.
    let r = raw(&sandbox, Method::GET, "/sso/v2/Auth/Login", &[], None).await;
    assert_eq!((r.0, r.1.as_str()), (405, "text/plain"));
    let r = raw(
        &sandbox,
        Method::POST,
        "/sso/v2/Auth/Login",
        &[("content-type", "text/plain")],
        Some(&login_body),
    )
    .await;
    assert_eq!(r.0, 415, "{r:?}");
    let r = raw(
        &sandbox,
        Method::POST,
        "/sso/v2/Auth/Login",
        &[JSON],
        Some(&format!(r#"{{"email_address":"{EMAIL}"}}"#)),
    )
    .await;
    assert_eq!(r.0, 400, "{r:?}");
    let r = raw(
        &sandbox,
        Method::POST,
        "/sso/v2/Auth/Login",
        &[JSON],
        Some("{"),
    )
    .await;
    assert_eq!(r.0, 400, "{r:?}");
    let r = raw(
        &sandbox,
        Method::POST,
        "/sso/v2/Auth/Login",
        &[JSON],
        Some(&format!(
            r#"{{"email_address":"{EMAIL}","password":"nope"}}"#
        )),
    )
    .await;
    assert_eq!(
        r,
        (
            401,
            "text/plain".into(),
            "Invalid email address or password.".into()
        )
    );
    let r = raw(
        &sandbox,
        Method::POST,
        "/sso/v2/Auth/Login",
        &[JSON],
        Some(&login_body),
    )
    .await;
    assert_eq!((r.0, r.1.as_str()), (200, "application/json"), "{r:?}");
    let answer: Value = serde_json::from_str(&r.2).unwrap();
    for key in [
        "id",
        "name",
        "email_address",
        "access_token",
        "access_token_expiration",
        "refresh_token",
        "permissions",
    ] {
        assert!(
            answer.get(key).is_some(),
            "login answer lacks {key}: {answer}"
        );
    }
    let access = answer["access_token"].as_str().unwrap().to_owned();
    let refresh = answer["refresh_token"].as_str().unwrap().to_owned();

    // Refresh: only the refresh token, never an Authorization header.
    let only_refresh = format!(r#"{{"refresh_token":"{refresh}"}}"#);
    let bearer = format!("Bearer {access}");
    let r = raw(
        &sandbox,
        Method::POST,
        "/sso/v2/Auth/Refresh",
        &[JSON, ("authorization", &bearer)],
        Some(&only_refresh),
    )
    .await;
    assert_eq!(r.0, 400, "{r:?}");
    let r = raw(
        &sandbox,
        Method::POST,
        "/sso/v2/Auth/Refresh",
        &[JSON],
        Some(&format!(
            r#"{{"refresh_token":"{refresh}","access_token":"{access}"}}"#
        )),
    )
    .await;
    assert_eq!(r.0, 400, "{r:?}");
    let r = raw(
        &sandbox,
        Method::POST,
        "/sso/v2/Auth/Refresh",
        &[JSON],
        Some(r#"{"refresh_token":"AQA-unknown"}"#),
    )
    .await;
    assert_eq!(r.0, 401, "{r:?}");
    let r = raw(
        &sandbox,
        Method::PUT,
        "/sso/v2/Auth/Refresh",
        &[JSON],
        Some(&only_refresh),
    )
    .await;
    assert_eq!(r.0, 405, "{r:?}");

    // Authorized routes: a token the sandbox issued, unexpired, in the Authorization header.
    let events = "/subscriptions/v2/Events?pageNumber=1&pageSize=10";
    assert_eq!(raw(&sandbox, Method::GET, events, &[], None).await.0, 401);
    let r = raw(
        &sandbox,
        Method::GET,
        events,
        &[("authorization", "Bearer forged")],
        None,
    )
    .await;
    assert_eq!(r.0, 401);
    let r = raw(
        &sandbox,
        Method::GET,
        events,
        &[("authorization", &bearer)],
        None,
    )
    .await;
    assert_eq!(r.0, 200, "{r:?}");
    let r = raw(
        &sandbox,
        Method::GET,
        events,
        &[("authorization", &access)],
        None,
    )
    .await;
    assert_eq!(r.0, 200, "the raw token is accepted too: {r:?}");
    let r = raw(
        &sandbox,
        Method::POST,
        events,
        &[("authorization", &bearer)],
        None,
    )
    .await;
    assert_eq!(r.0, 405);
    let bad_size = "/subscriptions/v2/Events?pageNumber=1&pageSize=0";
    let r = raw(
        &sandbox,
        Method::GET,
        bad_size,
        &[("authorization", &bearer)],
        None,
    )
    .await;
    assert_eq!(r.0, 400, "{r:?}");
    let r = raw(
        &sandbox,
        Method::GET,
        "/sso/v2/Nope",
        &[("authorization", &bearer)],
        None,
    )
    .await;
    assert_eq!(r.0, 404);
    let key = format!("Bearer {API_KEY}");
    let r = raw(
        &sandbox,
        Method::GET,
        events,
        &[("authorization", &key)],
        None,
    )
    .await;
    assert_eq!(r.0, 200, "the api key is accepted: {r:?}");

    // The token's expiry is judged by the injected clock, to the second it advertised.
    clock.advance(HOUR - Duration::from_secs(1));
    let r = raw(
        &sandbox,
        Method::GET,
        events,
        &[("authorization", &bearer)],
        None,
    )
    .await;
    assert_eq!(r.0, 200, "{r:?}");
    clock.advance(Duration::from_secs(1));
    let r = raw(
        &sandbox,
        Method::GET,
        events,
        &[("authorization", &bearer)],
        None,
    )
    .await;
    assert_eq!((r.0, r.2.as_str()), (401, "Unauthorized: token expired"));

    // The client never trips any of these rules: its own calls all succeed.
    // Login hits: 415, two 400s, 401, 200 (the 405 never reached the route).
    assert_eq!(sandbox.logins(), 5);
    client.companies().await.unwrap();
    assert_eq!(sandbox.logins(), 6);
}

/// An error-kind predicate such as `Error::is_bad_response`.
type IsKind = fn(&Error) -> bool;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_login_answers_are_typed_and_never_cached() {
    const SECRET: &str = "pw-for-broken-answers-3141";
    let server = MockServer::start_async().await;
    let client = Client::builder()
        .with_base_url(server.base_url())
        .with_clock(ManualClock::new())
        .with_credentials(Credentials::user(EMAIL, SECRET))
        .build()
        .unwrap();
    let cases: [(u16, &str, &str, IsKind); 9] = [
        (200, "application/json", "", Error::is_bad_response),
        (200, "text/plain", "Login failed", Error::is_bad_response),
        (
            200,
            "text/html",
            "<html>maintenance</html>",
            Error::is_bad_response,
        ),
        (200, "application/json", "[]", Error::is_bad_response),
        (
            200,
            "application/json",
            r#"{"access_token":null}"#,
            Error::is_bad_response,
        ),
        (
            200,
            "application/json",
            r#"{"access_token":42}"#,
            Error::is_bad_response,
        ),
        (
            200,
            "application/json",
            r#"{"access_token":"t","access_token_expiration":"tomorrow"}"#,
            Error::is_bad_response,
        ),
        (
            400,
            "text/plain",
            "Invalid password pw-for-broken-answers-3141",
            Error::is_rejected,
        ),
        (
            502,
            "text/html",
            "<html>bad gateway</html>",
            Error::is_transient,
        ),
    ];
    for (status, ct, body, kind) in cases {
        let login = server
            .mock_async(|when, then| {
                when.method(httpmock::Method::POST)
                    .path("/sso/v2/Auth/Login");
                then.status(status).header("Content-Type", ct).body(body);
            })
            .await;
        let e = client.companies().await.unwrap_err();
        assert!(kind(&e), "{status} {body:?}: {e:?}");
        if status == 200 {
            assert_eq!(e.status(), Some(200), "{e:?}");
        }
        let shown = format!("{e} {e:?} {client:?}");
        assert!(!shown.contains(SECRET), "{shown}");
        // One login per attempt, only a transient failure retried (3 attempts by default),
        // no broken token kept.
        let attempts = if e.is_transient() { 3 } else { 1 };
        assert_eq!(login.calls_async().await, attempts, "{body:?}");
        assert!(client.session().current().is_none(), "{body:?}");
        login.delete_async().await;
    }
    // A good answer afterwards: the client signs in and works.
    let login = server
        .mock_async(|when, then| {
            when.method(httpmock::Method::POST)
                .path("/sso/v2/Auth/Login");
            then.status(200)
                .header("Content-Type", "application/json")
                .json_body(json!({"id": 5, "access_token": "opaque-access",
                    "access_token_expiration": "2100-01-01T00:00:00+00:00"}));
        })
        .await;
    let companies = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/sso/v2/User/5/Companies")
                .header("authorization", "Bearer opaque-access");
            then.status(200)
                .header("Content-Type", "application/json")
                .body(r#"[{"id":"c1","name":null,"unknown":[1]},{"id":"c2"}]"#);
        })
        .await;
    let list = client.companies().await.unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(
        (login.calls_async().await, companies.calls_async().await),
        (1, 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_refresh_and_change_company_answers_lose_nothing() {
    let (clock, sandbox, client) = setup().await;
    echo(&client).await.unwrap();
    let first = client.session().current().unwrap();
    let access = first.tokens().access_token().expose().to_owned();
    let refresh = first.tokens().refresh_token().unwrap().expose().to_owned();

    // A company switch answered with garbage: typed, and the old company's token stays.
    sandbox.inject(Fault::status(200, "not json"));
    let e = client.change_company(OTHER_COMPANY).await.unwrap_err();
    assert!(e.is_bad_response() && e.status() == Some(200), "{e:?}");
    sandbox.inject(Fault::status(200, "{}"));
    let e = client.change_company(OTHER_COMPANY).await.unwrap_err();
    assert!(e.is_bad_response(), "{e:?}");
    let still = client.session().current().unwrap();
    assert_eq!(still.tokens().access_token().expose(), access);
    assert_eq!(echo(&client).await.unwrap()["company_id"], DEFAULT_COMPANY);

    // The refresh endpoint fails (echoing the refresh token) or answers garbage: typed,
    // secret-free, and the held refresh token still works on the next call.
    clock.advance(HOUR);
    // (A 5xx is retried inside the renewal: 3 attempts by default.)
    for _ in 0..3 {
        sandbox.inject_on_auth(Fault::status(500, format!("could not refresh {refresh}")));
    }
    let e = echo(&client).await.unwrap_err();
    assert!(e.is_transient(), "{e:?}");
    let shown = format!("{e} {e:?}");
    assert!(
        !shown.contains(&refresh) && !shown.contains(&access),
        "{shown}"
    );
    sandbox.inject_on_auth(Fault::status(200, "<html>oops</html>"));
    let e = echo(&client).await.unwrap_err();
    assert!(e.is_bad_response(), "{e:?}");
    assert_eq!((sandbox.logins(), sandbox.refreshes()), (1, 3 + 1));
    echo(&client).await.unwrap();
    assert_eq!((sandbox.logins(), sandbox.refreshes()), (1, 5));
    assert_eq!(client.session_stats().renewal_failures, 2);

    // A companies answer that is not a list.
    sandbox.inject(Fault::status(200, r#"{"id":"c1"}"#));
    let e = client.companies().await.unwrap_err();
    assert!(e.is_bad_response(), "{e:?}");
    assert_eq!(sandbox.hits(routes::COMPANIES), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbled_or_wrongly_typed_x_pagination_is_typed() {
    let server = MockServer::start_async().await;
    for (path, header) in [
        (
            "/subscriptions/v2/Garbled",
            "{\"current_Page\":1,\"note\":\"caf\u{e9}\"}",
        ),
        ("/subscriptions/v2/Array", "[1,2]"),
        ("/subscriptions/v2/Text", r#"{"current_Page":"first"}"#),
        ("/subscriptions/v2/Negative", r#"{"total_Pages":-3}"#),
        ("/subscriptions/v2/Flag", r#"{"next_Page":"Maybe"}"#),
    ] {
        server
            .mock_async(|when, then| {
                when.method(GET).path(path);
                then.status(200)
                    .header("Content-Type", "application/json")
                    .header("X-Pagination", header)
                    .body("[1]");
            })
            .await;
    }
    let client = Client::builder()
        .with_base_url(server.base_url())
        .with_credentials(Credentials::api_key("static-key"))
        .build()
        .unwrap();
    for endpoint in ["Garbled", "Array", "Text", "Negative", "Flag"] {
        let e = client
            .list::<u32>(Api::Subscriptions, endpoint)
            .page(1)
            .await
            .unwrap_err();
        assert!(
            e.is_bad_response() && e.status() == Some(200),
            "{endpoint}: {e:?}"
        );
        let mut items = client.list::<u32>(Api::Subscriptions, endpoint).items();
        assert!(items.next().await.unwrap().unwrap_err().is_bad_response());
        assert!(
            items.next().await.is_none(),
            "{endpoint}: the stream ends after an error"
        );
    }
}

/// The README's "Testing your code" example, run as one of these tests.
#[path = "support/readme_example.rs"]
mod readme_example;

#[test]
fn readme_sandbox_example_is_verbatim() {
    let readme = include_str!("../README.md");
    let example = include_str!("support/readme_example.rs");
    assert!(
        readme.contains(example),
        "README and tests/support/readme_example.rs drifted"
    );
}

/// A hostile iPaaS.com echoes every secret of the call (password, API key, access and
/// refresh token), in every encoding and straddling the error-body bound: none of it reaches
/// the error (Display, Debug, `{:#?}`, the vendor message, the detail serialized back).
#[tokio::test]
async fn no_secret_of_a_call_survives_a_hostile_echo() {
    use auth_core::sandbox::{assert_secret_free, echoes};
    const PASS: &str = r#"p&ss<1> "q"\/+%"#;
    const KEY: &str = "key-&<hostile>/1f2e";
    const ACCESS: &str = "at-hostile-&<1f2e>";
    const REFRESH: &str = "rt-hostile-/9a8b+";
    let server = MockServer::start_async().await;
    let client = Client::builder()
        .with_base_url(server.base_url())
        .with_clock(ManualClock::new())
        .with_credentials(Credentials::user(EMAIL, PASS))
        .build()
        .unwrap();
    let keyed = Client::builder()
        .with_base_url(server.base_url())
        .with_credentials(Credentials::api_key(KEY))
        .build()
        .unwrap();
    let all = [PASS, KEY, ACCESS, REFRESH];
    let bodies = |secret: &str| {
        echoes(secret)
            .into_iter()
            .map(|(name, echo)| (name, format!("Login failed for {EMAIL} with {echo}")))
            .collect::<Vec<_>>()
    };
    for (name, body) in bodies(PASS) {
        let mock = server
            .mock_async(|when, then| {
                when.path("/sso/v2/Auth/Login");
                then.status(401).body(body.clone());
            })
            .await;
        let err = client.login().await.unwrap_err();
        assert_eq!(err.status(), Some(401), "{name}");
        assert_secret_free::<RateLimitKind>(&err, &all, &format!("login, {name}"));
        mock.delete_async().await;
    }
    for (name, body) in bodies(KEY) {
        let mock = server
            .mock_async(|when, then| {
                when.path("/subscriptions/v2/Events");
                then.status(429).body(body.clone());
            })
            .await;
        let err = keyed
            .get_json::<Value>(Api::Subscriptions, "Events")
            .await
            .unwrap_err();
        assert!(err.is_rate_limited(), "{name}");
        assert_secret_free::<RateLimitKind>(&err, &all, &format!("api key call, {name}"));
        mock.delete_async().await;
    }
    let login = server
        .mock_async(|when, then| {
            when.path("/sso/v2/Auth/Login");
            then.status(200)
                .header("content-type", "application/json")
                .body(
                    json!({"access_token": ACCESS, "refresh_token": REFRESH,
                    "access_token_expiration": "2099-01-01T00:00:00Z"})
                    .to_string(),
                );
        })
        .await;
    client.login().await.unwrap();
    for secret in [ACCESS, REFRESH] {
        for (name, body) in bodies(secret) {
            let call = server
                .mock_async(|when, then| {
                    when.path("/subscriptions/v2/Events");
                    then.status(400).body(body.clone());
                })
                .await;
            let err = client
                .get_json::<Value>(Api::Subscriptions, "Events")
                .await
                .unwrap_err();
            assert_eq!(err.status(), Some(400), "{name}");
            assert_secret_free::<RateLimitKind>(&err, &all, &format!("call, {name}"));
            call.delete_async().await;
            // A transient refresh failure surfaces (a rejected one would fall back to login).
            let refresh = server
                .mock_async(|when, then| {
                    when.path("/sso/v2/Auth/Refresh");
                    then.status(503).body(body.clone());
                })
                .await;
            let err = client.refresh().await.unwrap_err();
            assert!(err.is_transient(), "{name}");
            assert_secret_free::<RateLimitKind>(&err, &all, &format!("refresh, {name}"));
            refresh.delete_async().await;
            client.login().await.unwrap();
        }
    }
    assert!(login.calls_async().await >= 1);
}
