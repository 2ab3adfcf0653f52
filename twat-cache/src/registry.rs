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
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "lowercase")
)]
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
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
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

/// Accessors spelled like [`CacheHandle`]'s, so code can move between the two.
impl CacheInfo {
    /// See [`CacheHandle::name`].
    pub fn name(&self) -> &str {
        &self.name
    }
    /// See [`CacheHandle::kind`].
    pub fn kind(&self) -> CacheKind {
        self.kind
    }
    /// See [`CacheHandle::folder`].
    pub fn folder(&self) -> Option<&std::path::Path> {
        self.folder.as_deref()
    }
    /// See [`CacheHandle::stats`].
    pub fn stats(&self) -> CacheStats {
        self.stats
    }
    /// See [`CacheHandle::len`].
    pub fn len(&self) -> usize {
        self.stats.len as usize
    }
    /// See [`CacheHandle::is_empty`].
    pub fn is_empty(&self) -> bool {
        self.stats.len == 0
    }
    /// See [`CacheHandle::tiers`].
    pub fn tiers(&self) -> &[TierStats] {
        &self.tiers
    }
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

/// The handle of the cache named `name` ([`CacheHandle::name`]: `name = "…"`, or
/// `module::function`, `module::Type::method`), if such a cached function exists in this
/// program — also before its first call. For code that cannot name the generated `foo_cache()`
/// (a method of a trait impl, cached with `companions = false`).
///
/// ```
/// use twat_cache::{handle, mcache};
///
/// #[mcache(name = "squares")]
/// fn square(x: u64) -> u64 { x * x }
///
/// let cache = handle("squares").expect("declared");
/// assert_eq!(cache.len(), 0);
/// square(3);
/// assert_eq!(cache.len(), 1);
/// assert!(handle("no such cache").is_none());
/// ```
pub fn handle(name: &str) -> Option<&'static CacheHandle> {
    crate::site::all_handles()
        .into_iter()
        .find(|h| h.name() == name)
}

/// Every cached function of this program (once declared, also before its first call; under
/// `TWAT_CACHE_DISABLE` only those built), with counters of what is in use — listing never
/// opens a disk cache's storage — then every engine given a name with [`register`](crate::register).
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
    let mut handles = crate::site::all_handles();
    for used in registered() {
        if !handles.iter().any(|h| std::ptr::eq(*h, used)) {
            handles.push(used);
        }
    }
    let functions = handles.into_iter().map(|h| {
        let (stats, tiers) = h.snapshot();
        CacheInfo {
            name: h.name().to_string(),
            kind: h.kind(),
            folder: h.folder(),
            stats,
            tiers,
        }
    });
    let engines = crate::named::named()
        .into_iter()
        .map(|(name, engine)| CacheInfo {
            name,
            kind: engine.kind(),
            folder: engine.folder(),
            stats: engine.stats(),
            tiers: engine.tiers(),
        });
    functions.chain(engines).collect()
}

/// Empties every cache used in this process (a disk cache not used yet keeps its entries:
/// clear it through its handle, which opens its storage).
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
    for (_, engine) in crate::named::named() {
        engine.clear();
    }
}
