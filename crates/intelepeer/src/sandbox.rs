//! An in-process fake of IntelePeer (feature `sandbox`) on the auth-core sandbox kit, for
//! this crate's tests, its quickstart, and your own tests.
//!
//! One local server plays the Customer Portal and the SMS API:
//!
//! | route | name for `hits` / `inject_on` | rules |
//! |---|---|---|
//! | `POST /_rest/v4/authenticate` | `authenticate` | JSON `{username, password}`, `Content-Type` and `Accept: application/json`; bad credentials: 401 `{"code":401,"error":"Unauthorized"}` |
//! | `POST /_rest/v4/app/sms/authenticate/get_portal_auth_token` | `sms_authenticate` | same as above |
//! | `POST /_rest/v4/app/sms/send` | `send_sms` | `Authorization: Bearer <token>` (a raw token is refused); JSON `{from, to, text}` |
//! | `GET /_rest/v4/my/accounts?page=&pageSize=` | `accounts` | `Authorization: <token>` raw (`Bearer` is refused, and so is the static CPaaS token) |
//!
//! Tokens are opaque (`ipt-1`, ...) or JWTs with `exp`, as chosen, live the configured
//! lifetime (24 hours by default) judged by the clock you inject, and expired or unknown
//! tokens get a 401. Errors, injected faults included, use IntelePeer's
//! `{"code":..., "error":...}` shape; other paths get 404 and other methods 405 in it.
//!
//! Every control is the kit's: `inject` (next SMS or portal call), `inject_on(route, ..)`,
//! `inject_token` (next authenticate, either route), `expire_tokens`, `token_requests`,
//! `hits`, `recorder`, `set_token_lifetime`. IntelePeer's own: the static CPaaS token
//! ([`Sandbox::issue_static_token`]), extra users, the number of accounts, JWT tokens and a
//! slow authenticate.
//!
//! # In your own tests
//!
//! Enable the feature for tests only; [`ManualClock`], [`Fault`], [`Tokens`] and
//! [`VendorSandbox`] (for [`StaticTokenSandbox`]) are re-exported here, so no other
//! dependency is needed:
//!
//! ```toml
//! [dev-dependencies]
//! intelepeer = { version = "0.1", features = ["sandbox"] }
//! ```
//!
//! Start it inside a tokio runtime (`#[tokio::test]`), build your client from
//! [`Sandbox::client_builder`] (or point `Client::builder()` at the sandbox's `base_url()`
//! with `with_base_url` and `with_api_url`, and [`Sandbox::USERNAME`] /
//! [`Sandbox::PASSWORD`]), and move the shared clock instead of sleeping:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), intelepeer::Error> {
//! use std::time::Duration;
//! use intelepeer::SendSms;
//! use intelepeer::sandbox::{Fault, ManualClock, Sandbox, Tokens};
//!
//! let clock = ManualClock::new();
//! let sandbox = Sandbox::builder().clock(clock.clone()).start().await;
//! let client = sandbox.client_builder().build()?; // wired to the sandbox, same clock
//! client.accounts_page(1, 10).await?;
//! clock.advance(Duration::from_secs(24 * 3600)); // cross the 24-hour mark
//! client.accounts_page(1, 10).await?;
//! assert_eq!(sandbox.token_requests(), 2);
//!
//! // A revoked token is refused as IntelePeer refuses it: one authentication, one retry.
//! sandbox.expire_tokens(Tokens::All);
//! client.send_sms(&SendSms::new("+13035550100", "+13035550199", "hi")).await?;
//! assert_eq!(sandbox.token_requests(), 3);
//!
//! // Faults take IntelePeer's error shape.
//! sandbox.inject_on("send_sms", Fault::rate_limited(Some(30), "Too Many Requests"));
//! let e = client.send_sms(&SendSms::new("+13035550100", "+13035550199", "hi")).await.unwrap_err();
//! assert_eq!(e.vendor_message(), Some("Too Many Requests"));
//! assert_eq!(sandbox.hits("send_sms"), 3);
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub use auth_core::ManualClock;
pub use auth_core::sandbox::{Fault, Tokens, VendorSandbox};

use auth_core::Error;
use auth_core::sandbox::{
    Controls, Ctx, HttpMockRequest, HttpMockResponse, Kit, Route, Settings, Spec, TokenCheck,
    header, json, mint_jwt, unix_seconds,
};
use futures::FutureExt as _;
use futures::future::BoxFuture;
use serde_json::{Value, json};

use crate::auth::Credentials;
use crate::client::{Client, ClientBuilder};
use crate::models::SendSms;

const DAY: Duration = Duration::from_secs(24 * 60 * 60);
const STATIC: &str = "static";

/// Which kind of token the sandbox issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TokenStyle {
    /// An opaque string: the client must count 24 hours itself.
    #[default]
    Opaque,
    /// A JWT whose `exp` is issue time plus the lifetime.
    Jwt,
}

/// Configures and starts a [`Sandbox`]: the kit's `clock` and `token_lifetime` (default 24
/// hours), and IntelePeer's own options below.
#[must_use]
pub struct SandboxBuilder {
    kit: Settings,
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
            .field("kit", &self.kit)
            .field("style", &self.style)
            .field("users", &users)
            .field("accounts", &self.accounts)
            .field("auth_delay", &self.auth_delay)
            .finish_non_exhaustive()
    }
}

auth_core::sandbox_builder!(SandboxBuilder);

impl SandboxBuilder {
    /// Answer every authenticate call only after `delay` of real time (default none): a
    /// slow vendor, so that concurrent callers provably wait on one authentication. Token
    /// expiry still follows the injected clock only.
    pub fn auth_delay(mut self, delay: impl Into<Duration>) -> Self {
        self.auth_delay = delay.into();
        self
    }

    /// Issue JWTs with `exp` ([`TokenStyle::Jwt`]) instead of opaque tokens, to check that
    /// the client reads the token's own expiry rather than counting 24 hours.
    pub fn token_style(mut self, style: impl Into<TokenStyle>) -> Self {
        self.style = style.into();
        self
    }

    /// Add an API user (the default user [`Sandbox::USERNAME`] always exists), for tests
    /// of several identities or of one user's wrong password.
    pub fn user(mut self, username: impl Into<String>, password: impl Into<String>) -> Self {
        self.users.insert(username.into(), password.into());
        self
    }

    /// How many accounts `/my/accounts` lists (default 250, three pages of 100), for
    /// paging tests.
    pub fn accounts(mut self, count: usize) -> Self {
        self.accounts = count;
        self
    }

    /// Start the server (inside a tokio runtime).
    pub async fn start(self) -> Sandbox {
        let passwords: Vec<String> = self.users.values().cloned().collect();
        let secrets: Vec<&str> = passwords.iter().map(String::as_str).collect();
        let state = State {
            style: self.style,
            users: self.users,
            accounts: self.accounts,
            auth_delay: self.auth_delay,
            static_tokens: AtomicU64::new(0),
        };
        Sandbox {
            kit: Kit::start(state, self.kit, &secrets).await,
        }
    }
}

/// A running fake of IntelePeer; see the [module docs](self). It dereferences to the kit's
/// controls.
pub struct Sandbox {
    kit: Kit<State>,
}

impl fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sandbox")
            .field("kit", &self.kit)
            .field("style", &self.kit.state().style)
            .finish_non_exhaustive()
    }
}

impl Deref for Sandbox {
    type Target = Kit<State>;
    fn deref(&self) -> &Kit<State> {
        &self.kit
    }
}

impl Sandbox {
    /// The default API user's name.
    pub const USERNAME: &'static str = "sandbox-api-user";
    /// The default API user's password.
    pub const PASSWORD: &'static str = "sandbox-password-7f3c";

    /// A builder: system clock, 24-hour opaque tokens, the default user, 250 accounts.
    pub fn builder() -> SandboxBuilder {
        let mut users = HashMap::new();
        users.insert(Self::USERNAME.to_owned(), Self::PASSWORD.to_owned());
        SandboxBuilder {
            kit: Settings::new(DAY),
            style: TokenStyle::Opaque,
            users,
            accounts: 250,
            auth_delay: Duration::ZERO,
        }
    }

    /// A client builder wired to this sandbox: its URL for both APIs, its clock, and the
    /// default user's credentials (override any of them).
    pub fn client_builder(&self) -> ClientBuilder {
        ClientBuilder::default()
            .with_base_url(self.base_url())
            .with_api_url(self.base_url())
            .with_clock(self.clock())
            .with_credentials(Credentials::password(Self::USERNAME, Self::PASSWORD))
    }

    /// Issue a long-standing CPaaS token (as copying it from the CPaaS portal would): it
    /// never expires and is accepted, with `Bearer`, on the SMS / CPaaS API only. It counts
    /// as a token request.
    pub fn issue_static_token(&self) -> String {
        let ctx = self.kit.ctx();
        let value = format!("cpaas-static-{:04}", ctx.store().next_serial());
        let data = [("kind".to_owned(), STATIC.to_owned())].into();
        ctx.store().insert(&value, "cpaas", None, data);
        ctx.recorder().redact(value.clone());
        self.kit
            .state()
            .static_tokens
            .fetch_add(1, Ordering::Relaxed);
        value
    }

    /// Tokens asked for: authenticate calls on either route (the kit's count) plus static
    /// tokens issued.
    // KIT-NEED: a way to count a token handed out off the wire (a static token) in the
    // kit's `token_requests`; until then this shadows `Controls::token_requests`.
    pub fn token_requests(&self) -> u64 {
        self.kit.token_requests() + self.kit.state().static_tokens.load(Ordering::Relaxed)
    }
}

/// IntelePeer as the sandbox kit sees it: its users, accounts and token style, its route
/// table and its error shape.
pub struct State {
    style: TokenStyle,
    users: HashMap<String, String>,
    accounts: usize,
    auth_delay: Duration,
    static_tokens: AtomicU64,
}

impl fmt::Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("State")
            .field("style", &self.style)
            .field("users", &self.users.len())
            .field("accounts", &self.accounts)
            .finish_non_exhaustive()
    }
}

/// IntelePeer's error shape.
fn error(status: u16, message: &str) -> HttpMockResponse {
    json(status, &json!({"code": status, "error": message}))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Bearer,
    Raw,
}

impl Spec for State {
    fn routes() -> Vec<Route<Self>> {
        vec![
            Route::token(
                "POST",
                "/_rest/v4/authenticate",
                "authenticate",
                State::authenticate,
            ),
            Route::token(
                "POST",
                "/_rest/v4/app/sms/authenticate/get_portal_auth_token",
                "sms_authenticate",
                State::authenticate,
            ),
            Route::authorized(
                "POST",
                "/_rest/v4/app/sms/send",
                "send_sms",
                State::send_sms,
            ),
            Route::authorized("GET", "/_rest/v4/my/accounts", "accounts", State::accounts),
        ]
    }

    fn fault(&self, fault: &Fault) -> HttpMockResponse {
        fault.respond(json!({"code": fault.status, "error": fault.message}).to_string())
    }

    fn not_found(&self, _req: &HttpMockRequest) -> HttpMockResponse {
        error(404, "Not Found")
    }

    fn method_not_allowed(&self, _req: &HttpMockRequest) -> HttpMockResponse {
        error(405, "Method Not Allowed")
    }
}

impl State {
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

    fn authenticate(&self, ctx: &Ctx, req: &HttpMockRequest) -> HttpMockResponse {
        if !self.auth_delay.is_zero() {
            // KIT-NEED: a real-time delay on a route's answer. Handlers are synchronous, so
            // this blocks the sandbox's own server thread (httpmock runs each server on
            // its own), which is what a slow vendor looks like to the client.
            std::thread::sleep(self.auth_delay);
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
        let token = self.issue(ctx, &username);
        json(200, &json!({ "token": token }))
    }

    fn issue(&self, ctx: &Ctx, username: &str) -> String {
        match self.style {
            TokenStyle::Opaque => ctx.issue_access("ipt", username),
            TokenStyle::Jwt => {
                let lifetime = ctx.token_lifetime();
                let iat = unix_seconds(ctx.clock().now());
                let jwt = mint_jwt(&json!({
                    "sub": username,
                    "iat": iat,
                    "exp": iat + lifetime.as_secs(),
                    "jti": ctx.store().next_serial(),
                }));
                ctx.store()
                    .insert(&jwt, username, Some(lifetime), HashMap::new());
                ctx.recorder().redact(jwt.clone());
                jwt
            }
        }
    }

    /// The checks every authorized route shares (the kit served any queued fault): scheme
    /// and token validity. `Ok(true)` for a static CPaaS token.
    fn authorized(
        ctx: &Ctx,
        req: &HttpMockRequest,
        scheme: Scheme,
    ) -> Result<bool, HttpMockResponse> {
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
        match ctx.store().check(&token) {
            TokenCheck::Valid(t) => Ok(t.data.get("kind").is_some_and(|k| k == STATIC)),
            TokenCheck::Expired => Err(error(401, "Unauthorized: token expired")),
            _ => Err(error(401, "Unauthorized")),
        }
    }

    fn send_sms(&self, ctx: &Ctx, req: &HttpMockRequest) -> HttpMockResponse {
        if let Err(resp) = Self::authorized(ctx, req, Scheme::Bearer) {
            return resp;
        }
        let body = match Self::json_body(req) {
            Ok(b) => b,
            Err(resp) => return resp,
        };
        let mut answer = serde_json::Map::new();
        answer.insert(
            "messageId".to_owned(),
            json!(format!("sms-{:06}", ctx.store().next_serial())),
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

    fn accounts(&self, ctx: &Ctx, req: &HttpMockRequest) -> HttpMockResponse {
        match Self::authorized(ctx, req, Scheme::Raw) {
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

fn contract_sms() -> SendSms {
    SendSms::new("+13035550100", "+13035550199", "contract")
}

/// The username/password client against the sandbox, for vendor-neutral tests.
impl VendorSandbox for Sandbox {
    type Client = Client;
    const NAME: &'static str = "intelepeer";

    async fn start(clock: ManualClock, lifetime: Duration) -> Self {
        Sandbox::builder()
            .clock(clock)
            .token_lifetime(lifetime)
            // A slow authenticate (real time; expiry follows the manual clock): callers
            // after an expiry are all waiting while the one re-authentication runs.
            .auth_delay(Duration::from_millis(100))
            .start()
            .await
    }

    fn client(&self) -> Result<Client, Error> {
        self.client_builder().build()
    }

    /// The SMS API (Bearer) and the portal API (raw token) in turn, by the number of
    /// requests sent so far: one token and one session serve both.
    fn call(client: &Client) -> BoxFuture<'static, Result<(), Error>> {
        let c = client.clone();
        async move {
            if c.session_stats().requests % 2 == 1 {
                c.accounts_page(1, 10).await.map(drop)
            } else {
                c.send_sms(&contract_sms()).await.map(drop)
            }
        }
        .boxed()
    }

    fn controls(&self) -> &Controls {
        &self.kit
    }

    fn secrets(&self) -> Vec<String> {
        vec![Self::PASSWORD.to_owned()]
    }
}

/// A sandbox with a client on a static CPaaS token (never renewed; its 401 surfaces), for
/// vendor-neutral tests. It dereferences to the [`Sandbox`].
pub struct StaticTokenSandbox {
    sandbox: Sandbox,
    token: String,
}

// By hand: the token is a credential.
impl fmt::Debug for StaticTokenSandbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticTokenSandbox")
            .field("sandbox", &self.sandbox)
            .finish_non_exhaustive()
    }
}

impl Deref for StaticTokenSandbox {
    type Target = Sandbox;
    fn deref(&self) -> &Sandbox {
        &self.sandbox
    }
}

impl VendorSandbox for StaticTokenSandbox {
    type Client = Client;
    const NAME: &'static str = "intelepeer (static cpaas token)";

    async fn start(clock: ManualClock, lifetime: Duration) -> Self {
        let sandbox = Sandbox::builder()
            .clock(clock)
            .token_lifetime(lifetime)
            .start()
            .await;
        // The CPaaS portal hands out the token once.
        let token = sandbox.issue_static_token();
        StaticTokenSandbox { sandbox, token }
    }

    fn client(&self) -> Result<Client, Error> {
        self.sandbox
            .client_builder()
            .with_credentials(Credentials::static_token(self.token.clone()))
            .build()
    }

    fn call(client: &Client) -> BoxFuture<'static, Result<(), Error>> {
        let c = client.clone();
        async move { c.send_sms(&contract_sms()).await.map(drop) }.boxed()
    }

    fn controls(&self) -> &Controls {
        &self.sandbox.kit
    }

    fn renewable(&self) -> bool {
        false
    }

    fn secrets(&self) -> Vec<String> {
        vec![self.token.clone()]
    }
}
