//! Options every engine builder shares, and their setters (written once, by a macro).

use std::time::Duration;

use crate::{Clock, Policy};

/// Most bytes a disk cache reads, or decompresses, for one entry unless told otherwise: 256 MiB.
///
/// Reading an entry never takes more memory than this bound, whatever a damaged or hostile
/// entry declares; an entry larger than the bound (a file, a sled or Redis value, or the
/// decompressed size of a compressed one) is a miss and is removed, and a value whose entry
/// would exceed it is not stored. An explicit `max_bytes` sets the bound instead (no entry can
/// be larger than the whole cache), and `max_entry_bytes` sets it outright (capped by
/// `max_bytes`).
///
/// ```
/// use twat_cache::{DEFAULT_MAX_ENTRY_BYTES, FileCache};
///
/// assert_eq!(DEFAULT_MAX_ENTRY_BYTES, 256 << 20);
/// let dir = tempfile::tempdir().unwrap();
/// let small: FileCache<Vec<u8>> = FileCache::builder(dir.path()).max_entry_bytes(1024).build();
/// small.insert("big", &vec![7u8; 4096]);
/// assert_eq!(small.get("big"), None, "over its per-entry bound: not stored");
/// ```
pub const DEFAULT_MAX_ENTRY_BYTES: u64 = 256 << 20;

/// The per-entry bound of a disk cache (see [`DEFAULT_MAX_ENTRY_BYTES`]): `max_entry_bytes`
/// if given, else `max_bytes` if given, else the default; never above `max_bytes`.
pub(crate) fn entry_bound(max_entry_bytes: Option<u64>, max_bytes: Option<u64>) -> u64 {
    max_entry_bytes
        .or(max_bytes)
        .unwrap_or(DEFAULT_MAX_ENTRY_BYTES)
        .min(max_bytes.unwrap_or(u64::MAX))
}

/// Bounds, expiry, policy, clock and single-flight: what `maxsize`, `max_bytes`, `ttl`,
/// `refresh`, `policy` and `single_flight` mean for every engine.
#[derive(Clone, Debug)]
pub(crate) struct CommonOptions {
    pub maxsize: Option<usize>,
    pub max_bytes: Option<u64>,
    pub ttl: Option<Duration>,
    pub refresh: bool,
    pub policy: Policy,
    pub clock: Clock,
    pub single_flight: bool,
    /// XFetch early refresh (see `early.rs`), and the seed of its draws (`None`: random).
    pub early_refresh: bool,
    pub early_refresh_seed: Option<u64>,
    /// Most bytes of one stored entry (disk caches; see [`entry_bound`]).
    pub max_entry_bytes: Option<u64>,
}

impl Default for CommonOptions {
    fn default() -> Self {
        Self {
            maxsize: None,
            max_bytes: None,
            ttl: None,
            refresh: false,
            policy: Policy::default(),
            clock: Clock::system(),
            single_flight: true,
            early_refresh: false,
            early_refresh_seed: None,
            max_entry_bytes: None,
        }
    }
}

/// The shared setters, for a builder with a `common: CommonOptions` field.
macro_rules! common_setters {
    () => {
        /// Most entries held; `len() <= maxsize` after every call.
        pub fn maxsize(mut self, entries: usize) -> Self {
            self.common.maxsize = Some(entries);
            self
        }

        /// Most bytes held: estimated in memory (see the weigher), stored bytes on disk.
        pub fn max_bytes(mut self, bytes: u64) -> Self {
            self.common.max_bytes = Some(bytes);
            self
        }

        /// Entry lifetime from insertion; expired entries are never returned.
        pub fn ttl(mut self, ttl: std::time::Duration) -> Self {
            self.common.ttl = Some(ttl);
            self
        }

        /// Whether a hit restarts the entry's TTL (sliding expiry).
        pub fn refresh(mut self, refresh: bool) -> Self {
            self.common.refresh = refresh;
            self
        }

        /// The eviction policy (default [`Policy::TinyLfu`](crate::Policy::TinyLfu)).
        pub fn policy(mut self, policy: crate::Policy) -> Self {
            self.common.policy = policy;
            self
        }

        /// The clock TTLs are measured on (default [`Clock::system`](crate::Clock::system)).
        pub fn clock(mut self, clock: crate::Clock) -> Self {
            self.common.clock = clock;
            self
        }

        /// Whether concurrent misses of one key through `entry` wait for a single computation
        /// (default `true`).
        pub fn single_flight(mut self, on: bool) -> Self {
            self.common.single_flight = on;
            self
        }

        /// Probabilistic early refresh (XFetch, with a `ttl`): a hit shortly before its
        /// entry expires may be turned, for one caller, into the duty to recompute it — the
        /// likelier the closer the expiry and the longer the entry took to compute — while
        /// other callers keep hitting. Through `entry`/`lookup` only (`get` never recomputes).
        pub fn early_refresh(mut self, on: bool) -> Self {
            self.common.early_refresh = on;
            self
        }

        /// Seeds the early-refresh draws, for reproducible runs (default: a random seed).
        pub fn early_refresh_seed(mut self, seed: u64) -> Self {
            self.common.early_refresh_seed = Some(seed);
            self
        }
    };
}
pub(crate) use common_setters;

/// The options every engine builder takes, as one trait, for code that applies a list of
/// options to whichever builder it holds (the attributes' runtime does). The builders' own
/// setters of the same names are the everyday API.
///
/// ```
/// use std::time::Duration;
/// use twat_cache::{BuilderOptions, MemoryCache, Policy};
///
/// fn configure<B: BuilderOptions>(builder: B) -> B {
///     builder.with_maxsize(100).with_ttl(Duration::from_secs(60)).with_policy(Policy::Lru)
/// }
/// let cache: MemoryCache<u32, u32> = configure(MemoryCache::builder()).build();
/// cache.insert(1, 1);
/// assert_eq!(cache.get(&1), Some(1));
/// ```
pub trait BuilderOptions: Sized {
    /// See the builders' `maxsize`.
    fn with_maxsize(self, entries: usize) -> Self;
    /// See the builders' `max_bytes`.
    fn with_max_bytes(self, bytes: u64) -> Self;
    /// See the builders' `ttl`.
    fn with_ttl(self, ttl: Duration) -> Self;
    /// See the builders' `refresh`.
    fn with_refresh(self, refresh: bool) -> Self;
    /// See the builders' `policy`.
    fn with_policy(self, policy: Policy) -> Self;
    /// See the builders' `single_flight`.
    fn with_single_flight(self, on: bool) -> Self;
    /// See the builders' `early_refresh`.
    fn with_early_refresh(self, on: bool) -> Self;
    /// Compress stored values (disk builders; a memory builder ignores it).
    fn with_compress(self, compress: bool) -> Self;
    /// See the disk builders' `max_entry_bytes` (a memory builder ignores it).
    fn with_max_entry_bytes(self, bytes: u64) -> Self {
        let _ = bytes;
        self
    }
}

/// A builder holding [`CommonOptions`] (and, on disk, a compression switch).
pub(crate) trait HasCommonOptions {
    fn common_options(&mut self) -> &mut CommonOptions;
    fn compress_option(&mut self) -> Option<&mut bool>;
}

impl<B: HasCommonOptions> BuilderOptions for B {
    fn with_maxsize(mut self, entries: usize) -> Self {
        self.common_options().maxsize = Some(entries);
        self
    }
    fn with_max_bytes(mut self, bytes: u64) -> Self {
        self.common_options().max_bytes = Some(bytes);
        self
    }
    fn with_ttl(mut self, ttl: Duration) -> Self {
        self.common_options().ttl = Some(ttl);
        self
    }
    fn with_refresh(mut self, refresh: bool) -> Self {
        self.common_options().refresh = refresh;
        self
    }
    fn with_policy(mut self, policy: Policy) -> Self {
        self.common_options().policy = policy;
        self
    }
    fn with_single_flight(mut self, on: bool) -> Self {
        self.common_options().single_flight = on;
        self
    }
    fn with_early_refresh(mut self, on: bool) -> Self {
        self.common_options().early_refresh = on;
        self
    }
    fn with_compress(mut self, compress: bool) -> Self {
        if let Some(slot) = self.compress_option() {
            *slot = compress;
        }
        self
    }
    fn with_max_entry_bytes(mut self, bytes: u64) -> Self {
        self.common_options().max_entry_bytes = Some(bytes);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_entry_bound_is_the_default_unless_a_byte_bound_is_given() {
        const MIB: u64 = 1 << 20;
        assert_eq!(entry_bound(None, None), DEFAULT_MAX_ENTRY_BYTES);
        assert_eq!(entry_bound(None, Some(MIB)), MIB, "max_bytes lowers it");
        assert_eq!(
            entry_bound(None, Some(1024 * MIB)),
            1024 * MIB,
            "and raises it"
        );
        assert_eq!(entry_bound(Some(MIB), None), MIB, "max_entry_bytes sets it");
        assert_eq!(entry_bound(Some(512 * MIB), None), 512 * MIB);
        assert_eq!(
            entry_bound(Some(4 * MIB), Some(2 * MIB)),
            2 * MIB,
            "within max_bytes"
        );
    }
}
