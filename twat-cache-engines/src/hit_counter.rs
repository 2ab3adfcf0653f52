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

use std::cell::Cell;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crossbeam_utils::CachePadded;

// `THREAD_SLOT`: the current thread's slot, `usize::MAX` until first use.
thread_local! {
    static THREAD_SLOT: Cell<usize> = const { Cell::new(usize::MAX) };
    static SLOT_RELEASE: SlotRelease = const { SlotRelease };
}

static NEXT_SLOT: AtomicUsize = AtomicUsize::new(0);
static FREE_SLOTS: Mutex<Vec<usize>> = Mutex::new(Vec::new());

/// Returns the thread's slot to the free list when the thread exits.
struct SlotRelease;

impl Drop for SlotRelease {
    fn drop(&mut self) {
        let slot = THREAD_SLOT.try_with(Cell::get).unwrap_or(usize::MAX);
        if slot != usize::MAX {
            FREE_SLOTS
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(slot);
        }
    }
}

#[cold]
fn assign_slot() -> usize {
    let recycled = FREE_SLOTS.lock().unwrap_or_else(|e| e.into_inner()).pop();
    let slot = recycled.unwrap_or_else(|| NEXT_SLOT.fetch_add(1, Ordering::Relaxed));
    THREAD_SLOT.with(|s| s.set(slot));
    // Registers the destructor; if the thread is already tearing down, the slot leaks (it is
    // still exact: nobody else will ever get it).
    let _ = SLOT_RELEASE.try_with(|_| ());
    slot
}

#[inline(always)]
fn thread_slot() -> usize {
    let slot = THREAD_SLOT.try_with(Cell::get).unwrap_or(usize::MAX - 1);
    if slot == usize::MAX {
        assign_slot()
    } else {
        slot
    }
}

/// A hit counter with one cell per concurrent thread.
pub(crate) struct HitCounter {
    cells: Box<[CachePadded<AtomicU64>]>,
    shared: AtomicU64,
}

impl HitCounter {
    pub fn new() -> Self {
        let threads = std::thread::available_parallelism().map_or(4, |n| n.get());
        let cells = (threads * 2).clamp(4, 64);
        Self {
            cells: (0..cells)
                .map(|_| CachePadded::new(AtomicU64::new(0)))
                .collect(),
            shared: AtomicU64::new(0),
        }
    }

    #[inline(always)]
    pub fn add(&self, by: u64) {
        match self.cells.get(thread_slot()) {
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

#[cfg(test)]
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
