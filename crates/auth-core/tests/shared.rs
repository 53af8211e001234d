//! Sessions sharing one token set through a token store (issue 14), every instant on the
//! injected manual clock and tokio's paused timer, every count exact:
//!
//! - eight sessions (standing for eight processes, each with its own cache) sign in once
//!   and renew once per expiry, each renewal from the latest refresh token of a vendor that
//!   rotates them, and a valid token never touches the store;
//! - a 401 invalidates the store's version of the token that was used, and only it;
//! - data attached with `with_storable_data` travels through a store that keeps bytes; a
//!   set that cannot be stored is renewed locally and counted, never a failed call;
//! - a store that is down makes every session renew on its own (counted), and they share
//!   again once it is back;
//! - the lease TTL is raised above one token request's worst case.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use auth_core::store::{
    Acquire, Fence, Identity, MemoryStore, Publish, ShareSettings, SharedTokenStore, StoreKey,
    Stored, TokenStore,
};
use auth_core::{
    AccessToken, Clock as _, Error, ErrorKind, Expiry, ManualClock, RefreshToken, Session,
    SessionStats, TokenSet, http::Http, provider::TokenProvider,
};
use httpmock::prelude::*;
use secrecy::ExposeSecret as _;

const LIFETIME: Duration = Duration::from_secs(600);
const SESSIONS: usize = 8;
const EXPIRIES: u64 = 10;

/// Non-secret data the vendor answers with a sign-in, as IQM's workspace id.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
struct Workspace(u64);

/// What the vendor knows: the tokens it issued, the refresh token it accepts next (it
/// rotates them), and what it was asked.
#[derive(Debug, Default)]
struct VendorState {
    serial: u64,
    latest_refresh: Option<String>,
    valid_access: HashSet<String>,
    sign_ins: u64,
    refreshes: u64,
    /// Refreshes with anything but the latest refresh token: refused.
    stale_refreshes: u64,
}

/// One process's provider of one vendor: sessions of the "fleet" hold their own provider,
/// sharing the vendor's state.
#[derive(Debug, Clone)]
struct Vendor {
    clock: ManualClock,
    state: Arc<Mutex<VendorState>>,
    /// Attach the workspace as local data (`with_data`), which a store cannot keep.
    local_data: bool,
}

impl Vendor {
    fn new(clock: &ManualClock) -> Self {
        Vendor {
            clock: clock.clone(),
            state: Arc::default(),
            local_data: false,
        }
    }

    fn issue(&self, state: &mut VendorState) -> TokenSet {
        state.serial += 1;
        let (access, refresh) = (
            format!("access-{}", state.serial),
            format!("refresh-{}", state.serial),
        );
        state.valid_access.insert(access.clone());
        state.latest_refresh = Some(refresh.clone());
        TokenSet::new(
            AccessToken::new(access),
            Expiry::lifetime_from(LIFETIME, self.clock.now()),
        )
        .with_refresh_token(Some(RefreshToken::new(refresh)))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, VendorState> {
        self.state.lock().unwrap()
    }

    /// Sign-ins and refreshes so far.
    fn grants(&self) -> (u64, u64) {
        let state = self.state();
        (state.sign_ins, state.refreshes)
    }

    /// Sign-ins, refreshes and refused (stale) refreshes so far.
    fn counts(&self) -> (u64, u64, u64) {
        let state = self.state();
        (state.sign_ins, state.refreshes, state.stale_refreshes)
    }

    /// Expire every access token issued so far (the next call with one gets a 401).
    fn expire_access(&self) {
        self.state().valid_access.clear();
    }
}

#[async_trait]
impl TokenProvider for Vendor {
    async fn sign_in(&self) -> Result<TokenSet, Error> {
        // The vendor takes a moment: the other sessions pile up meanwhile.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut state = self.state();
        state.sign_ins += 1;
        let set = self.issue(&mut state);
        Ok(if self.local_data {
            set.with_data(Workspace(42))
        } else {
            set.with_storable_data(Workspace(42))
        })
    }

    async fn refresh(&self, current: &TokenSet) -> Result<TokenSet, Error> {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut state = self.state();
        let offered = current.refresh_token().map(|r| r.expose().to_owned());
        if offered.is_none() || offered != state.latest_refresh {
            state.stale_refreshes += 1;
            return Err(Error::new(
                ErrorKind::Rejected,
                "refresh token is not the latest",
            ));
        }
        state.refreshes += 1;
        // The refresh answer has no workspace: the session carries it over.
        Ok(self.issue(&mut state))
    }
}

/// A store that counts the calls it gets, can be taken down, and can keep bytes instead of
/// sets (as a Redis store does), around a [`MemoryStore`].
#[derive(Debug, Clone, Default)]
struct TestStore {
    inner: MemoryStore,
    calls: Arc<AtomicU64>,
    down: Arc<AtomicBool>,
    /// Round-trip every published set through its at-rest bytes.
    as_bytes: bool,
    /// The TTL of every lease asked for.
    ttls: Arc<Mutex<Vec<Duration>>>,
}

impl TestStore {
    fn check(&self) -> Result<(), Error> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.down.load(Ordering::SeqCst) {
            Err(Error::new(ErrorKind::Transient, "test store is down"))
        } else {
            Ok(())
        }
    }

    fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl TokenStore for TestStore {
    fn key(&self, identity: &Identity<'_>) -> StoreKey {
        self.inner.key(identity)
    }
    async fn load(&self, key: &StoreKey) -> Result<Option<Stored>, Error> {
        self.check()?;
        self.inner.load(key).await
    }
    async fn acquire(&self, key: &StoreKey, ttl: Duration) -> Result<Acquire, Error> {
        self.check()?;
        self.ttls.lock().unwrap().push(ttl);
        self.inner.acquire(key, ttl).await
    }
    async fn release(&self, key: &StoreKey, fence: Fence) -> Result<bool, Error> {
        self.check()?;
        self.inner.release(key, fence).await
    }
    async fn publish(
        &self,
        key: &StoreKey,
        fence: Fence,
        base: u64,
        tokens: &TokenSet,
    ) -> Result<Publish, Error> {
        self.check()?;
        if self.as_bytes {
            let bytes = tokens.to_stored_bytes()?;
            let back = TokenSet::from_stored_bytes(bytes.expose_secret())?;
            return self.inner.publish(key, fence, base, &back).await;
        }
        self.inner.publish(key, fence, base, tokens).await
    }
    async fn wait_newer(
        &self,
        key: &StoreKey,
        version: u64,
        timeout: Duration,
    ) -> Result<Option<Stored>, Error> {
        self.check()?;
        self.inner.wait_newer(key, version, timeout).await
    }
    async fn invalidate(&self, key: &StoreKey, version: u64) -> Result<bool, Error> {
        self.check()?;
        self.inner.invalidate(key, version).await
    }
}

fn key_of(store: &TestStore) -> StoreKey {
    store.key(&Identity::new("test").with_part("alice"))
}

/// A "fleet" of sessions, each with its own cache and provider, on one store and vendor.
fn fleet(vendor: &Vendor, store: &TestStore, n: usize) -> Vec<Session> {
    let key = key_of(store);
    (0..n)
        .map(|i| {
            let http = Http::new().unwrap().with_clock(vendor.clock.clone());
            Session::new(vendor.clone(), http)
                .with_jitter_seed(i as u64)
                .with_token_store(store.clone(), key.clone(), ShareSettings::default())
        })
        .collect()
}

/// Every session asks for a token at once; each answer's access token.
async fn all_take_a_token(sessions: &[Session]) -> Vec<String> {
    let tasks: Vec<_> = sessions
        .iter()
        .map(|s| {
            let s = s.clone();
            tokio::spawn(async move { s.token().await })
        })
        .collect();
    let mut tokens = Vec::new();
    for t in tasks {
        let lease = t.await.unwrap().unwrap();
        tokens.push(lease.tokens().access_token().expose().to_owned());
    }
    tokens
}

fn total(sessions: &[Session], f: impl Fn(&SessionStats) -> u64) -> u64 {
    sessions.iter().map(|s| f(&s.stats())).sum()
}

#[tokio::test(start_paused = true)]
async fn a_fleet_signs_in_once_and_renews_once_per_expiry_from_the_latest_refresh_token() {
    let clock = ManualClock::new();
    let vendor = Vendor::new(&clock);
    let store = TestStore {
        as_bytes: true,
        ..TestStore::default()
    };
    let sessions = fleet(&vendor, &store, SESSIONS);

    let first = all_take_a_token(&sessions).await;
    assert!(first.iter().all(|t| t == "access-1"), "{first:?}");
    assert_eq!(vendor.grants(), (1, 0));
    assert_eq!(total(&sessions, |s| s.sign_ins), 1);
    assert_eq!(total(&sessions, |s| s.store_loaded), SESSIONS as u64 - 1);

    // A valid token is served from the session's own cache: the store is not asked.
    let before = store.calls();
    for s in &sessions {
        for _ in 0..100 {
            s.token().await.unwrap();
        }
    }
    assert_eq!(store.calls(), before);

    for round in 1..=EXPIRIES {
        clock.advance(LIFETIME);
        let tokens = all_take_a_token(&sessions).await;
        let expected = format!("access-{}", round + 1);
        assert!(
            tokens.iter().all(|t| *t == expected),
            "round {round}: {tokens:?}"
        );
        assert_eq!(vendor.grants().1, round, "round {round}");
    }
    assert_eq!(vendor.counts(), (1, EXPIRIES, 0));
    // Each session counts only the token requests it made: together, the vendor's.
    assert_eq!(total(&sessions, |s| s.sign_ins), 1);
    assert_eq!(total(&sessions, |s| s.refreshes), EXPIRIES);
    assert_eq!(
        total(&sessions, |s| s.store_loaded),
        (SESSIONS as u64 - 1) * (EXPIRIES + 1)
    );
    assert_eq!(total(&sessions, |s| s.store_fallbacks), 0);
    assert_eq!(total(&sessions, |s| s.expiries), SESSIONS as u64 * EXPIRIES);
    // The workspace survived the bytes and the refreshes (whose answers lack it).
    for s in &sessions {
        let lease = s.current().unwrap();
        assert_eq!(
            lease.tokens().storable_data::<Workspace>(),
            Some(&Workspace(42))
        );
        assert_eq!(lease.store_version(), Some(EXPIRIES + 1));
    }
}

/// A vendor API over HTTP that accepts only the vendor's current access tokens.
async fn api(vendor: &Vendor) -> MockServer {
    let server = MockServer::start_async().await;
    let state = vendor.state.clone();
    server
        .mock_async(move |_when, then| {
            then.respond_with(move |req: &httpmock::HttpMockRequest| {
                let token = req
                    .headers()
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "))
                    .map(str::to_owned)
                    .unwrap_or_default();
                let status = if state.lock().unwrap().valid_access.contains(&token) {
                    200
                } else {
                    401
                };
                httpmock::HttpMockResponse::builder()
                    .status(status)
                    .body("{}")
                    .build()
            });
        })
        .await;
    server
}

// Real time: the calls go over HTTP, where a paused clock would time every request out.
#[tokio::test]
async fn a_401_invalidates_the_version_used_and_only_it() {
    let clock = ManualClock::new();
    let vendor = Vendor::new(&clock);
    let store = TestStore::default();
    let sessions = fleet(&vendor, &store, 2);
    let (a, b) = (&sessions[0], &sessions[1]);
    let server = api(&vendor).await;
    let call = |s: &Session| {
        let req = s.http().request(reqwest::Method::GET, server.url("/me"));
        let s = s.clone();
        async move { s.send(req).await.map(|r| r.status().as_u16()) }
    };
    assert_eq!(call(a).await.unwrap(), 200);
    assert_eq!(call(b).await.unwrap(), 200);
    assert_eq!(a.current().unwrap().store_version(), Some(1));

    // The vendor drops the tokens it issued: A's call is refused, A invalidates version 1
    // in the store and renews; B, refused too, finds version 2 there and renews nothing.
    vendor.expire_access();
    assert_eq!(call(a).await.unwrap(), 200);
    assert_eq!(a.current().unwrap().store_version(), Some(2));
    let key = key_of(&store);
    assert!(!store.inner.load(&key).await.unwrap().unwrap().invalidated);
    assert_eq!(call(b).await.unwrap(), 200);
    assert_eq!(b.current().unwrap().store_version(), Some(2));
    // B's 401 on version 1 left version 2 alone: still valid, served to both.
    let stored = store.inner.load(&key).await.unwrap().unwrap();
    assert_eq!((stored.version, stored.invalidated), (2, false));
    assert_eq!(call(a).await.unwrap(), 200);
    assert_eq!(vendor.grants(), (1, 1));
    assert_eq!((a.stats().recovered_401, b.stats().recovered_401), (1, 1));
    assert_eq!((a.stats().refreshes, b.stats().refreshes), (1, 0));
    assert_eq!(b.stats().store_loaded, 2);
}

#[tokio::test(start_paused = true)]
async fn a_set_the_store_cannot_keep_is_renewed_locally_and_counted() {
    let clock = ManualClock::new();
    let vendor = Vendor {
        local_data: true,
        ..Vendor::new(&clock)
    };
    let store = TestStore {
        as_bytes: true,
        ..TestStore::default()
    };
    let sessions = fleet(&vendor, &store, 3);
    // Every session gets a token, each of its own: a set holding `with_data` values is
    // refused at rest (the publish fails), so it is a fallback, not a failed call.
    let tokens = all_take_a_token(&sessions).await;
    assert_eq!(tokens.len(), 3);
    assert!(store.inner.load(&key_of(&store)).await.unwrap().is_none());
    assert_eq!(total(&sessions, |s| s.store_fallbacks), 3);
    assert_eq!(vendor.grants().0, 3);
    for s in &sessions {
        assert_eq!(s.current().unwrap().store_version(), None);
        assert_eq!(
            s.current().unwrap().tokens().data::<Workspace>(),
            Some(&Workspace(42))
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_store_that_is_down_never_fails_a_call_and_the_fleet_shares_again_once_it_is_back() {
    let clock = ManualClock::new();
    let vendor = Vendor::new(&clock);
    let store = TestStore::default();
    let sessions = fleet(&vendor, &store, 4);
    all_take_a_token(&sessions).await;
    assert_eq!(vendor.grants().0, 1);

    // Down: every session renews on its own, from its own (the same, rotated away) refresh
    // token: one refresh is accepted, the other three are refused and sign in instead.
    store.down.store(true, Ordering::SeqCst);
    clock.advance(LIFETIME);
    let tokens = all_take_a_token(&sessions).await;
    assert_eq!(tokens.iter().collect::<HashSet<_>>().len(), 4, "{tokens:?}");
    assert_eq!(total(&sessions, |s| s.store_fallbacks), 4);
    assert_eq!(vendor.counts(), (1 + 3, 1, 3));
    assert_eq!(total(&sessions, |s| s.renewal_failures), 0);

    // Back: the next expiry is one renewal for all four again.
    store.down.store(false, Ordering::SeqCst);
    clock.advance(LIFETIME);
    let tokens = all_take_a_token(&sessions).await;
    assert_eq!(tokens.iter().collect::<HashSet<_>>().len(), 1, "{tokens:?}");
    let (sign_ins, refreshes) = vendor.grants();
    assert_eq!(sign_ins + refreshes, 4 + 1 + 1);
    assert_eq!(total(&sessions, |s| s.store_fallbacks), 4);
    assert_eq!(total(&sessions, |s| s.store_loaded), 3 + 3);
}

#[tokio::test(start_paused = true)]
async fn the_lease_outlasts_one_token_request() {
    let clock = ManualClock::new();
    let vendor = Vendor::new(&clock);
    let store = TestStore::default();
    let key = key_of(&store);
    let session = |settings: ShareSettings| {
        Session::new(
            vendor.clone(),
            Http::new().unwrap().with_clock(clock.clone()),
        )
        .with_token_store(SharedTokenStore::new(store.clone()), key.clone(), settings)
    };
    // The defaults: 3 attempts of 5 s, at most 0.6 s of backoff, two store calls of 1 s:
    // 17.6 s, under the default TTL of 20 s, which stands.
    session(ShareSettings::default()).token().await.unwrap();
    // A TTL below that is raised to it; a longer token timeout raises it further.
    clock.advance(LIFETIME);
    let short = ShareSettings::default().with_lease_ttl(Duration::from_secs(1));
    session(short).token().await.unwrap();
    clock.advance(LIFETIME);
    session(short)
        .with_token_timeout(Duration::from_secs(10))
        .token()
        .await
        .unwrap();
    assert_eq!(
        *store.ttls.lock().unwrap(),
        [
            ShareSettings::DEFAULT_LEASE_TTL,
            Duration::from_millis(17_600),
            Duration::from_millis(32_600)
        ]
    );
}
