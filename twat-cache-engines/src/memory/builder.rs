//! Options of a [`MemoryCache`], and how they are split across shards.

use std::time::Duration;

use crossbeam_utils::CachePadded;

use super::eviction::Limits;
use super::shard::Shard;
use super::{MemoryCache, Weigher};
use crate::clock::duration_nanos;
use crate::hit_counter::HitCounter;
use crate::{Clock, Policy};

/// Builds a [`MemoryCache`].
///
/// ```
/// use std::time::Duration;
/// use twat_cache_engines::{Clock, MemoryCache, Policy};
///
/// let clock = Clock::manual();
/// let cache: MemoryCache<u32, String> = MemoryCache::builder()
///     .maxsize(2)
///     .max_bytes(1 << 20)
///     .weigher(|_k, v: &String| v.len() as u64)
///     .ttl(Duration::from_millis(250))
///     .refresh(true)
///     .policy(Policy::Fifo)
///     .clock(clock.clone())
///     .build();
/// cache.insert(1, "one".into());
/// clock.advance(Duration::from_millis(300));
/// assert_eq!(cache.get(&1), None);
/// ```
pub struct MemoryCacheBuilder<K, V> {
    maxsize: Option<usize>,
    max_bytes: Option<u64>,
    ttl: Option<Duration>,
    refresh: bool,
    policy: Policy,
    clock: Clock,
    weigher: Option<Weigher<K, V>>,
    single_flight: bool,
    shards: Option<usize>,
}

impl<K, V> Default for MemoryCacheBuilder<K, V> {
    fn default() -> Self {
        Self {
            maxsize: None,
            max_bytes: None,
            ttl: None,
            refresh: false,
            policy: Policy::default(),
            clock: Clock::system(),
            weigher: None,
            single_flight: true,
            shards: None,
        }
    }
}

impl<K, V> MemoryCacheBuilder<K, V> {
    /// Most entries held; `len() <= maxsize` after every call.
    pub fn maxsize(mut self, entries: usize) -> Self {
        self.maxsize = Some(entries);
        self
    }

    /// Most estimated bytes held (see [`MemoryCacheBuilder::weigher`]).
    pub fn max_bytes(mut self, bytes: u64) -> Self {
        self.max_bytes = Some(bytes);
        self
    }

    /// How an entry's size is estimated; the default is `size_of::<K>() + size_of::<V>()`.
    pub fn weigher(mut self, weigh: impl Fn(&K, &V) -> u64 + Send + Sync + 'static) -> Self {
        self.weigher = Some(Box::new(weigh));
        self
    }

    /// Entry lifetime from insertion; expired entries are never returned.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// Whether a hit restarts the entry's TTL (sliding expiry).
    pub fn refresh(mut self, refresh: bool) -> Self {
        self.refresh = refresh;
        self
    }

    /// The eviction policy (default [`Policy::TinyLfu`]).
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// The clock TTLs are measured on (default [`Clock::system`]).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Whether concurrent misses of one key through [`MemoryCache::entry`] wait for a single
    /// computation (default `true`).
    pub fn single_flight(mut self, on: bool) -> Self {
        self.single_flight = on;
        self
    }

    /// Overrides the number of shards (rounded up to a power of two). By default it follows the
    /// core count, but small caches use one shard so that eviction order is exactly the policy's.
    pub fn shards(mut self, shards: usize) -> Self {
        self.shards = Some(shards.max(1).next_power_of_two());
        self
    }

    /// Builds the cache.
    pub fn build(self) -> MemoryCache<K, V> {
        let shard_count = self
            .shards
            .unwrap_or_else(|| default_shard_count(self.maxsize, self.max_bytes));
        let capacity = split(self.maxsize.map(|n| n as u64), shard_count);
        let bytes = split(self.max_bytes, shard_count);
        let shards = (0..shard_count)
            .map(|i| {
                let cap = capacity(i).map_or(usize::MAX, |c| c as usize);
                let max_bytes = bytes(i).unwrap_or(u64::MAX);
                CachePadded::new(Shard::new(self.policy, Limits::new(cap, max_bytes)))
            })
            .collect();
        let weigher = self
            .weigher
            .unwrap_or_else(|| Box::new(|_: &K, _: &V| (size_of::<K>() + size_of::<V>()) as u64));
        MemoryCache {
            shards,
            shard_mask: shard_count - 1,
            hits: HitCounter::new(),
            hasher: foldhash::fast::RandomState::default(),
            policy: self.policy,
            plain_hits: self.ttl.is_none() && !self.policy.reorders_on_hit(),
            ttl: self.ttl.map_or(0, |d| duration_nanos(d).max(1)),
            refresh: self.refresh,
            single_flight: self.single_flight,
            clock: self.clock,
            weigher,
        }
    }
}

/// Entries (or bytes) a shard should hold at least before sharding pays for itself.
const MIN_ENTRIES_PER_SHARD: u64 = 256;
const MIN_BYTES_PER_SHARD: u64 = 64 * 1024;

fn default_shard_count(maxsize: Option<usize>, max_bytes: Option<u64>) -> usize {
    let cores = std::thread::available_parallelism().map_or(4, |n| n.get());
    let most = (cores * 4).next_power_of_two().clamp(4, 64) as u64;
    let by_entries = maxsize.map_or(most, |n| n as u64 / MIN_ENTRIES_PER_SHARD);
    let by_bytes = max_bytes.map_or(most, |b| b / MIN_BYTES_PER_SHARD);
    let n = by_entries.min(by_bytes).clamp(1, most);
    // Round down to a power of two so no shard's share is below the minimum.
    (1u64 << (63 - n.leading_zeros())) as usize
}

/// Splits a total across `parts` so the shares sum to exactly the total.
fn split(total: Option<u64>, parts: usize) -> impl Fn(usize) -> Option<u64> {
    move |i| {
        total.map(|t| {
            let parts = parts as u64;
            t / parts + u64::from((i as u64) < t % parts)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_sum_to_total() {
        let f = split(Some(10), 4);
        assert_eq!((0..4).map(|i| f(i).unwrap()).sum::<u64>(), 10);
        assert_eq!(default_shard_count(Some(3), None), 1);
        assert!(default_shard_count(None, None) >= 4);
    }
}
