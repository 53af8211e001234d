//! An IQM API client: client id and secret as HTTP Basic on sign-up, login and refresh;
//! the workspace id (`owId`) from login sent as `X-IAA-OW-ID` beside the bearer token on
//! every later call; tokens renewed ahead of expiry without you handling any of it.
//!
//! - Login is the form-encoded `POST /api/v3/ua/oauth/token` (`grant_type=password`) by
//!   default, or the JSON `POST /api/v3/ua/login` with its `X-Iaa-Host` header
//!   ([`LoginFlow::Json`]).
//! - Refresh is form-encoded by default; the API reference page's JSON body is
//!   [`RefreshFlow::Json`].
//! - `expires_in` becomes an expiry at receipt. Shortly before it, the refresh token is
//!   exchanged (`grant_type=refresh_token`); that answer is flat and has no `owId`, which is
//!   kept from the login. A refused refresh token falls back to one full login; if that is
//!   refused too, the error is a clear unauthorized one.
//! - Token answers are read whether wrapped in `{success, data}` or flat.
//! - Error answers `{success: false, errorObjects: [...], data?}` become the error's vendor
//!   message and an [`IqmError`] detail holding every object; the account-on-hold answer is
//!   recognisable ([`ErrorExt::account_hold`]; [`ErrorExt::iqm_error`] reads the whole
//!   body back). 400/403/412/422 are rejections, 408 and 500 transient, 429 rate limiting.
//! - IQM's 20 requests per minute is available as an opt-in client-side limiter
//!   ([`ClientBuilder::with_rate_limit`]).
//! - Any list endpoint pages with [`Client::list`]: `pageNo`/`noOfEntries` or
//!   `offset`/`limit` ([`Paging`]), typed rows, at most [`MAX_PAGE_SIZE`] a page, the end
//!   found from `filteredRecords`/`totalRecords` and the rows received ([`ListRequest`]).
//! - The client is the auth-core kit's [`Core`](auth_core::client::Core) plus IQM's calls:
//!   `session_stats`, `settle`, `token_expiry` and authorized `request`s are the kit's.
//!
//! Against the in-process sandbox (feature `sandbox`), which is also how your tests can
//! drive it:
//!
//! ```
//! # #[cfg(feature = "sandbox")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), iqm::Error> {
//! use std::time::Duration;
//! use iqm::ErrorExt as _;
//! use iqm::sandbox::{ManualClock, Sandbox};
//!
//! let clock = ManualClock::new();
//! let sandbox = Sandbox::builder()
//!     .clock(clock.clone())
//!     .token_lifetime(Duration::from_secs(3600))
//!     .start()
//!     .await;
//! let client = sandbox.client_builder().build()?;
//!
//! let ow_id = client.login().await?;
//! assert_eq!(client.fetch_workspace_id().await?, ow_id);
//! clock.advance(Duration::from_secs(3600));          // past the expiry
//! let again: u64 = client.get_data("/api/v3/ua/user/ow-id").await?;
//! assert_eq!(again.to_string(), ow_id);
//! assert_eq!(client.session_stats().refreshes, 1);
//! client.logout().await?;
//!
//! sandbox.set_on_hold(Sandbox::EMAIL, true);
//! let held = client.login().await.unwrap_err();
//! assert!(held.account_hold().is_some() && !held.is_retryable());
//! # Ok(()) }
//! # #[cfg(not(feature = "sandbox"))]
//! # fn main() {}
//! ```
//!
//! Against IQM, leave the base URL out and give your credentials (or call
//! [`Client::from_env`]); [`ClientBuilder`] shows the options.

mod auth;
mod client;
mod error;
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing;
mod models;
#[cfg(feature = "sandbox")]
pub mod sandbox;

pub use auth::{
    ClientCredentials, Credentials, IAA_HOST_HEADER, LoginFlow, OwId, RefreshFlow, WORKSPACE_HEADER,
};
/// The client's session as a `reqwest_middleware` layer: [`Client::middleware`](auth_core::client::Core::middleware).
#[cfg(feature = "middleware")]
pub use auth_core::middleware::AuthMiddleware;
pub use auth_core::{
    Error, ErrorKind, Expiry, Page, PageToken, RateLimiter, Result, SessionStats, TokenSet,
    provider::PageInfo,
};
pub use client::{
    Client, ClientBuilder, Environment, ListRequest, MAX_PAGE_SIZE, PRODUCTION_URL, Paging,
    RATE_LIMIT,
};
pub use error::{AccountHold, ErrorExt, ErrorObject, IqmError};
pub use models::SignUp;

// The README's examples are compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
