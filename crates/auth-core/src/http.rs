//! The HTTP transport every vendor shares: secure-transport check, optional client-side rate
//! limit, status handling, bounded and scrubbed error bodies, JSON decoding.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures::future::BoxFuture;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Method, Request, RequestBuilder, Response, StatusCode};
use secrecy::SecretString;
use serde::de::DeserializeOwned;

use crate::clock::SharedClock;

pub use crate::clock::server_date;
use crate::error::{Error, ErrorKind};
use crate::limit::{LimiterStats, SharedLimiter};

/// The bound on how much of an error body is read and kept.
pub const DEFAULT_MAX_ERROR_BODY: usize = 8 * 1024;
/// The bound on a success body decoded as JSON.
pub const DEFAULT_MAX_BODY: usize = 16 * 1024 * 1024;

/// Turns a vendor's error answer into the crate error.
///
/// `base` already has the kind the status implies, the status, any Retry-After, and the
/// body as vendor message; `body` has been scrubbed of every secret sent with the request,
/// and whatever the parser stores is scrubbed again as data afterwards.
///
/// A vendor that answers `{"code": "E42", "text": ...}` and means "try later" by `E42`:
///
/// ```
/// use auth_core::http::{ErrorParser, parse_error};
/// use auth_core::{Error, ErrorKind};
/// #[derive(Debug)]
/// struct Codes;
/// impl ErrorParser for Codes {
///     fn parse(&self, _status: u16, _h: &reqwest::header::HeaderMap, body: &str, base: Error) -> Error {
///         let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
///         let base = base.with_vendor_message(v["text"].as_str().unwrap_or_default());
///         if v["code"] == "E42" { base.with_kind(ErrorKind::Transient) } else { base }
///     }
/// }
/// let h = reqwest::header::HeaderMap::new();
/// let e = parse_error(&Codes, 400, &h, r#"{"code":"E42","text":"busy"}"#, std::time::SystemTime::now());
/// assert!(e.is_transient());
/// assert_eq!(e.to_string(), "vendor rejected the request (HTTP 400): busy");
/// ```
pub trait ErrorParser: Send + Sync + fmt::Debug {
    /// Refine `base` from the vendor's error body.
    fn parse(&self, status: u16, headers: &HeaderMap, body: &str, base: Error) -> Error;
}

/// The default parser: a JSON body's `message` / `error` / `detail` string, else the plain text.
///
/// ```
/// use auth_core::{Error, ErrorKind, http::{ErrorParser, PlainTextErrors}};
/// let h = reqwest::header::HeaderMap::new();
/// let e = PlainTextErrors.parse(400, &h, r#"{"message":"bad"}"#, Error::new(ErrorKind::Rejected, "x"));
/// assert_eq!(e.vendor_message(), Some("bad"));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct PlainTextErrors;

impl ErrorParser for PlainTextErrors {
    fn parse(&self, _status: u16, _headers: &HeaderMap, body: &str, base: Error) -> Error {
        if let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(body)
        {
            for key in ["message", "error", "detail", "title"] {
                if let Some(serde_json::Value::String(m)) = map.get(key) {
                    return base.with_vendor_message(m.clone());
                }
            }
        }
        base
    }
}

/// The shared HTTP transport: a `reqwest::Client`, the clock, the vendor's error parser and an
/// optional client-side rate limiter. Cheap to clone.
///
/// ```
/// let http = auth_core::http::Http::new().unwrap();
/// let req = http.request(reqwest::Method::GET, "https://example.com/x");
/// assert!(req.build().is_ok());
/// ```
#[derive(Clone, Debug)]
pub struct Http {
    inner: Arc<HttpInner>,
}

/// In declaration order (`repr(C)`): what every send reads, the client and whether a
/// limiter stands before it, first, on one cache line.
#[derive(Debug)]
#[repr(C)]
struct HttpInner {
    client: reqwest::Client,
    limiter: Option<SharedLimiter>,
    clock: SharedClock,
    parser: Arc<dyn ErrorParser>,
    max_error_body: usize,
}

/// The default client: [`client_builder`] as it is, built.
pub fn default_client() -> Result<reqwest::Client, Error> {
    client_builder()?.build().map_err(|e| {
        Error::new(ErrorKind::Config, "could not build the HTTP client").with_source(e)
    })
}

/// What [`default_client`] is built from: rustls, connect timeout 10 s, whole-request
/// timeout 30 s, [`redirect_policy`]. Start from it to build your own client (a proxy, a
/// default header) and hand that to a vendor builder's `with_http_client`.
///
/// Its TLS is rustls with the crypto provider installed as the process default if there is
/// one, else ring, verifying servers against the platform's roots as reqwest does. reqwest
/// 0.13 falls back to aws-lc only when its `rustls` feature compiles it in; this workspace
/// enables `rustls-no-provider` instead (aws-lc-sys is a large C build), so the client is
/// given its provider here and nobody has to install a process-wide one. A client built
/// from `reqwest::Client::builder()` follows reqwest's rules: with reqwest's default
/// features it has aws-lc; with `rustls-no-provider` alone, install a provider before
/// building it.
pub fn client_builder() -> Result<reqwest::ClientBuilder, Error> {
    Ok(reqwest::Client::builder()
        .tls_backend_preconfigured(tls_config()?)
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .redirect(redirect_policy()))
}

/// What reqwest builds for rustls, with ring where reqwest would take aws-lc: the process's
/// default provider if one is installed, the platform verifier, HTTP/2 and HTTP/1.1 offered
/// by ALPN (a preconfigured config is used as given, so the ALPN list is set here).
fn tls_config() -> Result<rustls::ClientConfig, Error> {
    let provider = rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
    let tls_error = |e: rustls::Error| {
        Error::new(
            ErrorKind::Config,
            "could not set up TLS for the HTTP client",
        )
        .with_source(e)
    };
    let verifier = rustls_platform_verifier::Verifier::new(provider.clone()).map_err(tls_error)?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(tls_error)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// The redirect policy of [`default_client`]: follow a redirect only within the same origin
/// (scheme, host and port), at most 10 times. Any other redirect is not followed and its 3xx
/// answer becomes the error. reqwest alone drops `Authorization` when leaving the origin, but
/// not a vendor's own key header, and it re-sends the body (a password) on 307/308; a
/// redirect to plain `http://` would also bypass [`ensure_secure`]. Use it when you bring
/// your own client.
pub fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let same_origin = attempt.previous().last().is_some_and(|prev| {
            let next = attempt.url();
            prev.scheme() == next.scheme()
                && prev.host_str() == next.host_str()
                && prev.port_or_known_default() == next.port_or_known_default()
        });
        if attempt.previous().len() > 10 || !same_origin || ensure_secure(attempt.url()).is_err() {
            attempt.stop()
        } else {
            attempt.follow()
        }
    })
}

impl Http {
    /// A transport with the default client, the system clock and the plain-text error parser.
    pub fn new() -> Result<Self, Error> {
        Ok(Self::with_client(default_client()?))
    }

    /// A transport over a client you configured (proxies, timeouts). Give it
    /// [`redirect_policy`] unless you know where your vendor redirects to.
    pub fn with_client(client: reqwest::Client) -> Self {
        Http {
            inner: Arc::new(HttpInner {
                client,
                clock: SharedClock::default(),
                parser: Arc::new(PlainTextErrors),
                limiter: None,
                max_error_body: DEFAULT_MAX_ERROR_BODY,
            }),
        }
    }

    fn edit(mut self, f: impl FnOnce(&mut HttpInner)) -> Self {
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => f(inner),
            None => {
                let i = &self.inner;
                let mut copy = HttpInner {
                    client: i.client.clone(),
                    clock: i.clock.clone(),
                    parser: i.parser.clone(),
                    limiter: i.limiter.clone(),
                    max_error_body: i.max_error_body,
                };
                f(&mut copy);
                self.inner = Arc::new(copy);
            }
        }
        self
    }

    /// Use `clock` for expiry decisions and Retry-After dates.
    pub fn with_clock(self, clock: impl Into<SharedClock>) -> Self {
        let clock = clock.into();
        self.edit(|i| i.clock = clock)
    }

    /// Use the vendor's error parser.
    pub fn with_error_parser(self, parser: impl ErrorParser + 'static) -> Self {
        let parser: Arc<dyn ErrorParser> = Arc::new(parser);
        self.edit(|i| i.parser = parser)
    }

    /// Wait for a slot of `limiter` before every request: a
    /// [`RateLimiter`](crate::RateLimiter) of this process, or any
    /// [`Limiter`](crate::limit::Limiter), such as one a fleet shares.
    pub fn with_rate_limiter(self, limiter: impl Into<SharedLimiter>) -> Self {
        let limiter = limiter.into();
        self.edit(|i| i.limiter = Some(limiter))
    }

    /// The rate limiter requests wait for, if any.
    pub fn rate_limiter(&self) -> Option<&SharedLimiter> {
        self.inner.limiter.as_ref()
    }

    /// The rate limiter's counters (zeros without one): how many requests a fleet-wide
    /// limiter admitted by its local stand-in, and whether it does so now.
    pub fn limiter_stats(&self) -> LimiterStats {
        self.inner
            .limiter
            .as_ref()
            .map(SharedLimiter::stats)
            .unwrap_or_default()
    }

    /// Keep at most `bytes` of an error body.
    pub fn with_max_error_body(self, bytes: usize) -> Self {
        self.edit(|i| i.max_error_body = bytes)
    }

    /// The shared clock.
    pub fn clock(&self) -> &SharedClock {
        &self.inner.clock
    }

    /// The current time of the shared clock.
    #[inline]
    pub fn now(&self) -> SystemTime {
        self.inner.clock.now()
    }

    /// Start a request on the underlying client.
    ///
    /// ```
    /// let http = auth_core::http::Http::new().unwrap();
    /// let r = http.request(reqwest::Method::POST, "https://example.com").build().unwrap();
    /// assert_eq!(r.method(), reqwest::Method::POST);
    /// ```
    pub fn request(&self, method: Method, url: impl reqwest::IntoUrl) -> RequestBuilder {
        self.inner.client.request(method, url)
    }

    /// A request of `method` to `url`, the same as [`request`](Self::request)`(method, url)`
    /// built, but made without a [`RequestBuilder`], which holds a clone of the client (a
    /// shared count every thread writes, twice per request). Credentials in the URL become a
    /// `Basic` header, as the builder makes them.
    ///
    /// ```
    /// use reqwest::Method;
    /// let http = auth_core::http::Http::new().unwrap();
    /// let url = "https://user:pw@example.com/a?b=1".parse().unwrap();
    /// let direct = http.new_request(Method::GET, url).unwrap();
    /// assert_eq!(direct.url().as_str(), "https://example.com/a?b=1");
    /// // "user:pw", base64: the builder's Basic header, as `request` would give.
    /// assert_eq!(direct.headers()["authorization"], "Basic dXNlcjpwdw==");
    /// ```
    #[inline]
    pub fn new_request(&self, method: Method, url: url::Url) -> Result<Request, Error> {
        if !url.username().is_empty() || url.password().is_some() {
            return build(self.request(method, url));
        }
        Ok(Request::new(method, url))
    }

    /// Send without looking at the status: the secure-transport check, the limiter, the send.
    /// Transport failures become [`ErrorKind::Transient`] (or `Config` for a request that
    /// could not be built).
    ///
    /// Not an `async fn`: the request moves into reqwest's send at once, so the future
    /// holds no copy of it (an authorized call awaits this on every request), and the future
    /// borrows nothing: it may be made before the call that awaits it is.
    #[inline]
    pub fn send_raw(
        &self,
        request: Request,
    ) -> impl Future<Output = Result<Response, Error>> + Send + use<> {
        use futures::future::{Either, TryFutureExt as _};
        match self.start_send(request) {
            Sending::Direct(sent) => Either::Left(sent.map_err(transport_error)),
            Sending::Slow(sent) => Either::Right(sent),
        }
    }

    /// [`send_raw`](Self::send_raw) begun: reqwest's own future when nothing stands
    /// between the request and the transport (an authorized call awaits it in place, with
    /// no adapter polled between them), else the rare paths' boxed one.
    #[inline]
    pub(crate) fn start_send(
        &self,
        request: Request,
    ) -> Sending<impl Future<Output = Result<Response, reqwest::Error>> + Send + use<>> {
        if ensure_secure(request.url()).is_err() {
            return Sending::Slow(self.send_slowly(request));
        }
        self.send_secure(request)
    }

    /// [`start_send`](Self::start_send) of a request its caller has already passed through
    /// [`ensure_secure`] (an authorized call checks before it fetches a token), so that
    /// the check is not made twice per call.
    #[inline]
    pub(crate) fn send_secure(
        &self,
        request: Request,
    ) -> Sending<impl Future<Output = Result<Response, reqwest::Error>> + Send + use<>> {
        if self.inner.limiter.is_none() {
            return Sending::Direct(self.inner.client.execute(request));
        }
        Sending::Slow(self.send_slowly(request))
    }

    /// [`send_raw`](Self::send_raw)'s rare paths, boxed (they should not make every call's
    /// future larger) and out of line (nor its stack frame, where a request is built).
    #[cold]
    #[inline(never)]
    fn send_slowly(&self, request: Request) -> BoxFuture<'static, Result<Response, Error>> {
        use futures::future::FutureExt as _;
        match (ensure_secure(request.url()), &self.inner.limiter) {
            (Err(e), _) => async move { Err(e) }.boxed(),
            // Boxed as a whole: the wait is awaited in place, not through `limit`.
            (Ok(()), limiter) => {
                let (limiter, client) = (limiter.clone(), self.inner.client.clone());
                async move {
                    if let Some(limiter) = limiter {
                        limiter
                            .acquire(request.method(), request.url().path())
                            .await?;
                    }
                    client.execute(request).await.map_err(transport_error)
                }
                .boxed()
            }
        }
    }

    /// Wait for the client-side rate limiter, if any, to admit `request`.
    #[cfg(feature = "middleware")]
    pub(crate) async fn limit(&self, request: &Request) -> Result<(), Error> {
        if let Some(limiter) = &self.inner.limiter {
            // Boxed: a call without a limiter should not carry the wait's state.
            Box::pin(limiter.acquire(request.method(), request.url().path())).await?;
        }
        Ok(())
    }

    /// Send and check the status: a success answer is returned, any other becomes an error
    /// built from the (bounded, scrubbed) body. `secrets` are removed from that body first.
    pub async fn send(
        &self,
        request: RequestBuilder,
        secrets: &[&SecretString],
    ) -> Result<Response, Error> {
        let request = build(request)?;
        let resp = self.send_raw(request).await?;
        self.check(resp, secrets).await
    }

    /// Send, check the status and decode the JSON body into `T`.
    pub async fn send_json<T: DeserializeOwned>(
        &self,
        request: RequestBuilder,
        secrets: &[&SecretString],
    ) -> Result<T, Error> {
        let resp = self.send(request, secrets).await?;
        read_json(resp).await
    }

    /// Return `resp` when its status is a success; otherwise build the error.
    pub async fn check(
        &self,
        resp: Response,
        secrets: &[&SecretString],
    ) -> Result<Response, Error> {
        if resp.status().is_success() {
            Ok(resp)
        } else {
            Err(self.error_from(resp, secrets).await)
        }
    }

    /// Build the error for a non-success answer: kind from the status, Retry-After, the body
    /// read up to the bound with `secrets` scrubbed, then the vendor's parser.
    pub async fn error_from(&self, resp: Response, secrets: &[&SecretString]) -> Error {
        let status = resp.status();
        let headers = resp.headers().clone();
        // Read past the bound by the longest form an echoed secret can take (up to 10
        // bytes per byte of it), scrub, then cut: a secret that begins before the bound is
        // read whole and removed, and nothing after the bound is kept.
        let window = self
            .inner
            .max_error_body
            .saturating_add(crate::scrub::longest_echo(secrets));
        let body = read_bounded(resp, window).await.unwrap_or_default();
        self.error_of(status, &headers, &body, secrets)
    }

    /// [`error_from`](Self::error_from) for an answer whose body was already read.
    pub(crate) fn error_of(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        secrets: &[&SecretString],
    ) -> Error {
        let mut body = scrub(&String::from_utf8_lossy(body), secrets);
        truncate_at_char(&mut body, self.inner.max_error_body);
        let err = parse_error(
            &*self.inner.parser,
            status.as_u16(),
            headers,
            &body,
            self.now(),
        );
        // The parser decodes the body (JSON `\u0026` escapes and the like) into its message
        // and typed detail: both are scrubbed again as data, whatever the parser stored.
        err.scrubbed(secrets)
    }
}

/// The error for a non-success answer whose (already bounded and scrubbed) body is `body`:
/// kind from the status, the status, Retry-After relative to `now`, the body as vendor
/// message, then `parser`'s refinement. [`Http::error_from`] uses it; vendor crates' tests
/// call it to exercise their parser exactly as the pipeline does.
///
/// ```
/// use std::time::SystemTime;
/// use auth_core::{http::{PlainTextErrors, parse_error}};
/// let h = reqwest::header::HeaderMap::new();
/// let e = parse_error(&PlainTextErrors, 503, &h, r#"{"message":"down"}"#, SystemTime::now());
/// assert!(e.is_transient());
/// assert_eq!(e.vendor_message(), Some("down"));
/// ```
pub fn parse_error(
    parser: &dyn ErrorParser,
    status: u16,
    headers: &HeaderMap,
    body: &str,
    now: SystemTime,
) -> Error {
    let context = StatusCode::from_u16(status)
        .map(status_context)
        .unwrap_or_else(|_| "vendor answered with an unexpected status".to_owned());
    let mut base = Error::new(ErrorKind::from_status(status), context).with_status(status);
    if let Some(after) = retry_after(headers, now) {
        base = base.with_retry_after(after);
    }
    let base = base.with_vendor_message(body.trim());
    parser.parse(status, headers, body, base)
}

fn truncate_at_char(s: &mut String, max: usize) {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
}

fn status_context(status: StatusCode) -> String {
    match ErrorKind::from_status(status.as_u16()) {
        ErrorKind::Unauthorized => "vendor rejected the credentials".to_owned(),
        ErrorKind::RateLimited => "vendor rate limit reached".to_owned(),
        ErrorKind::Transient => "vendor is temporarily failing".to_owned(),
        ErrorKind::Rejected => "vendor rejected the request".to_owned(),
        _ => "vendor answered with an unexpected status".to_owned(),
    }
}

/// Build a request, mapping a builder error to [`ErrorKind::Config`].
///
/// ```
/// let http = auth_core::http::Http::new().unwrap();
/// assert!(auth_core::http::build(http.request(reqwest::Method::GET, "https://example.com")).is_ok());
/// ```
pub fn build(request: RequestBuilder) -> Result<Request, Error> {
    request.build().map_err(|e| {
        Error::new(ErrorKind::Config, "request could not be built").with_source(e.without_url())
    })
}

/// What [`Session::send_built`](crate::Session::send_built)'s closure builds: a
/// [`RequestBuilder`], or a [`Request`] made directly (as [`Http::new_request`] makes one,
/// with no builder and so no clone of the client per call).
pub trait IntoRequest: sealed::Sealed {
    /// The request, or the builder's error as [`build`] maps it.
    fn into_request(self) -> Result<Request, Error>;
}

impl IntoRequest for RequestBuilder {
    fn into_request(self) -> Result<Request, Error> {
        build(self)
    }
}

impl IntoRequest for Request {
    fn into_request(self) -> Result<Request, Error> {
        Ok(self)
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for reqwest::RequestBuilder {}
    impl Sealed for reqwest::Request {}
}

/// A send begun ([`Http::start_send`]): reqwest's future, or the rare paths' boxed one.
pub(crate) enum Sending<F> {
    Direct(F),
    Slow(BoxFuture<'static, Result<Response, Error>>),
}

pub(crate) fn transport_error(e: reqwest::Error) -> Error {
    let context = if e.is_timeout() {
        "request timed out"
    } else if e.is_connect() {
        "could not connect to the vendor"
    } else if e.is_builder() {
        return Error::new(ErrorKind::Config, "request could not be built")
            .with_source(e.without_url());
    } else {
        "request failed in transport"
    };
    Error::new(ErrorKind::Transient, context).with_source(e.without_url())
}

/// Refuse to send credentials over plain `http://` except to a loopback host.
///
/// ```
/// use url::Url;
/// assert!(auth_core::http::ensure_secure(&Url::parse("https://api.example.com").unwrap()).is_ok());
/// assert!(auth_core::http::ensure_secure(&Url::parse("http://127.0.0.1:8080").unwrap()).is_ok());
/// assert!(auth_core::http::ensure_secure(&Url::parse("http://localhost:1").unwrap()).is_ok());
/// assert!(auth_core::http::ensure_secure(&Url::parse("http://api.example.invalid").unwrap()).unwrap_err().is_insecure_transport());
/// ```
pub fn ensure_secure(url: &url::Url) -> Result<(), Error> {
    match url.scheme() {
        "https" => Ok(()),
        "http" => {
            let loopback = match url.host() {
                Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                None => false,
            };
            if loopback {
                Ok(())
            } else {
                Err(Error::new(
                    ErrorKind::InsecureTransport,
                    "refusing to send credentials over plain http to a non-loopback host",
                ))
            }
        }
        _ => Err(Error::new(ErrorKind::Config, "unsupported url scheme")),
    }
}

/// Remove every secret in `secrets` from `text` (replaced by `[REDACTED]`), however the
/// vendor echoed it: raw, JSON-escaped (`\"`, `\/`, `\u0026`), form- or percent-encoded,
/// as HTML character references, or any mix of these within one echo.
///
/// ```
/// use secrecy::SecretString;
/// let pw = SecretString::from("p&ss<1>");
/// assert_eq!(auth_core::http::scrub("bad password p&ss<1>", &[&pw]), "bad password [REDACTED]");
/// // Go's encoding/json writes `&` and `<` as \u0026 and \u003c; a query string as %26.
/// assert_eq!(auth_core::http::scrub(r"bad password p\u0026ss\u003c1>", &[&pw]), "bad password [REDACTED]");
/// assert_eq!(auth_core::http::scrub("/login?pw=p%26ss%3C1%3E", &[&pw]), "/login?pw=[REDACTED]");
/// ```
pub fn scrub(text: &str, secrets: &[&SecretString]) -> String {
    crate::scrub::scrub_text(text, secrets)
}

/// Parse a Retry-After header: delta seconds or an HTTP date relative to `now`.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// let mut h = reqwest::header::HeaderMap::new();
/// h.insert("retry-after", "12".parse().unwrap());
/// assert_eq!(auth_core::http::retry_after(&h, SystemTime::now()), Some(Duration::from_secs(12)));
/// h.insert("retry-after", "soon".parse().unwrap());
/// assert_eq!(auth_core::http::retry_after(&h, SystemTime::now()), None);
/// ```
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let raw = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = raw.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(raw).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Read at most `limit` bytes of a body.
///
/// ```no_run
/// # async fn run(resp: reqwest::Response) -> Result<(), auth_core::Error> {
/// let bytes = auth_core::http::read_bounded(resp, 1024).await?;
/// assert!(bytes.len() <= 1024);
/// # Ok(()) }
/// ```
pub async fn read_bounded(resp: Response, limit: usize) -> Result<Vec<u8>, Error> {
    with_body(resp, limit, <[u8]>::to_vec).await
}

/// Read at most `limit` bytes of a body and hand them to `f`. A body that arrives in one
/// chunk (a small answer, usually) is handed over as it is, not copied; a longer one is
/// gathered as [`read_bounded`] gathers it.
///
/// ```no_run
/// # async fn run(resp: reqwest::Response) -> Result<(), auth_core::Error> {
/// let len = auth_core::http::with_body(resp, 1024, |bytes| bytes.len()).await?;
/// assert!(len <= 1024);
/// # Ok(()) }
/// ```
#[allow(
    clippy::manual_async_fn,
    reason = "an async fn would hold its arguments twice in its future"
)]
pub fn with_body<R>(
    mut resp: Response,
    limit: usize,
    f: impl FnOnce(&[u8]) -> R,
) -> impl Future<Output = Result<R, Error>> {
    // Not an `async fn`, whose arguments are moved into locals and so held twice: the block
    // reads the response where it was captured.
    async move {
        let Some(first) = resp.chunk().await.map_err(transport_error)? else {
            return Ok(f(&[]));
        };
        if first.len() >= limit {
            return Ok(f(&first[..limit]));
        }
        let Some(second) = resp.chunk().await.map_err(transport_error)? else {
            return Ok(f(&first));
        };
        let mut out = Vec::with_capacity(first.len() + second.len());
        out.extend_from_slice(&first);
        let mut next = Some(second);
        while let Some(chunk) = next {
            let room = limit.saturating_sub(out.len());
            if chunk.len() >= room {
                out.extend_from_slice(&chunk[..room]);
                break;
            }
            out.extend_from_slice(&chunk);
            next = resp.chunk().await.map_err(transport_error)?;
        }
        Ok(f(&out))
    }
}

/// Decode a success body as JSON into `T`. A body that is not the expected JSON is
/// [`ErrorKind::BadResponse`]; the message names where it failed but never quotes the body,
/// which may hold tokens.
pub fn read_json<T: DeserializeOwned>(resp: Response) -> impl Future<Output = Result<T, Error>> {
    use futures::FutureExt as _;
    let status = resp.status().as_u16();
    with_body(resp, DEFAULT_MAX_BODY, parse_json::<T>)
        .map(move |read| read?.map_err(|e| e.with_status(status)))
}

/// Decode bytes as JSON into `T`, with the same secret-safe error as [`read_json`].
///
/// ```
/// let v: Result<u32, _> = auth_core::http::parse_json(b"\"not a number\"");
/// let e = v.unwrap_err();
/// assert!(e.is_bad_response());
/// assert!(!e.to_string().contains("not a number"));
/// ```
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(bytes).map_err(|e| {
        let what = match e.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                "is not valid JSON"
            }
            serde_json::error::Category::Data => "does not have the expected fields or types",
            serde_json::error::Category::Io => "could not be read",
        };
        Error::new(
            ErrorKind::BadResponse,
            format!(
                "response body {what} (line {}, column {})",
                e.line(),
                e.column()
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use httpmock::prelude::{MockServer, POST};

    const SECRET: &str = "pa55-w0rd-echoed";

    /// `new_request` makes what the builder builds from the same method and URL: method,
    /// URL, headers (the builder's `Basic` header from credentials in the URL included),
    /// version, timeout and no body.
    #[test]
    fn new_request_is_the_built_request() {
        let http = Http::new().unwrap();
        for url in [
            "https://example.com/a/b?c=1&d=%20#f",
            "http://127.0.0.1:8080/",
            "https://user@example.com/x",
            "https://user:p%40ss@example.com/x",
            "https://:only-password@example.com/x",
        ] {
            for method in [Method::GET, Method::DELETE] {
                let url: url::Url = url.parse().unwrap();
                let direct = http.new_request(method.clone(), url.clone()).unwrap();
                let built = build(http.request(method.clone(), url.clone())).unwrap();
                assert_eq!(direct.method(), built.method(), "{url}");
                assert_eq!(direct.url(), built.url(), "{url}");
                assert_eq!(direct.headers(), built.headers(), "{url}");
                assert_eq!(direct.version(), built.version(), "{url}");
                assert_eq!(direct.timeout(), built.timeout(), "{url}");
                assert!(direct.body().is_none() && built.body().is_none());
                let has_credentials = !url.username().is_empty() || url.password().is_some();
                assert_eq!(
                    direct.headers().contains_key("authorization"),
                    has_credentials
                );
            }
        }
    }

    /// reqwest 0.13 with `rustls-no-provider` panics in `build()` when no crypto provider
    /// is installed; the default client brings ring itself and leaves the process default
    /// alone (nothing in this test binary installs one), and it sends.
    #[tokio::test]
    async fn the_default_client_needs_no_installed_crypto_provider_and_installs_none() {
        assert!(rustls::crypto::CryptoProvider::get_default().is_none());
        let client = default_client().unwrap();
        assert!(rustls::crypto::CryptoProvider::get_default().is_none());
        let server = MockServer::start_async().await;
        let ping = server
            .mock_async(|when, then| {
                when.path("/ping");
                then.status(204);
            })
            .await;
        let answer = client.get(server.url("/ping")).send().await.unwrap();
        assert_eq!(answer.status(), StatusCode::NO_CONTENT);
        ping.assert_calls_async(1).await;
    }

    #[tokio::test]
    async fn credentials_never_follow_a_redirect_to_another_origin() {
        let elsewhere = MockServer::start_async().await;
        let caught = elsewhere
            .mock_async(|when, then| {
                when.any_request();
                then.status(200).body("{}");
            })
            .await;
        let api = MockServer::start_async().await;
        let target = elsewhere.url("/steal");
        api.mock_async(|when, then| {
            when.path("/login");
            then.status(307).header("location", target.as_str());
        })
        .await;
        api.mock_async(|when, then| {
            when.path("/insecure");
            then.status(302)
                .header("location", "http://api.example.invalid/x");
        })
        .await;
        let moved = api
            .mock_async(|when, then| {
                when.path("/moved");
                then.status(200).body("{}");
            })
            .await;
        api.mock_async(|when, then| {
            when.path("/old");
            then.status(301).header("location", "/moved");
        })
        .await;
        let http = Http::new().unwrap();
        let login = http
            .request(reqwest::Method::POST, api.url("/login"))
            .header("x-api-key", SECRET)
            .body(format!("{{\"password\":\"{SECRET}\"}}"));
        let err = http.send(login, &[]).await.unwrap_err();
        assert_eq!(err.status(), Some(307), "{err:?}");
        assert_eq!(
            caught.calls_async().await,
            0,
            "the key and body went elsewhere"
        );
        let err = http
            .send(
                http.request(reqwest::Method::GET, api.url("/insecure")),
                &[],
            )
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(302), "{err:?}");
        // A redirect within the same origin is still followed.
        http.send(http.request(reqwest::Method::GET, api.url("/old")), &[])
            .await
            .unwrap();
        assert_eq!(moved.calls_async().await, 1);
    }

    #[test]
    fn scrub_removes_secrets_echoed_json_escaped_or_form_encoded() {
        const PASSWORD: &str = r#"p@ss "quoted" \ back/slash&x=1"#;
        let pw = SecretString::from(PASSWORD);
        let json_echo =
            serde_json::json!({ "message": format!("bad password {PASSWORD}") }).to_string();
        let form_echo = format!(
            "rejected body: password={}",
            url::form_urlencoded::byte_serialize(PASSWORD.as_bytes()).collect::<String>()
        );
        let percent_echo = format!(
            "rejected url: /login?password={}",
            PASSWORD
                .bytes()
                .map(|b| if b.is_ascii_alphanumeric() {
                    char::from(b).to_string()
                } else {
                    format!("%{b:02X}")
                })
                .collect::<String>()
        );
        for echo in [&json_echo, &form_echo, &percent_echo] {
            let out = scrub(echo, &[&pw]);
            assert!(out.contains("[REDACTED]"), "{out}");
            assert!(!out.contains("quoted"), "{out}");
        }
    }

    #[tokio::test]
    async fn error_body_is_bounded_scrubbed_and_parsed() {
        let server = MockServer::start_async().await;
        let long = format!(
            "{{\"message\":\"wrong password {SECRET}\"}}{}",
            "x".repeat(20_000)
        );
        server
            .mock_async(|when, then| {
                when.method(POST).path("/login");
                then.status(400).body(long.clone());
            })
            .await;
        let http = Http::new().unwrap().with_max_error_body(100);
        let pw = SecretString::from(SECRET);
        let err = http
            .send(
                http.request(reqwest::Method::POST, server.url("/login")),
                &[&pw],
            )
            .await
            .unwrap_err();
        assert!(err.is_rejected());
        assert_eq!(err.status(), Some(400));
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains(SECRET), "{shown}");
        assert_eq!(err.vendor_message().unwrap().len(), 100);
        insta::assert_snapshot!(err.vendor_message().unwrap_or_default(), @r#"{"message":"wrong password [REDACTED]"}xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"#);
    }

    #[tokio::test]
    async fn a_secret_the_vendor_unicode_escapes_in_its_json_message_is_scrubbed() {
        // Go's encoding/json writes & < > as \u0026 \u003c \u003e.
        const PASSWORD: &str = "p&ss<word>";
        let server = MockServer::start_async().await;
        server
            .mock_async(|when, then| {
                when.path("/login");
                then.status(401)
                    .body(r#"{"message":"bad password p\u0026ss\u003cword\u003e"}"#);
            })
            .await;
        let http = Http::new().unwrap();
        let pw = SecretString::from(PASSWORD);
        let err = http
            .send(
                http.request(reqwest::Method::POST, server.url("/login")),
                &[&pw],
            )
            .await
            .unwrap_err();
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains(PASSWORD), "{shown}");
        assert_eq!(err.vendor_message(), Some("bad password [REDACTED]"));
    }

    /// Whatever a vendor parser decodes, however the raw body hid it, is scrubbed as data.
    #[tokio::test]
    async fn what_a_parser_decodes_is_scrubbed_in_its_detail_and_message() {
        #[derive(Debug, serde::Serialize, serde::Deserialize)]
        struct Decoded {
            text: String,
            nested: Vec<std::collections::BTreeMap<String, String>>,
        }
        /// A vendor whose bodies are reversed: no text scrub of the raw body can see it.
        #[derive(Debug)]
        struct Reversing;
        impl ErrorParser for Reversing {
            fn parse(&self, _: u16, _: &HeaderMap, body: &str, base: Error) -> Error {
                let text: String = body.chars().rev().collect();
                let nested = vec![[(text.clone(), text.clone())].into_iter().collect()];
                base.with_vendor_message(text.clone())
                    .with_context(format!("vendor said {text}"))
                    .with_detail(Decoded { text, nested })
            }
        }
        let server = MockServer::start_async().await;
        let reversed: String = format!("bad password {SECRET}").chars().rev().collect();
        server
            .mock_async(|when, then| {
                when.path("/login");
                then.status(400).body(reversed.clone());
            })
            .await;
        let http = Http::new().unwrap().with_error_parser(Reversing);
        let pw = SecretString::from(SECRET);
        let err = http
            .send(
                http.request(reqwest::Method::POST, server.url("/login")),
                &[&pw],
            )
            .await
            .unwrap_err();
        let detail = err
            .detail::<Decoded>()
            .expect("the detail survives its scrub");
        assert_eq!(detail.text, "bad password [REDACTED]");
        assert_eq!(
            detail.nested[0]["bad password [REDACTED]"],
            "bad password [REDACTED]"
        );
        assert_eq!(err.vendor_message(), Some("bad password [REDACTED]"));
        let shown = format!("{err} {err:?} {err:#?}");
        assert!(!shown.contains(SECRET), "{shown}");
    }

    #[tokio::test]
    async fn a_secret_straddling_the_bound_is_not_kept_in_part() {
        let server = MockServer::start_async().await;
        let body = format!("{}{SECRET}", "y".repeat(90));
        server
            .mock_async(|when, then| {
                when.path("/x");
                then.status(400).body(body.clone());
            })
            .await;
        let http = Http::new().unwrap().with_max_error_body(100);
        let pw = SecretString::from(SECRET);
        let err = http
            .send(http.request(reqwest::Method::GET, server.url("/x")), &[&pw])
            .await
            .unwrap_err();
        let msg = err.vendor_message().unwrap();
        assert!(!msg.contains(&SECRET[..10]), "{msg}");
        assert!(msg.ends_with("[REDACTED]"));
    }

    #[tokio::test]
    async fn json_message_is_extracted_when_whole() {
        let server = MockServer::start_async().await;
        server
            .mock_async(|when, then| {
                when.path("/x");
                then.status(503)
                    .body(r#"{"message":"down for maintenance"}"#);
            })
            .await;
        let http = Http::new().unwrap();
        let err = http
            .send(http.request(reqwest::Method::GET, server.url("/x")), &[])
            .await
            .unwrap_err();
        assert!(err.is_transient() && err.is_retryable());
        assert_eq!(err.vendor_message(), Some("down for maintenance"));
    }

    #[tokio::test]
    async fn rate_limit_carries_retry_after() {
        let server = MockServer::start_async().await;
        server
            .mock_async(|when, then| {
                when.path("/x");
                then.status(429)
                    .header("Retry-After", "30")
                    .body("slow down");
            })
            .await;
        let http = Http::new().unwrap();
        let err = http
            .send(http.request(reqwest::Method::GET, server.url("/x")), &[])
            .await
            .unwrap_err();
        assert!(err.is_rate_limited());
        assert_eq!(err.retry_after(), Some(Duration::from_secs(30)));
        assert_eq!(err.vendor_message(), Some("slow down"));
    }

    #[tokio::test]
    async fn malformed_json_success_is_bad_response_without_body() {
        let server = MockServer::start_async().await;
        server
            .mock_async(|when, then| {
                when.path("/x");
                then.status(200)
                    .body(format!("{{\"access_token\": {SECRET}"));
            })
            .await;
        let http = Http::new().unwrap();
        let err = http
            .send_json::<serde_json::Value>(
                http.request(reqwest::Method::GET, server.url("/x")),
                &[],
            )
            .await
            .unwrap_err();
        assert!(err.is_bad_response());
        assert!(!format!("{err:?}{err}").contains(SECRET));
    }

    #[tokio::test]
    async fn plain_http_to_remote_host_is_refused_before_sending() {
        let http = Http::new().unwrap();
        let err = http
            .send(
                http.request(reqwest::Method::GET, "http://api.example.invalid/x"),
                &[],
            )
            .await
            .unwrap_err();
        assert!(err.is_insecure_transport());
    }

    #[test]
    fn retry_after_http_date() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        let mut h = HeaderMap::new();
        h.insert(
            RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:30 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(30)));
        h.insert(
            RETRY_AFTER,
            "Wed, 21 Oct 2015 07:27:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h, now), Some(Duration::ZERO));
    }
}
