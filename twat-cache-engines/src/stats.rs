//! Counters every engine keeps, and the snapshot type users read.

use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of one cache's counters.
///
/// ```
/// use twat_cache::CacheStats;
///
/// let stats = CacheStats { hits: 3, misses: 1, ..CacheStats::default() };
/// assert_eq!(stats.hit_ratio(), 0.75);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct CacheStats {
    /// Lookups answered from the cache.
    pub hits: u64,
    /// Lookups that had to run the function (or found nothing).
    pub misses: u64,
    /// Values stored.
    pub inserts: u64,
    /// Entries removed by the eviction policy to respect `maxsize` / `max_bytes`.
    pub evictions: u64,
    /// Entries removed because their TTL ran out.
    pub expirations: u64,
    /// Storage faults absorbed by the cache (the call still returned a correct value).
    pub errors: u64,
    /// Entries currently held.
    pub len: u64,
    /// Estimated bytes currently held (memory) or serialized bytes (disk).
    pub bytes: u64,
}

impl CacheStats {
    /// `hits / (hits + misses)`, or `0.0` before the first lookup.
    pub fn hit_ratio(&self) -> f64 {
        let total = self.hits + self.misses;
        if total == 0 {
            0.0
        } else {
            self.hits as f64 / total as f64
        }
    }

    /// Field-wise sum, used to aggregate shards or instantiations.
    pub fn merge(self, other: CacheStats) -> CacheStats {
        CacheStats {
            hits: self.hits + other.hits,
            misses: self.misses + other.misses,
            inserts: self.inserts + other.inserts,
            evictions: self.evictions + other.evictions,
            expirations: self.expirations + other.expirations,
            errors: self.errors + other.errors,
            len: self.len + other.len,
            bytes: self.bytes + other.bytes,
        }
    }
}

/// Event counters of one shard (hits are counted per cache, per thread: see `hit_counter`);
/// `len`/`bytes` are read from the store.
#[derive(Default, Debug)]
pub(crate) struct Counters {
    pub misses: AtomicU64,
    pub inserts: AtomicU64,
    pub evictions: AtomicU64,
    pub expirations: AtomicU64,
}

impl Counters {
    #[inline]
    pub fn bump(counter: &AtomicU64, by: u64) {
        if by != 0 {
            counter.fetch_add(by, Ordering::Relaxed);
        }
    }

    pub fn snapshot(&self) -> CacheStats {
        CacheStats {
            misses: self.misses.load(Ordering::Relaxed),
            inserts: self.inserts.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
            expirations: self.expirations.load(Ordering::Relaxed),
            ..CacheStats::default()
        }
    }
}
