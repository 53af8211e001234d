//! Quickstart: log in with the client credentials, call the API with the workspace header,
//! refresh across an expiry (the workspace id survives the flat refresh answer), recover
//! from a 401, page through a list (`pageNo`/`noOfEntries`, sandbox only), log out.
//!
//! Talks to IQM when `IQM_CLIENT_ID`, `IQM_CLIENT_SECRET`, `IQM_EMAIL` and `IQM_PASSWORD`
//! are set (`IQM_BASE_URL` optional, default `https://api.iqm.com`; `IQM_IAA_HOST` selects
//! the JSON login call); to the in-process sandbox otherwise, where a shared manual clock
//! crosses the token's expiry instantly and one injected 401 shows a recovery.
//!
//! Run: `cargo run -p iqm --features sandbox --example iqm-quickstart`

use std::time::{Duration, SystemTime};

use futures::StreamExt as _;
use iqm::Client;
use iqm::sandbox::{Fault, ManualClock, Sandbox};

/// A row of the sandbox's campaign list: the fields this example reads.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Campaign {
    id: u64,
    campaign_name: String,
}

fn live_configured() -> bool {
    let set = |n: &str| std::env::var(n).is_ok_and(|v| !v.trim().is_empty());
    [
        "IQM_CLIENT_ID",
        "IQM_CLIENT_SECRET",
        "IQM_EMAIL",
        "IQM_PASSWORD",
    ]
    .iter()
    .all(|n| set(n))
}

fn until(expires_at: Option<SystemTime>, now: SystemTime) -> String {
    match expires_at.map(|at| at.duration_since(now).unwrap_or(Duration::ZERO)) {
        Some(d) => format!("expires in {} s", d.as_secs()),
        None => "has no expiry".to_owned(),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let expires_in = 3600;
    let clock = ManualClock::new();
    let (client, sandbox, mode) = if live_configured() {
        let client = Client::builder().with_env().with_rate_limit().build()?;
        (client, None, "live")
    } else {
        let sandbox = Sandbox::builder()
            .clock(clock.clone())
            .token_lifetime(Duration::from_secs(expires_in))
            .campaigns(250)
            .start()
            .await;
        let client = sandbox.client_builder().with_rate_limit().build()?;
        (client, Some(sandbox), "sandbox")
    };
    let now = || match &sandbox {
        Some(sandbox) => sandbox.clock().now(),
        None => SystemTime::now(),
    };
    println!(
        "iqm quickstart ({mode}) against {}",
        client.base_url().as_str().trim_end_matches('/')
    );
    let mut calls = 0u64;
    let mut pages = 0u64;

    let ow_id = client.login().await?;
    println!(
        "logged in: workspace (owId) {ow_id}, access token {}",
        until(client.token_expiry(), now())
    );

    let fetched = client.fetch_workspace_id().await?;
    calls += 1;
    println!("GET /api/v3/ua/user/ow-id with Bearer + X-IAA-OW-ID: {fetched}");

    if let Some(sandbox) = &sandbox {
        clock.advance(Duration::from_secs(expires_in + 1));
        println!(
            "clock advanced {} s: the access token has expired",
            expires_in + 1
        );
        let echoed: serde_json::Value = client.get_data("/api/v3/campaigns/list").await?;
        calls += 1;
        println!(
            "GET /api/v3/campaigns/list after a refresh (flat answer, no owId): sent X-IAA-OW-ID {}",
            echoed["owId"].as_str().unwrap_or("?")
        );
        sandbox.inject(Fault::unauthorized());
        println!("the next call will be answered 401 once");
        let again = client.fetch_workspace_id().await?;
        calls += 1;
        println!("workspace id after the 401 recovery: {again}");

        // Five pages of 50: few enough for IQM's 20 requests a minute.
        let mut stream = client
            .list::<Campaign>(Sandbox::CAMPAIGNS_PATH)
            .with_page_size(50)
            .pages();
        let (mut rows, mut last) = (0, None);
        while let Some(page) = stream.next().await {
            let page = page?;
            pages += 1;
            calls += 1;
            rows += page.items.len();
            last = page.items.last().map(|c| (c.id, c.campaign_name.clone()));
        }
        let (last_id, last_name) = last.unwrap_or_default();
        println!(
            "GET {} with pageNo/noOfEntries: {rows} campaigns in {pages} pages, the last #{last_id} {last_name}",
            Sandbox::CAMPAIGNS_PATH
        );
    } else {
        client.refresh().await?;
        println!(
            "refreshed on demand: access token {}",
            until(client.token_expiry(), now())
        );
        let again = client.fetch_workspace_id().await?;
        calls += 1;
        println!("workspace id after the refresh: {again}");
    }

    let message = client.logout().await?;
    calls += 1;
    println!("logged out: {message}");

    let stats = client.session_stats();
    println!(
        "session: {} logins, {} refreshes, {} expiries, {} 401s recovered, {} requests",
        stats.sign_ins, stats.refreshes, stats.expiries, stats.recovered_401, stats.requests
    );
    let renewals = stats.sign_ins.saturating_sub(1) + stats.refreshes;
    println!(
        "DEMO-SUMMARY vendor=iqm mode={mode} sign_ins={} calls={calls} pages={pages} expiries={} renewals={renewals} recovered_401={}",
        stats.sign_ins, stats.expiries, stats.recovered_401
    );
    Ok(())
}
