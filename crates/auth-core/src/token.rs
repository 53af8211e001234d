//! Secret-holding token types: access token, refresh token and the set a sign-in returns.

use std::collections::BTreeMap;
use std::fmt;

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
/// access token expires, and non-secret attributes the vendor needs on later calls
/// (for example IQM's workspace id).
///
/// ```
/// use auth_core::{AccessToken, Expiry, TokenSet};
/// let set = TokenSet::new(AccessToken::new("tok"), Expiry::never())
///     .with_attribute("owId", "42");
/// assert_eq!(set.attribute("owId"), Some("42"));
/// assert!(!format!("{set:?}").contains("tok\""));
/// ```
#[derive(Clone, Debug)]
pub struct TokenSet {
    access_token: AccessToken,
    refresh_token: Option<RefreshToken>,
    expiry: Expiry,
    attributes: BTreeMap<String, String>,
}

impl TokenSet {
    /// A token set with no refresh token and no attributes.
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
            attributes: BTreeMap::new(),
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

    /// Add a non-secret attribute.
    ///
    /// ```
    /// let s = auth_core::TokenSet::new(auth_core::AccessToken::new("a"), auth_core::Expiry::never())
    ///     .with_attribute("k", "v");
    /// assert_eq!(s.attribute("k"), Some("v"));
    /// ```
    pub fn with_attribute(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.attributes.insert(key.into(), value.into());
        self
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

    /// A non-secret attribute by name.
    ///
    /// ```
    /// let s = auth_core::TokenSet::new(auth_core::AccessToken::new("a"), auth_core::Expiry::never());
    /// assert_eq!(s.attribute("missing"), None);
    /// ```
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
    }

    /// Carry over from `previous` what a renewal answer left out: the refresh token (a vendor
    /// that does not rotate it sends none back) and attributes such as a workspace id.
    ///
    /// ```
    /// use auth_core::{AccessToken, Expiry, RefreshToken, TokenSet};
    /// let old = TokenSet::new(AccessToken::new("a1"), Expiry::never())
    ///     .with_refresh_token(Some(RefreshToken::new("r1")))
    ///     .with_attribute("owId", "7");
    /// let new = TokenSet::new(AccessToken::new("a2"), Expiry::never()).inherit_from(&old);
    /// assert_eq!(new.refresh_token().unwrap().expose(), "r1");
    /// assert_eq!(new.attribute("owId"), Some("7"));
    /// ```
    pub fn inherit_from(mut self, previous: &TokenSet) -> Self {
        if self.refresh_token.is_none() {
            self.refresh_token = previous.refresh_token.clone();
        }
        for (k, v) in &previous.attributes {
            self.attributes
                .entry(k.clone())
                .or_insert_with(|| v.clone());
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
        insta::assert_snapshot!(format!("{set:?}"), @r#"TokenSet { access_token: AccessToken([REDACTED]), refresh_token: Some(RefreshToken([REDACTED])), expiry: Expiry { expires_at: None, lifetime: None }, attributes: {} }"#);
    }

    #[test]
    fn sensitive_header_marks_and_rejects_newlines() {
        let v = sensitive_header("Bearer ", &SecretString::from(SECRET)).unwrap();
        assert!(v.is_sensitive());
        assert!(!format!("{v:?}").contains(SECRET));
        let bad = sensitive_header("", &SecretString::from("a\nb"));
        assert!(bad.unwrap_err().is_bad_response());
    }

    #[test]
    fn inherit_keeps_new_values() {
        let old = TokenSet::new(AccessToken::new("a1"), Expiry::never())
            .with_refresh_token(Some(RefreshToken::new("r1")))
            .with_attribute("k", "old");
        let new = TokenSet::new(AccessToken::new("a2"), Expiry::never())
            .with_refresh_token(Some(RefreshToken::new("r2")))
            .with_attribute("k", "new")
            .inherit_from(&old);
        assert_eq!(new.refresh_token().unwrap().expose(), "r2");
        assert_eq!(new.attribute("k"), Some("new"));
        assert_eq!(new.access_token().expose(), "a2");
    }
}
