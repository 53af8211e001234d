//! The fleet-wide rate limiter: a vendor's quota (IQM's 20 a minute, the platform's 300 a
//! minute per endpoint) counted once for every process, by GCRA in a Lua script on Redis's
//! own clock.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use auth_core::limit::{Limiter, LimiterStats};
use auth_core::reqwest::Method;
use auth_core::{Error, ErrorKind, RateLimiter};

use crate::connection::RedisConnection;
use crate::crypto;

static GCRA: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("lua/gcra.lua")));

/// At most `max` requests in any window of `per`, across every process sharing the Redis:
/// GCRA (a request is admitted when the quota's theoretical arrival time allows it), run
/// atomically in a Lua script on the server's clock, so the processes' clocks do not
/// matter. Requests over the quota wait (or, with [`with_max_wait`], fail with a rate-limit
/// error). Cheap to clone.
///
/// GCRA spaces requests by an emission interval. With a burst of `b` (default 1) the
/// interval is `per / (max - b + 1)`, which is what keeps every rolling window of `per` at
/// `max` or fewer: a burst costs long-run rate, and the default gives one process alone the
/// whole quota, one request every `per / max`.
///
/// When Redis is unreachable (down, or slower than the connection's timeout) a request is
/// admitted by a local [`RateLimiter`] instead, with the same quota unless
/// [`with_fallback`] says otherwise, and counted in [`Limiter::stats`]: calls go on, never
/// blocked on Redis.
///
/// A request waits on tokio's timer for Redis's clock to move: give it real time (tokio's
/// paused time would make it ask Redis again and again until the wall clock catches up).
///
/// [`with_max_wait`]: RedisLimiterBuilder::with_max_wait
/// [`with_fallback`]: RedisLimiterBuilder::with_fallback
///
/// ```
/// use std::time::Duration;
/// use auth_store_redis::{RedisConnection, RedisLimiter};
/// let conn = RedisConnection::builder("redis://127.0.0.1:6390").build()?;
/// // IQM: 20 requests a minute for the account, whichever process sends them.
/// let iqm = RedisLimiter::builder(conn.clone(), "iqm-production", 20, Duration::from_secs(60)).build()?;
/// // The platform: 300 a minute per endpoint.
/// let platform = RedisLimiter::builder(conn, "platform", 300, Duration::from_secs(60))
///     .per_endpoint()
///     .build()?;
/// assert_eq!(iqm.interval(), Duration::from_secs(3));
/// assert_eq!(platform.interval(), Duration::from_millis(200));
/// # Ok::<(), auth_core::Error>(())
/// ```
#[derive(Clone)]
pub struct RedisLimiter {
    inner: Arc<Inner>,
}

struct Inner {
    conn: RedisConnection,
    prefix: String,
    per_endpoint: bool,
    max_wait: Option<Duration>,
    interval_us: u64,
    tolerance_us: u64,
    fallback: RateLimiter,
    degraded: AtomicU64,
    degraded_now: AtomicBool,
}

impl fmt::Debug for RedisLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        f.debug_struct("RedisLimiter")
            .field("key", &i.prefix)
            .field("interval", &self.interval())
            .field("per_endpoint", &i.per_endpoint)
            .field("degraded", &i.degraded.load(Ordering::Relaxed))
            .field("connection", &i.conn)
            .finish()
    }
}

/// Settings of a [`RedisLimiter`].
#[derive(Debug)]
#[must_use]
pub struct RedisLimiterBuilder {
    conn: RedisConnection,
    name: String,
    max: u32,
    per: Duration,
    burst: u32,
    per_endpoint: bool,
    max_wait: Option<Duration>,
    fallback: Option<RateLimiter>,
}

/// When a request is admitted, in [`RedisLimiter::acquire_timed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Admission {
    /// By Redis, at this time of the Redis server's clock.
    Shared(SystemTime),
    /// By the local stand-in: Redis was unreachable.
    Local,
}

impl RedisLimiterBuilder {
    /// Count each endpoint (method and path) separately, as the platform's quota does.
    pub fn per_endpoint(mut self) -> Self {
        self.per_endpoint = true;
        self
    }

    /// Let up to `burst` requests through at once after a quiet spell (1 to `max`; default
    /// 1). The emission interval grows to keep every window at `max`: see [`RedisLimiter`].
    pub fn with_burst(mut self, burst: u32) -> Self {
        self.burst = burst;
        self
    }

    /// Fail with a rate-limit error (carrying the wait as Retry-After) instead of waiting
    /// longer than `max_wait`.
    pub fn with_max_wait(mut self, max_wait: Duration) -> Self {
        self.max_wait = Some(max_wait);
        self
    }

    /// The limiter that admits requests while Redis is unreachable (default: a
    /// [`RateLimiter`] with the same quota, per endpoint when this one is). Give each
    /// process a share of the quota here when an outage must not overrun it.
    pub fn with_fallback(mut self, fallback: RateLimiter) -> Self {
        self.fallback = Some(fallback);
        self
    }

    /// The limiter. `max` of 0 is a `Config` error, as is a burst outside 1 to `max` or a
    /// window under a millisecond; `name` must not hold a secret (it is a key in clear).
    pub fn build(self) -> Result<RedisLimiter, Error> {
        if self.max == 0 || self.burst == 0 || self.burst > self.max {
            return Err(Error::new(
                ErrorKind::Config,
                "a redis limiter needs max of at least 1 and a burst from 1 to max",
            ));
        }
        let per_us = u64::try_from(self.per.as_micros()).unwrap_or(u64::MAX);
        if per_us < 1_000 {
            return Err(Error::new(
                ErrorKind::Config,
                "a redis limiter's window must be at least a millisecond",
            ));
        }
        // Rounded up: a longer interval never lets a window hold more than `max`.
        let slots = u64::from(self.max - self.burst + 1);
        let interval_us = per_us.div_ceil(slots);
        let tolerance_us = interval_us.saturating_mul(u64::from(self.burst - 1));
        let fallback = self.fallback.unwrap_or_else(|| {
            let l = RateLimiter::new(self.max, self.per);
            let l = if self.per_endpoint {
                l.per_endpoint()
            } else {
                l
            };
            match self.max_wait {
                Some(w) => l.with_max_wait(w),
                None => l,
            }
        });
        Ok(RedisLimiter {
            inner: Arc::new(Inner {
                prefix: format!("{}:rl:{}", self.conn.namespace(), self.name),
                conn: self.conn,
                per_endpoint: self.per_endpoint,
                max_wait: self.max_wait,
                interval_us,
                tolerance_us,
                fallback,
                degraded: AtomicU64::new(0),
                degraded_now: AtomicBool::new(false),
            }),
        })
    }
}

impl RedisLimiter {
    /// Settings for a limiter of `max` requests per `per` under `name` (say
    /// `iqm-production`): every process with the same name and Redis shares the quota.
    pub fn builder(
        conn: RedisConnection,
        name: impl Into<String>,
        max: u32,
        per: Duration,
    ) -> RedisLimiterBuilder {
        RedisLimiterBuilder {
            conn,
            name: name.into(),
            max,
            per,
            burst: 1,
            per_endpoint: false,
            max_wait: None,
            fallback: None,
        }
    }

    /// The emission interval: the spacing of requests once the burst is spent.
    pub fn interval(&self) -> Duration {
        Duration::from_micros(self.inner.interval_us)
    }

    fn key(&self, method: &Method, path: &str) -> String {
        if self.inner.per_endpoint {
            // Paths may be long or carry ids: a short digest keeps the key tidy.
            let endpoint = crypto::short_digest(&format!("{method} {path}"));
            format!("{}:{endpoint}", self.inner.prefix)
        } else {
            format!("{}:all", self.inner.prefix)
        }
    }

    /// [`acquire`](Limiter::acquire), saying who admitted the request: Redis (at what time
    /// on its clock), or the local stand-in.
    pub async fn acquire_timed(&self, method: &Method, path: &str) -> Result<Admission, Error> {
        let key = self.key(method, path);
        let (interval, tolerance) = (self.inner.interval_us, self.inner.tolerance_us);
        loop {
            let key = key.clone();
            let answer: Result<(u8, u64), Error> = self
                .inner
                .conn
                .call(|mut c| async move {
                    GCRA.key(key)
                        .arg(interval)
                        .arg(tolerance)
                        .invoke_async(&mut c)
                        .await
                })
                .await;
            let wait = match answer {
                Ok((1, at_us)) => {
                    self.inner.degraded_now.store(false, Ordering::Relaxed);
                    return Ok(Admission::Shared(UNIX_EPOCH + Duration::from_micros(at_us)));
                }
                Ok((_, wait_us)) => Duration::from_micros(wait_us),
                Err(_) => {
                    self.inner.degraded_now.store(true, Ordering::Relaxed);
                    self.inner.degraded.fetch_add(1, Ordering::Relaxed);
                    self.inner.fallback.acquire(method, path).await?;
                    return Ok(Admission::Local);
                }
            };
            self.inner.degraded_now.store(false, Ordering::Relaxed);
            if let Some(max_wait) = self.inner.max_wait
                && wait > max_wait
            {
                return Err(Error::new(
                    ErrorKind::RateLimited,
                    "fleet-wide client-side rate limit reached",
                )
                .with_retry_after(wait));
            }
            tokio::time::sleep(wait).await;
        }
    }
}

#[async_trait]
impl Limiter for RedisLimiter {
    async fn acquire(&self, method: &Method, path: &str) -> Result<(), Error> {
        self.acquire_timed(method, path).await.map(|_| ())
    }

    fn stats(&self) -> LimiterStats {
        LimiterStats::new(
            self.inner.degraded.load(Ordering::Relaxed),
            self.inner.degraded_now.load(Ordering::Relaxed),
        )
    }
}
