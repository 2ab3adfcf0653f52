//! Concurrent misses of one key run the body once: 8 threads, 16 futures; panics release waiters.

use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use twat_cache::mcache;
use twat_cache_tests::Calls;

static SLOW_CALLS: Calls = Calls::new();

#[mcache]
fn slow_square(x: u64) -> u64 {
    SLOW_CALLS.hit();
    std::thread::sleep(Duration::from_millis(100));
    x * x
}

#[test]
fn eight_threads_one_body_run() {
    let barrier = Barrier::new(8);
    let results: Vec<u64> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    slow_square(9)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(results.iter().all(|&r| r == 81));
    assert_eq!(SLOW_CALLS.get(), 1, "single-flight: the body ran once");
    let stats = slow_square_cache().stats();
    assert_eq!(stats.misses, 1);
    assert_eq!(stats.hits, 7, "waiters count as hits");
}

static ASYNC_CALLS: Calls = Calls::new();

/// A future that yields `n` times before completing, so concurrent callers interleave.
struct YieldNow(u32);

impl std::future::Future for YieldNow {
    type Output = ();
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if self.0 == 0 {
            std::task::Poll::Ready(())
        } else {
            self.0 -= 1;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    }
}

#[mcache]
async fn slow_async(x: u64) -> u64 {
    ASYNC_CALLS.hit();
    YieldNow(50).await;
    x + 1
}

#[test]
fn sixteen_futures_one_body_run() {
    let results =
        futures::executor::block_on(futures::future::join_all((0..16).map(|_| slow_async(41))));
    assert!(results.iter().all(|&r| r == 42));
    assert_eq!(
        ASYNC_CALLS.get(),
        1,
        "single-flight across futures on one thread"
    );
}

#[test]
fn sixteen_futures_on_a_thread_pool() {
    static POOL_CALLS: Calls = Calls::new();
    #[mcache]
    async fn pooled(x: u64) -> u64 {
        POOL_CALLS.hit();
        YieldNow(20).await;
        std::thread::sleep(Duration::from_millis(20));
        x * 3
    }
    let pool = futures::executor::ThreadPool::builder()
        .pool_size(4)
        .create()
        .unwrap();
    let handles: Vec<_> = (0..16)
        .map(|_| {
            let (tx, rx) = futures::channel::oneshot::channel();
            pool.spawn_ok(async move {
                let _ = tx.send(pooled(5).await);
            });
            rx
        })
        .collect();
    let results = futures::executor::block_on(futures::future::join_all(handles));
    assert!(results.into_iter().all(|r| r == Ok(15)));
    assert_eq!(POOL_CALLS.get(), 1);
}

static FLAKY_CALLS: Calls = Calls::new();
static FIRST_PANICS: AtomicBool = AtomicBool::new(true);

#[mcache]
fn flaky(x: u64) -> u64 {
    FLAKY_CALLS.hit();
    std::thread::sleep(Duration::from_millis(50));
    if FIRST_PANICS.swap(false, Ordering::SeqCst) {
        panic!("first attempt fails");
    }
    x
}

#[test]
fn waiters_of_a_panicked_leader_retry() {
    let barrier = Barrier::new(4);
    let outcomes: Vec<std::thread::Result<u64>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    std::panic::catch_unwind(|| flaky(3))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let panicked = outcomes.iter().filter(|o| o.is_err()).count();
    assert_eq!(panicked, 1, "only the leader sees its own panic");
    assert!(
        outcomes
            .iter()
            .filter_map(|o| o.as_ref().ok())
            .all(|&v| v == 3)
    );
    assert_eq!(
        FLAKY_CALLS.get(),
        2,
        "one panicked run, one successful retry"
    );
}

static OFF_CALLS: Calls = Calls::new();

#[mcache(single_flight = false)]
fn no_single_flight(x: u64) -> u64 {
    OFF_CALLS.hit();
    // Lingers until a second body runs (bounded): with single-flight off that happens however
    // late the other threads are scheduled; with it on, the waiters would never enter.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while OFF_CALLS.get() < 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    x
}

#[test]
fn single_flight_can_be_turned_off() {
    let barrier = Barrier::new(4);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                barrier.wait();
                assert_eq!(no_single_flight(1), 1);
            });
        }
    });
    assert!(
        OFF_CALLS.get() > 1,
        "without single-flight concurrent misses each run the body"
    );
}

static ERR_CALLS: Calls = Calls::new();

#[mcache]
fn failing(x: u64) -> Result<u64, String> {
    ERR_CALLS.hit();
    std::thread::sleep(Duration::from_millis(30));
    Err(format!("no {x}"))
}

#[test]
fn waiters_of_an_uncacheable_result_compute_their_own() {
    let barrier = Barrier::new(3);
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                barrier.wait();
                assert_eq!(failing(1), Err("no 1".to_string()));
            });
        }
    });
    assert_eq!(
        ERR_CALLS.get(),
        3,
        "errors are not shared or cached: each caller gets its own"
    );
}

static CANCELLED_CALLS: Calls = Calls::new();

#[mcache]
async fn cancellable(x: u64) -> u64 {
    CANCELLED_CALLS.hit();
    YieldNow(1_000_000).await; // long enough to be dropped mid-way
    x
}

#[mcache]
async fn quick_after_cancel(x: u64) -> u64 {
    x + 1
}

#[test]
fn a_cancelled_async_leader_does_not_strand_waiters() {
    use std::future::Future;
    use std::task::{Context, Poll};
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    // The leader starts, is polled a few times, then dropped (cancelled) mid-computation.
    let mut leader = Box::pin(cancellable(7));
    for _ in 0..3 {
        assert!(matches!(leader.as_mut().poll(&mut cx), Poll::Pending));
    }
    // A second caller now joins the flight and waits...
    let mut waiter = Box::pin(cancellable(7));
    assert!(matches!(waiter.as_mut().poll(&mut cx), Poll::Pending));
    drop(leader);
    // ...and, released by the cancellation, leads its own computation on the next polls.
    for _ in 0..3 {
        let _ = waiter.as_mut().poll(&mut cx);
    }
    assert_eq!(CANCELLED_CALLS.get(), 2, "the waiter took over as leader");
    assert_eq!(
        cancellable_cache().len(),
        0,
        "nothing stored by the cancelled leader"
    );
    drop(waiter);
    assert_eq!(
        futures::executor::block_on(quick_after_cancel(1)),
        2,
        "the cache keeps working"
    );
}
