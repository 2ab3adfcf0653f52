//! One shard: its store behind a read-write lock, its event counters and its in-flight misses.

use std::sync::atomic::AtomicU64;

use parking_lot::RwLock;

use super::eviction::Limits;
use super::sketch::FrequencySketch;
use super::store::{Charges, Store};
use crate::Policy;
use crate::flight::FlightTable;
use crate::stats::Counters;

pub(crate) struct Shard<K, V> {
    pub store: RwLock<Store<K, V>>,
    pub counters: Counters,
    pub flights: FlightTable,
    pub limits: Limits,
    /// Bumped (under the store's write lock) by every removal and clear: a computation that
    /// started before one does not store its result (it may be what was invalidated).
    pub generation: AtomicU64,
}

impl<K, V> Shard<K, V> {
    pub fn new(policy: Policy, limits: Limits, charges: Charges) -> Self {
        // Reserve the bounded size up front (dense slots, no doubling slack), but never a
        // pathological amount for a huge `maxsize`. `+ 1`: W-TinyLFU links a new entry before
        // choosing its victim, so a full shard briefly holds one more.
        let reserve = if limits.capacity == usize::MAX {
            0
        } else {
            limits.capacity.min(1 << 20) + 1
        };
        let sketch = (policy == Policy::TinyLfu).then(|| {
            let expected = if limits.capacity == usize::MAX {
                4096
            } else {
                limits.capacity
            };
            FrequencySketch::new(expected)
        });
        Self {
            store: RwLock::new(Store::with_capacity(reserve, sketch, charges)),
            counters: Counters::default(),
            flights: FlightTable::default(),
            limits,
            generation: AtomicU64::new(0),
        }
    }
}
