//! One attribute turns a function into a correct, fast cache.
//!
//! ```
//! use twat_cache::mcache;
//!
//! #[mcache(maxsize = 10_000, ttl = "10m")]
//! fn word_count(text: &str) -> usize {
//!     text.split_whitespace().count()
//! }
//!
//! assert_eq!(word_count("a b c"), 3); // runs the body
//! assert_eq!(word_count("a b c"), 3); // a hit: no allocation, no body
//! assert_eq!(word_count_cache().stats().hits, 1);
//! ```
//!
//! - [`mcache`]: a concurrent in-memory cache (sharded, W-TinyLFU by default, TTL,
//!   single-flight). Companions `foo_uncached`, `foo_invalidate` and `foo_cache()` are generated
//!   next to the function.
//! - [`bcache`]: a persistent cache in a sled database; [`fcache`]: one file per entry, safe for
//!   many processes. Both check every entry on read and fall back to memory if the disk fails.
//! - [`ucache`]: memory in front of a disk tier that processes running at the same time share;
//!   a broken disk tier degrades to memory and is retried. [`CacheHandle::tiers`] tells what
//!   each tier served.
//! - [`registry`], [`clear_all`], [`CacheStats`], [`cache_root`] and `TWAT_CACHE_DISABLE=1`
//!   (see [`caching_disabled`]) work across every cache in the process.
//! - The engines are usable without the attributes: [`MemoryCache`], [`SledCache`],
//!   [`FileCache`].

#![warn(missing_docs)]

mod config;
mod error;
mod handle;
#[doc(hidden)]
pub mod __private {
    //! Support for generated code; not a public API.
    pub use crate::private::*;
}
mod private;
mod registry;
mod site;
mod spec;
mod tiers;

pub use config::{cache_root, caching_disabled};
pub use error::Error;
pub use handle::CacheHandle;
pub use registry::{CacheInfo, CacheKind, clear_all, registry};
pub use tiers::{Tier, TierStats};
pub use twat_cache_engines::disk;
/// Making storage calls fail on purpose, for tests (feature `fault-injection`).
#[cfg(feature = "fault-injection")]
pub use twat_cache_engines::fault;
pub use twat_cache_engines::{
    Borrowed, CacheStats, Clock, DiskCache, DiskCacheBuilder, DiskEntry, DiskVacant, Engine, Entry,
    EstimateSize, FileCache, FileCacheBuilder, Found, L1_VALUE_LIMIT, Lookup, MemoryCache,
    MemoryCacheBuilder, Policy, SledCache, SledCacheBuilder, Tiered, TieredVacancy, Vacancy,
    VacantEntry,
};
pub use twat_cache_macros::{bcache, fcache, mcache, ucache};
