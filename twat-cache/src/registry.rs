//! Every cache used in this process, for inspection and bulk clearing.

use std::path::PathBuf;
use std::sync::Mutex;

use twat_cache_engines::CacheStats;

use crate::{CacheHandle, TierStats};

/// Which attribute made a cache.
///
/// ```
/// use twat_cache::{mcache, CacheKind};
///
/// #[mcache]
/// fn id(x: u8) -> u8 { x }
///
/// assert_eq!(id_cache().kind(), CacheKind::Mcache);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CacheKind {
    /// `#[mcache]`: memory.
    Mcache,
    /// `#[bcache]`: sled database.
    Bcache,
    /// `#[fcache]`: one file per entry.
    Fcache,
    /// `#[ucache]`: memory in front of disk or Redis.
    Ucache,
}

impl CacheKind {
    /// Whether a memory tier holds entries (`#[mcache]`, `#[ucache]`).
    pub(crate) fn has_memory(self) -> bool {
        matches!(self, CacheKind::Mcache | CacheKind::Ucache)
    }
}

/// One registered cache, as [`registry`] reports it.
///
/// ```
/// use twat_cache::{mcache, registry, CacheInfo};
///
/// #[mcache(name = "lengths")]
/// fn length(s: &str) -> usize { s.len() }
///
/// length("abc");
/// let info: CacheInfo = registry().into_iter().find(|c| c.name == "lengths").unwrap();
/// assert_eq!((info.stats.misses, info.stats.len), (1, 1));
/// assert!(info.folder.is_none(), "memory caches have no folder");
/// ```
#[derive(Debug, Clone)]
pub struct CacheInfo {
    /// The cache's name (see [`CacheHandle::name`]).
    pub name: String,
    /// The attribute that made it.
    pub kind: CacheKind,
    /// Its folder on disk (`None` for memory caches).
    pub folder: Option<PathBuf>,
    /// Its counters at the time of the call.
    pub stats: CacheStats,
    /// The counters of each of its tiers (see [`CacheHandle::tiers`]).
    pub tiers: Vec<TierStats>,
}

static REGISTERED: Mutex<Vec<&'static CacheHandle>> = Mutex::new(Vec::new());

pub(crate) fn register(handle: &'static CacheHandle) {
    let mut all = REGISTERED.lock().unwrap_or_else(|e| e.into_inner());
    if !all.iter().any(|h| std::ptr::eq(*h, handle)) {
        all.push(handle);
    }
}

fn registered() -> Vec<&'static CacheHandle> {
    REGISTERED.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Every cache used (called at least once) in this process.
///
/// ```
/// use twat_cache::{mcache, registry};
///
/// #[mcache]
/// fn double(x: u32) -> u32 { x * 2 }
///
/// double(2);
/// let info = registry().into_iter().find(|c| c.name.ends_with("::double")).unwrap();
/// assert_eq!(info.kind, twat_cache::CacheKind::Mcache);
/// assert_eq!(info.stats.misses, 1);
/// ```
pub fn registry() -> Vec<CacheInfo> {
    registered()
        .into_iter()
        .map(|h| CacheInfo {
            name: h.name().to_string(),
            kind: h.kind(),
            folder: h.folder(),
            stats: h.stats(),
            tiers: h.tiers(),
        })
        .collect()
}

/// Empties every registered cache.
///
/// ```
/// use twat_cache::{mcache, clear_all};
///
/// #[mcache]
/// fn triple(x: u32) -> u32 { x * 3 }
///
/// triple(1);
/// clear_all();
/// assert_eq!(triple_cache().len(), 0);
/// ```
pub fn clear_all() {
    for handle in registered() {
        handle.clear();
    }
}
