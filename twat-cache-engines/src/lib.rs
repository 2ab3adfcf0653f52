//! Storage engines behind [twat-cache](https://docs.rs/twat-cache).
//!
//! - [`MemoryCache`]: sharded concurrent memory cache (LRU, FIFO, LFU, W-TinyLFU), TTL with a
//!   replaceable [`Clock`], byte bounds, single-flight through [`MemoryCache::entry`].
//! - [`SledCache`]: persistent cache in a sled database, checksummed entries, sampled eviction,
//!   memory fallback when the disk fails.
//! - [`FileCache`]: one file per entry, atomic publishes, safe for many processes, pruned by
//!   last access.
//!
//! This crate knows nothing about macros: the attributes in `twat-cache` expand to calls into
//! these types, and they are equally usable by hand.
//!
//! ```
//! use twat_cache::MemoryCache;
//!
//! let cache: MemoryCache<String, usize> = MemoryCache::builder().maxsize(100).build();
//! let len = cache.get_or_insert_with("hello".to_string(), || "hello".len());
//! assert_eq!(len, 5);
//! assert_eq!(cache.get("hello"), Some(5));
//! ```

#![warn(missing_docs)]

/// Fails with an injected error for `$op` on `$path` (compiled out without the
/// `fault-injection` feature). The enclosing function returns `std::io::Result`.
macro_rules! inject_fault {
    ($op:ident, $path:expr) => {
        #[cfg(feature = "fault-injection")]
        crate::fault::check(crate::fault::Op::$op, $path)?;
    };
}

mod clock;
pub mod disk;
mod early;
mod engine;
#[cfg(feature = "fault-injection")]
pub mod fault;
mod flight;
mod hit_counter;
mod key;
pub mod memory;
mod offload;
mod options;
mod policy;
mod size;
mod stats;
mod tiered;

pub use clock::Clock;
#[cfg(feature = "redis")]
pub use disk::RedisCache;
pub use disk::{
    DiskCache, DiskCacheBuilder, DiskEntry, DiskVacant, FileCache, FileCacheBuilder, SledCache,
    SledCacheBuilder,
};
pub use engine::{Engine, Found, Vacancy};
pub use key::{Borrowed, BorrowedKey, KeyPart, Lookup, OptionPart};
pub use memory::{Entry, MemoryCache, MemoryCacheBuilder, VacantEntry, Weigher};
pub use options::{BuilderOptions, DEFAULT_MAX_ENTRY_BYTES};
pub use policy::{Policy, UnknownPolicy};
pub use size::EstimateSize;
pub use stats::CacheStats;
pub use tiered::{L1_VALUE_LIMIT, Tiered, TieredVacancy};
