//! Hot-path benchmark: the cost of `Session::token()` on a valid token, reported as ratios
//! against two ways a hand-written cache commonly does it (an `RwLock` read and a
//! `tokio::sync::Mutex` lock, each cloning an `Arc`), and how it scales from one to two
//! threads. Run with `cargo bench -p auth-core --bench hot_path`. Nothing here is asserted:
//! shared machines are noisy, so the numbers are for reading, as ratios.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use auth_core::{
    AccessToken, Error, Expiry, Session, TokenSet, http::Http, provider::TokenProvider,
};

#[derive(Debug)]
struct Static;

#[async_trait]
impl TokenProvider for Static {
    async fn sign_in(&self) -> Result<TokenSet, Error> {
        Ok(TokenSet::new(
            AccessToken::new("bench-token"),
            Expiry::lifetime_from(Duration::from_secs(3600), std::time::SystemTime::now()),
        ))
    }
}

const N: u64 = 2_000_000;

fn per_op(d: Duration, n: u64) -> f64 {
    d.as_nanos() as f64 / n as f64
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let http = Http::new().expect("http");
        let session = Session::new(Static, http);
        session.token().await.expect("first token");

        let t = Instant::now();
        for _ in 0..N {
            std::hint::black_box(session.token().await.expect("token"));
        }
        let session_ns = per_op(t.elapsed(), N);

        let set = Arc::new(Static.sign_in().await.expect("set"));
        // Baselines do the same work as the session: read the clock, check expiry, clone.
        let rw = Arc::new(RwLock::new(set.clone()));
        let rw_get = {
            let rw = rw.clone();
            move || {
                let s = rw.read().expect("lock").clone();
                assert!(!s.expiry().is_expired(std::time::SystemTime::now()));
                s
            }
        };
        let t = Instant::now();
        for _ in 0..N {
            std::hint::black_box(rw_get());
        }
        let rwlock_ns = per_op(t.elapsed(), N);

        let mx = Arc::new(tokio::sync::Mutex::new(set.clone()));
        let t = Instant::now();
        for _ in 0..N {
            let s = mx.lock().await.clone();
            assert!(!s.expiry().is_expired(std::time::SystemTime::now()));
            std::hint::black_box(s);
        }
        let mutex_ns = per_op(t.elapsed(), N);

        // Two threads hammering each, same total work.
        let contended = |f: Arc<dyn Fn() + Send + Sync>| async move {
            let t = Instant::now();
            let tasks: Vec<_> = (0..2)
                .map(|_| {
                    let f = f.clone();
                    tokio::task::spawn_blocking(move || {
                        for _ in 0..N / 2 {
                            f();
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await.expect("task");
            }
            per_op(t.elapsed(), N)
        };
        let rw2 = {
            let g = rw_get.clone();
            contended(Arc::new(move || {
                std::hint::black_box(g());
            }))
            .await
        };
        let session2 = {
            let s = session.clone();
            // A valid token resolves on first poll: no I/O, nothing to wait for.
            contended(Arc::new(move || {
                use futures::FutureExt as _;
                let lease = s.token().now_or_never().expect("ready at once").expect("token");
                std::hint::black_box(lease);
            }))
            .await
        };

        // Scaling: the same total work on one task, then split over two tasks on two threads.
        let one = {
            let s = session.clone();
            let t = Instant::now();
            tokio::spawn(async move {
                for _ in 0..N {
                    std::hint::black_box(s.token().await.expect("token"));
                }
            })
            .await
            .expect("task");
            t.elapsed()
        };
        let two = {
            let t = Instant::now();
            let tasks: Vec<_> = (0..2)
                .map(|_| {
                    let s = session.clone();
                    tokio::spawn(async move {
                        for _ in 0..N / 2 {
                            std::hint::black_box(s.token().await.expect("token"));
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await.expect("task");
            }
            t.elapsed()
        };

        println!("hot path: Session::token() on a valid token, {N} calls; baselines read the clock and check expiry too");
        println!("  session.token()            {session_ns:>8.1} ns/op");
        println!("  RwLock read + Arc clone    {rwlock_ns:>8.1} ns/op  (session / rwlock = {:.2})", session_ns / rwlock_ns);
        println!("  tokio Mutex lock + clone   {mutex_ns:>8.1} ns/op  (session / mutex  = {:.2})", session_ns / mutex_ns);
        println!("  two threads at once: session {session2:.1} ns/op, rwlock {rw2:.1} ns/op (session / rwlock = {:.2})", session2 / rw2);
        println!(
            "  speed-up from 1 to 2 threads: {:.2}x (2.0 is perfect scaling; the machine may be shared)",
            one.as_secs_f64() / two.as_secs_f64()
        );
        println!("  sign-ins during the run: {}", session.stats().sign_ins);
    });
}
