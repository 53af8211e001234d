//! JWT readers on arbitrary text: `jwt_claims`, `jwt_expiry`, `looks_like_jwt` and
//! `Expiry::from_jwt` never panic and agree with each other.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use auth_core::{
    Expiry,
    jwt::{jwt_claims, jwt_expiry, looks_like_jwt},
};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let claims = jwt_claims(token);
    assert_eq!(looks_like_jwt(token), claims.is_ok());
    let expiry = jwt_expiry(token);
    if let Ok(at) = expiry {
        assert!(
            claims.is_ok(),
            "an exp was read from a token whose claims are not"
        );
        assert!(at <= UNIX_EPOCH + Duration::from_secs(253_402_300_799));
    }
    let now = UNIX_EPOCH + Duration::from_secs(auth_core::ManualClock::DEFAULT_START_SECS);
    if let Ok(e) = Expiry::from_jwt(token, now) {
        assert_eq!(e.expires_at(), expiry.ok());
        let _ = (e.is_expired(now), e.remaining(now), e.lifetime());
    }
});
