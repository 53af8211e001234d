//! iPaaS.com's error shape: plain-text bodies, and a 429 whose text says whether the monthly
//! plan limit (retrying will not help) or a temporary volume limit (back off) was hit. The
//! detail is read back through [`ErrorExt`].

use auth_core::reqwest::header::HeaderMap;
use auth_core::{
    Error,
    http::{ErrorParser, PlainTextErrors},
};

/// Which of iPaaS.com's two rate limits a 429 reports, read with
/// [`ErrorExt::rate_limit_kind`].
///
/// ```
/// use ipaas_com::RateLimitKind;
/// let kind = RateLimitKind::from_message("Monthly API limit exceeded");
/// assert_eq!(kind, RateLimitKind::Monthly);
/// assert!(!kind.is_retryable());
/// assert_eq!(RateLimitKind::from_message("Volume limit reached"), RateLimitKind::Volume);
/// assert!(RateLimitKind::Volume.is_retryable());
/// assert_eq!(RateLimitKind::from_message("slow down"), RateLimitKind::Unspecified);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum RateLimitKind {
    /// The billing plan's monthly call allowance is used up: retrying will not help.
    Monthly,
    /// A temporary volume restriction: back off (honour `Retry-After`) and retry.
    Volume,
    /// The message named neither limit; treated as retryable, like any 429.
    Unspecified,
}

impl RateLimitKind {
    /// Classify a 429's plain-text message (it names the monthly or the volume limit).
    pub fn from_message(message: &str) -> Self {
        let m = message.to_ascii_lowercase();
        if m.contains("month") {
            RateLimitKind::Monthly
        } else if m.contains("volume") {
            RateLimitKind::Volume
        } else {
            RateLimitKind::Unspecified
        }
    }

    /// Whether waiting and retrying can succeed (all but the monthly limit).
    pub fn is_retryable(self) -> bool {
        !matches!(self, RateLimitKind::Monthly)
    }
}

/// iPaaS.com's detail on an [`Error`]: the one way to read it.
///
/// ```
/// use ipaas_com::{Error, ErrorExt, ErrorKind, RateLimitKind};
/// let e = Error::new(ErrorKind::RateLimited, "x").with_detail(RateLimitKind::Monthly);
/// assert_eq!(e.rate_limit_kind(), Some(RateLimitKind::Monthly));
/// assert_eq!(Error::new(ErrorKind::Transient, "x").rate_limit_kind(), None);
/// ```
pub trait ErrorExt {
    /// Which rate limit a 429 from iPaaS.com reports (`None` for any other error).
    fn rate_limit_kind(&self) -> Option<RateLimitKind>;
}

impl ErrorExt for Error {
    fn rate_limit_kind(&self) -> Option<RateLimitKind> {
        self.detail::<RateLimitKind>().copied()
    }
}

/// Refines auth-core's base error with iPaaS.com's rules.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct IpaasErrors;

impl ErrorParser for IpaasErrors {
    fn parse(&self, status: u16, headers: &HeaderMap, body: &str, base: Error) -> Error {
        // The body is documented as plain text (already the vendor message); an ASP.NET
        // problem document occasionally slips through, so take its message when whole.
        let err = PlainTextErrors.parse(status, headers, body, base);
        if status != 429 {
            return err;
        }
        let kind = RateLimitKind::from_message(err.vendor_message().unwrap_or(body));
        err.with_retryable(kind.is_retryable()).with_detail(kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use auth_core::ErrorKind;

    fn parse(status: u16, body: &str) -> Error {
        let base = Error::new(auth_core::ErrorKind::from_status(status), "base")
            .with_status(status)
            .with_vendor_message(body);
        IpaasErrors.parse(status, &HeaderMap::new(), body, base)
    }

    #[test]
    fn monthly_is_not_retryable_volume_is() {
        let m = parse(429, "You have exceeded your monthly API call limit");
        assert_eq!(m.kind(), ErrorKind::RateLimited);
        assert!(!m.is_retryable());
        assert_eq!(m.rate_limit_kind(), Some(RateLimitKind::Monthly));
        let v = parse(429, "Volume restriction: too many requests");
        assert!(v.is_retryable());
        assert_eq!(v.rate_limit_kind(), Some(RateLimitKind::Volume));
        let u = parse(429, "Too Many Requests");
        assert!(u.is_retryable());
        assert_eq!(u.rate_limit_kind(), Some(RateLimitKind::Unspecified));
    }

    #[test]
    fn plain_text_and_json_messages() {
        let e = parse(400, "Invalid email address or password");
        assert_eq!(
            e.vendor_message(),
            Some("Invalid email address or password")
        );
        assert!(e.rate_limit_kind().is_none());
        let j = parse(
            400,
            r#"{"title":"One or more validation errors occurred."}"#,
        );
        assert_eq!(
            j.vendor_message(),
            Some("One or more validation errors occurred.")
        );
    }
}
