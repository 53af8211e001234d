//! Contract adapter for the `ipaas-com` crate: the client wired to its sandbox, once with a
//! user login (renewable by refresh and login) and once with an API key (never renewed).

use std::sync::Arc;
use std::time::Duration;

use auth_core::ManualClock;
use futures::FutureExt as _;
use ipaas_com::sandbox::{self, Fault, Sandbox};
use ipaas_com::{Api, Client};

use super::harness::{Call, Count, Inject, Subject};

const LIFETIME: Duration = Duration::from_secs(3600);

async fn start() -> (ManualClock, Arc<Sandbox>) {
    let clock = ManualClock::new();
    let sandbox = Sandbox::builder()
        .clock(clock.clone())
        .token_lifetime(LIFETIME)
        .start()
        .await;
    (clock, Arc::new(sandbox))
}

fn call(client: Client) -> Call {
    Arc::new(move || {
        let client = client.clone();
        async move {
            client
                .get_json::<serde_json::Value>(Api::Subscriptions, "Subscriptions")
                .await
                .map(drop)
        }
        .boxed()
    })
}

fn inject(sandbox: &Arc<Sandbox>) -> Inject {
    let sb = sandbox.clone();
    Arc::new(move |status| {
        let fault = match status {
            401 => Fault::unauthorized(),
            429 => Sandbox::volume_limit(Some(5)),
            s => Fault::server_error(s),
        };
        sb.inject(fault);
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ipaas_com_user_login() {
    let (clock, sandbox) = start().await;
    let client = sandbox.client_builder().build().unwrap();
    let sb = sandbox.clone();
    let token_requests: Count = Arc::new(move || sb.token_requests());
    super::harness::run(Subject {
        name: "ipaas-com (user)",
        clock,
        lifetime: LIFETIME,
        call: call(client),
        token_requests,
        inject: inject(&sandbox),
        renewable: true,
        secrets: vec![sandbox::PASSWORD.to_owned()],
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ipaas_com_api_key() {
    let (clock, sandbox) = start().await;
    let client = sandbox
        .client_builder()
        .with_credentials(Sandbox::api_key_credentials())
        .build()
        .unwrap();
    // An API key has no token request: the key itself is the one credential the client
    // holds (from build). Counting it as one acquisition makes the harness's "at most one
    // on first use" strict: any token request the sandbox answers would fail the contract.
    let sb = sandbox.clone();
    let token_requests: Count = Arc::new(move || 1 + sb.token_requests());
    super::harness::run(Subject {
        name: "ipaas-com (api key)",
        clock,
        lifetime: LIFETIME,
        call: call(client),
        token_requests,
        inject: inject(&sandbox),
        renewable: false,
        secrets: vec![sandbox::API_KEY.to_owned()],
    })
    .await;
}
