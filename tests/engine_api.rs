//! Every engine offers the same calls: `get_or_insert_with`, `get_or_try_insert_with` and their
//! async forms, single-flight.
#![deny(warnings)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::executor::{ThreadPool, block_on};
use futures::future::join_all;
use twat_cache::{FileCache, MemoryCache, SledCache, Tiered};

/// A future that finishes after `d` without a runtime (a thread wakes it).
async fn sleep(d: Duration) {
    let (tx, rx) = futures::channel::oneshot::channel::<()>();
    std::thread::spawn(move || {
        std::thread::sleep(d);
        let _ = tx.send(());
    });
    let _ = rx.await;
}

/// Runs `call` from 16 tasks at once on a pool and returns their results.
fn at_once<F, Fut>(call: F) -> Vec<u64>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = u64> + Send + 'static,
{
    let pool = ThreadPool::builder().pool_size(4).create().unwrap();
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (tx, rx) = futures::channel::oneshot::channel();
            let fut = call();
            pool.spawn_ok(async move {
                let _ = tx.send(fut.await);
            });
            rx
        })
        .collect();
    block_on(join_all(tasks))
        .into_iter()
        .map(Result::unwrap)
        .collect()
}

/// The checks, for one engine given as the four calls on key 1 / key 2.
macro_rules! check_engine {
    ($cache:expr, $key:expr) => {{
        let cache = Arc::new($cache);
        let runs = Arc::new(AtomicUsize::new(0));
        let values = at_once(|| {
            let (cache, runs) = (cache.clone(), runs.clone());
            async move {
                cache
                    .get_or_insert_with_async($key(1), async {
                        runs.fetch_add(1, Ordering::SeqCst);
                        sleep(Duration::from_millis(100)).await;
                        11
                    })
                    .await
            }
        });
        assert!(values.iter().all(|&v| v == 11));
        assert_eq!(
            runs.load(Ordering::SeqCst),
            1,
            "16 async misses, one computation"
        );
        let failed =
            block_on(cache.get_or_try_insert_with_async($key(2), async { Err::<u64, _>("no") }));
        assert_eq!(failed, Err("no"));
        assert_eq!(
            cache.get_or_try_insert_with($key(2), || Ok::<_, ()>(22)),
            Ok(22),
            "an Err is not stored"
        );
        assert_eq!(
            cache.get_or_try_insert_with($key(2), || Err(())),
            Ok(22),
            "a hit"
        );
        assert_eq!(cache.get_or_insert_with($key(1), || unreachable!()), 11);
    }};
}

#[test]
fn memory_engine() {
    check_engine!(MemoryCache::<u64, u64>::builder().build(), |k: u64| k);
}

#[test]
fn sled_engine() {
    let dir = tempfile::tempdir().unwrap();
    check_engine!(
        SledCache::<u64>::builder(dir.path().join("db"), "api").build(),
        |k: u64| &*Box::leak(Box::new(k))
    );
}

#[test]
fn file_engine() {
    let dir = tempfile::tempdir().unwrap();
    check_engine!(FileCache::<u64>::builder(dir.path()).build(), |k: u64| {
        &*Box::leak(Box::new(k))
    });
}

#[test]
fn tiered_engine() {
    let dir = tempfile::tempdir().unwrap();
    check_engine!(
        Tiered::new(
            MemoryCache::<u64, u64>::builder().build(),
            FileCache::<u64>::builder(dir.path()).build()
        ),
        |k: u64| &*Box::leak(Box::new(k))
    );
}
