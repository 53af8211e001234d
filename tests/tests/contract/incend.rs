//! Contract adapter for the `incend` crate: the backend client (client API key) and the user
//! client (user session token), each through its sandbox's `VendorSandbox`.
//!
//! Nothing in Incend can be renewed by the library: the API key is static and a user session
//! comes only from a code the user types. Both subjects are therefore not renewable. The one
//! "token request" Incend has is the OTP verification that issues the user token (the
//! sandbox's token route, `verify`). The backend subject's call sends a code, with the API
//! key alone, and never verifies; the user subject's sandbox (`SignedIn`) makes the one
//! verification before the first call, because only the user can make it (and so the
//! secrets list can name the issued token). The contract then checks that no call, expiry or
//! 401 ever causes another.

use std::time::Duration;

use incend::sandbox::{Fault, ManualClock, Sandbox, SignedIn, VendorSandbox};

use super::harness::run_vendor;

const LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn incend_backend_api_key() {
    run_vendor::<Sandbox>(LIFETIME).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn incend_user_session() {
    run_vendor::<SignedIn>(LIFETIME).await;
}

/// What the contract cannot see from outside: through a 401 on each client and past the
/// session's expiry, neither session ever signs in or refreshes, and the user's session
/// status (the backend's call with both credentials) is the distinct expired error.
#[tokio::test]
async fn neither_incend_credential_is_ever_renewed() {
    let clock = ManualClock::new();
    let sandbox = SignedIn::start(clock.clone(), LIFETIME).await;
    let backend = sandbox.client_builder().build().unwrap();
    let user = sandbox.client().unwrap();
    let token = sandbox.user().user_token().clone();
    backend.token_status(&token).await.unwrap();
    user.profile().await.unwrap();

    sandbox.inject(Fault::unauthorized());
    assert!(backend.token_status(&token).await.is_err());
    sandbox.inject(Fault::unauthorized());
    assert!(user.profile().await.unwrap_err().is_session_expired());

    clock.advance(LIFETIME + Duration::from_secs(1));
    assert!(user.profile().await.unwrap_err().is_session_expired());
    assert!(
        backend
            .token_status(&token)
            .await
            .unwrap_err()
            .is_session_expired()
    );

    assert_eq!(
        backend.session_stats().sign_ins,
        0,
        "an api key is never renewed"
    );
    let stats = user.session_stats();
    assert_eq!(
        (stats.sign_ins, stats.refreshes),
        (0, 0),
        "a user session is never renewed"
    );
    assert_eq!(sandbox.token_requests(), 1, "one verification, the user's");
}
