//! Incend's error answers: every one is `{"message": "..."}`, mostly with status 400, so the
//! message (not the status) says what happened. This module turns them into error kinds and
//! keeps the message's meaning on the error, read back with [`ErrorExt`].

use auth_core::{Error, ErrorKind, http::ErrorParser};
use reqwest::header::HeaderMap;

/// What an Incend error answer means, read from its message ([`ErrorExt::error_reason`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum ErrorReason {
    /// "Client not authorised": the `ipaas` API key is unknown (status 400).
    ClientNotAuthorised,
    /// "Client is not allowed to perform authentication services": the key is known but
    /// the client is not enabled for OTP.
    ClientNotAllowed,
    /// "Invalid request": a required field is missing or malformed.
    InvalidRequest,
    /// "Invalid mobile number" or "Invalid email address": the number or address does not
    /// exist as far as the server's lookup can tell.
    InvalidRecipient,
    /// "Mobile number is blacklisted" or "Email is blacklisted".
    Blacklisted,
    /// "OTP verification failed, status is still ...": the code was wrong or used up.
    VerificationFailed,
    /// "Something went wrong while sending/verifying OTP - ...": the delivery provider failed.
    DeliveryFailed,
    /// "JWT token has expired, re-initiate login" (status 401).
    SessionExpired,
    /// "No such JWT token is created" (status 404): the server does not know the token.
    UnknownSession,
    /// "Invalid JWT token" (status 401): no token reached the server.
    MissingToken,
    /// Any other message.
    Other,
}

/// An Incend error answer: its message and what it means, attached to every error built
/// from one ([`ErrorExt::api_error`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct ApiError {
    /// The server's `message` (scrubbed of the secrets sent with the request).
    pub message: String,
    /// What the message means.
    pub reason: ErrorReason,
}

/// The reason a message (and its status) stands for.
pub(crate) fn reason_for(status: u16, message: &str) -> ErrorReason {
    let m = message.trim().to_ascii_lowercase();
    if m == "client not authorised" || m == "client not authorized" {
        ErrorReason::ClientNotAuthorised
    } else if m.starts_with("client is not allowed") {
        ErrorReason::ClientNotAllowed
    } else if m == "invalid request" {
        ErrorReason::InvalidRequest
    } else if m == "invalid mobile number" || m == "invalid email address" {
        ErrorReason::InvalidRecipient
    } else if m.ends_with("is blacklisted") {
        ErrorReason::Blacklisted
    } else if m.starts_with("otp verification failed") {
        ErrorReason::VerificationFailed
    } else if m.starts_with("something went wrong") {
        ErrorReason::DeliveryFailed
    } else if m.starts_with("jwt token has expired") {
        ErrorReason::SessionExpired
    } else if m.starts_with("no such jwt token") {
        ErrorReason::UnknownSession
    } else if m == "invalid jwt token" {
        ErrorReason::MissingToken
    } else if status == 401 {
        // Every 401 of this API is about the user token.
        ErrorReason::SessionExpired
    } else {
        ErrorReason::Other
    }
}

fn kind_for(reason: ErrorReason, base: ErrorKind) -> ErrorKind {
    match reason {
        ErrorReason::ClientNotAuthorised => ErrorKind::Unauthorized,
        ErrorReason::SessionExpired | ErrorReason::UnknownSession | ErrorReason::MissingToken => {
            ErrorKind::SessionExpired
        }
        ErrorReason::ClientNotAllowed
        | ErrorReason::InvalidRequest
        | ErrorReason::InvalidRecipient
        | ErrorReason::Blacklisted
        | ErrorReason::VerificationFailed
        | ErrorReason::DeliveryFailed => ErrorKind::Rejected,
        // 429 and 5xx keep the kind their status gives.
        ErrorReason::Other => base,
    }
}

/// Incend's detail on an [`Error`]: the error answer it came from and what that meant. The
/// kind (`is_rejected`, `is_session_expired`, ...) says what to do; the reason says which of
/// the vendor's cases it was, for a message to the user.
///
/// ```
/// use incend::{Error, ErrorExt, ErrorKind, ErrorReason};
///
/// fn advice(err: &Error) -> &'static str {
///     match err.error_reason() {
///         Some(ErrorReason::VerificationFailed) => "that code is not right, try again",
///         Some(ErrorReason::Blacklisted) => "this number or address cannot be used",
///         _ if err.is_session_expired() => "please sign in again",
///         _ => "something went wrong",
///     }
/// }
/// // An error that did not come from an Incend answer has no detail.
/// let local = Error::new(ErrorKind::InvalidInput, "one-time code must be 3 to 6 characters");
/// assert!(local.api_error().is_none());
/// assert_eq!(advice(&local), "something went wrong");
/// ```
pub trait ErrorExt {
    /// The vendor's error answer (its message, scrubbed of the secrets sent, and what it
    /// means), when the error came from one.
    fn api_error(&self) -> Option<&ApiError>;

    /// What the vendor's error answer means, when the error came from one.
    fn error_reason(&self) -> Option<ErrorReason> {
        self.api_error().map(|a| a.reason)
    }
}

impl ErrorExt for Error {
    fn api_error(&self) -> Option<&ApiError> {
        self.detail::<ApiError>()
    }
}

const SESSION_REJECTED: &str = "user session expired or unknown: ask the user to sign in again";

/// The [`ErrorParser`] for Incend answers.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct IncendErrors;

impl ErrorParser for IncendErrors {
    fn parse(&self, status: u16, _headers: &HeaderMap, body: &str, base: Error) -> Error {
        let message = serde_json::from_str::<crate::models::MessageWire>(body)
            .ok()
            .and_then(|w| w.message);
        let Some(message) = message else {
            // Not the vendor's shape (a proxy page, an empty body): the status decides, except
            // that a bare 401 on this API still means the user session is not accepted.
            return if status == 401 {
                base.with_kind(ErrorKind::SessionExpired)
                    .with_context(SESSION_REJECTED)
                    .with_retryable(false)
            } else {
                base
            };
        };
        let reason = reason_for(status, &message);
        let kind = kind_for(reason, base.kind());
        let mut err = base
            .with_vendor_message(message.clone())
            .with_kind(kind)
            .with_detail(ApiError { message, reason });
        match kind {
            ErrorKind::Unauthorized => err = err.with_context("client api key rejected"),
            ErrorKind::SessionExpired => err = err.with_context(SESSION_REJECTED),
            _ => {}
        }
        if matches!(kind, ErrorKind::Unauthorized | ErrorKind::SessionExpired) {
            err = err.with_retryable(false);
        }
        err
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(status: u16, body: &str) -> Error {
        // Exactly the base the pipeline builds (auth_core::http::Http::error_from).
        auth_core::http::parse_error(
            &IncendErrors,
            status,
            &HeaderMap::new(),
            body,
            std::time::SystemTime::now(),
        )
    }

    #[test]
    fn documented_messages_map_to_kinds() {
        let cases = [
            (
                400,
                "Client not authorised",
                ErrorKind::Unauthorized,
                ErrorReason::ClientNotAuthorised,
            ),
            (
                400,
                "Invalid request",
                ErrorKind::Rejected,
                ErrorReason::InvalidRequest,
            ),
            (
                400,
                "Invalid mobile number",
                ErrorKind::Rejected,
                ErrorReason::InvalidRecipient,
            ),
            (
                400,
                "Invalid email address",
                ErrorKind::Rejected,
                ErrorReason::InvalidRecipient,
            ),
            (
                400,
                "Mobile number is blacklisted",
                ErrorKind::Rejected,
                ErrorReason::Blacklisted,
            ),
            (
                400,
                "OTP verification failed, status is still pending",
                ErrorKind::Rejected,
                ErrorReason::VerificationFailed,
            ),
            (
                400,
                "Something went wrong while sending OTP - 60200",
                ErrorKind::Rejected,
                ErrorReason::DeliveryFailed,
            ),
            (
                400,
                "Client is not allowed to perform authentication services",
                ErrorKind::Rejected,
                ErrorReason::ClientNotAllowed,
            ),
            (
                401,
                "JWT token has expired, re-initiate login",
                ErrorKind::SessionExpired,
                ErrorReason::SessionExpired,
            ),
            (
                404,
                "No such JWT token is created",
                ErrorKind::SessionExpired,
                ErrorReason::UnknownSession,
            ),
            (
                401,
                "Invalid JWT token",
                ErrorKind::SessionExpired,
                ErrorReason::MissingToken,
            ),
            (
                429,
                "Too many requests",
                ErrorKind::RateLimited,
                ErrorReason::Other,
            ),
            (
                503,
                "Service Unavailable",
                ErrorKind::Transient,
                ErrorReason::Other,
            ),
        ];
        for (status, message, kind, reason) in cases {
            let e = parse(
                status,
                &serde_json::json!({ "message": message }).to_string(),
            );
            assert_eq!(e.kind(), kind, "{message}");
            assert_eq!(e.status(), Some(status));
            assert_eq!(e.vendor_message(), Some(message));
            let d = e.api_error().expect("detail");
            assert_eq!(d.reason, reason, "{message}");
            assert_eq!(d.message, message);
        }
    }

    #[test]
    fn other_shapes_keep_the_status_kind() {
        assert!(parse(404, "<html>Cannot GET /x</html>").is_rejected());
        assert!(parse(502, "").is_transient());
        assert!(parse(401, "").is_session_expired());
        assert!(parse(400, "{\"message\": null}").is_rejected());
    }
}
