//! Client for the Incend IPaaS one-time-code authentication API: a backend client (send and
//! verify codes, check a session) and a user client (view and edit the profile from the
//! user's device), built on `auth-core`.
//!
//! The backend client is authorized by the client API key (`ipaas` header). A verification
//! gives the backend the user's id and session token; the backend keeps only the id (the
//! IPaaS privacy rule: [`VerifiedUser`] holds nothing personal) and hands the token to the
//! user's device, whose [`UserClient`] sends it as `Authorization: Bearer <base64 of it>`.
//!
//! A user session cannot be refreshed and this library cannot sign a user in: when it has
//! expired (by the server-reported expiry, or a 401/404 from the server) calls fail with
//! [`ErrorKind::SessionExpired`], once, with no retry: ask the user to sign in again.
//!
//! ```no_run
//! # async fn run() -> incend::Result<()> {
//! use incend::{Client, ProfileEdit, Recipient, UserClient};
//!
//! // On the client backend.
//! let backend = Client::builder().with_api_key("client-api-key").build()?;
//! let to = Recipient::sms("+918838118348")?;
//! backend.send_otp(&to).await?;
//! let user = backend.verify_otp(&to, "0123").await?; // the code the user typed
//! let keep_this = user.user_id().clone();
//! let for_the_device = user.user_token().clone();
//!
//! // On the user's device.
//! let me = UserClient::builder()
//!     .with_user_token(for_the_device)
//!     .with_expires_at(user.expires_at())
//!     .build()?;
//! match me.profile().await {
//!     Ok(profile) => println!("hello {}", profile.name.as_deref().unwrap_or("there")),
//!     Err(e) if e.is_session_expired() => println!("please sign in again"),
//!     Err(e) => return Err(e),
//! }
//! me.edit_profile(&ProfileEdit::new("Asha")?.with_data("city", "Chennai")).await?;
//! # let _ = keep_this;
//! # Ok(()) }
//! ```
//!
//! With the `sandbox` feature, [`sandbox::Sandbox`] is an in-process fake of the server for
//! tests and demos.

// Library code must not panic on input; tests and examples may unwrap (see clippy.toml).
#![warn(clippy::unwrap_used)]

mod client;
mod error;
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing;
mod models;
#[cfg(feature = "sandbox")]
pub mod sandbox;
mod user;

pub use auth_core::{Error, ErrorKind, Result, SessionStats};
pub use client::{Client, ClientBuilder, DEFAULT_BASE_URL, ENV_API_KEY, ENV_BASE_URL};
pub use error::{ApiError, ErrorReason};
pub use models::{
    Channel, OtpSent, Profile, ProfileEdit, Recipient, TokenStatus, UserId, UserToken, VerifiedUser,
};
pub use user::{UserClient, UserClientBuilder};

// The README's examples are compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
