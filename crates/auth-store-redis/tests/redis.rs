//! The Redis store and limiter against a real `redis-server` (`.ci/redis.sh start` runs one
//! and exports `REDIS_URL`; CI's `.ci/run` does). Each test works in a namespace of its own.
//! A "process" here is a task with its own connection and its own view of the version it
//! holds. Token expiry is driven by a `ManualClock`; only Redis's own timers (lease TTLs,
//! the limiter's window) run on real time, kept short.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::collections::HashMap;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use auth_core::limit::Limiter as _;
use auth_core::reqwest::Method;
use auth_core::store::{
    Acquire, Identity, Outcome, Publish, ShareSettings, StoreKey, TokenStore, renew_shared,
};
use auth_core::{AccessToken, Clock as _, Error, Expiry, ManualClock, RefreshToken, TokenSet};
use auth_store_redis::{Admission, EncryptionKey, RedisConnection, RedisLimiter, RedisStore};
use secrecy::SecretString;

const KEY: [u8; 32] = *b"0123456789abcdef0123456789abcdef";
const CLIENT_SECRET: &str = "client-secret-Zq81";
const LIFETIME: Duration = Duration::from_secs(600);

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: these tests need a real redis-server. Start one with \
             `eval \"$(.ci/redis.sh start)\"` (CI's .ci/run does) and run them again"
        )
    })
}

fn redis_url() -> String {
    env("REDIS_URL")
}

/// A fresh namespace per test (and per run), so tests never see each other's keys.
fn namespace(test: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("t-{test}-{}-{nanos}", std::process::id())
}

/// A connection of its own: a process of the fleet. Fails the test, clearly, when Redis is
/// not there.
async fn connect(url: &str, ns: &str) -> RedisConnection {
    let client = redis::Client::open(url).unwrap();
    let ping = tokio::time::timeout(Duration::from_secs(2), async {
        let mut c = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING").query_async::<String>(&mut c).await
    })
    .await;
    assert!(
        matches!(ping, Ok(Ok(_))),
        "no redis-server answers at {url}: start one with `eval \"$(.ci/redis.sh start)\"` ({ping:?})"
    );
    RedisConnection::builder(url)
        .with_namespace(ns)
        .with_cooldown(Duration::from_millis(200))
        .build()
        .unwrap()
}

fn sealed(conn: RedisConnection) -> RedisStore {
    RedisStore::builder(conn)
        .with_encryption_key(EncryptionKey::from_bytes(KEY))
        .with_poll_interval(Duration::from_millis(100))
        .build()
        .unwrap()
}

fn key_of(store: &RedisStore) -> StoreKey {
    let secret = SecretString::from(CLIENT_SECRET);
    store.key(
        &Identity::new("iqm")
            .with_part("client-id")
            .with_secret(&secret),
    )
}

fn settings() -> ShareSettings {
    ShareSettings::default()
        .with_lease_ttl(Duration::from_secs(2))
        .with_store_timeout(Duration::from_secs(1))
        .with_wait_slice(Duration::from_millis(200))
}

fn set(access: &str) -> TokenSet {
    TokenSet::new(AccessToken::new(access), Expiry::never())
}

/// A vendor that rotates refresh tokens: it counts renewals and sign-ins, and every refresh
/// made with anything but the latest refresh token it issued.
#[derive(Default)]
struct Vendor {
    renewals: AtomicU64,
    sign_ins: AtomicU64,
    stale_refreshes: AtomicU64,
    latest_refresh: Mutex<Option<String>>,
}

impl Vendor {
    async fn renew(&self, base: Option<TokenSet>, now: SystemTime) -> Result<TokenSet, Error> {
        let n = self.renewals.fetch_add(1, Ordering::SeqCst) + 1;
        // The vendor takes a moment: the other processes pile up meanwhile.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let refresh = format!("refresh-{n}");
        {
            let mut latest = self.latest_refresh.lock().unwrap();
            match base.as_ref().and_then(|b| b.refresh_token()) {
                Some(r) if latest.as_deref() == Some(r.expose()) => {}
                Some(_) => {
                    self.stale_refreshes.fetch_add(1, Ordering::SeqCst);
                }
                None => {
                    self.sign_ins.fetch_add(1, Ordering::SeqCst);
                }
            }
            *latest = Some(refresh.clone());
        }
        Ok(TokenSet::new(
            AccessToken::new(format!("access-{n}")),
            Expiry::lifetime_from(LIFETIME, now),
        )
        .with_refresh_token(Some(RefreshToken::new(refresh))))
    }
}

/// One process: its store (own connection) and the version it holds.
struct Process {
    store: RedisStore,
    seen: AtomicU64,
}

/// Every process renews at once (as each finds its token expired); the outcomes counted.
async fn round(
    processes: &[Arc<Process>],
    key: &StoreKey,
    clock: &ManualClock,
    vendor: &Arc<Vendor>,
) -> HashMap<String, usize> {
    let mut tasks = Vec::new();
    for p in processes {
        let (p, key, clock, vendor) = (p.clone(), key.clone(), clock.clone(), vendor.clone());
        tasks.push(tokio::spawn(async move {
            let now = clock.now();
            let started = Instant::now();
            let shared = renew_shared(
                &p.store,
                &key,
                p.seen.load(Ordering::SeqCst),
                &settings(),
                |t| !t.expiry().is_expired(clock.now()),
                |base| vendor.renew(base, now),
            )
            .await
            .expect("a renewal never fails because of redis");
            assert!(
                started.elapsed() < Duration::from_secs(4),
                "{:?}",
                started.elapsed()
            );
            if let Some(v) = shared.version {
                p.seen.store(v, Ordering::SeqCst);
            }
            shared.outcome
        }));
    }
    let mut outcomes = HashMap::new();
    for t in tasks {
        *outcomes
            .entry(format!("{:?}", t.await.unwrap()))
            .or_default() += 1;
    }
    outcomes
}

async fn processes(url: &str, ns: &str, n: usize) -> Vec<Arc<Process>> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(Arc::new(Process {
            store: sealed(connect(url, ns).await),
            seen: AtomicU64::new(0),
        }));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_processes_renew_once_per_expiry_from_the_latest_refresh_token() {
    const PROCESSES: usize = 8;
    const EXPIRIES: u64 = 5;
    let ns = namespace("fleet");
    let fleet = processes(&redis_url(), &ns, PROCESSES).await;
    let key = key_of(&fleet[0].store);
    // Every process derives the same key from the same identity and encryption key.
    assert!(fleet.iter().all(|p| key_of(&p.store) == key));
    let clock = ManualClock::new();
    let vendor = Arc::new(Vendor::default());
    for r in 0..=EXPIRIES {
        if r > 0 {
            clock.advance(LIFETIME);
        }
        let outcomes = round(&fleet, &key, &clock, &vendor).await;
        assert_eq!(outcomes.get("Renewed"), Some(&1), "round {r}: {outcomes:?}");
        assert_eq!(outcomes.values().sum::<usize>(), PROCESSES);
        assert_eq!(vendor.renewals.load(Ordering::SeqCst), r + 1, "round {r}");
    }
    // One sign-in at start, one refresh per expiry, each with the latest refresh token.
    assert_eq!(vendor.sign_ins.load(Ordering::SeqCst), 1);
    assert_eq!(vendor.stale_refreshes.load(Ordering::SeqCst), 0);
    let last = fleet[3].store.load(&key).await.unwrap().unwrap();
    assert_eq!(last.tokens.refresh_token().unwrap().expose(), "refresh-6");
    assert_eq!(last.tokens.access_token().expose(), "access-6");
    assert!(
        fleet
            .iter()
            .all(|p| p.seen.load(Ordering::SeqCst) == last.version)
    );
}

#[tokio::test]
async fn the_lease_is_exclusive_and_a_stale_holder_cannot_publish() {
    let ns = namespace("lease");
    let url = redis_url();
    let a = sealed(connect(&url, &ns).await);
    let b = sealed(connect(&url, &ns).await);
    let key = key_of(&a);
    let ttl = Duration::from_millis(300);
    let Acquire::Acquired(fa) = a.acquire(&key, ttl).await.unwrap() else {
        panic!("the lease is free")
    };
    let Acquire::Held { expires_in } = b.acquire(&key, ttl).await.unwrap() else {
        panic!("a holds the lease")
    };
    assert!(expires_in.unwrap() <= ttl);
    // `a` stalls past its TTL (Redis's own timer); `b` takes over.
    tokio::time::sleep(ttl + Duration::from_millis(50)).await;
    let Acquire::Acquired(fb) = b.acquire(&key, ttl).await.unwrap() else {
        panic!("a's lease lapsed")
    };
    assert!(fb.get() > fa.get());
    assert_eq!(
        a.publish(&key, fa, 0, &set("stale")).await.unwrap(),
        Publish::Fenced { version: 0 }
    );
    assert!(
        !a.release(&key, fa).await.unwrap(),
        "a cannot release b's lease"
    );
    let Publish::Published(v1) = b.publish(&key, fb, 0, &set("fresh")).await.unwrap() else {
        panic!("b holds the lease")
    };
    assert!(b.release(&key, fb).await.unwrap());
    // A publication must start from the current version, lease or not.
    let Acquire::Acquired(fa2) = a.acquire(&key, ttl).await.unwrap() else {
        panic!()
    };
    assert_eq!(
        a.publish(&key, fa2, 0, &set("stale")).await.unwrap(),
        Publish::Fenced { version: v1 }
    );
    assert_eq!(
        a.publish(&key, fa2, v1, &set("next")).await.unwrap(),
        Publish::Published(v1 + 1)
    );
    let stored = b.load(&key).await.unwrap().unwrap();
    assert_eq!(
        (stored.version, stored.tokens.access_token().expose()),
        (v1 + 1, "next")
    );
    // A 401 on the old version changes nothing; on the current one it marks it.
    assert!(!b.invalidate(&key, v1).await.unwrap());
    assert!(b.invalidate(&key, v1 + 1).await.unwrap());
    assert!(a.load(&key).await.unwrap().unwrap().invalidated);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holder_killed_mid_renewal_is_taken_over_after_the_ttl() {
    let ns = namespace("takeover");
    let url = redis_url();
    let dead = sealed(connect(&url, &ns).await);
    let key = key_of(&dead);
    let s = settings().with_lease_ttl(Duration::from_millis(800));
    // The holder takes the lease and is never heard from again.
    let Acquire::Acquired(_) = dead.acquire(&key, s.lease_ttl()).await.unwrap() else {
        panic!("the lease is free")
    };
    let start = Instant::now();
    let renewals = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for p in processes(&url, &ns, 4).await {
        let (key, renewals) = (key.clone(), renewals.clone());
        tasks.push(tokio::spawn(async move {
            renew_shared(
                &p.store,
                &key,
                0,
                &s,
                |_| true,
                |_| async move {
                    // Nobody renews while the dead holder's lease lives (Redis's clock and
                    // ours may differ by a few milliseconds).
                    assert!(start.elapsed() >= s.lease_ttl() - Duration::from_millis(50));
                    renewals.fetch_add(1, Ordering::SeqCst);
                    Ok(set("after-takeover"))
                },
            )
            .await
            .unwrap()
        }));
    }
    for t in tasks {
        let shared = t.await.unwrap();
        assert_eq!(shared.tokens.access_token().expose(), "after-takeover");
        assert!(shared.version.is_some());
    }
    assert_eq!(renewals.load(Ordering::SeqCst), 1);
    assert!(
        start.elapsed() < s.lease_ttl() + Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn a_waiter_wakes_on_the_notification_and_polls_without_one() {
    let url = redis_url();
    let ns = namespace("notify");
    let holder = sealed(connect(&url, &ns).await);
    let key = key_of(&holder);
    // An ACL user that may not subscribe: its waits fall back to polling.
    let mut admin = redis::Client::open(url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let user = format!("nopubsub-{}", std::process::id());
    let _: () = redis::cmd("ACL")
        .arg("SETUSER")
        .arg(&user)
        .arg("on")
        .arg(">pw-nopubsub")
        .arg("~*")
        .arg("resetchannels")
        .arg("+@all")
        .query_async(&mut admin)
        .await
        .unwrap();
    let waiter = |poll: Duration, acl: bool| {
        let mut b = RedisConnection::builder(&url).with_namespace(&ns);
        if acl {
            b = b.with_username(&user).with_password("pw-nopubsub");
        }
        RedisStore::builder(b.build().unwrap())
            .with_encryption_key(EncryptionKey::from_bytes(KEY))
            .with_poll_interval(poll)
            .build()
            .unwrap()
    };
    let mut base = 0;
    // Notified: polling every 10 s could not explain a wake-up within a second.
    // Polling only: found within a poll interval or two.
    for (store, poll) in [
        (
            waiter(Duration::from_secs(10), false),
            Duration::from_secs(10),
        ),
        (
            waiter(Duration::from_millis(100), true),
            Duration::from_millis(100),
        ),
    ] {
        let Acquire::Acquired(f) = holder.acquire(&key, Duration::from_secs(5)).await.unwrap()
        else {
            panic!()
        };
        let (k, b) = (key.clone(), base);
        let wait = tokio::spawn(async move {
            let start = Instant::now();
            let got = store
                .wait_newer(&k, b, Duration::from_secs(5))
                .await
                .unwrap();
            (got.map(|s| s.version), start.elapsed())
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        let Publish::Published(v) = holder.publish(&key, f, base, &set("n")).await.unwrap() else {
            panic!()
        };
        assert!(holder.release(&key, f).await.unwrap());
        let (got, took) = wait.await.unwrap();
        assert_eq!(got, Some(v));
        assert!(
            took < Duration::from_secs(1).min(Duration::from_millis(200) + 3 * poll),
            "{took:?} (poll {poll:?})"
        );
        base = v;
    }
    let _: () = redis::cmd("ACL")
        .arg("DELUSER")
        .arg(&user)
        .query_async(&mut admin)
        .await
        .unwrap();
}

/// The ACL rule the README recommends: this namespace's keys and channels, and only the
/// commands this crate sends (scripts run their commands under the same user).
const LEAST_PRIVILEGE: &[&str] = &[
    "-@all",
    "+evalsha",
    "+script|load",
    "+hmget",
    "+subscribe",
    "+unsubscribe",
    "+ping",
    "+exists",
    "+pttl",
    "+hincrby",
    "+set",
    "+get",
    "+del",
    "+publish",
    "+hget",
    "+hset",
    "+hdel",
    "+hexists",
    "+time",
];

#[tokio::test]
async fn a_least_privilege_acl_user_is_enough() {
    let url = redis_url();
    let ns = namespace("acl-least");
    let mut admin = redis::Client::open(url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let user = format!("least-{}", std::process::id());
    let mut setuser = redis::cmd("ACL");
    setuser
        .arg("SETUSER")
        .arg(&user)
        .arg("reset")
        .arg("on")
        .arg(">pw-least");
    setuser
        .arg(format!("~{ns}:*"))
        .arg(format!("&{ns}:*"))
        .arg(LEAST_PRIVILEGE);
    let _: () = setuser.query_async(&mut admin).await.unwrap();
    let conn = RedisConnection::builder(&url)
        .with_username(&user)
        .with_password("pw-least")
        .with_namespace(&ns)
        .build()
        .unwrap();
    let (a, b) = (sealed(conn.clone()), sealed(connect(&url, &ns).await));
    let key = key_of(&a);
    let first = renew_shared(
        &a,
        &key,
        0,
        &settings(),
        |_| true,
        |_| async { Ok(set("a1")) },
    )
    .await
    .unwrap();
    assert_eq!(first.outcome, Outcome::Renewed);
    assert!(a.invalidate(&key, first.version.unwrap()).await.unwrap());
    // `a` waits (subscribed, under the ACL user) while `b` renews.
    let Acquire::Acquired(f) = b.acquire(&key, Duration::from_secs(5)).await.unwrap() else {
        panic!()
    };
    let v = first.version.unwrap();
    let waiting = {
        let (a, key) = (a.clone(), key.clone());
        tokio::spawn(async move {
            renew_shared(
                &a,
                &key,
                v,
                &settings(),
                |_| true,
                |_| async { Ok(set("not me")) },
            )
            .await
            .unwrap()
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let Publish::Published(v2) = b.publish(&key, f, v, &set("a2")).await.unwrap() else {
        panic!()
    };
    assert!(b.release(&key, f).await.unwrap());
    let waited = waiting.await.unwrap();
    assert_eq!(
        (waited.outcome, waited.version),
        (Outcome::Waited, Some(v2))
    );
    let limiter = RedisLimiter::builder(conn, "quota", 5, Duration::from_secs(1))
        .build()
        .unwrap();
    assert!(matches!(
        limiter.acquire_timed(&Method::GET, "/x").await.unwrap(),
        Admission::Shared(_)
    ));
    // Outside its namespace it may do nothing.
    let outside = sealed(
        RedisConnection::builder(&url)
            .with_username(&user)
            .with_password("pw-least")
            .with_namespace(namespace("elsewhere"))
            .build()
            .unwrap(),
    );
    assert!(outside.load(&key_of(&outside)).await.is_err());
    let _: () = redis::cmd("ACL")
        .arg("DELUSER")
        .arg(&user)
        .query_async(&mut admin)
        .await
        .unwrap();
}

/// A `redis-server` of this test's own, on a free loopback port, to stop mid-run.
struct OwnServer {
    child: Child,
    port: u16,
}

impl OwnServer {
    fn start(port: Option<u16>) -> OwnServer {
        let port = port.unwrap_or_else(|| {
            TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        });
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect(
                "redis-server is not installed: run `.ci/redis.sh start` once, which installs it",
            );
        let server = OwnServer { child, port };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return server;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server did not start on port {port}");
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// SIGKILL: the server vanishes mid-run, as a crash would.
    fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_mid_run_falls_back_without_failing_and_rejoins() {
    let ns = namespace("outage");
    let mut server = OwnServer::start(None);
    let fleet = processes(&server.url(), &ns, 4).await;
    let key = key_of(&fleet[0].store);
    let clock = ManualClock::new();
    let vendor = Arc::new(Vendor::default());
    let outcomes = round(&fleet, &key, &clock, &vendor).await;
    assert_eq!(outcomes.get("Renewed"), Some(&1), "{outcomes:?}");
    assert_eq!(vendor.renewals.load(Ordering::SeqCst), 1);

    server.kill();
    clock.advance(LIFETIME);
    let outcomes = round(&fleet, &key, &clock, &vendor).await;
    // Every process renewed on its own, and none failed.
    assert_eq!(outcomes.get("Fallback"), Some(&4), "{outcomes:?}");
    assert_eq!(vendor.renewals.load(Ordering::SeqCst), 5);

    // Back (empty: nothing was persisted), and past the breaker's cooldown: they share again.
    let server = OwnServer::start(Some(server.port));
    tokio::time::sleep(Duration::from_millis(300)).await;
    clock.advance(LIFETIME);
    let outcomes = round(&fleet, &key, &clock, &vendor).await;
    assert_eq!(outcomes.get("Renewed"), Some(&1), "{outcomes:?}");
    assert_eq!(outcomes.get("Fallback"), None, "{outcomes:?}");
    assert_eq!(vendor.renewals.load(Ordering::SeqCst), 6);
    drop(server);
}

#[tokio::test]
async fn a_redis_that_is_not_there_costs_a_fallback_not_a_failure() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let store = sealed(
        RedisConnection::builder(format!("redis://127.0.0.1:{port}"))
            .build()
            .unwrap(),
    );
    let key = key_of(&store);
    let start = Instant::now();
    for _ in 0..3 {
        let shared = renew_shared(
            &store,
            &key,
            0,
            &settings(),
            |_| true,
            |base| async move {
                assert!(base.is_none());
                Ok(set("local"))
            },
        )
        .await
        .unwrap();
        assert_eq!((shared.outcome, shared.version), (Outcome::Fallback, None));
    }
    // The first refused connection opens the breaker: the next calls do not even try.
    assert!(store.connection().is_down());
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
}

/// Every key of `ns` and every value in it, as bytes: strings whole, hashes field by field.
async fn dump(url: &str, ns: &str) -> Vec<(String, Vec<u8>)> {
    let client = redis::Client::open(url).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let mut cursor: u64 = 0;
    let mut out = Vec::new();
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{ns}:*"))
            .query_async(&mut c)
            .await
            .unwrap();
        for key in keys {
            let kind: String = redis::cmd("TYPE")
                .arg(&key)
                .query_async(&mut c)
                .await
                .unwrap();
            let value: Vec<u8> = match kind.as_str() {
                "string" => redis::cmd("GET")
                    .arg(&key)
                    .query_async(&mut c)
                    .await
                    .unwrap(),
                "hash" => {
                    let all: Vec<Vec<u8>> = redis::cmd("HGETALL")
                        .arg(&key)
                        .query_async(&mut c)
                        .await
                        .unwrap();
                    all.concat()
                }
                other => panic!("unexpected {other} at {key}"),
            };
            out.push((key, value));
        }
        cursor = next;
        if cursor == 0 {
            return out;
        }
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct Workspace(String);

#[tokio::test]
async fn nothing_redis_holds_is_a_secret_in_clear() {
    let url = redis_url();
    let (user, password) = (env("REDIS_ACL_USER"), env("REDIS_ACL_PASSWORD"));
    let access = "access-token-Hx71kQ";
    let refresh = "refresh-token-Pp02zR";
    let tokens = TokenSet::new(AccessToken::new(access), Expiry::never())
        .with_refresh_token(Some(RefreshToken::new(refresh)))
        .with_storable_data(Workspace("ws-42".into()));
    let secrets = [access, refresh, CLIENT_SECRET, password.as_str()];
    let key_b64 = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="; // KEY, as a user would pass it

    let mut dumps = Vec::new();
    for plaintext in [false, true] {
        let ns = namespace(if plaintext { "clear" } else { "sealed" });
        let conn = RedisConnection::builder(&url)
            .with_username(&user)
            .with_password(password.clone())
            .with_namespace(&ns)
            .build()
            .unwrap();
        let store = if plaintext {
            RedisStore::builder(conn.clone())
                .with_plaintext_at_rest()
                .build()
                .unwrap()
        } else {
            RedisStore::builder(conn.clone())
                .with_encryption_key(EncryptionKey::from_base64(key_b64).unwrap())
                .build()
                .unwrap()
        };
        let key = key_of(&store);
        let shared = renew_shared(
            &store,
            &key,
            0,
            &settings(),
            |_| true,
            |_| async { Ok(tokens.clone()) },
        )
        .await
        .unwrap();
        assert_eq!(shared.outcome, Outcome::Renewed);
        let Acquire::Acquired(_) = store.acquire(&key, Duration::from_secs(30)).await.unwrap()
        else {
            panic!("free")
        };
        let limiter = RedisLimiter::builder(conn.clone(), "iqm-prod", 20, Duration::from_secs(60))
            .per_endpoint()
            .build()
            .unwrap();
        limiter
            .acquire(&Method::GET, "/api/v3/campaigns")
            .await
            .unwrap();
        // What a user prints never shows the ACL user, password, key or tokens either.
        let shown = format!("{conn:?} {store:?} {limiter:?} {shared:?}");
        for s in secrets.iter().chain([&user.as_str(), &key_b64]) {
            assert!(!shown.contains(s), "{s} in {shown}");
        }
        // Read back from Redis by another process, the data decodes.
        let back = store.load(&key).await.unwrap().unwrap();
        assert_eq!(
            back.tokens.storable_data::<Workspace>(),
            Some(&Workspace("ws-42".into()))
        );
        dumps.push(dump(&url, &ns).await);
    }
    let (sealed_dump, clear_dump) = (&dumps[0], &dumps[1]);
    // tokens hash, lease and limiter state: every key this crate writes is there.
    assert_eq!(
        sealed_dump.len(),
        3,
        "{:?}",
        sealed_dump.iter().map(|(k, _)| k).collect::<Vec<_>>()
    );
    for (key, value) in sealed_dump {
        for s in secrets.iter().chain([key_b64, "ws-42"].iter()) {
            assert!(!key.contains(s), "{s} in key {key}");
            assert!(!contains(value, s), "{s} in the value of {key}");
        }
    }
    // The same grep finds the tokens when they are kept in clear, so it can fail.
    assert!(
        clear_dump
            .iter()
            .any(|(_, v)| contains(v, access) && contains(v, refresh))
    );
    assert!(clear_dump.iter().all(|(k, _)| !k.contains(CLIENT_SECRET)));
}

#[tokio::test]
async fn sets_open_only_under_their_key_identity_and_version() {
    let url = redis_url();
    let ns = namespace("seal");
    let conn = connect(&url, &ns).await;
    let store = sealed(conn.clone());
    // No key and no plaintext, or both: refused at build.
    assert!(
        RedisStore::builder(conn.clone())
            .build()
            .unwrap_err()
            .is_config()
    );
    let both = RedisStore::builder(conn.clone())
        .with_encryption_key(EncryptionKey::from_bytes(KEY))
        .with_plaintext_at_rest()
        .build();
    assert!(both.unwrap_err().is_config());

    let key = key_of(&store);
    let Acquire::Acquired(f) = store.acquire(&key, Duration::from_secs(5)).await.unwrap() else {
        panic!()
    };
    let Publish::Published(v) = store.publish(&key, f, 0, &set("a1")).await.unwrap() else {
        panic!()
    };
    assert!(store.release(&key, f).await.unwrap());
    let tokens_key = format!("{}:tokens", key.as_str());

    let mut c = redis::Client::open(url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let blob: Vec<u8> = redis::cmd("HGET")
        .arg(&tokens_key)
        .arg("blob")
        .query_async(&mut c)
        .await
        .unwrap();

    // Another key reads nothing: the set is refused, not misread, and counts as invalidated
    // (never used; renewed over). So is an encrypted set in plaintext mode.
    let other_key = RedisStore::builder(conn.clone())
        .with_encryption_key(EncryptionKey::from_bytes([7; 32]))
        .build()
        .unwrap();
    let clear = RedisStore::builder(conn.clone())
        .with_plaintext_at_rest()
        .build()
        .unwrap();
    for reader in [&other_key, &clear] {
        assert_unreadable(reader, &key, v).await;
    }

    // Replayed as another version, or copied to another identity: refused.
    let _: () = redis::cmd("HSET")
        .arg(&tokens_key)
        .arg("v")
        .arg(v + 1)
        .query_async(&mut c)
        .await
        .unwrap();
    assert_unreadable(&store, &key, v + 1).await;
    let other = SecretString::from("someone-else");
    let elsewhere = store.key(&Identity::new("iqm").with_secret(&other));
    let _: () = redis::cmd("HSET")
        .arg(format!("{}:tokens", elsewhere.as_str()))
        .arg("v")
        .arg(v)
        .arg("blob")
        .arg(blob)
        .query_async(&mut c)
        .await
        .unwrap();
    assert_unreadable(&store, &elsewhere, v).await;

    // A process on a new key (a key rotation) renews over what it cannot read, once, and
    // the fleet on the new key shares again.
    let healed = renew_shared(
        &other_key,
        &key,
        0,
        &settings(),
        |_| true,
        |base| async move {
            assert!(
                base.unwrap().refresh_token().is_none(),
                "nothing to refresh from"
            );
            Ok(set("after-rotation"))
        },
    )
    .await
    .unwrap();
    assert_eq!(healed.outcome, Outcome::Renewed);
    let shared = renew_shared(
        &other_key,
        &key,
        0,
        &settings(),
        |_| true,
        |_| async { Ok(set("not needed")) },
    )
    .await
    .unwrap();
    assert_eq!(
        (shared.outcome, shared.tokens.access_token().expose()),
        (Outcome::Loaded, "after-rotation")
    );

    // A plaintext set planted under a sealed store's key: refused (no downgrade).
    let planted = clear.key(&Identity::new("iqm").with_part("planted"));
    let Acquire::Acquired(f) = clear
        .acquire(&planted, Duration::from_secs(5))
        .await
        .unwrap()
    else {
        panic!()
    };
    let Publish::Published(pv) = clear.publish(&planted, f, 0, &set("evil")).await.unwrap() else {
        panic!()
    };
    let plain_blob: Vec<u8> = redis::cmd("HGET")
        .arg(format!("{}:tokens", planted.as_str()))
        .arg("blob")
        .query_async(&mut c)
        .await
        .unwrap();
    let target = store.key(&Identity::new("iqm").with_part("target"));
    let _: () = redis::cmd("HSET")
        .arg(format!("{}:tokens", target.as_str()))
        .arg("v")
        .arg(pv)
        .arg("blob")
        .arg(plain_blob)
        .query_async(&mut c)
        .await
        .unwrap();
    assert_unreadable(&store, &target, pv).await;
}

/// `key` holds a set at `version` that `store` refuses to read: it sees it invalidated,
/// empty and expired, never the tokens.
async fn assert_unreadable(store: &RedisStore, key: &StoreKey, version: u64) {
    let s = store.load(key).await.unwrap().expect("a set is there");
    assert_eq!(s.version, version);
    assert!(s.invalidated);
    assert_eq!(s.tokens.access_token().expose(), "");
    assert!(s.tokens.refresh_token().is_none());
    assert!(s.tokens.expiry().is_expired(SystemTime::now()));
}

#[tokio::test]
async fn acl_user_and_tls_connect_and_a_wrong_password_falls_back() {
    let url = redis_url();
    let (user, password) = (env("REDIS_ACL_USER"), env("REDIS_ACL_PASSWORD"));
    let ns = namespace("acl");
    let good = sealed(
        RedisConnection::builder(&url)
            .with_username(&user)
            .with_password(password.clone())
            .with_namespace(&ns)
            .build()
            .unwrap(),
    );
    let key = key_of(&good);
    let shared = renew_shared(
        &good,
        &key,
        0,
        &settings(),
        |_| true,
        |_| async { Ok(set("a1")) },
    )
    .await
    .unwrap();
    assert_eq!(shared.outcome, Outcome::Renewed);

    let bad = sealed(
        RedisConnection::builder(&url)
            .with_username(&user)
            .with_password("not-the-password")
            .with_namespace(&ns)
            .build()
            .unwrap(),
    );
    let shared = renew_shared(
        &bad,
        &key,
        0,
        &settings(),
        |_| true,
        |_| async { Ok(set("local")) },
    )
    .await
    .unwrap();
    assert_eq!(shared.outcome, Outcome::Fallback);
    assert!(!format!("{bad:?}").contains("not-the-password"));

    // TLS, with the test CA; the same server refuses a client that does not trust it.
    let (tls_url, ca) = (env("REDIS_TLS_URL"), env("REDIS_TLS_CA"));
    let pem = std::fs::read(&ca).unwrap();
    let tls = sealed(
        RedisConnection::builder(&tls_url)
            .with_root_certificate(pem)
            .with_namespace(&ns)
            .build()
            .unwrap(),
    );
    assert!(format!("{tls:?}").contains("tls: true"));
    let loaded = tls.load(&key).await.unwrap().unwrap();
    assert_eq!(loaded.tokens.access_token().expose(), "a1");
    let untrusted = sealed(
        RedisConnection::builder(&tls_url)
            .with_namespace(&ns)
            .build()
            .unwrap(),
    );
    assert!(untrusted.load(&key).await.is_err());
}

/// Admissions by Redis's clock, from `limiters` hammering one quota until `run` is over.
async fn hammer(limiters: Vec<RedisLimiter>, run: Duration) -> Vec<SystemTime> {
    let until = Instant::now() + run;
    let mut tasks = Vec::new();
    for l in limiters {
        tasks.push(tokio::spawn(async move {
            let mut admitted = Vec::new();
            while Instant::now() < until {
                match l.acquire_timed(&Method::GET, "/api/v3/x").await.unwrap() {
                    Admission::Shared(at) => admitted.push(at),
                    other => panic!("redis is up: {other:?}"),
                }
            }
            admitted
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    // A call started just before the end may be admitted after it: count `run` from the
    // first admission, on Redis's clock.
    let first = all[0];
    all.retain(|t| t.duration_since(first).unwrap() < run);
    all
}

/// No window of `per` holds more than `max` admissions.
fn assert_within_quota(times: &[SystemTime], max: usize, per: Duration) {
    for w in times.windows(max + 1) {
        let span = w[max].duration_since(w[0]).unwrap();
        assert!(span >= per, "{} admissions within {span:?}", max + 1);
    }
}

const MAX: u32 = 5;
const PER: Duration = Duration::from_secs(1);

async fn limiter(url: &str, ns: &str) -> RedisLimiter {
    RedisLimiter::builder(connect(url, ns).await, "quota", MAX, PER)
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_together_never_exceed_the_quota_and_one_alone_gets_all_of_it() {
    let url = redis_url();
    // Four processes on one quota, for three windows.
    let ns = namespace("gcra-four");
    let mut four = Vec::new();
    for _ in 0..4 {
        four.push(limiter(&url, &ns).await);
    }
    let times = hammer(four, 3 * PER).await;
    assert_within_quota(&times, MAX as usize, PER);
    // One every PER / MAX: 15 in three windows, give or take the edges.
    assert!((13..=16).contains(&times.len()), "{}", times.len());

    // One process alone gets the whole quota.
    let ns = namespace("gcra-one");
    let times = hammer(vec![limiter(&url, &ns).await], 2 * PER).await;
    assert_within_quota(&times, MAX as usize, PER);
    assert!((9..=11).contains(&times.len()), "{}", times.len());
    let first_window = times
        .iter()
        .filter(|t| t.duration_since(times[0]).unwrap() < PER)
        .count();
    assert_eq!(first_window, MAX as usize);
}

#[tokio::test]
async fn endpoints_are_counted_apart_and_max_wait_turns_into_an_error() {
    let url = redis_url();
    let ns = namespace("gcra-endpoints");
    let l = RedisLimiter::builder(
        connect(&url, &ns).await,
        "platform",
        1,
        Duration::from_secs(10),
    )
    .per_endpoint()
    .with_max_wait(Duration::from_millis(100))
    .build()
    .unwrap();
    l.acquire(&Method::GET, "/a").await.unwrap();
    l.acquire(&Method::GET, "/b").await.unwrap();
    l.acquire(&Method::POST, "/a").await.unwrap();
    let e = l.acquire(&Method::GET, "/a").await.unwrap_err();
    assert!(e.is_rate_limited());
    let retry = e.retry_after().unwrap();
    assert!(
        retry > Duration::from_secs(9) && retry <= Duration::from_secs(10),
        "{retry:?}"
    );
    assert_eq!(l.stats().degraded, 0);
}

#[tokio::test]
async fn an_unreachable_redis_degrades_the_limiter_to_local_limits_and_says_so() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let conn = RedisConnection::builder(format!("redis://127.0.0.1:{port}"))
        .build()
        .unwrap();
    let l = RedisLimiter::builder(conn, "quota", 2, Duration::from_secs(60))
        .with_max_wait(Duration::ZERO)
        .build()
        .unwrap();
    let start = Instant::now();
    assert_eq!(
        l.acquire_timed(&Method::GET, "/x").await.unwrap(),
        Admission::Local
    );
    assert_eq!(
        l.acquire_timed(&Method::GET, "/x").await.unwrap(),
        Admission::Local
    );
    // The local stand-in enforces the same quota.
    assert!(
        l.acquire(&Method::GET, "/x")
            .await
            .unwrap_err()
            .is_rate_limited()
    );
    let stats = l.stats();
    assert_eq!((stats.degraded, stats.degraded_now), (3, true));
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
}
