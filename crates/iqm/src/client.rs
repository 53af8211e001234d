//! The client, its builder on the auth-core kit, the account calls (sign-up, login,
//! refresh, logout, workspace id) and the `{success, data}` helpers for the rest of IQM's API.

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use auth_core::client::{Config, Core, Env, VendorBuilder, VendorInfo};
use auth_core::{AuthorizedRequest, Error, ErrorKind, RateLimiter};
use reqwest::Method;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::auth::{
    ClientCredentials, Credentials, IqmAuth, LOGOUT_PATH, LoginFlow, OW_ID_PATH, OwId, RefreshFlow,
    SIGN_UP_PATH, authorize_headers, parse_ow_id, parse_token_answer,
};
use crate::error::IqmErrors;
use crate::models::{SignUp, decode_data, unwrap_data};

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
    pub async fn send_data<T: DeserializeOwned>(
        &self,
        request: AuthorizedRequest,
    ) -> Result<T, Error> {
        let resp = request.send().await?;
        let status = resp.status().as_u16();
        let limit = auth_core::http::DEFAULT_MAX_BODY;
        let decoded = auth_core::http::with_body(resp, limit, |b| decode_data(status, b)).await?;
        // A `success: false` answer is a 200: the pipeline did not scrub it.
        decoded.map_err(|e| self.session().scrub(e))
    }

    /// `GET path` and decode the `data` of the answer (see [`send_data`](Self::send_data)).
    pub async fn get_data<T: DeserializeOwned>(&self, path: &str) -> Result<T, Error> {
        self.send_data(self.request(Method::GET, path)).await
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
