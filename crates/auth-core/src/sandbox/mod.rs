//! Building blocks for the vendor sandboxes (feature `sandbox`): a clock-driven token store,
//! a fault queue (401, 429, 5xx), JWT-format minting and httpmock response helpers.
//!
//! Each vendor crate's in-process fake is made of these, so the rules they share (when a
//! token is expired, how a fault is injected) are written once. [`Kit`] is the fake
//! itself: the server, the token store, faults, hits, the recorder and the clock, with
//! dispatch over the vendor's route table ([`Spec`]); a vendor writes only its routes'
//! handlers and its error shape. [`VendorSandbox`] lets one test take any vendor.
//!
//! A vendor with a login and one authorized route, its faults and counters:
//!
//! ```
//! use auth_core::sandbox::{self, Ctx, Fault, HttpMockRequest, HttpMockResponse, Kit, Route, Settings, Spec, TokenCheck};
//! struct Tiny;
//! impl Tiny {
//!     fn login(&self, ctx: &Ctx, _req: &HttpMockRequest) -> HttpMockResponse {
//!         sandbox::json(200, &serde_json::json!({"token": ctx.issue_access("at", "me")}))
//!     }
//!     fn me(&self, ctx: &Ctx, req: &HttpMockRequest) -> HttpMockResponse {
//!         match sandbox::bearer(req).map(|t| ctx.store().check(&t)) {
//!             Some(TokenCheck::Valid(t)) => sandbox::json(200, &serde_json::json!({"user": t.subject})),
//!             _ => sandbox::text(401, "token expired"),
//!         }
//!     }
//! }
//! impl Spec for Tiny {
//!     fn routes() -> Vec<Route<Self>> {
//!         vec![Route::token("POST", "/login", "login", Tiny::login), Route::authorized("GET", "/me", "me", Tiny::me)]
//!     }
//! }
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let kit = Kit::start(Tiny, Settings::new(std::time::Duration::from_secs(60)), &[]).await;
//! let http = auth_core::http::default_client().unwrap();
//! let login: serde_json::Value = http.post(format!("{}/login", kit.base_url())).send().await.unwrap().json().await.unwrap();
//! let token = login["token"].as_str().unwrap().to_owned();
//! let me = || http.get(format!("{}/me", kit.base_url())).bearer_auth(&token).send();
//! assert_eq!(me().await.unwrap().status(), 200);
//! kit.inject(Fault::server_error(503));
//! assert_eq!(me().await.unwrap().status(), 503);
//! kit.expire_tokens(sandbox::Tokens::All);
//! assert_eq!(me().await.unwrap().status(), 401);
//! assert_eq!(http.delete(format!("{}/me", kit.base_url())).send().await.unwrap().status(), 405);
//! assert_eq!((kit.token_requests(), kit.hits("me")), (1, 3));
//! # }
//! ```

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
// The request and answer types a route handler sees; the server itself stays the kit's.
pub use httpmock::{HttpMockRequest, HttpMockResponse};

use crate::clock::SharedClock;

mod kit;
pub use kit::{Controls, Ctx, Kit, Route, RouteKind, Settings, Spec, Tokens, VendorSandbox};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A failure the sandbox serves instead of the next matching answer.
///
/// ```
/// let f = auth_core::sandbox::Fault::rate_limited(Some(30), "volume limit exceeded");
/// assert_eq!(f.status, 429);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Fault {
    /// HTTP status to answer with.
    pub status: u16,
    /// `Retry-After` seconds to send, if any.
    pub retry_after: Option<u64>,
    /// The vendor's message; the vendor sandbox wraps it in its own error shape.
    pub message: String,
}

impl Fault {
    /// A 401.
    ///
    /// ```
    /// assert_eq!(auth_core::sandbox::Fault::unauthorized().status, 401);
    /// ```
    pub fn unauthorized() -> Self {
        Fault {
            status: 401,
            retry_after: None,
            message: "Unauthorized".into(),
        }
    }

    /// A 429 with an optional Retry-After and the vendor's reason.
    ///
    /// ```
    /// assert_eq!(auth_core::sandbox::Fault::rate_limited(None, "slow").retry_after, None);
    /// ```
    pub fn rate_limited(retry_after: Option<u64>, message: impl Into<String>) -> Self {
        Fault {
            status: 429,
            retry_after,
            message: message.into(),
        }
    }

    /// A 5xx.
    ///
    /// ```
    /// assert_eq!(auth_core::sandbox::Fault::server_error(503).status, 503);
    /// ```
    pub fn server_error(status: u16) -> Self {
        Fault {
            status,
            retry_after: None,
            message: "Internal Server Error".into(),
        }
    }

    /// Any status with a message.
    ///
    /// ```
    /// assert_eq!(auth_core::sandbox::Fault::status(418, "teapot").message, "teapot");
    /// ```
    pub fn status(status: u16, message: impl Into<String>) -> Self {
        Fault {
            status,
            retry_after: None,
            message: message.into(),
        }
    }

    /// Render with `body` (the vendor's error shape around [`Fault::message`]).
    ///
    /// ```
    /// let r = auth_core::sandbox::Fault::server_error(500).respond("oops");
    /// assert_eq!(r.status, Some(500));
    /// ```
    pub fn respond(&self, body: impl Into<String>) -> HttpMockResponse {
        let mut b = HttpMockResponse::builder().status(self.status);
        if let Some(s) = self.retry_after {
            b = b.header("Retry-After", s.to_string());
        }
        b.body(body.into()).build()
    }
}

/// A fault and the path prefix it is limited to (`None`: any path).
type ScopedFault = (Option<String>, Fault);

/// A queue of faults: each authorized request the sandbox serves takes the first one that
/// applies to its path. Cheap to clone; clones share the queue.
///
/// ```
/// use auth_core::sandbox::{Fault, Faults};
/// let f = Faults::default();
/// f.push(Fault::unauthorized());
/// assert_eq!(f.take("/any").map(|x| x.status), Some(401));
/// assert!(f.take("/any").is_none());
/// ```
#[derive(Debug, Clone, Default)]
pub struct Faults {
    queue: Arc<Mutex<VecDeque<ScopedFault>>>,
}

impl Faults {
    /// Serve `fault` on the next authorized request, whatever its path.
    pub fn push(&self, fault: Fault) {
        lock(&self.queue).push_back((None, fault));
    }

    /// Serve `fault` on the next request whose path starts with `path_prefix`.
    ///
    /// ```
    /// let f = auth_core::sandbox::Faults::default();
    /// f.push_on("/items", auth_core::sandbox::Fault::server_error(500));
    /// assert!(f.take("/other").is_none());
    /// assert!(f.take("/items/1").is_some());
    /// ```
    pub fn push_on(&self, path_prefix: impl Into<String>, fault: Fault) {
        lock(&self.queue).push_back((Some(path_prefix.into()), fault));
    }

    /// Take the first queued fault that applies to `path`.
    ///
    /// ```
    /// assert!(auth_core::sandbox::Faults::default().take("/").is_none());
    /// ```
    pub fn take(&self, path: &str) -> Option<Fault> {
        let mut q = lock(&self.queue);
        let idx = q
            .iter()
            .position(|(p, _)| p.as_deref().is_none_or(|p| path.starts_with(p)))?;
        q.remove(idx).map(|(_, f)| f)
    }

    /// Drop every queued fault.
    pub fn clear(&self) {
        lock(&self.queue).clear();
    }
}

/// What the sandbox knows of a token it issued.
///
/// ```
/// use auth_core::{ManualClock, sandbox::{TokenCheck, TokenStore}};
/// let store = TokenStore::new(ManualClock::new());
/// let t = store.issue("at", "user-1", None);
/// let TokenCheck::Valid(issued) = store.check(&t) else { panic!("just issued") };
/// assert_eq!(issued.subject, "user-1");
/// assert_eq!(issued.expires_at, None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IssuedToken {
    /// When it stops being accepted (`None`: never).
    pub expires_at: Option<SystemTime>,
    /// Which identity it belongs to (user, client, workspace).
    pub subject: String,
    /// Free-form data the vendor sandbox keeps with it.
    pub data: HashMap<String, String>,
}

/// The answer of [`TokenStore::check`].
///
/// ```
/// use auth_core::{ManualClock, sandbox::{TokenCheck, TokenStore}};
/// let store = TokenStore::new(ManualClock::new());
/// let t = store.issue("at", "user-1", None);
/// store.revoke(&t);
/// assert_eq!(store.check(&t), TokenCheck::Expired);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenCheck {
    /// Issued and not expired.
    Valid(IssuedToken),
    /// Issued, but its time is up (or it was revoked).
    Expired,
    /// Never issued by this sandbox.
    Unknown,
}

/// Tokens the sandbox issued, judged against the injected clock. Cheap to clone.
///
/// ```
/// use std::time::Duration;
/// use auth_core::{ManualClock, sandbox::{TokenCheck, TokenStore}};
/// let clock = ManualClock::new();
/// let store = TokenStore::new(clock.clone());
/// let t = store.issue("at", "user-1", Some(Duration::from_secs(60)));
/// assert!(matches!(store.check(&t), TokenCheck::Valid(_)));
/// clock.advance(Duration::from_secs(60));
/// assert_eq!(store.check(&t), TokenCheck::Expired);
/// assert_eq!(store.check("nope"), TokenCheck::Unknown);
/// ```
#[derive(Clone)]
pub struct TokenStore {
    clock: SharedClock,
    tokens: Arc<Mutex<HashMap<String, (IssuedToken, bool)>>>,
    serial: Arc<Mutex<u64>>,
}

// The issued token values are the keys: Debug shows how many, never which.
impl std::fmt::Debug for TokenStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenStore")
            .field("tokens", &lock(&self.tokens).len())
            .finish_non_exhaustive()
    }
}

impl TokenStore {
    /// An empty store on `clock`.
    pub fn new(clock: impl Into<SharedClock>) -> Self {
        TokenStore {
            clock: clock.into(),
            tokens: Arc::default(),
            serial: Arc::default(),
        }
    }

    /// The store's clock.
    pub fn now(&self) -> SystemTime {
        self.clock.now()
    }

    /// A fresh serial number (1, 2, 3, ...), for readable token values.
    ///
    /// ```
    /// let s = auth_core::sandbox::TokenStore::new(auth_core::ManualClock::new());
    /// assert_eq!(s.next_serial(), 1);
    /// ```
    pub fn next_serial(&self) -> u64 {
        let mut s = lock(&self.serial);
        *s += 1;
        *s
    }

    /// Issue an opaque token `"{prefix}-{serial}"` for `subject`, valid for `lifetime`.
    ///
    /// ```
    /// let s = auth_core::sandbox::TokenStore::new(auth_core::ManualClock::new());
    /// assert_eq!(s.issue("rt", "u", None), "rt-1");
    /// ```
    pub fn issue(&self, prefix: &str, subject: &str, lifetime: Option<Duration>) -> String {
        let value = format!("{prefix}-{}", self.next_serial());
        self.insert(&value, subject, lifetime, HashMap::new());
        value
    }

    /// Record a token value made elsewhere (a JWT, a UUID).
    ///
    /// ```
    /// let s = auth_core::sandbox::TokenStore::new(auth_core::ManualClock::new());
    /// s.insert("abc", "u", None, Default::default());
    /// assert!(matches!(s.check("abc"), auth_core::sandbox::TokenCheck::Valid(_)));
    /// ```
    pub fn insert(
        &self,
        value: &str,
        subject: &str,
        lifetime: Option<Duration>,
        data: HashMap<String, String>,
    ) {
        let expires_at = lifetime.and_then(|l| self.now().checked_add(l));
        lock(&self.tokens).insert(
            value.to_owned(),
            (
                IssuedToken {
                    expires_at,
                    subject: subject.to_owned(),
                    data,
                },
                false,
            ),
        );
    }

    /// Whether `value` is a valid, expired or unknown token.
    ///
    /// ```
    /// let s = auth_core::sandbox::TokenStore::new(auth_core::ManualClock::new());
    /// assert_eq!(s.check("x"), auth_core::sandbox::TokenCheck::Unknown);
    /// ```
    pub fn check(&self, value: &str) -> TokenCheck {
        let now = self.now();
        match lock(&self.tokens).get(value) {
            None => TokenCheck::Unknown,
            Some((_, true)) => TokenCheck::Expired,
            Some((t, false)) if t.expires_at.is_some_and(|at| now >= at) => TokenCheck::Expired,
            Some((t, false)) => TokenCheck::Valid(t.clone()),
        }
    }

    /// Revoke `value` (logout, a used refresh token); it then checks as expired.
    ///
    /// ```
    /// let s = auth_core::sandbox::TokenStore::new(auth_core::ManualClock::new());
    /// let t = s.issue("at", "u", None);
    /// s.revoke(&t);
    /// assert_eq!(s.check(&t), auth_core::sandbox::TokenCheck::Expired);
    /// ```
    pub fn revoke(&self, value: &str) {
        if let Some(entry) = lock(&self.tokens).get_mut(value) {
            entry.1 = true;
        }
    }

    /// Move a token's expiry (the server extending or cutting a session).
    ///
    /// ```
    /// let s = auth_core::sandbox::TokenStore::new(auth_core::ManualClock::new());
    /// let t = s.issue("at", "u", None);
    /// s.set_expiry(&t, Some(s.now()));
    /// assert_eq!(s.check(&t), auth_core::sandbox::TokenCheck::Expired);
    /// ```
    pub fn set_expiry(&self, value: &str, expires_at: Option<SystemTime>) {
        if let Some(entry) = lock(&self.tokens).get_mut(value) {
            entry.0.expires_at = expires_at;
        }
    }

    /// Expire every token now.
    pub fn expire_all(&self) {
        for entry in lock(&self.tokens).values_mut() {
            entry.1 = true;
        }
    }

    /// Expire every token for which `f` says so.
    ///
    /// ```
    /// use auth_core::sandbox::{TokenCheck, TokenStore};
    /// let s = TokenStore::new(auth_core::ManualClock::new());
    /// let (a, b) = (s.issue("at", "alice", None), s.issue("at", "bob", None));
    /// s.expire_matching(|t| t.subject == "alice");
    /// assert_eq!(s.check(&a), TokenCheck::Expired);
    /// assert!(matches!(s.check(&b), TokenCheck::Valid(_)));
    /// ```
    pub fn expire_matching(&self, f: impl Fn(&IssuedToken) -> bool) {
        for entry in lock(&self.tokens).values_mut() {
            if f(&entry.0) {
                entry.1 = true;
            }
        }
    }
}

/// A JWT-format token (`header.payload.signature`, base64url) with `claims` as payload and an
/// HS256 header. The signature is a keyed digest of the first two segments made with a
/// non-cryptographic hash: clients never verify it, the sandbox only needs the format.
///
/// ```
/// let jwt = auth_core::sandbox::mint_jwt(&serde_json::json!({"exp": 1_800_000_600u64}));
/// assert_eq!(jwt.split('.').count(), 3);
/// assert!(auth_core::jwt::jwt_expiry(&jwt).is_ok());
/// ```
pub fn mint_jwt(claims: &serde_json::Value) -> String {
    use std::hash::{Hash, Hasher};
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signing_input = format!("{header}.{payload}");
    let mut sig = Vec::with_capacity(32);
    for salt in 0u64..4 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (salt, "sandbox-signing-key", &signing_input).hash(&mut h);
        sig.extend_from_slice(&h.finish().to_be_bytes());
    }
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

/// Seconds since the Unix epoch of `t` (0 before it), for `exp` claims and JSON answers.
///
/// ```
/// assert_eq!(auth_core::sandbox::unix_seconds(std::time::UNIX_EPOCH), 0);
/// ```
pub fn unix_seconds(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `t` as an RFC 3339 timestamp in UTC (`2027-01-01T00:00:00Z`), as vendors write
/// absolute expiries; sub-second precision is dropped.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// assert_eq!(auth_core::sandbox::rfc3339(UNIX_EPOCH + Duration::from_secs(86_400)), "1970-01-02T00:00:00Z");
/// ```
pub fn rfc3339(t: SystemTime) -> String {
    let secs = unix_seconds(t);
    let dt = time::OffsetDateTime::from_unix_timestamp(i64::try_from(secs).unwrap_or(i64::MAX))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    dt.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// `t` as an HTTP date (`Date` header form). A test's own mock answering for a client on a
/// manual clock sets `Date` with it: the HTTP server would otherwise add the machine's.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// assert_eq!(auth_core::sandbox::http_date(UNIX_EPOCH + Duration::from_secs(86_400)), "Fri, 02 Jan 1970 00:00:00 GMT");
/// ```
pub fn http_date(t: SystemTime) -> String {
    httpdate::fmt_http_date(t)
}

/// A JSON answer.
///
/// ```
/// let r = auth_core::sandbox::json(200, &serde_json::json!({"ok": true}));
/// assert_eq!(r.status, Some(200));
/// ```
pub fn json(status: u16, body: &serde_json::Value) -> HttpMockResponse {
    HttpMockResponse::builder()
        .status(status)
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .build()
}

/// A plain-text answer.
///
/// ```
/// let r = auth_core::sandbox::text(400, "bad");
/// assert_eq!(r.status, Some(400));
/// ```
pub fn text(status: u16, body: &str) -> HttpMockResponse {
    HttpMockResponse::builder()
        .status(status)
        .header("Content-Type", "text/plain")
        .body(body.to_owned())
        .build()
}

/// An answer with a status and no body (204, 200 with no content).
///
/// ```
/// assert_eq!(auth_core::sandbox::empty(204).status, Some(204));
/// ```
pub fn empty(status: u16) -> HttpMockResponse {
    HttpMockResponse::builder().status(status).build()
}

/// The value of header `name` of a request, if present and text.
pub fn header(req: &HttpMockRequest, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The token of an `Authorization: Bearer <token>` header.
pub fn bearer(req: &HttpMockRequest) -> Option<String> {
    header(req, "authorization")?
        .strip_prefix("Bearer ")
        .map(str::to_owned)
}

/// Counts requests per route name, for the sandbox's own statistics. Cheap to clone.
///
/// ```
/// let h = auth_core::sandbox::Hits::default();
/// h.record("login");
/// assert_eq!(h.get("login"), 1);
/// assert_eq!(h.get("refresh"), 0);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Hits(Arc<Mutex<HashMap<String, u64>>>);

impl Hits {
    /// Count one request to `route`.
    pub fn record(&self, route: &str) {
        *lock(&self.0).entry(route.to_owned()).or_default() += 1;
    }

    /// Requests counted for `route`.
    ///
    /// ```
    /// assert_eq!(auth_core::sandbox::Hits::default().get("x"), 0);
    /// ```
    pub fn get(&self, route: &str) -> u64 {
        lock(&self.0).get(route).copied().unwrap_or(0)
    }

    /// Every route and its count, sorted by route.
    ///
    /// ```
    /// assert!(auth_core::sandbox::Hits::default().all().is_empty());
    /// ```
    pub fn all(&self) -> Vec<(String, u64)> {
        let mut v: Vec<_> = lock(&self.0).iter().map(|(k, v)| (k.clone(), *v)).collect();
        v.sort();
        v
    }
}

/// Records the requests a sandbox serves, in a stable text form for insta snapshots: method,
/// path and query, the headers that matter (sorted, secrets redacted) and the body
/// (pretty-printed when JSON, decoded when a form). Cheap to clone.
///
/// ```
/// let rec = auth_core::sandbox::Recorder::default();
/// assert!(rec.all().is_empty());
/// ```
#[derive(Clone)]
pub struct Recorder {
    seen: Arc<Mutex<Vec<RecordedRequest>>>,
    /// Secret value and the label it renders as.
    secrets: Arc<Mutex<Vec<(String, String)>>>,
    /// Headers whose value is always redacted (after its scheme word), secret or not.
    sensitive: Arc<Mutex<Vec<String>>>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            seen: Arc::default(),
            secrets: Arc::default(),
            sensitive: Arc::new(Mutex::new(
                ["authorization", "proxy-authorization", "cookie"]
                    .map(String::from)
                    .to_vec(),
            )),
        }
    }
}

/// One request as a sandbox saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordedRequest {
    /// HTTP method.
    pub method: String,
    /// Path and query.
    pub path_and_query: String,
    /// Headers (lowercase names), without transport noise such as host or content-length.
    pub headers: Vec<(String, String)>,
    /// The body as text.
    pub body: String,
}

impl RecordedRequest {
    /// A recorded request (for rendering tests; the sandbox records real ones).
    ///
    /// ```
    /// let r = auth_core::sandbox::RecordedRequest::new("GET", "/x", vec![], "");
    /// assert_eq!(r.method, "GET");
    /// ```
    pub fn new(
        method: impl Into<String>,
        path_and_query: impl Into<String>,
        headers: Vec<(String, String)>,
        body: impl Into<String>,
    ) -> Self {
        RecordedRequest {
            method: method.into(),
            path_and_query: path_and_query.into(),
            headers,
            body: body.into(),
        }
    }
}

/// `Bearer abc` -> `Bearer [REDACTED]`, `abc` -> `[REDACTED]`; an already labelled value
/// (`[REDACTED ...]`) is kept.
fn redact_credential(value: &str) -> String {
    let (scheme, rest) = match value.split_once(' ') {
        Some((scheme, rest))
            if !scheme.starts_with('[') && scheme.chars().all(|c| c.is_ascii_alphabetic()) =>
        {
            (format!("{scheme} "), rest)
        }
        _ => (String::new(), value),
    };
    if rest.starts_with("[REDACTED") {
        format!("{scheme}{rest}")
    } else {
        format!("{scheme}[REDACTED]")
    }
}

const NOISE: &[&str] = &[
    "host",
    "content-length",
    "accept-encoding",
    "user-agent",
    "connection",
];

// Recorded requests hold raw credentials and bodies, and `secrets` is the list of what to
// hide: Debug shows counts only.
impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("recorded", &lock(&self.seen).len())
            .field("redacted_secrets", &lock(&self.secrets).len())
            .field("sensitive_headers", &*lock(&self.sensitive))
            .finish()
    }
}

impl Recorder {
    /// Record `req`.
    pub fn record(&self, req: &HttpMockRequest) {
        let r = self.snapshot(req);
        lock(&self.seen).push(r);
    }

    /// Every value this recorder redacts: the credentials the sandbox accepts and every
    /// token it issued. For a test that checks they appear nowhere they must not (a log,
    /// what a token store holds at rest).
    pub fn secrets(&self) -> Vec<String> {
        lock(&self.secrets).iter().map(|(s, _)| s.clone()).collect()
    }

    /// `req` as it would be recorded, without recording it.
    pub(crate) fn snapshot(&self, req: &HttpMockRequest) -> RecordedRequest {
        let uri = req.uri();
        let mut headers: Vec<(String, String)> = req
            .headers()
            .iter()
            .filter(|(k, _)| !NOISE.contains(&k.as_str()))
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        headers.sort();
        RecordedRequest {
            method: req.method().to_string(),
            path_and_query: uri
                .path_and_query()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_else(|| uri.path().to_owned()),
            headers,
            body: req.body_string(),
        }
    }

    /// Redact `secret` wherever it appears in [`Recorder::render`] output.
    pub fn redact(&self, secret: impl Into<String>) {
        self.redact_as(secret, "[REDACTED]");
    }

    /// Render `secret` as `label` (which should start with `[REDACTED`), for example to show
    /// that a token went on the wire base64-wrapped.
    pub fn redact_as(&self, secret: impl Into<String>, label: impl Into<String>) {
        let s = secret.into();
        if !s.is_empty() {
            lock(&self.secrets).push((s, label.into()));
        }
    }

    /// Always redact the value of header `name` (after a scheme word such as `Bearer`), even
    /// when it holds a secret nobody registered: a refused or forged credential must not
    /// reach a snapshot either. `authorization`, `proxy-authorization` and `cookie` are
    /// redacted by default.
    pub fn redact_header(&self, name: &str) {
        lock(&self.sensitive).push(name.to_ascii_lowercase());
    }

    /// Every request recorded so far.
    ///
    /// ```
    /// assert!(auth_core::sandbox::Recorder::default().all().is_empty());
    /// ```
    pub fn all(&self) -> Vec<RecordedRequest> {
        lock(&self.seen).clone()
    }

    /// Forget what was recorded.
    pub fn clear(&self) {
        lock(&self.seen).clear();
    }

    /// The last request whose path starts with `path_prefix`, rendered for a snapshot.
    ///
    /// ```
    /// assert!(auth_core::sandbox::Recorder::default().last("/login").is_none());
    /// ```
    pub fn last(&self, path_prefix: &str) -> Option<String> {
        let r = lock(&self.seen)
            .iter()
            .rev()
            .find(|r| r.path_and_query.starts_with(path_prefix))
            .cloned()?;
        Some(self.render(&r))
    }

    /// Render one request: `METHOD /path?query`, a `name: value` line per header, a blank
    /// line, the body. Redacted secrets read `[REDACTED]`.
    ///
    /// ```
    /// let rec = auth_core::sandbox::Recorder::default();
    /// rec.redact("s3cret");
    /// let r = auth_core::sandbox::RecordedRequest::new(
    ///     "POST",
    ///     "/login",
    ///     vec![("content-type".into(), "application/json".into())],
    ///     r#"{"password":"s3cret"}"#,
    /// );
    /// # let r = r;
    /// assert!(rec.render(&r).contains("[REDACTED]"));
    /// ```
    pub fn render(&self, r: &RecordedRequest) -> String {
        let mut secrets = lock(&self.secrets).clone();
        // Longest first, so a secret that contains another is replaced whole.
        secrets.sort_by_key(|(s, _)| std::cmp::Reverse(s.len()));
        let sensitive = lock(&self.sensitive).clone();
        let apply = |text: &str| {
            let mut t = text.to_owned();
            for (secret, label) in &secrets {
                t = t.replace(secret.as_str(), label);
            }
            t
        };
        let mut out = format!("{} {}\n", r.method, apply(&r.path_and_query));
        for (k, v) in &r.headers {
            let mut v = apply(v);
            if sensitive.iter().any(|s| s == k) {
                v = redact_credential(&v);
            }
            out.push_str(&format!("{k}: {v}\n"));
        }
        let content_type = r
            .headers
            .iter()
            .find(|(k, _)| k == "content-type")
            .map(|(_, v)| v.as_str())
            .unwrap_or("");
        if !r.body.is_empty() {
            out.push('\n');
            let body = if content_type.starts_with("application/json") {
                serde_json::from_str::<serde_json::Value>(&r.body)
                    .ok()
                    .and_then(|v| serde_json::to_string_pretty(&v).ok())
                    .unwrap_or_else(|| r.body.clone())
            } else if content_type.starts_with("application/x-www-form-urlencoded") {
                r.body.replace('&', "\n&")
            } else {
                r.body.clone()
            };
            out.push_str(&apply(&body));
            out.push('\n');
        }
        out
    }
}

/// Every way a hostile vendor echoes `secret` in an error body, by name: raw, JSON-escaped
/// in the `\"` style and in the `\u0022` style (every character escaped, as some .NET
/// serializers do; Go's `\u0026` for `&`, `<`, `>`), form- and percent-encoded, as HTML
/// character references, and placed so that it straddles an error-body bound of
/// [`DEFAULT_MAX_ERROR_BODY`](crate::http::DEFAULT_MAX_ERROR_BODY) bytes. Each text is a whole
/// body fragment: put it in the vendor's error shape (it is valid inside a JSON string).
///
/// Redaction tests use it with [`assert_secret_free`], with the same secret constant for
/// setup and assertion.
///
/// ```
/// let echoes = auth_core::sandbox::echoes("p&ss<1>");
/// assert!(echoes.iter().any(|(name, text)| *name == "go" && text == r"p\u0026ss\u003c1\u003e"));
/// ```
pub fn echoes(secret: &str) -> Vec<(&'static str, String)> {
    let quoted = serde_json::to_string(secret).unwrap_or_default();
    let json = quoted
        .strip_prefix('"')
        .and_then(|q| q.strip_suffix('"'))
        .unwrap_or_default()
        .to_owned();
    let unicode: String = secret
        .encode_utf16()
        .map(|u| format!("\\u{u:04x}"))
        .collect();
    let go = json
        .replace('&', "\\u0026")
        .replace('<', "\\u003c")
        .replace('>', "\\u003e");
    let form: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    let percent: String = secret.bytes().map(|b| format!("%{b:02X}")).collect();
    let html: String = secret
        .chars()
        .map(|c| format!("&#{};", u32::from(c)))
        .collect();
    // The bound falls inside the percent-encoded echo (3 bytes a byte: the case a window of
    // "bound + raw length" missed), and inside the \u-escaped one (6 bytes a byte).
    let bound = crate::http::DEFAULT_MAX_ERROR_BODY;
    let straddle = |echo: &str| {
        let before = bound.saturating_sub(echo.len() / 2);
        format!("{}{echo}", "x".repeat(before))
    };
    vec![
        ("raw", secret.to_owned()),
        ("json", json.clone()),
        ("json slashes", json.replace('/', "\\/")),
        ("json unicode", unicode.clone()),
        ("go", go),
        ("form", form),
        ("percent", percent.clone()),
        ("percent lower", percent.to_ascii_lowercase()),
        ("html", html),
        ("straddling percent", straddle(&percent)),
        ("straddling unicode", straddle(&unicode)),
    ]
}

/// Panic (naming `case`) if any echo of any of `secrets`, or the start of one cut off at
/// the end, appears in `err`'s Display, Debug, `{:#?}`, vendor message, or its detail of
/// type `T` serialized back to JSON. See [`echoes`].
///
/// ```
/// use auth_core::{Error, ErrorKind};
/// let pw = secrecy::SecretString::from("hunter2");
/// let err = Error::new(ErrorKind::Unauthorized, "bad credentials")
///     .with_vendor_message(r"password hunter2 refused")
///     .scrubbed(&[&pw]);
/// auth_core::sandbox::assert_secret_free::<serde_json::Value>(&err, &["hunter2"], "raw");
/// ```
pub fn assert_secret_free<T: serde::Serialize + 'static>(
    err: &crate::Error,
    secrets: &[&str],
    case: &str,
) {
    let detail = err
        .detail::<T>()
        .map(|d| serde_json::to_string(d).unwrap_or_default())
        .unwrap_or_default();
    let shown = [
        ("Display", err.to_string()),
        ("Debug", format!("{err:?}")),
        ("pretty Debug", format!("{err:#?}")),
        (
            "vendor_message",
            err.vendor_message().unwrap_or_default().to_owned(),
        ),
        ("detail", detail),
    ];
    let held: Vec<secrecy::SecretString> = secrets
        .iter()
        .map(|s| secrecy::SecretString::from(*s))
        .collect();
    let refs: Vec<&secrecy::SecretString> = held.iter().collect();
    for (place, text) in &shown {
        assert!(
            !crate::scrub::contains_secret(text, &refs),
            "{case}: a secret is echoed in the error's {place}: {text}"
        );
        // Cut off at the bound: no start (4 bytes or more) of any echo may end a text.
        for secret in secrets {
            for (name, echo) in echoes(secret) {
                if name.starts_with("straddling") {
                    continue;
                }
                let tail = text.trim_end_matches(['"', '}', ']', ')', ' ', '\n']);
                for cut in 4..echo.len() {
                    if echo.is_char_boundary(cut) {
                        assert!(
                            !tail.ends_with(&echo[..cut]),
                            "{case}: the start of a {name} echo of a secret ends the error's \
                             {place}: {}",
                            &echo[..cut]
                        );
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "never-registered-credential";

    #[test]
    fn recorder_and_token_store_debug_show_no_secret() {
        let rec = Recorder::default();
        rec.redact(SECRET);
        let store = TokenStore::new(crate::ManualClock::new());
        store.insert(SECRET, "user-1", None, HashMap::new());
        for shown in [format!("{rec:?}"), format!("{store:?}")] {
            assert!(!shown.contains(SECRET), "{shown}");
        }
    }

    #[test]
    fn credentials_nobody_registered_are_redacted_at_the_door() {
        let rec = Recorder::default();
        rec.redact_header("client-token");
        rec.redact_as("registered", "[REDACTED labelled]");
        let r = RecordedRequest::new(
            "POST",
            "/x",
            vec![
                ("authorization".into(), format!("Bearer {SECRET}")),
                ("client-token".into(), SECRET.into()),
                ("cookie".into(), format!("s={SECRET}")),
                ("proxy-authorization".into(), "Basic registered".into()),
                ("x-trace".into(), "visible".into()),
            ],
            "",
        );
        let shown = rec.render(&r);
        assert!(!shown.contains(SECRET), "{shown}");
        insta::assert_snapshot!(shown, @r"
        POST /x
        authorization: Bearer [REDACTED]
        client-token: [REDACTED]
        cookie: [REDACTED]
        proxy-authorization: Basic [REDACTED labelled]
        x-trace: visible
        ");
    }
}
