//! The tiered engine (memory in front of files) without the attribute: one flight per miss,
//! L1 hits that never touch disk, L2 hits that fill L1 no longer than the L2 entry lives,
//! write-through, removal from both tiers, and a second instance reading the first's disk.

use std::sync::Barrier;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use twat_cache::{Clock, Engine, FileCache, Found, MemoryCache, Policy, Tiered, Vacancy};

type Cache = Tiered<MemoryCache<u64, String>, FileCache<String>>;

fn tiered(dir: &std::path::Path, l1_size: usize, clock: Option<&Clock>) -> Cache {
    let mut memory = MemoryCache::builder().maxsize(l1_size).policy(Policy::Lru);
    let mut files = FileCache::builder(dir);
    if let Some(clock) = clock {
        memory = memory.ttl(Duration::from_secs(10)).clock(clock.clone());
        files = files.ttl(Duration::from_secs(10)).clock(clock.clone());
    }
    Tiered::new(memory.build(), files.build())
}

fn get(cache: &Cache, key: u64, runs: &AtomicUsize) -> String {
    match cache.lookup(&key) {
        Found::Hit(v) => v,
        Found::Vacant(vacancy) => {
            runs.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(20));
            let v = format!("value {key}");
            vacancy.fill(&v);
            v
        }
    }
}

#[test]
fn l1_hits_never_touch_disk_and_evicted_keys_come_from_disk() {
    let dir = tempfile::tempdir().unwrap();
    let cache = tiered(dir.path(), 2, None);
    let runs = AtomicUsize::new(0);
    get(&cache, 1, &runs);
    let disk_before = cache.l2().stats();
    for _ in 0..10 {
        assert_eq!(get(&cache, 1, &runs), "value 1");
    }
    let disk_after = cache.l2().stats();
    assert_eq!(
        (disk_after.hits, disk_after.misses),
        (disk_before.hits, disk_before.misses),
        "L1 hits did not read the disk"
    );
    for k in 2..6 {
        get(&cache, k, &runs);
    }
    assert_eq!(
        get(&cache, 1, &runs),
        "value 1",
        "evicted from L1, found in L2"
    );
    assert_eq!(runs.load(Ordering::SeqCst), 5);
    assert_eq!(cache.l2_hits(), 1);
    let stats = cache.stats();
    assert_eq!(
        (stats.hits, stats.misses, stats.len),
        (11, 5, 5),
        "10 L1 hits and 1 L2 hit; 5 computed; 5 entries on disk"
    );
    assert_eq!(
        cache.l1().get(&1).as_deref(),
        Some("value 1"),
        "the L2 hit filled L1"
    );
}

#[test]
fn an_l1_copy_never_outlives_its_l2_entry() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual();
    let cache = tiered(dir.path(), 1, Some(&clock));
    let runs = AtomicUsize::new(0);
    get(&cache, 1, &runs); // written at t = 0, both tiers live until t = 10 s
    get(&cache, 2, &runs); // evicts 1 from the one-entry L1
    clock.advance(Duration::from_secs(8));
    assert_eq!(get(&cache, 1, &runs), "value 1");
    assert_eq!(cache.l2_hits(), 1, "filled L1 from L2 at t = 8 s");
    clock.advance(Duration::from_secs(3)); // t = 11 s: past the L2 entry's deadline
    assert_eq!(
        cache.l1().get(&1),
        None,
        "the L1 copy expired with its L2 entry"
    );
    get(&cache, 1, &runs);
    assert_eq!(runs.load(Ordering::SeqCst), 3, "recomputed");
}

#[test]
fn one_flight_across_both_tiers() {
    let dir = tempfile::tempdir().unwrap();
    let cache = tiered(dir.path(), 100, None);
    let runs = AtomicUsize::new(0);
    let barrier = Barrier::new(8);
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                barrier.wait();
                assert_eq!(get(&cache, 7, &runs), "value 7");
            });
        }
    });
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    let async_runs = AtomicUsize::new(0);
    let futures = (0..8).map(|_| async {
        match cache.lookup_async(&8u64).await {
            Found::Hit(v) => v,
            Found::Vacant(vacancy) => {
                async_runs.fetch_add(1, Ordering::SeqCst);
                vacancy.fill(&"eight".to_string());
                "eight".to_string()
            }
        }
    });
    let values = futures::executor::block_on(futures::future::join_all(futures));
    assert!(values.iter().all(|v| v == "eight"));
    assert_eq!(async_runs.load(Ordering::SeqCst), 1);
}

#[test]
fn writes_go_through_and_removal_reaches_both_tiers() {
    let dir = tempfile::tempdir().unwrap();
    let first = tiered(dir.path(), 100, None);
    let runs = AtomicUsize::new(0);
    get(&first, 3, &runs);
    // Another instance over the same folder (as another process would be) reads L2.
    let second = tiered(dir.path(), 100, None);
    assert_eq!(get(&second, 3, &runs), "value 3");
    assert_eq!((runs.load(Ordering::SeqCst), second.l2_hits()), (1, 1));
    assert!(Engine::remove(&first, &3u64));
    assert_eq!(first.l1().get(&3), None);
    assert_eq!(first.l2().get(&3u64), None, "removed from disk too");
}
