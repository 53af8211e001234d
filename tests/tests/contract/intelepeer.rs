//! Contract adapter for the `intelepeer` crate: the username/password client (renewable, on
//! both APIs in turn) and the static CPaaS token client (not renewable), each against the
//! IntelePeer sandbox through `VendorSandbox`.

use std::time::Duration;

use intelepeer::sandbox::{Sandbox, StaticTokenSandbox};

use super::harness::run_vendor;

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn password_client_meets_the_contract() {
    run_vendor::<Sandbox>(DAY).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn static_token_client_meets_the_contract() {
    run_vendor::<StaticTokenSandbox>(DAY).await;
}
