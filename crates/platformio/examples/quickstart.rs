//! Quickstart: sign the service user in, sign a client up, log the client in, update and
//! delete it, and show the API token being renewed.
//!
//! Talks to the real platform when `PLATFORMIO_USERNAME`, `PLATFORMIO_PASSWORD` and either
//! `PLATFORMIO_BASE_URL` or `PLATFORMIO_PLATFORM_ID` are set (optionally
//! `PLATFORMIO_ENVIRONMENT=production`); to the in-process sandbox otherwise, where a shared
//! manual clock crosses the token's expiry instantly and one injected 401 shows a recovery.
//!
//! Run: `cargo run -p platformio --features sandbox --example platformio-quickstart`

use std::time::{Duration, SystemTime};

use platformio::sandbox::{Fault, ManualClock, Sandbox};
use platformio::{Client, ClientName, ClientUpdate, ErrorExt, NewClient, Uuid};

fn live_configured() -> bool {
    let set = |n: &str| std::env::var(n).is_ok_and(|v| !v.trim().is_empty());
    set("PLATFORMIO_USERNAME")
        && set("PLATFORMIO_PASSWORD")
        && (set("PLATFORMIO_BASE_URL") || set("PLATFORMIO_PLATFORM_ID"))
}

fn until(expires_at: Option<SystemTime>, now: SystemTime) -> String {
    match expires_at.map(|at| at.duration_since(now).unwrap_or(Duration::ZERO)) {
        Some(d) => format!("expires in {} s", d.as_secs()),
        None => "has no expiry".to_owned(),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let lifetime = Duration::from_secs(600);
    let clock = ManualClock::new();
    let (client, sandbox, mode) = if live_configured() {
        (Client::from_env()?, None, "live")
    } else {
        let sandbox = Sandbox::builder()
            .clock(clock.clone())
            .token_lifetime(lifetime)
            .start()
            .await;
        let client = sandbox
            .client_builder()
            .with_documented_rate_limit()
            .build()?;
        (client, Some(sandbox), "sandbox")
    };
    let now = || {
        if sandbox.is_some() {
            auth_core::Clock::now(&clock)
        } else {
            SystemTime::now()
        }
    };
    println!(
        "platformio quickstart ({mode}) against {}",
        client.base_url()
    );
    let mut calls = 0u64;

    let expires_at = client.sign_in().await?;
    println!(
        "service user signed in: API token (a JWT) {}",
        until(expires_at, now())
    );

    let user_id = Uuid::new_v4();
    let email = format!("quickstart+{}@example.com", user_id.simple());
    let password = format!("pw-{}", user_id.simple());
    let new = NewClient::new(
        user_id,
        email.clone(),
        ClientName::new("Quick", "Start"),
        password.clone(),
    )
    .with_phone_number("+27761234567")
    .with_custom_data("source", "quickstart");
    client.sign_up(&new).await?;
    calls += 1;
    println!("signed up client {user_id}");

    match client.sign_up(&new).await {
        Err(e) if e.is_user_id_taken() => println!("signing up the same user id again: {e}"),
        Err(e) => return Err(e.into()),
        Ok(_) => println!("the platform accepted a duplicate user id"),
    }
    calls += 1;

    let login = client
        .login_client(email.as_str(), password.as_str())
        .await?;
    calls += 1;
    println!(
        "client logged in: {} {} <{}>",
        login
            .account
            .name
            .as_ref()
            .map(|n| n.first_name.as_str())
            .unwrap_or(""),
        login
            .account
            .name
            .as_ref()
            .map(|n| n.last_name.as_str())
            .unwrap_or(""),
        login.account.email.as_deref().unwrap_or(""),
    );

    if let Some(sandbox) = &sandbox {
        clock.advance(lifetime + Duration::from_secs(1));
        println!(
            "clock advanced {} s: the API token has expired",
            lifetime.as_secs() + 1
        );
        sandbox.inject(Fault::unauthorized());
        println!("the next call will be answered 401 once");
    } else {
        println!(
            "(live: the token is renewed by logging in again when within its margin of expiry)"
        );
    }

    let update = ClientUpdate::new()
        .last_name("Renewed")
        .clear_phone_number();
    client
        .update_client(user_id, &login.client_token, &update)
        .await?;
    calls += 1;
    println!("client updated: last name changed, phone number cleared");

    client
        .delete_client(user_id, &login.client_token, "quickstart clean-up")
        .await?;
    calls += 1;
    println!("client deleted");

    let stats = client.session_stats();
    println!(
        "session: {} sign-ins, {} expiries, {} 401s recovered, {} requests",
        stats.sign_ins, stats.expiries, stats.recovered_401, stats.requests
    );
    let renewals = stats.sign_ins.saturating_sub(1) + stats.refreshes;
    println!(
        "DEMO-SUMMARY vendor=platformio mode={mode} sign_ins={} calls={calls} pages=0 expiries={} renewals={renewals} recovered_401={}",
        stats.sign_ins, stats.expiries, stats.recovered_401
    );
    Ok(())
}
