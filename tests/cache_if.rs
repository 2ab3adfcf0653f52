//! `cache_if`: a predicate on the value that would be stored decides whether it is, on every
//! attribute, sync and async, on top of the Result/Option rules, with single-flight.
#![deny(warnings)]

use std::sync::Barrier;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use twat_cache::{bcache, fcache, mcache, ucache};
use twat_cache_tests::{Calls, isolated_cache_root};

/// An upstream answer: 5xx-like statuses are not worth keeping.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct Answer {
    status: u16,
    body: String,
}

fn is_success(answer: &Answer) -> bool {
    answer.status < 500
}

/// The true function: ids divisible by 3 fail upstream.
fn answer_for(id: u32) -> Answer {
    if id.is_multiple_of(3) {
        Answer {
            status: 503,
            body: String::new(),
        }
    } else {
        Answer {
            status: 200,
            body: format!("item {id}"),
        }
    }
}

static MEMORY_CALLS: Calls = Calls::new();

#[mcache(cache_if = is_success)]
fn memory_fetch(id: u32) -> Answer {
    MEMORY_CALLS.hit();
    answer_for(id)
}

static BCACHE_CALLS: Calls = Calls::new();

#[bcache(folder = "cache_if", cache_if = |a: &Answer| a.status < 500)]
fn sled_fetch(id: u32) -> Answer {
    BCACHE_CALLS.hit();
    answer_for(id)
}

static FCACHE_CALLS: Calls = Calls::new();

#[fcache(folder = "cache_if", cache_if = is_success)]
fn file_fetch(id: u32) -> Answer {
    FCACHE_CALLS.hit();
    answer_for(id)
}

static UCACHE_CALLS: Calls = Calls::new();

#[ucache(folder = "cache_if", cache_if = |a| a.status < 500)]
fn tiered_fetch(id: u32) -> Answer {
    UCACHE_CALLS.hit();
    answer_for(id)
}

/// Calls `fetch` twice for ids 1..=6 and checks values and body runs: ids 3 and 6 are
/// rejected by the predicate (two runs each), the other four are stored (one run each).
fn check_stores_only_accepted(fetch: fn(u32) -> Answer, calls: &Calls) {
    for _ in 0..2 {
        for id in 1..=6 {
            assert_eq!(fetch(id), answer_for(id), "right value for {id}");
        }
    }
    assert_eq!(
        calls.get(),
        4 + 2 * 2,
        "accepted once each, rejected every time"
    );
}

#[test]
fn every_attribute_stores_only_what_the_predicate_accepts() {
    isolated_cache_root();
    check_stores_only_accepted(memory_fetch, &MEMORY_CALLS);
    check_stores_only_accepted(sled_fetch, &BCACHE_CALLS);
    check_stores_only_accepted(file_fetch, &FCACHE_CALLS);
    check_stores_only_accepted(tiered_fetch, &UCACHE_CALLS);
    assert_eq!(memory_fetch_cache().len(), 4);
    assert_eq!(sled_fetch_cache().len(), 4);
    assert_eq!(file_fetch_cache().len(), 4);
    assert_eq!(tiered_fetch_cache().len(), 4);
    for tier in tiered_fetch_cache().tiers() {
        assert_eq!(tier.stats.len, 4, "{tier:?}");
    }
}

static RESULT_CALLS: Calls = Calls::new();

/// With a `Result`, the predicate sees the `Ok` value; an `Err` is never stored whatever it says.
#[mcache(cache_if = |n: &u32| *n != 0)]
fn parse_count(text: &str) -> Result<u32, String> {
    RESULT_CALLS.hit();
    text.parse().map_err(|e| format!("{e}"))
}

#[test]
fn the_predicate_sees_the_ok_value_and_errors_stay_uncached() {
    for _ in 0..3 {
        assert_eq!(parse_count("7"), Ok(7));
        assert_eq!(parse_count("0"), Ok(0));
        assert!(parse_count("x").is_err());
    }
    assert_eq!(
        RESULT_CALLS.get(),
        1 + 3 + 3,
        "7 stored; 0 rejected; Err never stored"
    );
}

static OPTION_CALLS: Calls = Calls::new();

/// With an `Option`, the predicate sees the `Some` value.
#[fcache(folder = "cache_if", cache_if = |name: &String| !name.is_empty())]
fn find_name(id: u32) -> Option<String> {
    OPTION_CALLS.hit();
    match id {
        0 => None,
        1 => Some(String::new()),
        _ => Some(format!("name {id}")),
    }
}

#[test]
fn the_predicate_sees_the_some_value_and_none_stays_uncached() {
    isolated_cache_root();
    for _ in 0..3 {
        assert_eq!(find_name(0), None);
        assert_eq!(find_name(1), Some(String::new()));
        assert_eq!(find_name(2), Some("name 2".into()));
    }
    assert_eq!(OPTION_CALLS.get(), 3 + 3 + 1);
}

static ASYNC_CALLS: Calls = Calls::new();

#[ucache(folder = "cache_if", cache_if = is_success)]
async fn fetch_async(id: u32) -> Answer {
    ASYNC_CALLS.hit();
    futures::future::ready(()).await;
    answer_for(id)
}

static ASYNC_MEMORY_CALLS: Calls = Calls::new();

#[mcache(cache_if = is_success)]
async fn fetch_async_memory(id: u32) -> Answer {
    ASYNC_MEMORY_CALLS.hit();
    futures::future::ready(()).await;
    answer_for(id)
}

#[test]
fn async_functions_store_only_what_the_predicate_accepts() {
    isolated_cache_root();
    futures::executor::block_on(async {
        for _ in 0..2 {
            for id in 1..=6 {
                assert_eq!(fetch_async(id).await, answer_for(id));
                assert_eq!(fetch_async_memory(id).await, answer_for(id));
            }
        }
    });
    assert_eq!(ASYNC_CALLS.get(), 8);
    assert_eq!(ASYNC_MEMORY_CALLS.get(), 8);
}

static PRIME_CALLS: Calls = Calls::new();

#[mcache(cache_if = is_success)]
fn primed(id: u32) -> Answer {
    PRIME_CALLS.hit();
    answer_for(id)
}

#[test]
fn prime_and_refresh_follow_the_predicate() {
    primed_prime(1, answer_for(3)); // a 503: not stored
    assert_eq!(primed(1), answer_for(1));
    assert_eq!(PRIME_CALLS.get(), 1, "the rejected prime left no entry");
    primed_prime(2, answer_for(2));
    assert_eq!(primed(2), answer_for(2));
    assert_eq!(PRIME_CALLS.get(), 1, "the accepted prime is a hit");
    assert_eq!(primed_refresh(6), answer_for(6));
    assert_eq!(primed(6), answer_for(6));
    assert_eq!(PRIME_CALLS.get(), 3, "a rejected refresh stores nothing");
}

/// Body runs of `rendezvous` so far, and how many reached the rendezvous of the waiters.
static RENDEZVOUS_RUNS: AtomicUsize = AtomicUsize::new(0);
const WAITERS: usize = 3;

/// The first run (the leader) lingers so the others join its flight, then returns a value the
/// predicate rejects. Every later run waits until all `WAITERS` are inside the body at the same
/// time: it returns `true` only if they are, which they can be only if they were released to
/// run at once rather than one after another (a queue would deadlock here until the timeout).
#[mcache(cache_if = |together: &bool| *together)]
fn rendezvous(key: u32) -> bool {
    let _ = key;
    let run = RENDEZVOUS_RUNS.fetch_add(1, Ordering::SeqCst) + 1;
    if run == 1 {
        std::thread::sleep(Duration::from_millis(300));
        return false;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while RENDEZVOUS_RUNS.load(Ordering::SeqCst) < 1 + WAITERS {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    true
}

#[test]
fn waiters_of_a_rejected_result_run_their_own_call_at_once() {
    let barrier = Barrier::new(1 + WAITERS);
    let results: Vec<bool> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..=WAITERS)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    rendezvous(1)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(RENDEZVOUS_RUNS.load(Ordering::SeqCst), 1 + WAITERS);
    assert_eq!(
        results.iter().filter(|&&together| together).count(),
        WAITERS,
        "the waiters ran side by side: {results:?}"
    );
    // One of their (accepted) results was stored: the next call is a hit.
    assert!(rendezvous(1));
    assert_eq!(RENDEZVOUS_RUNS.load(Ordering::SeqCst), 1 + WAITERS);
}

static ASYNC_FLIGHT_CALLS: Calls = Calls::new();

/// Every run yields a few times (so the futures interleave) and is rejected.
#[fcache(folder = "cache_if", cache_if = is_success)]
async fn always_rejected(id: u32) -> Answer {
    ASYNC_FLIGHT_CALLS.hit();
    for _ in 0..20 {
        futures::future::ready(()).await;
        yield_now().await;
    }
    answer_for(id * 3)
}

/// Returns `Pending` once, waking itself.
async fn yield_now() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            std::task::Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    })
    .await;
}

#[test]
fn async_waiters_of_a_rejected_result_get_their_own_right_value() {
    isolated_cache_root();
    let results = futures::executor::block_on(futures::future::join_all(
        (0..8).map(|_| always_rejected(5)),
    ));
    assert!(results.iter().all(|r| *r == answer_for(15)));
    assert_eq!(
        ASYNC_FLIGHT_CALLS.get(),
        8,
        "nothing stored, so each ran once"
    );
    assert_eq!(always_rejected_cache().len(), 0);
}
