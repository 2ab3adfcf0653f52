//! Shared helpers for the integration tests (kept tiny on purpose).

use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts body executions.
#[derive(Default)]
pub struct Calls(AtomicUsize);

impl Calls {
    /// A counter at zero, usable in a `static`.
    pub const fn new() -> Self {
        Self(AtomicUsize::new(0))
    }

    /// Records one execution.
    pub fn hit(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }

    /// Executions so far.
    pub fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// Points `TWAT_CACHE_DIR` at a fresh temporary directory, once per test binary, before any
/// cache is used. Every test of a binary that uses disk caches calls this first.
pub fn isolated_cache_root() {
    static ROOT: std::sync::Once = std::sync::Once::new();
    ROOT.call_once(|| {
        let dir = tempfile::tempdir().expect("a temp dir").keep();
        // SAFETY: runs once, before any cache reads the variable; tests of the binary call this
        // before touching a cache.
        unsafe { std::env::set_var("TWAT_CACHE_DIR", &dir) };
    });
}
