//! Memory per entry at 1M `u64 → u64` entries, measured as live heap bytes by a counting global
//! allocator: `cargo bench --bench footprint`. Each cache is sized for 1M entries and filled
//! with 1M distinct keys; the figure includes everything the cache allocates (index, entries,
//! policy metadata, sketch).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use cached::macros::cached;
use twat_cache::mcache;

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const N: u64 = 1_000_000;

#[mcache(maxsize = 1_000_000)]
fn mcache_u64(x: u64) -> u64 {
    x ^ 0x5555
}

#[cached(max_size = 1_000_000)]
fn cached_u64(x: u64) -> u64 {
    x ^ 0x5555
}

/// `fill` builds a cache and returns it (to keep it alive) with the number of entries it holds.
fn measure(name: &str, fill: impl FnOnce() -> (Box<dyn std::any::Any>, u64)) {
    let before = LIVE.load(Ordering::SeqCst);
    let (keep, len) = fill();
    let after = LIVE.load(Ordering::SeqCst);
    println!(
        "{name:<28} {:>8.1} bytes/entry ({len} entries held)",
        (after - before) as f64 / len as f64
    );
    drop(keep);
}

fn main() {
    println!("heap bytes per entry, {N} u64 -> u64 entries");
    measure("HashMap (std)", || {
        let map: std::collections::HashMap<u64, u64> = (0..N).map(|k| (k, k)).collect();
        let len = map.len() as u64;
        (Box::new(map), len)
    });
    measure("twat_cache #[mcache]", || {
        for k in 0..N {
            mcache_u64(k);
        }
        (Box::new(()), mcache_u64_cache().len() as u64)
    });
    measure("twat_cache MemoryCache", || {
        let cache: twat_cache::MemoryCache<u64, u64> = twat_cache::MemoryCache::builder()
            .maxsize(N as usize)
            .build();
        for k in 0..N {
            cache.insert(k, k);
        }
        let len = cache.len() as u64;
        (Box::new(cache), len)
    });
    measure("cached #[cached]", || {
        for k in 0..N {
            cached_u64(k);
        }
        (Box::new(()), N)
    });
    measure("moka::sync::Cache", || {
        let cache: moka::sync::Cache<u64, u64> = moka::sync::Cache::new(N);
        for k in 0..N {
            cache.insert(k, k);
        }
        cache.run_pending_tasks();
        let len = cache.entry_count();
        (Box::new(cache), len)
    });
    measure("quick_cache::sync::Cache", || {
        let cache: quick_cache::sync::Cache<u64, u64> = quick_cache::sync::Cache::new(N as usize);
        for k in 0..N {
            cache.insert(k, k);
        }
        let len = cache.len() as u64;
        (Box::new(cache), len)
    });
}
