//! The client kit: the builder settings and the shared client part every vendor client is
//! made of, written once.
//!
//! A vendor crate declares only what is its own: its [`VendorInfo`] (name, environment
//! prefix, production URL), its credentials, its options, its token provider and its
//! operations. The kit brings the rest:
//!
//! - [`Config`]: base URL or environment, credentials, clock, your own `reqwest::Client`,
//!   rate limiter (this process's or a fleet's), token store (to share the token set with
//!   other processes), token-request timeout, wait bound and renewal retries, with the
//!   base-URL and plain-http checks done once in [`Config::finish`];
//! - [`client_builder!`](crate::client_builder): the builder's setters generated on the
//!   vendor's own builder type, so users call `Client::builder().with_base_url(..)` with
//!   nothing to import;
//! - [`Core`]: what every built client has (session stats, settle, token expiry, generic
//!   authorized requests with JSON helpers). Vendor clients dereference to it.
//!
//! A whole vendor on the kit, in a few lines:
//!
//! ```
//! use auth_core::client::{Config, Core, Env, VendorBuilder, VendorInfo};
//! use auth_core::provider::{TokenProvider, async_trait};
//! use auth_core::{AccessToken, Error, Expiry, TokenSet};
//!
//! #[derive(Debug)]
//! struct KeyAuth(String);
//!
//! #[async_trait]
//! impl TokenProvider for KeyAuth {
//!     async fn sign_in(&self) -> Result<TokenSet, Error> {
//!         Ok(TokenSet::new(AccessToken::new(self.0.clone()), Expiry::never()))
//!     }
//! }
//!
//! #[derive(Debug, Default)]
//! pub struct ClientBuilder {
//!     kit: Config<String>,
//! }
//!
//! impl VendorBuilder for ClientBuilder {
//!     type Credentials = String;
//!     const VENDOR: VendorInfo = VendorInfo {
//!         name: "example",
//!         env_prefix: "EXAMPLE",
//!         default_base_url: "https://api.example.com",
//!     };
//!     fn kit(&mut self) -> &mut Config<String> {
//!         &mut self.kit
//!     }
//!     fn read_env(self, env: &Env) -> Self {
//!         match env.var("API_KEY") {
//!             Some(key) => self.with_credentials(key),
//!             None => self,
//!         }
//!     }
//! }
//! auth_core::client_builder!(ClientBuilder);
//!
//! impl ClientBuilder {
//!     pub fn build(self) -> Result<Core, Error> {
//!         let parts = self.kit.finish(&Self::VENDOR, auth_core::http::PlainTextErrors)?;
//!         let session = parts.session(KeyAuth(parts.credentials.clone()));
//!         Ok(Core::new(session, parts.base_url))
//!     }
//! }
//!
//! let client = ClientBuilder::default().with_credentials("k".to_owned()).build()?;
//! assert_eq!(client.base_url().as_str(), "https://api.example.com/");
//! // The checks are the kit's: plain http is refused at build, off loopback.
//! let refused = ClientBuilder::default()
//!     .with_base_url("http://api.example.com")
//!     .with_credentials("k".to_owned())
//!     .build();
//! assert!(refused.unwrap_err().is_insecure_transport());
//! # Ok::<(), Error>(())
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::Method;
use serde::de::DeserializeOwned;
use url::Url;

use crate::clock::SharedClock;
use crate::error::{Error, ErrorKind};
use crate::http::{ErrorParser, Http};
use crate::limit::SharedLimiter;
use crate::provider::TokenProvider;
use crate::request::AuthorizedRequest;
use crate::retry::RetryPolicy;
use crate::session::{Session, SessionStats};
use crate::store::{Identity, ShareSettings, SharedTokenStore, StoreKey};

/// What a vendor crate tells the kit about itself.
///
/// ```
/// let iqm = auth_core::client::VendorInfo {
///     name: "iqm",
///     env_prefix: "IQM",
///     default_base_url: "https://api.iqm.com",
/// };
/// assert_eq!(auth_core::client::Env::new(iqm.env_prefix).name("BASE_URL"), "IQM_BASE_URL");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VendorInfo {
    /// The vendor's name, for messages.
    pub name: &'static str,
    /// The prefix of the environment variables `with_env` reads (`IQM` reads
    /// `IQM_BASE_URL`, `IQM_CLIENT_ID`, ...).
    pub env_prefix: &'static str,
    /// The production API, used when no base URL is given.
    pub default_base_url: &'static str,
}

/// Reads a vendor's environment variables: `{prefix}_{name}`, blank values treated as unset.
///
/// ```
/// let env = auth_core::client::Env::new("EXAMPLE_VENDOR_THAT_IS_NOT_SET");
/// assert_eq!(env.var("BASE_URL"), None);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Env {
    prefix: &'static str,
}

impl Env {
    /// A reader of the variables starting with `prefix` and `_`.
    pub fn new(prefix: &'static str) -> Self {
        Env { prefix }
    }

    /// The full name of variable `name`.
    pub fn name(&self, name: &str) -> String {
        format!("{}_{name}", self.prefix)
    }

    /// The value of `{prefix}_{name}`, if set and not blank.
    pub fn var(&self, name: &str) -> Option<String> {
        std::env::var(self.name(name))
            .ok()
            .filter(|v| !v.trim().is_empty())
    }
}

/// The settings every vendor's builder has. A vendor builder holds one (and its own
/// options beside it); [`client_builder!`](crate::client_builder) generates the setters.
#[must_use]
pub struct Config<C> {
    base_url: Option<String>,
    credentials: Option<C>,
    clock: Option<SharedClock>,
    http_client: Option<reqwest::Client>,
    limiter: Option<SharedLimiter>,
    token_store: Option<(SharedTokenStore, ShareSettings)>,
    session: SessionSettings,
}

#[derive(Debug, Clone, Copy, Default)]
struct SessionSettings {
    token_timeout: Option<Duration>,
    max_wait: Option<Duration>,
    retries: Option<RetryPolicy>,
}

impl<C> Default for Config<C> {
    fn default() -> Self {
        Config {
            base_url: None,
            credentials: None,
            clock: None,
            http_client: None,
            limiter: None,
            token_store: None,
            session: SessionSettings::default(),
        }
    }
}

// Credentials hold secrets: Debug shows only whether they are set.
impl<C> fmt::Debug for Config<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("base_url", &self.base_url)
            .field("credentials", &self.credentials.is_some())
            .field("own_http_client", &self.http_client.is_some())
            .field("limiter", &self.limiter)
            .field("token_store", &self.token_store)
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

impl<C> Config<C> {
    /// Set the base URL (checked at [`finish`](Self::finish)).
    pub fn set_base_url(&mut self, url: String) {
        self.base_url = Some(url);
    }

    /// Set the credentials.
    pub fn set_credentials(&mut self, credentials: C) {
        self.credentials = Some(credentials);
    }

    /// The credentials set so far.
    pub fn credentials(&self) -> Option<&C> {
        self.credentials.as_ref()
    }

    /// Set the clock.
    pub fn set_clock(&mut self, clock: SharedClock) {
        self.clock = Some(clock);
    }

    /// The clock set so far (the system clock when none is).
    pub fn clock(&self) -> SharedClock {
        self.clock.clone().unwrap_or_default()
    }

    /// Send through this `reqwest::Client`.
    pub fn set_http_client(&mut self, client: reqwest::Client) {
        self.http_client = Some(client);
    }

    /// Set the client-side rate limiter: a [`RateLimiter`](crate::RateLimiter) of this
    /// process or any [`Limiter`](crate::limit::Limiter) (one a fleet shares).
    pub fn set_rate_limiter(&mut self, limiter: impl Into<SharedLimiter>) {
        self.limiter = Some(limiter.into());
    }

    /// The rate limiter set so far.
    pub fn rate_limiter(&self) -> Option<&SharedLimiter> {
        self.limiter.as_ref()
    }

    /// Share the token set through `store` (see [`Session::with_token_store`]): the key is
    /// made at [`Parts::session`] from the vendor's name, the base URL, the provider's
    /// [`identity`](TokenProvider::identity) and its [`secrets`](TokenProvider::secrets),
    /// hashed by the store.
    pub fn set_token_store(&mut self, store: impl Into<SharedTokenStore>, settings: ShareSettings) {
        self.token_store = Some((store.into(), settings));
    }

    /// Bound each token request (see [`Session::with_token_timeout`]).
    pub fn set_token_timeout(&mut self, timeout: Duration) {
        self.session.token_timeout = Some(timeout);
    }

    /// Bound each caller's wait for a renewal (see [`Session::with_max_wait`]).
    pub fn set_max_wait(&mut self, max_wait: Duration) {
        self.session.max_wait = Some(max_wait);
    }

    /// How renewals retry a failing token endpoint (see [`Session::with_renewal_retries`]).
    pub fn set_renewal_retries(&mut self, policy: RetryPolicy) {
        self.session.retries = Some(policy);
    }

    /// Read `{prefix}_BASE_URL` (the vendor reads its own credentials and options).
    pub fn read_env(&mut self, env: &Env) {
        if let Some(url) = env.var("BASE_URL") {
            self.base_url = Some(url);
        }
    }

    /// Check everything and hand over the parts a vendor client is made of: the base URL
    /// (given, else the vendor's production URL) parsed, `http` or `https` with no query or
    /// fragment, and plain `http` only to loopback; the credentials (a `Config` error when
    /// none were given); the transport with the clock, the client, the limiter and the
    /// vendor's error parser.
    pub fn finish(
        self,
        vendor: &VendorInfo,
        parser: impl ErrorParser + 'static,
    ) -> Result<Parts<C>, Error> {
        let raw = self.base_url.as_deref().unwrap_or(vendor.default_base_url);
        let base_url = parse_base_url(raw)?;
        let credentials = self.credentials.ok_or_else(|| {
            Error::new(
                ErrorKind::Config,
                format!("no {} credentials were given", vendor.name),
            )
        })?;
        let http = match self.http_client {
            Some(client) => Http::with_client(client),
            None => Http::new()?,
        };
        let mut http = http.with_error_parser(parser);
        if let Some(clock) = self.clock {
            http = http.with_clock(clock);
        }
        if let Some(limiter) = self.limiter {
            http = http.with_rate_limiter(limiter);
        }
        Ok(Parts {
            base_url,
            credentials,
            http,
            session: self.session,
            vendor: vendor.name,
            token_store: self.token_store,
        })
    }
}

/// A base URL checked as [`Config::finish`] checks it: an `http` or `https` URL that can be
/// a base, with no query or fragment, and plain `http` only to a loopback host. For a
/// vendor with more than one host (IntelePeer's portal and API).
///
/// ```
/// use auth_core::client::parse_base_url;
/// assert_eq!(parse_base_url(" https://api.example.com/v1 ")?.as_str(), "https://api.example.com/v1");
/// assert!(parse_base_url("http://127.0.0.1:9").is_ok());
/// assert!(parse_base_url("http://api.example.com").unwrap_err().is_insecure_transport());
/// assert!(parse_base_url("ftp://api.example.com").unwrap_err().is_config());
/// assert!(parse_base_url("https://api.example.com/?k=v").unwrap_err().is_config());
/// # Ok::<(), auth_core::Error>(())
/// ```
pub fn parse_base_url(raw: &str) -> Result<Url, Error> {
    let url = Url::parse(raw.trim())
        .map_err(|e| Error::new(ErrorKind::Config, "base url is not a valid url").with_source(e))?;
    if url.cannot_be_a_base() || !matches!(url.scheme(), "http" | "https") {
        return Err(Error::new(
            ErrorKind::Config,
            "base url must be an http or https url",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::new(
            ErrorKind::Config,
            "base url must not carry a query or fragment",
        ));
    }
    crate::http::ensure_secure(&url)?;
    Ok(url)
}

/// What [`Config::finish`] hands a vendor's `build`: checked, ready to use.
#[derive(Debug)]
#[non_exhaustive]
pub struct Parts<C> {
    /// The base URL, checked.
    pub base_url: Url,
    /// The credentials.
    pub credentials: C,
    /// The transport: clock, client, limiter and the vendor's error parser.
    pub http: Http,
    session: SessionSettings,
    vendor: &'static str,
    token_store: Option<(SharedTokenStore, ShareSettings)>,
}

impl<C> Parts<C> {
    /// A session for `provider` on this transport, with the builder's session settings.
    pub fn session(&self, provider: impl TokenProvider) -> Session {
        self.session_from_arc(Arc::new(provider))
    }

    /// [`session`](Self::session) for a provider the vendor keeps a handle on.
    pub fn session_from_arc(&self, provider: Arc<dyn TokenProvider>) -> Session {
        let shared = self
            .token_store
            .as_ref()
            .map(|(store, settings)| (store.clone(), self.store_key(store, &*provider), *settings));
        let mut session = Session::from_arc(provider, self.http.clone());
        let s = self.session;
        if let Some(t) = s.token_timeout {
            session = session.with_token_timeout(t);
        }
        if let Some(w) = s.max_wait {
            session = session.with_max_wait(w);
        }
        if let Some(r) = s.retries {
            session = session.with_renewal_retries(r);
        }
        if let Some((store, key, settings)) = shared {
            session = session.with_token_store(store, key, settings);
        }
        session
    }

    /// The key the token set of `provider` lives under in `store`: the vendor's name, the
    /// base URL, the provider's identity parts and its secrets, hashed by the store.
    fn store_key(&self, store: &SharedTokenStore, provider: &dyn TokenProvider) -> StoreKey {
        let mut identity = Identity::new(self.vendor).with_part(self.base_url.as_str());
        for part in provider.identity() {
            identity = identity.with_part(part);
        }
        for secret in provider.secrets() {
            identity = identity.with_secret(secret);
        }
        store.store().key(&identity)
    }
}

/// A vendor's builder as the kit sees it. Implement it, then call
/// [`client_builder!`](crate::client_builder) on the type for the setters.
pub trait VendorBuilder: Sized {
    /// The vendor's credentials.
    type Credentials;
    /// Name, environment prefix and production URL.
    const VENDOR: VendorInfo;
    /// The kit's settings inside the builder.
    fn kit(&mut self) -> &mut Config<Self::Credentials>;
    /// Read the vendor's own variables (credentials, options) from `env`; `BASE_URL` is
    /// read by the kit. Called by the generated `with_env`.
    fn read_env(self, env: &Env) -> Self;
}

/// Generate the kit's setters on a vendor's builder (which implements
/// [`VendorBuilder`](crate::client::VendorBuilder)): `with_base_url`, `with_credentials`,
/// `with_clock`, `with_http_client`, `with_rate_limiter`, `with_token_store`,
/// `with_token_timeout`, `with_max_wait`, `with_renewal_retries` and `with_env`. See the
/// [module docs](crate::client) for a whole vendor.
#[macro_export]
macro_rules! client_builder {
    ($builder:ty) => {
        impl $builder {
            /// Talk to this base URL instead of the vendor's production API (a sandbox, a
            /// proxy, a regional host). Plain `http://` is refused at `build` unless the
            /// host is loopback, so credentials never cross a network unencrypted.
            pub fn with_base_url(mut self, url: impl Into<String>) -> Self {
                $crate::client::VendorBuilder::kit(&mut self).set_base_url(url.into());
                self
            }

            /// The credentials to sign in with (required).
            pub fn with_credentials(
                mut self,
                credentials: impl Into<<$builder as $crate::client::VendorBuilder>::Credentials>,
            ) -> Self {
                $crate::client::VendorBuilder::kit(&mut self).set_credentials(credentials.into());
                self
            }

            /// Judge token expiry by this clock (a `ManualClock` in tests, shared with a
            /// sandbox, so expiry is driven without sleeping). Default: the system clock.
            pub fn with_clock(mut self, clock: impl Into<$crate::SharedClock>) -> Self {
                $crate::client::VendorBuilder::kit(&mut self).set_clock(clock.into());
                self
            }

            /// Send through your own `reqwest::Client` (reqwest 0.13: proxies, timeouts, a
            /// shared connection pool). Its redirect policy and TLS are yours:
            /// `auth_core::http::client_builder` starts from the default client's (same-origin
            /// redirects, rustls on ring), which needs no crypto provider installed.
            pub fn with_http_client(mut self, client: impl Into<$crate::reqwest::Client>) -> Self {
                $crate::client::VendorBuilder::kit(&mut self).set_http_client(client.into());
                self
            }

            /// Hold calls to a client-side rate limit (a vendor quota), waiting rather than
            /// being answered 429: a `RateLimiter` counts this process's calls, a fleet-wide
            /// limiter (such as `auth_store_redis::RedisLimiter`) every process's.
            pub fn with_rate_limiter(
                mut self,
                limiter: impl Into<$crate::limit::SharedLimiter>,
            ) -> Self {
                $crate::client::VendorBuilder::kit(&mut self).set_rate_limiter(limiter);
                self
            }

            /// Share the token set with every client on `store` with the same credentials
            /// and base URL: the processes of a fleet on a Redis store
            /// (`auth_store_redis::RedisStore`) sign in once and renew once per expiry,
            /// each renewal from the latest refresh token. The store never stops calls: when
            /// it fails, a client renews on its own (`session_stats().store_fallbacks`).
            /// Without it a client keeps its tokens to itself.
            pub fn with_token_store(
                mut self,
                store: impl Into<$crate::store::SharedTokenStore>,
                settings: $crate::store::ShareSettings,
            ) -> Self {
                $crate::client::VendorBuilder::kit(&mut self).set_token_store(store, settings);
                self
            }

            /// How long one token request may take (default 5 s) before it counts as a
            /// transient failure and is retried: a stalled token endpoint then holds
            /// callers for seconds, not for the HTTP client's whole request timeout.
            pub fn with_token_timeout(mut self, timeout: std::time::Duration) -> Self {
                $crate::client::VendorBuilder::kit(&mut self).set_token_timeout(timeout);
                self
            }

            /// The longest any call waits for a token renewal before it fails with a
            /// transient error (the renewal goes on for the others). Default: no bound
            /// beyond the token timeout and retries.
            pub fn with_max_wait(mut self, max_wait: std::time::Duration) -> Self {
                $crate::client::VendorBuilder::kit(&mut self).set_max_wait(max_wait);
                self
            }

            /// How a renewal retries a token endpoint that fails transiently while no valid
            /// token is left (default 3 attempts within about 0.6 s; `RetryPolicy::none()`
            /// when your code retries itself).
            pub fn with_renewal_retries(mut self, policy: $crate::provider::RetryPolicy) -> Self {
                $crate::client::VendorBuilder::kit(&mut self).set_renewal_retries(policy);
                self
            }

            /// Read the vendor's environment variables: `{PREFIX}_BASE_URL` and the
            /// vendor's credentials and options (see the crate docs for the names). Unset
            /// variables leave the builder as it was.
            pub fn with_env(mut self) -> Self {
                let env = $crate::client::Env::new(
                    <$builder as $crate::client::VendorBuilder>::VENDOR.env_prefix,
                );
                $crate::client::VendorBuilder::kit(&mut self).read_env(&env);
                $crate::client::VendorBuilder::read_env(self, &env)
            }
        }
    };
}

/// What every vendor client has, whatever the vendor: its session and its base URL, with
/// the calls that need nothing vendor-specific. Vendor clients dereference to it.
#[derive(Clone)]
pub struct Core {
    session: Session,
    /// Shared: a vendor request type that holds its client clones it per call.
    base: Arc<Base>,
}

struct Base {
    url: Url,
    /// What request paths are resolved against (see [`Core::url`]).
    dir: Dir,
}

/// The directory request paths resolve in: the base URL's path with one trailing slash.
#[derive(Clone)]
enum Dir {
    /// The base URL itself (`https://h/` or `https://h/api/`).
    Base,
    /// The base URL with the slash (`https://h/api` gives `https://h/api/`).
    Own(Url),
    /// None: a base with a query or fragment, whose paths are joined as strings and parsed.
    Parse,
}

impl fmt::Debug for Core {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Core")
            .field("base_url", &self.base.url.as_str())
            .field("session", &self.session)
            .finish()
    }
}

impl Core {
    /// The shared part of a client sending through `session` to `base_url`.
    pub fn new(session: Session, base_url: Url) -> Self {
        let path = base_url.path();
        let dir_path = format!("{}/", path.trim_end_matches('/'));
        let dir = if base_url.query().is_some()
            || base_url.fragment().is_some()
            || base_url.cannot_be_a_base()
        {
            Dir::Parse
        } else if path == dir_path {
            Dir::Base
        } else {
            let mut dir = base_url.clone();
            dir.set_path(&dir_path);
            Dir::Own(dir)
        };
        Core {
            session,
            base: Arc::new(Base { url: base_url, dir }),
        }
    }

    /// The session: the cached token, renewals, the request pipeline.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// This client's session as a layer for your own `reqwest_middleware` stack: requests
    /// sent through the stack get this vendor's authorization, one 401 retry with a renewed
    /// token, and share this client's token, renewals and [`session_stats`](Self::session_stats).
    /// Put it inside a retry layer (`.with(retry).with(client.middleware())`); the
    /// [`middleware`](crate::middleware) module shows a stack and says why.
    #[cfg(feature = "middleware")]
    pub fn middleware(&self) -> crate::middleware::AuthMiddleware {
        crate::middleware::AuthMiddleware::new(self.session.clone())
    }

    /// The base URL requests are relative to.
    pub fn base_url(&self) -> &Url {
        &self.base.url
    }

    /// What the session did so far: sign-ins, refreshes, expiries, 401s recovered.
    pub fn session_stats(&self) -> SessionStats {
        self.session.stats()
    }

    /// Wait for a renewal in flight (for example one started in the background ahead of
    /// expiry), so counters and the token are settled before you read them. `Ok` when
    /// none was in flight.
    pub async fn settle(&self) -> Result<(), Error> {
        match self.session.settle().await {
            Some(Err(e)) => Err(e),
            _ => Ok(()),
        }
    }

    /// When the cached token expires, if one is cached and has an expiry.
    pub fn token_expiry(&self) -> Option<SystemTime> {
        self.session
            .current()
            .and_then(|lease| lease.tokens().expiry().expires_at())
    }

    /// An authorized request of `method` to `path` under the base URL (`path` is appended
    /// to the base URL's path, so a base of `https://h/api` and a path of `/v1/x` give
    /// `https://h/api/v1/x`). A path that does not start with `/` is refused when sent.
    pub fn request(&self, method: Method, path: &str) -> AuthorizedRequest {
        let url = self.url(path);
        let builder = url.map(|u| self.session.http().request(method, u));
        AuthorizedRequest::new(self.session.clone(), builder)
    }

    /// `GET path` and decode the JSON answer.
    pub fn get_json<'a, T: DeserializeOwned>(
        &'a self,
        path: &'a str,
    ) -> impl Future<Output = Result<T, Error>> + use<'a, T> {
        use futures::TryFutureExt as _;
        self.get(path).and_then(crate::http::read_json)
    }

    /// `GET path`, authorized: the answer of a success (any other status is an error, as
    /// [`Session::send`] makes it). Sent on this client's session as it is (no clone of it
    /// per call, as a request built with [`request`](Self::request) holds), and built again
    /// for a 401's retry ([`Session::send_built`]).
    #[inline]
    pub fn get<'a>(
        &'a self,
        path: &'a str,
    ) -> impl Future<Output = Result<reqwest::Response, Error>> + Send + 'a {
        self.session.send_built(move || {
            self.session
                .http()
                .new_request(Method::GET, self.url(path)?)
        })
    }

    /// The URL of `path` under the base URL.
    pub fn url(&self, path: &str) -> Result<Url, Error> {
        if !path.starts_with('/') {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "request path must start with '/'",
            ));
        }
        // Resolved against the base as a relative reference, the scheme and host are not
        // parsed again (most of a URL's parsing) and no string is formatted. A path the
        // resolution would read otherwise than the joined string is joined and parsed.
        let rest = &path[1..];
        let first_segment = rest.split(['/', '\\', '?', '#']).next().unwrap_or_default();
        let relative = !rest.starts_with(['/', '\\'])
            && !rest.starts_with(|c: char| c <= ' ')
            && !first_segment.contains(':');
        let dir = match &self.base.dir {
            Dir::Base => Some(&self.base.url),
            Dir::Own(dir) => Some(dir),
            Dir::Parse => None,
        };
        let joined = match dir.filter(|_| relative) {
            Some(dir) => dir.join(rest),
            None => {
                let base = self.base.url.as_str().trim_end_matches('/');
                Url::parse(&format!("{base}{path}"))
            }
        };
        joined.map_err(|e| {
            Error::new(
                ErrorKind::InvalidInput,
                "request path is not valid in a url",
            )
            .with_source(e)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How `Core::url` joined paths before it resolved them against the base: the one
    /// reading of a path the faster resolution must agree with.
    fn joined_and_parsed(base: &Url, path: &str) -> Option<String> {
        let base = base.as_str().trim_end_matches('/');
        Url::parse(&format!("{base}{path}")).ok().map(String::from)
    }

    /// The bases the resolution tests resolve paths against.
    const BASES: [&str; 11] = [
        "https://api.example.com",
        "https://api.example.com/",
        "https://api.example.com/api",
        "https://api.example.com/api/",
        "https://api.example.com/api//",
        "http://127.0.0.1:9/prefix/",
        "https://h.example.com/a/b%20c",
        "https://h.example.com:8443/v1.0/",
        "https://[::1]:8080/v2",
        "https://api.example.com/?q=1",
        "https://api.example.com/a#f",
    ];

    /// `core.url(path)` is what the joined string parses to (or fails alike).
    fn assert_resolves(core: &Core, base: &Url, path: &str) {
        let resolved = core.url(path).ok().map(String::from);
        assert_eq!(
            resolved,
            joined_and_parsed(base, path),
            "base {base}, path {path:?}"
        );
    }

    /// A core on `base` whose session never signs in (only its URLs are asked for).
    fn core(base: &Url) -> Core {
        #[derive(Debug)]
        struct None_;
        #[async_trait::async_trait]
        impl TokenProvider for None_ {
            async fn sign_in(&self) -> Result<crate::TokenSet, Error> {
                Err(Error::new(ErrorKind::Config, "unused"))
            }
        }
        let http = Http::with_client(crate::http::default_client().unwrap());
        Core::new(Session::new(None_, http), base.clone())
    }

    #[test]
    fn a_path_resolves_as_the_joined_string_parses() {
        let paths = [
            "/",
            "/x",
            "/api/v3/ua/user/ow-id",
            "/a/b/",
            "/a//b",
            "//evil.example.com/x",
            "/\\evil.example.com/x",
            "/\\x",
            "/./x",
            "/../x",
            "/a/../../x",
            "/%2e%2e/x",
            "/.%2E/x",
            "/x?q=1&r=a b",
            "/?q",
            "/#frag",
            "/x#a?b",
            "/v1:batch",
            "/a:b/c",
            "/mailto:x",
            "/http://other.example.com/",
            "/ leading",
            "/\tx",
            "/x\ny",
            "/trailing ",
            "/caf\u{e9}/\u{1f600}",
            "/a%2Fb",
            "/a%zz",
            "/[x]",
            "/a|b^c`d{e}",
            "/C:/windows",
            "/~user/'quoted'\"",
            "/api/v3/campaigns/200001",
            "/a.b/.hidden/..x/x../...",
            "/a/./b",
            "/a/b/..",
            "/a/.",
            "/v1/items:batchGet",
            "/a-b_c~d!e$f&g'h(i)j*k+l,m;n=o:p@q",
            "/trailing/",
            "/double//slash",
        ];
        for base in BASES {
            let base = Url::parse(base).unwrap();
            let core = core(&base);
            for path in paths {
                assert_resolves(&core, &base, path);
            }
        }
    }

    /// Paths made at random of the characters that make a path read otherwise (dots,
    /// slashes, escapes, a query or fragment, a scheme's colon, spaces, backslashes,
    /// non-ASCII), 1000 on each base: every one resolves as the joined string parses,
    /// whether `Core::url` resolves it against the base or joins and parses it.
    #[test]
    fn random_paths_resolve_as_the_joined_string_parses() {
        let alphabet = [
            "a", "Z", "0", "-", "_", "~", ".", ".", "/", "/", "%", "%2e", "?", "#", ":", " ", "\\",
            "@", "=", "&", "+", "\u{e9}", "[", "|",
        ];
        // xorshift64, from a fixed seed: the same paths every run.
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for base in BASES {
            let base = Url::parse(base).unwrap();
            let core = core(&base);
            for _ in 0..1000 {
                let len = (next() % 10) as usize;
                let mut path = String::from("/");
                for _ in 0..len {
                    path.push_str(alphabet[(next() % alphabet.len() as u64) as usize]);
                }
                assert_resolves(&core, &base, &path);
            }
        }
    }
}
