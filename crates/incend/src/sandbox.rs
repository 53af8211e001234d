//! An in-process fake of the Incend IPaaS server (feature `sandbox`), for this crate's tests,
//! its quickstart and your own tests, on the auth-core sandbox kit.
//!
//! It serves the five routes over real HTTP on a loopback port and enforces the rules the
//! server's source shows: the `ipaas` API key on `/auth/*` ("Client not authorised"), the
//! request shapes ("Invalid request"), a settable one-time code ("OTP verification failed,
//! status is still pending"), HS256-format user JWTs without `exp` whose expiry lives on the
//! server and follows the injected clock ("JWT token has expired, re-initiate login", "No
//! such JWT token is created"), and the `Authorization: Bearer <base64 of the JWT>` wire form.
//! Anything else is express's `404 Cannot <METHOD> <path>`.
//!
//! | route               | name      | kind       | credential            |
//! |---------------------|-----------|------------|-----------------------|
//! | `POST /auth/init`   | `init`    | authorized | API key               |
//! | `POST /auth/verify` | `verify`  | token      | API key (issues a JWT)|
//! | `GET /auth/token`   | `token`   | authorized | API key + user token  |
//! | `GET /user`         | `profile` | authorized | user token            |
//! | `POST /user/edit`   | `edit`    | authorized | user token            |
//!
//! The controls are the kit's, the same for every vendor: `inject` (the next authorized
//! call), `inject_token` (the next verification), `inject_on("profile", ..)` (a route by
//! name), `expire_tokens`, `hits("verify")`, `token_requests()` (verifications), `recorder()`
//! (the API key, the codes and the issued tokens redacted), `set_token_lifetime`. Incend's
//! own: the code sends deliver ([`Sandbox::set_otp`]), recipients the lookup refuses
//! ([`Sandbox::reject_recipient`]), and one session's server-side expiry
//! ([`Sandbox::set_session_expiry`], [`Sandbox::expire_session`]).
//!
//! Start it in your own tests with a `ManualClock` shared with the clients
//! ([`Sandbox::client_builder`] and [`Sandbox::user_client_builder`] wire that up):
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> incend::Result<()> {
//! use std::time::Duration;
//! use incend::Recipient;
//! use incend::sandbox::{Fault, ManualClock, Sandbox};
//!
//! let clock = ManualClock::new();
//! let sandbox = Sandbox::builder()
//!     .clock(clock.clone())
//!     .token_lifetime(Duration::from_secs(3600))
//!     .otp("4321")
//!     .start()
//!     .await;
//! let client = sandbox.client_builder().build()?;
//! let to = Recipient::sms("+918838118348")?;
//! client.send_otp(&to).await?;
//! let user = client.verify_otp(&to, "4321").await?;
//! assert_eq!((sandbox.hits("verify"), sandbox.token_requests()), (1, 1));
//!
//! // A fault in Incend's shape, on the next authorized call.
//! sandbox.inject(Fault::rate_limited(Some(30), "Too many requests"));
//! let e = client.token_status(user.user_token()).await.unwrap_err();
//! assert_eq!((e.is_rate_limited(), e.vendor_message()), (true, Some("Too many requests")));
//!
//! // The session's expiry is the server's, on the shared clock.
//! clock.advance(Duration::from_secs(3600));
//! assert!(client.token_status(user.user_token()).await.unwrap_err().is_session_expired());
//! # Ok(()) }
//! ```

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

pub use auth_core::ManualClock;
use auth_core::sandbox::{
    Controls, Ctx, HttpMockRequest, HttpMockResponse, Kit, Route, Settings, Spec, TokenCheck,
    header, mint_jwt, unix_seconds,
};
pub use auth_core::sandbox::{Fault, Tokens, VendorSandbox};
use base64::Engine as _;
use serde_json::{Value, json};

use crate::{Client, ClientBuilder, Error, Recipient, UserClient, UserClientBuilder, VerifiedUser};

/// The API key the sandbox accepts unless told otherwise.
pub const SANDBOX_API_KEY: &str = "sandbox-client-key";
/// The one-time code the sandbox expects unless told otherwise.
pub const SANDBOX_OTP: &str = "123456";

const THIRTY_DAYS: Duration = Duration::from_secs(30 * 24 * 3600);

/// Configures and starts a [`Sandbox`]: the kit's `clock` and `token_lifetime` (how long a
/// user session lasts after verification and after each profile view; default 30 days, as
/// the server), and Incend's API key and code.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let sandbox = incend::sandbox::Sandbox::builder().api_key("my-key").otp("0123").start().await;
/// assert_eq!((sandbox.api_key(), sandbox.otp().as_str()), ("my-key", "0123"));
/// assert!(sandbox.base_url().starts_with("http://127.0.0.1:"));
/// # }
/// ```
#[must_use]
pub struct SandboxBuilder {
    kit: Settings,
    api_key: String,
    otp: String,
}

impl std::fmt::Debug for SandboxBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The API key and the code are credentials, even test ones: never printed.
        f.debug_struct("SandboxBuilder")
            .field("token_lifetime", &self.kit.token_lifetime)
            .field("api_key", &"[REDACTED]")
            .field("otp", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

impl Default for SandboxBuilder {
    fn default() -> Self {
        SandboxBuilder {
            kit: Settings::new(THIRTY_DAYS),
            api_key: SANDBOX_API_KEY.to_owned(),
            otp: SANDBOX_OTP.to_owned(),
        }
    }
}

auth_core::sandbox_builder!(SandboxBuilder);

impl SandboxBuilder {
    /// The client API key accepted in the `ipaas` header (default [`SANDBOX_API_KEY`]): set
    /// your own to check that a client sends the key it was given.
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = key.into();
        self
    }

    /// The one-time code every send "delivers" (default [`SANDBOX_OTP`]).
    pub fn otp(mut self, code: impl Into<String>) -> Self {
        self.otp = code.into();
        self
    }

    /// Start the server on a loopback port.
    pub async fn start(self) -> Sandbox {
        let secrets = [self.api_key.as_str(), self.otp.as_str()];
        let state = State {
            api_key: self.api_key.clone(),
            world: Mutex::new(World {
                otp: self.otp.clone(),
                ..World::default()
            }),
        };
        let kit = Kit::start(state, self.kit, &secrets).await;
        // The vendor's own credential header is never rendered, refused or not.
        kit.recorder().redact_header("ipaas");
        Sandbox { kit }
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

impl User {
    fn reached_at(&self, auth_type: &str, address: &str) -> bool {
        match auth_type {
            "mobile" => self.mobile.as_deref() == Some(address),
            _ => self.email.as_deref() == Some(address),
        }
    }
}

/// What the fake server knows beyond its tokens (which are the kit's): its users, the codes
/// sent and not yet used, the code sends deliver, the recipients its lookup refuses.
#[derive(Debug, Default)]
struct World {
    otp: String,
    /// Codes sent and not yet used, by (authType, address).
    pending: HashMap<(String, String), String>,
    users: Vec<User>,
    invalid: HashSet<String>,
}

/// The fake Incend server's own state and route table (its [`Spec`]); the user sessions are
/// the kit's tokens.
pub struct State {
    api_key: String,
    world: Mutex<World>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("api_key", &"[REDACTED]")
            .finish_non_exhaustive()
    }
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

fn base64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
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

/// What express answers for a route it does not have (a wrong method included).
fn cannot(req: &HttpMockRequest) -> HttpMockResponse {
    HttpMockResponse::builder()
        .status(404)
        .header("Content-Type", "text/html; charset=utf-8")
        .body(format!(
            "<pre>Cannot {} {}</pre>",
            req.method(),
            req.uri().path()
        ))
        .build()
}

impl Spec for State {
    fn routes() -> Vec<Route<Self>> {
        vec![
            Route::authorized("POST", "/auth/init", "init", State::init),
            Route::token("POST", "/auth/verify", "verify", State::verify),
            Route::authorized("GET", "/auth/token", "token", State::token),
            Route::authorized("GET", "/user", "profile", State::profile),
            Route::authorized("POST", "/user/edit", "edit", State::edit),
        ]
    }

    /// Every Incend error is `{"message": ...}` as JSON.
    fn fault(&self, fault: &Fault) -> HttpMockResponse {
        let mut b = HttpMockResponse::builder()
            .status(fault.status)
            .header("Content-Type", "application/json");
        if let Some(s) = fault.retry_after {
            b = b.header("Retry-After", s.to_string());
        }
        b.body(json!({ "message": fault.message }).to_string())
            .build()
    }

    fn not_found(&self, req: &HttpMockRequest) -> HttpMockResponse {
        cannot(req)
    }

    fn method_not_allowed(&self, req: &HttpMockRequest) -> HttpMockResponse {
        cannot(req)
    }
}

impl State {
    fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the `ipaas` API key (header, or query parameter as the server also takes it)
    /// is the client's.
    fn client_ok(&self, req: &HttpMockRequest) -> bool {
        let key = header(req, "ipaas").or_else(|| {
            req.query_params()
                .into_iter()
                .find(|(k, _)| k == "ipaas")
                .map(|(_, v)| v)
        });
        key.is_some_and(|k| k == self.api_key)
    }

    fn init(&self, _ctx: &Ctx, req: &HttpMockRequest) -> HttpMockResponse {
        if !self.client_ok(req) {
            return message(400, "Client not authorised");
        }
        let Some((auth_type, address)) = json_body(req).as_ref().and_then(recipient) else {
            return message(400, "Invalid request");
        };
        let mut world = self.world();
        if world.invalid.contains(&address) {
            return message(
                400,
                if auth_type == "mobile" {
                    "Invalid mobile number"
                } else {
                    "Invalid email address"
                },
            );
        }
        if !world
            .users
            .iter()
            .any(|u| u.reached_at(&auth_type, &address))
        {
            let n = world.users.len() + 1;
            let (mobile, email) = if auth_type == "mobile" {
                (Some(address.clone()), None)
            } else {
                (None, Some(address.clone()))
            };
            world.users.push(User {
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
        let sent = if auth_type == "mobile" {
            "OTP SMS has been sent successfully"
        } else {
            "OTP email has been sent successfully"
        };
        let code = world.otp.clone();
        world.pending.insert((auth_type, address), code);
        message(200, sent)
    }

    fn verify(&self, ctx: &Ctx, req: &HttpMockRequest) -> HttpMockResponse {
        if !self.client_ok(req) {
            return message(400, "Client not authorised");
        }
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
        let user = {
            let mut world = self.world();
            match world.pending.get(&key) {
                // The delivery provider has no open verification to check (never sent, or
                // already approved and consumed): its 404.
                None => return message(400, "Something went wrong while verifying OTP - 20404"),
                Some(expected) if *expected != code => {
                    return message(400, "OTP verification failed, status is still pending");
                }
                Some(_) => {
                    world.pending.remove(&key);
                }
            }
            let Some(user) = world
                .users
                .iter_mut()
                .find(|u| u.reached_at(&auth_type, &address))
            else {
                return message(400, "Something went wrong while verifying OTP - 20404");
            };
            if auth_type == "mobile" {
                user.mobile_verified = true;
            } else {
                user.email_verified = true;
            }
            user.clone()
        };
        let now = ctx.clock().now();
        let lifetime = ctx.token_lifetime();
        // What `jwt.sign({ userId }, secret)` makes: HS256, `userId` and `iat`, no `exp`.
        let jwt = mint_jwt(&json!({ "userId": user.id, "iat": unix_seconds(now) }));
        ctx.store()
            .insert(&jwt, &user.id, Some(lifetime), HashMap::new());
        // Longest first in renderings: the base64 form is labelled, to show the wrapping.
        ctx.recorder()
            .redact_as(base64(&jwt), "[REDACTED base64(userJwtToken)]");
        ctx.recorder()
            .redact_as(jwt.clone(), "[REDACTED userJwtToken]");
        let expiry = now.checked_add(lifetime).unwrap_or(now);
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
        ctx: &Ctx,
        req: &HttpMockRequest,
        missing: HttpMockResponse,
    ) -> Result<(String, String, SystemTime), HttpMockResponse> {
        let Some(jwt) = user_jwt(req) else {
            return Err(missing);
        };
        match ctx.store().check(&jwt) {
            TokenCheck::Valid(t) => {
                let at = t.expires_at.unwrap_or_else(|| ctx.clock().now());
                Ok((jwt, t.subject, at))
            }
            TokenCheck::Expired => Err(message(401, "JWT token has expired, re-initiate login")),
            _ => Err(message(404, "No such JWT token is created")),
        }
    }

    fn token(&self, ctx: &Ctx, req: &HttpMockRequest) -> HttpMockResponse {
        if !self.client_ok(req) {
            return message(400, "Client not authorised");
        }
        match Self::session(ctx, req, message(400, "Invalid request")) {
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
        let world = self.world();
        let u = world.users.iter().find(|u| u.id == user_id);
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

    fn profile(&self, ctx: &Ctx, req: &HttpMockRequest) -> HttpMockResponse {
        match Self::session(ctx, req, message(401, "Invalid JWT token")) {
            Ok((jwt, user_id, _)) => {
                // Using the session extends it; the sandbox reports the expiry now in force.
                let now = ctx.clock().now();
                let at = now.checked_add(ctx.token_lifetime()).unwrap_or(now);
                ctx.store().set_expiry(&jwt, Some(at));
                answer(
                    200,
                    &self.profile_json(&user_id, at, "User session is still active", false),
                )
            }
            Err(resp) => resp,
        }
    }

    fn edit(&self, ctx: &Ctx, req: &HttpMockRequest) -> HttpMockResponse {
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
        let (_, user_id, at) = match Self::session(ctx, req, message(401, "Invalid JWT token")) {
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
        if let Some(u) = self.world().users.iter_mut().find(|u| u.id == user_id) {
            u.name = Some(name);
            for (k, v) in data {
                u.data.insert(k.clone(), v.clone());
            }
        }
        answer(
            200,
            &self.profile_json(&user_id, at, "User profile details are updated", true),
        )
    }
}

/// The running fake server: the kit's controls (it dereferences to [`Kit`], so `inject`,
/// `inject_on`, `expire_tokens`, `hits`, `recorder`, `base_url`, ... are there) and
/// Incend's own. Dropping it stops the server.
pub struct Sandbox {
    kit: Kit<State>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Sandbox").field(&self.kit).finish()
    }
}

impl Deref for Sandbox {
    type Target = Kit<State>;
    fn deref(&self) -> &Kit<State> {
        &self.kit
    }
}

impl Sandbox {
    /// Configure a sandbox.
    pub fn builder() -> SandboxBuilder {
        SandboxBuilder::default()
    }

    /// Start a sandbox with the defaults: system clock, 30-day sessions, [`SANDBOX_API_KEY`],
    /// [`SANDBOX_OTP`].
    pub async fn start() -> Sandbox {
        Self::builder().start().await
    }

    /// A backend client builder wired to this sandbox: its URL, its clock and the API key it
    /// accepts.
    pub fn client_builder(&self) -> ClientBuilder {
        Client::builder()
            .with_base_url(self.base_url())
            .with_clock(self.clock())
            .with_credentials(self.api_key())
    }

    /// A user client builder wired to this sandbox (its URL and clock), still without the
    /// user's token: hand it the one a verification gave with `with_credentials`.
    pub fn user_client_builder(&self) -> UserClientBuilder {
        UserClient::builder()
            .with_base_url(self.base_url())
            .with_clock(self.clock())
    }

    /// The client API key the sandbox accepts.
    pub fn api_key(&self) -> &str {
        &self.state().api_key
    }

    /// The code the next send delivers.
    pub fn otp(&self) -> String {
        self.state().world().otp.clone()
    }

    /// Change the code later sends deliver (codes already sent keep theirs). The recorder
    /// redacts it from now on.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> incend::Result<()> {
    /// let sandbox = incend::sandbox::Sandbox::start().await;
    /// let backend = sandbox.client_builder().build()?;
    /// let to = incend::Recipient::email("asha@example.com")?;
    /// backend.send_otp(&to).await?;
    /// sandbox.set_otp("987");
    /// backend.send_otp(&to).await?;
    /// assert_eq!(sandbox.otp(), "987");
    /// backend.verify_otp(&to, "987").await?;
    /// # Ok(()) }
    /// ```
    pub fn set_otp(&self, code: impl Into<String>) {
        let code = code.into();
        self.recorder().redact(code.clone());
        self.state().world().otp = code;
    }

    /// Make the number or address fail the server's lookup ("Invalid mobile number",
    /// "Invalid email address") on its next send: for a test of what your code tells a user
    /// who mistyped.
    pub fn reject_recipient(&self, address: impl Into<String>) {
        self.state().world().invalid.insert(address.into());
    }

    /// When the server will consider the session of `user_jwt` expired (`None`: unknown or
    /// already expired).
    pub fn session_expiry(&self, user_jwt: &str) -> Option<SystemTime> {
        match self.ctx().store().check(user_jwt) {
            TokenCheck::Valid(t) => t.expires_at,
            _ => None,
        }
    }

    /// Move the server-side expiry of the session of `user_jwt` (the client is not told):
    /// for a test of a session the server cut short.
    pub fn set_session_expiry(&self, user_jwt: &str, at: SystemTime) {
        self.ctx().store().set_expiry(user_jwt, Some(at));
    }

    /// End the session of `user_jwt` on the server now (the client is not told). Every
    /// session at once: `expire_tokens(Tokens::All)`.
    pub fn expire_session(&self, user_jwt: &str) {
        self.ctx().store().revoke(user_jwt);
    }
}

/// The contract's first Incend subject: the backend, whose API key nothing renews. Its one
/// authorized call sends a code (the API key alone).
impl VendorSandbox for Sandbox {
    type Client = Client;
    const NAME: &'static str = "incend (backend, api key)";

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

    fn call(client: &Client) -> Pin<Box<dyn Future<Output = Result<(), Error>> + Send>> {
        let client = client.clone();
        Box::pin(async move {
            let to = Recipient::sms(CONTRACT_MOBILE)?;
            client.send_otp(&to).await.map(drop)
        })
    }

    fn controls(&self) -> &Controls {
        &self.kit
    }

    fn renewable(&self) -> bool {
        false
    }

    fn secrets(&self) -> Vec<String> {
        vec![self.api_key().to_owned(), self.otp()]
    }
}

const CONTRACT_MOBILE: &str = "+918838118348";

/// A sandbox with one user through the OTP round (send, verify): the contract's second
/// Incend subject, a user session, which nothing can renew. It dereferences to its
/// [`Sandbox`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> incend::Result<()> {
/// use std::time::Duration;
/// use incend::sandbox::{ManualClock, SignedIn, VendorSandbox as _};
///
/// let signed_in = SignedIn::start(ManualClock::new(), Duration::from_secs(3600)).await;
/// let me = signed_in.client()?;
/// let profile = me.profile().await?;
/// assert_eq!(&profile.user_id, signed_in.user().user_id());
/// assert_eq!(signed_in.token_requests(), 1);
/// # Ok(()) }
/// ```
// Neither part's Debug shows a credential (the user token prints `[REDACTED]`).
#[derive(Debug)]
pub struct SignedIn {
    sandbox: Sandbox,
    user: VerifiedUser,
}

impl Deref for SignedIn {
    type Target = Sandbox;
    fn deref(&self) -> &Sandbox {
        &self.sandbox
    }
}

impl SignedIn {
    /// The user the OTP round verified.
    pub fn user(&self) -> &VerifiedUser {
        &self.user
    }
}

impl VendorSandbox for SignedIn {
    type Client = UserClient;
    const NAME: &'static str = "incend (user session)";

    /// Start a sandbox and take one user through the OTP round (panics if the sandbox
    /// refuses it, which would be a bug of the sandbox or the client).
    async fn start(clock: ManualClock, lifetime: Duration) -> Self {
        let sandbox = <Sandbox as VendorSandbox>::start(clock, lifetime).await;
        let round = async {
            let backend = sandbox.client_builder().build()?;
            let to = Recipient::sms(CONTRACT_MOBILE)?;
            backend.send_otp(&to).await?;
            backend.verify_otp(&to, &sandbox.otp()).await
        };
        let user = round
            .await
            .unwrap_or_else(|e| panic!("incend sandbox: the OTP round failed: {e}"));
        SignedIn { sandbox, user }
    }

    fn client(&self) -> Result<UserClient, Error> {
        self.user_client_builder()
            .with_credentials(self.user.user_token().clone())
            .with_expires_at(self.user.expires_at())
            .build()
    }

    fn call(client: &UserClient) -> Pin<Box<dyn Future<Output = Result<(), Error>> + Send>> {
        let client = client.clone();
        Box::pin(async move { client.profile().await.map(drop) })
    }

    fn controls(&self) -> &Controls {
        &self.sandbox.kit
    }

    fn renewable(&self) -> bool {
        false
    }

    fn secrets(&self) -> Vec<String> {
        let jwt = self.user.user_token().expose().to_owned();
        vec![self.api_key().to_owned(), self.otp(), base64(&jwt), jwt]
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
