//! An in-process fake of the Incend IPaaS server (feature `sandbox`), for this crate's tests,
//! its quickstart and your own tests.
//!
//! It serves the five routes over real HTTP on a loopback port and enforces the rules the
//! server's source shows: the `ipaas` API key on `/auth/*` ("Client not authorised"), the
//! request shapes ("Invalid request"), a settable one-time code ("OTP verification failed,
//! status is still pending"), HS256-format user JWTs without `exp` whose expiry lives on the
//! server and follows the injected clock ("JWT token has expired, re-initiate login", "No
//! such JWT token is created"), and the `Authorization: Bearer <base64 of the JWT>` wire form.
//! Faults (401, 429, 5xx) can be queued; every request is counted and recorded.
//!
//! Start it in your own tests with a `ManualClock` shared with the client:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> incend::Result<()> {
//! use std::time::Duration;
//! use auth_core::ManualClock;
//! use incend::sandbox::Sandbox;
//!
//! let clock = ManualClock::new();
//! let sandbox = Sandbox::builder()
//!     .clock(clock.clone())
//!     .token_lifetime(Duration::from_secs(3600))
//!     .otp("4321")
//!     .start()
//!     .await;
//! let client = incend::Client::builder()
//!     .with_base_url(sandbox.base_url())
//!     .with_api_key(sandbox.api_key())
//!     .with_clock(clock.clone())
//!     .build()?;
//! let to = incend::Recipient::sms("+918838118348")?;
//! client.send_otp(&to).await?;
//! let user = client.verify_otp(&to, "4321").await?;
//! assert_eq!(sandbox.hits("verify"), 1);
//! clock.advance(Duration::from_secs(3600));
//! assert!(client.token_status(user.user_token()).await.unwrap_err().is_session_expired());
//! # Ok(()) }
//! ```

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use auth_core::SharedClock;
pub use auth_core::sandbox::{Fault, Recorder};
use auth_core::sandbox::{
    Faults, Hits, HttpMockRequest, HttpMockResponse, MockServer, TokenCheck, TokenStore, header,
    mint_jwt, unix_seconds,
};
use base64::Engine as _;
use serde_json::{Value, json};

/// The API key the sandbox accepts unless told otherwise.
pub const SANDBOX_API_KEY: &str = "sandbox-client-key";
/// The one-time code the sandbox expects unless told otherwise.
pub const SANDBOX_OTP: &str = "123456";

const THIRTY_DAYS: Duration = Duration::from_secs(30 * 24 * 3600);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Configures and starts a [`Sandbox`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let sandbox = incend::sandbox::Sandbox::builder().api_key("my-key").start().await;
/// assert_eq!(sandbox.api_key(), "my-key");
/// # }
/// ```
pub struct SandboxBuilder {
    clock: SharedClock,
    lifetime: Duration,
    api_key: String,
    otp: String,
}

impl std::fmt::Debug for SandboxBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The API key and the code are credentials, even test ones: never printed.
        f.debug_struct("SandboxBuilder")
            .field("lifetime", &self.lifetime)
            .field("api_key", &"[REDACTED]")
            .field("otp", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

impl Default for SandboxBuilder {
    fn default() -> Self {
        SandboxBuilder {
            clock: SharedClock::default(),
            lifetime: THIRTY_DAYS,
            api_key: SANDBOX_API_KEY.to_owned(),
            otp: SANDBOX_OTP.to_owned(),
        }
    }
}

impl SandboxBuilder {
    /// The clock that judges session expiry (share a `ManualClock` with the client).
    ///
    /// ```
    /// let b = incend::sandbox::Sandbox::builder().clock(auth_core::ManualClock::new());
    /// # let _ = b;
    /// ```
    pub fn clock(mut self, clock: impl Into<SharedClock>) -> Self {
        self.clock = clock.into();
        self
    }

    /// How long a user session lasts after verification and after each profile view
    /// (default 30 days, as the server).
    ///
    /// ```
    /// let b = incend::sandbox::Sandbox::builder().token_lifetime(std::time::Duration::from_secs(60));
    /// # let _ = b;
    /// ```
    pub fn token_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// The client API key accepted in the `ipaas` header (default [`SANDBOX_API_KEY`]).
    ///
    /// ```
    /// let b = incend::sandbox::Sandbox::builder().api_key("k");
    /// # let _ = b;
    /// ```
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = key.into();
        self
    }

    /// The one-time code every send "delivers" (default [`SANDBOX_OTP`]).
    ///
    /// ```
    /// let b = incend::sandbox::Sandbox::builder().otp("0123");
    /// # let _ = b;
    /// ```
    pub fn otp(mut self, code: impl Into<String>) -> Self {
        self.otp = code.into();
        self
    }

    /// Start the server on a loopback port.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let sandbox = incend::sandbox::Sandbox::builder().start().await;
    /// assert!(sandbox.base_url().starts_with("http://127.0.0.1:"));
    /// # }
    /// ```
    pub async fn start(self) -> Sandbox {
        let state = Arc::new(State {
            sessions: TokenStore::new(self.clock.clone()),
            clock: self.clock,
            lifetime: self.lifetime,
            api_key: self.api_key,
            otp: Mutex::new(self.otp),
            pending: Mutex::default(),
            users: Mutex::default(),
            invalid: Mutex::default(),
            faults: Faults::default(),
            hits: Hits::default(),
            recorder: {
                // The vendor's own credential header is never rendered, refused or not.
                let recorder = Recorder::default();
                recorder.redact_header("ipaas");
                recorder
            },
        });
        let server = MockServer::start_async().await;
        let s = state.clone();
        server
            .mock_async(move |when, then| {
                when.any_request();
                then.respond_with(move |req: &HttpMockRequest| s.handle(req));
            })
            .await;
        Sandbox { server, state }
    }
}

#[derive(Debug, Clone)]
struct User {
    id: String,
    name: Option<String>,
    email: Option<String>,
    mobile: Option<String>,
    data: serde_json::Map<String, Value>,
    email_verified: bool,
    mobile_verified: bool,
}

struct State {
    clock: SharedClock,
    lifetime: Duration,
    api_key: String,
    otp: Mutex<String>,
    /// Codes sent and not yet used, by (authType, address).
    pending: Mutex<HashMap<(String, String), String>>,
    users: Mutex<Vec<User>>,
    invalid: Mutex<HashSet<String>>,
    sessions: TokenStore,
    faults: Faults,
    hits: Hits,
    recorder: Recorder,
}

fn answer(status: u16, body: &Value) -> HttpMockResponse {
    auth_core::sandbox::json(status, body)
}

fn message(status: u16, text: &str) -> HttpMockResponse {
    answer(status, &json!({ "message": text }))
}

/// A JavaScript `Date` as JSON: `2027-01-15T08:00:00.000Z`.
fn js_date(t: SystemTime) -> String {
    let d = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    let secs = d.as_secs();
    let millis = d.subsec_millis();
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Civil date from days since the epoch (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn mobile_ok(v: &str) -> bool {
    let digits = v.strip_prefix('+').unwrap_or(v);
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
        && (8..=13).contains(&digits.len())
}

/// The recipient named by a body: `(authType, address)`, when well-formed.
fn recipient(body: &Value) -> Option<(String, String)> {
    let auth_type = body.get("authType")?.as_str()?;
    let address = body.get(auth_type)?.as_str()?;
    match auth_type {
        "mobile" if mobile_ok(address) => Some(("mobile".into(), address.into())),
        "email" if !address.is_empty() => Some(("email".into(), address.into())),
        _ => None,
    }
}

fn json_body(req: &HttpMockRequest) -> Option<Value> {
    let ct = header(req, "content-type").unwrap_or_default();
    if !ct.starts_with("application/json") {
        // express.json() leaves the body empty for other content types.
        return None;
    }
    serde_json::from_slice::<Value>(req.body_ref())
        .ok()
        .filter(Value::is_object)
}

/// The user JWT from `Authorization: Bearer <base64>` (or `x-access-token`), decoded the
/// lenient way Node's `Buffer.from(s, "base64")` does.
fn user_jwt(req: &HttpMockRequest) -> Option<String> {
    let raw = header(req, "x-access-token").or_else(|| header(req, "authorization"))?;
    let b64 = raw
        .strip_prefix("Bearer")
        .map(str::trim_start)
        .unwrap_or(&raw);
    let engines = [
        base64::engine::general_purpose::STANDARD,
        base64::engine::general_purpose::STANDARD_NO_PAD,
        base64::engine::general_purpose::URL_SAFE,
        base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ];
    let bytes = engines.iter().find_map(|e| e.decode(b64).ok());
    // Undecodable input still names *some* token, which the server will not know.
    Some(match bytes {
        Some(b) => String::from_utf8_lossy(&b).into_owned(),
        None => raw,
    })
}

impl State {
    fn now(&self) -> SystemTime {
        self.clock.now()
    }

    fn handle(&self, req: &HttpMockRequest) -> HttpMockResponse {
        self.recorder.record(req);
        let uri = req.uri();
        let path = uri.path().trim_end_matches('/');
        let path = if path.is_empty() { "/" } else { path };
        let method = req.method();
        let route = match (method.as_str(), path) {
            ("POST", "/auth/init") => "init",
            ("POST", "/auth/verify") => "verify",
            ("GET", "/auth/token") => "token",
            ("GET", "/user") => "profile",
            ("POST", "/user/edit") => "edit",
            _ => {
                // What express answers for a route it does not have.
                return HttpMockResponse::builder()
                    .status(404)
                    .header("Content-Type", "text/html; charset=utf-8")
                    .body(format!("<pre>Cannot {method} {path}</pre>"))
                    .build();
            }
        };
        self.hits.record(route);
        if let Some(f) = self.faults.take(path) {
            let mut b = HttpMockResponse::builder()
                .status(f.status)
                .header("Content-Type", "application/json");
            if let Some(s) = f.retry_after {
                b = b.header("Retry-After", s.to_string());
            }
            return b.body(json!({ "message": f.message }).to_string()).build();
        }
        if path.starts_with("/auth/") && !self.client_ok(req) {
            return message(400, "Client not authorised");
        }
        match route {
            "init" => self.init(req),
            "verify" => self.verify(req),
            "token" => self.token(req),
            "profile" => self.profile(req),
            _ => self.edit(req),
        }
    }

    fn client_ok(&self, req: &HttpMockRequest) -> bool {
        let key = header(req, "ipaas").or_else(|| {
            req.query_params()
                .into_iter()
                .find(|(k, _)| k == "ipaas")
                .map(|(_, v)| v)
        });
        key.is_some_and(|k| k == self.api_key)
    }

    fn init(&self, req: &HttpMockRequest) -> HttpMockResponse {
        let Some((auth_type, address)) = json_body(req).as_ref().and_then(recipient) else {
            return message(400, "Invalid request");
        };
        if lock(&self.invalid).contains(&address) {
            return message(
                400,
                if auth_type == "mobile" {
                    "Invalid mobile number"
                } else {
                    "Invalid email address"
                },
            );
        }
        {
            let mut users = lock(&self.users);
            let exists = users.iter().any(|u| match auth_type.as_str() {
                "mobile" => u.mobile.as_deref() == Some(&address),
                _ => u.email.as_deref() == Some(&address),
            });
            if !exists {
                let n = users.len() + 1;
                let (mobile, email) = if auth_type == "mobile" {
                    (Some(address.clone()), None)
                } else {
                    (None, Some(address.clone()))
                };
                users.push(User {
                    // The shape of a MongoDB ObjectId: 24 hex digits.
                    id: format!("64b7f0c2a1d3e5f7{n:08x}"),
                    name: None,
                    email,
                    mobile,
                    data: serde_json::Map::from_iter([
                        ("allowed".to_owned(), json!(true)),
                        ("maxData".to_owned(), json!(1000)),
                    ]),
                    email_verified: false,
                    mobile_verified: false,
                });
            }
        }
        let code = lock(&self.otp).clone();
        let sent = if auth_type == "mobile" {
            "OTP SMS has been sent successfully"
        } else {
            "OTP email has been sent successfully"
        };
        lock(&self.pending).insert((auth_type, address), code);
        message(200, sent)
    }

    fn verify(&self, req: &HttpMockRequest) -> HttpMockResponse {
        let body = json_body(req);
        let code = body
            .as_ref()
            .and_then(|b| b.get("code"))
            .and_then(Value::as_str)
            .filter(|c| (3..=6).contains(&c.encode_utf16().count()))
            .map(str::to_owned);
        let (Some(code), Some((auth_type, address))) = (code, body.as_ref().and_then(recipient))
        else {
            return message(400, "Invalid request");
        };
        let key = (auth_type.clone(), address.clone());
        {
            let mut pending = lock(&self.pending);
            match pending.get(&key) {
                // The delivery provider has no open verification to check (never sent, or
                // already approved and consumed): its 404.
                None => return message(400, "Something went wrong while verifying OTP - 20404"),
                Some(expected) if *expected != code => {
                    return message(400, "OTP verification failed, status is still pending");
                }
                Some(_) => {
                    pending.remove(&key);
                }
            }
        }
        let user = {
            let mut users = lock(&self.users);
            let Some(user) = users.iter_mut().find(|u| match auth_type.as_str() {
                "mobile" => u.mobile.as_deref() == Some(&address),
                _ => u.email.as_deref() == Some(&address),
            }) else {
                return message(400, "Something went wrong while verifying OTP - 20404");
            };
            if auth_type == "mobile" {
                user.mobile_verified = true;
            } else {
                user.email_verified = true;
            }
            user.clone()
        };
        let now = self.now();
        // What `jwt.sign({ userId }, secret)` makes: HS256, `userId` and `iat`, no `exp`.
        let jwt = mint_jwt(&json!({ "userId": user.id, "iat": unix_seconds(now) }));
        self.sessions
            .insert(&jwt, &user.id, Some(self.lifetime), HashMap::new());
        let expiry = now.checked_add(self.lifetime).unwrap_or(now);
        answer(
            200,
            &json!({
                "message": "User has been verified successfully",
                "userId": user.id,
                "name": user.name,
                "userData": user.data,
                "userJwtToken": jwt,
                "tokenExpiry": js_date(expiry),
            }),
        )
    }

    /// The session a request's token names: `Ok((jwt, user id, expiry))` or the answer to give.
    fn session(
        &self,
        req: &HttpMockRequest,
        missing: HttpMockResponse,
    ) -> Result<(String, String, SystemTime), HttpMockResponse> {
        let Some(jwt) = user_jwt(req) else {
            return Err(missing);
        };
        match self.sessions.check(&jwt) {
            TokenCheck::Valid(t) => {
                let at = t.expires_at.unwrap_or_else(|| self.now());
                Ok((jwt, t.subject, at))
            }
            TokenCheck::Expired => Err(message(401, "JWT token has expired, re-initiate login")),
            _ => Err(message(404, "No such JWT token is created")),
        }
    }

    fn token(&self, req: &HttpMockRequest) -> HttpMockResponse {
        match self.session(req, message(400, "Invalid request")) {
            Ok((_, user_id, at)) => answer(
                200,
                &json!({
                    "message": "User session is still active",
                    "tokenExpiry": js_date(at),
                    "userId": user_id,
                }),
            ),
            Err(resp) => resp,
        }
    }

    fn profile_json(&self, user_id: &str, at: SystemTime, message: &str, with_data: bool) -> Value {
        let users = lock(&self.users);
        let u = users.iter().find(|u| u.id == user_id);
        let mut v = json!({
            "message": message,
            "tokenExpiry": js_date(at),
            "userId": user_id,
            "name": u.and_then(|u| u.name.clone()),
            "email": u.and_then(|u| u.email.clone()),
            "mobile": u.and_then(|u| u.mobile.clone()),
            "isEmailVerified": u.is_some_and(|u| u.email_verified),
            "isMobileVerified": u.is_some_and(|u| u.mobile_verified),
        });
        if with_data {
            v["data"] = Value::Object(u.map(|u| u.data.clone()).unwrap_or_default());
        }
        v
    }

    fn profile(&self, req: &HttpMockRequest) -> HttpMockResponse {
        match self.session(req, message(401, "Invalid JWT token")) {
            Ok((jwt, user_id, _)) => {
                // Using the session extends it; the sandbox reports the expiry now in force.
                let at = self.now().checked_add(self.lifetime).unwrap_or(self.now());
                self.sessions.set_expiry(&jwt, Some(at));
                answer(
                    200,
                    &self.profile_json(&user_id, at, "User session is still active", false),
                )
            }
            Err(resp) => resp,
        }
    }

    fn edit(&self, req: &HttpMockRequest) -> HttpMockResponse {
        let body = json_body(req);
        let name = body
            .as_ref()
            .and_then(|b| b.get("name"))
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .map(str::to_owned);
        let Some(name) = name else {
            return message(400, "Invalid request");
        };
        let (_, user_id, at) = match self.session(req, message(401, "Invalid JWT token")) {
            Ok(s) => s,
            Err(resp) => return resp,
        };
        let Some(data) = body
            .as_ref()
            .and_then(|b| b.get("data"))
            .and_then(Value::as_object)
        else {
            // The server reads `Object.keys(req.body.data)` unguarded and fails.
            return message(500, "Internal Server Error");
        };
        {
            let mut users = lock(&self.users);
            if let Some(u) = users.iter_mut().find(|u| u.id == user_id) {
                u.name = Some(name);
                for (k, v) in data {
                    u.data.insert(k.clone(), v.clone());
                }
            }
        }
        answer(
            200,
            &self.profile_json(&user_id, at, "User profile details are updated", true),
        )
    }
}

/// The running fake server. Dropping it stops the server.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let sandbox = incend::sandbox::Sandbox::start().await;
/// assert_eq!(sandbox.api_key(), incend::sandbox::SANDBOX_API_KEY);
/// # }
/// ```
pub struct Sandbox {
    server: MockServer,
    state: Arc<State>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("base_url", &self.server.base_url())
            .field("hits", &self.state.hits.all())
            .finish_non_exhaustive()
    }
}

impl Sandbox {
    /// Configure a sandbox.
    ///
    /// ```
    /// let _ = incend::sandbox::Sandbox::builder();
    /// ```
    pub fn builder() -> SandboxBuilder {
        SandboxBuilder::default()
    }

    /// Start a sandbox with the defaults: system clock, 30-day sessions, [`SANDBOX_API_KEY`],
    /// [`SANDBOX_OTP`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let sandbox = incend::sandbox::Sandbox::start().await;
    /// # let _ = sandbox;
    /// # }
    /// ```
    pub async fn start() -> Sandbox {
        Self::builder().start().await
    }

    /// The base URL to give the clients.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let sandbox = incend::sandbox::Sandbox::start().await;
    /// let url = sandbox.base_url();
    /// # let _ = url;
    /// # }
    /// ```
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// The client API key the sandbox accepts.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// assert_eq!(incend::sandbox::Sandbox::start().await.api_key(), "sandbox-client-key");
    /// # }
    /// ```
    pub fn api_key(&self) -> &str {
        &self.state.api_key
    }

    /// The code the next send delivers.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// assert_eq!(incend::sandbox::Sandbox::start().await.otp(), "123456");
    /// # }
    /// ```
    pub fn otp(&self) -> String {
        lock(&self.state.otp).clone()
    }

    /// Change the code later sends deliver (codes already sent keep theirs).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let sandbox = incend::sandbox::Sandbox::start().await;
    /// sandbox.set_otp("987");
    /// assert_eq!(sandbox.otp(), "987");
    /// # }
    /// ```
    pub fn set_otp(&self, code: impl Into<String>) {
        *lock(&self.state.otp) = code.into();
    }

    /// Make the number or address fail the server's lookup ("Invalid mobile number",
    /// "Invalid email address") on its next send.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// incend::sandbox::Sandbox::start().await.reject_recipient("+15550000000");
    /// # }
    /// ```
    pub fn reject_recipient(&self, address: impl Into<String>) {
        lock(&self.state.invalid).insert(address.into());
    }

    /// Serve `fault` (as `{"message": ...}`) on the next request to any route.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use incend::sandbox::{Fault, Sandbox};
    /// Sandbox::start().await.inject(Fault::rate_limited(Some(30), "Too many requests"));
    /// # }
    /// ```
    pub fn inject(&self, fault: Fault) {
        self.state.faults.push(fault);
    }

    /// Serve `fault` on the next request whose path starts with `path_prefix`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use incend::sandbox::{Fault, Sandbox};
    /// Sandbox::start().await.inject_on("/user", Fault::server_error(503));
    /// # }
    /// ```
    pub fn inject_on(&self, path_prefix: impl Into<String>, fault: Fault) {
        self.state.faults.push_on(path_prefix, fault);
    }

    /// Requests served on `route`: `"init"`, `"verify"`, `"token"`, `"profile"` or `"edit"`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// assert_eq!(incend::sandbox::Sandbox::start().await.hits("verify"), 0);
    /// # }
    /// ```
    pub fn hits(&self, route: &str) -> u64 {
        self.state.hits.get(route)
    }

    /// Every request served, for wire-shape snapshots. Requests are recorded as sent: call
    /// `redact` with the API key, the code and the user token (and its base64 form) before
    /// rendering one for a snapshot.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let sandbox = incend::sandbox::Sandbox::start().await;
    /// sandbox.recorder().redact(sandbox.api_key());
    /// assert!(sandbox.recorder().last("/auth/init").is_none());
    /// # }
    /// ```
    pub fn recorder(&self) -> &Recorder {
        &self.state.recorder
    }

    /// When the server will consider the session of `user_jwt` expired (`None`: unknown or
    /// already expired).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// assert!(incend::sandbox::Sandbox::start().await.session_expiry("nope").is_none());
    /// # }
    /// ```
    pub fn session_expiry(&self, user_jwt: &str) -> Option<SystemTime> {
        match self.state.sessions.check(user_jwt) {
            TokenCheck::Valid(t) => t.expires_at,
            _ => None,
        }
    }

    /// Move the server-side expiry of the session of `user_jwt`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// incend::sandbox::Sandbox::start().await.set_session_expiry("jwt", std::time::SystemTime::now());
    /// # }
    /// ```
    pub fn set_session_expiry(&self, user_jwt: &str, at: SystemTime) {
        self.state.sessions.set_expiry(user_jwt, Some(at));
    }

    /// End the session of `user_jwt` on the server now (the client is not told).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// incend::sandbox::Sandbox::start().await.expire_session("jwt");
    /// # }
    /// ```
    pub fn expire_session(&self, user_jwt: &str) {
        self.state.sessions.revoke(user_jwt);
    }

    /// End every session on the server now.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// incend::sandbox::Sandbox::start().await.expire_all_sessions();
    /// # }
    /// ```
    pub fn expire_all_sessions(&self) {
        self.state.sessions.expire_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn js_dates() {
        assert_eq!(js_date(SystemTime::UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_800_000_000_123);
        assert_eq!(js_date(t), "2027-01-15T08:00:00.123Z");
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(js_date(t), "2000-02-29T00:00:00.000Z");
        assert_eq!(
            auth_core::provider::parse_rfc3339(&js_date(t)).unwrap(),
            t,
            "the client parses what the sandbox writes"
        );
    }
}
