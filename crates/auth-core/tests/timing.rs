//! Session timing against a vendor with its own clock (issue 13), over real HTTP
//! (httpmock), every instant on the injected manual clock:
//!
//! - absolute expiries re-based with the `Date` header, so a local clock ahead of or behind
//!   the vendor's sends no expired token and renews once per real expiry;
//! - no token known expired goes on the wire: an answer expired on arrival is renewed at
//!   once, a second one in a row is used while renewals back off;
//! - 1 s tokens renewed ahead like any other;
//! - renewal moments of a fleet spread over the advisory window;
//! - a failing background renewal retried on the backoff schedule, not per call.
//!
//! The vendor below checks every bearer token against *its* clock: a request carrying a
//! token expired there is answered 401 and counted.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use auth_core::{
    AccessToken, Clock as _, Error, ErrorKind, Expiry, ManualClock, RefreshToken, Session,
    TokenSet,
    http::Http,
    provider::{Backoff, Capabilities, RenewalPolicy, TokenProvider},
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use httpmock::prelude::*;
use httpmock::{HttpMockRequest, HttpMockResponse};
use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

const SECOND: Duration = Duration::from_secs(1);
const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);

/// How a provider reads the token answer's expiry, as the vendors do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// `expires_at`, RFC 3339 with milliseconds (iPaaS.com's `access_token_expiration`).
    Rfc3339,
    /// The access token is a JWT; its `exp` (platform, IntelePeer).
    Jwt,
    /// `expires_in` seconds from receipt (IQM).
    ExpiresIn,
}

/// What the vendor answers to its `n`-th token request (from 1): the token's lifetime on the
/// vendor's clock in milliseconds, negative for one that expired before it was issued.
type Plan = Arc<dyn Fn(u64) -> i64 + Send + Sync>;

/// A vendor whose clock is the local manual clock plus `offset_ms`.
struct Vendor {
    server: MockServer,
    clock: ManualClock,
    http: Http,
    /// While set, `/refresh` answers 503.
    refresh_fails: Arc<AtomicBool>,
    /// Every token request: (path, local time).
    token_requests: Arc<Mutex<Vec<(String, SystemTime)>>>,
    /// Every authorized call: (token, valid on the vendor's clock).
    api_calls: Arc<Mutex<Vec<(String, bool)>>>,
}

fn vendor_time(local: SystemTime, offset_ms: i64) -> SystemTime {
    let d = Duration::from_millis(offset_ms.unsigned_abs());
    if offset_ms >= 0 { local + d } else { local - d }
}

fn rfc3339(t: SystemTime) -> String {
    time::OffsetDateTime::from(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

fn jwt(exp: SystemTime, n: u64) -> String {
    let exp = exp.duration_since(UNIX_EPOCH).unwrap().as_secs();
    let b = |v: serde_json::Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.sig",
        b(json!({"alg": "none"})),
        b(json!({"exp": exp, "jti": n}))
    )
}

impl Vendor {
    /// `offset`: the vendor's clock minus ours (a local clock 10 min ahead is `-600_000`).
    async fn start(offset_ms: i64, plan: Plan) -> Vendor {
        let server = MockServer::start_async().await;
        let clock = ManualClock::new();
        let http = Http::new().unwrap().with_clock(clock.clone());
        let offset = Arc::new(AtomicI64::new(offset_ms));
        let issued: Arc<Mutex<HashMap<String, SystemTime>>> = Arc::default();
        let token_requests: Arc<Mutex<Vec<(String, SystemTime)>>> = Arc::default();
        let api_calls: Arc<Mutex<Vec<(String, bool)>>> = Arc::default();
        let serial = Arc::new(AtomicU64::new(0));
        let refresh_fails = Arc::new(AtomicBool::new(false));
        for path in ["/token", "/refresh"] {
            let (clock, offset, issued, log, serial, plan, fails) = (
                clock.clone(),
                offset.clone(),
                issued.clone(),
                token_requests.clone(),
                serial.clone(),
                plan.clone(),
                refresh_fails.clone(),
            );
            server
                .mock_async(move |when, then| {
                    when.method(POST).path(path);
                    then.respond_with(move |_req: &HttpMockRequest| {
                        let local = clock.now();
                        log.lock().unwrap().push((path.to_owned(), local));
                        if path == "/refresh" && fails.load(Ordering::SeqCst) {
                            return HttpMockResponse::builder()
                                .status(503)
                                .body("maintenance")
                                .build();
                        }
                        let now = vendor_time(local, offset.load(Ordering::SeqCst));
                        let n = serial.fetch_add(1, Ordering::SeqCst) + 1;
                        let lifetime_ms = plan(n);
                        let expires = vendor_time(now, lifetime_ms);
                        let access = jwt(expires, n);
                        issued.lock().unwrap().insert(access.clone(), expires);
                        let body = json!({
                            "access_token": access,
                            "refresh_token": format!("refresh-{n}"),
                            "expires_at": rfc3339(expires),
                            "expires_in": (lifetime_ms.max(0) / 1000),
                        });
                        HttpMockResponse::builder()
                            .status(200)
                            .header("content-type", "application/json")
                            .header("date", httpdate::fmt_http_date(now))
                            .body(body.to_string())
                            .build()
                    });
                })
                .await;
        }
        let (clock2, offset2, calls) = (clock.clone(), offset, api_calls.clone());
        server
            .mock_async(move |when, then| {
                when.path("/api");
                then.respond_with(move |req: &HttpMockRequest| {
                    let token = req
                        .headers()
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.strip_prefix("Bearer "))
                        .unwrap_or_default()
                        .to_owned();
                    let now = vendor_time(clock2.now(), offset2.load(Ordering::SeqCst));
                    let valid = issued
                        .lock()
                        .unwrap()
                        .get(&token)
                        .is_some_and(|exp| now < *exp);
                    calls.lock().unwrap().push((token, valid));
                    HttpMockResponse::builder()
                        .status(if valid { 200 } else { 401 })
                        .body("{}")
                        .build()
                });
            })
            .await;
        Vendor {
            server,
            clock,
            http,
            refresh_fails,
            token_requests,
            api_calls,
        }
    }

    fn provider(&self, form: Form, use_date: bool, kind: Kind) -> TimingProvider {
        TimingProvider {
            http: self.http.clone(),
            base: self.server.base_url(),
            form,
            use_date,
            capabilities: kind.capabilities(),
            policy: kind.policy(),
        }
    }

    fn session(&self, form: Form, use_date: bool, kind: Kind) -> Session {
        Session::new(self.provider(form, use_date, kind), self.http.clone())
    }

    fn api(&self) -> reqwest::RequestBuilder {
        self.http.request(Method::GET, self.server.url("/api"))
    }

    /// Token requests so far, by path.
    fn token_counts(&self) -> (usize, usize) {
        let log = self.token_requests.lock().unwrap();
        let logins = log.iter().filter(|(p, _)| p == "/token").count();
        (logins, log.len() - logins)
    }

    fn token_moments(&self) -> Vec<SystemTime> {
        let log = self.token_requests.lock().unwrap();
        log.iter().map(|(_, t)| *t).collect()
    }

    fn refresh_attempts(&self) -> usize {
        self.token_counts().1
    }

    /// Authorized calls that carried a token expired on the vendor's clock.
    fn expired_sent(&self) -> usize {
        let calls = self.api_calls.lock().unwrap();
        calls.iter().filter(|(_, valid)| !valid).count()
    }

    fn api_count(&self) -> usize {
        self.api_calls.lock().unwrap().len()
    }
}

/// The renewal habits of the vendors with absolute expiries.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// iPaaS.com: refresh grant, renew only once expired.
    Ipaas,
    /// platform / IntelePeer: sign in again, ahead of expiry.
    SignInAhead,
    /// Refresh grant, ahead of expiry (IQM's habits).
    RefreshAhead,
}

impl Kind {
    fn capabilities(self) -> Capabilities {
        match self {
            Kind::Ipaas | Kind::RefreshAhead => Capabilities::default(),
            Kind::SignInAhead => Capabilities::sign_in_only(),
        }
    }

    fn policy(self) -> RenewalPolicy {
        match self {
            Kind::Ipaas => RenewalPolicy::OnExpiry,
            Kind::SignInAhead | Kind::RefreshAhead => RenewalPolicy::default(),
        }
    }
}

#[derive(Debug)]
struct TimingProvider {
    http: Http,
    base: String,
    form: Form,
    use_date: bool,
    capabilities: Capabilities,
    policy: RenewalPolicy,
}

#[derive(Deserialize)]
struct Answer {
    access_token: String,
    refresh_token: String,
    expires_at: String,
    expires_in: u64,
}

impl TimingProvider {
    async fn fetch(&self, path: &str) -> Result<TokenSet, Error> {
        let req = self
            .http
            .request(Method::POST, format!("{}{path}", self.base));
        let resp = self.http.send(req, &[]).await?;
        // What every provider with an absolute expiry should do.
        let date = auth_core::http::server_date(resp.headers()).filter(|_| self.use_date);
        let a: Answer = auth_core::http::read_json(resp).await?;
        let now = self.http.now();
        let expiry = match self.form {
            Form::Rfc3339 => Expiry::from_rfc3339(&a.expires_at, now)?,
            Form::Jwt => Expiry::from_jwt(&a.access_token, now)?,
            Form::ExpiresIn => Expiry::from_expires_in(a.expires_in, now),
        };
        Ok(TokenSet::new(AccessToken::new(a.access_token), expiry)
            .with_refresh_token(Some(RefreshToken::new(a.refresh_token)))
            .with_server_date(date))
    }
}

#[async_trait]
impl TokenProvider for TimingProvider {
    async fn sign_in(&self) -> Result<TokenSet, Error> {
        self.fetch("/token").await
    }

    async fn refresh(&self, current: &TokenSet) -> Result<TokenSet, Error> {
        current
            .refresh_token()
            .ok_or_else(|| Error::new(ErrorKind::Config, "no refresh token"))?;
        self.fetch("/refresh").await
    }

    fn capabilities(&self) -> Capabilities {
        self.capabilities
    }

    fn policy(&self) -> RenewalPolicy {
        self.policy
    }
}

fn plan(f: impl Fn(u64) -> i64 + Send + Sync + 'static) -> Plan {
    Arc::new(f)
}

fn hours(n: u64) -> i64 {
    i64::try_from(n * 3_600_000).unwrap()
}

// ---- expired on arrival -----------------------------------------------------------------

#[tokio::test]
async fn a_login_expired_on_arrival_is_renewed_at_once_and_never_sent() {
    // Every vendor with an absolute expiry, its clock in step with ours, `Date` given.
    for (form, kind, want) in [
        (Form::Rfc3339, Kind::Ipaas, (1, 1)),
        (Form::Jwt, Kind::SignInAhead, (2, 0)),
        (Form::Jwt, Kind::RefreshAhead, (1, 1)),
    ] {
        let expired_then_hour = plan(|n| if n == 1 { -60_000 } else { hours(1) });
        let vendor = Vendor::start(0, expired_then_hour).await;
        let session = vendor.session(form, true, kind);
        for _ in 0..20 {
            vendor.clock.advance(SECOND);
            session.send(vendor.api()).await.unwrap();
        }
        assert_eq!(vendor.expired_sent(), 0, "{form:?} {kind:?}");
        assert_eq!(vendor.api_count(), 20);
        assert_eq!(
            vendor.token_counts(),
            want,
            "{form:?} {kind:?}: (logins, refreshes)"
        );
        let s = session.stats();
        assert_eq!(
            (s.expired_on_arrival, s.expiries, s.unauthorized),
            (1, 0, 0)
        );
        // The first token (a login answered with an expiry a minute ago) never went out.
        assert!(
            vendor
                .api_calls
                .lock()
                .unwrap()
                .iter()
                .all(|(t, _)| *t == session.current().unwrap().tokens().access_token().expose())
        );
    }
}

#[tokio::test]
async fn both_renewals_expired_on_arrival_back_off_instead_of_renewing_per_call() {
    // Our clock runs 2 h ahead of the vendor's and it sends no `Date`: every one-hour token
    // looks an hour expired on arrival, yet the vendor accepts it. Calls every 100 ms for
    // a simulated minute.
    async fn minute(seed: u64) -> (Vec<Duration>, usize, Session) {
        let vendor = Vendor::start(-hours(2), plan(|_| hours(1))).await;
        let session = vendor
            .session(Form::Jwt, false, Kind::RefreshAhead)
            .with_jitter_seed(seed);
        let start = vendor.clock.now();
        for _ in 0..600 {
            session.send(vendor.api()).await.unwrap();
            vendor.clock.advance(Duration::from_millis(100));
        }
        assert_eq!(
            vendor.expired_sent(),
            0,
            "the vendor's clock says they are valid"
        );
        let moments = vendor
            .token_moments()
            .iter()
            .map(|t| t.duration_since(start).unwrap())
            .collect();
        (moments, vendor.api_count(), session)
    }
    let (moments, calls, session) = minute(5).await;
    println!("token requests over the minute at {moments:?}");
    assert_eq!(calls, 600);
    // A login and one immediate refresh, both at once; then one renewal per backoff step.
    assert_eq!(&moments[..2], &[Duration::ZERO, Duration::ZERO]);
    let backoff = Backoff::default();
    for (k, pair) in moments[1..].windows(2).enumerate() {
        let top = backoff.ceiling(u32::try_from(k + 1).unwrap());
        let gap = pair[1] - pair[0];
        // Drawn from [top/2, top], seen at the next 100 ms call.
        assert!(
            gap >= top / 2 && gap <= top + Duration::from_millis(100),
            "gap {k}: {gap:?} for a backoff of at most {top:?}"
        );
    }
    // 1, 2, 4, 8, 16, 32 s steps (each drawn in [half, full]): 5 or 6 fit in the minute,
    // against 600 calls.
    assert!((7..=8).contains(&moments.len()), "{}", moments.len());
    let s = session.stats();
    assert_eq!(
        (s.expired_on_arrival, s.expiries),
        (u64::try_from(moments.len()).unwrap(), 0)
    );
    // Deterministic under the same seed.
    assert_eq!(minute(5).await.0, moments);

    // With the `Date` header the same vendor costs one sign-in: the tokens are re-based.
    let vendor = Vendor::start(-hours(2), plan(|_| hours(1))).await;
    let session = vendor.session(Form::Jwt, true, Kind::RefreshAhead);
    for _ in 0..600 {
        session.send(vendor.api()).await.unwrap();
        vendor.clock.advance(Duration::from_millis(100));
    }
    assert_eq!(vendor.token_counts(), (1, 0));
    assert_eq!(session.stats().expired_on_arrival, 0);
    assert_eq!(session.stats().clock_skew_ms, Some(hours(2)));
}

// ---- clocks ahead and behind -------------------------------------------------------------

/// 24 simulated hours of a call a minute, one-hour tokens, the vendor's clock `offset_ms`
/// from ours.
async fn day(offset_ms: i64, form: Form, kind: Kind, use_date: bool) -> (Vendor, Session) {
    let vendor = Vendor::start(offset_ms, plan(|_| hours(1))).await;
    let session = vendor.session(form, use_date, kind).with_jitter_seed(13);
    for _ in 0..24 * 60 {
        let before = session.current();
        let _ = session.send(vendor.api()).await;
        session.settle().await;
        let after = session.current().unwrap();
        // Every renewal ahead happened inside the advisory or mandatory window of the token
        // it replaced (a minute's call granularity), never while it was fresh.
        if let Some(b) = before.filter(|b| b.generation() != after.generation())
            && matches!(kind, Kind::SignInAhead | Kind::RefreshAhead)
            && use_date
        {
            let now = vendor.clock.now();
            let advisory = b.advisory_at().unwrap();
            assert!(
                now >= advisory && now < advisory + MINUTE,
                "renewed {:?} after the advisory moment",
                now.duration_since(advisory)
            );
        }
        vendor.clock.advance(MINUTE);
    }
    (vendor, session)
}

#[tokio::test]
async fn clocks_ten_minutes_apart_with_date_send_no_expired_token_and_renew_once_per_expiry() {
    for offset_ms in [-600_000, 600_000] {
        // iPaaS.com (on expiry): one renewal per real expiry, exactly.
        let (vendor, session) = day(offset_ms, Form::Rfc3339, Kind::Ipaas, true).await;
        assert_eq!(vendor.expired_sent(), 0, "offset {offset_ms}");
        assert_eq!(
            vendor.token_counts(),
            (1, 23),
            "offset {offset_ms}: a sign-in and one refresh per hour"
        );
        let s = session.stats();
        assert_eq!(
            (s.expiries, s.unauthorized, s.expired_on_arrival),
            (23, 0, 0)
        );
        assert_eq!(s.clock_skew_ms, Some(-offset_ms));

        // Renewing ahead (platform, IntelePeer: JWT, sign in again): every token renewed
        // once, at the first call after its moment (checked in `day`), never a storm. Its
        // moment is 54 to 56 minutes in, so with a call a minute a token lives 54, 55 or 56
        // minutes: 25 or 26 renewals in a day where 23 expiries would come.
        let (vendor, session) = day(offset_ms, Form::Jwt, Kind::SignInAhead, true).await;
        assert_eq!(vendor.expired_sent(), 0, "offset {offset_ms}");
        let (logins, refreshes) = vendor.token_counts();
        assert_eq!(refreshes, 0);
        assert!((26..=27).contains(&logins), "{logins} sign-ins");
        let s = session.stats();
        assert_eq!(
            (s.expiries, s.unauthorized, s.expired_on_arrival),
            (0, 0, 0)
        );
        assert_eq!(s.sign_ins, u64::try_from(logins).unwrap());
    }
}

#[tokio::test]
async fn without_date_the_same_clocks_send_expired_tokens_or_renew_early() {
    // The control for the test above: the re-basing is what makes the difference.
    // Our clock 10 min behind the vendor's: each token is used 10 min past its real expiry
    // (recovered by the 401 retry, which the vendor's clock forces).
    let (vendor, session) = day(600_000, Form::Rfc3339, Kind::Ipaas, false).await;
    assert!(vendor.expired_sent() >= 23, "{}", vendor.expired_sent());
    assert!(session.stats().unauthorized >= 23);
    // 10 min ahead: tokens look 50 minutes long and are renewed early, 28 times, not 24.
    let (vendor, _) = day(-600_000, Form::Rfc3339, Kind::Ipaas, false).await;
    assert_eq!(vendor.expired_sent(), 0);
    assert_eq!(vendor.token_counts(), (1, 28));
}

// ---- short tokens ------------------------------------------------------------------------

#[tokio::test]
async fn one_second_tokens_are_renewed_ahead_and_every_call_carries_a_valid_token() {
    for form in [Form::ExpiresIn, Form::Rfc3339] {
        // Calls 0.6 s apart: each lands at 3/5 of its token's life, where the mandatory
        // window opens, so every call after the first waits for one renewal ahead of expiry.
        let vendor = Vendor::start(0, plan(|_| 1_000)).await;
        let session = vendor.session(form, true, Kind::RefreshAhead);
        for _ in 0..100 {
            session.send(vendor.api()).await.unwrap();
            vendor.clock.advance(Duration::from_millis(600));
        }
        assert_eq!(vendor.expired_sent(), 0, "{form:?}");
        assert_eq!(vendor.api_count(), 100);
        assert_eq!(vendor.token_counts(), (1, 99), "{form:?}");
        let s = session.stats();
        assert_eq!(
            (s.expiries, s.unauthorized, s.expired_on_arrival),
            (0, 0, 0)
        );

        // Calls 0.25 s apart: a renewal starts in the background at 0.5 s when the token's
        // moment (0.4 s to 0.6 s) has come, else the call at 0.75 s waits for one; never
        // after expiry, and never more than one per token.
        let vendor = Vendor::start(0, plan(|_| 1_000)).await;
        let session = vendor
            .session(form, true, Kind::RefreshAhead)
            .with_jitter_seed(3);
        for _ in 0..400 {
            session.send(vendor.api()).await.unwrap();
            session.settle().await;
            vendor.clock.advance(Duration::from_millis(250));
        }
        assert_eq!(vendor.expired_sent(), 0, "{form:?}");
        let (_, refreshes) = vendor.token_counts();
        // A token lives 2 or 3 calls: 400 calls renew between 133 and 200 times.
        assert!((133..=200).contains(&refreshes), "{refreshes}");
        let s = session.stats();
        assert_eq!((s.expiries, s.unauthorized), (0, 0));
    }
}

// ---- a fleet -----------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_sessions_spread_their_renewals_over_the_advisory_window() {
    let vendor = Vendor::start(0, plan(|_| hours(1))).await;
    let fleet: Vec<Session> = (0..1000)
        .map(|seed| {
            vendor
                .session(Form::ExpiresIn, true, Kind::RefreshAhead)
                .with_jitter_seed(seed)
        })
        .collect();
    for s in &fleet {
        s.token().await.unwrap();
    }
    let t0 = vendor.clock.now();
    let w = RenewalPolicy::default().windows(Some(HOUR));
    let (opens, mandatory) = (t0 + HOUR - w.advisory, t0 + HOUR - w.mandatory);

    // Each session's renewal moment, drawn from its token's advisory window.
    let drawn: Vec<SystemTime> = fleet
        .iter()
        .map(|s| s.current().unwrap().advisory_at().unwrap())
        .collect();

    // A call a minute until just before the window, then one each 100 ms through the hour
    // (to the sessions not renewed yet: the others hold a fresh token).
    let step = Duration::from_millis(100);
    let mut renewed_at: Vec<Option<SystemTime>> = vec![None; fleet.len()];
    while vendor.clock.now() < t0 + HOUR {
        let coarse = vendor.clock.now() + MINUTE < opens;
        vendor.clock.advance(if coarse { MINUTE } else { step });
        let now = vendor.clock.now();
        for (s, at) in fleet.iter().zip(renewed_at.iter_mut()) {
            if at.is_some() {
                continue;
            }
            let before = s.current().unwrap().generation();
            let lease = s.token().await.unwrap();
            assert!(lease.tokens().expiry().expires_at().unwrap() > now);
            s.settle().await;
            if s.current().unwrap().generation() != before {
                *at = Some(now);
            }
        }
    }
    let since = |t: SystemTime| t.duration_since(t0).unwrap();
    let moments: Vec<Duration> = renewed_at
        .iter()
        .map(|t| since(t.expect("every session renewed")))
        .collect();
    let (first, last) = (
        *moments.iter().min().unwrap(),
        *moments.iter().max().unwrap(),
    );
    let window = mandatory.duration_since(opens).unwrap();
    let mut buckets = [0u32; 12];
    for m in &moments {
        let into = m.saturating_sub(since(opens));
        let i = usize::try_from(into.as_millis() * 12 / window.as_millis()).unwrap();
        buckets[i.min(11)] += 1;
    }
    println!(
        "1000 sessions, 1 h tokens: renewals from {first:?} to {last:?} after sign-in, a \
         spread of {:?} over the advisory window of {window:?} ({:?} to {:?}); per 10 s \
         of it: {buckets:?}",
        last - first,
        since(opens),
        since(mandatory),
    );
    // Every moment was drawn from the advisory window, and every session renewed at the
    // first call after its moment.
    assert!(drawn.iter().all(|d| *d >= opens && *d <= mandatory));
    for (d, at) in drawn.iter().zip(&renewed_at) {
        let late = at.unwrap().duration_since(*d).unwrap();
        assert!(late < step, "renewed {late:?} after its moment");
    }
    // None in the mandatory window but those whose moment fell in the window's last call
    // interval (the next call is the mandatory window's first).
    let in_mandatory = moments.iter().filter(|m| t0 + **m >= mandatory).count();
    let drawn_last_step = drawn.iter().filter(|d| **d + step > mandatory).count();
    println!("renewed at the mandatory window's opening call: {in_mandatory}");
    assert_eq!(in_mandatory, drawn_last_step);
    assert!(in_mandatory <= 5);
    assert!(
        moments.iter().all(|m| t0 + *m >= opens),
        "none before the window"
    );
    assert!(last - first >= window * 9 / 10, "covers most of the window");
    // Evenly: no 10 s of the window holds under half or over twice its share (83).
    assert!(
        buckets.iter().all(|b| (41..=167).contains(b)),
        "{buckets:?}"
    );
    assert_eq!(vendor.token_counts(), (1000, 1000));
    assert_eq!(vendor.expired_sent(), 0);
}

// ---- a failing background renewal ---------------------------------------------------------

#[tokio::test]
async fn a_failing_background_renewal_is_retried_on_the_backoff_schedule_while_the_token_is_served()
{
    let vendor = Vendor::start(0, plan(|_| hours(1))).await;
    vendor.refresh_fails.store(true, Ordering::SeqCst);
    let session = vendor
        .session(Form::ExpiresIn, true, Kind::RefreshAhead)
        .with_jitter_seed(21);
    session.send(vendor.api()).await.unwrap();
    let first = session.current().unwrap();
    let expires = first.tokens().expiry().expires_at().unwrap();
    let served = first.tokens().access_token().expose().to_owned();

    // A call a second from the renewal moment to expiry.
    let start = first.advisory_at().unwrap();
    vendor.clock.set(start);
    let mut attempts: Vec<Duration> = Vec::new();
    let mut calls = 0;
    while vendor.clock.now() < expires {
        let before = vendor.refresh_attempts();
        session.send(vendor.api()).await.unwrap();
        session.settle().await;
        calls += 1;
        if vendor.refresh_attempts() > before {
            assert_eq!(vendor.refresh_attempts(), before + 1);
            attempts.push(vendor.clock.now().duration_since(start).unwrap());
        }
        vendor.clock.advance(SECOND);
    }
    println!("{calls} calls, refresh attempts at {attempts:?} after the renewal moment");
    assert!(
        vendor
            .api_calls
            .lock()
            .unwrap()
            .iter()
            .all(|(t, ok)| *t == served && *ok),
        "the valid token was served throughout"
    );
    assert_eq!(attempts[0], Duration::ZERO);
    let backoff = Backoff::default();
    for (k, pair) in attempts.windows(2).enumerate() {
        let top = backoff.ceiling(u32::try_from(k + 1).unwrap());
        let gap = pair[1] - pair[0];
        assert!(
            gap >= top / 2 && gap <= top + SECOND,
            "gap {k}: {gap:?}, backoff at most {top:?}"
        );
    }
    // The count the schedule allows in the time the token had left, not one per call.
    let span = expires.duration_since(start).unwrap();
    let fits = |pick: fn(Duration) -> Duration| {
        let (mut t, mut n) = (Duration::ZERO, 1);
        loop {
            t += pick(backoff.ceiling(n));
            if t >= span {
                return usize::try_from(n).unwrap();
            }
            n += 1;
        }
    };
    let (fewest, most) = (fits(|top| top + SECOND), fits(|top| top / 2));
    assert!(
        (fewest..=most).contains(&attempts.len()),
        "{} attempts in {span:?}, the schedule allows {fewest}..={most}",
        attempts.len()
    );
    assert!(attempts.len() * 5 < calls);
    let s = session.stats();
    assert_eq!(
        s.renewal_retries, 0,
        "no in-line retries while the token is valid"
    );
    assert_eq!(s.renewal_failures, u64::try_from(attempts.len()).unwrap());

    // Expired: every caller gets a fresh attempt (with the in-line retries), whatever the
    // backoff says; the failure is not cached.
    for call in 1..=3 {
        let before = vendor.refresh_attempts();
        let e = session.send(vendor.api()).await.unwrap_err();
        assert!(e.is_transient(), "{e:?}");
        assert_eq!(vendor.refresh_attempts() - before, 3, "call {call}");
    }
    // And the first caller once the endpoint is back gets a new token.
    vendor.refresh_fails.store(false, Ordering::SeqCst);
    session.send(vendor.api()).await.unwrap();
    assert_ne!(
        session.current().unwrap().tokens().access_token().expose(),
        served
    );
    assert_eq!(vendor.expired_sent(), 0);
    assert_eq!(session.stats().expiries, 1);
}
