//! The backend client: send and verify one-time codes and check a user's session, all
//! authorized by the client API key in the `ipaas` header.

use std::fmt;
use std::sync::Arc;

use auth_core::{
    AccessToken, ApiKey, Error, ErrorKind, Expiry, Result, Session, SessionStats, SharedClock,
    TokenSet,
    http::{Http, read_json},
    provider::{Capabilities, RenewalPolicy, TokenProvider, async_trait, sensitive_header},
};
use reqwest::Method;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName};

use crate::error::IncendErrors;
use crate::models::{
    MessageWire, OtpCode, OtpSent, Recipient, TokenStatus, TokenStatusWire, UserToken,
    VerifiedUser, VerifyWire, missing_with,
};

/// The base URL the Incend IPaaS server most likely lives at (not confirmed by the vendor;
/// set your own with `with_base_url`).
pub const DEFAULT_BASE_URL: &str = "https://ipaas.incend.in";

/// Environment variable holding the base URL, read by [`Client::from_env`].
pub const ENV_BASE_URL: &str = "INCEND_BASE_URL";
/// Environment variable holding the client API key, read by [`Client::from_env`].
pub const ENV_API_KEY: &str = "INCEND_API_KEY";

/// Check and normalise a base URL (no trailing slash).
pub(crate) fn base_url(raw: Option<String>) -> Result<String> {
    let raw = raw.unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
    let parsed = url::Url::parse(raw.trim())
        .map_err(|e| Error::new(ErrorKind::Config, "base url is not a valid url").with_source(e))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(Error::new(
            ErrorKind::Config,
            "base url must be http or https",
        ));
    }
    // Refused here, at build(), rather than at the first call.
    auth_core::http::ensure_secure(&parsed)?;
    Ok(parsed.as_str().trim_end_matches('/').to_owned())
}

pub(crate) fn make_http(
    client: Option<reqwest::Client>,
    clock: Option<SharedClock>,
) -> Result<Http> {
    let http = match client {
        Some(c) => Http::with_client(c),
        None => Http::new()?,
    };
    let http = match clock {
        Some(c) => http.with_clock(c),
        None => http,
    };
    Ok(http.with_error_parser(IncendErrors))
}

/// Puts the client API key in the `ipaas` header. An API key cannot be renewed: a session
/// holding it never signs in or refreshes.
#[derive(Debug)]
struct ClientKeyAuth;

#[async_trait]
impl TokenProvider for ClientKeyAuth {
    async fn sign_in(&self) -> Result<TokenSet> {
        Err(self.renewal_impossible())
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::none()
    }

    fn policy(&self) -> RenewalPolicy {
        RenewalPolicy::OnExpiry
    }

    fn authorize(&self, tokens: &TokenSet, headers: &mut HeaderMap) -> Result<()> {
        headers.insert(
            HeaderName::from_static("ipaas"),
            sensitive_header("", tokens.access_token().as_secret())?,
        );
        Ok(())
    }

    fn renewal_impossible(&self) -> Error {
        Error::new(ErrorKind::Config, "no client api key is configured")
    }
}

/// Builds a [`Client`].
///
/// ```
/// let client = incend::Client::builder()
///     .with_base_url("https://ipaas.example.com")
///     .with_api_key("client-key")
///     .build()?;
/// # let _ = client;
/// # Ok::<(), incend::Error>(())
/// ```
#[derive(Default)]
pub struct ClientBuilder {
    base_url: Option<String>,
    api_key: Option<ApiKey>,
    clock: Option<SharedClock>,
    http_client: Option<reqwest::Client>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// Talk to `url` instead of [`DEFAULT_BASE_URL`] (a sandbox, a staging server).
    ///
    /// ```
    /// let b = incend::Client::builder().with_base_url("http://127.0.0.1:8080");
    /// # let _ = b;
    /// ```
    pub fn with_base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// The client API key IPaaS issued (sent as the `ipaas` header).
    ///
    /// ```
    /// let b = incend::Client::builder().with_api_key("client-key");
    /// # let _ = b;
    /// ```
    pub fn with_api_key(mut self, key: impl Into<ApiKey>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// Same as [`with_api_key`](Self::with_api_key): the client API key is this client's only
    /// credential.
    ///
    /// ```
    /// let b = incend::Client::builder().with_credentials("client-key");
    /// # let _ = b;
    /// ```
    pub fn with_credentials(self, key: impl Into<ApiKey>) -> Self {
        self.with_api_key(key)
    }

    /// Use `clock` for expiry decisions (tests pass a `ManualClock` shared with the sandbox).
    ///
    /// ```
    /// let b = incend::Client::builder().with_clock(auth_core::ManualClock::new());
    /// # let _ = b;
    /// ```
    pub fn with_clock(mut self, clock: impl Into<SharedClock>) -> Self {
        self.clock = Some(clock.into());
        self
    }

    /// Send through your own `reqwest::Client` (proxies, timeouts).
    ///
    /// ```
    /// let b = incend::Client::builder().with_http_client(reqwest::Client::new());
    /// # let _ = b;
    /// ```
    pub fn with_http_client(mut self, client: reqwest::Client) -> Self {
        self.http_client = Some(client);
        self
    }

    /// Build the client. Fails with [`ErrorKind::Config`] without an API key, with one that
    /// cannot be sent as a header, or with a bad base URL.
    ///
    /// ```
    /// let err = incend::Client::builder().build().unwrap_err();
    /// assert!(err.is_config());
    /// ```
    pub fn build(self) -> Result<Client> {
        let base = base_url(self.base_url)?;
        let key = self
            .api_key
            .ok_or_else(|| Error::new(ErrorKind::Config, "client api key missing"))?;
        if key.expose().trim().is_empty() {
            return Err(Error::new(ErrorKind::Config, "client api key is empty"));
        }
        if reqwest::header::HeaderValue::from_str(key.expose()).is_err() {
            return Err(Error::new(
                ErrorKind::Config,
                "client api key holds characters not allowed in a header",
            ));
        }
        let http = make_http(self.http_client, self.clock)?;
        let session = Session::new(ClientKeyAuth, http);
        session.replace(TokenSet::new(
            AccessToken::from(key.as_secret().clone()),
            Expiry::never(),
        ));
        Ok(Client {
            inner: Arc::new(Inner { base, session }),
        })
    }
}

struct Inner {
    base: String,
    session: Session,
}

/// The backend client of Incend IPaaS: sends one-time codes, verifies them, and checks a
/// user's session, authorized by the client API key. Cheap to clone.
///
/// ```no_run
/// # async fn run() -> incend::Result<()> {
/// let client = incend::Client::builder().with_api_key("client-key").build()?;
/// let to = incend::Recipient::sms("+918838118348")?;
/// client.send_otp(&to).await?;
/// let user = client.verify_otp(&to, "0123").await?;
/// // Store only the id; hand the token to the user's device.
/// println!("user {}", user.user_id());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base)
            .field("session", &self.inner.session)
            .finish()
    }
}

impl Client {
    /// Start building a client.
    ///
    /// ```
    /// let _ = incend::Client::builder();
    /// ```
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client from `INCEND_API_KEY` and, when set, `INCEND_BASE_URL`.
    ///
    /// ```no_run
    /// let client = incend::Client::from_env()?;
    /// # let _ = client;
    /// # Ok::<(), incend::Error>(())
    /// ```
    pub fn from_env() -> Result<Client> {
        let key = std::env::var(ENV_API_KEY).map_err(|_| {
            Error::new(
                ErrorKind::Config,
                "environment variable INCEND_API_KEY is not set",
            )
        })?;
        let mut b = Client::builder().with_api_key(key);
        if let Ok(url) = std::env::var(ENV_BASE_URL) {
            b = b.with_base_url(url);
        }
        b.build()
    }

    /// The base URL in use.
    ///
    /// ```
    /// let c = incend::Client::builder().with_api_key("k").build()?;
    /// assert_eq!(c.base_url(), incend::DEFAULT_BASE_URL);
    /// # Ok::<(), incend::Error>(())
    /// ```
    pub fn base_url(&self) -> &str {
        &self.inner.base
    }

    /// What the client's session did: requests sent, 401s seen. It never signs in or
    /// refreshes: an API key cannot be renewed.
    ///
    /// ```
    /// let c = incend::Client::builder().with_api_key("k").build()?;
    /// assert_eq!(c.session_stats().requests, 0);
    /// # Ok::<(), incend::Error>(())
    /// ```
    pub fn session_stats(&self) -> SessionStats {
        self.inner.session.stats()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.inner.base)
    }

    /// Send a one-time code to `to` (`POST /auth/init`).
    ///
    /// ```no_run
    /// # async fn f(client: incend::Client) -> incend::Result<()> {
    /// client.send_otp(&incend::Recipient::email("user@example.com")?).await?;
    /// # Ok(()) }
    /// ```
    pub async fn send_otp(&self, to: &Recipient) -> Result<OtpSent> {
        let session = &self.inner.session;
        let req = session
            .http()
            .request(Method::POST, self.url("/auth/init"))
            .json(&serde_json::Value::Object(to.wire()));
        let answer: MessageWire = read_json(session.send(req).await?).await?;
        Ok(OtpSent {
            message: answer.message.unwrap_or_default(),
        })
    }

    /// Verify the code the user received (`POST /auth/verify`). The code is checked locally
    /// first: 3 to 6 characters.
    ///
    /// The answer's personal fields (`name`, `userData`) are dropped unread; see
    /// [`VerifiedUser`]. The server's reserved test recipients (`+919999999999`,
    /// `testing@incend.in`) answer without a session, which is a
    /// [`ErrorKind::BadResponse`] here.
    ///
    /// ```no_run
    /// # async fn f(client: incend::Client) -> incend::Result<()> {
    /// let to = incend::Recipient::sms("+918838118348")?;
    /// let user = client.verify_otp(&to, "0123").await?;
    /// # let _ = user; Ok(()) }
    /// ```
    pub async fn verify_otp(&self, to: &Recipient, code: &str) -> Result<VerifiedUser> {
        let code = OtpCode::new(code)?;
        let mut body = to.wire();
        body.insert(
            "code".into(),
            secrecy::ExposeSecret::expose_secret(code.secret()).into(),
        );
        let session = &self.inner.session;
        let req = session
            .http()
            .request(Method::POST, self.url("/auth/verify"))
            .json(&serde_json::Value::Object(body));
        let resp = session.send_with_secrets(req, &[code.secret()]).await?;
        let status = resp.status().as_u16();
        let answer: VerifyWire = read_json(resp).await?;
        let code_text = secrecy::ExposeSecret::expose_secret(code.secret());
        let key = session.current();
        let key_text = key
            .as_ref()
            .map_or("", |l| l.tokens().access_token().expose());
        let lacks = |field: &str| {
            missing_with(
                field,
                status,
                answer.message.as_deref(),
                &[code_text, key_text],
            )
        };
        let user_id = answer.user_id.clone().ok_or_else(|| lacks("userId"))?;
        let token = answer
            .user_jwt_token
            .clone()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| lacks("userJwtToken"))?;
        let expiry = answer
            .token_expiry
            .as_deref()
            .ok_or_else(|| lacks("tokenExpiry"))?;
        let expires_at =
            auth_core::provider::parse_rfc3339(expiry).map_err(|e| e.with_status(status))?;
        Ok(VerifiedUser::new(
            user_id,
            UserToken::new(token),
            expires_at,
        ))
    }

    /// Ask whether a user's session is still active (`GET /auth/token`).
    ///
    /// An expired session (401) or one the server does not know (404) is an error of kind
    /// [`ErrorKind::SessionExpired`]: the user must sign in again with a new code.
    ///
    /// ```no_run
    /// # async fn f(client: incend::Client, token: incend::UserToken) -> incend::Result<()> {
    /// match client.token_status(&token).await {
    ///     Ok(status) => println!("active until {:?}", status.expires_at),
    ///     Err(e) if e.is_session_expired() => println!("ask the user to sign in again"),
    ///     Err(e) => return Err(e),
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn token_status(&self, token: &UserToken) -> Result<TokenStatus> {
        let wire = token.wire_form();
        let session = &self.inner.session;
        let req = session
            .http()
            .request(Method::GET, self.url("/auth/token"))
            .header(AUTHORIZATION, sensitive_header("Bearer ", &wire)?);
        let resp = session
            .send_with_secrets(req, &[token.secret(), &wire])
            .await?;
        let status = resp.status().as_u16();
        let answer: TokenStatusWire = read_json(resp).await?;
        let wire_text = secrecy::ExposeSecret::expose_secret(&wire);
        let key = session.current();
        let key_text = key
            .as_ref()
            .map_or("", |l| l.tokens().access_token().expose());
        let lacks = |field: &str| {
            missing_with(
                field,
                status,
                answer.message.as_deref(),
                &[token.expose(), wire_text, key_text],
            )
        };
        let expiry = answer
            .token_expiry
            .as_deref()
            .ok_or_else(|| lacks("tokenExpiry"))?;
        Ok(TokenStatus {
            user_id: answer.user_id.clone().ok_or_else(|| lacks("userId"))?,
            expires_at: auth_core::provider::parse_rfc3339(expiry)
                .map_err(|e| e.with_status(status))?,
            message: answer.message.unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_checked_and_normalised() {
        assert_eq!(base_url(None).unwrap(), DEFAULT_BASE_URL);
        assert_eq!(
            base_url(Some("https://h.example/api/".into())).unwrap(),
            "https://h.example/api"
        );
        assert_eq!(
            base_url(Some(" http://127.0.0.1:9 ".into())).unwrap(),
            "http://127.0.0.1:9"
        );
        for bad in ["", "h.example", "ftp://h.example"] {
            assert!(base_url(Some(bad.into())).unwrap_err().is_config(), "{bad}");
        }
    }

    #[test]
    fn builder_debug_hides_the_key() {
        const KEY: &str = "k-secret-1";
        let b = Client::builder().with_api_key(KEY);
        assert!(!format!("{b:?}").contains(KEY));
        let c = b.build().unwrap();
        assert!(!format!("{c:?}").contains(KEY));
    }
}
