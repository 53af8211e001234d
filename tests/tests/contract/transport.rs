//! Every vendor client refuses to send credentials over plain `http://` to a non-loopback
//! host, and says so at `build()`, before any call: an insecure-transport error. The hosts
//! are `.invalid`, so even a broken check could not reach anything.

use auth_core::Error;

const REMOTE: &str = "http://api.example.invalid";

fn assert_refused<T: std::fmt::Debug>(vendor: &str, built: Result<T, Error>) {
    let e = built.expect_err(vendor);
    assert!(
        e.is_insecure_transport(),
        "{vendor}: expected an insecure-transport error at build, got {e:?}"
    );
}

#[test]
fn every_client_refuses_plain_http_at_build() {
    assert_refused(
        "ipaas-com",
        ipaas_com::Client::builder()
            .with_base_url(REMOTE)
            .with_credentials(ipaas_com::Credentials::user("me@example.com", "pw-123456"))
            .build(),
    );
    assert_refused(
        "platformio",
        platformio::Client::builder()
            .with_base_url(REMOTE)
            .with_credentials(platformio::ServiceCredentials::new("service", "pw-123456"))
            .build(),
    );
    assert_refused(
        "incend",
        incend::Client::builder()
            .with_base_url(REMOTE)
            .with_credentials("client-key-123456")
            .build(),
    );
    assert_refused(
        "incend user",
        incend::UserClient::builder()
            .with_base_url(REMOTE)
            .with_credentials("user-token-123456")
            .build(),
    );
    for (which, portal, api) in [
        ("portal", REMOTE, "https://api.example.com"),
        ("api", "https://portal.example.com", REMOTE),
    ] {
        assert_refused(
            &format!("intelepeer {which}"),
            intelepeer::Client::builder()
                .with_base_url(portal)
                .with_api_url(api)
                .with_credentials(intelepeer::Credentials::password("user", "pw-123456"))
                .build(),
        );
    }
    assert_refused(
        "iqm",
        iqm::Client::builder()
            .with_base_url(REMOTE)
            .with_credentials(iqm::Credentials::new(
                "id",
                "secret-123456",
                "me@example.com",
                "pw-123456",
            ))
            .build(),
    );
}
