//! The vendor-neutral contract. A vendor adapter describes how to make one authorized call
//! against its sandbox and how to read the sandbox's counters; [`run`] checks the rest.

use std::sync::Arc;
use std::time::Duration;

use auth_core::{Error, ManualClock};
use futures::future::BoxFuture;

/// One authorized call against the sandbox.
pub type Call = Arc<dyn Fn() -> BoxFuture<'static, Result<(), Error>> + Send + Sync>;
/// A counter read from the sandbox.
pub type Count = Arc<dyn Fn() -> u64 + Send + Sync>;
/// Queue a fault with this status on the sandbox's next authorized call.
pub type Inject = Arc<dyn Fn(u16) + Send + Sync>;

/// What the contract needs to know about one vendor client wired to its sandbox.
pub struct Subject {
    /// Vendor name, for messages.
    pub name: &'static str,
    /// The clock shared by the client and the sandbox.
    pub clock: ManualClock,
    /// Token lifetime the sandbox issues.
    pub lifetime: Duration,
    /// One authorized call.
    pub call: Call,
    /// Token requests (sign-ins plus refreshes) the sandbox has answered. For a static
    /// credential this may stay at 0.
    pub token_requests: Count,
    /// Queue a fault (401, 429, 5xx) on the next authorized call.
    pub inject: Inject,
    /// Whether the credential can be renewed (false for API keys and static tokens).
    pub renewable: bool,
    /// Secrets the client holds; none may appear in any error's Debug or Display.
    pub secrets: Vec<String>,
}

fn assert_no_secret(subject: &Subject, err: &Error) {
    let shown = format!("{err} {err:?}");
    for s in &subject.secrets {
        assert!(
            !shown.contains(s.as_str()),
            "{}: error shows a secret: {shown}",
            subject.name
        );
    }
}

/// Run the whole contract. Must be called inside a multi-thread tokio runtime.
pub async fn run(subject: Subject) {
    let name = subject.name;
    let call = subject.call.clone();
    let tokens = subject.token_requests.clone();

    // Sign-in happens once, on first use.
    call()
        .await
        .unwrap_or_else(|e| panic!("{name}: first call failed: {e}"));
    let after_first = tokens();
    if subject.renewable {
        assert_eq!(
            after_first, 1,
            "{name}: first call should cause exactly one token request"
        );
    } else {
        // A static credential (API key, handed-over session) may need no token request at all.
        assert!(
            after_first <= 1,
            "{name}: a static credential made {after_first} token requests"
        );
    }

    // No renewal while the token is valid.
    for _ in 0..20 {
        call()
            .await
            .unwrap_or_else(|e| panic!("{name}: call while valid failed: {e}"));
    }
    assert_eq!(
        tokens(),
        after_first,
        "{name}: renewed while the token was valid"
    );

    // Cross the expiry: 100 concurrent callers cause one renewal (or, for a credential that
    // cannot be renewed, there is nothing to cross).
    if subject.renewable {
        subject
            .clock
            .advance(subject.lifetime + Duration::from_secs(1));
        let calls: Vec<_> = (0..100).map(|_| tokio::spawn(call())).collect();
        for c in calls {
            c.await
                .expect("task")
                .unwrap_or_else(|e| panic!("{name}: call after expiry failed: {e}"));
        }
        assert_eq!(
            tokens(),
            after_first + 1,
            "{name}: 100 callers after expiry must cause one renewal"
        );
    }

    // A 401 on a call: one renewal and one retry when renewable; surfaced otherwise.
    let before = tokens();
    (subject.inject)(401);
    let r = call().await;
    if subject.renewable {
        r.unwrap_or_else(|e| panic!("{name}: 401 was not recovered: {e}"));
        assert_eq!(
            tokens(),
            before + 1,
            "{name}: a 401 must cause exactly one renewal"
        );
    } else {
        let e = r.expect_err("a 401 with a static credential must surface");
        assert!(
            e.is_unauthorized() || e.is_session_expired(),
            "{name}: {e:?}"
        );
        assert_eq!(
            tokens(),
            before,
            "{name}: a static credential must not be renewed"
        );
        assert_no_secret(&subject, &e);
    }

    // Two 401s in a row: the retry's 401 surfaces, after exactly one renewal.
    if subject.renewable {
        let before = tokens();
        (subject.inject)(401);
        (subject.inject)(401);
        let e = call().await.expect_err("a second 401 must surface");
        assert!(e.is_unauthorized(), "{name}: {e:?}");
        assert_eq!(
            tokens(),
            before + 1,
            "{name}: two 401s must cause one renewal, not a loop"
        );
        assert_no_secret(&subject, &e);
    }

    // 429 and 5xx become typed errors and are not retried by the pipeline.
    (subject.inject)(429);
    let e = call().await.expect_err("429 must surface");
    assert!(e.is_rate_limited(), "{name}: {e:?}");
    assert_eq!(e.status(), Some(429));
    assert_no_secret(&subject, &e);

    (subject.inject)(503);
    let e = call().await.expect_err("503 must surface");
    assert!(e.is_transient() && e.is_retryable(), "{name}: {e:?}");
    assert_no_secret(&subject, &e);

    // And the client is healthy afterwards.
    call()
        .await
        .unwrap_or_else(|e| panic!("{name}: call after faults failed: {e}"));
}

/// Run the contract on any vendor's sandbox, through [`VendorSandbox`]: no adapter closures.
pub async fn run_vendor<V: auth_core::sandbox::VendorSandbox>(lifetime: Duration) {
    use auth_core::sandbox::Fault;
    use futures::FutureExt as _;
    let clock = ManualClock::new();
    let sandbox = Arc::new(V::start(clock.clone(), lifetime).await);
    let client = sandbox
        .client()
        .unwrap_or_else(|e| panic!("{}: client: {e}", V::NAME));
    let (s1, s2) = (sandbox.clone(), sandbox.clone());
    run(Subject {
        name: V::NAME,
        clock,
        lifetime,
        call: Arc::new(move || V::call(&client).boxed()),
        token_requests: Arc::new(move || s1.controls().token_requests()),
        inject: Arc::new(move |status| {
            s2.controls().inject(match status {
                401 => Fault::unauthorized(),
                429 => Fault::rate_limited(Some(1), "too many requests"),
                s => Fault::server_error(s),
            })
        }),
        renewable: sandbox.renewable(),
        secrets: sandbox.secrets(),
    })
    .await;
}
