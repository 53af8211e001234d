//! What the session and the limiter emit through `tracing` (the `tracing` feature, on by
//! default): one span per real renewal, events for what happens around renewals. Nothing is
//! emitted on the hot path (a valid cached token), and no field ever holds a secret: errors
//! appear as their kind and HTTP status only, never their message or body.
//!
//! Without the feature every function here is a no-op the compiler removes. See the crate
//! README ("Tracing") for the names, fields and levels.

use std::future::Future;
use std::time::Duration;

use crate::error::{Error, ErrorKind};

/// The target of the session's spans and events.
#[cfg(feature = "tracing")]
const SESSION: &str = "auth_core::session";
/// The target of the client-side limiter's events.
#[cfg(feature = "tracing")]
const LIMIT: &str = "auth_core::limit";

/// Which token request a renewal span is for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    SignIn,
    Refresh,
}

impl Kind {
    #[cfg_attr(not(feature = "tracing"), allow(dead_code))]
    fn as_str(self) -> &'static str {
        match self {
            Kind::SignIn => "sign-in",
            Kind::Refresh => "refresh",
        }
    }
}

/// An error as a field value: its kind, never its message (which may quote a vendor).
#[cfg_attr(not(feature = "tracing"), allow(dead_code))]
fn kind_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Unauthorized => "unauthorized",
        ErrorKind::SessionExpired => "session_expired",
        ErrorKind::RateLimited => "rate_limited",
        ErrorKind::Transient => "transient",
        ErrorKind::Rejected => "rejected",
        ErrorKind::BadResponse => "bad_response",
        ErrorKind::InvalidInput => "invalid_input",
        ErrorKind::InsecureTransport => "insecure_transport",
        ErrorKind::Config => "config",
    }
}

#[cfg_attr(not(feature = "tracing"), allow(dead_code))]
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(feature = "tracing")]
mod on {
    use super::*;
    use tracing::Instrument as _;
    use tracing::field::Empty;

    /// `fut`, one token request with its retries, inside a `renewal` span whose outcome,
    /// status, attempts and duration are recorded when it ends.
    pub(crate) async fn renewal<T, F>(vendor: &'static str, kind: Kind, fut: F) -> Result<T, Error>
    where
        F: Future<Output = Result<T, Error>>,
    {
        let span = tracing::info_span!(
            target: SESSION,
            "renewal",
            vendor,
            kind = kind.as_str(),
            outcome = Empty,
            status = Empty,
            attempts = Empty,
            duration_ms = Empty,
        );
        let started = std::time::Instant::now();
        let result = fut.instrument(span.clone()).await;
        span.record("duration_ms", millis(started.elapsed()));
        match &result {
            Ok(_) => span.record("outcome", "ok"),
            Err(e) => span
                .record("outcome", kind_name(e.kind()))
                .record("status", e.status()),
        };
        result
    }

    /// One attempt of a token request ended (inside its renewal span).
    pub(crate) fn attempt<T>(attempt: u32, result: &Result<T, Error>) {
        tracing::Span::current().record("attempts", attempt);
        match result {
            Ok(_) => tracing::debug!(
                name: "token_request",
                target: SESSION,
                attempt,
                outcome = "ok",
            ),
            Err(e) => tracing::warn!(
                name: "token_request",
                target: SESSION,
                attempt,
                outcome = kind_name(e.kind()),
                status = e.status(),
            ),
        }
    }

    /// A failed attempt is retried after `wait`.
    pub(crate) fn retry_wait(attempt: u32, wait: Duration) {
        tracing::debug!(name: "retry_wait", target: SESSION, attempt, wait_ms = millis(wait));
    }

    /// A 401 on an authorized call: whether it was retried (after a renewal) and how the
    /// retry ended.
    pub(crate) fn unauthorized(
        vendor: &'static str,
        retried: bool,
        retry: Option<&Result<reqwest::Response, Error>>,
    ) {
        let recovered = matches!(retry, Some(Ok(_)));
        let retry_status = retry.and_then(|r| match r {
            Ok(resp) => Some(resp.status().as_u16()),
            Err(e) => e.status(),
        });
        let outcome = match retry {
            None => "not_retried",
            Some(Ok(_)) => "ok",
            Some(Err(e)) => kind_name(e.kind()),
        };
        if recovered {
            tracing::info!(
                name: "unauthorized",
                target: SESSION,
                vendor,
                status = 401u16,
                retried,
                recovered,
                retry_status,
                outcome,
            );
        } else {
            tracing::warn!(
                name: "unauthorized",
                target: SESSION,
                vendor,
                status = 401u16,
                retried,
                recovered,
                retry_status,
                outcome,
            );
        }
    }

    /// The token store failed, so this session renewed on its own.
    pub(crate) fn store_fallback(vendor: &'static str) {
        tracing::warn!(name: "store_fallback", target: SESSION, vendor);
    }

    /// The token store refused the set renewed here (another process published first).
    pub(crate) fn store_unpublished(vendor: &'static str) {
        tracing::info!(name: "store_unpublished", target: SESSION, vendor);
    }

    /// The token store answered a renewal with another session's set: no token request.
    pub(crate) fn store_loaded(vendor: &'static str, waited: bool) {
        tracing::debug!(name: "store_loaded", target: SESSION, vendor, waited);
    }

    /// A renewal answered a token that had already expired; `backoff` is how long it is
    /// served before the next renewal (none: renewed again at once).
    pub(crate) fn expired_on_arrival(
        vendor: &'static str,
        in_a_row: u32,
        backoff: Option<Duration>,
    ) {
        tracing::warn!(
            name: "expired_on_arrival",
            target: SESSION,
            vendor,
            in_a_row,
            backoff_ms = backoff.map(millis),
        );
    }

    /// A renewal failed: the next one waits `backoff` while a valid token is served.
    pub(crate) fn renewal_backoff(vendor: &'static str, failures_in_a_row: u32, backoff: Duration) {
        tracing::warn!(
            name: "renewal_backoff",
            target: SESSION,
            vendor,
            failures_in_a_row,
            backoff_ms = millis(backoff),
        );
    }

    /// The client-side limiter holds a request for `wait`.
    pub(crate) fn rate_limit_wait(wait: Duration, per_endpoint: bool) {
        tracing::info!(
            name: "rate_limit_wait",
            target: LIMIT,
            wait_ms = millis(wait),
            per_endpoint,
        );
    }

    /// The client-side limiter refused a request that would wait `wait`, over its bound.
    pub(crate) fn rate_limit_refused(wait: Duration, per_endpoint: bool) {
        tracing::warn!(
            name: "rate_limit_refused",
            target: LIMIT,
            wait_ms = millis(wait),
            per_endpoint,
        );
    }

    /// `fut` in the caller's current span: a renewal task spawned for a caller shows under
    /// that caller's span.
    pub(crate) fn in_current_span<F: Future>(fut: F) -> impl Future<Output = F::Output> {
        fut.in_current_span()
    }
}

#[cfg(not(feature = "tracing"))]
mod off {
    use super::*;

    pub(crate) async fn renewal<T, F>(_: &'static str, _: Kind, fut: F) -> Result<T, Error>
    where
        F: Future<Output = Result<T, Error>>,
    {
        fut.await
    }
    #[inline(always)]
    pub(crate) fn attempt<T>(_: u32, _: &Result<T, Error>) {}
    #[inline(always)]
    pub(crate) fn retry_wait(_: u32, _: Duration) {}
    #[inline(always)]
    pub(crate) fn unauthorized(
        _: &'static str,
        _: bool,
        _: Option<&Result<reqwest::Response, Error>>,
    ) {
    }
    #[inline(always)]
    pub(crate) fn store_fallback(_: &'static str) {}
    #[inline(always)]
    pub(crate) fn store_unpublished(_: &'static str) {}
    #[inline(always)]
    pub(crate) fn store_loaded(_: &'static str, _: bool) {}
    #[inline(always)]
    pub(crate) fn expired_on_arrival(_: &'static str, _: u32, _: Option<Duration>) {}
    #[inline(always)]
    pub(crate) fn renewal_backoff(_: &'static str, _: u32, _: Duration) {}
    #[inline(always)]
    pub(crate) fn rate_limit_wait(_: Duration, _: bool) {}
    #[inline(always)]
    pub(crate) fn rate_limit_refused(_: Duration, _: bool) {}
    #[inline(always)]
    pub(crate) fn in_current_span<F: Future>(fut: F) -> F {
        fut
    }
}

#[cfg(feature = "tracing")]
pub(crate) use on::*;

#[cfg(not(feature = "tracing"))]
pub(crate) use off::*;
