//! An [iPaaS.com](https://ipaas.com) API client that never makes you write a token lifecycle.
//!
//! Sign in with a user's email and password or with a company API key; the client logs in
//! on first use, checks `access_token_expiration` before each call and refreshes only once
//! the token has actually expired (iPaaS.com forbids proactive refresh), sends only the
//! refresh token to `Auth/Refresh`, recovers from one unexpected 401 by renewing and
//! retrying once, and falls back to a full login when the refresh token is refused. API
//! keys are sent like an access token and never "refreshed".
//!
//! ```no_run
//! use futures::StreamExt as _;
//! use ipaas_com::{Api, Client, Credentials, Environment};
//!
//! # async fn run() -> ipaas_com::Result<()> {
//! let client = Client::builder()
//!     .with_environment(Environment::Production)
//!     .with_credentials(Credentials::user("user@example.com", "password"))
//!     .build()?;
//!
//! let me = client.login().await?;
//! let companies = client.companies().await?;
//! if let Some(other) = companies.get(1) {
//!     client.change_company(&other.id).await?;
//! }
//!
//! let mut events = client
//!     .list::<serde_json::Value>(Api::Subscriptions, "Events")
//!     .with_page_size(100)
//!     .items();
//! while let Some(event) = events.next().await {
//!     let event = event?;
//!     println!("{event}");
//! }
//! println!("{:?} made {} calls", me.name, client.session_stats().requests);
//! # Ok(()) }
//! ```
//!
//! Errors are the workspace-wide [`Error`]: iPaaS.com's plain-text error bodies become its
//! vendor message, and a 429 carries a [`RateLimitKind`] telling the monthly plan limit (not
//! retryable) from a temporary volume limit (retryable, with `Retry-After` when sent).
//!
//! With the `sandbox` feature, `sandbox::Sandbox` is an in-process fake iPaaS.com for tests.

// Library code must not panic on input; tests and examples may unwrap.
#![warn(clippy::unwrap_used)]

mod auth;
mod client;
mod config;
mod error;
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing;
mod models;
mod paging;
#[cfg(feature = "sandbox")]
pub mod sandbox;

pub use auth::Credentials;
pub use auth_core::reqwest::Method;
pub use auth_core::{
    AuthScheme, Error, ErrorKind, Page, PageInfo, PageToken, Result, SessionStats,
};
pub use client::{ApiRequest, Client, ClientBuilder};
pub use config::{Api, Environment};
pub use error::RateLimitKind;
pub use models::{Company, UserProfile};
pub use paging::ListRequest;

// The README's examples are compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
