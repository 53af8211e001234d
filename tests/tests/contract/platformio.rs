//! Contract adapter for the `platformio` crate: the service-user client (JWT API token,
//! renewed by logging in again) against the platform sandbox, signing up a new client
//! account on every call. The sandbox's `VendorSandbox` says how; the service password and
//! the signed-up clients' password are the secrets no error may show.

use std::time::Duration;

use platformio::sandbox::Sandbox;

use super::harness::run_vendor;

const LIFETIME: Duration = Duration::from_secs(15 * 60);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn service_login_client_meets_the_contract() {
    run_vendor::<Sandbox>(LIFETIME).await;
}
