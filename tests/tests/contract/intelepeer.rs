//! Contract adapter for the `intelepeer` crate: the username/password client (renewable, on
//! both APIs in turn) and the static CPaaS token client (not renewable), each against the
//! IntelePeer sandbox.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use auth_core::ManualClock;
use auth_core::sandbox::Fault;
use futures::FutureExt as _;
use intelepeer::sandbox::Sandbox;
use intelepeer::{Credentials, SendSms};

use super::harness::{Subject, run};

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

fn fault(status: u16) -> Fault {
    match status {
        401 => Fault::unauthorized(),
        429 => Fault::rate_limited(Some(1), "Too Many Requests"),
        s => Fault::server_error(s),
    }
}

fn sms() -> SendSms {
    SendSms::new("+13035550100", "+13035550199", "contract")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn password_client_meets_the_contract() {
    let clock = ManualClock::new();
    let sandbox = Arc::new(
        Sandbox::builder()
            .clock(clock.clone())
            .token_lifetime(DAY)
            // A slow authenticate (real time; expiry follows the manual clock): the 100
            // callers after expiry are all waiting while the one re-authentication runs.
            .auth_delay(Duration::from_millis(100))
            .start()
            .await,
    );
    let client = sandbox.client_builder().build().unwrap();
    // Alternate between the SMS API (Bearer) and the portal API (raw token): one token and
    // one session serve both.
    let turn = Arc::new(AtomicU64::new(0));
    let call_client = client.clone();
    let s1 = sandbox.clone();
    let s2 = sandbox.clone();
    run(Subject {
        name: "intelepeer",
        clock,
        lifetime: DAY,
        call: Arc::new(move || {
            let c = call_client.clone();
            let odd = turn.fetch_add(1, Ordering::Relaxed) % 2 == 1;
            async move {
                if odd {
                    c.accounts_page(1, 10).await.map(drop)
                } else {
                    c.send_sms(&sms()).await.map(drop)
                }
            }
            .boxed()
        }),
        token_requests: Arc::new(move || s1.token_requests()),
        inject: Arc::new(move |status| s2.inject(fault(status))),
        renewable: true,
        secrets: vec![Sandbox::PASSWORD.to_owned()],
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn static_token_client_meets_the_contract() {
    let clock = ManualClock::new();
    let sandbox = Arc::new(
        Sandbox::builder()
            .clock(clock.clone())
            .token_lifetime(DAY)
            .start()
            .await,
    );
    // The CPaaS portal hands out the token once: that is the one token request.
    let token = sandbox.issue_static_token();
    let client = sandbox
        .client_builder()
        .with_credentials(Credentials::static_token(token.clone()))
        .build()
        .unwrap();
    let s1 = sandbox.clone();
    let s2 = sandbox.clone();
    run(Subject {
        name: "intelepeer (static cpaas token)",
        clock,
        lifetime: DAY,
        call: Arc::new(move || {
            let c = client.clone();
            async move { c.send_sms(&sms()).await.map(drop) }.boxed()
        }),
        token_requests: Arc::new(move || s1.token_requests()),
        inject: Arc::new(move |status| s2.inject(fault(status))),
        renewable: false,
        secrets: vec![token],
    })
    .await;
}
