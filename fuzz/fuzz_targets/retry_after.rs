//! `retry_after` on a Retry-After header holding arbitrary bytes (values `HeaderValue`
//! refuses cannot reach it and are skipped), against several clocks; `parse_error` carries
//! the same value.
#![no_main]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use auth_core::http::{PlainTextErrors, parse_error, retry_after};
use auth_core::reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(value) = HeaderValue::from_bytes(data) else {
        return;
    };
    // Delta seconds as the header's text (visible ASCII only: `to_str` refuses the rest).
    let delta = value
        .to_str()
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok());
    let mut headers = HeaderMap::new();
    headers.insert(RETRY_AFTER, value);
    let nows: [SystemTime; 4] = [
        UNIX_EPOCH,
        UNIX_EPOCH + Duration::from_secs(auth_core::ManualClock::DEFAULT_START_SECS),
        UNIX_EPOCH + Duration::from_secs(253_402_300_799),
        UNIX_EPOCH - Duration::from_secs(86_400),
    ];
    for now in nows {
        let after = retry_after(&headers, now);
        if let Some(secs) = delta {
            assert_eq!(after, Some(Duration::from_secs(secs)));
        }
        let e = parse_error(&PlainTextErrors, 429, &headers, "", now);
        assert_eq!(e.retry_after(), after);
        assert!(e.is_rate_limited());
    }
});
