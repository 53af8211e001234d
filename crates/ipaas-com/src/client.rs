//! The client: its builder on the auth-core kit, where requests go (environments, the
//! per-API base paths, `{base_url}/{api}/{version}/{endpoint}`), the SSO operations (login,
//! refresh, companies, change company), a generic authorized request that reaches every
//! iPaaS.com endpoint, and `X-Pagination` paging of any list.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::{Arc, Mutex};

use auth_core::client::{Config, Core, Env, VendorBuilder, VendorInfo};
use auth_core::reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use auth_core::reqwest::{Method, Response};
use auth_core::{
    AuthorizedRequest, Error, ErrorKind, Page, PageToken, Result,
    http::read_json,
    provider::{AuthScheme, PageInfo, Paginator, TokenHeader, TokenProvider},
};
use futures::stream::BoxStream;
use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;

use crate::auth::{Credentials, IpaasProvider, RefreshForm};
use crate::error::IpaasErrors;
use crate::models::{Company, UserId, UserProfile};

/// The API version used when a request names none.
pub(crate) const DEFAULT_VERSION: &str = "v2";

/// The response header carrying page metadata.
const PAGINATION_HEADER: &str = "X-Pagination";
/// The media type every call asks for.
const JSON: &str = "application/json";

/// An iPaaS.com environment: production (`https://api.ipaas.com`), staging
/// (`https://stagingapi.ipaas.com`), development (`https://devapi.ipaas.com`), or any other
/// base URL.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Environment {
    /// `https://api.ipaas.com`.
    #[default]
    Production,
    /// `https://stagingapi.ipaas.com`.
    Staging,
    /// `https://devapi.ipaas.com`.
    Development,
    /// Any other base URL (a proxy, a sandbox).
    Custom(String),
}

impl Environment {
    /// The environment's base URL.
    pub fn base_url(&self) -> &str {
        match self {
            Environment::Custom(url) => url,
            named => named.named_url().unwrap_or_default(),
        }
    }

    /// The URL of a named environment (`None` for `Custom`).
    fn named_url(&self) -> Option<&'static str> {
        match self {
            Environment::Production => Some("https://api.ipaas.com"),
            Environment::Staging => Some("https://stagingapi.ipaas.com"),
            Environment::Development => Some("https://devapi.ipaas.com"),
            Environment::Custom(_) => None,
        }
    }
}

/// One of iPaaS.com's APIs, each served under its own base path. A `&str` names one
/// (case-insensitively; an unlisted path is [`Api::Other`]).
///
/// ```
/// use ipaas_com::Api;
/// assert_eq!(Api::from("/Products/"), Api::Products);
/// assert_eq!(Api::from("reports"), Api::Other("reports".into()));
/// assert_eq!(Api::HookApi.to_string(), "hookapi");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Api {
    /// `sso`: login, refresh, users, companies.
    Sso,
    /// `subscriptions`.
    Subscriptions,
    /// `integrations`, the older name of the subscriptions API.
    Integrations,
    /// `integrators`.
    Integrators,
    /// `hookapi`.
    HookApi,
    /// `listener`.
    Listener,
    /// `products`.
    Products,
    /// `customers`.
    Customers,
    /// `giftcards`.
    GiftCards,
    /// `transactions`.
    Transactions,
    /// `employees`.
    Employees,
    /// `messages`.
    Messages,
    /// A base path not listed above.
    Other(String),
}

impl Api {
    /// The base path segment (`sso`, `subscriptions`, ...).
    pub fn base_path(&self) -> &str {
        match self {
            Api::Sso => "sso",
            Api::Subscriptions => "subscriptions",
            Api::Integrations => "integrations",
            Api::Integrators => "integrators",
            Api::HookApi => "hookapi",
            Api::Listener => "listener",
            Api::Products => "products",
            Api::Customers => "customers",
            Api::GiftCards => "giftcards",
            Api::Transactions => "transactions",
            Api::Employees => "employees",
            Api::Messages => "messages",
            Api::Other(p) => p,
        }
    }
}

impl From<&str> for Api {
    fn from(s: &str) -> Self {
        let trimmed = s.trim_matches('/');
        // Lowercased into a buffer on the stack (a lowercased `String` was an allocation per
        // call) and matched at once (comparing with each name in turn cost more than the
        // rest of building the URL).
        let mut lower = [0u8; 16];
        let Some(buf) = lower.get_mut(..trimmed.len()) else {
            return Api::Other(trimmed.to_owned());
        };
        buf.copy_from_slice(trimmed.as_bytes());
        buf.make_ascii_lowercase();
        match &*buf {
            b"sso" => Api::Sso,
            b"subscriptions" => Api::Subscriptions,
            b"integrations" => Api::Integrations,
            b"integrators" => Api::Integrators,
            b"hookapi" => Api::HookApi,
            b"listener" => Api::Listener,
            b"products" => Api::Products,
            b"customers" => Api::Customers,
            b"giftcards" => Api::GiftCards,
            b"transactions" => Api::Transactions,
            b"employees" => Api::Employees,
            b"messages" => Api::Messages,
            _ => Api::Other(trimmed.to_owned()),
        }
    }
}

impl From<String> for Api {
    fn from(s: String) -> Self {
        Api::from(s.as_str())
    }
}

impl fmt::Display for Api {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.base_path())
    }
}

/// `{base}/{base_path}/{version}/{endpoint}`; each endpoint segment is percent-encoded, so
/// an id holding `/` or `?` cannot change the route.
pub(crate) fn build_url<S: AsRef<str>>(
    base: &Url,
    api: &Api,
    version: &str,
    endpoint: impl IntoIterator<Item = S>,
) -> Result<Url> {
    let mut url = base.clone();
    {
        let mut segs = url
            .path_segments_mut()
            .map_err(|()| Error::new(ErrorKind::Config, "base url cannot carry a path"))?;
        segs.pop_if_empty();
        segs.extend(api.base_path().split('/').filter(|s| !s.is_empty()));
        segs.push(version.trim_matches('/'));
        for part in endpoint {
            segs.push(part.as_ref());
        }
    }
    Ok(url)
}

/// Split a caller's `"User/664/Companies"` endpoint into segments (as it is joined: no
/// list is made).
fn split_endpoint(endpoint: &str) -> impl Iterator<Item = &str> {
    endpoint.split('/').filter(|s| !s.is_empty())
}

/// Builds a [`Client`]. The kit's setters (`with_base_url`, `with_credentials`,
/// `with_clock`, `with_http_client`, `with_rate_limiter`, `with_env`, ...) are here too.
///
/// ```
/// use ipaas_com::{Client, Credentials, Environment};
/// let client = Client::builder()
///     .with_environment(Environment::Staging)
///     .with_credentials(Credentials::user("user@example.com", "pw"))
///     .build()?;
/// assert_eq!(client.base_url().as_str(), "https://stagingapi.ipaas.com/");
/// assert!(client.profile().is_none()); // nothing is sent before the first call
///
/// // A base URL wins over the environment, whichever is set first.
/// let proxied = Client::builder()
///     .with_base_url("http://127.0.0.1:8080")
///     .with_environment(Environment::Development)
///     .with_credentials(Credentials::api_key("key"))
///     .build()?;
/// assert_eq!(proxied.base_url().port(), Some(8080));
///
/// // Credentials that can never work are refused before anything is sent.
/// assert!(Client::builder().build().unwrap_err().is_config());
/// let bad_key = Client::builder().with_credentials(Credentials::api_key("line\nbreak")).build();
/// assert!(bad_key.unwrap_err().is_config());
/// // So is plain http off loopback: the password would cross the network readable.
/// let insecure = Client::builder()
///     .with_base_url("http://api.ipaas.com")
///     .with_credentials(Credentials::user("user@example.com", "pw"))
///     .build();
/// assert!(insecure.unwrap_err().is_insecure_transport());
/// # Ok::<(), ipaas_com::Error>(())
/// ```
#[derive(Debug, Default)]
#[must_use = "a builder does nothing until built"]
pub struct ClientBuilder {
    kit: Config<Credentials>,
    environment: Environment,
    scheme: AuthScheme,
    refresh_form: RefreshForm,
}

impl VendorBuilder for ClientBuilder {
    type Credentials = Credentials;
    const VENDOR: VendorInfo = VendorInfo {
        name: "iPaaS.com",
        env_prefix: "IPAAS",
        default_base_url: "https://api.ipaas.com",
    };

    fn kit(&mut self) -> &mut Config<Credentials> {
        &mut self.kit
    }

    /// `IPAAS_EMAIL` + `IPAAS_PASSWORD` (a user login, preferred), else `IPAAS_API_KEY`.
    fn read_env(self, env: &Env) -> Self {
        match (env.var("EMAIL"), env.var("PASSWORD"), env.var("API_KEY")) {
            (Some(email), Some(password), _) => {
                self.with_credentials(Credentials::user(email, password))
            }
            (_, _, Some(key)) => self.with_credentials(Credentials::api_key(key)),
            _ => self,
        }
    }
}

auth_core::client_builder!(ClientBuilder);

impl ClientBuilder {
    /// Talk to iPaaS.com's staging or development environment instead of production. A
    /// base URL (`with_base_url`, `IPAAS_BASE_URL`) wins over a named environment, in any
    /// order; `Environment::Custom(url)` is the same as `with_base_url(url)`.
    pub fn with_environment(mut self, environment: impl Into<Environment>) -> Self {
        match environment.into() {
            Environment::Custom(url) => self.kit.set_base_url(url),
            named => self.environment = named,
        }
        self
    }

    /// How the token goes in the `Authorization` header: `Bearer <token>` (default, what
    /// iPaaS.com's own tooling sends) or `AuthScheme::Raw`, the bare token the
    /// documentation page shows, for a gateway that insists on the page's form.
    pub fn with_auth_scheme(mut self, scheme: impl Into<AuthScheme>) -> Self {
        self.scheme = scheme.into();
        self
    }

    /// What a refresh sends: only the refresh token (default, the documentation page's
    /// rule), or `RefreshForm::WithAccessToken`, the access and refresh token together as
    /// iPaaS.com's own C# tool sends them, for an account that expects that form.
    pub fn with_refresh_form(mut self, form: RefreshForm) -> Self {
        self.refresh_form = form;
        self
    }

    /// Build the client. Fails (kind `Config`) on missing or unusable credentials (an empty
    /// email, password or API key; an API key that cannot go in a header) or a bad base
    /// URL, and (kind `InsecureTransport`) on plain `http` off loopback.
    pub fn build(self) -> Result<Client> {
        // A named environment is the default base URL: a base URL given wins over it.
        // KIT-NEED: a default-base-URL (environment) setting on `Config`, so a vendor with
        // environments need not pass `finish` its own `VendorInfo`.
        let vendor = VendorInfo {
            default_base_url: self
                .environment
                .named_url()
                .unwrap_or(Self::VENDOR.default_base_url),
            ..Self::VENDOR
        };
        let parts = self.kit.finish(&vendor, IpaasErrors)?;
        parts.credentials.validate()?;
        let provider = Arc::new(IpaasProvider {
            http: parts.http.clone(),
            base_url: parts.base_url.clone(),
            credentials: parts.credentials.clone(),
            header: TokenHeader::authorization(self.scheme),
            refresh_form: self.refresh_form,
            profile: Arc::new(Mutex::new(None)),
        });
        let dyn_provider: Arc<dyn TokenProvider> = provider.clone();
        let session = parts.session_from_arc(dyn_provider);
        // An API key has no login: it is the token from the start, and never renewed.
        if let Some(tokens) = provider.api_key_tokens() {
            session.replace(tokens);
        }
        Ok(Client {
            core: Core::new(session, parts.base_url),
            provider,
        })
    }
}

/// An iPaaS.com API client. Cheap to clone; clones share the session. The kit's [`Core`]
/// (session stats, `settle`, token expiry, base URL) is reached through it; see the
/// [crate docs](crate) for a whole flow.
#[derive(Clone)]
pub struct Client {
    core: Core,
    provider: Arc<IpaasProvider>,
}

impl Deref for Client {
    type Target = Core;
    fn deref(&self) -> &Core {
        &self.core
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.base_url().as_str())
            .field("credentials", &self.provider.credentials)
            .field("session", self.session())
            .finish()
    }
}

impl Client {
    /// Start building a client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// Build from the environment: `IPAAS_BASE_URL` (optional, production otherwise) and
    /// either `IPAAS_EMAIL` + `IPAAS_PASSWORD` or `IPAAS_API_KEY` (a `Config` error when
    /// neither is set). The same as `Client::builder().with_env().build()`.
    pub fn from_env() -> Result<Client> {
        Self::builder().with_env().build()
    }

    /// The user the last login, refresh or company switch answered for (`None` before the
    /// first, and always for an API key).
    pub fn profile(&self) -> Option<UserProfile> {
        self.provider
            .profile
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Log in now with the held user credentials (`POST /sso/v2/Auth/Login`), replacing any
    /// held token. Calls sign in by themselves when needed; this is for an explicit start
    /// (and the profile it answers).
    pub async fn login(&self) -> Result<UserProfile> {
        if self.provider.credentials.is_api_key() {
            return Err(Error::new(
                ErrorKind::Config,
                "api keys have no login: calls use the key directly",
            ));
        }
        self.session().clear();
        self.session().token().await?;
        Ok(self.profile().unwrap_or_default())
    }

    /// Exchange the refresh token for a new access token now (`POST /sso/v2/Auth/Refresh`).
    /// Calls refresh by themselves once the token has expired; this forces it.
    pub async fn refresh(&self) -> Result<()> {
        if self.provider.credentials.is_api_key() {
            return Err(Error::new(
                ErrorKind::Config,
                "api keys are never refreshed",
            ));
        }
        let session = self.session();
        // Retiring the current generation makes the next token() renew it, by refresh when
        // a refresh token is held (a rejected one falls back to login).
        if let Some(lease) = session.current() {
            session.invalidate(lease.generation());
        }
        session.token().await.map(drop)
    }

    /// The companies the signed-in user may act for (`GET /sso/v2/User/{id}/Companies`).
    /// An API key has no user: use [`companies_of`](Self::companies_of).
    pub async fn companies(&self) -> Result<Vec<Company>> {
        let lease = self.session().token().await?;
        let id = lease
            .tokens()
            .storable_data::<UserId>()
            .map(|u| u.0.to_string())
            .or_else(|| self.profile().and_then(|p| p.id).map(|i| i.to_string()))
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidInput,
                    "the user id is unknown (api keys have none): use companies_of",
                )
            })?;
        self.companies_of(&id).await
    }

    /// The companies of user `user_id` (`GET /sso/v2/User/{id}/Companies`).
    pub async fn companies_of(&self, user_id: &str) -> Result<Vec<Company>> {
        if user_id.trim().is_empty() {
            return Err(Error::new(ErrorKind::InvalidInput, "user id is empty"));
        }
        let url = self.sso_url(&["User", user_id, "Companies"])?;
        self.authorized(Method::GET, url).send_json().await
    }

    /// Switch to another company (`GET /sso/v2/User/ChangeCompany/{company_id}`). Its answer
    /// replaces access token, refresh token and expiry together; no refresh follows.
    pub async fn change_company(&self, company_id: &str) -> Result<UserProfile> {
        if company_id.trim().is_empty() {
            return Err(Error::new(ErrorKind::InvalidInput, "company id is empty"));
        }
        if self.provider.credentials.is_api_key() {
            return Err(Error::new(
                ErrorKind::Config,
                "api keys carry their company authorizations and cannot switch company",
            ));
        }
        let url = self.sso_url(&["User", "ChangeCompany", company_id])?;
        let previous = self.session().current();
        let resp = self.authorized(Method::GET, url).send().await?;
        let mut tokens = self.provider.accept_response(resp).await?;
        // No need to wait for a renewal in flight: the session never installs a renewal's
        // (old-company) token over one installed with `replace` meanwhile.
        if let Some(prev) = previous {
            // Only what the answer lacks (the user id, a missing refresh token) carries over.
            tokens = tokens.inherit_from(prev.tokens());
        }
        self.session().replace(tokens);
        Ok(self.profile().unwrap_or_default())
    }

    /// A generic authorized request to `{base_url}/{api}/v2/{endpoint}` (the endpoint's
    /// segments percent-encoded): add a query, a JSON body or another version, then `send`
    /// or `send_json`.
    pub fn request(
        &self,
        method: Method,
        api: impl Into<Api>,
        endpoint: impl Into<String>,
    ) -> ApiRequest {
        ApiRequest {
            client: self.clone(),
            method,
            api: api.into(),
            endpoint: endpoint.into(),
            version: Cow::Borrowed(DEFAULT_VERSION),
            query: Vec::new(),
            body: None,
            error: None,
        }
    }

    /// `GET` a JSON document from `{base_url}/{api}/v2/{endpoint}`.
    pub fn get_json<'a, T: DeserializeOwned>(
        &'a self,
        api: impl Into<Api>,
        endpoint: impl AsRef<str> + Send + 'a,
    ) -> impl Future<Output = Result<T>> {
        use futures::TryFutureExt as _;
        let api = api.into();
        // On the client's session as it is (a request from `request` holds a clone of the
        // client), built again for a 401's retry.
        self.session()
            .send_built(move || {
                let url = self.api_url(&api, DEFAULT_VERSION, endpoint.as_ref())?;
                let mut request = self.session().http().new_request(Method::GET, url)?;
                request
                    .headers_mut()
                    .insert(ACCEPT, HeaderValue::from_static(JSON));
                Ok(request)
            })
            .and_then(read_json)
    }

    /// Page through a list endpoint using `pageNumber`/`pageSize` and the `X-Pagination`
    /// header: one page, or a stream of pages or items.
    pub fn list<T>(&self, api: impl Into<Api>, endpoint: impl Into<String>) -> ListRequest<T> {
        ListRequest::new(self.clone(), api.into(), endpoint.into())
    }

    fn sso_url(&self, endpoint: &[&str]) -> Result<Url> {
        build_url(self.base_url(), &Api::Sso, DEFAULT_VERSION, endpoint)
    }

    fn api_url(&self, api: &Api, version: &str, endpoint: &str) -> Result<Url> {
        build_url(self.base_url(), api, version, split_endpoint(endpoint))
    }

    /// A request through the session: token on, one renewal-and-retry after a 401.
    fn authorized(&self, method: Method, url: Url) -> AuthorizedRequest {
        AuthorizedRequest::new(self.session().clone(), Ok(self.http_request(method, url)))
    }

    /// A request to `url` as every call makes it (the token goes on when it is sent).
    fn http_request(&self, method: Method, url: Url) -> auth_core::reqwest::RequestBuilder {
        self.session()
            .http()
            .request(method, url)
            .header(ACCEPT, HeaderValue::from_static(JSON))
    }
}

/// A generic authorized request, built by [`Client::request`].
#[must_use = "a request does nothing until sent"]
pub struct ApiRequest {
    client: Client,
    method: Method,
    api: Api,
    endpoint: String,
    version: Cow<'static, str>,
    query: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    error: Option<Error>,
}

/// Like auth-core's `AuthorizedRequest`: the query and body may hold secrets or personal
/// data, so Debug shows only their shape.
impl fmt::Debug for ApiRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiRequest")
            .field("method", &self.method)
            .field("api", &self.api)
            .field("version", &self.version)
            .field("query_params", &self.query.len())
            .field("body_bytes", &self.body.as_ref().map(Vec::len))
            .field("ready", &self.error.is_none())
            .finish_non_exhaustive()
    }
}

impl ApiRequest {
    /// Use another API version than `v2` (some endpoints are only served as `v1`).
    pub fn with_version(mut self, version: impl Into<String>) -> Self {
        self.version = Cow::Owned(version.into());
        self
    }

    /// Add a query parameter (a filter, a flag).
    pub fn with_query(mut self, key: impl Into<String>, value: impl ToString) -> Self {
        self.query.push((key.into(), value.to_string()));
        self
    }

    /// Send `body` as JSON. A body that cannot be serialized fails at `send`.
    pub fn with_json<B: Serialize + ?Sized>(mut self, body: &B) -> Self {
        match serde_json::to_vec(body) {
            Ok(bytes) => self.body = Some(bytes),
            Err(e) => {
                self.error = Some(
                    Error::new(ErrorKind::InvalidInput, "request body is not serializable")
                        .with_source(e),
                )
            }
        }
        self
    }

    /// Send and return the successful response (status 2xx); errors are typed.
    pub fn send(self) -> impl Future<Output = Result<Response>> + Send + 'static {
        // Built now: the future then holds only the session's call.
        self.authorized().send()
    }

    /// Send and decode the JSON answer.
    pub fn send_json<T: DeserializeOwned>(self) -> impl Future<Output = Result<T>> {
        use futures::TryFutureExt as _;
        self.send().and_then(read_json)
    }

    /// The authorized request this one describes; one that cannot be made carries its
    /// error, which `send` returns without sending.
    fn authorized(self) -> AuthorizedRequest {
        let url = match self.error {
            Some(e) => Err(e),
            None => self
                .client
                .api_url(&self.api, &self.version, &self.endpoint),
        };
        let mut url = match url {
            Ok(url) => url,
            Err(e) => return AuthorizedRequest::new(self.client.session().clone(), Err(e)),
        };
        if !self.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&self.query);
        }
        let mut request = self.client.authorized(self.method, url);
        if let Some(bytes) = self.body {
            request =
                request.map_builder(|b| b.header(CONTENT_TYPE, "application/json").body(bytes));
        }
        request
    }
}

/// A paged list request, built by [`Client::list`]. Fetch one page, or stream pages or
/// items (the next page is fetched while the current one is consumed).
#[must_use = "a list request does nothing until paged"]
pub struct ListRequest<T> {
    client: Client,
    api: Api,
    endpoint: String,
    version: String,
    query: Vec<(String, String)>,
    page_size: Option<u64>,
    max_items: Option<usize>,
    _item: PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for ListRequest<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Like auth-core's `AuthorizedRequest`: the endpoint and query may hold secrets or
        // personal data, so only their shape is shown.
        f.debug_struct("ListRequest")
            .field("api", &self.api)
            .field("version", &self.version)
            .field("query_params", &self.query.len())
            .field("page_size", &self.page_size)
            .field("max_items", &self.max_items)
            .finish_non_exhaustive()
    }
}

impl<T> Clone for ListRequest<T> {
    fn clone(&self) -> Self {
        ListRequest {
            client: self.client.clone(),
            api: self.api.clone(),
            endpoint: self.endpoint.clone(),
            version: self.version.clone(),
            query: self.query.clone(),
            page_size: self.page_size,
            max_items: self.max_items,
            _item: PhantomData,
        }
    }
}

impl<T> ListRequest<T> {
    fn new(client: Client, api: Api, endpoint: String) -> Self {
        ListRequest {
            client,
            api,
            endpoint,
            version: DEFAULT_VERSION.to_owned(),
            query: Vec::new(),
            page_size: None,
            max_items: None,
            _item: PhantomData,
        }
    }

    /// Ask for `size` items per page (`pageSize`; fewer, larger pages mean fewer calls
    /// against the plan's limit). The server's default otherwise.
    pub fn with_page_size(mut self, size: u64) -> Self {
        self.page_size = Some(size);
        self
    }

    /// Add a filter query parameter.
    pub fn with_query(mut self, key: impl Into<String>, value: impl ToString) -> Self {
        self.query.push((key.into(), value.to_string()));
        self
    }

    /// Use another API version than `v2`.
    pub fn with_version(mut self, version: impl Into<String>) -> Self {
        self.version = version.into();
        self
    }

    /// Stop streaming after `max` items (no page beyond the one holding the last is
    /// fetched).
    pub fn with_max_items(mut self, max: usize) -> Self {
        self.max_items = Some(max);
        self
    }
}

impl<T: DeserializeOwned + Send + 'static> ListRequest<T> {
    /// Fetch page `number` (1-based).
    pub async fn page(&self, number: u64) -> Result<Page<T>> {
        if number == 0 {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "page numbers start at 1",
            ));
        }
        if self.page_size == Some(0) {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "page size must be at least 1",
            ));
        }
        let mut url = self
            .client
            .api_url(&self.api, &self.version, &self.endpoint)?;
        {
            let mut q = url.query_pairs_mut();
            q.extend_pairs(&self.query);
            q.append_pair("pageNumber", &number.to_string());
            if let Some(size) = self.page_size {
                q.append_pair("pageSize", &size.to_string());
            }
        }
        let resp = self.client.authorized(Method::GET, url).send().await?;
        let status = resp.status().as_u16();
        let raw = match resp.headers().get(PAGINATION_HEADER) {
            Some(v) => Some(v.to_str().map_err(|_| {
                Error::new(
                    ErrorKind::BadResponse,
                    "pagination metadata is not valid header text",
                )
                .with_status(status)
            })?),
            None => None,
        };
        let mut info = match raw {
            Some(raw) => PageInfo::from_json_header(raw).map_err(|e| e.with_status(status))?,
            None => PageInfo::default(),
        };
        let items: Vec<T> = read_json(resp).await?;
        if info.page_size.is_none() {
            info.page_size = self.page_size;
        }
        // Only current_Page and total_Pages are certain; next_after falls back to the
        // next_Page flag, then to "a full page means more".
        let next = info.next_after(number, items.len());
        info.page.get_or_insert(number);
        Ok(Page::new(items, info, next))
    }

    /// Stream the pages, starting at page 1.
    pub fn pages(self) -> BoxStream<'static, Result<Page<T>>> {
        self.paginator().pages()
    }

    /// Stream the items of every page, in order, starting at page 1.
    pub fn items(self) -> BoxStream<'static, Result<T>> {
        self.paginator().items()
    }

    #[allow(
        clippy::type_complexity,
        reason = "the paginator's fetch closure type is spelled out once, here"
    )]
    fn paginator(
        self,
    ) -> Paginator<
        impl FnMut(PageToken) -> futures::future::BoxFuture<'static, Result<Page<T>>> + Send + 'static,
    > {
        let max = self.max_items;
        let fetch =
            move |token: PageToken| -> futures::future::BoxFuture<'static, Result<Page<T>>> {
                let me = self.clone();
                Box::pin(async move {
                    match token {
                        PageToken::Number(n) => me.page(n).await,
                        _ => Err(Error::new(
                            ErrorKind::BadResponse,
                            "iPaaS.com pages by number, not by cursor",
                        )),
                    }
                })
            };
        let p = Paginator::new(PageToken::Number(1), fetch);
        match max {
            Some(m) => p.max_items(m),
            None => p,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use auth_core::client::parse_base_url;

    /// Every named API from its path in any case and with slashes around it; anything else
    /// (longer than any name, not ASCII, empty) is `Other`, trimmed, its case kept.
    #[test]
    fn api_names_match_case_insensitively() {
        let named = [
            Api::Sso,
            Api::Subscriptions,
            Api::Integrations,
            Api::Integrators,
            Api::HookApi,
            Api::Listener,
            Api::Products,
            Api::Customers,
            Api::GiftCards,
            Api::Transactions,
            Api::Employees,
            Api::Messages,
        ];
        for api in named {
            let name = api.base_path().to_owned();
            assert_eq!(Api::from(name.as_str()), api);
            assert_eq!(Api::from(name.to_ascii_uppercase()), api);
            assert_eq!(Api::from(format!("/{name}/")), api);
            let mixed: String = name
                .chars()
                .enumerate()
                .map(|(i, c)| {
                    if i % 2 == 0 {
                        c.to_ascii_uppercase()
                    } else {
                        c
                    }
                })
                .collect();
            assert_eq!(Api::from(mixed.as_str()), api);
        }
        for other in [
            "",
            "reports",
            "Products2",
            "productsproductsproducts",
            "prodücts",
        ] {
            assert_eq!(Api::from(other), Api::Other(other.to_owned()));
        }
        assert_eq!(Api::from("/Reports/"), Api::Other("Reports".to_owned()));
    }

    #[test]
    fn urls_follow_the_pattern() {
        let base = parse_base_url("https://api.ipaas.com").unwrap();
        let u = build_url(&base, &Api::Sso, "v2", split_endpoint("/Auth/Login")).unwrap();
        assert_eq!(u.as_str(), "https://api.ipaas.com/sso/v2/Auth/Login");
        let prefixed = parse_base_url("http://127.0.0.1:8080/proxy/").unwrap();
        let u = build_url(&prefixed, &Api::Products, "v1", ["Product", "a/b?c"]).unwrap();
        assert_eq!(
            u.as_str(),
            "http://127.0.0.1:8080/proxy/products/v1/Product/a%2Fb%3Fc"
        );
    }

    #[test]
    fn bad_base_urls_are_config_errors() {
        for bad in ["", "not a url", "mailto:x@y.z", "ftp://x", "https://x/?q=1"] {
            let built = Client::builder()
                .with_base_url(bad)
                .with_credentials(Credentials::api_key("k"))
                .build();
            assert!(built.unwrap_err().is_config(), "{bad}");
        }
    }

    #[test]
    fn environments_and_base_urls() {
        let url = |b: ClientBuilder| {
            b.with_credentials(Credentials::api_key("k"))
                .build()
                .unwrap()
                .base_url()
                .to_string()
        };
        assert_eq!(url(Client::builder()), "https://api.ipaas.com/");
        let dev = Client::builder().with_environment(Environment::Development);
        assert_eq!(url(dev), "https://devapi.ipaas.com/");
        let custom = Client::builder()
            .with_environment(Environment::Staging)
            .with_environment(Environment::Custom("http://127.0.0.1:9".into()));
        assert_eq!(url(custom), "http://127.0.0.1:9/");
        assert_eq!(
            Environment::Custom("http://127.0.0.1:9".into()).base_url(),
            "http://127.0.0.1:9"
        );
        assert_eq!(
            Environment::Staging.base_url(),
            "https://stagingapi.ipaas.com"
        );
    }

    fn info(raw: &str) -> PageInfo {
        PageInfo::from_json_header(raw).unwrap()
    }

    #[test]
    fn next_from_total_pages_flag_or_full_page() {
        let full = r#"{"total_Count":165,"page_Size":100,"current_Page":1,"total_Pages":2,"previous_Page":"No","next_Page":"Yes"}"#;
        assert_eq!(info(full).next_after(1, 100), Some(PageToken::Number(2)));
        let last = r#"{"current_Page":2,"total_Pages":2,"next_Page":"Yes"}"#;
        assert_eq!(info(last).next_after(2, 65), None);
        let flag_only = r#"{"current_Page":3,"next_Page":"No"}"#;
        assert_eq!(info(flag_only).has_next, Some(false));
        assert_eq!(info(flag_only).next_after(3, 10), None);
        let bare = r#"{"current_Page":3}"#;
        let mut i = info(bare);
        i.page_size = Some(10);
        assert_eq!(i.next_after(3, 10), Some(PageToken::Number(4)));
        assert_eq!(i.next_after(3, 9), None);
        assert_eq!(i.next_after(3, 0), None);
    }
}
