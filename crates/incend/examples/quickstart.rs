//! Incend IPaaS quickstart: send and verify a one-time code, check the session, then read and
//! edit the profile as the user's device would.
//!
//! With `INCEND_BASE_URL` and `INCEND_API_KEY` set it talks to the real server: it asks on
//! standard input for the mobile number or email (unless `INCEND_RECIPIENT` is set) and for
//! the code that arrives. Otherwise it runs against the in-process sandbox, on a manual clock
//! it moves past the session's expiry, and with one injected 401.
//!
//! Run: `cargo run -p incend --features sandbox --example incend-quickstart`

use std::io::{BufRead, Write};
use std::time::Duration;

use incend::sandbox::{Fault, ManualClock, Sandbox};
use incend::{Client, ProfileEdit, Recipient, UserClient, VerifiedUser};

fn ask(prompt: &str) -> String {
    print!("{prompt}");
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    line.trim().to_owned()
}

fn recipient(raw: &str) -> incend::Result<Recipient> {
    if raw.contains('@') {
        Recipient::email(raw)
    } else {
        Recipient::sms(raw)
    }
}

struct Tally {
    sign_ins: u64,
}

async fn sign_in(
    backend: &Client,
    to: &Recipient,
    code: impl Fn() -> String,
    tally: &mut Tally,
) -> incend::Result<VerifiedUser> {
    let sent = backend.send_otp(to).await?;
    println!("sent a code by {:?}: {}", to.channel(), sent.message);
    let user = backend.verify_otp(to, &code()).await?;
    tally.sign_ins += 1;
    println!(
        "verified user {} (the backend keeps only this id; the token goes to the device)",
        user.user_id()
    );
    Ok(user)
}

#[tokio::main]
async fn main() -> incend::Result<()> {
    let live = std::env::var("INCEND_BASE_URL").is_ok() && std::env::var("INCEND_API_KEY").is_ok();
    let clock = ManualClock::new();
    let sandbox = if live {
        None
    } else {
        Some(
            Sandbox::builder()
                .clock(clock.clone())
                .otp("4071")
                .start()
                .await,
        )
    };
    let (backend, user_builder) = match &sandbox {
        None => (Client::from_env()?, UserClient::builder().with_env()),
        Some(sb) => (sb.client_builder().build()?, sb.user_client_builder()),
    };
    // The sandbox's manual clock, or the system clock when live.
    let now = match &sandbox {
        Some(sb) => sb.clock(),
        None => Default::default(),
    };
    println!(
        "incend quickstart against {} ({})",
        backend.base_url().as_str().trim_end_matches('/'),
        if live { "live" } else { "sandbox" }
    );

    let to = match &sandbox {
        Some(_) => Recipient::sms("+918838118348")?,
        None => recipient(
            &std::env::var("INCEND_RECIPIENT")
                .unwrap_or_else(|_| ask("mobile number (+country code) or email: ")),
        )?,
    };
    let code = || match &sandbox {
        Some(sb) => sb.otp(),
        None => ask("the code you received: "),
    };
    let mut tally = Tally { sign_ins: 0 };

    let user = sign_in(&backend, &to, code, &mut tally).await?;
    let status = backend.token_status(user.user_token()).await?;
    println!(
        "session of {} is active, {} s left",
        status.user_id,
        status
            .expires_at
            .duration_since(now.now())
            .map(|d| d.as_secs())
            .unwrap_or(0)
    );

    // On the user's device.
    let me = user_builder
        .with_credentials(user.user_token().clone())
        .with_expires_at(user.expires_at())
        .build()?;
    let profile = me.profile().await?;
    println!(
        "profile: name {}, email verified {}, mobile verified {}",
        profile.name.as_deref().unwrap_or("(none)"),
        profile.is_email_verified,
        profile.is_mobile_verified
    );
    let name = profile
        .name
        .clone()
        .unwrap_or_else(|| "Quickstart User".to_owned());
    let edited = me
        .edit_profile(&ProfileEdit::new(name)?.with_data("quickstart", true))
        .await?;
    println!(
        "edited profile: name {}",
        edited.name.as_deref().unwrap_or("(none)")
    );

    if let Some(sb) = &sandbox {
        // A 401 from the server: the session cannot be renewed, so it surfaces, once.
        sb.inject_on("profile", Fault::unauthorized());
        match me.profile().await {
            Err(e) if e.is_session_expired() => println!("injected 401 surfaced as: {e}"),
            other => println!("unexpected after an injected 401: {other:?}"),
        }
        me.profile().await?;
        println!("the token itself is still good: the next call succeeded");

        // Cross the server-reported expiry on the manual clock.
        let left = me
            .token_expiry()
            .and_then(|at| at.duration_since(now.now()).ok())
            .unwrap_or_default();
        clock.advance(left + Duration::from_secs(1));
        match me.profile().await {
            Err(e) if e.is_session_expired() => println!("after expiry, locally: {e}"),
            other => println!("unexpected after expiry: {other:?}"),
        }
        // Only the user can start a new session: a new code round.
        let again = sign_in(&backend, &to, code, &mut tally).await?;
        me.set_user_token(again.user_token().clone(), Some(again.expires_at()));
        let p = me.profile().await?;
        println!("signed in again as {}", p.user_id);
    }

    let b = backend.session_stats();
    let u = me.session_stats();
    println!(
        "DEMO-SUMMARY vendor=incend mode={} sign_ins={} calls={} pages=0 expiries={} renewals={} recovered_401={}",
        if live { "live" } else { "sandbox" },
        tally.sign_ins,
        b.requests + u.requests,
        b.expiries + u.expiries,
        tally.sign_ins.saturating_sub(1) + b.refreshes + u.refreshes,
        b.recovered_401 + u.recovered_401,
    );
    Ok(())
}
