//! The contract every vendor provider runs through, against its own sandbox: sign-in once,
//! no renewal while valid, one renewal for many callers after expiry, one precise 401
//! retry (or none for a credential that cannot be renewed), typed 429 and 5xx errors, and
//! no secret in any error.

// Test helpers outside #[test] functions unwrap too: a failed setup is a failed test.
#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

mod harness;

mod acme;

mod incend;
mod intelepeer;
mod ipaas_com;
mod iqm;
mod middleware;
mod platformio;
mod traces;
mod transport;
mod user_client;
