//! An `async fn` under `#[ucache(backend = "redis")]` never blocks its executor thread on the
//! network: while Redis is stalled, a tokio current-thread runtime (one thread for every task)
//! keeps serving a timer, and the call still returns the right value.
#![deny(warnings)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use twat_cache::ucache;
use twat_cache_tests::{RedisServer, isolated_cache_root};

#[ucache(folder = "redis-async-stall", maxsize = 1, backend = "redis")]
async fn tripled(n: u64) -> u64 {
    n * 3
}

#[test]
fn a_stalled_server_does_not_stall_the_executor() {
    let Some(server) = RedisServer::start("redis_async") else {
        return;
    };
    // SAFETY: set before any cache of this binary reads it; this binary has one test.
    unsafe { std::env::set_var("TWAT_CACHE_REDIS_URL", server.url()) };
    isolated_cache_root();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    runtime.block_on(async {
        assert_eq!(tripled(1).await, 3); // Redis works: stored there
        assert_eq!(tripled(2).await, 6); // pushes 1 out of the one-entry memory tier

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

        server.pause();
        let start = Instant::now();
        let before = ticks.load(Ordering::Relaxed);
        assert_eq!(
            tripled(1).await,
            3,
            "right value while Redis does not answer"
        );
        let during = ticks.load(Ordering::Relaxed) - before;
        let took = start.elapsed();
        server.resume();
        ticker.abort();

        assert!(
            took >= Duration::from_millis(300),
            "the lookup waited for Redis ({took:?}): the stall was real"
        );
        assert!(
            during >= 10,
            "the timer ticked {during} times in {took:?}: the executor thread was blocked"
        );
    });
}
