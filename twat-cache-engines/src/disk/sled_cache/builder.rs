//! [`SledCacheBuilder`]: options, and opening the database (or falling back to memory).

use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::AtomicBool;

use super::{DiskCounters, SledCache};
use crate::clock::duration_nanos;
use crate::disk::sled_db::{self, OpenError};
use crate::flight::FlightTable;
use crate::options::{CommonOptions, common_setters};

impl<V> SledCache<V> {
    /// Starts a builder for the tree `tree` of the database in `folder`.
    pub fn builder(folder: impl Into<PathBuf>, tree: &str) -> SledCacheBuilder<V> {
        SledCacheBuilder {
            folder: folder.into(),
            tree: tree.to_string(),
            namespace: String::new(),
            compress: false,
            common: CommonOptions::default(),
            _value: PhantomData,
        }
    }
}

/// Builds a [`SledCache`].
pub struct SledCacheBuilder<V> {
    folder: PathBuf,
    tree: String,
    namespace: String,
    compress: bool,
    common: CommonOptions,
    _value: PhantomData<fn() -> V>,
}

impl<V> SledCacheBuilder<V> {
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

    /// Opens the database (or falls back to memory) and builds the cache.
    pub fn build(self) -> SledCache<V> {
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
        let mut cache = SledCache {
            folder: self.folder.clone(),
            tree: None,
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
        match open_tree(&self.folder, &self.tree) {
            Ok(tree) => {
                cache.tree = Some(tree);
                if let Err(why) = cache.scan() {
                    cache.fault("scanning the cache database", &why);
                    cache.tree = None;
                }
            }
            Err(e) => cache.fault("opening the cache database", &e.to_string()),
        }
        cache
    }
}

pub(super) fn open_tree(folder: &Path, name: &str) -> Result<sled::Tree, OpenError> {
    let db = sled_db::open(folder)?;
    match catch_unwind(AssertUnwindSafe(|| db.open_tree(name))) {
        Ok(Ok(tree)) => Ok(tree),
        Ok(Err(e)) => Err(OpenError::Unusable(folder.to_path_buf(), e.to_string())),
        Err(_) => Err(OpenError::Unusable(
            folder.to_path_buf(),
            "sled panicked".into(),
        )),
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

/// Runs a sled operation, turning a panic inside sled into an error.
pub(super) fn guarded<T>(op: impl FnOnce() -> sled::Result<T>) -> Result<T, String> {
    match catch_unwind(AssertUnwindSafe(op)) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("sled panicked".to_string()),
    }
}
