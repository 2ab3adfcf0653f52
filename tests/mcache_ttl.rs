//! TTL and refresh with a moved clock: no sleeping. Tests here move the process clock, so they
//! run one at a time (serialised by `CLOCK_LOCK`) in their own test binary.

use std::sync::Mutex;
use std::time::Duration;

use twat_cache::{Clock, MemoryCache, Policy, mcache};
use twat_cache_tests::Calls;

static CLOCK_LOCK: Mutex<()> = Mutex::new(());

static TTL_CALLS: Calls = Calls::new();

#[mcache(ttl = "10m")]
fn quote_of_the_day(day: u32) -> String {
    TTL_CALLS.hit();
    format!("quote {day}")
}

#[test]
fn entries_expire_after_ttl_and_are_recomputed() {
    let _serial = CLOCK_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    quote_of_the_day(1);
    Clock::advance_system(Duration::from_secs(9 * 60));
    quote_of_the_day(1);
    assert_eq!(TTL_CALLS.get(), 1, "still fresh after 9 minutes");
    Clock::advance_system(Duration::from_secs(61));
    quote_of_the_day(1);
    assert_eq!(TTL_CALLS.get(), 2, "expired after 10 minutes");
    let stats = quote_of_the_day_cache().stats();
    assert_eq!(stats.expirations, 1);
    assert_eq!((stats.hits, stats.misses), (1, 2));
}

static REFRESH_CALLS: Calls = Calls::new();

#[mcache(ttl = "250ms", refresh = true)]
fn session(id: u32) -> u32 {
    REFRESH_CALLS.hit();
    id
}

#[test]
fn refresh_slides_the_window_on_each_hit() {
    let _serial = CLOCK_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    session(1);
    for _ in 0..10 {
        Clock::advance_system(Duration::from_millis(200));
        session(1);
    }
    assert_eq!(REFRESH_CALLS.get(), 1, "each hit renewed the 250ms TTL");
    Clock::advance_system(Duration::from_millis(300));
    session(1);
    assert_eq!(REFRESH_CALLS.get(), 2, "idle longer than the TTL: expired");
}

static PLAIN_CALLS: Calls = Calls::new();

#[mcache(ttl = 1)]
fn integer_seconds(id: u32) -> u32 {
    PLAIN_CALLS.hit();
    id
}

#[test]
fn integer_ttl_is_seconds_and_without_refresh_hits_do_not_extend() {
    let _serial = CLOCK_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    integer_seconds(1);
    Clock::advance_system(Duration::from_millis(600));
    integer_seconds(1);
    Clock::advance_system(Duration::from_millis(600));
    integer_seconds(1);
    assert_eq!(
        PLAIN_CALLS.get(),
        2,
        "1s after insertion it expired despite the hit"
    );
}

#[test]
fn every_policy_honours_ttl_on_a_manual_clock() {
    for policy in [Policy::Lru, Policy::Fifo, Policy::Lfu, Policy::TinyLfu] {
        let clock = Clock::manual();
        let c: MemoryCache<u32, u32> = MemoryCache::builder()
            .ttl(Duration::from_millis(100))
            .policy(policy)
            .clock(clock.clone())
            .build();
        c.insert(1, 1);
        clock.advance(Duration::from_millis(99));
        assert_eq!(c.get(&1), Some(1), "{policy}");
        clock.advance(Duration::from_millis(1));
        assert_eq!(
            c.get(&1),
            None,
            "{policy}: expired entries are never returned"
        );
        assert!(!c.contains_key(&1));
        assert_eq!(c.stats().expirations, 1, "{policy}");
        assert_eq!(c.len(), 0, "{policy}: removed on access");
    }
}

#[test]
fn expired_entries_are_swept_by_inserts() {
    let clock = Clock::manual();
    let c: MemoryCache<u32, u32> = MemoryCache::builder()
        .ttl(Duration::from_secs(1))
        .policy(Policy::Fifo)
        .clock(clock.clone())
        .shards(1)
        .build();
    for k in 0..4 {
        c.insert(k, k);
    }
    clock.advance(Duration::from_secs(2));
    c.insert(10, 10);
    c.insert(11, 11);
    assert_eq!(
        c.stats().expirations,
        4,
        "old expired entries swept without being read"
    );
    assert_eq!(c.len(), 2);
}
