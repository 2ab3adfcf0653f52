//! Exact hit counting without a locked instruction on the hit path.
//!
//! A shared `fetch_add` per hit costs a locked read-modify-write, which also stops the CPU from
//! overlapping the next lookup's loads — measurably the largest cost left on a hit. Instead each
//! thread owns one cell of the counter (by a process-wide thread slot) and increments it with a
//! plain load and store: with a single writer per cell that is exact. Readers sum the cells.
//!
//! Thread slots are recycled when a thread exits (its cells keep their counts; the next owner
//! continues from there, ordered by the free-list mutex). Threads beyond the cell count share
//! one `fetch_add` cell, so counting stays exact for any number of threads.
//!
//! That hand-over is the one lock-free protocol here, and it is checked with `loom` (every
//! interleaving and every weak-memory outcome of a few threads counting through recycled
//! slots): `RUSTFLAGS="--cfg twat_loom" cargo test -p twat-cache-engines --lib loom_`
//! (`.ci/run` runs it). In a loom build the process-wide pool is not used (loom's types have no
//! `const` constructors): the models hold their own [`SlotPool`].

use std::cell::Cell;

use crossbeam_utils::CachePadded;

#[cfg(twat_loom)]
use loom::sync::{
    Mutex,
    atomic::{AtomicU64, AtomicUsize, Ordering},
};
#[cfg(not(twat_loom))]
use std::sync::{
    Mutex,
    atomic::{AtomicU64, AtomicUsize, Ordering},
};

/// Hands out cell slots so that each is owned by at most one live thread at a time; a slot
/// given back is handed out again, after everything its last owner wrote (the mutex orders
/// the two owners).
#[cfg_attr(twat_loom, allow(dead_code))] // In loom builds only the models use it.
pub(crate) struct SlotPool {
    next: AtomicUsize,
    free: Mutex<Vec<usize>>,
}

#[cfg_attr(twat_loom, allow(dead_code))]
impl SlotPool {
    #[cfg(not(twat_loom))]
    const fn new() -> Self {
        Self {
            next: AtomicUsize::new(0),
            free: Mutex::new(Vec::new()),
        }
    }

    #[cfg(twat_loom)]
    fn new() -> Self {
        Self {
            next: AtomicUsize::new(0),
            free: Mutex::new(Vec::new()),
        }
    }

    fn take(&self) -> usize {
        let recycled = self.free.lock().unwrap_or_else(|e| e.into_inner()).pop();
        recycled.unwrap_or_else(|| self.next.fetch_add(1, Ordering::Relaxed))
    }

    fn give_back(&self, slot: usize) {
        self.free
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(slot);
    }
}

#[cfg(not(twat_loom))]
static SLOTS: SlotPool = SlotPool::new();

// `THREAD_SLOT`: the current thread's slot, `usize::MAX` until first use.
thread_local! {
    static THREAD_SLOT: Cell<usize> = const { Cell::new(usize::MAX) };
    static SLOT_RELEASE: SlotRelease = const { SlotRelease };
}

/// Returns the thread's slot to the pool when the thread exits.
struct SlotRelease;

impl Drop for SlotRelease {
    fn drop(&mut self) {
        let slot = THREAD_SLOT.try_with(Cell::get).unwrap_or(usize::MAX);
        #[cfg(not(twat_loom))]
        if slot != usize::MAX {
            SLOTS.give_back(slot);
        }
        #[cfg(twat_loom)]
        let _ = slot;
    }
}

#[cold]
fn assign_slot() -> usize {
    #[cfg(not(twat_loom))]
    let slot = SLOTS.take();
    // Loom builds: every thread counts through the shared cell (the models use their pools).
    #[cfg(twat_loom)]
    let slot = usize::MAX - 1;
    THREAD_SLOT.with(|s| s.set(slot));
    // Registers the destructor; if the thread is already tearing down, the slot leaks (it is
    // still exact: nobody else will ever get it).
    let _ = SLOT_RELEASE.try_with(|_| ());
    slot
}

#[inline(always)]
fn thread_slot() -> usize {
    let slot = stored_slot();
    if slot == usize::MAX {
        assign_slot()
    } else {
        slot
    }
}

/// The current thread's slot as stored: `usize::MAX` until assigned (see [`thread_slot`]).
#[inline(always)]
fn stored_slot() -> usize {
    THREAD_SLOT.try_with(Cell::get).unwrap_or(usize::MAX - 1)
}

/// A hit counter with one cell per concurrent thread.
pub(crate) struct HitCounter {
    cells: Box<[CachePadded<AtomicU64>]>,
    shared: AtomicU64,
}

impl HitCounter {
    pub fn new() -> Self {
        let threads = std::thread::available_parallelism().map_or(4, |n| n.get());
        Self::with_cells((threads * 2).clamp(4, 64))
    }

    fn with_cells(cells: usize) -> Self {
        Self {
            cells: (0..cells)
                .map(|_| CachePadded::new(AtomicU64::new(0)))
                .collect(),
            shared: AtomicU64::new(0),
        }
    }

    #[inline(always)]
    pub fn add(&self, by: u64) {
        // One comparison on the hot path: an unassigned slot (`usize::MAX`) is out of range
        // too, so both it and a slot beyond the cells take the cold path.
        match self.cells.get(stored_slot()) {
            Some(cell) => cell.store(cell.load(Ordering::Relaxed) + by, Ordering::Relaxed),
            None => self.add_cold(by),
        }
    }

    #[cold]
    #[inline(never)]
    fn add_cold(&self, by: u64) {
        self.add_at(thread_slot(), by);
    }

    /// Adds `by` through `slot`'s cell; the caller owns the slot (see [`SlotPool`]).
    #[inline(always)]
    fn add_at(&self, slot: usize, by: u64) {
        match self.cells.get(slot) {
            Some(cell) => {
                // Single writer (this thread owns the slot): a plain read-modify-write is exact.
                cell.store(cell.load(Ordering::Relaxed) + by, Ordering::Relaxed);
            }
            None => {
                self.shared.fetch_add(by, Ordering::Relaxed);
            }
        }
    }

    pub fn total(&self) -> u64 {
        self.cells
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum::<u64>()
            + self.shared.load(Ordering::Relaxed)
    }
}

#[cfg(all(test, not(twat_loom)))]
mod tests {
    use super::*;

    #[test]
    fn exact_across_many_short_lived_threads() {
        let counter = HitCounter::new();
        std::thread::scope(|s| {
            for _ in 0..40 {
                s.spawn(|| {
                    for _ in 0..1000 {
                        counter.add(1);
                    }
                });
            }
        });
        assert_eq!(counter.total(), 40_000);
        for round in 0..10 {
            std::thread::scope(|s| {
                s.spawn(|| counter.add(1));
            });
            assert_eq!(counter.total(), 40_001 + round);
        }
    }
}

/// Loom models of the slot hand-over (see the module docs for the command).
#[cfg(all(test, twat_loom))]
mod loom_models {
    use super::*;
    use loom::sync::Arc;

    /// A thread's life as the counter sees it: take a slot, count, give the slot back.
    fn count_through_a_slot(pool: &SlotPool, counter: &HitCounter, hits: u64) {
        let slot = pool.take();
        for _ in 0..hits {
            counter.add_at(slot, 1);
        }
        pool.give_back(slot);
    }

    /// Two threads count through one cell, the second often through the slot the first gave
    /// back (its plain load must see the first's last store), while a reader sums: the reader
    /// never sees more than was counted, and after both are done the total is exact.
    #[test]
    fn loom_recycled_slots_count_exactly() {
        loom::model(|| {
            let pool = Arc::new(SlotPool::new());
            let counter = Arc::new(HitCounter::with_cells(1));
            let threads: Vec<_> = [2, 1]
                .into_iter()
                .map(|hits| {
                    let (pool, counter) = (pool.clone(), counter.clone());
                    loom::thread::spawn(move || count_through_a_slot(&pool, &counter, hits))
                })
                .collect();
            assert!(counter.total() <= 3);
            for t in threads {
                t.join().unwrap();
            }
            assert_eq!(counter.total(), 3);
        });
    }

    /// A thread that dies and a newcomer that inherits its slot, then a third counting at the
    /// same time through the shared `fetch_add` cell (more threads than cells).
    #[test]
    fn loom_inherited_and_shared_cells_count_exactly() {
        loom::model(|| {
            let pool = Arc::new(SlotPool::new());
            let counter = Arc::new(HitCounter::with_cells(1));
            let (p, c) = (pool.clone(), counter.clone());
            let first = loom::thread::spawn(move || {
                count_through_a_slot(&p, &c, 1);
                // A newcomer, started after this thread gave its slot back.
                loom::thread::spawn(move || count_through_a_slot(&p, &c, 1))
                    .join()
                    .unwrap();
            });
            let (p, c) = (pool.clone(), counter.clone());
            let other = loom::thread::spawn(move || count_through_a_slot(&p, &c, 1));
            first.join().unwrap();
            other.join().unwrap();
            assert_eq!(counter.total(), 3);
        });
    }
}
