//! [`CacheHandle`]: the cache behind one cached function.
//!
//! Each cached function has one handle, found by the `static Site`s of its generated items (see
//! `site.rs`) and holding the compile-time options. Its engine is built on first use (so key and
//! value types are inferred at the call site rather than spelled by the macro) and registered in
//! the [registry](crate::registry); each site then keeps the typed engine for its hot path.
//!
//! A disk cache's storage does not depend on the value type, so the handle opens it (a
//! [`DiskCore`]) on its own first use — a call, or `len`/`clear`/`stats` before any call — and
//! typed engines are views of that one core.

use std::any::Any;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use twat_cache_engines::disk::paths::{self, FunctionStore};
use twat_cache_engines::disk::{Backend, DiskCore};
use twat_cache_engines::{CacheStats, DiskCache, MemoryCache, Tiered};

use crate::private::{
    Bcache, CacheKey, CacheValue, DiskAttribute, DiskValue, Fcache, TieredEngine, Ucache,
};
use crate::registry::{self, CacheKind};
use crate::spec::HandleSpec;
use crate::{Tier, TierStats};

/// Type-erased operations every engine offers to the registry and to [`CacheHandle`].
trait Engine: Send + Sync {
    fn as_any(&self) -> &(dyn Any + Send + Sync);
    fn len(&self) -> usize;
    fn clear(&self);
    fn stats(&self) -> CacheStats;
    /// A tiered engine's memory tier counters (its disk core is counted on its own).
    fn tier_parts(&self) -> Option<CacheStats> {
        None
    }
}

/// A `#[ucache]` instantiation: it owns its memory tier; its disk tier is a view of the
/// function's disk core, which the handle counts, lists and clears once.
impl<K, V, S> Engine for TieredEngine<K, V, S>
where
    S: FunctionStore,
    K: CacheKey,
    V: CacheValue + DiskValue,
{
    fn as_any(&self) -> &(dyn Any + Send + Sync) {
        self
    }
    fn len(&self) -> usize {
        0 // every entry is written through to the disk core, which counts it
    }
    fn clear(&self) {
        self.l1().clear();
    }
    /// What the memory tier adds to the whole cache's counters: its hits and errors (its
    /// misses are lookups of the disk tier, whose hits and misses the disk core counts).
    fn stats(&self) -> CacheStats {
        let memory = self.l1().stats();
        CacheStats {
            hits: memory.hits,
            errors: memory.errors,
            ..CacheStats::default()
        }
    }
    fn tier_parts(&self) -> Option<CacheStats> {
        Some(self.l1().stats())
    }
}

impl<K, V> Engine for MemoryCache<K, V>
where
    K: CacheKey,
    V: CacheValue,
{
    fn as_any(&self) -> &(dyn Any + Send + Sync) {
        self
    }
    fn len(&self) -> usize {
        MemoryCache::len(self)
    }
    fn clear(&self) {
        MemoryCache::clear(self)
    }
    fn stats(&self) -> CacheStats {
        MemoryCache::stats(self)
    }
}

impl<S: Backend> Engine for Arc<DiskCore<S>> {
    fn as_any(&self) -> &(dyn Any + Send + Sync) {
        self
    }
    fn len(&self) -> usize {
        DiskCore::len(self)
    }
    fn clear(&self) {
        DiskCore::clear(self)
    }
    fn stats(&self) -> CacheStats {
        DiskCore::stats(self)
    }
}

/// A typed view of a disk core: found by the sites, never counted (its core is).
impl<S, V> Engine for DiskCache<S, V>
where
    S: Backend,
    V: Serialize + DeserializeOwned + 'static,
{
    fn as_any(&self) -> &(dyn Any + Send + Sync) {
        self
    }
    fn len(&self) -> usize {
        0
    }
    fn clear(&self) {}
    fn stats(&self) -> CacheStats {
        CacheStats::default()
    }
}

/// Whether reading a handle's counters may open its disk storage.
#[derive(Clone, Copy)]
enum Open {
    IfNeeded,
    No,
}

/// The cache behind one cached function: its name, size, stats, and a way to empty it.
///
/// Reached through the generated `foo_cache()` companion.
///
/// ```
/// use twat_cache::mcache;
///
/// #[mcache(maxsize = 100)]
/// fn square(x: u64) -> u64 { x * x }
///
/// square(3);
/// square(3);
/// let cache = square_cache();
/// assert!(cache.name().ends_with("::square"));
/// assert_eq!(cache.len(), 1);
/// assert_eq!((cache.stats().hits, cache.stats().misses), (1, 1));
/// cache.clear();
/// assert_eq!(cache.len(), 0);
///
/// // Every method takes `&self`: a handle can be passed by plain reference.
/// fn report(h: &twat_cache::CacheHandle) -> (usize, u64) {
///     (h.len(), h.stats().hits)
/// }
/// assert_eq!(report(cache), (0, 1));
/// ```
pub struct CacheHandle {
    spec: HandleSpec,
    name: String,
    /// The engine of the first (usually only) key/value instantiation.
    primary: OnceLock<&'static dyn Engine>,
    /// Engines of further instantiations of a generic function.
    others: RwLock<Vec<&'static dyn Engine>>,
    /// Disk caches: the storage all instantiations share (`None` inside: caching disabled).
    disk: OnceLock<Option<&'static dyn Engine>>,
    /// This handle as `'static`: the registry and the engines keep `'static` references to
    /// it, while the public methods take `&self` (so `fn report(h: &CacheHandle)` compiles).
    /// Set once by [`CacheHandle::leak`], the only way a handle is made.
    this: OnceLock<&'static CacheHandle>,
}

impl CacheHandle {
    /// A new handle, leaked: handles live as long as the process (the registry lists them).
    pub(crate) fn leak(spec: HandleSpec, name: String) -> &'static Self {
        let handle: &'static Self = Box::leak(Box::new(Self {
            spec,
            name,
            primary: OnceLock::new(),
            others: RwLock::new(Vec::new()),
            disk: OnceLock::new(),
            this: OnceLock::new(),
        }));
        handle.this.get_or_init(|| handle);
        handle
    }

    /// `self` as `'static` (every handle is made by [`CacheHandle::leak`]).
    fn this(&self) -> &'static Self {
        self.this
            .get()
            .copied()
            .expect("every CacheHandle is made by CacheHandle::leak")
    }

    /// The registry name: `name = "…"` if given, else `module::function` (for methods,
    /// `module::Type::method`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Which attribute made this cache.
    pub fn kind(&self) -> CacheKind {
        self.spec.kind
    }

    /// Entries currently held.
    pub fn len(&self) -> usize {
        self.this()
            .engines(Open::IfNeeded)
            .iter()
            .map(|e| e.len())
            .sum()
    }

    /// Whether the cache holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every entry; counters are kept.
    pub fn clear(&self) {
        for engine in self.this().engines(Open::IfNeeded) {
            engine.clear();
        }
    }

    /// Counters and size, summed over the engines of this function.
    pub fn stats(&self) -> CacheStats {
        self.this().stats_of(Open::IfNeeded)
    }

    fn stats_of(&'static self, open: Open) -> CacheStats {
        self.engines(open)
            .iter()
            .fold(CacheStats::default(), |acc, e| acc.merge(e.stats()))
    }

    /// Counters and tiers of what is in use, without opening a disk cache's storage (a sled
    /// database would take its lock): for [`registry`](crate::registry).
    pub(crate) fn snapshot(&'static self) -> (CacheStats, Vec<TierStats>) {
        (self.stats_of(Open::No), self.tiers_of(Open::No))
    }

    /// Each tier's counters: memory for `#[mcache]`, disk for `#[bcache]`/`#[fcache]`, memory
    /// then disk for `#[ucache]` (see [`TierStats`]).
    pub fn tiers(&self) -> Vec<TierStats> {
        self.this().tiers_of(Open::IfNeeded)
    }

    fn tiers_of(&'static self, open: Open) -> Vec<TierStats> {
        match self.spec.kind {
            CacheKind::Mcache => vec![TierStats {
                tier: Tier::Memory,
                stats: self.stats_of(open),
            }],
            CacheKind::Bcache | CacheKind::Fcache => vec![TierStats {
                tier: Tier::Disk,
                stats: self.stats_of(open),
            }],
            CacheKind::Ucache => {
                let engines = self.engines(open);
                let memory = engines
                    .iter()
                    .filter_map(|e| e.tier_parts())
                    .fold(CacheStats::default(), |m, l1| m.merge(l1));
                let disk = self
                    .disk_engine(open)
                    .map(|e| e.stats())
                    .unwrap_or_default();
                vec![
                    TierStats {
                        tier: Tier::Memory,
                        stats: memory,
                    },
                    TierStats {
                        tier: Tier::Disk,
                        stats: disk,
                    },
                ]
            }
        }
    }

    /// One tier's counters (see [`CacheHandle::tiers`]); `None` if the cache has no such tier.
    pub fn tier(&self, tier: Tier) -> Option<CacheStats> {
        self.tiers()
            .into_iter()
            .find(|t| t.tier == tier)
            .map(|t| t.stats)
    }

    /// The entry lifetime, if any.
    pub fn ttl(&self) -> Option<Duration> {
        self.spec.ttl()
    }

    /// Everything to count and clear: the disk core (disk attributes; first, so a clear
    /// empties the shared tier before the memory copies), then the engines of each
    /// instantiation (memory attributes; for `#[ucache]` their memory tiers).
    fn engines(&'static self, open: Open) -> Vec<&'static dyn Engine> {
        let mut all: Vec<&dyn Engine> = self.disk_engine(open).into_iter().collect();
        if self.spec.kind.has_memory() {
            all.extend(self.primary.get().copied());
            all.extend(self.others.read().unwrap_or_else(|e| e.into_inner()).iter());
        }
        all
    }

    /// The engine of type `E` (one per key/value instantiation), built by `build` on first use
    /// and registered; `None` when caching is disabled. Not the hot path: each
    /// [`Site`](crate::site::Site) keeps the engine it got from here.
    fn engine<E: Engine + 'static>(&'static self, build: impl Fn() -> E) -> Option<&'static E> {
        if crate::caching_disabled() {
            return None;
        }
        let mut created = false;
        let primary = self.primary.get_or_init(|| {
            created = true;
            let engine: &'static E = Box::leak(Box::new(build()));
            engine
        });
        if created {
            registry::register(self);
        }
        if let Some(typed) = primary.as_any().downcast_ref::<E>() {
            return Some(typed);
        }
        // Another instantiation of a generic function: find or add its engine.
        let find = |all: &[&'static dyn Engine]| -> Option<&'static E> {
            all.iter().find_map(|e| e.as_any().downcast_ref::<E>())
        };
        if let Some(typed) = find(&self.others.read().unwrap_or_else(|e| e.into_inner())) {
            return Some(typed);
        }
        let mut others = self.others.write().unwrap_or_else(|e| e.into_inner());
        if let Some(typed) = find(&others) {
            return Some(typed);
        }
        let engine: &'static E = Box::leak(Box::new(build()));
        others.push(engine);
        Some(engine)
    }

    /// The memory engine for this key/value instantiation.
    pub(crate) fn memory<K, V>(
        &'static self,
        weigh: Option<fn(&K, &V) -> u64>,
    ) -> Option<&'static MemoryCache<K, V>>
    where
        K: CacheKey,
        V: CacheValue,
    {
        self.engine(|| self.build_memory(weigh))
    }

    /// The `#[ucache]` engine for this key/value instantiation: a memory tier of its own in
    /// front of a view of the function's disk core.
    pub(crate) fn tiered<S, K, V>(
        &'static self,
        weigh: Option<fn(&K, &V) -> u64>,
    ) -> Option<&'static TieredEngine<K, V, S>>
    where
        S: FunctionStore,
        K: CacheKey,
        V: CacheValue + DiskValue,
    {
        let core = self.disk_core::<S>()?;
        self.engine(|| Tiered::new(self.build_memory(weigh), DiskCache::from_core(core.clone())))
    }

    /// The folder of a disk cache: `<cache root>/<folder>`.
    pub fn folder(&self) -> Option<PathBuf> {
        match self.spec.kind {
            CacheKind::Mcache => None,
            _ => Some(paths::folder(&crate::cache_root(), self.spec.folder)),
        }
    }

    /// The disk engine for this value type on backend `S`, a view of the function's storage
    /// (nothing is written under the cache root while caching is disabled).
    pub(crate) fn disk<S, V>(&'static self) -> Option<&'static DiskCache<S, V>>
    where
        S: FunctionStore,
        V: Serialize + DeserializeOwned + 'static,
    {
        let core = self.disk_core::<S>()?;
        self.engine(|| DiskCache::from_core(core.clone()))
    }

    /// The function's disk storage on backend `S`, opened on first use.
    fn disk_core<S: FunctionStore>(&'static self) -> Option<&'static Arc<DiskCore<S>>> {
        let engine = self.disk.get_or_init(|| {
            if crate::caching_disabled() {
                return None;
            }
            let core: &'static Arc<DiskCore<S>> = Box::leak(Box::new(self.build_disk_core()));
            registry::register(self);
            Some(core as &'static dyn Engine)
        });
        engine.and_then(|e| e.as_any().downcast_ref())
    }

    /// The disk storage of a disk attribute: opened if it is not yet, or only if it is.
    fn disk_engine(&'static self, open: Open) -> Option<&'static dyn Engine> {
        match open {
            Open::IfNeeded => self.open_disk(),
            Open::No => self.disk.get().copied().flatten(),
        }
    }

    /// The disk storage of a disk attribute, opened if it is not yet.
    fn open_disk(&'static self) -> Option<&'static dyn Engine> {
        match self.spec.kind {
            CacheKind::Bcache => self
                .disk_core::<<Bcache as DiskAttribute>::Store>()
                .map(|e| e as &dyn Engine),
            CacheKind::Fcache => self
                .disk_core::<<Fcache as DiskAttribute>::Store>()
                .map(|e| e as &dyn Engine),
            #[cfg(feature = "redis")]
            CacheKind::Ucache if self.spec.redis_tier() => self
                .disk_core::<<crate::private::UcacheRedis as DiskAttribute>::Store>()
                .map(|e| e as &dyn Engine),
            CacheKind::Ucache => self
                .disk_core::<<Ucache as DiskAttribute>::Store>()
                .map(|e| e as &dyn Engine),
            CacheKind::Mcache => None,
        }
    }

    fn build_disk_core<S: FunctionStore>(&self) -> Arc<DiskCore<S>> {
        let spec = &self.spec;
        let root = crate::cache_root();
        let folder = self.folder().unwrap_or_else(|| root.clone());
        let location = S::location_for(folder.clone(), &self.name, spec.namespace);
        let mut builder = DiskCache::<S, ()>::builder_at(location)
            .trusted_root(root)
            .namespace(spec.namespace);
        if let Some(files) = S::local_fallback(folder, &self.name, spec.namespace) {
            builder = builder.fallback_files(files);
        }
        spec.configure(Tier::Disk, builder).build_core()
    }

    fn build_memory<K, V>(&self, weigh: Option<fn(&K, &V) -> u64>) -> MemoryCache<K, V>
    where
        K: CacheKey,
        V: CacheValue,
    {
        let mut builder = self.spec.configure(Tier::Memory, MemoryCache::builder());
        if let Some(weigh) = weigh {
            builder = builder.weigher(weigh);
        }
        builder.build()
    }
}

impl std::fmt::Debug for CacheHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheHandle")
            .field("name", &self.name())
            .field("kind", &self.spec.kind)
            .finish_non_exhaustive()
    }
}

/// `name = "…"`, or `module::function`, or `module::Type::method` when the item path has an
/// `impl` type (an UpperCamelCase or `<…>` segment) between the module and the function.
pub(crate) fn display_name(spec: &HandleSpec, item_path: &str) -> String {
    if let Some(name) = spec.name {
        return name.to_string();
    }
    let inner = item_path
        .strip_prefix(spec.module)
        .and_then(|rest| rest.strip_prefix("::"))
        .and_then(|rest| rest.strip_suffix(spec.function))
        .and_then(|rest| rest.strip_suffix("::"))
        .unwrap_or("");
    let owner = inner.rsplit("::").next().unwrap_or("");
    let owner = strip_generics(owner);
    let is_type = owner.starts_with(|c: char| c.is_uppercase() || c == '<');
    if is_type {
        format!("{}::{}::{}", spec.module, owner, spec.function)
    } else {
        format!("{}::{}", spec.module, spec.function)
    }
}

/// `Circle<f64>` → `Circle`.
fn strip_generics(segment: &str) -> &str {
    match segment.find('<') {
        Some(0) | None => segment,
        Some(i) => &segment[..i],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(module: &'static str, function: &'static str) -> HandleSpec {
        HandleSpec {
            kind: CacheKind::Mcache,
            module,
            function,
            name: None,
            folder: "",
            namespace: "",
            options: &[],
        }
    }

    #[test]
    fn names_follow_module_and_type() {
        let s = spec("app::geo", "area");
        assert_eq!(display_name(&s, "app::geo::area"), "app::geo::area");
        assert_eq!(
            display_name(&s, "app::geo::Circle::area"),
            "app::geo::Circle::area"
        );
        assert_eq!(
            display_name(&s, "app::geo::Circle<f64>::area"),
            "app::geo::Circle::area"
        );
        assert_eq!(display_name(&s, "app::geo::tests::area"), "app::geo::area");
    }
}
