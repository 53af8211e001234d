//! Typed errors: both 429 kinds, 5xx, answers that are not JSON or no token set, refused
//! configurations; and no secret (password, API key, tokens) in any error or Debug.

use std::time::Duration;

use httpmock::prelude::{GET, MockServer};
use ipaas_com::sandbox::{
    DEFAULT_COMPANY, EMAIL, Fault, ManualClock, OTHER_COMPANY, PASSWORD, Sandbox, routes,
};
use ipaas_com::{Api, Client, Credentials, Error, ErrorExt as _, RateLimitKind};
use reqwest::Method;
use serde_json::{Value, json};

use super::{HOUR, echo, setup, token_calls};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_429_kinds_5xx_and_non_json_are_typed() {
    let (_clock, sandbox, client) = setup().await;
    echo(&client).await.unwrap();

    sandbox.inject(Sandbox::monthly_limit());
    let e = echo(&client).await.unwrap_err();
    assert!(e.is_rate_limited() && !e.is_retryable(), "{e:?}");
    assert_eq!(e.rate_limit_kind(), Some(RateLimitKind::Monthly));
    assert_eq!(e.status(), Some(429));

    sandbox.inject(Sandbox::volume_limit(Some(30)));
    let e = echo(&client).await.unwrap_err();
    assert!(e.is_rate_limited() && e.is_retryable(), "{e:?}");
    assert_eq!(e.rate_limit_kind(), Some(RateLimitKind::Volume));
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
    let state = sandbox.state();
    let shown = format!("{client:?} {client:#?} {lease:?} {e} {e:?} {sandbox:?} {state:?}");
    for secret in [PASSWORD, access.as_str(), refresh.as_str()] {
        assert!(!shown.contains(secret), "{shown}");
    }
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
        sandbox.inject_token(Fault::status(500, format!("could not refresh {refresh}")));
    }
    let e = echo(&client).await.unwrap_err();
    assert!(e.is_transient(), "{e:?}");
    let shown = format!("{e} {e:?}");
    assert!(
        !shown.contains(&refresh) && !shown.contains(&access),
        "{shown}"
    );
    sandbox.inject_token(Fault::status(200, "<html>oops</html>"));
    let e = echo(&client).await.unwrap_err();
    assert!(e.is_bad_response(), "{e:?}");
    assert_eq!(token_calls(&sandbox), (1, 3 + 1));
    echo(&client).await.unwrap();
    assert_eq!(token_calls(&sandbox), (1, 5));
    assert_eq!(client.session_stats().renewal_failures, 2);

    // A companies answer that is not a list.
    sandbox.inject(Fault::status(200, r#"{"id":"c1"}"#));
    let e = client.companies().await.unwrap_err();
    assert!(e.is_bad_response(), "{e:?}");
    assert_eq!(sandbox.hits(routes::COMPANIES), 1);
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
