//! [`Site`]: the `static` each generated function holds, and how it finds its cache.
//!
//! An attribute cannot see whether it sits in an `impl` block, so the wrapper and its companions
//! cannot call each other by name (`foo_cache()` or `Self::foo_cache()`?). Instead each holds a
//! `Site` with a nested marker fn; the marker's `type_name` (`crate::module::Type::method::
//! __twat_marker`, or `…::method_cache::__twat_marker` in a companion) identifies the function,
//! including its `impl` type, and `location` (file, line and column of the function's name)
//! tells apart functions that print alike. All sites of one function resolve to one
//! [`CacheHandle`]. After the first call a site also keeps the typed engine, so a hit goes from
//! the site straight to the engine.

use std::any::{Any, TypeId};
use std::sync::{Mutex, OnceLock};

use serde::Serialize;
use serde::de::DeserializeOwned;
use twat_cache_engines::{DiskCache, MemoryCache};

use crate::CacheHandle;
use crate::handle::display_name;
use crate::private::{CacheKey, CacheValue, DiskValue, TieredEngine};
use crate::spec::HandleSpec;
use twat_cache_engines::disk::paths::FunctionStore;

/// One generated function's view of its cache (see the module docs).
#[doc(hidden)]
pub struct Site {
    spec: HandleSpec,
    companion_suffix: &'static str,
    location: &'static str,
    marker: fn() -> &'static str,
    handle: OnceLock<&'static CacheHandle>,
    engine: OnceLock<TypedEngine>,
}

/// An engine with its concrete type recorded, reached by one `TypeId` comparison.
struct TypedEngine {
    type_id: TypeId,
    engine: &'static (dyn Any + Send + Sync),
}

/// Every handle by function identity, so the wrapper and its companions share one.
static HANDLES: Mutex<Vec<(String, &'static CacheHandle)>> = Mutex::new(Vec::new());

/// A cached function's wrapper site, submitted at link time (`inventory`) so that the registry
/// knows every cached function before its first call.
#[doc(hidden)]
pub struct DeclaredSite(pub &'static Site);

inventory::collect!(DeclaredSite);

/// Every handle: one for each declared cached function, and any other resolved by a call
/// (none while caching is disabled). Resolving builds no engine and opens no storage.
pub(crate) fn all_handles() -> Vec<&'static CacheHandle> {
    if crate::caching_disabled() {
        return Vec::new();
    }
    for declared in inventory::iter::<DeclaredSite> {
        declared.0.handle();
    }
    let handles = HANDLES.lock().unwrap_or_else(|e| e.into_inner());
    handles.iter().map(|(_, handle)| *handle).collect()
}

impl Site {
    /// A site; generated code builds one in a `static`.
    pub const fn new(
        spec: HandleSpec,
        companion_suffix: &'static str,
        location: &'static str,
        marker: fn() -> &'static str,
    ) -> Self {
        Self {
            spec,
            companion_suffix,
            location,
            marker,
            handle: OnceLock::new(),
            engine: OnceLock::new(),
        }
    }

    /// The function's handle, shared by all its sites.
    #[inline]
    pub fn handle(&'static self) -> &'static CacheHandle {
        match self.handle.get() {
            Some(handle) => handle,
            None => self.resolve(),
        }
    }

    #[cold]
    fn resolve(&'static self) -> &'static CacheHandle {
        // In an `async fn` the marker sits inside the body's coroutine: drop `::{{closure}}`.
        let marker_path = (self.marker)().replace("::{{closure}}", "");
        let item = marker_path
            .strip_suffix("::__twat_marker")
            .unwrap_or(&marker_path);
        let item = item.strip_suffix(self.companion_suffix).unwrap_or(item);
        let identity = format!("{item}@{}", self.location);
        let mut handles = HANDLES.lock().unwrap_or_else(|e| e.into_inner());
        let handle = match handles.iter().find(|(id, _)| *id == identity) {
            Some((_, handle)) => *handle,
            None => {
                let name = display_name(&self.spec, item);
                let handle = CacheHandle::leak(self.spec, name);
                handles.push((identity, handle));
                handle
            }
        };
        drop(handles);
        self.handle.get_or_init(|| handle)
    }

    /// The engine this site keeps, if it is an `E`: one `TypeId` comparison, no virtual call.
    #[inline(always)]
    fn kept<E: Any + Send + Sync>(&self) -> Option<&'static E> {
        let typed = self.engine.get()?;
        if typed.type_id != TypeId::of::<E>() {
            return None;
        }
        let erased: *const (dyn Any + Send + Sync) = typed.engine;
        // SAFETY: `type_id` was recorded from this very engine's concrete type (in `keep`) and
        // equals `E`'s, so the trait object's data pointer points to a live, leaked (`'static`)
        // `E`.
        Some(unsafe { &*(erased as *const E) })
    }

    /// The kept engine if it is an `E`, else the one `open` gets from the handle (kept if it is
    /// the first).
    #[inline(always)]
    fn kept_or<E: Any + Send + Sync>(
        &'static self,
        open: impl FnOnce(&'static CacheHandle) -> Option<&'static E>,
    ) -> Option<&'static E> {
        match self.kept() {
            Some(engine) => Some(engine),
            None => open(self.handle()).map(|e| self.keep(e)),
        }
    }

    /// Remembers the engine of the first instantiation to get here; any other (a generic
    /// function called with other types) goes through the handle each time.
    #[cold]
    fn keep<E: Any + Send + Sync>(&self, engine: &'static E) -> &'static E {
        let _ = self.engine.set(TypedEngine {
            type_id: TypeId::of::<E>(),
            engine,
        });
        engine
    }

    /// The memory engine for this key/value instantiation; `None` when caching is disabled.
    #[inline]
    pub(crate) fn memory<K, V>(
        &'static self,
        weigh: Option<fn(&K, &V) -> u64>,
    ) -> Option<&'static MemoryCache<K, V>>
    where
        K: CacheKey,
        V: CacheValue,
    {
        self.kept_or(|handle| handle.memory(weigh))
    }

    /// The `#[ucache]` engine for this key/value instantiation; `None` when caching is disabled.
    #[inline]
    pub(crate) fn tiered<S, K, V>(
        &'static self,
        weigh: Option<fn(&K, &V) -> u64>,
    ) -> Option<&'static TieredEngine<K, V, S>>
    where
        S: FunctionStore,
        K: CacheKey,
        V: CacheValue + DiskValue,
    {
        self.kept_or(|handle| handle.tiered(weigh))
    }

    /// The disk engine for this value type on backend `S`; `None` when caching is disabled.
    #[inline]
    pub(crate) fn disk<S, V>(&'static self) -> Option<&'static DiskCache<S, V>>
    where
        S: FunctionStore,
        V: Serialize + DeserializeOwned + 'static,
    {
        self.kept_or(|handle| handle.disk::<S, V>())
    }
}
