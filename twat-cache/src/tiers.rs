//! [`Tier`] and [`TierStats`]: what each tier of a cache served.

use twat_cache_engines::CacheStats;

/// One storage tier of a cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "lowercase")
)]
pub enum Tier {
    /// The in-process memory cache (`#[mcache]`, and `#[ucache]`'s first tier).
    Memory,
    /// Storage under the cache root (`#[bcache]`, `#[fcache]`, and `#[ucache]`'s second tier).
    Disk,
}

/// One tier's counters, as [`CacheHandle::tiers`](crate::CacheHandle::tiers) reports them.
///
/// A tier's `hits` are the lookups it answered, its `misses` those that reached it and found
/// nothing; for `#[ucache]` the memory tier's misses are the lookups passed on to disk, and the
/// whole cache's [`stats`](crate::CacheHandle::stats) count a hit of either tier as a hit.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # unsafe { std::env::set_var("TWAT_CACHE_DIR", dir.path()) };
/// use twat_cache::{ucache, Tier};
///
/// #[ucache(maxsize = 1)]
/// fn square(x: u64) -> u64 { x * x }
///
/// square(2); // computed, written to both tiers
/// square(3); // computed; memory holds one entry, so 2 is now on disk only
/// square(2); // a disk hit, copied back into memory
/// square(2); // a memory hit
/// let cache = square_cache();
/// assert_eq!(cache.tier(Tier::Memory).unwrap().hits, 1);
/// assert_eq!(cache.tier(Tier::Disk).unwrap().hits, 1);
/// assert_eq!(cache.stats().hits, 2);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct TierStats {
    /// Which tier.
    pub tier: Tier,
    /// Its counters and size.
    pub stats: CacheStats,
}
