//! Token, expiry, session, request-pipeline and pagination primitives shared by the vendor
//! API clients of this workspace (`ipaas-com`, `platformio`, `incend`, `intelepeer`, `iqm`).
//!
//! A vendor crate implements [`TokenProvider`]; a [`Session`] caches the token set it returns,
//! renews it single-flight under the vendor's [`RenewalPolicy`], and sends authorized requests
//! with exactly one retry after a 401. Secrets live in `secrecy` types and never print.
//!
//! ```
//! use async_trait::async_trait;
//! use auth_core::{AccessToken, Error, Expiry, Http, ManualClock, Session, TokenProvider, TokenSet};
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

// Library code must not panic on input; tests and examples may unwrap (see clippy.toml).
#![warn(clippy::unwrap_used)]

mod clock;
mod error;
mod expiry;
mod http;
mod jitter;
pub mod lenient;
mod limiter;
mod paginate;
mod provider;
mod request;
mod retry;
#[cfg(feature = "sandbox")]
pub mod sandbox;
mod scrub;
mod session;
mod token;

pub use clock::server_date;
pub use clock::{Clock, ManualClock, SharedClock, SystemClock};
pub use error::{Error, ErrorDetail, ErrorKind, Result, kind_for_status};
pub use expiry::{Expiry, jwt_claims, jwt_expiry, looks_like_jwt, parse_rfc3339};
pub use http::{
    DEFAULT_MAX_BODY, DEFAULT_MAX_ERROR_BODY, ErrorParser, Http, PlainTextErrors, build,
    default_client, ensure_secure, parse_error, parse_json, read_bounded, read_json,
    redirect_policy, retry_after, scrub,
};
pub use limiter::RateLimiter;
pub use paginate::{Page, PageInfo, PageToken, Paginator};
pub use provider::RenewalWindows;
pub use provider::{AuthScheme, Capabilities, RenewalPolicy, TokenProvider};
pub use request::AuthorizedRequest;
pub use retry::Backoff;
pub use retry::RetryPolicy;
pub use session::{Lease, Session, SessionStats};
pub use token::{AccessToken, ApiKey, RefreshToken, TokenSet, sensitive_header};

// The README's example is compiled as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

// Re-exported so vendor crates and users name the same versions.
pub use async_trait::async_trait;
pub use reqwest;
pub use secrecy;
