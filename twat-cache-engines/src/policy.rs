//! Eviction policies by name.

use std::fmt;
use std::str::FromStr;

/// Which entry a full cache gives up.
///
/// The default, [`Policy::TinyLfu`], won the project's hit-ratio benchmark
/// (`cargo bench --bench hit_ratio`): it keeps frequently used keys through scans and loops that
/// flush an LRU cache.
///
/// ```
/// use twat_cache::Policy;
///
/// assert_eq!("lru".parse::<Policy>(), Ok(Policy::Lru));
/// assert_eq!(Policy::default(), Policy::TinyLfu);
/// assert_eq!(Policy::Lfu.name(), "lfu");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Policy {
    /// Least recently used: a hit moves the entry to the front (takes the shard's write lock).
    Lru,
    /// First in, first out: hits change nothing, the oldest insertion goes first.
    Fifo,
    /// Least frequently used, ties broken by least recent use (O(1) frequency buckets).
    Lfu,
    /// W-TinyLFU: a 1% admission window in front of a CLOCK main region; a window entry enters
    /// the main region only if a frequency sketch says it is used more often than the entry it
    /// would replace. Hits are lock-free bookkeeping (one relaxed atomic).
    #[default]
    TinyLfu,
}

impl Policy {
    /// Every policy name accepted by [`FromStr`] and the `policy = "…"` option.
    pub const NAMES: &'static [&'static str] = &["lru", "fifo", "lfu", "tinylfu"];

    /// The policy's name as written in `policy = "…"`.
    pub fn name(self) -> &'static str {
        match self {
            Policy::Lru => "lru",
            Policy::Fifo => "fifo",
            Policy::Lfu => "lfu",
            Policy::TinyLfu => "tinylfu",
        }
    }

    /// Whether a hit must reorder entries (and so needs the shard's write lock).
    pub(crate) fn reorders_on_hit(self) -> bool {
        matches!(self, Policy::Lru | Policy::Lfu)
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A policy name that is not one of [`Policy::NAMES`].
///
/// ```
/// use twat_cache::{Policy, UnknownPolicy};
///
/// assert_eq!("arc".parse::<Policy>(), Err(UnknownPolicy("arc".into())));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown eviction policy `{0}`; expected one of: lru, fifo, lfu, tinylfu")]
pub struct UnknownPolicy(pub String);

impl FromStr for Policy {
    type Err = UnknownPolicy;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "lru" => Ok(Policy::Lru),
            "fifo" => Ok(Policy::Fifo),
            "lfu" => Ok(Policy::Lfu),
            "tinylfu" | "w-tinylfu" | "wtinylfu" => Ok(Policy::TinyLfu),
            _ => Err(UnknownPolicy(s.to_string())),
        }
    }
}
