//! For vendor authors: the trait a vendor implements (sign in, refresh, put a token on a
//! request), when to renew and how to retry, and the pieces a provider is built from.

use std::fmt;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderMap};
use secrecy::SecretString;

pub use crate::error::ErrorDetail;
pub use crate::expiry::parse_rfc3339;
pub use crate::paginate::{PageInfo, Paginator};
pub use crate::retry::{Backoff, RetryPolicy};
pub use crate::token::sensitive_header;
pub use async_trait::async_trait;

use crate::error::{Error, ErrorKind};
use crate::token::TokenSet;

/// How an access token goes into the `Authorization` header.
///
/// ```
/// use auth_core::provider::AuthScheme;
/// assert_eq!(AuthScheme::default(), AuthScheme::Bearer);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AuthScheme {
    /// `Authorization: Bearer <token>`.
    #[default]
    Bearer,
    /// `Authorization: <token>`, the raw token with no scheme.
    Raw,
}

impl AuthScheme {
    /// Put `tokens`' access token into `headers` with this scheme, marked sensitive.
    ///
    /// ```
    /// use auth_core::{AccessToken, Expiry, TokenSet, provider::AuthScheme};
    /// let mut h = reqwest::header::HeaderMap::new();
    /// let set = TokenSet::new(AccessToken::new("t"), Expiry::never());
    /// AuthScheme::Raw.apply(&set, &mut h).unwrap();
    /// assert_eq!(h["authorization"], "t");
    /// ```
    pub fn apply(self, tokens: &TokenSet, headers: &mut HeaderMap) -> Result<(), Error> {
        TokenHeader::authorization(self).apply(tokens, headers)
    }
}

/// Where a token goes on a request and in what form: the `Authorization` header with a
/// scheme, or a vendor's own header. A provider's `authorize` uses one instead of building
/// the header by hand; the value is marked sensitive.
///
/// ```
/// use auth_core::provider::{AuthScheme, TokenHeader};
/// use auth_core::{AccessToken, Expiry, TokenSet};
/// let set = TokenSet::new(AccessToken::new("k-123"), Expiry::never());
/// let mut h = reqwest::header::HeaderMap::new();
/// TokenHeader::named(reqwest::header::HeaderName::from_static("ipaas")).apply(&set, &mut h)?;
/// TokenHeader::authorization(AuthScheme::Bearer).apply(&set, &mut h)?;
/// assert_eq!((h["ipaas"].to_str().unwrap(), h["authorization"].to_str().unwrap()), ("k-123", "Bearer k-123"));
/// assert!(h["ipaas"].is_sensitive());
/// # Ok::<(), auth_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenHeader {
    name: reqwest::header::HeaderName,
    scheme: AuthScheme,
}

impl TokenHeader {
    /// `Authorization: <scheme> <token>`.
    pub const fn authorization(scheme: AuthScheme) -> Self {
        TokenHeader {
            name: AUTHORIZATION,
            scheme,
        }
    }

    /// The raw token in a header of the vendor's own (Incend's `ipaas: <key>`).
    pub const fn named(name: reqwest::header::HeaderName) -> Self {
        TokenHeader {
            name,
            scheme: AuthScheme::Raw,
        }
    }

    /// Put `tokens`' access token into `headers`, marked sensitive. The header value is
    /// built once per token and cloned on every later call.
    pub fn apply(&self, tokens: &TokenSet, headers: &mut HeaderMap) -> Result<(), Error> {
        let bearer = match self.scheme {
            AuthScheme::Bearer => true,
            AuthScheme::Raw => false,
        };
        let value = tokens.access_token().header_value(bearer)?;
        headers.insert(self.name.clone(), value);
        Ok(())
    }
}

/// `Basic base64(user:secret)`, marked sensitive: the client-credential header of a token
/// request (IQM's client id and secret). A user or secret that cannot be sent as a header
/// is a `Config` error.
///
/// ```
/// let v = auth_core::provider::basic_auth("id", &secrecy::SecretString::from("s3cret"))?;
/// assert_eq!(v.to_str().unwrap(), "Basic aWQ6czNjcmV0");
/// assert!(v.is_sensitive());
/// # Ok::<(), auth_core::Error>(())
/// ```
pub fn basic_auth(
    user: &str,
    secret: &SecretString,
) -> Result<reqwest::header::HeaderValue, Error> {
    use base64::Engine as _;
    use secrecy::ExposeSecret as _;
    let encoded = SecretString::from(
        base64::engine::general_purpose::STANDARD
            .encode(format!("{user}:{}", secret.expose_secret())),
    );
    sensitive_header("Basic ", &encoded).map_err(|_| {
        Error::new(
            ErrorKind::Config,
            "client id or secret holds characters not allowed in a header",
        )
    })
}

/// A scheme chosen per request URL: the first rule whose host and path prefix match, else
/// the default (IntelePeer: the raw token on the portal's `/_rest/v4/my/*`, `Bearer`
/// everywhere else).
///
/// ```
/// use auth_core::provider::{AuthScheme, SchemeByUrl};
/// let rule = SchemeByUrl::new(AuthScheme::Bearer)
///     .rule("portal.example.com", "/_rest/v4/my/", AuthScheme::Raw);
/// let url = |s: &str| reqwest::Url::parse(s).unwrap();
/// assert_eq!(rule.scheme_for(&url("https://portal.example.com/_rest/v4/my/accounts")), AuthScheme::Raw);
/// assert_eq!(rule.scheme_for(&url("https://portal.example.com/_rest/v4/authenticate")), AuthScheme::Bearer);
/// assert_eq!(rule.scheme_for(&url("https://api.example.com/_rest/v4/my/x")), AuthScheme::Bearer);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemeByUrl {
    rules: Vec<(String, String, AuthScheme)>,
    default: AuthScheme,
}

impl SchemeByUrl {
    /// `default` for every URL, until rules are added.
    pub fn new(default: AuthScheme) -> Self {
        SchemeByUrl {
            rules: Vec::new(),
            default,
        }
    }

    /// Use `scheme` for URLs on `host` (case-insensitive, port ignored) whose path starts
    /// with `path_prefix`. Earlier rules win.
    pub fn rule(
        mut self,
        host: impl Into<String>,
        path_prefix: impl Into<String>,
        scheme: AuthScheme,
    ) -> Self {
        self.rules.push((host.into(), path_prefix.into(), scheme));
        self
    }

    /// The scheme for `url`.
    pub fn scheme_for(&self, url: &reqwest::Url) -> AuthScheme {
        let host = url.host_str().unwrap_or_default();
        self.rules
            .iter()
            .find(|(h, p, _)| h.eq_ignore_ascii_case(host) && url.path().starts_with(p.as_str()))
            .map_or(self.default, |(_, _, s)| *s)
    }

    /// Put the token on `request` with the scheme its URL calls for.
    pub fn apply(&self, tokens: &TokenSet, request: &mut reqwest::Request) -> Result<(), Error> {
        let scheme = self.scheme_for(request.url());
        TokenHeader::authorization(scheme).apply(tokens, request.headers_mut())
    }
}

/// When a session renews its token.
///
/// Under [`Ahead`](Self::Ahead) each token has two windows before its expiry, sized from
/// its lifetime `L` (see [`windows`](Self::windows)):
///
/// - the **advisory** window opens `A` before expiry. A session's renewal moment is drawn
///   evenly from `[expiry - A, expiry - M)`, anew for every token (jitter), so a fleet of
///   processes that signed in together does not renew in step. From that moment the first
///   call starts a renewal in the background and the valid token keeps being served;
/// - the **mandatory** window, the last `M = 2/3 × A`: a caller arriving there waits for a
///   renewal (one in flight, or one it starts) instead of being handed a token that is about
///   to expire; if the renewal fails, the still-valid token is served after all.
///
/// `A = min(max, max(fraction × L, min(floor, 3/5 × L)))`. With the default (`fraction`
/// 10 %, `floor` 10 s, `max` 1 day):
///
/// | lifetime | advisory `A` | mandatory `M` | renewal moment, into the lifetime |
/// |---------:|-------------:|--------------:|:----------------------------------|
/// | 1 s      | 600 ms       | 400 ms        | 0.4 s – 0.6 s                     |
/// | 2 s      | 1.2 s        | 800 ms        | 0.8 s – 1.2 s                     |
/// | 60 s     | 10 s         | 6.7 s         | 50 s – 53.3 s                     |
/// | 1 h      | 6 min        | 4 min         | 54 min – 56 min                   |
/// | 10 h     | 1 h          | 40 min        | 9 h – 9 h 20 min                  |
/// | 24 h     | 2 h 24 min   | 1 h 36 min    | 21 h 36 min – 22 h 24 min         |
/// | 30 days  | 1 day        | 16 h          | 29 days – 29 days 8 h             |
///
/// Why these shapes: a renewal needs a round trip and a request in flight needs its token
/// alive on arrival, neither of which shrinks with the lifetime, so a short token renews
/// at a larger share of it: below `floor / (3/5)` (about 17 s) the advisory window opens
/// at 2/5 of the lifetime and the mandatory one at 3/5, so a session called at least every
/// 3/5 of a lifetime renews every such token before it expires, 1 s tokens included (the
/// old 10 s floor, capped at half the lifetime, gave a 1 s token no such guarantee). A long
/// token renews at 10 % of its lifetime: an IntelePeer (24 h) or Incend (30 days) token is
/// not held to the 5 minutes that suit a one-hour token, and a fleet's renewals spread over
/// a third of the margin (2 minutes for 1 h, 48 minutes for 24 h). The mandatory share
/// (2/3 of the advisory margin) is that of botocore's advisory and mandatory refresh
/// windows (15 and 10 minutes). Inside it a caller waits only while a renewal is due: after
/// a failure the valid token is served until the session's [`Backoff`]
/// allows the next attempt.
///
/// ```
/// use std::time::Duration;
/// use auth_core::provider::{RenewalPolicy, RenewalWindows};
/// let p = RenewalPolicy::default();
/// // 10 % of a one-hour lifetime; callers wait in the last two thirds of that.
/// let w = p.windows(Some(Duration::from_secs(3600)));
/// assert_eq!((w.advisory, w.mandatory), (Duration::from_secs(360), Duration::from_secs(240)));
/// // A 1 s token: renewed from 0.4 s in, callers wait from 0.6 s in.
/// let w = p.windows(Some(Duration::from_secs(1)));
/// assert_eq!((w.advisory, w.mandatory), (Duration::from_millis(600), Duration::from_millis(400)));
/// // iPaaS.com forbids proactive refresh: no window at all.
/// assert_eq!(RenewalPolicy::OnExpiry.windows(Some(Duration::from_secs(60))), RenewalWindows::NONE);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum RenewalPolicy {
    /// Renew only once the token has actually expired (iPaaS.com forbids proactive refresh).
    OnExpiry,
    /// Renew ahead of expiry, in an advisory window of `min(max, max(fraction × lifetime,
    /// min(floor, 3/5 × lifetime)))` before it whose last two thirds are mandatory (see the
    /// type's documentation).
    Ahead {
        /// Upper bound of the advisory margin.
        max: Duration,
        /// Share of the lifetime used as advisory margin.
        fraction: f64,
        /// Lower bound of the advisory margin, for lifetimes that can afford it; a shorter
        /// lifetime gets 3/5 of itself.
        floor: Duration,
    },
}

impl Default for RenewalPolicy {
    /// Ahead: 10 % of the lifetime, at least 10 s (3/5 of a shorter lifetime), at most a day.
    fn default() -> Self {
        RenewalPolicy::Ahead {
            max: Duration::from_secs(86_400),
            fraction: 0.10,
            floor: Duration::from_secs(10),
        }
    }
}

/// A token's renewal windows, as durations before its expiry (see [`RenewalPolicy`]).
///
/// ```
/// let w = auth_core::provider::RenewalPolicy::default().windows(Some(std::time::Duration::from_secs(60)));
/// assert!(w.mandatory < w.advisory);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RenewalWindows {
    /// The advisory window opens this long before expiry: the renewal moment is drawn from
    /// the advisory window (`advisory` to `mandatory` before expiry), and from it a call starts
    /// a background renewal while the token is served.
    pub advisory: Duration,
    /// The mandatory window opens this long before expiry: callers wait for a due renewal.
    pub mandatory: Duration,
}

impl RenewalWindows {
    /// No window: renew once expired.
    pub const NONE: RenewalWindows = RenewalWindows {
        advisory: Duration::ZERO,
        mandatory: Duration::ZERO,
    };
}

impl RenewalPolicy {
    /// The renewal windows of a token of `lifetime` (see the type's documentation). A token
    /// whose lifetime is unknown gets the windows of a `floor`-long lifetime's floor.
    ///
    /// ```
    /// use std::time::Duration;
    /// let p = auth_core::provider::RenewalPolicy::default();
    /// let day = p.windows(Some(Duration::from_secs(86_400)));
    /// assert_eq!(day.advisory, Duration::from_secs(8_640));
    /// assert_eq!(day.mandatory, Duration::from_secs(5_760));
    /// ```
    pub fn windows(&self, lifetime: Option<Duration>) -> RenewalWindows {
        let RenewalPolicy::Ahead {
            max,
            fraction,
            floor,
        } = *self
        else {
            return RenewalWindows::NONE;
        };
        let advisory = match lifetime {
            None => floor.min(max),
            Some(lifetime) => {
                // `mul_f64` panics on NaN and on a product past `Duration::MAX`.
                let fraction = if fraction.is_nan() {
                    0.0
                } else {
                    fraction.clamp(0.0, 1.0)
                };
                let share = Duration::try_from_secs_f64(lifetime.as_secs_f64() * fraction)
                    .unwrap_or(lifetime)
                    .min(lifetime);
                let short = floor.min(lifetime / 5 * 3);
                share.max(short).min(max)
            }
        };
        RenewalWindows {
            advisory,
            mandatory: advisory / 3 * 2,
        }
    }

    /// How long before expiry a token of `lifetime` may start renewing: the advisory margin
    /// of [`windows`](Self::windows).
    ///
    /// ```
    /// use std::time::Duration;
    /// let p = auth_core::provider::RenewalPolicy::default();
    /// assert_eq!(p.margin(Some(Duration::from_secs(3600))), Duration::from_secs(360));
    /// // 10 % of 60 s is 6 s, raised to the 10 s floor.
    /// assert_eq!(p.margin(Some(Duration::from_secs(60))), Duration::from_secs(10));
    /// // A 2 s token gets 3/5 of its lifetime, not a floor it cannot afford.
    /// assert_eq!(p.margin(Some(Duration::from_secs(2))), Duration::from_millis(1200));
    /// assert_eq!(auth_core::provider::RenewalPolicy::OnExpiry.margin(Some(Duration::from_secs(60))), Duration::ZERO);
    /// ```
    pub fn margin(&self, lifetime: Option<Duration>) -> Duration {
        self.windows(lifetime).advisory
    }
}

/// What a session may do to get a new token.
///
/// ```
/// let c = auth_core::provider::Capabilities::default();
/// assert!(c.sign_in && c.refresh);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// A full sign-in from held credentials is possible.
    pub sign_in: bool,
    /// The vendor has a refresh-token grant.
    pub refresh: bool,
}

impl Default for Capabilities {
    fn default() -> Self {
        Capabilities {
            sign_in: true,
            refresh: true,
        }
    }
}

impl Capabilities {
    /// A credential that cannot be renewed at all (API key, static token, OTP session).
    ///
    /// ```
    /// assert!(!auth_core::provider::Capabilities::none().can_renew());
    /// ```
    pub fn none() -> Self {
        Capabilities {
            sign_in: false,
            refresh: false,
        }
    }

    /// Sign-in only, no refresh grant (platform, IntelePeer).
    ///
    /// ```
    /// assert!(auth_core::provider::Capabilities::sign_in_only().can_renew());
    /// ```
    pub fn sign_in_only() -> Self {
        Capabilities {
            sign_in: true,
            refresh: false,
        }
    }

    /// Whether any renewal is possible.
    ///
    /// ```
    /// assert!(auth_core::provider::Capabilities::default().can_renew());
    /// ```
    pub fn can_renew(&self) -> bool {
        self.sign_in || self.refresh
    }
}

/// A vendor's way of obtaining and using tokens. The [`Session`](crate::Session) calls it;
/// vendor crates implement it.
///
/// A provider for a vendor whose token lives a minute and that has no refresh grant: the
/// session signs in once, serves the token while it is valid, and signs in again after it
/// expired, on the injected clock.
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use std::time::Duration;
/// use auth_core::provider::{Capabilities, TokenProvider, async_trait};
/// use auth_core::{AccessToken, Error, Expiry, ManualClock, Session, TokenSet};
///
/// #[derive(Debug, Default)]
/// struct MinuteTokens { issued: AtomicU64, clock: ManualClock }
///
/// #[async_trait]
/// impl TokenProvider for MinuteTokens {
///     async fn sign_in(&self) -> Result<TokenSet, Error> {
///         let n = self.issued.fetch_add(1, Ordering::Relaxed) + 1;
///         let expiry = Expiry::lifetime_from(Duration::from_secs(60), auth_core::Clock::now(&self.clock));
///         Ok(TokenSet::new(AccessToken::new(format!("token-{n}")), expiry))
///     }
///     fn capabilities(&self) -> Capabilities {
///         Capabilities::sign_in_only()
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Error> {
/// let clock = ManualClock::new();
/// let http = auth_core::http::Http::new()?.with_clock(clock.clone());
/// let session = Session::new(MinuteTokens { clock: clock.clone(), ..Default::default() }, http);
/// assert_eq!(session.token().await?.tokens().access_token().expose(), "token-1");
/// assert_eq!(session.token().await?.tokens().access_token().expose(), "token-1");
/// clock.advance(Duration::from_secs(61));
/// assert_eq!(session.token().await?.tokens().access_token().expose(), "token-2");
/// assert_eq!(session.stats().sign_ins, 2);
/// # Ok(()) }
/// ```
#[async_trait]
pub trait TokenProvider: Send + Sync + fmt::Debug + 'static {
    /// The vendor's name as the session's traces report it (the `vendor` field of every
    /// span and event, see the crate's "Tracing" docs): static and never secret, by
    /// convention the vendor crate's name (`"iqm"`). The default is `"unnamed"`.
    fn name(&self) -> &'static str {
        "unnamed"
    }

    /// Obtain a fresh token set from the held credentials.
    async fn sign_in(&self) -> Result<TokenSet, Error>;

    /// Exchange the refresh token in `current` for a new set. The session carries over what
    /// the answer leaves out (see [`TokenSet::inherit_from`]).
    ///
    /// An error of kind [`ErrorKind::Unauthorized`] or [`ErrorKind::Rejected`] means the
    /// refresh token was refused; the session then falls back to [`sign_in`](Self::sign_in)
    /// when it can.
    async fn refresh(&self, current: &TokenSet) -> Result<TokenSet, Error> {
        let _ = current;
        Err(Error::new(
            ErrorKind::Config,
            "this provider has no refresh grant",
        ))
    }

    /// What renewals are possible. The default allows both sign-in and refresh.
    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }

    /// When to renew. The default renews ahead of expiry by a margin.
    fn policy(&self) -> RenewalPolicy {
        RenewalPolicy::default()
    }

    /// Put the token (and any extra headers, such as a workspace id) on a request.
    /// The default is `Authorization: Bearer <access token>`.
    fn authorize(&self, tokens: &TokenSet, headers: &mut HeaderMap) -> Result<(), Error> {
        AuthScheme::Bearer.apply(tokens, headers)
    }

    /// Put the token on `request`, seeing its method and URL (for a vendor whose header
    /// scheme differs per API). The default calls [`authorize`](Self::authorize).
    fn authorize_request(
        &self,
        tokens: &TokenSet,
        request: &mut reqwest::Request,
    ) -> Result<(), Error> {
        self.authorize(tokens, request.headers_mut())
    }

    /// Whether a 401 answer to an authorized call means the token was rejected (so the
    /// session renews and retries once). `error` is the answer already parsed by the vendor's
    /// error parser. The default is `true`; a vendor whose 401 can also mean something else
    /// (an end user's wrong password on a login endpoint) says `false` for that case, and the
    /// error surfaces without a renewal.
    fn rejects_token(&self, error: &Error) -> bool {
        let _ = error;
        true
    }

    /// The credentials this provider holds (passwords, client secrets, API keys, OTP codes).
    /// The session removes every echo of them (and of the current tokens) from every error
    /// it returns, sign-in errors included, whether or not the vendor code that read the
    /// answer remembered to. The default is none.
    fn secrets(&self) -> Vec<&SecretString> {
        Vec::new()
    }

    /// The non-secret parts that tell this vendor's accounts apart (a user name, an email,
    /// a client id). With the base URL and [`secrets`](Self::secrets) they make the key a
    /// token store shares the token set under (hashed, never stored in clear), so two
    /// accounts never share a set, even with the same password. The default is none: then
    /// the secrets alone must tell the accounts apart.
    fn identity(&self) -> Vec<&str> {
        Vec::new()
    }

    /// The error a caller sees when the session needs renewing but the provider cannot
    /// renew it (for example an OTP session: only the user can start a new one).
    fn renewal_impossible(&self) -> Error {
        Error::new(
            ErrorKind::SessionExpired,
            "token expired and no credentials are held to sign in again",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_margin_from_any_fraction_never_panics() {
        let hour = Some(Duration::from_secs(3600));
        for fraction in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -1.0, 2.0, 0.1] {
            let policy = RenewalPolicy::Ahead {
                max: Duration::from_secs(300),
                fraction,
                floor: Duration::from_secs(10),
            };
            let m = policy.margin(hour);
            assert!(
                m >= Duration::from_secs(10) && m <= Duration::from_secs(300),
                "{m:?}"
            );
            assert!(policy.margin(Some(Duration::MAX)) <= Duration::from_secs(300));
        }
    }

    #[test]
    fn the_default_windows_for_the_lifetimes_the_vendors_use() {
        let ms = Duration::from_millis;
        let s = Duration::from_secs;
        let p = RenewalPolicy::default();
        for (lifetime, advisory, mandatory) in [
            (ms(1_000), ms(600), ms(400)),
            (s(2), ms(1_200), ms(800)),
            (s(10), s(6), s(4)),
            (s(60), s(10), Duration::from_nanos(6_666_666_666)),
            (s(600), s(60), s(40)),
            (s(3_600), s(360), s(240)),
            (s(36_000), s(3_600), s(2_400)),
            (s(86_400), s(8_640), s(5_760)),
            (s(30 * 86_400), s(86_400), s(57_600)),
        ] {
            let w = p.windows(Some(lifetime));
            assert_eq!(
                (w.advisory, w.mandatory),
                (advisory, mandatory),
                "{lifetime:?}"
            );
            // A token is always served a while, and renewed before it expires.
            assert!(
                w.mandatory < w.advisory && w.advisory < lifetime,
                "{lifetime:?}"
            );
        }
        assert_eq!(p.windows(Some(Duration::ZERO)), RenewalWindows::NONE);
        assert_eq!(p.windows(None).advisory, s(10));
        assert_eq!(RenewalPolicy::OnExpiry.windows(None), RenewalWindows::NONE);
    }
}
