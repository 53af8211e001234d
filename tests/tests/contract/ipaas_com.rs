//! Contract adapter for the `ipaas-com` crate, through `run_vendor`: the sandbox's user login
//! (renewable by refresh and login), and the same sandbox with its API key (never renewed).

use std::time::Duration;

use auth_core::sandbox::{Controls, VendorSandbox};
use auth_core::{Error, ErrorKind, ManualClock};
use futures::future::BoxFuture;
use ipaas_com::Client;
use ipaas_com::sandbox::{API_KEY, Sandbox};

const LIFETIME: Duration = Duration::from_secs(3600);

/// The sandbox with a client holding its API key: a credential that cannot be renewed.
struct ApiKey(Sandbox);

impl VendorSandbox for ApiKey {
    type Client = Client;
    const NAME: &'static str = "ipaas-com (api key)";

    async fn start(clock: ManualClock, lifetime: Duration) -> Self {
        ApiKey(<Sandbox as VendorSandbox>::start(clock, lifetime).await)
    }

    fn client(&self) -> Result<Client, Error> {
        self.0
            .client_builder()
            .with_credentials(Sandbox::api_key_credentials())
            .build()
    }

    /// The user's call, failing once the client has made any token request: an API key is
    /// the one credential the client holds from build, so the contract's "at most one token
    /// request on first use" is strict for it (none at all), at every step.
    fn call(client: &Client) -> BoxFuture<'static, Result<(), Error>> {
        let call = <Sandbox as VendorSandbox>::call(client);
        let client = client.clone();
        Box::pin(async move {
            let answer = call.await;
            let stats = client.session_stats();
            if stats.sign_ins + stats.refreshes > 0 {
                return Err(Error::new(
                    ErrorKind::Config,
                    "an api key client made a token request",
                ));
            }
            answer
        })
    }

    fn controls(&self) -> &Controls {
        self.0.controls()
    }

    fn renewable(&self) -> bool {
        false
    }

    fn secrets(&self) -> Vec<String> {
        vec![API_KEY.to_owned()]
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ipaas_com_user_login() {
    super::harness::run_vendor::<Sandbox>(LIFETIME).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ipaas_com_api_key() {
    super::harness::run_vendor::<ApiKey>(LIFETIME).await;
}
