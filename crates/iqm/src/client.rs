//! The client, its builder on the auth-core kit, the account calls (sign-up, login,
//! refresh, logout, workspace id), the `{success, data}` helpers for the rest of IQM's API,
//! and paging through any of its list endpoints.

use std::fmt;
use std::hash::{DefaultHasher, Hash as _, Hasher as _};
use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use auth_core::client::{Config, Core, Env, VendorBuilder, VendorInfo};
use auth_core::provider::{PageInfo, Paginator};
use auth_core::{AuthorizedRequest, Error, ErrorKind, Page, PageToken, RateLimiter};
use futures::future::BoxFuture;
use futures::stream::{self, BoxStream, StreamExt as _};
use reqwest::Method;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::auth::{
    ClientCredentials, Credentials, IqmAuth, LOGOUT_PATH, LoginFlow, OW_ID_PATH, OwId, RefreshFlow,
    SIGN_UP_PATH, authorize_headers, parse_ow_id, parse_token_answer,
};
use crate::error::IqmErrors;
use crate::models::{SignUp, decode_data, list_page, typed_rows, unwrap_data};

/// IQM's production API, where the client goes unless given a base URL.
pub const PRODUCTION_URL: &str = "https://api.iqm.com";

/// IQM's documented quota, 20 requests per minute: what
/// [`ClientBuilder::with_rate_limit`] holds calls to.
pub const RATE_LIMIT: (u32, Duration) = (20, Duration::from_secs(60));

/// Which IQM deployment to talk to. IQM documents one, production; the enum leaves room
/// for others without a breaking change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Environment {
    /// `https://api.iqm.com`.
    #[default]
    Production,
}

impl Environment {
    /// The base URL of this environment, used when no base URL is given.
    pub fn base_url(self) -> &'static str {
        match self {
            Environment::Production => PRODUCTION_URL,
        }
    }
}

/// Builds a [`Client`]. The kit's setters (`with_base_url`, `with_credentials`,
/// `with_clock`, `with_http_client`, `with_rate_limiter`, `with_token_timeout`,
/// `with_max_wait`, `with_renewal_retries`, `with_env`) are here with IQM's own: the
/// environment, the login and refresh calls, and the documented rate limit.
///
/// `with_env` reads `IQM_BASE_URL`, `IQM_CLIENT_ID`, `IQM_CLIENT_SECRET`, `IQM_EMAIL`,
/// `IQM_PASSWORD` and `IQM_IAA_HOST` (which selects the JSON login call); unset variables
/// leave the builder as it was.
///
/// ```
/// use iqm::{Client, Credentials, LoginFlow};
///
/// let credentials = Credentials::new("client-id", "client-secret", "me@example.com", "pw");
/// let client = Client::builder()
///     .with_credentials(credentials.clone())
///     .with_rate_limit() // IQM's 20 requests per minute
///     .build()?;
/// assert_eq!(client.base_url().as_str(), "https://api.iqm.com/");
///
/// // The JSON login needs its X-Iaa-Host value, and credentials never cross plain http.
/// let no_host = Client::builder()
///     .with_credentials(credentials.clone())
///     .with_login_flow(LoginFlow::json(""))
///     .build();
/// assert!(no_host.unwrap_err().is_config());
/// let plain = Client::builder()
///     .with_credentials(credentials)
///     .with_base_url("http://api.iqm.com")
///     .build();
/// assert!(plain.unwrap_err().is_insecure_transport());
/// # Ok::<(), iqm::Error>(())
/// ```
#[derive(Debug, Default)]
#[must_use]
pub struct ClientBuilder {
    kit: Config<Credentials>,
    environment: Environment,
    flow: LoginFlow,
    refresh_flow: RefreshFlow,
}

impl VendorBuilder for ClientBuilder {
    type Credentials = Credentials;
    const VENDOR: VendorInfo = VendorInfo {
        name: "iqm",
        env_prefix: "IQM",
        default_base_url: PRODUCTION_URL,
    };

    fn kit(&mut self) -> &mut Config<Credentials> {
        &mut self.kit
    }

    fn read_env(mut self, env: &Env) -> Self {
        if let (Some(id), Some(secret), Some(email), Some(password)) = (
            env.var("CLIENT_ID"),
            env.var("CLIENT_SECRET"),
            env.var("EMAIL"),
            env.var("PASSWORD"),
        ) {
            self = self.with_credentials(Credentials::new(id, secret, email, password));
        }
        if let Some(host) = env.var("IAA_HOST") {
            self.flow = LoginFlow::json(host);
        }
        self
    }
}

auth_core::client_builder!(ClientBuilder);

impl ClientBuilder {
    /// Talk to this IQM environment when no base URL is given (default production).
    pub fn with_environment(mut self, environment: impl Into<Environment>) -> Self {
        self.environment = environment.into();
        self
    }

    /// Which login call to make: the form-encoded OAuth token call by default, or
    /// [`LoginFlow::json`] for the JSON login your IQM application host may require.
    pub fn with_login_flow(mut self, flow: impl Into<LoginFlow>) -> Self {
        self.flow = flow.into();
        self
    }

    /// How the refresh call encodes its body: form-encoded by default, or
    /// [`RefreshFlow::Json`] as the API reference page's sample sends it.
    pub fn with_refresh_flow(mut self, flow: impl Into<RefreshFlow>) -> Self {
        self.refresh_flow = flow.into();
        self
    }

    /// Keep under IQM's documented 20 requests per minute ([`RATE_LIMIT`]): callers over
    /// the quota wait for a slot instead of being answered 429. Off by default; pass your
    /// own limiter to `with_rate_limiter` to share one between clients or to fail instead
    /// of waiting.
    pub fn with_rate_limit(self) -> Self {
        let (max, per) = RATE_LIMIT;
        self.with_rate_limiter(RateLimiter::new(max, per))
    }

    /// Build the client. Fails on missing credentials, a client id or secret that cannot
    /// go into a header, an empty `X-Iaa-Host`, a malformed base URL, or a plain `http://`
    /// URL to anything but loopback.
    pub fn build(self) -> Result<Client, Error> {
        // The environment's URL is the one the kit falls back to.
        // KIT-NEED: `Config` cannot tell whether a base URL was set, so the environment goes
        // in as the fallback through a copy of `VENDOR` (a `Config::set_default_base_url`
        // would let `build` pass `&Self::VENDOR` itself).
        let vendor = VendorInfo {
            default_base_url: self.environment.base_url(),
            ..Self::VENDOR
        };
        let parts = self.kit.finish(&vendor, IqmErrors)?;
        // Fail here on what every token call would send and IQM would refuse.
        parts.credentials.client.header()?;
        if let LoginFlow::Json { iaa_host } = &self.flow
            && (HeaderValue::try_from(iaa_host.as_str()).is_err() || iaa_host.trim().is_empty())
        {
            return Err(Error::new(
                ErrorKind::Config,
                "x-iaa-host must be a non-empty header value",
            ));
        }
        let provider = IqmAuth {
            credentials: parts.credentials.clone(),
            flow: self.flow,
            refresh_flow: self.refresh_flow,
            http: parts.http.clone(),
            base_url: parts.base_url.clone(),
        };
        let session = parts.session(provider);
        Ok(Client {
            core: Core::new(session, parts.base_url),
            credentials: Arc::new(parts.credentials.client),
        })
    }
}

/// The IQM client: logs in with the client's Basic header, keeps the workspace id (`owId`)
/// and sends it as `X-IAA-OW-ID` beside the bearer token, refreshes ahead of expiry (a full
/// login when the refresh token is refused), one 401 retry. Cheap to clone.
///
/// It dereferences to the kit's [`Core`]: `session_stats`, `settle`, `token_expiry`,
/// `base_url` and authorized `request`s / `get_json` for any IQM endpoint come from there;
/// the IQM calls and the `{success, data}` helpers are its own.
///
/// ```
/// # #[cfg(feature = "sandbox")]
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), iqm::Error> {
/// use iqm::sandbox::Sandbox;
/// use serde_json::Value;
///
/// let sandbox = Sandbox::builder().start().await;
/// let client = sandbox.client_builder().build()?;
/// let ow_id = client.login().await?;
/// assert_eq!(client.workspace_id().as_deref(), Some(ow_id.as_str()));
///
/// // Any IQM endpoint: the bearer token and X-IAA-OW-ID go on, `data` is unwrapped.
/// let echoed: Value = client.get_data("/api/v3/ua/user/allowed-organizations").await?;
/// assert_eq!(echoed["owId"], ow_id);
/// let request = client
///     .request(reqwest::Method::GET, "/api/v3/campaigns/list")
///     .query(&[("pageNo", 1)]);
/// let echoed: Value = client.send_data(request).await?;
/// assert_eq!(echoed["path"], "/api/v3/campaigns/list");
///
/// client.refresh().await?;
/// assert_eq!(client.session_stats().refreshes, 1);
/// assert_eq!(client.logout().await?, "User logged out successfully.");
/// assert_eq!(client.workspace_id(), None);
/// # Ok(()) }
/// # #[cfg(not(feature = "sandbox"))]
/// # fn main() {}
/// ```
#[derive(Debug, Clone)]
pub struct Client {
    core: Core,
    /// Sign-up sends the client's Basic header outside the session.
    credentials: Arc<ClientCredentials>,
}

impl Deref for Client {
    type Target = Core;
    fn deref(&self) -> &Core {
        &self.core
    }
}

impl Client {
    /// A builder (see [`ClientBuilder`]).
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client from the `IQM_*` environment variables (see [`ClientBuilder`]).
    pub fn from_env() -> Result<Client, Error> {
        Self::builder().with_env().build()
    }

    /// Log in now unless a valid token is held, and return the workspace id (`owId`).
    /// Calls log in on their own when needed; this surfaces bad credentials early.
    pub async fn login(&self) -> Result<String, Error> {
        let lease = self.session().token().await?;
        lease
            .tokens()
            .storable_data::<OwId>()
            .map(|o| o.as_str().to_owned())
            .ok_or_else(|| Error::new(ErrorKind::BadResponse, "login answer had no owId"))
    }

    /// Exchange the refresh token for a new access token now (a full login if IQM refuses
    /// the refresh token), instead of waiting for the renewal margin.
    pub async fn refresh(&self) -> Result<(), Error> {
        let session = self.session();
        if let Some(lease) = session.current() {
            session.invalidate(lease.generation());
        }
        session.token().await.map(drop)
    }

    /// The workspace id held from the login, if logged in (no request is made).
    pub fn workspace_id(&self) -> Option<String> {
        self.session().current().and_then(|l| {
            l.tokens()
                .storable_data::<OwId>()
                .map(|o| o.as_str().to_owned())
        })
    }

    /// Ask IQM for the workspace id: `GET /api/v3/ua/user/ow-id`.
    pub async fn fetch_workspace_id(&self) -> Result<String, Error> {
        let resp = self.request(Method::GET, OW_ID_PATH).send().await?;
        let status = resp.status().as_u16();
        let body: Value = auth_core::http::read_json(resp).await?;
        parse_ow_id(status, body)
    }

    /// Log out: `POST /api/v3/ua/logout` invalidates the access token, and the client
    /// forgets it (the next call logs in again). Returns IQM's message; with nothing held,
    /// nothing is sent.
    pub async fn logout(&self) -> Result<String, Error> {
        let session = self.session();
        let Some(lease) = session.current() else {
            return Ok(String::new());
        };
        let http = session.http();
        let mut req = auth_core::http::build(http.request(Method::POST, self.url(LOGOUT_PATH)?))?;
        // The token being logged out, never a renewed one: a 401 here means it is already
        // gone, which is what logging out wants.
        authorize_headers(lease.tokens(), req.headers_mut())?;
        session.clear();
        let resp = http.send_raw(req).await?;
        if resp.status().as_u16() == 401 {
            return Ok(String::new());
        }
        let resp = http
            .check(resp, &[lease.tokens().access_token().as_secret()])
            .await?;
        let status = resp.status().as_u16();
        let body: Value = auth_core::http::read_json(resp)
            .await
            .unwrap_or(Value::Null);
        let message: Value = unwrap_data(status, body).map_err(|e| self.session().scrub(e))?;
        Ok(match message {
            Value::String(s) => s,
            Value::Null => String::new(),
            other => other.to_string(),
        })
    }

    /// Sign up a user: `POST /api/v3/ua/sign-up` with the client's Basic header. Returns
    /// the new user's tokens (they carry no workspace id: log in with a client holding the
    /// new credentials to call the API). The client's own session is not changed.
    pub async fn sign_up(&self, email: &str, password: &str) -> Result<SignUp, Error> {
        if email.trim().is_empty() || password.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "email and password are required",
            ));
        }
        let client = &self.credentials;
        let password = secrecy::SecretString::from(password.to_owned());
        let http = self.session().http();
        let request = http
            .request(Method::POST, self.url(SIGN_UP_PATH)?)
            .header(AUTHORIZATION, client.header()?)
            .json(&serde_json::json!({
                "email": email,
                "password": secrecy::ExposeSecret::expose_secret(&password),
            }));
        let resp = http
            .send(request, &[&password, client.secret(), client.basic()])
            .await?;
        let status = resp.status().as_u16();
        let received_at = http.now();
        let body: Value = auth_core::http::read_json(resp).await?;
        let answer = parse_token_answer(status, body, received_at)?;
        Ok(SignUp {
            tokens: answer.tokens,
            scope: answer.scope,
            token_type: answer.token_type,
        })
    }

    /// Send an authorized request (made with `request`) and decode the `data` of IQM's
    /// `{success, data}` answer, or the whole answer when it is not wrapped;
    /// `success: false` becomes a rejected error with the [`IqmError`](crate::IqmError)
    /// detail.
    pub fn send_data<T: DeserializeOwned>(
        &self,
        request: AuthorizedRequest,
    ) -> impl Future<Output = Result<T, Error>> {
        self.data_of(request.send())
    }

    /// The `data` of the answer `sent` resolves to (see [`send_data`](Self::send_data)).
    fn data_of<T: DeserializeOwned, F>(&self, sent: F) -> impl Future<Output = Result<T, Error>>
    where
        F: Future<Output = Result<auth_core::reqwest::Response, Error>>,
    {
        use futures::{FutureExt as _, TryFutureExt as _};
        sent.and_then(move |resp| {
            let status = resp.status().as_u16();
            let limit = auth_core::http::DEFAULT_MAX_BODY;
            auth_core::http::with_body(resp, limit, move |b| decode_data(status, b))
                // A `success: false` answer is a 200: the pipeline did not scrub it.
                .map(move |read| read?.map_err(|e| self.session().scrub(e)))
        })
    }

    /// `GET path` and decode the `data` of the answer (see [`send_data`](Self::send_data)).
    pub fn get_data<'a, T: DeserializeOwned>(
        &'a self,
        path: &'a str,
    ) -> impl Future<Output = Result<T, Error>> + use<'a, T> {
        self.data_of(self.core.get(path))
    }

    /// `POST` `body` as JSON to `path` and decode the `data` of the answer.
    pub async fn post_data<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, Error> {
        self.send_data(self.request(Method::POST, path).json(body))
            .await
    }

    /// Page through any IQM list endpoint: `GET path` with `pageNo` and `noOfEntries` (or
    /// `offset` and `limit`, [`Paging::Offset`]) in the query, or, after
    /// [`ListRequest::with_body`], `POST path` with them in the JSON body; each answer's
    /// rows are typed as `T`. See [`ListRequest`].
    pub fn list<T>(&self, path: &str) -> ListRequest<T> {
        ListRequest {
            client: self.clone(),
            path: path.to_owned(),
            paging: Paging::PageNumber,
            page_size: DEFAULT_PAGE_SIZE,
            query: Vec::new(),
            body: None,
            rows_key: None,
            max_items: None,
            error: None,
            _rows: PhantomData,
        }
    }
}

/// The most rows IQM serves in one page (`noOfEntries` / `limit`). A larger page size is
/// refused with an [`ErrorKind::InvalidInput`] error before anything is sent, rather than
/// clamped: a silent clamp would change the page arithmetic (the offsets, the page count)
/// the caller asked for.
pub const MAX_PAGE_SIZE: u64 = 1000;

/// Rows asked per page unless [`ListRequest::with_page_size`] says otherwise. IQM's own
/// default is 20; with its 20 requests a minute, 100 walks a list five times faster and
/// still keeps a page small.
const DEFAULT_PAGE_SIZE: u64 = 100;

/// How an IQM list endpoint takes its page; each endpoint's documentation says which.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Paging {
    /// `pageNo` (from 1) and `noOfEntries`: most list endpoints. A page's
    /// [`next`](Page::next) is `PageToken::Number(pageNo + 1)`.
    #[default]
    PageNumber,
    /// `offset` (rows to skip, from 0) and `limit`. A page's [`next`](Page::next) is the
    /// next offset as `PageToken::Cursor("200")`.
    Offset,
}

impl Paging {
    /// The names of the position and size parameters.
    fn keys(self) -> (&'static str, &'static str) {
        match self {
            Paging::PageNumber => ("pageNo", "noOfEntries"),
            Paging::Offset => ("offset", "limit"),
        }
    }

    fn first(self) -> PageToken {
        match self {
            Paging::PageNumber => PageToken::Number(1),
            Paging::Offset => PageToken::Cursor("0".to_owned()),
        }
    }
}

/// A paged IQM list, made by [`Client::list`]: stream its pages or its rows, the next page
/// fetched while the current one is worked on (auth-core's [`Paginator`]).
///
/// Each page request carries the bearer token and `X-IAA-OW-ID`, is renewed and retried
/// once on a 401 like any other call, and asks for [`with_page_size`](Self::with_page_size)
/// rows (100 by default, at most [`MAX_PAGE_SIZE`]). The walk ends at an empty page, at a
/// short page (fewer rows than asked), once the rows received reach `filteredRecords` (the
/// rows matching the request's filters; `totalRecords` when the answer has no
/// `filteredRecords`; neither: a full page means more may follow), or at
/// [`with_max_items`](Self::with_max_items) rows without requesting pages beyond them.
/// A server that answers the same rows again instead of the next page ends the walk with
/// an [`ErrorKind::BadResponse`] error instead of looping (IQM's next page is the client's
/// own arithmetic, so the paginator's guard against repeated page tokens cannot see it);
/// so does an answer without a rows array, a count that is not a whole number, or a row
/// that does not fit `T`.
///
/// A page's [`PageInfo`] has the page number, the page size, `total_items` (the count the
/// walk goes by, as above), `total_pages` from it, and whether a next page follows.
///
/// ```
/// # #[cfg(feature = "sandbox")]
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), iqm::Error> {
/// use futures::{StreamExt as _, TryStreamExt as _};
/// use iqm::Paging;
/// use iqm::sandbox::Sandbox;
///
/// #[derive(serde::Deserialize)]
/// #[serde(rename_all = "camelCase")]
/// struct Campaign {
///     id: u64,
///     campaign_name: String,
/// }
///
/// let sandbox = Sandbox::builder().campaigns(250).start().await;
/// let client = sandbox.client_builder().build()?;
///
/// // `pageNo` and `noOfEntries`: three pages, the last one short.
/// let campaigns: Vec<Campaign> = client
///     .list(Sandbox::CAMPAIGNS_PATH)
///     .with_page_size(100)
///     .items()
///     .try_collect()
///     .await?;
/// assert_eq!(campaigns.len(), 250);
/// assert_eq!((campaigns[0].id, campaigns[249].campaign_name.as_str()), (1, "campaign-250"));
/// assert_eq!(sandbox.hits("campaigns"), 3);
///
/// // `offset` and `limit`, a filter, and the first page's counts.
/// let mut pages = client
///     .list::<Campaign>(Sandbox::CAMPAIGNS_PATH)
///     .with_paging(Paging::Offset)
///     .with_page_size(10)
///     .with_query("searchField", "7")
///     .pages();
/// let first = pages.next().await.unwrap()?;
/// assert_eq!(first.items.len(), 10);
/// assert_eq!(first.info.total_items, Some(43)); // filteredRecords: the names holding a 7
/// assert_eq!(first.next, Some(iqm::PageToken::Cursor("10".into())));
/// # Ok(()) }
/// # #[cfg(not(feature = "sandbox"))]
/// # fn main() {}
/// ```
#[must_use = "a list request does nothing until paged"]
pub struct ListRequest<T> {
    client: Client,
    path: String,
    paging: Paging,
    page_size: u64,
    query: Vec<(String, String)>,
    body: Option<Map<String, Value>>,
    rows_key: Option<String>,
    max_items: Option<usize>,
    error: Option<Error>,
    _rows: PhantomData<fn() -> T>,
}

// Like auth-core's `AuthorizedRequest`: the path, query and body may hold personal data, so
// only their shape is shown.
impl<T> fmt::Debug for ListRequest<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ListRequest")
            .field("paging", &self.paging)
            .field("page_size", &self.page_size)
            .field("query_params", &self.query.len())
            .field("body_fields", &self.body.as_ref().map(Map::len))
            .field("rows_key", &self.rows_key)
            .field("max_items", &self.max_items)
            .field("ready", &self.error.is_none())
            .finish_non_exhaustive()
    }
}

impl<T> Clone for ListRequest<T> {
    fn clone(&self) -> Self {
        ListRequest {
            client: self.client.clone(),
            path: self.path.clone(),
            paging: self.paging,
            page_size: self.page_size,
            query: self.query.clone(),
            body: self.body.clone(),
            rows_key: self.rows_key.clone(),
            max_items: self.max_items,
            error: self.error.clone(),
            _rows: PhantomData,
        }
    }
}

impl<T> ListRequest<T> {
    /// Page by `offset` and `limit` instead of `pageNo` and `noOfEntries`, for the
    /// endpoints documented so.
    pub fn with_paging(mut self, paging: impl Into<Paging>) -> Self {
        self.paging = paging.into();
        self
    }

    /// Ask for `rows` per page, 1 to [`MAX_PAGE_SIZE`] (100 by default): larger pages
    /// spend fewer of IQM's 20 requests a minute. Out of range, the stream's first item is
    /// an [`ErrorKind::InvalidInput`] error and nothing is sent.
    pub fn with_page_size(mut self, rows: u64) -> Self {
        self.page_size = rows;
        self
    }

    /// Add a query parameter to every page request (a filter, a sort order).
    pub fn with_query(mut self, key: impl Into<String>, value: impl ToString) -> Self {
        self.query.push((key.into(), value.to_string()));
        self
    }

    /// `POST` the pages with `filters` as the JSON body, the paging fields added to it
    /// (replacing any of the same name), for the list endpoints that take their filters
    /// and paging in the body. `filters` must serialize to a JSON object; anything else is
    /// an [`ErrorKind::InvalidInput`] error when the stream is polled.
    pub fn with_body<B: Serialize + ?Sized>(mut self, filters: &B) -> Self {
        match serde_json::to_value(filters) {
            Ok(Value::Object(map)) => self.body = Some(map),
            Ok(_) => {
                self.error = Some(Error::new(
                    ErrorKind::InvalidInput,
                    "list request body must be a json object",
                ));
            }
            Err(e) => {
                self.error = Some(
                    Error::new(
                        ErrorKind::InvalidInput,
                        "list request body is not serializable",
                    )
                    .with_source(e),
                );
            }
        }
        self
    }

    /// Read the rows from this key of the answer's `data` (e.g. `inventoryDataList`).
    /// Without it the rows are `data.data`, or else the answer's only array.
    pub fn with_rows_key(mut self, key: impl Into<String>) -> Self {
        self.rows_key = Some(key.into());
        self
    }

    /// Stop after `max` rows: no page beyond the one holding the last is requested, and a
    /// `max` below the page size asks for only `max` rows.
    pub fn with_max_items(mut self, max: usize) -> Self {
        self.max_items = Some(max);
        self
    }
}

/// The fetch behind a walk: one page request per token, in order.
type Fetch<T> = Box<dyn FnMut(PageToken) -> BoxFuture<'static, Result<Page<T>, Error>> + Send>;

impl<T: DeserializeOwned + Send + 'static> ListRequest<T> {
    /// Stream the pages, from the first.
    pub fn pages(self) -> BoxStream<'static, Result<Page<T>, Error>> {
        match self.paginator() {
            Ok(Some(p)) => p.pages(),
            Ok(None) => stream::empty().boxed(),
            Err(e) => stream::once(async move { Err(e) }).boxed(),
        }
    }

    /// Stream the rows of every page, in order, from the first (at most `max_items`).
    pub fn items(self) -> BoxStream<'static, Result<T, Error>> {
        match self.paginator() {
            Ok(Some(p)) => p.items(),
            Ok(None) => stream::empty().boxed(),
            Err(e) => stream::once(async move { Err(e) }).boxed(),
        }
    }

    /// The walk, `None` when it holds no rows (`max_items` of 0), or why it cannot start.
    fn paginator(mut self) -> Result<Option<Paginator<Fetch<T>>>, Error> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        if !(1..=MAX_PAGE_SIZE).contains(&self.page_size) {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("iqm list pages hold 1 to {MAX_PAGE_SIZE} rows"),
            ));
        }
        let max = self.max_items;
        if max == Some(0) {
            return Ok(None);
        }
        if let Some(m) = max.and_then(|m| u64::try_from(m).ok()) {
            self.page_size = self.page_size.min(m);
        }
        let first = self.paging.first();
        let list = Arc::new(self);
        let previous = Arc::new(Mutex::new(None));
        let fetch: Fetch<T> = Box::new(move |token| {
            let list = list.clone();
            let previous = previous.clone();
            Box::pin(async move { list.fetch(token, &previous).await })
        });
        let p = Paginator::new(first, fetch);
        Ok(Some(match max {
            Some(m) => p.max_items(m),
            None => p,
        }))
    }

    /// Request the page at `token` and read it. `previous` holds a fingerprint of the rows
    /// of the page before, to stop a server that answers the same page again.
    async fn fetch(
        &self,
        token: PageToken,
        previous: &Mutex<Option<u64>>,
    ) -> Result<Page<T>, Error> {
        let size = self.page_size;
        let (position, first_row) = match (self.paging, &token) {
            (Paging::PageNumber, PageToken::Number(n)) if *n >= 1 => {
                (*n, (*n - 1).saturating_mul(size))
            }
            (Paging::Offset, PageToken::Cursor(c)) => match c.parse::<u64>() {
                Ok(offset) => (offset, offset),
                Err(_) => return Err(bad_token()),
            },
            _ => return Err(bad_token()),
        };
        let (position_key, size_key) = self.paging.keys();
        let request = match &self.body {
            None => self
                .client
                .request(Method::GET, &self.path)
                .query(&self.query)
                .query(&[(position_key, position), (size_key, size)]),
            Some(filters) => {
                let mut body = filters.clone();
                body.insert(position_key.to_owned(), position.into());
                body.insert(size_key.to_owned(), size.into());
                self.client
                    .request(Method::POST, &self.path)
                    .query(&self.query)
                    .json(&body)
            }
        };
        let resp = request.send().await?;
        let status = resp.status().as_u16();
        let body: Value = auth_core::http::read_json(resp).await?;
        // A `success: false` answer is a 200: the pipeline did not scrub it.
        let raw = list_page(status, body, self.rows_key.as_deref())
            .map_err(|e| self.client.session().scrub(e))?;
        let fingerprint = (!raw.rows.is_empty()).then(|| {
            let mut h = DefaultHasher::new();
            Value::Array(raw.rows.clone()).to_string().hash(&mut h);
            h.finish()
        });
        {
            let mut last = previous.lock().unwrap_or_else(PoisonError::into_inner);
            if fingerprint.is_some() && *last == fingerprint {
                return Err(Error::new(
                    ErrorKind::BadResponse,
                    format!(
                        "iqm answered the same rows for {position_key} {position} as for the \
                         page before; stopping to avoid a loop"
                    ),
                )
                .with_status(status));
            }
            *last = fingerprint;
        }
        let received = u64::try_from(raw.rows.len()).unwrap_or(u64::MAX);
        let total = raw.filtered_records.or(raw.total_records);
        let end = first_row.saturating_add(received);
        let more = received > 0 && received >= size && total.is_none_or(|t| end < t);
        let next = if more {
            match self.paging {
                Paging::PageNumber => position.checked_add(1).map(PageToken::Number),
                Paging::Offset => Some(PageToken::Cursor(end.to_string())),
            }
        } else {
            None
        };
        let items = typed_rows(status, raw.rows)?;
        let mut info = PageInfo::default();
        info.page = match self.paging {
            Paging::PageNumber => Some(position),
            Paging::Offset => (first_row % size == 0).then(|| first_row / size + 1),
        };
        info.page_size = Some(size);
        info.total_items = total;
        info.total_pages = total.map(|t| t.div_ceil(size));
        info.has_next = Some(next.is_some());
        Ok(Page::new(items, info, next))
    }
}

fn bad_token() -> Error {
    Error::new(
        ErrorKind::InvalidInput,
        "page token does not fit the list's paging",
    )
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
        // The kit's base URL keeps its root slash; requests join paths as before.
        assert_eq!(c.base_url().as_str().trim_end_matches('/'), PRODUCTION_URL);
        let c = Client::builder()
            .with_credentials(creds())
            .with_base_url("http://127.0.0.1:9/prefix/")
            .build()
            .unwrap();
        assert_eq!(
            c.base_url().as_str().trim_end_matches('/'),
            "http://127.0.0.1:9/prefix"
        );
        assert_eq!(
            c.url(OW_ID_PATH).unwrap().as_str(),
            "http://127.0.0.1:9/prefix/api/v3/ua/user/ow-id"
        );
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
