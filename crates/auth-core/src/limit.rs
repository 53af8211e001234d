//! The client-side limiter seam: what holds a request until the vendor's quota has room,
//! whether that is this process's [`RateLimiter`] or one shared by a fleet (the Redis GCRA
//! limiter of `auth-store-redis`).
//!
//! ```
//! use std::time::Duration;
//! use auth_core::RateLimiter;
//! use auth_core::limit::SharedLimiter;
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let limiter = SharedLimiter::from(
//!     RateLimiter::new(2, Duration::from_secs(60)).with_max_wait(Duration::ZERO),
//! );
//! let get = reqwest::Method::GET;
//! limiter.acquire(&get, "/a").await.unwrap();
//! limiter.acquire(&get, "/a").await.unwrap();
//! assert!(limiter.acquire(&get, "/a").await.unwrap_err().is_rate_limited());
//! // The in-process limiter never degrades.
//! assert_eq!(limiter.stats().degraded, 0);
//! # }
//! ```

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use reqwest::Method;

use crate::error::Error;
use crate::limiter::RateLimiter;

/// Holds each request until the quota has room for it: waits, or fails with a rate-limit
/// error when it would wait too long. Implemented by [`RateLimiter`] (this process) and by
/// fleet-wide limiters.
#[async_trait]
pub trait Limiter: Send + Sync + fmt::Debug {
    /// Wait for a slot for a request to `method` `path`.
    async fn acquire(&self, method: &Method, path: &str) -> Result<(), Error>;

    /// What the limiter did so far. A limiter that cannot degrade reports zeros.
    fn stats(&self) -> LimiterStats {
        LimiterStats::default()
    }
}

/// Counters of a limiter, for session stats and exact assertions in tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LimiterStats {
    /// Requests admitted by a local stand-in because the shared limiter was unreachable.
    pub degraded: u64,
    /// Whether the shared limiter is unreachable now (requests get local limits).
    pub degraded_now: bool,
}

impl LimiterStats {
    /// Counters with these values (for limiters outside this crate).
    pub fn new(degraded: u64, degraded_now: bool) -> Self {
        LimiterStats {
            degraded,
            degraded_now,
        }
    }
}

#[async_trait]
impl Limiter for RateLimiter {
    async fn acquire(&self, method: &Method, path: &str) -> Result<(), Error> {
        RateLimiter::acquire(self, method, path).await
    }
}

/// A shared handle to any [`Limiter`], as a builder takes one (and the transport holds).
/// Cheap to clone; clones share the limiter's state.
#[derive(Clone, Debug)]
pub struct SharedLimiter(Arc<dyn Limiter>);

impl SharedLimiter {
    /// Share `limiter`.
    pub fn new(limiter: impl Limiter + 'static) -> Self {
        SharedLimiter(Arc::new(limiter))
    }

    /// Wait for a slot (see [`Limiter::acquire`]).
    pub async fn acquire(&self, method: &Method, path: &str) -> Result<(), Error> {
        self.0.acquire(method, path).await
    }

    /// The limiter's counters.
    pub fn stats(&self) -> LimiterStats {
        self.0.stats()
    }
}

/// Any limiter becomes a shared one: a builder's `with_rate_limiter` takes a
/// [`RateLimiter`] or a fleet-wide limiter alike.
impl<L: Limiter + 'static> From<L> for SharedLimiter {
    fn from(limiter: L) -> Self {
        SharedLimiter::new(limiter)
    }
}

impl From<Arc<dyn Limiter>> for SharedLimiter {
    fn from(limiter: Arc<dyn Limiter>) -> Self {
        SharedLimiter(limiter)
    }
}
