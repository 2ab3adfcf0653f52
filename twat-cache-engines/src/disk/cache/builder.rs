//! [`DiskCacheBuilder`]: options, and opening the store (or falling back to memory).

use std::marker::PhantomData;
use std::sync::OnceLock;
use std::sync::atomic::AtomicBool;

use super::{DiskCache, DiskCounters};
use crate::clock::duration_nanos;
use crate::disk::backend::Backend;
use crate::flight::FlightTable;
use crate::options::{CommonOptions, common_setters};

impl<S: Backend, V> DiskCache<S, V> {
    /// Starts a builder for the store at `location`.
    pub fn builder_at(location: S::Location) -> DiskCacheBuilder<S, V> {
        DiskCacheBuilder {
            location,
            namespace: String::new(),
            compress: false,
            common: CommonOptions::default(),
            _value: PhantomData,
        }
    }
}

/// Builds a [`DiskCache`] ([`SledCache`](crate::SledCache), [`FileCache`](crate::FileCache)).
///
/// ```
/// use std::time::Duration;
/// use twat_cache_engines::{FileCache, Policy};
///
/// let dir = tempfile::tempdir().unwrap();
/// let cache: FileCache<String> = FileCache::builder(dir.path())
///     .namespace("v2")
///     .maxsize(1000)
///     .max_bytes(10 << 20)
///     .ttl(Duration::from_secs(3600))
///     .refresh(true)
///     .policy(Policy::Lru)
///     .compress(true)
///     .durable(false)
///     .build();
/// assert!(cache.is_empty());
/// ```
pub struct DiskCacheBuilder<S: Backend, V> {
    location: S::Location,
    namespace: String,
    compress: bool,
    common: CommonOptions,
    _value: PhantomData<fn() -> V>,
}

impl<S: Backend, V> DiskCacheBuilder<S, V> {
    common_setters!();

    /// Entries of other namespaces are invisible to this cache (a `version`, or a fingerprint
    /// of the function that produced them).
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }
    /// zstd-compress stored values (level 1; kept raw when that saves under 10%).
    pub fn compress(mut self, compress: bool) -> Self {
        self.compress = compress;
        self
    }

    /// Opens the store (or falls back to memory) and builds the cache.
    pub fn build(self) -> DiskCache<S, V> {
        let CommonOptions {
            maxsize,
            max_bytes,
            ttl,
            refresh,
            policy,
            clock,
            single_flight,
        } = self.common;
        let namespace_tag = tag(self.namespace.as_bytes());
        let mut cache = DiskCache {
            folder: S::folder(&self.location).to_path_buf(),
            store: None,
            fallback: OnceLock::new(),
            id_key: blake3::derive_key("twat-cache 2026 entry id", self.namespace.as_bytes()),
            namespace_tag,
            value_type: tag(std::any::type_name::<V>().as_bytes()),
            ttl: ttl.map_or(0, |d| duration_nanos(d).max(1)),
            refresh,
            maxsize: maxsize.map_or(u64::MAX, |n| n as u64),
            max_bytes: max_bytes.unwrap_or(u64::MAX),
            policy,
            compress: self.compress,
            clock,
            single_flight,
            flights: FlightTable::default(),
            access: dashmap::DashMap::new(),
            counters: DiskCounters::default(),
            warned: AtomicBool::new(false),
            _value: PhantomData,
        };
        match S::open(&self.location) {
            Ok(store) => {
                cache.store = Some(store);
                if S::PRUNES {
                    // Shared stores are pruned on open: counts what is there (reading headers
                    // only) and removes what killed writers and expiry left behind.
                    cache.prune();
                } else if let Err(why) = cache.scan() {
                    cache.fault("scanning the cache storage", &why);
                    cache.store = None;
                }
            }
            Err(why) => cache.fault("opening the cache storage", &why),
        }
        cache
    }
}

impl<V> DiskCacheBuilder<crate::disk::FileStore, V> {
    /// Fsync each entry and its directory before it is published (default `false`: a crash of
    /// the process loses nothing, a power loss may lose recent entries, never corrupt one).
    pub fn durable(mut self, durable: bool) -> Self {
        self.location.durable = durable;
        self
    }

    /// Report `folder` to the registry while keeping entries in the builder's directory.
    pub fn folder(mut self, folder: impl Into<std::path::PathBuf>) -> Self {
        self.location.folder = folder.into();
        self
    }
}

/// A stable 64-bit tag of some bytes.
pub(super) fn tag(bytes: &[u8]) -> u64 {
    u64::from_le_bytes(
        blake3::hash(bytes).as_bytes()[..8]
            .try_into()
            .expect("8 bytes"),
    )
}
