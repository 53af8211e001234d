//! Client for the Incend IPaaS one-time-code authentication API: a backend client (send and
//! verify codes, check a session) and a user client (view and edit the profile from the
//! user's device), built on `auth-core`.
//!
//! The backend [`Client`] is authorized by the client API key (`ipaas` header). A
//! verification gives the backend the user's id and session token; the backend keeps only
//! the id (the IPaaS privacy rule: [`VerifiedUser`] holds nothing personal) and hands the
//! token to the user's device, whose [`UserClient`] sends it as
//! `Authorization: Bearer <base64 of it>`.
//!
//! A user session cannot be refreshed and this library cannot sign a user in: when it has
//! expired (by the server-reported expiry, or a 401/404 from the server) calls fail with
//! [`ErrorKind::SessionExpired`], once, with no retry: ask the user to sign in again.
//!
//! The whole flow, against the in-process `sandbox` (feature `sandbox`); against the real
//! server, build the backend with `Client::from_env()` (`INCEND_API_KEY`, optionally
//! `INCEND_BASE_URL`) or `Client::builder().with_credentials(api_key)`:
//!
//! ```
//! # #[cfg(feature = "sandbox")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> incend::Result<()> {
//! use incend::sandbox::Sandbox;
//! use incend::{ErrorExt, ErrorReason, ProfileEdit, Recipient};
//!
//! let sandbox = Sandbox::builder().otp("0123").start().await;
//!
//! // On the client backend: send a code, verify the one the user typed.
//! let backend = sandbox.client_builder().build()?;
//! let to = Recipient::sms("+918838118348")?;
//! backend.send_otp(&to).await?;
//! let typo = backend.verify_otp(&to, "0124").await.unwrap_err();
//! assert!(typo.is_rejected());
//! assert_eq!(typo.error_reason(), Some(ErrorReason::VerificationFailed));
//! let user = backend.verify_otp(&to, "0123").await?;
//! // Keep user.user_id(); hand user.user_token() and user.expires_at() to the device.
//!
//! // On the user's device.
//! let me = sandbox
//!     .user_client_builder()
//!     .with_credentials(user.user_token().clone())
//!     .with_expires_at(user.expires_at())
//!     .build()?;
//! let edit = ProfileEdit::new("Asha")?.with_data("city", "Chennai");
//! let profile = me.edit_profile(&edit).await?;
//! assert_eq!((&profile.user_id, profile.name.as_deref()), (user.user_id(), Some("Asha")));
//!
//! // The session ends on the server: the distinct error, sent once, never retried.
//! sandbox.expire_session(user.user_token().expose());
//! let e = me.profile().await.unwrap_err();
//! assert!(e.is_session_expired() && !e.is_retryable());
//! assert_eq!(me.session_stats().sign_ins, 0);
//! # Ok(()) }
//! # #[cfg(not(feature = "sandbox"))]
//! # fn main() {}
//! ```

mod auth;
mod client;
mod error;
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing;
mod models;
#[cfg(feature = "sandbox")]
pub mod sandbox;

/// The client's session as a `reqwest_middleware` layer: [`Client::middleware`](auth_core::client::Core::middleware).
#[cfg(feature = "middleware")]
pub use auth_core::middleware::AuthMiddleware;
pub use auth_core::{ApiKey, Error, ErrorKind, Result, SessionStats};
pub use client::{Client, ClientBuilder, DEFAULT_BASE_URL, UserClient, UserClientBuilder};
pub use error::{ApiError, ErrorExt, ErrorReason};
pub use models::{
    Channel, OtpSent, Profile, ProfileEdit, Recipient, TokenStatus, UserId, UserToken, VerifiedUser,
};

// The README's examples are compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
