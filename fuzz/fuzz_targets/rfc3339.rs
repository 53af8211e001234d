//! `parse_rfc3339` and `Expiry::from_rfc3339` on arbitrary text: never a panic, never an
//! instant before 1970.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use auth_core::{Expiry, provider::parse_rfc3339};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = parse_rfc3339(text);
    if let Ok(at) = parsed {
        assert!(at >= UNIX_EPOCH);
    }
    let now = UNIX_EPOCH + Duration::from_secs(auth_core::ManualClock::DEFAULT_START_SECS);
    match Expiry::from_rfc3339(text, now) {
        Ok(e) => {
            assert_eq!(e.expires_at(), parsed.ok());
            let _ = (e.is_expired(now), e.remaining(now), e.lifetime());
        }
        Err(e) => assert!(e.is_bad_response() && parsed.is_err()),
    }
});
