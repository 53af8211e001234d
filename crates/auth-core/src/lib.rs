//! Token, expiry, session, request-pipeline and pagination primitives shared by the vendor
//! API clients of this workspace (`ipaas-com`, `platformio`, `incend`, `intelepeer`, `iqm`).
//!
//! A vendor crate implements [`TokenProvider`](provider::TokenProvider); a [`Session`] caches the token set it returns,
//! renews it single-flight under the vendor's [`RenewalPolicy`](provider::RenewalPolicy), and sends authorized requests
//! with exactly one retry after a 401. Secrets live in `secrecy` types and never print.
//!
//! With the `tracing` feature (the default) the session emits, to whatever `tracing`
//! subscriber you install, one `renewal` span per real renewal (fields `vendor`, `kind`,
//! `outcome`, `status`, `attempts`, `duration_ms`, with a `token_request` event per attempt)
//! and events for each 401 (`unauthorized`), backoff, token expired on arrival, token-store
//! fallback and rate-limiter wait; nothing for a call served by a valid token, and no field
//! ever holds a secret or an error body. The README's "Tracing" lists every name and level.
//!
//! ```
//! use async_trait::async_trait;
//! use auth_core::{AccessToken, Error, Expiry, ManualClock, Session, TokenSet, http::Http, provider::TokenProvider};
//!
//! #[derive(Debug)]
//! struct StaticKey;
//!
//! #[async_trait]
//! impl TokenProvider for StaticKey {
//!     async fn sign_in(&self) -> Result<TokenSet, Error> {
//!         Ok(TokenSet::new(AccessToken::new("key"), Expiry::never()))
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Error> {
//! let http = Http::new()?.with_clock(ManualClock::new());
//! let session = Session::new(StaticKey, http);
//! let lease = session.token().await?;
//! assert_eq!(lease.tokens().access_token().expose(), "key");
//! assert_eq!(session.stats().sign_ins, 1);
//! # Ok(())
//! # }
//! ```

pub mod client;
mod clock;
mod error;
mod expiry;
pub mod http;
mod jitter;
pub mod lenient;
pub mod limit;
mod limiter;
#[cfg(feature = "middleware")]
pub mod middleware;
mod paginate;
pub mod provider;
mod request;
mod retry;
#[cfg(feature = "sandbox")]
pub mod sandbox;
mod scrub;
mod session;
pub mod store;
mod token;
mod trace;

// What a user of a vendor crate holds. Everything else sits in a module by audience:
// `client` and `provider` (and `http`, `jwt`, `lenient`) for vendor authors, `sandbox` for
// test writers, `store` and `limit` for token stores and limiters shared by a fleet.
pub use clock::{Clock, ManualClock, SharedClock, SystemClock};
pub use error::{Error, ErrorKind, Result};
pub use expiry::Expiry;
pub use limiter::RateLimiter;
pub use paginate::{Page, PageToken};
pub use request::AuthorizedRequest;
pub use session::{Lease, LeaseGuard, Session, SessionStats};
pub use token::{AccessToken, ApiKey, RefreshToken, TokenSet};

/// Reading JSON Web Tokens a vendor issues: their claims and `exp`, without verifying the
/// signature (the vendor does that; a client only needs to know when to renew).
pub mod jwt {
    pub use crate::expiry::{jwt_claims, jwt_expiry, looks_like_jwt};
}

// The README's example is compiled as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

// Re-exported so vendor crates and users name the same versions.
pub use reqwest;
#[cfg(feature = "middleware")]
pub use reqwest_middleware;
pub use secrecy;
