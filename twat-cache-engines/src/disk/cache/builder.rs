//! [`DiskCacheBuilder`]: options, and opening the store (or falling back to memory).

use std::marker::PhantomData;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, OnceLock};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::core::{DiskCounters, FilesOpener};
use super::{DiskCache, DiskCore};
use crate::clock::duration_nanos;
use crate::disk::backend::Backend;
use crate::disk::private_dir;
use crate::disk::value_layout::tag;
use crate::disk::{FileLocation, FileStore};
use crate::early::EarlyRefresh;
use crate::flight::FlightTable;
use crate::options::{CommonOptions, HasCommonOptions, common_setters, entry_bound};

impl<S: Backend, V> DiskCache<S, V> {
    /// Starts a builder for the store at `location`.
    pub fn builder_at(location: S::Location) -> DiskCacheBuilder<S, V> {
        DiskCacheBuilder {
            location,
            namespace: String::new(),
            compress: false,
            trusted_root: None,
            fallback_files: None,
            common: CommonOptions::default(),
            _value: PhantomData,
        }
    }
}

/// Builds a [`DiskCache`] ([`SledCache`](crate::SledCache), [`FileCache`](crate::FileCache)).
///
/// ```
/// use std::time::Duration;
/// use twat_cache::{FileCache, Policy};
///
/// let dir = tempfile::tempdir().unwrap();
/// let cache: FileCache<String> = FileCache::builder(dir.path().join("thumbs"))
///     .trusted_root(dir.path())
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
    trusted_root: Option<PathBuf>,
    fallback_files: Option<FileLocation>,
    common: CommonOptions,
    _value: PhantomData<fn() -> V>,
}

impl<S: Backend, V> HasCommonOptions for DiskCacheBuilder<S, V> {
    fn common_options(&mut self) -> &mut CommonOptions {
        &mut self.common
    }
    fn compress_option(&mut self) -> Option<&mut bool> {
        Some(&mut self.compress)
    }
}

impl<S: Backend, V> DiskCacheBuilder<S, V> {
    common_setters!();

    /// Entries of other namespaces are invisible to this cache (a `version`, or a fingerprint
    /// of the function that produced them).
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// zstd-compress stored values (level 1; kept raw when that saves under 10%). With
    /// `max_bytes`, a value whose uncompressed size exceeds it is not stored either, so reading
    /// an entry never takes more memory than the bound (a damaged or hostile entry that
    /// declares more is refused before it is decompressed).
    pub fn compress(mut self, compress: bool) -> Self {
        self.compress = compress;
        self
    }

    /// Most bytes of one stored entry (default
    /// [`DEFAULT_MAX_ENTRY_BYTES`](crate::DEFAULT_MAX_ENTRY_BYTES), 256 MiB, or `max_bytes`
    /// when that is given; never above `max_bytes`): reading an entry never reads or
    /// decompresses more, a larger entry is a miss (and removed), and a value whose entry
    /// would be larger is not stored.
    ///
    /// ```
    /// use twat_cache::FileCache;
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let cache: FileCache<Vec<u8>> = FileCache::builder(dir.path())
    ///     .max_entry_bytes(1 << 30) // 1 GiB values are cached (and may be read back whole)
    ///     .build();
    /// cache.insert("small", &vec![1u8; 10]);
    /// assert!(cache.get("small").is_some());
    /// ```
    pub fn max_entry_bytes(mut self, bytes: u64) -> Self {
        self.common.max_entry_bytes = Some(bytes);
        self
    }

    /// An ancestor of the folder (the cache root) that must pass the directory rule too, with
    /// every directory between it and the folder; created 0700 if missing. Without it only the
    /// folder and what is below are checked.
    pub fn trusted_root(mut self, root: impl Into<PathBuf>) -> Self {
        self.trusted_root = Some(root.into());
        self
    }

    /// While the storage is away, keep entries in a local file cache at `location` (same
    /// namespace, bounds, TTL and trusted root) rather than in memory; if the files cannot be
    /// used either, in memory. For a storage on another machine (Redis): the local cache is
    /// emptied when it is first used and again when the storage returns, since other machines
    /// may change the storage's entries meanwhile.
    ///
    /// ```
    /// use twat_cache::FileCache;
    /// use twat_cache::disk::FileLocation;
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let cache: FileCache<u32> = FileCache::builder(dir.path().join("main"))
    ///     .fallback_files(FileLocation::new(dir.path().join("local")))
    ///     .build();
    /// cache.insert("a", &1);
    /// assert_eq!(cache.get("a"), Some(1));
    /// ```
    pub fn fallback_files(mut self, location: FileLocation) -> Self {
        self.fallback_files = Some(location);
        self
    }

    /// Where the store will be opened (for backend-specific settings).
    #[cfg(feature = "redis")]
    pub(crate) fn location_mut(&mut self) -> &mut S::Location {
        &mut self.location
    }

    /// Opens the store (or falls back to memory) and builds the untyped core, to share between
    /// typed views ([`DiskCache::from_core`]).
    pub fn build_core(mut self) -> Arc<DiskCore<S>> {
        let fallback_files = self.fallback_files.take().map(|location| {
            let dir = location.entries.clone();
            let mut files = DiskCache::<FileStore, ()>::builder_at(location)
                .namespace(self.namespace.clone())
                .compress(self.compress);
            files.common = self.common.clone();
            files.trusted_root = self.trusted_root.clone();
            FilesOpener {
                dir,
                open: Box::new(move || files.build_core()),
            }
        });
        let CommonOptions {
            maxsize,
            max_bytes,
            ttl,
            refresh,
            policy,
            clock,
            single_flight,
            early_refresh,
            early_refresh_seed,
            max_entry_bytes,
        } = self.common;
        let folder = S::folder(&self.location).to_path_buf();
        let (location, trusted_root, checked) = (self.location, self.trusted_root, folder.clone());
        let opener = move || {
            if let Some(root) = trusted_root.as_ref().filter(|_| S::LOCAL) {
                private_dir::ensure(root, &checked)?;
            }
            S::open(&location)
        };
        let core = DiskCore {
            folder,
            store: OnceLock::new(),
            online: AtomicBool::new(false),
            attach: parking_lot::Mutex::default(),
            opener: Box::new(opener),
            fallback: OnceLock::new(),
            fallback_files: parking_lot::Mutex::new(fallback_files),
            id_key: blake3::derive_key("twat-cache 2026 entry id", self.namespace.as_bytes()),
            namespace_tag: tag(self.namespace.as_bytes()),
            ttl: ttl.map_or(0, |d| duration_nanos(d).max(1)),
            refresh,
            maxsize: maxsize.map_or(u64::MAX, |n| n as u64),
            max_bytes: max_bytes.unwrap_or(u64::MAX),
            max_entry: entry_bound(max_entry_bytes, max_bytes),
            policy,
            compress: self.compress,
            clock,
            single_flight,
            // Early refresh needs a deadline to be early for.
            early: (early_refresh && ttl.is_some()).then(|| EarlyRefresh::new(early_refresh_seed)),
            flights: FlightTable::default(),
            generations: std::array::from_fn(|_| parking_lot::Mutex::new(0)),
            access: dashmap::DashMap::default(),
            counters: DiskCounters::default(),
            ledger: Default::default(),
            warned: AtomicBool::new(false),
        };
        // The first attempt to open the storage (a failure warns, and caches in memory).
        let _ = core.reattach();
        Arc::new(core)
    }

    /// Opens the store (or falls back to memory) and builds the cache.
    pub fn build(self) -> DiskCache<S, V>
    where
        V: Serialize + DeserializeOwned + 'static,
    {
        DiskCache::from_core(self.build_core())
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
