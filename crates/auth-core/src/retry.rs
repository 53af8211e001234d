//! How a session spaces out its attempts at a token: the in-line retries of one renewal
//! ([`RetryPolicy`]) and the wait before the next renewal while a token is still served
//! ([`Backoff`]).

use std::time::Duration;

use crate::jitter::Jitter;

/// How many times one renewal tries a token request (sign-in or refresh) that fails
/// transiently (5xx, connect error, timeout) while no valid token remains, and how long it
/// waits between attempts.
///
/// The wait before retry `n` (counting from 1) is drawn from `[d/2, d]` with
/// `d = min(max_delay, base_delay × 2^(n-1))` ("equal jitter": spread out so many clients
/// do not retry in step, yet never an immediate re-hit of a struggling endpoint).
///
/// Only transient failures are retried: a vendor's rejection (4xx, bad credentials, a 429
/// with its Retry-After) is answered at once. A renewal started ahead of expiry, while the
/// token is still valid, is not retried in-line either: the valid token keeps being served
/// and the next attempt waits for the session's [`Backoff`].
///
/// The default is 3 attempts with waits of about 100–200 ms and 200–400 ms: a blip of the
/// token endpoint costs the waiting callers well under a second instead of an error.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use auth_core::{AccessToken, Clock as _, Error, ErrorKind, Expiry, Session, TokenSet, http::Http, provider::RetryPolicy};
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use std::time::Duration;
///
/// /// A token endpoint that fails twice with a 503, then answers.
/// #[derive(Debug, Default)]
/// struct Flaky(AtomicU32);
///
/// #[auth_core::provider::async_trait]
/// impl auth_core::provider::TokenProvider for Flaky {
///     async fn sign_in(&self) -> Result<TokenSet, Error> {
///         match self.0.fetch_add(1, Ordering::SeqCst) {
///             0 | 1 => Err(Error::new(ErrorKind::Transient, "server error").with_status(503)),
///             _ => Ok(TokenSet::new(AccessToken::new("t"), Expiry::never())),
///         }
///     }
/// }
///
/// // The backoff sleeps on the injected clock: a manual one moves instead of waiting.
/// let clock = auth_core::ManualClock::new();
/// let http = Http::new().unwrap().with_clock(clock.clone());
/// let start = clock.now();
/// let patient = Session::new(Flaky::default(), http.clone());
/// assert!(patient.token().await.is_ok());
/// assert_eq!(patient.stats().renewal_retries, 2);
/// let waited = clock.now().duration_since(start).unwrap();
/// assert!(waited >= Duration::from_millis(100 + 200));
/// assert!(waited <= RetryPolicy::default().worst_case_backoff());
///
/// let impatient = Session::new(Flaky::default(), http).with_renewal_retries(RetryPolicy::none());
/// assert!(impatient.token().await.unwrap_err().is_transient());
/// assert_eq!(impatient.stats().renewal_retries, 0);
/// # }
/// ```
///
/// ```
/// use std::time::Duration;
/// use auth_core::provider::RetryPolicy;
/// assert_eq!(RetryPolicy::default().worst_case_backoff(), Duration::from_millis(200 + 400));
/// assert_eq!(RetryPolicy::none().worst_case_backoff(), Duration::ZERO);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    max_attempts: u32,
    backoff: Backoff,
}

impl RetryPolicy {
    /// At most `max_attempts` attempts (at least 1) per token request, waiting about
    /// `base_delay` before the first retry, doubling each time up to `max_delay`.
    ///
    /// More attempts or longer waits ride out a longer outage of the token endpoint but hold
    /// every waiting caller longer; bound the callers' wait with
    /// [`Session::with_max_wait`](crate::Session::with_max_wait) if that matters more.
    ///
    /// ```
    /// use std::time::Duration;
    /// let p = auth_core::provider::RetryPolicy::new(5, Duration::from_millis(100), Duration::from_secs(1));
    /// // Worst case: 100 + 200 + 400 + 800 ms.
    /// assert_eq!(p.worst_case_backoff(), Duration::from_millis(1500));
    /// ```
    pub const fn new(max_attempts: u32, base_delay: Duration, max_delay: Duration) -> Self {
        RetryPolicy {
            max_attempts: if max_attempts == 0 { 1 } else { max_attempts },
            backoff: Backoff::new(base_delay, max_delay),
        }
    }

    /// One attempt, no retry: a failure reaches the waiting callers at once (for callers
    /// with their own retry loop, or tests that count single requests).
    ///
    /// ```
    /// assert_eq!(auth_core::provider::RetryPolicy::none().max_attempts(), 1);
    /// ```
    pub const fn none() -> Self {
        Self::new(1, Duration::ZERO, Duration::ZERO)
    }

    /// Attempts per token request, the first included.
    ///
    /// ```
    /// assert_eq!(auth_core::provider::RetryPolicy::default().max_attempts(), 3);
    /// ```
    pub const fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The longest the waits of one token request can add up to (every draw at its top).
    ///
    /// ```
    /// use std::time::Duration;
    /// let p = auth_core::provider::RetryPolicy::new(4, Duration::from_secs(1), Duration::from_secs(3));
    /// assert_eq!(p.worst_case_backoff(), Duration::from_secs(1 + 2 + 3));
    /// ```
    pub fn worst_case_backoff(&self) -> Duration {
        (1..self.max_attempts)
            .map(|retry| self.backoff.ceiling(retry))
            .fold(Duration::ZERO, Duration::saturating_add)
    }

    /// The wait before retry `retry` (1-based): drawn from `[d/2, d]`.
    pub(crate) fn delay(&self, retry: u32, jitter: &Jitter) -> Duration {
        self.backoff.delay(retry, jitter)
    }
}

impl Default for RetryPolicy {
    /// 3 attempts, 200 ms base, doubling, capped at 2 s.
    fn default() -> Self {
        Self::new(3, Duration::from_millis(200), Duration::from_secs(2))
    }
}

/// How long a session waits before its next renewal attempt while it still has a token to
/// serve, so that a struggling token endpoint is not hit once per call:
///
/// - after a renewal failed while the token was still valid (a background renewal inside
///   the advisory window, or one the callers waited for inside the mandatory window), the
///   valid token keeps being served and the next attempt waits for the `n`-th delay, `n`
///   counting the failures in a row;
/// - after two renewals in a row returned a token that was already expired when it arrived,
///   the second one is served and the next renewal waits likewise.
///
/// The `n`-th delay is drawn from `[d/2, d]` with `d = min(max, base × 2^(n-1))` (equal
/// jitter, as [`RetryPolicy`]). The wait is judged on the injected clock when a caller
/// arrives; nothing sleeps. Once the token is expired (or rejected) there is no backoff: every
/// caller gets a fresh attempt, or the one in flight.
///
/// The default is 1 s doubling up to 60 s: seven attempts in the first two minutes, then one
/// a minute; from a 1 h token's renewal moment to its expiry (4 to 6 minutes) about a dozen,
/// for a 24 h token (1.6 to 2.4 hours) about a hundred.
///
/// ```
/// use std::time::Duration;
/// use auth_core::provider::Backoff;
/// let b = Backoff::default();
/// let tops: Vec<u64> = (1..=8).map(|n| b.ceiling(n).as_secs()).collect();
/// assert_eq!(tops, [1, 2, 4, 8, 16, 32, 60, 60]);
/// assert_eq!(Backoff::new(Duration::from_millis(10), Duration::from_secs(1)).ceiling(3), Duration::from_millis(40));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    base: Duration,
    max: Duration,
}

impl Backoff {
    /// Wait about `base` after the first failure, doubling with each one in a row, never
    /// more than `max`. A longer backoff spares a token endpoint that is down; a shorter one
    /// gets a new token sooner once it is back.
    pub const fn new(base: Duration, max: Duration) -> Self {
        Backoff { base, max }
    }

    /// The longest wait after the `n`-th failure in a row (1-based; 0 counts as 1): the top
    /// of the range the wait is drawn from.
    pub fn ceiling(&self, n: u32) -> Duration {
        let doublings = n.saturating_sub(1).min(31);
        self.base.saturating_mul(1 << doublings).min(self.max)
    }

    /// The wait after the `n`-th failure in a row: drawn from `[d/2, d]`.
    pub(crate) fn delay(&self, n: u32, jitter: &Jitter) -> Duration {
        let d = self.ceiling(n);
        let floor = d / 2;
        floor + jitter.up_to(d - floor)
    }
}

impl Default for Backoff {
    /// 1 s, doubling, capped at 60 s.
    fn default() -> Self {
        Self::new(Duration::from_secs(1), Duration::from_secs(60))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_cap_and_stay_within_equal_jitter() {
        let p = RetryPolicy::new(8, Duration::from_millis(200), Duration::from_secs(2));
        let j = Jitter::seeded(3);
        for (retry, top_ms) in [
            (1, 200),
            (2, 400),
            (3, 800),
            (4, 1600),
            (5, 2000),
            (7, 2000),
        ] {
            let top = Duration::from_millis(top_ms);
            for _ in 0..200 {
                let d = p.delay(retry, &j);
                assert!(d >= top / 2 && d <= top, "retry {retry}: {d:?}");
            }
        }
        // A retry number past any real budget neither overflows nor exceeds the cap.
        assert_eq!(p.backoff.ceiling(u32::MAX), Duration::from_secs(2));
    }

    #[test]
    fn zero_attempts_means_one_and_none_never_waits() {
        assert_eq!(
            RetryPolicy::new(0, Duration::from_secs(1), Duration::from_secs(1)).max_attempts(),
            1
        );
        let j = Jitter::seeded(1);
        assert_eq!(RetryPolicy::none().delay(1, &j), Duration::ZERO);
    }

    #[test]
    fn a_huge_base_saturates_instead_of_panicking() {
        let p = RetryPolicy::new(40, Duration::MAX, Duration::MAX);
        assert_eq!(p.worst_case_backoff(), Duration::MAX);
        assert!(p.delay(39, &Jitter::seeded(9)) >= Duration::MAX / 2);
    }

    #[test]
    fn backoff_draws_stay_within_equal_jitter_of_a_capped_doubling() {
        let b = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        let j = Jitter::seeded(11);
        for (n, top) in [(0, 1), (1, 1), (2, 2), (6, 32), (7, 60), (40, 60)] {
            assert_eq!(b.ceiling(n), Duration::from_secs(top), "n = {n}");
            for _ in 0..100 {
                let d = b.delay(n, &j);
                let top = Duration::from_secs(top);
                assert!(d >= top / 2 && d <= top, "n = {n}: {d:?}");
            }
        }
        assert_eq!(
            Backoff::new(Duration::MAX, Duration::MAX).ceiling(9),
            Duration::MAX
        );
    }
}
