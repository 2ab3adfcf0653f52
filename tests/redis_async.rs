//! An `async fn` under `#[ucache(backend = "redis")]` never blocks its executor thread on the
//! network: while Redis is stalled — during the lookup, or between the lookup and the write of
//! the computed value — a tokio current-thread runtime (one thread for every task) keeps
//! serving a timer, and the call still returns the right value.
#![deny(warnings)]

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use twat_cache::ucache;
use twat_cache_tests::{RedisServer, isolated_cache_root};

static SERVER: OnceLock<RedisServer> = OnceLock::new();

#[ucache(folder = "redis-async-stall", maxsize = 1, backend = "redis")]
async fn tripled(n: u64) -> u64 {
    n * 3
}

/// Freezes the server while it computes: the lookup found Redis answering, the write will not.
#[ucache(folder = "redis-async-stall", backend = "redis")]
async fn stalls_before_its_write(n: u64) -> u64 {
    SERVER.get().expect("the test's server").pause();
    n + 1
}

/// How many 10 ms timer ticks the runtime served while `call` ran, and how long it took.
async fn ticks_during<F: Future<Output = u64>>(call: F, expected: u64) -> (u64, Duration) {
    let ticks = Arc::new(AtomicU64::new(0));
    let ticker = {
        let ticks = ticks.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(10)).await;
                ticks.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(30)).await;
    let start = Instant::now();
    let before = ticks.load(Ordering::Relaxed);
    assert_eq!(
        call.await,
        expected,
        "right value while Redis does not answer"
    );
    let during = ticks.load(Ordering::Relaxed) - before;
    let took = start.elapsed();
    ticker.abort();
    (during, took)
}

fn assert_not_blocked((during, took): (u64, Duration)) {
    assert!(
        took >= Duration::from_millis(300),
        "the call waited for Redis ({took:?}): the stall was real"
    );
    assert!(
        during >= 10,
        "the timer ticked {during} times in {took:?}: the executor thread was blocked"
    );
}

#[test]
fn a_stalled_server_does_not_stall_the_executor() {
    let Some(server) = RedisServer::start("redis_async") else {
        return;
    };
    // SAFETY: set before any cache of this binary reads it; this binary has one test.
    unsafe { std::env::set_var("TWAT_CACHE_REDIS_URL", server.url()) };
    isolated_cache_root();
    let server = SERVER.get_or_init(|| server);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    runtime.block_on(async {
        // Stalled during the write of a computed value.
        assert_not_blocked(ticks_during(stalls_before_its_write(1), 2).await);
        server.resume();
        // The failed write took the cache off Redis; it tries again 1 s later.
        tokio::time::sleep(Duration::from_millis(1_500)).await;

        // Stalled during the lookup (1 is only in Redis: 2 pushed it out of memory).
        assert_eq!(tripled(1).await, 3);
        assert_eq!(tripled(2).await, 6);
        server.pause();
        assert_not_blocked(ticks_during(tripled(1), 3).await);
        server.resume();
    });
}
