//! An in-process fake of IQM's user-access API (feature `sandbox`) for this crate's tests,
//! its quickstart, and your own tests.
//!
//! | route | name for [`Sandbox::hits`] | rules |
//! |---|---|---|
//! | `POST /api/v3/ua/sign-up` | `sign_up` | Basic client header; JSON `{email, password}`; answers wrapped tokens without `owId` |
//! | `POST /api/v3/ua/oauth/token` `grant_type=password` | `login` | Basic; form (or JSON) `username`, `password`; wrapped tokens with `owId` |
//! | `POST /api/v3/ua/oauth/token` `grant_type=refresh_token` | `refresh` | Basic; form (or JSON, the reference page's sample) `refresh_token`; a FLAT answer without `owId` |
//! | `POST /api/v3/ua/login` | `json_login` | Basic; `X-Iaa-Host`; JSON `{grantType: "password", email, password}` |
//! | `POST /api/v3/ua/logout` | `logout` | Bearer + `X-IAA-OW-ID`; revokes the access token |
//! | `GET /api/v3/ua/user/ow-id` | `ow_id` | Bearer; `{success: true, data: <owId>}` |
//! | any other `/api/v3/...` | `api` | Bearer + `X-IAA-OW-ID` matching the token's workspace; echoes `{method, path, owId}` |
//!
//! Access and refresh tokens are UUIDs. Access tokens live `expires_in` seconds (35999 by
//! default, as IQM's samples) judged by the clock you inject; refresh tokens until you
//! expire them. Errors use IQM's `{success: false, errorObjects: [...]}` shape (an expired
//! or unknown refresh token gets OAuth's `{"error": "invalid_grant", ...}`). Bad client
//! credentials: 401; bad email or password: 403; a held account: the documented 400
//! on-hold answer; a missing or wrong workspace header: 403; a missing field: 422 naming
//! it; a body of the wrong content type: 415; a wrong method on a known route: 405.
//!
//! Start one in your own tests and point the client at it (enable the feature for tests
//! only: `iqm = { version = "0.1", features = ["sandbox"] }` under `[dev-dependencies]`,
//! and auth-core's `sandbox` feature for [`Fault`]):
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), iqm::Error> {
//! use std::time::Duration;
//! use auth_core::{ManualClock, sandbox::Fault};
//! use iqm::sandbox::Sandbox;
//!
//! let clock = ManualClock::new();
//! let sandbox = Sandbox::builder().clock(clock.clone()).expires_in(600).start().await;
//! let client = sandbox.client_builder().build()?; // the sandbox's URL, clock and users
//! client.login().await?;
//! sandbox.inject(Fault::unauthorized());           // the next authorized call gets a 401
//! client.fetch_workspace_id().await?;               // renewed and retried once
//! assert_eq!(sandbox.token_requests(), 2);
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use auth_core::SharedClock;
use auth_core::sandbox::{
    Fault, Faults, Hits, HttpMockRequest, HttpMockResponse, MockServer, Recorder, TokenCheck,
    TokenStore, header, json,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use crate::auth::{Credentials, LOGIN_PATH, LOGOUT_PATH, OW_ID_PATH, SIGN_UP_PATH, TOKEN_PATH};
use crate::client::ClientBuilder;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Configures and starts a [`Sandbox`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use iqm::sandbox::Sandbox;
/// let sandbox = Sandbox::builder()
///     .clock(auth_core::ManualClock::new())
///     .expires_in(3600)
///     .user("ops@example.com", "ops-password", 300_002)
///     .start()
///     .await;
/// # drop(sandbox); }
/// ```
#[derive(Debug)]
#[must_use]
pub struct SandboxBuilder {
    clock: SharedClock,
    expires_in: u64,
    users: HashMap<String, User>,
}

#[derive(Debug, Clone)]
struct User {
    password: String,
    ow_id: u64,
    on_hold: bool,
}

impl SandboxBuilder {
    /// The clock tokens are judged by (share a `ManualClock` with the client).
    ///
    /// ```
    /// let b = iqm::sandbox::Sandbox::builder().clock(auth_core::ManualClock::new());
    /// # drop(b);
    /// ```
    pub fn clock(mut self, clock: impl Into<SharedClock>) -> Self {
        self.clock = clock.into();
        self
    }

    /// The `expires_in` of issued access tokens, in seconds (default 35999; 0 is raised
    /// to 1).
    ///
    /// ```
    /// let b = iqm::sandbox::Sandbox::builder().expires_in(60);
    /// # drop(b);
    /// ```
    pub fn expires_in(mut self, seconds: u64) -> Self {
        self.expires_in = seconds.max(1);
        self
    }

    /// The access-token lifetime as a duration (whole seconds; see
    /// [`expires_in`](Self::expires_in)).
    ///
    /// ```
    /// let b = iqm::sandbox::Sandbox::builder().token_lifetime(std::time::Duration::from_secs(60));
    /// # drop(b);
    /// ```
    pub fn token_lifetime(self, lifetime: Duration) -> Self {
        self.expires_in(lifetime.as_secs())
    }

    /// Add a user with its workspace id (the default user [`Sandbox::EMAIL`] always
    /// exists, workspace [`Sandbox::OW_ID`]).
    ///
    /// ```
    /// let b = iqm::sandbox::Sandbox::builder().user("u@example.com", "pw", 7);
    /// # drop(b);
    /// ```
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

    /// Start the server.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let sandbox = iqm::sandbox::Sandbox::builder().start().await;
    /// assert!(sandbox.base_url().starts_with("http://127.0.0.1"));
    /// # }
    /// ```
    pub async fn start(self) -> Sandbox {
        let recorder = Recorder::default();
        recorder.redact(Sandbox::CLIENT_SECRET);
        recorder.redact(basic_value(Sandbox::CLIENT_ID, Sandbox::CLIENT_SECRET));
        for user in self.users.values() {
            recorder.redact(user.password.clone());
        }
        let state = Arc::new(State {
            store: TokenStore::new(self.clock.clone()),
            clock: self.clock,
            expires_in: self.expires_in,
            users: Mutex::new(self.users),
            next_ow_id: Mutex::new(400_001),
            refresh_tokens: Mutex::new(Vec::new()),
            faults: Faults::default(),
            token_faults: Faults::default(),
            hits: Hits::default(),
            recorder,
        });
        let server = MockServer::start_async().await;
        let handler = state.clone();
        server
            .mock_async(move |_when, then| {
                then.respond_with(move |req: &HttpMockRequest| handler.handle(req));
            })
            .await;
        Sandbox { server, state }
    }
}

/// A running fake of IQM; see the [module docs](self).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), iqm::Error> {
/// let sandbox = iqm::sandbox::Sandbox::builder().start().await;
/// let client = sandbox.client_builder().build()?;
/// assert_eq!(client.login().await?, iqm::sandbox::Sandbox::OW_ID.to_string());
/// assert_eq!(sandbox.hits("login"), 1);
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
            .field("expires_in", &self.state.expires_in)
            .finish_non_exhaustive()
    }
}

impl Sandbox {
    /// The API client id the sandbox accepts.
    ///
    /// ```
    /// assert!(!iqm::sandbox::Sandbox::CLIENT_ID.is_empty());
    /// ```
    pub const CLIENT_ID: &'static str = "sandbox-client-id";
    /// The API client secret the sandbox accepts.
    ///
    /// ```
    /// assert!(!iqm::sandbox::Sandbox::CLIENT_SECRET.is_empty());
    /// ```
    pub const CLIENT_SECRET: &'static str = "sandbox-client-secret-5e1f";
    /// The default user's email.
    ///
    /// ```
    /// assert!(iqm::sandbox::Sandbox::EMAIL.contains('@'));
    /// ```
    pub const EMAIL: &'static str = "sandbox-user@example.com";
    /// The default user's password.
    ///
    /// ```
    /// assert!(!iqm::sandbox::Sandbox::PASSWORD.is_empty());
    /// ```
    pub const PASSWORD: &'static str = "sandbox-password-91d2";
    /// The default user's workspace id.
    ///
    /// ```
    /// assert_eq!(iqm::sandbox::Sandbox::OW_ID, 200_001);
    /// ```
    pub const OW_ID: u64 = 200_001;

    /// A builder: system clock, `expires_in` 35999, the default user.
    ///
    /// ```
    /// let b = iqm::sandbox::Sandbox::builder();
    /// # drop(b);
    /// ```
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
            clock: SharedClock::default(),
            expires_in: 35_999,
            users,
        }
    }

    /// The base URL.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// println!("{}", iqm::sandbox::Sandbox::builder().start().await.base_url());
    /// # }
    /// ```
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// The default user's credentials with the sandbox's client id and secret.
    ///
    /// ```
    /// assert_eq!(iqm::sandbox::Sandbox::credentials().email(), iqm::sandbox::Sandbox::EMAIL);
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
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), iqm::Error> {
    /// let sandbox = iqm::sandbox::Sandbox::builder().start().await;
    /// let client = sandbox.client_builder().build()?;
    /// # drop(client); Ok(()) }
    /// ```
    pub fn client_builder(&self) -> ClientBuilder {
        ClientBuilder::default()
            .with_base_url(self.base_url())
            .with_clock(self.state.clock.clone())
            .with_credentials(Self::credentials())
    }

    /// Serve `fault` on the next authorized call, whatever its path.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// iqm::sandbox::Sandbox::builder().start().await.inject(auth_core::sandbox::Fault::unauthorized());
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
    /// let sandbox = iqm::sandbox::Sandbox::builder().start().await;
    /// sandbox.inject_on("/api/v3/ua/user", auth_core::sandbox::Fault::server_error(503));
    /// # }
    /// ```
    pub fn inject_on(&self, path_prefix: impl Into<String>, fault: Fault) {
        self.state.faults.push_on(path_prefix, fault);
    }

    /// Serve `fault` on the next sign-up, login or refresh call.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let sandbox = iqm::sandbox::Sandbox::builder().start().await;
    /// sandbox.inject_token(auth_core::sandbox::Fault::rate_limited(Some(60), "Too many requests"));
    /// # }
    /// ```
    pub fn inject_token(&self, fault: Fault) {
        self.state.token_faults.push(fault);
    }

    /// Requests served on route `name` (see the [module docs](self) for the names).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// assert_eq!(iqm::sandbox::Sandbox::builder().start().await.hits("refresh"), 0);
    /// # }
    /// ```
    pub fn hits(&self, name: &str) -> u64 {
        self.state.hits.get(name)
    }

    /// Token requests answered or refused: logins (either call) plus refreshes.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// assert_eq!(iqm::sandbox::Sandbox::builder().start().await.token_requests(), 0);
    /// # }
    /// ```
    pub fn token_requests(&self) -> u64 {
        let h = &self.state.hits;
        h.get("login") + h.get("json_login") + h.get("refresh")
    }

    /// The request recorder (client secret, Basic value, passwords and issued tokens are
    /// redacted in its renderings).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let sandbox = iqm::sandbox::Sandbox::builder().start().await;
    /// assert!(sandbox.recorder().last("/api/v3/ua/oauth/token").is_none());
    /// # }
    /// ```
    pub fn recorder(&self) -> &Recorder {
        &self.state.recorder
    }

    /// Refuse every refresh token issued so far (the next refresh gets `invalid_grant`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// iqm::sandbox::Sandbox::builder().start().await.expire_refresh_tokens();
    /// # }
    /// ```
    pub fn expire_refresh_tokens(&self) {
        for t in lock(&self.state.refresh_tokens).iter() {
            self.state.store.revoke(t);
        }
    }

    /// Expire every token issued so far, access and refresh.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// iqm::sandbox::Sandbox::builder().start().await.expire_all_tokens();
    /// # }
    /// ```
    pub fn expire_all_tokens(&self) {
        self.state.store.expire_all();
    }

    /// Change a user's password (later logins with the old one get a 403).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let sandbox = iqm::sandbox::Sandbox::builder().start().await;
    /// sandbox.set_password(iqm::sandbox::Sandbox::EMAIL, "new-password");
    /// # }
    /// ```
    pub fn set_password(&self, email: &str, password: &str) {
        self.state.recorder.redact(password);
        if let Some(u) = lock(&self.state.users).get_mut(email) {
            u.password = password.to_owned();
        }
    }

    /// Put a user's account on hold (logins get IQM's 400 on-hold answer) or release it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let sandbox = iqm::sandbox::Sandbox::builder().start().await;
    /// sandbox.set_on_hold(iqm::sandbox::Sandbox::EMAIL, true);
    /// # }
    /// ```
    pub fn set_on_hold(&self, email: &str, on_hold: bool) {
        if let Some(u) = lock(&self.state.users).get_mut(email) {
            u.on_hold = on_hold;
        }
    }

    /// The workspace id of a user, if the user exists (signed-up users get one too).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let sandbox = iqm::sandbox::Sandbox::builder().start().await;
    /// assert_eq!(sandbox.ow_id(iqm::sandbox::Sandbox::EMAIL), Some(iqm::sandbox::Sandbox::OW_ID));
    /// # }
    /// ```
    pub fn ow_id(&self, email: &str) -> Option<u64> {
        lock(&self.state.users).get(email).map(|u| u.ow_id)
    }
}

struct State {
    clock: SharedClock,
    store: TokenStore,
    expires_in: u64,
    users: Mutex<HashMap<String, User>>,
    next_ow_id: Mutex<u64>,
    refresh_tokens: Mutex<Vec<String>>,
    faults: Faults,
    token_faults: Faults,
    hits: Hits,
    recorder: Recorder,
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

fn fault(f: &Fault) -> HttpMockResponse {
    f.respond(json!({"success": false, "errorObjects": [{"error": f.message}]}).to_string())
}

type Answer = Result<HttpMockResponse, HttpMockResponse>;

impl State {
    fn handle(&self, req: &HttpMockRequest) -> HttpMockResponse {
        self.recorder.record(req);
        let uri = req.uri();
        let path = uri.path().to_owned();
        let method = req.method_str().to_ascii_uppercase();
        let answer = match (method.as_str(), path.as_str()) {
            ("POST", SIGN_UP_PATH) => self.sign_up(req),
            ("POST", TOKEN_PATH) => self.token(req),
            ("POST", LOGIN_PATH) => self.json_login(req),
            ("POST", LOGOUT_PATH) => self.logout(req, &path),
            ("GET", OW_ID_PATH) => self.ow_id(req, &path),
            (_, SIGN_UP_PATH | TOKEN_PATH | LOGIN_PATH | LOGOUT_PATH | OW_ID_PATH) => {
                Err(error(405, "Method Not Allowed"))
            }
            (m, p) if p.starts_with("/api/v3/") => self.api(req, m, p),
            _ => Err(error(404, "Not Found")),
        };
        answer.unwrap_or_else(|e| e)
    }

    fn check_basic(&self, req: &HttpMockRequest) -> Result<(), HttpMockResponse> {
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

    fn token_fault(&self, path: &str) -> Result<(), HttpMockResponse> {
        match self.token_faults.take(path) {
            Some(f) => Err(fault(&f)),
            None => Ok(()),
        }
    }

    fn sign_up(&self, req: &HttpMockRequest) -> Answer {
        self.hits.record("sign_up");
        self.token_fault(SIGN_UP_PATH)?;
        self.check_basic(req)?;
        let body = Self::json_body(req)?;
        let email = Self::text(&body, "email")?;
        let password = Self::text(&body, "password")?;
        let ow_id = {
            let mut users = lock(&self.users);
            if users.contains_key(&email) {
                return Err(json(
                    403,
                    &json!({"success": false, "errorObjects": [{
                        "error": "User is not allowed to create a password.",
                        "reason": "User is not invited or invitation is processed or invitation is expired."
                    }]}),
                ));
            }
            let mut next = lock(&self.next_ow_id);
            let ow_id = *next;
            *next += 1;
            self.recorder.redact(password.clone());
            users.insert(
                email.clone(),
                User {
                    password,
                    ow_id,
                    on_hold: false,
                },
            );
            ow_id
        };
        let (access, refresh) = self.issue_pair(&email, ow_id);
        Ok(json(
            200,
            &json!({"success": true, "data": {
                "access_token": access,
                "refresh_token": refresh,
                "scope": "read write",
                "token_type": "bearer",
                "expires_in": self.expires_in,
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

    fn token(&self, req: &HttpMockRequest) -> Answer {
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
        self.hits.record(route);
        self.token_fault(TOKEN_PATH)?;
        self.check_basic(req)?;
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
                self.login(username, password)
            }
            "refresh_token" => self.refresh(form.get("refresh_token").map(String::as_str)),
            _ => Err(json(
                400,
                &json!({"error": "unsupported_grant_type", "error_description": "Unsupported grant type"}),
            )),
        }
    }

    fn json_login(&self, req: &HttpMockRequest) -> Answer {
        self.hits.record("json_login");
        self.token_fault(LOGIN_PATH)?;
        self.check_basic(req)?;
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
        self.login(&email, &password)
    }

    fn login(&self, email: &str, password: &str) -> Answer {
        let user = lock(&self.users).get(email).cloned();
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
        let (access, refresh) = self.issue_pair(email, user.ow_id);
        Ok(json(
            200,
            &json!({"success": true, "data": {
                "access_token": access,
                "refresh_token": refresh,
                "scope": "read write",
                "token_type": "bearer",
                "expires_in": self.expires_in,
                "owId": user.ow_id,
            }}),
        ))
    }

    fn refresh(&self, token: Option<&str>) -> Answer {
        let invalid = |why: &str| {
            json(
                400,
                &json!({"error": "invalid_grant", "error_description": why}),
            )
        };
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            return Err(invalid("Missing refresh token"));
        };
        let issued = match self.store.check(token) {
            TokenCheck::Valid(t) if t.data.get("kind").is_some_and(|k| k == "refresh") => t,
            TokenCheck::Expired => return Err(invalid("Refresh token expired")),
            _ => return Err(invalid("Invalid refresh token")),
        };
        let ow_id = issued
            .data
            .get("owId")
            .and_then(|o| o.parse::<u64>().ok())
            .unwrap_or_default();
        let access = self.issue_access(&issued.subject, ow_id);
        // Flat, no owId, the same refresh token: as IQM's sample answer.
        Ok(json(
            200,
            &json!({
                "access_token": access,
                "refresh_token": token,
                "scope": "read write",
                "token_type": "bearer",
                "expires_in": self.expires_in,
            }),
        ))
    }

    fn issue_access(&self, email: &str, ow_id: u64) -> String {
        let value = uuid::Uuid::new_v4().to_string();
        let data = HashMap::from([
            ("kind".to_owned(), "access".to_owned()),
            ("owId".to_owned(), ow_id.to_string()),
        ]);
        self.store.insert(
            &value,
            email,
            Some(Duration::from_secs(self.expires_in)),
            data,
        );
        self.recorder.redact(value.clone());
        value
    }

    fn issue_pair(&self, email: &str, ow_id: u64) -> (String, String) {
        let access = self.issue_access(email, ow_id);
        let refresh = uuid::Uuid::new_v4().to_string();
        let data = HashMap::from([
            ("kind".to_owned(), "refresh".to_owned()),
            ("owId".to_owned(), ow_id.to_string()),
        ]);
        self.store.insert(&refresh, email, None, data);
        self.recorder.redact(refresh.clone());
        lock(&self.refresh_tokens).push(refresh.clone());
        (access, refresh)
    }

    /// The checks every authorized route shares: queued fault, bearer token, workspace.
    /// Returns the token and its workspace id.
    fn authorized(
        &self,
        req: &HttpMockRequest,
        path: &str,
        workspace_required: bool,
    ) -> Result<(String, String), HttpMockResponse> {
        if let Some(f) = self.faults.take(path) {
            return Err(fault(&f));
        }
        let Some(value) = header(req, "authorization") else {
            return Err(error(401, "Unauthorized: no token"));
        };
        let Some(token) = value.strip_prefix("Bearer ") else {
            return Err(error(401, "Unauthorized: expected a Bearer token"));
        };
        let ow_id = match self.store.check(token) {
            TokenCheck::Valid(t) if t.data.get("kind").is_some_and(|k| k == "access") => {
                t.data.get("owId").cloned().unwrap_or_default()
            }
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

    fn logout(&self, req: &HttpMockRequest, path: &str) -> Answer {
        self.hits.record("logout");
        let (token, _) = self.authorized(req, path, true)?;
        self.store.revoke(&token);
        Ok(json(
            200,
            &json!({"success": true, "data": "User logged out successfully."}),
        ))
    }

    fn ow_id(&self, req: &HttpMockRequest, path: &str) -> Answer {
        self.hits.record("ow_id");
        let (_, ow_id) = self.authorized(req, path, false)?;
        let n: Value = ow_id
            .parse::<u64>()
            .map(Value::from)
            .unwrap_or(Value::String(ow_id));
        Ok(json(200, &json!({"success": true, "data": n})))
    }

    fn api(&self, req: &HttpMockRequest, method: &str, path: &str) -> Answer {
        self.hits.record("api");
        let (_, ow_id) = self.authorized(req, path, true)?;
        Ok(json(
            200,
            &json!({"success": true, "data": {"method": method, "path": path, "owId": ow_id}}),
        ))
    }
}
