//! The declarative sandbox: a vendor supplies its route table and its error shape ([`Spec`]);
//! [`Kit`] owns the server, the token store, faults, hits, the recorder and the clock, and
//! dispatches each request to its route. Every vendor's sandbox therefore has the same
//! controls ([`Controls`]): `inject`, `inject_on`, `inject_token`, `expire_tokens`,
//! `token_requests`, `hits`, `recorder`, the token lifetime, and (on the [`Kit`])
//! `stall_next`, which holds one request while the others are served.

use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use httpmock::{HttpMockRequest, HttpMockResponse, MockServer};

use super::{Fault, Faults, Hits, IssuedToken, RecordedRequest, Recorder, TokenStore, lock, text};
use crate::ManualClock;
use crate::clock::SharedClock;
use crate::error::Error;

/// What a route is, for faults and counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RouteKind {
    /// A sign-in or refresh: counted by [`Controls::token_requests`], faulted by
    /// [`Controls::inject_token`].
    Token,
    /// A call that carries a token: faulted by [`Controls::inject`].
    Authorized,
    /// Anything else (sign-up, a public lookup): faulted only by [`Controls::inject_on`].
    Open,
}

/// One row of a vendor's route table: method, path pattern, name, kind and handler.
///
/// A pattern is an exact path (`/api/v3/ua/login`), may hold `{}` for one path segment
/// (`/v1/client/{}`), and may end in `*` for any rest (`/api/v3/*`). Routes match in table
/// order; the method `*` matches any method.
pub struct Route<S> {
    method: &'static str,
    path: &'static str,
    name: &'static str,
    kind: RouteKind,
    handler: Handler<S>,
}

/// A route's handler: the vendor's state, the kit's context, the request.
pub type Handler<S> = fn(&S, &Ctx, &HttpMockRequest) -> HttpMockResponse;

impl<S> Route<S> {
    /// A route of `kind`.
    pub const fn new(
        kind: RouteKind,
        method: &'static str,
        path: &'static str,
        name: &'static str,
        handler: Handler<S>,
    ) -> Self {
        Route {
            method,
            path,
            name,
            kind,
            handler,
        }
    }

    /// A sign-in or refresh route.
    pub const fn token(
        method: &'static str,
        path: &'static str,
        name: &'static str,
        handler: Handler<S>,
    ) -> Self {
        Self::new(RouteKind::Token, method, path, name, handler)
    }

    /// A route that takes a token.
    pub const fn authorized(
        method: &'static str,
        path: &'static str,
        name: &'static str,
        handler: Handler<S>,
    ) -> Self {
        Self::new(RouteKind::Authorized, method, path, name, handler)
    }

    /// A route that takes no token.
    pub const fn open(
        method: &'static str,
        path: &'static str,
        name: &'static str,
        handler: Handler<S>,
    ) -> Self {
        Self::new(RouteKind::Open, method, path, name, handler)
    }

    fn matches_path(&self, path: &str) -> bool {
        path_matches(self.path, path)
    }

    fn matches_method(&self, method: &str) -> bool {
        self.method == "*" || self.method.eq_ignore_ascii_case(method)
    }
}

impl<S> fmt::Debug for Route<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} ({}, {:?})",
            self.method, self.path, self.name, self.kind
        )
    }
}

fn path_matches(pattern: &str, path: &str) -> bool {
    let pattern: Vec<&str> = pattern.split('/').collect();
    let path: Vec<&str> = path.split('/').collect();
    let (fixed, rest) = match pattern.split_last() {
        Some((&"*", fixed)) => (fixed, true),
        _ => (&pattern[..], false),
    };
    let length_ok = if rest {
        path.len() > fixed.len()
    } else {
        path.len() == fixed.len()
    };
    length_ok
        && fixed
            .iter()
            .zip(&path)
            .all(|(p, q)| p == q || (*p == "{}" && !q.is_empty()))
}

/// A vendor's sandbox as the kit sees it: its route table, the state its handlers share,
/// and how it answers faults and unknown requests.
pub trait Spec: Send + Sync + Sized + 'static {
    /// The routes, matched in order.
    fn routes() -> Vec<Route<Self>>;

    /// An injected fault in the vendor's error shape. The default is the fault's message
    /// as plain text, with its status and Retry-After.
    fn fault(&self, fault: &Fault) -> HttpMockResponse {
        fault.respond(fault.message.clone())
    }

    /// The answer for a path no route knows (default: 404, plain text).
    fn not_found(&self, req: &HttpMockRequest) -> HttpMockResponse {
        let _ = req;
        text(404, "not found")
    }

    /// The answer for a known path with a method no route takes (default: 405).
    fn method_not_allowed(&self, req: &HttpMockRequest) -> HttpMockResponse {
        let _ = req;
        text(405, "method not allowed")
    }
}

/// What every sandbox is started with: the clock tokens are judged by and the lifetime of
/// the access tokens it issues.
#[derive(Debug, Clone)]
#[must_use]
pub struct Settings {
    /// The clock (share a `ManualClock` with the client to drive expiry without sleeping).
    pub clock: SharedClock,
    /// How long issued access tokens live.
    pub token_lifetime: Duration,
}

impl Settings {
    /// The system clock and `token_lifetime`.
    pub fn new(token_lifetime: Duration) -> Self {
        Settings {
            clock: SharedClock::default(),
            token_lifetime,
        }
    }
}

/// Which tokens [`Controls::expire_tokens`] expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Tokens {
    /// Every token issued so far.
    All,
    /// Access tokens (and sessions), not refresh tokens.
    Access,
    /// Refresh tokens only.
    Refresh,
}

const KIND: &str = "kind";
const REFRESH: &str = "refresh";

/// What a route handler gets from the kit: the token store, the clock, the token lifetime,
/// the recorder.
#[derive(Debug)]
pub struct Ctx {
    store: TokenStore,
    clock: SharedClock,
    lifetime: Mutex<Duration>,
    recorder: Recorder,
}

impl Ctx {
    /// The token store.
    pub fn store(&self) -> &TokenStore {
        &self.store
    }

    /// The clock.
    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// The access-token lifetime now in force.
    pub fn token_lifetime(&self) -> Duration {
        *lock(&self.lifetime)
    }

    /// The recorder.
    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    /// Issue an access token `"{prefix}-{serial}"` for `subject` with the current lifetime
    /// (redacted in the recorder).
    pub fn issue_access(&self, prefix: &str, subject: &str) -> String {
        let t = self
            .store
            .issue(prefix, subject, Some(self.token_lifetime()));
        self.recorder.redact(t.clone());
        t
    }

    /// Issue a refresh token `"{prefix}-{serial}"` for `subject`, valid until expired
    /// (redacted in the recorder).
    pub fn issue_refresh(&self, prefix: &str, subject: &str) -> String {
        let value = format!("{prefix}-{}", self.store.next_serial());
        self.insert_refresh(&value, subject);
        value
    }

    /// Record a refresh token value made elsewhere (a UUID).
    pub fn insert_refresh(&self, value: &str, subject: &str) {
        let data = [(KIND.to_owned(), REFRESH.to_owned())].into();
        self.store.insert(value, subject, None, data);
        self.recorder.redact(value.to_owned());
    }
}

/// The controls every sandbox has, whatever the vendor. A vendor's sandbox dereferences to
/// them (through its [`Kit`]).
pub struct Controls {
    ctx: Arc<Ctx>,
    server: MockServer,
    faults: Faults,
    token_faults: Faults,
    route_faults: Arc<Mutex<Vec<(String, Fault)>>>,
    hits: Hits,
    token_routes: Vec<&'static str>,
    stalls: Stalls,
    arrivals: Arrivals,
}

/// When each request reached its route, on the real clock.
type Arrivals = Arc<Mutex<Vec<(&'static str, std::time::Instant)>>>;

/// Requests to hold ([`Kit::stall_next`]). The server's one catch-all responder declines a
/// request whose route is armed here (claiming it), and the stall's own mock, which waits
/// before it answers, takes the claimed request: both decisions are made while the mock
/// server matches that one request, so no other request can take the claim.
#[derive(Clone, Default)]
struct Stalls(Arc<Mutex<StallState>>);

#[derive(Default)]
struct StallState {
    next_id: u64,
    /// Route names armed, each with the id of the mock that will hold it.
    armed: Vec<(String, u64)>,
    /// The mock that is to take the request being matched now.
    claimed: Option<u64>,
    /// The requests held so far, as they arrived.
    held: Vec<RecordedRequest>,
}

impl Stalls {
    /// Claim `req` for a stall if its route is armed (called by the catch-all's matcher).
    fn claim(
        &self,
        route: Option<&'static str>,
        req: &HttpMockRequest,
        recorder: &Recorder,
    ) -> bool {
        let Some(route) = route else {
            return false;
        };
        let mut state = lock(&self.0);
        let Some(at) = state.armed.iter().position(|(r, _)| r == route) else {
            return false;
        };
        let (_, id) = state.armed.remove(at);
        state.claimed = Some(id);
        state.held.push(recorder.snapshot(req));
        true
    }

    /// Whether the request being matched was claimed for mock `id` (its matcher).
    fn take(&self, id: u64) -> bool {
        let mut state = lock(&self.0);
        if state.claimed == Some(id) {
            state.claimed = None;
            true
        } else {
            false
        }
    }
}

impl fmt::Debug for Controls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Controls")
            .field("base_url", &self.server.base_url())
            .field("token_lifetime", &self.ctx.token_lifetime())
            .field("hits", &self.hits.all())
            .finish_non_exhaustive()
    }
}

impl Controls {
    /// The base URL (`http://127.0.0.1:<port>`).
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// The clock tokens are judged by.
    pub fn clock(&self) -> SharedClock {
        self.ctx.clock.clone()
    }

    /// Serve `fault` on the next authorized call, whatever its route.
    pub fn inject(&self, fault: Fault) {
        self.faults.push(fault);
    }

    /// Serve `fault` on the next call to route `route` (a route name from the vendor's
    /// table, such as `login`), whatever its kind.
    pub fn inject_on(&self, route: &str, fault: Fault) {
        lock(&self.route_faults).push((route.to_owned(), fault));
    }

    /// Serve `fault` on the next token request (sign-in or refresh).
    pub fn inject_token(&self, fault: Fault) {
        self.token_faults.push(fault);
    }

    /// Drop every fault still queued.
    pub fn clear_faults(&self) {
        self.faults.clear();
        self.token_faults.clear();
        lock(&self.route_faults).clear();
    }

    /// Expire tokens issued so far: the next call with one is refused as the vendor refuses
    /// an expired token.
    pub fn expire_tokens(&self, which: Tokens) {
        let is_refresh = |t: &IssuedToken| t.data.get(KIND).map(String::as_str) == Some(REFRESH);
        match which {
            Tokens::All => self.ctx.store.expire_all(),
            Tokens::Access => self.ctx.store.expire_matching(|t| !is_refresh(t)),
            Tokens::Refresh => self.ctx.store.expire_matching(is_refresh),
        }
    }

    /// Token requests served (answered or refused): the hits of every token route.
    pub fn token_requests(&self) -> u64 {
        self.token_routes.iter().map(|r| self.hits.get(r)).sum()
    }

    /// Requests served on route `route` (a name from the vendor's table).
    pub fn hits(&self, route: &str) -> u64 {
        self.hits.get(route)
    }

    /// The request recorder (credentials and issued tokens redacted in its renderings).
    pub fn recorder(&self) -> &Recorder {
        &self.ctx.recorder
    }

    /// The lifetime of access tokens issued from now on.
    pub fn token_lifetime(&self) -> Duration {
        self.ctx.token_lifetime()
    }

    /// Issue access tokens with `lifetime` from now on (0 is raised to 1 s).
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        *lock(&self.ctx.lifetime) = lifetime.max(Duration::from_secs(1));
    }

    /// The requests [`Kit::stall_next`] held so far, recorded as they arrived (the
    /// answer comes later): a test reads who sent one while it is held.
    pub fn stalled(&self) -> Vec<RecordedRequest> {
        lock(&self.stalls.0).held.clone()
    }

    /// Every request that reached a route so far (a route of the table, not a 404 or 405),
    /// with the route's name and when it arrived on the real clock (`std::time::Instant`,
    /// whatever clock the tokens are judged by; a request held by [`Kit::stall_next`] when
    /// its delay ends): for a test that counts requests in rolling windows, such as a rate
    /// limit's.
    pub fn arrivals(&self) -> Vec<(&'static str, std::time::Instant)> {
        lock(&self.arrivals).clone()
    }
}

/// A running sandbox of vendor `S`: the controls plus the vendor's state.
pub struct Kit<S: Spec> {
    controls: Controls,
    state: Arc<S>,
    dispatch: Arc<Dispatch<S>>,
}

impl<S: Spec> fmt::Debug for Kit<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.controls.fmt(f)
    }
}

impl<S: Spec> Deref for Kit<S> {
    type Target = Controls;
    fn deref(&self) -> &Controls {
        &self.controls
    }
}

impl<S: Spec> Kit<S> {
    /// Start a server for `state` with `settings`; `secrets` (the credentials it accepts)
    /// are redacted in the recorder.
    pub async fn start(state: S, settings: Settings, secrets: &[&str]) -> Self {
        let recorder = Recorder::default();
        for s in secrets {
            recorder.redact(*s);
        }
        let ctx = Arc::new(Ctx {
            store: TokenStore::new(settings.clock.clone()),
            clock: settings.clock,
            lifetime: Mutex::new(settings.token_lifetime.max(Duration::from_secs(1))),
            recorder,
        });
        let routes = Arc::new(S::routes());
        let state = Arc::new(state);
        let server = MockServer::start_async().await;
        let controls = Controls {
            ctx,
            server,
            faults: Faults::default(),
            token_faults: Faults::default(),
            route_faults: Arc::default(),
            hits: Hits::default(),
            token_routes: routes
                .iter()
                .filter(|r| r.kind == RouteKind::Token)
                .map(|r| r.name)
                .collect(),
            stalls: Stalls::default(),
            arrivals: Arrivals::default(),
        };
        let dispatch = Arc::new(Dispatch {
            routes,
            state: state.clone(),
            ctx: controls.ctx.clone(),
            faults: controls.faults.clone(),
            token_faults: controls.token_faults.clone(),
            route_faults: controls.route_faults.clone(),
            hits: controls.hits.clone(),
            arrivals: controls.arrivals.clone(),
        });
        let (serve, claim) = (dispatch.clone(), dispatch.clone());
        let stalls = controls.stalls.clone();
        controls
            .server
            .mock_async(move |when, then| {
                // Every request, except one claimed by a stall (see `stall_next`).
                when.is_false(move |req: &HttpMockRequest| {
                    stalls.claim(claim.route_name(req), req, &claim.ctx.recorder)
                });
                then.respond_with(move |req: &HttpMockRequest| serve.handle(req));
            })
            .await;
        Kit {
            controls,
            state,
            dispatch,
        }
    }

    /// Hold the next request to route `route` (a name from the vendor's table) for
    /// `delay`, then answer it as usual; every other request is served meanwhile. The held
    /// request is in [`Controls::stalled`] as soon as it arrives (its hit and its answer
    /// come after the delay), so a test can act while a client waits on it: kill the
    /// client, move the clock, start another one.
    pub async fn stall_next(&self, route: &str, delay: Duration) {
        let stalls = self.controls.stalls.clone();
        let id = {
            let mut state = lock(&stalls.0);
            state.next_id += 1;
            state.next_id
        };
        let dispatch = self.dispatch.clone();
        let taken = stalls.clone();
        // The mock that holds the request exists before the route is armed, so a claimed
        // request always finds it.
        self.controls
            .server
            .mock_async(move |when, then| {
                when.is_true(move |_: &HttpMockRequest| taken.take(id));
                then.delay(delay)
                    .respond_with(move |req: &HttpMockRequest| dispatch.handle(req));
            })
            .await;
        lock(&stalls.0).armed.push((route.to_owned(), id));
    }

    /// The vendor's state.
    pub fn state(&self) -> &S {
        &self.state
    }

    /// The context handlers get (token store, clock, recorder).
    pub fn ctx(&self) -> &Ctx {
        &self.controls.ctx
    }
}

/// What the server's one responder holds.
struct Dispatch<S: Spec> {
    routes: Arc<Vec<Route<S>>>,
    state: Arc<S>,
    ctx: Arc<Ctx>,
    faults: Faults,
    token_faults: Faults,
    route_faults: Arc<Mutex<Vec<(String, Fault)>>>,
    hits: Hits,
    arrivals: Arrivals,
}

impl<S: Spec> Dispatch<S> {
    /// The name of the route `req` goes to, if any.
    fn route_name(&self, req: &HttpMockRequest) -> Option<&'static str> {
        let uri = req.uri();
        let method = req.method().to_string();
        self.routes
            .iter()
            .find(|r| r.matches_path(uri.path()) && r.matches_method(&method))
            .map(|r| r.name)
    }

    fn handle(&self, req: &HttpMockRequest) -> HttpMockResponse {
        self.ctx.recorder.record(req);
        let path = req.uri().path().to_owned();
        let method = req.method().to_string();
        let mut known_path = false;
        let Some(route) = self.routes.iter().find(|r| {
            let p = r.matches_path(&path);
            known_path |= p;
            p && r.matches_method(&method)
        }) else {
            return if known_path {
                self.state.method_not_allowed(req)
            } else {
                self.state.not_found(req)
            };
        };
        lock(&self.arrivals).push((route.name, std::time::Instant::now()));
        // A fault named for this route first, then one for its kind.
        let fault = {
            let mut named = lock(&self.route_faults);
            match named.iter().position(|(r, _)| r == route.name) {
                Some(i) => Some(named.remove(i).1),
                None => {
                    drop(named);
                    match route.kind {
                        RouteKind::Token => self.token_faults.take(&path),
                        RouteKind::Authorized => self.faults.take(&path),
                        RouteKind::Open => None,
                    }
                }
            }
        };
        let mut answer = match fault {
            Some(f) => self.state.fault(&f),
            None => (route.handler)(&self.state, &self.ctx, req),
        };
        with_date(&mut answer, &self.ctx.clock);
        // Counted once answered: a test that waits for a hit and then moves the clock
        // cannot race the handler's token check.
        self.hits.record(route.name);
        answer
    }
}

/// Every answer carries `Date` on the sandbox's own clock (unless the handler set one), as a
/// real server's does on its clock: a client re-basing absolute expiries on the vendor's
/// clock then sees the manual clock's time, not the machine's.
fn with_date(answer: &mut HttpMockResponse, clock: &SharedClock) {
    let headers = answer.headers.get_or_insert_with(Vec::new);
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("date")) {
        headers.push(("date".to_owned(), httpdate::fmt_http_date(clock.now())));
    }
}

/// Any vendor's sandbox with a client wired to it, as a vendor-neutral test sees it: the
/// contract tests run every vendor through one function generic over this trait.
pub trait VendorSandbox: Sized + Send + Sync + 'static {
    /// The vendor's client.
    type Client: Clone + Send + Sync + 'static;
    /// The vendor's name, for messages.
    const NAME: &'static str;
    /// Start a sandbox on `clock` issuing tokens that live `lifetime`.
    fn start(clock: ManualClock, lifetime: Duration) -> impl std::future::Future<Output = Self>;
    /// A client wired to this sandbox (its URL, clock and credentials).
    fn client(&self) -> Result<Self::Client, Error>;
    /// One authorized call.
    fn call(client: &Self::Client) -> BoxFuture<'static, Result<(), Error>>;
    /// The sandbox's controls (faults, counters).
    fn controls(&self) -> &Controls;
    /// Whether the client's credential can be renewed (not an API key or static token).
    fn renewable(&self) -> bool {
        true
    }
    /// The secrets the client holds: none may appear in an error's Debug or Display.
    fn secrets(&self) -> Vec<String>;
}

/// Generate a sandbox builder's `clock` and `token_lifetime` setters; the builder holds a
/// [`Settings`](crate::sandbox::Settings) in a field named `kit`.
#[macro_export]
macro_rules! sandbox_builder {
    ($builder:ty) => {
        impl $builder {
            /// The clock tokens are judged by: share a `ManualClock` with the client to
            /// drive expiry in tests without sleeping.
            pub fn clock(mut self, clock: impl Into<$crate::SharedClock>) -> Self {
                self.kit.clock = clock.into();
                self
            }

            /// How long issued access tokens live (0 is raised to 1 s).
            pub fn token_lifetime(mut self, lifetime: std::time::Duration) -> Self {
                self.kit.token_lifetime = lifetime.max(std::time::Duration::from_secs(1));
                self
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    struct Echo;

    impl Spec for Echo {
        fn routes() -> Vec<Route<Self>> {
            vec![
                Route::token("POST", "/token", "token", |_, _, _| text(200, "token")),
                Route::open("GET", "/ping", "ping", |_, _, _| text(200, "pong")),
            ]
        }
    }

    /// One request is held while the others are served; it is answered, as usual, after
    /// the delay, and it is in `stalled` from the moment it arrived.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stalled_request_is_held_alone() {
        let kit = Kit::start(Echo, Settings::new(Duration::from_secs(60)), &[]).await;
        kit.stall_next("token", Duration::from_millis(800)).await;
        let http = crate::http::default_client().unwrap();
        let url = |p: &str| format!("{}{p}", kit.base_url());
        let start = Instant::now();
        let held = tokio::spawn({
            let (http, url) = (http.clone(), url("/token"));
            async move {
                let r = http.post(url).header("x-who", "held").send().await.unwrap();
                (
                    r.status().as_u16(),
                    r.text().await.unwrap(),
                    start.elapsed(),
                )
            }
        });
        while kit.stalled().is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let who = &kit.stalled()[0].headers;
        assert!(
            who.contains(&("x-who".to_owned(), "held".to_owned())),
            "{who:?}"
        );
        // Meanwhile the same route and another one answer at once.
        for path in ["/token", "/ping", "/token"] {
            let r = http
                .request(
                    if path == "/ping" {
                        reqwest::Method::GET
                    } else {
                        reqwest::Method::POST
                    },
                    url(path),
                )
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
        }
        assert!(
            start.elapsed() < Duration::from_millis(700),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(kit.hits("token"), 2);
        let (status, body, took) = held.await.unwrap();
        assert_eq!((status, body.as_str()), (200, "token"));
        assert!(took >= Duration::from_millis(800), "{took:?}");
        assert_eq!((kit.hits("token"), kit.stalled().len()), (3, 1));
        let routes: Vec<&str> = kit.arrivals().iter().map(|(r, _)| *r).collect();
        assert_eq!(routes, ["token", "ping", "token", "token"]);
    }

    #[test]
    fn patterns() {
        for (pattern, path, ok) in [
            ("/a/b", "/a/b", true),
            ("/a/b", "/a/b/", false),
            ("/a/b", "/a", false),
            ("/a/{}", "/a/7", true),
            ("/a/{}", "/a/", false),
            ("/a/{}", "/a/7/x", false),
            ("/a/{}/c", "/a/7/c", true),
            ("/a/*", "/a/x/y", true),
            ("/a/*", "/a/", true),
            ("/a/*", "/a", false),
            ("/a/*", "/ab/x", false),
            ("/api/v3/*", "/api/v3/ua/login", true),
        ] {
            assert_eq!(path_matches(pattern, path), ok, "{pattern} {path}");
        }
    }
}
