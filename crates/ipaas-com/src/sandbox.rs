//! An in-process fake iPaaS.com (feature `sandbox`) for tests, the quickstart and your own
//! tests, on auth-core's sandbox kit. It enforces the documented wire rules, issues tokens
//! with a configurable lifetime judged by an injected clock, serves a paginated list, and
//! injects 401, 429 and 5xx (`inject`, `inject_on`, `inject_token`: the kit's controls, in
//! iPaaS.com's plain-text error shape).
//!
//! | method | path | route name | kind | answer |
//! |---|---|---|---|---|
//! | `POST` | `/sso/v2/Auth/Login` | `login` | token | `{email_address, password}` (JSON) -> the auth answer; missing fields 400, wrong credentials 401, a body that is not JSON 415 |
//! | `POST` | `/sso/v2/Auth/Refresh` | `refresh` | token | only `{refresh_token}` and no `Authorization` header (anything else is a 400) -> the auth answer without user data; an unknown, used or expired refresh token is a 401 |
//! | `GET` | `/sso/v2/User/{id}/Companies` | `companies` | authorized | the user's two companies; another user's id is a 404 |
//! | `GET` | `/sso/v2/User/ChangeCompany/{company_id}` | `change_company` | authorized | a new token set scoped to the company; an unknown company 404, an API key 400 |
//! | `GET` | `/subscriptions/v2/Events?pageNumber=&pageSize=` | `events` | authorized | `{id, name}` items with an `X-Pagination` header |
//! | any | any other `/{base_path}/v{n}/...` outside `sso` | `echo` | authorized | `{method, path, query, body, company_id, user_id}` |
//! | other | the paths above | `method_not_allowed` | open | 405 |
//! | any | any other `/sso/...` | `not_found` | open | 404 |
//!
//! Authorized routes accept `Authorization: Bearer <token>` or the raw token: an access
//! token the sandbox issued that has not expired, or the API key. Every error body is plain
//! text.
//!
//! ```
//! use std::time::Duration;
//! use ipaas_com::ErrorExt as _;
//! use ipaas_com::sandbox::{ManualClock, Sandbox, Tokens, routes};
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
//! assert_eq!((sandbox.hits(routes::LOGIN), sandbox.hits(routes::REFRESH)), (1, 1));
//!
//! // A refused refresh token falls back to one login.
//! sandbox.expire_tokens(Tokens::All);
//! client.companies().await?;
//! assert_eq!((sandbox.hits(routes::LOGIN), sandbox.hits(routes::REFRESH)), (2, 2));
//!
//! sandbox.inject(Sandbox::monthly_limit());
//! let err = client.companies().await.unwrap_err();
//! assert!(err.is_rate_limited() && !err.is_retryable());
//! assert_eq!(err.rate_limit_kind(), Some(ipaas_com::RateLimitKind::Monthly));
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use auth_core::ManualClock;
use auth_core::sandbox::{
    Controls, Ctx, HttpMockRequest, HttpMockResponse, Kit, Route, Settings, Spec, TokenCheck,
    VendorSandbox, header, json, mint_jwt, text, unix_seconds,
};
pub use auth_core::sandbox::{Fault, Recorder, Tokens};
use futures::future::BoxFuture;
use serde_json::{Value, json};

use crate::{Api, Client, ClientBuilder, Credentials, Error};

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

/// Route names, for `hits` and `inject_on`.
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

const LOGIN_PATH: &str = "/sso/v2/Auth/Login";
const REFRESH_PATH: &str = "/sso/v2/Auth/Refresh";
const COMPANIES_PATH: &str = "/sso/v2/User/{}/Companies";
const CHANGE_COMPANY_PATH: &str = "/sso/v2/User/ChangeCompany/{}";
const EVENTS_PATH: &str = "/subscriptions/v2/Events";

/// Configures and starts a [`Sandbox`]; `clock` and `token_lifetime` (one hour by default,
/// like iPaaS.com) are the kit's.
#[derive(Debug, Clone)]
#[must_use = "a sandbox builder does nothing until started"]
pub struct SandboxBuilder {
    kit: Settings,
    events: u64,
    rotate_refresh_tokens: bool,
    tool_refresh_form: bool,
}

auth_core::sandbox_builder!(SandboxBuilder);

impl SandboxBuilder {
    /// How many items `GET /subscriptions/v2/Events` serves (2,500 by default: 25 pages of
    /// 100), to test paging over as many pages as you need.
    pub fn events(mut self, count: u64) -> Self {
        self.events = count;
        self
    }

    /// Whether a refresh answer carries a new refresh token and retires the old one
    /// (default), or carries none, as some iPaaS.com answers do: clients must then keep the
    /// one they hold.
    pub fn rotate_refresh_tokens(mut self, rotate: bool) -> Self {
        self.rotate_refresh_tokens = rotate;
        self
    }

    /// Also accept the refresh body iPaaS.com's own C# tool sends, `{access_token,
    /// refresh_token}` (the access token must be one this sandbox issued), for a client
    /// built with `RefreshForm::WithAccessToken`. Off by default: the page's rule,
    /// `{refresh_token}` only, is what the sandbox enforces.
    pub fn accept_tool_refresh_form(mut self, accept: bool) -> Self {
        self.tool_refresh_form = accept;
        self
    }

    /// Start the sandbox on a loopback port. Call it inside a tokio runtime.
    pub async fn start(self) -> Sandbox {
        let state = State {
            events: self.events,
            rotate: self.rotate_refresh_tokens,
            tool_refresh_form: self.tool_refresh_form,
            grants: Mutex::default(),
            events_served: AtomicU64::default(),
        };
        Sandbox {
            kit: Kit::start(state, self.kit, &[PASSWORD, API_KEY]).await,
        }
    }
}

/// A running fake iPaaS.com; stops when dropped. Its controls are the kit's (through
/// `Deref`): `inject`, `inject_on`, `inject_token`, `expire_tokens`, `token_requests`,
/// `hits`, `recorder`, `base_url`, `clock`, `set_token_lifetime`. See the
/// [module docs](self) for an example.
pub struct Sandbox {
    kit: Kit<State>,
}

impl Deref for Sandbox {
    type Target = Kit<State>;
    fn deref(&self) -> &Kit<State> {
        &self.kit
    }
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Sandbox").field(&self.kit).finish()
    }
}

impl Sandbox {
    /// Configure a sandbox.
    pub fn builder() -> SandboxBuilder {
        SandboxBuilder {
            kit: Settings::new(Duration::from_secs(3600)),
            events: 2500,
            rotate_refresh_tokens: true,
            tool_refresh_form: false,
        }
    }

    /// A client builder wired to this sandbox: its base URL, its clock, the sandbox user
    /// (`.with_credentials(..)` for another, or [`api_key_credentials`](Self::api_key_credentials)).
    pub fn client_builder(&self) -> ClientBuilder {
        Client::builder()
            .with_base_url(self.base_url())
            .with_clock(self.clock())
            .with_credentials(Sandbox::user_credentials())
    }

    /// The sandbox user's credentials ([`EMAIL`], [`PASSWORD`]).
    pub fn user_credentials() -> Credentials {
        Credentials::user(EMAIL, PASSWORD)
    }

    /// The sandbox's API key ([`API_KEY`]) as credentials, scoped to [`API_KEY_COMPANY`].
    pub fn api_key_credentials() -> Credentials {
        Credentials::api_key(API_KEY)
    }

    /// A 429 for the monthly plan limit, to `inject`: not retryable.
    pub fn monthly_limit() -> Fault {
        Fault::rate_limited(
            None,
            "API call limit exceeded: your plan's monthly API limit has been reached",
        )
    }

    /// A 429 for a temporary volume restriction, to `inject`: retryable, with
    /// `Retry-After` seconds when given.
    pub fn volume_limit(retry_after: Option<u64>) -> Fault {
        Fault::rate_limited(
            retry_after,
            "Too many requests: volume restriction in effect, try again later",
        )
    }

    /// Requests to `events` whose token has been judged (401s included). `hits` counts a
    /// request on arrival, before its handler runs: a test that moves the clock once this
    /// count is reached knows the page's token was judged by the clock as it was before.
    // KIT-NEED: a count the kit keeps after the handler ran (or a hook), so a vendor
    // sandbox need not keep its own.
    pub fn events_served(&self) -> u64 {
        self.state().events_served.load(Ordering::SeqCst)
    }
}

impl VendorSandbox for Sandbox {
    type Client = Client;
    const NAME: &'static str = "ipaas-com";

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

    fn call(client: &Client) -> BoxFuture<'static, Result<(), Error>> {
        let client = client.clone();
        Box::pin(async move {
            client
                .get_json::<Value>(Api::Subscriptions, "Subscriptions")
                .await
                .map(drop)
        })
    }

    fn controls(&self) -> &Controls {
        &self.kit
    }

    fn secrets(&self) -> Vec<String> {
        vec![PASSWORD.to_owned()]
    }
}

/// Who a refresh token was issued to.
#[derive(Debug, Clone)]
struct Grant {
    user_id: i64,
    company_id: String,
}

/// The fake's own state beside the kit's token store: what it serves, and the grant each
/// refresh token carries (the store knows only whether it is still valid). Its route table
/// is the [`Spec`]; nothing else of it is public.
pub struct State {
    events: u64,
    rotate: bool,
    tool_refresh_form: bool,
    grants: Mutex<HashMap<String, Grant>>,
    events_served: AtomicU64,
}

// The grants are keyed by refresh token: Debug shows how many, never which.
impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("events", &self.events)
            .field("rotate", &self.rotate)
            .field("grants", &self.grants().len())
            .field("events_served", &self.events_served)
            .finish()
    }
}

enum Caller {
    User(Grant),
    ApiKey,
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

/// The path's segments, without empty ones.
fn segments(req: &HttpMockRequest) -> Vec<String> {
    req.uri()
        .path()
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn json_body(req: &HttpMockRequest) -> Result<serde_json::Map<String, Value>, HttpMockResponse> {
    let ct = header(req, "content-type").unwrap_or_default();
    if !ct.starts_with("application/json") {
        return Err(text(415, "Content-Type must be application/json"));
    }
    match serde_json::from_slice::<Value>(req.body_ref()) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(text(400, "The request body is not a valid JSON object")),
    }
}

impl Spec for State {
    fn routes() -> Vec<Route<Self>> {
        vec![
            Route::token("POST", LOGIN_PATH, routes::LOGIN, State::login),
            Route::token("POST", REFRESH_PATH, routes::REFRESH, State::refresh),
            Route::authorized("GET", COMPANIES_PATH, routes::COMPANIES, State::companies),
            Route::authorized(
                "GET",
                CHANGE_COMPANY_PATH,
                routes::CHANGE_COMPANY,
                State::change_company,
            ),
            Route::authorized("GET", EVENTS_PATH, routes::EVENTS, State::events),
            // The echo takes any method on any `/{api}/{version}/...`: these keep the routes
            // above to their one method, and the rest of the SSO API unknown.
            // KIT-NEED: a way to keep a wildcard route off paths an earlier route owns (the
            // kit's own 405 then applies), instead of these rows.
            Route::open("*", LOGIN_PATH, "method_not_allowed", State::refuse_method),
            Route::open(
                "*",
                REFRESH_PATH,
                "method_not_allowed",
                State::refuse_method,
            ),
            Route::open(
                "*",
                COMPANIES_PATH,
                "method_not_allowed",
                State::refuse_method,
            ),
            Route::open(
                "*",
                CHANGE_COMPANY_PATH,
                "method_not_allowed",
                State::refuse_method,
            ),
            Route::open("*", EVENTS_PATH, "method_not_allowed", State::refuse_method),
            Route::open("*", "/sso/*", "not_found", State::unknown),
            Route::authorized("*", "/{}/{}/*", routes::ECHO, State::echo),
        ]
    }

    /// Plain text, like every iPaaS.com error.
    fn fault(&self, fault: &Fault) -> HttpMockResponse {
        let mut b = HttpMockResponse::builder()
            .status(fault.status)
            .header("Content-Type", "text/plain");
        if let Some(s) = fault.retry_after {
            b = b.header("Retry-After", s.to_string());
        }
        b.body(fault.message.clone()).build()
    }

    fn not_found(&self, _req: &HttpMockRequest) -> HttpMockResponse {
        text(404, "Not Found")
    }

    fn method_not_allowed(&self, _req: &HttpMockRequest) -> HttpMockResponse {
        text(405, "Method Not Allowed")
    }
}

impl State {
    fn grants(&self) -> std::sync::MutexGuard<'_, HashMap<String, Grant>> {
        self.grants
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The auth answer for `grant`: a JWT access token expiring on a whole second (the
    /// advertised expiry and the enforced one agree exactly) and, when asked, a refresh
    /// token.
    fn issue(&self, ctx: &Ctx, grant: &Grant, with_refresh: bool) -> Value {
        let now = ctx.clock().now();
        let lifetime = ctx.token_lifetime();
        let expires_at = UNIX_EPOCH
            + Duration::from_secs(unix_seconds(now.checked_add(lifetime).unwrap_or(now)));
        let serial = ctx.store().next_serial();
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
        let subject = grant.user_id.to_string();
        ctx.store().insert(&access, &subject, Some(lifetime), data);
        ctx.store().set_expiry(&access, Some(expires_at));
        ctx.recorder().redact(access.clone());
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
            ctx.insert_refresh(&refresh, &subject);
            self.grants().insert(refresh.clone(), grant.clone());
            answer["refresh_token"] = Value::String(refresh);
        }
        answer
    }

    fn login(&self, ctx: &Ctx, req: &HttpMockRequest) -> HttpMockResponse {
        let body = match json_body(req) {
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
        json(200, &self.issue(ctx, &grant, true))
    }

    fn refresh(&self, ctx: &Ctx, req: &HttpMockRequest) -> HttpMockResponse {
        if header(req, "authorization").is_some() {
            return text(
                400,
                "Do not send the access token to Auth/Refresh: pass only the refresh_token.",
            );
        }
        let body = match json_body(req) {
            Ok(b) => b,
            Err(r) => return r,
        };
        // The page's form is `{refresh_token}`; iPaaS.com's own C# tool also sends the
        // access token it renews, which must then be one this server issued.
        let tool_form = self.tool_refresh_form
            && body.len() == 2
            && matches!(body.get("access_token"), Some(Value::String(t))
                if !matches!(ctx.store().check(t), TokenCheck::Unknown));
        if body.len() != 1 && !tool_form {
            return text(400, "Pass only the refresh_token to this endpoint.");
        }
        let Some(Value::String(token)) = body.get("refresh_token") else {
            return text(400, "The refresh_token field is required.");
        };
        let grant = match ctx.store().check(token) {
            TokenCheck::Valid(_) => self.grants().get(token).cloned(),
            _ => None,
        };
        let Some(grant) = grant else {
            return text(401, "Invalid or expired refresh token.");
        };
        if self.rotate {
            ctx.store().revoke(token);
            self.grants().remove(token);
        }
        let mut answer = self.issue(ctx, &grant, self.rotate);
        if let Value::Object(m) = &mut answer {
            // Refresh answers carry the tokens; user data may be absent.
            m.retain(|k, _| k.contains("token") || k == "id");
        }
        json(200, &answer)
    }

    /// The caller of an authorized route; `Err` is the 401 to send instead.
    fn caller(&self, ctx: &Ctx, req: &HttpMockRequest) -> Result<Caller, HttpMockResponse> {
        let Some(raw) = header(req, "authorization") else {
            return Err(text(401, "Unauthorized: no Authorization header"));
        };
        let token = raw.strip_prefix("Bearer ").unwrap_or(&raw).trim();
        if token == API_KEY {
            return Ok(Caller::ApiKey);
        }
        match ctx.store().check(token) {
            // Only access tokens carry a company (a refresh token is no bearer token).
            TokenCheck::Valid(t) => match (t.data.get("user_id"), t.data.get("company_id")) {
                (Some(user), Some(company)) => Ok(Caller::User(Grant {
                    user_id: user.parse().unwrap_or(USER_ID),
                    company_id: company.clone(),
                })),
                _ => Err(text(401, "Unauthorized")),
            },
            TokenCheck::Expired => Err(text(401, "Unauthorized: token expired")),
            _ => Err(text(401, "Unauthorized")),
        }
    }

    fn companies(&self, ctx: &Ctx, req: &HttpMockRequest) -> HttpMockResponse {
        let caller = match self.caller(ctx, req) {
            Ok(c) => c,
            Err(r) => return r,
        };
        let id = segments(req).get(3).cloned().unwrap_or_default();
        match caller {
            Caller::User(g) if g.user_id.to_string() == id => {}
            _ => return text(404, "User not found."),
        }
        json(
            200,
            &json!([
                {"id": DEFAULT_COMPANY, "name": "Acme Retail", "logo": null,
                 "designation_id": 1, "user_type_id": 2, "designations": {"1": "Owner"}},
                {"id": OTHER_COMPANY, "name": "Globex Wholesale", "logo": "https://example.com/g.png",
                 "designation_id": 3, "user_type_id": 2, "designations": {}},
            ]),
        )
    }

    fn change_company(&self, ctx: &Ctx, req: &HttpMockRequest) -> HttpMockResponse {
        let caller = match self.caller(ctx, req) {
            Ok(c) => c,
            Err(r) => return r,
        };
        let Caller::User(grant) = caller else {
            return text(400, "API keys cannot change company.");
        };
        let company = segments(req).pop().unwrap_or_default();
        if company != DEFAULT_COMPANY && company != OTHER_COMPANY {
            return text(404, "Company not found.");
        }
        let grant = Grant {
            user_id: grant.user_id,
            company_id: company,
        };
        json(200, &self.issue(ctx, &grant, true))
    }

    fn events(&self, ctx: &Ctx, req: &HttpMockRequest) -> HttpMockResponse {
        let caller = self.caller(ctx, req);
        self.events_served.fetch_add(1, Ordering::SeqCst);
        if let Err(r) = caller {
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

    fn echo(&self, ctx: &Ctx, req: &HttpMockRequest) -> HttpMockResponse {
        // `/{base_path}/v{n}/{endpoint...}`, the base path not `sso`.
        let segs = segments(req);
        if segs.len() < 3 || segs[0] == "sso" || !segs[1].starts_with('v') {
            return self.not_found(req);
        }
        let (company_id, user_id) = match self.caller(ctx, req) {
            Ok(Caller::User(g)) => (g.company_id, Some(g.user_id)),
            Ok(Caller::ApiKey) => (API_KEY_COMPANY.to_owned(), None),
            Err(r) => return r,
        };
        let body: Value = serde_json::from_slice(req.body_ref()).unwrap_or(Value::Null);
        json(
            200,
            &json!({
                "method": req.method().as_str(),
                "path": req.uri().path(),
                "query": req.uri().query(),
                "body": body,
                "company_id": company_id,
                "user_id": user_id,
            }),
        )
    }

    fn refuse_method(&self, _ctx: &Ctx, req: &HttpMockRequest) -> HttpMockResponse {
        self.method_not_allowed(req)
    }

    fn unknown(&self, _ctx: &Ctx, req: &HttpMockRequest) -> HttpMockResponse {
        self.not_found(req)
    }
}
