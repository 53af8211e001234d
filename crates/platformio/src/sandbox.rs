//! An in-process fake of the platform (feature `sandbox`) for tests, examples and your own
//! tests: service login issuing real-format JWTs of configurable lifetime judged by an
//! injected clock, client accounts kept in memory, the documented error answers, and
//! injectable 401, 429 and 5xx faults.
//!
//! Start it in your own tests with the `sandbox` feature enabled:
//!
//! ```
//! use std::time::Duration;
//! use auth_core::ManualClock;
//! use platformio::sandbox::Sandbox;
//!
//! # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
//! # async fn main() -> platformio::Result<()> {
//! let clock = ManualClock::new();
//! let sandbox = Sandbox::builder()
//!     .clock(clock.clone())
//!     .token_lifetime(Duration::from_secs(600))
//!     .start()
//!     .await;
//! let client = sandbox.client_builder().build()?;
//! client.sign_in().await?;
//! clock.advance(Duration::from_secs(601));
//! client.sign_in().await?;
//! assert_eq!(sandbox.token_requests(), 2);
//! # Ok(()) }
//! ```

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, UNIX_EPOCH};

use auth_core::SharedClock;
use auth_core::sandbox::{
    Fault, Faults, Hits, HttpMockRequest, HttpMockResponse, MockServer, Recorder, TokenCheck,
    TokenStore, bearer, empty, header, json, mint_jwt, unix_seconds,
};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::client::{CLIENT_LOGIN_PATH, ClientBuilder, LOGIN_PATH, SIGNUP_PATH};
use crate::models::is_e164;
use crate::{Client, ClientName, ServiceCredentials};

/// The service user name a sandbox accepts unless told otherwise.
pub const DEFAULT_USERNAME: &str = "service_user";
/// The service user password a sandbox accepts unless told otherwise.
pub const DEFAULT_PASSWORD: &str = "sandbox-service-password";

const ERROR_ID: &str = "21fc115e-08c8-45af-8f0b-271f7d6fe254";

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Configures and starts a [`Sandbox`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let sandbox = platformio::sandbox::Sandbox::builder()
///     .service_user("svc", "pw")
///     .token_lifetime(std::time::Duration::from_secs(3600))
///     .start()
///     .await;
/// assert_eq!(sandbox.credentials().username(), "svc");
/// # }
/// ```
#[derive(Debug)]
pub struct SandboxBuilder {
    clock: SharedClock,
    lifetime: Duration,
    username: String,
    password: String,
}

impl Default for SandboxBuilder {
    fn default() -> Self {
        SandboxBuilder {
            clock: SharedClock::default(),
            lifetime: Duration::from_secs(3600),
            username: DEFAULT_USERNAME.into(),
            password: DEFAULT_PASSWORD.into(),
        }
    }
}

impl SandboxBuilder {
    /// The clock that sets `exp` and judges expiry (share a `ManualClock` with the client).
    ///
    /// ```
    /// let b = platformio::sandbox::Sandbox::builder().clock(auth_core::ManualClock::new());
    /// # drop(b);
    /// ```
    pub fn clock(mut self, clock: impl Into<SharedClock>) -> Self {
        self.clock = clock.into();
        self
    }

    /// How long an API token lives (one hour by default).
    ///
    /// ```
    /// let b = platformio::sandbox::Sandbox::builder().token_lifetime(std::time::Duration::from_secs(600));
    /// # drop(b);
    /// ```
    pub fn token_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// The service user the sandbox accepts.
    ///
    /// ```
    /// let b = platformio::sandbox::Sandbox::builder().service_user("svc", "pw");
    /// # drop(b);
    /// ```
    pub fn service_user(
        mut self,
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        self.username = username.into();
        self.password = password.into();
        self
    }

    /// Start the sandbox on a loopback port.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let sandbox = platformio::sandbox::Sandbox::builder().start().await;
    /// assert!(sandbox.base_url().starts_with("http://127.0.0.1"));
    /// # }
    /// ```
    pub async fn start(self) -> Sandbox {
        let state = Arc::new(State {
            clock: self.clock.clone(),
            lifetime: Mutex::new(self.lifetime),
            username: self.username,
            password: self.password.clone(),
            api_tokens: TokenStore::new(self.clock.clone()),
            client_tokens: Mutex::new(HashMap::new()),
            accounts: Mutex::new(BTreeMap::new()),
            faults: Faults::default(),
            login_faults: Faults::default(),
            hits: Hits::default(),
            recorder: {
                // The vendor's own credential header is never rendered, refused or not.
                let recorder = Recorder::default();
                recorder.redact_header("client-token");
                recorder
            },
            serial: Mutex::new(0),
        });
        state.recorder.redact(self.password);
        let server = MockServer::start_async().await;
        let s = state.clone();
        server
            .mock_async(move |_when, then| {
                then.respond_with(move |req: &HttpMockRequest| s.dispatch(req));
            })
            .await;
        Sandbox {
            server: Arc::new(server),
            state,
        }
    }
}

/// The in-process fake platform. Cheap to clone; clones share the server and its state.
///
/// Routes: `POST /v1/login/password`, `POST /v1/client/signup`, `POST /v1/client/login`,
/// `PUT` and `DELETE /v1/client/{user_id}`. Hit counters are named `login`, `signup`,
/// `client_login`, `update` and `delete`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> platformio::Result<()> {
/// let sandbox = platformio::sandbox::Sandbox::start().await;
/// let client = sandbox.client_builder().build()?;
/// client.sign_in().await?;
/// assert_eq!(sandbox.hits("login"), 1);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Sandbox {
    server: Arc<MockServer>,
    state: Arc<State>,
}

impl fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sandbox")
            .field("base_url", &self.server.base_url())
            .finish_non_exhaustive()
    }
}

/// A client account as the sandbox stores it. Debug never shows the client's password.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> platformio::Result<()> {
/// use platformio::{ClientName, NewClient, Uuid};
/// let sandbox = platformio::sandbox::Sandbox::start().await;
/// let client = sandbox.client_builder().build()?;
/// let id = Uuid::new_v4();
/// client.sign_up(&NewClient::new(id, "a@example.com", ClientName::new("A", "B"), "pw-1")).await?;
/// assert!(sandbox.account(id).is_some_and(|a| !format!("{a:?}").contains("pw-1")));
/// # Ok(()) }
/// ```
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct SandboxAccount {
    /// The client's UUID.
    pub user_id: Uuid,
    /// Email address (`None` once deleted).
    pub email: Option<String>,
    /// Names (`None` once deleted).
    pub name: Option<ClientName>,
    /// Phone number, if any.
    pub phone_number: Option<String>,
    /// Custom data.
    pub custom_data: Map<String, Value>,
    /// Whether the account was deleted (only its user id is kept).
    pub deleted: bool,
    password: String,
}

impl fmt::Debug for SandboxAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SandboxAccount")
            .field("user_id", &self.user_id)
            .field("email", &self.email)
            .field("name", &self.name)
            .field("phone_number", &self.phone_number)
            .field("custom_data", &self.custom_data)
            .field("deleted", &self.deleted)
            .field("password", &"[REDACTED]")
            .finish()
    }
}

impl Sandbox {
    /// Start a sandbox with the defaults: system clock, one-hour tokens, the default user.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let _sandbox = platformio::sandbox::Sandbox::start().await;
    /// # }
    /// ```
    pub async fn start() -> Sandbox {
        SandboxBuilder::default().start().await
    }

    /// Configure a sandbox.
    ///
    /// ```
    /// let _ = platformio::sandbox::Sandbox::builder();
    /// ```
    pub fn builder() -> SandboxBuilder {
        SandboxBuilder::default()
    }

    /// The base URL to give the client.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let s = platformio::sandbox::Sandbox::start().await;
    /// assert!(s.base_url().starts_with("http://"));
    /// # }
    /// ```
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// The service user the sandbox accepts.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let s = platformio::sandbox::Sandbox::start().await;
    /// assert_eq!(s.credentials().username(), platformio::sandbox::DEFAULT_USERNAME);
    /// # }
    /// ```
    pub fn credentials(&self) -> ServiceCredentials {
        ServiceCredentials::new(self.state.username.clone(), self.state.password.clone())
    }

    /// A client builder wired to this sandbox: base URL, service user and clock.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> platformio::Result<()> {
    /// let s = platformio::sandbox::Sandbox::start().await;
    /// let client = s.client_builder().build()?;
    /// # drop(client); Ok(()) }
    /// ```
    pub fn client_builder(&self) -> ClientBuilder {
        Client::builder()
            .with_base_url(self.base_url())
            .with_credentials(self.credentials())
            .with_clock(self.state.clock.clone())
    }

    /// Serve `fault` (in the platform's error shape) on the next client account call.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use auth_core::sandbox::Fault;
    /// let s = platformio::sandbox::Sandbox::start().await;
    /// s.inject(Fault::rate_limited(Some(30), "Too many requests"));
    /// # }
    /// ```
    pub fn inject(&self, fault: Fault) {
        self.state.faults.push(fault);
    }

    /// Serve `fault` on the next client account call whose path starts with `path_prefix`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use auth_core::sandbox::Fault;
    /// let s = platformio::sandbox::Sandbox::start().await;
    /// s.inject_on("/v1/client/login", Fault::server_error(503));
    /// # }
    /// ```
    pub fn inject_on(&self, path_prefix: impl Into<String>, fault: Fault) {
        self.state.faults.push_on(path_prefix, fault);
    }

    /// Serve `fault` on the next service login (`POST /v1/login/password`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use auth_core::sandbox::Fault;
    /// let s = platformio::sandbox::Sandbox::start().await;
    /// s.inject_login(Fault::server_error(503));
    /// # }
    /// ```
    pub fn inject_login(&self, fault: Fault) {
        self.state.login_faults.push(fault);
    }

    /// Requests served on `route` (`login`, `signup`, `client_login`, `update`, `delete`,
    /// `unknown`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// assert_eq!(platformio::sandbox::Sandbox::start().await.hits("signup"), 0);
    /// # }
    /// ```
    pub fn hits(&self, route: &str) -> u64 {
        self.state.hits.get(route)
    }

    /// Service logins answered (successful or not).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// assert_eq!(platformio::sandbox::Sandbox::start().await.token_requests(), 0);
    /// # }
    /// ```
    pub fn token_requests(&self) -> u64 {
        self.state.hits.get("login")
    }

    /// The recorder of every request served; passwords, bearer tokens and client tokens are
    /// redacted, whether the sandbox accepted them or not.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// assert!(platformio::sandbox::Sandbox::start().await.recorder().all().is_empty());
    /// # }
    /// ```
    pub fn recorder(&self) -> &Recorder {
        &self.state.recorder
    }

    /// Change the lifetime of API tokens issued from now on.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// platformio::sandbox::Sandbox::start().await.set_token_lifetime(std::time::Duration::from_secs(60));
    /// # }
    /// ```
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        *lock(&self.state.lifetime) = lifetime;
    }

    /// Revoke every API token issued so far (they answer 401 from now on).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// platformio::sandbox::Sandbox::start().await.revoke_api_tokens();
    /// # }
    /// ```
    pub fn revoke_api_tokens(&self) {
        self.state.api_tokens.expire_all();
    }

    /// The stored account of `user_id`, if one was signed up.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// assert!(platformio::sandbox::Sandbox::start().await.account(uuid::Uuid::nil()).is_none());
    /// # }
    /// ```
    pub fn account(&self, user_id: Uuid) -> Option<SandboxAccount> {
        lock(&self.state.accounts).get(&user_id).cloned()
    }
}

struct State {
    clock: SharedClock,
    lifetime: Mutex<Duration>,
    username: String,
    password: String,
    api_tokens: TokenStore,
    client_tokens: Mutex<HashMap<String, Uuid>>,
    accounts: Mutex<BTreeMap<Uuid, SandboxAccount>>,
    faults: Faults,
    login_faults: Faults,
    hits: Hits,
    recorder: Recorder,
    serial: Mutex<u64>,
}

/// The platform's error answer.
fn error(
    status: u16,
    title: &str,
    code: &str,
    detail: Option<&str>,
    source: Option<&str>,
) -> HttpMockResponse {
    let mut e = Map::new();
    e.insert("id".into(), json!(ERROR_ID));
    e.insert("title".into(), json!(title));
    e.insert("code".into(), json!(code));
    if let Some(d) = detail {
        e.insert("detail".into(), json!(d));
    }
    if let Some(s) = source {
        e.insert("source".into(), json!(s));
    }
    e.insert("status".into(), json!(status));
    json(status, &json!({"errors": [Value::Object(e)]}))
}

fn field_type(field: &str, expected: &str) -> HttpMockResponse {
    error(
        400,
        "Field type is invalid",
        "errors.validation.field.type",
        Some(&format!("Expected '{expected}' for field '{field}'")),
        Some(field),
    )
}

fn field_value(field: &str, why: &str) -> HttpMockResponse {
    error(
        400,
        "Field is invalid",
        "errors.validation.field.value",
        Some(&format!("Invalid field '{field}': {why}")),
        Some(field),
    )
}

fn auth_invalid() -> HttpMockResponse {
    error(
        401,
        "Invalid authentication token",
        "errors.auth.invalid",
        None,
        None,
    )
}

fn login_failed() -> HttpMockResponse {
    error(
        401,
        "Login failed.",
        "errors.login.failed",
        Some("Password and/or user incorrect."),
        None,
    )
}

fn forbidden(detail: &str) -> HttpMockResponse {
    error(
        403,
        "Permission denied.",
        "errors.forbidden",
        Some(detail),
        None,
    )
}

fn not_found(entity: &str) -> HttpMockResponse {
    error(
        404,
        &format!("{entity} could not be found"),
        "errors.not-found",
        None,
        None,
    )
}

fn fault_response(f: &Fault) -> HttpMockResponse {
    let code = match f.status {
        401 => "errors.auth.invalid",
        403 => "errors.forbidden",
        404 => "errors.not-found",
        429 => "errors.rate-limit",
        500..=599 => "errors.internal",
        _ => "errors.fault",
    };
    let body =
        json!({"errors": [{"id": ERROR_ID, "title": f.message, "code": code, "status": f.status}]});
    f.respond(body.to_string())
}

type Answer = Result<HttpMockResponse, HttpMockResponse>;

fn json_object(
    req: &HttpMockRequest,
    required: bool,
) -> Result<Map<String, Value>, HttpMockResponse> {
    let body = req.body_string();
    if body.trim().is_empty() && !required {
        return Ok(Map::new());
    }
    let is_json = header(req, "content-type").is_some_and(|c| c.starts_with("application/json"));
    if !is_json {
        return Err(field_type("body", "application/json"));
    }
    match serde_json::from_str::<Value>(&body) {
        Ok(Value::Object(o)) => Ok(o),
        _ => Err(field_type("body", "object")),
    }
}

fn string_field<'a>(
    o: &'a Map<String, Value>,
    field: &str,
    required: bool,
) -> Result<Option<&'a str>, HttpMockResponse> {
    match o.get(field) {
        None if required => Err(field_value(field, "field is required")),
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(field_type(field, "string")),
    }
}

fn check_custom_data(v: &Value) -> Result<Map<String, Value>, HttpMockResponse> {
    let Value::Object(o) = v else {
        return Err(field_type("custom_data", "object"));
    };
    for (k, v) in o {
        if matches!(v, Value::Null | Value::Array(_)) {
            return Err(field_type(
                &format!("custom_data.{k}"),
                "string, number, boolean or object",
            ));
        }
    }
    Ok(o.clone())
}

fn check_email(field: &str, email: &str) -> Result<(), HttpMockResponse> {
    match email.split_once('@') {
        Some((a, b)) if !a.is_empty() && !b.is_empty() => Ok(()),
        _ => Err(field_value(field, "not an email address")),
    }
}

fn check_phone(p: &str) -> Result<(), HttpMockResponse> {
    if is_e164(p) {
        Ok(())
    } else {
        Err(field_value("phone_number", "must be E.164"))
    }
}

impl State {
    fn dispatch(&self, req: &HttpMockRequest) -> HttpMockResponse {
        self.redact_secrets(req);
        self.recorder.record(req);
        let method = req.method();
        let path = req.uri().path().to_owned();
        let method = method.as_str();
        let answer = match (method, path.as_str()) {
            ("POST", LOGIN_PATH) => {
                self.hits.record("login");
                match self.login_faults.take(&path) {
                    Some(f) => Err(fault_response(&f)),
                    None => self.login(req),
                }
            }
            (_, LOGIN_PATH) => Err(not_found("Endpoint")),
            ("POST", SIGNUP_PATH) => self.authorized(req, "signup", |s| s.signup(req)),
            ("POST", CLIENT_LOGIN_PATH) => {
                self.authorized(req, "client_login", |s| s.client_login(req))
            }
            ("PUT", p) if p.starts_with("/v1/client/") => {
                let id = p.trim_start_matches("/v1/client/").to_owned();
                self.authorized(req, "update", |s| s.update(req, &id))
            }
            ("DELETE", p) if p.starts_with("/v1/client/") => {
                let id = p.trim_start_matches("/v1/client/").to_owned();
                self.authorized(req, "delete", |s| s.delete(req, &id))
            }
            _ => {
                self.hits.record("unknown");
                Err(not_found("Endpoint"))
            }
        };
        answer.unwrap_or_else(|e| e)
    }

    /// Every secret a request carries, accepted or not (a refused password, a forged client
    /// token), is redacted from the recorder before the request is recorded.
    fn redact_secrets(&self, req: &HttpMockRequest) {
        if let Some(token) = bearer(req) {
            self.recorder.redact(token);
        }
        if let Some(token) = header(req, "client-token") {
            self.recorder.redact(token);
        }
        if let Ok(Value::Object(body)) = serde_json::from_str::<Value>(&req.body_string())
            && let Some(Value::String(p)) = body.get("password")
        {
            self.recorder.redact(p.clone());
        }
    }

    fn authorized(
        &self,
        req: &HttpMockRequest,
        route: &str,
        f: impl FnOnce(&Self) -> Answer,
    ) -> Answer {
        self.hits.record(route);
        let Some(token) = bearer(req) else {
            return Err(auth_invalid());
        };
        match self.api_tokens.check(&token) {
            TokenCheck::Valid(_) => {}
            _ => return Err(auth_invalid()),
        }
        if let Some(fault) = self.faults.take(req.uri().path()) {
            return Err(fault_response(&fault));
        }
        f(self)
    }

    fn next_serial(&self) -> u64 {
        let mut s = lock(&self.serial);
        *s += 1;
        *s
    }

    fn login(&self, req: &HttpMockRequest) -> Answer {
        if header(req, "authorization").is_some() {
            // The login is the one endpoint without bearer auth; a client sending one is confused.
            return Err(field_value(
                "Authorization",
                "the login takes no bearer token",
            ));
        }
        let body = json_object(req, true)?;
        let username = string_field(&body, "username", true)?.unwrap_or_default();
        let password = string_field(&body, "password", true)?.unwrap_or_default();
        if username != self.username || password != self.password {
            return Err(login_failed());
        }
        let now = self.clock.now();
        let lifetime = *lock(&self.lifetime);
        let exp = unix_seconds(now.checked_add(lifetime).unwrap_or(now));
        let serial = self.next_serial();
        let jwt = mint_jwt(&json!({
            "r": ["service"],
            "exp": exp,
            "iat": unix_seconds(now),
            "sub": "f76ec415-1811-4935-a659-63dc2483c852",
            "reg": "za",
            "jti": serial,
        }));
        self.api_tokens.insert(&jwt, username, None, HashMap::new());
        // The store judges expiry by the exact `exp` the client reads.
        self.api_tokens
            .set_expiry(&jwt, Some(UNIX_EPOCH + Duration::from_secs(exp)));
        self.recorder.redact(jwt.clone());
        Ok(json(200, &json!({"api_token": jwt})))
    }

    fn issue_client_token(&self, user_id: Uuid) -> String {
        let token = format!("ct-{}-{}", self.next_serial(), user_id.simple());
        lock(&self.client_tokens).insert(token.clone(), user_id);
        self.recorder.redact(token.clone());
        token
    }

    fn signup(&self, req: &HttpMockRequest) -> Answer {
        let body = json_object(req, true)?;
        let raw_id = string_field(&body, "user_id", true)?.unwrap_or_default();
        let user_id = Uuid::parse_str(raw_id).map_err(|_| field_value("user_id", "not a UUID"))?;
        let email = string_field(&body, "email", true)?
            .unwrap_or_default()
            .to_owned();
        check_email("email", &email)?;
        let name = match body.get("name") {
            None => return Err(field_value("name", "field is required")),
            Some(Value::Object(n)) => ClientName::new(
                string_field(n, "first_name", true)
                    .map_err(|_| field_type("name.first_name", "string"))?
                    .unwrap_or_default(),
                string_field(n, "last_name", true)
                    .map_err(|_| field_type("name.last_name", "string"))?
                    .unwrap_or_default(),
            ),
            Some(_) => return Err(field_type("name", "object")),
        };
        let password = string_field(&body, "password", true)?
            .unwrap_or_default()
            .to_owned();
        if password.is_empty() {
            return Err(field_value("password", "cannot be empty"));
        }
        let phone_number = string_field(&body, "phone_number", false)?.map(str::to_owned);
        if let Some(p) = &phone_number {
            check_phone(p)?;
        }
        let custom_data = match body.get("custom_data") {
            None => Map::new(),
            Some(v) => check_custom_data(v)?,
        };
        {
            let mut accounts = lock(&self.accounts);
            if accounts.contains_key(&user_id) {
                return Err(error(
                    409,
                    "User ID already exists",
                    "errors.conflict.id",
                    Some("The provided user ID is already in use."),
                    None,
                ));
            }
            if accounts
                .values()
                .any(|a| a.email.as_deref() == Some(email.as_str()))
            {
                return Err(error(
                    409,
                    "Email already exists",
                    "errors.conflict.email",
                    Some("The provided email is already in use."),
                    None,
                ));
            }
            self.recorder.redact(password.clone());
            accounts.insert(
                user_id,
                SandboxAccount {
                    user_id,
                    email: Some(email),
                    name: Some(name),
                    phone_number,
                    custom_data,
                    deleted: false,
                    password,
                },
            );
        }
        let token = self.issue_client_token(user_id);
        Ok(json(200, &json!({"client_token": token})))
    }

    fn client_login(&self, req: &HttpMockRequest) -> Answer {
        let body = json_object(req, true)?;
        let email = string_field(&body, "email", true)?.unwrap_or_default();
        let password = string_field(&body, "password", true)?.unwrap_or_default();
        let account = lock(&self.accounts)
            .values()
            .find(|a| !a.deleted && a.email.as_deref() == Some(email) && a.password == password)
            .cloned()
            .ok_or_else(login_failed)?;
        let token = self.issue_client_token(account.user_id);
        Ok(json(
            200,
            &json!({
                "client_token": token,
                "user_id": account.user_id,
                "phone_number": account.phone_number,
                "email": account.email,
                "name": account.name,
            }),
        ))
    }

    /// The account a `Client-Token` may act on, or the documented refusal.
    fn client_account(
        &self,
        req: &HttpMockRequest,
        raw_id: &str,
    ) -> Result<Uuid, HttpMockResponse> {
        let user_id = Uuid::parse_str(raw_id).map_err(|_| not_found("Client"))?;
        let Some(token) = header(req, "client-token") else {
            return Err(field_value("Client-Token", "header is required"));
        };
        match lock(&self.client_tokens).get(&token) {
            Some(owner) if *owner == user_id => {}
            Some(_) => return Err(forbidden("Client token belongs to another client.")),
            None => return Err(forbidden("Client token is not valid.")),
        }
        match lock(&self.accounts).get(&user_id) {
            Some(a) if !a.deleted => Ok(user_id),
            _ => Err(not_found("Client")),
        }
    }

    fn update(&self, req: &HttpMockRequest, raw_id: &str) -> Answer {
        let user_id = self.client_account(req, raw_id)?;
        let body = json_object(req, true)?;
        let mut accounts = lock(&self.accounts);
        let Some(current) = accounts.get(&user_id) else {
            return Err(not_found("Client"));
        };
        // Validate everything first, then apply: a refused update changes nothing.
        let mut next = current.clone();
        for (key, value) in &body {
            match (key.as_str(), value) {
                ("email" | "name" | "password", Value::Null) => {
                    return Err(field_value(key, "required fields cannot be cleared"));
                }
                ("email", Value::String(e)) => {
                    check_email("email", e)?;
                    next.email = Some(e.clone());
                }
                ("password", Value::String(p)) if !p.is_empty() => {
                    self.recorder.redact(p.clone());
                    next.password = p.clone();
                }
                ("name", Value::Object(n)) => {
                    let mut name = next.name.clone().unwrap_or_default();
                    if let Some(f) = string_field(n, "first_name", false)
                        .map_err(|_| field_type("name.first_name", "string"))?
                    {
                        name.first_name = f.to_owned();
                    }
                    if let Some(l) = string_field(n, "last_name", false)
                        .map_err(|_| field_type("name.last_name", "string"))?
                    {
                        name.last_name = l.to_owned();
                    }
                    next.name = Some(name);
                }
                ("phone_number", Value::Null) => next.phone_number = None,
                ("phone_number", Value::String(p)) => {
                    check_phone(p)?;
                    next.phone_number = Some(p.clone());
                }
                ("custom_data", v) => {
                    for (k, v) in check_custom_data(v)? {
                        next.custom_data.insert(k, v);
                    }
                }
                ("email" | "name" | "password" | "phone_number", _) => {
                    return Err(field_type(key, "string"));
                }
                _ => {}
            }
        }
        accounts.insert(user_id, next);
        Ok(empty(200))
    }

    fn delete(&self, req: &HttpMockRequest, raw_id: &str) -> Answer {
        let user_id = self.client_account(req, raw_id)?;
        let body = json_object(req, false)?;
        string_field(&body, "reason", false)?;
        if let Some(a) = lock(&self.accounts).get_mut(&user_id) {
            // Personal data goes; the user id stays for relational purposes.
            a.deleted = true;
            a.email = None;
            a.name = None;
            a.phone_number = None;
            a.custom_data = Map::new();
            a.password = String::new();
        }
        lock(&self.client_tokens).retain(|_, owner| *owner != user_id);
        Ok(empty(204))
    }
}
