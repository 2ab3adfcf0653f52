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
use twat_cache_engines::{MemoryCache, SledCache};

use crate::CacheHandle;
use crate::handle::{HandleSpec, display_name};
use crate::private::{CacheKey, CacheValue};

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
                let handle: &'static CacheHandle =
                    Box::leak(Box::new(CacheHandle::new(self.spec, name)));
                handles.push((identity, handle));
                handle
            }
        };
        drop(handles);
        self.handle.get_or_init(|| handle)
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
        if let Some(typed) = self.engine.get()
            && typed.type_id == TypeId::of::<MemoryCache<K, V>>()
        {
            let erased: *const (dyn Any + Send + Sync) = typed.engine;
            // SAFETY: `type_id` was recorded from this very engine's concrete type (in
            // `memory_slow`) and equals `MemoryCache<K, V>`'s, so the trait object's data
            // pointer points to a live, leaked (`'static`) `MemoryCache<K, V>`.
            return Some(unsafe { &*(erased as *const MemoryCache<K, V>) });
        }
        self.memory_slow(weigh)
    }

    /// The disk engine for this value type; `None` when caching is disabled.
    #[inline]
    pub(crate) fn disk<V>(&'static self) -> Option<&'static SledCache<V>>
    where
        V: Serialize + DeserializeOwned + 'static,
    {
        if let Some(typed) = self.engine.get()
            && typed.type_id == TypeId::of::<SledCache<V>>()
        {
            let erased: *const (dyn Any + Send + Sync) = typed.engine;
            // SAFETY: as in `memory`: the recorded type is `SledCache<V>`, a leaked engine.
            return Some(unsafe { &*(erased as *const SledCache<V>) });
        }
        let engine = self.handle().disk::<V>()?;
        let _ = self.engine.set(TypedEngine {
            type_id: TypeId::of::<SledCache<V>>(),
            engine,
        });
        Some(engine)
    }

    #[cold]
    fn memory_slow<K, V>(
        &'static self,
        weigh: Option<fn(&K, &V) -> u64>,
    ) -> Option<&'static MemoryCache<K, V>>
    where
        K: CacheKey,
        V: CacheValue,
    {
        let engine = self.handle().memory(weigh)?;
        // The first instantiation to get here is the one this site keeps; any other (a generic
        // function called with other types) goes through the handle each time.
        let _ = self.engine.set(TypedEngine {
            type_id: TypeId::of::<MemoryCache<K, V>>(),
            engine,
        });
        Some(engine)
    }
}
