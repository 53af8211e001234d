//! Paginator benchmark: a walk of 1,000 pages against a server answering in 1 ms while the
//! consumer works 1 ms per page (busy, on its own thread), for prefetch depths 1, 2 and 3.
//! Reported as wall time / max(server, consumer): 1.00 is a walk that costs no more than
//! its slower side. Also the walk's memory at 250 and at 1,000 pages.
//!
//! Run with `cargo bench -p auth-core --bench paginate`; `BENCH_QUICK=1` walks 50 pages
//! (a check that it runs, for CI). Nothing is asserted: shared machines are noisy.
//!
//! The server is a thread sleeping 1 ms per page (`spawn_blocking`): like a remote server
//! it costs the client no CPU, and unlike tokio's millisecond timer it does not round 1 ms
//! up to the next tick. Server and consumer times are the sums measured around each fetch
//! and each page's work, so the ideal is what the two sides really took.
//!
//! Memory: the workspace forbids `unsafe`, so there is no counting allocator here; the
//! walk's memory is read as the growth of the process's resident set (`VmRSS`, Linux) while
//! it walks, with 1 KiB cursors so a guard that kept every token would show (a control walk
//! that keeps them does).

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use auth_core::{
    Page, PageToken,
    provider::{PageInfo, Paginator},
};
use futures::StreamExt as _;

const LATENCY: Duration = Duration::from_millis(1);
const WORK: Duration = Duration::from_millis(1);

/// Spin for `d` on this thread, as a consumer parsing or writing out a page would.
fn busy(d: Duration) -> Duration {
    let t = Instant::now();
    while t.elapsed() < d {
        std::hint::spin_loop();
    }
    t.elapsed()
}

struct Run {
    wall: Duration,
    server: Duration,
    consumer: Duration,
}

impl Run {
    fn ratio(&self) -> f64 {
        self.wall.as_secs_f64() / self.server.max(self.consumer).as_secs_f64()
    }
}

async fn walk(pages: u64, depth: usize) -> Run {
    let server_ns = Arc::new(AtomicU64::new(0));
    let spent = server_ns.clone();
    let fetch = move |token| {
        let spent = spent.clone();
        async move {
            let PageToken::Number(n) = token else {
                unreachable!("numbers only")
            };
            let t = Instant::now();
            tokio::task::spawn_blocking(|| std::thread::sleep(LATENCY))
                .await
                .expect("server thread");
            let took = u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX);
            spent.fetch_add(took, Ordering::Relaxed);
            let next = (n < pages).then_some(PageToken::Number(n + 1));
            Ok(Page::new(vec![n; 100], PageInfo::default(), next))
        }
    };
    let start = Instant::now();
    let mut stream = Paginator::new(PageToken::Number(1), fetch)
        .prefetch(depth)
        .pages();
    let mut consumer = Duration::ZERO;
    while let Some(page) = stream.next().await {
        black_box(page.expect("page"));
        consumer += busy(WORK);
    }
    Run {
        wall: start.elapsed(),
        server: Duration::from_nanos(server_ns.load(Ordering::Relaxed)),
        consumer,
    }
}

/// The resident set in KiB, where the platform says (Linux).
fn rss_kib() -> Option<i64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Growth of the resident set (KiB) after `pages / 4` and after `pages` pages of a walk of
/// 1 KiB cursors with no latency; `keep` makes the fetch closure keep every cursor, as the
/// old repeated-page guard did.
async fn heap(pages: u64, keep: bool) -> Option<(i64, i64)> {
    let base = rss_kib()?;
    // Outlives the walk's fetching task, so the control's cursors are still held at the end.
    let kept: Arc<std::sync::Mutex<Vec<PageToken>>> = Arc::default();
    let keeper = kept.clone();
    let fetch = move |token: PageToken| {
        let n = match &token {
            PageToken::Number(n) => *n,
            PageToken::Cursor(c) => c.trim_start_matches('0').parse().unwrap_or(0),
            _ => unreachable!("numbers and cursors only"),
        };
        if keep {
            keeper.lock().expect("not poisoned").push(token);
        }
        async move {
            let next = (n < pages).then(|| PageToken::Cursor(format!("{:0>1024}", n + 1)));
            Ok(Page::new(vec![n; 100], PageInfo::default(), next))
        }
    };
    let mut stream = Paginator::new(PageToken::Number(1), fetch).pages();
    let (mut seen, mut quarter, mut full) = (0, 0, 0);
    while let Some(page) = stream.next().await {
        black_box(page.expect("page"));
        seen += 1;
        if seen == pages / 4 {
            quarter = rss_kib()? - base;
        }
        if seen == pages {
            full = rss_kib()? - base;
        }
    }
    drop(kept);
    Some((quarter, full))
}

fn main() {
    let quick = std::env::var_os("BENCH_QUICK").is_some_and(|v| v != "0");
    let pages: u64 = if quick { 50 } else { 1000 };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        // Warm up the runtime, its blocking pool and the allocator.
        walk(pages / 10 + 5, 2).await;

        println!(
            "paginator: {pages} pages, {LATENCY:?} server latency, {WORK:?} of busy consumer work per page"
        );
        for depth in [1, 2, 3] {
            let r = walk(pages, depth).await;
            let default = if depth == 2 { " (default)" } else { "" };
            println!(
                "  depth {depth}{default:<10} wall {:>7.1} ms  server {:>7.1} ms  consumer {:>7.1} ms  \
                 wall / max = {:.2}  (wall / nominal {:.2})",
                r.wall.as_secs_f64() * 1e3,
                r.server.as_secs_f64() * 1e3,
                r.consumer.as_secs_f64() * 1e3,
                r.ratio(),
                r.wall.as_secs_f64() / (LATENCY.as_secs_f64() * pages as f64),
            );
        }

        // Twice each, the first to settle the allocator at this shape.
        heap(pages, false).await;
        let walked = heap(pages, false).await;
        heap(pages, true).await;
        let control = heap(pages, true).await;
        let quarter = pages / 4;
        match (walked, control) {
            (Some((q, f)), Some((cq, cf))) => {
                println!(
                    "walk memory (resident set growth, 1 KiB cursors): +{q} KiB at {quarter} pages, +{f} KiB at {pages}"
                );
                println!(
                    "  control, every cursor kept (as the old guard's HashSet did): +{cq} KiB at {quarter} pages, +{cf} KiB at {pages}"
                );
            }
            _ => println!("walk memory: no /proc/self/status on this platform"),
        }
    });
}
