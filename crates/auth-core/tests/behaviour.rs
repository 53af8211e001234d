//! Session, pipeline and pagination behaviour over real HTTP against httpmock, with time
//! driven by the manual clock.

// Test helpers outside #[test] functions unwrap too: a failed setup is a failed test.
#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use auth_core::{
    AccessToken, Error, ErrorKind, Expiry, ManualClock, Page, PageToken, RefreshToken, Session,
    TokenSet,
    http::Http,
    provider::{Backoff, Capabilities, PageInfo, Paginator, RenewalPolicy, TokenProvider},
};
use futures::StreamExt as _;
use httpmock::prelude::*;
use httpmock::{HttpMockRequest, HttpMockResponse};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;

const PASSWORD: &str = "correct-horse-battery-staple";

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    refresh_token: Option<String>,
    expires_in: u64,
}

#[derive(Debug)]
struct TestProvider {
    http: Http,
    base: String,
    password: SecretString,
    capabilities: Capabilities,
    policy: RenewalPolicy,
}

impl TestProvider {
    fn token_set(&self, a: TokenAnswer) -> TokenSet {
        TokenSet::new(
            AccessToken::new(a.access_token),
            Expiry::from_expires_in(a.expires_in, self.http.now()),
        )
        .with_refresh_token(a.refresh_token.map(RefreshToken::new))
    }
}

#[async_trait]
impl TokenProvider for TestProvider {
    async fn sign_in(&self) -> Result<TokenSet, Error> {
        let req = self
            .http
            .request(Method::POST, format!("{}/token", self.base))
            .json(&json!({"password": self.password.expose_secret()}));
        let a: TokenAnswer = self.http.send_json(req, &[&self.password]).await?;
        Ok(self.token_set(a))
    }

    async fn refresh(&self, current: &TokenSet) -> Result<TokenSet, Error> {
        let rt = current
            .refresh_token()
            .ok_or_else(|| Error::new(ErrorKind::Config, "no refresh token"))?;
        let req = self
            .http
            .request(Method::POST, format!("{}/refresh", self.base))
            .json(&json!({"refresh_token": rt.expose()}));
        let a: TokenAnswer = self.http.send_json(req, &[rt.as_secret()]).await?;
        Ok(self.token_set(a))
    }

    fn capabilities(&self) -> Capabilities {
        self.capabilities
    }

    fn policy(&self) -> RenewalPolicy {
        self.policy
    }

    fn rejects_token(&self, error: &Error) -> bool {
        // This fake answers an end user's wrong password with 401 "login.failed".
        error.vendor_message() != Some("login.failed")
    }
}

/// A fake vendor: `/token` signs in, `/refresh` refreshes, `/api` is an authorized call.
struct Fake {
    server: MockServer,
    clock: ManualClock,
    http: Http,
    sign_ins: Arc<AtomicU64>,
    refreshes: Arc<AtomicU64>,
}

impl Fake {
    async fn start() -> Fake {
        let server = MockServer::start_async().await;
        let clock = ManualClock::new();
        let http = Http::new().unwrap().with_clock(clock.clone());
        let sign_ins = Arc::new(AtomicU64::new(0));
        let refreshes = Arc::new(AtomicU64::new(0));
        let s = sign_ins.clone();
        server
            .mock_async(move |when, then| {
                when.method(POST).path("/token");
                then.respond_with(move |_req: &HttpMockRequest| {
                    let n = s.fetch_add(1, Ordering::SeqCst) + 1;
                    token_answer(&format!("access-login-{n}"), &format!("refresh-login-{n}"))
                });
            })
            .await;
        Fake {
            server,
            clock,
            http,
            sign_ins,
            refreshes,
        }
    }

    async fn refresh_ok(&self) -> httpmock::Mock<'_> {
        let r = self.refreshes.clone();
        self.server
            .mock_async(move |when, then| {
                when.method(POST).path("/refresh");
                then.respond_with(move |_req: &HttpMockRequest| {
                    let n = r.fetch_add(1, Ordering::SeqCst) + 1;
                    token_answer(
                        &format!("access-refresh-{n}"),
                        &format!("refresh-refresh-{n}"),
                    )
                });
            })
            .await
    }

    async fn api_ok(&self) -> httpmock::Mock<'_> {
        self.server
            .mock_async(|when, then| {
                when.path("/api");
                then.status(200).body("{}");
            })
            .await
    }

    fn session(&self, capabilities: Capabilities, policy: RenewalPolicy) -> Session {
        Session::new(
            TestProvider {
                http: self.http.clone(),
                base: self.server.base_url(),
                password: SecretString::from(PASSWORD),
                capabilities,
                policy,
            },
            self.http.clone(),
        )
    }

    fn default_session(&self) -> Session {
        self.session(Capabilities::default(), RenewalPolicy::default())
    }

    fn api(&self) -> reqwest::RequestBuilder {
        self.http.request(Method::GET, self.server.url("/api"))
    }

    fn sign_ins(&self) -> u64 {
        self.sign_ins.load(Ordering::SeqCst)
    }
}

fn token_answer(access: &str, refresh: &str) -> HttpMockResponse {
    HttpMockResponse::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(
            json!({"access_token": access, "refresh_token": refresh, "expires_in": 3600})
                .to_string(),
        )
        .build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thousand_callers_on_an_expired_token_cause_one_token_request() {
    let fake = Fake::start().await;
    let refresh = fake.refresh_ok().await;
    let api = fake.api_ok().await;
    let session = fake.default_session();
    session.token().await.unwrap();
    assert_eq!(fake.sign_ins(), 1);

    fake.clock.advance(Duration::from_secs(3601));
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let s = session.clone();
            let req = fake.api();
            tokio::spawn(async move { s.send(req).await.map(|r| r.status()) })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), 200);
    }
    assert_eq!(
        refresh.calls_async().await,
        1,
        "exactly one token request for 1000 callers"
    );
    assert_eq!(fake.sign_ins(), 1);
    assert_eq!(api.calls_async().await, 1000);
    let stats = session.stats();
    assert_eq!(
        (
            stats.refreshes,
            stats.sign_ins,
            stats.requests,
            stats.expiries
        ),
        (1, 1, 1000, 1),
        "one expired token, counted once however many callers saw it"
    );
    assert_eq!(
        session
            .token()
            .await
            .unwrap()
            .tokens()
            .access_token()
            .expose(),
        "access-refresh-1"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn inside_the_margin_the_valid_token_is_served_and_renewed_once() {
    let fake = Fake::start().await;
    let refresh = fake.refresh_ok().await;
    let session = fake.default_session();
    let first = session.token().await.unwrap();
    // Step to this token's renewal moment, inside its advisory window (the last 6 minutes
    // of its hour but for the mandatory last 4).
    fake.clock.set(first.advisory_at().unwrap());
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let s = session.clone();
            tokio::spawn(async move { s.token().await.map(|l| l.generation()) })
        })
        .collect();
    for t in tasks {
        let generation = t.await.unwrap().unwrap();
        assert!(generation == first.generation() || generation == first.generation() + 1);
    }
    let renewed = session.settle().await;
    assert!(renewed.is_none_or(|r| r.is_ok()));
    assert_eq!(refresh.calls_async().await, 1);
    assert_eq!(
        session.token().await.unwrap().generation(),
        first.generation() + 1
    );
}

#[tokio::test]
async fn a_failed_refresh_keeps_the_valid_token_and_is_not_cached() {
    let fake = Fake::start().await;
    let failing = fake
        .server
        .mock_async(|when, then| {
            when.method(POST).path("/refresh");
            then.status(503).body("maintenance");
        })
        .await;
    let served = Arc::new(Mutex::new(Vec::new()));
    let seen = served.clone();
    fake.server
        .mock_async(move |when, then| {
            when.path("/api");
            then.respond_with(move |req: &HttpMockRequest| {
                let auth = req
                    .headers()
                    .get("authorization")
                    .map(|v| v.to_str().unwrap_or("").to_owned());
                seen.lock().unwrap().push(auth.unwrap_or_default());
                HttpMockResponse::builder().status(200).build()
            });
        })
        .await;
    let session = fake.default_session();
    session.send(fake.api()).await.unwrap();
    let lease = session.current().unwrap();

    // Inside the advisory window, still valid: every call is served with the old token. A
    // failed background renewal is tried again after the backoff, not on the next call.
    fake.clock.set(lease.advisory_at().unwrap());
    for attempt in 1..=3 {
        session.send(fake.api()).await.unwrap();
        // The background renewal may already be over; wait for it if it is not.
        if let Some(outcome) = session.settle().await {
            assert!(outcome.unwrap_err().is_transient());
        }
        assert_eq!(session.stats().renewal_failures, attempt);
        // Backing off: served again without a new attempt.
        session.send(fake.api()).await.unwrap();
        assert!(session.settle().await.is_none());
        assert_eq!(failing.calls_async().await as u64, attempt);
        fake.clock
            .advance(Backoff::default().ceiling(attempt.try_into().unwrap()));
    }
    assert_eq!(failing.calls_async().await, 3);
    assert_eq!(session.stats().renewal_failures, 3);
    assert!(
        served
            .lock()
            .unwrap()
            .iter()
            .all(|a| a == "Bearer access-login-1")
    );

    // While valid nothing was retried in-line: one request per renewal.
    assert_eq!(session.stats().renewal_retries, 0);

    // Once expired, a failing renewal is retried (3 attempts by default), then surfaces as
    // an error, and the next call tries again, whatever the backoff.
    fake.clock
        .set(lease.tokens().expiry().expires_at().unwrap() + Duration::from_secs(1));
    let e = session.send(fake.api()).await.unwrap_err();
    assert!(e.is_transient(), "{e:?}");
    assert_eq!(e.vendor_message(), Some("maintenance"));
    assert_eq!(failing.calls_async().await, 3 + 3);
    assert_eq!(session.stats().renewal_retries, 2);

    failing.delete_async().await;
    let ok = fake.refresh_ok().await;
    session.send(fake.api()).await.unwrap();
    assert_eq!(ok.calls_async().await, 1);
    assert_eq!(
        served.lock().unwrap().last().unwrap(),
        "Bearer access-refresh-1"
    );
    assert_eq!(
        fake.sign_ins(),
        1,
        "a refresh failure with a valid refresh token is no reason to sign in"
    );
}

#[tokio::test]
async fn a_401_causes_one_renewal_and_one_retry() {
    let fake = Fake::start().await;
    let refresh = fake.refresh_ok().await;
    let rejected = fake
        .server
        .mock_async(|when, then| {
            when.path("/api")
                .header("authorization", "Bearer access-login-1");
            then.status(401).body("token revoked");
        })
        .await;
    let accepted = fake
        .server
        .mock_async(|when, then| {
            when.path("/api")
                .header("authorization", "Bearer access-refresh-1");
            then.status(200);
        })
        .await;
    let session = fake.default_session();
    let resp = session.send(fake.api()).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(rejected.calls_async().await, 1);
    assert_eq!(accepted.calls_async().await, 1);
    assert_eq!(refresh.calls_async().await, 1);
    let stats = session.stats();
    assert_eq!(
        (stats.unauthorized, stats.recovered_401, stats.refreshes),
        (1, 1, 1)
    );
}

#[tokio::test]
async fn a_401_the_provider_says_is_not_about_the_token_is_not_retried() {
    let fake = Fake::start().await;
    let refresh = fake.refresh_ok().await;
    let api = fake
        .server
        .mock_async(|when, then| {
            when.path("/api");
            then.status(401).body("login.failed");
        })
        .await;
    let session = fake.default_session();
    let e = session.send(fake.api()).await.unwrap_err();
    assert!(e.is_unauthorized());
    assert_eq!(e.vendor_message(), Some("login.failed"));
    assert_eq!(api.calls_async().await, 1, "no retry");
    assert_eq!(refresh.calls_async().await, 0, "no renewal");
    assert_eq!(fake.sign_ins(), 1);
}

#[tokio::test]
async fn a_second_401_surfaces_as_unauthorized() {
    let fake = Fake::start().await;
    let refresh = fake.refresh_ok().await;
    let api = fake
        .server
        .mock_async(|when, then| {
            when.path("/api");
            then.status(401).body("still no");
        })
        .await;
    let session = fake.default_session();
    let e = session.send(fake.api()).await.unwrap_err();
    assert!(e.is_unauthorized(), "{e:?}");
    assert_eq!(e.status(), Some(401));
    assert_eq!(e.vendor_message(), Some("still no"));
    assert_eq!(api.calls_async().await, 2, "the call and exactly one retry");
    assert_eq!(refresh.calls_async().await, 1, "exactly one renewal");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_callers_with_a_401_on_the_same_token_cause_one_renewal() {
    let fake = Fake::start().await;
    let refresh = fake.refresh_ok().await;
    let rejected = fake
        .server
        .mock_async(|when, then| {
            when.path("/api")
                .header("authorization", "Bearer access-login-1");
            // Slow enough that both callers are sent with the old token before either renews.
            then.status(401).delay(Duration::from_millis(200));
        })
        .await;
    let accepted = fake
        .server
        .mock_async(|when, then| {
            when.path("/api")
                .header("authorization", "Bearer access-refresh-1");
            then.status(200);
        })
        .await;
    let session = fake.default_session();
    session.token().await.unwrap();
    let a = tokio::spawn({
        let (s, r) = (session.clone(), fake.api());
        async move { s.send(r).await.map(|r| r.status()) }
    });
    let b = tokio::spawn({
        let (s, r) = (session.clone(), fake.api());
        async move { s.send(r).await.map(|r| r.status()) }
    });
    assert_eq!(a.await.unwrap().unwrap(), 200);
    assert_eq!(b.await.unwrap().unwrap(), 200);
    assert_eq!(rejected.calls_async().await, 2);
    assert_eq!(accepted.calls_async().await, 2);
    assert_eq!(
        refresh.calls_async().await,
        1,
        "one renewal for two 401s on the same token"
    );
}

#[tokio::test]
async fn a_rejected_refresh_token_falls_back_to_one_sign_in() {
    let fake = Fake::start().await;
    let refresh = fake
        .server
        .mock_async(|when, then| {
            when.method(POST).path("/refresh");
            then.status(401).body("invalid refresh token");
        })
        .await;
    fake.api_ok().await;
    let session = fake.default_session();
    session.send(fake.api()).await.unwrap();
    fake.clock.advance(Duration::from_secs(3601));
    session.send(fake.api()).await.unwrap();
    assert_eq!(refresh.calls_async().await, 1);
    assert_eq!(fake.sign_ins(), 2);
    let stats = session.stats();
    assert_eq!(
        (stats.refresh_rejections, stats.sign_ins, stats.expiries),
        (1, 2, 1)
    );
}

#[tokio::test]
async fn without_credentials_an_expired_session_says_so() {
    let fake = Fake::start().await;
    let api = fake.api_ok().await;
    let session = fake.session(Capabilities::none(), RenewalPolicy::default());
    session.replace(TokenSet::new(
        AccessToken::new("handed-over-token"),
        Expiry::from_expires_in(60, fake.clock_now()),
    ));
    session.send(fake.api()).await.unwrap();
    fake.clock.advance(Duration::from_secs(61));
    let e = session.send(fake.api()).await.unwrap_err();
    assert!(e.is_session_expired(), "{e:?}");
    assert_eq!(fake.sign_ins(), 0);
    assert_eq!(api.calls_async().await, 1);

    // And a 401 on a credential that cannot be renewed surfaces at once, with no retry.
    let fresh = fake.session(Capabilities::none(), RenewalPolicy::default());
    fresh.replace(TokenSet::new(AccessToken::new("static"), Expiry::never()));
    let rejected = fake
        .server
        .mock_async(|when, then| {
            when.path("/static");
            then.status(401);
        })
        .await;
    let e = fresh
        .send(fake.http.request(Method::GET, fake.server.url("/static")))
        .await
        .unwrap_err();
    assert!(e.is_unauthorized());
    assert_eq!(rejected.calls_async().await, 1);
}

impl Fake {
    fn clock_now(&self) -> std::time::SystemTime {
        auth_core::Clock::now(&self.clock)
    }
}

/// A provider whose sign-in waits on a gate, to cancel the driving task mid-flight.
#[derive(Debug)]
struct Gated {
    started: Arc<tokio::sync::Notify>,
    release: Arc<tokio::sync::Semaphore>,
    calls: Arc<AtomicU64>,
}

#[async_trait]
impl TokenProvider for Gated {
    async fn sign_in(&self) -> Result<TokenSet, Error> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.started.notify_one();
        let _permit = self
            .release
            .acquire()
            .await
            .map_err(|e| Error::new(ErrorKind::Config, "closed").with_source(e))?;
        Ok(TokenSet::new(AccessToken::new("gated"), Expiry::never()))
    }
}

#[tokio::test]
async fn cancelling_the_task_that_drives_a_renewal_does_not_wedge_the_others() {
    let started = Arc::new(tokio::sync::Notify::new());
    let release = Arc::new(tokio::sync::Semaphore::new(0));
    let calls = Arc::new(AtomicU64::new(0));
    let session = Session::new(
        Gated {
            started: started.clone(),
            release: release.clone(),
            calls: calls.clone(),
        },
        Http::new().unwrap(),
    );
    let driver = tokio::spawn({
        let s = session.clone();
        async move { s.token().await.map(|_| ()) }
    });
    started.notified().await;
    driver.abort();
    assert!(driver.await.unwrap_err().is_cancelled());

    let waiters: Vec<_> = (0..10)
        .map(|_| {
            let s = session.clone();
            tokio::spawn(async move {
                s.token()
                    .await
                    .map(|l| l.tokens().access_token().expose().to_owned())
            })
        })
        .collect();
    release.add_permits(1);
    for w in waiters {
        assert_eq!(w.await.unwrap().unwrap(), "gated");
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "the cancelled driver's sign-in served everyone"
    );
}

#[tokio::test]
async fn a_body_that_cannot_be_replayed_is_not_retried() {
    let fake = Fake::start().await;
    let refresh = fake.refresh_ok().await;
    let api = fake
        .server
        .mock_async(|when, then| {
            when.path("/upload");
            then.status(401);
        })
        .await;
    let session = fake.default_session();
    let chunks = futures::stream::iter(vec![Ok::<_, std::io::Error>("part".to_owned())]);
    let req = fake
        .http
        .request(Method::POST, fake.server.url("/upload"))
        .body(reqwest::Body::wrap_stream(chunks));
    let e = session.send(req).await.unwrap_err();
    assert!(e.is_unauthorized());
    assert_eq!(api.calls_async().await, 1);
    assert_eq!(refresh.calls_async().await, 0);
}

#[tokio::test]
async fn credentials_are_refused_over_plain_http_before_any_token_is_fetched() {
    let fake = Fake::start().await;
    let session = fake.default_session();
    let e = session
        .send(
            fake.http
                .request(Method::GET, "http://api.example.invalid/x"),
        )
        .await
        .unwrap_err();
    assert!(e.is_insecure_transport());
    assert_eq!(fake.sign_ins(), 0);
}

#[tokio::test]
async fn errors_that_echo_secrets_never_show_them() {
    let fake = Fake::start().await;
    fake.refresh_ok().await;
    fake.server
        .mock_async(|when, then| {
            when.path("/api");
            then.status(400)
                .body("token access-login-1 with refresh-login-1 is not allowed here");
        })
        .await;
    fake.server
        .mock_async(|when, then| {
            when.path("/login-echo");
            then.status(400)
                .body(format!("password {PASSWORD} is wrong"));
        })
        .await;
    let session = fake.default_session();
    let e = session.send(fake.api()).await.unwrap_err();
    for shown in [format!("{e}"), format!("{e:?}")] {
        assert!(
            !shown.contains("access-login-1") && !shown.contains("refresh-login-1"),
            "{shown}"
        );
    }
    insta::assert_snapshot!(e.to_string(), @"vendor rejected the request (HTTP 400): token [REDACTED] with [REDACTED] is not allowed here");

    let pw = SecretString::from(PASSWORD);
    let e = fake
        .http
        .send(
            fake.http
                .request(Method::POST, fake.server.url("/login-echo")),
            &[&pw],
        )
        .await
        .unwrap_err();
    assert!(!format!("{e} {e:?}").contains(PASSWORD));
    insta::assert_snapshot!(format!("{e:?}"), @r#"Error { kind: Rejected, context: "vendor rejected the request", status: 400, vendor_message: "password [REDACTED] is wrong" }"#);
}

#[tokio::test]
async fn sessions_and_leases_never_print_their_secrets() {
    let fake = Fake::start().await;
    let session = fake.default_session();
    let lease = session.token().await.unwrap();
    for shown in [
        format!("{session:?}"),
        format!("{session:#?}"),
        format!("{lease:?}"),
        format!("{:?}", lease.tokens()),
        format!("{}", lease.tokens().access_token()),
    ] {
        for secret in ["access-login-1", "refresh-login-1", PASSWORD] {
            assert!(!shown.contains(secret), "{secret} leaked in {shown}");
        }
    }
    assert!(format!("{lease:?}").contains("AccessToken([REDACTED])"));
}

#[tokio::test]
async fn on_expiry_policy_never_renews_a_valid_token() {
    let fake = Fake::start().await;
    let refresh = fake.refresh_ok().await;
    fake.api_ok().await;
    let session = fake.session(Capabilities::default(), RenewalPolicy::OnExpiry);
    session.send(fake.api()).await.unwrap();
    fake.clock.advance(Duration::from_secs(3599));
    for _ in 0..10 {
        session.send(fake.api()).await.unwrap();
    }
    assert!(session.settle().await.is_none());
    assert_eq!(
        refresh.calls_async().await,
        0,
        "one second before expiry is still valid"
    );
    fake.clock.advance(Duration::from_secs(1));
    session.send(fake.api()).await.unwrap();
    assert_eq!(refresh.calls_async().await, 1);
}

#[tokio::test]
async fn a_token_installed_during_a_renewal_is_not_overwritten_by_it() {
    let fake = Fake::start().await;
    let refresh = fake
        .server
        .mock_async(|when, then| {
            when.method(POST).path("/refresh");
            then.status(200)
                .delay(Duration::from_millis(300))
                .header("content-type", "application/json")
                .body(json!({"access_token": "late-refresh", "expires_in": 3600}).to_string());
        })
        .await;
    let session = fake.default_session();
    session.token().await.unwrap();
    fake.clock.advance(Duration::from_secs(3601));
    let waiter = tokio::spawn({
        let s = session.clone();
        async move {
            s.token()
                .await
                .map(|l| l.tokens().access_token().expose().to_owned())
        }
    });
    // Once the refresh is in flight (the server holds it 300 ms), a company switch installs
    // a new token set.
    while refresh.calls_async().await == 0 {
        tokio::task::yield_now().await;
    }
    session.replace(TokenSet::new(
        AccessToken::new("switched-company"),
        Expiry::from_expires_in(3600, fake.clock_now()),
    ));
    assert_eq!(waiter.await.unwrap().unwrap(), "switched-company");
    assert_eq!(
        session
            .token()
            .await
            .unwrap()
            .tokens()
            .access_token()
            .expose(),
        "switched-company"
    );
}

#[tokio::test]
async fn a_token_already_expired_at_receipt_does_not_cause_a_renewal_per_call() {
    // The vendor's clock (or ours) is off: every token arrives with its expiry behind us.
    let fake = Fake::start().await;
    fake.server
        .mock_async(|when, then| {
            when.method(POST).path("/refresh");
            then.status(200)
                .header("content-type", "application/json")
                .body(json!({"access_token": "skewed", "expires_in": 0}).to_string());
        })
        .await;
    let api = fake.api_ok().await;
    let session = fake.default_session();
    session.token().await.unwrap();
    fake.clock.advance(Duration::from_secs(3601));
    for _ in 0..50 {
        session.send(fake.api()).await.unwrap();
    }
    assert_eq!(api.calls_async().await, 50);
    let s = session.stats();
    assert_eq!(
        (s.refreshes, s.expired_on_arrival),
        (2, 2),
        "one immediate further renewal, then the second token is used, not one per call"
    );
    // After the first backoff step, the next call renews again (once), and so on.
    let backoff = Backoff::default();
    for (step, refreshes) in [(1, 3), (2, 4)] {
        fake.clock.advance(backoff.ceiling(step));
        for _ in 0..10 {
            session.send(fake.api()).await.unwrap();
        }
        assert_eq!(session.stats().refreshes, refreshes, "step {step}");
    }
    assert_eq!(
        session.stats().expiries,
        1,
        "only the real expiry counts as one"
    );
}

#[tokio::test]
async fn the_hot_path_does_no_io() {
    let fake = Fake::start().await;
    let session = fake.default_session();
    let first = session.token().await.unwrap();
    for _ in 0..10_000 {
        let lease = session.token().await.unwrap();
        assert_eq!(lease.generation(), first.generation());
    }
    assert_eq!(fake.sign_ins(), 1);
    assert_eq!(session.stats().sign_ins, 1);
}

// ---- pagination ------------------------------------------------------------------------

struct PagedFake {
    server: MockServer,
    requested: Arc<Mutex<Vec<u64>>>,
}

async fn paged_fake(pages: u64, per_page: u64) -> PagedFake {
    let server = MockServer::start_async().await;
    let requested = Arc::new(Mutex::new(Vec::new()));
    let seen = requested.clone();
    server
        .mock_async(move |when, then| {
            when.path("/items");
            then.respond_with(move |req: &HttpMockRequest| {
                let page: u64 = req
                    .query_params()
                    .iter()
                    .find(|(k, _)| k == "page")
                    .and_then(|(_, v)| v.parse().ok())
                    .unwrap_or(1);
                seen.lock().unwrap().push(page);
                let items: Vec<u64> = ((page - 1) * per_page..page * per_page).collect();
                HttpMockResponse::builder()
                    .status(200)
                    .header(
                        "X-Pagination",
                        json!({"current_Page": page, "total_Pages": pages}).to_string(),
                    )
                    .body(serde_json::to_string(&items).unwrap())
                    .build()
            });
        })
        .await;
    PagedFake { server, requested }
}

fn fetcher(
    http: Http,
    base: String,
) -> impl FnMut(PageToken) -> futures::future::BoxFuture<'static, Result<Page<u64>, Error>>
+ Send
+ 'static {
    move |token| {
        let http = http.clone();
        let base = base.clone();
        Box::pin(async move {
            let PageToken::Number(n) = token else {
                return Err(Error::new(ErrorKind::Config, "numbers only"));
            };
            let resp = http
                .send(
                    http.request(Method::GET, format!("{base}/items?page={n}")),
                    &[],
                )
                .await?;
            let raw = resp
                .headers()
                .get("x-pagination")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("{}")
                .to_owned();
            let info = PageInfo::from_json_header(&raw)?;
            let items: Vec<u64> = auth_core::http::read_json(resp).await?;
            let next = info.next_page();
            Ok(Page::new(items, info, next))
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paginator_over_50_pages_yields_everything_in_order_and_prefetches() {
    let fake = paged_fake(50, 10).await;
    let http = Http::new().unwrap();
    let mut stream =
        Paginator::new(PageToken::Number(1), fetcher(http, fake.server.base_url())).items();
    let mut got = Vec::new();
    while let Some(item) = stream.next().await {
        let item = item.unwrap();
        // Before taking the last item of page n, page n + 1 must already have been requested.
        if item % 10 == 8 && item < 490 {
            let page = item / 10 + 1;
            let requested = fake.requested.clone();
            tokio::time::timeout(Duration::from_secs(10), async move {
                while !requested.lock().unwrap().contains(&(page + 1)) {
                    tokio::task::yield_now().await;
                }
            })
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "page {} was not prefetched while page {page} was consumed",
                    page + 1
                )
            });
        }
        got.push(item);
    }
    assert_eq!(got, (0..500).collect::<Vec<u64>>());
    assert_eq!(
        *fake.requested.lock().unwrap(),
        (1..=50).collect::<Vec<u64>>()
    );
}

#[tokio::test]
async fn a_paginator_stops_at_the_maximum_without_fetching_further_pages() {
    let fake = paged_fake(50, 10).await;
    let http = Http::new().unwrap();
    let got: Vec<u64> = Paginator::new(PageToken::Number(1), fetcher(http, fake.server.base_url()))
        .max_items(125)
        .items()
        .map(|r| r.unwrap())
        .collect()
        .await;
    assert_eq!(got, (0..125).collect::<Vec<u64>>());
    // 13 pages hold the first 130 items; page 14 is never requested.
    assert_eq!(
        *fake.requested.lock().unwrap(),
        (1..=13).collect::<Vec<u64>>()
    );
}

#[tokio::test]
async fn the_prefetch_depth_bounds_the_pages_requested_ahead_and_never_passes_max_items() {
    for depth in 1..=4u64 {
        let asked = Arc::new(Mutex::new(Vec::new()));
        let log = asked.clone();
        let mut pages = Paginator::new(PageToken::Number(1), move |token| {
            let PageToken::Number(n) = token else {
                unreachable!()
            };
            log.lock().unwrap().push(n);
            async move {
                let next = (n < 20).then_some(PageToken::Number(n + 1));
                Ok(Page::new(vec![n; 10], PageInfo::default(), next))
            }
        })
        .prefetch(usize::try_from(depth).unwrap())
        .max_items(125)
        .pages();
        let mut held = 0;
        while let Some(page) = pages.next().await {
            held += 1;
            assert_eq!(page.unwrap().items[0], held);
            // Let the fetching task run as far as it may (one thread: it runs when we yield).
            for _ in 0..20 {
                tokio::task::yield_now().await;
            }
            // `depth` pages ahead of the one held, but never past page 13 (items 121..130
            // reach the 125 asked for).
            let ahead = asked.lock().unwrap().len() as u64;
            assert_eq!(
                ahead,
                (held + depth).min(13),
                "depth {depth}, holding {held}"
            );
        }
        assert_eq!(held, 13);
        assert_eq!(*asked.lock().unwrap(), (1..=13).collect::<Vec<u64>>());
    }
}

#[tokio::test]
async fn a_page_fetch_that_panics_ends_the_walk_with_an_error() {
    let results: Vec<Result<Page<u8>, Error>> =
        Paginator::new(PageToken::Number(1), |token| async move {
            match token {
                PageToken::Number(1) => Ok(Page::new(
                    vec![1u8],
                    PageInfo::default(),
                    Some(PageToken::Number(2)),
                )),
                _ => panic!("a vendor-crate bug while fetching page 2"),
            }
        })
        .pages()
        .collect()
        .await;
    assert_eq!(results.len(), 2);
    assert!(results[0].is_ok());
    let e = results[1].as_ref().unwrap_err();
    assert!(e.is_transient());
    assert_eq!(e.to_string(), "page fetch task failed");
}

#[tokio::test]
async fn a_server_that_repeats_a_page_is_stopped_with_an_error() {
    let calls = Arc::new(AtomicU64::new(0));
    let c = calls.clone();
    let results: Vec<Result<u8, Error>> = Paginator::new(PageToken::Number(1), move |_token| {
        c.fetch_add(1, Ordering::SeqCst);
        // Always claims the next page is 2.
        async {
            Ok(Page::new(
                vec![1u8],
                PageInfo::default(),
                Some(PageToken::Number(2)),
            ))
        }
    })
    .items()
    .collect()
    .await;
    assert_eq!(results.len(), 3);
    assert!(results[0].is_ok() && results[1].is_ok());
    let e = results[2].as_ref().unwrap_err();
    assert!(e.is_bad_response());
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_page_error_is_yielded_and_ends_nothing_else() {
    let results: Vec<Result<u8, Error>> =
        Paginator::new(PageToken::Number(1), |token| async move {
            match token {
                PageToken::Number(1) => Ok(Page::new(
                    vec![1u8, 2],
                    PageInfo::default(),
                    Some(PageToken::Number(2)),
                )),
                _ => Err(Error::new(ErrorKind::Transient, "page 2 failed").with_status(503)),
            }
        })
        .items()
        .collect()
        .await;
    assert_eq!(results.len(), 3);
    assert_eq!(results[2].as_ref().unwrap_err().status(), Some(503));
}

/// Malformed pagination metadata, generated in bulk: every one is a typed error, none panics.
#[test]
fn malformed_pagination_metadata_gives_typed_errors() {
    let values = [
        "-1",
        "1.5",
        "\"x\"",
        "\"-3\"",
        "[]",
        "{}",
        "true",
        "1e400",
        "\"\"",
        "18446744073709551616",
    ];
    let keys = [
        "current_Page",
        "pageSize",
        "total_Pages",
        "totalCount",
        "pageNumber",
    ];
    let mut failures = 0;
    for k in keys {
        for v in values {
            let raw = format!("{{\"{k}\": {v}}}");
            let e = PageInfo::from_json_header(&raw).unwrap_err();
            assert!(e.is_bad_response(), "{raw}");
            failures += 1;
        }
    }
    for raw in [
        "",
        "{",
        "[1,2]",
        "null",
        "\"{}\"",
        "{\"current_Page\":1,",
        "\u{feff}{}",
        "x: 1",
    ] {
        assert!(
            PageInfo::from_json_header(raw)
                .unwrap_err()
                .is_bad_response(),
            "{raw:?}"
        );
        failures += 1;
    }
    assert_eq!(failures, keys.len() * values.len() + 8);
    // Tolerant of what servers really send.
    let info = PageInfo::from_json_header(r#"{"current_Page":"3","total_Pages":null,"extra":[1]}"#)
        .unwrap();
    assert_eq!((info.page, info.total_pages), (Some(3), None));
}

#[tokio::test]
async fn authorized_requests_carry_query_json_form_and_headers_with_the_token() {
    let fake = Fake::start().await;
    let get = fake
        .server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/items")
                .query_param("page", "2")
                .query_param("q", "a b")
                .header("authorization", "Bearer access-login-1")
                .header("x-trace", "7");
            then.status(200).body(r#"{"items": [1, 2]}"#);
        })
        .await;
    let post_json = fake
        .server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/items")
                .header("authorization", "Bearer access-login-1")
                .header("content-type", "application/json")
                .json_body(json!({"name": "x"}));
            then.status(201).body(r#"{"id": 7}"#);
        })
        .await;
    let post_form = fake
        .server
        .mock_async(|when, then| {
            when.method(PUT)
                .path("/items/7")
                .header("authorization", "Bearer access-login-1")
                .header("content-type", "application/x-www-form-urlencoded")
                .body("name=y&tag=a+b");
            then.status(204);
        })
        .await;
    let session = fake.default_session();

    let v: serde_json::Value = session
        .request(Method::GET, fake.server.url("/items"))
        .query(&[("page", "2")])
        .query(&[("q", "a b")])
        .header(
            reqwest::header::HeaderName::from_static("x-trace"),
            reqwest::header::HeaderValue::from_static("7"),
        )
        .send_json()
        .await
        .unwrap();
    assert_eq!(v, json!({"items": [1, 2]}));

    #[derive(Deserialize)]
    struct Created {
        id: u64,
    }
    let created: Created = session
        .request(Method::POST, fake.server.url("/items"))
        .json(&json!({"name": "x"}))
        .send_json()
        .await
        .unwrap();
    assert_eq!(created.id, 7);

    let resp = session
        .request(Method::PUT, fake.server.url("/items/7"))
        .form(&[("name", "y"), ("tag", "a b")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);

    assert_eq!(get.calls_async().await, 1);
    assert_eq!(post_json.calls_async().await, 1);
    assert_eq!(post_form.calls_async().await, 1);
    assert_eq!(fake.sign_ins(), 1);
    assert_eq!(session.stats().requests, 3);
}

#[tokio::test]
async fn an_authorized_request_is_retried_once_after_a_401() {
    let fake = Fake::start().await;
    let refresh = fake.refresh_ok().await;
    let rejected = fake
        .server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/items")
                .header("authorization", "Bearer access-login-1");
            then.status(401).body("token revoked");
        })
        .await;
    let accepted = fake
        .server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/items")
                .header("authorization", "Bearer access-refresh-1")
                .query_param("dry", "true")
                .json_body(json!({"name": "x"}));
            then.status(200).body(r#"{"ok": true}"#);
        })
        .await;
    let session = fake.default_session();
    let v: serde_json::Value = session
        .request(Method::POST, fake.server.url("/items"))
        .query(&[("dry", "true")])
        .json(&json!({"name": "x"}))
        .send_json()
        .await
        .unwrap();
    assert_eq!(v, json!({"ok": true}));
    assert_eq!(rejected.calls_async().await, 1);
    assert_eq!(accepted.calls_async().await, 1, "exactly one retry");
    assert_eq!(refresh.calls_async().await, 1, "exactly one renewal");
    let stats = session.stats();
    assert_eq!(
        (stats.unauthorized, stats.recovered_401, stats.requests),
        (1, 1, 2)
    );
}

#[tokio::test]
async fn an_authorized_request_scrubs_its_own_secrets_and_never_prints_them() {
    let fake = Fake::start().await;
    fake.server
        .mock_async(|when, then| {
            when.path("/unlock");
            then.status(400)
                .body(format!("password {PASSWORD} is wrong for access-login-1"));
        })
        .await;
    let session = fake.default_session();
    let req = session
        .request(Method::POST, fake.server.url("/unlock"))
        .json(&json!({ "password": PASSWORD }))
        .scrub_secret(SecretString::from(PASSWORD));
    let shown = format!("{req:?}");
    assert!(!shown.contains(PASSWORD), "{shown}");
    insta::assert_snapshot!(shown, @"AuthorizedRequest { ready: true, extra_secrets: 1, .. }");
    let e = req.send().await.unwrap_err();
    let shown = format!("{e} {e:?}");
    assert!(
        !shown.contains(PASSWORD) && !shown.contains("access-login-1"),
        "{shown}"
    );
    insta::assert_snapshot!(e.to_string(), @"vendor rejected the request (HTTP 400): password [REDACTED] is wrong for [REDACTED]");
}

// ---- session edge cases found in review -------------------------------------------------

/// A provider whose first sign-in panics (a vendor-crate bug); later sign-ins succeed.
#[derive(Debug, Default)]
struct PanicsOnce {
    calls: AtomicU64,
}

#[async_trait]
impl TokenProvider for PanicsOnce {
    async fn sign_in(&self) -> Result<TokenSet, Error> {
        if self.calls.fetch_add(1, Ordering::SeqCst) == 0 {
            panic!("provider bug on the first sign-in");
        }
        Ok(TokenSet::new(
            AccessToken::new("after-panic"),
            Expiry::never(),
        ))
    }
}

#[tokio::test]
async fn a_renewal_that_panics_is_an_error_once_and_not_cached() {
    let session = Session::new(PanicsOnce::default(), Http::new().unwrap());
    let e = session.token().await.unwrap_err();
    assert!(e.is_transient(), "{e:?}");
    // The next call tries again instead of getting the dead flight's error forever.
    let lease = session.token().await.unwrap();
    assert_eq!(lease.tokens().access_token().expose(), "after-panic");
    assert_eq!(session.stats().sign_ins, 2);
    assert_eq!(session.stats().renewal_failures, 1);
}

#[tokio::test]
async fn a_background_renewal_that_panics_does_not_wedge_the_session() {
    #[derive(Debug)]
    struct Skewed {
        calls: AtomicU64,
        clock: ManualClock,
    }
    #[async_trait]
    impl TokenProvider for Skewed {
        async fn sign_in(&self) -> Result<TokenSet, Error> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            if n == 1 {
                panic!("provider bug on the second sign-in");
            }
            Ok(TokenSet::new(
                AccessToken::new(format!("t{n}")),
                Expiry::lifetime_from(
                    Duration::from_secs(3600),
                    auth_core::Clock::now(&self.clock),
                ),
            ))
        }
    }
    let clock = ManualClock::new();
    let session = Session::new(
        Skewed {
            calls: AtomicU64::new(0),
            clock: clock.clone(),
        },
        Http::new().unwrap().with_clock(clock.clone()),
    );
    let first = session.token().await.unwrap();
    // Inside the advisory window: the valid token is served and a background renewal panics.
    clock.set(first.advisory_at().unwrap());
    assert_eq!(
        session
            .token()
            .await
            .unwrap()
            .tokens()
            .access_token()
            .expose(),
        "t0"
    );
    assert!(session.settle().await.unwrap().unwrap_err().is_transient());
    // Expired now: the next call must renew, not be handed the panicked flight's error.
    clock.set(first.tokens().expiry().expires_at().unwrap());
    let lease = session.token().await.unwrap();
    assert_eq!(lease.tokens().access_token().expose(), "t2");
}

#[tokio::test]
async fn a_token_installed_during_a_failing_renewal_is_served_to_its_waiters() {
    let fake = Fake::start().await;
    let refresh = fake
        .server
        .mock_async(|when, then| {
            when.method(POST).path("/refresh");
            then.status(503)
                .delay(Duration::from_millis(300))
                .body("maintenance");
        })
        .await;
    let session = fake.default_session();
    session.token().await.unwrap();
    fake.clock.advance(Duration::from_secs(3601));
    let waiter = tokio::spawn({
        let s = session.clone();
        async move {
            s.token()
                .await
                .map(|l| l.tokens().access_token().expose().to_owned())
        }
    });
    while refresh.calls_async().await == 0 {
        tokio::task::yield_now().await;
    }
    session.replace(TokenSet::new(
        AccessToken::new("switched-company"),
        Expiry::from_expires_in(3600, fake.clock_now()),
    ));
    // The refresh of the old token failed, but a valid token was installed meanwhile.
    assert_eq!(waiter.await.unwrap().unwrap(), "switched-company");
    assert_eq!(refresh.calls_async().await, 1);
    assert_eq!(fake.sign_ins(), 1);
}

#[tokio::test]
async fn a_renewal_never_installs_the_replaced_identitys_token() {
    // A company switch installs a token set with its own refresh token while a refresh of
    // the old one is in flight; the new token is then rejected (401) before the old refresh
    // returns. The session must renew the *new* identity, not install the old one's token.
    let fake = Fake::start().await;
    let refresh = fake
        .server
        .mock_async(|when, then| {
            when.method(POST).path("/refresh");
            then.respond_with(|req: &HttpMockRequest| {
                let body: serde_json::Value =
                    serde_json::from_slice(req.body().as_ref()).unwrap_or_default();
                let rt = body["refresh_token"].as_str().unwrap_or("").to_owned();
                if rt == "refresh-login-1" {
                    std::thread::sleep(Duration::from_millis(300));
                }
                token_answer(&format!("from-{rt}"), &format!("next-{rt}"))
            });
        })
        .await;
    let session = fake.default_session();
    session.token().await.unwrap();
    fake.clock.advance(Duration::from_secs(3601));
    let waiter = tokio::spawn({
        let s = session.clone();
        async move {
            s.token()
                .await
                .map(|l| l.tokens().access_token().expose().to_owned())
        }
    });
    while refresh.calls_async().await == 0 {
        tokio::task::yield_now().await;
    }
    let switched = session.replace(
        TokenSet::new(
            AccessToken::new("switched-company"),
            Expiry::from_expires_in(3600, fake.clock_now()),
        )
        .with_refresh_token(Some(RefreshToken::new("switched-refresh"))),
    );
    session.invalidate(switched.generation());
    assert_eq!(
        waiter.await.unwrap().unwrap(),
        "from-switched-refresh",
        "the old identity's refresh answer must not be installed over the switch"
    );
    assert_eq!(
        session
            .token()
            .await
            .unwrap()
            .tokens()
            .access_token()
            .expose(),
        "from-switched-refresh"
    );
    assert_eq!(refresh.calls_async().await, 2);
    assert_eq!(session.stats().refreshes, 2);
    assert_eq!(fake.sign_ins(), 1);
}

#[test]
fn a_session_outside_a_tokio_runtime_errors_instead_of_panicking() {
    let session = Session::new(PanicsOnce::default(), Http::new().unwrap());
    let e = futures::FutureExt::now_or_never(session.token())
        .expect("no runtime: answered at once")
        .unwrap_err();
    assert!(e.is_config(), "{e:?}");
    assert_eq!(session.stats().sign_ins, 0);
}

#[test]
fn outside_a_runtime_a_valid_token_is_still_served_in_its_mandatory_window() {
    let clock = ManualClock::new();
    let session = Session::new(
        PanicsOnce::default(),
        Http::new().unwrap().with_clock(clock.clone()),
    );
    let now = auth_core::Clock::now(&clock);
    let lease = session.replace(TokenSet::new(
        AccessToken::new("handed-over"),
        Expiry::from_expires_in(3600, now),
    ));
    let token = || futures::FutureExt::now_or_never(session.token()).expect("answered at once");
    clock.set(lease.mandatory_at().unwrap());
    assert_eq!(token().unwrap().generation(), lease.generation());
    clock.set(lease.tokens().expiry().expires_at().unwrap());
    assert!(token().unwrap_err().is_config());
}

#[tokio::test]
async fn a_renewal_in_flight_at_sign_out_does_not_sign_the_session_back_in() {
    let started = Arc::new(tokio::sync::Notify::new());
    let release = Arc::new(tokio::sync::Semaphore::new(0));
    let calls = Arc::new(AtomicU64::new(0));
    let session = Session::new(
        Gated {
            started: started.clone(),
            release: release.clone(),
            calls: calls.clone(),
        },
        Http::new().unwrap(),
    );
    let before = tokio::spawn({
        let s = session.clone();
        async move { s.token().await.map(|_| ()) }
    });
    started.notified().await;
    session.clear();
    release.add_permits(1);
    // Whoever was waiting before the sign-out gets its answer ...
    before.await.unwrap().unwrap();
    // ... but the signed-out session stays signed out.
    assert!(session.current().is_none(), "{:?}", session.current());
    // The next call signs in afresh.
    release.add_permits(1);
    session.token().await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(session.stats().sign_ins, 2);
}

#[derive(Debug, Default)]
struct Counting {
    calls: AtomicU64,
}

#[async_trait]
impl TokenProvider for Counting {
    async fn sign_in(&self) -> Result<TokenSet, Error> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        Ok(TokenSet::new(
            AccessToken::new(format!("t{n}")),
            Expiry::never(),
        ))
    }
}

#[test]
fn a_renewal_whose_runtime_shut_down_before_it_ran_is_not_cached() {
    let session = Session::new(Counting::default(), Http::new().unwrap());
    // A renewal is started on a runtime that shuts down before the task ever runs (a
    // session kept across two `#[tokio::test]` runtimes, or one built at shutdown).
    let first = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    first.block_on(async {
        assert!(futures::FutureExt::now_or_never(session.token()).is_none());
    });
    drop(first);
    let second = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    second.block_on(async {
        // At most the caller that meets the dead renewal sees its error; then it is gone.
        let lease = match session.token().await {
            Ok(lease) => lease,
            Err(e) => {
                assert!(e.is_transient(), "{e:?}");
                session.token().await.unwrap()
            }
        };
        assert_eq!(lease.tokens().access_token().expose(), "t1");
        assert_eq!(
            session.token().await.unwrap().generation(),
            lease.generation()
        );
    });
}
