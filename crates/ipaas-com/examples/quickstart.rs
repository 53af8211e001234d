//! iPaaS.com quickstart: sign in, list companies, switch company, walk a paginated list across
//! a token expiry and recover from a 401, then print a one-line summary.
//!
//! With `IPAAS_BASE_URL` and either `IPAAS_EMAIL` + `IPAAS_PASSWORD` or `IPAAS_API_KEY` set it
//! talks to that server (list endpoint from `IPAAS_LIST_API` / `IPAAS_LIST_ENDPOINT`, default
//! `subscriptions` / `Events`); otherwise to the in-process sandbox, where a shared manual
//! clock crosses the one-hour token expiry instantly.
//!
//! `cargo run -p ipaas-com --features sandbox --example ipaas-com-quickstart`

use std::time::Duration;

use futures::StreamExt as _;
use ipaas_com::sandbox::{Fault, ManualClock, Sandbox};
use ipaas_com::{Api, Client, PageToken, Result};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let live = set("IPAAS_BASE_URL")
        && (set("IPAAS_API_KEY") || (set("IPAAS_EMAIL") && set("IPAAS_PASSWORD")));
    if live {
        run_live().await
    } else {
        run_sandbox().await
    }
}

/// Whether an environment variable is set to something (empty counts as unset, as in
/// `Client::from_env`).
fn set(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| !v.trim().is_empty())
}

struct Counts {
    calls: u64,
    pages: u64,
}

fn summary(client: &Client, mode: &str, counts: &Counts) {
    let s = client.session_stats();
    println!(
        "session: {} sign-in(s), {} refresh(es), {} expiry(ies), {} recovered 401(s), {} authorized request(s) on the wire",
        s.sign_ins, s.refreshes, s.expiries, s.recovered_401, s.requests
    );
    println!(
        "DEMO-SUMMARY vendor=ipaas-com mode={mode} sign_ins={} calls={} pages={} expiries={} renewals={} recovered_401={}",
        s.sign_ins,
        counts.calls,
        counts.pages,
        s.expiries,
        s.sign_ins.saturating_sub(1) + s.refreshes,
        s.recovered_401
    );
}

async fn run_sandbox() -> Result<()> {
    let clock = ManualClock::new();
    let sandbox = Sandbox::builder()
        .clock(clock.clone())
        .token_lifetime(Duration::from_secs(3600))
        .events(2500)
        .start()
        .await;
    println!("sandbox: fake iPaaS.com at {}", sandbox.base_url());
    let client = sandbox.client_builder().build()?;
    let mut counts = Counts { calls: 0, pages: 0 };

    let me = client.login().await?;
    println!(
        "signed in as user {} ({}); token valid for one hour",
        shown(me.id),
        shown(me.email_address.as_deref())
    );

    let companies = client.companies().await?;
    counts.calls += 1;
    for c in &companies {
        println!("company {} {}", c.id, shown(c.name.as_deref()));
    }
    if let Some(other) = companies.get(1) {
        client.change_company(&other.id).await?;
        counts.calls += 1;
        println!(
            "switched to {}: new access token, refresh token and expiry, no refresh call",
            shown(other.name.as_deref())
        );
    }

    // Page by page (`.items()` / `.pages()` stream the same walk with prefetching).
    let list = client
        .list::<serde_json::Value>(Api::Subscriptions, "Events")
        .with_page_size(100);
    let mut items = 0usize;
    let mut next = Some(1);
    while let Some(n) = next {
        let page = list.page(n).await?;
        counts.pages += 1;
        counts.calls += 1;
        items += page.items.len();
        next = match page.next {
            Some(PageToken::Number(k)) => Some(k),
            _ => None,
        };
        if n == 12 {
            clock.advance(Duration::from_secs(3600));
            println!("page 12 read; the clock moves one hour: the token has now expired");
        }
    }
    println!(
        "walked {} pages, {items} events; refreshed {} time(s) on the way",
        counts.pages,
        client.session_stats().refreshes
    );

    sandbox.inject(Fault::unauthorized());
    let _: serde_json::Value = client.get_json(Api::Subscriptions, "Subscriptions").await?;
    counts.calls += 1;
    println!("an unexpected 401 was answered by one refresh and one retry");

    summary(&client, "sandbox", &counts);
    Ok(())
}

async fn run_live() -> Result<()> {
    let client = Client::from_env()?;
    println!("live: iPaaS.com at {}", client.base_url());
    let mut counts = Counts { calls: 0, pages: 0 };
    // `Client::from_env` prefers the user login when both kinds are set.
    let api_key = !(set("IPAAS_EMAIL") && set("IPAAS_PASSWORD"));
    if !api_key {
        let me = client.login().await?;
        println!("signed in as user {}", shown(me.id));
        let companies = client.companies().await?;
        counts.calls += 1;
        println!("{} compan(ies)", companies.len());
        if let Some(first) = companies.first() {
            client.change_company(&first.id).await?;
            counts.calls += 1;
            println!("switched to {}", shown(first.name.as_deref()));
        }
    }
    let api = std::env::var("IPAAS_LIST_API").unwrap_or_else(|_| "subscriptions".into());
    let endpoint = std::env::var("IPAAS_LIST_ENDPOINT").unwrap_or_else(|_| "Events".into());
    let mut pages = client
        .list::<serde_json::Value>(api.as_str(), endpoint)
        .with_page_size(100)
        .with_max_items(500)
        .pages();
    while let Some(page) = pages.next().await {
        let page = page?;
        counts.pages += 1;
        counts.calls += 1;
        println!("page {:?}: {} item(s)", page.info.page, page.items.len());
    }
    summary(&client, "live", &counts);
    Ok(())
}

/// An optional field for people: its value, or "(none)".
fn shown<T: std::fmt::Display>(value: Option<T>) -> String {
    value.map_or_else(|| "(none)".to_owned(), |v| v.to_string())
}
