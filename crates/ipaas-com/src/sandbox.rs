//! An in-process fake iPaaS.com (feature `sandbox`) for tests, the quickstart and your own
//! tests. It enforces the documented wire rules, issues tokens with a configurable lifetime
//! judged by an injected clock, serves a paginated list, and injects 401, 429 and 5xx.
//!
//! Routes:
//! - `POST /sso/v2/Auth/Login` `{email_address, password}` (JSON) -> the auth answer;
//!   missing fields 400, wrong credentials 401, plain-text bodies.
//! - `POST /sso/v2/Auth/Refresh` with only `{refresh_token}` and no `Authorization` header
//!   (anything else is a 400) -> the auth answer; an unknown or revoked token is a 401.
//! - `GET /sso/v2/User/{id}/Companies` -> the user's companies.
//! - `GET /sso/v2/User/ChangeCompany/{company_id}` -> a new token set scoped to the company.
//! - `GET /subscriptions/v2/Events?pageNumber=&pageSize=` -> `{id, name}` items with an
//!   `X-Pagination` header.
//! - any other `/{base_path}/v{n}/...` -> an authorized echo `{method, path, query, body,
//!   company_id, user_id}`.
//!
//! Authorized routes accept `Authorization: Bearer <token>` or the raw token, an access token
//! the sandbox issued that has not expired, or the API key.
//!
//! ```
//! use std::time::Duration;
//! use auth_core::ManualClock;
//! use ipaas_com::sandbox::Sandbox;
//!
//! # #[tokio::main(flavor = "multi_thread")]
//! # async fn main() -> ipaas_com::Result<()> {
//! let clock = ManualClock::new();
//! let sandbox = Sandbox::builder()
//!     .clock(clock.clone())
//!     .token_lifetime(Duration::from_secs(3600))
//!     .start()
//!     .await;
//! let client = sandbox.client_builder().build()?;
//! let companies = client.companies().await?;
//! assert_eq!(companies.len(), 2);
//! clock.advance(Duration::from_secs(3600));
//! client.companies().await?; // the expired token is refreshed first
//! assert_eq!((sandbox.logins(), sandbox.refreshes()), (1, 1));
//! # Ok(()) }
//! ```

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use auth_core::sandbox::{Fault, Recorder};
use auth_core::sandbox::{
    Faults, Hits, HttpMockRequest, HttpMockResponse, MockServer, TokenCheck, TokenStore, header,
    mint_jwt, text, unix_seconds,
};
use auth_core::{ManualClock, SharedClock};
use serde_json::{Value, json};

use crate::{ClientBuilder, Credentials};

/// The sandbox user's email address.
pub const EMAIL: &str = "user@example.com";
/// The sandbox user's password.
pub const PASSWORD: &str = "sandbox-password-0451";
/// The sandbox user's id.
pub const USER_ID: i64 = 664;
/// The API key the sandbox accepts.
pub const API_KEY: &str = "sandbox-api-key-7c1d";
/// The sandbox user's default company.
pub const DEFAULT_COMPANY: &str = "0b6f5a44-1b2c-4d3e-8f90-000000000001";
/// The sandbox user's second company.
pub const OTHER_COMPANY: &str = "0b6f5a44-1b2c-4d3e-8f90-000000000002";
/// The company an API key is scoped to.
pub const API_KEY_COMPANY: &str = "0b6f5a44-1b2c-4d3e-8f90-0000000000aa";

/// Route names for [`Sandbox::hits`].
pub mod routes {
    /// `POST /sso/v2/Auth/Login`.
    pub const LOGIN: &str = "login";
    /// `POST /sso/v2/Auth/Refresh`.
    pub const REFRESH: &str = "refresh";
    /// `GET /sso/v2/User/{id}/Companies`.
    pub const COMPANIES: &str = "companies";
    /// `GET /sso/v2/User/ChangeCompany/{id}`.
    pub const CHANGE_COMPANY: &str = "change_company";
    /// `GET /subscriptions/v2/Events`.
    pub const EVENTS: &str = "events";
    /// Any other authorized path.
    pub const ECHO: &str = "echo";
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Configures and starts a [`Sandbox`].
///
/// ```
/// # #[tokio::main(flavor = "multi_thread")]
/// # async fn main() {
/// let sandbox = ipaas_com::sandbox::Sandbox::builder().events(250).start().await;
/// assert!(sandbox.base_url().starts_with("http://127.0.0.1"));
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a sandbox builder does nothing until started"]
pub struct SandboxBuilder {
    clock: Option<SharedClock>,
    lifetime: Duration,
    events: u64,
    rotate_refresh_tokens: bool,
}

impl SandboxBuilder {
    /// The clock that judges token expiry (share a `ManualClock` with the client).
    ///
    /// ```
    /// let b = ipaas_com::sandbox::Sandbox::builder().clock(auth_core::ManualClock::new());
    /// # let _ = b;
    /// ```
    pub fn clock(mut self, clock: impl Into<SharedClock>) -> Self {
        self.clock = Some(clock.into());
        self
    }

    /// How long issued access tokens last (one hour by default, like iPaaS.com).
    ///
    /// ```
    /// let b = ipaas_com::sandbox::Sandbox::builder().token_lifetime(std::time::Duration::from_secs(60));
    /// # let _ = b;
    /// ```
    pub fn token_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// How many items `GET /subscriptions/v2/Events` serves (2,500 by default).
    ///
    /// ```
    /// let b = ipaas_com::sandbox::Sandbox::builder().events(10);
    /// # let _ = b;
    /// ```
    pub fn events(mut self, count: u64) -> Self {
        self.events = count;
        self
    }

    /// Whether a refresh answer carries a new refresh token (default) or none, in which
    /// case clients must keep the one they hold.
    ///
    /// ```
    /// let b = ipaas_com::sandbox::Sandbox::builder().rotate_refresh_tokens(false);
    /// # let _ = b;
    /// ```
    pub fn rotate_refresh_tokens(mut self, rotate: bool) -> Self {
        self.rotate_refresh_tokens = rotate;
        self
    }

    /// Start the sandbox on a loopback port. Call it inside a tokio runtime.
    ///
    /// ```
    /// # #[tokio::main(flavor = "multi_thread")]
    /// # async fn main() {
    /// let sandbox = ipaas_com::sandbox::Sandbox::builder().start().await;
    /// # let _ = sandbox;
    /// # }
    /// ```
    pub async fn start(self) -> Sandbox {
        let clock = self
            .clock
            .unwrap_or_else(|| SharedClock::new(auth_core::SystemClock));
        let state = Arc::new(State {
            access: TokenStore::new(clock.clone()),
            clock,
            lifetime: self.lifetime,
            events: self.events,
            rotate: self.rotate_refresh_tokens,
            refresh: Mutex::new(HashMap::new()),
            faults: Faults::default(),
            auth_faults: Faults::default(),
            hits: Hits::default(),
            recorder: Recorder::default(),
            api_keys: Mutex::new(HashSet::from([API_KEY.to_owned()])),
        });
        state.recorder.redact(PASSWORD);
        state.recorder.redact(API_KEY);
        let server = MockServer::start_async().await;
        let s = state.clone();
        server
            .mock_async(move |_when, then| {
                then.respond_with(move |req: &HttpMockRequest| s.handle(req));
            })
            .await;
        Sandbox { server, state }
    }
}

/// A running fake iPaaS.com. Stops when dropped.
///
/// ```
/// # #[tokio::main(flavor = "multi_thread")]
/// # async fn main() -> ipaas_com::Result<()> {
/// use ipaas_com::sandbox::{Fault, Sandbox};
/// let sandbox = Sandbox::start().await;
/// let client = sandbox.client_builder().build()?;
/// sandbox.inject(Sandbox::monthly_limit());
/// let err = client.companies().await.unwrap_err();
/// assert!(err.is_rate_limited() && !err.is_retryable());
/// # Ok(()) }
/// ```
pub struct Sandbox {
    server: MockServer,
    state: Arc<State>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("base_url", &self.server.base_url())
            .field("lifetime", &self.state.lifetime)
            .field("hits", &self.state.hits.all())
            .finish_non_exhaustive()
    }
}

impl Sandbox {
    /// Configure a sandbox.
    ///
    /// ```
    /// let b = ipaas_com::sandbox::Sandbox::builder();
    /// # let _ = b;
    /// ```
    pub fn builder() -> SandboxBuilder {
        SandboxBuilder {
            clock: None,
            lifetime: Duration::from_secs(3600),
            events: 2500,
            rotate_refresh_tokens: true,
        }
    }

    /// Start a sandbox with the defaults (system clock, one-hour tokens).
    ///
    /// ```
    /// # #[tokio::main(flavor = "multi_thread")]
    /// # async fn main() {
    /// let sandbox = ipaas_com::sandbox::Sandbox::start().await;
    /// # let _ = sandbox;
    /// # }
    /// ```
    pub async fn start() -> Sandbox {
        Sandbox::builder().start().await
    }

    /// The base URL to give the client.
    ///
    /// ```
    /// # #[tokio::main(flavor = "multi_thread")]
    /// # async fn main() {
    /// let sandbox = ipaas_com::sandbox::Sandbox::start().await;
    /// assert!(sandbox.base_url().starts_with("http://"));
    /// # }
    /// ```
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// A client builder wired to this sandbox: base URL, its clock, the sandbox user.
    ///
    /// ```
    /// # #[tokio::main(flavor = "multi_thread")]
    /// # async fn main() -> ipaas_com::Result<()> {
    /// let sandbox = ipaas_com::sandbox::Sandbox::start().await;
    /// let client = sandbox.client_builder().build()?;
    /// # let _ = client; Ok(()) }
    /// ```
    pub fn client_builder(&self) -> ClientBuilder {
        crate::Client::builder()
            .with_base_url(self.base_url())
            .with_clock(self.state.clock.clone())
            .with_credentials(Sandbox::user_credentials())
    }

    /// The sandbox user's credentials.
    ///
    /// ```
    /// assert!(!ipaas_com::sandbox::Sandbox::user_credentials().is_api_key());
    /// ```
    pub fn user_credentials() -> Credentials {
        Credentials::user(EMAIL, PASSWORD)
    }

    /// The sandbox API key as credentials.
    ///
    /// ```
    /// assert!(ipaas_com::sandbox::Sandbox::api_key_credentials().is_api_key());
    /// ```
    pub fn api_key_credentials() -> Credentials {
        Credentials::api_key(API_KEY)
    }

    /// A 429 for the monthly plan limit (not retryable).
    ///
    /// ```
    /// assert_eq!(ipaas_com::sandbox::Sandbox::monthly_limit().status, 429);
    /// ```
    pub fn monthly_limit() -> Fault {
        Fault::rate_limited(
            None,
            "API call limit exceeded: your plan's monthly API limit has been reached",
        )
    }

    /// A 429 for a temporary volume restriction, with `Retry-After` seconds when given.
    ///
    /// ```
    /// assert_eq!(ipaas_com::sandbox::Sandbox::volume_limit(Some(30)).retry_after, Some(30));
    /// ```
    pub fn volume_limit(retry_after: Option<u64>) -> Fault {
        Fault::rate_limited(
            retry_after,
            "Too many requests: volume restriction in effect, try again later",
        )
    }

    /// Queue a fault on the next authorized (non-`Auth/*`) call.
    ///
    /// ```
    /// # #[tokio::main(flavor = "multi_thread")]
    /// # async fn main() {
    /// let sandbox = ipaas_com::sandbox::Sandbox::start().await;
    /// sandbox.inject(ipaas_com::sandbox::Fault::server_error(503));
    /// # }
    /// ```
    pub fn inject(&self, fault: Fault) {
        self.state.faults.push(fault);
    }

    /// Queue a fault on the next `Auth/Login` or `Auth/Refresh` call.
    ///
    /// ```
    /// # #[tokio::main(flavor = "multi_thread")]
    /// # async fn main() {
    /// let sandbox = ipaas_com::sandbox::Sandbox::start().await;
    /// sandbox.inject_on_auth(ipaas_com::sandbox::Fault::server_error(502));
    /// # }
    /// ```
    pub fn inject_on_auth(&self, fault: Fault) {
        self.state.auth_faults.push(fault);
    }

    /// Requests seen on a route (see [`routes`]).
    ///
    /// ```
    /// # #[tokio::main(flavor = "multi_thread")]
    /// # async fn main() {
    /// let sandbox = ipaas_com::sandbox::Sandbox::start().await;
    /// assert_eq!(sandbox.hits(ipaas_com::sandbox::routes::LOGIN), 0);
    /// # }
    /// ```
    pub fn hits(&self, route: &str) -> u64 {
        self.state.hits.get(route)
    }

    /// Login requests seen.
    ///
    /// ```
    /// # #[tokio::main(flavor = "multi_thread")]
    /// # async fn main() {
    /// assert_eq!(ipaas_com::sandbox::Sandbox::start().await.logins(), 0);
    /// # }
    /// ```
    pub fn logins(&self) -> u64 {
        self.hits(routes::LOGIN)
    }

    /// Refresh requests seen.
    ///
    /// ```
    /// # #[tokio::main(flavor = "multi_thread")]
    /// # async fn main() {
    /// assert_eq!(ipaas_com::sandbox::Sandbox::start().await.refreshes(), 0);
    /// # }
    /// ```
    pub fn refreshes(&self) -> u64 {
        self.hits(routes::REFRESH)
    }

    /// Token requests (logins plus refreshes) seen.
    ///
    /// ```
    /// # #[tokio::main(flavor = "multi_thread")]
    /// # async fn main() {
    /// assert_eq!(ipaas_com::sandbox::Sandbox::start().await.token_requests(), 0);
    /// # }
    /// ```
    pub fn token_requests(&self) -> u64 {
        self.logins() + self.refreshes()
    }

    /// The request recorder; every secret the sandbox knows is redacted in its renderings.
    ///
    /// ```
    /// # #[tokio::main(flavor = "multi_thread")]
    /// # async fn main() {
    /// let sandbox = ipaas_com::sandbox::Sandbox::start().await;
    /// assert!(sandbox.recorder().last("/sso").is_none());
    /// # }
    /// ```
    pub fn recorder(&self) -> &Recorder {
        &self.state.recorder
    }

    /// Refuse every refresh token issued so far (the next refresh gets a 401).
    ///
    /// ```
    /// # #[tokio::main(flavor = "multi_thread")]
    /// # async fn main() {
    /// ipaas_com::sandbox::Sandbox::start().await.revoke_refresh_tokens();
    /// # }
    /// ```
    pub fn revoke_refresh_tokens(&self) {
        lock(&self.state.refresh).clear();
    }

    /// Treat every access token issued so far as expired.
    ///
    /// ```
    /// # #[tokio::main(flavor = "multi_thread")]
    /// # async fn main() {
    /// ipaas_com::sandbox::Sandbox::start().await.expire_access_tokens();
    /// # }
    /// ```
    pub fn expire_access_tokens(&self) {
        self.state.access.expire_all();
    }

    /// A manual clock starting at auth-core's default instant, for sandboxes in tests.
    ///
    /// ```
    /// let clock = ipaas_com::sandbox::Sandbox::manual_clock();
    /// # let _ = clock;
    /// ```
    pub fn manual_clock() -> ManualClock {
        ManualClock::new()
    }
}

#[derive(Debug, Clone)]
struct Grant {
    user_id: i64,
    company_id: String,
}

#[derive(Debug)]
struct State {
    clock: SharedClock,
    lifetime: Duration,
    events: u64,
    rotate: bool,
    access: TokenStore,
    refresh: Mutex<HashMap<String, Grant>>,
    faults: Faults,
    auth_faults: Faults,
    hits: Hits,
    recorder: Recorder,
    api_keys: Mutex<HashSet<String>>,
}

fn fault_response(f: &Fault) -> HttpMockResponse {
    let mut b = HttpMockResponse::builder()
        .status(f.status)
        .header("Content-Type", "text/plain");
    if let Some(s) = f.retry_after {
        b = b.header("Retry-After", s.to_string());
    }
    b.body(f.message.clone()).build()
}

fn json_response(status: u16, body: &Value) -> HttpMockResponse {
    auth_core::sandbox::json(status, body)
}

/// `2026-05-13T17:53:12+00:00`, the form iPaaS.com sends.
fn iso8601(at: SystemTime) -> String {
    let secs = i64::try_from(unix_seconds(at)).unwrap_or(i64::MAX);
    match time::OffsetDateTime::from_unix_timestamp(secs) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}+00:00",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        Err(_) => "9999-12-31T23:59:59+00:00".to_owned(),
    }
}

enum Caller {
    User(Grant),
    ApiKey,
}

impl State {
    fn handle(&self, req: &HttpMockRequest) -> HttpMockResponse {
        self.recorder.record(req);
        let path = req.uri().path().to_owned();
        let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let method = req.method().as_str().to_owned();
        match segs.as_slice() {
            ["sso", "v2", "Auth", "Login"] => self.only(&method, "POST", || self.login(req)),
            ["sso", "v2", "Auth", "Refresh"] => self.only(&method, "POST", || self.refresh(req)),
            ["sso", "v2", "User", id, "Companies"] => {
                let id = id.to_string();
                self.only(&method, "GET", || self.companies(req, &path, &id))
            }
            ["sso", "v2", "User", "ChangeCompany", company] => {
                let company = company.to_string();
                self.only(&method, "GET", || self.change_company(req, &path, &company))
            }
            ["subscriptions", "v2", "Events"] => {
                self.only(&method, "GET", || self.events(req, &path))
            }
            [base, version, _, ..] if *base != "sso" && version.starts_with('v') => {
                self.echo(req, &path)
            }
            _ => text(404, "Not Found"),
        }
    }

    fn only(
        &self,
        method: &str,
        allowed: &str,
        f: impl FnOnce() -> HttpMockResponse,
    ) -> HttpMockResponse {
        if method == allowed {
            f()
        } else {
            text(405, "Method Not Allowed")
        }
    }

    fn json_body(
        req: &HttpMockRequest,
    ) -> Result<serde_json::Map<String, Value>, HttpMockResponse> {
        let ct = header(req, "content-type").unwrap_or_default();
        if !ct.starts_with("application/json") {
            return Err(text(415, "Content-Type must be application/json"));
        }
        match serde_json::from_slice::<Value>(req.body_ref()) {
            Ok(Value::Object(m)) => Ok(m),
            _ => Err(text(400, "The request body is not a valid JSON object")),
        }
    }

    fn issue(&self, grant: &Grant, with_refresh: bool) -> Value {
        let now = self.clock.now();
        // Whole seconds: the advertised expiry and the enforced one must agree exactly.
        let expires_at = UNIX_EPOCH
            + Duration::from_secs(unix_seconds(now.checked_add(self.lifetime).unwrap_or(now)));
        let serial = self.access.next_serial();
        let access = mint_jwt(&json!({
            "sub": grant.user_id.to_string(),
            "CompanyId": grant.company_id,
            "exp": unix_seconds(expires_at),
            "jti": serial,
        }));
        let data = HashMap::from([
            ("company_id".to_owned(), grant.company_id.clone()),
            ("user_id".to_owned(), grant.user_id.to_string()),
        ]);
        self.access.insert(
            &access,
            &grant.user_id.to_string(),
            Some(self.lifetime),
            data,
        );
        self.access.set_expiry(&access, Some(expires_at));
        self.recorder.redact(access.clone());
        let mut answer = json!({
            "id": grant.user_id,
            "name": "Sandbox User",
            "email_address": EMAIL,
            "access_token": access,
            "access_token_expiration": iso8601(expires_at),
            "return_url": null,
            "permissions": ["subscriptions.read", "subscriptions.write"],
            "tracking_guid": null,
        });
        if with_refresh {
            let refresh = format!("AQA-sandbox-refresh-{serial}");
            lock(&self.refresh).insert(refresh.clone(), grant.clone());
            self.recorder.redact(refresh.clone());
            answer["refresh_token"] = Value::String(refresh);
        }
        answer
    }

    fn login(&self, req: &HttpMockRequest) -> HttpMockResponse {
        self.hits.record(routes::LOGIN);
        if let Some(f) = self.auth_faults.take(req.uri().path()) {
            return fault_response(&f);
        }
        let body = match Self::json_body(req) {
            Ok(b) => b,
            Err(r) => return r,
        };
        let (Some(Value::String(email)), Some(Value::String(password))) =
            (body.get("email_address"), body.get("password"))
        else {
            return text(400, "The email_address and password fields are required.");
        };
        if email != EMAIL || password != PASSWORD {
            return text(401, "Invalid email address or password.");
        }
        let grant = Grant {
            user_id: USER_ID,
            company_id: DEFAULT_COMPANY.to_owned(),
        };
        json_response(200, &self.issue(&grant, true))
    }

    fn refresh(&self, req: &HttpMockRequest) -> HttpMockResponse {
        self.hits.record(routes::REFRESH);
        if let Some(f) = self.auth_faults.take(req.uri().path()) {
            return fault_response(&f);
        }
        if header(req, "authorization").is_some() {
            return text(
                400,
                "Do not send the access token to Auth/Refresh: pass only the refresh_token.",
            );
        }
        let body = match Self::json_body(req) {
            Ok(b) => b,
            Err(r) => return r,
        };
        if body.len() != 1 {
            return text(400, "Pass only the refresh_token to this endpoint.");
        }
        let Some(Value::String(token)) = body.get("refresh_token") else {
            return text(400, "The refresh_token field is required.");
        };
        let grant = {
            let mut held = lock(&self.refresh);
            let grant = if self.rotate {
                held.remove(token)
            } else {
                held.get(token).cloned()
            };
            match grant {
                Some(g) => g,
                None => return text(401, "Invalid or expired refresh token."),
            }
        };
        let mut answer = self.issue(&grant, self.rotate);
        if let Value::Object(m) = &mut answer {
            // Refresh answers carry the tokens; user data may be absent.
            m.retain(|k, _| k.contains("token") || k == "id");
        }
        json_response(200, &answer)
    }

    /// Check the fault queue and the token; `Err` is the response to send instead.
    fn authorize(&self, req: &HttpMockRequest, path: &str) -> Result<Caller, HttpMockResponse> {
        if let Some(f) = self.faults.take(path) {
            return Err(fault_response(&f));
        }
        let Some(raw) = header(req, "authorization") else {
            return Err(text(401, "Unauthorized: no Authorization header"));
        };
        let token = raw
            .strip_prefix("Bearer ")
            .unwrap_or(&raw)
            .trim()
            .to_owned();
        if lock(&self.api_keys).contains(&token) {
            return Ok(Caller::ApiKey);
        }
        match self.access.check(&token) {
            TokenCheck::Valid(t) => {
                let user_id = t
                    .data
                    .get("user_id")
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(USER_ID);
                let company_id = t.data.get("company_id").cloned().unwrap_or_default();
                Ok(Caller::User(Grant {
                    user_id,
                    company_id,
                }))
            }
            TokenCheck::Expired => Err(text(401, "Unauthorized: token expired")),
            _ => Err(text(401, "Unauthorized")),
        }
    }

    fn companies(&self, req: &HttpMockRequest, path: &str, id: &str) -> HttpMockResponse {
        self.hits.record(routes::COMPANIES);
        let caller = match self.authorize(req, path) {
            Ok(c) => c,
            Err(r) => return r,
        };
        match caller {
            Caller::User(g) if g.user_id.to_string() == id => {}
            _ => return text(404, "User not found."),
        }
        json_response(
            200,
            &json!([
                {"id": DEFAULT_COMPANY, "name": "Acme Retail", "logo": null,
                 "designation_id": 1, "user_type_id": 2, "designations": {"1": "Owner"}},
                {"id": OTHER_COMPANY, "name": "Globex Wholesale", "logo": "https://example.com/g.png",
                 "designation_id": 3, "user_type_id": 2, "designations": {}},
            ]),
        )
    }

    fn change_company(&self, req: &HttpMockRequest, path: &str, company: &str) -> HttpMockResponse {
        self.hits.record(routes::CHANGE_COMPANY);
        let caller = match self.authorize(req, path) {
            Ok(c) => c,
            Err(r) => return r,
        };
        let Caller::User(grant) = caller else {
            return text(400, "API keys cannot change company.");
        };
        if company != DEFAULT_COMPANY && company != OTHER_COMPANY {
            return text(404, "Company not found.");
        }
        let grant = Grant {
            user_id: grant.user_id,
            company_id: company.to_owned(),
        };
        json_response(200, &self.issue(&grant, true))
    }

    fn events(&self, req: &HttpMockRequest, path: &str) -> HttpMockResponse {
        // Counted after the token check (401s included), so a test that sees the count
        // knows the check was made against the clock as it was then.
        let authorized = self.authorize(req, path);
        self.hits.record(routes::EVENTS);
        if let Err(r) = authorized {
            return r;
        }
        let q: HashMap<String, String> = req.query_params().into_iter().collect();
        let number = match q.get("pageNumber").map(|s| s.parse::<u64>()) {
            None => 1,
            Some(Ok(n)) if n >= 1 => n,
            _ => return text(400, "pageNumber must be a whole number of at least 1."),
        };
        let size = match q.get("pageSize").map(|s| s.parse::<u64>()) {
            None => 100,
            Some(Ok(n)) if (1..=1000).contains(&n) => n,
            _ => return text(400, "pageSize must be between 1 and 1000."),
        };
        let total = self.events;
        let pages = total.div_ceil(size);
        let start = (number - 1).saturating_mul(size);
        let end = start.saturating_add(size).min(total);
        let items: Vec<Value> = (start..end.max(start))
            .map(|i| json!({"id": i + 1, "name": format!("event {}", i + 1)}))
            .collect();
        let meta = json!({
            "total_Count": total,
            "page_Size": size,
            "current_Page": number,
            "total_Pages": pages,
            "previous_Page": if number > 1 { "Yes" } else { "No" },
            "next_Page": if number < pages { "Yes" } else { "No" },
        });
        HttpMockResponse::builder()
            .status(200)
            .header("Content-Type", "application/json")
            .header("X-Pagination", meta.to_string())
            .body(Value::Array(items).to_string())
            .build()
    }

    fn echo(&self, req: &HttpMockRequest, path: &str) -> HttpMockResponse {
        self.hits.record(routes::ECHO);
        let caller = match self.authorize(req, path) {
            Ok(c) => c,
            Err(r) => return r,
        };
        let (company_id, user_id) = match caller {
            Caller::User(g) => (g.company_id, Some(g.user_id)),
            Caller::ApiKey => (API_KEY_COMPANY.to_owned(), None),
        };
        let body: Value = serde_json::from_slice(req.body_ref()).unwrap_or(Value::Null);
        json_response(
            200,
            &json!({
                "method": req.method().as_str(),
                "path": path,
                "query": req.uri().query(),
                "body": body,
                "company_id": company_id,
                "user_id": user_id,
            }),
        )
    }
}
