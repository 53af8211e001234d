//! Every vendor client refuses to send credentials over plain `http://` to a non-loopback
//! host: the client is refused at build or the first call fails, with an insecure-transport
//! error, before anything is sent. The hosts are `.invalid`, so even a broken check could
//! not reach anything.

use auth_core::Error;

const REMOTE: &str = "http://api.example.invalid";

fn assert_refused<T: std::fmt::Debug>(vendor: &str, outcome: Result<T, Error>) {
    let e = outcome.expect_err(vendor);
    assert!(
        e.is_insecure_transport(),
        "{vendor}: expected an insecure-transport error, got {e:?}"
    );
}

#[tokio::test]
async fn ipaas_com_refuses_plain_http() {
    let built = ipaas_com::Client::builder()
        .with_base_url(REMOTE)
        .with_credentials(ipaas_com::Credentials::user("me@example.com", "pw-123456"))
        .build();
    match built {
        Ok(client) => assert_refused("ipaas-com", client.login().await),
        Err(e) => assert_refused::<()>("ipaas-com", Err(e)),
    }
}

#[tokio::test]
async fn platformio_refuses_plain_http() {
    let built = platformio::Client::builder()
        .with_base_url(REMOTE)
        .with_credentials(platformio::ServiceCredentials::new("service", "pw-123456"))
        .build();
    match built {
        Ok(client) => assert_refused("platformio", client.sign_in().await),
        Err(e) => assert_refused::<()>("platformio", Err(e)),
    }
}

#[tokio::test]
async fn incend_refuses_plain_http() {
    let built = incend::Client::builder()
        .with_base_url(REMOTE)
        .with_api_key("client-key-123456")
        .build();
    match built {
        Ok(client) => {
            let to = incend::Recipient::sms("+919876543210").expect("valid number");
            assert_refused("incend", client.send_otp(&to).await)
        }
        Err(e) => assert_refused::<()>("incend", Err(e)),
    }
}

#[tokio::test]
async fn intelepeer_refuses_plain_http() {
    let built = intelepeer::Client::builder()
        .with_portal_url(REMOTE)
        .with_api_url(REMOTE)
        .with_credentials(intelepeer::Credentials::password("user", "pw-123456"))
        .build();
    match built {
        Ok(client) => assert_refused("intelepeer", client.authenticate().await),
        Err(e) => assert_refused::<()>("intelepeer", Err(e)),
    }
}

#[tokio::test]
async fn iqm_refuses_plain_http() {
    let built = iqm::Client::builder()
        .with_base_url(REMOTE)
        .with_credentials(iqm::Credentials::new(
            "id",
            "secret-123456",
            "me@example.com",
            "pw-123456",
        ))
        .build();
    match built {
        Ok(client) => assert_refused("iqm", client.login().await),
        Err(e) => assert_refused::<()>("iqm", Err(e)),
    }
}
