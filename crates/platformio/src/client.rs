//! The client: builder, service-user login (the token provider) and the client account calls.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use auth_core::{
    AccessToken, Capabilities, Error, ErrorKind, Expiry, Http, RateLimiter, Session, SessionStats,
    SharedClock, TokenProvider, TokenSet, async_trait, sensitive_header,
};
use reqwest::Method;
use reqwest::header::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use url::Url;
use uuid::Uuid;

use crate::error::{PlatformErrors, error_in_success};
use crate::models::{
    ApiTokenAnswer, ClientLogin, ClientToken, ClientTokenAnswer, ClientUpdate, NewClient,
};

/// The path of the service-user login.
pub(crate) const LOGIN_PATH: &str = "/v1/login/password";
pub(crate) const SIGNUP_PATH: &str = "/v1/client/signup";
pub(crate) const CLIENT_LOGIN_PATH: &str = "/v1/client/login";
/// The route template of update and delete, used as the rate-limit key.
pub(crate) const CLIENT_PATH: &str = "/v1/client/{user_id}";

/// The platform's documented limit: 300 calls per minute per endpoint.
pub const RATE_LIMIT_PER_MINUTE: u32 = 300;

/// Which of your two platform deployments to talk to.
///
/// ```
/// use platformio::Environment;
/// assert_eq!(Environment::Staging.base_url("acme")?.as_str(), "https://api.staging.acme.platform.io/");
/// assert_eq!(Environment::Production.base_url("acme")?.as_str(), "https://api.acme.platform.io/");
/// # Ok::<(), platformio::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Environment {
    /// `https://api.staging.<platform_id>.platform.io`.
    #[default]
    Staging,
    /// `https://api.<platform_id>.platform.io`.
    Production,
}

impl Environment {
    /// The base URL of this environment for `platform_id`.
    ///
    /// ```
    /// assert!(platformio::Environment::Production.base_url("bad id!").unwrap_err().is_config());
    /// ```
    pub fn base_url(self, platform_id: &str) -> Result<Url, Error> {
        let id = platform_id.trim();
        let valid = !id.is_empty()
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && !id.starts_with('-');
        if !valid {
            return Err(Error::new(
                ErrorKind::Config,
                "platform id is not a valid host label",
            ));
        }
        let host = match self {
            Environment::Staging => format!("https://api.staging.{id}.platform.io"),
            Environment::Production => format!("https://api.{id}.platform.io"),
        };
        parse_base_url(&host)
    }

    /// Parse `staging` or `production` (case-insensitive).
    ///
    /// ```
    /// assert_eq!(platformio::Environment::parse("Production")?, platformio::Environment::Production);
    /// # Ok::<(), platformio::Error>(())
    /// ```
    pub fn parse(name: &str) -> Result<Self, Error> {
        match name.trim().to_ascii_lowercase().as_str() {
            "staging" => Ok(Environment::Staging),
            "production" | "prod" => Ok(Environment::Production),
            _ => Err(Error::new(
                ErrorKind::Config,
                "environment must be staging or production",
            )),
        }
    }
}

fn parse_base_url(raw: &str) -> Result<Url, Error> {
    let url = Url::parse(raw.trim())
        .map_err(|e| Error::new(ErrorKind::Config, "base url is not a valid url").with_source(e))?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
        return Err(Error::new(
            ErrorKind::Config,
            "base url must be an http or https url",
        ));
    }
    Ok(url)
}

/// The service user's login details. Debug never shows the password.
///
/// ```
/// let creds = platformio::ServiceCredentials::new("service_user", "xxxyyy");
/// assert!(!format!("{creds:?}").contains("xxxyyy"));
/// assert_eq!(creds.username(), "service_user");
/// ```
#[derive(Clone)]
pub struct ServiceCredentials {
    username: String,
    password: SecretString,
}

impl ServiceCredentials {
    /// Credentials from a user name and password.
    ///
    /// ```
    /// let _ = platformio::ServiceCredentials::new("service_user", "xxxyyy");
    /// ```
    pub fn new(username: impl Into<String>, password: impl Into<SecretString>) -> Self {
        ServiceCredentials {
            username: username.into(),
            password: password.into(),
        }
    }

    /// The user name.
    ///
    /// ```
    /// assert_eq!(platformio::ServiceCredentials::new("u", "p").username(), "u");
    /// ```
    pub fn username(&self) -> &str {
        &self.username
    }
}

impl fmt::Debug for ServiceCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceCredentials")
            .field("username", &self.username)
            .field("password", &"[REDACTED]")
            .finish()
    }
}

/// Service-user login: `POST /v1/login/password`, expiry from the JWT's `exp`; no refresh
/// grant, so the session logs in again ahead of expiry.
#[derive(Debug)]
struct ServiceLogin {
    http: Http,
    login_url: Url,
    credentials: ServiceCredentials,
    limiter: Option<RateLimiter>,
}

#[async_trait]
impl TokenProvider for ServiceLogin {
    async fn sign_in(&self) -> Result<TokenSet, Error> {
        if let Some(l) = &self.limiter {
            l.acquire(&Method::POST, LOGIN_PATH).await?;
        }
        let body = serde_json::json!({
            "username": self.credentials.username,
            "password": self.credentials.password.expose_secret(),
        });
        let req = self
            .http
            .request(Method::POST, self.login_url.clone())
            .json(&body);
        let secrets = [&self.credentials.password];
        let resp = self.http.send(req, &secrets).await?;
        let answer: ApiTokenAnswer = read_answer(resp, &secrets).await?;
        let received = self.http.now();
        let expiry = Expiry::from_jwt(&answer.api_token, received)?;
        Ok(TokenSet::new(AccessToken::new(answer.api_token), expiry))
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::sign_in_only()
    }

    /// The platform answers a client's wrong email or password on `/v1/client/login` with
    /// 401 `errors.login.failed`, the same status as a refused API token. That one is not the
    /// API token's fault: it surfaces at once, with no service login and no retry.
    fn rejects_token(&self, error: &Error) -> bool {
        crate::ErrorExt::error_case(error) != Some(crate::ErrorCase::LoginFailed)
    }
}

/// Builds a [`Client`].
///
/// ```
/// use platformio::{Client, Environment, ServiceCredentials};
/// let client = Client::builder()
///     .with_platform_id("my_company_platform_id")
///     .with_environment(Environment::Staging)
///     .with_credentials(ServiceCredentials::new("service_user", "xxxyyy"))
///     .build()?;
/// assert_eq!(client.base_url().as_str(), "https://api.staging.my_company_platform_id.platform.io/");
/// # Ok::<(), platformio::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct ClientBuilder {
    base_url: Option<String>,
    platform_id: Option<String>,
    environment: Environment,
    credentials: Option<ServiceCredentials>,
    clock: Option<SharedClock>,
    http_client: Option<reqwest::Client>,
    limiter: Option<RateLimiter>,
}

impl ClientBuilder {
    /// Use this base URL (a sandbox, a proxy); it wins over the platform id.
    ///
    /// ```
    /// let b = platformio::Client::builder().with_base_url("http://127.0.0.1:8080");
    /// # drop(b);
    /// ```
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = Some(base_url.into());
        self
    }

    /// Build the base URL from the `platform_id` given at onboarding.
    ///
    /// ```
    /// let b = platformio::Client::builder().with_platform_id("acme");
    /// # drop(b);
    /// ```
    pub fn with_platform_id(mut self, platform_id: impl Into<String>) -> Self {
        self.platform_id = Some(platform_id.into());
        self
    }

    /// Staging (the default) or production.
    ///
    /// ```
    /// let b = platformio::Client::builder().with_environment(platformio::Environment::Production);
    /// # drop(b);
    /// ```
    pub fn with_environment(mut self, environment: impl Into<Environment>) -> Self {
        self.environment = environment.into();
        self
    }

    /// The service user that fetches API tokens.
    ///
    /// ```
    /// let b = platformio::Client::builder()
    ///     .with_credentials(platformio::ServiceCredentials::new("service_user", "xxxyyy"));
    /// # drop(b);
    /// ```
    pub fn with_credentials(mut self, credentials: impl Into<ServiceCredentials>) -> Self {
        self.credentials = Some(credentials.into());
        self
    }

    /// The clock that judges token expiry (tests share a `ManualClock` with the sandbox).
    ///
    /// ```
    /// let b = platformio::Client::builder().with_clock(auth_core::ManualClock::new());
    /// # drop(b);
    /// ```
    pub fn with_clock(mut self, clock: impl Into<SharedClock>) -> Self {
        self.clock = Some(clock.into());
        self
    }

    /// Send through your own `reqwest::Client` (proxies, timeouts).
    ///
    /// ```
    /// let b = platformio::Client::builder().with_http_client(reqwest::Client::new());
    /// # drop(b);
    /// ```
    pub fn with_http_client(mut self, client: impl Into<reqwest::Client>) -> Self {
        self.http_client = Some(client.into());
        self
    }

    /// Keep under the documented limit of 300 calls per minute per endpoint: calls over it
    /// wait for a slot. Off by default.
    ///
    /// ```
    /// let b = platformio::Client::builder().with_documented_rate_limit();
    /// # drop(b);
    /// ```
    pub fn with_documented_rate_limit(self) -> Self {
        self.with_rate_limiter(
            RateLimiter::new(RATE_LIMIT_PER_MINUTE, Duration::from_secs(60)).per_endpoint(),
        )
    }

    /// Use your own client-side limiter. A per-endpoint limiter counts each route once
    /// (`PUT /v1/client/{user_id}` for every user id together), as the platform does.
    ///
    /// ```
    /// use std::time::Duration;
    /// let limiter = auth_core::RateLimiter::new(100, Duration::from_secs(60)).per_endpoint();
    /// let b = platformio::Client::builder().with_rate_limiter(limiter);
    /// # drop(b);
    /// ```
    pub fn with_rate_limiter(mut self, limiter: impl Into<RateLimiter>) -> Self {
        self.limiter = Some(limiter.into());
        self
    }

    /// Build the client. Nothing is sent until the first call.
    ///
    /// ```
    /// let err = platformio::Client::builder().build().unwrap_err();
    /// assert!(err.is_config());
    /// ```
    pub fn build(self) -> Result<Client, Error> {
        let base_url = match (&self.base_url, &self.platform_id) {
            (Some(url), _) => parse_base_url(url)?,
            (None, Some(id)) => self.environment.base_url(id)?,
            (None, None) => {
                return Err(Error::new(
                    ErrorKind::Config,
                    "a base url or a platform id is required",
                ));
            }
        };
        auth_core::ensure_secure(&base_url)?;
        let credentials = self.credentials.ok_or_else(|| {
            Error::new(ErrorKind::Config, "service user credentials are required")
        })?;
        let mut http = match self.http_client {
            Some(c) => Http::with_client(c),
            None => Http::new()?,
        }
        .with_error_parser(PlatformErrors);
        if let Some(clock) = self.clock {
            http = http.with_clock(clock);
        }
        let login_url = join(&base_url, LOGIN_PATH)?;
        let provider = ServiceLogin {
            http: http.clone(),
            login_url,
            credentials,
            limiter: self.limiter.clone(),
        };
        let session = Session::new(provider, http.clone());
        Ok(Client {
            inner: Arc::new(Inner {
                base_url,
                http,
                session,
                limiter: self.limiter,
            }),
        })
    }
}

/// How much of a success body without a documented content is read to look for an error.
const MAX_EMPTY_ANSWER: usize = 64 * 1024;

/// The error a success answer's body reports, if it is the platform's error shape. The body
/// is scrubbed of `secrets` first (never the body that is decoded as the answer: a short
/// secret may be part of a token).
fn reported_error(
    status: u16,
    headers: &HeaderMap,
    bytes: &[u8],
    secrets: &[&SecretString],
) -> Option<Error> {
    let text = scrub_jwts(&auth_core::scrub(&String::from_utf8_lossy(bytes), secrets));
    error_in_success(status, headers, &text)
}

/// Replace every JWT-shaped word with `[REDACTED]`. On a success answer the session's own
/// scrubbing of the API token does not run, and the API token is always a JWT.
fn scrub_jwts(text: &str) -> String {
    let is_token_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '=');
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if word.matches('.').count() == 2 && auth_core::looks_like_jwt(word) {
            out.push_str("[REDACTED]");
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in text.chars() {
        if is_token_char(c) {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// Decode a success answer as `T`; a body in the platform's error shape is that error.
pub(crate) async fn read_answer<T: DeserializeOwned>(
    resp: reqwest::Response,
    secrets: &[&SecretString],
) -> Result<T, Error> {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = auth_core::read_bounded(resp, auth_core::DEFAULT_MAX_BODY).await?;
    auth_core::parse_json(&bytes).map_err(|e| {
        reported_error(status, &headers, &bytes, secrets).unwrap_or_else(|| e.with_status(status))
    })
}

/// A success answer documented without a body (update 200, delete 204): fine unless the
/// body is the platform's error shape.
async fn expect_no_error(resp: reqwest::Response, secrets: &[&SecretString]) -> Result<(), Error> {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = auth_core::read_bounded(resp, MAX_EMPTY_ANSWER).await?;
    match reported_error(status, &headers, &bytes, secrets) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn join(base: &Url, path: &str) -> Result<Url, Error> {
    let mut url = base.clone();
    let prefix = url.path().trim_end_matches('/').to_owned();
    url.set_path(&format!("{prefix}{path}"));
    Ok(url)
}

/// A client of the platform's REST API. Cheap to clone; clones share the cached API token.
///
/// The service user's API token is fetched on first use, cached, and fetched again when it
/// is expired or within the renewal margin of its JWT `exp` (never once per call).
///
/// ```no_run
/// use platformio::{Client, ClientName, NewClient, ServiceCredentials};
/// # async fn run() -> platformio::Result<()> {
/// let client = Client::builder()
///     .with_platform_id("my_company_platform_id")
///     .with_credentials(ServiceCredentials::new("service_user", "xxxyyy"))
///     .build()?;
/// let token = client
///     .sign_up(&NewClient::new(uuid::Uuid::new_v4(), "a@example.com", ClientName::new("A", "B"), "pw"))
///     .await?;
/// # drop(token); Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    base_url: Url,
    http: Http,
    session: Session,
    limiter: Option<RateLimiter>,
}

impl Client {
    /// Start building a client.
    ///
    /// ```
    /// let _ = platformio::Client::builder();
    /// ```
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client from the environment: `PLATFORMIO_BASE_URL` or `PLATFORMIO_PLATFORM_ID`
    /// (with `PLATFORMIO_ENVIRONMENT`, `staging` by default), `PLATFORMIO_USERNAME` and
    /// `PLATFORMIO_PASSWORD`.
    ///
    /// ```no_run
    /// let client = platformio::Client::from_env()?;
    /// # Ok::<(), platformio::Error>(())
    /// ```
    pub fn from_env() -> Result<Client, Error> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let mut b = Client::builder();
        if let Some(url) = var("PLATFORMIO_BASE_URL") {
            b = b.with_base_url(url);
        }
        if let Some(id) = var("PLATFORMIO_PLATFORM_ID") {
            b = b.with_platform_id(id);
        }
        if let Some(env) = var("PLATFORMIO_ENVIRONMENT") {
            b = b.with_environment(Environment::parse(&env)?);
        }
        let username = var("PLATFORMIO_USERNAME").ok_or_else(|| {
            Error::new(
                ErrorKind::Config,
                "environment variable PLATFORMIO_USERNAME is not set",
            )
        })?;
        let password = var("PLATFORMIO_PASSWORD").ok_or_else(|| {
            Error::new(
                ErrorKind::Config,
                "environment variable PLATFORMIO_PASSWORD is not set",
            )
        })?;
        b.with_credentials(ServiceCredentials::new(username, password))
            .build()
    }

    /// The base URL every path is joined to.
    ///
    /// ```
    /// let c = platformio::Client::builder()
    ///     .with_base_url("https://api.acme.platform.io")
    ///     .with_credentials(platformio::ServiceCredentials::new("u", "p"))
    ///     .build()?;
    /// assert_eq!(c.base_url().host_str(), Some("api.acme.platform.io"));
    /// # Ok::<(), platformio::Error>(())
    /// ```
    pub fn base_url(&self) -> &Url {
        &self.inner.base_url
    }

    /// What the token session did: logins, expiries, 401 recoveries, requests.
    ///
    /// ```
    /// let c = platformio::Client::builder()
    ///     .with_base_url("https://api.acme.platform.io")
    ///     .with_credentials(platformio::ServiceCredentials::new("u", "p"))
    ///     .build()?;
    /// assert_eq!(c.session_stats().sign_ins, 0);
    /// # Ok::<(), platformio::Error>(())
    /// ```
    pub fn session_stats(&self) -> SessionStats {
        self.inner.session.stats()
    }

    /// Make sure a valid API token is cached (logging the service user in if needed) and
    /// return when it expires.
    ///
    /// ```no_run
    /// # async fn run(client: platformio::Client) -> platformio::Result<()> {
    /// let expires_at = client.sign_in().await?;
    /// # Ok(()) }
    /// ```
    pub async fn sign_in(&self) -> Result<Option<std::time::SystemTime>, Error> {
        let lease = self.inner.session.token().await?;
        Ok(lease.tokens().expiry().expires_at())
    }

    /// Wait for a background token renewal (started inside the margin) to finish, if any.
    ///
    /// ```no_run
    /// # async fn run(client: platformio::Client) {
    /// client.settle().await;
    /// # }
    /// ```
    pub async fn settle(&self) {
        let _ = self.inner.session.settle().await;
    }

    /// Create a client account (`POST /v1/client/signup`) and return its client token.
    /// A user id that already exists fails with an error for which
    /// [`ErrorExt::is_user_id_taken`](crate::ErrorExt::is_user_id_taken) is true.
    ///
    /// ```no_run
    /// use platformio::{ClientName, ErrorExt, NewClient};
    /// # async fn run(client: platformio::Client) -> platformio::Result<()> {
    /// let new = NewClient::new(uuid::Uuid::new_v4(), "a@example.com", ClientName::new("A", "B"), "pw");
    /// match client.sign_up(&new).await {
    ///     Ok(token) => println!("created, token {token}"),
    ///     Err(e) if e.is_user_id_taken() => println!("already exists"),
    ///     Err(e) => return Err(e),
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn sign_up(&self, client: &NewClient) -> Result<ClientToken, Error> {
        let body = client.to_body()?;
        let req = self.post(SIGNUP_PATH).await?.json(&body);
        let resp = self
            .inner
            .session
            .send_with_secrets(req, &[client.password()])
            .await?;
        let answer: ClientTokenAnswer = read_answer(resp, &[client.password()]).await?;
        Ok(answer.client_token)
    }

    /// Log a client in (`POST /v1/client/login`, the page's "create a session"): the client
    /// token and the account's details.
    ///
    /// ```no_run
    /// # async fn run(client: platformio::Client) -> platformio::Result<()> {
    /// let login = client.login_client("a@example.com", "pw").await?;
    /// # drop(login); Ok(()) }
    /// ```
    pub async fn login_client(
        &self,
        email: impl Into<String>,
        password: impl Into<SecretString>,
    ) -> Result<ClientLogin, Error> {
        let email = email.into();
        let password = password.into();
        if email.trim().is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "email address is empty",
            ));
        }
        let body = serde_json::json!({"email": email, "password": password.expose_secret()});
        let req = self.post(CLIENT_LOGIN_PATH).await?.json(&body);
        let resp = self
            .inner
            .session
            .send_with_secrets(req, &[&password])
            .await?;
        read_answer(resp, &[&password]).await
    }

    /// Update a client account partially (`PUT /v1/client/{user_id}` with `Client-Token`).
    /// Fields not set in `update` are left unchanged; a cleared field is sent as `null`.
    ///
    /// ```no_run
    /// use platformio::ClientUpdate;
    /// # async fn run(client: platformio::Client, id: uuid::Uuid, token: platformio::ClientToken) -> platformio::Result<()> {
    /// client.update_client(id, &token, &ClientUpdate::new().last_name("King").clear_phone_number()).await?;
    /// # Ok(()) }
    /// ```
    pub async fn update_client(
        &self,
        user_id: Uuid,
        client_token: &ClientToken,
        update: &ClientUpdate,
    ) -> Result<(), Error> {
        let body = update.to_body()?;
        let req = self
            .client_request(Method::PUT, user_id, client_token)
            .await?
            .json(&body);
        let mut secrets = vec![client_token.as_secret()];
        secrets.extend(update.password_secret());
        let resp = self.inner.session.send_with_secrets(req, &secrets).await?;
        expect_no_error(resp, &secrets).await
    }

    /// Delete a client account (`DELETE /v1/client/{user_id}` with `Client-Token` and the
    /// reason); the platform answers 204.
    ///
    /// ```no_run
    /// # async fn run(client: platformio::Client, id: uuid::Uuid, token: platformio::ClientToken) -> platformio::Result<()> {
    /// client.delete_client(id, &token, "requested by the client").await?;
    /// # Ok(()) }
    /// ```
    pub async fn delete_client(
        &self,
        user_id: Uuid,
        client_token: &ClientToken,
        reason: impl Into<String>,
    ) -> Result<(), Error> {
        let body = serde_json::json!({"reason": reason.into()});
        let req = self
            .client_request(Method::DELETE, user_id, client_token)
            .await?
            .json(&body);
        let secrets = [client_token.as_secret()];
        let resp = self.inner.session.send_with_secrets(req, &secrets).await?;
        expect_no_error(resp, &secrets).await
    }

    async fn limit(&self, method: &Method, route: &str) -> Result<(), Error> {
        if let Some(l) = &self.inner.limiter {
            l.acquire(method, route).await?;
        }
        Ok(())
    }

    async fn post(&self, path: &str) -> Result<reqwest::RequestBuilder, Error> {
        self.limit(&Method::POST, path).await?;
        let url = join(&self.inner.base_url, path)?;
        Ok(self.inner.http.request(Method::POST, url))
    }

    async fn client_request(
        &self,
        method: Method,
        user_id: Uuid,
        client_token: &ClientToken,
    ) -> Result<reqwest::RequestBuilder, Error> {
        self.limit(&method, CLIENT_PATH).await?;
        let url = join(
            &self.inner.base_url,
            &format!("/v1/client/{}", user_id.hyphenated()),
        )?;
        let header = sensitive_header("", client_token.as_secret()).map_err(|_| {
            Error::new(
                ErrorKind::InvalidInput,
                "client token holds characters not allowed in a header",
            )
        })?;
        Ok(self
            .inner
            .http
            .request(method, url)
            .header("Client-Token", header))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "service-pw-secret-9";

    #[test]
    fn base_urls() {
        let b = |f: fn(ClientBuilder) -> ClientBuilder| {
            f(Client::builder().with_credentials(ServiceCredentials::new("u", SECRET))).build()
        };
        assert_eq!(
            b(|b| b
                .with_platform_id("acme")
                .with_environment(Environment::Production))
            .unwrap()
            .base_url()
            .as_str(),
            "https://api.acme.platform.io/"
        );
        assert_eq!(
            b(|b| b
                .with_platform_id("acme")
                .with_base_url("https://proxy.example.com/platform/"))
            .unwrap()
            .base_url()
            .as_str(),
            "https://proxy.example.com/platform/"
        );
        assert!(
            b(|b| b.with_base_url("http://api.example.com"))
                .unwrap_err()
                .is_insecure_transport()
        );
        assert!(b(|b| b.with_base_url("not a url")).unwrap_err().is_config());
        assert!(b(|b| b.with_platform_id("a.b")).unwrap_err().is_config());
        assert!(
            Client::builder()
                .with_platform_id("acme")
                .build()
                .unwrap_err()
                .is_config()
        );
    }

    #[test]
    fn jwt_shaped_words_are_scrubbed() {
        let jwt = "eyJhbGciOiJub25lIn0.eyJleHAiOjEwMH0.sig";
        assert_eq!(
            scrub_jwts(&format!(r#"{{"title":"bad token {jwt}, see a.b.c"}}"#)),
            r#"{"title":"bad token [REDACTED], see a.b.c"}"#
        );
        assert_eq!(scrub_jwts(jwt), "[REDACTED]");
        assert_eq!(scrub_jwts("plain text é"), "plain text é");
    }

    #[test]
    fn join_keeps_a_base_path() {
        let base = Url::parse("https://proxy.example.com/platform/").unwrap();
        assert_eq!(
            join(&base, LOGIN_PATH).unwrap().as_str(),
            "https://proxy.example.com/platform/v1/login/password"
        );
    }

    #[test]
    fn credentials_never_print() {
        let c = ServiceCredentials::new("u", SECRET);
        let client = Client::builder()
            .with_base_url("https://api.acme.platform.io")
            .with_credentials(c.clone())
            .build()
            .unwrap();
        for shown in [format!("{c:?}"), format!("{client:?}")] {
            assert!(!shown.contains(SECRET), "{shown}");
        }
    }
}
