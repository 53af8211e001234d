//! Secret-holding token types: access token, refresh token and the set a sign-in returns.

use std::any::{Any, TypeId};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

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
///
/// A set that a token store shares between processes travels as bytes
/// ([`to_stored_bytes`](Self::to_stored_bytes)); data meant to travel with it is attached
/// with [`with_storable_data`](Self::with_storable_data) and read back, decoded on first use,
/// with [`storable_data`](Self::storable_data):
///
/// ```
/// use auth_core::{AccessToken, Expiry, RefreshToken, TokenSet};
/// #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
/// struct Workspace(u64);
/// let set = TokenSet::new(AccessToken::new("tok"), Expiry::never())
///     .with_refresh_token(Some(RefreshToken::new("ref")))
///     .with_storable_data(Workspace(42));
/// let bytes = set.to_stored_bytes()?;
/// let back = TokenSet::from_stored_bytes(secrecy::ExposeSecret::expose_secret(&bytes))?;
/// assert_eq!(back.access_token().expose(), "tok");
/// assert_eq!(back.refresh_token().unwrap().expose(), "ref");
/// assert_eq!(back.storable_data::<Workspace>(), Some(&Workspace(42)));
/// // Decoded once, it is found by `data` too.
/// assert_eq!(back.data::<Workspace>(), Some(&Workspace(42)));
/// # Ok::<(), auth_core::Error>(())
/// ```
#[derive(Clone, Debug)]
#[repr(C)] // The access token first: a session's hot path reads it beside the lease's expiry.
pub struct TokenSet {
    access_token: AccessToken,
    refresh_token: Option<RefreshToken>,
    expiry: Expiry,
    data: Data,
    server_date: Option<SystemTime>,
}

/// Typed values keyed by their type. Debug shows the type names only.
#[derive(Clone, Default)]
struct Data(Vec<Arc<Entry>>);

type AnyValue = Arc<dyn Any + Send + Sync>;

/// One data value. An entry attached in this process knows its type and holds its value;
/// one read back from a token store holds its stored JSON form until a caller names its
/// type ([`TokenSet::storable_data`]), which decodes it once.
struct Entry {
    /// `std::any::type_name` of the value: how an entry read back from a store is matched
    /// to the type a caller asks for.
    name: Cow<'static, str>,
    /// Known when the value was attached in this process.
    id: Option<TypeId>,
    /// The value; `Some(None)` when a stored form did not decode as the type asked for.
    value: OnceLock<Option<AnyValue>>,
    /// The stored form: entries attached with `with_storable_data` and entries read back.
    stored: Option<serde_json::Value>,
}

impl Entry {
    fn is<T: Any>(&self) -> bool {
        match self.id {
            Some(id) => id == TypeId::of::<T>(),
            None => self.name == std::any::type_name::<T>(),
        }
    }

    fn typed<T: Any>(&self) -> Option<&T> {
        self.value.get()?.as_ref()?.downcast_ref::<T>()
    }
}

impl fmt::Debug for Data {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|e| &e.name))
            .finish()
    }
}

impl Data {
    fn insert(&mut self, entry: Entry) {
        self.0.retain(|e| e.name != entry.name);
        self.0.push(Arc::new(entry));
    }
}

/// The version of the at-rest form [`TokenSet::to_stored_bytes`] writes. A reader refuses any
/// other, so a fleet mixing library versions fails loudly (and renews) instead of reading a
/// set wrongly.
const STORED_FORMAT: u32 = 1;

/// The at-rest form, as written.
#[derive(Serialize)]
struct StoredOut<'a> {
    format: u32,
    access_token: &'a str,
    refresh_token: Option<&'a str>,
    expires_at: Option<SystemTime>,
    lifetime: Option<Duration>,
    /// Only for an absolute expiry ([`Expiry::is_absolute`]); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    received_at: Option<SystemTime>,
    /// Only on a set not yet put on the local clock (a session stores its local sets,
    /// which carry none); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    server_date: Option<SystemTime>,
    data: BTreeMap<&'a str, &'a serde_json::Value>,
}

/// The at-rest form, as read (unknown fields are ignored: a later format-1 writer may add
/// some).
#[derive(Deserialize)]
struct StoredIn {
    format: u32,
    access_token: String,
    refresh_token: Option<String>,
    expires_at: Option<SystemTime>,
    lifetime: Option<Duration>,
    #[serde(default)]
    received_at: Option<SystemTime>,
    #[serde(default)]
    server_date: Option<SystemTime>,
    #[serde(default)]
    data: BTreeMap<String, serde_json::Value>,
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
    ///
    /// A value attached this way stays in this process: a set holding one cannot be stored
    /// ([`to_stored_bytes`](Self::to_stored_bytes) refuses it). Use
    /// [`with_storable_data`](Self::with_storable_data) for a set a token store shares.
    pub fn with_data<T: Any + Send + Sync>(mut self, value: T) -> Self {
        self.data.insert(Entry {
            name: Cow::Borrowed(std::any::type_name::<T>()),
            id: Some(TypeId::of::<T>()),
            value: OnceLock::from(Some(Arc::new(value) as AnyValue)),
            stored: None,
        });
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

    /// [`with_data`](Self::with_data) for a value that travels with the set through a token
    /// store: it is kept typed here and as JSON beside it, and a set read back from the store
    /// decodes it on the first [`storable_data`](Self::storable_data). It is matched by its
    /// type's name, so every process sharing a store runs the same build of the type.
    pub fn with_storable_data<T>(mut self, value: T) -> Self
    where
        T: Serialize + DeserializeOwned + Any + Send + Sync,
    {
        // A value serde cannot write as JSON (a map with non-string keys) stays local, as
        // one attached with `with_data` would: storing the set then fails, loudly.
        let stored = serde_json::to_value(&value).ok();
        self.data.insert(Entry {
            name: Cow::Borrowed(std::any::type_name::<T>()),
            id: Some(TypeId::of::<T>()),
            value: OnceLock::from(Some(Arc::new(value) as AnyValue)),
            stored,
        });
        self
    }

    /// The value of type `T` attached with [`with_data`](Self::with_data) or
    /// [`with_storable_data`](Self::with_storable_data), if any. On a set read back from a
    /// store, a value is found here once [`storable_data`](Self::storable_data) decoded it.
    pub fn data<T: Any + Send + Sync>(&self) -> Option<&T> {
        self.data
            .0
            .iter()
            .find(|e| e.is::<T>())
            .and_then(|e| e.typed::<T>())
    }

    /// The value of type `T`, decoding it (once) from its stored form on a set read back from
    /// a token store. `None` when there is none, or its stored form is not a `T`.
    pub fn storable_data<T>(&self) -> Option<&T>
    where
        T: DeserializeOwned + Any + Send + Sync,
    {
        let entry = self.data.0.iter().find(|e| e.is::<T>())?;
        entry
            .value
            .get_or_init(|| {
                let stored = entry.stored.as_ref()?;
                let value = T::deserialize(stored).ok()?;
                Some(Arc::new(value) as AnyValue)
            })
            .as_ref()?
            .downcast_ref::<T>()
    }

    /// The set in its stable, versioned at-rest form (JSON, format 1): access token, refresh
    /// token, expiry and storable data. It holds the secrets in clear, so it comes wrapped in
    /// a secret type that zeroes it on drop: a store encrypts it before it leaves the
    /// process. A set holding data attached with [`with_data`](Self::with_data) is refused
    /// (a `Config` error naming the type), since the process reading it back would lack it.
    pub fn to_stored_bytes(&self) -> Result<SecretSlice<u8>, Error> {
        let mut data = BTreeMap::new();
        for entry in &self.data.0 {
            let stored = entry.stored.as_ref().ok_or_else(|| {
                Error::new(
                    ErrorKind::Config,
                    format!(
                        "token data of type {} cannot be stored: attach it with with_storable_data",
                        entry.name
                    ),
                )
            })?;
            data.insert(entry.name.as_ref(), stored);
        }
        let out = StoredOut {
            format: STORED_FORMAT,
            access_token: self.access_token.expose(),
            refresh_token: self.refresh_token.as_ref().map(RefreshToken::expose),
            expires_at: self.expiry.expires_at(),
            lifetime: self.expiry.lifetime(),
            received_at: self.expiry.received_at(),
            server_date: self.server_date,
            data,
        };
        // Sized up front, so the buffer holding the secrets is not copied while it grows.
        let mut buf = Vec::with_capacity(
            256 + self.access_token.expose().len()
                + self.refresh_token.as_ref().map_or(0, |r| r.expose().len()),
        );
        serde_json::to_writer(&mut buf, &out).map_err(|e| {
            Error::new(ErrorKind::Config, "token set could not be written").with_source(e)
        })?;
        Ok(SecretSlice::from(buf))
    }

    /// Read a set written by [`to_stored_bytes`](Self::to_stored_bytes). Its data is decoded
    /// lazily, by [`storable_data`](Self::storable_data). Anything else (another format
    /// version, malformed bytes) is a `BadResponse` error that never quotes the input.
    pub fn from_stored_bytes(bytes: &[u8]) -> Result<TokenSet, Error> {
        let read: StoredIn = serde_json::from_slice(bytes).map_err(|e| {
            // serde_json's message can quote the input, which holds tokens: keep only where.
            Error::new(
                ErrorKind::BadResponse,
                format!(
                    "stored token set is malformed (line {}, column {})",
                    e.line(),
                    e.column()
                ),
            )
        })?;
        if read.format != STORED_FORMAT {
            return Err(Error::new(
                ErrorKind::BadResponse,
                format!(
                    "stored token set is in format {}, this version reads format {STORED_FORMAT}",
                    read.format
                ),
            ));
        }
        let mut set = TokenSet::new(
            AccessToken::new(read.access_token),
            Expiry::from_parts(read.expires_at, read.lifetime, read.received_at),
        )
        .with_refresh_token(read.refresh_token.map(RefreshToken::new))
        .with_server_date(read.server_date);
        for (name, stored) in read.data {
            set.data.insert(Entry {
                name: Cow::Owned(name),
                id: None,
                value: OnceLock::new(),
                stored: Some(stored),
            });
        }
        Ok(set)
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
            if !self.data.0.iter().any(|e| e.name == item.name) {
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
    fn a_token_set_starts_with_its_access_token() {
        // A session's hot path reads it right after the lease's expiry (see `Lease`).
        assert_eq!(std::mem::offset_of!(TokenSet, access_token), 0);
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

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Workspace {
        id: String,
    }

    fn stored_set() -> TokenSet {
        TokenSet::new(
            AccessToken::new(SECRET),
            Expiry::from_expires_in(
                3600,
                std::time::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
            ),
        )
        .with_refresh_token(Some(RefreshToken::new("refresh-secret-456")))
        .with_storable_data(Workspace { id: "42".into() })
        .with_storable_data(7u32)
    }

    #[test]
    fn a_stored_set_round_trips_and_decodes_its_data_lazily() {
        let set = stored_set();
        let bytes = set.to_stored_bytes().unwrap();
        let back = TokenSet::from_stored_bytes(bytes.expose_secret()).unwrap();
        assert_eq!(back.access_token(), set.access_token());
        assert_eq!(back.refresh_token(), set.refresh_token());
        assert_eq!(back.expiry(), set.expiry());
        // Not decoded yet: `data` (no serde bound) cannot decode, `storable_data` does.
        assert_eq!(back.data::<Workspace>(), None);
        assert_eq!(
            back.storable_data::<Workspace>(),
            Some(&Workspace { id: "42".into() })
        );
        assert_eq!(
            back.data::<Workspace>(),
            Some(&Workspace { id: "42".into() })
        );
        assert_eq!(back.storable_data::<u32>(), Some(&7));
        // A type the stored form does not decode as is absent, not a panic.
        assert_eq!(back.storable_data::<Vec<u8>>(), None);
        // Debug shows type names only, the same as the set written.
        assert_eq!(format!("{back:?}"), format!("{set:?}"));
        assert!(!format!("{back:?}").contains(SECRET));
        // Written again, the bytes are the same: the form is stable.
        assert_eq!(
            back.to_stored_bytes().unwrap().expose_secret(),
            bytes.expose_secret()
        );
    }

    #[test]
    fn the_stored_form_is_stable() {
        let bytes = stored_set().to_stored_bytes().unwrap();
        let text = std::str::from_utf8(bytes.expose_secret())
            .unwrap()
            .replace(SECRET, "[ACCESS]");
        insta::assert_snapshot!(text, @r#"{"format":1,"access_token":"[ACCESS]","refresh_token":"refresh-secret-456","expires_at":{"secs_since_epoch":1800003600,"nanos_since_epoch":0},"lifetime":{"secs":3600,"nanos":0},"data":{"auth_core::token::tests::Workspace":{"id":"42"},"u32":7}}"#);
        let never = TokenSet::new(AccessToken::new("a"), Expiry::never());
        let back =
            TokenSet::from_stored_bytes(never.to_stored_bytes().unwrap().expose_secret()).unwrap();
        assert_eq!(back.expiry(), &Expiry::never());
        assert!(back.refresh_token().is_none());
    }

    #[test]
    fn an_absolute_expiry_and_a_server_date_survive_the_store() {
        let received = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let date = received - Duration::from_secs(600);
        let set = TokenSet::new(
            AccessToken::new(SECRET),
            Expiry::at(date + Duration::from_secs(60), received),
        )
        .with_server_date(Some(date));
        let back =
            TokenSet::from_stored_bytes(set.to_stored_bytes().unwrap().expose_secret()).unwrap();
        assert_eq!(back.expiry(), set.expiry());
        assert!(back.expiry().is_absolute());
        assert_eq!(back.server_date(), Some(date));
        // Put on the local clock (what a session stores), the date is gone at rest too.
        let (local, _) = set.on_local_clock(received);
        let back =
            TokenSet::from_stored_bytes(local.to_stored_bytes().unwrap().expose_secret()).unwrap();
        assert_eq!(back.expiry(), local.expiry());
        assert_eq!(back.server_date(), None);
    }

    #[test]
    fn local_data_is_refused_at_rest_by_name() {
        let set = TokenSet::new(AccessToken::new(SECRET), Expiry::never()).with_data(Tag("x"));
        let e = set.to_stored_bytes().unwrap_err();
        assert!(e.is_config());
        assert!(e.to_string().contains("Tag"), "{e}");
        assert!(!e.to_string().contains(SECRET));
    }

    #[test]
    fn unreadable_stored_forms_are_errors_that_quote_nothing() {
        let future = format!(r#"{{"format":2,"access_token":"{SECRET}"}}"#);
        let truncated = format!(r#"{{"format":1,"access_token":"{SECRET}"#);
        let wrong_type =
            format!(r#"{{"format":1,"access_token":"{SECRET}","lifetime":"{SECRET}"}}"#);
        for input in [future, truncated, wrong_type] {
            let e = TokenSet::from_stored_bytes(input.as_bytes()).unwrap_err();
            assert!(e.is_bad_response(), "{input}");
            assert!(!format!("{e} {e:?}").contains(SECRET), "{e:?}");
        }
    }

    #[test]
    fn inherited_storable_data_stays_storable() {
        let old = stored_set();
        let new = TokenSet::new(AccessToken::new("a2"), Expiry::never()).inherit_from(&old);
        let back =
            TokenSet::from_stored_bytes(new.to_stored_bytes().unwrap().expose_secret()).unwrap();
        assert_eq!(back.storable_data::<u32>(), Some(&7));
        assert_eq!(back.refresh_token().unwrap().expose(), "refresh-secret-456");
    }
}
