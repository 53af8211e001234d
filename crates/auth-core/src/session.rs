//! The session: caches the token set, renews it single-flight, and runs the authorized
//! request pipeline (one precise 401 retry) that every vendor crate uses.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arc_swap::{ArcSwap, ArcSwapOption};
use futures::FutureExt as _;
use futures::future::{BoxFuture, Shared};
use reqwest::{RequestBuilder, Response, StatusCode};
use secrecy::SecretString;
use serde::de::DeserializeOwned;

use crate::clock::SharedClock;
use crate::error::{Error, ErrorKind};
use crate::http::{Http, IntoRequest, build, read_json};
use crate::jitter::Jitter;
use crate::provider::{Capabilities, RenewalPolicy, TokenProvider};
use crate::retry::{Backoff, RetryPolicy};
use crate::store::{Outcome, ShareSettings, SharedTokenStore, StoreKey, renew_shared};
use crate::token::TokenSet;
use crate::trace;

/// A token set as the session hands it out: the tokens plus the generation that identifies
/// them, so a 401 can invalidate exactly the token that was used.
///
/// In declaration order (`repr(C)`): what every authorized call reads, `fresh_until`,
/// `invalidated`, `generation` and the access token's header (the first field of
/// [`TokenSet`]), is at the start, on two cache lines rather than three or four.
#[repr(C)]
pub struct Lease {
    /// The earliest of the three instants below: before it the token is
    /// [`State::Fresh`], which the hot path answers with this one comparison.
    fresh_until: Option<SystemTime>,
    generation: u64,
    invalidated: AtomicBool,
    tokens: TokenSet,
    /// This token's renewal moment, drawn from its advisory window.
    advisory_at: Option<SystemTime>,
    mandatory_at: Option<SystemTime>,
    /// When the session stops serving it: its expiry, or for a token that arrived already
    /// expired the moment its backoff allows the next renewal (see [`Inner::renew`]).
    serve_until: Option<SystemTime>,
    expired_on_arrival: bool,
    expiry_counted: AtomicBool,
    /// The token store's version of these tokens, when a store shares them (see
    /// [`Session::with_token_store`]).
    store_version: Option<u64>,
}

impl Lease {
    /// The token set. Its expiry is on the local clock: an absolute expiry the provider gave
    /// with the vendor's `Date` (see [`TokenSet::with_server_date`]) has been re-based.
    pub fn tokens(&self) -> &TokenSet {
        &self.tokens
    }

    /// Which token this is: every renewal or replacement makes a new generation.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// This token's renewal moment: from it, the first call starts a renewal in the
    /// background while the token keeps being served. Drawn for each token from its
    /// advisory window (see [`RenewalPolicy`]); the token's expiry under
    /// [`RenewalPolicy::OnExpiry`]; `None` for a token that never expires.
    pub fn advisory_at(&self) -> Option<SystemTime> {
        self.advisory_at
    }

    /// When this token's mandatory window opens: from then on a caller waits for a due
    /// renewal rather than being served this token (it is served again if that renewal
    /// fails while it is still valid). `None` for a token that never expires.
    pub fn mandatory_at(&self) -> Option<SystemTime> {
        self.mandatory_at
    }

    /// Whether the token had already expired when it arrived (after re-basing on the
    /// vendor's clock). The session renews at once after the first such answer; the second
    /// in a row is served until the session's [`Backoff`] allows the next renewal. That is
    /// the only way a token the session knows is expired reaches the wire: the vendor, whose
    /// clock decides, may well accept it, and the alternative is one renewal per call.
    pub fn expired_on_arrival(&self) -> bool {
        self.expired_on_arrival
    }

    /// The version of these tokens in the session's token store
    /// ([`Session::with_token_store`]): a 401 on them invalidates that version only. `None`
    /// without a store, and for tokens the store does not hold (renewed here while the
    /// store was down, or after another process had published: see
    /// [`SessionStats::store_fallbacks`] and [`SessionStats::store_unpublished`]).
    pub fn store_version(&self) -> Option<u64> {
        self.store_version
    }

    /// Whether [`state`](Self::state) is [`State::Fresh`]: the hot path's one question,
    /// answered without branching on each instant.
    #[inline]
    fn fresh(&self, now: SystemTime) -> bool {
        !self.invalidated.load(Ordering::Acquire) & self.fresh_until.is_none_or(|at| now < at)
    }

    /// Set the three instants, and the earliest of them.
    fn set_moments(
        &mut self,
        advisory_at: Option<SystemTime>,
        mandatory_at: Option<SystemTime>,
        serve_until: Option<SystemTime>,
    ) {
        self.advisory_at = advisory_at;
        self.mandatory_at = mandatory_at;
        self.serve_until = serve_until;
        self.fresh_until = [advisory_at, mandatory_at, serve_until]
            .into_iter()
            .flatten()
            .min();
    }

    fn state(&self, now: SystemTime) -> State {
        if self.invalidated.load(Ordering::Acquire) || self.serve_until.is_some_and(|at| now >= at)
        {
            State::Expired
        } else if self.mandatory_at.is_some_and(|at| now >= at) {
            State::Mandatory
        } else if self.advisory_at.is_some_and(|at| now >= at) {
            State::Advisory
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
            .field("advisory_at", &self.advisory_at)
            .field("mandatory_at", &self.mandatory_at)
            .field("expired_on_arrival", &self.expired_on_arrival)
            .field("invalidated", &self.invalidated.load(Ordering::Relaxed))
            .field("store_version", &self.store_version)
            .finish()
    }
}

/// A lease as [`Session::token`] hands it out: the session's cached lease, borrowed without
/// bumping its reference count (a counter every call on every thread would write), or the
/// one a renewal answered. It dereferences to the [`Lease`].
///
/// Hold it for a call, as the session does while a request is in flight; to keep the lease
/// longer, take it out with [`into_arc`](Self::into_arc) (a long-held guard keeps one of
/// its thread's few borrowing slots, and later loads on that thread count references again).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), auth_core::Error> {
/// use auth_core::{AccessToken, Expiry, Session, TokenSet, http::Http};
/// # #[derive(Debug)] struct Key;
/// # #[auth_core::provider::async_trait]
/// # impl auth_core::provider::TokenProvider for Key {
/// #     async fn sign_in(&self) -> Result<TokenSet, auth_core::Error> {
/// #         Ok(TokenSet::new(AccessToken::new("k"), Expiry::never()))
/// #     }
/// # }
/// let session = Session::new(Key, Http::new()?);
/// let lease = session.token().await?;
/// assert_eq!(lease.tokens().access_token().expose(), "k");
/// let kept: std::sync::Arc<auth_core::Lease> = lease.into_arc();
/// assert_eq!(kept.generation(), session.current().unwrap().generation());
/// # Ok(()) }
/// ```
pub struct LeaseGuard(arc_swap::Guard<Option<Arc<Lease>>>);

impl LeaseGuard {
    fn owned(lease: Arc<Lease>) -> Self {
        LeaseGuard(arc_swap::Guard::from_inner(Some(lease)))
    }

    /// The lease itself, kept alive for as long as you hold it.
    pub fn into_arc(self) -> Arc<Lease> {
        let lease: &Arc<Lease> = self.arc();
        lease.clone()
    }

    #[inline]
    fn arc(&self) -> &Arc<Lease> {
        match &*self.0 {
            Some(lease) => lease,
            None => unreachable!("a LeaseGuard is only made of a lease"),
        }
    }
}

impl std::ops::Deref for LeaseGuard {
    type Target = Lease;
    #[inline]
    fn deref(&self) -> &Lease {
        self.arc()
    }
}

impl Clone for LeaseGuard {
    fn clone(&self) -> Self {
        LeaseGuard::owned(self.arc().clone())
    }
}

impl From<LeaseGuard> for Arc<Lease> {
    fn from(lease: LeaseGuard) -> Self {
        lease.into_arc()
    }
}

impl fmt::Debug for LeaseGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// What the 401 retry needs to send exactly the same request again. A request without a
/// body keeps only its method, URL, headers, version and timeout (cloning a whole request
/// also made it a map of extensions, on every call, for a retry that is rare); one with a
/// body that can be replayed is cloned whole (its body is shared, not copied).
pub(crate) enum Replay {
    Bodiless {
        method: reqwest::Method,
        url: url::Url,
        headers: reqwest::header::HeaderMap,
        version: reqwest::Version,
        timeout: Option<Duration>,
    },
    Whole(reqwest::Request),
}

impl Replay {
    /// `None` for a body that cannot be replayed (a stream).
    fn of(request: &reqwest::Request) -> Option<Replay> {
        if request.body().is_some() {
            return request.try_clone().map(Replay::Whole);
        }
        Some(Replay::Bodiless {
            method: request.method().clone(),
            url: request.url().clone(),
            headers: request.headers().clone(),
            version: request.version(),
            timeout: request.timeout().copied(),
        })
    }

    fn into_request(self) -> reqwest::Request {
        match self {
            Replay::Whole(request) => request,
            Replay::Bodiless {
                method,
                url,
                headers,
                version,
                timeout,
            } => {
                let mut request = reqwest::Request::new(method, url);
                *request.headers_mut() = headers;
                *request.version_mut() = version;
                if timeout.is_some() {
                    *request.timeout_mut() = timeout;
                }
                request
            }
        }
    }
}

/// Where a token stands at a given instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before its renewal moment: served, nothing else happens.
    Fresh,
    /// In its advisory window: served; a renewal starts in the background when one is due.
    Advisory,
    /// In its mandatory window: callers wait for a due renewal (served while backing off).
    Mandatory,
    /// Expired, rejected, or (a token expired on arrival) past its backoff: never served.
    Expired,
}

/// Counters of what a session did, for demos, metrics and exact assertions in tests.
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
    /// Tokens found expired by a caller (each token counted once; renewals ahead of expiry
    /// are not expiries, nor are tokens counted in
    /// [`expired_on_arrival`](Self::expired_on_arrival)).
    pub expiries: u64,
    /// Token sets whose token had already expired when they arrived (after re-basing on the
    /// vendor's clock), from a renewal or [`Session::replace`]: a vendor's clock far off
    /// ours without a `Date` header, or a vendor bug. See [`Lease::expired_on_arrival`].
    pub expired_on_arrival: u64,
    /// The local clock minus the vendor's, in milliseconds, as seen on the last token answer
    /// whose provider gave the `Date` header ([`TokenSet::with_server_date`]): positive when
    /// the local clock runs ahead. `None` until such an answer. It includes the network's
    /// delay and the header's whole-second resolution, so agreeing clocks read 0 to about
    /// 1 000; alert well beyond that (a minute, say). Absolute expiries are re-based with
    /// it, so a skew costs nothing here, but it breaks other things (TLS, signatures, logs).
    pub clock_skew_ms: Option<i64>,
    /// 401 answers received on authorized calls.
    pub unauthorized: u64,
    /// Calls that got a 401, renewed, and then succeeded on the single retry.
    pub recovered_401: u64,
    /// Authorized requests sent (retries included).
    pub requests: u64,
    /// Renewals answered by the token store ([`Session::with_token_store`]) with a set
    /// another session (another process of the fleet) had published, found there or waited
    /// for: no token request was sent from here. Not counted in `sign_ins` or `refreshes`,
    /// which count only the token requests this session made.
    pub store_loaded: u64,
    /// Renewals this session made on its own because the token store failed (down, or
    /// slower than its [`ShareSettings::store_timeout`]): the tokens are this process's
    /// alone until the store answers again.
    pub store_fallbacks: u64,
    /// Renewals this session made under the store's lease whose set the store then refused
    /// (the lease had lapsed and another session published first): used here, not shared.
    pub store_unpublished: u64,
    /// Requests a fleet-wide rate limiter admitted by its local stand-in because it could
    /// not reach its shared state (see [`Limiter::stats`](crate::limit::Limiter::stats)).
    pub limiter_degraded: u64,
    /// Whether the rate limiter is degraded to local limits now.
    pub limiter_degraded_now: bool,
}

#[derive(Default)]
struct Counters {
    sign_ins: AtomicU64,
    refreshes: AtomicU64,
    renewal_retries: AtomicU64,
    refresh_rejections: AtomicU64,
    renewal_failures: AtomicU64,
    expiries: AtomicU64,
    expired_on_arrival: AtomicU64,
    unauthorized: AtomicU64,
    recovered_401: AtomicU64,
    /// Bumped by every authorized request on every thread: striped, so that threads do
    /// not write one cache line back and forth.
    requests: Striped,
    store_loaded: AtomicU64,
    store_fallbacks: AtomicU64,
    store_unpublished: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// A counter in cache-line-sized stripes, one per thread (modulo [`Striped::STRIPES`]):
/// an increment writes only its thread's line; a read sums them.
#[derive(Default)]
struct Striped([Stripe; Striped::STRIPES]);

#[derive(Default)]
#[repr(align(128))]
struct Stripe(AtomicU64);

impl Striped {
    const STRIPES: usize = 8;

    #[inline]
    fn bump(&self) {
        use std::cell::Cell;
        thread_local! {
            static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
        }
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let i = STRIPE.with(|s| {
            if s.get() == usize::MAX {
                s.set(NEXT.fetch_add(1, Ordering::Relaxed) % Self::STRIPES);
            }
            s.get()
        });
        self.0[i].0.fetch_add(1, Ordering::Relaxed);
    }

    fn load(&self) -> u64 {
        self.0.iter().map(|s| s.0.load(Ordering::Relaxed)).sum()
    }
}

type RenewalResult = Result<Arc<Lease>, Error>;
type Flight = Shared<BoxFuture<'static, RenewalResult>>;

/// In declaration order (`repr(C)`), so that what every authorized call reads comes first:
/// `current`, `clock`, `provider`, `http` and `capabilities` share the first cache line of
/// the allocation (`Counters`' stripes align the whole to 128 bytes). Left to the compiler,
/// they were spread over three lines, each one more miss per call on a busy host.
#[repr(C)]
struct Inner {
    /// The cached lease the hot path reads.
    current: ArcSwapOption<Lease>,
    /// `http`'s clock, kept here so that reading it takes no further pointer.
    clock: SharedClock,
    provider: Arc<dyn TokenProvider>,
    http: Http,
    capabilities: Capabilities,
    /// The last [`RETIRED`] leases replaced in `current`, newest last: an authorized call
    /// holds only its lease's generation across the send (a held `arc_swap` guard takes one
    /// of a thread's few slots, and past them every load bumps the lease's shared count),
    /// and finds the tokens it sent here when an error body must be scrubbed of them.
    retired: Mutex<std::collections::VecDeque<Arc<Lease>>>,
    policy: RenewalPolicy,
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
    /// Renewals that failed in a row; sets the next backoff (see [`Backoff`]).
    failures_in_a_row: AtomicU32,
    /// Renewal answers in a row whose token had expired on arrival.
    expired_in_a_row: AtomicU32,
    /// The earliest instant (nanoseconds since the epoch on the injected clock) at which a
    /// renewal may start while the current token is still valid; 0 for "any time". Written
    /// before the flight slot is emptied, so a caller that sees no flight sees it.
    next_attempt: AtomicU64,
    /// The last clock skew seen, in milliseconds; [`NO_SKEW`] before any.
    clock_skew: AtomicI64,
    /// The token store the renewals go through, if any. Read once per renewal, never on
    /// the hot path.
    sharing: ArcSwapOption<Sharing>,
}

/// A session's token store: where its set is shared, under which key, and how.
struct Sharing {
    store: SharedTokenStore,
    key: StoreKey,
    settings: ShareSettings,
}

/// [`Inner::clock_skew`] before any answer carried a `Date`.
const NO_SKEW: i64 = i64::MIN;

/// What a session's `with_*` setters change. Read once per renewal or wait, never on the
/// hot path.
#[derive(Debug, Clone, Copy)]
struct Settings {
    retries: RetryPolicy,
    backoff: Backoff,
    token_timeout: Duration,
    max_wait: Option<Duration>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            retries: RetryPolicy::default(),
            backoff: Backoff::default(),
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
/// - Each token is renewed ahead of its expiry in two windows sized from its lifetime (see
///   [`RenewalPolicy`]): from a renewal moment drawn at random from its advisory window, a
///   call starts a background renewal and the valid token keeps being served; inside the
///   mandatory window callers wait for the renewal. A failed renewal never throws away a
///   still-valid token: it keeps being served, and the next attempt waits for a jittered,
///   growing [`Backoff`] ([`with_renewal_backoff`](Self::with_renewal_backoff)). Once the
///   token is expired or rejected, every caller gets a fresh attempt or the one in flight.
/// - An absolute expiry is read on the vendor's clock when the provider passes the answer's
///   `Date` ([`TokenSet::with_server_date`]); the skew seen is in
///   [`SessionStats::clock_skew_ms`].
/// - No token the session knows is expired is sent: a renewal answer already expired on
///   arrival is renewed again at once; only a second such answer in a row is used, until
///   the backoff allows the next renewal ([`Lease::expired_on_arrival`]).
/// - A rejected refresh token falls back to a full sign-in when the provider can sign in.
/// - A token request that fails transiently (5xx, connect error, timeout) while no valid
///   token remains is retried inside the one renewal, with a short jittered backoff
///   ([`with_renewal_retries`](Self::with_renewal_retries)); a vendor's rejection is not.
/// - Each token request has its own timeout
///   ([`with_token_timeout`](Self::with_token_timeout)), and a caller can bound its own
///   wait for a renewal ([`with_max_wait`](Self::with_max_wait),
///   [`token_within`](Self::token_within)) without cancelling it for the others.
/// - With a token store ([`with_token_store`](Self::with_token_store)) the single flight
///   is shared by every session on the store, in this process and others: one sign-in, one
///   renewal per expiry, from the latest refresh token. The hot path stays the same.
///
/// Cheap to clone; clones share the cache.
///
/// A hundred callers on an expired token cause one sign-in, and every one of them gets the
/// new token (its [`Lease`] says which generation it is); [`SessionStats`] counts it all:
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use std::time::Duration;
/// use auth_core::provider::{TokenProvider, async_trait};
/// use auth_core::{AccessToken, Clock as _, Error, Expiry, ManualClock, Session, TokenSet};
///
/// #[derive(Debug)]
/// struct Slow { clock: ManualClock, issued: AtomicU64 }
///
/// #[async_trait]
/// impl TokenProvider for Slow {
///     async fn sign_in(&self) -> Result<TokenSet, Error> {
///         tokio::task::yield_now().await; // the callers pile up meanwhile
///         let n = self.issued.fetch_add(1, Ordering::SeqCst) + 1;
///         let expiry = Expiry::lifetime_from(Duration::from_secs(3600), self.clock.now());
///         Ok(TokenSet::new(AccessToken::new(format!("t{n}")), expiry))
///     }
/// }
///
/// # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
/// # async fn main() -> Result<(), Error> {
/// let clock = ManualClock::new();
/// let http = auth_core::http::Http::new()?.with_clock(clock.clone());
/// let session = Session::new(Slow { clock: clock.clone(), issued: AtomicU64::new(0) }, http);
/// let first = session.token().await?;
/// clock.advance(Duration::from_secs(3601));
/// let callers: Vec<_> = (0..100)
///     .map(|_| { let s = session.clone(); tokio::spawn(async move { s.token().await }) })
///     .collect();
/// for c in callers {
///     let lease = c.await.expect("task")?;
///     assert_eq!(lease.tokens().access_token().expose(), "t2");
///     assert!(lease.generation() > first.generation());
/// }
/// let stats = session.stats();
/// assert_eq!((stats.sign_ins, stats.expiries), (2, 1));
/// # Ok(()) }
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
    pub fn new(provider: impl TokenProvider, http: Http) -> Self {
        Self::from_arc(Arc::new(provider), http)
    }

    /// Like [`new`](Self::new), for a provider already behind an `Arc`.
    pub fn from_arc(provider: Arc<dyn TokenProvider>, http: Http) -> Self {
        let policy = provider.policy();
        let capabilities = provider.capabilities();
        Session {
            inner: Arc::new(Inner {
                current: ArcSwapOption::empty(),
                retired: Mutex::new(std::collections::VecDeque::with_capacity(RETIRED)),
                clock: http.clock().clone(),
                provider,
                http,
                policy,
                capabilities,
                flight: Mutex::new(None),
                flying: AtomicBool::new(false),
                next_generation: AtomicU64::new(1),
                next_flight: AtomicU64::new(1),
                sign_outs: AtomicU64::new(0),
                settings: ArcSwap::from_pointee(Settings::default()),
                jitter: Jitter::from_entropy(),
                counters: Counters::default(),
                failures_in_a_row: AtomicU32::new(0),
                expired_in_a_row: AtomicU32::new(0),
                next_attempt: AtomicU64::new(0),
                clock_skew: AtomicI64::new(NO_SKEW),
                sharing: ArcSwapOption::empty(),
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

    /// How long the session waits before its next renewal attempt while it still has a
    /// token to serve: after a failed renewal, and after two renewals in a row returned
    /// tokens already expired on arrival. The default ([`Backoff::default`]) starts at 1 s
    /// and doubles up to 60 s. Shared with this session's clones.
    pub fn with_renewal_backoff(self, backoff: Backoff) -> Self {
        self.configure(|s| s.backoff = backoff)
    }

    /// Seed the session's jitter (each token's renewal moment within its advisory window,
    /// the retry and renewal backoffs), so a test sees the same moments and waits on every
    /// run. Sessions are otherwise seeded apart, so many clients do not renew or retry in
    /// step.
    pub fn with_jitter_seed(self, seed: u64) -> Self {
        self.inner.jitter.reseed(seed);
        self
    }

    /// Renew through `store`: this session's token set lives there under `key`, shared
    /// with every session on the same store and key (the other processes of a fleet on a
    /// Redis store; other clients of this process on a
    /// [`MemoryStore`](crate::store::MemoryStore)). Each renewal then runs
    /// [`renew_shared`]: a usable set another session published is taken as it is;
    /// otherwise one session takes the store's lease and signs in or refreshes (from the
    /// latest set written, so a rotated refresh token is never stale) while the others wait
    /// for what it publishes. A 401 invalidates the store's version of the token that was
    /// used, and only it. A store that fails never fails a call: the session renews on its
    /// own and counts it ([`SessionStats::store_fallbacks`]).
    ///
    /// The hot path is unchanged: a valid cached token is served without touching the
    /// store. The lease TTL is raised, if needed, above one token request's worst case
    /// (the token timeout times the attempts of the renewal retries, their backoff, and two
    /// store calls), so a live holder is not taken over. Without this call the session
    /// renews on its own, as it always did. Shared with this session's clones.
    ///
    /// [`replace`](Self::replace) installs a set in this session only (it is not
    /// published), and [`clear`](Self::clear) forgets this session's copy only: the next
    /// call takes the store's set again if it is usable. To end the shared session
    /// everywhere, sign out at the vendor: the next 401 invalidates the stored version for
    /// every process.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), auth_core::Error> {
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use auth_core::store::{Identity, MemoryStore, ShareSettings, TokenStore};
    /// use auth_core::{AccessToken, Error, Expiry, Session, TokenSet, http::Http};
    ///
    /// #[derive(Debug, Default)]
    /// struct Counted(Arc<AtomicU64>);
    ///
    /// #[auth_core::provider::async_trait]
    /// impl auth_core::provider::TokenProvider for Counted {
    ///     async fn sign_in(&self) -> Result<TokenSet, Error> {
    ///         let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
    ///         Ok(TokenSet::new(AccessToken::new(format!("t{n}")), Expiry::never()))
    ///     }
    /// }
    ///
    /// let store = MemoryStore::new();
    /// let key = store.key(&Identity::new("example").with_part("alice"));
    /// let sign_ins = Arc::new(AtomicU64::new(0));
    /// let session = |store: &MemoryStore| {
    ///     Session::new(Counted(sign_ins.clone()), Http::new().unwrap())
    ///         .with_token_store(store.clone(), key.clone(), ShareSettings::default())
    /// };
    /// let (a, b) = (session(&store), session(&store));
    /// assert_eq!(a.token().await?.tokens().access_token().expose(), "t1");
    /// // The second session finds the first one's set in the store: no sign-in of its own.
    /// let lease = b.token().await?;
    /// assert_eq!(lease.tokens().access_token().expose(), "t1");
    /// assert_eq!(lease.store_version(), Some(1));
    /// assert_eq!((sign_ins.load(Ordering::SeqCst), b.stats().sign_ins, b.stats().store_loaded), (1, 0, 1));
    /// # Ok(()) }
    /// ```
    pub fn with_token_store(
        self,
        store: impl Into<SharedTokenStore>,
        key: StoreKey,
        settings: ShareSettings,
    ) -> Self {
        self.inner.sharing.store(Some(Arc::new(Sharing {
            store: store.into(),
            key,
            settings,
        })));
        self
    }

    /// The token store and key this session renews through, if any
    /// ([`with_token_store`](Self::with_token_store)).
    pub fn token_store(&self) -> Option<(SharedTokenStore, StoreKey)> {
        self.inner
            .sharing
            .load()
            .as_ref()
            .map(|s| (s.store.clone(), s.key.clone()))
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
    pub fn http(&self) -> &Http {
        &self.inner.http
    }

    /// The renewal policy in force.
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
        let limiter = self.inner.http.limiter_stats();
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        SessionStats {
            sign_ins: l(&c.sign_ins),
            refreshes: l(&c.refreshes),
            renewal_retries: l(&c.renewal_retries),
            refresh_rejections: l(&c.refresh_rejections),
            renewal_failures: l(&c.renewal_failures),
            expiries: l(&c.expiries),
            expired_on_arrival: l(&c.expired_on_arrival),
            clock_skew_ms: Some(self.inner.clock_skew.load(Ordering::Relaxed))
                .filter(|s| *s != NO_SKEW),
            unauthorized: l(&c.unauthorized),
            recovered_401: l(&c.recovered_401),
            requests: c.requests.load(),
            store_loaded: l(&c.store_loaded),
            store_fallbacks: l(&c.store_fallbacks),
            store_unpublished: l(&c.store_unpublished),
            limiter_degraded: limiter.degraded,
            limiter_degraded_now: limiter.degraded_now,
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
    pub fn replace(&self, tokens: TokenSet) -> Arc<Lease> {
        let lease = Arc::new(self.inner.make_lease(tokens));
        if lease.expired_on_arrival {
            bump(&self.inner.counters.expired_on_arrival);
        }
        // Under the flight lock: a renewal finishing now either sees this token or is
        // already installed, never overwrites it after checking.
        let _slot = lock(&self.inner.flight);
        self.inner.install(Some(lease.clone()));
        self.inner.reset_backoff();
        self.inner.expired_in_a_row.store(0, Ordering::Release);
        lease
    }

    /// Forget the cached token (after a sign-out); the next call signs in again. A renewal
    /// already in flight still answers the callers waiting on it, but its token is not
    /// installed.
    pub fn clear(&self) {
        let mut slot = lock(&self.inner.flight);
        self.inner.sign_outs.fetch_add(1, Ordering::AcqRel);
        self.inner.install(None);
        self.inner.reset_backoff();
        self.inner.expired_in_a_row.store(0, Ordering::Release);
        // Callers from now on start a renewal of their own rather than join the old one.
        self.inner.land(&mut slot, None);
    }

    /// Mark the token of `generation` as rejected. A token someone already renewed (a newer
    /// generation) is untouched, so two callers that both saw a 401 cause one renewal.
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
    /// A fresh token (before its renewal moment) is served by one lock-free load and a clock
    /// read, without writing anything shared: the [`LeaseGuard`] borrows the cached lease
    /// rather than bumping its reference count, so calls on many threads do not contend.
    pub async fn token(&self) -> Result<LeaseGuard, Error> {
        if let Some(lease) = self.fresh_now() {
            return Ok(lease);
        }
        // Boxed: waiting for a renewal is a large future, and every call would carry it.
        Box::pin(self.token_waiting(None))
            .await
            .map(LeaseGuard::owned)
    }

    /// The cached lease if it is fresh (before its renewal moment): [`token`](Self::token)'s
    /// fast path, which needs no await.
    #[inline]
    fn fresh_now(&self) -> Option<LeaseGuard> {
        let now = self.inner.clock.now();
        let current = self.inner.current.load();
        current
            .as_ref()
            .is_some_and(|l| l.fresh(now))
            .then(|| LeaseGuard(current))
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
    pub async fn token_within(&self, max_wait: Duration) -> Result<LeaseGuard, Error> {
        self.token_waiting(Some(max_wait))
            .await
            .map(LeaseGuard::owned)
    }

    async fn token_waiting(&self, max_wait: Option<Duration>) -> Result<Arc<Lease>, Error> {
        let inner = &self.inner;
        let now = inner.http.now();
        let current = inner.current.load_full();
        if let Some(cur) = &current {
            match cur.state(now) {
                State::Fresh => return Ok(cur.clone()),
                State::Advisory => {
                    // Keep serving the valid token; renew in the background, once, when the
                    // backoff of a failed attempt allows. Without a runtime the renewal waits
                    // until the token is expired.
                    if !inner.flying.load(Ordering::Acquire) && inner.attempt_due(now) {
                        let _ = inner.clone().flight();
                    }
                    return Ok(cur.clone());
                }
                // Backing off after a failure: nothing to wait for, and the token is valid.
                State::Mandatory
                    if !inner.flying.load(Ordering::Acquire) && !inner.attempt_due(now) =>
                {
                    return Ok(cur.clone());
                }
                State::Mandatory => {}
                State::Expired => {
                    // Count each expired token once, however many callers find it.
                    if !cur.invalidated.load(Ordering::Acquire)
                        && !cur.expired_on_arrival
                        && !cur.expiry_counted.swap(true, Ordering::AcqRel)
                    {
                        bump(&inner.counters.expiries);
                    }
                }
            }
        }
        let flight = match inner.clone().flight() {
            Ok(flight) => flight,
            // No runtime to renew on: a token inside its mandatory window is still valid.
            Err(e) => {
                return match current {
                    Some(cur) if cur.state(now) != State::Expired => Ok(cur),
                    _ => Err(e),
                };
            }
        };
        let outcome = match flight {
            Some(flight) => match max_wait.or(inner.settings.load().max_wait) {
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
            // Someone renewed between our load and the flight check, or a failure's
            // backoff began: the current token is the answer.
            None => inner
                .current
                .load_full()
                .ok_or_else(|| Error::new(ErrorKind::SessionExpired, "no token available")),
        };
        match (outcome, current) {
            // A renewal inside the mandatory window failed (or outlasted our wait): the token
            // is still valid and still the session's, so it is served after all.
            (Err(e), Some(cur)) => {
                let still_current = inner
                    .current
                    .load()
                    .as_ref()
                    .is_some_and(|l| l.generation == cur.generation);
                if still_current && cur.state(inner.http.now()) != State::Expired {
                    Ok(cur)
                } else {
                    Err(e)
                }
            }
            (outcome, _) => outcome,
        }
    }

    /// Wait for the renewal in flight, if any (for example a background renewal started
    /// inside the margin), and return its result.
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
    pub fn send(
        &self,
        request: RequestBuilder,
    ) -> impl Future<Output = Result<Response, Error>> + Send + '_ {
        self.send_with_secrets(request, &[])
    }

    /// [`send`](Self::send), also scrubbing `secrets` (beyond the session's own tokens) from
    /// any error body.
    pub fn send_with_secrets<'a>(
        &'a self,
        request: RequestBuilder,
        secrets: &'a [&'a SecretString],
    ) -> impl Future<Output = Result<Response, Error>> + Send + 'a {
        use futures::future::Either;
        match self.prepare(request) {
            Ok((request, replay)) => Either::Left(call(self, self.start(request), replay, secrets)),
            Err(e) => Either::Right(std::future::ready(Err(e))),
        }
    }

    /// The request built and checked, and what a 401 retry would replay. Done when the call
    /// is made, so that its future holds the built request once and the builder not at all.
    pub(crate) fn prepare(
        &self,
        request: RequestBuilder,
    ) -> Result<(reqwest::Request, Option<Replay>), Error> {
        let request = build(request)?;
        // Refuse before a token is fetched or put on the wire.
        crate::http::ensure_secure(request.url())?;
        // Kept only when a 401 could be retried at all.
        let replay = match self.inner.capabilities.can_renew() {
            true => Replay::of(&request),
            false => None,
        };
        Ok((request, replay))
    }

    /// Send the request `make` builds, as [`send`](Self::send) does, on this session as it
    /// is (not a clone of it, as an [`AuthorizedRequest`](crate::AuthorizedRequest) holds).
    /// The one retry after a 401 sends what `make` builds again, so nothing is kept for it
    /// meanwhile (`send` copies each request's URL and headers for it): `make` must build
    /// the same request each time. Vendor crates' generic calls go this way.
    ///
    /// `make` may build a [`RequestBuilder`] or, to save the builder's clone of the client,
    /// a [`reqwest::Request`] ([`Http::new_request`]).
    pub fn send_built<'a, F, R>(
        &'a self,
        make: F,
    ) -> impl Future<Output = Result<Response, Error>> + Send + 'a
    where
        F: Fn() -> Result<R, Error> + Send + 'a,
        R: IntoRequest,
    {
        // The request goes from `make` to the transport in this one frame, with no error
        // path holding a copy of it: the frame every call's send runs below stays small.
        let start = match make().and_then(IntoRequest::into_request) {
            Ok(request) => match crate::http::ensure_secure(request.url()) {
                Ok(()) => self.start(request),
                Err(e) => Start::Failed(e),
            },
            Err(e) => Start::Failed(e),
        };
        let again = Rebuild {
            make,
            can_renew: self.inner.capabilities.can_renew(),
        };
        let none: &[&SecretString] = &[];
        call(self, start, again, none)
    }

    /// The rest of [`send_with_secrets`](Self::send_with_secrets) after a 401.
    async fn after_401(
        &self,
        resp: Response,
        generation: u64,
        lease: Option<Arc<Lease>>,
        replay: Option<reqwest::Request>,
        secrets: &[&SecretString],
    ) -> Result<Response, Error> {
        bump(&self.inner.counters.unauthorized);
        let err = self.error_sent_on(resp, lease.as_deref(), secrets).await;
        // Not every 401 is the token's fault (a wrong end-user password on a login endpoint
        // is one too): the provider decides, from the parsed vendor error.
        let vendor = self.inner.provider.name();
        if !self.inner.provider.rejects_token(&err) {
            trace::unauthorized(vendor, false, None);
            return Err(err);
        }
        let Some(replay) = replay else {
            trace::unauthorized(vendor, false, None);
            return Err(err);
        };
        self.invalidate(generation);
        let out = async {
            let fresh = self.token().await?;
            let resp = self.attempt(replay, &fresh)?.await?;
            if resp.status() == StatusCode::UNAUTHORIZED {
                bump(&self.inner.counters.unauthorized);
                return Err(self.error_of(resp, &fresh, secrets).await);
            }
            let out = self.finish(resp, &fresh, secrets).await;
            if out.is_ok() {
                bump(&self.inner.counters.recovered_401);
            }
            out
        }
        .await;
        trace::unauthorized(vendor, true, Some(&out));
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
    pub fn send_json<T: DeserializeOwned>(
        &self,
        request: RequestBuilder,
    ) -> impl Future<Output = Result<T, Error>> {
        use futures::TryFutureExt as _;
        self.send(request).and_then(read_json)
    }

    /// Authorize `request` and hand back its send (not an `async fn`: its future would hold
    /// the request a second time beside the transport's).
    #[inline]
    fn attempt(
        &self,
        mut request: reqwest::Request,
        lease: &Lease,
    ) -> Result<impl Future<Output = Result<Response, Error>> + Send + use<>, Error> {
        self.authorize(lease, &mut request)?;
        Ok(self.inner.http.send_raw(request))
    }

    /// Put `lease`'s token on `request` the vendor's way, counted as an authorized request.
    #[inline]
    pub(crate) fn authorize(
        &self,
        lease: &Lease,
        request: &mut reqwest::Request,
    ) -> Result<(), Error> {
        self.inner
            .provider
            .authorize_request(&lease.tokens, request)?;
        self.inner.counters.requests.bump();
        Ok(())
    }

    /// What a 401 on `request` could be retried with: a copy of it when the credential can
    /// be renewed and its body can be replayed, else `None`.
    #[cfg(feature = "middleware")]
    pub(crate) fn replay_of(&self, request: &reqwest::Request) -> Option<reqwest::Request> {
        if self.inner.capabilities.can_renew() {
            request.try_clone()
        } else {
            None
        }
    }

    /// Whether the vendor's (parsed) 401 means the token was rejected.
    #[cfg(feature = "middleware")]
    pub(crate) fn rejects_token(&self, error: &Error) -> bool {
        self.inner.provider.rejects_token(error)
    }

    /// The vendor's error for a 401 whose body is `body`, scrubbed like the pipeline's, on
    /// a request sent with `lease`; without it (see `Inner::retired`) the body is left out.
    #[cfg(feature = "middleware")]
    pub(crate) fn unauthorized_error(
        &self,
        status: StatusCode,
        headers: &reqwest::header::HeaderMap,
        body: &[u8],
        lease: Option<&Lease>,
    ) -> Error {
        let all = lease_secrets(&*self.inner.provider, lease, &[]);
        let body = if lease.is_some() { body } else { b"" };
        self.inner.http.error_of(status, headers, body, &all)
    }

    /// The lease of `generation`, current or among the last replaced (`Inner::retired`).
    #[cfg(feature = "middleware")]
    pub(crate) fn lease_of(&self, generation: u64) -> Option<Arc<Lease>> {
        self.inner.lease_of(generation)
    }

    /// Count a 401 on an authorized call (`recovered`: the retry after it succeeded).
    #[cfg(feature = "middleware")]
    pub(crate) fn count_401(&self, recovered: bool) {
        if recovered {
            bump(&self.inner.counters.recovered_401);
        } else {
            bump(&self.inner.counters.unauthorized);
        }
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
        // Boxed: reading and parsing an error body is a large future most calls never need.
        Err(Box::pin(self.error_of(resp, lease, secrets)).await)
    }

    /// [`error_of`](Self::error_of) for a call sent on `lease`, if the session still has it;
    /// without it the tokens the call sent are unknown, so the answer's body is not read
    /// (the error keeps its status and headers). That takes more than [`RETIRED`]
    /// renewals during one call.
    async fn error_sent_on(
        &self,
        resp: Response,
        lease: Option<&Lease>,
        secrets: &[&SecretString],
    ) -> Error {
        let all = lease_secrets(&*self.inner.provider, lease, secrets);
        match lease {
            Some(_) => self.inner.http.error_from(resp, &all).await,
            None => self
                .inner
                .http
                .error_of(resp.status(), resp.headers(), b"", &all),
        }
    }

    /// The error of a non-success answer on an authorized call, scrubbed of the call's
    /// secrets, the lease's tokens and the provider's credentials.
    async fn error_of(&self, resp: Response, lease: &Lease, secrets: &[&SecretString]) -> Error {
        self.error_sent_on(resp, Some(lease), secrets).await
    }
}

/// The secrets an authorized call names beyond the session's own: borrowed
/// ([`Session::send_with_secrets`]) or owned by the call ([`AuthorizedRequest`]). Listed only
/// when an answer is not a success.
///
/// [`AuthorizedRequest`]: crate::AuthorizedRequest
pub(crate) trait CallSecrets: Send + Sync {
    fn refs(&self) -> Vec<&SecretString>;
}

impl CallSecrets for &[&SecretString] {
    fn refs(&self) -> Vec<&SecretString> {
        self.to_vec()
    }
}

impl CallSecrets for Vec<SecretString> {
    fn refs(&self) -> Vec<&SecretString> {
        self.iter().collect()
    }
}

/// An authorized call, begun ([`Session::start`]): the send, and the rare paths (the wait
/// for a token, an error body, the 401 retry) boxed. Every authorized call awaits this
/// future, so it is kept small: not an `async fn` (whose arguments are moved into locals,
/// each held twice), but a block that uses what it captured in place, with no temporary
/// across an await.
#[allow(
    clippy::manual_async_fn,
    reason = "an async fn would hold its arguments twice in its future"
)]
pub(crate) fn call<'a, B, R, S, F>(
    session: B,
    start: Start<F>,
    replay: R,
    secrets: S,
) -> impl Future<Output = Result<Response, Error>> + Send + 'a
where
    B: std::borrow::Borrow<Session> + Send + Sync + 'a,
    R: Resend + 'a,
    S: CallSecrets + 'a,
    F: Future<Output = Result<Response, reqwest::Error>> + Send + 'a,
{
    use crate::http::{Sending, transport_error};
    async move {
        let this: &Session = session.borrow();
        // Only the generation is held across the send, not the lease (see `Inner::retired`).
        let (generation, resp) = match start {
            Start::Sending(lease, sending) => {
                let generation = lease.generation;
                drop(lease);
                let resp = match sending {
                    Sending::Direct(sent) => sent.await.map_err(transport_error)?,
                    Sending::Slow(sent) => sent.await?,
                };
                (generation, resp)
            }
            Start::Failed(e) => return Err(e),
            Start::Waiting(request) => waiting(this, request).await?,
        };
        if resp.status().is_success() {
            return Ok(resp);
        }
        not_success(this, resp, generation, replay, secrets).await
    }
}

/// An authorized call that found no fresh token: the wait for one, and the send on it
/// (the lease's generation, and the answer). Boxed and out of line, as [`not_success`] is:
/// the wait's states and frames are not every call's.
#[inline(never)]
fn waiting(
    this: &Session,
    request: Box<reqwest::Request>,
) -> BoxFuture<'_, Result<(u64, Response), Error>> {
    Box::pin(async move {
        let lease = this.token().await?;
        let sending = this.attempt(*request, &lease)?;
        let generation = lease.generation;
        drop(lease);
        Ok((generation, sending.await?))
    })
}

/// The rest of an authorized call whose answer is not a success: its error, or the one
/// retry after a 401. Boxed, as reading an error body and the retry's states would make
/// every call's future several times larger; and made out of line, as building those
/// futures takes kilobytes of stack: in the call's own poll, every poll of every call
/// (and the transport's polls beneath it) would run that much deeper in the stack.
#[inline(never)]
fn not_success<'a, R, S>(
    this: &'a Session,
    resp: Response,
    generation: u64,
    replay: R,
    secrets: S,
) -> BoxFuture<'a, Result<Response, Error>>
where
    R: Resend + 'a,
    S: CallSecrets + 'a,
{
    Box::pin(async move {
        let secrets = secrets.refs();
        let lease = this.inner.lease_of(generation);
        if resp.status() != StatusCode::UNAUTHORIZED {
            return Err(this.error_sent_on(resp, lease.as_deref(), &secrets).await);
        }
        this.after_401(resp, generation, lease, replay.resend(), &secrets)
            .await
    })
}

/// What the one retry after a 401 sends: a kept copy, or the request built again.
pub(crate) trait Resend: Send {
    /// The request to send again; `None` when it cannot be.
    fn resend(self) -> Option<reqwest::Request>;
}

impl Resend for Option<Replay> {
    fn resend(self) -> Option<reqwest::Request> {
        self.map(Replay::into_request)
    }
}

/// A request built again by what built it ([`Session::send_built`]).
struct Rebuild<F> {
    make: F,
    can_renew: bool,
}

impl<F: Fn() -> Result<R, Error> + Send, R: IntoRequest> Resend for Rebuild<F> {
    fn resend(self) -> Option<reqwest::Request> {
        if !self.can_renew {
            return None;
        }
        (self.make)().and_then(IntoRequest::into_request).ok()
    }
}

/// How an authorized call begins: sent on a lease, or waiting for a token first.
pub(crate) enum Start<F> {
    Sending(LeaseGuard, crate::http::Sending<F>),
    /// No fresh token: the request waits (boxed, as this path is rare) for one.
    Waiting(Box<reqwest::Request>),
    Failed(Error),
}

impl Session {
    /// Begin an authorized call: with a fresh token, authorize `request` and hand it to the
    /// transport now, so that the call's future holds the transport's small one and not the
    /// request; without one, the request waits. Every caller has passed `request` through
    /// `ensure_secure` already (before a token is fetched), so it is not checked again.
    #[inline(always)]
    pub(crate) fn start(
        &self,
        mut request: reqwest::Request,
    ) -> Start<impl Future<Output = Result<Response, reqwest::Error>> + Send + use<>> {
        let Some(lease) = self.fresh_now() else {
            return Start::Waiting(boxed(request));
        };
        if let Err(e) = self.authorize(&lease, &mut request) {
            return Start::Failed(e);
        }
        Start::Sending(lease, self.inner.http.send_secure(request))
    }
}

/// `request` on the heap, out of line: the stack frame where every authorized request is
/// built and sent holds no second copy of it for this rare path.
#[cold]
#[inline(never)]
fn boxed(request: reqwest::Request) -> Box<reqwest::Request> {
    Box::new(request)
}

/// The secrets an authorized call's error is scrubbed of: the ones the call names, the
/// lease's tokens (when the session still has the lease), and the provider's credentials.
fn lease_secrets<'a>(
    provider: &'a dyn TokenProvider,
    lease: Option<&'a Lease>,
    extra: &[&'a SecretString],
) -> Vec<&'a SecretString> {
    let mut all: Vec<&SecretString> = extra.to_vec();
    all.extend(provider.secrets());
    if let Some(lease) = lease {
        all.push(lease.tokens.access_token().as_secret());
        all.extend(lease.tokens.refresh_token().map(|r| r.as_secret()));
    }
    all
}

/// How many replaced leases a session keeps for scrubbing the errors of calls that were
/// sent on them (see `Inner::retired`).
const RETIRED: usize = 4;

impl Inner {
    /// Make `lease` the current one; the one it replaces is kept among the retired.
    fn install(&self, lease: Option<Arc<Lease>>) {
        if let Some(old) = self.current.swap(lease) {
            let mut retired = self
                .retired
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if retired.len() == RETIRED {
                retired.pop_front();
            }
            retired.push_back(old);
        }
    }

    /// The lease of `generation`, current or retired: what a call sent on it scrubs its
    /// error of. `None` once it is gone (more than [`RETIRED`] replacements since).
    fn lease_of(&self, generation: u64) -> Option<Arc<Lease>> {
        if let Some(current) = self.current.load_full()
            && current.generation == generation
        {
            return Some(current);
        }
        self.retired
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .find(|l| l.generation == generation)
            .cloned()
    }

    /// Empty the flight slot: whatever it holds (`None`), or only flight `id`.
    fn land(&self, slot: &mut Option<(u64, Flight)>, id: Option<u64>) {
        if id.is_none_or(|id| slot.as_ref().is_some_and(|(f, _)| *f == id)) {
            *slot = None;
            self.flying.store(false, Ordering::Release);
        }
    }

    /// A lease for `tokens`, received now: its expiry re-based on the vendor's clock when
    /// the provider gave the `Date` (the skew seen is recorded), its renewal moment drawn
    /// from its advisory window.
    fn make_lease(&self, tokens: TokenSet) -> Lease {
        let now = self.http.now();
        let tokens = self.on_local_clock(tokens, now);
        let expires_at = tokens.expiry().expires_at();
        let (advisory_at, mandatory_at) = match expires_at {
            None => (None, None),
            Some(at) => {
                let w = self.policy.windows(tokens.expiry().lifetime());
                let before = |d: Duration| at.checked_sub(d).unwrap_or(now);
                let opens = before(w.advisory);
                let mandatory = before(w.mandatory);
                let spread = mandatory.duration_since(opens).unwrap_or(Duration::ZERO);
                (Some(opens + self.jitter.up_to(spread)), Some(mandatory))
            }
        };
        let mut lease = Lease {
            tokens,
            generation: self.next_generation.fetch_add(1, Ordering::AcqRel),
            advisory_at: None,
            mandatory_at: None,
            serve_until: None,
            fresh_until: None,
            expired_on_arrival: expires_at.is_some_and(|at| at <= now),
            invalidated: AtomicBool::new(false),
            expiry_counted: AtomicBool::new(false),
            store_version: None,
        };
        lease.set_moments(advisory_at, mandatory_at, expires_at);
        lease
    }

    /// `tokens` with an absolute expiry re-based on the vendor's clock when the provider
    /// gave the `Date`, the skew seen recorded (a set already local passes unchanged).
    fn on_local_clock(&self, tokens: TokenSet, now: SystemTime) -> TokenSet {
        let (tokens, skew) = tokens.on_local_clock(now);
        if let Some(ms) = skew {
            self.clock_skew
                .store(ms.max(NO_SKEW + 1), Ordering::Relaxed);
        }
        tokens
    }

    /// Whether a renewal may start now while the current token is still valid: no failure's
    /// backoff is running.
    fn attempt_due(&self, now: SystemTime) -> bool {
        let next = self.next_attempt.load(Ordering::Acquire);
        next == 0 || nanos(now) >= next
    }

    /// Whether the current token needs a renewal started now (see [`State`]).
    fn needs_attempt(&self, lease: &Lease, now: SystemTime) -> bool {
        match lease.state(now) {
            State::Fresh => false,
            State::Advisory | State::Mandatory => self.attempt_due(now),
            State::Expired => true,
        }
    }

    /// A renewal failed: the next one, while a valid token is served, waits for the backoff.
    fn note_failure(&self) {
        let n = self.failures_in_a_row.fetch_add(1, Ordering::AcqRel) + 1;
        let wait = self.settings.load().backoff.delay(n, &self.jitter);
        trace::renewal_backoff(self.provider.name(), n, wait);
        let at = self.http.now().checked_add(wait).map_or(u64::MAX, nanos);
        self.next_attempt.store(at.max(1), Ordering::Release);
    }

    fn reset_backoff(&self) {
        self.failures_in_a_row.store(0, Ordering::Release);
        self.next_attempt.store(0, Ordering::Release);
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
            && !self.needs_attempt(cur, self.http.now())
        {
            return Ok(None);
        }
        let id = self.next_flight.fetch_add(1, Ordering::Relaxed);
        let sign_outs = self.sign_outs.load(Ordering::Acquire);
        let me = self.clone();
        // The renewal runs on its own task: dropping any caller (even the one that started
        // it) cannot cancel it half-way and leave the others waiting.
        // In the caller's span (if any): the renewal shows where the caller waited for it.
        let task = runtime.spawn(trace::in_current_span(async move {
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
        }));
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
                    Some(newer) if replaced && newer.state(self.http.now()) != State::Expired => {
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
                            self.install(Some(lease.clone()));
                        }
                        Next::Done(result)
                    }
                };
                match &next {
                    Next::Done(Ok(_)) => self.reset_backoff(),
                    Next::Done(Err(_)) => self.note_failure(),
                    Next::Again(_) => {}
                }
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

    /// Renew from `previous`. A token that arrives already expired gets at most one
    /// immediate further renewal; the second such token in a row (and every one after it)
    /// is served until the backoff allows the next renewal, so a vendor whose tokens always
    /// look expired costs one renewal per backoff step, not one per call.
    async fn renew(&self, previous: Option<Arc<Lease>>, sign_outs: u64) -> RenewalResult {
        let sharing = self.sharing.load_full();
        let sharing = sharing.as_deref();
        let prev = previous.as_deref();
        let mut lease = self
            .renew_once(sharing, prev, previous.as_ref(), sign_outs)
            .await?;
        if !lease.expired_on_arrival {
            self.expired_in_a_row.store(0, Ordering::Release);
            return Ok(Arc::new(lease));
        }
        bump(&self.counters.expired_on_arrival);
        let mut in_a_row = self.expired_in_a_row.fetch_add(1, Ordering::AcqRel) + 1;
        if in_a_row == 1 {
            trace::expired_on_arrival(self.provider.name(), in_a_row, None);
            // Renewing from the expired set itself: its refresh token is the newest.
            lease = self
                .renew_once(sharing, Some(&lease), previous.as_ref(), sign_outs)
                .await?;
            if !lease.expired_on_arrival {
                self.expired_in_a_row.store(0, Ordering::Release);
                return Ok(Arc::new(lease));
            }
            bump(&self.counters.expired_on_arrival);
            in_a_row = self.expired_in_a_row.fetch_add(1, Ordering::AcqRel) + 1;
        }
        let wait = self
            .settings
            .load()
            .backoff
            .delay(in_a_row - 1, &self.jitter);
        trace::expired_on_arrival(self.provider.name(), in_a_row, Some(wait));
        let until = self.http.now().checked_add(wait);
        lease.set_moments(until, until, until);
        Ok(Arc::new(lease))
    }

    /// One renewal from `from` (the lease it renews, if any): without a token store, a
    /// refresh or sign-in here ([`obtain`](Self::obtain)); with one, once for every
    /// session sharing it ([`renew_through_store`](Self::renew_through_store)).
    async fn renew_once(
        &self,
        sharing: Option<&Sharing>,
        from: Option<&Lease>,
        base: Option<&Arc<Lease>>,
        sign_outs: u64,
    ) -> Result<Lease, Error> {
        match sharing {
            None => {
                let tokens = self
                    .obtain(from.map(|l| &l.tokens), base, sign_outs)
                    .await?;
                Ok(self.make_lease(tokens))
            }
            Some(sharing) => {
                self.renew_through_store(sharing, from, base, sign_outs)
                    .await
            }
        }
    }

    /// [`renew_shared`] on the session's store: a set another session published (other
    /// than the one `from` holds, and not inside this session's mandatory window) is taken
    /// as it is; otherwise, under the store's lease, [`obtain`](Self::obtain) runs from the
    /// latest set the store holds (its refresh token is the latest written), or from
    /// `from`'s own when the store holds none or cannot be read. Only a renewal that runs
    /// here is counted as a sign-in or refresh.
    async fn renew_through_store(
        &self,
        sharing: &Sharing,
        from: Option<&Lease>,
        base: Option<&Arc<Lease>>,
        sign_outs: u64,
    ) -> Result<Lease, Error> {
        let store = sharing.store.store();
        let key = &sharing.key;
        let settings = self.share_settings(&sharing.settings);
        let seen = from.and_then(|l| l.store_version).unwrap_or(0);
        // A 401 answered the version `from` is: mark that version (and only it) in the
        // store, so no session adopts it again. Bounded; a store that fails is ignored.
        if let Some(version) = from
            .filter(|l| l.invalidated.load(Ordering::Acquire))
            .and_then(|l| l.store_version)
        {
            let _ = tokio::time::timeout(settings.store_timeout(), store.invalidate(key, version))
                .await;
        }
        let own = from.map(|l| &l.tokens);
        let shared = renew_shared(
            store,
            key,
            seen,
            &settings,
            |tokens| self.usable(tokens),
            |latest| async move {
                let tokens = self
                    .obtain(latest.as_ref().or(own), base, sign_outs)
                    .await?;
                // Stored on the local clock, so no process re-bases it again.
                Ok(self.on_local_clock(tokens, self.http.now()))
            },
        )
        .await?;
        let vendor = self.provider.name();
        match shared.outcome {
            Outcome::Loaded | Outcome::Waited => {
                trace::store_loaded(vendor, shared.outcome == Outcome::Waited);
                bump(&self.counters.store_loaded);
            }
            Outcome::Unpublished => {
                trace::store_unpublished(vendor);
                bump(&self.counters.store_unpublished);
            }
            Outcome::Fallback => {
                trace::store_fallback(vendor);
                bump(&self.counters.store_fallbacks);
            }
            _ => {}
        }
        let mut lease = self.make_lease(shared.tokens);
        lease.store_version = shared.version;
        Ok(lease)
    }

    /// Whether a set found in the token store can be served as it is: it is not expired
    /// and this session's mandatory window for it has not opened.
    fn usable(&self, tokens: &TokenSet) -> bool {
        let Some(at) = tokens.expiry().expires_at() else {
            return true;
        };
        let w = self.policy.windows(tokens.expiry().lifetime());
        at.checked_sub(w.mandatory)
            .is_some_and(|mandatory| self.http.now() < mandatory)
    }

    /// The store settings with the lease TTL raised, if needed, above one token request's
    /// worst case: every attempt timing out, the retries' backoff, and the store reads and
    /// the publication under the lease.
    fn share_settings(&self, configured: &ShareSettings) -> ShareSettings {
        let s = self.settings.load();
        let floor = s
            .token_timeout
            .saturating_mul(s.retries.max_attempts())
            .saturating_add(s.retries.worst_case_backoff())
            .saturating_add(configured.store_timeout().saturating_mul(2));
        if configured.lease_ttl() < floor {
            configured.with_lease_ttl(floor)
        } else {
            *configured
        }
    }

    /// One renewal's token set: a refresh of `from`'s refresh token where the vendor has the
    /// grant, falling back to a sign-in when it is rejected; else a sign-in. `base` is the
    /// session's token this renewal replaces (see [`nothing_valid_left`](Self::nothing_valid_left)).
    async fn obtain(
        &self,
        from: Option<&TokenSet>,
        base: Option<&Arc<Lease>>,
        sign_outs: u64,
    ) -> Result<TokenSet, Error> {
        let caps = self.capabilities;
        let refreshable = from.filter(|t| caps.refresh && t.refresh_token().is_some());
        if let Some(prev) = refreshable {
            bump(&self.counters.refreshes);
            let refresh = self.request(Some(prev), base, sign_outs);
            match trace::renewal(self.provider.name(), trace::Kind::Refresh, refresh).await {
                Ok(tokens) => return Ok(tokens.inherit_from(prev)),
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
        let sign_in = self.request(None, base, sign_outs);
        trace::renewal(self.provider.name(), trace::Kind::SignIn, sign_in).await
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
            trace::attempt(attempt, &result);
            match result {
                Err(e)
                    if e.is_transient()
                        && attempt < settings.retries.max_attempts()
                        && self.nothing_valid_left(base, sign_outs) =>
                {
                    let wait = settings.retries.delay(attempt, &self.jitter);
                    trace::retry_wait(attempt, wait);
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
    /// renews (`base`) is still the session's and expired, or there is none. A renewal
    /// ahead of expiry (the token still valid) is not retried: callers are being served and
    /// the next attempt waits for the backoff. Nor is one whose token was replaced or signed out
    /// meanwhile: [`drive`](Self::drive) decides what its waiters get.
    fn nothing_valid_left(&self, base: Option<&Arc<Lease>>, sign_outs: u64) -> bool {
        if self.sign_outs.load(Ordering::Acquire) != sign_outs {
            return false;
        }
        let latest = self.current.load();
        match (latest.as_ref(), base) {
            (None, None) => true,
            (Some(l), Some(b)) if l.generation == b.generation => {
                l.state(self.http.now()) == State::Expired
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
        if slot.as_ref().is_some_and(|(f, _)| *f == self.id) {
            self.inner.note_failure();
        }
        self.inner.land(&mut slot, Some(self.id));
    }
}

/// The flight slot is never held across an await or user code, so a poisoned lock only
/// means a panic elsewhere: its data is still consistent.
fn lock(m: &Mutex<Option<(u64, Flight)>>) -> std::sync::MutexGuard<'_, Option<(u64, Flight)>> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// `t` in nanoseconds since the epoch (0 before it, saturating far after).
fn nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

fn refresh_rejected(e: &Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::Unauthorized | ErrorKind::Rejected | ErrorKind::SessionExpired
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    /// The hot path's one comparison answers exactly what `state` does, whatever the order
    /// of the three instants (a lease expired on arrival has all three equal).
    #[test]
    fn fresh_is_state_fresh_for_every_order_of_the_instants() {
        let at = |s: u64| Some(UNIX_EPOCH + Duration::from_secs(s));
        let choices = [None, at(10), at(20), at(30)];
        let mut checked = 0;
        for a in choices {
            for m in choices {
                for s in choices {
                    let mut lease = Lease {
                        tokens: TokenSet::new(crate::AccessToken::new("t"), crate::Expiry::never()),
                        generation: 1,
                        advisory_at: None,
                        mandatory_at: None,
                        serve_until: None,
                        fresh_until: None,
                        expired_on_arrival: false,
                        invalidated: AtomicBool::new(false),
                        expiry_counted: AtomicBool::new(false),
                        store_version: None,
                    };
                    lease.set_moments(a, m, s);
                    for now in [0, 9, 10, 11, 20, 25, 30, 31] {
                        let now = UNIX_EPOCH + Duration::from_secs(now);
                        assert_eq!(lease.fresh(now), lease.state(now) == State::Fresh);
                        checked += 1;
                    }
                    lease.invalidated.store(true, Ordering::Release);
                    assert!(!lease.fresh(UNIX_EPOCH));
                }
            }
        }
        assert_eq!(checked, 64 * 8);
    }
}

/// What every authorized call reads is laid out together (see `Inner`, `Lease`): a field
/// added above them, or a `repr(C)` dropped, would spread them over more cache lines again.
#[cfg(test)]
mod layout {
    use super::*;
    use std::mem::{offset_of, size_of};

    #[test]
    fn the_hot_path_reads_one_line_of_the_session() {
        // The allocation is aligned to at least a line, and the hot fields end within it.
        assert!(align_of::<Inner>() >= 64);
        assert_eq!(offset_of!(Inner, current), 0);
        let end = offset_of!(Inner, capabilities) + size_of::<Capabilities>();
        for field in [
            offset_of!(Inner, clock),
            offset_of!(Inner, provider),
            offset_of!(Inner, http),
        ] {
            assert!(field < end);
        }
        assert!(end <= 64, "the hot fields end at {end}");
    }

    #[test]
    fn a_lease_starts_with_what_a_call_reads() {
        // `fresh`'s two reads, the generation, then the token set: 32 bytes before it.
        assert_eq!(offset_of!(Lease, fresh_until), 0);
        assert_eq!(offset_of!(Lease, generation), 16);
        assert_eq!(offset_of!(Lease, invalidated), 24);
        assert_eq!(offset_of!(Lease, tokens), 32);
        // And the token set starts with the access token (`token::tests`).
    }
}
