//! The top-level README's "Using a sandbox in your own tests" example, verbatim, so it
//! cannot drift from the API.

use std::time::Duration;

use auth_core::ManualClock;
use iqm::sandbox::Sandbox;

#[tokio::test]
async fn renews_across_expiry() -> Result<(), iqm::Error> {
    let clock = ManualClock::new();
    let sandbox = Sandbox::builder()
        .clock(clock.clone())
        .expires_in(3600)
        .start()
        .await;
    let client = sandbox.client_builder().build()?;

    let ow_id = client.login().await?;
    clock.advance(Duration::from_secs(3600)); // past the expiry: no sleeping
    let again: u64 = client.get_data("/api/v3/ua/user/ow-id").await?;
    assert_eq!(again.to_string(), ow_id);
    assert_eq!(client.session_stats().refreshes, 1);

    sandbox.inject(auth_core::sandbox::Fault::server_error(503));
    assert!(
        client
            .fetch_workspace_id()
            .await
            .unwrap_err()
            .is_transient()
    );
    Ok(())
}
