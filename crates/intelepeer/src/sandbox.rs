//! An in-process fake of IntelePeer (feature `sandbox`) for this crate's tests, its
//! quickstart, and your own tests.
//!
//! One local server plays the Customer Portal and the SMS API:
//!
//! | route | name for [`Sandbox::hits`] | rules |
//! |---|---|---|
//! | `POST /_rest/v4/authenticate` | `authenticate` | JSON `{username, password}`, `Content-Type` and `Accept: application/json`; bad credentials: 401 `{"code":401,"error":"Unauthorized"}` |
//! | `POST /_rest/v4/app/sms/authenticate/get_portal_auth_token` | `sms_authenticate` | same as above |
//! | `POST /_rest/v4/app/sms/send` | `send_sms` | `Authorization: Bearer <token>` (a raw token is refused); JSON `{from, to, text}` |
//! | `GET /_rest/v4/my/accounts?page=&pageSize=` | `accounts` | `Authorization: <token>` raw (`Bearer` is refused, and so is the static CPaaS token) |
//!
//! Tokens are opaque (`ipt-1`, ...) or JWTs with `exp`, as chosen, live the configured
//! lifetime (24 hours by default) judged by the clock you inject, and expired or unknown
//! tokens get a 401. Errors use IntelePeer's `{"code":..., "error":...}` shape. Faults (401,
//! 429, 5xx) can be queued for the next authorized call or the next authentication.
//!
//! # In your own tests
//!
//! Enable the feature for tests only; [`ManualClock`] and [`Fault`] are re-exported here, so
//! no other dependency is needed:
//!
//! ```toml
//! [dev-dependencies]
//! intelepeer = { version = "0.1", features = ["sandbox"] }
//! ```
//!
//! Start it inside a tokio runtime (`#[tokio::test]`), build your client from
//! [`Sandbox::client_builder`] (or point `Client::builder().with_base_url(..)` at
//! [`Sandbox::base_url`] with [`Sandbox::USERNAME`] / [`Sandbox::PASSWORD`]), and move the
//! shared clock instead of sleeping:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), intelepeer::Error> {
//! use std::time::Duration;
//! use intelepeer::sandbox::{ManualClock, Sandbox};
//!
//! let clock = ManualClock::new();
//! let sandbox = Sandbox::builder().clock(clock.clone()).start().await;
//! let client = sandbox.client_builder().build()?; // wired to the sandbox, same clock
//! client.accounts_page(1, 10).await?;
//! clock.advance(Duration::from_secs(24 * 3600));    // cross the 24-hour mark
//! client.accounts_page(1, 10).await?;
//! assert_eq!(sandbox.token_requests(), 2);
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

pub use auth_core::ManualClock;
pub use auth_core::sandbox::Fault;

use auth_core::SharedClock;
use auth_core::sandbox::{
    Faults, Hits, HttpMockRequest, HttpMockResponse, MockServer, Recorder, TokenCheck, TokenStore,
    header, json, mint_jwt, unix_seconds,
};
use serde_json::{Value, json};

use crate::auth::Credentials;
use crate::client::ClientBuilder;

/// Which kind of token the sandbox issues.
///
/// ```
/// assert_eq!(intelepeer::sandbox::TokenStyle::default(), intelepeer::sandbox::TokenStyle::Opaque);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TokenStyle {
    /// An opaque string: the client must count 24 hours itself.
    #[default]
    Opaque,
    /// A JWT whose `exp` is issue time plus the lifetime.
    Jwt,
}

/// Configures and starts a [`Sandbox`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use intelepeer::sandbox::{Sandbox, TokenStyle};
/// let sandbox = Sandbox::builder()
///     .clock(intelepeer::sandbox::ManualClock::new())
///     .token_lifetime(std::time::Duration::from_secs(3600))
///     .token_style(TokenStyle::Jwt)
///     .user("ops", "ops-password")
///     .accounts(5)
///     .start()
///     .await;
/// # drop(sandbox); }
/// ```
#[must_use]
pub struct SandboxBuilder {
    clock: SharedClock,
    lifetime: Duration,
    style: TokenStyle,
    users: HashMap<String, String>,
    accounts: usize,
    auth_delay: Duration,
}

// By hand: the users' passwords must not show.
impl fmt::Debug for SandboxBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut users: Vec<&str> = self.users.keys().map(String::as_str).collect();
        users.sort_unstable();
        f.debug_struct("SandboxBuilder")
            .field("lifetime", &self.lifetime)
            .field("style", &self.style)
            .field("users", &users)
            .field("accounts", &self.accounts)
            .field("auth_delay", &self.auth_delay)
            .finish_non_exhaustive()
    }
}

impl SandboxBuilder {
    /// The clock tokens are judged by (share a `ManualClock` with the client).
    ///
    /// ```
    /// let b = intelepeer::sandbox::Sandbox::builder().clock(intelepeer::sandbox::ManualClock::new());
    /// # drop(b);
    /// ```
    pub fn clock(mut self, clock: impl Into<SharedClock>) -> Self {
        self.clock = clock.into();
        self
    }

    /// How long issued tokens live (default 24 hours).
    ///
    /// ```
    /// let b = intelepeer::sandbox::Sandbox::builder().token_lifetime(std::time::Duration::from_secs(60));
    /// # drop(b);
    /// ```
    pub fn token_lifetime(mut self, lifetime: impl Into<Duration>) -> Self {
        self.lifetime = lifetime.into();
        self
    }

    /// Answer every authenticate call only after `delay` of real time (default none): a
    /// slow vendor, so that concurrent callers provably wait on one authentication. Token
    /// expiry still follows the injected clock only.
    ///
    /// ```
    /// let b = intelepeer::sandbox::Sandbox::builder().auth_delay(std::time::Duration::from_millis(200));
    /// # drop(b);
    /// ```
    pub fn auth_delay(mut self, delay: impl Into<Duration>) -> Self {
        self.auth_delay = delay.into();
        self
    }

    /// Opaque tokens (default) or JWTs with `exp`.
    ///
    /// ```
    /// let b = intelepeer::sandbox::Sandbox::builder().token_style(intelepeer::sandbox::TokenStyle::Jwt);
    /// # drop(b);
    /// ```
    pub fn token_style(mut self, style: impl Into<TokenStyle>) -> Self {
        self.style = style.into();
        self
    }

    /// Add an API user (the default user [`Sandbox::USERNAME`] always exists).
    ///
    /// ```
    /// let b = intelepeer::sandbox::Sandbox::builder().user("u", "p");
    /// # drop(b);
    /// ```
    pub fn user(mut self, username: impl Into<String>, password: impl Into<String>) -> Self {
        self.users.insert(username.into(), password.into());
        self
    }

    /// How many accounts `/my/accounts` lists (default 250).
    ///
    /// ```
    /// let b = intelepeer::sandbox::Sandbox::builder().accounts(3);
    /// # drop(b);
    /// ```
    pub fn accounts(mut self, count: usize) -> Self {
        self.accounts = count;
        self
    }

    /// Start the server.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let sandbox = intelepeer::sandbox::Sandbox::builder().start().await;
    /// assert!(sandbox.base_url().starts_with("http://127.0.0.1"));
    /// # }
    /// ```
    pub async fn start(self) -> Sandbox {
        let recorder = Recorder::default();
        for password in self.users.values() {
            recorder.redact(password.clone());
        }
        let state = Arc::new(State {
            store: TokenStore::new(self.clock.clone()),
            clock: self.clock,
            lifetime: self.lifetime,
            style: self.style,
            users: self.users,
            accounts: self.accounts,
            faults: Faults::default(),
            auth_faults: Faults::default(),
            hits: Hits::default(),
            recorder,
        });
        let server = MockServer::start_async().await;
        // Two exclusive routes so the authenticate calls alone can be slowed down.
        let is_auth =
            |req: &HttpMockRequest| matches!(req.uri().path(), AUTHENTICATE | SMS_AUTHENTICATE);
        let handler = state.clone();
        let delay = self.auth_delay;
        server
            .mock_async(move |when, then| {
                when.is_true(is_auth);
                let then = if delay.is_zero() {
                    then
                } else {
                    then.delay(delay)
                };
                then.respond_with(move |req: &HttpMockRequest| handler.handle(req));
            })
            .await;
        let handler = state.clone();
        server
            .mock_async(move |when, then| {
                when.is_true(move |req| !is_auth(req));
                then.respond_with(move |req: &HttpMockRequest| handler.handle(req));
            })
            .await;
        Sandbox { server, state }
    }
}

/// A running fake of IntelePeer; see the [module docs](self).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), intelepeer::Error> {
/// use intelepeer::sandbox::Sandbox;
/// let sandbox = Sandbox::builder().start().await;
/// let client = sandbox.client_builder().build()?;
/// client.authenticate().await?;
/// assert_eq!(sandbox.hits("authenticate"), 1);
/// # Ok(()) }
/// ```
pub struct Sandbox {
    server: MockServer,
    state: Arc<State>,
}

impl fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sandbox")
            .field("base_url", &self.server.base_url())
            .field("lifetime", &self.state.lifetime)
            .field("style", &self.state.style)
            .finish_non_exhaustive()
    }
}

impl Sandbox {
    /// The default API user's name.
    pub const USERNAME: &'static str = "sandbox-api-user";
    /// The default API user's password.
    pub const PASSWORD: &'static str = "sandbox-password-7f3c";

    /// A builder: system clock, 24-hour opaque tokens, the default user, 250 accounts.
    ///
    /// ```
    /// let b = intelepeer::sandbox::Sandbox::builder();
    /// # drop(b);
    /// ```
    pub fn builder() -> SandboxBuilder {
        let mut users = HashMap::new();
        users.insert(Self::USERNAME.to_owned(), Self::PASSWORD.to_owned());
        SandboxBuilder {
            clock: SharedClock::default(),
            lifetime: Duration::from_secs(24 * 60 * 60),
            style: TokenStyle::Opaque,
            users,
            accounts: 250,
            auth_delay: Duration::ZERO,
        }
    }

    /// The base URL serving both APIs.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let sandbox = intelepeer::sandbox::Sandbox::builder().start().await;
    /// println!("{}", sandbox.base_url());
    /// # }
    /// ```
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// A client builder wired to this sandbox: its URL for both APIs, its clock, and the
    /// default user's credentials (override any of them).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), intelepeer::Error> {
    /// let sandbox = intelepeer::sandbox::Sandbox::builder().start().await;
    /// let client = sandbox.client_builder().build()?;
    /// # drop(client); Ok(()) }
    /// ```
    pub fn client_builder(&self) -> ClientBuilder {
        ClientBuilder::default()
            .with_base_url(self.base_url())
            .with_clock(self.state.clock.clone())
            .with_credentials(Credentials::password(Self::USERNAME, Self::PASSWORD))
    }

    /// Issue a long-standing CPaaS token (as copying it from the CPaaS portal would): it
    /// never expires and is accepted, with `Bearer`, on the SMS / CPaaS API.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let sandbox = intelepeer::sandbox::Sandbox::builder().start().await;
    /// let token = sandbox.issue_static_token();
    /// assert_eq!(sandbox.token_requests(), 1);
    /// # drop(token); }
    /// ```
    pub fn issue_static_token(&self) -> String {
        self.state.hits.record("static_token");
        let value = format!("cpaas-static-{:04}", self.state.store.next_serial());
        let mut data = HashMap::new();
        data.insert("kind".to_owned(), "static".to_owned());
        self.state.store.insert(&value, "cpaas", None, data);
        self.state.recorder.redact(value.clone());
        value
    }

    /// Serve `fault` on the next authorized call (SMS or portal), whatever its path.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let sandbox = intelepeer::sandbox::Sandbox::builder().start().await;
    /// sandbox.inject(intelepeer::sandbox::Fault::unauthorized());
    /// # }
    /// ```
    pub fn inject(&self, fault: Fault) {
        self.state.faults.push(fault);
    }

    /// Serve `fault` on the next authorized call whose path starts with `path_prefix`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let sandbox = intelepeer::sandbox::Sandbox::builder().start().await;
    /// sandbox.inject_on("/_rest/v4/my/", intelepeer::sandbox::Fault::server_error(503));
    /// # }
    /// ```
    pub fn inject_on(&self, path_prefix: impl Into<String>, fault: Fault) {
        self.state.faults.push_on(path_prefix, fault);
    }

    /// Serve `fault` on the next authenticate call (either route).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let sandbox = intelepeer::sandbox::Sandbox::builder().start().await;
    /// sandbox.inject_auth(intelepeer::sandbox::Fault::rate_limited(Some(5), "slow down"));
    /// # }
    /// ```
    pub fn inject_auth(&self, fault: Fault) {
        self.state.auth_faults.push(fault);
    }

    /// Requests served on route `name` (see the [module docs](self) for the names).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let sandbox = intelepeer::sandbox::Sandbox::builder().start().await;
    /// assert_eq!(sandbox.hits("send_sms"), 0);
    /// # }
    /// ```
    pub fn hits(&self, name: &str) -> u64 {
        self.state.hits.get(name)
    }

    /// Tokens asked for: authenticate calls on either route plus static tokens issued.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// assert_eq!(intelepeer::sandbox::Sandbox::builder().start().await.token_requests(), 0);
    /// # }
    /// ```
    pub fn token_requests(&self) -> u64 {
        let h = &self.state.hits;
        h.get("authenticate") + h.get("sms_authenticate") + h.get("static_token")
    }

    /// The request recorder (passwords and issued tokens are redacted in its renderings).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let sandbox = intelepeer::sandbox::Sandbox::builder().start().await;
    /// assert!(sandbox.recorder().last("/_rest/v4/authenticate").is_none());
    /// # }
    /// ```
    pub fn recorder(&self) -> &Recorder {
        &self.state.recorder
    }

    /// Expire every token issued so far (static ones included), as a server-side revocation.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// intelepeer::sandbox::Sandbox::builder().start().await.expire_all_tokens();
    /// # }
    /// ```
    pub fn expire_all_tokens(&self) {
        self.state.store.expire_all();
    }
}

struct State {
    clock: SharedClock,
    store: TokenStore,
    lifetime: Duration,
    style: TokenStyle,
    users: HashMap<String, String>,
    accounts: usize,
    faults: Faults,
    auth_faults: Faults,
    hits: Hits,
    recorder: Recorder,
}

const AUTHENTICATE: &str = "/_rest/v4/authenticate";
const SMS_AUTHENTICATE: &str = "/_rest/v4/app/sms/authenticate/get_portal_auth_token";
const SEND_SMS: &str = "/_rest/v4/app/sms/send";
const ACCOUNTS: &str = "/_rest/v4/my/accounts";

/// IntelePeer's error shape.
fn error(status: u16, message: &str) -> HttpMockResponse {
    json(status, &json!({"code": status, "error": message}))
}

fn fault(f: &Fault) -> HttpMockResponse {
    f.respond(json!({"code": f.status, "error": f.message}).to_string())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Bearer,
    Raw,
}

impl State {
    fn handle(&self, req: &HttpMockRequest) -> HttpMockResponse {
        self.recorder.record(req);
        let uri = req.uri();
        let path = uri.path();
        let method = req.method_str().to_ascii_uppercase();
        match (method.as_str(), path) {
            ("POST", AUTHENTICATE) => self.authenticate(req, "authenticate", path),
            ("POST", SMS_AUTHENTICATE) => self.authenticate(req, "sms_authenticate", path),
            ("POST", SEND_SMS) => self.send_sms(req, path),
            ("GET", ACCOUNTS) => self.accounts(req, path),
            (_, AUTHENTICATE | SMS_AUTHENTICATE | SEND_SMS | ACCOUNTS) => {
                error(405, "Method Not Allowed")
            }
            _ => error(404, "Not Found"),
        }
    }

    fn json_body(
        req: &HttpMockRequest,
    ) -> Result<serde_json::Map<String, Value>, HttpMockResponse> {
        let ct = header(req, "content-type").unwrap_or_default();
        if !ct.starts_with("application/json") {
            return Err(error(415, "Content-Type must be application/json"));
        }
        match serde_json::from_slice::<Value>(req.body_ref()) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(error(400, "body must be a JSON object")),
        }
    }

    fn authenticate(&self, req: &HttpMockRequest, route: &str, path: &str) -> HttpMockResponse {
        self.hits.record(route);
        if let Some(f) = self.auth_faults.take(path) {
            return fault(&f);
        }
        let accept = header(req, "accept").unwrap_or_default();
        if !accept.contains("application/json") {
            return error(406, "Accept must be application/json");
        }
        let body = match Self::json_body(req) {
            Ok(b) => b,
            Err(resp) => return resp,
        };
        let field = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
        let (Some(username), Some(password)) = (field("username"), field("password")) else {
            return error(400, "username and password are required");
        };
        if self.users.get(&username) != Some(&password) {
            return error(401, "Unauthorized");
        }
        let token = self.issue(&username);
        json(200, &json!({ "token": token }))
    }

    fn issue(&self, username: &str) -> String {
        let token = match self.style {
            TokenStyle::Opaque => self.store.issue("ipt", username, Some(self.lifetime)),
            TokenStyle::Jwt => {
                let now = self.clock.now();
                let iat = unix_seconds(now);
                let jwt = mint_jwt(&json!({
                    "sub": username,
                    "iat": iat,
                    "exp": iat + self.lifetime.as_secs(),
                    "jti": self.store.next_serial(),
                }));
                self.store
                    .insert(&jwt, username, Some(self.lifetime), HashMap::new());
                jwt
            }
        };
        self.recorder.redact(token.clone());
        token
    }

    /// The checks every authorized route shares: queued fault, scheme, token validity.
    fn authorized(
        &self,
        req: &HttpMockRequest,
        path: &str,
        scheme: Scheme,
    ) -> Result<bool, HttpMockResponse> {
        if let Some(f) = self.faults.take(path) {
            return Err(fault(&f));
        }
        let Some(value) = header(req, "authorization") else {
            return Err(error(401, "Unauthorized: no token"));
        };
        let token = match (scheme, value.strip_prefix("Bearer ")) {
            (Scheme::Bearer, Some(t)) => t.to_owned(),
            (Scheme::Bearer, None) => {
                return Err(error(401, "Unauthorized: expected Bearer token"));
            }
            (Scheme::Raw, Some(_)) => {
                return Err(error(
                    401,
                    "Unauthorized: expected the raw token, not Bearer",
                ));
            }
            (Scheme::Raw, None) => value,
        };
        match self.store.check(&token) {
            TokenCheck::Valid(t) => Ok(t.data.get("kind").is_some_and(|k| k == "static")),
            TokenCheck::Expired => Err(error(401, "Unauthorized: token expired")),
            _ => Err(error(401, "Unauthorized")),
        }
    }

    fn send_sms(&self, req: &HttpMockRequest, path: &str) -> HttpMockResponse {
        self.hits.record("send_sms");
        if let Err(resp) = self.authorized(req, path, Scheme::Bearer) {
            return resp;
        }
        let body = match Self::json_body(req) {
            Ok(b) => b,
            Err(resp) => return resp,
        };
        let mut answer = serde_json::Map::new();
        answer.insert(
            "messageId".to_owned(),
            json!(format!("sms-{:06}", self.store.next_serial())),
        );
        answer.insert("status".to_owned(), json!("queued"));
        for key in ["from", "to", "text"] {
            match body.get(key).and_then(Value::as_str) {
                Some(v) if !v.trim().is_empty() => {
                    answer.insert(key.to_owned(), json!(v));
                }
                _ => return error(400, &format!("{key} is required")),
            }
        }
        json(200, &Value::Object(answer))
    }

    fn accounts(&self, req: &HttpMockRequest, path: &str) -> HttpMockResponse {
        self.hits.record("accounts");
        match self.authorized(req, path, Scheme::Raw) {
            Ok(true) => {
                return error(
                    401,
                    "Unauthorized: the cpaas token is not valid on the portal",
                );
            }
            Ok(false) => {}
            Err(resp) => return resp,
        }
        let mut page = 1u64;
        let mut size = 100u64;
        for (k, v) in req.query_params() {
            let target = match k.as_str() {
                "page" => &mut page,
                "pageSize" => &mut size,
                _ => continue,
            };
            match v.parse::<u64>() {
                Ok(n) if n > 0 => *target = n,
                _ => return error(400, &format!("{k} must be a positive integer")),
            }
        }
        if size > 500 {
            return error(400, "pageSize must be at most 500");
        }
        let total = self.accounts as u64;
        let start = (page - 1).saturating_mul(size);
        let end = start.saturating_add(size).min(total);
        let items: Vec<Value> = (start..end.max(start))
            .map(|i| {
                json!({
                    "id": 100_000 + i + 1,
                    "name": format!("Account {}", i + 1),
                    "status": if i % 7 == 6 { "suspended" } else { "active" },
                    "parentId": null,
                })
            })
            .collect();
        json(
            200,
            &json!({"page": page, "pageSize": size, "total": total, "accounts": items}),
        )
    }
}
