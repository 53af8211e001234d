//! Contract adapter for the `iqm` crate: the client (login with client credentials, refresh
//! with the refresh token, workspace header on every call) against the IQM sandbox, through
//! its `VendorSandbox`: each call asks for the workspace id and checks it is the default
//! user's.

use std::time::Duration;

use iqm::sandbox::Sandbox;

use super::harness::run_vendor;

/// IQM's sample `expires_in`.
const LIFETIME: Duration = Duration::from_secs(35_999);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn login_and_refresh_client_meets_the_contract() {
    run_vendor::<Sandbox>(LIFETIME).await;
}
