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
//!   single-flight). Companions `foo_uncached`, `foo_invalidate`, `foo_cache()`, `foo_prime`
//!   and `foo_refresh` are generated next to the function.
//! - [`bcache`]: a persistent cache in a sled database; [`fcache`]: one file per entry, safe for
//!   many processes. Both check every entry on read and fall back to memory if the disk fails.
//! - [`ucache`]: memory in front of a disk tier that processes running at the same time share;
//!   a broken disk tier degrades to memory and is retried. [`CacheHandle::tiers`] tells what
//!   each tier served.
//! - [`registry`], [`clear_all`], [`CacheStats`], [`cache_root`] and `TWAT_CACHE_DISABLE=1`
//!   (see [`caching_disabled`]) work across every cache in the process.
//! - The engines are usable without the attributes: [`MemoryCache`], [`SledCache`],
//!   [`FileCache`], [`Tiered`] (memory in front of a disk cache).
//!
//! # Options
//!
//! Every option is checked at compile time: a typo, a wrong type, a zero size or an option of
//! another attribute is an error on that token.
//!
//! | option | attributes | meaning |
//! |---|---|---|
//! | `maxsize = 1000` (or a const) | all | most entries (`#[ucache]`: of its memory tier, default 10 000) |
//! | `max_bytes = "512MiB"` (or an integer, or a const) | all | bound on estimated (memory) or stored (disk) bytes |
//! | `ttl = "10m"` / `"1h30m"` / seconds / a const (`TTL`, `Duration::from_secs(60)`) | all | entry lifetime from insertion |
//! | `refresh = true` | all | a hit renews the TTL (needs `ttl`) |
//! | `policy = "tinylfu"` / `"lru"` / `"fifo"` / `"lfu"` | all | eviction policy (default `tinylfu`) |
//! | `key = <expr>` | all | custom key over the arguments; required for `self` and generics; an argument it never mentions (unless named `_…`) is a warning, silenced by `#[allow(deprecated)]` |
//! | `name = "…"` | all | registry name (default `module::fn`, `module::Type::method`) |
//! | `cache_none = true` | all, `Option` returns | cache `None` too |
//! | `cache_if = is_success` (a `fn(&V) -> bool` or a closure) | all | store a computed value only if the predicate accepts it (`V`: the `Ok`/`Some` value, or the whole return) |
//! | `single_flight = false` | all | let concurrent misses of one key each run the body |
//! | `companions = false` | all | emit no companions (in `impl Trait for Type`); see [`handle`] |
//! | `cache = STATIC` | all | look calls up in a declared `static` engine shared by several functions |
//! | `folder = "geo"` | bcache, fcache, ucache | sub-folder of [`cache_root`] (default: the crate name) |
//! | `version = "2"` | bcache, fcache, ucache | namespace (default: a fingerprint of the function's own tokens, not of what it calls: set it when a helper, constant or data file changes) |
//! | `compress = true` | bcache, fcache, ucache | zstd-compress stored values |
//! | `max_entry_bytes = "1GiB"` (or an integer, or a const) | bcache, fcache, ucache | most bytes of one stored entry, read or written (default [`DEFAULT_MAX_ENTRY_BYTES`], 256 MiB, or `max_bytes`/`disk_max_bytes` when given) |
//! | `disk_max_bytes = "1GiB"` | ucache | bound on the disk tier (default 1 GiB) |
//! | `backend = "disk"` / `"redis"` | ucache | the second tier: the disk (default) or Redis (feature `redis`) |

#![warn(missing_docs)]

mod config;
mod error;
mod handle;
mod named;
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
pub use named::{BackendKind, RegisteredEngine, register};
pub use registry::{CacheInfo, CacheKind, clear_all, handle, registry};
pub use tiers::{Tier, TierStats};
pub use twat_cache_engines::DEFAULT_MAX_ENTRY_BYTES;
/// A cache in Redis without an attribute (feature `redis`).
#[cfg(feature = "redis")]
pub use twat_cache_engines::RedisCache;
pub use twat_cache_engines::disk;
/// Making storage calls fail on purpose, for tests (feature `fault-injection`).
#[cfg(feature = "fault-injection")]
pub use twat_cache_engines::fault;
pub use twat_cache_engines::{
    Borrowed, BorrowedKey, BuilderOptions, CacheStats, Clock, DiskCache, DiskCacheBuilder,
    DiskEntry, DiskVacant, Engine, Entry, EstimateSize, FileCache, FileCacheBuilder, Found,
    KeyPart, L1_VALUE_LIMIT, Lookup, MemoryCache, MemoryCacheBuilder, OptionPart, Policy,
    SledCache, SledCacheBuilder, Tiered, TieredVacancy, UnknownPolicy, Vacancy, VacantEntry,
    Weigher,
};
pub use twat_cache_macros::{EstimateSize, bcache, fcache, mcache, ucache};

/// The README's examples, run as doctests so that what users paste compiles.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeExamples;
