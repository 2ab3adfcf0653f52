//! Engines built without an attribute, listed in the [registry](crate::registry) under a name
//! (see [`register`]).

use std::hash::Hash;
use std::path::PathBuf;
use std::sync::Mutex;

use serde::Serialize;
use serde::de::DeserializeOwned;
use twat_cache_engines::disk::{FileStore, SledStore};
use twat_cache_engines::{CacheStats, DiskCache, MemoryCache, Tiered};

use crate::registry::CacheKind;
use crate::{Tier, TierStats};

/// An engine the registry can list and clear: [`MemoryCache`], [`SledCache`](crate::SledCache),
/// [`FileCache`](crate::FileCache) and [`Tiered`] (memory in front of files).
pub trait RegisteredEngine: Send + Sync {
    /// Which attribute builds this kind of engine.
    fn kind(&self) -> CacheKind;
    /// Its folder on disk, if it has one.
    fn folder(&self) -> Option<PathBuf>;
    /// Its counters.
    fn stats(&self) -> CacheStats;
    /// Each tier's counters.
    fn tiers(&self) -> Vec<TierStats>;
    /// Removes every entry.
    fn clear(&self);
}

impl<K, V> RegisteredEngine for MemoryCache<K, V>
where
    K: Hash + Eq + Send + Sync,
    V: Clone + Send + Sync,
{
    fn kind(&self) -> CacheKind {
        CacheKind::Mcache
    }
    fn folder(&self) -> Option<PathBuf> {
        None
    }
    fn stats(&self) -> CacheStats {
        MemoryCache::stats(self)
    }
    fn tiers(&self) -> Vec<TierStats> {
        vec![TierStats {
            tier: Tier::Memory,
            stats: self.stats(),
        }]
    }
    fn clear(&self) {
        MemoryCache::clear(self);
    }
}

/// The attribute whose storage a disk backend is.
pub trait BackendKind {
    /// `Bcache` for sled, `Fcache` for files.
    const KIND: CacheKind;
}
impl BackendKind for SledStore {
    const KIND: CacheKind = CacheKind::Bcache;
}
impl BackendKind for FileStore {
    const KIND: CacheKind = CacheKind::Fcache;
}

impl<S, V> RegisteredEngine for DiskCache<S, V>
where
    S: twat_cache_engines::disk::Backend + BackendKind,
    V: Serialize + DeserializeOwned + Send + Sync + 'static,
{
    fn kind(&self) -> CacheKind {
        S::KIND
    }
    fn folder(&self) -> Option<PathBuf> {
        Some(DiskCache::folder(self).to_path_buf())
    }
    fn stats(&self) -> CacheStats {
        DiskCache::stats(self)
    }
    fn tiers(&self) -> Vec<TierStats> {
        vec![TierStats {
            tier: Tier::Disk,
            stats: self.stats(),
        }]
    }
    fn clear(&self) {
        DiskCache::clear(self);
    }
}

impl<K, V, S> RegisteredEngine for Tiered<MemoryCache<K, V>, DiskCache<S, V>>
where
    K: Hash + Eq + Send + Sync,
    V: Clone + Send + Sync + Serialize + DeserializeOwned + 'static,
    S: twat_cache_engines::disk::Backend,
{
    fn kind(&self) -> CacheKind {
        CacheKind::Ucache
    }
    fn folder(&self) -> Option<PathBuf> {
        Some(self.l2().folder().to_path_buf())
    }
    fn stats(&self) -> CacheStats {
        Tiered::stats(self)
    }
    fn tiers(&self) -> Vec<TierStats> {
        vec![
            TierStats {
                tier: Tier::Memory,
                stats: self.l1().stats(),
            },
            TierStats {
                tier: Tier::Disk,
                stats: self.l2().stats(),
            },
        ]
    }
    fn clear(&self) {
        Tiered::clear(self);
    }
}

static NAMED: Mutex<Vec<(String, &'static dyn RegisteredEngine)>> = Mutex::new(Vec::new());

/// Lists `engine` in [`registry`](crate::registry) under `name` (and empties it in
/// [`clear_all`](crate::clear_all)); registering the same engine again renames it. Engines
/// built with their builders are not affected by `TWAT_CACHE_DISABLE` (they cache as built).
///
/// ```
/// use std::sync::LazyLock;
/// use twat_cache::{MemoryCache, register, registry};
///
/// static SESSIONS: LazyLock<MemoryCache<u64, String>> =
///     LazyLock::new(|| MemoryCache::builder().maxsize(10_000).build());
///
/// register("sessions", &*SESSIONS);
/// SESSIONS.insert(1, "ada".into());
/// let info = registry().into_iter().find(|c| c.name == "sessions").unwrap();
/// assert_eq!(info.len(), 1);
/// ```
pub fn register(name: &str, engine: &'static dyn RegisteredEngine) {
    let mut named = NAMED.lock().unwrap_or_else(|e| e.into_inner());
    let address =
        |e: &&'static dyn RegisteredEngine| (*e as *const dyn RegisteredEngine).cast::<()>();
    named.retain(|(_, e)| address(e) != address(&engine));
    named.push((name.to_string(), engine));
}

/// The engines registered by name.
pub(crate) fn named() -> Vec<(String, &'static dyn RegisteredEngine)> {
    NAMED.lock().unwrap_or_else(|e| e.into_inner()).clone()
}
