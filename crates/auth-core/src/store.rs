//! Where a token set lives when it is shared, and the renewal protocol over it.
//!
//! A [`TokenStore`] holds one token set per identity (vendor and credentials), with a
//! version, a renewal lease and an invalidation mark. [`MemoryStore`] keeps them in this
//! process (the default, for a single process or several clients of one identity); the
//! `auth-store-redis` crate keeps them in Redis, so every process of a fleet shares one
//! sign-in, one renewal per expiry and the latest refresh token.
//!
//! [`renew_shared`] is the protocol a session runs when its token needs renewing:
//!
//! 1. read the store: a set other than the one the caller holds, still usable, is the answer
//!    (another process renewed already);
//! 2. otherwise take the renewal lease (a TTL and a fencing value), read again (another
//!    process may have renewed in between), renew from the latest set, so the refresh token
//!    used is the latest one written, publish the new set (token and refresh token together,
//!    under a new version, only while the lease is held) and release the lease;
//! 3. while another process holds a live lease, wait for the version it publishes
//!    (notifications, with polling as the fallback) and never renew; once its lease lapses
//!    (a crashed holder), take over;
//! 4. if the store fails (down, or slower than [`ShareSettings::store_timeout`] on any
//!    call), renew locally and say so ([`Outcome::Fallback`]): a store never fails a call.
//!
//! ```
//! use std::time::Duration;
//! use auth_core::store::{Identity, MemoryStore, Outcome, ShareSettings, TokenStore, renew_shared};
//! use auth_core::{AccessToken, Expiry, RefreshToken, TokenSet};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), auth_core::Error> {
//! let store = MemoryStore::new();
//! let password = secrecy::SecretString::from("hunter2");
//! let key = store.key(&Identity::new("example").with_secret(&password));
//! assert!(!key.as_str().contains("hunter2"));
//! let settings = ShareSettings::default();
//! let usable = |_: &TokenSet| true;
//!
//! // Nothing stored: this process signs in (`None`) and publishes version 1.
//! let first = renew_shared(&store, &key, 0, &settings, usable, |base| async move {
//!     assert!(base.is_none());
//!     Ok(TokenSet::new(AccessToken::new("a1"), Expiry::never())
//!         .with_refresh_token(Some(RefreshToken::new("r1"))))
//! })
//! .await?;
//! assert_eq!((first.outcome, first.version), (Outcome::Renewed, Some(1)));
//!
//! // Another process that holds nothing finds version 1: no renewal runs there.
//! let other = renew_shared(&store, &key, 0, &settings, usable, |_| async {
//!     Err(auth_core::Error::new(auth_core::ErrorKind::Rejected, "not called: a usable set is stored"))
//! })
//! .await?;
//! assert_eq!((other.outcome, other.tokens.access_token().expose()), (Outcome::Loaded, "a1"));
//!
//! // A 401 on version 1 invalidates it (only it): the next renewal refreshes from it.
//! assert!(store.invalidate(&key, 1).await?);
//! let renewed = renew_shared(&store, &key, 1, &settings, usable, |base| async move {
//!     let base = base.expect("the stored set");
//!     assert_eq!(base.refresh_token().unwrap().expose(), "r1");
//!     Ok(TokenSet::new(AccessToken::new("a2"), Expiry::never()).inherit_from(&base))
//! })
//! .await?;
//! assert_eq!(renewed.version, Some(2));
//! # Ok(())
//! # }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::error::{Error, ErrorKind};
use crate::token::TokenSet;

/// Where one identity's token set lives in a store: namespaced by vendor, and never holding
/// a secret (stores derive it with a keyed hash, see [`TokenStore::key`]). Cheap to clone.
///
/// ```
/// let key = auth_core::store::StoreKey::new("iqm:0f3a");
/// assert_eq!(key.as_str(), "iqm:0f3a");
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct StoreKey(Arc<str>);

impl StoreKey {
    /// A key; a store builds it from an [`Identity`].
    pub fn new(key: impl Into<String>) -> Self {
        StoreKey(Arc::from(key.into()))
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoreKey({})", self.0)
    }
}

/// What makes one identity, for [`TokenStore::key`]: the vendor's name and the parts that
/// tell its accounts apart (a base URL, a user name, the credentials). A store hashes them
/// with a key of its own; Debug shows the vendor and the number of parts only.
///
/// ```
/// use secrecy::SecretString;
/// let secret = SecretString::from("client-secret");
/// let id = auth_core::store::Identity::new("iqm").with_part("https://api.iqm.com").with_secret(&secret);
/// assert_eq!(id.vendor(), "iqm");
/// assert!(!format!("{id:?}").contains("client-secret"));
/// ```
#[derive(Clone)]
pub struct Identity<'a> {
    vendor: &'a str,
    parts: Vec<&'a [u8]>,
}

impl<'a> Identity<'a> {
    /// An identity of `vendor`, with no parts yet.
    pub fn new(vendor: &'a str) -> Self {
        Identity {
            vendor,
            parts: Vec::new(),
        }
    }

    /// Add a non-secret part (a base URL, an account name).
    pub fn with_part(mut self, part: &'a str) -> Self {
        self.parts.push(part.as_bytes());
        self
    }

    /// Add a secret part (a password, a client secret, an API key).
    pub fn with_secret(mut self, secret: &'a SecretString) -> Self {
        self.parts.push(secret.expose_secret().as_bytes());
        self
    }

    /// The vendor's name.
    pub fn vendor(&self) -> &'a str {
        self.vendor
    }

    /// The vendor and the parts in one unambiguous byte string (each length-prefixed), for
    /// a store to hash. It holds the secrets, so it is zeroed on drop.
    pub fn canonical_bytes(&self) -> SecretSlice<u8> {
        let len = 8 + self.vendor.len() + self.parts.iter().map(|p| 8 + p.len()).sum::<usize>();
        let mut out = Vec::with_capacity(len);
        for part in std::iter::once(self.vendor.as_bytes()).chain(self.parts.iter().copied()) {
            out.extend_from_slice(&(part.len() as u64).to_be_bytes());
            out.extend_from_slice(part);
        }
        SecretSlice::from(out)
    }
}

impl fmt::Debug for Identity<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("vendor", &self.vendor)
            .field("parts", &self.parts.len())
            .finish()
    }
}

/// A token set as a store holds it: its version (greater for each publication; a
/// [`MemoryStore`] counts 1, 2, ...) and whether a 401 invalidated it.
#[derive(Debug, Clone)]
pub struct Stored {
    /// The version; a renewal publishes the next one.
    pub version: u64,
    /// The token set.
    pub tokens: TokenSet,
    /// A 401 answered this version ([`TokenStore::invalidate`]): renew it, do not use it.
    /// A store also reports a set it holds but cannot read (sealed under another key,
    /// tampered with) as invalidated, with an empty, expired token set and no refresh token:
    /// the renewal over it signs in and replaces it.
    pub invalidated: bool,
}

/// The fencing value of a renewal lease: a publication or release carrying a fence that no
/// longer holds the lease is refused.
///
/// ```
/// assert_eq!(auth_core::store::Fence::new(7).get(), 7);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fence(u64);

impl Fence {
    /// A fence; a store hands them out, each larger than the last for its key.
    pub fn new(value: u64) -> Self {
        Fence(value)
    }

    /// The value.
    pub fn get(self) -> u64 {
        self.0
    }
}

/// The answer to [`TokenStore::acquire`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Acquire {
    /// The lease is this caller's until its TTL, under this fence.
    Acquired(Fence),
    /// Another caller holds a live lease, for about this long yet (when the store knows).
    Held {
        /// Time left on the holder's lease.
        expires_in: Option<Duration>,
    },
}

/// The answer to [`TokenStore::publish`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Publish {
    /// Published as this version.
    Published(u64),
    /// Refused: the fence no longer holds the lease and another renewal took over or
    /// published. The store's current version is given.
    Fenced {
        /// The store's current version.
        version: u64,
    },
}

/// A store of token sets shared by sessions, in this process or across processes: what
/// [`renew_shared`] runs on. Every method may fail (a store that is down): the protocol
/// bounds each call and falls back to a local renewal.
///
/// The protocol's guarantees rest on three atomic operations: [`acquire`](Self::acquire)
/// takes the lease only when no live lease exists; [`publish`](Self::publish) checks the
/// fence (or that the lease lapsed with nothing published since) and writes the set with its
/// new version in one step; [`release`](Self::release) deletes the lease only if the fence
/// still holds it.
#[async_trait]
pub trait TokenStore: Send + Sync + fmt::Debug {
    /// The key the token set of `identity` lives under: namespaced by vendor, derived with a
    /// keyed hash so it never holds a secret, the same in every process sharing the store.
    fn key(&self, identity: &Identity<'_>) -> StoreKey;

    /// The current set and its version; `None` when nothing was published under `key`.
    async fn load(&self, key: &StoreKey) -> Result<Option<Stored>, Error>;

    /// Take the renewal lease of `key` for `ttl`, unless another caller holds a live one.
    async fn acquire(&self, key: &StoreKey, ttl: Duration) -> Result<Acquire, Error>;

    /// Give the lease back, only if `fence` still holds it (a lapsed lease someone else took
    /// is left alone). `true` when released. Wakes [`wait_newer`](Self::wait_newer)ers.
    async fn release(&self, key: &StoreKey, fence: Fence) -> Result<bool, Error>;

    /// Publish `tokens` under a new version greater than `base`, atomically, where `base`
    /// is the version the renewal started from (0 for none): only if the current version is
    /// still `base`, and `fence` holds the lease or the lease lapsed and nobody took it.
    /// Wakes waiters. The new version is usually `base + 1`; a store that can lose its data
    /// (a Redis restarted without persistence) starts a key's versions above any it handed
    /// out before, so a caller never mistakes a new set for the one it holds.
    async fn publish(
        &self,
        key: &StoreKey,
        fence: Fence,
        base: u64,
        tokens: &TokenSet,
    ) -> Result<Publish, Error>;

    /// Wait up to `timeout` for a version newer than `version`: `Some` once one is
    /// published, `None` when the time passed or the lease was released without one (the
    /// caller looks again; a spurious `None` is allowed).
    async fn wait_newer(
        &self,
        key: &StoreKey,
        version: u64,
        timeout: Duration,
    ) -> Result<Option<Stored>, Error>;

    /// Mark `version` unusable, if it is still the current one: a 401 on it invalidates it
    /// and nothing newer. `true` when it was marked.
    async fn invalidate(&self, key: &StoreKey, version: u64) -> Result<bool, Error>;
}

/// A shared handle to any [`TokenStore`], as a builder takes one. Cheap to clone.
///
/// ```
/// let store = auth_core::store::SharedTokenStore::new(auth_core::store::MemoryStore::new());
/// assert!(format!("{store:?}").contains("MemoryStore"));
/// ```
#[derive(Clone, Debug)]
pub struct SharedTokenStore(Arc<dyn TokenStore>);

impl SharedTokenStore {
    /// Share `store`.
    pub fn new(store: impl TokenStore + 'static) -> Self {
        SharedTokenStore(Arc::new(store))
    }

    /// Share a store already behind an `Arc`.
    pub fn from_arc(store: Arc<dyn TokenStore>) -> Self {
        SharedTokenStore(store)
    }

    /// The store.
    pub fn store(&self) -> &dyn TokenStore {
        &*self.0
    }
}

impl Default for SharedTokenStore {
    fn default() -> Self {
        SharedTokenStore::new(MemoryStore::new())
    }
}

impl<S: TokenStore + 'static> From<S> for SharedTokenStore {
    fn from(store: S) -> Self {
        SharedTokenStore::new(store)
    }
}

/// How [`renew_shared`] treats the store: the lease TTL, the bound on every store call, how
/// often a waiter looks again without a notification, and how long it waits in all.
///
/// ```
/// use std::time::Duration;
/// let s = auth_core::store::ShareSettings::default().with_lease_ttl(Duration::from_secs(30));
/// assert_eq!(s.lease_ttl(), Duration::from_secs(30));
/// assert_eq!(s.max_wait(), Duration::from_secs(90));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShareSettings {
    lease_ttl: Duration,
    store_timeout: Duration,
    wait_slice: Duration,
    max_wait: Option<Duration>,
}

impl Default for ShareSettings {
    fn default() -> Self {
        ShareSettings {
            lease_ttl: Self::DEFAULT_LEASE_TTL,
            store_timeout: Self::DEFAULT_STORE_TIMEOUT,
            wait_slice: Self::DEFAULT_WAIT_SLICE,
            max_wait: None,
        }
    }
}

impl ShareSettings {
    /// The default lease TTL: longer than a renewal with the session's default token
    /// timeout and retries (3 attempts of 5 s), so a live holder is not taken over.
    pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(20);
    /// The default bound on one store call: a store slower than this counts as down.
    pub const DEFAULT_STORE_TIMEOUT: Duration = Duration::from_secs(1);
    /// The default longest a waiter sleeps before it looks at the store again, when no
    /// notification comes.
    pub const DEFAULT_WAIT_SLICE: Duration = Duration::from_millis(500);

    /// How long a renewal lease lives. A holder that crashes is taken over after it, so
    /// keep it short, but longer than one renewal (token timeout times attempts).
    pub fn with_lease_ttl(mut self, ttl: Duration) -> Self {
        self.lease_ttl = ttl;
        self
    }

    /// The bound on every store call; a slower answer counts as a failure and the renewal
    /// goes on locally.
    pub fn with_store_timeout(mut self, timeout: Duration) -> Self {
        self.store_timeout = timeout;
        self
    }

    /// The longest a waiter sleeps between looks at the store when no notification comes.
    pub fn with_wait_slice(mut self, slice: Duration) -> Self {
        self.wait_slice = slice;
        self
    }

    /// How long a caller waits for other processes' renewals in all before it gives up
    /// with a transient error (default three lease TTLs): only a fleet whose every lease
    /// holder renews and never publishes keeps a caller waiting that long.
    pub fn with_max_wait(mut self, max_wait: Duration) -> Self {
        self.max_wait = Some(max_wait);
        self
    }

    /// The lease TTL.
    pub fn lease_ttl(&self) -> Duration {
        self.lease_ttl
    }

    /// The bound on one store call.
    pub fn store_timeout(&self) -> Duration {
        self.store_timeout
    }

    /// The longest sleep between looks.
    pub fn wait_slice(&self) -> Duration {
        self.wait_slice
    }

    /// The longest wait in all.
    pub fn max_wait(&self) -> Duration {
        self.max_wait
            .unwrap_or_else(|| self.lease_ttl.saturating_mul(3))
    }
}

/// How [`renew_shared`] came by its tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The store held a usable set other than the caller's: no renewal ran here.
    Loaded,
    /// Another process held the lease; this one waited for the set it published.
    Waited,
    /// This process held the lease, renewed and published.
    Renewed,
    /// This process renewed under the lease, but the lease lapsed and another process
    /// published meanwhile, so the store refused this set (fenced): only this process has it.
    Unpublished,
    /// The store failed (down, or slower than the store timeout): this process renewed on
    /// its own and the tokens are not shared. The session counts these.
    Fallback,
}

impl Outcome {
    /// Whether the renewal closure ran in this process.
    ///
    /// ```
    /// use auth_core::store::Outcome;
    /// assert!(Outcome::Fallback.renewed_here());
    /// assert!(!Outcome::Waited.renewed_here());
    /// ```
    pub fn renewed_here(self) -> bool {
        matches!(
            self,
            Outcome::Renewed | Outcome::Unpublished | Outcome::Fallback
        )
    }
}

/// What [`renew_shared`] returns: the tokens, the store version they are (`None` when they
/// are this process's alone: a fallback or an unpublished renewal), and how they came.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Shared {
    /// The token set to use.
    pub tokens: TokenSet,
    /// Its version in the store; `None` when the store does not hold it (never invalidate
    /// a version for such tokens).
    pub version: Option<u64>,
    /// How it came.
    pub outcome: Outcome,
}

/// Renew the token set under `key` once for every process sharing `store`.
///
/// `seen` is the version the caller holds (0 for none). `usable` says whether a stored set
/// can be used as it is (not inside the caller's renewal margin); an invalidated set never
/// is. `renew` runs only where this process renews: it gets the latest stored set (even an
/// expired or invalidated one: its refresh token is the latest written) or `None` when the
/// store has none or could not be read, and then the caller renews from its own set if it
/// has one, or signs in. See the [module docs](self) for the protocol.
///
/// Errors are the renewal's own (a vendor's rejection), or a transient error when other
/// processes' renewals kept this caller waiting longer than
/// [`ShareSettings::max_wait`]. A failing store is never an error.
pub async fn renew_shared<U, F, Fut>(
    store: &dyn TokenStore,
    key: &StoreKey,
    seen: u64,
    settings: &ShareSettings,
    usable: U,
    renew: F,
) -> Result<Shared, Error>
where
    U: Fn(&TokenSet) -> bool,
    F: FnOnce(Option<TokenSet>) -> Fut,
    Fut: Future<Output = Result<TokenSet, Error>>,
{
    let limit = settings.store_timeout;
    let adoptable = |s: &Stored| s.version != seen && !s.invalidated && usable(&s.tokens);
    let started = Instant::now();
    let mut waited = false;
    let mut latest = match bounded(limit, store.load(key)).await {
        Ok(latest) => latest,
        Err(_) => return fallback(renew, None).await,
    };
    loop {
        if let Some(s) = latest.as_ref().filter(|s| adoptable(s)) {
            return Ok(Shared {
                tokens: s.tokens.clone(),
                version: Some(s.version),
                outcome: if waited {
                    Outcome::Waited
                } else {
                    Outcome::Loaded
                },
            });
        }
        let expires_in = match bounded(limit, store.acquire(key, settings.lease_ttl)).await {
            Err(_) => return fallback(renew, latest.map(|s| s.tokens)).await,
            Ok(Acquire::Acquired(fence)) => {
                return under_lease(store, key, fence, limit, &adoptable, renew).await;
            }
            Ok(Acquire::Held { expires_in }) => expires_in,
        };
        let elapsed = started.elapsed();
        if elapsed >= settings.max_wait() {
            return Err(Error::new(
                ErrorKind::Transient,
                format!("waited {elapsed:?} for another process to renew the token"),
            ));
        }
        // Wake when the holder publishes or releases (notified), when its lease lapses, or
        // after a slice at most, to look again without a notification.
        let slice = expires_in
            .map_or(settings.wait_slice, |left| left.min(settings.wait_slice))
            .max(Duration::from_millis(1));
        let newer_than = latest.as_ref().map_or(seen, |s| s.version.max(seen));
        waited = true;
        match bounded(
            slice.saturating_add(limit),
            store.wait_newer(key, newer_than, slice),
        )
        .await
        {
            Err(_) => return fallback(renew, latest.map(|s| s.tokens)).await,
            Ok(Some(newer)) => latest = Some(newer),
            // Nothing newer yet: take the lease if it is free now (`under_lease` reads the
            // store again), else wait another slice.
            Ok(None) => {}
        }
    }
}

/// The lease is ours: read again, renew from the latest set, publish, release.
async fn under_lease<A, F, Fut>(
    store: &dyn TokenStore,
    key: &StoreKey,
    fence: Fence,
    limit: Duration,
    adoptable: &A,
    renew: F,
) -> Result<Shared, Error>
where
    A: Fn(&Stored) -> bool,
    F: FnOnce(Option<TokenSet>) -> Fut,
    Fut: Future<Output = Result<TokenSet, Error>>,
{
    // Best effort: a release that fails leaves the lease to its TTL.
    let release = || async {
        let _ = bounded(limit, store.release(key, fence)).await;
    };
    let current = match bounded(limit, store.load(key)).await {
        Ok(current) => current,
        Err(_) => {
            release().await;
            return fallback(renew, None).await;
        }
    };
    if let Some(s) = current.as_ref().filter(|s| adoptable(s)) {
        // Another process renewed between our first look and the lease.
        let shared = Shared {
            tokens: s.tokens.clone(),
            version: Some(s.version),
            outcome: Outcome::Loaded,
        };
        release().await;
        return Ok(shared);
    }
    let base = current.as_ref().map_or(0, |s| s.version);
    let tokens = match renew(current.map(|s| s.tokens)).await {
        Ok(tokens) => tokens,
        Err(e) => {
            // Failures are not shared: the next process to look renews itself.
            release().await;
            return Err(e);
        }
    };
    let published = bounded(limit, store.publish(key, fence, base, &tokens)).await;
    release().await;
    let (version, outcome) = match published {
        Ok(Publish::Published(v)) => (Some(v), Outcome::Renewed),
        Ok(Publish::Fenced { .. }) => (None, Outcome::Unpublished),
        Err(_) => (None, Outcome::Fallback),
    };
    Ok(Shared {
        tokens,
        version,
        outcome,
    })
}

async fn fallback<F, Fut>(renew: F, base: Option<TokenSet>) -> Result<Shared, Error>
where
    F: FnOnce(Option<TokenSet>) -> Fut,
    Fut: Future<Output = Result<TokenSet, Error>>,
{
    Ok(Shared {
        tokens: renew(base).await?,
        version: None,
        outcome: Outcome::Fallback,
    })
}

/// One store call, bounded: slower than `limit` is a failure like any other.
async fn bounded<T>(
    limit: Duration,
    call: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    tokio::time::timeout(limit, call)
        .await
        .unwrap_or_else(|elapsed| {
            Err(Error::new(
                ErrorKind::Transient,
                format!("token store took over {limit:?}"),
            )
            .with_source(elapsed))
        })
}

/// The in-process [`TokenStore`]: the default. Sessions of one identity that share it (two
/// clients in one process) share its token set; leases expire on tokio's clock, so tests
/// drive them with paused time. Cheap to clone; clones share the sets.
///
/// ```
/// use std::time::Duration;
/// use auth_core::store::{Acquire, Identity, MemoryStore, TokenStore};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), auth_core::Error> {
/// let store = MemoryStore::new();
/// let key = store.key(&Identity::new("example").with_part("alice"));
/// let Acquire::Acquired(fence) = store.acquire(&key, Duration::from_secs(5)).await? else {
///     unreachable!("no one holds the lease")
/// };
/// assert!(matches!(store.acquire(&key, Duration::from_secs(5)).await?, Acquire::Held { .. }));
/// assert!(store.release(&key, fence).await?);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Default)]
pub struct MemoryStore {
    inner: Arc<MemoryInner>,
}

#[derive(Default)]
struct MemoryInner {
    hasher: std::collections::hash_map::RandomState,
    slots: Mutex<HashMap<StoreKey, Slot>>,
}

struct Slot {
    version: u64,
    tokens: Option<TokenSet>,
    invalidated: bool,
    lease: Option<(Fence, Instant)>,
    fences: u64,
    /// Bumped on every publication and release, so waiters wake.
    events: watch::Sender<u64>,
}

impl Default for Slot {
    fn default() -> Self {
        Slot {
            version: 0,
            tokens: None,
            invalidated: false,
            lease: None,
            fences: 0,
            events: watch::channel(0).0,
        }
    }
}

impl Slot {
    fn stored(&self) -> Option<Stored> {
        self.tokens.as_ref().map(|tokens| Stored {
            version: self.version,
            tokens: tokens.clone(),
            invalidated: self.invalidated,
        })
    }

    fn live_lease(&self, now: Instant) -> Option<(Fence, Instant)> {
        self.lease.filter(|(_, until)| *until > now)
    }

    fn notify(&self) {
        self.events.send_modify(|n| *n = n.wrapping_add(1));
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = self.lock().len();
        f.debug_struct("MemoryStore").field("keys", &keys).finish()
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<StoreKey, Slot>> {
        // Never held across an await or user code: a poisoned lock's data is consistent.
        self.inner
            .slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn with_slot<T>(&self, key: &StoreKey, f: impl FnOnce(&mut Slot) -> T) -> T {
        f(self.lock().entry(key.clone()).or_default())
    }
}

#[async_trait]
impl TokenStore for MemoryStore {
    fn key(&self, identity: &Identity<'_>) -> StoreKey {
        // Two differently seeded SipHash runs over the identity: 128 bits, keyed by this
        // store's random seed, so the key says nothing about the credentials.
        let bytes = identity.canonical_bytes();
        let digest = |seed: u8| {
            let mut h = self.inner.hasher.build_hasher();
            h.write_u8(seed);
            h.write(bytes.expose_secret());
            h.finish()
        };
        StoreKey::new(format!(
            "{}:{:016x}{:016x}",
            identity.vendor(),
            digest(1),
            digest(2)
        ))
    }

    async fn load(&self, key: &StoreKey) -> Result<Option<Stored>, Error> {
        Ok(self.lock().get(key).and_then(Slot::stored))
    }

    async fn acquire(&self, key: &StoreKey, ttl: Duration) -> Result<Acquire, Error> {
        let now = Instant::now();
        Ok(self.with_slot(key, |slot| {
            if let Some((_, until)) = slot.live_lease(now) {
                return Acquire::Held {
                    expires_in: Some(until - now),
                };
            }
            slot.fences += 1;
            let fence = Fence(slot.fences);
            let until = now
                .checked_add(ttl)
                .unwrap_or(now + Duration::from_secs(86_400));
            slot.lease = Some((fence, until));
            Acquire::Acquired(fence)
        }))
    }

    async fn release(&self, key: &StoreKey, fence: Fence) -> Result<bool, Error> {
        let now = Instant::now();
        Ok(self.with_slot(key, |slot| {
            if slot.live_lease(now).is_some_and(|(f, _)| f == fence) {
                slot.lease = None;
                slot.notify();
                true
            } else {
                false
            }
        }))
    }

    async fn publish(
        &self,
        key: &StoreKey,
        fence: Fence,
        base: u64,
        tokens: &TokenSet,
    ) -> Result<Publish, Error> {
        let now = Instant::now();
        Ok(self.with_slot(key, |slot| {
            let holds = match slot.live_lease(now) {
                Some((f, _)) => f == fence,
                None => true,
            };
            if !holds || slot.version != base {
                return Publish::Fenced {
                    version: slot.version,
                };
            }
            slot.version += 1;
            slot.tokens = Some(tokens.clone());
            slot.invalidated = false;
            slot.notify();
            Publish::Published(slot.version)
        }))
    }

    async fn wait_newer(
        &self,
        key: &StoreKey,
        version: u64,
        timeout: Duration,
    ) -> Result<Option<Stored>, Error> {
        let mut events = self.with_slot(key, |slot| slot.events.subscribe());
        let newer = |store: &Self| {
            store
                .lock()
                .get(key)
                .filter(|s| s.version > version)
                .and_then(Slot::stored)
        };
        if let Some(s) = newer(self) {
            return Ok(Some(s));
        }
        // One event (a publication or a release), or the time is up.
        let _ = tokio::time::timeout(timeout, events.changed()).await;
        Ok(newer(self))
    }

    async fn invalidate(&self, key: &StoreKey, version: u64) -> Result<bool, Error> {
        Ok(self.with_slot(key, |slot| {
            if slot.tokens.is_some() && slot.version == version {
                slot.invalidated = true;
                true
            } else {
                false
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::time::SystemTime;

    use crate::clock::ManualClock;
    use crate::{AccessToken, Clock as _, Expiry, RefreshToken};

    const LIFETIME: Duration = Duration::from_secs(60);

    /// What the fake vendor saw: renewals, and the refresh token each one was given.
    #[derive(Default)]
    struct Vendor {
        renewals: AtomicU64,
        sign_ins: AtomicU64,
        /// The refresh token the vendor would accept next (it rotates them).
        current_refresh: Mutex<Option<String>>,
        stale_refreshes: AtomicU64,
    }

    impl Vendor {
        /// Renew from `base` as a vendor that rotates refresh tokens would: a refresh with
        /// anything but the latest refresh token counts as stale.
        async fn renew(&self, base: Option<TokenSet>, now: SystemTime) -> Result<TokenSet, Error> {
            let n = self.renewals.fetch_add(1, Ordering::SeqCst) + 1;
            // The vendor takes a moment: other processes pile up meanwhile.
            tokio::time::sleep(Duration::from_millis(100)).await;
            let mut current = self.current_refresh.lock().unwrap();
            match base.as_ref().and_then(|b| b.refresh_token()) {
                Some(r) if current.as_deref() == Some(r.expose()) => {}
                Some(_) => {
                    self.stale_refreshes.fetch_add(1, Ordering::SeqCst);
                }
                None => {
                    self.sign_ins.fetch_add(1, Ordering::SeqCst);
                }
            }
            let refresh = format!("r{n}");
            *current = Some(refresh.clone());
            Ok(TokenSet::new(
                AccessToken::new(format!("a{n}")),
                Expiry::lifetime_from(LIFETIME, now),
            )
            .with_refresh_token(Some(RefreshToken::new(refresh))))
        }
    }

    fn no_renewal(_: Option<TokenSet>) -> std::future::Ready<Result<TokenSet, Error>> {
        unreachable!("no renewal expected here")
    }

    fn settings() -> ShareSettings {
        ShareSettings::default()
            .with_lease_ttl(Duration::from_secs(5))
            .with_store_timeout(Duration::from_millis(200))
    }

    fn key_of(store: &dyn TokenStore) -> StoreKey {
        store.key(&Identity::new("test").with_part("alice"))
    }

    #[test]
    fn keys_are_namespaced_stable_and_secret_free() {
        let store = MemoryStore::new();
        let pw = SecretString::from("hunter2-secret");
        let other = SecretString::from("another-secret");
        let a = store.key(&Identity::new("iqm").with_secret(&pw));
        assert_eq!(a, store.key(&Identity::new("iqm").with_secret(&pw)));
        assert_ne!(a, store.key(&Identity::new("iqm").with_secret(&other)));
        assert_ne!(a, store.key(&Identity::new("platform").with_secret(&pw)));
        // Parts are length-prefixed: moving a byte between parts is another identity.
        assert_ne!(
            store.key(&Identity::new("x").with_part("ab").with_part("c")),
            store.key(&Identity::new("x").with_part("a").with_part("bc"))
        );
        assert!(a.as_str().starts_with("iqm:"));
        for shown in [
            a.as_str().to_owned(),
            format!("{a:?}"),
            format!("{:?}", Identity::new("iqm").with_secret(&pw)),
        ] {
            assert!(!shown.contains("hunter2"), "{shown}");
        }
    }

    /// Fifty tasks acting as fifty processes, each with its own view (the version it holds):
    /// one sign-in at start and exactly one renewal per expiry, each from the latest refresh
    /// token written.
    #[tokio::test(start_paused = true)]
    async fn many_processes_renew_once_per_expiry_from_the_latest_refresh_token() {
        const PROCESSES: usize = 50;
        const EXPIRIES: u64 = 10;
        let store = MemoryStore::new();
        let key = key_of(&store);
        let clock = ManualClock::new();
        let vendor = Arc::new(Vendor::default());
        let seen: Vec<Arc<AtomicU64>> = (0..PROCESSES).map(|_| Arc::default()).collect();
        for round in 0..=EXPIRIES {
            if round > 0 {
                clock.advance(LIFETIME);
            }
            let mut tasks = Vec::new();
            for view in &seen {
                let (store, key, clock, vendor, view) = (
                    store.clone(),
                    key.clone(),
                    clock.clone(),
                    vendor.clone(),
                    view.clone(),
                );
                tasks.push(tokio::spawn(async move {
                    let now = clock.now();
                    let shared = renew_shared(
                        &store,
                        &key,
                        view.load(Ordering::SeqCst),
                        &settings(),
                        |t| !t.expiry().is_expired(clock.now()),
                        |base| vendor.renew(base, now),
                    )
                    .await
                    .unwrap();
                    view.store(shared.version.unwrap(), Ordering::SeqCst);
                    shared.outcome
                }));
            }
            let mut outcomes = HashMap::new();
            for t in tasks {
                *outcomes
                    .entry(format!("{:?}", t.await.unwrap()))
                    .or_insert(0) += 1;
            }
            assert_eq!(
                vendor.renewals.load(Ordering::SeqCst),
                round + 1,
                "round {round}"
            );
            assert_eq!(
                outcomes.get("Renewed"),
                Some(&1),
                "round {round}: {outcomes:?}"
            );
            assert_eq!(
                outcomes.get("Waited").copied().unwrap_or(0)
                    + outcomes.get("Loaded").copied().unwrap_or(0),
                PROCESSES - 1
            );
        }
        assert_eq!(vendor.sign_ins.load(Ordering::SeqCst), 1);
        assert_eq!(vendor.stale_refreshes.load(Ordering::SeqCst), 0);
        let last = store.load(&key).await.unwrap().unwrap();
        assert_eq!(last.version, EXPIRIES + 1);
        assert_eq!(
            last.tokens.refresh_token().unwrap().expose(),
            format!("r{}", EXPIRIES + 1)
        );
    }

    /// A holder that never releases (a process killed mid-renewal): the others wait its
    /// lease out, never renewing while it lives, and one of them takes over after the TTL.
    #[tokio::test(start_paused = true)]
    async fn a_holder_that_never_releases_is_taken_over_after_the_ttl() {
        let store = MemoryStore::new();
        let key = key_of(&store);
        let s = settings();
        let Acquire::Acquired(dead) = store.acquire(&key, s.lease_ttl()).await.unwrap() else {
            panic!("free lease")
        };
        let start = Instant::now();
        let renewals = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (store, key, renewals) = (store.clone(), key.clone(), renewals.clone());
            tasks.push(tokio::spawn(async move {
                renew_shared(
                    &store,
                    &key,
                    0,
                    &s,
                    |_| true,
                    |_| async move {
                        // Nobody renews while the dead holder's lease lives.
                        assert!(Instant::now() - start >= s.lease_ttl());
                        renewals.fetch_add(1, Ordering::SeqCst);
                        Ok(TokenSet::new(AccessToken::new("after"), Expiry::never()))
                    },
                )
                .await
                .unwrap()
            }));
        }
        for t in tasks {
            let shared = t.await.unwrap();
            assert_eq!(shared.tokens.access_token().expose(), "after");
            assert_eq!(shared.version, Some(1));
        }
        assert_eq!(renewals.load(Ordering::SeqCst), 1);
        let took = Instant::now() - start;
        assert!(
            took >= s.lease_ttl() && took < s.lease_ttl() + Duration::from_secs(1),
            "{took:?}"
        );
        // The stale holder comes back: it can neither publish nor release.
        let stale = TokenSet::new(AccessToken::new("stale"), Expiry::never());
        assert_eq!(
            store.publish(&key, dead, 0, &stale).await.unwrap(),
            Publish::Fenced { version: 1 }
        );
        assert!(!store.release(&key, dead).await.unwrap());
        assert_eq!(
            store
                .load(&key)
                .await
                .unwrap()
                .unwrap()
                .tokens
                .access_token()
                .expose(),
            "after"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn fencing_refuses_a_stale_holder_and_allows_a_lapsed_one_nobody_replaced() {
        let store = MemoryStore::new();
        let key = key_of(&store);
        let set = |v: &str| TokenSet::new(AccessToken::new(v), Expiry::never());
        let ttl = Duration::from_secs(1);
        let Acquire::Acquired(a) = store.acquire(&key, ttl).await.unwrap() else {
            panic!()
        };
        tokio::time::advance(ttl).await;
        let Acquire::Acquired(b) = store.acquire(&key, ttl).await.unwrap() else {
            panic!()
        };
        assert!(b.get() > a.get());
        // `a` lapsed and `b` holds the lease: `a` is fenced out even though nothing was
        // published yet.
        assert_eq!(
            store.publish(&key, a, 0, &set("a")).await.unwrap(),
            Publish::Fenced { version: 0 }
        );
        assert_eq!(
            store.publish(&key, b, 0, &set("b")).await.unwrap(),
            Publish::Published(1)
        );
        // A publication must start from the current version.
        assert_eq!(
            store.publish(&key, b, 0, &set("b2")).await.unwrap(),
            Publish::Fenced { version: 1 }
        );
        assert!(store.release(&key, b).await.unwrap());
        // A holder whose lease lapsed with nobody after it may still publish its renewal.
        let Acquire::Acquired(c) = store.acquire(&key, ttl).await.unwrap() else {
            panic!()
        };
        tokio::time::advance(ttl * 2).await;
        assert_eq!(
            store.publish(&key, c, 1, &set("c")).await.unwrap(),
            Publish::Published(2)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_401_invalidates_only_the_version_used() {
        let store = MemoryStore::new();
        let key = key_of(&store);
        let s = settings();
        let set = |v: &str| TokenSet::new(AccessToken::new(v), Expiry::never());
        let first = renew_shared(&store, &key, 0, &s, |_| true, |_| async { Ok(set("a1")) })
            .await
            .unwrap();
        assert_eq!(first.version, Some(1));
        assert!(!store.invalidate(&key, 0).await.unwrap());
        assert!(store.invalidate(&key, 1).await.unwrap());
        assert!(store.load(&key).await.unwrap().unwrap().invalidated);
        // A process holding nothing does not adopt an invalidated set: it renews from it.
        let second = renew_shared(
            &store,
            &key,
            0,
            &s,
            |_| true,
            |base| async move {
                assert_eq!(base.unwrap().access_token().expose(), "a1");
                Ok(set("a2"))
            },
        )
        .await
        .unwrap();
        assert_eq!(
            (second.version, second.outcome),
            (Some(2), Outcome::Renewed)
        );
        // A late 401 on version 1 leaves version 2 alone.
        assert!(!store.invalidate(&key, 1).await.unwrap());
        assert!(!store.load(&key).await.unwrap().unwrap().invalidated);
        let late = renew_shared(&store, &key, 1, &s, |_| true, no_renewal)
            .await
            .unwrap();
        assert_eq!((late.version, late.outcome), (Some(2), Outcome::Loaded));
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_renewal_releases_the_lease_and_is_not_shared() {
        let store = MemoryStore::new();
        let key = key_of(&store);
        let s = settings();
        let start = Instant::now();
        let e = renew_shared(
            &store,
            &key,
            0,
            &s,
            |_| true,
            |_| async { Err::<TokenSet, _>(Error::new(ErrorKind::Rejected, "bad credentials")) },
        )
        .await
        .unwrap_err();
        assert!(e.is_rejected());
        // The next caller renews at once: the lease was released, not left to its TTL.
        let next = renew_shared(
            &store,
            &key,
            0,
            &s,
            |_| true,
            |_| async { Ok(TokenSet::new(AccessToken::new("ok"), Expiry::never())) },
        )
        .await
        .unwrap();
        assert_eq!(next.outcome, Outcome::Renewed);
        assert_eq!(Instant::now(), start);
    }

    /// A store that is down (every call fails) or hangs (no call ever answers).
    #[derive(Debug)]
    struct BrokenStore {
        hang: bool,
        calls: AtomicU64,
    }

    impl BrokenStore {
        async fn fail<T>(&self) -> Result<T, Error> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if self.hang {
                std::future::pending::<()>().await;
            }
            Err(Error::new(ErrorKind::Transient, "connection refused"))
        }
    }

    #[async_trait]
    impl TokenStore for BrokenStore {
        fn key(&self, identity: &Identity<'_>) -> StoreKey {
            StoreKey::new(identity.vendor())
        }
        async fn load(&self, _: &StoreKey) -> Result<Option<Stored>, Error> {
            self.fail().await
        }
        async fn acquire(&self, _: &StoreKey, _: Duration) -> Result<Acquire, Error> {
            self.fail().await
        }
        async fn release(&self, _: &StoreKey, _: Fence) -> Result<bool, Error> {
            self.fail().await
        }
        async fn publish(
            &self,
            _: &StoreKey,
            _: Fence,
            _: u64,
            _: &TokenSet,
        ) -> Result<Publish, Error> {
            self.fail().await
        }
        async fn wait_newer(
            &self,
            _: &StoreKey,
            _: u64,
            _: Duration,
        ) -> Result<Option<Stored>, Error> {
            self.fail().await
        }
        async fn invalidate(&self, _: &StoreKey, _: u64) -> Result<bool, Error> {
            self.fail().await
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_store_that_is_down_or_hangs_falls_back_to_a_local_renewal() {
        for hang in [false, true] {
            let store = BrokenStore {
                hang,
                calls: AtomicU64::new(0),
            };
            let key = key_of(&store);
            let s = settings();
            let start = Instant::now();
            let shared = renew_shared(
                &store,
                &key,
                3,
                &s,
                |_| true,
                |base| async move {
                    assert!(base.is_none());
                    Ok(TokenSet::new(AccessToken::new("local"), Expiry::never()))
                },
            )
            .await
            .unwrap();
            assert_eq!(
                (shared.outcome, shared.version),
                (Outcome::Fallback, None),
                "hang {hang}"
            );
            assert_eq!(
                store.calls.load(Ordering::SeqCst),
                1,
                "one failed call is enough"
            );
            let took = Instant::now() - start;
            let expected = if hang {
                s.store_timeout()
            } else {
                Duration::ZERO
            };
            assert_eq!(took, expected, "hang {hang}");
        }
    }

    /// A MemoryStore that can be switched off, as Redis stopped mid-run.
    #[derive(Debug, Default)]
    struct Switchable {
        store: MemoryStore,
        down: AtomicBool,
        /// Another process holds the lease and keeps it alive, never publishing.
        always_held: bool,
    }

    impl Switchable {
        fn check(&self) -> Result<(), Error> {
            if self.down.load(Ordering::SeqCst) {
                Err(Error::new(ErrorKind::Transient, "store is down"))
            } else {
                Ok(())
            }
        }
    }

    #[async_trait]
    impl TokenStore for Switchable {
        fn key(&self, identity: &Identity<'_>) -> StoreKey {
            self.store.key(identity)
        }
        async fn load(&self, key: &StoreKey) -> Result<Option<Stored>, Error> {
            self.check()?;
            self.store.load(key).await
        }
        async fn acquire(&self, key: &StoreKey, ttl: Duration) -> Result<Acquire, Error> {
            self.check()?;
            if self.always_held {
                return Ok(Acquire::Held {
                    expires_in: Some(Duration::from_millis(100)),
                });
            }
            self.store.acquire(key, ttl).await
        }
        async fn release(&self, key: &StoreKey, fence: Fence) -> Result<bool, Error> {
            self.check()?;
            self.store.release(key, fence).await
        }
        async fn publish(
            &self,
            key: &StoreKey,
            fence: Fence,
            base: u64,
            tokens: &TokenSet,
        ) -> Result<Publish, Error> {
            self.check()?;
            self.store.publish(key, fence, base, tokens).await
        }
        async fn wait_newer(
            &self,
            key: &StoreKey,
            version: u64,
            timeout: Duration,
        ) -> Result<Option<Stored>, Error> {
            self.check()?;
            let r = self.store.wait_newer(key, version, timeout).await;
            self.check()?;
            r
        }
        async fn invalidate(&self, key: &StoreKey, version: u64) -> Result<bool, Error> {
            self.check()?;
            self.store.invalidate(key, version).await
        }
    }

    /// The store goes down while one process renews and the others wait: the waiters fall
    /// back to their own renewals (none fails); once it is back they share again.
    #[tokio::test(start_paused = true)]
    async fn a_store_going_down_mid_wait_falls_back_and_rejoins() {
        let store = Arc::new(Switchable::default());
        let key = key_of(&*store);
        let s = settings().with_wait_slice(Duration::from_millis(50));
        let renewals = Arc::new(AtomicU64::new(0));
        let run = |store: Arc<Switchable>, renewals: Arc<AtomicU64>, key: StoreKey| async move {
            renew_shared(
                &*store,
                &key,
                0,
                &s,
                |_| true,
                |_| async {
                    renewals.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    Ok(TokenSet::new(AccessToken::new("t"), Expiry::never()))
                },
            )
            .await
            .unwrap()
            .outcome
        };
        let tasks: Vec<_> = (0..4)
            .map(|_| tokio::spawn(run(store.clone(), renewals.clone(), key.clone())))
            .collect();
        tokio::time::sleep(Duration::from_millis(100)).await;
        store.down.store(true, Ordering::SeqCst);
        let mut outcomes = Vec::new();
        for t in tasks {
            outcomes.push(t.await.unwrap());
        }
        // The holder's publish failed too: every one of the four renewed locally.
        assert_eq!(outcomes, vec![Outcome::Fallback; 4]);
        assert_eq!(renewals.load(Ordering::SeqCst), 4);
        store.down.store(false, Ordering::SeqCst);
        // Back up: its lease lapses, then one renewal serves everyone again.
        tokio::time::sleep(s.lease_ttl()).await;
        let tasks: Vec<_> = (0..4)
            .map(|_| tokio::spawn(run(store.clone(), renewals.clone(), key.clone())))
            .collect();
        let mut here = 0;
        for t in tasks {
            let outcome = t.await.unwrap();
            assert_ne!(outcome, Outcome::Fallback);
            here += usize::from(outcome.renewed_here());
        }
        assert_eq!((here, renewals.load(Ordering::SeqCst)), (1, 5));
    }

    #[tokio::test(start_paused = true)]
    async fn a_caller_never_waits_past_max_wait() {
        let store = Switchable {
            always_held: true,
            ..Switchable::default()
        };
        let key = key_of(&store);
        let s = settings().with_max_wait(Duration::from_secs(2));
        let start = Instant::now();
        let e = renew_shared(&store, &key, 0, &s, |_| true, no_renewal)
            .await
            .unwrap_err();
        assert!(e.is_transient());
        let took = Instant::now() - start;
        assert!(
            took >= Duration::from_secs(2) && took < Duration::from_secs(3),
            "{took:?}"
        );
    }

    #[test]
    fn the_protocol_future_is_send() {
        fn is_send<T: Send>(_: &T) {}
        let store = MemoryStore::new();
        let key = key_of(&store);
        let s = ShareSettings::default();
        let f = renew_shared(
            &store,
            &key,
            0,
            &s,
            |_| true,
            |_| async { Ok(TokenSet::new(AccessToken::new("x"), Expiry::never())) },
        );
        is_send(&f);
    }
}
