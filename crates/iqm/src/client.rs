//! The client, its builder, the account calls (sign-up, login, refresh, logout, workspace
//! id) and authorized requests to the rest of IQM's API.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use auth_core::{
    AuthorizedRequest, Error, ErrorKind, Expiry, RateLimiter, Session, SessionStats, SharedClock,
    http::Http,
};
use reqwest::header::{AUTHORIZATION, HeaderName, HeaderValue};
use reqwest::{Method, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::auth::{
    Credentials, IqmAuth, LOGOUT_PATH, LoginFlow, OW_ID_PATH, OwId, RefreshFlow, SIGN_UP_PATH,
    authorize_headers, basic_header, parse_ow_id, parse_token_answer,
};
use crate::models::{SignUp, unwrap_data};

/// IQM's production API.
///
/// ```
/// assert_eq!(iqm::PRODUCTION_URL, "https://api.iqm.com");
/// ```
pub const PRODUCTION_URL: &str = "https://api.iqm.com";

/// IQM's documented quota: 20 requests per minute.
///
/// ```
/// assert_eq!(iqm::RATE_LIMIT.0, 20);
/// ```
pub const RATE_LIMIT: (u32, Duration) = (20, Duration::from_secs(60));

/// Which IQM deployment to talk to.
///
/// ```
/// assert_eq!(iqm::Environment::default().base_url(), "https://api.iqm.com");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Environment {
    /// `https://api.iqm.com`.
    #[default]
    Production,
}

impl Environment {
    /// The base URL of this environment.
    ///
    /// ```
    /// assert!(iqm::Environment::Production.base_url().starts_with("https://"));
    /// ```
    pub fn base_url(self) -> &'static str {
        match self {
            Environment::Production => PRODUCTION_URL,
        }
    }
}

/// Builds a [`Client`].
///
/// ```no_run
/// use iqm::{Client, Credentials};
/// let client = Client::builder()
///     .with_credentials(Credentials::new("client-id", "client-secret", "me@example.com", "pw"))
///     .with_rate_limit()
///     .build()?;
/// # Ok::<(), iqm::Error>(())
/// ```
#[derive(Default)]
#[must_use]
pub struct ClientBuilder {
    environment: Environment,
    base_url: Option<String>,
    credentials: Option<Credentials>,
    flow: LoginFlow,
    refresh_flow: RefreshFlow,
    clock: Option<SharedClock>,
    http_client: Option<reqwest::Client>,
    limiter: Option<RateLimiter>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("environment", &self.environment)
            .field("base_url", &self.base_url)
            .field("credentials", &self.credentials)
            .field("flow", &self.flow)
            .field("refresh_flow", &self.refresh_flow)
            .field("limiter", &self.limiter.is_some())
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// Talk to this environment (default production).
    ///
    /// ```
    /// let b = iqm::Client::builder().with_environment(iqm::Environment::Production);
    /// # drop(b);
    /// ```
    pub fn with_environment(mut self, environment: impl Into<Environment>) -> Self {
        self.environment = environment.into();
        self
    }

    /// A base URL instead of the environment's (a sandbox, a proxy).
    ///
    /// ```
    /// let b = iqm::Client::builder().with_base_url("http://127.0.0.1:8080");
    /// # drop(b);
    /// ```
    pub fn with_base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// Client id and secret plus the user's email and password.
    ///
    /// ```
    /// let b = iqm::Client::builder().with_credentials(iqm::Credentials::new("i", "s", "e", "p"));
    /// # drop(b);
    /// ```
    pub fn with_credentials(mut self, credentials: impl Into<Credentials>) -> Self {
        self.credentials = Some(credentials.into());
        self
    }

    /// Which login call to make (default the form-encoded OAuth token call).
    ///
    /// ```
    /// let b = iqm::Client::builder().with_login_flow(iqm::LoginFlow::json("app.example.com"));
    /// # drop(b);
    /// ```
    pub fn with_login_flow(mut self, flow: impl Into<LoginFlow>) -> Self {
        self.flow = flow.into();
        self
    }

    /// How the refresh call encodes its body (default form-encoded).
    ///
    /// ```
    /// let b = iqm::Client::builder().with_refresh_flow(iqm::RefreshFlow::Json);
    /// # drop(b);
    /// ```
    pub fn with_refresh_flow(mut self, flow: impl Into<RefreshFlow>) -> Self {
        self.refresh_flow = flow.into();
        self
    }

    /// The clock used for expiry decisions (tests inject a `ManualClock`).
    ///
    /// ```
    /// let b = iqm::Client::builder().with_clock(auth_core::ManualClock::new());
    /// # drop(b);
    /// ```
    pub fn with_clock(mut self, clock: impl Into<SharedClock>) -> Self {
        self.clock = Some(clock.into());
        self
    }

    /// Send through your own `reqwest::Client` (proxies, timeouts).
    ///
    /// ```
    /// let b = iqm::Client::builder().with_http_client(reqwest::Client::new());
    /// # drop(b);
    /// ```
    pub fn with_http_client(mut self, client: impl Into<reqwest::Client>) -> Self {
        self.http_client = Some(client.into());
        self
    }

    /// Keep under IQM's documented 20 requests per minute: callers over the quota wait for
    /// a slot. Off by default.
    ///
    /// ```
    /// let b = iqm::Client::builder().with_rate_limit();
    /// # drop(b);
    /// ```
    pub fn with_rate_limit(self) -> Self {
        let (max, per) = RATE_LIMIT;
        self.with_rate_limiter(RateLimiter::new(max, per))
    }

    /// Use your own client-side limiter (for example one shared by several clients, or one
    /// that fails instead of waiting).
    ///
    /// ```
    /// use std::time::Duration;
    /// let limiter = auth_core::RateLimiter::new(20, Duration::from_secs(60)).with_max_wait(Duration::ZERO);
    /// let b = iqm::Client::builder().with_rate_limiter(limiter);
    /// # drop(b);
    /// ```
    pub fn with_rate_limiter(mut self, limiter: impl Into<RateLimiter>) -> Self {
        self.limiter = Some(limiter.into());
        self
    }

    /// Read `IQM_BASE_URL`, `IQM_CLIENT_ID`, `IQM_CLIENT_SECRET`, `IQM_EMAIL`,
    /// `IQM_PASSWORD`, and `IQM_IAA_HOST` (which selects the JSON login call). Unset
    /// variables leave the builder as it was.
    ///
    /// ```no_run
    /// let client = iqm::Client::builder().with_env().build()?;
    /// # Ok::<(), iqm::Error>(())
    /// ```
    pub fn with_env(mut self) -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        if let Some(url) = var("IQM_BASE_URL") {
            self.base_url = Some(url);
        }
        if let (Some(id), Some(secret), Some(email), Some(password)) = (
            var("IQM_CLIENT_ID"),
            var("IQM_CLIENT_SECRET"),
            var("IQM_EMAIL"),
            var("IQM_PASSWORD"),
        ) {
            self.credentials = Some(Credentials::new(id, secret, email, password));
        }
        if let Some(host) = var("IQM_IAA_HOST") {
            self.flow = LoginFlow::json(host);
        }
        self
    }

    /// Build the client. Fails on missing credentials, a malformed base URL, or a plain
    /// `http://` URL to anything but loopback.
    ///
    /// ```
    /// assert!(iqm::Client::builder().build().unwrap_err().is_config());
    /// ```
    pub fn build(self) -> Result<Client, Error> {
        let credentials = self.credentials.ok_or_else(|| {
            Error::new(
                ErrorKind::Config,
                "no credentials: call with_credentials or set the environment",
            )
        })?;
        // Fail early on a client id or secret that cannot go into a header.
        basic_header(&credentials.client)?;
        if let LoginFlow::Json { iaa_host } = &self.flow
            && (HeaderValue::try_from(iaa_host.as_str()).is_err() || iaa_host.trim().is_empty())
        {
            return Err(Error::new(
                ErrorKind::Config,
                "x-iaa-host must be a non-empty header value",
            ));
        }
        let base_url = base_url(
            self.base_url
                .as_deref()
                .unwrap_or(self.environment.base_url()),
        )?;
        let client = match self.http_client {
            Some(c) => c,
            None => auth_core::http::default_client()?,
        };
        let mut http = Http::with_client(client).with_error_parser(crate::error::IqmErrors);
        if let Some(clock) = self.clock {
            http = http.with_clock(clock);
        }
        if let Some(limiter) = self.limiter {
            http = http.with_rate_limiter(limiter);
        }
        let provider = IqmAuth {
            credentials: credentials.clone(),
            flow: self.flow,
            refresh_flow: self.refresh_flow,
            http: http.clone(),
            base_url: base_url.clone(),
        };
        let session = Session::new(provider, http.clone());
        Ok(Client {
            inner: Arc::new(Inner {
                session,
                http,
                base_url,
                credentials,
            }),
        })
    }
}

fn base_url(raw: &str) -> Result<String, Error> {
    let parsed = url::Url::parse(raw.trim())
        .map_err(|e| Error::new(ErrorKind::Config, "base url is not a valid url").with_source(e))?;
    if parsed.cannot_be_a_base() || parsed.query().is_some() {
        return Err(Error::new(
            ErrorKind::Config,
            "base url must be a plain http(s) url without query",
        ));
    }
    auth_core::http::ensure_secure(&parsed)?;
    Ok(parsed.as_str().trim_end_matches('/').to_owned())
}

struct Inner {
    session: Session,
    http: Http,
    base_url: String,
    credentials: Credentials,
}

/// The IQM client: logs in with the client's Basic header, keeps the workspace id (`owId`)
/// and sends it as `X-IAA-OW-ID` beside the bearer token, refreshes ahead of expiry (a full
/// login when the refresh token is refused), one 401 retry. Cheap to clone.
///
/// ```no_run
/// # async fn run() -> Result<(), iqm::Error> {
/// use iqm::{Client, Credentials};
/// let client = Client::builder()
///     .with_credentials(Credentials::new("client-id", "client-secret", "me@example.com", "pw"))
///     .build()?;
/// let ow_id = client.login().await?;
/// let orgs: serde_json::Value = client.get_data("/api/v3/ua/user/allowed-organizations").await?;
/// client.logout().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base_url)
            .field("session", &self.inner.session)
            .finish()
    }
}

impl Client {
    /// A builder.
    ///
    /// ```
    /// let b = iqm::Client::builder();
    /// # drop(b);
    /// ```
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client from the environment (see [`ClientBuilder::with_env`]).
    ///
    /// ```no_run
    /// let client = iqm::Client::from_env()?;
    /// # Ok::<(), iqm::Error>(())
    /// ```
    pub fn from_env() -> Result<Client, Error> {
        ClientBuilder::default().with_env().build()
    }

    /// The base URL requests go to.
    ///
    /// ```no_run
    /// # fn f(client: iqm::Client) {
    /// assert_eq!(client.base_url(), "https://api.iqm.com");
    /// # }
    /// ```
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    fn url(&self, path: &str) -> Result<String, Error> {
        if path.starts_with('/') {
            Ok(format!("{}{path}", self.inner.base_url))
        } else {
            Err(Error::new(
                ErrorKind::InvalidInput,
                "request path must start with '/'",
            ))
        }
    }

    /// Log in now unless a valid token is held, and return the workspace id (`owId`).
    /// Calls log in on their own when needed; this surfaces bad credentials early.
    ///
    /// ```no_run
    /// # async fn run(client: iqm::Client) -> Result<(), iqm::Error> {
    /// let ow_id = client.login().await?;
    /// println!("workspace {ow_id}");
    /// # Ok(()) }
    /// ```
    pub async fn login(&self) -> Result<String, Error> {
        let lease = self.inner.session.token().await?;
        lease
            .tokens()
            .data::<OwId>()
            .map(|o| o.as_str().to_owned())
            .ok_or_else(|| Error::new(ErrorKind::BadResponse, "login answer had no owId"))
    }

    /// Exchange the refresh token for a new access token now (a full login if IQM refuses
    /// the refresh token), instead of waiting for the renewal margin.
    ///
    /// ```no_run
    /// # async fn run(client: iqm::Client) -> Result<(), iqm::Error> {
    /// client.login().await?;
    /// client.refresh().await?;
    /// # Ok(()) }
    /// ```
    pub async fn refresh(&self) -> Result<(), Error> {
        if let Some(lease) = self.inner.session.current() {
            self.inner.session.invalidate(lease.generation());
        }
        self.inner.session.token().await.map(drop)
    }

    /// Wait for a renewal running in the background (one started when a call found the
    /// token inside its renewal margin) and return its outcome; `Ok` when none runs.
    ///
    /// ```no_run
    /// # async fn run(client: iqm::Client) -> Result<(), iqm::Error> {
    /// client.settle().await?;
    /// # Ok(()) }
    /// ```
    pub async fn settle(&self) -> Result<(), Error> {
        match self.inner.session.settle().await {
            Some(Err(e)) => Err(e),
            _ => Ok(()),
        }
    }

    /// The workspace id held from the login, if logged in.
    ///
    /// ```no_run
    /// # fn f(client: iqm::Client) {
    /// println!("{:?}", client.workspace_id());
    /// # }
    /// ```
    pub fn workspace_id(&self) -> Option<String> {
        self.inner
            .session
            .current()
            .and_then(|l| l.tokens().data::<OwId>().map(|o| o.as_str().to_owned()))
    }

    /// Ask IQM for the workspace id: `GET /api/v3/ua/user/ow-id`.
    ///
    /// ```no_run
    /// # async fn run(client: iqm::Client) -> Result<(), iqm::Error> {
    /// let ow_id = client.fetch_workspace_id().await?;
    /// # Ok(()) }
    /// ```
    pub async fn fetch_workspace_id(&self) -> Result<String, Error> {
        let resp = self.request(Method::GET, OW_ID_PATH).send().await?;
        let status = resp.status().as_u16();
        let body: Value = auth_core::http::read_json(resp).await?;
        parse_ow_id(status, body)
    }

    /// Log out: `POST /api/v3/ua/logout` invalidates the access token, and the client
    /// forgets it (the next call logs in again). Returns IQM's message.
    ///
    /// ```no_run
    /// # async fn run(client: iqm::Client) -> Result<(), iqm::Error> {
    /// let message = client.logout().await?;
    /// # Ok(()) }
    /// ```
    pub async fn logout(&self) -> Result<String, Error> {
        let Some(lease) = self.inner.session.current() else {
            return Ok(String::new());
        };
        let mut req = auth_core::http::build(
            self.inner
                .http
                .request(Method::POST, self.url(LOGOUT_PATH)?),
        )?;
        // The token being logged out, never a renewed one: a 401 here means it is already
        // gone, which is what logging out wants.
        authorize_headers(lease.tokens(), req.headers_mut())?;
        self.inner.session.clear();
        let resp = self.inner.http.send_raw(req).await?;
        if resp.status().as_u16() == 401 {
            return Ok(String::new());
        }
        let resp = self
            .inner
            .http
            .check(resp, &[lease.tokens().access_token().as_secret()])
            .await?;
        let status = resp.status().as_u16();
        let body: Value = auth_core::http::read_json(resp)
            .await
            .unwrap_or(Value::Null);
        let message: Value = unwrap_data(status, body)?;
        Ok(match message {
            Value::String(s) => s,
            Value::Null => String::new(),
            other => other.to_string(),
        })
    }

    /// Sign up a user: `POST /api/v3/ua/sign-up` with the client's Basic header. Returns
    /// the new user's tokens (they carry no workspace id: log in with a client holding the
    /// new credentials to call the API). The client's own session is not changed.
    ///
    /// ```no_run
    /// # async fn run(client: iqm::Client) -> Result<(), iqm::Error> {
    /// let signed_up = client.sign_up("new-user@example.com", "their-password").await?;
    /// println!("{:?}", signed_up.tokens.expiry());
    /// # Ok(()) }
    /// ```
    pub async fn sign_up(&self, email: &str, password: &str) -> Result<SignUp, Error> {
        if email.trim().is_empty() || password.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "email and password are required",
            ));
        }
        let client = &self.inner.credentials.client;
        let basic = client.basic();
        let password = secrecy::SecretString::from(password.to_owned());
        let request = self
            .inner
            .http
            .request(Method::POST, self.url(SIGN_UP_PATH)?)
            .header(AUTHORIZATION, basic_header(client)?)
            .json(&serde_json::json!({
                "email": email,
                "password": secrecy::ExposeSecret::expose_secret(&password),
            }));
        let resp = self
            .inner
            .http
            .send(request, &[&password, client.secret(), basic])
            .await?;
        let status = resp.status().as_u16();
        let received_at = self.inner.http.now();
        let body: Value = auth_core::http::read_json(resp).await?;
        let answer = parse_token_answer(status, body, received_at)?;
        Ok(SignUp {
            tokens: answer.tokens,
            scope: answer.scope,
            token_type: answer.token_type,
        })
    }

    /// The expiry of the access token currently held, if one is.
    ///
    /// ```no_run
    /// # async fn run(client: iqm::Client) -> Result<(), iqm::Error> {
    /// client.login().await?;
    /// println!("{:?}", client.token_expiry().and_then(|e| e.expires_at()));
    /// # Ok(()) }
    /// ```
    pub fn token_expiry(&self) -> Option<Expiry> {
        self.inner.session.current().map(|l| *l.tokens().expiry())
    }

    /// What the session did: logins, refreshes, expiries, 401 recoveries, requests.
    ///
    /// ```no_run
    /// # fn f(client: iqm::Client) {
    /// let s = client.session_stats();
    /// println!("{} logins, {} refreshes", s.sign_ins, s.refreshes);
    /// # }
    /// ```
    pub fn session_stats(&self) -> SessionStats {
        self.inner.session.stats()
    }

    /// An authorized request to `path` (from the host root, e.g. `/api/v3/ua/user/ow-id`):
    /// bearer token and workspace header, one retry after a 401.
    ///
    /// ```no_run
    /// # async fn run(client: iqm::Client) -> Result<(), iqm::Error> {
    /// let v: serde_json::Value = client
    ///     .request(reqwest::Method::GET, "/api/v3/ua/user/allowed-organizations")
    ///     .query(&[("customerType", "advertiser")])
    ///     .send_data()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn request(&self, method: Method, path: &str) -> ApiRequest {
        let builder = self
            .url(path)
            .map(|url| self.inner.http.request(method, url));
        ApiRequest(AuthorizedRequest::new(self.inner.session.clone(), builder))
    }

    /// `GET` `path` and decode the whole JSON answer.
    ///
    /// ```no_run
    /// # async fn run(client: iqm::Client) -> Result<(), iqm::Error> {
    /// let v: serde_json::Value = client.get_json("/api/v3/ua/user/ow-id").await?;
    /// # Ok(()) }
    /// ```
    pub async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, Error> {
        self.request(Method::GET, path).send_json().await
    }

    /// `GET` `path` and decode the `data` of IQM's `{success, data}` answer (or the whole
    /// answer when it is not wrapped).
    ///
    /// ```no_run
    /// # async fn run(client: iqm::Client) -> Result<(), iqm::Error> {
    /// let ow_id: u64 = client.get_data("/api/v3/ua/user/ow-id").await?;
    /// # Ok(()) }
    /// ```
    pub async fn get_data<T: DeserializeOwned>(&self, path: &str) -> Result<T, Error> {
        self.request(Method::GET, path).send_data().await
    }

    /// `POST` `body` as JSON to `path` and decode the whole JSON answer.
    ///
    /// ```no_run
    /// # async fn run(client: iqm::Client) -> Result<(), iqm::Error> {
    /// let body = serde_json::json!({"name": "x"});
    /// let v: serde_json::Value = client.post_json("/api/v3/some/endpoint", &body).await?;
    /// # Ok(()) }
    /// ```
    pub async fn post_json<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, Error> {
        self.request(Method::POST, path)
            .json(body)
            .send_json()
            .await
    }

    /// `POST` `body` as JSON to `path` and decode the `data` of the answer.
    ///
    /// ```no_run
    /// # async fn run(client: iqm::Client) -> Result<(), iqm::Error> {
    /// let body = serde_json::json!({"name": "x"});
    /// let v: serde_json::Value = client.post_data("/api/v3/some/endpoint", &body).await?;
    /// # Ok(()) }
    /// ```
    pub async fn post_data<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, Error> {
        self.request(Method::POST, path)
            .json(body)
            .send_data()
            .await
    }
}

/// An authorized request under construction; see [`Client::request`].
///
/// A thin wrapper over auth-core's shared [`AuthorizedRequest`]: query, body, headers and
/// sending (with one retry after a 401) are auth-core's; IQM adds
/// [`send_data`](Self::send_data) for its `{success, data}` answers.
///
/// ```no_run
/// # async fn run(client: iqm::Client) -> Result<(), iqm::Error> {
/// let resp = client.request(reqwest::Method::GET, "/api/v3/ua/user/ow-id").send().await?;
/// # drop(resp); Ok(()) }
/// ```
#[must_use = "a request does nothing until it is sent"]
#[derive(Debug)]
pub struct ApiRequest(AuthorizedRequest);

impl ApiRequest {
    /// Add query parameters.
    ///
    /// ```no_run
    /// # fn f(client: iqm::Client) {
    /// let r = client.request(reqwest::Method::GET, "/api/v3/x").query(&[("pageNo", 1)]);
    /// # drop(r); }
    /// ```
    pub fn query<T: Serialize + ?Sized>(self, query: &T) -> Self {
        Self(self.0.query(query))
    }

    /// Send `body` as JSON.
    ///
    /// ```no_run
    /// # fn f(client: iqm::Client) {
    /// let r = client.request(reqwest::Method::POST, "/api/v3/x").json(&serde_json::json!({"a": 1}));
    /// # drop(r); }
    /// ```
    pub fn json<T: Serialize + ?Sized>(self, body: &T) -> Self {
        Self(self.0.json(body))
    }

    /// Send `body` form-encoded.
    ///
    /// ```no_run
    /// # fn f(client: iqm::Client) {
    /// let r = client.request(reqwest::Method::POST, "/api/v3/x").form(&[("a", "1")]);
    /// # drop(r); }
    /// ```
    pub fn form<T: Serialize + ?Sized>(self, body: &T) -> Self {
        Self(self.0.form(body))
    }

    /// Add a header (`Authorization` and `X-IAA-OW-ID` are always set by the client).
    ///
    /// ```no_run
    /// # fn f(client: iqm::Client) {
    /// use reqwest::header::{HeaderName, HeaderValue};
    /// let r = client.request(reqwest::Method::GET, "/api/v3/x")
    ///     .header(HeaderName::from_static("x-trace"), HeaderValue::from_static("1"));
    /// # drop(r); }
    /// ```
    pub fn header(self, name: HeaderName, value: HeaderValue) -> Self {
        Self(self.0.header(name, value))
    }

    /// The shared request underneath, for what this wrapper does not forward.
    ///
    /// ```no_run
    /// # fn f(client: iqm::Client) {
    /// let r = client
    ///     .request(reqwest::Method::GET, "/api/v3/x")
    ///     .into_inner()
    ///     .map_builder(|b| b.timeout(std::time::Duration::from_secs(60)));
    /// # drop(r); }
    /// ```
    pub fn into_inner(self) -> AuthorizedRequest {
        self.0
    }

    /// Send it: log in or refresh as needed, authorize, and on a 401 renew and retry once.
    /// Non-success answers become errors carrying an [`IqmError`](crate::IqmError) detail.
    ///
    /// ```no_run
    /// # async fn run(client: iqm::Client) -> Result<(), iqm::Error> {
    /// let resp = client.request(reqwest::Method::GET, "/api/v3/ua/user/ow-id").send().await?;
    /// # drop(resp); Ok(()) }
    /// ```
    pub async fn send(self) -> Result<Response, Error> {
        self.0.send().await
    }

    /// [`send`](Self::send) and decode the whole JSON answer.
    ///
    /// ```no_run
    /// # async fn run(client: iqm::Client) -> Result<(), iqm::Error> {
    /// let v: serde_json::Value = client.request(reqwest::Method::GET, "/api/v3/ua/user/ow-id").send_json().await?;
    /// # Ok(()) }
    /// ```
    pub async fn send_json<T: DeserializeOwned>(self) -> Result<T, Error> {
        self.0.send_json().await
    }

    /// [`send`](Self::send) and decode the `data` of IQM's `{success, data}` answer (the
    /// whole answer when it is not wrapped). `success: false` becomes a rejected error.
    ///
    /// ```no_run
    /// # async fn run(client: iqm::Client) -> Result<(), iqm::Error> {
    /// let ow_id: u64 = client.request(reqwest::Method::GET, "/api/v3/ua/user/ow-id").send_data().await?;
    /// # Ok(()) }
    /// ```
    pub async fn send_data<T: DeserializeOwned>(self) -> Result<T, Error> {
        let resp = self.0.send().await?;
        let status = resp.status().as_u16();
        let body: Value = auth_core::http::read_json(resp).await?;
        unwrap_data(status, body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Credentials {
        Credentials::new("id", "secret", "e@x.com", "pw")
    }

    #[test]
    fn builder_checks_urls_credentials_and_host() {
        assert!(Client::builder().build().unwrap_err().is_config());
        let e = Client::builder()
            .with_credentials(creds())
            .with_base_url("http://api.example.com")
            .build()
            .unwrap_err();
        assert!(e.is_insecure_transport());
        let e = Client::builder()
            .with_credentials(creds())
            .with_base_url("not a url")
            .build()
            .unwrap_err();
        assert!(e.is_config());
        let e = Client::builder()
            .with_credentials(creds())
            .with_login_flow(LoginFlow::json(""))
            .build()
            .unwrap_err();
        assert!(e.is_config());
        let c = Client::builder().with_credentials(creds()).build().unwrap();
        assert_eq!(c.base_url(), PRODUCTION_URL);
        let c = Client::builder()
            .with_credentials(creds())
            .with_base_url("http://127.0.0.1:9/prefix/")
            .build()
            .unwrap();
        assert_eq!(c.base_url(), "http://127.0.0.1:9/prefix");
    }

    #[tokio::test]
    async fn bad_input_is_typed() {
        let c = Client::builder().with_credentials(creds()).build().unwrap();
        let e = c.request(Method::GET, "no-slash").send().await.unwrap_err();
        assert!(e.is_invalid_input());
        assert!(c.sign_up("", "x").await.unwrap_err().is_invalid_input());
        // Logging out with nothing held sends nothing.
        assert_eq!(c.logout().await.unwrap(), "");
    }
}
