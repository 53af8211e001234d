//! What a Redis token store costs a call while the token is valid, as ratios: the same IQM
//! client (against its in-process sandbox) with no store, with the in-process
//! `MemoryStore` and with a `RedisStore`, for `Session::token()` alone and for a whole
//! authorized call; beside them, what one Redis round trip costs, and how many commands
//! Redis served during the hot loops (the goal: none, since the hot path never touches the
//! store while the local copy is fresh).
//!
//! Run with `REDIS_URL` set (`eval "$(.ci/redis.sh start)"`):
//! `cargo bench -p auth-store-redis --bench shared_hot_path`. Nothing is asserted: shared
//! machines are noisy, so the numbers are for reading, as ratios.

use std::time::{Duration, Instant};

use auth_core::store::{MemoryStore, ShareSettings};
use auth_store_redis::{EncryptionKey, RedisConnection, RedisStore};
use iqm::sandbox::Sandbox;
use serde_json::Value;

const ROUNDS: u32 = 5;
const TOKENS: u32 = 200_000;
const CALLS: u32 = 300;
const ROUND_TRIPS: u32 = 1_000;

fn per_op(d: Duration, n: u32) -> f64 {
    d.as_nanos() as f64 / f64::from(n)
}

async fn commands_processed(url: &str) -> u64 {
    let client = redis::Client::open(url).expect("redis url");
    let mut c = client
        .get_multiplexed_async_connection()
        .await
        .expect("redis is up");
    let info: String = redis::cmd("INFO")
        .arg("stats")
        .query_async(&mut c)
        .await
        .expect("INFO");
    info.lines()
        .find_map(|l| l.strip_prefix("total_commands_processed:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("total_commands_processed")
}

fn main() {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| {
        panic!("REDIS_URL is not set: start a redis-server with `eval \"$(.ci/redis.sh start)\"`")
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let sandbox = Sandbox::builder().start().await;
        let conn = RedisConnection::builder(url.clone())
            .with_namespace(format!("bench-hot-path-{}", std::process::id()))
            .build()
            .expect("connection");
        let redis_store = RedisStore::builder(conn)
            .with_encryption_key(EncryptionKey::generate().expect("key"))
            .build()
            .expect("store");
        let settings = ShareSettings::default();
        let plain = sandbox.client_builder().build().expect("client");
        let memory = sandbox
            .client_builder()
            .with_token_store(MemoryStore::new(), settings)
            .build()
            .expect("client");
        let redis = sandbox
            .client_builder()
            .with_token_store(redis_store, settings)
            .build()
            .expect("client");
        let clients = [("no store", &plain), ("in-process store", &memory), ("redis store", &redis)];
        for (_, c) in &clients {
            c.login().await.expect("login");
        }

        // Session::token() on the valid token, and a whole authorized call: the clients
        // take turns, round after round, and each keeps its best round, so warm-up and a
        // neighbour's burst on a shared machine do not land on one of them alone.
        let before = commands_processed(&url).await;
        let mut token_ns = [f64::MAX; 3];
        let mut call_ns = [f64::MAX; 3];
        for _ in 0..ROUNDS {
            for (i, (_, c)) in clients.iter().enumerate() {
                let session = c.session();
                let t = Instant::now();
                for _ in 0..TOKENS {
                    std::hint::black_box(session.token().await.expect("token"));
                }
                token_ns[i] = token_ns[i].min(per_op(t.elapsed(), TOKENS));
                let t = Instant::now();
                for _ in 0..CALLS {
                    std::hint::black_box(c.get_data::<Value>("/api/v3/bench").await.expect("call"));
                }
                call_ns[i] = call_ns[i].min(per_op(t.elapsed(), CALLS));
            }
        }
        // The INFO that reads the count is one command itself.
        let hot_commands = commands_processed(&url).await - before - 1;

        // What touching Redis once per call would cost: one read of the shared set.
        let (store, key) = redis.session().token_store().expect("a store");
        let t = Instant::now();
        for _ in 0..ROUND_TRIPS {
            std::hint::black_box(store.store().load(&key).await.expect("load"));
        }
        let round_trip_ns = per_op(t.elapsed(), ROUND_TRIPS);

        println!("a call with a valid token, by token store (IQM client, in-process sandbox, loopback redis; best of {ROUNDS} rounds)");
        println!("  {:<18} {:>12} {:>12}", "", "token() ns", "call ns");
        for (i, (name, _)) in clients.iter().enumerate() {
            println!("  {name:<18} {:>12.1} {:>12.0}", token_ns[i], call_ns[i]);
        }
        println!(
            "  token(): redis / in-process = {:.2}, in-process / none = {:.2}",
            token_ns[2] / token_ns[1],
            token_ns[1] / token_ns[0]
        );
        println!(
            "  call:    redis / in-process = {:.2}, in-process / none = {:.2}",
            call_ns[2] / call_ns[1],
            call_ns[1] / call_ns[0]
        );
        println!(
            "  one redis read of the shared set: {round_trip_ns:.0} ns = {:.0} x token() with the redis store, {:.2} x a whole call",
            round_trip_ns / token_ns[2],
            round_trip_ns / call_ns[2]
        );
        println!(
            "  redis commands served during the {} token() calls and {} authorized calls: {hot_commands}",
            TOKENS * 3 * ROUNDS,
            CALLS * 3 * ROUNDS
        );
        let stats = redis.session_stats();
        println!(
            "  redis-store client: {} sign-in, {} refreshes, {} loaded, {} fallbacks",
            stats.sign_ins, stats.refreshes, stats.store_loaded, stats.store_fallbacks
        );
    });
}
