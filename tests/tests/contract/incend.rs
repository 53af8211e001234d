//! Contract adapter for the `incend` crate: the backend client (client API key) and the user
//! client (user session token), each wired to the sandbox.
//!
//! Nothing in Incend can be renewed by the library: the API key is static and a user session
//! comes only from a code the user types. Both subjects are therefore `renewable: false`.
//! The one "token request" Incend has is the OTP verification that issues the user token;
//! the sandbox counts it (`hits("verify")`). It is made once, before the first call, because
//! only the user can make it (and so the secrets list can name the issued token); the
//! contract then checks that no call, expiry or 401 ever causes another.

use std::sync::Arc;
use std::time::Duration;

use auth_core::ManualClock;
use futures::FutureExt as _;
use incend::sandbox::{Fault, Sandbox};
use incend::{Client, Recipient, UserClient, VerifiedUser};

use super::harness::{Count, Inject, Subject};

const LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);
const API_KEY: &str = "contract-client-key-7d1e";
const OTP: &str = "5309";

struct Setup {
    clock: ManualClock,
    sandbox: Arc<Sandbox>,
    backend: Client,
    user: VerifiedUser,
}

async fn setup() -> Setup {
    let clock = ManualClock::new();
    let sandbox = Arc::new(
        Sandbox::builder()
            .clock(clock.clone())
            .token_lifetime(LIFETIME)
            .api_key(API_KEY)
            .otp(OTP)
            .start()
            .await,
    );
    let backend = Client::builder()
        .with_base_url(sandbox.base_url())
        .with_api_key(API_KEY)
        .with_clock(clock.clone())
        .build()
        .unwrap();
    // The user's sign-in: the only token request there is.
    let to = Recipient::sms("+918838118348").unwrap();
    backend.send_otp(&to).await.unwrap();
    let user = backend.verify_otp(&to, OTP).await.unwrap();
    Setup {
        clock,
        sandbox,
        backend,
        user,
    }
}

impl Setup {
    fn token_requests(&self) -> Count {
        let sb = self.sandbox.clone();
        Arc::new(move || sb.hits("verify"))
    }

    fn inject(&self) -> Inject {
        let sb = self.sandbox.clone();
        Arc::new(move |status| {
            sb.inject(match status {
                401 => Fault::unauthorized(),
                429 => Fault::rate_limited(Some(5), "Too many requests"),
                s => Fault::server_error(s),
            })
        })
    }

    fn secrets(&self) -> Vec<String> {
        assert_eq!(base64(b"a.b.c"), "YS5iLmM=");
        let jwt = self.user.user_token().expose().to_owned();
        let b64 = base64(jwt.as_bytes());
        vec![API_KEY.to_owned(), OTP.to_owned(), jwt, b64]
    }
}

/// Standard base64 with padding: the user token's wire form (this crate has no base64
/// dependency of its own).
fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ABC[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn incend_backend_api_key() {
    let s = setup().await;
    let backend = s.backend.clone();
    let token = s.user.user_token().clone();
    super::harness::run(Subject {
        name: "incend (backend, api key)",
        clock: s.clock.clone(),
        lifetime: LIFETIME,
        // The backend's authorized call: session status, with the `ipaas` key and the user
        // token. A 401 (the session ended on the server) surfaces as session-expired.
        call: Arc::new(move || {
            let backend = backend.clone();
            let token = token.clone();
            async move { backend.token_status(&token).await.map(drop) }.boxed()
        }),
        token_requests: s.token_requests(),
        inject: s.inject(),
        renewable: false,
        secrets: s.secrets(),
    })
    .await;
    assert_eq!(
        s.backend.session_stats().sign_ins,
        0,
        "an api key is never renewed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn incend_user_session() {
    let s = setup().await;
    let user = UserClient::builder()
        .with_base_url(s.sandbox.base_url())
        .with_user_token(s.user.user_token().clone())
        .with_expires_at(s.user.expires_at())
        .with_clock(s.clock.clone())
        .build()
        .unwrap();
    let u = user.clone();
    super::harness::run(Subject {
        name: "incend (user session)",
        clock: s.clock.clone(),
        lifetime: LIFETIME,
        call: Arc::new(move || {
            let u = u.clone();
            async move { u.profile().await.map(drop) }.boxed()
        }),
        token_requests: s.token_requests(),
        inject: s.inject(),
        renewable: false,
        secrets: s.secrets(),
    })
    .await;
    let stats = user.session_stats();
    assert_eq!(
        (stats.sign_ins, stats.refreshes),
        (0, 0),
        "a user session is never renewed"
    );
}
