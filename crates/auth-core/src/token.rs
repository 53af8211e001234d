//! Secret-holding token types: access token, refresh token and the set a sign-in returns.

use std::any::{Any, TypeId};
use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};

use crate::error::{Error, ErrorKind};
use crate::expiry::Expiry;

macro_rules! secret_newtype {
    ($(#[$m:meta])* $name:ident, $label:literal, $wire:ty) => {
        $(#[$m])*
        #[derive(Clone)]
        pub struct $name(SecretString, $wire);

        impl $name {
            /// Wrap a secret string.
            ///
            /// ```
            #[doc = concat!("let t = auth_core::", stringify!($name), "::new(\"s3cr3t\");")]
            /// assert!(!format!("{t:?}").contains("s3cr3t"));
            /// ```
            pub fn new(value: impl Into<String>) -> Self {
                $name::from(SecretString::from(value.into()))
            }

            /// The secret itself. Call it only where the value goes on the wire.
            ///
            /// ```
            #[doc = concat!("let t = auth_core::", stringify!($name), "::new(\"abc\");")]
            /// assert_eq!(t.expose(), "abc");
            /// ```
            pub fn expose(&self) -> &str {
                self.0.expose_secret()
            }

            /// The secret as a `secrecy` type.
            ///
            /// ```
            /// use secrecy::ExposeSecret;
            #[doc = concat!("let t = auth_core::", stringify!($name), "::new(\"abc\");")]
            /// assert_eq!(t.as_secret().expose_secret(), "abc");
            /// ```
            pub fn as_secret(&self) -> &SecretString {
                &self.0
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                $name::new(s)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $name::new(s)
            }
        }

        impl From<SecretString> for $name {
            fn from(s: SecretString) -> Self {
                $name(s, <$wire>::default())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($label, "([REDACTED])"))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("[REDACTED]")
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.expose() == other.expose()
            }
        }

        impl Eq for $name {}
    };
}

secret_newtype!(
    /// A bearer or raw access token. Debug and Display print `[REDACTED]`.
    AccessToken,
    "AccessToken",
    WireForms
);
secret_newtype!(
    /// A refresh token. Debug and Display print `[REDACTED]`.
    RefreshToken,
    "RefreshToken",
    ()
);
secret_newtype!(
    /// A long-lived API key or static token. Debug and Display print `[REDACTED]`.
    ApiKey,
    "ApiKey",
    ()
);

/// A secret's header values, each built (and checked) the first time it is asked for and
/// cloned after: a token goes on every call, and formatting `Bearer <token>` into a new
/// header value each time cost more than the rest of putting it on the request.
#[derive(Clone, Default)]
struct WireForms {
    bearer: OnceLock<Option<HeaderValue>>,
    raw: OnceLock<Option<HeaderValue>>,
}

impl AccessToken {
    /// The token as a sensitive header value, after `Bearer ` or alone: built once per token
    /// (see [`sensitive_header`]), the same error each time for a token that cannot be one.
    pub(crate) fn header_value(&self, bearer: bool) -> Result<HeaderValue, Error> {
        let (slot, prefix) = match bearer {
            true => (&self.1.bearer, "Bearer "),
            false => (&self.1.raw, ""),
        };
        slot.get_or_init(|| sensitive_header(prefix, &self.0).ok())
            .clone()
            .ok_or_else(not_a_header)
    }
}

fn not_a_header() -> Error {
    Error::new(
        ErrorKind::BadResponse,
        "token holds characters not allowed in a header",
    )
}

/// Build a header value from a secret and mark it sensitive, so that `http`'s Debug hides it.
///
/// This is the one place per request where a secret becomes bytes on the wire.
///
/// ```
/// use secrecy::SecretString;
/// let v = auth_core::provider::sensitive_header("Bearer ", &SecretString::from("tok")).unwrap();
/// assert!(v.is_sensitive());
/// assert_eq!(v.to_str().unwrap(), "Bearer tok");
/// ```
pub fn sensitive_header(prefix: &str, secret: &SecretString) -> Result<HeaderValue, Error> {
    let mut v = HeaderValue::try_from(format!("{prefix}{}", secret.expose_secret()))
        .map_err(|_| not_a_header())?;
    v.set_sensitive(true);
    Ok(v)
}

/// What a sign-in or refresh returns: the access token, an optional refresh token, when the
/// access token expires, and typed non-secret data the vendor needs on later calls (IQM's
/// workspace id, iPaaS.com's user id), one value per type.
///
/// ```
/// use auth_core::{AccessToken, Expiry, TokenSet};
/// #[derive(Debug, Clone, PartialEq)]
/// struct Workspace(u64);
/// let set = TokenSet::new(AccessToken::new("tok"), Expiry::never()).with_data(Workspace(42));
/// assert_eq!(set.data::<Workspace>(), Some(&Workspace(42)));
/// assert!(!format!("{set:?}").contains("tok\""));
/// ```
#[derive(Clone, Debug)]
pub struct TokenSet {
    access_token: AccessToken,
    refresh_token: Option<RefreshToken>,
    expiry: Expiry,
    data: Data,
    server_date: Option<SystemTime>,
}

/// Typed values keyed by their type. Debug shows the type names only.
#[derive(Clone, Default)]
struct Data(Vec<(TypeId, &'static str, Arc<dyn Any + Send + Sync>)>);

impl fmt::Debug for Data {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(_, name, _)| name))
            .finish()
    }
}

impl TokenSet {
    /// A token set with no refresh token and no data.
    ///
    /// ```
    /// let s = auth_core::TokenSet::new(auth_core::AccessToken::new("t"), auth_core::Expiry::never());
    /// assert!(s.refresh_token().is_none());
    /// ```
    pub fn new(access_token: AccessToken, expiry: Expiry) -> Self {
        TokenSet {
            access_token,
            refresh_token: None,
            expiry,
            data: Data::default(),
            server_date: None,
        }
    }

    /// Add (or clear, with `None`) the refresh token.
    ///
    /// ```
    /// use auth_core::{AccessToken, Expiry, RefreshToken, TokenSet};
    /// let s = TokenSet::new(AccessToken::new("a"), Expiry::never())
    ///     .with_refresh_token(Some(RefreshToken::new("r")));
    /// assert_eq!(s.refresh_token().unwrap().expose(), "r");
    /// ```
    pub fn with_refresh_token(mut self, refresh_token: Option<RefreshToken>) -> Self {
        self.refresh_token = refresh_token;
        self
    }

    /// Attach a non-secret value the vendor needs with this token (replacing one of the same
    /// type). Never put a secret here: Debug hides the values, but nothing else does.
    pub fn with_data<T: Any + Send + Sync>(mut self, value: T) -> Self {
        let id = TypeId::of::<T>();
        self.data.0.retain(|(t, _, _)| *t != id);
        self.data
            .0
            .push((id, std::any::type_name::<T>(), Arc::new(value)));
        self
    }

    /// Say what the vendor's clock read when it answered: its answer's `Date` header, read
    /// with [`server_date`](crate::http::server_date). A provider whose expiry is an absolute
    /// instant (an RFC 3339 timestamp, a JWT `exp`) should always pass it: the session then
    /// measures the token's lifetime on the vendor's clock (`expiry - Date`) and counts it
    /// from the local receipt, so a local clock ahead of the vendor's does not make a fresh
    /// token look expired, nor one behind it make an expired token look valid. With `None`
    /// (no header) the local clock is trusted, as without this call. A lifetime counted
    /// from receipt (`expires_in`) needs no re-basing; the session still records the skew
    /// it sees ([`SessionStats::clock_skew_ms`](crate::SessionStats::clock_skew_ms)).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use std::time::Duration;
    /// use auth_core::{AccessToken, Clock as _, Error, Expiry, ManualClock, Session, TokenSet, http::Http};
    ///
    /// /// A vendor whose clock runs 10 minutes ahead of ours, issuing one-hour tokens with
    /// /// an absolute expiry.
    /// #[derive(Debug)]
    /// struct AheadVendor(ManualClock);
    ///
    /// #[auth_core::provider::async_trait]
    /// impl auth_core::provider::TokenProvider for AheadVendor {
    ///     async fn sign_in(&self) -> Result<TokenSet, Error> {
    ///         let received = self.0.now();
    ///         let vendor_now = received + Duration::from_secs(600);
    ///         let expiry = Expiry::at(vendor_now + Duration::from_secs(3600), received);
    ///         Ok(TokenSet::new(AccessToken::new("t"), expiry).with_server_date(Some(vendor_now)))
    ///     }
    /// }
    ///
    /// let clock = ManualClock::new();
    /// let session = Session::new(AheadVendor(clock.clone()), Http::new().unwrap().with_clock(clock.clone()));
    /// let lease = session.token().await.unwrap();
    /// // An hour from receipt on our clock, not an hour and ten minutes.
    /// assert_eq!(lease.tokens().expiry().expires_at(), Some(clock.now() + Duration::from_secs(3600)));
    /// assert_eq!(session.stats().clock_skew_ms, Some(-600_000));
    /// # }
    /// ```
    pub fn with_server_date(mut self, date: Option<SystemTime>) -> Self {
        self.server_date = date;
        self
    }

    /// The vendor's clock reading given with [`with_server_date`](Self::with_server_date).
    /// A session's lease holds the set with its expiry already on the local clock, and this
    /// `None`.
    ///
    /// ```
    /// let s = auth_core::TokenSet::new(auth_core::AccessToken::new("a"), auth_core::Expiry::never());
    /// assert_eq!(s.server_date(), None);
    /// ```
    pub fn server_date(&self) -> Option<SystemTime> {
        self.server_date
    }

    /// The set with its expiry on the local clock (re-based with the server date, which is
    /// then dropped so it is never applied twice), and the clock skew seen: the receipt
    /// (`now` when the expiry does not say) minus the server date, in milliseconds.
    pub(crate) fn on_local_clock(mut self, now: SystemTime) -> (TokenSet, Option<i64>) {
        let Some(date) = self.server_date.take() else {
            return (self, None);
        };
        let receipt = self.expiry.received_at().unwrap_or(now);
        self.expiry = self.expiry.on_local_clock(date);
        (self, Some(signed_millis(receipt, date)))
    }

    /// The value of type `T` attached with [`with_data`](Self::with_data), if any.
    pub fn data<T: Any + Send + Sync>(&self) -> Option<&T> {
        let id = TypeId::of::<T>();
        self.data
            .0
            .iter()
            .find(|(t, _, _)| *t == id)
            .and_then(|(_, _, v)| v.downcast_ref::<T>())
    }

    /// The access token.
    ///
    /// ```
    /// let s = auth_core::TokenSet::new(auth_core::AccessToken::new("a"), auth_core::Expiry::never());
    /// assert_eq!(s.access_token().expose(), "a");
    /// ```
    pub fn access_token(&self) -> &AccessToken {
        &self.access_token
    }

    /// The refresh token, when the vendor issued one.
    ///
    /// ```
    /// let s = auth_core::TokenSet::new(auth_core::AccessToken::new("a"), auth_core::Expiry::never());
    /// assert!(s.refresh_token().is_none());
    /// ```
    pub fn refresh_token(&self) -> Option<&RefreshToken> {
        self.refresh_token.as_ref()
    }

    /// When the access token expires.
    ///
    /// ```
    /// let s = auth_core::TokenSet::new(auth_core::AccessToken::new("a"), auth_core::Expiry::never());
    /// assert!(s.expiry().expires_at().is_none());
    /// ```
    pub fn expiry(&self) -> &Expiry {
        &self.expiry
    }

    /// Carry over from `previous` what a renewal answer left out: the refresh token (a vendor
    /// that does not rotate it sends none back) and data such as a workspace id.
    ///
    /// ```
    /// use auth_core::{AccessToken, Expiry, RefreshToken, TokenSet};
    /// #[derive(Debug, PartialEq)]
    /// struct Workspace(u64);
    /// let old = TokenSet::new(AccessToken::new("a1"), Expiry::never())
    ///     .with_refresh_token(Some(RefreshToken::new("r1")))
    ///     .with_data(Workspace(7));
    /// let new = TokenSet::new(AccessToken::new("a2"), Expiry::never()).inherit_from(&old);
    /// assert_eq!(new.refresh_token().unwrap().expose(), "r1");
    /// assert_eq!(new.data::<Workspace>(), Some(&Workspace(7)));
    /// ```
    pub fn inherit_from(mut self, previous: &TokenSet) -> Self {
        if self.refresh_token.is_none() {
            self.refresh_token = previous.refresh_token.clone();
        }
        for item in &previous.data.0 {
            if !self.data.0.iter().any(|(t, _, _)| *t == item.0) {
                self.data.0.push(item.clone());
            }
        }
        self
    }
}

/// `a - b` in milliseconds, saturating.
fn signed_millis(a: SystemTime, b: SystemTime) -> i64 {
    let since = |t: SystemTime| match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i128::try_from(d.as_millis()).unwrap_or(i128::MAX),
        Err(e) => -i128::try_from(e.duration().as_millis()).unwrap_or(i128::MAX),
    };
    let d = since(a).saturating_sub(since(b));
    i64::try_from(d).unwrap_or(if d < 0 { i64::MIN } else { i64::MAX })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "super-secret-value-123";

    #[test]
    fn secret_types_never_print() {
        let a = AccessToken::new(SECRET);
        let r = RefreshToken::new(SECRET);
        let k = ApiKey::new(SECRET);
        let set = TokenSet::new(a.clone(), Expiry::never()).with_refresh_token(Some(r.clone()));
        for shown in [
            format!("{a:?}"),
            format!("{a}"),
            format!("{r:?}"),
            format!("{r}"),
            format!("{k:?}"),
            format!("{k}"),
            format!("{set:?}"),
            format!("{set:#?}"),
        ] {
            assert!(!shown.contains(SECRET), "leaked: {shown}");
        }
        insta::assert_snapshot!(format!("{set:?}"), @r#"TokenSet { access_token: AccessToken([REDACTED]), refresh_token: Some(RefreshToken([REDACTED])), expiry: Expiry { expires_at: None, lifetime: None, received_at: None }, data: [], server_date: None }"#);
    }

    #[test]
    fn sensitive_header_marks_and_rejects_newlines() {
        let v = sensitive_header("Bearer ", &SecretString::from(SECRET)).unwrap();
        assert!(v.is_sensitive());
        assert!(!format!("{v:?}").contains(SECRET));
        let bad = sensitive_header("", &SecretString::from("a\nb"));
        assert!(bad.unwrap_err().is_bad_response());
    }

    #[derive(Debug, PartialEq)]
    struct Tag(&'static str);

    #[test]
    fn the_server_date_rebases_once_and_reports_the_skew() {
        use std::time::Duration;
        let received = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let date = received - Duration::from_millis(600_250);
        let set = TokenSet::new(
            AccessToken::new("a"),
            Expiry::at(date + Duration::from_secs(60), received),
        )
        .with_server_date(Some(date));
        let (local, skew) = set.on_local_clock(received + Duration::from_secs(9));
        assert_eq!(skew, Some(600_250));
        assert_eq!(
            local.expiry().expires_at(),
            Some(received + Duration::from_secs(60))
        );
        assert_eq!(local.server_date(), None);
        // Applied once: the local set carries no date to apply again.
        let (again, skew) = local.clone().on_local_clock(received);
        assert_eq!((again.expiry(), skew), (local.expiry(), None));
        // A relative expiry is left alone; the skew is measured from `now`.
        let rel = TokenSet::new(AccessToken::new("a"), Expiry::from_expires_in(60, received))
            .with_server_date(Some(received + Duration::from_secs(5)));
        let (rel_local, skew) = rel.on_local_clock(received);
        assert_eq!(skew, Some(-5_000));
        assert_eq!(rel_local.expiry(), &Expiry::from_expires_in(60, received));
        assert_eq!(signed_millis(UNIX_EPOCH, received), -1_000_000_000);
    }

    #[test]
    fn inherit_keeps_new_values() {
        let old = TokenSet::new(AccessToken::new("a1"), Expiry::never())
            .with_refresh_token(Some(RefreshToken::new("r1")))
            .with_data(Tag("old"))
            .with_data(7u8);
        let new = TokenSet::new(AccessToken::new("a2"), Expiry::never())
            .with_refresh_token(Some(RefreshToken::new("r2")))
            .with_data(Tag("new"))
            .inherit_from(&old);
        assert_eq!(new.refresh_token().unwrap().expose(), "r2");
        assert_eq!(new.data::<Tag>(), Some(&Tag("new")));
        assert_eq!(new.data::<u8>(), Some(&7));
        assert_eq!(format!("{new:?}").matches("Tag").count(), 1);
        assert_eq!(new.access_token().expose(), "a2");
    }
}
