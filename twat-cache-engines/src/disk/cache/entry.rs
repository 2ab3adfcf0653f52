//! The single-flight entry API of a [`DiskCache`]: a hit, or the right to fill a miss.

use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::DiskCache;
use crate::disk::backend::{Backend, EntryId};
use crate::flight::{Flight, Outcome};

/// The outcome of [`DiskCache::entry`].
///
/// ```
/// use twat_cache::{DiskEntry, FileCache};
///
/// let dir = tempfile::tempdir().unwrap();
/// let cache: FileCache<String> = FileCache::builder(dir.path()).build();
/// let value = match cache.entry("report") {
///     DiskEntry::Hit(v) => v,
///     DiskEntry::Vacant(vacant) => {
///         let v = "rendered".to_string(); // other callers of this key wait meanwhile
///         vacant.insert(&v);
///         v
///     }
/// };
/// assert_eq!(value, "rendered");
/// assert!(matches!(cache.entry("report"), DiskEntry::Hit(_)));
/// ```
pub enum DiskEntry<'a, S, V> {
    /// The stored value.
    Hit(V),
    /// Absent: this caller computes it (others wait) and stores it with
    /// [`DiskVacant::insert`].
    Vacant(DiskVacant<'a, S, V>),
}

/// The right to fill one absent key of a [`DiskCache`]; dropping it releases the waiters (who
/// then compute on their own, at once).
///
/// ```
/// use twat_cache::{DiskEntry, SledCache};
///
/// let dir = tempfile::tempdir().unwrap();
/// let cache: SledCache<u32> = SledCache::builder(dir.path(), "vacant").build();
/// if let DiskEntry::Vacant(vacant) = cache.entry(&1u8) {
///     drop(vacant); // the computation failed: nothing is stored, waiters retry
/// }
/// assert_eq!(cache.get(&1u8), None);
/// ```
pub struct DiskVacant<'a, S, V> {
    pub(super) cache: &'a DiskCache<S, V>,
    pub(super) id: EntryId,
    /// The serialized key; `None` if it could not be serialized (nothing is stored).
    pub(super) key: Option<Vec<u8>>,
    pub(super) flight: Option<Arc<Flight>>,
    /// The key's invalidation generation when the computation started.
    pub(super) generation: u64,
    /// When the computation started (clock nanoseconds), to record how long it took.
    pub(super) started: u64,
    pub(super) outcome: Outcome,
    /// The cross-process lock on this entry's computation, released (after the write) on drop.
    pub(super) _entry_lock: Option<crate::disk::EntryLock>,
}

impl<S: Backend, V: Serialize + DeserializeOwned + 'static> DiskVacant<'_, S, V> {
    /// Stores the computed value, unless the key was invalidated (or the cache cleared) while
    /// it was computed: then the value may predate what the invalidation meant to discard.
    pub fn insert(self, value: &V) {
        self.store(value);
    }

    /// [`DiskVacant::insert`], returning the stored entry's size in bytes (`None`: not stored).
    pub fn store(mut self, value: &V) -> Option<u64> {
        let took = self.took();
        let stored = self.key.as_ref().and_then(|key| {
            self.cache
                .write(&self.id, key, value, Some(self.generation), took)
        });
        self.outcome = if stored.is_some() {
            Outcome::Stored
        } else {
            Outcome::NotStored
        };
        stored
    }

    /// [`DiskVacant::store`] in two steps, for a store written from another thread: the
    /// record, encoded here, then [`DiskVacant::store_encoded`] there.
    pub(crate) fn encode(&self, value: &V) -> Option<Vec<u8>> {
        self.key
            .as_ref()
            .and_then(|key| self.cache.encode_record(key, value, self.took()))
    }

    /// Nanoseconds since this vacancy was handed out: how long the computation took.
    fn took(&self) -> u64 {
        self.cache
            .core
            .clock
            .now_nanos()
            .saturating_sub(self.started)
    }

    /// Stores a record made by [`DiskVacant::encode`] (`None`: nothing to store).
    pub(crate) fn store_encoded(mut self, record: Option<Vec<u8>>) -> Option<u64> {
        let stored = record.and_then(|bytes| {
            self.cache
                .write_record(&self.id, bytes, Some(self.generation))
        });
        self.outcome = if stored.is_some() {
            Outcome::Stored
        } else {
            Outcome::NotStored
        };
        stored
    }

    /// Has the cross-process lock released from the storage workers when this vacancy goes
    /// (see [`EntryLock::release_on_workers`](crate::disk::EntryLock)), for an async caller that
    /// drops it on an executor thread.
    pub(crate) fn release_lock_on_workers(&mut self) {
        if let Some(lock) = &mut self._entry_lock {
            lock.release_on_workers();
        }
    }

    /// Gives the entry up because the result is not to be cached (an `Err`, a `None`): the
    /// callers waiting for it compute their own at once instead of queueing for a retry.
    pub fn release(mut self) {
        self.outcome = Outcome::NotStored;
    }
}

impl<S, V> Drop for DiskVacant<'_, S, V> {
    fn drop(&mut self) {
        if let Some(flight) = self.flight.take() {
            self.cache.core.flights.land(&flight, self.outcome);
        }
    }
}
