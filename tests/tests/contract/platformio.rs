//! Contract adapter for the `platformio` crate: the service-user client (JWT API token,
//! renewed by logging in again) against the platform sandbox, signing up a new client
//! account on every call.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use auth_core::ManualClock;
use auth_core::sandbox::Fault;
use futures::FutureExt as _;
use platformio::sandbox::{DEFAULT_PASSWORD, Sandbox};
use platformio::{ClientName, NewClient, Uuid};

use super::harness::{Subject, run};

const LIFETIME: Duration = Duration::from_secs(15 * 60);
const CLIENT_PASSWORD: &str = "contract-client-password";

fn fault(status: u16) -> Fault {
    match status {
        401 => Fault::unauthorized(),
        429 => Fault::rate_limited(Some(1), "Too many requests"),
        s => Fault::server_error(s),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn service_login_client_meets_the_contract() {
    let clock = ManualClock::new();
    let sandbox = Sandbox::builder()
        .clock(clock.clone())
        .token_lifetime(LIFETIME)
        .start()
        .await;
    let client = sandbox.client_builder().build().unwrap();
    let serial = Arc::new(AtomicU64::new(1));
    let s1 = sandbox.clone();
    let s2 = sandbox.clone();
    run(Subject {
        name: "platformio",
        clock,
        lifetime: LIFETIME,
        call: Arc::new(move || {
            let c = client.clone();
            let n = serial.fetch_add(1, Ordering::Relaxed);
            async move {
                let new = NewClient::new(
                    Uuid::from_u128(u128::from(n)),
                    format!("contract{n}@client.com"),
                    ClientName::new("Contract", "Client"),
                    CLIENT_PASSWORD,
                );
                c.sign_up(&new).await.map(drop)
            }
            .boxed()
        }),
        token_requests: Arc::new(move || s1.token_requests()),
        inject: Arc::new(move |status| s2.inject(fault(status))),
        renewable: true,
        secrets: vec![DEFAULT_PASSWORD.to_owned(), CLIENT_PASSWORD.to_owned()],
    })
    .await;
}
