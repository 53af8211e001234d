//! A vendor client's session as a layer of the service's own `reqwest_middleware` stack,
//! beside `reqwest-retry` (exponential backoff, 1-2 ms between attempts), against the IQM
//! sandbox: IQM's scheme (Bearer plus `X-IAA-OW-ID`) on every attempt, exactly one 401
//! retry, one renewal shared with the client, and no replay of a token the session already
//! knows is stale when the retry layer is outside the auth layer (the recommended order);
//! with the layers the other way round the replay carries the old header and costs a 401.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::Extensions;
use iqm::sandbox::{Fault, ManualClock, Sandbox, Tokens};
use reqwest::{Request, Response, StatusCode};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware, Middleware, Next};
use reqwest_retry::RetryTransientMiddleware;
use reqwest_retry::policies::ExponentialBackoff;

const LIFETIME: Duration = Duration::from_secs(3600);
/// A route of the sandbox's generic authorized API (it checks the workspace header too).
const PATH: &str = "/api/v3/campaigns";

struct Setup {
    sandbox: Arc<Sandbox>,
    clock: ManualClock,
    client: iqm::Client,
}

async fn setup() -> Setup {
    let clock = ManualClock::new();
    let sandbox = Sandbox::builder()
        .clock(clock.clone())
        .token_lifetime(LIFETIME)
        .start()
        .await;
    let client = sandbox.client_builder().build().unwrap();
    let sandbox = Arc::new(sandbox);
    Setup {
        sandbox,
        clock,
        client,
    }
}

fn retry() -> RetryTransientMiddleware<ExponentialBackoff> {
    let policy = ExponentialBackoff::builder()
        .retry_bounds(Duration::from_millis(1), Duration::from_millis(2))
        .build_with_max_retries(2);
    RetryTransientMiddleware::new_with_policy(policy)
}

/// Runs `action` once, when the first 503 comes back through it: the moment between the
/// retry layer's attempts.
#[derive(Clone)]
struct Between503(Arc<Mutex<Option<Action>>>);

type Action = Box<dyn FnOnce() + Send>;

impl Between503 {
    fn new(action: impl FnOnce() + Send + 'static) -> Self {
        Between503(Arc::new(Mutex::new(Some(Box::new(action)))))
    }
}

#[async_trait::async_trait]
impl Middleware for Between503 {
    async fn handle(
        &self,
        req: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let answer = next.run(req, extensions).await?;
        if answer.status() == StatusCode::SERVICE_UNAVAILABLE {
            let action = self.0.lock().unwrap().take();
            if let Some(action) = action {
                action();
            }
        }
        Ok(answer)
    }
}

/// The recommended stack: retry outside, the session inside, then `hook` (if any) next to
/// the wire.
fn retry_then_auth(s: &Setup, hook: Option<Between503>) -> ClientWithMiddleware {
    let b = ClientBuilder::new(auth_core::http::default_client().unwrap())
        .with(retry())
        .with(s.client.middleware());
    match hook {
        Some(h) => b.with(h).build(),
        None => b.build(),
    }
}

/// The other order: the session outside, retry inside.
fn auth_then_retry(s: &Setup, hook: Between503) -> ClientWithMiddleware {
    ClientBuilder::new(auth_core::http::default_client().unwrap())
        .with(s.client.middleware())
        .with(retry())
        .with(hook)
        .build()
}

/// The access token each request that reached `PATH` carried, in order (the raw
/// `Authorization` value the recorder saw), with the scheme and the workspace header checked
/// on each.
fn attempts(s: &Setup) -> Vec<String> {
    s.sandbox
        .recorder()
        .all()
        .into_iter()
        .filter(|r| r.path_and_query == PATH)
        .map(|r| {
            let header = |name: &str| {
                r.headers
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_else(|| panic!("{name} missing on {r:?}"))
            };
            assert_eq!(header("x-iaa-ow-id"), Sandbox::OW_ID.to_string());
            header("authorization")
                .strip_prefix("Bearer ")
                .expect("bearer scheme")
                .to_owned()
        })
        .collect()
}

/// The stack's first call signs in through the client's session; a second call and the
/// client's own call reuse that token.
#[tokio::test]
async fn the_stack_and_the_client_share_one_session() {
    let s = setup().await;
    let stack = retry_then_auth(&s, None);
    let url = format!("{}{PATH}", s.sandbox.base_url());
    assert_eq!(stack.get(&url).send().await.unwrap().status(), 200);
    assert_eq!(stack.get(&url).send().await.unwrap().status(), 200);
    s.client.fetch_workspace_id().await.unwrap();
    let c = &s.sandbox;
    assert_eq!(
        (c.token_requests(), c.hits("api"), c.hits("ow_id")),
        (1, 2, 1)
    );
    let sent = attempts(&s);
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0], sent[1]);
    assert_eq!(s.client.session_stats().sign_ins, 1);
}

/// After expiry, 20 concurrent requests through the stack cause one refresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewal_through_the_stack_is_single_flight() {
    let s = setup().await;
    let stack = retry_then_auth(&s, None);
    let url = format!("{}{PATH}", s.sandbox.base_url());
    stack.get(&url).send().await.unwrap();
    s.clock.advance(LIFETIME + Duration::from_secs(1));
    let calls: Vec<_> = (0..20)
        .map(|_| tokio::spawn(stack.get(&url).send()))
        .collect();
    for c in calls {
        assert_eq!(c.await.unwrap().unwrap().status(), 200);
    }
    let c = &s.sandbox;
    assert_eq!((c.token_requests(), c.hits("api")), (2, 21));
    assert_eq!(s.client.session_stats().refreshes, 1);
}

/// One 401: the token is renewed once and the request sent once more, with the new token.
#[tokio::test]
async fn a_401_is_retried_once_with_a_renewed_token() {
    let s = setup().await;
    let stack = retry_then_auth(&s, None);
    s.sandbox.inject(Fault::unauthorized());
    let answer = stack
        .get(format!("{}{PATH}", s.sandbox.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let c = &s.sandbox;
    // Sign-in, then the renewal after the 401; two attempts.
    assert_eq!((c.token_requests(), c.hits("api")), (2, 2));
    let sent = attempts(&s);
    assert_ne!(sent[0], sent[1]);
    let stats = s.client.session_stats();
    assert_eq!((stats.unauthorized, stats.recovered_401), (1, 1));
}

/// Two 401s in a row: exactly two authorized attempts and one renewal, then the caller gets
/// the second 401 as it came.
#[tokio::test]
async fn a_second_401_goes_to_the_caller() {
    let s = setup().await;
    let stack = retry_then_auth(&s, None);
    s.sandbox.inject(Fault::unauthorized());
    s.sandbox.inject(Fault::unauthorized());
    let answer = stack
        .get(format!("{}{PATH}", s.sandbox.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
    let c = &s.sandbox;
    assert_eq!((c.token_requests(), c.hits("api")), (2, 2));
    let stats = s.client.session_stats();
    assert_eq!((stats.unauthorized, stats.recovered_401), (2, 0));
}

/// A streamed body cannot be sent twice: its 401 comes back as it is, with no renewal.
/// (The stack has no retry layer: reqwest-retry itself refuses a request it cannot clone.)
#[tokio::test]
async fn a_body_that_cannot_be_cloned_is_not_retried() {
    let s = setup().await;
    let stack = ClientBuilder::new(auth_core::http::default_client().unwrap())
        .with(s.client.middleware())
        .build();
    let url = format!("{}{PATH}", s.sandbox.base_url());
    stack.get(&url).send().await.unwrap();
    s.sandbox.inject(Fault::unauthorized());
    let chunks: Vec<Result<&'static str, std::io::Error>> = vec![Ok("{\"a\":"), Ok("1}")];
    let answer = stack
        .post(&url)
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
    let c = &s.sandbox;
    assert_eq!((c.token_requests(), c.hits("api")), (1, 2));
}

/// Retry outside, session inside: the token expires (on the clock and at the vendor)
/// between the retry layer's attempts; the replay gets a renewed token, never the old one.
#[tokio::test]
async fn a_replay_after_a_503_carries_the_current_token() {
    let s = setup().await;
    let url = format!("{}{PATH}", s.sandbox.base_url());
    let (clock, sandbox) = (s.clock.clone(), s.sandbox.clone());
    let expire = Between503::new(move || {
        clock.advance(LIFETIME + Duration::from_secs(1));
        sandbox.expire_tokens(Tokens::Access);
    });
    let stack = retry_then_auth(&s, Some(expire));
    s.sandbox.inject(Fault::server_error(503));
    let answer = stack.get(&url).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    let c = &s.sandbox;
    // Sign-in, the 503, the refresh, the replay: no request with the stale token.
    assert_eq!((c.token_requests(), c.hits("api")), (2, 2));
    let sent = attempts(&s);
    assert_ne!(sent[0], sent[1], "the replay carried the expired token");
    assert_eq!(s.client.session_stats().unauthorized, 0);
}

/// Session outside, retry inside (not recommended): the retry layer replays the request as
/// the session authorized it, so after the same expiry the replay carries the old token and
/// gets a 401; the session then renews and sends once more. One wasted request.
#[tokio::test]
async fn with_the_retry_layer_inside_the_replay_carries_the_old_token() {
    let s = setup().await;
    let url = format!("{}{PATH}", s.sandbox.base_url());
    let (clock, sandbox) = (s.clock.clone(), s.sandbox.clone());
    let expire = Between503::new(move || {
        clock.advance(LIFETIME + Duration::from_secs(1));
        sandbox.expire_tokens(Tokens::Access);
    });
    let stack = auth_then_retry(&s, expire);
    s.sandbox.inject(Fault::server_error(503));
    let answer = stack.get(&url).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    let c = &s.sandbox;
    assert_eq!((c.token_requests(), c.hits("api")), (2, 3));
    let sent = attempts(&s);
    assert_eq!(sent[0], sent[1], "the retry layer replays the same header");
    assert_ne!(sent[1], sent[2]);
    let stats = s.client.session_stats();
    assert_eq!((stats.unauthorized, stats.recovered_401), (1, 1));
}

/// The layer's Debug shows neither the token it puts on requests nor a credential.
#[tokio::test]
async fn the_middleware_debug_shows_no_secret() {
    let s = setup().await;
    let layer = s.client.middleware();
    let stack = ClientBuilder::new(auth_core::http::default_client().unwrap())
        .with(layer.clone())
        .build();
    stack
        .get(format!("{}{PATH}", s.sandbox.base_url()))
        .send()
        .await
        .unwrap();
    let token = attempts(&s).pop().unwrap();
    let shown = format!("{layer:?} {layer:#?}");
    assert!(shown.contains("AuthMiddleware"), "{shown}");
    for secret in [token.as_str(), Sandbox::CLIENT_SECRET, Sandbox::PASSWORD] {
        assert!(!shown.contains(secret), "Debug shows a secret: {shown}");
    }
}
