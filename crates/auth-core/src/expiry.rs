//! One expiry representation, built from every form the vendors use.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};

use crate::error::{Error, ErrorKind};

/// When a token stops being valid, and how long it was meant to live.
///
/// Built from an ISO-8601 timestamp with offset, a JWT `exp` claim, `expires_in` seconds, a
/// fixed lifetime, a server-reported instant, or nothing (API keys and static tokens).
/// Every constructor that reads vendor input returns a typed error on malformed input.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use auth_core::Expiry;
/// let received = UNIX_EPOCH + Duration::from_secs(1_000);
/// let e = Expiry::from_expires_in(3600, received);
/// assert!(!e.is_expired(received + Duration::from_secs(3599)));
/// assert!(e.is_expired(received + Duration::from_secs(3600)));
/// assert_eq!(e.lifetime(), Some(Duration::from_secs(3600)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expiry {
    expires_at: Option<SystemTime>,
    lifetime: Option<Duration>,
    /// For an instant named on the vendor's clock ([`at`](Self::at), RFC 3339, JWT `exp`):
    /// when it was received, so a session can re-base it with the answer's `Date` header.
    received_at: Option<SystemTime>,
}

/// How far the local receipt time may run ahead of an answer's `Date` header before the
/// clocks are taken to disagree. A `Date` names a whole second (the vendor's clock was
/// somewhere inside it) and travels for the network's delay, so a receipt up to 2 s after it
/// is what agreeing clocks look like; the local clock, finer than the header, is then used as
/// it is. A receipt *before* the `Date` cannot come from agreeing clocks: any such reading
/// re-bases.
pub(crate) const DATE_TOLERANCE: Duration = Duration::from_secs(2);

impl Expiry {
    /// A token that never expires (API keys, static tokens).
    ///
    /// ```
    /// let e = auth_core::Expiry::never();
    /// assert!(!e.is_expired(std::time::SystemTime::now()));
    /// ```
    pub fn never() -> Self {
        Expiry {
            expires_at: None,
            lifetime: None,
            received_at: None,
        }
    }

    /// A server-reported expiry instant, received at `received_at`.
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// let now = UNIX_EPOCH + Duration::from_secs(100);
    /// let e = auth_core::Expiry::at(now + Duration::from_secs(50), now);
    /// assert_eq!(e.lifetime(), Some(Duration::from_secs(50)));
    /// ```
    pub fn at(expires_at: SystemTime, received_at: SystemTime) -> Self {
        Expiry {
            expires_at: Some(expires_at),
            lifetime: Some(
                expires_at
                    .duration_since(received_at)
                    .unwrap_or(Duration::ZERO),
            ),
            received_at: Some(received_at),
        }
    }

    /// A fixed lifetime counted from `issued_at` (IntelePeer's 24 hours).
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// let e = auth_core::Expiry::lifetime_from(Duration::from_secs(86_400), UNIX_EPOCH);
    /// assert_eq!(e.expires_at(), Some(UNIX_EPOCH + Duration::from_secs(86_400)));
    /// ```
    pub fn lifetime_from(lifetime: Duration, issued_at: SystemTime) -> Self {
        // An absurd lifetime still expires (at the end of year 9999), rather than
        // overflowing into "never".
        let far = UNIX_EPOCH + Duration::from_secs(MAX_EPOCH_SECS);
        let expires_at = issued_at.checked_add(lifetime).map_or(far, |t| t.min(far));
        Expiry {
            expires_at: Some(expires_at),
            lifetime: Some(lifetime),
            received_at: None,
        }
    }

    /// `expires_in` seconds counted from receipt (OAuth-style answers).
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// let e = auth_core::Expiry::from_expires_in(60, UNIX_EPOCH);
    /// assert_eq!(e.expires_at(), Some(UNIX_EPOCH + Duration::from_secs(60)));
    /// ```
    pub fn from_expires_in(seconds: u64, received_at: SystemTime) -> Self {
        Self::lifetime_from(Duration::from_secs(seconds), received_at)
    }

    /// An ISO-8601 / RFC 3339 timestamp with an offset (`2026-01-01T10:00:00.1234567+02:00`).
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// let e = auth_core::Expiry::from_rfc3339("1970-01-01T01:00:00+01:00", UNIX_EPOCH).unwrap();
    /// assert_eq!(e.expires_at(), Some(UNIX_EPOCH));
    /// assert!(auth_core::Expiry::from_rfc3339("tomorrow", UNIX_EPOCH).unwrap_err().is_bad_response());
    /// ```
    pub fn from_rfc3339(timestamp: &str, received_at: SystemTime) -> Result<Self, Error> {
        Ok(Self::at(parse_rfc3339(timestamp)?, received_at))
    }

    /// The `exp` claim of a JWT, read without verifying the signature.
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// // header {"alg":"none"}, payload {"exp":100}
    /// let jwt = "eyJhbGciOiJub25lIn0.eyJleHAiOjEwMH0.sig";
    /// let e = auth_core::Expiry::from_jwt(jwt, UNIX_EPOCH).unwrap();
    /// assert_eq!(e.expires_at(), Some(UNIX_EPOCH + Duration::from_secs(100)));
    /// ```
    pub fn from_jwt(token: &str, received_at: SystemTime) -> Result<Self, Error> {
        Ok(Self::at(jwt_expiry(token)?, received_at))
    }

    /// Whether this expiry is an instant on the vendor's clock (built by [`at`](Self::at),
    /// [`from_rfc3339`](Self::from_rfc3339) or [`from_jwt`](Self::from_jwt)) rather than a
    /// lifetime counted from receipt. Only such an expiry depends on the two clocks agreeing,
    /// and only it is re-based with the answer's `Date` header (see
    /// [`TokenSet::with_server_date`](crate::TokenSet::with_server_date)).
    ///
    /// ```
    /// use std::time::UNIX_EPOCH;
    /// use auth_core::Expiry;
    /// assert!(Expiry::from_rfc3339("1970-01-01T01:00:00Z", UNIX_EPOCH).unwrap().is_absolute());
    /// assert!(!Expiry::from_expires_in(3600, UNIX_EPOCH).is_absolute());
    /// assert!(!Expiry::never().is_absolute());
    /// ```
    pub fn is_absolute(&self) -> bool {
        self.received_at.is_some()
    }

    /// This expiry read on the local clock, given the vendor's clock reading `server_date`
    /// (its answer's `Date` header) for the same answer: for an absolute expiry the lifetime
    /// is `expiry - server_date` and the local expiry `receipt + lifetime`, whatever the local
    /// clock says; a lifetime counted from receipt (and an expiry that never comes) is
    /// returned as it is, as is one whose receipt lies within 2 s (`DATE_TOLERANCE`, the whole seconds of the header plus transit) after the
    /// `Date` (the clocks agree as far as the header can tell).
    ///
    /// For a vendor crate that hands an absolute expiry to its user rather than to a
    /// session (Incend's `tokenExpiry` for a user's device); a session applies it itself
    /// ([`TokenSet::with_server_date`](crate::TokenSet::with_server_date)).
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use auth_core::Expiry;
    /// let received = UNIX_EPOCH + Duration::from_secs(1_000_000);
    /// // The vendor's clock is 10 minutes ahead: its `Date` says receipt + 600 s.
    /// let vendor_date = received + Duration::from_secs(600);
    /// let e = Expiry::at(vendor_date + Duration::from_secs(3600), received).on_local_clock(vendor_date);
    /// assert_eq!(e.expires_at(), Some(received + Duration::from_secs(3600)));
    /// ```
    pub fn on_local_clock(&self, server_date: SystemTime) -> Expiry {
        let (Some(at), Some(received)) = (self.expires_at, self.received_at) else {
            return *self;
        };
        let agreeing = received
            .duration_since(server_date)
            .is_ok_and(|ahead| ahead <= DATE_TOLERANCE);
        if agreeing {
            return *self;
        }
        let far = UNIX_EPOCH + Duration::from_secs(MAX_EPOCH_SECS);
        let (local, lifetime) = match at.duration_since(server_date) {
            Ok(lifetime) => (
                received.checked_add(lifetime).map_or(far, |t| t.min(far)),
                lifetime,
            ),
            // Expired on the vendor's clock before it answered: as long before receipt.
            Err(before) => (
                received
                    .checked_sub(before.duration())
                    .unwrap_or(UNIX_EPOCH),
                Duration::ZERO,
            ),
        };
        Expiry {
            expires_at: Some(local),
            lifetime: Some(lifetime),
            received_at: Some(received),
        }
    }

    /// When an absolute expiry was received (see [`is_absolute`](Self::is_absolute)).
    pub(crate) fn received_at(&self) -> Option<SystemTime> {
        self.received_at
    }

    /// An expiry exactly as read back from a token store's at-rest form.
    pub(crate) fn from_parts(
        expires_at: Option<SystemTime>,
        lifetime: Option<Duration>,
        received_at: Option<SystemTime>,
    ) -> Self {
        Expiry {
            expires_at,
            lifetime,
            received_at,
        }
    }

    /// The instant the token expires, if it does.
    ///
    /// ```
    /// assert_eq!(auth_core::Expiry::never().expires_at(), None);
    /// ```
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.expires_at
    }

    /// How long the token was meant to live when it was received.
    ///
    /// ```
    /// assert_eq!(auth_core::Expiry::never().lifetime(), None);
    /// ```
    pub fn lifetime(&self) -> Option<Duration> {
        self.lifetime
    }

    /// Whether the token has expired at `now` (an expiry instant is itself expired).
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// let e = auth_core::Expiry::from_expires_in(10, UNIX_EPOCH);
    /// assert!(e.is_expired(UNIX_EPOCH + Duration::from_secs(10)));
    /// ```
    pub fn is_expired(&self, now: SystemTime) -> bool {
        self.expires_at.is_some_and(|at| now >= at)
    }

    /// Time left at `now`; `None` for a token that never expires.
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// let e = auth_core::Expiry::from_expires_in(10, UNIX_EPOCH);
    /// assert_eq!(e.remaining(UNIX_EPOCH + Duration::from_secs(4)), Some(Duration::from_secs(6)));
    /// ```
    pub fn remaining(&self, now: SystemTime) -> Option<Duration> {
        self.expires_at
            .map(|at| at.duration_since(now).unwrap_or(Duration::ZERO))
    }
}

/// 9999-12-31T23:59:59Z, the last instant an expiry is allowed to name.
const MAX_EPOCH_SECS: u64 = 253_402_300_799;

fn bad(context: &str) -> Error {
    Error::new(ErrorKind::BadResponse, context)
}

/// Parse an RFC 3339 timestamp with offset into a `SystemTime`.
///
/// ```
/// let t = auth_core::provider::parse_rfc3339("2026-11-24T10:00:00Z").unwrap();
/// assert!(t > std::time::UNIX_EPOCH);
/// assert!(auth_core::provider::parse_rfc3339("2026-11-24T10:00:00").is_err());
/// ```
pub fn parse_rfc3339(timestamp: &str) -> Result<SystemTime, Error> {
    let parsed = time::OffsetDateTime::parse(
        timestamp.trim(),
        &time::format_description::well_known::Rfc3339,
    )
    .map_err(|e| bad("expiry timestamp is not RFC 3339 with an offset").with_source(e))?;
    let nanos = parsed.unix_timestamp_nanos();
    if nanos < 0 {
        return Err(bad("expiry timestamp is before 1970"));
    }
    let nanos = u64::try_from(nanos).map_err(|_| bad("expiry timestamp is out of range"))?;
    Ok(UNIX_EPOCH + Duration::from_nanos(nanos))
}

/// The decoded payload (claims) of a JWT, without verifying its signature.
///
/// Errors: not three dot-separated segments, bad base64url, payload not a JSON object.
///
/// ```
/// let claims = auth_core::jwt::jwt_claims("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.").unwrap();
/// assert_eq!(claims["sub"], "x");
/// assert!(auth_core::jwt::jwt_claims("only.two").unwrap_err().is_bad_response());
/// ```
pub fn jwt_claims(token: &str) -> Result<serde_json::Map<String, serde_json::Value>, Error> {
    let mut parts = token.trim().split('.');
    let (Some(header), Some(payload), Some(_sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad(
            "token is not a JWT: expected three dot-separated segments",
        ));
    };
    if header.is_empty() || payload.is_empty() {
        return Err(bad("token is not a JWT: empty header or payload"));
    }
    let decode = |s: &str| {
        URL_SAFE_NO_PAD
            .decode(s)
            .or_else(|_| URL_SAFE.decode(s))
            .map_err(|e| bad("JWT segment is not base64url").with_source(e))
    };
    let header = decode(header)?;
    serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&header)
        .map_err(|e| bad("JWT header is not a JSON object").with_source(e))?;
    let payload = decode(payload)?;
    serde_json::from_slice(&payload)
        .map_err(|e| bad("JWT payload is not a JSON object").with_source(e))
}

/// Whether `token` has the shape of a JWT (three base64url segments with JSON header and payload).
///
/// ```
/// assert!(auth_core::jwt::looks_like_jwt("eyJhbGciOiJub25lIn0.eyJleHAiOjEwMH0.sig"));
/// assert!(!auth_core::jwt::looks_like_jwt("3f2a9c1e-opaque"));
/// ```
pub fn looks_like_jwt(token: &str) -> bool {
    jwt_claims(token).is_ok()
}

/// The `exp` claim of a JWT as an instant, without verifying the signature.
///
/// ```
/// assert!(auth_core::jwt::jwt_expiry("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.s").unwrap_err().is_bad_response());
/// ```
pub fn jwt_expiry(token: &str) -> Result<SystemTime, Error> {
    let claims = jwt_claims(token)?;
    let exp = claims
        .get("exp")
        .ok_or_else(|| bad("JWT has no exp claim"))?;
    let secs = match exp {
        serde_json::Value::Number(n) => n
            .as_u64()
            .map(|s| s as f64)
            .or_else(|| n.as_f64())
            .ok_or_else(|| bad("JWT exp claim is not a number of seconds"))?,
        _ => return Err(bad("JWT exp claim is not numeric")),
    };
    if !secs.is_finite() || !(0.0..=MAX_EPOCH_SECS as f64).contains(&secs) {
        return Err(bad("JWT exp claim is out of range"));
    }
    Ok(UNIX_EPOCH + Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    fn jwt(payload: &str) -> String {
        format!(
            "{}.{}.sig",
            b64(r#"{"alg":"HS256","typ":"JWT"}"#),
            b64(payload)
        )
    }

    #[test]
    fn jwt_exp_forms() {
        let t0 = UNIX_EPOCH;
        assert_eq!(
            Expiry::from_jwt(&jwt(r#"{"exp":1800000600}"#), t0)
                .unwrap()
                .expires_at(),
            Some(UNIX_EPOCH + Duration::from_secs(1_800_000_600))
        );
        assert!(Expiry::from_jwt(&jwt(r#"{"exp":1.5e3}"#), t0).is_ok());
        for (payload, why) in [
            (r#"{"sub":"x"}"#, "JWT has no exp claim"),
            (r#"{"exp":"1800000600"}"#, "JWT exp claim is not numeric"),
            (r#"{"exp":-5}"#, "JWT exp claim is out of range"),
            (r#"{"exp":1e300}"#, "JWT exp claim is out of range"),
            (r#"[1,2]"#, "JWT payload is not a JSON object"),
        ] {
            let e = Expiry::from_jwt(&jwt(payload), t0).unwrap_err();
            assert!(e.is_bad_response());
            assert_eq!(e.to_string(), why, "{payload}");
        }
        assert_eq!(
            jwt_expiry("a.b").unwrap_err().to_string(),
            "token is not a JWT: expected three dot-separated segments"
        );
        assert_eq!(
            jwt_expiry("!!!.@@@.x").unwrap_err().to_string(),
            "JWT segment is not base64url"
        );
        assert!(jwt_expiry("a.b.c.d.e").is_err());
    }

    #[test]
    fn rfc3339_forms() {
        let t = parse_rfc3339("2026-11-24T10:00:00.1234567+00:00").unwrap();
        let z = parse_rfc3339("2026-11-24T10:00:00.1234567Z").unwrap();
        assert_eq!(t, z);
        let plus = parse_rfc3339("2026-11-24T12:00:00.1234567+02:00").unwrap();
        assert_eq!(t, plus);
        for bad in [
            "",
            "2026-11-24",
            "2026-11-24T10:00:00",
            "1969-12-31T23:59:59Z",
            "2026-13-01T00:00:00Z",
        ] {
            assert!(parse_rfc3339(bad).unwrap_err().is_bad_response(), "{bad}");
        }
    }

    #[test]
    fn an_absurd_lifetime_still_expires() {
        let e = Expiry::from_expires_in(u64::MAX, UNIX_EPOCH + Duration::from_secs(1000));
        assert_eq!(
            e.expires_at(),
            Some(UNIX_EPOCH + Duration::from_secs(MAX_EPOCH_SECS))
        );
        assert!(!e.is_expired(SystemTime::now()));
    }

    #[test]
    fn expiry_semantics() {
        let now = UNIX_EPOCH + Duration::from_secs(1000);
        let e = Expiry::at(now - Duration::from_secs(1), now);
        assert!(e.is_expired(now));
        assert_eq!(e.lifetime(), Some(Duration::ZERO));
        assert_eq!(e.remaining(now), Some(Duration::ZERO));
        assert!(!Expiry::never().is_expired(now));
    }

    #[test]
    fn an_absolute_expiry_is_read_on_the_vendors_clock() {
        let secs = |n: u64| Duration::from_secs(n);
        let t = UNIX_EPOCH + secs(1_800_000_000);
        // (local receipt minus the Date, vendor's lifetime) -> local expiry after receipt
        for (local_minus_date, vendor_lifetime, want) in [
            // Local clock 10 min ahead: the token still lives its hour locally.
            (600i64, 3600i64, Some(3600i64)),
            // 10 min behind.
            (-600, 3600, Some(3600)),
            // Expired a minute before the vendor answered, whatever our clock says.
            (600, -60, Some(-60)),
            (-600, -60, Some(-60)),
            // Within the header's resolution and transit: the local reading stands.
            (0, 3600, None),
            (2, 3600, None),
            // A receipt before the Date is never agreeing clocks.
            (-1, 3600, Some(3600)),
            (3, 3600, Some(3600)),
        ] {
            let received = t;
            let date = UNIX_EPOCH + secs((1_800_000_000i64 - local_minus_date).try_into().unwrap());
            let at = UNIX_EPOCH
                + secs(
                    (1_800_000_000i64 - local_minus_date + vendor_lifetime)
                        .try_into()
                        .unwrap(),
                );
            let e = Expiry::at(at, received);
            let local = e.on_local_clock(date);
            match want {
                None => assert_eq!(local, e, "{local_minus_date} {vendor_lifetime}"),
                Some(after) => {
                    let want_at = if after >= 0 {
                        received + secs(after.unsigned_abs())
                    } else {
                        received - secs(after.unsigned_abs())
                    };
                    assert_eq!(local.expires_at(), Some(want_at), "{local_minus_date}");
                    assert_eq!(
                        local.lifetime(),
                        Some(secs(vendor_lifetime.max(0).unsigned_abs()))
                    );
                    assert!(local.is_absolute());
                }
            }
        }
        // Relative and never-expiring ones are untouched by any Date.
        let rel = Expiry::from_expires_in(60, t);
        assert_eq!(rel.on_local_clock(t - secs(3600)), rel);
        assert_eq!(Expiry::never().on_local_clock(t), Expiry::never());
        // Absurd inputs saturate instead of panicking.
        let far = Expiry::at(UNIX_EPOCH + secs(MAX_EPOCH_SECS), t).on_local_clock(UNIX_EPOCH);
        assert_eq!(far.expires_at(), Some(UNIX_EPOCH + secs(MAX_EPOCH_SECS)));
        let early = Expiry::at(UNIX_EPOCH, secs_from_epoch(5)).on_local_clock(t);
        assert!(early.is_expired(secs_from_epoch(5)));
    }

    fn secs_from_epoch(n: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(n)
    }

    /// A loop over many generated malformed inputs: every one is a typed error, none panics.
    #[test]
    fn malformed_inputs_never_panic() {
        let pieces = [
            "",
            ".",
            "..",
            "...",
            "a",
            "e30",
            "eyJ",
            "====",
            "%%%",
            "\u{0}",
            "é",
            "eyJleHAiOiJ4In0",
            "eyJleHAiOm51bGx9",
            "W10",
            "bnVsbA",
            "eyJleHAiOnRydWV9",
            "eyJleHAiOi0xfQ",
            " ",
        ];
        let mut seen = 0;
        for a in pieces {
            for b in pieces {
                for c in ["", ".", ".x", "..", ".x.y"] {
                    for token in [format!("{a}.{b}{c}"), format!("{a}{b}{c}")] {
                        // None of these carry a numeric, in-range exp: all must be typed errors.
                        let e = jwt_expiry(&token).unwrap_err();
                        assert!(e.is_bad_response(), "{token:?}");
                        let e = Expiry::from_rfc3339(&token, UNIX_EPOCH).unwrap_err();
                        assert!(e.is_bad_response(), "{token:?}");
                        seen += 1;
                    }
                }
            }
        }
        // Every structurally invalid token must fail with BadResponse.
        for n in 0..2000u32 {
            let junk: String = (0..(n % 40))
                .map(|i| char::from(b"ab.=-_+/{}\"e0"[((n * 31 + i * 7) % 13) as usize]))
                .collect();
            if let Err(e) = jwt_expiry(&junk) {
                assert!(e.is_bad_response());
            }
            if let Err(e) = parse_rfc3339(&junk) {
                assert!(e.is_bad_response());
            }
        }
        assert!(seen > 1000);
    }
}
