//! Options of a [`MemoryCache`], and how they are split across shards (entry bounds are; the
//! byte bound is shared).

use std::sync::atomic::AtomicU64;

use crossbeam_utils::CachePadded;

use super::eviction::Limits;
use super::shard::Shard;
use super::store::Charges;
use super::{MemoryCache, Weigher};
use crate::clock::duration_nanos;
use crate::early::EarlyRefresh;
use crate::hit_counter::HitCounter;
use crate::options::{CommonOptions, HasCommonOptions, common_setters};

/// Builds a [`MemoryCache`].
///
/// ```
/// use std::time::Duration;
/// use twat_cache::{Clock, MemoryCache, Policy};
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
    common: CommonOptions,
    weigher: Option<Weigher<K, V>>,
    shards: Option<usize>,
}

impl<K, V> Default for MemoryCacheBuilder<K, V> {
    fn default() -> Self {
        Self {
            common: CommonOptions::default(),
            weigher: None,
            shards: None,
        }
    }
}

impl<K, V> HasCommonOptions for MemoryCacheBuilder<K, V> {
    fn common_options(&mut self) -> &mut CommonOptions {
        &mut self.common
    }
    fn compress_option(&mut self) -> Option<&mut bool> {
        None
    }
}

impl<K, V> MemoryCacheBuilder<K, V> {
    common_setters!();

    /// How an entry's size is estimated; the default is `size_of::<K>() + size_of::<V>()`.
    /// An entry is weighed once, when it is stored, and keeps that charge until it leaves
    /// (a value that grows behind an `Arc` later does not change it). `max_bytes` bounds the
    /// whole cache, all shards together: any entry up to the whole bound is cached.
    pub fn weigher(mut self, weigh: impl Fn(&K, &V) -> u64 + Send + Sync + 'static) -> Self {
        self.weigher = Some(Box::new(weigh));
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
        let CommonOptions {
            maxsize,
            max_bytes,
            ttl,
            refresh,
            policy,
            clock,
            single_flight,
            early_refresh,
            early_refresh_seed,
            max_entry_bytes: _, // a bound on stored entries: disk caches only
        } = self.common;
        let shard_count = self
            .shards
            .unwrap_or_else(|| default_shard_count(maxsize, max_bytes));
        let capacity = split(maxsize.map(|n| n as u64), shard_count);
        // The byte bound is the whole cache's: shards share one count (`u64::MAX` is none).
        let max_bytes = max_bytes.filter(|&b| b != u64::MAX);
        let custom_weigher = self.weigher.is_some();
        let uniform_weight = (size_of::<K>() + size_of::<V>()) as u64;
        let shards = (0..shard_count)
            .map(|i| {
                let cap = capacity(i).map_or(usize::MAX, |c| c as usize);
                let limits = Limits::new(cap, max_bytes.unwrap_or(u64::MAX));
                let charges = Charges::new(custom_weigher, uniform_weight);
                CachePadded::new(Shard::new(policy, limits, charges))
            })
            .collect();
        let weigher = self
            .weigher
            .unwrap_or_else(|| Box::new(move |_: &K, _: &V| uniform_weight));
        MemoryCache {
            shards,
            shard_mask: shard_count - 1,
            hits: HitCounter::new(),
            hasher: foldhash::fast::RandomState::default(),
            policy,
            plain_hits: ttl.is_none() && !policy.reorders_on_hit(),
            ttl: ttl.map_or(0, |d| duration_nanos(d).max(1)),
            refresh,
            single_flight,
            // Early refresh needs a deadline to be early for.
            early: (early_refresh && ttl.is_some()).then(|| EarlyRefresh::new(early_refresh_seed)),
            clock,
            weigher,
            shared_bytes: max_bytes.map(|_| Box::new(CachePadded::new(AtomicU64::new(0)))),
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
