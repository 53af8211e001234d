//! Secret-holding token types: access token, refresh token and the set a sign-in returns.

use std::any::{Any, TypeId};
use std::fmt;
use std::sync::Arc;

use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};

use crate::error::{Error, ErrorKind};
use crate::expiry::Expiry;

macro_rules! secret_newtype {
    ($(#[$m:meta])* $name:ident, $label:literal) => {
        $(#[$m])*
        #[derive(Clone)]
        pub struct $name(SecretString);

        impl $name {
            /// Wrap a secret string.
            ///
            /// ```
            #[doc = concat!("let t = auth_core::", stringify!($name), "::new(\"s3cr3t\");")]
            /// assert!(!format!("{t:?}").contains("s3cr3t"));
            /// ```
            pub fn new(value: impl Into<String>) -> Self {
                $name(SecretString::from(value.into()))
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
                $name(s)
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
    "AccessToken"
);
secret_newtype!(
    /// A refresh token. Debug and Display print `[REDACTED]`.
    RefreshToken,
    "RefreshToken"
);
secret_newtype!(
    /// A long-lived API key or static token. Debug and Display print `[REDACTED]`.
    ApiKey,
    "ApiKey"
);

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
    let mut v =
        HeaderValue::try_from(format!("{prefix}{}", secret.expose_secret())).map_err(|_| {
            Error::new(
                ErrorKind::BadResponse,
                "token holds characters not allowed in a header",
            )
        })?;
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
        insta::assert_snapshot!(format!("{set:?}"), @r#"TokenSet { access_token: AccessToken([REDACTED]), refresh_token: Some(RefreshToken([REDACTED])), expiry: Expiry { expires_at: None, lifetime: None }, data: [] }"#);
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
