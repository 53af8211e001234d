//! The session: caches the token set, renews it single-flight, and runs the authorized
//! request pipeline (one precise 401 retry) that every vendor crate uses.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use arc_swap::{ArcSwap, ArcSwapOption};
use futures::FutureExt as _;
use futures::future::{BoxFuture, Shared};
use reqwest::{RequestBuilder, Response, StatusCode};
use secrecy::SecretString;
use serde::de::DeserializeOwned;

use crate::error::{Error, ErrorKind};
use crate::http::{Http, build, read_json};
use crate::jitter::Jitter;
use crate::provider::{Capabilities, RenewalPolicy, TokenProvider};
use crate::retry::RetryPolicy;
use crate::token::TokenSet;

/// A token set as the session hands it out: the tokens plus the generation that identifies
/// them, so a 401 can invalidate exactly the token that was used.
///
/// ```
/// # async fn run(session: auth_core::Session) -> Result<(), auth_core::Error> {
/// let lease = session.token().await?;
/// println!("generation {}", lease.generation());
/// # Ok(()) }
/// ```
pub struct Lease {
    tokens: TokenSet,
    generation: u64,
    renew_at: Option<SystemTime>,
    /// When the session stops using it: the token's expiry, except that a token just
    /// received is used for at least [`MIN_FRESH`] (see [`Inner::renewed`]).
    usable_until: Option<SystemTime>,
    invalidated: AtomicBool,
    expiry_counted: AtomicBool,
}

/// How long a token that a renewal just returned is used even if its expiry says it is
/// already (nearly) over: a local clock running ahead of the vendor's would otherwise make
/// every call renew. At most one renewal per this interval instead of one per call.
const MIN_FRESH: std::time::Duration = std::time::Duration::from_secs(5);

impl Lease {
    /// The token set.
    ///
    /// ```
    /// # fn f(lease: &auth_core::Lease) { let _ = lease.tokens().access_token(); }
    /// ```
    pub fn tokens(&self) -> &TokenSet {
        &self.tokens
    }

    /// Which token this is: every renewal or replacement makes a new generation.
    ///
    /// ```
    /// # fn f(lease: &auth_core::Lease) { let _ = lease.generation(); }
    /// ```
    pub fn generation(&self) -> u64 {
        self.generation
    }

    fn state(&self, now: SystemTime) -> State {
        if self.invalidated.load(Ordering::Acquire) || self.usable_until.is_some_and(|at| now >= at)
        {
            State::Unusable
        } else if self.renew_at.is_some_and(|at| now >= at) {
            State::RenewSoon
        } else {
            State::Fresh
        }
    }
}

impl fmt::Debug for Lease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lease")
            .field("generation", &self.generation)
            .field("tokens", &self.tokens)
            .field("renew_at", &self.renew_at)
            .field("invalidated", &self.invalidated.load(Ordering::Relaxed))
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Fresh,
    RenewSoon,
    Unusable,
}

/// Counters of what a session did, for demos, metrics and exact assertions in tests.
///
/// ```
/// # fn f(session: &auth_core::Session) {
/// let s = session.stats();
/// println!("{} sign-ins, {} refreshes", s.sign_ins, s.refreshes);
/// # }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionStats {
    /// Full sign-ins attempted (a sign-in retried after a transient failure counts once;
    /// its further attempts are [`renewal_retries`](Self::renewal_retries)).
    pub sign_ins: u64,
    /// Refresh-token grants attempted (counted like `sign_ins`).
    pub refreshes: u64,
    /// Token requests repeated after a transient failure (see [`RetryPolicy`]). Token
    /// requests sent = `sign_ins + refreshes + renewal_retries`.
    pub renewal_retries: u64,
    /// Refresh tokens the vendor rejected (each followed by a sign-in when possible).
    pub refresh_rejections: u64,
    /// Renewals (sign-in or refresh) that failed.
    pub renewal_failures: u64,
    /// Tokens found expired by a caller (each token counted once; early renewals inside the
    /// margin are not expiries).
    pub expiries: u64,
    /// 401 answers received on authorized calls.
    pub unauthorized: u64,
    /// Calls that got a 401, renewed, and then succeeded on the single retry.
    pub recovered_401: u64,
    /// Authorized requests sent (retries included).
    pub requests: u64,
}

#[derive(Default)]
struct Counters {
    sign_ins: AtomicU64,
    refreshes: AtomicU64,
    renewal_retries: AtomicU64,
    refresh_rejections: AtomicU64,
    renewal_failures: AtomicU64,
    expiries: AtomicU64,
    unauthorized: AtomicU64,
    recovered_401: AtomicU64,
    requests: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

type RenewalResult = Result<Arc<Lease>, Error>;
type Flight = Shared<BoxFuture<'static, RenewalResult>>;

struct Inner {
    provider: Arc<dyn TokenProvider>,
    http: Http,
    policy: RenewalPolicy,
    capabilities: Capabilities,
    current: ArcSwapOption<Lease>,
    flight: Mutex<Option<(u64, Flight)>>,
    /// Whether `flight` holds a renewal; written only under its lock. Lets a caller inside
    /// the margin skip the lock while a background renewal already runs.
    flying: AtomicBool,
    next_generation: AtomicU64,
    next_flight: AtomicU64,
    /// Bumped by every [`Session::clear`]: a renewal that started before a sign-out must
    /// not install its token after it.
    sign_outs: AtomicU64,
    settings: ArcSwap<Settings>,
    jitter: Jitter,
    counters: Counters,
}

/// What a session's `with_*` setters change. Read once per renewal or wait, never on the
/// hot path.
#[derive(Debug, Clone, Copy)]
struct Settings {
    retries: RetryPolicy,
    token_timeout: Duration,
    max_wait: Option<Duration>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            retries: RetryPolicy::default(),
            token_timeout: Session::DEFAULT_TOKEN_TIMEOUT,
            max_wait: None,
        }
    }
}

/// Holds the current token set of one identity and decides when to renew it.
///
/// - The hot path (a valid token) is one lock-free load and a clock read: no lock, no I/O.
/// - However many tasks find the token stale, one sign-in or refresh runs (on its own task,
///   so cancelling a caller never wedges the others) and every waiter gets its result.
/// - A token inside the renewal margin keeps being served while the renewal runs; if the
///   renewal fails the still-valid token is kept and the next call tries again.
/// - A rejected refresh token falls back to a full sign-in when the provider can sign in.
/// - A token request that fails transiently (5xx, connect error, timeout) while no valid
///   token remains is retried inside the one renewal, with a short jittered backoff
///   ([`with_renewal_retries`](Self::with_renewal_retries)); a vendor's rejection is not.
/// - Each token request has its own timeout
///   ([`with_token_timeout`](Self::with_token_timeout)), and a caller can bound its own
///   wait for a renewal ([`with_max_wait`](Self::with_max_wait),
///   [`token_within`](Self::token_within)) without cancelling it for the others.
///
/// Cheap to clone; clones share the cache.
///
/// ```no_run
/// # async fn run(provider: impl auth_core::provider::TokenProvider) -> Result<(), auth_core::Error> {
/// use auth_core::{Session, http::Http};
/// let http = Http::new()?;
/// let session = Session::new(provider, http.clone());
/// let resp = session.send(http.request(reqwest::Method::GET, "https://api.example.com/me")).await?;
/// # drop(resp); Ok(()) }
/// ```
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("provider", &self.inner.provider)
            .field("policy", &self.inner.policy)
            .field("current", &self.inner.current.load())
            .field("settings", &**self.inner.settings.load())
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A session with no token yet: the first call signs in.
    ///
    /// ```no_run
    /// # fn f(p: impl auth_core::provider::TokenProvider) -> Result<(), auth_core::Error> {
    /// let session = auth_core::Session::new(p, auth_core::http::Http::new()?);
    /// # Ok(()) }
    /// ```
    pub fn new(provider: impl TokenProvider, http: Http) -> Self {
        Self::from_arc(Arc::new(provider), http)
    }

    /// Like [`new`](Self::new), for a provider already behind an `Arc`.
    ///
    /// ```no_run
    /// # fn f(p: std::sync::Arc<dyn auth_core::provider::TokenProvider>) -> Result<(), auth_core::Error> {
    /// let session = auth_core::Session::from_arc(p, auth_core::http::Http::new()?);
    /// # Ok(()) }
    /// ```
    pub fn from_arc(provider: Arc<dyn TokenProvider>, http: Http) -> Self {
        let policy = provider.policy();
        let capabilities = provider.capabilities();
        Session {
            inner: Arc::new(Inner {
                provider,
                http,
                policy,
                capabilities,
                current: ArcSwapOption::empty(),
                flight: Mutex::new(None),
                flying: AtomicBool::new(false),
                next_generation: AtomicU64::new(1),
                next_flight: AtomicU64::new(1),
                sign_outs: AtomicU64::new(0),
                settings: ArcSwap::from_pointee(Settings::default()),
                jitter: Jitter::from_entropy(),
                counters: Counters::default(),
            }),
        }
    }

    /// How long one token request may take by default (see
    /// [`with_token_timeout`](Self::with_token_timeout)): a token endpoint answers in well
    /// under a second when it is healthy, and every caller waiting on a renewal waits this
    /// long when it is not. 5 s, so that a token endpoint stalling on all three default
    /// attempts holds its waiters about 15.6 s in all, half the default client's 30 s
    /// request timeout a single stalled request used to cost.
    pub const DEFAULT_TOKEN_TIMEOUT: Duration = Duration::from_secs(5);

    /// How one renewal retries a token request (sign-in or refresh) that fails transiently
    /// while no valid token remains; the default ([`RetryPolicy::default`]) rides out a blip
    /// of the token endpoint with 3 attempts within about 0.6 s. Use [`RetryPolicy::none`]
    /// if your code retries on its own, or a longer policy for a token endpoint known to
    /// have longer outages. Like the cache, the setting is shared with this session's
    /// clones.
    ///
    /// A refresh is retried with the same refresh token: a vendor that rotated it on an
    /// attempt whose answer was lost rejects the retry, and the session falls back to a
    /// sign-in as for any rejected refresh token.
    pub fn with_renewal_retries(self, policy: RetryPolicy) -> Self {
        self.configure(|s| s.retries = policy)
    }

    /// How long one token request (one sign-in or refresh attempt) may take before it is
    /// given up as a transient failure ("token request timed out after ...") and retried as
    /// one; default [`DEFAULT_TOKEN_TIMEOUT`](Self::DEFAULT_TOKEN_TIMEOUT). Without it a
    /// stalled token endpoint holds every waiting caller for the client's request timeout.
    /// Lengthen it for a vendor whose token endpoint is slow when healthy; shorten it when
    /// callers would rather fail fast. With the default retries, an endpoint that stalls on
    /// every attempt holds the waiting callers for three timeouts plus the backoff: bound
    /// them with [`with_max_wait`](Self::with_max_wait) where that is too long. Measured on
    /// tokio's timer, not the injected clock. Shared with this session's clones.
    pub fn with_token_timeout(self, timeout: Duration) -> Self {
        self.configure(|s| s.token_timeout = timeout)
    }

    /// The longest any caller of [`token`](Self::token) or the `send*` methods waits for a
    /// renewal; past it that caller gets a transient error ("waiting for the token renewal
    /// timed out after ...") while the renewal goes on for the others and installs its
    /// token. By default a caller waits for the renewal to end (which the token timeout and
    /// the retry policy bound). Set it when a caller would rather fail fast than queue
    /// behind a slow token endpoint; [`token_within`](Self::token_within) bounds one call.
    /// Measured on tokio's timer. Shared with this session's clones.
    pub fn with_max_wait(self, max_wait: Duration) -> Self {
        self.configure(|s| s.max_wait = Some(max_wait))
    }

    /// Seed the jitter of the retry backoff, so a test sees the same waits on every run.
    /// Sessions are otherwise seeded apart, so many clients do not retry in step.
    pub fn with_jitter_seed(self, seed: u64) -> Self {
        self.inner.jitter.reseed(seed);
        self
    }

    fn configure(self, f: impl Fn(&mut Settings)) -> Self {
        self.inner.settings.rcu(|s| {
            let mut s = **s;
            f(&mut s);
            s
        });
        self
    }

    /// The transport this session sends through.
    ///
    /// ```no_run
    /// # fn f(s: auth_core::Session) { let _ = s.http().now(); }
    /// ```
    pub fn http(&self) -> &Http {
        &self.inner.http
    }

    /// The renewal policy in force.
    ///
    /// ```no_run
    /// # fn f(s: auth_core::Session) { let _ = s.policy(); }
    /// ```
    pub fn policy(&self) -> RenewalPolicy {
        self.inner.policy
    }

    /// Counters of sign-ins, refreshes, 401 recoveries and so on.
    ///
    /// ```no_run
    /// # fn f(s: auth_core::Session) { assert_eq!(s.stats().sign_ins, 0); }
    /// ```
    pub fn stats(&self) -> SessionStats {
        let c = &self.inner.counters;
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        SessionStats {
            sign_ins: l(&c.sign_ins),
            refreshes: l(&c.refreshes),
            renewal_retries: l(&c.renewal_retries),
            refresh_rejections: l(&c.refresh_rejections),
            renewal_failures: l(&c.renewal_failures),
            expiries: l(&c.expiries),
            unauthorized: l(&c.unauthorized),
            recovered_401: l(&c.recovered_401),
            requests: l(&c.requests),
        }
    }

    /// The cached token, without renewing or checking expiry.
    ///
    /// ```no_run
    /// # fn f(s: auth_core::Session) { assert!(s.current().is_none()); }
    /// ```
    pub fn current(&self) -> Option<Arc<Lease>> {
        self.inner.current.load_full()
    }

    /// Install a token set obtained outside the session (a company switch, a token the user
    /// handed over, a static token). It becomes a new generation.
    ///
    /// ```no_run
    /// # fn f(s: auth_core::Session, set: auth_core::TokenSet) { let lease = s.replace(set); }
    /// ```
    pub fn replace(&self, tokens: TokenSet) -> Arc<Lease> {
        let lease = self.inner.lease(tokens);
        // Under the flight lock: a renewal finishing now either sees this token or is
        // already installed, never overwrites it after checking.
        let _slot = lock(&self.inner.flight);
        self.inner.current.store(Some(lease.clone()));
        lease
    }

    /// Forget the cached token (after a sign-out); the next call signs in again. A renewal
    /// already in flight still answers the callers waiting on it, but its token is not
    /// installed.
    ///
    /// ```no_run
    /// # fn f(s: auth_core::Session) { s.clear(); }
    /// ```
    pub fn clear(&self) {
        let mut slot = lock(&self.inner.flight);
        self.inner.sign_outs.fetch_add(1, Ordering::AcqRel);
        self.inner.current.store(None);
        // Callers from now on start a renewal of their own rather than join the old one.
        self.inner.land(&mut slot, None);
    }

    /// Mark the token of `generation` as rejected. A token someone already renewed (a newer
    /// generation) is untouched, so two callers that both saw a 401 cause one renewal.
    ///
    /// ```no_run
    /// # async fn f(s: auth_core::Session) -> Result<(), auth_core::Error> {
    /// let lease = s.token().await?;
    /// s.invalidate(lease.generation());
    /// # Ok(()) }
    /// ```
    pub fn invalidate(&self, generation: u64) {
        if let Some(cur) = self.inner.current.load().as_ref()
            && cur.generation == generation
        {
            cur.invalidated.store(true, Ordering::Release);
        }
    }

    /// A usable token: the cached one while valid, otherwise the result of the one renewal
    /// in flight (started here if none is).
    ///
    /// ```no_run
    /// # async fn f(s: auth_core::Session) -> Result<(), auth_core::Error> {
    /// let lease = s.token().await?;
    /// # Ok(()) }
    /// ```
    pub async fn token(&self) -> Result<Arc<Lease>, Error> {
        self.token_waiting(None).await
    }

    /// [`token`](Self::token), waiting at most `max_wait` for a renewal (instead of the
    /// session's [`with_max_wait`](Self::with_max_wait) bound, if any). Past it this call
    /// gets a transient error; the renewal goes on for the other callers and installs its
    /// token, so a later call may find it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use std::time::Duration;
    /// use auth_core::{AccessToken, Error, Expiry, Session, TokenSet, http::Http};
    ///
    /// /// A token endpoint that takes half a second to answer.
    /// #[derive(Debug)]
    /// struct Slow;
    ///
    /// #[auth_core::provider::async_trait]
    /// impl auth_core::provider::TokenProvider for Slow {
    ///     async fn sign_in(&self) -> Result<TokenSet, Error> {
    ///         tokio::time::sleep(Duration::from_millis(500)).await;
    ///         Ok(TokenSet::new(AccessToken::new("t"), Expiry::never()))
    ///     }
    /// }
    ///
    /// let session = Session::new(Slow, Http::new().unwrap());
    /// let hurried = session.token_within(Duration::from_millis(50)).await.unwrap_err();
    /// assert!(hurried.is_transient());
    /// assert!(hurried.to_string().contains("timed out"));
    /// // The renewal went on without the caller that gave up: one sign-in serves the next.
    /// assert!(session.token().await.is_ok());
    /// assert_eq!(session.stats().sign_ins, 1);
    /// # }
    /// ```
    pub async fn token_within(&self, max_wait: Duration) -> Result<Arc<Lease>, Error> {
        self.token_waiting(Some(max_wait)).await
    }

    async fn token_waiting(&self, max_wait: Option<Duration>) -> Result<Arc<Lease>, Error> {
        let now = self.inner.http.now();
        if let Some(cur) = self.inner.current.load_full() {
            match cur.state(now) {
                State::Fresh => return Ok(cur),
                State::RenewSoon => {
                    // Keep serving the valid token; renew in the background, once.
                    // Without a runtime the renewal waits until the token is unusable.
                    if !self.inner.flying.load(Ordering::Acquire) {
                        let _ = self.inner.clone().flight();
                    }
                    return Ok(cur);
                }
                State::Unusable => {
                    // Count each expired token once, however many callers find it.
                    if !cur.invalidated.load(Ordering::Acquire)
                        && !cur.expiry_counted.swap(true, Ordering::AcqRel)
                    {
                        bump(&self.inner.counters.expiries);
                    }
                }
            }
        }
        match self.inner.clone().flight()? {
            Some(flight) => match max_wait.or(self.inner.settings.load().max_wait) {
                None => flight.await,
                // Dropping our clone of the shared flight on timeout leaves the renewal task
                // running for everyone else.
                Some(bound) => {
                    tokio::time::timeout(bound, flight)
                        .await
                        .unwrap_or_else(|elapsed| {
                            Err(Error::new(
                                ErrorKind::Transient,
                                format!("waiting for the token renewal timed out after {bound:?}"),
                            )
                            .with_source(elapsed))
                        })
                }
            },
            // Someone renewed between our load and the flight check.
            None => self
                .inner
                .current
                .load_full()
                .ok_or_else(|| Error::new(ErrorKind::SessionExpired, "no token available")),
        }
    }

    /// Wait for the renewal in flight, if any (for example a background renewal started
    /// inside the margin), and return its result.
    ///
    /// ```no_run
    /// # async fn f(s: auth_core::Session) { let _ = s.settle().await; }
    /// ```
    pub async fn settle(&self) -> Option<Result<Arc<Lease>, Error>> {
        let flight = lock(&self.inner.flight).as_ref().map(|(_, f)| f.clone());
        match flight {
            Some(f) => Some(f.await),
            None => None,
        }
    }

    /// Send an authorized request through the pipeline: put the token on it; on a 401
    /// invalidate exactly that token, renew, and retry once (unless the body cannot be
    /// replayed or the credential cannot be renewed); a second 401 surfaces as
    /// unauthorized. Non-success answers become errors via the vendor's parser.
    ///
    /// ```no_run
    /// # async fn f(s: auth_core::Session) -> Result<(), auth_core::Error> {
    /// let req = s.http().request(reqwest::Method::GET, "https://api.example.com/me");
    /// let resp = s.send(req).await?;
    /// # drop(resp); Ok(()) }
    /// ```
    pub async fn send(&self, request: RequestBuilder) -> Result<Response, Error> {
        self.send_with_secrets(request, &[]).await
    }

    /// [`send`](Self::send), also scrubbing `secrets` (beyond the session's own tokens) from
    /// any error body.
    ///
    /// ```no_run
    /// # async fn f(s: auth_core::Session, pw: secrecy::SecretString) -> Result<(), auth_core::Error> {
    /// let req = s.http().request(reqwest::Method::POST, "https://api.example.com/x");
    /// let resp = s.send_with_secrets(req, &[&pw]).await?;
    /// # drop(resp); Ok(()) }
    /// ```
    pub async fn send_with_secrets(
        &self,
        request: RequestBuilder,
        secrets: &[&SecretString],
    ) -> Result<Response, Error> {
        let request = build(request)?;
        // Refuse before a token is fetched or put on the wire.
        crate::http::ensure_secure(request.url())?;
        let replay = request.try_clone();
        let lease = self.token().await?;
        let resp = self.attempt(request, &lease).await?;
        if resp.status() != StatusCode::UNAUTHORIZED {
            return self.finish(resp, &lease, secrets).await;
        }
        bump(&self.inner.counters.unauthorized);
        let err = self.unauthorized(resp, &lease, secrets).await;
        // Not every 401 is the token's fault (a wrong end-user password on a login endpoint
        // is one too): the provider decides, from the parsed vendor error.
        if !self.inner.provider.rejects_token(&err) {
            return Err(err);
        }
        let Some(replay) = replay.filter(|_| self.inner.capabilities.can_renew()) else {
            return Err(err);
        };
        self.invalidate(lease.generation);
        let fresh = self.token().await?;
        let resp = self.attempt(replay, &fresh).await?;
        if resp.status() == StatusCode::UNAUTHORIZED {
            bump(&self.inner.counters.unauthorized);
            return Err(self.unauthorized(resp, &fresh, secrets).await);
        }
        let out = self.finish(resp, &fresh, secrets).await;
        if out.is_ok() {
            bump(&self.inner.counters.recovered_401);
        }
        out
    }

    /// `err` with every echo of the provider's credentials and of the cached tokens removed,
    /// as every error the pipeline returns is. For a vendor crate that builds an error from
    /// an answer the pipeline passed as a success (a `200` that says `success: false`).
    pub fn scrub(&self, err: Error) -> Error {
        let current = self.current();
        let mut secrets = self.inner.provider.secrets();
        if let Some(lease) = &current {
            secrets.push(lease.tokens.access_token().as_secret());
            secrets.extend(lease.tokens.refresh_token().map(|r| r.as_secret()));
        }
        err.scrubbed(&secrets)
    }

    /// [`send`](Self::send) and decode the JSON answer.
    ///
    /// ```no_run
    /// # async fn f(s: auth_core::Session) -> Result<(), auth_core::Error> {
    /// let req = s.http().request(reqwest::Method::GET, "https://api.example.com/me");
    /// let me: serde_json::Value = s.send_json(req).await?;
    /// # Ok(()) }
    /// ```
    pub async fn send_json<T: DeserializeOwned>(
        &self,
        request: RequestBuilder,
    ) -> Result<T, Error> {
        read_json(self.send(request).await?).await
    }

    async fn attempt(
        &self,
        mut request: reqwest::Request,
        lease: &Lease,
    ) -> Result<Response, Error> {
        self.inner
            .provider
            .authorize_request(&lease.tokens, &mut request)?;
        bump(&self.inner.counters.requests);
        self.inner.http.send_raw(request).await
    }

    async fn finish(
        &self,
        resp: Response,
        lease: &Lease,
        secrets: &[&SecretString],
    ) -> Result<Response, Error> {
        if resp.status().is_success() {
            return Ok(resp);
        }
        let all = lease_secrets(&*self.inner.provider, lease, secrets);
        Err(self.inner.http.error_from(resp, &all).await)
    }

    async fn unauthorized(
        &self,
        resp: Response,
        lease: &Lease,
        secrets: &[&SecretString],
    ) -> Error {
        let all = lease_secrets(&*self.inner.provider, lease, secrets);
        self.inner.http.error_from(resp, &all).await
    }
}

/// The secrets an authorized call's error is scrubbed of: the ones the call names, the
/// lease's tokens, and the provider's credentials.
fn lease_secrets<'a>(
    provider: &'a dyn TokenProvider,
    lease: &'a Lease,
    extra: &[&'a SecretString],
) -> Vec<&'a SecretString> {
    let mut all: Vec<&SecretString> = extra.to_vec();
    all.extend(provider.secrets());
    all.push(lease.tokens.access_token().as_secret());
    if let Some(r) = lease.tokens.refresh_token() {
        all.push(r.as_secret());
    }
    all
}

impl Inner {
    /// Empty the flight slot: whatever it holds (`None`), or only flight `id`.
    fn land(&self, slot: &mut Option<(u64, Flight)>, id: Option<u64>) {
        if id.is_none_or(|id| slot.as_ref().is_some_and(|(f, _)| *f == id)) {
            *slot = None;
            self.flying.store(false, Ordering::Release);
        }
    }

    /// A lease for tokens installed from outside: their expiry is taken as it is.
    fn lease(&self, tokens: TokenSet) -> Arc<Lease> {
        self.lease_with_floor(tokens, None)
    }

    /// A lease for tokens a renewal just returned: used for at least [`MIN_FRESH`].
    fn renewed(&self, tokens: TokenSet) -> Arc<Lease> {
        let floor = self.http.now().checked_add(MIN_FRESH);
        self.lease_with_floor(tokens, floor)
    }

    fn lease_with_floor(&self, tokens: TokenSet, floor: Option<SystemTime>) -> Arc<Lease> {
        let at_least = |t: SystemTime| match floor {
            Some(f) => t.max(f),
            None => t,
        };
        let renew_at = tokens.expiry().expires_at().map(|at| {
            let margin = self.policy.margin(tokens.expiry().lifetime());
            at_least(at.checked_sub(margin).unwrap_or(at))
        });
        let usable_until = tokens.expiry().expires_at().map(at_least);
        Arc::new(Lease {
            tokens,
            generation: self.next_generation.fetch_add(1, Ordering::AcqRel),
            renew_at,
            usable_until,
            invalidated: AtomicBool::new(false),
            expiry_counted: AtomicBool::new(false),
        })
    }

    /// The renewal in flight, started if none is and the cached token still needs one.
    /// Returns `None` when the cached token turned out fresh.
    fn flight(self: Arc<Self>) -> Result<Option<Flight>, Error> {
        // Checked before anything is started: outside a runtime `tokio::spawn` would panic.
        let runtime = tokio::runtime::Handle::try_current().map_err(|e| {
            Error::new(
                ErrorKind::Config,
                "renewing a token needs a tokio runtime, and none is running",
            )
            .with_source(e)
        })?;
        let mut slot = lock(&self.flight);
        if let Some((_, f)) = slot.as_ref() {
            return Ok(Some(f.clone()));
        }
        let current = self.current.load_full();
        if let Some(cur) = &current
            && cur.state(self.http.now()) == State::Fresh
        {
            return Ok(None);
        }
        let id = self.next_flight.fetch_add(1, Ordering::Relaxed);
        let sign_outs = self.sign_outs.load(Ordering::Acquire);
        let me = self.clone();
        // The renewal runs on its own task: dropping any caller (even the one that started
        // it) cannot cancel it half-way and leave the others waiting.
        let task = runtime.spawn(async move {
            // If the provider panics or the runtime shuts down mid-renewal, this empties the
            // slot: otherwise that dead flight's error would be every later caller's answer.
            let mut guard = FlightGuard {
                inner: me.clone(),
                id,
                armed: true,
            };
            let result = me.drive(id, sign_outs, current).await;
            guard.armed = false;
            result
        });
        let owner = Arc::downgrade(&self);
        let flight: Flight = async move {
            task.await.unwrap_or_else(|e| {
                // A task cancelled before it ever ran (runtime shutting down) had no chance
                // to empty the slot itself.
                if let Some(inner) = owner.upgrade() {
                    let mut slot = lock(&inner.flight);
                    inner.land(&mut slot, Some(id));
                }
                Err(Error::new(ErrorKind::Transient, "token renewal task failed").with_source(e))
            })
        }
        .boxed()
        .shared();
        *slot = Some((id, flight.clone()));
        self.flying.store(true, Ordering::Release);
        Ok(Some(flight))
    }

    /// Renew from `base`, then install the result and empty the flight slot (one critical
    /// section, so a caller never finds neither a flight nor the new token).
    async fn drive(&self, id: u64, sign_outs: u64, mut base: Option<Arc<Lease>>) -> RenewalResult {
        let mut round = 0;
        loop {
            round += 1;
            let result = self.renew(base.clone(), sign_outs).await;
            if result.is_err() {
                bump(&self.counters.renewal_failures);
            }
            let next = {
                let mut slot = lock(&self.flight);
                let latest = self.current.load_full();
                let replaced = match (&latest, &base) {
                    (Some(l), Some(b)) => l.generation != b.generation,
                    (Some(_), None) => true,
                    // Cleared meanwhile: not a replacement (a sign-out is handled below).
                    (None, _) => false,
                };
                let next = match latest {
                    // Someone installed a newer token while we renewed (a company switch, a
                    // handed-over token): it wins over our answer, even over our failure.
                    Some(newer) if replaced && newer.state(self.http.now()) != State::Unusable => {
                        Next::Done(Ok(newer))
                    }
                    // ... and was rejected already: renew *that* identity, never install the
                    // replaced one's token over it.
                    Some(newer) if replaced && round < MAX_ROUNDS => Next::Again(newer),
                    Some(_) if replaced => Next::Done(Err(Error::new(
                        ErrorKind::Transient,
                        "the token was replaced and rejected while it was being renewed",
                    ))),
                    _ => {
                        let signed_out = self.sign_outs.load(Ordering::Acquire) != sign_outs;
                        if let Ok(lease) = &result
                            && !signed_out
                        {
                            self.current.store(Some(lease.clone()));
                        }
                        Next::Done(result)
                    }
                };
                if matches!(next, Next::Done(_)) {
                    self.land(&mut slot, Some(id));
                }
                next
            };
            match next {
                Next::Done(result) => return result,
                Next::Again(newer) => base = Some(newer),
            }
        }
    }

    async fn renew(&self, previous: Option<Arc<Lease>>, sign_outs: u64) -> RenewalResult {
        let caps = self.capabilities;
        let refreshable = previous
            .as_ref()
            .filter(|p| caps.refresh && p.tokens.refresh_token().is_some());
        if let Some(prev) = refreshable {
            bump(&self.counters.refreshes);
            let refreshed = self
                .request(Some(&prev.tokens), previous.as_ref(), sign_outs)
                .await;
            match refreshed {
                Ok(tokens) => return Ok(self.renewed(tokens.inherit_from(&prev.tokens))),
                Err(e) if refresh_rejected(&e) && caps.sign_in => {
                    bump(&self.counters.refresh_rejections);
                }
                Err(e) if refresh_rejected(&e) => {
                    bump(&self.counters.refresh_rejections);
                    return Err(self.provider.renewal_impossible().with_source(e));
                }
                Err(e) => return Err(e),
            }
        }
        if !caps.sign_in {
            return Err(self.provider.renewal_impossible());
        }
        bump(&self.counters.sign_ins);
        let tokens = self.request(None, previous.as_ref(), sign_outs).await?;
        Ok(self.renewed(tokens))
    }

    /// One token request (a refresh of `refresh`, or a sign-in), each attempt bounded by the
    /// token timeout, retried after a transient failure while no valid token remains.
    async fn request(
        &self,
        refresh: Option<&TokenSet>,
        base: Option<&Arc<Lease>>,
        sign_outs: u64,
    ) -> Result<TokenSet, Error> {
        let settings = **self.settings.load();
        let mut attempt = 1;
        loop {
            let call = match refresh {
                Some(tokens) => self.provider.refresh(tokens),
                None => self.provider.sign_in(),
            };
            let result = tokio::time::timeout(settings.token_timeout, call)
                .await
                .unwrap_or_else(|elapsed| {
                    Err(Error::new(
                        ErrorKind::Transient,
                        format!("token request timed out after {:?}", settings.token_timeout),
                    )
                    .with_source(elapsed))
                });
            // Whatever the provider read (a `200` saying `success: false` too), no credential
            // it holds and no token of the set it renews reaches a caller.
            let result = result.map_err(|e| {
                let mut secrets = self.provider.secrets();
                if let Some(t) = refresh {
                    secrets.push(t.access_token().as_secret());
                    secrets.extend(t.refresh_token().map(|r| r.as_secret()));
                }
                e.scrubbed(&secrets)
            });
            match result {
                Err(e)
                    if e.is_transient()
                        && attempt < settings.retries.max_attempts()
                        && self.nothing_valid_left(base, sign_outs) =>
                {
                    let wait = settings.retries.delay(attempt, &self.jitter);
                    self.http.clock().sleep(wait).await;
                    // A token installed (or a sign-out) during the wait makes the retry moot.
                    if !self.nothing_valid_left(base, sign_outs) {
                        return Err(e);
                    }
                    bump(&self.counters.renewal_retries);
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// Whether the callers have nothing to use but this renewal's answer: the token it
    /// renews (`base`) is still the session's and unusable, or there is none. A renewal
    /// ahead of expiry (the token still valid) is not retried: callers are being served and
    /// the next call tries again. Nor is one whose token was replaced or signed out
    /// meanwhile: [`drive`](Self::drive) decides what its waiters get.
    fn nothing_valid_left(&self, base: Option<&Arc<Lease>>, sign_outs: u64) -> bool {
        if self.sign_outs.load(Ordering::Acquire) != sign_outs {
            return false;
        }
        let latest = self.current.load();
        match (latest.as_ref(), base) {
            (None, None) => true,
            (Some(l), Some(b)) if l.generation == b.generation => {
                l.state(self.http.now()) == State::Unusable
            }
            _ => false,
        }
    }
}

/// Renewal rounds one flight runs when tokens keep being replaced and rejected under it.
const MAX_ROUNDS: u32 = 3;

enum Next {
    Done(RenewalResult),
    Again(Arc<Lease>),
}

/// Empties the flight slot (if it still holds flight `id`) when the renewal task ends
/// without finishing: a panic in the provider, or the runtime shutting down.
struct FlightGuard {
    inner: Arc<Inner>,
    id: u64,
    armed: bool,
}

impl Drop for FlightGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        bump(&self.inner.counters.renewal_failures);
        let mut slot = lock(&self.inner.flight);
        self.inner.land(&mut slot, Some(self.id));
    }
}

/// The flight slot is never held across an await or user code, so a poisoned lock only
/// means a panic elsewhere: its data is still consistent.
fn lock(m: &Mutex<Option<(u64, Flight)>>) -> std::sync::MutexGuard<'_, Option<(u64, Flight)>> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn refresh_rejected(e: &Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::Unauthorized | ErrorKind::Rejected | ErrorKind::SessionExpired
    )
}
