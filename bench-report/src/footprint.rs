//! Heap bytes per entry of 1M bounded `u64 → u64` entries, counted by this binary's global
//! allocator while a cache is filled (counting is off during the timings).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};

use crate::figure::Bars;

/// Counts live heap bytes while [`COUNTING`] is on.
pub struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static LIVE: AtomicIsize = AtomicIsize::new(0);

fn count(delta: isize) {
    if COUNTING.load(Ordering::Relaxed) {
        LIVE.fetch_add(delta, Ordering::Relaxed);
    }
}

// SAFETY: forwards every call to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as isize));
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size as isize - layout.size() as isize);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

const N: u64 = 1_000_000;

/// Bytes the cache `fill` builds (and returns, to keep alive) hold, per entry it holds.
fn per_entry(fill: impl FnOnce() -> (Box<dyn std::any::Any>, u64)) -> f64 {
    LIVE.store(0, Ordering::SeqCst);
    COUNTING.store(true, Ordering::SeqCst);
    let (keep, len) = fill();
    COUNTING.store(false, Ordering::SeqCst);
    let bytes = LIVE.load(Ordering::SeqCst);
    drop(keep);
    bytes as f64 / len as f64
}

pub fn bytes_per_entry() -> Bars {
    let rows = vec![
        (
            "HashMap (floor)".to_string(),
            per_entry(|| {
                let map: std::collections::HashMap<u64, u64> = (0..N).map(|k| (k, k)).collect();
                let len = map.len() as u64;
                (Box::new(map), len)
            }),
        ),
        (
            "twat_cache MemoryCache".into(),
            per_entry(|| {
                let cache: twat_cache::MemoryCache<u64, u64> = twat_cache::MemoryCache::builder()
                    .maxsize(N as usize)
                    .build();
                for k in 0..N {
                    cache.insert(k, k);
                }
                let len = cache.len() as u64;
                (Box::new(cache), len)
            }),
        ),
        (
            "cached LruCache".into(),
            per_entry(|| {
                use cached::Cached;
                let mut cache = cached::LruCache::<u64, u64>::new(N as usize);
                for k in 0..N {
                    cache.cache_set(k, k);
                }
                (Box::new(cache), N)
            }),
        ),
        (
            "moka::sync::Cache".into(),
            per_entry(|| {
                let cache: moka::sync::Cache<u64, u64> = moka::sync::Cache::new(N);
                for k in 0..N {
                    cache.insert(k, k);
                }
                cache.run_pending_tasks();
                let len = cache.entry_count();
                (Box::new(cache), len)
            }),
        ),
        (
            "quick_cache::sync::Cache".into(),
            per_entry(|| {
                let cache: quick_cache::sync::Cache<u64, u64> =
                    quick_cache::sync::Cache::new(N as usize);
                for k in 0..N {
                    cache.insert(k, k);
                }
                let len = cache.len() as u64;
                (Box::new(cache), len)
            }),
        ),
    ];
    Bars {
        id: "bytes_per_entry",
        title: "heap bytes per entry, 1M bounded u64 → u64".into(),
        unit: "B",
        lower_is_better: true,
        rows,
        how: "each cache bounded at 1M and filled with 1M distinct keys; live heap bytes \
              counted by a global allocator (index, entries, policy metadata, sketch), divided \
              by the entries held."
            .into(),
    }
}
