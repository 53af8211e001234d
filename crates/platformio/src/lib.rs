//! Client for the white-label platform's REST API: the service user's login, whose API
//! token is a JWT cached until (near) its `exp`, and the client account API (sign up, log
//! in, update, delete), with an in-process sandbox behind the `sandbox` feature.
//!
//! ```
//! # #[cfg(not(feature = "sandbox"))] fn main() {}
//! # #[cfg(feature = "sandbox")]
//! # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
//! # async fn main() -> platformio::Result<()> {
//! use platformio::{ClientName, ClientUpdate, NewClient, Uuid, sandbox::Sandbox};
//!
//! // Against the real platform: Client::builder().with_platform_id("..").with_credentials(..).
//! let sandbox = Sandbox::start().await;
//! let client = sandbox.client_builder().build()?;
//!
//! let user_id = Uuid::new_v4();
//! let new = NewClient::new(user_id, "ada@example.com", ClientName::new("Ada", "Lovelace"), "pw-1")
//!     .with_phone_number("+27761234567");
//! client.sign_up(&new).await?;
//!
//! let login = client.login_client("ada@example.com", "pw-1").await?;
//! let update = ClientUpdate::new().last_name("King").clear_phone_number();
//! client.update_client(user_id, &login.client_token, &update).await?;
//! client.delete_client(user_id, &login.client_token, "requested by the client").await?;
//!
//! // One service login served all four calls; the account keeps only its id.
//! assert_eq!(client.session_stats().sign_ins, 1);
//! assert!(sandbox.account(user_id).is_some_and(|a| a.deleted && a.email.is_none()));
//! # Ok(()) }
//! ```
//!
//! Quirks handled: the API token's expiry is read from the JWT `exp` claim (without
//! verifying the signature) and the token is renewed by logging in again ahead of expiry
//! (there is no refresh grant); error bodies `{"errors":[...]}` whose `status` is a number
//! or a string; 409 on an existing user id ([`ErrorExt::is_user_id_taken`]); an opt-in
//! limiter for the documented 300 calls per minute per endpoint.
//!
//! [`Client::from_env`] reads `PLATFORMIO_BASE_URL` or `PLATFORMIO_PLATFORM_ID` (with
//! `PLATFORMIO_ENVIRONMENT`, `staging` by default), `PLATFORMIO_USERNAME` and
//! `PLATFORMIO_PASSWORD`.

mod auth;
mod client;
mod error;
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing;
mod models;
#[cfg(feature = "sandbox")]
pub mod sandbox;

pub use auth::ServiceCredentials;
/// The client's session as a `reqwest_middleware` layer: [`Client::middleware`](auth_core::client::Core::middleware).
#[cfg(feature = "middleware")]
pub use auth_core::middleware::AuthMiddleware;
pub use auth_core::{Error, ErrorKind, Result, SessionStats};
pub use client::{Client, ClientBuilder, Environment, RATE_LIMIT_PER_MINUTE};
pub use error::{ApiError, ApiErrors, ErrorCase, ErrorExt};
pub use models::{
    ClientAccount, ClientLogin, ClientName, ClientToken, ClientUpdate, CustomValue, NewClient,
};
/// Client user ids are UUIDs (re-exported so callers name the same version).
pub use uuid::Uuid;

// The README's examples are compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
