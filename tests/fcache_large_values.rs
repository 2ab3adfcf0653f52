//! A multi-megabyte value round-trips through a file cache without piling up copies: storing
//! needs one buffer (the entry, sized exactly) beside the value, reading one buffer (the file)
//! beside the value being decoded.
//! Measured as peak live heap bytes by a counting global allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use twat_cache::FileCache;

struct Peak;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Peak {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = LIVE.fetch_add(layout.size(), Ordering::SeqCst) + layout.size();
        PEAK.fetch_max(now, Ordering::SeqCst);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // Count a move as both buffers alive at once, as it is.
        let now = LIVE.fetch_add(new_size, Ordering::SeqCst) + new_size;
        PEAK.fetch_max(now, Ordering::SeqCst);
        LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Peak = Peak;

/// Peak heap growth (beyond what was live before) while `f` runs.
fn peak_growth<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE.load(Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);
    let out = f();
    (out, PEAK.load(Ordering::SeqCst) - base)
}

#[test]
fn an_8_mib_value_round_trips_with_one_buffer_each_way() {
    const SIZE: usize = 8 << 20;
    let dir = tempfile::tempdir().unwrap();
    let cache: FileCache<Vec<u64>> = FileCache::builder(dir.path().join("big")).build();
    let value: Vec<u64> = (0..SIZE as u64 / 8).collect();
    let bytes = SIZE; // u64s serialize as varints: at most this many bytes on disk, usually more
    let ((), stored) = peak_growth(|| cache.insert("big", &value));
    let entry = std::fs::read_dir(dir.path().join("big"))
        .unwrap()
        .flatten()
        .find(|e| e.path().is_dir())
        .map(|shard| {
            std::fs::read_dir(shard.path())
                .unwrap()
                .flatten()
                .find(|e| e.path().extension().is_some_and(|x| x == "twc"))
                .unwrap()
        })
        .unwrap()
        .metadata()
        .unwrap()
        .len() as usize;
    assert!(
        stored <= entry + entry / 10 + 64 * 1024,
        "storing used {stored} bytes of heap for a {entry}-byte entry (value {bytes} B)"
    );
    let (read, loaded) = peak_growth(|| cache.get("big"));
    assert_eq!(read.as_ref(), Some(&value));
    let result = value.len() * 8;
    // One buffer for the file, then the value. serde's `Vec` deserializer (any format) caps its
    // first allocation at 1 MiB against hostile lengths and doubles from there, so its last
    // growth briefly holds half the value again: at most file + 1.5 × value, never a third copy.
    assert!(
        loaded <= entry + result * 3 / 2 + result / 10,
        "reading used {loaded} bytes: more than the file plus the value being built"
    );
}
