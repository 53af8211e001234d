//! Faults of the token endpoint over real HTTP (httpmock): transient failures retried inside
//! the one renewal with a jittered backoff on the manual clock, vendor rejections answered at
//! once, the token request's own timeout, and callers bounding their own wait. Every test
//! counts the exact token requests the server saw.

// Test helpers outside #[test] functions unwrap too: a failed setup is a failed test.
#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use auth_core::{
    AccessToken, Clock as _, Error, ErrorKind, Expiry, ManualClock, RefreshToken, Session,
    TokenSet,
    http::Http,
    provider::{Backoff, RetryPolicy, TokenProvider},
};
use futures::future::join_all;
use httpmock::prelude::*;
use httpmock::{HttpMockRequest, HttpMockResponse};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;

const PASSWORD: &str = "correct-horse-battery-staple";

/// Signs in at `POST /token` and refreshes at `POST /refresh`.
#[derive(Debug)]
struct Provider {
    http: Http,
    base: String,
    password: SecretString,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    refresh_token: Option<String>,
    expires_in: u64,
}

impl Provider {
    async fn post(
        &self,
        path: &str,
        body: serde_json::Value,
        secret: &SecretString,
    ) -> Result<TokenSet, Error> {
        let req = self
            .http
            .request(Method::POST, format!("{}{path}", self.base))
            .json(&body);
        let a: TokenAnswer = self.http.send_json(req, &[secret]).await?;
        Ok(TokenSet::new(
            AccessToken::new(a.access_token),
            Expiry::from_expires_in(a.expires_in, self.http.now()),
        )
        .with_refresh_token(a.refresh_token.map(RefreshToken::new)))
    }
}

#[async_trait]
impl TokenProvider for Provider {
    async fn sign_in(&self) -> Result<TokenSet, Error> {
        let body = json!({"password": self.password.expose_secret()});
        self.post("/token", body, &self.password).await
    }

    async fn refresh(&self, current: &TokenSet) -> Result<TokenSet, Error> {
        let rt = current
            .refresh_token()
            .ok_or_else(|| Error::new(ErrorKind::Config, "no refresh token"))?;
        let body = json!({"refresh_token": rt.expose()});
        self.post("/refresh", body, rt.as_secret()).await
    }
}

/// A vendor whose token endpoints each test scripts itself.
struct Vendor {
    server: MockServer,
    clock: ManualClock,
    http: Http,
}

impl Vendor {
    async fn start() -> Vendor {
        let clock = ManualClock::new();
        Vendor {
            server: MockServer::start_async().await,
            http: Http::new().unwrap().with_clock(clock.clone()),
            clock,
        }
    }

    /// Serve `POST path` with `answer(n)` for its `n`-th request (from 1).
    async fn script(
        &self,
        path: &'static str,
        answer: impl Fn(u64) -> HttpMockResponse + Send + Sync + 'static,
    ) -> httpmock::Mock<'_> {
        let seen = AtomicU64::new(0);
        self.server
            .mock_async(move |when, then| {
                when.method(POST).path(path);
                then.respond_with(move |_req: &HttpMockRequest| {
                    answer(seen.fetch_add(1, Ordering::SeqCst) + 1)
                });
            })
            .await
    }

    fn session(&self) -> Session {
        Session::new(
            Provider {
                http: self.http.clone(),
                base: self.server.base_url(),
                password: SecretString::from(PASSWORD),
            },
            self.http.clone(),
        )
    }

    fn now(&self) -> SystemTime {
        self.clock.now()
    }

    /// How far the manual clock moved since `start` (the backoff, where nothing else moves it).
    fn moved_since(&self, start: SystemTime) -> Duration {
        self.now().duration_since(start).unwrap()
    }
}

fn token(n: u64) -> HttpMockResponse {
    HttpMockResponse::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(
            json!({"access_token": format!("access-{n}"), "refresh_token": format!("refresh-{n}"), "expires_in": 3600})
                .to_string(),
        )
        .build()
}

fn status(code: u16) -> HttpMockResponse {
    HttpMockResponse::builder()
        .status(code)
        .body("maintenance")
        .build()
}

async fn access(session: &Session) -> Result<String, Error> {
    session
        .token()
        .await
        .map(|l| l.tokens().access_token().expose().to_owned())
}

/// The default policy's backoff for two retries: `[100, 200] + [200, 400]` ms.
const TWO_RETRIES_AT_LEAST: Duration = Duration::from_millis(100 + 200);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_503s_then_a_token_are_retried_inside_one_renewal_for_every_waiter() {
    let vendor = Vendor::start().await;
    let endpoint = vendor
        .script("/token", |n| if n <= 2 { status(503) } else { token(n) })
        .await;
    let session = vendor.session();
    let start = vendor.now();

    let waiters: Vec<_> = (0..50)
        .map(|_| {
            let s = session.clone();
            tokio::spawn(async move { s.token().await.map(|l| (l.generation(), access_of(&l))) })
        })
        .collect();
    let mut generations = Vec::new();
    for w in waiters {
        let (generation, access) = w.await.unwrap().unwrap();
        assert_eq!(access, "access-3");
        generations.push(generation);
    }
    generations.dedup();
    assert_eq!(generations.len(), 1, "one renewal served all 50 waiters");

    assert_eq!(endpoint.calls_async().await, 3, "two 503s and the answer");
    let stats = session.stats();
    assert_eq!(
        (
            stats.sign_ins,
            stats.renewal_retries,
            stats.renewal_failures
        ),
        (1, 2, 0)
    );
    let waited = vendor.moved_since(start);
    assert!(
        waited >= TWO_RETRIES_AT_LEAST && waited <= RetryPolicy::default().worst_case_backoff(),
        "the backoff shows on the manual clock: {waited:?}"
    );
}

fn access_of(lease: &auth_core::Lease) -> String {
    lease.tokens().access_token().expose().to_owned()
}

#[tokio::test]
async fn a_token_endpoint_failing_for_good_costs_three_requests_per_renewal_and_is_not_cached() {
    let vendor = Vendor::start().await;
    let sign_in = vendor.script("/token", token).await;
    let refresh = vendor.script("/refresh", |_| status(503)).await;
    let session = vendor.session();
    assert_eq!(access(&session).await.unwrap(), "access-1");
    vendor.clock.advance(Duration::from_secs(3601));

    // On a current-thread runtime every waiter joins before the renewal task first runs.
    let answers = join_all((0..20).map(|_| access(&session))).await;
    for e in answers.iter().map(|a| a.as_ref().unwrap_err()) {
        assert!(e.is_transient(), "{e:?}");
        assert_eq!(e.status(), Some(503));
    }
    assert_eq!(refresh.calls_async().await, 3);
    // A transient refresh failure is no rejected refresh token: no sign-in.
    assert_eq!(sign_in.calls_async().await, 1);
    let stats = session.stats();
    assert_eq!(
        (
            stats.refreshes,
            stats.renewal_retries,
            stats.renewal_failures
        ),
        (1, 2, 1)
    );

    // The failure is not cached: the next caller starts a renewal of its own.
    assert!(access(&session).await.unwrap_err().is_transient());
    assert_eq!(refresh.calls_async().await, 6);
    assert_eq!(sign_in.calls_async().await, 1);
    let stats = session.stats();
    assert_eq!(
        (
            stats.refreshes,
            stats.renewal_retries,
            stats.renewal_failures
        ),
        (2, 4, 2)
    );
}

#[tokio::test]
async fn a_vendor_rejection_from_the_token_endpoint_is_answered_without_a_retry() {
    let cases = [
        (400, ErrorKind::Rejected),
        (401, ErrorKind::Unauthorized),
        (403, ErrorKind::Rejected),
        (429, ErrorKind::RateLimited),
    ];
    for (code, kind) in cases {
        let vendor = Vendor::start().await;
        let endpoint = vendor
            .script("/token", move |_| {
                HttpMockResponse::builder()
                    .status(code)
                    .header("retry-after", "30")
                    .body("no")
                    .build()
            })
            .await;
        let session = vendor.session();
        let start = vendor.now();
        let e = access(&session).await.unwrap_err();
        assert_eq!(e.kind(), kind, "HTTP {code}: {e:?}");
        assert_eq!(endpoint.calls_async().await, 1, "HTTP {code}");
        assert_eq!(session.stats().renewal_retries, 0, "HTTP {code}");
        assert_eq!(vendor.moved_since(start), Duration::ZERO, "HTTP {code}");
        if code == 429 {
            // The vendor said when: that is the caller's to honour, not an in-line retry's.
            assert_eq!(e.retry_after(), Some(Duration::from_secs(30)));
        }
    }
}

#[tokio::test]
async fn a_stalled_token_endpoint_times_out_after_the_token_timeout() {
    let vendor = Vendor::start().await;
    let endpoint = vendor
        .server
        .mock_async(|when, then| {
            when.method(POST).path("/token");
            then.status(200)
                .delay(Duration::from_secs(5))
                .header("content-type", "application/json")
                .body(json!({"access_token": "late", "expires_in": 3600}).to_string());
        })
        .await;
    let timeout = Duration::from_millis(200);

    let once = vendor
        .session()
        .with_token_timeout(timeout)
        .with_renewal_retries(RetryPolicy::none());
    let started = Instant::now();
    let e = access(&once).await.unwrap_err();
    let took = started.elapsed();
    assert!(e.is_transient(), "{e:?}");
    assert_eq!(e.to_string(), "token request timed out after 200ms");
    // Our bound, not the stall's end (5 s) nor reqwest's request timeout (30 s).
    assert!(took >= timeout && took < Duration::from_secs(3), "{took:?}");
    assert_eq!(endpoint.calls_async().await, 1);

    // With the default retries a timeout is retried like any transient failure.
    let retried = vendor.session().with_token_timeout(timeout);
    let e = access(&retried).await.unwrap_err();
    assert_eq!(e.to_string(), "token request timed out after 200ms");
    assert_eq!(endpoint.calls_async().await, 1 + 3);
    assert_eq!(retried.stats().renewal_retries, 2);
}

#[tokio::test]
async fn a_caller_that_bounds_its_wait_gives_up_without_cancelling_the_renewal() {
    let vendor = Vendor::start().await;
    let endpoint = vendor
        .script("/token", |n| {
            std::thread::sleep(Duration::from_millis(400));
            token(n)
        })
        .await;

    // One call bounded: the hurried caller starts the renewal and gives up; the patient one
    // gets the token from that same renewal.
    let session = vendor.session();
    let (hurried, patient) = tokio::join!(
        session.token_within(Duration::from_millis(50)),
        access(&session)
    );
    let e = hurried.unwrap_err();
    assert!(e.is_transient(), "{e:?}");
    assert_eq!(
        e.to_string(),
        "waiting for the token renewal timed out after 50ms"
    );
    assert_eq!(patient.unwrap(), "access-1");
    assert_eq!(endpoint.calls_async().await, 1);

    // Every caller bounded: all give up, the renewal still installs its token.
    let bounded = vendor.session().with_max_wait(Duration::from_millis(50));
    let answers = join_all((0..5).map(|_| access(&bounded))).await;
    assert!(
        answers
            .iter()
            .all(|a| a.as_ref().is_err_and(Error::is_transient))
    );
    assert_eq!(bounded.settle().await.map(|r| r.is_ok()), Some(true));
    assert_eq!(access(&bounded).await.unwrap(), "access-2");
    assert_eq!(endpoint.calls_async().await, 2, "one renewal per session");
    assert_eq!(bounded.stats().sign_ins, 1);
}

#[tokio::test]
async fn a_background_renewal_that_fails_transiently_serves_the_valid_token_without_retrying() {
    let vendor = Vendor::start().await;
    let sign_in = vendor.script("/token", token).await;
    let refresh = vendor.script("/refresh", |_| status(503)).await;
    let session = vendor.session();
    assert_eq!(access(&session).await.unwrap(), "access-1");
    // Inside the advisory window of the 1 h token, still valid.
    let first = session.current().unwrap();
    vendor.clock.set(first.advisory_at().unwrap());
    let inside = vendor.now();

    let backoff = Backoff::default();
    for round in 1..=3 {
        let answers = join_all((0..50).map(|_| access(&session))).await;
        assert!(
            answers
                .iter()
                .all(|a| a.as_deref().ok() == Some("access-1"))
        );
        // Waited for by callers if the backoff reached into the mandatory window.
        if let Some(outcome) = session.settle().await {
            assert!(outcome.unwrap_err().is_transient());
        }
        assert_eq!(
            refresh.calls_async().await,
            round,
            "one request per renewal"
        );
        // Within the backoff nobody tries again.
        join_all((0..50).map(|_| access(&session))).await;
        assert_eq!(refresh.calls_async().await, round, "backing off");
        if round < 3 {
            vendor
                .clock
                .advance(backoff.ceiling(round.try_into().unwrap()));
        }
    }
    let stats = session.stats();
    assert_eq!((stats.renewal_retries, stats.renewal_failures), (0, 3));
    assert_eq!(
        vendor.moved_since(inside),
        backoff.ceiling(1) + backoff.ceiling(2),
        "no backoff slept: the clock moved only as the test moved it"
    );
    assert_eq!(sign_in.calls_async().await, 1);
}

#[tokio::test]
async fn a_refused_connection_to_the_token_endpoint_is_retried_like_a_5xx() {
    // A port nothing listens on: bind one, then close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let clock = ManualClock::new();
    let http = Http::new().unwrap().with_clock(clock.clone());
    let session = Session::new(
        Provider {
            http: http.clone(),
            base: format!("http://127.0.0.1:{port}"),
            password: SecretString::from(PASSWORD),
        },
        http,
    );
    let e = access(&session).await.unwrap_err();
    assert!(e.is_transient(), "{e:?}");
    let stats = session.stats();
    assert_eq!((stats.sign_ins, stats.renewal_retries), (1, 2));
}

#[tokio::test]
async fn the_same_jitter_seed_gives_the_same_backoff() {
    async fn backoff(seed: u64) -> Duration {
        let vendor = Vendor::start().await;
        let endpoint = vendor
            .script("/token", |n| if n <= 2 { status(502) } else { token(n) })
            .await;
        let session = vendor.session().with_jitter_seed(seed);
        let start = vendor.now();
        access(&session).await.unwrap();
        assert_eq!(endpoint.calls_async().await, 3);
        vendor.moved_since(start)
    }
    let first = backoff(7).await;
    assert_eq!(backoff(7).await, first);
    assert!(first >= TWO_RETRIES_AT_LEAST && first <= RetryPolicy::default().worst_case_backoff());
}
