//! A service that already sends through its own reqwest 0.13 client hands it to every
//! vendor's builder (`with_http_client`), and every request the vendor client makes, sign-in
//! included, goes through it: the sandbox's recorder sees the service's own default header
//! on each one.

use std::time::Duration;

use auth_core::Error;
use auth_core::sandbox::VendorSandbox;
use reqwest::header::{HeaderMap, HeaderValue};

/// The service's own header, which only its client adds.
const SERVICE_HEADER: (&str, &str) = ("x-service", "orders-v2");

/// A client built the way a service builds its own, with `reqwest::Client::builder()`.
///
/// This workspace (and so this test) has reqwest's `rustls-no-provider`, so the service
/// installs its crypto provider first, as reqwest asks of such a build (with reqwest's
/// default features it would have aws-lc and need none). The vendor clients' own default
/// client needs none installed: auth-core's tests check that.
fn service_client() -> reqwest::Client {
    let _already_installed = rustls::crypto::ring::default_provider().install_default();
    let mut headers = HeaderMap::new();
    headers.insert(SERVICE_HEADER.0, HeaderValue::from_static(SERVICE_HEADER.1));
    reqwest::Client::builder()
        .default_headers(headers)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// Builds `V`'s client on `http` with `build`, makes one authorized call, and returns how
/// many requests the sandbox recorded; each one must carry the service's header.
async fn through_service_client<V: VendorSandbox>(
    build: impl FnOnce(&V, reqwest::Client) -> Result<V::Client, Error>,
) -> (usize, u64) {
    let sandbox = V::start(auth_core::ManualClock::new(), Duration::from_secs(3600)).await;
    let client = build(&sandbox, service_client()).unwrap();
    V::call(&client)
        .await
        .unwrap_or_else(|e| panic!("{}: call: {e}", V::NAME));
    let seen = sandbox.controls().recorder().all();
    for r in &seen {
        assert!(
            r.headers
                .iter()
                .any(|(k, v)| (k.as_str(), v.as_str()) == SERVICE_HEADER),
            "{}: {} {} did not go through the service's client: {:?}",
            V::NAME,
            r.method,
            r.path_and_query,
            r.headers
        );
    }
    (seen.len(), sandbox.controls().token_requests())
}

#[tokio::test]
async fn every_vendor_sends_through_a_client_the_service_built() {
    let results = [
        (
            "ipaas-com",
            through_service_client::<ipaas_com::sandbox::Sandbox>(|s, http| {
                s.client_builder().with_http_client(http).build()
            })
            .await,
        ),
        (
            "platformio",
            through_service_client::<platformio::sandbox::Sandbox>(|s, http| {
                s.client_builder().with_http_client(http).build()
            })
            .await,
        ),
        (
            "incend",
            through_service_client::<incend::sandbox::Sandbox>(|s, http| {
                s.client_builder().with_http_client(http).build()
            })
            .await,
        ),
        (
            "intelepeer",
            through_service_client::<intelepeer::sandbox::Sandbox>(|s, http| {
                s.client_builder().with_http_client(http).build()
            })
            .await,
        ),
        (
            "iqm",
            through_service_client::<iqm::sandbox::Sandbox>(|s, http| {
                s.client_builder().with_http_client(http).build()
            })
            .await,
        ),
    ];
    // (recorded requests, token requests among them) after one call: a sign-in and the
    // call for each renewable vendor; Incend's backend key needs no token request.
    let expected = [
        ("ipaas-com", (2, 1)),
        ("platformio", (2, 1)),
        ("incend", (1, 0)),
        ("intelepeer", (2, 1)),
        ("iqm", (2, 1)),
    ];
    assert_eq!(results, expected);
}
