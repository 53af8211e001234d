//! An opt-in client-side rate limiter that keeps a busy service under a vendor's quota.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Method;
use tokio::time::Instant;

use crate::error::{Error, ErrorKind};

/// A sliding-window limiter: at most `max` requests in any `per` window, either for the
/// whole client or per endpoint (method + path). Callers over the quota wait for a slot
/// (tokio time, so tests can pause it); with [`with_max_wait`](Self::with_max_wait) a caller
/// that would wait longer gets a rate-limit error instead. Cheap to clone; clones share state.
///
/// IQM's 20 requests a minute, with callers that would rather fail than wait a second:
///
/// ```
/// use std::time::Duration;
/// use auth_core::RateLimiter;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let limiter = RateLimiter::new(20, Duration::from_secs(60)).with_max_wait(Duration::from_secs(1));
/// let get = reqwest::Method::GET;
/// for _ in 0..20 {
///     limiter.acquire(&get, "/api/v3/x").await.unwrap();
/// }
/// let over = limiter.acquire(&get, "/api/v3/x").await.unwrap_err();
/// assert!(over.is_rate_limited());
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct RateLimiter {
    max: usize,
    per: Duration,
    per_endpoint: bool,
    max_wait: Option<Duration>,
    windows: Arc<Mutex<HashMap<String, VecDeque<Instant>>>>,
}

impl RateLimiter {
    /// At most `max` requests per `per` for the whole client (`max` of 0 is treated as 1).
    pub fn new(max: u32, per: Duration) -> Self {
        RateLimiter {
            max: usize::try_from(max.max(1)).unwrap_or(usize::MAX),
            per,
            per_endpoint: false,
            max_wait: None,
            windows: Arc::default(),
        }
    }

    /// Count each endpoint (method + path) separately.
    pub fn per_endpoint(mut self) -> Self {
        self.per_endpoint = true;
        self
    }

    /// Fail with a rate-limit error instead of waiting longer than `max_wait`.
    pub fn with_max_wait(mut self, max_wait: Duration) -> Self {
        self.max_wait = Some(max_wait);
        self
    }

    /// Wait for a slot for a request to `method` `path`.
    pub async fn acquire(&self, method: &Method, path: &str) -> Result<(), Error> {
        let key = if self.per_endpoint {
            format!("{method} {path}")
        } else {
            String::new()
        };
        loop {
            let wait = {
                let mut windows = self
                    .windows
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let window = windows.entry(key.clone()).or_default();
                let now = Instant::now();
                while window
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= self.per)
                {
                    window.pop_front();
                }
                if window.len() < self.max {
                    window.push_back(now);
                    return Ok(());
                }
                match window.front() {
                    // `Instant + Duration` panics past the platform's range.
                    Some(oldest) => oldest
                        .checked_add(self.per)
                        .map_or(self.per, |free| free.saturating_duration_since(now)),
                    None => Duration::ZERO,
                }
            };
            if let Some(max_wait) = self.max_wait
                && wait > max_wait
            {
                crate::trace::rate_limit_refused(wait, self.per_endpoint);
                return Err(
                    Error::new(ErrorKind::RateLimited, "client-side rate limit reached")
                        .with_retry_after(wait),
                );
            }
            crate::trace::rate_limit_wait(wait, self.per_endpoint);
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn waits_for_the_window_to_slide() {
        let l = RateLimiter::new(20, Duration::from_secs(60));
        let start = Instant::now();
        for _ in 0..20 {
            l.acquire(&Method::GET, "/a").await.unwrap();
        }
        assert_eq!(Instant::now(), start, "first 20 pass at once");
        l.acquire(&Method::GET, "/b").await.unwrap();
        assert_eq!(Instant::now() - start, Duration::from_secs(60));
    }

    #[tokio::test(start_paused = true)]
    async fn per_endpoint_windows_are_separate() {
        let l = RateLimiter::new(1, Duration::from_secs(60)).per_endpoint();
        let start = Instant::now();
        l.acquire(&Method::GET, "/a").await.unwrap();
        l.acquire(&Method::GET, "/b").await.unwrap();
        l.acquire(&Method::POST, "/a").await.unwrap();
        assert_eq!(Instant::now(), start);
    }

    #[tokio::test(start_paused = true)]
    async fn an_absurd_window_is_an_error_not_a_panic() {
        let l = RateLimiter::new(1, Duration::MAX).with_max_wait(Duration::from_secs(1));
        l.acquire(&Method::GET, "/a").await.unwrap();
        let e = l.acquire(&Method::GET, "/a").await.unwrap_err();
        assert!(e.is_rate_limited());
    }

    #[tokio::test(start_paused = true)]
    async fn max_wait_turns_into_an_error() {
        let l = RateLimiter::new(1, Duration::from_secs(60)).with_max_wait(Duration::from_secs(1));
        l.acquire(&Method::GET, "/a").await.unwrap();
        let e = l.acquire(&Method::GET, "/a").await.unwrap_err();
        assert!(e.is_rate_limited());
        assert_eq!(e.retry_after(), Some(Duration::from_secs(60)));
    }
}
