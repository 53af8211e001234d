//! The Redis [`TokenStore`]: one token set per identity, its version, its renewal lease and
//! its invalidation mark, written only by Lua scripts so each step is atomic.

use std::fmt;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use auth_core::store::{Acquire, Fence, Identity, Publish, StoreKey, Stored, TokenStore};
use auth_core::{AccessToken, Error, ErrorKind, Expiry, TokenSet};
use futures::StreamExt as _;
use ring::hmac;
use secrecy::ExposeSecret as _;
use tokio::time::Instant;

use crate::connection::RedisConnection;
use crate::crypto::{self, EncryptionKey, Sealer};

/// A token store on Redis, shared by every process of a fleet: one sign-in, one renewal
/// per expiry, and the latest refresh token for everyone. Token sets are encrypted
/// (ChaCha20-Poly1305) under a key you supply; key names hold a keyed hash of the
/// credentials, never the credentials. Cheap to clone.
///
/// For each identity (`<ns>` the namespace, `<vendor>` the vendor's name, `<id>` the keyed
/// hash; the braces make Redis Cluster keep one identity's keys in one slot):
///
/// | key | type | holds |
/// | --- | --- | --- |
/// | `<ns>:<vendor>:{<id>}:tokens` | hash | `v` the version, `blob` the sealed set, `bad` the invalidated version, `fence` the last fence handed out |
/// | `<ns>:<vendor>:{<id>}:lease` | string, with a TTL | the fence of the renewal lease's holder |
/// | `<ns>:<vendor>:{<id>}:events` | pub/sub channel | a new version's number, or `released` |
///
/// ```
/// use auth_store_redis::{EncryptionKey, RedisConnection, RedisStore};
/// let conn = RedisConnection::builder("redis://127.0.0.1:6390").build()?;
/// // Without a key the builder refuses, unless plaintext is asked for by name.
/// assert!(RedisStore::builder(conn.clone()).build().unwrap_err().is_config());
/// let store = RedisStore::builder(conn).with_encryption_key(EncryptionKey::generate()?).build()?;
/// assert!(format!("{store:?}").contains("chacha20-poly1305"));
/// # Ok::<(), auth_core::Error>(())
/// ```
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

struct Inner {
    conn: RedisConnection,
    sealer: Sealer,
    identity_key: hmac::Key,
    poll_interval: Duration,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("connection", &self.inner.conn)
            .field("at_rest", &self.inner.sealer)
            .field("poll_interval", &self.inner.poll_interval)
            .finish()
    }
}

/// Settings of a [`RedisStore`].
#[must_use]
pub struct RedisStoreBuilder {
    conn: RedisConnection,
    key: Option<EncryptionKey>,
    plaintext: bool,
    poll_interval: Duration,
}

impl fmt::Debug for RedisStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStoreBuilder")
            .field("connection", &self.conn)
            .field("encryption_key", &self.key.is_some())
            .field("plaintext", &self.plaintext)
            .finish_non_exhaustive()
    }
}

impl RedisStoreBuilder {
    /// Encrypt token sets under `key` (required, unless
    /// [`with_plaintext_at_rest`](Self::with_plaintext_at_rest)). Every process sharing the
    /// store needs the same key; one with another key cannot read the sets and renews on
    /// its own.
    pub fn with_encryption_key(mut self, key: EncryptionKey) -> Self {
        self.key = Some(key);
        self
    }

    /// Store token sets in clear: anyone who can read this Redis can then use the tokens.
    /// Only for a Redis nobody else reaches (a test, a sidecar on loopback).
    pub fn with_plaintext_at_rest(mut self) -> Self {
        self.plaintext = true;
        self
    }

    /// How often a process waiting for another's renewal looks at Redis when no
    /// notification comes (default 250 ms; notifications normally wake it at once).
    pub fn with_poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// The store. A `Config` error without an encryption key and without plaintext asked
    /// for, or with both.
    pub fn build(self) -> Result<RedisStore, Error> {
        let sealer = match (&self.key, self.plaintext) {
            (Some(key), false) => Sealer::sealed(key)?,
            (None, true) => Sealer::Plain,
            (None, false) => {
                return Err(Error::new(
                    ErrorKind::Config,
                    "a redis token store needs an encryption key (with_encryption_key), or with_plaintext_at_rest to keep tokens in clear",
                ));
            }
            (Some(_), true) => {
                return Err(Error::new(
                    ErrorKind::Config,
                    "a redis token store takes an encryption key or plaintext at rest, not both",
                ));
            }
        };
        Ok(RedisStore {
            inner: Arc::new(Inner {
                identity_key: crypto::identity_key(self.key.as_ref())?,
                conn: self.conn,
                sealer,
                poll_interval: self.poll_interval,
            }),
        })
    }
}

// Sent by hash (EVALSHA), loaded on first use; the sources are in `src/lua/`.
static ACQUIRE: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("lua/acquire.lua")));
static RELEASE: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("lua/release.lua")));
static PUBLISH: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("lua/publish.lua")));
static INVALIDATE: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("lua/invalidate.lua")));

/// The Redis names of one identity.
struct Names {
    tokens: String,
    lease: String,
    events: String,
}

impl Names {
    fn of(key: &StoreKey) -> Self {
        let k = key.as_str();
        Names {
            tokens: format!("{k}:tokens"),
            lease: format!("{k}:lease"),
            events: format!("{k}:events"),
        }
    }
}

/// The version a renewal from `base` publishes as: the next one, except for the first set
/// of a key (`base` 0), which starts at the current time in milliseconds. A Redis that lost
/// its data (restarted without persistence) then hands out versions above every one it
/// handed out before, so a process holding an old version never mistakes a new set for it.
fn next_version(base: u64) -> u64 {
    if base > 0 {
        return base.saturating_add(1);
    }
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    now_ms.max(1)
}

/// What a blob is sealed for: its key and the version it is published as.
fn aad(tokens_key: &str, version: u64) -> Vec<u8> {
    format!("{tokens_key}\n{version}").into_bytes()
}

impl RedisStore {
    /// Settings for a store on `conn`.
    pub fn builder(conn: RedisConnection) -> RedisStoreBuilder {
        RedisStoreBuilder {
            conn,
            key: None,
            plaintext: false,
            poll_interval: Duration::from_millis(250),
        }
    }

    /// The connection.
    pub fn connection(&self) -> &RedisConnection {
        &self.inner.conn
    }

    fn open(&self, tokens_key: &str, version: u64, blob: &[u8]) -> Result<TokenSet, Error> {
        let plain = self.inner.sealer.open(blob, &aad(tokens_key, version))?;
        TokenSet::from_stored_bytes(plain.expose_secret())
    }

    async fn load_names(&self, names: &Names) -> Result<Option<Stored>, Error> {
        let tokens = names.tokens.clone();
        let (version, blob, bad): (Option<u64>, Option<Vec<u8>>, Option<u64>) = self
            .inner
            .conn
            .call(|mut c| async move {
                redis::cmd("HMGET")
                    .arg(&tokens)
                    .arg("v")
                    .arg("blob")
                    .arg("bad")
                    .query_async(&mut c)
                    .await
            })
            .await?;
        let (Some(version), Some(blob)) = (version, blob) else {
            return Ok(None);
        };
        Ok(Some(match self.open(&names.tokens, version, &blob) {
            Ok(tokens) => Stored {
                version,
                tokens,
                invalidated: bad == Some(version),
            },
            // Sealed under another key (a key rotation, a misconfigured process), tampered
            // with, or in a format this version does not read: never used, but renewed over,
            // so the fleet heals with one renewal instead of falling back for good.
            Err(e) if e.is_bad_response() => unreadable(version),
            Err(e) => return Err(e),
        }))
    }
}

/// What a set that cannot be read counts as: invalidated, expired, with no refresh token,
/// so nobody uses it and the renewal over it signs in.
fn unreadable(version: u64) -> Stored {
    Stored {
        version,
        tokens: TokenSet::new(AccessToken::new(""), Expiry::at(UNIX_EPOCH, UNIX_EPOCH)),
        invalidated: true,
    }
}

#[async_trait]
impl TokenStore for RedisStore {
    fn key(&self, identity: &Identity<'_>) -> StoreKey {
        let id = crypto::identity_hash(
            &self.inner.identity_key,
            identity.canonical_bytes().expose_secret(),
        );
        // The vendor's name is kept readable, limited to characters that mean nothing to
        // Redis Cluster (no braces) or to this layout (no colons).
        let vendor: String = identity
            .vendor()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        StoreKey::new(format!("{}:{vendor}:{{{id}}}", self.inner.conn.namespace()))
    }

    async fn load(&self, key: &StoreKey) -> Result<Option<Stored>, Error> {
        self.load_names(&Names::of(key)).await
    }

    async fn acquire(&self, key: &StoreKey, ttl: Duration) -> Result<Acquire, Error> {
        let names = Names::of(key);
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let (taken, value): (u8, i64) = self
            .inner
            .conn
            .call(|mut c| async move {
                ACQUIRE
                    .key(&names.tokens)
                    .key(&names.lease)
                    .arg(ttl_ms)
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        Ok(if taken == 1 {
            Acquire::Acquired(Fence::new(u64::try_from(value).unwrap_or_default()))
        } else {
            Acquire::Held {
                // PTTL is -1 without a TTL (never set by this crate) and -2 once gone.
                expires_in: u64::try_from(value).ok().map(Duration::from_millis),
            }
        })
    }

    async fn release(&self, key: &StoreKey, fence: Fence) -> Result<bool, Error> {
        let names = Names::of(key);
        let released: u8 = self
            .inner
            .conn
            .call(|mut c| async move {
                RELEASE
                    .key(&names.lease)
                    .arg(fence.get())
                    .arg(&names.events)
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        Ok(released == 1)
    }

    async fn publish(
        &self,
        key: &StoreKey,
        fence: Fence,
        base: u64,
        tokens: &TokenSet,
    ) -> Result<Publish, Error> {
        let names = Names::of(key);
        let plain = tokens.to_stored_bytes()?;
        let next = next_version(base);
        let blob = self
            .inner
            .sealer
            .seal(plain.expose_secret(), &aad(&names.tokens, next))?;
        let (published, version): (u8, u64) = self
            .inner
            .conn
            .call(|mut c| async move {
                PUBLISH
                    .key(&names.tokens)
                    .key(&names.lease)
                    .arg(fence.get())
                    .arg(base)
                    .arg(next)
                    .arg(blob)
                    .arg(&names.events)
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        Ok(if published == 1 {
            Publish::Published(version)
        } else {
            Publish::Fenced { version }
        })
    }

    async fn wait_newer(
        &self,
        key: &StoreKey,
        version: u64,
        timeout: Duration,
    ) -> Result<Option<Stored>, Error> {
        let names = Names::of(key);
        let deadline = Instant::now() + timeout;
        // Subscribe before looking, so a publication in between is not missed. Without a
        // subscription (pub/sub refused or down) this polls.
        let mut messages = match self.inner.conn.pubsub().await {
            Ok(mut pubsub) => {
                let subscribed = tokio::time::timeout(
                    self.inner.conn.timeout(),
                    pubsub.subscribe(&names.events),
                )
                .await;
                matches!(subscribed, Ok(Ok(()))).then(|| pubsub.into_on_message())
            }
            Err(_) => None,
        };
        loop {
            if let Some(s) = self.load_names(&names).await?
                && s.version > version
            {
                return Ok(Some(s));
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            let step = self.inner.poll_interval.min(deadline - now);
            match messages.as_mut() {
                Some(stream) => match tokio::time::timeout(step, stream.next()).await {
                    // The lease was given back without a new version: the caller may take it.
                    Ok(Some(msg)) if msg.get_payload_bytes() == b"released" => {
                        let s = self.load_names(&names).await?;
                        return Ok(s.filter(|s| s.version > version));
                    }
                    Ok(Some(_)) | Err(_) => {}
                    // The subscription ended: poll from here on.
                    Ok(None) => messages = None,
                },
                None => tokio::time::sleep(step).await,
            }
        }
    }

    async fn invalidate(&self, key: &StoreKey, version: u64) -> Result<bool, Error> {
        let names = Names::of(key);
        let marked: u8 = self
            .inner
            .conn
            .call(|mut c| async move {
                INVALIDATE
                    .key(&names.tokens)
                    .arg(version)
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        Ok(marked == 1)
    }
}
