//! The one error type: a kind with `is_*` predicates, the HTTP status, the vendor's message.

use std::any::Any;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;

/// Shorthand for results whose error is [`Error`].
///
/// ```
/// fn parse(raw: &str) -> auth_core::Result<std::time::SystemTime> {
///     auth_core::provider::parse_rfc3339(raw)
/// }
/// assert!(parse("not a time").unwrap_err().is_bad_response());
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, coarse enough to decide what to do next.
///
/// ```
/// use auth_core::{Error, ErrorKind};
/// let e = Error::new(ErrorKind::Unauthorized, "token rejected");
/// assert!(e.is_unauthorized());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The vendor rejected the credentials or token (401), after any allowed renewal.
    Unauthorized,
    /// The session cannot be renewed without the user signing in again (no credentials held,
    /// OTP session expired, static token).
    SessionExpired,
    /// The vendor answered 429, or the client-side limiter refused to wait.
    RateLimited,
    /// A failure that may pass on its own: 5xx, timeout, connection error.
    Transient,
    /// The vendor refused the request (4xx other than 401/429).
    Rejected,
    /// The answer could not be understood: malformed JSON, missing field, bad header, bad JWT.
    BadResponse,
    /// The caller's input was refused before any request was sent.
    InvalidInput,
    /// A credential would have been sent over plain `http://` to a non-loopback host.
    InsecureTransport,
    /// The client was configured inconsistently (missing base URL, bad header value).
    Config,
}

impl ErrorKind {
    /// The kind the pipeline gives an HTTP status when the vendor says nothing better.
    ///
    /// ```
    /// use auth_core::ErrorKind;
    /// assert_eq!(ErrorKind::from_status(401), ErrorKind::Unauthorized);
    /// assert_eq!(ErrorKind::from_status(503), ErrorKind::Transient);
    /// assert_eq!(ErrorKind::from_status(404), ErrorKind::Rejected);
    /// ```
    pub fn from_status(status: u16) -> ErrorKind {
        match status {
            401 => ErrorKind::Unauthorized,
            429 => ErrorKind::RateLimited,
            408 | 500..=599 => ErrorKind::Transient,
            400..=499 => ErrorKind::Rejected,
            _ => ErrorKind::BadResponse,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::SessionExpired => "session expired, sign in again",
            ErrorKind::RateLimited => "rate limited",
            ErrorKind::Transient => "transient failure",
            ErrorKind::Rejected => "request rejected",
            ErrorKind::BadResponse => "bad response",
            ErrorKind::InvalidInput => "invalid input",
            ErrorKind::InsecureTransport => "insecure transport",
            ErrorKind::Config => "configuration error",
        }
    }
}

/// Vendor-specific detail attached to an error (for example a parsed error body).
///
/// Implemented for every `Debug + Serialize + DeserializeOwned + Send + Sync + 'static`
/// type, and only for those: a detail is data the pipeline can scrub. Whatever a vendor's
/// parser stores, [`Http::error_from`](crate::http::Http::error_from) turns it into JSON, removes
/// every secret of the call from every string (after decoding, in every encoding), and
/// decodes it back, so a secret the vendor echoed cannot reach [`Error::detail`] or Debug.
/// Read it back with [`Error::detail`].
///
/// ```
/// #[derive(Debug, serde::Serialize, serde::Deserialize)]
/// struct VendorBody { code: String, message: String }
/// let pw = secrecy::SecretString::from("p&ss<1>");
/// let e = auth_core::Error::new(auth_core::ErrorKind::Rejected, "vendor rejected the request")
///     .with_detail(VendorBody { code: "E42".into(), message: "bad password p&ss<1>".into() })
///     .scrubbed(&[&pw]);
/// let body = e.detail::<VendorBody>().unwrap();
/// assert_eq!((body.code.as_str(), body.message.as_str()), ("E42", "bad password [REDACTED]"));
/// ```
pub trait ErrorDetail: Any + fmt::Debug + Send + Sync + sealed::Sealed {
    /// Upcast for downcasting.
    fn as_any(&self) -> &dyn Any;
    /// The detail after a round trip through JSON with every secret removed, or `None` when
    /// it cannot be rebuilt (then it is dropped rather than kept unscrubbed).
    #[doc(hidden)]
    fn scrubbed(&self, secrets: &[&SecretString]) -> Option<Arc<dyn ErrorDetail>>;
}

mod sealed {
    /// Only the blanket implementation below: a detail must be serde data.
    pub trait Sealed {}
    impl<T: serde::Serialize + serde::de::DeserializeOwned> Sealed for T {}
}

impl<T> ErrorDetail for T
where
    T: Any + fmt::Debug + Send + Sync + serde::Serialize + serde::de::DeserializeOwned,
{
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn scrubbed(&self, secrets: &[&SecretString]) -> Option<Arc<dyn ErrorDetail>> {
        // Always the round trip, even when nothing matched: what the detail holds is then
        // exactly the data the scrubber saw (a field serde skips cannot keep a secret).
        let mut value = serde_json::to_value(self).ok()?;
        crate::scrub::scrub_value(&mut value, secrets);
        let clean: T = serde_json::from_value(value).ok()?;
        Some(Arc::new(clean))
    }
}

/// The error every crate in the workspace returns.
///
/// Cheap to clone (a waiter on a shared renewal gets the same error as the task that ran it).
/// Debug and Display never contain a secret: vendor messages are scrubbed of the secrets sent
/// with the request before they are stored.
///
/// ```
/// use auth_core::{Error, ErrorKind};
/// let e = Error::new(ErrorKind::Rejected, "request rejected by vendor")
///     .with_status(400)
///     .with_vendor_message("invalid number");
/// assert_eq!(e.status(), Some(400));
/// assert_eq!(e.vendor_message(), Some("invalid number"));
/// assert_eq!(e.to_string(), "request rejected by vendor (HTTP 400): invalid number");
/// ```
#[derive(Clone)]
pub struct Error {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    kind: ErrorKind,
    context: String,
    status: Option<u16>,
    vendor_message: Option<String>,
    retry_after: Option<Duration>,
    retryable: Option<bool>,
    detail: Option<Arc<dyn ErrorDetail>>,
    source: Option<Arc<dyn std::error::Error + Send + Sync + 'static>>,
}

impl Error {
    /// A new error of `kind` with a short lowercase context ("token request failed").
    ///
    /// ```
    /// let e = auth_core::Error::new(auth_core::ErrorKind::Config, "base url missing");
    /// assert!(e.is_config());
    /// ```
    pub fn new(kind: ErrorKind, context: impl Into<String>) -> Self {
        Error {
            inner: Arc::new(Inner {
                kind,
                context: context.into(),
                status: None,
                vendor_message: None,
                retry_after: None,
                retryable: None,
                detail: None,
                source: None,
            }),
        }
    }

    fn edit(mut self, f: impl FnOnce(&mut Inner)) -> Self {
        f(Arc::make_mut(&mut self.inner));
        self
    }

    /// Attach the HTTP status.
    ///
    /// ```
    /// let e = auth_core::Error::new(auth_core::ErrorKind::Transient, "server error").with_status(503);
    /// assert_eq!(e.status(), Some(503));
    /// ```
    #[doc(hidden)] // For vendor crates building errors; not part of what users hold.
    pub fn with_status(self, status: u16) -> Self {
        self.edit(|i| i.status = Some(status))
    }

    /// Attach the vendor's message (already scrubbed of secrets by the caller).
    ///
    /// ```
    /// let e = auth_core::Error::new(auth_core::ErrorKind::Rejected, "x").with_vendor_message("nope");
    /// assert_eq!(e.vendor_message(), Some("nope"));
    /// ```
    #[doc(hidden)] // For vendor crates building errors; not part of what users hold.
    pub fn with_vendor_message(self, message: impl Into<String>) -> Self {
        let m = message.into();
        self.edit(|i| i.vendor_message = if m.trim().is_empty() { None } else { Some(m) })
    }

    /// Attach how long the vendor asked us to wait.
    ///
    /// ```
    /// use std::time::Duration;
    /// let e = auth_core::Error::new(auth_core::ErrorKind::RateLimited, "x")
    ///     .with_retry_after(Duration::from_secs(3));
    /// assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));
    /// ```
    #[doc(hidden)] // For vendor crates building errors; not part of what users hold.
    pub fn with_retry_after(self, after: Duration) -> Self {
        self.edit(|i| i.retry_after = Some(after))
    }

    /// Override whether retrying can help (for example a monthly quota: it cannot).
    ///
    /// ```
    /// let e = auth_core::Error::new(auth_core::ErrorKind::RateLimited, "monthly limit")
    ///     .with_retryable(false);
    /// assert!(!e.is_retryable());
    /// ```
    #[doc(hidden)] // For vendor crates building errors; not part of what users hold.
    pub fn with_retryable(self, retryable: bool) -> Self {
        self.edit(|i| i.retryable = Some(retryable))
    }

    /// Attach vendor-specific detail, read back with [`Error::detail`].
    ///
    /// ```
    /// #[derive(Debug, serde::Serialize, serde::Deserialize)]
    /// struct Body { code: u32 }
    /// let e = auth_core::Error::new(auth_core::ErrorKind::Rejected, "x").with_detail(Body { code: 7 });
    /// assert_eq!(e.detail::<Body>().map(|b| b.code), Some(7));
    /// ```
    #[doc(hidden)] // For vendor crates building errors; not part of what users hold.
    pub fn with_detail(self, detail: impl ErrorDetail) -> Self {
        let d: Arc<dyn ErrorDetail> = Arc::new(detail);
        self.edit(|i| i.detail = Some(d))
    }

    /// Attach the underlying error; it is reachable through `source()` only.
    ///
    /// ```
    /// let io = std::io::Error::other("boom");
    /// let e = auth_core::Error::new(auth_core::ErrorKind::Transient, "send failed").with_source(io);
    /// assert!(std::error::Error::source(&e).is_some());
    /// ```
    #[doc(hidden)] // For vendor crates building errors; not part of what users hold.
    pub fn with_source(self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        let s: Arc<dyn std::error::Error + Send + Sync> = Arc::new(source);
        self.edit(|i| i.source = Some(s))
    }

    /// Replace the context (the first words of Display), keeping everything else.
    ///
    /// ```
    /// use auth_core::{Error, ErrorKind};
    /// let e = Error::new(ErrorKind::Unauthorized, "vendor rejected the credentials")
    ///     .with_status(401)
    ///     .with_context("bad credentials");
    /// assert_eq!(e.to_string(), "bad credentials (HTTP 401)");
    /// ```
    #[doc(hidden)] // For vendor crates building errors; not part of what users hold.
    pub fn with_context(self, context: impl Into<String>) -> Self {
        let c = context.into();
        self.edit(|i| i.context = c)
    }

    /// Replace the kind, keeping everything else (a vendor may know better than the status).
    ///
    /// ```
    /// use auth_core::{Error, ErrorKind};
    /// let e = Error::new(ErrorKind::Rejected, "x").with_kind(ErrorKind::SessionExpired);
    /// assert!(e.is_session_expired());
    /// ```
    #[doc(hidden)] // For vendor crates building errors; not part of what users hold.
    pub fn with_kind(self, kind: ErrorKind) -> Self {
        self.edit(|i| i.kind = kind)
    }

    /// This error with every echo of `secrets` removed from its context, vendor message and
    /// detail (as data: see [`ErrorDetail`]), and from any of this crate's errors in its
    /// source chain. [`Http::error_from`](crate::http::Http::error_from) and the session apply it
    /// to every error they return; a vendor crate that builds an error from a body it read
    /// itself (a `200` that says `success: false`) applies it too.
    ///
    /// ```
    /// use auth_core::{Error, ErrorKind};
    /// let pw = secrecy::SecretString::from("hunter2");
    /// let inner = Error::new(ErrorKind::Rejected, "x").with_vendor_message("bad hunter%32");
    /// let e = Error::new(ErrorKind::Unauthorized, "bad credentials")
    ///     .with_vendor_message("password hunter2 refused")
    ///     .with_source(inner)
    ///     .scrubbed(&[&pw]);
    /// assert_eq!(e.vendor_message(), Some("password [REDACTED] refused"));
    /// assert!(!format!("{e:?}").contains("hunter"));
    /// ```
    pub fn scrubbed(self, secrets: &[&SecretString]) -> Self {
        if secrets.is_empty() {
            return self;
        }
        let i = &self.inner;
        let text = |t: &str| crate::scrub::contains_secret(t, secrets);
        let source_error = i
            .source
            .as_deref()
            .and_then(|s| (s as &(dyn std::error::Error + 'static)).downcast_ref::<Error>());
        let dirty = text(&i.context)
            || i.vendor_message.as_deref().is_some_and(text)
            || i.detail.is_some()
            || source_error.is_some();
        if !dirty {
            return self;
        }
        let source = source_error.map(|e| e.clone().scrubbed(secrets));
        self.edit(|i| {
            i.context = crate::scrub::scrub_text(&i.context, secrets);
            if let Some(m) = &i.vendor_message {
                i.vendor_message = Some(crate::scrub::scrub_text(m, secrets));
            }
            if let Some(d) = &i.detail {
                i.detail = d.scrubbed(secrets);
            }
            if let Some(s) = source {
                i.source = Some(Arc::new(s));
            }
        })
    }

    /// The kind of failure.
    ///
    /// ```
    /// let e = auth_core::Error::new(auth_core::ErrorKind::Config, "x");
    /// assert_eq!(e.kind(), auth_core::ErrorKind::Config);
    /// ```
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// The HTTP status of the answer that caused this error, if any.
    ///
    /// ```
    /// assert_eq!(auth_core::Error::new(auth_core::ErrorKind::Config, "x").status(), None);
    /// ```
    pub fn status(&self) -> Option<u16> {
        self.inner.status
    }

    /// The vendor's own message, scrubbed of secrets.
    ///
    /// ```
    /// assert_eq!(auth_core::Error::new(auth_core::ErrorKind::Config, "x").vendor_message(), None);
    /// ```
    pub fn vendor_message(&self) -> Option<&str> {
        self.inner.vendor_message.as_deref()
    }

    /// How long the vendor asked us to wait before retrying.
    ///
    /// ```
    /// assert_eq!(auth_core::Error::new(auth_core::ErrorKind::RateLimited, "x").retry_after(), None);
    /// ```
    pub fn retry_after(&self) -> Option<Duration> {
        self.inner.retry_after
    }

    /// Vendor-specific detail of type `T`, when one was attached.
    ///
    /// ```
    /// let e = auth_core::Error::new(auth_core::ErrorKind::Config, "x");
    /// assert!(e.detail::<String>().is_none());
    /// ```
    pub fn detail<T: Any>(&self) -> Option<&T> {
        self.inner
            .detail
            .as_deref()
            .and_then(|d| d.as_any().downcast_ref::<T>())
    }

    /// The vendor rejected the token or credentials.
    ///
    /// ```
    /// assert!(auth_core::Error::new(auth_core::ErrorKind::Unauthorized, "x").is_unauthorized());
    /// ```
    pub fn is_unauthorized(&self) -> bool {
        self.kind() == ErrorKind::Unauthorized
    }

    /// The session is over and only a new sign-in by the user can start another.
    ///
    /// ```
    /// assert!(auth_core::Error::new(auth_core::ErrorKind::SessionExpired, "x").is_session_expired());
    /// ```
    pub fn is_session_expired(&self) -> bool {
        self.kind() == ErrorKind::SessionExpired
    }

    /// The vendor (or the local limiter) asked us to slow down.
    ///
    /// ```
    /// assert!(auth_core::Error::new(auth_core::ErrorKind::RateLimited, "x").is_rate_limited());
    /// ```
    pub fn is_rate_limited(&self) -> bool {
        self.kind() == ErrorKind::RateLimited
    }

    /// A failure that may pass on its own (5xx, timeout, connection refused).
    ///
    /// ```
    /// assert!(auth_core::Error::new(auth_core::ErrorKind::Transient, "x").is_transient());
    /// ```
    pub fn is_transient(&self) -> bool {
        self.kind() == ErrorKind::Transient
    }

    /// The vendor refused the request itself (a 4xx other than 401 and 429).
    ///
    /// ```
    /// assert!(auth_core::Error::new(auth_core::ErrorKind::Rejected, "x").is_rejected());
    /// ```
    pub fn is_rejected(&self) -> bool {
        self.kind() == ErrorKind::Rejected
    }

    /// The vendor's answer could not be understood.
    ///
    /// ```
    /// assert!(auth_core::Error::new(auth_core::ErrorKind::BadResponse, "x").is_bad_response());
    /// ```
    pub fn is_bad_response(&self) -> bool {
        self.kind() == ErrorKind::BadResponse
    }

    /// The caller's input was refused before sending.
    ///
    /// ```
    /// assert!(auth_core::Error::new(auth_core::ErrorKind::InvalidInput, "x").is_invalid_input());
    /// ```
    pub fn is_invalid_input(&self) -> bool {
        self.kind() == ErrorKind::InvalidInput
    }

    /// A credential would have crossed plain HTTP to a non-loopback host.
    ///
    /// ```
    /// assert!(auth_core::Error::new(auth_core::ErrorKind::InsecureTransport, "x").is_insecure_transport());
    /// ```
    pub fn is_insecure_transport(&self) -> bool {
        self.kind() == ErrorKind::InsecureTransport
    }

    /// The client was configured inconsistently.
    ///
    /// ```
    /// assert!(auth_core::Error::new(auth_core::ErrorKind::Config, "x").is_config());
    /// ```
    pub fn is_config(&self) -> bool {
        self.kind() == ErrorKind::Config
    }

    /// Whether trying the same request again later can succeed.
    ///
    /// ```
    /// assert!(auth_core::Error::new(auth_core::ErrorKind::Transient, "x").is_retryable());
    /// assert!(!auth_core::Error::new(auth_core::ErrorKind::Rejected, "x").is_retryable());
    /// ```
    pub fn is_retryable(&self) -> bool {
        self.inner.retryable.unwrap_or(matches!(
            self.kind(),
            ErrorKind::Transient | ErrorKind::RateLimited
        ))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        if i.context.is_empty() {
            f.write_str(i.kind.describe())?;
        } else {
            f.write_str(&i.context)?;
        }
        if let Some(s) = i.status {
            write!(f, " (HTTP {s})")?;
        }
        if let Some(m) = &i.vendor_message {
            write!(f, ": {m}")?;
        }
        if let Some(after) = i.retry_after {
            write!(f, "; retry after {}s", after.as_secs())?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        let mut d = f.debug_struct("Error");
        d.field("kind", &i.kind).field("context", &i.context);
        if let Some(s) = i.status {
            d.field("status", &s);
        }
        if let Some(m) = &i.vendor_message {
            d.field("vendor_message", m);
        }
        if let Some(r) = i.retry_after {
            d.field("retry_after", &r);
        }
        if let Some(r) = i.retryable {
            d.field("retryable", &r);
        }
        if let Some(detail) = &i.detail {
            d.field("detail", detail);
        }
        if let Some(s) = &i.source {
            d.field("source", s);
        }
        d.finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner
            .source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_lowercase_and_carries_status_and_message() {
        let e = Error::new(ErrorKind::RateLimited, "rate limited by vendor")
            .with_status(429)
            .with_vendor_message("volume limit")
            .with_retry_after(Duration::from_secs(7));
        assert_eq!(
            e.to_string(),
            "rate limited by vendor (HTTP 429): volume limit; retry after 7s"
        );
        assert!(e.is_rate_limited() && e.is_retryable());
    }

    #[test]
    fn kind_override_and_retryable_override() {
        let e = Error::new(ErrorKind::RateLimited, "monthly").with_retryable(false);
        assert!(!e.is_retryable());
        let e = e.with_kind(ErrorKind::Rejected);
        assert!(e.is_rejected());
    }

    #[test]
    fn clone_shares_detail_and_source() {
        #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
        struct D(u8);
        let e = Error::new(ErrorKind::Transient, "x")
            .with_detail(D(3))
            .with_source(std::io::Error::other("io"));
        let c = e.clone();
        assert_eq!(c.detail::<D>(), Some(&D(3)));
        assert!(std::error::Error::source(&c).is_some());
        assert!(c.detail::<u32>().is_none());
    }

    #[test]
    fn status_kinds() {
        for (s, k) in [
            (400, ErrorKind::Rejected),
            (401, ErrorKind::Unauthorized),
            (403, ErrorKind::Rejected),
            (408, ErrorKind::Transient),
            (429, ErrorKind::RateLimited),
            (500, ErrorKind::Transient),
            (302, ErrorKind::BadResponse),
        ] {
            assert_eq!(ErrorKind::from_status(s), k, "status {s}");
        }
    }
}
