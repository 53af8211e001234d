//! JWT claims and `exp` with the base64 layer out of the way: the input is the payload
//! itself, sent as `header.base64url(payload).sig`, so the fuzzer drives the claims JSON and
//! the `exp` reading directly. (`looks_like_jwt` and `Expiry::from_jwt` are `jwt_text`'s:
//! each would parse the token once more per input.)
//!
//! Byte 0 picks the padding (bit 0), one of two headers (bit 1) and the signature (bits 2-3).
#![no_main]

use std::time::UNIX_EPOCH;

use auth_core::jwt::{jwt_claims, jwt_expiry};

/// The largest `exp` the readers accept: 9999-12-31T23:59:59Z.
const MAX_EXP: f64 = 253_402_300_799.0;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&mode, payload)) = data.split_first() else {
        return;
    };
    let header = if mode & 2 == 0 {
        r#"{"alg":"none"}"#
    } else {
        r#"{"alg":"HS256","typ":"JWT"}"#
    };
    let sig = ["", "sig", "c2lnbmF0dXJl", "-_-_"][usize::from(mode >> 2) % 4];
    let token = format!(
        "{}.{}.{sig}",
        base64url(header.as_bytes(), mode & 1 == 1),
        base64url(payload, mode & 1 == 1)
    );

    // The claims are exactly the payload when it is a JSON object, and an error otherwise.
    let expected = serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(payload);
    let claims = jwt_claims(&token);
    match (&expected, &claims) {
        (Ok(e), Ok(c)) => assert_eq!(e, c),
        (Err(_), Err(_)) => {}
        _ => panic!(
            "jwt_claims disagrees with the payload: {:?}",
            claims.is_ok()
        ),
    }

    // `exp` reads as an instant exactly when it is a number of seconds in range.
    let exp = expected.as_ref().ok().and_then(|m| m.get("exp"));
    let secs = exp.and_then(serde_json::Value::as_f64);
    let expiry = jwt_expiry(&token);
    match (secs, &expiry) {
        (Some(s), Ok(at)) => {
            assert!((0.0..=MAX_EXP).contains(&s));
            let got = at.duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64());
            assert!(
                got.as_ref().is_ok_and(|g| (g - s).abs() <= 1.0),
                "exp {s} read as {got:?}"
            );
        }
        (Some(s), Err(_)) => assert!(!(0.0..=MAX_EXP).contains(&s), "exp {s} refused"),
        (None, Ok(_)) => panic!("an instant without a numeric exp"),
        (None, Err(_)) => {}
    }
});

/// base64url, padded or not (the reader accepts both).
fn base64url(bytes: &[u8], pad: bool) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..4 {
            if i < chars {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}
