//! The client: the builder on the auth-core kit (platform id and environment, the documented
//! rate limit) and the client account calls, on the kit's [`Core`].

use std::ops::Deref;
use std::time::{Duration, SystemTime};

use auth_core::client::{Config, Core, Env, VendorBuilder, VendorInfo, parse_base_url};
use auth_core::http::Http;
use auth_core::limit::SharedLimiter;
use auth_core::provider::sensitive_header;
use auth_core::{Error, ErrorKind, RateLimiter};
use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderName};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use url::Url;
use uuid::Uuid;

use crate::auth::{ServiceCredentials, ServiceLogin, login_url};
use crate::error::{PlatformErrors, error_in_success};
use crate::models::{ClientLogin, ClientToken, ClientTokenAnswer, ClientUpdate, NewClient};

pub(crate) const SIGNUP_PATH: &str = "/v1/client/signup";
pub(crate) const CLIENT_LOGIN_PATH: &str = "/v1/client/login";
/// The route template of update and delete, used as the rate-limit key.
const CLIENT_PATH: &str = "/v1/client/{user_id}";

/// The platform's documented limit: 300 calls per minute per endpoint.
pub const RATE_LIMIT_PER_MINUTE: u32 = 300;

/// Which of your two platform deployments to talk to.
///
/// ```
/// use platformio::Environment;
/// assert_eq!(Environment::Staging.base_url("acme")?.as_str(), "https://api.staging.acme.platform.io/");
/// assert_eq!(Environment::Production.base_url("acme")?.as_str(), "https://api.acme.platform.io/");
/// assert!(Environment::Production.base_url("bad id!").unwrap_err().is_config());
/// assert_eq!(Environment::parse("Production")?, Environment::Production);
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
    /// The base URL of this environment for `platform_id` (a `Config` error when the id
    /// cannot be a host label).
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

    /// Parse `staging` or `production` (case-insensitive; `prod` too), as
    /// `PLATFORMIO_ENVIRONMENT` is read.
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

/// The kit's default base URL, standing for "none was given": the platform has no one
/// production host, the platform id and the environment make it.
// KIT-NEED: `Config` cannot say whether a base URL was set (no getter, and `finish` takes
// only a `'static` default); a vendor whose default URL is built at run time needs one.
const NO_BASE_URL: &str = "https://platform-id-required.invalid";
const NO_BASE_URL_HOST: &str = "platform-id-required.invalid";

/// Builds a [`Client`]: the service user's credentials, and where the platform is (a
/// platform id and an environment, or a base URL).
///
/// ```
/// use platformio::{Client, Environment, ServiceCredentials};
/// let client = Client::builder()
///     .with_platform_id("my_company_platform_id")
///     .with_environment(Environment::Staging)
///     .with_credentials(ServiceCredentials::new("service_user", "xxxyyy"))
///     .build()?;
/// assert_eq!(client.base_url().as_str(), "https://api.staging.my_company_platform_id.platform.io/");
///
/// // A base URL wins over the platform id; without either, or without credentials, no client.
/// let proxied = Client::builder()
///     .with_platform_id("my_company_platform_id")
///     .with_base_url("https://proxy.example.com/platform/")
///     .with_credentials(ServiceCredentials::new("service_user", "xxxyyy"))
///     .build()?;
/// assert_eq!(proxied.base_url().as_str(), "https://proxy.example.com/platform/");
/// assert!(Client::builder().with_credentials(ServiceCredentials::new("u", "p")).build().unwrap_err().is_config());
/// assert!(Client::builder().with_platform_id("acme").build().unwrap_err().is_config());
/// # Ok::<(), platformio::Error>(())
/// ```
#[derive(Debug, Default)]
#[must_use]
pub struct ClientBuilder {
    kit: Config<ServiceCredentials>,
    platform_id: Option<String>,
    environment: Environment,
    /// A variable `with_env` could not read, reported by `build`.
    // KIT-NEED: `VendorBuilder::read_env` cannot fail; an invalid PLATFORMIO_ENVIRONMENT is
    // kept here and returned by `build`, as `from_env` returned it before.
    env_error: Option<Error>,
}

impl VendorBuilder for ClientBuilder {
    type Credentials = ServiceCredentials;
    const VENDOR: VendorInfo = VendorInfo {
        name: "platformio",
        env_prefix: "PLATFORMIO",
        default_base_url: NO_BASE_URL,
    };

    fn kit(&mut self) -> &mut Config<ServiceCredentials> {
        &mut self.kit
    }

    /// `PLATFORMIO_PLATFORM_ID`, `PLATFORMIO_ENVIRONMENT` (`staging` by default),
    /// `PLATFORMIO_USERNAME` and `PLATFORMIO_PASSWORD`.
    fn read_env(mut self, env: &Env) -> Self {
        if let Some(id) = env.var("PLATFORM_ID") {
            self = self.with_platform_id(id);
        }
        if let Some(name) = env.var("ENVIRONMENT") {
            match Environment::parse(&name) {
                Ok(e) => self = self.with_environment(e),
                Err(e) => self.env_error = Some(e),
            }
        }
        match (env.var("USERNAME"), env.var("PASSWORD")) {
            (Some(user), Some(password)) => {
                self.with_credentials(ServiceCredentials::new(user, password))
            }
            _ => self,
        }
    }
}
auth_core::client_builder!(ClientBuilder);

impl ClientBuilder {
    /// Build the base URL from the `platform_id` given at onboarding (with the
    /// [environment](Self::with_environment)), rather than spelling the URL out; a base URL
    /// set with `with_base_url` wins.
    pub fn with_platform_id(mut self, platform_id: impl Into<String>) -> Self {
        self.platform_id = Some(platform_id.into());
        self
    }

    /// Talk to your staging deployment (the default, so tests never reach production by
    /// accident) or to production.
    pub fn with_environment(mut self, environment: impl Into<Environment>) -> Self {
        self.environment = environment.into();
        self
    }

    /// Keep under the documented limit of 300 calls per minute per endpoint: calls over it
    /// wait for a slot rather than being answered 429. Off by default. A limiter of your own
    /// (`with_rate_limiter`) counts the same way when it is `per_endpoint`: each route once
    /// (`PUT /v1/client/{user_id}` for every user id together), as the platform does.
    pub fn with_documented_rate_limit(self) -> Self {
        self.with_rate_limiter(
            RateLimiter::new(RATE_LIMIT_PER_MINUTE, Duration::from_secs(60)).per_endpoint(),
        )
    }

    /// Build the client. Nothing is sent until the first call.
    pub fn build(mut self) -> Result<Client, Error> {
        if let Some(e) = self.env_error.take() {
            return Err(e);
        }
        let limiter = self.kit.rate_limiter().cloned();
        let mut parts = self.kit.finish(&Self::VENDOR, PlatformErrors)?;
        if parts.base_url.host_str() == Some(NO_BASE_URL_HOST) {
            parts.base_url = match &self.platform_id {
                Some(id) => self.environment.base_url(id)?,
                None => {
                    return Err(Error::new(
                        ErrorKind::Config,
                        "a base url or a platform id is required",
                    ));
                }
            };
        }
        if limiter.is_some() {
            parts.http = without_limiter(&parts.http, &parts.base_url);
        }
        let provider = ServiceLogin {
            http: parts.http.clone(),
            login_url: login_url(&parts.base_url),
            credentials: parts.credentials.clone(),
            limiter: limiter.clone(),
        };
        let session = parts.session(provider);
        Ok(Client {
            core: Core::new(session, parts.base_url),
            limiter,
        })
    }
}

/// `http` without its rate limiter: the same `reqwest` client, clock and error parser.
// KIT-NEED: the kit's transport keys a per-endpoint limiter on the raw path, so
// `PUT /v1/client/{user_id}` would count once per user id (and a 401 retry twice); the
// platform counts the route. The client applies the limiter itself with the route template.
fn without_limiter(http: &Http, base_url: &Url) -> Http {
    let (client, _) = http.request(Method::GET, base_url.clone()).build_split();
    Http::with_client(client)
        .with_clock(http.clock().clone())
        .with_error_parser(PlatformErrors)
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
    let text = scrub_jwts(&auth_core::http::scrub(
        &String::from_utf8_lossy(bytes),
        secrets,
    ));
    // The parser decodes what the text scrub saw: scrub what it made too, as data.
    error_in_success(status, headers, &text).map(|e| e.scrubbed(secrets))
}

/// Replace every JWT-shaped word with `[REDACTED]`. On a success answer the session's own
/// scrubbing of the API token does not run, and the API token is always a JWT.
fn scrub_jwts(text: &str) -> String {
    let is_token_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '=');
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if word.matches('.').count() == 2 && auth_core::jwt::looks_like_jwt(word) {
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
    let bytes = auth_core::http::read_bounded(resp, auth_core::http::DEFAULT_MAX_BODY).await?;
    auth_core::http::parse_json(&bytes).map_err(|e| {
        reported_error(status, &headers, &bytes, secrets).unwrap_or_else(|| e.with_status(status))
    })
}

/// A success answer documented without a body (update 200, delete 204): fine unless the
/// body is the platform's error shape.
async fn expect_no_error(resp: reqwest::Response, secrets: &[&SecretString]) -> Result<(), Error> {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = auth_core::http::read_bounded(resp, MAX_EMPTY_ANSWER).await?;
    match reported_error(status, &headers, &bytes, secrets) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// A client of the platform's REST API. Cheap to clone; clones share the cached API token.
///
/// The service user's API token is fetched on first use, cached, and fetched again when it
/// is expired or within the renewal margin of its JWT `exp` (never once per call). What
/// every vendor client has (`session_stats`, `settle`, `token_expiry`, `base_url`, generic
/// authorized `request`s) comes from the kit's [`Core`], which `Client` dereferences to.
#[derive(Clone, Debug)]
pub struct Client {
    core: Core,
    /// Applied per call with the route template (see `ClientBuilder::build`).
    limiter: Option<SharedLimiter>,
}

impl Deref for Client {
    type Target = Core;
    fn deref(&self) -> &Core {
        &self.core
    }
}

impl Client {
    /// Start building a client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client from the environment: `PLATFORMIO_BASE_URL` or `PLATFORMIO_PLATFORM_ID`
    /// (with `PLATFORMIO_ENVIRONMENT`, `staging` by default), `PLATFORMIO_USERNAME` and
    /// `PLATFORMIO_PASSWORD`.
    pub fn from_env() -> Result<Client, Error> {
        Self::builder().with_env().build()
    }

    /// Make sure a valid API token is cached (logging the service user in if needed) and
    /// return when it expires: a start-up check that the credentials work.
    pub async fn sign_in(&self) -> Result<Option<SystemTime>, Error> {
        let lease = self.session().token().await?;
        Ok(lease.tokens().expiry().expires_at())
    }

    /// Create a client account (`POST /v1/client/signup`) and return its client token.
    /// A user id that already exists fails with an error for which
    /// [`ErrorExt::is_user_id_taken`](crate::ErrorExt::is_user_id_taken) is true.
    pub async fn sign_up(&self, client: &NewClient) -> Result<ClientToken, Error> {
        let body = client.to_body()?;
        self.limit(&Method::POST, SIGNUP_PATH).await?;
        let resp = self
            .request(Method::POST, SIGNUP_PATH)
            .json(&body)
            .scrub_secret(client.password().clone())
            .send()
            .await?;
        let answer: ClientTokenAnswer = read_answer(resp, &[client.password()]).await?;
        Ok(answer.client_token)
    }

    /// Log a client in (`POST /v1/client/login`, the page's "create a session"): the client
    /// token and the account's details.
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
        self.limit(&Method::POST, CLIENT_LOGIN_PATH).await?;
        let resp = self
            .request(Method::POST, CLIENT_LOGIN_PATH)
            .json(&body)
            .scrub_secret(password.clone())
            .send()
            .await?;
        read_answer(resp, &[&password]).await
    }

    /// Update a client account partially (`PUT /v1/client/{user_id}` with `Client-Token`).
    /// Fields not set in `update` are left unchanged; a cleared field is sent as `null`.
    pub async fn update_client(
        &self,
        user_id: Uuid,
        client_token: &ClientToken,
        update: &ClientUpdate,
    ) -> Result<(), Error> {
        let body = update.to_body()?;
        let mut secrets = vec![client_token.as_secret()];
        secrets.extend(update.password_secret());
        let resp = self
            .client_request(Method::PUT, user_id, client_token, &secrets)
            .await?
            .json(&body)
            .send()
            .await?;
        expect_no_error(resp, &secrets).await
    }

    /// Delete a client account (`DELETE /v1/client/{user_id}` with `Client-Token` and the
    /// reason); the platform answers 204.
    pub async fn delete_client(
        &self,
        user_id: Uuid,
        client_token: &ClientToken,
        reason: impl Into<String>,
    ) -> Result<(), Error> {
        let body = serde_json::json!({"reason": reason.into()});
        let secrets = [client_token.as_secret()];
        let resp = self
            .client_request(Method::DELETE, user_id, client_token, &secrets)
            .await?
            .json(&body)
            .send()
            .await?;
        expect_no_error(resp, &secrets).await
    }

    async fn limit(&self, method: &Method, route: &str) -> Result<(), Error> {
        if let Some(l) = &self.limiter {
            l.acquire(method, route).await?;
        }
        Ok(())
    }

    /// An authorized request on one client's account, with its `Client-Token`; `secrets`
    /// are scrubbed from any error.
    async fn client_request(
        &self,
        method: Method,
        user_id: Uuid,
        client_token: &ClientToken,
        secrets: &[&SecretString],
    ) -> Result<auth_core::AuthorizedRequest, Error> {
        self.limit(&method, CLIENT_PATH).await?;
        let header = sensitive_header("", client_token.as_secret()).map_err(|_| {
            Error::new(
                ErrorKind::InvalidInput,
                "client token holds characters not allowed in a header",
            )
        })?;
        let path = format!("/v1/client/{}", user_id.hyphenated());
        let mut req = self
            .request(method, &path)
            .header(HeaderName::from_static("client-token"), header);
        for s in secrets {
            req = req.scrub_secret((*s).clone());
        }
        Ok(req)
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
