//! The injected clock: the system clock in production, a manual one in tests.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::FutureExt as _;
use futures::future::BoxFuture;

/// A source of the current wall-clock time, and of waiting.
///
/// ```
/// use auth_core::{Clock, SystemClock};
/// let now = SystemClock.now();
/// assert!(now > std::time::UNIX_EPOCH);
/// ```
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time.
    fn now(&self) -> SystemTime;

    /// Wait for `duration`. The session sleeps here between attempts at a failing token
    /// request, so a test clock can make the backoff take no real time. The default sleeps
    /// on tokio's timer (it needs a tokio runtime with time enabled).
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        tokio::time::sleep(duration).boxed()
    }
}

/// The operating system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that moves only when told to. Clones share the same time, so a test keeps one
/// handle and gives another to the client.
///
/// Reading it is one atomic load: it adds no lock to the hot path it is measured on.
///
/// Sleeping on it takes no real time: [`Clock::sleep`] moves the clock forward by the
/// duration at once (and yields to the runtime), so a test sees a backoff on the clock
/// without waiting for it.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::time::Duration;
/// use auth_core::{Clock, ManualClock};
/// let clock = ManualClock::new();
/// let t0 = clock.now();
/// clock.advance(Duration::from_secs(90));
/// assert_eq!(clock.now().duration_since(t0).unwrap(), Duration::from_secs(90));
/// clock.sleep(Duration::from_secs(30)).await;
/// assert_eq!(clock.now().duration_since(t0).unwrap(), Duration::from_secs(120));
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock {
    nanos: Arc<AtomicU64>,
}

impl ManualClock {
    /// Seconds since the Unix epoch at which a new manual clock starts (2027-01-15).
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use auth_core::{Clock as _, ManualClock};
    /// let start = UNIX_EPOCH + Duration::from_secs(ManualClock::DEFAULT_START_SECS);
    /// assert_eq!(ManualClock::new().now(), start);
    /// ```
    pub const DEFAULT_START_SECS: u64 = 1_800_000_000;

    /// A manual clock at a fixed, arbitrary start time.
    ///
    /// ```
    /// use auth_core::Clock;
    /// let c = auth_core::ManualClock::new();
    /// assert_eq!(c.now(), auth_core::ManualClock::new().now());
    /// ```
    pub fn new() -> Self {
        Self::starting_at(UNIX_EPOCH + Duration::from_secs(Self::DEFAULT_START_SECS))
    }

    /// A manual clock at `start` (times before the epoch are clamped to it).
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use auth_core::Clock;
    /// let c = auth_core::ManualClock::starting_at(UNIX_EPOCH + Duration::from_secs(5));
    /// assert_eq!(c.now(), UNIX_EPOCH + Duration::from_secs(5));
    /// ```
    pub fn starting_at(start: SystemTime) -> Self {
        let n = start
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        ManualClock {
            nanos: Arc::new(AtomicU64::new(n)),
        }
    }

    /// Move the clock forward.
    pub fn advance(&self, by: Duration) {
        let add = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        let _ = self
            .nanos
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                Some(n.saturating_add(add))
            });
    }

    /// Set the clock to `to` (it may move backwards, as a real clock can).
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use auth_core::Clock;
    /// let c = auth_core::ManualClock::new();
    /// c.set(UNIX_EPOCH + Duration::from_secs(10));
    /// assert_eq!(c.now(), UNIX_EPOCH + Duration::from_secs(10));
    /// ```
    pub fn set(&self, to: SystemTime) {
        let n = to
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        self.nanos.store(n, Ordering::Release);
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_nanos(self.nanos.load(Ordering::Acquire))
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        let clock = self.clone();
        async move {
            clock.advance(duration);
            // A sleep is a suspension point: let the other tasks run, as a real one would.
            tokio::task::yield_now().await;
        }
        .boxed()
    }
}

/// A shared handle to any clock; the default is the system clock.
///
/// ```
/// use auth_core::{ManualClock, SharedClock};
/// let manual = ManualClock::new();
/// let shared = SharedClock::new(manual.clone());
/// assert_eq!(shared.now(), auth_core::Clock::now(&manual));
/// ```
#[derive(Clone)]
pub struct SharedClock(
    /// `None` is the system clock, read without a virtual call: the hot path reads the
    /// clock on every call.
    Option<Arc<dyn Clock>>,
);

impl SharedClock {
    /// Share `clock`.
    pub fn new<C: Clock + 'static>(clock: C) -> Self {
        if std::any::TypeId::of::<C>() == std::any::TypeId::of::<SystemClock>() {
            SharedClock(None)
        } else {
            SharedClock(Some(Arc::new(clock)))
        }
    }

    /// The current time of the shared clock.
    #[inline]
    pub fn now(&self) -> SystemTime {
        match &self.0 {
            None => SystemTime::now(),
            Some(clock) => clock.now(),
        }
    }

    /// Sleep on the shared clock (see [`Clock::sleep`]).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use std::time::Duration;
    /// let manual = auth_core::ManualClock::new();
    /// let shared = auth_core::SharedClock::new(manual.clone());
    /// let before = shared.now();
    /// shared.sleep(Duration::from_millis(250)).await;
    /// assert_eq!(shared.now().duration_since(before).unwrap(), Duration::from_millis(250));
    /// # }
    /// ```
    pub fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        match &self.0 {
            None => SystemClock.sleep(duration),
            Some(clock) => clock.sleep(duration),
        }
    }
}

impl fmt::Debug for SharedClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            None => f.debug_tuple("SharedClock").field(&SystemClock).finish(),
            Some(clock) => f.debug_tuple("SharedClock").field(clock).finish(),
        }
    }
}

impl Default for SharedClock {
    fn default() -> Self {
        SharedClock::new(SystemClock)
    }
}

impl<C: Clock + 'static> From<C> for SharedClock {
    fn from(c: C) -> Self {
        SharedClock::new(c)
    }
}

/// The vendor's clock reading from an answer's `Date` header, for
/// [`TokenSet::with_server_date`](crate::TokenSet::with_server_date): with it the session
/// reads an absolute expiry (an RFC 3339 timestamp, a JWT `exp`) on the vendor's clock, so a
/// local clock running ahead of or behind the vendor's does not shorten or stretch the
/// token. `None` when the header is missing or is not an HTTP date.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use reqwest::header::{DATE, HeaderMap};
/// let mut h = HeaderMap::new();
/// h.insert(DATE, "Fri, 15 Jan 2027 08:00:00 GMT".parse().unwrap());
/// assert_eq!(auth_core::http::server_date(&h), Some(UNIX_EPOCH + Duration::from_secs(1_800_000_000)));
/// h.insert(DATE, "yesterday".parse().unwrap());
/// assert_eq!(auth_core::http::server_date(&h), None);
/// assert_eq!(auth_core::http::server_date(&HeaderMap::new()), None);
/// ```
pub fn server_date(headers: &reqwest::header::HeaderMap) -> Option<SystemTime> {
    let raw = headers.get(reqwest::header::DATE)?.to_str().ok()?;
    httpdate::parse_http_date(raw.trim()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_date_reads_every_http_date_form_and_nothing_else() {
        use reqwest::header::{DATE, HeaderMap, HeaderValue};
        let at = UNIX_EPOCH + Duration::from_secs(784_111_777);
        for (raw, want) in [
            ("Sun, 06 Nov 1994 08:49:37 GMT", Some(at)),
            ("Sunday, 06-Nov-94 08:49:37 GMT", Some(at)),
            ("Sun Nov  6 08:49:37 1994", Some(at)),
            (" Sun, 06 Nov 1994 08:49:37 GMT ", Some(at)),
            ("", None),
            ("1994-11-06T08:49:37Z", None),
            ("Sun, 31 Nov 1994 08:49:37 GMT", None),
            ("784111777", None),
        ] {
            let mut h = HeaderMap::new();
            h.insert(DATE, HeaderValue::from_str(raw).unwrap());
            assert_eq!(server_date(&h), want, "{raw:?}");
        }
        let mut h = HeaderMap::new();
        h.insert(DATE, HeaderValue::from_bytes(b"\xff\xfe").unwrap());
        assert_eq!(server_date(&h), None);
    }

    #[test]
    fn clones_share_time() {
        let a = ManualClock::new();
        let b = a.clone();
        a.advance(Duration::from_secs(3600));
        assert_eq!(a.now(), b.now());
        assert_eq!(
            b.now().duration_since(UNIX_EPOCH).unwrap().as_secs(),
            ManualClock::DEFAULT_START_SECS + 3600
        );
    }

    #[test]
    fn before_epoch_clamps() {
        let c = ManualClock::starting_at(UNIX_EPOCH - Duration::from_secs(10));
        assert_eq!(c.now(), UNIX_EPOCH);
        c.advance(Duration::MAX);
        assert!(c.now() > UNIX_EPOCH);
    }
}
