//! What the session emits through `tracing` (auth-core's `tracing` feature), seen by a
//! subscriber that records every span and event with all of its fields: every vendor driven
//! through failed logins that echo its secrets, a sign-in, a renewal past expiry and two
//! 401 recoveries (an injected 401, and the sandbox expiring the token) records exactly the
//! spans and events expected, and no secret in any encoding; the span tree of one renewal is
//! a snapshot; the hot path (a valid token) records nothing.
//!
//! The recorder is installed per test with `set_default` on a current-thread runtime, so
//! the renewal tasks the session spawns run on the thread that sees it, and tests running
//! in parallel never see each other's spans.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use auth_core::ManualClock;
use auth_core::sandbox::{Fault, Tokens, VendorSandbox, echoes};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};
use tracing_core::span::Current;

/// One span or event as recorded: its fields as text, every value the code gave.
#[derive(Debug, Clone)]
struct Item {
    span: bool,
    id: u64,
    parent: Option<u64>,
    name: &'static str,
    target: String,
    level: tracing::Level,
    fields: BTreeMap<String, String>,
}

impl Item {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }

    fn ours(&self) -> bool {
        self.target.starts_with("auth_core")
    }
}

#[derive(Default)]
struct State {
    items: Vec<Item>,
    metadata: BTreeMap<u64, &'static Metadata<'static>>,
    stack: Vec<u64>,
}

/// A subscriber that records every span and event, at every level, from every target.
#[derive(Clone, Default)]
struct Recorder {
    state: Arc<Mutex<State>>,
    next: Arc<AtomicU64>,
}

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl Recorder {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    /// Everything recorded so far, in order, and forget it.
    fn take(&self) -> Vec<Item> {
        std::mem::take(&mut self.lock().items)
    }

    fn parent(&self, explicit: Option<&Id>, contextual: bool) -> Option<u64> {
        match explicit {
            Some(id) => Some(id.into_u64()),
            None if contextual => self.lock().stack.last().copied(),
            None => None,
        }
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::TRACE)
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let parent = self.parent(span.parent(), span.is_contextual());
        let mut fields = BTreeMap::new();
        span.record(&mut Fields(&mut fields));
        let meta = span.metadata();
        let mut state = self.lock();
        state.metadata.insert(id, meta);
        state.items.push(Item {
            span: true,
            id,
            parent,
            name: meta.name(),
            target: meta.target().to_owned(),
            level: *meta.level(),
            fields,
        });
        Id::from_u64(id)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut state = self.lock();
        // A span recorded after `take` is found no more: its later fields are not needed.
        if let Some(item) = state
            .items
            .iter_mut()
            .find(|i| i.span && i.id == span.into_u64())
        {
            values.record(&mut Fields(&mut item.fields));
        }
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let parent = self.parent(event.parent(), event.is_contextual());
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        let meta = event.metadata();
        self.lock().items.push(Item {
            span: false,
            id: 0,
            parent,
            name: meta.name(),
            target: meta.target().to_owned(),
            level: *meta.level(),
            fields,
        });
    }

    fn enter(&self, span: &Id) {
        self.lock().stack.push(span.into_u64());
    }

    fn exit(&self, span: &Id) {
        let mut state = self.lock();
        if let Some(at) = state.stack.iter().rposition(|s| *s == span.into_u64()) {
            state.stack.remove(at);
        }
    }

    fn current_span(&self) -> Current {
        let state = self.lock();
        match state.stack.last() {
            Some(id) => Current::new(Id::from_u64(*id), state.metadata[id]),
            None => Current::none(),
        }
    }
}

/// A subscriber that wants nothing but keeps every callsite's interest "sometimes".
///
/// tracing caches each callsite's interest when it is first hit. While one dispatcher alone
/// is registered, that interest is asked of the *hitting thread's* default: a test on
/// another thread, with no subscriber, would cache "never" for a callsite of ours while a
/// recorder is installed here, and the recorder would miss it. With this second dispatcher
/// alive for the whole process the interest is asked of all of them, and is "sometimes":
/// every hit asks its own thread's subscriber.
struct Keeper;

impl Subscriber for Keeper {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> tracing_core::Interest {
        tracing_core::Interest::sometimes()
    }
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        false
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, _: &Event<'_>) {}
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

static KEEPER: std::sync::OnceLock<tracing::Dispatch> = std::sync::OnceLock::new();

/// Install `recorder` as this thread's subscriber until the guard drops (see [`Keeper`]).
fn install(recorder: &Recorder) -> tracing::subscriber::DefaultGuard {
    KEEPER.get_or_init(|| tracing::Dispatch::new(Keeper));
    tracing::subscriber::set_default(recorder.clone())
}

/// Every recorded name, target and field, one item a line.
fn render_all(items: &[Item]) -> String {
    let mut out = String::new();
    for i in items {
        writeln!(out, "{} {} {:?}", i.name, i.target, i.fields).unwrap();
    }
    out
}

/// The first echo of any of `secrets` (every encoding `echoes` makes but the straddling
/// ones, whose padding is not a secret) found in `text`.
fn leak(text: &str, secrets: &[String]) -> Option<String> {
    for secret in secrets {
        for (name, echo) in echoes(secret) {
            if !name.starts_with("straddling") && text.contains(echo.as_str()) {
                return Some(format!("{name} echo of a secret"));
            }
        }
    }
    None
}

fn named<'a>(items: &'a [Item], name: &str) -> Vec<&'a Item> {
    items
        .iter()
        .filter(|i| i.ours() && i.name == name)
        .collect()
}

fn ours(items: &[Item]) -> Vec<&Item> {
    items.iter().filter(|i| i.ours()).collect()
}

/// The renewal spans in `items`, as (kind, outcome) pairs, each checked to name `vendor`.
fn renewals(items: &[Item], vendor: &str) -> Vec<(String, String)> {
    named(items, "renewal")
        .into_iter()
        .map(|s| {
            assert!(s.span, "renewal is a span");
            assert_eq!(s.level, tracing::Level::INFO);
            assert_eq!(s.field("vendor"), Some(vendor), "{s:?}");
            assert!(s.field("duration_ms").is_some(), "{s:?}");
            (
                s.field("kind").unwrap_or_default().to_owned(),
                s.field("outcome").unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// Drive vendor `V` through every renewal path with the recorder installed; `renewal` is
/// the kind of renewal its credential makes after expiry, `None` for one nothing renews.
async fn drive<V: VendorSandbox>(vendor: &str, renewal: Option<&str>) {
    const LIFETIME: Duration = Duration::from_secs(3600);
    let name = V::NAME;
    let recorder = Recorder::default();
    let _installed = install(&recorder);
    let clock = ManualClock::new();
    let sandbox = V::start(clock.clone(), LIFETIME).await;
    let controls = sandbox.controls();
    let client = sandbox.client().unwrap();
    let mut seen = Vec::new();

    // Failed logins whose error bodies echo each credential, in every encoding: one failed
    // sign-in span each, its one attempt, and the backoff it starts.
    if renewal.is_some() {
        let mut cases = 0;
        for secret in sandbox.secrets() {
            for (case, echo) in echoes(&secret) {
                controls.inject_token(Fault::status(400, format!("bad credentials {echo}")));
                let before = controls.token_requests();
                let e = V::call(&client).await.expect_err(case);
                assert_eq!(e.status(), Some(400), "{name} {case}: {e:?}");
                assert_eq!(controls.token_requests(), before + 1, "{name} {case}");
                cases += 1;
            }
        }
        let items = recorder.take();
        let spans = renewals(&items, vendor);
        assert_eq!(spans.len(), cases, "{name}: {}", render_all(&items));
        assert!(
            spans.iter().all(|(k, o)| k == "sign-in" && o != "ok"),
            "{name}: {spans:?}"
        );
        let attempts = named(&items, "token_request");
        assert_eq!(attempts.len(), cases, "{name}");
        assert!(
            attempts
                .iter()
                .all(|a| a.level == tracing::Level::WARN && a.field("status") == Some("400"))
        );
        assert_eq!(named(&items, "renewal_backoff").len(), cases, "{name}");
        assert_eq!(
            ours(&items).len(),
            3 * cases,
            "{name}: {}",
            render_all(&items)
        );
        seen.extend(items);
    }

    // The sign-in: one span (none for a credential handed over whole).
    V::call(&client).await.unwrap();
    let items = recorder.take();
    let spans = renewals(&items, vendor);
    match renewal {
        Some(_) => assert_eq!(spans, [("sign-in".to_owned(), "ok".to_owned())], "{name}"),
        None => assert_eq!(spans, [], "{name}"),
    }
    seen.extend(items);

    // Authorized calls whose error bodies echo every secret, tokens included: an error
    // answer that is not a 401 emits nothing.
    for secret in controls.recorder().secrets() {
        for (case, echo) in echoes(&secret) {
            controls.inject(Fault::status(422, format!("bad request {echo}")));
            let e = V::call(&client).await.expect_err(case);
            assert_eq!(e.status(), Some(422), "{name} {case}: {e:?}");
        }
    }
    let items = recorder.take();
    assert_eq!(ours(&items).len(), 0, "{name}: {}", render_all(&items));
    seen.extend(items);

    // Past expiry: one renewal, of the credential's kind.
    clock.advance(LIFETIME + Duration::from_secs(1));
    let result = V::call(&client).await;
    let items = recorder.take();
    let spans = renewals(&items, vendor);
    match renewal {
        Some(kind) => {
            result.unwrap();
            assert_eq!(spans, [(kind.to_owned(), "ok".to_owned())], "{name}");
        }
        // A handed-over credential that expired is not renewed: no span, nothing sent.
        None => assert_eq!(spans, [], "{name}"),
    }
    seen.extend(items);

    // Two 401s, one injected and one the sandbox answers for a token it expired: each one
    // recovery event (one renewal each) where the credential can be renewed. A credential
    // nothing renews gets the injected 401 only, on a fresh sandbox (the expiry above ended
    // a user session): one event saying it was not retried, and no renewal.
    let (recover, fresh);
    let sandbox_401 = if renewal.is_some() {
        recover = &sandbox;
        client.clone()
    } else {
        fresh = V::start(ManualClock::new(), LIFETIME).await;
        recover = &fresh;
        let c = fresh.client().unwrap();
        V::call(&c).await.unwrap();
        c
    };
    // An API key is no token the sandbox issued: expiring tokens does not touch it.
    let provocations = &["injected", "expired"][..if renewal.is_some() { 2 } else { 1 }];
    for how in provocations {
        recorder.take();
        match *how {
            "injected" => recover.controls().inject(Fault::unauthorized()),
            _ => recover.controls().expire_tokens(Tokens::Access),
        }
        let result = V::call(&sandbox_401).await;
        let items = recorder.take();
        let events = named(&items, "unauthorized");
        assert_eq!(events.len(), 1, "{name} {how}: {}", render_all(&items));
        let e = events[0];
        assert_eq!(e.field("vendor"), Some(vendor));
        assert_eq!(e.field("status"), Some("401"));
        match renewal {
            Some(_) => {
                result.unwrap_or_else(|e| panic!("{name} {how}: {e:?}"));
                assert_eq!(e.level, tracing::Level::INFO);
                assert_eq!(
                    (e.field("retried"), e.field("recovered")),
                    (Some("true"), Some("true")),
                    "{name} {how}"
                );
                assert!(e.field("retry_status").is_some_and(|s| s.starts_with('2')));
                let spans = renewals(&items, vendor);
                assert_eq!(spans.len(), 1, "{name} {how}: {spans:?}");
                assert_eq!(spans[0].1, "ok");
                assert_eq!(
                    ours(&items).len(),
                    3,
                    "{name} {how}: {}",
                    render_all(&items)
                );
            }
            None => {
                assert!(result.is_err(), "{name} {how}");
                assert_eq!(e.level, tracing::Level::WARN);
                assert_eq!(
                    (e.field("retried"), e.field("recovered")),
                    (Some("false"), Some("false"))
                );
                assert_eq!(
                    ours(&items).len(),
                    1,
                    "{name} {how}: {}",
                    render_all(&items)
                );
            }
        }
        seen.extend(items);
    }

    // Nothing recorded, from any crate and in any field, holds a secret: the credentials
    // and every token either sandbox issued.
    let mut secrets = sandbox.secrets();
    secrets.extend(controls.recorder().secrets());
    secrets.extend(recover.controls().recorder().secrets());
    assert!(
        secrets.len() > sandbox.secrets().len(),
        "{name}: tokens were issued"
    );
    let text = render_all(&seen);
    assert!(
        !seen.is_empty() && leak(&format!("x{}y", secrets[0]), &secrets).is_some(),
        "the check itself finds a secret"
    );
    if let Some(found) = leak(&text, &secrets) {
        panic!("{name}: a {found} is in the traces:\n{text}");
    }
}

#[tokio::test]
async fn no_trace_of_any_vendor_holds_a_secret() {
    drive::<ipaas_com::sandbox::Sandbox>("ipaas-com", Some("refresh")).await;
    drive::<platformio::sandbox::Sandbox>("platformio", Some("sign-in")).await;
    drive::<iqm::sandbox::Sandbox>("iqm", Some("refresh")).await;
    drive::<intelepeer::sandbox::Sandbox>("intelepeer", Some("sign-in")).await;
    drive::<intelepeer::sandbox::StaticTokenSandbox>("intelepeer", None).await;
    drive::<incend::sandbox::Sandbox>("incend", None).await;
    drive::<incend::sandbox::SignedIn>("incend", None).await;
}

/// The span tree recorded under `root`, one line per span or event, indented by depth, with
/// durations redacted.
fn tree(items: &[Item], root: Option<u64>, depth: usize, out: &mut String) {
    for i in items.iter().filter(|i| i.parent == root) {
        let fields: Vec<String> = i
            .fields
            .iter()
            .map(|(k, v)| match k.as_str() {
                "duration_ms" => format!("{k}=[duration]"),
                _ => format!("{k}={v}"),
            })
            .collect();
        let what = if i.span { "span" } else { "event" };
        writeln!(
            out,
            "{}{what} {} {} {} {{{}}}",
            "  ".repeat(depth),
            i.name,
            i.level,
            i.target,
            fields.join(", ")
        )
        .unwrap();
        if i.span {
            tree(items, Some(i.id), depth + 1, out);
        }
    }
}

/// One renewal of IQM's token after expiry, under the caller's own span: the renewal span
/// shows in the caller's waterfall, with its one attempt.
#[tokio::test]
async fn the_span_tree_of_one_renewal() {
    let recorder = Recorder::default();
    let _installed = install(&recorder);
    let clock = ManualClock::new();
    let sandbox = iqm::sandbox::Sandbox::start(clock.clone(), Duration::from_secs(3600)).await;
    let client = sandbox.client().unwrap();
    iqm::sandbox::Sandbox::call(&client).await.unwrap();
    clock.advance(Duration::from_secs(3601));
    recorder.take();
    {
        use tracing::Instrument as _;
        let caller = tracing::info_span!("caller");
        iqm::sandbox::Sandbox::call(&client)
            .instrument(caller)
            .await
            .unwrap();
    }
    let items: Vec<Item> = recorder
        .take()
        .into_iter()
        .filter(|i| i.ours() || i.name == "caller")
        .collect();
    let mut out = String::new();
    tree(&items, None, 0, &mut out);
    insta::assert_snapshot!(out);
}

/// A thousand authorized calls with a valid token record no span (from any crate) and no
/// event of this workspace: the hot path is not instrumented.
#[tokio::test]
async fn the_hot_path_records_nothing() {
    let recorder = Recorder::default();
    let _installed = install(&recorder);
    let clock = ManualClock::new();
    let sandbox = iqm::sandbox::Sandbox::start(clock, Duration::from_secs(3600)).await;
    let client = sandbox.client().unwrap();
    iqm::sandbox::Sandbox::call(&client).await.unwrap();
    assert_eq!(
        renewals(&recorder.take(), "iqm").len(),
        1,
        "the sign-in is recorded"
    );
    let before = sandbox.controls().hits("ow_id");
    for _ in 0..1000 {
        iqm::sandbox::Sandbox::call(&client).await.unwrap();
    }
    let items = recorder.take();
    let spans: Vec<&Item> = items.iter().filter(|i| i.span).collect();
    assert_eq!(spans.len(), 0, "no span from any crate: {spans:?}");
    // The transport logs its connection pool at TRACE (hyper-util's events, not ours).
    assert_eq!(ours(&items).len(), 0, "{}", render_all(&items));
    assert_eq!(
        sandbox.controls().hits("ow_id"),
        before + 1000,
        "every call was sent"
    );
    assert_eq!(sandbox.controls().token_requests(), 1);
}

/// What a scripted provider answers to its next sign-in.
#[derive(Debug)]
enum Step {
    /// A token living an hour.
    Token,
    /// A token that expired before it arrived.
    Expired,
    /// A failure of this kind.
    Fail(auth_core::ErrorKind),
}

/// A provider that answers its sign-ins from a script, on a manual clock. Clones share the
/// script.
#[derive(Debug, Clone)]
struct Scripted {
    clock: ManualClock,
    script: Arc<Mutex<std::collections::VecDeque<Step>>>,
}

impl Scripted {
    fn play(&self, steps: impl IntoIterator<Item = Step>) {
        self.script.lock().unwrap().extend(steps);
    }
}

#[auth_core::provider::async_trait]
impl auth_core::provider::TokenProvider for Scripted {
    fn name(&self) -> &'static str {
        "scripted"
    }

    async fn sign_in(&self) -> Result<auth_core::TokenSet, auth_core::Error> {
        use auth_core::{AccessToken, Clock as _, Error, Expiry, TokenSet};
        let now = self.clock.now();
        let token = |expiry| Ok(TokenSet::new(AccessToken::new(SCRIPTED_TOKEN), expiry));
        match self.script.lock().unwrap().pop_front() {
            Some(Step::Token) => token(Expiry::lifetime_from(Duration::from_secs(3600), now)),
            Some(Step::Expired) => token(Expiry::at(now - Duration::from_secs(60), now)),
            Some(Step::Fail(kind)) => Err(Error::new(kind, format!("refused {SCRIPTED_TOKEN}"))),
            None => Err(Error::new(auth_core::ErrorKind::Config, "script ended")),
        }
    }

    fn capabilities(&self) -> auth_core::provider::Capabilities {
        auth_core::provider::Capabilities::sign_in_only()
    }
}

const SCRIPTED_TOKEN: &str = "scripted-token-3f9a";

/// A token store that is down: every call fails.
#[derive(Debug)]
struct Down;

#[auth_core::provider::async_trait]
impl auth_core::store::TokenStore for Down {
    fn key(&self, identity: &auth_core::store::Identity<'_>) -> auth_core::store::StoreKey {
        auth_core::store::StoreKey::new(identity.vendor())
    }
    async fn load(
        &self,
        _: &auth_core::store::StoreKey,
    ) -> auth_core::Result<Option<auth_core::store::Stored>> {
        Err(down())
    }
    async fn acquire(
        &self,
        _: &auth_core::store::StoreKey,
        _: Duration,
    ) -> auth_core::Result<auth_core::store::Acquire> {
        Err(down())
    }
    async fn release(
        &self,
        _: &auth_core::store::StoreKey,
        _: auth_core::store::Fence,
    ) -> auth_core::Result<bool> {
        Err(down())
    }
    async fn publish(
        &self,
        _: &auth_core::store::StoreKey,
        _: auth_core::store::Fence,
        _: u64,
        _: &auth_core::TokenSet,
    ) -> auth_core::Result<auth_core::store::Publish> {
        Err(down())
    }
    async fn wait_newer(
        &self,
        _: &auth_core::store::StoreKey,
        _: u64,
        _: Duration,
    ) -> auth_core::Result<Option<auth_core::store::Stored>> {
        Err(down())
    }
    async fn invalidate(&self, _: &auth_core::store::StoreKey, _: u64) -> auth_core::Result<bool> {
        Err(down())
    }
}

fn down() -> auth_core::Error {
    auth_core::Error::new(auth_core::ErrorKind::Transient, "connection refused")
}

/// Everything around a renewal, one case after another, as a reviewable tree: retried
/// attempts, tokens expired on arrival (renewed at once, then served under a backoff), a
/// failed renewal's backoff, a store that is down, and the limiter's wait and refusal.
/// The jitter is seeded, so the waits are the same on every run.
#[tokio::test(start_paused = true)]
async fn the_events_around_renewals() {
    use auth_core::ErrorKind::{Rejected, Transient};
    let recorder = Recorder::default();
    let _installed = install(&recorder);
    let clock = ManualClock::new();
    let provider = Scripted {
        clock: clock.clone(),
        script: Arc::default(),
    };
    let http = auth_core::http::Http::new()
        .unwrap()
        .with_clock(clock.clone());
    let session = auth_core::Session::new(provider.clone(), http.clone()).with_jitter_seed(7);
    let mut out = String::new();
    let case = |title: &str, out: &mut String| {
        let items = recorder.take();
        writeln!(out, "# {title}").unwrap();
        tree(&items, None, 0, out);
        items
    };

    provider.play([Step::Fail(Transient), Step::Fail(Transient), Step::Token]);
    session.token().await.unwrap();
    let items = case("two transient failures, then a token", &mut out);
    assert_eq!(renewals(&items, "scripted").len(), 1);
    assert_eq!(named(&items, "token_request").len(), 3);

    session.clear();
    provider.play([Step::Expired, Step::Expired]);
    session.token().await.unwrap();
    let items = case("two tokens expired on arrival", &mut out);
    assert_eq!(named(&items, "expired_on_arrival").len(), 2);

    session.clear();
    provider.play([Step::Fail(Rejected)]);
    session.token().await.unwrap_err();
    let items = case("a rejected sign-in", &mut out);
    assert_eq!(named(&items, "renewal_backoff").len(), 1);

    let key = auth_core::store::StoreKey::new("scripted");
    let shared = auth_core::Session::new(provider.clone(), http).with_token_store(
        Down,
        key,
        auth_core::store::ShareSettings::default(),
    );
    provider.play([Step::Token]);
    shared.token().await.unwrap();
    let items = case("a token store that is down", &mut out);
    assert_eq!(named(&items, "store_fallback").len(), 1);
    assert_eq!(renewals(&items, "scripted").len(), 1);

    let get = auth_core::reqwest::Method::GET;
    let limiter = auth_core::RateLimiter::new(1, Duration::from_secs(60));
    limiter.acquire(&get, "/a").await.unwrap();
    limiter.acquire(&get, "/a").await.unwrap();
    let hurried = limiter.with_max_wait(Duration::from_secs(1));
    hurried.acquire(&get, "/a").await.unwrap_err();
    let items = case("the limiter waits a minute, then refuses", &mut out);
    assert_eq!(named(&items, "rate_limit_wait").len(), 1);
    assert_eq!(named(&items, "rate_limit_refused").len(), 1);

    let all = recorder.take();
    assert!(all.is_empty(), "every case was taken");
    assert!(!out.contains(SCRIPTED_TOKEN), "{out}");
    insta::assert_snapshot!(out);
}
