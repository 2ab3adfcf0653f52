//! The disk engines behind `#[bcache]` and `#[fcache]`.
//!
//! One cache, [`DiskCache`], over two storage backends: [`SledStore`] (a sled database per
//! folder; `sled_db.rs` keeps the process's open databases) and [`FileStore`] (one file per
//! entry, shared by processes).
//! `record.rs` is the entry format every backend stores and every read checks, `key_bytes.rs`
//! the self-describing key encoding, `value_layout.rs` the value-type fingerprint, `paths.rs` the layout of caches under a root, `private_dir.rs`
//! the directory ownership rule every directory passes before it is used.

mod anchor;
mod backend;
mod cache;
mod error;
mod file_store;
pub mod inspect;
mod key_bytes;
mod key_text;
pub mod paths;
mod private_dir;
mod record;
#[cfg(feature = "redis")]
mod redis_pattern;
#[cfg(feature = "redis")]
mod redis_store;
mod redis_url;
mod sled_db;
mod sled_store;
mod stale_namespaces;
mod value_layout;

pub use backend::{
    Backend, Classified, Classify, EntryId, EntryLock, EvictionOrder, LockOutcome, PruneReport,
    PruneRequest, SharedBytes, Stored,
};
pub use cache::{
    CLOCK_SKEW_TOLERANCE, CROSS_PROCESS_WAIT, DiskCache, DiskCacheBuilder, DiskCore, DiskEntry,
    DiskHit, DiskVacant,
};
pub use error::{OpenError, StoreError};
pub use file_store::{FileLocation, FileStore, STALE_NAMESPACE, TOUCH_RESOLUTION};
pub use key_bytes::KeyError;
pub use key_text::describe_key;
pub use private_dir::{check as check_private_dir, component as path_component};
#[cfg(feature = "redis")]
pub use redis_store::{
    DEFAULT_REDIS_TIMEOUT, DEFAULT_REDIS_URL, REDIS_LOCK_TTL, RedisLocation, RedisStore,
};
pub use sled_db::{CORRUPT_GRACE, EXIT_FLUSH_LIMIT, FLUSH_EVERY_MS};
pub use sled_store::SledStore;

/// Opens `path` for reading without following a symlink (in its last component) or blocking
/// on a FIFO: for entry files and for the files tools copy.
pub(crate) fn open_no_follow(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(
        &mut options,
        libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC,
    );
    options.open(path)
}

/// `bytes` in lower-case hex. Entry paths and Redis keys are built on every lookup, so this
/// fills one pre-sized string (a `format!` per byte cost 23k instructions per file hit).
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = vec![0; bytes.len() * 2];
    for (pair, &b) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[usize::from(b >> 4)];
        pair[1] = DIGITS[usize::from(b & 15)];
    }
    String::from_utf8(out).expect("hex digits are ASCII")
}

/// A persistent cache in a sled database: [`DiskCache`] over [`SledStore`].
///
/// One database per folder, shared by every cache in it, one tree per cache; one process at a
/// time (sled locks the database; other processes fall back to memory).
///
/// ```
/// use twat_cache::SledCache;
///
/// let dir = tempfile::tempdir().unwrap();
/// let cache: SledCache<Vec<u32>> = SledCache::builder(dir.path().join("geo"), "tiles")
///     .maxsize(10_000)
///     .compress(true)
///     .build();
/// cache.insert("tile-7", &vec![1, 2, 3]);
/// assert_eq!(cache.get("tile-7"), Some(vec![1, 2, 3]));
/// assert_eq!(cache.get(&"tile-7".to_string()), Some(vec![1, 2, 3]), "String finds &str keys");
/// assert!(!cache.is_fallback());
/// ```
pub type SledCache<V> = DiskCache<SledStore, V>;

/// Builds a [`SledCache`].
pub type SledCacheBuilder<V> = DiskCacheBuilder<SledStore, V>;

impl<V> DiskCache<SledStore, V> {
    /// Starts a builder for the tree `tree` of the database in `folder`.
    pub fn builder(folder: impl Into<std::path::PathBuf>, tree: &str) -> SledCacheBuilder<V> {
        Self::builder_at((folder.into(), tree.to_string()))
    }
}

/// A persistent cache with one file per entry, safe for many processes: [`DiskCache`] over
/// [`FileStore`].
///
/// ```
/// use twat_cache::FileCache;
///
/// let dir = tempfile::tempdir().unwrap();
/// let cache: FileCache<Vec<u8>> = FileCache::builder(dir.path().join("thumbs"))
///     .max_bytes(64 << 20)
///     .durable(true)
///     .build();
/// cache.insert(&("cat.png", 64u32), &vec![7; 4096]);
/// assert_eq!(cache.get(&("cat.png", 64u32)).map(|v| v.len()), Some(4096));
/// ```
pub type FileCache<V> = DiskCache<FileStore, V>;

/// Builds a [`FileCache`].
pub type FileCacheBuilder<V> = DiskCacheBuilder<FileStore, V>;

impl<V> DiskCache<FileStore, V> {
    /// Starts a builder for entries in `dir`.
    pub fn builder(dir: impl Into<std::path::PathBuf>) -> FileCacheBuilder<V> {
        Self::builder_at(FileLocation::new(dir))
    }
}

/// A cache in Redis, shared by every process and machine that reaches the server:
/// [`DiskCache`] over [`RedisStore`] (feature `redis`).
///
/// Building connects to nothing: the server is first tried on first use, and a server that
/// does not answer leaves the cache working in memory — or in local files, with
/// [`fallback_files`](DiskCacheBuilder::fallback_files) — (one warning, `errors` counted) and
/// tried again with backoff.
///
/// Redis bounds the total itself (set its `maxmemory` and `maxmemory-policy allkeys-lru`):
/// `max_bytes` bounds one value (its size is checked on the server before it is fetched), and
/// inserts never scan or prune the server.
///
/// ```
/// use std::time::Duration;
/// use twat_cache::RedisCache;
///
/// // Port 1 has no server: the cache still answers, from memory, and counts the fault.
/// let cache: RedisCache<String> = RedisCache::builder("redis://127.0.0.1:1", "twat-cache:docs:example")
///     .timeout(Duration::from_millis(200))
///     .ttl(Duration::from_secs(600))
///     .build();
/// cache.insert("k", &"v".to_string());
/// assert_eq!(cache.get("k"), Some("v".to_string()));
/// assert!(cache.is_fallback() && cache.stats().errors >= 1);
/// ```
#[cfg(feature = "redis")]
pub type RedisCache<V> = DiskCache<RedisStore, V>;

#[cfg(feature = "redis")]
impl<V> DiskCache<RedisStore, V> {
    /// Starts a builder for entries under `prefix` (`twat-cache:<folder>:<name>` by
    /// convention) on the server at `url` (credentials allowed; never logged).
    pub fn builder(url: &str, prefix: &str) -> DiskCacheBuilder<RedisStore, V> {
        Self::builder_at(RedisLocation::new(url, prefix.to_string()))
    }
}

#[cfg(feature = "redis")]
impl<V> DiskCacheBuilder<RedisStore, V> {
    /// The most a call waits for the server (default [`DEFAULT_REDIS_TIMEOUT`]).
    pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
        self.location_mut().timeout = timeout;
        self
    }
}
