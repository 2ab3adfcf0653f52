//! The single-flight entry API of a [`DiskCache`]: a hit, or the right to fill a miss.

use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::DiskCache;
use crate::disk::backend::{Backend, EntryId};
use crate::flight::Flight;

/// The outcome of [`DiskCache::entry`].
///
/// ```
/// use twat_cache_engines::{DiskEntry, FileCache};
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

/// The right to fill one absent key of a [`DiskCache`]; dropping it releases the waiters.
///
/// ```
/// use twat_cache_engines::{DiskEntry, SledCache};
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
    pub(super) key: Vec<u8>,
    pub(super) flight: Option<Arc<Flight>>,
}

impl<S: Backend, V: Serialize + DeserializeOwned> DiskVacant<'_, S, V> {
    /// Stores the computed value.
    pub fn insert(self, value: &V) {
        self.cache.write(&self.id, &self.key, value);
    }
}

impl<S, V> Drop for DiskVacant<'_, S, V> {
    fn drop(&mut self) {
        if let Some(flight) = self.flight.take() {
            self.cache.flights.land(&flight);
        }
    }
}
