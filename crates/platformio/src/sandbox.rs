//! An in-process fake of the platform (feature `sandbox`) for tests, examples and your own
//! tests, on the auth-core sandbox kit: service login issuing real-format JWTs of
//! configurable lifetime judged by an injected clock, client accounts kept in memory, the
//! documented error answers in the platform's shape, and the kit's controls (faults, token
//! expiry, hits, the recorder) through [`Sandbox`]'s dereference to [`Kit`].
//!
//! | Route                         | Name           | Kind       |
//! |-------------------------------|----------------|------------|
//! | `POST /v1/login/password`     | `login`        | token      |
//! | `POST /v1/client/signup`      | `signup`       | authorized |
//! | `POST /v1/client/login`       | `client_login` | authorized |
//! | `PUT /v1/client/{user_id}`    | `update`       | authorized |
//! | `DELETE /v1/client/{user_id}` | `delete`       | authorized |
//! | anything else                 | `unknown`      | open: 404 in the platform's shape |
//!
//! The names are those of `hits(..)` and `inject_on(..)`. `inject` faults the next
//! authorized call, `inject_token` the next service login.
//!
//! ```
//! use std::time::Duration;
//! use platformio::sandbox::{Fault, ManualClock, Sandbox, Tokens};
//! use platformio::{ClientName, NewClient, Uuid};
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
//!
//! // A fault in the platform's shape on the next authorized call.
//! sandbox.inject(Fault::rate_limited(Some(30), "Too many requests"));
//! let id = Uuid::new_v4();
//! let new = NewClient::new(id, "a@example.com", ClientName::new("A", "B"), "pw-1");
//! let e = client.sign_up(&new).await.unwrap_err();
//! assert!(e.is_rate_limited() && e.retry_after() == Some(Duration::from_secs(30)));
//!
//! // A revoked API token is refused with 401 and renewed by one service login.
//! sandbox.expire_tokens(Tokens::All);
//! client.sign_up(&new).await?;
//! assert_eq!((sandbox.token_requests(), sandbox.hits("signup")), (3, 3));
//! assert!(sandbox.account(id).is_some_and(|a| !format!("{a:?}").contains("pw-1")));
//! # Ok(()) }
//! ```

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, UNIX_EPOCH};

use auth_core::Error;
/// Re-exported so your tests need only this crate.
pub use auth_core::ManualClock;
use auth_core::sandbox::{
    Controls, Ctx, HttpMockRequest, HttpMockResponse, Kit, Recorder, Route, Settings, Spec,
    TokenCheck, VendorSandbox, bearer, empty, header, json, mint_jwt, unix_seconds,
};
/// Re-exported so your tests need only this crate.
pub use auth_core::sandbox::{Fault, Tokens};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::auth::LOGIN_PATH;
use crate::client::{CLIENT_LOGIN_PATH, ClientBuilder, SIGNUP_PATH};
use crate::models::is_e164;
use crate::{Client, ClientName, NewClient, ServiceCredentials};

/// The service user name a sandbox accepts unless told otherwise.
pub const DEFAULT_USERNAME: &str = "service_user";
/// The service user password a sandbox accepts unless told otherwise.
pub const DEFAULT_PASSWORD: &str = "sandbox-service-password";

/// The password of the clients the contract's calls sign up.
const CONTRACT_CLIENT_PASSWORD: &str = "contract-client-password";

const ERROR_ID: &str = "21fc115e-08c8-45af-8f0b-271f7d6fe254";

/// Configures and starts a [`Sandbox`]: the kit's `clock` and `token_lifetime` (one hour by
/// default), and the service user it accepts.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> platformio::Result<()> {
/// let sandbox = platformio::sandbox::Sandbox::builder()
///     .service_user("svc", "pw-svc")
///     .token_lifetime(std::time::Duration::from_secs(60))
///     .start()
///     .await;
/// assert_eq!(sandbox.credentials().username(), "svc");
/// let expires_at = sandbox.client_builder().build()?.sign_in().await?;
/// assert!(expires_at.is_some());
/// assert_eq!(sandbox.token_lifetime(), std::time::Duration::from_secs(60));
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use]
pub struct SandboxBuilder {
    kit: Settings,
    username: String,
    password: String,
}

impl Default for SandboxBuilder {
    fn default() -> Self {
        SandboxBuilder {
            kit: Settings::new(Duration::from_secs(3600)),
            username: DEFAULT_USERNAME.into(),
            password: DEFAULT_PASSWORD.into(),
        }
    }
}

auth_core::sandbox_builder!(SandboxBuilder);

impl SandboxBuilder {
    /// Accept this service user instead of [`DEFAULT_USERNAME`] and [`DEFAULT_PASSWORD`]
    /// (to mirror the credentials your own configuration holds).
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
    pub async fn start(self) -> Sandbox {
        let state = State {
            username: self.username,
            password: self.password,
            data: Mutex::default(),
            recorder: OnceLock::new(),
        };
        let password = state.password.clone();
        let kit = Kit::start(state, self.kit, &[&password]).await;
        // The vendor's own credential header is never rendered, refused or not.
        kit.recorder().redact_header("client-token");
        let _ = kit.state().recorder.set(kit.recorder().clone());
        Sandbox { kit }
    }
}

/// The in-process fake platform (routes and names in the [module docs](self)). Every
/// control is the kit's, through `Deref`: `inject`, `inject_on`, `inject_token`,
/// `expire_tokens`, `token_requests`, `hits`, `recorder`, `base_url`, `clock`,
/// `set_token_lifetime`.
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

/// A client account as the sandbox stores it ([`Sandbox::account`]). Debug never shows the
/// client's password.
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
    pub async fn start() -> Sandbox {
        SandboxBuilder::default().start().await
    }

    /// Configure a sandbox.
    pub fn builder() -> SandboxBuilder {
        SandboxBuilder::default()
    }

    /// The service user the sandbox accepts.
    pub fn credentials(&self) -> ServiceCredentials {
        let s = self.state();
        ServiceCredentials::new(s.username.clone(), s.password.clone())
    }

    /// A client builder wired to this sandbox: base URL, service user and clock.
    pub fn client_builder(&self) -> ClientBuilder {
        Client::builder()
            .with_base_url(self.base_url())
            .with_credentials(self.credentials())
            .with_clock(self.clock())
    }

    /// The stored account of `user_id`, if one was signed up (deleted ones keep their id).
    pub fn account(&self, user_id: Uuid) -> Option<SandboxAccount> {
        self.state().data().accounts.get(&user_id).cloned()
    }
}

impl VendorSandbox for Sandbox {
    type Client = Client;
    const NAME: &'static str = "platformio";

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

    /// Signs a new client account up (a fresh user id each call).
    fn call(client: &Client) -> Pin<Box<dyn Future<Output = Result<(), Error>> + Send>> {
        let client = client.clone();
        Box::pin(async move {
            let id = Uuid::new_v4();
            let new = NewClient::new(
                id,
                format!("contract-{}@client.com", id.simple()),
                ClientName::new("Contract", "Client"),
                CONTRACT_CLIENT_PASSWORD,
            );
            client.sign_up(&new).await.map(drop)
        })
    }

    fn controls(&self) -> &Controls {
        &self.kit
    }

    fn secrets(&self) -> Vec<String> {
        vec![
            self.state().password.clone(),
            CONTRACT_CLIENT_PASSWORD.to_owned(),
        ]
    }
}

/// The platform behind a [`Sandbox`]: the service user it accepts, client accounts and
/// client tokens. Read it through [`Sandbox::account`] and [`Sandbox::credentials`].
pub struct State {
    username: String,
    password: String,
    data: Mutex<Data>,
    /// The kit's recorder, for the answers that get no `Ctx` (faults).
    recorder: OnceLock<Recorder>,
}

/// What the platform keeps, behind the state's one lock.
#[derive(Default)]
struct Data {
    accounts: BTreeMap<Uuid, SandboxAccount>,
    /// Client token -> the account it may act on.
    client_tokens: HashMap<String, Uuid>,
    /// How many recorded requests [`State::fault`] has swept for secrets.
    swept: usize,
}

// The accounts hold the clients' passwords: Debug shows counts only.
impl fmt::Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("State")
            .field("username", &self.username)
            .field("accounts", &self.data().accounts.len())
            .finish_non_exhaustive()
    }
}

impl Spec for State {
    fn routes() -> Vec<Route<Self>> {
        vec![
            Route::token("POST", LOGIN_PATH, "login", State::login),
            Route::authorized("POST", SIGNUP_PATH, "signup", State::signup),
            Route::authorized(
                "POST",
                CLIENT_LOGIN_PATH,
                "client_login",
                State::client_login,
            ),
            // `*` as the old dispatch's prefix match: a malformed id is the platform's 404.
            Route::authorized("PUT", "/v1/client/*", "update", State::update),
            Route::authorized("DELETE", "/v1/client/*", "delete", State::delete),
            // Unknown paths and methods: the platform's 404, counted.
            Route::open("*", "/*", "unknown", State::unknown),
        ]
    }

    /// The fault in the platform's error shape. The kit serves it without a handler seeing
    /// the request, so the secrets it carries are redacted here, from the recorder.
    // KIT-NEED: `Spec::fault` gets no request (and no hook runs on every request); the
    // platform redacts every secret a request carries, refused ones too.
    fn fault(&self, fault: &Fault) -> HttpMockResponse {
        if let Some(recorder) = self.recorder.get() {
            let all = recorder.all();
            let mut data = self.data();
            for r in all.iter().skip(data.swept) {
                let h = |name: &str| {
                    r.headers
                        .iter()
                        .find(|(k, _)| k == name)
                        .map(|(_, v)| v.clone())
                };
                let bearer =
                    h("authorization").and_then(|v| v.strip_prefix("Bearer ").map(str::to_owned));
                for s in request_secrets(bearer, h("client-token"), &r.body) {
                    recorder.redact(s);
                }
            }
            data.swept = all.len();
        }
        fault_response(fault)
    }
}

/// Every secret a request carries, accepted or not: its bearer token, its client token, the
/// password in its body.
fn request_secrets(
    bearer: Option<String>,
    client_token: Option<String>,
    body: &str,
) -> Vec<String> {
    let mut out: Vec<String> = bearer.into_iter().chain(client_token).collect();
    if let Ok(Value::Object(body)) = serde_json::from_str::<Value>(body)
        && let Some(Value::String(p)) = body.get("password")
    {
        out.push(p.clone());
    }
    out
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
    fn data(&self) -> MutexGuard<'_, Data> {
        self.data.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Redact every secret `req` carries, then answer it with `f` (after the API token
    /// check when `authorized`).
    fn serve(
        &self,
        ctx: &Ctx,
        req: &HttpMockRequest,
        authorized: bool,
        f: impl FnOnce() -> Answer,
    ) -> HttpMockResponse {
        let secrets = request_secrets(bearer(req), header(req, "client-token"), &req.body_string());
        for s in secrets {
            ctx.recorder().redact(s);
        }
        let answer = if authorized {
            check_api_token(ctx, req).and_then(|()| f())
        } else {
            f()
        };
        answer.unwrap_or_else(|e| e)
    }

    fn login(&self, ctx: &Ctx, req: &HttpMockRequest) -> HttpMockResponse {
        self.serve(ctx, req, false, || self.service_login(ctx, req))
    }

    fn signup(&self, ctx: &Ctx, req: &HttpMockRequest) -> HttpMockResponse {
        self.serve(ctx, req, true, || self.create_client(ctx, req))
    }

    fn client_login(&self, ctx: &Ctx, req: &HttpMockRequest) -> HttpMockResponse {
        self.serve(ctx, req, true, || self.log_client_in(ctx, req))
    }

    fn update(&self, ctx: &Ctx, req: &HttpMockRequest) -> HttpMockResponse {
        let id = client_id(req);
        self.serve(ctx, req, true, || self.update_client(ctx, req, &id))
    }

    fn delete(&self, ctx: &Ctx, req: &HttpMockRequest) -> HttpMockResponse {
        let id = client_id(req);
        self.serve(ctx, req, true, || self.delete_client(req, &id))
    }

    fn unknown(&self, ctx: &Ctx, req: &HttpMockRequest) -> HttpMockResponse {
        self.serve(ctx, req, false, || Err(not_found("Endpoint")))
    }

    fn service_login(&self, ctx: &Ctx, req: &HttpMockRequest) -> Answer {
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
        let now = ctx.clock().now();
        let exp = unix_seconds(now.checked_add(ctx.token_lifetime()).unwrap_or(now));
        let jwt = mint_jwt(&json!({
            "r": ["service"],
            "exp": exp,
            "iat": unix_seconds(now),
            "sub": "f76ec415-1811-4935-a659-63dc2483c852",
            "reg": "za",
            "jti": ctx.store().next_serial(),
        }));
        ctx.store().insert(&jwt, username, None, HashMap::new());
        // The store judges expiry by the exact `exp` the client reads.
        ctx.store()
            .set_expiry(&jwt, Some(UNIX_EPOCH + Duration::from_secs(exp)));
        ctx.recorder().redact(jwt.clone());
        Ok(json(200, &json!({"api_token": jwt})))
    }

    fn issue_client_token(&self, ctx: &Ctx, user_id: Uuid) -> String {
        let token = format!("ct-{}-{}", ctx.store().next_serial(), user_id.simple());
        self.data().client_tokens.insert(token.clone(), user_id);
        ctx.recorder().redact(token.clone());
        token
    }

    fn create_client(&self, ctx: &Ctx, req: &HttpMockRequest) -> Answer {
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
            let mut data = self.data();
            let accounts = &mut data.accounts;
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
            ctx.recorder().redact(password.clone());
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
        let token = self.issue_client_token(ctx, user_id);
        Ok(json(200, &json!({"client_token": token})))
    }

    fn log_client_in(&self, ctx: &Ctx, req: &HttpMockRequest) -> Answer {
        let body = json_object(req, true)?;
        let email = string_field(&body, "email", true)?.unwrap_or_default();
        let password = string_field(&body, "password", true)?.unwrap_or_default();
        let account = self
            .data()
            .accounts
            .values()
            .find(|a| !a.deleted && a.email.as_deref() == Some(email) && a.password == password)
            .cloned()
            .ok_or_else(login_failed)?;
        let token = self.issue_client_token(ctx, account.user_id);
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
        match self.data().client_tokens.get(&token) {
            Some(owner) if *owner == user_id => {}
            Some(_) => return Err(forbidden("Client token belongs to another client.")),
            None => return Err(forbidden("Client token is not valid.")),
        }
        match self.data().accounts.get(&user_id) {
            Some(a) if !a.deleted => Ok(user_id),
            _ => Err(not_found("Client")),
        }
    }

    fn update_client(&self, ctx: &Ctx, req: &HttpMockRequest, raw_id: &str) -> Answer {
        let user_id = self.client_account(req, raw_id)?;
        let body = json_object(req, true)?;
        let mut data = self.data();
        let accounts = &mut data.accounts;
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
                    ctx.recorder().redact(p.clone());
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

    fn delete_client(&self, req: &HttpMockRequest, raw_id: &str) -> Answer {
        let user_id = self.client_account(req, raw_id)?;
        let body = json_object(req, false)?;
        string_field(&body, "reason", false)?;
        if let Some(a) = self.data().accounts.get_mut(&user_id) {
            // Personal data goes; the user id stays for relational purposes.
            a.deleted = true;
            a.email = None;
            a.name = None;
            a.phone_number = None;
            a.custom_data = Map::new();
            a.password = String::new();
        }
        self.data()
            .client_tokens
            .retain(|_, owner| *owner != user_id);
        Ok(empty(204))
    }
}

/// The user id segment of `/v1/client/{user_id}` (anything after the prefix).
fn client_id(req: &HttpMockRequest) -> String {
    req.uri()
        .path()
        .trim_start_matches("/v1/client/")
        .to_owned()
}

/// A valid API token in `Authorization: Bearer`, or the platform's 401.
fn check_api_token(ctx: &Ctx, req: &HttpMockRequest) -> Result<(), HttpMockResponse> {
    let token = bearer(req).ok_or_else(auth_invalid)?;
    match ctx.store().check(&token) {
        TokenCheck::Valid(_) => Ok(()),
        _ => Err(auth_invalid()),
    }
}
