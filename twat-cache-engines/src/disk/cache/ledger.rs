//! [`PruneLedger`]: this process's own writes and removals made while a prune counts the store,
//! so that the counts the prune resets `len`/`bytes` to include them exactly once.
//!
//! A prune walks the store and then *sets* the counters to what it found (that is how writes of
//! other processes sharing the store get counted). A write of this process that lands in a
//! shard the walk has already passed is not in that count, and its own `len += 1` would be
//! overwritten: with writers busy during prunes, `len` drifted below the number of entries on
//! disk. The ledger records, per entry id, what this process last did to it during the walk
//! and what the walk counted of it; the difference corrects the reset.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;

use crate::disk::backend::{EntryId, IdHasher};

/// See the module docs.
#[derive(Default)]
pub(super) struct PruneLedger {
    /// Whether a prune is counting (checked without the lock on every write).
    active: AtomicBool,
    changes: Mutex<HashMap<EntryId, Change, IdHasher>>,
}

/// One entry's story during a prune.
#[derive(Default, Clone, Copy)]
struct Change {
    /// Its stored size after this process's last write, `None` after a removal; unset (outer
    /// `None`) if this process did not touch it.
    now: Option<Option<u64>>,
    /// The size the prune counted it with, if it counted it.
    counted: Option<u64>,
}

/// What the counters must add to the prune's own count.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Correction {
    pub len: i64,
    pub bytes: i64,
}

impl PruneLedger {
    /// Starts recording (a prune begins its walk); `false` if another prune of this process is
    /// walking already (which then counts for both).
    #[must_use]
    pub fn open(&self) -> bool {
        let mut changes = self.changes.lock();
        if self
            .active
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return false;
        }
        changes.clear();
        true
    }

    /// This process stored `bytes` for `id` (`None`: removed it).
    pub fn note_write(&self, id: &EntryId, bytes: Option<u64>) {
        if self.active.load(Ordering::SeqCst) {
            self.changes.lock().entry(*id).or_default().now = Some(bytes);
        }
    }

    /// The prune counted `id` with `bytes`.
    pub fn note_counted(&self, id: &EntryId, bytes: u64) {
        if self.active.load(Ordering::SeqCst) {
            self.changes.lock().entry(*id).or_default().counted = Some(bytes);
        }
    }

    /// Stops recording; what the prune's count misses or counts twice of this process's work.
    pub fn close(&self) -> Correction {
        let mut changes = self.changes.lock();
        self.active.store(false, Ordering::SeqCst);
        let mut correction = Correction::default();
        for change in changes.values() {
            let Some(now) = change.now else { continue };
            let (now_len, now_bytes) = now.map_or((0, 0), |b| (1, b as i64));
            let (counted_len, counted_bytes) = change.counted.map_or((0, 0), |b| (1, b as i64));
            correction.len += now_len - counted_len;
            correction.bytes += now_bytes - counted_bytes;
        }
        changes.clear();
        correction
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> EntryId {
        [n; 32]
    }

    #[test]
    fn writes_the_walk_missed_are_added_and_those_it_saw_are_not_doubled() {
        let ledger = PruneLedger::default();
        ledger.note_write(&id(9), Some(5)); // before the prune: not recorded
        assert!(ledger.open());
        assert!(!ledger.open(), "one prune at a time");
        ledger.note_write(&id(1), Some(10)); // written after the walk passed it
        ledger.note_write(&id(2), Some(20)); // written, then counted
        ledger.note_counted(&id(2), 20);
        ledger.note_counted(&id(3), 30); // counted, then removed
        ledger.note_write(&id(3), None);
        ledger.note_counted(&id(4), 40); // counted, then overwritten larger
        ledger.note_write(&id(4), Some(44));
        ledger.note_counted(&id(5), 50); // untouched by this process
        assert_eq!(
            ledger.close(),
            Correction {
                len: 1 - 1,
                bytes: 10 - 30 + 4,
            }
        );
        ledger.note_write(&id(6), Some(1)); // after the prune: not recorded
        assert!(ledger.open());
        assert_eq!(ledger.close(), Correction::default());
    }
}
