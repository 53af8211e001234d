//! IntelePeer quickstart: authenticate, send an SMS, list the portal's accounts, and (against
//! the sandbox) cross the 24-hour token expiry and recover from a 401.
//!
//! Real IntelePeer when `INTELEPEER_USERNAME` + `INTELEPEER_PASSWORD` (or `INTELEPEER_TOKEN`,
//! the static CPaaS token) are set, with `INTELEPEER_BASE_URL` for the portal host (default
//! the Customer Portal); the SMS is only sent live when `INTELEPEER_SMS_FROM` and
//! `INTELEPEER_SMS_TO` are set too. The in-process sandbox otherwise.
//!
//! ```text
//! cargo run -p intelepeer --features sandbox --example intelepeer-quickstart
//! ```

use std::time::{Duration, SystemTime};

use futures::TryStreamExt as _;
use intelepeer::sandbox::{Fault, ManualClock, Sandbox};
use intelepeer::{Client, Error, SendSms};

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

#[derive(Default)]
struct Counts {
    calls: u64,
    pages: u64,
}

fn set(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn describe_expiry(client: &Client, now: SystemTime) -> String {
    let left = client
        .token_expiry()
        .map(|at| at.duration_since(now).unwrap_or_default());
    match left {
        Some(left) => format!(
            "token valid for {}h{:02}m",
            left.as_secs() / 3600,
            left.as_secs() % 3600 / 60
        ),
        None => "token never expires (static cpaas token)".to_owned(),
    }
}

async fn list_accounts(client: &Client, counts: &mut Counts) -> Result<(), Error> {
    let pages: Vec<_> = client.account_pages(100).try_collect().await?;
    let accounts: usize = pages.iter().map(|p| p.items.len()).sum();
    counts.pages += pages.len() as u64;
    counts.calls += pages.len() as u64;
    println!(
        "listed {accounts} accounts from the portal api over {} pages (raw token)",
        pages.len()
    );
    Ok(())
}

async fn send(client: &Client, sms: &SendSms, counts: &mut Counts) -> Result<(), Error> {
    let receipt = client.send_sms(sms).await?;
    counts.calls += 1;
    println!(
        "sent an sms to {} (bearer token): id {}, status {}",
        sms.to,
        receipt.message_id.as_deref().unwrap_or("-"),
        receipt.status.as_deref().unwrap_or("-"),
    );
    Ok(())
}

async fn live() -> Result<(Client, Counts), Error> {
    let client = Client::from_env()?;
    let mut counts = Counts::default();
    println!(
        "mode: live against {}",
        client.base_url().as_str().trim_end_matches('/')
    );
    client.authenticate().await?;
    println!(
        "authenticated: {}",
        describe_expiry(&client, SystemTime::now())
    );
    match (set("INTELEPEER_SMS_FROM"), set("INTELEPEER_SMS_TO")) {
        (Some(from), Some(to)) => {
            send(
                &client,
                &SendSms::new(from, to, "hello from the intelepeer rust quickstart"),
                &mut counts,
            )
            .await?;
        }
        _ => println!("no INTELEPEER_SMS_FROM / INTELEPEER_SMS_TO: not sending an sms"),
    }
    if set("INTELEPEER_USERNAME").is_some() && set("INTELEPEER_PASSWORD").is_some() {
        list_accounts(&client, &mut counts).await?;
    } else {
        // The CPaaS token is for the CPaaS APIs; the portal's /my/* takes the 24-hour token.
        println!(
            "static cpaas token: not listing the portal's accounts (needs username + password)"
        );
    }
    println!("the 24-hour expiry cannot be crossed live; the sandbox run shows it");
    Ok((client, counts))
}

async fn sandbox() -> Result<(Client, Counts), Error> {
    let clock = ManualClock::new();
    let sandbox = Sandbox::builder().clock(clock.clone()).start().await;
    let client = sandbox.client_builder().build()?;
    let mut counts = Counts::default();
    let sms = SendSms::new(
        "+13035550100",
        "+13035550199",
        "hello from the intelepeer rust quickstart",
    );
    println!("mode: sandbox at {}", sandbox.base_url());

    client.authenticate().await?;
    println!(
        "authenticated as {}: {}",
        Sandbox::USERNAME,
        describe_expiry(&client, sandbox.clock().now())
    );
    send(&client, &sms, &mut counts).await?;
    list_accounts(&client, &mut counts).await?;

    clock.advance(DAY + Duration::from_secs(1));
    println!("clock moved 24h: the token has expired");
    send(&client, &sms, &mut counts).await?;
    println!(
        "re-authenticated on demand ({} authenticate calls so far): {}",
        sandbox.token_requests(),
        describe_expiry(&client, sandbox.clock().now())
    );

    sandbox.inject(Fault::unauthorized());
    println!("the portal will refuse the next call with a 401");
    let page = client.accounts_page(1, 10).await?;
    counts.calls += 1;
    counts.pages += 1;
    println!(
        "recovered: re-authenticated once and the retry returned {} accounts",
        page.items.len()
    );
    Ok((client, counts))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let live_mode = (set("INTELEPEER_USERNAME").is_some() && set("INTELEPEER_PASSWORD").is_some())
        || set("INTELEPEER_TOKEN").is_some();
    let (client, counts) = if live_mode {
        live().await?
    } else {
        sandbox().await?
    };
    let s = client.session_stats();
    println!(
        "session: {} authentications, {} expiries, {} 401s, {} recovered, {} requests",
        s.sign_ins, s.expiries, s.unauthorized, s.recovered_401, s.requests
    );
    println!(
        "DEMO-SUMMARY vendor=intelepeer mode={} sign_ins={} calls={} pages={} expiries={} renewals={} recovered_401={}",
        if live_mode { "live" } else { "sandbox" },
        s.sign_ins,
        counts.calls,
        counts.pages,
        s.expiries,
        s.sign_ins.saturating_sub(1) + s.refreshes,
        s.recovered_401,
    );
    Ok(())
}
