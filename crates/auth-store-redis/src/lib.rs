//! A Redis [`TokenStore`](auth_core::store::TokenStore) and a fleet-wide
//! [`Limiter`](auth_core::limit::Limiter) for the vendor clients built on `auth-core`: every
//! process of a service shares one sign-in, one renewal per token expiry, the latest refresh
//! token and one rate-limit quota.
//!
//! - [`RedisConnection`]: where Redis is (`redis://`, or `rediss://` over rustls), its ACL
//!   user and password (never printed), the bound on every call and a breaker, so a Redis
//!   that is down costs a call nothing but a fallback.
//! - [`RedisStore`]: token sets encrypted (ChaCha20-Poly1305) under an [`EncryptionKey`]
//!   you supply, under key names that hold a keyed hash of the credentials; a renewal lease
//!   (`SET NX PX` with a fence), fenced publication and compare-and-delete release in Lua;
//!   waiters woken by pub/sub, with polling as the fallback. Run the renewal protocol on it
//!   with [`auth_core::store::renew_shared`].
//! - [`RedisLimiter`]: GCRA in Lua on the server's clock; local limits, counted, when
//!   Redis is unreachable.
//!
//! A vendor client takes both from its builder: `with_token_store(store, settings)` and
//! `with_rate_limiter(limiter)` (see the README's "With a vendor client"). Below, the
//! protocol used directly:
//!
//! ```no_run
//! use std::time::Duration;
//! use auth_core::store::{Identity, ShareSettings, TokenStore, renew_shared};
//! use auth_core::{AccessToken, Expiry, TokenSet};
//! use auth_store_redis::{EncryptionKey, RedisConnection, RedisStore};
//!
//! # async fn run() -> Result<(), auth_core::Error> {
//! let conn = RedisConnection::builder("rediss://redis.internal:6379")
//!     .with_username("vendor-auth")
//!     .with_password(std::env::var("REDIS_PASSWORD").unwrap_or_default())
//!     .build()?;
//! let key = EncryptionKey::from_base64(&std::env::var("TOKEN_STORE_KEY").unwrap_or_default())?;
//! let store = RedisStore::builder(conn).with_encryption_key(key).build()?;
//!
//! let secret = secrecy::SecretString::from("client-secret");
//! let id = store.key(&Identity::new("iqm").with_part("client-id").with_secret(&secret));
//! let shared = renew_shared(&store, &id, 0, &ShareSettings::default(), |_| true, |latest| async move {
//!     // Sign in (or refresh from `latest`): this runs in one process of the fleet.
//!     let _ = latest;
//!     Ok(TokenSet::new(AccessToken::new("token"), Expiry::never()))
//! })
//! .await?;
//! println!("{:?} as version {:?}", shared.outcome, shared.version);
//! # Ok(())
//! # }
//! ```

// Library code must not panic on input; tests and examples may unwrap (see clippy.toml).
#![warn(clippy::unwrap_used)]

mod connection;
mod crypto;
mod limiter;
mod store;

pub use connection::{RedisConnection, RedisConnectionBuilder};
pub use crypto::EncryptionKey;
pub use limiter::{Admission, RedisLimiter, RedisLimiterBuilder};
pub use store::{RedisStore, RedisStoreBuilder};

// The README's example is compiled as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
