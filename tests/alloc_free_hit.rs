//! A hit on `fn(&str, u32) -> Arc<String>` allocates nothing: the key is looked up from the
//! borrowed arguments, and the value is an `Arc` clone. Counted by a global allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;

use twat_cache::mcache;

struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|a| a.set(a.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|a| a.set(a.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

#[mcache(maxsize = 1000, ttl = "1h")]
fn label(name: &str, n: u32) -> Arc<String> {
    Arc::new(format!("{name}#{n}"))
}

#[mcache]
fn by_slice(data: &[u64]) -> Arc<String> {
    Arc::new(format!("{}", data.iter().sum::<u64>()))
}

#[test]
fn a_hit_allocates_nothing() {
    let first = label("alpha", 7);
    assert_eq!(*first, "alpha#7");
    // Warm up anything lazily initialised on the first hit.
    let _ = label("alpha", 7);
    let mut hit = None;
    let allocations = allocations_during(|| {
        hit = Some(label("alpha", 7));
    });
    assert_eq!(allocations, 0, "a hit must not allocate");
    assert!(Arc::ptr_eq(&first, hit.as_ref().unwrap()));
    assert!(
        allocations_during(|| drop(label("beta", 1))) > 0,
        "a miss does allocate (sanity)"
    );

    let data = vec![1, 2, 3];
    by_slice(&data);
    by_slice(&data);
    assert_eq!(allocations_during(|| drop(by_slice(&data))), 0);
    assert_eq!(label_cache().stats().hits, 2);
}
