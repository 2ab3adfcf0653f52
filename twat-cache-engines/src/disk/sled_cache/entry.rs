//! The single-flight entry API of a [`SledCache`]: a hit, or the right to fill a miss.

use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{EntryId, SledCache};
use crate::flight::Flight;

/// The outcome of [`SledCache::entry`].
pub enum DiskEntry<'a, V> {
    /// The stored value.
    Hit(V),
    /// Absent: this caller computes it (others wait) and stores it with
    /// [`DiskVacant::insert`].
    Vacant(DiskVacant<'a, V>),
}

/// The right to fill one absent key of a [`SledCache`]; dropping it releases the waiters.
pub struct DiskVacant<'a, V> {
    pub(super) cache: &'a SledCache<V>,
    pub(super) id: EntryId,
    pub(super) key: Vec<u8>,
    pub(super) flight: Option<Arc<Flight>>,
}

impl<V: Serialize + DeserializeOwned> DiskVacant<'_, V> {
    /// Stores the computed value.
    pub fn insert(self, value: &V) {
        self.cache.write(&self.id, &self.key, value);
    }
}

impl<V> Drop for DiskVacant<'_, V> {
    fn drop(&mut self) {
        if let Some(flight) = self.flight.take() {
            self.cache.flights.land(&flight);
        }
    }
}
