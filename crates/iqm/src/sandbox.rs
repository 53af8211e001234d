//! An in-process fake of IQM's user-access API (feature `sandbox`) for this crate's tests,
//! its quickstart, and your own tests, built on auth-core's sandbox kit: the kit runs the
//! server, the token store, faults, hits, the recorder and the clock; this module is IQM's
//! route table, its users and its error shape.
//!
//! | route | name for [`hits`](Sandbox::hits) / `inject_on` | rules |
//! |---|---|---|
//! | `POST /api/v3/ua/sign-up` | `sign_up` | Basic client header; JSON `{email, password}`; answers wrapped tokens without `owId` |
//! | `POST /api/v3/ua/oauth/token` `grant_type=password` | `login` (`inject_on`: `token`) | Basic; form (or JSON) `username`, `password`; wrapped tokens with `owId` |
//! | `POST /api/v3/ua/oauth/token` `grant_type=refresh_token` | `refresh` (`inject_on`: `token`) | Basic; form (or JSON, the reference page's sample) `refresh_token`; a FLAT answer without `owId` |
//! | `POST /api/v3/ua/login` | `json_login` | Basic; `X-Iaa-Host`; JSON `{grantType: "password", email, password}` |
//! | `POST /api/v3/ua/logout` | `logout` | Bearer + `X-IAA-OW-ID`; revokes the access token |
//! | `GET /api/v3/ua/user/ow-id` | `ow_id` | Bearer; `{success: true, data: <owId>}` |
//! | `GET`/`POST` [`/api/v3/cmp/campaigns/list`](Sandbox::CAMPAIGNS_PATH) | `campaigns` | Bearer + `X-IAA-OW-ID`; a paged list of [`campaigns`](SandboxBuilder::campaigns) `{id, campaignName, status}` (ids from 1, names `campaign-<id>`): `pageNo` (default 1) and `noOfEntries` (default 20, 1 to 1000; `limit` is the same), or `offset`, which wins over `pageNo`, in the query (`GET`) or the JSON body (`POST`); `searchField` keeps the names containing it; answers `{success: true, data: {data: [...], totalRecords, filteredRecords}}`; a paging value out of range or not a whole number: 422 naming it |
//! | any other `/api/v3/...` | `api` | Bearer + `X-IAA-OW-ID` matching the token's workspace; echoes `{method, path, owId}` |
//!
//! The token path serves both grants: `hits("token")` counts every request to it,
//! `hits("login")` and `hits("refresh")` the ones the sandbox answered itself per grant,
//! `hits("refresh_refused")` the refreshes it refused (an expired, unknown or, with
//! [`rotating_refresh_tokens`](SandboxBuilder::rotating_refresh_tokens), already used
//! refresh token).
//! `token_requests()` counts logins (either call) and refreshes; `inject_token` faults the
//! next of them, `inject` the next authorized call (logout, ow-id, api), `inject_on` the
//! next call of one route.
//!
//! Access and refresh tokens are UUIDs. Access tokens live the token lifetime (35999 s by
//! default, as IQM's samples) judged by the clock you inject; refresh tokens until you
//! expire them (`expire_tokens(Tokens::Refresh)`). A refresh answers the same refresh token
//! (as IQM's sample does), or, with
//! [`rotating_refresh_tokens`](SandboxBuilder::rotating_refresh_tokens), a new one while
//! the used one stops working: what a vendor that rotates refresh tokens does, for a test
//! that every renewal starts from the latest one. Errors use IQM's
//! `{success: false, errorObjects: [...]}` shape (an expired or unknown refresh token gets
//! OAuth's `{"error": "invalid_grant", ...}`). Bad client credentials: 401; bad email or
//! password: 403; a held account: the documented 400 on-hold answer; a missing or wrong
//! workspace header: 403; a missing field: 422 naming it; a body of the wrong content type:
//! 415; a wrong method on a known route: 405.
//!
//! Start one in your own tests and point the client at it (enable the feature for tests
//! only: `iqm = { version = "0.1", features = ["sandbox"] }` under `[dev-dependencies]`;
//! this module re-exports [`Fault`], [`ManualClock`] and [`Tokens`], so nothing else is
//! needed):
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), iqm::Error> {
//! use std::time::Duration;
//! use iqm::sandbox::{Fault, ManualClock, Sandbox, Tokens};
//!
//! let clock = ManualClock::new();
//! let sandbox = Sandbox::builder()
//!     .clock(clock.clone())
//!     .token_lifetime(Duration::from_secs(600))
//!     .start()
//!     .await;
//! let client = sandbox.client_builder().build()?; // the sandbox's URL, clock and user
//! client.login().await?;
//! sandbox.inject(Fault::unauthorized());           // the next authorized call gets a 401
//! client.fetch_workspace_id().await?;               // renewed and retried once
//! assert_eq!(sandbox.token_requests(), 2);
//!
//! // A refused refresh token falls back to one full login.
//! sandbox.expire_tokens(Tokens::Refresh);
//! clock.advance(Duration::from_secs(601));
//! client.fetch_workspace_id().await?;
//! assert_eq!((sandbox.hits("refresh"), sandbox.hits("login")), (2, 2));
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

pub use auth_core::ManualClock;
use auth_core::sandbox::{
    Controls, Ctx, Hits, HttpMockRequest, HttpMockResponse, Kit, Route, Settings, Spec, TokenCheck,
    VendorSandbox, header, json,
};
pub use auth_core::sandbox::{Fault, Tokens};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use crate::auth::{Credentials, LOGIN_PATH, LOGOUT_PATH, OW_ID_PATH, SIGN_UP_PATH, TOKEN_PATH};
use crate::client::{Client, ClientBuilder};
use crate::{Error, ErrorKind};

/// Configures and starts a [`Sandbox`]: the kit's `clock` and `token_lifetime`, and IQM's
/// users.
#[must_use]
pub struct SandboxBuilder {
    kit: Settings,
    users: HashMap<String, User>,
    rotate: bool,
    campaigns: u64,
}

// Users hold passwords: Debug shows the emails only.
impl fmt::Debug for SandboxBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut users: Vec<&str> = self.users.keys().map(String::as_str).collect();
        users.sort_unstable();
        f.debug_struct("SandboxBuilder")
            .field("kit", &self.kit)
            .field("users", &users)
            .field("rotating_refresh_tokens", &self.rotate)
            .field("campaigns", &self.campaigns)
            .finish()
    }
}

#[derive(Clone)]
struct User {
    password: String,
    ow_id: u64,
    on_hold: bool,
}

auth_core::sandbox_builder!(SandboxBuilder);

impl SandboxBuilder {
    /// Add a user with its workspace id, for a test that needs a second identity (the
    /// default user [`Sandbox::EMAIL`] always exists, workspace [`Sandbox::OW_ID`]).
    pub fn user(
        mut self,
        email: impl Into<String>,
        password: impl Into<String>,
        ow_id: u64,
    ) -> Self {
        self.users.insert(
            email.into(),
            User {
                password: password.into(),
                ow_id,
                on_hold: false,
            },
        );
        self
    }

    /// Answer each refresh with a new refresh token and stop accepting the one used, as a
    /// vendor that rotates refresh tokens does: a client that refreshes with any but the
    /// latest is refused (`hits("refresh_refused")`).
    pub fn rotating_refresh_tokens(mut self) -> Self {
        self.rotate = true;
        self
    }

    /// How many campaigns the paged list at [`Sandbox::CAMPAIGNS_PATH`] serves (2,500 by
    /// default: 25 pages of 100), to page over as many pages as a test needs.
    pub fn campaigns(mut self, count: u64) -> Self {
        self.campaigns = count;
        self
    }

    /// Start the server. The client secret, its Basic value and every user's password are
    /// redacted in the recorder, as are the tokens it issues.
    pub async fn start(self) -> Sandbox {
        let mut secrets = vec![
            Sandbox::CLIENT_SECRET.to_owned(),
            basic_value(Sandbox::CLIENT_ID, Sandbox::CLIENT_SECRET),
        ];
        secrets.extend(self.users.values().map(|u| u.password.clone()));
        let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        let state = State {
            users: Mutex::new(self.users),
            next_ow_id: AtomicU64::new(400_001),
            grants: Hits::default(),
            rotate: self.rotate,
            campaigns: self.campaigns,
        };
        Sandbox {
            kit: Kit::start(state, self.kit, &secrets).await,
        }
    }
}

/// A running fake of IQM; see the [module docs](self). Every control (`inject`,
/// `inject_on`, `inject_token`, `expire_tokens`, `token_requests`, `recorder`, `base_url`,
/// `clock`, `set_token_lifetime`) is the kit's; IQM's own are its users: on hold, a new
/// password, their workspace ids.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), iqm::Error> {
/// use iqm::sandbox::{Fault, Sandbox};
///
/// let sandbox = Sandbox::builder().user("ops@example.com", "ops-password", 300_002).start().await;
/// let client = sandbox.client_builder().build()?;
/// assert_eq!(client.login().await?, Sandbox::OW_ID.to_string());
/// assert_eq!(sandbox.hits("login"), 1);
///
/// let ops = sandbox
///     .client_builder()
///     .with_credentials(iqm::Credentials::new(
///         Sandbox::CLIENT_ID,
///         Sandbox::CLIENT_SECRET,
///         "ops@example.com",
///         "ops-password",
///     ))
///     .build()?;
/// assert_eq!(ops.login().await?, "300002");
///
/// // A user whose password changed is refused, with IQM's 403 and its message.
/// sandbox.set_password("ops@example.com", "rotated-password");
/// ops.logout().await?;
/// let e = ops.login().await.unwrap_err();
/// assert!(e.is_unauthorized() && e.status() == Some(403));
///
/// sandbox.inject_on("ow_id", Fault::server_error(503));
/// assert!(client.fetch_workspace_id().await.unwrap_err().is_transient());
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Sandbox {
    kit: Kit<State>,
}

impl Deref for Sandbox {
    type Target = Kit<State>;
    fn deref(&self) -> &Kit<State> {
        &self.kit
    }
}

impl Sandbox {
    /// The API client id the sandbox accepts (with [`CLIENT_SECRET`](Self::CLIENT_SECRET)
    /// in the Basic header), for building your own [`Credentials`].
    pub const CLIENT_ID: &'static str = "sandbox-client-id";
    /// The API client secret the sandbox accepts.
    pub const CLIENT_SECRET: &'static str = "sandbox-client-secret-5e1f";
    /// The default user's email.
    pub const EMAIL: &'static str = "sandbox-user@example.com";
    /// The default user's password.
    pub const PASSWORD: &'static str = "sandbox-password-91d2";
    /// The default user's workspace id, what its login answers as `owId`.
    pub const OW_ID: u64 = 200_001;
    /// The paged campaign list (route `campaigns`); its size is
    /// [`SandboxBuilder::campaigns`].
    pub const CAMPAIGNS_PATH: &'static str = "/api/v3/cmp/campaigns/list";

    /// A builder: system clock, a token lifetime of 35999 s (IQM's samples), the default
    /// user.
    pub fn builder() -> SandboxBuilder {
        let mut users = HashMap::new();
        users.insert(
            Self::EMAIL.to_owned(),
            User {
                password: Self::PASSWORD.to_owned(),
                ow_id: Self::OW_ID,
                on_hold: false,
            },
        );
        SandboxBuilder {
            kit: Settings::new(Duration::from_secs(35_999)),
            users,
            rotate: false,
            campaigns: 2_500,
        }
    }

    /// The default user's credentials with the sandbox's client id and secret.
    ///
    /// ```
    /// use iqm::sandbox::Sandbox;
    /// assert_eq!(Sandbox::credentials().email(), Sandbox::EMAIL);
    /// assert_eq!(Sandbox::credentials().client().client_id(), Sandbox::CLIENT_ID);
    /// ```
    pub fn credentials() -> Credentials {
        Credentials::new(
            Self::CLIENT_ID,
            Self::CLIENT_SECRET,
            Self::EMAIL,
            Self::PASSWORD,
        )
    }

    /// A client builder wired to this sandbox: its URL, its clock and the default user's
    /// credentials (override any of them).
    pub fn client_builder(&self) -> ClientBuilder {
        Client::builder()
            .with_base_url(self.base_url())
            .with_clock(self.clock())
            .with_credentials(Self::credentials())
    }

    /// Requests served on route `route` (see the [module docs](self) for the names). On the
    /// token path, `login` and `refresh` count each grant and `token` both.
    // KIT-NEED: a route chosen by the request body (IQM's one token path serves login and
    // refresh by `grant_type`), so the kit's `hits` and `inject_on` could name each grant.
    pub fn hits(&self, route: &str) -> u64 {
        match route {
            "login" | "refresh" | "refresh_refused" => self.kit.state().grants.get(route),
            other => self.kit.hits(other),
        }
    }

    /// Change a user's password (later logins with the old one get a 403).
    pub fn set_password(&self, email: &str, password: &str) {
        self.recorder().redact(password);
        if let Some(u) = self.kit.state().users().get_mut(email) {
            u.password = password.to_owned();
        }
    }

    /// Put a user's account on hold (logins get IQM's 400 on-hold answer) or release it.
    pub fn set_on_hold(&self, email: &str, on_hold: bool) {
        if let Some(u) = self.kit.state().users().get_mut(email) {
            u.on_hold = on_hold;
        }
    }

    /// The workspace id of a user, if the user exists (signed-up users get one too).
    pub fn ow_id(&self, email: &str) -> Option<u64> {
        self.kit.state().users().get(email).map(|u| u.ow_id)
    }
}

impl VendorSandbox for Sandbox {
    type Client = Client;
    const NAME: &'static str = "iqm";

    async fn start(clock: ManualClock, lifetime: Duration) -> Self {
        Sandbox::builder()
            .clock(clock)
            .token_lifetime(lifetime)
            .start()
            .await
    }

    fn client(&self) -> Result<Client, Error> {
        self.client_builder().build()
    }

    /// Ask for the workspace id, which must be the default user's.
    fn call(client: &Client) -> Pin<Box<dyn Future<Output = Result<(), Error>> + Send>> {
        let client = client.clone();
        Box::pin(async move {
            let ow = client.fetch_workspace_id().await?;
            if ow != Sandbox::OW_ID.to_string() {
                return Err(Error::new(
                    ErrorKind::BadResponse,
                    format!("workspace id {ow} is not the default user's"),
                ));
            }
            Ok(())
        })
    }

    fn controls(&self) -> &Controls {
        &self.kit
    }

    fn secrets(&self) -> Vec<String> {
        vec![
            Self::CLIENT_SECRET.to_owned(),
            Self::PASSWORD.to_owned(),
            basic_value(Self::CLIENT_ID, Self::CLIENT_SECRET),
        ]
    }
}

/// IQM's side of the sandbox: its users and workspaces (the kit holds the tokens).
pub struct State {
    users: Mutex<HashMap<String, User>>,
    next_ow_id: AtomicU64,
    /// Requests per grant on the one token path (`login`, `refresh`), and refused
    /// refreshes (`refresh_refused`).
    grants: Hits,
    /// Refresh tokens rotate: each refresh answers a new one and revokes the one used.
    rotate: bool,
    /// Rows of the paged campaign list.
    campaigns: u64,
}

impl fmt::Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("State")
            .field("users", &self.users().len())
            .field("grants", &self.grants)
            .field("campaigns", &self.campaigns)
            .finish()
    }
}

fn basic_value(id: &str, secret: &str) -> String {
    STANDARD.encode(format!("{id}:{secret}"))
}

/// IQM's error shape.
fn error(status: u16, message: &str) -> HttpMockResponse {
    json(
        status,
        &json!({"success": false, "errorObjects": [{"error": message}]}),
    )
}

fn field_error(status: u16, field: &str, message: &str) -> HttpMockResponse {
    json(
        status,
        &json!({"success": false, "errorObjects": [{"error": message, "field": field}]}),
    )
}

/// A handler's answer: `Err` is an error answer, returned as soon as a rule is broken.
type Answer = Result<HttpMockResponse, HttpMockResponse>;

fn answer(a: Answer) -> HttpMockResponse {
    a.unwrap_or_else(|refusal| refusal)
}

/// Marks the access tokens in the store (refresh tokens are the kit's `insert_refresh`).
const USE: &str = "iqm_use";
const ACCESS: &str = "access";

impl Spec for State {
    fn routes() -> Vec<Route<Self>> {
        vec![
            Route::open("POST", SIGN_UP_PATH, "sign_up", |s, c, r| {
                answer(s.sign_up(c, r))
            }),
            Route::token("POST", TOKEN_PATH, "token", |s, c, r| answer(s.token(c, r))),
            Route::token("POST", LOGIN_PATH, "json_login", |s, c, r| {
                answer(s.json_login(c, r))
            }),
            Route::authorized("POST", LOGOUT_PATH, "logout", |s, c, r| {
                answer(s.logout(c, r))
            }),
            Route::authorized("GET", OW_ID_PATH, "ow_id", |s, c, r| answer(s.ow_id(c, r))),
            Route::authorized("GET", Sandbox::CAMPAIGNS_PATH, "campaigns", |s, c, r| {
                answer(s.campaigns(c, r))
            }),
            Route::authorized("POST", Sandbox::CAMPAIGNS_PATH, "campaigns", |s, c, r| {
                answer(s.campaigns(c, r))
            }),
            // A wrong method on a known route is a 405, not a call to the API behind it.
            Route::open("*", SIGN_UP_PATH, "wrong_method", State::wrong_method),
            Route::open("*", TOKEN_PATH, "wrong_method", State::wrong_method),
            Route::open("*", LOGIN_PATH, "wrong_method", State::wrong_method),
            Route::open("*", LOGOUT_PATH, "wrong_method", State::wrong_method),
            Route::open("*", OW_ID_PATH, "wrong_method", State::wrong_method),
            Route::open(
                "*",
                Sandbox::CAMPAIGNS_PATH,
                "wrong_method",
                State::wrong_method,
            ),
            Route::authorized("*", "/api/v3/*", "api", |s, c, r| answer(s.api(c, r))),
        ]
    }

    fn fault(&self, f: &Fault) -> HttpMockResponse {
        f.respond(json!({"success": false, "errorObjects": [{"error": f.message}]}).to_string())
    }

    fn not_found(&self, _req: &HttpMockRequest) -> HttpMockResponse {
        error(404, "Not Found")
    }

    fn method_not_allowed(&self, _req: &HttpMockRequest) -> HttpMockResponse {
        error(405, "Method Not Allowed")
    }
}

impl State {
    fn users(&self) -> MutexGuard<'_, HashMap<String, User>> {
        self.users.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn ow_id_of(&self, email: &str) -> Option<u64> {
        self.users().get(email).map(|u| u.ow_id)
    }

    fn wrong_method(&self, _ctx: &Ctx, req: &HttpMockRequest) -> HttpMockResponse {
        self.method_not_allowed(req)
    }

    fn check_basic(req: &HttpMockRequest) -> Result<(), HttpMockResponse> {
        let expected = format!(
            "Basic {}",
            basic_value(Sandbox::CLIENT_ID, Sandbox::CLIENT_SECRET)
        );
        match header(req, "authorization") {
            Some(v) if v == expected => Ok(()),
            Some(_) => Err(error(401, "Invalid client credentials")),
            None => Err(error(401, "Client credentials are required")),
        }
    }

    fn json_body(req: &HttpMockRequest) -> Result<Map<String, Value>, HttpMockResponse> {
        let ct = header(req, "content-type").unwrap_or_default();
        if !ct.starts_with("application/json") {
            return Err(error(415, "Content-Type must be application/json"));
        }
        match serde_json::from_slice::<Value>(req.body_ref()) {
            Ok(Value::Object(m)) => Ok(m),
            _ => Err(error(400, "Request body must be a JSON object")),
        }
    }

    fn form_body(req: &HttpMockRequest) -> Result<HashMap<String, String>, HttpMockResponse> {
        let ct = header(req, "content-type").unwrap_or_default();
        if !ct.starts_with("application/x-www-form-urlencoded") {
            return Err(error(
                415,
                "Content-Type must be application/x-www-form-urlencoded",
            ));
        }
        Ok(url::form_urlencoded::parse(req.body_ref())
            .into_owned()
            .collect())
    }

    fn text(map: &Map<String, Value>, key: &str) -> Result<String, HttpMockResponse> {
        match map.get(key).and_then(Value::as_str) {
            Some(v) if !v.trim().is_empty() => Ok(v.to_owned()),
            _ => Err(field_error(422, key, &format!("{key} is required"))),
        }
    }

    fn sign_up(&self, ctx: &Ctx, req: &HttpMockRequest) -> Answer {
        Self::check_basic(req)?;
        let body = Self::json_body(req)?;
        let email = Self::text(&body, "email")?;
        let password = Self::text(&body, "password")?;
        {
            let mut users = self.users();
            if users.contains_key(&email) {
                return Err(json(
                    403,
                    &json!({"success": false, "errorObjects": [{
                        "error": "User is not allowed to create a password.",
                        "reason": "User is not invited or invitation is processed or invitation is expired."
                    }]}),
                ));
            }
            let ow_id = self.next_ow_id.fetch_add(1, Ordering::Relaxed);
            ctx.recorder().redact(password.clone());
            users.insert(
                email.clone(),
                User {
                    password,
                    ow_id,
                    on_hold: false,
                },
            );
        }
        let (access, refresh) = Self::issue_pair(ctx, &email);
        Ok(json(
            200,
            &json!({"success": true, "data": {
                "access_token": access,
                "refresh_token": refresh,
                "scope": "read write",
                "token_type": "bearer",
                "expires_in": ctx.token_lifetime().as_secs(),
            }}),
        ))
    }

    /// The token call's body: form-encoded (IQM's quickstart) or JSON (the reference
    /// page's samples), as string fields.
    fn token_body(req: &HttpMockRequest) -> Result<HashMap<String, String>, HttpMockResponse> {
        let ct = header(req, "content-type").unwrap_or_default();
        if !ct.starts_with("application/json") {
            return Self::form_body(req).map_err(|_| {
                error(
                    415,
                    "Content-Type must be application/x-www-form-urlencoded or application/json",
                )
            });
        }
        let map = Self::json_body(req)?;
        Ok(map
            .into_iter()
            .filter_map(|(k, v)| match v {
                Value::String(s) => Some((k, s)),
                _ => None,
            })
            .collect())
    }

    fn token(&self, ctx: &Ctx, req: &HttpMockRequest) -> Answer {
        let form = Self::token_body(req);
        let grant = form
            .as_ref()
            .ok()
            .and_then(|f| f.get("grant_type").or_else(|| f.get("grantType")).cloned())
            .unwrap_or_default();
        let route = if grant == "refresh_token" {
            "refresh"
        } else {
            "login"
        };
        self.grants.record(route);
        Self::check_basic(req)?;
        let form = form?;
        match grant.as_str() {
            "password" => {
                let username = form.get("username").or_else(|| form.get("email"));
                let (Some(username), Some(password)) = (username, form.get("password")) else {
                    return Err(field_error(
                        422,
                        "username",
                        "username and password are required",
                    ));
                };
                self.login(ctx, username, password)
            }
            "refresh_token" => self.refresh(ctx, form.get("refresh_token").map(String::as_str)),
            _ => Err(json(
                400,
                &json!({"error": "unsupported_grant_type", "error_description": "Unsupported grant type"}),
            )),
        }
    }

    fn json_login(&self, ctx: &Ctx, req: &HttpMockRequest) -> Answer {
        Self::check_basic(req)?;
        if header(req, "x-iaa-host").is_none_or(|h| h.trim().is_empty()) {
            return Err(field_error(
                400,
                "X-Iaa-Host",
                "X-Iaa-Host header is required",
            ));
        }
        let body = Self::json_body(req)?;
        if body.get("grantType").and_then(Value::as_str) != Some("password") {
            return Err(field_error(400, "grantType", "grantType must be password"));
        }
        let email = Self::text(&body, "email")?;
        let password = Self::text(&body, "password")?;
        self.login(ctx, &email, &password)
    }

    fn login(&self, ctx: &Ctx, email: &str, password: &str) -> Answer {
        let user = self.users().get(email).cloned();
        let Some(user) = user.filter(|u| u.password == password) else {
            return Err(error(
                403,
                "User doesn't exist or user is not allowed to provided workspace.",
            ));
        };
        if user.on_hold {
            return Err(json(
                400,
                &json!({
                    "success": false,
                    "data": {
                        "status": "On Hold",
                        "reason": "The particular account is kept on hold due to missed payment dates for last 3 months.",
                        "supportEmail": "support@iqm.com"
                    },
                    "errorObjects": [{
                        "error": "User is not allowed to access provided customer",
                        "reason": "User is not associated with any active organization."
                    }]
                }),
            ));
        }
        let (access, refresh) = Self::issue_pair(ctx, email);
        Ok(json(
            200,
            &json!({"success": true, "data": {
                "access_token": access,
                "refresh_token": refresh,
                "scope": "read write",
                "token_type": "bearer",
                "expires_in": ctx.token_lifetime().as_secs(),
                "owId": user.ow_id,
            }}),
        ))
    }

    fn refresh(&self, ctx: &Ctx, token: Option<&str>) -> Answer {
        let invalid = |why: &str| {
            json(
                400,
                &json!({"error": "invalid_grant", "error_description": why}),
            )
        };
        let refused = |why: &str| {
            self.grants.record("refresh_refused");
            Err(invalid(why))
        };
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            return refused("Missing refresh token");
        };
        let issued = match ctx.store().check(token) {
            TokenCheck::Valid(t) if !is_access(&t.data) => t,
            TokenCheck::Expired => return refused("Refresh token expired"),
            _ => return refused("Invalid refresh token"),
        };
        let access = Self::issue_access(ctx, &issued.subject);
        let refresh = if self.rotate {
            ctx.store().revoke(token);
            let next = uuid::Uuid::new_v4().to_string();
            ctx.insert_refresh(&next, &issued.subject);
            next
        } else {
            token.to_owned()
        };
        // Flat, no owId; the same refresh token unless rotating: as IQM's sample answer.
        Ok(json(
            200,
            &json!({
                "access_token": access,
                "refresh_token": refresh,
                "scope": "read write",
                "token_type": "bearer",
                "expires_in": ctx.token_lifetime().as_secs(),
            }),
        ))
    }

    /// An access token for `email`: a UUID, as IQM's, living the current token lifetime.
    fn issue_access(ctx: &Ctx, email: &str) -> String {
        let value = uuid::Uuid::new_v4().to_string();
        let data = HashMap::from([(USE.to_owned(), ACCESS.to_owned())]);
        ctx.store()
            .insert(&value, email, Some(ctx.token_lifetime()), data);
        ctx.recorder().redact(value.clone());
        value
    }

    fn issue_pair(ctx: &Ctx, email: &str) -> (String, String) {
        let access = Self::issue_access(ctx, email);
        let refresh = uuid::Uuid::new_v4().to_string();
        ctx.insert_refresh(&refresh, email);
        (access, refresh)
    }

    /// The checks every authorized route shares: bearer token, workspace. Returns the
    /// token and its workspace id.
    fn authorized(
        &self,
        ctx: &Ctx,
        req: &HttpMockRequest,
        workspace_required: bool,
    ) -> Result<(String, String), HttpMockResponse> {
        let Some(value) = header(req, "authorization") else {
            return Err(error(401, "Unauthorized: no token"));
        };
        let Some(token) = value.strip_prefix("Bearer ") else {
            return Err(error(401, "Unauthorized: expected a Bearer token"));
        };
        let ow_id = match ctx.store().check(token) {
            TokenCheck::Valid(t) if is_access(&t.data) => self
                .ow_id_of(&t.subject)
                .map(|o| o.to_string())
                .unwrap_or_default(),
            TokenCheck::Expired => return Err(error(401, "Unauthorized: token expired")),
            _ => return Err(error(401, "Unauthorized")),
        };
        match header(req, "x-iaa-ow-id") {
            Some(sent) if sent.trim() == ow_id => {}
            None if !workspace_required => {}
            _ => {
                return Err(error(
                    403,
                    "User doesn't exist or user is not allowed to provided workspace.",
                ));
            }
        }
        Ok((token.to_owned(), ow_id))
    }

    fn logout(&self, ctx: &Ctx, req: &HttpMockRequest) -> Answer {
        let (token, _) = self.authorized(ctx, req, true)?;
        ctx.store().revoke(&token);
        Ok(json(
            200,
            &json!({"success": true, "data": "User logged out successfully."}),
        ))
    }

    fn ow_id(&self, ctx: &Ctx, req: &HttpMockRequest) -> Answer {
        let (_, ow_id) = self.authorized(ctx, req, false)?;
        let n: Value = ow_id
            .parse::<u64>()
            .map(Value::from)
            .unwrap_or(Value::String(ow_id));
        Ok(json(200, &json!({"success": true, "data": n})))
    }

    /// The paged campaign list: paging and the `searchField` filter from the query
    /// (`GET`) or the JSON body (`POST`), IQM's documented list answer.
    fn campaigns(&self, ctx: &Ctx, req: &HttpMockRequest) -> Answer {
        self.authorized(ctx, req, true)?;
        let params: HashMap<String, Value> = if req.method_str().eq_ignore_ascii_case("POST") {
            Self::json_body(req)?.into_iter().collect()
        } else {
            url::form_urlencoded::parse(req.uri().query().unwrap_or_default().as_bytes())
                .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                .collect()
        };
        let whole = |key: &str, min: u64, max: u64| -> Result<Option<u64>, HttpMockResponse> {
            let n = match params.get(key) {
                None | Some(Value::Null) => return Ok(None),
                Some(Value::Number(n)) => n.as_u64(),
                Some(Value::String(s)) => s.trim().parse().ok(),
                Some(_) => None,
            };
            match n.filter(|n| (min..=max).contains(n)) {
                Some(n) => Ok(Some(n)),
                None => Err(field_error(
                    422,
                    key,
                    &format!("{key} must be a whole number from {min} to {max}"),
                )),
            }
        };
        let size = match whole("noOfEntries", 1, 1000)? {
            Some(n) => n,
            None => whole("limit", 1, 1000)?.unwrap_or(20),
        };
        // IQM gives `offset` the priority when both are sent.
        let start = match whole("offset", 0, u64::MAX)? {
            Some(offset) => offset,
            None => (whole("pageNo", 1, u64::MAX)?.unwrap_or(1) - 1).saturating_mul(size),
        };
        let search = match params.get("searchField") {
            Some(Value::String(s)) => s.clone(),
            _ => String::new(),
        };
        let name = |id: u64| format!("campaign-{id}");
        let matching = (1..=self.campaigns).filter(|id| name(*id).contains(search.as_str()));
        let filtered = matching.clone().count();
        let rows: Vec<Value> = matching
            .skip(usize::try_from(start).unwrap_or(usize::MAX))
            .take(usize::try_from(size).unwrap_or(usize::MAX))
            .map(|id| json!({"id": id, "campaignName": name(id), "status": "running"}))
            .collect();
        Ok(json(
            200,
            &json!({"success": true, "data": {
                "data": rows,
                "totalRecords": self.campaigns,
                "filteredRecords": filtered,
            }}),
        ))
    }

    fn api(&self, ctx: &Ctx, req: &HttpMockRequest) -> Answer {
        let (_, ow_id) = self.authorized(ctx, req, true)?;
        let method = req.method_str().to_ascii_uppercase();
        let path = req.uri().path().to_owned();
        Ok(json(
            200,
            &json!({"success": true, "data": {"method": method, "path": path, "owId": ow_id}}),
        ))
    }
}

fn is_access(data: &HashMap<String, String>) -> bool {
    data.get(USE).is_some_and(|u| u == ACCESS)
}
