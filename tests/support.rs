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
