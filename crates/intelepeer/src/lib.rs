//! An IntelePeer API client: authenticate with an API user's username and password for the
//! 24-hour token (or use the long-standing CPaaS token), then call the SMS / CPaaS API
//! (`Authorization: Bearer <token>`) and the Customer Portal's `/my/*` API (the raw token)
//! without handling either token or scheme yourself.
//!
//! - The token's expiry is its JWT `exp` when it is a JWT, else 24 hours from issue. It is
//!   renewed by authenticating again shortly before it expires, once per expiry however
//!   many tasks wait, and once after a 401 (the retry's 401 surfaces).
//! - A 401 from the authenticate call itself is "bad credentials", never retried.
//! - The static CPaaS token never expires and is never renewed: its 401 surfaces.
//! - `{"code": ..., "error": ...}` error bodies become the error's vendor message and an
//!   [`ApiError`] detail, read back with [`ErrorExt::api_error`].
//!
//! Against the in-process sandbox (feature `sandbox`):
//!
//! ```
//! # #[cfg(feature = "sandbox")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), intelepeer::Error> {
//! use intelepeer::{SendSms, sandbox::Sandbox};
//!
//! let sandbox = Sandbox::builder().start().await;
//! let client = sandbox.client_builder().build()?;
//!
//! let receipt = client.send_sms(&SendSms::new("+13035550100", "+13035550199", "hello")).await?;
//! assert_eq!(receipt.status.as_deref(), Some("queued"));
//! let page = client.accounts_page(1, 100).await?;
//! assert_eq!(page.items.len(), 100);
//! assert_eq!(client.session_stats().sign_ins, 1);
//! # Ok(()) }
//! # #[cfg(not(feature = "sandbox"))]
//! # fn main() {}
//! ```
//!
//! Against IntelePeer, build the client with
//! `Client::builder().with_credentials(Credentials::password("api-user", "password"))` (or
//! [`Credentials::static_token`]) and call it the same way; `Client::from_env()` reads
//! `INTELEPEER_BASE_URL` (portal host), `INTELEPEER_API_URL` (SMS host), and
//! `INTELEPEER_USERNAME` + `INTELEPEER_PASSWORD` or `INTELEPEER_TOKEN`.

mod auth;
mod client;
mod error;
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing;
mod models;
#[cfg(feature = "sandbox")]
pub mod sandbox;

pub use auth::Credentials;
/// The client's session as a `reqwest_middleware` layer: [`Client::middleware`](auth_core::client::Core::middleware).
#[cfg(feature = "middleware")]
pub use auth_core::middleware::AuthMiddleware;
pub use auth_core::{
    AuthorizedRequest, Error, ErrorKind, Page, PageToken, Result, SessionStats,
    provider::{AuthScheme, PageInfo},
};
pub use client::{
    API_URL, ATMOSPHERE_URL, Api, AuthEndpoint, CUSTOMER_PORTAL_URL, Client, ClientBuilder,
    Environment,
};
pub use error::{ApiError, ErrorExt};
pub use models::{Account, SendSms, SmsReceipt};

// The README's examples are compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
