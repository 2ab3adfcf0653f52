//! `#[ucache]` in one process: tiers, counters, Result rules, large values, invalidation and
//! single-flight across both tiers.
#![deny(warnings)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use twat_cache::{CacheKind, Tier, registry, ucache};
use twat_cache_tests::{Calls, entry_files, isolated_cache_root};

static LOOKUP_CALLS: Calls = Calls::new();

#[ucache(folder = "ubasics", maxsize = 2)]
fn lookup(id: u64) -> Result<String, String> {
    LOOKUP_CALLS.hit();
    if id == 0 {
        return Err("no such id".into());
    }
    Ok(format!("user {id}"))
}

#[test]
fn memory_hits_disk_hits_and_per_tier_counters() {
    isolated_cache_root();
    assert_eq!(lookup(1).unwrap(), "user 1");
    assert_eq!(lookup(1).unwrap(), "user 1"); // memory hit
    assert!(lookup(0).is_err());
    assert!(lookup(0).is_err());
    assert_eq!(LOOKUP_CALLS.get(), 3, "Ok cached, Err never");
    let cache = lookup_cache();
    assert_eq!(cache.kind(), CacheKind::Ucache);
    assert_eq!(cache.tier(Tier::Memory).unwrap().hits, 1);
    assert_eq!(cache.tier(Tier::Disk).unwrap().hits, 0);
    assert_eq!(cache.tier(Tier::Disk).unwrap().len, 1, "written through");

    // Memory holds two entries: filling 2 and 3 pushes 1 out of it, never off the disk.
    lookup(2).unwrap();
    lookup(3).unwrap();
    lookup(4).unwrap();
    let memory_len = cache.tier(Tier::Memory).unwrap().len;
    assert!(
        memory_len <= 2,
        "memory tier bounded by maxsize: {memory_len}"
    );
    assert_eq!(cache.len(), 4, "every entry is on disk");
    let before = LOOKUP_CALLS.get();
    for id in 1..=4 {
        assert_eq!(lookup(id).unwrap(), format!("user {id}"));
    }
    assert_eq!(
        LOOKUP_CALLS.get(),
        before,
        "evicted from memory, found on disk"
    );
    let disk_hits = cache.tier(Tier::Disk).unwrap().hits;
    assert!(disk_hits >= 2, "disk hits counted: {disk_hits}");
    let stats = cache.stats();
    assert_eq!(
        stats.hits,
        cache.tier(Tier::Memory).unwrap().hits + disk_hits,
        "a hit of either tier is a hit of the cache"
    );
    assert_eq!(stats.misses, 6, "1, 0, 0, 2, 3, 4 missed both tiers");

    let info = registry()
        .into_iter()
        .find(|c| c.name.ends_with("::lookup"))
        .unwrap();
    assert_eq!(info.kind, CacheKind::Ucache);
    assert!(info.folder.unwrap().ends_with("ubasics"));
    assert_eq!(info.tiers.len(), 2);
    assert_eq!(info.tiers[1].stats.hits, disk_hits);

    // Invalidation reaches both tiers; clear too.
    assert!(lookup_invalidate(4));
    assert!(!lookup_invalidate(4));
    lookup(4).unwrap();
    assert_eq!(LOOKUP_CALLS.get(), before + 1);
    lookup_cache().clear();
    assert_eq!(lookup_cache().len(), 0);
    lookup(1).unwrap();
    assert_eq!(LOOKUP_CALLS.get(), before + 2, "cleared from memory too");
}

static BLOB_CALLS: Calls = Calls::new();

#[ucache(folder = "ublobs")]
fn blob(n: u32) -> Vec<u8> {
    BLOB_CALLS.hit();
    (0..(1u32 << 20)).map(|i| (i ^ n) as u8).collect()
}

#[test]
fn large_values_round_trip_through_files_and_stay_out_of_memory() {
    isolated_cache_root();
    let expected: Vec<u8> = (0..(1u32 << 20)).map(|i| (i ^ 7) as u8).collect();
    assert_eq!(blob(7), expected);
    assert_eq!(blob(7), expected);
    assert_eq!(blob(7), expected);
    assert_eq!(BLOB_CALLS.get(), 1);
    let cache = blob_cache();
    assert_eq!(
        cache.tier(Tier::Memory).unwrap().len,
        0,
        "1 MiB stays on disk"
    );
    assert_eq!(cache.tier(Tier::Disk).unwrap().hits, 2);
    let folder = cache.folder().unwrap();
    let files = entry_files(&folder);
    assert_eq!(files.len(), 1, "one entry file: {files:?}");

    assert!(std::fs::metadata(&files[0]).unwrap().len() > 1 << 20);
}

static SLOW_CALLS: Calls = Calls::new();

#[ucache(folder = "uflight", maxsize = 1)]
async fn slow(key: u32) -> u32 {
    SLOW_CALLS.hit();
    futures_timer_sleep(Duration::from_millis(200)).await;
    key * 10
}

/// A sleep that needs no runtime: a thread wakes the task.
async fn futures_timer_sleep(d: Duration) {
    let done = Arc::new(AtomicBool::new(false));
    let flag = done.clone();
    let (tx, rx) = futures::channel::oneshot::channel::<()>();
    std::thread::spawn(move || {
        std::thread::sleep(d);
        flag.store(true, Ordering::SeqCst);
        let _ = tx.send(());
    });
    let _ = rx.await;
    assert!(done.load(Ordering::SeqCst));
}

#[test]
fn async_single_flight_across_both_tiers_runs_the_body_once() {
    isolated_cache_root();
    let pool = futures::executor::ThreadPool::builder()
        .pool_size(4)
        .create()
        .unwrap();
    let run_many = |key: u32| {
        let tasks: Vec<_> = (0..32)
            .map(|_| {
                let (tx, rx) = futures::channel::oneshot::channel();
                pool.spawn_ok(async move {
                    let _ = tx.send(slow(key).await);
                });
                rx
            })
            .collect();
        futures::executor::block_on(futures::future::join_all(tasks))
            .into_iter()
            .map(Result::unwrap)
            .collect::<Vec<_>>()
    };
    assert!(run_many(1).iter().all(|&v| v == 10));
    assert_eq!(SLOW_CALLS.get(), 1, "32 concurrent misses, one body run");
    // Push 1 out of the one-entry memory tier; it is now on disk only.
    futures::executor::block_on(slow(2));
    assert_eq!(SLOW_CALLS.get(), 2);
    assert!(run_many(1).iter().all(|&v| v == 10));
    assert_eq!(SLOW_CALLS.get(), 2, "read back from disk, never recomputed");
    assert!(slow_cache().tier(Tier::Disk).unwrap().hits >= 1);
}
