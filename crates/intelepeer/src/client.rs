//! The client, its builder, and authorized requests to either IntelePeer API.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use auth_core::{
    Error, ErrorKind, Expiry, Page, PageToken, Session, SessionStats, SharedClock,
    http::Http,
    provider::{AuthScheme, Paginator},
};
use futures::stream::BoxStream;
use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::auth::{
    Credentials, DEFAULT_TOKEN_LIFETIME, IntelePeerAuth, PORTAL_MY_PATH, SchemeRule,
};
use crate::error::IntelePeerErrors;
use crate::models::{Account, SendSms, SmsReceipt, parse_page};

/// The Customer Portal: the default place to authenticate, and home of the `/my/*` API.
pub const CUSTOMER_PORTAL_URL: &str = "https://customer.intelepeer.com";
/// The Atmosphere host, which serves the same authenticate call.
pub const ATMOSPHERE_URL: &str = "https://atmosphere.intelepeer.com";
/// The SMS / CPaaS API host.
pub const API_URL: &str = "https://api.intelepeer.com";

const AUTHENTICATE_PATH: &str = "/_rest/v4/authenticate";
const SMS_AUTHENTICATE_PATH: &str = "/_rest/v4/app/sms/authenticate/get_portal_auth_token";
const SEND_SMS_PATH: &str = "/_rest/v4/app/sms/send";
const ACCOUNTS_PATH: &str = "/_rest/v4/my/accounts";

/// Which IntelePeer host serves the portal (authenticate and `/my/*`).
///
/// ```
/// assert_eq!(intelepeer::Environment::default().portal_url(), "https://customer.intelepeer.com");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Environment {
    /// `https://customer.intelepeer.com`.
    #[default]
    CustomerPortal,
    /// `https://atmosphere.intelepeer.com`.
    Atmosphere,
}

impl Environment {
    /// The portal base URL of this environment.
    ///
    /// ```
    /// assert!(intelepeer::Environment::Atmosphere.portal_url().starts_with("https://atmosphere"));
    /// ```
    pub fn portal_url(self) -> &'static str {
        match self {
            Environment::CustomerPortal => CUSTOMER_PORTAL_URL,
            Environment::Atmosphere => ATMOSPHERE_URL,
        }
    }
}

/// Which API a request goes to: it decides the base URL. The `Authorization` scheme follows
/// from the URL: the raw token on the portal's `/_rest/v4/my/*`, `Bearer` everywhere else.
///
/// ```
/// use intelepeer::{Api, AuthScheme};
/// assert_eq!(Api::Portal.default_scheme(), AuthScheme::Raw);
/// assert_eq!(Api::Cpaas.default_scheme(), AuthScheme::Bearer);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Api {
    /// The Customer Portal (authenticate and the `/_rest/v4/my/*` API, which takes
    /// `Authorization: <token>`, the raw token).
    Portal,
    /// The SMS / CPaaS API on `api.intelepeer.com`: `Authorization: Bearer <token>`.
    Cpaas,
}

impl Api {
    /// The scheme IntelePeer documents for this API.
    ///
    /// ```
    /// assert_eq!(intelepeer::Api::Cpaas.default_scheme(), intelepeer::AuthScheme::Bearer);
    /// ```
    pub fn default_scheme(self) -> AuthScheme {
        match self {
            Api::Portal => AuthScheme::Raw,
            Api::Cpaas => AuthScheme::Bearer,
        }
    }
}

/// Where the username and password are exchanged for a token.
///
/// ```
/// assert_eq!(intelepeer::AuthEndpoint::default(), intelepeer::AuthEndpoint::Portal);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AuthEndpoint {
    /// `POST {portal}/_rest/v4/authenticate` (the documented call).
    #[default]
    Portal,
    /// `POST {api}/_rest/v4/app/sms/authenticate/get_portal_auth_token` (the SMS-era call
    /// of IntelePeer's code samples).
    SmsApi,
}

/// Builds a [`Client`].
///
/// ```no_run
/// use intelepeer::{Client, Credentials, Environment};
/// let client = Client::builder()
///     .with_environment(Environment::Atmosphere)
///     .with_credentials(Credentials::password("api-user", "password"))
///     .build()?;
/// # Ok::<(), intelepeer::Error>(())
/// ```
#[derive(Default)]
#[must_use]
pub struct ClientBuilder {
    environment: Environment,
    portal_url: Option<String>,
    api_url: Option<String>,
    credentials: Option<Credentials>,
    clock: Option<SharedClock>,
    http_client: Option<reqwest::Client>,
    token_lifetime: Option<Duration>,
    auth_endpoint: AuthEndpoint,
    portal_scheme: Option<AuthScheme>,
    cpaas_scheme: Option<AuthScheme>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("environment", &self.environment)
            .field("portal_url", &self.portal_url)
            .field("api_url", &self.api_url)
            .field("credentials", &self.credentials)
            .field("auth_endpoint", &self.auth_endpoint)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// Authenticate against (and call the `/my/*` API of) this environment's portal.
    ///
    /// ```
    /// let b = intelepeer::Client::builder().with_environment(intelepeer::Environment::Atmosphere);
    /// # drop(b);
    /// ```
    pub fn with_environment(mut self, environment: impl Into<Environment>) -> Self {
        self.environment = environment.into();
        self
    }

    /// One base URL for both APIs (a sandbox, a gateway or a proxy in front of IntelePeer).
    ///
    /// ```
    /// let b = intelepeer::Client::builder().with_base_url("http://127.0.0.1:8080");
    /// # drop(b);
    /// ```
    pub fn with_base_url(mut self, url: impl Into<String>) -> Self {
        let url = url.into();
        self.portal_url = Some(url.clone());
        self.api_url = Some(url);
        self
    }

    /// The portal base URL (authenticate and `/my/*`), overriding the environment.
    ///
    /// ```
    /// let b = intelepeer::Client::builder().with_portal_url("https://customer.intelepeer.com");
    /// # drop(b);
    /// ```
    pub fn with_portal_url(mut self, url: impl Into<String>) -> Self {
        self.portal_url = Some(url.into());
        self
    }

    /// The SMS / CPaaS API base URL (default [`API_URL`]).
    ///
    /// ```
    /// let b = intelepeer::Client::builder().with_api_url("https://api.intelepeer.com");
    /// # drop(b);
    /// ```
    pub fn with_api_url(mut self, url: impl Into<String>) -> Self {
        self.api_url = Some(url.into());
        self
    }

    /// The credentials: a username and password, or the static CPaaS token.
    ///
    /// ```
    /// let b = intelepeer::Client::builder().with_credentials(intelepeer::Credentials::static_token("t"));
    /// # drop(b);
    /// ```
    pub fn with_credentials(mut self, credentials: impl Into<Credentials>) -> Self {
        self.credentials = Some(credentials.into());
        self
    }

    /// The clock used for expiry decisions (tests inject a `ManualClock`).
    ///
    /// ```
    /// let b = intelepeer::Client::builder().with_clock(auth_core::ManualClock::new());
    /// # drop(b);
    /// ```
    pub fn with_clock(mut self, clock: impl Into<SharedClock>) -> Self {
        self.clock = Some(clock.into());
        self
    }

    /// Send through your own `reqwest::Client` (proxies, timeouts).
    ///
    /// ```
    /// let b = intelepeer::Client::builder().with_http_client(reqwest::Client::new());
    /// # drop(b);
    /// ```
    pub fn with_http_client(mut self, client: impl Into<reqwest::Client>) -> Self {
        self.http_client = Some(client.into());
        self
    }

    /// How long a token that is not a JWT with `exp` is trusted (default 24 hours).
    ///
    /// ```
    /// let b = intelepeer::Client::builder().with_token_lifetime(std::time::Duration::from_secs(3600));
    /// # drop(b);
    /// ```
    pub fn with_token_lifetime(mut self, lifetime: impl Into<Duration>) -> Self {
        self.token_lifetime = Some(lifetime.into());
        self
    }

    /// Where to authenticate (default [`AuthEndpoint::Portal`]).
    ///
    /// ```
    /// let b = intelepeer::Client::builder().with_auth_endpoint(intelepeer::AuthEndpoint::SmsApi);
    /// # drop(b);
    /// ```
    pub fn with_auth_endpoint(mut self, endpoint: impl Into<AuthEndpoint>) -> Self {
        self.auth_endpoint = endpoint.into();
        self
    }

    /// Override the `Authorization` scheme of one API (default [`Api::default_scheme`]):
    /// [`Api::Portal`]'s applies to the portal's `/_rest/v4/my/*` URLs, [`Api::Cpaas`]'s to
    /// every other authorized request.
    ///
    /// ```
    /// use intelepeer::{Api, AuthScheme};
    /// let b = intelepeer::Client::builder().with_auth_scheme(Api::Portal, AuthScheme::Bearer);
    /// # drop(b);
    /// ```
    pub fn with_auth_scheme(mut self, api: Api, scheme: impl Into<AuthScheme>) -> Self {
        let scheme = scheme.into();
        match api {
            Api::Portal => self.portal_scheme = Some(scheme),
            Api::Cpaas => self.cpaas_scheme = Some(scheme),
        }
        self
    }

    /// Read `INTELEPEER_BASE_URL` (portal host), `INTELEPEER_API_URL` (SMS host), and
    /// `INTELEPEER_USERNAME` + `INTELEPEER_PASSWORD` or else `INTELEPEER_TOKEN` (the static
    /// CPaaS token). Unset variables leave the builder as it was.
    ///
    /// ```no_run
    /// let client = intelepeer::Client::builder().with_env().build()?;
    /// # Ok::<(), intelepeer::Error>(())
    /// ```
    pub fn with_env(mut self) -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        if let Some(url) = var("INTELEPEER_BASE_URL") {
            self.portal_url = Some(url);
        }
        if let Some(url) = var("INTELEPEER_API_URL") {
            self.api_url = Some(url);
        }
        match (
            var("INTELEPEER_USERNAME"),
            var("INTELEPEER_PASSWORD"),
            var("INTELEPEER_TOKEN"),
        ) {
            (Some(user), Some(password), _) => {
                self.credentials = Some(Credentials::password(user, password));
            }
            (_, _, Some(token)) => self.credentials = Some(Credentials::static_token(token)),
            _ => {}
        }
        self
    }

    /// Build the client. Fails on a missing credential, a malformed base URL, or a plain
    /// `http://` URL to anything but loopback.
    ///
    /// ```
    /// let err = intelepeer::Client::builder().build().unwrap_err();
    /// assert!(err.is_config());
    /// ```
    pub fn build(self) -> Result<Client, Error> {
        let credentials = self.credentials.ok_or_else(|| {
            Error::new(
                ErrorKind::Config,
                "no credentials: call with_credentials or set the environment",
            )
        })?;
        let portal_url = base_url(
            self.portal_url
                .as_deref()
                .unwrap_or(self.environment.portal_url()),
        )?;
        let api_url = base_url(self.api_url.as_deref().unwrap_or(API_URL))?;
        let client = match self.http_client {
            Some(c) => c,
            None => auth_core::http::default_client()?,
        };
        let mut http = Http::with_client(client).with_error_parser(IntelePeerErrors);
        if let Some(clock) = self.clock {
            http = http.with_clock(clock);
        }
        let authenticate_url = match self.auth_endpoint {
            AuthEndpoint::Portal => format!("{portal_url}{AUTHENTICATE_PATH}"),
            AuthEndpoint::SmsApi => format!("{api_url}{SMS_AUTHENTICATE_PATH}"),
        };
        let lifetime = self.token_lifetime.unwrap_or(DEFAULT_TOKEN_LIFETIME);
        if lifetime.is_zero() {
            return Err(Error::new(
                ErrorKind::Config,
                "token lifetime must be positive",
            ));
        }
        let provider = IntelePeerAuth {
            credentials,
            http: http.clone(),
            authenticate_url,
            lifetime,
            schemes: SchemeRule {
                portal_prefix: format!("{portal_url}{PORTAL_MY_PATH}"),
                portal: self.portal_scheme.unwrap_or(Api::Portal.default_scheme()),
                other: self.cpaas_scheme.unwrap_or(Api::Cpaas.default_scheme()),
            },
        };
        let initial = provider.initial_tokens();
        let session = Session::new(provider, http.clone());
        if let Some(tokens) = initial {
            session.replace(tokens);
        }
        Ok(Client {
            inner: Arc::new(Inner {
                session,
                http,
                portal_url,
                api_url,
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
    portal_url: String,
    api_url: String,
}

/// The IntelePeer client: one token for both APIs, put on each request with that API's
/// scheme, renewed by authenticating again when it expires or is refused. Cheap to clone.
///
/// ```no_run
/// # async fn run() -> Result<(), intelepeer::Error> {
/// use intelepeer::{Client, Credentials, SendSms};
/// let client = Client::builder()
///     .with_credentials(Credentials::password("api-user", "password"))
///     .build()?;
/// let receipt = client.send_sms(&SendSms::new("+13035550100", "+13035550199", "hi")).await?;
/// println!("{:?}", receipt.message_id);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("portal_url", &self.inner.portal_url)
            .field("api_url", &self.inner.api_url)
            .field("session", &self.inner.session)
            .finish()
    }
}

impl Client {
    /// A builder.
    ///
    /// ```
    /// let b = intelepeer::Client::builder();
    /// # drop(b);
    /// ```
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client from the environment (see [`ClientBuilder::with_env`]).
    ///
    /// ```no_run
    /// let client = intelepeer::Client::from_env()?;
    /// # Ok::<(), intelepeer::Error>(())
    /// ```
    pub fn from_env() -> Result<Client, Error> {
        ClientBuilder::default().with_env().build()
    }

    /// Authenticate now, unless a valid token is already held (a static token always is).
    /// Calls authenticate on their own when needed; this surfaces bad credentials early.
    ///
    /// ```no_run
    /// # async fn run(client: intelepeer::Client) -> Result<(), intelepeer::Error> {
    /// client.authenticate().await?;
    /// # Ok(()) }
    /// ```
    pub async fn authenticate(&self) -> Result<(), Error> {
        self.inner.session.token().await.map(drop)
    }

    /// The expiry of the token currently held, if one is.
    ///
    /// ```no_run
    /// # async fn run(client: intelepeer::Client) -> Result<(), intelepeer::Error> {
    /// client.authenticate().await?;
    /// println!("{:?}", client.token_expiry().and_then(|e| e.expires_at()));
    /// # Ok(()) }
    /// ```
    pub fn token_expiry(&self) -> Option<Expiry> {
        self.inner.session.current().map(|l| *l.tokens().expiry())
    }

    /// What the session did: authentications, expiries, 401 recoveries, requests.
    ///
    /// ```no_run
    /// # fn f(client: intelepeer::Client) {
    /// println!("{} authentications", client.session_stats().sign_ins);
    /// # }
    /// ```
    pub fn session_stats(&self) -> SessionStats {
        self.inner.session.stats()
    }

    /// Wait for a re-authentication started in the background (inside the renewal margin the
    /// valid token keeps being served while it runs); its failure, if any, is not an error
    /// here: the next call tries again.
    ///
    /// ```no_run
    /// # async fn run(client: intelepeer::Client) {
    /// client.settle().await;
    /// # }
    /// ```
    pub async fn settle(&self) {
        let _ = self.inner.session.settle().await;
    }

    /// The base URL of `api`.
    ///
    /// ```no_run
    /// # fn f(client: intelepeer::Client) {
    /// assert_eq!(client.base_url(intelepeer::Api::Cpaas), "https://api.intelepeer.com");
    /// # }
    /// ```
    pub fn base_url(&self, api: Api) -> &str {
        match api {
            Api::Portal => &self.inner.portal_url,
            Api::Cpaas => &self.inner.api_url,
        }
    }

    /// An authorized request to `path` (from the host root, e.g. `/_rest/v4/my/accounts`)
    /// of `api`, sent with the scheme its URL calls for and the session's 401 handling.
    ///
    /// ```no_run
    /// # async fn run(client: intelepeer::Client) -> Result<(), intelepeer::Error> {
    /// use intelepeer::Api;
    /// let v: serde_json::Value = client
    ///     .request(Api::Portal, reqwest::Method::GET, "/_rest/v4/my/accounts")
    ///     .query(&[("page", "1"), ("pageSize", "100")])
    ///     .send_json()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn request(&self, api: Api, method: Method, path: &str) -> ApiRequest {
        let builder = if path.starts_with('/') {
            let url = format!("{}{path}", self.base_url(api));
            Ok(self.inner.http.request(method, url))
        } else {
            Err(Error::new(
                ErrorKind::InvalidInput,
                "request path must start with '/'",
            ))
        };
        ApiRequest::new(self.inner.session.clone(), builder)
    }

    /// `GET` `path` of `api` and decode the JSON answer.
    ///
    /// ```no_run
    /// # async fn run(client: intelepeer::Client) -> Result<(), intelepeer::Error> {
    /// let me: serde_json::Value = client.get_json(intelepeer::Api::Portal, "/_rest/v4/my/profile").await?;
    /// # Ok(()) }
    /// ```
    pub async fn get_json<T: DeserializeOwned>(&self, api: Api, path: &str) -> Result<T, Error> {
        self.request(api, Method::GET, path).send_json().await
    }

    /// `POST` `body` as JSON to `path` of `api` and decode the JSON answer.
    ///
    /// ```no_run
    /// # async fn run(client: intelepeer::Client) -> Result<(), intelepeer::Error> {
    /// let body = serde_json::json!({"from": "+13035550100", "to": "+13035550199", "text": "hi"});
    /// let v: serde_json::Value = client.post_json(intelepeer::Api::Cpaas, "/_rest/v4/app/sms/send", &body).await?;
    /// # Ok(()) }
    /// ```
    pub async fn post_json<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        api: Api,
        path: &str,
        body: &B,
    ) -> Result<T, Error> {
        self.request(api, Method::POST, path)
            .json(body)
            .send_json()
            .await
    }

    /// Send an SMS: `POST /_rest/v4/app/sms/send` on the SMS API, `Bearer` token.
    ///
    /// ```no_run
    /// # async fn run(client: intelepeer::Client) -> Result<(), intelepeer::Error> {
    /// let sms = intelepeer::SendSms::new("+13035550100", "+13035550199", "hello");
    /// let receipt = client.send_sms(&sms).await?;
    /// # Ok(()) }
    /// ```
    pub async fn send_sms(&self, sms: &SendSms) -> Result<SmsReceipt, Error> {
        sms.validate()?;
        self.post_json(Api::Cpaas, SEND_SMS_PATH, sms).await
    }

    /// One page of the portal's accounts: `GET /_rest/v4/my/accounts?page=..&pageSize=..`
    /// with the raw token. `page` is 1-based.
    ///
    /// ```no_run
    /// # async fn run(client: intelepeer::Client) -> Result<(), intelepeer::Error> {
    /// let page = client.accounts_page(1, 100).await?;
    /// println!("{} accounts, more: {}", page.items.len(), page.next.is_some());
    /// # Ok(()) }
    /// ```
    pub async fn accounts_page(&self, page: u64, page_size: u64) -> Result<Page<Account>, Error> {
        if page == 0 || page_size == 0 {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "page and page size start at 1",
            ));
        }
        let body: serde_json::Value = self
            .request(Api::Portal, Method::GET, ACCOUNTS_PATH)
            .query(&[("page", page), ("pageSize", page_size)])
            .send_json()
            .await?;
        parse_page(body, page, page_size)
    }

    /// Every page of the accounts, as a stream (the next page is fetched while you work on
    /// the current one).
    ///
    /// ```no_run
    /// # async fn run(client: intelepeer::Client) -> Result<(), intelepeer::Error> {
    /// use futures::TryStreamExt;
    /// let pages: Vec<_> = client.account_pages(100).try_collect().await?;
    /// # Ok(()) }
    /// ```
    pub fn account_pages(
        &self,
        page_size: u64,
    ) -> BoxStream<'static, Result<Page<Account>, Error>> {
        self.account_paginator(page_size).pages()
    }

    /// Every account, page after page, as a stream.
    ///
    /// ```no_run
    /// # async fn run(client: intelepeer::Client) -> Result<(), intelepeer::Error> {
    /// use futures::TryStreamExt;
    /// let accounts: Vec<intelepeer::Account> = client.accounts(100).try_collect().await?;
    /// # Ok(()) }
    /// ```
    pub fn accounts(&self, page_size: u64) -> BoxStream<'static, Result<Account, Error>> {
        self.account_paginator(page_size).items()
    }

    fn account_paginator(
        &self,
        page_size: u64,
    ) -> Paginator<
        impl FnMut(PageToken) -> futures::future::BoxFuture<'static, Result<Page<Account>, Error>>
        + Send
        + 'static,
    > {
        let client = self.clone();
        Paginator::new(PageToken::Number(1), move |token| {
            let client = client.clone();
            let fut: futures::future::BoxFuture<'static, Result<Page<Account>, Error>> =
                Box::pin(async move {
                    match token {
                        PageToken::Number(n) => client.accounts_page(n, page_size).await,
                        _ => Err(Error::new(
                            ErrorKind::BadResponse,
                            "accounts are paged by number",
                        )),
                    }
                });
            fut
        })
    }
}

/// An authorized request under construction; see [`Client::request`]. The base URL was
/// picked from its [`Api`] and the token goes on with that API's scheme; the rest (query,
/// body, headers, sending with one retry after a 401) is auth-core's shared
/// [`AuthorizedRequest`](auth_core::AuthorizedRequest).
///
/// ```no_run
/// # async fn run(client: intelepeer::Client) -> Result<(), intelepeer::Error> {
/// let resp = client
///     .request(intelepeer::Api::Cpaas, reqwest::Method::GET, "/_rest/v4/app/sms/status")
///     .query(&[("id", "42")])
///     .send()
///     .await?;
/// # drop(resp); Ok(()) }
/// ```
pub type ApiRequest = auth_core::AuthorizedRequest;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_checks_urls_and_credentials() {
        assert!(Client::builder().build().unwrap_err().is_config());
        let creds = Credentials::password("u", "p");
        let e = Client::builder()
            .with_credentials(creds.clone())
            .with_base_url("http://api.example.com")
            .build()
            .unwrap_err();
        assert!(e.is_insecure_transport());
        let e = Client::builder()
            .with_credentials(creds.clone())
            .with_base_url("not a url")
            .build()
            .unwrap_err();
        assert!(e.is_config());
        let c = Client::builder()
            .with_credentials(creds.clone())
            .with_environment(Environment::Atmosphere)
            .build()
            .unwrap();
        assert_eq!(c.base_url(Api::Portal), ATMOSPHERE_URL);
        assert_eq!(c.base_url(Api::Cpaas), API_URL);
        let c = Client::builder()
            .with_credentials(creds)
            .with_base_url("http://127.0.0.1:9/prefix/")
            .build()
            .unwrap();
        assert_eq!(c.base_url(Api::Portal), "http://127.0.0.1:9/prefix");
        assert_eq!(c.base_url(Api::Cpaas), "http://127.0.0.1:9/prefix");
    }

    #[tokio::test]
    async fn bad_paths_and_pages_are_invalid_input() {
        let c = Client::builder()
            .with_credentials(Credentials::static_token("t"))
            .build()
            .unwrap();
        let e = c
            .request(Api::Portal, Method::GET, "no-slash")
            .send()
            .await
            .unwrap_err();
        assert!(e.is_invalid_input());
        assert!(c.accounts_page(0, 10).await.unwrap_err().is_invalid_input());
        assert!(c.accounts_page(1, 0).await.unwrap_err().is_invalid_input());
    }
}
