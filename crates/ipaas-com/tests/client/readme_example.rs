// tests/client/readme_example.rs is this example verbatim; tests/client.rs runs it.
use ipaas_com::sandbox::{ManualClock, Sandbox, routes};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn my_code_survives_an_expiry_and_a_monthly_limit() -> ipaas_com::Result<()> {
    let clock = ManualClock::new();
    let sandbox = Sandbox::builder()
        .clock(clock.clone())
        .token_lifetime(Duration::from_secs(3600))
        .start()
        .await;
    let client = sandbox.client_builder().build()?; // the sandbox user; or .with_credentials(..)
    client.companies().await?;
    clock.advance(Duration::from_secs(3600));
    client.companies().await?; // refreshed first
    assert_eq!(
        (sandbox.hits(routes::LOGIN), sandbox.hits(routes::REFRESH)),
        (1, 1)
    );

    sandbox.inject(Sandbox::monthly_limit()); // or volume_limit(Some(30)), Fault::server_error(503)
    assert!(client.companies().await.unwrap_err().is_rate_limited());
    Ok(())
}
