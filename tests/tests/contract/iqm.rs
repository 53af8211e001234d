//! Contract adapter for the `iqm` crate: the client (login with client credentials, refresh
//! with the refresh token, workspace header on every call) against the IQM sandbox, asking
//! for the workspace id on every call.

use std::sync::Arc;
use std::time::Duration;

use auth_core::ManualClock;
use auth_core::sandbox::Fault;
use futures::FutureExt as _;
use iqm::sandbox::Sandbox;

use super::harness::{Subject, run};

const LIFETIME: Duration = Duration::from_secs(35_999);

fn fault(status: u16) -> Fault {
    match status {
        401 => Fault::unauthorized(),
        429 => Fault::rate_limited(Some(1), "Too many requests"),
        s => Fault::server_error(s),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn login_and_refresh_client_meets_the_contract() {
    let clock = ManualClock::new();
    let sandbox = Arc::new(
        Sandbox::builder()
            .clock(clock.clone())
            .token_lifetime(LIFETIME)
            .start()
            .await,
    );
    let client = sandbox.client_builder().build().unwrap();
    let s1 = sandbox.clone();
    let s2 = sandbox.clone();
    run(Subject {
        name: "iqm",
        clock,
        lifetime: LIFETIME,
        call: Arc::new(move || {
            let c = client.clone();
            async move {
                let ow = c.fetch_workspace_id().await?;
                assert_eq!(ow, Sandbox::OW_ID.to_string());
                Ok(())
            }
            .boxed()
        }),
        token_requests: Arc::new(move || s1.token_requests()),
        inject: Arc::new(move |status| s2.inject(fault(status))),
        renewable: true,
        secrets: vec![
            Sandbox::CLIENT_SECRET.to_owned(),
            Sandbox::PASSWORD.to_owned(),
        ],
    })
    .await;
}
