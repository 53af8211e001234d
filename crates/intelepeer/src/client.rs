//! The client and its builder on the auth-core kit, and IntelePeer's operations on its two
//! hosts: the portal (authenticate and `/_rest/v4/my/*`, the kit's base URL) and the SMS /
//! CPaaS API (its own URL).

use std::fmt;
use std::ops::Deref;
use std::time::Duration;

use auth_core::client::{Config, Core, Env, VendorBuilder, VendorInfo, parse_base_url};
use auth_core::provider::{AuthScheme, Paginator};
use auth_core::{AuthorizedRequest, Error, ErrorKind, Page, PageToken};
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;

use crate::auth::{Credentials, DEFAULT_TOKEN_LIFETIME, IntelePeerAuth, schemes};
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

/// Which IntelePeer host serves the portal (authenticate and `/my/*`): its URL is the base
/// URL when none is given.
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
    pub fn default_scheme(self) -> AuthScheme {
        match self {
            Api::Portal => AuthScheme::Raw,
            Api::Cpaas => AuthScheme::Bearer,
        }
    }
}

/// Where the username and password are exchanged for a token.
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

/// Builds a [`Client`]: the kit's setters (`with_base_url` for the portal host,
/// `with_credentials`, `with_clock`, `with_http_client`, `with_env`, ...) plus IntelePeer's
/// own options below.
///
/// ```
/// use intelepeer::{API_URL, ATMOSPHERE_URL, Client, Credentials, Environment};
/// let client = Client::builder()
///     .with_environment(Environment::Atmosphere)
///     .with_credentials(Credentials::password("api-user", "password"))
///     .build()?;
/// // The environment picks the portal; the SMS API keeps its own host.
/// assert_eq!(client.base_url().as_str(), format!("{ATMOSPHERE_URL}/"));
/// assert_eq!(client.api_url().as_str(), format!("{API_URL}/"));
///
/// // Each host is checked: plain http is refused off loopback, the API URL too.
/// let refused = Client::builder()
///     .with_api_url("http://api.example.com")
///     .with_credentials(Credentials::static_token("t"))
///     .build();
/// assert!(refused.unwrap_err().is_insecure_transport());
/// # Ok::<(), intelepeer::Error>(())
/// ```
#[derive(Debug, Default)]
#[must_use]
pub struct ClientBuilder {
    kit: Config<Credentials>,
    environment: Environment,
    api_url: Option<String>,
    token_lifetime: Option<Duration>,
    auth_endpoint: AuthEndpoint,
    portal_scheme: Option<AuthScheme>,
    cpaas_scheme: Option<AuthScheme>,
}

impl VendorBuilder for ClientBuilder {
    type Credentials = Credentials;
    const VENDOR: VendorInfo = VendorInfo {
        name: "intelepeer",
        env_prefix: "INTELEPEER",
        default_base_url: CUSTOMER_PORTAL_URL,
    };

    fn kit(&mut self) -> &mut Config<Credentials> {
        &mut self.kit
    }

    /// `INTELEPEER_API_URL` (SMS host), and `INTELEPEER_USERNAME` + `INTELEPEER_PASSWORD`
    /// or else `INTELEPEER_TOKEN` (the static CPaaS token); the kit reads
    /// `INTELEPEER_BASE_URL` (portal host).
    fn read_env(mut self, env: &Env) -> Self {
        if let Some(url) = env.var("API_URL") {
            self.api_url = Some(url);
        }
        match (env.var("USERNAME"), env.var("PASSWORD"), env.var("TOKEN")) {
            (Some(user), Some(password), _) => {
                self.with_credentials(Credentials::password(user, password))
            }
            (_, _, Some(token)) => self.with_credentials(Credentials::static_token(token)),
            _ => self,
        }
    }
}
auth_core::client_builder!(ClientBuilder);

impl ClientBuilder {
    /// Authenticate against (and call the `/my/*` API of) the Atmosphere host instead of
    /// the Customer Portal; a base URL given with `with_base_url` still wins.
    pub fn with_environment(mut self, environment: impl Into<Environment>) -> Self {
        self.environment = environment.into();
        self
    }

    /// The SMS / CPaaS API base URL (default [`API_URL`]): point it at a sandbox, or a
    /// gateway in front of IntelePeer, together with `with_base_url` for the portal.
    pub fn with_api_url(mut self, url: impl Into<String>) -> Self {
        self.api_url = Some(url.into());
        self
    }

    /// How long a token that is not a JWT with `exp` is trusted (default 24 hours, the
    /// documented lifetime): shorten it if your account's tokens are cut earlier.
    pub fn with_token_lifetime(mut self, lifetime: impl Into<Duration>) -> Self {
        self.token_lifetime = Some(lifetime.into());
        self
    }

    /// Authenticate at the SMS-era endpoint of IntelePeer's code samples
    /// ([`AuthEndpoint::SmsApi`]) instead of the portal's documented one.
    pub fn with_auth_endpoint(mut self, endpoint: impl Into<AuthEndpoint>) -> Self {
        self.auth_endpoint = endpoint.into();
        self
    }

    /// Override the `Authorization` scheme of one API (default [`Api::default_scheme`]),
    /// for a gateway that expects another form: [`Api::Portal`]'s applies to the portal's
    /// `/_rest/v4/my/*` URLs, [`Api::Cpaas`]'s to every other authorized request.
    pub fn with_auth_scheme(mut self, api: Api, scheme: impl Into<AuthScheme>) -> Self {
        let scheme = scheme.into();
        match api {
            Api::Portal => self.portal_scheme = Some(scheme),
            Api::Cpaas => self.cpaas_scheme = Some(scheme),
        }
        self
    }

    /// Build the client. Fails on missing credentials, a malformed portal or API URL, a
    /// plain `http://` URL to anything but loopback, or a zero token lifetime.
    pub fn build(self) -> Result<Client, Error> {
        // The environment's portal is the base URL when none was given.
        // KIT-NEED: a default-base-URL (environment) setting on `Config`, so a vendor with
        // environments need not pass `finish` its own `VendorInfo`.
        let vendor = VendorInfo {
            default_base_url: self.environment.portal_url(),
            ..Self::VENDOR
        };
        let parts = self.kit.finish(&vendor, IntelePeerErrors)?;
        let api_url = parse_base_url(self.api_url.as_deref().unwrap_or(API_URL))?;
        let lifetime = self.token_lifetime.unwrap_or(DEFAULT_TOKEN_LIFETIME);
        if lifetime.is_zero() {
            return Err(Error::new(
                ErrorKind::Config,
                "token lifetime must be positive",
            ));
        }
        let authenticate_url = match self.auth_endpoint {
            AuthEndpoint::Portal => under(&parts.base_url, AUTHENTICATE_PATH)?,
            AuthEndpoint::SmsApi => under(&api_url, SMS_AUTHENTICATE_PATH)?,
        };
        let provider = IntelePeerAuth {
            credentials: parts.credentials.clone(),
            http: parts.http.clone(),
            authenticate_url,
            lifetime,
            schemes: schemes(
                &parts.base_url,
                self.portal_scheme.unwrap_or(Api::Portal.default_scheme()),
                self.cpaas_scheme.unwrap_or(Api::Cpaas.default_scheme()),
            ),
        };
        // The session never signs in for a credential that cannot be renewed: a static
        // token is installed up front.
        let initial = provider.initial_tokens();
        let session = parts.session(provider);
        if let Some(tokens) = initial {
            session.replace(tokens);
        }
        Ok(Client {
            api: Core::new(session.clone(), api_url),
            portal: Core::new(session, parts.base_url),
        })
    }
}

/// `path` under `base`, as the kit joins a request path to a base URL.
fn under(base: &Url, path: &str) -> Result<Url, Error> {
    let joined = format!("{}{path}", base.as_str().trim_end_matches('/'));
    Url::parse(&joined)
        .map_err(|e| Error::new(ErrorKind::Config, "base url cannot take a path").with_source(e))
}

/// The IntelePeer client: one token for both APIs, put on each request with that API's
/// scheme, renewed by authenticating again when it expires or is refused. Cheap to clone.
///
/// It dereferences to the kit's [`Core`] for the portal (its base URL, session stats,
/// `settle`, `token_expiry`); [`request`](Self::request) reaches either API.
///
/// ```
/// # #[cfg(feature = "sandbox")]
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), intelepeer::Error> {
/// use intelepeer::{Api, sandbox::Sandbox};
/// let sandbox = Sandbox::builder().accounts(3).start().await;
/// let client = sandbox.client_builder().build()?;
/// // Any endpoint of either API, with its scheme and the session's 401 handling.
/// let v: serde_json::Value = client
///     .request(Api::Portal, reqwest::Method::GET, "/_rest/v4/my/accounts")
///     .query(&[("page", "1"), ("pageSize", "100")])
///     .send_json()
///     .await?;
/// assert_eq!(v["accounts"].as_array().map(Vec::len), Some(3));
/// assert_eq!(client.session_stats().sign_ins, 1);
/// # Ok(()) }
/// # #[cfg(not(feature = "sandbox"))]
/// # fn main() {}
/// ```
#[derive(Clone)]
pub struct Client {
    portal: Core,
    api: Core,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("portal", &self.portal)
            .field("api_url", &self.api.base_url().as_str())
            .finish()
    }
}

impl Deref for Client {
    type Target = Core;
    fn deref(&self) -> &Core {
        &self.portal
    }
}

impl Client {
    /// A builder.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client from the environment (see [`ClientBuilder::with_env`]).
    pub fn from_env() -> Result<Client, Error> {
        Self::builder().with_env().build()
    }

    /// The SMS / CPaaS API's base URL (the portal's is [`Core::base_url`]).
    pub fn api_url(&self) -> &Url {
        self.api.base_url()
    }

    /// Authenticate now, unless a valid token is already held (a static token always is).
    /// Calls authenticate on their own when needed; this surfaces bad credentials early.
    pub async fn authenticate(&self) -> Result<(), Error> {
        self.session().token().await.map(drop)
    }

    /// An authorized request to `path` (from the host root, e.g. `/_rest/v4/my/accounts`)
    /// of `api`, sent with the scheme its URL calls for and the session's 401 handling.
    pub fn request(&self, api: Api, method: Method, path: &str) -> AuthorizedRequest {
        match api {
            Api::Portal => self.portal.request(method, path),
            Api::Cpaas => self.api.request(method, path),
        }
    }

    /// `GET` `path` of `api` and decode the JSON answer.
    pub fn get_json<'a, T: DeserializeOwned>(
        &'a self,
        api: Api,
        path: &'a str,
    ) -> impl Future<Output = Result<T, Error>> + use<'a, T> {
        // On the client's session as it is (a request from `request` holds a clone of it).
        match api {
            Api::Portal => self.portal.get_json(path),
            Api::Cpaas => self.api.get_json(path),
        }
    }

    /// `POST` `body` as JSON to `path` of `api` and decode the JSON answer.
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

    /// Send an SMS: `POST /_rest/v4/app/sms/send` on the SMS API, `Bearer` token. An empty
    /// `from`, `to` or `text` is refused before sending.
    pub async fn send_sms(&self, sms: &SendSms) -> Result<SmsReceipt, Error> {
        sms.validate()?;
        self.post_json(Api::Cpaas, SEND_SMS_PATH, sms).await
    }

    /// One page of the portal's accounts: `GET /_rest/v4/my/accounts?page=..&pageSize=..`
    /// with the raw token. `page` is 1-based.
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
    pub fn account_pages(
        &self,
        page_size: u64,
    ) -> BoxStream<'static, Result<Page<Account>, Error>> {
        self.account_paginator(page_size).pages()
    }

    /// Every account, page after page, as a stream.
    pub fn accounts(&self, page_size: u64) -> BoxStream<'static, Result<Account, Error>> {
        self.account_paginator(page_size).items()
    }

    fn account_paginator(
        &self,
        page_size: u64,
    ) -> Paginator<
        impl FnMut(PageToken) -> BoxFuture<'static, Result<Page<Account>, Error>> + Send + 'static,
    > {
        let client = self.clone();
        Paginator::new(PageToken::Number(1), move |token| {
            let client = client.clone();
            let fut: BoxFuture<'static, Result<Page<Account>, Error>> = Box::pin(async move {
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
        assert_eq!(c.url("/x").unwrap().as_str(), format!("{ATMOSPHERE_URL}/x"));
        assert_eq!(c.api_url().as_str(), format!("{API_URL}/"));
        let c = Client::builder()
            .with_credentials(creds)
            .with_base_url("http://127.0.0.1:9/prefix/")
            .with_api_url("http://127.0.0.1:9/prefix/")
            .build()
            .unwrap();
        assert_eq!(c.url("/x").unwrap().as_str(), "http://127.0.0.1:9/prefix/x");
        assert_eq!(c.api_url().as_str(), "http://127.0.0.1:9/prefix/");
    }

    #[test]
    fn an_environment_gives_way_to_a_base_url_and_a_zero_lifetime_is_refused() {
        let c = Client::builder()
            .with_base_url("https://gateway.example")
            .with_environment(Environment::Atmosphere)
            .with_credentials(Credentials::static_token("t"))
            .build()
            .unwrap();
        assert_eq!(c.base_url().as_str(), "https://gateway.example/");
        let e = Client::builder()
            .with_credentials(Credentials::static_token("t"))
            .with_token_lifetime(Duration::ZERO)
            .build()
            .unwrap_err();
        assert!(e.is_config());
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
