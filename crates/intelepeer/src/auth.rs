//! Credentials and the token provider: the 24-hour portal token obtained with a username and
//! password, or the long-standing CPaaS token that is used as is.

use std::fmt;
use std::time::{Duration, SystemTime};

use auth_core::{
    AccessToken, ApiKey, Error, ErrorKind, Expiry, TokenSet,
    http::Http,
    provider::{AuthScheme, Capabilities, SchemeByUrl, TokenProvider, async_trait},
};
use reqwest::header::{ACCEPT, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::error::{ApiError, ErrorExt as _};

/// How long a portal token lives when it is not a JWT carrying `exp`.
pub(crate) const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// The path, under the portal base URL, of the API that takes the raw token.
const PORTAL_MY_PATH: &str = "/_rest/v4/my/";

/// Which `Authorization` scheme goes on which request: `portal` on the portal's
/// `/_rest/v4/my/*` API (under the portal's own base path), `other` everywhere else (the
/// SMS / CPaaS API).
pub(crate) fn schemes(
    portal: &url::Url,
    portal_scheme: AuthScheme,
    other: AuthScheme,
) -> SchemeByUrl {
    let prefix = format!("{}{PORTAL_MY_PATH}", portal.path().trim_end_matches('/'));
    SchemeByUrl::new(other).rule(portal.host_str().unwrap_or_default(), prefix, portal_scheme)
}

/// What the client authenticates with.
///
/// ```
/// use intelepeer::Credentials;
/// let portal = Credentials::password("api-user", "hunter2-secret");
/// let cpaas = Credentials::static_token("long-standing-cpaas-token");
/// assert!(!format!("{portal:?} {cpaas:?}").contains("hunter2-secret"));
/// assert!(!format!("{cpaas:?}").contains("long-standing"));
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub enum Credentials {
    /// An API Access user of the Customer Portal: authenticates for a 24-hour token, and
    /// again whenever that token expires or is refused.
    Password {
        /// The API user's name.
        username: String,
        /// The API user's password.
        password: SecretString,
    },
    /// The long-standing token copied from the CPaaS portal: no expiry, no renewal; a 401
    /// with it surfaces to the caller.
    StaticToken(ApiKey),
}

impl Credentials {
    /// Username and password of an API Access user (created in the Customer Portal's User
    /// Management with API access): the client authenticates for the 24-hour token and
    /// again whenever it runs out.
    pub fn password(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials::Password {
            username: username.into(),
            password: SecretString::from(password.into()),
        }
    }

    /// The long-standing CPaaS token copied from the CPaaS portal, for the CPaaS APIs: it
    /// is used as is and never renewed.
    ///
    /// ```
    /// let c = intelepeer::Credentials::static_token("tok");
    /// assert!(!c.is_renewable());
    /// ```
    pub fn static_token(token: impl Into<ApiKey>) -> Self {
        Credentials::StaticToken(token.into())
    }

    /// Whether a new token can be obtained from these credentials.
    ///
    /// ```
    /// assert!(intelepeer::Credentials::password("u", "p").is_renewable());
    /// ```
    pub fn is_renewable(&self) -> bool {
        matches!(self, Credentials::Password { .. })
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Password { username, .. } => f
                .debug_struct("Password")
                .field("username", username)
                .field("password", &"[REDACTED]")
                .finish(),
            Credentials::StaticToken(_) => f.write_str("StaticToken([REDACTED])"),
        }
    }
}

/// The token's expiry: its JWT `exp` when it is a JWT that has one, else `lifetime` from now.
///
/// A token shaped like a JWT (three segments, the first starting `eyJ`, the base64url of
/// `{"`) whose header or payload cannot be read is a typed `BadResponse`, not an opaque
/// token: its `exp` would be silently ignored otherwise.
pub(crate) fn expiry_of(token: &str, lifetime: Duration, now: SystemTime) -> Result<Expiry, Error> {
    let jwt_shaped = token.starts_with("eyJ") && token.split('.').count() == 3;
    match auth_core::jwt::jwt_claims(token) {
        Ok(claims) if claims.contains_key("exp") => Expiry::from_jwt(token, now),
        Err(e) if jwt_shaped => Err(Error::new(
            ErrorKind::BadResponse,
            "authenticate answer holds a malformed JWT",
        )
        .with_source(e)),
        _ => Ok(Expiry::lifetime_from(lifetime, now)),
    }
}

/// The token of a 200 authenticate answer. An answer without one is a typed error: a
/// `{"code": 401, "error": ...}` body sent with status 200 is still bad credentials, any
/// other vendor error body becomes the error's vendor message and detail.
pub(crate) fn token_from_answer(answer: &Value) -> Result<String, Error> {
    if let Some(token) = answer
        .get("token")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        return Ok(token.to_owned());
    }
    let mut err = Error::new(ErrorKind::BadResponse, "authenticate answer has no token");
    if let Some(parsed) = ApiError::from_value(answer) {
        if parsed.code == Some(401) {
            err = Error::new(
                ErrorKind::Unauthorized,
                "authenticate answer refused the login",
            );
        }
        if let Some(text) = parsed.text() {
            err = err.with_vendor_message(text);
        }
        err = err.with_detail(parsed);
    }
    Err(err)
}

/// The [`TokenProvider`] behind the client's session.
pub(crate) struct IntelePeerAuth {
    pub(crate) credentials: Credentials,
    pub(crate) http: Http,
    pub(crate) authenticate_url: url::Url,
    pub(crate) lifetime: Duration,
    pub(crate) schemes: SchemeByUrl,
}

impl fmt::Debug for IntelePeerAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntelePeerAuth")
            .field("credentials", &self.credentials)
            .field("authenticate_url", &self.authenticate_url.as_str())
            .field("lifetime", &self.lifetime)
            .field("schemes", &self.schemes)
            .finish()
    }
}

impl IntelePeerAuth {
    async fn authenticate(
        &self,
        username: &str,
        password: &SecretString,
    ) -> Result<TokenSet, Error> {
        let body = serde_json::json!({
            "username": username,
            "password": password.expose_secret(),
        });
        let request = self
            .http
            .request(reqwest::Method::POST, self.authenticate_url.clone())
            .header(ACCEPT, "application/json")
            .json(&body);
        let resp = match self.http.send(request, &[password]).await {
            Ok(resp) => resp,
            // The authenticate call's 401 means the username or password is wrong: a
            // distinct, final error, never a reason to authenticate again.
            Err(e) if e.status() == Some(401) => return Err(bad_credentials(e)),
            Err(e) => return Err(e),
        };
        // A JWT's `exp` is absolute: read it on IntelePeer's clock (its `Date`).
        let date = auth_core::http::server_date(resp.headers());
        let answer: Value = auth_core::http::read_json(resp).await?;
        // A 200 without a token may echo the password: the pipeline did not scrub it.
        let token = match token_from_answer(&answer).map_err(|e| e.scrubbed(&[password])) {
            Ok(token) => token,
            Err(e) if e.is_unauthorized() => return Err(bad_credentials(e)),
            Err(e) => return Err(e),
        };
        let expiry = expiry_of(&token, self.lifetime, self.http.now())?;
        // An opaque token's 24 h are counted from receipt and stay so (the session only
        // re-bases absolute expiries); the `Date` still tells it the skew.
        Ok(TokenSet::new(AccessToken::new(token), expiry).with_server_date(date))
    }
}

pub(crate) fn bad_credentials(e: Error) -> Error {
    let mut out = Error::new(
        ErrorKind::Unauthorized,
        "bad credentials: intelepeer refused the username or password",
    );
    if let Some(status) = e.status() {
        out = out.with_status(status);
    }
    if let Some(m) = e.vendor_message() {
        out = out.with_vendor_message(m);
    }
    if let Some(d) = e.api_error() {
        out = out.with_detail(d.clone());
    }
    out.with_source(e)
}

fn static_tokens(key: &ApiKey) -> TokenSet {
    TokenSet::new(AccessToken::from(key.as_secret().clone()), Expiry::never())
}

impl IntelePeerAuth {
    /// The token set to install up front for a static token (the session never signs in
    /// for a credential that cannot be renewed).
    pub(crate) fn initial_tokens(&self) -> Option<TokenSet> {
        match &self.credentials {
            Credentials::StaticToken(key) => Some(static_tokens(key)),
            Credentials::Password { .. } => None,
        }
    }
}

#[async_trait]
impl TokenProvider for IntelePeerAuth {
    fn name(&self) -> &'static str {
        "intelepeer"
    }

    async fn sign_in(&self) -> Result<TokenSet, Error> {
        match &self.credentials {
            Credentials::Password { username, password } => {
                self.authenticate(username, password).await
            }
            Credentials::StaticToken(key) => Ok(static_tokens(key)),
        }
    }

    fn capabilities(&self) -> Capabilities {
        match self.credentials {
            Credentials::Password { .. } => Capabilities::sign_in_only(),
            Credentials::StaticToken(_) => Capabilities::none(),
        }
    }

    // The scheme depends on the API, which only the URL tells: `Bearer` on the SMS / CPaaS
    // host, the raw token on the portal's `/my/*` API. One token and one session serve both.
    fn authorize_request(
        &self,
        tokens: &TokenSet,
        request: &mut reqwest::Request,
    ) -> Result<(), Error> {
        self.schemes.apply(tokens, request)?;
        request
            .headers_mut()
            .entry(ACCEPT)
            .or_insert(HeaderValue::from_static("application/json"));
        Ok(())
    }

    fn secrets(&self) -> Vec<&SecretString> {
        match &self.credentials {
            Credentials::Password { password, .. } => vec![password],
            Credentials::StaticToken(key) => vec![key.as_secret()],
        }
    }

    fn identity(&self) -> Vec<&str> {
        match &self.credentials {
            Credentials::Password { username, .. } => vec![username.as_str()],
            Credentials::StaticToken(_) => Vec::new(),
        }
    }

    fn renewal_impossible(&self) -> Error {
        Error::new(
            ErrorKind::SessionExpired,
            "the static cpaas token cannot be renewed: copy a new one from the cpaas portal",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn b64(s: &str) -> String {
        use std::fmt::Write as _;
        // Minimal base64url without padding, enough for test fixtures.
        const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let b = s.as_bytes();
        let mut out = String::new();
        for chunk in b.chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |acc, (i, &c)| acc | (u32::from(c) << (16 - 8 * i)));
            let chars = chunk.len() + 1;
            for i in 0..chars {
                let idx = (n >> (18 - 6 * i)) & 63;
                let _ = write!(out, "{}", T[idx as usize] as char);
            }
        }
        out
    }

    fn jwt(payload: &str) -> String {
        format!(
            "{}.{}.sig",
            b64(r#"{"alg":"HS256","typ":"JWT"}"#),
            b64(payload)
        )
    }

    #[test]
    fn opaque_token_lives_the_configured_lifetime() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000);
        let e = expiry_of("fFkq-opaque", DEFAULT_TOKEN_LIFETIME, now).unwrap();
        assert_eq!(e.expires_at(), Some(now + Duration::from_secs(86_400)));
        assert_eq!(e.lifetime(), Some(DEFAULT_TOKEN_LIFETIME));
    }

    #[test]
    fn jwt_token_uses_exp_and_jwt_without_exp_gets_the_lifetime() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000);
        let e = expiry_of(&jwt(r#"{"exp":4600}"#), DEFAULT_TOKEN_LIFETIME, now).unwrap();
        assert_eq!(
            e.expires_at(),
            Some(UNIX_EPOCH + Duration::from_secs(4_600))
        );
        assert_eq!(e.lifetime(), Some(Duration::from_secs(3_600)));
        let e = expiry_of(&jwt(r#"{"sub":"x"}"#), DEFAULT_TOKEN_LIFETIME, now).unwrap();
        assert_eq!(e.expires_at(), Some(now + DEFAULT_TOKEN_LIFETIME));
        // A JWT whose exp is present but malformed is a typed error, not a guess.
        let err = expiry_of(&jwt(r#"{"exp":"soon"}"#), DEFAULT_TOKEN_LIFETIME, now).unwrap_err();
        assert!(err.is_bad_response());
    }

    #[test]
    fn malformed_jwt_is_a_typed_error_and_opaque_dots_are_not_jwts() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000);
        // JWT header, payload not base64url JSON.
        let garbled = format!("{}.%%%not-base64.sig", b64(r#"{"alg":"HS256"}"#));
        let e = expiry_of(&garbled, DEFAULT_TOKEN_LIFETIME, now).unwrap_err();
        assert!(e.is_bad_response());
        assert_eq!(e.to_string(), "authenticate answer holds a malformed JWT");
        let e = expiry_of("eyJbroken.eyJbroken.sig", DEFAULT_TOKEN_LIFETIME, now).unwrap_err();
        assert!(e.is_bad_response());
        // An opaque token that happens to hold dots is still opaque.
        let e = expiry_of("fFkq.abc.def", DEFAULT_TOKEN_LIFETIME, now).unwrap();
        assert_eq!(e.expires_at(), Some(now + DEFAULT_TOKEN_LIFETIME));
    }

    #[test]
    fn authenticate_answers_without_a_token_are_typed() {
        use serde_json::json;
        assert_eq!(
            token_from_answer(&json!({"token": " fFkq "})).unwrap(),
            "fFkq"
        );
        for answer in [
            json!({}),
            json!({"token": null}),
            json!({"token": ""}),
            json!({"token": 42}),
            json!([]),
            json!(null),
        ] {
            let e = token_from_answer(&answer).unwrap_err();
            assert!(e.is_bad_response(), "{answer}: {e:?}");
            assert_eq!(e.to_string(), "authenticate answer has no token");
        }
        // A 200 carrying the vendor's 401 body is still bad credentials.
        let e = token_from_answer(&json!({"code": 401, "error": "Unauthorized"})).unwrap_err();
        assert!(e.is_unauthorized());
        assert_eq!(e.vendor_message(), Some("Unauthorized"));
        assert_eq!(e.api_error().unwrap().code, Some(401));
        // Another vendor error body: a bad response carrying the vendor's words.
        let e = token_from_answer(&json!({"code": 500, "error": "db down"})).unwrap_err();
        assert!(e.is_bad_response());
        assert_eq!(e.vendor_message(), Some("db down"));
    }

    #[test]
    fn scheme_follows_the_url() {
        let portal = url::Url::parse("https://customer.example").unwrap();
        let schemes = schemes(&portal, AuthScheme::Raw, AuthScheme::Bearer);
        let auth = IntelePeerAuth {
            credentials: Credentials::static_token("tok-123"),
            http: Http::with_client(auth_core::http::default_client().unwrap()),
            authenticate_url: portal.join("/_rest/v4/authenticate").unwrap(),
            lifetime: DEFAULT_TOKEN_LIFETIME,
            schemes,
        };
        let set = auth.initial_tokens().unwrap();
        let client = auth_core::http::default_client().unwrap();
        let header = |url: &str| {
            let mut req = client.get(url).build().unwrap();
            auth.authorize_request(&set, &mut req).unwrap();
            let v = req.headers()["authorization"].clone();
            assert!(v.is_sensitive());
            assert_eq!(req.headers()["accept"], "application/json");
            v.to_str().unwrap().to_owned()
        };
        assert_eq!(
            header("https://customer.example/_rest/v4/my/accounts?page=1"),
            "tok-123"
        );
        assert_eq!(
            header("https://api.example/_rest/v4/app/sms/send"),
            "Bearer tok-123"
        );
        // `/my/` on another host, or another portal path, is not the portal's /my/ API.
        assert_eq!(
            header("https://api.example/_rest/v4/my/accounts"),
            "Bearer tok-123"
        );
        assert_eq!(
            header("https://customer.example/_rest/v4/other"),
            "Bearer tok-123"
        );
        // A portal under a base path: its /my/ API is under that path.
        let rule = super::schemes(
            &url::Url::parse("http://127.0.0.1:9/prefix/").unwrap(),
            AuthScheme::Raw,
            AuthScheme::Bearer,
        );
        let url = |s: &str| url::Url::parse(s).unwrap();
        assert_eq!(
            rule.scheme_for(&url("http://127.0.0.1:9/prefix/_rest/v4/my/accounts")),
            AuthScheme::Raw
        );
        assert_eq!(
            rule.scheme_for(&url("http://127.0.0.1:9/_rest/v4/my/accounts")),
            AuthScheme::Bearer
        );
    }
}
