//! An [iPaaS.com](https://ipaas.com) API client that never makes you write a token lifecycle.
//!
//! Sign in with a user's email and password or with a company API key; the client logs in
//! on first use, checks `access_token_expiration` before each call and refreshes only once
//! the token has actually expired (iPaaS.com forbids proactive refresh), sends only the
//! refresh token to `Auth/Refresh`, recovers from one unexpected 401 by renewing and
//! retrying once, and falls back to a full login when the refresh token is refused. API
//! keys are sent like an access token and never "refreshed".
//!
//! Here against the in-process sandbox (feature `sandbox`); against iPaaS.com, build with
//! `Client::builder().with_credentials(Credentials::user(email, password))` (production is
//! the default environment) or [`Client::from_env`].
//!
//! ```
//! # #[cfg(feature = "sandbox")]
//! # #[tokio::main(flavor = "multi_thread")]
//! # async fn main() -> ipaas_com::Result<()> {
//! use futures::TryStreamExt as _;
//! use ipaas_com::sandbox::{self, Sandbox};
//! use ipaas_com::{Api, Client, Credentials, Method};
//!
//! let sandbox = Sandbox::builder().events(250).start().await;
//! let client = Client::builder()
//!     .with_base_url(sandbox.base_url())
//!     .with_credentials(Credentials::user(sandbox::EMAIL, sandbox::PASSWORD))
//!     .build()?;
//!
//! let me = client.login().await?;
//! assert_eq!(me.id, Some(664));
//! let companies = client.companies().await?;
//! client.change_company(&companies[1].id).await?; // new tokens, scoped to that company
//!
//! let events: Vec<serde_json::Value> = client
//!     .list(Api::Subscriptions, "Events")
//!     .with_page_size(100)
//!     .items()
//!     .try_collect()
//!     .await?;
//! assert_eq!(events.len(), 250); // three pages, read from the X-Pagination header
//!
//! // Any endpoint: `{base_url}/{api}/{version}/{endpoint}` (the sandbox echoes it).
//! let echo: serde_json::Value = client
//!     .request(Method::PUT, Api::Products, "Product/A 1")
//!     .with_version("v1")
//!     .with_json(&serde_json::json!({"sku": "A 1"}))
//!     .send_json()
//!     .await?;
//! assert_eq!(echo["path"], "/products/v1/Product/A%201");
//! assert_eq!(client.session_stats().sign_ins, 1);
//! # Ok(()) }
//! # #[cfg(not(feature = "sandbox"))]
//! # fn main() {}
//! ```
//!
//! Errors are the workspace-wide [`Error`]: iPaaS.com's plain-text error bodies become its
//! vendor message, and a 429 carries a [`RateLimitKind`] ([`ErrorExt::rate_limit_kind`])
//! telling the monthly plan limit (not retryable) from a temporary volume limit (retryable,
//! with `Retry-After` when sent).
//!
//! With the `sandbox` feature, [`sandbox::Sandbox`] is an in-process fake iPaaS.com for
//! tests.

mod auth;
mod client;
mod error;
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing;
mod models;
#[cfg(feature = "sandbox")]
pub mod sandbox;

pub use auth::{Credentials, RefreshForm};
/// The client's session as a `reqwest_middleware` layer: [`Client::middleware`](auth_core::client::Core::middleware).
#[cfg(feature = "middleware")]
pub use auth_core::middleware::AuthMiddleware;
pub use auth_core::reqwest::Method;
pub use auth_core::{
    Error, ErrorKind, Page, PageToken, Result, SessionStats,
    provider::{AuthScheme, PageInfo},
};
pub use client::{Api, ApiRequest, Client, ClientBuilder, Environment, ListRequest};
pub use error::{ErrorExt, RateLimitKind};
pub use models::{Company, UserProfile};

// The README's examples are compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
