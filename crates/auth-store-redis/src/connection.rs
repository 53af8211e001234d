//! The connection the store and the limiter share: where Redis is, how to sign in to it
//! (ACL user and password, TLS), the bound on every call, and the breaker that keeps a
//! down Redis from costing every call a timeout.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use auth_core::{Error, ErrorKind};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{ConnectionAddr, IntoConnectionInfo as _};
use secrecy::{ExposeSecret as _, SecretString};
use tokio::time::Instant;

/// A lazily connected, self-reconnecting Redis connection, with the namespace every key of
/// this crate starts with. The store and the limiter built on one share it. Cheap to clone.
///
/// Debug shows the host, the port and whether TLS is on, never the ACL user or password:
///
/// ```
/// use auth_store_redis::RedisConnection;
/// let conn = RedisConnection::builder("redis://fleet:s3cret-pw@127.0.0.1:6390")
///     .with_password("an0ther-s3cret")
///     .build()?;
/// let shown = format!("{conn:?}");
/// assert!(shown.contains("127.0.0.1:6390"));
/// assert!(!shown.contains("s3cret") && !shown.contains("fleet"));
/// # Ok::<(), auth_core::Error>(())
/// ```
#[derive(Clone)]
pub struct RedisConnection {
    inner: Arc<Inner>,
}

struct Inner {
    client: redis::Client,
    config: ConnectionManagerConfig,
    /// Made on the first call: it spawns a task, so it needs the caller's tokio runtime.
    manager: Mutex<Option<ConnectionManager>>,
    namespace: String,
    timeout: Duration,
    cooldown: Duration,
    /// While set and in the future, calls fail at once: Redis failed recently.
    down_until: Mutex<Option<Instant>>,
    addr: String,
    tls: bool,
    acl_user: bool,
}

/// Settings of a [`RedisConnection`].
#[must_use]
pub struct RedisConnectionBuilder {
    url: SecretString,
    username: Option<SecretString>,
    password: Option<SecretString>,
    root_certificate: Option<Vec<u8>>,
    namespace: String,
    timeout: Duration,
    cooldown: Duration,
}

impl fmt::Debug for RedisConnectionBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConnectionBuilder")
            .field("namespace", &self.namespace)
            .field("timeout", &self.timeout)
            .field("private_ca", &self.root_certificate.is_some())
            .finish_non_exhaustive()
    }
}

impl RedisConnection {
    /// The default namespace of every key.
    pub const DEFAULT_NAMESPACE: &'static str = "vendor-auth";
    /// The default bound on one Redis call: a Redis slower than this counts as down.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(500);
    /// How long a failed Redis is left alone before a call tries it again.
    pub const DEFAULT_COOLDOWN: Duration = Duration::from_secs(1);

    /// Settings for a connection to `url`: `redis://host:port/db`, or `rediss://` for TLS
    /// (rustls, with the webpki roots unless [`with_root_certificate`] names a CA). The URL
    /// may carry an ACL user and password; it is held as a secret either way.
    ///
    /// [`with_root_certificate`]: RedisConnectionBuilder::with_root_certificate
    pub fn builder(url: impl Into<String>) -> RedisConnectionBuilder {
        RedisConnectionBuilder {
            url: SecretString::from(url.into()),
            username: None,
            password: None,
            root_certificate: None,
            namespace: Self::DEFAULT_NAMESPACE.to_owned(),
            timeout: Self::DEFAULT_TIMEOUT,
            cooldown: Self::DEFAULT_COOLDOWN,
        }
    }

    /// The namespace every key starts with.
    pub fn namespace(&self) -> &str {
        &self.inner.namespace
    }

    /// The bound on one call.
    pub fn timeout(&self) -> Duration {
        self.inner.timeout
    }

    /// Whether a recent failure marks Redis down (calls fail at once until the cooldown
    /// passes, then the next call tries again).
    pub fn is_down(&self) -> bool {
        lock(&self.inner.down_until).is_some_and(|until| Instant::now() < until)
    }

    /// Run one call on the shared connection, bounded by the timeout; a failure or a
    /// timeout marks Redis down for the cooldown.
    pub(crate) async fn call<T, F, Fut>(&self, f: F) -> Result<T, Error>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let manager = self.manager()?;
        self.guarded(f(manager)).await
    }

    fn manager(&self) -> Result<ConnectionManager, Error> {
        let mut slot = self
            .inner
            .manager
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(m) = slot.as_ref() {
            return Ok(m.clone());
        }
        let m = ConnectionManager::new_lazy_with_config(
            self.inner.client.clone(),
            self.inner.config.clone(),
        )
        .map_err(|e| {
            Error::new(
                ErrorKind::Config,
                "redis connection manager could not start",
            )
            .with_source(e)
        })?;
        *slot = Some(m.clone());
        Ok(m)
    }

    /// A dedicated connection for pub/sub (a subscription holds its connection).
    pub(crate) async fn pubsub(&self) -> Result<redis::aio::PubSub, Error> {
        self.guarded(self.inner.client.get_async_pubsub()).await
    }

    async fn guarded<T>(
        &self,
        call: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, Error> {
        if self.is_down() {
            return Err(Error::new(
                ErrorKind::Transient,
                "redis failed recently; not retried until its cooldown passes",
            ));
        }
        match tokio::time::timeout(self.inner.timeout, call).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                // A reply error (a script bug, a wrong type) says Redis is up: only failures
                // to reach it open the breaker.
                if e.is_io_error()
                    || e.is_connection_dropped()
                    || e.is_connection_refusal()
                    || e.is_timeout()
                {
                    self.mark_down();
                }
                Err(Error::new(ErrorKind::Transient, "redis call failed").with_source(e))
            }
            Err(elapsed) => {
                self.mark_down();
                Err(Error::new(
                    ErrorKind::Transient,
                    format!("redis did not answer within {:?}", self.inner.timeout),
                )
                .with_source(elapsed))
            }
        }
    }

    fn mark_down(&self) {
        *lock(&self.inner.down_until) = Instant::now().checked_add(self.inner.cooldown);
        // The next call after the cooldown connects afresh, rather than meeting the failed
        // connection attempt the old manager may still hold.
        *self
            .inner
            .manager
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }
}

fn lock(m: &Mutex<Option<Instant>>) -> std::sync::MutexGuard<'_, Option<Instant>> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl fmt::Debug for RedisConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        f.debug_struct("RedisConnection")
            .field("addr", &i.addr)
            .field("tls", &i.tls)
            .field("acl_user", &i.acl_user)
            .field("namespace", &i.namespace)
            .field("timeout", &i.timeout)
            .field("down", &self.is_down())
            .finish()
    }
}

impl RedisConnectionBuilder {
    /// Sign in as this ACL user (overrides a user in the URL).
    pub fn with_username(mut self, username: impl Into<String>) -> Self {
        self.username = Some(SecretString::from(username.into()));
        self
    }

    /// Sign in with this password (overrides a password in the URL).
    pub fn with_password(mut self, password: impl Into<SecretString>) -> Self {
        self.password = Some(password.into());
        self
    }

    /// Trust this CA (PEM) for `rediss://` instead of the public roots: a private CA, as
    /// managed Redis services and test servers use.
    pub fn with_root_certificate(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.root_certificate = Some(pem.into());
        self
    }

    /// Start every key with this namespace (default `vendor-auth`), to keep several
    /// deployments apart on one Redis. It must not hold a secret: it is stored in clear.
    pub fn with_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// The bound on one Redis call (default 500 ms), connecting included. A slower Redis
    /// counts as down: renewals go on locally and limits become local.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long a failed Redis is left alone (default 1 s) before a call tries it again.
    pub fn with_cooldown(mut self, cooldown: Duration) -> Self {
        self.cooldown = cooldown;
        self
    }

    /// The connection, connected lazily: nothing is sent until the first call, so building
    /// it never waits for (or fails on) a Redis that is down. A URL that cannot be read is a
    /// `Config` error (which never quotes the URL).
    pub fn build(self) -> Result<RedisConnection, Error> {
        let config_error = |what: &str| {
            let what = what.to_owned();
            move |e: redis::RedisError| Error::new(ErrorKind::Config, what).with_source(e)
        };
        let mut info = self
            .url
            .expose_secret()
            .into_connection_info()
            .map_err(|_| Error::new(ErrorKind::Config, "redis url is not a valid redis url"))?;
        let mut settings = info.redis_settings().clone();
        if let Some(user) = &self.username {
            settings = settings.set_username(user.expose_secret());
        }
        if let Some(password) = &self.password {
            settings = settings.set_password(password.expose_secret());
        }
        let acl_user = settings.username().is_some();
        info = info.set_redis_settings(settings);
        let (addr, tls) = match info.addr() {
            ConnectionAddr::Tcp(host, port) => (format!("{host}:{port}"), false),
            ConnectionAddr::TcpTls { host, port, .. } => (format!("{host}:{port}"), true),
            other => (format!("{other}"), false),
        };
        let client = match self.root_certificate {
            Some(pem) => redis::Client::build_with_tls(
                info,
                redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(pem),
                },
            )
            .map_err(config_error("redis tls settings are not usable"))?,
            None => redis::Client::open(info)
                .map_err(config_error("redis connection settings are not usable"))?,
        };
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(self.cooldown);
        Ok(RedisConnection {
            inner: Arc::new(Inner {
                client,
                config,
                manager: Mutex::new(None),
                namespace: self.namespace,
                timeout: self.timeout,
                cooldown: self.cooldown,
                down_until: Mutex::new(None),
                addr,
                tls,
                acl_user,
            }),
        })
    }
}
